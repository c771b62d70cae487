"""Run the Molecule scenarios of the Citrix virtual loopback role as the test command's part."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / ".work" / "pytest-collections"
BIN = pathlib.Path(sys.executable).parent


def molecule(scenario: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = BIN / "molecule"
    if not exe.exists():
        found = shutil.which("molecule")
        assert found, "molecule is a dev dependency (pyproject [dev]); install it"
        exe = pathlib.Path(found)
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p),
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_NOCOLOR": "1",
            "NO_COLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PY_COLORS": "0",
        }
    )
    env.update(extra_env or {})
    return subprocess.run(
        [str(exe), "test", "-s", scenario],
        cwd=ROOT / "extensions",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_molecule_simulated_scenario_converges_idempotently_and_verifies() -> None:
    proc = molecule("citrix_virtual_loopback")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    for action in ("prepare", "converge", "idempotence", "verify"):
        assert re.search(rf"citrix_virtual_loopback \S+ {action}: Executed: Successful", plain), (
            f"{action} did not run successfully:\n{plain[-4000:]}"
        )


@pytest.mark.skipif(
    not os.environ.get("SESSIONNET_WINDOWS_INVENTORY"),
    reason="real Windows/Citrix hosts: set SESSIONNET_WINDOWS_INVENTORY to an inventory with ddc, vda_rdvip, vda_plain",
)
def test_molecule_real_hosts_scenario() -> None:
    proc = molecule("citrix_virtual_loopback_windows")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
