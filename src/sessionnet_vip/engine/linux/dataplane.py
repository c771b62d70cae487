"""The Linux data plane: cgroup v2 socket-address hooks, one map entry per session.

Usage::

    plane = DataPlane()
    probe = plane.probe()            # Probe(ok=False, reason="...") names what is missing
    plane.load()                     # maps + programs, attached to <cgroup2>/sessionnet
    plane.add_session(3, vip="192.0.2.11")
    proc = plane.spawn(3, ["my-server"], translated=True)
    ...
    plane.close()                    # detach programs, remove the cgroups

Layout: ``<root>/session-N`` holds every process of session N; ``<root>/session-N/vip``
holds the translated (listed) processes. Programs are attached once to ``<root>``, as BPF
links, so they also detach when the engine dies. See ``docs/linux-data-plane.md``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from sessionnet_vip.addressing import virtual_loopback_address, virtual_loopback_session
from sessionnet_vip.engine.linux import bpfsys, cgroups, programs
from sessionnet_vip.engine.linux.bpfsys import Bpf, BpfError
from sessionnet_vip.engine.linux.cgroups import Cgroup2Mount, CgroupError
from sessionnet_vip.engine.linux.libbpf import BpfObject, LibbpfError, object_path
from sessionnet_vip.engine.policy import Mode
from sessionnet_vip.errors import VipError

#: Map sizes when the configuration gives none (``max_sessions`` / ``max_processes``).
DEFAULT_MAX_SESSIONS: Final = 65536
DEFAULT_MAX_PROCESSES: Final = 262144

DEFAULT_ROOT_NAME: Final = "sessionnet"
VIP_LEAF: Final = "vip"
#: Translated processes whose children are not translated (only a fork of the same program is).
SOLO_LEAF: Final = "solo"
#: The launcher: wait for the engine's go-ahead on a pipe, then exec the command (same PID).
_LAUNCHER: Final = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "go = os.read(fd, 3)\n"
    "os.close(fd)\n"
    "if go != b'go\\n':\n"
    "    sys.exit('sessionnet launcher: the engine did not place this process; not starting it')\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


class DataPlaneError(VipError):
    """The data plane cannot do what was asked (not loaded, unknown session, kernel refusal)."""


@dataclass(frozen=True)
class Probe:
    """Whether this kernel can run the data plane, and if not, what is missing."""

    ok: bool
    reason: str
    cgroup2: Path | None = None


@dataclass(frozen=True)
class SessionOptions:
    """Per-session behaviour (from the policy of engine part 1)."""

    #: Children of a translated process are translated too (they share its ``vip`` cgroup).
    inherit_children: bool = False
    #: Refuse connect/sendto to another session's loopback address (127.0.0.2 and up).
    isolate_loopback: bool = False
    #: Outgoing connections/datagrams to non-loopback hosts leave from the session VIP.
    source_vip: bool = True
    #: getsockname/getpeername/recvfrom show the session loopback as 127.0.0.1.
    report_original: bool = False
    #: The mode of inherited children (and of processes attached without a mode of their own).
    mode: Mode = Mode.VIRTUAL_IP

    @property
    def flags(self) -> int:
        return (
            (programs.FLAG_INHERIT_CHILDREN if self.inherit_children else 0)
            | (programs.FLAG_ISOLATE_LOOPBACK if self.isolate_loopback else 0)
            | (programs.FLAG_SOURCE_VIP if self.source_vip else 0)
            | (programs.FLAG_REPORT_ORIGINAL if self.report_original else 0)
            | (programs.MODE_NUMBERS[Mode(self.mode)] << programs.MODE_SHIFT)
        )

    @property
    def process_flags(self) -> int:
        """The per-process part of the flags (what a processes-map entry carries)."""
        return self.flags & (programs.FLAG_SOURCE_VIP | programs.FLAG_REPORT_ORIGINAL)


@dataclass(frozen=True)
class Session:
    """A session known to the data plane."""

    session_id: int
    vip: ipaddress.IPv4Address | None
    loopback: ipaddress.IPv4Address
    options: SessionOptions
    cgroup: Path
    vip_cgroup: Path  #: translated processes whose children are translated too
    cgroup_id: int
    vip_cgroup_id: int

    @property
    def solo_cgroup(self) -> Path:
        """Translated processes whose children are not (``inherit_children: false``)."""
        return self.cgroup / SOLO_LEAF


@dataclass
class DataPlane:
    """cgroup sock_addr programs + two maps; sessions and translated processes are map entries."""

    root_name: str = DEFAULT_ROOT_NAME
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_processes: int = DEFAULT_MAX_PROCESSES
    _bpf: Bpf | None = field(default=None, init=False, repr=False)
    _object: BpfObject | None = field(default=None, init=False, repr=False)
    _mount: Cgroup2Mount | None = field(default=None, init=False, repr=False)
    _root: Path | None = field(default=None, init=False, repr=False)
    _sessions_fd: int = field(default=-1, init=False, repr=False)
    _procs_fd: int = field(default=-1, init=False, repr=False)
    _link_fds: list[int] = field(default_factory=list, init=False, repr=False)
    _sessions: dict[int, Session] = field(default_factory=dict, init=False, repr=False)
    _translated: dict[int, int] = field(default_factory=dict, init=False, repr=False)  # tgid → session

    # --- capability probe ---------------------------------------------------------------
    @staticmethod
    def probe() -> Probe:
        """Check cgroup v2, ``bpf()`` rights and the sock_addr hooks; name what is missing."""
        if platform.system() != "Linux":
            return Probe(False, f"the Linux data plane needs Linux; this is {platform.system()}")
        mount = cgroups.find_cgroup2()
        if mount is None:
            return Probe(
                False,
                "no cgroup v2 hierarchy is mounted (cgroup2 not in /proc/self/mountinfo); mount it "
                "(mount -t cgroup2 none /sys/fs/cgroup/unified) "
                "or boot with systemd.unified_cgroup_hierarchy",
            )
        try:
            bpf = Bpf.open()
            fd = bpf.map_create(bpfsys.MAP_TYPE_HASH, 8, programs.SESSION_RECORD.size, 1, "snv_probe")
            os.close(fd)
        except BpfError as exc:
            return Probe(False, _bpf_reason(exc), mount.path)
        try:
            object_path()
            BpfObject().close()  # libbpf present and the object readable
        except LibbpfError as exc:
            return Probe(False, str(exc), mount.path)
        if not Path("/sys/kernel/btf/vmlinux").exists():
            return Probe(
                False,
                "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing); the data plane needs "
                "CONFIG_DEBUG_INFO_BTF (Debian kernels have it)",
                mount.path,
            )
        return Probe(True, f"cgroup v2 at {mount.path}, bpf(), libbpf and kernel BTF available", mount.path)

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._root is not None

    @property
    def root(self) -> Path:
        """The cgroup the programs are attached to."""
        if self._root is None:
            raise DataPlaneError("the data plane is not loaded; call load() first")
        return self._root

    def load(self, parent: Path | str | None = None) -> Path:
        """Create ``<parent>/<root_name>``, the maps and the programs, and attach them there.

        ``parent`` defaults to the root of the cgroup v2 hierarchy. Returns the root cgroup.
        """
        if self._root is not None:
            return self._root
        probe = self.probe()
        if not probe.ok:
            raise DataPlaneError(f"cannot load the Linux data plane: {probe.reason}")
        mount = cgroups.find_cgroup2()
        assert mount is not None
        base = Path(parent) if parent is not None else mount.path
        try:
            base.resolve().relative_to(mount.path)
        except ValueError:
            raise DataPlaneError(
                f"{base} is not inside the cgroup v2 hierarchy at {mount.path}; give a directory under it"
            ) from None
        root = base / self.root_name
        cgroups.make(root)
        self._mount, self._bpf = mount, Bpf.open()
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if self._bpf.prog_count(root_fd, bpfsys.CGROUP_INET4_BIND):
                raise DataPlaneError(
                    f"cgroup {root} already has programs attached: another engine is running there; "
                    "stop it or give this data plane another root_name"
                )
        finally:
            os.close(root_fd)
        for what, value in (("max_sessions", self.max_sessions), ("max_processes", self.max_processes)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 24:
                raise DataPlaneError(f"{what} {value!r} is not a map size from 1 to 16777216; fix {what}")
        try:
            obj = self._object = BpfObject()
            obj.set_max_entries(programs.SESSIONS_MAP, self.max_sessions)
            obj.set_max_entries(programs.PROCS_MAP, self.max_processes)
            obj.set_rodata_u32(mount.level(root) + 1)  # session_level
            obj.load()
            self._sessions_fd = obj.map_fd(programs.SESSIONS_MAP)
            self._procs_fd = obj.map_fd(programs.PROCS_MAP)
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for hook in programs.HOOKS:
                    self._link_fds.append(obj.attach_cgroup(hook, root_fd))
            finally:
                os.close(root_fd)
            for tracer in programs.TRACERS:
                self._link_fds.append(obj.attach(tracer))
        except LibbpfError as exc:
            self._root = root
            self.close()
            raise DataPlaneError(f"cannot load the Linux data plane: {exc}") from None
        except BaseException:
            self._root = root
            self.close()
            raise
        self._root = root
        return root

    def close(self, *, kill: bool = False) -> None:
        """Remove every session (see :meth:`remove_session`), detach the programs, drop the maps."""
        if self._root is None and not self._link_fds:
            return
        errors: list[str] = []
        for session_id in list(self._sessions):
            try:
                self.remove_session(session_id, kill=kill)
            except VipError as exc:
                errors.append(str(exc))
        if self._object is not None:  # owns the links, programs and maps
            self._object.close()
            self._object = None
        self._link_fds.clear()
        self._sessions_fd = self._procs_fd = -1
        if self._root is not None:
            try:
                cgroups.remove_tree(self._root)
            except CgroupError as exc:
                errors.append(str(exc))
        self._root = None
        if errors:
            raise DataPlaneError("; ".join(errors))

    def __enter__(self) -> DataPlane:
        self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sessions -----------------------------------------------------------------------
    def add_session(
        self,
        session_id: int,
        vip: ipaddress.IPv4Address | str | None,
        loopback: ipaddress.IPv4Address | str | None = None,
        options: SessionOptions | None = None,
    ) -> Session:
        """Create (or update) session ``session_id``: its cgroups and its map entry.

        ``loopback`` defaults to the virtual loopback rule of :mod:`sessionnet_vip.addressing`;
        ``vip`` may be ``None`` for a loopback-only session (0.0.0.0 binds stay as they are).
        """
        root = self.root
        assert self._bpf is not None
        loop = (
            ipaddress.IPv4Address(str(loopback))
            if loopback is not None
            else virtual_loopback_address(session_id)
        )
        virtual_loopback_session(loop)  # refuses addresses outside 127.0.0.1-127.255.255.255
        address = ipaddress.IPv4Address(str(vip)) if vip is not None else None
        if address is not None and (address.is_loopback or address.is_unspecified or address.is_multicast):
            raise DataPlaneError(
                f"VIP {address} of session {session_id} is not a unicast host address; give a pool address"
            )
        opts = options or SessionOptions()
        if session_id not in self._sessions:
            self.check_room(session_id)
        cgroup = root / f"session-{session_id}"
        vip_cgroup = cgroup / VIP_LEAF
        cgroups.make(cgroup)
        cgroups.make(vip_cgroup)
        cgroups.make(cgroup / SOLO_LEAF)
        session = Session(
            session_id,
            address,
            loop,
            opts,
            cgroup,
            vip_cgroup,
            cgroups.cgroup_id(cgroup),
            cgroups.cgroup_id(vip_cgroup),
        )
        record = programs.SESSION_RECORD.pack(
            address.packed if address is not None else b"\0\0\0\0",
            loop.packed,
            opts.flags | programs.FLAG_INHERIT_CHILDREN,  # the vip leaf inherits; solo does not
            session_id,
            session.vip_cgroup_id,
        )
        self._bpf.map_update(self._sessions_fd, programs.SESSION_KEY.pack(session.cgroup_id), record)
        old = self._sessions.get(session_id)
        if old is not None and old.cgroup_id != session.cgroup_id:
            self._bpf.map_delete(self._sessions_fd, programs.SESSION_KEY.pack(old.cgroup_id))
        self._sessions[session_id] = session
        return session

    def check_room(self, session_id: int) -> None:
        """Refuse a new session the sessions map cannot hold (before anything is committed)."""
        if session_id not in self._sessions and len(self._sessions) >= self.max_sessions:
            raise DataPlaneError(
                f"session {session_id} cannot be translated: the data plane's sessions map is full "
                f"({self.max_sessions} sessions, max_sessions); raise max_sessions in the engine "
                "configuration and restart the engine"
            )

    def session(self, session_id: int) -> Session:
        """Return session ``session_id``; refuse unknown sessions and vanished cgroups."""
        try:
            session = self._sessions[session_id]
        except KeyError:
            raise DataPlaneError(
                f"session {session_id} is not in the data plane; add it with add_session() first"
            ) from None
        if not session.vip_cgroup.is_dir():
            raise DataPlaneError(
                f"the cgroup of session {session_id} ({session.cgroup}) has vanished; "
                "remove the session and add it again"
            )
        return session

    @property
    def sessions(self) -> Mapping[int, Session]:
        return dict(self._sessions)

    def remove_session(self, session_id: int, *, kill: bool = False, timeout: float = 5.0) -> list[int]:
        """Forget session ``session_id``: drop its map entries and cgroups.

        Processes still in the session are killed with ``kill=True`` (``cgroup.kill``), else
        moved to the parent of the data plane's root cgroup, untranslated. Returns their PIDs.
        A session whose cgroup vanished is just forgotten.
        """
        assert self._bpf is not None
        session = self._sessions.pop(session_id, None)
        if session is None:
            raise DataPlaneError(f"session {session_id} is not in the data plane; nothing to remove")
        self._bpf.map_delete(self._sessions_fd, programs.SESSION_KEY.pack(session.cgroup_id))
        for tgid, owner in list(self._translated.items()):
            if owner == session_id:
                self.detach_pid(tgid)
        left: list[int] = []
        if session.cgroup.is_dir():
            # cgroup.events says whether any process is left below the session (one read, the
            # usual case at logoff); only then are the three process lists read
            if cgroups.populated(session.cgroup):
                left = cgroups.pids(session.cgroup) + cgroups.pids(session.vip_cgroup)
                if session.solo_cgroup.is_dir():
                    left += cgroups.pids(session.solo_cgroup)
            if kill and left and (session.cgroup / "cgroup.kill").exists():
                (session.cgroup / "cgroup.kill").write_text("1\n")
                if not cgroups.wait_empty(session.cgroup, timeout):
                    raise DataPlaneError(f"processes of session {session_id} did not exit within {timeout}s")
            else:
                evacuate_to = self.root.parent
                for pid in left:
                    with contextlib.suppress(CgroupError):
                        cgroups.move(pid, evacuate_to)
            cgroups.remove_tree(session.cgroup)
        return left

    # --- processes ----------------------------------------------------------------------
    def attach_pid(
        self,
        session_id: int,
        pid: int,
        *,
        translated: bool = True,
        mode: Mode | str | None = None,
        options: SessionOptions | None = None,
        move: bool = True,
        inherit_children: bool | None = None,
    ) -> None:
        """Put running process ``pid`` in session ``session_id``; translate it if ``translated``.

        A translated process goes to the session's ``vip`` cgroup and its thread-group ID into
        the processes map with its ``mode`` and per-process ``options`` (``report_original``,
        ``source_vip``; default: the session's); its later children are translated only with
        ``inherit_children`` (default: the session's): they share the ``vip`` cgroup, while a
        process without it goes to the ``solo`` cgroup, where only a fork of the same program
        stays translated. ``move=False`` leaves the process in its cgroup.
        """
        session = self.session(session_id)
        assert self._bpf is not None
        tgid = _tgid(pid)
        inherit = session.options.inherit_children if inherit_children is None else inherit_children
        if move:
            leaf = (session.vip_cgroup if inherit else session.solo_cgroup) if translated else session.cgroup
            cgroups.move(tgid, leaf)
        if translated:
            opts = options or session.options
            number = programs.MODE_NUMBERS[Mode(mode if mode is not None else session.options.mode)]
            value = programs.PROC_VALUE.pack(session.cgroup_id, number, opts.process_flags)
            try:
                self._bpf.map_update(self._procs_fd, programs.PROC_KEY.pack(tgid), value)
            except BpfError as exc:
                if exc.errno != errno.E2BIG:
                    raise
                raise DataPlaneError(
                    f"process {tgid} of session {session_id} cannot be translated: the processes map is "
                    f"full ({self.max_processes} entries, max_processes); raise max_processes"
                ) from None
            self._translated[tgid] = session_id
        else:
            self.detach_pid(tgid)

    def detach_pid(self, pid: int) -> bool:
        """Stop translating ``pid`` (it stays in its cgroup); return whether it was translated."""
        assert self._bpf is not None
        self._translated.pop(pid, None)
        return self._bpf.map_delete(self._procs_fd, programs.PROC_KEY.pack(pid))

    def translated_pids(self) -> dict[int, int]:
        """Translated processes as ``{tgid: session_id}`` (the engine's view of the map)."""
        return dict(self._translated)

    def prune(self) -> list[int]:
        """Drop map entries of processes that exited (so a reused PID is never translated)."""
        gone = [tgid for tgid in self._translated if not Path(f"/proc/{tgid}").exists()]
        for tgid in gone:
            self.detach_pid(tgid)
        return gone

    def spawn(
        self,
        session_id: int,
        argv: Sequence[str],
        *,
        translated: bool = True,
        mode: Mode | str | None = None,
        options: SessionOptions | None = None,
        inherit_children: bool | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        text: bool = False,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` in session ``session_id``, translated from its first instruction.

        A small launcher (this Python, ``-I -S``) waits on a pipe while the engine moves it
        into the cgroup and fills the processes map, then execs ``argv`` (same PID, so the
        same map key); ``argv[0]`` is looked up on ``PATH``.
        """
        if not argv:
            raise DataPlaneError("spawn() needs a command; give argv with at least the program")
        self.session(session_id)
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(read_fd), *argv],
                pass_fds=(read_fd,),
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                text=text,
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        try:
            self.attach_pid(
                session_id,
                proc.pid,
                translated=translated,
                mode=mode,
                options=options,
                inherit_children=inherit_children,
            )
            os.write(write_fd, b"go\n")
        except BaseException:
            proc.kill()
            proc.wait()
            if translated:
                self.detach_pid(proc.pid)
            raise
        finally:
            os.close(write_fd)
        return proc


def _tgid(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Tgid:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    raise DataPlaneError(f"process {pid} does not exist; give the ID of a running process")


def _bpf_reason(exc: BpfError) -> str:
    if exc.errno in (errno.EPERM, errno.EACCES):
        return (
            f"bpf() was refused ({exc}); run the engine as root or with CAP_BPF, CAP_NET_ADMIN and "
            "CAP_SYS_ADMIN (check kernel.unprivileged_bpf_disabled and lockdown)"
        )
    if exc.errno == errno.ENOSYS:
        return f"this kernel has no bpf() system call ({exc}); enable CONFIG_BPF_SYSCALL"
    return f"bpf() does not work here ({exc})"
