# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base class of the collection's action plugins.

A subclass names its documentation module (``DOCS_MODULE``) and implements
``execute(params, task_vars) -> dict``. This base validates the task arguments against the
module's DOCUMENTATION (the single statement of the options), turns ``VipError`` from the
``sessionnet_vip`` package into a failed result naming the input, and adds check-mode flags.
Logic never lives in the plugin files.
"""

from __future__ import annotations

import importlib

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils import facts_cache
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.docspec import argspec_from_docs
from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package


class SessionnetAction(ActionBase):
    """Validate against the docs, run ``execute``, shape errors."""

    DOCS_MODULE = None
    TRANSFERS_FILES = False
    _requires_connection = True

    def documentation(self):
        module = importlib.import_module(
            "ansible_collections.sessionnet.virtual_ip.plugins.modules.%s" % self.DOCS_MODULE
        )
        return module.DOCUMENTATION

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        spec = argspec_from_docs(self.documentation())
        validation, params = self.validate_argument_spec(argument_spec=spec)
        del validation
        errors = import_from_package("errors")
        try:
            result.update(self.execute(params, task_vars))
        except errors.VipError as exc:
            result.update(failed=True, changed=False, msg="%s: %s" % (self.DOCS_MODULE, exc))
        except AnsibleActionFail as exc:
            # Keep what the Windows side reported before it failed (progress, what was done).
            partial = {
                key: value
                for key, value in (getattr(exc, "result", None) or {}).items()
                if key not in ("failed", "msg", "exception", "invocation") and not key.startswith("_ansible")
            }
            result.update(partial)
            result.update(failed=True, changed=bool(partial.get("changed")), msg=str(exc))
        facts_cache.publish(self, result)
        return result

    def execute(self, params, task_vars):  # pragma: no cover - abstract
        raise NotImplementedError
