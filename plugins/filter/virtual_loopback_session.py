# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the session ID that owns a virtual loopback address."""

from __future__ import annotations

DOCUMENTATION = r"""
name: virtual_loopback_session
author: sessionnet developers
version_added: "0.1.0"
short_description: Session ID that owns a virtual loopback address
description:
  - The inverse of P(sessionnet.virtual_ip.virtual_loopback_address#filter). Returns the
    session ID whose virtual loopback address is the input, for example C(255) for
    C(127.0.1.0).
  - Addresses outside the scheme fail with an error naming the value and the allowed range,
    for example C(127.0.0.0) (no session maps there) or C(10.0.0.1) (not in 127.0.0.0/8).
extends_documentation_fragment:
  - sessionnet.virtual_ip.package
options:
  _input:
    description:
      - An IPv4 address from C(127.0.0.2) to C(127.255.255.254).
      - C(127.0.0.1) and C(127.255.255.255) are refused with the reason (no session owns them).
    type: str
    required: true
seealso:
  - plugin: sessionnet.virtual_ip.virtual_loopback_address
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Which session owns 127.0.1.0?
  ansible.builtin.debug:
    msg: "{{ '127.0.1.0' | sessionnet.virtual_ip.virtual_loopback_session }}"
  # => 255
"""

RETURN = r"""
_value:
  description: The session ID.
  type: int
  sample: 255
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.docspec import validate
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def virtual_loopback_session(address):
    """Return the session ID of the virtual loopback ``address``."""
    params = validate(DOCUMENTATION, {"_input": address}, AnsibleFilterError, "virtual_loopback_session")
    addressing = import_from_package("addressing")
    try:
        return addressing.virtual_loopback_session(params["_input"])
    except ValueError as exc:
        raise AnsibleFilterError("virtual_loopback_session: %s" % exc) from exc


class FilterModule:
    """sessionnet.virtual_ip loopback filter."""

    def filters(self):
        return {"virtual_loopback_session": virtual_loopback_session}
