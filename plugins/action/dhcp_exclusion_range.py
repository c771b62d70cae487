# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.dhcp_exclusion_range (docs: plugins/modules/dhcp_exclusion_range.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "dhcp_exclusion_range"

    def execute(self, params, task_vars):
        dhcp = import_from_package("windows.dhcp")
        request = dhcp.exclusion_request(
            params["scope"],
            params["start"],
            params["end"],
            params["state"],
            params.get("replaces"),
            params["replicate_failover"],
        )
        raw = call_windows(self, "dhcp_exclusion_range", request.to_wire(), task_vars)
        result = dhcp.shape_exclusion_result(request, raw)
        result["simulated"] = bool(raw.get("simulated"))
        if not result["warnings"]:
            del result["warnings"]
        return result
