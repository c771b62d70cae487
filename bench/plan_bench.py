"""Benchmark of the range planner (issue: static virtual-IP ranges, item 6).

Plans 10,000 servers across 2,000 subnets (one DHCP scope each: 2,000 scopes), prints time and
peak memory, and compares with a naive planner that keeps every free address in a Python set
(written here, run in the same process on a tenth of the farm and scaled up linearly, which
flatters it: its cost per subnet grows with the subnet's size). A second part shows the planner
is not quadratic: one /12 subnet, fragmented by existing assignments, with n and 2n servers.

A third part times the whole ``vipctl plan FILE`` command on the same farm written as a YAML
file (what users run: interpreter start, YAML, planner, table), with CPU time beside wall time
(this machine is shared), against baselines of the same run: ``python -c pass``, and the
YAML loading the command used before (``yaml.safe_load``, PyYAML's pure-Python loader) and
PyYAML's C loader (``CSafeLoader``) on the same file. Goal: the whole command under 1 s. Then
the part after the YAML load, step by step in process (imports, request, plan, table, ``--json``
text, the plan with the SVG maps' reports), with ``--before-src``'s figures beside them.

Run:  PYTHONPATH=src python bench/plan_bench.py [--subnets 2000] [--per-subnet 5] [--command-only]
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sessionnet_vip import yamlfile
from sessionnet_vip.addressing import parse_span
from sessionnet_vip.planning import plan_from_dict

SRC = Path(__file__).resolve().parents[1] / "src"
PYC = Path(tempfile.gettempdir()) / f"vip-plan-bench-pyc-{os.getpid()}"

BASE = int(ipaddress.IPv4Address("10.0.0.0"))


def a(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def farm(subnets: int, per_subnet: int) -> dict[str, Any]:
    """``subnets`` /22 subnets; in each a scope over its middle half and ``per_subnet`` servers."""
    data: dict[str, Any] = {"subnets": [], "dhcp_scopes": [], "servers": []}
    for k in range(subnets):
        net = BASE + k * 1024
        cidr = f"{a(net)}/22"
        data["subnets"].append(
            {"cidr": cidr, "gateway": a(net + 1), "reserved": [f"{a(net + 2)}-{a(net + 9)}"]}
        )
        data["dhcp_scopes"].append(
            {
                "scope": a(net),
                "start": a(net + 256),
                "end": a(net + 767),
                "exclusions": [{"start": a(net + 256), "end": a(net + 275)}],
                "reservations": [a(net + 300 + 7 * i) for i in range(5)],
                "leases": [a(net + 400 + 3 * i) for i in range(20)],
            }
        )
        for i in range(per_subnet):
            data["servers"].append(
                {
                    "name": f"s{k:05d}-{i}",
                    "subnet": cidr,
                    "max_sessions": 20 + (k * 7 + i * 13) % 41,
                    "headroom": 10,
                }
            )
    return data


def naive_plan(data: dict[str, Any]) -> dict[str, list[int]]:
    """First fit over a set of every free address (no carving, one range per server)."""
    free_by_subnet: dict[str, set[int]] = {}
    for subnet in data["subnets"]:
        net = ipaddress.IPv4Network(subnet["cidr"])
        free = set(range(int(net.network_address) + 1, int(net.broadcast_address)))
        free.discard(int(ipaddress.IPv4Address(subnet["gateway"])))
        for r in subnet["reserved"]:
            span = parse_span(r, "reserved")
            free -= set(range(span.first, span.last + 1))
        free_by_subnet[subnet["cidr"]] = free
    for scope in data["dhcp_scopes"]:
        first = int(ipaddress.IPv4Address(scope["start"]))
        last = int(ipaddress.IPv4Address(scope["end"]))
        for free in free_by_subnet.values():
            free -= set(range(first, last + 1))
    out: dict[str, list[int]] = {}
    for server in sorted(data["servers"], key=lambda s: s["name"]):
        need = -(-server["max_sessions"] * (100 + server["headroom"]) // 100)
        free = free_by_subnet[server["subnet"]]
        run: list[int] = []
        for addr in sorted(free):
            run = [*run, addr] if run and addr == run[-1] + 1 else [addr]
            if len(run) == need:
                break
        if len(run) < need:
            raise RuntimeError(f"naive planner: {server['name']} does not fit")
        free -= set(run)
        out[server["name"]] = run
    return out


def fragmented(n: int) -> dict[str, Any]:
    """One /12; n/2 servers already hold ranges with gaps between them; n/2 new ones to place."""
    net = int(ipaddress.IPv4Address("10.16.0.0"))
    data: dict[str, Any] = {
        "subnets": [{"cidr": "10.16.0.0/12", "gateway": a(net + 1)}],
        "servers": [],
        "existing": [],
    }
    cursor = net + 2
    for i in range(n):
        size = 10 + i % 23
        data["servers"].append({"name": f"h{i:06d}", "subnet": "10.16.0.0/12", "max_sessions": size})
        if i % 2 == 0:
            data["existing"].append(
                {
                    "server": f"h{i:06d}",
                    "subnet": "10.16.0.0/12",
                    "ranges": [{"start": a(cursor), "end": a(cursor + size - 1)}],
                }
            )
            cursor += size + 1 + i % 37  # gaps of different sizes
    return data


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_bytes(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def run_child(argv: list[str], repeat: int, src: Path = SRC) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of ``argv`` run ``repeat`` times."""
    env = dict(os.environ, PYTHONPATH=str(src))
    # as installed (pip compiles on install): bytecode cached, in a scratch directory
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYC)
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def cpu_timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


# Run in a child process with PYTHONPATH=<src> (two versions of the package cannot share one
# process): CPU time of the imports `vipctl plan` needs, then of each step after the YAML load,
# fastest of N with the cyclic collector off (as the command runs them). Prints one JSON object.
PHASES = r"""
import gc, json, sys, time
t = time.process_time()
from sessionnet_vip import cli, planning, planning_cli, yamlfile
imports = time.process_time() - t
data = yamlfile.loads(open(sys.argv[1], encoding="utf-8").read(), "farm")
gc.disable()
def best(fn):
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)
request = planning.build_request(data)
result = planning.make_plan(request, reports=False)
write_json = getattr(planning_cli, "format_json", None) or (
    lambda r: json.dumps(r.to_dict(), indent=2, sort_keys=True)
)
print(json.dumps({
    "imports": imports,
    "build_request": best(lambda: planning.build_request(data)),
    "make_plan": best(lambda: planning.make_plan(request, reports=False)),
    "format_table": best(lambda: planning_cli.format_table(result)),
    "--json text": best(lambda: write_json(result)),
    "make_plan (reports, --svg)": best(lambda: planning.make_plan(request, reports=True)),
}))
"""


def phases(path: Path, src: Path, repeat: int, children: int = 3) -> dict[str, float]:
    """Each figure of PHASES, the lowest of ``children`` child processes."""
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONPYCACHEPREFIX=str(PYC))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best: dict[str, float] = {}
    for _ in range(children):
        out = subprocess.run(
            [sys.executable, "-c", PHASES, str(path), str(repeat)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for name, value in json.loads(out).items():
            best[name] = min(best.get(name, value), value)
    return best


def print_phases(path: Path, repeat: int, before_src: Path | None) -> None:
    now = phases(path, SRC, repeat)
    before = phases(path, before_src, repeat) if before_src is not None else None
    print(
        f"  after the YAML load, in process (CPU; fastest of {repeat} runs in each of 3 processes,"
        " imports: fastest of the 3 cold imports):"
    )
    total_keys = ("imports", "build_request", "make_plan", "format_table")
    rows = [*now.items(), ("imports + request + plan + table", sum(now[k] for k in total_keys))]
    for name, value in rows:
        line = f"    {name + ':':34s} {value:6.3f} s"
        if before is not None:
            was = before[name] if name in before else sum(before[k] for k in total_keys)
            line += f"   before {was:6.3f} s   {was / value:4.1f}x faster"
        print(line)


def whole_command(data: dict[str, Any], repeat: int, before_src: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="vip-plan-bench-") as tmp:
        path = Path(tmp) / "farm.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        text = path.read_text()
        size = path.stat().st_size
        print(f"\nwhole command on a {size / 2**20:.1f} MiB farm file (median of {repeat}; CPU = user + sys)")
        py = sys.executable
        base_wall, base_cpu = run_child([py, "-c", "pass"], repeat)
        run_child([py, "-m", "sessionnet_vip", "plan", "--help"], 1)  # fill the bytecode cache
        wall, cpu = run_child([py, "-m", "sessionnet_vip", "plan", str(path)], repeat)
        if before_src is not None:
            run_child([py, "-m", "sessionnet_vip", "plan", "--help"], 1, before_src)
            b_wall, b_cpu = run_child([py, "-m", "sessionnet_vip", "plan", str(path)], repeat, before_src)
        print(f"  python -c pass (baseline):        wall {base_wall:6.3f} s   cpu {base_cpu:6.3f} s")
        print(f"  vipctl plan FILE:                 wall {wall:6.3f} s   cpu {cpu:6.3f} s   goal < 1 s")
        if before_src is not None:
            print(f"  same, code of {before_src}:  wall {b_wall:6.3f} s   cpu {b_cpu:6.3f} s   (before)")
        pure = cpu_timed(lambda: yaml.load(text, Loader=yaml.SafeLoader))
        c_loader = getattr(yaml, "CSafeLoader", None)
        cload = cpu_timed(lambda: yaml.load(text, Loader=c_loader)) if c_loader else float("nan")
        nodes = cpu_timed(lambda: yamlfile.reference_loads(text, "farm"))
        events = cpu_timed(lambda: yamlfile.event_load(text))
        ours = cpu_timed(lambda: yamlfile.loads(text, "farm"))
        print(f"  YAML: yaml.safe_load (before):    cpu {pure:6.3f} s")
        print(
            f"  YAML: yaml CSafeLoader:           cpu {cload:6.3f} s   {pure / cload:5.1f}x faster than before"
        )
        print(
            f"  YAML: yamlfile, node-based:       cpu {nodes:6.3f} s   {pure / nodes:5.1f}x faster than before"
        )
        print(
            f"  YAML: yamlfile, parser events:    cpu {events:6.3f} s   {pure / events:5.1f}x faster than before"
        )
        print(
            f"  YAML: yamlfile (block, used):     cpu {ours:6.3f} s   {pure / ours:5.1f}x faster than before"
        )
        loaded = yamlfile.loads(text, "farm")
        planned = cpu_timed(lambda: plan_from_dict(loaded))
        print(f"  planner on the loaded farm:       cpu {planned:6.3f} s")
        print_phases(path, max(repeat, 5), before_src)
    shutil.rmtree(PYC, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subnets", type=int, default=2000)
    parser.add_argument("--per-subnet", type=int, default=5)
    parser.add_argument(
        "--naive-fraction", type=int, default=10, help="naive planner runs on 1/N of the farm"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the whole command")
    parser.add_argument("--command-only", action="store_true", help="only the whole-command part")
    parser.add_argument(
        "--before-src",
        type=Path,
        help="also time the command with the package from this src/ directory (an earlier checkout)",
    )
    args = parser.parse_args()

    data = farm(args.subnets, args.per_subnet)
    servers = len(data["servers"])
    print(
        f"farm: {servers} servers, {len(data['subnets'])} /22 subnets, {len(data['dhcp_scopes'])} DHCP scopes"
    )
    if args.command_only:
        whole_command(data, args.repeat, args.before_src)
        return

    result = plan_from_dict(data)
    assert len(result["plan"]) == servers and not result["invalid"]
    real = timed(lambda: plan_from_dict(data), repeat=2)
    real_peak = peak_bytes(lambda: plan_from_dict(data))
    per_server = real / servers * 1e6
    print(
        f"planner:        {real:8.3f} s   {per_server:7.1f} us/server"
        f"   peak {real_peak / 2**20:7.1f} MiB (tracemalloc)"
    )

    small = farm(args.subnets // args.naive_fraction, args.per_subnet)
    naive_small = timed(lambda: naive_plan(small))
    naive_peak = peak_bytes(lambda: naive_plan(small))
    scale = servers / len(small["servers"])
    naive = naive_small * scale
    real_small = timed(lambda: plan_from_dict(small), repeat=3)
    print(
        f"naive (sets):   {naive_small:8.3f} s on {len(small['servers'])} servers"
        f" -> {naive:8.3f} s scaled x{scale:.0f};   peak {naive_peak / 2**20:7.1f} MiB on the small farm"
    )
    print(f"ratio naive/planner, same small farm:      {naive_small / real_small:6.1f}x")
    print(f"ratio naive (scaled)/planner, full farm:   {naive / real:6.1f}x")

    print("scaling on one fragmented /12 (half the servers hold ranges with gaps, half are new):")
    previous = None
    for n in (5000, 10000, 20000):
        frag = fragmented(n)
        got = plan_from_dict(frag)
        assert len(got["plan"]) == n and not got["invalid"]
        t = timed(lambda frag=frag: plan_from_dict(frag), repeat=2)
        ratio = (
            ""
            if previous is None
            else f"   x{t / previous:.2f} for x2 servers (2.0 = linear, 4.0 = quadratic)"
        )
        print(f"  n={n:6d}: {t:7.3f} s{ratio}")
        previous = t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"max RSS of this process: {rss / 1024:.1f} MiB")
    whole_command(data, args.repeat, args.before_src)


if __name__ == "__main__":
    main()
