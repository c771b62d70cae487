#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/citrix_prefer_loopback.py (decisions in
# sessionnet_vip.windows.prefer_loopback) on top of registry_state and vip_info.

DOCUMENTATION = r"""
module: citrix_prefer_loopback
short_description: Citrix prefer-loopback on a VDA (virtual loopback wins over virtual IP)
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Sets, on a Citrix Server OS VDA, C(PreferLoopback) (REG_DWORD 1) and C(PreferLoopbackProcesses)
    (REG_MULTI_SZ) under C(HKLM\SOFTWARE\Wow6432Node\Citrix\VIP) (written as C(HKLM:\SOFTWARE\Citrix\VIP)
    in the 32-bit registry view), so that for the listed processes virtual loopback wins over
    virtual IP (Citrix docs, "Virtual IP and virtual loopback", section "Related feature").
  - Reads the host's facts first (one C(vip_info) call) and writes once (one C(registry_state) call).
  - Refuses when no Citrix VDA is installed (even with O(force)), and on Windows 10/11 Enterprise
    multi-session and desktop editions (naming the edition).
  - Citrix cautions to use prefer-loopback only where both virtual IP and virtual loopback are
    enabled, or the results may not be the intended ones. When RD IP Virtualization (virtual IP) is not enabled on
    the host, the module fails quoting that caution and writes nothing, unless O(force=true) (then it warns).
options:
  state:
    description: C(enabled) writes both values; C(disabled) removes both (no checks are made).
    type: str
    default: enabled
    choices: [enabled, disabled]
  processes:
    description:
      - Processes for C(PreferLoopbackProcesses), written in the order given. Executable names
        (C(ctiagent.exe)) are recommended; full paths are accepted and kept. Wildcards, quotes,
        environment variables and relative paths are refused; entries differing only in case are merged.
      - Required and non-empty with O(state=enabled).
    type: list
    elements: str
    default: []
  force:
    description: Write even though RD IP Virtualization is not enabled (a warning quotes the Citrix caution).
    type: bool
    default: false
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    details: Returns the changed values as C(before)/C(after) in diff mode.
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - Whether virtual loopback (the Citrix policy) is enabled cannot be read on the VDA by this
    collection; pair this module with M(sessionnet.virtual_ip.citrix_loopback_policy) (the role
    C(sessionnet.virtual_ip.citrix_virtual_loopback) does both).
  - The value names come from the Japanese edition of the Citrix page; no other public source
    was found for them (see docs/citrix_virtual_loopback.md).
seealso:
  - module: sessionnet.virtual_ip.citrix_loopback_policy
  - module: sessionnet.virtual_ip.registry_state
  - module: sessionnet.virtual_ip.vip_info
"""

EXAMPLES = r"""
- name: Prefer the virtual loopback for the CTI agent
  sessionnet.virtual_ip.citrix_prefer_loopback:
    processes: [ctiagent.exe]

- name: Remove prefer-loopback
  sessionnet.virtual_ip.citrix_prefer_loopback:
    state: disabled
"""

RETURN = r"""
state:
  description: The requested state.
  returned: always
  type: str
processes:
  description: The process list as written (normalised); empty for O(state=disabled).
  returned: always
  type: list
  elements: str
value_results:
  description: Per value C(path), C(name), C(view), C(before), C(after), C(changed) (as M(sessionnet.virtual_ip.registry_state)).
  returned: always
  type: list
  elements: dict
key_results:
  description: Always empty (no key is removed).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Always false (Citrix documents no restart for these values).
  returned: always
  type: bool
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
"""
