"""Threat relevance of each technique: prevalence among ATT&CK groups, groups of concern, own incidents.

    score = 100 * (0.40 * prevalence / max prevalence + 0.35 * concern share + 0.25 * seen)

* prevalence: the share of ATT&CK groups whose profile (direct uses plus attributed campaigns) uses the
  technique; a parent counts as used when any of its sub-techniques is;
* concern share: the share of the user's groups of concern that use it (0 when none are given, and
  then its weight goes to prevalence);
* seen: 1 when the technique was observed in the team's own incidents in the period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from afteraction.analyze.coverage.model import Relevance
from afteraction.errors import UsageError

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase

W_PREVALENCE, W_CONCERN, W_SEEN = 0.40, 0.35, 0.25


class GroupUsage:
    """Which ATT&CK groups use each technique (parents include their sub-techniques)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.users: dict[str, set[str]] = {}
        self.names: dict[str, str] = {}
        for gid in sorted(kb.groups):
            profile = kb.group_profile(gid)
            if profile is None:
                continue
            self.names[gid] = profile.name
            for tid in profile.techniques:
                self.users.setdefault(tid, set()).add(gid)
                self.users.setdefault(tid.split(".", 1)[0], set()).add(gid)
        self.total = len(self.names)
        self.max_users = max((len(v) for v in self.users.values()), default=1) or 1


def resolve_groups(kb: KnowledgeBase, queries: list[str]) -> list[str]:
    """Group ids for ids, names or aliases; UsageError naming the ones that match no group."""
    found, missing = [], []
    for query in queries:
        group = kb.group(query)
        (found.append(group.id) if group else missing.append(query))
    if missing:
        raise UsageError(f"no ATT&CK group matches: {', '.join(missing)} (use an id such as G0016, a name or an alias)")
    return sorted(set(found))


def relevance(usage: GroupUsage, technique: str, concern: list[str], seen_incidents: int) -> Relevance:
    """The technique's relevance score with its explanation."""
    users = usage.users.get(technique, set())
    prevalence = len(users) / usage.max_users
    concern_users = sorted(g for g in concern if g in users)
    concern_share = len(concern_users) / len(concern) if concern else 0.0
    seen = 1.0 if seen_incidents else 0.0
    w_prev = W_PREVALENCE + (0.0 if concern else W_CONCERN)
    score = 100 * (w_prev * prevalence + W_CONCERN * concern_share + W_SEEN * seen)
    parts = [f"used by {len(users)} of {usage.total} ATT&CK groups"]
    if concern:
        named = ", ".join(f"{g} {usage.names.get(g, g)}" for g in concern_users)
        parts.append(f"by {len(concern_users)} of {len(concern)} groups of concern" + (f" ({named})" if named else ""))
    parts.append(f"seen in {seen_incidents} of your incidents" if seen_incidents else "not seen in your incidents")
    return Relevance(score=round(score, 1), groups_using=len(users), groups_total=usage.total,
                     concern_groups=tuple(f"{g} {usage.names.get(g, g)}" for g in concern_users),
                     seen_incidents=seen_incidents, explanation="; ".join(parts))


__all__ = ["GroupUsage", "relevance", "resolve_groups"]
