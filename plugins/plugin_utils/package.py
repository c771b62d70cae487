# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import the ``sessionnet_vip`` package on the controller, or fail clearly.

Every plugin of this collection keeps its logic in the Python package ``sessionnet-vip``
(import name ``sessionnet_vip``). This module imports it, and refuses a version that does
not match the collection's own version (read from the installed ``MANIFEST.json`` or, in a
source checkout, ``galaxy.yml``), so that a controller never runs logic from another release.
The package's source ships inside the collection (``pyproject.toml`` and ``src/`` at its root), so
the error message names the one command that installs the right version: ``pip install`` of the
collection's own directory.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import sys

from ansible.errors import AnsibleError

PACKAGE_DIST = "sessionnet-vip"
PACKAGE_IMPORT = "sessionnet_vip"

_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version(root=_COLLECTION_ROOT):
    """Return the version of the collection installed at ``root``, or ``None`` if unknown."""
    manifest = os.path.join(root, "MANIFEST.json")
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as handle:
            return json.load(handle).get("collection_info", {}).get("version")
    galaxy = os.path.join(root, "galaxy.yml")
    if os.path.isfile(galaxy):
        with open(galaxy, encoding="utf-8") as handle:
            for line in handle:
                match = re.match(r"^version:\s*['\"]?([^'\"\s]+)", line)
                if match:
                    return match.group(1)
    return None


def install_command(root=_COLLECTION_ROOT):
    """The command that installs the package shipped in the collection at ``root``."""
    return "%s -m pip install %s" % (shlex.quote(sys.executable), shlex.quote(root))


def require_sessionnet_vip(expected_version=None, importer=importlib.import_module):
    """Return the imported ``sessionnet_vip`` module, or raise :class:`AnsibleError`.

    ``expected_version`` defaults to the collection's version; ``importer`` is for tests.
    """
    if expected_version is None:
        expected_version = collection_version()
    install = install_command()
    try:
        module = importer(PACKAGE_IMPORT)
    except ImportError as exc:
        raise AnsibleError(
            "Install the Python package '%s' shipped in the sessionnet.virtual_ip collection: %s -- the "
            "collection's plugins need it (import name '%s') in the Python that runs Ansible on the "
            "controller, and importing it failed (%s)." % (PACKAGE_DIST, install, PACKAGE_IMPORT, exc)
        ) from None
    found = getattr(module, "__version__", None)
    if expected_version is not None and found != expected_version:
        raise AnsibleError(
            "Install the Python package '%s' shipped in the sessionnet.virtual_ip collection: %s -- the "
            "collection %s needs the same version, but version %s is installed at %s."
            % (PACKAGE_DIST, install, expected_version, found, getattr(module, "__file__", "?"))
        )
    return module


def import_from_package(submodule):
    """Import ``sessionnet_vip.<submodule>`` after the version check."""
    require_sessionnet_vip()
    return importlib.import_module("%s.%s" % (PACKAGE_IMPORT, submodule))
