"""Program lists on Windows (RD IP Virtualization ``PerApp``, Citrix loopback and prefer-loopback).

One normalisation for every Windows program list of the collection:

- an entry is a full path (``C:\\Program Files\\App\\app.exe`` or ``\\\\server\\share\\app.exe``) or
  a bare executable name (``app.exe``); bare names are accepted with a warning, since any program
  of that name then matches (Citrix recommends full paths "for security reasons");
- wildcards, quotes, leading/trailing spaces, environment variables and relative paths
  (``..\\x.exe``, ``.\\x.exe``, ``dir\\x.exe``) are refused with an error naming the entry;
- ``/`` is read as ``\\``; entries that differ only in case are one entry (Windows paths are
  case-insensitive): the first spelling is kept, order is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sessionnet_vip.coerce import brief
from sessionnet_vip.errors import VipError

_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\[^\\]")
_UNC_PATH = re.compile(r"^\\\\[^\\]+\\[^\\]+\\[^\\]")
_FORBIDDEN = re.compile(r"[*?\"'<>|\x00-\x1f]")
#: Windows path limits (Microsoft, "Maximum Path Length Limitation",
#: https://learn.microsoft.com/en-us/windows/win32/fileio/maximum-file-path-limitation): about
#: 32,767 characters for a whole path with the Unicode APIs, 255 per component on NTFS and
#: other common file systems.
MAX_PATH_CHARS = 32_767
MAX_COMPONENT_CHARS = 255


class ProgramListError(VipError):
    """An entry of a program list is not a usable program."""


@dataclass
class ProgramList:
    programs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def normalize_programs(entries: Iterable[object] | None, option: str = "programs") -> ProgramList:
    """Validate and normalise a Windows program list (see the module docstring)."""
    out = ProgramList()
    seen: set[str] = set()
    bare: list[str] = []
    for index, entry in enumerate(entries or []):
        where = f"{option}[{index}] {brief(entry)}"
        if not isinstance(entry, str) or not entry:
            raise ProgramListError(
                f"{where}: give a full path like 'C:\\Program Files\\App\\app.exe' or a name"
            )
        if entry != entry.strip():
            raise ProgramListError(f"{where}: has leading or trailing spaces; remove them")
        if len(entry) > MAX_PATH_CHARS:
            raise ProgramListError(
                f"{where}: is {len(entry):,} characters long; Windows paths are at most {MAX_PATH_CHARS:,}"
            )
        longest = max(entry.replace("/", "\\").split("\\"), key=len)
        if len(longest) > MAX_COMPONENT_CHARS:
            raise ProgramListError(
                f"{where}: has a name of {len(longest)} characters ({brief(longest, 40)}); a file or "
                f"directory name is at most {MAX_COMPONENT_CHARS} characters"
            )
        if _FORBIDDEN.search(entry):
            raise ProgramListError(
                f"{where}: wildcards, quotes and control characters are not allowed; list each program by its path"
            )
        if "%" in entry:
            raise ProgramListError(
                f"{where}: environment variables are not expanded here; give the expanded path"
            )
        text = entry.replace("/", "\\")
        is_unc = text.startswith("\\\\")
        text = ("\\\\" if is_unc else "") + re.sub(r"\\{2,}", r"\\", text[2:] if is_unc else text)
        if "\\" in text:
            if not (_DRIVE_PATH.match(text) or _UNC_PATH.match(text)):
                raise ProgramListError(
                    f"{where}: is a relative path; give a full path like 'C:\\Program Files\\App\\app.exe' or just the executable name"
                )
            parts = text.split("\\")
            if any(p in (".", "..") for p in parts) or text.endswith("\\"):
                raise ProgramListError(
                    f"{where}: '.', '..' or a trailing backslash is not allowed in a program path"
                )
        elif ":" in text:
            raise ProgramListError(
                f"{where}: is a drive-relative path; give a full path like 'C:\\App\\app.exe'"
            )
        else:
            bare.append(text)
        key = text.casefold()
        if key in seen:
            continue
        seen.add(key)
        out.programs.append(text)
    if bare:
        out.warnings.append(
            f"{option}: {', '.join(sorted(set(bare), key=str.casefold))} "
            "given by name only; any program with that name will match. A full path is safer."
        )
    return out
