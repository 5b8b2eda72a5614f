"""Confidence intervals of proportions (a concept's prevalence in a group of samples)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaincinv

#: Confidence level of the prevalence intervals that plots and reports draw.
INTERVAL_LEVEL = 0.95


def prevalence_interval(
    count: ArrayLike, n: ArrayLike, confidence_level: float = INTERVAL_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided exact (Clopper-Pearson) intervals of the proportions ``count / n``,
    elementwise.

    The interval of :func:`scipy.stats.binomtest` ``(count, n).proportion_ci(
    method="exact")``, for whole arrays at once: scipy's takes ~0.3 ms a call, and a
    report draws one per concept and class. It covers the true proportion at least
    ``confidence_level`` of the time for every group size and proportion. The Wilson
    score interval, shorter, covers it as little as 79% of the time for a group of one
    sample and 83 to 86% for rare concepts in groups of 2 to 100 at a level of 95%,
    which are the cases these intervals are drawn for (small classes, rare concepts).

    Parameters
    ----------
    count : array-like of int
        Samples that hold the concept, ``0 <= count <= n``.
    n : array-like of int
        Samples of the group; broadcast against ``count``. Where ``n`` is 0 (or not
        finite), or ``count`` is outside 0 to ``n``, the interval is NaN.
    confidence_level : float, default=0.95
        Confidence level of the intervals.

    Returns
    -------
    low, high : ndarray of float64
        Bounds of the intervals: ``low`` is 0 where ``count`` is 0, ``high`` 1 where
        ``count == n``, as scipy's.
    """
    k = np.asarray(count, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    k, size = np.broadcast_arrays(k, size)
    valid = np.isfinite(size) & (size > 0) & np.isfinite(k) & (k >= 0) & (k <= size)
    k = np.where(valid, k, 0.0)
    size = np.where(valid, size, 1.0)
    tail = 0.5 * (1.0 - confidence_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        # (the quantiles of Beta(k, n - k + 1) and Beta(k + 1, n - k); a parameter of 0
        # is the bound's own end, 0 or 1, set below)
        low = betaincinv(np.maximum(k, 1e-300), size - k + 1.0, tail)
        high = betaincinv(k + 1.0, np.maximum(size - k, 1e-300), 1.0 - tail)
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == size, 1.0, high)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)
