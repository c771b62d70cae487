"""kill -9 at random points: the store stays whole and keeps every committed allocation.

Two children: the allocator on its own, and the serving engine behind its control socket
(where requests that arrive together are committed in one transaction: a client must never
get an ``ok`` for a change the kill takes back).

A forked child allocates and releases in a loop on a real store file. Before each
operation it writes its intent to a pipe, after COMMIT it writes the outcome. The parent
reads a random number of outcomes, SIGKILLs the child mid-way through the next operation,
then checks the store: integrity_check ok, nothing doubled, nothing outside the pool, and
every reported allocation still there unless it was reported released (or its session's
operation was the one in flight). Counts: SESSIONNET_VIP_KILLS (100); bench/engine_soak.py
runs 1,000.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore

from .conftest import REPO, env_int

KILLS = env_int("SESSIONNET_VIP_KILLS", 100)
POOL = ["198.51.100.10-198.51.100.29"]
SESSIONS = 30


def _child(path: Path, seed: int, w: int) -> None:  # pragma: no cover - runs in the child
    try:
        rng = random.Random(seed)
        store = LeaseStore.open(path)
        if seed % 2:  # half the children checkpoint from a thread, as the serving engine does
            store.start_checkpointer(interval=0.001)
        alloc = Allocator(store, Pool.parse(POOL), hold_seconds=rng.choice([0, 0.001, 30]), boot_id="crash")
        os.write(w, b"open\n")
        while True:
            sid = rng.randrange(1, SESSIONS + 1)
            if rng.random() < 0.6:
                os.write(w, f"a {sid}\n".encode())
                res = alloc.allocate(sid, f"u{sid % 5}")
                os.write(w, f"A {sid} {res.vip}\n".encode())
            else:
                os.write(w, f"r {sid}\n".encode())
                rel = alloc.release(sid)
                os.write(w, f"R {sid} {rel.address}\n".encode())
    finally:
        os._exit(3)


class Reader:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def line(self) -> str | None:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()


def _apply(line: str, model: dict[int, str], pending: dict[int, str]) -> None:
    kind, sid_text, *rest = line.split()
    sid = int(sid_text)
    if kind in ("a", "r"):
        pending.clear()
        pending[sid] = kind
        return
    pending.clear()
    if kind == "A":
        if rest[0] == "None":
            model.pop(sid, None)
        else:
            if sid in model:
                assert model[sid] == rest[0], (sid, model[sid], rest[0])  # idempotent across crashes
            model[sid] = rest[0]
    elif kind == "R":
        model.pop(sid, None)


def test_kill_dash_nine_at_random_points(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    pool = Pool.parse(POOL)
    rng = random.Random(20240607)
    model: dict[int, str] = {}  # what the store must hold: session -> address
    committed_total = 0
    for kill in range(KILLS):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os.close(r)
            _child(path, rng.randrange(2**32) + kill, w)
        os.close(w)
        reader = Reader(r)
        pending: dict[int, str] = {}
        target = rng.choice([0, 0, 1, 2, 5, 10, 25, 60])
        seen = 0
        while seen < target:
            line = reader.line()
            assert line is not None, "child died on its own"
            if line == "open":
                continue
            _apply(line, model, pending)
            seen += line[0] in "AR"
        for _ in range(rng.randrange(3000)):  # land the kill at a random point of the next operation
            pass
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        while (line := reader.line()) is not None:  # what the child reported before it died
            if line != "open":
                _apply(line, model, pending)
                seen += line[0] in "AR"
        os.close(r)
        committed_total += seen
        if not path.exists():  # killed before the first open created the file
            continue

        with LeaseStore.open(path) as store:
            assert store.integrity_check() == ["ok"]
            rows = store.leases()
        addresses = [lease.address for lease in rows]
        assert len(addresses) == len(set(addresses)), "an address is leased twice"
        assert all(a in pool for a in addresses)
        active = {lease.session_id: str(lease.address) for lease in rows if lease.state == "active"}
        for sid, address in model.items():
            if sid in pending:
                continue  # its operation was cut: either outcome is fine
            assert active.get(sid) == address, f"committed allocation of session {sid} lost after kill {kill}"
        for sid in set(active) - set(model) - set(pending):
            raise AssertionError(f"session {sid} holds {active[sid]} though its release was committed")
        model = dict(active)  # the store is the truth for the next round
    assert committed_total > KILLS  # the children did real work between kills


SOCKET_KILLS = env_int("SESSIONNET_VIP_SOCKET_KILLS", 8)
SOCKET_CLIENTS = 4
SOCKET_SESSIONS = 8  # per client, each its own user
SERVE = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(message)s")
from sessionnet_vip.engine.config import load_config
from sessionnet_vip.engine.server import Service
from sessionnet_vip.engine.service import Engine
config = load_config(sys.argv[1])
engine = Engine.open(config)
Service(engine, config.control_socket).run()
"""


class SocketClient:
    """One control connection sending bursts of allocate/release for its own sessions, and
    what it learnt: ``model`` (session -> address, from the replies it got) and ``pending``
    (sessions with a request sent but not answered when the engine died)."""

    def __init__(self, path: Path, sessions: list[int], model: dict[int, str], seed: int) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sessions = sessions
        self.model = {sid: model[sid] for sid in sessions if sid in model}
        self.pending: set[int] = set()
        self.rng = random.Random(seed)
        self.errors: list[str] = []
        self.answered = 0

    def run(self, answered: Callable[[], None]) -> None:
        reader = self.sock.makefile("rb")
        try:
            while True:
                burst = [
                    (self.rng.choice(self.sessions), self.rng.random() < 0.6)
                    for _ in range(self.rng.randint(1, 6))
                ]
                lines = b"".join(
                    json.dumps(
                        {"op": "allocate", "session": sid, "user": f"u{sid}"}
                        if alloc
                        else {"op": "release", "session": sid}
                    ).encode()
                    + b"\n"
                    for sid, alloc in burst
                )
                self.pending = {sid for sid, _ in burst}
                self.sock.sendall(lines)
                for i, (sid, alloc) in enumerate(burst):
                    line = reader.readline()
                    if not line:
                        return
                    reply = json.loads(line)
                    if not reply.get("ok"):
                        self.errors.append(f"{sid}: {reply}")
                        return
                    if alloc and reply["result"]["vip"] is not None:
                        self.model[sid] = reply["result"]["vip"]
                    else:
                        self.model.pop(sid, None)
                    self.pending = {s for s, _ in burst[i + 1 :]}
                    self.answered += 1
                    answered()
        except OSError:  # the engine was killed mid-send or mid-read
            return
        finally:
            reader.close()
            self.sock.close()


def test_kill_dash_nine_of_the_serving_engine(tmp_path: Path) -> None:
    """The engine behind its control socket, with several connections pipelining requests
    (answered in batches, one commit each), killed at random points: every ``ok`` a client
    received is in the store after the kill, nothing is doubled."""
    rng = random.Random(20261130)
    state = tmp_path / "state"
    sock = tmp_path / "ctl.sock"
    cfg = tmp_path / "engine.yml"
    model: dict[int, str] = {}
    answered_total = 0
    for kill in range(SOCKET_KILLS):
        cfg.write_text(
            json.dumps(
                {
                    "pool": ["198.51.100.10-198.51.100.49"],  # 40 >= the 32 sessions: never exhausted
                    "state_dir": str(state),
                    "control_socket": str(sock),
                    "hold_seconds": rng.choice([0, 30]),
                    "session_provider": "engine",
                }
            )
        )
        engine = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(cfg)],
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
        )
        try:
            assert engine.stderr is not None
            for line in engine.stderr:
                if "engine serving on" in line:
                    break
            else:
                raise AssertionError(f"engine did not start (exit {engine.wait()})")
            clients = [
                SocketClient(
                    sock,
                    [c * 100 + s for s in range(1, SOCKET_SESSIONS + 1)],
                    model,
                    rng.randrange(2**32),
                )
                for c in range(SOCKET_CLIENTS)
            ]
            target = rng.choice([0, 1, 5, 20, 60, 150])
            replies = threading.Semaphore(0)
            threads = [threading.Thread(target=c.run, args=(replies.release,)) for c in clients]
            for t in threads:
                t.start()
            for _ in range(target):
                assert replies.acquire(timeout=60), "the engine stopped answering"
            for _ in range(rng.randrange(3000)):  # land the kill at a random point of the next round
                pass
            engine.kill()
        finally:
            if engine.poll() is None:
                engine.kill()
            engine.wait()
            assert engine.stderr is not None
            engine.stderr.close()
        for t in threads:
            t.join(60)
            assert not t.is_alive()
        assert [e for c in clients for e in c.errors] == []
        with LeaseStore.open(state / "leases.sqlite3") as store:
            assert store.integrity_check() == ["ok"]
            rows = store.leases()
        addresses = [lease.address for lease in rows]
        assert len(addresses) == len(set(addresses)), "an address is leased twice"
        active = {lease.session_id: str(lease.address) for lease in rows if lease.state == "active"}
        for c in clients:
            for sid in c.sessions:
                if sid in c.pending:
                    continue  # its request was cut: either outcome is fine
                assert active.get(sid) == c.model.get(sid), (
                    f"session {sid}: the client was told {c.model.get(sid)}, the store holds "
                    f"{active.get(sid)} after kill {kill}"
                )
        answered_total += sum(c.answered for c in clients)
        model = {sid: address for sid, address in active.items() if sid is not None}
        sock.unlink(missing_ok=True)
    assert answered_total > SOCKET_KILLS  # the clients got replies between the kills
