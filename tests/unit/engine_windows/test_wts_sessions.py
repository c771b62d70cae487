"""WTS session facts from the bytes Windows returns, the live-session rule, the provider and
the engine following logon/logoff."""

from __future__ import annotations

import ipaddress
import struct
import threading
from pathlib import Path

import pytest

from sessionnet_vip.engine.sessions import EngineSessions
from sessionnet_vip.engine.windows import service
from sessionnet_vip.engine.windows import sessions as wsessions
from sessionnet_vip.engine.windows.agentplane import WindowsEngine
from sessionnet_vip.engine.windows.sessions import ConnectState, WtsSessions
from sessionnet_vip.errors import VipError

from .conftest import FakeWts, client_address, wide, windows_config


def test_client_address_from_the_documented_example() -> None:
    # Microsoft Learn, WTS_CLIENT_ADDRESS: 192.168.0.1 is "0x00 0x00 0xC0 0xA8 0x00 0x01"
    raw = struct.pack("<I", 2) + bytes([0x00, 0x00, 0xC0, 0xA8, 0x00, 0x01]) + bytes(14)
    assert wsessions.parse_client_address(raw) == ipaddress.IPv4Address("192.168.0.1")


@pytest.mark.parametrize(
    "raw",
    [
        client_address(None),  # console: AF_UNSPEC, zeros
        struct.pack("<I20s", 23, bytes(range(20))),  # AF_INET6: not an IPv4 client
        struct.pack("<I20s", 2, bytes(20)),  # AF_INET but 0.0.0.0
        b"\x02\x00",  # short buffer
    ],
)
def test_no_client_address(raw: bytes) -> None:
    assert wsessions.parse_client_address(raw) is None


def test_wide_strings() -> None:
    assert wsessions.parse_wide_string(wide("Ünïcode user")) == "Ünïcode user"
    assert wsessions.parse_wide_string(b"\0\0") is None
    assert wsessions.parse_wide_string(b"") is None
    assert wsessions.parse_wide_string(wide("a") + wide("junk")) == "a"


def test_live_sessions_rule() -> None:
    states = [
        (0, ConnectState.ACTIVE),  # services session: never a user's
        (1, ConnectState.ACTIVE),
        (2, ConnectState.DISCONNECTED),  # programs still run
        (3, ConnectState.CONNECTED),
        (4, ConnectState.DOWN),
        (5, ConnectState.INIT),
        (6, ConnectState.RESET),
        (65536, ConnectState.LISTEN),  # the RDP listener
        (7, ConnectState.IDLE),
    ]
    assert wsessions.live_session_ids(states) == frozenset({1, 2, 3, 7})


def test_provider_reports_unknown_not_none_when_wts_fails(wts: FakeWts) -> None:
    wts.add(2, "alice")
    provider = WtsSessions(wts.api())
    assert provider.live_sessions() == frozenset({2})
    wts.fail = True
    assert provider.live_sessions() is None
    assert provider.sessions() is None
    assert provider.describe(2) is None


def test_describe_session(wts: FakeWts) -> None:
    wts.add(9, "bob", domain="LAB", client="198.18.0.4", state=ConnectState.DISCONNECTED)
    found = WtsSessions(wts.api()).describe(9)
    assert found is not None
    assert found.account == "LAB\\bob"
    assert found.client_address == ipaddress.IPv4Address("198.18.0.4")
    assert found.state == ConnectState.DISCONNECTED
    assert WtsSessions(wts.api()).describe(10) is None


def test_provider_names(wts: FakeWts) -> None:
    assert isinstance(wsessions.provider("engine"), EngineSessions)
    assert wsessions.provider("wts", wts.api()).name == "wts"
    assert wsessions.provider("auto", wts.api()).name == "wts"
    with pytest.raises(VipError, match="unknown on Windows"):
        wsessions.provider("logind")


def test_engine_follows_logon_and_logoff(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(2, "alice")
    wts.add(3, "bob")
    assert engine.follow_wts() == ([2, 3], [])
    assert engine.follow_wts() == ([], [])
    by_session = {lease.session_id: lease for lease in engine.store.leases(include_held=False)}
    assert {s: lease.user for s, lease in by_session.items()} == {2: "CORP\\alice", 3: "CORP\\bob"}
    del wts.sessions[2]
    assert engine.follow_wts() == ([], [2])
    assert [lease.session_id for lease in engine.store.leases(include_held=False)] == [3]
    # alice's address is held for her: she gets it back at her next logon, in a new session
    wts.add(11, "alice")
    engine.follow_wts()
    after = {lease.session_id: lease.address for lease in engine.store.leases(include_held=False)}
    assert after[11] == by_session[2].address


def test_reconcile_reclaims_ended_sessions(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(2, "alice")
    engine.follow_wts()
    wts.sessions.clear()
    report = engine.reconcile()
    assert [s for s, _a, _why in report.reclaimed] == [2]
    assert engine.followed == set()


def test_reconcile_keeps_leases_when_wts_is_unavailable(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(2, "alice")
    engine.follow_wts()
    wts.fail = True
    assert engine.reconcile().reclaimed == ()
    assert [lease.session_id for lease in engine.store.leases(include_held=False)] == [2]


def test_windows_calls_are_refused_off_windows() -> None:
    with pytest.raises(VipError, match="Windows only"):
        wsessions.provider("wts")
    with pytest.raises(VipError, match="Windows only"):
        wsessions.boot_id()


def test_session_at_the_logon_screen_gets_no_address_until_a_user_logs_on(
    engine: WindowsEngine, wts: FakeWts
) -> None:
    wts.add(6, "", state=ConnectState.CONNECTED)
    assert engine.follow_wts() == ([], [])
    assert list(engine.store.leases(include_held=False)) == []
    wts.add(6, "dave")
    assert engine.follow_wts() == ([6], [])
    assert [lease.user for lease in engine.store.leases(include_held=False)] == ["CORP\\dave"]


def test_a_session_change_notification_follows_wts_at_once(tmp_path: Path, wts: FakeWts) -> None:
    """The watcher's period is an hour here: only the notification can explain the allocation."""
    eng = WindowsEngine.open_windows(
        windows_config(tmp_path, data_plane={"assign_addresses": False, "watch_seconds": 3600}),
        provider=WtsSessions(wts.api()),
        boot_id="boot-1",
    )
    rounds: list[tuple[list[int], list[int]]] = []
    done = threading.Event()
    follow = eng.follow_wts

    def counted() -> tuple[list[int], list[int]]:
        result = follow()
        rounds.append(result)
        done.set()
        return result

    eng.follow_wts = counted  # type: ignore[method-assign]
    eng.start_agent(watch=True)
    try:
        wts.add(4, "carol")
        relay = service.SessionRelay()
        relay.attach(eng)
        assert relay.control(service.SERVICE_CONTROL_SESSIONCHANGE) is True
        assert done.wait(30), "the notification did not wake the WTS watcher"
        assert rounds == [([4], [])]
        assert [lease.session_id for lease in eng.store.leases(include_held=False)] == [4]
        assert relay.control(1) is False  # SERVICE_CONTROL_STOP is the framework's
    finally:
        eng.stop_agent()
        eng.close()
    assert eng._watcher is not None and not eng._watcher.is_alive()  # stop ends the hour-long wait


def test_a_notification_without_a_running_engine_is_ignored() -> None:
    relay = service.SessionRelay()
    assert relay.control(service.SERVICE_CONTROL_SESSIONCHANGE) is True
    relay.attach(None)
    assert relay.control(service.SERVICE_CONTROL_SESSIONCHANGE) is True
