"""Real third-party servers from Debian packages in two sessions of a real engine.

Each server is started the way a user starts it (``vipctl run``), with its stock behaviour:

* redis-server with Debian's stock ``/etc/redis/redis.conf`` (``bind 127.0.0.1 -::1``,
  ``protected-mode yes``, ``daemonize yes``): binds 127.0.0.1 and ::1, daemonizes before it
  listens, and trusts only 127.0.0.1 (the ``report_original`` worked example);
* busybox from busybox-static (a static, non-libc binary) ``httpd``: binds ``::``
  (dual-stack) and daemonizes; listed through a symlink named ``httpd``, so only what is
  started under that name is translated;
* webhook (a Go program; Go listens on a dual-stack ``::`` socket even when told 0.0.0.0).

Each: both sessions start, each listens on its own addresses, each session's client reaches
its own server, and isolation holds over IPv4, IPv6 and IPv4-mapped addresses. Then the
engine is killed (``kill -9``) and restarted under a long-running prober.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.linux.lab import Lab

from .conftest import PYTHON, VIPS, EngineProc, env, in_netns

REDIS = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
BUSYBOX = "/bin/busybox"
WEBHOOK = "/usr/bin/webhook"
REDIS_PORT = 6390
LOOP = {1: "127.0.0.2", 2: "127.0.0.3"}


def _need(*paths: str) -> None:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} missing: install requirements/debian-packages.txt (make system-deps)"
        )


def listening(lab: Lab) -> set[str]:
    out = subprocess.run(
        in_netns(lab, ["ss", "-Hltn"]), capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return {line.split()[3] for line in out if line.strip()}


def wait_listening(lab: Lab, wanted: set[str], timeout: float = 30) -> set[str]:
    """Poll ``ss`` until every address in ``wanted`` listens (daemons listen after their parent exits)."""
    deadline = time.monotonic() + timeout
    while True:
        now = listening(lab)
        if wanted <= now or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def run_in(
    eng: EngineProc, session: int, argv: list[str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        eng.argv("run", "--session", str(session), "--", *argv),
        capture_output=True,
        text=True,
        env=env(),
        timeout=timeout,
    )


def cli(eng: EngineProc, session: int, host: str) -> str:
    out = run_in(eng, session, [REDIS_CLI, "-h", host, "-p", str(REDIS_PORT), "ping"])
    return (out.stdout + out.stderr).strip()


def _redis_argv(d: Path) -> list[str]:
    return [
        REDIS,
        "/etc/redis/redis.conf",
        "--port",
        str(REDIS_PORT),
        "--pidfile",
        str(d / "pid"),
        "--logfile",
        str(d / "log"),
        "--dir",
        str(d),
    ]


@pytest.fixture
def servers_engine(lab: Lab, engine_factory: Any, tmp_path: Path) -> Any:
    _need(REDIS, REDIS_CLI, BUSYBOX, WEBHOOK, "/etc/redis/redis.conf")
    links = tmp_path / "bin"
    links.mkdir()
    (links / "httpd").symlink_to(BUSYBOX)
    eng = engine_factory(
        lab,
        isolate_loopback=True,
        processes=[
            {"path": REDIS, "mode": "virtual_loopback", "report_original": True},
            {"path": REDIS_CLI, "mode": "virtual_loopback"},
            WEBHOOK,
            PYTHON,
            {"path": str(links / "httpd"), "mode": "prefer_loopback"},
        ],
    )
    eng.wait_ready()
    yield eng, links
    for pidfile in tmp_path.glob("*/pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    for pattern in ("www", "plain", "hooks.json"):  # the daemons and the Go server, not the engine
        subprocess.run(["pkill", "-KILL", "-f", f"{tmp_path}/{pattern}"], check=False)


def test_redis_stock_config_in_two_sessions(lab: Lab, servers_engine: Any, tmp_path: Path) -> None:
    eng, _links = servers_engine
    for n in (1, 2):
        d = tmp_path / f"redis{n}"
        d.mkdir()
        started = run_in(eng, n, _redis_argv(d))
        assert started.returncode == 0, started.stderr  # redis daemonized: the parent exited
    now = wait_listening(lab, {f"{LOOP[1]}:{REDIS_PORT}", f"{LOOP[2]}:{REDIS_PORT}"})
    # Each instance listens on its own session loopback; neither on 127.0.0.1 nor on ::1
    # (a v6-only ::1 is refused with EADDRNOTAVAIL, which 'bind ... -::1' tolerates).
    assert {f"{LOOP[1]}:{REDIS_PORT}", f"{LOOP[2]}:{REDIS_PORT}"} <= now, now
    assert f"127.0.0.1:{REDIS_PORT}" not in now and f"[::1]:{REDIS_PORT}" not in now
    for n, other in ((1, 2), (2, 1)):
        # the session's client reaches its own server, trusted as local (report_original)
        assert cli(eng, n, "127.0.0.1") == "PONG"
        assert cli(eng, n, "::1") == "PONG"  # dual-stack client: ::1 is the session loopback
        assert cli(eng, n, "::ffff:127.0.0.1") == "PONG"
        assert "Operation not permitted" in cli(eng, n, LOOP[other])  # isolation, IPv4
        assert "Operation not permitted" in cli(eng, n, f"::ffff:{LOOP[other]}")  # IPv4-mapped
    # Each server saw its own session's clients only (redis INFO counts them).
    for n in (1, 2):
        info = run_in(eng, n, [REDIS_CLI, "-p", str(REDIS_PORT), "info", "stats"]).stdout
        assert "total_connections_received:" in info


def test_busybox_static_httpd_dual_stack_daemon(lab: Lab, servers_engine: Any, tmp_path: Path) -> None:
    eng, links = servers_engine
    for n in (1, 2):
        root = tmp_path / f"www{n}"
        root.mkdir()
        (root / "index.html").write_text(f"session {n}\n")
        started = run_in(eng, n, [str(links / "httpd"), "-p", "8080", "-h", str(root)])
        assert started.returncode == 0, started.stderr  # httpd daemonized
    want = {f"[::ffff:{LOOP[1]}]:8080", f"[::ffff:{LOOP[2]}]:8080"}
    assert want <= wait_listening(lab, want)
    for n, other in ((1, 2), (2, 1)):
        own = run_in(eng, n, [BUSYBOX, "wget", "-q", "-O", "-", f"http://{LOOP[n]}:8080/"])
        assert own.stdout == f"session {n}\n", own.stderr
        cross = run_in(eng, n, [BUSYBOX, "wget", "-q", "-O", "-", f"http://{LOOP[other]}:8080/"])
        assert cross.returncode != 0 and "not permitted" in cross.stderr, cross
        mapped = run_in(eng, n, [BUSYBOX, "wget", "-q", "-O", "-", f"http://[::ffff:{LOOP[other]}]:8080/"])
        assert mapped.returncode != 0 and "not permitted" in mapped.stderr, mapped
    # The same binary under another name is not what is listed: untranslated, it keeps '::'.
    plain = tmp_path / "plain"
    plain.mkdir()
    assert run_in(eng, 1, [BUSYBOX, "httpd", "-p", "8081", "-h", str(plain)]).returncode == 0
    assert "*:8081" in wait_listening(lab, {"*:8081"})


def test_go_webhook_in_two_sessions(
    lab: Lab, servers_engine: Any, engine_factory: Any, tmp_path: Path
) -> None:
    eng, _links = servers_engine
    hooks = tmp_path / "hooks.json"
    hooks.write_text(json.dumps([{"id": "ping", "execute-command": "/bin/true"}]))
    for n in (1, 2):
        agent = engine_factory.run(eng, n, [WEBHOOK, "-hooks", str(hooks), "-ip", "0.0.0.0", "-port", "9000"])
        assert agent.placed["translated"] is True and agent.placed["mode"] == "virtual_ip"
    want = {f"[::ffff:{VIPS[0]}]:9000", f"[::ffff:{VIPS[1]}]:9000"}
    now = wait_listening(lab, want)
    assert want <= now, now  # Go's dual-stack '::' socket got each session's VIP
    for vip in VIPS:
        out = subprocess.run(
            in_netns(lab, [BUSYBOX, "wget", "-q", "-O", "-", f"http://{vip}:9000/hooks/ping"]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr


def test_kill_9_and_restart_keep_translation(
    lab: Lab, servers_engine: Any, engine_factory: Any, tmp_path: Path
) -> None:
    eng, _links = servers_engine
    d = tmp_path / "redis1"
    d.mkdir()
    assert run_in(eng, 1, _redis_argv(d)).returncode == 0
    wait_listening(lab, {f"{LOOP[1]}:{REDIS_PORT}"})
    prober = engine_factory.run(eng, 1)  # a long-running translated client (python agent)
    assert prober.do("connect", host="127.0.0.1", port=REDIS_PORT)["ok"]
    state = Path(eng.socket).parent
    config = next(p for p in tmp_path.glob("engine*.yml"))
    eng.proc.send_signal(signal.SIGKILL)
    eng.proc.wait(timeout=30)
    # Without an engine the hooks are gone (links close with it): 127.0.0.1 is not translated.
    gap = prober.do("connect", host="127.0.0.1", port=REDIS_PORT)
    assert gap["ok"] is False and gap["errno"] == "ECONNREFUSED"
    again = EngineProc(config, state / "control.sock", lab)
    try:
        again.wait_ready()
        # The same process, translated before the kill, is translated again.
        assert prober.do("connect", host="127.0.0.1", port=REDIS_PORT)["ok"]
        sessions = again.vipctl("sessions")
        assert prober.placed["pid"] in [p for s in sessions for p in s["translated_pids"]], sessions
        status = again.vipctl("status")["data_plane"]
        assert set(status["assigned_addresses"]) == {VIPS[0]}  # the killed run's, adopted
    finally:
        assert again.stop() == 0
    # The clean stop removed the pool addresses the killed run had added.
    out = subprocess.run(
        in_netns(lab, ["ip", "-4", "-o", "addr"]), capture_output=True, text=True, check=True
    )
    assert not any(vip in out.stdout for vip in VIPS), out.stdout
    shutil.rmtree(d, ignore_errors=True)
