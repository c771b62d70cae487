#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/vip_drift_report.py (controller only) and
# sessionnet_vip.fleet.report.

DOCUMENTATION = r"""
module: vip_drift_report
short_description: Write the drift report (report.html, report.md) of a fleet audit
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Turns what C(sessionnet.virtual_ip.audit) recorded per host and feature into a report - counts
    on top (hosts in sync, drifted, failed, unreachable), one row per host and feature with its
    state, and under each drifted feature one line per value with its name and before -> after as
    the module's diff gives them; failed and unreachable hosts are listed; then the virtual-IP usage
    per server and the application audit.
  - Writes C(report.html) (one self-contained file - inline CSS, no script, no external asset) and
    C(report.md) into O(dest). Runs on the controller only. Used by the C(audit) playbook; it
    changes nothing on the hosts and reports C(changed=false).
options:
  records:
    description:
      - One per host and feature - C(host), C(feature), C(status) (C(ok), C(failed), C(unreachable)),
        C(msg), C(results) (the feature's module results with C(changed) and C(diff)), and optionally
        C(drift) (a list of C(name), C(before), C(after) stated by the playbook).
    type: list
    elements: dict
    required: true
  targets:
    description:
      - Feature -> the hosts its play targeted. A targeted host without a record for that feature
        (dropped by Ansible as unreachable in the middle of the play) is reported C(unreachable).
    type: dict
    default: {}
  usage:
    description: Host -> C(agent) (bool), C(status) (the agent's C(vipctl status --json)) or C(msg).
    type: dict
    default: {}
  applications:
    description: Host -> the result of M(sessionnet.virtual_ip.vip_app_audit) on it.
    type: dict
    default: {}
  dest:
    description: Directory the two files are written to (created when missing).
    type: path
    required: true
  title:
    description: Title of the report.
    type: str
    default: sessionnet.virtual_ip drift report
  write_in_check_mode:
    description: Write the files even when the task runs in check mode (the audit playbook does).
    type: bool
    default: true
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    details: Computes the same report; writes it unless O(write_in_check_mode=false).
    support: full
  diff_mode:
    details: Reports no diff.
    support: none
  platform:
    details: Runs on the controller.
    support: full
    platforms: all
"""

EXAMPLES = r"""
- name: Write the report
  sessionnet.virtual_ip.vip_drift_report:
    records: "{{ records }}"
    dest: /var/tmp/vip-report
  delegate_to: localhost
  run_once: true
  register: report
"""

RETURN = r"""
counts:
  description: Hosts per state (C(in sync), C(drifted), C(failed), C(unreachable)); a host counts once, by its worst feature.
  returned: always
  type: dict
drift_found:
  description: Whether at least one host drifted.
  returned: always
  type: bool
hosts:
  description: Host -> its state.
  returned: always
  type: dict
rows:
  description: One per host and feature - host, feature, state, message, values (name, before, after).
  returned: always
  type: list
  elements: dict
failed_hosts:
  description: Hosts whose worst state is C(failed).
  returned: always
  type: list
  elements: str
unreachable_hosts:
  description: Hosts that were unreachable.
  returned: always
  type: list
  elements: str
usage:
  description: Per server - pool, pool_size, in_use, held, free, exhausted_events, data_plane, or C(agent=false) and why.
  returned: always
  type: list
  elements: dict
applications:
  description: One per program across hosts - exe, hosts, ports, recommendation, needs, candidate, reasons.
  returned: always
  type: list
  elements: dict
files:
  description: C(report.html) and C(report.md) -> their paths (empty when nothing was written).
  returned: always
  type: dict
"""
