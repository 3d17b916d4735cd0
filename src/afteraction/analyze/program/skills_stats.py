"""Vectorised group statistics for the skill-gap analysis: one pass over the alerts for all groups.

A group (a technique, a tactic, an analyst x technique) is a set of alerts given as ``(group code, alert
index)`` pairs; every test compares the group's alerts with all other alerts. The Mann-Whitney U test is
computed from one global ranking of the alerts (the combined sample of a group and the rest is always the
full set of alerts), so each group costs a sum of ranks instead of a sort: ``U = R - n1 (n1 + 1) / 2`` and
the normal approximation with tie and continuity corrections, exactly as ``scipy.stats.mannwhitneyu(x, y,
alternative="greater", method="asymptotic")`` computes it (a test pins the equality), with
``scipy.stats.norm`` for the distribution. The exact binomial test is ``scipy.stats.binom`` on arrays.

Medians are those of ``np.median`` (the middle element, or the mean ``(a + b) / 2`` of the two middle ones;
NaN if the group holds a NaN), taken from one sort of ``(group, position in a global order)`` keys for all
groups at once; a missing result is NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import stats


def group_counts(codes: np.ndarray, groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-group sums of ``weights`` (or counts) over the pairs."""
    return np.bincount(codes, weights=weights, minlength=groups)[:groups]


class GroupOrder(NamedTuple):
    """Pairs sorted by (group, position in a global order): their keys ``code << shift | position`` and each
    group's slice bounds into them."""

    keys: np.ndarray
    bounds: np.ndarray
    shift: int

    def positions(self, at: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The positions of the sorted pairs (or of those at ``at``)."""
        return self.keys[at] & self.keys.dtype.type((1 << self.shift) - 1)


def group_sort(codes: np.ndarray, pos: np.ndarray, counts: np.ndarray, size: int) -> GroupOrder:
    """One sort of the pairs by group, then position (``pos``: each pair's distinct position in ``[0, size)``
    of a global order; ``counts``: the pairs per group)."""
    shift = max(size - 1, 1).bit_length()
    dtype = np.int32 if (len(counts) << shift) < 2**31 else np.int64  # a narrower sort is about 2x faster
    keys = np.sort((codes.astype(dtype) << dtype(shift)) | pos.astype(dtype))
    return GroupOrder(keys, np.concatenate(([0], np.cumsum(counts))).astype(np.int64), shift)


def _medians(take: Callable[[np.ndarray], np.ndarray], bounds: np.ndarray) -> np.ndarray:
    n = np.diff(bounds)
    out = np.full(len(n), np.nan)
    g = np.flatnonzero(n > 0)
    start = bounds[g]
    a, b = take(start + (n[g] - 1) // 2), take(start + n[g] // 2)
    with np.errstate(invalid="ignore", over="ignore"):
        out[g] = np.where(n[g] % 2 == 1, a, (a + b) / 2)
    out[g[np.isnan(take(bounds[g + 1] - 1))]] = np.nan  # NaN sorts last: np.median is NaN then
    return out


def sorted_medians(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``np.median`` of each slice ``values[bounds[g]:bounds[g + 1]]`` of sorted slices (NaN if empty)."""
    return _medians(lambda i: values[i], bounds)


def group_medians(ordered: np.ndarray, order: GroupOrder) -> np.ndarray:
    """``np.median`` of each group's values (NaN if none); ``ordered``: the values in the global order."""
    return _medians(lambda i: ordered[order.positions(i)], order.bounds)


def level_medians(codes: np.ndarray, level: np.ndarray, levels: np.ndarray, groups: int) -> np.ndarray:
    """``np.median`` of ``levels[level]`` over each group's pairs (``level`` in ``[0, len(levels))``; few
    distinct levels: counts, no sort)."""
    rank = np.argsort(levels, kind="stable")  # NaN last
    counts = np.bincount(codes * len(levels) + level, minlength=groups * len(levels))[:groups * len(levels)]
    counts = counts.reshape(groups, len(levels))
    cum = np.cumsum(counts[:, rank], axis=1)
    n = cum[:, -1]
    out = np.full(groups, np.nan)
    g = np.flatnonzero((n > 0) & ~(counts[:, np.isnan(levels)] > 0).any(axis=1))  # a NaN: np.median is NaN
    a = levels[rank[np.argmax(cum[g] > ((n[g] - 1) // 2)[:, None], axis=1)]]
    b = levels[rank[np.argmax(cum[g] > (n[g] // 2)[:, None], axis=1)]]
    with np.errstate(invalid="ignore", over="ignore"):
        out[g] = np.where(n[g] % 2 == 1, a, (a + b) / 2)
    return out


def rest_medians(ordered: np.ndarray, order: GroupOrder) -> np.ndarray:
    """Each group's median of the values not in the group (NaN if none): ``ordered`` holds all values
    sorted, ``order`` the groups' positions in it.

    One binary search over ``ordered`` for all groups at once: the k-th smallest of the rest is the first
    ``ordered[i]`` with at least ``k + 1`` values ``<= ordered[i]`` outside the group.
    """
    size, keys, bounds = len(ordered), order.keys, order.bounds
    m = size - np.diff(bounds)
    out = np.full(len(m), np.nan)
    g = np.flatnonzero(m > 0)
    gg = np.concatenate((g, g))
    k = np.concatenate(((m[g] - 1) // 2, m[g] // 2))
    first = (gg.astype(np.int64) << order.shift) - 1  # key of a group's position p is first + 1 + p
    lo, hi = np.zeros(len(gg), dtype=np.int64), np.full(len(gg), size - 1, dtype=np.int64)
    while (active := lo < hi).any():
        mid = (lo + hi) // 2
        upto = np.searchsorted(ordered, ordered[mid], "right")  # positions < upto hold values <= ordered[mid]
        mine = np.searchsorted(keys, (first + upto).astype(keys.dtype), "right") - bounds[gg]
        enough = upto - mine >= k + 1
        hi = np.where(active & enough, mid, hi)
        lo = np.where(active & ~enough, mid + 1, lo)
    v = ordered[lo]
    out[g] = (v[:len(g)] + v[len(g):]) / 2
    return out


class RankSums:
    """One ranking of the alerts' values, for one-sided Mann-Whitney tests of any group against the rest."""

    def __init__(self, values: np.ndarray) -> None:
        known = np.flatnonzero(~np.isnan(values))
        by = np.argsort(values[known])
        self._rank(len(values), known[by], values[known][by])

    @classmethod
    def sorted_runs(cls, size: int, order: np.ndarray, at: np.ndarray) -> RankSums:
        """The ranking of ``size`` values of which ``at`` (NaN dropped) are at the indices ``order``, the
        others NaN; a few sorted runs in ``at`` sort several times faster (the stable sort detects them)."""
        keep = ~np.isnan(at)
        if not keep.all():
            order, at = order[keep], at[keep]
        by = np.argsort(at, kind="stable")
        out = cls.__new__(cls)
        out._rank(size, order[by], at[by])
        return out

    def _rank(self, size: int, order: np.ndarray, ordered: np.ndarray) -> None:
        # one sort for the ranks, the ordered values and the ties: the average ranks of
        # ``scipy.stats.rankdata`` (a tie group starting at 0-based position s with c members ranks
        # s + (c + 1) / 2, exactly) and the tie counts of ``np.unique``; ties rank alike, so any order of
        # equal values does
        self.n, self.ordered = len(order), ordered
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if self.n else np.zeros(0, int)
        ties = np.diff(np.r_[starts, self.n])
        tied = ties > 1
        #: the rank of each position in ``ordered``: s + (1 + 1) / 2 = s + 1 without ties
        self.ranked = np.arange(1.0, self.n + 1.0)
        self._tied: np.ndarray | None = None  # positions in a tie group, and their rank - (position + 1)
        if tied.any():
            s, c = starts[tied], ties[tied]
            at = np.repeat(s - np.cumsum(c) + c, c) + np.arange(c.sum())
            self.ranked[at] = np.repeat(s + (c + 1) / 2, c)
            self._tied = np.zeros(self.n, dtype=bool)
            self._tied[at] = True
            self._tie_offset = self.ranked - np.arange(1.0, self.n + 1.0)
        #: each value's position in ``ordered`` (-1 for NaN)
        self.pos = np.full(size, -1, dtype=np.int64)
        self.pos[order] = np.arange(self.n)
        # sum(c ** 3 - c) over the tie groups; a value without ties adds 0, and integer sums below 2**53 are
        # exact in any order, so the tie groups alone give the same sum when all of it is that small
        c = ties[tied].astype(float)
        self.tie_term = float(np.sum(c**3 - c))
        if len(c) and (c.max() > 2**17 or self.tie_term >= 2**53):
            self.tie_term = float(np.sum(ties.astype(float) ** 3 - ties))
        self._order, self._ranks = order, None

    @property
    def ranks(self) -> np.ndarray:
        """Each value's rank (0 for NaN)."""
        if self._ranks is None:
            self._ranks = np.zeros(len(self.pos))
            self._ranks[self._order] = self.ranked
        return self._ranks

    def sums(self, codes: np.ndarray, at: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The groups' sums of ranks over the pairs ``codes`` / ``at`` (positions in ``ordered``; ``counts``:
        the pairs per group). The rank at position p is p + 1 but in tie groups, and ranks are multiples of 1/2:
        sums below 2**52 are exact in any order, the same as summing each group's ranks in pair order, which
        is what they are above that."""
        groups = len(counts)
        if len(at) * (self.n + 1) >= 2**52:
            return group_counts(codes, groups, self.ranked[at])
        out = group_counts(codes, groups, at) + counts
        if self._tied is not None:
            hit = self._tied[at]
            out += group_counts(codes[hit], groups, self._tie_offset[at[hit]])
        return out

    def greater_all(self, n1: np.ndarray, rank_sum: np.ndarray) -> np.ndarray:
        """One-sided p-values that each group's values tend to be larger than the rest's (NaN: no test);
        ``n1`` the groups' sizes, ``rank_sum`` their sums of ranks."""
        n1 = np.asarray(n1, dtype=np.int64)
        n2 = self.n - n1
        tie = (self.n + 1) - self.tie_term / (self.n * (self.n - 1)) if self.n > 1 else float(self.n + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.asarray(rank_sum, dtype=float) - n1 * (n1 + 1) / 2
            s = np.sqrt(n1 * n2 / 12 * tie)
            z = (u - n1 * n2 / 2 - 0.5) / s
        out = np.full(len(n1), np.nan)
        test = (n1 > 0) & (n2 > 0)
        out[test & (s == 0)] = 1.0
        sel = test & (s != 0)
        if sel.any():
            out[sel] = stats.norm.sf(z[sel])
        return out

    def greater(self, n1: int, rank_sum: float) -> float | None:
        """One-sided p-value that the group's values tend to be larger than the rest's."""
        p = float(self.greater_all(np.array([n1]), np.array([rank_sum]))[0])
        return None if np.isnan(p) else p


def binomial_greater(k: np.ndarray, n: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """One-sided exact binomial p-values that the rates ``k / n`` exceed ``p0`` (NaN where ``n <= 0``):
    ``scipy.stats.binomtest(k, n, p0, alternative="greater").pvalue``, which is ``binom.sf(k - 1, n, p0)``."""
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    out = np.full(len(n), np.nan)
    sel = n > 0
    if sel.any():
        out[sel] = stats.binom.sf(k[sel] - 1, n[sel], np.clip(np.asarray(p0, dtype=float)[sel], 0.0, 1.0))
    return out


def bh(pvalues: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); None stays None."""
    present = [i for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    if present:
        adjusted = stats.false_discovery_control(np.array([pvalues[i] for i in present], dtype=float))
        for i, q in zip(present, adjusted, strict=True):
            out[i] = float(q)
    return out


__all__ = ["GroupOrder", "RankSums", "bh", "binomial_greater", "group_counts", "group_medians", "group_sort",
           "level_medians", "rest_medians", "sorted_medians"]
