"""Incidents built in code for the playbook tests, and their plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from afteraction.analyze.review import ReviewContext, review
from afteraction.attack.kb import KnowledgeBase
from afteraction.model import (
    Alert,
    Classification,
    Evidence,
    Incident,
    IncidentStatus,
    Severity,
    TechniqueRef,
    TechniqueStatus,
    Verdict,
)
from afteraction.playbooks.derive import plan_for_review
from afteraction.playbooks.model import Plan

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MDE_ID = "a" * 40
SARA_ID = "3f0c1a2b-4d5e-4f60-8a71-92b3c4d5e6f7"  # Entra object id
SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "cacao-schemas"


def _alert(aid: str, techniques: list[str], evidence: tuple[Evidence, ...], **kw: Any) -> Alert:
    refs = tuple(TechniqueRef(raw=t, id=t, status=TechniqueStatus.ACTIVE) for t in techniques)
    return Alert(id=aid, incident_id="inc-1", title=kw.pop("title", f"Alert {aid}"), techniques=refs,
                 first_activity=T0, last_activity=T0 + timedelta(minutes=5), created=T0 + timedelta(minutes=10),
                 severity=Severity.HIGH, classification=kw.pop("classification", Classification.TRUE_POSITIVE),
                 evidence=evidence, **kw)


def _incident(*alerts: Alert, **kw: Any) -> Incident:
    values: dict[str, Any] = {"id": "inc-1", "title": "Test incident", "severity": Severity.HIGH,
                              "status": IncidentStatus.RESOLVED, "created": T0 + timedelta(minutes=10),
                              "classification": Classification.TRUE_POSITIVE}
    values.update(kw)
    return Incident(alerts=alerts, **values)


def identity_incident(**kw: Any) -> Incident:
    """An account signed in from a public attacker address (and a private one)."""
    return _incident(_alert("a-1", ["T1078.004", "T1110.003"], (
        Evidence(type="user", key=SARA_ID, name="Sara Adams", verdict=Verdict.MALICIOUS, roles=("compromised",),
                 user_principal_name="sara@contoso.com", aad_user_id=SARA_ID),
        Evidence(type="ip", key="45.153.160.2", name="45.153.160.2", verdict=Verdict.MALICIOUS, roles=("attacker",),
                 ip_address="45.153.160.2"),
        Evidence(type="ip", key="10.1.2.3", name="10.1.2.3", verdict=Verdict.SUSPICIOUS, ip_address="10.1.2.3"),
    ), category="InitialAccess"), **kw)


def ransomware_incident() -> Incident:
    """Encryption on a device known to Defender and one known only by name; a dumped account by SID."""
    return _incident(_alert("a-1", ["T1486", "T1490", "T1003.001"], (
        Evidence(type="device", key=MDE_ID, name="ws-1", verdict=Verdict.MALICIOUS, device_id=MDE_ID),
        Evidence(type="device", key="srv-2.contoso.local", name="srv-2", verdict=Verdict.SUSPICIOUS,
                 device_dns_name="srv-2.contoso.local"),
        Evidence(type="user", key="S-1-5-21-9", name="CONTOSO\\svc", verdict=Verdict.SUSPICIOUS,
                 roles=("compromised",)),
        Evidence(type="file", key="b" * 64, name="locker.exe", verdict=Verdict.MALICIOUS, sha256="b" * 64),
    ), category="Impact"), title="Files encrypted on ws-1")


def phishing_incident(title: str = "Phish delivered to two users") -> Incident:
    """A malicious message with a link; recipients' accounts are not (yet) known to be compromised."""
    return _incident(_alert("a-1", ["T1566.002"], (
        Evidence(type="analyzedMessage", key="nmid-1", name="Invoice overdue", verdict=Verdict.MALICIOUS,
                 network_message_id="nmid-1", recipient="bob@contoso.com", subject="Invoice overdue"),
        Evidence(type="url", key="https://evil.example.net/login", name="https://evil.example.net/login",
                 verdict=Verdict.MALICIOUS, url="https://evil.example.net/login"),
        Evidence(type="mailbox", key="bob@contoso.com", name="Bob", mailbox_address="bob@contoso.com"),
    ), category="InitialAccess", detection_source="microsoftDefenderForOffice365"), title=title)


def plan_of(incident: Incident, kb: KnowledgeBase) -> Plan:
    return plan_for_review(review(incident, ReviewContext(kb, now=NOW)), kb)
