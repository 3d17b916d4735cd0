"""Coverage as ATT&CK Navigator layers: one categorical layer, or four (observed, detected, rules, gaps)."""

from __future__ import annotations

from typing import Any

from afteraction.analyze.coverage.model import Coverage, TechniqueCoverage
from afteraction.render.navigator import COVERAGE_CATEGORIES, Category, TechniqueEntry, categorical_layer

_YES_NO = {"yes": Category(1, "#1a9850", "Yes"), "no": Category(0, "#d73027", "No")}


def _entry(t: TechniqueCoverage) -> TechniqueEntry:
    meta: list[tuple[str, str]] = [("alerts", str(t.alerts)), ("rules", f"{t.rules} ({t.rules_enabled} enabled)")]
    if t.observed_incidents:
        meta.append(("incidents", ", ".join(t.observed_incidents[:20])))
    if t.rule_titles:
        meta.append(("rule", "; ".join(t.rule_titles)))
    if t.relevance:
        meta.append(("relevance", f"{t.relevance.score:.0f}: {t.relevance.explanation}"))
    links = (("ATT&CK", t.url),) if t.url else ()
    return TechniqueEntry(t.id, comment=t.relevance.explanation if t.relevance else None, metadata=meta, links=links)


def _options(result: Coverage, description: str) -> dict[str, Any]:
    return {"description": description, "attack_version": result.attack_version,
            "platforms": result.platforms}


def coverage_layer(result: Coverage) -> dict[str, Any]:
    """Every in-scope technique coloured by its category, with alert, rule and incident metadata."""
    cats = {t.id: t.category for t in result.techniques}
    details = {t.id: _entry(t) for t in result.techniques}
    return categorical_layer("afteraction coverage", cats, COVERAGE_CATEGORIES, details=details,
                             **_options(result, "Detected / rule exists but missed / no rule / never seen"))


def coverage_layers(result: Coverage) -> list[dict[str, Any]]:
    """Four layers to compare side by side: observed, detected, rules present, and gaps."""
    rows = result.techniques
    details = {t.id: _entry(t) for t in rows}
    observed = {t.id: "yes" for t in rows if t.category != "never_seen"}
    detected = {t.id: ("yes" if t.category == "detected" else "no") for t in rows if t.category != "never_seen"}
    rules = {t.id: ("yes" if t.rules or t.detectors_ever else "no") for t in rows}
    gaps = {g.technique: "no" for g in result.gaps}

    def layer(name: str, cats: dict[str, str], text: str) -> dict[str, Any]:
        return categorical_layer(name, cats, _YES_NO, details={k: details[k] for k in cats if k in details},
                                 **_options(result, text))

    return [
        layer("afteraction observed", observed, "Techniques seen in incidents (alerts or analysts' annotations)"),
        layer("afteraction detected", detected, "Observed techniques: an alert fired (yes) or not (no)"),
        layer("afteraction rules", rules, "A rule in the inventory or a detector that fired covers it"),
        layer("afteraction gaps", gaps, "The top-ranked gaps"),
    ]


__all__ = ["coverage_layer", "coverage_layers"]
