# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_drift_report (docs: plugins/modules/vip_drift_report.py).

Controller only: builds the report with ``sessionnet_vip.fleet.report`` and writes its two files.
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_drift_report"
    _requires_connection = False

    def execute(self, params, task_vars):
        report = import_from_package("fleet.report")
        data = report.build_report(
            params["records"], params["usage"], params["applications"], params["title"], targets=params["targets"]
        )
        files = {}
        if not self._task.check_mode or params["write_in_check_mode"]:
            files = report.write_report(data, params["dest"])
        return {
            "changed": False,
            "counts": data["counts"],
            "drift_found": data["drift_found"],
            "hosts": data["hosts"],
            "rows": data["rows"],
            "failed_hosts": data["failed_hosts"],
            "unreachable_hosts": data["unreachable_hosts"],
            "usage": data["usage"],
            "applications": data["applications"],
            "files": files,
        }
