"""Properties of the range planner on random small farms, against a per-address oracle.

The oracle (plain Python sets of addresses) is only possible because the farms are small;
the planner itself never builds such sets.
"""

from __future__ import annotations

import copy
import ipaddress
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionnet_vip.planning import PlanError, plan_from_dict

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def a(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def n(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


@st.composite
def subnet_with_scopes(draw: st.DrawFn, base: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    prefix = draw(st.integers(25, 28))
    size = 2 ** (32 - prefix)
    first, last = base + 1, base + size - 2
    subnet: dict[str, Any] = {"cidr": f"{a(base)}/{prefix}", "reserved": []}
    if draw(st.booleans()):
        subnet["gateway"] = a(draw(st.sampled_from([first, last])))
    for _ in range(draw(st.integers(0, 2))):
        lo = draw(st.integers(base, base + size - 1))
        hi = draw(st.integers(lo, min(lo + 8, base + size - 1)))
        subnet["reserved"].append(a(lo) if lo == hi else f"{a(lo)}-{a(hi)}")
    # scopes: disjoint ranges from sorted cut points
    cuts = sorted(draw(st.lists(st.integers(first, last), min_size=0, max_size=4, unique=True)))
    scopes = []
    for i in range(0, len(cuts) - 1, 2):
        lo, hi = cuts[i], cuts[i + 1]
        scope: dict[str, Any] = {"scope": f"{a(base)}#{i}", "start": a(lo), "end": a(hi)}
        excl = []
        if draw(st.booleans()):
            e1 = draw(st.integers(lo, hi))
            e2 = draw(st.integers(e1, min(hi, e1 + 6)))
            excl.append({"start": a(e1), "end": a(e2)})
        scope["exclusions"] = excl
        scope["reservations"] = [a(draw(st.integers(lo, hi))) for _ in range(draw(st.integers(0, 2)))]
        scope["leases"] = [a(draw(st.integers(lo, hi))) for _ in range(draw(st.integers(0, 3)))]
        scopes.append(scope)
    return subnet, scopes


@st.composite
def farms(draw: st.DrawFn) -> dict[str, Any]:
    subnets, scopes = [], []
    for k in range(draw(st.integers(1, 2))):
        subnet, subnet_scopes = draw(subnet_with_scopes(n(f"10.{k}.0.0")))
        subnets.append(subnet)
        scopes += subnet_scopes
    servers = []
    for i in range(draw(st.integers(0, 6))):
        servers.append(
            {
                "name": f"srv{draw(st.integers(0, 99)):02d}x{i}",
                "subnet": draw(st.sampled_from([s["cidr"] for s in subnets])),
                "max_sessions": draw(st.integers(1, 20)),
                "headroom": draw(st.sampled_from([0, 10, 25, 12.5])),
            }
        )
    return {
        "subnets": subnets,
        "dhcp_scopes": scopes,
        "servers": servers,
        "existing": [],
        "carve_from_scopes": draw(st.booleans()),
        "allow_split": draw(st.sampled_from([False, True, 2])),
    }


def need(server: dict[str, Any]) -> int:
    return math.ceil(server["max_sessions"] * (100 + server["headroom"]) / 100)


def addresses(text: str) -> set[int]:
    lo, _, hi = text.partition("-")
    return set(range(n(lo), n(hi or lo) + 1))


def oracle(data: dict[str, Any], cidr: str) -> tuple[set[int], set[int], dict[str, set[int]]]:
    """(free addresses for new ranges, addresses never allowed, pool addresses per scope)."""
    net = ipaddress.IPv4Network(cidr)
    usable = set(range(int(net.network_address) + 1, int(net.broadcast_address)))
    subnet = next(s for s in data["subnets"] if s["cidr"] == cidr)
    never = {int(net.network_address), int(net.broadcast_address)}
    if subnet.get("gateway"):
        never.add(n(subnet["gateway"]))
    for r in subnet["reserved"]:
        never |= addresses(r)
    pools: dict[str, set[int]] = {}
    excluded: set[int] = set()
    for scope in data["dhcp_scopes"]:
        rng = set(range(n(scope["start"]), n(scope["end"]) + 1))
        if not rng & usable:
            continue
        ex = set().union(*(addresses(f"{e['start']}-{e['end']}") for e in scope["exclusions"]))
        excluded |= ex
        pools[scope["scope"]] = rng - ex
        for r in scope["reservations"] + scope["leases"]:
            never |= addresses(r)
    free = usable - never - excluded
    if not data["carve_from_scopes"]:
        free -= set().union(set(), *pools.values())
    return free, never, pools


def max_ranges(data: dict[str, Any]) -> int:
    split = data["allow_split"]
    return 1 if split is False else 4 if split is True else int(split)


def check_plan(data: dict[str, Any], result: dict[str, Any]) -> None:
    owned: dict[int, str] = {}
    for server in data["servers"]:
        entry = next(p for p in result["plan"] if p["server"] == server["name"])
        assert entry["subnet"] == server["subnet"]
        free, _, _ = oracle(data, server["subnet"])
        got: set[int] = set()
        assert 1 <= len(entry["ranges"]) <= max_ranges(data)
        for r in entry["ranges"]:
            span = addresses(f"{r['start']}-{r['end']}")
            assert len(span) == r["size"]
            got |= span
        assert len(got) >= need(server)
        assert got <= free, "a range uses an address that is not free"
        for addr in got:
            assert addr not in owned, f"{server['name']} overlaps {owned.get(addr)}"
            owned[addr] = server["name"]
    # exclusions: exactly the planned addresses inside scope pools
    expected: set[tuple[str, int]] = set()
    for cidr in {s["cidr"] for s in data["subnets"]}:
        _, _, pools = oracle(data, cidr)
        for scope, pool in pools.items():
            expected |= {(scope, x) for x in pool if x in owned}
    emitted = {(e["scope"], x) for e in result["exclusions"] for x in addresses(f"{e['start']}-{e['end']}")}
    assert emitted == expected
    if not data["carve_from_scopes"]:
        assert result["exclusions"] == []


def apply_exclusions(data: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for e in result["exclusions"]:
        scope = next(s for s in out["dhcp_scopes"] if s["scope"] == e["scope"])
        scope["exclusions"].append({"start": e["start"], "end": e["end"]})
    out["existing"] = result["plan"]
    return out


@SETTINGS
@given(farms(), st.randoms(use_true_random=False))
def test_plans_are_valid_idempotent_and_order_free(data: dict[str, Any], rnd: random.Random) -> None:
    try:
        result = plan_from_dict(data)
    except PlanError as exc:
        for failure in exc.failures:
            free, _, _ = oracle(data, failure["subnet"])
            wanted = sum(need(s) for s in data["servers"] if s["subnet"] == failure["subnet"])
            assert failure["needed"] == wanted
            assert failure["available"] == len(free)
            assert failure["shortfall"] == max(wanted - len(free), 0)
            assert sum(failure["free_runs"]) == len(free)
        return
    check_plan(data, result)
    assert result["invalid"] == []
    assert all("placed largest first" in w for w in result["warnings"])

    # same plan and same exclusions when planned again with the output as existing (check mode)
    again = copy.deepcopy(data)
    again["existing"] = result["plan"]
    replanned = plan_from_dict(again)
    assert replanned["plan"] == result["plan"] and replanned["exclusions"] == result["exclusions"]
    assert replanned["invalid"] == [] and replanned["warnings"] == []
    # and no exclusion left to add once they were added
    applied = apply_exclusions(data, result)
    second = plan_from_dict(applied)
    assert second["plan"] == result["plan"] and second["exclusions"] == [] and second["invalid"] == []

    # the order of servers, scopes and subnets does not matter
    shuffled = copy.deepcopy(data)
    for key in ("servers", "dhcp_scopes", "subnets"):
        rnd.shuffle(shuffled[key])
    assert plan_from_dict(shuffled) == result


@SETTINGS
@given(farms(), st.integers(1, 60))
def test_single_server_fits_iff_a_free_run_is_long_enough(data: dict[str, Any], sessions: int) -> None:
    data["servers"] = [
        {"name": "only", "subnet": data["subnets"][0]["cidr"], "max_sessions": sessions, "headroom": 0}
    ]
    data["allow_split"] = False
    free, _, pools = oracle(data, data["subnets"][0]["cidr"])
    # tiers: runs outside every scope first, then (carving) runs inside one scope's pool
    outside = runs_of(free - set().union(set(), *pools.values()))
    inside = [run for pool in pools.values() for run in runs_of(free & pool)]
    longest = max((hi - lo + 1 for lo, hi in outside + inside), default=0)
    try:
        result = plan_from_dict(data)
    except PlanError:
        assert longest < sessions
        return
    assert longest >= sessions
    (entry,) = result["plan"]
    (rng,) = entry["ranges"]
    # best fit: the smallest run that holds it (lowest address on ties), outside scopes first
    for tier in (outside, inside):
        holding = [(hi - lo + 1, lo) for lo, hi in tier if hi - lo + 1 >= sessions]
        if holding:
            assert n(rng["start"]) == min(holding)[1]
            break


def runs_of(addrs: set[int]) -> list[tuple[int, int]]:
    runs: list[list[int]] = []
    for x in sorted(addrs):
        if runs and x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    return [(lo, hi) for lo, hi in runs]


@SETTINGS
@given(farms(), st.data())
def test_random_existing_assignments_never_break_the_rules(data: dict[str, Any], draw: st.DataObject) -> None:
    existing = []
    for server in data["servers"]:
        if not draw.draw(st.booleans()):
            continue
        net = ipaddress.IPv4Network(server["subnet"])
        lo = draw.draw(st.integers(int(net.network_address), int(net.broadcast_address)))
        hi = draw.draw(st.integers(lo, min(lo + 25, int(net.broadcast_address))))
        existing.append(
            {"server": server["name"], "subnet": server["subnet"], "ranges": [{"start": a(lo), "end": a(hi)}]}
        )
    data["existing"] = existing
    data["replan_invalid"] = draw.draw(st.booleans())
    try:
        result = plan_from_dict(data)
    except PlanError:
        return
    invalid = {i["server"] for i in result["invalid"]}
    left = set() if data["replan_invalid"] else invalid
    owned: dict[int, str] = {}
    for entry in result["plan"]:
        got = set().union(*(addresses(f"{r['start']}-{r['end']}") for r in entry["ranges"]))
        if entry["server"] in left:
            assert entry["ranges"] == [
                {**r, "size": n(r["end"]) - n(r["start"]) + 1}
                for e in existing
                if e["server"] == entry["server"]
                for r in e["ranges"]
            ]
            continue
        server = next(s for s in data["servers"] if s["name"] == entry["server"])
        assert len(got) >= need(server)
        _, never, _ = oracle(data, server["subnet"])
        assert not got & never
        for x in got:
            assert x not in owned
            owned[x] = entry["server"]
    # ranges left in place (invalid) are never handed to anyone else, unless they were already
    # held by a valid server earlier by name
    for entry in result["plan"]:
        if entry["server"] in left:
            for r in entry["ranges"]:
                for x in addresses(f"{r['start']}-{r['end']}"):
                    holder = owned.get(x)
                    assert holder is None or any(
                        e["server"] == holder and any(n(q["start"]) <= x <= n(q["end"]) for q in e["ranges"])
                        for e in existing
                    )
