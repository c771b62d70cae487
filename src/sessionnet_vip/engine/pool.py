"""Address pools: the server's static ranges, as sorted closed intervals of IPv4 addresses.

A pool entry is either ``A.B.C.D-E.F.G.H`` (both ends included) or a CIDR, which stands for
its usable host addresses (a /31 or /32 is used whole, as RFC 3021 allows). Validation works
on the intervals only, never on per-address sets, so a /8 costs the same as a /30.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sessionnet_vip.addressing import parse_network, parse_span, span_of_network, usable_hosts
from sessionnet_vip.coerce import brief
from sessionnet_vip.errors import AddressError, VipError


class PoolError(VipError):
    """A pool range is malformed, overlaps another or lies outside the subnet."""


@dataclass(frozen=True, order=True)
class AddressRange:
    """A closed interval ``first``..``last`` of IPv4 addresses, as written in the config."""

    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address
    text: str = ""

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise PoolError(
                f"pool range {self.text or f'{self.first}-{self.last}'!r} runs backwards; "
                f"write the lower address first ({self.last}-{self.first})"
            )

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __contains__(self, address: object) -> bool:
        return isinstance(address, ipaddress.IPv4Address) and self.first <= address <= self.last

    def __str__(self) -> str:
        return self.text or f"{self.first}-{self.last}"


def parse_range(entry: object) -> AddressRange:
    """Parse one pool entry (``A.B.C.D-E.F.G.H``, a single address, or a CIDR).

    The text is read by :mod:`sessionnet_vip.addressing` (one interval parser for the whole
    project); a CIDR of /30 or wider gives its usable hosts, a /31 or /32 every address.
    """
    if not isinstance(entry, str) or not entry.strip():
        raise PoolError(
            f"pool entry {brief(entry)} is not a string; write a range as A.B.C.D-E.F.G.H "
            "or a CIDR such as 198.51.100.0/28"
        )
    text = entry.strip()
    what = f"pool entry {brief(text)}"
    try:
        if "/" in text:
            net = parse_network(text, what)
            span = span_of_network(net) if net.prefixlen >= 31 else usable_hosts(net, what)
        else:
            span = parse_span(text, what)
    except AddressError as exc:
        raise PoolError(f"{exc} (a pool entry is A.B.C.D-E.F.G.H, A.B.C.D or A.B.C.D/N)") from None
    return AddressRange(ipaddress.IPv4Address(span.first), ipaddress.IPv4Address(span.last), text)


@dataclass(frozen=True)
class Pool:
    """Sorted, non-overlapping address ranges. Build with :meth:`parse`."""

    ranges: tuple[AddressRange, ...]

    @classmethod
    def parse(cls, entries: Iterable[object], subnet: ipaddress.IPv4Network | None = None) -> Pool:
        """Parse and validate pool entries against each other and, if given, the subnet."""
        if isinstance(entries, str | bytes):
            raise PoolError(f"pool must be a list of ranges, not the single string {brief(entries)}")
        ranges = sorted(parse_range(e) for e in entries)
        if not ranges:
            raise PoolError("pool is empty; give at least one range, e.g. ['198.51.100.10-198.51.100.50']")
        for prev, cur in itertools.pairwise(ranges):
            if cur.first <= prev.last:
                raise PoolError(
                    f"pool ranges {brief(str(prev))} and {brief(str(cur))} overlap "
                    f"(both hold {cur.first}); make the ranges disjoint"
                )
        if subnet is not None:
            for rng in ranges:
                if rng.first not in subnet or rng.last not in subnet:
                    raise PoolError(
                        f"pool range {brief(str(rng))} lies outside the subnet {subnet}; "
                        "use addresses of the NIC's subnet or fix 'subnet'"
                    )
                if subnet.prefixlen < 31:
                    for special, what in (
                        (subnet.network_address, "network"),
                        (subnet.broadcast_address, "broadcast"),
                    ):
                        if special in rng:
                            raise PoolError(
                                f"pool range {brief(str(rng))} holds the {what} address {special} of "
                                f"the subnet {subnet}; leave it out of the range"
                            )
        return cls(tuple(ranges))

    @property
    def size(self) -> int:
        return sum(r.size for r in self.ranges)

    @functools.cached_property
    def _starts(self) -> tuple[list[int], list[int]]:
        return [int(r.first) for r in self.ranges], [int(r.last) for r in self.ranges]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address):
            return False
        firsts, lasts = self._starts
        value = int(address)
        i = bisect.bisect_right(firsts, value) - 1  # the last range starting at or below value
        return i >= 0 and value <= lasts[i]

    def int_bounds(self) -> Sequence[tuple[int, int]]:
        """The ranges as ``(first, last)`` integers, for SQL interval queries."""
        return [(int(r.first), int(r.last)) for r in self.ranges]

    def addresses(self) -> Iterator[ipaddress.IPv4Address]:
        """Every address in order (lazy; for tests and small pools)."""
        for r in self.ranges:
            for value in range(int(r.first), int(r.last) + 1):
                yield ipaddress.IPv4Address(value)

    def __str__(self) -> str:
        return ", ".join(str(r) for r in self.ranges)
