"""The real-host Molecule scenario vip_ranges_windows; skipped unless SESSIONNET_WINDOWS_INVENTORY names an inventory."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
INVENTORY = os.environ.get("SESSIONNET_WINDOWS_INVENTORY", "")


@pytest.mark.skipif(
    not INVENTORY, reason="no Windows farm: set SESSIONNET_WINDOWS_INVENTORY to an inventory file"
)
def test_molecule_vip_ranges_windows() -> None:
    bindir = pathlib.Path(sys.executable).parent
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".work" / "pytest-collections"),
            "NO_COLOR": "1",
        }
    )
    proc = subprocess.run(
        [str(bindir / "molecule"), "test", "-s", "vip_ranges_windows"],
        cwd=ROOT / "extensions",
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "idempotence: Executed: Successful" in out
