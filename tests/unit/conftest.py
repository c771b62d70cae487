"""Make the collection importable as ``ansible_collections.sessionnet.virtual_ip`` in tests."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_FARM = ROOT / ".work" / "pytest-collections"
_LINK = _FARM / "ansible_collections" / "sessionnet" / "virtual_ip"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(ROOT, _LINK)
if str(_FARM) not in sys.path:
    sys.path.insert(0, str(_FARM))


# ---------------------------------------------------------------------------------------------
# Shared kernel fixtures of the Linux data-plane and agent tests (tests/unit/{dataplane,agent})
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kernel_ready() -> None:
    """Skip, with the reason, unless root and a working kernel data plane (cgroup v2 + bpf())."""
    if os.geteuid() != 0:
        pytest.skip("these kernel tests need root (cgroup moves, bpf(), network namespaces)")
    from sessionnet_vip.engine.linux import DataPlane

    probe = DataPlane.probe()
    if not probe.ok:
        pytest.skip(f"kernel data plane unavailable: {probe.reason}")


@pytest.fixture(scope="session")
def scratch_netns() -> Callable[..., contextlib.AbstractContextManager[Any]]:
    """A context manager factory: ``with scratch_netns(name, subnet) as lab:`` gives a created
    :class:`~sessionnet_vip.engine.linux.lab.Lab`, destroyed on exit; skips (with the reason) when
    the namespace cannot be created. Usable from fixtures of any scope."""
    from sessionnet_vip.engine.linux.lab import Lab, LabError

    @contextlib.contextmanager
    def make(name: str, subnet: ipaddress.IPv4Network | None = None) -> Iterator[Lab]:
        scratch = Lab(name=name) if subnet is None else Lab(name=name, subnet=subnet)
        try:
            scratch.create()
        except LabError as exc:
            pytest.skip(f"cannot create a network namespace: {exc}")
        try:
            yield scratch
        finally:
            scratch.destroy()

    return make
