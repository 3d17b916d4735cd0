"""Coverage per technique: what happened (alerts, annotations) vs what fired vs what rules exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from afteraction.analyze.coverage.facts import detectors_ever, technique_alerts, undetected_annotations
from afteraction.analyze.coverage.model import (
    CATEGORIES,
    COVERAGE_SCHEMA_VERSION,
    CategoryChange,
    Comparison,
    Coverage,
    Gap,
    Summary,
    TechniqueCoverage,
)
from afteraction.analyze.coverage.relevance import GroupUsage, relevance, resolve_groups
from afteraction.analyze.review.chain import technique_info
from afteraction.analyze.review.recommend import detection_recs, mitigations

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.attack.model import Technique
    from afteraction.rules.model import Rule, RuleInventory
    from afteraction.store.db import Store

TOP_GAPS = 15


def _in_scope(tech: Technique, platforms: set[str], include: set[str], exclude: set[str]) -> bool:
    if tech.revoked or tech.deprecated:
        return False
    keys = {tech.id, tech.parent or tech.id, *tech.tactics}
    if include and not keys & include:
        return False
    if keys & exclude:
        return False
    return not platforms or bool(platforms & {p.lower() for p in tech.platforms})


def coverage(store: Store, kb: KnowledgeBase, *, rules: RuleInventory | Callable[[], RuleInventory] | None = None,
             since: datetime | None = None, until: datetime | None = None, platforms: list[str] | None = None,
             include: list[str] | None = None, exclude: list[str] | None = None,
             groups: list[str] | None = None, top: int = TOP_GAPS, now: datetime | None = None,
             compare_to: tuple[datetime | None, datetime | None] | None = None) -> Coverage:
    """The coverage of every in-scope technique in ``[since, until)`` and the top ``top`` gaps, ranked.

    ``compare_to`` is another period ``(since, until)``: the result then lists every technique whose
    category changed from that period to this one. ``rules`` may be a callable returning the inventory
    (a future's ``result``): it is called only after the store has been queried, so a caller can parse
    the rule files while DuckDB works.
    """
    if compare_to is not None:
        if callable(rules):
            rules = rules()
        before = coverage(store, kb, rules=rules, since=compare_to[0], until=compare_to[1], platforms=platforms,
                          include=include, exclude=exclude, groups=groups, top=0, now=now)
        after = coverage(store, kb, rules=rules, since=since, until=until, platforms=platforms, include=include,
                         exclude=exclude, groups=groups, top=top, now=now)
        return msgspec.structs.replace(after, comparison=compare(before, after))
    concern = resolve_groups(kb, groups or [])
    plat = {p.lower() for p in platforms or []}
    inc = {_norm(x, kb) for x in include or []}
    exc = {_norm(x, kb) for x in exclude or []}
    scope = sorted((t for t in kb.techniques.values() if _in_scope(t, plat, inc, exc)), key=lambda t: t.id)
    fired = {a.technique: a for a in technique_alerts(store, since, until)}
    if callable(rules):
        rules = rules()
    annotated = undetected_annotations(store, since, until)
    # Over the whole history the period's own detector counts are the all-time ones: skip the second scan.
    ever = {t: a.detectors for t, a in fired.items()} if since is None and until is None else detectors_ever(store)
    by_rule = rules.by_technique() if rules else {}
    usage = GroupUsage(kb)
    rows: list[TechniqueCoverage] = []
    for tech in scope:
        a = fired.get(tech.id)
        marked = annotated.get(tech.id, ())
        observed = tuple(sorted({*(a.incidents if a else ()), *marked}))
        # Exact while a technique has at most SAMPLE alert incidents; beyond, an annotated incident that
        # also has an alert outside the sample is counted twice (rare: annotations name missed techniques).
        seen = (a.incident_count if a else 0) + len(set(marked) - set(a.incidents if a else ()))
        live = [r for r in by_rule.get(tech.id, []) if r.status != "deprecated"]
        if a is not None and a.alerts:
            category = "detected"
        elif marked:
            category = "missed" if live or ever.get(tech.id) else "no_rule"
        else:
            category = "never_seen"
        handled = (a.true_positives + a.false_positives) if a else 0
        rows.append(TechniqueCoverage(
            id=tech.id, name=tech.name, url=tech.url or None, tactics=tech.tactics, platforms=tech.platforms,
            parent=tech.parent, category=category, observed_count=seen, observed_incidents=observed,
            annotated_incidents=marked,
            alerts=a.alerts if a else 0, true_positives=a.true_positives if a else 0,
            false_positives=a.false_positives if a else 0,
            true_positive_share=round(a.true_positives / handled, 3) if a and handled else None,
            by_source=a.by_source if a else {}, by_detector=a.by_detector if a else {},
            detectors=a.detectors if a else 0,
            rules=len(live), rules_enabled=sum(r.enabled for r in live),
            rule_titles=tuple(r.title for r in live[:5]), detectors_ever=ever.get(tech.id, 0),
            relevance=relevance(usage, tech.id, concern, seen),
        ))
    rows = _roll_up(rows)
    notes = _notes(fired, {t.id for t in scope}, rules)
    return Coverage(
        schema_version=COVERAGE_SCHEMA_VERSION, generated=now or datetime.now(UTC), attack_version=kb.version,
        since=since, until=until, platforms=tuple(sorted(platforms or [])), include=tuple(sorted(inc)),
        exclude=tuple(sorted(exc)), groups_of_concern=tuple(concern), rules_given=rules is not None,
        summary=_summary(rows, rules), techniques=tuple(rows), gaps=_gaps(kb, rows, by_rule, top),
        notes=notes,
    )


_RANK = {"detected": 3, "missed": 2, "no_rule": 1}


def compare(before: Coverage, after: Coverage) -> Comparison:
    """Techniques whose category changed from ``before`` to ``after``, with the direction of each change."""
    old = {t.id: t.category for t in before.techniques}
    changes = []
    for t in after.techniques:
        was = old.get(t.id, "never_seen")
        if was == t.category:
            continue
        if was == "never_seen":
            direction = "newly_seen"
        elif t.category == "never_seen":
            direction = "no_longer_seen"
        else:
            direction = "improved" if _RANK[t.category] > _RANK[was] else "regressed"
        changes.append(CategoryChange(technique=t.id, name=t.name, before=was, after=t.category,
                                      direction=direction))
    order = {"regressed": 0, "improved": 1, "newly_seen": 2, "no_longer_seen": 3}
    changes.sort(key=lambda c: (order[c.direction], c.technique))
    counts = dict.fromkeys(order, 0)
    for c in changes:
        counts[c.direction] += 1
    return Comparison(since=before.since, until=before.until, summary=before.summary, changes=tuple(changes),
                      counts=counts)


def _norm(value: str, kb: KnowledgeBase) -> str:
    tactic = kb.tactic(value)
    if tactic is not None:
        return tactic.shortname
    return kb.resolve(value).id


def _roll_up(rows: list[TechniqueCoverage]) -> list[TechniqueCoverage]:
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.parent:
            slot = counts.setdefault(row.parent, dict.fromkeys(CATEGORIES, 0))
            slot[row.category] += 1
    return [msgspec.structs.replace(r, subtechniques=counts[r.id]) if r.id in counts else r for r in rows]


def _gaps(kb: KnowledgeBase, rows: list[TechniqueCoverage], by_rule: dict[str, list[Rule]], top: int
          ) -> tuple[Gap, ...]:
    def score(r: TechniqueCoverage) -> float:
        return r.relevance.score if r.relevance else 0.0

    observed = sorted((r for r in rows if r.category in ("missed", "no_rule")), key=lambda r: (-score(r), r.id))
    # A parent with sub-techniques is judged through them (alerts and rules name the sub-technique).
    unprotected = sorted((r for r in rows if r.category == "never_seen" and not r.rules and not r.detectors_ever
                          and not r.subtechniques), key=lambda r: (-score(r), r.id))
    out: list[Gap] = []
    for rank, row in enumerate([*observed, *unprotected][:top], 1):
        if row.category == "missed":
            why = (f"seen in {len(row.annotated_incidents)} incident(s) without an alert although "
                   f"{row.rules or row.detectors_ever} rule(s) or detector(s) cover it: check scope, data and tuning")
        elif row.category == "no_rule":
            why = f"seen in {len(row.annotated_incidents)} incident(s) without an alert, and no rule covers it"
        else:
            why = "no rule covers it and it has not been seen yet"
        parent = row.parent or row.id
        nearby = sorted({r.title for tid, rules in by_rule.items() if tid != row.id
                         and (tid == parent or tid.startswith(parent + ".")) for r in rules})[:5]
        dets = detection_recs(kb, [(technique_info(kb, row.id), why)])
        out.append(Gap(
            rank=rank, technique=row.id, name=row.name, category=row.category, score=score(row),
            why=f"{why}; {row.relevance.explanation}" if row.relevance else why,
            detections=dets[0] if dets else None, mitigations=mitigations(kb, [row.id])[:3],
            nearby_rules=tuple(nearby),
        ))
    return tuple(out)


def _summary(rows: list[TechniqueCoverage], rules: RuleInventory | None) -> Summary:
    by = dict.fromkeys(CATEGORIES, 0)
    for r in rows:
        by[r.category] += 1
    observed = by["detected"] + by["missed"] + by["no_rule"]
    return Summary(
        techniques_in_scope=len(rows), observed=observed, by_category=by,
        detected_share=round(by["detected"] / observed, 4) if observed else None,
        alerts=sum(r.alerts for r in rows), rules=len(rules.rules) if rules else 0,
        rules_enabled=sum(r.enabled for r in rules.rules) if rules else 0,
        rule_errors=len(rules.errors) if rules else 0,
    )


def _notes(fired: dict, scope: set[str], rules: RuleInventory | None) -> tuple[str, ...]:  # type: ignore[type-arg]
    notes = []
    outside = sorted(t for t in fired if t not in scope)
    if outside:
        notes.append(f"{len(outside)} technique id(s) with alerts are outside the scope or not active in this "
                     f"ATT&CK version: {', '.join(outside[:10])}{' …' if len(outside) > 10 else ''}")
    if rules is None:
        notes.append("no rule inventory given (--rules): a technique counts as having a rule only when some "
                     "detector has fired for it at any time")
    elif rules.errors:
        notes.append(f"{len(rules.errors)} rule(s) could not be read; see the rule errors")
    return tuple(notes)


__all__ = ["TOP_GAPS", "compare", "coverage"]
