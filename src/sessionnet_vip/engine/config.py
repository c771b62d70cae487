"""The engine's YAML configuration (``vipctl serve --config FILE``).

Every key is checked; an unknown key, a bad type or an unusable pool is an error that names
the key and the fix, and nothing is started. See ``docs/engine.md`` for the reference.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sessionnet_vip import yamlfile
from sessionnet_vip.coerce import as_number, brief
from sessionnet_vip.engine.agentconfig import DataPlaneSettings, parse_data_plane
from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH
from sessionnet_vip.engine.policy import Platform, Policy
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.windows.pipename import DEFAULT_PIPE as DEFAULT_CONTROL_PIPE
from sessionnet_vip.engine.windows.pipename import check_pipe_name
from sessionnet_vip.errors import VipError

DEFAULT_CONTROL_SOCKET: Final = Path(DEFAULT_CONTROL_SOCKET_PATH)
DEFAULT_STATE_DIR: Final = Path("/var/lib/sessionnet-vip")
STORE_FILE_NAME: Final = "leases.sqlite3"
SESSION_PROVIDERS: Final = ("auto", "engine", "logind", "wts")

KNOWN_KEYS: Final = frozenset(
    {
        "subnet",
        "pool",
        "state_dir",
        "control_socket",
        "control_pipe",
        "processes",
        "prefer_loopback_processes",
        "hold_seconds",
        "inherit_children",
        "isolate_loopback",
        "report_original",
        "metrics_port",
        "session_provider",
        "reconcile_seconds",
        "data_plane",  # part 2 hook: engine/agentconfig.py
    }
)


class ConfigError(VipError):
    """The engine configuration is unusable."""


def default_platform() -> Platform:
    return "windows" if sys.platform == "win32" else "linux"


@dataclass(frozen=True)
class EngineConfig:
    pool: Pool
    policy: Policy
    state_dir: Path
    control_socket: Path
    subnet: ipaddress.IPv4Network | None = None
    hold_seconds: float = 300.0
    isolate_loopback: bool = False
    metrics_port: int | None = None
    session_provider: str = "auto"
    reconcile_seconds: float = 60.0
    source: str = "<config>"
    data_plane: DataPlaneSettings = field(default_factory=DataPlaneSettings)  # part 2 hook
    control_pipe: str = DEFAULT_CONTROL_PIPE  #: Windows: the engine's named pipe

    @property
    def control_address(self) -> str:
        """Where this platform's engine listens: the pipe on Windows, else the socket."""
        return self.control_pipe if sys.platform == "win32" else str(self.control_socket)

    @property
    def store_path(self) -> Path:
        return self.state_dir / STORE_FILE_NAME

    def to_json(self) -> dict[str, Any]:
        return {
            "subnet": None if self.subnet is None else str(self.subnet),
            "pool": [str(r) for r in self.pool.ranges],
            "pool_size": self.pool.size,
            "state_dir": str(self.state_dir),
            "control_socket": str(self.control_socket),
            "control_pipe": self.control_pipe,
            "processes": self.policy.to_json(),
            "inherit_children": self.policy.inherit_children,
            "hold_seconds": self.hold_seconds,
            "isolate_loopback": self.isolate_loopback,
            "report_original": self.policy.report_original,
            "metrics_port": self.metrics_port,
            "session_provider": self.session_provider,
            "reconcile_seconds": self.reconcile_seconds,
            "data_plane": self.data_plane.to_json(),
        }


def _bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"'{key}' is {brief(value)}; give true or false")
    return value


def _number(data: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
    return as_number(data.get(key, default), f"'{key}'", minimum=minimum, unit="seconds", error=ConfigError)


def _path(data: Mapping[str, Any], key: str, default: Path, base: Path | None) -> Path:
    value = data.get(key, default)
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ConfigError(f"'{key}' is {brief(value)}; give a directory or file path")
    if "\0" in str(value):
        raise ConfigError(f"'{key}' is {brief(value)}, which holds a NUL character; give a path without it")
    path = Path(value).expanduser()
    if not path.is_absolute():
        if base is None:
            raise ConfigError(f"'{key}' is the relative path {brief(value)}; give an absolute path")
        path = base / path
    return path


#: Longest Unix socket path: ``sun_path`` is 108 bytes on Linux, including the final NUL
#: (unix(7), https://man7.org/linux/man-pages/man7/unix.7.html).
MAX_SOCKET_PATH_BYTES: Final = 107


def check_paths(state_dir: Path, control_socket: Path) -> None:
    """Refuse paths of the wrong kind or length before anything is created (state_dir that is
    a file, a socket path too long for ``sun_path``, a socket path that is a directory...)."""
    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigError(
            f"'state_dir' {brief(str(state_dir))} exists and is not a directory; "
            "remove that file or point state_dir at a directory"
        )
    for parent in (state_dir.parent, control_socket.parent):
        if parent.exists() and not parent.is_dir():
            raise ConfigError(
                f"{brief(str(parent))} is not a directory, so nothing can be created in it; "
                "fix 'state_dir' / 'control_socket'"
            )
    size = len(os.fsencode(control_socket))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ConfigError(
            f"'control_socket' {brief(str(control_socket))} is {size} bytes long; a Unix socket path "
            f"may be at most {MAX_SOCKET_PATH_BYTES} bytes: choose a shorter path"
        )
    if control_socket.is_dir():
        raise ConfigError(
            f"'control_socket' {brief(str(control_socket))} is a directory; give the path of the socket "
            "file, e.g. /run/sessionnet-vip/control.sock"
        )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"'{key}' is {brief(value)}; give a YAML list")
    return value


def parse_config(
    data: object, *, source: str = "<config>", base_dir: Path | None = None, platform: Platform | None = None
) -> EngineConfig:
    """Validate a mapping (the parsed YAML). Relative paths are taken from ``base_dir``."""
    try:
        return _parse(data, source, base_dir, platform or default_platform())
    except ConfigError:
        raise
    except VipError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _parse(data: object, source: str, base_dir: Path | None, platform: Platform) -> EngineConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the configuration must be a YAML mapping of keys, found {type(data).__name__}"
        )
    unknown = sorted(str(k) for k in data if k not in KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(sorted(KNOWN_KEYS))}"
        )
    try:
        subnet = None
        if data.get("subnet") is not None:
            raw = data["subnet"]
            try:
                subnet = ipaddress.IPv4Network(str(raw), strict=False)
            except ValueError:
                raise ConfigError(
                    f"'subnet' is {brief(raw)}; give the NIC's IPv4 CIDR, e.g. 198.51.100.0/24"
                ) from None
        if "pool" not in data:
            raise ConfigError(
                "'pool' is missing; give a list of ranges, e.g. ['198.51.100.10-198.51.100.50']"
            )
        pool = Pool.parse(_list(data, "pool"), subnet)
        policy = Policy.build(
            _list(data, "processes"),
            _list(data, "prefer_loopback_processes"),
            platform=platform,
            inherit_children=_bool(data, "inherit_children", False),
            report_original=_bool(data, "report_original", False),
        )
        metrics_port = data.get("metrics_port")
        if metrics_port is not None and (
            isinstance(metrics_port, bool)
            or not isinstance(metrics_port, int)
            or not 1 <= metrics_port <= 65535
        ):
            raise ConfigError(
                f"'metrics_port' is {brief(metrics_port)}; give a TCP port from 1 to 65535 or leave it out"
            )
        provider = data.get("session_provider", "auto")
        if provider not in SESSION_PROVIDERS:
            raise ConfigError(
                f"'session_provider' is {brief(provider)}; use one of {', '.join(SESSION_PROVIDERS)}"
            )
        usable = ("auto", "engine", "wts") if platform == "windows" else ("auto", "engine", "logind")
        if provider not in usable:
            raise ConfigError(
                f"'session_provider' is {brief(provider)}, which {platform} does not have; use one of {', '.join(usable)}"
            )
        control_pipe = data.get("control_pipe", DEFAULT_CONTROL_PIPE)
        if not isinstance(control_pipe, str):
            raise ConfigError(
                f"'control_pipe' is {brief(control_pipe)}; give a pipe name like {DEFAULT_CONTROL_PIPE!r}"
            )
        check_pipe_name(control_pipe)
        state_dir = _path(data, "state_dir", DEFAULT_STATE_DIR, base_dir)
        control_socket = _path(data, "control_socket", DEFAULT_CONTROL_SOCKET, base_dir)
        if platform == "linux":
            check_paths(state_dir, control_socket)
        return EngineConfig(
            pool=pool,
            policy=policy,
            state_dir=state_dir,
            control_socket=control_socket,
            subnet=subnet,
            hold_seconds=_number(data, "hold_seconds", 300.0, 0),
            isolate_loopback=_bool(data, "isolate_loopback", False),
            metrics_port=metrics_port,
            session_provider=str(provider),
            reconcile_seconds=_number(data, "reconcile_seconds", 60.0, 1),
            source=source,
            data_plane=parse_data_plane(data.get("data_plane")),
            control_pipe=control_pipe,
        )
    except VipError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path, *, platform: Platform | None = None) -> EngineConfig:
    """Read and validate the YAML file at ``path`` (relative paths inside are taken from
    the file's directory)."""
    p = Path(path)
    try:
        data = yamlfile.load_file(p, f"config {p}")
    except VipError as exc:
        raise ConfigError(f"{exc}; check --config") from None
    return parse_config(data, source=str(p), base_dir=p.resolve().parent, platform=platform)
