"""Microsoft Graph security v1.0 readers: incidents (list pages, single object, NDJSON) and alerts_v2.

Wire records are decoded with msgspec into :mod:`afteraction.ingest.wire` structs (decoders built once)
and converted to canonical records. Incidents get :func:`afteraction.model.derive_times` applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from afteraction.ingest import normalize as n
from afteraction.ingest.base import Item, read_lines, read_single
from afteraction.ingest.lists import read_records
from afteraction.ingest.normalize import FieldError
from afteraction.ingest.typed_evidence import evidence_list
from afteraction.ingest.wire import WAlert, WIncident
from afteraction.model import Alert, Incident, derive_times

_ALERT = msgspec.json.Decoder(WAlert)
_INCIDENT = msgspec.json.Decoder(WIncident)
_encode = msgspec.json.Encoder(order="sorted").encode




def alert_from_wire(w: WAlert, incident_id: str | None = None) -> Alert:
    """Canonical :class:`Alert` from a decoded Graph alert; raises FieldError with a relative pointer."""
    u: dict[str, str] = {}
    ts = n.timestamp
    if w.alert_policy_id is not None:
        u["alert_policy_id"] = w.alert_policy_id
    if w.custom_details:
        u["custom_details"] = _encode(w.custom_details).decode()
    if w.additional_data:
        u["additional_data"] = _encode(w.additional_data).decode()
    # Enum texts: an exact table hit needs no call; the EnumMap handles None, case and unknown values.
    severity, status, classification, determination = w.severity, w.status, w.classification, w.determination
    categories, system_tags = w.categories, w.system_tags
    return Alert(
        id=n.record_id(w.id),
        incident_id=n.optional_id(w.incident_id) or incident_id,
        provider_alert_id=w.provider_alert_id,
        tenant_id=w.tenant_id,
        title=w.title or "",
        description=w.description,
        recommended_actions=w.recommended_actions,
        severity=n.SEVERITY(severity, u) or n.Severity.UNKNOWN,
        status=n.ALERT_STATUS(status, u) or n.AlertStatus.UNKNOWN,
        classification=n.CLASSIFICATION(classification, u),
        determination=n.DETERMINATION(determination, u),
        service_source=n.service_source(w.service_source),
        detection_source=n.detection_source(w.detection_source),
        detector_id=w.detector_id,
        product_name=w.product_name,
        category=w.category,
        categories=tuple(categories) if categories else (),
        techniques=n.techniques(w.mitre_techniques),
        actor_display_name=w.actor_display_name,
        threat_display_name=w.threat_display_name,
        threat_family_name=w.threat_family_name,
        assigned_to=w.assigned_to,
        investigation_state=w.investigation_state,
        web_url=w.alert_web_url,
        created=ts(w.created_date_time, "/createdDateTime"),
        last_updated=ts(w.last_update_date_time, "/lastUpdateDateTime"),
        resolved=ts(w.resolved_date_time, "/resolvedDateTime"),
        first_activity=ts(w.first_activity_date_time, "/firstActivityDateTime"),
        last_activity=ts(w.last_activity_date_time, "/lastActivityDateTime"),
        system_tags=tuple(system_tags) if system_tags else (),
        comments=n.comments(w.comments) if w.comments else (),
        evidence=evidence_list(w.evidence) if w.evidence else (),
        unmapped=u,
    )


def incident_from_wire(w: WIncident) -> Incident:
    """Canonical :class:`Incident` (alerts nested, times derived) from a decoded Graph incident."""
    u: dict[str, str] = {}
    ts = n.timestamp
    incident_id = n.record_id(w.id)
    alerts = []
    i = 0
    try:
        for i, a in enumerate(w.alerts or ()):  # noqa: B007 (i names the alert in the error)
            alerts.append(alert_from_wire(a, incident_id))
    except FieldError as exc:
        raise exc.under(f"/alerts/{i}") from None
    tags = w.custom_tags if w.custom_tags is not None else w.tags
    severity, status, classification, determination = w.severity, w.status, w.classification, w.determination
    return derive_times(
        Incident(
            id=incident_id,
            tenant_id=w.tenant_id,
            title=w.display_name or "",
            description=w.description,
            summary=w.summary,
            severity=n.SEVERITY(severity, u) or n.Severity.UNKNOWN,
            status=n.INCIDENT_STATUS(status, u) or n.IncidentStatus.UNKNOWN,
            classification=n.CLASSIFICATION(classification, u),
            determination=n.DETERMINATION(determination, u),
            assigned_to=w.assigned_to,
            last_modified_by=w.last_modified_by,
            resolving_comment=w.resolving_comment,
            redirect_incident_id=n.optional_id(w.redirect_incident_id),
            web_url=w.incident_web_url,
            priority_score=w.priority_score,
            created=ts(w.created_date_time, "/createdDateTime"),
            last_updated=ts(w.last_update_date_time, "/lastUpdateDateTime"),
            custom_tags=n.strings(tags),
            system_tags=n.strings(w.system_tags),
            comments=n.comments(w.comments),
            alerts=tuple(alerts),
            unmapped=u,
        )
    )


def is_incident(w: WIncident) -> bool:
    """Decide an NDJSON line's shape: ``@odata.type`` first, then ``alerts``/``displayName``."""
    odata = w.odata_type or ""
    if odata.endswith(".incident"):
        return True
    if odata.endswith(".alert"):
        return False
    return w.alerts is not None or (w.display_name is not None and w.title is None)


def looks_like_alert(w: WIncident) -> bool:
    """An alert given to an incident reader: no ``displayName``/``alerts``, but a ``title`` or alert type."""
    if w.alerts is not None or w.display_name is not None:
        return False
    return w.title is not None or (w.odata_type or "").endswith(".alert")


def _incident(raw: bytes) -> Incident:
    w = _INCIDENT.decode(raw)
    if looks_like_alert(w):
        raise FieldError("", "looks like an alert, not an incident; use --format graph-alerts")
    return incident_from_wire(w)


def _alert(raw: bytes) -> Alert:
    return alert_from_wire(_ALERT.decode(raw))


def _line(raw: bytes) -> Incident | Alert:
    w = _INCIDENT.decode(raw)
    return incident_from_wire(w) if is_incident(w) else alert_from_wire(w)


def read_incidents(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``graph-incidents``: ``GET /security/incidents?$expand=alerts`` pages (``@odata.nextLink`` ignored)."""
    return read_records(stream, file, _incident)


def read_incident(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``graph-incident``: one incident object."""
    return read_single(stream, file, _incident)


def read_ndjson(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``graph-ndjson``: one incident or one alert per line, shape decided per line."""
    return read_lines(stream, file, _line)


def read_alerts(stream: BinaryIO, *, file: str) -> Iterator[Item]:
    """``graph-alerts``: ``GET /security/alerts_v2`` pages; standalone alerts."""
    return read_records(stream, file, _alert)
