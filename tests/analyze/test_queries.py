"""Compiled-query cache: the cached SQL gives the same rows as Ibis, and is compiled once per code version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from afteraction.analyze import queries
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.store.tables import connect, incident_overview

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "defender-incidents.json"


@pytest.fixture
def store(tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    s = Store(tmp_path / "s.duckdb")
    ingest_paths(s, [str(EXAMPLE)], kb)
    return s


def test_cached_sql_matches_ibis_and_compiles_once(store: Store) -> None:
    builds: list[int] = []

    def build(con: Any) -> Any:
        builds.append(1)
        return incident_overview(con)

    sources = (sys.modules[__name__],)
    first = queries.run_rows(store, "overview", build, sources)
    second = queries.run_rows(store, "overview", build, sources)
    assert len(builds) == 1  # the second run used the cached SQL
    assert first == second
    expected = incident_overview(connect(store)).to_pyarrow().to_pylist()
    assert first == expected
    assert [r["id"] for r in first] == ["51190", "51112", "51007"]


def test_changed_code_recompiles_and_unwritable_cache_still_works(store: Store, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import afteraction.analyze.review.model as other_module

    builds: list[int] = []

    def build(con: Any) -> Any:
        builds.append(1)
        return incident_overview(con)

    queries.run_rows(store, "overview", build, (sys.modules[__name__],))
    queries.run_rows(store, "overview", build, (other_module,))  # another source hash: another key
    assert len(builds) == 2
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(blocker))
    rows = queries.run_rows(store, "overview", build, (sys.modules[__name__],))
    assert len(rows) == 3
    assert len(builds) == 3
