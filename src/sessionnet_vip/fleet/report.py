"""The drift report of ``playbooks/audit.yml``: results in, counts + ``report.html`` + ``report.md`` out.

audit.yml records, per host and feature, what the feature's modules said in check mode (their
``changed`` flag and ``diff``), or that the host failed or was unreachable; plus the agent's
``vipctl status --json`` per server and ``vip_app_audit``'s programs per host. This module turns
those records into the report. The HTML is one self-contained file: inline CSS, no script, no
network, no external asset.

A host's state is the worst of its features' states: ``unreachable`` > ``failed`` >
``drifted`` > ``in sync``. A drifted feature lists each drifted value with its name and
``before -> after`` exactly as the module's diff gives them.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sessionnet_vip.errors import VipError

STATES: Final = ("in sync", "drifted", "failed", "unreachable")
_RANK: Final = {state: rank for rank, state in enumerate(STATES)}
ABSENT: Final = "(absent)"


class ReportInputError(VipError):
    """A record given to the report is not in the documented shape."""


@dataclass(frozen=True)
class DriftValue:
    name: str
    before: str
    after: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "before": self.before, "after": self.after}


@dataclass
class Row:
    host: str
    feature: str
    state: str
    message: str = ""
    values: list[DriftValue] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "feature": self.feature,
            "state": self.state,
            "message": self.message,
            "values": [v.to_json() for v in self.values],
        }


def _show(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) if value else "[]"
    return json.dumps(value, sort_keys=True)


def _is_leaf(value: Any) -> bool:
    # A registry value in a diff is {"type": ..., "value": ...}: one value, shown as its data.
    return not isinstance(value, Mapping) or (set(value) <= {"type", "value"} and "value" in value)


def _leaf_text(value: Any) -> str:
    if isinstance(value, Mapping) and "value" in value:
        shown = _show(value["value"])
        return f"{shown} ({value['type']})" if value.get("type") else shown
    return _show(value)


def diff_values(diff: Any, prefix: str = "") -> list[DriftValue]:
    """Every value that differs between ``diff['before']`` and ``diff['after']`` (a module's diff).

    Nested mappings are walked; names join the levels with ``\\`` (registry style: key path, then
    value name). A value missing on one side shows as ``(absent)``. ``diff`` may also be a list of
    such diffs (a looped task).
    """
    if isinstance(diff, list):
        return [v for d in diff for v in diff_values(d, prefix)]
    if not isinstance(diff, Mapping):
        return []
    if "before" not in diff and "after" not in diff:
        return []
    before, after = diff.get("before"), diff.get("after")
    if isinstance(before, str) or isinstance(after, str):  # a text diff (template, copy)
        name = str(diff.get("after_header") or diff.get("before_header") or prefix or "content")
        return [] if before == after else [DriftValue(name, _show(before), _show(after))]
    return _walk(
        before if isinstance(before, Mapping) else {}, after if isinstance(after, Mapping) else {}, prefix
    )


def _walk(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str) -> list[DriftValue]:
    out: list[DriftValue] = []
    for key in list(before) + [k for k in after if k not in before]:
        name = f"{prefix}\\{key}" if prefix else str(key)
        b, a = before.get(key), after.get(key)
        if b == a and key in before and key in after:
            continue
        if (
            (b is None or not _is_leaf(b))
            and (a is None or not _is_leaf(a))
            and (b is not None or a is not None)
        ):
            sub = _walk(b or {}, a or {}, name)
            if sub:
                out.extend(sub)
            elif (b is None) != (a is None):  # a key created or removed, without values of its own
                out.append(
                    DriftValue(
                        name, "(no key)" if b is None else "(key)", "(key)" if b is None else "(no key)"
                    )
                )
            continue
        out.append(
            DriftValue(
                name,
                ABSENT if key not in before else _leaf_text(b),
                ABSENT if key not in after else _leaf_text(a),
            )
        )
    return out


def feature_row(record: Mapping[str, Any]) -> Row:
    """One host x feature record from audit.yml -> its report row.

    ``record``: ``host``, ``feature``, ``status`` (``ok``, ``failed``, ``unreachable``), ``msg``,
    ``results`` (the feature's module results: ``changed``, ``diff``, ``skipped``; a looped task's
    ``results`` are flattened).
    """
    for key in ("host", "feature", "status"):
        if not record.get(key):
            raise ReportInputError(f"report record {dict(record)!r}: '{key}' is missing")
    status = str(record["status"])
    host, feature = str(record["host"]), str(record["feature"])
    message = str(record.get("msg") or "")
    if status == "unreachable":
        return Row(host, feature, "unreachable", message or "unreachable")
    if status == "failed":
        return Row(host, feature, "failed", message or "failed")
    if status != "ok":
        raise ReportInputError(
            f"report record of {host}/{feature}: status {status!r} is not ok, failed or unreachable"
        )
    values: list[DriftValue] = []
    changed = False
    for result in _flatten(record.get("results") or []):
        if result.get("skipped") or not result.get("changed"):
            continue
        changed = True
        found = diff_values(result.get("diff"))
        values.extend(
            found
            or [
                DriftValue(
                    str(result.get("name") or "change"), "(unknown)", str(result.get("msg") or "changed")
                )
            ]
        )
    if isinstance(
        record.get("drift"), list
    ):  # drift stated by audit.yml itself (e.g. the agent is not running)
        for item in record["drift"]:
            changed = True
            values.append(DriftValue(str(item["name"]), _show(item.get("before")), _show(item.get("after"))))
    return Row(host, feature, "drifted" if changed else "in sync", message, values)


def _flatten(results: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    for result in results:
        if not isinstance(result, Mapping):
            continue
        if isinstance(result.get("results"), list):
            yield from _flatten(result["results"])
        else:
            yield result


def _usage_row(host: str, status: Any) -> dict[str, Any]:
    if not isinstance(status, Mapping) or not status.get("agent"):
        reason = status.get("msg") if isinstance(status, Mapping) else None
        return {"host": host, "agent": False, "msg": str(reason or "no agent on this host")}
    st = status.get("status") or {}
    out = {"host": host, "agent": True, "msg": ""}
    for key in ("pool", "pool_size", "in_use", "held", "free", "exhausted_events"):
        out[key] = st.get(key)
    plane = st.get("data_plane") or {}
    out["data_plane"] = (
        "active" if plane.get("active") else (f"inactive: {plane.get('reason')}" if plane else "")
    )
    return out


def _applications(apps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Merge each host's vip_app_audit programs into one entry per executable (case-insensitive)."""
    merged: dict[str, dict[str, Any]] = {}
    order = {"virtual_ip": 0, "virtual_loopback": 1, "client_address": 2, "none": 3}
    for host in sorted(apps):
        for prog in (apps[host] or {}).get("programs") or []:
            key = str(prog["exe"]).casefold()
            entry = merged.setdefault(
                key,
                {
                    "exe": prog["exe"],
                    "hosts": [],
                    "ports": set(),
                    "needs": set(),
                    "recommendation": "none",
                    "candidate": False,
                    "reasons": [],
                },
            )
            entry["hosts"].append(host)
            entry["ports"].update(int(p) for p in prog.get("evidence", {}).get("ports", []))
            entry["needs"].update(prog.get("needs") or [])
            if order.get(prog["recommendation"], 3) < order.get(entry["recommendation"], 3):
                entry["recommendation"] = prog["recommendation"]
                entry["candidate"] = bool(prog.get("candidate"))
            for reason in prog.get("reasons") or []:
                if reason not in entry["reasons"]:
                    entry["reasons"].append(reason)
    out = []
    for entry in merged.values():
        entry["ports"] = sorted(entry["ports"])
        entry["needs"] = [n for n in ("virtual_ip", "virtual_loopback") if n in entry["needs"]]
        out.append(entry)
    out.sort(key=lambda e: (order.get(e["recommendation"], 3), e["exe"].casefold()))
    return out


def missing_records(
    records: Sequence[Mapping[str, Any]], targets: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """An ``unreachable`` record for each host a feature's play targeted but that left no record.

    A host that becomes unreachable in the middle of a play is dropped by Ansible without running
    the play's ``always`` tasks; listing it here keeps it in the report.
    """
    seen = {(str(r.get("host")), str(r.get("feature"))) for r in records}
    out = []
    for feature in sorted(targets):
        for host in targets[feature] or []:
            if (str(host), feature) not in seen:
                out.append(
                    {
                        "host": str(host),
                        "feature": feature,
                        "status": "unreachable",
                        "msg": "left the play without a result (unreachable during the play)",
                    }
                )
    return out


def build_report(
    records: Sequence[Mapping[str, Any]],
    usage: Mapping[str, Any] | None = None,
    apps: Mapping[str, Any] | None = None,
    title: str = "sessionnet.virtual_ip drift report",
    generated: str | None = None,
    targets: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The report as data (what both renderers and the module's return value show)."""
    records = [*records, *missing_records(records, targets or {})]
    rows = sorted((feature_row(r) for r in records), key=lambda r: (r.host, r.feature))
    hosts: dict[str, str] = {}
    for row in rows:
        hosts[row.host] = max(hosts.get(row.host, "in sync"), row.state, key=_RANK.__getitem__)
    counts = {state: sum(1 for s in hosts.values() if s == state) for state in STATES}
    usage_all: dict[str, Any] = dict(usage or {})
    for host in sorted({str(h) for hs in (targets or {}).values() for h in hs or []} - set(usage_all)):
        usage_all[host] = {"agent": False, "msg": "no agent (not in the vip_agent group)"}
    usage_rows = [_usage_row(h, usage_all[h]) for h in sorted(usage_all)]
    return {
        "title": title,
        "generated": generated or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "counts": counts,
        "hosts": dict(sorted(hosts.items())),
        "rows": [r.to_json() for r in rows],
        "failed_hosts": sorted(h for h, s in hosts.items() if s == "failed"),
        "unreachable_hosts": sorted(h for h, s in hosts.items() if s == "unreachable"),
        "drift_found": counts["drifted"] > 0,
        "usage": usage_rows,
        "applications": _applications(apps or {}),
    }


# --- renderers ----------------------------------------------------------------------------------

_CSS: Final = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1b1f24;background:#fff}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin-top:1.8em}
.meta{color:#57606a;margin-bottom:1.2em}
.counts{display:flex;gap:1em;flex-wrap:wrap}
.count{border-radius:8px;padding:.8em 1.2em;min-width:9em;color:#fff}
.count .n{font-size:2.2em;font-weight:700;display:block}
.c-in-sync{background:#1a7f37}.c-drifted{background:#bf8700}.c-failed{background:#cf222e}.c-unreachable{background:#6e7781}
table{border-collapse:collapse;margin-top:.8em;min-width:60%}
th,td{border:1px solid #d0d7de;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.s-in-sync{color:#1a7f37;font-weight:600}td.s-drifted{color:#9a6700;font-weight:600}
td.s-failed{color:#cf222e;font-weight:600}td.s-unreachable{color:#57606a;font-weight:600}
tr.value td{background:#fff8c5;font-family:ui-monospace,monospace;font-size:.9em}
.arrow{color:#57606a}
"""


def _slug(state: str) -> str:
    return state.replace(" ", "-")


def render_html(report: Mapping[str, Any]) -> str:
    e = html.escape
    counts = report["counts"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{e(report['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report['title'])}</h1>",
        f'<p class="meta">Generated {e(report["generated"])}. {len(report["hosts"])} host(s). '
        f'Drift found: <strong id="drift-found">{"yes" if report["drift_found"] else "no"}</strong>.</p>',
        '<div class="counts" id="counts">',
    ]
    for state in STATES:
        parts.append(
            f'<div class="count c-{_slug(state)}" id="count-{_slug(state)}" data-count="{counts[state]}">'
            f'<span class="n">{counts[state]}</span>hosts {e(state)}</div>'
        )
    parts.append("</div>")
    parts.append(
        '<h2>Hosts and features</h2><table id="features"><thead><tr><th>host</th><th>feature</th>'
        "<th>state</th><th>detail</th></tr></thead><tbody>"
    )
    for row in report["rows"]:
        parts.append(
            f'<tr class="feature" data-host="{e(row["host"])}" data-state="{e(row["state"])}"><td>{e(row["host"])}</td>'
            f'<td>{e(row["feature"])}</td><td class="s-{_slug(row["state"])}">{e(row["state"])}</td>'
            f"<td>{e(row['message'])}</td></tr>"
        )
        for value in row["values"]:
            parts.append(
                f'<tr class="value"><td></td><td colspan="2">{e(value["name"])}</td><td>{e(value["before"])} '
                f'<span class="arrow">&rarr;</span> {e(value["after"])}</td></tr>'
            )
    parts.append("</tbody></table>")
    for label, key in (("Failed hosts", "failed_hosts"), ("Unreachable hosts", "unreachable_hosts")):
        hosts = report[key]
        parts.append(f'<h2>{label}</h2><ul id="{key.replace("_", "-")}">')
        parts += [f"<li>{e(h)}</li>" for h in hosts] or ["<li>none</li>"]
        parts.append("</ul>")
    parts.append(
        '<h2>Virtual-IP usage per server</h2><table id="usage"><thead><tr><th>host</th><th>pool</th>'
        "<th>pool size</th><th>leases in use</th><th>held</th><th>free</th><th>exhausted events</th>"
        "<th>data plane</th></tr></thead><tbody>"
    )
    for u in report["usage"]:
        if u["agent"]:
            parts.append(
                "<tr>"
                + "".join(
                    f"<td>{e(str(u.get(k)))}</td>"
                    for k in (
                        "host",
                        "pool",
                        "pool_size",
                        "in_use",
                        "held",
                        "free",
                        "exhausted_events",
                        "data_plane",
                    )
                )
                + "</tr>"
            )
        else:
            parts.append(f'<tr><td>{e(u["host"])}</td><td colspan="7">{e(u["msg"])}</td></tr>')
    if not report["usage"]:
        parts.append('<tr><td colspan="8">no host in the vip_agent group</td></tr>')
    parts.append("</tbody></table>")
    parts.append(
        '<h2>Applications</h2><table id="applications"><thead><tr><th>program</th><th>hosts</th>'
        "<th>ports</th><th>recommendation</th><th>why</th></tr></thead><tbody>"
    )
    for app in report["applications"]:
        rec = app["recommendation"] + (" (candidate)" if app["candidate"] else "")
        if len(app["needs"]) > 1:
            rec += " + " + " + ".join(app["needs"][1:])
        parts.append(
            f"<tr><td>{e(app['exe'])}</td><td>{e(', '.join(app['hosts']))}</td>"
            f"<td>{e(', '.join(str(p) for p in app['ports']))}</td><td>{e(rec)}</td>"
            f"<td>{'<br>'.join(e(r) for r in app['reasons'])}</td></tr>"
        )
    if not report["applications"]:
        parts.append('<tr><td colspan="5">no application audit in this run</td></tr>')
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Mapping[str, Any]) -> str:
    c = report["counts"]
    lines = [
        f"# {report['title']}",
        "",
        f"Generated {report['generated']}. Drift found: **{'yes' if report['drift_found'] else 'no'}**.",
        "",
        "| in sync | drifted | failed | unreachable |",
        "|---:|---:|---:|---:|",
        f"| {c['in sync']} | {c['drifted']} | {c['failed']} | {c['unreachable']} |",
        "",
        "## Hosts and features",
        "",
        "| host | feature | state | detail |",
        "|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {_md(row['host'])} | {_md(row['feature'])} | {row['state']} | {_md(row['message'])} |"
        )
        for v in row["values"]:
            lines.append(f"|  | `{_md(v['name'])}` |  | {_md(v['before'])} → {_md(v['after'])} |")
    for label, key in (("Failed hosts", "failed_hosts"), ("Unreachable hosts", "unreachable_hosts")):
        lines += ["", f"## {label}", ""] + ([f"- {h}" for h in report[key]] or ["- none"])
    lines += [
        "",
        "## Virtual-IP usage per server",
        "",
        "| host | pool | pool size | leases in use | held | free | exhausted events | data plane |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for u in report["usage"]:
        if u["agent"]:
            lines.append(
                "| "
                + " | ".join(
                    _md(u.get(k))
                    for k in (
                        "host",
                        "pool",
                        "pool_size",
                        "in_use",
                        "held",
                        "free",
                        "exhausted_events",
                        "data_plane",
                    )
                )
                + " |"
            )
        else:
            lines.append(f"| {_md(u['host'])} | {_md(u['msg'])} |  |  |  |  |  |  |")
    lines += [
        "",
        "## Applications",
        "",
        "| program | hosts | ports | recommendation | why |",
        "|---|---|---|---|---|",
    ]
    for app in report["applications"]:
        rec = app["recommendation"] + (" (candidate)" if app["candidate"] else "")
        if len(app["needs"]) > 1:
            rec += " + " + " + ".join(app["needs"][1:])
        lines.append(
            f"| `{_md(app['exe'])}` | {_md(', '.join(app['hosts']))} | {_md(', '.join(str(p) for p in app['ports']))} "
            f"| {rec} | {_md('; '.join(app['reasons']))} |"
        )
    return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], directory: str) -> dict[str, str]:
    """Write ``report.html`` and ``report.md`` into ``directory`` (created), each replaced atomically."""
    if not directory:
        raise ReportInputError("vip_report_dir is empty; give the directory the report is written to")
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name, text in (("report.html", render_html(report)), ("report.md", render_markdown(report))):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".report-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        path = os.path.join(directory, name)
        os.replace(tmp, path)
        paths[name] = path
    return paths
