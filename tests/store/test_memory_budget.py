"""DuckDB's memory budget: fixed for writing (ingest), DuckDB's default for reading, the variable overrides."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from afteraction.store import Store
from afteraction.store.db import StoreError


def _limit(store: Store) -> str:
    return store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _duckdb(setting: str | None) -> str:
    """How DuckDB shows a budget (``None``: its own default)."""
    con = duckdb.connect()
    if setting:
        con.execute(f"SET memory_limit = '{setting}'")
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_writing_is_capped_and_reading_has_duckdbs_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERACTION_DUCKDB_MEMORY", raising=False)
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        assert _limit(store) == _duckdb("1GB")
    with Store(path, read_only=True) as store:
        assert _limit(store) == _duckdb(None)


def test_the_variable_sets_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERACTION_DUCKDB_MEMORY", "512MB")
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        assert _limit(store) == _duckdb("512MB")
    with Store(path, read_only=True) as store:
        assert _limit(store) == _duckdb("512MB")
    assert _duckdb("512MB") != _duckdb("1GB")
    monkeypatch.setenv("AFTERACTION_DUCKDB_MEMORY", "lots")
    with pytest.raises(StoreError, match="AFTERACTION_DUCKDB_MEMORY"):
        Store(path, read_only=True)
