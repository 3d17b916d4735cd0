"""What the generator takes from the loaded ATT&CK knowledge base: chain tactics, usable techniques, actors.

Works with any ATT&CK version: everything is read from the knowledge base and iterated in sorted
order. A technique is *usable* when it is active, belongs to a tactic an incident can show (not
reconnaissance or resource development, which happen outside the environment) and runs on a platform
the generator can give evidence for. Each usable technique gets a *surface* (the product that sees
it: endpoint, on-premises identity, cloud identity, cloud apps, mail), see :func:`surface_of`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase

PRE_TACTICS = frozenset({"reconnaissance", "resource-development"})
ENDPOINT_PLATFORMS = ("Windows", "Linux", "macOS")
MIN_ACTOR_TECHNIQUES = 8

# Surfaces: which product family detects a technique and which evidence fits it.
ENDPOINT, IDENTITY, CLOUD_IDENTITY, CLOUD_APP, MAIL, DLP = (
    "endpoint", "identity", "cloud_identity", "cloud_app", "mail", "dlp",
)  # fmt: skip
SURFACES = (ENDPOINT, IDENTITY, CLOUD_IDENTITY, CLOUD_APP, MAIL, DLP)

# Explicit surfaces for techniques whose platforms alone mislead (a parent id covers its sub-techniques
# unless the sub-technique is listed itself).
_SURFACE_OVERRIDES: dict[str, str] = {
    "T1566": MAIL, "T1566.001": MAIL, "T1566.002": MAIL, "T1566.003": CLOUD_APP, "T1566.004": MAIL,
    "T1534": MAIL, "T1657": MAIL,
    "T1558": IDENTITY, "T1003.006": IDENTITY, "T1550.002": IDENTITY, "T1550.003": IDENTITY,
    "T1087.002": IDENTITY, "T1069.002": IDENTITY, "T1207": IDENTITY, "T1484.001": IDENTITY,
    "T1078.004": CLOUD_IDENTITY, "T1110": CLOUD_IDENTITY, "T1621": CLOUD_IDENTITY, "T1556.006": CLOUD_IDENTITY,
    "T1539": CLOUD_IDENTITY, "T1098.005": CLOUD_IDENTITY, "T1606": CLOUD_IDENTITY, "T1550.004": CLOUD_IDENTITY,
    "T1530": CLOUD_APP, "T1537": CLOUD_APP, "T1213": CLOUD_APP, "T1114.002": CLOUD_APP, "T1114.003": CLOUD_APP,
    "T1564.008": CLOUD_APP, "T1098.001": CLOUD_APP, "T1098.002": CLOUD_APP, "T1098.003": CLOUD_APP,
    "T1136.003": CLOUD_APP, "T1528": CLOUD_APP, "T1526": CLOUD_APP, "T1087.004": CLOUD_APP,
    "T1069.003": CLOUD_APP, "T1580": CLOUD_APP, "T1619": CLOUD_APP, "T1550.001": CLOUD_APP,
}  # fmt: skip


class TechInfo(NamedTuple):
    """A usable technique: its chain tactics (kill-chain order), surface and endpoint OS."""

    id: str
    name: str
    full_name: str
    tactics: tuple[str, ...]
    surface: str
    os: str  # windows | linux | macos (endpoint surfaces); "" otherwise


class SoftInfo(NamedTuple):
    """An ATT&CK software entry as the generator uses it."""

    id: str
    name: str
    kind: str  # malware | tool
    windows: bool
    techniques: frozenset[str]


class Actor(NamedTuple):
    """A group (profile including its campaigns' uses) or a campaign that drives incidents."""

    kind: str  # group | campaign
    id: str
    name: str
    display_names: tuple[str, ...]  # what an alert's actorDisplayName may say
    techniques: frozenset[str]
    by_tactic: dict[str, tuple[str, ...]]
    software: tuple[str, ...]


def surface_of(tech_id: str, platforms: tuple[str, ...]) -> str | None:
    """The surface of a technique: explicit table (own id, then parent), else from its platforms."""
    found = _SURFACE_OVERRIDES.get(tech_id) or _SURFACE_OVERRIDES.get(tech_id.split(".")[0])
    if found:
        return found
    if any(p in platforms for p in ENDPOINT_PLATFORMS):
        return ENDPOINT
    if "Identity Provider" in platforms:
        return CLOUD_IDENTITY
    if "Office Suite" in platforms or "SaaS" in platforms or "IaaS" in platforms:
        return CLOUD_APP
    return None


def _os(platforms: tuple[str, ...]) -> str:
    if "Windows" in platforms or not platforms:
        return "windows"
    return "linux" if "Linux" in platforms else "macos" if "macOS" in platforms else "windows"


class Catalog:
    """Sorted, read-only views of the knowledge base for sampling."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.tactics: list[tuple[str, str, str]] = [
            (t.shortname, t.id, t.name) for t in kb.tactics if t.shortname not in PRE_TACTICS
        ]
        self.order = {short: i for i, (short, _, _) in enumerate(self.tactics)}
        self.tactic_ids = {short: tid for short, tid, _ in self.tactics}
        self.tactic_names = {short: name for short, _, name in self.tactics}
        self.techniques: dict[str, TechInfo] = {}
        for tid in sorted(kb.techniques):
            info = self._tech_info(tid)
            if info is not None:
                self.techniques[tid] = info
        by_tactic: dict[str, list[str]] = {short: [] for short, _, _ in self.tactics}
        for info in self.techniques.values():
            for tactic in info.tactics:
                by_tactic[tactic].append(info.id)
        self.by_tactic = {k: tuple(v) for k, v in by_tactic.items()}
        self.software: dict[str, SoftInfo] = {}
        for sid in sorted(kb.software):
            s = kb.software[sid]
            windows = not s.platforms or "Windows" in s.platforms
            self.software[sid] = SoftInfo(sid, s.name, s.kind or "malware", windows, frozenset(s.techniques))
        self.actors = self._actors()

    def _tech_info(self, tid: str) -> TechInfo | None:
        tech = self.kb.techniques[tid]
        if not tech.active:
            return None
        tactics = tuple(sorted((t for t in tech.tactics if t in self.order), key=self.order.__getitem__))
        surface = surface_of(tid, tech.platforms)
        if not tactics or surface is None:
            return None
        parent = self.kb.techniques.get(tech.parent) if tech.parent else None
        full = f"{parent.name}: {tech.name}" if parent is not None else tech.name
        return TechInfo(tid, tech.name, full, tactics, surface, _os(tech.platforms) if surface == ENDPOINT else "")

    def _actor(self, kind: str, oid: str, name: str, display: tuple[str, ...], techs: tuple[str, ...],
               software: tuple[str, ...]) -> Actor | None:
        usable = sorted({t for t in techs if t in self.techniques})
        if len(usable) < MIN_ACTOR_TECHNIQUES:
            return None
        by_tactic: dict[str, list[str]] = {}
        for t in usable:
            for tactic in self.techniques[t].tactics:
                by_tactic.setdefault(tactic, []).append(t)
        soft = tuple(s for s in sorted(set(software)) if s in self.software)
        return Actor(kind, oid, name, display, frozenset(usable), {k: tuple(v) for k, v in by_tactic.items()}, soft)

    def _actors(self) -> list[Actor]:
        out: list[Actor] = []
        for gid in sorted(self.kb.groups):
            profile = self.kb.group_profile(gid)
            grp = self.kb.groups[gid]
            if profile is None:
                continue
            display = tuple(dict.fromkeys((grp.name, *grp.aliases)))
            actor = self._actor("group", gid, grp.name, display, profile.techniques, profile.software)
            if actor is not None:
                out.append(actor)
        for cid in sorted(self.kb.campaigns):
            camp = self.kb.campaigns[cid]
            names = [self.kb.groups[g].name for g in camp.groups if g in self.kb.groups]
            actor = self._actor("campaign", cid, camp.name, tuple(names), camp.techniques, camp.software)
            if actor is not None:
                out.append(actor)
        return out

    def first_usable(self, candidates: tuple[str, ...]) -> str | None:
        """The first candidate id that is a usable technique in this knowledge base."""
        return next((c for c in candidates if c in self.techniques), None)

    def usable(self, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The candidates that are usable techniques, in the given order."""
        return tuple(c for c in candidates if c in self.techniques)

    def primary_tactic(self, tech_id: str) -> str:
        """The technique's first tactic in kill-chain order."""
        return self.techniques[tech_id].tactics[0]

    def category(self, tactic: str) -> str:
        """Defender's PascalCase category for a tactic shortname: ``command-and-control`` -> ``CommandAndControl``."""
        return "".join(part.capitalize() for part in tactic.split("-"))

    def tactic_label(self, tactic: str) -> str:
        """Defender's sentence-case tactic label: ``Command and control``."""
        name = self.tactic_names.get(tactic, tactic)
        return name[:1].upper() + name[1:].lower()
