"""The engine side of the process metrics: Ibis group-bys over the period's facts.

Reads :data:`~afteraction.analyze.program.facts.ALERTS_TABLE`, ``TECHNIQUES_TABLE`` and
``INCIDENTS_TABLE`` (materialised by ``facts.materialise``) and two small parameter tables of its own
(:data:`PARAMS_TABLE`: since, until and the "as of" time of the backlog; :data:`SLA_TABLE`: one target
row per severity), so the compiled SQL does not depend on the dates or targets asked for. Only aggregated
rows reach Python.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import ibis

from afteraction.analyze.program import facts, facts_incidents
from afteraction.analyze.program.facts import ALERTS_TABLE, TECHNIQUES_TABLE, epoch_seconds
from afteraction.analyze.program.facts import INCIDENTS_TABLE as FACTS_INCIDENTS_TABLE
from afteraction.analyze.program.period import Bucket
from afteraction.analyze.program.sla import SlaTargets
from afteraction.analyze.queries import compiled_sql, run_rows
from afteraction.store.db import Store

PARAMS_TABLE = "aa_process_params"
SLA_TABLE = "aa_process_sla"
TP, FP, BENIGN = "truePositive", "falsePositive", "informationalExpectedActivity"
WASTED = (FP, BENIGN)
DAY = 86400


def _outcomes(t: Any) -> dict[str, Any]:
    c = t.classification
    return {"alerts": t.count(), "true_positives": (c == TP).fill_null(False).sum(),
            "false_positives": (c == FP).fill_null(False).sum(),
            "benign": (c == BENIGN).fill_null(False).sum(), "automated": t.automated.sum()}


def _overall(con: Any) -> Any:
    t = con.table(ALERTS_TABLE)
    return t.aggregate(incidents=t.ik.nunique(where=t.in_incident), **_outcomes(t))


def _by_bucket(bucket: Bucket) -> Any:
    def build(con: Any) -> Any:
        t = con.table(ALERTS_TABLE)
        return t.group_by(start=t[bucket]).aggregate(alerts=t.count(), incidents=t.ik.nunique(where=t.in_incident)
                                                     ).order_by("start")
    return build


def _by_source(con: Any) -> Any:
    t = con.table(ALERTS_TABLE)
    return t.group_by("source_name").aggregate(**_outcomes(t)).order_by([ibis.desc("alerts"), "source_name"])


def _by_severity(con: Any) -> Any:
    t = con.table(ALERTS_TABLE)
    return t.group_by("severity").aggregate(**_outcomes(t)).order_by("severity")


def _repeated(con: Any) -> Any:
    """Technique -> true-positive incidents of the period with an alert mapped to it."""
    a = con.table(ALERTS_TABLE)
    tp = a.filter((a.classification == TP) & a.in_incident).select("ak", "ik")
    # joined on the alert key's hash, and distinct (technique, incident) pairs counted by a plain group-by
    t = con.table(TECHNIQUES_TABLE).select("technique_id", "ak").join(tp, "ak")
    t = t.select("technique_id", "ik").distinct()
    return t.group_by("technique_id").aggregate(incidents=t.count()).order_by(
        [ibis.desc("incidents"), "technique_id"])


def _incidents(con: Any) -> Any:
    """One row per stored incident opened before the period's end: its first alert, acknowledgement, resolution
    (from the period's incident table, ``program.facts``: opened = its first alert, else its creation)."""
    i = con.table(FACTS_INCIDENTS_TABLE)
    return i.select(source=i.source, id=i.incident_id, title=i.title, severity=i.severity, status=i.status,
                    opened=i.first_alert, acknowledged=i.acknowledged, resolved=i.resolved)


def _open_at_end(con: Any) -> Any:
    i = _incidents(con).cross_join(con.table(PARAMS_TABLE))
    i = i.filter(i.resolved.isnull() | (i.resolved >= i.until))
    return i.mutate(age=ibis.greatest(epoch_seconds(i.as_of) - epoch_seconds(i.opened), 0))


def _backlog(con: Any) -> Any:
    i = _open_at_end(con)
    return i.group_by("severity").aggregate(
        under_1d=(i.age < DAY).sum(), days_1_7=((i.age >= DAY) & (i.age < 7 * DAY)).sum(),
        days_7_30=((i.age >= 7 * DAY) & (i.age < 30 * DAY)).sum(), over_30d=(i.age >= 30 * DAY).sum(),
        total=i.count()).order_by("severity")


def _oldest(con: Any) -> Any:
    i = _open_at_end(con)
    return i.select("source", "id", "title", "severity", "status", "opened", "age").order_by(
        [ibis.desc("age"), "source", "id"])


def _sla(con: Any) -> Any:
    """Per severity with a target: incidents whose first alert is in the period, and their breaches."""
    i = _incidents(con).cross_join(con.table(PARAMS_TABLE))
    i = i.filter(i.opened >= i.since)
    i = i.join(con.table(SLA_TABLE), "severity")
    ack_known = i.acknowledged.notnull() & (i.acknowledged < i.until)
    ack_s = ibis.greatest(epoch_seconds(i.acknowledged) - epoch_seconds(i.opened), 0)
    res_known = i.resolved.notnull() & (i.resolved < i.until)
    res_s = ibis.greatest(epoch_seconds(i.resolved) - epoch_seconds(i.opened), 0)
    open_s = epoch_seconds(i.as_of) - epoch_seconds(i.opened)
    open_breach = ~res_known & (open_s > i.resolve_seconds)
    unack_breach = ~ack_known & (open_s > i.acknowledge_seconds)
    return i.group_by("severity").aggregate(
        incidents=i.count(), acknowledge_measured=ack_known.sum(),
        acknowledge_breaches=(ack_known & (ack_s > i.acknowledge_seconds)).sum(),
        unacknowledged_breaches=unack_breach.sum(),
        resolved=res_known.sum(), resolve_late=(res_known & (res_s > i.resolve_seconds)).sum(),
        open_breaches=open_breach.sum()).order_by("severity")


# The detectors: a store can hold millions of distinct detector ids, so only the candidates (the k busiest by
# alerts and the k busiest by false and benign positives, ties broken by key, from one exact group-by) get
# their full counts, and only those reach Python, with the number of detectors. Exact and deterministic. A
# detector is (source name, detector id), and the title when the alert carries no detector id: the alerts are
# grouped by those three columns, and the string key that breaks ties is built per detector, not per alert.
# Only fixed table and column names are interpolated into this SQL; the one value, k, is a parameter.
_TITLE_KEY = "CASE WHEN detector_id = '' THEN title ELSE '' END"
_DETECTOR_SQL = f"""
WITH g AS (SELECT source_name, detector_id, {_TITLE_KEY} AS tk, count(*) AS n,
                  count(*) FILTER (WHERE classification IN ('{FP}', '{BENIGN}')) AS w
           FROM {ALERTS_TABLE} GROUP BY ALL),
k AS (SELECT *, source_name || chr(31) || detector_id || chr(31) || tk AS k FROM g),
cand AS (SELECT source_name, detector_id, tk FROM (SELECT * FROM k ORDER BY n DESC, k LIMIT $k)
         UNION SELECT source_name, detector_id, tk FROM (SELECT * FROM k WHERE w > 0 ORDER BY w DESC, k LIMIT $k))
SELECT a.source_name, a.detector_id, min(a.title) AS title, count(*) AS alerts,
       count(*) FILTER (WHERE classification = '{TP}') AS true_positives,
       count(*) FILTER (WHERE classification = '{FP}') AS false_positives,
       count(*) FILTER (WHERE classification = '{BENIGN}') AS benign,
       count(*) FILTER (WHERE automated) AS automated,
       (SELECT count(*) FROM g) AS detectors
FROM {ALERTS_TABLE} a JOIN cand ON a.source_name = cand.source_name AND a.detector_id = cand.detector_id
                                 AND (CASE WHEN a.detector_id = '' THEN a.title ELSE '' END) = cand.tk
GROUP BY a.source_name, a.detector_id, cand.tk
ORDER BY alerts DESC, a.source_name, a.detector_id, title
"""  # noqa: S608


def _me() -> tuple[Any, ...]:
    return (sys.modules[__name__], facts, facts_incidents)


def set_params(store: Store, since: datetime, until: datetime, as_of: datetime, sla: SlaTargets) -> None:
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {PARAMS_TABLE} AS SELECT ?::TIMESTAMPTZ AS since, "
                      "?::TIMESTAMPTZ AS until, ?::TIMESTAMPTZ AS as_of", [since, until, as_of])
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {SLA_TABLE} (severity VARCHAR, acknowledge_seconds DOUBLE, "
                      "resolve_seconds DOUBLE)")
    for t in sla.targets:
        store.con.execute(f"INSERT INTO {SLA_TABLE} VALUES (?, ?, ?)",  # noqa: S608 - fixed table name
                          [t.severity, t.acknowledge_seconds, t.resolve_seconds])


def rows(store: Store, name: str) -> list[dict[str, Any]]:
    """One of the named aggregations (``overall``, ``source``, ``severity``, ``repeated``, ``backlog``, ``sla``)."""
    build = {"overall": _overall, "source": _by_source, "severity": _by_severity, "repeated": _repeated,
             "backlog": _backlog, "sla": _sla}[name]
    return run_rows(store, f"process-{name}", build, _me())


def bucket_rows(store: Store, bucket: Bucket) -> list[dict[str, Any]]:
    return run_rows(store, f"process-bucket-{bucket}", _by_bucket(bucket), _me())


def oldest_rows(store: Store, limit: int) -> list[dict[str, Any]]:
    cursor = store.con.execute(compiled_sql(store, "process-oldest", _oldest, _me()))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchmany(limit)]


def detector_rows(store: Store, candidates: int) -> tuple[list[dict[str, Any]], int]:
    """The candidate detectors with their counts, and the number of distinct detectors."""
    cursor = store.con.execute(_DETECTOR_SQL, {"k": candidates})
    columns = [d[0] for d in cursor.description]
    found = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    total = found[0].pop("detectors") if found else 0
    for row in found[1:]:
        del row["detectors"]
    return found, int(total)


def drop(store: Store) -> None:
    for name in (PARAMS_TABLE, SLA_TABLE):
        store.con.execute(f"DROP TABLE IF EXISTS {name}")


__all__ = ["PARAMS_TABLE", "SLA_TABLE", "WASTED", "bucket_rows", "detector_rows", "drop",
           "oldest_rows", "rows", "set_params"]
