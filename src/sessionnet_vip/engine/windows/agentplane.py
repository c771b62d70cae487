"""The engine on Windows: WTS sessions, pool addresses on the adapter, and placement answers
(``plan``) for the launcher ``viprun.exe`` over the control pipe.

On Windows the data plane is the launcher and its hook DLL (docs/windows-data-plane.md): the
launcher asks ``{"op": "plan", "command": "<full Win32 path>"}``, the engine answers with the
session's addresses, the program's mode and the session options, and the DLL applies them
inside the program. The engine loads nothing into the kernel; what it owns is the lease, the
decision and the pool addresses on the adapter.

Access (the pipe tells who asks, :mod:`sessionnet_vip.engine.windows.transport`):

* SYSTEM and Administrators: every request, ``plan`` with an explicit ``session``;
* anyone else: ``plan`` only, for the pipe client's own session (``GetNamedPipeClientSessionId``);
  a ``session`` field from them is refused, whatever its value.

Sessions come from WTS (:mod:`sessionnet_vip.engine.windows.sessions`): the watcher allocates
at logon and releases at logoff; reconcile reclaims leases of ended sessions and of earlier
boots.
"""

from __future__ import annotations

import ipaddress
import logging
import ntpath
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sessionnet_vip.engine.allocator import ReconcileReport
from sessionnet_vip.engine.config import EngineConfig
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.engine.service import (
    Engine,
    RequestError,
    check_fields,
    parse_session_request,
    run_periodically,
)
from sessionnet_vip.engine.transport import PeerInfo
from sessionnet_vip.engine.windows.addresses import AssignError, WindowsAssigner
from sessionnet_vip.engine.windows.sessions import WtsSession, WtsSessions
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

__all__ = ["AssignError", "WindowsEngine", "check_command", "placement", "serve"]

WINDOWS_OPS: Final = ("plan", "logon", "logoff", "sessions")
#: Modes the hook DLL applies (client_address needs the session's client address).
DLL_MODES: Final = frozenset(
    {Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK, Mode.CLIENT_ADDRESS}
)
#: The only request an ordinary user may send, and its only field.
USER_FIELDS: Final = frozenset({"op", "command"})


def check_command(command: object) -> str:
    """A full Win32 path (``C:\\...`` or ``\\\\server\\share\\...``) of a program; else RequestError."""
    if (
        not isinstance(command, str)
        or not ntpath.isabs(command)
        or not ntpath.splitdrive(command)[0]
        or len(command) > 32767
        or "\0" in command
    ):
        raise RequestError(
            f"plan: 'command' is {command!r}; give the program's full Win32 path, e.g. "
            "'C:\\Program Files\\CRM\\crm.exe'"
        )
    return command


def placement(
    *,
    session_id: int,
    vip: str | None,
    loopback: str,
    client_address: ipaddress.IPv4Address | None,
    exe: str,
    mode: Mode,
    matched: str | None,
    active: bool,
    inactive_reason: str,
    isolate_loopback: bool,
    report_original: bool,
    inherit_children: bool,
    message: str | None,
) -> dict[str, Any]:
    """The ``plan`` reply of the launcher contract (docs/windows-data-plane.md)."""
    note: str | None = None
    translated = mode in DLL_MODES and active
    if mode in DLL_MODES and not active:
        note = f"listed, but the engine serves no translation here: {inactive_reason}"
    elif mode is Mode.CLIENT_ADDRESS and client_address is None:
        translated = False
        note = "mode client_address, but WTS reports no IPv4 client address for this session (console, or an IPv6 client)"
    elif mode is Mode.NONE:
        note = "the program is not listed for this session"
    return {
        "session_id": session_id,
        "vip": vip,
        "loopback": loopback,
        "client_address": None if client_address is None else str(client_address),
        "exe": exe,
        "mode": mode.value,
        "matched": matched,
        "translated": translated,
        "isolate_loopback": isolate_loopback,
        "report_original": report_original,
        "inherit_children": inherit_children,
        "message": message,
        "note": note,
    }


def refuse_user_request(req: object, peer: PeerInfo) -> str | None:
    """Why an ordinary user's request is refused, or ``None`` when it is their own ``plan``."""
    if not isinstance(req, Mapping):
        return f"a request is a JSON object with an 'op' key, not {type(req).__name__}"
    if req.get("op") != "plan":
        return (
            f"permission denied: {peer.describe()} is not an administrator; ordinary users may only "
            "ask 'plan' for their own session (run vipctl from an elevated prompt)"
        )
    if "session" in req:
        return (
            "permission denied: 'session' is taken from the pipe client, not from the request; "
            "leave it out (only administrators may name a session)"
        )
    extra = set(map(str, req)) - USER_FIELDS
    if extra:
        return f"plan: unknown field(s) {', '.join(sorted(extra))}"
    if peer.session is None:
        return "permission denied: the pipe client's session is unknown; nothing done"
    return None


@dataclass
class WindowsEngine(Engine):
    """The engine with WTS sessions, the pool on the adapter and ``plan`` for the launcher."""

    wts: WtsSessions | None = None
    assigner: WindowsAssigner | None = None
    assigned: dict[str, str] = field(default_factory=dict)
    unassigned: dict[str, str] = field(default_factory=dict)
    address_warnings: list[str] = field(default_factory=list)
    active: bool = False
    plane_reason: str = "the engine was not started"
    followed: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _watcher: threading.Thread | None = field(default=None, repr=False, compare=False)
    #: set by a session-change notification (the service's SERVICE_CONTROL_SESSIONCHANGE): the
    #: WTS watcher runs at once instead of at its next period
    session_changed: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @classmethod
    def open_windows(cls, config: EngineConfig, **kwargs: Any) -> WindowsEngine:
        engine = cast(WindowsEngine, cls.open(config, **kwargs))
        if isinstance(engine.provider, WtsSessions):
            engine.wts = engine.provider
        return engine

    # -- lifecycle -------------------------------------------------------------------------
    def start_agent(self, *, assigner: WindowsAssigner | None = None, watch: bool = True) -> None:
        settings = self.config.data_plane
        if settings.enabled == "off":
            self.active = False
            self.plane_reason = "disabled by 'data_plane.enabled: false'; the engine runs as allocator only"
        else:
            self.active = True
            self.plane_reason = "placements served to viprun.exe over the control pipe"
        if settings.enabled != "off" and settings.assign_addresses:
            self.assigner = assigner
            if self.assigner is None:
                from sessionnet_vip.engine.windows.addresses import native_helper

                self.assigner = WindowsAssigner(native_helper())
            self.assigned = self.assigner.assign(list(self.config.pool.addresses()))
            self.unassigned = dict(self.assigner.unassigned)
            self.address_warnings = list(self.assigner.warnings)
            for address, why in self.unassigned.items():
                log.warning("pool address %s not added: %s", address, why)
            for warning in self.address_warnings:
                log.warning("%s", warning)
            if self.unassigned and settings.enabled == "required":
                self.assigner.release()
                raise VipError(
                    "'data_plane.enabled' is true but pool addresses cannot be added: "
                    + "; ".join(f"{a}: {w}" for a, w in sorted(self.unassigned.items()))
                )
        if watch and self.wts is not None:
            self._watcher = threading.Thread(target=self._watch_loop, name="wts-watch", daemon=True)
            self._watcher.start()

    def stop_agent(self) -> None:
        self._stop.set()
        self.session_changed.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        if self.assigner is not None:
            removed = self.assigner.release()
            log.info("removed pool address(es) %s", ", ".join(removed) or "none")
            self.assigner = None
            self.assigned = {}
        self.active = False
        self.plane_reason = "stopped"

    # -- sessions --------------------------------------------------------------------------
    def follow_wts(self) -> tuple[list[int], list[int]]:
        """Allocate for sessions that appeared, release those that ended; ``(started, ended)``."""
        if self.wts is None:
            return [], []
        found = self.wts.sessions()
        if found is None:
            return [], []
        # a session at the logon screen (no user yet) gets its address when a user logs on
        found = {sid: s for sid, s in found.items() if s.account is not None}
        started: list[int] = []
        ended: list[int] = []
        for sid in sorted(set(found) - self.followed):
            try:
                super()._dispatch(self._allocate_request(sid, found[sid]))
            except VipError as exc:
                log.error("WTS session %d: %s", sid, exc)
                continue
            self.followed.add(sid)
            started.append(sid)
        for sid in sorted(self.followed - set(found)):
            try:
                super()._dispatch({"op": "release", "session": sid})
            except VipError as exc:
                log.error("WTS session %d ended: %s", sid, exc)
            self.followed.discard(sid)
            ended.append(sid)
        return started, ended

    @staticmethod
    def _allocate_request(sid: int, session: WtsSession | None) -> dict[str, Any]:
        req: dict[str, Any] = {"op": "allocate", "session": sid}
        if session is not None and session.account:
            req["user"] = session.account
        return req

    def notify_session_change(self) -> None:
        """A session logged on, off, connected or disconnected: follow WTS now (the period stays
        as the backstop for a missed notification)."""
        self.session_changed.set()

    def _watch_loop(self) -> None:
        run_periodically(
            self._stop, self.config.data_plane.watch_seconds, self.follow_wts, "WTS watcher", self.session_changed
        )

    # -- requests --------------------------------------------------------------------------
    def handle_unprivileged(self, req: object, peer: PeerInfo) -> dict[str, Any]:
        """An ordinary user's own ``plan`` (the launcher's request); everything else refused."""
        why = refuse_user_request(req, peer)
        if why is not None:
            log.info("refused request from %s: %s", peer.describe(), why)
            return {"ok": False, "error": why}
        assert isinstance(req, Mapping) and peer.session is not None
        try:
            return {"ok": True, "result": self._plan(peer.session, check_command(req.get("command")), None)}
        except VipError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not kill the engine
            log.exception("plan for %s failed", peer.describe())
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}

    def _dispatch(self, req: object) -> Any:
        if not isinstance(req, Mapping) or req.get("op") not in WINDOWS_OPS:
            return super()._dispatch(req)
        op = req["op"]
        allowed = {
            "plan": {"session", "command", "user"},
            "logon": {"session", "user"},
            "logoff": {"session"},
            "sessions": set(),
        }[op]
        check_fields(req, op, allowed)
        if op == "sessions":
            return self._sessions()
        sid, user = parse_session_request(req, op)
        if op == "logon":
            return super()._dispatch({"op": "allocate", "session": sid, **({"user": user} if user else {})})
        if op == "logoff":
            return super()._dispatch({"op": "release", "session": sid})
        return self._plan(sid, check_command(req.get("command")), user)

    def _plan(self, sid: int, command: str, user: str | None) -> dict[str, Any]:
        session = self.wts.describe(sid) if self.wts is not None else None
        req = self._allocate_request(sid, session)
        if user is not None:
            req["user"] = user
        alloc: dict[str, Any] = super()._dispatch(req)
        decision = self.config.policy.decide(command)
        report_original, inherit_children = self.config.policy.options_of(decision.matched)
        return placement(
            session_id=sid,
            vip=alloc["vip"],
            loopback=alloc["loopback"],
            client_address=None if session is None else session.client_address,
            exe=command,
            mode=decision.mode,
            matched=decision.matched,
            active=self.active,
            inactive_reason=self.plane_reason,
            isolate_loopback=self.config.isolate_loopback,
            report_original=report_original,
            inherit_children=inherit_children,
            message=alloc.get("message"),
        )

    def _sessions(self) -> list[dict[str, Any]]:
        found = self.wts.sessions() if self.wts is not None else None
        out: list[dict[str, Any]] = []
        with self._lock:
            leases = {lease.session_id: lease for lease in self.store.leases(include_held=False)}
        for sid in sorted(set(found or {}) | {s for s in leases if s is not None}):
            session = (found or {}).get(sid)
            lease = leases.get(sid)
            out.append(
                {
                    "session_id": sid,
                    "user": None if session is None else session.account,
                    "state": None if session is None else session.state,
                    "client_address": None
                    if session is None or session.client_address is None
                    else str(session.client_address),
                    "vip": None if lease is None else str(lease.address),
                }
            )
        return out

    def status(self) -> dict[str, Any]:
        st = super().status()
        st["data_plane"] = {
            "active": self.active,
            "reason": self.plane_reason,
            "platform": "windows",
            "assigned_addresses": dict(self.assigned),
            "unassigned_addresses": dict(self.unassigned),
            "address_warnings": list(self.address_warnings),
            "sessions": len(self.followed),
            "process_list_warnings": list(self.config.policy.warnings),
        }
        return st

    def reconcile(self) -> ReconcileReport:
        report = super().reconcile()
        for sid, _address, _why in report.reclaimed:
            self.followed.discard(sid)
        return report


def serve(
    config: EngineConfig,
    *,
    stop: threading.Event | None = None,
    started: Callable[[WindowsEngine | None], None] | None = None,
) -> int:
    """``vipctl serve`` on Windows (and the service's body): engine, addresses, pipe, metrics.

    ``stop`` lets the service's stop request end it (the console uses Ctrl+C); ``started`` is
    given the running engine (the service forwards session-change notifications to it), then
    ``None`` once it has stopped."""
    from sessionnet_vip.engine.server import Service
    from sessionnet_vip.engine.windows.sessions import boot_id

    engine = WindowsEngine.open_windows(config, boot_id=boot_id())
    try:
        engine.start_agent()
        if started is not None:
            started(engine)
        service = Service(engine, config.control_pipe, config.metrics_port)
        if stop is not None:
            service.stop_event = stop
        return service.run(install_signals=stop is None)
    finally:
        if started is not None:
            started(None)
        engine.stop_agent()
        engine.close()
