# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_info (docs: plugins/modules/vip_info.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.registry import read_facts


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_info"

    def execute(self, params, task_vars):
        result = read_facts(self, task_vars, params["registry_keys"])
        result["changed"] = False
        return result
