#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_app_audit.py, the decision in
# sessionnet_vip.apps.audit, the hands plugins/modules/vip_socket_info.ps1 (Windows) and
# sessionnet_vip.apps.linux_collect (Linux).

DOCUMENTATION = r"""
module: vip_app_audit
short_description: Find which programs need a virtual IP, a virtual loopback or the client address
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Automates the procedure the vendors describe with TCPView - start the application, see which
    addresses and ports it opens and which process owns them, look for C(0.0.0.0) /
    C(127.0.0.1) and for fixed ports, compare with a second instance - to decide which programs
    need a virtual IP, a virtual loopback, or only the client address.
  - Takes O(samples) samples of the host's sockets with their owning process (full path, session,
    user), O(sample_interval) seconds apart; one round trip per sample. On Windows the hand is
    M(sessionnet.virtual_ip.vip_socket_info) (C(Get-NetTCPConnection), C(Get-NetUDPEndpoint),
    C(Win32_Process)); on Linux the kernel's C(/proc/net/tcp), C(tcp6), C(udp), C(udp6) and
    C(/proc/PID/exe), C(/proc/PID/sessionid); on a simulated host the inventory variable
    C(sessionnet_simulated_windows_sockets).
  - A port is B(fixed) when the same program holds it in two process instances (two sessions, or
    a restart between samples), or in both samples of one instance outside the host's ephemeral
    port range. One sample of one instance cannot tell; RV(programs[].evidence) says so.
  - C(virtual_ip) - listens on C(0.0.0.0), C(::) or a host address on a fixed port;
    C(virtual_loopback) - listens on, or connects to, a loopback address on a fixed port;
    C(client_address) - connects out only, a B(candidate) (whether the server identifies the
    program by its address cannot be seen from sockets; confirm with its vendor); C(none) - nothing of that.
  - Returns the exact options of this collection's modules that apply the recommendations
    (RV(module_options)), with the programs as full paths. Changes nothing.
options:
  samples:
    description: How many samples to take (2 tells fixed ports from ephemeral ones).
    type: int
    default: 2
  sample_interval:
    description: Seconds between two samples (restart the application in between to see whether its ports are fixed).
    type: float
    default: 5
  sessions:
    description:
      - C(user) looks at processes in user sessions only (Windows - not session 0; Linux - processes with
        an audit/logind session); C(all) also at services and daemons.
    type: str
    default: user
    choices: [user, all]
  programs:
    description: Only these programs (full paths or executable names); empty - every program seen.
    type: list
    elements: str
    default: []
  probe:
    description:
      - Optional second-instance probe, off by default (empty). Linux only - each command is started
        once more on the host (as the connecting user), its sockets are read once it holds one (or
        has exited, or O(probe[].timeout) has passed), and it is stopped. RV(probes) says whether
        it conflicted with the first instance.
      - Refused on Windows, where a second instance belongs in another user's session - let two
        users start the program, then audit.
    type: list
    elements: dict
    default: []
    suboptions:
      argv:
        description: The program (full path) and its arguments.
        type: list
        elements: str
        required: true
      timeout:
        description: Seconds to wait for the second instance's first socket.
        type: float
        default: 10
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.attributes.info_module
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  platform:
    details: Windows session hosts and Linux hosts.
    support: full
    platforms: [windows, posix]
notes:
  - Run it with administrator / root rights (C(become) on Linux); processes of other users otherwise
    show no path and are listed in a warning, not in RV(programs).
  - Vendor procedure it follows - Citrix, "Virtual IP and virtual loopback"
    (U(https://docs.citrix.com/en-us/citrix-virtual-apps-desktops/manage-deployment/virtual-ip-and-virtual-loopback.html));
    Microsoft, "Remote Desktop IP Virtualization"
    (U(https://learn.microsoft.com/troubleshoot/windows-server/remote/remote-desktop-ip-virtualization)).
seealso:
  - module: sessionnet.virtual_ip.vip_socket_info
  - module: sessionnet.virtual_ip.rds_ip_virtualization
  - module: sessionnet.virtual_ip.citrix_loopback_policy
"""

EXAMPLES = r"""
- name: Audit the programs users run, two samples a minute apart
  sessionnet.virtual_ip.vip_app_audit:
    samples: 2
    sample_interval: 60
  register: audit

- name: Apply the recommendation for programs that need a virtual IP
  sessionnet.virtual_ip.rds_ip_virtualization:
    mode: per_program
    programs: "{{ audit.module_options['sessionnet.virtual_ip.rds_ip_virtualization'].programs }}"
    adapter_subnet: 10.20.0.0/24
  when: "'sessionnet.virtual_ip.rds_ip_virtualization' in audit.module_options"

- name: Linux - start a second instance of a server and see whether it conflicts
  sessionnet.virtual_ip.vip_app_audit:
    programs: [/usr/sbin/lighttpd]
    probe:
      - argv: [/usr/sbin/lighttpd, -D, -f, /etc/lighttpd/lighttpd.conf]
  become: true
"""

RETURN = r"""
programs:
  description: One entry per executable (full path), those needing a virtual IP first.
  returned: always
  type: list
  elements: dict
  contains:
    exe: {description: "Full path of the executable.", type: str, returned: always}
    name: {description: "Its file name.", type: str, returned: always}
    recommendation: {description: "C(virtual_ip), C(virtual_loopback), C(client_address) or C(none).", type: str, returned: always}
    needs: {description: "Every feature it needs (a program can need both a virtual IP and a virtual loopback).", type: list, elements: str, returned: always}
    candidate: {description: "True for C(client_address) - to be confirmed with the vendor.", type: bool, returned: always}
    reasons: {description: "Why, in words, one line per piece of evidence.", type: list, elements: str, returned: always}
    evidence:
      description: >-
        C(listeners) and C(connections) (protocol, port, addresses, address_class, fixed, fixed_reason,
        instances, sessions), C(ports), C(sessions), C(pids), C(users), C(samples).
      type: dict
      returned: always
module_options:
  description: >-
    Module (or role) name -> the options that apply the recommendations, programs as full paths
    (Windows - rds_ip_virtualization, citrix_loopback_policy, citrix_prefer_loopback; Linux - the vip_agent
    role's C(vip_agent_processes)).
  returned: always
  type: dict
counts:
  description: Programs per recommendation.
  returned: always
  type: dict
probes:
  description: Per second instance - argv, verdict (C(conflict), C(shared), C(different_ports), C(no_sockets), C(not_started)), reason, ports.
  returned: when O(probe) is given
  type: list
  elements: dict
platform:
  description: C(windows) or C(linux).
  returned: always
  type: str
samples:
  description: How many samples were taken.
  returned: always
  type: int
simulated:
  description: Whether the collection's simulator answered.
  returned: always
  type: bool
"""
