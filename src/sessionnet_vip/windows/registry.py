"""Registry values as the collection handles them: parsing, validation, wire format and diff.

The generic Windows hand (``registry_state.ps1``) and its simulator twin receive values in
the *wire format* made here and return what they found; everything else (validation, what
changed, the diff) is decided in this module.

Views: ``view: 64`` is the native view; ``view: 32`` is what 32-bit programs see, where
``HKLM\\SOFTWARE\\X`` is the 64-bit ``HKLM\\SOFTWARE\\Wow6432Node\\X`` (Microsoft, "Registry
redirector"). :func:`key_identity` folds both spellings into one identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sessionnet_vip.coerce import brief, int_from_text
from sessionnet_vip.errors import VipError

RegType = Literal["dword", "qword", "string", "expandstring", "multistring", "binary"]
REG_TYPES: Final[tuple[str, ...]] = ("dword", "qword", "string", "expandstring", "multistring", "binary")
VIEWS: Final[tuple[str, ...]] = ("64", "32")

#: Hive spellings accepted on input -> the short name used everywhere else.
HIVES: Final[Mapping[str, str]] = {
    "HKLM": "HKLM",
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKU": "HKU",
    "HKEY_USERS": "HKU",
    "HKCR": "HKCR",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKCC": "HKCC",
    "HKEY_CURRENT_CONFIG": "HKCC",
    "HKCU": "HKCU",
    "HKEY_CURRENT_USER": "HKCU",
}
DEFAULT_ALLOWED_HIVES: Final[tuple[str, ...]] = ("HKLM",)
#: Limits of Microsoft's "Registry element size limits"
#: (https://learn.microsoft.com/en-us/windows/win32/sysinfo/registry-element-size-limits):
#: a key name of 255 characters, a value name of 16,383, a tree 512 levels deep.
_MAX_KEY_NAME = 255
MAX_VALUE_NAME: Final = 16_383
MAX_KEY_DEPTH: Final = 512
_MAX_DWORD = 2**32 - 1
_MAX_QWORD = 2**64 - 1
_BAD_KEY_CHARS = re.compile(r"[*?\"<>|\x00-\x1f]")
_HEX_INT = re.compile(r"0x[0-9a-f]{1,16}", re.ASCII)


class RegistryInputError(VipError):
    """A registry item given to the collection is invalid."""


@dataclass(frozen=True)
class RegKey:
    """A registry key: hive short name and sub-path (no leading/trailing backslash)."""

    hive: str
    subpath: str

    @property
    def path(self) -> str:
        return f"{self.hive}:\\{self.subpath}" if self.subpath else f"{self.hive}:\\"


def parse_key(path: object, where: str = "path") -> RegKey:
    """Parse ``HKLM:\\A\\B``, ``HKLM\\A\\B`` or ``HKEY_LOCAL_MACHINE\\A\\B`` into a :class:`RegKey`."""
    if not isinstance(path, str) or not path.strip():
        raise RegistryInputError(
            f"{where}: {brief(path)} is not a registry path like 'HKLM:\\SOFTWARE\\Vendor'"
        )
    text = path.strip().replace("/", "\\")
    head, _sep, rest = text.partition("\\")
    hive = HIVES.get(head.rstrip(":").upper())
    if hive is None:
        raise RegistryInputError(
            f"{where}: {brief(path)} does not start with a registry hive; use one of "
            "HKLM:, HKU:, HKCR:, HKCC:, HKCU: (for example 'HKLM:\\SOFTWARE\\Vendor')"
        )
    rest = rest.strip("\\")
    parts = rest.split("\\") if rest else []
    if len(parts) > MAX_KEY_DEPTH:
        raise RegistryInputError(
            f"{where}: {brief(path)} is {len(parts)} keys deep; the registry allows {MAX_KEY_DEPTH} levels"
        )
    for part in parts:
        if not part or part != part.strip():
            raise RegistryInputError(
                f"{where}: {brief(path)} is malformed: empty key name or a key name with leading/trailing "
                "spaces (check for doubled backslashes)"
            )
        if part in (".", ".."):
            # the registry has no relative components: '..' would be written as a key named '..'
            raise RegistryInputError(
                f"{where}: {brief(path)} has a '{part}' component; the registry has no relative paths, "
                "write the full path of the key"
            )
        if len(part) > _MAX_KEY_NAME or _BAD_KEY_CHARS.search(part):
            raise RegistryInputError(
                f"{where}: {brief(path)} is malformed: key name {brief(part)} is too long (more than "
                f"{_MAX_KEY_NAME} characters) or holds wildcards, quotes or control characters"
            )
    return RegKey(hive, "\\".join(parts))


def key_identity(key: RegKey, view: str) -> tuple[str, str]:
    """Return a case-folded identity of ``key`` as seen in ``view``, folding WOW64 redirection.

    ``HKLM\\SOFTWARE\\X`` in the 32-bit view and ``HKLM\\SOFTWARE\\Wow6432Node\\X`` in the 64-bit
    view are the same key; both return ``("HKLM", "software\\wow6432node\\x")``.
    """
    sub = key.subpath.casefold()
    if view == "32" and key.hive == "HKLM" and (sub == "software" or sub.startswith("software\\")):
        rest = sub[len("software") :].lstrip("\\")
        if not (rest == "wow6432node" or rest.startswith("wow6432node\\")):
            sub = "software\\wow6432node" + ("\\" + rest if rest else "")
    return (key.hive, sub)


def display_path(key: RegKey, view: str) -> str:
    """Return the path as an administrator sees it in regedit (32-bit view spelled Wow6432Node)."""
    hive, _subkey = key_identity(key, view)
    if view == "32" and key.hive == "HKLM":
        sub = key.subpath
        low = sub.casefold()
        if (low == "software" or low.startswith("software\\")) and not low.startswith(
            "software\\wow6432node"
        ):
            rest = sub[len("software") :].lstrip("\\")
            return f"{hive}:\\{sub[:8]}\\Wow6432Node" + ("\\" + rest if rest else "")
    return key.path


@dataclass(frozen=True)
class RegValue:
    """A desired registry value (or its absence)."""

    key: RegKey
    name: str
    type: str
    data: Any
    state: str = "present"
    view: str = "64"
    reboot_required: bool = False

    @property
    def identity(self) -> tuple[str, str, str]:
        hive, sub = key_identity(self.key, self.view)
        return (hive, sub, self.name.casefold())


@dataclass(frozen=True)
class KeyAbsent:
    """A whole key (with its sub-keys) that must not exist."""

    key: RegKey
    view: str = "64"
    reboot_required: bool = False


def normalize_data(reg_type: str, data: Any, where: str) -> Any:
    """Return ``data`` in its canonical Python form for ``reg_type``, or raise naming ``where``."""
    if reg_type in ("dword", "qword"):
        top = _MAX_DWORD if reg_type == "dword" else _MAX_QWORD
        value: int | None = None
        if isinstance(data, bool):
            value = None
        elif isinstance(data, int):
            value = data
        elif isinstance(data, str):
            text = data.strip().lower()
            # hex, or ASCII decimal digits of bounded length
            value = int(text, 16) if _HEX_INT.fullmatch(text) else int_from_text(text)
        if value is None:
            raise RegistryInputError(f"{where}: data {brief(data)} is not an integer, as a {reg_type} needs")
        if not 0 <= value <= top:
            raise RegistryInputError(f"{where}: data {brief(data)} does not fit a {reg_type} (0 to {top:#x})")
        return value
    if reg_type in ("string", "expandstring"):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise RegistryInputError(f"{where}: data {brief(data)} is not a string, as a {reg_type} needs")
        if isinstance(data, int) and data.bit_length() > 128:  # str() of a huge int raises
            raise RegistryInputError(
                f"{where}: data {brief(data)} is too long a number; quote it as a string"
            )
        text = str(data)
        if "\0" in text:
            raise RegistryInputError(f"{where}: a {reg_type} must not contain NUL characters")
        return text
    if reg_type == "multistring":
        if isinstance(data, str):
            return [data]
        if not isinstance(data, list | tuple) or not all(isinstance(x, str) for x in data):
            raise RegistryInputError(
                f"{where}: data {brief(data)} is not a list of strings, as a multistring needs"
            )
        if any("\x00" in x for x in data):
            raise RegistryInputError(f"{where}: multistring items must not contain NUL characters")
        return list(data)
    if reg_type == "binary":
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        if isinstance(data, str):
            text = re.sub(r"[\s,:]|0x", "", data.lower())
            if len(text) % 2 == 0 and re.fullmatch(r"[0-9a-f]*", text):
                return bytes.fromhex(text)
        if isinstance(data, list | tuple) and all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in data
        ):
            return bytes(data)
        raise RegistryInputError(
            f"{where}: data {brief(data)} is not binary; give hex ('de ad be ef' or '0xde,0xad') or a list of bytes"
        )
    raise RegistryInputError(f"{where}: unknown type {brief(reg_type)}; use one of {', '.join(REG_TYPES)}")


def parse_values(
    items: Sequence[Mapping[str, Any]] | None, allowed_hives: Iterable[str] = DEFAULT_ALLOWED_HIVES
) -> list[RegValue]:
    """Validate value items (module option ``values``); return them deduplicated, in order."""
    allowed = {HIVES.get(h.rstrip(":").upper(), h) for h in allowed_hives}
    result: list[RegValue] = []
    seen: dict[tuple[str, str, str], RegValue] = {}
    for index, item in enumerate(items or []):
        where = f"values[{index}]"
        key = parse_key(item.get("path"), f"{where}.path")
        where = f"values[{index}] ({key.path}"
        name = item.get("name")
        if not isinstance(name, str):
            raise RegistryInputError(
                f"{where}): name {brief(name)} must be a string ('' is the default value)"
            )
        if "\0" in name:
            raise RegistryInputError(f"{where}): name {brief(name)} holds a NUL character; remove it")
        if len(name) > MAX_VALUE_NAME:
            raise RegistryInputError(
                f"{where}): name {brief(name)} is {len(name)} characters long; Windows allows "
                f"{MAX_VALUE_NAME:,} in a value name"
            )
        if not key.subpath:
            raise RegistryInputError(
                f"{where}): a value cannot be set on the bare hive {key.hive}; name a key under it, "
                f"e.g. '{key.hive}:\\SOFTWARE\\Vendor'"
            )
        where += f" {brief(name)})"
        if key.hive not in allowed:
            raise RegistryInputError(
                f"{where}: hive {key.hive} may not be written; only {', '.join(sorted(allowed))} is allowed "
                "(add it to allowed_hives if you mean it)"
            )
        view = str(item.get("view", "64"))
        if view not in VIEWS:
            raise RegistryInputError(f"{where}: view {brief(item.get('view'))} must be 64 or 32")
        state = item.get("state", "present")
        if state not in ("present", "absent"):
            raise RegistryInputError(f"{where}: state {brief(state)} must be present or absent")
        reg_type = item.get("type")
        data: Any = None
        if state == "present":
            if reg_type not in REG_TYPES:
                raise RegistryInputError(
                    f"{where}: unknown type {brief(reg_type)}; use one of {', '.join(REG_TYPES)}"
                )
            if item.get("data") is None:
                raise RegistryInputError(f"{where}: data is required when state is present")
            data = normalize_data(str(reg_type), item.get("data"), where)
        value = RegValue(
            key, name, str(reg_type or ""), data, str(state), view, bool(item.get("reboot_required"))
        )
        previous = seen.get(value.identity)
        if previous is not None:
            if (previous.state, previous.type, previous.data) != (value.state, value.type, value.data):
                raise RegistryInputError(
                    f"{where}: given twice with different data (same path, name and view as an earlier item)"
                )
            continue
        seen[value.identity] = value
        result.append(value)
    return result


def parse_keys_absent(
    items: Sequence[Mapping[str, Any]] | None, allowed_hives: Iterable[str] = DEFAULT_ALLOWED_HIVES
) -> list[KeyAbsent]:
    """Validate ``keys_absent`` items."""
    allowed = {HIVES.get(h.rstrip(":").upper(), h) for h in allowed_hives}
    out: list[KeyAbsent] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items or []):
        key = parse_key(item.get("path"), f"keys_absent[{index}].path")
        where = f"keys_absent[{index}] ({key.path})"
        if key.hive not in allowed:
            raise RegistryInputError(
                f"{where}: hive {key.hive} may not be written; only {', '.join(sorted(allowed))}"
            )
        if key.subpath.count("\\") < 1:
            raise RegistryInputError(f"{where}: refusing to remove a top-level key; name a deeper key")
        view = str(item.get("view", "64"))
        if view not in VIEWS:
            raise RegistryInputError(f"{where}: view {brief(item.get('view'))} must be 64 or 32")
        ident = key_identity(key, view)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(KeyAbsent(key, view, bool(item.get("reboot_required"))))
    return out


# --- wire format ---------------------------------------------------------------------------


def data_to_wire(reg_type: str, data: Any) -> Any:
    """Canonical data -> what the PowerShell hand receives (integers as decimal strings: exact)."""
    if data is None:
        return None
    if reg_type in ("dword", "qword"):
        return str(int(data))
    if reg_type == "binary":
        return bytes(data).hex()
    if reg_type == "multistring":
        return list(data)
    return str(data)


def data_from_wire(reg_type: str, data: Any) -> Any:
    """What the hand returned -> canonical data."""
    if data is None:
        return None
    if reg_type in ("dword", "qword"):
        return int(str(data))
    if reg_type == "binary":
        return bytes.fromhex(str(data)) if isinstance(data, str) else bytes(int(x) & 0xFF for x in data)
    if reg_type == "multistring":
        return [str(x) for x in data] if isinstance(data, list) else [str(data)]
    return str(data)


def value_to_wire(value: RegValue) -> dict[str, Any]:
    return {
        "path": value.key.path,
        "name": value.name,
        "type": value.type or None,
        "data": data_to_wire(value.type, value.data),
        "state": value.state,
        "view": value.view,
    }


def key_to_wire(item: KeyAbsent) -> dict[str, Any]:
    return {"path": item.key.path, "view": item.view}


def values_equal(reg_type: str, want: Any, have_type: str | None, have: Any) -> bool:
    """Whether a present value already holds ``want`` (type included; multistring in order)."""
    return have_type == reg_type and want == have


def display_data(reg_type: str, data: Any) -> Any:
    """Data as shown in a diff (the win_regedit style: DWORD/QWORD in hex, binary as bytes)."""
    if data is None:
        return None
    if reg_type == "dword":
        return f"0x{int(data):08x}"
    if reg_type == "qword":
        return f"0x{int(data):016x}"
    if reg_type == "binary":
        return [f"0x{b:02x}" for b in bytes(data)]
    return data


def check_answer_count(answered: int, sent: int, what: str) -> None:
    """Refuse a Windows-side answer whose item count differs from what was sent (``what``
    names the items: "key moves", "CIM properties")."""
    if answered != sent:
        raise VipError(
            f"the Windows side answered for {answered} {what} but {sent} were sent; "
            "collection and host module do not match"
        )


@dataclass
class ShapedResult:
    """The result of a registry_state call as the module returns it."""

    changed: bool
    values: list[dict[str, Any]]
    keys: list[dict[str, Any]]
    diff: dict[str, dict[str, Any]]
    reboot_required: bool
    warnings: list[str] = field(default_factory=list)


def shape_result(
    values: Sequence[RegValue], keys: Sequence[KeyAbsent], raw: Mapping[str, Any]
) -> ShapedResult:
    """Turn what the hand found (``raw``) into per-value before/after/changed and a diff."""
    raw_values = list(raw.get("values") or [])
    raw_keys = list(raw.get("keys") or [])
    if len(raw_values) != len(values) or len(raw_keys) != len(keys):
        raise VipError(
            f"the Windows side answered for {len(raw_values)} values and {len(raw_keys)} keys, "
            f"but {len(values)} and {len(keys)} were sent; collection and host module do not match"
        )
    before_diff: dict[str, Any] = {}
    after_diff: dict[str, Any] = {}
    out_values: list[dict[str, Any]] = []
    any_changed = False
    reboot = False
    for want, got in zip(values, raw_values, strict=True):
        have_type = got.get("type") if got.get("exists") else None
        have = data_from_wire(str(have_type), got.get("data")) if have_type else None
        before = {"type": have_type, "data": have} if have_type else None
        if want.state == "present":
            changed = not values_equal(want.type, want.data, have_type, have)
            after = {"type": want.type, "data": want.data}
        else:
            changed = have_type is not None
            after = None
        entry: dict[str, Any] = {
            "path": display_path(want.key, want.view),
            "name": want.name,
            "view": want.view,
            "before": _jsonable(before),
            "after": _jsonable(after),
            "changed": changed,
            "type_changed": bool(changed and before and after and before["type"] != after["type"]),
        }
        out_values.append(entry)
        if changed:
            any_changed = True
            reboot = reboot or want.reboot_required
            path = entry["path"]
            if before:
                before_diff.setdefault(path, {})[want.name] = {
                    "type": before["type"],
                    "value": display_data(str(before["type"]), before["data"]),
                }
            else:
                before_diff.setdefault(path, {})
            if after:
                after_diff.setdefault(path, {})[want.name] = {
                    "type": after["type"],
                    "value": display_data(str(after["type"]), after["data"]),
                }
            else:
                after_diff.setdefault(path, {})
    out_keys: list[dict[str, Any]] = []
    for want_key, got_key in zip(keys, raw_keys, strict=True):
        existed = bool(got_key.get("existed"))
        path = display_path(want_key.key, want_key.view)
        out_keys.append({"path": path, "view": want_key.view, "existed": existed, "changed": existed})
        if existed:
            any_changed = True
            reboot = reboot or want_key.reboot_required
            before_diff.setdefault(path, {})
    return ShapedResult(
        any_changed, out_values, out_keys, {"before": before_diff, "after": after_diff}, reboot
    )


def _jsonable(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    data = entry["data"]
    if isinstance(data, bytes):
        data = data.hex()
    return {"type": entry["type"], "data": data}
