"""sessionnet.virtual_ip.rds_ip_virtualization through real ansible-playbook runs on simulated hosts."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from sessionnet_vip.windows import rds
from sessionnet_vip.windows import registry as reg
from sessionnet_vip.windows.simulator import HostSeed, new_state

APP_A = r"C:\Program Files\CTI\agent.exe"
APP_B = r"C:\Program Files\Dialer\dialer.exe"
POLICY_ID = "\\".join(reg.key_identity(reg.parse_key(rds.POLICY_KEY), "64"))  # the simulator's key id
LSP_ID = "\\".join(reg.key_identity(reg.parse_key(rds.LSP_CATALOG_KEY), "64"))
BACKUP_ID = "\\".join(reg.key_identity(reg.parse_key(rds.LSP_CATALOG_BACKUP_KEY), "64"))


def rds_task(name: str = "rds", **options: Any) -> dict[str, Any]:
    return {"name": name, "sessionnet.virtual_ip.rds_ip_virtualization": options}


def registry(state: pathlib.Path) -> dict[str, Any]:
    return dict(json.loads(state.read_text())["registry"])


def policy_values(state: pathlib.Path) -> dict[str, Any]:
    key = registry(state).get(POLICY_ID) or {"values": {}}
    return {v["name"]: (v["type"], v["data"]) for v in key["values"].values()}


def calls(log: pathlib.Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    return [(e["host"], e["module"]) for e in map(json.loads, log.read_text().splitlines())]


PER_PROGRAM = {
    "mode": "per_program",
    "programs": [APP_A, APP_B],
    "adapter_subnet": "10.20.0.10/24",
    "fallback_to_server_ip": False,
}


def test_done_means_server2022(run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "srv2022.json"
    log = tmp_path / "gateway.jsonl"
    inventory = {"all": {"hosts": {"srv": sim_host(state, "server2022", ["rds"])}}}
    env = {"SESSIONNET_GATEWAY_LOG": str(log)}

    first = run_playbook([rds_task(**PER_PROGRAM)], inventory, env=env)
    assert first.rc == 0, first.stdout + first.stderr
    res = first.result("rds")
    assert res["changed"] is True and res["reboot_required"] is True and res["simulated"] is True
    assert res["adapter"] == "Ethernet" and res["adapter_subnet"] == "10.20.0.0/24"
    assert policy_values(state) == {
        "EnableVirtualIP": ("dword", "1"),
        "VirtualMode": ("dword", "1"),
        "PerApp": ("multistring", [APP_A, APP_B]),
        "VIPAdapter": ("string", "10.20.0.0/24"),
        "PromptOnIPLeaseFail": ("dword", "1"),
    }
    assert LSP_ID not in registry(state)
    assert res["diff"]["after"][rds.POLICY_KEY]["VirtualMode"] == {"type": "dword", "value": "0x00000001"}
    assert calls(log) == [("srv", "vip_info"), ("srv", "registry_state")]  # exactly two round trips

    second = run_playbook([rds_task(**PER_PROGRAM)], inventory, env=env)
    res2 = second.result("rds")
    assert second.rc == 0 and res2["changed"] is False and res2["reboot_required"] is False
    assert res2["diff"] == {"before": {}, "after": {}}

    # Check mode: reports what would change, writes nothing.
    before = json.loads(state.read_text())
    checked = run_playbook(
        [rds_task(**dict(PER_PROGRAM, programs=[APP_B, APP_A], fallback_to_server_ip=True))],
        inventory,
        check=True,
        env=env,
    )
    res3 = checked.result("rds")
    assert checked.rc == 0 and res3["changed"] is True and res3["reboot_required"] is True
    assert {v["name"] for v in res3["value_results"] if v["changed"]} == {"PerApp", "PromptOnIPLeaseFail"}
    after = json.loads(state.read_text())
    assert after["registry"] == before["registry"]
    assert {k: v for k, v in after.items() if k != "calls"} == {
        k: v for k, v in before.items() if k != "calls"
    }
    assert len(calls(log)) == 6


def test_server2019_renames_lsp_entry_and_needs_reboot(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "srv2019.json"
    inventory = {"all": {"hosts": {"srv": sim_host(state, "server2019", ["rds"])}}}
    tasks = [
        rds_task("first", adapter_subnet="10.20.0.0/24"),
        rds_task("again", adapter_subnet="10.20.0.0/24"),
    ]
    run = run_playbook(tasks, inventory)
    assert run.rc == 0, run.stdout + run.stderr
    first, again = run.result("first"), run.result("again")
    assert first["lsp_catalog_fix"] is True and first["reboot_required"] is True
    assert first["key_results"] == []
    assert first["move_results"] == [
        {
            "path": rds.LSP_CATALOG_KEY,
            "to": rds.LSP_CATALOG_BACKUP_KEY,
            "view": "64",
            "source_existed": True,
            "target_existed": False,
            "changed": True,
        }
    ]
    assert first["lsp_catalog_backup"] == rds.LSP_CATALOG_BACKUP_KEY
    assert LSP_ID not in registry(state)
    backup = registry(state)[BACKUP_ID]["values"]  # the original values, kept under the backup name
    assert {v["name"]: (v["type"], v["data"]) for v in backup.values()} == {
        "AppFullPath": ("string", r"C:\Windows\System32\svchost.exe"),
        "PermittedLspCategories": ("dword", str(0x40000000)),
    }
    assert again["changed"] is False and again["move_results"] == []
    assert again["lsp_catalog_backup"] == rds.LSP_CATALOG_BACKUP_KEY


def test_multisession_fails_naming_edition_and_writes_nothing(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "w10.json"
    log = tmp_path / "gateway.jsonl"
    inventory = {"all": {"hosts": {"w10": sim_host(state, "win10_multisession", ["rds"])}}}
    run = run_playbook([rds_task(**PER_PROGRAM)], inventory, env={"SESSIONNET_GATEWAY_LOG": str(log)})
    res = run.result("rds")
    assert run.rc != 0 and res["failed"] is True and res["changed"] is False
    assert "Windows 10 Enterprise multi-session" in res["msg"] and "ServerRdsh" in res["msg"]
    fresh = new_state(HostSeed(profile="win10_multisession", features=["rds"]))
    assert registry(state) == fresh["registry"]
    assert calls(log) == [("w10", "vip_info")]  # refused before any write was sent


def test_bad_input_fails_clearly_and_writes_nothing(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "srv.json"
    adapters = [
        {"name": "Front", "ipv4": ["10.20.0.10/24"]},
        {"name": "Back", "ipv4": ["10.20.1.10/24"]},
    ]
    inventory = {"all": {"hosts": {"srv": sim_host(state, "server2022", ["rds"], adapters)}}}
    cases = {
        "empty programs": ({"mode": "per_program", "adapter_subnet": "10.20.0.0/24"}, "needs at least one"),
        "bad cidr": ({"adapter_subnet": "10.20.0.0/40"}, "'10.20.0.0/40' is not a valid IPv4 subnet"),
        "no adapter": ({"adapter_subnet": "192.0.2.0/24"}, "matches no network adapter"),
        "two adapters": ({"adapter_subnet": "10.20.0.0/16"}, "several network adapters (Front, Back)"),
        "wildcard": (
            {"mode": "per_program", "programs": ["C:\\A\\*.exe"], "adapter_subnet": "10.20.0.0/24"},
            "wildcards",
        ),
        "quotes": (
            {"mode": "per_program", "programs": ['"a.exe"'], "adapter_subnet": "10.20.0.0/24"},
            "quotes",
        ),
        "trailing space": (
            {"mode": "per_program", "programs": ["a.exe "], "adapter_subnet": "10.20.0.0/24"},
            "trailing",
        ),
        "relative": (
            {"mode": "per_program", "programs": ["..\\x.exe"], "adapter_subnet": "10.20.0.0/24"},
            "relative",
        ),
        "bad mode": ({"mode": "per_user", "adapter_subnet": "10.20.0.0/24"}, "mode must be one of"),
    }
    tasks = [dict(rds_task(name, **opts), ignore_errors=True) for name, (opts, _) in cases.items()]
    run = run_playbook(tasks, inventory)
    for name, (_, message) in cases.items():
        res = run.result(name)
        assert res["failed"] is True and message in res["msg"], (name, res["msg"])
        assert res["msg"].startswith("rds_ip_virtualization") or "per_user" in res["msg"]
    assert (
        registry(state)
        == new_state(HostSeed(profile="server2022", features=["rds"], adapters=adapters))["registry"]
    )


def test_per_session_ignores_programs_and_disabled_removes_only_its_values(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "srv.json"
    inventory = {"all": {"hosts": {"srv": sim_host(state, "server2022", [])}}}
    foreign = {
        "path": rds.POLICY_KEY,
        "name": "VirtualizeLoopbackAdresses",
        "type": "dword",
        "data": 1,
    }
    run = run_playbook(
        [
            {"name": "foreign", "sessionnet.virtual_ip.registry_state": {"values": [foreign]}},
            rds_task("per program", **PER_PROGRAM),
            rds_task("per session", adapter_subnet="10.20.0.0/24", programs=[APP_A]),
            rds_task("disable", state="disabled"),
            rds_task("disable again", state="disabled"),
        ],
        inventory,
    )
    assert run.rc == 0, run.stdout + run.stderr
    per_session = run.result("per session")
    assert any("ignored in mode per_session" in w for w in per_session["warnings"])
    assert any("RD Session Host role" in w for w in per_session["warnings"])
    changed = {v["name"]: v for v in per_session["value_results"] if v["changed"]}
    assert set(changed) == {"VirtualMode", "PerApp", "PromptOnIPLeaseFail"}
    assert changed["PerApp"]["after"] is None and per_session["programs"] == []

    disable = run.result("disable")
    assert disable["changed"] is True and disable["reboot_required"] is True and disable["key_results"] == []
    assert {v["name"] for v in disable["value_results"] if v["changed"]} == {
        "EnableVirtualIP",
        "VirtualMode",
        "VIPAdapter",
        "PromptOnIPLeaseFail",
    }
    assert policy_values(state) == {"VirtualizeLoopbackAdresses": ("dword", "1")}  # nothing else touched
    assert LSP_ID not in registry(state)  # not restored unless restore_lsp_catalog is set
    assert run.result("disable again")["changed"] is False


ROLE_TASK = "sessionnet.virtual_ip.rds_ip_virtualization : Configure Remote Desktop IP Virtualization"


def test_virtualize_loopback_through_the_role_in_two_calls_and_the_way_back(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "srv2019.json"
    old = tmp_path / "srv2008r2.json"
    inventory = {
        "all": {
            "hosts": {
                "srv": sim_host(state, "server2019", ["rds"]),
                "old": sim_host(old, "server2008r2", ["rds"]),
            }
        }
    }
    log = tmp_path / "calls.jsonl"
    role = {
        "name": "role",
        "ansible.builtin.include_role": {"name": "sessionnet.virtual_ip.rds_ip_virtualization"},
        "vars": {
            "rds_ip_virtualization_adapter_subnet": "10.20.0.0/24",
            "rds_ip_virtualization_virtualize_loopback": True,
        },
    }
    run = run_playbook([role], inventory, env={"SESSIONNET_GATEWAY_LOG": str(log)})
    assert run.rc != 0  # the 2008 R2 host is refused
    refused = run.result(ROLE_TASK, "old")
    assert refused["failed"] is True and "from Windows Server 2012 (build 9200)" in refused["msg"]
    done = run.result(ROLE_TASK, "srv")
    assert done["virtualize_loopback"] is True and done["cim_results"][0]["changed"] is True
    assert done["cim_results"][0]["before"] == 0 and done["reboot_required"] is True
    assert [m for h, m in calls(log) if h == "srv"] == ["vip_info", "registry_state"]
    saved = json.loads(state.read_text())["cim"]["root\\cimv2\\terminalservices"]["win32_tsvirtualip"][0]
    assert saved["VirtualizeLoopbackAddressesEnabled"] == 1
    assert BACKUP_ID in registry(state) and LSP_ID not in registry(state)

    back = {
        "name": "back",
        "sessionnet.virtual_ip.rds_ip_virtualization": {
            "state": "disabled",
            "restore_lsp_catalog": True,
            "virtualize_loopback": False,
        },
    }
    undone = run_playbook([back], {"all": {"hosts": {"srv": inventory["all"]["hosts"]["srv"]}}})
    res = undone.result("back")
    assert undone.rc == 0 and res["lsp_catalog_restore"] is True and res["virtualize_loopback"] is False
    assert LSP_ID in registry(state) and BACKUP_ID not in registry(state)
    assert res["diff"]["after"]["WMI root\\cimv2\\TerminalServices:Win32_TSVirtualIP"] == {
        "VirtualizeLoopbackAddressesEnabled": {"type": "uint32", "value": 0}
    }
