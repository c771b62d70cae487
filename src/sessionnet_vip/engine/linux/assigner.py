"""The assigner: put pool addresses on the interface whose subnet holds them (iproute2).

Each address is added as a ``/32`` to the interface that already has an IPv4 subnet
containing it, so no route changes and the interface's own addresses are untouched; the
assigner removes only what it added. An address already present on *another* interface is
refused. Loopback addresses need nothing (all of 127.0.0.0/8 is local on ``lo``).

With ``record`` (a file in the engine's state directory) the assigner writes down every
address it added; a later assigner (the engine restarted after a crash) *adopts* those still
on their interface, so a clean stop removes them too. Many addresses are added with one
``ip -batch`` run from one snapshot of the interfaces.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    record: Path | None = None

    def _ip(self, *args: str, stdin: str | None = None) -> str:
        argv = [self.ip_command, *(["-n", self.netns] if self.netns else []), *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, input=stdin)
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

    def _save(self) -> None:
        if self.record is None:
            return
        tmp = self.record.with_name(self.record.name + ".tmp")
        tmp.write_text(json.dumps({str(a): i for a, i in sorted(self.added.items())}, indent=0))
        os.replace(tmp, self.record)

    def adopt(self) -> list[str]:
        """Take over the addresses a previous run recorded and that are still on their interface."""
        if self.record is None:
            return []
        try:
            recorded = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return []
        present = {(a.interface, a.interface_network.ip) for a in self.addresses()}
        adopted = []
        for text, interface in recorded.items():
            with contextlib.suppress(ValueError):
                address = ipaddress.IPv4Address(text)
                if (interface, address) in present:
                    self.added[address] = interface
                    adopted.append(text)
        self._save()
        return adopted

    def interface_for(
        self, address: ipaddress.IPv4Address, current: list[InterfaceAddress] | None = None
    ) -> tuple[str, bool]:
        """Return ``(interface, already_there)`` for ``address``, or refuse it."""
        current = self.addresses() if current is None else current
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
        """Add every address (idempotent); returns ``{address: interface}``; refuses on the first
        address that cannot be placed (nothing is added then)."""
        placed, errors = self.assign_each(addresses)
        if errors:
            raise AssignError(next(iter(errors.values())))
        return placed

    def assign_each(
        self, addresses: Sequence[ipaddress.IPv4Address | str], *, add: bool = True
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Add the addresses that can be placed, in one ``ip -batch`` run; returns
        ``({address: interface}, {address: why not})``. ``add=False`` only checks (one
        snapshot of the interfaces, nothing changed)."""
        current = self.addresses()
        placed: dict[str, str] = {}
        errors: dict[str, str] = {}
        todo: list[tuple[ipaddress.IPv4Address, str]] = []
        # One pass over the snapshot, then integer lookups per address (a pool can be 65,536).
        holders: dict[int, set[str]] = {}
        for a in current:
            holders.setdefault(int(a.interface_network.ip), set()).add(a.interface)
        subnets = sorted(
            (
                (
                    int(a.interface_network.network.network_address),
                    int(a.interface_network.network.broadcast_address),
                    a.interface_network.network.prefixlen,
                    a.interface,
                )
                for a in current
                if a.interface_network.network.prefixlen < 32
            ),
            key=lambda t: -t[2],
        )
        for raw in addresses:
            address = raw if isinstance(raw, ipaddress.IPv4Address) else ipaddress.IPv4Address(str(raw))
            value = int(address)
            if value >> 24 == 127:
                placed[str(address)] = "lo"
                continue
            around = [t[3] for t in subnets if t[0] <= value <= t[1]]
            held = holders.get(value, set())
            if held:
                if held & set(around):
                    placed[str(address)] = sorted(held & set(around))[0]
                    continue
                errors[str(address)] = (
                    f"pool address {address} is already on interface {', '.join(sorted(held))}, "
                    "which does not hold its subnet; remove it there or take it out of the pool"
                )
                continue
            if not around:
                errors[str(address)] = (
                    f"no interface has a subnet holding pool address {address}; give the interface an "
                    "address in that subnet first, or fix the pool"
                )
                continue
            todo.append((address, around[0]))  # the most specific subnet wins
            placed[str(address)] = around[0]
        if todo and add:
            batch = "".join(f"addr add {a}/32 dev {i}\n" for a, i in todo)
            try:
                self._ip("-batch", "-", stdin=batch)
            finally:
                now = (
                    {(a.interface, a.interface_network.ip) for a in self.addresses()}
                    if len(todo) > 1
                    else None
                )
                for address, interface in todo:
                    if now is None or (interface, address) in now:
                        self.added[address] = interface
                self._save()
        return placed, errors

    def check(self, spans: Sequence[tuple[int, int]]) -> dict[str, str]:
        """The pool addresses (inclusive integer ``spans``) that could not be placed, with why;
        nothing is added. A span inside one subnet costs nothing per address."""
        current = self.addresses()
        errors: dict[str, str] = {}
        for first, last in spans:
            inside = [
                a
                for a in current
                if a.interface_network.network.prefixlen < 32
                and int(a.interface_network.network.network_address) <= first
                and last <= int(a.interface_network.network.broadcast_address)
            ]
            held = [a for a in current if first <= int(a.interface_network.ip) <= last]
            if inside and not held:
                continue
            # Rare: a span across subnets, outside every subnet, or with addresses already held.
            spot = (
                [ipaddress.IPv4Address(v) for v in range(first, last + 1)]
                if not inside
                else [a.interface_network.ip for a in held]
            )
            errors.update(self.assign_each(spot, add=False)[1])
        return errors

    def release(self, addresses: Sequence[ipaddress.IPv4Address | str] | None = None) -> list[str]:
        """Remove addresses this assigner added (all of them by default); returns those removed."""
        wanted = (
            [ipaddress.IPv4Address(str(a)) for a in addresses] if addresses is not None else list(self.added)
        )
        removed: list[tuple[ipaddress.IPv4Address, str]] = []
        for address in wanted:
            interface = self.added.pop(address, None)
            if interface is not None:
                removed.append((address, interface))
        if removed:
            try:
                self._ip(
                    "-force", "-batch", "-", stdin="".join(f"addr del {a}/32 dev {i}\n" for a, i in removed)
                )
            finally:
                self._save()
        return [str(a) for a, _iface in removed]
