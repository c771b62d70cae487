"""DHCP shaping and exclusion decisions, and the simulator twins, without Ansible."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from sessionnet_vip.errors import VipError
from sessionnet_vip.planning import plan_from_dict
from sessionnet_vip.windows import dhcp
from sessionnet_vip.windows.simulator import SPECS, HostSeed, Simulator


def sim(tmp_path: pathlib.Path) -> Simulator:
    return Simulator(str(tmp_path / "dhcp.json"), HostSeed(features=["dhcp_server"]))


def test_seeded_scope_matches_the_example_farm_and_feeds_the_planner(tmp_path: pathlib.Path) -> None:
    raw = sim(tmp_path).call("dhcp_scope_info", {"scope_ids": [], "include_leases": True})
    scopes = dhcp.shape_scopes(raw, "dhcp01")
    assert [(s["scope"], s["subnet"], s["start"], s["end"], s["state"]) for s in scopes] == [
        ("10.20.0.0", "10.20.0.0/24", "10.20.0.100", "10.20.0.199", "active")
    ]
    assert scopes[0]["exclusions"] == [{"start": "10.20.0.100", "end": "10.20.0.109"}]
    assert scopes[0]["reservations"] == ["10.20.0.150", "10.20.0.151"]
    assert scopes[0]["leases"] == ["10.20.0.160", "10.20.0.161", "10.20.0.162"]
    assert scopes[0]["dhcp_server"] == "dhcp01"
    farm = json.loads(
        json.dumps(
            __import__("yaml").safe_load(
                (pathlib.Path(__file__).parents[3] / "examples/farm.yml").read_text()
            )
        )
    )
    assert {
        k: farm["dhcp_scopes"][0][k] for k in ("scope", "start", "end", "exclusions", "reservations")
    } == {k: scopes[0][k] for k in ("scope", "start", "end", "exclusions", "reservations")}
    farm["dhcp_scopes"] = scopes  # the shaped result is accepted by the planner as it is
    assert plan_from_dict(farm)["plan"]


def test_leases_only_when_asked_and_missing_scope_fails(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    assert (
        s.call("dhcp_scope_info", {"scope_ids": ["10.20.0.0"], "include_leases": False})["scopes"][0][
            "leases"
        ]
        == []
    )
    with pytest.raises(VipError, match="no scope 10.99.0.0"):
        s.call("dhcp_scope_info", {"scope_ids": ["10.99.0.0"]})


def test_no_dhcp_role_is_refused(tmp_path: pathlib.Path) -> None:
    plain = Simulator(str(tmp_path / "plain.json"), HostSeed(features=["rds"]))
    with pytest.raises(VipError, match="install the DHCP Server role"):
        plain.call("dhcp_scope_info", {})


def ensure(
    s: Simulator,
    start: str,
    end: str,
    state: str = "present",
    replaces: dict[str, str] | None = None,
    check: bool = False,
) -> dict[str, Any]:
    request = dhcp.exclusion_request("10.20.0.0", start, end, state, replaces)
    return dhcp.shape_exclusion_result(
        request, s.call("dhcp_exclusion_range", request.to_wire(), check_mode=check)
    )


def test_add_change_and_remove_an_exclusion(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    checked = ensure(s, "10.20.0.110", "10.20.0.139", check=True)
    assert checked["changed"] is True
    assert s.read_state()["dhcp"]["scopes"][0]["exclusions"] == [
        {"start_range": "10.20.0.100", "end_range": "10.20.0.109"}
    ]
    added = ensure(s, "10.20.0.110", "10.20.0.139")
    assert added["changed"] and added["diff"]["after"]["exclusions"] == [
        "10.20.0.100-10.20.0.109",
        "10.20.0.110-10.20.0.139",
    ]
    assert ensure(s, "10.20.0.110", "10.20.0.139")["changed"] is False
    grown = ensure(s, "10.20.0.110", "10.20.0.145", replaces={"start": "10.20.0.110", "end": "10.20.0.139"})
    assert grown["changed"] and grown["exclusions"][-1] == {"start": "10.20.0.110", "end": "10.20.0.145"}
    again = ensure(s, "10.20.0.110", "10.20.0.145", replaces={"start": "10.20.0.110", "end": "10.20.0.139"})
    assert again["changed"] is False
    removed = ensure(s, "10.20.0.110", "10.20.0.145", "absent")
    assert removed["changed"] and removed["diff"]["after"]["exclusions"] == ["10.20.0.100-10.20.0.109"]
    # Removing a range that is not there never touches the others.
    assert ensure(s, "10.20.0.100", "10.20.0.105", "absent")["changed"] is False
    assert s.read_state()["dhcp"]["scopes"][0]["exclusions"] == [
        {"start_range": "10.20.0.100", "end_range": "10.20.0.109"}
    ]


def test_reservation_inside_an_exclusion_warns(tmp_path: pathlib.Path) -> None:
    res = ensure(sim(tmp_path), "10.20.0.148", "10.20.0.152")
    assert "still leased" in res["warnings"][0] and "10.20.0.150, 10.20.0.151" in res["warnings"][0]


@pytest.mark.parametrize(
    ("start", "end", "replaces", "message"),
    [
        ("10.20.0.190", "10.20.0.210", None, "outside the scope's range 10.20.0.100-10.20.0.199"),
        ("10.20.0.90", "10.20.0.99", None, "outside the scope's range"),
        ("10.20.0.105", "10.20.0.112", None, "overlaps the existing exclusion"),
        ("10.20.0.105", "10.20.0.112", {"start": "10.20.0.120", "end": "10.20.0.121"}, "overlaps"),
    ],
)
def test_refusals_change_nothing(
    tmp_path: pathlib.Path, start: str, end: str, replaces: dict[str, str] | None, message: str
) -> None:
    s = sim(tmp_path)
    before = s.read_state()["dhcp"]
    with pytest.raises(VipError, match=message):
        ensure(s, start, end, replaces=replaces)
    assert s.read_state()["dhcp"] == before


def test_replaces_changes_an_overlapping_range(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    res = ensure(s, "10.20.0.100", "10.20.0.114", replaces={"start": "10.20.0.100", "end": "10.20.0.109"})
    assert res["diff"]["before"]["exclusions"] == ["10.20.0.100-10.20.0.109"]
    assert res["diff"]["after"]["exclusions"] == ["10.20.0.100-10.20.0.114"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("10.20.0.0", "10.20.0.120", "10.20.0.110", "present", None), "below start"),
        (("10.20.0", "10.20.0.110", "10.20.0.120", "present", None), "scope"),
        (
            ("10.20.0.0", "10.20.0.110", "10.20.0.120", "absent", {"start": "10.20.0.1", "end": "10.20.0.2"}),
            "only for state=present",
        ),
        (("10.20.0.0", "10.20.0.110", "10.20.0.120", "present", {"start": "10.20.0.1"}), "replaces end"),
    ],
)
def test_bad_exclusion_input(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(VipError, match=message):
        dhcp.exclusion_request(*args)


def test_missing_scope_is_named(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    request = dhcp.exclusion_request("10.21.0.0", "10.21.0.5", "10.21.0.6")
    with pytest.raises(VipError, match="no scope 10.21.0.0"):
        dhcp.shape_exclusion_result(request, s.call("dhcp_exclusion_range", request.to_wire()))


def test_simulator_specs_match_the_module_docs() -> None:
    import yaml

    root = pathlib.Path(__file__).parents[3]

    def norm(options: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, doc in options.items():
            entry = {
                k: doc[k]
                for k in ("type", "required", "default", "choices", "elements", "aliases")
                if k in doc
            }
            entry.setdefault("type", "str")
            if entry.get("required") is False:
                del entry["required"]
            sub = doc.get("suboptions") or doc.get("options")
            if sub:
                entry["options"] = norm(sub)
            out[name] = entry
        return out

    for module in ("dhcp_scope_info", "dhcp_exclusion_range", "vip_address_state"):
        namespace: dict[str, Any] = {}
        exec((root / "plugins/modules" / f"{module}.py").read_text(), namespace)
        docs = yaml.safe_load(namespace["DOCUMENTATION"])["options"]
        assert norm(docs) == norm(SPECS[module]), module
        ps1 = (root / "plugins/modules" / f"{module}.ps1").read_text()
        for name in docs:
            assert f"{name} = @{{" in ps1, (module, name)


# --- errors of Get-DhcpServerv4Scope other than "no such scope", and failover partners -----------


def _edit_state(s: Simulator, change: Any) -> None:
    """Change the simulated server's state file directly (what an admin or an outage would do)."""
    state = s.read_state()
    change(state)
    pathlib.Path(s.state_path).write_text(json.dumps(state))


def test_a_service_error_is_not_reported_as_a_missing_scope(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    _edit_state(s, lambda st: st["dhcp"].update(service_error="The RPC server is unavailable."))
    request = dhcp.exclusion_request("10.20.0.0", "10.20.0.110", "10.20.0.119")
    raw = s.call("dhcp_exclusion_range", request.to_wire())
    assert raw["changed"] is False and raw["scope_error"]["category"] == "ConnectionError"
    with pytest.raises(VipError, match="reading the scope failed.*The RPC server is unavailable") as err:
        dhcp.shape_exclusion_result(request, raw)
    assert "no scope" not in str(err.value)


@pytest.mark.parametrize(
    ("error", "missing"),
    [
        ({"category": "ObjectNotFound", "error_id": "x", "message": "m"}, True),
        ({"category": "NotSpecified", "error_id": "DHCP 20005,Get-DhcpServerv4Scope", "message": "m"}, True),
        (
            {"category": "PermissionDenied", "error_id": "WIN32 5,Get-DhcpServerv4Scope", "message": "m"},
            False,
        ),
        (
            {"category": "NotSpecified", "error_id": "DHCP 200050,Get-DhcpServerv4Scope", "message": "m"},
            False,
        ),
    ],
)
def test_only_not_found_means_missing(error: dict[str, Any], missing: bool) -> None:
    assert dhcp.scope_not_found(error) is missing


def failover_scope(s: Simulator, reachable: bool = True) -> None:
    relationship = {
        "name": "dhcp01-dhcp02",
        "partner_server": "dhcp02.example.test",
        "mode": "HotStandby",
        "state": "Normal",
        "partner_reachable": reachable,
    }
    _edit_state(s, lambda st: st["dhcp"]["scopes"][0].update(failover=relationship))


def test_a_change_to_a_failover_scope_is_replicated_to_the_partner(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    failover_scope(s)
    request = dhcp.exclusion_request("10.20.0.0", "10.20.0.110", "10.20.0.119")
    checked = dhcp.shape_exclusion_result(
        request, s.call("dhcp_exclusion_range", request.to_wire(), check_mode=True)
    )
    assert (
        checked["changed"] is True
        and checked["replicated"] is False
        and checked["failover"]["name"] == "dhcp01-dhcp02"
    )
    result = dhcp.shape_exclusion_result(request, s.call("dhcp_exclusion_range", request.to_wire()))
    assert result["replicated"] is True and "failed" not in result
    partner = s.read_state()["dhcp"]["scopes"][0]["failover"]["replicated_exclusions"]
    assert {"start_range": "10.20.0.110", "end_range": "10.20.0.119"} in partner
    again = dhcp.shape_exclusion_result(request, s.call("dhcp_exclusion_range", request.to_wire()))
    assert again["changed"] is False and again["replicated"] is False  # nothing changed, nothing replicated


def test_replication_failure_fails_naming_the_partner_and_opting_out_warns(tmp_path: pathlib.Path) -> None:
    s = sim(tmp_path)
    failover_scope(s, reachable=False)
    request = dhcp.exclusion_request("10.20.0.0", "10.20.0.110", "10.20.0.119")
    result = dhcp.shape_exclusion_result(request, s.call("dhcp_exclusion_range", request.to_wire()))
    assert result["failed"] is True and result["changed"] is True
    assert (
        "dhcp02.example.test" in result["msg"] and "Invoke-DhcpServerv4FailoverReplication" in result["msg"]
    )
    quiet = dhcp.exclusion_request("10.20.0.0", "10.20.0.120", "10.20.0.129", replicate_failover=False)
    warned = dhcp.shape_exclusion_result(quiet, s.call("dhcp_exclusion_range", quiet.to_wire()))
    assert "failed" not in warned and any("dhcp02.example.test" in w for w in warned["warnings"])
