"""The RD IP Virtualization decision, on facts read from simulated hosts by vip_info's twin."""

from __future__ import annotations

import ipaddress
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import facts as vip_facts
from sessionnet_vip.windows import rds
from sessionnet_vip.windows.rds_ip_virtualization import (
    RdsIpVirtualizationError,
    RdsOptions,
    normalize_subnet,
    plan,
)
from sessionnet_vip.windows.simulator import HostSeed, Simulator

Facts = Callable[..., dict[str, Any]]
APP_A = r"C:\Program Files\CTI\agent.exe"
APP_B = r"C:\Program Files\Dialer\dialer.exe"


@pytest.fixture
def host_facts(tmp_path: pathlib.Path) -> Facts:
    counter = iter(range(1000))

    def make(
        profile: str = "server2022",
        features: tuple[str, ...] = ("rds",),
        adapters: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        seed = HostSeed(profile=profile, features=features)
        if adapters is not None:
            seed = HostSeed(profile=profile, features=features, adapters=adapters)
        sim = Simulator(str(tmp_path / f"h{next(counter)}.json"), seed)
        raw = sim.call(
            "vip_info",
            {"registry_keys": vip_facts.registry_request(), "cim_classes": vip_facts.cim_request()},
        )
        return vip_facts.shape(raw)

    return make


def by_name(values: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in values}


def test_per_program_two_programs_exact_values(host_facts: Facts) -> None:
    result = plan(
        RdsOptions(
            mode="per_program",
            programs=[APP_A, APP_B],
            adapter_subnet="10.20.0.10/24",
            fallback_to_server_ip=False,
        ),
        host_facts("server2022"),
    )
    values = by_name(result.values)
    assert set(values) == {name for name, _ in rds.MANAGED_VALUES}
    assert {n: (v["type"], v["data"], v["state"]) for n, v in values.items()} == {
        rds.ENABLE: ("dword", 1, "present"),
        rds.MODE: ("dword", 1, "present"),
        rds.PROGRAMS: ("multistring", [APP_A, APP_B], "present"),
        rds.ADAPTER: ("string", "10.20.0.0/24", "present"),
        rds.NO_FALLBACK: ("dword", 1, "present"),
    }
    assert all(v["path"] == rds.POLICY_KEY and v["reboot_required"] for v in result.values)
    # KB 4501072: renamed to Backup_2C69D9F1 (a way back), not deleted
    assert result.keys_absent == []
    assert result.keys_moved == [
        {"path": rds.LSP_CATALOG_KEY, "to": rds.LSP_CATALOG_BACKUP_KEY, "reboot_required": True}
    ]
    assert result.lsp_catalog_backup == rds.LSP_CATALOG_BACKUP_KEY
    assert result.adapter == "Ethernet" and result.warnings == []


def test_fallback_option_maps_to_prompt_on_lease_fail(host_facts: Facts) -> None:
    facts = host_facts()
    on = by_name(plan(RdsOptions(adapter_subnet="10.20.0.0/24"), facts).values)
    off = by_name(plan(RdsOptions(adapter_subnet="10.20.0.0/24", fallback_to_server_ip=False), facts).values)
    assert on[rds.NO_FALLBACK]["data"] == 0 and off[rds.NO_FALLBACK]["data"] == 1
    assert on[rds.MODE]["data"] == 0


@pytest.mark.parametrize(
    ("profile", "fix", "expect_key"),
    [
        ("server2016", None, False),
        ("server2019", None, True),
        ("server2022", None, True),
        ("server2025", None, True),
        ("server2019", False, False),
        ("server2016", True, False),
    ],
)
def test_lsp_catalog_fix_by_build(
    host_facts: Facts, profile: str, fix: bool | None, expect_key: bool
) -> None:
    result = plan(RdsOptions(adapter_subnet="10.20.0.0/24", fix_lsp_catalog=fix), host_facts(profile))
    assert bool(result.keys_moved) is expect_key and result.fix_lsp_catalog is expect_key
    assert result.keys_absent == []
    if fix is False:
        assert any("fix_lsp_catalog is false" in w for w in result.warnings)
    if profile == "server2016" and fix:
        assert any("no effect on build 14393" in w for w in result.warnings)


def test_per_session_with_programs_warns_ignores_and_removes_perapp(host_facts: Facts) -> None:
    result = plan(RdsOptions(programs=[APP_A], adapter_subnet="10.20.0.0/24"), host_facts())
    perapp = by_name(result.values)[rds.PROGRAMS]
    assert perapp["state"] == "absent"
    assert result.programs == []
    assert any("ignored in mode per_session" in w for w in result.warnings)


def test_per_session_still_validates_programs(host_facts: Facts) -> None:
    with pytest.raises(VipError, match="wildcards"):
        plan(RdsOptions(programs=["*.exe"], adapter_subnet="10.20.0.0/24"), host_facts())


def test_bare_program_name_warns(host_facts: Facts) -> None:
    result = plan(
        RdsOptions(
            mode="per_program", programs=["agent.exe", APP_A, "AGENT.EXE"], adapter_subnet="10.20.0.0/24"
        ),
        host_facts(),
    )
    assert result.programs == ["agent.exe", APP_A]
    assert any("full path is safer" in w for w in result.warnings)


def test_per_program_with_empty_programs_refused(host_facts: Facts) -> None:
    with pytest.raises(RdsIpVirtualizationError, match="per_program needs at least one entry in programs"):
        plan(RdsOptions(mode="per_program", programs=[], adapter_subnet="10.20.0.0/24"), host_facts())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("*.exe", "wildcards"),
        (r"C:\Apps\a?.exe", "wildcards"),
        ('"C:\\Apps\\a.exe"', "quotes"),
        ("agent.exe ", "trailing spaces"),
        (r"..\x.exe", "relative path"),
        (r"bin\x.exe", "relative path"),
    ],
)
def test_bad_program_entries_refused(host_facts: Facts, entry: str, message: str) -> None:
    with pytest.raises(VipError, match=message) as err:
        plan(
            RdsOptions(mode="per_program", programs=[APP_A, entry], adapter_subnet="10.20.0.0/24"),
            host_facts(),
        )
    assert "programs[1]" in str(err.value)


@pytest.mark.parametrize(
    "cidr",
    [
        "10.20.0.0",
        "10.20.0.0/33",
        "10.20.300.0/24",
        "banana/24",
        "10.20.0.0/24 ",
        "0.0.0.0/0",
        "fe80::/64",
        "",
    ],
)
def test_invalid_cidr_refused(host_facts: Facts, cidr: str) -> None:
    with pytest.raises(RdsIpVirtualizationError, match="adapter_subnet") as err:
        plan(RdsOptions(adapter_subnet=cidr), host_facts())
    assert repr(cidr) in str(err.value)


def test_missing_adapter_subnet_lists_adapters(host_facts: Facts) -> None:
    with pytest.raises(
        RdsIpVirtualizationError, match=r"adapter_subnet is required.*Ethernet \(10\.20\.0\.10/24\)"
    ):
        plan(RdsOptions(), host_facts())


@given(
    net=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.integers(min_value=1, max_value=30),
)
def test_host_bits_are_normalised(net: int, prefix: int) -> None:
    text = f"{ipaddress.IPv4Address(net)}/{prefix}"
    got = normalize_subnet(text)
    assert got == ipaddress.IPv4Network(text, strict=False)
    assert int(got.network_address) & ((1 << (32 - prefix)) - 1) == 0


def test_subnet_matching_no_adapter_names_the_adapters(host_facts: Facts) -> None:
    with pytest.raises(
        RdsIpVirtualizationError, match=r"matches no network adapter.*Ethernet \(10\.20\.0\.10/24\)"
    ):
        plan(RdsOptions(adapter_subnet="192.0.2.0/24"), host_facts())


def test_subnet_matching_several_adapters_names_them(host_facts: Facts) -> None:
    adapters = [
        {"name": "Front", "ipv4": ["10.20.0.10/24"]},
        {"name": "Back", "ipv4": ["10.20.1.10/24"]},
        {"name": "Mgmt", "ipv4": ["192.0.2.5/24"]},
    ]
    facts = host_facts(adapters=adapters)
    with pytest.raises(RdsIpVirtualizationError, match=r"several network adapters \(Front, Back\)"):
        plan(RdsOptions(adapter_subnet="10.20.0.0/16"), facts)
    result = plan(RdsOptions(adapter_subnet="10.20.1.99/24"), facts)
    assert result.adapter == "Back" and by_name(result.values)[rds.ADAPTER]["data"] == "10.20.1.0/24"


def test_prefix_mismatch_warns(host_facts: Facts) -> None:
    facts = host_facts(adapters=[{"name": "Wide", "ipv4": ["10.20.0.10/16"]}])
    result = plan(RdsOptions(adapter_subnet="10.20.0.0/24"), facts)
    assert result.adapter == "Wide" and any("prefix length differs" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("profile", "edition"),
    [
        ("win10_multisession", "Windows 10 Enterprise multi-session"),
        ("win11_multisession", "Windows 11 Enterprise multi-session"),
        ("workstation", "Windows 11 Enterprise"),
    ],
)
def test_unsupported_os_refused_naming_edition(host_facts: Facts, profile: str, edition: str) -> None:
    with pytest.raises(RdsIpVirtualizationError) as err:
        plan(RdsOptions(adapter_subnet="10.20.0.0/24"), host_facts(profile))
    assert edition in str(err.value)
    if "multi-session" in edition:
        assert "ServerRdsh" in str(err.value)


def test_missing_rds_role_warns(host_facts: Facts) -> None:
    result = plan(RdsOptions(adapter_subnet="10.20.0.0/24"), host_facts(features=()))
    assert any("RD Session Host role" in w for w in result.warnings)
    assert result.values  # still configured: installing the role later makes it work


def test_disabled_removes_exactly_managed_values(host_facts: Facts) -> None:
    result = plan(RdsOptions(state="disabled", adapter_subnet="10.20.0.0/24"), host_facts("server2019"))
    assert [(v["path"], v["name"], v["state"]) for v in result.values] == [
        (rds.POLICY_KEY, name, "absent") for name, _ in rds.MANAGED_VALUES
    ]
    # the LSP catalog entry is not touched unless restore_lsp_catalog is set
    assert result.keys_absent == [] and result.keys_moved == [] and result.cim_properties == []
    assert any("adapter_subnet ignored" in w for w in result.warnings)


def test_disabled_allowed_on_multisession_with_warning(host_facts: Facts) -> None:
    result = plan(RdsOptions(state="disabled"), host_facts("win10_multisession"))
    assert len(result.values) == len(rds.MANAGED_VALUES)
    assert any("Windows 10 Enterprise multi-session" in w for w in result.warnings)


def test_disabled_warns_when_local_key_keeps_it_on(host_facts: Facts) -> None:
    facts = host_facts()
    facts["rds_ip_virtualization"]["local"]["enabled"] = True
    result = plan(RdsOptions(state="disabled"), facts)
    assert any(rds.LOCAL_KEY in w for w in result.warnings)


@pytest.mark.parametrize(("field", "value"), [("state", "on"), ("mode", "per_user")])
def test_bad_choices_refused(host_facts: Facts, field: str, value: str) -> None:
    options = RdsOptions(adapter_subnet="10.20.0.0/24", **{field: value})
    with pytest.raises(RdsIpVirtualizationError, match=repr(value)):
        plan(options, host_facts())


def test_from_params_defaults() -> None:
    opts = RdsOptions.from_params(
        {"state": None, "mode": None, "programs": None, "fallback_to_server_ip": None}
    )
    assert opts == RdsOptions()


# --- the Winsock catalog rename and the way back (KB 4501072) ----------------------------------


def registry_call(sim: Simulator, result: Any) -> dict[str, Any]:
    from sessionnet_vip.windows import cim, key_moves
    from sessionnet_vip.windows import registry as reg

    args = {
        "values": [reg.value_to_wire(v) for v in reg.parse_values(result.values)],
        "keys_absent": [reg.key_to_wire(k) for k in reg.parse_keys_absent(result.keys_absent)],
        "keys_moved": [key_moves.move_to_wire(m) for m in key_moves.parse_keys_moved(result.keys_moved)],
        "cim_properties": [cim.cim_to_wire(c) for c in cim.parse_cim_properties(result.cim_properties)],
    }
    return sim.call("registry_state", args)


def sim_facts(sim: Simulator) -> dict[str, Any]:
    raw = sim.call(
        "vip_info", {"registry_keys": vip_facts.registry_request(), "cim_classes": vip_facts.cim_request()}
    )
    shaped = vip_facts.shape(raw)
    shaped["registry"] = raw["registry"]
    return shaped


def test_rename_keeps_the_values_and_restore_brings_them_back(tmp_path: pathlib.Path) -> None:
    sim = Simulator(str(tmp_path / "h.json"), HostSeed(profile="server2019", features=("rds",)))
    original = {v["name"]: v for v in sim_facts(sim)["registry"][2]["values"]}
    fixed = plan(RdsOptions(adapter_subnet="10.20.0.0/24"), sim_facts(sim))
    raw = registry_call(sim, fixed)
    assert raw["moves"][0]["source_existed"] is True and raw["moves"][0]["target_existed"] is False
    after = sim_facts(sim)["rds_ip_virtualization"]
    assert after["lsp_catalog_entry_present"] is False and after["lsp_catalog_backup_present"] is True
    # the way back: restore_lsp_catalog (with state disabled), renaming the backup to the entry
    back = plan(RdsOptions(state="disabled", restore_lsp_catalog=True), sim_facts(sim))
    assert back.lsp_catalog_restore is True
    assert back.keys_moved == [
        {"path": rds.LSP_CATALOG_BACKUP_KEY, "to": rds.LSP_CATALOG_KEY, "reboot_required": True}
    ]
    registry_call(sim, back)
    restored = sim_facts(sim)
    assert restored["rds_ip_virtualization"]["lsp_catalog_entry_present"] is True
    assert restored["rds_ip_virtualization"]["lsp_catalog_backup_present"] is False
    assert {v["name"]: v for v in restored["registry"][2]["values"]} == original
    # restoring again does nothing
    again = plan(RdsOptions(state="disabled", restore_lsp_catalog=True), restored)
    assert (
        again.keys_moved == []
        and not again.lsp_catalog_restore
        and again.values[-1]["path"] == rds.POLICY_KEY
    )


def test_restore_without_a_backup_writes_microsofts_defaults(host_facts: Facts) -> None:
    facts = host_facts("server2019")
    facts["rds_ip_virtualization"]["lsp_catalog_entry_present"] = False  # deleted by hand earlier
    result = plan(RdsOptions(state="disabled", restore_lsp_catalog=True), facts)
    lsp = [v for v in result.values if v["path"] == rds.LSP_CATALOG_KEY]
    assert [(v["name"], v["type"], v["data"]) for v in lsp] == [
        ("AppFullPath", "string", r"C:\Windows\System32\svchost.exe"),
        ("PermittedLspCategories", "dword", 0x40000000),
    ]
    assert any("no backup" in w for w in result.warnings)


def test_fix_with_an_existing_backup_removes_the_entry_and_keeps_the_backup(host_facts: Facts) -> None:
    facts = host_facts("server2019")
    facts["rds_ip_virtualization"]["lsp_catalog_backup_present"] = True
    result = plan(RdsOptions(adapter_subnet="10.20.0.0/24"), facts)
    assert result.keys_moved == [] and result.keys_absent == [
        {"path": rds.LSP_CATALOG_KEY, "reboot_required": True}
    ]
    assert any("already exists and is kept" in w for w in result.warnings)


def test_fix_and_restore_together_are_refused(host_facts: Facts) -> None:
    with pytest.raises(RdsIpVirtualizationError, match="opposite"):
        plan(
            RdsOptions(adapter_subnet="10.20.0.0/24", fix_lsp_catalog=True, restore_lsp_catalog=True),
            host_facts(),
        )


def test_a_move_onto_an_existing_key_writes_nothing(tmp_path: pathlib.Path) -> None:
    sim = Simulator(str(tmp_path / "h.json"), HostSeed(profile="server2019", features=("rds",)))
    sim.call(
        "registry_state",
        {"values": [{"path": rds.LSP_CATALOG_BACKUP_KEY, "name": "x", "type": "dword", "data": "1"}]},
    )
    before = sim.read_state()["registry"]
    with pytest.raises(VipError, match="both .* exist"):
        sim.call(
            "registry_state",
            {
                "values": [{"path": r"HKLM:\SOFTWARE\T", "name": "v", "type": "dword", "data": "1"}],
                "keys_moved": [{"path": rds.LSP_CATALOG_KEY, "to": rds.LSP_CATALOG_BACKUP_KEY}],
            },
        )
    assert sim.read_state()["registry"] == before


# --- RD IP Virtualization's own loopback virtualization (Win32_TSVirtualIP) ---------------------


def test_virtualize_loopback_is_read_and_set_in_the_same_two_calls(tmp_path: pathlib.Path) -> None:
    sim = Simulator(str(tmp_path / "h.json"), HostSeed(profile="server2022", features=("rds",)))
    facts = sim_facts(sim)
    assert facts["rds_ip_virtualization"]["virtualize_loopback"] is False
    result = plan(RdsOptions(adapter_subnet="10.20.0.0/24", virtualize_loopback=True), facts)
    assert result.cim_properties == [
        {
            "namespace": rds.WMI_NAMESPACE,
            "class_name": "Win32_TSVirtualIP",
            "property": "VirtualizeLoopbackAddressesEnabled",
            "value": 1,
            "method": "SetVirtualizeLoopbackAddressesEnabled",
            "reboot_required": True,
        }
    ]
    raw = registry_call(sim, result)
    assert raw["cim"][0]["before"] == 0
    assert sim_facts(sim)["rds_ip_virtualization"]["virtualize_loopback"] is True
    # unset leaves it alone; false turns it off (also with state disabled)
    assert plan(RdsOptions(adapter_subnet="10.20.0.0/24"), sim_facts(sim)).cim_properties == []
    off = plan(RdsOptions(state="disabled", virtualize_loopback=False), sim_facts(sim))
    assert off.cim_properties[0]["value"] == 0
    warned = plan(RdsOptions(state="disabled"), sim_facts(sim))
    assert any("VirtualizeLoopbackAddressesEnabled is still 1" in w for w in warned.warnings)


def test_virtualize_loopback_refused_on_2008_r2_with_the_reason(host_facts: Facts) -> None:
    facts = host_facts("server2008r2")
    assert facts["rds_ip_virtualization"]["virtualize_loopback"] is None
    with pytest.raises(RdsIpVirtualizationError, match=r"2008 R2.*from Windows Server 2012 \(build 9200\)"):
        plan(RdsOptions(adapter_subnet="10.20.0.0/24", virtualize_loopback=True), facts)
    # false there is nothing to do, not an error
    assert (
        plan(RdsOptions(adapter_subnet="10.20.0.0/24", virtualize_loopback=False), facts).cim_properties == []
    )


def test_virtualize_loopback_refused_without_the_wmi_class_and_with_state_disabled(host_facts: Facts) -> None:
    with pytest.raises(RdsIpVirtualizationError, match="could not be read.*RD Session Host role"):
        plan(RdsOptions(adapter_subnet="10.20.0.0/24", virtualize_loopback=True), host_facts(features=()))
    with pytest.raises(RdsIpVirtualizationError, match="state disabled"):
        plan(RdsOptions(state="disabled", virtualize_loopback=True), host_facts())
