"""vipctl's start-up shortcuts give what the whole parser gives: ``vipctl loopback``'s fast path
(sessionnet_vip.entry, no argparse) for every command line it takes, everything else going to
the full parser; and the full parser, which builds only the chosen command's options."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from sessionnet_vip import cli, entry

#: Words a loopback command line is made of: good and bad values, both --address forms, and
#: what the fast path must leave to argparse (options it does not know, option-like values).
WORDS = (
    "--json",
    "5",
    "x",
    "٣",
    "--address",
    "127.0.0.9",
    "--address=127.0.0.9",
    "--address=",
    "-1",
    "",
    "--help",
)


def outcome(
    main: Callable[[list[str]], int], words: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[object, ...]:
    try:
        code: object = main(words)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def command_lines() -> list[list[str]]:
    lines = []
    for n in range(4):
        for tail in itertools.product(WORDS, repeat=n):
            lines.append(["loopback", *tail])
            lines.append(["--json", "loopback", *tail])
    return lines


def test_the_fast_path_answers_what_the_full_parser_answers(capsys: pytest.CaptureFixture[str]) -> None:
    taken = 0
    for words in command_lines():
        if entry.parse_loopback(words) is None:
            continue
        taken += 1
        fast = outcome(entry.main, words, capsys)
        full = outcome(cli.main, words, capsys)
        assert fast == full, words
    assert taken > 50  # not vacuous: the plain forms are many of these lines


@pytest.mark.parametrize(
    "words",
    [
        ["loopback"],
        ["loopback", "5", "6"],
        ["loopback", "5", "--address", "127.0.0.9"],
        ["loopback", "--address", "127.0.0.9", "--address", "127.0.0.8"],
        ["loopback", "--addr", "127.0.0.9"],  # an abbreviation: argparse decides
        ["loopback", "--", "5"],
        ["loopback", "-h"],
        ["--socket", "/x.sock", "loopback", "5"],
        ["--version", "loopback"],
        ["plan", "loopback"],
        ["run", "--session", "5", "--", "loopback", "5"],  # a program named loopback: vipctl run's
    ],
)
def test_anything_unusual_goes_to_the_full_parser(words: list[str]) -> None:
    assert entry.parse_loopback(words) is None


def test_the_plain_forms_are_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.parse_loopback(["--json", "loopback", "--address=127.0.0.9", "--json"]) == {
        "json": True,
        "session_id": None,
        "address": "127.0.0.9",
    }
    assert entry.main(["loopback", "7"]) == 0
    assert capsys.readouterr().out == "127.0.0.8\n"


# ---- the full parser builds only the chosen command ----


def test_an_abbreviated_global_socket_option_finds_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse takes ``--sock PATH`` for ``--socket PATH``: its value is not the command."""
    assert cli._chosen_command(["--sock", "/nowhere.sock", "status"]) == "status"
    abbreviated = outcome(cli.main, ["--sock", "/nowhere.sock", "status"], capsys)
    assert abbreviated == outcome(cli.main, ["--socket", "/nowhere.sock", "status"], capsys)
    assert "cannot reach the engine at /nowhere.sock" in str(abbreviated[2])


def test_a_command_whose_parser_was_not_built_is_parsed_again_in_full(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = outcome(cli.main, ["--json", "loopback", "--address", "127.0.0.9"], capsys)
    monkeypatch.setattr(cli, "_chosen_command", lambda argv: "plan")  # looked in the wrong place
    assert outcome(cli.main, ["--json", "loopback", "--address", "127.0.0.9"], capsys) == expected
    assert expected[0] == 0 and '"session_id": 8' in str(expected[1])
