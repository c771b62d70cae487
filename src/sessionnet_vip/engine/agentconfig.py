"""The ``data_plane:`` section of the engine config (engine part 2, the session agent).

Every key is optional::

    data_plane:
      enabled: auto            # auto: use the kernel hooks when the probe passes, else allocator only
                               # true: refuse to start without them; false: allocator only
      assign_addresses: true   # put a session's VIP on the interface holding its subnet (on first use)
      cgroup_parent: null      # cgroup v2 directory to create <root_name> under (default: the root)
      root_name: sessionnet    # name of the data plane's cgroup
      names: true              # per-session hosts file for 'vipctl run' (localhost, host name)
      watch_seconds: 2         # follow logind sessions, prune exited processes, check cgroups
      logind_sessions_dir: /run/systemd/sessions
      max_sessions: 65536      # sessions map size: a session beyond it is refused before its lease
      max_processes: 262144    # translated-processes map size
      follow_exec: true        # translate listed programs however they start (process events)

See ``docs/engine.md`` and ``docs/linux-data-plane.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sessionnet_vip.coerce import brief
from sessionnet_vip.errors import VipError

DATA_PLANE_KEYS: Final = frozenset(
    {
        "enabled",
        "assign_addresses",
        "cgroup_parent",
        "root_name",
        "names",
        "watch_seconds",
        "logind_sessions_dir",
        "max_sessions",
        "max_processes",
        "follow_exec",
    }
)
ENABLED_VALUES: Final = ("auto", True, False)
#: The largest map the engine asks for (the session IDs of the loopback rule fit in 24 bits).
MAX_MAP_ENTRIES: Final = 1 << 24


@dataclass(frozen=True)
class DataPlaneSettings:
    enabled: str = "auto"  #: "auto", "required" or "off"
    assign_addresses: bool = True
    cgroup_parent: Path | None = None
    root_name: str = "sessionnet"
    names: bool = True
    watch_seconds: float = 2.0
    logind_sessions_dir: Path = Path("/run/systemd/sessions")
    max_sessions: int = 65536
    max_processes: int = 262144
    follow_exec: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": {"auto": "auto", "required": True, "off": False}[self.enabled],
            "assign_addresses": self.assign_addresses,
            "cgroup_parent": None if self.cgroup_parent is None else str(self.cgroup_parent),
            "root_name": self.root_name,
            "names": self.names,
            "watch_seconds": self.watch_seconds,
            "logind_sessions_dir": str(self.logind_sessions_dir),
            "max_sessions": self.max_sessions,
            "max_processes": self.max_processes,
            "follow_exec": self.follow_exec,
        }


def _abs_path(value: object, key: str) -> Path:
    if not isinstance(value, str) or not value.startswith("/"):
        raise VipError(f"'data_plane.{key}' is {brief(value)}; give an absolute path")
    return Path(value)


def parse_data_plane(value: object) -> DataPlaneSettings:
    """Validate the ``data_plane`` mapping (``None`` or missing: the defaults)."""
    if value is None:
        return DataPlaneSettings()
    if not isinstance(value, Mapping):
        raise VipError(f"'data_plane' is {brief(value)}; give a mapping of data-plane settings")
    unknown = sorted(str(k) for k in value if k not in DATA_PLANE_KEYS)
    if unknown:
        raise VipError(
            f"'data_plane' has unknown key(s) {', '.join(unknown)}; known keys are "
            f"{', '.join(sorted(DATA_PLANE_KEYS))}"
        )
    enabled = value.get("enabled", "auto")
    if enabled not in ENABLED_VALUES or (isinstance(enabled, int) and not isinstance(enabled, bool)):
        raise VipError(f"'data_plane.enabled' is {brief(enabled)}; use auto, true or false")
    mode = "auto" if enabled == "auto" else ("required" if enabled is True else "off")
    flags: dict[str, bool] = {}
    for key in ("assign_addresses", "names", "follow_exec"):
        flag = value.get(key, True)
        if not isinstance(flag, bool):
            raise VipError(f"'data_plane.{key}' is {brief(flag)}; give true or false")
        flags[key] = flag
    parent = value.get("cgroup_parent")
    root_name = value.get("root_name", "sessionnet")
    if not isinstance(root_name, str) or not root_name or "/" in root_name or root_name in (".", ".."):
        raise VipError(
            f"'data_plane.root_name' is {brief(root_name)}; give a cgroup directory name without '/'"
        )
    watch = value.get("watch_seconds", 2.0)
    if isinstance(watch, bool) or not isinstance(watch, int | float) or not 0.1 <= watch <= 3600:
        raise VipError(
            f"'data_plane.watch_seconds' is {brief(watch)}; give a number of seconds from 0.1 to 3600"
        )
    logind_dir = value.get("logind_sessions_dir", "/run/systemd/sessions")
    sizes: dict[str, int] = {}
    for key, default in (("max_sessions", 65536), ("max_processes", 262144)):
        size = value.get(key, default)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_MAP_ENTRIES:
            raise VipError(
                f"'data_plane.{key}' is {brief(size)}; give a number of entries from 1 to {MAX_MAP_ENTRIES}"
            )
        sizes[key] = size
    return DataPlaneSettings(
        enabled=mode,
        assign_addresses=flags["assign_addresses"],
        cgroup_parent=None if parent is None else _abs_path(parent, "cgroup_parent"),
        root_name=root_name,
        names=flags["names"],
        watch_seconds=float(watch),
        logind_sessions_dir=_abs_path(logind_dir, "logind_sessions_dir"),
        max_sessions=sizes["max_sessions"],
        max_processes=sizes["max_processes"],
        follow_exec=flags["follow_exec"],
    )
