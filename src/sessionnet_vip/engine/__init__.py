"""The address-translation engine: pool, lease store, allocator, policy and translation table
(part 1, platform-neutral, the ``vipctl serve`` control plane), and the kernel data planes
(part 2, ``engine.linux``) that implement :func:`sessionnet_vip.engine.translation.translate`."""

from sessionnet_vip.engine.allocator import EXHAUSTED_MESSAGE, Allocation, Allocator
from sessionnet_vip.engine.policy import Mode, Policy, ProcessRef
from sessionnet_vip.engine.pool import Pool
from sessionnet_vip.engine.store import LeaseStore
from sessionnet_vip.engine.translation import Call, Endpoint, SessionAddresses, Translation, translate

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
