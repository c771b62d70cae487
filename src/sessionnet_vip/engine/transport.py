"""The control channel, platform-neutral part: who is asking (:class:`PeerInfo`), the line
protocol both transports speak (:func:`serve_lines`), and the interface each platform's
transport module implements (:class:`Transport`).

Framing, the same on every platform: one UTF-8 JSON object per line (``\\n``) each way.
A line longer than :data:`MAX_REQUEST` bytes ends the connection with an error; a line that
is not JSON is answered with an error and the connection stays open; blank lines are skipped.
Two readers apply these rules: :func:`serve_lines` (a blocking reader per connection, the
Windows pipe) and :func:`split_lines` (a connection's received bytes, the Linux socket's
event loop).

A transport may answer the requests that arrive together (from one or several connections)
with one call of a :data:`BatchHandler` (:func:`batch_of`): the engine then commits their lease
changes in one transaction and replies only after that commit.

The per-platform modules (chosen by :mod:`sessionnet_vip.engine.platform`, never imported on
the other platform):

* ``sessionnet_vip.engine.linux.transport``: a Unix stream socket, peers identified with
  ``SO_PEERCRED``;
* ``sessionnet_vip.engine.windows.transport``: a named pipe (the launcher contract in
  docs/windows-data-plane.md), peers identified by the pipe client's token and session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# The framing's limits and the strict decoding of a line live in the transport-neutral
# protocol module (bounded nesting, bounded integers, finite numbers: a bad line is one
# ``{"ok": false}`` reply on every transport).
from sessionnet_vip.engine.protocol import MAX_REPLY, MAX_REQUEST, decode_request

__all__ = [
    "MAX_REPLY",
    "MAX_REQUEST",
    "BatchHandler",
    "ControlServer",
    "Handler",
    "PeerInfo",
    "Transport",
    "batch_of",
    "encode_reply",
    "send_reply",
    "serve_lines",
    "split_lines",
]


@dataclass(frozen=True)
class PeerInfo:
    """The process at the other end of a control connection, as the operating system says.

    ``privileged`` is the transport's verdict: root (or the engine's own user) on Linux;
    SYSTEM or a member of Administrators on Windows. ``session`` is the peer's own session
    when the OS tells it (Windows: ``GetNamedPipeClientSessionId``), never taken from a request.
    """

    pid: int | None
    uid: int | None = None
    sid: str | None = None
    privileged: bool = False
    session: int | None = None

    def describe(self) -> str:
        who = f"uid {self.uid}" if self.uid is not None else f"SID {self.sid or 'unknown'}"
        return f"pid {self.pid if self.pid is not None else 'unknown'} {who}"


#: What a transport hands each decoded request to: ``(request, peer) -> reply``. The reply is
#: a mapping ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": str}``.
Handler = Callable[[object, PeerInfo], dict[str, Any]]

#: Answers several decoded requests at once: ``[(request, peer), ...] -> [reply, ...]`` (same
#: order, one reply each). The engine's :meth:`~sessionnet_vip.engine.service.Engine.handle_batch`
#: commits the lease changes of a batch together, before any of its replies is sent.
BatchHandler = Callable[[Sequence[tuple[object, PeerInfo]]], list[dict[str, Any]]]


def batch_of(handler: Handler) -> BatchHandler:
    """The batch form of ``handler``: its ``batch`` attribute when it has one (the engine's
    :class:`~sessionnet_vip.engine.server.EngineHandler`), else one call per request."""
    batch: BatchHandler | None = getattr(handler, "batch", None)
    if batch is not None:
        return batch

    def one_by_one(items: Sequence[tuple[object, PeerInfo]]) -> list[dict[str, Any]]:
        return [handler(request, peer) for request, peer in items]

    return one_by_one


class LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


class LineWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class ControlServer(Protocol):
    """A listening control server; ``serve_forever`` runs in its own thread."""

    def serve_forever(self, poll_interval: float = 0.5) -> None: ...

    def shutdown(self) -> None: ...

    def server_close(self) -> None: ...


class Transport(Protocol):
    """What ``engine.<platform>.transport`` provides (module-level functions)."""

    def default_address(self) -> str:
        """Where the engine listens when the config names no address."""

    def make_server(self, address: str, handler: Handler, allowed: Iterable[int] | None) -> ControlServer:
        """Listen on ``address`` (refusing one a live engine serves); ``allowed`` is the set of
        POSIX uids that are privileged (``None``: the platform's default)."""

    def remove_address(self, address: str) -> None:
        """Clean up after ``server_close`` (the socket file on Linux; nothing for a pipe)."""

    def request(self, address: str, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Client side: send one request, return the decoded reply (VipError when unreachable)."""


#: One encoder for every reply (``json.dumps`` with arguments builds a new one per call).
_ENCODER = json.JSONEncoder(sort_keys=True)


def encode_reply(reply: dict[str, Any]) -> bytes:
    """A reply as its line (keys sorted, as every transport has always sent them)."""
    return _ENCODER.encode(reply).encode() + b"\n"


def send_reply(wfile: LineWriter, reply: dict[str, Any]) -> None:
    wfile.write(encode_reply(reply))
    wfile.flush()


def too_long() -> dict[str, Any]:
    return {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes; nothing done"}


def split_lines(buffer: bytearray, eof: bool) -> tuple[list[bytes], bool]:
    """Take the complete request lines out of a connection's received ``buffer`` (what is left
    is the start of the next line), by the same rules as :func:`serve_lines`: blank lines are
    skipped; at ``eof`` an unterminated last line is a line too. Returns ``(lines, cut)``:
    ``cut`` means a line longer than :data:`MAX_REQUEST` bytes came next, and the connection
    ends after the lines before it are answered (with the :func:`too_long` reply)."""
    lines: list[bytes] = []
    start = 0
    size = len(buffer)
    while start < size:
        end = buffer.find(b"\n", start)
        if end < 0:
            if size - start > MAX_REQUEST:
                return lines, True
            if not eof:
                break
            end = size - 1
        if end - start > MAX_REQUEST:  # the line without its newline is too long
            return lines, True
        line = bytes(buffer[start : end + 1])
        start = end + 1
        if line.strip():
            lines.append(line)
    del buffer[:start]
    return lines, False


def serve_lines(rfile: LineReader, wfile: LineWriter, peer: PeerInfo, handler: Handler) -> None:
    """Answer request lines from ``rfile`` until EOF with ``handler``'s replies on ``wfile``."""
    while True:
        line = rfile.readline(MAX_REQUEST + 1)
        if not line:
            return
        if len(line) > MAX_REQUEST and not line.endswith(b"\n"):
            send_reply(wfile, too_long())
            return
        if not line.strip():
            continue
        request, refusal = decode_request(line)
        send_reply(wfile, refusal if refusal is not None else handler(request, peer))
