"""Incident types and their attack chains: templates of kill-chain slots filled from an actor's profile.

A template is a list of slots in kill-chain order. Each slot is taken with its probability; it is
filled from its candidate techniques (those the actor uses first) or else from the actor's own
techniques for the slot's tactic, restricted to the surfaces that fit the incident type. *Signature*
techniques (those that define a type, such as phishing or inbox rules) only enter chains through
their own type's template, so each incident's intended type stays unambiguous.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from afteraction.synth.catalog import CLOUD_APP, CLOUD_IDENTITY, ENDPOINT, IDENTITY, MAIL, Actor, Catalog

PHISHING, IDENTITY_COMPROMISE, RANSOMWARE, BEC, MALWARE, INSIDER, OTHER = (
    "phishing", "identity_compromise", "ransomware", "business_email_compromise", "malware",
    "insider_data_loss", "other",
)  # fmt: skip
INCIDENT_TYPES = (PHISHING, IDENTITY_COMPROMISE, RANSOMWARE, BEC, MALWARE, INSIDER, OTHER)
# Share of true-positive incidents per type.
TYPE_MIX: dict[str, float] = {
    PHISHING: 0.24, IDENTITY_COMPROMISE: 0.18, MALWARE: 0.20, RANSOMWARE: 0.08, BEC: 0.10, INSIDER: 0.05,
    OTHER: 0.15,
}  # fmt: skip
DETERMINATION = {
    PHISHING: "phishing", IDENTITY_COMPROMISE: "compromisedAccount", RANSOMWARE: "malware",
    BEC: "compromisedAccount", MALWARE: "malware", INSIDER: "maliciousUserActivity", OTHER: "multiStagedAttack",
}  # fmt: skip


class Slot(NamedTuple):
    """One kill-chain position of a template."""

    tactic: str
    prob: float
    candidates: tuple[str, ...] = ()
    cand_share: float = 1.0  # chance to fill from the candidates rather than the actor's profile
    anchor: bool = False  # defines the type: always well detected


def _s(tactic: str, prob: float, candidates: tuple[str, ...] = (), share: float = 1.0, anchor: bool = False) -> Slot:
    return Slot(tactic, prob, candidates, share if candidates else 0.0, anchor)


TEMPLATES: dict[str, tuple[Slot, ...]] = {
    PHISHING: (
        _s("initial-access", 1.0, ("T1566.002", "T1566.001"), anchor=True),
        _s("execution", 0.45, ("T1204.001", "T1204.002"), 0.9),
        _s("persistence", 0.15), _s("defense-evasion", 0.2), _s("credential-access", 0.2),
        _s("command-and-control", 0.3),
    ),
    IDENTITY_COMPROMISE: (
        _s("initial-access", 1.0, ("T1078.004",), anchor=True),
        _s("credential-access", 0.75, ("T1110.003", "T1621", "T1110.001", "T1539"), 0.85),
        _s("persistence", 0.45, ("T1098.005", "T1098.001", "T1556.006"), 0.7),
        _s("defense-evasion", 0.2),
        _s("discovery", 0.35, ("T1087.004", "T1069.003"), 0.6),
        _s("collection", 0.35, ("T1114.002", "T1530"), 0.7),
        _s("exfiltration", 0.1),
    ),
    BEC: (
        _s("initial-access", 0.5, ("T1566.002",)),
        _s("initial-access", 1.0, ("T1078.004",), anchor=True),
        _s("persistence", 0.25, ("T1098.002",)),
        _s("defense-evasion", 1.0, ("T1564.008",), anchor=True),
        _s("collection", 1.0, ("T1114.003",), anchor=True),
        _s("lateral-movement", 0.3, ("T1534",)),
        _s("impact", 0.35, ("T1657",)),
    ),
    RANSOMWARE: (
        _s("initial-access", 1.0, ("T1133", "T1190", "T1078", "T1566.001"), 0.8),
        _s("execution", 0.9, ("T1059.001", "T1059.003", "T1047"), 0.5),
        _s("persistence", 0.4), _s("privilege-escalation", 0.35),
        _s("defense-evasion", 0.8, ("T1562.001",), 0.6),
        _s("credential-access", 0.75, ("T1003.001",), 0.6),
        _s("discovery", 0.85), _s("discovery", 0.4),
        _s("lateral-movement", 0.9, ("T1021.001", "T1021.002", "T1570"), 0.7),
        _s("command-and-control", 0.55),
        _s("exfiltration", 0.35, ("T1567.002", "T1048.003"), 0.6),
        _s("impact", 1.0, ("T1486",), anchor=True),
        _s("impact", 0.7, ("T1490",), anchor=True),
    ),
    MALWARE: (
        _s("initial-access", 0.6, ("T1566.001", "T1189", "T1091", "T1195.002"), 0.5),
        _s("execution", 1.0, ("T1204.002",), 0.3),
        _s("persistence", 0.6), _s("privilege-escalation", 0.2), _s("defense-evasion", 0.55),
        _s("credential-access", 0.25), _s("discovery", 0.35), _s("collection", 0.15),
        _s("command-and-control", 0.75), _s("exfiltration", 0.1),
    ),
    INSIDER: (
        _s("collection", 0.9, ("T1213.002", "T1530", "T1005")),
        _s("collection", 0.35, ("T1560.001", "T1074.001")),
        _s("defense-evasion", 0.15, ("T1070.004",)),
        _s("exfiltration", 1.0, ("T1567.002", "T1052.001", "T1048.003"), anchor=True),
    ),
    OTHER: (
        _s("initial-access", 0.8), _s("execution", 0.7), _s("persistence", 0.5), _s("privilege-escalation", 0.3),
        _s("defense-evasion", 0.5), _s("credential-access", 0.4), _s("discovery", 0.5),
        _s("lateral-movement", 0.3), _s("collection", 0.3), _s("command-and-control", 0.5),
        _s("exfiltration", 0.2), _s("impact", 0.05),
    ),
}
# Surfaces allowed for steps sampled from an actor's profile, per type.
ACTOR_SURFACES: dict[str, frozenset[str]] = {
    PHISHING: frozenset({ENDPOINT, IDENTITY}),
    IDENTITY_COMPROMISE: frozenset({CLOUD_IDENTITY, CLOUD_APP, IDENTITY}),
    BEC: frozenset({CLOUD_IDENTITY, CLOUD_APP, MAIL}),
    RANSOMWARE: frozenset({ENDPOINT, IDENTITY}),
    MALWARE: frozenset({ENDPOINT, IDENTITY}),
    INSIDER: frozenset({CLOUD_APP, ENDPOINT}),
    OTHER: frozenset({ENDPOINT, IDENTITY}),
}
# An actor fits a type when its profile holds one of these (malware: when it has malware software).
ACTOR_FIT: dict[str, tuple[str, ...]] = {
    PHISHING: ("T1566.001", "T1566.002"),
    IDENTITY_COMPROMISE: ("T1078.004", "T1110.003", "T1621", "T1110.001"),
    BEC: ("T1114.003", "T1564.008", "T1534", "T1114.002"),
    RANSOMWARE: ("T1486",),
}
# Techniques that define a type: they only enter chains through their own type's template.
SIGNATURES = frozenset({
    "T1566", "T1566.001", "T1566.002", "T1566.003", "T1566.004", "T1486", "T1490", "T1564.008", "T1114.003",
    "T1078.004", "T1052.001", "T1657", "T1534",
})


class PlannedStep(NamedTuple):
    """A chain step before timing: technique, the tactic it serves, and why it is there."""

    technique: str
    tactic: str
    planted: str  # anchor | chain | rising | fading


def anchor_techniques(cat: Catalog) -> frozenset[str]:
    """Every usable candidate of every anchor slot (kept well detected in the detection profile)."""
    return frozenset(
        c for slots in TEMPLATES.values() for s in slots if s.anchor for c in s.candidates if c in cat.techniques
    )


def template_techniques(cat: Catalog) -> frozenset[str]:
    """Every usable candidate technique named in a template."""
    return frozenset(c for slots in TEMPLATES.values() for s in slots for c in s.candidates if c in cat.techniques)


def fitting_actors(cat: Catalog) -> dict[str, list[int]]:
    """Indexes into ``cat.actors`` of the actors that fit each type (all actors when none fits)."""
    out: dict[str, list[int]] = {}
    everyone = list(range(len(cat.actors)))
    for itype in INCIDENT_TYPES:
        if itype == INSIDER:
            out[itype] = []
            continue
        if itype == MALWARE:
            fit = [i for i, a in enumerate(cat.actors)
                   if any(cat.software[s].kind == "malware" for s in a.software)]
        elif itype in ACTOR_FIT:
            fit = [i for i, a in enumerate(cat.actors) if any(t in a.techniques for t in ACTOR_FIT[itype])]
        else:
            fit = everyone
        out[itype] = fit or everyone
    return out


def _tactic_for(cat: Catalog, tech: str, wanted: str) -> str:
    tactics = cat.techniques[tech].tactics
    return wanted if wanted in tactics else tactics[0]


def sample_chain(
    rng: random.Random, cat: Catalog, itype: str, actor: Actor | None, exclude: frozenset[str]
) -> list[PlannedStep]:
    """Chain steps for one incident of type ``itype``, sorted into kill-chain order (stable)."""
    steps: list[PlannedStep] = []
    used: set[str] = set()
    for slot in TEMPLATES[itype]:
        if slot.tactic not in cat.order or rng.random() >= slot.prob:
            continue
        tech = None
        cands = [c for c in slot.candidates if c in cat.techniques and c not in used and c not in exclude]
        if cands and rng.random() < slot.cand_share:
            own = [c for c in cands if actor is not None and c in actor.techniques]
            tech = rng.choice(own or cands)
        if tech is None:
            options = [t for t in _options(cat, actor, slot.tactic, itype, exclude) if t not in used]
            if options:
                tech = rng.choice(options)
            elif cands:
                tech = rng.choice(cands)
        if tech is not None:
            used.add(tech)
            steps.append(PlannedStep(tech, _tactic_for(cat, tech, slot.tactic), "anchor" if slot.anchor else "chain"))
    steps.sort(key=lambda s: cat.order[s.tactic])
    return steps


_OPTIONS: dict[tuple[Catalog, str | None, str, str, frozenset[str]], tuple[str, ...]] = {}


def _options(cat: Catalog, actor: Actor | None, tactic: str, itype: str, exclude: frozenset[str]) -> tuple[str, ...]:
    """The actor's techniques for a tactic that may fill a slot of this type (cached)."""
    key = (cat, actor.id if actor is not None else None, tactic, itype, exclude)
    found = _OPTIONS.get(key)
    if found is None:
        if len(_OPTIONS) > 50_000:
            _OPTIONS.clear()
        pool = actor.by_tactic.get(tactic, ()) if actor is not None else cat.by_tactic[tactic]
        allowed = ACTOR_SURFACES[itype]
        found = _OPTIONS[key] = tuple(t for t in pool if t not in exclude and t not in SIGNATURES
                                      and cat.techniques[t].surface in allowed)
    return found


def insert_step(cat: Catalog, steps: list[PlannedStep], tech: str, planted: str) -> list[PlannedStep]:
    """``steps`` with ``tech`` added at its tactic's kill-chain position (after steps of the same tactic)."""
    if any(s.technique == tech for s in steps):
        return steps
    new = PlannedStep(tech, cat.primary_tactic(tech), planted)
    pos = sum(1 for s in steps if cat.order[s.tactic] <= cat.order[new.tactic])
    return [*steps[:pos], new, *steps[pos:]]
