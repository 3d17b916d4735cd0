"""The vectorised two-sided binomial test gives scipy's binomtest p-values exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from afteraction.analyze.program.binomial import binom_two_sided


@pytest.mark.parametrize("p", [0.5, 1 / 3, 0.01, 0.99, 0.123456789])
def test_equals_binomtest_bit_for_bit(p: float) -> None:
    rng = np.random.default_rng(7)
    n = np.concatenate([rng.integers(1, 10, 20), rng.integers(10, 500, 20), rng.integers(500, 100_000, 20),
                        [1, 1, 2, 7, 10, 10]])
    k = np.array([rng.integers(0, x + 1) for x in n])
    k[-6:] = [0, 1, 1, 0, 10, 5]  # the extremes, and k = p * n exactly when p is 0.5
    got = binom_two_sided(k, n, p)
    want = np.array([binomtest(int(a), int(b), p).pvalue for a, b in zip(k, n, strict=True)])
    assert got.tolist() == want.tolist()


def test_empty_and_bounds() -> None:
    assert binom_two_sided(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 0.5).tolist() == []
    got = binom_two_sided(np.array([50, 0, 100]), np.array([100, 100, 100]), 0.5)
    assert got[0] == 1.0
    assert 0 < got[1] < 1e-20
    assert got[1] == got[2]  # symmetric at p = 0.5
