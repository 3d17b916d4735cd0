"""The embedded DuckDB store: opening, migrating, atomic per-file writes and the audit trail."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import duckdb
import platformdirs

from afteraction.errors import AfteractionError, StoreError
from afteraction.model import Alert, Incident
from afteraction.store.merge import MergeCounts, attach_staging, drop_staging, publish
from afteraction.store.pipeline import Staged, stage_items
from afteraction.store.schema import AUDIT_TABLES, DATA_TABLES, USER_TABLES, has_table, migrate

SNIPPET_CHARS = 500


def default_db_path() -> Path:
    """``$AFTERACTION_DB``, else ``afteraction.duckdb`` in the user data directory."""
    env = os.environ.get("AFTERACTION_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("afteraction")) / "afteraction.duckdb"


@dataclass
class FileResult:
    """The outcome of ingesting one file."""

    path: str
    format: str
    file_id: int
    records_in: int = 0
    counts: MergeCounts = field(default_factory=MergeCounts)
    rejected: int = 0
    status: str = "ok"
    error: str | None = None


class Store:
    """An afteraction DuckDB database. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.read_only = read_only
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise StoreError(f"no store at {self.path}; run 'afteraction ingest' first")
            limit = _memory_limit(read_only)
            self.con = duckdb.connect(str(self.path), read_only=read_only)
            self.con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for long queries: it would corrupt piped JSON/CSV output.
            self.con.execute("SET enable_progress_bar = false")
            if limit is not None:
                self.con.execute(f"SET memory_limit = '{limit}'")
            if not read_only:
                migrate(self.con)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # -- audit trail -------------------------------------------------------------------------------

    def start_run(self, *, attack_version: str, attack_source: str, strict: bool, files: int) -> int:
        from afteraction import __version__

        row = self.con.execute("SELECT nextval('ingest_run_ids')").fetchone()
        run_id = int(row[0]) if row else 0
        self.con.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, NULL, ?, ?, ?, ?, ?, 'running')",
            [run_id, _now(), __version__, attack_version, attack_source, strict, files],
        )
        return run_id

    def finish_run(self, run_id: int, status: str) -> None:
        self.con.execute(
            "UPDATE ingest_runs SET finished = ?, status = ? WHERE run_id = ?", [_now(), status, run_id]
        )

    # -- writing -----------------------------------------------------------------------------------

    def ingest_file(
        self,
        run_id: int,
        path: str,
        fmt: str,
        items: Iterable[Incident | Alert | object],
        *,
        size_bytes: int | None = None,
        on_records: Callable[[int], None] | None = None,
        on_merge: Callable[[], None] | None = None,
    ) -> FileResult:
        """Store every record of one file atomically: all of it, or (on any error) none of it.

        ``items`` yields incidents, alerts and rejections. Records are staged batch by batch, then
        merged into the store in one transaction. A failure or interrupt while reading leaves the
        store's data as it was, records the file as failed (or interrupted) and re-raises.
        """
        return self.ingest_staged(
            run_id, path, fmt, lambda directory: stage_items(items, directory, on_records),
            size_bytes=size_bytes, on_merge=on_merge,
        )

    def ingest_staged(
        self, run_id: int, path: str, fmt: str, stage: Callable[[Path], Staged], *,
        size_bytes: int | None = None, on_merge: Callable[[], None] | None = None,
    ) -> FileResult:
        """Like :meth:`ingest_file`, with the staging done by ``stage`` into the directory it is given.

        ``on_merge`` is called when reading is done and the merge into the store begins.
        """
        row = self.con.execute("SELECT nextval('ingest_file_ids')").fetchone()
        result = FileResult(path=path, format=fmt, file_id=int(row[0]) if row else 0)
        started = _now()
        staging = Path(tempfile.mkdtemp(prefix=".afteraction-staging-", dir=_staging_parent(self.path)))
        in_transaction = False
        try:
            staged = stage(staging)
            result.records_in = staged.records_in
            rejections = [self._rejection_row(item, result, run_id, path) for item in staged.rejections]
            if on_merge:
                on_merge()
            self.con.execute("BEGIN TRANSACTION")
            in_transaction = True
            if staged.files:
                attach_staging(self.con, staged.files)
                result.counts = publish(self.con, result.file_id)
            if rejections:
                self.con.executemany("INSERT INTO rejected_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rejections)
            result.rejected = len(rejections)
            self._record_file(result, run_id, size_bytes, started)
            self.con.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(duckdb.Error):
                if in_transaction:
                    self.con.execute("ROLLBACK")
            result.status = "failed" if isinstance(exc, Exception) else "interrupted"
            result.error = str(exc) or type(exc).__name__
            result.counts = MergeCounts()
            with contextlib.suppress(duckdb.Error):
                self._record_file(result, run_id, size_bytes, started)
            if isinstance(exc, Exception) and not isinstance(exc, AfteractionError | OSError | EOFError):
                # e.g. DuckDB out of memory, or a value the store cannot hold: this file fails, others go on
                raise StoreError(f"cannot store {path}: {type(exc).__name__}: {exc}") from exc
            raise
        finally:
            drop_staging(self.con)
            shutil.rmtree(staging, ignore_errors=True)
        return result

    def record_failed_file(self, run_id: int, path: str, fmt: str, error: str) -> FileResult:
        """Record a file that could not be read at all (e.g. an unknown format)."""
        row = self.con.execute("SELECT nextval('ingest_file_ids')").fetchone()
        result = FileResult(path=path, format=fmt, file_id=int(row[0]) if row else 0,
                            status="failed", error=error)
        self._record_file(result, run_id, None, _now())
        return result

    def _rejection_row(self, item: object, result: FileResult, run_id: int, path: str) -> tuple[object, ...]:
        location = getattr(item, "location", item)
        snippet = getattr(item, "snippet", None)
        if isinstance(snippet, str) and len(snippet) > SNIPPET_CHARS:
            snippet = snippet[:SNIPPET_CHARS] + "…"
        return (
            result.file_id, run_id, getattr(location, "file", None) or path,
            getattr(location, "record", None), getattr(location, "line", None),
            getattr(location, "pointer", None), str(getattr(item, "reason", item)), snippet,
        )

    def _record_file(self, r: FileResult, run_id: int, size: int | None, started: datetime) -> None:
        c = r.counts
        self.con.execute(
            "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r.file_id, run_id, r.path, r.format, size, started, _now(), r.records_in,
             c.incidents["new"], c.incidents["updated"], c.incidents["unchanged"], c.incidents["older"],
             c.alerts["new"], c.alerts["updated"], c.alerts["unchanged"], c.alerts["older"],
             c.evidence, r.rejected, r.status, r.error],
        )

    # -- reading -----------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """The store's tables: data, user (if this store has them yet) and audit tables."""
        return [*DATA_TABLES, *(t for t in USER_TABLES if has_table(self.con, t)), *AUDIT_TABLES]

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table."""
        counts = {}
        for table in self.tables():
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed names
            counts[table] = int(row[0]) if row else 0
        return counts

    def export_parquet(self, directory: str | Path) -> list[Path]:
        """Write every table as ``<table>.parquet`` into ``directory`` (for a scale-out engine)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for table in self.tables():
            target = out / f"{table}.parquet"
            self.con.execute(f"COPY {table} TO '{_sql_str(target)}' (FORMAT parquet)")
            written.append(target)
        return written


def _staging_parent(db_path: Path) -> Path:
    """Stage next to the store (same disk), unless its path has glob characters DuckDB would expand."""
    if set(str(db_path.parent.resolve())) & set("*?[]{}"):
        return Path(tempfile.gettempdir())
    return db_path.parent


def _memory_limit(read_only: bool) -> str | None:
    """DuckDB's memory budget: ``$AFTERACTION_DUCKDB_MEMORY`` (e.g. ``4GB``); else 1GB for a store opened
    for writing, and DuckDB's own default (80 % of the memory it detects) for one opened read-only (None).

    Ingest holds a fixed budget so that its memory stays flat, spilling to disk beyond it. The analyses only
    read, and their period tables alone hold about 0.56 GB for 0.93M alerts: under a fixed 1 GB a store a
    few times larger would spill every group-by to disk.
    """
    value = os.environ.get("AFTERACTION_DUCKDB_MEMORY", "").strip()
    if not value:
        return None if read_only else "1GB"
    if not value.replace(".", "", 1).rstrip("KMGTBkmgtib").isdigit():
        raise StoreError(f"AFTERACTION_DUCKDB_MEMORY must look like 512MB or 4GB, not {value!r}")
    return value


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _now() -> datetime:
    return datetime.now(UTC)
