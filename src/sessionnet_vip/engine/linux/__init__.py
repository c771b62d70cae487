"""The Linux data plane: cgroup v2 sock_addr eBPF hooks loaded through ``bpf(2)``.

Public interface: :class:`DataPlane`, :class:`SessionOptions`, :class:`Session`,
:class:`Probe`, :class:`Assigner` and the process-list helpers of :mod:`.procexe`.
"""

from sessionnet_vip.engine.linux.assigner import Assigner, AssignError
from sessionnet_vip.engine.linux.dataplane import (
    DataPlane,
    DataPlaneError,
    Probe,
    Session,
    SessionOptions,
)
from sessionnet_vip.engine.linux.procexe import ProcessList, process_exe

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
