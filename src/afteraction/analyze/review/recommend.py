"""Recommendations and suggested action items, derived from the review's own findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from afteraction.analyze.review.guidance import TYPE_STEPS
from afteraction.analyze.review.model import (
    ActionItem,
    Chain,
    Detection,
    DetectionRec,
    Entity,
    IncidentType,
    Link,
    Metrics,
    MitigationRec,
    Recommendations,
    TechniqueInfo,
)

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase

MAX_MITIGATIONS = 8
MAX_DETECTIONS = 8
_ADVICE_CHARS = 280


def mitigations(kb: KnowledgeBase, technique_ids: list[str]) -> tuple[MitigationRec, ...]:
    """ATT&CK mitigations of the observed techniques, ranked by how many of them each covers."""
    found: dict[str, dict] = {}
    for tid in sorted(set(technique_ids)):
        for adv in kb.mitigations_for(tid):
            slot = found.setdefault(adv.mitigation_id, {"name": adv.name, "url": adv.url, "t": [], "advice": []})
            if tid not in slot["t"]:
                slot["t"].append(tid)
                if adv.advice:
                    slot["advice"].append(f"{tid}: {_clip(adv.advice)}")
    ranked = sorted(found.items(), key=lambda kv: (-len(kv[1]["t"]), kv[0]))[:MAX_MITIGATIONS]
    return tuple(MitigationRec(id=mid, name=s["name"], url=s["url"] or None, techniques=tuple(s["t"]),
                               advice=tuple(s["advice"])) for mid, s in ranked)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ADVICE_CHARS else text[: _ADVICE_CHARS - 1].rstrip() + "…"


def detection_gaps(kb: KnowledgeBase, chain: Chain) -> list[tuple[TechniqueInfo, str]]:
    """Techniques worth a detection review: the earliest stage when detection came later in the chain,
    and the likeliest techniques of each skipped stage."""
    gaps: list[tuple[TechniqueInfo, str]] = [
        (tech, f"recorded by analysts as undetected ({stage.tactic})")
        for stage in chain.stages for tech in stage.undetected
    ]
    if chain.detected_late:
        earliest = next(s for s in chain.stages if s.observed)
        for tech in earliest.techniques:
            gaps.append((tech, f"{earliest.tactic} activity began before the first alert, which fired at "
                               f"{chain.first_detected_stage}"))
    for stage in chain.skipped:
        for likely in stage.likely[:2]:
            gaps.append((likely.technique, f"likely technique of the skipped {stage.tactic} stage (used by "
                                           f"{likely.groups} of {likely.of_groups} groups that share the "
                                           "observed techniques)"))
    return gaps


def detection_recs(kb: KnowledgeBase, gaps: list[tuple[TechniqueInfo, str]]) -> tuple[DetectionRec, ...]:
    """ATT&CK v18 detection strategies, data components and log sources for each gap technique."""
    out: list[DetectionRec] = []
    seen: set[str] = set()
    for tech, reason in gaps:
        if tech.id in seen or len(out) >= MAX_DETECTIONS:
            continue
        seen.add(tech.id)
        det = kb.detections_for(tech.id)
        components: list[str] = []
        logs: list[str] = []
        for strategy in det.strategies:
            for analytic in strategy.analytics:
                for dc in analytic.data_components:
                    if dc.name not in components:
                        components.append(dc.name)
                for log in analytic.analytic.log_sources:
                    text = f"{log.name}: {log.channel}" if log.channel else log.name
                    if text not in logs:
                        logs.append(text)
        for dc in det.legacy_data_components:
            if dc.name not in components:
                components.append(dc.name)
        out.append(DetectionRec(
            technique=tech, reason=reason,
            strategies=tuple(Link(label=f"{s.strategy.id} {s.strategy.name}", url=s.strategy.url)
                             for s in det.strategies),
            data_components=tuple(components), log_sources=tuple(logs[:8]),
        ))
    return tuple(out)


def recommendations(kb: KnowledgeBase, technique_ids: list[str], chain: Chain, kind: IncidentType
                    ) -> Recommendations:
    """Mitigations, detections for the gaps, and the type's response steps."""
    source, steps = TYPE_STEPS.get(kind.type, (None, ()))
    return Recommendations(
        mitigations=mitigations(kb, technique_ids),
        detections=detection_recs(kb, detection_gaps(kb, chain)),
        type_steps=steps, type_steps_source=source,
    )


def action_items(kb: KnowledgeBase, *, status: str, kind: IncidentType, metrics: Metrics, chain: Chain,
                 entities: tuple[Entity, ...], detection: Detection, recs: Recommendations,
                 unknown_techniques: list[str]) -> tuple[ActionItem, ...]:
    """Suggested follow-ups, most urgent first; each says why and what it links to."""
    items: list[ActionItem] = []
    open_entities = [e for e in entities if e.unremediated]
    if open_entities:
        names = ", ".join(e.name for e in open_entities[:5]) + (" …" if len(open_entities) > 5 else "")
        items.append(ActionItem(
            what=f"Remediate {len(open_entities)} entit{'y' if len(open_entities) == 1 else 'ies'} still "
                 f"marked malicious or suspicious: {names}",
            why="no alert records them as remediated, prevented or blocked",
            links=tuple(f"{e.type}:{e.key}" for e in open_entities), priority="high"))
    if status in ("active", "inProgress", "awaitingAction"):
        items.append(ActionItem(what="Finish the response and resolve the incident with a classification",
                                why=f"the incident is still {status}", priority="high", scope="incident"))
    if chain.detected_late and chain.earliest_stage:
        items.append(ActionItem(
            what=f"Review detection of {chain.earliest_stage} activity",
            why=f"the first alert fired at {chain.first_detected_stage}, later in the chain than the earliest "
                f"observed stage ({chain.earliest_stage})",
            links=tuple(t.id for s in chain.stages if s.tactic == chain.earliest_stage for t in s.techniques),
            priority="high"))
    for stage in chain.stages:
        for tech in stage.undetected:
            items.append(ActionItem(
                what=f"Add or fix detection for {tech.id} {tech.name or ''}".rstrip(),
                why=f"analysts found it in this incident ({stage.tactic}) and no alert fired",
                links=(tech.id,), priority="high"))
    for stage in chain.skipped:
        items.append(ActionItem(
            what=f"Hunt for {stage.tactic} activity in this incident and check coverage for it",
            why=stage.question, links=(stage.tactic_id, *(x.technique.id for x in stage.likely)),
            priority="medium", scope="incident"))
    peers = metrics.peers
    if peers and peers.time_to_detect and metrics.time_to_detect and metrics.time_to_detect > 2 * peers.time_to_detect:
        items.append(ActionItem(
            what="Find out why detection took longer than for similar incidents",
            why=f"time to detect was more than twice the median of {peers.peers} similar incidents",
            priority="medium", scope="incident"))
    for mit in recs.mitigations[:3]:
        if len(mit.techniques) >= 2 or mit is recs.mitigations[0]:
            items.append(ActionItem(
                what=f"Check that mitigation {mit.id} {mit.name} is in place",
                why=f"it addresses {len(mit.techniques)} technique(s) seen here: {', '.join(mit.techniques)}",
                links=(mit.id, *mit.techniques), priority="medium"))
    noisy = [d for d in detection.detectors if d.false_positives]
    for det in noisy[:3]:
        items.append(ActionItem(
            what=f"Tune the detector behind '{det.title}'",
            why=f"{det.false_positives} of its {det.alerts} alerts here were false positives",
            links=tuple(x for x in (det.detector_id,) if x), priority="low"))
    items.extend(_type_items(kind, entities))
    if unknown_techniques:
        items.append(ActionItem(
            what="Update the ATT&CK data (afteraction attack update)",
            why=f"technique ids unknown to ATT&CK {kb.version}: {', '.join(sorted(set(unknown_techniques)))}",
            links=tuple(sorted(set(unknown_techniques))), priority="low"))
    rank = {"high": 0, "medium": 1, "low": 2}
    return tuple(sorted(items, key=lambda item: rank.get(item.priority, 3)))  # stable: order within a priority


def _type_items(kind: IncidentType, entities: tuple[Entity, ...]) -> list[ActionItem]:
    if kind.type == "phishing":
        indicators = [e for e in entities if e.type in ("url", "ip", "analyzedMessage")]
        return [ActionItem(
            what="Block the message's indicators and purge every delivered copy",
            why="phishing incident: other recipients may still have the message",
            links=tuple(f"{e.type}:{e.key}" for e in indicators[:10]), priority="high")]
    if kind.type in ("identity_compromise", "business_email_compromise"):
        users = [e for e in entities if e.type in ("user", "mailbox")]
        return [ActionItem(
            what="Require MFA through Conditional Access for the affected accounts and revoke their sessions",
            why=f"{kind.label.lower()}: stolen credentials or tokens may still be valid",
            links=tuple(f"{e.type}:{e.key}" for e in users[:10]), priority="high")]
    return []


__all__ = ["action_items", "detection_gaps", "detection_recs", "mitigations", "recommendations"]
