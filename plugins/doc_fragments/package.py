# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side requirement of every plugin: the Python package sessionnet-vip."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
requirements:
  - The Python package C(sessionnet-vip) of the same version as the collection, in the Python that
    runs Ansible on the controller. It ships inside the collection; install it with
    C(python3 -m pip install ~/.ansible/collections/ansible_collections/sessionnet/virtual_ip)
    (the path where the collection was installed).
"""
