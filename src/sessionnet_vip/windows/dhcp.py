"""Windows DHCP server: what ``dhcp_scope_info`` reports and what ``dhcp_exclusion_range`` decides.

The Windows side (``dhcp_scope_info.ps1``, ``dhcp_exclusion_range.ps1`` and their simulator
twins) only reads and compares; this module validates the input, shapes the raw answer into the
documented result and turns a refusal of the Windows side into an error that names the input and
the fix.

Facts (Microsoft DhcpServer cmdlet reference, docset winserver2022-ps):

* ``Get-DhcpServerv4Scope`` returns ``ScopeId``, ``SubnetMask``, ``Name``, ``StartRange``,
  ``EndRange`` and ``State`` (``Active``/``InActive``) of every scope.
* ``Get-DhcpServerv4ExclusionRange`` returns ``ScopeId``, ``StartRange``, ``EndRange``.
* ``Get-DhcpServerv4Reservation -ScopeId`` returns ``IPAddress``, ``ClientId``, ``Name``, ``Type``.
* ``Get-DhcpServerv4Lease -ScopeId`` returns the *active* leases unless ``-AllLeases``.
* ``Add-DhcpServerv4ExclusionRange`` adds a range; a reservation inside an exclusion range is
  still leased to its client.
* ``Remove-DhcpServerv4ExclusionRange -ScopeId`` without ``-StartRange``/``-EndRange`` removes
  **every** exclusion range of the scope, so the Windows side always passes both.

Changing an exclusion range (DhcpServerDsc's ``DhcpServerExclusionRange`` fails there, its issue
#70) is an explicit ``replaces: {start, end}``: the old range is removed and the new one added
in the same call. An existing range that overlaps the new one and is not named in ``replaces``
is never touched: the change is refused, naming it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sessionnet_vip.addressing import Span, format_address, format_span, parse_address, span_from_bounds
from sessionnet_vip.errors import VipError

STATES: Final = ("present", "absent")


class DhcpError(VipError):
    """A DHCP request that cannot be done as asked."""


# ---------------------------------------------------------------------------------------------
# dhcp_scope_info
# ---------------------------------------------------------------------------------------------


def _addr(value: object, what: str) -> str:
    return format_address(parse_address(str(value), what))


def _scope_state(value: object) -> str:
    text = str(value or "").strip().lower()
    return "active" if text == "active" else "inactive" if text else "unknown"


def shape_scope(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One scope of the documented ``scopes`` result from the raw answer of the Windows side."""
    scope_id = _addr(raw.get("scope_id"), "scope_id")
    what = f"DHCP scope {scope_id}"
    mask = str(raw.get("subnet_mask") or "")
    subnet = None
    if mask:
        try:
            subnet = str(ipaddress.IPv4Network(f"{scope_id}/{mask}"))
        except ValueError:
            subnet = None
    exclusions = sorted(
        (
            span_from_bounds(e.get("start_range"), e.get("end_range"), f"{what} exclusion")
            for e in raw.get("exclusions") or []
        ),
    )
    reservations = sorted(
        (
            {
                "ip_address": _addr(r.get("ip_address"), f"{what} reservation"),
                "client_id": r.get("client_id"),
                "name": r.get("name"),
                "type": r.get("type"),
            }
            for r in raw.get("reservations") or []
        ),
        key=lambda r: parse_address(r["ip_address"], f"{what} reservation"),
    )
    leases = sorted(
        {parse_address(str(lease.get("ip_address")), f"{what} lease") for lease in raw.get("leases") or []}
    )
    return {
        "scope": scope_id,
        "name": raw.get("name"),
        "subnet_mask": mask or None,
        "subnet": subnet,
        "start": _addr(raw.get("start_range"), f"{what} start_range"),
        "end": _addr(raw.get("end_range"), f"{what} end_range"),
        "state": _scope_state(raw.get("state")),
        "exclusions": [{"start": format_address(s.first), "end": format_address(s.last)} for s in exclusions],
        "reservations": [r["ip_address"] for r in reservations],
        "reservation_details": reservations,
        "leases": [format_address(a) for a in leases],
    }


def shape_scopes(raw: Mapping[str, Any], dhcp_server: str | None = None) -> list[dict[str, Any]]:
    """The documented ``scopes`` list, sorted by scope ID; each names its ``dhcp_server``."""
    scopes = [shape_scope(s) for s in raw.get("scopes") or []]
    for scope in scopes:
        scope["dhcp_server"] = dhcp_server
    return sorted(scopes, key=lambda s: parse_address(s["scope"], "DHCP scope ID"))


def scope_info_request(scope_ids: Sequence[str], include_leases: bool) -> dict[str, Any]:
    """The arguments sent to the Windows side (scope IDs checked and normalised first)."""
    return {
        "scope_ids": [_addr(s, f"scope_ids[{i}]") for i, s in enumerate(scope_ids)],
        "include_leases": bool(include_leases),
    }


# ---------------------------------------------------------------------------------------------
# dhcp_exclusion_range
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExclusionRequest:
    """A validated ``dhcp_exclusion_range`` task."""

    scope: str
    range: Span
    state: str
    replaces: Span | None = None

    def to_wire(self) -> dict[str, Any]:
        """Options of the Windows-side module (``dhcp_exclusion_range.ps1`` / the simulator)."""
        replaces = None
        if self.replaces is not None:
            replaces = {
                "start": format_address(self.replaces.first),
                "end": format_address(self.replaces.last),
            }
        return {
            "scope": self.scope,
            "start": format_address(self.range.first),
            "end": format_address(self.range.last),
            "state": self.state,
            "replaces": replaces,
        }


def exclusion_request(
    scope: object,
    start: object,
    end: object,
    state: str = "present",
    replaces: Mapping[str, Any] | None = None,
) -> ExclusionRequest:
    """Validate the options of ``dhcp_exclusion_range`` (nothing is sent before this passes)."""
    scope_id = _addr(scope, "scope")
    if state not in STATES:
        raise DhcpError(f"state must be present or absent, not {state!r}")
    rng = span_from_bounds(start, end, "start/end")
    old = None
    if replaces:
        if state != "present":
            raise DhcpError("replaces is only for state=present (it names the range the new one replaces)")
        old = span_from_bounds(replaces.get("start"), replaces.get("end"), "replaces")
        if old == rng:
            old = None
    return ExclusionRequest(scope=scope_id, range=rng, state=state, replaces=old)


def _spans(items: Sequence[Mapping[str, Any]] | None, what: str) -> list[Span]:
    return sorted(span_from_bounds(i.get("start"), i.get("end"), what) for i in items or [])


def _texts(spans: Sequence[Span]) -> list[str]:
    return [format_span(s) for s in spans]


def shape_exclusion_result(request: ExclusionRequest, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the Windows side's answer into the module result, or raise naming the refusal.

    The Windows side refuses (and changes nothing) when the scope is missing, when the range lies
    outside the scope's start-end, or when it overlaps an exclusion not named in ``replaces``.
    """
    what = f"exclusion {format_span(request.range)} of scope {request.scope}"
    refused = raw.get("refused")
    scope = raw.get("scope") or {}
    if refused == "scope_missing" or not scope:
        raise DhcpError(
            f"{what}: the DHCP server has no scope {request.scope}; check the scope ID "
            "(sessionnet.virtual_ip.dhcp_scope_info lists them)"
        )
    scope_range = span_from_bounds(scope.get("start"), scope.get("end"), f"scope {request.scope} range")
    if refused == "outside_scope":
        raise DhcpError(
            f"{what}: it is outside the scope's range {format_span(scope_range)}; an exclusion must lie "
            "inside the range it excludes from (fix start/end, or the scope)"
        )
    if refused == "overlap":
        others = _texts(_spans(raw.get("overlaps"), "overlaps"))
        raise DhcpError(
            f"{what}: it overlaps the existing exclusion(s) {', '.join(others)}; to change one of them into "
            "this range give it as replaces: {start, end}, or choose a range that does not overlap"
        )
    if refused:
        raise DhcpError(f"{what}: the Windows side refused the change ({refused})")
    before = _spans(raw.get("before"), "before")
    after = _spans(raw.get("after"), "after")
    warnings: list[str] = []
    if request.state == "present":
        inside = [
            a
            for a in (parse_address(str(r), "reservation") for r in raw.get("reservations") or [])
            if request.range.first <= a <= request.range.last
        ]
        if inside:
            warnings.append(
                f"{what}: reserved address(es) {', '.join(format_address(a) for a in inside)} lie inside it; "
                "a reservation in an exclusion range is still leased to its client"
            )
    if request.replaces is not None and request.replaces not in before and request.range not in before:
        warnings.append(
            f"{what}: the range to replace ({format_span(request.replaces)}) did not exist; the new range "
            "was added"
        )
    return {
        "changed": bool(raw.get("changed")),
        "scope": {
            "scope": request.scope,
            "start": format_address(scope_range.first),
            "end": format_address(scope_range.last),
        },
        "exclusions": [{"start": format_address(s.first), "end": format_address(s.last)} for s in after],
        "diff": {
            "before": {"scope": request.scope, "exclusions": _texts(before)},
            "after": {"scope": request.scope, "exclusions": _texts(after)},
        },
        "warnings": warnings,
    }
