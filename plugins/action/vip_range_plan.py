# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_range_plan (docs: plugins/modules/vip_range_plan.py).

Controller only: no connection to the target host is made (``_requires_connection = False``).
"""

from __future__ import annotations

import os

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_range_plan"
    _requires_connection = False

    def execute(self, params, task_vars):
        planning = import_from_package("planning")
        request_data = {name: params.get(name) for name in planning.PLAN_OPTION_NAMES}
        try:
            plan = planning.make_plan(planning.build_request(request_data))
        except planning.PlanError as exc:
            return {
                "failed": True,
                "changed": False,
                "msg": "vip_range_plan: %s" % exc,
                "failures": exc.failures,
            }
        result = plan.to_dict()
        result["changed"] = False
        if params.get("svg_dir"):
            svg = import_from_package("plan_svg")
            directory = params["svg_dir"]
            files = []
            for name, text in sorted(svg.render_plan(plan).items()):
                path = os.path.join(directory, name)
                files.append(path)
                try:
                    with open(path, encoding="utf-8") as handle:
                        same = handle.read() == text
                except OSError:
                    same = False
                if same:
                    continue
                result["changed"] = True
                if not self._task.check_mode:
                    os.makedirs(directory, exist_ok=True)
                    tmp = path + ".tmp"
                    with open(tmp, "w", encoding="utf-8") as handle:
                        handle.write(text)
                    os.replace(tmp, path)
            result["svg_files"] = files
        return result
