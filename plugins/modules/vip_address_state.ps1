#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The Windows hand of sessionnet.virtual_ip.vip_address_state (and vip_address_binding): on one
# adapter, adds the given IPv4 addresses with SkipAsSource, sets SkipAsSource where it differs,
# and removes the given addresses. It reads the adapter's addresses once, then changes only what
# differs; the controller has chosen the adapter and the addresses. Options: vip_address_state.py.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        interface_index = @{ type = 'int'; required = $true }
        prefix_length = @{ type = 'int'; required = $true }
        present = @{ type = 'list'; elements = 'str'; default = @() }
        absent = @{ type = 'list'; elements = 'str'; default = @() }
        skip_as_source = @{ type = 'bool'; default = $true }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$index = $module.Params.interface_index
$prefix = $module.Params.prefix_length
$skip = [bool]$module.Params.skip_as_source
$present = @($module.Params.present)
$absent = @($module.Params.absent)

function Get-SnAddressList {
    param([int]$InterfaceIndex)
    return , @(Get-NetIPAddress -InterfaceIndex $InterfaceIndex -AddressFamily IPv4 -ErrorAction Stop | ForEach-Object {
            @{ address = $_.IPAddress; prefix_length = [int]$_.PrefixLength; skip_as_source = [bool]$_.SkipAsSource }
        })
}

$adapter = Get-NetAdapter -InterfaceIndex $index -ErrorAction SilentlyContinue
if ($null -eq $adapter) {
    $module.FailJson("vip_address_state: no network adapter has interface index $index")
}
$before = Get-SnAddressList -InterfaceIndex $index
$current = @{}
foreach ($item in $before) { $current[$item.address] = $item }

$added = [System.Collections.Generic.List[String]]@()
$updated = [System.Collections.Generic.List[String]]@()
$removed = [System.Collections.Generic.List[String]]@()
$total = $present.Count + $absent.Count
$done = 0
$module.Result.interface_index = $index
$module.Result.interface_alias = $adapter.Name
$module.Result.before = $before
$module.Result.added = $added
$module.Result.updated = $updated
$module.Result.removed = $removed
$module.Result.progress = @{ total = $total; done = 0 }

$address = $null
try {
    foreach ($address in $present) {
        if (-not $current.ContainsKey($address)) {
            if (-not $module.CheckMode) {
                $null = New-NetIPAddress -InterfaceIndex $index -IPAddress $address -PrefixLength $prefix -AddressFamily IPv4 -SkipAsSource $skip -ErrorAction Stop
            }
            $added.Add($address)
        }
        elseif ([bool]$current[$address].skip_as_source -ne $skip) {
            if (-not $module.CheckMode) {
                Set-NetIPAddress -InterfaceIndex $index -IPAddress $address -SkipAsSource $skip -ErrorAction Stop
            }
            $updated.Add($address)
        }
        $done++
    }
    foreach ($address in $absent) {
        if ($current.ContainsKey($address)) {
            if (-not $module.CheckMode) {
                Remove-NetIPAddress -InterfaceIndex $index -IPAddress $address -Confirm:$false -ErrorAction Stop
            }
            $removed.Add($address)
        }
        $done++
    }
}
catch {
    $module.Result.changed = ($added.Count + $updated.Count + $removed.Count) -gt 0
    $module.Result.progress = @{ total = $total; done = $done }
    $module.FailJson("vip_address_state: $address on interface $index ($($adapter.Name)) failed after $done of $total address(es): $($_.Exception.Message)", $_)
}

$module.Result.changed = ($added.Count + $updated.Count + $removed.Count) -gt 0
$module.Result.progress = @{ total = $total; done = $done }
if ($module.CheckMode) {
    $after = [System.Collections.Generic.List[Object]]@()
    foreach ($item in $before) {
        if ($removed -contains $item.address) { continue }
        if ($updated -contains $item.address) {
            $after.Add(@{ address = $item.address; prefix_length = $item.prefix_length; skip_as_source = $skip })
        }
        else { $after.Add($item) }
    }
    foreach ($address in $added) {
        $after.Add(@{ address = $address; prefix_length = $prefix; skip_as_source = $skip })
    }
    $module.Result.after = $after
}
else {
    $module.Result.after = Get-SnAddressList -InterfaceIndex $index
}
$module.ExitJson()
