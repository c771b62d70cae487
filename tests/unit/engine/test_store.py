from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from sessionnet_vip.engine.allocator import Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import APPLICATION_ID, SCHEMA_VERSION, LeaseStore, StoreError, read_boot_id
from sessionnet_vip.errors import VipError


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


def _active(path: Path) -> dict[int | None, str]:
    """What another connection sees committed: session -> address of every active lease."""
    with LeaseStore.open(path) as other:
        return {lease.session_id: str(lease.address) for lease in other.leases(include_held=False)}


def test_batch_commits_its_operations_together(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    store = LeaseStore.open(path)
    alloc = Allocator(store, Pool.parse(["10.0.0.1-10.0.0.100"]), hold_seconds=0, boot_id="b")
    with store.batch():
        first = alloc.allocate(1, "alice")
        second = alloc.allocate(2, "bob")
        assert alloc.allocate(1, "alice").reused  # sees its own batch's changes
        # nothing is committed before the batch is: another connection sees no lease yet
        probe = sqlite3.connect(path)
        try:
            assert probe.execute("SELECT count(*) FROM leases").fetchone()[0] == 0
        finally:
            probe.close()
    assert _active(path) == {1: str(first.vip), 2: str(second.vip)}
    store.close()


def test_a_failing_operation_in_a_batch_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    store = LeaseStore.open(path)
    alloc = Allocator(store, Pool.parse(["10.0.0.1-10.0.0.100"]), hold_seconds=0, boot_id="b")
    with store.batch():
        kept = alloc.allocate(1, "alice")
        with pytest.raises(RuntimeError, match="cut"), store.transaction() as tx:
            tx.activate(int(kept.vip) + 1, 7, "mallory", None, None, "b", 0.0)  # type: ignore[arg-type]
            raise RuntimeError("cut")
        with pytest.raises(VipError, match="printable name"):
            alloc.allocate(3, "bad\nname")
        later = alloc.allocate(2, "bob")
    assert _active(path) == {1: str(kept.vip), 2: str(later.vip)}  # session 7's row is gone
    store.close()


def test_an_exception_out_of_a_batch_commits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    store = LeaseStore.open(path)
    alloc = Allocator(store, Pool.parse(["10.0.0.1-10.0.0.100"]), hold_seconds=0, boot_id="b")
    with pytest.raises(RuntimeError, match="stop"), store.batch():
        alloc.allocate(1, "alice")
        raise RuntimeError("stop")
    assert _active(path) == {}
    assert not store._conn.in_transaction
    assert alloc.allocate(1, "alice").vip is not None  # the store works on afterwards
    assert set(_active(path)) == {1}
    store.close()


def test_another_connection_commits_after_the_batch(tmp_path: Path) -> None:
    """A writer of another connection (another thread here) started while a batch is open waits
    for the batch's commit (SQLite's write lock, the busy timeout) and then sees its leases."""
    path = tmp_path / "leases.db"
    store = LeaseStore.open(path)
    other = LeaseStore.open(path)
    pool = Pool.parse(["10.0.0.1-10.0.0.100"])
    mine = Allocator(store, pool, hold_seconds=0, boot_id="b")
    theirs = Allocator(other, pool, hold_seconds=0, boot_id="b")
    done: list[object] = []
    with store.batch():
        mine.allocate(1, "alice")
        worker = threading.Thread(target=lambda: done.append(theirs.allocate(2, "bob")))
        worker.start()
    worker.join(60)
    assert not worker.is_alive() and len(done) == 1
    assert set(_active(path)) == {1, 2}
    assert len(set(_active(path).values())) == 2  # two addresses, not one twice
    other.close()
    store.close()
