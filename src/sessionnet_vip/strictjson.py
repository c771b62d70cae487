"""JSON from untrusted places (the control socket, simulator state files), decoded strictly.

Python's decoder is recursive (a deeply nested document raises ``RecursionError``), converts
integers of any length (and refuses those past 4,300 digits with a ``ValueError`` of its own) and
accepts ``NaN`` and ``Infinity``. :func:`loads` refuses all of these, before decoding where it can,
with a :class:`StrictJSONError` (a ``ValueError``) that never echoes the text whole.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from sessionnet_vip.coerce import MAX_INT_DIGITS, brief
from sessionnet_vip.errors import VipError

#: Deepest nesting of arrays and objects accepted (control requests use 2, state files 6).
MAX_DEPTH: Final = 32


class StrictJSONError(VipError):
    """Text that is not strict JSON (see the module docstring)."""


def nesting_depth(line: bytes, limit: int = MAX_DEPTH) -> int:
    """The deepest ``[``/``{`` nesting of the JSON text ``line`` (brackets inside strings do not
    count), stopping as soon as it passes ``limit``."""
    opened = line.count(b"[") + line.count(b"{")
    if opened <= limit:  # the common case: no scan needed
        return opened
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


#: One decoder for every call (``json.loads`` with hooks builds a new one each time).
_DECODER: Final = json.JSONDecoder(
    parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
)


def loads(line: bytes | str) -> Any:
    """Strict JSON: bounded depth, bounded integers, finite numbers only. Raises
    :class:`StrictJSONError` (naming what was wrong, never echoing the text whole)."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if nesting_depth(raw) > MAX_DEPTH:
        raise StrictJSONError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError(
            f"not JSON (not UTF-8: byte {raw[exc.start]:#04x} at offset {exc.start})"
        ) from None
    try:
        return _DECODER.decode(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise StrictJSONError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise StrictJSONError(f"not JSON ({brief(str(exc), 200)})") from None
