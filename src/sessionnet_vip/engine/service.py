"""The engine as an object: config + store + allocator + policy behind one request API.

:meth:`Engine.request` takes one decoded request mapping and returns one reply mapping; the
control socket, ``vipctl --config`` (direct mode) and tests all go through it, so a malformed
request is answered the same way everywhere and never changes anything.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.coerce import brief
from sessionnet_vip.engine.allocator import Allocator, ReconcileReport, session_id_of
from sessionnet_vip.engine.config import EngineConfig
from sessionnet_vip.engine.policy import Policy, ProcessRef
from sessionnet_vip.engine.sessions import SessionProvider, make_provider
from sessionnet_vip.engine.store import LeaseStore, read_boot_id
from sessionnet_vip.engine.translation import LOOKUP_CALLS, Call, SessionAddresses, translate
from sessionnet_vip.engine.transport import PeerInfo
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")


def run_periodically(
    stop: threading.Event,
    seconds: float,
    tick: Callable[[], object],
    what: str,
    wake: threading.Event | None = None,
) -> None:
    """Call ``tick`` every ``seconds`` until ``stop`` is set; a failure is logged, never fatal
    (a watcher thread of the engine must outlive one bad round). Setting ``wake`` calls ``tick``
    at once (a notification); whoever sets ``stop`` sets ``wake`` too, so the loop ends at once."""
    while True:
        if wake is None:
            if stop.wait(seconds):
                return
        else:
            wake.wait(seconds)
            wake.clear()
            if stop.is_set():
                return
        try:
            tick()
        except VipError as exc:
            log.error("%s: %s", what, exc)
        except Exception:
            log.exception("%s failed; continuing", what)


OPS: Final = ("status", "leases", "allocate", "release", "explain", "reconcile")


class RequestError(VipError):
    """A control request is malformed."""


def check_fields(req: Mapping[Any, Any], op: str, allowed: set[str]) -> None:
    """Refuse a request carrying fields other than ``op`` and ``allowed``."""
    extra = set(req) - allowed - {"op"}
    if extra:
        raise RequestError(f"{op}: unknown field(s) {', '.join(sorted(map(str, extra)))}")


def parse_session_request(req: Mapping[Any, Any], op: str) -> tuple[int, str | None]:
    """The session ID (required integer) and optional user name of a session request; the
    Linux agent and the Windows engine both parse their session operations with it."""
    if "session" not in req:
        raise RequestError(f"{op}: 'session' is missing; give a session ID")
    raw = req["session"]
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise RequestError(f"'session' is {raw!r}; give an integer session ID")
    sid = session_id_of(raw)
    user = req.get("user")
    if user is not None and not isinstance(user, str):
        raise RequestError(f"'user' is {user!r}; give a user name")
    return sid, user


def optional_ipv4(value: object, key: str) -> ipaddress.IPv4Address | None:
    """``value`` as an IPv4 address (``None`` stays ``None``); refuses IPv6 and junk, naming
    ``key``. The socket and ``vipctl explain --config`` both use it."""
    if value is None:
        return None
    try:
        return ipaddress.IPv4Address(value if isinstance(value, str) else str(value))
    except ValueError:
        raise RequestError(
            f"'{key}' is {brief(value)}; give an IPv4 address (IPv6 virtual IPs are not supported)"
        ) from None


_opt_address = optional_ipv4


def explain_decision(
    policy: Policy,
    session: SessionAddresses,
    process: str,
    call: str,
    address: str,
    *,
    ancestors: tuple[str, ...] = (),
    host_names: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Policy + translation for one call, as the ``explain`` reply."""
    try:
        call_enum = Call(call)
    except ValueError:
        raise RequestError(
            f"call {brief(call)} is unknown; use one of {', '.join(c.value for c in Call)}"
        ) from None
    decision = policy.decide(ProcessRef(process, ancestors))
    target: str = address
    result = translate(session, decision.mode, call_enum, target, host_names=host_names)
    return {
        "session_id": session.session_id,
        "vip": None if session.vip is None else str(session.vip),
        "loopback": str(session.loopback),
        "client_address": None if session.client_address is None else str(session.client_address),
        "process": process,
        "policy": decision.describe(),
        "mode": decision.mode.value,
        "lookup": call_enum in LOOKUP_CALLS,
        **{k: v for k, v in result.to_json().items() if k != "mode"},
    }


@dataclass
class Engine:
    """One engine: owns an open store. Thread-safe: requests are serialised by a lock."""

    config: EngineConfig
    store: LeaseStore
    allocator: Allocator
    provider: SessionProvider
    last_reconcile: ReconcileReport | None = None
    started_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        config: EngineConfig,
        *,
        provider: SessionProvider | None = None,
        boot_id: str | None = None,
        clock: Callable[[], float] = time.time,
        create: bool = True,
        durable: bool = True,
        synchronous: str | None = None,
    ) -> Engine:
        if create and not config.state_dir.exists():
            try:
                config.state_dir.mkdir(mode=0o700, parents=False)
            except OSError as exc:
                raise VipError(
                    f"cannot create state_dir {config.state_dir}: {exc.strerror}; "
                    "create it or fix 'state_dir'"
                ) from None
        store = LeaseStore.open(config.store_path, create=create, durable=durable, synchronous=synchronous)
        allocator = Allocator(
            store, config.pool, config.hold_seconds, boot_id=boot_id or read_boot_id(), clock=clock
        )
        engine = cls(config, store, allocator, provider or make_provider(config.session_provider))
        engine.started_at = clock()
        return engine

    def close(self) -> None:
        self.store.close()

    # -- operations ----------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        live = self.provider.live_sessions()
        with self._lock:
            report = self.allocator.reconcile(live)
            self.last_reconcile = report
        return report

    def status(self) -> dict[str, Any]:
        with self._lock:
            st = self.allocator.status().to_json()
            out = [
                lease.to_json()
                for lease in self.store.leases(include_held=False)
                if lease.address not in self.config.pool
            ]
        st.update(
            {
                "store": str(self.store.path),
                "boot_id": self.allocator.boot_id,
                "session_provider": self.provider.name,
                "hold_seconds": self.config.hold_seconds,
                "out_of_pool_leases": out,
                "policy_warnings": list(self.config.policy.warnings),
                "pid": os.getpid(),
            }
        )
        return st

    def request(self, req: object) -> dict[str, Any]:
        """Answer one request; never raises for bad input (``{"ok": false, "error": ...}``)."""
        try:
            result = self._dispatch(req)
        except VipError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not kill the engine; say so and keep serving
            log.exception("request %r failed", req)
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
        return {"ok": True, "result": result}

    def handle(self, req: object, peer: PeerInfo) -> dict[str, Any]:
        """Answer one request from a control connection (the transports' :data:`Handler`).

        A privileged peer may do everything :meth:`request` does. Others are refused here;
        a platform whose transport admits unprivileged peers (the Windows pipe: a user's own
        ``plan``) narrows what they may ask in :meth:`handle_unprivileged`."""
        if peer.privileged:
            return self.request(req)
        return self.handle_unprivileged(req, peer)

    def handle_unprivileged(self, req: object, peer: PeerInfo) -> dict[str, Any]:
        """Requests of a peer that is neither root nor an administrator: refused by default."""
        return {"ok": False, "error": f"permission denied: {peer.describe()} is not privileged; nothing done"}

    def _dispatch(self, req: object) -> Any:
        if not isinstance(req, Mapping):
            raise RequestError(f"a request is a JSON object with an 'op' key, not {type(req).__name__}")
        op = req.get("op")
        allowed = {
            "status": set(),
            "leases": {"all"},
            "allocate": {"session", "user", "uid", "pid"},
            "release": {"session"},
            "explain": {"session", "process", "call", "address", "ancestors", "client_address", "vip"},
            "reconcile": set(),
        }
        if op not in allowed:
            raise RequestError(f"'op' is {brief(op)}; use one of {', '.join(OPS)}")
        extra = set(req) - allowed[op] - {"op"}
        if extra:
            raise RequestError(f"{op}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
        if op == "status":
            return self.status()
        if op == "leases":
            flag = req.get("all", False)
            if not isinstance(flag, bool):
                raise RequestError("'all' must be true or false")
            with self._lock:
                return [lease.to_json() for lease in self.store.leases(include_held=flag)]
        if op == "reconcile":
            return self.reconcile().to_json()
        if "session" not in req:
            raise RequestError(f"{op}: 'session' is missing; give a session ID")
        session = req["session"]
        if isinstance(session, bool) or not isinstance(session, int):
            raise RequestError(f"'session' is {brief(session)}; give an integer session ID")
        if op == "allocate":
            user = req.get("user")
            if user is not None and not isinstance(user, str):
                raise RequestError(f"'user' is {brief(user)}; give a user name")
            with self._lock:
                return self.allocator.allocate(session, user, req.get("uid"), req.get("pid")).to_json()
        if op == "release":
            with self._lock:
                return self.allocator.release(session).to_json()
        return self._explain(req, session)

    def _explain(self, req: Mapping[str, Any], session: int) -> dict[str, Any]:
        for key in ("process", "call", "address"):
            if not isinstance(req.get(key), str):
                raise RequestError(f"explain: '{key}' is missing or not a string")
        ancestors = req.get("ancestors", [])
        if not isinstance(ancestors, list) or not all(isinstance(a, str) for a in ancestors):
            raise RequestError("explain: 'ancestors' must be a list of paths")
        sid = session_id_of(session)
        vip = _opt_address(req.get("vip"), "vip")
        if vip is None:
            with self._lock:
                lease = self.store.lease_of(sid)
            vip = None if lease is None else lease.address
        addrs = SessionAddresses.for_session(
            sid, vip, _opt_address(req.get("client_address"), "client_address")
        )
        return explain_decision(
            self.config.policy,
            addrs,
            req["process"],
            req["call"],
            req["address"],
            ancestors=tuple(ancestors),
            host_names=frozenset({socket.gethostname()}),
        )
