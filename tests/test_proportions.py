"""The vectorised Wilson score intervals against scipy's one-at-a-time intervals."""

import numpy as np
import pytest
from scipy.stats import binomtest

from sksplice._proportions import wilson_interval


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_wilson_intervals_are_scipys(level):
    counts, sizes = [], []
    for n in (*range(1, 41), 97, 1000, 30_000):
        k = np.unique(np.r_[np.arange(min(n, 40) + 1), n - np.arange(min(n, 5) + 1), n // 3])
        counts.extend(k)
        sizes.extend([n] * k.size)
    low, high = wilson_interval(counts, sizes, level)
    for k, n, lo, hi in zip(counts, sizes, low, high, strict=True):
        ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
        assert lo == pytest.approx(ci.low, abs=1e-12), (k, n)
        assert hi == pytest.approx(ci.high, abs=1e-12), (k, n)


def test_wilson_intervals_broadcast_and_are_nan_where_the_size_is_unknown():
    low, high = wilson_interval([[0, 1], [3, 3]], [3, np.nan])
    assert low.shape == high.shape == (2, 2)
    assert np.isnan(low[:, 1]).all() and np.isnan(high[:, 1]).all()
    assert low[0, 0] == 0.0 and high[1, 0] == 1.0
    low, high = wilson_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
