"""Registry paths, value names, program paths and simulator state files that Windows (or the
simulator) cannot take are refused in the Python model, before anything is sent to a host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sessionnet_vip.windows import registry as reg
from sessionnet_vip.windows.programs import (
    MAX_COMPONENT_CHARS,
    MAX_PATH_CHARS,
    ProgramListError,
    normalize_programs,
)
from sessionnet_vip.windows.simulator import HostSeed, Simulator, SimulatorError, new_state


def value(path: str = "HKLM:\\SOFTWARE\\Vendor", name: str = "Flag", **extra: Any) -> dict[str, Any]:
    return {"path": path, "name": name, "type": "dword", "data": 1, **extra}


@pytest.mark.parametrize(
    "path",
    [
        "HKLM:\\SOFTWARE\\..\\Vendor",
        "HKLM:\\SOFTWARE\\.\\Vendor",
        "HKLM:\\..",
        "HKLM:\\SOFTWARE\\Vendor\\..",
        "HKLM:/SOFTWARE/../SYSTEM",
    ],
)
def test_relative_key_components_refused(path: str) -> None:
    with pytest.raises(reg.RegistryInputError, match="no relative paths"):
        reg.parse_values([value(path)])


def test_dot_dot_does_not_slip_past_the_top_level_guard() -> None:
    # 'SOFTWARE\\..' has two components but names the hive's root
    with pytest.raises(reg.RegistryInputError, match="no relative paths"):
        reg.parse_keys_absent([{"path": "HKLM:\\SOFTWARE\\.."}])


def test_value_name_with_nul_refused() -> None:
    with pytest.raises(reg.RegistryInputError, match="NUL"):
        reg.parse_values([value(name="Fl\x00ag")])


def test_value_name_length_limit() -> None:
    assert reg.parse_values([value(name="n" * reg.MAX_VALUE_NAME)])[0].name == "n" * reg.MAX_VALUE_NAME
    with pytest.raises(reg.RegistryInputError, match="16,383") as err:
        reg.parse_values([value(name="n" * (reg.MAX_VALUE_NAME + 1))])
    assert len(str(err.value)) < 500


@pytest.mark.parametrize("path", ["HKLM:\\", "HKLM", "HKEY_LOCAL_MACHINE\\"])
def test_value_on_a_bare_hive_refused(path: str) -> None:
    with pytest.raises(reg.RegistryInputError, match="bare hive HKLM"):
        reg.parse_values([value(path)])


def test_key_depth_limit() -> None:
    deep = "HKLM:\\" + "\\".join(["k"] * (reg.MAX_KEY_DEPTH + 1))
    with pytest.raises(reg.RegistryInputError, match="512"):
        reg.parse_values([value(deep)])


@pytest.mark.parametrize("data", ["\u0665", "\u00b2", "1_0", "+-5", "9" * 5000, "0x" + "f" * 17])
def test_dword_text_must_be_ascii_integer(data: str) -> None:
    with pytest.raises(reg.RegistryInputError, match="is not an integer") as err:
        reg.parse_values([value(data=data)])
    assert len(str(err.value)) < 500


def test_string_value_with_nul_or_huge_number_refused() -> None:
    with pytest.raises(reg.RegistryInputError, match="NUL"):
        reg.parse_values([value(type="string", data="a\x00b")])
    with pytest.raises(reg.RegistryInputError, match="too long a number"):
        reg.parse_values([value(type="string", data=10**5000)])


def test_program_path_limits() -> None:
    long_name = "C:\\Apps\\" + "a" * (MAX_COMPONENT_CHARS + 1) + ".exe"
    with pytest.raises(ProgramListError, match="at most 255"):
        normalize_programs([long_name])
    deep = "C:\\" + "\\".join(["d" * 200] * 170) + "\\x.exe"
    assert len(deep) > MAX_PATH_CHARS
    with pytest.raises(ProgramListError, match="32,767") as err:
        normalize_programs([deep])
    assert len(str(err.value)) < 500
    ok = "C:\\Apps\\" + "a" * (MAX_COMPONENT_CHARS - 4) + ".exe"
    assert normalize_programs([ok]).programs == [ok]


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("registry"),
        lambda s: s.update(registry=None),
        lambda s: s.update(os=None),
        lambda s: s.pop("adapters"),
        lambda s: s.update(adapters=[None]),
        lambda s: s.update(dhcp={}),
        lambda s: s.update(calls="many"),
        lambda s: s.update(registry={"HKLM\\x": None}),
        lambda s: s.update(sessions=None),
    ],
)
def test_simulator_state_with_missing_or_null_sections(tmp_path: Path, damage: Any) -> None:
    state = new_state(HostSeed())
    damage(state)
    path = tmp_path / "host.json"
    path.write_text(json.dumps(state))
    before = path.read_bytes()
    for module, args in (("registry_state", {"values": []}), ("vip_info", {})):
        with pytest.raises(SimulatorError, match="not a sessionnet simulated-host state file"):
            Simulator(str(path)).call(module, args)
    assert path.read_bytes() == before


def test_simulator_state_nested_too_deep(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text('{"simulated": true, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SimulatorError, match="not readable JSON"):
        Simulator(str(path)).call("vip_info", {})


@pytest.mark.parametrize("prefix", ["\u00b2", "\u0665", "+-5", "9" * 5000, 2.5, None])
def test_bound_ranges_filter_input_names_the_field(prefix: object) -> None:
    from sessionnet_vip.errors import VipError
    from sessionnet_vip.windows.binding import address_state_request, bound_ranges

    adapters = [{"name": "eth", "index": 3, "ipv4": [{"address": "10.0.0.5", "prefix_length": prefix}]}]
    with pytest.raises(VipError, match="prefix_length") as err:
        bound_ranges(adapters, "10.0.0.0/24")
    assert len(str(err.value)) < 500
    with pytest.raises(VipError, match="prefix_length"):
        address_state_request({"prefix_length": prefix, "interface_index": 3, "present": ["10.0.0.9"]})
