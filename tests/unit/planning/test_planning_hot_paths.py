"""The fast paths of ``vipctl plan`` give exactly what their reference paths give: network text
read without :mod:`ipaddress`' parser, lists of single addresses read by C calls, the quick
subnet and scope readers (bad entries fall through to the reference readers, which word the
errors), a subnet's free space computed in one sweep, and the table and ``--json`` writers."""

from __future__ import annotations

import copy
import inspect
import ipaddress
import json
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_planning_properties import farms, subnet_with_scopes  # same directory

from sessionnet_vip import addressing, cli
from sessionnet_vip.addressing import (
    Span,
    _parse_network_text,
    format_address,
    format_span,
    intersect,
    normalise,
    parse_address_set,
    parse_network,
    parse_span,
    parse_spans,
    reaching_outside,
    subtract,
)
from sessionnet_vip.errors import VipError
from sessionnet_vip.planning import (
    Placement,
    PlanError,
    PlanRequest,
    PlanResult,
    Server,
    _build_work,
    _carved,
    _FreeRuns,
    _parse_server,
    _parse_servers,
    _quick_scope,
    _quick_subnet,
    _read_scope,
    _read_subnet,
    build_request,
    make_plan,
)
from sessionnet_vip.planning_cli import format_json, format_table

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FARM = Path(__file__).resolve().parents[3] / "examples" / "farm.yml"


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) or ("error", message) of ``fn()`` (only VipError counts as refused)."""
    try:
        return "ok", fn()
    except VipError as exc:
        return "error", str(exc)


# --- network text --------------------------------------------------------------------------

ODD_NETWORKS = [
    "10.0.0.0/8",
    " 10.0.0.0/8\t",
    "10.0.0.0/022",  # ipaddress reads prefix "022" as 22: left to it
    "10.0.0.0/+8",
    "10.0.0.0/-1",
    "10.0.0.0/33",
    "10.0.0.0/",
    "/8",
    "10.0.0.0 /8",
    "10.0.0.0/ 8",
    "10.0.0.0/255.0.0.0",  # netmask and hostmask spellings
    "10.0.0.0/0.255.255.255",
    "010.0.0.0/8",  # leading zeros
    "10.0.0.00/8",
    "256.0.0.0/8",  # octet out of range
    "10.0.0/8",
    "10.0.0.0.0/8",
    "10.0.0.1/24",  # host bits set
    "10.0.0.0/8/8",
    "2001:db8::/32",  # IPv6: the planner is IPv4 only
    "::/0",
    "::ffff:10.0.0.0/104",
    "\u0661\u0660.0.0.0/8",  # Arabic-Indic digits
    "10.0.0.0/\u0668",
    "10.0.0.0/\u00b2",
    "10.0.0.0\x00/8",
    "10.0.0.0/8\x00",
    "0.0.0.0/0",
    "255.255.255.255/32",
    "10.0.0.0/31",
    "1.2.3.4/32",
]


def network_texts() -> st.SearchStrategy[str]:
    addresses = st.integers(0, 2**32 - 1)
    prefixes = st.integers(0, 32)
    clean = st.builds(
        lambda v, p: f"{format_address(v & ~((1 << (32 - p)) - 1) & 0xFFFFFFFF)}/{p}", addresses, prefixes
    )
    any_bits = st.builds(lambda v, p: f"{format_address(v)}/{p}", addresses, st.integers(-1, 40))
    return (
        clean | any_bits | st.sampled_from(ODD_NETWORKS) | st.text("0123456789./: \t+-x\u0660", max_size=22)
    )


def check_network(text: str) -> None:
    fast = outcome(lambda: parse_network(text, "subnets[0] cidr"))
    reference = (
        outcome(lambda: _parse_network_text(text.strip(), text, "subnets[0] cidr"))
        if "/" in text
        else fast  # no "/": refused before either path
    )
    assert fast == reference
    if fast[0] == "ok":
        expected = ipaddress.IPv4Network(text.strip())
        assert type(fast[1]) is ipaddress.IPv4Network
        assert (fast[1], str(fast[1]), hash(fast[1])) == (expected, str(expected), hash(expected))


@given(network_texts())
@SETTINGS
def test_network_text_reads_as_the_reference_path_and_ipaddress(text: str) -> None:
    check_network(text)


@pytest.mark.parametrize("text", ODD_NETWORKS)
def test_odd_network_spellings(text: str) -> None:
    check_network(text)


# --- lists of single addresses -------------------------------------------------------------

ENTRY = (
    st.integers(0, 2**32 - 1).map(format_address)
    | st.builds(
        lambda v, pad: f"{pad}{format_address(v)}{pad}", st.integers(0, 2**32 - 1), st.sampled_from(" \t\n")
    )
    | st.sampled_from(
        [
            "010.0.0.1",
            "10.0.0.01",
            "10.0.0.256",
            "1.2.3",
            "1.2.3.4.5",
            "::1",
            "::ffff:10.0.0.1",
            "10.0.0.1\x00",
            "\u0661.0.0.1",
            "",
            " ",
            "10.0.0.1-10.0.0.4",
            "10.0.0.0/30",
            "10.0.0.9-10.0.0.1",
            "\ud800",
        ]
    )
    | st.sampled_from([7, None, 1.5, True, {"start": "10.0.0.1", "end": "10.0.0.2"}, ["10.0.0.1"]])
)


@given(st.lists(ENTRY, max_size=8))
@SETTINGS
def test_address_lists_read_as_entry_by_entry(entries: list[Any]) -> None:
    def each() -> list[Any]:
        return [parse_span(e, f"scope x leases[{j}]") for j, e in enumerate(entries)]

    fast = outcome(lambda: parse_spans(entries, "scope x leases"))
    assert fast == outcome(each)
    if fast[0] == "ok":
        assert all(type(s) is type(x) for s, x in zip(fast[1], each(), strict=True))


DENSE = st.integers(2**32 - 12, 2**32 - 1).map(format_address)  # repeats, neighbours, the top


@given(st.lists(DENSE, max_size=10) | st.lists(ENTRY | DENSE, max_size=8))
@SETTINGS
def test_address_sets_are_the_normalised_lists(entries: list[Any]) -> None:
    fast = outcome(lambda: parse_address_set(entries, "scope x leases"))
    assert fast == outcome(lambda: normalise(parse_spans(entries, "scope x leases")))
    if fast[0] == "ok":
        assert all(type(s) is Span for s in fast[1])


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_span_text_is_ipaddress_text(a: int, b: int) -> None:
    first, last = min(a, b), max(a, b)
    expected = str(ipaddress.IPv4Address(first))
    if last != first:
        expected += f"-{ipaddress.IPv4Address(last)}"
    assert format_span(Span(first, last)) == expected
    assert format_span(Span(first, first)) == str(ipaddress.IPv4Address(first))


@pytest.mark.parametrize("value", [0, 1, 255, 256, 65535, 2**24, 2**31, 2**32 - 2, 2**32 - 1])
def test_address_text_at_the_edges(value: int) -> None:
    assert format_address(value) == str(ipaddress.IPv4Address(value))


# --- quick readers -------------------------------------------------------------------------

BAD_VALUES = [
    None,
    7,
    True,
    "",
    " ",
    "10.0.0.1/24",
    "300.1.2.3",
    "10.0.0.0/31",
    "10.0.0.0/30",
    " 10.0.0.0/24 ",
    "2001:db8::/64",
    "10.0.0.5",
    "10.0.0.2-10.0.0.1",
    "9.255.255.255-10.0.0.3",
    ["10.0.0.9"],
    {"start": "10.0.0.1", "end": "10.0.0.3"},
    ("10.0.0.9",),
]


@st.composite
def mutated(draw: st.DrawFn, entry: dict[str, Any]) -> Any:
    """``entry`` as drawn, or with a key changed, added or removed (often invalid)."""
    entry = copy.deepcopy(entry)
    action = draw(st.sampled_from(["keep", "set", "drop", "extra", "list item", "not a dict"]))
    keys = sorted(entry)
    if action == "set":
        entry[draw(st.sampled_from(keys))] = draw(st.sampled_from(BAD_VALUES))
    elif action == "drop":
        del entry[draw(st.sampled_from(keys))]
    elif action == "extra":
        entry[draw(st.sampled_from(["name", "mask", "state"]))] = "x"
    elif action == "list item":
        lists = [k for k in keys if isinstance(entry[k], list)]
        if lists:
            entry[draw(st.sampled_from(lists))].append(draw(st.sampled_from(BAD_VALUES)))
    elif action == "not a dict":
        return draw(st.sampled_from([None, "10.0.0.0/24", [entry]]))
    return entry


@st.composite
def subnet_and_scope_entries(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    subnet, scopes = draw(subnet_with_scopes(int(ipaddress.IPv4Address("10.0.0.0"))))
    return draw(mutated(subnet)), [draw(mutated(scope)) for scope in scopes]


def edges(cidr: str) -> list[str]:
    """Addresses and ranges just inside and just outside ``cidr``'s ends."""
    net = ipaddress.IPv4Network(cidr)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    points = [lo - 1, lo, lo + 1, hi - 1, hi, hi + 1]
    return [format_address(p) for p in points] + [
        f"{format_address(a)}-{format_address(b)}" for a in points for b in points if a < b
    ]


@st.composite
def edge_entries(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    """Subnets and scopes with a gateway, reserved address, range or exclusion at the edges."""
    subnet, scopes = draw(subnet_with_scopes(int(ipaddress.IPv4Address("10.0.0.0"))))
    near = edges(subnet["cidr"])
    subnet["gateway"] = draw(st.sampled_from(near[:6]))
    reserved = draw(st.sampled_from(near))
    if "-" in reserved and draw(st.integers(0, 4)) == 0:  # reversed: refused
        lo, _, hi = reserved.partition("-")
        reserved = f"{hi}-{lo}"
    subnet["reserved"].append(
        draw(st.sampled_from([reserved, f" {reserved} ", reserved.replace("-", " - ")]))
    )
    for scope in scopes:
        lo, _, hi = draw(st.sampled_from(near[6:])).partition("-")
        scope["start"], scope["end"] = (hi, lo) if draw(st.integers(0, 5)) == 0 else (lo, hi)
        lo, _, hi = draw(st.sampled_from(near[6:])).partition("-")
        scope["exclusions"].append(
            {"start": hi, "end": lo} if draw(st.integers(0, 5)) == 0 else {"start": lo, "end": hi}
        )
        if draw(st.integers(0, 5)) == 0:  # a spelling the quick reader leaves to the reference one
            scope["exclusions"].append(
                draw(st.sampled_from([f"{lo}-{hi}", {"start": lo, "end": hi, "note": "x"}]))
            )
    return subnet, scopes


@given(subnet_and_scope_entries() | edge_entries())
@SETTINGS
def test_quick_readers_give_the_reference_readers_result_or_leave_the_entry_to_them(
    entries: tuple[Any, list[Any]],
) -> None:
    subnet, scopes = entries
    pairs: list[tuple[Any, Any]] = [(_quick_subnet(subnet), outcome(lambda: _read_subnet(subnet, 3)))]
    for scope in scopes:
        pairs.append((_quick_scope(scope), outcome(lambda scope=scope: _read_scope(scope, 3))))
    for quick, reference in pairs:
        if quick is not None:
            assert reference == ("ok", quick)
        # else: the reference reader reads it (and words the error, if any)


# --- the planner's working data and the writers ---------------------------------------------

NAMES = st.text(min_size=1, max_size=8).filter(lambda t: t.strip() == t and t.isprintable())


@st.composite
def results(draw: st.DrawFn) -> tuple[PlanRequest, PlanResult]:
    """A planned farm: servers renamed with any text, some with existing (maybe invalid) ranges."""
    data = draw(farms())
    for server in data["servers"]:
        server["name"] = draw(NAMES)
    names = [s["name"] for s in data["servers"]]
    assume(len(set(names)) == len(names))
    for server in data["servers"]:
        if draw(st.integers(0, 3)) == 0:
            net = ipaddress.IPv4Network(server["subnet"])
            first = draw(st.integers(int(net.network_address), int(net.broadcast_address)))
            last = draw(st.integers(first, min(first + 12, int(net.broadcast_address))))
            data["existing"].append(
                {
                    "server": server["name"],
                    "subnet": server["subnet"],
                    "ranges": [f"{format_address(first)}-{format_address(last)}"],
                }
            )
    data["replan_invalid"] = draw(st.booleans())
    request = build_request(data)
    try:
        return request, make_plan(request, reports=False)
    except PlanError:
        assume(False)
        raise


@st.composite
def farms_with_stray_leases(draw: st.DrawFn) -> dict[str, Any]:
    """Farms whose scopes also list reservations outside their range and leases anywhere near
    (outside the range, outside the subnet)."""
    data = draw(farms())
    for scope in data["dhcp_scopes"]:
        subnet = next(
            s
            for s in data["subnets"]
            if ipaddress.IPv4Address(scope["start"]) in ipaddress.IPv4Network(s["cidr"])
        )
        net = ipaddress.IPv4Network(subnet["cidr"])
        lo, hi = int(net.network_address), int(net.broadcast_address)
        near = st.integers(lo - 3, hi + 3).map(format_address)
        scope["leases"] += draw(st.lists(near, max_size=4))
        scope["reservations"] += draw(st.lists(st.integers(lo, hi).map(format_address), max_size=2))
        for first in draw(st.lists(st.integers(lo, hi), max_size=2)):  # ranges across the scope's ends
            last = draw(st.integers(first, min(first + 9, hi)))
            scope["reservations"].append(f"{format_address(first)}-{format_address(last)}")
    return data


@given(farms_with_stray_leases())
@SETTINGS
def test_free_space_in_one_sweep_is_usable_minus_blocked_minus_scope_ranges(data: dict[str, Any]) -> None:
    for sub in _build_work(build_request(data)).values():
        stepwise = subtract([sub.subnet.usable], sub.blocked)
        expected = subtract(stepwise, normalise(scope.range for scope in sub.scopes))
        assert sub.outside_base == expected


def reference_rows(result: PlanResult) -> list[str]:
    """The table's lines as written before the fast path (str() of every subnet, format_span of
    every range); what follows them (exclusions, invalid entries, warnings) did not change."""
    rows = [("SERVER", "SUBNET", "RANGES", "SIZE", "NEED", "STATUS")]
    for p in result.placements:
        rows.append(
            (
                p.server,
                str(p.subnet),
                ", ".join(format_span(r) for r in p.ranges) or "-",
                str(p.size),
                str(p.need),
                p.status + (" (exclusion to add)" if p.carved else ""),
            )
        )
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    lines = [
        "  ".join(
            cell.rjust(w) if i in (3, 4) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return lines


@given(results())
@SETTINGS
def test_table_and_json_writers_give_the_reference_text(planned: tuple[PlanRequest, PlanResult]) -> None:
    _request, result = planned
    text, head = format_table(result), "\n".join(reference_rows(result))
    assert text == head or text.startswith(head + "\n\n")  # then the unchanged footer sections
    assert format_json(result) == json.dumps(result.to_dict(), indent=2, sort_keys=True)


def test_vipctl_plan_json_is_json_dumps_of_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    code = cli.main(["plan", "--json", str(FARM)])
    expected = make_plan(build_request(yaml.safe_load(FARM.read_text())), reports=False)
    assert code == 0
    assert capsys.readouterr().out == json.dumps(expected.to_dict(), indent=2, sort_keys=True) + "\n"


# --- hand-written __init__ of the frozen dataclasses made per server ------------------------


@pytest.mark.parametrize("cls", [Server, Placement])
def test_hand_written_init_takes_the_fields_in_order_with_their_defaults(cls: type[Any]) -> None:
    params = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in params] == [f.name for f in fields(cls)]
    for param, f in zip(params, fields(cls), strict=True):
        default = inspect.Parameter.empty if f.default is MISSING else f.default
        assert param.default == default and param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    required = [f.name for f in fields(cls) if f.default is MISSING]
    values = {name: object() for name in required}
    made = cls(**values)
    assert {f.name: getattr(made, f.name) for f in fields(cls)} == {
        f.name: values.get(f.name, f.default) for f in fields(cls)
    }
    assert made == cls(*values.values()) and hash(made) == hash(cls(*values.values()))
    with pytest.raises(FrozenInstanceError):
        made.__setattr__(required[0], None)
    changed = replace(made, **{required[0]: "other"})
    assert getattr(changed, required[0]) == "other" and changed != made


SERVER_VALUES = {
    "name": ["rdsh01", " rdsh02", "rdsh03 ", "", 7, None, 'ü"x'],
    "subnet": ["10.0.0.0/24", " 10.0.0.0/24", "10.0.1.0/24", "10.0.0.1/24", None, 5],
    "max_sessions": [1, 25, 0, -1, True, "5", 5.0, None, 10**5000],
    "headroom": [None, 0, 10, 1000, 1001, -1, 12.5, "10", True, 10**5000],
}


@st.composite
def server_entries(draw: st.DrawFn) -> dict[str, Any]:
    """A valid entry with one or two keys changed, dropped or added."""
    entry: dict[str, Any] = {"name": "rdsh01", "subnet": "10.0.0.0/24", "max_sessions": 20, "headroom": 10}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from([*SERVER_VALUES, "extra"]))
        action = draw(st.sampled_from(["set", "drop"]))
        if key == "extra":
            entry["extra"] = "x"
        elif action == "drop":
            entry.pop(key, None)
        else:
            entry[key] = draw(st.sampled_from(SERVER_VALUES[key]))
    return entry


SERVER_ENTRIES = server_entries()


@given(st.lists(SERVER_ENTRIES | st.sampled_from([None, "rdsh01", ["x"]]), max_size=4))
@SETTINGS
def test_servers_read_in_one_loop_as_entry_by_entry(entries: list[Any]) -> None:
    def networks() -> dict[str, ipaddress.IPv4Network]:
        return {"10.0.0.0/24": ipaddress.IPv4Network("10.0.0.0/24")}

    def each() -> list[Server]:
        known = networks()
        return [_parse_server(raw, i, known) for i, raw in enumerate(entries)]

    assert outcome(lambda: _parse_servers(entries, networks())) == outcome(each)


SERVER_CASES = [(key, value) for key, values in SERVER_VALUES.items() for value in values] + [("extra", "x")]


@pytest.mark.parametrize(
    "key, value", SERVER_CASES, ids=[f"{k}-{j}" for j, (k, _v) in enumerate(SERVER_CASES)]
)
def test_each_server_field_read_in_one_loop_as_entry_by_entry(key: str, value: Any) -> None:
    entry = {"name": "rdsh01", "subnet": "10.0.0.0/24", "max_sessions": 20, "headroom": 10, key: value}
    test_servers_read_in_one_loop_as_entry_by_entry.hypothesis.inner_test([entry, {**entry, "name": "x"}])  # type: ignore[attr-defined]
    dropped = {k: v for k, v in entry.items() if k != key}
    test_servers_read_in_one_loop_as_entry_by_entry.hypothesis.inner_test([dropped])  # type: ignore[attr-defined]


@st.composite
def free_runs(draw: st.DrawFn) -> list[Span]:
    """Disjoint, non-touching runs (as the planner's free space is)."""
    cuts = sorted(draw(st.lists(st.integers(0, 400), min_size=0, max_size=12, unique=True)))
    return normalise(Span(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False))


@given(free_runs(), st.lists(st.integers(1, 120), max_size=6))
@SETTINGS
def test_take_fit_is_best_fit_then_take(runs: list[Span], needs: list[int]) -> None:
    fast, reference = _FreeRuns(runs), _FreeRuns(runs)
    for need in needs:
        fit = reference.best_fit(need)
        expected = None if fit is None else Span(fit.first, fit.first + need - 1)
        if fit is not None and expected is not None:
            reference.take(fit, expected)
        assert fast.take_fit(need) == expected
        assert vars(fast) == vars(reference)


@given(results())
@SETTINGS
def test_nothing_is_carved_without_carve_from_scopes(planned: tuple[PlanRequest, PlanResult]) -> None:
    """make_plan looks for parts to carve only with carve_from_scopes: the rest of the time there
    are none (checked here on every placement, with existing ranges valid and invalid)."""
    request, result = planned
    work = _build_work(request)
    for placement in result.placements:
        if placement.status != "invalid":
            carved = _carved(placement, work[placement.subnet])
            assert not carved or request.carve_from_scopes


@given(st.lists(st.integers(-300, 600), min_size=1, max_size=5))
@SETTINGS
def test_a_reservation_outside_its_subnet_is_named_as_the_sweep_named_it(offsets: list[int]) -> None:
    """_build_work looks at the ends of the (normalised) reservations first; the message still
    names the first reservation outside the subnet, as checking each one in order does."""
    base = int(ipaddress.IPv4Address("10.0.4.0"))
    data = {
        "subnets": [{"cidr": "10.0.4.0/24"}],
        "dhcp_scopes": [
            {
                "scope": "10.0.4.0",
                "start": "10.0.4.10",
                "end": "10.0.4.200",
                "reservations": [format_address(base + k) for k in offsets],
            }
        ],
    }
    request = build_request(data)
    outside = [r for r in request.dhcp_scopes[0].reservations if r.first < base or r.last > base + 255]
    got = outcome(lambda: _build_work(request))
    if outside:
        assert got == (
            "error",
            f"DHCP scope 10.0.4.0: reservation {format_span(outside[0])} is outside its subnet "
            "10.0.4.0/24; fix the reservation",
        )
    else:
        assert got[0] == "ok"


@pytest.mark.parametrize("setting", [("_STRICT_PTON", False), ("_U32", None)])
def test_fallbacks_of_other_platforms_give_the_same(
    setting: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where inet_pton is not known to be strict, or no 4-byte array type exists, the same results."""
    entries = ["10.0.0.9", " 10.0.0.1", "10.0.0.2\t", "255.255.255.255", "0.0.0.0"]
    expected = (
        parse_spans(entries, "x"),
        parse_address_set(entries, "x"),
        [format_span(s) for s in parse_spans(entries, "x")],
        [outcome(lambda t=t: parse_network(t, "x")) for t in ODD_NETWORKS],
    )
    monkeypatch.setattr(addressing, *setting)
    got = (
        parse_spans(entries, "x"),
        parse_address_set(entries, "x"),
        [format_span(s) for s in parse_spans(entries, "x")],
        [outcome(lambda t=t: parse_network(t, "x")) for t in ODD_NETWORKS],
    )
    assert got == expected


@given(free_runs(), free_runs(), st.booleans())
def test_intersect_and_subtract_give_spans_reused_or_new(a: list[Span], b: list[Span], plain: bool) -> None:
    """Members kept whole are the same Span objects; plain tuples given come back as Spans."""
    left: list[Any] = [tuple(s) for s in a] if plain else a
    for out in (intersect(left, b), subtract(left, b), intersect(b, left)):
        assert all(type(s) is Span for s in out)
    expected = [s for s in a if any(r.first <= s.first and s.last <= r.last for r in b)]
    kept = [s for s in intersect(a, b) if any(s is x for x in a)]
    assert kept == expected


@given(free_runs(), st.integers(0, 400), st.integers(0, 60))
def test_reaching_outside_keeps_every_member_that_matters_outside_the_span(
    spans: list[Span], start: int, length: int
) -> None:
    span = Span(start, start + length)
    got = reaching_outside(spans, span)
    assert got == [s for s in spans if s.first < span.first or s.last > span.last]
    whole = [Span(0, 500)]
    assert subtract(whole, normalise([span, *got])) == subtract(whole, normalise([span, *spans]))
