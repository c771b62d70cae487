"""``vip_app_audit``: which programs need a virtual IP, a virtual loopback, or the client address.

This automates the procedure the vendors describe for TCPView (Citrix, "Virtual IP and virtual
loopback", https://docs.citrix.com/en-us/citrix-virtual-apps-desktops/manage-deployment/virtual-ip-and-virtual-loopback.html;
Microsoft, "Remote Desktop IP Virtualization", https://learn.microsoft.com/troubleshoot/windows-server/remote/remote-desktop-ip-virtualization):
start the application, look at the addresses and ports it opens and which process owns them,
look for ``0.0.0.0`` / ``127.0.0.1`` and for fixed ports, and compare with a second instance.

The hands (``vip_socket_info.ps1`` on Windows, :mod:`sessionnet_vip.apps.linux_collect` on
Linux, the simulator) only report sockets with their owning process. Every decision is here:

* a port is **fixed** when the same program holds the same port in two process instances
  (two sessions, or a restart between the two samples), or in both samples of one instance
  when the port lies outside the host's ephemeral (dynamic) port range. One sample of one
  instance cannot tell: the evidence says ``fixed: null`` and the reason says so;
* ``virtual_ip``: listens on the wildcard address (``0.0.0.0``, ``::``) or a host address on a
  fixed port (a second session's instance would collide on that port);
* ``virtual_loopback``: listens on, or connects to, a loopback address on a fixed port;
* ``client_address``: only connects out (to non-loopback addresses). Whether the server on the
  other end identifies the client by its source address cannot be seen from sockets: it is
  reported as a **candidate**, to be confirmed with the application's vendor;
* ``none``: nothing of the above (no sockets, or only ephemeral ones).
"""

from __future__ import annotations

import ipaddress
import ntpath
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.coerce import as_int, brief
from sessionnet_vip.errors import VipError

RECOMMENDATIONS: Final = ("virtual_ip", "virtual_loopback", "client_address", "none")
#: Windows' default dynamic port range since Vista / Server 2008 (Microsoft, "The default dynamic
#: port range for TCP/IP has changed", https://learn.microsoft.com/troubleshoot/windows-server/networking/default-dynamic-port-range-tcpip-chang).
WINDOWS_EPHEMERAL: Final = (49152, 65535)
#: Linux' default ``net.ipv4.ip_local_port_range``.
LINUX_EPHEMERAL: Final = (32768, 60999)
_SOCKET_KEYS: Final = ("protocol", "local_address", "local_port", "state", "pid")


class AuditInputError(VipError):
    """A sample from a hand is not in the documented shape."""


@dataclass(frozen=True)
class Observation:
    sample: int
    protocol: str
    local_address: str
    local_port: int
    remote_address: str | None
    remote_port: int | None
    state: str
    pid: int
    exe: str | None
    session: int | None
    user: str | None

    @property
    def listening(self) -> bool:
        return self.state in ("listen", "bound")


@dataclass
class _PortEvidence:
    protocol: str
    port: int
    address_class: (
        str  # wildcard | host | loopback (of the local address for listeners, remote for connections)
    )
    addresses: set[str] = field(default_factory=set)
    pids: set[int] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)
    samples_by_pid: dict[int, set[int]] = field(default_factory=dict)

    def add(self, obs: Observation, address: str) -> None:
        self.addresses.add(address)
        self.pids.add(obs.pid)
        if obs.session is not None:
            self.sessions.add(obs.session)
        self.samples_by_pid.setdefault(obs.pid, set()).add(obs.sample)

    def fixed(self, samples: int, ephemeral: tuple[int, int]) -> tuple[bool | None, str]:
        if len(self.pids) >= 2:
            where = (
                f"sessions {sorted(self.sessions)}"
                if len(self.sessions) >= 2
                else f"processes {sorted(self.pids)}"
            )
            return True, f"the same port in {len(self.pids)} instances ({where})"
        in_range = ephemeral[0] <= self.port <= ephemeral[1]
        seen = max(len(s) for s in self.samples_by_pid.values())
        if seen >= 2 and not in_range:
            return (
                True,
                f"the same port in {seen} samples, outside the ephemeral range {ephemeral[0]}-{ephemeral[1]}",
            )
        if seen >= 2:
            return False, f"one instance, inside the ephemeral range {ephemeral[0]}-{ephemeral[1]}"
        if samples < 2:
            return None, "one sample of one instance: take two samples (samples: 2) or run it in two sessions"
        return False, "seen in one sample only"

    def to_json(self, samples: int, ephemeral: tuple[int, int]) -> dict[str, Any]:
        fixed, why = self.fixed(samples, ephemeral)
        return {
            "protocol": self.protocol,
            "port": self.port,
            "addresses": sorted(self.addresses),
            "address_class": self.address_class,
            "fixed": fixed,
            "fixed_reason": why,
            "instances": len(self.pids),
            "sessions": sorted(self.sessions),
        }


def address_class(address: str) -> str:
    """``wildcard``, ``loopback`` or ``host`` (IPv4-mapped IPv6 addresses count as their IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError as exc:
        raise AuditInputError(f"socket address {brief(address)} is not an IP address") from exc
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "wildcard"
    if ip.is_loopback:
        return "loopback"
    return "host"


def parse_samples(samples: Sequence[Mapping[str, Any]]) -> list[Observation]:
    """Flatten the hands' samples into observations; a malformed entry names its position."""
    out: list[Observation] = []
    for index, sample in enumerate(samples):
        sockets = sample.get("sockets")
        if not isinstance(sockets, list):
            raise AuditInputError(f"sample {index + 1}: 'sockets' must be a list")
        for pos, sock in enumerate(sockets):
            missing = [k for k in _SOCKET_KEYS if not isinstance(sock, Mapping) or sock.get(k) is None]
            if missing:
                raise AuditInputError(f"sample {index + 1}, socket {pos}: missing {', '.join(missing)}")
            protocol = str(sock["protocol"]).lower()
            if protocol not in ("tcp", "udp"):
                raise AuditInputError(
                    f"sample {index + 1}, socket {pos}: protocol {brief(protocol)} is not tcp or udp"
                )
            session = sock.get("session")
            where = f"sample {index + 1}, socket {pos}"
            out.append(
                Observation(
                    sample=index + 1,
                    protocol=protocol,
                    local_address=str(sock["local_address"]),
                    local_port=as_int(sock["local_port"], f"{where} local_port", error=AuditInputError),
                    remote_address=None
                    if sock.get("remote_address") in (None, "")
                    else str(sock["remote_address"]),
                    remote_port=None
                    if sock.get("remote_port") in (None, 0)
                    else as_int(sock["remote_port"], f"{where} remote_port", error=AuditInputError),
                    state=str(sock["state"]).lower(),
                    pid=as_int(sock["pid"], f"{where} pid", error=AuditInputError),
                    exe=None if not sock.get("exe") else str(sock["exe"]),
                    session=None
                    if session is None
                    else as_int(session, f"{where} session", error=AuditInputError),
                    user=None if not sock.get("user") else str(sock["user"]),
                )
            )
    return out


@dataclass(frozen=True)
class AuditOptions:
    platform: str  # windows | linux
    samples: int
    sessions: str = "user"  # user | all
    programs: tuple[str, ...] = ()
    ephemeral: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.platform not in ("windows", "linux"):
            raise AuditInputError(f"platform {self.platform!r} is not windows or linux")
        if self.sessions not in ("user", "all"):
            raise AuditInputError(f"sessions: {self.sessions!r} is not user or all")
        if self.samples < 1:
            raise AuditInputError(f"samples: {self.samples} must be 1 or more")

    @property
    def ephemeral_range(self) -> tuple[int, int]:
        if self.ephemeral is not None:
            return self.ephemeral
        return WINDOWS_EPHEMERAL if self.platform == "windows" else LINUX_EPHEMERAL

    def program_key(self, exe: str) -> str:
        return exe.casefold() if self.platform == "windows" else exe

    def basename(self, exe: str) -> str:
        return str((ntpath if self.platform == "windows" else posixpath).basename(exe))

    def wanted(self, obs: Observation) -> bool:
        if self.sessions == "user" and not is_user_session(self.platform, obs.session):
            return False
        if not self.programs:
            return True
        assert obs.exe is not None
        names = {self.program_key(p) for p in self.programs}
        return self.program_key(obs.exe) in names or self.program_key(self.basename(obs.exe)) in names


def is_user_session(platform: str, session: int | None) -> bool:
    """Windows: session 0 is services; Linux: processes without an audit (logind) session are daemons."""
    if session is None:
        return False
    return not (platform == "windows" and session == 0)


def _program_entry(exe: str, observations: list[Observation], opts: AuditOptions) -> dict[str, Any]:
    samples, ephemeral = opts.samples, opts.ephemeral_range
    listeners: dict[tuple[str, int, str], _PortEvidence] = {}
    listen_ports = {(o.protocol, o.local_port) for o in observations if o.listening}
    connections: dict[tuple[str, int, str], _PortEvidence] = {}
    for obs in observations:
        if obs.listening:
            cls = address_class(obs.local_address)
            listeners.setdefault(
                (obs.protocol, obs.local_port, cls), _PortEvidence(obs.protocol, obs.local_port, cls)
            ).add(obs, obs.local_address)
        elif obs.remote_address is not None and obs.remote_port is not None:
            if (obs.protocol, obs.local_port) in listen_ports:
                continue  # accepted by one of its own listeners: inbound, not "connects out"
            cls = address_class(obs.remote_address)
            connections.setdefault(
                (obs.protocol, obs.remote_port, cls), _PortEvidence(obs.protocol, obs.remote_port, cls)
            ).add(obs, obs.remote_address)
    lst = [listeners[k].to_json(samples, ephemeral) for k in sorted(listeners)]
    con = [connections[k].to_json(samples, ephemeral) for k in sorted(connections)]
    reasons: list[str] = []
    needs: list[str] = []
    fixed_outside = [e for e in lst if e["fixed"] and e["address_class"] in ("wildcard", "host")]
    if fixed_outside:
        needs.append("virtual_ip")
        reasons.extend(
            f"listens on {', '.join(e['addresses'])} {e['protocol']}/{e['port']} (fixed: {e['fixed_reason']})"
            for e in fixed_outside
        )
    loop_listen = [e for e in lst if e["fixed"] and e["address_class"] == "loopback"]
    loop_connect = [e for e in con if e["fixed"] and e["address_class"] == "loopback"]
    if loop_listen or loop_connect:
        needs.append("virtual_loopback")
        reasons.extend(
            f"listens on {', '.join(e['addresses'])} {e['protocol']}/{e['port']} (fixed: {e['fixed_reason']})"
            for e in loop_listen
        )
        reasons.extend(
            f"connects to {', '.join(e['addresses'])} {e['protocol']}/{e['port']} (fixed: {e['fixed_reason']})"
            for e in loop_connect
        )
    candidate = False
    if needs:
        recommendation = needs[0]
    elif not lst and con and all(e["address_class"] != "loopback" for e in con):
        recommendation = "client_address"
        candidate = True
        reasons.append(
            "connects out only (to "
            + ", ".join(f"{a}:{e['port']}" for e in con for a in e["addresses"])
            + "): a candidate for the client address only if the server identifies this program by its "
            "source address; confirm with the application's vendor"
        )
    else:
        recommendation = "none"
        undecided = [e for e in lst + con if e["fixed"] is None]
        if undecided:
            reasons.append("undecided: " + undecided[0]["fixed_reason"])
        elif lst or con:
            reasons.append("no fixed port on a wildcard, host or loopback address")
        else:
            reasons.append("no sockets seen")
    return {
        "exe": exe,
        "name": opts.basename(exe),
        "recommendation": recommendation,
        "needs": needs,
        "candidate": candidate,
        "reasons": reasons,
        "evidence": {
            "listeners": lst,
            "connections": con,
            "ports": sorted({e["port"] for e in lst} | {e["port"] for e in con}),
            "sessions": sorted({o.session for o in observations if o.session is not None}),
            "pids": sorted({o.pid for o in observations}),
            "users": sorted({o.user for o in observations if o.user}),
            "samples": sorted({o.sample for o in observations}),
        },
    }


def module_options(platform: str, programs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The exact options of our modules / role that apply the recommendations (full paths)."""
    progs = list(programs)
    vip = [p["exe"] for p in progs if "virtual_ip" in p["needs"]]
    loop = [p["exe"] for p in progs if "virtual_loopback" in p["needs"]]
    loop_only = [p["exe"] for p in progs if p["needs"] == ["virtual_loopback"]]
    clients = [p["exe"] for p in progs if p["recommendation"] == "client_address"]
    out: dict[str, dict[str, Any]] = {}
    if platform == "windows":
        if vip:
            out["sessionnet.virtual_ip.rds_ip_virtualization"] = {
                "state": "enabled",
                "mode": "per_program",
                "programs": vip,
            }
        if loop:
            out["sessionnet.virtual_ip.citrix_loopback_policy"] = {
                "loopback_support": "enabled",
                "programs": loop,
            }
        if loop_only and vip:
            # Those that need only the loopback must not take the session's virtual IP for 127.0.0.1.
            out["sessionnet.virtual_ip.citrix_prefer_loopback"] = {"state": "enabled", "processes": loop_only}
    else:
        entries: list[dict[str, str]] = [{"path": p, "mode": "virtual_ip"} for p in vip]
        entries += [{"path": p, "mode": "virtual_loopback"} for p in loop_only]
        entries += [{"path": p, "mode": "client_address"} for p in clients]
        if entries:
            out["sessionnet.virtual_ip.vip_agent"] = {"vip_agent_processes": entries}
    return out


def recommend(samples: Sequence[Mapping[str, Any]], opts: AuditOptions) -> dict[str, Any]:
    """Decide per executable from the hands' samples; returns ``programs``, ``module_options``, ``skipped``."""
    observations = parse_samples(samples)
    by_program: dict[str, list[Observation]] = {}
    skipped_no_exe: set[int] = set()
    for obs in observations:
        if obs.exe is None:
            skipped_no_exe.add(obs.pid)
            continue
        if not opts.wanted(obs):
            continue
        by_program.setdefault(opts.program_key(obs.exe), []).append(obs)
    programs = [_program_entry(obs[0].exe or "", obs, opts) for _program, obs in sorted(by_program.items())]
    order = {name: i for i, name in enumerate(RECOMMENDATIONS)}
    programs.sort(key=lambda p: (order[p["recommendation"]], p["exe"].casefold()))
    warnings = []
    if skipped_no_exe:
        warnings.append(
            f"{len(skipped_no_exe)} process(es) hold sockets but their executable path is unreadable "
            f"(PIDs {', '.join(str(p) for p in sorted(skipped_no_exe)[:10])}); run the audit with administrator/root rights"
        )
    return {
        "programs": programs,
        "module_options": module_options(opts.platform, programs),
        "counts": {r: sum(1 for p in programs if p["recommendation"] == r) for r in RECOMMENDATIONS},
        "warnings": warnings,
    }


def probe_verdicts(
    probes: Sequence[Mapping[str, Any]], first_samples: Sequence[Mapping[str, Any]], platform: str
) -> list[dict[str, Any]]:
    """Compare each second instance with the first: did it get the first one's ports, or fail?"""
    first = parse_samples(first_samples)
    out = []
    for probe in probes:
        argv = [str(a) for a in probe.get("argv") or []]
        exe = argv[0] if argv else ""
        key = exe.casefold() if platform == "windows" else exe
        held = {
            (o.protocol, o.local_port)
            for o in first
            if o.listening
            and o.exe is not None
            and (o.exe.casefold() if platform == "windows" else o.exe) == key
        }
        second = parse_samples([{"sockets": list(probe.get("sockets") or [])}])
        got = {(o.protocol, o.local_port) for o in second if o.listening}
        if not probe.get("started"):
            verdict, why = "not_started", str(probe.get("error") or "could not start")
        elif probe.get("exit_code") not in (None, 0) and not got:
            verdict, why = "conflict", f"the second instance exited with code {probe.get('exit_code')}"
        elif held & got:
            verdict, why = (
                "shared",
                "the second instance holds the same port(s) (SO_REUSEPORT or per-session translation)",
            )
        elif got:
            verdict, why = "different_ports", "the second instance took other ports"
        else:
            verdict, why = "no_sockets", "the second instance opened no socket before the timeout"
        out.append(
            {
                "argv": argv,
                "verdict": verdict,
                "reason": why,
                "first_ports": sorted(f"{p}/{n}" for p, n in held),
                "second_ports": sorted(f"{p}/{n}" for p, n in got),
                "exit_code": probe.get("exit_code"),
                "stderr": probe.get("stderr", ""),
            }
        )
    return out
