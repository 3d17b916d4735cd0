"""Vectorised group statistics for the skill-gap analysis: one pass over the alerts for all groups.

A group (a technique, a tactic, an analyst x technique) is a set of alerts given as ``(group code, alert
index)`` pairs; every test compares the group's alerts with all other alerts. The Mann-Whitney U test is
computed from one global ranking of the alerts (the combined sample of a group and the rest is always the
full set of alerts), so each group costs a sum of ranks instead of a sort: ``U = R - n1 (n1 + 1) / 2`` and
the normal approximation with tie and continuity corrections, exactly as ``scipy.stats.mannwhitneyu(x, y,
alternative="greater", method="asymptotic")`` computes it (a test pins the equality), with
``scipy.stats.norm`` for the distribution.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def group_counts(codes: np.ndarray, groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-group sums of ``weights`` (or counts) over the pairs."""
    return np.bincount(codes, weights=weights, minlength=groups)[:groups]


def _rest_order_stat(ordered: np.ndarray, group: np.ndarray, k: int) -> float:
    """The k-th smallest (0-based) of ``ordered`` (sorted) once the sorted sub-multiset ``group`` is removed."""
    lo, hi = 0, len(ordered) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        x = ordered[mid]
        if np.searchsorted(ordered, x, "right") - np.searchsorted(group, x, "right") >= k + 1:
            hi = mid
        else:
            lo = mid + 1
    return float(ordered[lo])


def rest_median(ordered: np.ndarray, group: np.ndarray) -> float | None:
    """The median of the values not in ``group`` (``ordered`` = all values sorted; ``group`` sorted)."""
    m = len(ordered) - len(group)
    if m <= 0:
        return None
    return (_rest_order_stat(ordered, group, (m - 1) // 2) + _rest_order_stat(ordered, group, m // 2)) / 2


class RankSums:
    """One ranking of the alerts' values, for one-sided Mann-Whitney tests of any group against the rest."""

    def __init__(self, values: np.ndarray) -> None:
        self.valid = ~np.isnan(values)
        self.ranks = np.zeros(len(values))
        data = values[self.valid]
        self.n = len(data)
        # one sort for the ranks, the ordered values and the ties: the average ranks of
        # ``scipy.stats.rankdata`` (a tie group starting at 0-based position s with c members ranks
        # s + (c + 1) / 2, exactly) and the tie counts of ``np.unique``
        order = np.argsort(data, kind="stable")
        self.ordered = data[order]
        starts = np.flatnonzero(np.r_[True, self.ordered[1:] != self.ordered[:-1]]) if self.n else np.zeros(0, int)
        ties = np.diff(np.r_[starts, self.n])
        ranks = np.empty(self.n)
        ranks[order] = np.repeat(starts + (ties + 1) / 2, ties)
        self.ranks[self.valid] = ranks
        self.tie_term = float(np.sum(ties.astype(float) ** 3 - ties))

    def greater(self, n1: int, rank_sum: float) -> float | None:
        """One-sided p-value that the group's values tend to be larger than the rest's."""
        n2 = self.n - n1
        if n1 <= 0 or n2 <= 0:
            return None
        u = rank_sum - n1 * (n1 + 1) / 2
        s = np.sqrt(n1 * n2 / 12 * ((self.n + 1) - self.tie_term / (self.n * (self.n - 1))))
        if s == 0:
            return 1.0
        return float(stats.norm.sf((u - n1 * n2 / 2 - 0.5) / s))


def binomial_greater(k: int, n: int, p0: float) -> float | None:
    """One-sided exact binomial p-value that the rate ``k / n`` exceeds ``p0``."""
    if n <= 0:
        return None
    return float(stats.binomtest(k, n, min(max(p0, 0.0), 1.0), alternative="greater").pvalue)


def bh(pvalues: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); None stays None."""
    present = [i for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    if present:
        adjusted = stats.false_discovery_control(np.array([pvalues[i] for i in present], dtype=float))
        for i, q in zip(present, adjusted, strict=True):
            out[i] = float(q)
    return out


__all__ = ["RankSums", "bh", "binomial_greater", "group_counts", "rest_median"]
