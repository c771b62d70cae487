#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_address_state.py and
# plugins/modules/vip_address_state.ps1 (the generic hand that runs on Windows).

DOCUMENTATION = r"""
module: vip_address_state
short_description: Add or remove given IPv4 addresses on one network adapter (SkipAsSource), in one call
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - The low-level hand of M(sessionnet.virtual_ip.vip_address_binding), usable on its own. On the
    adapter with interface index O(interface_index), ensures each address of O(present) exists
    with prefix length O(prefix_length) and C(SkipAsSource) = O(skip_as_source), and each address
    of O(absent) does not exist, in one round trip however many addresses are given.
  - It decides nothing (which adapter, which addresses); prefer
    M(sessionnet.virtual_ip.vip_address_binding), which does.
  - C(SkipAsSource=true) means the address is not used as a source for outgoing traffic and is not
    registered in DNS, so the adapter's primary address stays the source.
options:
  interface_index:
    description: Interface index of the adapter (C(InterfaceIndex) of C(Get-NetIPAddress)).
    type: int
    required: true
  prefix_length:
    description: Prefix length given to added addresses.
    type: int
    required: true
  present:
    description: IPv4 addresses that must exist on the adapter.
    type: list
    elements: str
    default: []
  absent:
    description: IPv4 addresses that must not exist on the adapter.
    type: list
    elements: str
    default: []
  skip_as_source:
    description: C(SkipAsSource) of the addresses of O(present).
    type: bool
    default: true
  dad_wait_seconds:
    description:
      - After adding, how many seconds to wait (at most) for duplicate address detection to finish,
        that is until no added address is C(Tentative), before the addresses are read back.
      - An added address Windows marks C(Duplicate) (another machine holds it) fails the task naming
        it and is left out of RV(added). C(0) reads at once.
    type: int
    default: 5
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
  - Uses C(New-NetIPAddress), C(Set-NetIPAddress) and C(Remove-NetIPAddress) (module NetTCPIP).
  - On a failure part-way, the task fails naming the address; the addresses done so far are in
    RV(added)/RV(updated)/RV(removed), and running it again continues (it is idempotent).
  - An adapter without any IPv4 address is read as having none (C(Get-NetIPAddress) reports
    C(ObjectNotFound) there).
  - Windows cannot add static addresses to an interface with DHCP enabled; C(New-NetIPAddress)
    fails there ("Inconsistent parameters PolicyStore PersistentStore and Dhcp Enabled") and so
    does this module. M(sessionnet.virtual_ip.vip_address_binding) refuses such an adapter before
    any write.
seealso:
  - module: sessionnet.virtual_ip.vip_address_binding
"""

EXAMPLES = r"""
- name: Add two virtual addresses to interface 12
  sessionnet.virtual_ip.vip_address_state:
    interface_index: 12
    prefix_length: 24
    present: [10.20.0.200, 10.20.0.201]
"""

RETURN = r"""
interface_alias:
  description: Name of the adapter.
  returned: success
  type: str
before:
  description:
    - The adapter's IPv4 addresses before, each C({address, prefix_length, skip_as_source,
      prefix_origin, address_state}) (C(PrefixOrigin) and C(AddressState) of C(Get-NetIPAddress)).
  returned: success
  type: list
  elements: dict
after:
  description: The adapter's IPv4 addresses after (in check mode, as they would be).
  returned: success
  type: list
  elements: dict
added:
  description: Addresses added.
  returned: success
  type: list
  elements: str
updated:
  description: Existing addresses whose C(SkipAsSource) was set.
  returned: success
  type: list
  elements: str
removed:
  description: Addresses removed.
  returned: success
  type: list
  elements: str
duplicates:
  description: Added addresses Windows marked C(Duplicate); not in RV(added), and the task fails naming them.
  returned: success
  type: list
  elements: str
progress:
  description: C(total) addresses asked for and C(done).
  returned: always
  type: dict
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
"""
