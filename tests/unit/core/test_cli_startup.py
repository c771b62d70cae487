"""``vipctl`` start-up and help: structural checks (which modules a command loads; that every
sub-command and option is described), not timings (bench/cli_bench.py measures those)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sessionnet_vip import cli

SRC = Path(__file__).resolve().parents[3] / "src"

#: Never needed to print help or a loopback address: the engine, SQLite, YAML, the planner, the
#: SVG writer, and what xml.sax.saxutils / pathlib used to drag in (urllib, http, email, ssl).
HEAVY = (
    "sqlite3",
    "yaml",
    "socketserver",
    "socket",
    "ssl",
    "email",
    "http",
    "urllib",
    "xml",
    "pathlib",
    "fractions",
    "sessionnet_vip.engine.service",
    "sessionnet_vip.engine.store",
    "sessionnet_vip.engine.server",
    "sessionnet_vip.engine.config",
    "sessionnet_vip.engine.allocator",
    "sessionnet_vip.planning",
    "sessionnet_vip.plan_svg",
    "sessionnet_vip.yamlfile",
    "logging",
    "sessionnet_vip.engine.windows.service",
)

PROBE = """
import json, sys
from sessionnet_vip.entry import main
sys.stdout = open("/dev/null", "w")
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(*argv: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv", [("--help",), ("loopback", "5"), ("loopback", "--address", "127.0.0.8"), ("plan", "--help")]
)
def test_light_commands_load_nothing_heavy(argv: tuple[str, ...]) -> None:
    modules = loaded_modules(*argv)
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == [], f"vipctl {' '.join(argv)} imported {loaded}"


@pytest.mark.parametrize("argv", [("--help",), ("plan", "--help"), ("status", "--help")])
def test_help_loads_no_typing(argv: tuple[str, ...]) -> None:
    """typing costs about a third of ``vipctl --help``'s start-up; help needs none of it."""
    assert "typing" not in loaded_modules(*argv)


@pytest.mark.parametrize("argv", [("loopback", "5"), ("--json", "loopback", "--address", "127.0.0.8")])
def test_loopback_loads_no_parser(argv: tuple[str, ...]) -> None:
    """The plain ``vipctl loopback`` forms are read without argparse (sessionnet_vip.entry)."""
    modules = loaded_modules(*argv)
    assert "argparse" not in modules and "sessionnet_vip.cli" not in modules


def test_run_loads_no_store_yaml_or_planner(tmp_path: Path) -> None:
    # no engine at that socket: the command fails (exit 2), having imported only the client
    modules = loaded_modules("run", "--session", "1", "--socket", str(tmp_path / "none.sock"), "--", "true")
    for heavy in ("sqlite3", "yaml", "sessionnet_vip.planning", "sessionnet_vip.engine.store"):
        assert heavy not in modules
    # nor what the engine package's lazy names would need (importlib loads warnings)
    assert "importlib" not in modules and "warnings" not in modules


def sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_sub_command_has_a_description_and_every_option_help() -> None:
    parser = cli.build_parser()
    commands = sub_parsers(parser)
    assert len(commands) >= 14
    missing: list[str] = []
    for name, sub in commands.items():
        if not sub.description:
            missing.append(f"{name}: description")
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: help")
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction) and not action.help:
            missing.append(f"vipctl {'/'.join(action.option_strings)}: help")
    assert missing == []


def test_help_points_to_no_file_of_the_source_tree() -> None:
    parser = cli.build_parser()
    texts = [parser.format_help()] + [sub.format_help() for sub in sub_parsers(parser).values()]
    for text in texts:
        flat = re.sub(r"https?://\S+", "", " ".join(text.split()))
        assert not re.search(r"\b(docs|examples|bench|tests)/\S", flat), flat


def test_session_range_in_help_is_the_rule() -> None:
    from sessionnet_vip.addressing import MAX_SESSION_ID, MIN_SESSION_ID

    assert f"{MIN_SESSION_ID} to {MAX_SESSION_ID}" == cli.SESSION_RANGE


def test_engine_package_names_load_on_first_use() -> None:
    import sessionnet_vip.engine as engine

    for name in engine.__all__:
        assert getattr(engine, name) is not None
    with pytest.raises(AttributeError):
        engine.no_such_name  # noqa: B018
