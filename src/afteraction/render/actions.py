"""Action items as a terminal table, Markdown, CSV, JSON and the report site's HTML page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from afteraction.render.terminal import safe

CSV_COLUMNS = ("id", "status", "overdue", "priority", "due", "owner", "what", "why", "links", "source",
               "incident_id", "origin", "scope", "created", "updated", "closed", "note")


def _row(item: Any, today: date) -> dict[str, Any]:
    from afteraction.render.json import iso
    from afteraction.store.actions import is_overdue

    return {
        "id": item.id, "status": item.status, "overdue": is_overdue(item, today), "priority": item.priority,
        "due": item.due.isoformat() if item.due else None, "owner": item.owner, "what": item.what,
        "why": item.why, "links": list(item.links), "source": item.source, "incident_id": item.incident_id,
        "origin": item.origin, "created": iso(item.created), "updated": iso(item.updated),
        "closed": iso(item.closed), "note": item.note, "scope": item.scope,
    }


def render_json(found: list[Any], today: date) -> str:
    """A JSON list of items (keys sorted), each with its ``overdue`` flag."""
    from afteraction.render.json import to_json

    return to_json([_row(i, today) for i in found]) + "\n"


def render_csv(found: list[Any], today: date) -> str:
    """One row per item; formula prefixes neutralised, control characters escaped."""
    import csv
    import io

    from afteraction.render.coverage import csv_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in found:
        row = _row(item, today)
        row["links"] = " ".join(row["links"])
        row["overdue"] = "yes" if row["overdue"] else ""
        writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def render_md(found: list[Any], today: date) -> str:
    """A Markdown table; every cell escaped."""
    from afteraction.render.markdown import escape
    from afteraction.store.actions import is_overdue

    lines = ["| # | Status | Priority | Due | Owner | What | Links | Incident |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for i in found:
        status = f"{i.status} (overdue)" if is_overdue(i, today) else i.status
        incident = f"{i.source}:{i.incident_id}" if i.incident_id else None
        cells = [escape(f"#{i.id}"), escape(status), escape(i.priority), escape(i.due.isoformat() if i.due else None),
                 escape(i.owner), escape(i.what), escape(", ".join(i.links) or None), escape(incident)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{len(found)} action item(s)")
    return "\n".join(lines) + "\n"


def _table(found: list[Any], today: date, color: bool) -> Any:
    from rich.table import Table
    from rich.text import Text

    from afteraction.store.actions import is_overdue

    table = Table(show_lines=False)
    for title in ("#", "Status", "Due", "Pri", "Owner", "What", "Links", "Incident"):
        table.add_column(title, overflow="fold" if title in ("What", "Links") else "ellipsis")
    for i in found:
        late = is_overdue(i, today)
        due = (i.due.isoformat() if i.due else "-") + (" OVERDUE" if late else "")
        incident = f"{i.source}:{i.incident_id}" if i.incident_id else "-"
        table.add_row(Text(f"#{i.id}"), Text(safe(i.status)), Text(due, style="bold red" if late and color else ""),
                      *(Text(safe(v)) for v in (i.priority, i.owner or "-")), Text(safe(i.what, 120)),
                      Text(safe(", ".join(i.links), 120)), Text(safe(incident)))
    return table


def print_table(found: list[Any], today: date, tty: bool) -> None:
    from rich.console import Console

    console = Console(soft_wrap=False) if tty else Console(width=200, color_system=None)
    console.print(_table(found, today, tty))
    from afteraction.store.actions import is_overdue

    overdue = sum(1 for i in found if is_overdue(i, today))
    console.print(f"{len(found)} action item(s), {overdue} overdue")


def _table_text(found: list[Any], today: date) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    console.print(_table(found, today, False))
    console.print(f"{len(found)} action item(s)")
    return buffer.getvalue()


def render_actions_html(found: list[Any], today: date, *, generated: datetime, index_href: str | None = None,
                        pages: dict[tuple[str, str], str] | None = None) -> str:
    """The site's action items page: open items first, overdue ones flagged, closed ones after."""
    from afteraction.render import fmt
    from afteraction.render.html import environment
    from afteraction.store.actions import is_overdue

    ordered = sorted(found, key=lambda i: i.is_closed)  # stable: open ones first, each group in the given order
    rows = [{"item": i, "overdue": is_overdue(i, today),
             "page": fmt.relative_href((pages or {}).get((i.source or "", i.incident_id or "")))} for i in ordered]
    from afteraction import __version__

    return environment().get_template("actions.html.j2").render(
        rows=rows, today=today, generated=generated, index_href=fmt.relative_href(index_href),
        overdue=sum(r["overdue"] for r in rows), open=sum(not r["item"].is_closed for r in rows),
        attack_version="", script_src="'none'", version=__version__)


RENDERERS = {"json": render_json, "csv": render_csv, "md": render_md, "table": _table_text}

__all__ = ["CSV_COLUMNS", "RENDERERS", "print_table", "render_actions_html", "render_csv", "render_json",
           "render_md"]
