"""Windows sessions: the WTS session provider and the boot ID.

The provider lists sessions with ``WTSEnumerateSessionsW`` and asks each for its user
(``WTSUserName``, ``WTSDomainName``) and client address (``WTSClientAddress``) with
``WTSQuerySessionInformationW`` (Microsoft Learn, wtsapi32:
https://learn.microsoft.com/windows/win32/api/wtsapi32/nf-wtsapi32-wtsenumeratesessionsw,
https://learn.microsoft.com/windows/win32/api/wtsapi32/nf-wtsapi32-wtsquerysessioninformationw).
It is polled by the engine's reconcile and watcher, the way logind's directory is on Linux.

What is decided here is pure and tested on any platform: which sessions are live
(:func:`live_session_ids`), the bytes of ``WTS_CLIENT_ADDRESS`` (:func:`parse_client_address`)
and of a WTS string (:func:`parse_wide_string`). The Win32 calls are in
:mod:`sessionnet_vip.engine.windows.win32`.

Boot ID: a random ID kept in a *volatile* registry key, which Windows does not keep across a
restart (``REG_OPTION_VOLATILE``, Microsoft Learn "RegCreateKeyExW"), so leases written
before a reboot carry another ID and are reclaimed, as with Linux's
``/proc/sys/kernel/random/boot_id``.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from sessionnet_vip.engine.sessions import EngineSessions, SessionProvider
from sessionnet_vip.engine.windows import AF_INET, WINDOWS_ONLY
from sessionnet_vip.errors import VipError

log = logging.getLogger("sessionnet_vip.engine")

#: WTS_INFO_CLASS values (wtsapi32.h).
WTS_USER_NAME: Final = 5
WTS_DOMAIN_NAME: Final = 7
WTS_CLIENT_ADDRESS: Final = 14
#: ``WTS_CLIENT_ADDRESS``: DWORD AddressFamily; BYTE Address[20].
_CLIENT_ADDRESS: Final = struct.Struct("<I20s")
BOOT_KEY: Final = "SOFTWARE\\sessionnet-vip\\Volatile"
BOOT_VALUE: Final = "BootId"
SESSION_PROVIDERS: Final = ("auto", "engine", "wts")


class ConnectState(enum.IntEnum):
    """WTS_CONNECTSTATE_CLASS (wtsapi32.h)."""

    ACTIVE = 0
    CONNECTED = 1
    CONNECT_QUERY = 2
    SHADOW = 3
    DISCONNECTED = 4
    IDLE = 5
    LISTEN = 6
    RESET = 7
    DOWN = 8
    INIT = 9


#: A user's session in these states still exists (a disconnected session keeps its programs).
LIVE_STATES: Final = frozenset(
    {
        ConnectState.ACTIVE,
        ConnectState.CONNECTED,
        ConnectState.CONNECT_QUERY,
        ConnectState.SHADOW,
        ConnectState.DISCONNECTED,
        ConnectState.IDLE,
    }
)
#: Session 0 holds services, never a user; 65536 is the RDP listener's (an ``Listen`` state).
SERVICES_SESSION: Final = 0


@dataclass(frozen=True)
class WtsSession:
    session_id: int
    state: int
    user: str | None = None
    domain: str | None = None
    client_address: ipaddress.IPv4Address | None = None

    @property
    def account(self) -> str | None:
        if not self.user:
            return None
        return f"{self.domain}\\{self.user}" if self.domain else self.user


def live_session_ids(sessions: Iterable[tuple[int, int]]) -> frozenset[int]:
    """Sessions that count as alive for leases: a state in :data:`LIVE_STATES`, not session 0.

    ``Listen`` (the RDP listener), ``Down``, ``Init`` and ``Reset`` hold no user."""
    return frozenset(sid for sid, state in sessions if sid != SERVICES_SESSION and state in LIVE_STATES)


def parse_client_address(raw: bytes) -> ipaddress.IPv4Address | None:
    """The IPv4 client address in a ``WTS_CLIENT_ADDRESS`` buffer, or ``None``.

    For ``AF_INET`` the address is at ``Address[2:6]`` (Microsoft Learn, "WTS_CLIENT_ADDRESS
    structure": "The IP address is offset by two bytes from the start of the Address member").
    Other families, a console session (all zero) and a short buffer give ``None``."""
    if len(raw) < _CLIENT_ADDRESS.size:
        return None
    family, address = _CLIENT_ADDRESS.unpack_from(raw)
    if family != AF_INET:
        return None
    ip = ipaddress.IPv4Address(address[2:6])
    return None if ip.is_unspecified else ip


def parse_wide_string(raw: bytes) -> str | None:
    """A NUL-terminated UTF-16LE string from a WTS buffer; empty gives ``None``."""
    text = raw.decode("utf-16-le", errors="replace").split("\0", 1)[0]
    return text or None


@dataclass(frozen=True)
class WtsApi:
    """The two WTS calls the provider needs (the ctypes boundary, or a test's own)."""

    enumerate: Callable[[], list[tuple[int, int]]]
    query: Callable[[int, int], bytes]


def native_api() -> WtsApi:
    if sys.platform != "win32":
        raise VipError(WINDOWS_ONLY)
    from sessionnet_vip.engine.windows import win32

    return WtsApi(win32.wts_sessions, win32.wts_query)


@dataclass(frozen=True)
class WtsSessions:
    """Live sessions from WTS. ``None`` (unknown) when the enumeration fails, never "none"."""

    api: WtsApi
    name: str = "wts"

    def live_sessions(self) -> frozenset[int] | None:
        try:
            return live_session_ids(self.api.enumerate())
        except OSError as exc:
            log.warning("WTSEnumerateSessionsW failed: %s", exc)
            return None

    def describe(self, session_id: int) -> WtsSession | None:
        """User, domain, state and client address of ``session_id`` (``None``: no such session)."""
        try:
            states = dict(self.api.enumerate())
        except OSError as exc:
            log.warning("WTSEnumerateSessionsW failed: %s", exc)
            return None
        if session_id not in states:
            return None

        def text(info: int) -> str | None:
            try:
                return parse_wide_string(self.api.query(session_id, info))
            except OSError:
                return None

        try:
            client = parse_client_address(self.api.query(session_id, WTS_CLIENT_ADDRESS))
        except OSError:
            client = None
        return WtsSession(session_id, states[session_id], text(WTS_USER_NAME), text(WTS_DOMAIN_NAME), client)

    def sessions(self) -> dict[int, WtsSession] | None:
        """Every live session with its user and client address."""
        live = self.live_sessions()
        if live is None:
            return None
        out: dict[int, WtsSession] = {}
        for sid in sorted(live):
            found = self.describe(sid)
            if found is not None:
                out[sid] = found
        return out


def provider(name: str, api: WtsApi | None = None) -> SessionProvider:
    """``auto`` and ``wts``: WTS sessions (through ``api``, default the Win32 calls);
    ``engine``: the engine's own view."""
    if name == "engine":
        return EngineSessions()
    if name in ("auto", "wts"):
        return WtsSessions(api or native_api())
    raise VipError(
        f"session provider {name!r} is unknown on Windows; use one of {', '.join(SESSION_PROVIDERS)}"
    )


def boot_id() -> str:
    """This boot's ID (see the module docs); a VipError naming the key when it cannot be kept."""
    if sys.platform != "win32":
        raise VipError(WINDOWS_ONLY)
    from sessionnet_vip.engine.windows import win32

    try:
        return win32.volatile_boot_id(BOOT_KEY, BOOT_VALUE)
    except OSError as exc:
        raise VipError(
            f"cannot keep the boot ID in HKLM\\{BOOT_KEY} ({exc}); run the engine as SYSTEM or an administrator"
        ) from None
