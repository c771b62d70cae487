"""The agent in-process: config, hosts files, command resolution, logind following, cgroups."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.engine.agent import AgentEngine, LogindFollower, decide_exe, read_logind_sessions
from sessionnet_vip.engine.agentconfig import parse_data_plane
from sessionnet_vip.engine.config import parse_config
from sessionnet_vip.engine.names import render_hosts
from sessionnet_vip.engine.policy import Mode, Policy
from sessionnet_vip.engine.runner import resolve_command
from sessionnet_vip.engine.transport import PeerInfo
from sessionnet_vip.errors import VipError

from .conftest import PYTHON

LOOP = ipaddress.IPv4Address("127.0.0.4")
VIP = ipaddress.IPv4Address("192.0.2.11")


def _config(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "pool": ["192.0.2.11-192.0.2.12"],
        "state_dir": str(tmp_path / "s"),
        "control_socket": str(tmp_path / "s" / "c.sock"),
        **extra,
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"enabled": "yes"}, "'data_plane.enabled' is 'yes'; use auto, true or false"),
        ({"nope": 1}, "'data_plane' has unknown key(s) nope"),
        ({"root_name": "a/b"}, "'data_plane.root_name' is 'a/b'"),
        ({"cgroup_parent": "rel"}, "'data_plane.cgroup_parent' is 'rel'; give an absolute path"),
        ({"watch_seconds": 0}, "'data_plane.watch_seconds' is 0"),
        ({"assign_addresses": "no"}, "'data_plane.assign_addresses' is 'no'; give true or false"),
        ([], "'data_plane' is []; give a mapping"),
    ],
)
def test_bad_data_plane_settings_name_the_key(value: object, message: str) -> None:
    with pytest.raises(
        VipError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        parse_data_plane(value)


def test_data_plane_settings_round_trip(tmp_path: Path) -> None:
    cfg = parse_config(_config(tmp_path, data_plane={"enabled": False, "assign_addresses": False}))
    assert cfg.data_plane.enabled == "off" and cfg.data_plane.assign_addresses is False
    assert cfg.to_json()["data_plane"]["enabled"] is False
    assert parse_config(_config(tmp_path)).data_plane.enabled == "auto"


@given(
    sid=st.integers(min_value=1, max_value=60000),
    extra=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=4),
)
def test_hosts_file_maps_local_names_to_the_session(sid: int, extra: list[str]) -> None:
    base = "127.0.0.1 localhost myhost\n::1 localhost ip6-localhost\n10.0.0.5 db " + " ".join(extra) + "\n"
    text = render_hosts(base, sid, LOOP, VIP, ("myhost.example", "myhost"))
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            entries.setdefault(name, []).append(fields[0])
    assert entries["localhost"] == [str(LOOP)]
    assert entries["myhost"] == [str(VIP)] and entries["myhost.example"] == [str(VIP)]
    assert entries["ip6-localhost"] == ["::1"] and "10.0.0.5" in entries["db"]


def test_hosts_file_without_vip_keeps_the_host_name() -> None:
    text = render_hosts("127.0.1.1 myhost\n", 3, LOOP, None, ("myhost",))
    assert "127.0.1.1 myhost" in text and f"{LOOP}\tlocalhost" in text


def test_resolve_command_follows_symlinks_and_shebangs(tmp_path: Path) -> None:
    link = tmp_path / "py"
    link.symlink_to(PYTHON)
    assert resolve_command(str(link)) == str(Path(PYTHON))
    script = tmp_path / "tool"
    script.write_text(f"#!{link} -u\nprint(1)\n")
    script.chmod(0o755)
    assert resolve_command(str(script)) == str(Path(PYTHON))
    assert resolve_command("tool", path=str(tmp_path)) == str(Path(PYTHON))
    with pytest.raises(VipError, match="was not found"):
        resolve_command("no-such-program-here", path=str(tmp_path))


def test_decide_matches_a_symlinked_entry_by_its_real_path(tmp_path: Path) -> None:
    link = tmp_path / "python-link"
    link.symlink_to(PYTHON)
    policy = Policy.build([str(link)])
    assert decide_exe(policy, Path(PYTHON)) == (Mode.VIRTUAL_IP, str(link))
    assert decide_exe(policy, Path("/bin/sh"))[0] is Mode.NONE


def test_logind_state_files_are_parsed(tmp_path: Path) -> None:
    (tmp_path / "5").write_text("UID=1000\nUSER=alice\nLEADER=4242\nSTATE=active\n")
    (tmp_path / "6").write_text("UID=1001\nUSER=bob\nSTATE=closing\n")
    (tmp_path / "c1").write_text("USER=gdm\n")
    found = read_logind_sessions(tmp_path)
    assert found is not None and set(found) == {5, 6}
    assert found[5].user == "alice" and found[5].uid == 1000 and found[5].leader == 4242
    assert LogindFollower(tmp_path).live_sessions() == frozenset({5})
    assert read_logind_sessions(tmp_path / "missing") is None


def _agent(tmp_path: Path, **extra: object) -> AgentEngine:
    cfg = parse_config(_config(tmp_path, **extra))
    return AgentEngine.open_agent(cfg, durable=False)


def test_logind_sessions_are_followed_allocator_only(tmp_path: Path) -> None:
    sessions = tmp_path / "logind"
    sessions.mkdir()
    engine = _agent(
        tmp_path,
        session_provider="logind",
        hold_seconds=0,
        data_plane={"enabled": False, "logind_sessions_dir": str(sessions)},
    )
    try:
        engine.start_agent(watch=False)
        assert engine.provider.name == "logind"
        (sessions / "5").write_text("UID=1000\nUSER=alice\nLEADER=1\nSTATE=active\n")
        assert engine.follow_logind() == ([5], [])
        lease = engine.store.lease_of(5)
        assert lease is not None and lease.user == "alice" and str(lease.address) == "192.0.2.11"
        (sessions / "5").write_text("UID=1000\nUSER=alice\nSTATE=closing\n")
        assert engine.follow_logind() == ([], [5])
        assert engine.status()["in_use"] == 0
        assert engine.status()["data_plane"]["active"] is False
    finally:
        engine.stop_agent()
        engine.close()


def test_missing_process_list_entry_is_a_warning(tmp_path: Path) -> None:
    engine = _agent(tmp_path, processes=["/opt/nowhere/bin/app"], data_plane={"enabled": False})
    try:
        engine.start_agent(watch=False)
        warnings = engine.status()["data_plane"]["process_list_warnings"]
        assert any("/opt/nowhere/bin/app does not exist on disk" in w for w in warnings)
    finally:
        engine.stop_agent()
        engine.close()


def test_required_data_plane_refuses_to_start_without_it(tmp_path: Path) -> None:
    engine = _agent(tmp_path, data_plane={"enabled": True, "cgroup_parent": str(tmp_path)})
    try:
        with pytest.raises(VipError, match="'data_plane.enabled' is true but the data plane cannot run"):
            engine.start_agent(watch=False)
    finally:
        engine.close()


def test_vanished_session_cgroup_is_recreated(kernel_ready: None, tmp_path: Path) -> None:
    engine = _agent(
        tmp_path,
        processes=[PYTHON],
        data_plane={"assign_addresses": False, "root_name": f"snv-unit-{os.getpid()}"},
    )
    try:
        engine.start_agent(watch=False)
        res = engine.request({"op": "logon", "session": 9})
        assert res["ok"], res
        cgroup = Path(res["result"]["data_plane"]["cgroup"])
        (cgroup / "vip").rmdir()
        (cgroup / "solo").rmdir()
        cgroup.rmdir()
        assert engine.request({"op": "sessions"})["result"][0]["cgroup_present"] is False
        assert engine.check_cgroups() == [9]
        assert (cgroup / "vip").is_dir()
        proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
        try:
            placed = engine.request({"op": "attach", "session": 9, "pid": proc.pid})
            assert placed["ok"] and placed["result"]["translated"] is True
            assert str(proc.pid) in (cgroup / "solo" / "cgroup.procs").read_text().split()
        finally:
            proc.communicate(b"")
        assert engine.plane is not None and proc.pid in engine.plane.prune()
    finally:
        engine.stop_agent()
        engine.close()


def test_allocate_defers_the_data_plane_to_the_first_process(kernel_ready: None, tmp_path: Path) -> None:
    """``allocate`` records the session; its cgroups are made when its first process is placed,
    and a release of a session that never ran one has nothing to evacuate. ``logon`` still
    makes the cgroup it hands out."""
    engine = _agent(
        tmp_path,
        processes=[PYTHON],
        hold_seconds=0,
        data_plane={"assign_addresses": False, "root_name": f"snv-unit-l-{os.getpid()}"},
    )
    try:
        engine.start_agent(watch=False)
        assert engine.plane is not None
        root = engine.plane.root
        res = engine.request({"op": "allocate", "session": 21, "user": "alice"})
        assert res["ok"] and res["result"]["data_plane"] == {"active": True, "cgroup": None}, res
        assert 21 in engine.known and not (root / "session-21").exists()
        off = engine.request({"op": "release", "session": 21})
        assert off["ok"] and off["result"]["released"] is True and off["result"]["evacuated"] == [], off
        assert 21 not in engine.known
        # allocated, then a process attached: the session is made then, and removed at release
        assert engine.request({"op": "allocate", "session": 22})["ok"]
        proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
        try:
            placed = engine.request({"op": "attach", "session": 22, "pid": proc.pid})
            assert placed["ok"] and placed["result"]["translated"] is True, placed
            cgroup = engine.plane.sessions[22].cgroup
            assert str(proc.pid) in (cgroup / "solo" / "cgroup.procs").read_text().split()
            assert engine.hosts_file(22).is_file()
            off = engine.request({"op": "release", "session": 22})
            assert off["ok"] and off["result"]["evacuated"] == [proc.pid], off
            assert not cgroup.exists() and not engine.hosts_file(22).exists()
        finally:
            proc.communicate(b"")
        # logon hands out its cgroup, so it exists at once
        on = engine.request({"op": "logon", "session": 23})
        assert on["ok"] and Path(on["result"]["data_plane"]["cgroup"]).is_dir(), on
    finally:
        engine.stop_agent()
        engine.close()


def test_pool_outside_every_subnet_is_reported_not_fatal(kernel_ready: None, tmp_path: Path) -> None:
    from sessionnet_vip.engine.linux import Assigner

    # A documentation range (RFC 5737) that no interface of this machine holds, so that the
    # engine must report the pool as unassigned (and this test never adds host addresses).
    held = [a.interface_network.network for a in Assigner().addresses()]
    free = [
        net
        for net in map(ipaddress.IPv4Network, ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
        if not any(h.overlaps(net) for h in held)
    ]
    if not free:
        pytest.skip(
            "every RFC 5737 range is held by a host interface; this test must not add addresses to them"
        )
    first, second = str(free[0].network_address + 11), str(free[0].network_address + 12)
    engine = _agent(
        tmp_path, pool=[f"{first}-{second}"], data_plane={"root_name": f"snv-unit-a-{os.getpid()}"}
    )
    try:
        engine.start_agent(watch=False)
        dp = engine.status()["data_plane"]
        assert dp["active"] is True and dp["assigned_addresses"] == {}
        assert set(dp["unassigned_addresses"]) == {first, second}
        assert all("no interface has a subnet holding" in v for v in dp["unassigned_addresses"].values())
    finally:
        engine.stop_agent()
        engine.close()


def test_a_session_the_map_cannot_hold_is_refused_before_its_lease(
    kernel_ready: None, tmp_path: Path
) -> None:
    engine = _agent(
        tmp_path,
        processes=[PYTHON],
        data_plane={"assign_addresses": False, "root_name": f"snv-full-{os.getpid()}", "max_sessions": 1},
    )
    try:
        engine.start_agent(watch=False)
        assert engine.plane is not None and engine.plane.max_sessions == 1
        assert engine.request({"op": "logon", "session": 1})["ok"]
        refused = engine.request({"op": "logon", "session": 2})
        assert refused["ok"] is False
        assert "data_plane.max_sessions" in refused["error"] and "nothing was allocated" in refused["error"]
        assert [lease.session_id for lease in engine.store.leases()] == [1]  # no lease for session 2
        assert engine.request({"op": "logon", "session": 1})["ok"]  # the held session still works
        assert engine.request({"op": "logoff", "session": 1})["ok"]
        assert engine.request({"op": "logon", "session": 2})["ok"]  # room again
    finally:
        engine.stop_agent()
        engine.close()


def test_a_batch_enters_the_data_plane_after_its_commit(kernel_ready: None, tmp_path: Path) -> None:
    """Lease requests answered together (the control socket's batches): each session is added
    to or removed from the data plane after the batch's commit, in request order; ``logon``
    still hands out an existing cgroup, and ``max_sessions`` counts the batch's own logons."""
    engine = _agent(
        tmp_path,
        processes=[PYTHON],
        hold_seconds=0,
        data_plane={"assign_addresses": False, "root_name": f"snv-unit-b-{os.getpid()}", "max_sessions": 3},
    )
    root = PeerInfo(pid=1, uid=0, privileged=True)
    try:
        engine.start_agent(watch=False)
        assert engine.plane is not None
        replies = engine.handle_batch(
            [
                (req, root)
                for req in (
                    {"op": "logon", "session": 31, "user": "alice"},
                    {"op": "allocate", "session": 32},
                    {"op": "allocate", "session": 33},
                    {"op": "release", "session": 32},
                    {"op": "logon", "session": 34},  # 31, 32, 33 were counted: refused
                    {"op": "logon", "session": 31, "user": "alice"},
                )
            ]
        )
        assert [r["ok"] for r in replies] == [True, True, True, True, False, True], replies
        on, first, second, off, refused, again = replies
        assert Path(on["result"]["data_plane"]["cgroup"]).is_dir()
        assert (
            first["result"]["data_plane"]
            == second["result"]["data_plane"]
            == {"active": True, "cgroup": None}
        )
        assert off["result"]["released"] is True and off["result"]["evacuated"] == []
        assert "data_plane.max_sessions" in refused["error"]
        assert again["result"]["reused"] is True
        assert again["result"]["data_plane"] == on["result"]["data_plane"]
        assert set(engine.known) == {31, 33} and set(engine.plane.sessions) == {31}
        assert engine.store.lease_of(34) is None
        assert engine._batch_logons == set()
        assert engine.request({"op": "logon", "session": 34})["ok"]  # room after the batch
    finally:
        engine.stop_agent()
        engine.close()


@pytest.mark.parametrize(
    ("value", "message"), [(0, "from 1 to"), (True, "from 1 to"), (1 << 25, "from 1 to"), ("x", "from 1 to")]
)
def test_map_sizes_are_validated(value: object, message: str, tmp_path: Path) -> None:
    with pytest.raises(VipError, match=message):
        parse_config(_config(tmp_path, data_plane={"max_sessions": value}))


def test_a_symlinked_entry_lists_only_what_is_started_by_its_name(tmp_path: Path) -> None:
    real = Path(os.path.realpath(sys.executable))
    link = tmp_path / "httpd"
    link.symlink_to(real)
    policy = Policy.build([str(link)])
    assert decide_exe(policy, real, comm="httpd") == (Mode.VIRTUAL_IP, str(link))
    assert decide_exe(policy, real, comm=real.name[:15]) == (Mode.NONE, None)
    listed_real = Policy.build([str(real)])  # the real file listed: whatever name started it
    assert decide_exe(listed_real, real, comm="httpd") == (Mode.VIRTUAL_IP, str(real))


def test_entry_options_override_the_engines() -> None:
    policy = Policy.build(
        [{"path": "/usr/bin/redis-server", "report_original": True, "inherit_children": False}, "/usr/bin/x"],
        inherit_children=True,
        report_original=False,
    )
    assert policy.options_of("/usr/bin/redis-server") == (True, False)
    assert policy.options_of("/usr/bin/x") == (False, True)
    assert policy.to_json()[0]["report_original"] is True
    with pytest.raises(VipError, match="'report_original' is 'yes'; give true or false"):
        Policy.build([{"path": "/usr/bin/x", "report_original": "yes"}])
    with pytest.raises(VipError, match="optional 'mode'"):
        Policy.build([{"path": "/usr/bin/x", "isolate": True}])
