"""The facts cache (sessionnet_vip.windows.facts_cache): a patched entry equals a fresh read.

Every case runs the change set through the simulator (the Windows-side twin) and compares the
cache, patched with what we sent, against vip_info read again from the same host.
"""

from __future__ import annotations

import pathlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sessionnet_vip.windows import citrix, facts, facts_cache, rds, simulator
from sessionnet_vip.windows import registry as reg


def _registry_view(raw: dict[str, Any]) -> dict[tuple[str, str], tuple[bool, dict[str, Any]]]:
    return {
        reg.key_identity(reg.parse_key(k["path"]), str(k["view"])): (
            bool(k["exists"]),
            {str(v["name"]).casefold(): (v["type"], v["data"]) for v in k["values"]},
        )
        for k in raw["registry"]
    }


def _host(tmp: pathlib.Path) -> simulator.Simulator:
    return simulator.Simulator(
        str(tmp / "h.json"), simulator.HostSeed(profile="server2019", features=["rds", "citrix_vda"])
    )


def _read(sim: simulator.Simulator) -> dict[str, Any]:
    return sim.call(
        "vip_info", {"registry_keys": facts.registry_request(), "cim_classes": facts.cim_request()}
    )


def test_patched_entry_equals_a_fresh_read_after_values_and_key_removal(tmp_path: pathlib.Path) -> None:
    sim = _host(tmp_path)
    entry = facts_cache.make_entry("play:x", "h", facts.registry_request(), _read(sim))
    change = {
        "values": [
            {
                "path": rds.POLICY_KEY,
                "name": rds.ENABLE,
                "type": "dword",
                "data": "1",
                "state": "present",
                "view": "64",
            },
            {
                "path": rds.POLICY_KEY,
                "name": rds.PROGRAMS,
                "type": "multistring",
                "data": ["b.exe", "a.exe"],
                "state": "present",
                "view": "64",
            },
            {
                "path": citrix.VIP_KEY,
                "name": "PreferLoopback",
                "type": "dword",
                "data": "1",
                "state": "present",
                "view": citrix.VIP_VIEW,
            },
        ],
        "keys_absent": [{"path": rds.LSP_CATALOG_KEY, "view": "64"}],
    }
    sim.call("registry_state", change)
    patched = facts_cache.apply_registry_writes(entry, change["values"], change["keys_absent"])
    assert patched is not None
    assert _registry_view(patched["raw"]) == _registry_view(_read(sim))
    # ... and shaped facts agree too
    assert (
        facts.shape(patched["raw"])["rds_ip_virtualization"]
        == facts.shape(_read(sim))["rds_ip_virtualization"]
    )


@settings(max_examples=25, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from([rds.ENABLE, rds.MODE, "Other"]),
            st.sampled_from(["present", "absent"]),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=6,
    )
)
def test_any_sequence_of_value_writes_keeps_the_cache_true(
    tmp_path_factory: Any, ops: list[tuple[str, str, int]]
) -> None:
    sim = _host(tmp_path_factory.mktemp("h"))
    entry: dict[str, Any] | None = facts_cache.make_entry("run:x", "h", facts.registry_request(), _read(sim))
    for name, state, data in ops:
        values = [
            {
                "path": rds.LOCAL_KEY,
                "name": name,
                "type": "dword",
                "data": str(data),
                "state": state,
                "view": "64",
            }
        ]
        sim.call("registry_state", {"values": values, "keys_absent": []})
        assert entry is not None
        entry = facts_cache.apply_registry_writes(entry, values, [])
    assert entry is not None
    assert _registry_view(entry["raw"]) == _registry_view(_read(sim))


def test_a_moved_key_and_a_cim_property_are_followed(tmp_path: pathlib.Path) -> None:
    sim = _host(tmp_path)
    entry = facts_cache.make_entry("play:x", "h", facts.registry_request(), _read(sim))
    moved = [{"path": rds.LSP_CATALOG_KEY, "to": rds.LSP_CATALOG_BACKUP_KEY, "view": "64"}]
    cim = [
        {
            "namespace": rds.WMI_NAMESPACE,
            "class_name": rds.WMI_CLASS,
            "property": rds.WMI_LOOPBACK_PROPERTY,
            "value": 1,
            "method": rds.WMI_LOOPBACK_METHOD,
        }
    ]
    answer = sim.call(
        "registry_state", {"values": [], "keys_absent": [], "keys_moved": moved, "cim_properties": cim}
    )
    patched = facts_cache.apply_registry_writes(entry, [], [], moved, cim, answer["moves"])
    assert patched is not None
    fresh = _read(sim)
    assert _registry_view(patched["raw"]) == _registry_view(fresh)
    assert patched["raw"]["cim"] == fresh["cim"]
    # without the answer's "moves" the cache cannot know whether the key moved
    assert facts_cache.apply_registry_writes(entry, [], [], moved, [], None) is None


def test_writes_below_a_cached_key_or_deleting_its_sub_key_invalidate(tmp_path: pathlib.Path) -> None:
    entry = facts_cache.make_entry("play:x", "h", facts.registry_request(), _read(_host(tmp_path)))
    below = [{"path": rds.POLICY_KEY + r"\Sub", "name": "x", "type": "dword", "data": "1", "view": "64"}]
    assert facts_cache.apply_registry_writes(entry, below, []) is None
    assert (
        facts_cache.apply_registry_writes(entry, [], [{"path": rds.POLICY_KEY + r"\Sub", "view": "64"}])
        is None
    )
    elsewhere = [
        {"path": r"HKLM:\SOFTWARE\Unrelated", "name": "x", "type": "dword", "data": "1", "view": "64"}
    ]
    assert facts_cache.apply_registry_writes(entry, elsewhere, []) == entry


def test_lookup_answers_only_its_scope_host_and_keys(tmp_path: pathlib.Path) -> None:
    keys = facts.registry_request()
    entry = facts_cache.make_entry("play:1", "h", keys, _read(_host(tmp_path)))
    assert facts_cache.lookup(entry, "play:1", "h", keys) == entry["raw"]
    assert facts_cache.lookup(entry, "play:1", "h", keys[:2]) == entry["raw"]  # a subset is covered
    assert facts_cache.lookup(entry, "play:2", "h", keys) is None
    assert facts_cache.lookup(entry, "play:1", "other", keys) is None
    assert facts_cache.lookup(entry, "play:1", "h", [*keys, {"path": r"HKLM:\SOFTWARE\X"}]) is None
    assert facts_cache.lookup(None, "play:1", "h", keys) is None
    assert facts_cache.lookup({"schema": 0}, "play:1", "h", keys) is None
