"""Remote calls per host: playbooks/site.yml and audit.yml vs one task per value (gateway log).

A simulated farm of N session hosts (each in rds_ip_virtualization, citrix_virtual_loopback and
vip_ranges, Windows Server 2022 with the RD Session Host role and a Citrix VDA), a DHCP server and
a Delivery Controller. Ways, measured in the same run on identical fresh farms:

* ``site.yml`` (facts once per host per run, one change call per feature per host);
* ``site.yml`` with ``sessionnet_vip_facts_cache_scope=off`` (every feature module reads the host
  itself: the collection before the facts cache);
* the baseline ``bench/baseline/fleet_per_value.yml``: the same end state, one task per registry
  value and per address (win_regedit style), filled from the state site.yml left;

then ``audit.yml`` on the converged farm, against the baseline run in check mode. Each way runs
twice (apply, then the idempotent re-run). The bench checks that site.yml and the baseline end
with identical registry values and adapter addresses on every host.

    PYTHONPATH=src python bench/fleet_calls.py [--hosts N]

Wall-clock times are printed for information only: on simulated hosts a round trip is a local call.
"""

from __future__ import annotations

import argparse
import collections
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
SEEDED = {r"HKLM\system\currentcontrolset\services\winsock2\parameters\appid_catalog\2c69d9f1"}


def farm(state: pathlib.Path, hosts: int) -> dict[str, Any]:
    inv = yaml.safe_load((ROOT / "examples" / "inventory" / "farm.yml").read_text(encoding="utf-8"))
    session = inv["all"]["children"]["session_hosts"]
    session["vars"]["sessionnet_simulated_windows_features"] = ["rds", "citrix_vda"]
    session["hosts"] = {
        f"rdsh{i:03d}": {
            "sessionnet_simulated_windows_state": str(state / f"rdsh{i:03d}.json"),
            "sessionnet_simulated_windows_adapters": [
                {"name": "Ethernet", "ipv4": [f"10.20.{i // 200}.{50 + i % 200}/16"]}
            ],
            "vip_ranges_max_sessions": 10,
        }
        for i in range(hosts)
    }
    inv["all"]["children"]["citrix_virtual_loopback"] = {
        "vars": inv["all"]["children"]["citrix_virtual_loopback"]["vars"],
        "children": {"session_hosts": None},
    }
    ranges = inv["all"]["children"]["vip_ranges"]["vars"]
    ranges["vip_ranges_subnets"] = [
        {"cidr": "10.20.0.0/16", "gateway": "10.20.0.1", "reserved": ["10.20.0.2-10.20.3.255"]}
    ]
    ranges["vip_ranges_subnet"] = "10.20.0.0/16"
    ranges["vip_ranges_carve_from_scopes"] = False
    ranges["vip_ranges_dhcp_scopes"] = []
    ranges["vip_ranges_dhcp_servers"] = []
    inv["all"]["vars"]["farm_state_dir"] = str(state)
    return inv


def run(playbook: str, inv: dict[str, Any], work: pathlib.Path, log: pathlib.Path, *extra: str) -> float:
    path = work / "inventory.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False), encoding="utf-8")
    if log.exists():
        log.unlink()
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p),
            "SESSIONNET_GATEWAY_LOG": str(log),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        }
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            "-i",
            str(path),
            playbook,
            "-e",
            json.dumps({"vip_report_dir": str(work / "report"), "vip_audit_applications": False}),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if proc.returncode not in (0, 2) or (proc.returncode == 2 and "audit" not in playbook):
        sys.exit(f"{playbook} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def per_host(log: pathlib.Path, hosts: list[str]) -> dict[str, collections.Counter[str]]:
    counts: dict[str, collections.Counter[str]] = {h: collections.Counter() for h in hosts}
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        entry = json.loads(line)
        if entry["host"] in counts:
            counts[entry["host"]][entry["module"]] += 1
    return counts


def summary(counts: dict[str, collections.Counter[str]]) -> tuple[float, str]:
    totals = [sum(c.values()) for c in counts.values()]
    mods: collections.Counter[str] = collections.Counter()
    for c in counts.values():
        mods.update(c)
    n = len(counts)
    detail = ", ".join(f"{m} {v / n:g}" for m, v in sorted(mods.items()))
    return sum(totals) / n, detail


def end_state(state: pathlib.Path, hosts: list[str]) -> dict[str, Any]:
    out = {}
    for host in hosts:
        data = json.loads((state / f"{host}.json").read_text(encoding="utf-8"))
        registry = {k: v["values"] for k, v in data["registry"].items() if v["values"]}
        addresses = sorted((a["address"], a["skip_as_source"]) for ad in data["adapters"] for a in ad["ipv4"])
        out[host] = {"registry": registry, "addresses": addresses}
    return out


def baseline_vars(state: pathlib.Path, hosts: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for host in hosts:
        data = json.loads((state / f"{host}.json").read_text(encoding="utf-8"))
        values = []
        for key, entry in sorted(data["registry"].items()):
            view = "32" if "wow6432node" in key else "64"
            path = entry["path"].replace("\\Wow6432Node", "").replace("HKLM\\", "HKLM:\\", 1)
            for value in entry["values"].values():
                values.append(
                    {
                        "path": path,
                        "name": value["name"],
                        "type": value["type"],
                        "data": value["data"],
                        "view": view,
                    }
                )
        adapter = data["adapters"][0]
        out[host] = {
            "bench_values": values,
            "bench_keys_absent": [
                r"HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\2C69D9F1"
            ],
            "bench_addresses": [a["address"] for a in adapter["ipv4"] if a["skip_as_source"]],
            "bench_interface_index": adapter["index"],
            "bench_prefix_length": adapter["ipv4"][0]["prefix_length"],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10, help="simulated session hosts (default 10)")
    args = parser.parse_args()
    hosts = [f"rdsh{i:03d}" for i in range(args.hosts)]
    rows: list[tuple[str, str, float, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = pathlib.Path(tmp)
        link = work / "collections" / "ansible_collections" / "sessionnet" / "virtual_ip"
        link.parent.mkdir(parents=True)
        link.symlink_to(ROOT)
        log = work / "calls.jsonl"
        states = {}
        for label, extra in (
            ("site.yml", ()),
            ("site.yml, facts cache off", ("-e", "sessionnet_vip_facts_cache_scope=off")),
        ):
            state = work / label.replace(" ", "_").replace(",", "")
            inv = farm(state, args.hosts)
            for phase in ("apply", "re-run"):
                took = run("sessionnet.virtual_ip.site", inv, work, log, *extra)
                rows.append(
                    (label, phase, *summary(per_host(log, hosts))[:1], summary(per_host(log, hosts))[1], took)
                )
            states[label] = state
            if label == "site.yml":
                took = run("sessionnet.virtual_ip.audit", inv, work, log)
                rows.append(
                    (
                        "audit.yml",
                        "check",
                        summary(per_host(log, hosts))[0],
                        summary(per_host(log, hosts))[1],
                        took,
                    )
                )
        base_state = work / "baseline"
        inv = farm(base_state, args.hosts)
        for host, variables in baseline_vars(states["site.yml"], hosts).items():
            inv["all"]["children"]["session_hosts"]["hosts"][host].update(variables)
        for phase in ("apply", "re-run"):
            took = run(str(ROOT / "bench" / "baseline" / "fleet_per_value.yml"), inv, work, log)
            rows.append(("baseline (one task per value)", phase, *summary(per_host(log, hosts)), took))
        took = run(str(ROOT / "bench" / "baseline" / "fleet_per_value.yml"), inv, work, log, "--check")
        rows.append(("baseline (one task per value)", "check", *summary(per_host(log, hosts)), took))
        same = end_state(states["site.yml"], hosts) == end_state(base_state, hosts)
        if not same:
            sys.exit("site.yml and the baseline left different registry values or addresses")

    print(
        f"Fleet: {args.hosts} simulated session hosts (rds_ip_virtualization + citrix_virtual_loopback + vip_ranges each)"
    )
    print(f"{'way':<34} {'phase':<7} {'calls/host':>10}  {'wall s':>7}  per module (calls/host)")
    for label, phase, calls, detail, took in rows:
        print(f"{label:<34} {phase:<7} {calls:>10.1f}  {took:>7.1f}  {detail}")
    by = {(r[0], r[1]): r[2] for r in rows}
    base = "baseline (one task per value)"
    print(
        f"ratio baseline/site.yml, apply: {by[(base, 'apply')] / by[('site.yml', 'apply')]:.1f}x; "
        f"re-run: {by[(base, 're-run')] / by[('site.yml', 're-run')]:.1f}x"
    )
    print(f"ratio baseline --check/audit.yml: {by[(base, 'check')] / by[('audit.yml', 'check')]:.1f}x")
    print(
        f"ratio cache off/on (site.yml apply): {by[('site.yml, facts cache off', 'apply')] / by[('site.yml', 'apply')]:.2f}x"
    )
    print("site.yml and the baseline left identical registry values and addresses on every host: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
