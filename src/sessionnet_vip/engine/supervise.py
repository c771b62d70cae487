"""``vipctl supervise``: keep the engine running where systemd does not (no PID-1 init).

``start`` detaches (double fork, new session), writes the pidfile and restarts the command
when it exits, with a growing delay (1 s doubling up to 30 s; back to 1 s after a minute of
running). ``stop`` sends ``SIGTERM`` to the supervisor, which stops the command (``SIGTERM``,
then ``SIGKILL`` after the timeout) and removes the pidfile. ``check`` exits 0 when running.
The start command returns only once the pidfile is written (a pipe, not a sleep).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final

from sessionnet_vip.errors import VipError

MARKER: Final = "vipctl-supervise"


def read_pid(pidfile: Path) -> int | None:
    """The supervisor's PID if the pidfile names a live supervisor, else ``None``."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    if state in ("Z", "X"):  # exited; a parent that does not reap (no init) leaves a zombie
        return None
    return pid if MARKER.encode() in cmdline or b"supervise" in cmdline else None


def _wait_exit(pid: int, timeout: float) -> bool:
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError("vipctl supervise needs Linux; on Windows the launcher and the service do this")
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _writable, _failed = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def stop(pidfile: Path, timeout: float = 20.0) -> bool:
    """Stop the supervisor (and its command); returns whether one was running."""
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError("vipctl supervise needs Linux; on Windows the launcher and the service do this")
    pid = read_pid(pidfile)
    if pid is None:
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout + 5):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 5)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    return True


def _loop(argv: Sequence[str], pidfile: Path, timeout: float) -> int:
    stopping = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def _term(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    delay = 0.5
    try:
        while not stopping.is_set():
            started = time.monotonic()
            print(f"{MARKER}: starting {' '.join(argv)}", flush=True)
            child[:] = [subprocess.Popen(list(argv))]
            proc = child[0]
            while True:
                try:
                    code = proc.wait(timeout=timeout if stopping.is_set() else None)
                    break
                except subprocess.TimeoutExpired:
                    proc.kill()
            if stopping.is_set():
                print(f"{MARKER}: stopped (exit {code})", flush=True)
                break
            ran = time.monotonic() - started
            delay = 1.0 if ran > 60 else min(delay * 2, 30.0) if ran < 5 else delay
            print(f"{MARKER}: exited with {code} after {ran:.1f}s; restarting in {delay:.0f}s", flush=True)
            stopping.wait(delay)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if read_pid(pidfile) in (None, os.getpid()):
                pidfile.unlink()
    return 0


def start(argv: Sequence[str], pidfile: Path, log: Path | None, *, timeout: float = 20.0) -> int:
    """Start the supervisor in the background; returns its PID (0 when already running)."""
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError("vipctl supervise needs Linux; on Windows the launcher and the service do this")
    if not argv:
        raise VipError("supervise needs a command after '--'")
    if read_pid(pidfile) is not None:
        return 0
    pidfile.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    rfd, wfd = os.pipe()
    first = os.fork()
    if first:
        os.close(wfd)
        with os.fdopen(rfd, "rb") as reader:
            answer = reader.read()
        os.waitpid(first, 0)
        if not answer.startswith(b"ok "):
            raise VipError(f"the supervisor did not start: {answer.decode(errors='replace').strip()}")
        return int(answer.split()[1])
    # first child
    os.close(rfd)
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        os.chdir("/")
        out = os.open(str(log) if log else os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        tmp = pidfile.with_suffix(".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        tmp.replace(pidfile)
        os.write(wfd, f"ok {os.getpid()}\n".encode())
        os.close(wfd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(wfd, f"error {exc}\n".encode())
        os._exit(1)
    code = 1
    try:
        code = _loop(argv, pidfile, timeout)
    finally:
        sys.stdout.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sessionnet_vip.engine.supervise stop|check PIDFILE`` (stdlib only: works even
    when the package's dependencies are broken, e.g. for a clean removal)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("stop", "check"):
        print("usage: python -m sessionnet_vip.engine.supervise stop|check PIDFILE", file=sys.stderr)
        return 2
    pidfile = Path(args[1])
    if args[0] == "stop":
        print("stopped" if stop(pidfile) else "not running")
        return 0
    pid = read_pid(pidfile)
    print(f"running (pid {pid})" if pid else "not running")
    return 0 if pid else 3


if __name__ == "__main__":
    sys.exit(main())
