"""SIMULATION of a Citrix Delivery Controller's policy store, the twin of ``citrix_policy_state.ps1``.

Nothing here talks to Citrix. A simulated host whose features include ``citrix_ddc`` gets a
``citrix_site`` section in its state file: the site's Computer policies (the store reached with
``New-PSDrive -PSProvider CitrixGroupPolicy -Controller ...``) and those of AD GPOs (``-DomainGpo``).
Semantics copied from the Citrix Group Policy SDK documentation where it states them: new
policies are created disabled with the last priority; priorities are 1-based without gaps and
setting one shifts the others, a number above the count is clamped to the last place; setting
states are Enabled/Disabled (or NotConfigured when unset) and ``UseDefault`` resets a setting.

Assumption (not a Citrix fact): the simulated setting catalogue places the loopback settings
under ``ICA\\VirtualIP\\`` and names the port-exclusion setting with the collection's best guess
(``VirtualLoopbackPortExclusion``); on a real controller the module discovers both at run time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import citrix

SIMULATED_CATALOG: Final[Mapping[str, str]] = {
    "VirtualLoopbackSupport": r"ICA\VirtualIP\VirtualLoopbackSupport",
    "VirtualLoopbackPrograms": r"ICA\VirtualIP\VirtualLoopbackPrograms",
    "VirtualLoopbackPortExclusion": r"ICA\VirtualIP\VirtualLoopbackPortExclusion",
    "FilterAdapterAddressesPrograms": r"ICA\VirtualIP\FilterAdapterAddressesPrograms",
    "EnhancedCompatibility": r"ICA\VirtualIP\EnhancedCompatibility",
    "IcaListenerTimeout": r"ICA\IcaListenerTimeout",
}
SIMULATED_GPO: Final = "Citrix Policies"
UNFILTERED: Final = "Unfiltered"


class CitrixSiteError(VipError):
    """The simulated controller refuses, as the real module would."""


def new_site(hostname: str) -> dict[str, Any]:
    """The ``citrix_site`` section of a freshly installed simulated Delivery Controller."""
    empty: dict[str, Any] = {"computer": [], "user": []}
    return {
        "simulated": True,
        "controllers": [hostname, "localhost"],
        "catalog": dict(SIMULATED_CATALOG),
        "gpos": [SIMULATED_GPO],
        "stores": {"controller": copy.deepcopy(empty), f"gpo:{SIMULATED_GPO}": copy.deepcopy(empty)},
    }


class MountError(CitrixSiteError):
    """``New-PSDrive -PSProvider CitrixGroupPolicy`` failed (returned as ``mount_error``)."""


#: What Windows says when a WinRM session's credentials cannot make a second hop (to AD for a
#: GPO, or to another controller): NTLM, or Kerberos without delegation.
SECOND_HOP_DENIED: Final = "Access is denied. (simulated: the session's credentials cannot make a second hop)"


def _store(site: dict[str, Any], args: Mapping[str, Any], local: set[str]) -> tuple[str, dict[str, Any]]:
    # ``delegation: false`` in the site models a WinRM logon (NTLM, or Kerberos without delegation)
    # whose credentials cannot reach AD or another controller.
    delegated = bool(site.get("delegation", True))
    if args.get("store") == "domain_gpo":
        gpo = str(args.get("gpo") or "")
        if not delegated:
            raise MountError(SECOND_HOP_DENIED)
        match = next((g for g in site["gpos"] if g.casefold() == gpo.casefold()), None)
        if match is None:
            raise MountError(
                f"cannot mount the Citrix policies of GPO {gpo!r} (New-PSDrive -DomainGpo): no such GPO"
            )
        return f"gpo:{match}", site["stores"][f"gpo:{match}"]
    controller = str(args.get("controller") or "localhost")
    known = {c.casefold() for c in site["controllers"]}
    short = controller.split(".", maxsplit=1)[0].casefold()
    if controller.casefold() not in known and short not in known:
        raise MountError(
            f"cannot connect to Delivery Controller {controller!r} (New-PSDrive -Controller); "
            f"this simulated site answers as {', '.join(site['controllers'])}"
        )
    if not delegated and controller.casefold() not in local and short not in local:
        raise MountError(SECOND_HOP_DENIED)
    return "controller", site["stores"]["controller"]


def _paths(site: Mapping[str, Any], names: list[str]) -> dict[str, str]:
    catalog: Mapping[str, str] = site["catalog"]
    found: dict[str, str] = {}
    for name in names:
        match = next((k for k in catalog if k.casefold() == name.casefold()), None)
        if match is None:
            near = sorted(
                k for k in catalog if "loopback" in k.casefold() or "virtualip" in catalog[k].casefold()
            )
            raise CitrixSiteError(
                f"setting {name!r} was not found under Computer\\{UNFILTERED}\\Settings; settings found "
                f"next to the virtual loopback ones: {', '.join(near)}"
            )
        found[name] = catalog[match]
    return found


def _read(policies: list[dict[str, Any]], name: str, paths: Mapping[str, str]) -> dict[str, Any]:
    for index, policy in enumerate(policies):
        if policy["name"].casefold() == name.casefold():
            return {
                "exists": True,
                "name": policy["name"],
                "enabled": policy["enabled"],
                "priority": index + 1 if policy["name"] != UNFILTERED else None,
                "description": policy.get("description") or "",
                "settings": {
                    n: dict(
                        copy.deepcopy(
                            policy["settings"].get(n) or {"state": "NotConfigured", "values": None}
                        ),
                        path=p,
                    )
                    for n, p in paths.items()
                },
                "filters": copy.deepcopy(policy["filters"]),
            }
    return {"exists": False, "name": name}


def citrix_policy_state(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Twin of ``citrix_policy_state.ps1`` (same options, same result keys)."""
    if "citrix_ddc" not in (state.get("features") or []) or "citrix_site" not in state:
        raise CitrixSiteError(
            f"neither the PowerShell module {citrix.GP_MODULE} nor the snap-in {citrix.GP_SNAPIN} is "
            "available on this host; run this on a Delivery Controller (or a machine with Citrix "
            "Studio / the Citrix PowerShell SDK)"
        )
    site = copy.deepcopy(state["citrix_site"]) if check_mode else state["citrix_site"]
    local = {str(state.get("hostname") or "").casefold(), "localhost"}
    try:
        store_id, store = _store(site, args, local)
    except MountError as exc:
        return {
            "changed": False,
            "before": None,
            "after": None,
            "setting_paths": {},
            "store": None,
            "saved": False,
            "mount_error": f"New-PSDrive -PSProvider CitrixGroupPolicy: {exc}",
        }
    kind = str(args.get("policy_type") or "computer")
    policies: list[dict[str, Any]] = store.setdefault(kind, [])
    name = str(args["name"])
    settings = list(args.get("settings") or [])
    paths = _paths(site, [s["name"] for s in settings])
    before = _read(policies, name, paths)
    changed = False
    if args.get("state") == "absent":
        if before["exists"]:
            policies[:] = [p for p in policies if p["name"].casefold() != name.casefold()]
            changed = True
    else:
        policy = next((p for p in policies if p["name"].casefold() == name.casefold()), None)
        if policy is None:
            policy = {"name": name, "enabled": False, "description": "", "settings": {}, "filters": []}
            policies.append(policy)
            changed = True
        if args.get("description") is not None and policy["description"] != args["description"]:
            policy["description"] = args["description"]
            changed = True
        if args.get("enabled") is not None and policy["enabled"] != bool(args["enabled"]):
            policy["enabled"] = bool(args["enabled"])
            changed = True
        if args.get("priority") is not None:
            target = min(int(args["priority"]), len(policies))
            if policies.index(policy) + 1 != target:
                policies.remove(policy)
                policies.insert(target - 1, policy)
                changed = True
        for want in settings:
            real = next(k for k in site["catalog"] if k.casefold() == want["name"].casefold())
            have = policy["settings"].get(real) or {"state": "NotConfigured", "values": None}
            if want["state"] == "UseDefault":
                if have["state"] != "NotConfigured":
                    policy["settings"].pop(real, None)
                    changed = True
                continue
            values = have.get("values") if want.get("values") is None else list(want["values"])
            target_setting = {"state": want["state"], "values": values}
            if have != target_setting:
                policy["settings"][real] = target_setting
                changed = True
        wanted = {(f["type"].casefold(), str(f["value"]).casefold()) for f in args.get("filters") or []}
        purge = {t.casefold() for t in args.get("purge_filter_types") or []}
        kept = [
            f
            for f in policy["filters"]
            if f["type"].casefold() not in purge or (f["type"].casefold(), f["value"].casefold()) in wanted
        ]
        if len(kept) != len(policy["filters"]):
            policy["filters"] = kept
            changed = True
        for want in args.get("filters") or []:
            have_filter = next(
                (
                    f
                    for f in policy["filters"]
                    if f["type"].casefold() == want["type"].casefold()
                    and f["value"].casefold() == str(want["value"]).casefold()
                ),
                None,
            )
            target_filter = {
                "type": want["type"],
                "name": str(want["value"]),
                "value": str(want["value"]),
                "mode": want.get("mode") or "Allow",
                "enabled": bool(want.get("enabled", True)),
            }
            if have_filter is None:
                policy["filters"].append(target_filter)
                changed = True
            elif (have_filter["mode"], have_filter["enabled"]) != (
                target_filter["mode"],
                target_filter["enabled"],
            ):
                have_filter.update(mode=target_filter["mode"], enabled=target_filter["enabled"])
                changed = True
    after = _read(policies, name, paths)
    return {
        "changed": changed,
        "before": before,
        "after": after,
        "setting_paths": paths,
        "store": store_id,
        "saved": changed and not check_mode,
        "mount_error": None,
    }
