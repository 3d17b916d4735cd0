"""The embedded DuckDB store: schema, idempotent upserts, ingest audit trail and Ibis access."""

from afteraction.store.db import FileResult, Store, default_db_path
from afteraction.store.merge import MergeCounts

__all__ = ["FileResult", "MergeCounts", "Store", "default_db_path"]
