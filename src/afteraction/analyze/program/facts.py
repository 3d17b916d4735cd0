"""Per-alert and per-incident facts of a period, materialised once per analysis run as temporary tables.

``aa_program_alerts`` has one row per alert created in the period: its times (created, acknowledged,
resolved), severity, status, classification and determination, detector identity and title, owner,
automation, comment-derived signals, its day, week and month, whether it is in an incident, and 64-bit
hashes of its alert and incident keys (``ak``, ``ik``, :func:`key_hash`), which every join and distinct
count of the analyses uses instead of the string keys. ``aa_program_techniques`` has one row per
(technique, alert) of those alerts (``technique_id``, ``ak``, and the alert's ``ik`` and ``created``).
``aa_program_incidents`` has one row per incident whose first alert came before the end of the period
(backlog needs the old ones too): its key and ``ik``, times (first activity, first alert, acknowledged,
resolved), severity, status, classification, and a bitmask (``signals``) of the signals the incident-type
classifier weighs; ``aa_program_incident_types`` gives each its type, classified once per distinct
combination of flags (both built in :mod:`~afteraction.analyze.program.facts_incidents`). Trends, skills
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
_OWN_SEP = chr(30)


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
    # an alert without an incident is its own incident for counting, with a key of another form than any
    # incident's (another separator), so no incident id can share it
    own = a.source.concat(_OWN_SEP, a.id).hash()
    a = a.mutate(ak=key_hash(a.source, a.id), in_incident=a.incident_id.notnull())
    a = a.mutate(ik=ibis.ifelse(a.in_incident, key_hash(a.source, a.incident_id), own))
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
    """The Ibis expression of :data:`TECHNIQUES_TABLE`: distinct (technique_id, ak) of the period's alerts, with
    the alert's ``ik`` and ``created`` (so that counting techniques per incident or bucket needs no join)."""
    t = _counted(con)
    t = t.select("technique_id", ak=key_hash(t.source, t.alert_id))
    return t.join(con.table(ALERTS_TABLE).select("ak", "ik", "created"), "ak").distinct()


_FINGERPRINT = "SELECT count(*), max(last_updated), max(ingest_file_id) FROM alerts"


def first_seen(con: Any) -> Any:
    """Techniques whose first alert in the whole store falls in the period, with that time (``first_seen``).

    Those are the period's techniques that no alert before the period has: their first time is their first
    in the period. Only the alerts before the period are read from the store (none when the period starts
    with the store).
    """
    tech = con.table(TECHNIQUES_TABLE)
    first = tech.group_by("technique_id").aggregate(first_seen=tech.created.min())
    earlier = con.table("alerts").cross_join(con.table(PERIOD_TABLE))
    earlier = earlier.filter(earlier.created < earlier.since)
    t = _counted(con)
    before = t.semi_join(earlier, [t.source == earlier.source, t.alert_id == earlier.id]).select("technique_id")
    return first.anti_join(before, "technique_id").order_by(["first_seen", "technique_id"])


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
    from afteraction.analyze.program import facts_incidents
    from afteraction.analyze.review import incident_type

    sources = (*me, facts_incidents, incident_type)
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE {INCIDENTS_TABLE} AS "
                      f"{compiled_sql(store, 'program-incidents', facts_incidents.period_incidents, sources)}")
    facts_incidents.incident_types(store)
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
    "key_hash",
    "materialise",
    "period_alerts",
    "period_comments",
    "period_techniques",
    "utc_truncate",
]
