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
* a watcher thread: follows logind, prunes exited processes, re-creates vanished session cgroups;
* an exec follower (kernel process events): a listed program executed in a session however
  it was started is translated; exits drop map entries;
* restarts: sessions with live leases are known again at once, and the previous run's session
  cgroups and their processes are translated again (per-session work is lazy, so a start with
  65,536 live leases writes nothing per session).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from sessionnet_vip.engine.allocator import ReconcileReport
from sessionnet_vip.engine.config import EngineConfig
from sessionnet_vip.engine.names import host_names, render_hosts, write_hosts
from sessionnet_vip.engine.platform import platform_module
from sessionnet_vip.engine.policy import Mode, Policy
from sessionnet_vip.engine.service import (
    Engine,
    RequestError,
    check_fields,
    parse_session_request,
    run_periodically,
)
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

    @property
    def options(self) -> Any: ...


class EventSource(Protocol):
    """Process events (Linux: the process-events connector): ``read`` returns events with
    ``what`` (``exec``/``exit``/``fork``), ``pid`` and ``tgid``."""

    def read(self, timeout: float) -> list[Any]: ...

    def close(self) -> None: ...


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

    def session(self, session_id: int) -> PlaneSession: ...

    def attach_pid(
        self,
        session_id: int,
        pid: int,
        *,
        translated: bool = True,
        mode: Mode | str | None = None,
        options: Any = None,
        move: bool = True,
        inherit_children: bool | None = None,
    ) -> None: ...

    def detach_pid(self, pid: int) -> bool: ...

    def translated_pids(self) -> dict[int, int]: ...

    def prune(self) -> list[int]: ...

    def close(self) -> None: ...


class LoadablePlane(DataPlaneBackend, Protocol):
    def load(self, parent: Path | None = None) -> Path: ...


class AddressAssigner(Protocol):
    """Adds pool addresses to the host's interfaces and removes them again."""

    def assign(self, addresses: Sequence[ipaddress.IPv4Address]) -> dict[str, str]: ...

    def assign_each(
        self, addresses: Sequence[ipaddress.IPv4Address], *, add: bool = True
    ) -> tuple[dict[str, str], dict[str, str]]: ...

    def adopt(self) -> list[str]: ...

    def check(self, spans: Sequence[tuple[int, int]]) -> dict[str, str]: ...

    def release(self) -> object: ...


AGENT_OPS: Final = ("attach", "plan", "logon", "logoff", "sessions")
#: The fields each operation the agent answers itself accepts (besides ``op``).
_AGENT_FIELDS: Final[dict[str, frozenset[str]]] = {
    "attach": frozenset({"session", "pid", "user", "uid"}),
    "plan": frozenset({"session", "command", "user", "uid"}),
    "logon": frozenset({"session", "user", "uid", "pid"}),
    "allocate": frozenset({"session", "user", "uid", "pid"}),
    "logoff": frozenset({"session"}),
    "release": frozenset({"session"}),
    "sessions": frozenset(),
}
#: Modes the kernel translates (each with its own rules of docs/translation-table.md).
KERNEL_MODES: Final = frozenset({Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK})
#: The pool addresses the engine put on interfaces (state_dir), adopted after a crash.
ASSIGNED_RECORD: Final = "assigned-addresses.json"
#: A logind session's scope in a cgroup path (``user.slice/user-1000.slice/session-3.scope``).
LOGIND_SCOPE: Final = re.compile(r"/session-(\d+)\.scope(?:/|$)")
#: The kernel keeps the first 15 bytes of a program's name as its ``comm`` (TASK_COMM_LEN - 1).
COMM_LENGTH: Final = 15


class AgentPlatform(Protocol):
    """The platform module of the agent (``engine.<platform>.agentplane``; Linux:
    :mod:`sessionnet_vip.engine.linux.agentplane`), chosen by :mod:`..platform`."""

    @property
    def AssignError(self) -> type[VipError]:
        """Raised by an assigner for an address it cannot add."""

    def probe(self, cgroup_parent: Path | None) -> ProbeResult: ...

    def process_list_warnings(self, patterns: list[str]) -> list[str]: ...

    def new_plane(self, root_name: str, *, max_sessions: int, max_processes: int) -> LoadablePlane: ...

    def new_assigner(self, record: Path | None = None) -> AddressAssigner: ...

    def session_options(
        self, *, inherit_children: bool, isolate_loopback: bool, report_original: bool = False
    ) -> Any: ...

    def process_exe(self, pid: int) -> Path: ...

    def process_comm(self, pid: int) -> str | None: ...

    def process_cgroup(self, pid: int) -> tuple[Path | None, str | None]:
        """The process's cgroup as a directory of the hierarchy and as its path in it."""

    def leaf_pids(self, session: PlaneSession) -> list[tuple[int, bool]]:
        """Processes of the session's translated cgroups, with whether children inherit."""

    def exec_events(self) -> EventSource: ...


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
        out[int(path.name)] = LogindSession(
            int(path.name), kv.get("USER"), _number(kv, "UID"), _number(kv, "LEADER"), kv.get("STATE")
        )
    return out


def _number(kv: dict[str, str], key: str) -> int | None:
    """The value of ``key`` as a number, or ``None`` when it is missing or not a number."""
    value = kv.get(key, "")
    return int(value) if value.isdigit() else None


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


def decide_exe(policy: Policy, exe: Path, *, comm: str | None = None) -> tuple[Mode, str | None]:
    """The mode of executable ``exe`` (a real path, ``/proc/PID/exe``) and the entry that lists it.

    Entries are resolved the way the kernel resolves ``/proc/PID/exe`` (realpath; bare names
    through PATH). An entry that is itself a symlink (``/usr/local/bin/redis-a`` ->
    ``/usr/bin/redis-server``, or a busybox applet) lists only what is started through that
    name: with ``comm`` (the process's ``/proc/PID/comm``, the name it was executed by) the
    target binary started under any other name does not match."""
    decision = policy.decide(str(exe))
    if decision.mode is not Mode.NONE and not _is_symlink(decision.matched):
        return decision.mode, decision.matched
    best: tuple[int, Mode, str] | None = None
    for entry in policy.entries:
        listed = entry.pattern if entry.full_path else shutil.which(entry.pattern)
        if listed is None:
            continue
        if os.path.realpath(listed) != str(exe):
            continue
        renamed = comm is not None and comm != os.path.basename(listed)[:COMM_LENGTH]
        if renamed and os.path.realpath(listed) != listed:
            continue  # the target binary, started under another name than the listed one
        rank = (2 if entry.full_path else 0) + (1 if entry.mode is Mode.PREFER_LOOPBACK else 0)
        if best is None or rank > best[0]:
            best = (rank, entry.mode, entry.pattern)
    return (Mode.NONE, None) if best is None else (best[1], best[2])


def _is_symlink(pattern: str | None) -> bool:
    if pattern is None:
        return False
    listed = pattern if pattern.startswith("/") else shutil.which(pattern)
    return listed is not None and os.path.realpath(listed) != listed


def _added(assigner: AddressAssigner) -> dict[str, str]:
    added = getattr(assigner, "added", {})
    return {str(a): str(i) for a, i in added.items()}


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
    #: sessions with a live lease: session ID -> VIP as an int (None: no VIP)
    known: dict[int, int | None] = field(default_factory=dict)
    hosts_written: set[int] = field(default_factory=set)
    #: sessions whose hosts file a previous run may have left (removed at their logoff)
    hosts_left: set[int] = field(default_factory=set)
    list_warnings: list[str] = field(default_factory=list)
    hostname: str | None = None
    _plane_lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _watcher: threading.Thread | None = field(default=None, repr=False, compare=False)
    _follower: threading.Thread | None = field(default=None, repr=False, compare=False)
    _events: EventSource | None = field(default=None, repr=False, compare=False)
    exec_reason: str = "not following exec events"
    batched_ops: frozenset[str] = field(
        default=frozenset({"allocate", "release", "logon", "logoff"}), repr=False, compare=False
    )
    #: sessions logged on in the batch being answered, not yet in :attr:`known` (their data
    #: plane entry is made after the batch's commit): counted against ``max_sessions``
    _batch_logons: set[int] = field(default_factory=set, repr=False, compare=False)

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
        if self.hosts_dir.is_dir():  # a killed run's files: a logoff removes its session's
            for path in self.hosts_dir.glob("session-*"):
                with contextlib.suppress(ValueError):
                    self.hosts_left.add(int(path.name.removeprefix("session-")))
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
            if self.plane is not None and settings.follow_exec:
                self.start_exec_follower()

    def start_exec_follower(self) -> None:
        """Follow ``execve``/exit of every process (process-events connector) in a thread."""
        try:
            self._events = agent_platform().exec_events()
        except VipError as exc:
            self.exec_reason = f"{exc}; listed programs are translated only through vipctl run"
            log.warning("%s", self.exec_reason)
            return
        self.exec_reason = "following exec events (process-events connector)"
        self._follower = threading.Thread(target=self._events_loop, name="agent-exec", daemon=True)
        self._follower.start()

    def _events_loop(self) -> None:
        events = self._events
        assert events is not None
        while not self._stop.is_set():
            try:
                for event in events.read(0.5):
                    if event.what == "exec":
                        self.on_exec(event.tgid)
                    elif event.what == "exit" and event.pid == event.tgid:
                        self.on_exit(event.tgid)
            except VipError as exc:
                log.error("process events: %s", exc)
            except Exception:
                log.exception("process events failed; continuing")

    def session_of(self, pid: int) -> int | None:
        """The session of process ``pid``: its session cgroup of ours, else its logind session
        (``.../session-N.scope``) when that session is live; ``None`` otherwise."""
        where, rel = agent_platform().process_cgroup(pid)
        if rel is None or self.plane is None:
            return None
        if where is not None:
            try:
                inside: Path | None = where.relative_to(self.plane.root)
            except ValueError:
                inside = None
            if inside is not None and inside.parts and inside.parts[0].startswith("session-"):
                with contextlib.suppress(ValueError):
                    return int(inside.parts[0].removeprefix("session-"))
        match = LOGIND_SCOPE.search(rel)
        if match is None:
            return None
        sid = int(match.group(1))
        if sid in self.known:
            return sid
        live = self.provider.live_sessions() if isinstance(self.provider, LogindFollower) else None
        return sid if live is not None and sid in live else None

    def on_exec(self, pid: int) -> bool:
        """A process executed a program: translate it if it is listed and in a session."""
        if self.plane is None:
            return False
        sid = self.session_of(pid)
        if sid is None:
            return False
        try:
            exe = agent_platform().process_exe(pid)
        except VipError:
            return False  # already gone
        mode, matched = decide_exe(self.config.policy, exe, comm=agent_platform().process_comm(pid))
        if mode not in KERNEL_MODES:
            return False
        if sid not in self.known:
            self._logon(sid)
        self._place(sid, pid, mode, matched, translated=True)
        log.info("session %d: pid %d (%s) started; translated (%s)", sid, pid, exe, mode.value)
        return True

    def on_exit(self, tgid: int) -> None:
        with self._plane_lock:
            if self.plane is not None:
                self.plane.detach_pid(tgid)

    def _load(self, parent: Path | None, root_name: str, assign: bool) -> None:
        settings = self.config.data_plane
        plane = agent_platform().new_plane(
            root_name, max_sessions=settings.max_sessions, max_processes=settings.max_processes
        )
        root = plane.load(parent)
        try:
            if assign:
                self.assigner = agent_platform().new_assigner(self.config.state_dir / ASSIGNED_RECORD)
                adopted = self.assigner.adopt()
                if adopted:
                    log.info(
                        "adopted %d pool address(es) a previous run left on the interfaces", len(adopted)
                    )
                self._assign(self.assigner)
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
        self._restore(root)

    def _restore(self, root: Path) -> None:
        """Rebuild the maps after a restart (also after a kill -9 of the previous engine).

        Sessions with a live lease are known again at once (a dictionary entry each: their
        cgroups, map entry and hosts file are made when their first process is placed). A
        session cgroup the previous run left behind still holds that session's processes: it
        is added to the maps again and each process in its ``vip``/``solo`` cgroup is matched
        by its real executable and translated again, so a server translated before the
        restart stays translated. Cgroups of sessions without a lease are emptied (processes
        moved out, untranslated) and removed."""
        with self._lock:
            live = self.store.active_sessions(self.config.pool.int_bounds())
        limit = self.config.data_plane.max_sessions
        for sid, address in live[:limit]:
            self.known[sid] = address
        for sid, address in live[limit:]:
            log.error(
                "session %d holds %s but the data plane's sessions map is full (%d, "
                "data_plane.max_sessions); it is not translated until a session ends",
                sid,
                ipaddress.IPv4Address(address),
                limit,
            )
        restored = processes = 0
        for cgroup in sorted(root.glob("session-*")):
            try:
                sid = int(cgroup.name.removeprefix("session-"))
            except ValueError:
                continue
            if sid not in self.known:
                log.info("session %d left by the previous run has no lease; removing its cgroup", sid)
                self._adopt_and_drop(sid)
                continue
            try:
                self._activate(sid)
                processes += self._retranslate(sid)
            except VipError as exc:  # never fatal: the session is retried when it is used
                log.error("session %d of the previous run could not be restored: %s", sid, exc)
                continue
            restored += 1
        if restored:
            log.info(
                "restored %d session(s) and %d translated process(es) of the previous run",
                restored,
                processes,
            )

    def _adopt_and_drop(self, sid: int) -> None:
        assert self.plane is not None
        with contextlib.suppress(VipError):
            self.plane.add_session(sid, None, options=self._options())
            self.plane.remove_session(sid)

    def _retranslate(self, sid: int) -> int:
        """Translate again the processes of session ``sid``'s translated cgroups (after a restart)."""
        assert self.plane is not None
        session = self.plane.session(sid)
        count = 0
        platform = agent_platform()
        for pid, inherit in platform.leaf_pids(session):
            try:
                exe = platform.process_exe(pid)
            except VipError:
                continue
            mode, matched = decide_exe(self.config.policy, exe, comm=platform.process_comm(pid))
            if mode not in KERNEL_MODES and inherit:
                mode = Mode.VIRTUAL_IP  # a child under an inheriting process
                matched = None
            if mode not in KERNEL_MODES:
                self.plane.attach_pid(sid, pid, translated=False)
                continue
            report, _options = self.config.policy.options_of(matched)
            opts = dataclasses.replace(session.options, report_original=report)
            with contextlib.suppress(VipError):
                self.plane.attach_pid(sid, pid, mode=mode, options=opts, move=False, inherit_children=inherit)
                count += 1
        return count

    def _assign(self, assigner: AddressAssigner) -> None:
        """Check every pool address against the interfaces (one snapshot, nothing added). One
        on another interface is fatal; one that no interface's subnet holds is fatal only with
        ``enabled: true`` (else reported in ``status``). A session's VIP is put on its
        interface when the session is activated (logon, first process), not here: adding
        65,536 addresses to one interface costs the kernel minutes (its address list is
        searched on every add), and a start must not."""
        errors = assigner.check(self.config.pool.int_bounds())
        for why in errors.values():
            if "already on interface" in why or self.config.data_plane.enabled == "required":
                raise agent_platform().AssignError(why)
        for address, why in errors.items():
            self.unassigned[address] = why
            log.warning("%s", why)
        self.assigned.update(_added(assigner))

    def _assign_vip(self, address: ipaddress.IPv4Address | None) -> None:
        """Put a session's VIP on its interface (first use); failures are reported, not fatal."""
        if address is None or self.assigner is None or str(address) in self.assigned:
            return
        if str(address) in self.unassigned:
            return
        try:
            placed, errors = self.assigner.assign_each([address])
        except VipError as exc:
            errors, placed = {str(address): str(exc)}, {}
        self.assigned.update(placed)
        for addr, why in errors.items():
            self.unassigned[addr] = why
            log.warning("%s", why)

    def stop_agent(self) -> None:
        """Stop watching, remove the sessions (processes are evacuated), detach, unassign."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        if self._follower is not None:
            self._follower.join(timeout=10)
        if self._events is not None:
            self._events.close()
            self._events = None
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
            report_original=self.config.policy.report_original,
        )

    def _ensure_session(
        self, session_id: int, vip: ipaddress.IPv4Address | str | None, *, eager: bool = True
    ) -> dict[str, Any]:
        """Record session ``session_id`` and add (or refresh) it in the data plane.

        With ``eager`` false (the ``allocate`` request, a logind session) a session the data
        plane does not hold yet is only recorded: its cgroups, map entry, VIP on the interface
        and hosts file are made when its first process is placed (``run``, ``attach``, an exec
        the follower sees), exactly as for a session restored after a restart. A session that
        never runs a translated program then costs its lease and nothing else, and its release
        has nothing to evacuate. ``logon`` stays eager: its reply hands out the cgroup for the
        caller to put processes in."""
        address = vip if vip is None or isinstance(vip, ipaddress.IPv4Address) else ipaddress.IPv4Address(vip)
        with self._plane_lock:
            if self.plane is None:
                return {"active": False}
            self.known[session_id] = None if address is None else int(address)
            if not eager and session_id not in self.plane.sessions:
                return {"active": True, "cgroup": None}
            session = self._activate(session_id)
            return {"active": True, "cgroup": str(session.cgroup)}

    def _activate(self, session_id: int) -> PlaneSession:
        """Make session ``session_id``'s cgroups and map entry (idempotent; re-creates vanished ones)."""
        assert self.plane is not None
        raw = self.known.get(session_id)
        address = None if raw is None else ipaddress.IPv4Address(raw)
        current = self.plane.sessions.get(session_id)
        if current is not None and not current.vip_cgroup.is_dir():
            log.warning("cgroup of session %d (%s) vanished; re-creating it", session_id, current.cgroup)
            self.plane.remove_session(session_id)
            current = None
        self._assign_vip(address)
        if current is None or current.vip != address:
            return self.plane.add_session(session_id, address, options=self._options())
        return current

    def _write_hosts(self, session: PlaneSession) -> None:
        """The session's hosts file, written when a translated program of it first starts."""
        if not self.config.data_plane.names or session.session_id in self.hosts_written:
            return
        base = ""
        with contextlib.suppress(OSError):
            base = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace")
        names = host_names(self.hostname)
        write_hosts(
            self.hosts_file(session.session_id),
            render_hosts(base, session.session_id, session.loopback, session.vip, names),
        )
        self.hosts_written.add(session.session_id)

    def _drop_session(self, session_id: int) -> list[int]:
        with self._plane_lock:
            left: list[int] = []
            if self.plane is not None and session_id in self.plane.sessions:
                left = self.plane.remove_session(session_id)
            self.known.pop(session_id, None)
            if session_id in self.hosts_written or session_id in self.hosts_left:
                # only a session that wrote one (or a killed run left one) has a file to remove
                self.hosts_written.discard(session_id)
                self.hosts_left.discard(session_id)
                with contextlib.suppress(FileNotFoundError):
                    self.hosts_file(session_id).unlink()
            self.followed.discard(session_id)
            return left

    def _logon(
        self,
        session_id: int,
        user: str | None = None,
        uid: int | None = None,
        pid: int | None = None,
        *,
        eager: bool = True,
    ) -> dict[str, Any]:
        batching = self._batch.after is not None
        with self._plane_lock:
            if self.plane is not None and session_id not in self.known:
                limit = self.config.data_plane.max_sessions
                pending = self._batch_logons if batching else set()
                if len(self.known) + len(pending) >= limit and session_id not in pending:
                    raise RequestError(
                        f"session {session_id} is refused: the data plane holds {limit} sessions "
                        "(data_plane.max_sessions) and all are in use; nothing was allocated. Raise "
                        "data_plane.max_sessions and restart the engine, or end idle sessions"
                    )
        allocation = self._allocate(session_id, user, uid, pid)
        result = allocation.to_json()
        if batching and self.plane is not None and session_id not in self.known:
            self._batch_logons.add(session_id)

        def enter_plane() -> None:  # once the lease is committed
            self._batch_logons.discard(session_id)
            result["data_plane"] = self._ensure_session(session_id, allocation.vip, eager=eager)

        self.after_commit(enter_plane)
        return result

    def _commit_together(self, requests: list[object]) -> list[dict[str, Any]]:
        # The data-plane lock first, as everywhere else that holds both (sync_leases): a batch
        # holds the store lock throughout, and its logons take the data-plane lock inside it.
        with self._plane_lock:
            try:
                return super()._commit_together(requests)
            finally:
                self._batch_logons.clear()

    def _logoff(self, session_id: int) -> dict[str, Any]:
        result = self._release(session_id)

        def leave_plane() -> None:  # once the release is committed
            result["evacuated"] = self._drop_session(session_id)

        self.after_commit(leave_plane)
        return result

    # -- operations ------------------------------------------------------------------------
    def _dispatch(self, req: object) -> Any:
        if not isinstance(req, Mapping):
            return super()._dispatch(req)
        op = req.get("op")
        if not isinstance(op, str) or op not in _AGENT_FIELDS:
            return super()._dispatch(req)
        check_fields(req, op, _AGENT_FIELDS[op])
        if op == "sessions":
            return self._sessions()
        sid, user = parse_session_request(req, op)
        uid = _int_field(req, "uid", required=False)
        if op in ("logon", "allocate"):
            return self._logon(sid, user, uid, _int_field(req, "pid", required=False), eager=op == "logon")
        if op in ("logoff", "release"):
            return self._logoff(sid)
        if op == "plan":
            command = req.get("command")
            if not isinstance(command, str) or not command.startswith("/"):
                raise RequestError(f"plan: 'command' is {command!r}; give the program's absolute real path")
            return self._plan(sid, Path(command), user, uid)
        return self._attach(sid, cast(int, _int_field(req, "pid", required=True)), user, uid)

    def _describe(
        self, sid: int, exe: Path, alloc: Mapping[str, Any], *, comm: str | None = None
    ) -> dict[str, Any]:
        mode, matched = decide_exe(self.config.policy, exe, comm=comm)
        translated = mode in KERNEL_MODES and self.plane is not None
        names = translated and self.config.data_plane.names
        note = None
        report, inherit = self.config.policy.options_of(matched)
        if mode is Mode.CLIENT_ADDRESS:
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
            "isolate_loopback": self.config.isolate_loopback,
            "report_original": report,
            "inherit_children": inherit,
            "hosts_file": str(self.hosts_file(sid)) if names else None,
            "note": note,
            "message": alloc.get("message"),
        }

    def _plan(self, sid: int, command: Path, user: str | None, uid: int | None) -> dict[str, Any]:
        alloc = self._logon(sid, user, uid)
        result = self._describe(sid, command, alloc)
        if result["hosts_file"] is not None:
            with self._plane_lock:
                if self.plane is not None and sid in self.plane.sessions:
                    self._write_hosts(self.plane.sessions[sid])
        return result

    def _attach(self, sid: int, pid: int, user: str | None, uid: int | None) -> dict[str, Any]:
        alloc = self._logon(sid, user, uid)
        exe = agent_platform().process_exe(pid)
        result = self._describe(sid, exe, alloc, comm=agent_platform().process_comm(pid))
        result["pid"] = pid
        self._place(sid, pid, Mode(result["mode"]), result["matched"], translated=bool(result["translated"]))
        log.info(
            "session %d: pid %d (%s) %s",
            sid,
            pid,
            exe,
            "translated" if result["translated"] else "not translated",
        )
        return result

    def _place(self, sid: int, pid: int, mode: Mode, matched: str | None, *, translated: bool) -> None:
        """Put ``pid`` in session ``sid`` with its entry's mode and options (kernel maps)."""
        with self._plane_lock:
            if self.plane is None:
                return
            session = self._activate(sid)
            if not translated:
                self.plane.attach_pid(sid, pid, translated=False)
                return
            report, inherit = self.config.policy.options_of(matched)
            opts = dataclasses.replace(session.options, report_original=report)
            self.plane.attach_pid(sid, pid, mode=mode, options=opts, inherit_children=inherit)
            self._write_hosts(session)

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
                "exec_events": self.exec_reason,
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
                self._logon(sid, s.user, s.uid, s.leader, eager=False)  # its scope, not ours, holds it
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
        run_periodically(self._stop, self.config.data_plane.watch_seconds, self.tick, "agent watcher")


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
