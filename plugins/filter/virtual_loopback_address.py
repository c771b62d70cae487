# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the virtual loopback address of a session ID."""

from __future__ import annotations

DOCUMENTATION = r"""
name: virtual_loopback_address
author: sessionnet developers
version_added: "0.1.0"
short_description: Virtual loopback address (127.X.X.X) of a session ID
description:
  - Returns the virtual loopback address that the Citrix virtual loopback feature (and the
    C(sessionnet.virtual_ip) agent) gives to the session with the given ID.
  - The rule is C(127.X.X.X) where C(X.X.X) is the session ID plus one, written as a 24-bit
    number that carries into the next octet. Session C(7) gets C(127.0.0.8), session C(255) gets
    C(127.0.1.0); the highest address is C(127.255.255.254), for session C(16777213).
  - The formula's two ends are refused with the reason, in the filters, C(vipctl) and the
    engine alike - session C(0) would get C(127.0.0.1), the host's own loopback shared by every
    session, and session C(16777214) would get C(127.255.255.255), the broadcast address of
    C(127.0.0.0/8), which clients cannot connect to.
  - Negative, non-integer and too large session IDs fail with an error naming the value and
    the allowed range.
  - The logic lives in the Python package C(sessionnet-vip) (C(sessionnet_vip.addressing)),
    which must be installed on the controller in the version of the collection.
extends_documentation_fragment:
  - sessionnet.virtual_ip.package
options:
  _input:
    description: Session ID, an integer from C(1) to C(16777213) (an integer string is accepted).
    type: raw
    required: true
seealso:
  - plugin: sessionnet.virtual_ip.virtual_loopback_session
    plugin_type: filter
notes:
  - Source of the rule is the Citrix documentation of virtual IP and virtual loopback
    ("Virtual IP and virtual loopback", Citrix Virtual Apps and Desktops policy settings).
"""

EXAMPLES = r"""
- name: Address of session 7
  ansible.builtin.debug:
    msg: "{{ 7 | sessionnet.virtual_ip.virtual_loopback_address }}"
  # => 127.0.0.8

- name: Table of the first sessions
  ansible.builtin.debug:
    msg: "{{ item }} -> {{ item | sessionnet.virtual_ip.virtual_loopback_address }}"
  loop: "{{ range(0, 4) | list + [255, 256] }}"
"""

RETURN = r"""
_value:
  description: The virtual loopback address, as a dotted string.
  type: str
  sample: 127.0.0.8
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.docspec import validate
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def virtual_loopback_address(session_id):
    """Return the virtual loopback address of ``session_id``."""
    params = validate(DOCUMENTATION, {"_input": session_id}, AnsibleFilterError, "virtual_loopback_address")
    addressing = import_from_package("addressing")
    try:
        return str(addressing.virtual_loopback_address(params["_input"]))
    except ValueError as exc:
        raise AnsibleFilterError("virtual_loopback_address: %s" % exc) from exc


class FilterModule:
    """sessionnet.virtual_ip loopback filter."""

    def filters(self):
        return {"virtual_loopback_address": virtual_loopback_address}
