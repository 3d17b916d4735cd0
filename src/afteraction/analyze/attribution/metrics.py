"""Ranking metrics under uniform random tie-breaking (computed exactly), Wilson intervals, calibration error."""

from __future__ import annotations

import math

import msgspec
import numpy as np

#: scores closer than this count as tied (floating-point noise is not a ranking)
TIE_TOLERANCE = 1e-9


class RankOutcome(msgspec.Struct, frozen=True):
    """Where the gold candidate landed: ``above`` scored strictly higher, ``tied`` tie with it (itself included)."""

    above: int
    tied: int

    def hit(self, k: int) -> float:
        """Expected hit@k when the tie is broken uniformly at random."""
        return max(0, min(k, self.above + self.tied) - self.above) / self.tied

    def reciprocal_rank(self) -> float:
        """Expected reciprocal rank under random tie-breaking."""
        return sum(1.0 / r for r in range(self.above + 1, self.above + self.tied + 1)) / self.tied


def rank_outcome(scores: np.ndarray, gold: list[int]) -> RankOutcome:
    """The best-placed gold candidate (fewest above, then smallest tie)."""
    best: RankOutcome | None = None
    for g in gold:
        s = float(scores[g])
        if np.isfinite(s):  # tolerance relative to the gold score; -inf (impossible) is never tied with it
            tol = TIE_TOLERANCE * max(1.0, abs(s))
            above = int(np.count_nonzero(scores > s + tol))
            tied = int(np.count_nonzero(np.abs(scores - s) <= tol))
        else:
            above = int(np.count_nonzero(scores > s))
            tied = int(np.count_nonzero(scores == s))
        cand = RankOutcome(above, tied)
        if best is None or (cand.above, cand.tied) < (best.above, best.tied):
            best = cand
    assert best is not None
    return best


class Proportion(msgspec.Struct, frozen=True):
    """A proportion with its Wilson 95 % interval."""

    value: float
    low: float
    high: float


def wilson(p: float, n: int, z: float = 1.96) -> Proportion:
    """Wilson score interval for proportion ``p`` over ``n`` trials."""
    if n == 0:
        return Proportion(0.0, 0.0, 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p) / n + z * z / (4 * n * n))) / denom
    return Proportion(round(p, 4), round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


class ReliabilityBin(msgspec.Struct, frozen=True):
    """One bin of a reliability diagram: mean confidence against observed accuracy."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[float, list[ReliabilityBin]]:
    """Expected calibration error (equal-width bins, weighted by count) and the bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out, ece, n = [], 0.0, max(1, len(confidence))
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        conf = float(confidence[mask].mean()) if count else 0.0
        acc = float(correct[mask].mean()) if count else 0.0
        ece += count / n * abs(conf - acc)
        out.append(ReliabilityBin(round(float(edges[b]), 2), round(float(edges[b + 1]), 2), count,
                                  round(conf, 4), round(acc, 4)))
    return round(ece, 4), out


__all__ = ["TIE_TOLERANCE", "Proportion", "RankOutcome", "ReliabilityBin", "rank_outcome", "reliability", "wilson"]
