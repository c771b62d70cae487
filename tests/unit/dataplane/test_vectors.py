"""The C programs in the real kernel against the vectors of the pure ``translate()``.

Every socket-call vector of :func:`sessionnet_vip.engine.translation.vectors` (each mode,
IPv4 / IPv4-mapped / IPv6 address forms, dual-stack and v6-only sockets, isolation and
report_original on and off) is run by a real process in a session of the loaded data plane,
and what the kernel did is compared with what ``translate()`` says:

* bind: the address the socket got (getsockname), or the refusal errno;
* connect (UDP connect, same program as TCP): the peer and, where a rule names one, the source;
* sendto: where the datagram arrived and from which source (an untranslated receiver outside
  the sessions listens on every local candidate address);
* getsockname / getpeername / recvfrom: what the process is shown (rule R1).

A vector is skipped only where the kernel itself decides before or after the hook in a way
no data plane can change: IPv4-mapped addresses on a v6-only socket (the kernel refuses
them), and destinations that are not on this host (nothing can be observed there).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.linux import DataPlane, SessionOptions
from sessionnet_vip.engine.linux.lab import Lab
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.engine.translation import (
    Call,
    Endpoint,
    SessionAddresses,
    Vector,
    ipv4_of,
    vectors,
)

from .conftest import VIPS

AGENT = Path(__file__).with_name("vecagent.py")
SESSION = SessionAddresses.for_session(1, VIPS[0])
OTHER = 2
PORT = 39000
_ports = itertools.count(PORT)


class Proc:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def do(self, op: str, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, f"vector agent did not answer {op}"
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def stop(self) -> None:
        self.proc.kill()
        self.proc.communicate()


PIPES: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}


@pytest.fixture
def outside(lab: Lab) -> Iterator[Proc]:
    """An untranslated agent outside every session (receivers, senders)."""
    p = Proc(subprocess.Popen(lab.wrap([sys.executable, str(AGENT)]), **PIPES))
    yield p
    p.stop()


def _host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    v4 = ipv4_of(address)
    return f"::ffff:{v4}" if isinstance(address, ipaddress.IPv6Address) and v4 is not None else str(address)


def _family(ep: Endpoint) -> int:
    return 6 if isinstance(ep.address, ipaddress.IPv6Address) else 4


def _same(shown: str, expected: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ipaddress.ip_address(shown) == expected


def _kernel_any_to_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """Connecting to "this host" (0.0.0.0, ::) is connecting to the loopback (ip(7), ipv6(7))."""
    if address == ipaddress.IPv4Address("0.0.0.0"):
        return ipaddress.IPv4Address("127.0.0.1")
    if address == ipaddress.IPv6Address("::"):
        return ipaddress.IPv6Address("::1")
    if address == ipaddress.IPv6Address("::ffff:0.0.0.0"):
        return ipaddress.IPv6Address("::ffff:127.0.0.1")
    return address


LOCAL_V4 = {ipaddress.IPv4Address(a) for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3", str(VIPS[0]))}


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    v4 = ipv4_of(address)
    if v4 is not None:
        return v4 in LOCAL_V4 or v4 == ipaddress.IPv4Address("0.0.0.0")
    return address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1"))


LOOP_MODES = (Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK)


def linux_c8(v: Vector) -> bool:
    """The Linux-only row C8: a C4 sendto of "::1"/"::" from a dual-stack socket is refused."""
    return (
        v.translation.rule == "C4"
        and v.call is Call.SENDTO
        and v.mode in LOOP_MODES
        and not v.v6only
        and v.target.address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1"))
    )


def check(v: Vector, agent: Proc, outside: Proc) -> str | None:
    """Run vector ``v``; return a mismatch description, or None. Skips return "skip"."""
    t = v.translation
    ep = v.target
    fam = _family(ep)
    mapped_on_v6only = v.v6only and fam == 6 and ipv4_of(ep.address) is not None
    if mapped_on_v6only and t.refused is None:
        return "skip"
    # The kernel refuses IPv4-mapped addresses on v6-only sockets itself, before any hook.
    refusals = {t.refused, "ENETUNREACH", "EINVAL"} if mapped_on_v6only else {t.refused}
    common = {"family": fam, "v6only": v.v6only, "host": _host(ep.address)}
    if v.call is Call.BIND:
        if v.report_original:
            return "skip"  # getsockname would be rewritten by R1: bind is checked with it off
        r = agent.do("bind", port=0, **common)
        if t.refused is not None:
            return None if r.get("errno") in refusals else f"expected {t.refused}, got {r}"
        assert isinstance(t.result, Endpoint)
        if not _local(t.result.address):
            return None if r.get("errno") == "EADDRNOTAVAIL" else f"expected a non-local bind, got {r}"
        if not r["ok"] or not _same(r["sockname"][0], t.result.address):
            return f"expected {t.result.address}, got {r}"
        return None
    if v.call is Call.CONNECT:
        if v.report_original:
            return "skip"
        r = agent.do("connect", port=PORT, **common)
        if t.refused is not None:
            return None if r.get("errno") in refusals else f"expected {t.refused}, got {r}"
        assert isinstance(t.result, Endpoint)
        if not r["ok"]:
            if ipv4_of(t.result.address) is None and not _local(t.result.address):
                return None if r["errno"] == "ENETUNREACH" else f"unexpected {r}"
            return f"expected {t.result}, got {r}"
        if not _same(r["peername"][0], _kernel_any_to_loopback(t.result.address)):
            return f"expected peer {t.result.address}, got {r}"
        if t.source is not None and not _same(r["sockname"][0], t.source):
            return f"expected source {t.source}, got {r}"
        return None
    if v.call is Call.SENDTO and linux_c8(v):
        r = agent.do("sendto", port=PORT, data="c8", **common)
        return None if r.get("errno") == "ENETUNREACH" else f"expected ENETUNREACH (Linux row C8), got {r}"
    if v.call is Call.SENDTO:
        port = next(_ports)
        outside.do("listen", hosts=sorted(str(a) for a in LOCAL_V4), port=port)
        data = f"v{port}"
        r = agent.do("sendto", port=port, data=data, **common)
        if t.refused is not None:
            return None if r.get("errno") in refusals else f"expected {t.refused}, got {r}"
        assert isinstance(t.result, Endpoint)
        dst = ipv4_of(_kernel_any_to_loopback(t.result.address))
        if dst is None or dst not in LOCAL_V4:
            return None if r["ok"] or r.get("errno") == "ENETUNREACH" else f"unexpected {r}"
        if not r["ok"]:
            return f"expected delivery to {dst}, got {r}"
        got = outside.do("wait", timeout=10)["got"]
        if got is None or got[2] != data or ipaddress.ip_address(got[0]) != dst:
            return f"expected a datagram at {dst}, got {got}"
        src = None if t.source is None else ipv4_of(t.source)
        if src is not None and ipaddress.ip_address(got[1]) != src:
            return f"expected source {src}, got {got}"
        return None
    # getsockname / getpeername / recvfrom: a socket that really has the vector's address.
    if not _local(ep.address) or ep.address in (ipaddress.IPv4Address(0), ipaddress.IPv6Address(0)):
        return "skip"
    assert isinstance(t.result, Endpoint)
    if v.call is Call.GETSOCKNAME:
        r = agent.do("bind", port=0, **common)
        shown = r.get("sockname", [None])[0]
    elif v.call is Call.GETPEERNAME:
        r = agent.do("connect", port=PORT, **common)
        shown = r.get("peername", [None])[0]
    else:  # recvfrom: an outside sender bound to the address sends to the session process
        v4 = ipv4_of(ep.address)
        if v4 is None:
            return "skip"  # the session's sockets hold IPv4 (mapped) addresses only
        own = f"::ffff:{SESSION.loopback}" if fam == 6 else str(SESSION.loopback)
        port = agent.do("recv_socket", family=fam, host=own)["port"]
        sent = outside.do("send_from", host=str(v4), to_host=str(SESSION.loopback), to_port=port, data="r")
        if not sent["ok"]:
            return f"outside sender failed: {sent}"
        r = agent.do("recv", timeout=10)
        shown = r.get("source")
    if shown is None:
        return "skip"  # the call itself was refused or translated (bind/connect vectors cover it)
    # The socket's real address is the original only where bind/connect left it alone.
    if ipaddress.ip_address(shown) not in (ep.address, t.result.address):
        return "skip"
    return None if _same(shown, t.result.address) else f"expected {t.result.address} shown, got {shown}"


def test_c_programs_agree_with_translate(lab: Lab, plane: DataPlane, outside: Proc) -> None:
    all_vectors = vectors(SESSION, OTHER)
    checked = skipped = 0
    rules_seen: set[str] = set()
    failures: list[str] = []
    plane.add_session(OTHER, VIPS[1])
    for isolate in (False, True):
        plane.add_session(1, VIPS[0], options=SessionOptions(isolate_loopback=isolate))
        for mode, report in itertools.product(Mode, (False, True)):
            key = (mode, isolate, report)
            mine = [v for v in all_vectors if (v.mode, v.isolate_loopback, v.report_original) == key]
            proc = plane.spawn(
                1,
                lab.wrap([sys.executable, str(AGENT)]),
                translated=mode is not Mode.NONE,
                mode=mode,
                options=SessionOptions(isolate_loopback=isolate, report_original=report),
                **PIPES,
            )
            agent = Proc(proc)
            try:
                for v in mine:
                    outcome = check(v, agent, outside)
                    if outcome == "skip":
                        skipped += 1
                    elif outcome is None:
                        checked += 1
                        rules_seen.add("C8" if linux_c8(v) else v.translation.rule)
                    else:
                        failures.append(
                            f"{v.mode.value} {v.call.value} {v.target} isolate={v.isolate_loopback} "
                            f"report={v.report_original} v6only={v.v6only} rule {v.translation.rule}: {outcome}"
                        )
            finally:
                agent.stop()
    assert not failures, f"{len(failures)} of {checked + len(failures)} vectors differ:\n" + "\n".join(
        failures[:40]
    )
    socket_rules = {v.translation.rule for v in all_vectors} | {"C8"}
    assert rules_seen == socket_rules, f"rows never observed in the kernel: {socket_rules - rules_seen}"
    print(f"{checked} vectors agree in the kernel, {skipped} not observable")
