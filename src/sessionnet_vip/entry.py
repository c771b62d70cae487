"""``vipctl``'s entry point: ``vipctl run`` and ``vipctl loopback`` without argparse, everything
else through :func:`sessionnet_vip.cli.main`.

``vipctl run`` stands between a session and each program it starts, so its start-up is paid on
every program start. The usual forms (``[--json] [--socket PATH] run --session N [--user U]
[--uid N] [-v] [--socket PATH] [--json] [--] CMD ...``) are read here, loading nothing but
:mod:`sessionnet_vip.engine.runner`. Anything else — ``--help``, ``--config``, abbreviated or
unknown options, a session ID or uid that is not plain ASCII digits in range — goes to the full
parser, which gives the same result or the usual message.

``vipctl loopback`` (what scripts call per session) is read here in its plain forms
(``[--json] loopback [--json] SESSION_ID|--address ADDR [--json]``) and answered by
:func:`loopback_command`, the command's one implementation, which the full parser's handler
calls too; argparse, the parser and the other commands' modules are not loaded.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

#: The session IDs the loopback rule accepts (addressing.MIN_SESSION_ID, MAX_SESSION_ID; a test
#: checks these against them: loading addressing would cost the fast path its point).
_MIN_SESSION, _MAX_SESSION = 1, 16777213
_VALUED = ("--session", "--user", "--uid", "--socket")


def _digits(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 10 and (text == "0" or text[0] != "0"):
        return int(text)
    return None


def parse_run(words: Sequence[str]) -> dict[str, Any] | None:
    """The options of a plain ``vipctl run`` command line, or ``None`` for the full parser."""
    opts: dict[str, Any] = {"json": False, "verbose": False, "socket": None, "user": None, "uid": None}
    i = 0
    while i < len(words) and words[i] != "run":  # global options
        if words[i] == "--json":
            opts["json"] = True
            i += 1
        elif words[i] == "--socket" and i + 1 < len(words) and not words[i + 1].startswith("-"):
            opts["global_socket"] = words[i + 1]
            i += 2
        else:
            return None
    i += 1
    command: list[str] = []
    while i < len(words):
        word = words[i]
        if word == "--":
            command = list(words[i + 1 :])
            break
        if not word.startswith("-"):
            command = list(words[i:])
            break
        if word in ("-v", "--verbose"):
            opts["verbose"] = True
            i += 1
            continue
        if word == "--json":
            opts["json"] = True
            i += 1
            continue
        name, eq, value = word.partition("=")
        if name not in _VALUED:
            return None
        if not eq:
            if i + 1 >= len(words):
                return None
            value = words[i + 1]
            i += 1
        i += 1
        if not value or value.startswith("-"):
            return None
        opts[name[2:]] = value
    session = _digits(opts.get("session") or "")
    if not command or session is None or not _MIN_SESSION <= session <= _MAX_SESSION:
        return None
    opts["session"] = session
    if opts["uid"] is not None:
        opts["uid"] = _digits(opts["uid"])
        if opts["uid"] is None:
            return None
    opts["command"] = command
    if opts["socket"] is None:
        opts["socket"] = opts.get("global_socket")
    return opts


def print_result(data: Any, text: str, as_json: bool) -> None:
    """Print ``data`` as JSON (``--json``), else ``text``: the output rule of every command
    (:func:`sessionnet_vip.cli.emit`)."""
    if as_json:
        import json

        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)


def loopback_command(session_id: str | None, address: str | None, as_json: bool) -> int:
    """``vipctl loopback``: the virtual loopback address of ``session_id``, or with ``address``
    the session that owns it (raises :class:`~sessionnet_vip.errors.VipError` for bad input)."""
    from sessionnet_vip.addressing import (
        MAX_SESSION_ID,
        MIN_SESSION_ID,
        virtual_loopback_address,
        virtual_loopback_session,
    )
    from sessionnet_vip.errors import VipError

    if address is not None:
        session = virtual_loopback_session(address)
        print_result({"address": address, "session_id": session}, str(session), as_json)
        return 0
    if session_id is None:
        raise VipError(f"give a SESSION_ID ({MIN_SESSION_ID} to {MAX_SESSION_ID}) or --address ADDR")
    loopback = virtual_loopback_address(session_id)
    session = virtual_loopback_session(loopback)
    print_result({"address": str(loopback), "session_id": session}, str(loopback), as_json)
    return 0


def _plain_value(word: str) -> bool:
    """A value argparse takes as it is (not empty, not option-like)."""
    return bool(word) and not word.startswith("-")


def parse_loopback(words: Sequence[str]) -> dict[str, Any] | None:
    """The options of a plain ``vipctl loopback`` command line, or ``None`` for the full parser:
    ``--json`` (before or after ``loopback``, any number of times) and exactly one of a
    SESSION_ID or ``--address ADDR`` / ``--address=ADDR``, values not starting with ``-``."""
    opts: dict[str, Any] = {"json": False, "session_id": None, "address": None}
    i = 0
    while i < len(words) and words[i] == "--json":
        opts["json"] = True
        i += 1
    if i >= len(words) or words[i] != "loopback":
        return None
    i += 1
    while i < len(words):
        word = words[i]
        if word == "--json":
            opts["json"] = True
        elif word == "--address" or word.startswith("--address="):
            if word == "--address":
                i += 1
                value = words[i] if i < len(words) else ""
            else:
                value = word[len("--address=") :]
            if opts["address"] is not None or not _plain_value(value):
                return None
            opts["address"] = value
        elif _plain_value(word) and opts["session_id"] is None:
            opts["session_id"] = word
        else:
            return None
        i += 1
    if (opts["session_id"] is None) == (opts["address"] is None):
        return None
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    loopback = parse_loopback(words) if "loopback" in words else None
    if loopback is not None:
        from sessionnet_vip.errors import VipError

        try:
            return loopback_command(loopback["session_id"], loopback["address"], loopback["json"])
        except VipError as exc:
            print(f"vipctl: error: {exc}", file=sys.stderr)
            return 2
    opts = parse_run(words) if sys.platform.startswith("linux") and "run" in words else None
    if opts is None:
        from sessionnet_vip.cli import main as full

        return full(words)
    from sessionnet_vip.engine.runner import reporter, run_in_session
    from sessionnet_vip.errors import VipError

    socket_path = opts["socket"]
    if socket_path is None:
        from sessionnet_vip.engine.defaults import DEFAULT_CONTROL_SOCKET_PATH

        socket_path = DEFAULT_CONTROL_SOCKET_PATH
    try:
        return run_in_session(
            socket_path,
            opts["session"],
            opts["command"],
            user=opts["user"],
            uid=opts["uid"],
            report=reporter(json=opts["json"], verbose=opts["verbose"]),
        )
    except VipError as exc:
        print(f"vipctl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
