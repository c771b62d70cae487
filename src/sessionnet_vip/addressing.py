"""Address math: the virtual loopback rule, IPv4 intervals, subnets and DHCP overlap.

The virtual loopback rule (Citrix "Virtual IP loopback", seed document 000): a session
with ID ``N`` gets ``127.X.X.X`` where ``X.X.X`` is ``N + 1`` written as a 24-bit number,
carrying into the next octet: session 7 is ``127.0.0.8``, session 255 is ``127.0.1.0``.

The two ends of that formula give no usable address, so they are refused here, with the
reason, rather than handed out: session 0 would get ``127.0.0.1`` (the host's own loopback,
shared by every session: no separation at all) and session 16,777,214 would get
``127.255.255.255`` (the broadcast address of ``lo``'s ``127.0.0.0/8``, which a client
cannot connect to). The rule therefore covers sessions 1 to 16,777,213, addresses
``127.0.0.2`` to ``127.255.255.254``.

This module is the one source of that rule; the filters, ``vipctl`` and the engine call it.

The second half holds the interval arithmetic the range planner (:mod:`sessionnet_vip.planning`)
is built on. An address set is a list of inclusive integer intervals (:class:`Span`); a
*normalised* list is sorted, with no overlapping or touching members. Every operation is a sort
and a linear sweep over intervals, never a set of single addresses, so a /8 costs the same as a /30.
"""

from __future__ import annotations

import bisect
import ipaddress
import sys
from _socket import AF_INET as _AF_INET  # the C module: ``socket`` would also load selectors
from _socket import inet_ntop as _inet_ntop
from _socket import inet_pton as _inet_pton
from array import array
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import repeat
from operator import sub
from typing import Final, NamedTuple

from sessionnet_vip.coerce import brief, parse_int
from sessionnet_vip.errors import AddressError

LOOPBACK_NETWORK: Final = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_BASE: Final = int(LOOPBACK_NETWORK.network_address)
#: The lowest session ID the rule accepts: its address is 127.0.0.2.
MIN_SESSION_ID: Final = 1
#: The highest session ID the rule accepts: its address is 127.255.255.254.
MAX_SESSION_ID: Final = 0xFFFFFF - 2
#: The formula's two ends, refused with these reasons (see the module docstring).
RESERVED_SESSIONS: Final = {
    0: (
        "session 0 would get 127.0.0.1, the host's own loopback shared by every session, so it "
        "has no virtual loopback of its own (it is the services/console session)"
    ),
    0xFFFFFF - 1: (
        "session 16777214 would get 127.255.255.255, the broadcast address of the loopback "
        "network 127.0.0.0/8, which clients cannot connect to"
    ),
}
_RANGE_TEXT: Final = f"allowed range is {MIN_SESSION_ID} to {MAX_SESSION_ID} (127.0.0.2 to 127.255.255.254)"


def _parse_session_id(session_id: object) -> int:
    """Return ``session_id`` as an ``int``, refusing bools, floats with fractions and junk
    (the strict rules of :func:`sessionnet_vip.coerce.parse_int`)."""
    # The common case (every engine request), checked at once. The exact type, not isinstance():
    # a bool is an int too and is refused below.
    if (
        type(session_id) is int  # pylint: disable=unidiomatic-typecheck
        and MIN_SESSION_ID <= session_id <= MAX_SESSION_ID
        and session_id not in RESERVED_SESSIONS
    ):
        return session_id
    if isinstance(session_id, bool):
        raise AddressError(
            f"session ID {session_id!r} is a boolean; give an integer from "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID}"
        )
    value = parse_int(session_id)
    if value is None:
        raise AddressError(
            f"session ID {brief(session_id)} is not an integer; give an integer from "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID}"
        )
    if value in RESERVED_SESSIONS:
        raise AddressError(f"session ID {value} is refused: {RESERVED_SESSIONS[value]}; {_RANGE_TEXT}")
    if not MIN_SESSION_ID <= value <= MAX_SESSION_ID:
        raise AddressError(f"session ID {brief(value)} is outside the virtual loopback scheme; {_RANGE_TEXT}")
    return value


def checked_session_id(session_id: object) -> int:
    """``session_id`` as an ``int`` when the rule gives it a virtual loopback address, else an
    :class:`AddressError` naming the reason (what :func:`virtual_loopback_address` refuses).

    >>> checked_session_id(7)
    7
    """
    return _parse_session_id(session_id)


def virtual_loopback_address(session_id: object) -> ipaddress.IPv4Address:
    """Return the virtual loopback address of ``session_id``.

    >>> str(virtual_loopback_address(7))
    '127.0.0.8'
    >>> str(virtual_loopback_address(255))
    '127.0.1.0'
    """
    value = _parse_session_id(session_id)
    return ipaddress.IPv4Address(_LOOPBACK_BASE + value + 1)


def virtual_loopback_session(address: object) -> int:
    """Return the session ID whose virtual loopback address is ``address``.

    Refuses addresses outside 127.0.0.2 - 127.255.255.254 (for example ``127.0.0.1``,
    ``127.0.0.0`` or ``10.0.0.1``), naming the reason for the formula's two ends.

    >>> virtual_loopback_session('127.0.1.0')
    255
    """
    if isinstance(address, ipaddress.IPv4Address):
        parsed = address
    elif isinstance(address, str):
        try:
            parsed = ipaddress.IPv4Address(address.strip())
        except ValueError:
            raise AddressError(
                f"{brief(address)} is not an IPv4 address; give an address from 127.0.0.2 to 127.255.255.254"
            ) from None
    else:
        raise AddressError(
            f"{brief(address)} is not an IPv4 address string; give an address from 127.0.0.2 to 127.255.255.254"
        )
    offset = int(parsed) - _LOOPBACK_BASE
    if parsed in LOOPBACK_NETWORK and offset - 1 in RESERVED_SESSIONS:
        raise AddressError(
            f"{parsed} is not a virtual loopback address: {RESERVED_SESSIONS[offset - 1]}; "
            "allowed range is 127.0.0.2 to 127.255.255.254 "
            f"(sessions {MIN_SESSION_ID} to {MAX_SESSION_ID})"
        )
    if parsed not in LOOPBACK_NETWORK or offset < 1:
        raise AddressError(
            f"{parsed} is not a virtual loopback address; allowed range is "
            "127.0.0.2 to 127.255.255.254 (sessions "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID})"
        )
    return offset - 1


# ---------------------------------------------------------------------------------------------
# IPv4 intervals
# ---------------------------------------------------------------------------------------------

_IPV4_MAX: Final = 0xFFFFFFFF
#: ``inet_pton`` of glibc, musl and the BSDs (macOS) accepts exactly the dotted quads that
#: ``ipaddress.IPv4Address`` does (four decimal octets, no leading zeros: POSIX inet_pton, and
#: glibc's "inet_pton4"), about 15 times faster than parsing in Python, and their ``inet_ntop``
#: writes what ``str(IPv4Address)`` does ("%u.%u.%u.%u"). Elsewhere the Python rules.
_STRICT_PTON: Final = sys.platform.startswith(("linux", "darwin", "freebsd", "openbsd", "netbsd"))
#: ``inet_pton(AF_INET, text)`` as one C callable (for :func:`map`).
_pton4: Final = partial(_inet_pton, _AF_INET)
#: An array type code of 4-byte unsigned integers (``I`` wherever an int has 32 bits).
_U32: Final = next((code for code in "IL" if array(code).itemsize == 4), None)
_BIG_ENDIAN: Final = sys.byteorder == "big"
#: Prefix lengths written the plain way ("0" to "32") -> the integer, and each one's host bits.
#: Any other spelling ("022", "+8", a netmask) is left to :mod:`ipaddress`, which accepts or
#: refuses it with its own rules.
_PREFIX_OF_TEXT: Final = {str(n): n for n in range(33)}
_HOST_BITS: Final = tuple((1 << (32 - n)) - 1 for n in range(33))


class Span(NamedTuple):
    """An inclusive interval of IPv4 addresses as integers: ``first <= last``."""

    first: int
    last: int

    @property
    def size(self) -> int:
        """Number of addresses in the interval."""
        return self.last - self.first + 1

    def __str__(self) -> str:
        return format_span(self)


#: ``Span(a, b)`` without the named tuple's Python-level ``__new__`` (the interval sweeps below
#: build hundreds of thousands of them for a large farm).
_new_span = tuple.__new__


def format_address(value: int) -> str:
    """Dotted-quad text of an integer address (what ``str(ipaddress.IPv4Address(value))`` gives)."""
    if 0 <= value <= _IPV4_MAX:
        if _STRICT_PTON:  # the C library's "%u.%u.%u.%u" (POSIX inet_ntop), about twice as fast
            return _inet_ntop(_AF_INET, value.to_bytes(4, "big"))
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(ipaddress.IPv4Address(value))  # its error for an out-of-range value


def format_span(span: Span) -> str:
    """``A.B.C.D`` for one address, ``A.B.C.D-E.F.G.H`` otherwise."""
    first, last = span
    if _STRICT_PTON and 0 <= first <= last <= _IPV4_MAX:  # format_address's fast path, inline
        if first == last:
            return _inet_ntop(_AF_INET, first.to_bytes(4, "big"))
        return f"{_inet_ntop(_AF_INET, first.to_bytes(4, 'big'))}-{_inet_ntop(_AF_INET, last.to_bytes(4, 'big'))}"
    if span.first == span.last:
        return format_address(span.first)
    return f"{format_address(span.first)}-{format_address(span.last)}"


def parse_address(value: object, what: str) -> int:
    """Return the IPv4 address ``value`` (text or :class:`ipaddress.IPv4Address`) as an integer.

    ``what`` names the input in the error message (for example ``"gateway of subnet 10.0.0.0/24"``).
    """
    if isinstance(value, ipaddress.IPv4Address):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _STRICT_PTON:
            # the C parser: exactly four decimal octets of ASCII digits, no leading zeros
            try:
                return int.from_bytes(_inet_pton(_AF_INET, text), "big")
            except (OSError, ValueError):
                pass
        else:
            parts = text.split(".")
            # the same strict dotted-quad rule as ipaddress.IPv4Address, without its overhead
            if len(parts) == 4 and all(
                p.isascii() and p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0") for p in parts
            ):
                a, b, c, d = (int(p) for p in parts)
                if a <= 255 and b <= 255 and c <= 255 and d <= 255:
                    return (a << 24) | (b << 16) | (c << 8) | d
    raise AddressError(f"{what}: {brief(value)} is not an IPv4 address; write it as A.B.C.D")


def parse_network(value: object, what: str) -> ipaddress.IPv4Network:
    """Return the IPv4 network ``value`` written as ``A.B.C.D/N``, refusing host bits set."""
    if isinstance(value, ipaddress.IPv4Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise AddressError(f"{what}: {brief(value)} is not an IPv4 network; write it as A.B.C.D/N")
    text = value.strip()
    if _STRICT_PTON:
        # the usual text (a dotted quad, "/", a plain prefix length, no host bits) without
        # ipaddress' text parser; anything else takes the reference path below
        address, _slash, prefix = text.partition("/")
        prefixlen = _PREFIX_OF_TEXT.get(prefix)
        if prefixlen is not None:
            try:
                first = int.from_bytes(_inet_pton(_AF_INET, address), "big")
            except (OSError, ValueError):
                pass
            else:
                if not first & _HOST_BITS[prefixlen]:
                    return ipaddress.IPv4Network((first, prefixlen))
    return _parse_network_text(text, value, what)


def _parse_network_text(text: str, value: str, what: str) -> ipaddress.IPv4Network:
    """:func:`parse_network` of stripped ``text`` by :mod:`ipaddress` (the reference path)."""
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        pass
    try:
        loose = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise AddressError(
            f"{what}: {brief(value)} is not an IPv4 network; write it as A.B.C.D/N (for example 10.20.0.0/24)"
        ) from None
    raise AddressError(f"{what}: {brief(value)} has host bits set; did you mean {loose}?")


def span_of_network(network: ipaddress.IPv4Network) -> Span:
    """All addresses of ``network``, network and broadcast addresses included."""
    first = int(network.network_address)  # host bits clear: the broadcast address sets them
    return _new_span(Span, (first, first | _HOST_BITS[network.prefixlen]))


def span_from_bounds(start: object, end: object, what: str) -> Span:
    """The interval ``start``-``end`` (both inclusive), refusing ``end < start``."""
    first = parse_address(start, f"{what} start")
    last = parse_address(end, f"{what} end")
    if last < first:
        raise AddressError(
            f"{what}: end {format_address(last)} is below start {format_address(first)}; "
            "give the lower address as start"
        )
    return Span(first, last)


def parse_span(value: object, what: str) -> Span:
    """Parse one address set given as text or mapping into an interval.

    Accepted: ``A.B.C.D`` (one address), ``A.B.C.D-E.F.G.H`` (inclusive range), ``A.B.C.D/N``
    (every address of the network) and a mapping ``{start: A.B.C.D, end: E.F.G.H}``.
    """
    if isinstance(value, str):  # the common case first: isinstance against Mapping is slow
        text = value.strip()
        if "/" not in text and "-" not in text:
            first = parse_address(text, what)
            return _new_span(Span, (first, first))
    if isinstance(value, Span):
        return value
    if isinstance(value, Mapping):
        if "start" not in value or "end" not in value:
            raise AddressError(f"{what}: {brief(dict(value))} needs both 'start' and 'end'")
        return span_from_bounds(value["start"], value["end"], what)
    if isinstance(value, ipaddress.IPv4Address):
        return Span(int(value), int(value))
    if isinstance(value, ipaddress.IPv4Network):
        return span_of_network(value)
    if not isinstance(value, str):
        raise AddressError(
            f"{what}: {brief(value)} is not an address, range (A.B.C.D-E.F.G.H) or network (A.B.C.D/N)"
        )
    text = value.strip()
    if "/" in text:
        return span_of_network(parse_network(text, what))
    if "-" in text:
        start, _dash, end = text.partition("-")
        return span_from_bounds(start, end, what)
    first = parse_address(text, what)
    return Span(first, first)


def _dotted_quads(entries: list[object]) -> list[int] | None:
    """Each entry of ``entries`` as an integer if every one is a dotted quad (text, spaces around
    allowed), else None. One C call per step (:func:`inet_pton`, :class:`array`), no Python loop."""
    try:
        packed = b"".join(map(_pton4, map(str.strip, entries)))  # type: ignore[arg-type]
    except (TypeError, OSError, ValueError):  # TypeError: an entry that is not text
        return None
    if _U32 is None:
        return [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]
    words = array(_U32, packed)
    if not _BIG_ENDIAN:
        words.byteswap()
    return words.tolist()


def dotted_quads(values: list[object]) -> list[int] | None:
    """What :func:`parse_address` gives for each of ``values`` if every one is text ``A.B.C.D``
    (spaces around allowed), read in a few C calls; else None (then read each with
    :func:`parse_address`, which words the errors)."""
    return _dotted_quads(values) if _STRICT_PTON else None


def parse_spans(entries: Iterable[object], what: str) -> list[Span]:
    """:func:`parse_span` of each entry, ``what[j]`` naming entry ``j`` in errors; single
    addresses written as text (most reservations and leases) are read without the layers."""
    if _STRICT_PTON:
        entries = entries if isinstance(entries, list) else list(entries)
        values = _dotted_quads(entries)
        if values is not None:  # every entry a dotted quad (the usual lists of reservations and leases)
            return list(map(_new_span, repeat(Span, len(values)), zip(values, values, strict=True)))
    out: list[Span] = []
    for j, entry in enumerate(entries):
        if _STRICT_PTON and isinstance(entry, str):
            try:
                value = int.from_bytes(_inet_pton(_AF_INET, entry.strip()), "big")
            except (OSError, ValueError):
                pass
            else:
                out.append(_new_span(Span, (value, value)))
                continue
        out.append(parse_span(entry, f"{what}[{j}]"))
    return out


def parse_address_set(entries: Iterable[object], what: str) -> list[Span]:
    """``normalise(parse_spans(entries, what))``: a list of single addresses that neither repeat
    nor touch (the usual reservations and leases) is sorted as integers, without the merge sweep."""
    if _STRICT_PTON:
        entries = entries if isinstance(entries, list) else list(entries)
        values = _dotted_quads(entries)
        if values is not None:
            values.sort()
            spans = list(map(_new_span, repeat(Span, len(values)), zip(values, values, strict=True)))
            # each address at least 2 above the one before: nothing to merge
            return spans if min(map(sub, values[1:], values), default=2) > 1 else normalise(spans)
    return normalise(parse_spans(entries, what))


def normalise(spans: Iterable[Span]) -> list[Span]:
    """Sort ``spans`` and merge overlapping or touching ones."""
    ordered = sorted(spans)
    out: list[Span] = []
    append = out.append
    end = -2  # last address of out[-1]
    for span in ordered:
        first, last = span
        if first <= end + 1:
            if last > end:
                out[-1] = _new_span(Span, (out[-1][0], last))
                end = last
        else:
            # an unmerged Span is immutable: kept as it is (other tuples become Spans)
            append(span if type(span) is Span else _new_span(Span, (first, last)))  # pylint: disable=unidiomatic-typecheck
            end = last
    return out


def total_size(spans: Iterable[Span]) -> int:
    """Number of addresses in a normalised list (overlaps would be counted twice)."""
    return sum(s.last - s.first + 1 for s in spans)


def subtract(spans: Sequence[Span], remove: Sequence[Span]) -> list[Span]:
    """``spans`` minus ``remove``; both normalised, and so is the result. Linear sweep."""
    if not remove:
        return [span if type(span) is Span else _new_span(Span, tuple(span)) for span in spans]  # pylint: disable=unidiomatic-typecheck
    out: list[Span] = []
    append = out.append
    j = 0
    n = len(remove)
    for span in spans:
        first, last = span
        cur = first
        while j < n and remove[j][1] < cur:
            j += 1
        k = j
        while k < n:
            r_first, r_last = remove[k]
            if r_first > last:
                break
            if r_first > cur:
                append(_new_span(Span, (cur, r_first - 1)))
            if r_last + 1 > cur:
                cur = r_last + 1
            if cur > last:
                break
            k += 1
        if cur == first and type(span) is Span:  # pylint: disable=unidiomatic-typecheck
            append(span)  # untouched: the same immutable Span
        elif cur <= last:
            append(_new_span(Span, (cur, last)))
    return out


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Addresses in both normalised lists; normalised. Linear sweep."""
    out: list[Span] = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na and j < nb:
        a_span = a[i]
        a_first, a_last = a_span
        b_first, b_last = b[j]
        first = a_first if a_first > b_first else b_first
        last = a_last if a_last < b_last else b_last
        if first <= last:
            if first == a_first and last == a_last and type(a_span) is Span:  # pylint: disable=unidiomatic-typecheck
                out.append(a_span)  # wholly inside: the same immutable Span
            else:
                out.append(_new_span(Span, (first, last)))
        if a_last < b_last:
            i += 1
        else:
            j += 1
    return out


def reaching_outside(spans: Sequence[Span], span: Span) -> list[Span]:
    """The members of the normalised list ``spans`` that reach outside ``span`` (binary search):
    ``subtract(x, normalise([span, *result]))`` is ``subtract(x, normalise([span, *spans]))``."""
    lo = bisect.bisect_left(spans, (span.first,))  # spans[:lo] start before span
    hi = bisect.bisect_left(spans, (span.last + 1,))  # spans[hi:] start after it
    out = list(spans[:lo])
    if hi > lo and spans[hi - 1].last > span.last:  # the last one starting inside may end beyond
        out.append(spans[hi - 1])
    out += spans[hi:]
    return out


def covers(spans: Sequence[Span], span: Span) -> bool:
    """Whether the normalised list ``spans`` holds every address of ``span`` (binary search)."""
    i = bisect.bisect_right(spans, Span(span.first, _IPV4_MAX)) - 1
    return i >= 0 and spans[i].first <= span.first and span.last <= spans[i].last


def overlapping(spans: Sequence[Span], span: Span) -> list[Span]:
    """The parts of ``span`` that lie in the normalised list ``spans`` (binary search)."""
    i = max(bisect.bisect_right(spans, Span(span.first, _IPV4_MAX)) - 1, 0)
    out: list[Span] = []
    while i < len(spans) and spans[i].first <= span.last:
        first = max(spans[i].first, span.first)
        last = min(spans[i].last, span.last)
        if first <= last:
            out.append(Span(first, last))
        i += 1
    return out


def usable_hosts(network: ipaddress.IPv4Network, what: str = "subnet") -> Span:
    """Addresses of ``network`` a host may use: without the network and broadcast addresses.

    /31 and /32 networks are refused: they leave nothing to plan virtual addresses in.
    """
    if network.prefixlen >= 31:
        raise AddressError(
            f"{what} {network} is too small to plan virtual addresses in (a /{network.prefixlen} "
            "has no room beside its own hosts); use a /30 or larger"
        )
    first = int(network.network_address)  # as in span_of_network
    return _new_span(Span, (first + 1, (first | _HOST_BITS[network.prefixlen]) - 1))


def dhcp_overlap(spans: Iterable[Span], scope_ranges: Iterable[Span]) -> list[Span]:
    """The addresses of ``spans`` that fall inside any DHCP scope range; normalised.

    Both arguments may be unsorted; used to check static ranges against DHCP pools.
    """
    return intersect(normalise(spans), normalise(scope_ranges))
