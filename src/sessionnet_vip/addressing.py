"""Address math: the virtual loopback rule (and, later, ranges, pools and DHCP overlap).

The virtual loopback rule (Citrix "Virtual IP loopback", seed document 000): a session
with ID ``N`` gets ``127.X.X.X`` where ``X.X.X`` is ``N + 1`` written as a 24-bit number,
carrying into the next octet: session 7 is ``127.0.0.8``, session 255 is ``127.0.1.0``,
and the highest address is ``127.255.255.255`` (session 16,777,214).

This module is the one source of that rule; the filters, ``vipctl`` and the engine call it.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from sessionnet_vip.errors import AddressError

LOOPBACK_NETWORK: Final = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_BASE: Final = int(LOOPBACK_NETWORK.network_address)
#: The lowest session ID the rule accepts.
MIN_SESSION_ID: Final = 0
#: The highest session ID the rule accepts: its address is 127.255.255.255.
MAX_SESSION_ID: Final = 0xFFFFFF - 1


def _parse_session_id(session_id: object) -> int:
    """Return ``session_id`` as an ``int``, refusing bools, floats with fractions and junk."""
    if isinstance(session_id, bool):
        raise AddressError(
            f"session ID {session_id!r} is a boolean; give an integer from "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID}"
        )
    if isinstance(session_id, int):
        value = session_id
    elif isinstance(session_id, float) and session_id.is_integer():
        value = int(session_id)
    elif isinstance(session_id, str) and session_id.strip().lstrip("+-").isdigit():
        value = int(session_id.strip())
    else:
        raise AddressError(
            f"session ID {session_id!r} is not an integer; give an integer from "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID}"
        )
    if not MIN_SESSION_ID <= value <= MAX_SESSION_ID:
        raise AddressError(
            f"session ID {value} is outside the virtual loopback scheme; "
            f"allowed range is {MIN_SESSION_ID} to {MAX_SESSION_ID} (127.0.0.1 to 127.255.255.255)"
        )
    return value


def virtual_loopback_address(session_id: object) -> ipaddress.IPv4Address:
    """Return the virtual loopback address of ``session_id``.

    >>> str(virtual_loopback_address(7))
    '127.0.0.8'
    >>> str(virtual_loopback_address(255))
    '127.0.1.0'
    """
    value = _parse_session_id(session_id)
    return ipaddress.IPv4Address(_LOOPBACK_BASE + value + 1)


def virtual_loopback_session(address: object) -> int:
    """Return the session ID whose virtual loopback address is ``address``.

    Refuses addresses outside 127.0.0.1 - 127.255.255.255 (for example ``127.0.0.0``
    or ``10.0.0.1``).

    >>> virtual_loopback_session('127.0.1.0')
    255
    """
    if isinstance(address, ipaddress.IPv4Address):
        parsed = address
    elif isinstance(address, str):
        try:
            parsed = ipaddress.IPv4Address(address.strip())
        except ValueError:
            raise AddressError(
                f"{address!r} is not an IPv4 address; give an address from 127.0.0.1 to 127.255.255.255"
            ) from None
    else:
        raise AddressError(
            f"{address!r} is not an IPv4 address string; give an address from 127.0.0.1 to 127.255.255.255"
        )
    offset = int(parsed) - _LOOPBACK_BASE
    if parsed not in LOOPBACK_NETWORK or offset < 1:
        raise AddressError(
            f"{parsed} is not a virtual loopback address; allowed range is "
            "127.0.0.1 to 127.255.255.255 (sessions "
            f"{MIN_SESSION_ID} to {MAX_SESSION_ID})"
        )
    return offset - 1
