"""The Windows control pipe's request handling, through the same ``serve_lines`` as the Linux
socket, with in-memory streams standing in for a connected pipe instance; the access rules
(administrators everything, users only their own ``plan``) with a real engine behind it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sessionnet_vip.engine.transport import MAX_REQUEST, PeerInfo
from sessionnet_vip.engine.windows import transport
from sessionnet_vip.engine.windows.agentplane import WindowsEngine
from sessionnet_vip.engine.windows.pipename import DEFAULT_PIPE, check_pipe_name
from sessionnet_vip.errors import VipError

from .conftest import CRM, FakeWts

USER = PeerInfo(pid=4242, sid="S-1-5-21-1-2-3-1104", privileged=False, session=3)
ADMIN = PeerInfo(pid=77, sid="S-1-5-21-1-2-3-500", privileged=True, session=1)
FILE_APPEND_DATA = 0x4  # == FILE_CREATE_PIPE_INSTANCE on a pipe
FILE_WRITE_DATA = 0x2
FILE_READ_DATA = 0x1


def converse(lines: list[bytes], handler: Any, peer: PeerInfo = USER) -> list[dict[str, Any]]:
    """Feed request bytes as a pipe client would; return the decoded reply lines."""
    out = io.BytesIO()
    identified: list[bool] = []

    def identify() -> PeerInfo:
        identified.append(True)
        return peer

    transport.serve_client(io.BufferedReader(io.BytesIO(b"".join(lines))), out, identify, handler)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    return replies


def echo(req: object, peer: PeerInfo) -> dict[str, Any]:
    return {"ok": True, "result": {"req": req, "session": peer.session, "privileged": peer.privileged}}


def test_client_that_sends_nothing_is_never_identified() -> None:
    calls: list[int] = []

    def identify() -> PeerInfo:
        calls.append(1)
        return USER

    out = io.BytesIO()
    assert transport.serve_client(io.BufferedReader(io.BytesIO(b"")), out, identify, echo) is None
    assert calls == [] and out.getvalue() == b""


def test_lines_are_answered_in_order_with_the_pipe_peer() -> None:
    replies = converse([b'{"op": "plan", "command": "C:\\\\a.exe"}\n', b"\n", b'{"op": "status"}\n'], echo)
    assert [r["result"]["req"]["op"] for r in replies] == ["plan", "status"]
    assert {r["result"]["session"] for r in replies} == {3}


def test_not_json_is_an_error_and_the_connection_goes_on() -> None:
    replies = converse([b"{nope\n", b"\xff\xfe\n", b'{"op": "status"}\n'], echo)
    assert [r["ok"] for r in replies] == [False, False, True]
    assert "not JSON" in replies[0]["error"] and "nothing done" in replies[0]["error"]


def test_over_long_line_ends_the_connection() -> None:
    replies = converse([b"x" * (MAX_REQUEST + 10), b'\n{"op": "status"}\n'], echo)
    assert len(replies) == 1
    assert replies[0]["ok"] is False and str(MAX_REQUEST) in replies[0]["error"]


def test_client_that_cannot_be_identified_is_refused() -> None:
    def identify() -> PeerInfo:
        raise OSError("ImpersonateNamedPipeClient: access denied")

    out = io.BytesIO()
    called: list[object] = []
    result = transport.serve_client(
        io.BufferedReader(io.BytesIO(b'{"op": "status"}\n')),
        out,
        identify,
        lambda r, p: called.append(r) or {},
    )
    assert result is None and called == []
    reply = json.loads(out.getvalue())
    assert reply["ok"] is False and "cannot identify" in reply["error"]


@pytest.mark.parametrize(
    ("sid", "admin", "privileged"),
    [
        ("S-1-5-18", False, True),  # LocalSystem
        ("S-1-5-21-1-2-3-500", True, True),  # elevated administrator
        ("S-1-5-21-1-2-3-500", False, False),  # UAC-filtered administrator: Administrators deny-only
        ("S-1-5-21-1-2-3-1104", False, False),
        ("S-1-5-19", False, False),  # LocalService is not SYSTEM
    ],
)
def test_privilege_verdict_from_token_facts(sid: str, admin: bool, privileged: bool) -> None:
    peer = transport.peer_from_facts(10, 2, sid, admin)
    assert peer.privileged is privileged
    assert (peer.session, peer.sid, peer.pid) == (2, sid, 10)


def test_pipe_acl_lets_users_talk_but_not_create_instances() -> None:
    aces = transport.PIPE_SDDL.split("(")[1:]
    assert transport.PIPE_SDDL.startswith("D:P")  # protected: nothing inherited
    rights = {ace.rstrip(")").split(";")[-1]: ace.split(";")[2] for ace in aces}
    assert rights["SY"] == "GA" and rights["BA"] == "GA"
    users = int(rights["AU"], 16)
    assert users & FILE_READ_DATA and users & FILE_WRITE_DATA
    assert not users & FILE_APPEND_DATA
    assert set(rights) == {"SY", "BA", "AU"}


@pytest.mark.parametrize("name", [DEFAULT_PIPE, "\\\\.\\pipe\\vip-test-1"])
def test_pipe_names_accepted(name: str) -> None:
    assert check_pipe_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "sessionnet-vip",
        "\\\\server\\pipe\\x",
        "\\\\.\\pipe\\",
        "\\\\.\\pipe\\a\\b",
        "\\\\.\\pipe\\ x",
        "\\\\.\\pipe\\" + "x" * 300,
    ],
)
def test_pipe_names_refused(name: str) -> None:
    with pytest.raises(VipError, match="control_pipe"):
        check_pipe_name(name)


def test_transport_interface() -> None:
    assert transport.default_address() == DEFAULT_PIPE
    transport.remove_address(DEFAULT_PIPE)  # a pipe leaves nothing behind
    assert transport.decode_reply(b'{"ok": true, "result": 1}\n', "p") == {"ok": True, "result": 1}
    for bad in (b"", b"[1]\n", b"{oops\n"):
        with pytest.raises(VipError, match="engine at p"):
            transport.decode_reply(bad, "p")


# --- access rules with the real engine ------------------------------------------------------
def leases(engine: WindowsEngine) -> list[Any]:
    return list(engine.store.leases(include_held=True))


def test_user_plans_own_session(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice", client="203.0.113.7")
    [reply] = converse([json.dumps({"op": "plan", "command": CRM}).encode() + b"\n"], engine.handle)
    assert reply["ok"] is True, reply
    result = reply["result"]
    assert result["session_id"] == 3
    assert result["vip"] == "198.51.100.10"
    assert result["translated"] is True and result["mode"] == "virtual_ip"
    assert result["client_address"] == "203.0.113.7"
    assert [(lease.session_id, lease.user) for lease in leases(engine)] == [(3, "CORP\\alice")]


def test_user_naming_a_session_is_refused_and_nothing_changes(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(3, "alice")
    wts.add(5, "bob")
    for session in (5, 3):  # even their own session: the field itself is refused
        [reply] = converse(
            [json.dumps({"op": "plan", "command": CRM, "session": session}).encode() + b"\n"], engine.handle
        )
        assert reply["ok"] is False
        assert "'session' is taken from the pipe client" in reply["error"]
    assert leases(engine) == []


@pytest.mark.parametrize(
    "req",
    [
        {"op": "status"},
        {"op": "leases"},
        {"op": "allocate", "session": 3},
        {"op": "release", "session": 5},
        {"op": "reconcile"},
        {"op": "logon", "session": 3},
        {"op": "sessions"},
        {"op": "explain", "session": 3, "process": CRM, "call": "bind", "address": "0.0.0.0"},
    ],
)
def test_user_gets_nothing_but_plan(engine: WindowsEngine, wts: FakeWts, req: dict[str, Any]) -> None:
    wts.add(3, "alice")
    [reply] = converse([json.dumps(req).encode() + b"\n"], engine.handle)
    assert reply["ok"] is False and "permission denied" in reply["error"]
    assert "ordinary users may only ask 'plan'" in reply["error"] or "'session' is taken" in reply["error"]
    assert leases(engine) == []


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        ({"op": "plan"}, "full Win32 path"),
        ({"op": "plan", "command": "crm.exe"}, "full Win32 path"),
        ({"op": "plan", "command": "/usr/bin/crm"}, "full Win32 path"),
        ({"op": "plan", "command": 7}, "full Win32 path"),
        ({"op": "plan", "command": CRM, "user": "mallory"}, "unknown field(s) user"),
        ([1, 2], "JSON object"),
    ],
)
def test_user_bad_plan_is_an_error_and_changes_nothing(
    engine: WindowsEngine, wts: FakeWts, req: object, expected: str
) -> None:
    wts.add(3, "alice")
    [reply] = converse([json.dumps(req).encode() + b"\n"], engine.handle)
    assert reply["ok"] is False and expected in reply["error"]
    assert leases(engine) == []


def test_user_with_unknown_session_is_refused(engine: WindowsEngine) -> None:
    peer = PeerInfo(pid=1, sid="S-1-5-21-9", privileged=False, session=None)
    [reply] = converse([json.dumps({"op": "plan", "command": CRM}).encode() + b"\n"], engine.handle, peer)
    assert reply["ok"] is False and "session is unknown" in reply["error"]


def test_admin_gets_every_operation(engine: WindowsEngine, wts: FakeWts) -> None:
    wts.add(4, "carol")
    requests = [
        {"op": "plan", "session": 4, "command": CRM},
        {"op": "status"},
        {"op": "sessions"},
        {"op": "leases"},
        {"op": "logoff", "session": 4},
        {"op": "reconcile"},
    ]
    replies = converse([json.dumps(r).encode() + b"\n" for r in requests], engine.handle, ADMIN)
    assert [r["ok"] for r in replies] == [True] * len(requests), replies
    assert replies[0]["result"]["session_id"] == 4
    assert replies[1]["result"]["data_plane"]["platform"] == "windows"
    assert [s["session_id"] for s in replies[2]["result"]] == [4]
    assert replies[4]["result"]["released"] is True


def test_admin_plan_without_session_is_an_error(engine: WindowsEngine) -> None:
    [reply] = converse([b'{"op": "plan", "command": "C:\\\\x.exe"}\n'], engine.handle, ADMIN)
    assert reply["ok"] is False and "'session' is missing" in reply["error"]
