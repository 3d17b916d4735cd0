"""Values returned by :class:`~afteraction.attack.kb.KnowledgeBase` lookups (JSON-serialisable Structs)."""

from __future__ import annotations

from typing import Literal

import msgspec

from afteraction.attack.model import Analytic, DataComponent, DetectionStrategy, Status

HitKind = Literal[
    "tactic", "technique", "group", "campaign", "software", "mitigation", "detection-strategy",
    "analytic", "data-component",
]


class Resolution(msgspec.Struct, frozen=True):
    """How a raw technique id resolves in the loaded ATT&CK version.

    ``id`` is the canonical current id (after following revoked-by), or the normalised raw id when it is
    unknown; ``status`` describes the *raw* id: ``active``, ``revoked`` (redirected), ``deprecated`` (retired,
    no replacement), ``unknown`` (technique-shaped but not in this version: kept, never dropped) or
    ``invalid`` (not technique-shaped). ``redirect_chain`` lists every id from the raw one to ``id``.
    """

    raw: str
    id: str
    status: Status
    redirected_from: str | None = None
    redirect_chain: tuple[str, ...] = ()
    name: str | None = None

    @property
    def known(self) -> bool:
        """The id exists in the loaded version (active, revoked or deprecated)."""
        return self.status in ("active", "revoked", "deprecated")


class Redirect(msgspec.Struct, frozen=True):
    """One revoked technique and the current technique that replaces it."""

    from_id: str
    to_id: str
    chain: tuple[str, ...]
    from_name: str = ""
    to_name: str = ""


class LookupHit(msgspec.Struct, frozen=True):
    """One hit of :meth:`KnowledgeBase.lookup`."""

    kind: HitKind
    id: str
    name: str
    matched_on: Literal["id", "name", "alias", "revoked-id", "partial"]
    status: str = "active"
    url: str = ""


class Counts(msgspec.Struct, frozen=True):
    """Object counts for ``attack info`` (techniques/sub-techniques count active ones only)."""

    tactics: int
    techniques: int
    subtechniques: int
    revoked: int
    deprecated: int
    groups: int
    campaigns: int
    software: int
    mitigations: int
    detection_strategies: int
    analytics: int
    data_components: int


class GroupProfile(msgspec.Struct, frozen=True):
    """A group's direct ``uses`` and its profile = direct + uses of its attributed campaigns."""

    group: str
    name: str
    campaigns: tuple[str, ...]
    direct_techniques: tuple[str, ...]
    direct_software: tuple[str, ...]
    techniques: tuple[str, ...]
    software: tuple[str, ...]

    @property
    def campaign_only_techniques(self) -> tuple[str, ...]:
        """Techniques known only through attributed campaigns."""
        direct = set(self.direct_techniques)
        return tuple(t for t in self.techniques if t not in direct)


class AnalyticDetail(msgspec.Struct, frozen=True):
    """An analytic with its data components resolved."""

    analytic: Analytic
    data_components: tuple[DataComponent, ...] = ()


class StrategyDetail(msgspec.Struct, frozen=True):
    """A detection strategy with its analytics resolved."""

    strategy: DetectionStrategy
    analytics: tuple[AnalyticDetail, ...] = ()


class Detections(msgspec.Struct, frozen=True):
    """What would detect one technique: v18 strategies, or (older versions) data components that detect it."""

    technique: str
    strategies: tuple[StrategyDetail, ...] = ()
    legacy_data_components: tuple[DataComponent, ...] = ()
