"""Tracked action items: the review's suggested follow-ups adopted by a user and the ones users add.

Action items are user data kept in their own table (schema version 4; its ``scope`` column, version 5):
ingest never writes or deletes them. Each has an id from a sequence (shown as ``#12``), what to do, why, an
owner, a due date, a status (``open``, ``in_progress``, ``done``, ``wont_do``; closed = done or wont_do),
a priority and typed links:
technique (``T1059.001``), mitigation (``M1032``) and tactic (``TA0001``) ids, ``control:<text>``,
``step:<playbook step key>`` and ``entity:<type>:<key>``. Technique ids are resolved against the loaded
ATT&CK version as annotations are: a revoked id is stored as its replacement, an unknown one is kept with
a warning, text that is no link is refused. Adopting a review's suggestions again never duplicates them
(``suggestion_key``). :func:`open_items_for` finds the items still open that a later incident shows again.
See ``docs/actions.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Protocol

import duckdb
import msgspec

from afteraction.attack.kb import normalize_technique_id
from afteraction.errors import StoreError, UsageError
from afteraction.store.action_links import (
    LinkCheck,
    check_links,
    parse_due,
    parse_item_id,
    review_link,
)
from afteraction.store.db import Store
from afteraction.store.schema import has_column, has_table

STATUSES = ("open", "in_progress", "done", "wont_do")
OPEN_STATUSES = ("open", "in_progress")
CLOSED_STATUSES = ("done", "wont_do")
PRIORITIES = ("high", "medium", "low")
ORIGINS = ("suggested", "user")
SCOPES = ("general", "incident")
STATUS_FILTERS = ("open", "closed", "all", "in_progress", "done", "wont_do")
"""``open`` = not closed (open or in progress), ``closed`` = done or wont_do, ``all``, or one status."""

_COLUMNS = ("id, source, incident_id, what, why, owner, due, status, priority, links, origin, suggestion_key, "
            "created, updated, closed, note, scope")
_PRIORITY_SQL = "CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
_OPEN_SQL = "status IN ('open', 'in_progress')"
# An item matches a technique when a link is the technique, its parent, or one of its sub-techniques.
_TECHNIQUE_SQL = ("(list_has_any(links, ?::VARCHAR[]) OR "
                  "list_has_any(list_transform(links, lambda l: split_part(l, '.', 1)), ?::VARCHAR[]))")


class ActionItemRecord(msgspec.Struct, frozen=True):
    """One stored action item; ``source`` and ``incident_id`` are None for program-level items."""

    id: int
    source: str | None
    incident_id: str | None
    what: str
    why: str | None
    owner: str | None
    due: date | None
    status: str
    priority: str
    links: tuple[str, ...]
    origin: str
    suggestion_key: str | None
    created: datetime
    updated: datetime
    closed: datetime | None = None
    note: str | None = None
    #: ``general``: about a technique or gap any incident can show again (matched by :func:`open_items_for`);
    #: ``incident``: only about its own incident (e.g. "hunt for Execution activity in this incident")
    scope: str = "general"

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def label(self) -> str:
        """``#12``."""
        return f"#{self.id}"


class SuggestedItem(Protocol):
    """What :func:`adopt_suggestions` reads of a review's item (``afteraction.analyze.review.model.ActionItem``)."""

    @property
    def what(self) -> str: ...
    @property
    def why(self) -> str | None: ...
    @property
    def links(self) -> tuple[str, ...]: ...
    @property
    def priority(self) -> str: ...


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {what} {value!r}; known: {', '.join(allowed)}")
    return value


def _what(value: str) -> str:
    if not value or not value.strip():
        raise UsageError("an action item needs a non-empty 'what' (e.g. --what 'Enable MFA for admins')")
    return value


def suggestion_key(source: str, incident_id: str, what: str) -> str:
    """Stable key of a suggested item: its incident and its text (case and spacing ignored)."""
    norm = " ".join(what.lower().split())
    digest = hashlib.sha256("\x1f".join((source, incident_id, norm)).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def is_overdue(item: ActionItemRecord, today: date) -> bool:
    """Whether ``item`` is still open and its due date is before ``today``."""
    return not item.is_closed and item.due is not None and item.due < today


# -- store helpers --------------------------------------------------------------------------------------


def _writable(store: Store) -> None:
    if store.read_only:
        raise StoreError(f"the store {store.path} is open read-only; action items need a writable store")


def _write(store: Store, statements: list[tuple[str, list[Any]]]) -> None:
    """Run ``statements`` (sql, params) in one transaction: all of them or none."""
    con = store.con
    try:
        con.execute("BEGIN TRANSACTION")
        for sql, params in statements:
            con.execute(sql, params)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise StoreError(f"cannot write action items: {exc}") from exc


def _rows(store: Store, where: str = "", params: list[Any] | None = None, order: str = "id") -> list[ActionItemRecord]:
    if not has_table(store.con, "action_items"):
        return []
    # A read-only open of a version-4 store has no scope column yet: every item is then "general".
    table = ("action_items" if has_column(store.con, "action_items", "scope")
             else "(SELECT *, 'general' AS scope FROM action_items) AS action_items")
    sql = f"SELECT {_COLUMNS} FROM {table}"  # noqa: S608 - fixed names
    if where:
        sql += " WHERE " + where
    sql += " ORDER BY " + order
    try:
        found = store.con.execute(sql, params or []).fetchall()
    except duckdb.Error as exc:
        raise StoreError(f"cannot read action items: {exc}") from exc
    return [_record(row) for row in found]


def _record(row: tuple[Any, ...]) -> ActionItemRecord:
    values = list(row)
    values[9] = tuple(values[9] or ())
    for i in (12, 13, 14):
        if values[i] is not None:
            values[i] = values[i].astimezone(UTC)
    return ActionItemRecord(*values)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _check_incident(store: Store, source: str | None, incident_id: str | None) -> None:
    if (source is None) != (incident_id is None):
        raise UsageError("an action item's incident needs both its source and its id")
    if source is None:
        return
    row = store.con.execute("SELECT count(*) FROM incidents WHERE source = ? AND id = ?",
                            [source, incident_id]).fetchone()
    if not (row and row[0]):
        raise UsageError(f"no incident {incident_id!r} (source {source!r}) in the store {store.path}; "
                         "see 'afteraction incidents' for what is stored")


def resolve_incident(store: Store, text: str) -> tuple[str, str]:
    """``ID`` or ``source:ID`` as the (source, id) of a stored incident; UsageError when none or ambiguous."""
    value = text.strip()
    source, sep, rest = value.partition(":")
    found: list[tuple[str, str]] = []
    if sep:
        found = [tuple(r) for r in store.con.execute(  # type: ignore[misc]
            "SELECT source, id FROM incidents WHERE source = ? AND id = ?", [source, rest]).fetchall()]
    if not found:
        found = [tuple(r) for r in store.con.execute(  # type: ignore[misc]
            "SELECT source, id FROM incidents WHERE id = ? ORDER BY source", [value]).fetchall()]
    if not found:
        raise UsageError(f"no incident {value!r} in the store {store.path}; "
                         "see 'afteraction incidents' for what is stored")
    if len(found) > 1:
        raise UsageError(f"incident id {value!r} is in several sources ({', '.join(s for s, _ in found)}); "
                         f"say which, e.g. {found[0][0]}:{value}")
    return found[0]


# -- writing --------------------------------------------------------------------------------------------


def add_item(
    store: Store, *, what: str, why: str | None = None, owner: str | None = None, due: str | date | None = None,
    priority: str = "medium", links: Iterable[str] = (), source: str | None = None,
    incident_id: str | None = None, kb: Any = None, now: datetime | None = None, scope: str = "general",
) -> ActionItemRecord:
    """Add a user's action item (status open); the incident, if given, must be in the store.

    ``scope="incident"`` keeps the item out of other incidents' "already known" lists.
    """
    _writable(store)
    _what(what)
    _choice(priority, PRIORITIES, "priority")
    _choice(scope, SCOPES, "scope")
    due_date = parse_due(due)
    checked = check_links(links, kb)
    _check_incident(store, source, incident_id)
    at = _now(now)
    row = store.con.execute("SELECT nextval('action_item_ids')").fetchone()
    item_id = int(row[0]) if row else 0
    values = [item_id, source, incident_id, what, why or None, owner or None, due_date, "open", priority,
              list(checked.links), "user", None, at, at, None, None, scope]
    sql = f"INSERT INTO action_items ({_COLUMNS}) VALUES ({', '.join('?' * 17)})"  # noqa: S608 - fixed names
    _write(store, [(sql, values)])
    return get_item(store, item_id)


def adopt_suggestions(
    store: Store, source: str, incident_id: str, items: Iterable[SuggestedItem], *, kb: Any = None,
    now: datetime | None = None,
) -> list[ActionItemRecord]:
    """Track a review's suggested items for the incident; adopting them again adds nothing.

    Returns the tracked rows of ``items`` in their order (ones adopted before are returned unchanged).
    """
    _writable(store)
    _check_incident(store, source, incident_id)
    at = _now(now)
    keyed: dict[str, SuggestedItem] = {}
    for item in items:
        keyed.setdefault(suggestion_key(source, incident_id, item.what), item)
    existing = {r.suggestion_key for r in _rows(store, "suggestion_key IN (SELECT unnest(?::VARCHAR[]))",
                                                [list(keyed)])}
    statements = []
    for key, item in keyed.items():
        if key in existing:
            continue
        links = check_links([review_link(x) for x in item.links if x and x.strip()], kb).links
        priority = item.priority if item.priority in PRIORITIES else "medium"
        statements.append((f"INSERT INTO action_items ({_COLUMNS}) VALUES (nextval('action_item_ids'), "  # noqa: S608
                           f"{', '.join('?' * 16)}) ON CONFLICT (suggestion_key) DO NOTHING",
                           [source, incident_id, item.what, item.why or None, None, None, "open", priority,
                            list(links), "suggested", key, at, at, None, None,
                            getattr(item, "scope", "general") if getattr(item, "scope", None) in SCOPES
                            else "general"]))
    if statements:
        _write(store, statements)
    rows = {r.suggestion_key: r for r in _rows(store, "suggestion_key IN (SELECT unnest(?::VARCHAR[]))",
                                               [list(keyed)])}
    return [rows[k] for k in keyed if k in rows]


def get_item(store: Store, item_id: int) -> ActionItemRecord:
    """The item with this id; UsageError ``no action item #12`` when there is none."""
    found = _rows(store, "id = ?", [int(item_id)])
    if not found:
        raise UsageError(f"no action item #{item_id}; see 'afteraction actions list --status all'")
    return found[0]


def update_item(
    store: Store, item_id: int, *, what: str | None = None, why: str | None = None, owner: str | None = None,
    due: str | date | None = None, priority: str | None = None, status: str | None = None,
    add_links: Iterable[str] = (), note: str | None = None, kb: Any = None, now: datetime | None = None,
    scope: str | None = None,
) -> ActionItemRecord:
    """Change the given fields; ``""`` clears ``why``, ``owner``, ``due`` and ``note``.

    A closing status sets ``closed`` (kept if already closed); ``open``/``in_progress`` reopens and clears it.
    With nothing to change the item is returned as it is.
    """
    _writable(store)
    item = get_item(store, item_id)
    changes: dict[str, Any] = {}
    if what is not None:
        changes["what"] = _what(what)
    for name, value in (("why", why), ("owner", owner), ("note", note)):
        if value is not None:
            changes[name] = value or None
    if due is not None:
        changes["due"] = parse_due(due)
    if priority is not None:
        changes["priority"] = _choice(priority, PRIORITIES, "priority")
    if scope is not None:
        changes["scope"] = _choice(scope, SCOPES, "scope")
    added = check_links(add_links, kb).links
    if added:
        changes["links"] = list(dict.fromkeys((*item.links, *added)))
    at = _now(now)
    if status is not None:
        changes["status"] = _choice(status, STATUSES, "status")
        if status in CLOSED_STATUSES:
            changes["closed"] = item.closed or at
        else:
            changes["closed"] = None
    if not changes:
        return item
    changes["updated"] = at
    assignments = ", ".join(f"{name} = ?" for name in changes)
    _write(store, [(f"UPDATE action_items SET {assignments} WHERE id = ?",  # noqa: S608 - fixed column names
                    [*changes.values(), item.id])])
    return get_item(store, item.id)


def close_item(
    store: Store, item_id: int, *, wont_do: bool = False, note: str | None = None, now: datetime | None = None,
) -> ActionItemRecord:
    """Close an item as ``done`` (or ``wont_do``); closing it again the same way keeps its closing time and
    only records a new ``note``, if one is given."""
    _writable(store)
    item = get_item(store, item_id)
    status = "wont_do" if wont_do else "done"
    if item.status == status:
        return item if note is None or note == item.note else update_item(store, item.id, note=note, now=now)
    return update_item(store, item.id, status=status, note=note, now=now)


# -- reading --------------------------------------------------------------------------------------------


def _technique_params(techniques: Iterable[str]) -> tuple[list[str], list[str]]:
    """(exact ids: the techniques and their parents, parents whose sub-techniques also match)."""
    ids = sorted({t for t in (normalize_technique_id(x) for x in techniques) if t})
    exact = sorted({*ids, *(t.split(".")[0] for t in ids)})
    return exact, [t for t in ids if "." not in t]


def list_items(
    store: Store, *, status: str = "open", owner: str | None = None, incident: str | tuple[str, str] | None = None,
    technique: str | Iterable[str] | None = None, overdue_only: bool = False, today: date | None = None,
) -> list[ActionItemRecord]:
    """Stored items, filtered; overdue first, then by due date (none last), priority and id.

    ``status``: see :data:`STATUS_FILTERS`. ``incident``: ``(source, id)``, or an id (any source; ``source:id``
    also matches). ``technique``: items linked to it, its parent or its sub-techniques.
    """
    _choice(status, STATUS_FILTERS, "status filter")
    day = today or datetime.now(UTC).date()
    where: list[str] = []
    params: list[Any] = []
    if status == "open":
        where.append(_OPEN_SQL)
    elif status == "closed":
        where.append("status IN ('done', 'wont_do')")
    elif status != "all":
        where.append("status = ?")
        params.append(status)
    if owner is not None:
        where.append("lower(owner) = lower(?)")
        params.append(owner)
    if isinstance(incident, tuple):
        where.append("source = ? AND incident_id = ?")
        params.extend(incident)
    elif incident is not None:
        src, sep, rest = incident.partition(":")
        where.append("(incident_id = ? OR (source = ? AND incident_id = ?))" if sep else "incident_id = ?")
        params.extend([incident, src, rest] if sep else [incident])
    if technique is not None:
        exact, parents = _technique_params([technique] if isinstance(technique, str) else technique)
        if not exact:
            raise UsageError(f"not an ATT&CK technique id: {technique!r}")
        where.append(_TECHNIQUE_SQL)
        params.extend([exact, parents])
    overdue = f"({_OPEN_SQL} AND due IS NOT NULL AND due < ?::DATE)"
    if overdue_only:
        where.append(overdue)
        params.append(day)
    order = f"{overdue} DESC, due NULLS LAST, {_PRIORITY_SQL}, id"
    return _rows(store, " AND ".join(where), [*params, day], order)


def open_items_for(
    store: Store, *, techniques: Iterable[str], links: Iterable[str] = (),
    exclude_incident: tuple[str, str] | None = None,
) -> list[ActionItemRecord]:
    """Open or in-progress items already tracking what an incident shows ("this was already known").

    An item matches when one of its links is one of ``techniques``, their parent or sub-technique, or
    equals one of ``links`` (typed, or as a review's item links them). Items of ``exclude_incident``
    (the incident under review) and items scoped to their own incident (``scope="incident"``) are left
    out; program-level items are kept. One query.
    """
    exact, parents = _technique_params(techniques)
    others = sorted({review_link(x) for x in links if x and x.strip()})
    exact = sorted({*exact, *others})
    if not exact:
        return []
    where = f"{_OPEN_SQL} AND scope = 'general' AND {_TECHNIQUE_SQL}"
    params: list[Any] = [exact, parents]
    if exclude_incident is not None:
        where += " AND NOT (source IS NOT DISTINCT FROM ? AND incident_id IS NOT DISTINCT FROM ?)"
        params.extend(exclude_incident)
    return _rows(store, where, params, f"{_PRIORITY_SQL}, due NULLS LAST, id")


__all__ = [
    "CLOSED_STATUSES", "OPEN_STATUSES", "ORIGINS", "PRIORITIES", "SCOPES", "STATUSES", "STATUS_FILTERS",
    "ActionItemRecord",
    "LinkCheck", "SuggestedItem", "add_item", "adopt_suggestions", "check_links", "close_item", "get_item",
    "is_overdue", "list_items", "open_items_for", "parse_due", "parse_item_id", "resolve_incident", "review_link",
    "suggestion_key", "update_item",
]
