"""A socket agent for the vector tests: IPv4 and IPv6, one JSON command per stdin line.

Commands (``family`` is 4 or 6; ``v6only`` sets IPV6_V6ONLY on IPv6 sockets):
  bind {family, v6only, host, port}          -> {ok, sockname} | {ok: false, errno}
  connect {family, v6only, host, port}       -> {ok, sockname, peername} (UDP connect)
  sendto {family, v6only, host, port, data}  -> {ok} (from an unbound UDP socket)
  listen {hosts, port}                       -> {ok, bound}  (IPv4 UDP receivers)
  wait {timeout}                             -> {ok, got: [local, source, data] | null}
  recv_socket {family, host}                 -> {ok, port}  (a UDP socket to receive on)
  recv {timeout}                             -> {ok, source | null}
  send_from {host, to_host, to_port, data}   -> {ok} | errno (bind host, then send)
"""

from __future__ import annotations

import errno
import json
import select
import socket
import sys
from typing import Any

_listeners: list[socket.socket] = []
_receiver: list[socket.socket] = []


def _sock(cmd: dict[str, Any]) -> socket.socket:
    family = socket.AF_INET6 if cmd["family"] == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if cmd.get("v6only") else 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _name(addr: Any) -> list[Any]:
    return [addr[0], addr[1]]


def run(cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    try:
        if op == "bind":
            with _sock(cmd) as s:
                s.bind((cmd["host"], cmd["port"]))
                return {"ok": True, "sockname": _name(s.getsockname())}
        if op == "connect":
            with _sock(cmd) as s:
                s.connect((cmd["host"], cmd["port"]))
                return {"ok": True, "sockname": _name(s.getsockname()), "peername": _name(s.getpeername())}
        if op == "sendto":
            with _sock(cmd) as s:
                s.sendto(cmd["data"].encode(), (cmd["host"], cmd["port"]))
                return {"ok": True}
        if op == "listen":
            for old in _listeners:
                old.close()
            _listeners.clear()
            bound = []
            for host in cmd["hosts"]:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, cmd["port"]))
                _listeners.append(s)
                bound.append(host)
            return {"ok": True, "bound": bound}
        if op == "wait":
            ready, _, _ = select.select(_listeners, [], [], cmd["timeout"])
            if not ready:
                return {"ok": True, "got": None}
            data, source = ready[0].recvfrom(2048)
            return {"ok": True, "got": [ready[0].getsockname()[0], source[0], data.decode()]}
        if op == "recv_socket":
            family = socket.AF_INET6 if cmd["family"] == 6 else socket.AF_INET
            s = socket.socket(family, socket.SOCK_DGRAM)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((cmd["host"], 0))
            for old in _receiver:
                old.close()
            _receiver[:] = [s]
            return {"ok": True, "port": s.getsockname()[1]}
        if op == "recv":
            ready, _, _ = select.select(_receiver, [], [], cmd["timeout"])
            if not ready:
                return {"ok": True, "source": None}
            _data, source = _receiver[0].recvfrom(2048)
            return {"ok": True, "source": source[0]}
        if op == "send_from":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((cmd["host"], 0))
                s.sendto(cmd["data"].encode(), (cmd["to_host"], cmd["to_port"]))
                return {"ok": True}
    except OSError as exc:
        return {"ok": False, "errno": errno.errorcode.get(exc.errno or 0, str(exc.errno))}
    return {"ok": False, "errno": f"unknown op {op}"}


def main() -> None:
    for line in sys.stdin:
        sys.stdout.write(json.dumps(run(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
