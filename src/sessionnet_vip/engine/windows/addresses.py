"""Pool addresses on Windows adapters: read with ``GetUnicastIpAddressTable``, add missing ones
with ``CreateUnicastIpAddressEntry`` and ``SkipAsSource`` (IP Helper, Microsoft Learn:
https://learn.microsoft.com/windows/win32/api/netioapi/nf-netioapi-getunicastipaddresstable,
https://learn.microsoft.com/windows/win32/api/netioapi/ns-netioapi-mib_unicastipaddress_row).

``SkipAsSource`` keeps Windows from choosing a pool address as the source of the host's own
connections (only translated programs, through the launcher's hook DLL, bind to it).

Everything is decided before anything is added (:func:`plan_bindings`, pure): an address
whose subnet is on no adapter, one bound to an adapter that does not hold its subnet, and every
address of a DHCP-enabled adapter are *reported* (``unassigned``), and the rest is added. The
engine removes only what it added.

The row layout (:class:`MIB_UNICASTIPADDRESS_ROW`, 80 bytes; the table's rows start at offset
8) is declared once with ctypes; the tests check its offsets against the documented structure
with independently packed bytes.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from sessionnet_vip.engine.windows import AF_INET, WINDOWS_ONLY
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

#: NL_PREFIX_ORIGIN / NL_SUFFIX_ORIGIN values (nldef.h).
PREFIX_ORIGIN_MANUAL: Final = 1
PREFIX_ORIGIN_DHCP: Final = 3
SUFFIX_ORIGIN_MANUAL: Final = 1
#: NL_DAD_STATE IpDadStatePreferred.
DAD_PREFERRED: Final = 4
#: Lifetimes of a permanent address.
INFINITE_LIFETIME: Final = 0xFFFFFFFF
ERROR_OBJECT_ALREADY_EXISTS: Final = 5010
TABLE_HEADER: Final = 8


class SOCKADDR_INET(ctypes.Structure):
    """The IPv4 view of SOCKADDR_INET (28 bytes: the size of its SOCKADDR_IN6 member)."""

    _fields_ = [
        ("si_family", ctypes.c_uint16),
        ("sin_port", ctypes.c_uint16),
        ("sin_addr", ctypes.c_ubyte * 4),
        ("_rest", ctypes.c_ubyte * 20),
    ]


class MIB_UNICASTIPADDRESS_ROW(ctypes.Structure):
    _fields_ = [
        ("Address", SOCKADDR_INET),
        ("InterfaceLuid", ctypes.c_uint64),
        ("InterfaceIndex", ctypes.c_uint32),
        ("PrefixOrigin", ctypes.c_int32),
        ("SuffixOrigin", ctypes.c_int32),
        ("ValidLifetime", ctypes.c_uint32),
        ("PreferredLifetime", ctypes.c_uint32),
        ("OnLinkPrefixLength", ctypes.c_uint8),
        ("SkipAsSource", ctypes.c_uint8),
        ("DadState", ctypes.c_int32),
        ("ScopeId", ctypes.c_uint32),
        ("CreationTimeStamp", ctypes.c_int64),
    ]


class AssignError(VipError):
    """A pool address cannot be added (reported; the engine keeps running)."""


@dataclass(frozen=True)
class UnicastAddress:
    """One IPv4 row of the unicast address table."""

    address: ipaddress.IPv4Address
    prefix_length: int
    interface_index: int
    interface_luid: int
    skip_as_source: bool
    prefix_origin: int

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Interface(f"{self.address}/{self.prefix_length}").network


def parse_table(raw: bytes) -> list[UnicastAddress]:
    """The IPv4 rows of a ``MIB_UNICASTIPADDRESS_TABLE`` buffer (``NumEntries`` then rows)."""
    if len(raw) < TABLE_HEADER:
        raise ValueError(f"unicast address table of {len(raw)} bytes is shorter than its header")
    count = int.from_bytes(raw[:4], "little")
    size = ctypes.sizeof(MIB_UNICASTIPADDRESS_ROW)
    if len(raw) < TABLE_HEADER + count * size:
        raise ValueError(f"unicast address table claims {count} rows but holds {len(raw)} bytes")
    rows: list[UnicastAddress] = []
    for i in range(count):
        row = MIB_UNICASTIPADDRESS_ROW.from_buffer_copy(raw, TABLE_HEADER + i * size)
        if row.Address.si_family != AF_INET:
            continue
        rows.append(
            UnicastAddress(
                ipaddress.IPv4Address(bytes(row.Address.sin_addr)),
                int(row.OnLinkPrefixLength),
                int(row.InterfaceIndex),
                int(row.InterfaceLuid),
                bool(row.SkipAsSource),
                int(row.PrefixOrigin),
            )
        )
    return rows


@dataclass(frozen=True)
class Binding:
    """An address to add: on interface ``interface_index`` with the subnet's prefix length."""

    address: ipaddress.IPv4Address
    interface_index: int
    interface_luid: int
    prefix_length: int


@dataclass(frozen=True)
class BindingPlan:
    present: dict[str, str] = field(default_factory=dict)  #: address -> "interface N" (already bound)
    add: list[Binding] = field(default_factory=list)
    unassigned: dict[str, str] = field(default_factory=dict)  #: address -> why not
    warnings: list[str] = field(default_factory=list)


def interface_name(index: int) -> str:
    return f"interface {index}"


def plan_bindings(
    pool: Iterable[ipaddress.IPv4Address],
    table: Sequence[UnicastAddress],
    dhcp: Mapping[int, bool | None],
) -> BindingPlan:
    """Decide, for every pool address, whether it is bound, to be added, or reported.

    * bound on an adapter holding its subnet: present (a warning when ``SkipAsSource`` is off:
      Windows may then pick it as the host's own source address);
    * bound on another adapter only: reported;
    * not bound: added to the adapter with the most specific subnet holding it, unless that
      adapter is DHCP-enabled (``dhcp[index]`` true): then reported, nothing added there;
    * no adapter holds its subnet: reported.
    """
    present: dict[str, str] = {}
    add: list[Binding] = []
    unassigned: dict[str, str] = {}
    warnings: list[str] = []
    for address in pool:
        key = str(address)
        if address.is_loopback:
            present[key] = "loopback"
            continue
        holders = [r for r in table if r.address == address]
        subnets = [r for r in table if r.address != address and r.prefix_length < 32 and address in r.network]
        subnet_ifs = {r.interface_index for r in subnets}
        if holders:
            good = [r for r in holders if r.interface_index in subnet_ifs or r.prefix_length < 32]
            if not good:
                unassigned[key] = (
                    f"pool address {address} is already on {interface_name(holders[0].interface_index)}, "
                    "which does not hold its subnet; remove it there or take it out of the pool"
                )
                continue
            row = good[0]
            present[key] = interface_name(row.interface_index)
            if not row.skip_as_source:
                warnings.append(
                    f"pool address {address} is on {interface_name(row.interface_index)} without "
                    "SkipAsSource: Windows may use it as the source of the host's own connections "
                    "(Set-NetIPAddress -IPAddress {0} -SkipAsSource $true)".format(address)
                )
            continue
        if not subnets:
            unassigned[key] = (
                f"no adapter has a subnet holding pool address {address}; give the adapter an address "
                "in that subnet first, or fix the pool"
            )
            continue
        best = max(subnets, key=lambda r: (r.prefix_length, -r.interface_index))
        if dhcp.get(best.interface_index):
            unassigned[key] = (
                f"{interface_name(best.interface_index)} (subnet {best.network}) gets its address by DHCP; "
                "pool addresses are not added to a DHCP-enabled adapter: give it a static address, "
                "or bind the pool addresses yourself and set assign_addresses: false"
            )
            continue
        add.append(Binding(address, best.interface_index, best.interface_luid, best.prefix_length))
    return BindingPlan(present, add, unassigned, warnings)


def new_row(
    binding: Binding, initialize: Callable[[MIB_UNICASTIPADDRESS_ROW], None]
) -> MIB_UNICASTIPADDRESS_ROW:
    """The row ``CreateUnicastIpAddressEntry`` is given (after InitializeUnicastIpAddressEntry)."""
    row = MIB_UNICASTIPADDRESS_ROW()
    initialize(row)
    row.Address.si_family = AF_INET
    row.Address.sin_addr[:] = list(binding.address.packed)
    row.InterfaceLuid = binding.interface_luid
    row.InterfaceIndex = binding.interface_index
    row.OnLinkPrefixLength = binding.prefix_length
    row.PrefixOrigin = PREFIX_ORIGIN_MANUAL
    row.SuffixOrigin = SUFFIX_ORIGIN_MANUAL
    row.ValidLifetime = INFINITE_LIFETIME
    row.PreferredLifetime = INFINITE_LIFETIME
    row.SkipAsSource = 1
    row.DadState = DAD_PREFERRED
    return row


@dataclass(frozen=True)
class IpHelper:
    """The IP Helper calls the assigner needs (the ctypes boundary, or a test's own)."""

    table: Callable[[], bytes]
    dhcp_enabled: Callable[[int], bool | None]  #: by interface LUID
    initialize: Callable[[MIB_UNICASTIPADDRESS_ROW], None]
    create: Callable[[MIB_UNICASTIPADDRESS_ROW], int]
    delete: Callable[[MIB_UNICASTIPADDRESS_ROW], int]
    format_error: Callable[[int], str]


def native_helper() -> IpHelper:
    if sys.platform != "win32":
        raise VipError(WINDOWS_ONLY)
    from sessionnet_vip.engine.windows import win32

    def dhcp(luid: int) -> bool | None:
        try:
            return win32.interface_dhcp_enabled(win32.interface_guid(luid))
        except OSError:
            return None

    return IpHelper(
        win32.unicast_table,
        dhcp,
        win32.initialize_unicast,
        win32.create_unicast,
        win32.delete_unicast,
        win32.format_error,
    )


@dataclass
class WindowsAssigner:
    """Adds missing pool addresses (SkipAsSource) and removes the ones it added."""

    helper: IpHelper
    added: dict[ipaddress.IPv4Address, Binding] = field(default_factory=dict)
    unassigned: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def plan(self, addresses: Sequence[ipaddress.IPv4Address | str]) -> BindingPlan:
        table = parse_table(self.helper.table())
        luids = {r.interface_index: r.interface_luid for r in table}
        dhcp = {index: self.helper.dhcp_enabled(luid) for index, luid in luids.items()}
        return plan_bindings([ipaddress.IPv4Address(str(a)) for a in addresses], table, dhcp)

    def assign(self, addresses: Sequence[ipaddress.IPv4Address | str]) -> dict[str, str]:
        """Add what :func:`plan_bindings` says (idempotent); returns ``{address: interface}``.
        Reported addresses are kept in :attr:`unassigned` (the engine shows them in status)."""
        plan = self.plan(addresses)
        placed = dict(plan.present)
        self.unassigned.update(plan.unassigned)
        self.warnings.extend(plan.warnings)
        for binding in plan.add:
            status = self.helper.create(new_row(binding, self.helper.initialize))
            if status not in (0, ERROR_OBJECT_ALREADY_EXISTS):
                self.unassigned[str(binding.address)] = (
                    f"CreateUnicastIpAddressEntry({binding.address} on {interface_name(binding.interface_index)}) "
                    f"failed: {self.helper.format_error(status)} (error {status})"
                )
                continue
            if status == 0:
                self.added[binding.address] = binding
            placed[str(binding.address)] = interface_name(binding.interface_index)
        return placed

    def release(self) -> list[str]:
        removed: list[str] = []
        for address, binding in list(self.added.items()):
            status = self.helper.delete(new_row(binding, self.helper.initialize))
            if status != 0:
                log.error(
                    "DeleteUnicastIpAddressEntry(%s): %s (error %d)",
                    address,
                    self.helper.format_error(status),
                    status,
                )
                continue
            del self.added[address]
            removed.append(str(address))
        return removed
