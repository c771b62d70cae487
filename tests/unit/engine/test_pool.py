from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.engine.pool import Pool, PoolError, parse_range

NET = ipaddress.IPv4Network("198.51.100.0/24")


def test_range_and_cidr_forms() -> None:
    pool = Pool.parse(["198.51.100.20-198.51.100.29", "198.51.100.64/28", "198.51.100.5"])
    assert [str(r.first) for r in pool.ranges] == ["198.51.100.5", "198.51.100.20", "198.51.100.65"]
    assert pool.size == 1 + 10 + 14
    assert ipaddress.IPv4Address("198.51.100.64") not in pool  # network address of the /28
    assert ipaddress.IPv4Address("198.51.100.79") not in pool  # its broadcast
    assert ipaddress.IPv4Address("198.51.100.78") in pool


def test_small_cidrs_are_used_whole() -> None:
    assert parse_range("198.51.100.8/31").size == 2
    assert parse_range("198.51.100.8/32").size == 1


def test_large_pool_is_interval_math() -> None:
    pool = Pool.parse(["10.0.0.0/8"])
    assert pool.size == 2**24 - 2
    assert ipaddress.IPv4Address("10.255.255.254") in pool


@pytest.mark.parametrize(
    ("entries", "subnet", "message"),
    [
        (["198.51.100.10-198.51.100.20", "198.51.100.20-198.51.100.30"], None, "overlap"),
        (["198.51.100.0/28", "198.51.100.5"], None, "overlap"),
        (["198.51.100.30-198.51.100.10"], None, "below start"),
        (["198.51.100.10-198.51.101.5"], NET, "outside the subnet"),
        (["203.0.113.10-203.0.113.20"], NET, "outside the subnet"),
        (["198.51.100.0-198.51.100.10"], NET, "network address"),
        (["198.51.100.250-198.51.100.255"], NET, "broadcast address"),
        (["198.51.100.1/24"], None, "host bits set"),
        (["198.51.100.x"], None, "not an IPv4 address"),
        ([], None, "empty"),
        ([7], None, "not a string"),
    ],
)
def test_bad_pools(entries: list[object], subnet: ipaddress.IPv4Network | None, message: str) -> None:
    with pytest.raises(PoolError, match=message):
        Pool.parse(entries, subnet)


def test_pool_as_single_string_is_refused() -> None:
    with pytest.raises(PoolError, match="list"):
        Pool.parse("198.51.100.10-198.51.100.20")


@st.composite
def small_ranges(draw: st.DrawFn) -> list[str]:
    """Disjoint-or-not ranges inside 198.51.100.0/26."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, 63))
        b = draw(st.integers(a, 63))
        out.append(f"198.51.100.{a}-198.51.100.{b}")
    return out


@given(small_ranges())
def test_interval_validation_matches_brute_force(entries: list[str]) -> None:
    sets = [set(range(int(r.first), int(r.last) + 1)) for r in map(parse_range, entries)]
    overlapping = any(sets[i] & sets[j] for i in range(len(sets)) for j in range(i + 1, len(sets)))
    if overlapping:
        with pytest.raises(PoolError, match="overlap"):
            Pool.parse(entries)
        return
    pool = Pool.parse(entries)
    union = set().union(*sets)
    assert pool.size == len(union)
    assert {int(a) for a in pool.addresses()} == union
    for value in range(int(NET.network_address), int(NET.network_address) + 70):
        assert (ipaddress.IPv4Address(value) in pool) == (value in union)
