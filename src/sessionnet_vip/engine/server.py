"""``vipctl serve``: the engine process.

* a Unix control socket, mode 0600, speaking one JSON object per line each way; every peer's
  credentials are read with ``SO_PEERCRED`` and anyone but root (or the engine's own user,
  when the engine itself does not run as root) is answered with an error and disconnected;
* a reconcile at start and every ``reconcile_seconds`` against the live-session provider;
* optional Prometheus metrics on ``127.0.0.1:metrics_port``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import socketserver
import stat
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from sessionnet_vip.engine.protocol import MAX_REQUEST, decode_reply, decode_request
from sessionnet_vip.errors import VipError

if TYPE_CHECKING:  # the client side (request) must not load the engine, SQLite and YAML
    from sessionnet_vip.engine.service import Engine

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
    server: ControlServer

    def _send(self, reply: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(reply, sort_keys=True).encode() + b"\n")
        self.wfile.flush()

    def handle(self) -> None:
        pid, uid, _gid = peer_credentials(self.connection)
        if uid not in self.server.allowed:
            log.warning("refused control connection from pid %s uid %s (root only)", pid, uid)
            self._send(
                {"ok": False, "error": f"permission denied: uid {uid} is not root; run vipctl as root"}
            )
            return
        while True:
            line = self.rfile.readline(MAX_REQUEST + 1)
            if not line:
                return
            if len(line) > MAX_REQUEST and not line.endswith(b"\n"):
                self._send({"ok": False, "error": f"request longer than {MAX_REQUEST} bytes; nothing done"})
                return
            if not line.strip():
                continue
            request, refusal = decode_request(line)
            self._send(refusal if refusal is not None else self.server.engine.request(request))


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, engine: Engine, allowed: Iterable[int]) -> None:
        self.engine = engine
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


class _Collector:
    """Reads the pool figures from the store at scrape time (no copies to keep in sync)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        st = self.engine.status()
        for name, key, text in (
            ("pool_size", "pool_size", "Addresses in the configured pool."),
            ("leases_in_use", "in_use", "Pool addresses leased to live sessions."),
            ("leases_held", "held", "Pool addresses held for affinity after release."),
            ("pool_free", "free", "Pool addresses free to allocate."),
            ("leases_out_of_pool", "out_of_pool", "Live leases outside the configured pool."),
        ):
            yield GaugeMetricFamily(f"sessionnet_vip_{name}", text, value=st[key])
        yield CounterMetricFamily(
            "sessionnet_vip_pool_exhausted",
            "Allocations that found no free address (the session proceeded without a VIP).",
            value=st["exhausted_events"],
        )


def start_metrics(engine: Engine, port: int) -> Any:
    """Serve ``/metrics`` on 127.0.0.1:``port`` with a registry of this engine only."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(engine))
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    return server


@dataclass
class Service:
    """The running engine: socket server, reconcile loop, metrics. ``run`` blocks."""

    engine: Engine
    socket_path: Path
    metrics_port: int | None = None
    allowed: frozenset[int] = field(default_factory=allowed_uids)
    stop_event: threading.Event = field(default_factory=threading.Event)
    #: set once the socket listens: tests and embedders wait on it
    ready: threading.Event = field(default_factory=threading.Event)
    metrics_server: Any = None

    def _reconcile_loop(self, interval: float) -> None:
        while not self.stop_event.wait(interval):
            try:
                self.engine.reconcile()
            except VipError as exc:
                log.error("reconcile failed: %s", exc)

    def run(self, *, install_signals: bool = True) -> int:
        report = self.engine.reconcile()
        log.info(
            "start-up reconcile: %d reclaimed, %d outside the pool, %d expired holds purged",
            len(report.reclaimed),
            len(report.out_of_pool),
            report.purged_holds,
        )
        for warning in self.engine.config.policy.warnings:
            log.warning("%s", warning)
        server = ControlServer(self.socket_path, self.engine, self.allowed)
        metrics = None
        try:
            if self.metrics_port is not None:
                metrics = self.metrics_server = start_metrics(self.engine, self.metrics_port)
            if install_signals:

                def _stop(signum: int, frame: FrameType | None) -> None:
                    self.stop_event.set()

                signal.signal(signal.SIGTERM, _stop)
                signal.signal(signal.SIGINT, _stop)
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="control", daemon=True
            ).start()
            threading.Thread(
                target=self._reconcile_loop,
                args=(self.engine.config.reconcile_seconds,),
                name="reconcile",
                daemon=True,
            ).start()
            log.info("engine serving on %s (pool %s)", self.socket_path, self.engine.config.pool)
            self.ready.set()
            self.stop_event.wait()
        finally:
            server.shutdown()
            server.server_close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            if metrics is not None:
                metrics.shutdown()
                metrics.server_close()
            log.info("engine stopped")
        return 0


def result_of(reply: dict[str, Any]) -> Any:
    """The ``result`` of an engine reply, or :class:`VipError` with the engine's refusal."""
    if not reply.get("ok"):
        raise VipError(str(reply.get("error", "the engine refused the request")))
    return reply["result"]


def request(socket_path: Path, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to an engine and return its reply (client side of the protocol)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(socket_path))
        except OSError as exc:
            raise VipError(
                f"cannot reach the engine at {socket_path} ({exc.strerror}); start "
                "'vipctl serve --config FILE', or pass --socket PATH, "
                "or --config FILE to work on the store directly"
            ) from None
        sock.sendall(json.dumps(req).encode() + b"\n")
        with sock.makefile("rb") as reader:
            line = reader.readline(16 * 1024 * 1024)
    finally:
        sock.close()
    if not line:
        raise VipError(f"the engine at {socket_path} closed the connection without a reply")
    return decode_reply(line, str(socket_path))
