"""Shared fixtures of the store tests: the bundled ATT&CK data, and a store holding incidents 1 and 2
(``test_store.py`` keeps its own empty ``store``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_store import ingest, make_incident

from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.duckdb") as s:
        ingest(s, [make_incident("1"), make_incident("2")])
        yield s
