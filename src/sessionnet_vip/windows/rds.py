"""Microsoft Remote Desktop IP Virtualization: the registry facts.

Sources (see docs/rds_ip_virtualization.md):
- Group Policy "Turn on Remote Desktop IP Virtualization" and "Select the network adapter to be
  used for Remote Desktop IP Virtualization" (TerminalServer-Server.admx, Windows Components >
  Remote Desktop Services > RD Session Host > Application Compatibility) write under
  ``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services\\TSAppSrv\\VirtualIP``;
  the adapter is given in CIDR notation such as ``192.0.2.96/24`` (Microsoft Learn, "RDS IP
  Virtualization in Windows Server").
- The non-policy key ``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\TSAppSrv\\VirtualIP``
  (the key behind WMI ``Win32_TSVirtualIP``) holds the same value names; the policy key wins value
  by value.
- Windows Server 2019 and later: rename the Winsock catalog entry
  ``...\\WinSock2\\Parameters\\AppId_Catalog\\2C69D9F1`` to ``Backup_2C69D9F1`` and restart
  (Microsoft support article "remote-desktop-ip-virtualization", KB 4501072: "Deleting the key has
  the same effects, but the rename provides a way to revert back more easily").
- Loopback address virtualization (Windows Server 2012 and later): WMI class
  ``Win32_TSVirtualIP`` in namespace ``root\\CIMv2\\TerminalServices``, property
  ``VirtualizeLoopbackAddressesEnabled`` (uint32 0/1), set with the method
  ``SetVirtualizeLoopbackAddressesEnabled`` (Microsoft Learn, "Win32_TSVirtualIP class" and
  "SetVirtualizeLoopbackAddressesEnabled method"). No public source names the registry value the
  provider writes, so the collection goes through WMI.
"""

from __future__ import annotations

from typing import Final

POLICY_KEY: Final = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP"
LOCAL_KEY: Final = r"HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\TSAppSrv\VirtualIP"
LSP_CATALOG_KEY: Final = r"HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\2C69D9F1"
#: Where KB 4501072 renames the entry to ("Rename-Item ... 2C69D9F1 Backup_2C69D9F1").
LSP_CATALOG_BACKUP_KEY: Final = (
    r"HKLM:\SYSTEM\CurrentControlSet\Services\WinSock2\Parameters\AppId_Catalog\Backup_2C69D9F1"
)

#: Default contents of the entry (KB 4501072 and Microsoft Learn "Remote Desktop IP Virtualization
#: in Windows Server 2019 and Windows Server 2022"): (name, type, data).
LSP_CATALOG_DEFAULTS: Final[tuple[tuple[str, str, object], ...]] = (
    ("AppFullPath", "string", r"C:\Windows\System32\svchost.exe"),
    ("PermittedLspCategories", "dword", 0x40000000),
)

WMI_NAMESPACE: Final = r"root\cimv2\TerminalServices"
WMI_CLASS: Final = "Win32_TSVirtualIP"
WMI_LOOPBACK_PROPERTY: Final = "VirtualizeLoopbackAddressesEnabled"  # uint32 0/1
WMI_LOOPBACK_METHOD: Final = "SetVirtualizeLoopbackAddressesEnabled"

ENABLE: Final = "EnableVirtualIP"  # DWORD 1/0
MODE: Final = "VirtualMode"  # DWORD 0 = per session, 1 = per program
PROGRAMS: Final = "PerApp"  # REG_MULTI_SZ, per-program mode
ADAPTER: Final = "VIPAdapter"  # REG_SZ, CIDR of the adapter's subnet
NO_FALLBACK: Final = "PromptOnIPLeaseFail"  # DWORD 1 = no network rather than the server's address

#: (value name, registry type) of every value this collection manages under POLICY_KEY.
MANAGED_VALUES: Final[tuple[tuple[str, str], ...]] = (
    (ENABLE, "dword"),
    (MODE, "dword"),
    (PROGRAMS, "multistring"),
    (ADAPTER, "string"),
    (NO_FALLBACK, "dword"),
)
MODE_VALUES: Final = {"per_session": 0, "per_program": 1}
