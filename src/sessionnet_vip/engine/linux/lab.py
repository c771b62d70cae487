"""A scratch network namespace for tests, demos and benchmarks of the data plane.

``Lab`` creates a named network namespace with ``lo`` up and a veth pair whose both ends
stay inside it (``snv0`` with the first host of ``subnet``, ``snv1`` with the last), so
traffic never leaves the namespace. Use :meth:`Lab.wrap` to run a command inside it
(``ip netns exec`` keeps the PID, so the data plane's launcher still works).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from sessionnet_vip.errors import VipError

#: Documentation-only subnets (RFC 5737) the lab may use.
TEST_NETS = (ipaddress.IPv4Network("192.0.2.0/24"), ipaddress.IPv4Network("198.51.100.0/24"))


class LabError(VipError):
    """The scratch namespace could not be set up."""


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


@dataclass
class Lab:
    """A network namespace with ``lo`` up and a veth pair inside it."""

    name: str = field(default_factory=lambda: f"snv-lab-{os.getpid()}")
    subnet: ipaddress.IPv4Network = TEST_NETS[0]
    created: bool = False

    def __post_init__(self) -> None:
        if not any(self.subnet.subnet_of(net) for net in TEST_NETS):
            raise LabError(
                f"lab subnet {self.subnet} is not a documentation subnet; use 192.0.2.0/24 or 198.51.100.0/24"
            )

    @property
    def host_address(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{next(self.subnet.hosts())}/{self.subnet.prefixlen}")

    @property
    def peer_address(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{self.subnet.broadcast_address - 1}/{self.subnet.prefixlen}")

    def create(self) -> Lab:
        _run("ip", "netns", "add", self.name)
        self.created = True
        try:
            _run("ip", "-n", self.name, "link", "set", "lo", "up")
            _run("ip", "-n", self.name, "link", "add", "snv0", "type", "veth", "peer", "name", "snv1")
            _run("ip", "-n", self.name, "addr", "add", str(self.host_address), "dev", "snv0")
            _run("ip", "-n", self.name, "addr", "add", str(self.peer_address), "dev", "snv1")
            _run("ip", "-n", self.name, "link", "set", "snv0", "up")
            _run("ip", "-n", self.name, "link", "set", "snv1", "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        if self.created:
            with contextlib.suppress(LabError):
                _run("ip", "netns", "del", self.name)
            self.created = False

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """Return ``argv`` prefixed to run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def __enter__(self) -> Lab:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.destroy()
