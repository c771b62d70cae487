"""The session agent: engine part 1 (allocator, policy) wired to the Linux kernel data plane.

:class:`AgentEngine` is the part-1 :class:`~sessionnet_vip.engine.service.Engine` plus:

* at start, a probe of the kernel; when it fails (no cgroup v2, ``bpf()`` refused, or
  ``data_plane.enabled: false``) the engine keeps running as allocator only and ``status``
  says why (``data_plane: {active: false, reason: ...}``);
* programs loaded once; pool addresses added to the interface holding their subnet
  (``data_plane.assign_addresses``) and removed at stop;
* sessions: logon (``allocate``/``logon``, a logind session appearing, or ``vipctl run``
  for a new session) allocates and adds the session to the data plane; logoff
  (``release``/``logoff``, the logind session gone, a lease reclaimed by reconcile) removes it;
* ``attach``: a process stopped right after its ``execve`` (by ``vipctl run``) is placed in
  its session, translated when its resolved executable (``/proc/PID/exe``) is on the list;
* a watcher thread: follows logind, prunes exited processes, re-creates vanished session cgroups.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from sessionnet_vip.engine.allocator import ReconcileReport, session_id_of
from sessionnet_vip.engine.config import EngineConfig
from sessionnet_vip.engine.names import host_names, render_hosts, write_hosts
from sessionnet_vip.engine.platform import platform_module
from sessionnet_vip.engine.policy import Mode, Policy
from sessionnet_vip.engine.service import Engine, RequestError
from sessionnet_vip.engine.sessions import EngineSessions, SessionProvider
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")


# --- the data plane as the agent sees it (platform-neutral) ---------------------------------
class ProbeResult(Protocol):
    """Whether the data plane can run here, and why not."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class PlaneSession(Protocol):
    """One session in the data plane."""

    @property
    def session_id(self) -> int: ...

    @property
    def vip(self) -> ipaddress.IPv4Address | None: ...

    @property
    def loopback(self) -> ipaddress.IPv4Address: ...

    @property
    def cgroup(self) -> Path: ...

    @property
    def vip_cgroup(self) -> Path: ...


class DataPlaneBackend(Protocol):
    """What :class:`AgentEngine` needs of a data plane (Linux: :class:`engine.linux.DataPlane`)."""

    @property
    def root(self) -> Path: ...

    @property
    def sessions(self) -> Mapping[int, PlaneSession]: ...

    def add_session(
        self, session_id: int, vip: ipaddress.IPv4Address | None, *, options: Any
    ) -> PlaneSession: ...

    def remove_session(self, session_id: int) -> list[int]: ...

    def attach_pid(self, session_id: int, pid: int, *, translated: bool = True) -> None: ...

    def translated_pids(self) -> dict[int, int]: ...

    def prune(self) -> list[int]: ...

    def close(self) -> None: ...


class LoadablePlane(DataPlaneBackend, Protocol):
    def load(self, parent: Path | None = None) -> Path: ...


class AddressAssigner(Protocol):
    """Adds pool addresses to the host's interfaces and removes them again."""

    def assign(self, addresses: Sequence[ipaddress.IPv4Address]) -> dict[str, str]: ...

    def release(self) -> object: ...


AGENT_OPS: Final = ("attach", "plan", "logon", "logoff", "sessions")
#: Modes the kernel translates (the data plane applies virtual_ip semantics to each of them).
KERNEL_MODES: Final = frozenset({Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK})


class AgentPlatform(Protocol):
    """The platform module of the agent (``engine.<platform>.agentplane``; Linux:
    :mod:`sessionnet_vip.engine.linux.agentplane`), chosen by :mod:`..platform`."""

    @property
    def AssignError(self) -> type[VipError]:
        """Raised by an assigner for an address it cannot add."""
        ...

    def probe(self, cgroup_parent: Path | None) -> ProbeResult: ...

    def process_list_warnings(self, patterns: list[str]) -> list[str]: ...

    def new_plane(self, root_name: str) -> LoadablePlane: ...

    def new_assigner(self) -> AddressAssigner: ...

    def session_options(self, *, inherit_children: bool, isolate_loopback: bool) -> Any: ...

    def process_exe(self, pid: int) -> Path: ...


def agent_platform() -> AgentPlatform:
    """This platform's agent module (a :class:`VipError` where there is none)."""
    return cast(AgentPlatform, platform_module("agentplane"))


# --- logind ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogindSession:
    session_id: int
    user: str | None
    uid: int | None
    leader: int | None
    state: str | None


def read_logind_sessions(directory: Path) -> dict[int, LogindSession] | None:
    """Parse systemd-logind's state files (``KEY=value`` lines) in ``directory``.

    Numeric names only; ``None`` when the directory cannot be read (unknown, not "none")."""
    try:
        files = [p for p in directory.iterdir() if p.name.isdigit() and p.is_file()]
    except OSError:
        return None
    out: dict[int, LogindSession] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # removed while reading: the session is ending
        kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

        def num(key: str, kv: dict[str, str] = kv) -> int | None:
            value = kv.get(key, "")
            return int(value) if value.isdigit() else None

        out[int(path.name)] = LogindSession(
            int(path.name), kv.get("USER"), num("UID"), num("LEADER"), kv.get("STATE")
        )
    return out


@dataclass(frozen=True)
class LogindFollower:
    """Live-session provider over logind's sessions directory; ``closing`` sessions are gone."""

    directory: Path
    name: str = "logind"

    def sessions(self) -> dict[int, LogindSession] | None:
        found = read_logind_sessions(self.directory)
        if found is None:
            return None
        return {sid: s for sid, s in found.items() if s.state != "closing"}

    def live_sessions(self) -> frozenset[int] | None:
        found = self.sessions()
        return None if found is None else frozenset(found)


def make_agent_provider(config: EngineConfig) -> SessionProvider:
    """``logind`` (or ``auto`` where the logind directory exists): follow logind; else the engine."""
    name = config.session_provider
    directory = config.data_plane.logind_sessions_dir
    if name == "logind" or (name == "auto" and directory.is_dir()):
        return LogindFollower(directory)
    return EngineSessions()


# --- helpers --------------------------------------------------------------------------------
def probe_data_plane(cgroup_parent: Path | None) -> ProbeResult:
    """Can the data plane run here (and ``cgroup_parent`` lies in the cgroup v2 tree)?"""
    return agent_platform().probe(cgroup_parent)


def process_list_warnings(policy: Policy) -> list[str]:
    """Entries of the process list that do not exist on disk (or not on PATH)."""
    return agent_platform().process_list_warnings([e.pattern for e in policy.entries])


def decide_exe(policy: Policy, exe: Path) -> tuple[Mode, str | None]:
    """The mode of executable ``exe`` (a real path): exact entry first, then entries resolved
    the way the kernel resolves ``/proc/PID/exe`` (realpath; bare names through PATH)."""
    decision = policy.decide(str(exe))
    if decision.mode is not Mode.NONE:
        return decision.mode, decision.matched
    best: tuple[int, Mode, str] | None = None
    for entry in policy.entries:
        if entry.full_path:
            hit = os.path.realpath(entry.pattern) == str(exe)
        else:
            found = shutil.which(entry.pattern)
            hit = found is not None and os.path.realpath(found) == str(exe)
        if hit:
            rank = (2 if entry.full_path else 0) + (1 if entry.mode is Mode.PREFER_LOOPBACK else 0)
            if best is None or rank > best[0]:
                best = (rank, entry.mode, entry.pattern)
    return (Mode.NONE, None) if best is None else (best[1], best[2])


def _int_field(req: Mapping[str, Any], key: str, *, required: bool) -> int | None:
    value = req.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestError(f"'{key}' is {value!r}; give a non-negative integer")
    return value


# --- the agent ------------------------------------------------------------------------------
@dataclass
class AgentEngine(Engine):
    """The engine with the Linux data plane. Call :meth:`start_agent` / :meth:`stop_agent`."""

    plane: DataPlaneBackend | None = None
    plane_reason: str = "the data plane was not started"
    assigner: AddressAssigner | None = None
    assigned: dict[str, str] = field(default_factory=dict)
    unassigned: dict[str, str] = field(default_factory=dict)
    followed: set[int] = field(default_factory=set)
    list_warnings: list[str] = field(default_factory=list)
    hostname: str | None = None
    _plane_lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _watcher: threading.Thread | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open_agent(cls, config: EngineConfig, **kwargs: Any) -> AgentEngine:
        kwargs.setdefault("provider", make_agent_provider(config))
        return cast(AgentEngine, cls.open(config, **kwargs))

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def hosts_dir(self) -> Path:
        return self.config.state_dir / "hosts"

    def hosts_file(self, session_id: int) -> Path:
        return self.hosts_dir / f"session-{session_id}"

    def start_agent(self, *, watch: bool = True) -> None:
        """Probe, load the programs, assign the pool, re-add sessions with live leases."""
        settings = self.config.data_plane
        self.list_warnings = process_list_warnings(self.config.policy)
        for warning in self.list_warnings:
            log.warning("%s", warning)
        if settings.enabled == "off":
            self.plane_reason = "disabled by 'data_plane.enabled: false'; the engine runs as allocator only"
        else:
            probe = probe_data_plane(settings.cgroup_parent)
            if not probe.ok:
                if settings.enabled == "required":
                    raise VipError(
                        f"'data_plane.enabled' is true but the data plane cannot run: {probe.reason}"
                    )
                self.plane_reason = f"{probe.reason}; the engine runs as allocator only"
                log.warning("data plane inactive: %s", probe.reason)
            else:
                self._load(settings.cgroup_parent, settings.root_name, settings.assign_addresses)
        if watch:
            self._watcher = threading.Thread(target=self._watch_loop, name="agent-watch", daemon=True)
            self._watcher.start()

    def _load(self, parent: Path | None, root_name: str, assign: bool) -> None:
        plane = agent_platform().new_plane(root_name)
        root = plane.load(parent)
        try:
            if assign:
                assigner = self.assigner = agent_platform().new_assigner()
                self._assign(assigner)
        except BaseException:
            if self.assigner is not None:
                self.assigner.release()
                self.assigner = None
            plane.close()
            raise
        self.plane = plane
        self.plane_reason = f"programs attached to {root}"
        log.info(
            "data plane active: %s; %d pool address(es) assigned, %d not",
            root,
            len(self.assigned),
            len(self.unassigned),
        )
        for lease in self.store.leases(include_held=False):
            if lease.session_id is not None and lease.address in self.config.pool:
                self._ensure_session(lease.session_id, lease.address)

    def _assign(self, assigner: AddressAssigner) -> None:
        """Assign each pool address. One on another interface is fatal; one that no interface's
        subnet holds is fatal only with ``enabled: true`` (else reported in ``status``)."""
        assign_error = agent_platform().AssignError
        for address in self.config.pool.addresses():
            try:
                self.assigned.update(assigner.assign([address]))
            except assign_error as exc:
                if "already on interface" in str(exc) or self.config.data_plane.enabled == "required":
                    raise
                self.unassigned[str(address)] = str(exc)
                log.warning("%s", exc)

    def stop_agent(self) -> None:
        """Stop watching, remove the sessions (processes are evacuated), detach, unassign."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        with self._plane_lock:
            if self.plane is not None:
                try:
                    self.plane.close()
                except VipError as exc:
                    log.error("closing the data plane: %s", exc)
                self.plane = None
                self.plane_reason = "stopped"
            if self.assigner is not None:
                try:
                    self.assigner.release()
                except VipError as exc:
                    log.error("removing pool addresses: %s", exc)
                self.assigner = None
                self.assigned = {}
            if self.hosts_dir.is_dir():
                for path in self.hosts_dir.glob("session-*"):
                    with contextlib.suppress(OSError):
                        path.unlink()

    # -- sessions --------------------------------------------------------------------------
    def _options(self) -> Any:
        return agent_platform().session_options(
            inherit_children=self.config.policy.inherit_children,
            isolate_loopback=self.config.isolate_loopback,
        )

    def _ensure_session(self, session_id: int, vip: ipaddress.IPv4Address | str | None) -> dict[str, Any]:
        """Add (or refresh) session ``session_id`` in the data plane and write its hosts file."""
        address = None if vip is None else ipaddress.IPv4Address(str(vip))
        with self._plane_lock:
            if self.plane is None:
                return {"active": False}
            current = self.plane.sessions.get(session_id)
            if current is not None and not current.vip_cgroup.is_dir():
                log.warning("cgroup of session %d (%s) vanished; re-creating it", session_id, current.cgroup)
                self.plane.remove_session(session_id)
                current = None
            if current is None or current.vip != address:
                session = self.plane.add_session(session_id, address, options=self._options())
            else:
                session = current
            if self.config.data_plane.names:
                base = ""
                with contextlib.suppress(OSError):
                    base = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace")
                names = host_names(self.hostname)
                write_hosts(
                    self.hosts_file(session_id),
                    render_hosts(base, session_id, session.loopback, session.vip, names),
                )
            return {"active": True, "cgroup": str(session.cgroup)}

    def _drop_session(self, session_id: int) -> list[int]:
        with self._plane_lock:
            left: list[int] = []
            if self.plane is not None and session_id in self.plane.sessions:
                left = self.plane.remove_session(session_id)
            with contextlib.suppress(FileNotFoundError):
                self.hosts_file(session_id).unlink()
            self.followed.discard(session_id)
            return left

    def _logon(
        self, session_id: int, user: str | None = None, uid: int | None = None, pid: int | None = None
    ) -> dict[str, Any]:
        req: dict[str, Any] = {"op": "allocate", "session": session_id}
        for key, value in (("user", user), ("uid", uid), ("pid", pid)):
            if value is not None:
                req[key] = value
        result: dict[str, Any] = super()._dispatch(req)
        result["data_plane"] = self._ensure_session(session_id, result["vip"])
        return result

    def _logoff(self, session_id: int) -> dict[str, Any]:
        result: dict[str, Any] = super()._dispatch({"op": "release", "session": session_id})
        result["evacuated"] = self._drop_session(session_id)
        return result

    # -- operations ------------------------------------------------------------------------
    def _dispatch(self, req: object) -> Any:
        if not isinstance(req, Mapping) or req.get("op") not in (*AGENT_OPS, "allocate", "release"):
            return super()._dispatch(req)
        op = req["op"]
        allowed = {
            "attach": {"session", "pid", "user", "uid"},
            "plan": {"session", "command", "user", "uid"},
            "logon": {"session", "user", "uid", "pid"},
            "allocate": {"session", "user", "uid", "pid"},
            "logoff": {"session"},
            "release": {"session"},
            "sessions": set(),
        }[op]
        extra = set(req) - allowed - {"op"}
        if extra:
            raise RequestError(f"{op}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
        if op == "sessions":
            return self._sessions()
        if "session" not in req:
            raise RequestError(f"{op}: 'session' is missing; give a session ID")
        raw = req["session"]
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise RequestError(f"'session' is {raw!r}; give an integer session ID")
        sid = session_id_of(raw)
        user = req.get("user")
        if user is not None and not isinstance(user, str):
            raise RequestError(f"'user' is {user!r}; give a user name")
        uid = _int_field(req, "uid", required=False)
        if op in ("logon", "allocate"):
            return self._logon(sid, user, uid, _int_field(req, "pid", required=False))
        if op in ("logoff", "release"):
            return self._logoff(sid)
        if op == "plan":
            command = req.get("command")
            if not isinstance(command, str) or not command.startswith("/"):
                raise RequestError(f"plan: 'command' is {command!r}; give the program's absolute real path")
            return self._plan(sid, Path(command), user, uid)
        return self._attach(sid, cast(int, _int_field(req, "pid", required=True)), user, uid)

    def _describe(self, sid: int, exe: Path, alloc: Mapping[str, Any]) -> dict[str, Any]:
        mode, matched = decide_exe(self.config.policy, exe)
        translated = mode in KERNEL_MODES and self.plane is not None
        names = translated and self.config.data_plane.names
        note = None
        if mode in (Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK):
            note = f"mode {mode.value}: the Linux data plane translates this process like virtual_ip"
        elif mode is Mode.CLIENT_ADDRESS:
            note = "mode client_address: no socket translation on Linux (identification only)"
        if mode in KERNEL_MODES and self.plane is None:
            note = f"listed, but the data plane is inactive: {self.plane_reason}"
        return {
            "session_id": sid,
            "vip": alloc["vip"],
            "loopback": alloc["loopback"],
            "exe": str(exe),
            "mode": mode.value,
            "matched": matched,
            "translated": translated,
            "hosts_file": str(self.hosts_file(sid)) if names else None,
            "note": note,
            "message": alloc.get("message"),
        }

    def _plan(self, sid: int, command: Path, user: str | None, uid: int | None) -> dict[str, Any]:
        alloc = self._logon(sid, user, uid)
        return self._describe(sid, command, alloc)

    def _attach(self, sid: int, pid: int, user: str | None, uid: int | None) -> dict[str, Any]:
        alloc = self._logon(sid, user, uid)
        exe = agent_platform().process_exe(pid)
        result = self._describe(sid, exe, alloc)
        result["pid"] = pid
        with self._plane_lock:
            if self.plane is not None:
                self.plane.attach_pid(sid, pid, translated=bool(result["translated"]))
        log.info(
            "session %d: pid %d (%s) %s",
            sid,
            pid,
            exe,
            "translated" if result["translated"] else "not translated",
        )
        return result

    def _sessions(self) -> list[dict[str, Any]]:
        with self._plane_lock:
            if self.plane is None:
                return []
            procs = self.plane.translated_pids()
            return [
                {
                    "session_id": s.session_id,
                    "vip": None if s.vip is None else str(s.vip),
                    "loopback": str(s.loopback),
                    "cgroup": str(s.cgroup),
                    "cgroup_present": s.vip_cgroup.is_dir(),
                    "translated_pids": sorted(p for p, owner in procs.items() if owner == s.session_id),
                }
                for s in sorted(self.plane.sessions.values(), key=lambda s: s.session_id)
            ]

    # -- status, reconcile, watching -------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st = super().status()
        with self._plane_lock:
            plane = self.plane
            st["data_plane"] = {
                "active": plane is not None,
                "reason": self.plane_reason,
                "root": None if plane is None else str(plane.root),
                "sessions": 0 if plane is None else len(plane.sessions),
                "translated_processes": 0 if plane is None else len(plane.translated_pids()),
                "assigned_addresses": dict(self.assigned),
                "unassigned_addresses": dict(self.unassigned),
                "names": "hosts file per session (vipctl run)" if self.config.data_plane.names else "off",
                "process_list_warnings": list(self.list_warnings),
            }
        return st

    def reconcile(self) -> ReconcileReport:
        report = super().reconcile()
        self.sync_leases()
        return report

    def sync_leases(self) -> list[int]:
        """Drop data-plane sessions whose lease is gone (reclaimed: the session ended)."""
        dropped: list[int] = []
        with self._plane_lock:
            if self.plane is None:
                return dropped
            for sid, session in list(self.plane.sessions.items()):
                if session.vip is None:
                    continue
                with self._lock:
                    lease = self.store.lease_of(sid)
                if lease is None or lease.state != "active" or lease.address != session.vip:
                    log.info(
                        "session %d no longer holds %s; removing it from the data plane", sid, session.vip
                    )
                    self._drop_session(sid)
                    dropped.append(sid)
        return dropped

    def follow_logind(self) -> tuple[list[int], list[int]]:
        """Logon new logind sessions, logoff ended ones; returns ``(started, ended)``."""
        if not isinstance(self.provider, LogindFollower):
            return [], []
        found = self.provider.sessions()
        if found is None:
            return [], []
        started, ended = [], []
        for sid in sorted(set(found) - self.followed):
            s = found[sid]
            try:
                self._logon(sid, s.user, s.uid, s.leader)
            except VipError as exc:
                log.error("logind session %d: %s", sid, exc)
                continue
            self.followed.add(sid)
            started.append(sid)
        for sid in sorted(self.followed - set(found)):
            try:
                self._logoff(sid)
            except VipError as exc:
                log.error("logind session %d ended: %s", sid, exc)
            self.followed.discard(sid)
            ended.append(sid)
        return started, ended

    def check_cgroups(self) -> list[int]:
        """Re-create the cgroups of sessions whose cgroup vanished (someone removed it)."""
        fixed: list[int] = []
        with self._plane_lock:
            if self.plane is None:
                return fixed
            for sid, session in list(self.plane.sessions.items()):
                if not session.vip_cgroup.is_dir():
                    self._ensure_session(sid, session.vip)
                    fixed.append(sid)
        return fixed

    def tick(self) -> None:
        """One round of the watcher: logind, vanished cgroups, exited processes."""
        self.follow_logind()
        self.check_cgroups()
        with self._plane_lock:
            if self.plane is not None:
                self.plane.prune()

    def _watch_loop(self) -> None:
        while not self._stop.wait(self.config.data_plane.watch_seconds):
            try:
                self.tick()
            except VipError as exc:
                log.error("agent watcher: %s", exc)
            except Exception:
                log.exception("agent watcher failed; continuing")


def serve(config: EngineConfig) -> int:
    """``vipctl serve`` on Linux: the agent engine, its data plane and the control server."""
    from sessionnet_vip.engine.server import Service

    engine = AgentEngine.open_agent(config)
    try:
        engine.start_agent()
        return Service(engine, config.control_socket, config.metrics_port).run()
    finally:
        engine.stop_agent()
        engine.close()


if sys.platform != "win32" and TYPE_CHECKING:  # mypy: the Linux module implements AgentPlatform
    from sessionnet_vip.engine.linux import agentplane as _linux_agentplane

    _LINUX_AGENT_PLATFORM: AgentPlatform = _linux_agentplane
