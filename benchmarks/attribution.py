"""Benchmark: score N incidents against every ATT&CK group, campaign and software item (target: 100,000 in 5 s).

    python benchmarks/attribution.py [--incidents 100000] [--runs 3] [--baseline 2000]

Queries are drawn like incidents: 3 to 15 techniques from a random group's profile with a third replaced by
popular techniques from outside it, and one of the group's software items in a third of them. Timed in the
same run (best of --runs):

* ``afteraction``: :meth:`Attributor.rank_many` for groups, campaigns and software (sparse query rows times
  the precomputed log-likelihood matrices, top 5 with probabilities per incident);
* ``baseline``: the same scores computed one incident at a time in Python (dictionary lookups per observed
  item and candidate), timed on ``--baseline`` incidents and scaled to N;
* setup (profiles and scorers, once per knowledge base) is reported separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from afteraction.analyze.attribution.build import Attributor
from afteraction.analyze.attribution.profiles import KINDS, binary_matrix
from afteraction.attack import load_kb


def queries(att: Attributor, n: int, seed: int = 1) -> tuple[list[list[int]], list[list[int]]]:
    rng = np.random.default_rng(seed)
    groups = att.profiles.sets["group"]
    pop = np.asarray((groups.techniques > 0).sum(axis=0), dtype=np.float64).ravel()
    p = pop / pop.sum()
    usable = [r for r in range(len(groups)) if groups.techniques[r].nnz >= 5]
    techs, softs = [], []
    for _ in range(n):
        row = usable[rng.integers(len(usable))]
        own = groups.techniques[row].indices
        k = int(rng.integers(3, 16))
        noise = max(1, k // 3)
        picked = set(rng.choice(own, size=min(k - noise, len(own)), replace=False).tolist())
        picked.update(rng.choice(len(pop), size=noise, p=p).tolist())
        techs.append(sorted(picked))
        sw = groups.software[row].indices
        softs.append([int(rng.choice(sw))] if len(sw) and rng.random() < 1 / 3 else [])
    return techs, softs


def naive(att: Attributor, techs: list[list[int]], softs: list[list[int]]) -> None:
    tables = {}
    for kind in KINDS:
        sc = att.scorers[kind]
        tables[kind] = ([dict(enumerate(row)) for row in sc.tech_llr.tolist()],
                        [dict(enumerate(row)) for row in sc.soft_llr.tolist()])
    for t, s in zip(techs, softs, strict=True):
        for tech_rows, soft_rows in tables.values():
            scores = [sum(tr[i] for i in t) + sum(sr[i] for i in s)
                      for tr, sr in zip(tech_rows, soft_rows, strict=True)]
            sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:5]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", type=int, default=2000, help="incidents for the per-incident Python baseline")
    args = ap.parse_args()
    kb = load_kb()
    t0 = time.perf_counter()
    att = Attributor(kb)
    att.scorers  # noqa: B018 - build profiles and scorers
    setup = time.perf_counter() - t0
    techs, softs = queries(att, args.incidents)
    v = att.profiles.vocab
    best = float("inf")
    for _ in range(args.runs):
        t0 = time.perf_counter()
        qt = binary_matrix(techs, len(v.techniques))
        qs = binary_matrix(softs, len(v.software))
        for kind in KINDS:
            att.rank_many(qt, qs, kind)
        best = min(best, time.perf_counter() - t0)
    m = min(args.baseline, args.incidents)
    t0 = time.perf_counter()
    naive(att, techs[:m], softs[:m])
    base = (time.perf_counter() - t0) * args.incidents / m
    cands = sum(len(att.profiles.sets[k]) for k in KINDS)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu(s), Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}")
    print(f"incidents {args.incidents:,}; candidates {cands} (groups, campaigns, software); "
          f"mean techniques per incident {np.mean([len(t) for t in techs]):.1f}")
    print(f"setup (profiles + scorers, once per ATT&CK version): {setup:.2f} s")
    print(f"afteraction rank_many, all three kinds, best of {args.runs}: {best:.2f} s "
          f"({args.incidents / best:,.0f} incidents/s); target 5 s: {'met' if best <= 5 else 'NOT met'}")
    print(f"baseline, per-incident Python loop (timed on {m:,}, scaled): {base:.1f} s; speed-up {base / best:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
