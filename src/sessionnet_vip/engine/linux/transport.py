"""The Linux control transport: a Unix stream socket, mode 0600, in a 0700 directory.

Every peer's credentials are read with ``SO_PEERCRED``; anyone but root (or the engine's own
user, when the engine itself does not run as root) is answered with an error and
disconnected. Implements :class:`sessionnet_vip.engine.transport.Transport`.

One thread serves every connection (an event loop over ``epoll(7)``): each
round it reads what the ready connections sent, answers all the complete request lines with
one call of the engine's batch handler (:func:`~sessionnet_vip.engine.transport.batch_of`),
which commits their lease changes in one transaction, then writes the replies. Nothing waits
on the GIL or on another connection's thread, and a logon storm over many connections costs
one commit per round instead of one per request (group commit). No reply is written before
its batch is committed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import stat
import struct
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH
from sessionnet_vip.engine.linux.client import request
from sessionnet_vip.engine.protocol import decode_request
from sessionnet_vip.engine.transport import (
    Handler,
    PeerInfo,
    batch_of,
    encode_reply,
    split_lines,
    too_long,
)
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

_UCRED: Final = struct.Struct("3i")
#: Bytes read from one connection per round (what is left waits in the socket for the next).
RECV_SIZE: Final = 256 * 1024
#: Reply bytes a connection may leave unread before the engine stops reading its requests.
MAX_UNSENT: Final = 4 * 1024 * 1024


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a Unix stream socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


def allowed_uids() -> frozenset[int]:
    """Root, plus the engine's own user when it does not run as root (development)."""
    return frozenset({0, os.geteuid()})


class _Connection:
    """One client: what it sent and what it has not read yet."""

    __slots__ = ("closing", "eof", "events", "fd", "inbox", "outbox", "peer", "sock")

    def __init__(self, sock: socket.socket, peer: PeerInfo) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.events = _READ  # what epoll watches for on it
        self.eof = False  # the client sent all it will send
        self.closing = False  # close once the outbox is written


_READ: Final = select.EPOLLIN
_WRITE: Final = select.EPOLLOUT
#: Readable, or the peer hung up / the socket failed (a read then says which).
_INPUT: Final = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR


class UnixControlServer:
    """The control socket and its event loop (``serve_forever`` in a thread of its own)."""

    def __init__(self, path: Path, handler: Handler, allowed: Iterable[int]) -> None:
        self.handler = handler
        self.batch = batch_of(handler)
        self.allowed = frozenset(allowed)
        self.path = path
        prepare_socket_path(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(path))
            listener.listen(socket.SOMAXCONN)
        except BaseException:
            listener.close()
            raise
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        listener.setblocking(False)
        self.socket = listener
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._epoll.register(listener.fileno(), _READ)
        self._epoll.register(self._wake_r.fileno(), _READ)
        self._connections: dict[int, _Connection] = {}
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        self._stop = False
        self._running = threading.Lock()
        self._stopped = threading.Event()
        self._stopped.set()

    # -- the ControlServer interface -----------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown`; ``poll_interval`` bounds how long a round waits."""
        with self._running:
            self._stopped.clear()
            try:
                while not self._stop:
                    self._round(poll_interval)
            finally:
                self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned."""
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        for conn in list(self._connections.values()):
            self._close(conn)
        self._epoll.close()
        self.socket.close()
        self._view.release()
        self._wake_r.close()
        self._wake_w.close()

    # -- one round -----------------------------------------------------------------------
    def _round(self, timeout: float) -> None:
        received: list[_Connection] = []
        listener = self.socket.fileno()
        for fd, mask in self._epoll.poll(timeout):
            conn = self._connections.get(fd)
            if conn is None:
                if fd == listener:
                    self._accept()
                else:  # the wake-up socket of shutdown()
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                continue
            if mask & _WRITE:
                self._flush(conn)
            if mask & _INPUT and not conn.closing and conn.fd >= 0 and self._receive(conn):
                received.append(conn)
        if received:
            self._answer(received)

    def _accept(self) -> None:
        while True:
            try:
                sock, _addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, a peer gone before accept: keep serving
                log.warning("control socket: accept failed: %s", exc)
                return
            sock.setblocking(False)
            try:
                pid, uid, _gid = peer_credentials(sock)
            except OSError:
                sock.close()
                continue
            conn = _Connection(sock, PeerInfo(pid=pid, uid=uid, privileged=uid in self.allowed))
            self._connections[conn.fd] = conn
            self._epoll.register(conn.fd, _READ)
            if not conn.peer.privileged:
                log.warning("refused control connection from pid %s uid %s (root only)", pid, uid)
                conn.outbox += encode_reply(
                    {"ok": False, "error": f"permission denied: uid {uid} is not root; run vipctl as root"}
                )
                conn.closing = True
                self._flush(conn)

    def _receive(self, conn: _Connection) -> bool:
        """Read what ``conn`` sent; ``True`` when there is something to answer or to close."""
        try:
            # into one reused buffer: a fresh bytes object of RECV_SIZE per read would be
            # mapped and unmapped by malloc each time (three system calls per request)
            size = conn.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._close(conn)
            return False
        if size:
            conn.inbox += self._view[:size]
        else:
            conn.eof = True
        return True

    def _answer(self, received: list[_Connection]) -> None:
        """Answer every complete line of ``received`` with one batch, then write the replies."""
        items: list[tuple[object, PeerInfo]] = []
        plans: list[tuple[_Connection, list[int | dict[str, Any]]]] = []
        for conn in received:
            lines, cut = split_lines(conn.inbox, conn.eof)
            plan: list[int | dict[str, Any]] = []
            for line in lines:
                req, refusal = decode_request(line)
                if refusal is not None:
                    plan.append(refusal)
                else:
                    plan.append(len(items))
                    items.append((req, conn.peer))
            if cut:
                plan.append(too_long())
                conn.closing = True
                conn.inbox.clear()
            elif conn.eof:
                conn.closing = True
            plans.append((conn, plan))
        replies: list[dict[str, Any]] = []
        if items:
            try:
                replies = self.batch(items)
            except Exception as exc:  # a bug must not stop the engine serving; say so to each
                log.exception("control requests failed")
                failed = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
                replies = [failed] * len(items)
        for conn, plan in plans:
            for entry in plan:
                conn.outbox += encode_reply(replies[entry] if isinstance(entry, int) else entry)
            self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        """Write what ``conn`` can take now; wait for it to be writable for the rest."""
        if conn.fd < 0:
            return
        if conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # the client went away without reading its replies
                self._close(conn)
                return
            del conn.outbox[:sent]
        if not conn.outbox and conn.closing:
            self._close(conn)
            return
        events = 0 if conn.closing or len(conn.outbox) > MAX_UNSENT else _READ
        if conn.outbox:
            events |= _WRITE
        if events != conn.events:
            conn.events = events
            self._epoll.modify(conn.fd, events)

    def _close(self, conn: _Connection) -> None:
        if conn.fd < 0:
            return
        self._connections.pop(conn.fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(conn.fd)
        conn.fd = -1
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        conn.sock.close()


def prepare_socket_path(path: Path) -> None:
    """Create the socket's directory (0700) and remove a *stale* socket; refuse anything
    else at that path and a socket a live engine still answers on."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise VipError(f"control_socket {path} exists and is not a socket; remove it or choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise VipError(f"control_socket {path}: {exc.strerror}") from None
        path.unlink()
        return
    finally:
        probe.close()
    raise VipError(f"another engine is serving on {path}; stop it first or choose another control_socket")


# --- the Transport interface -----------------------------------------------------------------
def default_address() -> str:
    return DEFAULT_CONTROL_SOCKET_PATH


def make_server(address: str, handler: Handler, allowed: Iterable[int] | None) -> UnixControlServer:
    return UnixControlServer(Path(address), handler, allowed_uids() if allowed is None else allowed)


def remove_address(address: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(address).unlink()


__all__ = ["allowed_uids", "default_address", "make_server", "peer_credentials", "remove_address", "request"]
