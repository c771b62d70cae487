#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The generic Windows hand of sessionnet.virtual_ip.registry_state. The action plugin of the
# same name has already validated everything and decides what the result means; this reads
# each value, sets or removes it when it differs, and returns what it found BEFORE any change
# (data in the wire format, see module_utils/SessionnetRegistry.psm1). Options: registry_state.py.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.SessionnetRegistry

$spec = @{
    options = @{
        values = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                path = @{ type = 'str'; required = $true }
                name = @{ type = 'str'; required = $true }
                type = @{ type = 'str'; choices = 'dword', 'qword', 'string', 'expandstring', 'multistring', 'binary' }
                data = @{ type = 'raw' }
                state = @{ type = 'str'; default = 'present'; choices = 'present', 'absent' }
                view = @{ type = 'str'; default = '64'; choices = '64', '32' }
                reboot_required = @{ type = 'bool'; default = $false }
            }
        }
        keys_absent = @{
            type = 'list'
            elements = 'dict'
            no_log = $false  # registry key paths, not secrets
            default = @()
            options = @{
                path = @{ type = 'str'; required = $true }
                view = @{ type = 'str'; default = '64'; choices = '64', '32' }
                reboot_required = @{ type = 'bool'; default = $false }
            }
        }
        # Accepted for the contract and ignored: the controller has enforced it.
        allowed_hives = @{ type = 'list'; elements = 'str'; default = @('HKLM') }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

# Dictionary keys named 'values'/'keys' must be indexed: '.Values'/'.Keys' are properties.
$valueItems = @($module.Params['values'])
$keyItems = @($module.Params['keys_absent'])

# Pass 1: check every item before touching the registry, so bad input writes nothing.
$plans = [System.Collections.Generic.List[Hashtable]]@()
for ($i = 0; $i -lt $valueItems.Count; $i++) {
    $item = $valueItems[$i]
    $label = "values[$i] ($($item.path) '$($item.name)', view $($item.view))"
    $plan = @{ item = $item; label = $label; kind = $null; data = $null; wire = $null }
    try {
        $null = Split-SnRegistryPath -Path $item.path
        if ($item.state -eq 'present') {
            if (-not $item.type) {
                throw "type is required when state is present"
            }
            $plan.kind = Get-SnRegistryKind -Type $item.type
            $plan.data = ConvertFrom-SnWireData -Type $item.type -Data $item.data
            $plan.wire = ConvertTo-SnWireData -Type $item.type -Value $plan.data
        }
    }
    catch {
        $module.FailJson("$($label): $($_.Exception.Message)", $_)
    }
    $plans.Add($plan)
}
for ($i = 0; $i -lt $keyItems.Count; $i++) {
    try {
        $split = Split-SnRegistryPath -Path $keyItems[$i].path
    }
    catch {
        $module.FailJson("keys_absent[$i] ($($keyItems[$i].path)): $($_.Exception.Message)", $_)
    }
    if (-not $split.SubPath) {
        $module.FailJson("keys_absent[$i] ($($keyItems[$i].path)): refusing to remove a whole hive; name a key below it")
    }
}

# Pass 2: read, compare, write.
$changed = $false
$valueResults = [System.Collections.Generic.List[Object]]@()
foreach ($plan in $plans) {
    $item = $plan.item
    $opened = $null
    $key = $null
    $target = $null
    try {
        $opened = Open-SnRegistryBaseKey -Path $item.path -View $item.view
        $key = if ($opened.SubPath) { $opened.Base.OpenSubKey($opened.SubPath, $false) } else { $opened.Base }
        $current = Get-SnRegistryValue -Key $key -Name $item.name
        $valueResults.Add(@{
                path = $item.path
                name = $item.name
                view = $item.view
                exists = $current.exists
                type = $current.type
                data = $current.data
            })
        if ($item.state -eq 'present') {
            $same = $current.exists -and ($current.type -ceq $item.type)
            if ($same) {
                $same = Test-SnWireDataEqual -Left $current.data -Right $plan.wire
            }
            if (-not $same) {
                $changed = $true
                if (-not $module.CheckMode) {
                    $target = if ($opened.SubPath) { $opened.Base.CreateSubKey($opened.SubPath) } else { $opened.Base }
                    $target.SetValue($item.name, $plan.data, $plan.kind)
                }
            }
        }
        elseif ($current.exists) {
            $changed = $true
            if (-not $module.CheckMode) {
                $target = if ($opened.SubPath) { $opened.Base.OpenSubKey($opened.SubPath, $true) } else { $opened.Base }
                $target.DeleteValue($item.name, $false)
            }
        }
    }
    catch {
        $module.FailJson("$($plan.label): $($_.Exception.Message)", $_)
    }
    finally {
        foreach ($handle in @($target, $key)) {
            if ($null -ne $handle) {
                $handle.Dispose()
            }
        }
        if ($null -ne $opened) {
            $opened.Base.Dispose()
        }
    }
}

$keyResults = [System.Collections.Generic.List[Object]]@()
for ($i = 0; $i -lt $keyItems.Count; $i++) {
    $item = $keyItems[$i]
    $opened = $null
    try {
        $opened = Open-SnRegistryBaseKey -Path $item.path -View $item.view
        $key = $opened.Base.OpenSubKey($opened.SubPath, $false)
        $existed = $null -ne $key
        if ($existed) {
            $key.Dispose()
            $changed = $true
            if (-not $module.CheckMode) {
                $opened.Base.DeleteSubKeyTree($opened.SubPath, $false)
            }
        }
        $keyResults.Add(@{ path = $item.path; view = $item.view; existed = $existed })
    }
    catch {
        $module.FailJson("keys_absent[$i] ($($item.path), view $($item.view)): $($_.Exception.Message)", $_)
    }
    finally {
        if ($null -ne $opened) {
            $opened.Base.Dispose()
        }
    }
}

$module.Result['changed'] = $changed
$module.Result['values'] = $valueResults
$module.Result['keys'] = $keyResults
$module.ExitJson()
