"""Generated exports ingest with zero rejections, and the store agrees with truth.json."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb
import pytest

from afteraction.attack import KnowledgeBase
from afteraction.model import derive_times
from afteraction.store import Store
from afteraction.store.read import load_incident
from afteraction.synth.incident import build
from afteraction.synth.plan import Plan

from .support import Sample, rows


def test_everything_ingests_without_rejections(sample: Sample) -> None:
    s = sample.summary
    assert s.rejected == 0
    assert not s.failed_files
    assert not s.skipped
    assert len(s.files) == len(sample.result.files) == 10
    assert s.counts.incidents["new"] == sample.truth.stats.incidents == 400
    assert s.counts.alerts["new"] == sample.truth.stats.alerts
    assert s.counts.evidence == sample.truth.stats.evidence
    assert not s.unknown_techniques
    assert not s.redirected_techniques


def test_incident_fields_match_truth(sample: Sample) -> None:
    stored = {r["id"]: r for r in rows(sample.db, "SELECT * FROM incidents")}
    assert set(stored) == {i.id for i in sample.truth.incidents}
    for t in sample.truth.incidents:
        r = stored[t.id]
        assert (r["status"], r["severity"], r["classification"], r["determination"], r["assigned_to"]) == (
            t.status, t.severity, t.classification, t.determination, t.owner), t.id
        assert r["resolved"] == t.resolved, t.id
        assert r["first_activity"] >= t.first_activity
        assert r["created"] >= t.first_alert


def test_alerts_match_chain_steps(sample: Sample) -> None:
    alerts = {r["id"]: r for r in rows(sample.db, "SELECT id, incident_id, created, first_activity FROM alerts")}
    techs: dict[str, list[str]] = defaultdict(list)
    for r in rows(sample.db, "SELECT alert_id, technique_id FROM alert_techniques ORDER BY alert_id, seq"):
        techs[r["alert_id"]].append(r["technique_id"])
    seen: set[str] = set()
    for t in sample.truth.incidents:
        for step in t.steps:
            assert len(step.alert_ids) == (1 if step.detected else 0)
            for aid in step.alert_ids:
                a = alerts[aid]
                assert a["incident_id"] == t.id
                assert techs[aid] == [step.technique]
                assert a["first_activity"] == step.activity
                assert a["created"] >= a["first_activity"]
                seen.add(aid)
        incident_alerts = [a for a in alerts.values() if a["incident_id"] == t.id]
        assert min(a["created"] for a in incident_alerts) == t.first_alert
        detected = sorted(s.technique for s in t.steps if s.detected)
        assert sorted(x for a in incident_alerts for x in techs[a["id"]]) == detected, t.id
    assert seen == set(alerts)


def test_acknowledgement_is_the_first_comment(sample: Sample) -> None:
    first: dict[str, Any] = {}
    for r in rows(sample.db, "SELECT parent_id, min(created) AS t FROM comments WHERE parent_kind = 'incident' "
                             "GROUP BY parent_id"):
        first[r["parent_id"]] = r["t"]
    for t in sample.truth.incidents:
        if t.acknowledged is not None and t.owner != "Automation":
            assert first[t.id] == t.acknowledged, t.id
        if t.acknowledged is None:
            assert t.id not in first


def test_unremediated_entities_are_stored_as_such(sample: Sample) -> None:
    stored = {(r["type"], r["key"]) for r in rows(
        sample.db, "SELECT type, key FROM evidence WHERE remediation_status = 'unremediated'")}
    planted = {(e.type, e.key) for t in sample.truth.incidents for e in t.unremediated}
    assert planted
    assert planted <= stored


def _view(incident: Any) -> list[tuple[Any, ...]]:
    return [(a.id, a.title, a.severity, a.status, a.classification, a.determination, a.created, a.resolved,
             a.first_activity, a.last_activity, a.detector_id, a.threat_family_name, [t.id for t in a.techniques],
             [(e.type, e.verdict, e.remediation_status, e.roles, e.ip_address, e.url, e.sha256) for e in a.evidence],
             [(c.text, c.author, c.created) for c in a.comments])
            for a in sorted(incident.alerts, key=lambda a: (a.created, a.id))]


@pytest.mark.parametrize("index", [0, 57, 133, 256, 399])
def test_store_reads_back_the_generated_record(sample: Sample, kb: KnowledgeBase, index: int) -> None:
    plan = Plan(sample.options, kb)
    made = derive_times(build(plan, index).incident)
    with Store(sample.db, read_only=True) as store:
        got = load_incident(store, made.id)
    assert got is not None
    for field in ("title", "severity", "status", "classification", "determination", "assigned_to", "created",
                  "last_updated", "first_activity", "last_activity", "resolved", "custom_tags", "comments",
                  "web_url", "priority_score"):
        assert getattr(got, field) == getattr(made, field), field
    assert _view(got) == _view(made)


def test_store_is_queryable(sample: Sample) -> None:
    con = duckdb.connect(str(sample.db), read_only=True)
    try:
        services = {r[0] for r in con.execute("SELECT DISTINCT service_source FROM alerts").fetchall()}
    finally:
        con.close()
    assert {"microsoftDefenderForEndpoint", "microsoftDefenderForOffice365", "azureAdIdentityProtection",
            "microsoftDefenderForCloudApps", "microsoftDefenderForIdentity"} <= services
