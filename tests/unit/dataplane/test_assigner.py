"""The assigner against real interfaces of a scratch network namespace."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from sessionnet_vip.engine.linux import Assigner, AssignError
from sessionnet_vip.engine.linux.lab import Lab

NET = ipaddress.IPv4Network("198.51.100.0/24")


@pytest.fixture
def lab(scratch_netns: Any) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the assigner tests need root (ip netns, ip addr)")
    with scratch_netns(f"snv-assign-{os.getpid()}", NET) as scratch:
        yield scratch


def addresses_of(lab: Lab, interface: str) -> set[str]:
    return {
        str(a.interface_network.ip) for a in Assigner(netns=lab.name).addresses() if a.interface == interface
    }


def test_assign_puts_addresses_on_the_interface_holding_the_subnet(lab: Lab) -> None:
    assigner = Assigner(netns=lab.name)
    placed = assigner.assign(["198.51.100.20", "198.51.100.21", "127.0.0.5"])
    # Both veth ends hold the subnet; the host end (first address) is found first.
    holder = placed["198.51.100.20"]
    assert holder in {"snv0", "snv1"}
    assert placed == {"198.51.100.20": holder, "198.51.100.21": holder, "127.0.0.5": "lo"}
    assert {"198.51.100.20", "198.51.100.21"} <= addresses_of(lab, holder)
    # Idempotent: a second run adds nothing and tracks nothing new.
    again = Assigner(netns=lab.name)
    assert again.assign(["198.51.100.20"]) == {"198.51.100.20": holder}
    assert again.added == {}
    assert sorted(assigner.release()) == ["198.51.100.20", "198.51.100.21"]
    assert not {"198.51.100.20", "198.51.100.21"} & addresses_of(lab, holder)
    assert str(lab.host_address.ip) in addresses_of(lab, "snv0")  # the interface's own address stays


def test_address_on_another_interface_is_refused(lab: Lab) -> None:
    subprocess.run(["ip", "-n", lab.name, "addr", "add", "198.51.100.30/32", "dev", "lo"], check=True)
    with pytest.raises(AssignError, match=r"198\.51\.100\.30 is already on interface lo"):
        Assigner(netns=lab.name).assign(["198.51.100.30"])


def test_address_outside_every_subnet_is_refused(lab: Lab) -> None:
    with pytest.raises(AssignError, match=r"no interface has a subnet holding pool address 192\.0\.2\.99"):
        Assigner(netns=lab.name).assign(["192.0.2.99"])
