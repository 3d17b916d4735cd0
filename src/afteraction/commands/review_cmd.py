"""``afteraction review`` (one incident) and ``afteraction report`` (the static site)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option


def write_text(text: str, out: str | None) -> None:
    """Write to ``out`` atomically (temp file + rename), or to stdout."""
    if out is None or out == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    from afteraction.render.output import write_output

    write_output(out, text)


def emit(result: Any, fmt: str, out: str | None, renderers: Mapping[str, Callable[[Any], str]]) -> None:
    """Write ``result`` as JSON (``fmt == "json"``) or through ``renderers[fmt]``, to ``out`` or stdout."""
    if fmt == "json":
        from afteraction.render.json import to_json

        text = to_json(result) + "\n"
    else:
        text = renderers[fmt](result)
    write_text(text, out)
    if out:
        click.echo(f"wrote {out}", err=True)


def render_review(review: Any, fmt: str) -> str:
    """A review as html, md or json text."""
    if fmt == "html":
        from afteraction.render.html import render_review_html

        return render_review_html(review)
    if fmt == "md":
        from afteraction.render.markdown import render_review_markdown

        return render_review_markdown(review)
    from afteraction.render.json import to_json

    return to_json(review) + "\n"


@click.command()
@click.argument("incident_id", metavar="INCIDENT_ID")
@click.option("--source", default="defender", show_default=True, help="Source the incident was ingested from.")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="md", show_default=True,
              help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of stdout.")
@_db_option
@click.pass_obj
def review(app: Any, incident_id: str, source: str, fmt: str, out: str | None, db_path: str | None) -> None:
    """Post-incident review of one stored incident.

    Header, incident type with reasons, summary, metrics (time to detect, acknowledge and resolve,
    compared with similar stored incidents), timeline, ATT&CK chain with skipped stages, entities,
    detection, recommendations, NIST SP 800-61 lessons-learned questions and suggested action items.
    """
    from afteraction.analyze.review import review_incident

    app.db = db_path or app.db
    kb = app.kb()
    with app.store(read_only=True) as store:
        result = review_incident(store, kb, incident_id, source=source)
    write_text(render_review(result, fmt), out)
    if out:
        click.echo(f"wrote {out}", err=True)


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory for the site (created; existing pages are replaced).")
@_db_option
@click.pass_obj
def report(app: Any, out_dir: str, db_path: str | None) -> None:
    """Build a static HTML site from the store: an index of incidents and one review page each.

    The site is self-contained (no network): open index.html in a browser. The index sorts and
    filters by type, severity, status and date in the page itself.
    """
    from afteraction.report import build_site

    app.db = db_path or app.db
    kb = app.kb()
    with app.store(read_only=True) as store, _PageProgress() as progress:
        index_path = build_site(store, kb, Path(out_dir), on_page=progress.page)
    click.echo(f"wrote {progress.count} review page(s); open {index_path}")


class _PageProgress:
    """A progress bar over review pages on a terminal; silent when piped."""

    def __init__(self) -> None:
        self.count = 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _PageProgress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("review pages", total=None)
        return self

    def page(self, done: int, total: int) -> None:
        self.count = done
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
