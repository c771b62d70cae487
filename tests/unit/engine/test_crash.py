"""kill -9 at random points: the store stays whole and keeps every committed allocation.

A forked child allocates and releases in a loop on a real store file. Before each
operation it writes its intent to a pipe, after COMMIT it writes the outcome. The parent
reads a random number of outcomes, SIGKILLs the child mid-way through the next operation,
then checks the store: integrity_check ok, nothing doubled, nothing outside the pool, and
every reported allocation still there unless it was reported released (or its session's
operation was the one in flight). Counts: SESSIONNET_VIP_KILLS (100); bench/engine_soak.py
runs 1,000.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore

from .conftest import env_int

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
