"""Strict coercion of untrusted values: the one place every surface (plan files, engine configs,
``vipctl`` arguments, filters, control-socket requests, simulator state) turns user input into
integers and numbers, and shortens values for error messages.

The rules, and why:

* An integer written as text is ASCII digits with at most one leading sign. ``str.isdigit()``
  also accepts superscripts (``'²'``, which ``int()`` then refuses with its own message) and
  ``int()`` accepts other scripts' digits (Arabic-Indic digit five, U+0665), underscores (``'1_0'``) and
  surrounding whitespace; none of those is a number a user meant to type here.
* The text is refused by length *before* ``int()`` runs: Python refuses to convert integers
  longer than 4,300 digits (``sys.get_int_max_str_digits``) with a ``ValueError`` of its own,
  and every integer this package takes fits in far fewer digits than :data:`MAX_INT_DIGITS`.
* A number must be finite: ``.nan`` and ``.inf`` are valid YAML floats, and NaN compares false
  with everything, so it would pass ``value < minimum`` checks.
* :func:`brief` is the only way a raw value enters an error message: a value of unbounded size
  (a YAML alias bomb, a megabyte string) is shortened, never formatted whole.
"""

from __future__ import annotations

import math

from sessionnet_vip.errors import VipError

# typing is only read by mypy (the names below are annotations): not imported at run time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

#: Longest integer text accepted (sign excluded). Bigger than any count, port, session ID or
#: registry QWORD (20 digits), far below Python's 4,300-digit conversion limit.
MAX_INT_DIGITS: Final = 40
#: Longest ``repr`` :func:`brief` lets into a message.
BRIEF_LENGTH: Final = 80

_DIGITS: Final = frozenset("0123456789")


def brief(value: object, limit: int = BRIEF_LENGTH) -> str:
    """``repr(value)``, shortened to about ``limit`` characters (never formats a huge value whole).

    Containers go through :mod:`reprlib` (a few levels and items of each, the rest as ``...``),
    so a nested alias bomb costs nothing to describe.
    """
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        shortener = _short_repr()
        shortener.maxlevel = 3
        shortener.maxstring = shortener.maxother = limit // 2
        text: str = shortener.repr(value)
        return text if len(text) <= limit else text[:limit] + f"... ({len(value)} item(s))"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    if isinstance(value, (bytes, bytearray)) and len(value) > limit:
        return repr(bytes(value[:limit])) + f"... ({len(value)} bytes)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _short_repr() -> Any:
    import reprlib

    class _Short(reprlib.Repr):
        def repr_int(self, x: int, level: int) -> str:
            return brief(x)

    return _Short()


def int_from_text(text: str) -> int | None:
    """The integer written in ``text`` (ASCII digits, one optional leading ``+``/``-``, surrounding
    ASCII spaces allowed), or ``None`` when ``text`` is anything else or longer than
    :data:`MAX_INT_DIGITS` digits."""
    body = text.strip(" \t")
    digits = body[1:] if body[:1] in ("+", "-") else body
    if not digits or len(digits) > MAX_INT_DIGITS or not _DIGITS.issuperset(digits):
        return None
    return int(body)


def parse_int(value: object) -> int | None:
    """``value`` as an ``int`` if it is one exactly: an ``int`` (not ``bool``), an integral
    finite ``float``, or text :func:`int_from_text` accepts; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        return int_from_text(value)
    return None


def as_int(
    value: object,
    what: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    error: type[VipError] = VipError,
) -> int:
    """:func:`parse_int` of ``value`` within ``[minimum, maximum]``, or ``error`` naming ``what``,
    the value (shortened) and the range to give."""
    if minimum is not None and maximum is not None:
        wanted = f"give a whole number from {minimum} to {maximum}"
    elif minimum is not None:
        wanted = f"give a whole number of {minimum} or more"
    elif maximum is not None:
        wanted = f"give a whole number of at most {maximum}"
    else:
        wanted = "give a whole number"
    if isinstance(value, bool):
        raise error(f"{what} is a boolean ({value!r}); {wanted}")
    number = parse_int(value)
    if number is None:
        raise error(f"{what} is {brief(value)}, not a whole number; {wanted}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise error(f"{what} is {brief(number)}; {wanted}")
    return number


def as_number(
    value: object,
    what: str,
    *,
    minimum: float | None = None,
    unit: str = "",
    error: type[VipError] = VipError,
) -> float:
    """A finite ``int`` or ``float`` (not ``bool``, not text) of at least ``minimum``."""
    wanted = f"give a finite number{' of ' + unit if unit else ''}"
    if minimum is not None:
        wanted += f" >= {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} is {brief(value)}; {wanted}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        raise error(f"{what} is {brief(value)}; {wanted}") from None
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise error(f"{what} is {brief(value)}; {wanted}")
    return number
