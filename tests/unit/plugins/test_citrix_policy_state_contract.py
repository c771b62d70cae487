"""citrix_policy_state: the .ps1 ``$spec`` options == the documented options == the simulator SPECS."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import yaml

from sessionnet_vip.windows.simulator import SPECS

ROOT = pathlib.Path(__file__).resolve().parents[3]
MODULES = ROOT / "plugins" / "modules"
_KEYS = ("type", "required", "default", "choices", "elements")


def ps_spec_options(source: str) -> dict[str, Any]:
    """Parse the ``options`` of the literal ``$spec = @{...}`` hashtable of an Ansible.Basic module."""
    start = source.index("$spec = @{")
    text = source[start + len("$spec = ") :]
    tokens = re.findall(r"@\{|@\(|\}|\)|=|;|,|\n|'[^']*'|\$true|\$false|-?\d+|[A-Za-z_][A-Za-z0-9_]*", text)
    pos = 0

    def skip() -> None:
        nonlocal pos
        while pos < len(tokens) and tokens[pos] in ("\n", ";"):
            pos += 1

    def value() -> Any:
        """One element, or a bare comma-separated array of elements ('a', 'b')."""
        nonlocal pos
        first = single()
        if pos < len(tokens) and tokens[pos] == ",":
            items = [first]
            while pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                items.append(single())
            return items
        return first

    def single() -> Any:
        nonlocal pos
        skip()
        tok = tokens[pos]
        pos += 1
        if tok == "@{":
            out: dict[str, Any] = {}
            while True:
                skip()
                if tokens[pos] == "}":
                    pos += 1
                    return out
                key = tokens[pos]
                assert tokens[pos + 1] == "=", tokens[pos : pos + 3]
                pos += 2
                out[key] = value()
        if tok == "@(":
            items: list[Any] = []
            while True:
                skip()
                if tokens[pos] == ")":
                    pos += 1
                    return items
                if tokens[pos] == ",":
                    pos += 1
                    continue
                items.append(single())
        return atom(tok)

    def atom(tok: str) -> Any:
        if tok.startswith("'"):
            return tok[1:-1]
        if tok in ("$true", "$false"):
            return tok == "$true"
        return int(tok)

    spec = value()
    return dict(spec["options"])


def normalise(options: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, opt in options.items():
        entry = {k: opt[k] for k in _KEYS if k in opt}
        entry.setdefault("type", "str")
        if entry.get("required") is False:
            del entry["required"]
        if entry.get("default") == []:
            entry["default"] = []
        sub = opt.get("options") or opt.get("suboptions")
        if sub:
            entry["options"] = normalise(sub)
        out[name] = entry
    return out


def test_ps1_spec_docs_and_simulator_agree() -> None:
    source = (MODULES / "citrix_policy_state.ps1").read_text(encoding="utf-8")
    docs = yaml.safe_load(
        re.search(
            r'DOCUMENTATION = r"""(.*?)"""', (MODULES / "citrix_policy_state.py").read_text(), re.S
        ).group(1)  # type: ignore[union-attr]
    )
    from_ps = normalise(ps_spec_options(source))
    from_docs = normalise(docs["options"])
    from_sim = normalise(SPECS["citrix_policy_state"])
    assert from_ps == from_docs
    assert from_sim == from_docs


def test_ps1_guards_every_write_and_saves_once() -> None:
    source = (MODULES / "citrix_policy_state.ps1").read_text(encoding="utf-8")
    lines = source.splitlines()
    writes = [
        i for i, line in enumerate(lines) if re.search(r"\b(New-Item|Set-ItemProperty|Remove-Item)\b", line)
    ]
    assert writes
    for i in writes:
        guard = next(
            (lines[j] for j in range(i - 1, max(i - 8, 0), -1) if "-not $checkMode" in lines[j]),
            None,
        )
        assert guard is not None, f"line {i + 1} writes without a check-mode guard: {lines[i].strip()}"
    assert source.count(".Save()") == 1 and "AutoWriteBack = $false" in source
    assert "Citrix.GroupPolicy.Commands" in source and "Citrix.Common.GroupPolicy" in source
