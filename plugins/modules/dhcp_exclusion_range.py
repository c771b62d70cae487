#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/dhcp_exclusion_range.py (validation, messages)
# and plugins/modules/dhcp_exclusion_range.ps1 (compares and sets on the Windows DHCP server).

DOCUMENTATION = r"""
module: dhcp_exclusion_range
short_description: Ensure an exclusion range of a Windows DHCP scope is present or absent, or change one
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Ensures that the IPv4 exclusion range O(start)-O(end) exists (O(state=present)) or does not
    exist (O(state=absent)) in the scope O(scope) of the Windows DHCP server the task runs on, in
    one round trip that reads the scope and its exclusions, changes what differs and reports the
    exclusions before and after.
  - B(Changing) an existing range (growing it for a server whose range grew, for example) is done
    with O(replaces) naming the old range; the old one is removed and the new one added in the same
    call (if adding fails the old range is put back). DhcpServerDsc's exclusion resource cannot
    change a range (its issue 70).
  - Refused, with nothing changed, when the scope does not exist, when the range is not inside the
    scope's start-end range, or when it overlaps an existing exclusion not named in O(replaces)
    (an overlapping range is never shrunk or merged silently, as it may hold other static devices).
  - A range is removed only by its exact start and end; C(Remove-DhcpServerv4ExclusionRange)
    without them would remove every exclusion of the scope, so the Windows side always passes both.
  - Warns when reserved addresses lie in the range (a reservation in an exclusion range is still leased).
  - A simulated host needs C(dhcp_server) in its C(sessionnet_simulated_windows_features).
options:
  scope:
    description: Scope ID, such as C(10.20.0.0).
    type: str
    required: true
    aliases: [scope_id]
  start:
    description: First address of the exclusion range.
    type: str
    required: true
  end:
    description: Last address of the exclusion range (may equal O(start)).
    type: str
    required: true
  state:
    description: Whether the range must exist or not.
    type: str
    default: present
    choices: [present, absent]
  replaces:
    description:
      - The existing exclusion range that O(start)-O(end) replaces (only with O(state=present)).
        When it does not exist the new range is simply added (with a warning), so the task stays
        idempotent after the change.
    type: dict
    suboptions:
      start:
        description: First address of the old range.
        type: str
        required: true
      end:
        description: Last address of the old range.
        type: str
        required: true
  replicate_failover:
    description:
      - When the scope is in a DHCP failover relationship (C(Get-DhcpServerv4Failover -ScopeId))
        and this task changed its exclusions, replicate the scope to the partner server in the same
        call (C(Invoke-DhcpServerv4FailoverReplication -ScopeId -Force)), so that the partner does
        not lease the excluded addresses. A failed replication fails the task naming the partner
        (the local change stays).
      - C(false) leaves the partner alone and warns, naming the relationship and the partner.
    type: bool
    default: true
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The scope's exclusion ranges before and after.
  platform:
    support: full
    platforms: windows
notes:
  - Needs the DHCP Server role on the host.
  - Only a scope that does not exist is reported as missing. Any other error of
    C(Get-DhcpServerv4Scope) (DHCP Server service stopped, missing rights, RPC unavailable) fails
    the task with Windows' message and changes nothing.
seealso:
  - module: sessionnet.virtual_ip.dhcp_scope_info
  - module: sessionnet.virtual_ip.vip_range_plan
"""

EXAMPLES = r"""
- name: Keep a session host's range out of the DHCP pool
  sessionnet.virtual_ip.dhcp_exclusion_range:
    scope: 10.20.0.0
    start: 10.20.0.110
    end: 10.20.0.139

- name: Grow it (change the existing range)
  sessionnet.virtual_ip.dhcp_exclusion_range:
    scope: 10.20.0.0
    start: 10.20.0.110
    end: 10.20.0.144
    replaces:
      start: 10.20.0.110
      end: 10.20.0.139

- name: Give the addresses back to the pool
  sessionnet.virtual_ip.dhcp_exclusion_range:
    scope: 10.20.0.0
    start: 10.20.0.110
    end: 10.20.0.144
    state: absent
"""

RETURN = r"""
scope:
  description: The scope with its range, C({scope, start, end}).
  returned: success
  type: dict
  sample: {scope: 10.20.0.0, start: 10.20.0.100, end: 10.20.0.199}
exclusions:
  description: The scope's exclusion ranges after the task (in check mode, as they would be), each C({start, end}).
  returned: success
  type: list
  elements: dict
failover:
  description:
    - The scope's failover relationship C({name, partner_server, mode, state}), or null when it
      has none.
  returned: success
  type: dict
replicated:
  description: Whether the scope was replicated to the failover partner by this task.
  returned: success
  type: bool
simulated:
  description: True when a simulated host answered.
  returned: always
  type: bool
"""
