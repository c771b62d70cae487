"""The Linux side of the session agent: what :class:`sessionnet_vip.engine.agent.AgentEngine`
asks of its platform (:class:`sessionnet_vip.engine.agent.AgentPlatform`), over the cgroup v2
+ eBPF data plane of this package."""

from __future__ import annotations

import sys
from pathlib import Path

from sessionnet_vip.engine.linux.assigner import Assigner, AssignError
from sessionnet_vip.engine.linux.cgroups import find_cgroup2
from sessionnet_vip.engine.linux.dataplane import DataPlane, Probe, SessionOptions
from sessionnet_vip.engine.linux.procexe import ProcessList, process_exe

#: Linux only by design: never imported on Windows (mypy --platform win32 skips the rest).
assert sys.platform != "win32", "sessionnet_vip.engine.linux is for Linux"

__all__ = [
    "AssignError",
    "new_assigner",
    "new_plane",
    "probe",
    "process_exe",
    "process_list_warnings",
    "session_options",
]


def probe(cgroup_parent: Path | None) -> Probe:
    """:meth:`DataPlane.probe`, plus a check that ``cgroup_parent`` lies in the cgroup v2 tree."""
    if cgroup_parent is not None:
        mount = find_cgroup2()
        try:
            inside = mount is not None and cgroup_parent.resolve().is_relative_to(mount.path)
        except OSError:
            inside = False
        if not inside or not cgroup_parent.is_dir():
            where = "no cgroup v2 is mounted" if mount is None else f"cgroup v2 is mounted at {mount.path}"
            return Probe(
                False,
                f"data_plane.cgroup_parent {cgroup_parent} is not a directory of the cgroup v2 hierarchy "
                f"({where}); fix data_plane.cgroup_parent or leave it out",
            )
    return DataPlane.probe()


def process_list_warnings(patterns: list[str]) -> list[str]:
    """Entries of the process list that do not exist on disk (or not on PATH)."""
    return list(ProcessList.resolve(patterns).warnings)


def new_plane(root_name: str) -> DataPlane:
    return DataPlane(root_name=root_name)


def new_assigner() -> Assigner:
    return Assigner()


def session_options(*, inherit_children: bool, isolate_loopback: bool) -> SessionOptions:
    return SessionOptions(inherit_children=inherit_children, isolate_loopback=isolate_loopback)
