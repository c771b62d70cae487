# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.rds_ip_virtualization (docs: plugins/modules/rds_ip_virtualization.py).

At most two round trips to the host: ``vip_info`` (facts, including WMI ``Win32_TSVirtualIP``; not
read again when the play's facts cache holds them),
then one ``registry_state`` (the whole change set: values, the Winsock catalog rename, the WMI
loopback setting). The decision is ``sessionnet_vip.windows.rds_ip_virtualization.plan``.
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.registry import ensure_registry, read_facts


class ActionModule(SessionnetAction):
    DOCS_MODULE = "rds_ip_virtualization"

    def execute(self, params, task_vars):
        decision = import_from_package("windows.rds_ip_virtualization")
        facts = read_facts(self, task_vars)
        plan = decision.plan(decision.RdsOptions.from_params(params), facts)
        result = ensure_registry(
            self,
            task_vars,
            plan.values,
            plan.keys_absent,
            keys_moved=plan.keys_moved,
            cim_properties=plan.cim_properties,
        )
        result.update(decision.plan_summary(plan))
        result["state"] = params["state"]
        result["mode"] = params["mode"] if params["state"] == "enabled" else None
        result["os"] = facts["os"]
        result["simulated"] = bool(result.get("simulated", facts.get("simulated")))
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        return result
