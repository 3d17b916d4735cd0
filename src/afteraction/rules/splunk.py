"""Splunk security_content detection YAML: ``tags.mitre_attack_id``, ``status``, ``tags.product``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from afteraction.rules.base import Context, str_list
from afteraction.rules.model import Rule


def is_rule(doc: Any) -> bool:
    """A YAML document looks like a Splunk security_content detection."""
    if not isinstance(doc, dict):
        return False
    tags = doc.get("tags")
    return isinstance(tags, dict) and ("mitre_attack_id" in tags or "search" in doc)


def read(ctx: Context, path: str, docs: list[tuple[int, int | None, Any]]) -> Iterator[Rule]:
    """Yield the detections of one Splunk file (normally one document)."""
    for index, line, doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("tags"), dict):
            ctx.error(path, "detection is not a mapping with a tags mapping", index=index, line=line)
            continue
        tags = doc["tags"]
        techniques = str_list(tags.get("mitre_attack_id"), split=True)
        products = str_list(tags.get("product"))
        if techniques is None:
            ctx.error(path, "tags.mitre_attack_id is not a list of strings", index=index, line=line)
            continue
        rule = ctx.build(
            "splunk", path, rule_id=doc.get("id"), title=doc.get("name"), raw_status=doc.get("status"),
            techniques=techniques, products=products or [], kind=doc.get("type"),
            index=index if len(docs) > 1 else None, line=line,
            warnings=[] if products is not None else ["tags.product is not a list of strings"],
        )
        if rule is not None:
            yield rule
