# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.citrix_loopback_policy (docs: plugins/modules/citrix_loopback_policy.py).

Decides with sessionnet_vip.windows.citrix_policy, calls citrix_policy_state once on the
controller host (the task's host or its delegate_to), shapes the result.
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "citrix_loopback_policy"

    def execute(self, params, task_vars):
        policy = import_from_package("windows.citrix_policy")
        plan = policy.build_policy(params)
        raw = call_windows(self, "citrix_policy_state", plan.module_args, task_vars)
        result = policy.shape_policy_result(plan, raw, check_mode=bool(self._task.check_mode))
        if not result["warnings"]:
            del result["warnings"]
        return result
