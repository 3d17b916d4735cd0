"""Sigma rules (YAML): ATT&CK from ``tags``, status, ``logsource.product``.

A file may hold several rules (``---``) or a Sigma 1.x rule collection: an ``action: global`` document is
merged into every following document, ``action: reset`` drops it, ``action: repeat`` re-uses the
previous rule with changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from afteraction.rules.base import Context, dig, str_list, text
from afteraction.rules.model import Rule

_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")
_OTHER_OBJECT = re.compile(r"[gsc]\d{4}")  # group, software, campaign tags: not mapped here

#: Sigma ``logsource.product`` -> ATT&CK platform, for the products that name one.
PLATFORMS = {"windows": "Windows", "linux": "Linux", "macos": "macOS", "esxi": "ESXi"}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_tags(tags: list[str]) -> tuple[list[str], list[str]]:
    """``attack.*`` tags -> (raw technique ids, raw tactic spellings)."""
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in tags:
        namespace, _, value = tag.partition(".")
        if namespace.lower() != "attack" or not value:
            continue
        low = value.lower()
        if _TECHNIQUE.fullmatch(low):
            techniques.append(value.upper())
        elif not _OTHER_OBJECT.fullmatch(low):
            tactics.append(value)
    return techniques, tactics


def read(ctx: Context, path: str, docs: list[tuple[int, int | None, Any]]) -> Iterator[Rule]:
    """Yield the rules of one Sigma file (``docs`` from :func:`afteraction.rules.base.yaml_documents`)."""
    glob: dict[str, Any] = {}
    previous: dict[str, Any] | None = None
    for index, line, doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            ctx.error(path, f"Sigma document is a {type(doc).__name__}, not a mapping", index=index, line=line)
            continue
        action = doc.get("action")
        if action == "global":
            glob = {k: v for k, v in doc.items() if k != "action"}
            continue
        if action == "reset":
            glob = {}
            continue
        if action == "repeat":
            if previous is None:
                ctx.error(path, "action: repeat without a previous rule", index=index, line=line)
                continue
            doc = _merge(previous, {k: v for k, v in doc.items() if k != "action"})
        elif glob:
            doc = _merge(glob, doc)
        previous = doc
        rule = _rule(ctx, path, index, line, doc)
        if rule is not None:
            yield rule


def _rule(ctx: Context, path: str, index: int, line: int | None, doc: dict[str, Any]) -> Rule | None:
    if "detection" not in doc:
        ctx.error(path, "Sigma rule without detection", index=index, line=line)
        return None
    tags = str_list(doc.get("tags"))
    if tags is None:
        ctx.error(path, "tags is not a list of strings", index=index, line=line)
        return None
    techniques, tactics = parse_tags(tags)
    product = text(dig(doc, "logsource", "product"))
    platform = PLATFORMS.get(product.lower()) if product else None
    return ctx.build(
        "sigma", path, rule_id=doc.get("id"), title=doc.get("title"), raw_status=doc.get("status"),
        techniques=techniques, tactics=tactics, platforms=[platform] if platform else [],
        products=[product] if product else [], index=index, line=line,
    )
