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
from sessionnet_vip.engine.windows import WINDOWS_ONLY
from sessionnet_vip.engine.windows.pipename import DEFAULT_PIPE, check_pipe_name
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

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


@dataclass(frozen=True)
class PipeOps:
    """The pipe calls the server and client need: the Win32 boundary (:func:`native_ops`), or a
    test's in-memory pipes. Handles are integers; a failed call raises :class:`OSError`
    (``winerror`` set on Windows)."""

    create: Callable[[bool], int]  #: a new server instance (``True``: the first one)
    connect: Callable[[int], None]  #: wait for a client on an instance
    read: Callable[[int, int], bytes]  #: up to n bytes, ``b""`` at the end
    write: Callable[[int, bytes], int]
    disconnect: Callable[[int], None]
    close: Callable[[int], None]
    identify: Callable[[int], PeerInfo]  #: after the first bytes were read
    open_client: Callable[[int], int]  #: a client handle (timeout in ms)
    already_served: Callable[[OSError], bool]  #: the name belongs to another server


def native_ops(name: str) -> PipeOps:
    """The pipe operations of this Windows host for pipe ``name`` (security descriptor :data:`PIPE_SDDL`)."""
    if sys.platform != "win32":
        raise VipError(WINDOWS_ONLY)
    from sessionnet_vip.engine.windows import win32

    sa = win32.security_attributes(PIPE_SDDL)

    def identify(handle: int) -> PeerInfo:
        session = win32.pipe_client_session(handle)
        sid, admin = win32.pipe_client_token_facts(handle)
        return peer_from_facts(win32.pipe_client_pid(handle), session, sid, admin)

    return PipeOps(
        create=lambda first: win32.create_pipe_instance(name, sa, first=first, buffer=_BUFFER),
        connect=win32.connect_pipe,
        read=win32.read_handle,
        write=win32.write_handle,
        disconnect=win32.disconnect_pipe,
        close=win32.close_handle,
        identify=identify,
        open_client=lambda timeout_ms: win32.open_pipe_client(name, timeout_ms),
        already_served=lambda exc: getattr(exc, "winerror", None) == win32.ERROR_ACCESS_DENIED,
    )


class _PipeRaw(io.RawIOBase):
    """A connected pipe handle as a raw stream."""

    def __init__(self, ops: PipeOps, handle: int) -> None:
        self.ops = ops
        self.handle = handle

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.ops.read(self.handle, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        return self.ops.write(self.handle, bytes(data))


@dataclass
class PipeControlServer:
    """A thread per connected client; a new pipe instance waits while others are served."""

    name: str
    handler: Handler
    ops: PipeOps | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _waiting: int | None = None
    _clients: set[threading.Thread] = field(default_factory=set)

    def __post_init__(self) -> None:
        check_pipe_name(self.name)
        if self.ops is None:
            self.ops = native_ops(self.name)
        try:
            self._waiting = self.ops.create(True)
        except OSError as exc:
            if self.ops.already_served(exc):
                raise VipError(
                    f"control_pipe {self.name} is already served (another engine, or another program "
                    "using that name); stop it first or choose another control_pipe"
                ) from None
            raise VipError(f"cannot create control_pipe {self.name}: {exc}") from None

    @property
    def _ops(self) -> PipeOps:
        assert self.ops is not None
        return self.ops

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        ops = self._ops
        try:
            while not self._stop.is_set():
                handle = self._waiting
                if handle is None:
                    try:
                        handle = self._waiting = ops.create(False)
                    except OSError as exc:
                        log.error("control pipe: cannot create another instance: %s", exc)
                        self._stop.wait(poll_interval)
                        continue
                try:
                    ops.connect(handle)
                except OSError as exc:
                    log.warning("control pipe: %s", exc)
                    ops.close(handle)
                    self._waiting = None
                    continue
                self._waiting = None
                if self._stop.is_set():
                    ops.close(handle)
                    break
                thread = threading.Thread(
                    target=self._client, args=(handle,), name="pipe-client", daemon=True
                )
                self._clients.add(thread)
                thread.start()
        finally:
            self._stopped.set()

    def _client(self, handle: int) -> None:
        ops = self._ops
        raw = _PipeRaw(ops, handle)
        try:
            serve_client(
                io.BufferedReader(raw, MAX_REQUEST + 1), raw, lambda: ops.identify(handle), self.handler
            )
        except OSError as exc:
            log.info("control pipe client went away: %s", exc)
        finally:
            ops.disconnect(handle)
            ops.close(handle)
            self._clients.discard(threading.current_thread())

    def shutdown(self) -> None:
        """Stop accepting: wake the waiting ConnectNamedPipe with a client of our own, until the
        loop has ended (it may be between two instances, with none to connect to yet)."""
        self._stop.set()
        for _attempt in range(100):
            with contextlib.suppress(OSError):
                self._ops.close(self._ops.open_client(100))
            if self._stopped.wait(0.05):
                break

    def server_close(self) -> None:
        if self._waiting is not None:
            self._ops.close(self._waiting)
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


def request(
    address: str, req: dict[str, Any], timeout: float = 30.0, *, ops: PipeOps | None = None
) -> dict[str, Any]:
    """Send one request over the pipe and return the reply (client side)."""
    try:
        ops = ops or native_ops(address)
        handle = ops.open_client(int(timeout * 1000))
    except OSError as exc:
        raise VipError(
            f"cannot reach the engine at {address} ({exc}); start the service "
            "('vipctl service status'), or pass --socket PIPE, or --config FILE to work on the "
            "store directly"
        ) from None
    raw = _PipeRaw(ops, handle)
    try:
        raw.write(json.dumps(req).encode() + b"\n")
        line = io.BufferedReader(raw).readline(MAX_REPLY)
    finally:
        ops.close(handle)
    return decode_reply(line, address)
