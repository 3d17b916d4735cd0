"""Assemble the review of one incident from the store and the ATT&CK knowledge base."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from afteraction.analyze.attribution.build import attributor
from afteraction.analyze.attribution.evidence import from_incidents
from afteraction.analyze.attribution.model import Attribution
from afteraction.analyze.review import chain as chain_mod
from afteraction.analyze.review.chain import safe_url
from afteraction.analyze.review.entities import detection, entities
from afteraction.analyze.review.guidance import lessons
from afteraction.analyze.review.incident_type import features_of, infer_type
from afteraction.analyze.review.model import REVIEW_SCHEMA_VERSION, Header, Link, Metrics, Review, TrackedItem
from afteraction.analyze.review.peers import PeerIndex, nonnegative, seconds
from afteraction.analyze.review.recommend import action_items, recommendations
from afteraction.analyze.review.summary import summarize
from afteraction.errors import UsageError
from afteraction.model import Incident, TechniqueStatus, derive_times

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.store.db import Store


class ReviewContext:
    """What every review of one store shares: the knowledge base, group profiles and peer medians.

    Build it once when reviewing many incidents (the report site); each part is computed lazily.
    """

    def __init__(self, kb: KnowledgeBase, store: Store | None = None, *, now: datetime | None = None,
                 peers: PeerIndex | None = None) -> None:
        self.kb = kb
        self.store = store
        self.now = now or datetime.now(UTC)
        self._profiles: chain_mod.GroupProfiles | None = None
        self._peers = peers
        self._undetected: dict[tuple[str, str], tuple[str, ...]] | None = None
        self._items: dict[tuple[str, str], list[Any]] | None = None

    @property
    def profiles(self) -> chain_mod.GroupProfiles:
        if self._profiles is None:
            self._profiles = chain_mod.GroupProfiles(self.kb)
        return self._profiles

    def undetected(self, source: str, incident_id: str) -> tuple[str, ...]:
        """Techniques analysts recorded as undetected in the incident (``afteraction annotate``)."""
        if self.store is None:
            return ()
        if self._undetected is None:
            from afteraction.store.annotations import list_annotations

            found: dict[tuple[str, str], list[str]] = {}
            for a in list_annotations(self.store, kind="undetected"):
                found.setdefault((a.source, a.incident_id), []).append(a.technique_id)
            self._undetected = {k: tuple(sorted(v)) for k, v in found.items()}
        return self._undetected.get((source, incident_id), ())

    def known_items(self, source: str, incident_id: str, techniques: list[str],
                    links: list[str]) -> tuple[TrackedItem, ...]:
        """Open action items of other incidents (or of the program) about these techniques or links."""
        if self.store is None:
            return ()
        from afteraction.store.actions import open_items_for, review_link

        found = open_items_for(self.store, techniques=techniques, links=links, exclude_incident=(source, incident_id))
        # The rule open_items_for applies: a link matches a technique, its parent, or (for a parent seen here)
        # one of its sub-techniques; never a sibling sub-technique.
        mine = {review_link(x) for x in links} | set(techniques) | {t.split(".")[0] for t in techniques}
        parents_seen = {t for t in techniques if "." not in t}
        return tuple(self._tracked(item, tuple(x for x in item.links
                                               if x in mine or x.split(".")[0] in parents_seen))
                     for item in found)

    def tracked_items(self, source: str, incident_id: str) -> tuple[TrackedItem, ...]:
        """The incident's own tracked action items, any status (all items are read once per context)."""
        if self.store is None:
            return ()
        if self._items is None:
            from afteraction.store.actions import list_items

            self._items = {}
            for item in list_items(self.store, status="all", today=self.now.date()):
                if item.incident_id is not None:
                    self._items.setdefault((item.source or "", item.incident_id), []).append(item)
        return tuple(self._tracked(item) for item in self._items.get((source, incident_id), ()))

    def _tracked(self, item: Any, matched: tuple[str, ...] = ()) -> TrackedItem:
        from afteraction.store.actions import is_overdue

        return TrackedItem(
            id=item.id, what=item.what, status=item.status, priority=item.priority, owner=item.owner, due=item.due,
            overdue=is_overdue(item, self.now.date()), source=item.source, incident_id=item.incident_id,
            matched=matched)

    @property
    def peers(self) -> PeerIndex | None:
        if self._peers is None and self.store is not None:
            self._peers = PeerIndex.from_store(self.store)
        return self._peers


def review_incident(store: Store, kb: KnowledgeBase, incident_id: str, *, source: str = "defender",
                    context: ReviewContext | None = None) -> Review:
    """The review of a stored incident; raises UsageError when the store does not hold it."""
    from afteraction.store.read import load_incident

    incident = load_incident(store, incident_id, source)
    if incident is None:
        raise UsageError(f"no incident {incident_id!r} (source {source!r}) in the store; "
                         "see 'afteraction incidents' for what is stored")
    return review(incident, context or ReviewContext(kb, store))


def review(incident: Incident, context: ReviewContext) -> Review:
    """The review of one canonical incident (the store is used only for the peer comparison)."""
    kb = context.kb
    incident = derive_times(incident)
    kind = infer_type(features_of(incident))
    header = _header(incident, kb)
    ents = entities(incident)
    det = detection(incident)
    the_chain = chain_mod.chain(kb, incident, context.profiles, context.undetected(incident.source, incident.id))
    metrics, notes = _metrics(incident, the_chain, ents)
    if context.peers is not None:
        peers, why = context.peers.compare(incident.source, incident.id, kind.type, header.severity)
        metrics = _replace(metrics, peers=peers, peers_note=why)
    else:
        metrics = _replace(metrics, peers_note="no store to compare with")
    technique_ids = sorted({t.id for a in incident.alerts for t in a.techniques
                            if t.status in (TechniqueStatus.ACTIVE, TechniqueStatus.REVOKED)})
    unknown = [t.raw for a in incident.alerts for t in a.techniques if t.status == TechniqueStatus.UNKNOWN]
    if unknown:
        notes.append(f"technique ids not in ATT&CK {kb.version}: {', '.join(sorted(set(unknown)))}; "
                     "they are listed but have no names, tactics or recommendations")
    if the_chain.unmapped_alerts:
        notes.append(f"{len(the_chain.unmapped_alerts)} alert(s) carry no technique or tactic known to ATT&CK "
                     f"{kb.version} and are not placed in the chain")
    recs = recommendations(kb, technique_ids, the_chain, kind)
    items = action_items(kb, status=header.status, kind=kind, metrics=metrics, chain=the_chain, entities=ents,
                         detection=det, recs=recs, unknown_techniques=unknown)
    return Review(
        schema_version=REVIEW_SCHEMA_VERSION, generated=context.now, header=header, incident_type=kind,
        summary=summarize(header, kind, metrics, the_chain, ents, det), metrics=metrics,
        timeline=chain_mod.timeline(kb, incident), chain=the_chain, entities=ents, detection=det,
        recommendations=recs, lessons=lessons(),
        action_items=items, notes=tuple(notes), attribution=_attribution(incident, context),
        known_items=context.known_items(incident.source, incident.id, technique_ids,
                                        sorted({link for item in items for link in item.links})),
        tracked_items=context.tracked_items(incident.source, incident.id),
    )


def _attribution(incident: Incident, context: ReviewContext) -> Attribution:
    """Groups, campaigns and software the incident (plus analyst-recorded undetected techniques) fits best."""
    evidence = from_incidents(context.kb, [incident],
                              extra_techniques=context.undetected(incident.source, incident.id))
    return attributor(context.kb).attribute(evidence, now=context.now)


def _replace(metrics: Metrics, **changes: object) -> Metrics:
    import msgspec

    return msgspec.structs.replace(metrics, **changes)


def _header(incident: Incident, kb: KnowledgeBase) -> Header:
    links = []
    if url := safe_url(incident.web_url):
        links.append(Link(label="Incident in Microsoft Defender XDR", url=url))
    return Header(
        source=incident.source, id=incident.id, title=incident.title, severity=str(incident.severity),
        status=str(incident.status),
        classification=str(incident.classification) if incident.classification else None,
        determination=str(incident.determination) if incident.determination else None,
        owner=incident.assigned_to, tenant_id=incident.tenant_id, created=incident.created,
        last_updated=incident.last_updated, tags=tuple(incident.custom_tags) + tuple(incident.system_tags),
        links=tuple(links), attack_version=kb.version, attack_source=kb.source,
    )


def _metrics(incident: Incident, the_chain: object, ents: tuple) -> tuple[Metrics, list[str]]:
    notes: list[str] = []
    alerts = incident.alerts
    created = [a.created for a in alerts if a.created]
    first_alert = min(created) if created else None
    comments = [c for c in incident.comments if c.created] + [c for a in alerts for c in a.comments if c.created]
    first_comment = min(comments, key=lambda c: c.created) if comments else None  # type: ignore[arg-type,return-value]
    acknowledged = first_comment.created if first_comment else None
    if acknowledged is None:
        notes.append("no comment or other dated analyst action, so time to acknowledge is unknown")
    ttd = seconds(incident.first_activity, first_alert)
    if ttd is not None and ttd < 0:
        notes.append("the first alert is dated before the first recorded activity; time to detect is shown as 0")
    tta = seconds(first_alert, acknowledged)
    if tta is not None and tta < 0:
        notes.append("the first comment is dated before the first alert; time to acknowledge is shown as 0")
    if incident.first_activity is None:
        notes.append("no activity time on the incident or its alerts, so time to detect and dwell time are unknown")
    techniques = {t.id for a in alerts for t in a.techniques if t.status != TechniqueStatus.INVALID}
    by_type: dict[str, int] = {}
    for e in ents:
        by_type[e.type] = by_type.get(e.type, 0) + 1
    stages = getattr(the_chain, "stages", ())
    return Metrics(
        first_activity=incident.first_activity, last_activity=incident.last_activity, first_alert=first_alert,
        acknowledged=acknowledged,
        acknowledged_by=(f"first comment{' by ' + first_comment.author if first_comment.author else ''}"
                         if first_comment else None),
        resolved=incident.resolved, time_to_detect=nonnegative(ttd), time_to_acknowledge=nonnegative(tta),
        time_to_resolve=seconds(first_alert, incident.resolved),
        dwell_time=seconds(incident.first_activity, incident.resolved),
        activity_span=seconds(incident.first_activity, incident.last_activity),
        alerts=len(alerts), techniques=len(techniques), tactics=sum(s.observed for s in stages),
        entities=len(ents), entities_by_type=by_type,
    ), notes


__all__ = ["ReviewContext", "review", "review_incident", "safe_url"]
