"""Engine soak: the hammer and kill -9 tests at soak size (4 x 10,000 operations, 1,000 kills).

    PYTHONPATH=src python bench/engine_soak.py [--procs 4] [--ops 10000] [--kills 1000]

Runs tests/unit/engine/test_concurrency.py and test_crash.py with their counts raised through
the environment, and prints how long each took.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(test: str, env: dict[str, str]) -> tuple[int, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(REPO / "tests/unit/engine" / test),
        ],
        env=env,
        cwd=REPO,
        check=False,
    )
    return proc.returncode, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=1_000)
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["SESSIONNET_VIP_HAMMER_PROCS"] = str(args.procs)
    env["SESSIONNET_VIP_HAMMER_OPS"] = str(args.ops)
    env["SESSIONNET_VIP_KILLS"] = str(args.kills)
    code_h, t_h = run("test_concurrency.py", env)
    total = args.procs * args.ops
    print(f"hammer: {args.procs} processes x {args.ops} ops = {total} ops in {t_h:.1f} s "
          f"({total / t_h:.0f} ops/s incl. start-up) -> {'ok' if code_h == 0 else 'FAILED'}")  # fmt: skip
    code_k, t_k = run("test_crash.py", env)
    print(f"kill -9: {args.kills} kills in {t_k:.1f} s -> {'ok' if code_k == 0 else 'FAILED'}")
    return code_h or code_k


if __name__ == "__main__":
    sys.exit(main())
