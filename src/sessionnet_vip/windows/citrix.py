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

# --- Citrix policy settings (Studio / Citrix Group Policy provider) ---------------------------
# Internal names of the "Virtual IP" computer policy settings, as the Citrix Group Policy
# PowerShell provider names its setting nodes (the PSChildName under <drive>:\Computer\<policy>\
# Settings\...). Sources: citrix/terraform-provider-citrix policy setting examples
# ("VirtualLoopbackSupport", "VirtualLoopbackPrograms"); CarlWebster's Citrix inventory scripts
# (read $Setting.VirtualLoopbackSupport.State and $Setting.VirtualLoopbackPrograms.Values);
# display names and meaning: docs.citrix.com "Virtual IP policy settings".
LOOPBACK_SUPPORT_SETTING: Final = "VirtualLoopbackSupport"
LOOPBACK_PROGRAMS_SETTING: Final = "VirtualLoopbackPrograms"
#: "Virtual IP loopback port exclusion" (docs.citrix.com "Virtual IP policy settings", newer
#: releases). Its internal name was NOT found in any public source; this is a best guess that
#: follows the naming of its two siblings. The collection makes it an option
#: (``port_exclusion_setting``) and, when the name is not found on the controller, fails listing
#: the setting names it did find next to VirtualLoopbackSupport, so the right one can be given.
PORT_EXCLUSION_SETTING_GUESS: Final = "VirtualLoopbackPortExclusion"
#: Policy filter type of a Delivery Group filter (CarlWebster inventory scripts: "DesktopGroup").
DELIVERY_GROUP_FILTER: Final = "DesktopGroup"
#: Group Policy PowerShell module and the older snap-in (Citrix Group Policy SDK usage docs).
GP_MODULE: Final = "Citrix.GroupPolicy.Commands"
GP_SNAPIN: Final = "Citrix.Common.GroupPolicy"
