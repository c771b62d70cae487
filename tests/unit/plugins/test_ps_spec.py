"""The PowerShell literal parser the contract tests use to read a module's ``$spec``."""

from __future__ import annotations

import ps_spec
import pytest


def test_hashtable_with_newlines_semicolons_comments_and_nesting() -> None:
    text = """@{
        # a comment
        options = @{
            path = @{ type = 'str'; required = $true }   # trailing comment
            view = @{ type = "str"; default = '64'; choices = '64', '32' }
            <# block
               comment #>
            items = @{ type = 'list'; elements = 'dict'; default = @() }
        }
        supports_check_mode = $TRUE
        'quoted key' = $null; count = -3; mask = 0xFF; word = str
    }"""
    assert ps_spec.parse_literal(text) == {
        "options": {
            "path": {"type": "str", "required": True},
            "view": {"type": "str", "default": "64", "choices": ["64", "32"]},
            "items": {"type": "list", "elements": "dict", "default": []},
        },
        "supports_check_mode": True,
        "quoted key": None,
        "count": -3,
        "mask": 255,
        "word": "str",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@()", []),
        ("@( 'a', 'b' )", ["a", "b"]),
        ("@(\n  'a'\n  'b'\n)", ["a", "b"]),
        ("@( @(1, 2) )", [1, 2]),  # @() enumerates each statement's output one level, as PowerShell does
        ("@( @(1, 2), 3 )", [[1, 2], 3]),
        ("'a',\n 'b'", ["a", "b"]),
        ("'it''s'", "it's"),
        ('"tab`there ""q"""', 'tab\there "q"'),
        ("$false", False),
        ("( 'x' )", "x"),
        ("@{ a = 1 `\n ; b = 2 }", {"a": 1, "b": 2}),
    ],
)
def test_literals(text: str, expected: object) -> None:
    assert ps_spec.parse_literal(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@{ a = 1 b = 2 }", "after a hashtable entry"),
        ("@{ a = 1; A = 2 }", "duplicate hashtable key 'A'"),
        ("@{ a = $other }", "variable $other is not a literal"),
        ('@{ a = "x$y" }', "expands '$'"),
        ("@{ a = 'x }", "never closed"),
        ("@{ a = [int]1 }", "unexpected character '['"),
        ("@( 1 2 )", "in an array"),
        ("@{ a = 1 }\n@{}", "after the literal"),
        ("@{\n a = 1\n", "expected a hashtable key"),
    ],
)
def test_errors_name_the_problem_and_line(text: str, message: str) -> None:
    with pytest.raises(ps_spec.PsLiteralError, match="line \\d+: .*" + __import__("re").escape(message)):
        ps_spec.parse_literal(text)


def test_extract_spec_stops_at_the_end_of_the_literal() -> None:
    source = "#!powershell\n$spec = @{\n    options = @{}\n    supports_check_mode = $true\n}\n$m = [X]::Create($args, $spec)\n"
    assert ps_spec.extract_spec(source) == {"options": {}, "supports_check_mode": True}


def test_extract_spec_needs_exactly_one_spec() -> None:
    with pytest.raises(ps_spec.PsLiteralError, match="found 0"):
        ps_spec.extract_spec("$other = @{}")
    with pytest.raises(ps_spec.PsLiteralError, match="found 2"):
        ps_spec.extract_spec("$spec = @{}\n$spec = @{}\n")


def test_normalisation_fills_and_drops_defaults_recursively() -> None:
    raw = {
        "a": {"required": False, "default": None, "no_log": False, "aliases": []},
        "b": {"type": "list", "elements": "dict", "options": {"c": {"required": True}}, "required_if": []},
    }
    assert ps_spec.normalise_options(raw) == {
        "a": {"type": "str"},
        "b": {"type": "list", "elements": "dict", "options": {"c": {"type": "str", "required": True}}},
    }


def test_normalisation_refuses_unknown_option_keys() -> None:
    with pytest.raises(ps_spec.PsLiteralError, match=r"options\.x\.options\.y has keys .*'tpye'"):
        ps_spec.normalise_options({"x": {"type": "dict", "options": {"y": {"tpye": "str"}}}})
