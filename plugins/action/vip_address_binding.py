# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_address_binding (docs: plugins/modules/vip_address_binding.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.registry import read_facts


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_address_binding"

    def execute(self, params, task_vars):
        binding = import_from_package("windows.binding")
        facts = read_facts(self, task_vars)
        plan = binding.plan_binding(
            facts["adapters"], params["ranges"], params["state"], params.get("adapter")
        )
        before = [dict(ip) for ip in plan_adapter(facts, plan.adapter.index)]
        after = before
        raw = {"changed": False, "simulated": facts.get("simulated")}
        if plan.changes:
            raw = call_windows(self, "vip_address_state", plan.to_wire(), task_vars)
            before = raw.get("before") or before
            after = raw.get("after") or before
        result = {
            "changed": bool(raw.get("changed")),
            "adapter": {"name": plan.adapter.name, "index": plan.adapter.index},
            "subnet": str(plan.network),
            "addresses": sum(s.size for s in plan.ranges),
            "added": binding.compress_texts(binding.bound_added(raw)),
            "duplicates": binding.duplicates_after(raw),
            "updated": binding.compress_texts(raw.get("updated") or []),
            "removed": binding.compress_texts(raw.get("removed") or []),
            "simulated": bool(raw.get("simulated")),
            "diff": {
                "before": {"adapter": plan.adapter.name, "addresses": binding.describe(before)},
                "after": {"adapter": plan.adapter.name, "addresses": binding.describe(after)},
            },
        }
        if plan.warnings:
            result["warnings"] = list(plan.warnings)
        failure = binding.duplicate_failure(raw, plan.adapter.name)
        if failure:
            result.update(failed=True, msg="vip_address_binding: %s" % failure)
        return result


def plan_adapter(facts, index):
    for adapter in facts.get("adapters") or []:
        if adapter.get("index") == index:
            return adapter.get("ipv4") or []
    return []
