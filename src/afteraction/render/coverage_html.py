"""The coverage page of the report site: an ATT&CK matrix heatmap, the ranked gaps and the notes.

One self-contained, printable HTML page with no script: tactic columns in matrix order, one cell per
technique coloured by its coverage category (the colours of :data:`~afteraction.render.navigator.
COVERAGE_CATEGORIES`), sub-techniques inside their parent's ``<details>``. Every value from rules,
alerts or the knowledge base goes through the shared environment's finalize and HTML escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from afteraction.analyze.coverage.model import CATEGORIES, Coverage, TechniqueCoverage
from afteraction.render import fmt
from afteraction.render.html import environment
from afteraction.render.navigator import COVERAGE_CATEGORIES

_TOC = (("summary", "Summary"), ("matrix", "ATT&CK matrix"), ("gaps", "Top gaps"), ("observed", "Observed"))


@dataclass
class Cell:
    """One technique in one tactic column, with its sub-techniques (parents only)."""

    t: TechniqueCoverage
    tip: str
    subs: list[Cell] = field(default_factory=list)
    strip: list[tuple[str, float]] = field(default_factory=list)  # category -> share of the sub-techniques


@dataclass
class Column:
    shortname: str
    name: str
    cells: list[Cell]
    counts: dict[str, int]  # category -> techniques and sub-techniques in this column


def _tip(t: TechniqueCoverage) -> str:
    """The cell's tooltip: category, alerts, rules, incidents and relevance, one fact a line."""
    lines = [f"{t.id} {t.name or ''}".strip(), CATEGORIES.get(t.category, t.category)]
    if t.alerts:
        share = "" if t.true_positive_share is None else f" ({t.true_positive_share:.0%} true positive)"
        lines.append(f"{t.alerts} alert{'s' if t.alerts != 1 else ''}{share}")
    if t.observed_count:
        lines.append(f"seen in {t.observed_count} incident{'s' if t.observed_count != 1 else ''}")
    if t.annotated_incidents:
        lines.append(f"recorded undetected in {len(t.annotated_incidents)} incident(s)")
    lines.append(f"{t.rules} rule{'s' if t.rules != 1 else ''} ({t.rules_enabled} enabled)")
    if t.rule_titles:
        lines.append("rules: " + "; ".join(fmt.truncate(r, 60) for r in t.rule_titles))
    if t.relevance:
        lines.append(f"relevance {t.relevance.score:.0f}: {t.relevance.explanation}")
    if t.subtechniques:
        lines.append("sub-techniques: " + ", ".join(f"{n} {CATEGORIES.get(c, c).lower()}"
                                                     for c, n in _ordered(t.subtechniques.items())))
    return "\n".join(fmt.truncate(line, 300) for line in lines)


def _ordered(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    order = list(CATEGORIES)
    return sorted(((c, n) for c, n in items if n),
                  key=lambda i: (order.index(i[0]) if i[0] in order else len(order), i[0]))


def _sort_key(t: TechniqueCoverage) -> tuple[str, str]:
    return ((t.name or "").casefold(), t.id)


def _columns(result: Coverage, tactics: Sequence[tuple[str, str]] | None) -> list[Column]:
    """Tactic columns in matrix order; tactics the caller did not name come last, in order of appearance."""
    order = [(short, name) for short, name in tactics or ()]
    known = {short for short, _ in order}
    for t in result.techniques:
        for short in t.tactics:
            if short not in known:
                known.add(short)
                order.append((short, fmt.label(short)))
    ids = {t.id for t in result.techniques}
    subs: dict[str, list[TechniqueCoverage]] = {}
    for t in result.techniques:
        if t.parent and t.parent in ids:
            subs.setdefault(t.parent, []).append(t)
    columns: list[Column] = []
    for short, name in order:
        tops = sorted((t for t in result.techniques
                       if short in t.tactics and not (t.parent and t.parent in ids)), key=_sort_key)
        cells: list[Cell] = []
        counts: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
        for t in tops:
            children = sorted(subs.get(t.id, []), key=_sort_key)
            cell = Cell(t, _tip(t), [Cell(s, _tip(s)) for s in children])
            total = sum(t.subtechniques.values())
            cell.strip = [(c, round(100 * n / total, 2)) for c, n in _ordered(t.subtechniques.items())] if total else []
            cells.append(cell)
            for x in (t, *children):
                counts[x.category] = counts.get(x.category, 0) + 1
        columns.append(Column(short, name, cells, counts))
    return columns


def _cards(result: Coverage) -> list[dict[str, str]]:
    s = result.summary
    share = "—" if s.detected_share is None else f"{s.detected_share:.0%}"
    rules_sub = f"{fmt.count(s.rules_enabled)} enabled" if result.rules_given else "no rule inventory given"
    if s.rule_errors:
        rules_sub += f" · {fmt.count(s.rule_errors)} unreadable"
    return [
        {"key": "Techniques in scope", "value": fmt.count(s.techniques_in_scope), "sub": "with sub-techniques",
         "cls": ""},
        {"key": "Observed", "value": fmt.count(s.observed), "sub": "techniques seen in incidents", "cls": ""},
        {"key": "Detected share", "value": share, "sub": "observed techniques that raised an alert",
         "cls": "accent"},
        {"key": "Alerts", "value": fmt.count(s.alerts), "sub": "mapped to in-scope techniques", "cls": ""},
        {"key": "Rules", "value": fmt.count(s.rules), "sub": rules_sub, "cls": ""},
    ]


def _period(result: Coverage) -> str:
    if result.since is None and result.until is None:
        return "All stored incidents"
    return (f"From {fmt.when(result.since) if result.since else 'the first stored incident'} "
            f"to {fmt.when(result.until) if result.until else 'now'}")


def _urls(result: Coverage) -> dict[str, str]:
    return {t.id: t.url for t in result.techniques if t.url and fmt.http_url(t.url)}


def render_coverage_html(result: Coverage, *, tactics: Sequence[tuple[str, str]] | None = None,
                         index_href: str | None = None) -> str:
    """The coverage page; ``tactics`` are ``(shortname, name)`` in matrix order (``kb.tactics``)."""
    s = result.summary
    observed = sorted((t for t in result.techniques if t.category != "never_seen"),
                      key=lambda t: (list(CATEGORIES).index(t.category) if t.category in CATEGORIES else 9,
                                     -t.alerts, t.id))
    toc = list(_TOC) + ([("notes", "Notes")] if result.notes else [])
    context = {
        "result": result,
        "generated": result.generated,
        "attack_version": result.attack_version,
        "script_src": "'none'",
        "index_href": fmt.relative_href(index_href),
        "toc": toc,
        "cards": _cards(result),
        "categories": [(key, label, COVERAGE_CATEGORIES[key].color if key in COVERAGE_CATEGORIES else "",
                        COVERAGE_CATEGORIES[key].label if key in COVERAGE_CATEGORIES else label,
                        s.by_category.get(key, 0)) for key, label in CATEGORIES.items()],
        "labels": CATEGORIES,
        "columns": _columns(result, tactics),
        "observed": observed,
        "urls": _urls(result),
        "period": _period(result),
    }
    return environment().get_template("coverage.html.j2").render(context)


__all__ = ["render_coverage_html"]
