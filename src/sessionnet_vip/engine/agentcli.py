"""``vipctl`` sub-commands of the session agent: run, logon, logoff, sessions, supervise."""

from __future__ import annotations

import argparse

from sessionnet_vip.cli import SESSION_RANGE, add_json_flag, emit, int_arg, path_arg, seconds_arg
from sessionnet_vip.engine.cli import add_session_owner_args, add_socket_arg, session_id_of, session_request

# typing is not imported at run time (start-up time); mypy reads the block below
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# Handlers import the engine's client and runner when they run (CLI start-up time).


def _target(p: argparse.ArgumentParser) -> None:
    add_socket_arg(p)
    p.add_argument(
        "--config", metavar="FILE", type=path_arg, help="engine config (its control_socket is used)"
    )
    add_json_flag(p)


def _socket(args: argparse.Namespace) -> Path:
    from pathlib import Path

    if args.socket is not None:
        return Path(args.socket)
    if args.config is not None:
        from sessionnet_vip.engine.config import load_config

        return Path(load_config(args.config).control_address)
    from sessionnet_vip.engine.server import default_address

    return Path(default_address())


def _call(args: argparse.Namespace, req: dict[str, Any]) -> Any:
    from sessionnet_vip.engine.server import request, result_of

    return result_of(request(_socket(args), req))


def _cmd_run(args: argparse.Namespace) -> int:
    # the usual forms of 'vipctl run' never get here: sessionnet_vip.entry runs them without argparse
    from sessionnet_vip.engine.runner import reporter, run_in_session

    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    report = reporter(json=getattr(args, "json", False), verbose=args.verbose)
    return run_in_session(
        _socket(args), session_id_of(args.session), argv, user=args.user, uid=args.uid, report=report
    )


def _cmd_logon(args: argparse.Namespace) -> int:
    res = _call(args, session_request("logon", args))
    plane = "in the data plane" if res.get("data_plane", {}).get("active") else "allocator only"
    emit(
        args,
        res,
        f"session {res['session_id']}: vip {res['vip'] or 'none'}, loopback {res['loopback']} ({plane})",
    )
    return 0


def _cmd_logoff(args: argparse.Namespace) -> int:
    res = _call(args, session_request("logoff", args))
    moved = f"; {len(res['evacuated'])} process(es) left the session untranslated" if res["evacuated"] else ""
    emit(
        args,
        res,
        f"session {res['session_id']}: logged off (released {res['address'] or 'no address'}){moved}",
    )
    return 0


def _cmd_sessions(args: argparse.Namespace) -> int:
    rows = _call(args, {"op": "sessions"})
    text = [f"{'SESSION':>7} {'VIP':<16} {'LOOPBACK':<16} TRANSLATED PIDS"]
    text += [
        f"{r['session_id']:>7} {r['vip'] or '-':<16} {r['loopback']:<16} "
        f"{' '.join(map(str, r['translated_pids'])) or '-'}"
        + ("" if r["cgroup_present"] else " (cgroup vanished)")
        for r in rows
    ]
    emit(args, rows, "\n".join(text) if rows else "(no sessions in the data plane)")
    return 0


def _cmd_supervise(args: argparse.Namespace) -> int:
    from sessionnet_vip.engine import supervise

    pidfile = args.pidfile
    if args.action == "stop":
        was = supervise.stop(pidfile, args.timeout)
        emit(args, {"changed": was}, "stopped" if was else "not running")
        return 0
    if args.action == "check":
        pid = supervise.read_pid(pidfile)
        emit(args, {"running": pid is not None, "pid": pid}, f"running (pid {pid})" if pid else "not running")
        return 0 if pid is not None else 3
    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    pid = supervise.start(argv, pidfile, args.log, timeout=args.timeout)
    emit(
        args,
        {"changed": pid != 0, "pid": pid or supervise.read_pid(pidfile)},
        f"started (pid {pid})" if pid else "already running",
    )
    return 0


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="start a command in a session (allocating for it if needed), translated if listed",
        description="Start CMD in session N through the engine: it allocates for N if needed, places the "
        "process in the session's cgroup right after execve, and translates it if its executable "
        "(/proc/PID/exe) is on the process list. The exit status is CMD's. If the engine cannot be "
        "reached, CMD does not start and vipctl exits 2.",
    )
    run.add_argument("--session", required=True, metavar="N", help=f"session ID ({SESSION_RANGE})")
    run.add_argument("--user", metavar="U", help="user of the session (address affinity)")
    run.add_argument("--uid", type=int_arg, metavar="N", help="uid of the session owner")
    run.add_argument("-v", "--verbose", action="store_true", help="say on stderr how the command was placed")
    run.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- CMD [ARG ...]", help="the command to start"
    )
    _target(run)
    run.set_defaults(func=_cmd_run)

    logon = sub.add_parser(
        "logon",
        help="start a session: allocate and add it to the data plane",
        description="Start SESSION in the engine (what a logon hook calls): allocate its virtual IP, "
        "create its cgroup and add it to the kernel data plane. Idempotent.",
    )
    add_session_owner_args(logon)
    _target(logon)
    logon.set_defaults(func=_cmd_logon)

    logoff = sub.add_parser(
        "logoff",
        help="end a session: release its address, remove it from the data plane",
        description="End SESSION in the engine (what a logoff hook calls): release its virtual IP (held "
        "for hold_seconds), remove it from the data plane; processes still running leave the session "
        "untranslated.",
    )
    logoff.add_argument("session", metavar="SESSION", help=f"session ID ({SESSION_RANGE})")
    _target(logoff)
    logoff.set_defaults(func=_cmd_logoff)

    sessions = sub.add_parser(
        "sessions",
        help="sessions in the data plane and their translated processes",
        description="List the sessions in the engine's data plane: virtual IP, virtual loopback "
        "address and the pids being translated.",
    )
    _target(sessions)
    sessions.set_defaults(func=_cmd_sessions)

    sup = sub.add_parser(
        "supervise",
        help="run a command (the engine) in the background and restart it (hosts without systemd)",
        description="Keep CMD running in the background with a pid file, restarting it when it exits "
        "(for hosts without systemd). --start is idempotent; --check exits 0 when it runs, 3 when not.",
    )
    action = sup.add_mutually_exclusive_group(required=True)
    for name, text in (
        ("start", "start CMD in the background"),
        ("stop", "stop it"),
        ("check", "exit 0 if running"),
    ):
        action.add_argument(f"--{name}", dest="action", action="store_const", const=name, help=text)
    sup.add_argument("--pidfile", required=True, type=path_arg, help="the supervisor's pid file")
    sup.add_argument("--log", type=path_arg, help="append the command's output here")
    sup.add_argument(
        "--timeout", type=seconds_arg, default=20.0, help="seconds to wait for a start or stop (default 20)"
    )
    sup.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- CMD [ARG ...]", help="the command to supervise"
    )
    add_json_flag(sup)
    sup.set_defaults(func=_cmd_supervise)
