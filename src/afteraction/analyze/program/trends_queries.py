"""The trend analysis's engine side: Ibis expressions over the period's fact tables (``program.facts``) and the
lookup tables that :mod:`afteraction.analyze.program.trends` registers. Compiled once per code version
(``analyze.queries``); see ``docs/trends.md`` for what each computes.
"""

from __future__ import annotations

from typing import Any

import ibis

from afteraction.analyze.program.facts import (
    ALERTS_TABLE,
    INCIDENTS_TABLE,
    PERIOD_TABLE,
    TECHNIQUES_TABLE,
    epoch_seconds,
    utc_truncate,
)
from afteraction.analyze.program.facts import TYPES_TABLE as TYPES_TABLE
from afteraction.analyze.program.facts import first_seen as first_seen

PARAMS_TABLE = "aa_trends_params"
DIMENSION_TABLE = "aa_trends_dimension_incidents"
TACTICS_TABLE = "aa_trends_tactics"
CLASSIFIED = ("truePositive", "falsePositive", "informationalExpectedActivity")
_UNITS = {"day": "D", "week": "W", "month": "M"}


def _alerts(con: Any) -> Any:
    """The period's alerts, with the key hashes ``ak`` and ``ik`` that ``program.facts`` computed."""
    return con.table(ALERTS_TABLE)


def dimension_incidents(bucket: str) -> Any:
    """The builder of :data:`DIMENSION_TABLE`: alerts per (dimension, value, bucket, incident), the one pass
    over the period's rows from which both breakdowns are counted (distinct incidents by plain group-bys,
    which engines run much faster than DISTINCT aggregates). Dimension ``""`` holds the bucket totals.

    The alert-level dimensions come from one group-by of the alerts by bucket, incident, severity, source and
    determination, re-grouped per dimension; an incident has one type, so its type rows are its total rows.
    Techniques and tactics are counted per alert (``ak``): an alert with two techniques of one tactic is one
    alert of that tactic.
    """
    def build(con: Any) -> Any:
        a = _alerts(con)
        a = a.mutate(b=a[bucket])
        per = a.group_by(["b", "ik", "in_incident", "severity", "source_name",
                          a.determination.fill_null("unknown").name("det")]).aggregate(n=a.count())

        def regroup(name: str, value: Any) -> Any:
            t = per.group_by([value.name("value"), "b", "ik"]).aggregate(n=per.n.sum())
            return t.select(dimension=ibis.literal(name), value=t.value, b=t.b, ik=t.ik, n=t.n)
        total = per.group_by(["b", "ik", "in_incident"]).aggregate(n=per.n.sum())
        types = con.table(TYPES_TABLE)
        typed = total.left_join(types, (total.ik == types.ik) & total.in_incident)
        tech = con.table(TECHNIQUES_TABLE)
        # the same bucket as the alert's column (the same expression), without joining the alerts back
        tagged = tech.mutate(b=utc_truncate(tech.created, _UNITS[bucket]).cast(a.b.type()))
        tactics = con.table(TACTICS_TABLE)
        # tactics by small integer code, so the distinct (tactic, alert) pairs are integer tuples
        tactic = tagged.join(tactics, "technique_id").select("code", "ak", "b", "ik").distinct()
        names = tactics.select("code", "tactic").distinct()

        def counted(t: Any, name: str, value: Any) -> Any:
            g = t.group_by([value.name("value"), "b", "ik"]).aggregate(n=t.count())
            return g.select(dimension=ibis.literal(name), value=g.value, b=g.b, ik=g.ik, n=g.n)
        by_tactic = counted(tactic, "tactic", tactic.code)
        by_tactic = by_tactic.join(names, by_tactic.value == names.code).select(
            "dimension", value=names.tactic, b=by_tactic.b, ik=by_tactic.ik, n=by_tactic.n)
        parts = [
            total.select(dimension=ibis.literal(""), value=ibis.literal(""), b=total.b, ik=total.ik, n=total.n),
            by_tactic,
            counted(tagged, "technique", tagged.technique_id),
            regroup("severity", per.severity),
            regroup("source", per.source_name),
            typed.select(dimension=ibis.literal("incident_type"), value=typed.incident_type.fill_null("unknown"),
                         b=typed.b, ik=typed.ik, n=typed.n),
            regroup("determination", per.det),
        ]
        return ibis.union(*parts)
    return build


def by_bucket(con: Any) -> Any:
    """Alerts and distinct incidents per (dimension, value, bucket)."""
    t = con.table(DIMENSION_TABLE)
    return t.group_by(["dimension", "value", "b"]).aggregate(alerts=t.n.sum(), incidents=t.count()).order_by(
        ["dimension", "value", "b"])


def by_period(con: Any) -> Any:
    """Totals per (dimension, value) over the whole period (distinct incidents are not additive).

    An incident whose alerts all fall in one bucket has one row per (dimension, value) of its alerts, so
    its rows are counted as they are; only the few incidents spanning buckets are grouped per incident
    first (grouping every row per incident costs several seconds on a million alerts).
    """
    t = con.table(DIMENSION_TABLE)
    totals = t.filter(t.dimension == "")
    spans = totals.group_by("ik").aggregate(buckets=totals.count())
    multi = spans.filter(spans.buckets > 1).select("ik")
    t = t.filter(t.dimension != "")
    single = t.anti_join(multi, "ik")
    single = single.group_by(["dimension", "value"]).aggregate(alerts=single.n.sum(), incidents=single.count())
    spread = t.semi_join(multi, "ik")
    per = spread.group_by(["dimension", "value", "ik"]).aggregate(n=spread.n.sum())
    per = per.group_by(["dimension", "value"]).aggregate(alerts=per.n.sum(), incidents=per.count())
    both = ibis.union(single, per)
    return both.group_by(["dimension", "value"]).aggregate(
        alerts=both.alerts.sum(), incidents=both.incidents.sum()).order_by(["dimension", "value"])


def _incident_windows(con: Any) -> Any:
    """Per incident of the period: whether its first alert of the period is in the recent window."""
    a = _alerts(con)
    first = a.group_by("ik").aggregate(first=a.created.min())
    first = first.cross_join(con.table(PARAMS_TABLE))
    return first.select("ik", recent=first.first >= first.recent_since)


def exposure(con: Any) -> Any:
    w = _incident_windows(con)
    return w.aggregate(incidents=w.count(), recent=w.recent.cast("int64").sum())


def technique_windows(con: Any) -> Any:
    """Per technique: its incidents, and how many of them are in the recent window (reads :data:`DIMENSION_TABLE`,
    whose technique rows are the (technique, bucket, incident) of the period's alerts)."""
    d = con.table(DIMENSION_TABLE)
    d = d.filter(d.dimension == "technique")
    pairs = d.select(technique_id=d.value, ik=d.ik).distinct()
    w = _incident_windows(con)
    j = pairs.join(w, "ik")
    return j.group_by("technique_id").aggregate(incidents=j.count(), recent=j.recent.cast("int64").sum()
                                                ).order_by("technique_id")


def incident_times(con: Any) -> Any:
    """Per incident whose first alert is in the period: time to detect, acknowledge and resolve, and its
    classification, as in ``review.peers`` (from the period's incident table)."""
    inc = con.table(INCIDENTS_TABLE).cross_join(con.table(PERIOD_TABLE))
    j = inc.filter(inc.first_alert >= inc.since)

    def secs(start: Any, end: Any) -> Any:
        return (epoch_seconds(end) - epoch_seconds(start)).cast("float64")

    def nonnegative(x: Any) -> Any:  # not GREATEST, which ignores NULL in DuckDB
        return ibis.cases((x < 0, 0.0), else_=x)

    return j.select(
        first_alert=j.first_alert,
        detect=nonnegative(secs(j.first_activity, j.first_alert)),
        acknowledge=nonnegative(secs(j.first_alert, j.acknowledged)),
        resolve=secs(j.first_alert, j.resolved),
        classified=j.classification.isin(list(CLASSIFIED)).fill_null(False),
        true_positive=(j.classification == "truePositive").fill_null(False))


def _response_aggregate(t: Any, keys: list[Any]) -> Any:
    metrics: dict[str, Any] = {"incidents": t.count(), "classified": t.classified.cast("int64").sum(),
                               "true_positives": t.true_positive.cast("int64").sum()}
    for name in ("detect", "acknowledge", "resolve"):
        col = t[name]
        metrics |= {f"{name}_known": col.count(), f"{name}_median": col.median(), f"{name}_p90": col.quantile(0.9)}
    return t.group_by(keys).aggregate(**metrics) if keys else t.aggregate(**metrics)


def response_by_bucket(bucket: str) -> Any:
    unit = _UNITS[bucket]

    def build(con: Any) -> Any:
        t = incident_times(con)
        return _response_aggregate(t.mutate(b=utc_truncate(t.first_alert, unit)), ["b"]).order_by("b")
    return build


def response_overall(con: Any) -> Any:
    return _response_aggregate(incident_times(con), [])


def period_techniques(con: Any) -> Any:
    t = con.table(TECHNIQUES_TABLE)
    return t.select("technique_id").distinct().order_by("technique_id")


__all__ = ["CLASSIFIED", "DIMENSION_TABLE", "PARAMS_TABLE", "TACTICS_TABLE", "TYPES_TABLE", "by_bucket", "by_period",
           "dimension_incidents", "exposure",
           "first_seen", "incident_times", "period_techniques", "response_by_bucket", "response_overall",
           "technique_windows"]
