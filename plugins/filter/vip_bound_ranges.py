# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the virtual (SkipAsSource) ranges a host has bound in a subnet."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vip_bound_ranges
author: sessionnet developers
version_added: "0.1.0"
short_description: Virtual-IP ranges a host has bound in a subnet, from its vip_info adapters
description:
  - Takes the C(adapters) of M(sessionnet.virtual_ip.vip_info) and returns the addresses that carry
    C(SkipAsSource) in O(subnet), merged into ranges C({start, end, size}), the shape of the
    C(ranges) of a M(sessionnet.virtual_ip.vip_range_plan) plan entry.
  - The role R(sessionnet.virtual_ip.vip_ranges,ansible_collections.sessionnet.virtual_ip.vip_ranges_role)
    gives them to the planner as C(existing), so that a bound range is kept where it is.
extends_documentation_fragment:
  - sessionnet.virtual_ip.package
options:
  _input:
    description: The C(adapters) list of M(sessionnet.virtual_ip.vip_info).
    type: list
    elements: dict
    required: true
  subnet:
    description: The subnet, C(A.B.C.D/N).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Ranges bound on this host
  ansible.builtin.debug:
    msg: "{{ vip.adapters | sessionnet.virtual_ip.vip_bound_ranges('10.20.0.0/24') }}"
"""

RETURN = r"""
_value:
  description: The ranges, each C({start, end, size}), sorted.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.docspec import validate
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def vip_bound_ranges(adapters, subnet):
    """Return the SkipAsSource ranges of ``adapters`` inside ``subnet``."""
    params = validate(DOCUMENTATION, {"_input": adapters, "subnet": subnet}, AnsibleFilterError, "vip_bound_ranges")
    binding = import_from_package("windows.binding")
    try:
        return binding.bound_ranges(params["_input"], params["subnet"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("vip_bound_ranges: %s" % exc) from exc


class FilterModule:
    """sessionnet.virtual_ip binding filter."""

    def filters(self):
        return {"vip_bound_ranges": vip_bound_ranges}
