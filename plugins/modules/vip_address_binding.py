#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_address_binding.py, decisions in
# sessionnet_vip.windows.binding, Windows side vip_info.ps1 (read) + vip_address_state.ps1 (write).

DOCUMENTATION = r"""
module: vip_address_binding
short_description: Bind a session host's virtual-IP range to the adapter in its subnet (SkipAsSource)
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Ensures every address of O(ranges) is bound (O(state=present)) to the one network adapter
    whose subnet holds the ranges, with C(SkipAsSource=true) so that the adapter's primary address
    stays the source of outgoing traffic and the only one registered in DNS; or that the range's
    virtual addresses are removed (O(state=absent)).
  - Citrix XenApp 6.5 "Make Virtual IP Addresses Available to Applications" says the server binds
    the assigned addresses "to the NIC that matches the same subnet as the virtual addresses".
  - Reads the host's adapters once (as M(sessionnet.virtual_ip.vip_info)) and decides on the
    controller; then changes only what differs, in one call for the whole range (a range of 500
    addresses is one call).
  - Refused, with nothing changed, when no adapter or more than one adapter has an address in a
    subnet holding the ranges (O(adapter) picks one), when the ranges hold the subnet's network or
    broadcast address, an address of another adapter, or the adapter's own (source) address.
options:
  ranges:
    description:
      - The ranges, each C({start, end}) (C(size), when given, is checked) - the C(ranges) of a
        RV(sessionnet.virtual_ip.vip_range_plan#module:plan) entry fit as they are.
    type: list
    elements: dict
    required: true
    suboptions:
      start:
        description: First address.
        type: str
        required: true
      end:
        description: Last address.
        type: str
        required: true
      size:
        description: Number of addresses (checked when given).
        type: int
  state:
    description: Whether the addresses must be bound or not.
    type: str
    default: present
    choices: [present, absent]
  adapter:
    description: Name of the adapter to use, when several are in the subnet.
    type: str
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The adapter's addresses before and after, source addresses and compressed virtual ranges.
  platform:
    support: full
    platforms: windows
notes:
  - With O(state=absent) only addresses that carry C(SkipAsSource) are removed; a source address
    inside the range is left (with a warning).
  - At most 4096 addresses per task.
seealso:
  - module: sessionnet.virtual_ip.vip_range_plan
  - module: sessionnet.virtual_ip.vip_address_state
"""

EXAMPLES = r"""
- name: Bind this server's planned range
  sessionnet.virtual_ip.vip_address_binding:
    ranges: "{{ (vip_plan.plan | selectattr('server', 'equalto', inventory_hostname) | first).ranges }}"

- name: Remove it
  sessionnet.virtual_ip.vip_address_binding:
    ranges: [{start: 10.20.0.200, end: 10.20.0.221}]
    state: absent
"""

RETURN = r"""
adapter:
  description: The adapter, C({name, index}).
  returned: success
  type: dict
subnet:
  description: The subnet the ranges are bound in.
  returned: success
  type: str
  sample: 10.20.0.0/24
addresses:
  description: Number of addresses in O(ranges).
  returned: success
  type: int
added:
  description: Addresses added, compressed into ranges (C(A-B)).
  returned: success
  type: list
  elements: str
updated:
  description: Addresses whose C(SkipAsSource) was set, compressed.
  returned: success
  type: list
  elements: str
removed:
  description: Addresses removed, compressed.
  returned: success
  type: list
  elements: str
duplicates:
  description:
    - Added addresses that Windows marked C(Duplicate) (another machine holds them); they are not
      in RV(added) and the task fails naming them.
  returned: success
  type: list
  elements: str
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
"""
