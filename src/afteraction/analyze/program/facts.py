"""Per-alert and per-incident facts of a period, materialised once per analysis run as temporary tables.

``aa_program_alerts`` has one row per alert created in the period: its incident, times (created,
acknowledged, resolved), severity, status, classification and determination, detector identity, owner,
automation, comment-derived signals, its day, week and month, and 64-bit hashes of its alert and incident
keys (``ak``, ``ik``) for fast joins and distinct counts. ``aa_program_techniques`` has one row per
(alert, technique) of those alerts, with the alert's ``ak``. ``aa_program_incidents`` has one row per
incident whose first alert came before the end of the period (backlog needs the old ones too): its times
(first activity, first alert, acknowledged, resolved), severity, status, classification, and one flag per
signal the incident-type classifier weighs; ``aa_program_incident_types`` gives each its type, classified
once per distinct combination of flags (:func:`incident_types`). Trends, skills and process read these
tables, so the store's wide tables are scanned about once per period (process still reads incidents
itself). The expressions are Ibis (compiled once per code version, ``analyze.queries``); the period is a
one-row table, so the compiled SQL does not depend on the dates.

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
#: lower-cased phrases that mark a comment as saying the classification changed, or the record was reopened
RECLASSIFIED = ("classification changed", "reclassif")
REOPENED = ("reopen",)
FALSE_POSITIVE = ("falsepositive", "false positive", "false-positive")
AUTOMATION_STATES = ("successfullyRemediated", "partiallyRemediated")
#: technique statuses that count (``invalid`` ids are not techniques)
COUNTED_STATUSES = ("active", "revoked", "unknown", "deprecated")
_SEP = chr(31)


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
        # a comment names a false-positive verdict (with ``reclassified``: a false positive later reclassified)
        false_positive_mentioned=a.alert_fp.fill_null(False) | a.incident_fp.fill_null(False),
        day=a.created.truncate("D"), week=a.created.truncate("W"), month=a.created.truncate("M"),
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
    t = counted_techniques(con)
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


def period_incidents(con: Any) -> Any:
    """The Ibis expression of :data:`INCIDENTS_TABLE`: times, and one boolean per incident-type signal."""
    signals = _type_signals()
    incidents = con.table("incidents")
    alerts = con.table("alerts")
    period = con.table(PERIOD_TABLE)
    keys = alerts.select("source", "incident_id", alert_id="id")
    tech_keys = sorted(v for f, v in signals.values() if f == "techniques")
    tech = con.table("alert_techniques")
    tech = tech.filter(tech.technique_id.isin(tech_keys)).join(keys, ["source", "alert_id"])
    ev_keys = sorted(v for f, v in signals.values() if f == "evidence_types")
    evidence = con.table("evidence")
    ev = evidence.filter(evidence.type.isin(ev_keys)).select("source", "alert_id", "type").join(
        keys, ["source", "alert_id"])
    comments = con.table(COMMENTS_TABLE)
    alert_comments = comments.filter(comments.parent_kind == "alert").join(
        keys, [comments.source == keys.source, comments.parent_id == keys.alert_id])
    incident_comments = comments.filter(comments.parent_kind == "incident")
    category = alerts.category.fill_null("").lower().replace(" ", "")
    categories = ibis.literal(",").concat(alerts.categories.join(","), ",").lower().replace(" ", "")
    threat = alerts.threat_family_name.fill_null("").concat(" ", alerts.threat_display_name.fill_null(""))
    alert_flags = {"ransom_named": threat.lower().contains("ransom").any()}
    for name, (feature, value) in signals.items():
        if feature == "determinations":
            alert_flags[name] = (alerts.determination == value).any()
        elif feature == "categories":
            alert_flags[name] = ((category == value) | categories.contains(f",{value},").fill_null(False)).any()
        elif feature == "sources":
            alert_flags[name] = ((alerts.detection_source == value) | (alerts.service_source == value)).any()
    parts = [
        alerts.group_by(["source", "incident_id"]).aggregate(
            n_alerts=alerts.count(), first_alert=alerts.created.min(), **alert_flags),
        tech.group_by(["source", "incident_id"]).aggregate(**{
            name: (tech.technique_id == value).any() for name, (f, value) in signals.items() if f == "techniques"}),
        ev.group_by(["source", "incident_id"]).aggregate(**{
            name: (ev.type == value).any() for name, (f, value) in signals.items() if f == "evidence_types"}),
        alert_comments.group_by(["source", "incident_id"]).aggregate(alert_ack=alert_comments.first.min()),
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
    # the incident's own determination counts like its alerts'
    flags = {name: (out[name].fill_null(False) | (out.determination == value).fill_null(False))
             if feature == "determinations" else out[name].fill_null(False)
             for name, (feature, value) in signals.items()}
    return out.select(
        source=out.source, incident_id=out.id, title=out.title.fill_null(""),
        severity=out.severity.fill_null("unknown"), status=out.status.fill_null("unknown"),
        classification=out.classification, determination=out.determination, assigned_to=out.assigned_to,
        created=out.created, first_activity=out.first_activity, first_alert=first_alert, acknowledged=ack,
        resolved=out.resolved, alerts=out.n_alerts.fill_null(0), **flags,
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
    columns = ", ".join(names)
    kinds: dict[tuple[str, ...], str] = {}
    rows = []
    for row in store.con.execute(f"SELECT DISTINCT {columns} FROM {INCIDENTS_TABLE}").fetchall():  # noqa: S608
        features: dict[str, list[str]] = {}
        for name, on in zip(names, row, strict=True):
            if on:
                feature, value = signals[name]
                features.setdefault(feature, []).append(value)
        kind = infer_type(TypeFeatures(**{k: tuple(v) for k, v in features.items()})).type
        kinds[tuple(sorted(n for n, on in zip(names, row, strict=True) if on))] = kind
        rows.append((*row, kind))
    mapping = pa.table({**{n: [r[i] for r in rows] for i, n in enumerate(names)},
                        "incident_type": [r[-1] for r in rows]})
    store.con.register("aa_program_type_map", mapping)
    try:
        on = " AND ".join(f"i.{n} = m.{n}" for n in names)
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPES_TABLE} AS SELECT i.source, i.incident_id, "  # noqa: S608
                          f"m.incident_type FROM {INCIDENTS_TABLE} i JOIN aa_program_type_map m ON {on}")
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


__all__ = [
    "ALERTS_TABLE",
    "AUTOMATION_STATES",
    "COMMENTS_TABLE",
    "COUNTED_STATUSES",
    "INCIDENTS_TABLE",
    "PERIOD_TABLE",
    "RECLASSIFIED",
    "REOPENED",
    "TECHNIQUES_TABLE",
    "TYPES_TABLE",
    "counted_techniques",
    "first_seen",
    "incident_types",
    "materialise",
    "period_alerts",
    "period_comments",
    "period_incidents",
    "period_techniques",
]
