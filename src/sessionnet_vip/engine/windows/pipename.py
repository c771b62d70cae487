"""The engine's control pipe name on Windows: the default and what a valid name is.

One place for the launcher contract's pipe name (``viprun.exe --pipe NAME`` and the engine
config key ``control_pipe`` override it); imported by the config parser on every platform.
"""

from __future__ import annotations

from typing import Final

from sessionnet_vip.errors import VipError

DEFAULT_PIPE: Final = "\\\\.\\pipe\\sessionnet-vip"
PIPE_PREFIX: Final = "\\\\.\\pipe\\"
#: Pipe names are at most 256 characters (Microsoft Learn, "CreateNamedPipeW": lpName).
MAX_PIPE_NAME: Final = 256


def check_pipe_name(name: str) -> str:
    """``name`` when it is a local pipe name ``\\\\.\\pipe\\NAME``; else a VipError naming it."""
    if not isinstance(name, str) or not name.startswith(PIPE_PREFIX):
        raise VipError(f"control_pipe {name!r}: give a local pipe name such as {DEFAULT_PIPE!r}")
    rest = name[len(PIPE_PREFIX) :]
    if not rest or len(name) > MAX_PIPE_NAME or any(c in rest for c in '\\"\0\n\r') or rest.strip() != rest:
        raise VipError(
            f"control_pipe {name!r}: the part after {PIPE_PREFIX!r} must be a name of 1 to "
            f"{MAX_PIPE_NAME - len(PIPE_PREFIX)} characters without backslashes, quotes or surrounding spaces"
        )
    return name
