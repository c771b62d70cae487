"""Run the Molecule scenario of the rds_ip_virtualization role (simulated hosts) as part of the tests."""

from __future__ import annotations

import os
import re

import pytest

from .conftest import RunMolecule


def test_molecule_rds_ip_virtualization_simulated(run_molecule: RunMolecule) -> None:
    run = run_molecule("rds_ip_virtualization", timeout=600)
    run.assert_passed("converge", "idempotence", "verify")
    out = run.output
    # The Windows 10 multi-session host was refused (rescued) in both converge runs.
    assert len(re.findall(r"win10ms\s*: ok=\d+\s+changed=0 .*rescued=1", out)) == 2, out[-4000:]
    assert "Windows 10 Enterprise multi-session (EditionID ServerRdsh" in out
    assert "not restarted: simulated host" in out


@pytest.mark.skipif(
    not os.environ.get("SESSIONNET_WINDOWS_INVENTORY"),
    reason="real-host scenario: set SESSIONNET_WINDOWS_INVENTORY to an inventory of a disposable "
    "Windows Server RD Session Host (see extensions/molecule/README.md)",
)
def test_molecule_rds_ip_virtualization_windows(run_molecule: RunMolecule) -> None:
    run_molecule("rds_ip_virtualization_windows", timeout=3600).assert_passed(
        "converge", "idempotence", "verify"
    )
