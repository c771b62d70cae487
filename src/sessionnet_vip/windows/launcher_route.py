"""How listed programs reach the launcher: the Image File Execution Options ``Debugger`` route.

Windows starts the program named in a ``Debugger`` value under
``HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options\\<exe name>``
instead of ``<exe name>``, with the original command line appended to the value (Microsoft
Learn, "Running a Program in a Debugger" (GFlags),
https://learn.microsoft.com/windows-hardware/drivers/debugger/running-a-program-in-a-debugger).
A process created for debugging (``DEBUG_ONLY_THIS_PROCESS``) is not redirected again, which is
how ``viprun.exe --ifeo`` starts the real program; it then detaches with
``DebugActiveProcessStop`` (Microsoft Learn, "DebugActiveProcessStop function").

IFEO keys are by executable *name*, so the route catches every program of that name;
``viprun.exe`` asks the engine with the full path and starts an unlisted one untranslated.

This module is the one place that knows these registry facts. :func:`build_launcher_route`
returns desired-state items for the generic registry hand (``registry_state``), in the shape
:func:`sessionnet_vip.windows.registry.parse_values` validates.
"""

from __future__ import annotations

import ntpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows.programs import normalize_programs

IFEO_KEY: Final = "HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options"
DEBUGGER_VALUE: Final = "Debugger"
#: viprun's option that marks "started as an IFEO Debugger; the original command line follows".
IFEO_OPTION: Final = "--ifeo"
DEFAULT_PIPE: Final = "\\\\.\\pipe\\sessionnet-vip"
#: Both registry views: 32-bit parents read the WOW64 view (HKLM\\SOFTWARE\\Wow6432Node\\...).
VIEWS: Final = ("64", "32")


class LauncherRouteError(VipError):
    """The launcher route cannot be built from these options."""


@dataclass(frozen=True)
class LauncherRoutePlan:
    values: list[dict[str, Any]]
    images: list[str]  #: IFEO key names (executable names), in order
    warnings: list[str] = field(default_factory=list)


def debugger_command(viprun: str, pipe: str | None = None) -> str:
    """The ``Debugger`` value: quoted viprun path, ``--pipe NAME`` when not the default, ``--ifeo``."""
    if not isinstance(viprun, str) or not ntpath.isabs(viprun) or not viprun.lower().endswith(".exe"):
        raise LauncherRouteError(
            f"viprun {viprun!r}: give the full path of viprun.exe on the host, e.g. "
            "'C:\\Program Files\\sessionnet-vip\\x64\\viprun.exe'"
        )
    if '"' in viprun:
        raise LauncherRouteError(f"viprun {viprun!r}: quotes are not allowed in the path")
    parts = [f'"{viprun}"']
    if pipe is not None and pipe != DEFAULT_PIPE:
        if not pipe.startswith("\\\\.\\pipe\\") or " " in pipe or '"' in pipe:
            raise LauncherRouteError(
                f"pipe {pipe!r}: give a local pipe name without spaces, like '\\\\.\\pipe\\sessionnet-vip'"
            )
        parts += ["--pipe", pipe]
    parts.append(IFEO_OPTION)
    return " ".join(parts)


def image_names(programs: Iterable[object]) -> tuple[list[str], list[str]]:
    """IFEO key names for a program list (names or full paths); returns (names, warnings)."""
    normalized = normalize_programs(programs, "programs")
    names: list[str] = []
    seen: set[str] = set()
    for program in normalized.programs:
        name = ntpath.basename(program)
        if not name.lower().endswith(".exe"):
            raise LauncherRouteError(
                f"programs: {program!r} does not end in .exe; Image File Execution Options apply to "
                "executables by file name"
            )
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    warnings = list(normalized.warnings)
    if len(names) < len(normalized.programs):
        warnings.append(
            "several listed paths share an executable name; one IFEO key serves them all and "
            "viprun asks the engine about the full path of each start"
        )
    return names, warnings


def build_launcher_route(
    programs: Iterable[object], viprun: str, *, state: str = "present", pipe: str | None = None
) -> LauncherRoutePlan:
    """Desired registry state of the IFEO route for ``programs``.

    ``state: present`` sets ``Debugger`` to :func:`debugger_command` under each program's IFEO key
    in both views; ``state: absent`` removes the ``Debugger`` value only (an IFEO key may hold
    other settings, such as ``GlobalFlag``, that are not ours).
    """
    if state not in ("present", "absent"):
        raise LauncherRouteError(f"state {state!r}: use present or absent")
    names, warnings = image_names(programs)
    if not names:
        raise LauncherRouteError("programs is empty: list the executables that should start through viprun")
    command = debugger_command(viprun, pipe) if state == "present" else None
    values: list[dict[str, Any]] = []
    for name in names:
        for view in VIEWS:
            item: dict[str, Any] = {
                "path": f"{IFEO_KEY}\\{name}",
                "name": DEBUGGER_VALUE,
                "view": view,
                "state": state,
            }
            if command is not None:
                item.update(type="string", data=command)
            values.append(item)
    return LauncherRoutePlan(values, names, warnings)
