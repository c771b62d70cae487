"""Policy: which processes are translated, and how.

Seed 004: "All processes that require this feature must be added to the Virtual IP Process
list. Child processes do not inherit this functionality automatically. Processes can be
configured with full paths or just the executable name. For security reasons, Citrix
recommends that you use full paths."

An entry is a full path (matched against the process's executable path) or a bare
executable name (matched against its last component). Matching is exact on Linux and
case-insensitive on Windows. Full-path entries win over bare names; a process listed as
``prefer_loopback`` wins over its ``processes`` entry. Wildcards and relative paths are
refused; bare names are accepted with a warning.
"""

from __future__ import annotations

import dataclasses
import ntpath
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from sessionnet_vip.coerce import brief
from sessionnet_vip.errors import VipError

Platform = Literal["linux", "windows"]
#: Data-plane options a ``processes`` entry may set for itself (else the engine's apply).
ENTRY_OPTIONS: Final = ("report_original", "inherit_children")
_WILDCARDS = frozenset("*?[]")


class PolicyError(VipError):
    """A process list entry cannot be used."""


class Mode(StrEnum):
    """What a process gets. See ``docs/translation-table.md`` for the exact effect."""

    NONE = "none"  #: not listed: nothing is translated
    VIRTUAL_IP = "virtual_ip"  #: 0.0.0.0 / host name -> session VIP, 127.0.0.1 / localhost -> loopback
    VIRTUAL_LOOPBACK = "virtual_loopback"  #: only 127.0.0.1 / localhost -> session loopback
    PREFER_LOOPBACK = "prefer_loopback"  #: like virtual_ip, but the loopback wherever the VIP would go
    CLIENT_ADDRESS = "client_address"  #: identification only: host-name lookups -> client address


LISTABLE_MODES = (Mode.VIRTUAL_IP, Mode.VIRTUAL_LOOPBACK, Mode.PREFER_LOOPBACK, Mode.CLIENT_ADDRESS)


@dataclass(frozen=True)
class ProcessEntry:
    """One validated process-list entry."""

    pattern: str
    mode: Mode
    full_path: bool
    #: per-entry data-plane options; ``None``: the engine's setting applies
    report_original: bool | None = None
    inherit_children: bool | None = None


@dataclass(frozen=True)
class ProcessRef:
    """A process to decide on: its executable path and its ancestors' (parent first)."""

    path: str
    ancestors: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyDecision:
    mode: Mode
    matched: str | None  #: the entry that matched, if any
    via: str | None  #: the ancestor path it was inherited from, if any

    def describe(self) -> str:
        if self.matched is None:
            return "process is not listed: nothing is translated"
        text = f"listed as {brief(self.matched)} ({self.mode.value})"
        if self.via is not None:
            text += f", inherited from parent {brief(self.via)}"
        return text


def _is_absolute(text: str, platform: Platform) -> bool:
    if platform == "windows":
        drive, rest = ntpath.splitdrive(text)
        return bool(drive) and rest[:1] in ("\\", "/")
    return text.startswith("/")


def validate_entry(
    entry: object, mode: Mode, platform: Platform, where: str
) -> tuple[ProcessEntry, str | None]:
    """Validate one entry; return it with a warning text for bare names (else ``None``)."""
    if not isinstance(entry, str) or not entry.strip():
        raise PolicyError(
            f"{where}: entry {brief(entry)} is not a path; give a full path such as /opt/crm/bin/crm"
        )
    text = entry.strip()
    if any(c in _WILDCARDS for c in text):
        raise PolicyError(
            f"{where}: entry {brief(text)} has a wildcard; list each executable by its full path"
        )
    seps = ("/", "\\") if platform == "windows" else ("/",)
    has_sep = any(s in text for s in seps)
    if has_sep or (platform == "windows" and ":" in text):
        if not _is_absolute(text, platform):
            example = r"C:\Program Files\CRM\crm.exe" if platform == "windows" else "/opt/crm/bin/crm"
            raise PolicyError(
                f"{where}: entry {brief(text)} is a relative path; give a full path such as {example}"
            )
        if text.endswith(seps):
            raise PolicyError(
                f"{where}: entry {brief(text)} names a directory; give the executable's full path"
            )
        return ProcessEntry(text, mode, True), None
    if text in (".", ".."):
        raise PolicyError(f"{where}: entry {brief(text)} is not an executable name; give a full path")
    warning = (
        f"{where}: entry {brief(text)} is a bare executable name and matches any program of that name; "
        "a full path is recommended (seed 004: 'For security reasons, ... use full paths')"
    )
    return ProcessEntry(text, mode, False), warning


@dataclass(frozen=True)
class Policy:
    """The process list of an engine. Build with :meth:`build`."""

    entries: tuple[ProcessEntry, ...]
    platform: Platform = "linux"
    inherit_children: bool = False
    warnings: tuple[str, ...] = ()
    report_original: bool = False

    @classmethod
    def build(
        cls,
        processes: Iterable[object] = (),
        prefer_loopback_processes: Iterable[object] = (),
        *,
        platform: Platform = "linux",
        inherit_children: bool = False,
        report_original: bool = False,
    ) -> Policy:
        """``processes`` items are paths (mode ``virtual_ip``) or ``{path: ..., mode: ...,
        report_original: bool, inherit_children: bool}`` (the options override the engine's)."""
        entries: list[ProcessEntry] = []
        warnings: list[str] = []
        for index, item in enumerate(processes):
            where = f"processes[{index}]"
            mode = Mode.VIRTUAL_IP
            path: object = item
            options: dict[str, bool] = {}
            if isinstance(item, Mapping):
                unknown = set(item) - {"path", "mode", *ENTRY_OPTIONS}
                if unknown or "path" not in item:
                    raise PolicyError(
                        f"{where}: give a mapping with 'path' and optional 'mode', "
                        f"{', '.join(repr(o) for o in ENTRY_OPTIONS)} (found keys {sorted(map(str, item))})"
                    )
                for key in ENTRY_OPTIONS:
                    if key in item:
                        if not isinstance(item[key], bool):
                            raise PolicyError(f"{where}: '{key}' is {item[key]!r}; give true or false")
                        options[key] = item[key]
                path = item["path"]
                raw_mode = item.get("mode", Mode.VIRTUAL_IP.value)
                try:
                    mode = Mode(raw_mode)
                except ValueError:
                    raise PolicyError(
                        f"{where}: mode {brief(raw_mode)} is unknown; use one of "
                        f"{', '.join(m.value for m in LISTABLE_MODES)}"
                    ) from None
                if mode is Mode.NONE:
                    raise PolicyError(f"{where}: mode 'none' means 'not listed'; remove the entry instead")
            entry, warning = validate_entry(path, mode, platform, where)
            if options:
                entry = dataclasses.replace(
                    entry,
                    report_original=options.get("report_original"),
                    inherit_children=options.get("inherit_children"),
                )
            entries.append(entry)
            if warning:
                warnings.append(warning)
        for index, item in enumerate(prefer_loopback_processes):
            entry, warning = validate_entry(
                item, Mode.PREFER_LOOPBACK, platform, f"prefer_loopback_processes[{index}]"
            )
            entries.append(entry)
            if warning:
                warnings.append(warning)
        return cls(tuple(entries), platform, inherit_children, tuple(warnings), report_original)

    def _fold(self, text: str) -> str:
        return ntpath.normcase(text) if self.platform == "windows" else text

    def _basename(self, path: str) -> str:
        return ntpath.basename(path) if self.platform == "windows" else posixpath.basename(path)

    def _match(self, path: str) -> ProcessEntry | None:
        folded = self._fold(path)
        name = self._fold(self._basename(path))
        best: ProcessEntry | None = None
        best_rank = -1
        for entry in self.entries:
            if entry.full_path:
                hit = self._fold(entry.pattern) == folded
            else:
                hit = self._fold(entry.pattern) == name
            if not hit:
                continue
            # full path beats bare name; prefer_loopback beats the other modes
            rank = (2 if entry.full_path else 0) + (1 if entry.mode is Mode.PREFER_LOOPBACK else 0)
            if rank > best_rank:
                best, best_rank = entry, rank
        return best

    def decide(self, process: ProcessRef | str) -> PolicyDecision:
        ref = ProcessRef(process) if isinstance(process, str) else process
        entry = self._match(ref.path)
        if entry is not None:
            return PolicyDecision(entry.mode, entry.pattern, None)
        if self.inherit_children:
            for ancestor in ref.ancestors:
                entry = self._match(ancestor)
                if entry is not None:
                    return PolicyDecision(entry.mode, entry.pattern, ancestor)
        return PolicyDecision(Mode.NONE, None, None)

    def entry(self, pattern: str | None) -> ProcessEntry | None:
        """The entry whose pattern is ``pattern`` (as :class:`PolicyDecision` names it)."""
        return next((e for e in self.entries if e.pattern == pattern), None)

    def options_of(self, pattern: str | None) -> tuple[bool, bool]:
        """``(report_original, inherit_children)`` for the entry ``pattern``: its own, else the engine's."""
        entry = self.entry(pattern)
        report = entry.report_original if entry is not None else None
        inherit = entry.inherit_children if entry is not None else None
        return (
            self.report_original if report is None else report,
            self.inherit_children if inherit is None else inherit,
        )

    def to_json(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for e in self.entries:
            item: dict[str, object] = {"pattern": e.pattern, "mode": e.mode.value, "full_path": e.full_path}
            for key in ENTRY_OPTIONS:
                if getattr(e, key) is not None:
                    item[key] = getattr(e, key)
            out.append(item)
        return out
