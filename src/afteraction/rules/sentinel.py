"""Microsoft Sentinel analytics-rule YAML (Azure-Sentinel ``Detections/``, ``Solutions/**/Analytic Rules``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from afteraction.rules.base import Context, str_list
from afteraction.rules.model import Rule, RuleStatus


def is_rule(doc: Any) -> bool:
    """A YAML document looks like a Sentinel analytics rule."""
    return isinstance(doc, dict) and (
        "relevantTechniques" in doc or "queryFrequency" in doc or ("tactics" in doc and "query" in doc)
    )


def read(ctx: Context, path: str, docs: list[tuple[int, int | None, Any]]) -> Iterator[Rule]:
    """Yield the rules of one Sentinel file (normally one document)."""
    for index, line, doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            ctx.error(path, f"document is a {type(doc).__name__}, not a mapping", index=index, line=line)
            continue
        techniques = str_list(doc.get("relevantTechniques"), split=True)
        tactics = str_list(doc.get("tactics"), split=True)
        if techniques is None or tactics is None:
            ctx.error(path, "tactics/relevantTechniques is not a list of strings", index=index, line=line)
            continue
        status: RuleStatus | None = None
        if doc.get("enabled") is False and str(doc.get("status")).lower() != "deprecated":
            status = "disabled"
        rule = ctx.build(
            "sentinel", path, rule_id=doc.get("id"), title=doc.get("name"), raw_status=doc.get("status"),
            status=status, techniques=techniques, tactics=tactics, kind=doc.get("kind"),
            index=index if len(docs) > 1 else None, line=line,
        )
        if rule is not None:
            yield rule
