"""``truth.json``: everything the generator planted, as msgspec Structs, and its streaming writer.

Decode a file with :func:`load_truth`. The JSON Schema is ``docs/schemas/truth.schema.json``; the
fields are described in ``docs/generate.md``. Times are UTC ISO-8601 with a ``Z`` suffix. Incidents
appear in export order (newest first); ``stats`` comes after them because it is counted while writing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO, Literal

import msgspec

TRUTH_FORMAT = "afteraction-synth-truth/1"

Kind = Literal["true_positive", "benign_positive", "false_positive"]
Planted = Literal["anchor", "chain", "rising", "fading", "noise"]
Outcome = Literal["correct", "reclassified", "insufficient_data", "unknown", "automation", "open"]


class _S(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ActorRef(_S):
    """The ATT&CK group or campaign behind an incident."""

    kind: Literal["group", "campaign"]
    id: str
    name: str


class SoftwareRef(_S):
    """An ATT&CK software entry."""

    id: str
    name: str


class EntityRef(_S):
    """An evidence entity by type and dedupe key (the key afteraction's readers derive)."""

    type: str
    key: str


class Step(_S):
    """One attack-chain step, in kill-chain order."""

    technique: str
    name: str
    tactic: str  # shortname, e.g. credential-access
    tactic_id: str
    surface: str
    planted: Planted
    activity: datetime
    detected: bool
    alert_ids: list[str]
    software: str | None  # ATT&CK software id named by this step's alert
    outcome: Outcome | None  # how the alert was handled; None when not detected
    found_in_investigation: bool  # undetected, but an incident comment records it


class TruthIncident(_S):
    """One generated incident and what drove it."""

    id: str
    kind: Kind
    incident_type: str
    actor: ActorRef | None
    cluster: str | None
    detector: str | None  # noisy detector id (benign and false positives)
    hostile: bool
    software: list[SoftwareRef]
    ips: list[str]
    domains: list[str]
    steps: list[Step]
    first_activity: datetime
    first_alert: datetime
    acknowledged: datetime | None
    resolved: datetime | None
    status: str
    severity: str
    classification: str | None
    determination: str | None
    owner: str | None
    unremediated: list[EntityRef]


class Options(_S):
    """The generator options (with the seed they define the output byte for byte)."""

    incidents: int
    weeks: int
    seed: int
    end: datetime
    format: Literal["pages", "ndjson"]
    page_size: int
    hostile: bool


class Period(_S):
    """The generated period: incidents are created in [start, end)."""

    start: datetime
    end: datetime
    weeks: int


class AttackRef(_S):
    """The ATT&CK data the generator sampled from."""

    version: str
    source: str


class DetectionEntry(_S):
    """Probability that a chain step using this technique raises an alert."""

    technique: str
    probability: float


class Trend(_S):
    """A planted trend: the share of eligible true-positive incidents with this technique changes at a point."""

    technique: str
    name: str
    direction: Literal["rising", "fading"]
    change_point: datetime
    factor: float  # rate after / rate before
    rate_before: float
    rate_after: float
    incident_types: list[str]


class SkillGap(_S):
    """A planted skill gap: alerts with this technique are triaged and resolved slower and misjudged more."""

    technique: str
    name: str
    ack_factor: float
    resolve_factor: float
    outcome_rates: dict[str, float]  # reclassified, insufficient_data, unknown


class NoisyDetector(_S):
    """A planted noisy detector (benign and false positives only)."""

    id: str
    key: str
    title: str
    technique: str | None
    service_source: str
    detection_source: str
    fp_share: float
    volume_share: float


class Cluster(_S):
    """A planted campaign cluster: incidents by one actor sharing software and infrastructure."""

    id: str
    actor: ActorRef
    incident_type: str
    incident_ids: list[str]
    software: list[SoftwareRef]
    ips: list[str]
    domains: list[str]
    first: datetime
    last: datetime


class TechniqueStat(_S):
    """How often a technique was a chain step, and how often it raised an alert (true positives)."""

    steps: int
    detected: int


class DetectorStat(_S):
    """What a noisy detector produced."""

    alerts: int
    false_positives: int
    benign_positives: int


class Stats(_S):
    """Counts over the generated data."""

    incidents: int
    alerts: int
    evidence: int
    by_kind: dict[str, int]
    by_type: dict[str, int]
    by_status: dict[str, int]
    techniques: dict[str, TechniqueStat]
    detectors: dict[str, DetectorStat]
    files: list[str]


class Truth(_S):
    """The whole ``truth.json``."""

    format: str
    generator: str
    seed: int
    options: Options
    period: Period
    attack: AttackRef
    tenant_id: str
    analysts: list[str]
    incident_types: list[str]
    detection_profile: list[DetectionEntry]
    undetected_techniques: list[str]
    trends: list[Trend]
    skill_gaps: list[SkillGap]
    baseline_outcome_rates: dict[str, float]
    noisy_detectors: list[NoisyDetector]
    clusters: list[Cluster]
    hostile_strings: list[str]
    incidents: list[TruthIncident]
    stats: Stats


def load_truth(path: str | Path) -> Truth:
    """Read and check a ``truth.json``."""
    return msgspec.json.decode(Path(path).read_bytes(), type=Truth)


_HEAD_FIELDS = tuple(f for f in Truth.__struct_fields__ if f not in ("incidents", "stats"))
_encode = msgspec.json.Encoder().encode


class TruthWriter:
    """Streams ``truth.json``: the planted globals, then one incident per line, then the stats."""

    def __init__(self, stream: IO[bytes], head: dict[str, object]) -> None:
        missing = [f for f in _HEAD_FIELDS if f not in head]
        if missing:
            raise ValueError(f"truth header lacks {missing}")
        self.stream = stream
        stream.write(b"{")
        for name in _HEAD_FIELDS:
            stream.write(_encode(name) + b":" + _encode(head[name]) + b",\n")
        stream.write(b'"incidents":[')
        self._first = True

    def add(self, incident: TruthIncident) -> None:
        self.add_encoded(_encode(incident))

    def add_encoded(self, line: bytes) -> None:
        """Add an incident already encoded as JSON."""
        self.stream.write(b"\n" if self._first else b",\n")
        self._first = False
        self.stream.write(line)

    def finish(self, stats: Stats) -> None:
        self.stream.write(b'\n],\n"stats":' + _encode(stats) + b"}\n")
