"""The engine's Windows modules, chosen by :mod:`sessionnet_vip.engine.platform` on Windows
and never imported elsewhere: ``transport`` (the named-pipe control channel implementing
:class:`sessionnet_vip.engine.transport.Transport`) and the WTS session provider."""

from __future__ import annotations

# typing is not imported at run time: ``vipctl --help`` loads this package (servicecli), and
# typing costs it about a third of its start-up; mypy reads the block below.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

#: The error of a Windows-only call made on another platform.
WINDOWS_ONLY: Final = "this part of the engine runs on Windows only"
#: The IPv4 address family (ws2def.h), shared by the IP Helper and WTS structures.
AF_INET: Final = 2
