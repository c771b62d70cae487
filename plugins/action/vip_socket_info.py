# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_socket_info (docs: plugins/modules/vip_socket_info.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_socket_info"

    def execute(self, params, task_vars):
        raw = call_windows(self, "vip_socket_info", {"protocols": params["protocols"]}, task_vars)
        return {
            "changed": False,
            "platform": raw.get("platform", "windows"),
            "sockets": list(raw.get("sockets") or []),
            "ephemeral_ports": list(raw.get("ephemeral_ports") or []),
            "simulated": bool(raw.get("simulated")),
            "warnings": list(raw.get("warnings") or []),
        }
