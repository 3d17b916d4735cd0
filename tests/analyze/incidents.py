"""Canonical incidents built in code for the review tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from afteraction.model import (
    Alert,
    Classification,
    Comment,
    Determination,
    Evidence,
    Incident,
    IncidentStatus,
    RemediationStatus,
    Severity,
    TechniqueRef,
    TechniqueStatus,
    Verdict,
)

T0 = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(aid: str, techniques: list[str], *, category: str | None = None, activity: float = 0,
          fired: float = 10, **kw: Any) -> Alert:
    refs = tuple(TechniqueRef(raw=t, id=t, status=TechniqueStatus.ACTIVE) for t in techniques)
    return Alert(id=aid, incident_id="inc-1", title=kw.pop("title", f"Alert {aid}"), techniques=refs,
                 category=category, first_activity=at(activity), last_activity=at(activity + 1),
                 created=at(fired), severity=kw.pop("severity", Severity.HIGH), **kw)


def device(name: str, **kw: Any) -> Evidence:
    return Evidence(type="device", key=f"dev-{name}", name=name, **kw)


def incident(*alerts: Alert, **kw: Any) -> Incident:
    defaults: dict[str, Any] = {"id": "inc-1", "title": "Test incident", "severity": Severity.HIGH,
                                "status": IncidentStatus.RESOLVED, "created": at(10)}
    defaults.update(kw)
    return Incident(alerts=alerts, **defaults)


def intrusion() -> Incident:
    """Execution -> Credential Access -> Lateral Movement -> Impact, first alert at Credential Access."""
    return incident(
        alert("a-exec", ["T1059.001"], category="Execution", activity=0, fired=120,
              evidence=(device("ws-1", verdict=Verdict.MALICIOUS, remediation_status=RemediationStatus.REMEDIATED),),
              classification=Classification.TRUE_POSITIVE, detection_source="microsoftDefenderForEndpoint",
              service_source="microsoftDefenderForEndpoint", detector_id="det-1"),
        alert("a-cred", ["T1003.001"], category="CredentialAccess", activity=30, fired=35,
              evidence=(device("ws-1", verdict=Verdict.SUSPICIOUS),
                        Evidence(type="user", key="S-1-5-21-1", name="alice", verdict=Verdict.MALICIOUS,
                                 remediation_status=RemediationStatus.UNREMEDIATED)),
              classification=Classification.TRUE_POSITIVE, detection_source="microsoftDefenderForEndpoint",
              service_source="microsoftDefenderForEndpoint", detector_id="det-2"),
        alert("a-lat", ["T1021.002"], category="LateralMovement", activity=60, fired=70,
              classification=Classification.FALSE_POSITIVE, detection_source="microsoftDefenderForIdentity",
              service_source="microsoftDefenderForIdentity", detector_id="det-3",
              comments=(Comment(text="looked benign at first", author="bob", created=at(95)),)),
        alert("a-imp", ["T1486"], category="Impact", activity=300, fired=310,
              classification=Classification.TRUE_POSITIVE, detection_source="microsoftDefenderForEndpoint",
              service_source="microsoftDefenderForEndpoint", detector_id="det-4"),
        classification=Classification.TRUE_POSITIVE, determination=Determination.MULTI_STAGED_ATTACK,
        first_activity=at(0), last_activity=at(301), resolved=at(35 + 24 * 60),
        comments=(Comment(text="assigned to tier 2", author="carol", created=at(50)),),
        web_url="javascript:alert(1)",
    )
