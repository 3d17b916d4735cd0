"""The bulk insert of an all-new file stores exactly what the record-by-record merge stores."""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import T0, ingest, make_alert, make_incident

from afteraction.model import Incident
from afteraction.store import Store, merge
from afteraction.store.schema import DATA_TABLES, MIGRATIONS, SCHEMA_VERSION
from tests_support import incidents

_FILE_COUNTS = (
    "SELECT path, records_in, incidents_new, incidents_updated, incidents_unchanged, incidents_older, "
    "alerts_new, alerts_updated, alerts_unchanged, alerts_older, evidence, rejected, status "
    "FROM ingest_files ORDER BY file_id"
)
_CHILD_KEYS = {
    "alert_techniques": "source, alert_id, seq",
    "evidence": "source, alert_id, seq",
    "comments": "source, parent_kind, parent_id, seq",
}


def _contents(store: Store) -> dict[str, list[tuple]]:
    """Every row of every data table (sorted), plus what each file counted."""
    out = {t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in DATA_TABLES}
    out["ingest_files"] = store.con.execute(_FILE_COUNTS).fetchall()
    return out


def _ingest_files(db: Path, files: list[list[object]], monkeypatch: pytest.MonkeyPatch, *, bulk: bool) -> tuple:
    """Ingest ``files`` in order; returns the store contents and how many files took the bulk insert."""
    used = []
    original = merge._insert_all

    def spy(*args: object, **kw: object) -> None:
        used.append(1)
        original(*args, **kw)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(merge, "_insert_all", spy)
        if not bulk:
            m.setattr("afteraction.store.db.publish", functools.partial(merge.publish, bulk=False))
        with Store(db) as store:
            for number, items in enumerate(files):
                ingest(store, items, path=f"f{number}.json")
            for table, key in _CHILD_KEYS.items():  # unique without an index: the merge keeps them so
                (dupes,) = store.con.execute(
                    f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}").fetchone() or (0,)
                assert dupes == 0, table
            return _contents(store), len(used)


def _same_both_ways(tmp_path: Path, files: list[list[object]], monkeypatch: pytest.MonkeyPatch) -> int:
    fast, bulk_files = _ingest_files(tmp_path / "bulk.duckdb", files, monkeypatch, bulk=True)
    slow, none = _ingest_files(tmp_path / "merge.duckdb", files, monkeypatch, bulk=False)
    assert none == 0
    assert fast == slow
    return bulk_files


def test_sequences_of_files_store_the_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    later = T0 + timedelta(hours=1)
    files: list[list[object]] = [
        [make_incident("1"), make_incident("2")],  # new store: bulk
        [make_incident("1"), make_incident("2")],  # the same again: unchanged
        [make_alert("s1", incident_id="9"), make_alert("s2", incident_id="9"),  # new alerts: bulk, stubs
         make_alert("s3", incident_id="8"), make_incident("5", alerts=(make_alert("s4", incident_id="6"),))],
        [make_incident("9", alerts=())],  # replaces the stub
        [make_incident("3", title="old"), make_incident("3", title="new", updated=later)],  # duplicates
        [make_alert("s1", incident_id="10", updated=later)],  # an alert moves; the stub follows
        [make_incident("4", alerts=(make_alert("1-a1", updated=later),))],  # new incident, stored alert
        [],
    ]
    assert _same_both_ways(tmp_path, files, monkeypatch) == 2  # the first and the third file


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(incidents(), max_size=4), st.lists(incidents(), max_size=3))
def test_random_files_store_the_same_both_ways(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
    first: list[Incident], second: list[Incident],
) -> None:
    tmp = tmp_path_factory.mktemp("bulk")
    # alerts repeat across incidents, incidents repeat across files: every kind of collision occurs
    shared = [msgspec.structs.replace(i, alerts=i.alerts + (first[0].alerts if first else ())) for i in second]
    _same_both_ways(tmp, [list(first), shared + list(first[:1])], monkeypatch)


def test_bulk_insert_only_when_every_record_is_new(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        con = store.con

        def can(incident_ids: list[str], alert_ids: list[str]) -> bool:
            con.execute("CREATE OR REPLACE TEMP TABLE stg_incidents AS SELECT 'defender' AS source, unnest(?) AS id",
                        [incident_ids])
            con.execute("CREATE OR REPLACE TEMP TABLE stg_alerts AS SELECT 'defender' AS source, unnest(?) AS id",
                        [alert_ids or ["none"]])
            if not alert_ids:
                con.execute("DELETE FROM stg_alerts")
            try:
                return merge.can_bulk_insert(con)
            finally:
                con.execute("DROP TABLE stg_incidents; DROP TABLE stg_alerts")

        assert can(["1", "2"], ["a", "b"])
        assert not can(["1", "1"], ["a"])
        assert not can(["1"], ["a", "a"])
        ingest(store, [make_alert("a", incident_id="7")])  # a stored alert and a stub incident
        assert not can(["2"], ["a"])
        assert not can(["7"], ["b"])
        assert can(["2"], ["b"])
        assert can([], [])


def test_version_1_store_loses_child_keys_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[1]:
        con.execute(statement)
    con.execute("INSERT INTO store_meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO alerts (source, id, title) VALUES ('defender', 'a1', 'kept')")
    con.execute("INSERT INTO evidence (source, alert_id, seq, type, host_name) "
                "VALUES ('defender', 'a1', 0, 'device', 'ws')")
    con.execute("INSERT INTO alert_techniques VALUES ('defender', 'a1', 0, 'T1059', 'T1059', 'active')")
    con.execute("INSERT INTO comments VALUES ('defender', 'alert', 'a1', 0, 'me', NULL, 'hello')")
    con.close()
    with Store(path) as store:
        keys = dict(store.con.execute(
            "SELECT table_name, count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
            "GROUP BY ALL").fetchall())
        assert store.con.execute("SELECT value FROM store_meta").fetchone() == (str(SCHEMA_VERSION),)
        assert store.con.execute("SELECT host_name FROM evidence").fetchall() == [("ws",)]
        assert store.con.execute("SELECT raw FROM alert_techniques").fetchall() == [("T1059",)]
        assert store.con.execute("SELECT text FROM comments").fetchall() == [("hello",)]
        assert store.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                 "'evidence' ORDER BY ordinal_position").fetchall()[:3] == [
            ("source",), ("alert_id",), ("seq",)]
        result = ingest(store, [make_incident("1")])
        assert result.counts.alerts["new"] == 2
    assert set(keys) == {"incidents", "alerts", "store_meta", "ingest_runs", "ingest_files", "annotations",
                         "action_items"}
