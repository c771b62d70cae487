"""sessionnet_vipdp.dll and viprun.exe executed for real under Wine (x64), in a scratch network
namespace whose ``lo`` carries the two session VIPs.

Two sessions each run one unmodified test server (vip_testserver.exe: binds 0.0.0.0:PORT,
127.0.0.1:PORT2, dual-stack [::]:PORT3 and UDP 0.0.0.0:UPORT, knows nothing of sessionnet) through viprun
with the same ports; ``ss`` shows where each really listens, and test clients check
reachability, isolation, children, lookups and the engine-mode launcher against a stub pipe
server (vip_stubpipe.exe) speaking the launcher<->engine pipe contract.

Wine limitation: Wine 8's wineserver turns a UDP bind to an address into a wildcard bind on
that address's interface (``ss -u`` shows ``0.0.0.0%lo``), so for UDP only reachability is
checked, on one port per session; TCP and v4-mapped IPv6 are exact.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE
from sessionnet_vip.windows.launcher_route import debugger_command

from .conftest import LOOPBACKS, VIPS, Wine, WineRun, winpath

PORT, PORT2, PORT3 = 41001, 41002, 41003
UPORTS = (41011, 41012)  # one UDP port per session (Wine limitation above)
WSAEACCES, WSAEADDRNOTAVAIL, WSAECONNREFUSED = 10013, 10049, 10061


@dataclass
class Session:
    index: int
    vip: str
    loopback: str
    server: subprocess.Popen[bytes]
    listen: list[str]

    @property
    def tag(self) -> str:
        return f"S{self.index + 1}"

    def flags(self, *extra: str) -> list[str]:
        return ["--vip", self.vip, "--loopback", self.loopback, *extra]


@pytest.fixture(scope="module")
def sessions(wine: Wine) -> Iterator[list[Session]]:
    started: list[Session] = []
    for i, (vip, loopback) in enumerate(zip(VIPS, LOOPBACKS, strict=True)):
        proc, lines = wine.start_until(
            "READY",
            wine.viprun,
            "--vip", vip, "--loopback", loopback, "--",
            wine.test_program("vip_testserver"), f"S{i + 1}", str(PORT), str(PORT2), str(PORT3), str(UPORTS[i]),
        )  # fmt: skip
        started.append(Session(i, vip, loopback, proc, [ln for ln in lines if ln.startswith("LISTEN ")]))
    yield started
    for s in started:  # the servers end on a QUIT line sent from an untranslated client
        if s.server.poll() is None:
            quit_run = wine.run(wine.test_program("vip_testclient"), "quit", s.vip, str(PORT))
            try:
                s.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"server {s.tag} did not end on QUIT; the QUIT run: {quit_run}"
                ) from None


def client(wine: Wine, flags: list[str] | None, *args: str) -> WineRun:
    program = wine.test_program("vip_testclient")
    if flags is None:
        return wine.run(program, *args)
    return wine.run(wine.viprun, *flags, "--", program, *args)


def ok_line(result: WineRun) -> str:
    """The last OK/ERR line of a client run (the run's command, exit code, stdout and stderr are
    in the message when there is none)."""
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(("OK", "ERR"))]
    assert lines, f"no OK/ERR line: {result}"
    return lines[-1]


def line_starting(result: WineRun, prefix: str) -> str:
    """The OK/ERR line of a run, which must start with ``prefix`` (the whole run in the message)."""
    line = ok_line(result)
    assert line.startswith(prefix), result
    return line


def line_equal(result: WineRun, expected: str) -> None:
    assert ok_line(result) == expected, result


def test_each_server_listens_on_its_own_session_addresses(wine: Wine, sessions: list[Session]) -> None:
    listening = set(wine.ss_listening())
    for s in sessions:
        assert f"{s.vip}:{PORT}" in listening
        assert f"{s.loopback}:{PORT2}" in listening
        assert f"[::ffff:{s.vip}]:{PORT3}" in listening
        # what the unmodified program itself sees (getsockname)
        assert s.listen[:3] == [
            f"LISTEN any {s.vip}:{PORT}",
            f"LISTEN localhost {s.loopback}:{PORT2}",
            f"LISTEN any6 [::ffff:{s.vip}]:{PORT3}",
        ]
    for untranslated in (f"0.0.0.0:{PORT}", f"127.0.0.1:{PORT2}", f"[::]:{PORT3}", f"*:{PORT3}"):
        assert untranslated not in listening


@pytest.mark.parametrize("how", ["connect", "wsaconnect", "connectex"])
@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_each_session_reaches_its_own_loopback_server(
    wine: Wine, sessions: list[Session], how: str, address: str
) -> None:
    for s in sessions:
        result = client(wine, s.flags(), how, address, str(PORT2))
        assert ok_line(result).startswith(f"OK {s.tag} localhost local={s.loopback}:{PORT2} "), result


def test_in_session_loopback_reaches_own_wildcard_listener(wine: Wine, sessions: list[Session]) -> None:
    """Rule W1: 127.0.0.1:PORT finds the session's 0.0.0.0:PORT listener, now on the VIP."""
    for s in sessions:
        result = client(wine, s.flags(), "connect", "127.0.0.1", str(PORT))
        assert ok_line(result).startswith(f"OK {s.tag} any local={s.vip}:{PORT} peer={s.vip}:"), result
        result = client(wine, s.flags(), "connect", "::ffff:127.0.0.1", str(PORT3))
        assert ok_line(result).startswith(f"OK {s.tag} any6 local=[::ffff:{s.vip}]:{PORT3}"), result


@pytest.mark.parametrize("address", ["{other}", "::ffff:{other}"])
def test_isolate_loopback_refuses_the_other_sessions_loopback(
    wine: Wine, sessions: list[Session], address: str
) -> None:
    for s in sessions:
        other = sessions[1 - s.index]
        target = address.format(other=other.loopback)
        refused = client(wine, s.flags("--isolate-loopback"), "connect", target, str(PORT2))
        assert ok_line(refused) == f"ERR connect {WSAEACCES}", refused
        # without isolate_loopback the other loopback is not translated (rule C2) and reachable
        reached = client(wine, s.flags(), "connect", target, str(PORT2))
        assert ok_line(reached).startswith(f"OK {other.tag} localhost "), reached
        # isolation still lets the session reach its own server
        own = client(wine, s.flags("--isolate-loopback"), "connect", "127.0.0.1", str(PORT2))
        assert ok_line(own).startswith(f"OK {s.tag} localhost "), own


def test_unlisted_program_is_untouched(wine: Wine, sessions: list[Session]) -> None:
    # nothing listens on 127.0.0.1:PORT2 any more: both servers were translated
    line_equal(client(wine, None, "connect", "127.0.0.1", str(PORT2)), f"ERR connect {WSAECONNREFUSED}")
    line_starting(client(wine, None, "bind", "0.0.0.0", "0"), "OK bound=0.0.0.0:")
    # and it reaches a session's server only at its real addresses
    direct = client(wine, None, "connect", sessions[0].loopback, str(PORT2))
    assert "client=127.0.0.1:" in line_starting(direct, "OK S1 localhost "), direct


def test_child_is_translated_only_with_inherit_children(wine: Wine, sessions: list[Session]) -> None:
    s = sessions[0]
    plain = client(wine, s.flags(), "spawn", "connect", "127.0.0.1", str(PORT2))
    line_equal(plain, f"ERR connect {WSAECONNREFUSED}")
    inherited = client(wine, s.flags("--inherit-children"), "spawn", "connect", "127.0.0.1", str(PORT2))
    line_starting(inherited, f"OK {s.tag} localhost local={s.loopback}:{PORT2}")


def test_binds_and_sources(wine: Wine, sessions: list[Session]) -> None:
    s = sessions[0]
    line_starting(client(wine, s.flags(), "bind", "0.0.0.0", "0"), f"OK bound={s.vip}:")
    line_starting(client(wine, s.flags(), "bind", "::", "0"), f"OK bound=[::ffff:{s.vip}]:")
    line_starting(client(wine, s.flags(), "bind", "::1", "0"), f"OK bound=[::ffff:{s.loopback}]:")
    # v6-only sockets (the Windows default): `::` stays (B7), `::1` is refused (B6)
    line_starting(client(wine, s.flags(), "bind6only", "::", "0"), "OK bound=[::]:")
    line_equal(client(wine, s.flags(), "bind6only", "::1", "0"), f"ERR bind {WSAEADDRNOTAVAIL}")
    # I1 covers bind too
    other = sessions[1].loopback
    line_equal(client(wine, s.flags("--isolate-loopback"), "bind", other, "0"), f"ERR bind {WSAEACCES}")
    # C3: to another address a virtual_ip program leaves from its VIP
    far = client(wine, s.flags(), "connect", sessions[1].vip, str(PORT))
    assert ok_line(far).startswith(f"OK S2 any local={sessions[1].vip}:{PORT} peer={s.vip}:"), far


def test_report_original_shows_127_0_0_1(wine: Wine, sessions: list[Session]) -> None:
    s = sessions[0]
    plain = client(wine, s.flags(), "connect", "127.0.0.1", str(PORT2))
    assert f"client={s.loopback}:" in ok_line(plain), plain
    reported = client(wine, s.flags("--report-original"), "connect", "127.0.0.1", str(PORT2))
    line = line_starting(reported, f"OK {s.tag} localhost local={s.loopback}:{PORT2} peer={s.loopback}:")
    assert "client=127.0.0.1:" in line, reported


def test_lookups_of_localhost_and_the_host_name(wine: Wine, sessions: list[Session]) -> None:
    s = sessions[0]
    host = line_starting(client(wine, None, "hostname"), "OK ").split()[1]
    result = client(wine, s.flags(), "lookup", "localhost")
    assert result.stdout.split() == ["GAI", s.loopback, "GHBN", s.loopback], result
    result = client(wine, s.flags(), "lookup", host.upper())
    assert result.stdout.split() == ["GAI", s.vip, "GHBN", s.vip], result
    ident = ["--mode", "client_address", "--loopback", s.loopback, "--client-address", "203.0.113.7"]
    result = client(wine, ident, "lookup", host)
    assert result.stdout.split() == ["GAI", "203.0.113.7", "GHBN", "203.0.113.7"], result
    # WSAConnectByName of localhost follows the lookup rule too
    line_starting(client(wine, s.flags(), "byname", "localhost", str(PORT2)), f"OK {s.tag} localhost ")


@pytest.mark.parametrize("how", ["udp", "wsasendto", "wsasendmsg"])
def test_udp_sends_reach_own_session(wine: Wine, sessions: list[Session], how: str) -> None:
    for s in sessions:
        result = client(wine, s.flags(), how, "127.0.0.1", str(UPORTS[s.index]))
        assert ok_line(result).startswith(f"OK {s.tag} udp peer="), result
        other = sessions[1 - s.index].loopback
        refused = client(wine, s.flags("--isolate-loopback"), how, other, str(UPORTS[1 - s.index]))
        assert ok_line(refused) == f"ERR sendto {WSAEACCES}", refused


# ---- engine mode: the launcher<->engine pipe contract against a stub engine ----


def _reply(result: dict[str, object] | None = None, **top: object) -> str:
    body: dict[str, object] = {"ok": True, "result": result} if result is not None else {}
    body.update(top)
    return json.dumps(body)


def _placement(s: Session, exe: str, **over: object) -> dict[str, object]:
    result: dict[str, object] = {
        "session_id": s.index + 1, "vip": s.vip, "loopback": s.loopback, "client_address": None,
        "exe": exe, "mode": "virtual_ip", "matched": exe, "translated": True, "isolate_loopback": False,
        "report_original": False, "inherit_children": False, "message": None, "note": None,
    }  # fmt: skip
    result.update(over)
    return result


@pytest.fixture
def stub_engine(wine: Wine, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(reply: str) -> tuple[str, subprocess.Popen[bytes]]:
        pipe = f"\\\\.\\pipe\\snv-test-{request.node.name[-20:]}-{len(started)}"
        pipe = re.sub(r"[^A-Za-z0-9\\.\-]", "-", pipe)
        replies = tmp_path / f"reply{len(started)}.jsonl"
        replies.write_text(reply + "\n")
        proc, _ = wine.start_until(
            "READY", wine.build / "tests" / "x64" / "vip_stubpipe.exe", pipe, winpath(replies), "1"
        )
        started.append(proc)
        return pipe, proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _request(wine: Wine, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    line = wine.read_line_until(proc, "REQUEST ")[-1]
    return dict(json.loads(line[len("REQUEST ") :]))


def test_engine_mode_translates_as_the_engine_says(wine: Wine, sessions: list[Session], stub_engine) -> None:  # type: ignore[no-untyped-def]
    s = sessions[1]
    exe = wine.test_program("vip_testclient")
    pipe, proc = stub_engine(_reply(_placement(s, exe)))
    result = client(wine, ["--pipe", pipe], "connect", "127.0.0.1", str(PORT2))
    assert ok_line(result).startswith(f"OK {s.tag} localhost local={s.loopback}:{PORT2}"), result
    assert _request(wine, proc) == {"op": "plan", "command": exe}
    assert result.stderr.strip() == "", result


def test_engine_mode_unlisted_program_starts_untranslated(
    wine: Wine, sessions: list[Session], stub_engine
) -> None:  # type: ignore[no-untyped-def]
    exe = wine.test_program("vip_testclient")
    pipe, _ = stub_engine(_reply(_placement(sessions[0], exe, mode="none", translated=False, matched=None)))
    result = client(wine, ["--pipe", pipe], "connect", "127.0.0.1", str(PORT2))
    assert ok_line(result) == f"ERR connect {WSAECONNREFUSED}", result
    assert "untranslated" in result.stderr and "not listed" in result.stderr, result


def test_engine_mode_shows_the_exhaustion_message(wine: Wine, sessions: list[Session], stub_engine) -> None:  # type: ignore[no-untyped-def]
    s = sessions[0]
    exe = wine.test_program("vip_testclient")
    placement = _placement(s, exe, vip=None, mode="virtual_loopback", message=EXHAUSTED_MESSAGE)
    pipe, _ = stub_engine(_reply(placement))
    result = client(wine, ["--pipe", pipe], "connect", "127.0.0.1", str(PORT2))
    assert EXHAUSTED_MESSAGE in result.stderr.splitlines(), result
    # still translated: the session loopback works without a VIP
    assert ok_line(result).startswith(f"OK {s.tag} localhost local={s.loopback}:{PORT2}"), result


def test_engine_mode_refusal_starts_untranslated(wine: Wine, sessions: list[Session], stub_engine) -> None:  # type: ignore[no-untyped-def]
    pipe, _ = stub_engine(json.dumps({"ok": False, "error": "session field refused for a non-admin"}))
    result = client(wine, ["--pipe", pipe], "connect", "127.0.0.1", str(PORT2))
    assert ok_line(result) == f"ERR connect {WSAECONNREFUSED}", result
    assert "session field refused for a non-admin" in result.stderr and "untranslated" in result.stderr, (
        result
    )


def test_engine_mode_unreachable_pipe_starts_untranslated(wine: Wine, sessions: list[Session]) -> None:
    result = client(wine, ["--pipe", "\\\\.\\pipe\\snv-nobody-listens"], "connect", "127.0.0.1", str(PORT2))
    assert ok_line(result) == f"ERR connect {WSAECONNREFUSED}", result
    assert "untranslated" in result.stderr and "not reachable" in result.stderr, result


def test_ifeo_debugger_command_line(wine: Wine, sessions: list[Session], stub_engine) -> None:  # type: ignore[no-untyped-def]
    """viprun started as the IFEO Debugger: the Debugger value of launcher_route followed by the
    original command line, kept verbatim; the real program starts (debug-created, detached) and
    is translated. (Wine itself does not apply IFEO Debugger values: see the docs.)"""
    s = sessions[0]
    exe = wine.test_program("vip_testclient")
    pipe, proc = stub_engine(_reply(_placement(s, exe)))
    value = debugger_command(winpath(wine.viprun), pipe)
    # Windows appends the original command line to the value; run that whole line.
    line = f'{value} "{exe}" connect 127.0.0.1 {PORT2}'
    result = wine.run(wine.build / "tests" / "x64" / "vip_testclient.exe", "spawnline", line)
    assert ok_line(result).startswith(f"OK {s.tag} localhost local={s.loopback}:{PORT2}"), result
    assert _request(wine, proc) == {"op": "plan", "command": exe}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--bogus", "--", "x.exe"], 2, "unknown option '--bogus'"),
        (["--vip", "300.1.2.3", "--loopback", "127.0.0.2", "--", "x.exe"], 2, "--vip '300.1.2.3'"),
        (["--vip", "192.0.2.11", "--loopback", "127.0.0.1", "--", "x.exe"], 2, "--loopback '127.0.0.1'"),
        (["--vip", "192.0.2.11", "--loopback", "10.0.0.2", "--", "x.exe"], 2, "--loopback '10.0.0.2'"),
        (
            ["--vip", "192.0.2.11", "--loopback", "127.255.255.255", "--", "x.exe"],
            2,
            "127.0.0.2 to 127.255.255.254",
        ),
        (["--vip", "192.0.2.11", "--", "x.exe"], 2, "--loopback is required"),
        (["--loopback", "127.0.0.2", "--mode", "bogus", "--", "x.exe"], 2, "--mode 'bogus'"),
        (["--vip", "192.0.2.11", "--loopback", "127.0.0.2"], 2, "no PROGRAM"),
        (["--vip", "192.0.2.11", "--loopback", "127.0.0.2", "--"], 2, "no PROGRAM"),
        (["--vip"], 2, "needs a value"),
        (["--isolate-loopback", "--", "x.exe"], 2, "standalone options"),
        (["--vip", "192.0.2.11", "--loopback", "127.0.0.2", "x.exe"], 2, "put '--' before the program"),
        (
            ["--vip", "192.0.2.11", "--loopback", "127.0.0.2", "--", "C:\\nowhere\\missing.exe"],
            127,
            "not found",
        ),
    ],
)
def test_bad_launcher_input(wine: Wine, args: list[str], code: int, needle: str) -> None:
    result = wine.run(wine.viprun, *args)
    assert result.returncode == code, result
    assert needle in result.stderr, result
    assert result.stderr.startswith("viprun: ") and result.stderr.count("\n") == 1, result
