"""Simulator twin of ``vip_socket_info.ps1``: the sockets of a simulated host's programs.

SIMULATION: nothing here touches Windows. A simulated host's sockets come from its inventory
variable ``sessionnet_simulated_windows_sockets`` (copied into a *new* state file, like every
seed variable), one entry per socket::

    - {exe: 'C:\\Program Files\\CTI\\agent.exe', session: 2, user: SIM\\alice, pid: 4100,
       local_address: 0.0.0.0, local_port: 9000}                      # a listener
    - {exe: ..., session: 3, pid: 4200, local_address: 10.20.0.10, local_port: [50123, 50999],
       remote_address: 10.0.0.5, remote_port: 443}                   # a connection

``protocol`` defaults to ``tcp``; ``state`` to ``listen`` (TCP without a remote end), ``bound``
(UDP without one) or ``established``. A list as ``local_port`` gives one port per sample, in
turn (a program that takes a new ephemeral port each time). The answer has the raw shape of
``vip_socket_info.ps1``; the simulator's ``SPECS`` entry is checked against its docs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sessionnet_vip.errors import VipError

VARIABLE: Final = "sessionnet_simulated_windows_sockets"

SPECS: Final[dict[str, dict[str, Any]]] = {
    "vip_socket_info": {
        "protocols": {
            "type": "list",
            "elements": "str",
            "default": ["tcp", "udp"],
            "choices": ["tcp", "udp"],
        },
    },
}


class SimulatedSocketError(VipError):
    """An entry of ``sessionnet_simulated_windows_sockets`` is malformed."""


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise SimulatedSocketError(f"{where}: {value!r} is not a port (1-65535)")
    return value


def validate(entries: Any) -> list[dict[str, Any]]:
    """Check the inventory entries; return them normalised (every key present)."""
    if entries is None:
        return []
    if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
        raise SimulatedSocketError(f"{VARIABLE} must be a list of sockets")
    out = []
    for index, entry in enumerate(entries):
        where = f"{VARIABLE}[{index}]"
        if not isinstance(entry, Mapping):
            raise SimulatedSocketError(f"{where} must be a mapping with exe, pid, local_address, local_port")
        missing = [k for k in ("exe", "pid", "local_address", "local_port") if entry.get(k) in (None, "")]
        if missing:
            raise SimulatedSocketError(f"{where}: give {', '.join(missing)}")
        protocol = str(entry.get("protocol", "tcp")).lower()
        if protocol not in ("tcp", "udp"):
            raise SimulatedSocketError(f"{where}.protocol: {protocol!r} is not tcp or udp")
        for key in ("local_address", "remote_address"):
            if entry.get(key) is not None:
                try:
                    ipaddress.ip_address(str(entry[key]))
                except ValueError as exc:
                    raise SimulatedSocketError(f"{where}.{key}: {entry[key]!r} is not an IP address") from exc
        ports = entry["local_port"] if isinstance(entry["local_port"], list) else [entry["local_port"]]
        if not ports:
            raise SimulatedSocketError(f"{where}.local_port: give a port or a non-empty list of ports")
        ports = [_port(p, f"{where}.local_port") for p in ports]
        remote = entry.get("remote_address")
        remote_port = (
            None if entry.get("remote_port") is None else _port(entry["remote_port"], f"{where}.remote_port")
        )
        if (remote is None) != (remote_port is None):
            raise SimulatedSocketError(f"{where}: give remote_address and remote_port together")
        default_state = "established" if remote is not None else ("listen" if protocol == "tcp" else "bound")
        out.append(
            {
                "exe": str(entry["exe"]),
                "pid": int(entry["pid"]),
                "session": None if entry.get("session") is None else int(entry["session"]),
                "user": None if entry.get("user") is None else str(entry["user"]),
                "protocol": protocol,
                "local_address": str(entry["local_address"]),
                "local_ports": ports,
                "remote_address": None if remote is None else str(remote),
                "remote_port": remote_port,
                "state": str(entry.get("state") or default_state).lower(),
            }
        )
    return out


def vip_socket_info(state: dict[str, Any], args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """One sample: each entry with the port of this sample (lists are taken in turn)."""
    del check_mode
    sample = int(state.get("socket_samples", 0))
    state["socket_samples"] = sample + 1
    protocols = set(args.get("protocols") or ["tcp", "udp"])
    sockets = []
    for entry in state.get("sockets") or []:
        if entry["protocol"] not in protocols:
            continue
        ports = entry["local_ports"]
        sockets.append(
            {
                "protocol": entry["protocol"],
                "family": 6 if ":" in entry["local_address"] else 4,
                "local_address": entry["local_address"],
                "local_port": ports[sample % len(ports)],
                "remote_address": entry["remote_address"],
                "remote_port": entry["remote_port"],
                "state": entry["state"],
                "pid": entry["pid"],
                "exe": entry["exe"],
                "session": entry["session"],
                "user": entry["user"],
            }
        )
    return {
        "changed": False,
        "platform": "windows",
        "sockets": sockets,
        "ephemeral_ports": [49152, 65535],
        "warnings": [],
    }


HANDLERS: Final = {"vip_socket_info": vip_socket_info}
