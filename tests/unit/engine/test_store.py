from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import APPLICATION_ID, SCHEMA_VERSION, LeaseStore, StoreError, read_boot_id


def test_new_store_is_stamped_and_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    LeaseStore.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopen_keeps_leases(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    pool = Pool.parse(["198.51.100.10-198.51.100.20"])
    with LeaseStore.open(path) as store:
        Allocator(store, pool, boot_id="b").allocate(4, "alice", owner_uid=1000, owner_pid=4242)
    with LeaseStore.open(path) as store:
        (lease,) = store.leases()
    assert (lease.session_id, lease.user, lease.owner_uid, lease.owner_pid, lease.boot_id) == (
        4,
        "alice",
        1000,
        4242,
        "b",
    )
    assert lease.allocated_at > 0


def _refused_unchanged(path: Path, message: str) -> None:
    before = path.read_bytes()
    with pytest.raises(StoreError, match=message):
        LeaseStore.open(path)
    assert path.read_bytes() == before


def test_not_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    path.write_bytes(b"these are somebody's notes, not a database\n" * 100)
    _refused_unchanged(path, "not a lease store")


def test_foreign_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos(name) VALUES ('cat.jpg')")
    conn.commit()
    conn.close()
    _refused_unchanged(path, "another application")


def test_other_application_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    _refused_unchanged(path, "application_id 0x4d2")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    LeaseStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    _refused_unchanged(path, "schema version")


def test_corrupted_store_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    pool = Pool.parse(["198.51.100.0/24"])
    with LeaseStore.open(path) as store:
        alloc = Allocator(store, pool, boot_id="b")
        for sid in range(1, 201):
            alloc.allocate(sid, f"user{sid}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    for offset in range(page + 16, 3 * page, 7):  # scribble over b-tree pages, keep the header
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    _refused_unchanged(path, "corrupted|not a lease store|cannot be used")


def test_empty_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite3"
    path.touch()
    with LeaseStore.open(path) as store:
        assert store.leases() == []


def test_missing_file_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        LeaseStore.open(tmp_path / "none.sqlite3", create=False)
    assert not (tmp_path / "none.sqlite3").exists()


def test_directory_at_store_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a regular file"):
        LeaseStore.open(tmp_path)


def test_boot_id(tmp_path: Path) -> None:
    assert read_boot_id(tmp_path / "nothing") == "unknown"
    f = tmp_path / "boot_id"
    f.write_text("abc-123\n")
    assert read_boot_id(f) == "abc-123"


def test_sync_level_is_normal_in_wal_and_selectable(tmp_path: Path) -> None:
    """NORMAL (1) by default: survives an engine crash (docs/engine.md, "Crash safety")."""
    levels = {"NORMAL": 1, "FULL": 2, "OFF": 0}
    with LeaseStore.open(tmp_path / "default.sqlite3") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == levels["NORMAL"]
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for name, number in levels.items():
        with LeaseStore.open(tmp_path / f"{name}.sqlite3", synchronous=name) as store:
            assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == number
    with pytest.raises(StoreError, match="synchronous"):
        LeaseStore.open(tmp_path / "bad.sqlite3", synchronous="EXTRA; DROP TABLE leases")
    assert not (tmp_path / "bad.sqlite3").exists()


def test_checkpoints_run_in_their_own_thread_and_commits_survive(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    store = LeaseStore.open(path)
    alloc = Allocator(store, Pool.parse(["10.0.0.1-10.0.0.100"]), hold_seconds=0, boot_id="b")
    store.start_checkpointer(interval=0.001)
    assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # none inside commits
    got = {sid: alloc.allocate(sid).vip for sid in range(1, 51)}
    store.checkpointed.clear()
    assert store.checkpointed.wait(30), "the checkpoint thread never ran"
    probe = sqlite3.connect(path)
    try:  # the thread copied the WAL back: a checkpoint now has nothing left to copy
        busy, frames, copied = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and frames == copied
    finally:
        probe.close()
    store.stop_checkpointer()
    assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    store.close()
    with LeaseStore.open(path) as again:
        assert {lease.session_id: lease.address for lease in again.leases(include_held=False)} == got
