"""Error types shared by every part of :mod:`sessionnet_vip`.

Every error a user can see names the input that caused it and, where possible, the fix.
"""


class VipError(ValueError):
    """Base class of all user-facing errors raised by :mod:`sessionnet_vip`."""


class AddressError(VipError):
    """An address, range or session ID is outside what the rule allows."""
