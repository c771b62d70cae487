"""The Windows data plane under Wine: cost of the hooks and of the launcher.

Runs in a scratch network namespace with one persistent ``wineserver -p`` (as the tests do):

* ``via viprun, no DLL``: the program started by viprun in engine mode with no engine (so
  untranslated, no DLL): separates "started by viprun" from "hooked".
* ``untouched``: the same through viprun, but on an address no rule changes (the session
  loopback itself): the price of the hooks alone.
* ``bind`` / ``connect``: N binds of ``127.0.0.x:0`` and N connects (each accepted and closed) to a
  listener the same process bound on the session loopback, by vip_testclient.exe started plainly (baseline: it names the session loopback
  itself, no hooks) and through viprun (hooks translate ``127.0.0.1`` to the session loopback,
  with the implicit source bind, and in ``virtual_ip`` mode the W1 listener lookup). Per-call
  time is measured inside the Windows process (QueryPerformanceCounter); the ratio
  hooked/baseline is from the same run. Goal: <= 1.05x.
* ``launcher start-up``: wall time of ``wine64 vip_testclient.exe hostname`` against the same
  through ``viprun.exe`` (create suspended, settings block, DLL injection, hooks, resume).

Needs root, Wine and ``make windows``. ``python bench/windows_dataplane_bench.py [--n 2000] [--starts 15]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "windows"
WINE64 = "/usr/lib/wine/wine64"
WINESERVER = "/usr/lib/wine/wineserver"
LOOPBACK, VIP, PORT = "127.0.0.2", "192.0.2.11", 42001
NO_DLL = "via viprun, no DLL"
NOBODY = "\\\\.\\pipe\\snv-bench-nobody"  # engine mode, no engine: started untranslated


def winpath(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


class Env:
    def __init__(self) -> None:
        self.ns = f"snv-wb{os.getpid()}"
        self.prefix = REPO / ".work" / f"wine-bench-{os.getpid()}"
        self.env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        self.env.update(
            WINEPREFIX=str(self.prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="winemenubuilder.exe=d"
        )
        self.server: subprocess.Popen[bytes] | None = None

    def argv(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, WINE64, *args]

    def __enter__(self) -> Env:
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", self.ns, "addr", "add", f"{VIP}/32", "dev", "lo"], check=True)
        template = REPO / ".work" / "wine-template"
        if not (template / ".sessionnet-ready").exists():
            template.mkdir(parents=True, exist_ok=True)
            tenv = dict(self.env, WINEPREFIX=str(template))
            subprocess.run([WINE64, "wineboot", "--init"], env=tenv, capture_output=True, check=True)
            subprocess.run([WINESERVER, "-w"], env=tenv, check=True)
        shutil.rmtree(self.prefix, ignore_errors=True)
        subprocess.run(["cp", "-al", f"{template}/.", str(self.prefix)], check=True)
        for reg in self.prefix.glob("*.reg"):
            reg.unlink()
            shutil.copy2(template / reg.name, reg)
        self.server = subprocess.Popen(["ip", "netns", "exec", self.ns, WINESERVER, "-p", "-f"], env=self.env)
        with (self.prefix / "warm-up.txt").open("w") as out:  # helpers inherit stdio: not a pipe
            subprocess.run(
                self.argv(self.client, "hostname"), env=self.env, stdout=out, stderr=out, check=True
            )
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([WINESERVER, "-k"], env=self.env, capture_output=True, check=False)
        if self.server is not None:
            self.server.wait(timeout=30)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, check=False)
        shutil.rmtree(self.prefix, ignore_errors=True)

    @property
    def client(self) -> str:
        return winpath(BUILD / "tests" / "x64" / "vip_testclient.exe")

    @property
    def viprun(self) -> str:
        return str(BUILD / "x64" / "viprun.exe")

    def run(self, *args: str) -> str:
        return subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, check=True, timeout=600
        ).stdout


def per_call(out: str) -> tuple[float, float, float, float]:
    """(bind wall, connect wall, bind user-CPU, connect user-CPU), microseconds per call."""
    m = re.search(
        r"BENCH bind_us=([\d.]+) connect_us=([\d.]+) n=\d+ bind_cpu_us=([\d.]+) connect_cpu_us=([\d.]+)", out
    )
    if not m:
        raise SystemExit(f"unexpected client output: {out!r}")
    return float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000, help="binds and connects per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="alternating baseline/hooked rounds")
    parser.add_argument("--starts", type=int, default=15, help="process starts per start-up figure")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("windows_dataplane_bench: needs root (ip netns)", file=sys.stderr)
        return 2
    subprocess.run(["make", "--no-print-directory", "-s", "windows"], cwd=REPO, check=True)
    with Env() as env:
        n = str(args.n)
        # name -> (viprun options, address the program uses)
        flags = {
            NO_DLL: (["--pipe", NOBODY], LOOPBACK),
            "untouched (C2/B3)": (["--mode", "virtual_loopback"], LOOPBACK),
            "virtual_loopback": (["--mode", "virtual_loopback"], "127.0.0.1"),
            "virtual_ip": (["--vip", VIP], "127.0.0.1"),
        }
        results: dict[str, list[tuple[float, float, float, float]]] = {
            "baseline": [],
            **{k: [] for k in flags},
        }
        for _ in range(args.rounds):
            results["baseline"].append(per_call(env.run(env.client, "bench", LOOPBACK, str(PORT), n)))
            for mode, (extra, address) in flags.items():
                standalone = [] if extra[0] == "--pipe" else ["--loopback", LOOPBACK]
                out = env.run(
                    env.viprun,
                    *extra,
                    *standalone,
                    "--",
                    env.client,
                    "bench",
                    address,
                    str(PORT),
                    n,
                )
                results[mode].append(per_call(out))

        def med(name: str, i: int) -> float:
            return statistics.median(r[i] for r in results[name])

        # The hooks' baseline is the same program started by viprun without the DLL: a process
        # started by another Wine process is itself slower than one started from Linux. Wall
        # time includes the wineserver round trip of every Winsock call and the machine's load.
        print(f"Windows data plane under Wine ({args.n} calls x {args.rounds} rounds, median per call)")
        # (The client also reports user CPU, but Wine's GetProcessTimes moves in 10 ms steps:
        # too coarse for per-call figures, so only wall time is printed.)
        for title, bi, ci in (("wall time", 0, 1),):
            ref_b, ref_c = med(NO_DLL, bi), med(NO_DLL, ci)
            print(f"  {title}:")
            for name in ("baseline", *flags):
                b, c = med(name, bi), med(name, ci)
                label = "directly (no viprun)" if name == "baseline" else name
                print(
                    f"    {label:<24} bind {b:9.2f} us ({b / ref_b:4.2f}x)   connect {c:9.2f} us ({c / ref_c:4.2f}x)"
                )

        def wall(*argv: str) -> float:
            times = []
            for _ in range(args.starts):
                t0 = time.perf_counter()
                env.run(*argv)
                times.append(time.perf_counter() - t0)
            return statistics.median(times) * 1000

        plain = wall(env.client, "hostname")
        no_dll = wall(env.viprun, "--pipe", NOBODY, "--", env.client, "hostname")
        launched = wall(env.viprun, "--vip", VIP, "--loopback", LOOPBACK, "--", env.client, "hostname")
        print(
            f"  start-up (median of {args.starts}): directly {plain:.1f} ms; viprun without DLL {no_dll:.1f} ms; "
            f"viprun with DLL {launched:.1f} ms ({launched / no_dll:.2f}x the no-DLL start, +{launched - no_dll:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
