# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.citrix_policy_state (docs: plugins/modules/citrix_policy_state.py).

Routes the validated arguments, unchanged, to the real module or the simulator (one round trip).
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "citrix_policy_state"

    def execute(self, params, task_vars):
        policy = import_from_package("windows.citrix_policy")
        raw = call_windows(self, "citrix_policy_state", params, task_vars)
        failure = policy.mount_failure(params, raw)
        if failure:
            return {"failed": True, "changed": False, "msg": "citrix_policy_state: %s" % failure}
        keys = ("changed", "before", "after", "setting_paths", "store", "simulated")
        return {key: raw.get(key) for key in keys}
