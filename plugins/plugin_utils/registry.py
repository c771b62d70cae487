# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure registry values through the gateway: used by registry_state and every feature plugin."""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import facts_cache
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.gateway import call_windows
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


def ensure_registry(
    action, task_vars, values, keys_absent=(), allowed_hives=("HKLM",), keys_moved=(), cim_properties=()
):
    """Validate, send in one call, and shape the result of a registry change set.

    Returns the module result (``changed``, ``value_results``, ``key_results``, ``move_results``,
    ``cim_results``, ``diff``, ``reboot_required``, ``simulated``). Bad input raises ``VipError``
    before anything is sent.
    """
    reg = import_from_package("windows.registry")
    moves_mod = import_from_package("windows.key_moves")
    cim_mod = import_from_package("windows.cim")
    parsed_values = reg.parse_values(values, allowed_hives)
    parsed_keys = reg.parse_keys_absent(keys_absent, allowed_hives)
    parsed_moves = moves_mod.parse_keys_moved(keys_moved, allowed_hives)
    parsed_cim = cim_mod.parse_cim_properties(cim_properties)
    if not parsed_values and not parsed_keys and not parsed_moves and not parsed_cim:
        return {
            "changed": False,
            "value_results": [],
            "key_results": [],
            "move_results": [],
            "cim_results": [],
            "reboot_required": False,
            "diff": {"before": {}, "after": {}},
            "msg": "nothing to do: no values, keys_absent, keys_moved or cim_properties",
        }
    args = {
        "values": [reg.value_to_wire(v) for v in parsed_values],
        "keys_absent": [reg.key_to_wire(k) for k in parsed_keys],
        "keys_moved": [moves_mod.move_to_wire(m) for m in parsed_moves],
        "cim_properties": [cim_mod.cim_to_wire(c) for c in parsed_cim],
        "allowed_hives": list(allowed_hives),
    }
    raw = call_windows(action, "registry_state", args, task_vars)
    shaped = reg.shape_result(parsed_values, parsed_keys, raw)
    moved, moves_changed, moves_reboot, moves_before, moves_after = moves_mod.shape_moves(
        parsed_moves, list(raw.get("moves") or [])
    )
    cim, cim_changed, cim_reboot, cim_before, cim_after = cim_mod.shape_cim(parsed_cim, list(raw.get("cim") or []))
    diff = shaped.diff
    for side, extra in (("before", moves_before), ("after", moves_after), ("before", cim_before), ("after", cim_after)):
        for path, entries in extra.items():
            diff[side].setdefault(path, {}).update(entries)
    return {
        "changed": shaped.changed or moves_changed or cim_changed,
        "value_results": shaped.values,
        "key_results": shaped.keys,
        "move_results": moved,
        "cim_results": cim,
        "reboot_required": shaped.reboot_required or moves_reboot or cim_reboot,
        "diff": diff,
        "simulated": bool(raw.get("simulated")),
    }


def read_facts(action, task_vars, extra_keys=()):
    """vip_info's documented, shaped result: from the host's facts cache, or one call to the host.

    ``cached`` in the result says which (see ``facts_cache`` for the scope and invalidation).
    """
    facts = import_from_package("windows.facts")
    keys = facts.registry_request() + [dict(k) for k in extra_keys]
    raw = facts_cache.cached_raw(action, task_vars, keys)
    cached = raw is not None
    if raw is None:
        raw = call_windows(action, "vip_info", {"registry_keys": keys, "cim_classes": facts.cim_request()}, task_vars)
        facts_cache.remember(action, task_vars, keys, raw)
    shaped = facts.shape(raw)
    shaped["registry"] = raw.get("registry") or []
    shaped["cim"] = raw.get("cim") or []
    shaped["cached"] = cached
    return shaped
