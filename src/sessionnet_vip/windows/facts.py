"""``vip_info``: which registry keys to read, and how raw facts become the documented result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sessionnet_vip.windows import citrix, rds
from sessionnet_vip.windows import registry as reg
from sessionnet_vip.windows.profiles import os_facts

#: Every key vip_info reads, as (path, view). The PowerShell side reads exactly these.
REGISTRY_KEYS: Final[tuple[tuple[str, str], ...]] = (
    (rds.POLICY_KEY, "64"),
    (rds.LOCAL_KEY, "64"),
    (rds.LSP_CATALOG_KEY, "64"),
    (rds.LSP_CATALOG_BACKUP_KEY, "64"),
    (citrix.VIP_KEY, citrix.VIP_VIEW),
    (citrix.VDA_KEY, "64"),
    (citrix.VDA_UNINSTALL_KEY, "64"),
)


#: Every CIM class vip_info reads, as (namespace, class, properties).
CIM_CLASSES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    (rds.WMI_NAMESPACE, rds.WMI_CLASS, (rds.WMI_LOOPBACK_PROPERTY,)),
)


def registry_request() -> list[dict[str, str]]:
    """The ``registry_keys`` option sent to the Windows side."""
    return [{"path": path, "view": view} for path, view in REGISTRY_KEYS]


def cim_request() -> list[dict[str, Any]]:
    """The ``cim_classes`` option sent to the Windows side."""
    return [
        {"namespace": namespace, "class_name": name, "properties": list(props)}
        for namespace, name, props in CIM_CLASSES
    ]


def cim_instances(raw: Mapping[str, Any], namespace: str, class_name: str) -> list[Mapping[str, Any]] | None:
    """Instances of a class read by ``vip_info`` (``None`` when it was not available)."""
    for entry in raw.get("cim") or []:
        if (
            str(entry.get("namespace", "")).casefold() == namespace.casefold()
            and str(entry.get("class_name", "")).casefold() == class_name.casefold()
        ):
            return list(entry.get("instances") or []) if entry.get("available") else None
    return None


def virtualize_loopback(raw: Mapping[str, Any]) -> bool | None:
    """``Win32_TSVirtualIP.VirtualizeLoopbackAddressesEnabled`` as a bool; ``None`` where unknown."""
    instances = cim_instances(raw, rds.WMI_NAMESPACE, rds.WMI_CLASS)
    if not instances:
        return None
    value = instances[0].get(rds.WMI_LOOPBACK_PROPERTY)
    return None if value is None else bool(int(value))


def _key_values(raw: Mapping[str, Any], path: str, view: str) -> tuple[bool, dict[str, Any]]:
    want = reg.key_identity(reg.parse_key(path), view)
    for entry in raw.get("registry") or []:
        if reg.key_identity(reg.parse_key(entry["path"]), str(entry.get("view", "64"))) == want:
            values = {
                str(v["name"]).casefold(): reg.data_from_wire(str(v["type"]), v.get("data"))
                for v in entry.get("values") or []
            }
            return bool(entry.get("exists")), values
    return False, {}


def _rds_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    mode = values.get(rds.MODE.casefold())
    return {
        "enabled": None if rds.ENABLE.casefold() not in values else bool(values[rds.ENABLE.casefold()]),
        "mode": None if mode is None else ("per_session" if mode == 0 else "per_program"),
        "programs": values.get(rds.PROGRAMS.casefold()),
        "adapter_subnet": values.get(rds.ADAPTER.casefold()),
        "fallback_to_server_ip": None
        if rds.NO_FALLBACK.casefold() not in values
        else not bool(values[rds.NO_FALLBACK.casefold()]),
    }


def rds_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Policy, local and effective RD IP Virtualization settings (policy wins field by field)."""
    _policy_present, policy_values = _key_values(raw, rds.POLICY_KEY, "64")
    _local_present, local_values = _key_values(raw, rds.LOCAL_KEY, "64")
    policy = _rds_settings(policy_values)
    local = _rds_settings(local_values)
    effective = {k: policy[k] if policy[k] is not None else local[k] for k in policy}
    if effective["enabled"] is None:
        effective["enabled"] = False
    lsp_present, _lsp_values = _key_values(raw, rds.LSP_CATALOG_KEY, "64")
    backup_present, _backup_values = _key_values(raw, rds.LSP_CATALOG_BACKUP_KEY, "64")
    return {
        "policy": policy,
        "local": local,
        "effective": effective,
        "policy_raw": {k: _plain(v) for k, v in policy_values.items()},
        "lsp_catalog_entry_present": lsp_present,
        "lsp_catalog_backup_present": backup_present,
        "virtualize_loopback": virtualize_loopback(raw),
        "wmi_available": cim_instances(raw, rds.WMI_NAMESPACE, rds.WMI_CLASS) is not None,
    }


def citrix_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    vda_present, _vda_values = _key_values(raw, citrix.VDA_KEY, "64")
    _uninstall_present, uninstall = _key_values(raw, citrix.VDA_UNINSTALL_KEY, "64")
    vip_present, vip = _key_values(raw, citrix.VIP_KEY, citrix.VIP_VIEW)
    prefer = vip.get(citrix.PREFER_LOOPBACK.casefold())
    return {
        "vda_installed": vda_present,
        "vda_version": uninstall.get("displayversion") if vda_present else None,
        "prefer_loopback": None if prefer is None else bool(prefer),
        "prefer_loopback_processes": vip.get(citrix.PREFER_LOOPBACK_PROCESSES.casefold()),
        "vip_key_present": vip_present,
    }


def _plain(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def shape(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The documented result of ``vip_info`` from the raw answer of the Windows side."""
    osf = os_facts(raw.get("os") or {})
    features = raw.get("features") or {}
    adapters: Sequence[Mapping[str, Any]] = raw.get("adapters") or []
    return {
        "hostname": raw.get("hostname"),
        "os": osf.as_dict(),
        "roles": {
            "rds_session_host": bool(features.get("rds_session_host")),
            "dhcp_server": bool(features.get("dhcp_server")),
        },
        "citrix": citrix_state(raw),
        "adapters": [
            {
                "name": a.get("name"),
                "index": a.get("index"),
                "mac": a.get("mac"),
                "status": a.get("status"),
                "dhcp": bool(a.get("dhcp")),
                "ipv4": [
                    {
                        "address": ip.get("address"),
                        "prefix_length": ip.get("prefix_length"),
                        "skip_as_source": bool(ip.get("skip_as_source")),
                        "prefix_origin": ip.get("prefix_origin"),
                        "address_state": ip.get("address_state"),
                    }
                    for ip in a.get("ipv4") or []
                ],
            }
            for a in adapters
        ],
        "sessions": [dict(s) for s in raw.get("sessions") or []],
        "rds_ip_virtualization": rds_state(raw),
        "simulated": bool(raw.get("simulated")),
    }
