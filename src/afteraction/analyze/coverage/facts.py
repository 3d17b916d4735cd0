"""What the store says per technique: alerts fired in a period, detectors ever seen, analysts' annotations.

The aggregations are Ibis expressions (compiled once per code version, see ``analyze.queries``); the
period is a one-row temporary table, so the compiled SQL does not depend on the dates asked for.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import ibis
import msgspec

from afteraction.analyze.queries import compiled_sql, run_rows
from afteraction.store.db import Store

PERIOD_TABLE = "aa_coverage_period"
TAGGED_TABLE = "aa_coverage_tagged"  # the period's (technique, alert) rows, materialised once per analysis
_FAR_PAST = datetime.fromisoformat("1900-01-01T00:00:00+00:00")
_FAR_FUTURE = datetime.fromisoformat("2999-01-01T00:00:00+00:00")


#: Incident ids and detectors kept per technique: counts are exact, the lists are samples.
SAMPLE = 50
TOP_DETECTORS = 10


class TechniqueAlerts(msgspec.Struct, frozen=True, kw_only=True):
    """Alerts mapped to one technique within the period."""

    technique: str
    alerts: int
    incident_count: int
    incidents: tuple[str, ...]  # the incident ids, sorted, when there are at most SAMPLE of them
    true_positives: int
    false_positives: int
    benign: int
    by_source: dict[str, int]
    by_detector: dict[str, int]  # "source / detector id / title" -> alerts, the TOP_DETECTORS busiest
    detectors: int  # distinct detectors in the period


def _period(con: Any) -> Any:
    return con.table(PERIOD_TABLE)


def _tagged_alerts(con: Any) -> Any:
    """One row per (technique, alert) in the period: a narrow de-duplication before the wide join."""
    alerts = con.table("alerts")
    tech = con.table("alert_techniques")
    pairs = tech.filter(
        tech.technique_id.notnull() & tech.status.isin(["active", "revoked", "unknown", "deprecated"])
    ).select("source", "alert_id", "technique_id").distinct()
    period = _period(con)
    joined = pairs.join(alerts, [pairs.source == alerts.source, pairs.alert_id == alerts.id]).cross_join(period)
    return joined.filter((joined.created >= joined.since) & (joined.created < joined.until)).select(
        technique=joined.technique_id, alert_id=joined.alert_id, incident_id=joined.incident_id,
        classification=joined.classification,
        source_name=joined.detection_source.fill_null(joined.service_source).fill_null("unknown"),
        detector=joined.detector_id.fill_null(""), title=joined.title.fill_null(""),
    )


def _per_technique(con: Any) -> Any:
    t = con.table(TAGGED_TABLE)
    return t.group_by("technique").aggregate(
        alerts=t.count(),
        incident_count=t.incident_id.nunique(),
        true_positives=(t.classification == "truePositive").sum(),
        false_positives=(t.classification == "falsePositive").sum(),
        benign=(t.classification == "informationalExpectedActivity").sum(),
    ).order_by("technique")


def _incident_sample(con: Any) -> Any:
    """Incident ids of the techniques seen in at most SAMPLE incidents (larger ones give only a count)."""
    tagged = con.table(TAGGED_TABLE)
    small = tagged.group_by("technique").aggregate(k=tagged.incident_id.nunique())
    small = small.filter(small.k <= SAMPLE).select("technique")
    return tagged.semi_join(small, "technique").select("technique", "incident_id").distinct().order_by(
        ["technique", "incident_id"])


def _per_source(con: Any) -> Any:
    t = con.table(TAGGED_TABLE)
    return t.group_by(["technique", "source_name"]).aggregate(alerts=t.count()).order_by(
        ["technique", "source_name"])


# The busiest detectors per technique. A store can hold millions of distinct detector ids (one per
# alert in the ingest benchmark), and grouping by all of them dominated the analysis, so DuckDB's
# sketches pick the candidates (``approx_top_k``, and ``approx_count_distinct`` for the number of
# detectors) and the candidates' alerts are then counted exactly. DuckDB-specific SQL: Ibis has no
# per-group top-k; on another engine the exact Ibis form below gives the same rows.
_DETECTOR_SQL = f"""
WITH t AS (SELECT technique, source_name || chr(31) || detector AS k, title FROM {TAGGED_TABLE}),
top AS (SELECT technique, unnest(approx_top_k(k, {TOP_DETECTORS})) AS k, approx_count_distinct(k) AS detectors
        FROM t GROUP BY technique)
SELECT t.technique, t.k, count(*) AS alerts, min(t.title) AS title, any_value(top.detectors) AS detectors
FROM t JOIN top ON t.technique = top.technique AND t.k = top.k
GROUP BY t.technique, t.k ORDER BY t.technique, alerts DESC, t.k
"""


def _per_detector(con: Any) -> Any:
    """The exact (engine-neutral) form of :data:`_DETECTOR_SQL`."""
    t = con.table(TAGGED_TABLE)
    counted = t.group_by(["technique", "source_name", "detector"]).aggregate(alerts=t.count(), title=t.title.min())
    ranked = counted.mutate(
        n=ibis.row_number().over(group_by="technique", order_by=[ibis.desc("alerts"), "source_name", "detector"]),
        detectors=counted.count().over(group_by="technique"))
    return ranked.filter(ranked.n < TOP_DETECTORS).drop("n").order_by(
        ["technique", ibis.desc("alerts"), "source_name", "detector"])


def _detectors_ever(con: Any) -> Any:
    """Technique -> number of distinct detectors that ever raised an alert for it (any period)."""
    alerts = con.table("alerts")
    tech = con.table("alert_techniques")
    joined = tech.join(alerts, [tech.source == alerts.source, tech.alert_id == alerts.id])
    # The same detector identity as the period's breakdown: detection (else service) source and detector id.
    source_name = joined.detection_source.fill_null(joined.service_source).fill_null("unknown")
    key = source_name.concat("/", joined.detector_id.fill_null(""))
    return joined.filter(joined.technique_id.notnull()).group_by(technique=joined.technique_id).aggregate(
        detectors=key.nunique()).order_by("technique")


def technique_alerts(store: Store, since: datetime | None, until: datetime | None) -> list[TechniqueAlerts]:
    """Per technique: the alerts of ``[since, until)`` (by alert creation time), by source and detector."""
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {PERIOD_TABLE} AS "
                      "SELECT ?::TIMESTAMPTZ AS since, ?::TIMESTAMPTZ AS until",
                      [since or _FAR_PAST, until or _FAR_FUTURE])
    me = (sys.modules[__name__],)
    tagged = compiled_sql(store, "coverage-tagged", _tagged_alerts, me)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TAGGED_TABLE} AS {tagged}")
    base = run_rows(store, "coverage-techniques", _per_technique, me)
    incidents: dict[str, list[str]] = {}
    for r in run_rows(store, "coverage-incidents", _incident_sample, me):
        incidents.setdefault(r["technique"], []).append(r["incident_id"])
    sources: dict[str, dict[str, int]] = {}
    for r in run_rows(store, "coverage-sources", _per_source, me):
        sources.setdefault(r["technique"], {})[r["source_name"]] = r["alerts"]
    detectors: dict[str, dict[str, int]] = {}
    distinct: dict[str, int] = {}
    cursor = store.con.execute(_DETECTOR_SQL)
    for technique, key, alerts, title, count in cursor.fetchall():
        source_name, _, detector = key.partition(chr(31))
        label = " / ".join(x for x in (source_name, detector, title) if x)
        detectors.setdefault(technique, {})[label] = alerts
        distinct[technique] = count
    store.con.execute(f"DROP TABLE IF EXISTS {TAGGED_TABLE}")
    return [TechniqueAlerts(
        technique=r["technique"], alerts=r["alerts"], incident_count=r["incident_count"],
        incidents=tuple(incidents.get(r["technique"], ())),
        true_positives=int(r["true_positives"] or 0), false_positives=int(r["false_positives"] or 0),
        benign=int(r["benign"] or 0), by_source=sources.get(r["technique"], {}),
        by_detector=detectors.get(r["technique"], {}), detectors=distinct.get(r["technique"], 0),
    ) for r in base]


def detectors_ever(store: Store) -> dict[str, int]:
    """Technique -> distinct detectors that ever fired for it (evidence that some rule exists)."""
    rows = run_rows(store, "coverage-detectors-ever", _detectors_ever, (sys.modules[__name__],))
    return {r["technique"]: r["detectors"] for r in rows}


def undetected_annotations(store: Store, since: datetime | None, until: datetime | None
                           ) -> dict[str, tuple[str, ...]]:
    """Technique -> incidents where analysts recorded it as undetected (incidents created in the period)."""
    exists = store.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'annotations'").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = store.con.execute(
        "SELECT a.technique_id, a.incident_id FROM annotations a JOIN incidents i "
        "ON i.source = a.source AND i.id = a.incident_id WHERE a.kind = 'undetected' "
        "AND coalesce(i.created, i.first_activity, a.created) >= ? AND coalesce(i.created, i.first_activity, "
        "a.created) < ? ORDER BY 1, 2", [since or _FAR_PAST, until or _FAR_FUTURE]).fetchall()
    out: dict[str, list[str]] = {}
    for technique, incident in rows:
        out.setdefault(technique, []).append(incident)
    return {k: tuple(v) for k, v in out.items()}


__all__ = ["TechniqueAlerts", "detectors_ever", "technique_alerts", "undetected_annotations"]
