"""The trend analysis as an HTML page, Markdown and CSV (every value from alerts is escaped for its medium).

HTML: one self-contained page (``trends.html.j2``, extends ``base.html.j2``, no script) with summary
cards, the emerging/declining table, inline SVG line charts (:mod:`afteraction.render.charts`), the
breakdown tables, response metrics, new techniques and the method notes. Markdown is built with
:func:`~afteraction.render.markdown.escape` on every data value; CSV cells go through
:func:`~afteraction.render.coverage.csv_cell` (formula prefixes neutralised).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from afteraction.analyze.program.trends_model import DIMENSIONS, ResponsePoint, Series, TechniqueChange, Trends
from afteraction.render import fmt
from afteraction.render.charts import Bar, LineSeries, bar_chart, line_chart, percent
from afteraction.render.coverage import csv_cell
from afteraction.render.html import environment
from afteraction.render.markdown import escape, link

DIMENSION_TITLES = {"tactic": "Tactic", "technique": "Technique", "severity": "Severity", "source": "Source",
                    "incident_type": "Incident type", "determination": "Determination"}
CSV_COLUMNS = ("bucket", "dimension", "value", "label", "alerts", "incidents", "alert_rate", "incident_rate")
_METRICS = (("time_to_detect", "Time to detect"), ("time_to_acknowledge", "Time to acknowledge"),
            ("time_to_resolve", "Time to resolve"))
_CHART_SERIES = 8  # lines per breakdown chart


def bucket_label(t: datetime, bucket: str) -> str:
    """A bucket start as a short label: ``2026-05-04`` (day, week start) or ``2026-05`` (month)."""
    t = fmt.utc(t)
    return t.strftime("%Y-%m") if bucket == "month" else t.strftime("%Y-%m-%d")


def _period_text(result: Trends) -> str:
    p = result.period
    return f"{fmt.when(p.since)} to {fmt.when(p.until)} · {len(result.buckets)} {p.bucket} buckets"


def ratio_text(c: TechniqueChange) -> str:
    """The rate ratio and its 95 % CI as text (∞ when the baseline count is 0)."""
    def num(v: float | None) -> str:
        return "∞" if v is None else f"{v:.2f}"
    return f"{num(c.rate_ratio)} ({num(c.ratio_low)}\u2013{num(c.ratio_high)})"


def _q(v: float) -> str:
    return f"{v:.2g}" if v >= 0.0001 else "<0.0001"


def _cards(result: Trends) -> list[dict[str, str]]:
    c, o = result.changes, result.response_overall
    alerts = sum(b.alerts for b in result.buckets)
    rising = sum(x.direction == "rising" for x in c.flagged)
    tp = "—" if o.true_positive_rate is None else f"{o.true_positive_rate:.0%}"
    return [
        {"key": "Alerts", "value": fmt.count(alerts), "sub": f"in {len(result.buckets)} {result.period.bucket}s"},
        {"key": "Incidents", "value": fmt.count(o.incidents), "sub": "first alert in the period"},
        {"key": "Emerging", "value": fmt.count(rising), "sub": f"techniques rising at FDR {c.fdr:g}"},
        {"key": "Declining", "value": fmt.count(len(c.flagged) - rising), "sub": f"of {c.tested} tested"},
        {"key": "New techniques", "value": fmt.count(len(result.new_techniques)), "sub": "first seen this period"},
        {"key": "True-positive rate", "value": tp, "sub": f"of {fmt.count(o.classified)} classified incidents"},
        {"key": "Median time to resolve", "value": fmt.duration(o.time_to_resolve.median),
         "sub": f"p90 {fmt.duration(o.time_to_resolve.p90)}"},
    ]


def _charts(result: Trends) -> dict[str, Any]:
    bucket = result.period.bucket
    labels = [bucket_label(b.bucket, bucket) for b in result.buckets]
    charts: dict[str, Any] = {
        "volume": line_chart(labels, [LineSeries("alerts", [b.alerts for b in result.buckets]),
                                      LineSeries("incidents", [b.incidents for b in result.buckets])],
                             title=f"Alerts and incidents per {bucket}", y_label="count"),
        "response": line_chart(labels, [LineSeries(f"median {title.lower()}",
                                                   [_hours(getattr(r, name).median) for r in result.response])
                                        for name, title in _METRICS],
                               title=f"Median response times per {bucket} (hours)", y_label="hours",
                               value_format=lambda v: fmt.duration(v * 3600)),
        "tp": line_chart(labels, [LineSeries("true-positive rate", [r.true_positive_rate for r in result.response])],
                         title=f"True-positive rate per {bucket}", y_format=percent),
    }
    series = {(s.dimension, s.value): s for s in result.series}
    flagged = [series[("technique", c.technique)] for c in result.changes.flagged
               if ("technique", c.technique) in series][:_CHART_SERIES]
    if flagged:
        charts["flagged"] = line_chart(
            labels, [LineSeries(s.label, [p.incident_rate for p in s.points],
                                dashed=_direction(result, s.value) == "declining") for s in flagged],
            title=f"Flagged techniques: share of the {bucket}'s incidents (dashed: declining)",
            y_format=percent, value_format=lambda v: f"{v:.1%}")
    for dim in ("tactic", "severity"):
        top = result.dimension(dim)[:_CHART_SERIES]
        if top:
            charts[dim] = line_chart(labels, [LineSeries(s.label, [p.alerts for p in s.points]) for s in top],
                                     title=f"Alerts per {bucket} by {DIMENSION_TITLES[dim].lower()}")
    techniques = result.dimension("technique")[:15]
    if techniques:
        charts["techniques"] = bar_chart([Bar(s.label, s.alerts, f"{s.label}: {s.alerts} alerts in {s.incidents} "
                                              "incidents") for s in techniques],
                                         title="Alerts per technique over the period (top 15 and flagged)")
    return charts


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _direction(result: Trends, technique: str) -> str:
    return next((c.direction for c in result.changes.flagged if c.technique == technique), "")


def _tables(result: Trends) -> list[dict[str, Any]]:
    """One breakdown table per dimension: values as rows, the period total and the last buckets' counts."""
    labels = [bucket_label(b.bucket, result.period.bucket) for b in result.buckets]
    last = min(len(labels), 8)
    out = []
    for dim in DIMENSIONS:
        rows = result.dimension(dim)
        out.append({"dimension": dim, "title": DIMENSION_TITLES[dim], "labels": labels[-last:] if last else [],
                    "rows": [(s, [p.alerts for p in s.points][-last:] if last else []) for s in rows]})
    return out


def render_trends_html(result: Trends, index_href: str | None = None) -> str:
    """The trends page of the report site (``index_href``: the link back to the site's index, relative)."""
    toc = [("summary", "Summary"), ("changes", "Emerging and declining"), ("volume", "Volume"),
           ("response", "Response"), ("breakdowns", "Breakdowns"), ("new", "New techniques"), ("method", "Method")]
    context = {
        "result": result, "generated": result.generated, "attack_version": result.attack_version,
        "script_src": "'none'", "index_href": fmt.relative_href(index_href), "toc": toc,
        "cards": _cards(result), "charts": _charts(result), "tables": _tables(result),
        "period": _period_text(result), "ratio_text": ratio_text, "qtext": _q,
        "blabel": lambda t: bucket_label(t, result.period.bucket), "metrics": _METRICS,
    }
    return environment().get_template("trends.html.j2").render(context)


def _md_duration(r: ResponsePoint, name: str) -> str:
    d = getattr(r, name)
    return f"{fmt.duration(d.median)} / {fmt.duration(d.p90)} ({d.known})"


def render_trends_markdown(result: Trends) -> str:
    """Summary, emerging/declining techniques, volume and response per bucket, breakdowns and new techniques."""
    c = result.changes
    lines = ["# Trends", "", f"- **Period:** {escape(_period_text(result))}",
             f"- **ATT&CK:** {escape(result.attack_version)}"]
    lines += [f"- **{card['key']}:** {escape(card['value'])} ({escape(card['sub'])})" for card in _cards(result)]
    lines += ["", "## Emerging and declining techniques", "",
              f"Recent window {fmt.when(c.recent_since)} to {fmt.when(c.recent_until)} ({c.recent_incidents} "
              f"incidents) against the baseline {fmt.when(c.baseline_since)} to {fmt.when(c.baseline_until)} "
              f"({c.baseline_incidents} incidents). {c.tested} techniques tested (at least {c.min_count} incidents), "
              f"{c.skipped} skipped; Benjamini-Hochberg at FDR {c.fdr:g}.", ""]
    if c.flagged:
        lines += ["| Technique | Direction | Baseline | Recent | Rate ratio (95 % CI) | p | q |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for x in c.flagged:
            name = f" {escape(x.name)}" if x.name else ""
            lines.append(f"| {link(x.technique, x.url)}{name} | {x.direction} | {x.baseline_incidents} "
                         f"({x.baseline_rate:.1%}) | {x.recent_incidents} ({x.recent_rate:.1%}) | "
                         f"{escape(ratio_text(x))} | {_q(x.p_value)} | {_q(x.q_value)} |")
    else:
        lines.append("No technique changed significantly.")
    lines += ["", "## Volume and response per bucket", "",
              "| Bucket | Alerts | Incidents | TTD median / p90 (n) | TTA median / p90 (n) | TTR median / p90 (n) "
              "| True-positive rate |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for b, r in zip(result.buckets, result.response, strict=True):
        tp = "—" if r.true_positive_rate is None else f"{r.true_positive_rate:.0%} of {r.classified}"
        lines.append(f"| {bucket_label(b.bucket, result.period.bucket)} | {b.alerts} | {b.incidents} | "
                     f"{_md_duration(r, 'time_to_detect')} | {_md_duration(r, 'time_to_acknowledge')} | "
                     f"{_md_duration(r, 'time_to_resolve')} | {tp} |")
    for dim in DIMENSIONS:
        rows = result.dimension(dim)
        lines += ["", f"## By {DIMENSION_TITLES[dim].lower()}", ""]
        if not rows:
            lines.append("None in the period.")
            continue
        lines += [f"| {DIMENSION_TITLES[dim]} | Alerts | Incidents | Peak {result.period.bucket} |",
                  "| --- | ---: | ---: | --- |"]
        for s in rows:
            lines.append(f"| {escape(s.label)} | {s.alerts} | {s.incidents} | {_peak(result, s)} |")
    lines += ["", "## Techniques new to the environment", ""]
    if result.new_techniques:
        lines += ["| Technique | First seen | Incidents | Alerts |", "| --- | --- | ---: | ---: |"]
        for n in result.new_techniques:
            name = f" {escape(n.name)}" if n.name else ""
            lines.append(f"| {link(n.technique, n.url)}{name} | {fmt.when(n.first_seen)} | {n.incidents} | "
                         f"{n.alerts} |")
    else:
        lines.append("No technique was seen for the first time in this period.")
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {escape(n)}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _peak(result: Trends, s: Series) -> str:
    if not s.points or not s.alerts:
        return "—"
    best = max(s.points, key=lambda p: (p.alerts, -p.bucket.timestamp()))
    return f"{bucket_label(best.bucket, result.period.bucket)} ({best.alerts})"


def render_trends_csv(result: Trends) -> str:
    """One row per (bucket, dimension, value) (``dimension`` ``total`` holds the buckets' totals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for b in result.buckets:
        writer.writerow([csv_cell(v) for v in (fmt.utc(b.bucket).isoformat(), "total", "", "", b.alerts,
                                                b.incidents, "", "")])
    for s in result.series:
        for p in s.points:
            writer.writerow([csv_cell(v) for v in (
                fmt.utc(p.bucket).isoformat(), s.dimension, s.value, s.label, p.alerts, p.incidents,
                "" if p.alert_rate is None else round(p.alert_rate, 6),
                "" if p.incident_rate is None else round(p.incident_rate, 6))])
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "bucket_label", "ratio_text", "render_trends_csv", "render_trends_html",
           "render_trends_markdown"]
