"""Resolve alerts' raw ``mitreTechniques`` against the knowledge base while they are read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import msgspec

from afteraction.model import Alert, Incident, TechniqueRef, TechniqueStatus

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase


class TechniqueResolver:
    """Resolves raw ``mitreTechniques`` against the knowledge base, remembering what it redirected."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._cache: dict[str, TechniqueRef] = {}
        self.redirected: dict[str, str] = {}
        self.unknown: set[str] = set()
        self.deprecated: set[str] = set()

    def ref(self, ref: TechniqueRef) -> TechniqueRef:
        hit = self._cache.get(ref.raw)
        if hit is None:
            res = self.kb.resolve(ref.raw)
            hit = TechniqueRef(raw=ref.raw, id=res.id, status=TechniqueStatus(res.status))
            self._cache[ref.raw] = hit
        if hit.status == TechniqueStatus.REVOKED:
            self.redirected[ref.raw] = hit.id
        elif hit.status in (TechniqueStatus.UNKNOWN, TechniqueStatus.INVALID):
            self.unknown.add(hit.raw)
        elif hit.status == TechniqueStatus.DEPRECATED:
            self.deprecated.add(hit.id)
        return hit

    def alert(self, alert: Alert) -> Alert:
        if not alert.techniques:
            return alert
        return msgspec.structs.replace(alert, techniques=tuple(self.ref(t) for t in alert.techniques))

    def items(self, items: Iterable[object]) -> Iterator[object]:
        for item in items:
            if isinstance(item, Incident):
                if any(a.techniques for a in item.alerts):
                    item = msgspec.structs.replace(item, alerts=tuple(self.alert(a) for a in item.alerts))
            elif isinstance(item, Alert):
                item = self.alert(item)
            yield item
