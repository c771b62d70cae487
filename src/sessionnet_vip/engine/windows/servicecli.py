"""``vipctl service``'s sub-commands, registered without loading the service module (which
loads logging, dataclasses, threading and typing): every ``vipctl`` command builds its parser
from the ``register`` functions, so this one stays light; the handlers load
:mod:`sessionnet_vip.engine.windows.service` when they run."""

from __future__ import annotations

# typing is not imported at run time (start-up time); mypy reads the block below
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

#: service.DEFAULT_SERVICE_NAME (a test checks they agree)
DEFAULT_SERVICE_NAME = "sessionnet-vip"


def _handler(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from sessionnet_vip.engine.windows import service

        code: int = getattr(service, name)(args)
        return code

    run.__name__ = name
    return run


def register(sub: Any) -> None:
    from sessionnet_vip.cli import add_json_flag, path_arg

    svc = sub.add_parser(
        "service",
        help="install, remove or show the engine's Windows service",
        description="Manage the engine as a Windows service (LocalSystem, automatic start, restart on "
        "failure; log in %ProgramData%\\sessionnet-vip\\engine.log and the Application event log). "
        'Needs pywin32: pip install "sessionnet-vip[windows]".',
    )
    ops = svc.add_subparsers(
        dest="service_command", metavar="COMMAND", required=True, help="install, remove, status or run"
    )
    name_help = f"service name (default {DEFAULT_SERVICE_NAME})"

    inst = ops.add_parser(
        "install",
        help="register (or update) the service and its event log source",
        description="Register the service, or update its command line and start type.",
    )
    inst.add_argument(
        "--config", required=True, type=path_arg, metavar="FILE", help="engine YAML config (full path)"
    )
    inst.add_argument("--name", default=DEFAULT_SERVICE_NAME, help=name_help)
    inst.add_argument(
        "--python", metavar="EXE", help="python.exe the package is installed in (default: this one)"
    )
    inst.add_argument("--start", choices=["auto", "manual"], default="auto", help="start type (default auto)")
    add_json_flag(inst)
    inst.set_defaults(func=_handler("_cmd_install"))

    rem = ops.add_parser(
        "remove", help="stop and delete the service", description="Stop and delete the service."
    )
    rem.add_argument("--name", default=DEFAULT_SERVICE_NAME, help=name_help)
    add_json_flag(rem)
    rem.set_defaults(func=_handler("_cmd_remove"))

    st = ops.add_parser(
        "status",
        help="state, start type and command line (exit 3 when not running)",
        description="Show the service; exit status 0 when running, 3 otherwise.",
    )
    st.add_argument("--name", default=DEFAULT_SERVICE_NAME, help=name_help)
    add_json_flag(st)
    st.set_defaults(func=_handler("_cmd_status"))

    run_p = ops.add_parser(
        "run",
        help="the service process itself (started by the service manager)",
        description="Run by the service manager; use 'vipctl serve' in a console.",
    )
    run_p.add_argument("--config", required=True, type=path_arg, metavar="FILE", help="engine YAML config")
    run_p.add_argument(
        "--log", metavar="FILE", help="log file (default %%ProgramData%%\\sessionnet-vip\\engine.log)"
    )
    run_p.set_defaults(func=_handler("_cmd_run"))
