"""The program analyses count incidents by (source, id): two sources may reuse an id, and an alert without an
incident is its own incident, never one whose id happens to look like it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from afteraction.analyze.program.period import resolve_period
from afteraction.analyze.program.process import process
from afteraction.analyze.program.trends import trends
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store

from .program_data import generated

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _crafted(kb: KnowledgeBase, tmp_path: Path) -> Path:
    source, _ = generated(kb, 1, incidents=300, weeks=8)
    path = tmp_path / "crafted.duckdb"
    shutil.copy(source, path)
    with Store(path) as store:
        con = store.con
        # a second source reusing the ids of 40 incidents, with their alerts
        con.execute("CREATE TEMP TABLE picked AS SELECT id FROM incidents ORDER BY id LIMIT 40")
        con.execute("INSERT INTO incidents SELECT * REPLACE ('src2' AS source) FROM incidents "
                    "WHERE id IN (SELECT id FROM picked)")
        con.execute("INSERT INTO alerts SELECT * REPLACE ('src2' AS source) FROM alerts "
                    "WHERE incident_id IN (SELECT id FROM picked)")
        # ten alerts leave their incident; an incident named '#' + the alert's id takes one of its siblings
        con.execute("CREATE TEMP TABLE lone AS SELECT source, id, incident_id FROM alerts WHERE source = 'defender' "
                    "AND incident_id IN (SELECT incident_id FROM alerts GROUP BY ALL HAVING count(*) >= 2) "
                    "AND incident_id NOT IN (SELECT id FROM picked) ORDER BY id LIMIT 10")
        con.execute("UPDATE alerts SET incident_id = NULL WHERE id IN (SELECT id FROM lone)")
        con.execute("INSERT INTO incidents SELECT i.* REPLACE ('#' || l.id AS id) FROM incidents i "
                    "JOIN lone l ON i.source = l.source AND i.id = l.incident_id")
        con.execute("UPDATE alerts SET incident_id = '#' || l.id FROM lone l WHERE alerts.source = l.source "
                    "AND alerts.incident_id = l.incident_id AND alerts.id = (SELECT min(a.id) FROM alerts a "
                    "WHERE a.source = l.source AND a.incident_id = l.incident_id)")
    return path


def test_incidents_are_counted_by_source_and_id(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = _crafted(kb, tmp_path)
    with Store(path, read_only=True) as store:
        con = store.con
        period = resolve_period(store, None, None, "week")
        in_incidents = con.execute("SELECT count(DISTINCT (source, incident_id)) FROM alerts "
                                   "WHERE incident_id IS NOT NULL").fetchone()[0]
        with_lone = con.execute("SELECT count(DISTINCT (source, incident_id IS NULL, coalesce(incident_id, id))) "
                                "FROM alerts").fetchone()[0]
        assert con.execute("SELECT count(*) FROM alerts WHERE source = 'src2'").fetchone()[0] > 40
        assert con.execute("SELECT count(*) FROM incidents WHERE id LIKE '#%'").fetchone()[0] == 10
        result = process(store, kb, period, now=NOW)
        series = trends(store, kb, period)
        per_week = con.execute(
            "SELECT date_trunc('week', created) AS w, count(DISTINCT (source, incident_id IS NULL, "
            "coalesce(incident_id, id))) FROM alerts GROUP BY w ORDER BY w").fetchall()
    assert result.summary.incidents == in_incidents
    assert sum(b.incidents for b in series.buckets) >= with_lone
    assert [(b.bucket, b.incidents) for b in series.buckets if b.incidents] == per_week
