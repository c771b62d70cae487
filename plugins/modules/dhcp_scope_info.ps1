#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The Windows hand of sessionnet.virtual_ip.dhcp_scope_info: reads the DHCP server's IPv4 scopes,
# exclusion ranges, reservations and (optionally) active leases, and returns them raw. The
# action plugin of the same name shapes them (options: dhcp_scope_info.py).

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        scope_ids = @{ type = 'list'; elements = 'str'; default = @() }
        include_leases = @{ type = 'bool'; default = $false }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

if (-not (Get-Module -ListAvailable -Name DhcpServer)) {
    $module.FailJson("the DhcpServer PowerShell module is not available on $env:COMPUTERNAME; install the DHCP Server role")
}
Import-Module -Name DhcpServer

$wanted = @($module.Params.scope_ids)
try {
    if ($wanted.Count -gt 0) {
        $scopes = @(Get-DhcpServerv4Scope -ScopeId $wanted -ErrorAction Stop)
    }
    else {
        $scopes = @(Get-DhcpServerv4Scope -ErrorAction Stop)
    }
}
catch {
    $module.FailJson("dhcp_scope_info: cannot read the scopes ($($wanted -join ', ')): $($_.Exception.Message)", $_)
}

$out = [System.Collections.Generic.List[Object]]@()
foreach ($scope in $scopes) {
    $id = $scope.ScopeId.IPAddressToString
    $exclusions = @(Get-DhcpServerv4ExclusionRange -ScopeId $id -ErrorAction Stop | ForEach-Object {
            @{ start_range = $_.StartRange.IPAddressToString; end_range = $_.EndRange.IPAddressToString }
        })
    $reservations = @(Get-DhcpServerv4Reservation -ScopeId $id -ErrorAction Stop | ForEach-Object {
            @{
                ip_address = $_.IPAddress.IPAddressToString
                client_id = [string]$_.ClientId
                name = [string]$_.Name
                type = [string]$_.Type
            }
        })
    $leases = @()
    if ($module.Params.include_leases) {
        # Without -AllLeases, Get-DhcpServerv4Lease returns the active leases only.
        $leases = @(Get-DhcpServerv4Lease -ScopeId $id -ErrorAction Stop | ForEach-Object {
                @{
                    ip_address = $_.IPAddress.IPAddressToString
                    address_state = [string]$_.AddressState
                    host_name = [string]$_.HostName
                }
            })
    }
    $out.Add(@{
            scope_id = $id
            subnet_mask = $scope.SubnetMask.IPAddressToString
            name = [string]$scope.Name
            start_range = $scope.StartRange.IPAddressToString
            end_range = $scope.EndRange.IPAddressToString
            state = [string]$scope.State
            exclusions = $exclusions
            reservations = $reservations
            leases = $leases
        })
}

$module.Result.changed = $false
$module.Result.scopes = $out
$module.Result.leases_included = [bool]$module.Params.include_leases
$module.ExitJson()
