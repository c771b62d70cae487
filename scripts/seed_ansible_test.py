#!/usr/bin/env python3
"""Make ``ansible-test sanity`` work without its bootstrap download.

ansible-test bootstraps pip into each of its virtual environments with a script it
downloads from a host that this workplace cannot reach. It first looks for the script in
``~/.ansible/test/cache/get_pip_<version>.py``. This writes a small stand-in there that
installs pip from a wheel fetched with ``pip download`` (from the package index we do reach).
An existing real script is left alone.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

MARKER = "# sessionnet.virtual_ip stand-in for get-pip"

STANDIN = """{marker}
import glob, os, sys
WHEELS = {wheels!r}
wheel = sorted(glob.glob(os.path.join(WHEELS, "pip-{version}-*.whl")))[0]
sys.path.insert(0, wheel)
from pip._internal.cli.main import main
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--find-links", WHEELS] + args))
"""


def pip_version() -> str:
    import ansible_test

    source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"pip='([0-9.]+)'", source.read_text(encoding="utf-8"))
    if not match:
        sys.exit(f"cannot find the pip version ansible-test wants in {source}")
    return match.group(1)


def main() -> int:
    version = pip_version()
    cache = pathlib.Path.home() / ".ansible" / "test" / "cache"
    wheels = cache / "pip-wheels"
    target = cache / f"get_pip_{version.replace('.', '_')}.py"
    if target.exists() and MARKER not in target.read_text(encoding="utf-8", errors="replace"):
        print(f"ansible-test bootstrap: real script present at {target}, left alone")
        return 0
    wheels.mkdir(parents=True, exist_ok=True)
    if not list(wheels.glob(f"pip-{version}-*.whl")):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheels),
                f"pip=={version}",
            ],
            check=True,
        )
    target.write_text(STANDIN.format(marker=MARKER, wheels=str(wheels), version=version), encoding="utf-8")
    print(f"ansible-test bootstrap: pip {version} stand-in written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
