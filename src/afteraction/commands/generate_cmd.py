"""``afteraction generate``: seeded sample data in Microsoft Graph shape, with its planted truth."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from afteraction.commands.params import UtcTime
from afteraction.render.terminal import safe


@click.command()
@click.option("--incidents", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of incidents.")
@click.option("--weeks", type=click.IntRange(min=1), default=26, show_default=True,
              help="Length of the period, ending at --end.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed: the same seed and options give byte-identical output.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output directory: DIR/export/ holds the exports, DIR/truth.json what was planted.")
@click.option("--format", "fmt", type=click.Choice(["pages", "ndjson"]), default="pages", show_default=True,
              help="Graph incident list pages (one file per page) or one NDJSON file (big runs).")
@click.option("--page-size", type=click.IntRange(min=1), default=50, show_default=True,
              help="Incidents per page file (--format pages).")
@click.option("--end", type=UtcTime(), default="2026-11-02T00:00:00Z", show_default=True,
              help="End of the period (exclusive); fixed so output never depends on today's date.")
@click.option("--hostile", is_flag=True, help="Plant hostile strings (script tags, javascript: URLs, CSV "
              "formulas, terminal escapes, right-to-left overrides) in some incidents.")
@click.option("--force", is_flag=True, help="Replace data generated earlier in DIR.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes to build incidents with; the output is the same for any number. "
                   "[default: one per core (at most 4) from 20,000 incidents, else 1]")
@click.pass_obj
def generate(app: Any, incidents: int, weeks: int, seed: int, out_dir: str, fmt: str, page_size: int,
             end: datetime, hostile: bool, force: bool, workers: int | None) -> None:
    """Generate sample incidents with planted ground truth (ATT&CK-driven attacks, detection gaps,
    trends, skill gaps, noisy detectors, campaign clusters).

    Writes Microsoft Graph security v1.0 incident exports that 'afteraction ingest DIR/export' reads,
    and DIR/truth.json describing everything planted. See docs/generate.md.
    """
    from afteraction.synth import Options
    from afteraction.synth import generate as run

    kb = app.kb()
    options = Options(incidents=incidents, weeks=weeks, seed=seed, end=end, format=fmt, page_size=page_size,
                      hostile=hostile)
    with _Progress(incidents) as progress:
        result = run(options, out_dir, kb, force=force, workers=workers, progress=progress.update)
    click.echo(f"Generated {result.incidents:,} incidents, {result.alerts:,} alerts, {result.evidence:,} evidence "
               f"(seed {seed}, ATT&CK {safe(kb.version)})")
    click.echo(f"Exports: {safe(result.export_dir)} ({len(result.files)} file(s))")
    click.echo(f"Truth: {safe(result.truth_path)}")
    click.echo(f"Next: afteraction ingest {safe(result.export_dir)}")


class _Progress:
    """A rich progress bar on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress("generating", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                      TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def update(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)
