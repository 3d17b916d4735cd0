"""Merge a staged batch into the store: idempotent, newest ``last_updated`` wins.

For every staged incident and alert (duplicates within a file are first reduced to one by the same
order) the action is:

* ``new``       not stored yet (or only as a stub incident made from alerts) -> inserted
* ``unchanged`` the same content is stored -> nothing happens
* ``older``     the stored version wins: a later ``last_updated``, or (equal ``last_updated``, different
                content) a greater content digest -> kept, the staged one dropped
* ``updated``   otherwise -> replaced, with its comments, evidence and techniques

The digest tie-break is arbitrary but deterministic, so the outcome never depends on the order in
which overlapping exports are ingested.

Batches are first written to Parquet files in a staging directory (so memory stays flat and the
store is untouched while the file is read), then the whole file is merged in one transaction by
:func:`publish`: the file is stored completely or not at all.

"Same content" compares a digest computed in DuckDB over the record and its children (``hash()``,
64 bits). DuckDB does not promise that digest across versions; after an upgrade a re-ingest may count
records as ``updated`` once, which replaces them with identical content.

When nothing staged is stored yet and no key repeats within the file (a first load, or a file of new
records), every record is ``new`` and the file is inserted in bulk: the same rows and digests, without
the per-record decisions, deletes and joins (:func:`can_bulk_insert`).

Alerts whose incident is not stored get a *stub* incident whose title, severity and times are
derived from its alerts until the real incident is ingested; a stub left with no alerts (they moved
to another incident) is removed. An alert that a newer version of its incident no longer lists keeps
its ``incident_id`` until the alert itself says otherwise (Defender moves alerts by updating them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from afteraction.store.rows import column_names

_ACTIONS = ("new", "updated", "unchanged", "older")
_CHANGED = "action IN ('new', 'updated')"

_ACTION_CASE = """CASE WHEN t.id IS NULL {stub} THEN 'new'
    WHEN t.content_hash = s.content_hash THEN 'unchanged'
    WHEN t.last_updated IS NOT NULL AND (s.last_updated IS NULL OR s.last_updated < t.last_updated)
        THEN 'older'
    WHEN t.last_updated IS NOT DISTINCT FROM s.last_updated AND s.content_hash < t.content_hash THEN 'older'
    ELSE 'updated' END"""

_SEVERITY_RANK = (
    "CASE severity WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 WHEN 'informational' THEN 1 ELSE 0 END"
)


def _cols(table: str, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in column_names(table))


def _counter() -> dict[str, int]:
    return dict.fromkeys(_ACTIONS, 0)


@dataclass
class MergeCounts:
    """What a merge did, per record kind and action."""

    incidents: dict[str, int] = field(default_factory=_counter)
    alerts: dict[str, int] = field(default_factory=_counter)
    evidence: int = 0

    def add(self, other: MergeCounts) -> None:
        for key, value in other.incidents.items():
            self.incidents[key] += value
        for key, value in other.alerts.items():
            self.alerts[key] += value
        self.evidence += other.evidence


STAGING_TABLES = ("stg_incidents", "stg_alerts", "stg_techniques", "stg_evidence", "stg_comments")


def stage_batch(directory: Path, tables: dict[str, pa.Table], number: int) -> dict[str, Path]:
    """Write one batch's staging tables as Parquet files in ``directory``; returns them by table."""
    written = {}
    for name, table in tables.items():
        path = directory / f"{name}-{number:06d}.parquet"
        pq.write_table(table, path, compression="lz4")
        written[name] = path
    return written


_GLOB_CHARS = frozenset("*?[]{}")


def attach_staging(con: duckdb.DuckDBPyConnection, files: dict[str, list[Path]]) -> None:
    """Expose the staged Parquet files as the ``stg_*`` relations that :func:`publish` reads.

    DuckDB's own Parquet reader (which keeps within DuckDB's memory budget) takes the exact file list;
    it reads every name as a glob pattern, so paths with glob characters go through an Arrow dataset
    instead (slower, and outside the budget).
    """
    for name in STAGING_TABLES:
        paths = [str(p) for p in files[name]]
        if any(_GLOB_CHARS & set(p) for p in paths):
            con.register(name, ds.dataset(paths, format="parquet"))
        else:
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{listed}])")


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the staging relations and work tables of the last publish."""
    for name in STAGING_TABLES:
        con.unregister(name)
        con.execute(f"DROP VIEW IF EXISTS {name}")
    for name in ("s_inc", "s_alert"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def publish(con: duckdb.DuckDBPyConnection, file_id: int, *, bulk: bool | None = None) -> MergeCounts:
    """Merge everything staged into the store, inside the caller's transaction.

    One set-based merge per file: DuckDB writes the large inserts straight to the database file, so
    memory stays flat however big the file is. ``bulk`` forces (True) or forbids (False) the bulk
    insert; by default it is used when :func:`can_bulk_insert` says every record is new.
    """
    counts = MergeCounts()
    if bulk is None:
        bulk = can_bulk_insert(con)
    if bulk:
        _insert_all(con, file_id, counts)
    else:
        _merge_incidents(con, file_id, counts)
        _merge_alerts(con, file_id, counts)
    _create_stubs(con, file_id)
    return counts


def can_bulk_insert(con: duckdb.DuckDBPyConnection) -> bool:
    """True when no staged incident or alert key is stored (stubs included) or repeats within the file.

    Then the merge decides ``new`` for every record, and inserting them all is the same result.
    """
    checks = []
    for staged, target in (("stg_incidents", "incidents"), ("stg_alerts", "alerts")):
        checks.append(f"EXISTS (SELECT 1 FROM {staged} GROUP BY source, id HAVING count(*) > 1)")
        checks.append(f"EXISTS (SELECT 1 FROM {staged} s JOIN {target} t ON t.source = s.source AND t.id = s.id)")
    row = con.execute(f"SELECT NOT ({' OR '.join(checks)})").fetchone()
    return bool(row and row[0])


def _stage(con: duckdb.DuckDBPyConnection, hashed: str, target: str, temp: str, stub: str, extra: str = "") -> None:
    """Decide the action for every staged record; the work table holds keys only, not content."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {temp} AS
        WITH hashed AS ({hashed}),
        dedup AS (
            SELECT * EXCLUDE (rn) FROM (
                SELECT *, row_number() OVER (PARTITION BY source, id
                    ORDER BY last_updated DESC NULLS LAST, content_hash DESC, seq DESC) AS rn
                FROM hashed) WHERE rn = 1)
        SELECT s.source, s.id, s.seq, s.content_hash{extra}, {_ACTION_CASE.format(stub=stub)} AS action
        FROM dedup s LEFT JOIN {target} t ON t.source = s.source AND t.id = s.id""")


def _tally(con: duckdb.DuckDBPyConnection, temp: str) -> dict[str, int]:
    rows = con.execute(f"SELECT action, count(*) FROM {temp} GROUP BY action").fetchall()
    return {str(action): int(n) for action, n in rows}


def _inserted(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _hashed_incidents(columns: str) -> str:
    """``columns`` of every staged incident (alias ``i``) with its digest, children included."""
    return f"""
        SELECT {columns}, hash({_cols("incidents", "i.")}, coalesce(c.h, 0))::VARCHAR AS content_hash
        FROM stg_incidents i LEFT JOIN (
            SELECT batch_seq, bit_xor(hash(seq, {_cols("comments")})) AS h FROM stg_comments
            WHERE parent_kind = 'incident' GROUP BY batch_seq) c ON c.batch_seq = i.seq"""


def _hashed_alerts(columns: str) -> str:
    """``columns`` of every staged alert (alias ``a``) with its digest, children included."""
    return f"""
        SELECT {columns}, hash({_cols("alerts", "a.")}, coalesce(c.h, 0))::VARCHAR AS content_hash
        FROM stg_alerts a LEFT JOIN (
            SELECT batch_seq, bit_xor(h) AS h FROM (
                SELECT batch_seq, hash('t', seq, {_cols("alert_techniques")}) AS h FROM stg_techniques
                UNION ALL
                SELECT batch_seq, hash('e', seq, {_cols("evidence")}) FROM stg_evidence
                UNION ALL
                SELECT batch_seq, hash('c', seq, {_cols("comments")}) FROM stg_comments
                WHERE parent_kind = 'alert')
            GROUP BY batch_seq) c ON c.batch_seq = a.seq"""


_COMMENT_ROWS = "SELECT x.source, x.parent_kind, x.parent_id, x.seq, {cols} FROM stg_comments x"
_TECHNIQUE_ROWS = (
    "SELECT x.source, x.parent_id AS alert_id, x.seq, x.raw, x.id AS technique_id, x.status FROM stg_techniques x"
)
_EVIDENCE_ROWS = "SELECT x.source, x.parent_id AS alert_id, x.seq, {cols} FROM stg_evidence x"


def _insert_all(con: duckdb.DuckDBPyConnection, file_id: int, counts: MergeCounts) -> None:
    """Insert every staged record and child as ``new`` (see :func:`can_bulk_insert`)."""
    counts.incidents["new"] += _inserted(con, "INSERT INTO incidents BY NAME " + _hashed_incidents(
        f"{_cols('incidents', 'i.')}, false AS is_stub, {int(file_id)} AS ingest_file_id"))
    counts.alerts["new"] += _inserted(con, "INSERT INTO alerts BY NAME " + _hashed_alerts(
        f"{_cols('alerts', 'a.')}, a.source, {int(file_id)} AS ingest_file_id"))
    con.execute("INSERT INTO comments BY NAME " + _COMMENT_ROWS.format(cols=_cols("comments", "x.")))
    con.execute("INSERT INTO alert_techniques BY NAME " + _TECHNIQUE_ROWS)
    counts.evidence += _inserted(con, "INSERT INTO evidence BY NAME " + _EVIDENCE_ROWS.format(
        cols=_cols("evidence", "x.")))
    # what _create_stubs needs to know about the alerts: all new, none stored before
    con.execute("CREATE OR REPLACE TEMP TABLE s_alert AS SELECT source, id, incident_id, "
                "NULL::VARCHAR AS old_incident_id, 'new' AS action FROM stg_alerts")


def _merge_incidents(con: duckdb.DuckDBPyConnection, file_id: int, counts: MergeCounts) -> None:
    hashed = _hashed_incidents("i.source, i.id, i.seq, i.last_updated")
    _stage(con, hashed, "incidents", "s_inc", "OR t.is_stub")
    for action, n in _tally(con, "s_inc").items():
        counts.incidents[action] += n
    changed = f"SELECT source, id FROM s_inc WHERE {_CHANGED}"
    con.execute(f"DELETE FROM incidents WHERE (source, id) IN ({changed})")
    con.execute(f"DELETE FROM comments WHERE parent_kind = 'incident' AND (source, parent_id) IN ({changed})")
    con.execute(
        f"INSERT INTO incidents BY NAME SELECT {_cols('incidents', 'x.')}, s.content_hash, false AS is_stub, "
        f"{int(file_id)} AS ingest_file_id FROM stg_incidents x JOIN s_inc s ON x.seq = s.seq WHERE s.{_CHANGED}"
    )
    con.execute(
        "INSERT INTO comments BY NAME " + _COMMENT_ROWS.format(cols=_cols("comments", "x."))
        + " JOIN s_inc s ON x.source = s.source AND x.parent_id = s.id AND x.batch_seq = s.seq "
        f"WHERE x.parent_kind = 'incident' AND s.{_CHANGED}"
    )


def _merge_alerts(con: duckdb.DuckDBPyConnection, file_id: int, counts: MergeCounts) -> None:
    hashed = _hashed_alerts("a.source, a.id, a.seq, a.last_updated, a.incident_id")
    _stage(con, hashed, "alerts", "s_alert", "", ", s.incident_id, t.incident_id AS old_incident_id")
    for action, n in _tally(con, "s_alert").items():
        counts.alerts[action] += n
    changed = f"SELECT source, id FROM s_alert WHERE {_CHANGED}"
    con.execute(f"DELETE FROM alerts WHERE (source, id) IN ({changed})")
    con.execute(f"DELETE FROM alert_techniques WHERE (source, alert_id) IN ({changed})")
    con.execute(f"DELETE FROM evidence WHERE (source, alert_id) IN ({changed})")
    con.execute(f"DELETE FROM comments WHERE parent_kind = 'alert' AND (source, parent_id) IN ({changed})")
    con.execute(
        f"INSERT INTO alerts BY NAME SELECT {_cols('alerts', 'x.')}, x.source, s.content_hash, "
        f"{int(file_id)} AS ingest_file_id FROM stg_alerts x JOIN s_alert s ON x.seq = s.seq WHERE s.{_CHANGED}"
    )
    winners = (
        "JOIN s_alert s ON x.source = s.source AND x.parent_id = s.id AND x.batch_seq = s.seq "
        f"WHERE s.{_CHANGED}"
    )
    con.execute(f"INSERT INTO alert_techniques BY NAME {_TECHNIQUE_ROWS} {winners}")
    counts.evidence += _inserted(
        con, f"INSERT INTO evidence BY NAME {_EVIDENCE_ROWS.format(cols=_cols('evidence', 'x.'))} {winners}")
    con.execute(f"INSERT INTO comments BY NAME {_COMMENT_ROWS.format(cols=_cols('comments', 'x.'))} {winners} "
                "AND x.parent_kind = 'alert'")


def _create_stubs(con: duckdb.DuckDBPyConnection, file_id: int) -> None:
    """Make, refresh or remove stub incidents for the incidents that changed alerts point to (or left)."""
    affected = f"""
        SELECT source, incident_id AS id FROM s_alert WHERE {_CHANGED} AND incident_id IS NOT NULL
        UNION SELECT source, old_incident_id FROM s_alert WHERE {_CHANGED} AND old_incident_id IS NOT NULL"""
    con.execute(
        "INSERT INTO incidents (source, id, is_stub, ingest_file_id) "
        f"SELECT DISTINCT s.source, s.incident_id, true, {int(file_id)} FROM s_alert s "
        f"WHERE s.incident_id IS NOT NULL AND s.{_CHANGED} "
        "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.source = s.source AND i.id = s.incident_id)"
    )
    con.execute(f"""
        DELETE FROM incidents WHERE is_stub AND (source, id) IN ({affected})
        AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.source = incidents.source AND a.incident_id = incidents.id)""")
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
            WHERE (a.source, a.incident_id) IN (
                SELECT source, id FROM incidents WHERE is_stub AND (source, id) IN ({affected}))
            GROUP BY a.source, a.incident_id) d
        WHERE incidents.source = d.source AND incidents.id = d.incident_id AND incidents.is_stub""")
