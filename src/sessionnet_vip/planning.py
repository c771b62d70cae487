"""Farm-level planner of static virtual-IP ranges (one range of addresses per session host).

Seed document 004 ("Make Virtual IP Addresses Available to Applications"): each server gets a
static range of addresses in the subnet of one of its NICs, outside the DHCP pool, without
broadcast addresses, with at least as many addresses as its maximum concurrent sessions.

Inputs (the option names of the ``sessionnet.virtual_ip.vip_range_plan`` module, and the keys
of a ``vipctl plan`` YAML file): ``subnets``, ``dhcp_scopes``, ``servers``, ``existing``,
``carve_from_scopes``, ``replan_invalid``, ``allow_split``. :func:`plan_from_dict` takes them
as one mapping and returns a JSON-able dict; :func:`build_request` + :func:`make_plan` give the
typed result the table and the SVG map are drawn from.

Allocation (deterministic; the order of the input lists never matters):

1. Every address set is a list of inclusive intervals (:mod:`sessionnet_vip.addressing`).
   Per subnet: *blocked* = network and broadcast addresses, gateway, ``reserved``, every DHCP
   reservation and lease; *scope ranges* = every DHCP scope's start-end (pool and exclusions).
   The free space *outside* = usable hosts - blocked - scope ranges. With
   ``carve_from_scopes`` each scope also offers *carvable* space = its range - its exclusions
   - blocked.
2. Existing assignments are checked in server-name order; a valid one is kept exactly. An
   invalid one (outside its subnet, on a blocked address, in a DHCP pool without
   ``carve_from_scopes``, overlapping a server earlier by name, or in another subnet than its
   server) is reported in ``invalid`` and left where it is, unless ``replan_invalid``.
3. A kept range smaller than its need grows in place (after its end, else before its start),
   else gains another range if ``allow_split``, else moves. Ranges never shrink.
4. Servers without a range are placed in name order. Each takes the *smallest* free run that
   holds its need (best fit; lowest address on ties), from that run's start: first outside
   every scope, then (with ``carve_from_scopes``) inside a scope. With ``allow_split`` and no
   single run large enough it takes the largest runs, then a best fit for the rest, up to the
   allowed number of ranges. If name order leaves a server out, the subnet is planned again
   with the largest need first; if that fails too, :class:`PlanError` names the subnet, the
   shortfall and the fixes.
5. Every part of a planned range inside a scope's range that is not already excluded is
   returned in ``exclusions`` (to add to the scope before binding the addresses).

Free runs live in a list sorted by (size, first address) and in two dicts keyed by their ends,
so each placement is a binary search: the planner is O(n log n) in servers and intervals.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Any, Final

from sessionnet_vip.addressing import (
    Span,
    dotted_quads,
    format_address,
    format_span,
    intersect,
    normalise,
    overlapping,
    parse_address,
    parse_address_set,
    parse_network,
    parse_span,
    parse_spans,
    reaching_outside,
    span_from_bounds,
    span_of_network,
    subtract,
    total_size,
    usable_hosts,
)
from sessionnet_vip.coerce import MAX_INT_DIGITS, as_int, brief
from sessionnet_vip.errors import VipError

#: ``Span(a, b)`` without the named tuple's Python-level ``__new__`` (as in addressing).
_new_span = tuple.__new__

#: Keys :func:`plan_from_dict` accepts (the module's options).
PLAN_OPTION_NAMES: Final = (
    "subnets",
    "dhcp_scopes",
    "servers",
    "existing",
    "carve_from_scopes",
    "replan_invalid",
    "allow_split",
)
#: Ranges per server when ``allow_split: true``.
DEFAULT_SPLIT_RANGES: Final = 4
#: Highest accepted ``headroom`` percentage.
MAX_HEADROOM: Final = 1000

STATUS_KEPT: Final = "kept"
STATUS_GROWN: Final = "grown"
STATUS_NEW: Final = "new"
STATUS_MOVED: Final = "moved"
STATUS_INVALID: Final = "invalid"


class PlanError(VipError):
    """The servers do not fit; ``failures`` holds one JSON-able dict per subnet."""

    def __init__(self, message: str, failures: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(message)
        self.failures: list[dict[str, Any]] = [dict(f) for f in failures]


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subnet:
    """A subnet session hosts have a NIC in."""

    cidr: ipaddress.IPv4Network
    gateway: int | None = None
    #: Other addresses no server may use (static devices, cluster addresses...).
    reserved: tuple[Span, ...] = ()

    @property
    def usable(self) -> Span:
        return usable_hosts(self.cidr, "subnet")


@dataclass(frozen=True)
class DhcpScope:
    """A DHCP scope as ``dhcp_scope_info`` reports it. The lists of spans are normalised
    (sorted, no overlapping or touching members), as :func:`build_request` makes them."""

    scope: str
    range: Span
    exclusions: tuple[Span, ...] = ()
    reservations: tuple[Span, ...] = ()
    #: Leased addresses (optional); never carved.
    leases: tuple[Span, ...] = ()


_NO_HEADROOM: Final = Fraction(0)

# Server and Placement (one each per server of a farm: tens of thousands) write their own
# __init__: the fields go into the instance dict in one update, where a frozen dataclass'
# generated __init__ makes one object.__setattr__ call per field (about 2.5 times as slow). Same
# parameters, order and defaults as the fields (tests/unit/planning/test_planning_hot_paths.py).


@dataclass(frozen=True, init=False)
class Server:
    """A session host: its subnet, its maximum concurrent sessions and extra headroom (%)."""

    name: str
    subnet: ipaddress.IPv4Network
    max_sessions: int
    headroom: Fraction = _NO_HEADROOM

    def __init__(
        self, name: str, subnet: ipaddress.IPv4Network, max_sessions: int, headroom: Fraction = _NO_HEADROOM
    ) -> None:
        self.__dict__.update(name=name, subnet=subnet, max_sessions=max_sessions, headroom=headroom)

    @cached_property
    def need(self) -> int:
        """``ceil(max_sessions x (100 + headroom) / 100)``, computed exactly."""
        if self.headroom.denominator == 1:  # whole percent: integer arithmetic, same result
            return -(-self.max_sessions * (100 + self.headroom.numerator) // 100)
        return math.ceil(self.max_sessions * (100 + self.headroom) / 100)


@dataclass(frozen=True)
class Assignment:
    """A server's range(s), as in the plan output and the ``existing`` input."""

    server: str
    subnet: ipaddress.IPv4Network
    ranges: tuple[Span, ...]

    @property
    def size(self) -> int:
        return total_size(self.ranges)


@dataclass(frozen=True)
class PlanRequest:
    """Validated planner input."""

    subnets: tuple[Subnet, ...]
    dhcp_scopes: tuple[DhcpScope, ...] = ()
    servers: tuple[Server, ...] = ()
    existing: tuple[Assignment, ...] = ()
    carve_from_scopes: bool = False
    replan_invalid: bool = False
    #: Ranges a server may get (1 = one contiguous range).
    max_ranges: int = 1


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class Placement:
    """Where a server ended up, and why."""

    server: str
    subnet: ipaddress.IPv4Network
    ranges: tuple[Span, ...]
    need: int
    status: str
    reason: str | None = None
    #: Parts of ``ranges`` to add as exclusions, as (scope, span).
    carved: tuple[tuple[str, Span], ...] = ()

    def __init__(  # see Server
        self,
        server: str,
        subnet: ipaddress.IPv4Network,
        ranges: tuple[Span, ...],
        need: int,
        status: str,
        reason: str | None = None,
        carved: tuple[tuple[str, Span], ...] = (),
    ) -> None:
        self.__dict__.update(
            server=server, subnet=subnet, ranges=ranges, need=need, status=status, reason=reason, carved=carved
        )

    @property
    def size(self) -> int:
        return total_size(self.ranges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "subnet": str(self.subnet),
            "ranges": [
                {"start": format_address(r.first), "end": format_address(r.last), "size": r.size}
                for r in self.ranges
            ],
        }


@dataclass(frozen=True)
class SubnetReport:
    """Everything about one subnet after planning (drawn by :mod:`sessionnet_vip.plan_svg`)."""

    subnet: Subnet
    scopes: tuple[DhcpScope, ...]
    placements: tuple[Placement, ...]
    #: Free addresses outside every scope range after the plan.
    free_outside: tuple[Span, ...]
    #: Free addresses inside scope pools that could be carved (not leased/reserved/excluded).
    carvable: tuple[tuple[str, Span], ...]


@dataclass(frozen=True)
class PlanResult:
    placements: tuple[Placement, ...]
    exclusions: tuple[tuple[str, Span], ...]
    invalid: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]
    subnets: tuple[SubnetReport, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able result: ``plan``, ``exclusions``, ``invalid``, ``warnings``."""
        return {
            "plan": [p.to_dict() for p in self.placements],
            "exclusions": [
                {"scope": scope, "start": format_address(s.first), "end": format_address(s.last)}
                for scope, s in self.exclusions
            ],
            "invalid": [{"server": server, "reason": reason} for server, reason in self.invalid],
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _as_list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise VipError(f"{what} must be a list, not {type(value).__name__}")
    return list(value)


def _as_mapping(value: object, what: str, known: Iterable[str] | None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise VipError(f"{what} must be a mapping, not {type(value).__name__} ({brief(value)})")
    if known is not None:
        allowed = set(known)
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise VipError(f"{what}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(known)}")
    return value


def _as_bool(value: object, what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise VipError(f"{what} must be true or false, not {brief(value)}")
    return value


def _as_positive_int(value: object, what: str) -> int:
    return as_int(value, what, minimum=1)


_DECIMAL: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _as_headroom(value: object, what: str) -> Fraction:
    if value is None:
        return Fraction(0)
    if isinstance(value, bool):
        raise VipError(f"{what} is a boolean ({brief(value)}); give a percentage such as 10")
    try:
        if isinstance(value, int):
            number = Fraction(value)
        elif isinstance(value, str):
            text = value.strip()
            # plain decimal only: no exponent (Fraction("1e999999999") would never finish)
            if len(text) > MAX_INT_DIGITS or _DECIMAL.fullmatch(text) is None:
                raise ValueError(text)
            number = Fraction(text)
        elif isinstance(value, float) and math.isfinite(value):
            number = Fraction(repr(value))
        else:
            raise ValueError(value)
    except (ValueError, ZeroDivisionError):
        raise VipError(f"{what} is {brief(value)}, not a number; give a percentage such as 10") from None
    if not 0 <= number <= MAX_HEADROOM:
        raise VipError(f"{what} is {brief(value)}; give a percentage from 0 to {MAX_HEADROOM}")
    return number


def _as_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise VipError(f"{what} must be a non-empty string, not {brief(value)}")
    if not value.isprintable():  # a line break or a control character would break the table
        raise VipError(
            f"{what} {brief(value)} contains a line break or another unprintable character; "
            "give the name on one line, in printable characters"
        )
    return value.strip()


_SUBNET_KEYS: Final = frozenset(("cidr", "gateway", "reserved"))
_LIST_KEYS: Final = ("exclusions", "reservations", "leases")
_BOUND_KEYS: Final = frozenset(("start", "end"))
# The quick readers below take the usual entries (exact types, valid values) without building
# the names of the inputs for messages; they return None for anything else, bad input included,
# and the reference reader then reads the entry again and words the error.


def _quick_subnet(raw: object) -> Subnet | None:
    if type(raw) is not dict or not raw.keys() <= _SUBNET_KEYS:  # pylint: disable=unidiomatic-typecheck
        return None
    text, gateway_text, reserved_raw = raw.get("cidr"), raw.get("gateway"), raw.get("reserved")
    if (
        type(text) is not str  # pylint: disable=unidiomatic-typecheck
        or not (gateway_text is None or type(gateway_text) is str)  # pylint: disable=unidiomatic-typecheck
        or not (reserved_raw is None or type(reserved_raw) is list)  # pylint: disable=unidiomatic-typecheck
    ):
        return None
    # the gateway and reserved entries written as text (A.B.C.D or A.B.C.D-E.F.G.H, the usual
    # forms) in one call: [gateway, first, last, first, last...]
    texts: list[object] | None = ["0.0.0.0" if gateway_text is None else gateway_text]
    for entry in reserved_raw or ():
        if texts is None or type(entry) is not str or "/" in entry:  # pylint: disable=unidiomatic-typecheck
            texts = None
            break
        first_text, _dash, last_text = entry.strip().partition("-")
        texts += (first_text, last_text) if _dash else (first_text, first_text)
    values = None if texts is None else dotted_quads(texts)
    try:
        cidr = parse_network(text, "")
        usable = usable_hosts(cidr)
        if values is not None:
            if any(last < first for first, last in zip(values[1::2], values[2::2], strict=True)):
                return None  # an end below its start
            gateway = None if gateway_text is None else values[0]
            reserved = list(map(_new_span, itertools.repeat(Span), zip(values[1::2], values[2::2], strict=True)))
        else:
            gateway = None if gateway_text is None else parse_address(gateway_text, "")
            reserved = [parse_span(entry, "") for entry in reserved_raw or ()]
    except VipError:  # its message names no input: the reference reader raises it again, named
        return None
    if gateway is not None and not usable.first <= gateway <= usable.last:
        return None
    for first, last in reserved:
        if first <= usable.first - 2 or last >= usable.last + 2:  # outside network..broadcast
            return None
    return Subnet(cidr=cidr, gateway=gateway, reserved=tuple(normalise(reserved)))


def _quick_scope(raw: object) -> DhcpScope | None:
    if type(raw) is not dict:  # pylint: disable=unidiomatic-typecheck
        return None
    scope = raw.get("scope")
    if type(scope) is not str or not scope or scope.strip() != scope:  # pylint: disable=unidiomatic-typecheck
        return None
    lists = [raw.get(key) for key in _LIST_KEYS]
    if not all(value is None or type(value) is list for value in lists):  # pylint: disable=unidiomatic-typecheck
        return None
    # the range and exclusions ({start, end} of text, the usual form) in one call
    texts: list[object] | None = [raw.get("start"), raw.get("end")]
    for entry in lists[0] or ():
        if texts is None or type(entry) is not dict or entry.keys() != _BOUND_KEYS:  # pylint: disable=unidiomatic-typecheck
            texts = None
            break
        texts += (entry["start"], entry["end"])
    values = None if texts is None else dotted_quads(texts)
    try:
        if values is not None:
            if any(last < first for first, last in zip(values[::2], values[1::2], strict=True)):
                return None  # an end below its start
            rng = _new_span(Span, (values[0], values[1]))
            exclusions = list(map(_new_span, itertools.repeat(Span), zip(values[2::2], values[3::2], strict=True)))
        else:
            rng = span_from_bounds(raw.get("start"), raw.get("end"), "")
            exclusions = [parse_span(entry, "") for entry in lists[0] or ()]
        reservations = parse_address_set(lists[1] or [], "")
        leases = parse_address_set(lists[2] or [], "")
    except VipError:  # as in _quick_subnet
        return None
    for first, last in exclusions:
        if first < rng.first or last > rng.last:
            return None
    return DhcpScope(
        scope=scope,
        range=rng,
        exclusions=tuple(normalise(exclusions)),
        reservations=tuple(reservations),
        leases=tuple(leases),
    )


def _parse_subnet(raw: object, index: int) -> Subnet:
    return _quick_subnet(raw) or _read_subnet(raw, index)


def _read_subnet(raw: object, index: int) -> Subnet:
    """The reference reader of ``subnets[index]``: any entry, precise errors."""
    what = f"subnets[{index}]"
    item = _as_mapping(raw, what, ("cidr", "gateway", "reserved"))
    if "cidr" not in item:
        raise VipError(f"{what}: 'cidr' is missing; give the subnet as A.B.C.D/N")
    cidr = parse_network(item["cidr"], f"{what} cidr")
    what = f"subnet {cidr}"
    usable = usable_hosts(cidr, what)
    whole = span_of_network(cidr)
    gateway = None
    if item.get("gateway") is not None:
        gateway = parse_address(item["gateway"], f"{what} gateway")
        if not usable.first <= gateway <= usable.last:
            raise VipError(
                f"{what}: gateway {format_address(gateway)} is not a host address of the subnet "
                f"({format_span(usable)})"
            )
    reserved: list[Span] = []
    for j, entry in enumerate(_as_list(item.get("reserved"), f"{what} reserved")):
        span = parse_span(entry, f"{what} reserved[{j}]")
        if span.first < whole.first or span.last > whole.last:
            raise VipError(
                f"{what}: reserved[{j}] {format_span(span)} crosses or lies outside the subnet "
                f"({format_span(whole)}); split it or move it to its own subnet"
            )
        reserved.append(span)
    return Subnet(cidr=cidr, gateway=gateway, reserved=tuple(normalise(reserved)))


def _parse_scope(raw: object, index: int) -> DhcpScope:
    return _quick_scope(raw) or _read_scope(raw, index)


def _read_scope(raw: object, index: int) -> DhcpScope:
    """The reference reader of ``dhcp_scopes[index]``: any entry, precise errors."""
    what = f"dhcp_scopes[{index}]"
    # dhcp_scope_info may report more keys (name, state, mask...): they are ignored.
    item = _as_mapping(raw, what, None)
    if item.get("scope") is None:
        raise VipError(f"{what}: 'scope' is missing; give the scope ID (for example 10.20.0.0)")
    scope = _as_name(str(item["scope"]), f"{what} scope")
    what = f"DHCP scope {scope}"
    for key in ("start", "end"):
        if item.get(key) is None:
            raise VipError(f"{what}: '{key}' is missing; give the first and last address of its range")
    rng = parse_span({"start": item["start"], "end": item["end"]}, f"{what} range")
    exclusions: list[Span] = []
    for j, entry in enumerate(_as_list(item.get("exclusions"), f"{what} exclusions")):
        span = parse_span(entry, f"{what} exclusions[{j}]")
        if span.first < rng.first or span.last > rng.last:
            raise VipError(
                f"{what}: exclusion {format_span(span)} is outside the scope's range "
                f"{format_span(rng)}; fix the exclusion or the range"
            )
        exclusions.append(span)
    reservations = parse_spans(
        _as_list(item.get("reservations"), f"{what} reservations"), f"{what} reservations"
    )
    leases = parse_spans(_as_list(item.get("leases"), f"{what} leases"), f"{what} leases")
    return DhcpScope(
        scope=scope,
        range=rng,
        exclusions=tuple(normalise(exclusions)),
        reservations=tuple(normalise(reservations)),
        leases=tuple(normalise(leases)),
    )


_SERVER_KEYS: Final = frozenset(("name", "subnet", "max_sessions", "headroom"))
# The fast path tests exact types (`type(x) is int`): a bool is not a session count, and any
# other type or subclass takes the reference path with its precise messages.
#: headroom given as a whole percent (the usual case) -> its Fraction, shared (immutable)
_WHOLE_HEADROOM: Final[dict[int, Fraction]] = {0: _NO_HEADROOM}


def _parse_servers(raws: list[Any], networks: dict[str, ipaddress.IPv4Network]) -> list[Server]:
    """Every entry of ``servers``. ``networks``: subnets already parsed from the same text
    (servers share a few subnets)."""
    out: list[Server] = []
    append = out.append
    whole_headroom = _WHOLE_HEADROOM
    for index, raw in enumerate(raws):
        if type(raw) is dict and raw.keys() <= _SERVER_KEYS:  # pylint: disable=unidiomatic-typecheck
            # the usual entry (plain name, known subnet, int sessions and headroom) without the
            # checks' messages; anything else goes the long way (_parse_server), which words the errors
            name = raw.get("name")
            text = raw.get("subnet")
            max_sessions = raw.get("max_sessions")
            headroom = raw.get("headroom")
            if headroom is None:
                fraction: Fraction | None = _NO_HEADROOM
            elif type(headroom) is int and 0 <= headroom <= MAX_HEADROOM:  # pylint: disable=unidiomatic-typecheck
                fraction = whole_headroom.get(headroom)
                if fraction is None:
                    fraction = whole_headroom[headroom] = Fraction(headroom)
            else:
                fraction = None
            subnet = networks.get(text) if type(text) is str else None  # pylint: disable=unidiomatic-typecheck
            if (
                subnet is not None
                and fraction is not None
                and type(name) is str  # pylint: disable=unidiomatic-typecheck
                and name
                and name.strip() == name
                and name.isprintable()
                and type(max_sessions) is int  # pylint: disable=unidiomatic-typecheck
                and max_sessions >= 1
            ):
                append(Server(name, subnet, max_sessions, fraction))
                continue
        append(_parse_server(raw, index, networks))
    return out


def _parse_server(
    raw: object, index: int, networks: dict[str, ipaddress.IPv4Network] | None = None
) -> Server:
    """The reference reader of ``servers[index]``: any entry, precise errors."""
    what = f"servers[{index}]"
    item = _as_mapping(raw, what, ("name", "subnet", "max_sessions", "headroom"))
    name = _as_name(item.get("name"), f"{what} name")
    what = f"server {name}"
    if item.get("subnet") is None:
        raise VipError(f"{what}: 'subnet' is missing; give the CIDR of one of 'subnets'")
    text = item["subnet"]
    subnet = networks.get(text) if networks is not None and isinstance(text, str) else None
    if subnet is None:
        subnet = parse_network(text, f"{what} subnet")
        if networks is not None and isinstance(text, str):
            networks[text] = subnet
    if item.get("max_sessions") is None:
        raise VipError(f"{what}: 'max_sessions' is missing; give its maximum concurrent sessions")
    max_sessions = _as_positive_int(item["max_sessions"], f"{what} max_sessions")
    headroom = _as_headroom(item.get("headroom"), f"{what} headroom")
    return Server(name=name, subnet=subnet, max_sessions=max_sessions, headroom=headroom)


def _parse_assignment(raw: object, index: int) -> Assignment:
    what = f"existing[{index}]"
    item = _as_mapping(raw, what, None)
    server = _as_name(item.get("server"), f"{what} server")
    what = f"existing assignment of {server}"
    if item.get("subnet") is None:
        raise VipError(f"{what}: 'subnet' is missing")
    subnet = parse_network(item["subnet"], f"{what} subnet")
    ranges: list[Span] = []
    for j, entry in enumerate(_as_list(item.get("ranges"), f"{what} ranges")):
        span = parse_span(entry, f"{what} ranges[{j}]")
        if isinstance(entry, Mapping) and entry.get("size") is not None:
            size = _as_positive_int(entry["size"], f"{what} ranges[{j}] size")
            if size != span.size:
                raise VipError(
                    f"{what}: ranges[{j}] {format_span(span)} holds {span.size} addresses but "
                    f"says size {size}; correct start, end or size"
                )
        ranges.append(span)
    ranges.sort()
    for a, b in itertools.pairwise(ranges):
        if b.first <= a.last:
            raise VipError(f"{what}: ranges {format_span(a)} and {format_span(b)} overlap")
    return Assignment(server=server, subnet=subnet, ranges=tuple(ranges))


def _parse_split(value: object) -> int:
    if value is None or value is False:
        return 1
    if value is True:
        return DEFAULT_SPLIT_RANGES
    return _as_positive_int(value, "allow_split (true, false or the maximum ranges per server)")


def build_request(data: Mapping[str, Any]) -> PlanRequest:
    """Validate the module options / YAML keys (see :data:`PLAN_OPTION_NAMES`)."""
    data = _as_mapping(data, "plan input", PLAN_OPTION_NAMES)
    raw_subnets = _as_list(data.get("subnets"), "subnets")
    subnets = [_parse_subnet(s, i) for i, s in enumerate(raw_subnets)]
    if not subnets:
        raise VipError("subnets is empty; define at least one subnet (cidr, gateway, reserved)")
    scopes = [_parse_scope(s, i) for i, s in enumerate(_as_list(data.get("dhcp_scopes"), "dhcp_scopes"))]
    # a server's subnet text, when it is a subnet's, is that subnet's very network object (the
    # same text parses to an equal network): dictionaries keyed by network then match by identity
    networks: dict[str, ipaddress.IPv4Network] = {
        raw["cidr"]: subnet.cidr
        for raw, subnet in zip(raw_subnets, subnets, strict=True)
        if type(raw["cidr"]) is str  # pylint: disable=unidiomatic-typecheck
    }
    servers = _parse_servers(_as_list(data.get("servers"), "servers"), networks)
    existing = [_parse_assignment(e, i) for i, e in enumerate(_as_list(data.get("existing"), "existing"))]
    request = PlanRequest(
        subnets=tuple(sorted(subnets, key=lambda s: int(s.cidr.network_address))),
        dhcp_scopes=tuple(scopes),
        servers=tuple(sorted(servers, key=lambda s: s.name)),
        existing=tuple(sorted(existing, key=lambda a: a.server)),
        carve_from_scopes=_as_bool(data.get("carve_from_scopes"), "carve_from_scopes"),
        replan_invalid=_as_bool(data.get("replan_invalid"), "replan_invalid"),
        max_ranges=_parse_split(data.get("allow_split")),
    )
    _check_names(request)
    return request


def _check_names(request: PlanRequest) -> None:
    lasts = [span_of_network(s.cidr).last for s in request.subnets]
    for (a, b), a_last in zip(itertools.pairwise(request.subnets), lasts, strict=False):
        # sorted by first address: b overlaps a when it starts within a (a.cidr.overlaps(b.cidr))
        if int(b.cidr.network_address) <= a_last:
            raise VipError(
                f"subnets {a.cidr} and {b.cidr} overlap; define each subnet once"
                if a.cidr == b.cidr
                else f"subnets {a.cidr} and {b.cidr} overlap; keep only one of them"
            )
    names = [s.name for s in request.servers]
    for name, following in itertools.pairwise(names):
        if name == following:
            raise VipError(f"server {name} is listed twice in servers; give each server once")
    seen = [e.server for e in request.existing]
    for name, following in itertools.pairwise(seen):
        if name == following:
            raise VipError(f"server {name} has two entries in existing; keep one")
    defined_ids = {id(s.cidr) for s in request.subnets}  # as in _by_identity
    defined = {s.cidr for s in request.subnets}
    for server in request.servers:
        if id(server.subnet) not in defined_ids and server.subnet not in defined:
            raise VipError(
                f"server {server.name}: subnet {server.subnet} is not defined in subnets; "
                "add it (cidr, gateway, reserved) or fix the server's subnet"
            )


# ---------------------------------------------------------------------------------------------
# Free runs
# ---------------------------------------------------------------------------------------------


class _FreeRuns:
    """Free intervals of one tier: sorted by (size, first) for best fit, and keyed by both ends."""

    def __init__(self, spans: Iterable[Span]) -> None:
        spans = list(spans)
        by_size = [(last - first + 1, first) for first, last in spans]
        by_size.sort()
        self._by_size: list[tuple[int, int]] = by_size
        self._last_of: dict[int, int] = dict(spans)
        self._first_of: dict[int, int] = {last: first for first, last in spans}

    def __bool__(self) -> bool:
        return bool(self._by_size)

    def total(self) -> int:
        return sum(size for size, _spans in self._by_size)

    def sizes(self) -> list[tuple[int, int]]:
        """(size, first address) of every run, smallest first."""
        return list(self._by_size)

    def largest(self) -> Span | None:
        if not self._by_size:
            return None
        size, first = self._by_size[-1]
        # the lowest address among the largest runs
        i = bisect.bisect_left(self._by_size, (size, -1))
        size, first = self._by_size[i]
        return _new_span(Span, (first, first + size - 1))

    def best_fit(self, need: int) -> Span | None:
        by_size = self._by_size
        i = bisect.bisect_left(by_size, (need, -1))
        if i == len(by_size):
            return None
        size, first = by_size[i]
        return _new_span(Span, (first, first + size - 1))

    def take_fit(self, need: int) -> Span | None:
        """``best_fit(need)``, then ``take`` its first ``need`` addresses, in one call: the part
        taken, or None (nothing taken) if no run is long enough."""
        by_size = self._by_size
        i = bisect.bisect_left(by_size, (need, -1))
        if i == len(by_size):
            return None
        size, first = by_size[i]
        del by_size[i]
        last = first + size - 1
        del self._last_of[first]
        del self._first_of[last]
        if size > need:  # the rest of the run stays free
            rest = first + need
            bisect.insort(by_size, (size - need, rest))
            self._last_of[rest] = last
            self._first_of[last] = rest
        return _new_span(Span, (first, first + need - 1))

    def starting_at(self, first: int) -> Span | None:
        last = self._last_of.get(first)
        return None if last is None else _new_span(Span, (first, last))

    def ending_at(self, last: int) -> Span | None:
        first = self._first_of.get(last)
        return None if first is None else _new_span(Span, (first, last))

    def _remove(self, first: int, last: int) -> None:
        by_size = self._by_size
        del by_size[bisect.bisect_left(by_size, (last - first + 1, first))]
        del self._last_of[first]
        del self._first_of[last]

    def _add(self, first: int, last: int) -> None:
        bisect.insort(self._by_size, (last - first + 1, first))
        self._last_of[first] = last
        self._first_of[last] = first

    def take(self, run: Span, part: Span) -> None:
        """Remove ``part`` (inside the free ``run``)."""
        run_first, run_last = run
        part_first, part_last = part
        self._remove(run_first, run_last)
        if run_first < part_first:
            self._add(run_first, part_first - 1)
        if part_last < run_last:
            self._add(part_last + 1, run_last)

    def release(self, span: Span) -> None:
        """Give ``span`` back, merging it with free neighbours."""
        first, last = span
        left = self._first_of.get(first - 1)
        if left is not None:
            self._remove(left, first - 1)
            first = left
        right = self._last_of.get(last + 1)
        if right is not None:
            self._remove(last + 1, right)
            last = right
        self._add(first, last)


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


# The four working classes below are plain classes, not dataclasses: nothing compares or prints
# them, and creating a dataclass costs about a millisecond at every start of `vipctl plan`.
class _SubnetWork:
    def __init__(self, subnet: Subnet, scopes: list[DhcpScope], outside_base: list[Span]) -> None:
        self.subnet = subnet
        self.scopes = scopes
        #: usable hosts - gateway - reserved - DHCP reservations and leases - scope ranges
        self.outside_base = outside_base
        self.servers: list[Server] = []

    @property
    def blocked(self) -> list[Span]:
        """Gateway, reserved, and the DHCP reservations and leases inside the subnet."""
        fixed = list(self.subnet.reserved)
        if self.subnet.gateway is not None:
            fixed.append(Span(self.subnet.gateway, self.subnet.gateway))
        dhcp_fixed = normalise(s for scope in self.scopes for s in (*scope.reservations, *scope.leases))
        dhcp_fixed = intersect(dhcp_fixed, [span_of_network(self.subnet.cidr)])
        return normalise([*fixed, *dhcp_fixed])

    @cached_property
    def carve_base(self) -> list[tuple[DhcpScope, list[Span]]]:
        """Per scope: its range - its exclusions - blocked (computed when carving, a failure
        message or an SVG map needs it)."""
        usable = [self.subnet.usable]
        blocked = self.blocked
        return [
            (scope, subtract(subtract(intersect([scope.range], usable), list(scope.exclusions)), blocked))
            for scope in self.scopes
        ]


class _SubnetIndex:
    def __init__(self, subnets: Sequence[Subnet]) -> None:
        self._subnets = list(subnets)  # sorted, not overlapping
        self._wholes = [span_of_network(s.cidr) for s in subnets]
        self._firsts = [whole.first for whole in self._wholes]

    def find(self, span: Span, what: str) -> tuple[Subnet, Span] | None:
        """The subnet holding ``span`` and all its addresses; None if it touches none; error if
        it crosses one."""
        i = bisect.bisect_right(self._firsts, span.last) - 1
        hits: list[int] = []
        while i >= 0:
            if self._wholes[i].last < span.first:
                break
            hits.append(i)
            i -= 1
        if not hits:
            return None
        whole = self._wholes[hits[0]]
        if len(hits) > 1 or span.first < whole.first or span.last > whole.last:
            raise VipError(
                f"{what} {format_span(span)} crosses the boundary of subnet "
                f"{' and '.join(str(self._subnets[h].cidr) for h in hits)}; keep it inside one subnet"
            )
        return self._subnets[hits[0]], whole


def _merge_scopes(scopes: Sequence[DhcpScope]) -> list[DhcpScope]:
    """Sort scopes by range; merge identical duplicates (failover partners); refuse overlaps."""
    by_id: dict[str, DhcpScope] = {}
    for scope in scopes:
        seen = by_id.get(scope.scope)
        if seen is None:
            by_id[scope.scope] = scope
            continue
        if seen.range != scope.range or seen.exclusions != scope.exclusions:
            raise VipError(
                f"DHCP scope {scope.scope} is listed twice with different ranges or exclusions "
                f"({format_span(seen.range)} vs {format_span(scope.range)}); the DHCP servers "
                "disagree: fix the scope on them or list it once"
            )
        by_id[scope.scope] = DhcpScope(
            scope=scope.scope,
            range=scope.range,
            exclusions=scope.exclusions,
            reservations=tuple(normalise([*seen.reservations, *scope.reservations])),
            leases=tuple(normalise([*seen.leases, *scope.leases])),
        )
    ordered = sorted(by_id.values(), key=lambda s: (s.range, s.scope))
    for a, b in itertools.pairwise(ordered):
        if b.range.first <= a.range.last:
            raise VipError(
                f"DHCP scopes {a.scope} ({format_span(a.range)}) and {b.scope} "
                f"({format_span(b.range)}) overlap; they contradict each other: fix their ranges"
            )
    return ordered


def _build_work(request: PlanRequest) -> dict[ipaddress.IPv4Network, _SubnetWork]:
    index = _SubnetIndex(request.subnets)
    # keyed by id(): the subnets are alive throughout, and a network's hash is Python code
    scopes_of: dict[int, list[DhcpScope]] = {id(s): [] for s in request.subnets}
    for scope in _merge_scopes(request.dhcp_scopes):
        found = index.find(scope.range, f"DHCP scope {scope.scope}: range")
        if found is None:
            continue  # a scope of a subnet no server uses
        subnet, whole = found
        reservations = scope.reservations  # normalised: its ends are the first and last member's
        if reservations and (reservations[0].first < whole.first or reservations[-1].last > whole.last):
            res = next(r for r in reservations if r.first < whole.first or r.last > whole.last)
            raise VipError(
                f"DHCP scope {scope.scope}: reservation {format_span(res)} is outside its subnet "
                f"{subnet.cidr}; fix the reservation"
            )
        scopes_of[id(subnet)].append(scope)
    work: dict[ipaddress.IPv4Network, _SubnetWork] = {}
    for subnet in request.subnets:
        scopes = scopes_of[id(subnet)]
        # usable - (blocked | scope ranges) in one sweep: what lies outside the subnet (a lease
        # of another subnet) is outside the usable hosts too, so it needs no clipping here
        taken = list(subnet.reserved)
        if subnet.gateway is not None:
            taken.append(_new_span(Span, (subnet.gateway, subnet.gateway)))
        for scope in scopes:
            # the reservations and leases inside the scope's range go with the range
            taken += reaching_outside(scope.reservations, scope.range)
            taken += reaching_outside(scope.leases, scope.range)
            taken.append(scope.range)
        work[subnet.cidr] = _SubnetWork(
            subnet=subnet, scopes=scopes, outside_base=subtract([subnet.usable], normalise(taken))
        )
    of_network = _by_identity(work)
    for server in request.servers:
        (of_network.get(id(server.subnet)) or work[server.subnet]).servers.append(server)
    return work


def _by_identity(work: dict[ipaddress.IPv4Network, _SubnetWork]) -> dict[int, _SubnetWork]:
    """``work`` keyed by ``id()`` of its networks: servers and placements carry their subnet's
    very network object (see :func:`build_request`), found without hashing it (Python code in
    :mod:`ipaddress`); another object equal to it falls back to ``work[network]``."""
    return {id(cidr): sub for cidr, sub in work.items()}


def _check_existing(
    assignment: Assignment, server: Server, work: _SubnetWork, carve: bool, taken: list[Span]
) -> str | None:
    """Why ``assignment`` is invalid, or None. ``taken`` holds ranges of servers earlier by name."""
    if assignment.subnet != server.subnet:
        return f"assigned in subnet {assignment.subnet} but the server is now in subnet {server.subnet}"
    subnet = work.subnet
    usable = subnet.usable
    for r in assignment.ranges:
        if r.first <= usable.first - 1 <= r.last:
            return f"range {format_span(r)} includes the network address {subnet.cidr.network_address}"
        if r.first <= usable.last + 1 <= r.last:
            return f"range {format_span(r)} includes the broadcast address {subnet.cidr.broadcast_address}"
        if r.first < usable.first or r.last > usable.last:
            return f"range {format_span(r)} is outside subnet {subnet.cidr}"
        if subnet.gateway is not None and r.first <= subnet.gateway <= r.last:
            return f"range {format_span(r)} includes the gateway {format_address(subnet.gateway)}"
        hit = overlapping(list(subnet.reserved), r)
        if hit:
            return f"range {format_span(r)} includes reserved address(es) {format_span(hit[0])}"
        for scope in work.scopes:
            hit = overlapping(list(scope.reservations), r)
            if hit:
                return (
                    f"range {format_span(r)} includes DHCP reservation {format_span(hit[0])} "
                    f"of scope {scope.scope}"
                )
            hit = overlapping(list(scope.leases), r)
            if hit:
                return (
                    f"range {format_span(r)} includes DHCP lease {format_span(hit[0])} of scope {scope.scope}"
                )
            if not carve:
                inside = intersect([r], [scope.range])
                pool = subtract(inside, list(scope.exclusions))
                if pool:
                    return (
                        f"range {format_span(r)} overlaps the DHCP pool of scope {scope.scope} "
                        f"({format_span(pool[0])}); set carve_from_scopes: true to exclude those "
                        "addresses from the scope, or replan_invalid: true to move the server"
                    )
        hit = overlapping(taken, r)
        if hit:
            return f"range {format_span(r)} overlaps the range of another server ({format_span(hit[0])})"
    return None


class _Tiers:
    __slots__ = ("carve", "carve_base", "outside", "outside_base")

    def __init__(
        self,
        outside: _FreeRuns,
        carve: list[tuple[DhcpScope, _FreeRuns]],
        carve_base: list[tuple[DhcpScope, list[Span]]],
        outside_base: list[Span],
    ) -> None:
        self.outside = outside
        self.carve = carve
        self.carve_base = carve_base
        self.outside_base = outside_base

    def all(self) -> list[_FreeRuns]:
        return [self.outside, *(runs for _scope, runs in self.carve)]

    def total(self) -> int:
        return sum(t.total() for t in self.all())

    def best_fit(self, need: int) -> tuple[_FreeRuns, Span] | None:
        fit = self.outside.best_fit(need)
        if fit is not None:
            return self.outside, fit
        best: tuple[_FreeRuns, Span] | None = None
        for _scope, runs in self.carve:
            fit = runs.best_fit(need)
            if fit is not None and (best is None or (fit.size, fit.first) < (best[1].size, best[1].first)):
                best = runs, fit
        return best

    def largest(self) -> tuple[_FreeRuns, Span] | None:
        big = self.outside.largest()
        if big is not None:
            return self.outside, big
        best: tuple[_FreeRuns, Span] | None = None
        for _scope, runs in self.carve:
            big = runs.largest()
            if big is not None and (best is None or (-big.size, big.first) < (-best[1].size, best[1].first)):
                best = runs, big
        return best

    def run_sizes(self) -> list[int]:
        """Sizes of every free run, largest first."""
        return sorted((size for runs in self.all() for size, _spans in runs.sizes()), reverse=True)

    def largest_size(self) -> int:
        sizes = [big.size for runs in self.all() if (big := runs.largest()) is not None]
        return max(sizes, default=0)

    def allocate(self, need: int, max_ranges: int) -> list[Span] | None:
        """Best-fit ``need`` addresses in at most ``max_ranges`` runs; None (nothing taken) if not."""
        part = self.outside.take_fit(need) if need > 0 else None
        if part is not None:  # the usual case: one run outside the scopes (as the loop below takes it)
            return [part]
        pieces: list[tuple[_FreeRuns, Span]] = []
        remaining = need
        while remaining > 0:
            fit = self.best_fit(remaining)
            if fit is not None:
                runs, run = fit
                part = _new_span(Span, (run.first, run.first + remaining - 1))
                runs.take(run, part)
                pieces.append((runs, part))
                remaining = 0
                break
            if len(pieces) >= max_ranges - 1:
                break
            big = self.largest()
            if big is None:
                break
            runs, run = big
            runs.take(run, run)
            pieces.append((runs, run))
            remaining -= run.size
        if remaining > 0:
            for runs, part in pieces:
                runs.release(part)
            return None
        return sorted(part for _key, part in pieces)

    def grow(self, ranges: list[Span], extra: int) -> list[Span] | None:
        """Extend the last range upwards or the first downwards by ``extra``, if free."""
        last = ranges[-1]
        for runs in self.all():
            run = runs.starting_at(last.last + 1)
            if run is not None and run.size >= extra:
                runs.take(run, Span(run.first, run.first + extra - 1))
                return [*ranges[:-1], Span(last.first, last.last + extra)]
        first = ranges[0]
        for runs in self.all():
            run = runs.ending_at(first.first - 1)
            if run is not None and run.size >= extra:
                runs.take(run, Span(run.last - extra + 1, run.last))
                return [Span(first.first - extra, first.last), *ranges[1:]]
        return None

    def release(self, ranges: Sequence[Span]) -> None:
        spans = normalise(ranges)
        for part in intersect(spans, self.outside_base):
            self.outside.release(part)
        for (_base_scope, base), (_scope, runs) in zip(self.carve_base, self.carve, strict=True):
            for part in intersect(spans, base):
                runs.release(part)


def _tiers(work: _SubnetWork, reserved_ranges: Sequence[Span], request: PlanRequest) -> _Tiers:
    taken = normalise(reserved_ranges) if reserved_ranges else []
    carve_base = work.carve_base if request.carve_from_scopes else []
    return _Tiers(
        outside=_FreeRuns(subtract(work.outside_base, taken) if taken else work.outside_base),
        carve=[(scope, _FreeRuns(subtract(base, taken))) for scope, base in carve_base],
        carve_base=carve_base,
        outside_base=work.outside_base,
    )


class _Outcome:
    __slots__ = ("placements", "unplaced", "warnings")

    def __init__(self, placements: dict[str, Placement], warnings: list[str], unplaced: list[Server]) -> None:
        self.placements = placements
        self.warnings = warnings
        self.unplaced = unplaced


def _place(
    work: _SubnetWork,
    kept: dict[str, Placement],
    pending: Sequence[Server],
    grow: Sequence[Server],
    reserved_ranges: list[Span],
    request: PlanRequest,
    order_key: Callable[[Server], Any] | None,
) -> _Outcome:
    """``order_key`` None: name order (``pending`` is in name order, as request.servers)."""
    tiers = _tiers(work, reserved_ranges, request)
    placements = dict(kept)
    warnings: list[str] = []
    to_place: list[tuple[Server, Placement | None]] = [(s, None) for s in pending]
    for server in grow:
        old = kept[server.name]
        ranges = list(old.ranges)
        extra = server.need - old.size
        grown = tiers.grow(ranges, extra)
        if grown is None and len(ranges) < request.max_ranges:
            more = tiers.allocate(extra, request.max_ranges - len(ranges))
            if more is not None:
                grown = sorted([*ranges, *more])
        if grown is not None:
            placements[server.name] = Placement(
                server.name, server.subnet, tuple(grown), server.need, STATUS_GROWN
            )
            warnings.append(
                f"{server.name}: needs {server.need} addresses, had {old.size}; grown to "
                f"{', '.join(format_span(r) for r in grown)}"
            )
        else:
            tiers.release(ranges)
            del placements[server.name]
            to_place.append((server, old))
    if order_key is not None:
        to_place.sort(key=lambda pair: order_key(pair[0]))
    elif grow:  # servers that could not grow join the pending ones in name order
        to_place.sort(key=lambda pair: pair[0].name)
    unplaced: list[Server] = []
    for server, previous in to_place:
        got = tiers.allocate(server.need, request.max_ranges)
        if got is None:
            unplaced.append(server)
            continue
        status = STATUS_NEW if previous is None else STATUS_MOVED
        placements[server.name] = Placement(server.name, server.subnet, tuple(got), server.need, status)
        if previous is not None:
            warnings.append(
                f"{server.name}: needs {server.need} addresses, had {previous.size} in "
                f"{', '.join(format_span(r) for r in previous.ranges)} with no room to grow; moved to "
                f"{', '.join(format_span(r) for r in got)}"
            )
    return _Outcome(placements, warnings, unplaced)


def _failure(
    work: _SubnetWork,
    unplaced: Sequence[Server],
    had: Mapping[str, int],
    needed: int,
    available: int,
    runs: Sequence[int],
    request: PlanRequest,
) -> dict[str, Any]:
    cidr = work.subnet.cidr
    shortfall = max(needed - available, 0)
    names = ", ".join(
        f"{s.name} (needs {s.need}"
        + (f", has {had[s.name]} and cannot grow in place)" if s.name in had else ")")
        for s in unplaced
    )
    fixes: list[str] = []
    carvable_extra = 0
    if not request.carve_from_scopes:
        carvable_extra = sum(total_size(base) for _scope, base in work.carve_base)
    if shortfall:
        problem = (
            f"{shortfall} address(es) missing: the servers to place need {needed}, "
            f"{available} are free{'' if request.carve_from_scopes else ' outside the DHCP scopes'}"
        )
    else:
        problem = (
            f"{available} free address(es) and {needed} more needed, but in runs too short to give each "
            f"server {'one range' if request.max_ranges == 1 else f'at most {request.max_ranges} ranges'} "
            f"(free runs: {', '.join(map(str, runs[:8]))}{', ...' if len(runs) > 8 else ''})"
        )
    if carvable_extra:
        fixes.append(
            f"set carve_from_scopes: true ({carvable_extra} more free address(es) inside DHCP scope ranges)"
        )
    if not shortfall and request.max_ranges == 1:
        fixes.append("set allow_split: true (a server may then get a few ranges)")
    with_headroom = [s for s in work.servers if s.headroom > 0]
    if with_headroom:
        saving = sum(s.need - s.max_sessions for s in with_headroom)
        fixes.append(f"lower headroom (servers here use {saving} address(es) for headroom)")
    if work.scopes:
        fixes.append("shrink a DHCP scope range")
    fixes.append(
        "lower max_sessions, move servers to another subnet, or use a larger subnet than " + str(cidr)
    )
    return {
        "subnet": str(cidr),
        "servers": [s.name for s in unplaced],
        "needed": needed,
        "available": available,
        "shortfall": shortfall,
        "largest_free_run": runs[0] if runs else 0,
        "free_runs": runs[:100],
        "message": f"subnet {cidr}: cannot place {names}; {problem}. Fix: {'; or '.join(fixes)}",
        "fixes": fixes,
    }


class _Checked:
    __slots__ = ("grow", "kept", "pending", "reserved_ranges")

    def __init__(self) -> None:
        self.kept: dict[str, Placement] = {}
        self.pending: list[Server] = []
        self.grow: list[Server] = []
        self.reserved_ranges: list[Span] = []


def make_plan(request: PlanRequest, *, reports: bool = True) -> PlanResult:
    """Plan every server of ``request`` (see the module docstring for the rules).

    ``reports=False`` leaves :attr:`PlanResult.subnets` (what the SVG maps are drawn from) empty:
    the table and :meth:`PlanResult.to_dict` do not need it.
    """
    work = _build_work(request)
    servers = {s.name: s for s in request.servers}
    existing = {a.server: a for a in request.existing}
    warnings: list[str] = []
    invalid: list[tuple[str, str]] = []
    placements: dict[str, Placement] = {}
    failures: list[dict[str, Any]] = []

    for assignment in request.existing:
        if assignment.server not in servers:
            warnings.append(
                f"existing assignment of {assignment.server} "
                f"({', '.join(format_span(r) for r in assignment.ranges) or 'no range'}) "
                "names no server in servers; dropped, its addresses are free again"
            )

    # Pass 1: check existing assignments, in server-name order per subnet.
    checked = {cidr: _Checked() for cidr in work}
    for (cidr, sub), state in zip(work.items(), checked.values(), strict=True):
        taken: list[Span] = []
        if not existing:  # nothing to check: every server is to place
            state.pending = list(sub.servers)
            continue
        for server in sub.servers:
            found = existing.get(server.name)
            if found is None or not found.ranges:
                state.pending.append(server)
                continue
            assignment = found
            reason = _check_existing(assignment, server, sub, request.carve_from_scopes, taken)
            if reason is not None:
                invalid.append((server.name, reason))
                if request.replan_invalid:
                    state.pending.append(server)
                    continue
                placements[server.name] = Placement(
                    server.name, assignment.subnet, assignment.ranges, server.need, STATUS_INVALID, reason
                )
                if assignment.subnet in checked:  # left where it is: nobody else gets it
                    checked[assignment.subnet].reserved_ranges.extend(assignment.ranges)
                continue
            for r in assignment.ranges:
                bisect.insort(taken, r)
            state.reserved_ranges.extend(assignment.ranges)
            state.kept[server.name] = Placement(
                server.name, cidr, assignment.ranges, server.need, STATUS_KEPT
            )
            if assignment.size < server.need:
                state.grow.append(server)
            elif assignment.size > server.need:
                warnings.append(
                    f"{server.name}: has {assignment.size} addresses, needs {server.need}; kept "
                    "(ranges never shrink by themselves: remove its existing entry to replan it)"
                )
            if len(assignment.ranges) > request.max_ranges:
                warnings.append(
                    f"{server.name}: has {len(assignment.ranges)} ranges, more than allow_split allows; kept"
                )

    # Pass 2: grow, then place, subnet by subnet.
    for (cidr, sub), state in zip(work.items(), checked.values(), strict=True):
        args = (sub, state.kept, state.pending, state.grow, state.reserved_ranges, request)
        outcome = _place(*args, None)
        if outcome.unplaced:
            retry = _place(*args, lambda s: (-s.need, s.name))
            if not retry.unplaced:
                outcome = retry
                outcome.warnings.append(
                    f"subnet {cidr}: servers placed largest first (name order did not fit)"
                )
        if outcome.unplaced:
            base = _tiers(sub, state.reserved_ranges, request)
            available = base.total()
            had = {s.name: state.kept[s.name].size for s in state.grow}
            needed = sum(s.need for s in state.pending) + sum(s.need - had[s.name] for s in state.grow)
            for server in outcome.unplaced:  # a server that could not grow would move: count its run
                if server.name in had:
                    base.release(state.kept[server.name].ranges)
            failures.append(
                _failure(sub, outcome.unplaced, had, needed, available, base.run_sizes(), request)
            )
            continue
        warnings.extend(outcome.warnings)
        placements.update(outcome.placements)

    if failures:
        raise PlanError("cannot fit the plan:\n" + "\n".join(f"- {f['message']}" for f in failures), failures)

    exclusions: list[tuple[DhcpScope, Span]] = []
    final: list[Placement] = []
    of_network = _by_identity(work)
    # Without carve_from_scopes nothing is carved: new and grown ranges come from the space
    # outside every scope range, and a kept range with pool addresses is invalid (_check_existing).
    carving = request.carve_from_scopes
    for name in sorted(placements):
        placement = placements[name]
        if carving and placement.status != STATUS_INVALID:
            carved = _carved(placement, of_network.get(id(placement.subnet)) or work[placement.subnet])
            if carved:
                placement = replace(placement, carved=tuple((scope.scope, span) for scope, span in carved))
                exclusions.extend(carved)
        final.append(placement)
    exclusions.sort(key=lambda pair: (pair[0].range, pair[0].scope, pair[1]))
    by_subnet: dict[int, list[Placement]] = {id(cidr): [] for cidr in work} if reports else {}
    for placement in final if reports else ():
        home = of_network.get(id(placement.subnet)) or work.get(placement.subnet)
        if home is not None:  # (an invalid assignment may name a subnet that is not defined)
            by_subnet[id(home.subnet.cidr)].append(placement)
    return PlanResult(
        placements=tuple(final),
        exclusions=tuple((scope.scope, span) for scope, span in exclusions),
        invalid=tuple(sorted(invalid)),
        warnings=tuple(warnings),
        subnets=tuple(_report(sub, by_subnet[id(cidr)]) for cidr, sub in work.items()) if reports else (),
    )


def _carved(placement: Placement, work: _SubnetWork) -> list[tuple[DhcpScope, Span]]:
    out: list[tuple[DhcpScope, Span]] = []
    ranges = placement.ranges
    single = ranges[0] if len(ranges) == 1 else None
    for scope in work.scopes:
        if single is not None and (single[0] > scope.range[1] or single[1] < scope.range[0]):
            continue  # the one range lies beside the scope's
        inside = intersect(list(ranges), [scope.range])
        if inside:
            out.extend((scope, span) for span in subtract(inside, list(scope.exclusions)))
    return out


def _report(work: _SubnetWork, placements: Sequence[Placement]) -> SubnetReport:
    """``placements``: the final placements in this subnet."""
    mine = sorted((p for p in placements if p.ranges), key=lambda p: (p.ranges[0], p.server))
    placed = normalise(r for p in mine for r in p.ranges)
    return SubnetReport(
        subnet=work.subnet,
        scopes=tuple(work.scopes),
        placements=tuple(mine),
        free_outside=tuple(subtract(work.outside_base, placed)),
        carvable=tuple(
            (scope.scope, span) for scope, base in work.carve_base for span in subtract(base, placed)
        ),
    )


def plan_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """Plan from the module's options (or a ``vipctl plan`` YAML file) and return a JSON-able dict.

    Keys of ``data``: see :data:`PLAN_OPTION_NAMES`. Returns ``{plan: [{server, subnet, ranges:
    [{start, end, size}]}], exclusions: [{scope, start, end}], invalid: [{server, reason}],
    warnings: [str]}``. Raises :class:`~sessionnet_vip.errors.VipError` on bad input and
    :class:`PlanError` (with ``failures``) when the servers do not fit.
    """
    return make_plan(build_request(data), reports=False).to_dict()
