"""Run the Molecule scenario extensions/molecule/vip_ranges (a simulated farm) as the test command does."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / ".work" / "pytest-collections"


def test_molecule_vip_ranges(tmp_path: pathlib.Path) -> None:
    bindir = pathlib.Path(sys.executable).parent
    molecule = bindir / "molecule"
    if not molecule.exists():
        found = shutil.which("molecule")
        if found is None:
            pytest.skip("molecule is not installed in this Python environment (pip install molecule)")
        molecule = pathlib.Path(found)
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "MOLECULE_NO_LOG": "false",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
            "PY_COLORS": "0",
        }
    )
    proc = subprocess.run(
        [str(molecule), "test", "-s", "vip_ranges"],
        cwd=ROOT / "extensions",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # Every step of the sequence ran and passed; idempotence means the second converge changed nothing.
    for step in ("converge", "idempotence", "side_effect", "verify"):
        assert f"{step}: Executed: Successful" in out, (step, out[-4000:])
