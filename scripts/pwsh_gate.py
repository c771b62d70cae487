#!/usr/bin/env python3
"""PowerShell syntax gate: parse every .ps1/.psm1 tracked in the tree with tree-sitter-pwsh.

No PowerShell runtime exists on our machines, so this is the static check that every
PowerShell file at least parses. The grammar has a few known false positives; each one we
accept is listed, with its reason, in ``tests/pwsh-gate-allowlist.yml`` as ``{file, line,
reason}``. An entry that no longer matches an error fails the gate too (stale allow-list).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import tree_sitter
import tree_sitter_pwsh
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "tests" / "pwsh-gate-allowlist.yml"


def powershell_files() -> list[pathlib.Path]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.ps1", "*.psm1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(ROOT / name for name in out if (ROOT / name).is_file())


def errors_of(parser: tree_sitter.Parser, source: bytes) -> list[tuple[int, str]]:
    """Return (line, description) for every ERROR or MISSING node."""
    tree = parser.parse(source)
    found: list[tuple[int, str]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            text = source[node.start_byte : node.end_byte].decode("utf-8", "replace").splitlines()
            kind = "missing " + node.type if node.is_missing else "cannot parse"
            found.append((node.start_point[0] + 1, f"{kind}: {text[0][:60] if text else ''!r}"))
            continue
        if node.has_error:
            stack.extend(node.children)
    return sorted(found)


def main() -> int:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))
    allowed = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) if ALLOWLIST.exists() else None
    allowed = allowed or []
    used: set[int] = set()
    failures = 0
    files = powershell_files()
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, what in errors_of(parser, path.read_bytes()):
            match = next((i for i, a in enumerate(allowed) if a["file"] == rel and a["line"] == line), None)
            if match is not None:
                used.add(match)
                print(f"allowed  {rel}:{line}: {what} ({allowed[match]['reason']})")
                continue
            failures += 1
            print(f"ERROR    {rel}:{line}: {what}")
    for i, entry in enumerate(allowed):
        if i not in used:
            failures += 1
            print(f"STALE    allow-list entry {entry} matches no parse error; remove it")
    print(f"pwsh gate: {len(files)} file(s), {failures} problem(s), {len(used)} allowed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
