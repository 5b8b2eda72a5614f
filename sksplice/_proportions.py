"""Confidence intervals of proportions (a concept's prevalence in a group of samples)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

#: Confidence level of the prevalence intervals that plots and reports draw.
INTERVAL_LEVEL = 0.95


def wilson_interval(
    count: ArrayLike, n: ArrayLike, confidence_level: float = INTERVAL_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Wilson score intervals of the proportions ``count / n``, elementwise.

    The interval of :func:`scipy.stats.binomtest` ``(count, n).proportion_ci(
    method="wilson")`` (Newcombe 1998, without continuity correction), for whole arrays
    at once: scipy's takes ~0.3 ms a call, and a report draws one per concept and class.

    Parameters
    ----------
    count : array-like of int
        Samples that hold the concept, ``0 <= count <= n``.
    n : array-like of int
        Samples of the group; broadcast against ``count``. Where ``n`` is 0 (or not
        finite) the interval is NaN.
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
    valid = np.isfinite(size) & (size > 0) & np.isfinite(k)
    safe = np.where(valid, size, 1.0)
    p = np.where(valid, k, 0.0) / safe
    z = float(ndtri(0.5 + 0.5 * confidence_level))
    denominator = 2.0 * (safe + z**2)
    center = (2.0 * safe * p + z**2) / denominator
    delta = z / denominator * np.sqrt(np.maximum(4.0 * safe * p * (1.0 - p), 0.0) + z**2)
    low = np.where(k == 0, 0.0, center - delta)
    high = np.where(k == size, 1.0, center + delta)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)
