"""The Linux control transport: a Unix stream socket, mode 0600, in a 0700 directory.

Every peer's credentials are read with ``SO_PEERCRED``; anyone but root (or the engine's own
user, when the engine itself does not run as root) is answered with an error and
disconnected. Implements :class:`sessionnet_vip.engine.transport.Transport`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import socketserver
import stat
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH
from sessionnet_vip.engine.linux.client import request
from sessionnet_vip.engine.transport import Handler, PeerInfo, send_reply, serve_lines
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

_UCRED: Final = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process at the other end of a Unix stream socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return pid, uid, gid


def allowed_uids() -> frozenset[int]:
    """Root, plus the engine's own user when it does not run as root (development)."""
    return frozenset({0, os.geteuid()})


class _Handler(socketserver.StreamRequestHandler):
    server: UnixControlServer

    def handle(self) -> None:
        pid, uid, _gid = peer_credentials(self.connection)
        peer = PeerInfo(pid=pid, uid=uid, privileged=uid in self.server.allowed)
        if not peer.privileged:
            log.warning("refused control connection from pid %s uid %s (root only)", pid, uid)
            send_reply(
                self.wfile,
                {"ok": False, "error": f"permission denied: uid {uid} is not root; run vipctl as root"},
            )
            return
        serve_lines(self.rfile, self.wfile, peer, self.server.handler)


class UnixControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, handler: Handler, allowed: Iterable[int]) -> None:
        self.handler = handler
        self.allowed = frozenset(allowed)
        self.path = path
        prepare_socket_path(path)
        old = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)


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
