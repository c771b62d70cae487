"""Default locations of the engine (a leaf module: importing it loads nothing else, so
``vipctl --help`` can show them)."""

#: The control socket's default path (``control_socket`` in the engine config overrides it).
DEFAULT_CONTROL_SOCKET_PATH = "/run/sessionnet-vip/control.sock"
