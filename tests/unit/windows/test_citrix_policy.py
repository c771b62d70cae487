"""Decisions of citrix_loopback_policy and citrix_prefer_loopback, and the simulated controller."""

from __future__ import annotations

import copy
import itertools
import pathlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip.errors import VipError
from sessionnet_vip.windows import citrix, rds
from sessionnet_vip.windows.citrix_policy import (
    CitrixPolicyError,
    build_policy,
    citrix_programs,
    normalize_port_exclusions,
    shape_policy_result,
)
from sessionnet_vip.windows.citrix_site_sim import CitrixSiteError, citrix_policy_state, new_site
from sessionnet_vip.windows.facts import registry_request, shape
from sessionnet_vip.windows.prefer_loopback import (
    CAUTION_EN,
    SOURCE,
    PreferLoopbackError,
    build_prefer_loopback,
)
from sessionnet_vip.windows.programs import ProgramListError
from sessionnet_vip.windows.simulator import HostSeed, Simulator, new_state

# --- port exclusions ----------------------------------------------------------------------------


def test_ports_merge_sort_and_ranges() -> None:
    assert normalize_port_exclusions([8080, "9000-9010", "9005-9020", 9021, "80", " 443 - 443 "]) == [
        "80",
        "443",
        "8080",
        "9000-9021",
    ]
    assert normalize_port_exclusions(None) == [] and normalize_port_exclusions([]) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (0, "outside 1-65535"),
        (65536, "outside 1-65535"),
        ("1-70000", "outside 1-65535"),
        ("90-80", "starts above its end"),
        ("80,81", "malformed"),
        ("http", "malformed"),
        ("-5", "malformed"),
        (True, "not a port"),
        (8.5, "port number"),
    ],
)
def test_bad_ports_name_the_entry(entry: object, message: str) -> None:
    with pytest.raises(CitrixPolicyError, match=message) as err:
        normalize_port_exclusions([80, entry])
    assert "port_exclusions[1]" in str(err.value)


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 300)), max_size=30))
def test_port_merge_covers_exactly_the_input(spans: list[tuple[int, int]]) -> None:
    entries = [f"{lo}-{min(lo + n, 65535)}" for lo, n in spans]
    out = normalize_port_exclusions(entries)
    covered: set[int] = set()
    bounds = []
    for item in out:
        lo, _, hi = item.partition("-")
        low, high = int(lo), int(hi or lo)
        bounds.append((low, high))
        covered.update(range(low, high + 1))
    expected = {p for lo, n in spans for p in range(lo, min(lo + n, 65535) + 1)}
    assert covered == expected
    # sorted, disjoint and not adjacent (fully merged)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(bounds))


# --- programs -------------------------------------------------------------------------------------


def test_programs_paths_reduced_to_names_and_case_duplicates_merged() -> None:
    programs, warnings = citrix_programs([r"C:\CTI\Agent.exe", "agent.EXE", "crm.exe", r"D:\x\CRM.exe"])
    assert programs == ["Agent.exe", "crm.exe"]
    assert len(warnings) == 1 and r"C:\CTI\Agent.exe" in warnings[0] and "program_paths: keep" in warnings[0]
    kept, none = citrix_programs([r"C:\CTI\Agent.exe", "agent.exe"], keep_paths=True)
    assert kept == [r"C:\CTI\Agent.exe", "agent.exe"] and none == []


@pytest.mark.parametrize(
    "entry", ["*.exe", '"agent.exe"', r"..\agent.exe", r"bin\agent.exe", "%ProgramFiles%\\a.exe"]
)
def test_bad_program_entries_refused(entry: str) -> None:
    with pytest.raises(ProgramListError, match=r"programs\[1\]"):
        build_policy({"name": "p", "programs": ["ok.exe", entry]})


# --- build_policy ---------------------------------------------------------------------------------


def test_empty_programs_with_support_enabled_is_an_error() -> None:
    for programs in (None, []):
        with pytest.raises(CitrixPolicyError, match="loopback_support is enabled") as err:
            build_policy({"name": "p", "loopback_support": "enabled", "programs": programs})
        assert "loopback_support: disabled" in str(err.value)


def test_disabled_support_allows_no_programs_and_resets_with_empty_list() -> None:
    untouched = build_policy({"name": "p", "loopback_support": "disabled"}).module_args["settings"]
    assert untouched == [{"name": "VirtualLoopbackSupport", "state": "Disabled", "values": None}]
    reset = build_policy({"name": "p", "loopback_support": "disabled", "programs": []}).module_args[
        "settings"
    ]
    assert reset[1] == {"name": "VirtualLoopbackPrograms", "state": "UseDefault", "values": None}


def test_full_request_to_module_args() -> None:
    plan = build_policy(
        {
            "name": "Virtual loopback",
            "programs": ["a.exe", "A.EXE", r"C:\B\b.exe"],
            "port_exclusions": ["8000-8002", 8003],
            "priority": 2,
            "delivery_groups": ["Call center", "call CENTER", "Back office"],
            "controller": "ddc01.example.test",
        }
    )
    args = plan.module_args
    assert args["settings"] == [
        {"name": citrix.LOOPBACK_SUPPORT_SETTING, "state": "Enabled", "values": None},
        {"name": citrix.LOOPBACK_PROGRAMS_SETTING, "state": "Enabled", "values": ["a.exe", "b.exe"]},
        {"name": citrix.PORT_EXCLUSION_SETTING_GUESS, "state": "Enabled", "values": ["8000-8003"]},
    ]
    assert [f["value"] for f in args["filters"]] == ["Call center", "Back office"]
    assert args["purge_filter_types"] == ["DesktopGroup"]
    assert (args["priority"], args["enabled"], args["controller"], args["store"]) == (
        2,
        True,
        "ddc01.example.test",
        "controller",
    )
    assert plan.programs == ["a.exe", "b.exe"] and plan.port_exclusions == ["8000-8003"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "give the Citrix policy name"),
        ({"name": "a\\b", "programs": ["a.exe"]}, "may not have"),
        ({"name": "p", "programs": ["a.exe"], "store": "domain_gpo"}, "needs gpo"),
        ({"name": "p", "programs": ["a.exe"], "gpo": "G"}, "only used with store: domain_gpo"),
        ({"name": "p", "programs": ["a.exe"], "priority": 0}, "priority 0"),
        ({"name": "p", "programs": ["a.exe"], "port_exclusions": [70000]}, "outside"),
        (
            {"name": "p", "programs": ["a.exe"], "port_exclusions": [1], "port_exclusion_setting": "x y"},
            "internal",
        ),
        ({"name": "p", "programs": ["a.exe"], "delivery_groups": [" dg"]}, "delivery_groups"),
        ({"name": "p", "programs": ["a.exe"], "delivery_groups": ["EU\\Sales"]}, r"may not contain \\ or /"),
        ({"name": "Unfiltered", "state": "absent"}, "cannot be removed"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CitrixPolicyError, match=message):
        build_policy(options)


# --- the simulated controller and shaping -----------------------------------------------------


def ddc_state() -> dict[str, Any]:
    return new_state(HostSeed(profile="server2022", features=["citrix_ddc"], hostname="DDC01"))


def run(state: dict[str, Any], options: dict[str, Any], check: bool = False) -> dict[str, Any]:
    plan = build_policy(options)
    raw = citrix_policy_state(state, copy.deepcopy(plan.module_args), check)
    return shape_policy_result(plan, raw, check_mode=check)


def test_simulated_controller_create_idempotent_check_and_change() -> None:
    state = ddc_state()
    options = {"name": "VL", "programs": ["a.exe"], "port_exclusions": [80], "delivery_groups": ["DG1"]}
    checked = run(state, options, check=True)
    assert checked["changed"] is True and checked["before"] == {}
    assert checked["after"]["settings"]["VirtualLoopbackPrograms"] == {
        "state": "Enabled",
        "values": ["a.exe"],
    }
    assert state["citrix_site"]["stores"]["controller"]["computer"] == []  # check mode wrote nothing

    first = run(state, options)
    assert first["changed"] is True and first["after"]["enabled"] is True and first["after"]["priority"] == 1
    assert first["setting_paths"]["VirtualLoopbackSupport"] == r"ICA\VirtualIP\VirtualLoopbackSupport"
    assert first["diff"]["before"] == {} and list(first["diff"]["after"]) == [
        "controller:localhost:computer\\VL"
    ]
    assert run(state, options)["changed"] is False

    other = run(state, {"name": "Other", "loopback_support": "disabled", "priority": 1})
    assert other["after"]["priority"] == 1
    moved = run(state, dict(options, priority=1, delivery_groups=["DG2"]))
    assert moved["changed"] and moved["before"]["priority"] == 2 and moved["after"]["priority"] == 1
    assert [f["value"] for f in moved["after"]["filters"]] == ["DG2"]
    # a priority above the count is the last place, and stays unchanged on repeat
    last = run(state, dict(options, priority=99, delivery_groups=["DG2"]))
    assert (
        last["after"]["priority"] == 2
        and run(state, dict(options, priority=99, delivery_groups=["DG2"]))["changed"] is False
    )

    gone = run(state, {"name": "VL", "state": "absent"})
    assert (
        gone["changed"]
        and gone["after"] == {}
        and run(state, {"name": "VL", "state": "absent"})["changed"] is False
    )


def test_simulated_controller_refusals() -> None:
    vda = new_state(HostSeed(features=["citrix_vda"]))
    with pytest.raises(CitrixSiteError, match="Citrix.GroupPolicy.Commands"):
        run(vda, {"name": "p", "programs": ["a.exe"]})
    state = ddc_state()
    with pytest.raises(CitrixSiteError, match="VirtualLoopbackPortExclusion") as err:
        run(
            state,
            {"name": "p", "programs": ["a.exe"], "port_exclusions": [1], "port_exclusion_setting": "Nope"},
        )
    assert "'Nope' was not found" in str(err.value)
    with pytest.raises(VipError, match="no such GPO") as gpo_err:
        run(state, {"name": "p", "programs": ["a.exe"], "store": "domain_gpo", "gpo": "Missing"})
    assert "second hop" not in str(gpo_err.value)  # not an access problem: no second-hop advice
    with pytest.raises(VipError, match="cannot connect"):
        run(state, {"name": "p", "programs": ["a.exe"], "controller": "ddc99"})
    assert run(state, {"name": "p", "programs": ["a.exe"], "store": "domain_gpo", "gpo": "citrix policies"})[
        "changed"
    ]
    assert state["citrix_site"]["stores"]["controller"]["computer"] == []


def test_shape_refuses_a_controller_that_did_not_apply() -> None:
    plan = build_policy({"name": "p", "programs": ["a.exe"]})
    raw = {
        "changed": True,
        "before": {"exists": False},
        "after": {"exists": True, "settings": {"VirtualLoopbackSupport": {"state": "Disabled"}}},
    }
    with pytest.raises(VipError, match="does not hold the requested settings"):
        shape_policy_result(plan, raw)
    assert new_site("X")["controllers"] == ["X", "localhost"]


# --- prefer loopback -------------------------------------------------------------------------------


def facts(
    tmp: pathlib.Path, profile: str = "server2022", vda: bool = True, rds_on: bool = True
) -> dict[str, Any]:
    """Shaped vip_info facts of a simulated host (as the action plugin gets them)."""
    sim = Simulator(
        str(tmp / f"{profile}-{vda}-{rds_on}.json"),
        HostSeed(profile=profile, features=["citrix_vda"] if vda else []),
    )
    if rds_on:
        sim.call(
            "registry_state",
            {
                "values": [
                    {
                        "path": rds.POLICY_KEY,
                        "name": rds.ENABLE,
                        "type": "dword",
                        "data": "1",
                        "state": "present",
                        "view": "64",
                    }
                ]
            },
        )
    return shape(sim.call("vip_info", {"registry_keys": registry_request()}))


def test_prefer_loopback_values_in_32_bit_view(tmp_path: pathlib.Path) -> None:
    plan = build_prefer_loopback({"processes": ["b.exe", r"C:\A\a.exe", "B.EXE"]}, facts(tmp_path))
    assert plan.processes == ["b.exe", r"C:\A\a.exe"] and plan.warnings == []
    assert plan.values == [
        {"path": citrix.VIP_KEY, "name": "PreferLoopback", "type": "dword", "data": 1, "view": "32"},
        {
            "path": citrix.VIP_KEY,
            "name": "PreferLoopbackProcesses",
            "type": "multistring",
            "data": ["b.exe", r"C:\A\a.exe"],
            "view": "32",
        },
    ]


def test_prefer_loopback_guard_and_force(tmp_path: pathlib.Path) -> None:
    with pytest.raises(PreferLoopbackError, match="not enabled") as err:
        build_prefer_loopback({"processes": ["a.exe"]}, facts(tmp_path, rds_on=False))
    assert CAUTION_EN in str(err.value) and SOURCE in str(err.value)
    forced = build_prefer_loopback({"processes": ["a.exe"], "force": True}, facts(tmp_path, rds_on=False))
    assert len(forced.warnings) == 1 and CAUTION_EN in forced.warnings[0] and forced.values


def test_prefer_loopback_without_vda_is_an_error_even_forced(tmp_path: pathlib.Path) -> None:
    for force in (False, True):
        with pytest.raises(PreferLoopbackError, match="no Citrix VDA"):
            build_prefer_loopback({"processes": ["a.exe"], "force": force}, facts(tmp_path, vda=False))


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("win10_multisession", "Windows 10 Enterprise multi-session.*ServerRdsh"),
        ("win11_multisession", "Windows 11 Enterprise multi-session"),
        ("workstation", "Windows 11 Enterprise .EditionID Enterprise. is not a Windows Server"),
    ],
)
def test_prefer_loopback_unsupported_os_names_the_edition(
    profile: str, message: str, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(PreferLoopbackError, match=message):
        build_prefer_loopback({"processes": ["a.exe"], "force": True}, facts(tmp_path, profile=profile))


def test_prefer_loopback_bad_processes_and_disabled(tmp_path: pathlib.Path) -> None:
    with pytest.raises(PreferLoopbackError, match="processes is empty"):
        build_prefer_loopback({"processes": []}, facts(tmp_path))
    with pytest.raises(ProgramListError, match="wildcards"):
        build_prefer_loopback({"processes": ["a*.exe"]}, facts(tmp_path))
    off = build_prefer_loopback({"state": "disabled"}, {})
    assert [(v["name"], v["state"], v["view"]) for v in off.values] == [
        ("PreferLoopback", "absent", "32"),
        ("PreferLoopbackProcesses", "absent", "32"),
    ]


def test_second_hop_access_denied_says_what_to_do() -> None:
    """store domain_gpo and a remote controller are a second hop from WinRM: access denied names
    become (runas), CredSSP and delegation; the local controller store is not affected."""
    state = ddc_state()
    state["citrix_site"]["delegation"] = False
    state["citrix_site"]["controllers"].append("ddc02.example.test")
    for options in (
        {"store": "domain_gpo", "gpo": "Citrix Policies"},
        {"controller": "ddc02.example.test"},
    ):
        with pytest.raises(VipError, match="Access is denied") as err:
            run(state, {"name": "p", "programs": ["a.exe"], **options})
        for hint in ("second hop", "become: true", "runas", "CredSSP", "delegation"):
            assert hint in str(err.value), hint
    assert run(state, {"name": "p", "programs": ["a.exe"]})["changed"] is True  # local: no second hop


def test_brackets_in_names_round_trip_on_the_simulated_controller() -> None:
    """[ and ] are wildcards for -Path; the hand uses -LiteralPath, so such names are accepted."""
    state = ddc_state()
    options = {"name": "VL [EU]", "programs": ["a.exe"], "delivery_groups": ["Sales [EU]"]}
    first = run(state, options)
    assert first["changed"] is True
    assert first["after"]["filters"] == [
        {"type": "DesktopGroup", "value": "Sales [EU]", "mode": "Allow", "enabled": True}
    ]
    assert run(state, options)["changed"] is False
