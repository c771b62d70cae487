"""Requests answered together (:meth:`Engine.handle_batch`, what the Linux control socket calls
for the lines that arrive in one round): one commit, replies in order, each request refused or
answered exactly as alone, nothing replied before the commit."""

from __future__ import annotations

import ipaddress
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE
from sessionnet_vip.engine.config import parse_config
from sessionnet_vip.engine.service import Engine
from sessionnet_vip.engine.sessions import StaticSessions
from sessionnet_vip.engine.transport import PeerInfo

ROOT = PeerInfo(pid=1, uid=0, privileged=True)
NOBODY = PeerInfo(pid=2, uid=65534, privileged=False)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    config = parse_config(
        {
            "subnet": "198.51.100.0/24",
            "pool": ["198.51.100.10-198.51.100.12"],
            "state_dir": str(tmp_path / "state"),
            "control_socket": str(tmp_path / "ctl.sock"),
            "hold_seconds": 0,
        }
    )
    e = Engine.open(config, provider=StaticSessions.of({1, 2, 3, 4}))
    yield e
    e.close()


def _committed(engine: Engine) -> dict[int, str]:
    """Active leases as another connection sees them (what survives a kill -9)."""
    conn = sqlite3.connect(engine.store.path)
    try:
        rows = conn.execute("SELECT session_id, address FROM leases WHERE state = 'active'").fetchall()
    finally:
        conn.close()
    return {int(s): str(ipaddress.IPv4Address(a)) for s, a in rows}


def _batch(engine: Engine, *requests: Any, peer: PeerInfo = ROOT) -> list[dict[str, Any]]:
    return engine.handle_batch([(r, peer) for r in requests])


def test_a_batch_answers_each_request_as_alone_in_order(engine: Engine) -> None:
    replies = _batch(
        engine,
        {"op": "allocate", "session": 1, "user": "alice"},
        {"op": "allocate", "session": 2, "user": "bob"},
        {"op": "allocate", "session": 1, "user": "alice"},  # the same session again: reused
        {"op": "allocate", "session": 3, "user": "bad\x01name"},  # refused, changes nothing
        {"op": "release", "session": 4},  # nothing to release
        {"op": "allocate", "session": 3},
        {"op": "allocate", "session": 4},  # the pool of 3 is full
    )
    assert [r["ok"] for r in replies] == [True, True, True, False, True, True, True]
    results = [r.get("result") for r in replies]
    assert results[0]["vip"] == "198.51.100.10" and results[0]["reused"] is False
    assert results[1]["vip"] == "198.51.100.11"
    assert results[2]["vip"] == "198.51.100.10" and results[2]["reused"] is True
    assert "printable name" in replies[3]["error"]
    assert results[4]["released"] is False
    assert results[5]["vip"] == "198.51.100.12"
    assert results[6]["vip"] is None and results[6]["message"] == EXHAUSTED_MESSAGE
    assert _committed(engine) == {1: "198.51.100.10", 2: "198.51.100.11", 3: "198.51.100.12"}
    assert engine.status()["exhausted_events"] == 1


def test_other_requests_are_answered_between_the_runs(engine: Engine) -> None:
    """A request that is not a lease change (``leases``, a malformed one) ends the run before
    it: it sees that run committed, and the next run starts after it."""
    replies = _batch(
        engine,
        {"op": "allocate", "session": 1},
        {"op": "allocate", "session": 2},
        {"op": "leases"},
        ["not", "an", "object"],
        {"op": "release", "session": 1},
        {"op": "release", "session": 2},
        {"op": "leases", "all": True},
    )
    assert [r["ok"] for r in replies] == [True, True, True, False, True, True, True]
    assert [x["session_id"] for x in replies[2]["result"]] == [1, 2]
    assert "JSON object" in replies[3]["error"]
    assert [(x["session_id"], x["state"]) for x in replies[6]["result"]] == [(None, "held"), (None, "held")]
    assert _committed(engine) == {}


def test_an_unprivileged_peer_in_a_batch_is_refused_alone(engine: Engine) -> None:
    replies = engine.handle_batch(
        [
            ({"op": "allocate", "session": 1}, ROOT),
            ({"op": "allocate", "session": 2}, NOBODY),
            ({"op": "allocate", "session": 3}, ROOT),
        ]
    )
    assert [r["ok"] for r in replies] == [True, False, True]
    assert "permission denied" in replies[1]["error"]
    assert set(_committed(engine)) == {1, 3}


def test_work_after_the_commit_runs_after_it_in_order(engine: Engine) -> None:
    """:meth:`Engine.after_commit` inside a batch runs once the batch is committed (the data
    plane of the agent); alone, at once. A failure there is that request's error reply."""
    seen: list[tuple[int, dict[int, str]]] = []
    original = engine._allocate

    def allocate_then_look(session: object, user: str | None, uid: Any, pid: Any) -> Any:
        allocation = original(session, user, uid, pid)
        sid = allocation.session_id

        def look() -> None:
            seen.append((sid, _committed(engine)))
            if sid == 3:
                raise RuntimeError("the data plane broke")

        engine.after_commit(look)
        return allocation

    engine._allocate = allocate_then_look  # type: ignore[method-assign]
    replies = _batch(engine, *({"op": "allocate", "session": s} for s in (1, 2, 3)))
    assert [sid for sid, _ in seen] == [1, 2, 3]
    assert all(set(committed) == {1, 2, 3} for _, committed in seen)  # each ran after the commit
    assert [r["ok"] for r in replies] == [True, True, False]
    assert "internal error: RuntimeError: the data plane broke" in replies[2]["error"]
    seen.clear()
    assert engine.request({"op": "release", "session": 1})["ok"]
    assert engine.request({"op": "allocate", "session": 4})["ok"]  # alone: right after its commit
    assert [sid for sid, _ in seen] == [4] and seen[0][1][4] == "198.51.100.10"


def test_threads_asking_at_once_with_batches_in_between(tmp_path: Path) -> None:
    """Threads asking one by one (the engine's own threads, a transport with a thread per
    connection) while batches are answered get each the reply to their own request, and the
    store ends as the replies said."""
    config = parse_config(
        {
            "pool": ["198.51.100.10-198.51.100.40"],
            "state_dir": str(tmp_path / "state"),
            "control_socket": str(tmp_path / "ctl.sock"),
            "hold_seconds": 0,
        }
    )
    engine = Engine.open(config, provider=StaticSessions.of(set()))
    got: dict[int, list[tuple[str, Any]]] = {}
    failures: list[dict[str, Any]] = []

    def client(first: int) -> None:
        for sid in range(first, first + 3):
            for _ in range(20):
                on = engine.handle({"op": "allocate", "session": sid, "user": f"u{sid}"}, ROOT)
                off = engine.handle({"op": "release", "session": sid}, ROOT)
                if not (on["ok"] and off["ok"]) or on["result"]["session_id"] != sid:
                    failures.extend([on, off])
                got.setdefault(sid, []).append((on["result"]["vip"], off["result"]["address"]))
        last = engine.handle({"op": "allocate", "session": first, "user": f"u{first}"}, ROOT)
        got[first].append((last["result"]["vip"], None))

    def batches() -> None:
        for sid in range(5001, 5041, 4):
            group = range(sid, sid + 4)
            for op in ("allocate", "release"):
                replies = engine.handle_batch([({"op": op, "session": s}, ROOT) for s in group])
                if not all(r["ok"] for r in replies):
                    failures.extend(replies)

    threads = [threading.Thread(target=client, args=(100 * t + 1,)) for t in range(8)]
    threads.append(threading.Thread(target=batches))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            assert not t.is_alive()
        assert failures == []
        for pairs in got.values():  # each release gave back what its allocate got
            assert all(vip is not None and (address in (vip, None)) for vip, address in pairs)
        assert _committed(engine) == {100 * t + 1: got[100 * t + 1][-1][0] for t in range(8)}
        assert len(set(_committed(engine).values())) == 8
    finally:
        engine.close()
