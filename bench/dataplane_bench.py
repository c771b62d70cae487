"""Benchmark of the Linux data plane: socket calls with and without the hooks, session costs.

Run as root from the repository root::

    PYTHONPATH=src python bench/dataplane_bench.py [--seconds 1.0]

Everything happens in a scratch network namespace and a private cgroup, removed at the end.
Three workers run the same loops in the same run:

* ``baseline``   outside the data plane's cgroup: no program runs;
* ``untranslated`` in a session but not listed: programs run, find the session, change nothing;
* ``translated`` listed: programs run and rewrite (bind, connect + source bind, sendto), on
  IPv4 sockets and on dual-stack IPv6 sockets (``::1``, ``::ffff:127.0.0.1``).

Figures are medians of operations per second over rounds (the first worker rotates), the
ratio to ``baseline`` and the spread ((max - min) / median, the run-to-run noise); then session setup and
teardown times (map entry + two cgroups) and the launcher's spawn time against plain Popen.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from sessionnet_vip.engine.linux import Assigner, DataPlane
from sessionnet_vip.engine.linux.lab import Lab

WORKER = r"""
import json, socket, struct, sys, time
seconds = float(sys.argv[1])

def rate(step):
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            step()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)

def bind_step():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.close()

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(512)
target = ("127.0.0.1", listener.getsockname()[1])
linger = struct.pack("ii", 1, 0)

def connect_step():
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)  # RST: no TIME_WAIT pile-up
    c.connect(target)
    a, _ = listener.accept()
    a.close()
    c.close()

sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
sink.setblocking(False)
udp_target = ("127.0.0.1", sink.getsockname()[1])
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 32

def sendto_step():
    sender.sendto(payload, udp_target)
    try:
        sink.recv(64)
    except BlockingIOError:
        pass

# IPv6 sockets (dual-stack, the Linux default): "::1" and "::ffff:127.0.0.1" are the loopback
# (rules B5/C4: translated they become the session loopback, IPv4-mapped).
def bind6_step():
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    s.close()

listener6 = socket.socket(socket.AF_INET6)
listener6.bind(("::1", 0))
listener6.listen(512)
target6 = ("::1", listener6.getsockname()[1])

def connect6_step():
    c = socket.socket(socket.AF_INET6)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    c.connect(target6)
    a, _ = listener6.accept()
    a.close()
    c.close()

sink6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
sink6.bind(("::ffff:127.0.0.1", 0))
sink6.setblocking(False)
udp_target6 = ("::ffff:127.0.0.1", sink6.getsockname()[1])
sender6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)

def sendto6_step():
    sender6.sendto(payload, udp_target6)
    try:
        sink6.recv(64)
    except BlockingIOError:
        pass

print(json.dumps({
    "where": listener.getsockname()[0],
    "where6": listener6.getsockname()[0],
    "bind": rate(bind_step),
    "connect+accept": rate(connect_step),
    "sendto": rate(sendto_step),
    "bind6": rate(bind6_step),
    "connect6+accept": rate(connect6_step),
    "sendto6": rate(sendto6_step),
}))
"""


def run_worker(plane: DataPlane, lab: Lab, mode: str, seconds: float) -> dict[str, float]:
    argv = lab.wrap([sys.executable, "-c", WORKER, str(seconds)])
    if mode == "baseline":
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    else:
        proc = plane.spawn(1, argv, translated=mode == "translated", stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} worker failed")
    result: dict[str, float] = json.loads(out)
    return result


def session_costs(plane: DataPlane, count: int) -> tuple[float, float]:
    adds, removes = [], []
    for n in range(100, 100 + count):
        start = time.perf_counter()
        plane.add_session(n, "192.0.2.11")
        adds.append(time.perf_counter() - start)
    for n in range(100, 100 + count):
        start = time.perf_counter()
        plane.remove_session(n)
        removes.append(time.perf_counter() - start)
    return statistics.median(adds) * 1e6, statistics.median(removes) * 1e6


def spawn_costs(plane: DataPlane, count: int) -> tuple[float, float]:
    plain, launched = [], []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run(["true"], check=True)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        plane.spawn(1, ["true"]).wait()
        launched.append(time.perf_counter() - start)
    plane.prune()
    return statistics.median(plain) * 1e3, statistics.median(launched) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.6, help="time per loop and worker")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per worker")
    parser.add_argument("--sessions", type=int, default=200, help="sessions for setup/teardown timing")
    args = parser.parse_args()
    probe = DataPlane.probe()
    if os.geteuid() != 0 or not probe.ok:
        print(f"cannot benchmark: {'not root' if os.geteuid() != 0 else probe.reason}", file=sys.stderr)
        return 2
    with Lab(name=f"snv-bench-{os.getpid()}") as lab:
        Assigner(netns=lab.name).assign(["192.0.2.11"])
        plane = DataPlane(root_name=f"sessionnet-bench-{os.getpid()}")
        plane.load()
        try:
            plane.add_session(1, "192.0.2.11")
            modes = ("baseline", "untranslated", "translated")
            results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
            run_worker(plane, lab, "baseline", min(args.seconds, 0.3))  # warm-up, discarded
            for round_ in range(args.rounds):
                order = modes[round_ % 3 :] + modes[: round_ % 3]  # rotate who runs first
                for mode in order:
                    results[mode].append(run_worker(plane, lab, mode, args.seconds))
            print(f"kernel {os.uname().release}, {args.rounds} rounds x {args.seconds}s per loop")
            print(f"{'operation':<16}{'mode':<14}{'ops/s':>12}{'ratio':>8}{'spread':>8}  bound to")
            for op in ("bind", "connect+accept", "sendto", "bind6", "connect6+accept", "sendto6"):
                base = statistics.median(r[op] for r in results["baseline"])
                for mode in modes:
                    values = [r[op] for r in results[mode]]
                    value = statistics.median(values)
                    spread = (max(values) - min(values)) / value  # run-to-run noise
                    where = results[mode][0]["where6" if "6" in op else "where"]
                    print(f"{op:<16}{mode:<14}{value:>12,.0f}{value / base:>8.3f}{spread:>8.2f}  {where}")
            add_us, remove_us = session_costs(plane, args.sessions)
            print(f"session setup (map entry + 2 cgroups), median: {add_us:,.0f} us")
            print(f"session teardown, median: {remove_us:,.0f} us")
            plain_ms, launched_ms = spawn_costs(plane, 20)
            print(f"spawn 'true': plain Popen {plain_ms:.1f} ms, through the launcher {launched_ms:.1f} ms")
        finally:
            plane.close(kill=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
