"""The data plane's eBPF programs (``BPF_PROG_TYPE_CGROUP_SOCK_ADDR``), hand-assembled.

Every program starts the same way (see ``docs/linux-data-plane.md``):

1. only ``SOCK_STREAM`` and ``SOCK_DGRAM`` sockets are considered;
2. the *session* is the caller's ancestor cgroup at the session level
   (``bpf_get_current_ancestor_cgroup_id``); its ID is looked up in the sessions map, and a
   caller outside every session is left alone;
3. the caller is *translated* when its thread-group ID is in the processes map with the
   session's cgroup ID as value (children get new IDs, so they are not), or, for a session
   with ``inherit_children``, when it lives anywhere under the session's ``vip`` cgroup.

Then each hook does its part: ``bind4`` turns 0.0.0.0 into the session VIP and 127.0.0.1
into the session loopback; ``connect4``/``sendmsg4`` send 127.0.0.1 to the session
loopback, refuse another session's loopback under ``isolate_loopback`` and pick the source
address; ``getsockname4``/``getpeername4``/``recvmsg4`` show the session loopback as
127.0.0.1 only under ``report_original``.

Addresses in ``struct bpf_sock_addr`` and in the maps are in network byte order; constants
are turned into the matching host-order ``u32`` here, so the code is endian-neutral.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from dataclasses import dataclass
from typing import Final

from sessionnet_vip.engine.linux import bpfsys as s
from sessionnet_vip.engine.linux.bpfasm import AND, JEQ, JNE, JSET, RSH, Program

# struct bpf_sock_addr offsets (include/uapi/linux/bpf.h).
CTX_USER_IP4: Final = 4
CTX_TYPE: Final = 32
CTX_MSG_SRC_IP4: Final = 40
SOCK_STREAM: Final = 1
SOCK_DGRAM: Final = 2
AF_INET: Final = 2

# Session flags (the ``flags`` word of a session record).
FLAG_INHERIT_CHILDREN: Final = 1 << 0
FLAG_ISOLATE_LOOPBACK: Final = 1 << 1
FLAG_SOURCE_VIP: Final = 1 << 2
FLAG_REPORT_ORIGINAL: Final = 1 << 3

#: Session record: vip (be32), loopback (be32), flags, session id, vip-leaf cgroup id.
SESSION_RECORD: Final = struct.Struct("=4s4sIIQ")
REC_VIP: Final = 0
REC_LOOPBACK: Final = 4
REC_FLAGS: Final = 8
REC_VIP_CGROUP: Final = 16
#: Processes map: key tgid (u32) → session cgroup id (u64).
PROC_KEY: Final = struct.Struct("=I")
PROC_VALUE: Final = struct.Struct("=Q")
SESSION_KEY: Final = struct.Struct("=Q")

# Registers kept across helper calls.
CTX, SESSION_CG, REC, TRANSLATED = 6, 7, 8, 9
FP: Final = 10


def be32(address: ipaddress.IPv4Address | str) -> int:
    """Return the host-order ``u32`` a program sees when it loads ``address`` (network order)."""
    return int.from_bytes(ipaddress.IPv4Address(address).packed, sys.byteorder)


LOCALHOST: Final = be32("127.0.0.1")
_NET127_MASK: Final = int.from_bytes(b"\xff\x00\x00\x00", sys.byteorder)
_NET127: Final = int.from_bytes(b"\x7f\x00\x00\x00", sys.byteorder)


@dataclass(frozen=True)
class Hook:
    """One program: its name (also the kernel's program name) and where it attaches."""

    name: str
    attach_type: int


BIND4: Final = Hook("snv_bind4", s.CGROUP_INET4_BIND)
CONNECT4: Final = Hook("snv_connect4", s.CGROUP_INET4_CONNECT)
SENDMSG4: Final = Hook("snv_sendmsg4", s.CGROUP_UDP4_SENDMSG)
RECVMSG4: Final = Hook("snv_recvmsg4", s.CGROUP_UDP4_RECVMSG)
GETSOCKNAME4: Final = Hook("snv_getsockname4", s.CGROUP_INET4_GETSOCKNAME)
GETPEERNAME4: Final = Hook("snv_getpeername4", s.CGROUP_INET4_GETPEERNAME)
HOOKS: Final = (BIND4, CONNECT4, SENDMSG4, RECVMSG4, GETSOCKNAME4, GETPEERNAME4)


def _prologue(p: Program, sessions_fd: int, procs_fd: int, session_level: int) -> None:
    """Find the session record (r8) and whether the caller is translated (r9)."""
    p.mov_reg(CTX, 1)
    p.ldx(4, 0, CTX, CTX_TYPE)
    p.jmp32_imm(JEQ, 0, SOCK_STREAM, "typed")
    p.jmp32_imm(JNE, 0, SOCK_DGRAM, "allow")
    p.label("typed")
    # r7 = session cgroup id = ancestor at the session level (0 when the caller is above it).
    p.mov_imm(1, session_level)
    p.call(s.FUNC_GET_CURRENT_ANCESTOR_CGROUP_ID)
    p.jmp_imm(JEQ, 0, 0, "allow")
    p.mov_reg(SESSION_CG, 0)
    p.stx(8, FP, -8, 0)
    p.ld_map_fd(1, sessions_fd)
    p.mov_reg(2, FP)
    p.alu_imm(0x00, 2, -8)  # r2 = fp - 8
    p.call(s.FUNC_MAP_LOOKUP_ELEM)
    p.jmp_imm(JEQ, 0, 0, "allow")
    p.mov_reg(REC, 0)
    # r9 = translated?
    p.mov_imm(TRANSLATED, 0)
    p.call(s.FUNC_GET_CURRENT_PID_TGID)
    p.alu_imm(RSH, 0, 32)
    p.stx(4, FP, -16, 0)
    p.ld_map_fd(1, procs_fd)
    p.mov_reg(2, FP)
    p.alu_imm(0x00, 2, -16)
    p.call(s.FUNC_MAP_LOOKUP_ELEM)
    p.jmp_imm(JEQ, 0, 0, "not_listed")
    p.ldx(8, 1, 0, 0)
    p.jmp_reg(JNE, 1, SESSION_CG, "not_listed")
    p.mov_imm(TRANSLATED, 1)
    p.ja("decided")
    p.label("not_listed")
    p.ldx(4, 1, REC, REC_FLAGS)
    p.jmp_imm(JSET, 1, FLAG_INHERIT_CHILDREN, "inherit")
    p.ja("decided")
    p.label("inherit")
    p.mov_imm(1, session_level + 1)
    p.call(s.FUNC_GET_CURRENT_ANCESTOR_CGROUP_ID)
    p.ldx(8, 1, REC, REC_VIP_CGROUP)
    p.jmp_reg(JNE, 0, 1, "decided")
    p.mov_imm(TRANSLATED, 1)
    p.label("decided")


def _epilogue(p: Program) -> None:
    p.label("allow")
    p.ret(1)


def _rewrite_localhost(p: Program) -> None:
    """If translated and the address is 127.0.0.1, make it the session loopback (r1 = address)."""
    p.ldx(4, 1, CTX, CTX_USER_IP4)
    p.jmp_imm(JEQ, TRANSLATED, 0, "rewritten")
    p.jmp32_imm(JNE, 1, LOCALHOST, "rewritten")
    p.ldx(4, 1, REC, REC_LOOPBACK)
    p.stx(4, CTX, CTX_USER_IP4, 1)
    p.label("rewritten")


def _isolate(p: Program) -> None:
    """Refuse (return 0 → EPERM) a loopback destination in r1 that is another session's."""
    p.ldx(4, 2, REC, REC_FLAGS)
    p.jmp_imm(JSET, 2, FLAG_ISOLATE_LOOPBACK, "isolating")
    p.ja("isolated")
    p.label("isolating")
    p.mov_reg(2, 1)
    p.alu32_imm(AND, 2, _NET127_MASK)
    p.jmp32_imm(JNE, 2, _NET127, "isolated")
    p.jmp32_imm(JEQ, 1, LOCALHOST, "isolated")
    p.ldx(4, 2, REC, REC_LOOPBACK)
    p.jmp32_reg(JEQ, 1, 2, "isolated")
    p.ret(0)
    p.label("isolated")


def _source_address(p: Program) -> None:
    """Leave in r3 the source for destination r1 (session loopback or VIP), 0 for none."""
    p.mov_imm(3, 0)
    p.mov_reg(2, 1)
    p.alu32_imm(AND, 2, _NET127_MASK)
    p.jmp32_imm(JNE, 2, _NET127, "src_remote")
    p.ldx(4, 3, REC, REC_LOOPBACK)
    p.ja("src_done")
    p.label("src_remote")
    p.ldx(4, 2, REC, REC_FLAGS)
    p.jmp_imm(JSET, 2, FLAG_SOURCE_VIP, "src_vip")
    p.ja("src_done")
    p.label("src_vip")
    p.ldx(4, 3, REC, REC_VIP)
    p.label("src_done")


def _bind4(p: Program) -> None:
    p.jmp_imm(JEQ, TRANSLATED, 0, "allow")
    p.ldx(4, 1, CTX, CTX_USER_IP4)
    p.jmp32_imm(JEQ, 1, 0, "any")
    p.jmp32_imm(JNE, 1, LOCALHOST, "allow")
    p.ldx(4, 1, REC, REC_LOOPBACK)
    p.ja("store")
    p.label("any")
    p.ldx(4, 1, REC, REC_VIP)
    p.label("store")
    p.jmp32_imm(JEQ, 1, 0, "allow")
    p.stx(4, CTX, CTX_USER_IP4, 1)


def _connect4(p: Program) -> None:
    _rewrite_localhost(p)
    _isolate(p)
    p.jmp_imm(JEQ, TRANSLATED, 0, "allow")
    _source_address(p)
    p.jmp32_imm(JEQ, 3, 0, "allow")
    # struct sockaddr_in on the stack at fp-32: family, port 0 (address only), address.
    p.st_imm(8, FP, -32, 0)
    p.st_imm(8, FP, -24, 0)
    p.st_imm(2, FP, -32, AF_INET)
    p.stx(4, FP, -28, 3)
    p.mov_reg(1, CTX)
    p.mov_reg(2, FP)
    p.alu_imm(0x00, 2, -32)
    p.mov_imm(3, 16)
    p.call(s.FUNC_BIND)  # fails harmlessly (EINVAL) when the app bound the socket itself


def _sendmsg4(p: Program) -> None:
    _rewrite_localhost(p)
    _isolate(p)
    p.jmp_imm(JEQ, TRANSLATED, 0, "allow")
    p.ldx(4, 2, CTX, CTX_MSG_SRC_IP4)
    p.jmp32_imm(JNE, 2, 0, "allow")  # the socket has a source already
    _source_address(p)
    p.jmp32_imm(JEQ, 3, 0, "allow")
    p.stx(4, CTX, CTX_MSG_SRC_IP4, 3)


def _report(p: Program) -> None:
    """getsockname/getpeername/recvfrom: show the session loopback as 127.0.0.1 if asked."""
    p.jmp_imm(JEQ, TRANSLATED, 0, "allow")
    p.ldx(4, 2, REC, REC_FLAGS)
    p.jmp_imm(JSET, 2, FLAG_REPORT_ORIGINAL, "reporting")
    p.ja("allow")
    p.label("reporting")
    p.ldx(4, 1, CTX, CTX_USER_IP4)
    p.ldx(4, 2, REC, REC_LOOPBACK)
    p.jmp32_reg(JNE, 1, 2, "allow")
    p.mov_imm(1, LOCALHOST)
    p.stx(4, CTX, CTX_USER_IP4, 1)


_BODIES: Final = {
    BIND4: _bind4,
    CONNECT4: _connect4,
    SENDMSG4: _sendmsg4,
    RECVMSG4: _report,
    GETSOCKNAME4: _report,
    GETPEERNAME4: _report,
}


def build(hook: Hook, sessions_fd: int, procs_fd: int, session_level: int) -> bytes:
    """Return the bytecode of ``hook`` for maps ``sessions_fd``/``procs_fd``.

    ``session_level`` is the cgroup level of session cgroups (the hierarchy root is 0).
    """
    p = Program()
    _prologue(p, sessions_fd, procs_fd, session_level)
    _BODIES[hook](p)
    _epilogue(p)
    return p.assemble()
