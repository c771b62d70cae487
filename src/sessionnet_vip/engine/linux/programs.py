"""The data plane's eBPF programs: names, map layouts and flags shared with the C source.

The programs themselves are restricted C, ``native/bpf/sessionnet.bpf.c``, compiled by clang
``-target bpf`` into ``sessionnet.bpf.o`` (shipped in this package, loaded by
:mod:`.libbpf`). This module mirrors the C definitions the engine writes into the maps; a
test compares the two.
"""

from __future__ import annotations

import struct
from typing import Final

from sessionnet_vip.engine.policy import Mode

# Flags (``SNV_*`` in the C source): a session record's ``flags`` word and a process entry's.
FLAG_INHERIT_CHILDREN: Final = 1 << 0
FLAG_ISOLATE_LOOPBACK: Final = 1 << 1
FLAG_SOURCE_VIP: Final = 1 << 2
FLAG_REPORT_ORIGINAL: Final = 1 << 3
#: Session flags bits 8-15: the mode of inherited children.
MODE_SHIFT: Final = 8
#: Process flags: the entry was copied from the parent at fork() (the kernel sets it).
FLAG_FORKED: Final = 1 << 16

#: Mode numbers (``SNV_NONE`` ...) as the programs know them.
MODE_NUMBERS: Final = {
    Mode.NONE: 0,
    Mode.VIRTUAL_IP: 1,
    Mode.VIRTUAL_LOOPBACK: 2,
    Mode.PREFER_LOOPBACK: 3,
    Mode.CLIENT_ADDRESS: 4,
}

#: ``struct session_rec``: vip (be32), loopback (be32), flags, session id, vip-leaf cgroup id.
SESSION_RECORD: Final = struct.Struct("=4s4sIIQ")
SESSION_KEY: Final = struct.Struct("=Q")
#: ``struct proc_rec``: key tgid (u32) -> session cgroup id (u64), mode, flags.
PROC_KEY: Final = struct.Struct("=I")
PROC_VALUE: Final = struct.Struct("=QII")

SESSIONS_MAP: Final = "snv_sessions"
PROCS_MAP: Final = "snv_procs"

#: Program names (the C functions) in attach order; the ELF section names the attach type.
HOOKS: Final = (
    "snv_bind4",
    "snv_connect4",
    "snv_sendmsg4",
    "snv_recvmsg4",
    "snv_getsockname4",
    "snv_getpeername4",
    "snv_bind6",
    "snv_connect6",
    "snv_sendmsg6",
    "snv_recvmsg6",
    "snv_getsockname6",
    "snv_getpeername6",
)
#: Tracing programs (attached by libbpf from their section names): fork copies, exec drops.
TRACERS: Final = ("snv_fork", "snv_exec")
