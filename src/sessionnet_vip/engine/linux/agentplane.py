"""The Linux side of the session agent: what :class:`sessionnet_vip.engine.agent.AgentEngine`
asks of its platform (:class:`sessionnet_vip.engine.agent.AgentPlatform`), over the cgroup v2
+ eBPF data plane of this package."""

from __future__ import annotations

import sys
from pathlib import Path

from sessionnet_vip.engine.linux import cgroups
from sessionnet_vip.engine.linux.assigner import Assigner, AssignError
from sessionnet_vip.engine.linux.cgroups import find_cgroup2
from sessionnet_vip.engine.linux.dataplane import DataPlane, Probe, Session, SessionOptions
from sessionnet_vip.engine.linux.procevents import ProcEvents
from sessionnet_vip.engine.linux.procexe import ProcessList, process_comm, process_exe

#: Linux only by design: never imported on Windows (mypy --platform win32 skips the rest).
assert sys.platform != "win32", "sessionnet_vip.engine.linux is for Linux"

__all__ = [
    "AssignError",
    "exec_events",
    "leaf_pids",
    "new_assigner",
    "new_plane",
    "probe",
    "process_cgroup",
    "process_comm",
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


def new_plane(root_name: str, *, max_sessions: int, max_processes: int) -> DataPlane:
    return DataPlane(root_name=root_name, max_sessions=max_sessions, max_processes=max_processes)


def new_assigner(record: Path | None = None) -> Assigner:
    return Assigner(record=record)


def session_options(
    *, inherit_children: bool, isolate_loopback: bool, report_original: bool = False
) -> SessionOptions:
    return SessionOptions(
        inherit_children=inherit_children, isolate_loopback=isolate_loopback, report_original=report_original
    )


def process_cgroup(pid: int) -> tuple[Path | None, str | None]:
    """``(directory in the cgroup v2 mount, path in the hierarchy)`` of process ``pid``."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None, None
    rel = next((line[3:] for line in text.splitlines() if line.startswith("0::")), None)
    if rel is None:
        return None, None
    mount = find_cgroup2()
    return (None if mount is None else mount.path / rel.lstrip("/")), rel


def leaf_pids(session: object) -> list[tuple[int, bool]]:
    """Processes of the session's ``vip`` (children inherit) and ``solo`` cgroups."""
    assert isinstance(session, Session)
    return [(pid, True) for pid in cgroups.pids(session.vip_cgroup)] + [
        (pid, False) for pid in cgroups.pids(session.solo_cgroup)
    ]


def exec_events() -> ProcEvents:
    """A subscription to the kernel's process events (raises :class:`ProcEventsError`)."""
    return ProcEvents()
