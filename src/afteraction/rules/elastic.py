"""Elastic detection-rules TOML: ``[[rule.threat]]`` blocks, ``metadata.maturity``, ``rule.enabled``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from afteraction.rules.base import Context, str_list, text
from afteraction.rules.model import Rule, RuleStatus

FRAMEWORK = "MITRE ATT&CK"


def is_rule(doc: dict[str, Any]) -> bool:
    """A parsed TOML document is an Elastic rule (a ``[rule]`` table with an id, name or threat list)."""
    rule = doc.get("rule")
    return isinstance(rule, dict) and any(k in rule for k in ("rule_id", "threat", "name"))


def _threats(threats: Any, notes: list[str]) -> tuple[list[str], list[str]] | None:
    """``rule.threat`` -> (raw technique ids, raw tactic ids/names); None when it has the wrong shape."""
    if threats is None:
        return [], []
    if not isinstance(threats, list):
        return None
    techniques: list[str] = []
    tactics: list[str] = []
    for block in threats:
        if not isinstance(block, dict):
            return None
        framework = text(block.get("framework"))
        if framework != FRAMEWORK:
            notes.append(f"threat framework {framework!r} ignored")
            continue
        tactic = block.get("tactic")
        if isinstance(tactic, dict):
            tac = text(tactic.get("id")) or text(tactic.get("name"))
            if tac:
                tactics.append(tac)
        entries = block.get("technique") or []
        if not isinstance(entries, list):
            return None
        for entry in entries:
            if not isinstance(entry, dict):
                return None
            tech = text(entry.get("id"))
            if tech:
                techniques.append(tech)
            subs = entry.get("subtechnique") or []
            if not isinstance(subs, list) or not all(isinstance(s, dict) for s in subs):
                return None
            techniques.extend(t for t in (text(s.get("id")) for s in subs) if t)
    return techniques, tactics


def read(ctx: Context, path: str, doc: dict[str, Any]) -> Iterator[Rule]:
    """Yield the one rule of an Elastic TOML file (nothing, and an error, when it is malformed)."""
    rule = doc["rule"]
    notes: list[str] = []
    mapped = _threats(rule.get("threat"), notes)
    if mapped is None:
        ctx.error(path, "rule.threat is not a list of [[rule.threat]] tables with technique lists")
        return
    techniques, tactics = mapped
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    maturity = metadata.get("maturity")
    status: RuleStatus | None = None
    enabled = rule.get("enabled")
    if enabled is False and text(maturity) != "deprecated":
        status = "disabled"
    platforms = [tag[3:].strip() for tag in str_list(rule.get("tags")) or [] if tag.lower().startswith("os:")]
    built = ctx.build(
        "elastic", path, rule_id=rule.get("rule_id"), title=rule.get("name"), raw_status=maturity,
        status=status, techniques=techniques, tactics=tactics, platforms=platforms, kind=rule.get("type"),
        warnings=notes,
    )
    if built is not None:
        yield built
