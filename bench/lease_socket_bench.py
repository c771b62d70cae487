"""Lease throughput through the control socket, with the kernel data plane and names on: what a
logon storm costs the engine.

An engine (the Linux agent: lease store, cgroups, BPF map, per-session hosts file, address
assignment) runs in a scratch network namespace; a client sends ``allocate`` + ``release`` for
``--sessions`` sessions over one connection, then the same with ``--clients`` connections in
parallel, one client process each. The engine runs three times, with the lease store at each SQLite sync level, so every
figure has its baselines from the same run:

* ``NORMAL`` (the store's level: survives a crash of the engine, see docs/engine.md),
* ``FULL`` (the level before: one fdatasync per operation; also survives a power cut),
* ``OFF`` (no sync at all; it still checkpoints inside commits, the serving engine does not).

At each level it measures ``allocate`` + ``release`` (the session's cgroups wait for its first
process) and ``logon`` + ``logoff`` (they are made at once: what every allocate cost before).

Next to each figure it prints the engine's CPU time per request. With ``--before-src DIR`` (the
``src/`` of an earlier checkout, its eBPF object built) the engine of that code runs too, at
NORMAL, as the figure before a change, and then both engines run at once, each client asking
them in turn, so that both see the same load (on a busy machine the configurations measured one
after the other do not); ``--rounds N`` measures every configuration N times, interleaved, and
prints medians and ranges.

Goal: at least 5,000 allocate+release per second through the socket at NORMAL with
``--clients`` concurrent client processes (a logon storm: many sessions ask at once). The
one-connection figure, where each request waits for the reply to the previous one, is the round
trip's latency and is printed beside it.

Needs root (cgroups, BPF). ``PYTHONPATH=src python bench/lease_socket_bench.py [--sessions 2000]
[--rounds 3] [--before-src /path/to/old/src]``
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sessionnet_vip.engine.linux import DataPlane
from sessionnet_vip.engine.linux.lab import Lab
from sessionnet_vip.engine.protocol import decode_reply, encode

SRC = Path(__file__).resolve().parents[1] / "src"
LEVELS = ("NORMAL", "FULL", "OFF")
#: The label of the ``--before-src`` engine's figures.
BEFORE = "before"
GOAL = 5000


def serve(config_path: str, level: str) -> int:
    """Child: the agent engine with its lease store at ``level`` (inside the namespace)."""
    import logging

    from sessionnet_vip.engine.agent import AgentEngine
    from sessionnet_vip.engine.config import load_config
    from sessionnet_vip.engine.server import Service

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(config_path)
    engine = AgentEngine.open_agent(config, synchronous=level)
    try:
        engine.start_agent()
        print(f"data plane: {engine.plane is not None} ({engine.plane_reason})", file=sys.stderr, flush=True)
        return Service(engine, config.control_socket).run()
    finally:
        engine.stop_agent()
        engine.close()


class Client:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def ask(self, req: dict[str, object]) -> dict[str, object]:
        self.sock.sendall(encode(req))
        reply = decode_reply(self.reader.readline(), "bench")
        if not reply.get("ok"):
            raise RuntimeError(f"engine refused {req}: {reply}")
        return reply

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


#: The request pairs measured: the lease ops (a session's cgroups, map entry and hosts file are
#: made when its first process is placed), and logon/logoff, whose reply hands out the session's
#: cgroup and so makes it at once (what every allocate cost before).
PAIRS = (("allocate", "release"), ("logon", "logoff"))


def cycles(path: Path, first: int, count: int, pair: tuple[str, str] = PAIRS[0]) -> None:
    client = Client(path)
    try:
        for sid in range(first, first + count):
            client.ask({"op": pair[0], "session": sid, "user": f"u{sid}"})
            client.ask({"op": pair[1], "session": sid})
    finally:
        client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (``/proc/PID/stat``, proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: One measurement: ops/s and the engine's CPU microseconds per operation, on one connection
#: and on ``--clients`` connections.
Figures = tuple[float, float, float, float]


def measure(path: Path, sessions: int, clients: int, pair: tuple[str, str], engine_pid: int) -> Figures:
    """(ops/s on one connection, ops/s on ``clients`` connections, engine CPU us/op on each)."""
    cycles(path, 10, 50, pair)  # warm-up: cgroups, map, store pages
    cpu = cpu_seconds(engine_pid)
    start = time.perf_counter()
    cycles(path, 1000, sessions, pair)
    one = 2 * sessions / (time.perf_counter() - start)
    cpu_one = (cpu_seconds(engine_pid) - cpu) / (2 * sessions) * 1e6
    per = max(sessions // clients, 1)
    # one process per connection, as logons come from separate processes (threads of one
    # Python process would share its interpreter lock and measure the client instead)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    procs = [
        ctx.Process(target=_client_process, args=(path, 100_000 + i * per, per, pair, barrier))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait()  # every client connected: go
    cpu = cpu_seconds(engine_pid)
    start = time.perf_counter()
    for p in procs:
        p.join()
    many = 2 * per * clients / (time.perf_counter() - start)
    cpu_many = (cpu_seconds(engine_pid) - cpu) / (2 * per * clients) * 1e6
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} client process(es) failed (exit codes {failed})")
    return one, many, cpu_one, cpu_many


def _client_process(path: Path, first: int, count: int, pair: tuple[str, str], barrier: Any) -> None:
    """A client process of :func:`measure`: connect, wait for the others, then run its cycles."""
    client = Client(path)
    try:
        barrier.wait()
        for sid in range(first, first + count):
            client.ask({"op": pair[0], "session": sid, "user": f"u{sid}"})
            client.ask({"op": pair[1], "session": sid})
    finally:
        client.close()


@contextlib.contextmanager
def engine_running(lab: Lab, level: str, src: Path = SRC, tag: str = "") -> Iterator[tuple[Path, int] | None]:
    """The engine of the package in ``src``, its store at ``level``, serving in the lab's
    namespace: ``(control socket, pid)``, or ``None`` when it did not start."""
    with tempfile.TemporaryDirectory(prefix="vip-lease-bench-") as tmp:
        d = Path(tmp)
        sock = d / "ctl.sock"
        cfg = d / "engine.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "pool": ["192.0.2.10-192.0.2.250"],
                    "subnet": str(lab.subnet),
                    "state_dir": str(d / "state"),
                    "control_socket": str(sock),
                    "hold_seconds": 0,
                    "session_provider": "engine",
                    "data_plane": {
                        "enabled": True,
                        "names": True,
                        "root_name": f"snv-lease-{os.getpid()}{tag}",
                    },
                }
            )
        )
        env = dict(os.environ, PYTHONPATH=str(src))
        child = subprocess.Popen(
            # nsenter, not "ip netns exec": that one remounts /sys and hides the cgroup2 mount
            ["nsenter", f"--net=/run/netns/{lab.name}", sys.executable, __file__, "--serve", str(cfg), level],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        lines: list[str] = []

        def drain() -> None:
            assert child.stderr is not None
            for line in child.stderr:
                lines.append(line)
                if "engine serving on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        try:
            if not ready.wait(60) or child.poll() is not None or not sock.exists():
                print(f"  {level}: engine did not start: {''.join(lines[-5:])}")
                yield None
                return
            plane = next((x.strip() for x in lines if x.startswith("data plane:")), "data plane: ?")
            print(f"  {level}{'' if src == SRC else f' ({src})'}: {plane}", flush=True)
            yield sock, child.pid
        finally:
            child.terminate()
            child.wait(timeout=60)


def run_level(
    lab: Lab, level: str, sessions: int, clients: int, src: Path = SRC
) -> dict[tuple[str, str], Figures] | None:
    """Start the engine (the package in ``src``) with its store at ``level``; measure each pair."""
    with engine_running(lab, level, src) as running:
        if running is None:
            return None
        return {pair: measure(running[0], sessions, clients, pair, running[1]) for pair in PAIRS}


def alternate(paths: tuple[Path, Path], first: int, count: int, spent: list[float]) -> None:
    """``allocate`` + ``release`` for each session on engine 0 and on engine 1 in turn (which
    goes first alternates), adding the time each engine took to ``spent``."""
    clients = (Client(paths[0]), Client(paths[1]))
    try:
        for sid in range(first, first + count):
            for which in (0, 1) if sid % 2 else (1, 0):
                start = time.perf_counter()
                clients[which].ask({"op": "allocate", "session": sid, "user": f"u{sid}"})
                clients[which].ask({"op": "release", "session": sid})
                spent[which] += time.perf_counter() - start
    finally:
        for c in clients:
            c.close()


def side_by_side(lab: Lab, before: Path, sessions: int, clients: int) -> list[str]:
    """This engine and the one in ``before``, both at NORMAL and running at once, asked in turn
    by the same client threads: both see the same load, so their ratio is what the change
    did even when the machine is busy. On one connection an engine's rate is the requests
    sent to it over the time spent waiting for it; on several (where waits overlap) only the
    engines' CPU per request is compared."""
    with engine_running(lab, "NORMAL", SRC, "-a") as now, engine_running(lab, "NORMAL", before, "-b") as old:
        if now is None or old is None:
            return []
        paths = (now[0], old[0])
        alternate(paths, 10, 50, [0.0, 0.0])  # warm-up
        out = [
            "  side by side, both at synchronous=NORMAL, allocate+release (each client asks both in turn):"
        ]
        for n in (1, clients):
            per = max(sessions // n, 1)
            spent = [[0.0, 0.0] for _ in range(n)]
            cpu = [cpu_seconds(now[1]), cpu_seconds(old[1])]
            threads = [
                threading.Thread(target=alternate, args=(paths, 200_000 * (n + 1) + i * per, per, spent[i]))
                for i in range(n)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            used = [cpu_seconds(now[1]) - cpu[0], cpu_seconds(old[1]) - cpu[1]]
            rate = [2 * per * n / (sum(x[which] for x in spent) / n) for which in (0, 1)]
            us = [used[which] / (2 * per * n) * 1e6 for which in (0, 1)]
            if n == 1:
                out.append(
                    f"    1 connection: this engine {rate[0]:6.0f} ops/s {us[0]:4.0f} us/op, before "
                    f"{rate[1]:6.0f} ops/s {us[1]:4.0f} us/op: x{rate[0] / rate[1]:.2f} the rate, "
                    f"x{us[1] / us[0]:.2f} less engine CPU"
                )
            else:  # the time a client waits is no rate of its own when several wait at once
                out.append(
                    f"    {n} connections: engine CPU this engine {us[0]:4.0f} us/op, before "
                    f"{us[1]:4.0f} us/op: x{us[1] / us[0]:.2f} less"
                )
        return out


def spread(values: list[float], unit: str = "ops/s") -> str:
    """The median of a figure over the rounds, with its range when there are several."""
    mid = statistics.median(values)
    if len(values) == 1:
        return f"{mid:6.0f} {unit}"
    return f"{mid:6.0f} {unit} ({min(values):.0f}-{max(values):.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every configuration this many times, interleaved (medians and ranges are printed)",
    )
    parser.add_argument(
        "--before-src",
        type=Path,
        help="also measure at NORMAL the engine of this src/ directory (an earlier checkout, with its "
        "eBPF object built): the code before a change, in the same run",
    )
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "LEVEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(*args.serve)
    if os.geteuid() != 0:
        print("lease_socket_bench: needs root (cgroups, BPF)", file=sys.stderr)
        return 2
    if args.before_src is not None and not (args.before_src / "sessionnet_vip").is_dir():
        print(
            f"lease_socket_bench: --before-src {args.before_src} has no sessionnet_vip package; "
            "give the src/ directory of an earlier checkout",
            file=sys.stderr,
        )
        return 2
    probe = DataPlane.probe()
    if not probe.ok:
        print(f"lease_socket_bench: kernel data plane unavailable: {probe.reason}", file=sys.stderr)
        return 2
    configs = [(level, level, SRC) for level in LEVELS]
    if args.before_src is not None:
        configs.append((BEFORE, "NORMAL", args.before_src.resolve()))
    results: dict[str, dict[tuple[str, str], list[list[float]]]] = {}
    with Lab(name=f"snv-lease-{os.getpid()}") as lab:
        for _ in range(max(args.rounds, 1)):
            for label, level, src in configs:
                got = run_level(lab, level, args.sessions, args.clients, src)
                if got is None:
                    continue
                for pair, figures in got.items():
                    series = results.setdefault(label, {}).setdefault(pair, [[] for _ in figures])
                    for values, value in zip(series, figures, strict=True):
                        values.append(value)
        beside = (
            []
            if args.before_src is None
            else side_by_side(lab, args.before_src.resolve(), args.sessions, args.clients)
        )
    print(
        f"through the control socket, data plane and names on, {args.sessions} sessions, "
        f"{max(args.rounds, 1)} round(s) (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    if args.before_src is not None:
        print(f"  {BEFORE}: the engine of {args.before_src} at synchronous=NORMAL")
    for label, by_pair in results.items():
        for pair, (ones, manys, cpu_ones, cpu_manys) in by_pair.items():
            name = f"synchronous={label}" if label in LEVELS else label
            print(
                f"  {name:<18} {'+'.join(pair):<15} 1 connection {spread(ones)}"
                f"   {args.clients} connections {spread(manys)}"
            )
            print(
                f"  {'':<18} {'':<15} engine CPU   {spread(cpu_ones, 'us/op')}"
                f"                {spread(cpu_manys, 'us/op')}"
            )
    for line in beside:
        print(line)
    lease, eager = PAIRS

    def median(label: str, pair: tuple[str, str], which: int) -> float:
        return statistics.median(results[label][pair][which])

    if "NORMAL" in results:
        print(
            "  allocate / logon (cgroups made at once, as before) at NORMAL: "
            f"x{median('NORMAL', lease, 0) / median('NORMAL', eager, 0):.2f}"
        )
        for label, what in (("FULL", "FULL"), ("OFF", "OFF, no sync"), (BEFORE, "the code before")):
            if label in results:
                print(
                    f"  NORMAL / {what} (allocate+release): x{median('NORMAL', lease, 0) / median(label, lease, 0):.2f}"
                    f" on 1 connection, x{median('NORMAL', lease, 1) / median(label, lease, 1):.2f}"
                    f" on {args.clients}"
                )
        if BEFORE in results:
            print(
                "  engine CPU per allocate+release, the code before / NORMAL: "
                f"x{median(BEFORE, lease, 2) / median('NORMAL', lease, 2):.2f} on 1 connection, "
                f"x{median(BEFORE, lease, 3) / median('NORMAL', lease, 3):.2f} on {args.clients}"
            )
        # A logon storm is many sessions' requests at once: the throughput goal is for
        # concurrent clients. One connection (each request waits for the previous reply) is
        # a round-trip latency figure, printed beside it.
        many, one = median("NORMAL", lease, 1), median("NORMAL", lease, 0)
        print(
            f"  goal >= {GOAL} allocate+release ops/s at NORMAL with {args.clients} concurrent client "
            f"processes: {'met' if many >= GOAL else 'not met'} ({many:.0f} ops/s); one client waiting "
            f"for each reply: {one:.0f} ops/s ({1e6 / one:.0f} us per round trip)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
