"""Every CLI test runs against its own store, cache and data directories, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AFTERACTION_DB", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFTERACTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AFTERACTION_ATTACK", raising=False)
    return tmp_path


@pytest.fixture
def ingested(isolated: Path) -> Path:
    """The isolated store with the shipped example incidents ingested."""
    from cli_helpers import EXAMPLE, run

    run("ingest", str(EXAMPLE))
    return isolated
