"""Coverage as CSV and Markdown (text from rules and alerts is escaped for each medium)."""

from __future__ import annotations

import csv
import io

from afteraction.analyze.coverage.model import CATEGORIES, Coverage
from afteraction.render import fmt
from afteraction.render.markdown import escape

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "technique", "name", "tactics", "category", "observed_incidents", "annotated_incidents", "alerts",
    "true_positive_share", "rules", "rules_enabled", "detectors_ever", "relevance", "relevance_explanation",
)


def csv_cell(value: object) -> str:
    """A spreadsheet-safe cell: text that a spreadsheet would run as a formula gets a leading quote."""
    text = "" if value is None else fmt.clean(value, keep_newlines=False)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_coverage_csv(result: Coverage) -> str:
    """One row per in-scope technique."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in result.techniques:
        rel = t.relevance
        writer.writerow([csv_cell(v) for v in (
            t.id, t.name, " ".join(t.tactics), t.category, t.observed_count, len(t.annotated_incidents),
            t.alerts, "" if t.true_positive_share is None else t.true_positive_share, t.rules, t.rules_enabled,
            t.detectors_ever, rel.score if rel else "", rel.explanation if rel else "",
        )])
    return out.getvalue()


def render_coverage_markdown(result: Coverage) -> str:
    """Summary, categories, the ranked gaps with what would close them, and notes."""
    s = result.summary
    period = f"{fmt.when(result.since) if result.since else 'the beginning'} to " \
             f"{fmt.when(result.until) if result.until else 'now'}"
    lines = [
        "# ATT&CK coverage", "",
        f"- **Period:** {period}",
        f"- **ATT&CK:** {escape(result.attack_version)} · **techniques in scope:** {s.techniques_in_scope}",
        f"- **Observed:** {s.observed} techniques · **detected share:** "
        f"{'—' if s.detected_share is None else f'{s.detected_share:.0%}'}",
        f"- **Rules:** {s.rules} ({s.rules_enabled} enabled)" + ("" if result.rules_given else " · no inventory given"),
    ]
    if result.groups_of_concern:
        lines.append(f"- **Groups of concern:** {escape(', '.join(result.groups_of_concern))}")
    lines += ["", "| Category | Techniques |", "| --- | ---: |"]
    lines += [f"| {label} | {s.by_category.get(key, 0)} |" for key, label in CATEGORIES.items()]
    lines += ["", "## Top gaps", ""]
    if not result.gaps:
        lines.append("No gaps: every observed technique raised an alert and no unprotected technique is left.")
    for g in result.gaps:
        lines.append(f"{g.rank}. **{escape(g.technique)} {escape(g.name)}** ({CATEGORIES[g.category]}, "
                     f"relevance {g.score:.0f}): {escape(g.why)}")
        if g.detections and g.detections.strategies:
            lines.append("   - Detection strategies: " + escape(", ".join(x.label for x in g.detections.strategies)))
        if g.detections and g.detections.data_components:
            lines.append("   - Data components: " + escape(", ".join(g.detections.data_components[:6])))
        if g.mitigations:
            lines.append("   - Mitigations: " + escape(", ".join(f"{m.id} {m.name}" for m in g.mitigations)))
        if g.nearby_rules:
            lines.append("   - Rules on a nearby technique: " + escape(", ".join(g.nearby_rules)))
    observed = [t for t in result.techniques if t.category != "never_seen"]
    if observed:
        lines += ["", "## Observed techniques", "", "| Technique | Category | Alerts | TP share | Rules | Incidents |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for t in observed:
            share = "—" if t.true_positive_share is None else f"{t.true_positive_share:.0%}"
            lines.append(f"| {escape(t.id)} {escape(t.name)} | {CATEGORIES[t.category]} | {t.alerts} | {share} | "
                         f"{t.rules} | {t.observed_count} |")
    if result.comparison is not None:
        lines += _comparison(result)
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {escape(n)}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _comparison(result: Coverage) -> list[str]:
    cmp = result.comparison
    assert cmp is not None
    since = fmt.when(cmp.since) if cmp.since else "the beginning"
    until = fmt.when(cmp.until) if cmp.until else "now"
    before = cmp.summary.detected_share
    lines = ["", "## Compared with the earlier period", "",
             f"- **Earlier period:** {since} to {until} · detected share then: "
             f"{'—' if before is None else f'{before:.0%}'}",
             "- **Changes:** " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in cmp.counts.items())]
    if cmp.changes:
        lines += ["", "| Technique | Before | Now | Change |", "| --- | --- | --- | --- |"]
        lines += [f"| {escape(c.technique)} {escape(c.name)} | {CATEGORIES[c.before]} | {CATEGORIES[c.after]} | "
                  f"{c.direction.replace('_', ' ')} |" for c in cmp.changes]
    return lines


__all__ = ["CSV_COLUMNS", "csv_cell", "render_coverage_csv", "render_coverage_markdown"]
