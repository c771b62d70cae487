"""``vipctl supervise``: start in the background, restart on exit, stop cleanly."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

from sessionnet_vip.engine import supervise

from .conftest import env


def _vipctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessionnet_vip", *args], capture_output=True, text=True, env=env(), timeout=60
    )


def test_supervise_start_check_restart_stop(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "sup.pid"
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    # the supervised command announces each start on a FIFO, then waits until killed
    script = f"import os; fd = os.open({str(fifo)!r}, os.O_WRONLY); os.write(fd, b'%8d' % os.getpid()); os.close(fd); import signal; signal.pause()"
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    keep = os.open(fifo, os.O_WRONLY)  # a writer always open: no EOF between two starts
    try:
        started = _vipctl(
            "supervise",
            "--start",
            "--pidfile",
            str(pidfile),
            "--log",
            str(tmp_path / "log"),
            "--",
            sys.executable,
            "-c",
            script,
        )
        assert started.returncode == 0, started.stderr
        sup_pid = supervise.read_pid(pidfile)
        assert sup_pid is not None and f"pid {sup_pid}" in started.stdout
        assert (
            _vipctl("supervise", "--start", "--pidfile", str(pidfile), "--", "true").stdout.strip()
            == "already running"
        )
        assert _vipctl("supervise", "--check", "--pidfile", str(pidfile)).returncode == 0

        def next_start() -> int:
            ready, _, _ = select.select([reader], [], [], 30)
            assert ready
            return int(os.read(reader, 8))

        first = next_start()
        os.kill(first, 9)  # the command dies: the supervisor starts it again
        second = next_start()
        assert second != first and Path(f"/proc/{second}").exists()
        stopped = _vipctl("supervise", "--stop", "--pidfile", str(pidfile))
        assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
        assert not pidfile.exists()
        state = (
            Path(f"/proc/{sup_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if Path(f"/proc/{sup_pid}").exists()
            else "gone"
        )
        assert state in ("gone", "Z")  # exited (a zombie where PID 1 does not reap)
        assert _vipctl("supervise", "--check", "--pidfile", str(pidfile)).returncode == 3
        log = (tmp_path / "log").read_text()
        assert "exited with -9" in log and "stopped" in log
    finally:
        os.close(keep)
        os.close(reader)
        supervise.stop(pidfile)
