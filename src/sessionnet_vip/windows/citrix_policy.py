"""Citrix virtual loopback policy: from user options to one ``citrix_policy_state`` call, and back.

Pure decisions for ``sessionnet.virtual_ip.citrix_loopback_policy``. The Windows side
(``citrix_policy_state``, run on a Delivery Controller) is generic: it ensures a named Citrix
policy exists with the settings, priority and filters it is given, and reports ``before`` and
``after``. Everything policy-specific is decided here:

- **Settings** (docs.citrix.com "Virtual IP policy settings"; internal names in
  :mod:`sessionnet_vip.windows.citrix`): ``VirtualLoopbackSupport`` (Enabled/Disabled) and
  ``VirtualLoopbackPrograms`` (list) and, when ``port_exclusions`` is given, the port-exclusion
  setting whose internal name is an option (its default is an unconfirmed guess).
- **Programs**: Citrix asks for "only the executable name"; entries are validated by
  :func:`sessionnet_vip.windows.programs.normalize_programs` (wildcards, quotes, relative paths
  refused; case duplicates merged) and full paths are then reduced to their executable name
  (``program_paths: name``, the default, with a warning naming what was reduced) or kept
  (``program_paths: keep``, for releases that match full paths).
- **Empty programs with support enabled is an error**: the loopback applies only to listed
  programs (Citrix docs), so enabling it for none does nothing and is almost certainly a
  mistake; the fix is to list the programs or set ``loopback_support: disabled``.
- **Port exclusions**: integers or ``"a-b"`` ranges within 1-65535; overlapping and adjacent
  ranges are merged; sent sorted as ``"N"`` / ``"A-B"`` strings. ``[]`` resets the setting to its
  default; omitted leaves it alone.
- **Delivery groups**: a ``DesktopGroup`` filter (mode Allow) per group; when the option is given
  the policy's Delivery Group filters are exactly those (others of that type removed).
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import citrix
from sessionnet_vip.windows.programs import normalize_programs

MODULE: Final = "citrix_policy_state"
MIN_PORT: Final = 1
MAX_PORT: Final = 65535
STORES: Final = ("controller", "domain_gpo")
_PORT_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_BAD_NAME = re.compile(r"[\\/*?\"<>|\x00-\x1f]")
_SETTING_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class CitrixPolicyError(VipError):
    """An option of the Citrix loopback policy is invalid."""


@dataclass
class PolicyPlan:
    """What to send to ``citrix_policy_state`` and what to tell the user."""

    module_args: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    programs: list[str] | None = None
    port_exclusions: list[str] | None = None


def normalize_port_exclusions(entries: Sequence[object] | None, option: str = "port_exclusions") -> list[str]:
    """Validate ports and ``a-b`` ranges (1-65535), merge overlapping/adjacent ones, sort.

    Returns strings ``"N"`` or ``"A-B"``. ``None`` and ``[]`` return ``[]``.
    """
    spans: list[tuple[int, int]] = []
    for index, entry in enumerate(entries or []):
        where = f"{option}[{index}] {entry!r}"
        if isinstance(entry, bool):
            raise CitrixPolicyError(
                f"{where}: is not a port; give a number 1-65535 or a range like '8000-8010'"
            )
        if isinstance(entry, int):
            low = high = entry
        elif isinstance(entry, str):
            match = _PORT_RANGE.match(entry)
            if not match:
                raise CitrixPolicyError(
                    f"{where}: is malformed; give a port number 1-65535 or a range like '8000-8010'"
                )
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) is not None else low
        else:
            raise CitrixPolicyError(f"{where}: give a port number 1-65535 or a range like '8000-8010'")
        for port in (low, high):
            if not MIN_PORT <= port <= MAX_PORT:
                raise CitrixPolicyError(f"{where}: port {port} is outside {MIN_PORT}-{MAX_PORT}")
        if low > high:
            raise CitrixPolicyError(f"{where}: the range starts above its end; write it as '{high}-{low}'")
        spans.append((low, high))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged]


def citrix_programs(
    entries: Sequence[object] | None, option: str = "programs", keep_paths: bool = False
) -> tuple[list[str], list[str]]:
    """Validate a Citrix program list; reduce full paths to executable names unless ``keep_paths``.

    Returns ``(programs, warnings)``. Bare names are what Citrix documents, so they give no warning.
    """
    normalized = normalize_programs(entries, option)
    if keep_paths:
        return list(normalized.programs), []
    out: list[str] = []
    seen: set[str] = set()
    reduced: list[str] = []
    for program in normalized.programs:
        name = ntpath.basename(program)
        if name != program:
            reduced.append(program)
        if name.casefold() in seen:
            continue
        seen.add(name.casefold())
        out.append(name)
    warnings = []
    if reduced:
        warnings.append(
            f"{option}: {', '.join(reduced)} reduced to the executable name, as Citrix documents for the "
            "virtual loopback programs list (set program_paths: keep to send full paths)"
        )
    return out, warnings


def _policy_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CitrixPolicyError(f"name {value!r}: give the Citrix policy name, such as 'Virtual loopback'")
    if value != value.strip() or _BAD_NAME.search(value) or len(value) > 64:
        raise CitrixPolicyError(
            f'name {value!r}: a policy name may not have leading/trailing spaces, \\ / * ? " < > | '
            "or more than 64 characters"
        )
    return value


def _names(values: Sequence[object] | None, option: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(values or []):
        if not isinstance(item, str) or not item.strip() or item != item.strip():
            raise CitrixPolicyError(
                f"{option}[{index}] {item!r}: give the name as Studio shows it, without surrounding spaces"
            )
        if "\\" in item or "/" in item:
            # Since XenDesktop 7.16 a filter is addressed by its value as a provider path
            # (<policy>\Filters\<type>\<value>): a separator would split it.
            raise CitrixPolicyError(
                f"{option}[{index}] {item!r}: the Citrix provider addresses a Delivery Group filter by its name as a "
                "path, so it may not contain \\ or /; rename the Delivery Group or filter it in Studio"
            )
        if item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


def build_policy(options: Mapping[str, Any]) -> PolicyPlan:
    """Decide the ``citrix_policy_state`` arguments for validated plugin ``options``."""
    name = _policy_name(options.get("name"))
    state = str(options.get("state") or "present")
    store = str(options.get("store") or "controller")
    if store not in STORES:
        raise CitrixPolicyError(f"store {store!r}: use controller or domain_gpo")
    controller = options.get("controller")
    gpo = options.get("gpo")
    if store == "domain_gpo" and not gpo:
        raise CitrixPolicyError(
            "store domain_gpo needs gpo: the name of the AD GPO that holds the Citrix policies"
        )
    if store == "controller" and gpo:
        raise CitrixPolicyError("gpo is only used with store: domain_gpo; remove it or set store: domain_gpo")
    args: dict[str, Any] = {
        "name": name,
        "state": state,
        "policy_type": "computer",
        "store": store,
        "controller": str(controller) if controller else "localhost",
        "gpo": str(gpo) if gpo else None,
        "enabled": None,
        "priority": None,
        "description": None,
        "settings": [],
        "filters": [],
        "purge_filter_types": [],
    }
    if state == "absent":
        if name.casefold() == "unfiltered":
            raise CitrixPolicyError("name Unfiltered: the built-in policy cannot be removed")
        return PolicyPlan(args)

    support = str(options.get("loopback_support") or "enabled")
    if support not in ("enabled", "disabled"):
        raise CitrixPolicyError(f"loopback_support {support!r}: use enabled or disabled")
    raw_programs = options.get("programs")
    keep = str(options.get("program_paths") or "name") == "keep"
    plan = PolicyPlan(args)
    programs: list[str] | None = None
    if raw_programs is not None:
        programs, warnings = citrix_programs(raw_programs, "programs", keep_paths=keep)
        plan.warnings.extend(warnings)
    if support == "enabled" and not programs:
        raise CitrixPolicyError(
            "programs is empty but loopback_support is enabled: virtual loopback applies only to the "
            "listed programs, so it would do nothing; list the executables (such as 'ctiagent.exe') "
            "or set loopback_support: disabled"
        )
    settings: list[dict[str, Any]] = [
        {
            "name": citrix.LOOPBACK_SUPPORT_SETTING,
            "state": "Enabled" if support == "enabled" else "Disabled",
            "values": None,
        }
    ]
    if programs is not None:
        settings.append(
            {"name": citrix.LOOPBACK_PROGRAMS_SETTING, "state": "Enabled", "values": programs}
            if programs
            else {"name": citrix.LOOPBACK_PROGRAMS_SETTING, "state": "UseDefault", "values": None}
        )
    plan.programs = programs
    raw_ports = options.get("port_exclusions")
    if raw_ports is not None:
        setting = str(options.get("port_exclusion_setting") or citrix.PORT_EXCLUSION_SETTING_GUESS)
        if not _SETTING_NAME.match(setting):
            raise CitrixPolicyError(
                f"port_exclusion_setting {setting!r}: give the internal setting name (letters and digits)"
            )
        ports = normalize_port_exclusions(raw_ports)
        plan.port_exclusions = ports
        settings.append(
            {"name": setting, "state": "Enabled", "values": ports}
            if ports
            else {"name": setting, "state": "UseDefault", "values": None}
        )
    args["settings"] = settings

    priority = options.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
            raise CitrixPolicyError(f"priority {priority!r}: give 1 (highest) or a larger whole number")
        args["priority"] = priority
    enabled = options.get("enabled")
    args["enabled"] = True if enabled is None else bool(enabled)
    if options.get("description") is not None:
        args["description"] = str(options["description"])
    groups = options.get("delivery_groups")
    if groups is not None:
        if name.casefold() == "unfiltered":
            raise CitrixPolicyError(
                "delivery_groups: the Unfiltered policy cannot have filters; use another name"
            )
        args["filters"] = [
            {"type": citrix.DELIVERY_GROUP_FILTER, "value": group, "mode": "Allow", "enabled": True}
            for group in _names(groups, "delivery_groups")
        ]
        args["purge_filter_types"] = [citrix.DELIVERY_GROUP_FILTER]
    if name.casefold() == "unfiltered" and args["priority"] is not None:
        raise CitrixPolicyError(
            "priority: the Unfiltered policy always has the lowest priority; remove priority"
        )
    return plan


def _view(side: Mapping[str, Any] | None) -> dict[str, Any]:
    """A readable, stable view of one side (``before``/``after``) of the module result."""
    if not side or not side.get("exists"):
        return {}
    settings = {
        str(k): {
            "state": v.get("state"),
            **({"values": list(v["values"])} if v.get("values") is not None else {}),
        }
        for k, v in sorted((side.get("settings") or {}).items())
    }
    filters = sorted(
        (
            {
                "type": f.get("type"),
                "value": f.get("value"),
                "mode": f.get("mode"),
                "enabled": f.get("enabled"),
            }
            for f in side.get("filters") or []
        ),
        key=lambda f: (str(f["type"]), str(f["value"]).casefold()),
    )
    return {
        "enabled": side.get("enabled"),
        "priority": side.get("priority"),
        "description": side.get("description"),
        "settings": settings,
        "filters": filters,
    }


def _mismatches(args: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    found = after.get("settings") or {}
    problems = []
    for want in args.get("settings") or []:
        have = found.get(want["name"]) or {}
        if want["state"] == "UseDefault":
            continue
        if str(have.get("state")) != want["state"]:
            problems.append(f"{want['name']} is {have.get('state')!r}, not {want['state']!r}")
        elif want.get("values") is not None and list(have.get("values") or []) != list(want["values"]):
            problems.append(f"{want['name']} holds {have.get('values')!r}, not {want['values']!r}")
    return problems


_DENIED = re.compile(r"denied|0x80070005|unauthori[sz]ed|logon failure|credential", re.IGNORECASE)


def _is_local(controller: str) -> bool:
    return controller.casefold() in ("localhost", "127.0.0.1", "::1", ".")


def mount_failure(args: Mapping[str, Any], raw: Mapping[str, Any]) -> str | None:
    """The failure message when the Citrix policy store could not be mounted, else ``None``.

    ``store: domain_gpo`` reads and writes an AD GPO, and a remote ``controller`` is another
    machine: both are a *second hop* from the WinRM session. With NTLM, or Kerberos without
    delegation, the session's credentials cannot make that hop and the mount fails with access
    denied (Microsoft Learn, "Making the second hop in PowerShell Remoting"). The fixes: run the
    task with ``become: true`` (``become_method: runas``, which logs on locally with the
    credentials), use CredSSP, or give the host Kerberos delegation to AD / the controller.
    """
    error = raw.get("mount_error")
    if not error:
        return None
    store = str(args.get("store") or "controller")
    where = (
        f"the Citrix policies in GPO {args.get('gpo')!r}"
        if store == "domain_gpo"
        else f"the Citrix policies of Delivery Controller {args.get('controller') or 'localhost'!r}"
    )
    message = f"cannot mount {where}: {error}"
    second_hop = store == "domain_gpo" or not _is_local(str(args.get("controller") or "localhost"))
    if second_hop and _DENIED.search(str(error)):
        message += (
            ". This is a second hop from the WinRM session (to Active Directory for a GPO, or to another "
            "controller): with NTLM, or Kerberos without delegation, the credentials cannot make it and the "
            "mount fails with access denied. Run the task with become: true and become_method: runas (with "
            "become_user/become_password of an account allowed to edit the policies), or use CredSSP "
            "(ansible_winrm_transport: credssp), or give the host Kerberos delegation; see "
            "docs/citrix_virtual_loopback.md"
        )
    return message


def shape_policy_result(plan: PolicyPlan, raw: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """Shape the raw ``citrix_policy_state`` answer: changed, before/after, diff, warnings."""
    args = plan.module_args
    failure = mount_failure(args, raw)
    if failure:
        raise VipError(failure)
    before = raw.get("before") or {}
    after = raw.get("after") or {}
    if args["state"] == "present" and not after.get("exists"):
        raise VipError(
            f"the controller reports policy {args['name']!r} missing after it was ensured; "
            "check the Citrix site or GPO and the account's rights"
        )
    if args["state"] == "present":
        problems = _mismatches(args, after)
        if problems:
            raise VipError(
                f"policy {args['name']!r} does not hold the requested settings after the change: "
                + "; ".join(problems)
            )
    key = f"{args['store']}:{args['gpo'] or args['controller']}:{args['policy_type']}\\{args['name']}"
    view_before, view_after = _view(before), _view(after)
    return {
        "changed": bool(raw.get("changed")),
        "policy": args["name"],
        "store": args["store"],
        "programs": plan.programs,
        "port_exclusions": plan.port_exclusions,
        "before": view_before,
        "after": view_after,
        "setting_paths": dict(raw.get("setting_paths") or {}),
        "diff": {
            "before": {key: view_before} if view_before else {},
            "after": {key: view_after} if view_after else {},
        },
        "warnings": list(plan.warnings),
        "check_mode": check_mode,
        "simulated": bool(raw.get("simulated")),
    }
