"""End to end: ``vipctl serve`` (a subprocess, real kernel hooks) + ``vipctl run`` + real servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.addressing import virtual_loopback_address
from sessionnet_vip.engine.linux.lab import Lab

from .conftest import AGENT, PYTHON, VIPS, env

LOOP = {1: str(virtual_loopback_address(1)), 2: str(virtual_loopback_address(2))}

LOOKUP = (
    "import json, socket\n"
    "host = socket.gethostname()\n"
    "def first(name):\n"
    "    return socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]\n"
    "print(json.dumps({'localhost': first('localhost'), 'host': first(host)}))\n"
)


def test_two_sessions_share_ports_and_reach_only_their_own_loopback(lab: Lab, engine_factory: Any) -> None:
    eng = engine_factory(lab)
    eng.wait_ready()
    st = eng.vipctl("status")
    assert st["data_plane"]["active"] is True, st["data_plane"]
    assert st["data_plane"]["assigned_addresses"] == {}  # a VIP goes on the interface when first used
    servers = {n: engine_factory.run(eng, n) for n in (1, 2)}
    assert set(eng.vipctl("status")["data_plane"]["assigned_addresses"]) == set(VIPS)
    for n, server in servers.items():
        assert server.placed["translated"] is True and server.placed["exe"] == PYTHON
        assert server.placed["vip"] == VIPS[n - 1]
        public = server.do("bind", host="0.0.0.0", port=9000, listen=True)
        local = server.do("bind", host="127.0.0.1", port=9001, listen=True)
        assert public["ok"] and public["sockname"] == [VIPS[n - 1], 9000]
        assert local["ok"] and local["sockname"] == [LOOP[n], 9001]
        server.local_sid = local["sid"]
    for n in (1, 2):
        client = engine_factory.run(eng, n)
        conn = client.do("connect", host="127.0.0.1", port=9001)
        assert conn["ok"] and conn["peername"] == [LOOP[n], 9001]
        accepted = servers[n].do("accept", sid=servers[n].local_sid, tag=f"server-{n}")
        assert accepted["ok"] and accepted["peer"][0] == LOOP[n]
        assert client.do("recv", sid=conn["sid"])["data"] == f"server-{n}"
        assert client.stop() == 0
    sessions = {s["session_id"]: s for s in eng.vipctl("sessions")}
    assert set(sessions) == {1, 2}
    assert all(len(s["translated_pids"]) >= 1 for s in sessions.values())


def test_unlisted_program_is_placed_but_untouched(lab: Lab, engine_factory: Any, tmp_path: Path) -> None:
    other = shutil.which("python3", path="/usr/bin:/bin")
    if other is None or os.path.realpath(other) == PYTHON:
        pytest.skip("needs a second Python interpreter (/usr/bin/python3) that is not on the process list")
    eng = engine_factory(lab)
    eng.wait_ready()
    agent = engine_factory.run(eng, 1, [other, str(AGENT)])
    assert agent.placed["translated"] is False and agent.placed["mode"] == "none"
    assert agent.do("bind", host="0.0.0.0", port=9000)["sockname"] == ["0.0.0.0", 9000]
    assert agent.do("bind", host="127.0.0.1", port=9001)["sockname"] == ["127.0.0.1", 9001]


@pytest.mark.parametrize("inherit", [False, True], ids=["no-inherit", "inherit"])
def test_child_translated_only_with_inherit_children(lab: Lab, engine_factory: Any, inherit: bool) -> None:
    eng = engine_factory(lab, inherit_children=inherit)
    eng.wait_ready()
    parent = engine_factory.run(eng, 1)
    assert parent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == VIPS[0]
    replies = parent.do(
        "child",
        commands=[
            {"op": "bind", "host": "0.0.0.0", "port": 0},
            {"op": "bind", "host": "127.0.0.1", "port": 0},
        ],
    )["replies"]
    assert replies[0]["sockname"][0] == (VIPS[0] if inherit else "0.0.0.0")
    assert replies[1]["sockname"][0] == (LOOP[1] if inherit else "127.0.0.1")


def test_name_lookups_answer_with_the_session_addresses(lab: Lab, engine_factory: Any) -> None:
    eng = engine_factory(lab)
    eng.wait_ready()
    seen = {}
    for n in (1, 2):
        out = subprocess.run(
            eng.argv("run", "--session", str(n), "--", PYTHON, "-c", LOOKUP),
            capture_output=True,
            text=True,
            env=env(),
            check=True,
            timeout=60,
        )
        seen[n] = json.loads(out.stdout)
    assert seen[1] == {"localhost": LOOP[1], "host": VIPS[0]}
    assert seen[2] == {"localhost": LOOP[2], "host": VIPS[1]}
    # the host's own view is unchanged (the private mount namespace did not leak)
    assert Path("/etc/hosts").read_text().find("sessionnet-vip") == -1


def test_logoff_releases_and_removes_the_session(lab: Lab, engine_factory: Any) -> None:
    eng = engine_factory(lab)
    eng.wait_ready()
    res = eng.vipctl("logon", "4", "--user", "alice")
    assert res["vip"] == VIPS[0] and res["data_plane"]["active"] is True
    cgroup = Path(res["data_plane"]["cgroup"])
    assert cgroup.is_dir()
    off = eng.vipctl("logoff", "4")
    assert off["released"] is True and off["address"] == VIPS[0]
    assert not cgroup.exists()
    assert eng.vipctl("status")["in_use"] == 0


def test_engine_stop_removes_addresses_and_hooks(lab: Lab, engine_factory: Any) -> None:
    eng = engine_factory(lab)
    eng.wait_ready()
    root = Path(eng.vipctl("status")["data_plane"]["root"])
    assert root.is_dir()
    assert eng.stop() == 0
    assert not root.exists()
    out = subprocess.run(
        ["ip", "-n", lab.name, "-4", "-o", "addr"], capture_output=True, text=True, check=True
    )
    assert not any(vip in out.stdout for vip in VIPS)


def test_pool_address_on_another_interface_is_refused(lab: Lab, engine_factory: Any) -> None:
    subprocess.run(["ip", "-n", lab.name, "addr", "add", f"{VIPS[1]}/32", "dev", "lo"], check=True)
    try:
        eng = engine_factory(lab)
        code = eng.proc.wait(timeout=60)
        eng.ready.wait(30)
        log = "".join(eng.lines)
        assert code != 0
        assert f"pool address {VIPS[1]} is already on interface lo" in log
    finally:
        subprocess.run(["ip", "-n", lab.name, "addr", "del", f"{VIPS[1]}/32", "dev", "lo"], check=True)


def test_allocator_only_when_the_probe_fails(engine_factory: Any, tmp_path: Path) -> None:
    """No kernel needed: cgroup_parent points at a directory that is not cgroup v2."""
    not_cgroup = tmp_path / "not-a-cgroup"
    not_cgroup.mkdir()
    eng = engine_factory(None, data_plane={"cgroup_parent": str(not_cgroup)})
    eng.wait_ready()
    dp = eng.vipctl("status")["data_plane"]
    assert dp["active"] is False
    assert f"cgroup_parent {not_cgroup} is not a directory of the cgroup v2 hierarchy" in dp["reason"]
    assert "allocator only" in dp["reason"]
    out = subprocess.run(
        eng.argv("run", "--session", "7", "-v", "--", PYTHON, "-c", "print('ran')"),
        capture_output=True,
        text=True,
        env=env(),
        check=True,
        timeout=60,
    )
    assert out.stdout == "ran\n"
    assert "data plane is inactive" in out.stderr
    assert eng.vipctl("leases")[0]["session_id"] == 7


def test_run_reports_a_missing_command(engine_factory: Any, tmp_path: Path) -> None:
    eng = engine_factory(None, data_plane={"enabled": False})
    eng.wait_ready()
    out = subprocess.run(
        eng.argv("run", "--session", "1", "--", str(tmp_path / "missing")),
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert out.returncode == 2 and "was not found" in out.stderr
