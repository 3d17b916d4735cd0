"""Action items: add, list, update, close, reopen; idempotent adoption; migration 4; "already known"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from test_store import ingest, make_incident

from afteraction.analyze.review.model import ActionItem
from afteraction.attack.kb import KnowledgeBase
from afteraction.errors import StoreError, UsageError
from afteraction.store import Store
from afteraction.store.actions import (
    ActionItemRecord,
    add_item,
    adopt_suggestions,
    check_links,
    close_item,
    get_item,
    is_overdue,
    list_items,
    open_items_for,
    parse_item_id,
    resolve_incident,
    review_link,
    suggestion_key,
    update_item,
)
from afteraction.store.annotations import annotate, list_annotations
from afteraction.store.schema import MIGRATIONS, SCHEMA_VERSION, USER_TABLES, current_version

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TODAY = date(2026, 3, 10)
HOSTILE = "=cmd|' /C calc'!A0 | `x` \x1b[2J\u202eevil"


def suggestions() -> list[ActionItem]:
    return [
        ActionItem(what="Remediate 1 entity still marked malicious: ws-1", why="not remediated",
                   links=("device:dev-1", "ip:2001:db8::1"), priority="high"),
        ActionItem(what="Hunt for Execution activity", why="no alert", links=("TA0002", "T1059.001", "t1086")),
        ActionItem(what="Tune the detector behind 'x'", why="noisy", links=("det-42",), priority="low"),
    ]


def test_add_get_and_list(store: Store, kb: KnowledgeBase) -> None:
    item = add_item(store, what="Enable MFA for admins", why="phished", owner="alice", due="2026-03-31",
                    priority="high", links=["t1078", "M1032", "ta0001", "control: MFA ", "step:contain",
                                            "entity:user:bob@contoso.com", "T1078"], kb=kb, now=T0)
    assert item == ActionItemRecord(
        id=1, source=None, incident_id=None, what="Enable MFA for admins", why="phished", owner="alice",
        due=date(2026, 3, 31), status="open", priority="high",
        links=("T1078", "M1032", "TA0001", "control:MFA", "step:contain", "entity:user:bob@contoso.com"),
        origin="user", suggestion_key=None, created=T0, updated=T0)
    assert item.created.utcoffset() == timedelta(0)
    assert item.label == "#1"
    second = add_item(store, what="Patch", source="defender", incident_id="2", now=T0)
    assert (second.id, second.source, second.incident_id, second.priority) == (2, "defender", "2", "medium")
    assert get_item(store, 2) == second
    assert [i.id for i in list_items(store, today=TODAY)] == [1, 2]
    assert [i.id for i in list_items(store, incident="2", today=TODAY)] == [2]
    assert [i.id for i in list_items(store, incident="defender:2", today=TODAY)] == [2]
    assert [i.id for i in list_items(store, incident=("defender", "1"), today=TODAY)] == []
    assert [i.id for i in list_items(store, owner="ALICE", today=TODAY)] == [1]


def test_bad_values_are_usage_errors(store: Store, kb: KnowledgeBase) -> None:
    with pytest.raises(UsageError, match="non-empty"):
        add_item(store, what="  ")
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        add_item(store, what="x", due="31/12/2026")
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        add_item(store, what="x", due="2026-02-30")
    with pytest.raises(UsageError, match="priority"):
        add_item(store, what="x", priority="urgent")
    with pytest.raises(UsageError, match=r"'mimikatz'.*'entity:user'"):
        add_item(store, what="x", links=["T1059", "mimikatz", "entity:user", "control:"], kb=kb)
    with pytest.raises(UsageError, match="no incident '404'"):
        add_item(store, what="x", source="defender", incident_id="404")
    with pytest.raises(UsageError, match="no action item #12") as info:
        update_item(store, 12, owner="x")
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="no action item #12"):
        close_item(store, 12)
    with pytest.raises(UsageError, match="status"):
        list_items(store, status="pending")
    assert list_items(store, status="all") == []
    item = add_item(store, what="x")
    with pytest.raises(UsageError, match="status"):
        update_item(store, item.id, status="closed")
    with pytest.raises(UsageError, match="non-empty"):
        update_item(store, item.id, what="")
    assert parse_item_id("#12") == parse_item_id(" 12") == 12
    with pytest.raises(UsageError, match="not an action item id"):
        parse_item_id("twelve")


def test_links_are_resolved_against_attack(kb: KnowledgeBase) -> None:
    checked = check_links(["T1086", "t1059/001", "T9999", "M9999", "TA0099", "entity:ip:2001:db8::1"], kb)
    assert checked.links == ("T1059.001", "T9999", "M9999", "TA0099", "entity:ip:2001:db8::1")
    assert checked.redirects == {"T1086": "T1059.001"}
    assert any("T1086 is revoked" in w for w in checked.warnings)
    assert any("T9999 is not in ATT&CK" in w for w in checked.warnings)
    assert any("M9999" in w for w in checked.warnings)
    assert any("TA0099" in w for w in checked.warnings)
    assert check_links(["T1086"]).links == ("T1086",)  # without a knowledge base: normalised only
    assert review_link("user:alice") == "entity:user:alice"
    assert review_link("url:https://x.example/a") == "entity:url:https://x.example/a"
    assert review_link("t1059") == "T1059"
    assert review_link("det-42") == "control:det-42"
    assert review_link("control:EDR") == "control:EDR"


def test_update_close_and_reopen(store: Store) -> None:
    item = add_item(store, what="Rotate keys", owner="alice", due="2026-03-05", now=T0)
    t1, t2, t3 = (T0 + timedelta(days=d) for d in (1, 2, 3))
    moved = update_item(store, item.id, status="in_progress", owner="", due="2026-04-01", why="leaked",
                        add_links=["T1552", "T1552"], note="started", now=t1)
    assert (moved.status, moved.owner, moved.due, moved.why, moved.links, moved.note, moved.updated) == (
        "in_progress", None, date(2026, 4, 1), "leaked", ("T1552",), "started", t1)
    assert update_item(store, item.id, now=t2) == moved  # nothing to change
    closed = close_item(store, item.id, note="rotated", now=t2)
    assert (closed.status, closed.closed, closed.note) == ("done", t2, "rotated")
    assert close_item(store, item.id, now=t3) == closed  # closing twice without a note is a no-op
    again = close_item(store, item.id, note="again", now=t3)  # ...with one, only the note is recorded
    assert (again.status, again.closed, again.note, again.updated) == ("done", t2, "again", t3)
    assert list_items(store, today=TODAY) == []
    assert [i.id for i in list_items(store, status="closed")] == [item.id]
    assert [i.id for i in list_items(store, status="done")] == [item.id]
    wont = close_item(store, item.id, wont_do=True, now=t3)
    assert (wont.status, wont.closed) == ("wont_do", t2)
    reopened = update_item(store, item.id, status="open", due="", now=t3)
    assert (reopened.status, reopened.closed, reopened.due) == ("open", None, None)
    assert [i.id for i in list_items(store, today=TODAY)] == [item.id]


def test_overdue_and_sort_order(store: Store) -> None:
    late = add_item(store, what="late", due="2026-03-01", priority="low")
    today = add_item(store, what="due today", due=TODAY.isoformat(), priority="high")
    none = add_item(store, what="no date", priority="high")
    soon_low = add_item(store, what="soon low", due="2026-03-20", priority="low")
    soon_high = add_item(store, what="soon high", due="2026-03-20", priority="high")
    later_late = add_item(store, what="later overdue", due="2026-03-09", priority="high")
    done = add_item(store, what="closed late", due="2026-01-01")
    close_item(store, done.id)
    assert is_overdue(late, TODAY)
    assert not is_overdue(today, TODAY)
    assert not is_overdue(none, TODAY)
    assert not is_overdue(get_item(store, done.id), TODAY)
    ids = [i.id for i in list_items(store, today=TODAY)]
    assert ids == [late.id, later_late.id, today.id, soon_high.id, soon_low.id, none.id]
    assert [i.id for i in list_items(store, overdue_only=True, today=TODAY)] == [late.id, later_late.id]
    assert [i.id for i in list_items(store, status="all", overdue_only=True, today=TODAY)] == [late.id, later_late.id]


def test_adopting_suggestions_is_idempotent(store: Store, kb: KnowledgeBase) -> None:
    first = adopt_suggestions(store, "defender", "1", suggestions(), kb=kb, now=T0)
    assert [i.id for i in first] == [1, 2, 3]
    assert {i.origin for i in first} == {"suggested"}
    assert first[0].links == ("entity:device:dev-1", "entity:ip:2001:db8::1")
    assert first[0].priority == "high"
    assert first[1].links == ("TA0002", "T1059.001")  # T1086 is revoked: its replacement, once
    assert first[2].links == ("control:det-42",)
    assert first[1].suggestion_key == suggestion_key("defender", "1", "hunt  for EXECUTION activity")
    update_item(store, first[0].id, owner="bob", now=T0)
    again = adopt_suggestions(store, "defender", "1", [*suggestions(), ActionItem(what="new one", why="w")],
                              kb=kb, now=T0 + timedelta(days=1))
    assert [i.id for i in again] == [1, 2, 3, 4]
    assert again[0].owner == "bob"  # existing rows are returned unchanged
    assert again[1:3] == first[1:3]
    other = adopt_suggestions(store, "defender", "2", suggestions()[:1], now=T0)
    assert [i.id for i in other] == [5]  # same text, other incident: its own item
    assert store.con.execute("SELECT count(*) FROM action_items").fetchone() == (5,)
    with pytest.raises(UsageError, match="no incident"):
        adopt_suggestions(store, "defender", "404", suggestions())


def test_open_items_for_matches_parents_and_subtechniques(store: Store) -> None:
    parent = add_item(store, what="parent", links=["T1059"])
    sub = add_item(store, what="sub", links=["T1059.001"], source="defender", incident_id="1")
    sibling = add_item(store, what="sibling", links=["T1059.003"])
    mitigation = add_item(store, what="mitigation", links=["M1032", "control:MFA"])
    own = add_item(store, what="the incident's own", links=["T1059.001"], source="defender", incident_id="2")
    closed = add_item(store, what="closed", links=["T1059.001"])
    close_item(store, closed.id)
    progress = add_item(store, what="in progress", links=["T1059.001"])
    update_item(store, progress.id, status="in_progress")

    def found(**kw: object) -> list[int]:
        return sorted(i.id for i in open_items_for(store, **kw))  # type: ignore[arg-type]

    assert found(techniques=["T1059.001"], exclude_incident=("defender", "2")) == sorted(
        [parent.id, sub.id, progress.id])
    assert found(techniques=["t1059"]) == sorted([parent.id, sub.id, sibling.id, own.id, progress.id])
    assert found(techniques=["T1059.002"]) == [parent.id]
    assert found(techniques=[], links=["M1032"]) == [mitigation.id]
    assert found(techniques=[], links=["control:MFA", "user:nobody"]) == [mitigation.id]
    assert found(techniques=["T1110"]) == []
    assert found(techniques=["not a technique"]) == []
    assert [i.id for i in list_items(store, status="all", technique="T1059.001")] == sorted(
        [parent.id, sub.id, own.id, closed.id, progress.id])


def test_open_items_for_is_one_query(store: Store) -> None:
    add_item(store, what="x", links=["T1059"])
    calls: list[str] = []
    real = store.con

    class Spy:
        def execute(self, sql: str, *args: object) -> object:
            calls.append(sql)
            return real.execute(sql, *args)

    store.con = Spy()  # type: ignore[assignment]
    try:
        assert len(open_items_for(store, techniques=["T1059.001"])) == 1
    finally:
        store.con = real
    assert len([c for c in calls if "FROM action_items" in c]) == 1


def test_reingest_keeps_items(store: Store) -> None:
    add_item(store, what="keep me", source="defender", incident_id="1", links=["T1059.001"])
    before = list_items(store, status="all")
    ingest(store, [make_incident("1")])
    result = ingest(store, [make_incident("1", title="v2", updated=datetime(2024, 6, 1, tzinfo=UTC))])
    assert result.counts.incidents["updated"] == 1
    assert list_items(store, status="all") == before
    assert "action_items" in USER_TABLES
    assert store.table_counts()["action_items"] == 1


def test_hostile_text_is_stored_verbatim(store: Store) -> None:
    item = add_item(store, what=HOSTILE, why=HOSTILE, owner=HOSTILE, links=[f"control:{HOSTILE}"])
    assert get_item(store, item.id).what == HOSTILE
    assert get_item(store, item.id).links == (f"control:{HOSTILE.strip()}",)


def test_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        ingest(s, [make_incident("1")])
        add_item(s, what="x")
    with Store(path, read_only=True) as s:
        assert [i.what for i in list_items(s)] == ["x"]
        with pytest.raises(StoreError, match="read-only"):
            add_item(s, what="y")
        with pytest.raises(StoreError, match="read-only"):
            close_item(s, 1)


def _v3_store(path: Path) -> None:
    con = duckdb.connect(str(path))
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    con.execute("INSERT INTO store_meta VALUES ('schema_version', '3')")
    con.execute("INSERT INTO incidents (source, id, title) VALUES ('defender', '7', 'kept')")
    con.execute("INSERT INTO annotations VALUES ('defender', '7', 'T1059.001', 'T1086', 'undetected', "
                "'n', 'a', TIMESTAMPTZ '2026-01-01 00:00:00+00')")
    con.close()


def test_version_3_store_gets_the_table_and_keeps_its_data(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "v3.duckdb"
    _v3_store(path)
    with Store(path, read_only=True) as s:  # read-only: not migrated, reads find no items
        assert current_version(s.con) == 3
        assert list_items(s, status="all") == []
        assert open_items_for(s, techniques=["T1059"]) == []
        assert "action_items" not in s.table_counts()
        with pytest.raises(UsageError, match="no action item #1"):
            get_item(s, 1)
        assert resolve_incident(s, "7") == ("defender", "7")
    with Store(path) as s:
        assert current_version(s.con) == SCHEMA_VERSION
        assert [(a.incident_id, a.raw) for a in list_annotations(s)] == [("7", "T1086")]
        item = add_item(s, what="x", source="defender", incident_id="7", links=["T1059"], kb=kb)
        annotate(s, "7", ["T1003"], kb)
        assert item.id == 1
        assert s.table_counts()["action_items"] == 1
        assert (tmp_path / "pq" / "action_items.parquet") in s.export_parquet(tmp_path / "pq")
    with Store(path, read_only=True) as s:
        assert [i.what for i in list_items(s)] == ["x"]


def test_resolve_incident(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        ingest(s, [make_incident("1")])
        s.con.execute("INSERT INTO incidents (source, id) VALUES ('sentinel', '1'), ('sentinel', 'a:b')")
        assert resolve_incident(s, "defender:1") == ("defender", "1")
        assert resolve_incident(s, "a:b") == ("sentinel", "a:b")
        with pytest.raises(UsageError, match="several sources"):
            resolve_incident(s, "1")
        with pytest.raises(UsageError, match="no incident 'nope'"):
            resolve_incident(s, "nope")


def test_a_version_4_store_gains_the_scope_column(tmp_path: Path) -> None:
    """Stores written before items had a scope: read-only reads treat items as general; a writable open
    migrates (schema 5) and keeps the rows."""
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    for version in (1, 2, 3, 4):
        for statement in MIGRATIONS[version]:
            con.execute(statement)
    con.execute("INSERT OR REPLACE INTO store_meta VALUES ('schema_version', '4')")
    con.execute("INSERT INTO action_items (id, what, status, priority, links, origin, created, updated) "
                "VALUES (nextval('action_item_ids'), 'Old item', 'open', 'high', ['T1059'], 'user', now(), now())")
    con.close()
    with Store(path, read_only=True) as store:
        (old,) = list_items(store, status="all")
        assert old.scope == "general"
        assert [i.id for i in open_items_for(store, techniques=["T1059.001"])] == [old.id]
    with Store(path) as store:
        assert store.con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        (old,) = list_items(store, status="all")
        assert old.scope == "general"
        assert old.what == "Old item"
