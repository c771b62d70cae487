"""Translation decisions: a pure function from (session, mode, call, address) to an address.

This is the contract every data plane implements (Linux cgroup BPF hooks now, a Windows
layered provider later); ``docs/translation-table.md`` holds :func:`render_table` verbatim
and a test keeps the two equal. Nothing here reads the clock, the store or the system.

Rules in one sentence: a listed process that binds ``0.0.0.0`` gets its session's virtual
IP, one that binds (or connects to) ``127.0.0.1`` gets its session's loopback, name lookups of
``localhost`` and of the host's own name answer with those addresses, and everything else
is left untouched. Ports are never changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from sessionnet_vip.addressing import LOOPBACK_NETWORK, virtual_loopback_address
from sessionnet_vip.coerce import brief
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.errors import VipError

ANY: Final = ipaddress.IPv4Address("0.0.0.0")
LOCALHOST: Final = ipaddress.IPv4Address("127.0.0.1")
LOCALHOST_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


class Call(StrEnum):
    BIND = "bind"
    CONNECT = "connect"
    SENDTO = "sendto"
    GETSOCKNAME = "getsockname"
    GETPEERNAME = "getpeername"
    GETADDRINFO = "getaddrinfo"
    GETHOSTBYNAME = "gethostbyname"


LOOKUP_CALLS: Final = frozenset({Call.GETADDRINFO, Call.GETHOSTBYNAME})


class Target(StrEnum):
    """What a rule maps to."""

    UNCHANGED = "unchanged"
    VIP = "vip"
    LOOPBACK = "loopback"
    CLIENT = "client_address"


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
        return None


@dataclass(frozen=True)
class Endpoint:
    address: ipaddress.IPv4Address
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``A.B.C.D:PORT`` or ``A.B.C.D`` (port 0)."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep:
            host, port_text = text.strip(), "0"
        try:
            address = ipaddress.IPv4Address(host)
            port = int(port_text)
        except ValueError:
            raise VipError(
                f"address {brief(text)} is not IPv4 ADDRESS[:PORT]; give e.g. 0.0.0.0:9000"
            ) from None
        if not 0 <= port <= 65535:
            raise VipError(f"port {port} in {brief(text)} is outside 0-65535")
        return cls(address, port)

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class Rule:
    """One row of the translation table."""

    rule_id: str
    calls: tuple[Call, ...]
    matches: str  #: human text of what the address/name must be
    result: Mapping[Mode, Target]  #: modes not named -> unchanged
    source: Mapping[Mode, Target] = field(default_factory=dict)  #: connect/sendto local address


_LOOP_MODES = (Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK)
_SOCKET_SENDS = (Call.CONNECT, Call.SENDTO)

#: The table, in match order (first match wins). ``docs/translation-table.md`` renders it.
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "B1",
        (Call.BIND,),
        "`0.0.0.0` (any address)",
        {Mode.VIRTUAL_IP: Target.VIP, Mode.PREFER_LOOPBACK: Target.LOOPBACK},
    ),
    Rule("B2", (Call.BIND,), "`127.0.0.1`", dict.fromkeys(_LOOP_MODES, Target.LOOPBACK)),
    Rule("B3", (Call.BIND,), "any other address", {}),
    Rule(
        "C1",
        _SOCKET_SENDS,
        "`127.0.0.1` or `0.0.0.0` (this host)",
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
        dict.fromkeys(_LOOP_MODES, Target.LOOPBACK),
    ),
    Rule("C2", _SOCKET_SENDS, "another `127.0.0.0/8` address", {}),
    Rule("C3", _SOCKET_SENDS, "any other address", {}, {Mode.VIRTUAL_IP: Target.VIP}),
    Rule("N1", (Call.GETSOCKNAME, Call.GETPEERNAME), "any address", {}),
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


@dataclass(frozen=True)
class Translation:
    """A decision. ``result`` is an :class:`Endpoint` for socket calls; for lookups the
    address to answer with, or ``None`` for "resolve normally"."""

    call: Call
    mode: Mode
    original: Endpoint | str
    result: Endpoint | ipaddress.IPv4Address | None
    source: ipaddress.IPv4Address | None
    changed: bool
    rule: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call.value,
            "mode": self.mode.value,
            "original": str(self.original),
            "result": None if self.result is None else str(self.result),
            "source": None if self.source is None else str(self.source),
            "changed": self.changed,
            "rule": self.rule,
            "reason": self.reason,
        }


def _norm_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _rule_for(call: Call, target: Endpoint | str, host_names: frozenset[str]) -> Rule:
    if call in LOOKUP_CALLS:
        if not isinstance(target, str):
            raise VipError(f"{call.value} takes a host name (e.g. localhost), not the address {target}")
        name = _norm_name(target)
        rule_id = "L1" if name in LOCALHOST_NAMES else "L2" if name in host_names else "L3"
    else:
        if not isinstance(target, Endpoint):
            raise VipError(
                f"{call.value} takes an address ADDRESS:PORT (e.g. 0.0.0.0:9000), not {brief(target)}"
            )
        addr = target.address
        if call is Call.BIND:
            rule_id = "B1" if addr == ANY else "B2" if addr == LOCALHOST else "B3"
        elif call in _SOCKET_SENDS:
            rule_id = "C1" if addr in (ANY, LOCALHOST) else "C2" if addr in LOOPBACK_NETWORK else "C3"
        else:
            rule_id = "N1"
    return next(r for r in RULES if r.rule_id == rule_id)


def translate(
    session: SessionAddresses,
    mode: Mode | str,
    call: Call | str,
    target: Endpoint | str,
    *,
    host_names: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
) -> Translation:
    """Decide what ``call`` on ``target`` becomes for a ``mode`` process in ``session``.

    ``target`` is an :class:`Endpoint` (or ``"A.B.C.D:PORT"`` text) for socket calls and a
    host name for lookups. ``host_names`` are the host's own names (rule L2).
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
    rule = _rule_for(call, target, names)
    want = rule.result.get(mode, Target.UNCHANGED)
    want_source = rule.source.get(mode, Target.UNCHANGED)
    source = session.resolve(want_source)
    new_address = session.resolve(want)
    if want is not Target.UNCHANGED and new_address is None:
        reason = f"{rule.rule_id}: would use the session's {want.value}, but the session has none; untouched"
    elif want is Target.UNCHANGED:
        reason = f"{rule.rule_id}: {rule.matches} is not translated for mode {mode.value}"
    else:
        reason = f"{rule.rule_id}: {rule.matches} -> session {want.value} {new_address}"
    if source is not None:
        reason += f"; source address {source}"
    if call in LOOKUP_CALLS:
        return Translation(
            call, mode, target, new_address, None, new_address is not None, rule.rule_id, reason
        )
    assert isinstance(target, Endpoint)
    result = target if new_address is None else Endpoint(new_address, target.port)
    return Translation(call, mode, target, result, source, result != target, rule.rule_id, reason)


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
            cell = "=" if res is Target.UNCHANGED else res.value
            if src is not Target.UNCHANGED:
                cell += f" (src {src.value})"
            cells.append(cell)
        calls = ", ".join(c.value for c in rule.calls)
        lines.append(f"| {rule.rule_id} | {calls} | {rule.matches} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
