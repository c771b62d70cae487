"""The event-built fast path of :mod:`sessionnet_vip.yamlfile` gives what the reference loader
(``BoundedSafeLoader``, nodes + constructors) gives: the same data, or the same error."""

from __future__ import annotations

import string
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionnet_vip import yamlfile
from sessionnet_vip.errors import VipError

pytestmark = pytest.mark.skipif(not yamlfile.USING_LIBYAML, reason="PyYAML was built without libyaml")


def outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", load(text, "doc")
    except VipError as exc:
        return "error", str(exc)


def same(text: str) -> tuple[str, Any]:
    fast = outcome(yamlfile.loads, text)
    reference = outcome(yamlfile.reference_loads, text)
    assert fast == reference
    assert type(fast[1]) is type(reference[1])
    return fast


SCALAR_TEXT = st.sampled_from(
    [
        "10.0.0.1", "10.0.0.1-10.0.0.9", "2024-01-02", "2024-1-2 10:00:00", "1.5", "1_000", "0x1f",
        "0o17", "017", "1:20", "+5", "-7", ".inf", ".nan", "yes", "No", "on", "OFF", "null", "~", "",
        "<<", "=", "a.b.c", "1.2.3", "12.3.4-5", "1234-5.6.7", "x" * 70, "true", "False", "0b101",
    ]
) | st.text(alphabet=string.printable, max_size=12)

PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | SCALAR_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(SCALAR_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(PLAIN, st.sampled_from([None, True, False]))
def test_dumped_data_loads_the_same(data: Any, flow: bool | None) -> None:
    text = yaml.safe_dump({"root": data}, default_flow_style=flow)
    kind, value = same(text)
    assert kind == "ok" and value == {"root": data}


@settings(max_examples=300, deadline=None)
@given(SCALAR_TEXT)
def test_plain_scalars_resolve_the_same(text: str) -> None:
    """Every plain scalar (quoted or not) gets the reference's type and value."""
    for form in (text, repr(text), f"[{text}]", f"k: {text}"):
        same(form)


@given(st.text(alphabet="0123456789.-:_+eE", max_size=16))
def test_the_dotted_shortcut_agrees_with_the_resolvers(text: str) -> None:
    if yamlfile.plainly_text(text):
        loader = yamlfile.BoundedSafeLoader("")
        try:
            assert loader.resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"
        finally:
            loader.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "---\n...\n",
        "a: 1\n---\nb: 2\n",  # two documents: refused
        "a: &x [1, 2]\nb: *x\nc: *x\n",
        "a: &x 5\nb: *x\n",
        "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  z: 3\n",  # merge key
        "a: *nowhere\n",  # undefined alias
        "a: &x [1, *x]\n",  # recursive alias
        "a: &x 1\nb: &x 2\nc: *x\n",  # anchor defined twice
        "? [1, 2]\n: v\n",  # unhashable key
        "a: !!float 3\nb: 1.5\nc: 2001-12-14\n",
        "a: !!str 12\nb: !!int '12'\nc: !!null x\nd: !!bool yes\n",
        "a: !!bool maybe\n",
        "a: !!python/object:os.system x\n",
        "a: !custom x\n",
        "a: !!set {x, y}\nb: !!omap [x: 1]\n",
        "a: ! 12\nb: ! '12'\n",
        "a: " + "9" * 5000 + "\n",
        "a: [" * 150 + "]" * 150 + "\n",
        "a: {b: [1, {c: d}]\n",  # syntax error
        "key: value\n  bad indent: x\n",
        'a: 1\na: 2\n',
    ],
)
def test_hand_picked_documents_give_the_same_result_or_error(text: str) -> None:
    same(text)


def test_alias_bomb_is_refused_the_same() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    kind, message = same("\n".join(lines) + "\n")
    assert kind == "error" and "expands to more than" in message


def test_aliased_objects_are_shared_like_the_reference() -> None:
    data = yamlfile.loads("a: &x [1]\nb: *x\n", "doc")
    assert data["a"] is data["b"]


def test_a_farm_file_takes_the_fast_path() -> None:
    text = yaml.safe_dump(
        {
            "subnets": [{"cidr": "10.0.0.0/22", "gateway": "10.0.0.1", "reserved": ["10.0.0.2-10.0.0.9"]}],
            "servers": [{"name": f"s{i}", "subnet": "10.0.0.0/22", "max_sessions": 20 + i, "headroom": 10} for i in range(50)],
            "carve_from_scopes": True,
        }
    )
    fast = yamlfile.fast_load(text)  # no fallback
    assert fast == yamlfile.reference_loads(text, "farm")
