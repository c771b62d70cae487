"""Remote calls per host: rds_ip_virtualization (one module task) vs one task per registry value.

Both ways run in the same run, against N simulated Windows Server 2022 hosts each (separate
state files), with the gateway's call log (``SESSIONNET_GATEWAY_LOG``) counting every round
trip to a host. The baseline (``bench/baseline/rds_per_value.yml``) models a role that uses one
``ansible.windows.win_regedit`` task per value: win_regedit cannot run against simulated hosts,
so each of its tasks is one ``sessionnet.virtual_ip.registry_state`` call with one value (one
round trip, as one win_regedit task is). Each way runs twice (first apply, then the idempotent
re-run), and the bench checks that both leave the same registry values behind.

    PYTHONPATH=src python bench/rds_remote_calls.py [--hosts N]

Wall-clock times are printed for information only: on simulated hosts a "round trip" is a
local call, so they mostly measure Ansible's per-task overhead, not WinRM latency.
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBNET = "10.20.0.10/24"
PROGRAMS = [r"C:\Program Files\CTI\agent.exe", r"C:\Program Files\Dialer\dialer.exe"]
POLICY_KEY = r"HKLM\software\policies\microsoft\windows nt\terminal services\tsappsrv\virtualip"


def inventory(state_dir: pathlib.Path, hosts: int) -> dict[str, Any]:
    return {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "sessionnet_simulated_windows_profile": "server2022",
                "sessionnet_simulated_windows_features": ["rds"],
                "bench_programs": PROGRAMS,
                "bench_subnet": SUBNET,  # the module is given host bits and normalises them
                "bench_subnet_network": str(ipaddress.IPv4Interface(SUBNET).network),  # baseline: by hand
            },
            "hosts": {
                f"rdsh{i:03d}": {"sessionnet_simulated_windows_state": str(state_dir / f"rdsh{i:03d}.json")}
                for i in range(hosts)
            },
        }
    }


def run(
    playbook: pathlib.Path, inv: pathlib.Path, log: pathlib.Path, work: pathlib.Path, forks: int
) -> float:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p),
            "SESSIONNET_GATEWAY_LOG": str(log),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORKS": str(forks),
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        }
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv), str(playbook)],
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{playbook.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def per_host(log: pathlib.Path) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in log.read_text().splitlines():
        counts[json.loads(line)["host"]] += 1
    return counts


def policy_values(state_dir: pathlib.Path) -> set[str]:
    """One canonical dump of the policy key per host (to check both ways wrote the same)."""
    dumps = set()
    for path in state_dir.glob("*.json"):
        key = json.loads(path.read_text())["registry"].get(POLICY_KEY, {"values": {}})
        dumps.add(json.dumps(key["values"], sort_keys=True))
    return dumps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="simulated hosts per way (default 20)")
    parser.add_argument("--forks", type=int, default=5, help="ansible forks (default 5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rds-bench-") as tmp:
        work = pathlib.Path(tmp)
        link = work / "collections" / "ansible_collections" / "sessionnet" / "virtual_ip"
        link.parent.mkdir(parents=True)
        link.symlink_to(ROOT)
        ways = {
            "module (sessionnet.virtual_ip.rds_ip_virtualization)": ROOT / "bench" / "rds_module.yml",
            "baseline (one task per value, win_regedit-style)": ROOT
            / "bench"
            / "baseline"
            / "rds_per_value.yml",
        }
        rows = []
        dumps = []
        for index, (label, playbook) in enumerate(ways.items()):
            state_dir = work / f"hosts{index}"
            inv = work / f"inventory{index}.yml"
            inv.write_text(yaml.safe_dump(inventory(state_dir, args.hosts)))
            figures = []
            for phase in ("apply", "re-run"):
                log = work / f"calls{index}-{phase}.jsonl"
                took = run(playbook, inv, log, work, args.forks)
                counts = per_host(log)
                if len(counts) != args.hosts or len(set(counts.values())) != 1:
                    sys.exit(f"{label} {phase}: uneven calls per host: {dict(counts)}")
                figures.append((phase, next(iter(counts.values())), took))
            rows.append((label, figures))
            dumps.append(policy_values(state_dir))

        if len(dumps[0]) != 1 or dumps[0] != dumps[1]:
            sys.exit(f"the two ways left different policy values: {dumps}")

        print(
            f"RD IP Virtualization, {args.hosts} simulated Windows Server 2022 hosts per way, forks={args.forks}"
        )
        print("(baseline: one sessionnet.virtual_ip.registry_state task per value = one round trip each,")
        print(
            " as one ansible.windows.win_regedit task per value would be; win_regedit cannot run on simulated hosts)"
        )
        print(f"{'way':<56} {'phase':<7} {'calls/host':>10} {'wall s':>8}")
        for label, figures in rows:
            for phase, calls, took in figures:
                print(f"{label:<56} {phase:<7} {calls:>10} {took:>8.1f}")
        module, baseline = rows[0][1], rows[1][1]
        for i, phase in enumerate(("apply", "re-run")):
            print(
                f"ratio baseline/module, {phase}: calls {baseline[i][1] / module[i][1]:.1f}x, "
                f"wall {baseline[i][2] / module[i][2]:.1f}x (wall: simulated, indicative only)"
            )
        print("both ways left identical policy values on every host: yes")
        print(
            "note: the module's 2 calls include the vip_info read that makes the OS/adapter checks possible"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
