"""Analyst annotations: resolved ids, idempotent writes, kept across re-ingest, added by migration 3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from test_store import ingest, make_incident

from afteraction.attack.kb import KnowledgeBase
from afteraction.errors import StoreError, UsageError
from afteraction.store import Store
from afteraction.store.annotations import Annotation, annotate, list_annotations, remove_annotations
from afteraction.store.schema import MIGRATIONS, SCHEMA_VERSION, current_version

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_annotate_list_and_remove(store: Store, kb: KnowledgeBase) -> None:
    result = annotate(store, "1", ["T1003.001", "t1021/001"], kb, note="found in EDR timeline",
                      author="alice", now=T0)
    assert [a.technique_id for a in result.annotations] == ["T1003.001", "T1021.001"]
    assert result.redirects == {}
    assert result.unknown == []
    assert result.warnings == []
    stored = list_annotations(store, "1")
    assert stored == [
        Annotation("defender", "1", "T1003.001", "T1003.001", "undetected", "found in EDR timeline", "alice", T0),
        Annotation("defender", "1", "T1021.001", "t1021/001", "undetected", "found in EDR timeline", "alice", T0),
    ]
    assert stored[0].created is not None
    assert stored[0].created.utcoffset() == timedelta(0)
    assert list_annotations(store, "2") == []
    assert len(list_annotations(store, source="defender", kind="undetected")) == 2
    assert list_annotations(store, source="other") == []
    removed = remove_annotations(store, "1", ["T1003.001", "T1110"], kb)
    assert [a.technique_id for a in removed] == ["T1003.001"]
    assert [a.technique_id for a in list_annotations(store)] == ["T1021.001"]


def test_revoked_id_is_stored_as_its_replacement(store: Store, kb: KnowledgeBase) -> None:
    result = annotate(store, "1", ["T1086"], kb, now=T0)
    assert result.redirects == {"T1086": "T1059.001"}
    (row,) = list_annotations(store)
    assert (row.technique_id, row.raw) == ("T1059.001", "T1086")
    # the same technique under its old and new id is one annotation
    annotate(store, "1", ["T1059.001", "T1086"], kb, now=T0)
    assert len(list_annotations(store)) == 1
    remove_annotations(store, "1", ["T1086"], kb)
    assert list_annotations(store) == []


def test_unknown_id_is_kept_with_a_warning(store: Store, kb: KnowledgeBase) -> None:
    result = annotate(store, "1", ["T9999.123"], kb, now=T0)
    assert result.unknown == ["T9999.123"]
    assert any("T9999.123" in w and kb.version in w for w in result.warnings)
    assert [a.technique_id for a in list_annotations(store)] == ["T9999.123"]


def test_invalid_ids_are_refused_and_named(store: Store, kb: KnowledgeBase) -> None:
    with pytest.raises(UsageError, match=r"'powershell'.*'T12'") as info:
        annotate(store, "1", ["T1059", "powershell", "T12"], kb)
    assert info.value.exit_code == 2
    assert list_annotations(store) == []  # nothing written, not even the valid id
    with pytest.raises(UsageError, match="no technique"):
        annotate(store, "1", [" "], kb)


def test_unknown_incident_or_kind_is_refused(store: Store, kb: KnowledgeBase) -> None:
    with pytest.raises(UsageError, match="no incident '404'"):
        annotate(store, "404", ["T1059"], kb)
    with pytest.raises(UsageError, match="no incident '1' \\(source 'sentinel'\\)"):
        annotate(store, "1", ["T1059"], kb, source="sentinel")
    with pytest.raises(UsageError, match="unknown annotation kind"):
        annotate(store, "1", ["T1059"], kb, kind="detected")
    assert list_annotations(store) == []


def test_annotating_again_updates_and_never_duplicates(store: Store, kb: KnowledgeBase) -> None:
    annotate(store, "1", ["T1059.001"], kb, note="first", author="alice", now=T0)
    later = T0 + timedelta(days=1)
    annotate(store, "1", ["T1059.001"], kb, note="second", author="bob", now=later)
    (row,) = list_annotations(store)
    assert (row.note, row.author, row.created) == ("second", "bob", later)
    assert store.con.execute("SELECT count(*) FROM annotations").fetchone() == (1,)


def test_reingest_keeps_annotations(store: Store, kb: KnowledgeBase) -> None:
    annotate(store, "1", ["T1003.001"], kb, now=T0)
    before = list_annotations(store)
    ingest(store, [make_incident("1")])  # unchanged
    newer = make_incident("1", title="v2", updated=datetime(2024, 6, 1, tzinfo=UTC))
    result = ingest(store, [newer])  # replaced with its children
    assert result.counts.incidents["updated"] == 1
    assert list_annotations(store) == before
    assert store.table_counts()["annotations"] == 1


def test_read_only_store_cannot_be_annotated(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        ingest(s, [make_incident("1")])
    with Store(path, read_only=True) as s, pytest.raises(StoreError, match="read-only"):
        annotate(s, "1", ["T1059"], kb)


def _v2_store(path: Path) -> None:
    con = duckdb.connect(str(path))
    for version in (1, 2):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    con.execute("INSERT INTO store_meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO incidents (source, id, title) VALUES ('defender', '7', 'kept')")
    con.close()


def test_version_2_store_gets_the_table_and_keeps_its_data(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "v2.duckdb"
    _v2_store(path)
    with Store(path, read_only=True) as s:  # read-only: not migrated, still readable
        assert current_version(s.con) == 2
        assert list_annotations(s) == []
        assert "annotations" not in s.table_counts()
        assert s.table_counts()["incidents"] == 1
    with Store(path) as s:
        assert current_version(s.con) == SCHEMA_VERSION
        assert s.con.execute("SELECT title FROM incidents").fetchall() == [("kept",)]
        annotate(s, "7", ["T1059.001"], kb, now=T0)
        assert s.table_counts()["annotations"] == 1
        assert (tmp_path / "pq" / "annotations.parquet") in s.export_parquet(tmp_path / "pq")
    with Store(path, read_only=True) as s:
        assert [a.incident_id for a in list_annotations(s)] == ["7"]
