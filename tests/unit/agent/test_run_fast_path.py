"""``vipctl run``'s fast path (sessionnet_vip.entry + the lean runner) reads and sends what the
full parser and the protocol module would."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionnet_vip import addressing, cli, entry
from sessionnet_vip.engine import runner
from sessionnet_vip.engine.protocol import encode
from sessionnet_vip.errors import VipError


def full(words: list[str]) -> dict[str, object]:
    args = cli.build_parser(words, full=False).parse_args(words)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    socket = args.socket if args.socket is not None else args.global_socket
    return {
        "session": int(args.session),
        "user": args.user,
        "uid": args.uid,
        "verbose": args.verbose,
        "json": bool(getattr(args, "json", False)),
        "socket": None if socket is None else str(socket),
        "command": command,
    }


@pytest.mark.parametrize(
    "words",
    [
        ["run", "--session", "7", "--", "/bin/true"],
        ["run", "--session=7", "/bin/echo", "a", "--session", "9"],
        ["--json", "run", "--session", "16777213", "--user", "alice", "--uid", "1000", "--", "app", "-x"],
        ["--socket", "/tmp/s.sock", "run", "-v", "--session", "1", "--", "true"],
        ["run", "--session", "3", "--socket", "/run/x.sock", "--json", "--verbose", "--", "a", "--", "b"],
        ["--socket", "/a.sock", "run", "--socket=/b.sock", "--session", "2", "--uid=0", "--", "true"],
    ],
)
def test_the_fast_parser_reads_what_argparse_reads(words: list[str]) -> None:
    fast = entry.parse_run(words)
    assert fast is not None
    fast.pop("global_socket", None)
    assert fast == full(words)


@pytest.mark.parametrize(
    "words",
    [
        ["run", "--help"],
        ["run", "--session", "7"],  # no command
        ["run", "--sess", "7", "--", "true"],  # abbreviation: argparse decides
        ["run", "--session", "0", "--", "true"],
        ["run", "--session", "16777214", "--", "true"],
        ["run", "--session", "٣", "--", "true"],
        ["run", "--session", "+5", "--", "true"],
        ["run", "--session", "07", "--", "true"],
        ["run", "--session", "5", "--uid", "x", "--", "true"],
        ["run", "--session", "5", "--config", "e.yml", "--", "true"],
        ["run", "--session", "5", "--user", "-u", "--", "true"],
        ["--version", "run"],
        ["loopback", "5"],
    ],
)
def test_anything_unusual_goes_to_the_full_parser(words: list[str]) -> None:
    assert entry.parse_run(words) is None


def test_the_session_range_is_the_loopback_rule() -> None:
    assert (entry._MIN_SESSION, entry._MAX_SESSION) == (addressing.MIN_SESSION_ID, addressing.MAX_SESSION_ID)


@pytest.mark.parametrize(
    "req",
    [
        {"op": "plan", "command": "/usr/bin/app", "session": 7},
        {"op": "attach", "pid": 123, "session": 16777213, "user": "Zoë \"q\" \\ \n", "uid": 0},
    ],
)
def test_requests_are_encoded_like_the_protocol(req: dict[str, object]) -> None:
    assert runner._encode(req) == encode(req)


def test_an_unreachable_engine_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(VipError, match="cannot reach the engine"):
        runner.run_in_session(tmp_path / "none.sock", 5, ["true"])


def test_replies_are_read_strictly(tmp_path: Path) -> None:
    import socket
    import threading

    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    replies = [
        b'{"ok": true, "result": {"a": [1, 2.5, null], "b": "x"}}\n',
        b'{"ok": true, "result": {"a": NaN}}\n',
        b'{"ok": false, "error": "refused: reason"}\n',
        b"not json\n",
    ]

    def serve() -> None:
        conn, _peer = server.accept()
        with conn, conn.makefile("rb") as reader:
            for reply in replies:
                reader.readline()
                conn.sendall(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    conn = runner._Connection(str(path))
    try:
        assert conn.ask({"op": "x"}) == {"a": [1, 2.5, None], "b": "x"}
        with pytest.raises(VipError, match="malformed reply"):
            conn.ask({"op": "x"})
        with pytest.raises(VipError, match="refused: reason"):
            conn.ask({"op": "x"})
        with pytest.raises(VipError, match="malformed reply"):
            conn.ask({"op": "x"})
    finally:
        conn.close()
        thread.join()
        server.close()


def test_the_reply_limit_is_the_protocol_s() -> None:
    from sessionnet_vip.engine import protocol

    assert runner._MAX_REPLY == protocol.MAX_REPLY
