"""Typed attribution results: evidence, ranked candidates with explanations, confidence, and clusters."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

SCHEMA_VERSION = "1"

Band = Literal["high", "moderate", "low", "insufficient"]


class SoftwareMention(msgspec.Struct, frozen=True):
    """Where a software name or alias was found: the field, the text that matched, and the alert."""

    field: str
    text: str
    alert_id: str | None = None


class ObservedTechnique(msgspec.Struct, frozen=True):
    """A technique in the evidence, with the number of alerts that carried it."""

    id: str
    name: str
    url: str = ""
    alerts: int = 0
    known: bool = True


class ObservedSoftware(msgspec.Struct, frozen=True):
    """An ATT&CK software item found in the evidence, with every mention."""

    id: str
    name: str
    kind: str
    url: str = ""
    mentions: tuple[SoftwareMention, ...] = ()


class NamedActor(msgspec.Struct, frozen=True):
    """A group the alert provider itself named (``actorDisplayName`` matching a group name or alias)."""

    group_id: str
    name: str
    text: str
    alert_id: str | None = None


class Evidence(msgspec.Struct, frozen=True):
    """What attribution was computed from."""

    incidents: tuple[str, ...]
    techniques: tuple[ObservedTechnique, ...]
    software: tuple[ObservedSoftware, ...]
    named_actors: tuple[NamedActor, ...] = ()
    #: technique ids the loaded ATT&CK data does not know (kept, carry no evidence)
    unknown_techniques: tuple[str, ...] = ()
    #: tactic shortnames in the order they were first seen (reported; not used in scoring)
    tactic_order: tuple[str, ...] = ()


class Contribution(msgspec.Struct, frozen=True):
    """One observed item's contribution to a candidate's score (log-likelihood ratio, nats)."""

    kind: Literal["technique", "software"]
    id: str
    name: str
    weight: float
    #: how the candidate's profile explains it: ``exact``, ``parent`` (a sibling or the parent), or ``none``
    match: Literal["exact", "parent", "none"]
    #: how many candidates of the same kind use it (rarity: fewer is more telling)
    used_by: int
    of: int
    mentions: tuple[SoftwareMention, ...] = ()


class ExpectedTechnique(msgspec.Struct, frozen=True):
    """A distinctive technique of the candidate's profile that was not observed."""

    id: str
    name: str
    used_by: int
    of: int


class Candidate(msgspec.Struct, frozen=True):
    """A ranked group, campaign or software item with its probability and explanation."""

    rank: int
    kind: Literal["group", "campaign", "software"]
    id: str
    name: str
    url: str
    score: float
    probability: float
    aliases: tuple[str, ...] = ()
    #: observed items that raise the score, largest contribution first
    shared: tuple[Contribution, ...] = ()
    #: observed techniques that do not raise the score: not in the profile, or too common in it to tell
    unexplained: int = 0
    expected_not_observed: tuple[ExpectedTechnique, ...] = ()
    named_by_provider: bool = False
    #: for campaigns, the groups ATT&CK attributes it to; for groups, their campaigns
    related: tuple[str, ...] = ()


class Ranking(msgspec.Struct, frozen=True):
    """Candidates of one kind, best first, and how sure the ranking is."""

    kind: Literal["group", "campaign", "software"]
    candidates: tuple[Candidate, ...]
    band: Band
    insufficient: bool
    statement: str
    reasons: tuple[str, ...] = ()
    #: limits of the probability for this evidence (for example, more evidence than calibration covered)
    caveats: tuple[str, ...] = ()


class Attribution(msgspec.Struct, frozen=True):
    """Attribution of one incident, a set of incidents, or an explicit technique/software list."""

    schema_version: str
    attack_version: str
    attack_source: str
    method: str
    evidence: Evidence
    groups: Ranking
    campaigns: Ranking
    software: Ranking
    generated: datetime | None = None


class ClusterIncident(msgspec.Struct, frozen=True):
    """An incident in a cluster."""

    id: str
    title: str
    first_activity: datetime | None
    severity: str
    source: str = "defender"


class SharedIndicator(msgspec.Struct, frozen=True):
    """An indicator (software, technique, IP, domain) shared by incidents of a cluster."""

    kind: Literal["software", "technique", "ip", "domain"]
    value: str
    name: str = ""
    incidents: int = 0


class Cluster(msgspec.Struct, frozen=True):
    """Incidents that look like the same actor or campaign."""

    id: str
    incidents: tuple[ClusterIncident, ...]
    first: datetime | None
    last: datetime | None
    shared: tuple[SharedIndicator, ...]
    statement: str
    attribution: Attribution | None = None


class Clusters(msgspec.Struct, frozen=True):
    """All clusters found in a set of incidents."""

    schema_version: str
    attack_version: str
    incidents: int
    clusters: tuple[Cluster, ...]
    method: str


__all__ = ["SCHEMA_VERSION", "Attribution", "Band", "Candidate", "Cluster", "ClusterIncident", "Clusters",
           "Contribution", "Evidence", "ExpectedTechnique", "NamedActor", "ObservedSoftware", "ObservedTechnique",
           "Ranking", "SharedIndicator", "SoftwareMention"]
