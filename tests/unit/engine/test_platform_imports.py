"""Every module of sessionnet_vip imports where the POSIX-only names do not exist.

A subprocess removes what Windows CPython does not define (``AF_UNIX``, ``SO_PEERCRED``,
``socketserver.UnixStreamServer``, ``os.geteuid``/``getuid``/``fork``/``setsid``, POSIX
signals; ``fcntl``, ``termios``, ``pwd``, ``grp``, ``resource`` unimportable), sets
``sys.platform`` to ``"win32"`` and imports each module. Modules that are Linux only by design
(``engine/linux/*``) are listed in :data:`LINUX_ONLY` and must not be imported there at all.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import sessionnet_vip
from sessionnet_vip.addressing import virtual_loopback_address

#: Linux only by design: never imported on Windows (the platform selector picks engine.windows).
LINUX_ONLY = frozenset(
    {
        "sessionnet_vip.engine.linux",
        "sessionnet_vip.engine.linux.agentplane",
        "sessionnet_vip.engine.linux.assigner",
        "sessionnet_vip.engine.linux.bpfsys",
        "sessionnet_vip.engine.linux.cgroups",
        "sessionnet_vip.engine.linux.client",
        "sessionnet_vip.engine.linux.dataplane",
        "sessionnet_vip.engine.linux.lab",
        "sessionnet_vip.engine.linux.libbpf",
        "sessionnet_vip.engine.linux.procevents",
        "sessionnet_vip.engine.linux.procexe",
        "sessionnet_vip.engine.linux.programs",
        "sessionnet_vip.engine.linux.transport",
    }
)


def all_modules() -> list[str]:
    found = ["sessionnet_vip"]
    found += [m.name for m in pkgutil.walk_packages(sessionnet_vip.__path__, "sessionnet_vip.")]
    return sorted(found)


MODULES = [m for m in all_modules() if m not in LINUX_ONLY]

#: Runs in a fresh interpreter: the stdlib and third-party modules are imported as on Linux
#: first (they are not ours to test), then the POSIX-only names go and the platform is Windows.
_SCRIPT = textwrap.dedent(
    """
    import argparse, ctypes, importlib, io, json, logging, os, platform, select, shutil, signal
    import socket, socketserver, sqlite3, subprocess, sys, tempfile, threading, yaml
    import contextlib, traceback

    for mod, names in {
        socket: ("AF_UNIX", "SO_PEERCRED"),
        socketserver: ("UnixStreamServer", "UnixDatagramServer", "ThreadingUnixStreamServer",
                       "ForkingMixIn", "ForkingTCPServer"),
        os: ("geteuid", "getuid", "getgid", "fork", "setsid", "pidfd_open", "pwrite",
             "WIFEXITED", "WEXITSTATUS", "sched_getaffinity"),
        signal: ("SIGHUP", "SIGQUIT", "SIGKILL", "SIGTRAP", "SIGSTOP", "SIGCONT"),
    }.items():
        for name in names:
            if hasattr(mod, name):
                delattr(mod, name)
    for name in ("fcntl", "termios", "pwd", "grp", "resource"):
        sys.modules[name] = None
    sys.platform = "win32"

    results = {}
    for name in json.loads(sys.argv[1]):
        try:
            importlib.import_module(name)
        except BaseException as exc:
            results[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        else:
            results[name] = "ok"
    linux_loaded = sorted(m for m in sys.modules if m.startswith("sessionnet_vip.engine.linux"))

    from sessionnet_vip import cli
    from sessionnet_vip.engine import platform as engine_platform
    from sessionnet_vip.errors import VipError

    try:
        selector = engine_platform.transport().__name__
        agentplane = engine_platform.platform_module("agentplane").__name__
        default_address = engine_platform.transport().default_address()
    except VipError as exc:
        selector = agentplane = default_address = "VipError: " + str(exc)
    for name in ("win32service", "win32serviceutil", "servicemanager", "pywintypes"):
        sys.modules[name] = None  # pywin32 is not installed here

    def run_cli(argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
        return {"code": code, "out": out.getvalue(), "err": err.getvalue()}

    print(json.dumps({
        "imports": results,
        "linux_loaded": linux_loaded,
        "selector": selector,
        "agentplane": agentplane,
        "default_address": default_address,
        "service": run_cli(["service", "status"]),
        "help": run_cli(["--help"]),
        "loopback": run_cli(["loopback", "5"]),
        "status": run_cli(["status", "--socket", "sessionnet-vip"]),
    }))
    """
)


@pytest.fixture(scope="module")
def windows_run() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(MODULES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_linux_only_list_names_real_modules() -> None:
    """The exclusion list is exactly the engine.linux package: nothing else is skipped."""
    assert sorted(LINUX_ONLY) == [m for m in all_modules() if m.startswith("sessionnet_vip.engine.linux")]
    assert "sessionnet_vip.engine.server" in MODULES
    assert "sessionnet_vip.engine.agent" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_without_posix(windows_run: dict[str, Any], module: str) -> None:
    assert windows_run["imports"][module] == "ok"


def test_no_linux_module_is_imported_on_windows(windows_run: dict[str, Any]) -> None:
    assert windows_run["linux_loaded"] == []


def test_selector_picks_the_windows_modules(windows_run: dict[str, Any]) -> None:
    assert windows_run["selector"] == "sessionnet_vip.engine.windows.transport"
    assert windows_run["agentplane"] == "sessionnet_vip.engine.windows.agentplane"
    assert windows_run["default_address"] == "\\\\.\\pipe\\sessionnet-vip"


def test_vipctl_starts_on_windows(windows_run: dict[str, Any]) -> None:
    assert windows_run["help"]["code"] == 0
    assert "loopback" in windows_run["help"]["out"]
    assert windows_run["loopback"]["code"] == 0
    assert windows_run["loopback"]["out"].strip() == str(virtual_loopback_address(5))


def test_engine_request_on_windows_is_a_clear_error(windows_run: dict[str, Any]) -> None:
    """Here no kernel32 can be loaded: the pipe client's failure is the 'cannot reach' error."""
    status = windows_run["status"]
    assert status["code"] != 0
    assert "cannot reach the engine at sessionnet-vip" in status["err"]
    assert "Traceback" not in status["err"]


def test_service_without_pywin32_names_the_extra(windows_run: dict[str, Any]) -> None:
    service = windows_run["service"]
    assert service["code"] == 2
    assert "sessionnet-vip[windows]" in service["err"] and "Traceback" not in service["err"]
