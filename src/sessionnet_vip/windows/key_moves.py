"""``registry_state`` ``keys_moved``: rename (move) a whole registry key, keeping its values.

Microsoft's fix for RD IP Virtualization on Windows Server 2019 renames the Winsock catalog entry
``AppId_Catalog\\2C69D9F1`` to ``Backup_2C69D9F1`` rather than deleting it, "so it can be
reverted" (support article "Remote Desktop IP Virtualization in Windows Server 2019", KB 4501072:
``Rename-Item ...\\2C69D9F1 Backup_2C69D9F1``). The registry has no rename for a key in the .NET
API the generic hand uses, so the hand copies the tree (values with their kinds, sub-keys) to the
new path and removes the old one; this module validates the request, builds the wire items and
shapes what the hand found into the result and the diff. Decisions (which key, which way) belong
to the feature (:mod:`sessionnet_vip.windows.rds_ip_virtualization`).

The hand reports, per item, whether the source and the target existed *before*; a move happens
only when the source exists and the target does not. Both existing is refused by the hand
before it writes anything (the caller decides beforehand from facts what to ask).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessionnet_vip.windows.registry import (
    DEFAULT_ALLOWED_HIVES,
    HIVES,
    VIEWS,
    RegistryInputError,
    RegKey,
    check_answer_count,
    display_path,
    key_identity,
    parse_key,
)


@dataclass(frozen=True)
class KeyMove:
    """Move the key ``source`` (with everything below it) to ``target``."""

    source: RegKey
    target: RegKey
    view: str = "64"
    reboot_required: bool = False


def parse_keys_moved(
    items: Sequence[Mapping[str, Any]] | None, allowed_hives: Iterable[str] = DEFAULT_ALLOWED_HIVES
) -> list[KeyMove]:
    """Validate ``keys_moved`` items (nothing is sent before all of them pass)."""
    allowed = {HIVES.get(h.rstrip(":").upper(), h) for h in allowed_hives}
    out: list[KeyMove] = []
    for index, item in enumerate(items or []):
        source = parse_key(item.get("path"), f"keys_moved[{index}].path")
        target = parse_key(item.get("to"), f"keys_moved[{index}].to")
        where = f"keys_moved[{index}] ({source.path} -> {target.path})"
        for key in (source, target):
            if key.hive not in allowed:
                raise RegistryInputError(
                    f"{where}: hive {key.hive} may not be written; only {', '.join(sorted(allowed))}"
                )
            if key.subpath.count("\\") < 1:
                raise RegistryInputError(f"{where}: refusing to move a top-level key; name deeper keys")
        if source.hive != target.hive:
            raise RegistryInputError(f"{where}: a key can only be moved within its hive")
        view = str(item.get("view", "64"))
        if view not in VIEWS:
            raise RegistryInputError(f"{where}: view {item.get('view')!r} must be 64 or 32")
        src_id, dst_id = key_identity(source, view), key_identity(target, view)
        if src_id == dst_id:
            raise RegistryInputError(f"{where}: source and target are the same key")
        if dst_id[1].startswith(src_id[1] + "\\") or src_id[1].startswith(dst_id[1] + "\\"):
            raise RegistryInputError(f"{where}: one key lies inside the other; move to a sibling path")
        out.append(KeyMove(source, target, view, bool(item.get("reboot_required"))))
    return out


def move_to_wire(move: KeyMove) -> dict[str, Any]:
    return {"path": move.source.path, "to": move.target.path, "view": move.view}


def shape_moves(
    moves: Sequence[KeyMove], raw_moves: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], bool, bool, dict[str, Any], dict[str, Any]]:
    """``(results, changed, reboot_required, diff_before, diff_after)`` of the moves."""
    check_answer_count(len(raw_moves), len(moves), "key moves")
    results: list[dict[str, Any]] = []
    changed = reboot = False
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for want, got in zip(moves, raw_moves, strict=True):
        source_existed = bool(got.get("source_existed"))
        target_existed = bool(got.get("target_existed"))
        moved = source_existed and not target_existed
        src, dst = display_path(want.source, want.view), display_path(want.target, want.view)
        results.append(
            {
                "path": src,
                "to": dst,
                "view": want.view,
                "source_existed": source_existed,
                "target_existed": target_existed,
                "changed": moved,
            }
        )
        if moved:
            changed = True
            reboot = reboot or want.reboot_required
            before.setdefault(src, {})
            after.setdefault(dst, {})
    return results, changed, reboot, before, after
