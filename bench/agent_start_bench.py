"""Agent start-up with many live leases: data plane on against data plane off, same run.

Run as root from the repository root::

    PYTHONPATH=src python bench/agent_start_bench.py [--sessions 65536] [--rounds 3]

A lease store with ``--sessions`` active leases (sessions 1..N, a pool of N+ addresses in
198.18.0.0/15, RFC 2544's benchmarking range) is written once. Then, in a scratch network namespace whose interface holds
that subnet, the agent engine is opened and started (``start_agent``: probe, BPF object
load, pool addresses assigned, sessions restored), timed, and stopped — alternately with:

* ``off``:              ``data_plane.enabled: false`` (allocator only: the baseline);
* ``on``:               data plane, name lookups on, ``assign_addresses: false``;
* ``on+assign``:        the same, also putting all N pool addresses on the interface.

Printed: median start time per variant and the ratio to ``off``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: RFC 2544's benchmarking range (198.18.0.0/15) holds a pool of 65,536+ addresses.
SUBNET, FIRST, LAST = "198.18.0.0/15", "198.18.0.1", "198.19.255.254"


def inner(state: str, variant: str, root_name: str) -> None:
    """In the namespace: open + start the agent once, print the seconds it took."""
    from sessionnet_vip.engine.agent import AgentEngine
    from sessionnet_vip.engine.config import parse_config

    data_plane: dict[str, object] = {"root_name": root_name, "names": True}
    if variant == "off":
        data_plane["enabled"] = False
    else:
        data_plane["enabled"] = True
        data_plane["assign_addresses"] = variant == "on+assign"
    config = parse_config(
        {
            "pool": [f"{FIRST}-{LAST}"],
            "state_dir": state,
            "control_socket": f"{state}/control.sock",
            "processes": ["/usr/bin/redis-server"],
            "session_provider": "engine",
            "data_plane": data_plane,
        },
        platform="linux",
    )
    start = time.perf_counter()
    engine = AgentEngine.open_agent(config)
    engine.start_agent(watch=False)
    elapsed = time.perf_counter() - start
    known = len(engine.known)
    assigned = len(engine.assigned)
    engine.stop_agent()
    engine.close()
    print(json.dumps({"seconds": elapsed, "known": known, "assigned": assigned}))


def fill(state: Path, sessions: int) -> None:
    sys.path.insert(0, str(SRC))
    from sessionnet_vip.engine.allocator import Allocator
    from sessionnet_vip.engine.pool import Pool
    from sessionnet_vip.engine.store import LeaseStore, read_boot_id

    state.mkdir()
    with LeaseStore.open(state / "leases.sqlite3", durable=False) as store:
        alloc = Allocator(store, Pool.parse([f"{FIRST}-{LAST}"]), 300, boot_id=read_boot_id())
        for sid in range(1, sessions + 1):
            alloc.allocate(sid, f"user{sid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=65536)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants",
        default="off,on",
        help="comma-separated: off, on, on+assign (assigning N /32 addresses to one interface is "
        "quadratic in the kernel: minutes at 65,536; measure it with a smaller --sessions)",
    )
    parser.add_argument("--inner", nargs=3, metavar=("STATE", "VARIANT", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(*args.inner)
        return 0
    if os.geteuid() != 0:
        print("agent_start_bench: needs root", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONPATH=str(SRC))
    netns = f"snv-start-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        for cmd in (
            ["link", "set", "lo", "up"],
            ["link", "add", "snvb0", "type", "veth", "peer", "name", "snvb1"],
            ["addr", "add", f"{SUBNET.split('/')[0]}/15", "dev", "snvb0"],
            ["link", "set", "snvb0", "up"],
        ):
            subprocess.run(["ip", "-n", netns, *cmd], check=True)
        return _measure(args, env, netns)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def _measure(args: argparse.Namespace, env: dict[str, str], netns: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        t0 = time.perf_counter()
        fill(state, args.sessions)
        print(f"lease store with {args.sessions} active leases written in {time.perf_counter() - t0:.1f} s")
        variants = tuple(args.variants.split(","))
        times: dict[str, list[float]] = {v: [] for v in variants}
        details: dict[str, dict[str, int]] = {}
        for round_ in range(args.rounds):
            for variant in variants[round_ % len(variants) :] + variants[: round_ % len(variants)]:
                out = subprocess.run(
                    [
                        "nsenter",
                        f"--net=/run/netns/{netns}",
                        sys.executable,
                        __file__,
                        "--inner",
                        str(state),
                        variant,
                        f"snv-start-{os.getpid()}",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                result = json.loads(out.stdout.strip().splitlines()[-1])
                times[variant].append(result["seconds"])
                details[variant] = {"known": result["known"], "assigned": result["assigned"]}
    base = statistics.median(times["off"])
    print(f"agent start with {args.sessions} live leases, {args.rounds} rounds (median, ratio to off):")
    for variant in variants:
        value = statistics.median(times[variant])
        print(
            f"  {variant:<10} {value * 1000:9.1f} ms  ratio {value / base:6.2f}  "
            f"sessions known {details[variant]['known']}, addresses assigned {details[variant]['assigned']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
