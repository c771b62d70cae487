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
import math
from typing import Any, Final

from sessionnet_vip.coerce import MAX_INT_DIGITS, brief
from sessionnet_vip.errors import VipError

#: The control socket's default path (``control_socket`` in the engine config overrides it).
DEFAULT_CONTROL_SOCKET_PATH: Final = "/run/sessionnet-vip/control.sock"
#: Longest request line accepted, in bytes.
MAX_REQUEST: Final = 65536
#: Deepest nesting of arrays and objects accepted in a request (requests use 2).
MAX_DEPTH: Final = 32


class ProtocolError(VipError):
    """A line that is not a well-formed request (or reply)."""


def nesting_depth(line: bytes, limit: int = MAX_DEPTH) -> int:
    """The deepest ``[``/``{`` nesting of the JSON text ``line`` (brackets inside strings do not
    count), stopping as soon as it passes ``limit``."""
    if line.count(b"[") + line.count(b"{") <= limit:  # the common case: no scan needed
        return min(line.count(b"[") + line.count(b"{"), limit)
    depth = deepest = 0
    in_string = escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {brief(text)} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this protocol accepts")


def loads(line: bytes | str) -> Any:
    """Strict JSON: bounded depth, bounded integers, finite numbers only. Raises
    :class:`ProtocolError` (naming what was wrong, never echoing the line whole)."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if nesting_depth(raw) > MAX_DEPTH:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})") from None
    try:
        return json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ProtocolError(f"not JSON ({brief(str(exc), 200)})") from None


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
