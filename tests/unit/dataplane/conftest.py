"""Fixtures for real-kernel data-plane tests: a scratch netns, a loaded data plane, agents.

Everything created here is torn down by finalizers, also when a test fails. Tests skip (with
the reason) only when the kernel or the rights are missing: not root, no cgroup v2, bpf()
refused, or ``ip netns`` unavailable.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.linux import Assigner, DataPlane, SessionOptions
from sessionnet_vip.engine.linux.lab import Lab

AGENT = Path(__file__).with_name("agent.py")
VIPS = (ipaddress.IPv4Address("192.0.2.11"), ipaddress.IPv4Address("192.0.2.12"))
_counter = itertools.count()


@pytest.fixture(scope="module")
def lab(kernel_ready: None, scratch_netns: Any) -> Iterator[Lab]:
    with scratch_netns(f"snv-test-{os.getpid()}") as scratch:
        Assigner(netns=scratch.name).assign(VIPS)
        yield scratch


@pytest.fixture
def plane(kernel_ready: None) -> Iterator[DataPlane]:
    dp = DataPlane(root_name=f"sessionnet-test-{os.getpid()}-{next(_counter)}")
    dp.load()
    try:
        yield dp
    finally:
        dp.close(kill=True)


class Agent:
    """A socket agent process (tests/unit/dataplane/agent.py) driven line by line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def do(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready:
            raise AssertionError(f"agent {self.pid} did not answer {op} within 30s")
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"agent {self.pid} exited during {op}: {err}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def agents(lab: Lab, plane: DataPlane) -> Iterator[Any]:
    started: list[Agent] = []

    def start(session_id: int | None, *, translated: bool = True) -> Agent:
        argv = lab.wrap([sys.executable, str(AGENT)])
        pipes: dict[str, Any] = {
            "stdin": subprocess.PIPE,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
            "text": True,
        }
        if session_id is None:
            proc: subprocess.Popen[str] = subprocess.Popen(argv, **pipes)
        else:
            proc = plane.spawn(session_id, argv, translated=translated, **pipes)
        agent = Agent(proc)
        started.append(agent)
        return agent

    try:
        yield start
    finally:
        for agent in started:
            agent.stop()


def two_sessions(plane: DataPlane, **options: Any) -> None:
    """Sessions 1 and 2 with the lab's VIPs (loopbacks 127.0.0.2 and 127.0.0.3)."""
    plane.add_session(1, VIPS[0], options=SessionOptions(**options))
    plane.add_session(2, VIPS[1], options=SessionOptions(**options))
