#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_range_plan.py (runs on the controller
# only) and the planner sessionnet_vip.planning.

DOCUMENTATION = r"""
module: vip_range_plan
short_description: Plan static virtual-IP ranges for session hosts, outside the DHCP pools
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Plans, on the Ansible controller and without contacting any host, one static range of
    addresses per session host (or a few, with O(allow_split)) for its sessions' virtual IP
    addresses, as the Citrix document "Make Virtual IP Addresses Available to Applications"
    asks; the addresses are outside every DHCP pool, never the network or broadcast
    address, never the gateway or reserved addresses, never another server's, and at least
    max_sessions x (100 + headroom) / 100 addresses per server, rounded up.
  - Planning is deterministic and keeps every valid O(existing) assignment exactly (a range
    too small for a raised O(servers[].max_sessions) grows in place when it can), so running it
    again with the same input gives the same plan.
  - With O(carve_from_scopes=true), when free space outside every DHCP scope's range is not
    enough, a range may be placed in a scope's range on addresses that are neither leased,
    excluded nor reserved; RV(exclusions) then lists the exclusion ranges to add to the scope
    (with M(sessionnet.virtual_ip.dhcp_exclusion_range)) before binding the addresses.
  - The same planner runs with C(vipctl plan FILE.yml) (C(--json) prints this module's result,
    C(--svg DIR) writes the maps).
  - Runs on the controller only; it never connects to the target host. Check mode plans the same;
    only O(svg_dir) writes anything.
options:
  subnets:
    description: The subnets session hosts have a network adapter in.
    type: list
    elements: dict
    required: true
    suboptions:
      cidr:
        description: The subnet as C(A.B.C.D/N); /31 and /32 are refused.
        type: str
        required: true
      gateway:
        description: The default gateway, never planned.
        type: str
      reserved:
        description:
          - Addresses no server may get (switches, servers' own addresses, cluster addresses),
            each an address, a range C(A.B.C.D-E.F.G.H), a network C(A.B.C.D/N) or a mapping
            C({start, end}).
        type: list
        elements: raw
        default: []
  dhcp_scopes:
    description:
      - The DHCP scopes of these subnets. RV(sessionnet.virtual_ip.dhcp_scope_info#module:scopes)
        can be given as it is (its other keys are accepted and ignored).
    type: list
    elements: dict
    default: []
    suboptions:
      scope:
        description: Scope ID, such as C(10.20.0.0).
        type: str
        required: true
      start:
        description: First address of the scope's range.
        type: str
        required: true
      end:
        description: Last address of the scope's range.
        type: str
        required: true
      exclusions:
        description: Exclusion ranges of the scope, each C({start, end}); they must lie inside the range.
        type: list
        elements: raw
        default: []
      reservations:
        description: Reserved addresses of the scope.
        type: list
        elements: raw
        default: []
      leases:
        description: Leased addresses; never carved.
        type: list
        elements: raw
        default: []
      name:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: str
      subnet:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: str
      subnet_mask:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: str
      state:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: str
      reservation_details:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: list
        elements: raw
      dhcp_server:
        description: Ignored (reported by M(sessionnet.virtual_ip.dhcp_scope_info)).
        type: str
  servers:
    description: The session hosts to plan for.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Server name (unique).
        type: str
        required: true
      subnet:
        description: CIDR of one of O(subnets).
        type: str
        required: true
      max_sessions:
        description: Maximum concurrent sessions of the server; a positive integer.
        type: raw
        required: true
      headroom:
        description: Extra addresses, in percent of O(servers[].max_sessions).
        type: raw
        default: 0
  existing:
    description:
      - Current assignments, shaped like RV(plan) (C(size) is checked when given). Valid ones are
        kept; invalid ones are reported in RV(invalid) and left in place unless O(replan_invalid).
    type: list
    elements: dict
    default: []
    suboptions:
      server:
        description: Server name.
        type: str
        required: true
      subnet:
        description: Subnet CIDR.
        type: str
        required: true
      ranges:
        description: The server's ranges, each C({start, end, size}).
        type: list
        elements: dict
        required: true
  carve_from_scopes:
    description: Allow ranges inside DHCP scope ranges (on free addresses) when the space outside is not enough.
    type: bool
    default: false
  replan_invalid:
    description: Plan a new range for a server whose existing assignment is invalid, instead of failing it.
    type: bool
    default: false
  allow_split:
    description:
      - C(false) gives each server one contiguous range; C(true) up to 4 ranges; an integer up to
        that many ranges.
    type: raw
    default: false
  svg_dir:
    description:
      - "A directory on the controller to write an SVG map of each subnet to, named C(<subnet>_<prefix>.svg)
        (DHCP pool, exclusions, reservations, each server's range and free space, labelled)."
      - Files are written only when their content differs; the result is C(changed=true) only then
        (in check mode, when they would differ).
    type: path
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.package
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
  check_mode:
    support: full
    details: Planning is the same in check mode; SVG files are not written.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
    details: Runs on the controller; the target host is never contacted.
notes:
  - A plan says where the ranges go; M(sessionnet.virtual_ip.dhcp_exclusion_range) reserves carved
    ranges and M(sessionnet.virtual_ip.vip_address_binding) binds them; the role
    R(sessionnet.virtual_ip.vip_ranges,ansible_collections.sessionnet.virtual_ip.vip_ranges_role)
    does all three.
  - Errors name the input (for example C(server rdsh02 max_sessions)) and, when the servers do not fit,
    the subnet, the shortfall and what would fix it (RV(failures)).
seealso:
  - module: sessionnet.virtual_ip.dhcp_scope_info
  - module: sessionnet.virtual_ip.dhcp_exclusion_range
  - module: sessionnet.virtual_ip.vip_address_binding
"""

EXAMPLES = r"""
- name: Plan the farm's ranges on the controller
  sessionnet.virtual_ip.vip_range_plan:
    subnets:
      - cidr: 10.20.0.0/24
        gateway: 10.20.0.1
        reserved: [10.20.0.2-10.20.0.9]
    dhcp_scopes: "{{ scope_info.scopes }}"
    servers:
      - {name: rdsh01, subnet: 10.20.0.0/24, max_sessions: 20, headroom: 10}
      - {name: rdsh02, subnet: 10.20.0.0/24, max_sessions: 30}
    svg_dir: "{{ playbook_dir }}/plan"
  run_once: true
  delegate_to: localhost
  register: vip_plan
"""

RETURN = r"""
plan:
  description: One entry per server, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    server: {description: Server name., type: str}
    subnet: {description: Subnet CIDR., type: str}
    ranges: {description: "The server's ranges, each C({start, end, size}).", type: list, elements: dict}
  sample: [{server: rdsh01, subnet: 10.20.0.0/24, ranges: [{start: 10.20.0.200, end: 10.20.0.221, size: 22}]}]
exclusions:
  description: Exclusion ranges to add to DHCP scopes before the addresses are bound, each C({scope, start, end}).
  returned: success
  type: list
  elements: dict
  sample: [{scope: 10.20.0.0, start: 10.20.0.110, end: 10.20.0.139}]
invalid:
  description: Existing assignments that are no longer valid, each C({server, reason}).
  returned: success
  type: list
  elements: dict
warnings:
  description: Planner warnings (also shown as task warnings).
  returned: success
  type: list
  elements: str
svg_files:
  description: The SVG files of O(svg_dir) (written or already up to date).
  returned: when O(svg_dir) is given
  type: list
  elements: str
failures:
  description: When the servers do not fit, one entry per subnet with the shortfall and the fixes.
  returned: failure
  type: list
  elements: dict
"""
