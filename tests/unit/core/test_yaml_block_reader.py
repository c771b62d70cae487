"""The plain block reader of :mod:`sessionnet_vip.yamlfile` (``block_load``): whatever it
accepts, it reads exactly as the reference loader does (same values, same types, same key
order); whatever it is not sure of, it leaves to the other paths (``_Fallback``)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionnet_vip import yamlfile
from sessionnet_vip.errors import VipError

pytestmark = pytest.mark.skipif(not yamlfile.USING_LIBYAML, reason="PyYAML was built without libyaml")


def typed(value: Any) -> Any:
    """``value`` with every type spelled out (``True == 1`` must not pass) and key order kept."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def block(text: str) -> tuple[str, Any]:
    try:
        return "ok", typed(yamlfile.block_load(text))
    except yamlfile._Fallback:
        return "fallback", None


def reference(text: str) -> tuple[str, Any]:
    try:
        return "ok", typed(yamlfile.reference_loads(text, "doc"))
    except VipError as exc:
        return "error", str(exc)


def agrees(text: str) -> str:
    """Assert the block reader reads ``text`` as the reference does, or falls back; say which."""
    kind, value = block(text)
    if kind == "ok":
        assert reference(text) == ("ok", value), text
    assert (yamlfile.loads(text, "doc") if reference(text)[0] == "ok" else None) == (
        yamlfile.reference_loads(text, "doc") if reference(text)[0] == "ok" else None
    )
    return kind


# texts a farm file or an engine config holds, and the traps around them
SCALARS = st.sampled_from(
    [
        "10.0.0.1",
        "10.0.0.0/22",
        "10.0.0.2-10.0.0.9",
        "fe80::1",
        "::1",
        "::ffff:10.0.0.1",
        "s00001-0",
        "C:\\Program Files\\App\\app.exe",
        "a#b",
        "a b",
        "x:y",
        "http://h/p",
        "2024-01-02",
        "1.5",
        "1_000",
        "0x1f",
        "0o17",
        "017",
        "1:20",
        "+5",
        "-7",
        ".inf",
        ".nan",
        "yes",
        "No",
        "on",
        "OFF",
        "null",
        "~",
        "",
        "<<",
        "=",
        "a.b.c",
        "1.2.3",
        "12.3.4-5",
        "1234-5.6.7",
        "-1.2.3",
        ":a.b.c",
        "true",
        "False",
        "0b101",
        "é.ü.ß",
        "x" * 70,
        "- a",
        "a: b",
        "a:",
        "#x",
        "&a",
        "*a",
        "!a",
        "|",
        ">",
        "'q'",
        '"q"',
        "[1]",
        "{a: 1}",
        "%x",
        "@x",
        "`x",
        "?x",
        ",x",
        "---",
        "...",
        "a #b",
        "-",
        ":",
        "--x",
        "::",
    ]
) | st.text(alphabet=" abcXYZ019.:-_#/'\"", max_size=10)

DATA = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SCALARS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(DATA, st.sampled_from([2, 4]), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_dumped_block_documents_read_as_the_reference_reads_them(
    data: Any, indent: int, start: bool, line_break: str
) -> None:
    text = yaml.safe_dump(
        {"root": data}, default_flow_style=False, indent=indent, explicit_start=start, line_break=line_break
    )
    agrees(text)


SIMPLE_TEXT = st.text(alphabet="abcxyz019-/_", min_size=1, max_size=8).filter(
    lambda s: s[0].isalpha() and not s.startswith(("y", "n", "o", "t", "f"))
)
SIMPLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(0, 10**6)
    | SIMPLE_TEXT
    | st.sampled_from(["10.0.0.1", "10.1.0.0/22"]),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4) | st.dictionaries(SIMPLE_TEXT, inner, min_size=1, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(SIMPLE)
def test_plain_block_documents_take_the_block_reader(data: Any) -> None:
    """Documents of the kind users write are read by the block reader itself, not passed on."""
    text = yaml.safe_dump({"root": data, "n": 1}, default_flow_style=False)
    assert agrees(text) == "ok"
    assert agrees(text.replace("\n", "\r\n")) == "ok"  # the same file saved on Windows
    assert yamlfile.block_load(text) == {"root": data, "n": 1}


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        line = lines[i]
        choice = rng.randrange(12)
        if choice == 0:
            lines[i] = " " * rng.randint(1, 3) + line
        elif choice == 1:
            lines[i] = line[rng.randint(1, 2) :] if line.startswith("  ") else line
        elif choice == 2:
            lines.insert(i, " " * rng.randint(0, 6) + "# a comment: - x")
        elif choice == 3:
            lines[i] = line + rng.choice([" # note", "  #: x", "#x", " ", ": x", ":"])
        elif choice == 4:
            lines[i] = "- " + line
        elif choice == 5:
            lines[i] = line.replace(": ", ":", 1)
        elif choice == 6:
            lines.insert(i, rng.choice(["---", "...", "%YAML 1.1", "--- x", "-", "- ", "  -", "?"]))
        elif choice == 7:
            lines.insert(i, line)
        elif choice == 8:
            lines[i] = line.replace("- ", "-  ", 1)
        elif choice == 9:
            lines[i] = line + rng.choice(["\t", "\r", "\x85", "\u2028", "\ufeff", "\x00"])
        elif choice == 10 and i + 1 < len(lines):
            lines[i : i + 2] = [lines[i] + " " + lines[i + 1].strip()]
        else:
            lines.insert(
                i, " " * rng.randint(0, 8) + rng.choice(["cont", "k: v", "- v", "k:", "- k: v", "- - v"])
            )
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(SIMPLE, st.integers(0, 2**32))
def test_mutated_documents_are_read_as_the_reference_reads_them_or_passed_on(data: Any, seed: int) -> None:
    text = yaml.safe_dump({"root": data, "other": [1, {"a": "b", "c": [2]}]}, default_flow_style=False)
    agrees(mutate(text, random.Random(seed)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "ok"),
        ("# only a comment\n\n", "ok"),
        ("---\na: 1\n", "ok"),
        ("a: 1 # one\n# a comment\nb:   two  \n", "ok"),
        ("a:\n- 1\n- 2\nb: 3\n", "ok"),
        ("a:\n  - 1\nb:\n  c: d\n", "ok"),
        ("- a: 1\n  b:\n  - x\n  c: 2\n- d\n", "ok"),
        ("-   a: 1\n    b: 2\n", "ok"),
        ("  a: 1\n  b: 2\n", "ok"),
        ("a:\nb:\n", "ok"),
        ("- \n-\n- x\n", "ok"),
        ("a: 1\na: 2\n", "ok"),
        ("a b: c d\n", "ok"),
        ("fe80::1: x\n", "ok"),
        ("a: x:y\n", "ok"),
        ("a: 1\n  b: 2\n", "fallback"),  # bad indentation: an error
        ("a: 1\n- b\n", "fallback"),
        ("a:\n  - 1\n  b: 2\n", "fallback"),
        ("a: b\n  c\n", "fallback"),  # a continued scalar
        ("- a\n  b\n", "fallback"),
        ("- - a\n  - b\n- c\n", "ok"),
        ("- - a\n - b\n", "fallback"),
        ("a: b: c\n", "fallback"),
        ("a: 1\n---\nb: 2\n", "fallback"),
        ("a: 1\n...\n", "fallback"),
        ("a: 1.5\n", "fallback"),
        ("a: 2024-01-02\n", "fallback"),
        ("<<: 1\n", "fallback"),
        ("a: 'q'\n", "fallback"),
        ("a: [1]\n", "fallback"),
        ("a:\tb\n", "fallback"),
        ("a: b\r\nc:\r\n- 1\r\n", "ok"),  # saved on Windows
        ("a: b\rc: d\n", "fallback"),  # a lone CR
        ("\ufeffa: 1\r\nb: x\r\n", "ok"),  # Notepad's UTF-8: a byte-order mark and CRLF
        ("a: 1\n\ufeffb: 2\n", "fallback"),  # a BOM inside the stream
        ("a: " + "9" * 5000 + "\n", "fallback"),
        ("k" * 1500 + ": v\n", "fallback"),
        ("just a scalar\n", "fallback"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 150)), "fallback"),
    ],
)
def test_hand_picked_documents(text: str, expected: str) -> None:
    assert agrees(text) == expected


def test_values_are_not_shared_between_containers() -> None:
    data = yamlfile.block_load("a:\n  - x\nb:\n  - x\n")
    assert data == {"a": ["x"], "b": ["x"]} and data["a"] is not data["b"]


def test_a_farm_file_takes_the_block_reader() -> None:
    farm = {
        "subnets": [{"cidr": "10.0.0.0/22", "gateway": "10.0.0.1", "reserved": ["10.0.0.2-10.0.0.9"]}],
        "dhcp_scopes": [
            {
                "scope": "10.0.0.0",
                "start": "10.0.1.0",
                "end": "10.0.2.255",
                "exclusions": [{"start": "10.0.1.0", "end": "10.0.1.9"}],
            }
        ],
        "servers": [
            {"name": f"s{i:05d}-0", "subnet": "10.0.0.0/22", "max_sessions": 20 + i, "headroom": 10}
            for i in range(50)
        ],
        "carve_from_scopes": True,
        "existing": None,
    }
    text = yaml.safe_dump(farm, sort_keys=False)
    assert yamlfile.block_load(text) == farm == yamlfile.reference_loads(text, "farm")


def test_yaml_files_of_the_ansible_package_read_as_the_reference_reads_them() -> None:
    """Thousands of YAML files we did not write (the collections the ``ansible`` package ships:
    metadata, argument specs, playbooks, changelogs): whatever the block reader accepts, it
    reads exactly as the reference loader does."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("ansible_collections")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the ansible package (its ansible_collections) is not installed in this environment")
    files = sorted(
        p for root in spec.submodule_search_locations for p in Path(root).rglob("*.y*ml") if p.is_file()
    )
    accepted = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        kind, value = block(text)
        if kind == "ok":
            assert reference(text) == ("ok", value), path
            accepted += 1
    assert accepted >= 100, f"only {accepted} of {len(files)} files took the block reader"
