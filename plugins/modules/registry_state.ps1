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
        keys_moved = @{
            type = 'list'
            elements = 'dict'
            no_log = $false  # registry key paths, not secrets
            default = @()
            options = @{
                path = @{ type = 'str'; required = $true }
                to = @{ type = 'str'; required = $true }
                view = @{ type = 'str'; default = '64'; choices = '64', '32' }
                reboot_required = @{ type = 'bool'; default = $false }
            }
        }
        cim_properties = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                namespace = @{ type = 'str'; required = $true }
                class_name = @{ type = 'str'; required = $true }
                property = @{ type = 'str'; required = $true }
                value = @{ type = 'int'; required = $true }
                method = @{ type = 'str'; required = $true }
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
$moveItems = @($module.Params['keys_moved'])
$cimItems = @($module.Params['cim_properties'])

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

# Key moves: read both ends now; both existing is refused before anything is written.
$moveStates = [System.Collections.Generic.List[Hashtable]]@()
for ($i = 0; $i -lt $moveItems.Count; $i++) {
    $item = $moveItems[$i]
    $opened = $null
    try {
        $opened = Open-SnRegistryBaseKey -Path $item.path -View $item.view
        $targetSplit = Split-SnRegistryPath -Path $item.to
        $sourceKey = $opened.Base.OpenSubKey($opened.SubPath, $false)
        $targetKey = $opened.Base.OpenSubKey($targetSplit.SubPath, $false)
        $moveStates.Add(@{ source = ($null -ne $sourceKey); target = ($null -ne $targetKey); targetSub = $targetSplit.SubPath })
        foreach ($handle in @($sourceKey, $targetKey)) {
            if ($null -ne $handle) { $handle.Dispose() }
        }
    }
    catch {
        $module.FailJson("keys_moved[$i] ($($item.path) -> $($item.to), view $($item.view)): $($_.Exception.Message)", $_)
    }
    finally {
        if ($null -ne $opened) { $opened.Base.Dispose() }
    }
    if ($moveStates[$i].source -and $moveStates[$i].target) {
        $module.FailJson("keys_moved[$i]: both $($item.path) and $($item.to) exist (view $($item.view)); nothing was written. Compare them and remove one")
    }
}

# CIM properties: read the instance now; a missing class or instance fails before any write.
$cimStates = [System.Collections.Generic.List[Hashtable]]@()
for ($i = 0; $i -lt $cimItems.Count; $i++) {
    $item = $cimItems[$i]
    try {
        $instance = @(Get-CimInstance -Namespace $item.namespace -ClassName $item.class_name -ErrorAction Stop) | Select-Object -First 1
    }
    catch {
        $module.FailJson("cim_properties[$i] ($($item.namespace):$($item.class_name)): $($_.Exception.Message); nothing was written", $_)
    }
    if ($null -eq $instance -or $null -eq $instance.CimInstanceProperties[$item.property]) {
        $module.FailJson("cim_properties[$i] ($($item.namespace):$($item.class_name)) has no instance with property $($item.property); nothing was written")
    }
    $cimStates.Add(@{ instance = $instance; before = $instance.CimInstanceProperties[$item.property].Value })
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

$moveResults = [System.Collections.Generic.List[Object]]@()
for ($i = 0; $i -lt $moveItems.Count; $i++) {
    $item = $moveItems[$i]
    $found = $moveStates[$i]
    if ($found.source -and -not $found.target) {
        $changed = $true
        if (-not $module.CheckMode) {
            $opened = $null
            $sourceKey = $null
            $targetKey = $null
            try {
                $opened = Open-SnRegistryBaseKey -Path $item.path -View $item.view
                $sourceKey = $opened.Base.OpenSubKey($opened.SubPath, $false)
                $targetKey = $opened.Base.CreateSubKey($found.targetSub)
                Copy-SnRegistryTree -Source $sourceKey -Target $targetKey
                $sourceKey.Dispose()
                $sourceKey = $null
                $opened.Base.DeleteSubKeyTree($opened.SubPath, $false)
            }
            catch {
                $module.FailJson("keys_moved[$i] ($($item.path) -> $($item.to)): $($_.Exception.Message)", $_)
            }
            finally {
                foreach ($handle in @($sourceKey, $targetKey)) {
                    if ($null -ne $handle) { $handle.Dispose() }
                }
                if ($null -ne $opened) { $opened.Base.Dispose() }
            }
        }
    }
    $moveResults.Add(@{ path = $item.path; to = $item.to; view = $item.view; source_existed = $found.source; target_existed = $found.target })
}

$cimResults = [System.Collections.Generic.List[Object]]@()
for ($i = 0; $i -lt $cimItems.Count; $i++) {
    $item = $cimItems[$i]
    $found = $cimStates[$i]
    $before = $found.before
    if ($null -eq $before -or [UInt64]$before -ne [UInt64]$item.value) {
        $changed = $true
        if (-not $module.CheckMode) {
            # The argument takes the property's own type (uint32 for Win32_TSVirtualIP).
            $argument = if ($null -ne $before) { [Convert]::ChangeType($item.value, $before.GetType()) } else { [UInt32]$item.value }
            try {
                $answer = Invoke-CimMethod -InputObject $found.instance -MethodName $item.method -Arguments @{ $item.property = $argument } -ErrorAction Stop
            }
            catch {
                $module.FailJson("cim_properties[$i] ($($item.class_name).$($item.method)): $($_.Exception.Message)", $_)
            }
            if ($null -ne $answer -and $answer.ReturnValue -ne 0) {
                $module.FailJson("cim_properties[$i]: $($item.class_name).$($item.method) returned $($answer.ReturnValue) (a WMI error code; such setters fail while the setting is under Group Policy control)")
            }
        }
    }
    $cimResults.Add(@{ namespace = $item.namespace; class_name = $item.class_name; property = $item.property; exists = $true; before = $before })
}

$module.Result['changed'] = $changed
$module.Result['values'] = $valueResults
$module.Result['keys'] = $keyResults
$module.Result['moves'] = $moveResults
$module.Result['cim'] = $cimResults
$module.ExitJson()
