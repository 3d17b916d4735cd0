"""The period's incident table (``aa_program_incidents``) and incident types (``aa_program_incident_types``).

Part of the period tables of :mod:`afteraction.analyze.program.facts` (which creates them in
:func:`~afteraction.analyze.program.facts.materialise`): one row per incident whose first alert came before
the period's end, with its times and the signals the review's incident-type classifier weighs, packed in one
64-bit mask; the classifier then runs once per distinct mask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt

from afteraction.analyze.program.facts import (
    COMMENTS_TABLE,
    INCIDENTS_TABLE,
    PERIOD_TABLE,
    TYPES_TABLE,
    key_hash,
)

if TYPE_CHECKING:
    from afteraction.store.db import Store


@ibis.udf.scalar.builtin(name="hash")
def _pair_hash(category: dt.string, categories: dt.Array(dt.string)) -> dt.uint64:  # type: ignore[empty-body, valid-type]
    """DuckDB's hash of an alert's (category, categories). Pairs that hash alike must give the same signals:
    a NULL and an empty ``categories`` hash alike, and both give no category signal."""


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
    """Create ``aa_program_incident_types`` (source, incident_id, ik, incident_type) for :data:`INCIDENTS_TABLE`.

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


__all__ = ["incident_types", "period_incidents"]
