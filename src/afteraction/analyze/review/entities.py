"""Entities (evidence merged across alerts) and what detected the incident."""

from __future__ import annotations

from collections import Counter, defaultdict

from afteraction.analyze.review.model import Detection, DetectorUse, Entity
from afteraction.model import Classification, Evidence, Incident

_VERDICT_RANK = {"malicious": 3, "suspicious": 2, "unknown": 1, "other": 1, "noThreatsFound": 0}
# Higher is further along; the entity shows the most advanced status any alert recorded.
REMEDIATION_RANK = {
    "remediated": 5, "prevented": 5, "blocked": 5, "notFound": 4,
    "partiallyRemediated": 3, "running": 2, "pendingApproval": 2,
    "active": 1, "unremediated": 1, "declined": 1, "none": 0, "other": 0,
}
DONE = frozenset({"remediated", "prevented", "blocked", "notFound"})
#: Statuses that say a remediation was needed and has not happened (``none`` only means "not recorded").
OPEN = frozenset({"unremediated", "active", "declined", "pendingApproval", "running", "partiallyRemediated"})
#: Classifications that say there was no threat, so nothing is left to remediate.
BENIGN = frozenset({Classification.FALSE_POSITIVE, Classification.INFORMATIONAL_EXPECTED_ACTIVITY})
_ORDER = ("device", "user", "mailbox", "ip", "url", "file", "process", "analyzedMessage")

# Evidence columns worth showing next to each entity type.
_DETAILS: dict[str, tuple[str, ...]] = {
    "device": ("device_dns_name", "os_platform", "risk_score", "health_status", "device_id"),
    "user": ("user_principal_name", "domain_name", "account_name", "user_sid", "aad_user_id"),
    "mailbox": ("mailbox_address", "user_principal_name"),
    "file": ("file_path", "sha256", "sha1"),
    "process": ("command_line", "process_id", "file_path", "sha256"),
    "ip": ("country",),
    "url": ("domain",),
    "analyzedMessage": ("subject", "sender", "recipient", "delivery_action", "network_message_id"),
    "mailboxConfiguration": ("configuration_type", "mailbox_address"),
}


def entities(incident: Incident) -> tuple[Entity, ...]:
    """Every distinct evidence entity with merged roles, worst verdict and best remediation status.

    An entity is *unremediated* when an alert not classified as a false positive or expected activity
    (in an incident not so classified) calls it malicious or suspicious, its most advanced remediation
    status is an open one (unremediated, active, declined, pending approval, running, partially
    remediated), and so no alert records it as remediated, prevented, blocked or not found. ``none``
    is Graph's default for "no remediation recorded" and is not counted.
    """
    merged: dict[tuple[str, str], dict] = {}
    benign_incident = incident.classification in BENIGN
    for alert in incident.alerts:
        for n, ev in enumerate(alert.evidence):
            key = ev.key or ev.name or f"{alert.id}#{n}"
            slot = merged.setdefault((ev.type, key), {
                "name": ev.name or key, "roles": set(), "verdict": "unknown", "remediation": "none",
                "alerts": [], "details": {}, "threat": False,
            })
            slot["threat"] |= (not benign_incident and alert.classification not in BENIGN
                               and str(ev.verdict) in ("malicious", "suspicious"))
            slot["roles"].update(ev.roles)
            verdict = str(ev.verdict)
            if _VERDICT_RANK.get(verdict, 1) > _VERDICT_RANK.get(slot["verdict"], 1):
                slot["verdict"] = verdict
            status = str(ev.remediation_status)
            if REMEDIATION_RANK.get(status, 0) > REMEDIATION_RANK.get(slot["remediation"], 0):
                slot["remediation"] = status
            if alert.id not in slot["alerts"]:
                slot["alerts"].append(alert.id)
            _add_details(slot["details"], ev)
    out = [
        Entity(type=kind, key=key, name=s["name"], roles=tuple(sorted(s["roles"])), verdict=s["verdict"],
               remediation_status=s["remediation"], alert_ids=tuple(s["alerts"]), details=s["details"],
               unremediated=s["threat"] and s["remediation"] in OPEN)
        for (kind, key), s in merged.items()
    ]
    return tuple(sorted(out, key=_entity_order))


def _add_details(details: dict[str, str], ev: Evidence) -> None:
    for column in _DETAILS.get(ev.type, ()):
        value = getattr(ev, column, None)
        if value not in (None, "") and column not in details:
            details[column] = str(value)


def _entity_order(e: Entity) -> tuple[int, int, str, str]:
    kind = _ORDER.index(e.type) if e.type in _ORDER else len(_ORDER)
    return (not e.unremediated, kind, e.name.lower(), e.key)


def detection(incident: Incident) -> Detection:
    """Which sources and detectors fired, and which alerts were false positives."""
    sources: Counter[str] = Counter()
    detectors: dict[tuple[str | None, str | None, str | None], list] = defaultdict(list)
    false_positives: list[str] = []
    for alert in incident.alerts:
        sources[alert.detection_source or alert.service_source or "unknown"] += 1
        detectors[(alert.service_source, alert.detection_source, alert.detector_id)].append(alert)
        if alert.classification == Classification.FALSE_POSITIVE:
            false_positives.append(alert.id)
    uses = []
    for (service, source, detector), alerts in detectors.items():
        titles = Counter(a.title for a in alerts)
        uses.append(DetectorUse(
            service_source=service, detection_source=source, detector_id=detector,
            title=min(titles, key=lambda t: (-titles[t], t)), alerts=len(alerts),
            false_positives=sum(a.classification == Classification.FALSE_POSITIVE for a in alerts),
            true_positives=sum(a.classification == Classification.TRUE_POSITIVE for a in alerts),
        ))
    uses.sort(key=lambda u: (-u.alerts, u.service_source or "", u.detection_source or "", u.detector_id or ""))
    return Detection(sources=dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
                     detectors=tuple(uses), false_positive_alerts=tuple(false_positives))


__all__ = ["BENIGN", "DONE", "OPEN", "REMEDIATION_RANK", "detection", "entities"]
