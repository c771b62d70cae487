# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notes shared by every module that talks to a Windows host (real or simulated)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
notes:
  - On a Windows host the work is done by one call to the collection's PowerShell module over the
    host's connection (WinRM or PSRP); the decisions are made on the controller.
  - For a host whose inventory sets C(sessionnet_simulated_windows_state), the collection's
    simulator answers instead of Windows, from that state file on the controller, and the result
    has C(simulated=true). It is for demos and tests without Windows; see C(docs/simulator.md)
    in the collection.
"""
