#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_info.py and plugins/modules/vip_info.ps1.

DOCUMENTATION = r"""
module: vip_info
short_description: Facts a Windows session host needs for virtual IP and virtual loopback
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Reads, in one round trip and without changing anything, the operating system (caption,
    version, build, product type, edition ID, so that Windows 10/11 Enterprise multi-session
    C(ServerRdsh) is recognised), the RD Session Host and DHCP Server roles, Citrix VDA presence
    and version, network adapters with their IPv4 addresses, current user sessions, and the RD
    IP Virtualization and Citrix VIP registry state.
  - The registry keys to read are chosen by the collection (O(registry_keys) is filled by the
    action plugin); the Windows side reads exactly those.
  - The answer is kept for the rest of the play as the host fact C(sessionnet_vip_facts_cache), so that the
    feature modules do not read the host again; the collection's own writes keep it true. The variable
    C(sessionnet_vip_facts_cache_scope) (C(play), C(run) or C(off)) chooses how long it is used.
options:
  registry_keys:
    description:
      - Registry keys to read, in addition to those the collection always reads. Each is
        returned under RV(registry) with its values and sub-key names.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Key path, such as C(HKLM:\SOFTWARE\Citrix\VIP).
        type: str
        required: true
      view:
        description: Registry view.
        type: str
        default: "64"
        choices: ["64", "32"]
  cim_classes:
    description:
      - WMI/CIM classes to read (C(Get-CimInstance)), filled by the action plugin like
        O(registry_keys). Each is returned under RV(cim) with the listed properties of every
        instance; a class or namespace that does not exist is reported with C(available=false)
        and the error, not as a failure.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: CIM namespace, such as C(root\cimv2\TerminalServices).
        type: str
        required: true
      class_name:
        description: Class name, such as C(Win32_TSVirtualIP).
        type: str
        required: true
      properties:
        description: Properties to return of each instance.
        type: list
        elements: str
        required: true
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
  - Sessions come from the WTS API (C(WTSEnumerateSessions)); C(client_address) is the client's
    IPv4 address and C(session_address) the virtual IP given to the session, where known.
seealso:
  - module: sessionnet.virtual_ip.registry_state
"""

EXAMPLES = r"""
- name: Gather virtual IP facts
  sessionnet.virtual_ip.vip_info:
  register: vip

- name: Stop on Windows 10/11 multi-session
  ansible.builtin.assert:
    that: not vip.os.multi_session_client
    fail_msg: "{{ vip.os.caption }} does not support RD IP Virtualization"
"""

RETURN = r"""
os:
  description: Operating system.
  returned: always
  type: dict
  contains:
    caption:
      description: "Win32_OperatingSystem caption."
      type: str
    version:
      description: "Version such as C(10.0.20348)."
      type: str
    build:
      description: "Build number."
      type: int
    product_type:
      description: "C(server), C(domain_controller), C(workstation) or C(unknown)."
      type: str
    edition_id:
      description: "EditionID such as C(ServerDatacenter) or C(ServerRdsh)."
      type: str
    installation_type:
      description: "C(Server), C(Server Core) or C(Client)."
      type: str
    kind:
      description: "C(server), C(multi_session_client) or C(workstation)."
      type: str
    multi_session_client:
      description: "Windows 10/11 Enterprise multi-session."
      type: bool
    server:
      description: "A Windows Server edition."
      type: bool
roles:
  description: C(rds_session_host) and C(dhcp_server) (bools).
  returned: always
  type: dict
citrix:
  description: C(vda_installed), C(vda_version), C(prefer_loopback), C(prefer_loopback_processes), C(vip_key_present).
  returned: always
  type: dict
adapters:
  description:
    - Network adapters with C(name), C(index), C(mac), C(status), C(dhcp) (whether the IPv4
      interface has DHCP enabled, C(Get-NetIPInterface) C(Dhcp)) and C(ipv4) (C(address),
      C(prefix_length), C(skip_as_source), C(prefix_origin) such as C(Manual) or C(Dhcp), and
      C(address_state) such as C(Preferred), C(Tentative) or C(Duplicate)).
  returned: always
  type: list
  elements: dict
sessions:
  description: User sessions with C(id), C(user), C(state), C(client_address), C(session_address).
  returned: always
  type: list
  elements: dict
rds_ip_virtualization:
  description:
    - C(policy) and C(local) settings (C(enabled), C(mode), C(programs), C(adapter_subnet),
      C(fallback_to_server_ip); null when not set), C(effective) (policy wins field by field),
      C(lsp_catalog_entry_present), C(lsp_catalog_backup_present) (the backup key
      C(AppId_Catalog\Backup_2C69D9F1)), and C(virtualize_loopback) (WMI C(Win32_TSVirtualIP)
      C(VirtualizeLoopbackAddressesEnabled) as a bool, null where the class or property is not
      available) with C(wmi_available) (whether the class could be read).
  returned: always
  type: dict
registry:
  description: The keys asked for in O(registry_keys), with C(exists), C(values) and C(subkeys).
  returned: always
  type: list
  elements: dict
cim:
  description:
    - The classes asked for in O(cim_classes), each with C(namespace), C(class_name),
      C(available), C(error) and C(instances) (one dict of the asked properties per instance).
  returned: always
  type: list
  elements: dict
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
cached:
  description:
    - True when the answer came from the host's facts cache (read earlier in the play, and kept
      true by this collection's own writes) rather than from the host; see C(sessionnet_vip_facts_cache_scope)
      in the collection's docs/fleet.md.
  returned: always
  type: bool
"""
