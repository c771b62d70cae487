"""Run the Molecule scenarios of the Citrix virtual loopback role as the test command's part."""

from __future__ import annotations

import os

import pytest

from .conftest import RunMolecule


def test_molecule_simulated_scenario_converges_idempotently_and_verifies(run_molecule: RunMolecule) -> None:
    run_molecule("citrix_virtual_loopback").assert_passed("prepare", "converge", "idempotence", "verify")


@pytest.mark.skipif(
    not os.environ.get("SESSIONNET_WINDOWS_INVENTORY"),
    reason="real Windows/Citrix hosts: set SESSIONNET_WINDOWS_INVENTORY to an inventory with ddc, vda_rdvip, vda_plain",
)
def test_molecule_real_hosts_scenario(run_molecule: RunMolecule) -> None:
    run_molecule("citrix_virtual_loopback_windows", timeout=3600).assert_passed(
        "converge", "idempotence", "verify"
    )
