"""The DuckDB store: idempotent upserts, newest wins, atomic files, rejections and stubs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from afteraction.errors import Location, StoreError
from afteraction.model import (
    Alert,
    AlertStatus,
    Comment,
    Evidence,
    Incident,
    IncidentStatus,
    Severity,
    TechniqueRef,
    Verdict,
)
from afteraction.store import Store
from afteraction.store.schema import SCHEMA_VERSION, current_version

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_alert(alert_id: str, *, updated: datetime = T0, title: str = "alert", **kw: object) -> Alert:
    return Alert(
        id=alert_id, title=title, severity=Severity.MEDIUM, status=AlertStatus.NEW, created=T0,
        last_updated=updated, first_activity=T0 - timedelta(minutes=30),
        techniques=(TechniqueRef(raw="T1059.001", id="T1059.001"),),
        evidence=(Evidence(type="device", key="dev-1", host_name="ws-1", roles=("compromised",),
                           verdict=Verdict.SUSPICIOUS),
                  Evidence(type="ip", key="203.0.113.5", ip_address="203.0.113.5")),
        comments=(Comment(text="looked at it", author="a@contoso.com", created=T0),),
        **kw,  # type: ignore[arg-type]
    )


def make_incident(inc_id: str = "1", *, updated: datetime = T0, title: str = "incident",
                  alerts: tuple[Alert, ...] | None = None) -> Incident:
    return Incident(
        id=inc_id, title=title, severity=Severity.HIGH, status=IncidentStatus.ACTIVE, created=T0,
        last_updated=updated, comments=(Comment(text="first", author="x", created=T0),),
        alerts=alerts if alerts is not None else (make_alert(f"{inc_id}-a1"), make_alert(f"{inc_id}-a2")),
    )


class Rejection(msgspec.Struct):
    reason: str
    location: Location
    snippet: str | None = None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.duckdb") as s:
        yield s


def ingest(store: Store, items: list[object], path: str = "f.json"):
    run = store.start_run(attack_version="18.1", attack_source="test", strict=False, files=1)
    result = store.ingest_file(run, path, "graph-incidents", items)
    store.finish_run(run, "ok")
    return result


def rows(store: Store, sql: str) -> list[tuple]:
    return store.con.execute(sql).fetchall()


def test_new_store_is_migrated(store: Store) -> None:
    assert current_version(store.con) == SCHEMA_VERSION
    assert store.table_counts()["incidents"] == 0


def test_ingest_stores_incident_alerts_and_children(store: Store) -> None:
    result = ingest(store, [make_incident()])
    assert result.counts.incidents["new"] == 1
    assert result.counts.alerts["new"] == 2
    assert result.counts.evidence == 4
    counts = store.table_counts()
    assert (counts["incidents"], counts["alerts"], counts["evidence"]) == (1, 2, 4)
    assert counts["alert_techniques"] == 2
    assert counts["comments"] == 3  # one incident comment, one per alert
    assert rows(store, "SELECT DISTINCT incident_id FROM alerts") == [("1",)]
    created = rows(store, "SELECT created FROM incidents")[0][0]
    assert created == T0
    assert created.utcoffset() == timedelta(0)


def test_reingesting_same_content_adds_nothing(store: Store) -> None:
    ingest(store, [make_incident()])
    before = store.table_counts()
    again = ingest(store, [make_incident()])
    assert again.counts.incidents == {"new": 0, "updated": 0, "unchanged": 1, "older": 0}
    assert again.counts.alerts["unchanged"] == 2
    after = store.table_counts()
    assert {k: v for k, v in after.items() if k not in ("ingest_files", "ingest_runs")} == {
        k: v for k, v in before.items() if k not in ("ingest_files", "ingest_runs")}


def test_newer_replaces_older_never(store: Store) -> None:
    ingest(store, [make_incident(title="v1")])
    newer = make_incident(title="v2", updated=T0 + timedelta(hours=1),
                          alerts=(make_alert("1-a1", title="a-v2", updated=T0 + timedelta(hours=1)),))
    result = ingest(store, [newer])
    assert result.counts.incidents["updated"] == 1
    assert result.counts.alerts["updated"] == 1
    assert rows(store, "SELECT title FROM incidents") == [("v2",)]
    older = make_incident(title="v0", updated=T0 - timedelta(hours=1),
                          alerts=(make_alert("1-a1", title="a-v0", updated=T0 - timedelta(hours=1)),))
    result = ingest(store, [older])
    assert result.counts.incidents["older"] == 1
    assert result.counts.alerts["older"] == 1
    assert rows(store, "SELECT title FROM incidents") == [("v2",)]
    assert rows(store, "SELECT title FROM alerts WHERE id = '1-a1'") == [("a-v2",)]
    # children of the replaced alert were replaced, not duplicated
    assert rows(store, "SELECT count(*) FROM evidence WHERE alert_id = '1-a1'") == [(2,)]


def test_duplicates_in_one_file_keep_the_newest(store: Store) -> None:
    items = [make_incident(title="late", updated=T0 + timedelta(hours=2)),
             make_incident(title="early", updated=T0)]
    result = ingest(store, items)
    assert result.counts.incidents["new"] == 1
    assert rows(store, "SELECT title FROM incidents") == [("late",)]
    assert store.table_counts()["comments"] == 3


def test_interrupted_file_leaves_store_unchanged(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, [make_incident("1")])
    monkeypatch.setattr("afteraction.store.pipeline.BATCH_RECORDS", 1)  # batches are staged before the interrupt
    audit = ("ingest_files", "ingest_runs")
    before = {k: v for k, v in store.table_counts().items() if k not in audit}

    def items() -> Iterator[object]:
        yield make_incident("2")
        yield make_incident("1", title="changed", updated=T0 + timedelta(days=1))
        raise KeyboardInterrupt

    run = store.start_run(attack_version="18.1", attack_source="t", strict=False, files=1)
    with pytest.raises(KeyboardInterrupt):
        store.ingest_file(run, "g.json", "graph-incidents", items())
    after = {k: v for k, v in store.table_counts().items() if k not in audit}
    assert after == before
    assert rows(store, "SELECT title FROM incidents") == [("incident",)]
    assert rows(store, "SELECT status FROM ingest_files WHERE path = 'g.json'") == [("interrupted",)]


def test_batches_inside_one_file_commit_together(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("afteraction.store.pipeline.BATCH_RECORDS", 2)
    items = [make_incident(str(i)) for i in range(7)]
    result = ingest(store, items)
    assert result.counts.incidents["new"] == 7
    assert result.counts.alerts["new"] == 14
    assert store.table_counts()["evidence"] == 28


def test_rejections_are_recorded_with_location(store: Store) -> None:
    bad = Rejection(reason="invalid timestamp", location=Location(file="f.json", record=3,
                    pointer="/value/3/createdDateTime"), snippet="x" * 2000)
    result = ingest(store, [make_incident(), bad])
    assert result.rejected == 1
    assert result.counts.incidents["new"] == 1
    (row,) = rows(store, "SELECT path, record, pointer, reason, length(snippet) FROM rejected_records")
    assert row[:4] == ("f.json", 3, "/value/3/createdDateTime", "invalid timestamp")
    assert row[4] <= 501


def test_alerts_without_incident_make_a_stub_that_the_incident_replaces(store: Store) -> None:
    a1 = make_alert("x1", incident_id="77", title="low one")
    a2 = msgspec.structs.replace(make_alert("x2", incident_id="77", title="high one"), severity=Severity.HIGH)
    ingest(store, [a1, a2])
    (stub,) = rows(store, "SELECT is_stub, title, severity, first_activity FROM incidents WHERE id = '77'")
    assert stub[:3] == (True, "high one", "high")
    assert stub[3] == T0 - timedelta(minutes=30)
    real = make_incident("77", alerts=())
    result = ingest(store, [real])
    assert result.counts.incidents["new"] == 1
    assert rows(store, "SELECT is_stub, title FROM incidents WHERE id = '77'") == [(False, "incident")]
    assert rows(store, "SELECT count(*) FROM alerts WHERE incident_id = '77'") == [(2,)]


def test_hostile_text_is_stored_verbatim(store: Store) -> None:
    title = "<script>alert(1)</script>\x1b[31m=cmd|' /C calc'!A0\u202e"
    ingest(store, [make_incident(title=title)])
    assert rows(store, "SELECT title FROM incidents") == [(title,)]


def test_parquet_export_round_trips(store: Store, tmp_path: Path) -> None:
    ingest(store, [make_incident()])
    written = store.export_parquet(tmp_path / "pq")
    assert {p.name for p in written} >= {"incidents.parquet", "alerts.parquet", "evidence.parquet"}
    count = store.con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path / 'pq' / 'alerts.parquet'}')").fetchone()
    assert count == (2,)


def test_read_only_open_of_missing_store_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_corrupt_store_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(StoreError, match=r"bad\.duckdb"):
        Store(bad)


def test_equal_timestamps_resolve_the_same_whatever_the_order(tmp_path: Path) -> None:
    a = make_incident(title="Graph title")
    b = make_incident(title="Legacy title")
    titles = []
    for order in ((a, b), (b, a)):
        with Store(tmp_path / f"order-{len(titles)}.duckdb") as s:
            for item in order:
                ingest(s, [item])
            titles.append(rows(s, "SELECT title FROM incidents")[0][0])
            # within one file the same rule applies
            ingest(s, list(reversed(order)))
            assert rows(s, "SELECT title FROM incidents")[0][0] == titles[-1]
    assert titles[0] == titles[1]


def test_a_stub_left_without_alerts_is_removed(store: Store) -> None:
    ingest(store, [make_alert("m1", incident_id="3", title="moves")])
    assert rows(store, "SELECT id, is_stub FROM incidents") == [("3", True)]
    moved = make_alert("m1", incident_id="4", title="moves", updated=T0 + timedelta(hours=1))
    ingest(store, [moved])
    assert rows(store, "SELECT id, is_stub FROM incidents ORDER BY id") == [("4", True)]


def test_store_in_a_directory_with_glob_characters(tmp_path: Path) -> None:
    folder = tmp_path / "we[ird]*dir"
    with Store(folder / "s.duckdb") as s:
        result = ingest(s, [make_incident()])
        assert result.counts.incidents["new"] == 1
        assert not [p for p in folder.iterdir() if p.name.startswith(".afteraction-staging")]


def test_a_value_the_store_cannot_hold_fails_the_file_not_the_store(store: Store) -> None:
    from afteraction.errors import StoreError

    too_big = msgspec.structs.replace(make_incident(), priority_score=2**40)
    run = store.start_run(attack_version="18.1", attack_source="t", strict=False, files=1)
    with pytest.raises(StoreError, match=r"f\.json"):
        store.ingest_file(run, "f.json", "graph-incidents", [too_big])
    assert store.table_counts()["incidents"] == 0
    assert rows(store, "SELECT status FROM ingest_files") == [("failed",)]
    assert ingest(store, [make_incident()]).counts.incidents["new"] == 1


def test_tables_have_a_column_for_every_model_field(store: Store) -> None:
    """A model field added without a schema migration fails here, not in a user's ingest."""
    from afteraction.store.rows import column_names

    stored_as = {"alert_techniques": {"id": "technique_id"}}
    for table in ("incidents", "alerts", "evidence", "alert_techniques", "comments"):
        columns = {r[0] for r in rows(store, f"SELECT column_name FROM information_schema.columns "
                                             f"WHERE table_name = '{table}'")}
        renamed = stored_as.get(table, {})
        missing = {renamed.get(c, c) for c in column_names(table)} - columns
        assert not missing, (table, missing)
