"""The exact two-sided binomial test of many (k, n) pairs at once, as ``scipy.stats.binomtest`` computes it.

``binomtest`` tests one pair per call, and its two-sided p-value searches the far side of the mode with a
binary search of about ``log2(n)`` probability evaluations, each a scipy distribution call with its argument
checks: about 2.5 ms per technique. :func:`binom_two_sided` runs the same search for all pairs together,
step for step (the same midpoints, comparisons and end rule, on the same float64 values), so every p-value
is the one ``binomtest(k, n, p).pvalue`` returns; a test pins the equality.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import binom

_RERR = 1 + 1e-7  # binomtest's relative tolerance for "as likely as the observed count"


def _search(f: Callable[[np.ndarray, np.ndarray], np.ndarray], d: np.ndarray, lo: np.ndarray, hi: np.ndarray
            ) -> np.ndarray:
    """scipy's ``_binary_search_for_binom_tst`` for every element: the i with ``f(i) <= d < f(i + 1)``, where
    ``f(x, rows)`` gives the searched function's values at ``x`` for those elements."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    found = np.full(len(d), np.nan)
    active = lo < hi
    while active.any():
        rows = np.flatnonzero(active)
        mid = lo[rows] + (hi[rows] - lo[rows]) // 2
        val = f(mid, rows)
        below, above = val < d[rows], val > d[rows]
        lo[rows[below]] = mid[below] + 1
        hi[rows[above]] = mid[above] - 1
        hit = ~below & ~above
        found[rows[hit]] = mid[hit]
        active[rows[hit]] = False
        active[rows] &= lo[rows] < hi[rows]
    open_ = np.isnan(found)
    rows = np.flatnonzero(open_)
    if len(rows):
        at_lo = f(lo[rows], rows)
        found[rows] = np.where(at_lo <= d[rows], lo[rows], lo[rows] - 1)
    return found


def binom_two_sided(k: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """Two-sided exact binomial p-values of ``k`` successes in ``n`` trials against probability ``p``."""
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    out = np.ones(len(k))
    if not len(k):
        return out
    d = binom.pmf(k, n, p)
    mode = p * n
    low = np.flatnonzero(k < mode)
    if len(low):
        nl, dl = n[low], d[low]
        ix = _search(lambda x, r: -binom.pmf(x, nl[r], p), -dl * _RERR, np.ceil(mode[low]), nl)
        y = nl - ix + (dl * _RERR == binom.pmf(ix, nl, p)).astype(int)
        out[low] = binom.cdf(k[low], nl, p) + binom.sf(nl - y, nl, p)
    high = np.flatnonzero(k > mode)
    if len(high):
        nh, dh = n[high], d[high]
        ix = _search(lambda x, r: binom.pmf(x, nh[r], p), dh * _RERR, np.zeros(len(high)), np.floor(mode[high]))
        y = ix + 1
        out[high] = binom.cdf(y - 1, nh, p) + binom.sf(k[high] - 1, nh, p)
    return np.minimum(1.0, out)


__all__ = ["binom_two_sided"]
