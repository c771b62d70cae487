"""citrix_loopback_policy, citrix_prefer_loopback and the citrix_virtual_loopback role, run with
real ansible-playbook against simulated hosts (a Delivery Controller and VDAs)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml

RDS_POLICY = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP"
WOW_VIP = "HKLM\\software\\wow6432node\\citrix\\vip"


def inventory(
    tmp: pathlib.Path, sim_host: Any, vda_features: list[str] | None = None, profile: str = "server2022"
) -> dict[str, Any]:
    return {
        "all": {
            "hosts": {
                "ddc": sim_host(tmp / "ddc.json", features=["citrix_ddc"]),
                "vda": sim_host(
                    tmp / "vda.json", profile=profile, features=vda_features or ["citrix_vda", "rds"]
                ),
            }
        }
    }


RDVIP_TASK = {
    "name": "rdvip",
    "sessionnet.virtual_ip.registry_state": {
        "values": [{"path": RDS_POLICY, "name": "EnableVirtualIP", "type": "dword", "data": 1}]
    },
}
INFO_TASK = {"name": "info", "sessionnet.virtual_ip.vip_info": {}}


def role_playbook(
    tmp: pathlib.Path,
    pre: list[dict[str, Any]] | None = None,
    post: list[dict[str, Any]] | None = None,
    **role_vars: Any,
) -> str:
    play = {
        "name": "role",
        "hosts": "vda",
        "gather_facts": False,
        "tasks": [
            *(pre or []),
            {
                "name": "Apply role",
                "ansible.builtin.include_role": {"name": "sessionnet.virtual_ip.citrix_virtual_loopback"},
                "vars": {
                    "citrix_virtual_loopback_controller": "ddc",
                    "citrix_virtual_loopback_programs": [
                        r"C:\Program Files\CTI\ctiagent.exe",
                        "crm.exe",
                        "CRM.EXE",
                    ],
                    "citrix_virtual_loopback_port_exclusions": [8080, "9000-9010"],
                    **role_vars,
                },
            },
            *(post or []),
        ],
    }
    path = tmp / "role.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return str(path)


ROLE = "sessionnet.virtual_ip.citrix_virtual_loopback : "
POLICY_TASK = ROLE + "Ensure the Citrix virtual loopback policy on the Delivery Controller"
PREFER_TASK = ROLE + "Ensure prefer-loopback on the VDA"


def registry(state: pathlib.Path) -> dict[str, Any]:
    return dict(json.loads(state.read_text())["registry"])


def test_role_sets_prefer_loopback_in_32_bit_view_and_is_idempotent(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inv = inventory(tmp_path, sim_host)
    first = run_playbook(role_playbook(tmp_path, pre=[RDVIP_TASK]), inv)
    assert first.rc == 0, first.stdout[-3000:] + first.stderr[-3000:]
    policy = first.result(POLICY_TASK)
    assert policy["changed"] is True and policy["simulated"] is True
    assert policy["after"]["settings"] == {
        "VirtualLoopbackPortExclusion": {"state": "Enabled", "values": ["8080", "9000-9010"]},
        "VirtualLoopbackPrograms": {"state": "Enabled", "values": ["ctiagent.exe", "crm.exe"]},
        "VirtualLoopbackSupport": {"state": "Enabled"},
    }
    prefer = first.result(PREFER_TASK)
    assert prefer["changed"] is True and prefer["processes"] == [
        r"C:\Program Files\CTI\ctiagent.exe",
        "crm.exe",
    ]

    # The VDA's state file shows the values at SOFTWARE\Wow6432Node\Citrix\VIP (the 32-bit view).
    vip = registry(tmp_path / "vda.json")[WOW_VIP]
    assert vip["path"] == r"HKLM:\SOFTWARE\Wow6432Node\Citrix\VIP"
    assert vip["values"]["preferloopback"] == {"name": "PreferLoopback", "type": "dword", "data": "1"}
    assert vip["values"]["preferloopbackprocesses"]["data"] == [
        r"C:\Program Files\CTI\ctiagent.exe",
        "crm.exe",
    ]
    assert "HKLM\\software\\citrix\\vip" not in registry(tmp_path / "vda.json")  # not the 64-bit view

    # The policy is in the simulated controller's store.
    site = json.loads((tmp_path / "ddc.json").read_text())["citrix_site"]
    [stored] = site["stores"]["controller"]["computer"]
    assert stored["name"] == "Sessionnet virtual loopback" and stored["enabled"] is True

    second = run_playbook(role_playbook(tmp_path, pre=[RDVIP_TASK], post=[INFO_TASK]), inv)
    assert second.rc == 0 and second.result("rdvip")["changed"] is False
    assert second.result(POLICY_TASK)["changed"] is False
    assert second.result(PREFER_TASK)["changed"] is False

    # vip_info reads it back.
    citrix = second.result("info")["citrix"]
    assert citrix["prefer_loopback"] is True and citrix["prefer_loopback_processes"][1] == "crm.exe"


def test_role_refuses_without_rd_ip_virtualization_and_writes_nothing_unless_forced(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inv = inventory(tmp_path, sim_host)
    run = run_playbook(role_playbook(tmp_path, citrix_virtual_loopback_controller=""), inv)
    assert run.rc != 0
    res = run.result(PREFER_TASK)
    assert res["failed"] is True and "RD IP Virtualization (virtual IP) is not enabled" in res["msg"]
    assert "results may not be the intended ones" in res["msg"] and "virtual-ip-virtual-loopback" in res["msg"]
    assert WOW_VIP not in registry(tmp_path / "vda.json")

    forced = run_playbook(
        role_playbook(tmp_path, citrix_virtual_loopback_controller="", citrix_virtual_loopback_force=True),
        inv,
    )
    assert forced.rc == 0, forced.stdout[-2000:]
    res = forced.result(PREFER_TASK)
    assert res["changed"] is True and any("not be the intended ones" in w for w in res.get("warnings", []))
    assert registry(tmp_path / "vda.json")[WOW_VIP]["values"]["preferloopback"]["data"] == "1"


def test_prefer_loopback_refusals_write_nothing(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    hosts = {
        "novda": sim_host(tmp_path / "novda.json", features=["rds"]),
        "w10": sim_host(tmp_path / "w10.json", profile="win10_multisession", features=["citrix_vda", "rds"]),
        "vda": sim_host(tmp_path / "vda.json", features=["citrix_vda", "rds"]),
    }
    inv = {"all": {"hosts": hosts}}
    tasks = [
        {
            "name": "prefer",
            "sessionnet.virtual_ip.citrix_prefer_loopback": {"processes": ["a.exe"], "force": True},
        }
    ]
    run = run_playbook(tasks, inv, hosts="novda:w10")
    assert run.rc != 0
    assert "no Citrix VDA is installed" in run.result("prefer", "novda")["msg"]
    assert "Windows 10 Enterprise multi-session (EditionID ServerRdsh)" in run.result("prefer", "w10")["msg"]
    before = (tmp_path / "vda.json").read_text() if (tmp_path / "vda.json").exists() else None
    bad = [
        {
            "name": "prefer",
            "sessionnet.virtual_ip.citrix_prefer_loopback": {"processes": ["ok.exe", "*.exe"], "force": True},
        }
    ]
    run = run_playbook(bad, inv, hosts="vda")
    assert run.rc != 0 and "processes[1]" in run.result("prefer", "vda")["msg"]
    if before is not None:
        assert (tmp_path / "vda.json").read_text() == before
    assert WOW_VIP not in registry(tmp_path / "vda.json")
    for name in ("novda", "w10"):
        assert WOW_VIP not in registry(tmp_path / f"{name}.json")


def test_loopback_policy_check_mode_diff_and_bad_input(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inv = inventory(tmp_path, sim_host)
    args = {
        "name": "VL",
        "programs": ["ctiagent.exe"],
        "port_exclusions": ["9000-9010", 9011],
        "delivery_groups": ["Call center"],
        "priority": 1,
    }
    task = [
        {
            "name": "policy",
            "sessionnet.virtual_ip.citrix_loopback_policy": args,
            "delegate_to": "ddc",
            "run_once": True,
        }
    ]
    checked = run_playbook(task, inv, hosts="vda", check=True)
    res = checked.result("policy")
    assert checked.rc == 0 and res["changed"] is True and res["port_exclusions"] == ["9000-9011"]
    assert res["diff"]["before"] == {} and res["diff"]["after"]["controller:localhost:computer\\VL"][
        "filters"
    ] == [{"type": "DesktopGroup", "value": "Call center", "mode": "Allow", "enabled": True}]
    assert (
        json.loads((tmp_path / "ddc.json").read_text())["citrix_site"]["stores"]["controller"]["computer"]
        == []
    )

    # Apply, then verify with the generic module itself (check mode): the settings are there.
    verify = [
        {
            "name": "verify",
            "sessionnet.virtual_ip.citrix_policy_state": {
                "name": "VL",
                "settings": [
                    {"name": "VirtualLoopbackSupport", "state": "Enabled"},
                    {"name": "VirtualLoopbackPrograms", "state": "Enabled", "values": ["ctiagent.exe"]},
                ],
                "filters": [{"type": "DesktopGroup", "value": "Call center"}],
            },
            "delegate_to": "ddc",
            "run_once": True,
            "check_mode": True,
        }
    ]
    applied = run_playbook(task + verify, inv, hosts="vda")
    assert applied.rc == 0 and applied.result("policy")["changed"] is True
    got = applied.result("verify")
    assert got["changed"] is False and got["before"]["priority"] == 1 and got["simulated"] is True
    assert got["setting_paths"]["VirtualLoopbackPrograms"] == r"ICA\VirtualIP\VirtualLoopbackPrograms"

    before = (tmp_path / "ddc.json").read_text()
    bad_inputs = [
        ({"name": "VL", "programs": []}, "programs is empty but loopback_support is enabled"),
        ({"name": "VL", "programs": ["a.exe"], "port_exclusions": [0]}, "outside 1-65535"),
        ({"name": "VL", "programs": ["a.exe"], "port_exclusions": ["80-x"]}, "malformed"),
        ({"name": "VL", "programs": ['"a.exe"']}, "quotes"),
        ({"name": "VL", "programs": [r"..\\a.exe"]}, "relative path"),
        (
            {"name": "VL", "programs": ["a.exe"], "port_exclusions": [1], "port_exclusion_setting": "Nope"},
            "was not found",
        ),
    ]
    # One run, each bad input its own task (ignore_errors: every one must fail on its own).
    tasks = [
        {
            "name": f"bad{i}",
            "sessionnet.virtual_ip.citrix_loopback_policy": bad,
            "delegate_to": "ddc",
            "run_once": True,
            "ignore_errors": True,
        }
        for i, (bad, _) in enumerate(bad_inputs)
    ]
    # ... and the policy module run against a host that is no controller (the VDA itself).
    tasks.append(
        {
            "name": "novda",
            "sessionnet.virtual_ip.citrix_loopback_policy": {"name": "VL", "programs": ["a.exe"]},
            "ignore_errors": True,
        }
    )
    run = run_playbook(tasks, inv, hosts="vda")
    for i, (_, message) in enumerate(bad_inputs):
        res = run.result(f"bad{i}")
        assert res.get("failed") is True and message in res["msg"], res
    assert (tmp_path / "ddc.json").read_text() == before

    assert (
        run.result("novda")["failed"] is True and "Citrix.GroupPolicy.Commands" in run.result("novda")["msg"]
    )
