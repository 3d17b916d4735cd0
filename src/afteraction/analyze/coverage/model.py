"""The typed result of a coverage analysis (``afteraction coverage``)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from afteraction.analyze.review.model import DetectionRec, MitigationRec

COVERAGE_SCHEMA_VERSION = "1"

#: The four categories, best first, and their labels.
CATEGORIES: dict[str, str] = {
    "detected": "Detected",
    "missed": "Rule exists but missed",
    "no_rule": "No rule",
    "never_seen": "Never seen",
}


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of the coverage records."""


class Relevance(Struct):
    """How much a technique matters, and why (see docs/coverage.md for the formula)."""

    score: float  # 0..100
    groups_using: int
    groups_total: int
    concern_groups: tuple[str, ...] = ()  # groups of concern that use it ("G0016 APT29")
    seen_incidents: int = 0
    explanation: str = ""


class TechniqueCoverage(Struct):
    id: str
    name: str | None
    url: str | None
    tactics: tuple[str, ...]
    platforms: tuple[str, ...]
    parent: str | None
    category: str
    observed_count: int = 0  # incidents it was seen in (alerts or annotations), in the period
    observed_incidents: tuple[str, ...] = ()  # their ids when at most 50 have alerts (annotated ones always)
    annotated_incidents: tuple[str, ...] = ()  # recorded by analysts as undetected
    alerts: int = 0
    true_positives: int = 0
    false_positives: int = 0
    true_positive_share: float | None = None
    by_source: dict[str, int] = {}
    by_detector: dict[str, int] = {}  # the ten busiest detectors in the period
    detectors: int = 0  # distinct detectors that fired for it in the period (a HyperLogLog estimate)
    rules: int = 0
    rules_enabled: int = 0
    rule_titles: tuple[str, ...] = ()  # up to 5
    detectors_ever: int = 0  # distinct detectors that fired for it in any period
    relevance: Relevance | None = None
    subtechniques: dict[str, int] = {}  # parents only: category -> number of sub-techniques in it


class Gap(Struct):
    """One ranked gap with what would close it."""

    rank: int
    technique: str
    name: str | None
    category: str
    score: float
    why: str
    detections: DetectionRec | None = None
    mitigations: tuple[MitigationRec, ...] = ()
    nearby_rules: tuple[str, ...] = ()  # inventory rules on the same parent technique


class Summary(Struct):
    techniques_in_scope: int
    observed: int
    by_category: dict[str, int]
    detected_share: float | None  # detected / observed techniques
    alerts: int
    rules: int
    rules_enabled: int
    rule_errors: int


class CategoryChange(Struct):
    """A technique whose category differs between the compared period and this one."""

    technique: str
    name: str | None
    before: str
    after: str
    direction: str  # improved | regressed | newly_seen | no_longer_seen


class Comparison(Struct):
    """This period against another one (``--compare-to``)."""

    since: datetime | None
    until: datetime | None
    summary: Summary
    changes: tuple[CategoryChange, ...]
    counts: dict[str, int]  # direction -> techniques


class Coverage(Struct):
    schema_version: str
    generated: datetime
    attack_version: str
    since: datetime | None
    until: datetime | None
    platforms: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    groups_of_concern: tuple[str, ...]
    rules_given: bool
    summary: Summary
    techniques: tuple[TechniqueCoverage, ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...] = ()
    comparison: Comparison | None = None


def json_schema() -> dict[str, object]:
    """JSON Schema (2020-12) of the coverage output, as committed in docs/schemas/coverage.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afteraction coverage",
        "description": f"Output of afteraction coverage (schema_version {COVERAGE_SCHEMA_VERSION}); generated "
                       "from afteraction.analyze.coverage.model by `python -m afteraction.analyze.review.schemas`.",
        **msgspec.json.schema(Coverage),
    }
