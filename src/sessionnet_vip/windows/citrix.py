"""Citrix Virtual Apps and Desktops: the registry facts on a VDA.

- Prefer-loopback (Citrix documentation "Virtual IP and virtual loopback", seed document 000):
  ``HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Citrix\\VIP`` with ``PreferLoopback`` REG_DWORD 1 and
  ``PreferLoopbackProcesses`` REG_MULTI_SZ. ``Wow6432Node`` is the 64-bit spelling of the 32-bit
  view, so the collection writes ``HKLM:\\SOFTWARE\\Citrix\\VIP`` in view 32.
- VDA presence: key ``HKLM\\SOFTWARE\\Citrix\\VirtualDesktopAgent``; version: ``DisplayVersion`` of
  the uninstall entry "Citrix Virtual Desktop Agent" (as public VDA inventory scripts read it).
"""

from __future__ import annotations

from typing import Final

VIP_KEY: Final = r"HKLM:\SOFTWARE\Citrix\VIP"
VIP_VIEW: Final = "32"
PREFER_LOOPBACK: Final = "PreferLoopback"
PREFER_LOOPBACK_PROCESSES: Final = "PreferLoopbackProcesses"

VDA_KEY: Final = r"HKLM:\SOFTWARE\Citrix\VirtualDesktopAgent"
VDA_UNINSTALL_KEY: Final = (
    r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Citrix Virtual Desktop Agent"
)
