"""The lease store: one SQLite file, WAL journal, one transaction per operation (or per batch
of operations that arrive together, :meth:`LeaseStore.batch`).

Safety rules, in the order :func:`LeaseStore.open` applies them:

* a file that is not SQLite, is a SQLite file of another application (``application_id``),
  has an unknown schema version or fails ``PRAGMA quick_check`` is **refused** and left
  byte-for-byte as it was: the engine never overwrites what it did not write;
* an empty file (or a new path) is initialised in one ``BEGIN IMMEDIATE`` transaction that
  also stamps ``application_id`` and ``user_version``, so a crash leaves either nothing or a
  whole schema;
* every change runs in ``BEGIN IMMEDIATE`` ... ``COMMIT`` with ``synchronous=NORMAL``: a
  committed transaction is in the WAL file (the operating system's page cache) before
  ``COMMIT`` returns, so it survives ``kill -9`` and any crash of the engine, and several
  processes may share the file (SQLite's locks serialise the writers, ``busy_timeout`` makes
  them wait). What NORMAL gives up is the last transactions before a *power cut* or kernel
  crash (the WAL is synced at checkpoints, not per commit); the database stays consistent.
  Leases of an earlier boot are reclaimed at start anyway, so a lease never has to outlive the
  machine, only the engine: see "Crash safety" in docs/engine.md and
  https://www.sqlite.org/pragma.html#pragma_synchronous.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

#: ``PRAGMA application_id`` of a lease store: ASCII ``SVIP``.
APPLICATION_ID: Final = 0x53564950
#: ``PRAGMA user_version``: the schema version this code reads and writes.
SCHEMA_VERSION: Final = 1
#: How long a writer waits for another process's transaction, in seconds.
BUSY_TIMEOUT: Final = 60.0

#: SQLite sync levels :meth:`LeaseStore.open` accepts, and the default (see the module docstring).
SYNC_LEVELS: Final = ("NORMAL", "FULL", "OFF")
DEFAULT_SYNCHRONOUS: Final = "NORMAL"

BOOT_ID_PATH: Final = Path("/proc/sys/kernel/random/boot_id")

_SCHEMA: Final = (
    """CREATE TABLE leases (
        address      INTEGER PRIMARY KEY,
        session_id   INTEGER,
        state        TEXT NOT NULL CHECK (state IN ('active', 'held')),
        user         TEXT,
        owner_uid    INTEGER,
        owner_pid    INTEGER,
        boot_id      TEXT NOT NULL,
        allocated_at REAL NOT NULL,
        updated_at   REAL NOT NULL,
        released_at  REAL,
        hold_until   REAL,
        CHECK ((state = 'active') = (session_id IS NOT NULL)),
        CHECK (state = 'active' OR hold_until IS NOT NULL)
    )""",
    "CREATE UNIQUE INDEX leases_by_session ON leases(session_id) WHERE session_id IS NOT NULL",
    "CREATE INDEX leases_by_user ON leases(user, state) WHERE user IS NOT NULL",
    "CREATE INDEX leases_by_hold ON leases(hold_until) WHERE state = 'held'",
    """CREATE TABLE affinity (
        user        TEXT PRIMARY KEY,
        address     INTEGER NOT NULL,
        released_at REAL NOT NULL
    )""",
    """CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        at         REAL NOT NULL,
        kind       TEXT NOT NULL,
        session_id INTEGER,
        user       TEXT,
        message    TEXT NOT NULL
    )""",
    "CREATE INDEX events_by_kind ON events(kind)",
)


class StoreError(VipError):
    """The lease store file cannot be used (foreign, corrupted, newer schema, locked)."""


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's boot ID (Linux), or ``"unknown"`` where the platform has none."""
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass(frozen=True)
class Lease:
    """One row of the store: an address held by a live session (``active``) or kept
    for affinity after release (``held``, ``session_id`` is ``None``)."""

    address: ipaddress.IPv4Address
    session_id: int | None
    state: str
    user: str | None
    owner_uid: int | None
    owner_pid: int | None
    boot_id: str
    allocated_at: float
    updated_at: float
    released_at: float | None
    hold_until: float | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Lease:
        return cls(ipaddress.IPv4Address(row[0]), *row[1:])

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "session_id": self.session_id,
            "state": self.state,
            "user": self.user,
            "owner_uid": self.owner_uid,
            "owner_pid": self.owner_pid,
            "boot_id": self.boot_id,
            "allocated_at": self.allocated_at,
            "updated_at": self.updated_at,
            "released_at": self.released_at,
            "hold_until": self.hold_until,
        }


LEASE_COLUMNS: Final = (
    "address, session_id, state, user, owner_uid, owner_pid, boot_id, "
    "allocated_at, updated_at, released_at, hold_until"
)


_BY_SESSION: Final = f"SELECT {LEASE_COLUMNS} FROM leases WHERE session_id = ?"
_BY_ADDRESS: Final = f"SELECT {LEASE_COLUMNS} FROM leases WHERE address = ?"


def _ranges_clause(bounds: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """SQL ``(address BETWEEN ? AND ?) OR ...`` for the pool's intervals."""
    if len(bounds) == 1:  # the common pool: one range
        return "(address BETWEEN ? AND ?)", list(bounds[0])
    if not bounds:
        return "0", []
    params: list[int] = []
    for lo, hi in bounds:
        params += [lo, hi]
    return "(" + " OR ".join(["address BETWEEN ? AND ?"] * len(bounds)) + ")", params


class Transaction:
    """Queries available inside :meth:`LeaseStore.transaction` (one ``BEGIN IMMEDIATE``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Lease | None:
        row = self._conn.execute(f"SELECT {LEASE_COLUMNS} FROM leases WHERE {sql}", params).fetchone()
        return None if row is None else Lease.from_row(row)

    def active_lease(self, session_id: int) -> Lease | None:
        row = self._conn.execute(_BY_SESSION, (session_id,)).fetchone()
        return None if row is None else Lease.from_row(row)

    def lease_at(self, address: int) -> Lease | None:
        row = self._conn.execute(_BY_ADDRESS, (address,)).fetchone()
        return None if row is None else Lease.from_row(row)

    def held_for_user(self, user: str, bounds: Sequence[tuple[int, int]]) -> Lease | None:
        clause, params = _ranges_clause(bounds)
        return self._one(
            f"user = ? AND state = 'held' AND {clause} ORDER BY address LIMIT 1", [user, *params]
        )

    def affinity(self, user: str) -> int | None:
        row = self._conn.execute("SELECT address FROM affinity WHERE user = ?", (user,)).fetchone()
        return None if row is None else int(row[0])

    def purge_expired_holds(self, now: float) -> int:
        return self._conn.execute(
            "DELETE FROM leases WHERE state = 'held' AND hold_until <= ?", (now,)
        ).rowcount

    def first_free(self, bounds: Sequence[tuple[int, int]]) -> int | None:
        """A free address of the intervals (interval math over the index; no per-address set).

        Per interval, cheapest first: its first address; one past its highest leased address
        (O(log n), the common case while a pool fills); else the end of the occupied run
        that starts at the first address (a scan, only once the top of the range is taken).
        """
        for lo, hi in bounds:
            if self._conn.execute("SELECT 1 FROM leases WHERE address = ?", (lo,)).fetchone() is None:
                return lo
            top = self._conn.execute(
                "SELECT max(address) FROM leases WHERE address BETWEEN ? AND ?", (lo, hi)
            ).fetchone()[0]
            if top is not None and top < hi:
                return int(top) + 1
            row = self._conn.execute(
                "SELECT a.address + 1 FROM leases AS a WHERE a.address >= ? AND a.address < ? "
                "AND NOT EXISTS (SELECT 1 FROM leases AS b WHERE b.address = a.address + 1) "
                "ORDER BY a.address LIMIT 1",
                (lo, hi),
            ).fetchone()
            if row is not None:
                return int(row[0])
        return None

    def activate(
        self,
        address: int,
        session_id: int,
        user: str | None,
        owner_uid: int | None,
        owner_pid: int | None,
        boot_id: str,
        now: float,
    ) -> None:
        """Give ``address`` to ``session_id``: a new row, or a held row taken over."""
        changed = self._conn.execute(
            "INSERT INTO leases (address, session_id, state, user, owner_uid, owner_pid, boot_id, "
            "allocated_at, updated_at) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(address) DO UPDATE SET session_id = excluded.session_id, state = 'active', "
            "user = excluded.user, owner_uid = excluded.owner_uid, owner_pid = excluded.owner_pid, "
            "boot_id = excluded.boot_id, allocated_at = excluded.allocated_at, "
            "updated_at = excluded.updated_at, released_at = NULL, hold_until = NULL "
            "WHERE leases.state = 'held'",
            (address, session_id, user, owner_uid, owner_pid, boot_id, now, now),
        ).rowcount
        if changed != 1:  # pragma: no cover - guarded by the callers (an active row: no update)
            raise StoreError(f"address {ipaddress.IPv4Address(address)} is already leased")

    def set_user(self, session_id: int, user: str, now: float) -> None:
        self._conn.execute(
            "UPDATE leases SET user = ?, updated_at = ? WHERE session_id = ?", (user, now, session_id)
        )

    def hold(self, address: int, hold_until: float, now: float) -> None:
        self._conn.execute(
            "UPDATE leases SET state = 'held', session_id = NULL, released_at = ?, updated_at = ?, "
            "hold_until = ? WHERE address = ?",
            (now, now, hold_until, address),
        )

    def delete(self, address: int) -> None:
        self._conn.execute("DELETE FROM leases WHERE address = ?", (address,))

    def remember_affinity(self, user: str, address: int, now: float) -> None:
        self._conn.execute(
            "INSERT INTO affinity (user, address, released_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user) DO UPDATE SET address = excluded.address, released_at = excluded.released_at",
            (user, address, now),
        )

    def record_event(
        self, kind: str, now: float, session_id: int | None, user: str | None, message: str
    ) -> None:
        self._conn.execute(
            "INSERT INTO events (at, kind, session_id, user, message) VALUES (?, ?, ?, ?, ?)",
            (now, kind, session_id, user, message),
        )

    def release_other_boots(
        self, boot_id: str, bounds: Sequence[tuple[int, int]], hold_until: float, now: float
    ) -> list[tuple[int, int]]:
        """Release every active lease of another boot in set-based SQL (held inside the pool,
        dropped outside it, affinity kept); return their ``(session_id, address)``."""
        clause, params = _ranges_clause(bounds)
        stale = "state = 'active' AND boot_id != ?"
        pairs = [
            (int(r[0]), int(r[1]))
            for r in self._conn.execute(
                f"SELECT session_id, address FROM leases WHERE {stale} ORDER BY address", (boot_id,)
            )
        ]
        if not pairs:
            return pairs
        self._conn.execute(
            "INSERT INTO affinity (user, address, released_at) "
            f"SELECT user, address, ? FROM leases WHERE {stale} AND user IS NOT NULL ORDER BY address "
            "ON CONFLICT(user) DO UPDATE SET address = excluded.address, released_at = excluded.released_at",
            (now, boot_id),
        )
        self._conn.execute(f"DELETE FROM leases WHERE {stale} AND NOT {clause}", [boot_id, *params])
        self._conn.execute(
            "UPDATE leases SET state = 'held', session_id = NULL, released_at = ?, updated_at = ?, "
            f"hold_until = ? WHERE {stale}",
            (now, now, hold_until, boot_id),
        )
        return pairs

    def active_session_ids(self) -> list[int]:
        return [int(r[0]) for r in self._conn.execute("SELECT session_id FROM leases WHERE state = 'active'")]

    def active_outside(self, bounds: Sequence[tuple[int, int]]) -> list[Lease]:
        clause, params = _ranges_clause(bounds)
        rows = self._conn.execute(
            f"SELECT {LEASE_COLUMNS} FROM leases WHERE state = 'active' AND NOT {clause} ORDER BY address",
            params,
        ).fetchall()
        return [Lease.from_row(r) for r in rows]

    def hold_many(self, addresses: Sequence[int], hold_until: float, now: float) -> None:
        self._conn.executemany(
            "UPDATE leases SET state = 'held', session_id = NULL, released_at = ?, updated_at = ?, "
            "hold_until = ? WHERE address = ?",
            [(now, now, hold_until, a) for a in addresses],
        )

    def delete_many(self, addresses: Sequence[int]) -> None:
        self._conn.executemany("DELETE FROM leases WHERE address = ?", [(a,) for a in addresses])

    def remember_affinity_many(self, pairs: Sequence[tuple[str, int]], now: float) -> None:
        self._conn.executemany(
            "INSERT INTO affinity (user, address, released_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user) DO UPDATE SET address = excluded.address, released_at = excluded.released_at",
            [(u, a, now) for u, a in pairs],
        )

    def active_leases(self) -> list[Lease]:
        rows = self._conn.execute(
            f"SELECT {LEASE_COLUMNS} FROM leases WHERE state = 'active' ORDER BY address"
        ).fetchall()
        return [Lease.from_row(r) for r in rows]


@dataclass(frozen=True)
class StoreCounts:
    in_use: int
    held: int
    out_of_pool: int
    exhausted_events: int
    total_rows: int


class LeaseStore:
    """An open lease store. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        #: the thread inside :meth:`batch` (its transactions are savepoints), else ``None``
        self._batch_owner: int | None = None
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_stop = threading.Event()
        #: set after each checkpoint of the thread (tests wait on it)
        self.checkpointed = threading.Event()

    # -- checkpoints off the request path ------------------------------------------------
    def start_checkpointer(self, interval: float = 1.0) -> None:
        """Copy the WAL back into the database from a thread of its own, every ``interval``
        seconds, instead of inside whichever commit crosses SQLite's automatic threshold.

        At ``synchronous=NORMAL`` a checkpoint is where the ``fdatasync`` calls happen (WAL,
        then database), and on a busy disk one takes milliseconds: in a commit it stalls the
        engine's request path. Here it runs on its own connection as a ``PASSIVE`` checkpoint,
        which never blocks writers (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html). What
        a commit survives is unchanged: a committed transaction is in the WAL (the page
        cache) before ``COMMIT`` returns, and the next open replays the WAL after a kill -9
        (https://www.sqlite.org/wal.html). Only for a long-running engine; :meth:`close`
        stops it."""
        if self._checkpointer is not None:
            return
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open lease store {self.path} for checkpoints: {exc}") from None
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoint_stop.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, args=(conn, interval), name="store-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, conn: sqlite3.Connection, interval: float) -> None:
        try:
            while not self._checkpoint_stop.wait(interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpointed.set()
                except sqlite3.Error as exc:  # retried next round; commits never depend on it
                    log.warning("lease store %s: checkpoint failed (%s); retrying", self.path, exc)
        finally:
            conn.close()

    def stop_checkpointer(self) -> None:
        """Stop the checkpoint thread; the store checkpoints inside commits again."""
        thread, self._checkpointer = self._checkpointer, None
        if thread is None:
            return
        self._checkpoint_stop.set()
        thread.join()
        self._conn.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durable: bool = True,
        create: bool = True,
        synchronous: str | None = None,
    ) -> LeaseStore:
        """Open (and if empty, initialise) the store at ``path``; refuse anything foreign.

        ``synchronous`` is SQLite's sync level: ``NORMAL`` by default (survives a crash of the
        engine), ``FULL`` (also survives a power cut; benchmarks compare), ``OFF`` (nothing:
        only for benchmarks' baselines; ``durable=False`` means the same).
        ``create=False`` refuses a missing file instead of creating one.
        """
        level = synchronous or (DEFAULT_SYNCHRONOUS if durable else "OFF")
        if level not in SYNC_LEVELS:
            raise StoreError(f"synchronous is {level!r}; use one of {', '.join(SYNC_LEVELS)}")
        p = Path(path)
        if p.exists() and not p.is_file():
            raise StoreError(
                f"lease store {p} is not a regular file; point state_dir at a directory of its own"
            )
        if not p.exists() and not create:
            raise StoreError(f"lease store {p} does not exist; start 'vipctl serve' once to create it")
        if not p.parent.is_dir():
            raise StoreError(f"directory {p.parent} of the lease store does not exist; create it (mode 0700)")
        try:
            conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open lease store {p}: {exc}") from None
        try:
            cls._check_or_init(p, conn)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"lease store {p}: cannot switch to WAL (journal_mode is {mode})")
            conn.execute(f"PRAGMA synchronous={level}")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"lease store {p} cannot be used: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return cls(p, conn)

    @staticmethod
    def _identity(conn: sqlite3.Connection) -> tuple[int, int, int]:
        app = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        return app, version, objects

    @classmethod
    def _check_or_init(cls, p: Path, conn: sqlite3.Connection) -> None:
        try:
            app, version, objects = cls._identity(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{p} is not a lease store ({exc}); refusing to touch it. Move it away or set "
                "state_dir to another directory"
            ) from None
        if app == 0 and version == 0 and objects == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                app, version, objects = cls._identity(conn)  # another process may have won
                if app == 0 and version == 0 and objects == 0:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            app, version, objects = cls._identity(conn)
        if app != APPLICATION_ID:
            raise StoreError(
                f"{p} is a SQLite file of another application (application_id {app:#x}, expected "
                f"{APPLICATION_ID:#x}); refusing to touch it. Move it away or set state_dir to another "
                "directory"
            )
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"lease store {p} has schema version {version}, this vipctl reads version "
                f"{SCHEMA_VERSION}; run the vipctl that wrote it, or move the file away"
            )
        try:
            check = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            check = [str(exc)]
        if check != ["ok"]:
            raise StoreError(
                f"lease store {p} is corrupted ({'; '.join(check[:3])}); refusing to start. "
                "Restore it from a backup or move it away to start with no leases"
            )

    def close(self) -> None:
        self.stop_checkpointer()
        self._conn.close()

    def __enter__(self) -> LeaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception).

        Inside :meth:`batch` (on the thread that opened it) the same operation is a
        ``SAVEPOINT`` of the batch's transaction instead: an exception rolls back this
        operation alone, and nothing is committed before the batch is."""
        if self._batch_owner == threading.get_ident():
            yield from self._savepoint()
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"lease store {self.path} is busy ({exc}); try again") from None
        try:
            yield Transaction(self._conn)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _savepoint(self) -> Iterator[Transaction]:
        if not self._conn.in_transaction:  # an earlier error made SQLite roll the batch back
            raise StoreError(f"lease store {self.path}: the batch was rolled back by SQLite; nothing done")
        self._conn.execute("SAVEPOINT operation")
        try:
            yield Transaction(self._conn)
        except BaseException:
            if self._conn.in_transaction:  # SQLite may have rolled back the whole batch already
                self._conn.execute("ROLLBACK TO operation")
                self._conn.execute("RELEASE operation")
            raise
        self._conn.execute("RELEASE operation")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several operations in one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (group commit).

        Each :meth:`transaction` opened inside it, on this thread, is a savepoint: one that
        fails is undone alone and the others stay. The ``COMMIT`` at the end is the one point
        where all of them become durable (in the WAL, at this store's sync level) together, so a
        caller answers none of them before this block has returned; a :class:`StoreError` here
        means none was committed. Used by the serving engine for requests that arrive together
        (:meth:`sessionnet_vip.engine.service.Engine.handle_batch`)."""
        if self._batch_owner is not None:
            raise StoreError("lease store: a batch is already open")  # pragma: no cover - a bug
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"lease store {self.path} is busy ({exc}); try again") from None
        self._batch_owner = threading.get_ident()
        try:
            yield
        except BaseException:
            self._batch_owner = None
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._batch_owner = None
        if not self._conn.in_transaction:  # an error inside made SQLite roll everything back
            raise StoreError(f"lease store {self.path}: the batch was rolled back by SQLite; nothing done")
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StoreError(f"lease store {self.path}: commit failed ({exc}); nothing done") from None

    # -- reads (each one snapshot) -------------------------------------------------------
    def leases(self, *, include_held: bool = True) -> list[Lease]:
        where = "" if include_held else "WHERE state = 'active'"
        rows = self._conn.execute(f"SELECT {LEASE_COLUMNS} FROM leases {where} ORDER BY address").fetchall()
        return [Lease.from_row(r) for r in rows]

    def active_sessions(self, bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """``(session_id, address as int)`` of every active lease inside ``bounds`` (one query,
        no objects: the agent's start-up reads all of them)."""
        clause, params = _ranges_clause(bounds)
        rows = self._conn.execute(
            f"SELECT session_id, address FROM leases WHERE state = 'active' AND session_id IS NOT NULL "
            f"AND {clause} ORDER BY session_id",
            params,
        ).fetchall()
        return [(int(r[0]), int(r[1])) for r in rows]

    def lease_of(self, session_id: int) -> Lease | None:
        row = self._conn.execute(
            f"SELECT {LEASE_COLUMNS} FROM leases WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else Lease.from_row(row)

    def counts(self, bounds: Sequence[tuple[int, int]], now: float) -> StoreCounts:
        clause, params = _ranges_clause(bounds)
        self._conn.execute("BEGIN")
        try:
            row = self._conn.execute(
                f"SELECT "
                f"coalesce(sum(state = 'active' AND {clause}), 0), "
                f"coalesce(sum(state = 'held' AND hold_until > ? AND {clause}), 0), "
                f"coalesce(sum(state = 'active' AND NOT {clause}), 0), "
                f"count(*) FROM leases",
                [*params, now, *params, *params],
            ).fetchone()
            exhausted = self._conn.execute("SELECT count(*) FROM events WHERE kind = 'exhausted'").fetchone()[
                0
            ]
        finally:
            self._conn.execute("COMMIT")
        return StoreCounts(int(row[0]), int(row[1]), int(row[2]), int(exhausted), int(row[3]))

    def events(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT at, kind, session_id, user, message FROM events"
        params: list[Any] = []
        if kind is not None:
            sql += " WHERE kind = ?"
            params.append(kind)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        return [
            {"at": r[0], "kind": r[1], "session_id": r[2], "user": r[3], "message": r[4]}
            for r in self._conn.execute(sql, params).fetchall()
        ]

    def integrity_check(self) -> list[str]:
        return [str(r[0]) for r in self._conn.execute("PRAGMA integrity_check").fetchall()]
