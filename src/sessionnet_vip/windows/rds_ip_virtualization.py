"""RD IP Virtualization: from module options and ``vip_info`` facts to the desired registry state.

Pure decision, no I/O: :func:`plan` takes the validated options of
``sessionnet.virtual_ip.rds_ip_virtualization`` and the shaped ``vip_info`` facts of one host and
returns the registry values (all under :data:`rds.POLICY_KEY`) and keys to remove that one
``registry_state`` call then ensures, with the warnings to show. Every refusal raises a
:class:`RdsIpVirtualizationError` naming the input (or the host's edition) and the fix.

Decisions (see docs/rds_ip_virtualization.md for the sources of every registry fact):

- ``state: enabled`` writes all five managed values: ``EnableVirtualIP``=1, ``VirtualMode``
  (0 per session / 1 per program), ``VIPAdapter`` (the normalised CIDR), ``PromptOnIPLeaseFail``
  (1 when ``fallback_to_server_ip`` is false, else 0) and ``PerApp`` (the program list in
  per-program mode; *removed* in per-session mode so no stale list lingers). Each is marked
  reboot-required, because Windows reads them at start.
- ``programs`` with ``per_session``: warned about and ignored (still validated, so a typo is
  caught before the mode is switched); ``PerApp`` is removed.
- Windows Server 2019 and later (build >= 17763): the Winsock catalog entry
  :data:`rds.LSP_CATALOG_KEY` is *renamed* to :data:`rds.LSP_CATALOG_BACKUP_KEY` unless
  ``fix_lsp_catalog: false``, as KB 4501072 recommends ("the rename provides a way to revert back
  more easily"). When a backup already exists the entry is removed instead and the backup kept
  (Microsoft: deleting has the same effect).
- ``restore_lsp_catalog: true`` is the way back, with either state: the backup is renamed back;
  without a backup the two default values Microsoft's articles list (``AppFullPath``,
  ``PermittedLspCategories``) are written. Nothing happens when the entry is present.
- ``virtualize_loopback`` sets ``Win32_TSVirtualIP.VirtualizeLoopbackAddressesEnabled`` through
  ``SetVirtualizeLoopbackAddressesEnabled`` in the same change call (Windows Server 2012 and later;
  refused on older builds such as 2008 R2, and where the class cannot be read). Unset leaves it
  alone. With ``state: disabled`` only ``false`` is accepted.
- ``state: disabled`` removes exactly :data:`rds.MANAGED_VALUES` and nothing else.
  Disabling is allowed on every edition (it only removes).
- Unsupported editions (Windows 10/11 Enterprise multi-session, any client OS) are refused for
  ``state: enabled`` with a message naming the caption and EditionID.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import rds
from sessionnet_vip.windows.profiles import SERVER_2012_BUILD, SERVER_2019_BUILD
from sessionnet_vip.windows.programs import normalize_programs

STATES: Final = ("enabled", "disabled")


class RdsIpVirtualizationError(VipError):
    """The requested RD IP Virtualization state cannot be applied to this host."""


@dataclass(frozen=True)
class RdsOptions:
    """Options of the module, as validated against its documentation."""

    state: str = "enabled"
    mode: str = "per_session"
    programs: Sequence[object] = ()
    adapter_subnet: str | None = None
    fallback_to_server_ip: bool = True
    fix_lsp_catalog: bool | None = None
    restore_lsp_catalog: bool = False
    virtualize_loopback: bool | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RdsOptions:
        return cls(
            state=str(params.get("state") or "enabled"),
            mode=str(params.get("mode") or "per_session"),
            programs=tuple(params.get("programs") or ()),
            adapter_subnet=params.get("adapter_subnet"),
            fallback_to_server_ip=bool(
                True if params.get("fallback_to_server_ip") is None else params["fallback_to_server_ip"]
            ),
            fix_lsp_catalog=params.get("fix_lsp_catalog"),
            restore_lsp_catalog=bool(params.get("restore_lsp_catalog")),
            virtualize_loopback=params.get("virtualize_loopback"),
        )


@dataclass
class RdsPlan:
    """What one ``registry_state`` call must ensure, and what to tell the user."""

    values: list[dict[str, Any]] = field(default_factory=list)
    keys_absent: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    adapter: str | None = None
    adapter_subnet: str | None = None
    programs: list[str] = field(default_factory=list)
    fix_lsp_catalog: bool = False
    keys_moved: list[dict[str, Any]] = field(default_factory=list)
    cim_properties: list[dict[str, Any]] = field(default_factory=list)
    lsp_catalog_backup: str | None = None
    lsp_catalog_restore: bool = False
    virtualize_loopback: bool | None = None


def normalize_subnet(text: object, option: str = "adapter_subnet") -> ipaddress.IPv4Network:
    """Parse an IPv4 CIDR; host bits are allowed and cleared (``10.20.0.10/24`` -> ``10.20.0.0/24``)."""
    if not isinstance(text, str) or "/" not in text:
        raise RdsIpVirtualizationError(
            f"{option} {text!r} is not an IPv4 subnet in CIDR notation; give one like '10.20.0.0/24' "
            "(the subnet of the adapter whose address sessions should use)"
        )
    try:
        network = ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError as exc:
        raise RdsIpVirtualizationError(
            f"{option} {text!r} is not a valid IPv4 subnet in CIDR notation ({exc}); "
            "give one like '10.20.0.0/24'"
        ) from exc
    if text != text.strip():
        raise RdsIpVirtualizationError(f"{option} {text!r} has leading or trailing spaces; remove them")
    if network.prefixlen == 0 or network.prefixlen > 30:
        raise RdsIpVirtualizationError(
            f"{option} {text!r}: prefix /{network.prefixlen} cannot be an adapter's subnet that leases "
            "addresses to sessions; give the adapter's own subnet, such as '10.20.0.0/24'"
        )
    return network


def _adapter_summary(adapters: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for adapter in adapters:
        addrs = [f"{ip.get('address')}/{ip.get('prefix_length')}" for ip in adapter.get("ipv4") or []]
        parts.append(f"{adapter.get('name')!s} ({', '.join(addrs) or 'no IPv4 address'})")
    return "; ".join(parts) or "none"


def select_adapter(
    network: ipaddress.IPv4Network, adapters: Sequence[Mapping[str, Any]], option: str = "adapter_subnet"
) -> tuple[Mapping[str, Any], list[str]]:
    """Return the one adapter holding an IPv4 address in ``network`` (plus warnings), or raise."""
    matches: list[tuple[Mapping[str, Any], list[ipaddress.IPv4Interface]]] = []
    for adapter in adapters:
        inside = []
        for ip in adapter.get("ipv4") or []:
            try:
                iface = ipaddress.IPv4Interface(f"{ip.get('address')}/{ip.get('prefix_length')}")
            except ValueError:
                continue
            if iface.ip in network:
                inside.append(iface)
        if inside:
            matches.append((adapter, inside))
    if not matches:
        raise RdsIpVirtualizationError(
            f"{option} {network} matches no network adapter of this host; adapters: "
            f"{_adapter_summary(adapters)}. Give the subnet of the adapter sessions should use"
        )
    if len(matches) > 1:
        names = ", ".join(str(a.get("name")) for a, _match in matches)
        raise RdsIpVirtualizationError(
            f"{option} {network} matches several network adapters ({names}); Windows needs one adapter. "
            "Give a narrower subnet that only one adapter holds an address in"
        )
    adapter, inside = matches[0]
    warnings = []
    if any(i.network.prefixlen != network.prefixlen for i in inside):
        held = ", ".join(str(i) for i in inside)
        warnings.append(
            f"{option} {network}: adapter {adapter.get('name')} holds {held}, whose prefix length differs; "
            "give the adapter's own subnet if sessions do not get addresses"
        )
    status = adapter.get("status")
    if status and str(status).casefold() != "up":
        warnings.append(f"adapter {adapter.get('name')} selected by {option} is {status}, not Up")
    return adapter, warnings


def _describe_os(os_info: Mapping[str, Any]) -> str:
    caption = os_info.get("caption") or "unknown Windows edition"
    return f"{caption} (EditionID {os_info.get('edition_id') or 'unknown'}, build {os_info.get('build')})"


def check_supported(os_info: Mapping[str, Any]) -> None:
    """Refuse editions on which RD IP Virtualization is not supported."""
    kind = os_info.get("kind")
    if kind == "multi_session_client":
        raise RdsIpVirtualizationError(
            f"{_describe_os(os_info)} is Windows Enterprise multi-session, where Remote Desktop IP "
            "Virtualization is not supported (Microsoft/Citrix); use a Windows Server RD Session Host"
        )
    if kind != "server":
        raise RdsIpVirtualizationError(
            f"{_describe_os(os_info)} is not a Windows Server edition; Remote Desktop IP Virtualization "
            "is a feature of the RD Session Host role on Windows Server"
        )


def _value(name: str, reg_type: str, data: Any) -> dict[str, Any]:
    return {
        "path": rds.POLICY_KEY,
        "name": name,
        "type": reg_type,
        "data": data,
        "state": "present",
        "reboot_required": True,
    }


def _absent(name: str, reg_type: str) -> dict[str, Any]:
    return {
        "path": rds.POLICY_KEY,
        "name": name,
        "type": reg_type,
        "state": "absent",
        "reboot_required": True,
    }


def plan(options: RdsOptions, facts: Mapping[str, Any]) -> RdsPlan:
    """Decide the registry state for ``options`` on the host described by ``facts`` (vip_info)."""
    if options.state not in STATES:
        raise RdsIpVirtualizationError(f"state {options.state!r} must be one of {', '.join(STATES)}")
    if options.mode not in rds.MODE_VALUES:
        raise RdsIpVirtualizationError(f"mode {options.mode!r} must be one of {', '.join(rds.MODE_VALUES)}")
    os_info: Mapping[str, Any] = facts.get("os") or {}
    if options.state == "disabled":
        return _plan_disabled(options, facts, os_info)

    check_supported(os_info)
    out = RdsPlan()
    normalized = normalize_programs(options.programs, "programs")
    if options.mode == "per_program":
        if not normalized.programs:
            raise RdsIpVirtualizationError(
                "mode per_program needs at least one entry in programs (full paths such as "
                "'C:\\Program Files\\App\\app.exe'); use mode per_session to give every session its own address"
            )
        out.programs = normalized.programs
        out.warnings.extend(normalized.warnings)
    elif normalized.programs:
        out.warnings.append(
            f"programs ({len(normalized.programs)} given) are ignored in mode per_session: every program "
            f"of a session uses the session's address; {rds.PROGRAMS} is removed. Use mode per_program "
            "to limit IP virtualization to these programs"
        )

    if options.adapter_subnet is None:
        raise RdsIpVirtualizationError(
            "adapter_subnet is required with state enabled: without it Windows does not turn IP "
            "virtualization on. Give the subnet of the adapter sessions should use; adapters: "
            f"{_adapter_summary(facts.get('adapters') or [])}"
        )
    network = normalize_subnet(options.adapter_subnet)
    adapter, adapter_warnings = select_adapter(network, facts.get("adapters") or [])
    out.adapter = str(adapter.get("name"))
    out.adapter_subnet = str(network)
    out.warnings.extend(adapter_warnings)

    roles: Mapping[str, Any] = facts.get("roles") or {}
    if not roles.get("rds_session_host"):
        out.warnings.append(
            "the RD Session Host role (RDS-RD-Server) is not installed on this host; RD IP "
            "Virtualization takes effect only on an RD Session Host"
        )

    out.values = [
        _value(rds.ENABLE, "dword", 1),
        _value(rds.MODE, "dword", rds.MODE_VALUES[options.mode]),
        _value(rds.PROGRAMS, "multistring", out.programs)
        if options.mode == "per_program"
        else _absent(rds.PROGRAMS, "multistring"),
        _value(rds.ADAPTER, "string", out.adapter_subnet),
        _value(rds.NO_FALLBACK, "dword", 0 if options.fallback_to_server_ip else 1),
    ]

    build = int(os_info.get("build") or 0)
    needs_fix = build >= SERVER_2019_BUILD
    rds_facts: Mapping[str, Any] = facts.get("rds_ip_virtualization") or {}
    lsp_present = bool(rds_facts.get("lsp_catalog_entry_present"))
    backup_present = bool(rds_facts.get("lsp_catalog_backup_present"))
    if options.restore_lsp_catalog:
        if options.fix_lsp_catalog:
            raise RdsIpVirtualizationError(
                "fix_lsp_catalog: true and restore_lsp_catalog: true ask for opposite things; set one of them"
            )
        _plan_restore(out, lsp_present, backup_present)
        if needs_fix:
            out.warnings.append(
                f"restore_lsp_catalog: on Windows Server 2019 and later RD IP Virtualization does not work while "
                f"{rds.LSP_CATALOG_KEY} is present (KB 4501072)"
            )
    else:
        wanted = needs_fix if options.fix_lsp_catalog is None else options.fix_lsp_catalog
        if wanted and needs_fix:
            out.fix_lsp_catalog = True
            _plan_fix(out, lsp_present, backup_present)
        elif wanted:
            out.warnings.append(
                f"fix_lsp_catalog has no effect on build {build}: the Winsock catalog fix is for Windows "
                f"Server 2019 (build {SERVER_2019_BUILD}) and later"
            )
        elif needs_fix and lsp_present:
            out.warnings.append(
                f"fix_lsp_catalog is false and {rds.LSP_CATALOG_KEY} is present: on Windows Server 2019 "
                "and later Microsoft renames it for IP virtualization to work (KB 4501072)"
            )
    _plan_loopback(out, options, facts, os_info, enabled=True)
    return out


def _plan_fix(out: RdsPlan, lsp_present: bool, backup_present: bool) -> None:
    """Rename the Winsock catalog entry to its backup name (KB 4501072), or remove it if a backup exists."""
    if lsp_present and not backup_present:
        out.keys_moved = [
            {"path": rds.LSP_CATALOG_KEY, "to": rds.LSP_CATALOG_BACKUP_KEY, "reboot_required": True}
        ]
        out.lsp_catalog_backup = rds.LSP_CATALOG_BACKUP_KEY
    elif lsp_present:
        out.keys_absent = [{"path": rds.LSP_CATALOG_KEY, "reboot_required": True}]
        out.lsp_catalog_backup = rds.LSP_CATALOG_BACKUP_KEY
        out.warnings.append(
            f"{rds.LSP_CATALOG_BACKUP_KEY} already exists and is kept; {rds.LSP_CATALOG_KEY} is removed instead "
            "of renamed (Microsoft: deleting it has the same effect)"
        )
    elif backup_present:
        out.lsp_catalog_backup = rds.LSP_CATALOG_BACKUP_KEY


def _plan_restore(out: RdsPlan, lsp_present: bool, backup_present: bool) -> None:
    """The way back: rename the backup to the entry, or write Microsoft's documented defaults."""
    if lsp_present:
        if backup_present:
            out.lsp_catalog_backup = rds.LSP_CATALOG_BACKUP_KEY
            out.warnings.append(
                f"restore_lsp_catalog: {rds.LSP_CATALOG_KEY} is present, nothing to restore; the backup "
                f"{rds.LSP_CATALOG_BACKUP_KEY} is left in place"
            )
        return
    out.lsp_catalog_restore = True
    if backup_present:
        out.keys_moved = [
            {"path": rds.LSP_CATALOG_BACKUP_KEY, "to": rds.LSP_CATALOG_KEY, "reboot_required": True}
        ]
        return
    out.values.extend(
        {
            "path": rds.LSP_CATALOG_KEY,
            "name": name,
            "type": reg_type,
            "data": data,
            "state": "present",
            "reboot_required": True,
        }
        for name, reg_type, data in rds.LSP_CATALOG_DEFAULTS
    )
    out.warnings.append(
        f"restore_lsp_catalog: no backup {rds.LSP_CATALOG_BACKUP_KEY} exists; {rds.LSP_CATALOG_KEY} is recreated "
        "with the default values Microsoft's KB 4501072 lists (AppFullPath, PermittedLspCategories)"
    )


def _plan_loopback(
    out: RdsPlan, options: RdsOptions, facts: Mapping[str, Any], os_info: Mapping[str, Any], enabled: bool
) -> None:
    """RD IP Virtualization's own loopback virtualization (Win32_TSVirtualIP, Server 2012+)."""
    rds_facts: Mapping[str, Any] = facts.get("rds_ip_virtualization") or {}
    current = rds_facts.get("virtualize_loopback")
    wanted = options.virtualize_loopback
    if wanted is None:
        if not enabled and current:
            out.warnings.append(
                f"{rds.WMI_CLASS}.{rds.WMI_LOOPBACK_PROPERTY} is still 1; set virtualize_loopback: false to turn "
                "loopback virtualization off too"
            )
        return
    if not enabled and wanted:
        raise RdsIpVirtualizationError(
            "virtualize_loopback: true with state disabled: loopback virtualization is part of RD IP "
            "Virtualization and does nothing while it is off; use state enabled, or virtualize_loopback: false"
        )
    build = int(os_info.get("build") or 0)
    if build < SERVER_2012_BUILD:
        if not wanted:
            return
        raise RdsIpVirtualizationError(
            f"virtualize_loopback: {_describe_os(os_info)} has no loopback virtualization in RD IP "
            f"Virtualization; {rds.WMI_CLASS}.{rds.WMI_LOOPBACK_PROPERTY} exists from Windows Server 2012 "
            f"(build {SERVER_2012_BUILD}) on. Leave virtualize_loopback unset there"
        )
    if not rds_facts.get("wmi_available") or current is None:
        if not wanted:
            return
        raise RdsIpVirtualizationError(
            f"virtualize_loopback: WMI {rds.WMI_NAMESPACE}:{rds.WMI_CLASS} with {rds.WMI_LOOPBACK_PROPERTY} "
            "could not be read on this host; install the RD Session Host role (RDS-RD-Server), or leave "
            "virtualize_loopback unset"
        )
    out.virtualize_loopback = bool(wanted)
    out.cim_properties = [
        {
            "namespace": rds.WMI_NAMESPACE,
            "class_name": rds.WMI_CLASS,
            "property": rds.WMI_LOOPBACK_PROPERTY,
            "value": 1 if wanted else 0,
            "method": rds.WMI_LOOPBACK_METHOD,
            "reboot_required": True,
        }
    ]


def _plan_disabled(options: RdsOptions, facts: Mapping[str, Any], os_info: Mapping[str, Any]) -> RdsPlan:
    out = RdsPlan(values=[_absent(name, reg_type) for name, reg_type in rds.MANAGED_VALUES])
    rds_facts: Mapping[str, Any] = facts.get("rds_ip_virtualization") or {}
    if options.restore_lsp_catalog:
        _plan_restore(
            out,
            bool(rds_facts.get("lsp_catalog_entry_present")),
            bool(rds_facts.get("lsp_catalog_backup_present")),
        )
    elif rds_facts.get("lsp_catalog_backup_present") and not rds_facts.get("lsp_catalog_entry_present"):
        out.lsp_catalog_backup = rds.LSP_CATALOG_BACKUP_KEY
    _plan_loopback(out, options, facts, os_info, enabled=False)
    ignored = [
        name
        for name, given in (
            ("programs", bool(options.programs)),
            ("adapter_subnet", options.adapter_subnet is not None),
            ("fix_lsp_catalog", options.fix_lsp_catalog is not None),
        )
        if given
    ]
    if ignored:
        out.warnings.append(f"{', '.join(ignored)} ignored with state disabled")
    local = (facts.get("rds_ip_virtualization") or {}).get("local") or {}
    if local.get("enabled"):
        out.warnings.append(
            f"the non-policy key {rds.LOCAL_KEY} (WMI Win32_TSVirtualIP) still turns IP virtualization on; "
            "once the policy values are removed that local setting applies. Turn it off there too"
        )
    if os_info.get("kind") not in (None, "server"):
        out.warnings.append(f"{_describe_os(os_info)} does not support RD IP Virtualization")
    return out


def plan_summary(result: RdsPlan) -> dict[str, Any]:
    """The feature-level part of the module result."""
    return {
        "adapter": result.adapter,
        "adapter_subnet": result.adapter_subnet,
        "programs": list(result.programs),
        "lsp_catalog_fix": result.fix_lsp_catalog,
        "lsp_catalog_backup": result.lsp_catalog_backup,
        "lsp_catalog_restore": result.lsp_catalog_restore,
        "virtualize_loopback": result.virtualize_loopback,
    }
