"""Per-alert and per-incident facts of a period, materialised once per analysis run as temporary tables.

``aa_program_alerts`` has one row per alert created in the period: its times (created, acknowledged,
resolved), severity, status, classification and determination, detector identity and title, owner,
automation, comment-derived signals, its day, week and month, whether it is in an incident, and 64-bit
hashes of its alert and incident keys (``ak``, ``ik``, :func:`key_hash`), which every join and distinct
count of the analyses uses instead of the string keys. ``aa_program_techniques`` has one row per
(technique, alert) of those alerts (``technique_id``, ``ak``). ``aa_program_incidents`` has one row per
incident whose first alert came before the end of the period (backlog needs the old ones too): its key and
``ik``, times (first activity, first alert, acknowledged, resolved), severity, status, classification, and
a bitmask (``signals``) of the signals the incident-type classifier weighs; ``aa_program_incident_types``
gives each its type, classified once per distinct combination of flags (:func:`incident_types`). Trends,
skills and process read these tables, so the store's wide tables are scanned about once per period.
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


@ibis.udf.scalar.builtin(name="epoch_us")
def _naive_epoch_us(t: dt.Timestamp()) -> dt.int64:  # type: ignore[empty-body, valid-type]
    """Microseconds since the epoch of a timestamp without time zone."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _naive(us: dt.int64) -> dt.Timestamp():  # type: ignore[empty-body, valid-type]
    """The UTC wall-clock timestamp (without time zone) of microseconds since the epoch."""


@ibis.udf.scalar.builtin(name="make_timestamptz")
def _instant(us: dt.int64) -> dt.Timestamp(timezone="UTC"):  # type: ignore[empty-body, valid-type]
    """The instant of microseconds since the epoch."""


@ibis.udf.scalar.builtin(name="hash")
def _pair_hash(category: dt.string, categories: dt.Array(dt.string)) -> dt.uint64:  # type: ignore[empty-body, valid-type]
    """DuckDB's hash of an alert's (category, categories); NULLs hash alike."""


def epoch_seconds(t: Any) -> Any:
    """Seconds since the epoch as a double: the value Ibis's ``t.epoch_seconds()`` gives on DuckDB
    (``EPOCH(CAST(t AS TIMESTAMP))`` in the store's UTC session, checked equal on every stored time), without
    the cast through the ICU calendar, which costs about 0.2 s per million rows."""
    return _epoch_us(t) / 1_000_000


def utc_truncate(t: Any, unit: str) -> Any:
    """``t.truncate(unit)`` in UTC (the store's session time zone) without the ICU calendar: the instant is
    truncated as a UTC wall-clock time, which DuckDB does several times faster than a time-zone-aware one."""
    return _instant(_naive_epoch_us(_naive(_epoch_us(t)).truncate(unit)))


def key_hash(source: Any, key: Any) -> Any:
    """The 64-bit hash of a (source, id) key: joins, group-bys and distinct counts over these integers are
    several times faster than over the strings. A collision among a million keys has a probability of about
    1e-8."""
    return source.concat(_SEP, key).hash()


def period_comments(con: Any) -> Any:
    """The Ibis expression of :data:`COMMENTS_TABLE`: per commented alert or incident (``parent_kind`` and
    ``key``, the :func:`key_hash` of its source and id), the first comment and whether any says the
    classification changed, the record was reopened or a false positive (one pass over the comments)."""
    c = con.table("comments")
    text = c.text.fill_null("").lower()

    def mentions(phrases: tuple[str, ...]) -> Any:
        hit = text.contains(phrases[0])
        for phrase in phrases[1:]:
            hit = hit | text.contains(phrase)
        return hit.any()
    c = c.mutate(key=key_hash(c.source, c.parent_id))
    return c.group_by(["parent_kind", "key"]).aggregate(
        first=c.created.min(), reclassified=mentions(RECLASSIFIED), reopened=mentions(REOPENED),
        false_positive=mentions(FALSE_POSITIVE))


def _comment_signals(con: Any, kind: str, key: str) -> Any:
    c = con.table(COMMENTS_TABLE)
    c = c.filter(c.parent_kind == kind)
    return c.select(c.key.name(key), **{f"{kind}_ack": c.first, f"{kind}_reclassified": c.reclassified,
                                        f"{kind}_reopened": c.reopened, f"{kind}_fp": c.false_positive})


def period_alerts(con: Any) -> Any:
    """The Ibis expression of :data:`ALERTS_TABLE`."""
    alerts = con.table("alerts")
    period = con.table(PERIOD_TABLE)
    a = alerts.cross_join(period)
    a = a.filter((a.created >= a.since) & (a.created < a.until)).drop("since", "until")
    a = a.mutate(ak=key_hash(a.source, a.id),
                 ik=key_hash(a.source, a.incident_id.fill_null(ibis.literal("#").concat(a.id))),
                 in_incident=a.incident_id.notnull())
    by_alert = _comment_signals(con, "alert", "alert_key")
    by_incident = _comment_signals(con, "incident", "incident_key")
    a = a.left_join(by_alert, a.ak == by_alert.alert_key).drop("alert_key")
    # an alert without an incident has no incident comments (its ``ik`` is its own, not an incident's)
    a = a.left_join(by_incident, (a.ik == by_incident.incident_key) & a.in_incident).drop("incident_key")
    source_name = a.detection_source.fill_null(a.service_source).fill_null("unknown")
    ack = ibis.least(a.alert_ack, a.incident_ack).fill_null(a.alert_ack).fill_null(a.incident_ack)
    return a.select(
        title=a.title.fill_null(""), created=a.created, resolved=a.resolved, acknowledged=ack,
        severity=a.severity.fill_null("unknown"), status=a.status.fill_null("unknown"),
        classification=a.classification, determination=a.determination,
        source_name=source_name, detector_id=a.detector_id.fill_null(""), assigned_to=a.assigned_to,
        automated=a.investigation_state.isin(list(AUTOMATION_STATES)).fill_null(False)
        | (a.assigned_to.lower() == "automation").fill_null(False),
        reclassified=a.alert_reclassified.fill_null(False) | a.incident_reclassified.fill_null(False),
        reopened=a.alert_reopened.fill_null(False) | a.incident_reopened.fill_null(False),
        # a comment names a false-positive verdict (with ``reclassified``: a false positive later reclassified)
        false_positive_mentioned=a.alert_fp.fill_null(False) | a.incident_fp.fill_null(False),
        day=utc_truncate(a.created, "D"), week=utc_truncate(a.created, "W"), month=utc_truncate(a.created, "M"),
        ak=a.ak, ik=a.ik, in_incident=a.in_incident,
    )


def _counted(con: Any) -> Any:
    tech = con.table("alert_techniques")
    return tech.filter(tech.technique_id.notnull() & tech.status.isin(list(COUNTED_STATUSES)))


def period_techniques(con: Any) -> Any:
    """The Ibis expression of :data:`TECHNIQUES_TABLE`: distinct (technique_id, ak) of the period's alerts."""
    t = _counted(con)
    t = t.select("technique_id", ak=key_hash(t.source, t.alert_id))
    return t.semi_join(con.table(ALERTS_TABLE), "ak").distinct()


_FINGERPRINT = "SELECT count(*), max(last_updated), max(ingest_file_id) FROM alerts"


def first_seen(con: Any) -> Any:
    """Techniques whose first alert in the whole store falls in the period, with that time (``first_seen``).

    Those are the period's techniques that no alert before the period has: their first time is their first
    in the period. Only the alerts before the period are read from the store (none when the period starts
    with the store).
    """
    alerts = con.table(ALERTS_TABLE).select("ak", "created")
    tech = con.table(TECHNIQUES_TABLE)
    j = tech.join(alerts, "ak")
    first = j.group_by("technique_id").aggregate(first_seen=j.created.min())
    earlier = con.table("alerts").cross_join(con.table(PERIOD_TABLE))
    earlier = earlier.filter(earlier.created < earlier.since)
    t = _counted(con)
    before = t.semi_join(earlier, [t.source == earlier.source, t.alert_id == earlier.id]).select("technique_id")
    return first.anti_join(before, "technique_id").order_by(["first_seen", "technique_id"])


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
    # only alerts in an incident count (the hashed keys join as the strings would, without their cost)
    alerts = alerts.filter(alerts.incident_id.notnull())
    alerts = alerts.mutate(ak=key_hash(alerts.source, alerts.id), ik=key_hash(alerts.source, alerts.incident_id))
    keys = alerts.select("ak", "ik")
    tech_keys = sorted(v for f, v in signals.values() if f == "techniques")
    tech = con.table("alert_techniques")
    tech = tech.filter(tech.technique_id.isin(tech_keys))
    ev_keys = sorted(v for f, v in signals.values() if f == "evidence_types")
    evidence = con.table("evidence")
    ev = evidence.filter(evidence.type.isin(ev_keys))
    comments = con.table(COMMENTS_TABLE)
    alert_comments = comments.filter(comments.parent_kind == "alert")
    incident_comments = comments.filter(comments.parent_kind == "incident")
    # The category signals are string tests: made once per distinct (category, categories) pair, found by
    # hashing the raw pair (no string is built per alert), and joined back by that hash.
    alerts = alerts.mutate(pair=_pair_hash(alerts.category, alerts.categories))
    pairs = alerts.group_by("pair").aggregate(category=alerts.category.arbitrary(),
                                              categories=alerts.categories.arbitrary())
    cat1 = pairs.category.fill_null("").lower().replace(" ", "")
    cats = ibis.literal(",").concat(pairs.categories.join(","), ",").lower().replace(" ", "").fill_null(",,")
    pairs = pairs.select("pair", cat_mask=_mask({name: (cat1 == value) | cats.contains(f",{value},")
                                                 for name, (feature, value) in signals.items()
                                                 if feature == "categories"}, bits))
    alerts = alerts.left_join(pairs, "pair")
    threat = alerts.threat_family_name.fill_null("").concat(" ", alerts.threat_display_name.fill_null(""))
    alert_flags = {"ransom_named": threat.lower().contains("ransom")}
    for name, (feature, value) in signals.items():
        if feature == "determinations":
            alert_flags[name] = alerts.determination == value
        elif feature == "sources":
            alert_flags[name] = (alerts.detection_source == value) | (alerts.service_source == value)
    tech_flags = {name: tech.technique_id == value for name, (f, value) in signals.items() if f == "techniques"}
    ev_flags = {name: ev.type == value for name, (f, value) in signals.items() if f == "evidence_types"}
    # The alerts' techniques, evidence and comments reach their incident through one join with the alert keys;
    # with the alerts' own rows they make one group-by per incident.
    no_time = ibis.null().cast(alert_comments.first.type())
    zero, one = ibis.literal(0, type="int64"), ibis.literal(1, type="int64")
    sides = (
        (tech, key_hash(tech.source, tech.alert_id), _mask(tech_flags, bits), no_time),
        (ev, key_hash(ev.source, ev.alert_id), _mask(ev_flags, bits), no_time),
        (alert_comments, alert_comments.key, zero, alert_comments.first),
    )
    per_alert = ibis.union(*(t.select(ak=ak, mask=mask, first=first) for t, ak, mask, first in sides))
    per_alert = per_alert.join(keys, "ak")
    rows = ibis.union(
        alerts.select("ik", n=one, created=alerts.created,
                      mask=_mask(alert_flags, bits) | alerts.cat_mask.fill_null(zero), first=no_time),
        per_alert.select("ik", n=zero, created=no_time, mask=per_alert.mask, first=per_alert.first))
    parts = [
        rows.group_by("ik").aggregate(n_alerts=rows.n.sum(), first_alert=rows.created.min(),
                                      alert_mask=rows.mask.bit_or(), alert_ack=rows.first.min()),
        incident_comments.select(ik=incident_comments.key, incident_ack=incident_comments.first),
    ]
    out = incidents.filter(~incidents.is_stub.fill_null(False))
    out = out.mutate(ik=key_hash(out.source, out.id))
    for part in parts:
        out = out.left_join(part, "ik")
    out = out.cross_join(period)
    first_alert = out.first_alert.fill_null(out.created)
    out = out.filter(first_alert < out.until)
    ack = ibis.least(out.alert_ack, out.incident_ack).fill_null(out.alert_ack).fill_null(out.incident_ack)
    mask = out.alert_mask.fill_null(zero)
    # the incident's own determination counts like its alerts'
    own = {name: out.determination == value for name, (feature, value) in signals.items()
           if feature == "determinations"}
    out = out.mutate(signals=mask | _mask(own, bits))
    return out.select(
        source=out.source, incident_id=out.id, ik=out.ik, title=out.title.fill_null(""),
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
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPES_TABLE} AS SELECT i.source, i.incident_id, i.ik, "  # noqa: S608
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
