# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Registry reading, writing and the wire format shared by registry_state.ps1 and vip_info.ps1.
#
# Wire format (made on the controller by sessionnet_vip.windows.registry): dword/qword data are
# unsigned DECIMAL strings, binary is a lowercase hex string, multistring a list of strings,
# string/expandstring plain strings (read without expanding %VARIABLES%). Paths look like
# 'HKLM:\Sub\Path'; the view ('64' or '32') picks the registry view explicitly through
# RegistryKey.OpenBaseKey, so nothing here spells Wow6432Node.

$script:SnHives = @{
    HKLM = [Microsoft.Win32.RegistryHive]::LocalMachine
    HKU = [Microsoft.Win32.RegistryHive]::Users
    HKCR = [Microsoft.Win32.RegistryHive]::ClassesRoot
    HKCC = [Microsoft.Win32.RegistryHive]::CurrentConfig
    HKCU = [Microsoft.Win32.RegistryHive]::CurrentUser
}

$script:SnKinds = @{
    dword = [Microsoft.Win32.RegistryValueKind]::DWord
    qword = [Microsoft.Win32.RegistryValueKind]::QWord
    string = [Microsoft.Win32.RegistryValueKind]::String
    expandstring = [Microsoft.Win32.RegistryValueKind]::ExpandString
    multistring = [Microsoft.Win32.RegistryValueKind]::MultiString
    binary = [Microsoft.Win32.RegistryValueKind]::Binary
}

Function Split-SnRegistryPath {
    <# 'HKLM:\Sub\Path' -> @{ Hive = [RegistryHive]; SubPath = 'Sub\Path' } ('' for the hive itself); opens nothing. #>
    param([Parameter(Mandatory = $true)][String]$Path)

    if ($Path -notmatch '^(?<hive>HKLM|HKU|HKCR|HKCC|HKCU):?(\\(?<sub>.*))?$') {
        throw "'$Path' is not a registry path like 'HKLM:\SOFTWARE\Vendor' (it must start with HKLM:, HKU:, HKCR:, HKCC: or HKCU:)"
    }
    @{
        Hive = $script:SnHives[$Matches.hive.ToUpperInvariant()]
        SubPath = "$($Matches.sub)".Trim('\')
    }
}

Function Open-SnRegistryBaseKey {
    <# Returns @{ Base = <hive root in the view>; SubPath = 'Sub\Path' } for 'HKLM:\Sub\Path'. #>
    param([Parameter(Mandatory = $true)][String]$Path, [String]$View = '64')

    $split = Split-SnRegistryPath -Path $Path
    $hive = $split.Hive
    $sub = $split.SubPath
    $registryView = switch ($View) {
        '64' { [Microsoft.Win32.RegistryView]::Registry64 }
        '32' { [Microsoft.Win32.RegistryView]::Registry32 }
        default { throw "view '$View' must be 64 or 32" }
    }
    @{
        Base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, $registryView)
        SubPath = $sub
    }
}

Function ConvertTo-SnUnsignedText {
    <# DWORD (Int32) / QWORD (Int64) as read by .NET -> unsigned decimal string. #>
    param([Parameter(Mandatory = $true)]$Value, [Parameter(Mandatory = $true)][String]$Type)

    $culture = [System.Globalization.CultureInfo]::InvariantCulture
    if ($Type -eq 'dword') {
        $unsigned = [BitConverter]::ToUInt32([BitConverter]::GetBytes([Int32]$Value), 0)
    }
    else {
        $unsigned = [BitConverter]::ToUInt64([BitConverter]::GetBytes([Int64]$Value), 0)
    }
    $unsigned.ToString($culture)
}

Function Get-SnRegistryValue {
    <# Reads one value of an open key: @{ exists; type; data } with data in the wire format. #>
    param([Microsoft.Win32.RegistryKey]$Key, [AllowEmptyString()][String]$Name)

    $result = @{ exists = $false; type = $null; data = $null }
    if ($null -eq $Key -or $Key.GetValueNames() -notcontains $Name) {
        return $result
    }
    $raw = $Key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    $kind = $Key.GetValueKind($Name)
    $type = 'unknown'
    foreach ($entry in $script:SnKinds.GetEnumerator()) {
        if ($entry.Value -eq $kind) {
            $type = $entry.Key
        }
    }
    $result.exists = $true
    $result.type = $type
    $result.data = switch ($type) {
        { $_ -in 'dword', 'qword' } { ConvertTo-SnUnsignedText -Value $raw -Type $type }
        'multistring' { , [String[]]@($raw) }
        { $_ -in 'string', 'expandstring' } { [String]$raw }
        default {
            # binary, and REG_NONE and other kinds, which .NET returns as bytes
            if ($raw -is [byte[]]) { [BitConverter]::ToString($raw).Replace('-', '').ToLowerInvariant() }
            elseif ($null -ne $raw) { [String]$raw }
        }
    }
    $result
}

Function Get-SnRegistryItem {
    <# One value by path: @{ exists; type; data } (wire format); a missing key reads as not existing. #>
    param([Parameter(Mandatory = $true)][String]$Path, [AllowEmptyString()][String]$Name, [String]$View = '64')

    $opened = Open-SnRegistryBaseKey -Path $Path -View $View
    $key = $null
    try {
        $key = if ($opened.SubPath) { $opened.Base.OpenSubKey($opened.SubPath, $false) } else { $opened.Base }
        Get-SnRegistryValue -Key $key -Name $Name
    }
    finally {
        if ($null -ne $key) {
            $key.Dispose()
        }
        $opened.Base.Dispose()
    }
}

Function ConvertFrom-SnWireData {
    <# Wire data -> the .NET object SetValue needs for $Type. Throws naming the bad data. #>
    param([Parameter(Mandatory = $true)][String]$Type, [AllowNull()]$Data)

    if ($null -eq $Data) {
        throw "data is required for a $Type value"
    }
    $culture = [System.Globalization.CultureInfo]::InvariantCulture
    switch ($Type) {
        { $_ -in 'dword', 'qword' } {
            $text = "$Data".Trim()
            $style = [System.Globalization.NumberStyles]::None
            if ($text -match '^0[xX](?<hex>[0-9a-fA-F]+)$') {
                $text = $Matches.hex
                $style = [System.Globalization.NumberStyles]::AllowHexSpecifier
            }
            if ($Type -eq 'dword') {
                $unsigned = [UInt32]0
                if (-not [UInt32]::TryParse($text, $style, $culture, [ref]$unsigned)) {
                    throw "data '$Data' is not an integer from 0 to 4294967295, as a dword needs"
                }
                return [BitConverter]::ToInt32([BitConverter]::GetBytes($unsigned), 0)
            }
            $unsigned = [UInt64]0
            if (-not [UInt64]::TryParse($text, $style, $culture, [ref]$unsigned)) {
                throw "data '$Data' is not an integer from 0 to 18446744073709551615, as a qword needs"
            }
            return [BitConverter]::ToInt64([BitConverter]::GetBytes($unsigned), 0)
        }
        'binary' {
            $hex = "$Data" -replace '\s', ''
            if ($hex.Length % 2 -ne 0 -or $hex -notmatch '^[0-9a-fA-F]*$') {
                throw "data '$Data' is not a hex string such as 'deadbeef', as binary data needs"
            }
            $bytes = New-Object -TypeName byte[] -ArgumentList ($hex.Length / 2)
            for ($i = 0; $i -lt $bytes.Length; $i++) {
                $bytes[$i] = [Convert]::ToByte($hex.Substring($i * 2, 2), 16)
            }
            return , $bytes
        }
        'multistring' {
            $items = [System.Collections.Generic.List[String]]@()
            foreach ($item in @($Data)) {
                $items.Add([String]$item)
            }
            return , $items.ToArray()
        }
        { $_ -in 'string', 'expandstring' } { return [String]$Data }
        default { throw "type '$Type' is not one of $($script:SnKinds.Keys -join ', ')" }
    }
}

Function ConvertTo-SnWireData {
    <# The .NET object made by ConvertFrom-SnWireData -> canonical wire data (to compare with a read). #>
    param([Parameter(Mandatory = $true)][String]$Type, $Value)

    switch ($Type) {
        { $_ -in 'dword', 'qword' } { ConvertTo-SnUnsignedText -Value $Value -Type $Type }
        'binary' { [BitConverter]::ToString([byte[]]$Value).Replace('-', '').ToLowerInvariant() }
        'multistring' { , [String[]]@($Value) }
        default { [String]$Value }
    }
}

Function Test-SnWireDataEqual {
    <# Ordinal, case-sensitive equality of two wire data; lists compare item by item, in order. #>
    param($Left, $Right)

    $ordinal = [StringComparison]::Ordinal
    $leftList = $Left -is [System.Collections.IList]
    if ($leftList -ne ($Right -is [System.Collections.IList])) {
        return $false
    }
    if (-not $leftList) {
        return [String]::Equals([String]$Left, [String]$Right, $ordinal)
    }
    if ($Left.Count -ne $Right.Count) {
        return $false
    }
    for ($i = 0; $i -lt $Left.Count; $i++) {
        if (-not [String]::Equals([String]$Left[$i], [String]$Right[$i], $ordinal)) {
            return $false
        }
    }
    $true
}

Function Get-SnRegistryKind {
    <# Our type name -> [Microsoft.Win32.RegistryValueKind]. #>
    param([Parameter(Mandatory = $true)][String]$Type)

    if (-not $script:SnKinds.ContainsKey($Type)) {
        throw "type '$Type' is not one of $($script:SnKinds.Keys -join ', ')"
    }
    $script:SnKinds[$Type]
}

Function Read-SnRegistryKey {
    <# A whole key: @{ path; view; exists; values = @(@{name; type; data}); subkeys = @(names, ordinal order) }. #>
    param([Parameter(Mandatory = $true)][String]$Path, [String]$View = '64')

    $values = [System.Collections.Generic.List[Object]]@()
    $subkeys = [System.Collections.Generic.List[String]]@()
    $opened = Open-SnRegistryBaseKey -Path $Path -View $View
    $key = $null
    try {
        $key = if ($opened.SubPath) { $opened.Base.OpenSubKey($opened.SubPath, $false) } else { $opened.Base }
        if ($null -ne $key) {
            foreach ($name in $key.GetValueNames()) {
                $value = Get-SnRegistryValue -Key $key -Name $name
                $values.Add(@{ name = $name; type = $value.type; data = $value.data })
            }
            $names = [String[]]$key.GetSubKeyNames()
            [Array]::Sort($names, [StringComparer]::Ordinal)
            $subkeys.AddRange($names)
        }
    }
    finally {
        if ($null -ne $key -and -not [Object]::ReferenceEquals($key, $opened.Base)) {
            $key.Dispose()
        }
        $opened.Base.Dispose()
    }
    @{ path = $Path; view = $View; exists = ($null -ne $key); values = $values; subkeys = $subkeys }
}

Function Copy-SnRegistryTree {
    <# Copies every value (data and kind, unexpanded) and sub-key of $Source into $Target, recursively.
       The caller guards it with check mode and removes the source afterwards (a key "rename"). #>
    param([Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$Source, [Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$Target)

    foreach ($name in $Source.GetValueNames()) {
        $data = $Source.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        $Target.SetValue($name, $data, $Source.GetValueKind($name))
    }
    foreach ($subName in $Source.GetSubKeyNames()) {
        $child = $Source.OpenSubKey($subName, $false)
        $copy = $Target.CreateSubKey($subName)
        try {
            Copy-SnRegistryTree -Source $child -Target $copy
        }
        finally {
            $copy.Dispose()
            $child.Dispose()
        }
    }
}

Export-ModuleMember -Function Split-SnRegistryPath, Open-SnRegistryBaseKey, Get-SnRegistryValue, Get-SnRegistryItem, ConvertFrom-SnWireData, `
    ConvertTo-SnWireData, Test-SnWireDataEqual, Get-SnRegistryKind, Read-SnRegistryKey, Copy-SnRegistryTree
