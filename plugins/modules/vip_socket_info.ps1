#!powershell

# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The Windows side of sessionnet.virtual_ip.vip_app_audit: one sample of every TCP connection /
# listener and UDP endpoint with its owning process (full path, session ID, user). It reads only
# and decides nothing; the action plugin vip_app_audit does. Options: vip_socket_info.py.
# Sources: Get-NetTCPConnection and Get-NetUDPEndpoint (NetTCPIP module: LocalAddress, LocalPort,
# RemoteAddress, RemotePort, State, OwningProcess); Win32_Process (ExecutablePath, SessionId);
# Get-Process -IncludeUserName (the owner); Get-NetTCPSetting (DynamicPortRangeStartPort, DynamicPortRangeNumberOfPorts).

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        protocols = @{ type = 'list'; elements = 'str'; default = 'tcp', 'udp'; choices = 'tcp', 'udp' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result['changed'] = $false
$module.Result['platform'] = 'windows'
$warnings = [System.Collections.Generic.List[String]]@()

$part = 'processes (Win32_Process)'
try {
    $processes = @{}
    foreach ($process in @(Get-CimInstance -ClassName Win32_Process -ErrorAction Stop)) {
        $processes[[int]$process.ProcessId] = $process
    }
    # Owners: Get-Process -IncludeUserName (needs elevation; read-only), "DOMAIN\user".
    $owners = @{}
    foreach ($p in @(Get-Process -IncludeUserName -ErrorAction SilentlyContinue)) {
        $owners[[int]$p.Id] = $p.UserName
    }

    $sockets = [System.Collections.Generic.List[Object]]@()
    $rows = [System.Collections.Generic.List[Object]]@()
    if ($module.Params.protocols -contains 'tcp') {
        $part = 'TCP connections (Get-NetTCPConnection)'
        foreach ($c in @(Get-NetTCPConnection -ErrorAction Stop)) {
            $state = "$($c.State)".ToLowerInvariant()
            if ($state -in 'timewait', 'closed', 'bound') { continue }
            if ($state -eq 'listen') { $remote = $null; $remotePort = $null }
            else { $remote = [String]$c.RemoteAddress; $remotePort = [int]$c.RemotePort }
            $rows.Add(@('tcp', [String]$c.LocalAddress, [int]$c.LocalPort, $remote, $remotePort, $state, [int]$c.OwningProcess))
        }
    }
    if ($module.Params.protocols -contains 'udp') {
        $part = 'UDP endpoints (Get-NetUDPEndpoint)'
        foreach ($u in @(Get-NetUDPEndpoint -ErrorAction Stop)) {
            $rows.Add(@('udp', [String]$u.LocalAddress, [int]$u.LocalPort, $null, $null, 'bound', [int]$u.OwningProcess))
        }
    }

    $part = 'owning processes'
    $unreadable = 0
    foreach ($row in $rows) {
        $owningPid = $row[6]
        $process = $processes[$owningPid]
        $exe = $null
        $session = $null
        if ($null -ne $process) {
            $exe = $process.ExecutablePath
            $session = [int]$process.SessionId
        }
        if ($null -eq $exe) { $unreadable++ }
        $sockets.Add(@{
                protocol = $row[0]
                family = $(if ($row[1].Contains(':')) { 6 } else { 4 })
                local_address = $row[1]
                local_port = $row[2]
                remote_address = $row[3]
                remote_port = $row[4]
                state = $row[5]
                pid = $owningPid
                exe = $exe
                session = $session
                user = $owners[$owningPid]
            })
    }
    if ($unreadable -gt 0) {
        $warnings.Add("$unreadable socket(s) belong to processes whose path is unreadable; run as an administrator")
    }

    $part = 'dynamic port range (Get-NetTCPSetting)'
    $setting = @(Get-NetTCPSetting -ErrorAction SilentlyContinue | Where-Object { $_.DynamicPortRangeStartPort }) | Select-Object -First 1
    if ($null -ne $setting) {
        $first = [int]$setting.DynamicPortRangeStartPort
        $module.Result['ephemeral_ports'] = @($first, ($first + [int]$setting.DynamicPortRangeNumberOfPorts - 1))
    }
    else {
        $module.Result['ephemeral_ports'] = @(49152, 65535)
    }
}
catch {
    $module.FailJson("vip_socket_info could not read $($part): $($_.Exception.Message)", $_)
}
$module.Result['sockets'] = $sockets
$module.Result['warnings'] = $warnings
$module.ExitJson()
