# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.citrix_prefer_loopback (docs: plugins/modules/citrix_prefer_loopback.py).

Reads facts once (vip_info; skipped for ``state: disabled``, which needs none), decides with
sessionnet_vip.windows.prefer_loopback, writes once (registry_state, 32-bit view).
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.registry import ensure_registry, read_facts


class ActionModule(SessionnetAction):
    DOCS_MODULE = "citrix_prefer_loopback"

    def execute(self, params, task_vars):
        prefer = import_from_package("windows.prefer_loopback")
        # state: disabled only removes the two values: no facts are needed, so no vip_info round trip.
        facts = read_facts(self, task_vars) if params["state"] != "disabled" else {}
        plan = prefer.build_prefer_loopback(params, facts)
        result = ensure_registry(self, task_vars, plan.values)
        result["state"] = params["state"]
        result["processes"] = plan.processes
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        return result
