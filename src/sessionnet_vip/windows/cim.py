"""``registry_state`` ``cim_properties``: set a WMI/CIM property through its setter method.

Some settings are written through a WMI provider rather than a documented registry value, for
example RD IP Virtualization's loopback virtualization: ``Win32_TSVirtualIP`` (namespace
``root\\CIMv2\\TerminalServices``) property ``VirtualizeLoopbackAddressesEnabled``, set with
``SetVirtualizeLoopbackAddressesEnabled(uint32)`` (Microsoft Learn, "Win32_TSVirtualIP class" and
"SetVirtualizeLoopbackAddressesEnabled method of the Win32_TSVirtualIP class"). The generic hand
reads the property of the class's instance and, when it differs, calls the method with one
argument named like the property; it returns what it found before. This module validates the
request and shapes the answer (result entries and diff); the feature decides what to set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows.registry import check_answer_count

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_]+(\\[A-Za-z0-9_]+)*$")
MAX_UINT32 = 2**32 - 1


class CimInputError(VipError):
    """A ``cim_properties`` item is invalid."""


@dataclass(frozen=True)
class CimProperty:
    namespace: str
    class_name: str
    property_name: str
    value: int
    method: str
    reboot_required: bool = False

    @property
    def label(self) -> str:
        return f"WMI {self.namespace}:{self.class_name}"


def parse_cim_properties(items: Sequence[Mapping[str, Any]] | None) -> list[CimProperty]:
    out: list[CimProperty] = []
    for index, item in enumerate(items or []):
        where = f"cim_properties[{index}]"
        namespace = item.get("namespace")
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise CimInputError(f"{where}: namespace {namespace!r} is not a CIM namespace like root\\cimv2")
        for key in ("class_name", "property", "method"):
            value = item.get(key)
            if not isinstance(value, str) or not _NAME.match(value):
                raise CimInputError(f"{where}: {key} {value!r} is not a CIM name (letters, digits, _)")
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT32:
            raise CimInputError(f"{where}: value {value!r} must be an integer from 0 to {MAX_UINT32}")
        out.append(
            CimProperty(
                namespace,
                str(item["class_name"]),
                str(item["property"]),
                value,
                str(item["method"]),
                bool(item.get("reboot_required")),
            )
        )
    return out


def cim_to_wire(prop: CimProperty) -> dict[str, Any]:
    return {
        "namespace": prop.namespace,
        "class_name": prop.class_name,
        "property": prop.property_name,
        "value": prop.value,
        "method": prop.method,
    }


def shape_cim(
    props: Sequence[CimProperty], raw: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], bool, bool, dict[str, Any], dict[str, Any]]:
    """``(results, changed, reboot_required, diff_before, diff_after)`` of the CIM properties."""
    check_answer_count(len(raw), len(props), "CIM properties")
    results: list[dict[str, Any]] = []
    changed = reboot = False
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for want, got in zip(props, raw, strict=True):
        exists = bool(got.get("exists"))
        have = got.get("before")
        if not exists:
            raise VipError(
                f"{want.label} has no instance with {want.property_name} on this host ({got.get('error') or 'not found'}); "
                "nothing was set"
            )
        differs = have is None or int(have) != want.value
        results.append(
            {
                "namespace": want.namespace,
                "class_name": want.class_name,
                "property": want.property_name,
                "before": None if have is None else int(have),
                "after": want.value,
                "changed": differs,
            }
        )
        if differs:
            changed = True
            reboot = reboot or want.reboot_required
            before.setdefault(want.label, {})[want.property_name] = {"type": "uint32", "value": have}
            after.setdefault(want.label, {})[want.property_name] = {"type": "uint32", "value": want.value}
    return results, changed, reboot, before, after
