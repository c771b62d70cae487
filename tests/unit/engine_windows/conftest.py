"""Fixtures of the Windows engine tests: a real engine (real SQLite store, real policy and
allocator) whose WTS calls are answered by a table of sessions: the ctypes boundary is the
only thing replaced."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sessionnet_vip.engine.config import EngineConfig, parse_config
from sessionnet_vip.engine.windows.agentplane import WindowsEngine
from sessionnet_vip.engine.windows.sessions import (
    WTS_CLIENT_ADDRESS,
    WTS_DOMAIN_NAME,
    WTS_USER_NAME,
    ConnectState,
    WtsApi,
    WtsSessions,
)

CRM = "C:\\Program Files\\CRM\\crm.exe"
LEGACY = "C:\\Legacy\\ident.exe"


def wide(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def client_address(ip: str | None) -> bytes:
    """A WTS_CLIENT_ADDRESS as Windows fills it (AF_INET, address at Address[2:6])."""
    if ip is None:
        return struct.pack("<I20s", 0, b"")
    return struct.pack("<I20s", 2, b"\0\0" + ipaddress.IPv4Address(ip).packed)


@dataclass
class FakeWts:
    """Sessions as WTSEnumerateSessionsW / WTSQuerySessionInformationW would report them."""

    sessions: dict[int, tuple[int, str, str, str | None]] = field(default_factory=dict)
    fail: bool = False

    def add(
        self,
        sid: int,
        user: str,
        *,
        domain: str = "CORP",
        client: str | None = None,
        state: int = ConnectState.ACTIVE,
    ) -> None:
        self.sessions[sid] = (state, user, domain, client)

    def enumerate(self) -> list[tuple[int, int]]:
        if self.fail:
            raise OSError("WTSEnumerateSessionsW: RPC server unavailable")
        return [(0, ConnectState.DISCONNECTED), (65536, ConnectState.LISTEN)] + [
            (sid, s[0]) for sid, s in self.sessions.items()
        ]

    def query(self, sid: int, info: int) -> bytes:
        if sid not in self.sessions:
            raise OSError("no such session")
        _state, user, domain, client = self.sessions[sid]
        if info == WTS_USER_NAME:
            return wide(user)
        if info == WTS_DOMAIN_NAME:
            return wide(domain)
        if info == WTS_CLIENT_ADDRESS:
            return client_address(client)
        raise OSError(f"info class {info} not modelled")

    def api(self) -> WtsApi:
        return WtsApi(self.enumerate, self.query)


def windows_config(tmp_path: Path, **extra: object) -> EngineConfig:
    data: dict[str, object] = {
        "pool": ["198.51.100.10-198.51.100.11"],
        "state_dir": str(tmp_path / "state"),
        "processes": [CRM, {"path": LEGACY, "mode": "client_address"}],
        "isolate_loopback": True,
        "inherit_children": True,
        "session_provider": "wts",
        "data_plane": {"assign_addresses": False},
    }
    data.update(extra)
    return parse_config(data, source="test", platform="windows")


@pytest.fixture
def wts() -> FakeWts:
    return FakeWts()


@pytest.fixture
def engine(tmp_path: Path, wts: FakeWts) -> Iterator[WindowsEngine]:
    eng = WindowsEngine.open_windows(
        windows_config(tmp_path), provider=WtsSessions(wts.api()), boot_id="boot-1"
    )
    eng.start_agent(watch=False)
    yield eng
    eng.stop_agent()
    eng.close()
