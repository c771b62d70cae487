"""Listed programs are translated however they start (process-events connector).

No ``vipctl run`` here: a shell places itself in a session (the engine's session cgroup, or a
logind session scope) and *then* executes the listed program, as a desktop or a terminal
would. The engine sees the ``execve`` and translates the process by its real executable.

The process-events connector exists in the initial network namespace only, so here the
engine runs there (``assign_addresses: false``; the test puts the VIPs on the scratch
namespace's interface) while the programs run in the scratch namespace.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.linux import Assigner
from sessionnet_vip.engine.linux.cgroups import find_cgroup2
from sessionnet_vip.engine.linux.lab import Lab

from .conftest import AGENT, PYTHON, VIPS, Agent, EngineProc, in_netns


@pytest.fixture
def vips(lab: Lab) -> Iterator[None]:
    assigner = Assigner(netns=lab.name)
    assigner.assign(VIPS)
    yield
    assigner.release()


def start_in_cgroup(lab: Lab, cgroup: Path) -> Agent:
    """``sh`` joins ``cgroup``, then executes the (listed) Python agent: no engine involved."""
    script = f'echo $$ > {cgroup}/cgroup.procs && echo "{{}}" >&2 && exec {PYTHON} {AGENT}'
    proc = subprocess.Popen(
        in_netns(lab, ["/bin/sh", "-c", script]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Agent(proc)


def wait_translated(eng: EngineProc, pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(pid in s["translated_pids"] for s in eng.vipctl("sessions")):
            return True
        time.sleep(0.05)
    return False


def test_program_executed_inside_a_session_is_translated(lab: Lab, vips: None, engine_factory: Any) -> None:
    eng = engine_factory(None, data_plane={"assign_addresses": False})
    eng.wait_ready()
    cgroup = Path(eng.vipctl("logon", "1")["data_plane"]["cgroup"])
    agent = start_in_cgroup(lab, cgroup)
    try:
        pid = agent.do("pid")["pid"]
        assert wait_translated(eng, pid), "".join(eng.lines)
        assert agent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == VIPS[0]
        assert str(pid) in (cgroup / "solo" / "cgroup.procs").read_text().split()
    finally:
        agent.stop()


def test_program_started_in_a_logind_session_is_translated(
    lab: Lab, vips: None, engine_factory: Any, tmp_path: Path
) -> None:
    mount = find_cgroup2()
    assert mount is not None
    # A stand-in for systemd's user-1000.slice/session-5.scope and logind's state file.
    scope = mount.path / f"snv-logind-{os.getpid()}" / "user-1000.slice" / "session-5.scope"
    scope.mkdir(parents=True)
    sessions_dir = tmp_path / "logind"
    sessions_dir.mkdir()
    (sessions_dir / "5").write_text("USER=alice\nUID=1000\nSTATE=active\n")
    eng = engine_factory(
        None,
        session_provider="logind",
        data_plane={
            "logind_sessions_dir": str(sessions_dir),
            "watch_seconds": 3600,
            "assign_addresses": False,
        },
    )
    eng.wait_ready()
    agent = start_in_cgroup(lab, scope)
    try:
        pid = agent.do("pid")["pid"]
        assert wait_translated(eng, pid), "".join(eng.lines)
        bound = agent.do("bind", host="0.0.0.0", port=0)
        assert bound.get("sockname", [None])[0] in VIPS, bound
        leases = eng.vipctl("leases")
        assert [lease["session_id"] for lease in leases] == [5]
    finally:
        agent.stop()
        for leaf in sorted(scope.parent.parent.rglob("*"), key=lambda p: -len(p.parts)):
            if leaf.is_dir():
                leaf.rmdir()
        scope.parent.parent.rmdir()
