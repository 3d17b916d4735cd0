"""Canonical records -> Microsoft Graph security v1.0 JSON (the exact wire shape the readers accept).

Used by the round-trip tests and by the sample-data generator. Enum members that were unknown on
input (``OTHER`` with the raw text in ``unmapped``) are written back as their raw text; evidence
columns are put back under their wire names (nested objects included) and ``extra`` is merged in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec

from afteraction.ingest.evidence import ODATA_PREFIX, SPECS
from afteraction.model import Alert, Comment, Evidence, Incident


def graph_time(value: datetime | None) -> str | None:
    """``2024-05-15T22:12:51.6012340Z`` (7 fractional digits, like Graph) or ``None``."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0Z"


def _enum(member: StrEnum | None, field: str, unmapped: dict[str, str]) -> str | None:
    if member is None:
        return None
    if member.value == "other" and field in unmapped:
        return unmapped[field]
    return member.value


def _json(unmapped: dict[str, str], field: str) -> Any:
    raw = unmapped.get(field)
    return msgspec.json.decode(raw) if raw is not None else {}


def comment_to_graph(comment: Comment) -> dict[str, Any]:
    """Graph ``alertComment``."""
    return {
        "@odata.type": ODATA_PREFIX + "alertComment",
        "comment": comment.text,
        "createdByDisplayName": comment.author,
        "createdDateTime": graph_time(comment.created),
    }


_COMMON = (
    ("createdDateTime", "created"),
    ("remediationStatusDetails", "remediation_details"),
)


def merge_extra(into: dict[str, Any], extra: dict[str, Any]) -> None:
    """Merge an evidence record's ``extra`` back into its wire object (nested objects key by key)."""
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge_extra(into[k], v)
        else:
            into[k] = v


def evidence_to_graph(evidence: Evidence) -> dict[str, Any]:
    """Graph evidence object (``#microsoft.graph.security.<type>Evidence``)."""
    u = evidence.unmapped
    out: dict[str, Any] = {
        "@odata.type": f"{ODATA_PREFIX}{evidence.type}Evidence",
        "createdDateTime": graph_time(evidence.created),
        "verdict": _enum(evidence.verdict, "verdict", u),
        "remediationStatus": _enum(evidence.remediation_status, "remediation_status", u),
        "remediationStatusDetails": evidence.remediation_details,
        "roles": list(evidence.roles),
        "detailedRoles": list(evidence.detailed_roles),
        "tags": list(evidence.tags),
    }
    spec = SPECS.get(evidence.type)
    if spec is not None:
        for wire, col in spec.top.items():
            out[wire] = getattr(evidence, col)
        for wire, sub in spec.nested.items():
            values = {k: getattr(evidence, col) for k, col in sub.items()}
            out[wire] = values if any(v is not None for v in values.values()) else None
    if evidence.extra:
        merge_extra(out, msgspec.json.decode(evidence.extra))
    return out


def alert_to_graph(alert: Alert, incident_web_url: str | None = None) -> dict[str, Any]:
    """Graph ``security.alert`` (alerts_v2) object."""
    u = alert.unmapped
    return {
        "@odata.type": ODATA_PREFIX + "alert",
        "id": alert.id,
        "providerAlertId": alert.provider_alert_id,
        "incidentId": alert.incident_id,
        "status": _enum(alert.status, "status", u),
        "severity": _enum(alert.severity, "severity", u),
        "classification": _enum(alert.classification, "classification", u),
        "determination": _enum(alert.determination, "determination", u),
        "serviceSource": alert.service_source,
        "detectionSource": alert.detection_source,
        "productName": alert.product_name,
        "detectorId": alert.detector_id,
        "alertPolicyId": u.get("alert_policy_id"),
        "tenantId": alert.tenant_id,
        "title": alert.title,
        "description": alert.description,
        "recommendedActions": alert.recommended_actions,
        "category": alert.category,
        "categories": list(alert.categories),
        "assignedTo": alert.assigned_to,
        "alertWebUrl": alert.web_url,
        "incidentWebUrl": incident_web_url,
        "actorDisplayName": alert.actor_display_name,
        "threatDisplayName": alert.threat_display_name,
        "threatFamilyName": alert.threat_family_name,
        "mitreTechniques": [t.raw for t in alert.techniques],
        "createdDateTime": graph_time(alert.created),
        "lastUpdateDateTime": graph_time(alert.last_updated),
        "resolvedDateTime": graph_time(alert.resolved),
        "firstActivityDateTime": graph_time(alert.first_activity),
        "lastActivityDateTime": graph_time(alert.last_activity),
        "investigationState": alert.investigation_state,
        "systemTags": list(alert.system_tags),
        "customDetails": _json(u, "custom_details"),
        "additionalData": _json(u, "additional_data"),
        "comments": [comment_to_graph(c) for c in alert.comments],
        "evidence": [evidence_to_graph(e) for e in alert.evidence],
    }


def incident_to_graph(incident: Incident) -> dict[str, Any]:
    """Graph ``security.incident`` object with expanded ``alerts`` (as in ``$expand=alerts``)."""
    u = incident.unmapped
    return {
        "@odata.type": ODATA_PREFIX + "incident",
        "id": incident.id,
        "tenantId": incident.tenant_id,
        "incidentWebUrl": incident.web_url,
        "redirectIncidentId": incident.redirect_incident_id,
        "displayName": incident.title,
        "description": incident.description,
        "summary": incident.summary,
        "createdDateTime": graph_time(incident.created),
        "lastUpdateDateTime": graph_time(incident.last_updated),
        "lastModifiedBy": incident.last_modified_by,
        "assignedTo": incident.assigned_to,
        "classification": _enum(incident.classification, "classification", u),
        "determination": _enum(incident.determination, "determination", u),
        "status": _enum(incident.status, "status", u),
        "severity": _enum(incident.severity, "severity", u),
        "priorityScore": incident.priority_score,
        "resolvingComment": incident.resolving_comment,
        "customTags": list(incident.custom_tags),
        "systemTags": list(incident.system_tags),
        "comments": [comment_to_graph(c) for c in incident.comments],
        "alerts": [alert_to_graph(a, incident.web_url) for a in incident.alerts],
    }


def incidents_page(incidents: list[Incident], next_link: str | None = None) -> dict[str, Any]:
    """A ``GET /security/incidents?$expand=alerts`` list response."""
    page: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents(alerts())",
        "value": [incident_to_graph(i) for i in incidents],
    }
    if next_link:
        page["@odata.nextLink"] = next_link
    return page
