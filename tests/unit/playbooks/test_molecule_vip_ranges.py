"""Run the Molecule scenario extensions/molecule/vip_ranges (a simulated farm) as the test command does."""

from __future__ import annotations

from .conftest import RunMolecule


def test_molecule_vip_ranges(run_molecule: RunMolecule) -> None:
    # idempotence passing means the second converge changed nothing.
    run_molecule("vip_ranges", extra_env={"MOLECULE_NO_LOG": "false"}).assert_passed(
        "converge", "idempotence", "side_effect", "verify"
    )
