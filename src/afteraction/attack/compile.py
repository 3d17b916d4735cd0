"""Compile STIX objects (from a bundle or the bundled lookups) into the :class:`KBData` model.

Rules (also documented in ``docs/attack-data.md``):

* tactic order = the matrix ``tactic_refs`` (first matrix first), never ID order;
* a relationship is kept only when both ends exist and are active (not revoked, not deprecated), except that
  ``uses``/``mitigates``/``detects`` targets that are *revoked techniques* are remapped through
  ``revoked-by``;
* ``revoked-by`` edges are kept for every object kind (techniques in :attr:`Technique.revoked_by`, groups and
  software in ``object_redirects``);
* sub-technique parent = the id before the dot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from afteraction.attack.model import (
    COMPILER_VERSION,
    Analytic,
    Campaign,
    DataComponent,
    DetectionStrategy,
    Group,
    KBData,
    LogSource,
    Mitigation,
    MitigationAdvice,
    Software,
    Tactic,
    Technique,
)
from afteraction.attack.stix import StixObject

_CITATION = re.compile(r"\s*\(Citation:[^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?code>")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<!\b[A-Z])\.(?=\s|$)")

SOFTWARE_TYPES = ("malware", "tool")


def short_text(text: str | None, limit: int = 300) -> str:
    """First sentence (or about ``limit`` chars), citations and markdown links removed."""
    if not text:
        return ""
    clean = _SPACES.sub(" ", _HTML_TAG.sub("", _MD_LINK.sub(r"\1", _CITATION.sub("", text)))).strip()
    clean = clean.removesuffix("...").rstrip()
    match = _SENTENCE_END.search(clean)
    if match and match.end() <= limit:
        return clean[: match.end()]
    if len(clean) <= limit:
        return clean
    cut = clean[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _active(obj: StixObject) -> bool:
    return not (obj.is_revoked or obj.is_deprecated)


class _Compiler:
    """One compilation run; holds the stix-id indexes."""

    def __init__(self, objects: Iterable[StixObject]) -> None:
        self.by_type: dict[str, list[StixObject]] = defaultdict(list)
        self.by_stix: dict[str, StixObject] = {}
        self.rels: list[StixObject] = []
        for obj in objects:
            if obj.type == "relationship":
                self.rels.append(obj)
                continue
            self.by_type[obj.type].append(obj)
            self.by_stix[obj.id] = obj
        self.ids: dict[str, str] = {}
        for sid, obj in self.by_stix.items():
            self.ids[sid] = obj.attack_id or sid
        # direct revoked-by: stix id -> stix id
        self.revoked_by: dict[str, str] = {}
        for rel in self.rels:
            is_redirect = rel.relationship_type == "revoked-by" and rel.source_ref and rel.target_ref
            if is_redirect and rel.target_ref in self.by_stix:
                self.revoked_by[rel.source_ref] = rel.target_ref  # type: ignore[index]

    # -- helpers -------------------------------------------------------------------------------------
    def current(self, sid: str) -> str | None:
        """Follow revoked-by from ``sid`` to an active object's stix id; None if none is reached."""
        seen: set[str] = set()
        while sid in self.by_stix and sid not in seen:
            obj = self.by_stix[sid]
            if _active(obj):
                return sid
            if obj.is_deprecated or sid not in self.revoked_by:
                return None
            seen.add(sid)
            sid = self.revoked_by[sid]
        return None

    def edges(
        self, rtype: str, src_types: tuple[str, ...], dst_types: tuple[str, ...]
    ) -> list[tuple[str, str]]:
        """(source attack id, target attack id) of active relationships between active objects."""
        out: list[tuple[str, str]] = []
        for rel in self.rels:
            if rel.relationship_type != rtype or not _active(rel):
                continue
            src = self.by_stix.get(rel.source_ref or "")
            dst = self.by_stix.get(rel.target_ref or "")
            if src is None or dst is None or src.type not in src_types or dst.type not in dst_types:
                continue
            if not _active(src):
                continue
            dst_sid = self.current(dst.id) if dst.is_revoked else (dst.id if _active(dst) else None)
            if dst_sid is None:
                continue
            out.append((self.ids[src.id], self.ids[dst_sid]))
        return out

    def edge_descriptions(self, rtype: str) -> dict[tuple[str, str], str]:
        """(source stix id, target stix id) -> description for one relationship type."""
        return {
            (r.source_ref or "", r.target_ref or ""): r.description or ""
            for r in self.rels
            if r.relationship_type == rtype
        }

    # -- object kinds --------------------------------------------------------------------------------
    def tactics(self) -> list[Tactic]:
        tactics = {o.id: o for o in self.by_type["x-mitre-tactic"] if _active(o)}
        order: list[str] = []
        for matrix in self.by_type["x-mitre-matrix"]:
            if _active(matrix):
                order += [ref for ref in matrix.tactic_refs if ref in tactics and ref not in order]
        order += sorted((sid for sid in tactics if sid not in order), key=lambda s: self.ids[s])
        return [
            Tactic(
                id=self.ids[sid],
                shortname=tactics[sid].x_mitre_shortname or "",
                name=tactics[sid].name or "",
                url=tactics[sid].attack_url,
                stix_id=sid,
            )
            for sid in order
        ]

    def techniques(self, tactic_order: dict[str, int]) -> dict[str, Technique]:
        out: dict[str, Technique] = {}
        for obj in self.by_type["attack-pattern"]:
            tid = obj.attack_id
            if not tid:
                continue
            tactics = {p.phase_name for p in obj.kill_chain_phases if p.kill_chain_name.startswith("mitre-")}
            is_sub = bool(obj.x_mitre_is_subtechnique) or "." in tid
            nxt = self.revoked_by.get(obj.id) if obj.is_revoked else None
            out[tid] = Technique(
                id=tid,
                name=obj.name or "",
                stix_id=obj.id,
                tactics=tuple(sorted(tactics, key=lambda t: (tactic_order.get(t, 999), t))),
                platforms=tuple(obj.x_mitre_platforms),
                parent=tid.split(".", 1)[0] if is_sub else None,
                is_subtechnique=is_sub,
                deprecated=obj.is_deprecated,
                revoked=obj.is_revoked,
                revoked_by=self.ids.get(nxt) if nxt else None,
                url=obj.attack_url,
                description=short_text(obj.description),
            )
        return dict(sorted(out.items()))

    def object_redirects(self) -> dict[str, str]:
        """Revoked non-technique objects (groups, software...) -> their current replacement's id."""
        out: dict[str, str] = {}
        for sid, obj in self.by_stix.items():
            if obj.type == "attack-pattern" or not obj.is_revoked:
                continue
            cur = self.current(sid)
            if cur and obj.attack_id and self.ids[cur] != obj.attack_id:
                out[obj.attack_id] = self.ids[cur]
        return dict(sorted(out.items()))

    def compile(self, version: str, version_origin: str, source: str, source_hash: str) -> KBData:
        tactics = self.tactics()
        techniques = self.techniques({t.shortname: i for i, t in enumerate(tactics)})
        sw_types = SOFTWARE_TYPES
        uses_t: dict[str, set[str]] = defaultdict(set)
        uses_s: dict[str, set[str]] = defaultdict(set)
        for src, dst in self.edges("uses", ("intrusion-set", "campaign", *sw_types), ("attack-pattern",)):
            uses_t[src].add(dst)
        for src, dst in self.edges("uses", ("intrusion-set", "campaign"), sw_types):
            uses_s[src].add(dst)
        attributed: dict[str, set[str]] = defaultdict(set)
        for camp, grp in self.edges("attributed-to", ("campaign",), ("intrusion-set",)):
            attributed[camp].add(grp)
        group_campaigns: dict[str, set[str]] = defaultdict(set)
        for camp, grps in attributed.items():
            for grp in grps:
                group_campaigns[grp].add(camp)

        groups = {}
        for o in self.by_type["intrusion-set"]:
            gid = o.attack_id
            if gid and _active(o):
                groups[gid] = Group(
                    id=gid, name=o.name or "", aliases=tuple(a for a in o.aliases if a != o.name),
                    url=o.attack_url, stix_id=o.id, description=short_text(o.description),
                    techniques=tuple(sorted(uses_t[gid])), software=tuple(sorted(uses_s[gid])),
                    campaigns=tuple(sorted(group_campaigns[gid])),
                )
        campaigns = {}
        for o in self.by_type["campaign"]:
            cid = o.attack_id
            if cid and _active(o):
                campaigns[cid] = Campaign(
                    id=cid, name=o.name or "", aliases=tuple(a for a in o.aliases if a != o.name),
                    url=o.attack_url, stix_id=o.id, description=short_text(o.description),
                    first_seen=o.first_seen, last_seen=o.last_seen, groups=tuple(sorted(attributed[cid])),
                    techniques=tuple(sorted(uses_t[cid])), software=tuple(sorted(uses_s[cid])),
                )
        software = {}
        for kind in sw_types:
            for o in self.by_type[kind]:
                sid = o.attack_id
                if sid and _active(o):
                    aliases = [a for a in (*o.x_mitre_aliases, *o.aliases) if a != o.name]
                    software[sid] = Software(
                        id=sid, name=o.name or "", kind=kind, aliases=tuple(dict.fromkeys(aliases)),
                        platforms=tuple(o.x_mitre_platforms), url=o.attack_url, stix_id=o.id,
                        description=short_text(o.description), techniques=tuple(sorted(uses_t[sid])),
                    )
        mitigations = {
            o.attack_id: Mitigation(
                id=o.attack_id, name=o.name or "", url=o.attack_url, stix_id=o.id,
                description=short_text(o.description),
            )
            for o in self.by_type["course-of-action"]
            if o.attack_id and _active(o)
        }
        tech_mits = self._mitigation_advice(mitigations)
        strategies, analytics, components, tech_dets, legacy = self._detections()
        return KBData(
            compiler_version=COMPILER_VERSION, version=version, version_origin=version_origin,
            source=source, source_hash=source_hash, tactics=tactics, techniques=techniques,
            groups=dict(sorted(groups.items())), campaigns=dict(sorted(campaigns.items())),
            software=dict(sorted(software.items())), mitigations=dict(sorted(mitigations.items())),
            technique_mitigations=tech_mits, detection_strategies=strategies, analytics=analytics,
            data_components=components, technique_detections=tech_dets, legacy_detections=legacy,
            object_redirects=self.object_redirects(),
        )

    def _mitigation_advice(self, mitigations: dict[str, Mitigation]) -> dict[str, list[MitigationAdvice]]:
        descriptions = self.edge_descriptions("mitigates")
        stix_of = {m.id: m.stix_id for m in mitigations.values()}
        out: dict[str, list[MitigationAdvice]] = defaultdict(list)
        tech_stix = {self.ids[o.id]: o.id for o in self.by_type["attack-pattern"]}
        for mid, tid in self.edges("mitigates", ("course-of-action",), ("attack-pattern",)):
            mit = mitigations.get(mid)
            if mit is None:
                continue
            desc = descriptions.get((stix_of[mid], tech_stix.get(tid, "")), "")
            out[tid].append(MitigationAdvice(mid, mit.name, short_text(desc, 400), mit.url))
        return {k: sorted(v, key=lambda a: a.mitigation_id) for k, v in sorted(out.items())}

    def _detections(self) -> tuple[
        dict[str, DetectionStrategy], dict[str, Analytic], dict[str, DataComponent],
        dict[str, list[str]], dict[str, list[str]],
    ]:
        components: dict[str, DataComponent] = {}
        for o in self.by_type["x-mitre-data-component"]:
            if o.is_revoked:
                continue
            cid = self.ids[o.id]
            components[cid] = DataComponent(
                id=cid, name=o.name or "", stix_id=o.id, description=short_text(o.description),
                log_sources=tuple(LogSource(s.name, s.channel or "") for s in o.x_mitre_log_sources),
                deprecated=o.is_deprecated,
            )
        analytics: dict[str, Analytic] = {}
        for o in self.by_type["x-mitre-analytic"]:
            if not _active(o):
                continue
            aid = self.ids[o.id]
            sources = tuple(
                LogSource(s.name, s.channel or "", self.ids.get(s.x_mitre_data_component_ref or ""))
                for s in o.x_mitre_log_source_references
            )
            analytics[aid] = Analytic(
                id=aid, name=o.name or "", stix_id=o.id, url=o.attack_url,
                description=short_text(o.description, 400), platforms=tuple(o.x_mitre_platforms),
                log_sources=sources,
                data_components=tuple(dict.fromkeys(s.data_component for s in sources if s.data_component)),
            )
        det_edges: dict[str, set[str]] = defaultdict(set)
        for det, tid in self.edges("detects", ("x-mitre-detection-strategy",), ("attack-pattern",)):
            det_edges[det].add(tid)
        strategies: dict[str, DetectionStrategy] = {}
        tech_dets: dict[str, set[str]] = defaultdict(set)
        for o in self.by_type["x-mitre-detection-strategy"]:
            if not _active(o):
                continue
            did = self.ids[o.id]
            refs = tuple(self.ids[r] for r in o.x_mitre_analytic_refs if self.ids.get(r) in analytics)
            strategies[did] = DetectionStrategy(
                id=did, name=o.name or "", stix_id=o.id, url=o.attack_url, analytics=refs,
                techniques=tuple(sorted(det_edges[did])),
            )
            for tid in det_edges[did]:
                tech_dets[tid].add(did)
        legacy: dict[str, set[str]] = defaultdict(set)  # v10-v17: data component -detects-> technique
        for dc, tid in self.edges("detects", ("x-mitre-data-component",), ("attack-pattern",)):
            legacy[tid].add(dc)
        return (
            dict(sorted(strategies.items())), dict(sorted(analytics.items())),
            dict(sorted(components.items())),
            {k: sorted(v) for k, v in sorted(tech_dets.items())},
            {k: sorted(v) for k, v in sorted(legacy.items())},
        )


def collection_version(objects: Iterable[StixObject]) -> str | None:
    """``x_mitre_version`` of the ``x-mitre-collection`` object, if the source has one."""
    for obj in objects:
        if obj.type == "x-mitre-collection" and obj.x_mitre_version:
            return obj.x_mitre_version
    return None


def compile_objects(
    objects: list[StixObject], *, version: str, version_origin: str, source: str, source_hash: str
) -> KBData:
    """Compile STIX objects into a :class:`KBData`."""
    return _Compiler(objects).compile(version, version_origin, source, source_hash)
