# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_address_state (docs: plugins/modules/vip_address_state.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_address_state"

    def execute(self, params, task_vars):
        binding = import_from_package("windows.binding")
        args = binding.address_state_request(params)
        raw = call_windows(self, "vip_address_state", args, task_vars)
        result = {
            key: raw.get(key)
            for key in ("interface_alias", "before", "after", "added", "updated", "removed", "progress")
        }
        result["added"] = binding.bound_added(raw)
        result["duplicates"] = binding.duplicates_after(raw)
        result["changed"] = bool(raw.get("changed"))
        result["simulated"] = bool(raw.get("simulated"))
        result["diff"] = {
            "before": {
                "adapter": raw.get("interface_alias"),
                "addresses": binding.describe(raw.get("before") or []),
            },
            "after": {
                "adapter": raw.get("interface_alias"),
                "addresses": binding.describe(raw.get("after") or []),
            },
        }
        failure = binding.duplicate_failure(raw, raw.get("interface_alias"))
        if failure:
            result.update(failed=True, msg="vip_address_state: %s" % failure)
        return result
