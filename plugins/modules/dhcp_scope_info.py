#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/dhcp_scope_info.py (shaping) and
# plugins/modules/dhcp_scope_info.ps1 (reads the Windows DHCP server).

DOCUMENTATION = r"""
module: dhcp_scope_info
short_description: Read the IPv4 scopes of a Windows DHCP server, with exclusions and reservations
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Reads, in one round trip and without changing anything, the IPv4 scopes of the Windows DHCP
    server the task runs on (C(Get-DhcpServerv4Scope)) with their range, subnet mask and state,
    their exclusion ranges (C(Get-DhcpServerv4ExclusionRange)), their reservations
    (C(Get-DhcpServerv4Reservation)) and, with O(include_leases), their active leases
    (C(Get-DhcpServerv4Lease)).
  - RV(scopes) can be passed as it is to the O(sessionnet.virtual_ip.vip_range_plan#module:dhcp_scopes)
    option of M(sessionnet.virtual_ip.vip_range_plan).
  - A simulated host needs C(dhcp_server) in its C(sessionnet_simulated_windows_features).
options:
  scope_ids:
    description: Scope IDs to read (such as C(10.20.0.0)); all scopes when empty. A missing scope fails the task.
    type: list
    elements: str
    default: []
  include_leases:
    description: Also read the active leases of each scope (RV(scopes[].leases)); off by default, as large scopes have many.
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
    support: none
  platform:
    support: full
    platforms: windows
notes:
  - Needs the DHCP Server role (its DhcpServer PowerShell module) on the host; the task fails saying so otherwise.
seealso:
  - module: sessionnet.virtual_ip.dhcp_exclusion_range
  - module: sessionnet.virtual_ip.vip_range_plan
"""

EXAMPLES = r"""
- name: Read the scopes of the DHCP server
  sessionnet.virtual_ip.dhcp_scope_info:
    include_leases: true
  register: scope_info

- name: Show the ranges
  ansible.builtin.debug:
    msg: "{{ scope_info.scopes | map(attribute='start') | zip(scope_info.scopes | map(attribute='end')) | list }}"
"""

RETURN = r"""
scopes:
  description: The scopes, sorted by scope ID.
  returned: always
  type: list
  elements: dict
  contains:
    scope: {description: Scope ID., type: str, sample: 10.20.0.0}
    name: {description: Scope name., type: str}
    subnet_mask: {description: Subnet mask., type: str, sample: 255.255.255.0}
    subnet: {description: The scope's subnet as CIDR., type: str, sample: 10.20.0.0/24}
    start: {description: First address of the scope's range., type: str}
    end: {description: Last address of the scope's range., type: str}
    state: {description: C(active) or C(inactive)., type: str}
    exclusions: {description: "Exclusion ranges, each C({start, end}), sorted.", type: list, elements: dict}
    reservations: {description: "Reserved addresses, sorted.", type: list, elements: str}
    reservation_details: {description: "Reservations with C(ip_address), C(client_id), C(name), C(type).", type: list, elements: dict}
    leases: {description: Active leased addresses (empty unless O(include_leases))., type: list, elements: str}
    dhcp_server: {description: Inventory name of the host that was read., type: str}
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
"""
