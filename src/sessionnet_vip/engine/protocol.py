"""The control protocol's framing, independent of the transport (Unix socket, named pipe):
one UTF-8 JSON object per line each way.

:func:`decode_request` turns one received line into a request or a refusal, never raising:
every transport calls it, so a line that is too long, not UTF-8, not JSON, nested deeper than
:data:`MAX_DEPTH`, or holding NaN, infinity or an integer longer than
:data:`~sessionnet_vip.coerce.MAX_INT_DIGITS` digits gets the same ``{"ok": false}`` reply
everywhere (and the engine keeps serving: Python's JSON decoder is recursive, so a deep
document would otherwise raise ``RecursionError``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH
from sessionnet_vip.errors import VipError
from sessionnet_vip.strictjson import MAX_DEPTH, StrictJSONError, loads

#: Longest request line accepted, in bytes.
MAX_REQUEST: Final = 65536
#: Longest reply line a client reads, in bytes.
MAX_REPLY: Final = 16 * 1024 * 1024
ProtocolError = StrictJSONError

__all__ = [
    "DEFAULT_CONTROL_SOCKET_PATH",
    "MAX_DEPTH",
    "MAX_REQUEST",
    "ProtocolError",
    "decode_reply",
    "decode_request",
    "encode",
    "loads",
]


def decode_request(line: bytes) -> tuple[Any, dict[str, Any] | None]:
    """``(request, None)`` for a good line, else ``(None, refusal)`` where ``refusal`` is the
    ``{"ok": false, "error": ...}`` reply to send. Never raises."""
    if len(line.rstrip(b"\r\n")) > MAX_REQUEST:
        return None, {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes; nothing done"}
    try:
        return loads(line), None
    except ProtocolError as exc:
        return None, {"ok": False, "error": f"request is {exc}; nothing done"}


def encode(message: dict[str, Any]) -> bytes:
    """One message as its line (UTF-8 JSON and ``\\n``)."""
    return json.dumps(message, sort_keys=True).encode() + b"\n"


def decode_reply(line: bytes, where: str) -> dict[str, Any]:
    """The engine's reply, or :class:`VipError` naming ``where`` when it is malformed."""
    try:
        reply = loads(line)
    except ProtocolError as exc:
        raise VipError(f"the engine at {where} sent a malformed reply ({exc})") from None
    if not isinstance(reply, dict):
        raise VipError(f"the engine at {where} sent a malformed reply (not a JSON object)")
    return reply
