"""Rules of the range planner (sessionnet_vip.planning)."""

from __future__ import annotations

import ast
import copy
import ipaddress
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionnet_vip.addressing import Span, normalise, parse_span
from sessionnet_vip.errors import VipError
from sessionnet_vip.planning import (
    PLAN_OPTION_NAMES,
    PlanError,
    build_request,
    make_plan,
    plan_from_dict,
)

FARM = Path(__file__).resolve().parents[3] / "examples" / "farm.yml"


def farm() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FARM.read_text())
    return data


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def ranges_of(result: dict[str, Any], server: str) -> list[Span]:
    entry = next(p for p in result["plan"] if p["server"] == server)
    return [Span(ip(r["start"]), ip(r["end"])) for r in entry["ranges"]]


def need(server: dict[str, Any]) -> int:
    return math.ceil(server["max_sessions"] * (100 + server.get("headroom", 0)) / 100)


def blocked_of(data: dict[str, Any], with_pools: bool = True) -> list[Span]:
    """Addresses no server may get (from the raw input, independently of the planner)."""
    spans: list[Span] = []
    for subnet in data["subnets"]:
        net = ipaddress.IPv4Network(subnet["cidr"])
        net_first, net_last = int(net.network_address), int(net.broadcast_address)
        spans += [Span(net_first, net_first), Span(net_last, net_last)]
        if subnet.get("gateway"):
            spans.append(Span(ip(subnet["gateway"]), ip(subnet["gateway"])))
        spans += [parse_span(r, "t") for r in subnet.get("reserved") or []]
    for scope in data.get("dhcp_scopes") or []:
        if with_pools:
            spans.append(Span(ip(scope["start"]), ip(scope["end"])))
        spans += [parse_span(e, "t") for e in scope.get("exclusions") or []]
        spans += [parse_span(r, "t") for r in scope.get("reservations") or []]
        spans += [parse_span(r, "t") for r in scope.get("leases") or []]
    return normalise(spans)


def assert_valid(data: dict[str, Any], result: dict[str, Any]) -> None:
    carve = bool(data.get("carve_from_scopes"))
    blocked = blocked_of(data, with_pools=not carve)
    seen: list[Span] = []
    for server in data["servers"]:
        got = ranges_of(result, server["name"])
        assert sum(r.size for r in got) >= need(server)
        net = ipaddress.IPv4Network(server["subnet"])
        for r in got:
            assert int(net.network_address) < r.first <= r.last < int(net.broadcast_address)
            assert all(b.last < r.first or b.first > r.last for b in blocked), (server, r)
        seen += got
    seen.sort()
    assert all(b.first > a.last for a, b in itertools.pairwise(seen)), "overlapping servers"


def test_example_farm_is_planned_by_the_documented_rule() -> None:
    data = farm()
    result = plan_from_dict(data)
    assert_valid(data, result)
    assert result["exclusions"] == [] and result["invalid"] == [] and result["warnings"] == []
    for server in data["servers"]:
        got = ranges_of(result, server["name"])
        assert len(got) == 1 and got[0].size == need(server)
    # rdsh01 comes first by name and takes the smallest free run that holds it: the one
    # between the DHCP scope and the reserved management addresses.
    scope_end = ip(data["dhcp_scopes"][0]["end"])
    assert ranges_of(result, "rdsh01")[0].first == scope_end + 1
    # rdsh02 then starts the lowest free run, right after the reserved block.
    assert ranges_of(result, "rdsh02")[0].first == parse_span(data["subnets"][0]["reserved"][0], "t").last + 1
    assert json.loads(json.dumps(result)) == result


def test_replanning_the_output_is_idempotent() -> None:
    data = farm()
    first = plan_from_dict(data)
    data["existing"] = first["plan"]
    assert plan_from_dict(data) == first


def test_input_order_does_not_matter() -> None:
    data = farm()
    expected = plan_from_dict(data)
    data["servers"].reverse()
    data["subnets"][0]["reserved"].reverse()
    assert plan_from_dict(data) == expected


def test_headroom_is_exact() -> None:
    data = farm()
    data["servers"] = [
        {"name": "a", "subnet": "10.20.0.0/24", "max_sessions": 10, "headroom": 10},  # 11, not 12
        {"name": "b", "subnet": "10.20.0.0/24", "max_sessions": 3, "headroom": 10},  # 3.3 -> 4
        {"name": "c", "subnet": "10.20.0.0/24", "max_sessions": 7, "headroom": 0.5},  # 7.035 -> 8
    ]
    result = plan_from_dict(data)
    assert [sum(r.size for r in ranges_of(result, n)) for n in "abc"] == [11, 4, 8]


def test_growth_in_place_keeps_the_start() -> None:
    data = farm()
    first = plan_from_dict(data)
    data["existing"] = first["plan"]
    data["servers"][0]["max_sessions"] = 30  # rdsh01: 33 addresses, room after its range
    result = plan_from_dict(data)
    old, new = ranges_of(first, "rdsh01")[0], ranges_of(result, "rdsh01")[0]
    assert new.first == old.first and new.size == 33
    assert ranges_of(result, "rdsh02") == ranges_of(first, "rdsh02")
    assert any("rdsh01" in w and "grown" in w for w in result["warnings"])
    assert_valid(data, result)
    data["existing"] = result["plan"]
    assert plan_from_dict(data)["plan"] == result["plan"]


def test_growth_that_cannot_happen_in_place_fails_with_fixes_or_splits() -> None:
    data = farm()
    data["existing"] = plan_from_dict(data)["plan"]
    data["servers"][1]["max_sessions"] = 40  # rdsh02: 44, boxed in by rdsh03
    with pytest.raises(PlanError) as info:
        plan_from_dict(data)
    (failure,) = info.value.failures
    assert failure["subnet"] == "10.20.0.0/24" and failure["servers"] == ["rdsh02"]
    assert failure["shortfall"] == 0  # enough addresses, but fragmented
    assert "runs too short to give each server one range" in str(info.value)
    assert "allow_split: true" in str(info.value) and "carve_from_scopes: true" in str(info.value)
    data["allow_split"] = True
    split = plan_from_dict(data)
    got = ranges_of(split, "rdsh02")
    assert len(got) == 2 and sum(r.size for r in got) == 44
    assert_valid(data, split)
    data["allow_split"] = False
    data["carve_from_scopes"] = True
    moved = plan_from_dict(data)
    (rng,) = ranges_of(moved, "rdsh02")
    assert rng.size == 44
    assert moved["exclusions"] == [
        {
            "scope": "10.20.0.0",
            "start": str(ipaddress.IPv4Address(rng.first)),
            "end": str(ipaddress.IPv4Address(rng.last)),
        }
    ]
    assert any("moved" in w for w in moved["warnings"])


def test_ranges_never_shrink() -> None:
    data = farm()
    data["existing"] = plan_from_dict(data)["plan"]
    data["servers"][2]["max_sessions"] = 5
    result = plan_from_dict(data)
    assert result["plan"] == data["existing"]
    assert any("rdsh03" in w and "never shrink" in w for w in result["warnings"])


def test_carving_respects_leases_reservations_and_exclusions() -> None:
    data = farm()
    data["subnets"][0]["reserved"].append("10.20.0.10-10.20.0.99")  # nothing free below the scope
    data["subnets"][0]["reserved"].append("10.20.0.200-10.20.0.249")  # nor above it
    data["dhcp_scopes"][0]["leases"] = ["10.20.0.110-10.20.0.112"]
    data["servers"][2]["max_sessions"] = 10  # needs 12: 22 + 33 + 12 fit in the runs 113-149 and 152-199
    with pytest.raises(
        PlanError, match=r"67 address\(es\) missing.*carve_from_scopes: true \(85 more"
    ) as info:
        plan_from_dict(data)
    assert info.value.failures[0]["shortfall"] == 67
    data["carve_from_scopes"] = True
    result = plan_from_dict(data)
    assert_valid(data, result)
    carved = normalise(Span(ip(e["start"]), ip(e["end"])) for e in result["exclusions"])
    planned = normalise(r for s in data["servers"] for r in ranges_of(result, s["name"]))
    assert carved == planned  # every planned address lies in the scope and must be excluded
    # Applying the exclusions (what the role does) and planning again changes nothing more.
    scope = data["dhcp_scopes"][0]
    scope["exclusions"] += [{"start": e["start"], "end": e["end"]} for e in result["exclusions"]]
    data["existing"] = result["plan"]
    again = plan_from_dict(data)
    assert again["plan"] == result["plan"] and again["exclusions"] == [] and again["invalid"] == []
    # Without applying them (check mode), the same exclusions are asked again, no new ones.
    scope["exclusions"] = scope["exclusions"][:1]
    assert plan_from_dict(data)["exclusions"] == result["exclusions"]


def test_shortfall_names_subnet_and_missing_count() -> None:
    data = farm()
    data["servers"].append({"name": "rdsh04", "subnet": "10.20.0.0/24", "max_sessions": 60})
    with pytest.raises(PlanError) as info:
        plan_from_dict(data)
    message = str(info.value)
    failure = info.value.failures[0]
    total_need = sum(need(s) for s in data["servers"])
    assert failure["needed"] == total_need
    assert failure["shortfall"] == total_need - failure["available"] > 0
    assert "10.20.0.0/24" in message and f"{failure['shortfall']} address(es) missing" in message
    assert "lower headroom" in message and "larger subnet" in message


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.update(ranges=[{"start": "10.20.0.0", "end": "10.20.0.21"}]), "network address"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.240", "end": "10.20.0.255"}]), "broadcast"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.1", "end": "10.20.0.22"}]), "gateway"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.5", "end": "10.20.0.26"}]), "reserved"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.140", "end": "10.20.0.161"}]), "reservation"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.180", "end": "10.20.0.201"}]), "DHCP pool"),
        (lambda e: e.update(ranges=[{"start": "10.20.0.20", "end": "10.20.0.41"}]), "another server"),
        (lambda e: e.update(subnet="10.30.0.0/24"), "now in subnet"),
    ],
)
def test_invalid_existing_is_reported_and_left_unless_replan(mutate: Any, reason: str) -> None:
    data = farm()
    data["subnets"].append({"cidr": "10.30.0.0/24"})
    first = plan_from_dict(data)
    data["existing"] = copy.deepcopy(first["plan"])
    bad = next(e for e in data["existing"] if e["server"] == "rdsh03")  # checked after rdsh02
    bad["ranges"][0].pop("size")
    mutate(bad)
    result = plan_from_dict(data)
    assert [i["server"] for i in result["invalid"]] == ["rdsh03"]
    assert reason in result["invalid"][0]["reason"]
    kept = next(p for p in result["plan"] if p["server"] == "rdsh03")
    assert kept["ranges"] == [{**r, "size": ip(r["end"]) - ip(r["start"]) + 1} for r in bad["ranges"]]
    assert result["exclusions"] == []
    # the others keep their ranges
    for name in ("rdsh01", "rdsh02"):
        assert ranges_of(result, name) == ranges_of(first, name)
    data["replan_invalid"] = True
    replanned = plan_from_dict(data)
    assert [i["server"] for i in replanned["invalid"]] == ["rdsh03"]
    data_valid = {**data, "existing": []}
    assert_valid(data_valid, replanned)
    data["existing"] = replanned["plan"]
    assert plan_from_dict(data)["invalid"] == []


def test_invalid_range_left_in_place_blocks_its_addresses() -> None:
    data = farm()
    data["existing"] = [
        {
            "server": "rdsh03",
            "subnet": "10.20.0.0/24",
            "ranges": [{"start": "10.20.0.150", "end": "10.20.0.179"}],
        }
    ]
    result = plan_from_dict(data)
    assert result["invalid"][0]["server"] == "rdsh03"
    invalid = Span(ip("10.20.0.150"), ip("10.20.0.179"))
    for name in ("rdsh01", "rdsh02"):
        for r in ranges_of(result, name):
            assert r.last < invalid.first or r.first > invalid.last


def test_existing_of_unknown_server_is_dropped_with_a_warning() -> None:
    data = farm()
    data["existing"] = [
        {"server": "gone", "subnet": "10.20.0.0/24", "ranges": [{"start": "10.20.0.10", "end": "10.20.0.50"}]}
    ]
    result = plan_from_dict(data)
    assert any("gone" in w and "dropped" in w for w in result["warnings"])
    assert "gone" not in {p["server"] for p in result["plan"]}
    assert ranges_of(result, "rdsh02")[0].first == ip("10.20.0.10")


def test_failover_partners_listing_the_same_scope_are_merged() -> None:
    data = farm()
    twin = copy.deepcopy(data["dhcp_scopes"][0])
    twin["reservations"] = ["10.20.0.160"]
    twin["name"] = "partner"  # extra keys of dhcp_scope_info are ignored
    data["dhcp_scopes"].append(twin)
    data["carve_from_scopes"] = True
    data["subnets"][0]["reserved"] += ["10.20.0.10-10.20.0.99", "10.20.0.200-10.20.0.249"]
    data["servers"] = data["servers"][:2]
    result = plan_from_dict(data)
    assert_valid(data, result)
    partner_reservation = ip("10.20.0.160")
    assert all(not ip(e["start"]) <= partner_reservation <= ip(e["end"]) for e in result["exclusions"])


def test_several_subnets_and_foreign_scopes() -> None:
    data = farm()
    data["subnets"].append({"cidr": "10.30.0.0/25", "gateway": "10.30.0.126"})
    data["dhcp_scopes"].append({"scope": "192.168.9.0", "start": "192.168.9.10", "end": "192.168.9.20"})
    data["servers"].append({"name": "rdsh00", "subnet": "10.30.0.0/25", "max_sessions": 100})
    result = plan_from_dict(data)
    assert ranges_of(result, "rdsh00") == [Span(ip("10.30.0.1"), ip("10.30.0.100"))]
    assert_valid(data, result)


def _bad(**changes: Any) -> dict[str, Any]:
    data = farm()
    for path, value in changes.items():
        target: Any = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_bad(subnets__0__cidr="10.20.0.0/33"), "subnets[0] cidr"),
        (_bad(subnets__0__cidr="10.20.0.1/24"), "did you mean 10.20.0.0/24"),
        (_bad(subnets__0__cidr="10.20.0.0/31"), "too small"),
        (_bad(subnets__0__cidr="10.20.0.0/32"), "too small"),
        (_bad(subnets__0__gateway="10.20.1.1"), "gateway 10.20.1.1"),
        (_bad(subnets__0__reserved=["10.20.0.250-10.20.1.4"]), "crosses or lies outside"),
        (_bad(servers__0__max_sessions=0), "rdsh01 max_sessions is 0"),
        (_bad(servers__0__max_sessions=-3), "rdsh01 max_sessions is -3"),
        (_bad(servers__0__max_sessions=2.5), "not a whole number"),
        (_bad(servers__0__max_sessions=True), "boolean"),
        (_bad(servers__0__max_sessions="many"), "not a whole number"),
        (_bad(servers__0__headroom=-1), "headroom"),
        (_bad(servers__0__subnet="10.99.0.0/24"), "10.99.0.0/24 is not defined"),
        (_bad(servers__1__name="rdsh01"), "rdsh01 is listed twice"),
        (_bad(servers__0__name="rd\nsh01"), "servers[0] name 'rd\\nsh01' contains a line break"),
        (_bad(servers__0__name="rdsh\x0001"), "give the name on one line"),
        (_bad(servers__0__colour="red"), "unknown key(s) colour"),
        (
            _bad(dhcp_scopes__0__exclusions=[{"start": "10.20.0.90", "end": "10.20.0.105"}]),
            "outside the scope",
        ),
        (_bad(dhcp_scopes__0__end="10.20.1.20"), "crosses the boundary"),
        (_bad(dhcp_scopes__0__end="10.20.0.50"), "below start"),
        (_bad(carve_from_scopes="yes"), "carve_from_scopes must be true or false"),
        (_bad(allow_split=0), "allow_split"),
        (_bad(subnets=[]), "subnets is empty"),
        (_bad(servers={"name": "x"}), "servers must be a list"),
        (_bad(surprise=1), "unknown key(s) surprise"),
    ],
)
def test_bad_input_names_the_item(data: dict[str, Any], needle: str) -> None:
    with pytest.raises(VipError) as info:
        plan_from_dict(data)
    assert needle in str(info.value)
    assert not isinstance(info.value, PlanError)


def test_contradicting_and_overlapping_scopes() -> None:
    data = farm()
    twin = copy.deepcopy(data["dhcp_scopes"][0])
    twin["exclusions"] = []
    data["dhcp_scopes"].append(twin)
    with pytest.raises(VipError, match="listed twice with different"):
        plan_from_dict(data)
    data = farm()
    data["dhcp_scopes"].append({"scope": "other", "start": "10.20.0.190", "end": "10.20.0.210"})
    with pytest.raises(VipError, match="overlap; they contradict"):
        plan_from_dict(data)


def test_bad_existing_entries() -> None:
    data = farm()
    data["existing"] = [
        {
            "server": "rdsh01",
            "subnet": "10.20.0.0/24",
            "ranges": [{"start": "10.20.0.10", "end": "10.20.0.20", "size": 5}],
        }
    ]
    with pytest.raises(VipError, match="says size 5"):
        plan_from_dict(data)
    data["existing"] = [
        {"server": "rdsh01", "subnet": "10.20.0.0/24", "ranges": []},
        {"server": "rdsh01", "subnet": "10.20.0.0/24", "ranges": []},
    ]
    with pytest.raises(VipError, match="two entries in existing"):
        plan_from_dict(data)


def test_overlapping_subnets_refused() -> None:
    data = farm()
    data["subnets"].append({"cidr": "10.20.0.128/25"})
    with pytest.raises(VipError, match="overlap"):
        plan_from_dict(data)


def test_option_names_are_the_modules() -> None:
    # The planner's keys are the module's documented options, less the controller-only svg_dir.
    module = Path(__file__).resolve().parents[3] / "plugins" / "modules" / "vip_range_plan.py"
    tree = ast.parse(module.read_text())
    doc = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )
    documented = set(yaml.safe_load(doc)["options"])
    assert len(PLAN_OPTION_NAMES) == len(set(PLAN_OPTION_NAMES))
    assert set(PLAN_OPTION_NAMES) == documented - {"svg_dir"}
    request = build_request(farm())
    assert [s.name for s in request.servers] == ["rdsh01", "rdsh02", "rdsh03"]
    assert make_plan(request).to_dict() == plan_from_dict(farm())
