"""Make the collection importable as ``ansible_collections.sessionnet.virtual_ip`` in tests."""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
_FARM = ROOT / ".work" / "pytest-collections"
_LINK = _FARM / "ansible_collections" / "sessionnet" / "virtual_ip"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(ROOT, _LINK)
if str(_FARM) not in sys.path:
    sys.path.insert(0, str(_FARM))
