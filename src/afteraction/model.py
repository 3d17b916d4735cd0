"""Canonical, typed domain values shared by every stage: incidents, alerts, evidence, comments.

Records are immutable and hold only scalars, tuples and string dicts, so they cannot form reference
cycles: they are declared ``gc=False`` to keep the garbage collector off millions of them. Readers turn
each source format into these records; the store persists them; analyses read them back.
Enumerations follow the Microsoft Graph security v1.0 camelCase members. Values that a source sends but
this version does not know (Microsoft adds members over time) become ``OTHER`` and the raw text is kept
in the record's ``unmapped`` dict, keyed by field name, so nothing is lost.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class Severity(StrEnum):
    UNKNOWN = "unknown"
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    OTHER = "other"


class IncidentStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    IN_PROGRESS = "inProgress"
    REDIRECTED = "redirected"
    AWAITING_ACTION = "awaitingAction"
    UNKNOWN = "unknown"
    OTHER = "other"


class AlertStatus(StrEnum):
    UNKNOWN = "unknown"
    NEW = "new"
    IN_PROGRESS = "inProgress"
    RESOLVED = "resolved"
    OTHER = "other"


class Classification(StrEnum):
    UNKNOWN = "unknown"
    FALSE_POSITIVE = "falsePositive"
    TRUE_POSITIVE = "truePositive"
    INFORMATIONAL_EXPECTED_ACTIVITY = "informationalExpectedActivity"
    OTHER = "other"


class Determination(StrEnum):
    UNKNOWN = "unknown"
    APT = "apt"
    MALWARE = "malware"
    SECURITY_PERSONNEL = "securityPersonnel"
    SECURITY_TESTING = "securityTesting"
    UNWANTED_SOFTWARE = "unwantedSoftware"
    OTHER = "other"
    MULTI_STAGED_ATTACK = "multiStagedAttack"
    COMPROMISED_ACCOUNT = "compromisedAccount"
    PHISHING = "phishing"
    MALICIOUS_USER_ACTIVITY = "maliciousUserActivity"
    NOT_MALICIOUS = "notMalicious"
    NOT_ENOUGH_DATA_TO_VALIDATE = "notEnoughDataToValidate"
    CONFIRMED_ACTIVITY = "confirmedActivity"
    LINE_OF_BUSINESS_APPLICATION = "lineOfBusinessApplication"


class Verdict(StrEnum):
    UNKNOWN = "unknown"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"
    NO_THREATS_FOUND = "noThreatsFound"
    OTHER = "other"


class RemediationStatus(StrEnum):
    NONE = "none"
    REMEDIATED = "remediated"
    PREVENTED = "prevented"
    BLOCKED = "blocked"
    NOT_FOUND = "notFound"
    ACTIVE = "active"
    PENDING_APPROVAL = "pendingApproval"
    DECLINED = "declined"
    UNREMEDIATED = "unremediated"
    RUNNING = "running"
    PARTIALLY_REMEDIATED = "partiallyRemediated"
    OTHER = "other"


class TechniqueStatus(StrEnum):
    """How a raw technique id from an alert resolved against the loaded ATT&CK version."""

    ACTIVE = "active"
    REVOKED = "revoked"  # redirected to its replacement; ``TechniqueRef.id`` is the replacement
    DEPRECATED = "deprecated"  # retired, no replacement
    UNKNOWN = "unknown"  # technique-shaped but not in the loaded version (e.g. newer)
    INVALID = "invalid"  # not a technique id at all
    UNRESOLVED = "unresolved"  # not yet checked against a knowledge base


class Comment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An analyst or system comment on an incident or alert."""

    text: str
    author: str | None = None
    created: datetime | None = None


class TechniqueRef(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One ``mitreTechniques`` entry: the raw text and what it resolved to."""

    raw: str
    id: str  # canonical current id (replacement for revoked ids; normalised raw when unknown)
    status: TechniqueStatus = TechniqueStatus.UNRESOLVED


class Evidence(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One evidence entity of an alert.

    ``type`` is the Graph subtype without namespace and ``Evidence`` suffix (``device``, ``user``,
    ``file``, ``process``, ``ip``, ``url``, ``mailbox``, ``analyzedMessage`` ...). ``key`` is the
    dedupe key for the type (e.g. the MDE device id, a sha256, an IP) and ``name`` a human label.
    Identifying fields that do not apply are ``None``. ``extra`` keeps the remaining source fields
    as JSON text for subtypes and fields that have no column of their own.
    """

    type: str
    key: str | None = None
    name: str | None = None
    created: datetime | None = None
    verdict: Verdict = Verdict.UNKNOWN
    remediation_status: RemediationStatus = RemediationStatus.NONE
    remediation_details: str | None = None
    roles: tuple[str, ...] = ()
    detailed_roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # device
    device_id: str | None = None
    aad_device_id: str | None = None
    host_name: str | None = None
    device_dns_name: str | None = None
    os_platform: str | None = None
    risk_score: str | None = None
    health_status: str | None = None
    rbac_group: str | None = None
    # user / mailbox
    account_name: str | None = None
    domain_name: str | None = None
    user_sid: str | None = None
    aad_user_id: str | None = None
    user_principal_name: str | None = None
    display_name: str | None = None
    mailbox_address: str | None = None
    # file / process
    file_name: str | None = None
    file_path: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    md5: str | None = None
    process_id: int | None = None
    parent_process_id: int | None = None
    command_line: str | None = None
    # network
    ip_address: str | None = None
    country: str | None = None
    url: str | None = None
    domain: str | None = None
    # mail message
    network_message_id: str | None = None
    internet_message_id: str | None = None
    subject: str | None = None
    sender: str | None = None
    sender_ip: str | None = None
    recipient: str | None = None
    delivery_action: str | None = None
    # registry
    registry_key: str | None = None
    registry_value_name: str | None = None
    registry_value: str | None = None
    # cloud app / oauth app / session / config
    app_id: str | None = None
    session_id: str | None = None
    configuration_type: str | None = None
    extra: str | None = None
    unmapped: dict[str, str] = {}


class Alert(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An alert (Graph ``alerts_v2`` shape), with its evidence, techniques and comments."""

    id: str
    incident_id: str | None = None
    provider_alert_id: str | None = None
    tenant_id: str | None = None
    title: str = ""
    description: str | None = None
    recommended_actions: str | None = None
    severity: Severity = Severity.UNKNOWN
    status: AlertStatus = AlertStatus.UNKNOWN
    classification: Classification | None = None
    determination: Determination | None = None
    service_source: str | None = None
    detection_source: str | None = None
    detector_id: str | None = None
    product_name: str | None = None
    category: str | None = None
    categories: tuple[str, ...] = ()
    techniques: tuple[TechniqueRef, ...] = ()
    actor_display_name: str | None = None
    threat_display_name: str | None = None
    threat_family_name: str | None = None
    assigned_to: str | None = None
    investigation_state: str | None = None
    web_url: str | None = None
    created: datetime | None = None
    last_updated: datetime | None = None
    resolved: datetime | None = None
    first_activity: datetime | None = None
    last_activity: datetime | None = None
    system_tags: tuple[str, ...] = ()
    comments: tuple[Comment, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    unmapped: dict[str, str] = {}


class Incident(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An incident with its alerts.

    ``source`` names the product family the record came from (``defender`` for Graph, legacy
    Microsoft 365 Defender and MDE APIs, which share incident and alert ids). Together with ``id`` it
    is the store key. ``first_activity``, ``last_activity`` and ``resolved`` are derived from the
    alerts when the source does not give them (see :func:`derive_times`).
    """

    id: str
    source: str = "defender"
    tenant_id: str | None = None
    title: str = ""
    description: str | None = None
    summary: str | None = None
    severity: Severity = Severity.UNKNOWN
    status: IncidentStatus = IncidentStatus.UNKNOWN
    classification: Classification | None = None
    determination: Determination | None = None
    assigned_to: str | None = None
    last_modified_by: str | None = None
    resolving_comment: str | None = None
    redirect_incident_id: str | None = None
    web_url: str | None = None
    priority_score: int | None = None
    created: datetime | None = None
    last_updated: datetime | None = None
    first_activity: datetime | None = None
    last_activity: datetime | None = None
    resolved: datetime | None = None
    custom_tags: tuple[str, ...] = ()
    system_tags: tuple[str, ...] = ()
    comments: tuple[Comment, ...] = ()
    alerts: tuple[Alert, ...] = ()
    unmapped: dict[str, str] = {}


def derive_times(incident: Incident) -> Incident:
    """Fill an incident's activity window and resolution time from its alerts where missing.

    First/last activity are the min/max over alerts. Resolved is the latest alert resolution, or the
    incident's last update when it is resolved and no alert says when.
    """
    firsts = [a.first_activity for a in incident.alerts if a.first_activity]
    lasts = [a.last_activity or a.first_activity for a in incident.alerts if a.last_activity or a.first_activity]
    resolved_times = [a.resolved for a in incident.alerts if a.resolved]
    changes: dict[str, datetime] = {}
    if incident.first_activity is None and firsts:
        changes["first_activity"] = min(firsts)
    if incident.last_activity is None and lasts:
        changes["last_activity"] = max(lasts)
    if incident.resolved is None and incident.status == IncidentStatus.RESOLVED:
        if resolved_times:
            changes["resolved"] = max(resolved_times)
        elif incident.last_updated is not None:
            changes["resolved"] = incident.last_updated
    return msgspec.structs.replace(incident, **changes) if changes else incident
