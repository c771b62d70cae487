"""citrix_policy_state.ps1: what is particular to the Citrix provider.

Its option spec (== docs == simulator SPECS) and its check-mode guards are checked with every
other ``.ps1`` by test_windows_contract.py (with ps_spec.py, not a second spec parser here).
"""

from __future__ import annotations

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODULES = ROOT / "plugins" / "modules"


def test_ps1_writes_back_once_and_loads_both_provider_packagings() -> None:
    text = (MODULES / "citrix_policy_state.ps1").read_text(encoding="utf-8")
    source = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    # AutoWriteBack off before the first write, one Save(): a failure part way saves nothing.
    assert source.count(".Save()") == 1
    assert source.index("AutoWriteBack = $false") < source.index("New-Item")
    assert "Citrix.GroupPolicy.Commands" in source and "Citrix.Common.GroupPolicy" in source
