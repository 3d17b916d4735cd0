"""The typed result of the skill-gap analysis (``afteraction skills``); see docs/skills.md."""

from __future__ import annotations

from datetime import datetime

import msgspec

from afteraction.analyze.program.period import Period

SKILLS_SCHEMA_VERSION = "1"

#: Signals in report order: two handling-time signals (Mann-Whitney U) and five outcome rates (binomial).
SIGNALS: dict[str, str] = {
    "ack_time": "time to acknowledge",
    "resolve_time": "time to resolve",
    "reclassified": "classification changed",
    "fp_to_tp": "false positive later confirmed true positive",
    "not_enough_data": "closed as notEnoughDataToValidate",
    "unknown": "closed as unknown",
    "reopened": "reopened",
}
DELAY_SIGNALS = ("ack_time", "resolve_time")
RATE_SIGNALS = ("reclassified", "fp_to_tp", "not_enough_data", "unknown", "reopened")


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Signal(Struct, kw_only=True):
    """One test of one group (technique, tactic or analyst x technique) against all other alerts.

    Delay signals: ``value`` is the group's median severity-normalised delay (delay / median delay of the
    alert's severity), ``baseline`` the same median over all other alerts, ``effect`` their ratio;
    ``median_s`` the group's median delay in seconds and ``baseline_median_s`` the median of its alerts'
    severity baselines. Rate signals: ``value`` is ``count / n``, ``baseline`` the rate of all other alerts,
    ``effect`` their ratio. ``p`` is one-sided (the group is slower / misjudges more); ``q`` is the
    Benjamini-Hochberg adjusted p-value over all tests of its family.
    """

    name: str
    n: int
    value: float | None
    baseline: float | None
    effect: float | None
    p: float | None
    q: float | None = None
    significant: bool = False
    count: int | None = None
    median_s: float | None = None
    baseline_median_s: float | None = None


class Entry(Struct, kw_only=True):
    """Signals of one technique, tactic or analyst x technique."""

    key: str  # technique id, tactic shortname, or "analyst|technique"
    name: str
    url: str = ""
    tactics: tuple[str, ...] = ()
    analyst: str | None = None
    technique: str | None = None
    alerts: int  # human-handled alerts
    judged: int  # of which classified (denominator of the rate signals)
    signals: tuple[Signal, ...] = ()
    gap: bool = False
    score: float = 0.0
    evidence: tuple[str, ...] = ()


class NewTechnique(Struct, kw_only=True):
    """A technique whose first alert in the store falls in the period: an awareness gap."""

    id: str
    name: str
    url: str = ""
    tactics: tuple[str, ...] = ()
    first_seen: datetime
    alerts: int


class Ref(Struct, kw_only=True):
    id: str
    name: str
    url: str = ""


class TrainingItem(Struct, kw_only=True):
    """One entry of the training plan, for a top-ranked skill gap."""

    rank: int
    technique: str
    name: str
    url: str = ""
    tactics: tuple[str, ...] = ()
    why: str
    evidence: tuple[str, ...] = ()
    exercise: str
    emulation_url: str = ""
    detection_strategies: tuple[Ref, ...] = ()


class SeverityBaseline(Struct, kw_only=True):
    severity: str
    alerts: int
    median_ack_s: float | None
    median_resolve_s: float | None


class Skills(Struct, kw_only=True):
    schema_version: str
    generated: datetime
    attack_version: str
    period: Period
    per_analyst: bool
    fdr: float
    min_alerts: int
    top: int
    alerts: int  # alerts created in the period
    human_handled: int
    automated: int
    tests: int  # tests under the team-level Benjamini-Hochberg control
    severity_baselines: tuple[SeverityBaseline, ...]
    baseline_rates: dict[str, float]
    skill_gaps: tuple[Entry, ...]  # ranked, at most ``top``
    skill_gaps_total: int
    techniques: tuple[Entry, ...]  # every technique with at least ``min_alerts`` handled alerts, by id
    tactics: tuple[Entry, ...]
    never_handled: tuple[NewTechnique, ...]
    history_before_period: bool
    analysts: tuple[Entry, ...] = ()  # only with per_analyst; ranked gaps first
    training_plan: tuple[TrainingItem, ...] = ()
    notes: tuple[str, ...] = ()


def json_schema() -> dict[str, object]:
    """JSON Schema (2020-12) of the skills output (for docs/schemas/skills.schema.json)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afteraction skills",
        "description": f"Output of afteraction skills (schema_version {SKILLS_SCHEMA_VERSION}); generated "
                       "from afteraction.analyze.program.skills_model.json_schema().",
        **msgspec.json.schema(Skills),
    }


__all__ = ["DELAY_SIGNALS", "RATE_SIGNALS", "SIGNALS", "SKILLS_SCHEMA_VERSION", "Entry", "NewTechnique", "Ref",
           "SeverityBaseline", "Signal", "Skills", "TrainingItem", "json_schema"]
