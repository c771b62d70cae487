"""Fixtures for end-to-end tests of the session agent: a real ``vipctl serve`` subprocess.

The engine runs inside a scratch network namespace (``nsenter --net``: unlike ``ip netns
exec`` it keeps the host's mounts, so the cgroup v2 hierarchy stays visible), with its state
in a temporary directory and its own cgroup root name. Commands are started with
``vipctl --socket PATH run --session N -- CMD`` in the same namespace. Everything is torn
down by finalizers. Kernel tests skip, with the reason, only when the kernel or the rights
are missing.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sessionnet_vip.engine.linux.lab import Lab

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
AGENT = REPO / "tests" / "unit" / "dataplane" / "agent.py"
PYTHON = os.path.realpath(sys.executable)
VIPS = ("192.0.2.11", "192.0.2.12")
_counter = itertools.count()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SRC) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


@pytest.fixture(scope="module")
def lab(kernel_ready: None, scratch_netns: Any) -> Iterator[Lab]:
    with scratch_netns(f"snv-agent-{os.getpid()}", ipaddress.IPv4Network("192.0.2.0/24")) as scratch:
        yield scratch


def in_netns(lab: Lab | None, argv: list[str]) -> list[str]:
    return argv if lab is None else ["nsenter", f"--net=/run/netns/{lab.name}", *argv]


class EngineProc:
    """A ``vipctl serve`` subprocess; ``ready`` once it logged that it serves."""

    def __init__(self, config: Path, socket: Path, lab: Lab | None) -> None:
        self.socket = socket
        self.lab = lab
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            in_netns(lab, [sys.executable, "-m", "sessionnet_vip", "serve", "--config", str(config)]),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env(),
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "engine serving on" in line:
                self.ready.set()
        self.ready.set()  # exited: wake the waiter, which then sees the exit

    def wait_ready(self) -> None:
        assert self.ready.wait(30), "engine did not start within 30 s:\n" + "".join(self.lines)
        if self.proc.poll() is not None:
            self.proc.wait()
            raise AssertionError(f"engine exited with {self.proc.returncode}:\n" + "".join(self.lines))

    def argv(self, *args: str) -> list[str]:
        """``vipctl --socket SOCKET ARGS...`` aimed at this engine, inside its namespace."""
        return in_netns(
            self.lab, [sys.executable, "-m", "sessionnet_vip", "--socket", str(self.socket), *args]
        )

    def vipctl(self, *args: str) -> Any:
        out = subprocess.run(
            self.argv(*args, "--json"),
            capture_output=True,
            text=True,
            env=env(),
            check=True,
            timeout=60,
        )
        return json.loads(out.stdout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=30)


class Agent:
    """tests/unit/dataplane/agent.py started by ``vipctl run``; ``placed`` is the engine's answer."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.placed: dict[str, Any] = {}
        self.notes: list[str] = []
        assert proc.stderr is not None
        while True:
            ready, _, _ = select.select([proc.stderr], [], [], 30)
            assert ready, "vipctl run did not report within 30 s"
            line = proc.stderr.readline()
            assert line, f"vipctl run exited: {proc.wait()} {self.notes}"
            if line.startswith("{"):
                self.placed = json.loads(line)
                break
            self.notes.append(line.strip())

    def do(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready, f"agent did not answer {op} within 30 s"
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def stop(self) -> int:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()  # the agent exits at EOF; vipctl run returns its status
        return self.proc.wait(timeout=30)


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Any]:
    """``start(lab, **config)`` -> a ready :class:`EngineProc`; stopped at teardown."""
    started: list[EngineProc] = []
    agents: list[Agent] = []

    def start(lab: Lab | None, **overrides: Any) -> EngineProc:
        n = next(_counter)
        state = tmp_path / f"state{n}"
        config: dict[str, Any] = {
            "pool": [f"{VIPS[0]}-{VIPS[1]}"],
            "state_dir": str(state),
            "control_socket": str(state / "control.sock"),
            "processes": [PYTHON],
            "hold_seconds": 0,
            "session_provider": "engine",
        }
        data_plane = {"root_name": f"sessionnet-e2e-{os.getpid()}-{n}", **overrides.pop("data_plane", {})}
        config.update(overrides)
        config["data_plane"] = data_plane
        path = tmp_path / f"engine{n}.yml"
        path.write_text(yaml.safe_dump(config))
        eng = EngineProc(path, state / "control.sock", lab)
        started.append(eng)
        return eng

    def run(eng: EngineProc, session: int, argv: list[str] | None = None) -> Agent:
        proc = subprocess.Popen(
            eng.argv("run", "--session", str(session), "--json", "--", *(argv or [PYTHON, str(AGENT)])),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        agent = Agent(proc)
        agents.append(agent)
        return agent

    start.run = run  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for agent in agents:
            if agent.proc.stdin is not None and not agent.proc.stdin.closed:
                agent.proc.stdin.close()  # EOF: the agent (vipctl run's child) exits
            try:
                agent.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.proc.kill()
                agent.proc.wait()
            for stream in (agent.proc.stdout, agent.proc.stderr):
                if stream is not None:
                    stream.close()
        for eng in started:
            eng.stop()
