"""The typed result of the process-metrics analysis (``afteraction process``): JSON-serialisable Structs."""

from __future__ import annotations

from datetime import datetime

import msgspec

from afteraction.analyze.program.period import Period
from afteraction.analyze.program.sla import SlaTargets

PROCESS_SCHEMA_VERSION = "1"


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The documented rules the analysis applied."""

    noisy_min_classified: int  # a detector needs at least this many classified alerts to be called noisy
    noisy_min_share: float  # ... and at least this share of them false or benign positives
    repeated_min_incidents: int  # a technique is "repeated" in at least this many true-positive incidents
    mitigation_min_techniques: int  # a mitigation is recommended when it covers at least this many of them
    max_mitigations: int


class Outcomes(msgspec.Struct, frozen=True, kw_only=True):
    """Alert outcomes: classified (true, false, benign positive) or not (no or ``unknown``/``other`` verdict)."""

    alerts: int
    true_positives: int
    false_positives: int
    benign: int
    unclassified: int
    false_positive_share: float | None  # of classified alerts
    benign_share: float | None  # of classified alerts


class BucketRatio(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    alerts: int
    incidents: int
    ratio: float | None  # alerts per incident


class DetectorStats(msgspec.Struct, frozen=True, kw_only=True):
    source_name: str
    detector_id: str
    title: str
    outcomes: Outcomes
    automated: int


class SourceStats(msgspec.Struct, frozen=True, kw_only=True):
    source_name: str
    outcomes: Outcomes
    automated: int
    automated_share: float | None


class NoisyDetector(msgspec.Struct, frozen=True, kw_only=True):
    rank: int
    source_name: str
    detector_id: str
    title: str
    alerts: int
    wasted: int  # false + benign positives
    noise_share: float  # wasted / classified
    false_positive_share: float
    benign_share: float
    volume_share: float  # of all alerts in the period
    wasted_share: float  # of all false and benign positives in the period


class SeverityRow(msgspec.Struct, frozen=True, kw_only=True):
    severity: str
    outcomes: Outcomes
    true_positive_share: float | None  # of classified alerts


class Callout(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # high_severity_false_positives | low_severity_true_positives
    alerts: int
    share: float | None  # of that severity's classified alerts
    text: str


class BacklogRow(msgspec.Struct, frozen=True, kw_only=True):
    severity: str
    under_1d: int
    days_1_7: int
    days_7_30: int
    over_30d: int
    total: int


class OpenIncident(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    id: str
    title: str
    severity: str
    status: str
    opened: datetime
    age_seconds: float


class Backlog(msgspec.Struct, frozen=True, kw_only=True):
    as_of: datetime
    open: int
    by_severity: tuple[BacklogRow, ...]
    oldest: tuple[OpenIncident, ...]


class SlaRow(msgspec.Struct, frozen=True, kw_only=True):
    severity: str
    acknowledge_seconds: float
    resolve_seconds: float
    incidents: int  # whose first alert is in the period
    acknowledge_measured: int  # acknowledged before the period's end, or unacknowledged past the target
    acknowledge_breaches: int  # including the unacknowledged ones past the target
    unacknowledged_breaches: int = 0
    acknowledge_breach_share: float | None
    resolve_measured: int  # resolved before the end, or open past the target
    resolve_breaches: int  # including the open ones past the target
    open_breaches: int
    resolve_breach_share: float | None


class RepeatedTechnique(msgspec.Struct, frozen=True, kw_only=True):
    technique: str
    name: str
    incidents: int  # true-positive incidents of the period with an alert mapped to it
    url: str


class Recommendation(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # tune_detector | mitigation
    title: str
    action: str
    evidence: tuple[str, ...]
    mitigation_id: str | None = None
    url: str | None = None
    techniques: tuple[str, ...] = ()


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    alerts: int
    incidents: int
    alerts_per_incident: float | None
    outcomes: Outcomes
    automated: int
    automated_share: float | None
    detectors: int  # distinct detectors
    sources: int


class Process(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: str
    attack_version: str | None
    generated: datetime
    period: Period
    sla: SlaTargets
    thresholds: Thresholds
    summary: Summary
    ratio_by_bucket: tuple[BucketRatio, ...]
    detectors: tuple[DetectorStats, ...]  # the busiest ``top``
    sources: tuple[SourceStats, ...]
    noisy_detectors: tuple[NoisyDetector, ...]
    severity: tuple[SeverityRow, ...]
    callouts: tuple[Callout, ...]
    backlog: Backlog
    sla_breaches: tuple[SlaRow, ...]
    repeated_techniques: tuple[RepeatedTechnique, ...]
    recommendations: tuple[Recommendation, ...]
    notes: tuple[str, ...] = ()


def json_schema() -> dict[str, object]:
    """JSON Schema (2020-12) of the process output (to commit as docs/schemas/process.schema.json)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afteraction process",
        "description": f"Output of afteraction process (schema_version {PROCESS_SCHEMA_VERSION}); generated "
                       "from afteraction.analyze.program.process_model.",
        **msgspec.json.schema(Process),
    }


__all__ = ["PROCESS_SCHEMA_VERSION", "Backlog", "BacklogRow", "BucketRatio", "Callout", "DetectorStats",
           "NoisyDetector", "OpenIncident", "Outcomes", "Process", "Recommendation", "RepeatedTechnique",
           "SeverityRow", "SlaRow", "SourceStats", "Summary", "Thresholds", "json_schema"]
