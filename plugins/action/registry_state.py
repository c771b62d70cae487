# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.registry_state (docs: plugins/modules/registry_state.py)."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.registry import ensure_registry


class ActionModule(SessionnetAction):
    DOCS_MODULE = "registry_state"

    def execute(self, params, task_vars):
        return ensure_registry(
            self,
            task_vars,
            params["values"],
            params["keys_absent"],
            params["allowed_hives"],
            keys_moved=params["keys_moved"],
            cim_properties=params["cim_properties"],
        )
