"""Per-alert facts of a period, materialised once per analysis run as two temporary tables.

``aa_program_alerts`` has one row per alert created in the period: its incident, times (created,
acknowledged, resolved), severity, status, classification and determination, detector identity, owner,
automation, comment-derived signals, and its day, week and month. ``aa_program_techniques`` has one row per
(alert, technique) of those alerts. Trends, skills and process read these tables, so the store's wide
tables are scanned once. The expressions are Ibis (compiled once per code version, ``analyze.queries``);
the period is a one-row table, so the compiled SQL does not depend on the dates.

Signals Graph does not record as fields are read from comments, case-insensitively, on the alert or its
incident: ``reclassified`` when one says the classification changed (``classification changed``,
``reclassified``), ``reopened`` when one says the alert or incident was reopened. Acknowledgement is the
first comment on the alert or its incident (Graph records no assignment or status-change times), the same
rule as the review's.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import ibis

from afteraction.analyze.queries import compiled_sql

if TYPE_CHECKING:
    from afteraction.analyze.program.period import Period
    from afteraction.store.db import Store

PERIOD_TABLE = "aa_program_period"
ALERTS_TABLE = "aa_program_alerts"
TECHNIQUES_TABLE = "aa_program_techniques"
RECLASSIFIED = r"(?i)classification changed|reclassif"
REOPENED = r"(?i)\breopen"
AUTOMATION_STATES = ("successfullyRemediated", "partiallyRemediated")


def _comment_signals(con: Any, kind: str, key: str) -> Any:
    comments = con.table("comments")
    c = comments.filter(comments.parent_kind == kind)
    return c.group_by(["source", c.parent_id.name(key)]).aggregate(
        **{f"{kind}_ack": c.created.min(),
           f"{kind}_reclassified": c.text.re_search(RECLASSIFIED).any(),
           f"{kind}_reopened": c.text.re_search(REOPENED).any()})


def period_alerts(con: Any) -> Any:
    """The Ibis expression of :data:`ALERTS_TABLE`."""
    alerts = con.table("alerts")
    period = con.table(PERIOD_TABLE)
    a = alerts.cross_join(period)
    a = a.filter((a.created >= a.since) & (a.created < a.until)).drop("since", "until")
    by_alert = _comment_signals(con, "alert", "alert_id")
    by_incident = _comment_signals(con, "incident", "incident_id")
    a = a.left_join(by_alert, [a.source == by_alert.source, a.id == by_alert.alert_id]).drop(
        "source_right", "alert_id")
    a = a.left_join(by_incident, [a.source == by_incident.source, a.incident_id == by_incident.incident_id]
                    ).drop("source_right", "incident_id_right")
    source_name = a.detection_source.fill_null(a.service_source).fill_null("unknown")
    ack = ibis.least(a.alert_ack, a.incident_ack).fill_null(a.alert_ack).fill_null(a.incident_ack)
    return a.select(
        source=a.source, alert_id=a.id, incident_id=a.incident_id, title=a.title.fill_null(""),
        created=a.created, resolved=a.resolved, acknowledged=ack,
        severity=a.severity.fill_null("unknown"), status=a.status.fill_null("unknown"),
        classification=a.classification, determination=a.determination,
        service_source=a.service_source.fill_null("unknown"), detection_source=a.detection_source.fill_null("unknown"),
        source_name=source_name, detector_id=a.detector_id.fill_null(""),
        assigned_to=a.assigned_to, investigation_state=a.investigation_state,
        automated=a.investigation_state.isin(list(AUTOMATION_STATES)).fill_null(False)
        | (a.assigned_to.lower() == "automation").fill_null(False),
        reclassified=a.alert_reclassified.fill_null(False) | a.incident_reclassified.fill_null(False),
        reopened=a.alert_reopened.fill_null(False) | a.incident_reopened.fill_null(False),
        day=a.created.truncate("D"), week=a.created.truncate("W"), month=a.created.truncate("M"),
    )


def period_techniques(con: Any) -> Any:
    """The Ibis expression of :data:`TECHNIQUES_TABLE` (reads :data:`ALERTS_TABLE`)."""
    tech = con.table("alert_techniques")
    alerts = con.table(ALERTS_TABLE)
    t = tech.filter(tech.technique_id.notnull() & tech.status.isin(["active", "revoked", "unknown", "deprecated"]))
    t = t.select("source", "alert_id", "technique_id").distinct()
    return t.join(alerts.select("source", "alert_id"), ["source", "alert_id"]).select(
        "source", "alert_id", "technique_id")


def materialise(store: Store, period: Period) -> None:
    """(Re)create the period's temporary tables on the store's connection."""
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {PERIOD_TABLE} AS "
                      "SELECT ?::TIMESTAMPTZ AS since, ?::TIMESTAMPTZ AS until", [period.since, period.until])
    me = (sys.modules[__name__],)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {ALERTS_TABLE} AS "
                      f"{compiled_sql(store, 'program-alerts', period_alerts, me)}")
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TECHNIQUES_TABLE} AS "
                      f"{compiled_sql(store, 'program-techniques', period_techniques, me)}")


__all__ = ["ALERTS_TABLE", "AUTOMATION_STATES", "PERIOD_TABLE", "RECLASSIFIED", "REOPENED", "TECHNIQUES_TABLE",
           "materialise", "period_alerts", "period_techniques"]
