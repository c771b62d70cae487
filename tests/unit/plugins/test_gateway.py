"""The gateway routes to the simulator or to _execute_module, and logs each round trip."""

from __future__ import annotations

import json
import pathlib
import types
from typing import Any

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import gateway


class FakeTemplar:
    def __init__(self, available_variables: dict[str, Any] | None = None) -> None:
        self.available_variables = available_variables or {}

    def template(self, value: Any) -> Any:
        if isinstance(value, str) and "{{ inventory_hostname }}" in value:
            return value.replace("{{ inventory_hostname }}", self.available_variables["inventory_hostname"])
        return value

    def copy_with_new_env(self, *, available_variables: dict[str, Any] | None = None) -> FakeTemplar:
        return FakeTemplar(available_variables)


class FakeAction:
    def __init__(self, check_mode: bool = False, answer: dict[str, Any] | None = None) -> None:
        self._task = types.SimpleNamespace(check_mode=check_mode, delegate_to=None)
        self._templar = FakeTemplar()
        self._connection = types.SimpleNamespace(_shell=types.SimpleNamespace(SHELL_FAMILY="powershell"))
        self.answer = answer or {"changed": False}
        self.executed: list[tuple[str, dict[str, Any]]] = []

    def _execute_module(
        self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]
    ) -> Any:
        self.executed.append((module_name, module_args))
        return self.answer


def test_real_host_runs_the_ps1_module_once(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("SESSIONNET_GATEWAY_LOG", str(log))
    action = FakeAction(answer={"changed": True, "values": []})
    result = gateway.call_windows(action, "registry_state", {"values": []}, {"inventory_hostname": "win01"})
    assert result == {"changed": True, "values": []}
    assert action.executed == [("sessionnet.virtual_ip.registry_state", {"values": []})]
    assert [json.loads(x)["host"] for x in log.read_text().splitlines()] == ["win01"]


def test_simulated_host_never_executes_a_module(tmp_path: pathlib.Path) -> None:
    action = FakeAction()
    task_vars = {
        "inventory_hostname": "sim01",
        "sessionnet_simulated_windows_state": str(tmp_path / "s.json"),
        "sessionnet_simulated_windows_profile": "win10_multisession",
    }
    result = gateway.call_windows(action, "vip_info", {"registry_keys": []}, task_vars)
    assert action.executed == []
    assert result["simulated"] is True and result["os"]["edition_id"] == "ServerRdsh"
    assert json.loads((tmp_path / "s.json").read_text())["hostname"] == "SIM01"


def test_delegated_host_vars_are_used(tmp_path: pathlib.Path) -> None:
    action = FakeAction()
    action._task.delegate_to = "ddc01"
    task_vars = {
        "inventory_hostname": "vda01",
        "ansible_delegated_vars": {
            "ddc01": {
                "inventory_hostname": "vda01",
                "sessionnet_simulated_windows_state": str(tmp_path / "{{ inventory_hostname }}.json"),
            }
        },
    }
    assert gateway.call_windows(action, "vip_info", {}, task_vars)["simulated"] is True
    assert (tmp_path / "ddc01.json").exists()


def test_module_failure_becomes_action_failure() -> None:
    action = FakeAction(answer={"failed": True, "msg": "access denied"})
    with pytest.raises(AnsibleActionFail, match="registry_state: access denied"):
        gateway.call_windows(action, "registry_state", {}, {"inventory_hostname": "w"})


def test_simulator_error_names_host(tmp_path: pathlib.Path) -> None:
    action = FakeAction()
    task_vars = {"inventory_hostname": "s", "sessionnet_simulated_windows_state": str(tmp_path / "s.json")}
    with pytest.raises(AnsibleActionFail, match=r"simulated host s.*no twin"):
        gateway.call_windows(action, "nope", {}, task_vars)


def test_non_windows_real_host_is_refused_clearly() -> None:
    action = FakeAction()
    action._connection = types.SimpleNamespace(_shell=types.SimpleNamespace(SHELL_FAMILY="sh"))
    with pytest.raises(AnsibleActionFail, match="not a Windows host.*sessionnet_simulated_windows_state"):
        gateway.call_windows(action, "vip_info", {}, {"inventory_hostname": "linux01"})
    assert action.executed == []


@pytest.mark.parametrize(("state", "modules"), [("disabled", ["registry_state"]), ("enabled", ["vip_info"])])
def test_prefer_loopback_calls_windows_only_as_needed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, state: str, modules: list[str]
) -> None:
    """state: disabled needs no facts (one round trip); enabled reads facts first and, on a host
    without a VDA, is refused before anything is written."""
    from ansible_collections.sessionnet.virtual_ip.plugins.action.citrix_prefer_loopback import ActionModule

    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("SESSIONNET_GATEWAY_LOG", str(log))
    action = ActionModule.__new__(ActionModule)
    action.__dict__.update(FakeAction().__dict__)
    task_vars = {
        "inventory_hostname": "sim01",
        "sessionnet_simulated_windows_state": str(tmp_path / "s.json"),
    }
    params = {"state": state, "processes": ["C:\\App\\app.exe"], "force": False}
    if state == "disabled":
        assert action.execute(params, task_vars)["state"] == "disabled"
    else:
        with pytest.raises(ValueError, match="no Citrix VDA"):
            action.execute(params, task_vars)
    assert [json.loads(x)["module"] for x in log.read_text().splitlines()] == modules
