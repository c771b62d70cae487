"""The SVG map and ``vipctl plan``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sessionnet_vip import cli
from sessionnet_vip.addressing import format_address
from sessionnet_vip.plan_svg import (
    EDGE_LABEL_PITCH,
    MIN_SEGMENT_WIDTH,
    plan_with_maps,
    render_plan,
    segments,
    spread,
    widths,
)
from sessionnet_vip.planning import build_request, make_plan, plan_from_dict

ROOT = Path(__file__).resolve().parents[3]
FARM = ROOT / "examples" / "farm.yml"
SVG = "{http://www.w3.org/2000/svg}"


def farm() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FARM.read_text())
    return data


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode())
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_example_svg_is_well_formed_and_labels_every_server() -> None:
    result = make_plan(build_request(farm()))
    docs = render_plan(result)
    assert list(docs) == ["10.20.0.0_24.svg"]
    svg = docs["10.20.0.0_24.svg"]
    words = texts(svg)
    for placement in result.placements:
        (rng,) = placement.ranges
        assert any(w.startswith(placement.server) and str(placement.size) in w for w in words)
        assert any(str(rng) in w for w in words)  # its range, written out
    assert any("10.20.0.0/24" in w for w in words)
    for legend in ("DHCP pool", "DHCP exclusion", "DHCP reservation", "free", "gateway", "reserved"):
        assert legend in words
    # every address of the subnet is in exactly one segment
    report = result.subnets[0]
    segs = segments(report)
    assert segs[0].span.first == int(report.subnet.cidr.network_address)
    assert segs[-1].span.last == int(report.subnet.cidr.broadcast_address)
    assert all(b.span.first == a.span.last + 1 for a, b in itertools.pairwise(segs))


def test_svg_marks_invalid_and_carved_ranges_and_escapes_names() -> None:
    data = farm()
    data["servers"][0]["name"] = "rd<sh>&01"
    data["subnets"][0]["reserved"] += ["10.20.0.30-10.20.0.99", "10.20.0.200-10.20.0.249"]
    data["carve_from_scopes"] = True
    data["existing"] = [
        {
            "server": "rdsh03",
            "subnet": "10.20.0.0/24",
            "ranges": [{"start": "10.20.0.0", "end": "10.20.0.29"}],
        }
    ]
    result = make_plan(build_request(data))
    assert result.exclusions
    svg = render_plan(result)["10.20.0.0_24.svg"]
    words = texts(svg)
    assert any("rd<sh>&01" in w for w in words)
    assert any("INVALID" in w for w in words)
    assert any("exclusion to add" in w for w in words)


def test_large_subnet_stays_within_the_canvas() -> None:
    servers = [
        {"name": f"rdsh{i:03d}", "subnet": "10.64.0.0/16", "max_sessions": 5 + i % 40, "headroom": 10}
        for i in range(60)
    ]
    data = {
        "subnets": [{"cidr": "10.64.0.0/16", "gateway": "10.64.0.1", "reserved": ["10.64.255.0/24"]}],
        "dhcp_scopes": [
            {
                "scope": "10.64.0.0",
                "start": "10.64.16.0",
                "end": "10.64.200.255",
                "exclusions": [{"start": "10.64.16.0", "end": "10.64.16.50"}],
                "reservations": ["10.64.17.5"],
            }
        ],
        "servers": servers,
    }
    result = make_plan(build_request(data))
    svg = render_plan(result)["10.64.0.0_16.svg"]
    root = ET.fromstring(svg.encode())
    width = float(root.attrib["width"])
    for rect in root.iter(f"{SVG}rect"):
        assert (
            float(rect.attrib["x"]) >= 0
            and float(rect.attrib["x"]) + float(rect.attrib["width"]) <= width + 0.01
        )
    words = texts(svg)
    assert all(any(w.startswith(s["name"]) for w in words) for s in servers)
    assert any("square root" in w for w in words)


@given(st.lists(st.integers(1, 2**20), min_size=1, max_size=300), st.booleans())
def test_widths_fill_the_bar_and_respect_the_minimum(sizes: list[int], linear: bool) -> None:
    total = 1110.0
    got = widths(sizes, total, linear)
    assert sum(got) == pytest.approx(total)
    assert min(got) >= min(MIN_SEGMENT_WIDTH, total / len(sizes)) - 1e-9
    # larger segments are never drawn narrower than smaller ones
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    assert all(got[i] <= got[j] + 1e-9 for i, j in itertools.pairwise(order))


@given(st.lists(st.floats(0, 2000, allow_nan=False), min_size=1, max_size=200))
def test_spread_keeps_order_pitch_and_bounds(wanted: list[float]) -> None:
    desired = sorted(wanted)
    pitch, low = 15.0, 20.0
    high = max(1000.0, low + (len(desired) - 1) * pitch)
    got = spread(desired, pitch, low, high)
    assert len(got) == len(desired)
    assert all(b - a >= pitch - 1e-6 for a, b in itertools.pairwise(got))
    assert all(low - 1e-6 <= x <= high + 1e-6 for x in got)
    # labels that are not crowded stay where they were wanted
    if all(b - a >= pitch for a, b in itertools.pairwise(desired)) and all(low <= x <= high for x in desired):
        assert got == desired


def address_labels(svg: str) -> list[tuple[float, str]]:
    root = ET.fromstring(svg.encode())
    return [
        (float(t.attrib["x"]), "".join(t.itertext()))
        for t in root.iter(f"{SVG}text")
        if t.attrib.get("class") == "address"
    ]


@pytest.mark.parametrize("servers", [3, 40, 150])
def test_every_segment_start_is_labelled_and_no_two_labels_overlap(servers: int) -> None:
    """Adjacent one- and two-address segments (the case that used to overlap or drop labels)."""
    data = {
        "subnets": [{"cidr": "10.30.0.0/23", "gateway": "10.30.0.1", "reserved": ["10.30.0.2", "10.30.0.4"]}],
        "dhcp_scopes": [
            {
                "scope": "10.30.0.0",
                "start": "10.30.1.100",
                "end": "10.30.1.200",
                "exclusions": [{"start": "10.30.1.101", "end": "10.30.1.101"}],
                "reservations": ["10.30.1.103", "10.30.1.105"],
            }
        ],
        "servers": [
            {"name": f"rdsh{i:03d}", "subnet": "10.30.0.0/23", "max_sessions": 1 + i % 2, "headroom": 0}
            for i in range(servers)
        ],
    }
    result = make_plan(build_request(data))
    report = result.subnets[0]
    svg = render_plan(result)["10.30.0.0_23.svg"]
    labels = address_labels(svg)
    segs = segments(report)
    assert [text for _, text in labels] == [format_address(s.span.first) for s in segs] + [
        format_address(segs[-1].span.last)
    ]
    xs = [x for x, _ in labels]
    assert all(b - a >= EDGE_LABEL_PITCH - 0.1 for a, b in itertools.pairwise(xs))  # x has 1 decimal
    width = float(ET.fromstring(svg.encode()).attrib["width"])
    assert all(0 <= x <= width for x in xs)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table_json_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["plan", str(FARM)], capsys)
    assert code == 0
    header, *rows = out.splitlines()[:4]
    assert header.split() == ["SERVER", "SUBNET", "RANGES", "SIZE", "NEED", "STATUS"]
    assert [r.split()[0] for r in rows] == ["rdsh01", "rdsh02", "rdsh03"]
    code, out, _ = run_cli(["plan", str(FARM), "--json"], capsys)
    assert code == 0 and json.loads(out) == plan_from_dict(farm())
    code, out, _ = run_cli(["--json", "plan", str(FARM), "--svg", str(tmp_path / "maps")], capsys)
    assert code == 0 and json.loads(out) == plan_from_dict(farm())
    written = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert written == ["10.20.0.0_24.svg"]
    ET.parse(tmp_path / "maps" / "10.20.0.0_24.svg")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = farm()
    data["existing"] = [
        {
            "server": "rdsh01",
            "subnet": "10.20.0.0/24",
            "ranges": [{"start": "10.20.0.120", "end": "10.20.0.141"}],
        }
    ]
    path = tmp_path / "invalid.yml"
    path.write_text(yaml.safe_dump(data))
    code, out, _ = run_cli(["plan", str(path)], capsys)
    assert code == 1 and "Invalid existing assignments" in out and "DHCP pool" in out

    data = farm()
    data["servers"][0]["max_sessions"] = 500
    path.write_text(yaml.safe_dump(data))
    code, out, err = run_cli(["plan", str(path)], capsys)
    assert code == 2 and "subnet 10.20.0.0/24" in err and "missing" in err
    code, out, err = run_cli(["plan", str(path), "--json"], capsys)
    failure = json.loads(out)["failures"][0]
    assert code == 2 and failure["subnet"] == "10.20.0.0/24" and failure["shortfall"] > 0

    path.write_text("subnets: [unclosed")
    code, _, err = run_cli(["plan", str(path)], capsys)
    assert code == 2 and "not valid YAML" in err
    code, _, err = run_cli(["plan", str(tmp_path / "missing.yml")], capsys)
    assert code == 2 and "cannot read" in err


def test_vipctl_plan_in_a_real_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "sessionnet_vip", "plan", str(FARM), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == plan_from_dict(farm())


def test_plan_with_maps_for_the_action_plugin() -> None:
    result, maps = plan_with_maps(farm())
    assert result == plan_from_dict(farm())
    assert list(maps) == ["10.20.0.0_24.svg"]
    ET.fromstring(maps["10.20.0.0_24.svg"].encode())
