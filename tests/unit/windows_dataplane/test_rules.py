"""The C rule core (native/windows/vip_rules.c, linked into sessionnet_vipdp.dll) against the
Python reference ``sessionnet_vip.engine.translation``: the vectors come from its
``vectors()`` / ``translate()`` / ``RULES`` at test time, so a new row or a changed cell fails
here until the C follows; no C test data is kept. The same object code runs in the DLL under
Wine (test_wine.py)."""

from __future__ import annotations

import ctypes
import ipaddress
import itertools

import pytest

from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.engine.translation import (
    RULES,
    Call,
    Endpoint,
    SessionAddresses,
    Target,
    translate,
    vectors,
)

MODES = {
    m: i
    for i, m in enumerate(
        (Mode.NONE, Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK, Mode.CLIENT_ADDRESS)
    )
}
CALLS = {
    Call.BIND: 0,
    Call.CONNECT: 1,
    Call.SENDTO: 2,
    Call.GETSOCKNAME: 3,
    Call.GETPEERNAME: 4,
    Call.RECVFROM: 5,
}
ISOLATE, REPORT = 1, 2
LOCALHOST = ipaddress.IPv4Address("127.0.0.1")

SESSIONS = (
    SessionAddresses.for_session(
        1, ipaddress.IPv4Address("198.51.100.12"), ipaddress.IPv4Address("203.0.113.7")
    ),
    SessionAddresses.for_session(2, None, None),  # pool exhausted, client unknown
    SessionAddresses.for_session(16_777_213, ipaddress.IPv4Address("192.0.2.200")),
)
ADDRESSES = tuple(
    ipaddress.IPv4Address(a)
    for a in (
        "0.0.0.0",
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.9",
        "127.255.255.255",
        "127.0.0.0",
        "198.51.100.12",
        "192.0.2.200",
        "203.0.113.7",
        "10.1.2.3",
        "255.255.255.255",
    )
)


class Settings(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("vip", "loopback", "client", "mode", "flags")]


class Decision4(ctypes.Structure):
    _fields_ = [
        ("address", ctypes.c_uint32),
        ("source", ctypes.c_uint32),
        ("refused", ctypes.c_int),
        ("rule", ctypes.c_char * 4),
    ]


class Decision6(ctypes.Structure):
    _fields_ = [
        ("address", ctypes.c_uint8 * 16),
        ("source", ctypes.c_uint8 * 16),
        ("has_source", ctypes.c_int),
        ("refused", ctypes.c_int),
        ("rule", ctypes.c_char * 4),
    ]


def _u32(a: ipaddress.IPv4Address | None) -> int:
    return int(a) if a is not None else 0


def settings(session: SessionAddresses, mode: Mode, flags: int = 0) -> Settings:
    return Settings(
        _u32(session.vip), _u32(session.loopback), _u32(session.client_address), MODES[mode], flags
    )


def decide4(lib: ctypes.CDLL, s: Settings, call: Call, address: ipaddress.IPv4Address) -> Decision4:
    out = Decision4()
    lib.vip_decide4(ctypes.byref(s), CALLS[call], ctypes.c_uint32(int(address)), ctypes.byref(out))
    return out


def decide6(
    lib: ctypes.CDLL, s: Settings, call: Call, address: ipaddress.IPv6Address, v6only: bool
) -> Decision6:
    out = Decision6()
    raw = (ctypes.c_uint8 * 16)(*address.packed)
    lib.vip_decide6(ctypes.byref(s), CALLS[call], raw, int(v6only), ctypes.byref(out))
    return out


REFUSALS = {None: 0, "EPERM": 1, "EADDRNOTAVAIL": 2}


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: f"session{s.session_id}-vip{s.vip}")
def test_socket_rules_match_the_reference_vectors(rules_lib: ctypes.CDLL, session: SessionAddresses) -> None:
    """Every vector of ``translation.vectors()`` (each socket call x mode x target x
    isolate_loopback x report_original x v6only, with translate()'s decision)."""
    checked = 0
    for v in vectors(session):
        flags = (ISOLATE if v.isolate_loopback else 0) | (REPORT if v.report_original else 0)
        s = settings(session, v.mode, flags)
        want = v.translation
        assert isinstance(want.result, Endpoint)
        where = f"{v.mode} {v.call} {v.target} isolate={v.isolate_loopback} report={v.report_original} v6only={v.v6only}"
        if isinstance(v.target.address, ipaddress.IPv4Address):
            d4 = decide4(rules_lib, s, v.call, v.target.address)
            got_rule, got_refused = d4.rule.decode(), d4.refused
            got_addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(d4.address)
            got_src: object = ipaddress.IPv4Address(d4.source) if d4.source else None
        else:
            d6 = decide6(rules_lib, s, v.call, v.target.address, v.v6only)
            got_rule, got_refused = d6.rule.decode(), d6.refused
            got_addr = ipaddress.IPv6Address(bytes(d6.address))
            got_src = ipaddress.IPv6Address(bytes(d6.source)) if d6.has_source else None
        assert got_rule == want.rule, where
        assert got_refused == REFUSALS[want.refused], where
        assert got_addr == want.result.address, where
        assert got_src == want.source, where
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("call", [Call.GETADDRINFO, Call.GETHOSTBYNAME])
def test_lookups_match_translate(rules_lib: ctypes.CDLL, call: Call) -> None:
    names = {
        "localhost": 0,
        "LOCALHOST.": 0,
        "localhost.localdomain": 0,
        "rdsh01": 1,
        "RDSH01.example.test": 1,
        "db.example.test": 2,
    }
    rules_lib.vip_lookup.restype = ctypes.c_uint32
    for session, mode in itertools.product(SESSIONS, MODES):
        for name, kind in names.items():
            want = translate(session, mode, call, name, host_names={"rdsh01", "rdsh01.example.test"})
            got = rules_lib.vip_lookup(ctypes.byref(settings(session, mode)), kind)
            assert got == _u32(want.result if isinstance(want.result, ipaddress.IPv4Address) else None), (
                mode,
                name,
            )


def test_windows_wildcard_row_w1(rules_lib: ctypes.CDLL) -> None:
    """W1 (RULES): which modes connect to the VIP instead of a listener-less session loopback."""
    row = next(r for r in RULES if r.rule_id == "W1")
    assert Call.CONNECT in row.calls
    rules_lib.vip_connect_fallback4.restype = ctypes.c_uint32
    for session, mode in itertools.product(SESSIONS, MODES):
        want = session.resolve(row.result.get(mode, Target.UNCHANGED))
        for target in ("127.0.0.1", "0.0.0.0"):
            got = rules_lib.vip_connect_fallback4(
                ctypes.byref(settings(session, mode)), int(ipaddress.IPv4Address(target))
            )
            assert got == _u32(want), (session.session_id, mode, target)
        # only C1 targets (127.0.0.1 / 0.0.0.0) fall back
        other = rules_lib.vip_connect_fallback4(
            ctypes.byref(settings(session, mode)), int(ipaddress.IPv4Address("127.0.0.5"))
        )
        assert other == 0
