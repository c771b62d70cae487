"""playbooks/site.yml and audit.yml, run as sessionnet.virtual_ip.site / .audit with real
ansible-playbook from the built and installed collection tarball, against the example farm
(examples/inventory/farm.yml, simulated Windows hosts) plus a failing and an unreachable host;
the report rendered in Debian's headless chromium."""

from __future__ import annotations

import collections
import html.parser
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml

from sessionnet_vip.windows import simulator

from . import pngcheck

ROOT = pathlib.Path(__file__).resolve().parents[3]
FARM = ROOT / "examples" / "inventory" / "farm.yml"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
WINDOWS_HOSTS = ("rdsh01", "rdsh02", "vda01")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The collection built with ansible-galaxy and installed from its tarball."""
    work = tmp_path_factory.mktemp("collection")
    bindir = pathlib.Path(sys.executable).parent
    subprocess.run(
        [
            str(bindir / "ansible-galaxy"),
            "collection",
            "build",
            "--force",
            "--output-path",
            str(work),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (tarball,) = work.glob("sessionnet-virtual_ip-*.tar.gz")
    subprocess.run(
        [
            str(bindir / "ansible-galaxy"),
            "collection",
            "install",
            "--force",
            "-p",
            str(work / "collections"),
            str(tarball),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return work / "collections"


class Farm:
    def __init__(self, tmp: pathlib.Path, collections_path: pathlib.Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.log = tmp / "gateway.jsonl"
        self.report = tmp / "report"
        self.collections = collections_path
        self.inventory = yaml.safe_load(FARM.read_text(encoding="utf-8"))

    def add_host(self, group: str, name: str, variables: dict[str, Any]) -> None:
        self.inventory["all"]["children"][group].setdefault("hosts", {})
        if not self.inventory["all"]["children"][group]["hosts"]:
            self.inventory["all"]["children"][group]["hosts"] = {}
        self.inventory["all"]["children"][group]["hosts"][name] = variables

    def run(self, playbook: str, *extra: str) -> tuple[int, dict[str, Any], str]:
        inv = self.tmp / "inventory.yml"
        inv.write_text(yaml.safe_dump(self.inventory, sort_keys=False), encoding="utf-8")
        if self.log.exists():
            self.log.unlink()
        env = dict(os.environ)
        env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOST_KEY_CHECKING": "0",
                "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
                "SESSIONNET_FARM_STATE": str(self.state),
                "SESSIONNET_GATEWAY_LOG": str(self.log),
            }
        )
        cmd = [
            str(pathlib.Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inv),
            playbook,
            "-e",
            json.dumps({"vip_report_dir": str(self.report)}),
            *extra,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=self.tmp, timeout=900, check=False
        )
        start = proc.stdout.find("{")
        output = json.loads(proc.stdout[start:]) if start >= 0 else {}
        return proc.returncode, output, proc.stdout[-4000:] + proc.stderr[-4000:]

    def calls(self) -> collections.Counter[tuple[str, str]]:
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        for line in self.log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            counts[(entry["host"], entry["module"])] += 1
        return counts

    def states(self) -> dict[str, Any]:
        return {
            p.name: json.loads(p.read_text(encoding="utf-8"))["registry"]
            for p in sorted(self.state.glob("*.json"))
        }


def task_result(output: dict[str, Any], name: str) -> dict[str, Any]:
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == name:
                return next(iter(task["hosts"].values()))
    raise AssertionError(f"no task {name!r}")


@pytest.fixture
def farm(tmp_path: pathlib.Path, installed: pathlib.Path) -> Farm:
    return Farm(tmp_path, installed)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the with block ends


def test_site_converges_with_one_facts_call_per_host_then_audit_reports_drift(farm: Farm) -> None:
    rc, output, tail = farm.run("sessionnet.virtual_ip.site")
    assert rc == 0, tail
    calls = farm.calls()
    for host in WINDOWS_HOSTS:
        assert calls[(host, "vip_info")] == 1, calls
    # one change call per feature per host: rds (+ citrix prefer-loopback on vda01) and the range binding
    assert calls[("rdsh01", "registry_state")] == 1 and calls[("rdsh01", "vip_address_state")] == 1
    assert calls[("vda01", "registry_state")] == 2
    stats = output["stats"]
    assert all(stats[h]["changed"] > 0 for h in WINDOWS_HOSTS)

    again_rc, again, tail = farm.run("sessionnet.virtual_ip.site")
    assert again_rc == 0, tail
    assert all(again["stats"][h]["changed"] == 0 for h in WINDOWS_HOSTS), again["stats"]

    before = farm.states()
    rc, output, tail = farm.run("sessionnet.virtual_ip.audit")
    assert rc == 0, tail  # everything in sync: exit 0
    report = task_result(output, "Write report.html and report.md into vip_report_dir")
    # ddc01 (the site policy) and the three session hosts; the DHCP server has no row: the ranges
    # reserved by site.yml need no new exclusion
    assert report["counts"] == {"in sync": 4, "drifted": 0, "failed": 0, "unreachable": 0}
    features = {(r["host"], r["feature"]) for r in report["rows"]}
    assert ("ddc01", "citrix_virtual_loopback (site policy)") in features
    assert {(h, f) for h in WINDOWS_HOSTS for f in ("rds_ip_virtualization", "vip_ranges")} <= features
    assert farm.states() == before, "audit.yml changed a host"
    assert all(farm.calls()[(h, "vip_info")] == 1 for h in WINDOWS_HOSTS)

    # Someone changes rdsh02 behind our back: per-program mode back to per-session.
    sim = simulator.Simulator(str(farm.state / "rdsh02.json"))
    sim.call(
        "registry_state",
        {
            "values": [
                {
                    "path": r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP",
                    "name": "VirtualMode",
                    "type": "dword",
                    "data": "0",
                    "state": "present",
                    "view": "64",
                }
            ],
            "keys_absent": [],
        },
    )
    # ... a workstation that cannot do RD IP Virtualization, and a real Windows host nobody can reach.
    farm.add_host(
        "rds_ip_virtualization",
        "wks01",
        {
            "sessionnet_simulated_windows_state": str(farm.state / "wks01.json"),
            "sessionnet_simulated_windows_profile": "workstation",
        },
    )
    farm.add_host(
        "rds_ip_virtualization",
        "gone01",
        {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": _closed_port(),
            "ansible_user": "nobody",
            "ansible_shell_type": "powershell",
            "ansible_ssh_timeout": 5,
        },
    )
    drifted = farm.states()
    rc, output, tail = farm.run("sessionnet.virtual_ip.audit")
    assert rc == 2, tail  # drift (and failures) found
    report = task_result(output, "Write report.html and report.md into vip_report_dir")
    assert report["counts"] == {"in sync": 3, "drifted": 1, "failed": 1, "unreachable": 1}, report["rows"]
    assert {u["host"] for u in report["usage"]} == {*WINDOWS_HOSTS, "wks01", "gone01"}
    assert report["failed_hosts"] == ["wks01"] and report["unreachable_hosts"] == ["gone01"]
    row = next(r for r in report["rows"] if r["host"] == "rdsh02" and r["feature"] == "rds_ip_virtualization")
    assert row["state"] == "drifted"
    mode = [v for v in row["values"] if v["name"].endswith("VirtualMode")]
    assert mode == [{"name": mode[0]["name"], "before": "0x00000000 (dword)", "after": "0x00000001 (dword)"}]
    assert farm.states() == {k: v for k, v in farm.states().items() if k in drifted or k == "wks01.json"}
    assert {k: v for k, v in farm.states().items() if k in drifted} == drifted, "audit.yml changed a host"
    md = (farm.report / "report.md").read_text(encoding="utf-8")
    assert "| 3 | 1 | 1 | 1 |" in md and "0x00000000 (dword) → 0x00000001 (dword)" in md
    apps = {a["exe"]: a for a in report["applications"]}
    assert apps[r"C:\Program Files\CTI\ctiagent.exe"]["recommendation"] == "virtual_ip"
    assert apps[r"C:\Program Files\CRM\crmclient.exe"]["recommendation"] == "virtual_loopback"
    assert apps[r"C:\Program Files\Browser\browser.exe"]["candidate"] is True
    check_report_in_chromium(farm.report / "report.html", report["counts"], farm.tmp)


def test_audit_reads_the_agents_usage_and_says_when_a_host_has_none(
    farm: Farm, tmp_path: pathlib.Path
) -> None:
    """A real engine (vipctl serve, allocator only) on one Linux host; another host has no agent."""
    socket_path = tmp_path / "engine" / "control.sock"
    config = tmp_path / "engine.yml"
    (tmp_path / "engine" / "state").mkdir(parents=True)
    config.write_text(
        yaml.safe_dump(
            {
                "pool": ["198.51.100.10-198.51.100.19"],
                "state_dir": str(tmp_path / "engine" / "state"),
                "control_socket": str(socket_path),
                "session_provider": "engine",
                "data_plane": {"enabled": False},
            }
        )
    )
    vipctl = pathlib.Path(sys.executable).parent / "vipctl"
    engine = subprocess.Popen(
        [str(vipctl), "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_engine(socket_path, engine)
        subprocess.run(
            [str(vipctl), "--socket", str(socket_path), "allocate", "7", "--user", "alice"],
            check=True,
            capture_output=True,
            text=True,
        )
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        farm.add_host(
            "vip_agent",
            "lx-agent",
            dict(local, vip_agent_venv=str(vipctl.parent.parent), vip_agent_control_socket=str(socket_path)),
        )
        farm.add_host("vip_agent", "lx-bare", dict(local, vip_agent_venv=str(tmp_path / "no-venv")))
        # a simulated Windows host: its agent is read over the named pipe on real hosts only
        farm.add_host(
            "vip_agent", "win-sim", dict(local, sessionnet_simulated_windows_state=str(farm.state / "win-sim.json"))
        )
        farm.inventory["all"]["children"]["rds_ip_virtualization"]["children"] = {}
        farm.inventory["all"]["children"]["citrix_virtual_loopback"]["hosts"] = {}
        farm.inventory["all"]["children"]["vip_ranges"]["children"] = {}
        rc, output, tail = farm.run("sessionnet.virtual_ip.audit", "-e", "vip_audit_applications=false")
    finally:
        engine.terminate()
        engine.wait()
    report = task_result(output, "Write report.html and report.md into vip_report_dir")
    usage = {u["host"]: u for u in report["usage"]}
    assert usage["lx-agent"]["agent"] is True
    assert (usage["lx-agent"]["pool_size"], usage["lx-agent"]["in_use"]) == (10, 1)
    assert usage["lx-bare"]["agent"] is False and usage["lx-bare"]["msg"].startswith("no agent")
    assert usage["win-sim"]["agent"] is False
    assert usage["win-sim"]["msg"] == "simulated Windows host: the agent status is read on real hosts"
    assert report["hosts"] == {"lx-agent": "in sync", "lx-bare": "drifted", "win-sim": "in sync"}
    assert rc == 2, tail


def _wait_for_engine(path: pathlib.Path, proc: subprocess.Popen[str]) -> None:
    """Poll until the engine accepts a connection (bounded; fails fast if it exited)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"vipctl serve exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(str(path))
                return
            except OSError:
                pass
        time.sleep(0.02)  # poll interval, not synchronisation: the loop re-checks the condition
    raise AssertionError(f"engine socket {path} not ready within 30 s")


# --- the report in a real browser -----------------------------------------------------------


class _Counts(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if (a.get("id") or "").startswith("count-"):
            self._in = str(a["id"])[6:].replace("-", " ")
        elif self._in and a.get("class") == "n":
            pass

    def handle_data(self, data: str) -> None:
        if self._in and data.strip().isdigit() and self._in not in self.counts:
            self.counts[self._in] = int(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in = None


def _chromium(tmp: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    profile = tmp / f"chromium-profile-{len(list(tmp.glob('chromium-profile-*')))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def check_report_in_chromium(page: pathlib.Path, counts: dict[str, int], tmp: pathlib.Path) -> None:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (requirements/debian-packages.txt lists it)")
    dom = _chromium(tmp, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Counts()
    parser.feed(dom.stdout)
    assert parser.counts == counts, "the counts chromium shows differ from the play's"
    shot = tmp / "report.png"
    done = _chromium(tmp, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert pngcheck.drawn_fraction(data) > 0.02, "the screenshot of the report is blank"
    assert pngcheck.has_colour(data, (0x1A, 0x7F, 0x37)), "the green 'in sync' box is not drawn"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_blank_page_check_sees_a_blank_page(tmp_path: pathlib.Path) -> None:
    """The screenshot check is not vacuous: an empty page fails it."""
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    shot = tmp_path / "blank.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", blank.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert pngcheck.drawn_fraction(shot.read_bytes()) < 0.02


def test_site_fails_a_host_whose_feature_fails(farm: Farm) -> None:
    """site.yml does not swallow failures the way audit.yml reports them: the run exits non-zero."""
    for group in ("citrix_virtual_loopback", "vip_ranges"):
        farm.inventory["all"]["children"][group] = {"hosts": {}}
    farm.inventory["all"]["children"]["rds_ip_virtualization"]["children"] = {}
    farm.add_host(
        "rds_ip_virtualization",
        "wks01",
        {
            "sessionnet_simulated_windows_state": str(farm.state / "wks01.json"),
            "sessionnet_simulated_windows_profile": "workstation",
        },
    )
    rc, output, tail = farm.run("sessionnet.virtual_ip.site")
    assert rc == 2, tail
    assert output["stats"]["wks01"]["failures"] == 1
    failed = task_result(output, "Fail the host (site.yml; audit.yml reports it instead)")
    assert "rds_ip_virtualization failed" in failed["msg"] and "not a Windows Server edition" in failed["msg"]
