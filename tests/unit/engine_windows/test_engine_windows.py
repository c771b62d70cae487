"""The Windows engine's ``plan`` reply (the launcher contract), its modes and options, pool
exhaustion, and start/stop with pool addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionnet_vip.addressing import virtual_loopback_address
from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE
from sessionnet_vip.engine.config import parse_config
from sessionnet_vip.engine.transport import PeerInfo
from sessionnet_vip.engine.windows.addresses import WindowsAssigner
from sessionnet_vip.engine.windows.agentplane import WindowsEngine, check_command
from sessionnet_vip.engine.windows.sessions import WtsSessions
from sessionnet_vip.errors import VipError

from .conftest import CRM, LEGACY, FakeWts, windows_config
from .test_addresses import MemoryIpHelper, row

#: The reply fields of the launcher contract (docs/windows-data-plane.md), exactly.
CONTRACT_FIELDS = {
    "session_id",
    "vip",
    "loopback",
    "client_address",
    "exe",
    "mode",
    "matched",
    "translated",
    "isolate_loopback",
    "report_original",
    "inherit_children",
    "message",
    "note",
}


def user(session: int) -> PeerInfo:
    return PeerInfo(pid=100 + session, sid=f"S-1-5-21-7-{session}", privileged=False, session=session)


def plan(engine: WindowsEngine, session: int, command: str) -> dict[str, object]:
    reply = engine.handle({"op": "plan", "command": command}, user(session))
    assert reply["ok"] is True, reply
    result: dict[str, object] = reply["result"]
    return result


def test_reply_has_exactly_the_contract_fields(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice")
    result = plan(engine, 3, CRM)
    assert set(result) == CONTRACT_FIELDS
    assert result["loopback"] == str(virtual_loopback_address(3))
    assert (result["isolate_loopback"], result["inherit_children"], result["report_original"]) == (
        True,
        True,
        False,
    )
    assert result["matched"] == CRM and result["message"] is None and result["note"] is None


def test_listed_paths_match_case_insensitively(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice")
    result = plan(engine, 3, CRM.upper())
    assert result["mode"] == "virtual_ip" and result["translated"] is True


def test_unlisted_program_is_not_translated(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice")
    result = plan(engine, 3, "C:\\Windows\\System32\\notepad.exe")
    assert result["mode"] == "none" and result["translated"] is False
    assert result["note"] == "the program is not listed for this session"


def test_client_address_mode_needs_a_client_address(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice", client="203.0.113.7")
    wts.add(4, "bob")  # console: no client address
    with_client = plan(engine, 3, LEGACY)
    assert (with_client["mode"], with_client["translated"], with_client["client_address"]) == (
        "client_address",
        True,
        "203.0.113.7",
    )
    without = plan(engine, 4, LEGACY)
    assert without["translated"] is False and "no IPv4 client address" in str(without["note"])


def test_exhaustion_message_is_passed_on_verbatim(engine: WindowsEngine, wts: FakeWts) -> None:
    for sid in (3, 4, 5):
        wts.add(sid, f"user{sid}")
    results = [plan(engine, sid, CRM) for sid in (3, 4, 5)]
    assert [r["vip"] for r in results] == ["198.51.100.10", "198.51.100.11", None]
    assert results[2]["message"] == EXHAUSTED_MESSAGE
    assert results[2]["loopback"] is not None


def test_data_plane_off_answers_untranslated_with_the_reason(tmp_path: Path, wts: FakeWts) -> None:
    config = windows_config(tmp_path, data_plane={"enabled": False})
    eng = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="b")
    try:
        eng.start_agent(watch=False)
        wts.add(3, "alice")
        result = plan(eng, 3, CRM)
        assert result["translated"] is False and "disabled by 'data_plane.enabled: false'" in str(
            result["note"]
        )
        assert eng.status()["data_plane"]["active"] is False
    finally:
        eng.stop_agent()
        eng.close()


def test_start_adds_pool_addresses_and_stop_removes_them(tmp_path: Path, wts: FakeWts) -> None:
    ip = MemoryIpHelper([row("198.51.100.2", 24, 7)])
    config = windows_config(tmp_path, data_plane={"assign_addresses": True})
    eng = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="b")
    try:
        eng.start_agent(assigner=WindowsAssigner(ip.helper()), watch=False)
        dp = eng.status()["data_plane"]
        assert dp["assigned_addresses"] == {"198.51.100.10": "interface 7", "198.51.100.11": "interface 7"}
        assert dp["unassigned_addresses"] == {} and dp["active"] is True
    finally:
        eng.stop_agent()
        eng.close()
    assert len(ip.rows) == 1


def test_required_data_plane_with_a_dhcp_adapter_refuses_to_start_and_binds_nothing(
    tmp_path: Path, wts: FakeWts
) -> None:
    ip = MemoryIpHelper([row("198.51.100.2", 24, 7)], dhcp={7: True})
    config = windows_config(tmp_path, data_plane={"enabled": True, "assign_addresses": True})
    eng = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="b")
    try:
        with pytest.raises(VipError, match="DHCP"):
            eng.start_agent(assigner=WindowsAssigner(ip.helper()), watch=False)
    finally:
        eng.close()
    assert ip.created == []


def test_earlier_boot_leases_are_reclaimed(tmp_path: Path, wts: FakeWts) -> None:
    wts.add(3, "alice")
    config = windows_config(tmp_path)
    first = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="boot-A")
    first.start_agent(watch=False)
    plan(first, 3, CRM)
    first.stop_agent()
    first.close()
    second = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="boot-B")
    try:
        report = second.reconcile()
        assert [(s, why) for s, _a, why in report.reclaimed] == [(3, "lease of an earlier boot")]
    finally:
        second.close()


@pytest.mark.parametrize(
    "command", ["C:\\a.exe", "\\\\srv\\share\\tool.exe", "c:\\Program Files\\x y\\z.exe"]
)
def test_win32_paths_accepted(command: str) -> None:
    assert check_command(command) == command


@pytest.mark.parametrize("command", ["a.exe", "\\a.exe", "C:a.exe", "/usr/bin/x", "", "C:\\a\0b.exe", None])
def test_other_commands_refused(command: object) -> None:
    with pytest.raises(VipError, match="full Win32 path"):
        check_command(command)


def test_config_control_pipe_and_session_provider(tmp_path: Path) -> None:
    base = {"pool": ["198.51.100.10"], "state_dir": str(tmp_path)}
    assert parse_config(base, platform="windows").control_pipe == "\\\\.\\pipe\\sessionnet-vip"
    assert parse_config(
        {**base, "control_pipe": "\\\\.\\pipe\\vip2"}, platform="windows"
    ).control_pipe.endswith("vip2")
    with pytest.raises(VipError, match="control_pipe"):
        parse_config({**base, "control_pipe": "vip2"}, platform="windows")
    with pytest.raises(VipError, match="'session_provider' is 'logind', which windows does not have"):
        parse_config({**base, "session_provider": "logind"}, platform="windows")
    with pytest.raises(VipError, match="which linux does not have"):
        parse_config({**base, "session_provider": "wts"}, platform="linux")


def test_per_program_options_override_the_engine_settings(tmp_path: Path, wts: FakeWts) -> None:
    config = windows_config(
        tmp_path,
        report_original=True,
        processes=[
            CRM,
            {"path": LEGACY, "mode": "client_address", "report_original": False, "inherit_children": False},
        ],
    )
    eng = WindowsEngine.open_windows(config, provider=WtsSessions(wts.api()), boot_id="b")
    try:
        eng.start_agent(watch=False)
        wts.add(3, "alice", client="203.0.113.7")
        crm, legacy = plan(eng, 3, CRM), plan(eng, 3, LEGACY)
    finally:
        eng.stop_agent()
        eng.close()
    assert (crm["report_original"], crm["inherit_children"]) == (True, True)
    assert (legacy["report_original"], legacy["inherit_children"]) == (False, False)
