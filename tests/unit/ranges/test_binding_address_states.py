"""DHCP-addressed adapters, duplicate addresses and adapters without IPv4 (vip_address_binding / vip_address_state).

Windows facts (Microsoft Learn, NetTCPIP module): ``New-NetIPAddress`` fails on an interface
with DHCP enabled ("Inconsistent parameters PolicyStore PersistentStore and Dhcp Enabled"); an
address ``Get-NetIPAddress`` reports with ``AddressState`` ``Duplicate`` "will not be used". The
simulator models both (``dhcp: true`` and ``taken_on_link`` on a simulated adapter).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import binding, facts
from sessionnet_vip.windows.simulator import HostSeed, Simulator

RANGE = [{"start": "10.20.0.200", "end": "10.20.0.209"}]


def host(tmp_path: pathlib.Path, **adapter: Any) -> Simulator:
    entry = {"name": "Ethernet", "ipv4": ["10.20.0.11/24"], **adapter}
    return Simulator(str(tmp_path / "host.json"), HostSeed(features=["rds"], adapters=[entry]))


def shaped_adapters(sim: Simulator) -> list[dict[str, Any]]:
    raw = sim.call("vip_info", {"registry_keys": [], "cim_classes": []})
    adapters: list[dict[str, Any]] = facts.shape(raw)["adapters"]
    return adapters


def test_vip_info_reports_dhcp_and_the_origin_and_state_of_each_address(tmp_path: pathlib.Path) -> None:
    adapters = shaped_adapters(host(tmp_path, dhcp=True))
    assert adapters[0]["dhcp"] is True
    assert adapters[0]["ipv4"] == [
        {
            "address": "10.20.0.11",
            "prefix_length": 24,
            "skip_as_source": False,
            "prefix_origin": "Dhcp",
            "address_state": "Preferred",
        }
    ]
    static = shaped_adapters(host(tmp_path / "s"))
    assert static[0]["dhcp"] is False and static[0]["ipv4"][0]["prefix_origin"] == "Manual"


def test_binding_refuses_a_dhcp_adapter_before_any_write(tmp_path: pathlib.Path) -> None:
    sim = host(tmp_path, dhcp=True)
    with pytest.raises(VipError, match="gets its IPv4 address from DHCP.*Dhcp Enabled.*static"):
        binding.plan_binding(shaped_adapters(sim), RANGE)
    # removing is still planned (nothing to add), so a DHCP adapter can be cleaned up
    assert not binding.plan_binding(shaped_adapters(sim), RANGE, "absent").changes
    assert (
        json.loads((tmp_path / "host.json").read_text())["adapters"][0]["ipv4"][0]["address"] == "10.20.0.11"
    )


def test_the_windows_side_fails_on_a_dhcp_adapter_like_new_netipaddress(tmp_path: pathlib.Path) -> None:
    sim = host(tmp_path, dhcp=True)
    args = {"interface_index": 10, "prefix_length": 24, "present": ["10.20.0.200"], "absent": []}
    assert sim.call("vip_address_state", args, check_mode=True)["added"] == ["10.20.0.200"]
    failed = sim.call("vip_address_state", args)
    assert failed["failed"] is True and failed["changed"] is False
    assert "Inconsistent parameters PolicyStore PersistentStore and Dhcp Enabled" in failed["msg"]
    assert failed["progress"] == {"total": 1, "done": 0} and failed["added"] == []
    assert [ip["address"] for ip in sim.read_state()["adapters"][0]["ipv4"]] == ["10.20.0.11"]


def test_a_duplicate_address_fails_naming_it_and_is_not_reported_bound(tmp_path: pathlib.Path) -> None:
    sim = host(tmp_path, taken_on_link=["10.20.0.205"])
    plan = binding.plan_binding(shaped_adapters(sim), RANGE)
    raw = sim.call("vip_address_state", plan.to_wire())
    assert raw["changed"] is True
    assert binding.duplicates_after(raw) == ["10.20.0.205"]
    assert "10.20.0.205" not in binding.bound_added(raw) and len(binding.bound_added(raw)) == 9
    message = binding.duplicate_failure(raw, "Ethernet")
    assert message is not None and "10.20.0.205" in message and "another machine" in message
    # the next run sees the Duplicate address in vip_info and refuses instead of calling it bound
    shaped = shaped_adapters(sim)
    states = {ip["address"]: ip["address_state"] for ip in shaped[0]["ipv4"]}
    assert states["10.20.0.205"] == "Duplicate" and states["10.20.0.204"] == "Preferred"
    with pytest.raises(VipError, match=r"10\.20\.0\.205 on adapter Ethernet is marked Duplicate"):
        binding.plan_binding(shaped, RANGE)
    # the planner's view of the bound range leaves the duplicate out
    assert binding.bound_ranges(shaped, "10.20.0.0/24") == [
        {"start": "10.20.0.200", "end": "10.20.0.204", "size": 5},
        {"start": "10.20.0.206", "end": "10.20.0.209", "size": 4},
    ]
    # and it can be removed
    gone = binding.plan_binding(shaped, RANGE, "absent")
    assert binding.format_address(gone.remove[5]) == "10.20.0.205"


def test_no_duplicate_without_a_clash_and_in_check_mode(tmp_path: pathlib.Path) -> None:
    sim = host(tmp_path, taken_on_link=["10.20.0.205"])
    plan = binding.plan_binding(shaped_adapters(sim), RANGE)
    checked = sim.call("vip_address_state", plan.to_wire(), check_mode=True)
    assert binding.duplicates_after(checked) == [] and binding.duplicate_failure(checked, "Ethernet") is None
    clean = host(tmp_path / "c")
    raw = clean.call("vip_address_state", binding.plan_binding(shaped_adapters(clean), RANGE).to_wire())
    assert binding.duplicates_after(raw) == [] and len(raw["added"]) == 10


def test_an_adapter_without_ipv4_addresses_reads_as_none(tmp_path: pathlib.Path) -> None:
    sim = Simulator(
        str(tmp_path / "bare.json"),
        HostSeed(adapters=[{"name": "Ethernet", "ipv4": ["10.20.0.11/24"]}, {"name": "Spare", "ipv4": []}]),
    )
    adapters = shaped_adapters(sim)
    assert adapters[1]["ipv4"] == []
    raw = sim.call(
        "vip_address_state",
        {"interface_index": 11, "prefix_length": 24, "present": ["10.30.0.5"], "absent": []},
    )
    assert raw["before"] == [] and raw["added"] == ["10.30.0.5"]


def test_dad_wait_is_validated() -> None:
    base = {"interface_index": 1, "prefix_length": 24, "present": ["10.0.0.5"]}
    assert binding.address_state_request(base)["dad_wait_seconds"] == binding.DAD_WAIT_SECONDS
    assert binding.address_state_request({**base, "dad_wait_seconds": 0})["dad_wait_seconds"] == 0
    with pytest.raises(VipError, match="dad_wait_seconds 61"):
        binding.address_state_request({**base, "dad_wait_seconds": 61})


def test_seed_validation(tmp_path: pathlib.Path) -> None:
    with pytest.raises(VipError, match="dhcp must be true or false"):
        Simulator(
            str(tmp_path / "x.json"), HostSeed(adapters=[{"name": "E", "ipv4": [], "dhcp": "yes"}])
        ).read_state()
    with pytest.raises(VipError, match="taken_on_link"):
        Simulator(
            str(tmp_path / "y.json"),
            HostSeed(adapters=[{"name": "E", "ipv4": [], "taken_on_link": ["nope"]}]),
        ).read_state()
