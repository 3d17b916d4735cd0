"""The benchmark protocols of ``docs/attribution.md``: queries with their gold candidates.

* P1 leave-one-campaign-out: every technique (and optionally every software) of a campaign attributed to
  a group; gold = its group(s) among all groups; the group profiles are rebuilt without that campaign.
* P2 partial observation: ``k`` techniques sampled from a group's profile (groups with at least 10);
  ``noisy`` replaces ``max(1, round(k/3))`` of them with techniques outside the profile drawn in
  proportion to their popularity; ``software`` adds one of the group's software. Development set: the
  hyperparameters are chosen here, never on P1.
* P3 software identification: ``k`` techniques of a software item (with at least 10) among all software.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import numpy as np

from afteraction.analyze.attribution.profiles import Kind, Profiles

P2_MIN_TECHNIQUES = 10
SAMPLES_PER_TARGET = 20
DEV_SEED = 7


class Query(msgspec.Struct, frozen=True):
    """One evaluation query: technique and software columns, gold candidate rows, and its label."""

    label: str
    techniques: tuple[int, ...]
    software: tuple[int, ...]
    gold: tuple[int, ...]
    exclude_campaign: str | None = None


def p1_queries(profiles: Profiles, software: bool) -> Iterator[Query]:
    """One query per attributed campaign that has techniques (gold = its groups)."""
    kb, vocab, groups = profiles.kb, profiles.vocab, profiles.sets["group"]
    for cid in sorted(kb.campaigns):
        camp = kb.campaigns[cid]
        gold = tuple(groups.index[g] for g in camp.groups if g in groups.index)
        techs = vocab.technique_row(camp.techniques)
        if not gold or not techs:
            continue
        soft = vocab.software_row(camp.software) if software else []
        yield Query(cid, tuple(techs), tuple(soft), gold, exclude_campaign=cid)


def _popularity(profiles: Profiles, kind: Kind) -> np.ndarray:
    return np.asarray((profiles.sets[kind].techniques > 0).sum(axis=0), dtype=np.float64).ravel()


def p2_queries(profiles: Profiles, k: int, *, noisy: bool, software: bool = False, seed: int = DEV_SEED,
               samples: int = SAMPLES_PER_TARGET, kind: Kind = "group") -> list[Query]:
    """Partial observations of group profiles (see the module docstring).

    ``kind="campaign"`` or ``"software"`` samples those profiles the same way (noise by popularity among
    candidates of that kind); afteraction fits each kind's softmax temperature on these.
    """
    rng = np.random.default_rng(seed)
    groups = profiles.sets[kind]
    popularity = _popularity(profiles, kind)
    out: list[Query] = []
    for row, gid in enumerate(groups.ids):
        techs = groups.techniques[row].indices
        softs = groups.software[row].indices
        if len(techs) < P2_MIN_TECHNIQUES or (software and len(softs) == 0):
            continue
        n_noise = max(1, round(k / 3)) if noisy else 0
        outside = popularity.copy()
        outside[techs] = 0.0
        for _ in range(samples):
            picked = list(rng.choice(techs, size=k - n_noise, replace=False))
            if n_noise:
                picked += list(rng.choice(len(outside), size=n_noise, replace=False, p=outside / outside.sum()))
            soft = (int(rng.choice(softs)),) if software else ()
            out.append(Query(gid, tuple(sorted(int(t) for t in picked)), soft, (row,)))
    return out


def p3_queries(profiles: Profiles, k: int = 5, *, seed: int = DEV_SEED,
               samples: int = SAMPLES_PER_TARGET) -> list[Query]:
    """``k`` techniques of each software item with at least 10 techniques; gold = that software."""
    rng = np.random.default_rng(seed)
    soft = profiles.sets["software"]
    out: list[Query] = []
    for row, sid in enumerate(soft.ids):
        techs = soft.techniques[row].indices
        if len(techs) < P2_MIN_TECHNIQUES:
            continue
        for _ in range(samples):
            picked = rng.choice(techs, size=k, replace=False)
            out.append(Query(sid, tuple(sorted(int(t) for t in picked)), (), (row,)))
    return out


__all__ = ["DEV_SEED", "P2_MIN_TECHNIQUES", "SAMPLES_PER_TARGET", "Query", "p1_queries", "p2_queries", "p3_queries"]
