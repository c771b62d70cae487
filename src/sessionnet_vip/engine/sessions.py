"""Live-session providers: who tells the reconciler which sessions still exist.

A provider returns the set of live session IDs, or ``None`` when it cannot know (then only
leases of earlier boots are reclaimed). Part 2 plugs its own providers in here (the agent's
session watcher on Linux, WTS sessions on Windows).

This module is platform-neutral: logind's provider only reads files. The Windows provider
(WTS sessions) lives in ``sessionnet_vip.engine.windows.sessions`` and is reached through
:func:`sessionnet_vip.engine.platform.platform_module` on Windows only; it provides
``provider(name: str) -> SessionProvider`` for the names ``auto`` and its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from sessionnet_vip.errors import VipError

LOGIND_SESSIONS_DIR: Final = Path("/run/systemd/sessions")


class SessionProvider(Protocol):
    @property
    def name(self) -> str: ...

    def live_sessions(self) -> frozenset[int] | None: ...


@dataclass(frozen=True)
class EngineSessions:
    """The engine's own view: a session lives until it is released (or the host reboots)."""

    name: str = "engine"

    def live_sessions(self) -> frozenset[int] | None:
        return None


@dataclass(frozen=True)
class LogindSessions:
    """systemd-logind's sessions: one state file per session in ``/run/systemd/sessions``.

    Numeric session names are the session IDs; other names (``c1``, greeter sessions) hold no
    lease of ours and are ignored. A missing directory means "unknown", never "none alive".
    """

    directory: Path = LOGIND_SESSIONS_DIR
    name: str = "logind"

    def live_sessions(self) -> frozenset[int] | None:
        try:
            names = [p.name for p in self.directory.iterdir() if p.is_file()]
        except OSError:
            return None
        return frozenset(int(n) for n in names if n.isdigit())


@dataclass(frozen=True)
class StaticSessions:
    """A fixed list (tests, and hosts whose session list is pushed from elsewhere)."""

    sessions: frozenset[int]
    name: str = "static"

    @classmethod
    def of(cls, sessions: Iterable[int]) -> StaticSessions:
        return cls(frozenset(sessions))

    def live_sessions(self) -> frozenset[int] | None:
        return self.sessions


def make_provider(name: str) -> SessionProvider:
    """``engine``, ``logind``, or ``auto`` (logind where its directory exists, else engine;
    on Windows, the Windows session provider)."""
    if name == "engine":
        return EngineSessions()
    if sys.platform == "win32":
        from sessionnet_vip.engine.platform import platform_module

        windows: SessionProvider = platform_module("sessions").provider(name)
        return windows
    if name == "logind":
        return LogindSessions()
    if name == "auto":
        return LogindSessions() if LOGIND_SESSIONS_DIR.is_dir() else EngineSessions()
    raise VipError(f"session provider {name!r} is unknown; use auto, engine or logind")
