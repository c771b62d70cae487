"""Run ``molecule test -s vip_agent``: the role on this machine, real engine, real kernel hooks.

Skips, with the reason, only when the kernel or the rights are missing (not root, no cgroup
v2 / bpf() refused, no network namespaces, molecule not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sessionnet_vip.engine.linux import DataPlane

from .conftest import RunMolecule

BIN = Path(sys.executable).parent


def _prerequisites() -> str | None:
    if os.geteuid() != 0:
        return "the vip_agent scenario needs root (network namespace, cgroups, bpf())"
    probe = DataPlane.probe()
    if not probe.ok:
        return f"kernel data plane unavailable: {probe.reason}"
    if not (BIN / "molecule").exists() and shutil.which("molecule") is None:
        return "molecule is not installed (pip install molecule)"
    name = f"snv-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], check=False)
    return None


def test_molecule_vip_agent(run_molecule: RunMolecule) -> None:
    reason = _prerequisites()
    if reason is not None:
        pytest.skip(reason)
    # package_on_path=False: the engine must run from the venv the role installs.
    run_molecule("vip_agent", package_on_path=False).assert_passed("converge", "idempotence", "verify")
