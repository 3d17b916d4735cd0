"""Where an alert sits in the kill chain: its tactics and techniques, shared by the review and attribution."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.model import Alert


def alert_tactics(kb: KnowledgeBase, alert: Alert) -> list[tuple[str, list[str]]]:
    """(tactic shortname, technique ids) pairs for one alert, in kill-chain order.

    A technique goes under the alert's own category when that is one of the technique's tactics
    (Defender sets the category to the tactic it saw), else under the technique's earliest tactic, so
    multi-tactic techniques such as T1078 do not spread over four stages.
    """
    category = _category_tactic(kb, alert)
    order = {t.shortname: i for i, t in enumerate(kb.tactics)}
    placed: dict[str, list[str]] = {}
    for ref in alert.techniques:
        tech = kb.technique(ref.id)
        if tech is None or not tech.tactics:
            continue
        tactics = sorted(tech.tactics, key=lambda s: order.get(s, 99))
        where = category if category in tactics else tactics[0]
        bucket = placed.setdefault(where, [])
        if ref.id not in bucket:
            bucket.append(ref.id)
    if not placed and category:
        placed[category] = []
    return sorted(placed.items(), key=lambda kv: order.get(kv[0], 99))


def _category_tactic(kb: KnowledgeBase, alert: Alert) -> str | None:
    for text in (alert.category, *alert.categories):
        if text:
            tac = kb.tactic(text)
            if tac is not None:
                return tac.shortname
    return None


__all__ = ["alert_tactics"]
