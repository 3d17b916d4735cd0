"""The program analyses' shared period tables: incident types as the review's, open alerts, reuse."""

from __future__ import annotations

from datetime import timedelta

from afteraction.analyze.program.facts import ALERTS_TABLE, INCIDENTS_TABLE, TYPES_TABLE, materialise
from afteraction.analyze.program.period import resolve_period
from afteraction.analyze.program.skills import HANDLED_TABLE, skills
from afteraction.analyze.review.peers import incident_facts
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store

from .program_data import generated


def test_incident_types_and_times_equal_the_reviews(kb: KnowledgeBase) -> None:
    path, _ = generated(kb, 1)
    with Store(path, read_only=True) as store:
        materialise(store, resolve_period(store, None, None, "week"))
        facts = {(f.source, f.id): f for f in incident_facts(store)}
        types = {(s, i): t for s, i, t in store.con.execute(
            f"SELECT source, incident_id, incident_type FROM {TYPES_TABLE}").fetchall()}
        rows = store.con.execute(f"SELECT source, incident_id, acknowledged, resolved, first_alert "
                                 f"FROM {INCIDENTS_TABLE}").fetchall()
    assert len(types) == len(facts) == 1500
    assert {k: f.incident_type for k, f in facts.items()} == types
    assert len(set(types.values())) >= 5
    for source, iid, ack, resolved, first_alert in rows:
        f = facts[(source, iid)]
        assert (ack, resolved, first_alert) == (f.acknowledged, f.resolved, f.first_alert)


def test_open_alerts_have_no_resolve_time_and_are_not_judged(kb: KnowledgeBase) -> None:
    path, _ = generated(kb, 1)
    with Store(path, read_only=True) as store:
        period = resolve_period(store, None, None, "week")
        skills(store, kb, period)
        open_human = store.con.execute(
            f"SELECT count(*) FROM {ALERTS_TABLE} WHERE NOT automated AND resolved IS NULL").fetchone()[0]
        no_time, judged_open = store.con.execute(
            f"SELECT count(*) FILTER (WHERE res_s IS NULL), count(*) FILTER (WHERE res_s IS NULL AND judged) "
            f"FROM {HANDLED_TABLE}").fetchone()
    assert open_human > 0
    assert no_time == open_human
    assert judged_open == 0


def test_tables_are_reused_for_the_same_period_and_rebuilt_for_another(kb: KnowledgeBase) -> None:
    path, _ = generated(kb, 1)
    with Store(path, read_only=True) as store:
        period = resolve_period(store, None, None, "week")
        materialise(store, period)
        whole = store.con.execute(f"SELECT count(*) FROM {ALERTS_TABLE}").fetchone()[0]
        store.con.execute(f"DELETE FROM {ALERTS_TABLE} WHERE ak IN (SELECT ak FROM {ALERTS_TABLE} LIMIT 1)")
        materialise(store, period)  # same period, unchanged store: kept as it is (the marker row is unchanged)
        assert store.con.execute(f"SELECT count(*) FROM {ALERTS_TABLE}").fetchone()[0] == whole - 1
        later = resolve_period(store, period.since + timedelta(days=60), period.until, "week")
        materialise(store, later)
        part = store.con.execute(f"SELECT count(*) FROM {ALERTS_TABLE}").fetchone()[0]
    assert 0 < part < whole
