"""A simple homegrown rule inventory: CSV or YAML rows of ``technique, rule, status[, platform]``.

Column names are matched case-insensitively and in any order (``technique``/``techniques``/
``technique_id``, ``rule``/``rule_name``/``name``/``title``, ``status``, ``platform``/``platforms``, and an
optional ``id``/``rule_id``). One row is one rule; a cell may hold several ids separated by ``;``, ``,``
or spaces. Cells are plain text: nothing is evaluated (a cell starting with ``=`` stays a string).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from afteraction.rules.base import Context, str_list, text
from afteraction.rules.model import Rule

ALIASES = {
    "technique": "technique", "techniques": "technique", "technique_id": "technique",
    "technique_ids": "technique", "attack_id": "technique", "mitre_attack_id": "technique",
    "rule": "rule", "rule_name": "rule", "name": "rule", "title": "rule",
    "status": "status", "state": "status",
    "platform": "platform", "platforms": "platform",
    "id": "id", "rule_id": "id",
}  # fmt: skip


def _canonical(row: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if not isinstance(key, str):
            continue
        name = ALIASES.get(key.strip().lower().replace(" ", "_").replace("-", "_"))
        if name and name not in out:
            out[name] = value
    return out


def yaml_rows(doc: Any) -> list[Any] | None:
    """The row list of a YAML inventory (a list of mappings, or ``{rules: [...]}``); None if it isn't one."""
    rows = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows:
        return None
    first = next((r for r in rows if isinstance(r, dict)), None)
    if first is None:
        return None
    keys = set(_canonical(first))
    return rows if {"technique", "rule"} <= keys else None


def _row_rule(
    ctx: Context, path: str, index: int, line: int | None, row: dict[str, Any], split_scalars: bool
) -> Rule | None:
    fields = _canonical(row)
    techniques = str_list(fields.get("technique"), split=True)
    if techniques is None:
        ctx.error(path, "technique is not a string or list of strings", index=index, line=line)
        return None
    if not techniques:
        ctx.error(path, "row has no technique", index=index, line=line)
        return None
    name = text(fields.get("rule"))
    if not name:
        ctx.error(path, "row has no rule name", index=index, line=line)
        return None
    platforms = str_list(fields.get("platform"), split=split_scalars) or []
    return ctx.build(
        "inventory", path, rule_id=fields.get("id") or name, title=name, raw_status=fields.get("status"),
        techniques=techniques, platforms=platforms, index=index, line=line,
    )


def read_yaml(ctx: Context, path: str, rows: list[Any], line: int | None) -> Iterator[Rule]:
    """Yield one rule per mapping of a YAML inventory."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            ctx.error(path, f"inventory entry is a {type(row).__name__}, not a mapping", index=index, line=line)
            continue
        rule = _row_rule(ctx, path, index, None, row, split_scalars=False)
        if rule is not None:
            yield rule


def csv_header_ok(source: str) -> bool:
    """The first CSV line names at least the technique and rule columns."""
    first = source.split("\n", 1)[0]
    try:
        header = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return False
    return {"technique", "rule"} <= set(_canonical(dict.fromkeys(header, "")))


def read_csv(ctx: Context, path: str, source: str) -> Iterator[Rule]:
    """Yield one rule per data row of a CSV inventory (errors name the row's line)."""
    reader = csv.reader(io.StringIO(source, newline=""), strict=True)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        ctx.error(path, f"unreadable CSV header: {exc}", line=1)
        return
    index = 0
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            ctx.error(path, f"malformed CSV: {exc}", index=index, line=line)
            return
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            ctx.error(path, f"row has {len(cells)} cells, the header {len(header)}", index=index, line=line)
            index += 1
            continue
        rule = _row_rule(ctx, path, index, line, dict(zip(header, cells, strict=False)), split_scalars=True)
        index += 1
        if rule is not None:
            yield rule
