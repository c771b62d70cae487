"""Real-kernel tests of the Linux data plane: real servers, clients and sessions in a netns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.addressing import virtual_loopback_address
from sessionnet_vip.engine.linux import DataPlane, DataPlaneError, SessionOptions
from sessionnet_vip.engine.linux.lab import Lab
from sessionnet_vip.errors import VipError

from .conftest import AGENT, VIPS, two_sessions

LOOPBACKS = {1: str(virtual_loopback_address(1)), 2: str(virtual_loopback_address(2))}
VIP = {1: str(VIPS[0]), 2: str(VIPS[1])}


def serve(agent: Any) -> dict[str, Any]:
    """The hard-coded server of the issue: TCP 0.0.0.0:9000 and 127.0.0.1:9001, UDP 127.0.0.1:9002."""
    bound = {
        "any": agent.do("bind", host="0.0.0.0", port=9000, listen=True),
        "lo": agent.do("bind", host="127.0.0.1", port=9001, listen=True),
        "udp": agent.do("bind", proto="udp", host="127.0.0.1", port=9002),
    }
    for reply in bound.values():
        assert reply["ok"], bound
    return bound


def test_two_sessions_bind_same_ports_each_on_its_own_addresses(
    lab: Lab, plane: DataPlane, agents: Any
) -> None:
    two_sessions(plane)
    servers = {n: agents(n) for n in (1, 2)}
    bound = {n: serve(servers[n]) for n in (1, 2)}
    for n in (1, 2):
        assert bound[n]["any"] == {"ok": True, "sid": bound[n]["any"]["sid"], "sockname": [VIP[n], 9000]}
        assert bound[n]["lo"]["sockname"] == [LOOPBACKS[n], 9001]
        assert bound[n]["udp"]["sockname"] == [LOOPBACKS[n], 9002]
    listening = subprocess.run(
        ["ip", "netns", "exec", lab.name, "ss", "-Hltn"], capture_output=True, text=True, check=True
    ).stdout
    for n in (1, 2):
        assert f"{VIP[n]}:9000" in listening
        assert f"{LOOPBACKS[n]}:9001" in listening


def test_control_same_ports_conflict_without_sessions(agents: Any) -> None:
    """Without the data plane the two servers of the test above cannot both start."""
    first, second = agents(None), agents(None)
    serve(first)
    assert second.do("bind", host="127.0.0.1", port=9001, listen=True) == {"ok": False, "errno": "EADDRINUSE"}
    assert second.do("bind", host="0.0.0.0", port=9000, listen=True) == {"ok": False, "errno": "EADDRINUSE"}


def test_each_client_reaches_only_its_own_loopback_server(plane: DataPlane, agents: Any) -> None:
    two_sessions(plane)
    servers = {n: agents(n) for n in (1, 2)}
    bound = {n: serve(servers[n]) for n in (1, 2)}
    for n in (1, 2):
        client = agents(n)
        conn = client.do("connect", host="127.0.0.1", port=9001)
        assert conn["ok"], conn
        assert conn["peername"] == [LOOPBACKS[n], 9001]
        assert conn["sockname"][0] == LOOPBACKS[n]  # source bound to the session loopback
        accepted = servers[n].do("accept", sid=bound[n]["lo"]["sid"], tag=f"server-{n}")
        assert accepted["peer"][0] == LOOPBACKS[n]
        assert client.do("recv", sid=conn["sid"])["data"] == f"server-{n}"


def test_udp_to_localhost_goes_to_the_session_loopback(plane: DataPlane, agents: Any) -> None:
    two_sessions(plane)
    servers = {n: agents(n) for n in (1, 2)}
    bound = {n: serve(servers[n]) for n in (1, 2)}
    for n in (1, 2):
        client = agents(n)
        sent = client.do("sendto", host="127.0.0.1", port=9002, data=f"hello-{n}")
        assert sent["ok"], sent
        got = servers[n].do("recvfrom", sid=bound[n]["udp"]["sid"])
        assert got["data"] == f"hello-{n}"
        assert got["from"][0] == LOOPBACKS[n]  # source set by sendmsg4
        servers[n].do("reply_to", sid=bound[n]["udp"]["sid"], data=f"udp-server-{n}")
        answer = client.do("recvfrom", sid=sent["sid"])
        assert answer["data"] == f"udp-server-{n}"
        assert answer["from"] == [LOOPBACKS[n], 9002]  # the real address: report_original is off


def test_outgoing_connections_leave_from_the_session_vip(lab: Lab, plane: DataPlane, agents: Any) -> None:
    two_sessions(plane)
    outside = agents(None)  # a host-like server on the veth peer, outside every session
    peer = str(lab.peer_address.ip)
    listener = outside.do("bind", host=peer, port=9100, listen=True)
    for n in (1, 2):
        conn = agents(n).do("connect", host=peer, port=9100)
        assert conn["sockname"][0] == VIP[n]
        assert outside.do("accept", sid=listener["sid"], tag="x")["peer"][0] == VIP[n]


def test_isolate_loopback_refuses_another_sessions_loopback(plane: DataPlane, agents: Any) -> None:
    plane.add_session(1, VIPS[0], options=SessionOptions(isolate_loopback=True))
    plane.add_session(2, VIPS[1])  # not isolated
    servers = {n: agents(n) for n in (1, 2)}
    bound = {n: serve(servers[n]) for n in (1, 2)}
    isolated, open_client = agents(1), agents(2)
    assert isolated.do("connect", host=LOOPBACKS[2], port=9001) == {"ok": False, "errno": "EPERM"}
    assert isolated.do("sendto", host=LOOPBACKS[2], port=9002, data="x") == {"ok": False, "errno": "EPERM"}
    # Its own loopback, reached by 127.0.0.1 or by its address, still works.
    own = isolated.do("connect", host="127.0.0.1", port=9001)
    assert own["ok"], own
    assert isolated.do("connect", host=LOOPBACKS[1], port=9001)["ok"]
    # Session 2 is not isolated: it may reach session 1's loopback.
    reached = open_client.do("connect", host=LOOPBACKS[1], port=9001)
    assert reached["ok"], reached
    assert servers[1].do("accept", sid=bound[1]["lo"]["sid"], tag="s1")["ok"]
    # A process of session 1 that is not translated is isolated too.
    unlisted = agents(1, translated=False)
    assert unlisted.do("connect", host=LOOPBACKS[2], port=9001) == {"ok": False, "errno": "EPERM"}


def test_process_not_in_the_list_is_untouched(plane: DataPlane, agents: Any) -> None:
    two_sessions(plane)
    in_session = agents(1, translated=False)
    nowhere = agents(None)
    for agent in (in_session, nowhere):
        assert agent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == "0.0.0.0"
        assert agent.do("bind", host="127.0.0.1", port=0)["sockname"][0] == "127.0.0.1"
    server = agents(None)
    listener = server.do("bind", host="127.0.0.1", port=9200, listen=True)
    conn = in_session.do("connect", host="127.0.0.1", port=9200)
    assert conn["peername"] == ["127.0.0.1", 9200]
    assert server.do("accept", sid=listener["sid"], tag="t")["peer"][0] == "127.0.0.1"


@pytest.mark.parametrize("inherit", [False, True])
def test_child_translated_only_with_inherit_children(plane: DataPlane, agents: Any, inherit: bool) -> None:
    plane.add_session(1, VIPS[0], options=SessionOptions(inherit_children=inherit))
    parent = agents(1)
    assert parent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == VIP[1]
    result = parent.do(
        "child",
        commands=[
            {"op": "bind", "host": "0.0.0.0", "port": 0},
            {"op": "bind", "host": "127.0.0.1", "port": 0},
        ],
    )
    any_bind, lo_bind = result["replies"]
    assert any_bind["sockname"][0] == (VIP[1] if inherit else "0.0.0.0")
    assert lo_bind["sockname"][0] == (LOOPBACKS[1] if inherit else "127.0.0.1")


RAW_BIND_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct sockaddr_in a; socklen_t len = sizeof a;
    long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (syscall(SYS_bind, fd, &a, sizeof a) != 0) { perror("bind"); return 1; }
    syscall(SYS_getsockname, fd, &a, &len);
    printf("%s %d\n", inet_ntoa(a.sin_addr), ntohs(a.sin_port));
    return 0;
}
"""

RAW_BIND_PY = """
import ctypes, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(41, socket.AF_INET, socket.SOCK_STREAM, 0)
addr = struct.pack("=HH4s8x", socket.AF_INET, socket.htons(int(sys.argv[2])), socket.inet_aton(sys.argv[1]))
if libc.syscall(49, fd, addr, len(addr)) != 0:
    sys.exit("bind failed")
buf, size = ctypes.create_string_buffer(16), ctypes.c_uint(16)
libc.syscall(51, fd, buf, ctypes.byref(size))
_, port, ip = struct.unpack("=HH4s8x", buf.raw)
print(socket.inet_ntoa(ip), socket.ntohs(port))
"""


def _raw_binder(tmp_path: Path) -> list[str]:
    """A statically linked raw-syscall binary when gcc -static works, else raw syscalls via ctypes."""
    gcc = shutil.which("gcc")
    if gcc is not None:
        source = tmp_path / "rawbind.c"
        source.write_text(RAW_BIND_C)
        binary = tmp_path / "rawbind"
        built = subprocess.run([gcc, "-static", "-O1", "-o", str(binary), str(source)], capture_output=True)
        if built.returncode == 0:
            return [str(binary)]
    if sys.platform != "linux" or __import__("platform").machine() != "x86_64":
        pytest.skip("no gcc -static and the ctypes fallback knows x86_64 syscall numbers only")
    script = tmp_path / "rawbind.py"
    script.write_text(RAW_BIND_PY)
    return [sys.executable, str(script)]


def test_static_raw_syscall_binary_is_translated(lab: Lab, plane: DataPlane, tmp_path: Path) -> None:
    two_sessions(plane)
    binder = _raw_binder(tmp_path)
    for n in (1, 2):
        for host, expected in (("0.0.0.0", VIP[n]), ("127.0.0.1", LOOPBACKS[n])):
            proc = plane.spawn(n, lab.wrap([*binder, host, "9300"]), stdout=subprocess.PIPE, text=True)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0
            assert out.split() == [expected, "9300"]


def test_report_original_shows_localhost(plane: DataPlane, agents: Any) -> None:
    plane.add_session(1, VIPS[0], options=SessionOptions(report_original=True))
    server = agents(1)
    lo = server.do("bind", host="127.0.0.1", port=9001, listen=True)
    udp = server.do("bind", proto="udp", host="127.0.0.1", port=9002)
    assert lo["sockname"] == ["127.0.0.1", 9001]  # getsockname4 hides the session loopback
    assert server.do("bind", host="0.0.0.0", port=9000)["sockname"] == [VIP[1], 9000]  # the VIP is shown
    # The kernel really bound the session loopback:
    untranslated = agents(1, translated=False)
    assert untranslated.do("connect", host=LOOPBACKS[1], port=9001)["ok"]
    client = agents(1)
    conn = client.do("connect", host="127.0.0.1", port=9001)
    assert conn["peername"] == ["127.0.0.1", 9001]  # getpeername4
    sent = client.do("sendto", host="127.0.0.1", port=9002, data="q")
    assert server.do("recvfrom", sid=udp["sid"])["from"][0] == "127.0.0.1"  # recvmsg4
    server.do("reply_to", sid=udp["sid"], data="a")
    assert client.do("recvfrom", sid=sent["sid"])["from"] == ["127.0.0.1", 9002]


def test_attach_running_process_and_detach(plane: DataPlane, agents: Any) -> None:
    plane.add_session(1, VIPS[0])
    agent = agents(None)
    assert agent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == "0.0.0.0"
    plane.attach_pid(1, agent.pid)
    assert plane.translated_pids() == {agent.pid: 1}
    assert agent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == VIP[1]
    plane.detach_pid(agent.pid)
    assert agent.do("bind", host="0.0.0.0", port=0)["sockname"][0] == "0.0.0.0"


def test_remove_session_evacuates_and_untranslates(plane: DataPlane, agents: Any) -> None:
    session = plane.add_session(1, VIPS[0])
    agent = agents(1)
    assert agent.do("bind", host="127.0.0.1", port=0)["sockname"][0] == LOOPBACKS[1]
    left = plane.remove_session(1)
    assert left == [agent.pid]
    assert not session.cgroup.exists()
    assert agent.do("bind", host="127.0.0.1", port=0)["sockname"][0] == "127.0.0.1"
    assert plane.translated_pids() == {}


def test_remove_session_kill(plane: DataPlane, agents: Any) -> None:
    plane.add_session(1, VIPS[0])
    agent = agents(1)
    assert plane.remove_session(1, kill=True) == [agent.pid]
    assert agent.proc.wait(timeout=10) != 0


def test_vanished_session_cgroup(plane: DataPlane) -> None:
    session = plane.add_session(3, VIPS[0])
    session.vip_cgroup.rmdir()
    session.solo_cgroup.rmdir()
    session.cgroup.rmdir()
    with pytest.raises(DataPlaneError, match="vanished"):
        plane.spawn(3, ["true"])
    assert plane.remove_session(3) == []


def test_prune_forgets_exited_processes(plane: DataPlane) -> None:
    plane.add_session(1, VIPS[0])
    proc = plane.spawn(1, [sys.executable, "-c", "pass"])
    assert proc.pid in plane.translated_pids()
    proc.wait(timeout=30)
    assert plane.prune() == [proc.pid]
    assert plane.translated_pids() == {}


def test_close_detaches_programs_and_removes_cgroups(kernel_ready: None) -> None:
    dp = DataPlane(root_name="sessionnet-test-close")
    root = dp.load()
    dp.add_session(4, None)
    proc = dp.spawn(4, [sys.executable, str(AGENT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"op": "bind", "host": "127.0.0.1", "port": 0}) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["sockname"][0] == "127.0.0.5"
        dp.close()
        assert not root.exists()
        proc.stdin.write(json.dumps({"op": "bind", "host": "127.0.0.1", "port": 0}) + "\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["sockname"][0] == "127.0.0.1"
    finally:
        proc.kill()
        proc.communicate()
        dp.close()


def test_bad_input_is_refused_with_the_fix(plane: DataPlane, tmp_path: Path) -> None:
    with pytest.raises(DataPlaneError, match="not a unicast host address"):
        plane.add_session(1, "127.0.0.9")
    with pytest.raises(VipError, match="not a virtual loopback address"):
        plane.add_session(1, VIPS[0], loopback="10.0.0.1")
    with pytest.raises(DataPlaneError, match="add it with add_session"):
        plane.spawn(77, ["true"])
    with pytest.raises(DataPlaneError, match="not inside the cgroup v2 hierarchy"):
        DataPlane(root_name="x").load(tmp_path)


def test_second_engine_on_the_same_root_is_refused(plane: DataPlane) -> None:
    plane.add_session(1, VIPS[0])
    with pytest.raises(DataPlaneError, match="another engine is running there"):
        DataPlane(root_name=plane.root_name).load()
    assert plane.session(1).cgroup.is_dir()  # the first engine's sessions are untouched
