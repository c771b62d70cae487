#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Generic hand for Citrix policies (docs and contract: citrix_policy_state.py). It decides no
# policy: it ensures what it is told through the Citrix Group Policy PowerShell provider and
# returns before/after. Provider use follows the Citrix Group Policy SDK documentation
# ("Group Policy SDK usage": Import-Module Citrix.GroupPolicy.Commands or Add-PsSnapin
# Citrix.Common.GroupPolicy, then New-PSDrive -PSProvider CitrixGroupPolicy -Root \
# -Controller <ddc> | -DomainGpo <gpo>), AutoWriteBack off where the drive has it, one Save().
# Setting paths are discovered under Unfiltered\Settings by PSChildName. Filters other than
# ClientIP/AccessControl/BranchRepeater are created as XenDesktop 7.16+ expects them,
# New-Item -Path <policy>\Filters -Name <value> -ItemType <type>, and addressed by value (the
# form of Citrix's Citrix.GroupPolicy.Commands.psm1 "edited to work with XenDesktop 7.16").
# Every path built from input is passed with -LiteralPath: [ and ] are wildcards for -Path.
# Provider calls whose output is not wanted are assigned to $null so nothing leaks into the
# module's JSON. A failed mount is returned as mount_error (the controller words the message).
# NOT run against a real controller by this project (see docs).

$spec = @{
    options = @{
        name = @{ type = 'str'; required = $true }
        state = @{ type = 'str'; default = 'present'; choices = 'present', 'absent' }
        policy_type = @{ type = 'str'; default = 'computer'; choices = 'computer', 'user' }
        store = @{ type = 'str'; default = 'controller'; choices = 'controller', 'domain_gpo' }
        controller = @{ type = 'str'; default = 'localhost' }
        gpo = @{ type = 'str' }
        enabled = @{ type = 'bool' }
        priority = @{ type = 'int' }
        description = @{ type = 'str' }
        settings = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                name = @{ type = 'str'; required = $true }
                state = @{ type = 'str'; required = $true; choices = 'Enabled', 'Disabled', 'Allowed', 'Prohibited', 'UseDefault' }
                values = @{ type = 'list'; elements = 'str' }
            }
        }
        filters = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                type = @{ type = 'str'; required = $true }
                value = @{ type = 'str'; required = $true }
                mode = @{ type = 'str'; default = 'Allow'; choices = 'Allow', 'Deny' }
                enabled = @{ type = 'bool'; default = $true }
            }
        }
        purge_filter_types = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$name = $module.Params.name
$state = $module.Params.state
$checkMode = $module.CheckMode
$module.Result.changed = $false
$module.Result.simulated = $false
if ($module.Params.store -eq 'domain_gpo' -and -not $module.Params.gpo) {
    $module.FailJson('store is domain_gpo but gpo is not given: name the AD GPO that holds the Citrix policies')
}

# --- load the provider ----------------------------------------------------------------------
$gpModule = 'Citrix.GroupPolicy.Commands'
$gpSnapin = 'Citrix.Common.GroupPolicy'
$loadErrors = [System.Collections.Generic.List[String]]@()
if (Get-Module -ListAvailable -Name $gpModule) {
    try {
        Import-Module -Name $gpModule -ErrorAction Stop
    }
    catch {
        $loadErrors.Add("Import-Module $($gpModule): $($_.Exception.Message)")
    }
}
# Not every release is known to register the provider from the module: fall back to the snap-in.
if (-not (Get-PSProvider | Where-Object { $_.Name -eq 'CitrixGroupPolicy' }) -and
    (Get-PSSnapin -Registered -Name $gpSnapin -ErrorAction SilentlyContinue)) {
    try {
        Add-PSSnapin -Name $gpSnapin -ErrorAction Stop
    }
    catch {
        $loadErrors.Add("Add-PSSnapin $($gpSnapin): $($_.Exception.Message)")
    }
}
if (-not (Get-PSProvider | Where-Object { $_.Name -eq 'CitrixGroupPolicy' })) {
    $module.FailJson(("neither the PowerShell module $gpModule nor the snap-in $gpSnapin is available on this host " +
            "(no CitrixGroupPolicy provider); run this on a Delivery Controller (or a machine with Citrix Studio / " +
            "the Citrix PowerShell SDK). $($loadErrors -join '; ')"))
}

# --- mount the store --------------------------------------------------------------------------
$driveName = 'SessionnetCtxGp'
$driveArgs = @{ Name = $driveName; PSProvider = 'CitrixGroupPolicy'; Root = '\'; ErrorAction = 'Stop' }
if ($module.Params.store -eq 'domain_gpo') {
    $driveArgs.DomainGpo = $module.Params.gpo
    $module.Result.store = "gpo:$($module.Params.gpo)"
}
else {
    $driveArgs.Controller = $module.Params.controller
    $module.Result.store = 'controller'
}
$module.Result.mount_error = $null
try {
    $null = New-PSDrive @driveArgs
    $drive = Get-PSDrive -Name $driveName -ErrorAction Stop
    # AutoWriteBack: no public Citrix reference was found for this member; set it where it exists.
    if ($null -ne $drive.PSObject.Properties['AutoWriteBack']) {
        $drive.AutoWriteBack = $false
    }
}
catch {
    # The controller adds what to do (second hop over WinRM: become/runas, CredSSP or delegation).
    $module.Result.mount_error = "New-PSDrive -PSProvider CitrixGroupPolicy: $($_.Exception.Message)"
    $module.ExitJson()
}

$typeDir = if ($module.Params.policy_type -eq 'user') { 'User' } else { 'Computer' }
$root = "$($driveName):\$typeDir"

function Get-SettingPath {
    param([string]$Path)
    $at = $Path.IndexOf('\Settings\')
    return $Path.Substring($at + 10)
}

function Read-Policy {
    param([string]$Root, [string]$Name, [hashtable]$Paths)
    $item = Get-ChildItem -LiteralPath $Root | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
    if ($null -eq $item) {
        return @{ exists = $false; name = $Name }
    }
    $settings = @{}
    foreach ($key in $Paths.Keys) {
        $setting = Get-Item -LiteralPath "$Root\$($item.Name)\Settings\$($Paths[$key])"
        $values = $null
        if ($null -ne $setting.Values) {
            $values = [string[]]@($setting.Values | ForEach-Object { [string]$_ })
        }
        $settings[$key] = @{ state = [string]$setting.State; values = $values; path = $Paths[$key] }
    }
    $filters = [System.Collections.Generic.List[hashtable]]@()
    $found = Get-ChildItem -LiteralPath "$Root\$($item.Name)\Filters" -Recurse -ErrorAction SilentlyContinue |
        Where-Object { $null -ne $_.FilterType }
    foreach ($filter in $found) {
        $filters.Add(@{
                type = [string]$filter.FilterType
                name = [string]$filter.Name
                value = [string]$filter.FilterValue
                mode = [string]$filter.Mode
                enabled = [bool]$filter.Enabled
            })
    }
    $priority = $null
    if ($item.Name -ne 'Unfiltered') {
        $priority = [int]$item.Priority
    }
    return @{
        exists = $true
        name = [string]$item.Name
        enabled = [bool]$item.Enabled
        priority = $priority
        description = [string]$item.Description
        settings = $settings
        filters = $filters.ToArray()
    }
}

function Test-SameList {
    param([object[]]$Left, [object[]]$Right)
    $a = @($Left)
    $b = @($Right)
    if ($a.Count -ne $b.Count) {
        return $false
    }
    for ($i = 0; $i -lt $a.Count; $i++) {
        if ([string]$a[$i] -cne [string]$b[$i]) {
            return $false
        }
    }
    return $true
}

function ConvertTo-FilterName {
    param([string]$Value)
    return ($Value -replace '[\\/:*?"<>|\[\]]', '_')
}

function New-SnFilter {
    <# Creates one filter. ClientIP keeps the old form (a name, the value as item value);
       AccessControl and BranchRepeater take a name only; every other type (DesktopGroup, User,
       ...) is created as XenDesktop 7.16+ expects: New-Item under Filters with -Name <value>
       -ItemType <type>, and is then addressed by its value. Returns the filter's item name. #>
    param([string]$PolicyPath, [string]$Type, [string]$Value)
    $filterName = $Value
    if ($Type -in 'ClientIP', 'AccessControl', 'BranchRepeater') {
        $filterName = ConvertTo-FilterName -Value $Value
    }
    if (-not $checkMode) {
        if ($Type -eq 'ClientIP') {
            $null = New-Item -Path "$PolicyPath\Filters\$Type\$filterName" -Value $Value -ErrorAction Stop
        }
        elseif ($Type -eq 'AccessControl' -or $Type -eq 'BranchRepeater') {
            $null = New-Item -Path "$PolicyPath\Filters\$Type\$filterName" -ErrorAction Stop
        }
        else {
            $null = New-Item -Path "$PolicyPath\Filters" -Name $Value -ItemType $Type -ErrorAction Stop
        }
    }
    return $filterName
}

try {
    # --- discover setting paths (as Citrix's helper module does) -----------------------------
    $paths = @{}
    if ($module.Params.settings.Count -gt 0) {
        $catalog = @{}
        Get-ChildItem -LiteralPath "$root\Unfiltered\Settings" -Recurse |
            Where-Object { $null -ne $_.State } |
            ForEach-Object { $catalog[$_.PSChildName] = Get-SettingPath -Path $_.PSPath }
        foreach ($want in $module.Params.settings) {
            if (-not $catalog.ContainsKey($want.name)) {
                $near = @($catalog.Keys | Where-Object { $_ -match 'Loopback' -or $catalog[$_] -match 'VirtualIP' } | Sort-Object)
                $module.FailJson(("setting '$($want.name)' was not found under $typeDir\Unfiltered\Settings; " +
                        "settings found next to the virtual loopback ones: $($near -join ', ')"))
            }
            $paths[$want.name] = $catalog[$want.name]
        }
    }
    $module.Result.setting_paths = $paths

    $before = Read-Policy -Root $root -Name $name -Paths $paths
    $module.Result.before = $before
    $policyPath = "$root\$name"
    $changed = $false

    if ($state -eq 'absent') {
        if ($before.exists) {
            $changed = $true
            if (-not $checkMode) {
                Remove-Item -LiteralPath $policyPath -Recurse -Force -ErrorAction Stop
            }
        }
        $after = @{ exists = $false; name = $name }
    }
    else {
        # Projection of the result, kept for check mode (nothing is written there).
        $after = @{
            exists = $true; name = $name; enabled = $false; priority = $null; description = ''
            settings = @{}; filters = @()
        }
        $count = @(Get-ChildItem -LiteralPath $root | Where-Object { $_.Name -ne 'Unfiltered' }).Count
        if ($before.exists) {
            foreach ($k in 'enabled', 'priority', 'description') {
                $after[$k] = $before[$k]
            }
            foreach ($k in $before.settings.Keys) {
                $after.settings[$k] = $before.settings[$k].Clone()
            }
            $after.filters = @($before.filters)
        }
        else {
            $changed = $true
            $count += 1
            $after.priority = $count
            foreach ($k in $paths.Keys) {
                $after.settings[$k] = @{ state = 'NotConfigured'; values = $null; path = $paths[$k] }
            }
            if (-not $checkMode) {
                $null = New-Item -Path $policyPath -ErrorAction Stop
            }
        }
        if ($null -ne $module.Params.description -and $after.description -cne $module.Params.description) {
            $changed = $true
            $after.description = $module.Params.description
            if (-not $checkMode) {
                Set-ItemProperty -LiteralPath $policyPath -Name Description -Value $module.Params.description
            }
        }
        if ($null -ne $module.Params.enabled -and $after.enabled -ne $module.Params.enabled) {
            $changed = $true
            $after.enabled = $module.Params.enabled
            if (-not $checkMode) {
                Set-ItemProperty -LiteralPath $policyPath -Name Enabled -Value $module.Params.enabled
            }
        }
        if ($null -ne $module.Params.priority -and $name -ne 'Unfiltered') {
            $target = [Math]::Min([int]$module.Params.priority, $count)
            if ($after.priority -ne $target) {
                $changed = $true
                $after.priority = $target
                if (-not $checkMode) {
                    Set-ItemProperty -LiteralPath $policyPath -Name Priority -Value $target
                }
            }
        }
        foreach ($want in $module.Params.settings) {
            $have = $after.settings[$want.name]
            $settingPath = "$policyPath\Settings\$($paths[$want.name])"
            if ($want.state -eq 'UseDefault') {
                if ($have.state -ne 'NotConfigured') {
                    $changed = $true
                    $after.settings[$want.name] = @{ state = 'NotConfigured'; values = $null; path = $paths[$want.name] }
                    if (-not $checkMode) {
                        Set-ItemProperty -LiteralPath $settingPath -Name State -Value 'UseDefault'
                    }
                }
                continue
            }
            if ($null -ne $want.values -and -not (Test-SameList -Left $have.values -Right $want.values)) {
                $changed = $true
                $have.values = [string[]]@($want.values)
                if (-not $checkMode) {
                    Set-ItemProperty -LiteralPath $settingPath -Name Values -Value ([object[]]@($want.values))
                }
            }
            if ($have.state -cne $want.state) {
                $changed = $true
                $have.state = $want.state
                if (-not $checkMode) {
                    Set-ItemProperty -LiteralPath $settingPath -Name State -Value $want.state
                }
            }
        }
        $purge = @($module.Params.purge_filter_types)
        $kept = [System.Collections.Generic.List[hashtable]]@()
        foreach ($filter in $after.filters) {
            $listed = @($module.Params.filters | Where-Object { $_.type -eq $filter.type -and $_.value -eq $filter.value })
            if (($purge -contains $filter.type) -and $listed.Count -eq 0) {
                $changed = $true
                if (-not $checkMode) {
                    Remove-Item -LiteralPath "$policyPath\Filters\$($filter.type)\$($filter.name)" -Recurse -Force
                }
            }
            else {
                $kept.Add($filter)
            }
        }
        foreach ($want in $module.Params.filters) {
            $have = $kept | Where-Object { $_.type -eq $want.type -and $_.value -eq $want.value } | Select-Object -First 1
            if ($null -eq $have) {
                $changed = $true
                $filterName = if ($want.type -in 'ClientIP', 'AccessControl', 'BranchRepeater') { ConvertTo-FilterName -Value $want.value } else { $want.value }
                $have = @{ type = $want.type; name = $filterName; value = $want.value; mode = $want.mode; enabled = $want.enabled }
                $kept.Add($have)
                if (-not $checkMode) {
                    $filterName = New-SnFilter -PolicyPath $policyPath -Type $want.type -Value $want.value
                    Set-ItemProperty -LiteralPath "$policyPath\Filters\$($want.type)\$filterName" -Name Mode -Value $want.mode
                    Set-ItemProperty -LiteralPath "$policyPath\Filters\$($want.type)\$filterName" -Name Enabled -Value $want.enabled
                }
                continue
            }
            if ($have.mode -ne $want.mode -or $have.enabled -ne $want.enabled) {
                $changed = $true
                $have.mode = $want.mode
                $have.enabled = $want.enabled
                if (-not $checkMode) {
                    Set-ItemProperty -LiteralPath "$policyPath\Filters\$($have.type)\$($have.name)" -Name Mode -Value $want.mode
                    Set-ItemProperty -LiteralPath "$policyPath\Filters\$($have.type)\$($have.name)" -Name Enabled -Value $want.enabled
                }
            }
        }
        $after.filters = $kept.ToArray()
    }

    if ($changed -and -not $checkMode) {
        $null = $drive.Save()
        $null = $drive.Refresh()
        $after = Read-Policy -Root $root -Name $name -Paths $paths
    }
    $module.Result.saved = ($changed -and -not $checkMode)
    $module.Result.after = $after
    $module.Result.changed = $changed
}
catch {
    $module.FailJson("citrix_policy_state on policy '$name': $($_.Exception.Message)", $_)
}
finally {
    Remove-PSDrive -Name $driveName -ErrorAction SilentlyContinue
}

$module.ExitJson()
