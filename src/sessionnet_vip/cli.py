"""``vipctl``: the command line of :mod:`sessionnet_vip`.

Each area of the package owns its sub-commands in its own module, which exposes
``register(subparsers)``; this file only assembles them. A handler returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessionnet_vip import __version__
from sessionnet_vip.addressing import (
    MAX_SESSION_ID,
    MIN_SESSION_ID,
    virtual_loopback_address,
    virtual_loopback_session,
)
from sessionnet_vip.errors import VipError

#: Modules that add sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES: tuple[str, ...] = (
    "sessionnet_vip.engine.cli",
    "sessionnet_vip.engine.agentcli",
    "sessionnet_vip.planning_cli",
    "sessionnet_vip.engine.windows.service",
)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Accept ``--json`` after a sub-command too (``vipctl status --json``)."""
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )


def _cmd_loopback(args: argparse.Namespace) -> int:
    if args.address is not None:
        session = virtual_loopback_session(args.address)
        emit(args, {"address": args.address, "session_id": session}, str(session))
        return 0
    if args.session_id is None:
        raise VipError(f"give a SESSION_ID ({MIN_SESSION_ID} to {MAX_SESSION_ID}) or --address ADDR")
    address = virtual_loopback_address(args.session_id)
    emit(args, {"address": str(address), "session_id": int(args.session_id)}, str(address))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vipctl",
        description="Per-session virtual IP and virtual loopback addressing (sessionnet.virtual_ip).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--socket",
        dest="global_socket",
        metavar="PATH",
        type=Path,
        help="control socket of a running engine (for commands that talk to one)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    loop = sub.add_parser(
        "loopback",
        help="virtual loopback address of a session (or the session of an address)",
        description="Print the virtual loopback address of SESSION_ID, or with --address "
        "the session ID that owns a 127.x.x.x address.",
    )
    loop.add_argument("session_id", nargs="?", metavar="SESSION_ID")
    loop.add_argument("--address", metavar="ADDR", help="print the session ID of this address")
    add_json_flag(loop)
    loop.set_defaults(func=_cmd_loopback)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "global_socket", None) is not None:
        if not hasattr(args, "socket"):
            parser.error(f"'{args.command}' does not talk to an engine; leave out --socket")
        if args.socket is None:
            args.socket = args.global_socket
    try:
        code: int = args.func(args)
    except VipError as exc:
        print(f"vipctl: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
