"""Run the analyses' Ibis expressions on the embedded store, compiling each one once per code version.

Building and compiling an Ibis expression costs about a second of Python per query (backend set-up,
schema look-ups, sqlglot), whatever the store's size; executing the SQL takes milliseconds on a typical
store. The compiled SQL depends only on the expression's code and the store schema, so it is cached
under the cache directory (``AFTERACTION_CACHE_DIR``), keyed by a hash of the builder's module sources,
the afteraction, Ibis and sqlglot versions and the store schema version. The Ibis expression stays the
single definition of each query, and the one that runs on other engines.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable
from importlib.metadata import version
from types import ModuleType
from typing import Any

from afteraction import __version__
from afteraction.attack.cache import atomic_write, cache_dir
from afteraction.store.db import Store
from afteraction.store.schema import SCHEMA_VERSION


def _key(name: str, sources: tuple[ModuleType, ...]) -> str:
    digest = hashlib.sha256()
    for part in (name, __version__, version("ibis-framework"), version("sqlglot"), str(SCHEMA_VERSION)):
        digest.update(part.encode() + b"\0")
    for module in sources:
        digest.update(inspect.getsource(module).encode() + b"\0")
    return digest.hexdigest()[:24]


def compiled_sql(store: Store, name: str, build: Callable[[Any], Any], sources: tuple[ModuleType, ...]) -> str:
    """The DuckDB SQL of ``build(ibis_connection)``, from the cache when this code compiled it before."""
    path = cache_dir().parent / "queries" / f"{name}-{_key(name, sources)}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    import ibis

    from afteraction.store.tables import connect

    sql = str(ibis.to_sql(build(connect(store)), dialect="duckdb"))
    with contextlib.suppress(OSError):  # best effort: an unwritable cache only costs the compile next time
        atomic_write(path, sql.encode())
    return sql


def run_rows(store: Store, name: str, build: Callable[[Any], Any], sources: tuple[ModuleType, ...]
             ) -> list[dict[str, Any]]:
    """Rows of the query as dicts (column name -> Python value; times are UTC, as the store sets)."""
    cursor = store.con.execute(compiled_sql(store, name, build, sources))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


__all__ = ["compiled_sql", "run_rows"]
