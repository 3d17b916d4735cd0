"""The typed result of an incident review (``afteraction.analyze.review``).

Every field is plain data (msgspec Structs, tuples, ISO datetimes, seconds), so renderers and the JSON
output read the same object. Durations are seconds (``float``) or ``None`` when the data cannot tell.
Strings that came from alerts are kept verbatim: escaping is the renderers' job.
"""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from afteraction.analyze.attribution.model import Attribution

#: Bump on any incompatible change of the JSON shape (documented in docs/schemas/review.schema.json).
REVIEW_SCHEMA_VERSION = "1"


class Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of the review records."""


class Link(Struct):
    """A link whose URL is known to be http(s); anything else is dropped before it gets here."""

    label: str
    url: str


class TechniqueInfo(Struct):
    id: str
    name: str | None = None
    url: str | None = None
    status: str = "active"  # active | revoked | deprecated | unknown | invalid
    raw: str | None = None  # the id the alert carried, when it differs (revoked, odd spelling)


class Header(Struct):
    source: str
    id: str
    title: str
    severity: str
    status: str
    classification: str | None = None
    determination: str | None = None
    owner: str | None = None
    tenant_id: str | None = None
    created: datetime | None = None
    last_updated: datetime | None = None
    tags: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    attack_version: str = ""
    attack_source: str = ""


class IncidentType(Struct):
    """The inferred incident type and the facts that made it so."""

    type: str  # one of incident_type.TYPES: phishing, identity_compromise, ransomware, ... other
    label: str
    reasons: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # other types with supporting signals, strongest first


class PeerComparison(Struct):
    """Medians of stored incidents of the same type and severity (this incident excluded)."""

    incident_type: str
    severity: str
    peers: int
    time_to_detect: float | None = None
    time_to_acknowledge: float | None = None
    time_to_resolve: float | None = None
    alerts: float | None = None


class Metrics(Struct):
    first_activity: datetime | None = None
    last_activity: datetime | None = None
    first_alert: datetime | None = None
    acknowledged: datetime | None = None
    acknowledged_by: str | None = None  # what marked the acknowledgement (e.g. "first comment")
    resolved: datetime | None = None
    time_to_detect: float | None = None
    time_to_acknowledge: float | None = None
    time_to_resolve: float | None = None
    dwell_time: float | None = None
    activity_span: float | None = None
    alerts: int = 0
    techniques: int = 0
    tactics: int = 0
    entities: int = 0
    entities_by_type: dict[str, int] = {}
    peers: PeerComparison | None = None
    peers_note: str | None = None  # why there is no comparison


class EvidenceRef(Struct):
    type: str
    name: str
    verdict: str = "unknown"


class TimelineEntry(Struct):
    time: datetime | None
    kind: str  # alert | comment
    title: str
    alert_id: str | None = None
    created: datetime | None = None  # when the alert fired (``time`` is when the activity began)
    severity: str | None = None
    status: str | None = None
    classification: str | None = None
    tactics: tuple[str, ...] = ()  # tactic names
    techniques: tuple[TechniqueInfo, ...] = ()
    detection_source: str | None = None
    service_source: str | None = None
    author: str | None = None
    evidence: tuple[EvidenceRef, ...] = ()
    url: str | None = None


class ChainStage(Struct):
    tactic_id: str
    tactic: str
    shortname: str
    order: int
    observed: bool
    techniques: tuple[TechniqueInfo, ...] = ()
    alert_ids: tuple[str, ...] = ()
    first_seen: datetime | None = None
    first_alert: datetime | None = None
    undetected: tuple[TechniqueInfo, ...] = ()  # recorded by analysts (annotate --undetected), no alert


class LikelyTechnique(Struct):
    """A technique of a skipped stage that ATT&CK groups using the observed techniques also use."""

    technique: TechniqueInfo
    groups: int  # groups using it among those that share the observed techniques
    of_groups: int


class SkippedStage(Struct):
    tactic_id: str
    tactic: str
    question: str
    likely: tuple[LikelyTechnique, ...] = ()


class Chain(Struct):
    stages: tuple[ChainStage, ...]
    earliest_stage: str | None = None  # tactic name of the earliest stage in kill-chain order
    earliest_activity: datetime | None = None
    first_detected_stage: str | None = None  # tactic of the first alert that fired
    first_detected: datetime | None = None
    detected_late: bool = False  # the first alert is later in the chain than the earliest stage
    skipped: tuple[SkippedStage, ...] = ()
    unmapped_alerts: tuple[str, ...] = ()  # alert ids with no known technique or tactic
    undetected: tuple[str, ...] = ()  # technique ids analysts recorded as undetected in this incident


class Entity(Struct):
    type: str
    key: str
    name: str
    roles: tuple[str, ...] = ()
    verdict: str = "unknown"
    remediation_status: str = "none"
    alert_ids: tuple[str, ...] = ()
    details: dict[str, str] = {}
    unremediated: bool = False


class DetectorUse(Struct):
    service_source: str | None
    detection_source: str | None
    detector_id: str | None
    title: str
    alerts: int
    false_positives: int
    true_positives: int


class Detection(Struct):
    sources: dict[str, int] = {}
    detectors: tuple[DetectorUse, ...] = ()
    false_positive_alerts: tuple[str, ...] = ()


class MitigationRec(Struct):
    id: str
    name: str
    url: str | None = None
    techniques: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()  # technique-specific advice, "T1234: text"


class DetectionRec(Struct):
    technique: TechniqueInfo
    reason: str
    strategies: tuple[Link, ...] = ()
    data_components: tuple[str, ...] = ()
    log_sources: tuple[str, ...] = ()


class Step(Struct):
    title: str
    detail: str


class Recommendations(Struct):
    mitigations: tuple[MitigationRec, ...] = ()
    detections: tuple[DetectionRec, ...] = ()
    type_steps: tuple[Step, ...] = ()
    type_steps_source: str | None = None


class ActionItem(Struct):
    what: str
    why: str
    links: tuple[str, ...] = ()  # technique ids, mitigation ids, entity keys
    priority: str = "medium"  # high | medium | low
    #: general: a technique or gap any later incident can show again; incident: only about this one
    scope: str = "general"


class TrackedItem(Struct):
    """An action item tracked with ``afteraction actions``: one of this incident's, or one still open from
    elsewhere about a technique or gap this incident shows again (``matched`` says what they share)."""

    id: int
    what: str
    status: str  # open | in_progress | done | wont_do
    priority: str
    owner: str | None = None
    due: date | None = None
    overdue: bool = False
    source: str | None = None  # the incident the item came from; None for program-level items
    incident_id: str | None = None
    matched: tuple[str, ...] = ()  # the item's links this incident shows: techniques, mitigations, entities...


class Question(Struct):
    number: int
    text: str
    answer: str | None = None


class Review(Struct):
    """One incident's post-incident review."""

    schema_version: str
    generated: datetime
    header: Header
    incident_type: IncidentType
    summary: tuple[str, ...]
    metrics: Metrics
    timeline: tuple[TimelineEntry, ...]
    chain: Chain
    entities: tuple[Entity, ...]
    detection: Detection
    recommendations: Recommendations
    lessons: tuple[Question, ...]
    action_items: tuple[ActionItem, ...]
    notes: tuple[str, ...] = ()
    #: open action items from earlier reviews about what this incident shows again ("this was already known")
    known_items: tuple[TrackedItem, ...] = ()
    #: this incident's own tracked action items (adopted suggestions and the ones users added), any status
    tracked_items: tuple[TrackedItem, ...] = ()  # what the data could not tell (missing times, unknown techniques...)
    #: ranked ATT&CK groups, campaigns and software the incident is most consistent with (a shortlist, not a finding)
    attribution: Attribution | None = None


class IndexRow(Struct):
    """One incident in the report site's index."""

    source: str
    id: str
    title: str
    incident_type: str
    incident_type_label: str
    severity: str
    status: str
    classification: str | None = None
    determination: str | None = None
    owner: str | None = None
    created: datetime | None = None
    first_activity: datetime | None = None
    resolved: datetime | None = None
    alerts: int = 0
    techniques: int = 0
    time_to_detect: float | None = None
    time_to_resolve: float | None = None
    unremediated: int = 0
    page: str = ""  # relative link to the incident's review page, made by the site builder


class Index(Struct):
    """The report site's index of incidents."""

    schema_version: str
    generated: datetime
    attack_version: str
    incidents: tuple[IndexRow, ...]


def json_schemas() -> dict[str, dict[str, object]]:
    """JSON Schemas (2020-12) of the review and index outputs, as committed under docs/schemas/."""
    out: dict[str, dict[str, object]] = {}
    for name, kind, title in (("review", Review, "afteraction incident review"),
                              ("index", Index, "afteraction report site index")):
        schema = msgspec.json.schema(kind)
        out[f"{name}.schema.json"] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": f"Output of afteraction (schema_version {REVIEW_SCHEMA_VERSION}); generated from "
                           "afteraction.analyze.review.model by `python -m afteraction.analyze.review.schemas`.",
            **schema,
        }
    from afteraction.analyze.coverage.model import json_schema as coverage_schema

    out["coverage.schema.json"] = coverage_schema()
    return out

