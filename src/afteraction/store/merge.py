"""Merge a staged batch into the store: idempotent, newest ``last_updated`` wins.

For every staged incident and alert (duplicates within a batch are reduced to the newest, then the
last one read) the action is:

* ``new``       not stored yet (or only as a stub incident made from alerts) -> inserted
* ``unchanged`` the same content is stored -> nothing happens
* ``older``     the stored version has a later ``last_updated`` -> kept, the staged one dropped
* ``updated``   otherwise -> replaced, with its comments, evidence and techniques

Alerts whose incident is not stored get a *stub* incident whose title, severity and times are
derived from its alerts until the real incident is ingested.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from afteraction.store.rows import ALERT_FIELDS, INCIDENT_FIELDS

_INCIDENT_COLS = ", ".join(n for n, _ in INCIDENT_FIELDS if n != "seq")
_ALERT_COLS = ", ".join(n for n, _ in ALERT_FIELDS if n != "seq")

_ACTION_CASE = """CASE WHEN t.id IS NULL {stub} THEN 'new'
    WHEN t.content_hash = s.content_hash THEN 'unchanged'
    WHEN t.last_updated IS NOT NULL AND (s.last_updated IS NULL OR s.last_updated < t.last_updated)
        THEN 'older'
    ELSE 'updated' END"""

_SEVERITY_RANK = "CASE severity WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 " \
                 "WHEN 'informational' THEN 1 ELSE 0 END"


@dataclass
class MergeCounts:
    """What a merge did, per record kind and action."""

    incidents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("new", "updated", "unchanged", "older"), 0))
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("new", "updated", "unchanged", "older"), 0))
    evidence: int = 0

    def add(self, other: MergeCounts) -> None:
        for key, value in other.incidents.items():
            self.incidents[key] += value
        for key, value in other.alerts.items():
            self.alerts[key] += value
        self.evidence += other.evidence


def merge_batch(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], file_id: int) -> MergeCounts:
    """Merge staged Arrow tables into the store inside the caller's transaction."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        counts = MergeCounts()
        _merge_incidents(con, file_id, counts)
        _merge_alerts(con, file_id, counts)
        _create_stubs(con, file_id)
        return counts
    finally:
        for name in tables:
            con.unregister(name)
        for temp in ("s_inc", "s_alert"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")


def _stage(con: duckdb.DuckDBPyConnection, staged: str, target: str, temp: str, stub: str) -> None:
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {temp} AS
        WITH dedup AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (PARTITION BY source, id
                    ORDER BY last_updated DESC NULLS LAST, seq DESC) AS rn
                FROM {staged}) WHERE rn = 1)
        SELECT s.*, {_ACTION_CASE.format(stub=stub)} AS action
        FROM dedup s LEFT JOIN {target} t ON t.source = s.source AND t.id = s.id""")


def _tally(con: duckdb.DuckDBPyConnection, temp: str) -> dict[str, int]:
    rows = con.execute(f"SELECT action, count(*) FROM {temp} GROUP BY action").fetchall()
    return {str(action): int(n) for action, n in rows}


def _merge_incidents(con: duckdb.DuckDBPyConnection, file_id: int, counts: MergeCounts) -> None:
    _stage(con, "stg_incidents", "incidents", "s_inc", "OR t.is_stub")
    for action, n in _tally(con, "s_inc").items():
        counts.incidents[action] += n
    changed = "SELECT source, id FROM s_inc WHERE action IN ('new', 'updated')"
    con.execute(f"DELETE FROM incidents WHERE (source, id) IN ({changed})")
    con.execute(
        "DELETE FROM comments WHERE parent_kind = 'incident' AND (source, parent_id) IN "
        f"({changed})"
    )
    con.execute(
        f"INSERT INTO incidents ({_INCIDENT_COLS}, is_stub, ingest_file_id) "
        f"SELECT {_INCIDENT_COLS}, false, {int(file_id)} FROM s_inc WHERE action IN ('new', 'updated')"
    )
    con.execute(
        "INSERT INTO comments SELECT c.source, c.parent_kind, c.parent_id, c.seq, c.author, c.created, c.text "
        "FROM stg_comments c JOIN s_inc s ON c.source = s.source AND c.parent_id = s.id "
        "AND c.batch_seq = s.seq WHERE c.parent_kind = 'incident' AND s.action IN ('new', 'updated')"
    )


def _merge_alerts(con: duckdb.DuckDBPyConnection, file_id: int, counts: MergeCounts) -> None:
    _stage(con, "stg_alerts", "alerts", "s_alert", "")
    for action, n in _tally(con, "s_alert").items():
        counts.alerts[action] += n
    changed = "SELECT source, id FROM s_alert WHERE action IN ('new', 'updated')"
    con.execute(f"DELETE FROM alerts WHERE (source, id) IN ({changed})")
    con.execute(f"DELETE FROM alert_techniques WHERE (source, alert_id) IN ({changed})")
    con.execute(f"DELETE FROM evidence WHERE (source, alert_id) IN ({changed})")
    con.execute(f"DELETE FROM comments WHERE parent_kind = 'alert' AND (source, parent_id) IN ({changed})")
    con.execute(
        f"INSERT INTO alerts ({_ALERT_COLS}, ingest_file_id) "
        f"SELECT {_ALERT_COLS}, {int(file_id)} FROM s_alert WHERE action IN ('new', 'updated')"
    )
    winners = "JOIN s_alert s ON x.source = s.source AND x.alert_id = s.id AND x.batch_seq = s.seq " \
              "WHERE s.action IN ('new', 'updated')"
    con.execute(f"INSERT INTO alert_techniques SELECT x.* EXCLUDE (batch_seq) FROM stg_techniques x {winners}")
    before = con.execute("SELECT count(*) FROM evidence").fetchone()
    con.execute(f"INSERT INTO evidence SELECT x.* EXCLUDE (batch_seq) FROM stg_evidence x {winners}")
    after = con.execute("SELECT count(*) FROM evidence").fetchone()
    counts.evidence += int(after[0] if after else 0) - int(before[0] if before else 0)
    con.execute(
        "INSERT INTO comments SELECT x.source, x.parent_kind, x.parent_id, x.seq, x.author, x.created, x.text "
        "FROM stg_comments x JOIN s_alert s ON x.source = s.source AND x.parent_id = s.id "
        "AND x.batch_seq = s.seq WHERE x.parent_kind = 'alert' AND s.action IN ('new', 'updated')"
    )


def _create_stubs(con: duckdb.DuckDBPyConnection, file_id: int) -> None:
    """Make or refresh stub incidents for alerts whose incident is not stored."""
    con.execute(
        "INSERT INTO incidents (source, id, is_stub, ingest_file_id) "
        f"SELECT DISTINCT s.source, s.incident_id, true, {int(file_id)} FROM s_alert s "
        "WHERE s.incident_id IS NOT NULL AND s.action IN ('new', 'updated') "
        "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.source = s.source AND i.id = s.incident_id)"
    )
    con.execute(f"""
        UPDATE incidents SET
            title = d.title, severity = d.severity, status = d.status, tenant_id = d.tenant_id,
            created = d.created, last_updated = NULL, first_activity = d.first_activity,
            last_activity = d.last_activity, resolved = d.resolved
        FROM (
            SELECT a.source, a.incident_id,
                arg_max(a.title, {_SEVERITY_RANK}) AS title,
                arg_max(a.severity, {_SEVERITY_RANK}) AS severity,
                CASE WHEN bool_and(a.status = 'resolved') THEN 'resolved'
                     WHEN bool_or(a.status = 'inProgress') THEN 'inProgress' ELSE 'active' END AS status,
                any_value(a.tenant_id) AS tenant_id, min(a.created) AS created,
                min(a.first_activity) AS first_activity,
                max(coalesce(a.last_activity, a.first_activity)) AS last_activity,
                CASE WHEN bool_and(a.status = 'resolved') THEN max(a.resolved) END AS resolved
            FROM alerts a
            WHERE (a.source, a.incident_id) IN (SELECT source, incident_id FROM s_alert)
            GROUP BY a.source, a.incident_id) d
        WHERE incidents.source = d.source AND incidents.id = d.incident_id AND incidents.is_stub""")
