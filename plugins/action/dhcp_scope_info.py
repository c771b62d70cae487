# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.dhcp_scope_info (docs: plugins/modules/dhcp_scope_info.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def _host_name(action, task_vars):
    target = getattr(action._task, "delegate_to", None)
    return str(target or task_vars.get("inventory_hostname", "localhost"))


class ActionModule(SessionnetAction):
    DOCS_MODULE = "dhcp_scope_info"

    def execute(self, params, task_vars):
        dhcp = import_from_package("windows.dhcp")
        args = dhcp.scope_info_request(params["scope_ids"], params["include_leases"])
        raw = call_windows(self, "dhcp_scope_info", args, task_vars)
        return {
            "changed": False,
            "scopes": dhcp.shape_scopes(raw, _host_name(self, task_vars)),
            "simulated": bool(raw.get("simulated")),
        }
