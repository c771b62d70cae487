"""``vipctl`` sub-commands of the engine: serve, status, leases, allocate, release,
reconcile, explain.

Clients talk to a running engine over ``--socket PATH`` (default: the ``control_socket``
of ``--config``, else ``/run/sessionnet-vip/control.sock``). With ``--config FILE`` and no
``--socket`` they work *directly* on the lease store named by the config: the store is
multi-process safe, so this needs no engine running (``explain`` then needs no store at all).
"""

from __future__ import annotations

import argparse

from sessionnet_vip.cli import DOCS_URL, SESSION_RANGE, add_json_flag, emit, int_arg, path_arg
from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH

# typing is not imported at run time (start-up time); mypy reads the block below
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sessionnet_vip.engine.config import EngineConfig

# Only argparse and the lightweight helpers above are imported at start-up: each handler
# imports the engine, SQLite and YAML when it runs (CLI start-up time).


def session_id_of(value: object) -> int:
    """A session ID checked against the loopback scheme (see :mod:`sessionnet_vip.addressing`)."""
    from sessionnet_vip.addressing import virtual_loopback_address, virtual_loopback_session

    # the same check as engine.allocator.session_id_of, without loading the store
    return virtual_loopback_session(virtual_loopback_address(value))


def add_socket_arg(p: argparse.ArgumentParser) -> None:
    """``--socket PATH``: the engine and agent sub-commands' control socket option."""
    p.add_argument(
        "--socket",
        metavar="PATH",
        type=path_arg,
        help=f"control socket of a running engine (default: the config's control_socket, else "
        f"{DEFAULT_CONTROL_SOCKET_PATH})",
    )


def _add_target(p: argparse.ArgumentParser) -> None:
    add_socket_arg(p)
    p.add_argument(
        "--config",
        metavar="FILE",
        type=path_arg,
        help="engine config: without --socket, work on its lease store directly (no engine needed)",
    )
    add_json_flag(p)


def _call(args: argparse.Namespace, req: dict[str, Any]) -> Any:
    """Run one request via the socket or, with --config alone, in this process."""
    from sessionnet_vip.engine.config import load_config
    from sessionnet_vip.engine.server import default_address, request, result_of
    from sessionnet_vip.engine.service import Engine

    if args.socket is None and args.config is not None:
        config = load_config(args.config)
        engine = Engine.open(config)
        try:
            reply = engine.request(req)
        finally:
            engine.close()
    else:
        reply = request(args.socket or default_address(), req)
    return result_of(reply)


def add_session_owner_args(p: argparse.ArgumentParser) -> None:
    """SESSION and its owner (--user/--uid/--pid): the arguments :func:`session_request` reads,
    of ``vipctl allocate`` and ``vipctl logon``."""
    p.add_argument("session", metavar="SESSION", help=f"session ID ({SESSION_RANGE})")
    p.add_argument("--user", metavar="U", help="user of the session (address affinity)")
    p.add_argument("--uid", type=int_arg, metavar="N", help="uid of the session owner")
    p.add_argument("--pid", type=int_arg, metavar="N", help="pid of the session leader")


def session_request(op: str, args: argparse.Namespace) -> dict[str, Any]:
    """Request ``op`` for ``args.session``, with the owner (--user/--uid/--pid) where given."""
    req: dict[str, Any] = {"op": op, "session": session_id_of(args.session)}
    for key in ("user", "uid", "pid"):
        if getattr(args, key, None) is not None:
            req[key] = getattr(args, key)
    return req


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    import datetime

    return datetime.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import sys

    from sessionnet_vip.engine.config import load_config
    from sessionnet_vip.engine.server import Service
    from sessionnet_vip.engine.service import Engine

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = load_config(args.config)
    if sys.platform.startswith("linux"):  # part 2 hook: the session agent with the kernel data plane
        from sessionnet_vip.engine.agent import serve

        return serve(config)
    if sys.platform == "win32":  # WTS sessions, pool on the adapter, plan for viprun.exe
        from sessionnet_vip.engine.platform import platform_module

        code: int = platform_module("agentplane").serve(config)
        return code
    engine = Engine.open(config)
    try:
        return Service(engine, config.control_socket, config.metrics_port).run()
    finally:
        engine.close()


def _cmd_status(args: argparse.Namespace) -> int:
    st = _call(args, {"op": "status"})
    lines = [
        f"pool        {st['pool']}",
        f"pool size   {st['pool_size']}",
        f"in use      {st['in_use']}",
        f"held        {st['held']}",
        f"free        {st['free']}",
        f"exhausted   {st['exhausted_events']}",
        f"store       {st['store']}",
    ]
    if st["out_of_pool"]:
        lines.append(f"outside the pool: {st['out_of_pool']} live lease(s) (kept until their sessions end)")
    lines += [f"warning: {w}" for w in st["policy_warnings"]]
    emit(args, st, "\n".join(lines))
    return 0


def _cmd_leases(args: argparse.Namespace) -> int:
    rows = _call(args, {"op": "leases", "all": bool(args.all)})
    text = [f"{'ADDRESS':<16} {'SESSION':>8} {'STATE':<7} {'USER':<16} {'SINCE':<19} HELD UNTIL"]
    for r in rows:
        text.append(
            f"{r['address']:<16} {_dash(r['session_id']):>8} {r['state']:<7} "
            f"{r['user'] or '-':<16} {_when(r['updated_at']):<19} {_when(r['hold_until'])}"
        )
    if not rows:
        text.append("(no leases)")
    emit(args, rows, "\n".join(text))
    return 0


def _cmd_allocate(args: argparse.Namespace) -> int:
    res = _call(args, session_request("allocate", args))
    if res["vip"] is None:
        text = f"session {res['session_id']}: {res['message']}\nloopback {res['loopback']}"
    else:
        again = " (already held)" if res["reused"] else ""
        text = f"session {res['session_id']}: vip {res['vip']}{again}, loopback {res['loopback']}"
    emit(args, res, text)
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    res = _call(args, session_request("release", args))
    if res["released"]:
        held = f", held until {_when(res['held_until'])}" if res["held_until"] is not None else ""
        text = f"session {res['session_id']}: released {res['address']}{held}"
    else:
        text = f"session {res['session_id']}: held no address; nothing to release"
    emit(args, res, text)
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    res = _call(args, {"op": "reconcile"})
    text = [f"reclaimed {len(res['reclaimed'])}, expired holds purged {res['purged_holds']}"]
    text += [f"  {r['address']} from session {r['session_id']}: {r['reason']}" for r in res["reclaimed"]]
    text += [f"  outside the pool: {o['address']} (session {o['session_id']})" for o in res["out_of_pool"]]
    emit(args, res, "\n".join(text))
    return 0


def _explain_offline(config: EngineConfig, req: dict[str, Any]) -> dict[str, Any]:
    """``explain`` with --config and no engine: the lease (if the store exists) or --vip."""
    from sessionnet_vip.engine.server import result_of
    from sessionnet_vip.engine.service import Engine, explain_decision, optional_ipv4
    from sessionnet_vip.engine.translation import SessionAddresses

    if req.get("vip") is None and config.store_path.exists():
        engine = Engine.open(config, create=False)
        try:
            reply = engine.request(req)
        finally:
            engine.close()
        result: dict[str, Any] = result_of(reply)
        return result
    import socket

    sid = session_id_of(req["session"])
    vip = optional_ipv4(req.get("vip"), "--vip")
    client = optional_ipv4(req.get("client_address"), "--client-address")
    return explain_decision(
        config.policy,
        SessionAddresses.for_session(sid, vip, client),
        req["process"],
        req["call"],
        req["address"],
        ancestors=tuple(req.get("ancestors", [])),
        host_names=frozenset({socket.gethostname()}),
    )


def _cmd_explain(args: argparse.Namespace) -> int:
    req: dict[str, Any] = {
        "op": "explain",
        "session": session_id_of(args.session),
        "process": args.process,
        "call": args.call,
        "address": args.address,
    }
    if args.parent:
        req["ancestors"] = list(args.parent)
    for key in ("vip", "client_address"):
        if getattr(args, key) is not None:
            req[key] = getattr(args, key)
    if args.socket is None and args.config is not None:
        from sessionnet_vip.engine.config import load_config

        res = _explain_offline(load_config(args.config), req)
    else:
        res = _call(args, req)
    result = res["result"] if res["result"] is not None else "(resolve normally)"
    text = (
        f"session {res['session_id']} (vip {res['vip'] or 'none'}, loopback {res['loopback']})\n"
        f"process {res['process']}: {res['policy']}\n"
        f"{res['call']} {res['original']} -> {result}"
        + (f" [source {res['source']}]" if res["source"] else "")
        + f"\n{res['reason']}"
    )
    emit(args, res, text)
    return 0


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the address-translation engine (control socket, reconcile, metrics)",
        description="Run the engine in the foreground: the lease store, the control socket, a reconcile "
        "at start and every reconcile_seconds, optional Prometheus metrics and, on Linux, the kernel "
        "data plane. Stops on SIGTERM or Ctrl-C. The configuration keys are described in the engine "
        f"reference: {DOCS_URL}/engine.md",
    )
    serve.add_argument(
        "--config", metavar="FILE", type=path_arg, required=True, help="engine configuration (YAML)"
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="least severe message to log on stderr (default: info)",
    )
    serve.set_defaults(func=_cmd_serve)

    status = sub.add_parser(
        "status",
        help="pool size, in use, held, free, exhausted count",
        description="Show the pool and lease counts of an engine (or of the lease store of --config): "
        "pool size, addresses in use, held for affinity after release, free, and how many "
        "allocations found the pool exhausted.",
    )
    _add_target(status)
    status.set_defaults(func=_cmd_status)

    leases = sub.add_parser(
        "leases",
        help="table of leases",
        description="List the leases: address, session, state (active, or held after release), "
        "user, last change and end of the hold.",
    )
    leases.add_argument("--all", action="store_true", help="include addresses held after release")
    _add_target(leases)
    leases.set_defaults(func=_cmd_leases)

    alloc = sub.add_parser(
        "allocate",
        help="give SESSION a virtual IP (admin operation; idempotent)",
        description="Give SESSION a virtual IP from the pool (the address it already holds, else the "
        "user's previous address when free, else the first free one). When the pool is exhausted the "
        "session gets none and the engine logs why; its virtual loopback address is always printed.",
    )
    add_session_owner_args(alloc)
    _add_target(alloc)
    alloc.set_defaults(func=_cmd_allocate)

    rel = sub.add_parser(
        "release",
        help="return SESSION's address to the pool (held for hold_seconds)",
        description="Return SESSION's virtual IP to the pool. The address stays reserved for the same "
        "user for hold_seconds (address affinity), then becomes free.",
    )
    rel.add_argument("session", metavar="SESSION", help=f"session ID ({SESSION_RANGE})")
    _add_target(rel)
    rel.set_defaults(func=_cmd_release)

    rec = sub.add_parser(
        "reconcile",
        help="reclaim leases of ended sessions and earlier boots now",
        description="Reclaim now (instead of at the next reconcile_seconds) the leases of sessions that "
        "no longer exist and of earlier boots, and purge expired holds.",
    )
    _add_target(rec)
    rec.set_defaults(func=_cmd_reconcile)

    exp = sub.add_parser(
        "explain",
        help="what the policy and translation table do for one call",
        description="Explain the translation of one socket call or name lookup. With --config and no "
        "--socket no engine is needed; --vip stands in for the session's lease.",
    )
    exp.add_argument("--session", required=True, metavar="N", help=f"session ID ({SESSION_RANGE})")
    exp.add_argument(
        "--process", required=True, metavar="PATH", help="full path of the program making the call"
    )
    exp.add_argument(
        "--call",
        required=True,
        choices=["bind", "connect", "sendto", "getsockname", "getpeername", "getaddrinfo", "gethostbyname"],
        help="the socket call or name lookup to explain",
    )
    exp.add_argument(
        "--address",
        required=True,
        metavar="ADDR[:PORT]|NAME",
        help="the call's IPv4 address (with an optional port), or the name looked up",
    )
    exp.add_argument(
        "--parent", action="append", metavar="PATH", help="an ancestor's path (repeat, parent first)"
    )
    exp.add_argument("--vip", metavar="ADDR", help="the session's virtual IP (default: its lease)")
    exp.add_argument(
        "--client-address", dest="client_address", metavar="ADDR", help="the session's client address"
    )
    _add_target(exp)
    exp.set_defaults(func=_cmd_explain)
