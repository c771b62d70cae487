"""``vipctl serve`` as a real subprocess, driven by ``vipctl`` clients; and direct mode."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionnet_vip.cli import main
from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE

from .conftest import REPO


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def vipctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessionnet_vip", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )


def vipctl_json(*args: str) -> Any:
    proc = vipctl(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def write_config(tmp_path: Path, **extra: Any) -> Path:
    data = {
        "subnet": "198.51.100.0/24",
        "pool": ["198.51.100.10-198.51.100.11"],
        "state_dir": "state",
        "control_socket": "run/ctl.sock",
        "processes": ["/opt/crm/bin/crm"],
        "prefer_loopback_processes": ["/opt/ipc/bin/broker"],
        "hold_seconds": 60,
        "session_provider": "engine",
        **extra,
    }
    path = tmp_path / "engine.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def wait_for_socket(path: Path, proc: subprocess.Popen[str], deadline_s: float = 30) -> None:
    """Poll until the engine accepts a connection (bounded; fails fast if it exited)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"vipctl serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(path))
                return
            except OSError:
                pass
        time.sleep(0.02)  # poll interval, not synchronisation: the loop re-checks the condition
    raise AssertionError(f"engine socket {path} not ready within {deadline_s}s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    config = write_config(tmp_path)
    sock = tmp_path / "run" / "ctl.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionnet_vip", "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        wait_for_socket(sock, proc)
        yield config, sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert not sock.exists()


def test_serve_and_clients(served: tuple[Path, Path]) -> None:
    _config, sock = served
    s = str(sock)
    a = vipctl_json("allocate", "3", "--user", "alice", "--socket", s)
    assert a["vip"] == "198.51.100.10" and a["loopback"] == "127.0.0.4"
    assert vipctl_json("allocate", "3", "--user", "alice", "--socket", s)["reused"] is True
    vipctl_json("allocate", "4", "--socket", s)
    full = vipctl("allocate", "5", "--socket", s)
    assert full.returncode == 0 and EXHAUSTED_MESSAGE in full.stdout  # the session is not blocked
    status = vipctl_json("status", "--socket", s)
    assert (status["pool_size"], status["in_use"], status["held"], status["exhausted_events"]) == (2, 2, 0, 1)
    leases = vipctl_json("leases", "--socket", s)
    assert [(x["session_id"], x["address"]) for x in leases] == [(3, "198.51.100.10"), (4, "198.51.100.11")]
    rel = vipctl_json("release", "3", "--socket", s)
    assert rel["released"] is True and rel["address"] == "198.51.100.10"
    assert vipctl_json("status", "--socket", s)["held"] == 1
    assert [x["state"] for x in vipctl_json("leases", "--all", "--socket", s)] == ["held", "active"]
    text = vipctl("leases", "--all", "--socket", s).stdout
    assert "198.51.100.10" in text and "held" in text and "alice" in text
    call = ["--call", "bind", "--address", "0.0.0.0:9000"]
    exp = vipctl_json("explain", "--session", "4", "--process", "/opt/crm/bin/crm", *call, "--socket", s)
    assert exp["result"] == "198.51.100.11:9000" and exp["rule"] == "B1"


def test_client_errors(served: tuple[Path, Path]) -> None:
    _config, sock = served
    bad = vipctl("allocate", "-1", "--socket", str(sock))
    assert bad.returncode == 2 and "outside the virtual loopback scheme" in bad.stderr
    assert vipctl_json("leases", "--all", "--socket", str(sock)) == []


def test_no_engine(tmp_path: Path) -> None:
    proc = vipctl("status", "--socket", str(tmp_path / "none.sock"))
    assert proc.returncode == 2 and "cannot reach the engine" in proc.stderr


def test_serve_refuses_a_foreign_store(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "state").mkdir()
    store = tmp_path / "state" / "leases.sqlite3"
    store.write_bytes(b"not a database at all" * 50)
    proc = vipctl("serve", "--config", str(config))
    assert proc.returncode == 2 and "refusing to touch it" in proc.stderr
    assert store.read_bytes() == b"not a database at all" * 50


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, pool=["198.51.100.10-198.51.100.20", "198.51.100.16/29"])
    proc = vipctl("serve", "--config", str(config))
    assert proc.returncode == 2 and "overlap" in proc.stderr
    assert not (tmp_path / "state").exists()


def test_direct_mode_and_offline_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo hook: no engine running, --config instead of --socket."""
    config = str(write_config(tmp_path))
    assert main(["--json", "explain", "--config", config, "--session", "3", "--process", "/opt/crm/bin/crm",
                 "--call", "bind", "--address", "0.0.0.0:9000", "--vip", "198.51.100.99"]) == 0  # fmt: skip
    exp = json.loads(capsys.readouterr().out)
    assert (exp["result"], exp["loopback"], exp["mode"]) == ("198.51.100.99:9000", "127.0.0.4", "virtual_ip")
    assert not (tmp_path / "state").exists()  # explain alone creates nothing
    assert main(["allocate", "3", "--user", "alice", "--config", config, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vip"] == "198.51.100.10"
    broker = ["--process", "/opt/ipc/bin/broker", "--call", "connect", "--address", "127.0.0.1:5000"]
    assert main(["--json", "explain", "--config", config, "--session", "3", *broker]) == 0
    exp = json.loads(capsys.readouterr().out)
    assert (exp["result"], exp["source"], exp["mode"]) == ("127.0.0.4:5000", "127.0.0.4", "prefer_loopback")
    assert main(["--json", "explain", "--config", config, "--session", "3", "--process", "/opt/crm/bin/crm",
                 "--call", "bind", "--address", "0.0.0.0:9000"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["result"] == "198.51.100.10:9000"  # from the lease
    assert main(["status", "--config", config]) == 0
    assert "in use      1" in capsys.readouterr().out
