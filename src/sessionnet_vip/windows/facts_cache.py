"""The per-host cache of ``vip_info``'s raw answer, and how our own writes keep it true.

The collection's gateway keeps one entry per host (as a host fact, so each worker process
of Ansible sees it) for a *scope*: the play by default, or the whole ``ansible-playbook`` run.
This module is the pure part: when an entry answers a request, and how a registry change set
the collection itself sent patches the cached registry keys. A write it cannot patch exactly
(a key above or below a cached key, or any non-registry write) invalidates the entry.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from sessionnet_vip.windows import registry as reg

SCHEMA: Final = 1
SCOPES: Final = ("play", "run", "off")


def _ident(path: str, view: str) -> tuple[str, str]:
    return reg.key_identity(reg.parse_key(path), str(view or "64"))


def key_set(keys: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """The requested registry keys as sorted ``[hive, casefolded sub-path]`` pairs (a JSON-safe set)."""
    return [list(i) for i in sorted({_ident(str(k["path"]), str(k.get("view") or "64")) for k in keys})]


def make_entry(
    scope: str, host: str, keys: Sequence[Mapping[str, Any]], raw: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "scope": scope,
        "host": host,
        "keys": key_set(keys),
        "raw": copy.deepcopy(dict(raw)),
    }


def lookup(entry: Any, scope: str, host: str, keys: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The cached raw answer when ``entry`` is of this scope and host and covers ``keys``; else ``None``."""
    if not isinstance(entry, Mapping) or entry.get("schema") != SCHEMA:
        return None
    if entry.get("scope") != scope or entry.get("host") != host or not isinstance(entry.get("raw"), Mapping):
        return None
    have = {tuple(k) for k in entry.get("keys") or []}
    if not {tuple(k) for k in key_set(keys)} <= have:
        return None
    return copy.deepcopy(dict(entry["raw"]))


def _below(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """``a`` is strictly below ``b`` (a sub-key of it, at any depth)."""
    if a[0] != b[0] or a == b:
        return False
    return b[1] == "" or a[1].startswith(b[1] + "\\")


def apply_registry_writes(
    entry: Mapping[str, Any],
    values: Sequence[Mapping[str, Any]],
    keys_absent: Sequence[Mapping[str, Any]],
    keys_moved: Sequence[Mapping[str, Any]] = (),
    cim_properties: Sequence[Mapping[str, Any]] = (),
    moves_done: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The entry after ``registry_state`` applied its change set (wire format), or ``None``.

    ``moves_done`` is the ``moves`` part of registry_state's answer (a key is moved only when its
    source existed and its target did not). ``None`` means "invalidate": the change touches a key
    related to a cached key in a way the cache cannot follow exactly (a value in a sub-key of a
    cached key, a deleted or moved sub-key of one, a move onto a cached key from an uncached one).
    """
    new = copy.deepcopy(dict(entry))
    cached = {_ident(str(k["path"]), str(k.get("view") or "64")): k for k in new["raw"].get("registry") or []}
    for item in values:
        ident = _ident(str(item["path"]), str(item.get("view") or "64"))
        if any(_below(ident, c) for c in cached):
            return None  # a new sub-key would change a cached key's sub-key list
        key = cached.get(ident)
        if key is None:
            continue
        by_name = {str(v["name"]).casefold(): v for v in key.get("values") or []}
        name = str(item["name"])
        if item.get("state", "present") == "present":
            old = by_name.get(name.casefold())
            spelled = old["name"] if old else name
            by_name[name.casefold()] = {
                "name": spelled,
                "type": item["type"],
                "data": copy.deepcopy(item["data"]),
            }
            key["exists"] = True
        else:
            by_name.pop(name.casefold(), None)
        key["values"] = list(by_name.values())
    for item in keys_absent:
        ident = _ident(str(item["path"]), str(item.get("view") or "64"))
        for c, key in cached.items():
            if c == ident or _below(c, ident):
                key.update(exists=False, values=[], subkeys=[])
            elif _below(ident, c):
                return None  # a parent of the deleted key is cached: its sub-key list changed
    if keys_moved:
        if moves_done is None or len(moves_done) != len(keys_moved):
            return None
        for item, done in zip(keys_moved, moves_done, strict=True):
            if not done.get("source_existed") or done.get("target_existed"):
                continue  # nothing moved
            view = str(item.get("view") or "64")
            src, dst = _ident(str(item["path"]), view), _ident(str(item["to"]), view)
            if any(_below(c, k) or _below(k, c) for c in cached for k in (src, dst)):
                return None
            moved = copy.deepcopy(cached[src]) if src in cached else None
            if dst in cached:
                if moved is None:
                    return None  # moved onto a cached key from one we never read
                cached[dst].update(exists=True, values=moved["values"], subkeys=moved.get("subkeys") or [])
            if src in cached:
                cached[src].update(exists=False, values=[], subkeys=[])
    for item in cim_properties:
        namespace, class_name = str(item["namespace"]).casefold(), str(item["class_name"]).casefold()
        for found in new["raw"].get("cim") or []:
            if str(found.get("namespace", "")).casefold() != namespace:
                continue
            if str(found.get("class_name", "")).casefold() != class_name:
                continue
            instances = found.get("instances") or []
            if not instances or item["property"] not in instances[0]:
                return None  # the cache does not hold that property
            instances[0][item["property"]] = int(item["value"])
    return new
