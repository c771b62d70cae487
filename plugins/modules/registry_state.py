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
      - path: HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\2C69D9F1
        reboot_required: true
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
