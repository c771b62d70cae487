"""The real-host Molecule scenario vip_ranges_windows; skipped unless SESSIONNET_WINDOWS_INVENTORY names an inventory."""

from __future__ import annotations

import os

import pytest

from .conftest import RunMolecule


@pytest.mark.skipif(
    not os.environ.get("SESSIONNET_WINDOWS_INVENTORY"),
    reason="no Windows farm: set SESSIONNET_WINDOWS_INVENTORY to an inventory file",
)
def test_molecule_vip_ranges_windows(run_molecule: RunMolecule) -> None:
    run_molecule("vip_ranges_windows", timeout=3600).assert_passed("converge", "idempotence", "verify")
