"""Translation decisions: a pure function from (session, mode, call, address) to an address.

This is the contract every data plane implements (Linux cgroup BPF hooks now, a Windows
layered provider later); ``docs/translation-table.md`` holds :func:`render_table` verbatim
and a test keeps the two equal. Nothing here reads the clock, the store or the system.

Rules in one sentence: a listed process that binds ``0.0.0.0`` gets its session's virtual
IP, one that binds (or connects to) ``127.0.0.1`` gets its session's loopback, name lookups of
``localhost`` and of the host's own name answer with those addresses, and everything else
is left untouched. Ports are never changed. IPv6 sockets get the same rules through
IPv4-mapped addresses (``::ffff:A.B.C.D``): a dual-stack socket binding ``::`` gets
``::ffff:VIP`` and still serves IPv4, ``::1`` and ``::ffff:127.0.0.1`` become the session
loopback; native IPv6 addresses are untouched. Under ``isolate_loopback`` another session's
loopback is refused in every form; under ``report_original`` the session loopback is
reported as ``127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from sessionnet_vip.addressing import LOOPBACK_NETWORK, virtual_loopback_address
from sessionnet_vip.coerce import brief, int_from_text
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.errors import VipError

ANY: Final = ipaddress.IPv4Address("0.0.0.0")
LOCALHOST: Final = ipaddress.IPv4Address("127.0.0.1")
ANY6: Final = ipaddress.IPv6Address("::")
LOCALHOST6: Final = ipaddress.IPv6Address("::1")
LOCALHOST_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def v4_mapped(address: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """``A.B.C.D`` as the IPv4-mapped IPv6 address ``::ffff:A.B.C.D`` (RFC 4291, 2.5.5.2)."""
    return ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)


def ipv4_of(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``address`` stands for: itself, the IPv4 inside ``::ffff:A.B.C.D``, or
    ``None`` for a native IPv6 address."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    return address.ipv4_mapped


def format_address(address: Address) -> str:
    """Text of ``address``; IPv4-mapped addresses as ``::ffff:A.B.C.D`` on every Python."""
    v4 = ipv4_of(address)
    if isinstance(address, ipaddress.IPv6Address) and v4 is not None:
        return f"::ffff:{v4}"
    return str(address)


class Call(StrEnum):
    BIND = "bind"
    CONNECT = "connect"
    SENDTO = "sendto"
    GETSOCKNAME = "getsockname"
    GETPEERNAME = "getpeername"
    RECVFROM = "recvfrom"
    GETADDRINFO = "getaddrinfo"
    GETHOSTBYNAME = "gethostbyname"


LOOKUP_CALLS: Final = frozenset({Call.GETADDRINFO, Call.GETHOSTBYNAME})
REPORT_CALLS: Final = (Call.GETSOCKNAME, Call.GETPEERNAME, Call.RECVFROM)


class Target(StrEnum):
    """What a rule maps to."""

    UNCHANGED = "unchanged"
    VIP = "vip"
    LOOPBACK = "loopback"
    CLIENT = "client_address"
    #: the host's loopback ``127.0.0.1`` (``::ffff:127.0.0.1`` on an IPv6 socket)
    LOCALHOST = "127.0.0.1"
    #: the call fails with EPERM (a cgroup hook returning 0)
    REFUSED = "refused"
    #: the call fails with EADDRNOTAVAIL: the session has no address of that family
    NOT_AVAILABLE = "EADDRNOTAVAIL"
    #: the call fails with ENETUNREACH: the destination cannot be reached this way
    UNREACHABLE = "ENETUNREACH"


#: Errors a data plane returns for refusing targets (errno names).
REFUSAL_ERRNO: Final = {
    Target.REFUSED: "EPERM",
    Target.NOT_AVAILABLE: "EADDRNOTAVAIL",
    Target.UNREACHABLE: "ENETUNREACH",
}


class Option(StrEnum):
    """Per-session data-plane options a rule can depend on (``docs/linux-data-plane.md``)."""

    ISOLATE_LOOPBACK = "isolate_loopback"
    REPORT_ORIGINAL = "report_original"


@dataclass(frozen=True)
class SessionAddresses:
    """The addresses of one session, as the engine hands them to a data plane."""

    session_id: int
    vip: ipaddress.IPv4Address | None
    loopback: ipaddress.IPv4Address
    client_address: ipaddress.IPv4Address | None = None

    def __post_init__(self) -> None:
        expected = virtual_loopback_address(self.session_id)
        if self.loopback != expected:
            raise VipError(
                f"session {self.session_id} has loopback {self.loopback}, but the loopback rule gives "
                f"{expected}; build SessionAddresses with for_session()"
            )

    @classmethod
    def for_session(
        cls,
        session_id: int,
        vip: ipaddress.IPv4Address | None = None,
        client_address: ipaddress.IPv4Address | None = None,
    ) -> SessionAddresses:
        return cls(session_id, vip, virtual_loopback_address(session_id), client_address)

    def resolve(self, target: Target) -> ipaddress.IPv4Address | None:
        """The address ``target`` stands for in this session (``None``: not available)."""
        if target is Target.VIP:
            return self.vip
        if target is Target.LOOPBACK:
            return self.loopback
        if target is Target.CLIENT:
            return self.client_address
        if target is Target.LOCALHOST:
            return LOCALHOST
        return None


@dataclass(frozen=True)
class Endpoint:
    """A socket address: IPv4, or IPv6 (native or IPv4-mapped ``::ffff:A.B.C.D``)."""

    address: Address
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``A.B.C.D:PORT``, ``[IPV6]:PORT``, or an address alone (port 0)."""
        raw = text.strip()
        host, port_text = raw, "0"
        if raw.startswith("["):
            close = raw.find("]")
            rest = raw[close + 1 :] if close > 0 else ""
            if close < 0 or (rest and not rest.startswith(":")):
                raise VipError(f"address {brief(text)} is not [IPV6]:PORT; give e.g. [::1]:9000")
            host, port_text = raw[1:close], rest[1:] or "0"
        elif raw.count(":") == 1:
            host, _colon, port_text = raw.partition(":")
        try:
            address: Address = ipaddress.ip_address(host)
            port = int_from_text(port_text)  # ASCII digits only: int() also takes other scripts'
            if port is None:
                raise ValueError(port_text)
        except ValueError:
            raise VipError(
                f"address {brief(text)} is not ADDRESS[:PORT]; give e.g. 0.0.0.0:9000 or [::]:9000"
            ) from None
        if not 0 <= port <= 65535:
            raise VipError(f"port {port} in {brief(text)} is outside 0-65535")
        return cls(address, port)

    def __str__(self) -> str:
        if isinstance(self.address, ipaddress.IPv6Address):
            return f"[{format_address(self.address)}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class Rule:
    """One row of the translation table."""

    rule_id: str
    calls: tuple[Call, ...]
    matches: str  #: human text of what the address/name must be
    result: Mapping[Mode, Target]  #: modes not named -> unchanged
    source: Mapping[Mode, Target] = field(default_factory=dict)  #: connect/sendto local address
    #: the row applies only while this session option is on (else the next row is tried)
    option: Option | None = None
    #: the one data plane that applies this row, deciding at call time (translate() never does)
    platform: str | None = None


_LOOP_MODES = (Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK)
_ALL_MODES = tuple(Mode)
_SOCKET_SENDS = (Call.CONNECT, Call.SENDTO)
_ISOLATED_CALLS = (Call.BIND, *_SOCKET_SENDS)
_B1 = {Mode.VIRTUAL_IP: Target.VIP, Mode.PREFER_LOOPBACK: Target.LOOPBACK}

#: The table, in match order (first match wins). ``docs/translation-table.md`` renders it.
#: IPv6 rows (``B4``...) apply the IPv4 rules to IPv4-mapped addresses and to dual-stack
#: sockets; results on an IPv6 socket are IPv4-mapped (``::ffff:VIP``).
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "I1",
        _ISOLATED_CALLS,
        "another session's loopback: a `127.0.0.0/8` address other than `127.0.0.1` and the "
        "session's own, or its `::ffff:` form (while `isolate_loopback` is on)",
        dict.fromkeys(_ALL_MODES, Target.REFUSED),
        option=Option.ISOLATE_LOOPBACK,
    ),
    Rule("B1", (Call.BIND,), "`0.0.0.0` (any address)", _B1),
    Rule("B2", (Call.BIND,), "`127.0.0.1`", dict.fromkeys(_LOOP_MODES, Target.LOOPBACK)),
    Rule("B3", (Call.BIND,), "any other address", {}),
    Rule(
        "B4",
        (Call.BIND,),
        "`::` on a dual-stack socket, or `::ffff:0.0.0.0`",
        _B1,
    ),
    Rule(
        "B5",
        (Call.BIND,),
        "`::1` on a dual-stack socket, or `::ffff:127.0.0.1`",
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
    ),
    Rule(
        "B6",
        (Call.BIND,),
        "`::1` on a v6-only socket (`IPV6_V6ONLY`)",
        dict.fromkeys(_LOOP_MODES, Target.NOT_AVAILABLE),
    ),
    Rule("B7", (Call.BIND,), "any other IPv6 address (`::` on a v6-only socket included)", {}),
    Rule(
        "C1",
        _SOCKET_SENDS,
        "`127.0.0.1` or `0.0.0.0` (this host)",
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
    ),
    Rule("C2", _SOCKET_SENDS, "another `127.0.0.0/8` address", {}),
    Rule("C3", _SOCKET_SENDS, "any other address", {}, {Mode.VIRTUAL_IP: Target.VIP}),
    # Linux only (docs/linux-data-plane.md): the kernel refuses a sendmsg6 rewrite into an
    # IPv4-mapped address, so the Linux data plane answers a C4 sendto of "::1" / "::" with
    # ENETUNREACH. Not a match of its own in translate() (C4 is the rule).
    Rule(
        "C8",
        (Call.SENDTO,),
        "a C4 `sendto` to `::1` or `::` on a dual-stack socket (Linux data plane only: an unconnected "
        "datagram cannot be redirected to an IPv4-mapped address; `connect()` first)",
        dict.fromkeys(_LOOP_MODES, Target.UNREACHABLE),
        platform="linux",
    ),
    Rule(
        "C4",
        _SOCKET_SENDS,
        "`::1` or `::` on a dual-stack socket, `::ffff:127.0.0.1` or `::ffff:0.0.0.0` (this host)",
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
    ),
    Rule("C5", _SOCKET_SENDS, "another `::ffff:127.0.0.0/104` address", {}),
    Rule("C6", _SOCKET_SENDS, "any other `::ffff:A.B.C.D` address", {}, {Mode.VIRTUAL_IP: Target.VIP}),
    Rule("C7", _SOCKET_SENDS, "any other IPv6 address (`::1`, `::` on a v6-only socket included)", {}),
    # Windows only (docs/windows-data-plane.md): a Windows 0.0.0.0 listener answers on
    # 127.0.0.1 too; after B1 it sits on the VIP only. Not a match of its own in translate():
    # the Windows DLL applies it to a C1/C4 connect when the session loopback's PORT is free
    # and the session VIP's PORT is taken.
    Rule(
        "W1",
        (Call.CONNECT,),
        "a C1/C4 target whose PORT is free on the session loopback but taken on the VIP "
        "(Windows data plane only)",
        {Mode.VIRTUAL_IP: Target.VIP},
        {Mode.VIRTUAL_IP: Target.VIP},
        platform="windows",
    ),
    Rule(
        "R1",
        REPORT_CALLS,
        "the session's loopback, or its `::ffff:` form (while `report_original` is on)",
        dict.fromkeys(_LOOP_MODES, Target.LOCALHOST),
        option=Option.REPORT_ORIGINAL,
    ),
    Rule("N1", REPORT_CALLS, "any address", {}),
    Rule(
        "L1",
        (Call.GETADDRINFO, Call.GETHOSTBYNAME),
        "`localhost` (or `localhost.localdomain`)",
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
    ),
    Rule(
        "L2",
        (Call.GETADDRINFO, Call.GETHOSTBYNAME),
        "the host's own name",
        {
            Mode.VIRTUAL_IP: Target.VIP,
            Mode.PREFER_LOOPBACK: Target.LOOPBACK,
            Mode.CLIENT_ADDRESS: Target.CLIENT,
        },
    ),
    Rule("L3", (Call.GETADDRINFO, Call.GETHOSTBYNAME), "any other name", {}),
)
_BY_ID: Final = {rule.rule_id: rule for rule in RULES}


@dataclass(frozen=True)
class Translation:
    """A decision. ``result`` is an :class:`Endpoint` for socket calls; for lookups the
    address to answer with, or ``None`` for "resolve normally".

    ``refused`` is the errno name (``EPERM``, ``EADDRNOTAVAIL``) when the call must fail;
    ``result`` is then the original endpoint."""

    call: Call
    mode: Mode
    original: Endpoint | str
    result: Endpoint | ipaddress.IPv4Address | None
    source: Address | None
    changed: bool
    rule: str
    reason: str
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call.value,
            "mode": self.mode.value,
            "original": str(self.original),
            "result": None if self.result is None else str(self.result),
            "source": None if self.source is None else format_address(self.source),
            "changed": self.changed,
            "rule": self.rule,
            "reason": self.reason,
            "refused": self.refused,
        }


def _norm_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _is_other_loopback(v4: ipaddress.IPv4Address | None, session: SessionAddresses) -> bool:
    return v4 is not None and v4 in LOOPBACK_NETWORK and v4 not in (LOCALHOST, session.loopback)


def _socket_rule_id(call: Call, addr: Address, session: SessionAddresses, v6only: bool) -> str:
    v4 = ipv4_of(addr)
    if isinstance(addr, ipaddress.IPv4Address):
        if call is Call.BIND:
            return "B1" if addr == ANY else "B2" if addr == LOCALHOST else "B3"
        if call in _SOCKET_SENDS:
            return "C1" if addr in (ANY, LOCALHOST) else "C2" if addr in LOOPBACK_NETWORK else "C3"
        return "N1"
    dual = not v6only
    if call is Call.BIND:
        if v4 == ANY or (addr == ANY6 and dual):
            return "B4"
        if v4 == LOCALHOST or (addr == LOCALHOST6 and dual):
            return "B5"
        return "B6" if addr == LOCALHOST6 else "B7"
    if call in _SOCKET_SENDS:
        if v4 in (ANY, LOCALHOST) or (addr in (ANY6, LOCALHOST6) and dual):
            return "C4"
        if v4 is None:
            return "C7"
        return "C5" if v4 in LOOPBACK_NETWORK else "C6"
    return "N1"


def _rule_for(
    call: Call,
    target: Endpoint | str,
    host_names: frozenset[str],
    session: SessionAddresses,
    options: frozenset[Option],
    v6only: bool,
) -> Rule:
    if call in LOOKUP_CALLS:
        if not isinstance(target, str):
            raise VipError(f"{call.value} takes a host name (e.g. localhost), not the address {target}")
        name = _norm_name(target)
        return _BY_ID["L1" if name in LOCALHOST_NAMES else "L2" if name in host_names else "L3"]
    if not isinstance(target, Endpoint):
        raise VipError(f"{call.value} takes an address ADDRESS:PORT (e.g. 0.0.0.0:9000), not {brief(target)}")
    v4 = ipv4_of(target.address)
    if Option.ISOLATE_LOOPBACK in options and call in _ISOLATED_CALLS and _is_other_loopback(v4, session):
        return _BY_ID["I1"]
    if Option.REPORT_ORIGINAL in options and call in REPORT_CALLS and v4 == session.loopback:
        return _BY_ID["R1"]
    return _BY_ID[_socket_rule_id(call, target.address, session, v6only)]


def _in_family(address: ipaddress.IPv4Address, like: Address) -> Address:
    """``address`` as a socket of ``like``'s family holds it (IPv4-mapped on IPv6 sockets)."""
    return v4_mapped(address) if isinstance(like, ipaddress.IPv6Address) else address


def translate(
    session: SessionAddresses,
    mode: Mode | str,
    call: Call | str,
    target: Endpoint | str,
    *,
    host_names: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
    isolate_loopback: bool = False,
    report_original: bool = False,
    v6only: bool = False,
) -> Translation:
    """Decide what ``call`` on ``target`` becomes for a ``mode`` process in ``session``.

    ``target`` is an :class:`Endpoint` (or ``"A.B.C.D:PORT"`` / ``"[IPV6]:PORT"`` text) for
    socket calls and a host name for lookups. ``host_names`` are the host's own names (rule
    L2). ``isolate_loopback`` / ``report_original`` are the session's options (rules I1, R1);
    ``v6only`` says the IPv6 socket has ``IPV6_V6ONLY`` set (it cannot hold IPv4 addresses).
    """
    try:
        mode = Mode(mode)
        call = Call(call)
    except ValueError as exc:
        raise VipError(
            f"{exc}; calls are {', '.join(c.value for c in Call)}; "
            f"modes are {', '.join(m.value for m in Mode)}"
        ) from None
    if call not in LOOKUP_CALLS and isinstance(target, str):
        target = Endpoint.parse(target)
    names = frozenset(_norm_name(n) for n in host_names)
    options = frozenset(
        o
        for o, on in ((Option.ISOLATE_LOOPBACK, isolate_loopback), (Option.REPORT_ORIGINAL, report_original))
        if on
    )
    rule = _rule_for(call, target, names, session, options, v6only)
    want = rule.result.get(mode, Target.UNCHANGED)
    want_source = rule.source.get(mode, Target.UNCHANGED)
    if want in REFUSAL_ERRNO:
        assert isinstance(target, Endpoint)  # only socket rows refuse
        errno_name = REFUSAL_ERRNO[want]
        reason = f"{rule.rule_id}: {rule.matches} -> refused ({errno_name})"
        return Translation(call, mode, target, target, None, False, rule.rule_id, reason, errno_name)
    source4 = session.resolve(want_source)
    new4 = session.resolve(want)
    if want is not Target.UNCHANGED and new4 is None:
        reason = f"{rule.rule_id}: would use the session's {want.value}, but the session has none; untouched"
    elif want is Target.UNCHANGED:
        reason = f"{rule.rule_id}: {rule.matches} is not translated for mode {mode.value}"
    elif want is Target.LOCALHOST:
        reason = f"{rule.rule_id}: {rule.matches} -> reported as {want.value}"
    else:
        reason = f"{rule.rule_id}: {rule.matches} -> session {want.value} {new4}"
    if call in LOOKUP_CALLS:
        if source4 is not None:
            reason += f"; source address {source4}"
        return Translation(call, mode, target, new4, None, new4 is not None, rule.rule_id, reason)
    assert isinstance(target, Endpoint)
    source = None if source4 is None else _in_family(source4, target.address)
    if source is not None:
        reason += f"; source address {format_address(source)}"
    result = target if new4 is None else Endpoint(_in_family(new4, target.address), target.port)
    return Translation(call, mode, target, result, source, result != target, rule.rule_id, reason)


_CELL: Final = {
    Target.UNCHANGED: "=",
    Target.LOCALHOST: "`127.0.0.1`",
    Target.REFUSED: "refused (EPERM)",
    Target.NOT_AVAILABLE: "refused (EADDRNOTAVAIL)",
    Target.UNREACHABLE: "refused (ENETUNREACH)",
}


def render_table() -> str:
    """The translation table as Markdown (kept verbatim in docs/translation-table.md)."""
    modes = (Mode.NONE, *_LOOP_MODES, Mode.CLIENT_ADDRESS)
    head = "| rule | call | address or name | " + " | ".join(f"`{m.value}`" for m in modes) + " |"
    lines = [head, "|" + " --- |" * (3 + len(modes))]
    for rule in RULES:
        cells = []
        for mode in modes:
            res = rule.result.get(mode, Target.UNCHANGED)
            src = rule.source.get(mode, Target.UNCHANGED)
            cell = _CELL.get(res, res.value)
            if src is not Target.UNCHANGED:
                cell += f" (src {src.value})"
            cells.append(cell)
        calls = ", ".join(c.value for c in rule.calls)
        lines.append(f"| {rule.rule_id} | {calls} | {rule.matches} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Vector:
    """One test vector: the inputs of a socket call and what :func:`translate` decides."""

    mode: Mode
    call: Call
    target: Endpoint
    isolate_loopback: bool
    report_original: bool
    v6only: bool
    translation: Translation


def vector_targets(session: SessionAddresses, other_session: int = 7) -> tuple[Endpoint, ...]:
    """Endpoints that reach every socket row for ``session``: each IPv4 rule's address, its
    IPv4-mapped form, the IPv6 forms, another session's loopback, a remote host."""
    other = virtual_loopback_address(other_session)
    remote = ipaddress.IPv4Address("192.0.2.9")
    v4: list[ipaddress.IPv4Address] = [ANY, LOCALHOST, session.loopback, other, remote]
    if session.vip is not None:
        v4.append(session.vip)
    six: list[Address] = [ANY6, LOCALHOST6, ipaddress.IPv6Address("2001:db8::5")]
    return tuple(Endpoint(a, 9000) for a in [*v4, *(v4_mapped(a) for a in v4), *six])


def vectors(session: SessionAddresses, other_session: int = 7) -> list[Vector]:
    """Every socket call x mode x :func:`vector_targets` x option set, with its decision: the
    vectors a data plane (cgroup BPF programs, the Windows hook DLL) is tested against."""
    out: list[Vector] = []
    for mode in Mode:
        for call in Call:
            if call in LOOKUP_CALLS:
                continue
            for target in vector_targets(session, other_session):
                v6_choices = (False, True) if isinstance(target.address, ipaddress.IPv6Address) else (False,)
                for isolate in (False, True):
                    for report in (False, True):
                        for v6only in v6_choices:
                            t = translate(
                                session,
                                mode,
                                call,
                                target,
                                isolate_loopback=isolate,
                                report_original=report,
                                v6only=v6only,
                            )
                            out.append(Vector(mode, call, target, isolate, report, v6only, t))
    return out
