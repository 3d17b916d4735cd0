"""Per-incident facts for every stored incident: its inferred type and response times.

Used for the peer comparison in a review (medians of incidents of the same type and severity) and for
the report site's index. The heavy lifting is one set of Ibis group-bys, so it runs in the engine; the
type inference then runs in Python on one small row per incident.
"""

from __future__ import annotations

import statistics
import sys
from datetime import datetime
from typing import Any

import ibis
import msgspec

from afteraction.analyze.queries import run_rows
from afteraction.analyze.review.entities import BENIGN, OPEN, REMEDIATION_RANK
from afteraction.analyze.review.incident_type import TypeFeatures, infer_type
from afteraction.analyze.review.model import PeerComparison
from afteraction.store.db import Store

#: Fewer peers than this and the review says so instead of comparing.
MIN_PEERS = 5


class IncidentFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the index and the peer comparison need of one stored incident."""

    source: str
    id: str
    title: str
    severity: str
    status: str
    classification: str | None
    determination: str | None
    owner: str | None
    created: datetime | None
    first_activity: datetime | None
    first_alert: datetime | None
    acknowledged: datetime | None
    resolved: datetime | None
    alerts: int
    techniques: int
    unremediated: int
    incident_type: str
    incident_type_label: str

    @property
    def time_to_detect(self) -> float | None:
        return nonnegative(seconds(self.first_activity, self.first_alert))

    @property
    def time_to_acknowledge(self) -> float | None:
        return nonnegative(seconds(self.first_alert, self.acknowledged))

    @property
    def time_to_resolve(self) -> float | None:
        return seconds(self.first_alert, self.resolved)


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds, or None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def nonnegative(value: float | None) -> float | None:
    """Durations where clock skew put the end before the start count as 0 (the review notes it)."""
    return None if value is None else max(0.0, value)


def _per_incident(con: Any) -> Any:
    incidents = con.table("incidents")
    alerts = con.table("alerts")
    keys = alerts.select("source", "incident_id", alert_id="id")
    tech = con.table("alert_techniques").join(keys, ["source", "alert_id"])
    ev = con.table("evidence").join(keys, ["source", "alert_id"])
    comments = con.table("comments")
    alert_comments = comments.filter(comments.parent_kind == "alert").join(
        keys, [comments.source == keys.source, comments.parent_id == keys.alert_id])
    incident_comments = comments.filter(comments.parent_kind == "incident").select(
        "source", "created", incident_id="parent_id")
    # The same rule as review.entities: a threat verdict, no remediation, and not a benign classification.
    benign = [str(c) for c in BENIGN]
    threat_alerts = alerts.filter(alerts.classification.isnull() | ~alerts.classification.isin(benign)).select(
        "source", alert_id="id")
    # The same rule as review.entities: a threat verdict from a non-benign alert, and the entity's most
    # advanced remediation status is an open one (so nothing recorded it as done or in a better state).
    # Entity identity as in review.entities: key, else name, else the alert and position.
    fallback = ev.alert_id.concat("#", ev.seq.cast("string"))
    identity = ev.key.nullif("").fill_null(ev.name.nullif("")).fill_null(fallback)
    ev_keyed = ev.mutate(entity=ev.type.concat(":", identity))
    flagged = ev_keyed.filter(ev_keyed.verdict.isin(["malicious", "suspicious"]))
    threats = flagged.join(threat_alerts, ["source", "alert_id"]).select("source", "incident_id", "entity")
    rank = ev_keyed.remediation_status.cases(*REMEDIATION_RANK.items(), else_=0)
    best = ev_keyed.mutate(rank=rank).group_by(["source", "incident_id", "entity"]).aggregate(
        best=ibis._.rank.max(), status=ibis._.remediation_status.argmax(ibis._.rank))
    open_ = best.filter(best.status.isin(sorted(OPEN))).select("source", "incident_id", "entity")
    unremediated = threats.semi_join(open_, ["source", "incident_id", "entity"])
    parts = [
        alerts.group_by(["source", "incident_id"]).aggregate(
            n_alerts=alerts.count(), first_alert=alerts.created.min(),
            alert_determinations=alerts.determination.collect(),
            categories=alerts.category.collect(),
            category_lists=alerts.categories.collect(),
            sources=alerts.detection_source.collect().concat(alerts.service_source.collect()),
            threat_names=alerts.threat_family_name.collect().concat(alerts.threat_display_name.collect()),
        ),
        tech.group_by(["source", "incident_id"]).aggregate(
            technique_ids=tech.technique_id.collect(distinct=True), n_techniques=tech.technique_id.nunique()),
        ev.group_by(["source", "incident_id"]).aggregate(evidence_types=ev.type.collect(distinct=True)),
        unremediated.group_by(["source", "incident_id"]).aggregate(n_unremediated=unremediated.entity.nunique()),
        alert_comments.group_by(["source", "incident_id"]).aggregate(alert_ack=alert_comments.created.min()),
        incident_comments.group_by(["source", "incident_id"]).aggregate(
            incident_ack=incident_comments.created.min()),
    ]
    out = incidents
    out = out.mutate(n_unremediated_ok=out.classification.isnull() | ~out.classification.isin(benign))
    for part in parts:
        out = out.left_join(part, [out.source == part.source, out.id == part.incident_id]).drop(
            "source_right", "incident_id")
    return out.order_by([ibis.desc("created"), "source", "id"])


def incident_facts(store: Store) -> list[IncidentFacts]:
    """Facts for every stored (non-stub) incident, newest first."""
    import afteraction.analyze.review.entities as entities_module

    rows = run_rows(store, "incident-facts", _per_incident, (sys.modules[__name__], entities_module))
    return [_facts(r) for r in rows]


def _facts(r: dict[str, Any]) -> IncidentFacts:
    def present(values: list[Any] | None) -> tuple[str, ...]:
        return tuple(v for v in values or () if v)

    kind = infer_type(TypeFeatures(
        determinations=present([r["determination"], *(r["alert_determinations"] or [])]),
        categories=present([*(r["categories"] or []), *(c for cs in r["category_lists"] or [] for c in cs or [])]),
        techniques=present(r["technique_ids"]),
        sources=present(r["sources"]), evidence_types=present(r["evidence_types"]),
        threat_names=present(r["threat_names"]),
    ))
    return IncidentFacts(
        source=r["source"], id=r["id"], title=r["title"] or "", severity=r["severity"] or "unknown",
        status=r["status"] or "unknown", classification=r["classification"], determination=r["determination"],
        owner=r["assigned_to"], created=r["created"], first_activity=r["first_activity"],
        first_alert=r["first_alert"], resolved=r["resolved"],
        acknowledged=min((t for t in (r["alert_ack"], r["incident_ack"]) if t is not None), default=None),
        alerts=r["n_alerts"] or 0, techniques=r["n_techniques"] or 0,
        unremediated=r["n_unremediated"] if r["n_unremediated"] and r["n_unremediated_ok"] else 0,
        incident_type=kind.type, incident_type_label=kind.label,
    )


class PeerIndex:
    """Stored incidents grouped by (type, severity) for medians; build once, compare many."""

    def __init__(self, facts: list[IncidentFacts]) -> None:
        self.facts = facts
        self.groups: dict[tuple[str, str], list[IncidentFacts]] = {}
        for f in facts:
            self.groups.setdefault((f.incident_type, f.severity), []).append(f)

    @classmethod
    def from_store(cls, store: Store) -> PeerIndex:
        return cls(incident_facts(store))

    def compare(self, source: str, incident_id: str, incident_type: str, severity: str
                ) -> tuple[PeerComparison | None, str | None]:
        """Medians of the peers, or None and the reason there are too few."""
        peers = [f for f in self.groups.get((incident_type, severity), [])
                 if (f.source, f.id) != (source, incident_id)]
        if len(peers) < MIN_PEERS:
            return None, (f"{len(peers)} other stored {incident_type.replace('_', ' ')} incidents of "
                          f"{severity} severity; a comparison needs at least {MIN_PEERS}")
        return PeerComparison(
            incident_type=incident_type, severity=severity, peers=len(peers),
            time_to_detect=_median(f.time_to_detect for f in peers),
            time_to_acknowledge=_median(f.time_to_acknowledge for f in peers),
            time_to_resolve=_median(f.time_to_resolve for f in peers),
            alerts=_median(float(f.alerts) for f in peers),
        ), None


def _median(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


__all__ = ["MIN_PEERS", "IncidentFacts", "PeerIndex", "incident_facts", "nonnegative", "seconds"]
