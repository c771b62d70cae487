"""Windows editions the collection knows, and how to recognise them from facts.

Used by the simulator (to seed a host) and by the feature decisions (to refuse unsupported
editions). ``EditionID`` ``ServerRdsh`` is Windows 10/11 Enterprise multi-session, which reports
``ProductType`` 3 like a server (Microsoft, Azure Virtual Desktop multi-session FAQ).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MULTI_SESSION_EDITIONS: Final = frozenset({"serverrdsh", "enterprisemultisession"})
PRODUCT_TYPES: Final[Mapping[int, str]] = {1: "workstation", 2: "domain_controller", 3: "server"}


@dataclass(frozen=True)
class OsProfile:
    name: str
    caption: str
    version: str
    product_type: int
    edition_id: str
    installation_type: str

    @property
    def build(self) -> int:
        return int(self.version.split(".")[2])


PROFILES: Final[Mapping[str, OsProfile]] = {
    p.name: p
    for p in (
        OsProfile(
            "server2008r2",
            "Microsoft Windows Server 2008 R2 Enterprise",
            "6.1.7601",
            3,
            "ServerEnterprise",
            "Server",
        ),
        OsProfile(
            "server2016",
            "Microsoft Windows Server 2016 Datacenter",
            "10.0.14393",
            3,
            "ServerDatacenter",
            "Server",
        ),
        OsProfile(
            "server2019",
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763",
            3,
            "ServerDatacenter",
            "Server",
        ),
        OsProfile(
            "server2022",
            "Microsoft Windows Server 2022 Datacenter",
            "10.0.20348",
            3,
            "ServerDatacenter",
            "Server",
        ),
        OsProfile(
            "server2025",
            "Microsoft Windows Server 2025 Datacenter",
            "10.0.26100",
            3,
            "ServerDatacenter",
            "Server",
        ),
        OsProfile(
            "win10_multisession",
            "Microsoft Windows 10 Enterprise multi-session",
            "10.0.19045",
            3,
            "ServerRdsh",
            "Client",
        ),
        OsProfile(
            "win11_multisession",
            "Microsoft Windows 11 Enterprise multi-session",
            "10.0.22631",
            3,
            "ServerRdsh",
            "Client",
        ),
        OsProfile("workstation", "Microsoft Windows 11 Enterprise", "10.0.22631", 1, "Enterprise", "Client"),
    )
}
DEFAULT_PROFILE: Final = "server2022"
#: Build of Windows Server 2019: from here on RD IP Virtualization needs the Winsock LSP fix.
SERVER_2019_BUILD: Final = 17763
#: Build of Windows Server 2012 (6.2.9200): the first with Win32_TSVirtualIP's loopback
#: virtualization (Microsoft Learn, SetVirtualizeLoopbackAddressesEnabled: minimum supported
#: server Windows Server 2012).
SERVER_2012_BUILD: Final = 9200


@dataclass(frozen=True)
class OsFacts:
    """What the collection derives from the raw OS facts of a host."""

    caption: str
    version: str
    build: int
    product_type: str
    edition_id: str
    installation_type: str

    @property
    def is_multi_session_client(self) -> bool:
        return self.edition_id.casefold() in MULTI_SESSION_EDITIONS

    @property
    def is_server(self) -> bool:
        return self.product_type in ("server", "domain_controller") and not self.is_multi_session_client

    @property
    def kind(self) -> str:
        if self.is_multi_session_client:
            return "multi_session_client"
        return "server" if self.is_server else "workstation"

    def as_dict(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "version": self.version,
            "build": self.build,
            "product_type": self.product_type,
            "edition_id": self.edition_id,
            "installation_type": self.installation_type,
            "kind": self.kind,
            "multi_session_client": self.is_multi_session_client,
            "server": self.is_server,
        }


def os_facts(raw: Mapping[str, Any]) -> OsFacts:
    """Derive :class:`OsFacts` from the ``os`` part of what ``vip_info`` read."""
    version = str(raw.get("version") or "0.0.0")
    try:
        build = int(raw.get("build") or version.split(".")[2])
    except (IndexError, ValueError):
        build = 0
    ptype = raw.get("product_type")
    product = (
        PRODUCT_TYPES.get(int(ptype), "unknown")
        if isinstance(ptype, int | str) and str(ptype).isdigit()
        else "unknown"
    )
    return OsFacts(
        caption=str(raw.get("caption") or ""),
        version=version,
        build=build,
        product_type=product,
        edition_id=str(raw.get("edition_id") or ""),
        installation_type=str(raw.get("installation_type") or ""),
    )
