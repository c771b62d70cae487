from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore

REPO = Path(__file__).resolve().parents[3]


def env_int(name: str, default: int) -> int:
    """Counts of the heavy tests; bench/engine_soak.py raises them."""
    return int(os.environ.get(name, default))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LeaseStore]:
    s = LeaseStore.open(tmp_path / "leases.sqlite3")
    yield s
    s.close()


@pytest.fixture
def small_pool() -> Pool:
    return Pool.parse(["198.51.100.10-198.51.100.12"])
