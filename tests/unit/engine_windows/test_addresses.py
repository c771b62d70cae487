"""Pool addresses on Windows adapters: the documented row layout, the table parser, the
binding decisions, and the assigner over an IP Helper that keeps a table in memory (the
ctypes calls are the only thing replaced)."""

from __future__ import annotations

import ctypes
import ipaddress
import struct
from dataclasses import dataclass, field

import pytest

from sessionnet_vip.engine.windows import addresses as wa
from sessionnet_vip.engine.windows.addresses import MIB_UNICASTIPADDRESS_ROW, IpHelper, WindowsAssigner

#: MIB_UNICASTIPADDRESS_ROW as documented (netioapi.h), packed independently of the ctypes
#: declaration: SOCKADDR_INET (28) | pad 4 | LUID (8) | index | prefix origin | suffix origin |
#: valid | preferred | on-link prefix length (1) | SkipAsSource (1) | pad 2 | DAD state |
#: scope ID | creation time (8) = 80 bytes.
ROW = struct.Struct("<HH4s20s4xQIiiIIBB2xiIq")


def row(
    ip: str,
    prefix: int,
    index: int,
    *,
    skip: bool = False,
    origin: int = wa.PREFIX_ORIGIN_MANUAL,
    family: int = wa.AF_INET,
) -> bytes:
    return ROW.pack(
        family,
        0,
        ipaddress.IPv4Address(ip).packed,
        bytes(20),
        0x1000 + index,
        index,
        origin,
        1,
        0xFFFFFFFF,
        0xFFFFFFFF,
        prefix,
        int(skip),
        wa.DAD_PREFERRED,
        0,
        0,
    )


def table(*rows: bytes) -> bytes:
    return struct.pack("<I4x", len(rows)) + b"".join(rows)


def test_row_layout_matches_the_documented_structure() -> None:
    assert ctypes.sizeof(MIB_UNICASTIPADDRESS_ROW) == ROW.size == 80
    offsets = {
        name: getattr(MIB_UNICASTIPADDRESS_ROW, name).offset for name, _t in MIB_UNICASTIPADDRESS_ROW._fields_
    }
    assert offsets["InterfaceLuid"] == 32
    assert offsets["InterfaceIndex"] == 40
    assert offsets["OnLinkPrefixLength"] == 60
    assert offsets["SkipAsSource"] == 61
    assert offsets["DadState"] == 64
    assert offsets["CreationTimeStamp"] == 72


def test_parse_table() -> None:
    raw = table(
        row("198.51.100.2", 24, 7), row("198.51.100.10", 24, 7, skip=True), row("0.0.0.0", 0, 9, family=23)
    )
    rows = wa.parse_table(raw)
    assert [(str(r.address), r.prefix_length, r.interface_index, r.skip_as_source) for r in rows] == [
        ("198.51.100.2", 24, 7, False),
        ("198.51.100.10", 24, 7, True),
    ]
    assert rows[0].interface_luid == 0x1007
    assert str(rows[0].network) == "198.51.100.0/24"


@pytest.mark.parametrize("raw", [b"", b"\x01\x00", struct.pack("<I4x", 2) + row("10.0.0.1", 8, 1)])
def test_parse_table_refuses_truncated_buffers(raw: bytes) -> None:
    with pytest.raises(ValueError, match="table"):
        wa.parse_table(raw)


POOL = [ipaddress.IPv4Address(a) for a in ("198.51.100.10", "198.51.100.11", "192.0.2.50", "203.0.113.9")]


def test_plan_bindings() -> None:
    rows = wa.parse_table(
        table(
            row("198.51.100.2", 24, 7),  # the NIC holding the pool's subnet
            row("198.51.100.10", 24, 7, skip=True),  # already bound properly
            row("192.0.2.3", 24, 12, origin=wa.PREFIX_ORIGIN_DHCP),  # a DHCP adapter
            row("203.0.113.9", 32, 15),  # on an adapter that does not hold its subnet
        )
    )
    plan = wa.plan_bindings(POOL, rows, {7: False, 12: True, 15: False})
    assert plan.present == {"198.51.100.10": "interface 7"}
    assert [(str(b.address), b.interface_index, b.prefix_length) for b in plan.add] == [
        ("198.51.100.11", 7, 24)
    ]
    assert set(plan.unassigned) == {"192.0.2.50", "203.0.113.9"}
    assert (
        "DHCP" in plan.unassigned["192.0.2.50"] and "assign_addresses: false" in plan.unassigned["192.0.2.50"]
    )
    assert "does not hold its subnet" in plan.unassigned["203.0.113.9"]
    assert plan.warnings == []


def test_plan_warns_about_bound_address_without_skip_as_source() -> None:
    rows = wa.parse_table(table(row("198.51.100.2", 24, 7), row("198.51.100.10", 24, 7, skip=False)))
    plan = wa.plan_bindings(POOL[:1], rows, {})
    assert plan.present == {"198.51.100.10": "interface 7"}
    assert len(plan.warnings) == 1 and "SkipAsSource" in plan.warnings[0]


def test_plan_without_subnet_and_most_specific_subnet() -> None:
    rows = wa.parse_table(table(row("10.0.0.1", 8, 3), row("10.1.0.1", 16, 4)))
    plan = wa.plan_bindings(
        [ipaddress.IPv4Address("10.1.2.3"), ipaddress.IPv4Address("172.16.0.1")], rows, {}
    )
    assert [(str(b.address), b.interface_index, b.prefix_length) for b in plan.add] == [("10.1.2.3", 4, 16)]
    assert "no adapter has a subnet" in plan.unassigned["172.16.0.1"]


@dataclass
class MemoryIpHelper:
    """Keeps the unicast table as bytes, as GetUnicastIpAddressTable returns it."""

    rows: list[bytes]
    dhcp: dict[int, bool] = field(default_factory=dict)
    created: list[MIB_UNICASTIPADDRESS_ROW] = field(default_factory=list)
    fail_create: int = 0

    def table(self) -> bytes:
        return table(*self.rows)

    def create(self, r: MIB_UNICASTIPADDRESS_ROW) -> int:
        if self.fail_create:
            return self.fail_create
        self.created.append(r)
        self.rows.append(bytes(r)[: ROW.size])
        return 0

    def delete(self, r: MIB_UNICASTIPADDRESS_ROW) -> int:
        target = bytes(r.Address.sin_addr)
        before = len(self.rows)
        self.rows = [x for x in self.rows if ROW.unpack(x)[2] != target]
        return 0 if len(self.rows) < before else 1168  # ERROR_NOT_FOUND

    def helper(self) -> IpHelper:
        return IpHelper(
            self.table,
            lambda luid: self.dhcp.get(luid - 0x1000),
            lambda r: None,
            self.create,
            self.delete,
            lambda code: f"Windows error {code}",
        )


def test_assigner_adds_with_skip_as_source_and_removes_only_its_own() -> None:
    ip = MemoryIpHelper([row("198.51.100.2", 24, 7), row("198.51.100.10", 24, 7, skip=True)])
    assigner = WindowsAssigner(ip.helper())
    placed = assigner.assign(["198.51.100.10", "198.51.100.11"])
    assert placed == {"198.51.100.10": "interface 7", "198.51.100.11": "interface 7"}
    [created] = ip.created
    assert created.SkipAsSource == 1 and created.OnLinkPrefixLength == 24 and created.InterfaceIndex == 7
    assert created.ValidLifetime == wa.INFINITE_LIFETIME
    assert [str(r.address) for r in wa.parse_table(ip.table())][-1] == "198.51.100.11"
    # idempotent: a second assign adds nothing
    assigner.assign(["198.51.100.10", "198.51.100.11"])
    assert len(ip.created) == 1
    assert assigner.release() == ["198.51.100.11"]
    assert [str(r.address) for r in wa.parse_table(ip.table())] == ["198.51.100.2", "198.51.100.10"]


def test_assigner_on_dhcp_adapter_adds_nothing_and_reports() -> None:
    ip = MemoryIpHelper([row("198.51.100.2", 24, 7, origin=wa.PREFIX_ORIGIN_DHCP)], dhcp={7: True})
    assigner = WindowsAssigner(ip.helper())
    assert assigner.assign(["198.51.100.10", "198.51.100.11"]) == {}
    assert ip.created == []
    assert set(assigner.unassigned) == {"198.51.100.10", "198.51.100.11"}


def test_assigner_reports_a_refused_create() -> None:
    ip = MemoryIpHelper([row("198.51.100.2", 24, 7)], fail_create=5)
    assigner = WindowsAssigner(ip.helper())
    assert assigner.assign(["198.51.100.10"]) == {}
    assert "Windows error 5" in assigner.unassigned["198.51.100.10"]
    assert assigner.release() == []
