"""The registry model: parsing, WOW64 identity, wire round trip, result shaping."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.windows import registry as reg
from sessionnet_vip.windows.simulator import Simulator


@pytest.mark.parametrize(
    "path", [r"HKLM:\SOFTWARE\X", r"HKLM\SOFTWARE\X", r"HKEY_LOCAL_MACHINE\SOFTWARE\X\\", "hklm:/SOFTWARE/X"]
)
def test_path_spellings(path: str) -> None:
    assert reg.parse_key(path).path == r"HKLM:\SOFTWARE\X"


def test_wow64_identity_and_display() -> None:
    k32 = reg.parse_key(r"HKLM:\SOFTWARE\Citrix\VIP")
    k64 = reg.parse_key(r"HKLM:\Software\WOW6432Node\citrix\vip")
    assert reg.key_identity(k32, "32") == reg.key_identity(k64, "64")
    assert reg.key_identity(k32, "32") != reg.key_identity(k32, "64")
    assert reg.display_path(k32, "32") == r"HKLM:\SOFTWARE\Wow6432Node\Citrix\VIP"
    system = reg.parse_key(r"HKLM:\SYSTEM\X")
    assert reg.key_identity(system, "32") == reg.key_identity(system, "64")  # not redirected


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_dword_wire_round_trip_exact(n: int) -> None:
    wire = reg.data_to_wire("dword", reg.normalize_data("dword", n, "x"))
    assert reg.data_from_wire("dword", wire) == n
    assert reg.normalize_data("dword", hex(n), "x") == n


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_qword_wire_round_trip_exact(n: int) -> None:
    assert reg.data_from_wire("qword", reg.data_to_wire("qword", n)) == n


@given(st.binary(max_size=64))
def test_binary_forms(data: bytes) -> None:
    assert reg.normalize_data("binary", data.hex(" "), "x") == data
    assert reg.normalize_data("binary", list(data), "x") == data
    assert reg.data_from_wire("binary", reg.data_to_wire("binary", data)) == data


@pytest.mark.parametrize(
    ("reg_type", "data"),
    [
        ("dword", 2**32),
        ("dword", -1),
        ("dword", True),
        ("dword", 1.5),
        ("qword", 2**64),
        ("string", ["a"]),
        ("multistring", [1]),
        ("binary", "xyz"),
        ("binary", [256]),
    ],
)
def test_data_that_does_not_fit(reg_type: str, data: Any) -> None:
    with pytest.raises(reg.RegistryInputError, match=r"values\[0\]"):
        reg.parse_values([{"path": r"HKLM:\SOFTWARE\X", "name": "v", "type": reg_type, "data": data}])


def test_keys_absent_refuses_top_level() -> None:
    with pytest.raises(reg.RegistryInputError, match="top-level"):
        reg.parse_keys_absent([{"path": r"HKLM:\SOFTWARE"}])


def test_identical_duplicates_merge() -> None:
    item = {"path": r"HKLM:\SOFTWARE\X", "name": "v", "type": "dword", "data": 1}
    assert len(reg.parse_values([item, dict(item, path=r"hklm\software\x", name="V")])) == 1


def test_shape_result_diff_and_reboot() -> None:
    values = reg.parse_values(
        [
            {"path": r"HKLM:\SOFTWARE\X", "name": "a", "type": "dword", "data": 1, "reboot_required": True},
            {"path": r"HKLM:\SOFTWARE\X", "name": "b", "type": "multistring", "data": ["x", "y"]},
            {"path": r"HKLM:\SOFTWARE\X", "name": "c", "state": "absent"},
        ]
    )
    raw = {
        "values": [
            {"exists": True, "type": "dword", "data": "1"},
            {"exists": True, "type": "multistring", "data": ["y", "x"]},
            {"exists": True, "type": "string", "data": "old"},
        ],
        "keys": [],
    }
    shaped = reg.shape_result(values, [], raw)
    assert [v["changed"] for v in shaped.values] == [False, True, True]
    assert shaped.reboot_required is False  # the reboot-marked value did not change
    assert shaped.diff["before"] == {
        r"HKLM:\SOFTWARE\X": {
            "b": {"type": "multistring", "value": ["y", "x"]},
            "c": {"type": "string", "value": "old"},
        }
    }
    assert shaped.diff["after"] == {r"HKLM:\SOFTWARE\X": {"b": {"type": "multistring", "value": ["x", "y"]}}}


def test_shape_result_refuses_mismatched_answer() -> None:
    values = reg.parse_values([{"path": r"HKLM:\SOFTWARE\X", "name": "a", "type": "dword", "data": 1}])
    with pytest.raises(reg.VipError, match="do not match"):
        reg.shape_result(values, [], {"values": [], "keys": []})


def test_simulator_case_insensitive_keeps_first_spelling(tmp_path: Any) -> None:
    sim = Simulator(str(tmp_path / "s.json"))
    put = {
        "path": r"HKLM:\SOFTWARE\Vendor",
        "name": "MyValue",
        "type": "string",
        "data": "1",
        "state": "present",
        "view": "64",
    }
    assert sim.call("registry_state", {"values": [put]})["changed"] is True
    again = dict(put, path=r"hklm:\software\VENDOR", name="myvalue")
    assert sim.call("registry_state", {"values": [again]})["changed"] is False
    info = sim.call("vip_info", {"registry_keys": [{"path": r"HKLM:\SOFTWARE", "view": "64"}]})
    assert "Vendor" in info["registry"][0]["subkeys"]
    state = sim.read_state()
    assert state["registry"]["HKLM\\software\\vendor"]["values"]["myvalue"]["name"] == "MyValue"


def test_simulator_refuses_foreign_state_file(tmp_path: Any) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(reg.VipError, match="not a sessionnet simulated-host state file"):
        Simulator(str(path)).call("vip_info", {})
    assert path.read_text() == '{"hello": 1}'
