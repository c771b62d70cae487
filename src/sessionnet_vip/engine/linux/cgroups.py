"""cgroup v2 plumbing: find the unified hierarchy, make and remove cgroups, move processes.

The cgroup v2 mount is found at run time from ``/proc/self/mountinfo`` (hybrid hosts mount it
at ``/sys/fs/cgroup/unified``, unified hosts at ``/sys/fs/cgroup``). A cgroup's ID, as BPF
programs see it (``bpf_get_current_cgroup_id``), is the inode number of its directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import time
from dataclasses import dataclass
from pathlib import Path

from sessionnet_vip.errors import VipError


class CgroupError(VipError):
    """A cgroup operation failed (missing hierarchy, vanished cgroup, refused move)."""


@dataclass(frozen=True)
class Cgroup2Mount:
    """Where the cgroup v2 hierarchy is mounted and which of its cgroups is the mount's root."""

    path: Path
    root: str  # the cgroup shown at ``path`` ("/" unless a cgroup namespace or bind mount)

    def level(self, cgroup: Path) -> int:
        """Return the level of ``cgroup`` in the hierarchy (the hierarchy root is level 0)."""
        relative = Path(os.path.abspath(cgroup)).relative_to(self.path)
        base = len([part for part in self.root.split("/") if part])
        return base + len(relative.parts)


def find_cgroup2(mountinfo: str = "/proc/self/mountinfo") -> Cgroup2Mount | None:
    """Return the cgroup v2 mount of this process's mount namespace, or ``None``."""
    try:
        text = Path(mountinfo).read_text()
    except OSError:
        return None
    found: list[Cgroup2Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fstype = line.split(" - ", 1)[1].split()[0]
        if fstype == "cgroup2":
            mount_point = fields[4].replace("\\040", " ")
            found.append(Cgroup2Mount(Path(mount_point), fields[3]))
    if not found:
        return None
    found.sort(key=lambda m: (m.root != "/", len(str(m.path))))
    return found[0]


def cgroup_id(cgroup: Path) -> int:
    """Return the cgroup ID of ``cgroup`` (its directory's inode number)."""
    return os.stat(cgroup).st_ino


# The helpers below join paths as text (os.path.join) rather than building pathlib objects: a
# logon and a logoff call them several times each, on the engine's request path.


def make(cgroup: Path) -> None:
    """Create ``cgroup`` if it does not exist."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(cgroup)


def pids(cgroup: Path) -> list[int]:
    """Return the processes of ``cgroup`` (not of its children)."""
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "rb") as handle:
            return [int(line) for line in handle.read().split()]
    except FileNotFoundError:
        return []


def move(pid: int, cgroup: Path) -> None:
    """Move process ``pid`` (all its threads) into ``cgroup``."""
    try:
        (cgroup / "cgroup.procs").write_text(f"{pid}\n")
    except FileNotFoundError:
        raise CgroupError(
            f"cgroup {cgroup} has vanished; add its session again before moving process {pid}"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise CgroupError(f"process {pid} does not exist; give the ID of a running process") from None
        raise CgroupError(f"cannot move process {pid} into {cgroup}: {exc.strerror}") from None


def populated(cgroup: Path) -> bool:
    """Return whether ``cgroup`` or a descendant still holds a process."""
    try:
        with open(os.path.join(cgroup, "cgroup.events"), encoding="ascii") as handle:
            text = handle.read()
        for line in text.splitlines():
            key, _sep, value = line.partition(" ")
            if key == "populated":
                return value.strip() == "1"
    except FileNotFoundError:
        return False
    return bool(pids(cgroup))


def wait_empty(cgroup: Path, timeout: float) -> bool:
    """Wait until ``cgroup`` holds no process; return whether it emptied in time.

    The kernel signals changes of ``cgroup.events`` with ``POLLPRI`` (cgroup-v2.rst).
    """
    deadline = time.monotonic() + timeout
    try:
        fd = os.open(cgroup / "cgroup.events", os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        while populated(cgroup):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            poller.poll(min(remaining, 0.1) * 1000)
        return True
    finally:
        os.close(fd)


def remove_tree(cgroup: Path | str) -> None:
    """Remove ``cgroup`` and its child cgroups (they must hold no process)."""
    # d_type from scandir: no stat() for each of the ~40 control files of a cgroup
    try:
        with os.scandir(cgroup) as entries:
            children = sorted((e.path for e in entries if e.is_dir(follow_symlinks=False)), reverse=True)
    except FileNotFoundError:
        return
    for child in children:
        remove_tree(child)
    try:
        os.rmdir(cgroup)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CgroupError(
            f"cannot remove cgroup {cgroup}: {exc.strerror}; it still holds processes"
        ) from None
