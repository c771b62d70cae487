#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds the documentation of the module; the code is the action plugin
# plugins/action/registry_state.py (all decisions) and plugins/modules/registry_state.ps1
# (the generic hand that runs on Windows).

DOCUMENTATION = r"""
module: registry_state
short_description: Ensure a whole set of Windows registry values in one call
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Ensures many registry values, in the 64-bit or the 32-bit registry view, present with the
    given type and data or absent, and whole keys absent, in B(one) round trip to the host.
  - The controller validates everything first (types, data ranges, paths, hives, duplicates);
    bad input fails naming the item and nothing is written.
  - REG_MULTI_SZ compares in order; DWORD and QWORD values above 0x7FFFFFFF round-trip exactly;
    a value whose type differs is rewritten and reported with C(type_changed).
  - Only C(HKLM) may be written unless O(allowed_hives) says otherwise.
options:
  values:
    description: Registry values to ensure.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - "Key path, for example C(HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services\\TSAppSrv\\VirtualIP)."
          - C(HKLM\...) and C(HKEY_LOCAL_MACHINE\...) are accepted too.
        type: str
        required: true
      name:
        description: Value name; an empty string is the key's default value.
        type: str
        required: true
      type:
        description: Registry type. Required when O(values[].state=present).
        type: str
        choices: [dword, qword, string, expandstring, multistring, binary]
      data:
        description:
          - The data. An integer (or decimal/C(0x) hex string) for C(dword) (0 to 0xFFFFFFFF)
            and C(qword) (0 to 0xFFFFFFFFFFFFFFFF); a string for C(string)/C(expandstring); a
            list of strings for C(multistring); hex (C(de ad be ef)) or a list of byte values for C(binary).
        type: raw
      state:
        description: Whether the value must exist with this data or not exist.
        type: str
        default: present
        choices: [present, absent]
      view:
        description:
          - Registry view. C(32) is what 32-bit programs see; there C(HKLM:\SOFTWARE\X) is
            C(HKLM:\SOFTWARE\Wow6432Node\X).
        type: str
        default: "64"
        choices: ["64", "32"]
      reboot_required:
        description: When this value changes, the result reports RV(reboot_required=true).
        type: bool
        default: false
  keys_absent:
    description: Whole keys (with sub-keys and values) that must not exist.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Key path; top-level keys (such as C(HKLM:\SOFTWARE)) are refused.
        type: str
        required: true
      view:
        description: Registry view, as for O(values[].view).
        type: str
        default: "64"
        choices: ["64", "32"]
      reboot_required:
        description: When this key is removed, the result reports RV(reboot_required=true).
        type: bool
        default: false
  keys_moved:
    description:
      - Whole keys to move (rename) with their values and sub-keys, as C(Rename-Item) on a registry
        key does. The key at O(keys_moved[].path) is copied to O(keys_moved[].to) and then removed.
      - Nothing happens when the source does not exist (already moved). When both exist the call
        fails before anything is written, naming both.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Key to move; top-level keys are refused.
        type: str
        required: true
      to:
        description: New full path of the key, in the same hive.
        type: str
        required: true
      view:
        description: Registry view, as for O(values[].view).
        type: str
        default: "64"
        choices: ["64", "32"]
      reboot_required:
        description: When this key is moved, the result reports RV(reboot_required=true).
        type: bool
        default: false
  cim_properties:
    description:
      - WMI/CIM properties to ensure through their setter method, for settings a WMI provider
        writes (such as C(Win32_TSVirtualIP) C(VirtualizeLoopbackAddressesEnabled)).
      - The property of the class's instance is read; when it differs from O(cim_properties[].value)
        the method O(cim_properties[].method) is called with one argument named like the property.
        A class without an instance fails the call before anything is written.
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
      property:
        description: Property to compare, such as C(VirtualizeLoopbackAddressesEnabled).
        type: str
        required: true
      value:
        description: Wanted value (an unsigned 32-bit integer).
        type: int
        required: true
      method:
        description: Method that sets it, such as C(SetVirtualizeLoopbackAddressesEnabled); it must return 0.
        type: str
        required: true
      reboot_required:
        description: When this property changes, the result reports RV(reboot_required=true).
        type: bool
        default: false
  allowed_hives:
    description: Hives that may be written. Anything outside C(HKLM) must be allowed explicitly.
    type: list
    elements: str
    default: [HKLM]
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    details: Returns the changes as C(before)/C(after) in diff mode.
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - Empty O(values) and O(keys_absent) is a no-op that reports no change.
  - Keys are opened with C(RegistryKey.OpenBaseKey), given the hive and the view, never by spelling C(Wow6432Node).
seealso:
  - module: ansible.windows.win_regedit
  - module: sessionnet.virtual_ip.vip_info
"""

EXAMPLES = r"""
- name: Turn on RD IP Virtualization per session (normally done by sessionnet.virtual_ip.rds_ip_virtualization)
  sessionnet.virtual_ip.registry_state:
    values:
      - path: HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP
        name: EnableVirtualIP
        type: dword
        data: 1
        reboot_required: true
      - path: HKLM:\SOFTWARE\Citrix\VIP
        name: PreferLoopbackProcesses
        type: multistring
        data: [C:\Program Files\CTI\agent.exe]
        view: "32"
    keys_absent:
      - path: HKLM:\SOFTWARE\SessionnetTest
        reboot_required: false

- name: Rename a key (KB 4501072's Winsock catalog fix) and set a WMI property in the same call
  sessionnet.virtual_ip.registry_state:
    keys_moved:
      - path: HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\2C69D9F1
        to: HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\Backup_2C69D9F1
        reboot_required: true
    cim_properties:
      - namespace: root\cimv2\TerminalServices
        class_name: Win32_TSVirtualIP
        property: VirtualizeLoopbackAddressesEnabled
        value: 1
        method: SetVirtualizeLoopbackAddressesEnabled
"""

RETURN = r"""
value_results:
  description: One entry per value, in the order given (duplicates merged).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The key as regedit shows it (the 32-bit view spelled with C(Wow6432Node)).
      type: str
    name:
      description: Value name.
      type: str
    view:
      description: Registry view.
      type: str
    before:
      description: "C({type, data}) before, or null when the value did not exist."
      type: dict
    after:
      description: "C({type, data}) after (in check mode, what it would be), or null."
      type: dict
    changed:
      description: Whether this value changed (or would change).
      type: bool
    type_changed:
      description: Whether the value existed with another type.
      type: bool
key_results:
  description: One entry per O(keys_absent) item, with C(existed) and C(changed).
  returned: always
  type: list
  elements: dict
move_results:
  description:
    - One entry per O(keys_moved) item, with C(path), C(to), C(view), C(source_existed),
      C(target_existed) (both before the call) and C(changed) (moved, or would be in check mode).
  returned: always
  type: list
  elements: dict
cim_results:
  description:
    - One entry per O(cim_properties) item, with C(namespace), C(class_name), C(property),
      C(before), C(after) and C(changed). In the diff they appear under C(WMI <namespace>:<class>).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Whether a value or key marked C(reboot_required) changed.
  returned: always
  type: bool
simulated:
  description: True when a simulated host answered (see the collection docs).
  returned: always
  type: bool
diff:
  description: "C(before)/C(after) as C({path: {name: {type, value}}}), the shape of ansible.windows.win_regedit."
  returned: always
  type: dict
"""
