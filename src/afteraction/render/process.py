"""The process-metrics report as HTML (one self-contained page), Markdown and CSV.

Detector titles, source names, incident titles and ids come from alerts and incidents: attacker-influenced
text. HTML goes through the shared autoescaping environment (never ``|safe`` on data), Markdown through
:func:`~afteraction.render.markdown.escape`, CSV through :func:`~afteraction.render.coverage.csv_cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from afteraction.analyze.program.process_model import Outcomes, Process
from afteraction.render import fmt
from afteraction.render.coverage import csv_cell
from afteraction.render.html import environment
from afteraction.render.markdown import escape

_TOC = (("summary", "Summary"), ("recommendations", "Recommendations"), ("noisy", "Noisy detectors"),
        ("severity", "Severity accuracy"), ("backlog", "Backlog"), ("sla", "SLA"), ("sources", "Sources"),
        ("detectors", "Detectors"), ("volume", "Volume"))


def pct(value: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "—" if value is None else f"{value:.0%}"


def _period(result: Process) -> str:
    p = result.period
    return f"{fmt.when(p.since)} to {fmt.when(p.until)} · {p.bucket}ly buckets"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _bar(value: float | None) -> float:
    """A share as a CSS width percentage in [0, 100]."""
    return round(100 * min(max(value or 0.0, 0.0), 1.0), 1)


def _cards(result: Process) -> list[dict[str, str]]:
    s = result.summary
    wasted = s.outcomes.false_positives + s.outcomes.benign
    classified = wasted + s.outcomes.true_positives
    return [
        {"key": "Alerts", "value": fmt.count(s.alerts), "sub": f"{fmt.count(s.incidents)} incidents"},
        {"key": "Alerts per incident", "value": _ratio(s.alerts_per_incident), "sub": "alert-to-incident ratio"},
        {"key": "False or benign", "value": pct(wasted / classified if classified else None),
         "sub": f"{fmt.count(wasted)} of {fmt.count(classified)} classified alerts"},
        {"key": "Automated", "value": pct(s.automated_share), "sub": f"{fmt.count(s.automated)} alerts remediated"},
        {"key": "Backlog", "value": fmt.count(result.backlog.open), "sub": f"open at {fmt.when(result.backlog.as_of)}"},
    ]


def _charts(result: Process) -> dict[str, Any]:
    """Inline SVG charts when ``afteraction.render.charts`` is available (the tables carry the same data)."""
    try:
        from afteraction.render import charts
    except ImportError:  # pragma: no cover - the page renders with tables alone
        return {}
    out: dict[str, Any] = {}
    if len(result.ratio_by_bucket) > 1:
        out["ratio"] = charts.line_chart(
            [fmt.iso_date(b.start) for b in result.ratio_by_bucket],
            [charts.LineSeries("alerts per incident", [b.ratio for b in result.ratio_by_bucket])],
            title=f"Alerts per incident by {result.period.bucket}", y_label="alerts per incident")
    if result.noisy_detectors:
        out["noisy"] = charts.bar_chart(
            [charts.Bar(n.title or n.detector_id or "(untitled)", n.wasted,
                        tooltip=f"{n.title}: {n.wasted} false or benign of {n.alerts} alerts")
             for n in result.noisy_detectors], title="Wasted alerts (false + benign positives) per noisy detector")
    return out


def render_process_html(result: Process, index_href: str | None = None) -> str:
    """The process page of the report site."""
    max_ratio = max((b.ratio or 0 for b in result.ratio_by_bucket), default=0) or 1
    context = {
        "result": result, "generated": result.generated, "attack_version": result.attack_version,
        "script_src": "'none'", "index_href": fmt.relative_href(index_href), "toc": _TOC,
        "cards": _cards(result), "period": _period(result), "pct": pct, "barw": _bar, "max_ratio": max_ratio,
        "charts": _charts(result),
    }
    return environment().get_template("process.html.j2").render(context)


def _outcome_cells(o: Outcomes) -> str:
    return (f"{o.alerts} | {o.true_positives} | {o.false_positives} | {o.benign} | {o.unclassified} | "
            f"{pct(o.false_positive_share)} | {pct(o.benign_share)}")


_OUTCOME_HEAD = "Alerts | TP | FP | Benign | Unclassified | FP share | Benign share"


def render_process_markdown(result: Process) -> str:
    """The same sections as the HTML page, as GitHub-flavoured Markdown with every input string escaped."""
    s, b = result.summary, result.backlog
    lines = ["# SOC process metrics", "", f"- **Period:** {_period(result)}",
             f"- **Alerts:** {s.alerts} in {s.incidents} incidents ({_ratio(s.alerts_per_incident)} per incident)",
             f"- **Automated:** {s.automated} alerts ({pct(s.automated_share)})",
             f"- **Backlog:** {b.open} incidents open at {fmt.when(b.as_of)}",
             f"- **ATT&CK:** {escape(result.attack_version)}", "", "## Recommendations", ""]
    if not result.recommendations:
        lines.append("No recommendation: no detector is noisy and no mitigation covers repeated techniques.")
    for i, r in enumerate(result.recommendations, 1):
        lines.append(f"{i}. **{escape(r.title)}**: {escape(r.action)}")
        lines += [f"   - {escape(e)}" for e in r.evidence]
    t = result.thresholds
    lines += ["", "## Noisy detectors", "",
              f"At least {t.noisy_min_classified} classified alerts, at least {t.noisy_min_share:.0%} of them false "
              "or benign positives; ranked by the false and benign positives.", ""]
    if result.noisy_detectors:
        lines += ["| # | Detector | Source | Alerts | Wasted | Noise share | FP share | Benign share | Volume share |",
                  "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {n.rank} | {escape(n.title)} ({escape(n.detector_id or 'no id')}) | {escape(n.source_name)} | "
                  f"{n.alerts} | {n.wasted} | {pct(n.noise_share)} | {pct(n.false_positive_share)} | "
                  f"{pct(n.benign_share)} | {n.volume_share:.1%} |" for n in result.noisy_detectors]
    else:
        lines.append("No detector meets the thresholds.")
    lines += ["", "## Severity accuracy", "", "| Severity | TP | Benign | FP | Unclassified | TP share |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {escape(r.severity)} | {r.outcomes.true_positives} | {r.outcomes.benign} | "
              f"{r.outcomes.false_positives} | {r.outcomes.unclassified} | {pct(r.true_positive_share)} |"
              for r in result.severity]
    lines += ["", *(f"> {escape(c.text)}" for c in result.callouts)]
    lines += ["", "## Backlog and ageing", "", "| Severity | < 1 d | 1-7 d | 7-30 d | > 30 d | Open |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {escape(r.severity)} | {r.under_1d} | {r.days_1_7} | {r.days_7_30} | {r.over_30d} | {r.total} |"
              for r in b.by_severity]
    if b.oldest:
        lines += ["", "Oldest open incidents:", "", "| Incident | Title | Severity | Status | Age |",
                  "| --- | --- | --- | --- | ---: |"]
        lines += [f"| {escape(o.id)} | {escape(o.title)} | {escape(o.severity)} | {escape(o.status)} | "
                  f"{fmt.duration(o.age_seconds)} |" for o in b.oldest]
    lines += ["", "## SLA breaches", "", "| Severity | Ack target | Ack breaches | Resolve target | Resolve breaches "
              "(open) |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r.severity} | {fmt.duration(r.acknowledge_seconds)} | {r.acknowledge_breaches} of "
              f"{r.acknowledge_measured} ({pct(r.acknowledge_breach_share)}) | {fmt.duration(r.resolve_seconds)} | "
              f"{r.resolve_breaches} of {r.resolve_measured} ({pct(r.resolve_breach_share)}; {r.open_breaches} open) |"
              for r in result.sla_breaches]
    lines += ["", "## Sources", "", f"| Source | {_OUTCOME_HEAD} | Automated |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {escape(x.source_name)} | {_outcome_cells(x.outcomes)} | {pct(x.automated_share)} |"
              for x in result.sources]
    lines += ["", "## Busiest detectors", "", f"| Detector | Source | {_OUTCOME_HEAD} |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {escape(d.title)} ({escape(d.detector_id or 'no id')}) | {escape(d.source_name)} | "
              f"{_outcome_cells(d.outcomes)} |" for d in result.detectors]
    lines += ["", "## Alerts per incident", "", "| Bucket | Alerts | Incidents | Ratio |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {fmt.iso_date(x.start)} | {x.alerts} | {x.incidents} | "
              f"{_ratio(x.ratio)} |" for x in result.ratio_by_bucket]
    if result.notes:
        lines += ["", "## Notes", "", *(f"- {escape(n)}" for n in result.notes)]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("table", "key", "name", "source", "severity", "alerts", "true_positives", "false_positives", "benign",
               "unclassified", "share", "value", "detail")


def _csv_rows(result: Process) -> Iterable[tuple[object, ...]]:
    s = result.summary
    o = s.outcomes
    yield ("summary", "period", "", "", "", s.alerts, o.true_positives, o.false_positives, o.benign, o.unclassified,
           s.automated_share, s.alerts_per_incident,
           f"{result.period.since.isoformat()}/{result.period.until.isoformat()}")
    for b in result.ratio_by_bucket:
        yield ("ratio", b.start.isoformat(), "", "", "", b.alerts, "", "", "", "", "", b.ratio, b.incidents)
    for n in result.noisy_detectors:
        yield ("noisy", n.detector_id, n.title, n.source_name, "", n.alerts, "", "", "", "", n.noise_share, n.wasted,
               f"rank {n.rank}; fp {n.false_positive_share:.3f}; benign {n.benign_share:.3f}; "
               f"volume {n.volume_share:.4f}")
    for d in result.detectors:
        x = d.outcomes
        yield ("detector", d.detector_id, d.title, d.source_name, "", x.alerts, x.true_positives, x.false_positives,
               x.benign, x.unclassified, x.false_positive_share, x.benign_share, d.automated)
    for src in result.sources:
        x = src.outcomes
        yield ("source", src.source_name, "", src.source_name, "", x.alerts, x.true_positives, x.false_positives,
               x.benign, x.unclassified, src.automated_share, src.automated, "")
    for r in result.severity:
        x = r.outcomes
        yield ("severity", r.severity, "", "", r.severity, x.alerts, x.true_positives, x.false_positives, x.benign,
               x.unclassified, r.true_positive_share, "", "")
    for bl in result.backlog.by_severity:
        yield ("backlog", bl.severity, "", "", bl.severity, "", "", "", "", "", "", bl.total,
               f"<1d {bl.under_1d}; 1-7d {bl.days_1_7}; 7-30d {bl.days_7_30}; >30d {bl.over_30d}")
    for inc in result.backlog.oldest:
        yield ("open_incident", inc.id, inc.title, inc.source, inc.severity, "", "", "", "", "", "", inc.age_seconds,
               inc.status)
    for r in result.sla_breaches:
        yield ("sla", r.severity, "", "", r.severity, r.incidents, "", "", "", "", r.resolve_breach_share,
               r.resolve_breaches, f"ack {r.acknowledge_breaches}/{r.acknowledge_measured} over "
               f"{r.acknowledge_seconds:.0f}s; resolve {r.resolve_breaches}/{r.resolve_measured} over "
               f"{r.resolve_seconds:.0f}s ({r.open_breaches} open)")
    for i, rec in enumerate(result.recommendations, 1):
        yield ("recommendation", rec.mitigation_id or rec.kind, rec.title, "", "", "", "", "", "", "", "", i,
               rec.action + " | " + "; ".join(rec.evidence))


def render_process_csv(result: Process) -> str:
    """Every table of the report as rows of one CSV, told apart by the ``table`` column; formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(result):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "pct", "render_process_csv", "render_process_html", "render_process_markdown"]
