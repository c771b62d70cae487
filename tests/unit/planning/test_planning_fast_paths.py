"""The fast paths of ``vipctl plan`` give what their references give, on generated farms: YAML
built from libyaml's events vs the node-based loader, plans without the SVG reports vs with
them, integer address formatting vs :mod:`ipaddress`, integer ``need`` vs :class:`Fraction`."""

from __future__ import annotations

import ipaddress
import math
from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_planning_properties import farms  # same directory (pytest prepends it to sys.path)

from sessionnet_vip import yamlfile
from sessionnet_vip.addressing import format_address, parse_span, parse_spans
from sessionnet_vip.errors import AddressError
from sessionnet_vip.planning import PlanError, Server, build_request, make_plan, plan_from_dict


def planned(data: dict[str, Any], *, reports: bool) -> Any:
    try:
        return make_plan(build_request(data), reports=reports).to_dict()
    except PlanError as exc:
        return ("error", str(exc), exc.failures)


@settings(max_examples=60, deadline=None)
@given(farms())
def test_a_farm_file_plans_the_same_through_both_loaders_and_without_reports(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False)
    fast = yamlfile.loads(text, "farm")
    reference = yamlfile.reference_loads(text, "farm")
    assert fast == reference == data
    with_reports = planned(reference, reports=True)
    assert planned(fast, reports=False) == with_reports
    if not isinstance(with_reports, tuple):
        assert plan_from_dict(fast) == with_reports


@given(st.integers(0, 2**32 - 1))
def test_format_address_is_ipaddress_text(value: int) -> None:
    text = format_address(value)
    assert text == str(ipaddress.IPv4Address(value))
    assert parse_span(text, "x") == (value, value)


@pytest.mark.parametrize("value", [-1, 2**32])
def test_format_address_refuses_what_ipaddress_refuses(value: int) -> None:
    with pytest.raises(ipaddress.AddressValueError):
        format_address(value)


@given(st.integers(1, 10**6), st.integers(0, 1000) | st.fractions(0, 1000, max_denominator=1000))
def test_need_is_the_exact_ceiling(sessions: int, headroom: Fraction | int) -> None:
    server = Server("s", ipaddress.IPv4Network("10.0.0.0/24"), sessions, Fraction(headroom))
    assert server.need == math.ceil(sessions * (100 + Fraction(headroom)) / 100)


ENTRIES = st.lists(
    st.integers(0, 2**32 - 1).map(format_address)
    | st.sampled_from(
        [" 10.0.0.1 ", "10.0.0.0/30", "10.0.0.1-10.0.0.3", {"start": "10.0.0.1", "end": "10.0.0.2"}]
    ),
    max_size=6,
)


@given(ENTRIES)
def test_parse_spans_is_parse_span_of_each(entries: list[Any]) -> None:
    expected = [parse_span(e, f"leases[{j}]") for j, e in enumerate(entries)]
    got = parse_spans(entries, "leases")
    assert got == expected and all(type(s) is type(x) for s, x in zip(got, expected, strict=True))


@pytest.mark.parametrize(
    "bad", ["10.0.0.256", "10.0.0.1\x00", "\u0661\u0660.0.0.1", "010.0.0.1", 7, None, "10.0.0.9-10.0.0.1"]
)
def test_parse_spans_errors_are_parse_span_errors(bad: object) -> None:
    entries = ["10.0.0.1", bad]
    with pytest.raises(AddressError) as fast:
        parse_spans(entries, "scope x leases")
    with pytest.raises(AddressError) as reference:
        parse_span(bad, "scope x leases[1]")
    assert str(fast.value) == str(reference.value)
