"""A simulator of the Windows-side contract, for hosts that are not Windows.

SIMULATION: nothing here touches a real Windows machine. A simulated host is a JSON state
file; the simulator answers the same calls, with the same options and result keys, as the
PowerShell modules under ``plugins/modules/*.ps1`` do on a real host, and marks every answer
``simulated: true``. The collection's gateway (``plugins/plugin_utils/gateway.py``) uses it
for hosts whose inventory sets ``sessionnet_simulated_windows_state``.

Registry semantics kept faithful where they matter: key and value names are case-insensitive
(their first spelling is kept), each value keeps its type, the 32- and 64-bit views are
separate except that ``HKLM\\SOFTWARE\\X`` in the 32-bit view is ``HKLM\\SOFTWARE\\Wow6432Node\\X``
in the 64-bit view, and REG_MULTI_SZ keeps its order. Data is stored in the wire format of
:mod:`sessionnet_vip.windows.registry` (integers as decimal strings, binary as hex).
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from sessionnet_vip import strictjson
from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import citrix, citrix_site_sim, rds, sim_network, sim_sockets

if sys.platform == "win32":

    def _lock(handle: IO[str]) -> None:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # released when the file closes
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle, fcntl.LOCK_EX)


from sessionnet_vip.windows import registry as reg
from sessionnet_vip.windows.profiles import DEFAULT_PROFILE, PROFILES, SERVER_2012_BUILD, SERVER_2019_BUILD

STATE_SCHEMA: Final = 1
FEATURES: Final = ("rds", "citrix_vda", "dhcp_server", "citrix_ddc")
DEFAULT_ADAPTERS: Final = ({"name": "Ethernet", "mac": "00-15-5D-00-00-10", "ipv4": ["10.20.0.10/24"]},)

#: The Winsock catalog entry Microsoft has removed for RD IP Virtualization on Server 2019+
#: (support article "remote-desktop-ip-virtualization"; seeded so the fix has something to do).
#: The key paths are defined once, in :mod:`rds` and :mod:`citrix`; these names are aliases.
LSP_CATALOG_KEY: Final = rds.LSP_CATALOG_KEY
CITRIX_VDA_KEY: Final = citrix.VDA_KEY
CITRIX_UNINSTALL_KEY: Final = citrix.VDA_UNINSTALL_KEY
SIMULATED_VDA_VERSION: Final = "2402.0.100.629"


class SimulatorError(VipError):
    """The simulated host cannot do what was asked (the real module would fail the same way)."""


@dataclass(frozen=True)
class HostSeed:
    """Inventory variables that seed a *new* state file (afterwards the file is the truth)."""

    profile: str = DEFAULT_PROFILE
    features: Sequence[str] = ()
    adapters: Sequence[Mapping[str, Any]] = field(default_factory=lambda: list(DEFAULT_ADAPTERS))
    hostname: str = "SIMHOST"
    sockets: Sequence[Mapping[str, Any]] = ()


def validate_seed(seed: HostSeed) -> None:
    if seed.profile not in PROFILES:
        raise SimulatorError(
            f"sessionnet_simulated_windows_profile {seed.profile!r} is unknown; use one of {', '.join(PROFILES)}"
        )
    for feature in seed.features:
        if feature not in FEATURES:
            raise SimulatorError(
                f"sessionnet_simulated_windows_features: {feature!r} is unknown; use some of {', '.join(FEATURES)}"
            )
    for index, adapter in enumerate(seed.adapters):
        if not isinstance(adapter, Mapping) or not adapter.get("name"):
            raise SimulatorError(f"sessionnet_simulated_windows_adapters[{index}] needs a name")
        for cidr in adapter.get("ipv4") or []:
            try:
                ipaddress.IPv4Interface(str(cidr))
            except ValueError as exc:
                raise SimulatorError(
                    f"sessionnet_simulated_windows_adapters[{index}].ipv4: {cidr!r} is not an address/prefix "
                    "like 10.20.0.10/24"
                ) from exc
        if not isinstance(adapter.get("dhcp", False), bool):
            raise SimulatorError(f"sessionnet_simulated_windows_adapters[{index}].dhcp must be true or false")
        for text in adapter.get("taken_on_link") or []:
            try:
                ipaddress.IPv4Address(str(text))
            except ValueError as exc:
                raise SimulatorError(
                    f"sessionnet_simulated_windows_adapters[{index}].taken_on_link: {text!r} is not an IPv4 "
                    "address (list the addresses other machines on this adapter's network hold)"
                ) from exc


def new_state(seed: HostSeed) -> dict[str, Any]:
    """Return the state of a freshly installed simulated host."""
    validate_seed(seed)
    profile = PROFILES[seed.profile]
    state: dict[str, Any] = {
        "simulated": True,
        "schema": STATE_SCHEMA,
        "profile": profile.name,
        "hostname": seed.hostname,
        "os": {
            "caption": profile.caption,
            "version": profile.version,
            "build": profile.build,
            "product_type": profile.product_type,
            "edition_id": profile.edition_id,
            "installation_type": profile.installation_type,
        },
        "features": sorted(set(seed.features)),
        "adapters": [],
        "sessions": [],
        "registry": {},
        "dhcp": {"scopes": []},
        "calls": 0,
    }
    for index, adapter in enumerate(seed.adapters):
        dhcp = bool(adapter.get("dhcp", False))
        entry: dict[str, Any] = {
            "name": str(adapter["name"]),
            "index": int(adapter.get("index", index + 10)),
            "mac": str(adapter.get("mac") or f"00-15-5D-00-00-{index + 16:02X}"),
            "status": "Up",
            "ipv4": [
                {
                    "address": str(ipaddress.IPv4Interface(str(c)).ip),
                    "prefix_length": ipaddress.IPv4Interface(str(c)).network.prefixlen,
                    "skip_as_source": False,
                    **({"prefix_origin": "Dhcp"} if dhcp else {}),
                }
                for c in adapter.get("ipv4") or []
            ],
        }
        if dhcp:
            entry["dhcp"] = True
        if adapter.get("taken_on_link"):
            # SIMULATION only: addresses other machines on this adapter's link hold (an added one
            # becomes Duplicate, as duplicate address detection marks it on Windows).
            entry["taken_on_link"] = [str(ipaddress.IPv4Address(str(a))) for a in adapter["taken_on_link"]]
        state["adapters"].append(entry)
    state["sockets"] = sim_sockets.validate(seed.sockets)
    sim_network.seed_dhcp(state, list(seed.features))
    sim = _Registry(state["registry"])
    if profile.build >= SERVER_2019_BUILD and profile.installation_type == "Server":
        key = reg.parse_key(LSP_CATALOG_KEY)
        for name, reg_type, data in rds.LSP_CATALOG_DEFAULTS:
            sim.set_value(key, "64", name, reg_type, reg.data_to_wire(reg_type, data))
    if "rds" in seed.features:
        # WMI Win32_TSVirtualIP (root\cimv2\TerminalServices), one instance; the loopback
        # property exists from Windows Server 2012 on (Microsoft Learn, Win32_TSVirtualIP).
        tsvip: dict[str, Any] = {"VirtualIPActive": 0, "VirtualIPMode": 0}
        if profile.build >= SERVER_2012_BUILD:
            tsvip[rds.WMI_LOOPBACK_PROPERTY] = 0
        state["cim"] = {rds.WMI_NAMESPACE.casefold(): {rds.WMI_CLASS.casefold(): [tsvip]}}
        state["sessions"] = [
            {
                "id": 2,
                "user": "SIM\\alice",
                "state": "Active",
                "client_address": "192.0.2.21",
                "session_address": None,
            },
            {
                "id": 3,
                "user": "SIM\\bob",
                "state": "Active",
                "client_address": "192.0.2.22",
                "session_address": None,
            },
        ]
    if "citrix_vda" in seed.features:
        sim.set_value(reg.parse_key(CITRIX_VDA_KEY), "64", "ListOfDDCs", "string", "ddc01.example.test")
        sim.set_value(
            reg.parse_key(CITRIX_UNINSTALL_KEY), "64", "DisplayVersion", "string", SIMULATED_VDA_VERSION
        )
    if "citrix_ddc" in seed.features:
        state["citrix_site"] = citrix_site_sim.new_site(seed.hostname)
    return state


#: Sections of a state file and the JSON type each must have (``new_state`` writes them all).
STATE_SECTIONS: Final[Mapping[str, type | tuple[type, ...]]] = {
    "os": dict,
    "features": list,
    "adapters": list,
    "sessions": list,
    "registry": dict,
    "dhcp": dict,
    "calls": int,
}


def state_problem(state: object) -> str | None:
    """What makes ``state`` unusable as a simulated host's state, or ``None`` when it is usable.

    Checked before any module twin runs, so that a hand-edited or truncated file is one clean
    refusal instead of a ``KeyError`` deep inside a twin."""
    if not isinstance(state, dict) or state.get("simulated") is not True:
        return "no 'simulated: true' mark"
    for key, kind in STATE_SECTIONS.items():
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"section '{key}' is missing or not a {getattr(kind, '__name__', kind)}"
    if not isinstance(state["dhcp"].get("scopes"), list):
        return "section 'dhcp.scopes' is missing or not a list"
    if not all(isinstance(a, dict) for a in state["adapters"]):
        return "an entry of 'adapters' is not a mapping"
    if not all(isinstance(k, dict) and isinstance(k.get("values"), dict) for k in state["registry"].values()):
        return "an entry of 'registry' is not a mapping with 'values'"
    if "citrix_site" in state and not isinstance(state["citrix_site"], dict):
        return "section 'citrix_site' is not a mapping"
    return None


class _Registry:
    """Registry operations over the ``registry`` part of a state (see the module docstring)."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys  # "HIVE\\sub-casefolded" -> {"path": spelled, "values": {lname: {...}}}

    @staticmethod
    def _id(key: reg.RegKey, view: str) -> str:
        hive, sub = reg.key_identity(key, view)
        return f"{hive}\\{sub}" if sub else hive

    def exists(self, key: reg.RegKey, view: str) -> bool:
        ident = self._id(key, view)
        return ident in self.keys or any(k.startswith(ident + "\\") for k in self.keys)

    def get(self, key: reg.RegKey, view: str, name: str) -> dict[str, Any] | None:
        entry = self.keys.get(self._id(key, view))
        if entry is None:
            return None
        found = entry["values"].get(name.casefold())
        return dict(found) if found else None

    def _ensure(self, key: reg.RegKey, view: str) -> dict[str, Any]:
        parts = key.subpath.split("\\") if key.subpath else []
        entry: dict[str, Any] = {}
        for depth in range(1, len(parts) + 1):
            sub_key = reg.RegKey(key.hive, "\\".join(parts[:depth]))
            ident = self._id(sub_key, view)
            entry = self.keys.setdefault(ident, {"path": reg.display_path(sub_key, view), "values": {}})
        return entry

    def set_value(self, key: reg.RegKey, view: str, name: str, reg_type: str, data: Any) -> None:
        entry = self._ensure(key, view)
        old = entry["values"].get(name.casefold())
        spelled = old["name"] if old else name
        entry["values"][name.casefold()] = {"name": spelled, "type": reg_type, "data": copy.deepcopy(data)}

    def delete_value(self, key: reg.RegKey, view: str, name: str) -> None:
        entry = self.keys.get(self._id(key, view))
        if entry is not None:
            entry["values"].pop(name.casefold(), None)

    def delete_tree(self, key: reg.RegKey, view: str) -> None:
        ident = self._id(key, view)
        for k in [k for k in self.keys if k == ident or k.startswith(ident + "\\")]:
            del self.keys[k]

    def move_tree(self, source: reg.RegKey, target: reg.RegKey, view: str) -> None:
        """Rename ``source`` (and everything below it) to ``target``, keeping values and kinds."""
        src = self._id(source, view)
        self._ensure(target, view)
        target_entry = self.keys[self._id(target, view)]
        target_spelled = target_entry["path"]
        moved = {k: v for k, v in self.keys.items() if k == src or k.startswith(src + "\\")}
        src_spelled = reg.display_path(source, view)
        for ident, entry in moved.items():
            del self.keys[ident]
            rest_id = ident[len(src) :]
            rest_path = (
                entry["path"][len(src_spelled) :]
                if entry["path"].casefold().startswith(src_spelled.casefold())
                else ""
            )
            new_id = self._id(target, view) + rest_id
            self.keys[new_id] = {"path": target_spelled + rest_path, "values": entry["values"]}

    def read_key(self, key: reg.RegKey, view: str) -> dict[str, Any]:
        ident = self._id(key, view)
        entry = self.keys.get(ident)
        subkeys = sorted(
            {
                self.keys[k]["path"].split("\\")[len(ident.split("\\"))]
                for k in self.keys
                if k.startswith(ident + "\\")
            }
        )
        return {
            "path": key.path,
            "view": view,
            "exists": self.exists(key, view),
            "values": [dict(v) for v in (entry or {"values": {}})["values"].values()],
            "subkeys": subkeys,
        }


def _view_option() -> dict[str, Any]:
    """The ``view`` option every registry path of a simulated module takes (a fresh copy each time)."""
    return {"type": "str", "default": "64", "choices": ["64", "32"]}


#: Options of each simulated module, written like an Ansible argument spec. CI checks that
#: these equal the options documented in plugins/modules/<module>.py and the .ps1 ``$spec``.
SPECS: Final[dict[str, dict[str, Any]]] = {
    "registry_state": {
        "values": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "str", "required": True},
                "name": {"type": "str", "required": True},
                "type": {"type": "str", "choices": list(reg.REG_TYPES)},
                "data": {"type": "raw"},
                "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
                "view": _view_option(),
                "reboot_required": {"type": "bool", "default": False},
            },
        },
        "keys_absent": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "str", "required": True},
                "view": _view_option(),
                "reboot_required": {"type": "bool", "default": False},
            },
        },
        "keys_moved": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "str", "required": True},
                "to": {"type": "str", "required": True},
                "view": _view_option(),
                "reboot_required": {"type": "bool", "default": False},
            },
        },
        "cim_properties": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "namespace": {"type": "str", "required": True},
                "class_name": {"type": "str", "required": True},
                "property": {"type": "str", "required": True},
                "value": {"type": "int", "required": True},
                "method": {"type": "str", "required": True},
                "reboot_required": {"type": "bool", "default": False},
            },
        },
        "allowed_hives": {"type": "list", "elements": "str", "default": ["HKLM"]},
    },
    "vip_info": {
        "registry_keys": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "str", "required": True},
                "view": _view_option(),
            },
        },
        "cim_classes": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "namespace": {"type": "str", "required": True},
                "class_name": {"type": "str", "required": True},
                "properties": {"type": "list", "elements": "str", "required": True},
            },
        },
    },
    **sim_network.SPECS,
    **sim_sockets.SPECS,
    "citrix_policy_state": {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "policy_type": {"type": "str", "default": "computer", "choices": ["computer", "user"]},
        "store": {"type": "str", "default": "controller", "choices": ["controller", "domain_gpo"]},
        "controller": {"type": "str", "default": "localhost"},
        "gpo": {"type": "str"},
        "enabled": {"type": "bool"},
        "priority": {"type": "int"},
        "description": {"type": "str"},
        "settings": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "name": {"type": "str", "required": True},
                "state": {
                    "type": "str",
                    "required": True,
                    "choices": ["Enabled", "Disabled", "Allowed", "Prohibited", "UseDefault"],
                },
                "values": {"type": "list", "elements": "str"},
            },
        },
        "filters": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "type": {"type": "str", "required": True},
                "value": {"type": "str", "required": True},
                "mode": {"type": "str", "default": "Allow", "choices": ["Allow", "Deny"]},
                "enabled": {"type": "bool", "default": True},
            },
        },
        "purge_filter_types": {"type": "list", "elements": "str", "default": []},
    },
}


class Simulator:
    """One simulated Windows host, backed by a JSON state file (locked while in use)."""

    def __init__(self, state_path: str, seed: HostSeed | None = None) -> None:
        self.state_path = os.path.abspath(os.path.expanduser(state_path))
        self.seed = seed or HostSeed()
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, Any], bool], dict[str, Any]]] = {
            "registry_state": self._registry_state,
            "vip_info": self._vip_info,
            **sim_network.HANDLERS,
            **sim_sockets.HANDLERS,
            "citrix_policy_state": citrix_site_sim.citrix_policy_state,
        }

    def register(
        self, module: str, handler: Callable[[dict[str, Any], dict[str, Any], bool], dict[str, Any]]
    ) -> None:
        """Add a module twin (used by feature areas that bring their own Windows-side module)."""
        self._handlers[module] = handler

    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        directory = os.path.dirname(self.state_path) or "."
        os.makedirs(directory, exist_ok=True)
        with open(self.state_path + ".lock", "a+") as lock:
            _lock(lock)
            if os.path.exists(self.state_path):
                try:
                    with open(self.state_path, "rb") as handle:
                        state = strictjson.loads(handle.read())
                except (OSError, ValueError) as exc:
                    raise SimulatorError(
                        f"simulated host state {self.state_path} is not readable JSON ({exc}); "
                        "remove it to start the simulated host afresh"
                    ) from exc
                problem = state_problem(state)
                if problem is not None:
                    raise SimulatorError(
                        f"{self.state_path} is not a sessionnet simulated-host state file ({problem}); "
                        "refusing to use it. Remove it to start the simulated host afresh"
                    )
            else:
                state = new_state(self.seed)
            before = json.dumps(state, sort_keys=True)
            yield state
            after = json.dumps(state, sort_keys=True)
            if after != before or not os.path.exists(self.state_path):
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sim-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(state, handle, indent=1, sort_keys=True)
                os.replace(tmp, self.state_path)

    def call(self, module: str, args: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
        """Run one module call against the host, as one round trip; returns the raw module result."""
        handler = self._handlers.get(module)
        if handler is None:
            raise SimulatorError(f"the simulator has no twin of module {module!r}")
        with self._locked_state() as state:
            state["calls"] = int(state.get("calls", 0)) + 1
            result = handler(state, dict(args), check_mode)
        result["simulated"] = True
        result.setdefault("changed", False)
        return result

    def read_state(self) -> dict[str, Any]:
        with self._locked_state() as state:
            return copy.deepcopy(state)

    # --- module twins ----------------------------------------------------------------------

    @staticmethod
    def _registry_state(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        sim = _Registry(state["registry"])
        # keys_moved and cim_properties are checked before anything changes (like the .ps1)
        moves = []
        for item in args.get("keys_moved") or []:
            source, target = reg.parse_key(item["path"]), reg.parse_key(item["to"])
            view = str(item.get("view") or "64")
            ends = {"source": sim.exists(source, view), "target": sim.exists(target, view)}
            if ends["source"] and ends["target"]:
                raise SimulatorError(
                    f"keys_moved: both {item['path']} and {item['to']} exist (view {view}); nothing was written. "
                    "Compare them and remove one"
                )
            moves.append((item, source, target, view, ends))
        cim_found = []
        for item in args.get("cim_properties") or []:
            instances = _cim_instances(state, str(item["namespace"]), str(item["class_name"]))
            if not instances or item["property"] not in instances[0]:
                raise SimulatorError(
                    f"cim_properties ({item['namespace']}:{item['class_name']}) has no instance with property "
                    f"{item['property']}; nothing was written"
                )
            cim_found.append((item, instances[0]))
        out_values: list[dict[str, Any]] = []
        changed = False
        for item in args.get("values") or []:
            key = reg.parse_key(item["path"])
            view = str(item.get("view") or "64")
            found = sim.get(key, view, item["name"])
            result = {
                "path": key.path,
                "name": item["name"],
                "view": view,
                "exists": found is not None,
                "type": found["type"] if found else None,
                "data": found["data"] if found else None,
            }
            out_values.append(result)
            if item.get("state", "present") == "present":
                same = found is not None and found["type"] == item["type"] and found["data"] == item["data"]
                if not same:
                    changed = True
                    if not check_mode:
                        sim.set_value(key, view, item["name"], item["type"], item["data"])
            elif found is not None:
                changed = True
                if not check_mode:
                    sim.delete_value(key, view, item["name"])
        out_keys: list[dict[str, Any]] = []
        for item in args.get("keys_absent") or []:
            key = reg.parse_key(item["path"])
            view = str(item.get("view") or "64")
            existed = sim.exists(key, view)
            out_keys.append({"path": key.path, "view": view, "existed": existed})
            if existed:
                changed = True
                if not check_mode:
                    sim.delete_tree(key, view)
        out_moves = []
        for item, source, target, view, ends in moves:
            if ends["source"] and not ends["target"]:
                changed = True
                if not check_mode:
                    sim.move_tree(source, target, view)
            out_moves.append(
                {
                    "path": item["path"],
                    "to": item["to"],
                    "view": view,
                    "source_existed": ends["source"],
                    "target_existed": ends["target"],
                }
            )
        out_cim = []
        for item, instance in cim_found:
            before = instance.get(item["property"])
            if before is None or int(before) != int(item["value"]):
                changed = True
                if not check_mode:
                    instance[item["property"]] = int(item["value"])
            out_cim.append(
                {
                    "namespace": item["namespace"],
                    "class_name": item["class_name"],
                    "property": item["property"],
                    "exists": True,
                    "before": before,
                }
            )
        return {
            "changed": changed,
            "values": out_values,
            "keys": out_keys,
            "moves": out_moves,
            "cim": out_cim,
        }

    @staticmethod
    def _vip_info(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        sim = _Registry(state["registry"])
        features = set(state.get("features") or [])
        return {
            "changed": False,
            "hostname": state.get("hostname"),
            "os": copy.deepcopy(state["os"]),
            "features": {"rds_session_host": "rds" in features, "dhcp_server": "dhcp_server" in features},
            "adapters": [
                {
                    "name": a["name"],
                    "index": a["index"],
                    "mac": a.get("mac"),
                    "status": a.get("status"),
                    "dhcp": bool(a.get("dhcp")),
                    "ipv4": sim_network.address_facts(a),
                }
                for a in state.get("adapters") or []
            ],
            "sessions": copy.deepcopy(state.get("sessions") or []),
            "registry": [
                sim.read_key(reg.parse_key(item["path"]), str(item.get("view") or "64"))
                for item in args.get("registry_keys") or []
            ],
            "cim": [read_cim_class(state, item) for item in args.get("cim_classes") or []],
        }


def _cim_instances(state: dict[str, Any], namespace: str, class_name: str) -> list[dict[str, Any]] | None:
    """The simulated instances of a CIM class, or ``None`` when the class does not exist."""
    found = (state.get("cim") or {}).get(namespace.casefold(), {}).get(class_name.casefold())
    return None if found is None else list(found)


def read_cim_class(state: dict[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """Twin of the ``cim_classes`` read of ``vip_info.ps1`` (Get-CimInstance)."""
    namespace, class_name = str(item["namespace"]), str(item["class_name"])
    entry: dict[str, Any] = {
        "namespace": namespace,
        "class_name": class_name,
        "available": False,
        "error": None,
        "instances": [],
    }
    instances = _cim_instances(state, namespace, class_name)
    if instances is None:
        entry["error"] = "Invalid class (simulated Get-CimInstance)"
        return entry
    entry["available"] = True
    entry["instances"] = [{p: inst.get(p) for p in item.get("properties") or []} for inst in instances]
    return entry


def seed_from_hostvars(hostvars: Mapping[str, Any], hostname: str = "SIMHOST") -> HostSeed:
    """Build a :class:`HostSeed` from the ``sessionnet_simulated_windows_*`` inventory variables."""
    features = hostvars.get("sessionnet_simulated_windows_features") or []
    adapters = hostvars.get("sessionnet_simulated_windows_adapters") or list(DEFAULT_ADAPTERS)
    if isinstance(features, str) or not isinstance(features, Sequence):
        raise SimulatorError("sessionnet_simulated_windows_features must be a list")
    if not isinstance(adapters, Sequence) or isinstance(adapters, str):
        raise SimulatorError("sessionnet_simulated_windows_adapters must be a list")
    return HostSeed(
        profile=str(hostvars.get("sessionnet_simulated_windows_profile") or DEFAULT_PROFILE),
        features=[str(f) for f in features],
        adapters=list(adapters),
        hostname=hostname.split(".")[0].upper()[:15] or "SIMHOST",
        sockets=hostvars.get(sim_sockets.VARIABLE) or (),
    )
