"""The assigner: put pool addresses on the interface whose subnet holds them (iproute2).

Each address is added as a ``/32`` to the interface that already has an IPv4 subnet
containing it, so no route changes and the interface's own addresses are untouched; the
assigner removes only what it added. An address already present on *another* interface is
refused. Loopback addresses need nothing (all of 127.0.0.0/8 is local on ``lo``).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from sessionnet_vip.errors import VipError


class AssignError(VipError):
    """An address cannot be assigned (no interface holds its subnet, or it is elsewhere)."""


@dataclass(frozen=True)
class InterfaceAddress:
    interface: str
    interface_network: ipaddress.IPv4Interface


@dataclass
class Assigner:
    """Adds and removes pool addresses with ``ip`` (optionally inside network namespace ``netns``)."""

    netns: str | None = None
    ip_command: str = "ip"
    added: dict[ipaddress.IPv4Address, str] = field(default_factory=dict)

    def _ip(self, *args: str) -> str:
        argv = [self.ip_command, *(["-n", self.netns] if self.netns else []), *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssignError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.returncode}")
        return result.stdout

    def addresses(self) -> list[InterfaceAddress]:
        """Every IPv4 address of every interface."""
        out: list[InterfaceAddress] = []
        for link in json.loads(self._ip("-j", "-4", "addr", "show") or "[]"):
            for info in link.get("addr_info", []):
                if info.get("family") == "inet":
                    iface = ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}")
                    out.append(InterfaceAddress(link["ifname"], iface))
        return out

    def interface_for(self, address: ipaddress.IPv4Address) -> tuple[str, bool]:
        """Return ``(interface, already_there)`` for ``address``, or refuse it."""
        current = self.addresses()
        holders = {a.interface for a in current if a.interface_network.ip == address}
        subnets = [
            a
            for a in current
            if address in a.interface_network.network and a.interface_network.network.prefixlen < 32
        ]
        subnet_ifaces = {a.interface for a in subnets}
        if holders:
            if holders & subnet_ifaces:
                return sorted(holders & subnet_ifaces)[0], True
            raise AssignError(
                f"pool address {address} is already on interface {', '.join(sorted(holders))}, "
                "which does not hold its subnet; remove it there or take it out of the pool"
            )
        if not subnets:
            raise AssignError(
                f"no interface has a subnet holding pool address {address}; give the interface an address "
                "in that subnet first, or fix the pool"
            )
        # The most specific subnet wins.
        best = max(subnets, key=lambda a: a.interface_network.network.prefixlen)
        return best.interface, False

    def assign(self, addresses: Sequence[ipaddress.IPv4Address | str]) -> dict[str, str]:
        """Add every address (idempotent); returns ``{address: interface}``."""
        placed: dict[str, str] = {}
        for raw in addresses:
            address = ipaddress.IPv4Address(str(raw))
            if address.is_loopback:
                placed[str(address)] = "lo"
                continue
            interface, present = self.interface_for(address)
            if not present:
                self._ip("addr", "add", f"{address}/32", "dev", interface)
                self.added[address] = interface
            placed[str(address)] = interface
        return placed

    def release(self, addresses: Sequence[ipaddress.IPv4Address | str] | None = None) -> list[str]:
        """Remove addresses this assigner added (all of them by default); returns those removed."""
        wanted = (
            [ipaddress.IPv4Address(str(a)) for a in addresses] if addresses is not None else list(self.added)
        )
        removed: list[str] = []
        for address in wanted:
            interface = self.added.pop(address, None)
            if interface is None:
                continue
            self._ip("addr", "del", f"{address}/32", "dev", interface)
            removed.append(str(address))
        return removed
