from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE
from sessionnet_vip.engine.config import parse_config
from sessionnet_vip.engine.linux.transport import prepare_socket_path
from sessionnet_vip.engine.server import MAX_REQUEST, Service, request
from sessionnet_vip.engine.service import Engine
from sessionnet_vip.engine.sessions import StaticSessions
from sessionnet_vip.errors import VipError


class Running:
    def __init__(self, service: Service, thread: threading.Thread) -> None:
        self.service = service
        self.thread = thread
        self.path = service.socket_path

    def ask(self, req: Any) -> dict[str, Any]:
        return request(self.path, req)

    def raw(self, payload: bytes) -> list[dict[str, Any]]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.path))
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return [json.loads(line) for line in data.splitlines()]


@contextlib.contextmanager
def running_engine(state_dir: Path, socket_path: Path, metrics_port: int | None = None) -> Iterator[Running]:
    config = parse_config(
        {
            "subnet": "198.51.100.0/24",
            "pool": ["198.51.100.10-198.51.100.11"],
            "state_dir": str(state_dir),
            "control_socket": str(socket_path),
            "processes": ["/opt/crm/bin/crm"],
            "hold_seconds": 0,
        }
    )
    engine = Engine.open(config, provider=StaticSessions.of({1, 2, 3, 4}))
    service = Service(engine, config.control_socket, metrics_port=metrics_port)
    thread = threading.Thread(target=service.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    assert service.ready.wait(30), "engine did not start"
    try:
        yield Running(service, thread)
    finally:
        service.stop_event.set()
        thread.join(30)
        engine.close()
    assert not config.control_socket.exists()  # removed on stop


@pytest.fixture
def engine_service(tmp_path: Path) -> Iterator[Running]:
    with running_engine(tmp_path / "state", tmp_path / "run" / "ctl.sock") as running:
        yield running


def test_socket_is_root_only(engine_service: Running) -> None:
    mode = stat.S_IMODE(engine_service.path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(engine_service.path.parent.stat().st_mode) == 0o700


def test_allocate_release_status_leases(engine_service: Running) -> None:
    ask = engine_service.ask
    a = ask({"op": "allocate", "session": 1, "user": "alice", "uid": 1000, "pid": 4321})
    assert a["ok"] and a["result"]["vip"] == "198.51.100.10" and a["result"]["loopback"] == "127.0.0.2"
    ask({"op": "allocate", "session": 2})
    full = ask({"op": "allocate", "session": 3})["result"]
    assert full["vip"] is None and full["message"] == EXHAUSTED_MESSAGE
    status = ask({"op": "status"})["result"]
    assert (status["pool_size"], status["in_use"], status["free"], status["exhausted_events"]) == (2, 2, 0, 1)
    leases = ask({"op": "leases"})["result"]
    assert [(x["session_id"], x["user"], x["owner_uid"], x["owner_pid"]) for x in leases] == [
        (1, "alice", 1000, 4321),
        (2, None, None, None),
    ]
    assert ask({"op": "release", "session": 2})["result"]["released"] is True
    exp = ask(
        {
            "op": "explain",
            "session": 1,
            "process": "/opt/crm/bin/crm",
            "call": "bind",
            "address": "0.0.0.0:9000",
        }
    )
    assert exp["result"]["result"] == "198.51.100.10:9000"


def test_reconcile_uses_the_provider(engine_service: Running) -> None:
    ask = engine_service.ask
    ask({"op": "allocate", "session": 7})  # not in the provider's live list {1, 2, 3, 4}
    ask({"op": "allocate", "session": 2})
    rec = ask({"op": "reconcile"})["result"]
    assert [r["session_id"] for r in rec["reclaimed"]] == [7]
    assert [x["session_id"] for x in ask({"op": "leases"})["result"]] == [2]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"this is not json\n", "not JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"op": "format_disk"}\n', "'op' is 'format_disk'"),
        (b'{"op": "allocate"}\n', "'session' is missing"),
        (b'{"op": "allocate", "session": "7; rm -rf /"}\n', "integer session ID"),
        (b'{"op": "allocate", "session": -1}\n', "outside the virtual loopback scheme"),
        (b'{"op": "allocate", "session": 16777215}\n', "outside the virtual loopback scheme"),
        (b'{"op": "allocate", "session": 1, "admin": true}\n', "unknown field"),
        (b'{"op": "allocate", "session": 1, "user": 5}\n', "user name"),
        (b'{"op": "explain", "session": 1, "process": "/x", "call": "listen", "address": "x"}\n', "call"),
        (b"\xff\xfe\n", "not JSON"),
        # bad-input classes: nesting (RecursionError in json), huge and non-finite numbers
        (b'{"op": "allocate", "session": ' + b"[" * 30000 + b"]" * 30000 + b"}\n", "nested deeper"),
        (b'{"op": "allocate", "session": ' + b"1" * 5000 + b"}\n", "digits"),
        (b'{"op": "allocate", "session": NaN}\n', "not a number"),
        (b'{"op": "allocate", "session": 1e999}\n', "out of range"),
        (b'{"op": "allocate", "session": 2.5}\n', "integer session ID"),
        (
            b'{"op": "explain", "session": 1, "process": "/x", "call": "bind", "address": "x", "vip": "::1"}\n',
            "IPv4",
        ),
    ],
)
def test_malformed_requests_change_nothing(engine_service: Running, payload: bytes, message: str) -> None:
    (reply,) = engine_service.raw(payload)
    assert reply["ok"] is False and message in reply["error"]
    assert engine_service.ask({"op": "leases", "all": True})["result"] == []


def test_connection_survives_a_bad_line(engine_service: Running) -> None:
    replies = engine_service.raw(b'garbage\n{"op": "allocate", "session": 4}\n')
    assert [r["ok"] for r in replies] == [False, True]


def test_connection_survives_deep_nesting(engine_service: Running) -> None:
    deep = b"[" * 30000 + b"]" * 30000 + b"\n"
    replies = engine_service.raw(deep + b'{"op": "allocate", "session": 4}\n')
    assert [r["ok"] for r in replies] == [False, True]


def _line(req: dict[str, Any]) -> bytes:
    return json.dumps(req).encode() + b"\n"


def _read_replies(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(data.splitlines())} of {count} replies"
        data += chunk
    return [json.loads(x) for x in data.splitlines()]


def test_pipelined_lines_of_several_connections_are_answered_in_order(engine_service: Running) -> None:
    """Lines sent together on several connections (their lease changes committed together)
    come back in each connection's order; a line cut across two sends is one line."""
    conns = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
    try:
        for c in conns:
            c.settimeout(30)
            c.connect(str(engine_service.path))
        a, b, c3 = conns
        a.sendall(
            _line({"op": "allocate", "session": 1}) + b"garbage\n" + _line({"op": "allocate", "session": 1})
        )
        b.sendall(_line({"op": "allocate", "session": 2, "user": "bob"}) + b'{"op": "rel')
        c3.sendall(_line({"op": "status"}) + b"\n\n" + _line({"op": "release", "session": 3}))
        b.sendall(b'ease", "session": 2}\n')
        ra, rb, rc = _read_replies(a, 3), _read_replies(b, 2), _read_replies(c3, 2)
    finally:
        for c in conns:
            c.close()
    assert [r["ok"] for r in ra] == [True, False, True] and ra[2]["result"]["reused"] is True
    assert ra[0]["result"]["vip"] is not None and ra[0]["result"]["vip"] == ra[2]["result"]["vip"]
    assert rb[0]["result"]["user"] == "bob" and rb[0]["result"]["vip"] is not None
    assert rb[1]["result"]["released"] is True
    assert rc[0]["result"]["pool_size"] == 2 and rc[1]["result"]["released"] is False
    leases = engine_service.ask({"op": "leases"})["result"]
    assert [(x["session_id"], x["address"]) for x in leases] == [(1, ra[0]["result"]["vip"])]


def test_lines_before_an_oversized_one_are_answered(engine_service: Running) -> None:
    replies = engine_service.raw(_line({"op": "allocate", "session": 1}) + b"x" * (MAX_REQUEST + 10))
    assert [r["ok"] for r in replies] == [True, False] and "longer than" in replies[1]["error"]
    assert [x["session_id"] for x in engine_service.ask({"op": "leases"})["result"]] == [1]


def test_a_client_gone_before_its_replies_does_not_stop_the_engine(engine_service: Running) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(engine_service.path))
        s.sendall(b"".join(_line({"op": "status"}) for _ in range(200)))
    assert engine_service.ask({"op": "allocate", "session": 4})["ok"]


def test_oversized_request(engine_service: Running) -> None:
    (reply,) = engine_service.raw(b"x" * (MAX_REQUEST + 10))
    assert reply["ok"] is False and "longer than" in reply["error"]


def test_metrics(tmp_path: Path) -> None:
    with running_engine(tmp_path / "state", tmp_path / "ctl.sock", metrics_port=0) as running:
        _check_metrics(running)


def _check_metrics(engine_service: Running) -> None:
    engine_service.ask({"op": "allocate", "session": 1})
    engine_service.ask({"op": "allocate", "session": 2})
    engine_service.ask({"op": "allocate", "session": 3})  # exhausted
    server = engine_service.service.metrics_server
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["sessionnet_vip_pool_size"] == 2
    assert values["sessionnet_vip_leases_in_use"] == 2
    assert values["sessionnet_vip_leases_held"] == 0
    assert values["sessionnet_vip_pool_exhausted_total"] == 1


def _as_nobody(path: Path) -> bytes:
    """Fork a child that drops to uid/gid 65534 and asks the engine for an allocation.

    The child touches nothing but raw sockets and pipes (the parent has threads)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(str(path))
            # the engine may refuse and close before the request is written; its reply is buffered
            with contextlib.suppress(BrokenPipeError):
                s.sendall(b'{"op": "allocate", "session": 1}\n')
            data = b""
            while not data.endswith(b"\n") and (chunk := s.recv(65536)):
                data += chunk
            os.write(w, data)
        except BaseException as exc:
            os.write(w, f"child failed: {exc!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch a forked child to another uid")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_non_root_peer_is_refused(tmp_path: Path) -> None:
    # a world-traversable directory and a 0666 socket: only SO_PEERCRED stands in the way
    base = Path(tempfile.mkdtemp(prefix="vip-peer-"))
    try:
        base.chmod(0o755)
        with running_engine(tmp_path / "state", base / "ctl.sock") as running:
            running.path.chmod(0o666)
            data = _as_nobody(running.path)
            reply = json.loads(data)
            assert reply["ok"] is False and "permission denied: uid 65534" in reply["error"]
            assert running.ask({"op": "leases"})["result"] == []
            # root itself is served on the same socket
            assert running.ask({"op": "allocate", "session": 1})["ok"] is True
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_second_engine_on_the_same_socket_is_refused(engine_service: Running) -> None:
    with pytest.raises(VipError, match="another engine"):
        prepare_socket_path(engine_service.path)


def test_regular_file_at_socket_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    path.write_text("precious")
    with pytest.raises(VipError, match="not a socket"):
        prepare_socket_path(path)
    assert path.read_text() == "precious"


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # bound, never listening: stale
    prepare_socket_path(path)
    assert not path.exists()


def test_client_without_engine(tmp_path: Path) -> None:
    with pytest.raises(VipError, match="cannot reach the engine"):
        request(tmp_path / "none.sock", {"op": "status"})
