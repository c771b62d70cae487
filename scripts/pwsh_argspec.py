#!/usr/bin/env python3
"""A ``pwsh`` stand-in that answers one question: the argument spec of a PowerShell module.

``ansible-test sanity``'s validate-modules reads the ``$spec`` of an ``Ansible.Basic`` module by
running ``pwsh ps_argspec.ps1 <manifest>``; no PowerShell is installed here. This stand-in reads
the module's ``$spec = @{...}`` literal with the same static parser the contract tests use
(tests/unit/plugins/ps_spec.py) and prints it as JSON, as ps_argspec.ps1 would, so that
validate-modules checks each .ps1's options against its documentation. Anything else it is asked
to run fails, saying it is not PowerShell. scripts/run-checks puts it on PATH as ``pwsh`` for the
sanity gate only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "plugins"))

import ps_spec  # noqa: E402  (path set above)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or Path(argv[0]).name != "ps_argspec.ps1":
        print(
            "pwsh stand-in (scripts/pwsh_argspec.py): only reads module argument specs for "
            f"validate-modules; cannot run {' '.join(argv) or '(no arguments)'}",
            file=sys.stderr,
        )
        return 1
    manifest = json.loads(argv[1])
    source = Path(manifest["module_path"]).read_text(encoding="utf-8-sig")
    try:
        spec = ps_spec.extract_spec(source)
    except ps_spec.PsLiteralError as exc:
        print(f"{manifest['module_path']}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
