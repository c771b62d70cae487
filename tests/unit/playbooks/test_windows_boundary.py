"""registry_state and vip_info through real ansible-playbook runs against simulated hosts."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from sessionnet_vip.windows.simulator import Simulator

POLICY = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP"
VIP32 = r"HKLM:\SOFTWARE\Citrix\VIP"


def four_values(enable: int = 1, procs: list[str] | None = None) -> list[dict[str, object]]:
    return [
        {"path": POLICY, "name": "EnableVirtualIP", "type": "dword", "data": enable, "reboot_required": True},
        {"path": POLICY, "name": "VIPAdapter", "type": "string", "data": "10.20.0.0/24"},
        {"path": VIP32, "name": "PreferLoopback", "type": "dword", "data": 0xFFFFFFFF, "view": "32"},
        {
            "path": VIP32,
            "name": "PreferLoopbackProcesses",
            "type": "multistring",
            "data": procs or [r"C:\CTI\b.exe", r"C:\CTI\a.exe"],
            "view": "32",
        },
    ]


def task(values: list[dict[str, object]], name: str = "ensure") -> list[dict[str, object]]:
    return [{"name": name, "sessionnet.virtual_ip.registry_state": {"values": values}}]


def test_apply_idempotent_and_check_mode(run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "srv.json"
    inventory = {"all": {"hosts": {"srv": sim_host(state)}}}

    first = run_playbook(task(four_values()), inventory)
    assert first.rc == 0, first.stdout + first.stderr
    res = first.result("ensure")
    assert res["changed"] is True and res["simulated"] is True and res["reboot_required"] is True
    assert {v["path"] for v in res["value_results"]} == {POLICY, r"HKLM:\SOFTWARE\Wow6432Node\Citrix\VIP"}
    after = res["diff"]["after"]
    assert after[POLICY]["EnableVirtualIP"] == {"type": "dword", "value": "0x00000001"}
    assert after[r"HKLM:\SOFTWARE\Wow6432Node\Citrix\VIP"]["PreferLoopback"]["value"] == "0xffffffff"
    assert res["diff"]["before"] == {POLICY: {}, r"HKLM:\SOFTWARE\Wow6432Node\Citrix\VIP": {}}

    # The 32-bit view value is the 64-bit Wow6432Node value, as on Windows.
    sim = Simulator(str(state))
    raw = sim.call(
        "registry_state",
        {
            "values": [
                {
                    "path": r"HKLM:\SOFTWARE\WOW6432Node\citrix\vip",
                    "name": "preferloopback",
                    "type": "dword",
                    "data": str(0xFFFFFFFF),
                    "state": "present",
                    "view": "64",
                }
            ],
            "keys_absent": [],
        },
        check_mode=True,
    )
    assert raw["changed"] is False and raw["values"][0]["data"] == "4294967295"

    second = run_playbook(task(four_values()), inventory)
    assert second.rc == 0 and second.result("ensure")["changed"] is False
    assert all(not v["changed"] for v in second.result("ensure")["value_results"])

    before = state.read_text()
    checked = run_playbook(
        task(four_values(enable=0, procs=[r"C:\CTI\a.exe", r"C:\CTI\b.exe"])), inventory, check=True
    )
    res = checked.result("ensure")
    assert checked.rc == 0 and res["changed"] is True
    changed = {v["name"] for v in res["value_results"] if v["changed"]}
    assert changed == {"EnableVirtualIP", "PreferLoopbackProcesses"}  # multistring order matters
    assert json.loads(state.read_text())["registry"] == json.loads(before)["registry"]


def test_type_change_and_absent_and_keys(run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path) -> None:
    inventory = {"all": {"hosts": {"srv": sim_host(tmp_path / "s.json")}}}
    key = r"HKLM:\SOFTWARE\SessionnetTest\Sub"
    run = run_playbook(
        [
            {
                "name": "dword",
                "sessionnet.virtual_ip.registry_state": {
                    "values": [
                        {"path": key, "name": "V", "type": "dword", "data": 5},
                        {"path": key, "name": "Q", "type": "qword", "data": 2**64 - 1},
                    ]
                },
            },
            {
                "name": "as string",
                "sessionnet.virtual_ip.registry_state": {
                    "values": [
                        {"path": key, "name": "V", "type": "string", "data": "5"},
                        {"path": key, "name": "Q", "type": "qword", "data": "18446744073709551615"},
                    ]
                },
            },
            {
                "name": "absent",
                "sessionnet.virtual_ip.registry_state": {
                    "values": [{"path": key, "name": "V", "state": "absent"}]
                },
            },
            {
                "name": "remove key",
                "sessionnet.virtual_ip.registry_state": {
                    "keys_absent": [{"path": r"HKLM:\SOFTWARE\SessionnetTest"}]
                },
            },
            {
                "name": "remove key again",
                "sessionnet.virtual_ip.registry_state": {
                    "keys_absent": [{"path": r"HKLM:\SOFTWARE\SessionnetTest"}]
                },
            },
            {"name": "noop", "sessionnet.virtual_ip.registry_state": {}},
        ],
        inventory,
    )
    assert run.rc == 0, run.stdout + run.stderr
    as_string = run.result("as string")
    v, q = as_string["value_results"]
    assert v["type_changed"] is True and v["before"] == {"type": "dword", "data": 5}
    assert q["changed"] is False and q["before"]["data"] == 2**64 - 1
    assert run.result("absent")["changed"] is True
    assert run.result("remove key")["key_results"][0]["existed"] is True
    assert run.result("remove key again")["changed"] is False
    noop = run.result("noop")
    assert noop["changed"] is False and "nothing to do" in noop["msg"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"path": POLICY, "name": "X", "type": "dword", "data": 2**32}, "does not fit a dword"),
        ({"path": POLICY, "name": "X", "type": "dword", "data": "abc"}, "is not an integer"),
        ({"path": POLICY, "name": "X", "type": "color", "data": 1}, "value of type must be one of"),
        (
            {"path": r"HKCU:\Software\X", "name": "X", "type": "dword", "data": 1},
            "hive HKCU may not be written",
        ),
        ({"path": r"HKLM:\SOFTWARE\\\\X", "name": "X", "type": "dword", "data": 1}, "malformed"),
        (
            {"path": r"NOPE:\X", "name": "X", "type": "dword", "data": 1},
            "does not start with a registry hive",
        ),
        ({"path": POLICY, "name": "X", "type": "dword", "data": 1, "view": "16"}, "view must be one of"),
    ],
)
def test_bad_input_fails_and_writes_nothing(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path, item: dict[str, object], message: str
) -> None:
    state = tmp_path / "s.json"
    inventory = {"all": {"hosts": {"srv": sim_host(state)}}}
    good = {"path": POLICY, "name": "Good", "type": "dword", "data": 1}
    run = run_playbook(task([good, item]), inventory)
    res = run.result("ensure")
    assert run.rc != 0 and res["failed"] is True
    assert message in res["msg"], res["msg"]
    assert not state.exists() or "good" not in json.dumps(json.loads(state.read_text())["registry"]).lower()


def test_duplicates_with_different_data_refused(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inventory = {"all": {"hosts": {"srv": sim_host(tmp_path / "s.json")}}}
    run = run_playbook(
        task(
            [
                {"path": POLICY, "name": "A", "type": "dword", "data": 1},
                {"path": POLICY.upper(), "name": "a", "type": "dword", "data": 2},
            ]
        ),
        inventory,
    )
    assert run.rc != 0 and "given twice with different data" in run.result("ensure")["msg"]


@pytest.mark.parametrize(
    ("profile", "kind", "multi"),
    [
        ("server2008r2", "server", False),
        ("server2016", "server", False),
        ("server2019", "server", False),
        ("server2022", "server", False),
        ("server2025", "server", False),
        ("win10_multisession", "multi_session_client", True),
        ("win11_multisession", "multi_session_client", True),
        ("workstation", "workstation", False),
    ],
)
def test_vip_info_profiles(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path, profile: str, kind: str, multi: bool
) -> None:
    inventory = {"all": {"hosts": {"h": sim_host(tmp_path / "h.json", profile, ["rds", "citrix_vda"])}}}
    run = run_playbook([{"name": "info", "sessionnet.virtual_ip.vip_info": {}}], inventory)
    res = run.result("info")
    assert run.rc == 0 and res["changed"] is False and res["simulated"] is True
    assert res["os"]["kind"] == kind and res["os"]["multi_session_client"] is multi
    assert res["roles"]["rds_session_host"] is True and res["roles"]["dhcp_server"] is False
    assert res["citrix"]["vda_installed"] is True and res["citrix"]["vda_version"]
    assert res["adapters"][0]["dhcp"] is False
    assert res["adapters"][0]["ipv4"] == [
        {
            "address": "10.20.0.10",
            "prefix_length": 24,
            "skip_as_source": False,
            "prefix_origin": "Manual",
            "address_state": "Preferred",
        }
    ]
    assert [s["id"] for s in res["sessions"]] == [2, 3]
    rds = res["rds_ip_virtualization"]
    assert rds["lsp_catalog_entry_present"] is (profile in ("server2019", "server2022", "server2025"))
    assert rds["lsp_catalog_backup_present"] is False
    # Win32_TSVirtualIP.VirtualizeLoopbackAddressesEnabled exists from Server 2012 (build 9200) on
    assert rds["wmi_available"] is True
    assert rds["virtualize_loopback"] is (None if profile == "server2008r2" else False)


def test_bad_simulator_seed_is_clear(run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path) -> None:
    inventory = {"all": {"hosts": {"h": sim_host(tmp_path / "h.json", "server2003")}}}
    run = run_playbook([{"name": "info", "sessionnet.virtual_ip.vip_info": {}}], inventory)
    assert run.rc != 0 and "server2003" in run.result("info")["msg"]
    assert not (tmp_path / "h.json").exists()


def test_delegated_task_uses_the_delegated_hosts_own_state(run_playbook: Any, tmp_path: pathlib.Path) -> None:
    common = {
        "ansible_connection": "local",
        "sessionnet_simulated_windows_state": str(tmp_path) + "/{{ inventory_hostname }}.json",
    }
    inventory = {
        "all": {
            "hosts": {
                "vda1": dict(common),
                "ddc1": dict(common, sessionnet_simulated_windows_profile="server2019"),
            }
        }
    }
    run = run_playbook(
        [{"name": "info", "sessionnet.virtual_ip.vip_info": {}, "delegate_to": "ddc1"}],
        inventory,
        hosts="vda1",
    )
    res = run.result("info")
    assert run.rc == 0, run.stdout + run.stderr
    assert res["os"]["build"] == 17763  # the delegated host's profile
    assert (tmp_path / "ddc1.json").exists() and not (tmp_path / "vda1.json").exists()
