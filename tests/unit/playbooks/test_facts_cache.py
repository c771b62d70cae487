"""Facts once per host: vip_info's answer cached per play (or run), kept true by our own writes.

Real ansible-playbook against simulated hosts; the gateway's call log counts round trips.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml

RDS = {
    "sessionnet.virtual_ip.rds_ip_virtualization": {"mode": "per_session", "adapter_subnet": "10.20.0.0/24"}
}
PREFER = {"sessionnet.virtual_ip.citrix_prefer_loopback": {"processes": ["ctiagent.exe"]}}


def _calls(log: pathlib.Path) -> list[tuple[str, str]]:
    return [(e["host"], e["module"]) for e in map(json.loads, log.read_text().splitlines())]


def _inventory(sim_host: Any, tmp_path: pathlib.Path, **extra: Any) -> dict[str, Any]:
    hosts = {
        h: dict(sim_host(tmp_path / f"{h}.json", features=["rds", "citrix_vda"]), **extra) for h in ("a", "b")
    }
    return {"all": {"hosts": hosts}}


def _playbook(tmp_path: pathlib.Path, plays: list[list[dict[str, Any]]]) -> str:
    path = tmp_path / "plays.yml"
    path.write_text(
        yaml.safe_dump(
            [
                {"name": f"play {i}", "hosts": "all", "gather_facts": False, "tasks": t}
                for i, t in enumerate(plays)
            ],
            sort_keys=False,
        )
    )
    return str(path)


def test_one_facts_read_per_host_per_play_and_reads_see_our_writes(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    log = tmp_path / "calls.jsonl"
    info = {"name": "read", "sessionnet.virtual_ip.vip_info": {}, "register": "info"}
    plays = [[dict(RDS, name="rds"), dict(PREFER, name="prefer"), info], [dict(RDS, name="rds again")]]
    run = run_playbook(
        _playbook(tmp_path, plays), _inventory(sim_host, tmp_path), env={"SESSIONNET_GATEWAY_LOG": str(log)}
    )
    assert run.rc == 0, run.stdout[-3000:]
    calls = _calls(log)
    for host in ("a", "b"):
        mine = [m for h, m in calls if h == host]
        # play 1: one read, two change calls (no re-read after our own write); play 2: a fresh read
        assert mine == ["vip_info", "registry_state", "registry_state", "vip_info", "registry_state"], mine
        read = run.result("read", host)
        assert read["cached"] is True
        assert read["rds_ip_virtualization"]["effective"]["enabled"] is True  # our write, seen in the cache
        assert read["citrix"]["prefer_loopback_processes"] == ["ctiagent.exe"]
    assert all(r["changed"] is False for r in run.results("rds again"))


def test_run_scope_spans_plays_and_off_reads_every_time(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    plays = [[dict(RDS, name="rds")], [dict(RDS, name="rds again")]]
    for scope, expected in (
        ("run", ["vip_info", "registry_state", "registry_state"]),
        ("off", ["vip_info", "registry_state", "vip_info", "registry_state"]),
    ):
        log = tmp_path / f"{scope}.jsonl"
        state = tmp_path / scope
        state.mkdir()
        inv = _inventory(sim_host, state, sessionnet_vip_facts_cache_scope=scope)
        run = run_playbook(_playbook(tmp_path, plays), inv, env={"SESSIONNET_GATEWAY_LOG": str(log)})
        assert run.rc == 0, run.stdout[-3000:]
        assert [m for h, m in _calls(log) if h == "a"] == expected, scope


def test_a_write_we_cannot_follow_drops_the_cache(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    log = tmp_path / "calls.jsonl"
    sub = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP\Sub"
    plays = [
        [
            dict(RDS, name="rds"),
            {
                "name": "write below a cached key",
                "sessionnet.virtual_ip.registry_state": {
                    "values": [{"path": sub, "name": "x", "type": "dword", "data": 1}]
                },
            },
            dict(RDS, name="rds again"),
        ]
    ]
    run = run_playbook(
        _playbook(tmp_path, plays), _inventory(sim_host, tmp_path), env={"SESSIONNET_GATEWAY_LOG": str(log)}
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert [m for h, m in _calls(log) if h == "a"] == [
        "vip_info",
        "registry_state",
        "registry_state",
        "vip_info",
        "registry_state",
    ]


def test_bad_scope_is_refused_naming_the_variable(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    inv = _inventory(sim_host, tmp_path, sessionnet_vip_facts_cache_scope="forever")
    run = run_playbook([dict(RDS, name="rds")], inv)
    assert run.rc != 0
    msg = run.result("rds", "a")["msg"]
    assert "sessionnet_vip_facts_cache_scope" in msg and "play" in msg
    assert not (tmp_path / "a.json").exists() or "EnableVirtualIP" not in (tmp_path / "a.json").read_text()
