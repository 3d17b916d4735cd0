"""The plan of one run, fixed before any incident is built: period, schedule, plants and clusters.

Everything here comes from seeded ``random.Random`` streams (one per concern, so changing one part of
the plan does not reshuffle the others) and from sorted views of the knowledge base. Incidents are
then built one by one from the plan with their own seeded stream (see :mod:`afteraction.synth.incident`),
so an incident does not depend on the order in which incidents are built or written.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from afteraction.errors import AttackDataError, UsageError
from afteraction.synth.catalog import ENDPOINT, Actor, Catalog
from afteraction.synth.detection import Noisy, Profile, detection_profile, noisy_detectors
from afteraction.synth.entities import Env, cluster_ip, domain_name, seeded
from afteraction.synth.scenario import (
    BEC,
    IDENTITY_COMPROMISE,
    INCIDENT_TYPES,
    MALWARE,
    OTHER,
    PHISHING,
    RANSOMWARE,
    SIGNATURES,
    TYPE_MIX,
    anchor_techniques,
    fitting_actors,
    sample_chain,
    template_techniques,
)

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase

DEFAULT_END = datetime(2026, 11, 2, tzinfo=UTC)
GENERATOR_VERSION = "1"
TP_SHARE = 0.55  # the rest are benign and false positives from the noisy detectors
ANALYSTS = ("avery.lee@contoso.com", "bram.devries@contoso.com", "chioma.obi@contoso.com",
            "dmitri.volkov@contoso.com", "esther.kim@contoso.com", "farid.nasser@contoso.com")
RISING_PREFERRED = ("T1204.004", "T1218.011", "T1218.005", "T1127.001", "T1059.007")
FADING_PREFERRED = ("T1059.005", "T1137.001", "T1221", "T1559.001", "T1218.007")
TREND_TYPES = (PHISHING, MALWARE, RANSOMWARE, OTHER)
TREND_LOW, TREND_HIGH = 0.04, 0.20  # share of eligible true positives with the technique, before/after
SKILL_PREFERRED = ("T1055", "T1550.002", "T1134.001", "T1047", "T1053.005", "T1098.001", "T1021.006",
                   "T1543.003")
SKILL_COUNT, SKILL_MIN_SHARE = 3, 0.012
SKILL_ACK, SKILL_RESOLVE = 2.5, 5.0
BASE_OUTCOMES = {"reclassified": 0.02, "insufficient_data": 0.02, "unknown": 0.02}
SKILL_OUTCOMES = {"reclassified": 0.15, "insufficient_data": 0.15, "unknown": 0.10}
CLUSTER_TYPES = {PHISHING: 0.25, MALWARE: 0.30, RANSOMWARE: 0.10, IDENTITY_COMPROMISE: 0.15, BEC: 0.10, OTHER: 0.10}
SIMULATED_CHAINS = 3000


@dataclass(frozen=True)
class Options:
    """What to generate; with the seed it fixes the output byte for byte."""

    incidents: int = 200
    weeks: int = 26
    seed: int = 0
    end: datetime = DEFAULT_END
    format: str = "pages"
    page_size: int = 50
    hostile: bool = False

    def check(self) -> None:
        if self.incidents < 1 or self.weeks < 1 or self.page_size < 1 or self.seed < 0:
            raise UsageError("--incidents, --weeks and --page-size must be at least 1, --seed at least 0")
        if self.format not in ("pages", "ndjson"):
            raise UsageError(f"unknown format {self.format!r}: use pages or ndjson")
        if self.end.tzinfo is None:
            raise UsageError("--end must carry a time zone (e.g. 2026-11-02T00:00:00Z)")


class TrendPlan(NamedTuple):
    technique: str
    direction: str
    change_point: float  # POSIX seconds
    before: float
    after: float


class ClusterPlan(NamedTuple):
    id: str
    actor: Actor
    itype: str
    software: tuple[str, ...]
    ips: tuple[str, ...]
    domains: tuple[str, ...]
    members: tuple[int, ...]


class Plan:
    """Everything fixed before building incidents."""

    def __init__(self, options: Options, kb: KnowledgeBase) -> None:
        options.check()
        self.options = options
        self.seed = options.seed
        self.cat = Catalog(kb)
        if not self.cat.techniques:
            raise AttackDataError("the loaded ATT&CK data has no techniques the generator can use")
        n = options.incidents
        self.end = options.end.astimezone(UTC)
        self.start = self.end - timedelta(weeks=options.weeks)
        self.t_start, self.t_end = self.start.timestamp(), self.end.timestamp()
        self.env = Env(self.seed, min(max(n // 3, 60), 20000), min(max(n // 3, 40), 30000))
        self.analysts = ANALYSTS
        self.noisy: list[Noisy] = noisy_detectors(self.cat)
        self.fits = fitting_actors(self.cat)
        noisy_techs = frozenset(d.technique for d in self.noisy if d.technique)
        reserved = template_techniques(self.cat) | SIGNATURES | noisy_techs
        rng = seeded(f"{self.seed}/trends")
        rising = self._trend_technique(rng, RISING_PREFERRED, reserved)
        fading = self._trend_technique(rng, FADING_PREFERRED, reserved | {rising} if rising else reserved)
        mid = self.t_start + (self.t_end - self.t_start) / 2
        self.trends = [TrendPlan(t, d, mid, lo, hi) for t, d, lo, hi in (
            (rising, "rising", TREND_LOW, TREND_HIGH), (fading, "fading", TREND_HIGH, TREND_LOW)) if t]
        self.trend_techniques = frozenset(t.technique for t in self.trends)
        frequent = self._frequent(seeded(f"{self.seed}/frequency"))
        anchors = anchor_techniques(self.cat)
        self.skill = self._skill_gaps(seeded(f"{self.seed}/skills"), frequent,
                                      anchors | self.trend_techniques | noisy_techs | SIGNATURES)
        self.skill_set = frozenset(self.skill)
        self.skill_ack, self.skill_resolve = SKILL_ACK, SKILL_RESOLVE
        self.skill_outcomes, self.base_outcomes = SKILL_OUTCOMES, BASE_OUTCOMES
        well = anchors | self.trend_techniques | noisy_techs | frozenset(self.skill)
        self.profile: Profile = detection_profile(
            seeded(f"{self.seed}/profile"), self.cat, well_detected=well, frequent=frequent[:40])
        self._schedule(seeded(f"{self.seed}/schedule"))
        self.clusters = self._clusters(seeded(f"{self.seed}/clusters"))
        self.cluster_of = {i: c for c in self.clusters for i in c.members}
        hostile_rng = seeded(f"{self.seed}/hostile")
        self.hostile = (frozenset(i for i in range(n) if hostile_rng.random() < 0.08) | {n - 1}
                        if options.hostile else frozenset())

    def incident_id(self, index: int) -> str:
        return str(1001 + index)

    def _trend_technique(self, rng: random.Random, preferred: tuple[str, ...], reserved: frozenset[str]) -> str | None:
        def ok(t: str) -> bool:
            info = self.cat.techniques.get(t)
            return info is not None and t not in reserved and info.surface == ENDPOINT

        found = next((t for t in preferred if ok(t)), None)
        if found is None:
            pool = [t for t in self.cat.by_tactic.get("execution", ()) if ok(t)] or [
                t for t in self.cat.techniques if ok(t)]
            found = rng.choice(pool) if pool else None
        return found

    def _frequent(self, rng: random.Random) -> list[str]:
        """Techniques by how often they appear in simulated chains (most frequent first)."""
        counts: Counter[str] = Counter()
        types, weights = list(TYPE_MIX), list(TYPE_MIX.values())
        for _ in range(SIMULATED_CHAINS):
            itype = rng.choices(types, weights)[0]
            fit = self.fits[itype]
            actor = self.cat.actors[rng.choice(fit)] if fit else None
            counts.update(s.technique for s in sample_chain(rng, self.cat, itype, actor, self.trend_techniques))
        self.simulated = counts
        return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def _skill_gaps(self, rng: random.Random, frequent: list[str], excluded: frozenset[str]) -> list[str]:
        least = SKILL_MIN_SHARE * SIMULATED_CHAINS
        eligible = [t for t in frequent if t not in excluded and self.simulated[t] >= least]
        preferred = [t for t in SKILL_PREFERRED if t in eligible]
        chosen = rng.sample(preferred, min(SKILL_COUNT, len(preferred)))
        rest = [t for t in eligible[:15] if t not in chosen]
        while len(chosen) < SKILL_COUNT and rest:
            chosen.append(rest.pop(rng.randrange(len(rest))))
        return sorted(chosen)

    def _schedule(self, rng: random.Random) -> None:
        n = self.options.incidents
        span = self.t_end - self.t_start
        self.times = sorted(self.t_start + rng.random() * span for _ in range(n))
        self.kinds = ["tp" if rng.random() < TP_SHARE else "noise" for _ in range(n)]
        types, weights = list(TYPE_MIX), list(TYPE_MIX.values())
        self.types = [rng.choices(types, weights)[0] if k == "tp" else "" for k in self.kinds]

    def _clusters(self, rng: random.Random) -> list[ClusterPlan]:
        """Campaign clusters: 3-7 true positives of one type within a 3-8 week window, one actor."""
        by_type: dict[str, list[int]] = {t: [] for t in INCIDENT_TYPES}
        for i, t in enumerate(self.types):
            if t:
                by_type[t].append(i)
        type_times = {t: [self.times[i] for i in pool] for t, pool in by_type.items()}
        n_tp = sum(len(v) for v in by_type.values())
        wanted = 0 if n_tp < 6 else max(2, round(n_tp / 40))
        ctypes = [t for t in CLUSTER_TYPES if len(by_type[t]) >= 3]
        if not ctypes or not self.cat.actors:
            return []
        with_software = {i for i, a in enumerate(self.cat.actors) if a.software}
        used: set[int] = set()
        taken: set[int] = set()
        out: list[ClusterPlan] = []
        span = self.t_end - self.t_start
        for c in range(wanted):
            itype = rng.choices(ctypes, [CLUSTER_TYPES[t] for t in ctypes])[0]
            fit = [i for i in self.fits[itype] if i in with_software] or self.fits[itype]
            fresh = [i for i in fit if i not in used] or fit
            pick = rng.choice(fresh)
            used.add(pick)
            length = min(span, rng.uniform(3, 8) * 7 * 86400.0)
            w0 = self.t_start + rng.random() * (span - length)
            pool, times = by_type[itype], type_times[itype]
            lo, hi = bisect.bisect_left(times, w0), bisect.bisect_right(times, w0 + length)
            members: set[int] = set()
            size = rng.randint(3, 7)
            for _ in range(size * 4):
                if len(members) >= size or hi <= lo:
                    break
                i = pool[rng.randrange(lo, hi)]
                if i not in taken:
                    members.add(i)
            if len(members) < 2:
                continue
            taken |= members
            actor = self.cat.actors[pick]
            k = len(out)
            ips = tuple(cluster_ip(3 * k + j) for j in range(rng.randint(2, 3)))
            domains = tuple(domain_name(2 * k + j, self.seed) for j in range(rng.randint(1, 2)))
            out.append(ClusterPlan(f"CL{c + 1:04d}", actor, itype, self._cluster_software(rng, actor, itype), ips,
                                   domains, tuple(sorted(members))))
        return out

    def _cluster_software(self, rng: random.Random, actor: Actor, itype: str) -> tuple[str, ...]:
        if itype in (IDENTITY_COMPROMISE, BEC):  # no endpoint alerts to name software: infrastructure only
            return ()
        soft = self.cat.software
        preferred = [s for s in actor.software if soft[s].windows and soft[s].kind == "malware"] or list(actor.software)
        chosen = set(rng.sample(preferred, min(len(preferred), rng.randint(1, 2))))
        encryptors = [s for s in actor.software if "T1486" in soft[s].techniques]
        if itype == RANSOMWARE and encryptors and not chosen & set(encryptors):
            chosen.add(rng.choice(encryptors))
        return tuple(sorted(chosen))
