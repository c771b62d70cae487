# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of sessionnet.virtual_ip.vip_app_audit (docs: plugins/modules/vip_app_audit.py).

One round trip per sample (``vip_socket_info`` on Windows and simulated hosts, the /proc collector
on Linux); the decision is ``sessionnet_vip.apps.audit.recommend``.
"""

from __future__ import annotations

import time

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import apps
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.action import SessionnetAction
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class ActionModule(SessionnetAction):
    DOCS_MODULE = "vip_app_audit"

    def execute(self, params, task_vars):
        audit = import_from_package("apps.audit")
        errors = import_from_package("errors")
        platform = apps.platform_of(self, task_vars)
        probes = params["probe"]
        if probes and platform == "windows":
            raise errors.VipError(
                "probe: a second instance cannot be started in another user's session from here on "
                "Windows; leave probe empty and let two users start the program instead"
            )
        if params["samples"] < 1 or params["sample_interval"] < 0:
            raise errors.VipError("samples must be 1 or more and sample_interval 0 or more")
        samples = []
        for index in range(params["samples"]):
            if index:
                time.sleep(params["sample_interval"])  # the audit's own pacing between two samples
            last = index == params["samples"] - 1
            if platform == "windows":
                samples.append(apps.sample_windows(self, task_vars))
            else:
                samples.append(apps.sample_linux(self, task_vars, probes if last else ()))
        ephemeral = samples[0].get("ephemeral_ports") or None
        opts = audit.AuditOptions(
            platform=platform,
            samples=len(samples),
            sessions=params["sessions"],
            programs=tuple(params["programs"]),
            ephemeral=tuple(ephemeral) if ephemeral else None,
        )
        result = audit.recommend(samples, opts)
        warnings = list(result.pop("warnings"))
        for sample in samples:
            warnings.extend(w for w in sample.get("warnings") or [] if w not in warnings)
        if probes:
            result["probes"] = audit.probe_verdicts(samples[-1].get("probes") or [], samples, platform)
        result.update(
            changed=False,
            platform=platform,
            samples=len(samples),
            simulated=bool(samples[0].get("simulated")),
        )
        if warnings:
            result["warnings"] = warnings
        return result
