"""The skill-gap report: HTML (shared autoescaped environment, no script), Markdown and CSV.

Analyst names, technique names and evidence lines may carry attacker-influenced text: HTML values pass the
environment's finalize and autoescape, Markdown values :func:`~afteraction.render.markdown.escape` (links
only to http(s) URLs), CSV cells :func:`~afteraction.render.coverage.csv_cell` (formula-safe).
"""

from __future__ import annotations

import csv
import io

from afteraction.analyze.program.skills_model import Entry, Skills
from afteraction.render import fmt
from afteraction.render.coverage import csv_cell
from afteraction.render.markdown import escape, link

CSV_COLUMNS = ("kind", "rank", "key", "analyst", "technique", "name", "alerts", "judged", "gap", "score",
               "signal", "n", "value", "baseline", "effect", "p", "q", "significant")


def _bar(score: float) -> int:
    return max(0, min(160, round(score * 12)))


def render_skills_html(result: Skills, index_href: str | None = None) -> str:
    """One self-contained, printable page (no script)."""
    from afteraction.render.html import environment

    return environment().get_template("skills.html.j2").render(
        result=result, generated=result.generated, attack_version=result.attack_version, script_src="'none'",
        index_href=fmt.relative_href(index_href), bar=_bar)


def _cell(value: object) -> str:
    return str(escape(value))


def render_skills_markdown(result: Skills) -> str:
    """GitHub-flavoured Markdown; every value escaped."""
    p = result.period
    out = [
        "# Skill gaps", "",
        f"- **Period:** {escape(fmt.when(p.since))} to {escape(fmt.when(p.until))}",
        f"- **ATT&CK:** {escape(result.attack_version)} · **FDR:** {result.fdr}"
        f" · **minimum alerts:** {result.min_alerts}",
        f"- **Alerts:** {result.alerts:,} ({result.human_handled:,} human-handled, {result.automated:,} automated)"
        f" · **tests:** {result.tests:,} · **skill gaps:** {result.skill_gaps_total:,}", "",
    ]
    out += [f"> {escape(n)}" for n in result.notes] + ([""] if result.notes else [])
    out += ["## Ranked skill gaps", ""]
    if result.skill_gaps:
        out += ["| # | Technique | Alerts | Score | Evidence |", "| ---: | --- | ---: | ---: | --- |"]
        for i, e in enumerate(result.skill_gaps, 1):
            ev = "<br>".join(_cell(x) for x in e.evidence)
            out.append(f"| {i} | {link(e.key, e.url)} {escape(e.name)} | {e.alerts:,} | {e.score:.2f} | {ev} |")
    else:
        out.append("No technique is handled significantly worse than the team's baseline.")
    out += ["", "## Training plan", ""]
    for t in result.training_plan:
        out += [f"### {t.rank}. {link(t.technique, t.url)} {escape(t.name)}", "",
                f"- **Why:** {escape(t.why)}", f"- **Exercise:** {escape(t.exercise)} "
                f"({link('Atomic Red Team tests', t.emulation_url)})"]
        if t.detection_strategies:
            out.append("- **Detection strategies to study:** " + "; ".join(
                f"{link(d.id, d.url)} {escape(d.name)}" for d in t.detection_strategies))
        out.append("")
    out += ["## Tactics", "", "| Tactic | Alerts | Gap | Score |", "| --- | ---: | --- | ---: |"]
    out += [f"| {escape(e.name)} | {e.alerts:,} | {'yes' if e.gap else 'no'} | {e.score:.2f} |" for e in result.tactics]
    out += ["", "## Never handled before", ""]
    if result.never_handled:
        out += ["| Technique | First seen | Alerts |", "| --- | --- | ---: |"]
        out += [f"| {link(n.id, n.url)} {escape(n.name)} | {escape(fmt.when(n.first_seen))} | {n.alerts:,} |"
                for n in result.never_handled]
    else:
        out.append("None." if result.history_before_period else "No history before the period.")
    if result.per_analyst:
        out += ["", "## Per analyst (opted in)", "", "| Analyst | Technique | Alerts | Score | Evidence |",
                "| --- | --- | ---: | ---: | --- |"]
        out += [f"| {escape(e.analyst)} | {link(e.technique, e.url)} {escape(e.name)} | {e.alerts:,} | {e.score:.2f} | "
                + "<br>".join(_cell(x) for x in e.evidence) + " |" for e in result.analysts if e.gap]
    return "\n".join(out) + "\n"


def _rows(kind: str, entries: tuple[Entry, ...], ranked: bool) -> list[list[object]]:
    rows = []
    for i, e in enumerate(entries, 1):
        for s in e.signals:
            rows.append([kind, i if ranked else "", e.key, e.analyst, e.technique, e.name, e.alerts, e.judged,
                         e.gap, e.score, s.name, s.n, s.value, s.baseline, s.effect, s.p, s.q, s.significant])
    return rows


def render_skills_csv(result: Skills) -> str:
    """One row per (entry, signal): ranked gaps, then techniques, tactics and (opted in) analyst cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = (_rows("gap", result.skill_gaps, True) + _rows("technique", result.techniques, False)
            + _rows("tactic", result.tactics, False) + _rows("analyst", result.analysts, False))
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "render_skills_csv", "render_skills_html", "render_skills_markdown"]
