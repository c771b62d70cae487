#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The Windows hand of sessionnet.virtual_ip.dhcp_exclusion_range. The action plugin has validated
# the addresses and turns a refusal into the user's message; this reads the scope and its
# exclusion ranges, refuses (changing nothing) when the range is outside the scope's range or
# overlaps a range it was not told to replace, and otherwise adds/removes exactly what differs.
# Remove-DhcpServerv4ExclusionRange is ALWAYS given both -StartRange and -EndRange: without them
# it removes every exclusion range of the scope. Options: dhcp_exclusion_range.py.
# A failed scope read is returned as scope_error (message, category, error id) for the controller
# to tell "no such scope" from anything else; the scope's failover relationship is returned, and
# after a change the scope is replicated to the partner when replicate_failover is set.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        scope = @{ type = 'str'; required = $true; aliases = @('scope_id') }
        start = @{ type = 'str'; required = $true }
        end = @{ type = 'str'; required = $true }
        state = @{ type = 'str'; default = 'present'; choices = 'present', 'absent' }
        replaces = @{
            type = 'dict'
            options = @{
                start = @{ type = 'str'; required = $true }
                end = @{ type = 'str'; required = $true }
            }
        }
        replicate_failover = @{ type = 'bool'; default = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

function ConvertTo-SnNumber {
    param([string]$Address)
    $bytes = ([System.Net.IPAddress]::Parse($Address)).GetAddressBytes()
    [Array]::Reverse($bytes)
    return [BitConverter]::ToUInt32($bytes, 0)
}

function Get-SnExclusionList {
    param([string]$ScopeId)
    $items = @(Get-DhcpServerv4ExclusionRange -ScopeId $ScopeId -ErrorAction Stop | ForEach-Object {
            @{ start = $_.StartRange.IPAddressToString; end = $_.EndRange.IPAddressToString }
        })
    return , @($items | Sort-Object -Property @{ Expression = { ConvertTo-SnNumber $_.start } }, @{ Expression = { ConvertTo-SnNumber $_.end } })
}

if (-not (Get-Module -ListAvailable -Name DhcpServer)) {
    $module.FailJson("the DhcpServer PowerShell module is not available on $env:COMPUTERNAME; install the DHCP Server role")
}
Import-Module -Name DhcpServer

$scopeId = $module.Params.scope
$module.Result.changed = $false
$module.Result.refused = $null
$module.Result.scope = $null
$module.Result.before = @()
$module.Result.after = @()
$module.Result.scope_error = $null
$module.Result.failover = $null
$module.Result.replicated = $false
$module.Result.replication_error = $null

try {
    $scope = Get-DhcpServerv4Scope -ScopeId $scopeId -ErrorAction Stop
}
catch {
    $module.Result.scope_error = @{
        message = $_.Exception.Message
        category = [String]$_.CategoryInfo.Category
        error_id = [String]$_.FullyQualifiedErrorId
    }
    $module.ExitJson()
}
# Not a failover scope: Get-DhcpServerv4Failover writes an error, read as "no relationship".
$relationship = @(Get-DhcpServerv4Failover -ScopeId $scopeId -ErrorAction SilentlyContinue) | Select-Object -First 1
if ($null -ne $relationship) {
    $module.Result.failover = @{
        name = [String]$relationship.Name
        partner_server = [String]$relationship.PartnerServer
        mode = [String]$relationship.Mode
        state = [String]$relationship.State
    }
}

function Invoke-SnReplication {
    <# After a change: replicate the scope to its failover partner (when there is one and it was asked). #>
    if ($null -ne $module.Result.failover -and $module.Params.replicate_failover -and -not $module.CheckMode) {
        try {
            $null = Invoke-DhcpServerv4FailoverReplication -ScopeId $scopeId -Force -ErrorAction Stop
            $module.Result.replicated = $true
        }
        catch {
            $module.Result.replication_error = $_.Exception.Message
        }
    }
}
$module.Result.scope = @{
    scope_id = $scope.ScopeId.IPAddressToString
    start = $scope.StartRange.IPAddressToString
    end = $scope.EndRange.IPAddressToString
}
$module.Result.reservations = @(Get-DhcpServerv4Reservation -ScopeId $scopeId -ErrorAction Stop | ForEach-Object { $_.IPAddress.IPAddressToString })

$before = Get-SnExclusionList -ScopeId $scopeId
$module.Result.before = $before
$start = ConvertTo-SnNumber $module.Params.start
$end = ConvertTo-SnNumber $module.Params.end
$exact = @($before | Where-Object { (ConvertTo-SnNumber $_.start) -eq $start -and (ConvertTo-SnNumber $_.end) -eq $end })

if ($module.Params.state -eq 'absent') {
    if ($exact.Count -gt 0) {
        $module.Result.changed = $true
        if (-not $module.CheckMode) {
            Remove-DhcpServerv4ExclusionRange -ScopeId $scopeId -StartRange $module.Params.start -EndRange $module.Params.end -ErrorAction Stop
        }
    }
    $module.Result.after = @($before | Where-Object { $exact -notcontains $_ })
    if (-not $module.CheckMode) {
        $module.Result.after = Get-SnExclusionList -ScopeId $scopeId
        if ($module.Result.changed) {
            Invoke-SnReplication
        }
    }
    $module.ExitJson()
}

if ($start -lt (ConvertTo-SnNumber $module.Result.scope.start) -or $end -gt (ConvertTo-SnNumber $module.Result.scope.end)) {
    $module.Result.refused = 'outside_scope'
    $module.Result.after = $before
    $module.ExitJson()
}

$old = $module.Params.replaces
$replaced = @()
if ($null -ne $old) {
    $oldStart = ConvertTo-SnNumber $old.start
    $oldEnd = ConvertTo-SnNumber $old.end
    # The controller never sends replaces equal to start-end; were it sent, removing it would
    # lose the very range this ensures, so an exact match is never a replaced one.
    $replaced = @($before | Where-Object {
            (ConvertTo-SnNumber $_.start) -eq $oldStart -and (ConvertTo-SnNumber $_.end) -eq $oldEnd -and $exact -notcontains $_
        })
}
$overlaps = @($before | Where-Object {
        (ConvertTo-SnNumber $_.start) -le $end -and $start -le (ConvertTo-SnNumber $_.end) -and
        $exact -notcontains $_ -and $replaced -notcontains $_
    })
if ($overlaps.Count -gt 0) {
    $module.Result.refused = 'overlap'
    $module.Result.overlaps = $overlaps
    $module.Result.after = $before
    $module.ExitJson()
}

$after = [System.Collections.Generic.List[Object]]@()
foreach ($item in $before) {
    if ($replaced -notcontains $item) { $after.Add($item) }
}
if ($exact.Count -eq 0) {
    $after.Add(@{ start = $module.Params.start; end = $module.Params.end })
}
$module.Result.changed = ($replaced.Count -gt 0) -or ($exact.Count -eq 0)
$module.Result.after = @($after | Sort-Object -Property @{ Expression = { ConvertTo-SnNumber $_.start } })

if ($module.Result.changed -and -not $module.CheckMode) {
    foreach ($item in $replaced) {
        Remove-DhcpServerv4ExclusionRange -ScopeId $scopeId -StartRange $item.start -EndRange $item.end -ErrorAction Stop
    }
    if ($exact.Count -eq 0) {
        try {
            Add-DhcpServerv4ExclusionRange -ScopeId $scopeId -StartRange $module.Params.start -EndRange $module.Params.end -ErrorAction Stop
        }
        catch {
            $addError = $_
            foreach ($item in $replaced) {
                Add-DhcpServerv4ExclusionRange -ScopeId $scopeId -StartRange $item.start -EndRange $item.end -ErrorAction SilentlyContinue
            }
            $module.FailJson("adding exclusion $($module.Params.start)-$($module.Params.end) to scope $($scopeId) failed (the replaced range was put back): $($addError.Exception.Message)", $addError)
        }
    }
    $module.Result.after = Get-SnExclusionList -ScopeId $scopeId
    Invoke-SnReplication
}
$module.ExitJson()
