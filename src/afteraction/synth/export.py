"""A faster twin of :mod:`afteraction.ingest.graph_export` for the generator's own records.

It gives exactly the dicts :func:`afteraction.ingest.graph_export.incident_to_graph` gives (a test checks
every generated incident against it), but it formats times with ``datetime.isoformat`` and puts enum
members in place (msgspec encodes them as their values). It relies on what the generator guarantees: UTC
datetimes and no ``other`` enum members or ``unmapped`` fields. Anything else goes to the real exporter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from afteraction.ingest import graph_export
from afteraction.ingest.evidence import ODATA_PREFIX, SPECS
from afteraction.model import Alert, Comment, Evidence, Incident

_decode = msgspec.json.decode
_PLAN = {name: (ODATA_PREFIX + name + "Evidence", tuple(spec.top.items()),
                tuple((wire, tuple(sub.items())) for wire, sub in spec.nested.items()))
         for name, spec in SPECS.items()}
_ALERT_TYPE = ODATA_PREFIX + "alert"
_INCIDENT_TYPE = ODATA_PREFIX + "incident"
_COMMENT_TYPE = ODATA_PREFIX + "alertComment"


_last: list[Any] = [None, None]  # the last datetime formatted and its text (evidence repeats its alert's time)


def gtime(value: datetime | None) -> str | None:
    """Same text as :func:`afteraction.ingest.graph_export.graph_time` for a UTC datetime."""
    if value is None:
        return None
    if value is _last[0]:
        return _last[1]
    s = value.isoformat()
    text = s[:26] + "0Z" if len(s) > 25 else s[:19] + ".0000000Z"
    _last[0], _last[1] = value, text
    return text


def _comment(c: Comment) -> dict[str, Any]:
    return {"@odata.type": _COMMENT_TYPE, "comment": c.text, "createdByDisplayName": c.author,
            "createdDateTime": gtime(c.created)}


def evidence(ev: Evidence, alert_created: tuple[datetime | None, str | None] = (None, None)) -> dict[str, Any]:
    """Graph evidence object (``alert_created``: the alert's time and its text, which evidence often shares)."""
    plan = _PLAN.get(ev.type)
    if plan is None or ev.unmapped:
        return graph_export.evidence_to_graph(ev)
    odata, top, nested = plan
    created = alert_created[1] if ev.created is alert_created[0] and ev.created is not None else gtime(ev.created)
    out: dict[str, Any] = {
        "@odata.type": odata, "createdDateTime": created, "verdict": ev.verdict,
        "remediationStatus": ev.remediation_status, "remediationStatusDetails": ev.remediation_details,
        "roles": list(ev.roles), "detailedRoles": list(ev.detailed_roles), "tags": list(ev.tags),
    }
    for wire, col in top:
        out[wire] = getattr(ev, col)
    for wire, sub in nested:
        values = {k: getattr(ev, col) for k, col in sub}
        out[wire] = values if any(v is not None for v in values.values()) else None
    if ev.extra:
        graph_export.merge_extra(out, _decode(ev.extra))
    return out


def alert(a: Alert, incident_web_url: str | None) -> dict[str, Any]:
    """Graph ``security.alert`` object."""
    if a.unmapped:
        return graph_export.alert_to_graph(a, incident_web_url)
    created = (a.created, gtime(a.created))
    return {
        "@odata.type": _ALERT_TYPE, "id": a.id, "providerAlertId": a.provider_alert_id, "incidentId": a.incident_id,
        "status": a.status, "severity": a.severity, "classification": a.classification,
        "determination": a.determination, "serviceSource": a.service_source, "detectionSource": a.detection_source,
        "productName": a.product_name, "detectorId": a.detector_id, "alertPolicyId": None, "tenantId": a.tenant_id,
        "title": a.title, "description": a.description, "recommendedActions": a.recommended_actions,
        "category": a.category, "categories": list(a.categories), "assignedTo": a.assigned_to,
        "alertWebUrl": a.web_url, "incidentWebUrl": incident_web_url, "actorDisplayName": a.actor_display_name,
        "threatDisplayName": a.threat_display_name, "threatFamilyName": a.threat_family_name,
        "mitreTechniques": [t.raw for t in a.techniques], "createdDateTime": created[1],
        "lastUpdateDateTime": gtime(a.last_updated), "resolvedDateTime": gtime(a.resolved),
        "firstActivityDateTime": gtime(a.first_activity), "lastActivityDateTime": gtime(a.last_activity),
        "investigationState": a.investigation_state, "systemTags": list(a.system_tags), "customDetails": {},
        "additionalData": {}, "comments": [_comment(c) for c in a.comments],
        "evidence": [evidence(e, created) for e in a.evidence],
    }


def incident(i: Incident) -> dict[str, Any]:
    """Graph ``security.incident`` object with expanded ``alerts``."""
    if i.unmapped:
        return graph_export.incident_to_graph(i)
    return {
        "@odata.type": _INCIDENT_TYPE, "id": i.id, "tenantId": i.tenant_id, "incidentWebUrl": i.web_url,
        "redirectIncidentId": i.redirect_incident_id, "displayName": i.title, "description": i.description,
        "summary": i.summary, "createdDateTime": gtime(i.created), "lastUpdateDateTime": gtime(i.last_updated),
        "lastModifiedBy": i.last_modified_by, "assignedTo": i.assigned_to, "classification": i.classification,
        "determination": i.determination, "status": i.status, "severity": i.severity,
        "priorityScore": i.priority_score, "resolvingComment": i.resolving_comment,
        "customTags": list(i.custom_tags), "systemTags": list(i.system_tags),
        "comments": [_comment(c) for c in i.comments], "alerts": [alert(a, i.web_url) for a in i.alerts],
    }


def page(incidents: list[Incident], next_link: str | None) -> dict[str, Any]:
    """A ``GET /security/incidents?$expand=alerts`` list response."""
    out: dict[str, Any] = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/incidents(alerts())",
                           "value": [incident(i) for i in incidents]}
    if next_link:
        out["@odata.nextLink"] = next_link
    return out
