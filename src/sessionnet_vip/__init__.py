"""Domain logic and engine of the ``sessionnet.virtual_ip`` Ansible collection.

This package holds no Ansible imports: the collection's controller plugins call it,
and the ``vip_agent`` role installs it on session hosts.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
