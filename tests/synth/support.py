"""Helpers shared by the generator tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from afteraction.store.loader import IngestSummary
from afteraction.synth import Options, Result, Truth


@dataclass
class Sample:
    """A generated sample, its truth, and the store it was ingested into."""

    result: Result
    truth: Truth
    db: Path
    summary: IngestSummary

    @property
    def options(self) -> Options:
        o = self.truth.options
        return Options(incidents=o.incidents, weeks=o.weeks, seed=o.seed, end=o.end, format=o.format,
                       page_size=o.page_size, hostile=o.hostile)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Query a store file read-only; rows as dicts."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
