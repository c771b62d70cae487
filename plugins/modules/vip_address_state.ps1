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
        dad_wait_seconds = @{ type = 'int'; default = 5 }
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
    <# The adapter's IPv4 addresses. An adapter without any makes Get-NetIPAddress report
       "No matching MSFT_NetIPAddress objects" (category ObjectNotFound): that is an empty list.
       Every other error is thrown. #>
    param([int]$InterfaceIndex)
    $found = @(Get-NetIPAddress -InterfaceIndex $InterfaceIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue -ErrorVariable readErrors)
    foreach ($readError in @($readErrors)) {
        if ([String]$readError.CategoryInfo.Category -ne 'ObjectNotFound') {
            throw $readError
        }
    }
    return , @($found | ForEach-Object {
            @{
                address = [String]$_.IPAddress
                prefix_length = [int]$_.PrefixLength
                skip_as_source = [bool]$_.SkipAsSource
                prefix_origin = [String]$_.PrefixOrigin
                address_state = [String]$_.AddressState
            }
        })
}

function Wait-SnAddressDetection {
    <# Waits (at most $Seconds) until none of $Addresses is Tentative, i.e. duplicate address
       detection has decided; returns the adapter's addresses read last. #>
    param([int]$InterfaceIndex, [String[]]$Addresses, [int]$Seconds)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ($true) {
        $list = Get-SnAddressList -InterfaceIndex $InterfaceIndex
        $pending = @($list | Where-Object { $Addresses -contains $_.address -and $_.address_state -eq 'Tentative' })
        if ($pending.Count -eq 0 -or [DateTime]::UtcNow -ge $deadline) {
            return , $list
        }
        Start-Sleep -Milliseconds 250
    }
}

$adapter = Get-NetAdapter -InterfaceIndex $index -ErrorAction SilentlyContinue
if ($null -eq $adapter) {
    $module.FailJson("vip_address_state: no network adapter has interface index $index")
}
try {
    $before = Get-SnAddressList -InterfaceIndex $index
}
catch {
    $module.FailJson("vip_address_state: reading the IPv4 addresses of interface $index ($($adapter.Name)) failed: $($_.Exception.Message)", $_)
}
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
    if ($module.CheckMode) {
        $after = [System.Collections.Generic.List[Object]]@()
        foreach ($item in $before) {
            if ($removed -contains $item.address) { continue }
            if ($updated -contains $item.address) {
                $after.Add(@{
                        address = $item.address; prefix_length = $item.prefix_length; skip_as_source = $skip
                        prefix_origin = $item.prefix_origin; address_state = $item.address_state
                    })
            }
            else { $after.Add($item) }
        }
        foreach ($address in $added) {
            $after.Add(@{ address = $address; prefix_length = $prefix; skip_as_source = $skip; prefix_origin = 'Manual'; address_state = 'Tentative' })
        }
        $module.Result.after = $after
    }
    else {
        # Read back inside the error handling: a failure here still reports the progress made.
        $address = '(reading the addresses back)'
        $module.Result.after = Wait-SnAddressDetection -InterfaceIndex $index -Addresses $added.ToArray() -Seconds $module.Params.dad_wait_seconds
    }
}
catch {
    $module.Result.changed = ($added.Count + $updated.Count + $removed.Count) -gt 0
    $module.Result.progress = @{ total = $total; done = $done }
    $module.FailJson("vip_address_state: $address on interface $index ($($adapter.Name)) failed after $done of $total address(es): $($_.Exception.Message)", $_)
}

$module.Result.changed = ($added.Count + $updated.Count + $removed.Count) -gt 0
$module.Result.progress = @{ total = $total; done = $done }
$module.ExitJson()
