"""Session setup/teardown through the engine: logon, first translated bind, logoff.

Runs a real ``vipctl serve`` (subprocess, real kernel hooks) inside a scratch network
namespace (192.0.2.0/24) and measures, over ``--rounds`` sessions:

* ``logon``: a control request that allocates, creates the session's cgroups and map entry
  and writes its hosts file;
* ``run → first bind``: ``vipctl run --session N -- PY -c 'bind 0.0.0.0:0'`` until the program
  printed its (translated) address, against the same program started directly (baseline, same
  run): the ratio is the price of going through the engine (plan, ptrace stop, attach);
* ``logoff``: release + removal of the session from the data plane.

Needs root. ``PYTHONPATH=src python bench/agent_bench.py [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from sessionnet_vip.engine.linux import DataPlane
from sessionnet_vip.engine.linux.lab import Lab
from sessionnet_vip.engine.server import request

SRC = Path(__file__).resolve().parents[1] / "src"
PY = os.path.realpath(sys.executable)
BIND = "import socket; s = socket.socket(); s.bind(('0.0.0.0', 0)); print(s.getsockname()[0])"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("agent_bench: needs root", file=sys.stderr)
        return 2
    probe = DataPlane.probe()
    if not probe.ok:
        print(f"agent_bench: kernel data plane unavailable: {probe.reason}", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONPATH=str(SRC))
    with tempfile.TemporaryDirectory() as tmp, Lab(name=f"snv-bench-{os.getpid()}") as lab:
        state = Path(tmp) / "state"
        sock = state / "control.sock"
        cfg = Path(tmp) / "engine.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "pool": ["192.0.2.100-192.0.2.199"],
                    "state_dir": str(state),
                    "control_socket": str(sock),
                    "processes": [PY],
                    "hold_seconds": 0,
                    "session_provider": "engine",
                    "data_plane": {"root_name": f"snv-bench-{os.getpid()}"},
                }
            )
        )
        netns = ["nsenter", f"--net=/run/netns/{lab.name}"]
        engine = subprocess.Popen(
            [*netns, sys.executable, "-m", "sessionnet_vip", "serve", "--config", str(cfg)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = threading.Event()

        def drain() -> None:
            assert engine.stderr is not None
            for line in engine.stderr:
                if "engine serving on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        try:
            if not ready.wait(60) or engine.poll() is not None:
                print("agent_bench: the engine did not start", file=sys.stderr)
                return 1
            logon, logoff, run, direct = [], [], [], []
            vipctl = [
                *netns,
                sys.executable,
                "-m",
                "sessionnet_vip",
                "--socket",
                str(sock),
                "run",
                "--session",
            ]
            for i in range(args.rounds):
                sid = 1000 + i
                t0 = time.perf_counter()
                reply = request(sock, {"op": "logon", "session": sid})
                logon.append(time.perf_counter() - t0)
                assert reply["ok"], reply
                vip = reply["result"]["vip"]
                t0 = time.perf_counter()
                out = subprocess.run(
                    [*vipctl, str(sid), "--", PY, "-c", BIND], capture_output=True, text=True, env=env
                )
                run.append(time.perf_counter() - t0)
                assert out.stdout.strip() == vip, (out.stdout, out.stderr)
                t0 = time.perf_counter()
                out = subprocess.run([*netns, PY, "-c", BIND], capture_output=True, text=True)
                direct.append(time.perf_counter() - t0)
                assert out.stdout.strip() == "0.0.0.0"
                t0 = time.perf_counter()
                reply = request(sock, {"op": "logoff", "session": sid})
                logoff.append(time.perf_counter() - t0)
                assert reply["ok"], reply
        finally:
            engine.terminate()
            engine.wait(30)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:8.1f} ms (p90 {sorted(values)[int(len(values) * 0.9) - 1] * 1000:.1f})"

    print(f"rounds: {args.rounds}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"logon (allocate + cgroups + map + hosts file): {ms(logon)}")
    print(f"logoff (release + remove session):             {ms(logoff)}")
    print(f"program started directly, first bind (base):   {ms(direct)}")
    print(f"vipctl run -> first translated bind:           {ms(run)}")
    print(f"ratio run/direct: {statistics.median(run) / statistics.median(direct):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
