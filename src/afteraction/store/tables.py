"""Ibis access to the store, so the same expressions can run on another engine over the Parquet export."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from afteraction.store.db import Store

_SEVERITY_ORDER = {"high": 4, "medium": 3, "low": 2, "informational": 1}


def connect(store: Store) -> Any:
    """An Ibis DuckDB backend over the store's open connection."""
    return ibis.duckdb.from_connection(store.con)


def incident_overview(con: Any) -> ir.Table:
    """One row per incident with alert, technique and evidence counts, newest first."""
    incidents = con.table("incidents")
    alerts = con.table("alerts")
    techniques = con.table("alert_techniques")
    evidence = con.table("evidence")
    alert_counts = alerts.group_by(["source", "incident_id"]).aggregate(alert_count=alerts.count())
    keys = alerts.select("source", "incident_id", alert_id="id")
    tech = techniques.join(keys, ["source", "alert_id"])
    tech_counts = tech.group_by(["source", "incident_id"]).aggregate(
        technique_count=tech.technique_id.nunique()
    )
    ev = evidence.join(keys, ["source", "alert_id"])
    ev_counts = ev.group_by(["source", "incident_id"]).aggregate(evidence_count=ev.count())
    out = incidents
    for counts in (alert_counts, tech_counts, ev_counts):
        out = out.left_join(
            counts, [out.source == counts.source, out.id == counts.incident_id]
        ).drop("source_right", "incident_id")
    return out.select(
        "source", "id", "title", "severity", "status", "classification", "determination",
        "assigned_to", "created", "first_activity", "last_activity", "resolved", "is_stub",
        alerts=out.alert_count.fill_null(0),
        techniques=out.technique_count.fill_null(0),
        evidence=out.evidence_count.fill_null(0),
    ).order_by([ibis.desc("created"), "source", "id"])
