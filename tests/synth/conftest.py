"""Fixtures for the generator tests: the bundled ATT&CK data and small generated samples, made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from afteraction.attack import KnowledgeBase, load_kb
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, generate, load_truth
from afteraction.synth.incident import Built, build
from afteraction.synth.plan import Plan

from .support import Sample


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's store, cache or data directories."""
    monkeypatch.setenv("AFTERACTION_DB", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFTERACTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AFTERACTION_ATTACK", raising=False)


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The bundled ATT&CK v18.1, compiled once into a session cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AFTERACTION_CACHE_DIR", str(tmp_path_factory.mktemp("synth-cache")))
        yield load_kb("bundled")


def _sample(root: Path, kb: KnowledgeBase, options: Options) -> Sample:
    result = generate(options, root / "out", kb)
    db = root / "store.duckdb"
    with Store(db) as store:
        summary = ingest_paths(store, [str(result.export_dir)], kb)
    return Sample(result, load_truth(result.truth_path), db, summary)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Sample:
    """400 incidents over 26 weeks (pages of 40), ingested."""
    return _sample(tmp_path_factory.mktemp("sample"), kb, Options(incidents=400, seed=11, page_size=40))


@pytest.fixture(scope="session")
def hostile_sample(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Sample:
    """80 incidents with hostile strings, NDJSON, ingested."""
    return _sample(tmp_path_factory.mktemp("hostile"), kb,
                   Options(incidents=80, seed=5, format="ndjson", hostile=True))


@pytest.fixture(scope="session")
def big(kb: KnowledgeBase) -> tuple[Plan, list[Built]]:
    """3,000 incidents built in memory (no files), for the planted statistics."""
    plan = Plan(Options(incidents=3000, seed=21), kb)
    return plan, [build(plan, i) for i in range(3000)]
