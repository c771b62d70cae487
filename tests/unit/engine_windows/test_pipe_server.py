"""The pipe server's loop (a thread per client, a new instance while others are served,
shutdown waking the waiting ConnectNamedPipe, every handle closed) over in-memory pipe
instances: the Win32 calls are the only thing replaced."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from sessionnet_vip.engine.transport import PeerInfo
from sessionnet_vip.engine.windows import transport
from sessionnet_vip.engine.windows.transport import PipeControlServer, PipeOps
from sessionnet_vip.errors import VipError

NAME = "\\\\.\\pipe\\sessionnet-vip-test"


@dataclass
class Instance:
    to_server: queue.Queue[bytes] = field(default_factory=queue.Queue)
    to_client: queue.Queue[bytes] = field(default_factory=queue.Queue)
    session: int = 0


@dataclass
class MemoryPipes:
    """Server instances wait in ``listening``; a client takes one (as CreateFileW does)."""

    listening: queue.Queue[int] = field(default_factory=queue.Queue)
    connected: dict[int, threading.Event] = field(default_factory=dict)
    instances: dict[int, Instance] = field(default_factory=dict)
    open_handles: set[int] = field(default_factory=set)
    next_handle: int = 100
    refuse_first: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _new(self) -> int:
        with self.lock:
            self.next_handle += 1
            handle = self.next_handle
            self.instances[handle] = Instance()
            self.connected[handle] = threading.Event()
            self.open_handles.add(handle)
        return handle

    def create(self, first: bool) -> int:
        if first and self.refuse_first:
            raise PermissionError("pipe name in use")
        return self._new()

    def connect(self, handle: int) -> None:
        self.listening.put(handle)
        self.connected[handle].wait()

    def read(self, handle: int, size: int) -> bytes:
        data = self.instances[handle].to_server.get()
        assert len(data) <= size
        return data

    def write(self, handle: int, data: bytes) -> int:
        self.instances[handle].to_client.put(data)
        return len(data)

    def disconnect(self, handle: int) -> None:
        self.instances[handle].to_client.put(b"")

    def close(self, handle: int) -> None:
        self.open_handles.discard(handle)

    def identify(self, handle: int) -> PeerInfo:
        return PeerInfo(
            pid=handle, sid="S-1-5-21-1", privileged=False, session=self.instances[handle].session
        )

    def client(self, session: int = 1) -> int:
        """Connect a client to the listening instance; returns the instance's handle."""
        handle = self.listening.get(timeout=30)
        self.instances[handle].session = session
        self.connected[handle].set()
        return handle

    def wake(self, _timeout_ms: int) -> int:
        """CreateFileW: fails at once when no instance listens (the server is between two)."""
        try:
            handle = self.listening.get_nowait()
        except queue.Empty:
            raise FileNotFoundError("no instance of the pipe listens") from None
        self.connected[handle].set()
        return handle

    def ops(self) -> PipeOps:
        return PipeOps(
            self.create, self.connect, self.read, self.write, self.disconnect, self.close, self.identify,
            self.wake, lambda exc: isinstance(exc, PermissionError),
        )  # fmt: skip


def reply_of(pipes: MemoryPipes, handle: int) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = pipes.instances[handle].to_client.get(timeout=30)
        assert chunk, "server closed without a reply"
        data += chunk
    result: dict[str, Any] = json.loads(data)
    return result


def handler(req: object, peer: PeerInfo) -> dict[str, Any]:
    return {"ok": True, "result": {"req": req, "session": peer.session}}


def test_concurrent_clients_each_get_their_own_answer() -> None:
    pipes = MemoryPipes()
    server = PipeControlServer(NAME, handler, pipes.ops())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    a = pipes.client(session=3)
    b = pipes.client(session=4)  # a second instance listens while the first client is open
    pipes.instances[b].to_server.put(b'{"op": "plan", "command": "C:\\\\b.exe"}\n')
    pipes.instances[a].to_server.put(b'{"op": "plan", "command": "C:\\\\a.exe"}\n')
    assert reply_of(pipes, b)["result"]["session"] == 4
    assert reply_of(pipes, a)["result"]["session"] == 3
    for handle in (a, b):
        pipes.instances[handle].to_server.put(b"")  # the clients close
    server.shutdown()
    server.server_close()
    thread.join(30)
    assert not thread.is_alive()
    for client in list(server._clients):
        client.join(30)
    assert pipes.open_handles == set()


def test_shutdown_wakes_the_waiting_instance() -> None:
    pipes = MemoryPipes()
    server = PipeControlServer(NAME, handler, pipes.ops())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.shutdown()
    thread.join(30)
    server.server_close()
    assert not thread.is_alive()
    assert pipes.open_handles == set()


def test_a_name_served_by_someone_else_is_refused() -> None:
    with pytest.raises(VipError, match="already served"):
        PipeControlServer(NAME, handler, MemoryPipes(refuse_first=True).ops())


def test_bad_pipe_name_is_refused_before_anything_is_created() -> None:
    pipes = MemoryPipes()
    with pytest.raises(VipError, match="control_pipe"):
        PipeControlServer("sessionnet-vip", handler, pipes.ops())
    assert pipes.instances == {}


def test_client_request_round_trip() -> None:
    pipes = MemoryPipes()
    server = PipeControlServer(NAME, handler, pipes.ops())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_ops = PipeOps(
        pipes.create, pipes.connect,
        # the client's handle is the instance: it reads what the server wrote, writes what it reads
        lambda h, n: pipes.instances[h].to_client.get(timeout=30),
        lambda h, data: pipes.instances[h].to_server.put(data) or len(data),
        pipes.disconnect, pipes.close, pipes.identify,
        lambda _ms: pipes.client(session=7), lambda exc: False,
    )  # fmt: skip
    reply = transport.request(NAME, {"op": "status"}, ops=client_ops)
    assert reply == {"ok": True, "result": {"req": {"op": "status"}, "session": 7}}
    server.shutdown()
    thread.join(30)
    server.server_close()


def test_launcher_request_through_the_server_to_the_engine(engine: Any, wts: Any) -> None:
    """viprun's request, end to end: the session comes from the pipe, the answer from the engine."""
    wts.add(7, "erin", client="203.0.113.9")
    pipes = MemoryPipes()
    server = PipeControlServer(NAME, engine.handle, pipes.ops())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_ops = PipeOps(
        pipes.create, pipes.connect,
        lambda h, n: pipes.instances[h].to_client.get(timeout=30),
        lambda h, data: pipes.instances[h].to_server.put(data) or len(data),
        pipes.disconnect, pipes.close, pipes.identify,
        lambda _ms: pipes.client(session=7), lambda exc: False,
    )  # fmt: skip
    ok = transport.request(NAME, {"op": "plan", "command": "C:\\Program Files\\CRM\\crm.exe"}, ops=client_ops)
    refused = transport.request(NAME, {"op": "plan", "command": "C:\\x.exe", "session": 7}, ops=client_ops)
    server.shutdown()
    thread.join(30)
    server.server_close()
    assert ok["ok"] is True and ok["result"]["session_id"] == 7 and ok["result"]["translated"] is True
    assert ok["result"]["client_address"] == "203.0.113.9"
    assert refused["ok"] is False and "'session' is taken from the pipe client" in refused["error"]
