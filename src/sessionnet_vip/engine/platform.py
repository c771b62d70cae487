"""Which per-platform modules this engine uses, chosen at run time.

``engine.linux.<name>`` on Linux (and other POSIX hosts), ``engine.windows.<name>`` on
Windows. A module of the other platform is never imported. A module not written for this
platform yet is a :class:`VipError` naming it, not a crash.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Final, cast

from sessionnet_vip.errors import VipError

if TYPE_CHECKING:
    from sessionnet_vip.engine.transport import Transport

#: The per-platform modules of the engine, by role.
MODULES: Final = ("transport", "sessions", "agentplane")


def platform_package(platform: str | None = None) -> str:
    """``sessionnet_vip.engine.windows`` on Windows, else ``sessionnet_vip.engine.linux``."""
    name = sys.platform if platform is None else platform
    return "sessionnet_vip.engine." + ("windows" if name == "win32" else "linux")


def platform_module(role: str, platform: str | None = None) -> ModuleType:
    """The module implementing ``role`` (one of :data:`MODULES`) on this platform.

    On Linux, ``sessions`` is not a module of its own: logind's provider is in the neutral
    :mod:`sessionnet_vip.engine.sessions` (it only reads files)."""
    name = f"{platform_package(platform)}.{role}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        system = "Windows" if name.startswith("sessionnet_vip.engine.windows") else sys.platform
        raise VipError(
            f"this version of sessionnet-vip has no engine {role} for {system} ({name} is missing); "
            "'vipctl serve' and the engine's control requests cannot run here, the offline "
            "commands (vipctl plan, vipctl loopback) still work"
        ) from None


def transport(platform: str | None = None) -> Transport:
    """This platform's control transport (see :class:`~sessionnet_vip.engine.transport.Transport`)."""
    return cast("Transport", platform_module("transport", platform))
