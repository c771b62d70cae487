"""``vipctl plan FILE.yml``: plan virtual-IP ranges for a farm described in a YAML file.

The file holds the options of ``sessionnet.virtual_ip.vip_range_plan`` (``subnets``,
``dhcp_scopes``, ``servers``, ``existing``, ``carve_from_scopes``, ``replan_invalid``,
``allow_split``). Prints a table, or with ``--json`` the module's result; ``--svg DIR`` writes a
map of each subnet. Exit code 0, 1 when existing assignments are invalid and were left in
place, 2 on bad input or when the servers do not fit.
"""

from __future__ import annotations

import argparse

from sessionnet_vip import cli
from sessionnet_vip.errors import VipError

# typing is not imported at run time (start-up time); mypy reads the block below
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from sessionnet_vip.planning import PlanResult

# The planner, YAML and the SVG writer are imported by the handler, not at start-up.


def load_farm(path: str | Path) -> dict[str, Any]:
    """Read a farm YAML file (a mapping of the planner's options): UTF-8, bounded (see
    :mod:`sessionnet_vip.yamlfile`)."""
    from sessionnet_vip import yamlfile

    data = yamlfile.load_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise VipError(f"{path} must hold a mapping with subnets, dhcp_scopes, servers...")
    return data


def format_table(result: PlanResult) -> str:
    """The plan as a text table, followed by exclusions to add, invalid entries and warnings."""
    from itertools import starmap

    from sessionnet_vip.addressing import format_span

    rows = [("SERVER", "SUBNET", "RANGES", "SIZE", "NEED", "STATUS")]
    # a subnet's text once per network object (servers share their subnet's: str() of a network
    # is Python code in ipaddress); keyed by id(), the placements keep the objects alive
    subnet_text: dict[int, str] = {}
    for p in result.placements:
        subnet = subnet_text.get(id(p.subnet))
        if subnet is None:
            subnet = subnet_text[id(p.subnet)] = str(p.subnet)
        ranges = p.ranges
        if len(ranges) == 1:
            first, last = ranges[0]
            text, size = format_span(ranges[0]), last - first + 1
        else:
            text, size = ", ".join(format_span(r) for r in ranges) or "-", p.size
        rows.append(
            (
                p.server,
                subnet,
                text,
                str(size),
                str(p.need),
                p.status + (" (exclusion to add)" if p.carved else ""),
            )
        )
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    # SIZE and NEED right-aligned, the rest left-aligned; one format per row
    template = "  ".join(
        f"{{:{'>' if i in (3, 4) else '<'}{width}}}" for i, width in enumerate(widths)
    ).format
    lines = list(map(str.rstrip, starmap(template, rows)))  # C loops, no Python one
    if result.exclusions:
        lines += ["", "Exclusions to add before binding:"]
        lines += [f"  scope {scope}: {format_span(span)} ({span.size})" for scope, span in result.exclusions]
    if result.invalid:
        lines += ["", "Invalid existing assignments:"]
        lines += [f"  {server}: {reason}" for server, reason in result.invalid]
    if result.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  {w}" for w in result.warnings]
    return "\n".join(lines)


# One placement of format_json's "plan" list and one of its ranges, as json.dumps(indent=2,
# sort_keys=True) writes them at that depth (keys sorted: ranges, server, subnet; end, size, start).
_PLACEMENT_JSON = '    {{\n      "ranges": {},\n      "server": {},\n      "subnet": {}\n    }}'
_RANGE_JSON = '        {{\n          "end": {},\n          "size": {},\n          "start": {}\n        }}'
_NO_PLAN = '\n  "plan": [],\n'


def format_json(result: PlanResult) -> str:
    """``json.dumps(result.to_dict(), indent=2, sort_keys=True)``, what ``vipctl --json`` prints,
    with the ``plan`` list written by one format per placement and range instead of the json
    module's indenting encoder (pure Python); the other keys are json's own text."""
    from dataclasses import replace
    from json import dumps
    from json.encoder import encode_basestring_ascii as quote  # dumps' own (ensure_ascii)

    from sessionnet_vip.addressing import format_address

    text = dumps(replace(result, placements=()).to_dict(), indent=2, sort_keys=True)
    if not result.placements:
        return text
    subnet_text: dict[int, str] = {}  # as in format_table
    items = []
    for p in result.placements:
        subnet = subnet_text.get(id(p.subnet))
        if subnet is None:
            subnet = subnet_text[id(p.subnet)] = quote(str(p.subnet))
        ranges = ",\n".join(
            _RANGE_JSON.format(quote(format_address(last)), last - first + 1, quote(format_address(first)))
            for first, last in p.ranges
        )
        items.append(_PLACEMENT_JSON.format(f"[\n{ranges}\n      ]" if ranges else "[]", quote(p.server), subnet))
    # the line is json's for an empty list; no string can hold it (a quote inside one is escaped)
    head, _line, tail = text.partition(_NO_PLAN)
    return head + '\n  "plan": [\n' + ",\n".join(items) + "\n  ],\n" + tail


def _cmd_plan(args: argparse.Namespace) -> int:
    from sessionnet_vip.planning import STATUS_INVALID, PlanError, build_request, make_plan

    if args.svg:  # the SVG writer is imported only when asked for
        from sessionnet_vip.plan_svg import check_svg_dir

        check_svg_dir(args.svg)
    from sessionnet_vip.yamlfile import no_gc

    with no_gc():  # tens of thousands of small acyclic objects: see yamlfile.no_gc
        request = build_request(load_farm(args.file))
    try:
        with no_gc():
            result = make_plan(request, reports=bool(args.svg))
    except PlanError as exc:
        if getattr(args, "json", False):
            import json  # only for JSON output: the table needs none

            print(json.dumps({"error": str(exc), "failures": exc.failures}, indent=2, sort_keys=True))
            return 2
        raise
    as_json = getattr(args, "json", False)
    with no_gc():  # only what is printed: the table or the JSON result
        written = []
        if args.svg:
            from sessionnet_vip.plan_svg import write_svgs

            written = write_svgs(result, args.svg)
        if as_json:
            print(format_json(result))
        else:
            text = format_table(result)
            if written:
                text += "\n\nSVG map(s): " + ", ".join(str(p) for p in written)
            cli.emit(args, None, text)
    left_invalid = any(p.status == STATUS_INVALID for p in result.placements)
    return 1 if left_invalid else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="plan static virtual-IP ranges per server (from a farm YAML file)",
        description="Plan one range of virtual IP addresses per server, outside DHCP pools. FILE is a "
        "YAML mapping with the options of the sessionnet.virtual_ip.vip_range_plan module: subnets "
        "(cidr, gateway, reserved), dhcp_scopes (scope, start, end, exclusions, reservations, leases), "
        "servers (name, subnet, max_sessions, headroom), existing (server, subnet, ranges), "
        "carve_from_scopes, replan_invalid and allow_split. Exit status: 0 planned; 1 planned but "
        "existing assignments are invalid and were left in place; 2 bad input or the servers do not "
        f"fit. Reference and an example file: {cli.DOCS_URL}/planning.md",
    )
    parser.add_argument("file", metavar="FILE.yml", help="farm description (YAML, UTF-8)")
    parser.add_argument(
        "--svg", metavar="DIR", help="also write a map of each subnet to DIR/<subnet>.svg (DIR is created)"
    )
    cli.add_json_flag(parser)
    parser.set_defaults(func=_cmd_plan)
