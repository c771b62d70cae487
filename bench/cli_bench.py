"""CLI start-up: ``vipctl loopback 5``, ``vipctl --help`` and ``vipctl run`` against baselines of
the same run.

* start-up: each command's median wall and CPU time over ``--repeat`` rounds (the commands and
  the baseline run in turn in each round), and its ratio to ``python -c pass`` with the same
  interpreter (goal: at most 3x);
* ``vipctl run`` overhead: ``vipctl run --session N -- true`` through a real engine (``vipctl
  serve`` in this process's child, allocator only, no data plane) against ``true`` started
  directly (goal: at most 30 ms more).

Modules are run from cached bytecode, as in an installed package (pip compiles on install): the
bench drops ``PYTHONDONTWRITEBYTECODE`` and caches in a scratch directory (``--no-bytecode``
keeps it: every module is then compiled at each start, which is most of a short command's time).

``PYTHONPATH=src python bench/cli_bench.py [--repeat 21] [--no-bytecode]``. ``run`` needs Linux; without root
the engine serves the benchmark's own user.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SRC = Path(__file__).resolve().parents[1] / "src"
PY = sys.executable


def measure(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of ``argv`` (stdout discarded)."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def startup(repeat: int, env: dict[str, str]) -> None:
    """Each command and the baseline in turn, ``repeat`` rounds: on a loaded machine the load then
    weighs on all of them alike (measured one after the other, a busy minute lands on one)."""
    commands = (
        ("python -c pass (baseline)", [PY, "-c", "pass"]),
        ("vipctl loopback 5", [PY, "-m", "sessionnet_vip", "loopback", "5"]),
        ("vipctl --help", [PY, "-m", "sessionnet_vip", "--help"]),
        ("vipctl plan --help", [PY, "-m", "sessionnet_vip", "plan", "--help"]),
    )
    walls: dict[str, list[float]] = {label: [] for label, _ in commands}
    cpus: dict[str, list[float]] = {label: [] for label, _ in commands}
    for _ in range(repeat):
        for label, argv in commands:
            wall, cpu = measure(argv, 1, env)
            walls[label].append(wall)
            cpus[label].append(cpu)
    base_wall, base_cpu = statistics.median(walls[commands[0][0]]), statistics.median(cpus[commands[0][0]])
    print(
        f"start-up, median of {repeat} interleaved rounds "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"  {commands[0][0]:<28} wall {base_wall * 1e3:7.1f} ms   cpu {base_cpu * 1e3:7.1f} ms")
    for label, _ in commands[1:]:
        wall, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
        print(
            f"  {label:<28} wall {wall * 1e3:7.1f} ms   cpu {cpu * 1e3:7.1f} ms   "
            f"x{wall / base_wall:4.1f} wall, x{cpu / base_cpu:4.1f} cpu of the baseline (goal <= 3)"
        )


def run_overhead(repeat: int, env: dict[str, str]) -> None:
    true = shutil.which("true") or "/bin/true"
    with tempfile.TemporaryDirectory(prefix="vip-cli-bench-") as tmp:
        d = Path(tmp)
        config = d / "engine.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "pool": ["198.18.0.10-198.18.0.250"],
                    "state_dir": str(d / "state"),
                    "control_socket": str(d / "ctl.sock"),
                    "session_provider": "engine",
                    "data_plane": {"enabled": False},
                }
            )
        )
        server = subprocess.Popen(
            [PY, "-m", "sessionnet_vip", "serve", "--config", str(config), "--log-level", "error"],
            env=env,
            stderr=subprocess.PIPE,
        )
        try:
            probe = [PY, "-m", "sessionnet_vip", "status", "--socket", str(d / "ctl.sock")]
            deadline = time.monotonic() + 60
            while subprocess.run(probe, env=env, capture_output=True, check=False).returncode != 0:
                if server.poll() is not None or time.monotonic() > deadline:
                    print(f"  engine did not start: {server.stderr.read().decode() if server.stderr else ''}")
                    return
            direct_wall, _ = measure([true], repeat, env)
            argv = [
                PY,
                "-m",
                "sessionnet_vip",
                "run",
                "--session",
                "7",
                "--socket",
                str(d / "ctl.sock"),
                "--",
                true,
            ]
            run_wall, run_cpu = measure(argv, repeat, env)
            # before: the same command through argparse and the full CLI (what every run did)
            full = [PY, "-c", "import sys; from sessionnet_vip.cli import main; sys.exit(main())", *argv[3:]]
            full_wall, full_cpu = measure(full, repeat, env)
            base_wall, _ = measure([PY, "-c", "pass"], repeat, env)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"vipctl run, median of {repeat} (allocator-only engine)")
    print(f"  {'true started directly':<28} wall {direct_wall * 1e3:7.1f} ms")
    print(f"  {'python -c pass':<28} wall {base_wall * 1e3:7.1f} ms")
    print(
        f"  {'vipctl run -- true':<28} wall {run_wall * 1e3:7.1f} ms   cpu {run_cpu * 1e3:7.1f} ms   "
        f"overhead {(run_wall - direct_wall) * 1e3:6.1f} ms over the direct start (goal <= 30 ms)"
    )
    print(
        f"  {'same, full parser (before)':<28} wall {full_wall * 1e3:7.1f} ms   cpu {full_cpu * 1e3:7.1f} ms   "
        f"overhead {(full_wall - direct_wall) * 1e3:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE from the environment (compile every module at each start)",
    )
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(SRC))
    with tempfile.TemporaryDirectory(prefix="vip-cli-bench-pyc-") as pyc:
        if not args.no_bytecode:
            # as installed (pip compiles on install): bytecode cached, here in a scratch directory
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pyc
        print(f"bytecode cache: {'off (every module compiled at each start)' if args.no_bytecode else 'on'}")
        startup(args.repeat, env)
        if sys.platform.startswith("linux"):
            run_overhead(args.repeat, env)


if __name__ == "__main__":
    main()
