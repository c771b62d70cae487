"""Read the ``$spec = @{ ... }`` literal of an Ansible.Basic PowerShell module as Python data.

There is no PowerShell here, so the tests read the option spec of each ``.ps1`` with this small
tokenizer and recursive-descent parser. It knows the literal subset module specs are written in:

* hashtables ``@{ key = value; ... }`` (entries separated by newlines or ``;``; keys are bare
  words, quoted strings or integers; duplicate keys are an error, case-insensitively, as in
  PowerShell),
* arrays ``@( a, b )`` / ``@( a <newline> b )`` (each statement's value is enumerated one
  level, as PowerShell's ``@()`` does: ``@(@(1, 2))`` is ``[1, 2]``, ``@(@(1, 2), 3)`` is
  ``[[1, 2], 3]``) and bare comma lists ``'a', 'b'``,
* ``'single'`` (``''`` escapes a quote) and ``"double"`` quoted strings (backtick escapes; a
  ``$`` would expand at run time, so it is refused), ``$true``, ``$false``, ``$null``, integers
  (decimal or ``0x`` hex), bare words (read as strings),
* ``# line`` and ``<# block #>`` comments, and backtick line continuations.

Anything else (variables, calls, casts) raises :class:`PsLiteralError` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PsLiteralError", "extract_spec", "normalise_options", "parse_literal"]


class PsLiteralError(ValueError):
    """The text is not a PowerShell literal of the supported subset."""


@dataclass(frozen=True)
class _Token:
    kind: str  # punct, string, number, var, word, newline, eof
    value: Any
    line: int


_PUNCT = ("@{", "@(", "{", "}", "(", ")", ";", ",", "=")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "`": "`", '"': '"', "'": "'", "$": "$"}
_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)(?![\w.])")
_WORD = re.compile(r"[A-Za-z_][\w.\-]*")
_VAR = re.compile(r"\$([A-Za-z_]\w*)")


def _tokenize(text: str, start: int = 0) -> Iterator[_Token]:
    """Yield tokens lazily: the parser stops at the end of the literal, before any code after it."""
    previous = "newline"
    pos, line = start, text.count("\n", 0, start) + 1
    while pos < len(text):
        char = text[pos]
        if char == "`" and text[pos + 1 : pos + 2] == "\n":  # line continuation
            pos, line = pos + 2, line + 1
        elif char in " \t\r":
            pos += 1
        elif char == "\n":
            previous = "newline"
            yield _Token("newline", None, line)
            pos, line = pos + 1, line + 1
        elif text.startswith("<#", pos):
            end = text.find("#>", pos + 2)
            if end < 0:
                raise PsLiteralError(f"line {line}: block comment '<#' is never closed")
            line += text.count("\n", pos, end)
            pos = end + 2
        elif char == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif char == "'":
            value, pos, line = _single_quoted(text, pos, line)
            previous = "string"
            yield _Token("string", value, line)
        elif char == '"':
            value, pos, line = _double_quoted(text, pos, line)
            previous = "string"
            yield _Token("string", value, line)
        elif (match := _NUMBER.match(text, pos)) and (char != "-" or previous in ("punct", "newline")):
            digits = match.group(0)
            previous = "number"
            yield _Token("number", int(digits, 16 if "x" in digits.lower() else 10), line)
            pos = match.end()
        elif char == "$":
            match = _VAR.match(text, pos)
            if match is None:
                raise PsLiteralError(f"line {line}: '$' that does not start a variable")
            previous = "var"
            yield _Token("var", match.group(1), line)
            pos = match.end()
        elif text.startswith(("@{", "@("), pos):
            previous = "punct"
            yield _Token("punct", text[pos : pos + 2], line)
            pos += 2
        elif char in "{}();,=":
            previous = "punct"
            yield _Token("punct", char, line)
            pos += 1
        elif match := _WORD.match(text, pos):
            previous = "word"
            yield _Token("word", match.group(0), line)
            pos = match.end()
        else:
            raise PsLiteralError(f"line {line}: unexpected character {char!r}")
    yield _Token("eof", None, line)


def _single_quoted(text: str, pos: int, line: int) -> tuple[str, int, int]:
    out: list[str] = []
    pos += 1
    while True:
        if pos >= len(text):
            raise PsLiteralError(f"line {line}: string is never closed")
        char = text[pos]
        if char == "'":
            if text[pos + 1 : pos + 2] == "'":
                out.append("'")
                pos += 2
                continue
            return "".join(out), pos + 1, line
        line += char == "\n"
        out.append(char)
        pos += 1


def _double_quoted(text: str, pos: int, line: int) -> tuple[str, int, int]:
    out: list[str] = []
    pos += 1
    while True:
        if pos >= len(text):
            raise PsLiteralError(f"line {line}: string is never closed")
        char = text[pos]
        if char == "`" and pos + 1 < len(text):
            nxt = text[pos + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            pos += 2
            continue
        if char == '"':
            if text[pos + 1 : pos + 2] == '"':
                out.append('"')
                pos += 2
                continue
            return "".join(out), pos + 1, line
        if char == "$":
            raise PsLiteralError(f"line {line}: double-quoted string expands '$' at run time; not a literal")
        line += char == "\n"
        out.append(char)
        pos += 1


class _Parser:
    def __init__(self, tokens: Iterator[_Token]) -> None:
        self.tokens = tokens
        self.ahead: _Token | None = None

    def peek(self) -> _Token:
        if self.ahead is None:
            self.ahead = next(self.tokens)
        return self.ahead

    def take(self) -> _Token:
        token = self.peek()
        if token.kind != "eof":
            self.ahead = None
        return token

    def is_punct(self, *values: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.value in values

    def expect(self, value: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.value != value:
            found = token.value if token.kind != "eof" else "end of text"
            raise PsLiteralError(f"line {token.line}: expected {value!r}, found {found!r}")

    def skip(self, *kinds: str) -> None:
        while self.peek().kind == "newline" or (self.peek().kind == "punct" and self.peek().value in kinds):
            self.take()

    # value := primary (',' newline* primary)*  -- a comma list is a Python list
    def value(self) -> Any:
        first = self.primary()
        if not self.is_punct(","):
            return first
        items = [first]
        while self.is_punct(","):
            self.take()
            self.skip()
            items.append(self.primary())
        return items

    def primary(self) -> Any:
        token = self.take()
        if token.kind == "punct" and token.value == "@{":
            return self.hashtable(token)
        if token.kind == "punct" and token.value == "@(":
            return self.array(token)
        if token.kind == "punct" and token.value == "(":
            self.skip()
            inner = self.value()
            self.skip()
            self.expect(")")
            return inner
        if token.kind in ("string", "number", "word"):
            return token.value
        if token.kind == "var":
            constants = {"true": True, "false": False, "null": None}
            name = token.value.lower()
            if name not in constants:
                raise PsLiteralError(f"line {token.line}: variable ${token.value} is not a literal")
            return constants[name]
        found = token.value if token.kind != "eof" else "end of text"
        raise PsLiteralError(f"line {token.line}: expected a value, found {found!r}")

    def hashtable(self, opening: _Token) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: set[str] = set()
        self.skip(";")
        while not self.is_punct("}"):
            key_token = self.take()
            if key_token.kind not in ("word", "string", "number"):
                found = key_token.value if key_token.kind != "eof" else "end of text"
                raise PsLiteralError(
                    f"line {key_token.line}: expected a hashtable key (opened line {opening.line}), found {found!r}"
                )
            folded = str(key_token.value).casefold()
            if folded in seen:
                raise PsLiteralError(f"line {key_token.line}: duplicate hashtable key {key_token.value!r}")
            seen.add(folded)
            self.expect("=")
            self.skip()
            result[key_token.value] = self.value()
            token = self.peek()
            if not (token.kind == "newline" or self.is_punct(";", "}")):
                raise PsLiteralError(
                    f"line {token.line}: expected a new line, ';' or '}}' after a hashtable entry"
                )
            self.skip(";")
        self.expect("}")
        return result

    def array(self, opening: _Token) -> list[Any]:
        items: list[Any] = []
        self.skip(";")
        while not self.is_punct(")"):
            if self.peek().kind == "eof":
                raise PsLiteralError(f"line {opening.line}: '@(' is never closed")
            item = self.value()
            if isinstance(item, list):
                items.extend(item)
            else:
                items.append(item)
            token = self.peek()
            if not (token.kind == "newline" or self.is_punct(";", ")")):
                raise PsLiteralError(f"line {token.line}: expected ',', a new line, ';' or ')' in an array")
            self.skip(";")
        self.expect(")")
        return items


def parse_literal(text: str) -> Any:
    """Parse one PowerShell literal (the whole text)."""
    parser = _Parser(_tokenize(text))
    parser.skip()
    value = parser.value()
    parser.skip()
    token = parser.peek()
    if token.kind != "eof":
        raise PsLiteralError(f"line {token.line}: unexpected {token.value!r} after the literal")
    return value


_SPEC_START = re.compile(r"^[ \t]*\$spec[ \t]*=[ \t]*(?=@\{)", re.IGNORECASE | re.MULTILINE)


def extract_spec(source: str) -> dict[str, Any]:
    """Return the ``$spec = @{ ... }`` hashtable of a module's source as a dict."""
    found = list(_SPEC_START.finditer(source))
    if len(found) != 1:
        raise PsLiteralError(f"expected exactly one '$spec = @{{' assignment, found {len(found)}")
    parser = _Parser(_tokenize(source, found[0].end()))
    opening = parser.take()
    spec = parser.hashtable(opening)
    return spec


#: Option keys the docs can state; they are compared.
COMPARED_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log", "options")
#: Option keys of an argument spec that DOCUMENTATION cannot state (validation rules of a
#: nested spec); allowed, not compared.
SPEC_ONLY_KEYS = (
    "apply_defaults",
    "mutually_exclusive",
    "required_by",
    "required_if",
    "required_one_of",
    "required_together",
)


def normalise_options(options: dict[str, Any], where: str = "options") -> dict[str, Any]:
    """Return an option spec in one canonical form, so specs written differently compare equal.

    Rules (the only place they are defined): ``type`` defaults to ``str``; ``required: false``,
    ``default: null``, ``no_log: false`` and empty ``aliases`` are dropped, being the defaults;
    nested ``options`` are normalised the same way; keys only a spec can state
    (:data:`SPEC_ONLY_KEYS`) are dropped; any other unknown key raises, naming it.
    """
    result: dict[str, Any] = {}
    for name, option in options.items():
        if not isinstance(option, dict):
            raise PsLiteralError(f"{where}.{name} is not a mapping")
        unknown = set(option) - set(COMPARED_KEYS) - set(SPEC_ONLY_KEYS)
        if unknown:
            raise PsLiteralError(f"{where}.{name} has keys an option spec does not know: {sorted(unknown)}")
        entry = {key: option[key] for key in COMPARED_KEYS if key in option}
        entry.setdefault("type", "str")
        if not entry.get("required"):
            entry.pop("required", None)
        if entry.get("default") is None:
            entry.pop("default", None)
        if not entry.get("no_log"):
            entry.pop("no_log", None)
        if not entry.get("aliases"):
            entry.pop("aliases", None)
        if "options" in entry:
            entry["options"] = normalise_options(entry["options"] or {}, f"{where}.{name}.options")
        result[name] = entry
    return result
