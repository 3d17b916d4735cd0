"""msgspec structs mirroring the wire shapes (Graph v1.0, legacy M365 Defender, MDE).

Only the fields afteraction uses are declared; unknown fields are skipped by msgspec. Timestamps are
kept as text here and parsed by :func:`afteraction.ingest.normalize.timestamp` (which truncates the 7th
fractional digit, where msgspec would round). Graph evidence entries stay raw JSON here; they are
decoded one by one by :mod:`afteraction.ingest.typed_evidence` (typed per subtype, dict fallback).
Legacy entities stay dicts.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
Int32 = Annotated[int, msgspec.Meta(ge=INT32[0], le=INT32[1])]
"""An integer that must fit a signed 32-bit store column (``priorityScore``)."""
Int64 = Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]
"""An integer that must fit a signed 64-bit store column (process ids)."""


class WComment(msgspec.Struct, rename="camel", gc=False):
    """Both comment shapes: Graph ``alertComment`` and legacy ``{comment, createdBy, createdTime}``."""

    comment: str | None = None
    created_by_display_name: str | None = None
    created_date_time: str | None = None
    created_by: str | None = None
    created_time: str | None = None


class WAlert(msgspec.Struct, rename="camel", gc=False):
    """Graph ``security.alert`` (alerts_v2)."""

    odata_type: str | None = msgspec.field(default=None, name="@odata.type")
    id: str | int | None = None
    provider_alert_id: str | None = None
    incident_id: str | int | None = None
    tenant_id: str | None = None
    title: str | None = None
    description: str | None = None
    recommended_actions: str | None = None
    status: str | None = None
    severity: str | None = None
    classification: str | None = None
    determination: str | None = None
    service_source: str | None = None
    detection_source: str | None = None
    detector_id: str | None = None
    product_name: str | None = None
    alert_policy_id: str | None = None
    category: str | None = None
    categories: list[str] | None = None
    mitre_techniques: list[str] | None = None
    actor_display_name: str | None = None
    threat_display_name: str | None = None
    threat_family_name: str | None = None
    assigned_to: str | None = None
    investigation_state: str | None = None
    alert_web_url: str | None = None
    created_date_time: str | None = None
    last_update_date_time: str | None = None
    resolved_date_time: str | None = None
    first_activity_date_time: str | None = None
    last_activity_date_time: str | None = None
    system_tags: list[str] | None = None
    custom_details: dict[str, Any] | None = None
    additional_data: dict[str, Any] | None = None
    comments: list[WComment] | None = None
    evidence: list[msgspec.Raw] | None = None


class WIncident(WAlert):
    """Graph ``security.incident`` (with ``$expand=alerts``).

    It extends :class:`WAlert` so one decode serves NDJSON lines that may hold either shape.
    """

    display_name: str | None = None
    summary: str | None = None
    last_modified_by: str | None = None
    resolving_comment: str | None = None
    redirect_incident_id: str | int | None = None
    incident_web_url: str | None = None
    priority_score: Int32 | None = None
    custom_tags: list[str] | None = None
    tags: list[str] | None = None
    alerts: list[WAlert] | None = None


class WRelatedUser(msgspec.Struct, rename="camel", gc=False):
    """MDE ``relatedUser``."""

    user_name: str | None = None
    domain_name: str | None = None


class WMdeAlert(msgspec.Struct, rename="camel"):
    """Defender for Endpoint ``/api/alerts`` item."""

    id: str | int | None = None
    incident_id: int | str | None = None
    investigation_state: str | None = None
    assigned_to: str | None = None
    severity: str | None = None
    status: str | None = None
    classification: str | None = None
    determination: str | None = None
    detection_source: str | None = None
    detector_id: str | None = None
    category: str | None = None
    threat_family_name: str | None = None
    threat_name: str | None = None
    title: str | None = None
    description: str | None = None
    alert_creation_time: str | None = None
    first_event_time: str | None = None
    last_event_time: str | None = None
    last_update_time: str | None = None
    resolved_time: str | None = None
    machine_id: str | None = None
    computer_dns_name: str | None = None
    rbac_group_name: str | None = None
    aad_tenant_id: str | None = None
    actor_name: str | None = None
    related_user: WRelatedUser | None = None
    mitre_techniques: list[str] | None = None
    comments: list[WComment] | None = None
    evidence: list[dict[str, Any]] | None = None


class WLegacyAlert(msgspec.Struct, rename="camel"):
    """Legacy Microsoft 365 Defender incident alert."""

    alert_id: str | int | None = None
    provider_alert_id: str | None = None
    incident_id: int | str | None = None
    service_source: str | None = None
    creation_time: str | None = None
    last_updated_time: str | None = None
    resolved_time: str | None = None
    first_activity: str | None = None
    last_activity: str | None = None
    title: str | None = None
    description: str | None = None
    category: str | None = None
    status: str | None = None
    severity: str | None = None
    investigation_state: str | None = None
    classification: str | None = None
    determination: str | None = None
    detection_source: str | None = None
    detector_id: str | None = None
    assigned_to: str | None = None
    actor_name: str | None = None
    threat_family_name: str | None = None
    mitre_techniques: list[str] | None = None
    comments: list[WComment] | None = None
    devices: list[dict[str, Any]] | None = None
    entities: list[dict[str, Any]] | None = None


class WLegacyIncident(msgspec.Struct, rename="camel"):
    """Legacy Microsoft 365 Defender ``/api/incidents`` item."""

    incident_id: int | str | None = None
    incident_uri: str | None = None
    redirect_incident_id: int | str | None = None
    incident_name: str | None = None
    created_time: str | None = None
    last_update_time: str | None = None
    assigned_to: str | None = None
    classification: str | None = None
    determination: str | None = None
    status: str | None = None
    severity: str | None = None
    tags: list[str] | None = None
    system_tags: list[str] | None = None
    comments: list[WComment] | None = None
    alerts: list[WLegacyAlert] | None = None
