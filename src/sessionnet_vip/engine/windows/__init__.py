"""The engine's Windows modules, chosen by :mod:`sessionnet_vip.engine.platform` on Windows
and never imported elsewhere: ``transport`` (the named-pipe control channel implementing
:class:`sessionnet_vip.engine.transport.Transport`) and the WTS session provider."""
