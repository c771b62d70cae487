"""The client side of the Unix control socket, on its own: ``vipctl run`` and the other
clients send a request without loading the server side (select, logging, dataclasses),
which is most of a short command's start-up time. :mod:`~sessionnet_vip.engine.linux.transport`
re-exports :func:`request` as the transport's client."""

from __future__ import annotations

import socket
from typing import Any

from sessionnet_vip.engine.protocol import MAX_REPLY, decode_reply, encode
from sessionnet_vip.errors import VipError


def request(address: str, req: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to an engine and return its reply (client side of the protocol)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(address)
        except OSError as exc:
            raise VipError(
                f"cannot reach the engine at {address} ({exc.strerror}); start "
                "'vipctl serve --config FILE', or pass --socket PATH, "
                "or --config FILE to work on the store directly"
            ) from None
        sock.sendall(encode(req))
        with sock.makefile("rb") as reader:
            line = reader.readline(MAX_REPLY)
    finally:
        sock.close()
    if not line:
        raise VipError(f"the engine at {address} closed the connection without a reply")
    return decode_reply(line, address)
