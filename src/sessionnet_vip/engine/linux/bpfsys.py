"""The ``bpf(2)`` system call through :mod:`ctypes`: map entries and program queries.

The programs are loaded by libbpf (:mod:`.libbpf`); the engine's frequent, small operations
(one map entry per session or process) go straight to ``bpf()``, each command filling
``union bpf_attr`` at the offsets of ``include/uapi/linux/bpf.h``.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import struct
from dataclasses import dataclass
from typing import Any, Final

from sessionnet_vip.errors import VipError

#: ``__NR_bpf`` per machine (``uname -m``).
BPF_SYSCALL_NUMBERS: Final = {"x86_64": 321, "aarch64": 280, "arm64": 280}

# Commands.
MAP_CREATE: Final = 0
MAP_LOOKUP_ELEM: Final = 1
MAP_UPDATE_ELEM: Final = 2
MAP_DELETE_ELEM: Final = 3
MAP_GET_NEXT_KEY: Final = 4
PROG_LOAD: Final = 5
PROG_QUERY: Final = 16
LINK_CREATE: Final = 28
# Map and program types.
MAP_TYPE_HASH: Final = 1
PROG_TYPE_CGROUP_SOCK_ADDR: Final = 18
# Attach types (enum bpf_attach_type).
CGROUP_INET4_BIND: Final = 8
CGROUP_INET4_CONNECT: Final = 10
CGROUP_UDP4_SENDMSG: Final = 14
CGROUP_UDP4_RECVMSG: Final = 19
CGROUP_INET4_GETPEERNAME: Final = 29
CGROUP_INET4_GETSOCKNAME: Final = 31
# Helper function numbers (enum bpf_func_id).
FUNC_MAP_LOOKUP_ELEM: Final = 1
FUNC_GET_CURRENT_PID_TGID: Final = 14
FUNC_BIND: Final = 64
FUNC_GET_CURRENT_CGROUP_ID: Final = 80
FUNC_GET_CURRENT_ANCESTOR_CGROUP_ID: Final = 123

_ATTR_SIZE: Final = 144  # sizeof(union bpf_attr) of kernel 6.x headers; the tail stays zero
_LOG_SIZE: Final = 1 << 16


class BpfError(VipError):
    """The kernel refused a ``bpf()`` command; ``errno`` holds its error number."""

    def __init__(self, message: str, err: int) -> None:
        super().__init__(message)
        self.errno = err


@functools.cache
def _syscall() -> Any:
    """libc's ``syscall`` (loaded once: a ``CDLL`` per call cost more than the call itself)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall


@dataclass(frozen=True)
class Bpf:
    """A handle on the ``bpf()`` system call of this machine."""

    syscall_number: int

    @classmethod
    def open(cls) -> Bpf:
        """Return the handle for this machine, or raise :class:`BpfError` if unsupported."""
        machine = platform.machine()
        if machine not in BPF_SYSCALL_NUMBERS:
            raise BpfError(
                f"machine {machine!r} is not supported by the data plane; supported: "
                f"{', '.join(sorted(BPF_SYSCALL_NUMBERS))}",
                errno.ENOSYS,
            )
        return cls(BPF_SYSCALL_NUMBERS[machine])

    def call(self, cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
        """Run ``bpf(cmd, attr)``; return its result or raise :class:`BpfError` naming ``what``."""
        result = int(
            _syscall()(
                ctypes.c_long(self.syscall_number),
                ctypes.c_int(cmd),
                ctypes.byref(attr),
                ctypes.c_uint(ctypes.sizeof(attr)),
            )
        )
        if result < 0:
            err = ctypes.get_errno()
            raise BpfError(f"bpf() {what} failed: {errno.errorcode.get(err, err)} ({os.strerror(err)})", err)
        return result

    # --- maps -----------------------------------------------------------------------
    def map_create(self, map_type: int, key_size: int, value_size: int, max_entries: int, name: str) -> int:
        """Create a map and return its file descriptor."""
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=IIIII", attr, 0, map_type, key_size, value_size, max_entries, 0)
        struct.pack_into("=16s", attr, 28, name.encode()[:15])
        return self.call(MAP_CREATE, attr, f"map create ({name})")

    def _elem_attr(
        self, map_fd: int, key: bytes, value: ctypes.Array[ctypes.c_char] | None, flags: int
    ) -> tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char]]:
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        key_buf = ctypes.create_string_buffer(key, len(key))
        struct.pack_into("=I", attr, 0, map_fd)
        struct.pack_into("=Q", attr, 8, ctypes.addressof(key_buf))
        if value is not None:
            struct.pack_into("=Q", attr, 16, ctypes.addressof(value))
        struct.pack_into("=Q", attr, 24, flags)
        return attr, key_buf

    def map_update(self, map_fd: int, key: bytes, value: bytes) -> None:
        """Insert or replace ``key`` → ``value``."""
        value_buf = ctypes.create_string_buffer(value, len(value))
        attr, _key = self._elem_attr(map_fd, key, value_buf, 0)
        self.call(MAP_UPDATE_ELEM, attr, "map update")

    def map_lookup(self, map_fd: int, key: bytes, value_size: int) -> bytes | None:
        """Return the value of ``key``, or ``None`` when it is absent."""
        value_buf = ctypes.create_string_buffer(value_size)
        attr, _key = self._elem_attr(map_fd, key, value_buf, 0)
        try:
            self.call(MAP_LOOKUP_ELEM, attr, "map lookup")
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return value_buf.raw

    def map_delete(self, map_fd: int, key: bytes) -> bool:
        """Delete ``key``; return whether it was there."""
        attr, _key = self._elem_attr(map_fd, key, None, 0)
        try:
            self.call(MAP_DELETE_ELEM, attr, "map delete")
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True

    def map_keys(self, map_fd: int, key_size: int) -> list[bytes]:
        """Return every key of a map (a snapshot)."""
        keys: list[bytes] = []
        current: bytes | None = None
        while True:
            attr = ctypes.create_string_buffer(_ATTR_SIZE)
            next_buf = ctypes.create_string_buffer(key_size)
            cur_buf = ctypes.create_string_buffer(current or b"\0" * key_size, key_size)
            struct.pack_into("=I", attr, 0, map_fd)
            struct.pack_into("=Q", attr, 8, 0 if current is None else ctypes.addressof(cur_buf))
            struct.pack_into("=Q", attr, 16, ctypes.addressof(next_buf))
            try:
                self.call(MAP_GET_NEXT_KEY, attr, "map next key")
            except BpfError as exc:
                if exc.errno == errno.ENOENT:
                    return keys
                raise
            current = next_buf.raw
            keys.append(current)

    # --- programs -------------------------------------------------------------------
    def prog_load(self, prog_type: int, insns: bytes, expected_attach_type: int, name: str) -> int:
        """Load a program and return its fd; a verifier refusal carries the verifier's log."""
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        insn_buf = ctypes.create_string_buffer(insns, len(insns))
        license_buf = ctypes.create_string_buffer(b"GPL")
        struct.pack_into("=II", attr, 0, prog_type, len(insns) // 8)
        struct.pack_into("=QQ", attr, 8, ctypes.addressof(insn_buf), ctypes.addressof(license_buf))
        struct.pack_into("=16s", attr, 48, name.encode()[:15])
        struct.pack_into("=I", attr, 68, expected_attach_type)
        try:
            return self.call(PROG_LOAD, attr, f"program load ({name})")
        except BpfError as exc:
            if exc.errno not in (errno.EINVAL, errno.EACCES):
                raise
        # Load again with the verifier log on, to say why.
        log_buf = ctypes.create_string_buffer(_LOG_SIZE)
        struct.pack_into("=IIQ", attr, 24, 1, _LOG_SIZE, ctypes.addressof(log_buf))
        try:
            return self.call(PROG_LOAD, attr, f"program load ({name})")
        except BpfError as exc:
            log = log_buf.value.decode(errors="replace").strip()
            tail = "\n".join(log.splitlines()[-12:])
            raise BpfError(f"{exc}; the verifier said:\n{tail}", exc.errno) from None

    def link_create_cgroup(self, prog_fd: int, cgroup_fd: int, attach_type: int) -> int:
        """Attach a program to a cgroup as a BPF link; closing the link's fd detaches it."""
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=IIII", attr, 0, prog_fd, cgroup_fd, attach_type, 0)
        return self.call(LINK_CREATE, attr, f"link create (attach type {attach_type})")

    def prog_count(self, cgroup_fd: int, attach_type: int) -> int:
        """Return how many programs are attached directly to a cgroup for ``attach_type``."""
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=II", attr, 0, cgroup_fd, attach_type)
        self.call(PROG_QUERY, attr, f"program query (attach type {attach_type})")
        count: int = struct.unpack_from("=I", attr, 24)[0]
        return count
