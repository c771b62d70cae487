"""``vipctl loopback``'s fast path (sessionnet_vip.entry, no argparse) answers exactly what the
full parser answers, for every command line it takes; everything else goes to the full parser."""

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
