"""``afteraction actions list|add|update|close``: tracked action items kept in the store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.errors import UsageError
from afteraction.render.terminal import safe

STATUS_CHOICES = ["open", "closed", "all", "in_progress", "done", "wont_do"]
PRIORITY_CHOICES = ["high", "medium", "low"]


def _split(values: tuple[str, ...]) -> list[str]:
    """``--link`` values, each possibly comma-separated, in the order given."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _warn(checked: Any) -> None:
    for warning in checked.warnings:
        click.echo(f"warning: {safe(warning)}", err=True)


def _links(app: Any, values: tuple[str, ...]) -> list[str]:
    """Validated links (ATT&CK ids resolved against the loaded knowledge base), warnings on stderr."""
    from afteraction.store.actions import check_links

    links = _split(values)
    if not links:
        return []
    checked = check_links(links, app.kb())
    _warn(checked)
    return list(checked.links)


def _line(item: Any) -> str:
    where = f" (incident {safe(item.incident_id)}, {safe(item.source)})" if item.incident_id else ""
    return f"#{item.id} [{item.status}] {safe(item.what, 100)}{where}"


@click.group()
def actions() -> None:
    """Tracked action items: the review's suggested items adopted, and the ones users add.

    Each has what, why, owner, due date, status, priority and links to techniques, mitigations,
    tactics, controls, playbook steps or entities. See docs/actions.md.
    """


@actions.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="open", show_default=True,
              help="open = not closed (open or in_progress), closed = done or wont_do, all, or one status.")
@click.option("--owner", default=None, metavar="NAME", help="Only items of this owner (case ignored).")
@click.option("--incident", default=None, metavar="ID", help="Only items of this incident (ID or source:ID).")
@click.option("--technique", default=None, metavar="ID",
              help="Only items linked to this technique, its parent or its sub-techniques.")
@click.option("--overdue", is_flag=True, help="Only open items whose due date has passed.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@_db_option
@click.pass_obj
def list_cmd(app: Any, status: str, owner: str | None, incident: str | None, technique: str | None, overdue: bool,
             fmt: str, out: str | None, db_path: str | None) -> None:
    """List action items: overdue first, then by due date, priority and id."""
    from afteraction.commands.review_cmd import write_text
    from afteraction.store.actions import list_items

    app.db = db_path or app.db
    today = datetime.now(UTC).date()
    with app.store(read_only=True) as store:
        found = list_items(store, status=status, owner=owner, incident=incident, technique=technique,
                           overdue_only=overdue, today=today)
    from afteraction.render.actions import RENDERERS, print_table

    if fmt == "table" and out in (None, "-"):
        print_table(found, today, sys.stdout.isatty())
        return
    write_text(RENDERERS[fmt](found, today), out)
    if out and out != "-":
        click.echo(f"wrote {out}", err=True)


@actions.command("add")
@click.option("--what", default=None, metavar="TEXT", help="What to do (required unless --from-review).")
@click.option("--why", default=None, metavar="TEXT", help="Why it matters.")
@click.option("--owner", default=None, metavar="NAME", help="Who does it.")
@click.option("--due", default=None, metavar="YYYY-MM-DD", help="Due date.")
@click.option("--priority", type=click.Choice(PRIORITY_CHOICES), default="medium", show_default=True,
              help="Priority.")
@click.option("--link", "links", multiple=True, metavar="LINK",
              help="T1059.001, M1032, TA0001, control:TEXT, step:KEY or entity:TYPE:KEY; repeat or separate "
                   "with commas.")
@click.option("--incident", default=None, metavar="ID", help="The incident it comes from (ID or source:ID).")
@click.option("--scope", type=click.Choice(["general", "incident"]), default="general", show_default=True,
              help="general: other incidents showing the same technique or gap list it as already known; "
                   "incident: only about its own incident.")
@click.option("--from-review", "from_review", default=None, metavar="INCIDENT_ID",
              help="Adopt the suggested action items of this incident's review (ID or source:ID); idempotent.")
@_db_option
@click.pass_obj
def add(app: Any, what: str | None, why: str | None, owner: str | None, due: str | None, priority: str,
        links: tuple[str, ...], incident: str | None, scope: str, from_review: str | None,
        db_path: str | None) -> None:
    """Add an action item, or adopt the items a review suggests for an incident."""
    from afteraction.store.actions import add_item, parse_due, resolve_incident

    app.db = db_path or app.db
    if from_review is not None:
        extra = [name for name, value in (("--what", what), ("--why", why), ("--owner", owner), ("--due", due),
                                          ("--link", links), ("--incident", incident),
                                          ("--scope", scope != "general")) if value]
        if extra:
            raise UsageError(f"--from-review adopts the review's items as they are; drop {', '.join(extra)} "
                             "(change items afterwards with 'afteraction actions update')")
        _adopt(app, from_review)
        return
    if what is None or not what.strip():
        raise UsageError("actions add needs --what TEXT (or --from-review INCIDENT_ID)")
    parse_due(due)  # a bad date is refused before the knowledge base is loaded
    checked = _links(app, links)
    with app.store() as store:
        source, incident_id = resolve_incident(store, incident) if incident else (None, None)
        item = add_item(store, what=what, why=why, owner=owner, due=due, priority=priority, links=checked,
                        source=source, incident_id=incident_id, scope=scope)
    click.echo(f"added {_line(item)}")


def _adopt(app: Any, text: str) -> None:
    from afteraction.analyze.review import review_incident
    from afteraction.store.actions import adopt_suggestions, resolve_incident

    kb = app.kb()
    now = datetime.now(UTC)
    with app.store() as store:
        source, incident_id = resolve_incident(store, text)
        result = review_incident(store, kb, incident_id, source=source)
        items = adopt_suggestions(store, source, incident_id, result.action_items, kb=kb, now=now)
    new = [i for i in items if i.created == now]
    ids = ", ".join(f"#{i.id}" for i in items) or "none"
    click.echo(f"adopted {len(new)} suggested item(s) of incident {safe(incident_id)} ({safe(source)}); "
               f"{len(items) - len(new)} already tracked; items: {ids}")


@actions.command("update")
@click.argument("item_id", metavar="ID")
@click.option("--what", default=None, metavar="TEXT", help="New text of what to do.")
@click.option("--why", default=None, metavar="TEXT", help="New reason ('' clears it).")
@click.option("--owner", default=None, metavar="NAME", help="New owner ('' clears it).")
@click.option("--due", default=None, metavar="YYYY-MM-DD", help="New due date ('' clears it).")
@click.option("--priority", type=click.Choice(PRIORITY_CHOICES), default=None, help="New priority.")
@click.option("--status", type=click.Choice(["open", "in_progress", "done", "wont_do"]), default=None,
              help="New status; open or in_progress reopens a closed item.")
@click.option("--link", "links", multiple=True, metavar="LINK", help="Add a link (as for 'actions add').")
@click.option("--note", default=None, metavar="TEXT", help="Note ('' clears it).")
@click.option("--scope", type=click.Choice(["general", "incident"]), default=None,
              help="general: other incidents showing the same technique or gap list it as already known; "
                   "incident: only about its own incident.")
@_db_option
@click.pass_obj
def update(app: Any, item_id: str, what: str | None, why: str | None, owner: str | None, due: str | None,
           priority: str | None, status: str | None, links: tuple[str, ...], note: str | None, scope: str | None,
           db_path: str | None) -> None:
    """Change an action item (ID is 12 or #12)."""
    from afteraction.store.actions import parse_due, parse_item_id, update_item

    number = parse_item_id(item_id)
    if all(v is None for v in (what, why, owner, due, priority, status, note, scope)) and not links:
        raise UsageError("nothing to update: give at least one of --what, --why, --owner, --due, --priority, "
                         "--status, --link, --note, --scope")
    parse_due(due)
    app.db = db_path or app.db
    checked = _links(app, links)
    with app.store() as store:
        item = update_item(store, number, what=what, why=why, owner=owner, due=due, priority=priority,
                           status=status, add_links=checked, note=note, scope=scope)
    click.echo(f"updated {_line(item)}")


@actions.command("close")
@click.argument("item_id", metavar="ID")
@click.option("--wont-do", "wont_do", is_flag=True, help="Close as wont_do instead of done.")
@click.option("--note", default=None, metavar="TEXT", help="Closing note.")
@_db_option
@click.pass_obj
def close(app: Any, item_id: str, wont_do: bool, note: str | None, db_path: str | None) -> None:
    """Close an action item as done (or wont_do); closing it again changes nothing."""
    from afteraction.store.actions import close_item, parse_item_id

    number = parse_item_id(item_id)
    app.db = db_path or app.db
    with app.store() as store:
        item = close_item(store, number, wont_do=wont_do, note=note)
    click.echo(f"closed {_line(item)}")


# -- rendering ------------------------------------------------------------------------------------------
