"""A socket agent for the data-plane tests: one JSON command per stdin line, one JSON reply.

It runs as a real process inside a session (and the test network namespace) and does real
socket calls, so the tests see exactly what an application would see. Commands:

  bind {proto, host, port, listen}     connect {host, port}     accept {sid, tag}
  recv {sid}                           sendto {host, port, data, sid?}
  recvfrom {sid}                       reply_to {sid, data} (answer the last sender)
  child {commands, inherit_stdio?}     (run a child agent with these commands; its replies)
  pid {}
"""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
from typing import Any

_socks: dict[int, socket.socket] = {}
_last_from: dict[int, Any] = {}


def _keep(sock: socket.socket) -> int:
    _socks[sock.fileno()] = sock
    return sock.fileno()


def _err(exc: OSError) -> dict[str, Any]:
    return {"ok": False, "errno": errno.errorcode.get(exc.errno or 0, str(exc.errno))}


def run(cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    try:
        if op == "pid":
            return {"ok": True, "pid": __import__("os").getpid()}
        if op == "bind":
            kind = socket.SOCK_DGRAM if cmd.get("proto") == "udp" else socket.SOCK_STREAM
            sock = socket.socket(socket.AF_INET, kind)
            # Like real servers: a restart must not wait for TIME_WAIT to end. Two listeners
            # on one address and port still conflict (test_control_same_ports_conflict...).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cmd["host"], cmd["port"]))
            if cmd.get("listen"):
                sock.listen(8)
            return {"ok": True, "sid": _keep(sock), "sockname": list(sock.getsockname())}
        if op == "connect":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(10)
            try:
                sock.connect((cmd["host"], cmd["port"]))
            except OSError:
                sock.close()
                raise
            return {
                "ok": True,
                "sid": _keep(sock),
                "sockname": list(sock.getsockname()),
                "peername": list(sock.getpeername()),
            }
        if op == "accept":
            listener = _socks[cmd["sid"]]
            listener.settimeout(10)
            conn, peer = listener.accept()
            with conn:
                conn.sendall(cmd["tag"].encode())
                return {"ok": True, "peer": list(peer), "local": list(conn.getsockname())}
        if op == "recv":
            sock = _socks[cmd["sid"]]
            return {"ok": True, "data": sock.recv(1024).decode()}
        if op == "sendto":
            if "sid" in cmd:
                sock = _socks[cmd["sid"]]
            else:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                _keep(sock)
            sock.settimeout(10)
            sock.sendto(cmd["data"].encode(), (cmd["host"], cmd["port"]))
            return {"ok": True, "sid": sock.fileno(), "sockname": list(sock.getsockname())}
        if op == "recvfrom":
            sock = _socks[cmd["sid"]]
            sock.settimeout(10)
            data, sender = sock.recvfrom(1024)
            _last_from[cmd["sid"]] = sender
            return {"ok": True, "data": data.decode(), "from": list(sender)}
        if op == "reply_to":
            sock = _socks[cmd["sid"]]
            sock.sendto(cmd["data"].encode(), _last_from[cmd["sid"]])
            return {"ok": True}
        if op == "child":
            proc = subprocess.run(
                [sys.executable, __file__],
                input="".join(json.dumps(c) + "\n" for c in cmd["commands"]),
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            return {"ok": True, "replies": [json.loads(line) for line in proc.stdout.splitlines()]}
    except OSError as exc:
        return _err(exc)
    return {"ok": False, "errno": f"unknown op {op}"}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
