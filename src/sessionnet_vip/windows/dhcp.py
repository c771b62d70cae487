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

Errors and failover (Microsoft DhcpServer cmdlet reference; DHCP Server Management API error codes):

* A failed ``Get-DhcpServerv4Scope`` is "scope missing" only when it says so: category
  ``ObjectNotFound`` or the DHCP error 20005 ``ERROR_DHCP_SUBNET_NOT_PRESENT`` ("The specified
  subnet does not exist on the DHCP server"). Anything else (service stopped, access denied, RPC
  unavailable) fails with Windows' message, naming the scope.
* ``Get-DhcpServerv4Failover -ScopeId`` returns the failover relationship of a failover scope
  (``Name``, ``PartnerServer``, ``Mode``, ``State``). ``Invoke-DhcpServerv4FailoverReplication
  -ScopeId`` replicates "all scope properties, reservations, scope option values, and policies"
  to the partner. Decision: after a change the Windows side replicates the scope in the same call
  (``replicate_failover``, default true), because a partner that still leases the excluded
  addresses defeats the exclusion; a failed replication fails the task naming the partner (the
  local change is reported as made). With ``replicate_failover: false`` a warning names the
  relationship and the partner.

Changing an exclusion range (DhcpServerDsc's ``DhcpServerExclusionRange`` fails there, its issue
#70) is an explicit ``replaces: {start, end}``: the old range is removed and the new one added
in the same call. An existing range that overlaps the new one and is not named in ``replaces``
is never touched: the change is refused, naming it.
"""

from __future__ import annotations

import ipaddress
import re
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
    replicate_failover: bool = True

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
            "replicate_failover": self.replicate_failover,
        }


def exclusion_request(
    scope: object,
    start: object,
    end: object,
    state: str = "present",
    replaces: Mapping[str, Any] | None = None,
    replicate_failover: bool = True,
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
    return ExclusionRequest(
        scope=scope_id, range=rng, state=state, replaces=old, replicate_failover=bool(replicate_failover)
    )


#: DHCP Server Management API: ERROR_DHCP_SUBNET_NOT_PRESENT, "The specified subnet does not exist".
SUBNET_NOT_PRESENT = "20005"


def scope_not_found(error: Mapping[str, Any]) -> bool:
    """Whether a failed ``Get-DhcpServerv4Scope`` means the scope does not exist (and nothing else)."""
    if str(error.get("category") or "") == "ObjectNotFound":
        return True
    ident = str(error.get("error_id") or "")
    return bool(re.search(rf"\b{SUBNET_NOT_PRESENT}\b", ident))


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
    error = raw.get("scope_error")
    if error and not scope_not_found(error):
        raise DhcpError(
            f"{what}: reading the scope failed (Get-DhcpServerv4Scope): {error.get('message')}; nothing was changed. "
            "Check that the DHCP Server service runs and the account may manage it"
        )
    if error or refused == "scope_missing" or not scope:
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
    failover = raw.get("failover") or None
    failed = None
    if failover and raw.get("changed"):
        partner = f"partner {failover.get('partner_server')} (failover relationship {failover.get('name')})"
        if raw.get("replication_error"):
            failed = (
                f"{what}: changed here, but replicating the scope to {partner} failed: {raw['replication_error']}. "
                f"Run Invoke-DhcpServerv4FailoverReplication -ScopeId {request.scope} once the partner is reachable"
            )
        elif not request.replicate_failover:
            warnings.append(
                f"{what}: the scope is in a failover relationship; {partner} still has the old exclusions "
                f"until the scope is replicated (Invoke-DhcpServerv4FailoverReplication -ScopeId {request.scope}, "
                "or replicate_failover: true)"
            )
    result = {
        "changed": bool(raw.get("changed")),
        "failover": failover,
        "replicated": bool(raw.get("replicated")),
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
    if failed:
        result.update(failed=True, msg=failed)
    return result
