"""The allocator: which address a session gets, decided inside one store transaction.

Order of choice for ``allocate(session, user)``:

1. the session already holds an address from this boot (and the same or no user): the same
   address again (idempotent);
2. the user has an address *held* since their last logoff: that one;
3. the user's previous address (``affinity``) if nobody holds it;
4. a free address of the pool: a range's first, else one past its highest lease, else the
   first gap (addresses held for other users stay reserved until their hold time ends).

When nothing is free the engine records an ``exhausted`` event with the exact message of
seed 004 and the session proceeds without a virtual IP (it still has its loopback address).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.addressing import checked_session_id, virtual_loopback_address
from sessionnet_vip.coerce import brief
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import Lease, LeaseStore, StoreCounts, Transaction, read_boot_id
from sessionnet_vip.errors import VipError

#: Seed 004's message, logged and recorded verbatim when the pool is empty.
EXHAUSTED_MESSAGE: Final = (
    "No virtual IP address is available for this session, please contact your administrator."
)

log = logging.getLogger("sessionnet_vip.engine")


def session_id_of(value: object) -> int:
    """Validate a session ID against the loopback scheme (0 .. MAX_SESSION_ID)."""
    return checked_session_id(value)


#: A control character (below U+0020), which a name must not hold.
_CONTROL: Final = re.compile("[\x00-\x1f]")


def _check_text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 256 or _CONTROL.search(value):
        raise VipError(
            f"{name} {brief(value)} is not a printable name of 1 to 256 characters; give a user name"
        )
    return value


def _check_id(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32 - 1:
        raise VipError(f"{name} {brief(value)} is not a number from 0 to 4294967295")
    return value


@dataclass(frozen=True)
class Allocation:
    session_id: int
    vip: ipaddress.IPv4Address | None
    loopback: ipaddress.IPv4Address
    user: str | None
    reused: bool
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "vip": None if self.vip is None else str(self.vip),
            "loopback": str(self.loopback),
            "user": self.user,
            "reused": self.reused,
            "message": self.message,
        }


@dataclass(frozen=True)
class Release:
    session_id: int
    address: ipaddress.IPv4Address | None
    released: bool
    held_until: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "address": None if self.address is None else str(self.address),
            "released": self.released,
            "held_until": self.held_until,
        }


@dataclass(frozen=True)
class ReconcileReport:
    reclaimed: tuple[tuple[int, str, str], ...]  # (session, address, reason)
    out_of_pool: tuple[Lease, ...]
    purged_holds: int
    live_sessions_known: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "reclaimed": [{"session_id": s, "address": a, "reason": r} for s, a, r in self.reclaimed],
            "out_of_pool": [lease.to_json() for lease in self.out_of_pool],
            "purged_holds": self.purged_holds,
            "live_sessions_known": self.live_sessions_known,
        }


@dataclass(frozen=True)
class PoolStatus:
    pool: str
    pool_size: int
    in_use: int
    held: int
    free: int
    out_of_pool: int
    exhausted_events: int

    def to_json(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "pool_size": self.pool_size,
            "in_use": self.in_use,
            "held": self.held,
            "free": self.free,
            "out_of_pool": self.out_of_pool,
            "exhausted_events": self.exhausted_events,
        }


@dataclass
class Allocator:
    """Allocation policy over a :class:`LeaseStore` (shared with other processes)."""

    store: LeaseStore
    pool: Pool
    hold_seconds: float = 300.0
    boot_id: str = field(default_factory=read_boot_id)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._bounds = self.pool.int_bounds()

    def _hold(self, tx: Transaction, lease: Lease, now: float) -> float | None:
        """Move an active lease to held (or drop it when outside the pool): :meth:`_hold_many`
        for one lease, in single statements (every release runs it)."""
        address = int(lease.address)
        if lease.user:
            tx.remember_affinity(lease.user, address, now)
        if lease.address not in self.pool:
            tx.delete(address)
            return None
        until = now + self.hold_seconds
        tx.hold(address, until, now)
        return until

    def _hold_many(self, tx: Transaction, leases: list[Lease], now: float) -> float | None:
        until = now + self.hold_seconds
        inside = [lease.address in self.pool for lease in leases]
        tx.remember_affinity_many([(lease.user, int(lease.address)) for lease in leases if lease.user], now)
        tx.hold_many([int(lease.address) for lease, ok in zip(leases, inside, strict=True) if ok], until, now)
        tx.delete_many([int(lease.address) for lease, ok in zip(leases, inside, strict=True) if not ok])
        return None if len(leases) == 1 and not inside[0] else until

    def allocate(
        self,
        session_id: object,
        user: str | None = None,
        owner_uid: int | None = None,
        owner_pid: int | None = None,
    ) -> Allocation:
        sid = session_id_of(session_id)
        user = _check_text("user", user)
        owner_uid = _check_id("owner uid", owner_uid)
        owner_pid = _check_id("owner pid", owner_pid)
        loopback = virtual_loopback_address(sid)
        now = self.clock()
        with self.store.transaction() as tx:
            current = tx.active_lease(sid)
            if current is not None:
                same_boot = current.boot_id == self.boot_id
                if same_boot and (user is None or current.user in (None, user)):
                    if user is not None and current.user is None:
                        tx.set_user(sid, user, now)
                    return Allocation(sid, current.address, loopback, user or current.user, True)
                # a stale lease: an earlier boot, or the session ID now belongs to another user
                self._hold(tx, current, now)
            chosen: int | None = None
            if user is not None:
                held = tx.held_for_user(user, self._bounds)
                if held is not None:
                    chosen = int(held.address)
            tx.purge_expired_holds(now)
            if chosen is None and user is not None:
                previous = tx.affinity(user)
                if (
                    previous is not None
                    and ipaddress.IPv4Address(previous) in self.pool
                    and tx.lease_at(previous) is None
                ):
                    chosen = previous
            if chosen is None:
                chosen = tx.first_free(self._bounds)
            if chosen is None:
                tx.record_event("exhausted", now, sid, user, EXHAUSTED_MESSAGE)
                exhausted = True
            else:
                tx.activate(chosen, sid, user, owner_uid, owner_pid, self.boot_id, now)
                exhausted = False
        if exhausted:
            log.warning(EXHAUSTED_MESSAGE)
            log.info("session %s (user %s) proceeds without a virtual IP address", sid, user or "-")
            return Allocation(sid, None, loopback, user, False, EXHAUSTED_MESSAGE)
        assert chosen is not None
        return Allocation(sid, ipaddress.IPv4Address(chosen), loopback, user, False)

    def release(self, session_id: object) -> Release:
        sid = session_id_of(session_id)
        now = self.clock()
        with self.store.transaction() as tx:
            current = tx.active_lease(sid)
            if current is None:
                return Release(sid, None, False, None)
            until = self._hold(tx, current, now)
        return Release(sid, current.address, True, until)

    def reconcile(self, live_sessions: Iterable[int] | None) -> ReconcileReport:
        """Reclaim leases of earlier boots and (when the list is known) of dead sessions;
        purge expired holds; report live leases outside the (possibly shrunk) pool."""
        live = None if live_sessions is None else frozenset(live_sessions)
        now = self.clock()
        reclaimed: list[tuple[int, str, str]] = []
        with self.store.transaction() as tx:
            stale = tx.release_other_boots(self.boot_id, self._bounds, now + self.hold_seconds, now)
            reclaimed = [(sid, str(ipaddress.IPv4Address(a)), "lease of an earlier boot") for sid, a in stale]
            if live is not None:
                dead: list[Lease] = []
                for sid in sorted(set(tx.active_session_ids()) - live):
                    lease = tx.active_lease(sid)
                    assert lease is not None
                    dead.append(lease)
                self._hold_many(tx, dead, now)
                reclaimed += [
                    (int(x.session_id or 0), str(x.address), "session no longer exists") for x in dead
                ]
            purged = tx.purge_expired_holds(now)
            out = tuple(tx.active_outside(self._bounds))
        for sid, addr, reason in reclaimed[:20]:
            log.info("reclaimed %s from session %s: %s", addr, sid, reason)
        if len(reclaimed) > 20:
            log.info("reclaimed %d more leases (see 'vipctl leases --all')", len(reclaimed) - 20)
        for lease in out:
            log.warning(
                "lease %s of session %s is outside the configured pool (%s); kept until the session ends",
                lease.address,
                lease.session_id,
                self.pool,
            )
        return ReconcileReport(tuple(reclaimed), out, purged, live is not None)

    def counts(self) -> StoreCounts:
        return self.store.counts(self._bounds, self.clock())

    def status(self) -> PoolStatus:
        c = self.counts()
        size = self.pool.size
        return PoolStatus(
            str(self.pool),
            size,
            c.in_use,
            c.held,
            size - c.in_use - c.held,
            c.out_of_pool,
            c.exhausted_events,
        )
