"""sessionnet.virtual_ip.vip_app_audit through real ansible-playbook: on this Linux machine (the
/proc collector sent to the host) with a real socat listener, and on a simulated Windows host."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

SOCAT = shutil.which("socat")


def _new_session() -> None:
    with open("/proc/self/loginuid", "w", encoding="ascii") as handle:
        handle.write(str(os.getuid()))


def _free_port() -> int:
    with socket.socket() as probe:
        for port in range(21000, 29000, 37):
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port")


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, str]]:
    if SOCAT is None:
        pytest.skip("needs the Debian package socat")
    if os.geteuid() != 0:
        pytest.skip("reading every process's sockets and setting a login UID needs root")
    port = _free_port()
    try:
        proc = subprocess.Popen(
            [SOCAT, "-d", "-d", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "SYSTEM:cat"],
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_new_session,
        )
    except OSError as exc:
        pytest.skip(f"cannot start a process in a new audit session: {exc}")
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening on" in line:
            break
    try:
        yield port, os.path.realpath(SOCAT)
    finally:
        proc.kill()
        proc.wait()


def local() -> dict[str, Any]:
    return {
        "all": {
            "hosts": {"here": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
        }
    }


def test_linux_host_real_listener(run_playbook: Any, loopback_server: tuple[int, str]) -> None:
    port, exe = loopback_server
    tasks = [
        {
            "name": "audit",
            "sessionnet.virtual_ip.vip_app_audit": {"samples": 2, "sample_interval": 0, "programs": [exe]},
            "register": "audit",
        },
        {
            "name": "probe",
            "sessionnet.virtual_ip.vip_app_audit": {
                "samples": 1,
                "programs": [exe],
                "probe": [{"argv": [exe, f"TCP-LISTEN:{port},bind=127.0.0.1", "SYSTEM:cat"], "timeout": 10}],
            },
        },
    ]
    run = run_playbook(tasks, local())
    assert run.rc == 0, run.stdout[-3000:]
    audit = run.result("audit")
    assert audit["platform"] == "linux" and audit["samples"] == 2 and audit["changed"] is False
    (prog,) = audit["programs"]
    assert prog["exe"] == exe and prog["recommendation"] == "virtual_loopback"
    assert prog["evidence"]["listeners"][0]["port"] == port
    assert audit["module_options"] == {
        "sessionnet.virtual_ip.vip_agent": {
            "vip_agent_processes": [{"path": exe, "mode": "virtual_loopback"}]
        }
    }
    (probe,) = run.result("probe")["probes"]
    assert probe["verdict"] == "conflict", probe


def test_simulated_windows_host_and_probe_refused(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    host = sim_host(tmp_path / "w.json", features=["rds"])
    host["sessionnet_simulated_windows_sockets"] = [
        {"exe": r"C:\App\srv.exe", "pid": 10, "session": 2, "local_address": "0.0.0.0", "local_port": 8080},
        {"exe": r"C:\App\srv.exe", "pid": 11, "session": 3, "local_address": "0.0.0.0", "local_port": 8080},
        {
            "exe": r"C:\App\tmp.exe",
            "pid": 12,
            "session": 2,
            "local_address": "0.0.0.0",
            "local_port": [50001, 50002],
        },
    ]
    tasks = [
        {"name": "audit", "sessionnet.virtual_ip.vip_app_audit": {"sample_interval": 0}},
        {
            "name": "probe",
            "sessionnet.virtual_ip.vip_app_audit": {"probe": [{"argv": [r"C:\App\srv.exe"]}]},
            "ignore_errors": True,
        },
    ]
    run = run_playbook(tasks, {"all": {"hosts": {"w": host}}})
    audit = run.result("audit")
    assert audit["simulated"] is True and audit["platform"] == "windows"
    found = {p["exe"]: p["recommendation"] for p in audit["programs"]}
    assert found == {r"C:\App\srv.exe": "virtual_ip", r"C:\App\tmp.exe": "none"}
    assert audit["module_options"]["sessionnet.virtual_ip.rds_ip_virtualization"]["programs"] == [
        r"C:\App\srv.exe"
    ]
    refused = run.result("probe")
    assert refused["failed"] and "probe" in refused["msg"] and "Windows" in refused["msg"]


def test_bad_simulated_sockets_name_the_variable(
    run_playbook: Any, sim_host: Any, tmp_path: pathlib.Path
) -> None:
    host = sim_host(tmp_path / "w.json", features=["rds"])
    host["sessionnet_simulated_windows_sockets"] = [
        {"exe": "x.exe", "pid": 1, "local_address": "0.0.0.0", "local_port": 70000}
    ]
    run = run_playbook(
        [{"name": "audit", "sessionnet.virtual_ip.vip_app_audit": {"sample_interval": 0}}],
        {"all": {"hosts": {"w": host}}},
    )
    assert run.rc != 0
    msg = run.result("audit")["msg"]
    assert "sessionnet_simulated_windows_sockets[0].local_port" in msg and "70000" in msg
    assert not (tmp_path / "w.json").exists()
