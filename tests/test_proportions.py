"""The vectorised exact (Clopper-Pearson) intervals against scipy's one-at-a-time
intervals, and their coverage where the Wilson interval fell short."""

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from sksplice._proportions import prevalence_interval


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_prevalence_intervals_are_scipys_exact_intervals(level):
    counts, sizes = [], []
    for n in (*range(1, 41), 97, 1000, 30_000):
        k = np.unique(np.r_[np.arange(min(n, 40) + 1), n - np.arange(min(n, 5) + 1), n // 3])
        counts.extend(k)
        sizes.extend([n] * k.size)
    low, high = prevalence_interval(counts, sizes, level)
    for k, n, lo, hi in zip(counts, sizes, low, high, strict=True):
        ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
        assert lo == pytest.approx(ci.low, rel=1e-9, abs=1e-12), (k, n)
        assert hi == pytest.approx(ci.high, rel=1e-9, abs=1e-12), (k, n)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 20, 50, 100])
def test_prevalence_intervals_cover_at_least_their_level_for_small_groups(n):
    # The Wilson interval drawn before covered a prevalence of 0.79 in a group of one
    # sample 79% of the time, and rare concepts in groups of 2 to 100 83 to 86% of the
    # time, at a stated 95%. The coverage at a prevalence p is the binomial probability
    # of the counts whose interval holds p, computed exactly over a grid of p.
    counts = np.arange(n + 1)
    low, high = prevalence_interval(counts, n)
    p = np.r_[np.linspace(0.0005, 0.9995, 2000), 0.7935, 0.0175, 0.036]
    held = (low[None, :] <= p[:, None]) & (p[:, None] <= high[None, :])
    coverage = (binom.pmf(counts[None, :], n, p[:, None]) * held).sum(axis=1)
    assert coverage.min() >= 0.95 - 1e-9, (n, p[coverage.argmin()], coverage.min())


def test_prevalence_intervals_broadcast_and_are_nan_where_the_size_is_unknown():
    low, high = prevalence_interval([[0, 1], [3, 3]], [3, np.nan])
    assert low.shape == high.shape == (2, 2)
    assert np.isnan(low[:, 1]).all() and np.isnan(high[:, 1]).all()
    assert low[0, 0] == 0.0 and high[1, 0] == 1.0
    low, high = prevalence_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
    # one sample of one: the interval says how little one sample tells
    low, high = prevalence_interval(1, 1)
    assert low == pytest.approx(0.025) and high == 1.0


def test_counts_outside_the_group_give_no_interval():
    # (a half-NaN interval, (nan, 1.0) for 6 of 5, read as one bound)
    low, high = prevalence_interval([6, -1, 2], 5)
    assert np.isnan(low[:2]).all() and np.isnan(high[:2]).all()
    assert np.isfinite(low[2]) and np.isfinite(high[2])
