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
    return load_incidents(store, [incident_id], source).get(incident_id)


def load_incidents(store: Store, incident_ids: list[str], source: str = "defender") -> dict[str, Incident]:
    """Several stored incidents at once (one query per table), keyed by id; missing ids are absent.

    Use it in chunks of a few hundred ids to read a whole store: reading incidents one by one costs a
    scan of every table per incident.
    """
    if not incident_ids:
        return {}
    params: list[Any] = [source, list(incident_ids)]
    incidents = {r["id"]: _unmapped(r) for r in _rows(
        store, f"SELECT * FROM incidents WHERE source = ? AND id IN {_IDS}", params)}
    alerts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(store, f"SELECT * FROM alerts WHERE source = ? AND incident_id IN {_IDS} "
                            "ORDER BY incident_id, created NULLS LAST, id", params):
        alerts[row["incident_id"]].append(_unmapped(row))
    children = _children(store, source, [a["id"] for rows in alerts.values() for a in rows])
    comments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(store, "SELECT parent_id, text, author, created FROM comments WHERE source = ? AND "
                            f"parent_kind = 'incident' AND parent_id IN {_IDS} ORDER BY parent_id, seq", params):
        comments[row.pop("parent_id")].append(row)
    out: dict[str, Incident] = {}
    for iid, incident in incidents.items():
        for alert in alerts.get(iid, []):
            alert["techniques"] = children["techniques"][alert["id"]]
            alert["evidence"] = children["evidence"][alert["id"]]
            alert["comments"] = children["comments"][alert["id"]]
        incident["comments"] = comments.get(iid, [])
        incident["alerts"] = alerts.get(iid, [])
        out[iid] = msgspec.convert(incident, Incident, strict=False, from_attributes=False)
    return out


# A list parameter as a relation, so DuckDB hash-joins it instead of testing list membership per row.
_IDS = "(SELECT UNNEST(?::VARCHAR[]))"


def _children(store: Store, source: str, alert_ids: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {
        kind: defaultdict(list) for kind in ("techniques", "evidence", "comments")
    }
    if not alert_ids:
        return out
    params = [source, alert_ids]
    for row in _rows(store, "SELECT alert_id, raw, technique_id AS id, status FROM alert_techniques "
                            f"WHERE source = ? AND alert_id IN {_IDS} ORDER BY alert_id, seq", params):
        out["techniques"][row.pop("alert_id")].append(row)
    for row in _rows(store, "SELECT * EXCLUDE (source, seq) FROM evidence "
                            f"WHERE source = ? AND alert_id IN {_IDS} ORDER BY alert_id, seq", params):
        out["evidence"][row.pop("alert_id")].append(_unmapped(row))
    for row in _rows(store, "SELECT parent_id, text, author, created FROM comments WHERE source = ? "
                            f"AND parent_kind = 'alert' AND parent_id IN {_IDS} ORDER BY parent_id, seq",
                     params):
        out["comments"][row.pop("parent_id")].append(row)
    return out


__all__ = ["load_incident", "load_incidents"]
