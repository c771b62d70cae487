"""Engine benchmark: durable allocate+release throughput and latency, and start-up with
65,536 leases. Figures are printed for the store's level (synchronous=NORMAL: survives a crash
of the engine), with synchronous=FULL (the level before, one fdatasync per operation) and a
non-durable run (synchronous=OFF) of the same code in the same process as baselines.

    PYTHONPATH=src python bench/engine_bench.py [--cycles 2000] [--leases 65536]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.config import parse_config
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.service import Engine
from sessionnet_vip.engine.sessions import EngineSessions
from sessionnet_vip.engine.store import LeaseStore

BENCH_POOL = ["198.18.0.0/15"]  # RFC 2544 benchmarking range: 131,070 usable addresses


def cycles(path: Path, n: int, level: str) -> tuple[float, list[float], list[float]]:
    """n x (allocate + release) of fresh sessions; returns (ops/s, alloc latencies, release latencies)."""
    with LeaseStore.open(path, synchronous=level) as store:
        alloc = Allocator(store, Pool.parse(["198.51.100.0/24"]), hold_seconds=0, boot_id="bench")
        a_lat: list[float] = []
        r_lat: list[float] = []
        start = time.perf_counter()
        for i in range(n):
            sid = 1 + i % 5000
            t0 = time.perf_counter()
            alloc.allocate(sid, f"user{sid % 97}")
            t1 = time.perf_counter()
            alloc.release(sid)
            t2 = time.perf_counter()
            a_lat.append(t1 - t0)
            r_lat.append(t2 - t1)
        elapsed = time.perf_counter() - start
    return 2 * n / elapsed, a_lat, r_lat


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1e3


def populate(state: Path, leases: int, boot: str) -> None:
    with LeaseStore.open(state / "leases.sqlite3") as store:
        base = int(Pool.parse(BENCH_POOL).ranges[0].first)
        now = time.time()
        with store.transaction() as tx:
            for sid in range(leases):
                tx.activate(base + sid, sid, f"user{sid}", 1000 + sid % 5000, None, boot, now)


def start_and_reconcile(state: Path, boot: str) -> tuple[float, float, int]:
    config = parse_config(
        {"pool": BENCH_POOL, "state_dir": str(state), "control_socket": str(state / "ctl.sock")}
    )
    t0 = time.perf_counter()
    engine = Engine.open(config, provider=EngineSessions(), boot_id=boot)
    t1 = time.perf_counter()
    report = engine.reconcile()
    t2 = time.perf_counter()
    engine.close()
    return t1 - t0, t2 - t1, len(report.reclaimed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--leases", type=int, default=65536)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vip-bench-") as tmp:
        d = Path(tmp)
        ops_off, a_off, r_off = cycles(d / "off.sqlite3", args.cycles, "OFF")
        ops_full, _a_full, _r_full = cycles(d / "full.sqlite3", args.cycles, "FULL")
        ops_on, a_on, r_on = cycles(d / "on.sqlite3", args.cycles, "NORMAL")
        print(f"allocate+release, {args.cycles} cycles ({2 * args.cycles} transactions) on {tmp}")
        print(f"  store (WAL, synchronous=NORMAL):  {ops_on:9.0f} ops/s")
        print(
            f"  before (WAL, synchronous=FULL):   {ops_full:9.0f} ops/s   NORMAL/FULL x{ops_on / ops_full:.2f}"
        )
        print(
            f"  baseline (WAL, synchronous=OFF):  {ops_off:9.0f} ops/s   NORMAL/OFF  x{ops_on / ops_off:.2f}"
        )
        for name, on, off in (("allocate", a_on, a_off), ("release", r_on, r_off)):
            print(
                f"  {name:<8} latency ms  durable p50 {pct(on, 50):.3f} p99 {pct(on, 99):.3f}"
                f"  | baseline p50 {pct(off, 50):.3f} p99 {pct(off, 99):.3f}"
            )

        state = d / "state"
        state.mkdir()
        t0 = time.perf_counter()
        populate(state, args.leases, "boot-a")
        print(f"\n{args.leases} leases written in one transaction in {time.perf_counter() - t0:.2f} s")
        open_s, rec_s, reclaimed = start_and_reconcile(state, "boot-a")
        total_ms = (open_s + rec_s) * 1e3
        print(f"  start (open + quick_check) {open_s * 1e3:8.1f} ms, reconcile same boot "
              f"{rec_s * 1e3:8.1f} ms ({reclaimed} reclaimed), total {total_ms:.1f} ms")  # fmt: skip
        with LeaseStore.open(state / "leases.sqlite3") as store:
            alloc = Allocator(store, Pool.parse(BENCH_POOL), hold_seconds=0, boot_id="boot-a")
            lat = []
            for sid in range(args.leases, args.leases + 200):
                t = time.perf_counter()
                alloc.allocate(sid)
                lat.append(time.perf_counter() - t)
            print(
                f"  allocate with {args.leases}+ leases: p50 {pct(lat, 50):.3f} ms, p99 {pct(lat, 99):.3f} ms"
            )
        open_s, rec_s, reclaimed = start_and_reconcile(state, "boot-b")
        total_ms = (open_s + rec_s) * 1e3
        print(f"  start {open_s * 1e3:8.1f} ms, reconcile after reboot {rec_s * 1e3:8.1f} ms"
              f" ({reclaimed} reclaimed), total {total_ms:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
