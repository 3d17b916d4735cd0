"""``afteraction ingest`` and ``afteraction incidents``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from afteraction.errors import RejectedRecordsError
from afteraction.render.json import iso, to_json
from afteraction.render.terminal import safe


def _db_option(func: Any) -> Any:
    """``--db`` accepted after the command too (``afteraction ingest x.json --db store.duckdb``)."""
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                        help="DuckDB store file (same as the global --db).")(func)


def _format_names() -> list[str]:
    from afteraction.ingest import READERS

    return sorted(READERS)


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(_format_names()), default=None,
              help="Input format for every file. [default: sniffed per file]")
@click.option("--strict", is_flag=True, help="Exit with status 7 if any record is rejected or file fails.")
@click.option("--summary", "summary_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to print the closing summary.")
@_db_option
@click.pass_obj
def ingest(
    app: Any, paths: tuple[str, ...], fmt: str | None, strict: bool, summary_format: str, db_path: str | None
) -> None:
    """Ingest Defender incident/alert exports into the store.

    PATH may be a file, a directory (read recursively: *.json, *.jsonl, *.ndjson, *.gz) or a glob.
    Formats are sniffed from content; gzip is detected by its magic bytes. Re-ingesting is safe:
    a record is replaced only by a newer lastUpdateDateTime. Each file is stored atomically.
    """
    from afteraction.store.loader import ingest_paths

    app.db = db_path or app.db
    kb = app.kb()
    with app.store() as store, _Progress() as progress:
        summary = ingest_paths(store, paths, kb, fmt=fmt, strict=strict,
                               on_file=progress.file, on_records=progress.records, on_merge=progress.merging)
    if summary_format == "json":
        click.echo(to_json(_summary_dict(summary)))
    else:
        _echo_summary(summary)
    if strict and (summary.rejected or summary.failed_files):
        raise RejectedRecordsError(
            f"--strict: {summary.rejected} record(s) rejected, {len(summary.failed_files)} file(s) failed"
        )


class _Progress:
    """Rich progress bars on a terminal (stderr): files overall and bytes of the current file.

    Silent when stderr is not a terminal, so piped output holds only the summary.
    """

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._progress: Any = None
        self._files: Any = None
        self._bytes: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                TextColumn("{task.fields[records]:>12,} records"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.__enter__()
            self._bytes = self._progress.add_task("", total=None, records=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def file(self, path: Path, size: int) -> None:
        if self._progress is not None:
            self._progress.reset(self._bytes, total=size or None, description=safe(path.name, 40), records=0)
            if not size:  # rich keeps the old total when given None: make the bar indeterminate
                self._progress.tasks[0].total = None

    def merging(self) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._bytes, description=f"{task.description} · merging into the store")

    def records(self, count: int, position: int | None) -> None:
        if self._progress is not None:
            update: dict[str, Any] = {"records": count}
            if position is not None:
                update["completed"] = position
            self._progress.update(self._bytes, **update)


def _summary_dict(summary: Any) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "store": summary.db_path,
        "attack_version": summary.attack_version,
        "files": [
            {"path": f.path, "format": f.format, "status": f.status, "error": f.error,
             "records_in": f.records_in, "incidents": f.counts.incidents, "alerts": f.counts.alerts,
             "evidence": f.counts.evidence, "rejected": f.rejected}
            for f in summary.files
        ],
        "skipped": summary.skipped,
        "incidents": summary.counts.incidents,
        "alerts": summary.counts.alerts,
        "evidence": summary.counts.evidence,
        "rejected": summary.rejected,
        "redirected_techniques": summary.redirected_techniques,
        "unknown_techniques": sorted(summary.unknown_techniques),
        "deprecated_techniques": sorted(summary.deprecated_techniques),
    }


def _echo_summary(summary: Any) -> None:
    ok = [f for f in summary.files if f.status == "ok"]
    inc, alr = summary.counts.incidents, summary.counts.alerts
    click.echo(f"Files: {len(ok)} ingested, {len(summary.failed_files)} failed, "
               f"{len(summary.skipped)} skipped (not JSON)")
    click.echo(f"Incidents: {inc['new']} new, {inc['updated']} updated, {inc['unchanged']} unchanged, "
               f"{inc['older']} older than stored (kept stored)")
    click.echo(f"Alerts: {alr['new']} new, {alr['updated']} updated, {alr['unchanged']} unchanged, "
               f"{alr['older']} older than stored (kept stored)")
    click.echo(f"Evidence: {summary.counts.evidence} stored")
    for failed in summary.failed_files:
        click.echo(f"  failed: {safe(failed.path)}: {safe(failed.error)}", err=True)
    for raw, new in summary.redirected_techniques.items():
        click.echo(f"Technique {safe(raw)} is revoked in ATT&CK {summary.attack_version}; counted as {new}")
    if summary.unknown_techniques:
        unknown = ", ".join(safe(t) for t in sorted(summary.unknown_techniques)[:20])
        click.echo(f"Techniques not in ATT&CK {summary.attack_version} (kept as given): {unknown}")
    if summary.deprecated_techniques:
        retired = ", ".join(safe(t) for t in sorted(summary.deprecated_techniques)[:20])
        click.echo(f"Techniques deprecated in ATT&CK {summary.attack_version} (no replacement; kept): {retired}")
    click.echo(f"Rejected records: {summary.rejected}")
    if summary.rejected:
        click.echo(f"  see them with: duckdb {safe(summary.db_path)} "  # noqa: S608 - a hint, not a query
                   f"\"SELECT * FROM rejected_records WHERE run_id = {summary.run_id}\"")
    click.echo(f"Store: {safe(summary.db_path)} (run {summary.run_id})")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N incidents.")
@_db_option
@click.pass_obj
def incidents(app: Any, fmt: str, limit: int | None, db_path: str | None) -> None:
    """List the stored incidents, newest first, with alert, technique and evidence counts."""
    from afteraction.store.tables import connect, incident_overview

    app.db = db_path or app.db
    with app.store(read_only=True) as store:
        expr = incident_overview(connect(store))
        if limit:
            expr = expr.limit(limit)
        rows = expr.to_pyarrow().to_pylist()
    if fmt == "json":
        for row in rows:
            for key, value in row.items():
                if hasattr(value, "isoformat"):
                    row[key] = iso(value)
        click.echo(to_json({"incidents": rows, "count": len(rows)}))
        return
    _print_table(rows)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(soft_wrap=False) if sys.stdout.isatty() else Console(width=200, color_system=None)
    table = Table(show_lines=False)
    for title in ("ID", "Created (UTC)", "Severity", "Status", "Determination", "Alerts", "Techniques",
                  "Title"):
        table.add_column(title, overflow="fold" if title == "Title" else "ellipsis")
    for row in rows:
        created = row["created"].strftime("%Y-%m-%d %H:%M") if row["created"] else "-"
        title = safe(row["title"] or "", 80) + (" (from alerts only)" if row["is_stub"] else "")
        table.add_row(*(Text(safe(v)) for v in (
            row["id"], created, row["severity"] or "-", row["status"] or "-",
            row["determination"] or row["classification"] or "-", row["alerts"], row["techniques"],
        )), Text(title))
    console.print(table)
    console.print(f"{len(rows)} incident(s)")
