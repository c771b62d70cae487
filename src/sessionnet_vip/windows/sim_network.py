"""Simulator twins of the network modules: DHCP scopes and exclusions, adapter addresses.

SIMULATION: nothing here touches Windows. These functions answer the calls of
``dhcp_scope_info.ps1``, ``dhcp_exclusion_range.ps1`` and ``vip_address_state.ps1`` against the
JSON state of a simulated host (:mod:`sessionnet_vip.windows.simulator` registers them), with the
same options and raw result keys. Like the PowerShell modules they only read, compare and set:
decisions and messages are made on the controller (:mod:`sessionnet_vip.windows.dhcp`,
:mod:`sessionnet_vip.windows.binding`).

A simulated host with the ``dhcp_server`` feature starts with one scope that matches
``examples/farm.yml``: 10.20.0.0/24, range 10.20.0.100-10.20.0.199, exclusion
10.20.0.100-10.20.0.109, reservations 10.20.0.150 and 10.20.0.151, active leases 10.20.0.160-162.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from sessionnet_vip.addressing import format_address, parse_address
from sessionnet_vip.coerce import as_int
from sessionnet_vip.errors import VipError


class SimulatedModuleError(VipError):
    """The simulated module fails the way the real one would (the gateway reports it as failed)."""


def _ip(value: object) -> int:
    return parse_address(str(value), "simulated module address")


_text = format_address


def default_scopes() -> list[dict[str, Any]]:
    """The seeded scope of a simulated DHCP server (see the module docstring)."""
    return [
        {
            "scope_id": "10.20.0.0",
            "subnet_mask": "255.255.255.0",
            "name": "Session hosts",
            "start_range": "10.20.0.100",
            "end_range": "10.20.0.199",
            "state": "Active",
            "exclusions": [{"start_range": "10.20.0.100", "end_range": "10.20.0.109"}],
            "reservations": [
                {
                    "ip_address": "10.20.0.150",
                    "client_id": "00-15-5d-00-01-50",
                    "name": "printer-a",
                    "type": "Both",
                },
                {
                    "ip_address": "10.20.0.151",
                    "client_id": "00-15-5d-00-01-51",
                    "name": "printer-b",
                    "type": "Both",
                },
            ],
            "leases": [
                {"ip_address": f"10.20.0.{n}", "address_state": "Active", "host_name": f"client{n}"}
                for n in (160, 161, 162)
            ],
        }
    ]


def seed_dhcp(state: dict[str, Any], features: list[str]) -> None:
    """Give a new simulated host its DHCP scopes when it has the ``dhcp_server`` feature."""
    state.setdefault("dhcp", {"scopes": []})
    if "dhcp_server" in features and not state["dhcp"].get("scopes"):
        state["dhcp"]["scopes"] = default_scopes()


def _require_dhcp(state: dict[str, Any], module: str) -> list[dict[str, Any]]:
    if "dhcp_server" not in (state.get("features") or []):
        raise SimulatedModuleError(
            f"{module}: the DhcpServer PowerShell module is not available on {state.get('hostname')}; "
            "install the DHCP Server role (simulated: add dhcp_server to sessionnet_simulated_windows_features)"
        )
    scopes: list[dict[str, Any]] = state.setdefault("dhcp", {}).setdefault("scopes", [])
    return scopes


def dhcp_scope_info(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    del check_mode
    scopes = _require_dhcp(state, "dhcp_scope_info")
    wanted = {_ip(s) for s in args.get("scope_ids") or []}
    out = []
    for scope in scopes:
        if wanted and _ip(scope["scope_id"]) not in wanted:
            continue
        item = copy.deepcopy(scope)
        if not args.get("include_leases"):
            item["leases"] = []
        out.append(item)
    missing = wanted - {_ip(s["scope_id"]) for s in scopes}
    if missing:
        raise SimulatedModuleError(
            f"dhcp_scope_info: no scope {', '.join(_text(m) for m in sorted(missing))} on this DHCP server"
        )
    return {"changed": False, "scopes": out, "leases_included": bool(args.get("include_leases"))}


def _ranges(scope: dict[str, Any]) -> list[dict[str, str]]:
    return sorted(
        ({"start": e["start_range"], "end": e["end_range"]} for e in scope.get("exclusions") or []),
        key=lambda e: (_ip(e["start"]), _ip(e["end"])),
    )


def dhcp_exclusion_range(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    scopes = _require_dhcp(state, "dhcp_exclusion_range")
    scope = next((s for s in scopes if _ip(s["scope_id"]) == _ip(args["scope"])), None)
    result: dict[str, Any] = {
        "changed": False,
        "refused": None,
        "scope": None,
        "before": [],
        "after": [],
        "scope_error": None,
        "failover": None,
        "replicated": False,
        "replication_error": None,
    }
    service_error = (state.get("dhcp") or {}).get("service_error")
    if service_error:
        # Get-DhcpServerv4Scope fails for another reason than a missing scope (service, rights, RPC)
        result["scope_error"] = {
            "message": f"Failed to get the scope {args['scope']}: {service_error}",
            "category": "ConnectionError",
            "error_id": "WIN32 1722,Get-DhcpServerv4Scope",
        }
        return result
    if scope is None:
        result["scope_error"] = {
            "message": f"Failed to get the scope {args['scope']} on this DHCP server (simulated)",
            "category": "ObjectNotFound",
            "error_id": "DHCP 20005,Get-DhcpServerv4Scope",
        }
        return result
    failover = scope.get("failover")
    if failover:
        result["failover"] = {k: failover.get(k) for k in ("name", "partner_server", "mode", "state")}
    result["scope"] = {
        "scope_id": scope["scope_id"],
        "start": scope["start_range"],
        "end": scope["end_range"],
    }
    result["reservations"] = [r["ip_address"] for r in scope.get("reservations") or []]
    before = _ranges(scope)
    result["before"] = copy.deepcopy(before)
    start, end = _ip(args["start"]), _ip(args["end"])
    exact = [e for e in before if _ip(e["start"]) == start and _ip(e["end"]) == end]
    after = copy.deepcopy(before)
    if args.get("state", "present") == "present":
        if start < _ip(scope["start_range"]) or end > _ip(scope["end_range"]):
            result["refused"] = "outside_scope"
            result["after"] = before
            return result
        old = None
        replaces = args.get("replaces") or {}
        if replaces.get("start") and replaces.get("end"):
            old = (_ip(replaces["start"]), _ip(replaces["end"]))
        replaced = [e for e in before if old is not None and (_ip(e["start"]), _ip(e["end"])) == old]
        overlaps = [
            e
            for e in before
            if _ip(e["start"]) <= end and start <= _ip(e["end"]) and e not in exact and e not in replaced
        ]
        if overlaps:
            result.update(refused="overlap", overlaps=overlaps, after=before)
            return result
        after = [e for e in before if e not in replaced]
        if not exact:
            after.append({"start": _text(start), "end": _text(end)})
    else:
        after = [e for e in before if e not in exact]
    after.sort(key=lambda e: (_ip(e["start"]), _ip(e["end"])))
    result["after"] = after
    result["changed"] = after != before
    if result["changed"] and not check_mode:
        scope["exclusions"] = [{"start_range": e["start"], "end_range": e["end"]} for e in after]
        if failover and args.get("replicate_failover", True):
            # Invoke-DhcpServerv4FailoverReplication -ScopeId: the partner gets the scope's configuration
            if failover.get("partner_reachable", True):
                failover["replicated_exclusions"] = copy.deepcopy(scope["exclusions"])
                result["replicated"] = True
            else:
                result["replication_error"] = (
                    f"Failed to replicate scope {scope['scope_id']} to {failover.get('partner_server')}: "
                    "The RPC server is unavailable. (simulated)"
                )
    return result


def address_facts(adapter: dict[str, Any]) -> list[dict[str, Any]]:
    """The IPv4 addresses of a simulated adapter as Get-NetIPAddress shows them.

    ``prefix_origin`` is ``Dhcp`` for the seeded address of a DHCP adapter and ``Manual`` otherwise;
    ``address_state`` is ``Preferred`` unless the state file says otherwise (``Duplicate``).
    """
    out = []
    for ip in adapter.get("ipv4") or []:
        item = copy.deepcopy(ip)
        item.setdefault("prefix_origin", "Manual")
        item.setdefault("address_state", "Preferred")
        out.append(item)
    return out


def vip_address_state(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    index = as_int(args.get("interface_index"), "interface_index")
    adapter = next((a for a in state.get("adapters") or [] if a.get("index") == index), None)
    if adapter is None:
        raise SimulatedModuleError(f"vip_address_state: no network adapter has interface index {index}")
    prefix = as_int(args.get("prefix_length"), "prefix_length", minimum=1, maximum=32)
    skip = bool(args.get("skip_as_source", True))
    before = address_facts(adapter)
    current = {_ip(ip["address"]): ip for ip in adapter["ipv4"]}
    after = copy.deepcopy(adapter["ipv4"])
    added: list[str] = []
    updated: list[str] = []
    removed: list[str] = []
    taken = {_ip(a) for a in adapter.get("taken_on_link") or []}
    total = len(args.get("present") or []) + len(args.get("absent") or [])
    for done, text in enumerate(args.get("present") or []):
        found = current.get(_ip(text))
        if found is None:
            if adapter.get("dhcp") and not check_mode:
                # Windows: a DHCP-enabled IPv4 interface cannot also hold static addresses. Like the
                # .ps1, fail naming the address and report the progress made so far.
                if added or updated:
                    adapter["ipv4"] = after
                return {
                    "failed": True,
                    "msg": f"vip_address_state: {text} on interface {index} ({adapter['name']}) failed after "
                    f"{done} of {total} address(es): Inconsistent parameters PolicyStore PersistentStore and "
                    "Dhcp Enabled",
                    "changed": bool(added or updated),
                    "interface_index": index,
                    "interface_alias": adapter["name"],
                    "before": before,
                    "added": added,
                    "updated": updated,
                    "removed": [],
                    "progress": {"total": total, "done": done},
                }
            added.append(text)
            entry: dict[str, Any] = {
                "address": _text(_ip(text)),
                "prefix_length": prefix,
                "skip_as_source": skip,
            }
            if _ip(text) in taken and not check_mode:
                # Duplicate address detection: another machine on the link holds it.
                entry["address_state"] = "Duplicate"
            after.append(entry)
        elif bool(found.get("skip_as_source")) != skip:
            updated.append(text)
            for ip in after:
                if _ip(ip["address"]) == _ip(text):
                    ip["skip_as_source"] = skip
    gone = {_ip(t) for t in args.get("absent") or [] if _ip(t) in current}
    removed = [_text(a) for a in sorted(gone)]
    after = [ip for ip in after if _ip(ip["address"]) not in gone]
    changed = bool(added or updated or removed)
    if changed and not check_mode:
        adapter["ipv4"] = after
    return {
        "changed": changed,
        "interface_index": index,
        "interface_alias": adapter["name"],
        "before": before,
        "after": address_facts({"ipv4": after}),
        "added": added,
        "updated": updated,
        "removed": removed,
        "progress": {"total": total, "done": total},
    }


#: Options of each module twin, written like an Ansible argument spec (CI compares them with
#: the module docs and the .ps1 ``$spec``).
SPECS: Final[dict[str, dict[str, Any]]] = {
    "dhcp_scope_info": {
        "scope_ids": {"type": "list", "elements": "str", "default": []},
        "include_leases": {"type": "bool", "default": False},
    },
    "dhcp_exclusion_range": {
        "scope": {"type": "str", "required": True, "aliases": ["scope_id"]},
        "start": {"type": "str", "required": True},
        "end": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "replaces": {
            "type": "dict",
            "options": {"start": {"type": "str", "required": True}, "end": {"type": "str", "required": True}},
        },
        "replicate_failover": {"type": "bool", "default": True},
    },
    "vip_address_state": {
        "interface_index": {"type": "int", "required": True},
        "prefix_length": {"type": "int", "required": True},
        "present": {"type": "list", "elements": "str", "default": []},
        "absent": {"type": "list", "elements": "str", "default": []},
        "skip_as_source": {"type": "bool", "default": True},
        "dad_wait_seconds": {"type": "int", "default": 5},
    },
}

HANDLERS: Final = {
    "dhcp_scope_info": dhcp_scope_info,
    "dhcp_exclusion_range": dhcp_exclusion_range,
    "vip_address_state": vip_address_state,
}
