"""The C rule core (native/windows/vip_rules.c, linked into sessionnet_vipdp.dll) against the
Python reference ``sessionnet_vip.engine.translation``: the vectors are generated here from
``translate()`` and ``RULES``, so a new row or a changed cell is picked up without editing C
test data. The same object code runs in the DLL under Wine (test_wine.py)."""

from __future__ import annotations

import ctypes
import ipaddress
import itertools
from typing import Any

import pytest

from sessionnet_vip.addressing import LOOPBACK_NETWORK
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.engine.translation import RULES, Call, Endpoint, SessionAddresses, Target, translate
from sessionnet_vip.errors import VipError

MODES = {
    m: i
    for i, m in enumerate(
        (Mode.NONE, Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK, Mode.CLIENT_ADDRESS)
    )
}
CALLS = {Call.BIND: 0, Call.CONNECT: 1, Call.SENDTO: 2, Call.GETSOCKNAME: 3, Call.GETPEERNAME: 4}
ISOLATE, REPORT = 1, 2
LOCALHOST = ipaddress.IPv4Address("127.0.0.1")

SESSIONS = (
    SessionAddresses.for_session(
        1, ipaddress.IPv4Address("198.51.100.12"), ipaddress.IPv4Address("203.0.113.7")
    ),
    SessionAddresses.for_session(2, None, None),  # pool exhausted, client unknown
    SessionAddresses.for_session(16_777_214, ipaddress.IPv4Address("192.0.2.200")),
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
        ("denied", ctypes.c_int),
        ("rule", ctypes.c_char * 4),
    ]


class Decision6(ctypes.Structure):
    _fields_ = [
        ("address", ctypes.c_uint8 * 16),
        ("source", ctypes.c_uint8 * 16),
        ("has_source", ctypes.c_int),
        ("denied", ctypes.c_int),
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


def decide6(lib: ctypes.CDLL, s: Settings, call: Call, address: ipaddress.IPv6Address) -> Decision6:
    out = Decision6()
    raw = (ctypes.c_uint8 * 16)(*address.packed)
    lib.vip_decide6(ctypes.byref(s), CALLS[call], raw, ctypes.byref(out))
    return out


def _expected_denied(session: SessionAddresses, call: Call, result: ipaddress.IPv4Address) -> bool:
    """isolate_loopback (docs/linux-data-plane.md): connect/sendto to a 127/8 address other than
    127.0.0.1 and the session's own loopback is refused; by the loopback rule each belongs to a session."""
    return (
        call in (Call.CONNECT, Call.SENDTO)
        and result in LOOPBACK_NETWORK
        and result not in (LOCALHOST, session.loopback)
    )


VECTORS = list(itertools.product(range(len(SESSIONS)), list(MODES), list(CALLS), ADDRESSES))


@pytest.mark.parametrize("flags", [0, ISOLATE], ids=["plain", "isolate_loopback"])
def test_ipv4_rules_match_translate(rules_lib: ctypes.CDLL, flags: int) -> None:
    checked = 0
    for si, mode, call, address in VECTORS:
        session = SESSIONS[si]
        want = translate(session, mode, call, Endpoint(address, 9000))
        assert isinstance(want.result, Endpoint)
        got = decide4(rules_lib, settings(session, mode, flags), call, address)
        where = f"session {session.session_id} {mode} {call} {address}"
        assert got.rule.decode() == want.rule, where
        assert got.address == int(want.result.address), where
        assert got.source == _u32(want.source), where
        denied = bool(flags & ISOLATE) and _expected_denied(session, call, want.result.address)
        assert bool(got.denied) == denied, where
        checked += 1
    assert checked == len(VECTORS) > 500


def _v6_forms(address: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    forms = [ipaddress.IPv6Address(f"::ffff:{address}")]
    if address == ipaddress.IPv4Address("0.0.0.0"):
        forms.append(ipaddress.IPv6Address("::"))
    if address == LOCALHOST:
        forms.append(ipaddress.IPv6Address("::1"))
    return forms


def _reference_has_ipv6() -> bool:
    """Whether translate() has the IPv6 rows (``::`` -> ``::ffff:VIP`` for a bind)."""
    try:
        probe = translate(
            SESSIONS[0], Mode.VIRTUAL_IP, Call.BIND, Endpoint(ipaddress.IPv6Address("::"), 9000)
        )  # type: ignore[arg-type]
    except (VipError, TypeError, ValueError, AttributeError):
        return False
    return bool(probe.changed)


PYTHON_HAS_IPV6 = _reference_has_ipv6()


def _python_v6(session: SessionAddresses, mode: Mode, call: Call, address: ipaddress.IPv6Address) -> Any:
    """translate() on an IPv6 endpoint where the reference has IPv6 rows, else None."""
    if not PYTHON_HAS_IPV6:
        return None
    return translate(session, mode, call, Endpoint(address, 9000))  # type: ignore[arg-type]


def _as_v6(a: object) -> ipaddress.IPv6Address:
    if isinstance(a, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(f"::ffff:{a}")
    assert isinstance(a, ipaddress.IPv6Address)
    return a


def test_ipv6_forms_follow_their_ipv4_rule(rules_lib: ctypes.CDLL) -> None:
    """``::`` and ``::1`` and ``::ffff:A`` behave as 0.0.0.0, 127.0.0.1 and A, answered v4-mapped
    (``::`` -> ``::ffff:VIP``, ``::1`` -> the session loopback), isolation included. Where
    translate() has IPv6 rows the C result must equal them; otherwise it must equal the IPv4
    rule's result, v4-mapped."""
    direct = 0
    for (si, mode, call, address), flags in itertools.product(VECTORS, (0, ISOLATE)):
        session = SESSIONS[si]
        v4 = translate(session, mode, call, Endpoint(address, 9000))
        assert isinstance(v4.result, Endpoint)
        for form in _v6_forms(address):
            got = decide6(rules_lib, settings(session, mode, flags), call, form)
            where = f"session {session.session_id} {mode} {call} {form}"
            py6 = _python_v6(session, mode, call, form)
            if py6 is not None:
                direct += 1
                want_addr = _as_v6(py6.result.address)
                want_src = None if py6.source is None else _as_v6(py6.source)
            else:
                want_addr = form if v4.result.address == address else _as_v6(v4.result.address)
                want_src = None if v4.source is None else _as_v6(v4.source)
            assert bytes(got.address) == want_addr.packed, where
            assert (bytes(got.source) if got.has_source else None) == (
                None if want_src is None else want_src.packed
            ), where
            assert bool(got.denied) == (
                bool(flags & ISOLATE) and _expected_denied(session, call, v4.result.address)
            ), where
    # Both paths derive from the Python reference; the direct one once it has IPv6 rows.
    assert (direct > 0) == PYTHON_HAS_IPV6


def test_other_ipv6_addresses_are_untouched(rules_lib: ctypes.CDLL) -> None:
    for mode, call in itertools.product(MODES, CALLS):
        for text in ("2001:db8::1", "fe80::1", "::2"):
            address = ipaddress.IPv6Address(text)
            got = decide6(rules_lib, settings(SESSIONS[0], mode, ISOLATE), call, address)
            assert bytes(got.address) == address.packed and not got.has_source and not got.denied


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


def test_report_original(rules_lib: ctypes.CDLL) -> None:
    """With report_original the session loopback reads as 127.0.0.1; the VIP is shown as it is."""
    rules_lib.vip_report4.restype = ctypes.c_uint32
    session = SESSIONS[0]
    for flags, address in itertools.product((0, REPORT), ADDRESSES):
        got = rules_lib.vip_report4(ctypes.byref(settings(session, Mode.VIRTUAL_IP, flags)), int(address))
        want = LOCALHOST if flags and address == session.loopback else address
        assert got == int(want), (flags, address)
