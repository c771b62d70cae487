# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate plugin input against the plugin's own DOCUMENTATION.

Each plugin states its options once, in its docs; this turns the ``options`` of a
DOCUMENTATION string into an argument spec and validates with ansible-core's
``ArgumentSpecValidator``. The same spec is what CI compares with the PowerShell ``$spec``
and the simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
import yaml

_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log")


def options_to_argspec(options):
    """Return an argument spec for a DOCUMENTATION ``options`` mapping (recursively)."""
    spec = {}
    for name, doc in (options or {}).items():
        entry = {key: doc[key] for key in _KEYS if key in doc}
        entry.setdefault("type", "str")
        if "suboptions" in doc:
            entry["options"] = options_to_argspec(doc["suboptions"])
        spec[name] = entry
    return spec


def argspec_from_docs(documentation):
    """Parse a DOCUMENTATION YAML string and return the argument spec of its options."""
    data = yaml.safe_load(documentation) if isinstance(documentation, str) else documentation
    return options_to_argspec(data.get("options", {}))


def plain(value):
    """``value`` as plain Python data (dict, list, str, int, float, bool, None).

    Filters receive Ansible's lazy templating containers and tagged strings; the validator
    deep-copies its input, and copying those copies the templar with them (which ansible-core
    reports with deprecation warnings). Plain data is all the validator and the package need.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple, set, frozenset)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    ):
        return [plain(item) for item in value]
    return value


def validate(documentation, params, error_class, name):
    """Validate ``params`` against ``documentation``; return the validated parameters.

    Raises ``error_class`` with every problem listed and the plugin ``name`` in the message.
    """
    spec = argspec_from_docs(documentation)
    result = ArgumentSpecValidator(spec).validate(plain(params))
    if result.error_messages:
        raise error_class("%s: %s" % (name, "; ".join(result.error_messages)))
    return result.validated_parameters
