from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.addressing import MAX_SESSION_ID, MIN_SESSION_ID, virtual_loopback_address
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.engine.translation import (
    LOOKUP_CALLS,
    RULES,
    Call,
    Endpoint,
    SessionAddresses,
    Vector,
    format_address,
    render_table,
    translate,
    v4_mapped,
    vectors,
)
from sessionnet_vip.errors import VipError

from .conftest import REPO

A = ipaddress.IPv4Address
VIP = A("198.51.100.12")
CLIENT = A("203.0.113.7")
S3 = SessionAddresses.for_session(3, VIP, CLIENT)
SOCKET_CALLS = [c for c in Call if c not in LOOKUP_CALLS]

sessions = st.builds(
    SessionAddresses.for_session,
    st.integers(MIN_SESSION_ID, MAX_SESSION_ID),
    st.one_of(st.none(), st.integers(int(A("198.51.100.1")), int(A("198.51.100.254"))).map(A)),
    st.one_of(st.none(), st.integers(int(A("203.0.113.1")), int(A("203.0.113.254"))).map(A)),
)
A6 = ipaddress.IPv6Address
special = st.sampled_from([A("0.0.0.0"), A("127.0.0.1"), A("127.0.0.9"), VIP])
v4s = st.one_of(special, st.integers(0, 2**32 - 1).map(A))
addresses = st.one_of(
    v4s,
    v4s.map(v4_mapped),
    st.sampled_from([A6("::"), A6("::1"), A6("2001:db8::5")]),
    st.integers(0, 2**128 - 1).map(A6),
)
THIS_HOST = (A("0.0.0.0"), A("127.0.0.1"), A6("::"), A6("::1"), A6("::ffff:0.0.0.0"), A6("::ffff:127.0.0.1"))
endpoints = st.builds(Endpoint, addresses, st.integers(0, 65535))
modes = st.sampled_from(list(Mode))


def test_docs_hold_the_generated_table() -> None:
    doc = (REPO / "docs" / "translation-table.md").read_text()
    start = doc.index("<!-- BEGIN GENERATED TABLE")
    body = doc[doc.index("\n", start) + 1 : doc.index("<!-- END GENERATED TABLE")]
    assert body == render_table()


@pytest.mark.parametrize(
    ("mode", "call", "target", "result", "source", "rule"),
    [
        (Mode.VIRTUAL_IP, "bind", "0.0.0.0:9000", "198.51.100.12:9000", None, "B1"),
        (Mode.VIRTUAL_IP, "bind", "127.0.0.1:9000", "127.0.0.4:9000", None, "B2"),
        (Mode.VIRTUAL_IP, "bind", "192.0.2.5:9000", "192.0.2.5:9000", None, "B3"),
        (Mode.PREFER_LOOPBACK, "bind", "0.0.0.0:9000", "127.0.0.4:9000", None, "B1"),
        (Mode.VIRTUAL_LOOPBACK, "bind", "0.0.0.0:9000", "0.0.0.0:9000", None, "B1"),
        (Mode.VIRTUAL_LOOPBACK, "bind", "127.0.0.1:80", "127.0.0.4:80", None, "B2"),
        (Mode.CLIENT_ADDRESS, "bind", "127.0.0.1:80", "127.0.0.1:80", None, "B2"),
        (Mode.NONE, "bind", "0.0.0.0:9000", "0.0.0.0:9000", None, "B1"),
        (Mode.VIRTUAL_IP, "connect", "127.0.0.1:5432", "127.0.0.4:5432", "127.0.0.4", "C1"),
        (Mode.VIRTUAL_IP, "sendto", "192.0.2.9:53", "192.0.2.9:53", "198.51.100.12", "C3"),
        (Mode.VIRTUAL_IP, "connect", "127.0.0.9:5432", "127.0.0.9:5432", None, "C2"),
        (Mode.PREFER_LOOPBACK, "connect", "192.0.2.9:80", "192.0.2.9:80", None, "C3"),
        (Mode.VIRTUAL_IP, "getsockname", "198.51.100.12:9000", "198.51.100.12:9000", None, "N1"),
        (Mode.VIRTUAL_IP, "getaddrinfo", "LocalHost.", "127.0.0.4", None, "L1"),
        (Mode.VIRTUAL_IP, "gethostbyname", "ts01", "198.51.100.12", None, "L2"),
        (Mode.PREFER_LOOPBACK, "getaddrinfo", "ts01", "127.0.0.4", None, "L2"),
        (Mode.CLIENT_ADDRESS, "getaddrinfo", "TS01", "203.0.113.7", None, "L2"),
        (Mode.CLIENT_ADDRESS, "getaddrinfo", "localhost", None, None, "L1"),
        (Mode.VIRTUAL_IP, "getaddrinfo", "example.org", None, None, "L3"),
        # IPv6 sockets: the IPv4 rules through IPv4-mapped addresses (dual-stack sockets).
        (Mode.VIRTUAL_IP, "bind", "[::]:9000", "[::ffff:198.51.100.12]:9000", None, "B4"),
        (Mode.VIRTUAL_IP, "bind", "[::ffff:0.0.0.0]:9000", "[::ffff:198.51.100.12]:9000", None, "B4"),
        (Mode.PREFER_LOOPBACK, "bind", "[::]:9000", "[::ffff:127.0.0.4]:9000", None, "B4"),
        (Mode.VIRTUAL_LOOPBACK, "bind", "[::]:9000", "[::]:9000", None, "B4"),
        (Mode.VIRTUAL_IP, "bind", "[::1]:6379", "[::ffff:127.0.0.4]:6379", None, "B5"),
        (Mode.VIRTUAL_LOOPBACK, "bind", "[::ffff:127.0.0.1]:6379", "[::ffff:127.0.0.4]:6379", None, "B5"),
        (Mode.NONE, "bind", "[::1]:6379", "[::1]:6379", None, "B5"),
        (Mode.VIRTUAL_IP, "bind", "[2001:db8::5]:80", "[2001:db8::5]:80", None, "B7"),
        (Mode.VIRTUAL_IP, "bind", "[::ffff:192.0.2.5]:80", "[::ffff:192.0.2.5]:80", None, "B7"),
        (Mode.VIRTUAL_IP, "connect", "[::1]:5432", "[::ffff:127.0.0.4]:5432", "::ffff:127.0.0.4", "C4"),
        (Mode.VIRTUAL_IP, "connect", "[::]:5432", "[::ffff:127.0.0.4]:5432", "::ffff:127.0.0.4", "C4"),
        (
            Mode.VIRTUAL_LOOPBACK,
            "sendto",
            "[::ffff:127.0.0.1]:53",
            "[::ffff:127.0.0.4]:53",
            "::ffff:127.0.0.4",
            "C4",
        ),
        (Mode.VIRTUAL_IP, "connect", "[::ffff:127.0.0.9]:5432", "[::ffff:127.0.0.9]:5432", None, "C5"),
        (
            Mode.VIRTUAL_IP,
            "sendto",
            "[::ffff:192.0.2.9]:53",
            "[::ffff:192.0.2.9]:53",
            "::ffff:198.51.100.12",
            "C6",
        ),
        (Mode.VIRTUAL_IP, "connect", "[2001:db8::9]:443", "[2001:db8::9]:443", None, "C7"),
        (Mode.VIRTUAL_IP, "getpeername", "[::ffff:127.0.0.4]:1", "[::ffff:127.0.0.4]:1", None, "N1"),
    ],
)
def test_table_rows(
    mode: Mode, call: str, target: str, result: str | None, source: str | None, rule: str
) -> None:
    t = translate(S3, mode, call, target, host_names={"ts01"})
    assert (None if t.result is None else str(t.result)) == result
    assert t.to_json()["source"] == source
    assert t.rule == rule
    assert t.changed == (result is not None and result != target)


@pytest.mark.parametrize(
    ("mode", "call", "target", "errno_name", "rule"),
    [
        (Mode.VIRTUAL_IP, "connect", "127.0.0.9:80", "EPERM", "I1"),
        (Mode.NONE, "connect", "127.0.0.9:80", "EPERM", "I1"),
        (Mode.NONE, "sendto", "[::ffff:127.0.0.9]:53", "EPERM", "I1"),
        (Mode.VIRTUAL_IP, "connect", "[::ffff:127.0.0.9]:80", "EPERM", "I1"),
        (Mode.CLIENT_ADDRESS, "bind", "127.0.0.9:80", "EPERM", "I1"),
        (Mode.VIRTUAL_IP, "bind", "[::ffff:127.0.0.9]:80", "EPERM", "I1"),
    ],
)
def test_isolation_refuses_every_form(mode: Mode, call: str, target: str, errno_name: str, rule: str) -> None:
    t = translate(S3, mode, call, target, isolate_loopback=True)
    assert (t.refused, t.rule, t.changed) == (errno_name, rule, False)
    assert str(t.result) == target
    assert translate(S3, mode, call, target).refused is None  # only while isolate_loopback is on


@pytest.mark.parametrize(
    "target", ["127.0.0.1:80", "127.0.0.4:80", "[::1]:80", "[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.4]:80"]
)
def test_isolation_keeps_the_host_and_own_loopback(target: str) -> None:
    for call in ("connect", "sendto", "bind"):
        assert translate(S3, Mode.NONE, call, target, isolate_loopback=True).refused is None


def test_v6only_socket_cannot_hold_ipv4() -> None:
    t = translate(S3, Mode.VIRTUAL_IP, "bind", "[::1]:6379", v6only=True)
    assert (t.refused, t.rule) == ("EADDRNOTAVAIL", "B6")
    assert translate(S3, Mode.NONE, "bind", "[::1]:6379", v6only=True).refused is None
    assert str(translate(S3, Mode.VIRTUAL_IP, "bind", "[::]:80", v6only=True).result) == "[::]:80"
    c = translate(S3, Mode.VIRTUAL_IP, "connect", "[::1]:80", v6only=True)
    assert (str(c.result), c.rule, c.source) == ("[::1]:80", "C7", None)
    assert (None if t.source is None else format_address(t.source)) is None


@pytest.mark.parametrize(
    ("call", "target", "result"),
    [
        ("getsockname", "127.0.0.4:80", "127.0.0.1:80"),
        ("getpeername", "[::ffff:127.0.0.4]:80", "[::ffff:127.0.0.1]:80"),
        ("recvfrom", "127.0.0.4:53", "127.0.0.1:53"),
        ("getsockname", "198.51.100.12:80", "198.51.100.12:80"),
    ],
)
def test_report_original(call: str, target: str, result: str) -> None:
    t = translate(S3, Mode.VIRTUAL_IP, call, target, report_original=True)
    assert str(t.result) == result
    assert str(translate(S3, Mode.NONE, call, target, report_original=True).result) == target
    assert str(translate(S3, Mode.VIRTUAL_IP, call, target).result) == target


def test_endpoint_text_round_trips() -> None:
    for text in ("0.0.0.0:9000", "[::]:9000", "[::ffff:127.0.0.4]:6379", "[2001:db8::1]:1"):
        assert str(Endpoint.parse(text)) == text
    assert str(Endpoint.parse("::1")) == "[::1]:0"
    with pytest.raises(VipError, match=r"\[IPV6\]:PORT"):
        Endpoint.parse("[::1:80")


def test_vectors_reach_every_socket_rule() -> None:
    vs = vectors(S3)
    socket_rules = {r.rule_id for r in RULES if not set(r.calls) <= LOOKUP_CALLS and r.platform is None}
    assert {v.translation.rule for v in vs} == socket_rules
    assert all(isinstance(v, Vector) and v.translation.call is v.call for v in vs)


def test_no_vip_leaves_any_address_alone() -> None:
    s = SessionAddresses.for_session(3, None)
    t = translate(s, Mode.VIRTUAL_IP, Call.BIND, "0.0.0.0:9000")
    assert str(t.result) == "0.0.0.0:9000" and not t.changed and "has none" in t.reason
    assert translate(s, Mode.VIRTUAL_IP, Call.CONNECT, "192.0.2.1:80").source is None


def test_bad_inputs() -> None:
    with pytest.raises(VipError, match="loopback rule"):
        SessionAddresses(3, None, A("127.0.0.3"))
    with pytest.raises(VipError, match="ADDRESS"):
        translate(S3, Mode.VIRTUAL_IP, Call.BIND, "localhost")
    with pytest.raises(VipError, match="host name"):
        translate(S3, Mode.VIRTUAL_IP, Call.GETADDRINFO, Endpoint(A("127.0.0.1")))
    with pytest.raises(VipError, match="calls are"):
        translate(S3, Mode.VIRTUAL_IP, "listen", "0.0.0.0:1")
    with pytest.raises(VipError, match="0-65535"):
        Endpoint.parse("0.0.0.0:70000")


@given(sessions, modes, st.sampled_from(SOCKET_CALLS), endpoints)
def test_socket_calls_keep_the_port_and_are_idempotent(
    s: SessionAddresses, mode: Mode, call: Call, ep: Endpoint
) -> None:
    first = translate(s, mode, call, ep)
    assert isinstance(first.result, Endpoint)
    assert first.result.port == ep.port
    again = translate(s, mode, call, first.result)
    assert again.result == first.result
    assert first.refused is None or first.rule == "B6"  # no option on: only what cannot work
    mine = {a for a in (s.vip, s.loopback) if a is not None}
    if first.changed:
        assert ep.address in THIS_HOST
        assert first.result.address in mine | {v4_mapped(a) for a in mine}
        assert type(first.result.address) is type(ep.address)  # same family, mapped on IPv6
    if mode is Mode.NONE or call in (Call.GETSOCKNAME, Call.GETPEERNAME, Call.RECVFROM):
        assert first.result == ep and first.source is None
    if ep.address not in THIS_HOST:
        assert first.result == ep  # "everything else untouched"


@given(sessions, sessions, st.sampled_from([Mode.VIRTUAL_IP, Mode.PREFER_LOOPBACK, Mode.VIRTUAL_LOOPBACK]))
def test_two_sessions_never_collide_on_a_fixed_port(
    a: SessionAddresses, b: SessionAddresses, mode: Mode
) -> None:
    """Seed 004's point: the same bind in two sessions lands on different addresses."""
    if a.session_id == b.session_id:
        return
    for target in ("127.0.0.1:9000", "0.0.0.0:9000"):
        ra = translate(a, mode, Call.BIND, target).result
        rb = translate(b, mode, Call.BIND, target).result
        both_translated = ra != Endpoint.parse(target) and rb != Endpoint.parse(target)
        if both_translated and (target.startswith("127") or mode is Mode.PREFER_LOOPBACK):
            assert ra != rb
        if both_translated and mode is Mode.VIRTUAL_IP and target.startswith("0.0.0.0") and a.vip != b.vip:
            assert ra != rb


@given(
    sessions, modes, st.sampled_from(sorted(LOOKUP_CALLS)), st.sampled_from(["localhost", "ts01", "other"])
)
def test_lookups_answer_only_with_session_addresses(
    s: SessionAddresses, mode: Mode, call: Call, name: str
) -> None:
    t = translate(s, mode, call, name, host_names=("TS01",))
    assert t.result is None or t.result in (s.vip, s.loopback, s.client_address)
    if name == "other" or mode is Mode.NONE:
        assert t.result is None
    if name == "localhost" and mode in (Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK):
        assert t.result == virtual_loopback_address(s.session_id)
