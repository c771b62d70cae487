"""``vipctl``: the command line of :mod:`sessionnet_vip`.

Each area of the package owns its sub-commands in its own module, which exposes
``register(subparsers)``; this file only assembles them. A handler returns the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

from sessionnet_vip import __version__
from sessionnet_vip.errors import VipError

# typing, pathlib and collections.abc are not imported at run time (start-up time); mypy
# treats a name TYPE_CHECKING as true and reads the block below.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

#: Modules that add sub-commands (each has ``register(subparsers)``). They import only what
#: building the parser needs; each handler imports its own machinery when it runs, so
#: ``vipctl --help`` and ``vipctl loopback N`` start without the engine, SQLite, YAML or the
#: planner (tests/unit/core/test_cli_startup.py checks which modules stay unimported).
COMMAND_MODULES: tuple[str, ...] = (
    "sessionnet_vip.engine.cli",
    "sessionnet_vip.engine.agentcli",
    "sessionnet_vip.planning_cli",
    "sessionnet_vip.engine.windows.servicecli",
)

#: The session IDs the loopback rule accepts, for help texts (addressing.MIN_SESSION_ID and
#: MAX_SESSION_ID are the fact; a test checks this text against them: help must not import them).
SESSION_RANGE = "1 to 16777213"

#: Where the collection's documentation is published (the reference of every command).
DOCS_URL = "https://github.com/sessionnet/virtual_ip/tree/main/docs"


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized from ``os.get_terminal_size`` instead of importing
    :mod:`shutil` (with bz2, lzma and fnmatch) for every parser built at start-up."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        if kwargs.get("width") is None:
            try:
                columns = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(1).columns
            except (OSError, ValueError):
                columns = 80
            kwargs["width"] = max(columns - 2, 40)
        super().__init__(prog, **kwargs)


class _Parser(argparse.ArgumentParser):
    """Every (sub-)parser of vipctl uses :class:`_Formatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def path_arg(text: str) -> Path:
    """``type=`` for path options (imports :mod:`pathlib` only when a path is given)."""
    from pathlib import Path

    return Path(text)


def int_arg(text: str) -> int:
    """``type=`` for integer options: ASCII digits only (``int()`` alone also takes other scripts' digits and '1_0')."""
    from sessionnet_vip.coerce import brief, int_from_text

    value = int_from_text(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{brief(text)} is not a whole number; give ASCII digits")
    return value


def seconds_arg(text: str) -> float:
    """``type=`` for durations: a finite number of seconds, 0 or more (``float()`` takes 'nan')."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or not text.strip().isascii():
        from sessionnet_vip.coerce import brief

        raise argparse.ArgumentTypeError(f"{brief(text)} is not a number of seconds; give e.g. 20 or 0.5")
    return value


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else ``text``."""
    from sessionnet_vip.entry import print_result

    print_result(data, text, bool(getattr(args, "json", False)))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Accept ``--json`` after a sub-command too (``vipctl status --json``)."""
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON"
    )


def _cmd_loopback(args: argparse.Namespace) -> int:
    from sessionnet_vip.entry import loopback_command

    return loopback_command(args.session_id, args.address, bool(getattr(args, "json", False)))


class _Ignored:
    """Stands in for the parser of a sub-command that was not chosen: its arguments are not
    built (start-up time); every call is accepted and ignored."""

    def __getattr__(self, name: str) -> Any:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Ignored:
        return self


#: Set in the namespace when argparse chose a sub-command whose parser was not built.
_REBUILD = "_vipctl_rebuild"


class _Bare:
    """The parser of a sub-command that was not chosen: not built (each ArgumentParser costs
    about a third of a millisecond at start-up); argparse only keeps it in its table of choices.
    Should argparse still pick it (the command was not where :func:`_chosen_command` looked),
    it takes the rest of the line and asks :func:`main` to build every parser and parse again."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        return argparse.Namespace(**{_REBUILD: True}), []


def _make_parser(bare: bool = False, **kwargs: Any) -> Any:
    """``parser_class`` of the sub-commands: a real parser, or a :class:`_Bare` entry."""
    return _Bare() if bare else _Parser(**kwargs)


class _Commands:
    """The sub-parsers action as ``register(sub)`` sees it: builds in full only the chosen
    command (all of them when ``chosen`` is ``None``); the others get a bare entry, which is
    all that ``vipctl --help`` and argparse's choice check need."""

    def __init__(self, sub: Any, chosen: str | None, full: bool) -> None:
        self._sub = sub
        self._chosen = chosen
        self._full = full

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self._full or name == self._chosen:
            return self._sub.add_parser(name, **kwargs)
        self._sub.add_parser(name, help=kwargs.get("help"), bare=True)
        return _Ignored()


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv``: the first word that is not a global option or the
    value of ``--socket`` (which argparse also takes abbreviated: ``--sock PATH``)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif len(word) > 2 and "--socket".startswith(word):
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None, *, full: bool = True) -> argparse.ArgumentParser:
    """The parser of vipctl; with ``full=False`` only the command chosen in ``argv`` is built
    with its options (what ``main`` does: start-up time)."""
    parser = _Parser(
        prog="vipctl",
        description="Per-session virtual IP and virtual loopback addressing (sessionnet.virtual_ip): "
        "the loopback rule, the range planner, and the address-translation engine and its clients.",
        epilog=f"Run 'vipctl COMMAND --help' for a command's options. Reference: {DOCS_URL}",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--socket",
        dest="global_socket",
        metavar="PATH",
        type=path_arg,
        help="control socket of a running engine (for commands that talk to one)",
    )
    # argparse calls parser_class(**kwargs); typeshed wants a class, a factory is what it needs
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_make_parser)  # type: ignore[call-overload]
    sub.required = True

    commands = _Commands(sub, _chosen_command(argv or []), full)
    loop = commands.add_parser(
        "loopback",
        help="virtual loopback address of a session (or the session of an address)",
        description="Print the virtual loopback address of SESSION_ID, or with --address "
        "the session ID that owns a 127.x.x.x address.",
    )
    loop.add_argument(
        "session_id", nargs="?", metavar="SESSION_ID", help=f"a session ID from {SESSION_RANGE}"
    )
    loop.add_argument(
        "--address", metavar="ADDR", help="print the session ID that owns this 127.x.x.x address instead"
    )
    add_json_flag(loop)
    loop.set_defaults(func=_cmd_loopback)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words, full=False)
    args = parser.parse_args(words)
    if getattr(args, _REBUILD, False):
        parser = build_parser(words, full=True)
        args = parser.parse_args(words)
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
