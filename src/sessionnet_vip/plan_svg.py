"""An SVG map of each planned subnet: who holds which addresses, and what is still free.

One horizontal bar per subnet, from the network address to the broadcast address, cut into
segments: network/broadcast, gateway, reserved, DHCP reservations and leases, each server's
range (labelled with its name and size; hatched where an exclusion must be added), DHCP
exclusions, DHCP pool and free space. The first address of every segment (and the subnet's last
address) is written above the bar, slanted; where segments are too narrow for their labels, the
labels are spread apart (:func:`spread`) and joined to their address by a leader line, and the
drawing widens when the bar is too short for all of them, so no two labels overlap and none is
left out. Server labels sit below, on as many lanes as they need; a legend and a table of every
segment follow.

Widths follow the number of addresses for subnets up to 1,024 addresses; for larger subnets
they follow its square root, so a /16 stays readable. Every segment is at least
:data:`MIN_SEGMENT_WIDTH` pixels wide. Pure string building, no dependencies.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessionnet_vip.addressing import Span, format_address, format_span, normalise, subtract
from sessionnet_vip.coerce import brief
from sessionnet_vip.errors import VipError
from sessionnet_vip.planning import STATUS_INVALID, PlanResult, SubnetReport, build_request, make_plan

WIDTH = 1200
MARGIN = 20
BAR_Y = 150
BAR_HEIGHT = 40
MIN_SEGMENT_WIDTH = 4.0
#: Room right of the bar for the last (slanted) address.
RIGHT_ROOM = 50
#: Subnets with more addresses than this are drawn with widths following sqrt(size).
LINEAR_LIMIT = 1024
_CHAR_WIDTH = 6.6  # average width of a 11-12 px sans-serif character
#: Slant of the address labels above the bar, in degrees from the horizontal.
EDGE_LABEL_ANGLE = 55.0
#: Font size of the address labels, and the distance between the baselines of two neighbouring
#: slanted labels (measured across them) that keeps their glyphs apart.
EDGE_LABEL_SIZE = 10
_EDGE_LABEL_LINE = 12.5
#: Smallest horizontal distance between two address labels: parallel baselines this far apart
#: horizontally are ``_EDGE_LABEL_LINE`` apart across the text.
EDGE_LABEL_PITCH = _EDGE_LABEL_LINE / math.sin(math.radians(EDGE_LABEL_ANGLE))
#: Height of the leader line between an address and its (possibly shifted) label.
_LEADER = 16

#: kind -> (fill colour, legend text)
KINDS: dict[str, tuple[str, str]] = {
    "edge": ("#424242", "network / broadcast address"),
    "gateway": ("#000000", "gateway"),
    "reserved": ("#9e9e9e", "reserved"),
    "dhcp_reservation": ("#ab47bc", "DHCP reservation"),
    "lease": ("#ce93d8", "DHCP lease"),
    "server": ("#ef6c00", "server range (one colour each)"),
    "invalid": ("#d50000", "invalid server range"),
    "exclusion": ("#ffca28", "DHCP exclusion"),
    "pool": ("#64b5f6", "DHCP pool"),
    "free": ("#e8f5e9", "free"),
}
_SERVER_COLOURS = ("#ef6c00", "#00897b", "#6d4c41", "#5e35b1", "#c0ca33", "#d81b60")


def escape(text: str) -> str:
    """XML character data: ``&``, ``<`` and ``>`` escaped (what ``xml.sax.saxutils.escape`` does,
    without importing it: that module pulls in urllib, http and email at start-up)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Segment:
    span: Span
    kind: str
    label: str
    colour: str
    #: text for the table
    detail: str
    carved: bool = False


def _layers(report: SubnetReport) -> list[tuple[list[Span], str, str, str, str, bool]]:
    """(spans, kind, label, colour, detail, carved), highest priority first."""
    subnet = report.subnet
    net, bcast = int(subnet.cidr.network_address), int(subnet.cidr.broadcast_address)
    layers: list[tuple[list[Span], str, str, str, str, bool]] = [
        ([Span(net, net)], "edge", "", KINDS["edge"][0], "network address", False),
        ([Span(bcast, bcast)], "edge", "", KINDS["edge"][0], "broadcast address", False),
    ]
    if subnet.gateway is not None:
        layers.append(
            ([Span(subnet.gateway, subnet.gateway)], "gateway", "", KINDS["gateway"][0], "gateway", False)
        )
    layers.append((list(subnet.reserved), "reserved", "", KINDS["reserved"][0], "reserved", False))
    for scope in report.scopes:
        layers.append(
            (
                list(scope.reservations),
                "dhcp_reservation",
                "",
                KINDS["dhcp_reservation"][0],
                f"DHCP reservation (scope {scope.scope})",
                False,
            )
        )
        layers.append(
            (list(scope.leases), "lease", "", KINDS["lease"][0], f"DHCP lease (scope {scope.scope})", False)
        )
    # valid ranges are painted over invalid ones they overlap
    ranked = sorted(report.placements, key=lambda p: (p.status == STATUS_INVALID, p.server))
    for placement in ranked:
        carved = normalise(span for _scope, span in placement.carved)
        plain = subtract(list(placement.ranges), carved)
        if placement.status == STATUS_INVALID:
            kind, colour = "invalid", KINDS["invalid"][0]
            detail = f"server {placement.server}: INVALID ({placement.reason})"
        else:
            kind, colour = "server", _server_colour(report, placement.server)
            detail = f"server {placement.server} (needs {placement.need}, {placement.status})"
        label = f"{placement.server} · {placement.size}"
        layers.append((plain, kind, label, colour, detail, False))
        if carved:
            scopes = ", ".join(sorted({scope for scope, _span in placement.carved}))
            layers.append(
                (carved, kind, label, colour, f"{detail}; exclusion to add in scope {scopes}", True)
            )
    for scope in report.scopes:
        layers.append(
            (
                list(scope.exclusions),
                "exclusion",
                "",
                KINDS["exclusion"][0],
                f"DHCP exclusion (scope {scope.scope})",
                False,
            )
        )
        pool = subtract([scope.range], list(scope.exclusions))
        layers.append((pool, "pool", "", KINDS["pool"][0], f"DHCP pool (scope {scope.scope})", False))
    return layers


def _server_colour(report: SubnetReport, server: str) -> str:
    names = sorted(p.server for p in report.placements)
    return _SERVER_COLOURS[names.index(server) % len(_SERVER_COLOURS)]


def segments(report: SubnetReport) -> list[Segment]:
    """Cut the subnet into segments, each address painted by the highest layer holding it."""
    whole = [Span(int(report.subnet.cidr.network_address), int(report.subnet.cidr.broadcast_address))]
    painted: list[Span] = []
    out: list[Segment] = []
    for spans, kind, label, colour, detail, carved in _layers(report):
        out.extend(
            Segment(p, kind, label, colour, detail, carved) for p in subtract(normalise(spans), painted)
        )
        painted = normalise([*painted, *spans])
    for span in subtract(whole, painted):
        out.append(Segment(span, "free", "", KINDS["free"][0], "free"))
    out.sort(key=lambda s: s.span)
    # merge neighbours that say the same thing
    merged: list[Segment] = []
    for seg in out:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.span.last + 1 == seg.span.first
            and (prev.kind, prev.label, prev.detail, prev.carved)
            == (seg.kind, seg.label, seg.detail, seg.carved)
        ):
            merged[-1] = Segment(Span(prev.span.first, seg.span.last), *_rest(seg))
        else:
            merged.append(seg)
    return merged


def _rest(seg: Segment) -> tuple[str, str, str, str, bool]:
    return seg.kind, seg.label, seg.colour, seg.detail, seg.carved


def widths(sizes: Sequence[int], total_width: float, linear: bool) -> list[float]:
    """Pixel widths for segments of ``sizes``: proportional (or to sqrt), each >= the minimum."""
    if not sizes:
        return []
    weights = [float(s) if linear else math.sqrt(s) for s in sizes]
    minimum = min(MIN_SEGMENT_WIDTH, total_width / len(sizes))
    fixed = [False] * len(sizes)
    while True:
        free_width = total_width - minimum * sum(fixed)
        free_weight = sum(w for w, f in zip(weights, fixed, strict=True) if not f)
        changed = False
        for i, w in enumerate(weights):
            if not fixed[i] and free_weight > 0 and w * free_width / free_weight < minimum:
                fixed[i] = True
                changed = True
        if not changed:
            break
    return [minimum if f else w * free_width / free_weight for w, f in zip(weights, fixed, strict=True)]


def spread(desired: Sequence[float], pitch: float, low: float, high: float) -> list[float]:
    """Positions for labels wanted at ``desired`` (ascending), each at least ``pitch`` from the next.

    Labels keep their order and move as little as this simple two-pass rule allows: first pushed
    right where they crowd, then pulled back left of ``high``. Every position stays within
    ``[low, high]`` when ``(len(desired) - 1) * pitch <= high - low``; the caller widens the
    drawing when it is not.
    """
    out: list[float] = []
    for want in desired:
        out.append(max(want, low) if not out else max(want, out[-1] + pitch))
    limit = high
    for i in range(len(out) - 1, -1, -1):
        if out[i] > limit:
            out[i] = limit
        limit = out[i] - pitch
    return out


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def render_subnet(report: SubnetReport) -> str:
    """The SVG document of one subnet."""
    subnet = report.subnet
    segs = segments(report)
    count = subnet.cidr.num_addresses
    linear = count <= LINEAR_LIMIT
    # one address label per segment start plus the last address: widen the drawing when the
    # bar is too short to hold them all side by side
    bar_width = max(WIDTH - 2 * MARGIN - RIGHT_ROOM, math.ceil(len(segs) * EDGE_LABEL_PITCH))
    width = bar_width + 2 * MARGIN + RIGHT_ROOM
    ws = widths([s.span.size for s in segs], bar_width, linear)
    xs: list[float] = []
    x = float(MARGIN)
    for w in ws:
        xs.append(x)
        x += w
    body: list[str] = []

    # title
    servers = [p for p in report.placements if p.status != STATUS_INVALID]
    planned = sum(p.size for p in servers)
    free = sum(s.size for s in report.free_outside)
    title = f"Subnet {subnet.cidr}"
    if subnet.gateway is not None:
        title += f" - gateway {format_address(subnet.gateway)}"
    body.append(_text(MARGIN, 28, title, 18, extra=' font-weight="bold"'))
    summary = (
        f"{len(servers)} server(s), {planned} address(es) planned; {free} free outside DHCP scopes; "
        f"{sum(s.size for _scope, s in report.carvable)} free inside scope pools"
    )
    invalid = [p for p in report.placements if p.status == STATUS_INVALID]
    if invalid:
        summary += f"; {len(invalid)} INVALID"
    body.append(_text(MARGIN, 48, summary, 12))

    # segments
    for seg, x0, w in zip(segs, xs, ws, strict=True):
        body.append(
            f'<rect x="{x0:.2f}" y="{BAR_Y}" width="{w:.2f}" height="{BAR_HEIGHT}" fill="{seg.colour}" '
            f'stroke="#ffffff" stroke-width="0.6"><title>{escape(format_span(seg.span))}: '
            f"{escape(seg.detail)} ({seg.span.size})</title></rect>"
        )
        if seg.carved:
            body.append(
                f'<rect x="{x0:.2f}" y="{BAR_Y}" width="{w:.2f}" height="{BAR_HEIGHT}" '
                'fill="url(#carved)" stroke="#000000" stroke-dasharray="3,2" stroke-width="1"/>'
            )
        inner = {"pool": "DHCP pool", "exclusion": "excluded", "free": "free", "reserved": "reserved"}.get(
            seg.kind
        )
        if inner and len(inner) * 6.0 + 6 < w:
            colour = "#1b5e20" if seg.kind == "free" else "#000000"
            body.append(
                _text(x0 + w / 2, BAR_Y + BAR_HEIGHT / 2 + 4, inner, 11, "middle", f' fill="{colour}"')
            )
    body.append(
        f'<rect x="{MARGIN}" y="{BAR_Y}" width="{bar_width}" height="{BAR_HEIGHT}" fill="none" '
        'stroke="#616161" stroke-width="1"/>'
    )

    # the first address of every segment and the last address above the bar, slanted; crowded
    # labels are spread apart and joined to their address by a leader line
    edges: list[tuple[float, str, str]] = []
    for seg, x0 in zip(segs, xs, strict=True):
        colour = seg.colour if seg.kind in ("server", "invalid") else "#212121"
        edges.append((x0, format_address(seg.span.first), colour))
    edges.append((xs[-1] + ws[-1], format_address(segs[-1].span.last), "#212121"))
    at = spread([e[0] for e in edges], EDGE_LABEL_PITCH, MARGIN, MARGIN + bar_width)
    top = BAR_Y - _LEADER
    for (ex, text, colour), lx in zip(edges, at, strict=True):
        body.append(
            f'<polyline points="{ex:.2f},{BAR_Y} {ex:.2f},{BAR_Y - 5} {lx:.2f},{top + 3} {lx:.2f},{top}" '
            'fill="none" stroke="#616161" stroke-width="0.8"/>'
        )
        rotate = f' transform="rotate({-EDGE_LABEL_ANGLE:g} {lx + 2:.2f} {top - 2})" fill="{colour}"'
        body.append(_text(lx + 2, top - 2, text, EDGE_LABEL_SIZE, extra=f' class="address"{rotate}'))

    # server labels (name, size, range) on lanes below the bar, one per planned range
    firsts = [seg.span.first for seg in segs]

    def x_of(address: float) -> float:
        i = max(bisect.bisect_right(firsts, int(address)) - 1, 0)
        seg = segs[i]
        return xs[i] + ws[i] * (address - seg.span.first) / seg.span.size

    lanes: list[list[tuple[float, float]]] = []
    label_texts: list[str] = []
    lane_top = BAR_Y + BAR_HEIGHT + 24
    lane_height = 34
    labels = sorted(((r, p) for p in report.placements for r in p.ranges), key=lambda pair: pair[0])
    for rng, placement in labels:
        is_invalid = placement.status == STATUS_INVALID
        colour = KINDS["invalid"][0] if is_invalid else _server_colour(report, placement.server)
        name = f"{placement.server} · {rng.size}"
        if len(placement.ranges) > 1:
            name += f" of {placement.size}"
        if is_invalid:
            name += " (INVALID)"
        carved = any(span.first <= rng.last and rng.first <= span.last for _scope, span in placement.carved)
        where = format_span(rng) + (" (exclusion to add)" if carved else "")
        text_w = max(len(name) * _CHAR_WIDTH * 1.05, len(where) * _CHAR_WIDTH * 0.9)
        centre = (x_of(rng.first) + x_of(rng.last + 1 - 1e-9)) / 2
        left = min(max(centre - text_w / 2, MARGIN), width - MARGIN - text_w)
        lane = 0
        while lane < len(lanes) and any(left < b + 10 and a < left + text_w + 10 for a, b in lanes[lane]):
            lane += 1
        if lane == len(lanes):
            lanes.append([])
        lanes[lane].append((left, left + text_w))
        ly = lane_top + lane * lane_height
        body.append(
            f'<line x1="{centre:.2f}" y1="{BAR_Y + BAR_HEIGHT}" x2="{centre:.2f}" y2="{ly - 12}" '
            f'stroke="{colour}" stroke-width="1"/>'
        )
        # texts after every leader line, with a white halo, so no line crosses a label
        halo = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'
        label_texts.append(_text(left, ly, name, 12, extra=f' fill="{colour}" font-weight="bold"{halo}'))
        label_texts.append(_text(left, ly + 13, where, 10, extra=f' fill="#424242"{halo}'))
    body.extend(label_texts)
    y = lane_top + max(len(lanes), 1) * lane_height + 6

    # legend
    used = {s.kind for s in segs}
    x = float(MARGIN)
    for kind, (colour, text) in KINDS.items():
        if kind not in used and kind not in ("free", "pool", "server"):
            continue
        if x + 30 + len(text) * _CHAR_WIDTH > width - MARGIN:
            x = float(MARGIN)
            y += 20
        body.append(
            f'<rect x="{x:.1f}" y="{y - 11}" width="14" height="14" fill="{colour}" stroke="#616161" '
            'stroke-width="0.5"/>'
        )
        body.append(_text(x + 19, y, text, 12))
        x += 30 + len(text) * _CHAR_WIDTH
    if any(s.carved for s in segs):
        text = "exclusion to add"
        if x + 30 + len(text) * _CHAR_WIDTH > width - MARGIN:
            x = float(MARGIN)
            y += 20
        body.append(
            f'<rect x="{x:.1f}" y="{y - 11}" width="14" height="14" fill="url(#carved)" stroke="#000000" '
            'stroke-dasharray="3,2"/>'
        )
        body.append(_text(x + 19, y, text, 12))
    y += 14
    if not linear:
        y += 14
        body.append(
            _text(
                MARGIN,
                y,
                f"Widths follow the square root of each segment's size (this subnet has {count} addresses).",
                11,
                extra=' fill="#616161"',
            )
        )

    # table of segments
    y += 28
    body.append(_text(MARGIN, y, "Range", 12, extra=' font-weight="bold"'))
    body.append(_text(MARGIN + 260, y, "Size", 12, "end", ' font-weight="bold"'))
    body.append(_text(MARGIN + 280, y, "What", 12, extra=' font-weight="bold"'))
    for seg in segs:
        y += 17
        body.append(f'<rect x="{MARGIN}" y="{y - 10}" width="8" height="10" fill="{seg.colour}"/>')
        body.append(_text(MARGIN + 14, y, format_span(seg.span), 12, extra=' font-family="monospace"'))
        body.append(_text(MARGIN + 260, y, str(seg.span.size), 12, "end", ' font-family="monospace"'))
        body.append(_text(MARGIN + 280, y, seg.detail, 12))
    notes = [
        f"exclusion to add in scope {scope}: {format_span(span)} ({span.size}) for {p.server}"
        for p in report.placements
        for scope, span in p.carved
    ]
    notes += [
        f"INVALID {p.server}: {', '.join(format_span(r) for r in p.ranges)}: {p.reason}"
        for p in report.placements
        if p.status == STATUS_INVALID
    ]
    if notes:
        y += 10
    for note in notes:
        y += 17
        colour = KINDS["invalid"][0] if note.startswith("INVALID") else "#000000"
        body.append(_text(MARGIN, y, note, 12, extra=f' fill="{colour}"'))
    height = int(y + 20)

    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">\n'
        f"<title>{escape(f'Virtual IP plan of subnet {subnet.cidr}')}</title>\n"
        '<defs><pattern id="carved" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#000000" '
        'stroke-width="1.5" stroke-opacity="0.45"/></pattern></defs>\n'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>\n'
    )
    return head + "\n".join(body) + "\n</svg>\n"


def file_name(report: SubnetReport) -> str:
    """``10.20.0.0_24.svg`` for 10.20.0.0/24."""
    return str(report.subnet.cidr).replace("/", "_") + ".svg"


def render_plan(result: PlanResult) -> dict[str, str]:
    """One SVG document per subnet, keyed by :func:`file_name`."""
    return {file_name(r): render_subnet(r) for r in result.subnets}


def plan_with_maps(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`~sessionnet_vip.planning.plan_from_dict` plus the SVG maps, from one planning run.

    Returns ``(result, {file name: svg text})``; for an action plugin with an SVG option.
    """
    result = make_plan(build_request(data))
    return result.to_dict(), render_plan(result)


def check_svg_dir(directory: str | Path) -> Path:
    """Refuse an SVG directory that cannot be one (an existing file, or below a file) before
    anything is planned or written."""
    target = Path(directory)
    if "\0" in str(directory):
        raise VipError(f"--svg {brief(str(directory))} holds a NUL character; give a directory path")
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "" if probe == target else f" (its ancestor {brief(str(probe))} is a file)"
        raise VipError(
            f"--svg {brief(str(target))} is not a directory{where}; give a directory (created if missing)"
        )
    return target


def write_svgs(result: PlanResult, directory: str | Path) -> list[Path]:
    """Write one ``<subnet>.svg`` per subnet into ``directory`` (created if missing)."""
    target = check_svg_dir(directory)
    pages = render_plan(result)
    for name in pages:
        if (target / name).is_dir():
            raise VipError(f"{target / name} is a directory; remove it or choose another --svg directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, svg in pages.items():
            path = target / name
            path.write_text(svg, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise VipError(f"cannot write the SVG maps to {target}: {exc.strerror or exc}; check --svg") from None
    return written


__all__ = ["file_name", "plan_with_maps", "render_plan", "render_subnet", "segments", "spread", "widths", "write_svgs"]
