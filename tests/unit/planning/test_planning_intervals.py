"""Interval helpers of sessionnet_vip.addressing, checked against plain sets on small spaces."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.addressing import (
    Span,
    covers,
    dhcp_overlap,
    format_span,
    intersect,
    normalise,
    overlapping,
    parse_address,
    parse_network,
    parse_span,
    subtract,
    total_size,
    usable_hosts,
    virtual_loopback_address,
)
from sessionnet_vip.errors import AddressError, VipError

BASE = int(ipaddress.IPv4Address("10.0.0.0"))


def spans_strategy(limit: int = 200) -> st.SearchStrategy[list[Span]]:
    pair = st.tuples(st.integers(0, limit), st.integers(0, 30)).map(
        lambda t: Span(BASE + t[0], BASE + t[0] + t[1])
    )
    return st.lists(pair, max_size=12)


def as_set(spans: list[Span]) -> set[int]:
    return {a for s in spans for a in range(s.first, s.last + 1)}


def is_normalised(spans: list[Span]) -> bool:
    return all(s.first <= s.last for s in spans) and all(
        b.first > a.last + 1 for a, b in itertools.pairwise(spans)
    )


def test_parse_forms() -> None:
    assert parse_span("10.0.0.5", "x") == Span(BASE + 5, BASE + 5)
    assert parse_span(" 10.0.0.5 - 10.0.0.9 ", "x") == Span(BASE + 5, BASE + 9)
    assert parse_span("10.0.0.16/28", "x") == Span(BASE + 16, BASE + 31)
    assert parse_span({"start": "10.0.0.1", "end": "10.0.0.2"}, "x") == Span(BASE + 1, BASE + 2)
    assert format_span(Span(BASE + 1, BASE + 2)) == "10.0.0.1-10.0.0.2"
    assert Span(BASE, BASE + 9).size == 10


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("10.0.0.9-10.0.0.5", "below start"),
        ("10.0.0.300", "not an IPv4 address"),
        ("10.0.0.1/33", "not an IPv4 network"),
        ("10.0.0.1/24", "did you mean 10.0.0.0/24"),
        (42, "not an address"),
        ({"start": "10.0.0.1"}, "needs both"),
    ],
)
def test_parse_errors_name_the_input(value: object, needle: str) -> None:
    with pytest.raises(AddressError, match=needle) as info:
        parse_span(value, "reserved[3]")
    assert "reserved[3]" in str(info.value)


def test_parse_network_strict() -> None:
    assert parse_network("10.0.0.0/24", "x") == ipaddress.IPv4Network("10.0.0.0/24")
    with pytest.raises(VipError, match=r"A\.B\.C\.D/N"):
        parse_network("10.0.0.0", "x")


def test_usable_hosts() -> None:
    net = ipaddress.IPv4Network("10.0.0.0/30")
    assert usable_hosts(net) == Span(BASE + 1, BASE + 2)
    for prefix in (31, 32):
        with pytest.raises(AddressError, match=f"too small.*/{prefix}"):
            usable_hosts(ipaddress.IPv4Network(f"10.0.0.0/{prefix}"))


@given(spans_strategy())
def test_normalise_matches_sets(spans: list[Span]) -> None:
    out = normalise(spans)
    assert is_normalised(out)
    assert as_set(out) == as_set(spans)
    assert total_size(out) == len(as_set(spans))


@given(spans_strategy(), spans_strategy())
def test_subtract_intersect_match_sets(a: list[Span], b: list[Span]) -> None:
    na, nb = normalise(a), normalise(b)
    diff = subtract(na, nb)
    both = intersect(na, nb)
    assert is_normalised(diff) and is_normalised(both)
    assert as_set(diff) == as_set(a) - as_set(b)
    assert as_set(both) == as_set(a) & as_set(b)
    assert as_set(dhcp_overlap(a, b)) == as_set(a) & as_set(b)


@given(spans_strategy(), st.integers(0, 220), st.integers(0, 20))
def test_covers_and_overlapping(a: list[Span], start: int, length: int) -> None:
    na = normalise(a)
    probe = Span(BASE + start, BASE + start + length)
    probe_set = as_set([probe])
    assert covers(na, probe) == (probe_set <= as_set(na))
    assert as_set(overlapping(na, probe)) == probe_set & as_set(na)


def test_loopback_rule_untouched() -> None:
    assert str(virtual_loopback_address(255)) == "127.0.1.0"


@given(st.integers(0, 2**32 - 1))
def test_parse_address_agrees_with_ipaddress(value: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    assert parse_address(text, "x") == value


@pytest.mark.parametrize(
    "text", ["010.0.0.1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1.2.3.\uff14", "", "a.b.c.d"]
)
def test_parse_address_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        ipaddress.IPv4Address(text)
    with pytest.raises(AddressError, match="not an IPv4 address"):
        parse_address(text, "x")
