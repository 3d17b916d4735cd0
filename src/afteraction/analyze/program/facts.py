"""Per-alert and per-incident facts of a period, materialised once per analysis run as temporary tables.

``aa_program_alerts`` has one row per alert created in the period: its incident, times (created,
acknowledged, resolved), severity, status, classification and determination, detector identity, owner,
automation, comment-derived signals, its day, week and month, and 64-bit hashes of its alert and incident
keys (``ak``, ``ik``) for fast joins and distinct counts. ``aa_program_techniques`` has one row per
(alert, technique) of those alerts, with the alert's ``ak``. ``aa_program_incidents`` has one row per
incident whose first alert came before the end of the period (backlog needs the old ones too): its times
(first activity, first alert, acknowledged, resolved), severity, status, classification, and a bitmask
(``signals``) of the signals the incident-type classifier weighs; ``aa_program_incident_types`` gives
each its type, classified once per distinct combination of flags (:func:`incident_types`). Trends, skills
and process read these tables, so the store's wide tables are scanned about once per period.
``aa_program_first_seen`` holds the techniques first seen (in the whole store) in the period, for trends
and skills. The expressions are Ibis (compiled once per code version, ``analyze.queries``); the period is
a one-row table, so the compiled SQL does not depend on the dates.

Signals Graph does not record as fields are read from comments, case-insensitively, on the alert or its
incident: ``reclassified`` when one says the classification changed (``classification changed``,
``reclassif…``), ``reopened`` when one says the alert or incident was reopened (``reopen…``),
``false_positive_mentioned`` when one names a false-positive verdict (``false positive``, ``falsePositive``).
Acknowledgement is the first comment on the alert or its incident (Graph records no assignment or
status-change times), the same rule as the review's.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt

from afteraction.analyze.queries import compiled_sql

if TYPE_CHECKING:
    from afteraction.analyze.program.period import Period
    from afteraction.store.db import Store

PERIOD_TABLE = "aa_program_period"
ALERTS_TABLE = "aa_program_alerts"
TECHNIQUES_TABLE = "aa_program_techniques"
INCIDENTS_TABLE = "aa_program_incidents"
TYPES_TABLE = "aa_program_incident_types"
COMMENTS_TABLE = "aa_program_comments"
FIRST_SEEN_TABLE = "aa_program_first_seen"
#: lower-cased phrases that mark a comment as saying the classification changed, or the record was reopened
RECLASSIFIED = ("classification changed", "reclassif")
REOPENED = ("reopen",)
FALSE_POSITIVE = ("falsepositive", "false positive", "false-positive")
AUTOMATION_STATES = ("successfullyRemediated", "partiallyRemediated")
#: technique statuses that count (``invalid`` ids are not techniques)
COUNTED_STATUSES = ("active", "revoked", "unknown", "deprecated")
_SEP = chr(31)


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(t: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body, valid-type]
    """DuckDB's microseconds since the epoch (the stored instant, no calendar)."""


def epoch_seconds(t: Any) -> Any:
    """Seconds since the epoch as a double: the value Ibis's ``t.epoch_seconds()`` gives on DuckDB
    (``EPOCH(CAST(t AS TIMESTAMP))`` in the store's UTC session, checked equal on every stored time), without
    the cast through the ICU calendar, which costs about 0.2 s per million rows."""
    return _epoch_us(t) / 1_000_000


def period_comments(con: Any) -> Any:
    """The Ibis expression of :data:`COMMENTS_TABLE`: per commented alert or incident, the first comment and
    whether any says the classification changed or the record was reopened (one pass over the comments)."""
    c = con.table("comments")
    text = c.text.fill_null("").lower()

    def mentions(phrases: tuple[str, ...]) -> Any:
        hit = text.contains(phrases[0])
        for phrase in phrases[1:]:
            hit = hit | text.contains(phrase)
        return hit.any()
    return c.group_by(["source", "parent_kind", "parent_id"]).aggregate(
        first=c.created.min(), reclassified=mentions(RECLASSIFIED), reopened=mentions(REOPENED),
        false_positive=mentions(FALSE_POSITIVE))


def _comment_signals(con: Any, kind: str, key: str) -> Any:
    c = con.table(COMMENTS_TABLE)
    c = c.filter(c.parent_kind == kind)
    return c.select("source", c.parent_id.name(key), **{f"{kind}_ack": c.first, f"{kind}_reclassified":
                                                        c.reclassified, f"{kind}_reopened": c.reopened,
                                                        f"{kind}_fp": c.false_positive})


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
    # Truncating a TIMESTAMPTZ goes through the ICU calendar, slow row by row: the buckets are computed once per
    # hour of alerts (every bucket boundary is on the hour, UTC) and joined back. An hour whose first and last
    # alert fall in different buckets (which cannot happen) is truncated row by row.
    hour = _epoch_us(a.created) // 3_600_000_000
    a = a.mutate(hour=hour)
    hours = a.group_by("hour").aggregate(lo=a.created.min(), hi=a.created.max())
    calendar = {}
    for name, unit in (("day", "D"), ("week", "W"), ("month", "M")):
        calendar[f"{name}_lo"] = hours.lo.truncate(unit)
        calendar[f"{name}_hi"] = hours.hi.truncate(unit)
    hours = hours.select("hour", **calendar)
    a = a.left_join(hours, a.hour == hours.hour).drop("hour_right")

    def bucket(name: str, unit: str) -> Any:
        lo = a[f"{name}_lo"]
        return ibis.ifelse(lo == a[f"{name}_hi"], lo, a.created.truncate(unit))

    source_name = a.detection_source.fill_null(a.service_source).fill_null("unknown")
    ack = ibis.least(a.alert_ack, a.incident_ack).fill_null(a.alert_ack).fill_null(a.incident_ack)
    return a.select(
        source=a.source, alert_id=a.id, incident_id=a.incident_id, title=a.title.fill_null(""),
        created=a.created, resolved=a.resolved, acknowledged=ack,
        severity=a.severity.fill_null("unknown"), status=a.status.fill_null("unknown"),
        classification=a.classification, determination=a.determination,
        source_name=source_name, detector_id=a.detector_id.fill_null(""), assigned_to=a.assigned_to,
        automated=a.investigation_state.isin(list(AUTOMATION_STATES)).fill_null(False)
        | (a.assigned_to.lower() == "automation").fill_null(False),
        reclassified=a.alert_reclassified.fill_null(False) | a.incident_reclassified.fill_null(False),
        reopened=a.alert_reopened.fill_null(False) | a.incident_reopened.fill_null(False),
        # a comment names a false-positive verdict (with ``reclassified``: a false positive later reclassified)
        false_positive_mentioned=a.alert_fp.fill_null(False) | a.incident_fp.fill_null(False),
        day=bucket("day", "D"), week=bucket("week", "W"), month=bucket("month", "M"),
        # 64-bit hashes of the alert and incident keys: joins and distinct counts over integers are several
        # times faster than over strings; a collision among a million keys has a probability of about 1e-8
        ak=a.source.concat(_SEP, a.id).hash(),
        ik=a.source.concat(_SEP, a.incident_id.fill_null(ibis.literal("#").concat(a.id))).hash(),
    )


def counted_techniques(con: Any) -> Any:
    """Distinct (source, alert_id, technique_id) of the store that count as techniques (not invalid ids)."""
    tech = con.table("alert_techniques")
    t = tech.filter(tech.technique_id.notnull() & tech.status.isin(list(COUNTED_STATUSES)))
    return t.select("source", "alert_id", "technique_id").distinct()


def period_techniques(con: Any) -> Any:
    """The Ibis expression of :data:`TECHNIQUES_TABLE` (reads :data:`ALERTS_TABLE`)."""
    alerts = con.table(ALERTS_TABLE)
    t = counted_techniques(con)
    return t.join(alerts.select("source", "alert_id", "ak"), ["source", "alert_id"]).select(
        "source", "alert_id", "technique_id", "ak")


_FINGERPRINT = "SELECT count(*), max(last_updated), max(ingest_file_id) FROM alerts"


def first_seen(con: Any) -> Any:
    """Techniques whose first alert in the whole store falls in the period, with that time (``first_seen``)."""
    alerts = con.table("alerts")
    tech = con.table("alert_techniques")
    # as counted_techniques, without its DISTINCT (the earliest time is the same with duplicates)
    t = tech.filter(tech.technique_id.notnull() & tech.status.isin(list(COUNTED_STATUSES)))
    j = t.join(alerts, [t.source == alerts.source, t.alert_id == alerts.id])
    first = j.group_by("technique_id").aggregate(first_seen=j.created.min()).cross_join(con.table(PERIOD_TABLE))
    return first.filter((first.first_seen >= first.since) & (first.first_seen < first.until)).select(
        "technique_id", "first_seen").order_by(["first_seen", "technique_id"])


def _flag(prefix: str, value: str) -> str:
    return f"{prefix}__{''.join(ch if ch.isalnum() else '_' for ch in value)}"


def _type_signals() -> dict[str, tuple[str, str]]:
    """Column name -> (feature, value) for every signal the incident-type classifier weighs."""
    from afteraction.analyze.review import incident_type as it

    out = {_flag("det", k): ("determinations", k) for k in it._DETERMINATIONS}
    out |= {_flag("cat", k): ("categories", k) for k, v in it._CATEGORIES.items() if v}
    out |= {_flag("src", k): ("sources", k) for k in it._SOURCES}
    out |= {_flag("ev", k): ("evidence_types", k) for k in it._EVIDENCE}
    out |= {_flag("tech", k): ("techniques", k) for k in it._TECHNIQUES}
    out["ransom_named"] = ("threat_names", "ransomware")
    return out


def _mask(flags: dict[str, Any], bits: dict[str, int]) -> Any:
    """One BIGINT per row with bit ``bits[name]`` set where ``flags[name]`` holds (NULL counts as not)."""
    terms = [ibis.ifelse(cond, ibis.literal(1 << bits[name], type="int64"), ibis.literal(0, type="int64"))
             for name, cond in flags.items()]
    mask = terms[0]
    for term in terms[1:]:
        mask = mask + term
    return mask


def period_incidents(con: Any) -> Any:
    """The Ibis expression of :data:`INCIDENTS_TABLE`: times, and the incident-type signals as one mask.

    Each alert's, technique's and evidence's signals are packed into one 64-bit mask per row and OR-ed per
    incident (``bit_or``): one aggregate instead of one ``bool_or`` per signal. Bit ``i`` of ``signals`` is
    the ``i``-th signal of :func:`_type_signals`.
    """
    signals = _type_signals()
    if len(signals) > 63:
        raise AssertionError("the incident-type signals no longer fit in one 64-bit mask")  # pragma: no cover
    bits = {name: i for i, name in enumerate(signals)}
    incidents = con.table("incidents")
    alerts = con.table("alerts")
    period = con.table(PERIOD_TABLE)
    keys = alerts.select("source", "incident_id", alert_id="id")
    tech_keys = sorted(v for f, v in signals.values() if f == "techniques")
    tech = con.table("alert_techniques")
    tech = tech.filter(tech.technique_id.isin(tech_keys))
    ev_keys = sorted(v for f, v in signals.values() if f == "evidence_types")
    evidence = con.table("evidence")
    ev = evidence.filter(evidence.type.isin(ev_keys))
    comments = con.table(COMMENTS_TABLE)
    alert_comments = comments.filter(comments.parent_kind == "alert")
    incident_comments = comments.filter(comments.parent_kind == "incident")
    # The category signals are string tests: made once per distinct (category, categories) pair and joined
    # back, instead of a dozen substring searches on each of a million alerts.
    alerts = alerts.mutate(
        cat1=alerts.category.fill_null("").lower().replace(" ", ""),
        cats=ibis.literal(",").concat(alerts.categories.join(","), ",").lower().replace(" ", "").fill_null(",,"))
    pairs = alerts.select("cat1", "cats").distinct()
    pairs = pairs.mutate(cat_mask=_mask({name: (pairs.cat1 == value) | pairs.cats.contains(f",{value},")
                                         for name, (feature, value) in signals.items() if feature == "categories"},
                                        bits))
    alerts = alerts.left_join(pairs, [alerts.cat1 == pairs.cat1, alerts.cats == pairs.cats]).drop(
        "cat1_right", "cats_right")
    threat = alerts.threat_family_name.fill_null("").concat(" ", alerts.threat_display_name.fill_null(""))
    alert_flags = {"ransom_named": threat.lower().contains("ransom")}
    for name, (feature, value) in signals.items():
        if feature == "determinations":
            alert_flags[name] = alerts.determination == value
        elif feature == "sources":
            alert_flags[name] = (alerts.detection_source == value) | (alerts.service_source == value)
    tech_flags = {name: tech.technique_id == value for name, (f, value) in signals.items() if f == "techniques"}
    ev_flags = {name: ev.type == value for name, (f, value) in signals.items() if f == "evidence_types"}
    # the alerts' techniques, evidence and comments reach their incident through one join with the alert keys
    no_time = ibis.null().cast(alert_comments.first.type())
    sides = (
        (tech, tech.alert_id, _mask(tech_flags, bits), no_time),
        (ev, ev.alert_id, _mask(ev_flags, bits), no_time),
        (alert_comments, alert_comments.parent_id, ibis.literal(0, type="int64"), alert_comments.first),
    )
    per_alert = ibis.union(*(t.select(source=t.source.cast(dt.string), alert_id=alert_id.cast(dt.string),
                                      mask=mask, first=first) for t, alert_id, mask, first in sides))
    per_alert = per_alert.join(keys, ["source", "alert_id"])
    parts = [
        alerts.group_by(["source", "incident_id"]).aggregate(
            n_alerts=alerts.count(), first_alert=alerts.created.min(),
            alert_mask=(_mask(alert_flags, bits) | alerts.cat_mask.fill_null(0)).bit_or()),
        per_alert.group_by(["source", "incident_id"]).aggregate(
            side_mask=per_alert.mask.bit_or(), alert_ack=per_alert.first.min()),
        incident_comments.select("source", incident_id=incident_comments.parent_id,
                                 incident_ack=incident_comments.first),
    ]
    out = incidents.filter(~incidents.is_stub.fill_null(False))
    for part in parts:
        out = out.left_join(part, [out.source == part.source, out.id == part.incident_id]).drop(
            "source_right", "incident_id")
    out = out.cross_join(period)
    first_alert = out.first_alert.fill_null(out.created)
    out = out.filter(first_alert < out.until)
    ack = ibis.least(out.alert_ack, out.incident_ack).fill_null(out.alert_ack).fill_null(out.incident_ack)
    zero = ibis.literal(0, type="int64")
    mask = out.alert_mask.fill_null(zero) | out.side_mask.fill_null(zero)
    # the incident's own determination counts like its alerts'
    own = {name: out.determination == value for name, (feature, value) in signals.items()
           if feature == "determinations"}
    out = out.mutate(signals=mask | _mask(own, bits))
    return out.select(
        source=out.source, incident_id=out.id, title=out.title.fill_null(""),
        severity=out.severity.fill_null("unknown"), status=out.status.fill_null("unknown"),
        classification=out.classification, determination=out.determination, assigned_to=out.assigned_to,
        created=out.created, first_activity=out.first_activity, first_alert=first_alert, acknowledged=ack,
        resolved=out.resolved, alerts=out.n_alerts.fill_null(0), signals=out.signals,
    )


def incident_types(store: Store) -> dict[tuple[str, ...], str]:
    """Create ``aa_program_incident_types`` (source, incident_id, incident_type) for :data:`INCIDENTS_TABLE`.

    The review's classifier (:func:`~afteraction.analyze.review.incident_type.infer_type`) runs once per
    distinct combination of the signals it weighs, in Python; the engine joins the answer back to every
    incident. Returns the combinations' types (for tests).
    """
    import pyarrow as pa

    from afteraction.analyze.review.incident_type import TypeFeatures, infer_type

    signals = _type_signals()
    names = list(signals)
    kinds: dict[tuple[str, ...], str] = {}
    rows = []
    for (mask,) in store.con.execute(f"SELECT DISTINCT signals FROM {INCIDENTS_TABLE}").fetchall():  # noqa: S608
        on = [name for i, name in enumerate(names) if mask >> i & 1]
        features: dict[str, list[str]] = {}
        for name in on:
            feature, value = signals[name]
            features.setdefault(feature, []).append(value)
        kind = infer_type(TypeFeatures(**{k: tuple(v) for k, v in features.items()})).type
        kinds[tuple(sorted(on))] = kind
        rows.append((mask, kind))
    # the flags are the bits of ``signals``: one integer join instead of one per flag
    mapping = pa.table({"signals": pa.array([r[0] for r in rows], pa.int64()),
                        "incident_type": pa.array([r[1] for r in rows], pa.string())})
    store.con.register("aa_program_type_map", mapping)
    try:
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPES_TABLE} AS SELECT i.source, i.incident_id, "  # noqa: S608
                          f"m.incident_type FROM {INCIDENTS_TABLE} i JOIN aa_program_type_map m USING (signals)")
    finally:
        store.con.unregister("aa_program_type_map")
    return kinds


def materialise(store: Store, period: Period) -> None:
    """Create the period's temporary tables on the store's connection.

    Running trends, skills and process one after the other on one connection reads the store once: the
    tables are kept when they were built for the same period and the alerts have not changed since
    (count, last update and ingest file of the alerts table).
    """
    stamp = [period.since, period.until, *store.con.execute(_FINGERPRINT).fetchone()]
    try:
        kept = store.con.execute(f"SELECT since, until, n, updated, file FROM {PERIOD_TABLE}").fetchone()  # noqa: S608
    except duckdb.CatalogException:  # no table yet on this connection
        kept = None
    if kept is not None and list(kept) == stamp:
        return
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {PERIOD_TABLE} AS SELECT ?::TIMESTAMPTZ AS since, "
                      "?::TIMESTAMPTZ AS until, ?::BIGINT AS n, ?::TIMESTAMPTZ AS updated, ?::BIGINT AS file",
                      stamp)
    me = (sys.modules[__name__],)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {COMMENTS_TABLE} AS "
                      f"{compiled_sql(store, 'program-comments', period_comments, me)}")
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {ALERTS_TABLE} AS "
                      f"{compiled_sql(store, 'program-alerts', period_alerts, me)}")
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TECHNIQUES_TABLE} AS "
                      f"{compiled_sql(store, 'program-techniques', period_techniques, me)}")
    from afteraction.analyze.review import incident_type

    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {INCIDENTS_TABLE} AS "
                      f"{compiled_sql(store, 'program-incidents', period_incidents, (*me, incident_type))}")
    incident_types(store)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {FIRST_SEEN_TABLE} AS "
                      f"{compiled_sql(store, 'program-first-seen', first_seen, me)}")


def first_seen_rows(store: Store) -> list[dict[str, Any]]:
    """:func:`first_seen` of the materialised period (technique_id, first_seen), by time then id."""
    cursor = store.con.execute(f"SELECT technique_id, first_seen FROM {FIRST_SEEN_TABLE} "  # noqa: S608 - fixed
                               "ORDER BY first_seen, technique_id")
    return [{"technique_id": t, "first_seen": f} for t, f in cursor.fetchall()]


__all__ = [
    "ALERTS_TABLE",
    "AUTOMATION_STATES",
    "COMMENTS_TABLE",
    "COUNTED_STATUSES",
    "FIRST_SEEN_TABLE",
    "INCIDENTS_TABLE",
    "PERIOD_TABLE",
    "RECLASSIFIED",
    "REOPENED",
    "TECHNIQUES_TABLE",
    "TYPES_TABLE",
    "counted_techniques",
    "epoch_seconds",
    "first_seen",
    "first_seen_rows",
    "incident_types",
    "materialise",
    "period_alerts",
    "period_comments",
    "period_incidents",
    "period_techniques",
]
