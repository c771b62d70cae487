"""Reading the YAML files users give (``vipctl plan FILE``, the engine config): safe and bounded.

* The text must be UTF-8: anything else is a :class:`~sessionnet_vip.errors.VipError` naming
  the file and the byte offset, not a ``UnicodeDecodeError``.
* PyYAML's C loader (``CSafeLoader``, libyaml) is used when PyYAML was built with it; it is
  several times faster than the pure-Python loader on large farm files. Both construct only
  plain data (the *safe* constructors). Two faster paths read the common cases first and hand
  everything else to it (see :func:`fast_load`): plain block YAML line by line, and plain data
  from the parser's events.
* Aliases are shared nodes, so a "billion laughs" document is small to parse but explodes for
  anything that walks it as a tree. After composition, the size of the document *as a tree*
  (every alias counted as the whole subtree it stands for) is computed with memoisation and
  refused beyond :data:`MAX_EXPANDED_NODES`.
* An integer scalar longer than :data:`~sessionnet_vip.coerce.MAX_INT_DIGITS` digits is refused
  while loading (Python would refuse to convert one past 4,300 digits with a traceback).
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import yaml

from sessionnet_vip.coerce import MAX_INT_DIGITS
from sessionnet_vip.errors import VipError

#: Largest document accepted, counted as a tree (aliases expanded). A 10,000-server farm file
#: is about 100,000 nodes.
MAX_EXPANDED_NODES: Final = 5_000_000

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: True when libyaml's C parser is in use.
USING_LIBYAML: Final = _Base is not yaml.SafeLoader


def expanded_size(root: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """Number of nodes of ``root`` as a tree (aliases expanded), stopping past ``limit``.

    Iterative (a deeply nested document cannot exhaust the stack) and memoised per node (a
    shared node is sized once), so the cost is that of the composed graph.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if not children_done and key in visiting:
            # reached again below itself: a recursive alias, an infinite tree
            raise yaml.YAMLError("the document refers to itself through an alias (&anchor inside *alias)")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        if not children_done:
            visiting.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        total = 1
        for child in children:
            total += sizes[id(child)]
            if total > limit:
                break
        sizes[key] = min(total, limit + 1)
        if total > limit:
            return limit + 1
    return sizes.get(id(root), 1)


#: Deepest nesting of collections accepted. libyaml's composer (used by ``CSafeLoader``)
#: recurses in C and crashes the interpreter past a few ten thousand levels.
MAX_DEPTH: Final = 100

_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"
_SEQ: Final = "tag:yaml.org,2002:seq"
_MAP: Final = "tag:yaml.org,2002:map"
_MERGE: Final = "tag:yaml.org,2002:merge"
_BOOL_VALUES: Final[dict[str, bool]] = dict(yaml.constructor.SafeConstructor.bool_values)


def check_depth(text: str, loader: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse ``text`` when its collections nest deeper than ``limit``, before it is composed.

    A cheap bound first: each flow level needs a ``[`` or ``{``, and each two block levels need
    at least one more column of indentation or two more characters on a line, so the depth is at
    most the number of brackets plus twice the longest line. Only when that bound is above
    ``limit`` are the parser's events counted (libyaml's parser is iterative; its composer is not).
    """
    brackets = text.count("[") + text.count("{")
    longest = max(map(len, text.splitlines()), default=0)
    if brackets + 2 * (longest + 2) <= limit:
        return
    depth = 0
    parser = loader(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limit:
                    raise yaml.YAMLError(
                        f"collections are nested more than {limit} levels deep; flatten the document"
                    )
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    finally:
        parser.dispose()


class BoundedSafeLoader(_Base):  # type: ignore[misc]
    """``CSafeLoader`` (else ``SafeLoader``) refusing alias bombs and oversized integers, with a
    leaner resolver and constructor for the plain data of our files (same results as
    ``yaml.safe_load``; anything beyond plain mappings, sequences, strings, integers, booleans and
    nulls goes through PyYAML's safe constructors)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        #: without an alias every node is in the text once, so nothing can expand
        self._has_aliases = "*" in stream
        #: tags of plain scalars already resolved in this document (keys repeat a lot)
        self._tag_cache: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                cache = self._tag_cache
                tag = cache.get(value)
                if tag is None:
                    tag = _STR
                    for candidate, regexp in _RESOLVERS.get(value[:1], _WILDCARD):
                        if regexp.match(value):
                            tag = str(candidate)
                            break
                    if len(value) <= 64 and len(cache) < 100_000:
                        cache[value] = tag
                return tag
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None and self._has_aliases and expanded_size(node) > MAX_EXPANDED_NODES:
            raise yaml.YAMLError(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} nodes through its aliases "
                "(&anchor / *alias); write the repeated parts out or use fewer aliases"
            )
        return node

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        memo: dict[int, Any] = {}
        return self._build(node, memo)

    def _build(self, node: Any, memo: dict[int, Any]) -> Any:
        key = id(node)
        if key in memo:
            return memo[key]
        kind, tag = type(node), node.tag
        value: Any
        if kind is yaml.ScalarNode and tag == _STR:
            value = node.value
        elif kind is yaml.ScalarNode and tag == _INT:
            value = self.construct_yaml_int(node)
        elif kind is yaml.ScalarNode and tag == _NULL:
            value = None
        elif kind is yaml.ScalarNode and tag == _BOOL:
            value = self.construct_yaml_bool(node)
        elif kind is yaml.SequenceNode and tag == _SEQ:
            value = [self._build(child, memo) for child in node.value]
        elif kind is yaml.MappingNode and tag == _MAP and all(k.tag != _MERGE for k, _value in node.value):
            value = {}
            for key_node, value_node in node.value:
                item = self._build(key_node, memo)
                try:
                    value[item] = self._build(value_node, memo)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found unhashable key",
                        key_node.start_mark,
                    ) from None
        else:  # floats, timestamps, binary, sets, merge keys, unknown tags (refused)
            value = self.construct_object(node, deep=True)
        memo[key] = value
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS})",
                node.start_mark,
            )
        return super().construct_yaml_int(node)

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> Any:
        value = self.construct_scalar(node)
        found = _BOOL_VALUES.get(str(value).lower())
        if found is None:  # an explicit !!bool on something else: PyYAML raises KeyError
            raise yaml.constructor.ConstructorError(
                None, None, "the value tagged !!bool is not a boolean; write true or false", node.start_mark
            )
        return found


BoundedSafeLoader.add_constructor(_INT, BoundedSafeLoader.construct_yaml_int)
BoundedSafeLoader.add_constructor(_BOOL, BoundedSafeLoader.construct_yaml_bool)

_WILDCARD: Final[list[Any]] = list(BoundedSafeLoader.yaml_implicit_resolvers.get(None, []))
_RESOLVERS: Final[dict[str, list[Any]]] = {
    first: list(resolvers) + _WILDCARD
    for first, resolvers in BoundedSafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large acyclic structure.

    Loading a farm file allocates hundreds of thousands of containers; every few hundred the
    collector walks the young ones again, which is about half of the loading time. Nothing
    built here holds a reference cycle, and reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _shorten(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def decode_utf8(raw: bytes, what: str) -> str:
    """``raw`` as text, or a :class:`VipError` naming ``what`` and where the bad byte is."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VipError(
            f"{what} is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); save it as UTF-8"
        ) from None


class _Fallback(Exception):
    """The fast path met something it leaves to :class:`BoundedSafeLoader` (see :func:`fast_load`)."""


_NO_KEY: Final = object()


def plainly_text(value: str) -> bool:
    """A shortcut of the implicit resolvers: a plain scalar with two dots or more and no ``-`` at
    index 4 is a string (dotted quads, ranges, host names). Floats have one dot at most, integers
    none, timestamps begin ``YYYY-``, and booleans, nulls, merge and value keys have none."""
    return value.count(".") > 1 and value[4:5] != "-"


def fast_load(text: str) -> Any:
    """The document in ``text`` read by the fast paths, or :class:`_Fallback`.

    Two fast paths, in turn: :func:`block_load` reads plain block YAML (the usual farm file and
    engine config) line by line; :func:`event_load` builds the data straight from the C parser's
    events. Building nodes (a Python object and a resolver call per scalar) is most of the cost
    of ``CSafeLoader`` on a large file; the event path skips them, with the same implicit
    resolution and constructors as :class:`BoundedSafeLoader`, the same depth and
    alias-expansion bounds, and the same sharing of aliased objects. Both raise
    :class:`_Fallback` on anything outside plain mappings, sequences, strings, integers,
    booleans and nulls (other tags, merge keys, duplicate or recursive anchors, more than one
    document, any error): :func:`loads` then runs the reference loader, which gives the same
    result or the same error message. Only with libyaml (``CSafeLoader``).
    """
    if not USING_LIBYAML:
        raise _Fallback
    try:
        try:
            return block_load(text)
        except _Fallback:
            pass
        return event_load(text)
    except _Fallback:
        raise
    except Exception:  # every error is reported by the reference loader
        raise _Fallback from None


def _scalar(event: Any, loader: Any, ints: dict[str, int]) -> Any:
    """The value of a plain-typed scalar event (str, int, null, bool), as the reference loader
    builds it; anything else (floats, timestamps, merge keys, other tags) -> :class:`_Fallback`.
    ``ints`` caches integer texts already converted in this document."""
    tag = event.tag
    value = event.value
    if tag is None or tag == "!":
        if not event.implicit[0]:
            tag = _STR
        elif value.count(".") > 1 and value[4:5] != "-":
            tag = _STR  # see plainly_text
        else:
            tag = loader._tag_cache.get(value) or loader.resolve(yaml.ScalarNode, value, event.implicit)
    if tag == _STR:
        return value
    if tag == _INT:
        got = ints.get(value)
        if got is None:
            node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
            got = ints[value] = loader.construct_yaml_int(node)
        return got
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOL_VALUES[value.lower()]  # KeyError (not a boolean): fallback
    raise _Fallback


def event_load(text: str) -> Any:
    """The document built from libyaml's parser events (see :func:`fast_load`), or
    :class:`_Fallback`; any other exception is a fallback too (see :func:`fast_load`)."""
    loader = BoundedSafeLoader(text)
    try:
        get = loader.get_event
        scalar_ev, alias_ev = yaml.ScalarEvent, yaml.AliasEvent
        seq_ev, map_ev = yaml.SequenceStartEvent, yaml.MappingStartEvent
        end_evs = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
        if not isinstance(get(), yaml.StreamStartEvent):
            raise _Fallback
        event = get()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        if not isinstance(event, yaml.DocumentStartEvent):
            raise _Fallback
        ints: dict[str, int] = {}
        anchors: dict[str, tuple[Any, int]] = {}
        open_anchors: set[str] = set()
        has_alias = False
        # frames: [container, is_mapping, pending key, expanded size, anchor]
        stack: list[list[Any]] = []
        root: Any = _NO_KEY
        while True:
            event = get()
            kind = type(event)
            size = 1
            if kind is scalar_ev:
                item: Any = _scalar(event, loader, ints)
                if event.anchor is not None:
                    if event.anchor in anchors or event.anchor in open_anchors:
                        raise _Fallback
                    anchors[event.anchor] = (item, 1)
            elif kind is alias_ev:
                found = anchors.get(event.anchor)
                if found is None:  # undefined or recursive
                    raise _Fallback
                item, size = found
                has_alias = True
            elif kind is map_ev or kind is seq_ev:
                tag = event.tag
                if tag is not None and tag != "!" and tag != (_MAP if kind is map_ev else _SEQ):
                    raise _Fallback
                anchor = event.anchor
                if anchor is not None:
                    if anchor in anchors or anchor in open_anchors:
                        raise _Fallback
                    open_anchors.add(anchor)
                if len(stack) >= MAX_DEPTH:
                    raise _Fallback
                stack.append([{} if kind is map_ev else [], kind is map_ev, _NO_KEY, 1, anchor])
                continue
            elif kind in end_evs:
                frame = stack.pop()
                item, size = frame[0], frame[3]
                if frame[1] and frame[2] is not _NO_KEY:
                    raise _Fallback
                if frame[4] is not None:
                    open_anchors.discard(frame[4])
                    anchors[frame[4]] = (item, size)
                if has_alias and size > MAX_EXPANDED_NODES:
                    raise _Fallback
            elif kind is yaml.DocumentEndEvent:
                if stack or not isinstance(get(), yaml.StreamEndEvent):
                    raise _Fallback
                return None if root is _NO_KEY else root
            else:
                raise _Fallback
            if not stack:
                if root is not _NO_KEY:
                    raise _Fallback
                root = item
                continue
            frame = stack[-1]
            frame[3] += size
            if not frame[1]:
                frame[0].append(item)
            elif frame[2] is _NO_KEY:
                frame[2] = item
            else:
                frame[0][frame[2]] = item  # TypeError for an unhashable key: fallback
                frame[2] = _NO_KEY
    finally:
        loader.dispose()


# --- the plain block reader ------------------------------------------------------------------
#
# Farm files and engine configs are written in block style: "key: value" lines, "- item" lines,
# plain scalars, comments. For such a text, :func:`block_load` builds the data from the lines
# directly, without the parser's events (each event is a Python object with two marks: most of
# what ``CSafeLoader`` costs). Anything it does not recognise with certainty raises
# :class:`_Fallback` and the event path, then the reference loader, take over; tests compare it
# with the reference on generated and mutated documents.

#: Characters anywhere in the text that send it to the other paths: tabs, carriage returns,
#: YAML 1.1 line breaks (NEL, LS, PS), a byte-order mark and everything libyaml refuses as
#: unprintable.
_NOT_BLOCK_TEXT: Final = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
#: First characters a plain scalar cannot (or, here, need not) start with: indicators, quotes,
#: flow collections, anchors, aliases, tags, block scalars, directives, reserved characters.
_NOT_PLAIN_START: Final = frozenset("[]{}#&*!|>'\"%@`,?")
#: libyaml looks for the ":" of a simple key within 1,024 characters.
_MAX_KEY: Final = 1000


_UNSET: Final = object()
#: First characters that keep a scalar off the dotted-text shortcut of :func:`block_load`.
_NOT_DOTTED_START: Final = _NOT_PLAIN_START | frozenset("-:.")


def _dotted_text(text: str) -> bool:
    """With two dots or more and no ``-`` at index 4 (:func:`plainly_text`): a plain string,
    unless it starts with an indicator or holds a mapping value (errors for the event path)."""
    return text[0] not in _NOT_DOTTED_START and ": " not in text and text[-1] != ":"


def _plain(text: str, loader: Any) -> Any:
    """The value of the plain scalar ``text`` (already stripped), as the reference builds it."""
    first = text[:1]
    if (
        not text
        or first in _NOT_PLAIN_START
        or ((first == "-" or first == ":") and text[1:2] in ("", " ", "-"))
        or text[:3] == "..."
    ):
        raise _Fallback  # indicators, or "-"/":" alone: not a plain scalar of ours
    if ": " in text or text[-1] == ":":
        raise _Fallback  # a mapping value inside a value: an error in the text
    if text.count(".") > 1 and text[4:5] != "-":  # see plainly_text
        return text
    tag = loader.resolve(yaml.ScalarNode, text, (True, False))
    if tag == _STR:
        return text
    if tag == _INT:
        try:
            return loader.construct_yaml_int(yaml.ScalarNode(tag, text))
        except yaml.YAMLError:  # too long: the reference loader says so
            raise _Fallback from None
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOL_VALUES[text.lower()]
    raise _Fallback  # floats, timestamps, merge and value keys: the event path


def block_load(text: str) -> Any:
    """The document in ``text`` when it is plain block YAML (see above), else :class:`_Fallback`.

    One pass over the lines with a stack of the open collections (their column, the container,
    whether it is a mapping). A line whose column no open collection has, a scalar continued on
    the next line, a "- " entry among keys and anything else the YAML grammar would read
    differently raise :class:`_Fallback`.
    """
    if text[:1] == "\ufeff":  # a byte-order mark opening the stream (Notepad writes one) is no content
        text = text[1:]
    if "\r" in text:  # a file saved on Windows: CRLF is one line break to YAML, as LF is
        text = text.replace("\r\n", "\n")  # (a lone CR left over is refused just below)
    if _NOT_BLOCK_TEXT.search(text):
        raise _Fallback
    loader = _block_loader()
    values: dict[str, Any] = {}  # scalar text -> value (immutable values only)
    # open collections, innermost last: [column, container, is a mapping]
    stack: list[list[Any]] = []
    # an entry without a value ("key:" or "-"): its container, key or index, column, owner kind
    pending: Any = None
    started = False
    for line in text.split("\n"):
        if " #" in line or line[:1] == "#":
            if line.lstrip(" ")[:1] == "#":
                continue
            line = line[: line.index(" #")]
        if line[-1:] == " ":
            line = line.rstrip(" ")
        if not line:
            continue
        first = line[:1]
        if (first == "-" or first == "." or first == "%") and (
            line[:3] == "---" or line[:3] == "..." or first == "%"
        ):
            if line == "---" and not started:
                started = True
                continue
            raise _Fallback  # more than one document, an end marker, a directive
        started = True
        body = line.lstrip(" ") if first == " " else line
        indent = len(line) - len(body)
        if body[:2] == "- " or body == "-":
            is_map = False
            rest = body[2:]
            if rest[:1] == " ":
                rest = rest.lstrip(" ")
        else:
            is_map = True
            if body[-1] == ":":
                key_text, rest = body[:-1], ""
            else:
                key_text, sep, rest = body.partition(": ")
                if not sep:
                    raise _Fallback  # a bare scalar line: a multi-line scalar, or the root scalar
                if rest[:1] == " ":
                    rest = rest.lstrip(" ")
        # where this entry goes
        if pending is not None:
            owner, slot, column, owner_is_map = pending
            pending = None
            if indent > column or (indent == column and owner_is_map and not is_map):
                if len(stack) >= MAX_DEPTH:
                    raise _Fallback
                container: Any = {} if is_map else []
                owner[slot] = container
                stack.append([indent, container, is_map])
        top = stack[-1] if stack else None
        if top is not None and top[0] == indent and top[2] is is_map:
            container = top[1]  # the usual line: one more entry of the innermost collection
        elif top is None:
            container = {} if is_map else []
            stack.append([indent, container, is_map])
            root = container
        else:
            while stack[-1][0] > indent:
                stack.pop()
                if not stack:
                    raise _Fallback  # less indented than the root
            top = stack[-1]
            if top[0] != indent:
                raise _Fallback  # a column no open collection has
            if top[2] != is_map:
                # the only valid case: a "key:" sequence at the key's column ends at the next key
                if is_map and len(stack) > 1 and stack[-2][0] == indent and stack[-2][2]:
                    stack.pop()
                else:
                    raise _Fallback
            container = stack[-1][1]
        if not is_map:
            while rest[:2] == "- " or rest == "-":
                # "- - x": a sequence whose entries are at the column of the inner "-"
                if len(stack) >= MAX_DEPTH:
                    raise _Fallback
                nested: list[Any] = []
                container.append(nested)
                indent = len(line) - len(rest)
                stack.append([indent, nested, False])
                container = nested
                rest = rest[2:]
                if rest[:1] == " ":
                    rest = rest.lstrip(" ")
            if not rest:
                pending = (container, len(container), indent, False)
                container.append(None)
                continue
            if ": " in rest or rest[-1] == ":":
                # "- key: value": a mapping whose keys are at the column of "key"
                if len(stack) >= MAX_DEPTH:
                    raise _Fallback
                inner: dict[Any, Any] = {}
                container.append(inner)
                indent = len(line) - len(rest)
                stack.append([indent, inner, True])
                container = inner
                if rest[-1] == ":":
                    key_text, rest = rest[:-1], ""
                else:
                    key_text, _sep, rest = rest.partition(": ")
                    if rest[:1] == " ":
                        rest = rest.lstrip(" ")
            else:
                if (
                    rest.count(".") > 1
                    and rest[4:5] != "-"
                    and rest[0] not in _NOT_DOTTED_START
                    and ": " not in rest
                    and rest[-1] != ":"
                ):
                    container.append(rest)  # see plainly_text and _dotted_text
                    continue
                value = values.get(rest, _UNSET)
                if value is _UNSET:
                    value = values[rest] = _plain(rest, loader)
                container.append(value)
                continue
        # a mapping entry: key_text, rest
        if key_text[-1:] == " ":
            key_text = key_text.rstrip(" ")
        if len(key_text) > _MAX_KEY:
            raise _Fallback
        key = values.get(key_text, _UNSET)
        if key is _UNSET:
            key = values[key_text] = _plain(key_text, loader)
        if not rest:
            pending = (container, key, indent, True)
            container[key] = None
            continue
        if rest.count(".") > 1 and rest[4:5] != "-" and _dotted_text(rest):
            container[key] = rest  # see plainly_text
            continue
        value = values.get(rest, _UNSET)
        if value is _UNSET:
            value = values[rest] = _plain(rest, loader)
        container[key] = value
    return root if stack else None


_BLOCK_LOADERS: list[Any] = []


def _block_loader() -> Any:
    """One :class:`BoundedSafeLoader` for its resolver (with its cache) and integer constructor."""
    if not _BLOCK_LOADERS:
        _BLOCK_LOADERS.append(BoundedSafeLoader(""))
    return _BLOCK_LOADERS[0]


def loads(text: str, what: str) -> Any:
    """Parse ``text`` (one YAML document): :func:`fast_load`, else :class:`BoundedSafeLoader`."""
    try:
        with no_gc():
            return fast_load(text)
    except _Fallback:
        pass
    return reference_loads(text, what)


def reference_loads(text: str, what: str) -> Any:
    """Parse ``text`` (one YAML document) with :class:`BoundedSafeLoader` (the reference)."""
    try:
        check_depth(text, _Base)
    except yaml.YAMLError as exc:
        raise VipError(f"{what} is not valid YAML: {_shorten(str(exc))}") from None
    loader = BoundedSafeLoader(text)
    try:
        with no_gc():
            return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise VipError(f"{what} is not valid YAML: {_shorten(str(exc))}") from None
    except RecursionError:
        raise VipError(f"{what} is nested too deeply to read; flatten it") from None
    finally:
        loader.dispose()


def load_file(path: str | Path, what: str | None = None) -> Any:
    """Read, decode and parse the YAML file at ``path``; every failure is a :class:`VipError`."""
    p = Path(path)
    name = what or str(p)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise VipError(f"cannot read {name}: it is a directory; give a YAML file") from None
    except OSError as exc:
        raise VipError(f"cannot read {name}: {exc.strerror or exc}") from None
    return loads(decode_utf8(raw, name), name)
