"""Analyst annotations on incidents: techniques found during the investigation that raised no alert.

Annotations are user data kept in their own table (schema version 3): ingest never writes or deletes
them, so re-ingesting an incident keeps them. One row per (source, incident, technique, kind);
annotating again updates the note, author and time instead of adding a row. Technique ids are
resolved against the loaded ATT&CK version: a revoked id is stored as its current replacement (the raw
id is kept and the redirect reported), an id unknown to this version is kept with a warning, and text
that is not a technique id is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import duckdb
import msgspec

from afteraction.errors import StoreError, UsageError
from afteraction.store.db import Store
from afteraction.store.schema import has_table

KINDS = ("undetected",)
"""Kinds of annotation: ``undetected`` = seen in the incident, raised no alert. More may follow."""

_COLUMNS = "source, incident_id, technique_id, raw, kind, note, author, created"


class Annotation(msgspec.Struct, frozen=True):
    """One stored annotation: ``technique_id`` is the resolved current id, ``raw`` the id as given."""

    source: str
    incident_id: str
    technique_id: str
    raw: str
    kind: str
    note: str | None = None
    author: str | None = None
    created: datetime | None = None


class AnnotateResult(msgspec.Struct, frozen=True):
    """What :func:`annotate` stored, with the redirects it followed and the warnings it has."""

    source: str
    incident_id: str
    kind: str
    annotations: list[Annotation]
    redirects: dict[str, str] = {}
    unknown: list[str] = []
    warnings: list[str] = []


class _Resolved(msgspec.Struct, frozen=True):
    technique_id: str
    raw: str
    status: str
    redirected_from: str | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UsageError(f"unknown annotation kind {kind!r}; known: {', '.join(KINDS)}")


def _resolve_all(techniques: Iterable[str], kb: Any) -> list[_Resolved]:
    """Resolve every id (deduplicated by resolved id, first spelling kept); UsageError on invalid ones."""
    found: dict[str, _Resolved] = {}
    invalid: list[str] = []
    for raw in techniques:
        text = raw.strip()
        if not text:
            continue
        res = kb.resolve(text)
        if res.status == "invalid":
            invalid.append(text)
            continue
        found.setdefault(res.id, _Resolved(res.id, text, res.status, res.redirected_from))
    if invalid:
        raise UsageError(
            "not ATT&CK technique ids (expected e.g. T1059 or T1059.001): " + ", ".join(repr(i) for i in invalid)
        )
    if not found:
        raise UsageError("no technique given: pass at least one technique id, e.g. --technique T1059.001")
    return list(found.values())


def _incident_exists(con: duckdb.DuckDBPyConnection, source: str, incident_id: str) -> bool:
    row = con.execute("SELECT count(*) FROM incidents WHERE source = ? AND id = ?", [source, incident_id]).fetchone()
    return bool(row and row[0])


def _write(con: duckdb.DuckDBPyConnection, statements: list[tuple[str, list[list[Any]]]]) -> None:
    """Run ``statements`` (sql, rows) in one transaction: all of them or none."""
    try:
        con.execute("BEGIN TRANSACTION")
        for sql, rows in statements:
            if rows:
                con.executemany(sql, rows)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise StoreError(f"cannot write annotations: {exc}") from exc


def _writable(store: Store) -> None:
    if store.read_only:
        raise StoreError(f"the store {store.path} is open read-only; annotations need a writable store")


def annotate(
    store: Store,
    incident_id: str,
    techniques: list[str],
    kb: Any,
    *,
    source: str = "defender",
    kind: str = "undetected",
    note: str | None = None,
    author: str | None = None,
    now: datetime | None = None,
) -> AnnotateResult:
    """Record ``techniques`` as ``kind`` annotations of a stored incident, in one transaction.

    Raises UsageError for an unknown kind, an invalid technique id (all of them named) or an
    incident that is not in the store. Annotating again updates note, author and time.
    """
    _check_kind(kind)
    _writable(store)
    resolved = _resolve_all(techniques, kb)
    if not _incident_exists(store.con, source, incident_id):
        raise UsageError(f"no incident {incident_id!r} (source {source!r}) in the store {store.path}; "
                         "ingest it first or check the id with 'afteraction incidents'")
    created = (now or datetime.now(UTC)).astimezone(UTC)
    annotations = [Annotation(source, incident_id, r.technique_id, r.raw, kind, note, author, created)
                   for r in resolved]
    sql = (f"INSERT INTO annotations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - fixed names
           "ON CONFLICT (source, incident_id, technique_id, kind) DO UPDATE SET raw = excluded.raw, "
           "note = excluded.note, author = excluded.author, created = excluded.created")
    _write(store.con, [(sql, [list(msgspec.structs.astuple(a)) for a in annotations])])
    redirects = {r.raw: r.technique_id for r in resolved if r.status == "revoked"}
    unknown = [r.technique_id for r in resolved if r.status == "unknown"]
    warnings = [f"{t} is not in ATT&CK {kb.version}; kept as given" for t in unknown]
    warnings += [f"{r.technique_id} is deprecated in ATT&CK {kb.version} (no replacement); kept"
                 for r in resolved if r.status == "deprecated"]
    return AnnotateResult(source, incident_id, kind, sorted(annotations, key=lambda a: a.technique_id),
                          redirects=redirects, unknown=sorted(unknown), warnings=warnings)


def remove_annotations(
    store: Store,
    incident_id: str,
    techniques: list[str],
    kb: Any,
    *,
    source: str = "defender",
    kind: str = "undetected",
) -> list[Annotation]:
    """Remove annotations of an incident (ids resolved as in :func:`annotate`); returns those removed.

    The incident need not be in the store any more. Ids with no annotation are ignored.
    """
    _check_kind(kind)
    _writable(store)
    resolved = _resolve_all(techniques, kb)
    ids = {r.technique_id for r in resolved}
    removed = [a for a in list_annotations(store, incident_id, source=source, kind=kind) if a.technique_id in ids]
    sql = "DELETE FROM annotations WHERE source = ? AND incident_id = ? AND technique_id = ? AND kind = ?"
    _write(store.con, [(sql, [[source, incident_id, a.technique_id, kind] for a in removed])])
    return removed


def list_annotations(
    store: Store, incident_id: str | None = None, source: str | None = None, kind: str | None = None
) -> list[Annotation]:
    """Stored annotations, optionally filtered, sorted by source, incident, kind and technique.

    An older store opened read-only has no annotations table yet: that reads as no annotations.
    """
    if not has_table(store.con, "annotations"):
        return []
    where, params = [], []
    for column, value in (("incident_id", incident_id), ("source", source), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT {_COLUMNS} FROM annotations"  # noqa: S608 - fixed column names
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY source, incident_id, kind, technique_id"
    return [Annotation(*row) for row in store.con.execute(sql, params).fetchall()]


__all__ = ["KINDS", "AnnotateResult", "Annotation", "annotate", "list_annotations", "remove_annotations"]
