# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Samples of a host's sockets for vip_app_audit: the Windows hand (or simulator), or /proc on Linux."""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import gateway
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def platform_of(action, task_vars):
    """``windows`` (a real or simulated Windows host) or ``linux`` (any POSIX host)."""
    if gateway.simulated_state_path(action, task_vars) is not None:
        return "windows"
    shell = getattr(getattr(action._connection, "_shell", None), "SHELL_FAMILY", None)
    return "windows" if shell == "powershell" else "linux"


def _collector_source():
    module = import_from_package("apps.linux_collect")
    path = os.path.splitext(module.__file__)[0] + ".py"
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def sample_linux(action, task_vars, probes=()):
    """One sample on a POSIX host: the collector runs there with its Python (one round trip)."""
    interpreter = task_vars.get("ansible_python_interpreter") or "python3"
    interpreter = action._templar.template(interpreter)
    request = {"probe": [dict(p) for p in probes]}
    host = gateway._host_vars(action, task_vars)[1]
    gateway._log_call(host, "vip_app_audit (linux /proc)", False)
    result = action._execute_module(
        module_name="ansible.builtin.command",
        module_args={"argv": [str(interpreter), "-c", _collector_source(), json.dumps(request)]},
        task_vars=task_vars,
    )
    if result.get("failed") or result.get("rc"):
        raise AnsibleActionFail(
            "vip_app_audit: reading the sockets on %s failed (rc %s): %s"
            % (host, result.get("rc"), (result.get("stderr") or result.get("msg") or "")[-2000:])
        )
    try:
        return json.loads(result["stdout"])
    except (KeyError, ValueError) as exc:
        raise AnsibleActionFail("vip_app_audit: the socket collector on %s answered no JSON" % host) from exc


def sample_windows(action, task_vars):
    return gateway.call_windows(action, "vip_socket_info", {"protocols": ["tcp", "udp"]}, task_vars)
