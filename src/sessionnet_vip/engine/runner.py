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

import ctypes
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Final

from sessionnet_vip.engine.names import enter_private_hosts
from sessionnet_vip.errors import VipError

PTRACE_TRACEME: Final = 0
PTRACE_CONT: Final = 7
PTRACE_DETACH: Final = 17
if sys.platform == "win32":  # never run there (ptrace); the module still imports
    FORWARDED: Final = (signal.SIGTERM, signal.SIGINT)
else:
    FORWARDED: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    return libc


def resolve_command(name: str, path: str | None = None) -> Path:
    """The real path the kernel will show as ``/proc/PID/exe`` for ``execvp(name)``.

    ``PATH`` lookup like ``execvp``, ``realpath``, and for a ``#!`` script its interpreter.
    """
    found = (
        name if "/" in name else shutil.which(name, path=path if path is not None else os.environ.get("PATH"))
    )
    if found is None or not os.path.isfile(found):
        raise VipError(f"command {name!r} was not found (PATH lookup); give an existing program")
    if not os.access(found, os.X_OK):
        raise VipError(f"command {found} is not executable; check its mode")
    real = Path(os.path.realpath(found))
    try:
        with real.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        return real
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].strip().split()
        if line:
            return Path(os.path.realpath(os.fsdecode(line[0])))
    return real


def _checked(socket_path: Path, req: dict[str, Any]) -> dict[str, Any]:
    # the bare Unix-socket client: not the server side (start-up time of vipctl run)
    from sessionnet_vip.engine.linux.client import request

    reply = request(str(socket_path), req)
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


def run_in_session(
    socket_path: Path,
    session: int,
    argv: Sequence[str],
    *,
    user: str | None = None,
    uid: int | None = None,
    report: Any = None,
) -> int:
    """Run ``argv`` in ``session`` through the engine at ``socket_path``; return its exit code.

    ``report(dict)`` is called with the engine's ``attach`` answer (for ``--verbose``/``--json``).
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
    plan = _checked(socket_path, {"op": "plan", "command": str(command), **base})
    hosts = plan.get("hosts_file") if plan.get("translated") else None
    libc = _libc()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: only async-signal-tolerant work, then exec or _exit
        try:
            if hosts:
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
        placed = _checked(socket_path, {"op": "attach", "pid": pid, **base})
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
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
