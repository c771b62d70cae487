"""The engine's Linux modules, chosen by :mod:`sessionnet_vip.engine.platform` on Linux and
never imported on Windows: ``transport`` (the Unix control socket) and the data plane
(cgroup v2 sock_addr eBPF hooks loaded through ``bpf(2)``).

Public interface: :class:`DataPlane`, :class:`SessionOptions`, :class:`Session`,
:class:`Probe`, :class:`Assigner` and the process-list helpers of :mod:`.procexe`, imported
on first use (``import sessionnet_vip.engine.linux.transport`` loads no data plane).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sessionnet_vip.engine.linux.assigner import Assigner, AssignError
    from sessionnet_vip.engine.linux.dataplane import (
        DataPlane,
        DataPlaneError,
        Probe,
        Session,
        SessionOptions,
    )
    from sessionnet_vip.engine.linux.procexe import ProcessList, process_exe

_WHERE: Final = {
    "AssignError": "assigner",
    "Assigner": "assigner",
    "DataPlane": "dataplane",
    "DataPlaneError": "dataplane",
    "Probe": "dataplane",
    "Session": "dataplane",
    "SessionOptions": "dataplane",
    "ProcessList": "procexe",
    "process_exe": "procexe",
}

__all__ = [
    "AssignError",
    "Assigner",
    "DataPlane",
    "DataPlaneError",
    "Probe",
    "ProcessList",
    "Session",
    "SessionOptions",
    "process_exe",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
