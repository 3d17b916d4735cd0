"""Read canonical records back out of the store (one incident with everything it holds)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from afteraction.model import Incident
from afteraction.store.db import Store

_decode_unmapped = msgspec.json.Decoder(dict[str, str])


def _rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = store.con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _unmapped(row: dict[str, Any]) -> dict[str, Any]:
    text = row.pop("unmapped", None)
    # NULLs (e.g. the tag lists of an incident known only from alert exports) take the record's defaults.
    row = {k: v for k, v in row.items() if v is not None}
    row["unmapped"] = _decode_unmapped.decode(text) if text else {}
    return row


def load_incident(store: Store, incident_id: str, source: str = "defender") -> Incident | None:
    """The stored incident with its alerts (ordered by creation time, then id), or None.

    Alerts, evidence, techniques and comments come back as the canonical records that were stored.
    """
    found = _rows(store, "SELECT * FROM incidents WHERE source = ? AND id = ?", [source, incident_id])
    if not found:
        return None
    incident = _unmapped(found[0])
    key = [source, incident_id]
    alerts = [_unmapped(a) for a in _rows(
        store, "SELECT * FROM alerts WHERE source = ? AND incident_id = ? ORDER BY created NULLS LAST, id", key)]
    children = _children(store, source, [a["id"] for a in alerts])
    for alert in alerts:
        alert["techniques"] = children["techniques"][alert["id"]]
        alert["evidence"] = children["evidence"][alert["id"]]
        alert["comments"] = children["comments"][alert["id"]]
    incident["comments"] = _rows(
        store, "SELECT text, author, created FROM comments WHERE source = ? AND parent_kind = 'incident' "
        "AND parent_id = ? ORDER BY seq", key)
    incident["alerts"] = alerts
    return msgspec.convert(incident, Incident, strict=False, from_attributes=False)


def _children(store: Store, source: str, alert_ids: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {
        kind: defaultdict(list) for kind in ("techniques", "evidence", "comments")
    }
    if not alert_ids:
        return out
    params = [source, alert_ids]
    for row in _rows(store, "SELECT alert_id, raw, technique_id AS id, status FROM alert_techniques "
                            "WHERE source = ? AND list_contains(?, alert_id) ORDER BY alert_id, seq", params):
        out["techniques"][row.pop("alert_id")].append(row)
    for row in _rows(store, "SELECT * EXCLUDE (source, seq) FROM evidence "
                            "WHERE source = ? AND list_contains(?, alert_id) ORDER BY alert_id, seq", params):
        out["evidence"][row.pop("alert_id")].append(_unmapped(row))
    for row in _rows(store, "SELECT parent_id, text, author, created FROM comments WHERE source = ? "
                            "AND parent_kind = 'alert' AND list_contains(?, parent_id) ORDER BY parent_id, seq",
                     params):
        out["comments"][row.pop("parent_id")].append(row)
    return out


__all__ = ["load_incident"]
