"""Linux side of ``vip_app_audit``: sockets and their owning processes, read from ``/proc``.

Stdlib only and free of imports from :mod:`sessionnet_vip`: the action plugin sends this file's
source to the target and runs it with the target's Python (one round trip per sample). It
decides nothing; it reports what the kernel says, in the same shape as the Windows hand
(``vip_socket_info``) and the simulator:

``{"sockets": [{"protocol", "family", "local_address", "local_port", "remote_address",
"remote_port", "state", "pid", "exe", "session", "user"}], "ephemeral_ports": [lo, hi],
"platform": "linux", "warnings": [...]}``

Sources (Linux kernel documentation, ``Documentation/networking/proc_net_tcp.rst`` and
``proc(5)``): ``/proc/net/{tcp,tcp6,udp,udp6}`` list sockets with their inode; the
``/proc/PID/fd/*`` links ``socket:[INODE]`` name the owning process; ``/proc/PID/exe`` its
executable; ``/proc/PID/sessionid`` the audit (logind) session, unset as 4294967295;
``/proc/sys/net/ipv4/ip_local_port_range`` the ephemeral port range.

Optional second-instance probe: ``{"probe": [{"argv": [...], "timeout": s}]}`` starts each
program once more, waits until it holds a socket or exits (or the timeout), records its
sockets and exit status, and stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from typing import Any

if sys.platform != "win32":  # the collector runs on Linux; the module still imports on Windows
    import pwd

UNSET_SESSION = 4294967295
TCP_STATES = {
    "01": "established",
    "02": "syn_sent",
    "03": "syn_recv",
    "04": "fin_wait1",
    "05": "fin_wait2",
    "06": "time_wait",
    "07": "close",
    "08": "close_wait",
    "09": "last_ack",
    "0A": "listen",
    "0B": "closing",
}


def _address(hexaddr: str) -> str:
    """Decode a /proc/net address: 32-bit words in host byte order."""
    raw = bytes.fromhex(hexaddr)
    words = b"".join(struct.pack("=I", struct.unpack(">I", raw[i : i + 4])[0]) for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words)


def _endpoint(field: str) -> tuple[str, int]:
    addr, port = field.split(":")
    return _address(addr), int(port, 16)


def read_proc_net(root: str = "/proc") -> list[dict[str, Any]]:
    """Every TCP/UDP socket of ``/proc/net`` with its inode (no owner yet)."""
    found: list[dict[str, Any]] = []
    for proto, family, name in (("tcp", 4, "tcp"), ("tcp", 6, "tcp6"), ("udp", 4, "udp"), ("udp", 6, "udp6")):
        try:
            with open(os.path.join(root, "net", name), encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10:
                continue
            local, remote, state, inode = cols[1], cols[2], cols[3], int(cols[9])
            laddr, lport = _endpoint(local)
            raddr, rport = _endpoint(remote)
            if proto == "tcp":
                state_name = TCP_STATES.get(state.upper(), state)
                if state_name in ("time_wait", "close") or inode == 0:
                    continue
            else:
                # An unconnected UDP socket is an endpoint bound to a local port.
                state_name = "bound" if rport == 0 else "connected"
            found.append(
                {
                    "protocol": proto,
                    "family": family,
                    "local_address": laddr,
                    "local_port": lport,
                    "remote_address": None if rport == 0 else raddr,
                    "remote_port": None if rport == 0 else rport,
                    "state": state_name,
                    "inode": inode,
                }
            )
    return found


def socket_owners(root: str = "/proc") -> dict[int, int]:
    """inode -> pid, from the ``socket:[INODE]`` links of every readable ``/proc/PID/fd``."""
    owners: dict[int, int] = {}
    for entry in os.listdir(root):
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(root, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(int(target[8:-1]), int(entry))
    return owners


def process_info(pid: int, root: str = "/proc") -> dict[str, Any]:
    """Executable path, audit session and user of ``pid`` (``None`` where unreadable)."""
    base = os.path.join(root, str(pid))
    info: dict[str, Any] = {"exe": None, "session": None, "user": None}
    with contextlib.suppress(OSError):
        info["exe"] = os.readlink(os.path.join(base, "exe"))
    try:
        with open(os.path.join(base, "sessionid"), encoding="ascii") as handle:
            session = int(handle.read().strip() or UNSET_SESSION)
        info["session"] = None if session == UNSET_SESSION else session
    except (OSError, ValueError):
        pass
    if sys.platform != "win32":
        try:
            uid = os.stat(base).st_uid
            try:
                info["user"] = pwd.getpwuid(uid).pw_name
            except KeyError:
                info["user"] = str(uid)
        except OSError:
            pass
    return info


def ephemeral_range(root: str = "/proc") -> list[int]:
    try:
        with open(
            os.path.join(root, "sys", "net", "ipv4", "ip_local_port_range"), encoding="ascii"
        ) as handle:
            low, high = handle.read().split()
        return [int(low), int(high)]
    except (OSError, ValueError):
        return [32768, 60999]  # the kernel's default


def collect(root: str = "/proc", only_pids: set[int] | None = None) -> dict[str, Any]:
    """One sample: every socket with an owning process we can see."""
    sockets = read_proc_net(root)
    owners = socket_owners(root)
    infos: dict[int, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    unowned = 0
    for sock in sockets:
        pid = owners.get(int(sock.pop("inode")))
        if pid is None:
            unowned += 1
            continue
        if only_pids is not None and pid not in only_pids:
            continue
        if pid not in infos:
            infos[pid] = process_info(pid, root)
        out.append(dict(sock, pid=pid, **infos[pid]))
    warnings: list[str] = []
    if unowned and sys.platform != "win32" and os.geteuid() != 0:
        warnings.append(
            f"{unowned} socket(s) belong to processes this user cannot read; run the audit as root (become: true)"
        )
    return {
        "platform": "linux",
        "sockets": out,
        "ephemeral_ports": ephemeral_range(root),
        "warnings": warnings,
    }


def probe(argv: list[str], timeout: float) -> dict[str, Any]:
    """Start ``argv`` once more; report its sockets (or its early exit), then stop it."""
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        return {"argv": argv, "started": False, "error": str(exc), "sockets": [], "exit_code": None}
    deadline = time.monotonic() + timeout
    sockets: list[dict[str, Any]] = []
    exit_code = None
    while True:
        exit_code = proc.poll()
        sockets = collect(only_pids={proc.pid})["sockets"] if exit_code is None else []
        if exit_code is not None or sockets or time.monotonic() >= deadline:
            break
        time.sleep(0.1)  # polling the program's own progress, bounded by the timeout
    stderr = ""
    if exit_code is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        stderr = proc.stderr.read().decode("utf-8", "replace")[-2000:]
        proc.stderr.close()
    return {
        "argv": argv,
        "started": True,
        "exit_code": exit_code,
        "sockets": sockets,
        "stderr": stderr,
    }


def main(argv: list[str]) -> int:
    request = json.loads(argv[1]) if len(argv) > 1 else {}
    result = collect()
    result["probes"] = [
        probe(list(p["argv"]), float(p.get("timeout", 10))) for p in request.get("probe") or []
    ]
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
