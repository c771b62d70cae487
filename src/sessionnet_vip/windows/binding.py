"""``vip_address_binding``: which adapter a server's virtual-IP range belongs on, and what to change.

Seed document 004: the server binds its static range "to the NIC that matches the same subnet
as the virtual addresses". Here the adapter is chosen from the facts ``vip_info`` reads
(adapters with their IPv4 addresses, prefix lengths and ``SkipAsSource``):

* an adapter *matches* a range when one of its IPv4 addresses is in a network (address/prefix)
  that holds the whole range; no match, or more than one adapter, is refused (``adapter`` picks
  one by name);
* a range may not hold the network or broadcast address of that network, an address of another
  adapter, or the adapter's only source address (its primary address);
* ``present`` adds the missing addresses with ``SkipAsSource = True`` (New-NetIPAddress: the
  address is then not used as a source for outgoing traffic and not registered in DNS, so the
  primary address stays the source) and sets ``SkipAsSource`` on addresses of the range that lack it;
  ``absent`` removes the range's addresses that carry ``SkipAsSource``.

The Windows side (``vip_address_state``) is told the interface index, the prefix length and the
exact addresses; it compares and sets, in one call for the whole range.

Two refusals come from how Windows treats addresses (Microsoft Learn, NetTCPIP module:
``New-NetIPAddress``, ``Get-NetIPInterface``, ``Get-NetIPAddress``):

* an adapter whose IPv4 interface has DHCP enabled (``Get-NetIPInterface`` ``Dhcp = Enabled``)
  cannot also hold static addresses: ``New-NetIPAddress`` fails there with "Inconsistent
  parameters PolicyStore PersistentStore and Dhcp Enabled". Citrix VDAs made by MCS/PVS and many
  session hosts are DHCP-addressed, so ``present`` refuses such an adapter before any write;
* an address Windows marks ``Duplicate`` (``AddressState``: duplicate address detection found
  another machine with it) "will not be used". After adding, the Windows side reads the state
  back (:func:`duplicates_after`); a duplicate fails naming the address and is not reported as
  bound, and an address of the range already ``Duplicate`` on the adapter is refused by the plan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.addressing import (
    Span,
    covers,
    format_address,
    format_span,
    normalise,
    parse_address,
    parse_network,
    parse_span,
    span_of_network,
)
from sessionnet_vip.coerce import as_int, brief
from sessionnet_vip.errors import VipError

#: Most addresses one call may add or remove (a /20 worth); larger ranges are a mistake.
MAX_ADDRESSES: Final = 4096
STATES: Final = ("present", "absent")
#: Seconds the Windows side waits after adding for duplicate address detection to leave
#: ``Tentative`` before it reads ``AddressState`` (the module default; at most MAX_DAD_WAIT).
DAD_WAIT_SECONDS: Final = 5
MAX_DAD_WAIT: Final = 60


class BindingError(VipError):
    """The range cannot be bound as asked."""


#: ``AddressState`` of an address that duplicate address detection found elsewhere on the link.
DUPLICATE: Final = "Duplicate"


@dataclass(frozen=True)
class IfAddress:
    address: int
    prefix_length: int
    skip_as_source: bool
    address_state: str | None = None

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network((self.address, self.prefix_length), strict=False)


@dataclass(frozen=True)
class Adapter:
    name: str
    index: int
    addresses: tuple[IfAddress, ...]
    dhcp: bool = False


@dataclass(frozen=True)
class BindingPlan:
    """What to change on one adapter."""

    adapter: Adapter
    network: ipaddress.IPv4Network
    state: str
    ranges: tuple[Span, ...]
    add: tuple[int, ...] = ()
    remove: tuple[int, ...] = ()
    update: tuple[int, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove or self.update)

    def to_wire(self) -> dict[str, Any]:
        """Options of ``vip_address_state`` (the Windows side)."""
        return {
            "interface_index": self.adapter.index,
            "prefix_length": self.network.prefixlen,
            "present": [format_address(a) for a in (*self.add, *self.update)],
            "absent": [format_address(a) for a in self.remove],
            "skip_as_source": True,
            "dad_wait_seconds": DAD_WAIT_SECONDS,
        }


def parse_adapters(facts_adapters: Sequence[Mapping[str, Any]]) -> list[Adapter]:
    """Adapters from the ``adapters`` of ``vip_info`` (shaped facts)."""
    out: list[Adapter] = []
    for i, raw in enumerate(facts_adapters or []):
        addresses = tuple(
            IfAddress(
                parse_address(str(ip["address"]), f"adapters[{i}] address"),
                as_int(ip.get("prefix_length"), f"adapters[{i}] prefix_length", minimum=0, maximum=32),
                bool(ip.get("skip_as_source")),
                None if ip.get("address_state") is None else str(ip["address_state"]),
            )
            for ip in raw.get("ipv4") or []
        )
        index = raw.get("index")
        out.append(
            Adapter(
                str(raw.get("name") or f"adapter{i}"),
                -1 if index is None else as_int(index, f"adapters[{i}] index"),
                addresses,
                bool(raw.get("dhcp")),
            )
        )
    return out


def parse_ranges(ranges: Iterable[object], what: str = "ranges") -> list[Span]:
    """Ranges given as ``{start, end}`` mappings (``size`` is checked if given) or text."""
    spans: list[Span] = []
    for i, item in enumerate(ranges or []):
        span = parse_span(item, f"{what}[{i}]")
        if (
            isinstance(item, Mapping)
            and item.get("size") is not None
            and as_int(item["size"], f"{what}[{i}] size", error=BindingError) != span.size
        ):
            raise BindingError(
                f"{what}[{i}] {format_span(span)} holds {span.size} addresses but says size {brief(item['size'])}"
            )
        spans.append(span)
    if not spans:
        raise BindingError(f"{what} is empty; give at least one {{start, end}}")
    merged = normalise(spans)
    total = sum(s.size for s in merged)
    if total > MAX_ADDRESSES:
        raise BindingError(
            f"{what} hold {total} addresses; at most {MAX_ADDRESSES} may be bound by one task "
            "(check the range, or split it over several tasks)"
        )
    return merged


def _matches(adapter: Adapter, span: Span) -> ipaddress.IPv4Network | None:
    for ip in sorted(adapter.addresses, key=lambda a: (a.skip_as_source, a.address)):
        net = ip.network
        if covers([span_of_network(net)], span):
            return net
    return None


def choose_adapter(
    adapters: Sequence[Adapter], spans: Sequence[Span], adapter_name: str | None = None
) -> tuple[Adapter, ipaddress.IPv4Network]:
    """The one adapter whose subnet holds every range; refuses none or several."""
    wanted = ", ".join(format_span(s) for s in spans)
    pool = list(adapters)
    if adapter_name:
        pool = [a for a in adapters if a.name.casefold() == adapter_name.casefold()]
        if not pool:
            raise BindingError(
                f"adapter {adapter_name!r} does not exist; the host has {', '.join(a.name for a in adapters) or 'none'}"
            )
    found: list[tuple[Adapter, ipaddress.IPv4Network]] = []
    for adapter in pool:
        nets = [_matches(adapter, s) for s in spans]
        if all(n is not None for n in nets):
            distinct = {n for n in nets if n is not None}
            if len(distinct) > 1:
                raise BindingError(
                    f"ranges {wanted} lie in different subnets of adapter {adapter.name} "
                    f"({', '.join(sorted(map(str, distinct)))}); bind each subnet's range in its own task"
                )
            found.append((adapter, distinct.pop()))
    if not found:
        seen = "; ".join(
            f"{a.name}: "
            + (
                ", ".join(
                    f"{format_address(ip.address)}/{ip.prefix_length}"
                    for ip in a.addresses
                    if not ip.skip_as_source
                )
                or "no IPv4 source address"
            )
            for a in pool
        )
        raise BindingError(
            f"no adapter has an IPv4 address in a subnet holding {wanted} ({seen or 'no adapters'}); "
            "give the server an address in that subnet, or plan the range in a subnet it is in"
        )
    if len(found) > 1:
        raise BindingError(
            f"several adapters are in the subnet of {wanted}: "
            f"{', '.join(f'{a.name} (index {a.index}, {n})' for a, n in found)}; name one with the adapter option"
        )
    return found[0]


def plan_binding(
    facts_adapters: Sequence[Mapping[str, Any]],
    ranges: Iterable[object],
    state: str = "present",
    adapter_name: str | None = None,
) -> BindingPlan:
    """Decide the change for ``ranges`` on the host described by ``facts_adapters``."""
    if state not in STATES:
        raise BindingError(f"state must be present or absent, not {state!r}")
    spans = parse_ranges(ranges)
    adapters = parse_adapters(facts_adapters)
    adapter, net = choose_adapter(adapters, spans, adapter_name)
    wanted = ", ".join(format_span(s) for s in spans)
    for edge, label in ((int(net.network_address), "network"), (int(net.broadcast_address), "broadcast")):
        if any(s.first <= edge <= s.last for s in spans):
            raise BindingError(
                f"range {wanted} holds the {label} address {format_address(edge)} of {net}; leave it out"
            )
    for other in adapters:
        if other is adapter:
            continue
        clash = [ip.address for ip in other.addresses if any(s.first <= ip.address <= s.last for s in spans)]
        if clash:
            raise BindingError(
                f"range {wanted} holds {', '.join(map(format_address, clash))}, already on adapter {other.name}"
            )

    def inside(a: int) -> bool:
        return any(s.first <= a <= s.last for s in spans)

    sources_in_net = [ip for ip in adapter.addresses if not ip.skip_as_source and ip.network == net]
    sources_in_range = [ip for ip in sources_in_net if inside(ip.address)]
    if sources_in_range and len(sources_in_range) == len(sources_in_net):
        raise BindingError(
            f"range {wanted} holds {format_address(sources_in_range[0].address)}, the source (primary) address of "
            f"adapter {adapter.name}; plan the range without the server's own address"
        )
    current = {ip.address: ip for ip in adapter.addresses}
    warnings: list[str] = []
    if state == "present":
        add = tuple(a for s in spans for a in range(s.first, s.last + 1) if a not in current)
        if add and adapter.dhcp:
            raise BindingError(
                f"adapter {adapter.name} (index {adapter.index}) gets its IPv4 address from DHCP; Windows cannot "
                "add static addresses to a DHCP-enabled interface (New-NetIPAddress: Inconsistent parameters "
                "PolicyStore PersistentStore and Dhcp Enabled). Give the adapter a static IPv4 configuration "
                "(Set-NetIPInterface -Dhcp Disabled and New-NetIPAddress with its address, or your provisioning's "
                "static-address option for MCS/PVS machines), or bind the range on a statically addressed adapter"
            )
        duplicate = sorted(ip.address for ip in adapter.addresses if inside(ip.address) and is_duplicate(ip))
        if duplicate:
            raise BindingError(
                f"{', '.join(map(format_address, duplicate))} on adapter {adapter.name} "
                f"{'is' if len(duplicate) == 1 else 'are'} marked Duplicate by Windows: another machine holds "
                f"{'it' if len(duplicate) == 1 else 'them'}, so Windows does not use "
                f"{'it' if len(duplicate) == 1 else 'them'}. Free the address on the other machine (then remove "
                "it here with state: absent and bind again), or plan a range without it"
            )
        update = tuple(sorted(ip.address for ip in sources_in_range))
        prefix_clash = sorted(
            ip.address for ip in adapter.addresses if inside(ip.address) and ip.prefix_length != net.prefixlen
        )
        if prefix_clash:
            warnings.append(
                f"{', '.join(map(format_address, prefix_clash))} on {adapter.name} have another prefix length than "
                f"/{net.prefixlen}; they are left as they are"
            )
        return BindingPlan(
            adapter, net, state, tuple(spans), add=add, update=update, warnings=tuple(warnings)
        )
    remove = tuple(sorted(ip.address for ip in adapter.addresses if inside(ip.address) and ip.skip_as_source))
    if sources_in_range:
        warnings.append(
            f"{', '.join(format_address(ip.address) for ip in sources_in_range)} on {adapter.name} are source "
            "addresses (SkipAsSource false), not virtual addresses; they are left in place"
        )
    return BindingPlan(adapter, net, state, tuple(spans), remove=remove, warnings=tuple(warnings))


def is_duplicate(ip: IfAddress) -> bool:
    return (ip.address_state or "").casefold() == DUPLICATE.casefold()


def duplicates_after(raw: Mapping[str, Any]) -> list[str]:
    """Addresses the Windows side added that Windows then marked ``Duplicate`` (dotted quads, sorted)."""
    added = {parse_address(str(a), "added address") for a in raw.get("added") or []}
    found = {
        parse_address(str(ip["address"]), "after address")
        for ip in raw.get("after") or []
        if str(ip.get("address_state") or "").casefold() == DUPLICATE.casefold()
    }
    return [format_address(a) for a in sorted(added & found)]


def duplicate_failure(raw: Mapping[str, Any], adapter: str | None) -> str | None:
    """The failure message when added addresses are duplicates, else ``None``."""
    dup = duplicates_after(raw)
    if not dup:
        return None
    return (
        f"{', '.join(dup)} added to adapter {adapter} but Windows marked "
        f"{'it' if len(dup) == 1 else 'them'} Duplicate: another machine on the network holds "
        f"{'this address' if len(dup) == 1 else 'these addresses'}, so Windows does not use "
        f"{'it' if len(dup) == 1 else 'them'} and {'it is' if len(dup) == 1 else 'they are'} not bound. "
        "Find and free the address on the other machine (or take it out of the range), then remove it here "
        "with state: absent and bind again"
    )


def bound_added(raw: Mapping[str, Any]) -> list[str]:
    """``added`` of the Windows side without the addresses Windows marked ``Duplicate``."""
    dup = set(duplicates_after(raw))
    return [
        str(a) for a in raw.get("added") or [] if format_address(parse_address(str(a), "added")) not in dup
    ]


def compress(addresses: Iterable[int]) -> list[str]:
    """``["10.0.0.5-10.0.0.9", "10.0.0.20"]`` for a set of integer addresses."""
    return [format_span(s) for s in normalise(Span(a, a) for a in addresses)]


def describe(addresses: Sequence[Mapping[str, Any]]) -> list[str]:
    """Readable address list of an adapter for the diff: source addresses, then compressed virtual ranges."""
    sources = sorted(
        (
            parse_address(str(a["address"]), "adapter address"),
            as_int(a.get("prefix_length"), "adapter prefix_length", minimum=0, maximum=32),
        )
        for a in addresses
        if not a.get("skip_as_source")
    )
    virtual: dict[int, list[int]] = {}
    for a in addresses:
        if a.get("skip_as_source"):
            prefix = as_int(a.get("prefix_length"), "adapter prefix_length", minimum=0, maximum=32)
            virtual.setdefault(prefix, []).append(parse_address(str(a["address"]), "adapter address"))
    out = [f"{format_address(a)}/{p} (source)" for a, p in sources]
    for prefix in sorted(virtual):
        out += [f"{text}/{prefix} (SkipAsSource)" for text in compress(virtual[prefix])]
    return out


def bound_ranges(facts_adapters: Sequence[Mapping[str, Any]], subnet: str) -> list[dict[str, Any]]:
    """The virtual (SkipAsSource) addresses a host has in ``subnet``, as planner ranges.

    Used to give the planner a server's current range as its ``existing`` assignment. Addresses
    Windows marks ``Duplicate`` are not in use, so they are not part of it.
    """
    net = span_of_network(parse_network(str(subnet), "subnet"))
    found = [
        ip.address
        for adapter in parse_adapters(facts_adapters)
        for ip in adapter.addresses
        if ip.skip_as_source and not is_duplicate(ip) and net.first <= ip.address <= net.last
    ]
    return [
        {"start": format_address(s.first), "end": format_address(s.last), "size": s.size}
        for s in normalise(Span(a, a) for a in found)
    ]


def address_state_request(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise the options of ``vip_address_state`` before they are sent."""
    prefix = as_int(params.get("prefix_length"), "prefix_length", error=BindingError)
    if not 0 < prefix <= 32:
        raise BindingError(f"prefix_length {prefix} is not an IPv4 prefix length (1 to 32)")
    interface_index = as_int(params.get("interface_index"), "interface_index", error=BindingError)
    if interface_index < 0:
        raise BindingError(f"interface_index {interface_index} is negative")
    lists: dict[str, list[str]] = {}
    for key in ("present", "absent"):
        lists[key] = []
        for i, value in enumerate(params.get(key) or []):
            try:
                lists[key].append(format_address(parse_address(str(value), f"{key}[{i}]")))
            except VipError as exc:
                raise BindingError(str(exc)) from None
    both = sorted(set(lists["present"]) & set(lists["absent"]), key=ipaddress.IPv4Address)
    if both:
        raise BindingError(f"{', '.join(both)} given in both present and absent")
    if len(lists["present"]) + len(lists["absent"]) > MAX_ADDRESSES:
        raise BindingError(f"more than {MAX_ADDRESSES} addresses in one call; split them over several tasks")
    wait = params.get("dad_wait_seconds")
    wait = DAD_WAIT_SECONDS if wait is None else as_int(wait, "dad_wait_seconds", error=BindingError)
    if not 0 <= wait <= MAX_DAD_WAIT:
        raise BindingError(f"dad_wait_seconds {wait} must be 0 to {MAX_DAD_WAIT}")
    return {
        "interface_index": interface_index,
        "prefix_length": prefix,
        "present": lists["present"],
        "absent": lists["absent"],
        "skip_as_source": bool(params.get("skip_as_source", True)),
        "dad_wait_seconds": wait,
    }


def compress_texts(addresses: Iterable[str]) -> list[str]:
    """:func:`compress` for dotted-quad texts."""
    return compress(parse_address(str(a), "address") for a in addresses)
