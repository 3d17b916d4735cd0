"""Legacy Microsoft 365 Defender incidents API and Defender for Endpoint alerts API readers.

Both accept ``{"value": [...]}`` or a bare JSON array. PascalCase enums and legacy product names are
normalised (see :mod:`afteraction.ingest.normalize`); flat entities map to the Graph evidence types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import msgspec

from afteraction.ingest import normalize as n
from afteraction.ingest.base import Item
from afteraction.ingest.evidence import identify
from afteraction.ingest.legacy_evidence import device_evidence, entity_evidence
from afteraction.ingest.lists import read_records
from afteraction.ingest.normalize import FieldError
from afteraction.ingest.wire import WLegacyAlert, WLegacyIncident, WMdeAlert
from afteraction.model import Alert, AlertStatus, Evidence, Incident, IncidentStatus, Severity, derive_times

_LEGACY = msgspec.json.Decoder(WLegacyIncident)
_MDE = msgspec.json.Decoder(WMdeAlert)


def _entities(items: list[dict[str, Any]] | None, field: str, build: Any) -> list[Evidence]:
    out = []
    for i, d in enumerate(items or ()):
        try:
            out.append(build(d))
        except FieldError as exc:
            raise exc.under(f"/{field}/{i}") from None
    return out


def _category(category: str | None) -> tuple[str, ...]:
    return (category,) if category else ()


def _shared_alert_fields(w: WLegacyAlert | WMdeAlert, u: dict[str, str]) -> dict[str, Any]:
    """The fields the legacy M365D and MDE alert shapes name alike (unknown enum values go to ``u``)."""
    return {
        "title": w.title or "",
        "description": w.description,
        "severity": n.SEVERITY(w.severity, u) or Severity.UNKNOWN,
        "status": n.ALERT_STATUS(w.status, u) or AlertStatus.UNKNOWN,
        "classification": n.CLASSIFICATION(w.classification, u),
        "determination": n.DETERMINATION(w.determination, u),
        "detection_source": n.detection_source(w.detection_source),
        "detector_id": w.detector_id,
        "category": w.category,
        "categories": _category(w.category),
        "techniques": n.techniques(w.mitre_techniques),
        "actor_display_name": w.actor_name,
        "threat_family_name": w.threat_family_name,
        "assigned_to": w.assigned_to,
        "investigation_state": w.investigation_state,
        "comments": n.comments(w.comments),
    }


def legacy_alert(w: WLegacyAlert, incident_id: str) -> Alert:
    """Canonical alert from a legacy M365D incident alert."""
    u: dict[str, str] = {}
    ts = n.timestamp
    evidence = _entities(w.devices, "devices", device_evidence) + _entities(w.entities, "entities", entity_evidence)
    return Alert(
        id=n.record_id(w.alert_id, "/alertId"),
        incident_id=n.optional_id(w.incident_id) or incident_id,
        provider_alert_id=w.provider_alert_id,
        service_source=n.service_source(w.service_source),
        created=ts(w.creation_time, "/creationTime"),
        last_updated=ts(w.last_updated_time, "/lastUpdatedTime"),
        resolved=ts(w.resolved_time, "/resolvedTime"),
        first_activity=ts(w.first_activity, "/firstActivity"),
        last_activity=ts(w.last_activity, "/lastActivity"),
        evidence=tuple(evidence),
        unmapped=u,
        **_shared_alert_fields(w, u),
    )


def legacy_incident(w: WLegacyIncident) -> Incident:
    """Canonical incident (times derived) from a legacy M365D incident."""
    u: dict[str, str] = {}
    incident_id = n.record_id(w.incident_id, "/incidentId")
    alerts = []
    for i, a in enumerate(w.alerts or ()):
        try:
            alerts.append(legacy_alert(a, incident_id))
        except FieldError as exc:
            raise exc.under(f"/alerts/{i}") from None
    return derive_times(
        Incident(
            id=incident_id,
            title=w.incident_name or "",
            severity=n.SEVERITY(w.severity, u) or Severity.UNKNOWN,
            status=n.INCIDENT_STATUS(w.status, u) or IncidentStatus.UNKNOWN,
            classification=n.CLASSIFICATION(w.classification, u),
            determination=n.DETERMINATION(w.determination, u),
            assigned_to=w.assigned_to,
            redirect_incident_id=n.optional_id(w.redirect_incident_id),
            web_url=w.incident_uri,
            created=n.timestamp(w.created_time, "/createdTime"),
            last_updated=n.timestamp(w.last_update_time, "/lastUpdateTime"),
            custom_tags=n.strings(w.tags),
            system_tags=n.strings(w.system_tags),
            comments=n.comments(w.comments),
            alerts=tuple(alerts),
            unmapped=u,
        )
    )


def _mde_context(w: WMdeAlert) -> list[Evidence]:
    """``machineId``/``computerDnsName`` -> device evidence; ``relatedUser`` -> user evidence."""
    out = []
    if w.machine_id or w.computer_dns_name:
        cols = {
            k: v
            for k, v in (
                ("device_id", w.machine_id),
                ("device_dns_name", w.computer_dns_name),
                ("rbac_group", w.rbac_group_name),
            )
            if v
        }
        key, name = identify("device", cols, {})
        out.append(Evidence(type="device", key=key, name=name, **cols))
    user = w.related_user
    if user is not None and (user.user_name or user.domain_name):
        cols = {k: v for k, v in (("account_name", user.user_name), ("domain_name", user.domain_name)) if v}
        key, name = identify("user", cols, {})
        out.append(Evidence(type="user", key=key, name=name, **cols))
    return out


def mde_alert(w: WMdeAlert) -> Alert:
    """Canonical standalone alert from a Defender for Endpoint ``/api/alerts`` item."""
    u: dict[str, str] = {}
    ts = n.timestamp
    evidence = _mde_context(w) + _entities(w.evidence, "evidence", entity_evidence)
    return Alert(
        id=n.record_id(w.id),
        incident_id=n.optional_id(w.incident_id),
        tenant_id=w.aad_tenant_id,
        service_source="microsoftDefenderForEndpoint",
        threat_display_name=w.threat_name,
        created=ts(w.alert_creation_time, "/alertCreationTime"),
        last_updated=ts(w.last_update_time, "/lastUpdateTime"),
        resolved=ts(w.resolved_time, "/resolvedTime"),
        first_activity=ts(w.first_event_time, "/firstEventTime"),
        last_activity=ts(w.last_event_time, "/lastEventTime"),
        evidence=tuple(evidence),
        unmapped=u,
        **_shared_alert_fields(w, u),
    )


def read_m365d_incidents(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``m365d-incidents``: legacy ``/api/incidents`` response (``{"value": [...]}`` or a bare list)."""
    return read_records(stream, file, lambda raw: legacy_incident(_LEGACY.decode(raw)))


def read_mde_alerts(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``mde-alerts``: Defender for Endpoint ``/api/alerts`` response; standalone alerts."""
    return read_records(stream, file, lambda raw: mde_alert(_MDE.decode(raw)))
