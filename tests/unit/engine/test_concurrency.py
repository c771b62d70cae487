"""Several processes hammer one store file: no address is ever leased twice.

Counts: SESSIONNET_VIP_HAMMER_PROCS (4) x SESSIONNET_VIP_HAMMER_OPS (2,500);
bench/engine_soak.py runs 4 x 10,000.
"""

from __future__ import annotations

import json
import multiprocessing
import random
from pathlib import Path

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore

from .conftest import env_int

PROCS = env_int("SESSIONNET_VIP_HAMMER_PROCS", 4)
OPS = env_int("SESSIONNET_VIP_HAMMER_OPS", 2500)
POOL = ["198.51.100.10-198.51.100.41", "198.51.100.64/27"]  # 32 + 30 addresses
SESSIONS_PER_WORKER = 25  # 4 x 25 = 100 sessions for 62 addresses: exhaustion happens too
SHARED = range(900, 905)  # sessions every worker allocates/releases (idempotency races)


def worker(index: int, path: str, ops: int, out: str) -> None:
    pool = Pool.parse(POOL)
    rng = random.Random(1000 + index)
    own = [index * 100 + i + 1 for i in range(SESSIONS_PER_WORKER)]
    model: dict[int, str | None] = {}
    log: list[list[object]] = []
    with LeaseStore.open(path) as store:
        alloc = Allocator(store, pool, hold_seconds=rng.choice([0, 0.01]), boot_id="hammer")
        for _ in range(ops):
            if rng.random() < 0.1:
                sid = rng.choice(SHARED)
                if rng.random() < 0.6:
                    res = alloc.allocate(sid, "shared")
                    log.append(["A*", sid, None if res.vip is None else str(res.vip)])
                else:
                    alloc.release(sid)
                continue
            sid = rng.choice(own)
            user = f"user{sid % 7}"
            if rng.random() < 0.6:
                res = alloc.allocate(sid, user)
                got = None if res.vip is None else str(res.vip)
                if model.get(sid) is not None:
                    assert got == model[sid], (sid, got, model[sid])  # idempotent under contention
                model[sid] = got
                log.append(["A", sid, got])
            else:
                res = alloc.release(sid)
                assert (res.address is not None) == (model.get(sid) is not None), (sid, res, model.get(sid))
                if res.address is not None:
                    assert str(res.address) == model[sid]
                model.pop(sid, None)
                log.append(["R", sid, None if res.address is None else str(res.address)])
    final = {str(sid): model.get(sid) for sid in own}
    Path(out).write_text(json.dumps({"model": final, "ops": len(log)}))


def test_processes_hammering_one_store(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    LeaseStore.open(path).close()
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"out{i}.json" for i in range(PROCS)]
    procs = [ctx.Process(target=worker, args=(i, str(path), OPS, str(outs[i]))) for i in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0] * PROCS

    pool = Pool.parse(POOL)
    with LeaseStore.open(path) as store:
        assert store.integrity_check() == ["ok"]
        rows = store.leases()
        active = [lease for lease in rows if lease.state == "active"]
    addresses = [lease.address for lease in rows]
    assert len(addresses) == len(set(addresses))  # no address twice
    sessions = [lease.session_id for lease in active]
    assert len(sessions) == len(set(sessions))  # no session twice
    assert all(lease.address in pool for lease in rows)  # never outside the pool
    # each worker's final view of its own sessions is exactly what the store holds
    store_view = {lease.session_id: str(lease.address) for lease in active}
    for out in outs:
        result = json.loads(out.read_text())
        assert result["ops"] > 0
        assert len(result["model"]) == SESSIONS_PER_WORKER
        for sid, vip in result["model"].items():
            assert store_view.get(int(sid)) == vip  # None: exhausted or released, so no lease
