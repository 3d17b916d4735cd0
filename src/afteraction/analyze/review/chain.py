"""The ATT&CK side of a review: technique details, the timeline and the kill chain with skipped stages."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from afteraction.analyze.review.model import (
    Chain,
    ChainStage,
    EvidenceRef,
    LikelyTechnique,
    SkippedStage,
    TechniqueInfo,
    TimelineEntry,
)
from afteraction.analyze.tactics import alert_tactics
from afteraction.model import Alert, Incident, TechniqueStatus

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase

_LINK_SCHEMES = ("http", "https")


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, else None (no ``javascript:``, ``data:``, relative...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.netloc:
        return None
    return url.strip()

_KEY_EVIDENCE = 4  # evidence names shown per timeline entry


def technique_info(kb: KnowledgeBase, tid: str, *, raw: str | None = None, status: str | None = None) -> TechniqueInfo:
    """Name, link and status of a technique id under the loaded ATT&CK version."""
    tech = kb.technique(tid)
    if status is None:
        res = kb.resolve(tid)
        status = "active" if tech is not None and not tech.deprecated else str(res.status)
    return TechniqueInfo(
        id=tid, name=tech.name if tech else None, url=(tech.url or None) if tech else None,
        status=status, raw=raw if raw and raw != tid else None,
    )


def alert_techniques(kb: KnowledgeBase, alert: Alert) -> tuple[TechniqueInfo, ...]:
    """The alert's techniques, deduplicated, in the alert's order."""
    seen: dict[str, TechniqueInfo] = {}
    for ref in alert.techniques:
        if ref.status == TechniqueStatus.INVALID or ref.id in seen:
            continue
        seen[ref.id] = technique_info(kb, ref.id, raw=ref.raw, status=str(ref.status))
    return tuple(seen.values())


def _when(alert: Alert) -> datetime | None:
    return alert.first_activity or alert.created


def timeline(kb: KnowledgeBase, incident: Incident) -> tuple[TimelineEntry, ...]:
    """Alerts (at their first activity) and comments (at their time), oldest first; undated last."""
    names = {t.shortname: t.name for t in kb.tactics}
    entries: list[TimelineEntry] = []
    for alert in incident.alerts:
        tactics = tuple(names[s] for s, _ in alert_tactics(kb, alert) if s in names)
        evidence = [e for e in alert.evidence if e.name]
        entries.append(TimelineEntry(
            time=_when(alert), kind="alert", title=alert.title, alert_id=alert.id, created=alert.created,
            severity=str(alert.severity), status=str(alert.status),
            classification=str(alert.classification) if alert.classification else None,
            tactics=tactics, techniques=alert_techniques(kb, alert),
            detection_source=alert.detection_source, service_source=alert.service_source,
            evidence=tuple(EvidenceRef(type=e.type, name=e.name or "", verdict=str(e.verdict))
                           for e in evidence[:_KEY_EVIDENCE]),
            url=safe_url(alert.web_url),
        ))
        entries.extend(TimelineEntry(time=c.created, kind="comment", title=c.text, alert_id=alert.id,
                                     author=c.author) for c in alert.comments)
    entries.extend(TimelineEntry(time=c.created, kind="comment", title=c.text, author=c.author)
                   for c in incident.comments)
    return tuple(sorted(entries, key=_entry_key))


def _entry_key(e: TimelineEntry) -> tuple[bool, str, int, str]:
    return (e.time is None, e.time.isoformat() if e.time else "", 0 if e.kind == "alert" else 1, e.alert_id or "")


class GroupProfiles:
    """Technique sets of every ATT&CK group (with its campaigns), built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.sets: dict[str, frozenset[str]] = {}
        for gid in sorted(kb.groups):
            profile = kb.group_profile(gid)
            if profile is not None and profile.techniques:
                self.sets[gid] = frozenset(profile.techniques)

    def likely(self, kb: KnowledgeBase, observed: set[str], tactic: str, limit: int = 3) -> list[LikelyTechnique]:
        """Techniques of ``tactic`` most used by the groups that use at least half the observed ones."""
        if not observed:
            return []
        parents = {_parent(t) for t in observed}
        need = max(1, math.ceil(len(parents) / 2))
        peers = [s for s in self.sets.values() if len(parents & {_parent(t) for t in s}) >= need]
        counts: Counter[str] = Counter()
        for techniques in peers:
            for tid in techniques:
                tech = kb.technique(tid)
                if tech is not None and tactic in tech.tactics and tid not in observed:
                    counts[tid] += 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [LikelyTechnique(technique=technique_info(kb, tid), groups=n, of_groups=len(peers))
                for tid, n in ranked]


def _parent(tid: str) -> str:
    return tid.split(".", 1)[0]


def chain(kb: KnowledgeBase, incident: Incident, profiles: GroupProfiles | None = None,
          undetected: tuple[str, ...] = ()) -> Chain:
    """Tactics in kill-chain order with what was observed, the first detection, and skipped stages.

    ``undetected`` are technique ids analysts recorded as undetected: each is shown at its earliest
    tactic, and a stage that holds one is a known gap, not a skipped stage.
    """
    stages: dict[str, dict] = {}
    unmapped: list[str] = []
    first_alert: tuple[datetime, int, str] | None = None  # (created, order, tactic)
    order = {t.shortname: i for i, t in enumerate(kb.tactics)}
    fired = [a.created for a in incident.alerts if a.created is not None]
    first_fired = min(fired) if fired else None
    for alert in incident.alerts:
        placed = alert_tactics(kb, alert)
        if not placed:
            unmapped.append(alert.id)
            continue
        when = _when(alert)
        for shortname, tids in placed:
            st = stages.setdefault(shortname, {"techniques": [], "alerts": [], "seen": None, "fired": None})
            st["techniques"].extend(t for t in tids if t not in st["techniques"])
            st["alerts"].append(alert.id)
            st["seen"] = _min(st["seen"], when)
            st["fired"] = _min(st["fired"], alert.created)
        if alert.created is not None:
            cand = (alert.created, order.get(placed[0][0], 99), placed[0][0])
            if first_alert is None or cand[:2] < first_alert[:2]:
                first_alert = cand
    order_of = {t.shortname: i for i, t in enumerate(kb.tactics)}
    missed: dict[str, list[str]] = {}
    for tid in undetected:
        tech = kb.technique(tid)
        if tech is not None and tech.tactics:
            missed.setdefault(min(tech.tactics, key=lambda s: order_of.get(s, 99)), []).append(tid)
    out = [
        ChainStage(
            tactic_id=tac.id, tactic=tac.name, shortname=tac.shortname, order=i, observed=tac.shortname in stages,
            techniques=tuple(technique_info(kb, t) for t in stages.get(tac.shortname, {}).get("techniques", [])),
            alert_ids=tuple(stages.get(tac.shortname, {}).get("alerts", [])),
            first_seen=stages.get(tac.shortname, {}).get("seen"),
            first_alert=stages.get(tac.shortname, {}).get("fired"),
            undetected=tuple(technique_info(kb, t) for t in missed.get(tac.shortname, [])),
        )
        for i, tac in enumerate(kb.tactics)
    ]
    observed = [s for s in out if s.observed]
    if not observed:
        return Chain(stages=tuple(out), unmapped_alerts=tuple(unmapped), undetected=tuple(undetected))
    earliest = observed[0]
    seen_times = [s.first_seen for s in observed if s.first_seen]
    observed_ids = {t.id for s in observed for t in s.techniques}
    skipped = []
    for stage in out[earliest.order + 1: observed[-1].order]:
        if stage.observed or stage.undetected:
            continue
        before = max((s for s in observed if s.order < stage.order), key=lambda s: s.order)
        after = min((s for s in observed if s.order > stage.order), key=lambda s: s.order)
        question = (f"No alert maps to {stage.tactic}, between {before.tactic} and {after.tactic}. "
                    "Did activity happen here that nothing detected?")
        likely = profiles.likely(kb, observed_ids, stage.shortname) if profiles else []
        skipped.append(SkippedStage(tactic_id=stage.tactic_id, tactic=stage.tactic, question=question,
                                    likely=tuple(likely)))
    # The stage of the first alert is known only when that alert maps to a tactic.
    known = first_alert is not None and first_alert[0] == first_fired
    first_stage = next((s for s in out if known and first_alert and s.shortname == first_alert[2]), None)
    return Chain(
        stages=tuple(out), earliest_stage=earliest.tactic, earliest_activity=min(seen_times) if seen_times else None,
        first_detected_stage=first_stage.tactic if first_stage else None,
        first_detected=first_fired,
        detected_late=bool(first_stage and first_stage.order > earliest.order),
        skipped=tuple(skipped), unmapped_alerts=tuple(unmapped), undetected=tuple(undetected),
    )


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


__all__ = ["GroupProfiles", "alert_tactics", "alert_techniques", "chain", "safe_url", "technique_info", "timeline"]
