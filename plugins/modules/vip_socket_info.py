#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_socket_info.py and plugins/modules/vip_socket_info.ps1.

DOCUMENTATION = r"""
module: vip_socket_info
short_description: One sample of a Windows host's sockets with their owning processes
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Reads, in one round trip and without changing anything, every TCP connection and listener
    (C(Get-NetTCPConnection)) and UDP endpoint (C(Get-NetUDPEndpoint)) with the full path,
    session ID (C(Win32_Process)) and user (C(Get-Process -IncludeUserName)) of its owning process, and the host's dynamic
    (ephemeral) port range (C(Get-NetTCPSetting)).
  - The generic hand of M(sessionnet.virtual_ip.vip_app_audit), which decides what the sockets
    mean; use that module rather than this one.
options:
  protocols:
    description: Which sockets to read.
    type: list
    elements: str
    default: [tcp, udp]
    choices: [tcp, udp]
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.attributes.info_module
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  platform:
    support: full
    platforms: windows
notes:
  - Run it as an administrator; processes of other users otherwise show no path.
  - Simulated hosts answer from their C(sessionnet_simulated_windows_sockets) inventory variable.
seealso:
  - module: sessionnet.virtual_ip.vip_app_audit
  - name: Get-NetTCPConnection
    description: Microsoft documentation of the cmdlet.
    link: https://learn.microsoft.com/powershell/module/nettcpip/get-nettcpconnection
"""

EXAMPLES = r"""
- name: One sample of the host's sockets
  sessionnet.virtual_ip.vip_socket_info:
  register: sockets
"""

RETURN = r"""
platform:
  description: Always C(windows).
  returned: always
  type: str
sockets:
  description: One entry per socket.
  returned: always
  type: list
  elements: dict
  contains:
    protocol: {description: "C(tcp) or C(udp).", type: str, returned: always}
    family: {description: "4 or 6.", type: int, returned: always}
    local_address: {description: "Local address (C(0.0.0.0) / C(::) is every address).", type: str, returned: always}
    local_port: {description: "Local port.", type: int, returned: always}
    remote_address: {description: "Remote address, null for listeners and UDP endpoints.", type: str, returned: always}
    remote_port: {description: "Remote port, or null.", type: int, returned: always}
    state: {description: "TCP state in lower case (C(listen), C(established), ...); C(bound) for UDP.", type: str, returned: always}
    pid: {description: "Owning process ID.", type: int, returned: always}
    exe: {description: "Full path of the owning process, null where unreadable.", type: str, returned: always}
    session: {description: "Session ID of the owning process (0 is services).", type: int, returned: always}
    user: {description: "DOMAIN\\user of the owning process, or null.", type: str, returned: always}
ephemeral_ports:
  description: First and last port of the dynamic port range.
  returned: always
  type: list
  elements: int
simulated:
  description: Whether the collection's simulator answered.
  returned: always
  type: bool
"""
