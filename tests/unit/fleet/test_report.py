"""The drift report (sessionnet_vip.fleet.report): records in, counts, rows and two files out."""

from __future__ import annotations

import html.parser
import pathlib
from typing import Any

import pytest

from sessionnet_vip.fleet import report
from sessionnet_vip.windows import registry as reg

KEY = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services\TSAppSrv\VirtualIP"


def registry_diff(have: dict[str, tuple[str, Any]], want: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """The diff registry_state really produces for ``want`` against a host holding ``have``."""
    values = reg.parse_values(
        [{"path": KEY, "name": n, "type": t, "data": d} for n, (t, d) in want.items()], ("HKLM",)
    )
    raw = {
        "values": [
            {
                "exists": v.name in have,
                "type": have[v.name][0] if v.name in have else None,
                "data": reg.value_to_wire(
                    reg.parse_values(
                        [{"path": KEY, "name": v.name, "type": have[v.name][0], "data": have[v.name][1]}],
                        ("HKLM",),
                    )[0]
                )["data"]
                if v.name in have
                else None,
            }
            for v in values
        ],
        "keys": [],
    }
    shaped = reg.shape_result(values, [], raw)
    return {"changed": shaped.changed, "diff": shaped.diff}


def test_a_drifted_registry_value_shows_name_and_before_after_from_the_modules_diff() -> None:
    result = registry_diff(
        {"Enable": ("dword", 0), "VirtualMode": ("dword", 1)},
        {"Enable": ("dword", 1), "VirtualMode": ("dword", 1)},
    )
    row = report.feature_row(
        {"host": "rdsh01", "feature": "rds_ip_virtualization", "status": "ok", "results": [result]}
    )
    assert row.state == "drifted"
    assert [(v.name.rsplit("\\", 1)[-1], v.before, v.after) for v in row.values] == [
        ("Enable", "0x00000000 (dword)", "0x00000001 (dword)")
    ]
    assert row.values[0].name.lower().startswith("hklm")


def test_a_missing_value_is_absent_before() -> None:
    result = registry_diff({}, {"Enable": ("dword", 1)})
    row = report.feature_row({"host": "h", "feature": "f", "status": "ok", "results": [result]})
    assert row.values[0].before == report.ABSENT


def test_unchanged_and_skipped_results_are_in_sync_and_looped_results_are_walked() -> None:
    looped = {"results": [{"changed": False}, {"skipped": True, "changed": True}]}
    row = report.feature_row({"host": "h", "feature": "f", "status": "ok", "results": [looped, {}]})
    assert row.state == "in sync" and row.values == []
    text = {"changed": True, "diff": {"before": "a\n", "after": "b\n", "after_header": "/etc/x"}}
    row = report.feature_row({"host": "h", "feature": "f", "status": "ok", "results": [{"results": [text]}]})
    assert row.state == "drifted" and row.values == [report.DriftValue("/etc/x", "a\n", "b\n")]


def test_nested_lists_and_keys_created() -> None:
    diff = {
        "before": {"Ethernet": {"addresses": ["10.0.0.1/24 (source)"]}},
        "after": {
            "Ethernet": {"addresses": ["10.0.0.1/24 (source)", "10.0.0.50-10.0.0.60/24 (SkipAsSource)"]},
            r"HKLM\X": {},
        },
    }
    values = report.diff_values(diff)
    assert (
        report.DriftValue(
            r"Ethernet\addresses",
            "10.0.0.1/24 (source)",
            "10.0.0.1/24 (source), 10.0.0.50-10.0.0.60/24 (SkipAsSource)",
        )
        in values
    )
    assert report.DriftValue(r"HKLM\X", "(no key)", "(key)") in values


def records() -> list[dict[str, Any]]:
    drift = registry_diff({"Enable": ("dword", 0)}, {"Enable": ("dword", 1)})
    return [
        {"host": "a", "feature": "rds_ip_virtualization", "status": "ok", "results": [{"changed": False}]},
        {"host": "a", "feature": "vip_ranges", "status": "ok", "results": [{"changed": False}]},
        {"host": "b", "feature": "rds_ip_virtualization", "status": "ok", "results": [drift]},
        {"host": "b", "feature": "vip_ranges", "status": "ok", "results": []},
        {
            "host": "c",
            "feature": "rds_ip_virtualization",
            "status": "failed",
            "msg": "refused: <workstation>",
        },
        {
            "host": "d",
            "feature": "vip_agent",
            "status": "ok",
            "results": [],
            "drift": [{"name": "sessionnet-vip engine", "before": "not running", "after": "running"}],
        },
    ]


def test_counts_take_each_hosts_worst_state_and_missing_targets_are_unreachable() -> None:
    data = report.build_report(records(), targets={"rds_ip_virtualization": ["a", "b", "c", "e"]})
    assert data["counts"] == {"in sync": 1, "drifted": 2, "failed": 1, "unreachable": 1}
    assert data["hosts"] == {
        "a": "in sync",
        "b": "drifted",
        "c": "failed",
        "d": "drifted",
        "e": "unreachable",
    }
    assert data["failed_hosts"] == ["c"] and data["unreachable_hosts"] == ["e"]
    assert data["drift_found"] is True
    assert {u["host"]: u["agent"] for u in data["usage"]} == {"a": False, "b": False, "c": False, "e": False}


def test_no_drift_when_everything_is_in_sync() -> None:
    data = report.build_report(records()[:2])
    assert data["drift_found"] is False and data["counts"]["in sync"] == 1


def test_usage_and_applications_sections() -> None:
    usage = {
        "lx1": {
            "agent": True,
            "status": {
                "pool": "198.51.100.10-198.51.100.49",
                "pool_size": 40,
                "in_use": 3,
                "held": 1,
                "free": 36,
                "exhausted_events": 2,
                "data_plane": {"active": False, "reason": "no bpf"},
            },
        },
        "lx2": {"agent": False, "msg": "no agent: vipctl not found"},
    }
    apps = {
        "h1": {
            "programs": [
                {
                    "exe": r"C:\A\a.exe",
                    "recommendation": "none",
                    "needs": [],
                    "reasons": ["x"],
                    "evidence": {"ports": [1]},
                }
            ]
        },
        "h2": {
            "programs": [
                {
                    "exe": r"c:\a\A.EXE",
                    "recommendation": "virtual_ip",
                    "needs": ["virtual_ip"],
                    "reasons": ["y"],
                    "evidence": {"ports": [9000]},
                }
            ]
        },
    }
    data = report.build_report([], usage, apps)
    lx1 = next(u for u in data["usage"] if u["host"] == "lx1")
    assert (lx1["pool_size"], lx1["in_use"], lx1["exhausted_events"], lx1["data_plane"]) == (
        40,
        3,
        2,
        "inactive: no bpf",
    )
    assert next(u for u in data["usage"] if u["host"] == "lx2")["msg"] == "no agent: vipctl not found"
    (app,) = data["applications"]
    assert (
        app["hosts"] == ["h1", "h2"] and app["ports"] == [1, 9000] and app["recommendation"] == "virtual_ip"
    )


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_is_self_contained_escaped_and_markdown_has_the_same_rows(tmp_path: pathlib.Path) -> None:
    data = report.build_report(records(), targets={"rds_ip_virtualization": ["e"]})
    files = report.write_report(data, str(tmp_path / "out"))
    page = pathlib.Path(files["report.html"]).read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    assert parser.refs == [] and "script" not in parser.tags and "link" not in parser.tags
    assert "refused: &lt;workstation&gt;" in page and "<workstation>" not in page
    assert 'id="count-drifted" data-count="2"' in page
    md = pathlib.Path(files["report.md"]).read_text(encoding="utf-8")
    assert "| 1 | 2 | 1 | 1 |" in md
    assert "0x00000000 (dword) → 0x00000001 (dword)" in md
    assert "- c" in md and "- e" in md


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"feature": "f", "status": "ok"}, "'host' is missing"),
        ({"host": "h", "feature": "f", "status": "weird"}, "status 'weird'"),
    ],
)
def test_bad_records_name_the_input(record: dict[str, Any], message: str) -> None:
    with pytest.raises(report.ReportInputError, match=message):
        report.build_report([record])


def test_an_empty_report_dir_is_refused() -> None:
    with pytest.raises(report.ReportInputError, match="vip_report_dir"):
        report.write_report(report.build_report([]), "")
