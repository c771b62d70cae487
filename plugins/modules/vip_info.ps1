#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The Windows side of sessionnet.virtual_ip.vip_info: reads raw facts, never changes anything.
# The action plugin of the same name turns them into the documented result (os.kind, roles,
# citrix, rds_ip_virtualization, ...). Options: vip_info.py.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ..module_utils.SessionnetWts
#AnsibleRequires -PowerShell ..module_utils.SessionnetRegistry

$spec = @{
    options = @{
        registry_keys = @{
            type = 'list'
            elements = 'dict'
            no_log = $false  # registry key paths, not secrets
            default = @()
            options = @{
                path = @{ type = 'str'; required = $true }
                view = @{ type = 'str'; default = '64'; choices = '64', '32' }
            }
        }
        cim_classes = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                namespace = @{ type = 'str'; required = $true }
                class_name = @{ type = 'str'; required = $true }
                properties = @{ type = 'list'; elements = 'str'; required = $true }
            }
        }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result['changed'] = $false

Function Get-ServerFeatureState {
    <# Name -> whether that Windows Server role/feature is installed ($false where it cannot be known). #>
    param([Parameter(Mandatory = $true)][String[]]$Name)

    $features = @()
    if (Get-Command -Name Get-WindowsFeature -ErrorAction SilentlyContinue) {
        $features = @(Get-WindowsFeature -Name $Name -ErrorAction SilentlyContinue)
    }
    $installed = @{}
    foreach ($featureName in $Name) {
        $feature = @($features | Where-Object { $_.Name -eq $featureName })
        if ($feature.Count -gt 0) {
            $installed[$featureName] = [bool]$feature[0].Installed
            continue
        }
        # Without the ServerManager module: the component cache Server Manager keeps (0 = not installed).
        $cache = 'HKLM:\SOFTWARE\Microsoft\ServerManager\ServicingStorage\ServerComponentCache\' + $featureName
        $state = Get-SnRegistryItem -Path $cache -Name 'InstallState'
        $installed[$featureName] = [bool]($state.exists -and $state.type -eq 'dword' -and $state.data -eq '1')
    }
    $installed
}

$part = 'os'
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop
    $currentVersion = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $module.Result['hostname'] = $env:COMPUTERNAME
    $module.Result['os'] = @{
        caption = "$($os.Caption)".Trim()
        version = [String]$os.Version
        build = [int]$os.BuildNumber
        product_type = [int]$os.ProductType
        edition_id = (Get-SnRegistryItem -Path $currentVersion -Name 'EditionID').data
        installation_type = (Get-SnRegistryItem -Path $currentVersion -Name 'InstallationType').data
    }

    $part = 'features'
    $installed = Get-ServerFeatureState -Name 'RDS-RD-Server', 'DHCP'
    $module.Result['features'] = @{
        rds_session_host = $installed['RDS-RD-Server']
        dhcp_server = $installed['DHCP']
    }

    $part = 'adapters (Get-NetAdapter, Get-NetIPInterface, Get-NetIPAddress)'
    $addresses = @(Get-NetIPAddress -AddressFamily IPv4 -ErrorAction Stop)
    # Dhcp (Enabled/Disabled) of each IPv4 interface: a DHCP-enabled interface cannot also hold
    # static addresses (New-NetIPAddress fails); the controller decides what that means.
    $dhcpByIndex = @{}
    foreach ($interface in @(Get-NetIPInterface -AddressFamily IPv4 -ErrorAction Stop)) {
        $dhcpByIndex[[int]$interface.InterfaceIndex] = ([String]$interface.Dhcp -eq 'Enabled')
    }
    $adapters = [System.Collections.Generic.List[Object]]@()
    foreach ($adapter in @(Get-NetAdapter -ErrorAction Stop | Sort-Object -Property ifIndex)) {
        $ipv4 = [System.Collections.Generic.List[Object]]@()
        foreach ($address in $addresses) {
            if ($address.InterfaceIndex -eq $adapter.ifIndex) {
                $ipv4.Add(@{
                        address = [String]$address.IPAddress
                        prefix_length = [int]$address.PrefixLength
                        skip_as_source = [bool]$address.SkipAsSource
                        prefix_origin = [String]$address.PrefixOrigin
                        address_state = [String]$address.AddressState
                    })
            }
        }
        $adapters.Add(@{
                name = [String]$adapter.Name
                index = [int]$adapter.ifIndex
                mac = [String]$adapter.MacAddress
                status = [String]$adapter.Status
                dhcp = [bool]$dhcpByIndex[[int]$adapter.ifIndex]
                ipv4 = $ipv4
            })
    }
    $module.Result['adapters'] = $adapters

    $part = 'sessions (WTS API)'
    $sessions = [System.Collections.Generic.List[Object]]@()
    foreach ($session in [Sessionnet.WtsSessions]::List()) {
        $sessions.Add(@{
                id = [int]$session.Id
                user = $session.User
                state = $session.State
                client_address = $session.ClientAddress
                session_address = $session.SessionAddress
            })
    }
    $module.Result['sessions'] = $sessions
}
catch {
    $module.FailJson("vip_info could not read $($part): $($_.Exception.Message)", $_)
}

$registry = [System.Collections.Generic.List[Object]]@()
$items = @($module.Params['registry_keys'])
for ($i = 0; $i -lt $items.Count; $i++) {
    try {
        $registry.Add((Read-SnRegistryKey -Path $items[$i].path -View $items[$i].view))
    }
    catch {
        $module.FailJson("registry_keys[$i] ($($items[$i].path), view $($items[$i].view)): $($_.Exception.Message)", $_)
    }
}
$module.Result['registry'] = $registry

# CIM classes the controller asked for: a missing class or namespace is a fact, not a failure.
$cim = [System.Collections.Generic.List[Object]]@()
foreach ($item in @($module.Params['cim_classes'])) {
    $entry = @{ namespace = $item.namespace; class_name = $item.class_name; available = $false; error = $null; instances = @() }
    try {
        $found = @(Get-CimInstance -Namespace $item.namespace -ClassName $item.class_name -ErrorAction Stop)
        $instances = [System.Collections.Generic.List[Object]]@()
        foreach ($instance in $found) {
            $values = @{}
            foreach ($property in @($item.properties)) {
                $found_property = $instance.CimInstanceProperties[$property]
                $values[$property] = if ($null -ne $found_property) { $found_property.Value } else { $null }
            }
            $instances.Add($values)
        }
        $entry.available = $true
        $entry.instances = $instances
    }
    catch {
        $entry.error = $_.Exception.Message
    }
    $cim.Add($entry)
}
$module.Result['cim'] = $cim

$module.ExitJson()
