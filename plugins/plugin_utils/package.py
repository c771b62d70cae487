# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import the ``sessionnet_vip`` package on the controller, or fail clearly.

Every plugin of this collection keeps its logic in the Python package ``sessionnet-vip``
(import name ``sessionnet_vip``). This module imports it, and refuses a version that does
not match the collection's own version (read from the installed ``MANIFEST.json`` or, in a
source checkout, ``galaxy.yml``), so that a controller never runs logic from another release.
"""

from __future__ import annotations

import importlib
import json
import os
import re

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


def require_sessionnet_vip(expected_version=None, importer=importlib.import_module):
    """Return the imported ``sessionnet_vip`` module, or raise :class:`AnsibleError`.

    ``expected_version`` defaults to the collection's version; ``importer`` is for tests.
    """
    if expected_version is None:
        expected_version = collection_version()
    try:
        module = importer(PACKAGE_IMPORT)
    except ImportError as exc:
        raise AnsibleError(
            "The sessionnet.virtual_ip collection needs the Python package '%s' (import name '%s') "
            "on the Ansible controller, in the Python that runs ansible: %s. Install it with "
            "'pip install %s==%s' (or 'pip install <path to the collection>', which holds its source)."
            % (PACKAGE_DIST, PACKAGE_IMPORT, exc, PACKAGE_DIST, expected_version or "<collection version>")
        ) from exc
    found = getattr(module, "__version__", None)
    if expected_version is not None and found != expected_version:
        raise AnsibleError(
            "The sessionnet.virtual_ip collection %s needs the Python package '%s' of the same version, "
            "but version %s is installed at %s. Install the matching one with 'pip install %s==%s'."
            % (
                expected_version,
                PACKAGE_DIST,
                found,
                getattr(module, "__file__", "?"),
                PACKAGE_DIST,
                expected_version,
            )
        )
    return module


def import_from_package(submodule):
    """Import ``sessionnet_vip.<submodule>`` after the version check."""
    require_sessionnet_vip()
    return importlib.import_module("%s.%s" % (PACKAGE_IMPORT, submodule))
