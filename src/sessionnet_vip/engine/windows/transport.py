"""The Windows control transport: a local named pipe, ``\\\\.\\pipe\\sessionnet-vip`` by default.

Implements :class:`sessionnet_vip.engine.transport.Transport`. The framing and the
malformed-input guarantees are :func:`sessionnet_vip.engine.transport.serve_lines`, the same
as the Linux socket. What differs is who may connect and how the engine learns who did:

* the pipe's security descriptor (:data:`PIPE_SDDL`) gives SYSTEM and Administrators full
  access and authenticated users read + write-data only: users can talk to the engine but
  cannot create instances of its pipe (``FILE_APPEND_DATA`` is ``FILE_CREATE_PIPE_INSTANCE``
  on a pipe, Microsoft Learn "Named Pipe Security and Access Rights",
  https://learn.microsoft.com/windows/win32/ipc/named-pipe-security-and-access-rights), and the
  first instance is created with ``FILE_FLAG_FIRST_PIPE_INSTANCE`` so nobody else's pipe of the
  same name is served; remote clients are rejected (``PIPE_REJECT_REMOTE_CLIENTS``);
* after the first request line arrives, the engine reads the client's session
  (``GetNamedPipeClientSessionId``) and impersonates it to read its user SID and whether it is
  an enabled member of Administrators (:func:`peer_from_facts` decides); the session comes from
  the pipe, never from the request.

Clients open the pipe with ``GENERIC_READ | FILE_WRITE_DATA`` (not ``GENERIC_WRITE``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.engine.transport import MAX_REPLY, MAX_REQUEST, Handler, PeerInfo, send_reply, serve_lines
from sessionnet_vip.engine.windows.pipename import DEFAULT_PIPE, check_pipe_name
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")
WINDOWS_ONLY: Final = "this part of the engine runs on Windows only"

SYSTEM_SID: Final = "S-1-5-18"
#: FILE_GENERIC_READ (0x120089) | FILE_WRITE_DATA (0x2) | FILE_WRITE_EA (0x10) |
#: FILE_WRITE_ATTRIBUTES (0x100): everything a client needs, without FILE_CREATE_PIPE_INSTANCE.
CLIENT_RIGHTS: Final = 0x120089 | 0x2 | 0x10 | 0x100
#: Protected DACL: SYSTEM and BUILTIN\\Administrators all access; Authenticated Users client
#: rights only (SDDL, Microsoft Learn "Security Descriptor String Format").
PIPE_SDDL: Final = f"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x{CLIENT_RIGHTS:08x};;;AU)"
_BUFFER: Final = 65536


def peer_from_facts(pid: int | None, session: int | None, user_sid: str | None, admin: bool) -> PeerInfo:
    """The verdict on a pipe client: privileged when it runs as SYSTEM or its token has
    Administrators enabled (an elevated administrator). Everything else is an ordinary user,
    who may only ask ``plan`` for ``session`` (see the Windows engine)."""
    privileged = user_sid == SYSTEM_SID or admin
    return PeerInfo(pid=pid, sid=user_sid, privileged=privileged, session=session)


def serve_client(
    rfile: io.BufferedReader,
    wfile: Any,
    identify: Callable[[], PeerInfo],
    handler: Handler,
) -> PeerInfo | None:
    """One client connection: wait for its first bytes (impersonation needs data read from the
    pipe first), identify it, then answer its lines with :func:`serve_lines`.

    A client that cannot be identified is answered with an error and disconnected; ``None``
    is returned then (and for a client that closed without sending)."""
    if not rfile.peek(1):
        return None
    try:
        peer = identify()
    except OSError as exc:
        log.warning("refused a pipe client that cannot be identified: %s", exc)
        send_reply(wfile, {"ok": False, "error": f"cannot identify the pipe client ({exc}); nothing done"})
        return None
    serve_lines(rfile, wfile, peer, handler)
    return peer


class _PipeRaw(io.RawIOBase):
    """A connected pipe handle as a raw stream (reads and writes through the boundary)."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        data = win32.read_handle(self.handle, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        return win32.write_handle(self.handle, bytes(data))


@dataclass
class PipeControlServer:
    """A thread per connected client; a new pipe instance waits while others are served."""

    name: str
    handler: Handler
    _stop: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _waiting: int | None = None
    _sa: Any = None

    def __post_init__(self) -> None:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        check_pipe_name(self.name)
        self._sa = win32.security_attributes(PIPE_SDDL)
        try:
            self._waiting = win32.create_pipe_instance(self.name, self._sa, first=True, buffer=_BUFFER)
        except win32.WinError as exc:
            if exc.winerror == win32.ERROR_ACCESS_DENIED:
                raise VipError(
                    f"control_pipe {self.name} is already served (another engine, or another program "
                    "using that name); stop it first or choose another control_pipe"
                ) from None
            raise VipError(f"cannot create control_pipe {self.name}: {exc}") from None

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        try:
            while not self._stop.is_set():
                handle = self._waiting
                if handle is None:
                    handle = self._waiting = win32.create_pipe_instance(
                        self.name, self._sa, first=False, buffer=_BUFFER
                    )
                try:
                    win32.connect_pipe(handle)
                except win32.WinError as exc:
                    log.warning("control pipe: %s", exc)
                    win32.close_handle(handle)
                    self._waiting = None
                    continue
                self._waiting = None
                if self._stop.is_set():
                    win32.close_handle(handle)
                    break
                threading.Thread(target=self._client, args=(handle,), name="pipe-client", daemon=True).start()
        finally:
            self._stopped.set()

    def _client(self, handle: int) -> None:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        def identify() -> PeerInfo:
            session = win32.pipe_client_session(handle)
            sid, admin = win32.pipe_client_token_facts(handle)
            return peer_from_facts(win32.pipe_client_pid(handle), session, sid, admin)

        raw = _PipeRaw(handle)
        try:
            serve_client(io.BufferedReader(raw, MAX_REQUEST + 1), raw, identify, self.handler)
        except OSError as exc:
            log.info("control pipe client went away: %s", exc)
        finally:
            win32.disconnect_pipe(handle)
            win32.close_handle(handle)

    def shutdown(self) -> None:
        """Stop accepting: wake the waiting ConnectNamedPipe with a client of our own."""
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        self._stop.set()
        with contextlib.suppress(OSError):
            win32.close_handle(win32.open_pipe_client(self.name, 1000))
        self._stopped.wait(5)

    def server_close(self) -> None:
        if sys.platform != "win32":
            raise VipError(WINDOWS_ONLY)
        from sessionnet_vip.engine.windows import win32

        if self._waiting is not None:
            win32.close_handle(self._waiting)
            self._waiting = None


# --- the Transport interface -----------------------------------------------------------------
def default_address() -> str:
    return DEFAULT_PIPE


def make_server(address: str, handler: Handler, allowed: Iterable[int] | None) -> PipeControlServer:
    """``allowed`` (POSIX uids) has no meaning on Windows: SYSTEM and Administrators are privileged."""
    return PipeControlServer(address, handler)


def remove_address(address: str) -> None:
    """A pipe disappears with its last handle: nothing to remove."""


def decode_reply(line: bytes, address: str) -> dict[str, Any]:
    if not line:
        raise VipError(f"the engine at {address} closed the connection without a reply")
    try:
        reply = json.loads(line)
    except ValueError:
        raise VipError(f"the engine at {address} sent a malformed reply") from None
    if not isinstance(reply, dict):
        raise VipError(f"the engine at {address} sent a malformed reply")
    return reply


def request(address: str, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request over the pipe and return the reply (client side)."""
    if sys.platform != "win32":
        raise VipError(WINDOWS_ONLY)
    from sessionnet_vip.engine.windows import win32

    try:
        handle = win32.open_pipe_client(address, int(timeout * 1000))
    except OSError as exc:
        raise VipError(
            f"cannot reach the engine at {address} ({exc}); start the service "
            "('vipctl service status'), or pass --socket PIPE, or --config FILE to work on the "
            "store directly"
        ) from None
    raw = _PipeRaw(handle)
    try:
        raw.write(json.dumps(req).encode() + b"\n")
        line = io.BufferedReader(raw).readline(MAX_REPLY)
    finally:
        win32.close_handle(handle)
    return decode_reply(line, address)
