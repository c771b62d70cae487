"""Process-list matching by resolved executable (``/proc/PID/exe``).

The kernel resolves ``/proc/PID/exe`` to the real file that was executed, so a process
started through a symlinked interpreter (``/usr/bin/python3`` → ``python3.11``) shows the
real path. Entries of a process list are resolved the same way (``realpath``; bare names
through ``PATH``), so both sides compare real paths. Entries missing on disk are kept as
given (they may appear later) and reported as warnings.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sessionnet_vip.errors import VipError

_DELETED = " (deleted)"


def process_exe(pid: int) -> Path:
    """Return the real path of the executable of process ``pid``."""
    try:
        target = os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        raise VipError(f"process {pid} does not exist; give the ID of a running process") from None
    except PermissionError:
        raise VipError(f"cannot read /proc/{pid}/exe; run the engine as root") from None
    if target.endswith(_DELETED):
        target = target[: -len(_DELETED)]
    return Path(target)


#: The kernel keeps the first 15 bytes of a program's name as its ``comm`` (TASK_COMM_LEN - 1).
COMM_LENGTH = 15


def process_comm(pid: int) -> str | None:
    """``/proc/PID/comm``: the base name of the file the process executed, as given to
    ``execve`` (a symlink's own name, not its target's), at most 15 bytes; ``None`` if gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text(errors="replace").rstrip("\n")
    except OSError:
        return None


@dataclass(frozen=True)
class ProcessList:
    """A resolved process list: real paths, and bare names for basename matches."""

    paths: frozenset[Path]
    names: frozenset[str]
    warnings: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, entries: list[str] | tuple[str, ...]) -> ProcessList:
        """Resolve ``entries`` (absolute paths or bare program names)."""
        paths: set[Path] = set()
        names: set[str] = set()
        warnings: list[str] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                raise VipError("process list entry is empty; give a program path or name")
            if "/" in text:
                if not os.path.isabs(text):
                    raise VipError(f"process list entry {text!r} is a relative path; give an absolute path")
                real = Path(os.path.realpath(text))
                if not real.exists():
                    warnings.append(f"process list entry {text} does not exist on disk (yet); kept as given")
                paths.add(real)
            else:
                names.add(text)
                found = shutil.which(text)
                if found is None:
                    warnings.append(f"process list entry {text!r} is not on PATH; matched by file name only")
                else:
                    paths.add(Path(os.path.realpath(found)))
        return cls(frozenset(paths), frozenset(names), tuple(warnings))

    def matches_exe(self, exe: Path) -> bool:
        """Return whether executable ``exe`` (a real path) is on the list."""
        return exe in self.paths or exe.name in self.names

    def matches_pid(self, pid: int) -> bool:
        """Return whether process ``pid`` runs a listed executable."""
        return self.matches_exe(process_exe(pid))
