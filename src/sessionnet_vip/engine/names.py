"""Local-name lookups for translated processes: a per-session hosts file.

Decision (engine part 2, item "local-name lookups"): no NSS module and no preload library.
Both would need a compiled shared object (no compiler at run time) and neither reaches
statically linked programs. Instead the engine writes one hosts file per session, and
``vipctl run`` starts a translated program in a private mount namespace
(``unshare(CLONE_NEWNS)``) where that file is bind-mounted over ``/etc/hosts``. Every
resolver that reads ``/etc/hosts`` (glibc's ``files`` NSS source, musl, Go's pure resolver,
static binaries) then answers ``localhost`` with the session loopback and the host's own name
with the session VIP. Limits: see ``docs/linux-data-plane.md`` ("Name lookups").
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Final

from sessionnet_vip.errors import VipError

LOCALHOST_NAMES: Final = ("localhost", "localhost.localdomain")
HOSTS_HEADER: Final = "# sessionnet-vip: hosts file of session {sid} (written by the engine; do not edit)\n"

# <sys/mount.h>
_CLONE_NEWNS: Final = 0x00020000
_MS_BIND: Final = 0x1000
_MS_REC: Final = 0x4000
_MS_SLAVE: Final = 1 << 19


def host_names(hostname: str | None = None) -> tuple[str, ...]:
    """The host's own name and its short form (``gethostname()``)."""
    name = hostname if hostname is not None else socket.gethostname()
    names = [name]
    short = name.split(".", 1)[0]
    if short and short != name:
        names.append(short)
    return tuple(n for n in names if n)


def render_hosts(
    base: str,
    session_id: int,
    loopback: ipaddress.IPv4Address,
    vip: ipaddress.IPv4Address | None,
    names: tuple[str, ...],
) -> str:
    """The session's hosts file: ``base`` without the local names, plus the session's lines.

    ``localhost`` (also dropped from the ``::1`` line, so that an AF_UNSPEC lookup cannot pick
    the untranslated IPv6 loopback) maps to the session loopback; the host's names map to the
    VIP, or are left as in ``base`` when the session has no VIP.
    """
    own = set(LOCALHOST_NAMES) | (set(names) if vip is not None else set())
    kept: list[str] = []
    for line in base.splitlines():
        body, hash_, comment = line.partition("#")
        fields = body.split()
        if len(fields) < 2:
            kept.append(line)
            continue
        rest = [n for n in fields[1:] if n.lower() not in own]
        if rest == fields[1:]:
            kept.append(line)
        elif rest:
            kept.append(" ".join([fields[0], *rest]) + (f" {hash_}{comment}" if hash_ else ""))
    head = [HOSTS_HEADER.format(sid=session_id).rstrip("\n"), f"{loopback}\t{' '.join(LOCALHOST_NAMES)}"]
    if vip is not None and names:
        head.append(f"{vip}\t{' '.join(names)}")
    return "\n".join([*head, *kept]) + "\n"


def write_hosts(path: Path, text: str) -> None:
    """Write in place (same inode): a bind mount of the file keeps seeing updates."""
    if sys.platform == "win32":  # POSIX only (mypy --platform win32 checks the rest is unreachable)
        raise VipError(
            "the per-session hosts file needs Linux; on Windows the launcher and the service do this"
        )
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        data = text.encode()
        # overwrite, then cut what is left of a longer old text. Not truncate-to-0 first: ext4
        # takes a truncation to 0 followed by new data as "replace via truncate" and starts
        # writing the file back on close (auto_da_alloc, ext4(5)), which a logoff's unlink then
        # waits for: about 4 ms per session on a disk, a limit on logons per second.
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def enter_private_hosts(hosts_file: str, target: str = "/etc/hosts") -> None:
    """In the calling process: a private mount namespace with ``hosts_file`` over ``target``.

    Mount propagation is made *slave* first, so nothing mounted here leaks to the host.
    Needs ``CAP_SYS_ADMIN`` (root). Raises :class:`VipError` naming the failing step.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if libc.unshare(_CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise VipError(f"unshare(CLONE_NEWNS) failed ({os.strerror(err)}); name lookups need root")
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        err = ctypes.get_errno()
        raise VipError(f"making / a slave mount failed ({os.strerror(err)})")
    if libc.mount(hosts_file.encode(), target.encode(), None, _MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise VipError(f"bind-mounting {hosts_file} over {target} failed ({os.strerror(err)})")
