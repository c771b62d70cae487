"""Citrix prefer-loopback on a VDA: the registry values, and when to refuse.

Source: Citrix, "Virtual IP and virtual loopback", Citrix Virtual Apps and Desktops product
documentation (:data:`SOURCE`), section "Related feature": on the application host set, under
``HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Citrix\\VIP``, ``PreferLoopback`` REG_DWORD 1 and
``PreferLoopbackProcesses`` REG_MULTI_SZ (the list of processes); this makes virtual loopback win
over virtual IP. The same page cautions to use it only when both virtual IP and virtual loopback
are enabled, or the results may not be the intended ones; and that virtual IP / virtual loopback are
supported on Windows Server (2016) VDAs, not on Windows 10 Enterprise multi-session nor desktop OS.

Decisions (documented in docs/citrix_virtual_loopback.md):

- ``state: enabled`` needs a Citrix VDA (error otherwise, even with ``force``), a Windows Server
  edition from 2016 (build 14393) on (multi-session client and desktop editions are refused,
  naming the edition), a non-empty process list, and RD IP Virtualization enabled (effective
  value): when it is not, refuse quoting the caution unless ``force`` (then warn).
- ``state: disabled`` removes both values (the documented default is their absence); it needs no
  checks, so it also cleans up a host that no longer qualifies.
- Processes go through :func:`~sessionnet_vip.windows.programs.normalize_programs` (wildcards,
  quotes and relative paths refused, case duplicates merged, order kept). The page does not say
  whether names or full paths are expected; entries are written as given (executable names are
  recommended, like the Citrix loopback programs list), so the bare-name warning is not repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import citrix
from sessionnet_vip.windows.programs import normalize_programs

#: First Windows Server build Citrix supports virtual IP / loopback on (Server 2016).
MIN_SERVER_BUILD: Final = 14393
#: The public Citrix page the prefer-loopback values and the caution come from.
SOURCE: Final = (
    "https://docs.citrix.com/en-us/citrix-virtual-apps-desktops/manage-deployment/virtual-ip-virtual-loopback.html"
)
#: Citrix's caution, paraphrased in English.
CAUTION_EN: Final = (
    "use prefer-loopback only where both virtual IP and virtual loopback are enabled, "
    "or the results may not be the intended ones"
)
CAUTION: Final = f"Citrix cautions: {CAUTION_EN} (Citrix, Virtual IP and virtual loopback: {SOURCE})"


class PreferLoopbackError(VipError):
    """Prefer-loopback cannot be set on this host with these options."""


@dataclass
class PreferLoopbackPlan:
    values: list[dict[str, Any]]
    processes: list[str]
    warnings: list[str] = field(default_factory=list)


def build_prefer_loopback(options: Mapping[str, Any], facts: Mapping[str, Any]) -> PreferLoopbackPlan:
    """Decide the registry values for ``citrix_prefer_loopback`` from options and *shaped* vip_info facts
    (:func:`sessionnet_vip.windows.facts.shape`)."""
    state = str(options.get("state") or "enabled")
    force = bool(options.get("force"))
    if state == "disabled":
        return PreferLoopbackPlan(
            [
                {"path": citrix.VIP_KEY, "name": name, "state": "absent", "view": citrix.VIP_VIEW}
                for name in (citrix.PREFER_LOOPBACK, citrix.PREFER_LOOPBACK_PROCESSES)
            ],
            [],
        )
    if state != "enabled":
        raise PreferLoopbackError(f"state {state!r}: use enabled or disabled")
    osf: Mapping[str, Any] = facts.get("os") or {}
    name = f"{osf.get('caption') or 'this host'} (EditionID {osf.get('edition_id') or 'unknown'})"
    kind = osf.get("kind")
    if kind == "multi_session_client":
        raise PreferLoopbackError(
            f"{name} is Windows Enterprise multi-session, where Citrix supports neither virtual IP nor "
            "virtual loopback; use a Windows Server VDA"
        )
    if kind != "server":
        raise PreferLoopbackError(
            f"{name} is not a Windows Server edition (kind {kind!r}); Citrix virtual IP and virtual "
            "loopback work only on Windows Server VDAs, not on desktop OS"
        )
    build = int(osf.get("build") or 0)
    if build and build < MIN_SERVER_BUILD:
        raise PreferLoopbackError(
            f"{name} build {build} is older than Windows Server 2016 (build {MIN_SERVER_BUILD}), "
            "the first release Citrix documents for virtual loopback"
        )
    vda = facts.get("citrix") or {}
    if not vda.get("vda_installed"):
        raise PreferLoopbackError(
            "no Citrix VDA is installed on this host (key HKLM\\SOFTWARE\\Citrix\\VirtualDesktopAgent "
            "is missing); prefer-loopback is a VDA setting. Install the Server OS VDA first "
            "(force does not override this)"
        )
    normalized = normalize_programs(options.get("processes"), "processes")
    if not normalized.programs:
        raise PreferLoopbackError(
            "processes is empty: prefer-loopback applies to the listed processes; list them "
            "(such as 'ctiagent.exe') or use state: disabled"
        )
    warnings: list[str] = []
    rds = ((facts.get("rds_ip_virtualization") or {}).get("effective")) or {}
    if not rds.get("enabled"):
        if not force:
            raise PreferLoopbackError(
                f"RD IP Virtualization (virtual IP) is not enabled on this host. {CAUTION}. "
                "Enable it first (sessionnet.virtual_ip.rds_ip_virtualization) or set force: true"
            )
        warnings.append(
            f"RD IP Virtualization is not enabled; setting prefer-loopback anyway (force). {CAUTION}"
        )
    values: list[dict[str, Any]] = [
        {
            "path": citrix.VIP_KEY,
            "name": citrix.PREFER_LOOPBACK,
            "type": "dword",
            "data": 1,
            "view": citrix.VIP_VIEW,
        },
        {
            "path": citrix.VIP_KEY,
            "name": citrix.PREFER_LOOPBACK_PROCESSES,
            "type": "multistring",
            "data": list(normalized.programs),
            "view": citrix.VIP_VIEW,
        },
    ]
    return PreferLoopbackPlan(values, list(normalized.programs), warnings)
