"""``vipctl run --session N -- CMD``: start CMD in session N, placed by the engine.

The command runs as a child of ``vipctl`` (so it keeps the caller's terminal, environment
and exit status); the engine decides and places it:

1. ``plan``: the engine allocates for session N if needed (logon) and says whether the
   program (``PATH`` lookup, real path, ``#!`` interpreter) is listed and, if so, which
   per-session hosts file to use for name lookups;
2. the child enters a private mount namespace with that hosts file over ``/etc/hosts``
   (translated programs only), calls ``ptrace(PTRACE_TRACEME)`` and ``execve``\\s CMD: the
   kernel stops it right after the ``execve``, before CMD's first instruction;
3. ``attach``: the engine reads ``/proc/PID/exe`` (the kernel's real path of what was
   executed), decides with the process list, moves the process into the session's cgroup
   and fills the data plane's map;
4. ``vipctl`` detaches (``PTRACE_DETACH``) and waits, forwarding signals; its exit status is
   CMD's (128 + signal when killed).
"""

from __future__ import annotations

import os
import sys

# vipctl run is a hot path (every start of a session's program): this module loads only os, sys,
# _signal, _socket, _json and ctypes; signal, socket and json would load enum and re, pathlib and
# shutil fnmatch, typing more still. mypy reads the block below.
from sessionnet_vip.errors import VipError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Sequence
    from types import FrameType
    from typing import Any
else:
    import _signal as signal  # the C module: signal.py loads enum

#: protocol.MAX_REPLY (a test checks it; the protocol module loads json and typing)
_MAX_REPLY = 16 * 1024 * 1024
PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_DETACH = 17
if sys.platform == "win32":  # never run there (ptrace); the module still imports
    FORWARDED = (signal.SIGTERM, signal.SIGINT)
else:
    FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _libc() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    return libc


def _which(name: str, path: str) -> str | None:
    """``execvp``'s ``PATH`` lookup (what ``shutil.which`` does, without loading shutil)."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def resolve_command(name: str, path: str | None = None) -> str:
    """The real path the kernel will show as ``/proc/PID/exe`` for ``execvp(name)``.

    ``PATH`` lookup like ``execvp``, ``realpath``, and for a ``#!`` script its interpreter.
    """
    found = name if "/" in name else _which(name, path if path is not None else os.environ.get("PATH", os.defpath))
    if found is None or not os.path.isfile(found):
        raise VipError(f"command {name!r} was not found (PATH lookup); give an existing program")
    if not os.access(found, os.X_OK):
        raise VipError(f"command {found} is not executable; check its mode")
    real = os.path.realpath(found)
    try:
        with open(real, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return real
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].strip().split()
        if line:
            return os.path.realpath(os.fsdecode(line[0]))
    return real


def _encode(req: dict[str, Any]) -> bytes:
    """``protocol.encode(req)`` for requests of strings and integers, without loading json."""
    from _json import encode_basestring_ascii as quote

    parts = []
    for key in sorted(req):
        value = req[key]
        if isinstance(value, str):
            text = quote(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            from sessionnet_vip.engine.protocol import encode

            return encode(req)
        parts.append(f"{quote(key)}: {text}")
    return ("{" + ", ".join(parts) + "}\n").encode()


class _ReplyContext:
    """What ``_json.make_scanner`` reads from a ``JSONDecoder``: plain objects, and an error
    (hence the strict decoder's message) for NaN, infinity and over-long integers."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    memo: dict[str, str]

    def __init__(self) -> None:
        self.memo = {}

    @staticmethod
    def parse_int(text: str) -> int:
        return int(text)  # ValueError past Python's digit limit

    @staticmethod
    def parse_float(text: str) -> float:
        value = float(text)
        if value - value != 0:  # inf or nan
            raise ValueError(text)
        return value

    @staticmethod
    def parse_constant(text: str) -> Any:
        raise ValueError(text)


class _Connection:
    """One connection to the engine for both requests of a run (``plan`` then ``attach``)."""

    address: str
    sock: Any  # _socket.socket
    buffer: bytes

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        if sys.platform == "win32":  # a Unix socket (mypy --platform win32: the rest is unreachable)
            raise VipError("vipctl run needs Linux; on Windows the launcher and the service do this")
        import _socket

        self.address = address
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buffer = b""
        try:
            self.sock.connect(address)
        except OSError as exc:
            self.sock.close()
            raise VipError(
                f"cannot reach the engine at {address} ({exc.strerror}); start "
                "'vipctl serve --config FILE', or pass --socket PATH, "
                "or --config FILE to work on the store directly"
            ) from None

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
            if len(self.buffer) > _MAX_REPLY:
                break
        line, newline, rest = self.buffer.partition(b"\n")
        self.buffer = rest
        return line + newline

    def ask(self, req: dict[str, Any]) -> dict[str, Any]:
        """The ``result`` of the engine's reply to ``req``; :class:`VipError` if it refused."""
        self.sock.sendall(_encode(req))
        line = self._line()
        if not line:
            raise VipError(f"the engine at {self.address} closed the connection without a reply")
        reply: Any = None
        try:
            from _json import make_scanner

            text = line.decode("utf-8").strip()
            context: Any = _ReplyContext()  # duck-typed as a JSONDecoder
            reply, end = make_scanner(context)(text, 0)
            if end != len(text):
                reply = None
        except (ValueError, RecursionError, StopIteration):
            reply = None
        if not isinstance(reply, dict):  # the strict decoder says what is wrong (or accepts it)
            from sessionnet_vip.engine.protocol import decode_reply

            reply = decode_reply(line, self.address)
        if not reply.get("ok"):
            raise VipError(str(reply.get("error", "the engine refused the request")))
        result: dict[str, Any] = reply["result"]
        return result


def _exit_code(status: int) -> int:
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError("vipctl run needs Linux; on Windows the launcher and the service do this")
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 1


def reporter(*, json: bool, verbose: bool) -> Callable[[dict[str, Any]], None]:
    """What ``vipctl run`` prints on stderr about the placement: the ``attach`` answer as JSON
    (``--json``), one line (``--verbose``), or nothing."""

    def report(placed: dict[str, Any]) -> None:
        if json:
            from sessionnet_vip.engine.protocol import encode

            sys.stderr.write(encode(placed).decode())
            sys.stderr.flush()
        elif verbose:
            how = "translated" if placed["translated"] else "not translated"
            print(
                f"vipctl run: session {placed['session_id']} (vip {placed['vip'] or 'none'}, loopback "
                f"{placed['loopback']}): pid {placed['pid']} {placed['exe']} {how}",
                file=sys.stderr,
                flush=True,
            )

    return report


def run_in_session(
    socket_path: str | os.PathLike[str],
    session: int,
    argv: Sequence[str],
    *,
    user: str | None = None,
    uid: int | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Run ``argv`` in ``session`` through the engine at ``socket_path``; return its exit code.

    ``report(dict)`` is called with the engine's ``attach`` answer (for ``--verbose``/``--json``).
    Both requests go over one connection.
    """
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError("vipctl run needs Linux; on Windows the launcher and the service do this")
    if not argv:
        raise VipError("run needs a command after '--'; e.g. vipctl run --session 3 -- /usr/bin/app")
    base: dict[str, Any] = {"session": session}
    if user is not None:
        base["user"] = user
    if uid is not None:
        base["uid"] = uid
    command = resolve_command(argv[0])
    engine = _Connection(os.fspath(socket_path))
    try:
        return _run(engine, base, command, argv, report)
    finally:
        engine.close()


def _run(
    engine: _Connection,
    base: dict[str, Any],
    command: str,
    argv: Sequence[str],
    report: Callable[[dict[str, Any]], None] | None,
) -> int:
    if sys.platform == "win32":  # pragma: no cover - see run_in_session
        raise VipError("vipctl run needs Linux")
    plan = engine.ask({"op": "plan", "command": command, **base})
    hosts = plan.get("hosts_file") if plan.get("translated") else None
    enter_private_hosts: Callable[[str], None] | None = None
    if hosts:
        from sessionnet_vip.engine.names import enter_private_hosts
    import ctypes

    libc = _libc()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: only async-signal-tolerant work, then exec or _exit
        try:
            engine.close()
            if hosts and enter_private_hosts is not None:
                enter_private_hosts(str(hosts))
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
                raise VipError(f"ptrace(PTRACE_TRACEME) failed ({os.strerror(ctypes.get_errno())})")
            os.execvp(argv[0], list(argv))
        except BaseException as exc:
            os.write(2, f"vipctl run: cannot start {argv[0]}: {exc}\n".encode())
        os._exit(127)
    # parent: wait for the stop right after execve (or the child's failure)
    while True:
        _pid, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            return _exit_code(status)
        sig = os.WSTOPSIG(status)
        if sig == signal.SIGTRAP:
            break
        libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(sig))  # a signal before exec: deliver it
    try:
        placed = engine.ask({"op": "attach", "pid": pid, **base})
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    engine.close()
    if hosts and not placed.get("translated"):
        print(
            f"vipctl run: warning: {placed['exe']} is not listed, but its name lookups use the session's "
            f"hosts file (planned for {command})",
            file=sys.stderr,
        )
    for key in ("note", "message"):
        if placed.get(key):
            print(f"vipctl run: {placed[key]}", file=sys.stderr)
    if report is not None:
        report(placed)

    def _forward(signum: int, frame: FrameType | None) -> None:
        os.kill(pid, signum)

    previous = {sig: signal.signal(sig, _forward) for sig in FORWARDED}
    try:
        if libc.ptrace(PTRACE_DETACH, pid, None, None) != 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise VipError(f"ptrace(PTRACE_DETACH) of {pid} failed ({os.strerror(ctypes.get_errno())})")
        _pid, status = os.waitpid(pid, 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return _exit_code(status)
