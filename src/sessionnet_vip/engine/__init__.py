"""The address-translation engine: pool, lease store, allocator, policy and translation table
(part 1, platform-neutral, the ``vipctl serve`` control plane), and the kernel data planes
(part 2, ``engine.linux``) that implement :func:`sessionnet_vip.engine.translation.translate`."""

from __future__ import annotations

# typing is not imported at run time (vipctl start-up); mypy reads the block below
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE, Allocation, Allocator
    from sessionnet_vip.engine.policy import Mode, Policy, ProcessRef
    from sessionnet_vip.engine.pool import Pool
    from sessionnet_vip.engine.store import LeaseStore
    from sessionnet_vip.engine.translation import Call, Endpoint, SessionAddresses, Translation, translate

#: Where each public name lives. Imported on first use (PEP 562), so that importing a
#: submodule such as ``sessionnet_vip.engine.cli`` does not load SQLite and the allocator.
_LAZY: dict[str, str] = {
    "EXHAUSTED_MESSAGE": "allocator",
    "Allocation": "allocator",
    "Allocator": "allocator",
    "Mode": "policy",
    "Policy": "policy",
    "ProcessRef": "policy",
    "Pool": "pool",
    "LeaseStore": "store",
    "Call": "translation",
    "Endpoint": "translation",
    "SessionAddresses": "translation",
    "Translation": "translation",
    "translate": "translation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module  # here: importlib loads warnings, which vipctl run need not

    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "EXHAUSTED_MESSAGE",
    "Allocation",
    "Allocator",
    "Call",
    "Endpoint",
    "LeaseStore",
    "Mode",
    "Policy",
    "Pool",
    "ProcessRef",
    "SessionAddresses",
    "Translation",
    "translate",
]
