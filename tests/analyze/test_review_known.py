"""A later review links the open action items about what it shows again ("this was already known")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from afteraction.analyze.review import ReviewContext, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.render.html import render_review_html
from afteraction.render.markdown import render_review_markdown
from afteraction.store import Store
from afteraction.store.actions import add_item, close_item
from afteraction.store.loader import ingest_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "defender-incidents.json"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path, kb: KnowledgeBase) -> Store:
    s = Store(tmp_path / "s.duckdb")
    ingest_paths(s, [str(EXAMPLE)], kb)
    return s


def _review(store: Store, kb: KnowledgeBase, incident: str):  # type: ignore[no-untyped-def]
    return review_incident(store, kb, incident, context=ReviewContext(kb, store, now=NOW))


def test_open_items_of_other_incidents_are_linked(store: Store, kb: KnowledgeBase) -> None:
    later = _review(store, kb, "51112")
    techniques = sorted({t.id for e in later.timeline for t in e.techniques})
    assert "T1059.001" in techniques
    parent = add_item(store, what="Restrict PowerShell <script>", owner="Ana", due="2026-05-01", links=["T1059"],
                      source="defender", incident_id="51007", priority="high", kb=kb)
    program = add_item(store, what="Program-level: script logging", links=["T1059.001", "T1059.003"],
                       due="2026-12-31", kb=kb)
    own = add_item(store, what="Item of the incident itself", links=["T1059.001"], source="defender",
                   incident_id="51112", kb=kb)
    unrelated = add_item(store, what="Unrelated", links=["T1486"], kb=kb)
    done = add_item(store, what="Already done", links=["T1059.001"], kb=kb)
    close_item(store, done.id)
    known = {k.id: k for k in _review(store, kb, "51112").known_items}
    assert set(known) == {parent.id, program.id}
    assert own.id not in known
    assert unrelated.id not in known
    first = known[parent.id]
    assert first.matched == ("T1059",)  # the parent technique matches the sub-technique seen
    assert first.overdue is True
    assert (first.source, first.incident_id, first.owner) == ("defender", "51007", "Ana")
    assert known[program.id].overdue is False
    assert known[program.id].matched == ("T1059.001",)  # its sibling T1059.003 is not what this incident shows
    assert known[program.id].incident_id is None


def test_known_items_render_escaped_with_the_overdue_flag(store: Store, kb: KnowledgeBase) -> None:
    add_item(store, what="Restrict <script>alert(1)</script> | `x`", owner="<b>Ana</b>", due="2026-05-01",
             links=["T1059"], kb=kb)
    result = _review(store, kb, "51112")
    html = render_review_html(result)
    assert "This was already known." in html
    assert "Overdue" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Ana</b>" not in html
    md = render_review_markdown(result)
    assert "**This was already known.**" in md
    assert "**overdue**" in md
    assert "<script>" not in md


def test_no_store_or_no_items_means_nothing_known(store: Store, kb: KnowledgeBase) -> None:
    assert _review(store, kb, "51112").known_items == ()
    html = render_review_html(_review(store, kb, "51112"))
    assert "already known" not in html


def test_the_incidents_own_items_are_tracked_with_their_status(store: Store, kb: KnowledgeBase) -> None:
    from afteraction.store.actions import adopt_suggestions

    first = _review(store, kb, "51007")
    adopted = adopt_suggestions(store, "defender", "51007", first.action_items, kb=kb)
    assert adopted
    mine = add_item(store, what="Call the <i>bank</i>", owner="Bo", due="2026-05-20", source="defender",
                    incident_id="51007", kb=kb)
    close_item(store, adopted[0].id)
    again = _review(store, kb, "51007")
    tracked = {t.id: t for t in again.tracked_items}
    assert set(tracked) == {a.id for a in adopted} | {mine.id}
    assert tracked[adopted[0].id].status == "done"
    assert tracked[mine.id].overdue is True
    assert again.known_items == ()  # its own items are tracked, not "already known"
    html = render_review_html(again)
    assert "Tracked for this incident" in html
    assert "&lt;i&gt;bank&lt;/i&gt;" in html
    md = render_review_markdown(again)
    assert f"- [x] **#{adopted[0].id}**" in md
    assert f"- [ ] **#{mine.id}**" in md


def test_items_about_their_own_incident_are_never_already_known(store: Store, kb: KnowledgeBase) -> None:
    from afteraction.store.actions import adopt_suggestions, update_item

    first = _review(store, kb, "51007")
    hunts = [a for a in first.action_items if a.what.startswith("Hunt for")]
    assert hunts
    assert {a.scope for a in hunts} == {"incident"}
    adopted = adopt_suggestions(store, "defender", "51007", first.action_items, kb=kb)
    assert {a.scope for a in adopted if a.what.startswith("Hunt for")} == {"incident"}
    general = add_item(store, what="Block PowerShell for users", links=["T1059.001"], kb=kb)
    scoped = add_item(store, what="Only about 51007", links=["T1059.001"], source="defender", incident_id="51007",
                      scope="incident", kb=kb)
    known = {k.id for k in _review(store, kb, "51112").known_items}
    assert general.id in known
    assert scoped.id not in known
    assert not known & {a.id for a in adopted if a.scope == "incident"}
    update_item(store, scoped.id, scope="general")
    assert scoped.id in {k.id for k in _review(store, kb, "51112").known_items}
