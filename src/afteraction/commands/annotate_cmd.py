"""``afteraction annotate`` (record techniques analysts found) and ``afteraction annotations`` (list them)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.errors import UsageError
from afteraction.render.json import iso, to_json
from afteraction.render.terminal import safe


def _split(values: tuple[str, ...]) -> list[str]:
    """``--technique`` values, each possibly comma-separated, in the order given."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command()
@click.argument("incident_id", metavar="INCIDENT_ID")
@click.option("--technique", "techniques", multiple=True, metavar="ID",
              help="ATT&CK technique id; repeat the option or separate ids with commas.")
@click.option("--undetected", is_flag=True,
              help="The techniques were found in the incident but raised no alert (required: the only kind "
                   "for now).")
@click.option("--note", default=None, help="Free text stored with each annotation.")
@click.option("--author", default=None, metavar="NAME", help="Who records it. [default: $USER]")
@click.option("--remove", is_flag=True, help="Remove these annotations instead of adding them.")
@click.option("--source", default="defender", show_default=True, metavar="NAME",
              help="Source the incident was ingested from.")
@_db_option
@click.pass_obj
def annotate(app: Any, incident_id: str, techniques: tuple[str, ...], undetected: bool, note: str | None,
             author: str | None, remove: bool, source: str, db_path: str | None) -> None:
    """Record techniques that analysts found in an incident but that raised no alert.

    Coverage and review count these as observed but undetected. Revoked ids are stored as their
    current replacement; ids this ATT&CK version does not know are kept with a warning. Annotating
    again updates the note, author and time.
    """
    from afteraction.store.annotations import annotate as annotate_incident
    from afteraction.store.annotations import remove_annotations

    if not undetected:
        raise UsageError("annotate needs --undetected: it is the only kind of annotation for now "
                         "(techniques found in the incident that raised no alert)")
    ids = _split(techniques)
    if not ids:
        raise UsageError("annotate needs at least one --technique ID (e.g. --technique T1059.001)")
    app.db = db_path or app.db
    kb = app.kb()
    with app.store() as store:
        if remove:
            removed = remove_annotations(store, incident_id, ids, kb, source=source, kind="undetected")
            gone = ", ".join(safe(a.technique_id) for a in removed) or "nothing"
            click.echo(f"removed from incident {safe(incident_id)} ({safe(source)}): {gone}")
            return
        who = author if author is not None else (os.environ.get("USER") or os.environ.get("USERNAME"))
        result = annotate_incident(store, incident_id, ids, kb, source=source, kind="undetected",
                                   note=note, author=who)
    for raw, current in sorted(result.redirects.items()):
        click.echo(f"note: {safe(raw)} is revoked in ATT&CK {safe(kb.version)}; recorded as {safe(current)}",
                   err=True)
    for warning in result.warnings:
        click.echo(f"warning: {safe(warning)}", err=True)
    stored = ", ".join(safe(a.technique_id) for a in result.annotations)
    click.echo(f"annotated incident {safe(incident_id)} ({safe(source)}) as undetected: {stored}")


@click.command()
@click.argument("incident_id", metavar="[INCIDENT_ID]", required=False)
@click.option("--source", default=None, metavar="NAME",
              help="Only annotations of incidents from this source. [default: all]")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
@_db_option
@click.pass_obj
def annotations(app: Any, incident_id: str | None, source: str | None, fmt: str, db_path: str | None) -> None:
    """List analyst annotations, of one incident or of all of them."""
    from afteraction.store.annotations import list_annotations

    app.db = db_path or app.db
    with app.store(read_only=True) as store:
        found = list_annotations(store, incident_id, source=source)
    if fmt == "json":
        rows = [{"source": a.source, "incident_id": a.incident_id, "technique_id": a.technique_id,
                 "raw": a.raw, "kind": a.kind, "note": a.note, "author": a.author, "created": iso(a.created)}
                for a in found]
        click.echo(to_json({"annotations": rows, "count": len(rows)}))
        return
    _print_table(found)


def _print_table(found: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(soft_wrap=False) if sys.stdout.isatty() else Console(width=200, color_system=None)
    table = Table(show_lines=False)
    for title in ("Source", "Incident", "Technique", "Given as", "Kind", "Author", "Created (UTC)", "Note"):
        table.add_column(title, overflow="fold" if title == "Note" else "ellipsis")
    for a in found:
        created = a.created.strftime("%Y-%m-%d %H:%M") if a.created else "-"
        table.add_row(*(Text(safe(v)) for v in (
            a.source, a.incident_id, a.technique_id, a.raw, a.kind, a.author or "-", created,
        )), Text(safe(a.note or "", 120)))
    console.print(table)
    console.print(f"{len(found)} annotation(s)")
