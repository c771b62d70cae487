# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one gateway to the Windows side: the real ``.ps1`` module or the simulator.

Feature action plugins call :func:`call_windows` and never know which one answered. A host is
simulated when its inventory sets ``sessionnet_simulated_windows_state`` (a state file path on
the controller); the optional ``sessionnet_simulated_windows_profile``, ``..._features`` and
``..._adapters`` seed a new state file. Every call is one round trip (our writes keep the per-host facts cache of
``facts_cache`` true); when the environment
variable ``SESSIONNET_GATEWAY_LOG`` names a file, one JSON line per call is appended to it
(the benchmarks count remote calls with it).
"""

from __future__ import annotations

import inspect
import json
import os
import time

from ansible.errors import AnsibleActionFail

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import facts_cache
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package

STATE_VAR = "sessionnet_simulated_windows_state"
SEED_VARS = (
    "sessionnet_simulated_windows_profile",
    "sessionnet_simulated_windows_features",
    "sessionnet_simulated_windows_adapters",
    "sessionnet_simulated_windows_sockets",
)
COLLECTION = "sessionnet.virtual_ip"


def _host_vars(action, task_vars):
    """Variables of the host the task runs against (the delegated host when delegated)."""
    delegated = task_vars.get("ansible_delegated_vars") or {}
    target = getattr(action._task, "delegate_to", None)
    if target and target in delegated:
        return delegated[target], target
    return task_vars, task_vars.get("inventory_hostname", "localhost")


def _templar_for(action, variables):
    """A templar over ``variables`` (a delegated host's own variables), across ansible-core versions."""
    copy = action._templar.copy_with_new_env
    if "available_variables" in inspect.signature(copy).parameters:  # ansible-core >= 2.19
        return copy(available_variables=variables)
    templar = copy()  # ansible-core 2.16 - 2.18
    templar.available_variables = variables
    return templar


def _template_host_var(action, task_vars, name):
    """Template host variable ``name`` of the target host in that host's own context."""
    hostvars, host = _host_vars(action, task_vars)
    raw = hostvars.get(name)
    if raw is None:
        return None
    if hostvars is task_vars:
        return action._templar.template(raw)
    # A delegated host's variables are templated with its own variables, so that
    # "{{ inventory_hostname }}" in its state path names the delegated host.
    # (Ansible keeps inventory_hostname as the task's host in delegated variables.)
    own = dict(hostvars, inventory_hostname=host, inventory_hostname_short=str(host).split(".", maxsplit=1)[0])
    return _templar_for(action, own).template(raw)


def simulated_state_path(action, task_vars):
    """Return the templated simulator state path of the target host, or ``None``."""
    raw = _template_host_var(action, task_vars, STATE_VAR)
    if not raw:
        return None
    return str(raw)


def _log_call(host, module, simulated):
    path = os.environ.get("SESSIONNET_GATEWAY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(
                json.dumps({"host": host, "module": module, "simulated": simulated, "t": time.time()}) + "\n"
            )


def call_windows(action, module, module_args, task_vars):
    """Run the Windows-side ``module`` once with ``module_args``; return its raw result.

    Raises :class:`AnsibleActionFail` when the module failed.
    """
    hostvars, host = _host_vars(action, task_vars)
    state_path = simulated_state_path(action, task_vars)
    check_mode = bool(action._task.check_mode)
    _log_call(host, module, state_path is not None)
    if state_path is not None:
        sim = import_from_package("windows.simulator")
        errors = import_from_package("errors")
        seed_vars = {name: _template_host_var(action, task_vars, name) for name in SEED_VARS}
        try:
            seed = sim.seed_from_hostvars(seed_vars, hostname=str(host))
            result = sim.Simulator(state_path, seed).call(module, module_args, check_mode=check_mode)
        except errors.VipError as exc:
            raise AnsibleActionFail("%s (simulated host %s): %s" % (module, host, exc)) from exc
    else:
        shell = getattr(getattr(action._connection, "_shell", None), "SHELL_FAMILY", None)
        if shell != "powershell":
            raise AnsibleActionFail(
                "%s: host %s is not a Windows host (its shell is %s, not powershell). Point the task at a "
                "Windows host (ansible_connection winrm/psrp/ssh with ansible_shell_type powershell), or set "
                "%s in its inventory to run it against the collection's simulator."
                % (module, host, shell, STATE_VAR)
            )
        result = action._execute_module(
            module_name="%s.%s" % (COLLECTION, module), module_args=module_args, task_vars=task_vars
        )
    # A failed change may have written part of its change set: treat it as changed for the cache.
    facts_cache.after_call(
        action, task_vars, module, module_args, dict(result, changed=result.get("changed") or result.get("failed")),
        check_mode,
    )
    if result.get("failed"):
        raise AnsibleActionFail(
            "%s: %s" % (module, result.get("msg", "the Windows module failed")), result=result
        )
    return result
