"""``vipctl serve``: the engine process.

* a control server of this platform's transport (:mod:`sessionnet_vip.engine.platform`):
  on Linux a Unix socket, mode 0600, root only (:mod:`sessionnet_vip.engine.linux.transport`);
  one JSON object per line each way (:mod:`sessionnet_vip.engine.transport`); requests that
  arrive together are answered as one batch, their lease changes committed together
  (:meth:`Engine.handle_batch <sessionnet_vip.engine.service.Engine.handle_batch>`);
* a reconcile at start and every ``reconcile_seconds`` against the live-session provider;
* optional Prometheus metrics on ``127.0.0.1:metrics_port``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from sessionnet_vip.engine import platform as engine_platform
from sessionnet_vip.engine.transport import MAX_REQUEST, PeerInfo
from sessionnet_vip.errors import VipError

if TYPE_CHECKING:  # clients (request) must not load the engine, SQLite and YAML: CLI start-up
    from sessionnet_vip.engine.service import Engine

log = logging.getLogger("sessionnet_vip.engine")

__all__ = [
    "MAX_REQUEST",
    "EngineHandler",
    "PeerInfo",
    "Service",
    "default_address",
    "request",
    "result_of",
    "start_metrics",
]


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


@dataclass(frozen=True)
class EngineHandler:
    """The engine as a transport's :data:`~sessionnet_vip.engine.transport.Handler`, with the
    batch form (:meth:`Engine.handle_batch`) for transports that read many requests at once."""

    engine: Engine

    def __call__(self, request: object, peer: PeerInfo) -> dict[str, Any]:
        return self.engine.handle(request, peer)

    def batch(self, items: Sequence[tuple[object, PeerInfo]]) -> list[dict[str, Any]]:
        return self.engine.handle_batch(items)


@dataclass
class Service:
    """The running engine: control server, reconcile loop, metrics. ``run`` blocks.

    ``socket_path`` is the transport's address (a socket path on Linux, a pipe name on
    Windows); ``allowed`` the privileged POSIX uids (``None``: the transport's default)."""

    engine: Engine
    socket_path: Path | str
    metrics_port: int | None = None
    allowed: frozenset[int] | None = None
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
        transport = engine_platform.transport()
        address = str(self.socket_path)
        server = transport.make_server(address, EngineHandler(self.engine), self.allowed)
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
            self.engine.store.start_checkpointer()  # fdatasync off the request path; close() stops it
            log.info("engine serving on %s (pool %s)", self.socket_path, self.engine.config.pool)
            self.ready.set()
            self.stop_event.wait()
        finally:
            server.shutdown()
            server.server_close()
            transport.remove_address(address)
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


def default_address() -> str:
    """Where this platform's engine listens by default (the Linux control socket path)."""
    return engine_platform.transport().default_address()


def request(socket_path: Path | str, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to an engine and return its reply (client side, this platform's transport)."""
    return engine_platform.transport().request(str(socket_path), req, timeout)
