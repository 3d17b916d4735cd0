"""Turn canonical records into column batches (Arrow tables) for the store's staging tables."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import msgspec
import pyarrow as pa

from afteraction.model import Alert, Comment, Incident
from afteraction.store.schema import EVIDENCE_COLUMNS

_encoder = msgspec.json.Encoder(order="sorted")

_TS = pa.timestamp("us", tz="UTC")
_LIST = pa.list_(pa.string())

INCIDENT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("source", pa.string()), ("id", pa.string()), ("tenant_id", pa.string()), ("title", pa.string()),
    ("description", pa.string()), ("summary", pa.string()), ("severity", pa.string()),
    ("status", pa.string()), ("classification", pa.string()), ("determination", pa.string()),
    ("assigned_to", pa.string()), ("last_modified_by", pa.string()), ("resolving_comment", pa.string()),
    ("redirect_incident_id", pa.string()), ("web_url", pa.string()), ("priority_score", pa.int32()),
    ("created", _TS), ("last_updated", _TS), ("first_activity", _TS), ("last_activity", _TS),
    ("resolved", _TS), ("custom_tags", _LIST), ("system_tags", _LIST), ("unmapped", pa.string()),
    ("content_hash", pa.string()), ("seq", pa.int64()),
)  # fmt: skip

ALERT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("source", pa.string()), ("id", pa.string()), ("incident_id", pa.string()),
    ("provider_alert_id", pa.string()), ("tenant_id", pa.string()), ("title", pa.string()),
    ("description", pa.string()), ("recommended_actions", pa.string()), ("severity", pa.string()),
    ("status", pa.string()), ("classification", pa.string()), ("determination", pa.string()),
    ("service_source", pa.string()), ("detection_source", pa.string()), ("detector_id", pa.string()),
    ("product_name", pa.string()), ("category", pa.string()), ("categories", _LIST),
    ("actor_display_name", pa.string()), ("threat_display_name", pa.string()),
    ("threat_family_name", pa.string()), ("assigned_to", pa.string()), ("investigation_state", pa.string()),
    ("web_url", pa.string()), ("created", _TS), ("last_updated", _TS), ("resolved", _TS),
    ("first_activity", _TS), ("last_activity", _TS), ("system_tags", _LIST), ("unmapped", pa.string()),
    ("content_hash", pa.string()), ("seq", pa.int64()),
)  # fmt: skip

TECHNIQUE_FIELDS = (
    ("source", pa.string()), ("alert_id", pa.string()), ("seq", pa.int32()), ("raw", pa.string()),
    ("technique_id", pa.string()), ("status", pa.string()), ("batch_seq", pa.int64()),
)  # fmt: skip

COMMENT_FIELDS = (
    ("source", pa.string()), ("parent_kind", pa.string()), ("parent_id", pa.string()), ("seq", pa.int32()),
    ("author", pa.string()), ("created", _TS), ("text", pa.string()), ("batch_seq", pa.int64()),
)  # fmt: skip

_EVIDENCE_TYPES = {"created": _TS, "roles": _LIST, "detailed_roles": _LIST, "tags": _LIST,
                   "process_id": pa.int64(), "parent_process_id": pa.int64(), "seq": pa.int32()}
EVIDENCE_FIELDS = (
    *((c, _EVIDENCE_TYPES.get(c, pa.string())) for c in EVIDENCE_COLUMNS),
    ("batch_seq", pa.int64()),
)

_INCIDENT_SCALARS = [n for n, _ in INCIDENT_FIELDS if n not in
                     ("source", "custom_tags", "system_tags", "unmapped", "content_hash", "seq")]
_ALERT_SCALARS = [n for n, _ in ALERT_FIELDS if n not in
                  ("source", "categories", "system_tags", "unmapped", "content_hash", "seq")]
_EVIDENCE_SCALARS = [c for c in EVIDENCE_COLUMNS if c not in
                     ("source", "alert_id", "seq", "roles", "detailed_roles", "tags", "unmapped")]


def content_hash(record: msgspec.Struct) -> str:
    """A short, stable digest of a record's full content."""
    return hashlib.blake2b(_encoder.encode(record), digest_size=12).hexdigest()


def _unmapped(value: dict[str, str]) -> str | None:
    return _encoder.encode(value).decode() if value else None


def _enum(value: object) -> object:
    return None if value is None else str(value)


class Batch:
    """Column lists for one staging flush; ``seq`` orders records so the last duplicate wins."""

    def __init__(self) -> None:
        self.incidents: dict[str, list[object]] = {n: [] for n, _ in INCIDENT_FIELDS}
        self.alerts: dict[str, list[object]] = {n: [] for n, _ in ALERT_FIELDS}
        self.techniques: dict[str, list[object]] = {n: [] for n, _ in TECHNIQUE_FIELDS}
        self.comments: dict[str, list[object]] = {n: [] for n, _ in COMMENT_FIELDS}
        self.evidence: dict[str, list[object]] = {n: [] for n, _ in EVIDENCE_FIELDS}
        self.seq = 0
        self.alert_count = 0
        self.evidence_count = 0

    def __len__(self) -> int:
        return len(self.incidents["id"]) + self.alert_count

    def add_incident(self, incident: Incident) -> None:
        self.seq += 1
        cols = self.incidents
        for name in _INCIDENT_SCALARS:
            cols[name].append(_enum_or(getattr(incident, name)))
        cols["source"].append(incident.source)
        cols["custom_tags"].append(list(incident.custom_tags))
        cols["system_tags"].append(list(incident.system_tags))
        cols["unmapped"].append(_unmapped(incident.unmapped))
        cols["content_hash"].append(content_hash(msgspec.structs.replace(incident, alerts=())))
        cols["seq"].append(self.seq)
        self._add_comments(incident.source, "incident", incident.id, incident.comments)
        for alert in incident.alerts:
            if alert.incident_id is None:
                alert = msgspec.structs.replace(alert, incident_id=incident.id)
            self.add_alert(alert, incident.source)

    def add_alert(self, alert: Alert, source: str = "defender") -> None:
        self.seq += 1
        self.alert_count += 1
        seq = self.seq
        cols = self.alerts
        for name in _ALERT_SCALARS:
            cols[name].append(_enum_or(getattr(alert, name)))
        cols["source"].append(source)
        cols["categories"].append(list(alert.categories))
        cols["system_tags"].append(list(alert.system_tags))
        cols["unmapped"].append(_unmapped(alert.unmapped))
        cols["content_hash"].append(content_hash(alert))
        cols["seq"].append(seq)
        tech = self.techniques
        for i, ref in enumerate(alert.techniques):
            tech["source"].append(source)
            tech["alert_id"].append(alert.id)
            tech["seq"].append(i)
            tech["raw"].append(ref.raw)
            tech["technique_id"].append(ref.id)
            tech["status"].append(str(ref.status))
            tech["batch_seq"].append(seq)
        self._add_comments(source, "alert", alert.id, alert.comments, seq)
        ev = self.evidence
        for i, item in enumerate(alert.evidence):
            self.evidence_count += 1
            ev["source"].append(source)
            ev["alert_id"].append(alert.id)
            ev["seq"].append(i)
            for name in _EVIDENCE_SCALARS:
                ev[name].append(_enum_or(getattr(item, name)))
            ev["roles"].append(list(item.roles))
            ev["detailed_roles"].append(list(item.detailed_roles))
            ev["tags"].append(list(item.tags))
            ev["unmapped"].append(_unmapped(item.unmapped))
            ev["batch_seq"].append(seq)

    def _add_comments(
        self, source: str, kind: str, parent: str, comments: Iterable[Comment], seq: int | None = None
    ) -> None:
        cols = self.comments
        for i, comment in enumerate(comments):
            cols["source"].append(source)
            cols["parent_kind"].append(kind)
            cols["parent_id"].append(parent)
            cols["seq"].append(i)
            cols["author"].append(comment.author)
            cols["created"].append(comment.created)
            cols["text"].append(comment.text)
            cols["batch_seq"].append(self.seq if seq is None else seq)

    def tables(self) -> dict[str, pa.Table]:
        """The batch as Arrow tables, one per staging table."""
        return {
            "stg_incidents": _table(self.incidents, INCIDENT_FIELDS),
            "stg_alerts": _table(self.alerts, ALERT_FIELDS),
            "stg_techniques": _table(self.techniques, TECHNIQUE_FIELDS),
            "stg_comments": _table(self.comments, COMMENT_FIELDS),
            "stg_evidence": _table(self.evidence, EVIDENCE_FIELDS),
        }


def _enum_or(value: object) -> object:
    if value is None or isinstance(value, str | int | datetime):
        return value if not isinstance(value, str) else str(value)
    return value


def _table(columns: dict[str, list[object]], fields: Iterable[tuple[str, pa.DataType]]) -> pa.Table:
    schema = pa.schema(list(fields))
    return pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)
