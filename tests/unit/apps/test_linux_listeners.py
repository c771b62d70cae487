"""vip_app_audit's Linux hand against real programs: a Python http.server, socat and busybox nc.

Each program runs in an audit (logind-style) session of its own making: the child writes its
login UID to /proc/self/loginuid before exec, which gives it a fresh /proc/PID/sessionid, as
pam_loginuid does at logon. Readiness comes from the programs' own start-up lines; the one
program that prints none (busybox nc) is waited for through /proc itself, with a deadline.
"""

from __future__ import annotations

import os
import pathlib
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sessionnet_vip.apps import audit, linux_collect

SOCAT = shutil.which("socat")
BUSYBOX = shutil.which("busybox")


def _new_session() -> None:
    with open("/proc/self/loginuid", "w", encoding="ascii") as handle:
        handle.write(str(os.getuid()))


def _sessions_supported() -> str | None:
    try:
        proc = subprocess.run(
            ["/bin/cat", "/proc/self/sessionid"],
            preexec_fn=_new_session,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot start a process in a new audit session (/proc/self/loginuid): {exc}"
    if proc.stdout.strip() in ("", "4294967295"):
        return "the kernel gives no audit session ID (CONFIG_AUDIT off?)"
    return None


def _free_port() -> int:
    """A free TCP port below Linux' ephemeral range (so that a fixed port looks like one)."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000-30000")


def _host_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing address
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


class Programs:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, argv: list[str], ready: str | None, stream: str = "stdout") -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_new_session,
        )
        self.procs.append(proc)
        if ready is not None:
            pipe = proc.stdout if stream == "stdout" else proc.stderr
            assert pipe is not None
            for line in pipe:
                if ready in line:
                    break
            else:
                raise AssertionError(f"{argv[0]} ended before saying {ready!r}")
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        proc.kill()
        proc.wait()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def programs() -> Iterator[Programs]:
    reason = _sessions_supported()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("reading other processes' sockets and setting a login UID needs root")
    running = Programs()
    try:
        yield running
    finally:
        running.close()


def _wait_for_socket(pid: int, port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(s["remote_port"] == port for s in linux_collect.collect(only_pids={pid})["sockets"]):
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} never connected to port {port}")


def _programs(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["exe"]: p for p in result["programs"]}


@pytest.mark.skipif(not (SOCAT and BUSYBOX), reason="needs the Debian packages socat and busybox")
def test_real_servers_in_two_sessions(programs: Programs) -> None:
    host = _host_address()
    if host is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect out to")
    assert SOCAT and BUSYBOX
    web, loop = _free_port(), _free_port()
    http = programs.start(
        [sys.executable, "-u", "-m", "http.server", "--bind", "0.0.0.0", str(web)], "Serving HTTP"
    )
    programs.start(
        [SOCAT, "-d", "-d", f"TCP-LISTEN:{loop},bind=127.0.0.1,reuseaddr,fork", "SYSTEM:cat"],
        "listening on",
        stream="stderr",
    )
    client = programs.start([BUSYBOX, "nc", host, str(web)], None)
    _wait_for_socket(client.pid, web)

    first = linux_collect.collect()
    # The vendors' procedure: the same program again in another session (here: a restart).
    programs.stop(http)
    http2 = programs.start(
        [sys.executable, "-u", "-m", "http.server", "--bind", "0.0.0.0", str(web)], "Serving HTTP"
    )
    second = linux_collect.collect()

    opts = audit.AuditOptions(platform="linux", samples=2, ephemeral=tuple(first["ephemeral_ports"]))  # type: ignore[arg-type]
    result = audit.recommend([first, second], opts)
    found = _programs(result)
    python = os.path.realpath(sys.executable)
    web_entry = found[python]
    assert web_entry["recommendation"] == "virtual_ip"
    listener = next(e for e in web_entry["evidence"]["listeners"] if e["port"] == web)
    assert listener["fixed"] is True and listener["instances"] == 2 and len(listener["sessions"]) == 2
    assert {http.pid, http2.pid} <= set(web_entry["evidence"]["pids"])

    socat = found[os.path.realpath(SOCAT)]
    assert socat["recommendation"] == "virtual_loopback"
    assert any(
        e["port"] == loop and e["address_class"] == "loopback" and e["fixed"]
        for e in socat["evidence"]["listeners"]
    )

    nc = found[os.path.realpath(BUSYBOX)]
    assert nc["recommendation"] == "client_address" and nc["candidate"] is True
    assert nc["evidence"]["connections"][0]["addresses"] == [host]

    entries = result["module_options"]["sessionnet.virtual_ip.vip_agent"]["vip_agent_processes"]
    assert {"path": python, "mode": "virtual_ip"} in entries
    assert {"path": os.path.realpath(SOCAT), "mode": "virtual_loopback"} in entries
    assert {"path": os.path.realpath(BUSYBOX), "mode": "client_address"} in entries


@pytest.mark.skipif(not SOCAT, reason="needs the Debian package socat")
def test_second_instance_probe_sees_the_conflict(programs: Programs) -> None:
    assert SOCAT
    port = _free_port()
    argv = [SOCAT, f"TCP-LISTEN:{port},bind=0.0.0.0", "SYSTEM:cat"]
    programs.start([SOCAT, "-d", "-d", *argv[1:]], "listening on", stream="stderr")
    first = linux_collect.collect()
    probe = linux_collect.probe(argv, timeout=10)
    verdicts = audit.probe_verdicts([probe], [first], "linux")
    assert verdicts[0]["verdict"] == "conflict", verdicts
    assert "Address already in use" in verdicts[0]["stderr"]
    assert verdicts[0]["first_ports"] == [f"tcp/{port}"]


def test_proc_net_addresses_decode_like_the_kernel_writes_them(tmp_path: pathlib.Path) -> None:
    """Our own listener on 127.0.0.1 and on ::1 read back through /proc with the right address and port."""
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        try:
            v6.bind(("::1", 0))
            v6.listen()
        except OSError:
            v6.close()
        mine = {s["local_port"]: s for s in linux_collect.collect(only_pids={os.getpid()})["sockets"]}
        assert mine[v4.getsockname()[1]]["local_address"] == "127.0.0.1"
        assert mine[v4.getsockname()[1]]["state"] == "listen"
        assert mine[v4.getsockname()[1]]["exe"] == os.path.realpath(sys.executable)
        if v6.fileno() != -1:
            assert mine[v6.getsockname()[1]]["local_address"] == "::1"
