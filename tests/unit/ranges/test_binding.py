"""Decisions of vip_address_binding (sessionnet_vip.windows.binding), without Ansible."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import binding


def adapter(name: str, index: int, *addresses: str, virtual: tuple[str, ...] = ()) -> dict[str, Any]:
    ipv4 = []
    for cidr in addresses:
        iface = ipaddress.IPv4Interface(cidr)
        ipv4.append(
            {"address": str(iface.ip), "prefix_length": iface.network.prefixlen, "skip_as_source": False}
        )
    for cidr in virtual:
        iface = ipaddress.IPv4Interface(cidr)
        ipv4.append(
            {"address": str(iface.ip), "prefix_length": iface.network.prefixlen, "skip_as_source": True}
        )
    return {"name": name, "index": index, "mac": "00-00", "status": "Up", "ipv4": ipv4}


RANGE = [{"start": "10.20.0.200", "end": "10.20.0.209", "size": 10}]


def test_present_adds_every_missing_address_on_the_matching_adapter() -> None:
    adapters = [adapter("Storage", 7, "192.168.5.11/24"), adapter("Ethernet", 12, "10.20.0.11/24")]
    plan = binding.plan_binding(adapters, RANGE)
    assert plan.adapter.name == "Ethernet" and plan.adapter.index == 12
    assert str(plan.network) == "10.20.0.0/24"
    assert [str(ipaddress.IPv4Address(a)) for a in plan.add] == [f"10.20.0.{n}" for n in range(200, 210)]
    wire = plan.to_wire()
    assert wire["interface_index"] == 12 and wire["prefix_length"] == 24 and wire["skip_as_source"] is True
    assert wire["present"][0] == "10.20.0.200" and len(wire["present"]) == 10 and wire["absent"] == []


def test_present_is_a_no_op_when_bound_and_absent_removes_only_virtual_addresses() -> None:
    bound = tuple(f"10.20.0.{n}/24" for n in range(200, 210))
    adapters = [adapter("Ethernet", 12, "10.20.0.11/24", virtual=bound)]
    assert not binding.plan_binding(adapters, RANGE).changes
    absent = binding.plan_binding(adapters, RANGE, "absent")
    assert len(absent.remove) == 10 and not absent.add
    assert binding.plan_binding([adapter("Ethernet", 12, "10.20.0.11/24")], RANGE, "absent").changes is False


def test_partial_range_adds_only_the_rest_and_fixes_skip_as_source() -> None:
    adapters = [
        adapter("Ethernet", 12, "10.20.0.11/24", "10.20.0.201/24", virtual=("10.20.0.200/24",)),
    ]
    plan = binding.plan_binding(adapters, RANGE)
    assert [str(ipaddress.IPv4Address(a)) for a in plan.update] == ["10.20.0.201"]
    assert len(plan.add) == 8
    assert plan.to_wire()["present"][-1] == "10.20.0.201"


@pytest.mark.parametrize(
    ("adapters", "ranges", "message"),
    [
        (
            [adapter("Ethernet", 12, "10.30.0.11/24")],
            RANGE,
            "no adapter has an IPv4 address in a subnet holding",
        ),
        (
            [adapter("A", 1, "10.20.0.11/24"), adapter("B", 2, "10.20.0.12/24")],
            RANGE,
            "several adapters are in the subnet",
        ),
        (
            [adapter("Ethernet", 12, "10.20.0.11/24")],
            [{"start": "10.20.0.250", "end": "10.20.0.255"}],
            "broadcast",
        ),
        (
            [adapter("Ethernet", 12, "10.20.0.11/24")],
            [{"start": "10.20.0.0", "end": "10.20.0.5"}],
            "network address",
        ),
        ([adapter("Ethernet", 12, "10.20.0.205/24")], RANGE, r"source \(primary\) address"),
        (
            [adapter("Ethernet", 12, "10.20.0.11/24")],
            [{"start": "10.20.0.209", "end": "10.20.0.200"}],
            "below start",
        ),
        (
            [adapter("Ethernet", 12, "10.20.0.11/24")],
            [{"start": "10.20.0.200", "end": "10.20.0.209", "size": 9}],
            "size 9",
        ),
        (
            [adapter("Ethernet", 12, "10.20.0.11/16")],
            [{"start": "10.20.0.1", "end": "10.20.31.255"}],
            "at most 4096",
        ),
        ([adapter("Ethernet", 12, "10.20.0.11/24")], [], "is empty"),
        (
            [
                adapter("Ethernet", 12, "10.20.0.11/24"),
                adapter("Other", 3, "192.168.1.1/24", "10.20.0.203/32"),
            ],
            RANGE,
            "already on adapter Other",
        ),
    ],
)
def test_refusals_name_the_input(
    adapters: list[dict[str, Any]], ranges: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(VipError, match=message):
        binding.plan_binding(adapters, ranges)


def test_adapter_option_picks_one_of_several() -> None:
    adapters = [adapter("A", 1, "10.20.0.11/24"), adapter("B", 2, "10.20.0.12/24")]
    assert binding.plan_binding(adapters, RANGE, adapter_name="b").adapter.index == 2
    with pytest.raises(VipError, match="adapter 'C' does not exist"):
        binding.plan_binding(adapters, RANGE, adapter_name="C")


def test_a_second_source_address_in_the_range_becomes_virtual_but_the_only_one_is_refused() -> None:
    adapters = [adapter("Ethernet", 12, "10.20.0.11/24", "10.20.0.202/24")]
    assert binding.plan_binding(adapters, RANGE).update == (int(ipaddress.IPv4Address("10.20.0.202")),)
    absent = binding.plan_binding(adapters, RANGE, "absent")
    assert absent.remove == () and "left in place" in absent.warnings[0]


def test_bound_ranges_and_describe() -> None:
    virtual = (*[f"10.20.0.{n}/24" for n in (200, 201, 202, 205)], "10.30.0.9/24")
    adapters = [adapter("Ethernet", 12, "10.20.0.11/24", virtual=virtual)]
    assert binding.bound_ranges(adapters, "10.20.0.0/24") == [
        {"start": "10.20.0.200", "end": "10.20.0.202", "size": 3},
        {"start": "10.20.0.205", "end": "10.20.0.205", "size": 1},
    ]
    assert binding.describe(adapters[0]["ipv4"]) == [
        "10.20.0.11/24 (source)",
        "10.20.0.200-10.20.0.202/24 (SkipAsSource)",
        "10.20.0.205/24 (SkipAsSource)",
        "10.30.0.9/24 (SkipAsSource)",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interface_index": 1, "prefix_length": 33, "present": []}, "prefix length"),
        ({"interface_index": 1, "prefix_length": 24, "present": ["10.0.0.300"]}, r"present\[0\]"),
        (
            {"interface_index": 1, "prefix_length": 24, "present": ["10.0.0.1"], "absent": ["10.0.0.1"]},
            "both",
        ),
    ],
)
def test_address_state_request_refusals(params: dict[str, Any], message: str) -> None:
    with pytest.raises(VipError, match=message):
        binding.address_state_request(params)


@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=1, max_value=50),
    st.sets(st.integers(min_value=0, max_value=253), max_size=40),
)
def test_present_plan_makes_exactly_the_range_bound(start: int, size: int, already: set[int]) -> None:
    first, last = 1 + start, min(254, 1 + start + size - 1)
    virtual = tuple(f"10.9.0.{n}/24" for n in sorted(already) if n not in (0, 7) and n != 255)
    adapters = [adapter("Ethernet", 4, "10.9.0.7/24", virtual=virtual)]
    if first <= 7 <= last:
        with pytest.raises(VipError):
            binding.plan_binding(adapters, [{"start": f"10.9.0.{first}", "end": f"10.9.0.{last}"}])
        return
    plan = binding.plan_binding(adapters, [{"start": f"10.9.0.{first}", "end": f"10.9.0.{last}"}])
    have = {int(ipaddress.IPv4Address(v.split("/")[0])) for v in virtual}
    wanted = set(
        range(int(ipaddress.IPv4Address(f"10.9.0.{first}")), int(ipaddress.IPv4Address(f"10.9.0.{last}")) + 1)
    )
    assert set(plan.add) == wanted - have
    assert set(plan.add).isdisjoint(have) and not plan.remove
