from __future__ import annotations

import ipaddress
import logging
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE, Allocator
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore
from sessionnet_vip.errors import VipError

A = ipaddress.IPv4Address


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(store: LeaseStore, pool: Pool, clock: Clock, boot: str = "boot-1", hold: float = 60) -> Allocator:
    return Allocator(store, pool, hold, boot_id=boot, clock=clock)


def test_allocate_is_idempotent_and_release_returns(store: LeaseStore, small_pool: Pool) -> None:
    clock = Clock()
    alloc = make(store, small_pool, clock, hold=0)
    first = alloc.allocate(5, "alice")
    again = alloc.allocate(5, "alice")
    assert first.vip == again.vip == A("198.51.100.10") and again.reused
    assert str(first.loopback) == "127.0.0.6"
    assert alloc.release(5).address == first.vip
    assert alloc.release(5).released is False  # releasing twice is harmless
    assert alloc.allocate(6, "bob").vip == first.vip  # hold 0: free at once


def test_exhaustion_message_event_and_no_block(
    store: LeaseStore, small_pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    alloc = make(store, small_pool, Clock())
    vips = {alloc.allocate(s).vip for s in range(4, 7)}
    assert len(vips) == 3
    with caplog.at_level(logging.WARNING, logger="sessionnet_vip.engine"):
        res = alloc.allocate(3, "dave")
    assert res.vip is None and res.message == EXHAUSTED_MESSAGE
    assert str(res.loopback) == "127.0.0.4"  # the session still gets its loopback
    assert EXHAUSTED_MESSAGE == (
        "No virtual IP address is available for this session, please contact your administrator."
    )
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [EXHAUSTED_MESSAGE]
    (event,) = store.events("exhausted")
    assert event["message"] == EXHAUSTED_MESSAGE and event["session_id"] == 3 and event["user"] == "dave"
    assert alloc.status().exhausted_events == 1


def test_hold_and_affinity(store: LeaseStore, small_pool: Pool) -> None:
    clock = Clock()
    alloc = make(store, small_pool, clock, hold=60)
    a = alloc.allocate(1, "alice").vip
    alloc.release(1)
    assert alloc.status().held == 1
    b = alloc.allocate(2, "bob").vip
    assert b != a  # alice's address is held for her
    assert alloc.allocate(3, "alice").vip == a  # she gets it back within the hold
    alloc.release(3)
    clock.now += 3600  # hold expired, but nobody took it: affinity still returns it
    assert alloc.allocate(4, "alice").vip == a


def test_affinity_loses_to_someone_else_after_hold(store: LeaseStore, small_pool: Pool) -> None:
    clock = Clock()
    alloc = make(store, small_pool, clock, hold=10)
    a = alloc.allocate(1, "alice").vip
    alloc.release(1)
    clock.now += 11
    assert alloc.allocate(2, "bob").vip == a  # lowest free, alice's hold is over
    assert alloc.allocate(3, "alice").vip != a


def test_session_id_reused_by_another_user(store: LeaseStore, small_pool: Pool) -> None:
    alloc = make(store, small_pool, Clock())
    a = alloc.allocate(7, "alice").vip
    b = alloc.allocate(7, "bob")
    assert b.vip != a and not b.reused
    assert alloc.allocate(8, "alice").vip == a


def test_earlier_boot_is_reclaimed(tmp_path: Path, small_pool: Pool) -> None:
    clock = Clock()
    with LeaseStore.open(tmp_path / "l.sqlite3") as store:
        make(store, small_pool, clock, "boot-1").allocate(1, "alice")
        make(store, small_pool, clock, "boot-1").allocate(2)
        report = make(store, small_pool, clock, "boot-2").reconcile(None)
        assert sorted(r[0] for r in report.reclaimed) == [1, 2]
        assert all(r[2] == "lease of an earlier boot" for r in report.reclaimed)
        assert store.leases(include_held=False) == []


def test_reconcile_with_live_sessions(store: LeaseStore, small_pool: Pool) -> None:
    alloc = make(store, small_pool, Clock())
    for s in (1, 2, 3):
        alloc.allocate(s)
    report = alloc.reconcile({2})
    assert sorted(r[0] for r in report.reclaimed) == [1, 3]
    assert [lease.session_id for lease in store.leases(include_held=False)] == [2]


def test_pool_shrink_keeps_valid_leases_and_reports(store: LeaseStore) -> None:
    clock = Clock()
    big = Pool.parse(["198.51.100.10-198.51.100.19"])
    alloc = make(store, big, clock)
    for s in range(1, 7):
        alloc.allocate(s)
    small = make(store, Pool.parse(["198.51.100.10-198.51.100.12"]), clock)
    report = small.reconcile(None)
    assert [str(lease.address) for lease in report.out_of_pool] == [f"198.51.100.{i}" for i in range(13, 16)]
    assert len(store.leases(include_held=False)) == 6  # nothing lost
    st = small.status()
    assert (st.pool_size, st.in_use, st.out_of_pool, st.free) == (3, 3, 3, 0)
    assert small.allocate(9).vip is None  # new sessions only from the new pool
    assert small.allocate(5).vip == A("198.51.100.14")  # a live lease stays idempotent
    small.release(5)  # an address outside the pool is not held, just dropped
    assert A("198.51.100.14") not in {lease.address for lease in store.leases()}


@pytest.mark.parametrize("bad", [-1, 16_777_215, "x", 1.5, True])
def test_bad_session_ids_change_nothing(store: LeaseStore, small_pool: Pool, bad: object) -> None:
    alloc = make(store, small_pool, Clock())
    with pytest.raises(VipError):
        alloc.allocate(bad)
    with pytest.raises(VipError):
        alloc.release(bad)
    assert store.leases() == []


def test_bad_user_or_owner(store: LeaseStore, small_pool: Pool) -> None:
    alloc = make(store, small_pool, Clock())
    with pytest.raises(VipError, match="user"):
        alloc.allocate(1, "bad\nname")
    with pytest.raises(VipError, match="owner uid"):
        alloc.allocate(1, owner_uid=-5)
    assert store.leases() == []


# -- the state machine -----------------------------------------------------------------------
POOL_A = Pool.parse(["198.51.100.10-198.51.100.13", "198.51.100.20/30"])  # 4 + 2 addresses
POOL_B = Pool.parse(["198.51.100.10-198.51.100.11"])  # shrunk
USERS = st.sampled_from(["alice", "bob", "carol", None])
SESSIONS = st.integers(1, 10)


class AllocatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="vip-sm-"))
        self.store = LeaseStore.open(self.dir / "leases.sqlite3", durable=False)
        self.clock = Clock()
        self.boot = 1
        self.pool = POOL_A
        self.ever_pooled = set(POOL_A.addresses())
        self.alloc = make(self.store, self.pool, self.clock, "boot-1", hold=30)
        self.model: dict[int, ipaddress.IPv4Address] = {}  # live sessions with a VIP
        self.users: dict[int, str | None] = {}

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _occupied_in_pool(self) -> int:
        now = self.clock.now
        return sum(
            1
            for lease in self.store.leases()
            if lease.address in self.pool
            and (lease.state == "active" or (lease.hold_until is not None and lease.hold_until > now))
        )

    def _held_for(self, user: str) -> set[ipaddress.IPv4Address]:
        return {
            lease.address
            for lease in self.store.leases()
            if lease.state == "held" and lease.user == user and lease.address in self.pool
        }

    @rule(sid=SESSIONS, user=USERS)
    def allocate(self, sid: int, user: str | None) -> None:
        before = self.model.get(sid)
        same_owner = user is None or self.users.get(sid) in (None, user)
        held_before = self._held_for(user) if user else set()
        res = self.alloc.allocate(sid, user)
        if before is not None and same_owner:
            assert res.vip == before and res.reused  # idempotent
        if res.vip is None:
            assert res.message == EXHAUSTED_MESSAGE
            assert self._occupied_in_pool() == self.pool.size  # really nothing free
            self.model.pop(sid, None)
            self.users.pop(sid, None)
            return
        assert res.vip in self.pool or res.vip == before
        if before is None and held_before:
            assert res.vip in held_before  # a returning user gets an address held for them
        self.model[sid] = res.vip
        if not (before is not None and same_owner and user is None):
            self.users[sid] = user if user is not None else self.users.get(sid)

    @rule(sid=SESSIONS)
    def release(self, sid: int) -> None:
        res = self.alloc.release(sid)
        assert res.released == (sid in self.model)
        if sid in self.model:
            assert res.address == self.model.pop(sid)
            self.users.pop(sid, None)

    @rule(seconds=st.sampled_from([1, 29, 31, 300]))
    def time_passes(self, seconds: int) -> None:
        self.clock.now += seconds

    @rule(live=st.frozensets(SESSIONS))
    def reconcile(self, live: frozenset[int]) -> None:
        report = self.alloc.reconcile(live)
        assert {r[0] for r in report.reclaimed} == set(self.model) - live
        for sid in set(self.model) - live:
            del self.model[sid]
            self.users.pop(sid, None)
        assert {lease.address for lease in report.out_of_pool} == {
            a for a in self.model.values() if a not in self.pool
        }

    @precondition(lambda self: self.pool is POOL_A)
    @rule()
    def shrink_pool(self) -> None:
        self.pool = POOL_B
        self.alloc = make(self.store, self.pool, self.clock, f"boot-{self.boot}", hold=30)

    @precondition(lambda self: self.pool is POOL_B)
    @rule()
    def grow_pool(self) -> None:
        self.pool = POOL_A
        self.alloc = make(self.store, self.pool, self.clock, f"boot-{self.boot}", hold=30)

    @rule()
    def reboot(self) -> None:
        self.boot += 1
        self.alloc = make(self.store, self.pool, self.clock, f"boot-{self.boot}", hold=30)
        report = self.alloc.reconcile(None)
        assert {r[0] for r in report.reclaimed} == set(self.model)
        self.model.clear()
        self.users.clear()

    @invariant()
    def store_matches_model(self) -> None:
        active = self.store.leases(include_held=False)
        assert {lease.session_id: lease.address for lease in active} == self.model

    @invariant()
    def never_two_sessions_on_one_address(self) -> None:
        addresses = [lease.address for lease in self.store.leases()]
        assert len(addresses) == len(set(addresses))
        assert len(set(self.model.values())) == len(self.model)

    @invariant()
    def never_outside_what_was_pooled(self) -> None:
        assert set(self.model.values()) <= self.ever_pooled

    @invariant()
    def counts_add_up(self) -> None:
        st_ = self.alloc.status()
        assert st_.in_use + st_.held + st_.free == st_.pool_size
        assert st_.free >= 0
        assert st_.in_use == sum(1 for a in self.model.values() if a in self.pool)


TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
