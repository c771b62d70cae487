"""Lease throughput through the control socket, with the kernel data plane and names on: what a
logon storm costs the engine.

An engine (the Linux agent: lease store, cgroups, BPF map, per-session hosts file, address
assignment) runs in a scratch network namespace; a client sends ``allocate`` + ``release`` for
``--sessions`` sessions over one connection, then the same with ``--clients`` connections in
parallel. The engine runs three times, with the lease store at each SQLite sync level, so every
figure has its baselines from the same run:

* ``NORMAL`` (the store's level: survives a crash of the engine, see docs/engine.md),
* ``FULL`` (the level before: one fdatasync per operation; also survives a power cut),
* ``OFF`` (no sync at all; it still checkpoints inside commits, the serving engine does not).

At each level it measures ``allocate`` + ``release`` (the session's cgroups wait for its first
process) and ``logon`` + ``logoff`` (they are made at once: what every allocate cost before).

Goal: at least 5,000 allocate+release per second through the socket at NORMAL.

Needs root (cgroups, BPF). ``PYTHONPATH=src python bench/lease_socket_bench.py [--sessions 2000]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from sessionnet_vip.engine.linux import DataPlane
from sessionnet_vip.engine.linux.lab import Lab
from sessionnet_vip.engine.protocol import decode_reply, encode

SRC = Path(__file__).resolve().parents[1] / "src"
LEVELS = ("NORMAL", "FULL", "OFF")


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


def measure(path: Path, sessions: int, clients: int, pair: tuple[str, str]) -> tuple[float, float]:
    """(ops/s with one connection, ops/s with ``clients`` connections)."""
    cycles(path, 10, 50, pair)  # warm-up: cgroups, map, store pages
    start = time.perf_counter()
    cycles(path, 1000, sessions, pair)
    one = 2 * sessions / (time.perf_counter() - start)
    per = max(sessions // clients, 1)
    threads = [
        threading.Thread(target=cycles, args=(path, 100_000 + i * per, per, pair)) for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    many = 2 * per * clients / (time.perf_counter() - start)
    return one, many


def run_level(
    lab: Lab, level: str, sessions: int, clients: int
) -> dict[tuple[str, str], tuple[float, float]] | None:
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
                    "data_plane": {"enabled": True, "names": True, "root_name": f"snv-lease-{os.getpid()}"},
                }
            )
        )
        env = dict(os.environ, PYTHONPATH=str(SRC))
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
                return None
            plane = next((x.strip() for x in lines if x.startswith("data plane:")), "data plane: ?")
            print(f"  {level}: {plane}", flush=True)
            return {pair: measure(sock, sessions, clients, pair) for pair in PAIRS}
        finally:
            child.terminate()
            child.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "LEVEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(*args.serve)
    if os.geteuid() != 0:
        print("lease_socket_bench: needs root (cgroups, BPF)", file=sys.stderr)
        return 2
    probe = DataPlane.probe()
    if not probe.ok:
        print(f"lease_socket_bench: kernel data plane unavailable: {probe.reason}", file=sys.stderr)
        return 2
    results: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    with Lab(name=f"snv-lease-{os.getpid()}") as lab:
        for level in LEVELS:
            got = run_level(lab, level, args.sessions, args.clients)
            if got is not None:
                results[level] = got
    print(
        f"through the control socket, data plane and names on, {args.sessions} sessions "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    for level, by_pair in results.items():
        for pair, (one, many) in by_pair.items():
            print(
                f"  synchronous={level:<6} {'+'.join(pair):<15} 1 connection {one:8.0f} ops/s"
                f"   {args.clients} connections {many:8.0f} ops/s"
            )
    lease, eager = PAIRS
    if "NORMAL" in results:
        normal = results["NORMAL"]
        print(
            f"  allocate / logon (cgroups made at once, as before) at NORMAL: x{normal[lease][0] / normal[eager][0]:.2f}"
        )
        if "FULL" in results:
            print(f"  NORMAL / FULL (allocate): x{normal[lease][0] / results['FULL'][lease][0]:.2f}")
        if "OFF" in results:
            print(f"  NORMAL / OFF (allocate, no sync): x{normal[lease][0] / results['OFF'][lease][0]:.2f}")
        print(
            f"  goal >= 5000 allocate+release ops/s at NORMAL: {'met' if normal[lease][0] >= 5000 else 'not met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
