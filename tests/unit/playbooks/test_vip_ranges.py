"""vip_range_plan, dhcp_scope_info, dhcp_exclusion_range, vip_address_binding and the vip_ranges
role through real ansible-playbook runs against simulated hosts."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
FARM = yaml.safe_load((ROOT / "examples" / "farm.yml").read_text())


def plan_task(name: str = "plan", **options: Any) -> dict[str, Any]:
    args = {k: FARM[k] for k in ("subnets", "dhcp_scopes", "servers")}
    args.update(options)
    return {"name": name, "sessionnet.virtual_ip.vip_range_plan": args}


# The controller-only module must not contact the host: its connection points at a closed port
# on the loopback (any connection attempt would make the host unreachable).
NO_HOST = {
    "all": {
        "hosts": {
            "ctl": {
                "ansible_connection": "ssh",
                "ansible_host": "127.0.0.1",
                "ansible_port": 9,
                "ansible_ssh_timeout": 2,
            }
        }
    }
}


def test_plan_never_connects_and_check_mode_plans_the_same(run_playbook: Any, tmp_path: pathlib.Path) -> None:
    svg = tmp_path / "svg"
    tasks = [plan_task(svg_dir=str(svg)), plan_task("again", svg_dir=str(svg))]
    run = run_playbook(tasks, NO_HOST)
    assert run.rc == 0, run.stdout + run.stderr
    first, again = run.result("plan"), run.result("again")
    assert first["changed"] is True and again["changed"] is False
    assert [p["server"] for p in first["plan"]] == ["rdsh01", "rdsh02", "rdsh03"]
    assert first["plan"] == again["plan"] and first["exclusions"] == [] and first["invalid"] == []
    assert [pathlib.Path(f).name for f in first["svg_files"]] == ["10.20.0.0_24.svg"]
    assert "<svg" in (svg / "10.20.0.0_24.svg").read_text()

    checked = run_playbook([plan_task(svg_dir=str(tmp_path / "not-written"))], NO_HOST, check=True)
    res = checked.result("plan")
    assert checked.rc == 0 and res["plan"] == first["plan"] and res["changed"] is True
    assert not (tmp_path / "not-written").exists()


PLAN_BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"servers": [{"name": "a", "subnet": "10.20.0.0/24", "max_sessions": 0}]}, "server a max_sessions"),
    ({"servers": [{"name": "a", "subnet": "10.20.0.0/24", "max_sessions": "many"}]}, "max_sessions"),
    ({"servers": [{"name": "a", "subnet": "10.20.0.0/24", "max_sessions": 2.5}]}, "max_sessions"),
    ({"servers": [{"name": "a", "subnet": "10.99.0.0/24", "max_sessions": 3}]}, "10.99.0.0/24"),
    ({"subnets": [{"cidr": "10.20.0.0/33"}]}, "10.20.0.0/33"),
    ({"subnets": [{"cidr": "10.20.0.0/31"}], "servers": [], "dhcp_scopes": []}, "too small"),
    (
        {
            "dhcp_scopes": [
                {
                    "scope": "10.20.0.0",
                    "start": "10.20.0.100",
                    "end": "10.20.0.199",
                    "exclusions": [{"start": "10.20.0.90", "end": "10.20.0.99"}],
                }
            ]
        },
        "outside the scope's range",
    ),
    ({"servers": [{"name": "big", "subnet": "10.20.0.0/24", "max_sessions": 500}]}, "big"),
]


def test_plan_bad_input_names_it(run_playbook: Any) -> None:
    tasks = [
        dict(plan_task(f"bad{i}", **options), ignore_errors=True)
        for i, (options, _) in enumerate(PLAN_BAD_INPUT)
    ]
    run = run_playbook(tasks, NO_HOST)
    for i, (_, message) in enumerate(PLAN_BAD_INPUT):
        res = run.result(f"bad{i}")
        assert res["failed"] is True and message in res["msg"], (i, res["msg"])
    cannot_fit = run.result(f"bad{len(PLAN_BAD_INPUT) - 1}")
    assert (
        cannot_fit["failures"][0]["subnet"] == "10.20.0.0/24" and cannot_fit["failures"][0]["shortfall"] > 0
    )


def dhcp_inventory(sim_host: Any, tmp_path: pathlib.Path) -> dict[str, Any]:
    host = sim_host(
        tmp_path / "dhcp.json",
        features=["dhcp_server"],
        adapters=[{"name": "Ethernet", "ipv4": ["10.20.0.5/24"]}],
    )
    return {"all": {"hosts": {"dhcp01": host}}}


def test_dhcp_scope_info_and_exclusion_lifecycle(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inventory = dhcp_inventory(sim_host, tmp_path)
    excl = {"scope": "10.20.0.0", "start": "10.20.0.163", "end": "10.20.0.192"}
    grown = dict(excl, end="10.20.0.196", replaces={"start": "10.20.0.163", "end": "10.20.0.192"})
    run = run_playbook(
        [
            {"name": "info", "sessionnet.virtual_ip.dhcp_scope_info": {"include_leases": True}},
            {"name": "add", "sessionnet.virtual_ip.dhcp_exclusion_range": excl},
            {"name": "add again", "sessionnet.virtual_ip.dhcp_exclusion_range": excl},
            {"name": "grow", "sessionnet.virtual_ip.dhcp_exclusion_range": grown},
            {"name": "grow again", "sessionnet.virtual_ip.dhcp_exclusion_range": grown},
            {
                "name": "remove",
                "sessionnet.virtual_ip.dhcp_exclusion_range": dict(excl, end="10.20.0.196", state="absent"),
            },
        ],
        inventory,
    )
    assert run.rc == 0, run.stdout + run.stderr
    info = run.result("info")
    assert info["changed"] is False and info["simulated"] is True
    assert info["scopes"][0]["leases"] == ["10.20.0.160", "10.20.0.161", "10.20.0.162"]
    add = run.result("add")
    assert add["changed"] is True
    assert add["diff"]["after"]["exclusions"] == ["10.20.0.100-10.20.0.109", "10.20.0.163-10.20.0.192"]
    assert run.result("add again")["changed"] is False
    assert run.result("grow")["diff"]["after"]["exclusions"][-1] == "10.20.0.163-10.20.0.196"
    assert run.result("grow again")["changed"] is False
    assert run.result("remove")["exclusions"] == [{"start": "10.20.0.100", "end": "10.20.0.109"}]


EXCLUSION_BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"scope": "10.20.0.0", "start": "10.20.0.195", "end": "10.20.0.205"}, "outside the scope's range"),
    ({"scope": "10.20.0.0", "start": "10.20.0.105", "end": "10.20.0.115"}, "overlaps the existing exclusion"),
    ({"scope": "10.21.0.0", "start": "10.21.0.105", "end": "10.21.0.115"}, "no scope 10.21.0.0"),
    ({"scope": "10.20.0.0", "start": "10.20.0.115", "end": "10.20.0.105"}, "below start"),
    ({"scope": "10.20.0.0", "start": "10.20.0.115"}, "end"),
]


def test_exclusion_bad_input_changes_nothing(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inventory = dhcp_inventory(sim_host, tmp_path)
    tasks: list[dict[str, Any]] = [{"name": "info", "sessionnet.virtual_ip.dhcp_scope_info": {}}]
    tasks += [
        {"name": f"bad{i}", "sessionnet.virtual_ip.dhcp_exclusion_range": args, "ignore_errors": True}
        for i, (args, _) in enumerate(EXCLUSION_BAD_INPUT)
    ]
    tasks.append({"name": "after", "sessionnet.virtual_ip.dhcp_scope_info": {}})
    run = run_playbook(tasks, inventory)
    for i, (_, message) in enumerate(EXCLUSION_BAD_INPUT):
        res = run.result(f"bad{i}")
        assert res["failed"] is True and message in res["msg"], (i, res["msg"])
    assert run.result("after")["scopes"] == run.result("info")["scopes"]


def test_binding_500_addresses_in_one_call_check_diff_absent(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "rdsh.json"
    adapters = [
        {"name": "Storage", "ipv4": ["192.168.50.11/24"]},
        {"name": "Ethernet", "ipv4": ["10.20.0.11/22"]},
    ]
    inventory = {"all": {"hosts": {"rdsh01": sim_host(state, features=["rds"], adapters=adapters)}}}
    rng = [{"start": "10.20.1.0", "end": "10.20.2.243", "size": 500}]
    log = tmp_path / "calls.jsonl"
    task = {"sessionnet.virtual_ip.vip_address_binding": {"ranges": rng}}
    checked = run_playbook(
        [dict(task, name="bind")], inventory, check=True, env={"SESSIONNET_GATEWAY_LOG": str(log)}
    )
    res = checked.result("bind")
    assert checked.rc == 0 and res["changed"] is True and res["added"] == ["10.20.1.0-10.20.2.243"]
    assert res["diff"]["after"]["addresses"] == [
        "10.20.0.11/22 (source)",
        "10.20.1.0-10.20.2.243/22 (SkipAsSource)",
    ]
    assert all(len(a["ipv4"]) == 1 for a in json.loads(state.read_text())["adapters"])

    applied = run_playbook([dict(task, name="bind")], inventory, env={"SESSIONNET_GATEWAY_LOG": str(log)})
    res = applied.result("bind")
    assert applied.rc == 0 and res["changed"] is True and res["addresses"] == 500
    assert res["adapter"]["name"] == "Ethernet" and res["subnet"] == "10.20.0.0/22"
    calls = [json.loads(line)["module"] for line in log.read_text().splitlines()]
    assert calls == [
        "vip_info",
        "vip_address_state",
        "vip_info",
        "vip_address_state",
    ]  # check run, then real run
    ipv4 = json.loads(state.read_text())["adapters"][1]["ipv4"]
    assert len(ipv4) == 501 and sum(1 for ip in ipv4 if ip["skip_as_source"]) == 500
    assert all(ip["prefix_length"] == 22 for ip in ipv4)

    again = run_playbook([dict(task, name="bind")], inventory)
    assert again.result("bind")["changed"] is False

    gone = run_playbook(
        [{"name": "unbind", "sessionnet.virtual_ip.vip_address_binding": {"ranges": rng, "state": "absent"}}],
        inventory,
    )
    res = gone.result("unbind")
    assert gone.rc == 0 and res["removed"] == ["10.20.1.0-10.20.2.243"]
    assert json.loads(state.read_text())["adapters"][1]["ipv4"] == [
        {"address": "10.20.0.11", "prefix_length": 22, "skip_as_source": False}
    ]


BINDING_REFUSALS: list[tuple[list[dict[str, Any]], list[dict[str, Any]], str]] = [
    (
        [{"name": "Ethernet", "ipv4": ["10.30.0.11/24"]}],
        [{"start": "10.20.0.200", "end": "10.20.0.209"}],
        "no adapter",
    ),
    (
        [{"name": "A", "ipv4": ["10.20.0.11/24"]}, {"name": "B", "ipv4": ["10.20.0.12/24"]}],
        [{"start": "10.20.0.200", "end": "10.20.0.209"}],
        "several adapters",
    ),
    (
        [{"name": "Ethernet", "ipv4": ["10.20.0.11/24"]}],
        [{"start": "10.20.0.5", "end": "10.20.0.20"}],
        "source (primary)",
    ),
    (
        [{"name": "Ethernet", "ipv4": ["10.20.0.11/24"]}],
        [{"start": "10.20.0.250", "end": "10.20.0.255"}],
        "broadcast",
    ),
    ([{"name": "Ethernet", "ipv4": ["10.20.0.11/24"]}], [{"start": "10.20.0.250"}], "end"),
    (
        [{"name": "Ethernet", "ipv4": ["10.20.0.11/24"], "dhcp": True}],
        [{"start": "10.20.0.200", "end": "10.20.0.209"}],
        "gets its IPv4 address from DHCP",
    ),
]


def test_binding_refusals_change_nothing(run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path) -> None:
    hosts = {}
    for i, (adapters, ranges, _) in enumerate(BINDING_REFUSALS):
        hosts[f"h{i}"] = dict(
            sim_host(tmp_path / f"h{i}.json", features=["rds"], adapters=adapters), bad_ranges=ranges
        )
    task = {"name": "bind", "sessionnet.virtual_ip.vip_address_binding": {"ranges": "{{ bad_ranges }}"}}
    run = run_playbook([task], {"all": {"hosts": hosts}})
    assert run.rc != 0
    for i, (_, _, message) in enumerate(BINDING_REFUSALS):
        res = run.result("bind", f"h{i}")
        assert res["failed"] is True and message in res["msg"], (i, res["msg"])
        state = tmp_path / f"h{i}.json"
        if state.exists():
            assert all(
                not ip["skip_as_source"]
                for a in json.loads(state.read_text())["adapters"]
                for ip in a["ipv4"]
            )


def farm_inventory(tmp_path: pathlib.Path) -> dict[str, Any]:
    text = (ROOT / "extensions" / "molecule" / "vip_ranges" / "inventory" / "hosts.yml").read_text()
    inventory = yaml.safe_load(text)
    inventory["all"]["vars"]["vip_ranges_farm_dir"] = str(tmp_path / "farm")
    return inventory


def role_play(check: bool = False, raise_rdsh01: int | None = None) -> list[dict[str, Any]]:
    play: dict[str, Any] = {
        "name": "farm",
        "hosts": "session_hosts",
        "gather_facts": False,
        "roles": ["sessionnet.virtual_ip.vip_ranges"],
    }
    if raise_rdsh01 is not None:
        play["pre_tasks"] = [
            {
                "name": "raise",
                "ansible.builtin.set_fact": {"vip_ranges_max_sessions": raise_rdsh01},
                "when": "inventory_hostname == 'rdsh01'",
            }
        ]
    if check:
        play["check_mode"] = True
    return [play]


def farm_state(tmp_path: pathlib.Path) -> dict[str, Any]:
    out = {}
    for host in ("dhcp01", "rdsh01", "rdsh02", "rdsh03"):
        data = json.loads((tmp_path / "farm" / f"{host}.json").read_text())
        out[host] = {"adapters": data["adapters"], "dhcp": data["dhcp"]}
    return out


BINDING = "sessionnet.virtual_ip.vip_ranges : Bind this host's range to the adapter in its subnet"
EXCLUSIONS = "sessionnet.virtual_ip.vip_ranges : Reserve the carved ranges outside the DHCP pools"


def test_role_converges_is_idempotent_and_check_mode_shows_exactly_the_change(
    run_playbook: Any, tmp_path: pathlib.Path
) -> None:
    inventory = farm_inventory(tmp_path)
    playbook = tmp_path / "site.yml"
    playbook.write_text(yaml.safe_dump(role_play()))
    first = run_playbook(str(playbook), inventory)
    assert first.rc == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert {r["_host"]: r["added"] for r in first.results(BINDING)} == {
        "rdsh01": ["10.20.0.200-10.20.0.221"],
        "rdsh02": ["10.20.0.50-10.20.0.82"],
        "rdsh03": ["10.20.0.163-10.20.0.192"],
    }
    assert (tmp_path / "farm" / "svg" / "10.20.0.0_24.svg").exists()
    converged = farm_state(tmp_path)
    assert {"start_range": "10.20.0.163", "end_range": "10.20.0.192"} in converged["dhcp01"]["dhcp"][
        "scopes"
    ][0]["exclusions"]

    second = run_playbook(str(playbook), inventory)
    assert second.rc == 0 and second.output["stats"]
    assert all(s["changed"] == 0 for s in second.output["stats"].values()), second.output["stats"]
    assert farm_state(tmp_path) == converged

    raised = tmp_path / "raise.yml"
    raised.write_text(yaml.safe_dump(role_play(check=True, raise_rdsh01=25)))
    checked = run_playbook(str(raised), inventory)
    assert checked.rc == 0, checked.stdout[-3000:]
    changes = {r["_host"]: (r["changed"], r["added"], r["removed"]) for r in checked.results(BINDING)}
    assert changes == {
        "rdsh01": (True, ["10.20.0.222-10.20.0.227"], []),
        "rdsh02": (False, [], []),
        "rdsh03": (False, [], []),
    }
    diff = checked.result(BINDING, "rdsh01")["diff"]
    assert diff["before"]["addresses"][-1] == "10.20.0.200-10.20.0.221/24 (SkipAsSource)"
    assert diff["after"]["addresses"][-1] == "10.20.0.200-10.20.0.227/24 (SkipAsSource)"
    assert checked.results(EXCLUSIONS)[0].get("skipped") is True
    assert {h: s["changed"] for h, s in checked.output["stats"].items()} == {
        "rdsh01": 1,
        "rdsh02": 0,
        "rdsh03": 0,
    }
    assert farm_state(tmp_path) == converged  # check mode changed nothing


def test_address_state_on_a_dhcp_adapter_fails_with_windows_message_and_progress(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    """vip_address_state used on its own (no binding plan): Windows refuses a static address on a
    DHCP-enabled interface; the failure keeps the progress the Windows side reported."""
    state = tmp_path / "vda.json"
    adapters = [{"name": "Ethernet", "ipv4": ["10.20.0.11/24"], "dhcp": True}]
    inventory = {"all": {"hosts": {"vda01": sim_host(state, features=["rds"], adapters=adapters)}}}
    task = {
        "name": "add",
        "sessionnet.virtual_ip.vip_address_state": {
            "interface_index": 10,
            "prefix_length": 24,
            "present": ["10.20.0.200", "10.20.0.201"],
        },
    }
    run = run_playbook([task], inventory)
    res = run.result("add")
    assert run.rc != 0 and res["failed"] is True and res["changed"] is False
    assert "Inconsistent parameters PolicyStore PersistentStore and Dhcp Enabled" in res["msg"]
    assert res["progress"] == {"total": 2, "done": 0}
    assert [ip["address"] for ip in json.loads(state.read_text())["adapters"][0]["ipv4"]] == ["10.20.0.11"]
