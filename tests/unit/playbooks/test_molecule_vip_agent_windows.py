"""Run the Molecule scenarios of the vip_agent role's Windows path: simulated hosts always, a real
Windows host when one is given."""

from __future__ import annotations

import os

import pytest

from .conftest import RunMolecule


def test_molecule_vip_agent_windows_simulated(run_molecule: RunMolecule) -> None:
    run = run_molecule("vip_agent_windows_simulated", timeout=900)
    run.assert_passed("converge", "idempotence", "verify", "side_effect")
    assert "SIMULATED host rdsh01: nothing was installed" in run.output
    assert "has no viprun.exe" in run.output or "(present)" in run.output


@pytest.mark.skipif(
    not os.environ.get("SESSIONNET_WINDOWS_AGENT_INVENTORY"),
    reason="real-host scenario: set SESSIONNET_WINDOWS_AGENT_INVENTORY to an inventory of a disposable "
    "Windows Server RD Session Host with Python 3.12 (see extensions/molecule/README.md)",
)
def test_molecule_vip_agent_windows(run_molecule: RunMolecule) -> None:
    run_molecule("vip_agent_windows", timeout=3600).assert_passed("converge", "idempotence", "verify")
