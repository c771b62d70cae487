#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds the documentation of the module; the code is the action plugin
# plugins/action/rds_ip_virtualization.py, which decides with the sessionnet_vip package and
# talks to the host through vip_info and registry_state.

DOCUMENTATION = r"""
module: rds_ip_virtualization
short_description: Turn Remote Desktop IP Virtualization on or off on an RD Session Host
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Gives every user session (O(mode=per_session)) or every listed program (O(mode=per_program))
    on a Windows Server RD Session Host its own IP address, by setting the values the Group
    Policies C(Turn on Remote Desktop IP Virtualization) and C(Select the network adapter to be
    used for Remote Desktop IP Virtualization) write under
    C(HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP),
    namely C(EnableVirtualIP), C(VirtualMode), C(PerApp), C(VIPAdapter) and C(PromptOnIPLeaseFail).
  - On Windows Server 2019 and later it also renames the Winsock catalog entry
    C(HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\2C69D9F1) to
    C(Backup_2C69D9F1), as Microsoft's support article KB 4501072 recommends (see O(fix_lsp_catalog));
    O(restore_lsp_catalog) is the way back.
  - O(virtualize_loopback) turns RD IP Virtualization's own loopback virtualization on or off
    (WMI C(Win32_TSVirtualIP) C(VirtualizeLoopbackAddressesEnabled), Windows Server 2012 and
    later), which gives plain RD Session Hosts a per-session loopback without Citrix.
  - Exactly two round trips per host, whatever the options - C(sessionnet.virtual_ip.vip_info)
    to read the host (registry and WMI), then one C(sessionnet.virtual_ip.registry_state) call
    that ensures every value, key and the WMI setting at once. The read is skipped when an earlier
    task of the play already read the host (the facts cache, C(sessionnet_vip_facts_cache_scope)).
  - Refuses Windows 10/11 Enterprise multi-session and client editions, naming the edition,
    and writes nothing there. Warns when the RD Session Host role is not installed.
  - The changes take effect after a restart; the module never restarts the host, it returns
    RV(reboot_required). The role C(sessionnet.virtual_ip.rds_ip_virtualization) can restart
    when asked.
options:
  state:
    description:
      - C(enabled) writes all five values.
      - C(disabled) removes exactly the five values this module manages from the policy key and
        nothing else. It does not restore the Winsock catalog entry renamed on Server 2019 and
        later unless O(restore_lsp_catalog=true).
    type: str
    default: enabled
    choices: [enabled, disabled]
  mode:
    description:
      - C(per_session) gives every session its own address (C(VirtualMode=0)); C(PerApp) is removed.
      - C(per_program) gives an own address only to the programs in O(programs) (C(VirtualMode=1)).
    type: str
    default: per_session
    choices: [per_session, per_program]
  programs:
    description:
      - Programs that get their own address in O(mode=per_program), written to C(PerApp)
        (REG_MULTI_SZ) in this order.
      - Full paths (C(C:\Program Files\App\app.exe), C(\\server\share\app.exe)) or executable
        names (C(app.exe)); a bare name matches any program with that name and gives a warning.
        Entries that differ only in case are merged (the first spelling is kept); C(/) is read
        as C(\).
      - Wildcards, quotes, leading or trailing spaces, environment variables and relative paths
        (C(..\x.exe), C(bin\x.exe)) are refused.
      - Required (non-empty) with O(mode=per_program). With O(mode=per_session) the list is still
        validated, then ignored with a warning.
    type: list
    elements: str
    default: []
  adapter_subnet:
    description:
      - IPv4 subnet in CIDR notation, such as C(10.20.0.0/24), of the network adapter whose
        network sessions get their addresses from (written to C(VIPAdapter)). Without it Windows
        does not turn IP virtualization on, so it is required with O(state=enabled).
      - Host bits are allowed and cleared (C(10.20.0.10/24) is written as C(10.20.0.0/24)).
      - Exactly one adapter of the host must hold an IPv4 address in this subnet; none or several
        fail naming the adapters.
    type: str
  fallback_to_server_ip:
    description:
      - When no virtual address can be leased, whether a session falls back to the server's own
        address (C(true), writes C(PromptOnIPLeaseFail=0)) or gets no network address
        (C(false), writes C(PromptOnIPLeaseFail=1)) - the policy C(Do not use Remote Desktop
        Session Host server IP address when virtual IP address is not available).
    type: bool
    default: true
  fix_lsp_catalog:
    description:
      - Rename the Winsock catalog entry C(AppId_Catalog\2C69D9F1) that stops IP virtualization
        on Windows Server 2019 and later to C(AppId_Catalog\Backup_2C69D9F1), keeping its values
        (KB 4501072 recommends the rename over deleting, so it can be reverted). When that backup
        already exists, the entry is removed and the backup kept (with a warning). The backup path
        is returned in RV(lsp_catalog_backup).
      - When not set, C(true) on Windows Server 2019 (build 17763) and later, C(false) before.
        C(true) on an older build has no effect (with a warning); C(false) on 2019+ warns when the
        entry is present.
    type: bool
  restore_lsp_catalog:
    description:
      - The way back from O(fix_lsp_catalog), with either O(state). Renames
        C(AppId_Catalog\Backup_2C69D9F1) back to C(AppId_Catalog\2C69D9F1); without a backup it
        writes the entry with the default values Microsoft's article lists (C(AppFullPath) =
        C(C:\Windows\System32\svchost.exe), C(PermittedLspCategories) = C(0x40000000)), with a
        warning. Nothing happens when the entry is present.
      - Cannot be combined with O(fix_lsp_catalog=true). On Server 2019 and later it warns that IP
        virtualization does not work while the entry is present.
    type: bool
    default: false
  virtualize_loopback:
    description:
      - RD IP Virtualization's own loopback virtualization, WMI C(Win32_TSVirtualIP)
        (C(root\CIMv2\TerminalServices)) C(VirtualizeLoopbackAddressesEnabled), set with
        C(SetVirtualizeLoopbackAddressesEnabled) in the same change call. Read by C(vip_info) as
        C(rds_ip_virtualization.virtualize_loopback).
      - Not set leaves it as it is. C(true) is refused on builds before Windows Server 2012
        (such as 2008 R2, which lack the property) and where the class cannot be read (RD Session
        Host role missing), naming the reason; C(true) with O(state=disabled) is refused.
    type: bool
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - The values are written to the B(policy) key. A domain Group Policy that sets the same policies
    overwrites them at its next refresh; manage the setting in one place.
  - The non-policy key C(HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\TSAppSrv\VirtualIP)
    (WMI C(Win32_TSVirtualIP)) is read after the policy key; the policy wins value by value. With
    O(state=disabled) the module warns when that key still turns IP virtualization on.
  - O(state=disabled) is accepted on every edition (it only removes values).
  - Microsoft supports RD IP Virtualization on Windows Server 2019 and later on-premises only.
seealso:
  - module: sessionnet.virtual_ip.vip_info
  - module: sessionnet.virtual_ip.registry_state
  - name: RDS IP Virtualization in Windows Server (Microsoft Learn)
    link: https://learn.microsoft.com/windows-server/remote/remote-desktop-services/internet-protocol-virtualization
    description: The policies and the CIDR format of the adapter.
  - name: Remote Desktop IP Virtualization in Windows Server 2019 (KB 4501072)
    link: https://learn.microsoft.com/troubleshoot/windows-server/remote/remote-desktop-ip-virtualization
    description: The Winsock catalog entry to remove on Windows Server 2019 and later.
"""

EXAMPLES = r"""
- name: Give every session its own address from the 10.20.0.0/24 adapter
  sessionnet.virtual_ip.rds_ip_virtualization:
    mode: per_session
    adapter_subnet: 10.20.0.0/24
  register: rds_vip

- name: Restart when Windows needs it
  ansible.windows.win_reboot:
  when: rds_vip.reboot_required

- name: Only two programs get their own address; no fallback to the server address
  sessionnet.virtual_ip.rds_ip_virtualization:
    mode: per_program
    programs:
      - C:\Program Files\CTI\agent.exe
      - C:\Program Files\Dialer\dialer.exe
    adapter_subnet: "{{ ansible_host }}/24"
    fallback_to_server_ip: false

- name: Turn it off again (the values this module manages are removed)
  sessionnet.virtual_ip.rds_ip_virtualization:
    state: disabled
"""

RETURN = r"""
state:
  description: The O(state) applied.
  returned: always
  type: str
mode:
  description: The O(mode) applied, or null with O(state=disabled).
  returned: always
  type: str
adapter:
  description: Name of the adapter selected by O(adapter_subnet), or null with O(state=disabled).
  returned: always
  type: str
  sample: Ethernet
adapter_subnet:
  description: The normalised subnet written to C(VIPAdapter), or null with O(state=disabled).
  returned: always
  type: str
  sample: 10.20.0.0/24
programs:
  description: The normalised program list written to C(PerApp) (empty unless O(mode=per_program)).
  returned: always
  type: list
  elements: str
lsp_catalog_fix:
  description: Whether the Winsock catalog entry is ensured renamed (or absent) by this run.
  returned: always
  type: bool
lsp_catalog_backup:
  description: Path of the backup of the Winsock catalog entry when it exists (or will, in check mode), else null.
  returned: always
  type: str
  sample: HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\Backup_2C69D9F1
lsp_catalog_restore:
  description: Whether this run restores the Winsock catalog entry (O(restore_lsp_catalog)).
  returned: always
  type: bool
virtualize_loopback:
  description: The O(virtualize_loopback) ensured, or null when it was not set.
  returned: always
  type: bool
move_results:
  description: The key renames of this run (the Winsock catalog entry), as C(registry_state) returns them.
  returned: always
  type: list
  elements: dict
cim_results:
  description: The WMI setting of this run (C(VirtualizeLoopbackAddressesEnabled)), as C(registry_state) returns it.
  returned: always
  type: list
  elements: dict
value_results:
  description:
    - One entry per managed value (C(path), C(name), C(view), C(before), C(after), C(changed),
      C(type_changed)), as C(sessionnet.virtual_ip.registry_state) returns them.
  returned: always
  type: list
  elements: dict
key_results:
  description: The Winsock catalog entry when it is removed because a backup exists (C(path), C(existed), C(changed)).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Whether a change was made (or, in check mode, would be made) that needs a restart.
  returned: always
  type: bool
os:
  description: The operating system facts read by C(vip_info) (caption, edition_id, build, kind, ...).
  returned: always
  type: dict
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
diff:
  description: "C(before)/C(after) as C({path: {name: {type, value}}}), the shape of ansible.windows.win_regedit."
  returned: always
  type: dict
"""
