# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared wording of the module attributes (each module adds C(support) and its details;
``INFO_MODULE`` gives both for a module that only reads)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
"""

    # a read-only module (sessionnet.virtual_ip.attributes.info_module); it keeps its platform
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    details: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    details: Reports no diff (nothing changes).
    support: none
"""
