"""Process events from the kernel's process-events connector (``NETLINK_CONNECTOR``).

The engine learns of every ``execve`` (and every exit) on the machine as it happens, so a
listed program is translated however it starts: from a shell or a desktop in a logind
session, by a service manager, or by ``vipctl run``. Root only (``CAP_NET_ADMIN``).

Wire format (``include/uapi/linux/connector.h`` and ``include/uapi/linux/cn_proc.h``, kernel
documentation "Kernel Connector", https://docs.kernel.org/driver-api/connector.html): a
netlink header, a ``struct cn_msg`` (``idx = CN_IDX_PROC``, ``val = CN_VAL_PROC``) and a
``struct proc_event`` (``what``, ``cpu``, ``timestamp_ns``, then per event the pid/tgid
fields). Subscribing sends ``PROC_CN_MCAST_LISTEN`` the same way.

A fork needs no event: the data plane's ``sched_process_fork`` program copies a translated
process's entry to its child in the kernel, before the child runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from sessionnet_vip.errors import VipError

NETLINK_CONNECTOR: Final = 11
CN_IDX_PROC: Final = 1
CN_VAL_PROC: Final = 1
PROC_CN_MCAST_LISTEN: Final = 1
PROC_CN_MCAST_IGNORE: Final = 2
NLMSG_DONE: Final = 3

PROC_EVENT_FORK: Final = 0x00000001
PROC_EVENT_EXEC: Final = 0x00000002
PROC_EVENT_EXIT: Final = 0x80000000

_NLMSGHDR: Final = struct.Struct("=IHHII")
_CN_MSG: Final = struct.Struct("=IIIIHH")
_EVENT_HEAD: Final = struct.Struct("=IIQ")
_TWO_IDS: Final = struct.Struct("=ii")
_FOUR_IDS: Final = struct.Struct("=iiii")


class ProcEventsError(VipError):
    """The process-events connector is not available here."""


@dataclass(frozen=True)
class ProcEvent:
    """``what`` is ``exec``, ``fork`` or ``exit``; ``pid``/``tgid`` name the process (the child
    for a fork, whose parent is ``parent_tgid``)."""

    what: str
    pid: int
    tgid: int
    parent_tgid: int = 0


def _message(op: int, seq: int = 0) -> bytes:
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, seq, 0, len(payload), 0) + payload
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(cn), NLMSG_DONE, 0, seq, os.getpid()) + cn


def parse(data: bytes) -> Iterator[ProcEvent]:
    """The events in one datagram from the connector (unknown events are skipped)."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length = _NLMSGHDR.unpack_from(data, offset)[0]
        if length < _NLMSGHDR.size:
            return
        body = offset + _NLMSGHDR.size
        if body + _CN_MSG.size + _EVENT_HEAD.size <= len(data):
            idx, val = _CN_MSG.unpack_from(data, body)[:2]
            ev = body + _CN_MSG.size
            if (idx, val) == (CN_IDX_PROC, CN_VAL_PROC):
                what = _EVENT_HEAD.unpack_from(data, ev)[0]
                fields = ev + _EVENT_HEAD.size
                if what == PROC_EVENT_EXEC and fields + _TWO_IDS.size <= len(data):
                    pid, tgid = _TWO_IDS.unpack_from(data, fields)
                    yield ProcEvent("exec", pid, tgid)
                elif what == PROC_EVENT_EXIT and fields + _TWO_IDS.size <= len(data):
                    pid, tgid = _TWO_IDS.unpack_from(data, fields)
                    yield ProcEvent("exit", pid, tgid)
                elif what == PROC_EVENT_FORK and fields + _FOUR_IDS.size <= len(data):
                    _ppid, ptgid, pid, tgid = _FOUR_IDS.unpack_from(data, fields)
                    yield ProcEvent("fork", pid, tgid, ptgid)
        offset += (length + 3) & ~3


def _subscribe(rcvbuf: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((0, CN_IDX_PROC))
        sock.send(_message(PROC_CN_MCAST_LISTEN))
    except OSError:
        sock.close()
        raise
    return sock


_CLONE_NEWNET: Final = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _in_initial_netns(make: Callable[[], socket.socket]) -> socket.socket:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        init = os.open("/proc/1/ns/net", os.O_RDONLY)
        try:
            _setns(init)
            try:
                return make()
            finally:
                _setns(own)
        finally:
            os.close(init)
    finally:
        os.close(own)


def _error(exc: OSError) -> ProcEventsError:
    if exc.errno in (errno.EPERM, errno.EACCES):
        return ProcEventsError(f"cannot subscribe to process events ({exc.strerror}); run the engine as root")
    if exc.errno in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
        return ProcEventsError(
            f"no process-events connector ({exc.strerror}); the kernel needs CONFIG_PROC_EVENTS"
        )
    return ProcEventsError(f"cannot subscribe to process events ({exc.strerror})")


class ProcEvents:
    """A subscription to the process-events connector; iterate :meth:`read`; :meth:`close`."""

    def __init__(self, rcvbuf: int = 8 << 20) -> None:
        try:
            self._sock = _subscribe(rcvbuf)
        except OSError as exc:
            if exc.errno != errno.ECONNREFUSED:
                raise _error(exc) from None
            # The connector lives in the initial network namespace only: an engine in another
            # one (a container, a test namespace) opens its socket there (this thread only).
            try:
                self._sock = _in_initial_netns(lambda: _subscribe(rcvbuf))
            except OSError as again:
                raise _error(again) from None
        self.lost = 0  #: times the kernel dropped events (receive buffer full)

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self, timeout: float) -> list[ProcEvent]:
        """The events that arrived within ``timeout`` seconds (empty on timeout)."""
        ready, _writable, _failed = select.select([self._sock], [], [], timeout)
        if not ready:
            return []
        out: list[ProcEvent] = []
        while True:
            try:
                data = self._sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.lost += 1
                    continue
                raise
            out.extend(parse(data))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.send(_message(PROC_CN_MCAST_IGNORE))
        self._sock.close()
