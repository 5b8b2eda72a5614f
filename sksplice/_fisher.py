"""Fisher's exact test on many 2x2 tables at once: the p-values of scipy's ``fisher_exact``.

Every table ``[[x1, n1 - x1], [x2, n2 - x2]]`` of a ranking shares its row totals ``n1``
and ``n2`` (the two groups); the concepts differ in ``x1`` and ``K = x1 + x2``. Given
the margins, ``x1`` follows the hypergeometric distribution of the number of the ``K``
samples with the concept that fall among the ``n1`` of the first row (of ``M = n1 +
n2``): :func:`scipy.stats.fisher_exact` computes its one-sided p-values as a tail of
that distribution and the two-sided one as the probability of the tables no more
likely than the observed one.

:func:`fisher_exact_pvalues` computes the same p-values for all tables at once. Its
probabilities are not those of :data:`scipy.stats.hypergeom`, whose ``pmf``, ``cdf`` and
``sf`` cost 50 to 100 microseconds a value for groups of thousands of samples (seconds
for ten thousand concepts, and a two-sided test evaluates the pmf some fifteen times per
table): the pmf is a ratio of binomial probabilities (:data:`scipy.stats.binom`,
accurate to about 1e-13 relative) and a tail is summed outward from its first term by
the pmf's recurrence, as Boost (behind scipy) sums it. Where the two-sided rule compares
two probabilities too close to be told apart at that accuracy, yet not equal (scipy
counts tables whose probabilities agree to a relative 1e-14 as equally likely), the
table is computed again with :data:`scipy.stats.hypergeom`, exactly as scipy does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import stats

__all__ = ["fisher_exact_pvalues"]

#: Relative tolerance of "no more likely than the observed table" in the two-sided test:
#: that of :func:`scipy.stats.fisher_exact` (probabilities equal but for rounding).
FISHER_RTOL = 1e-14

#: Relative differences of two probabilities below this (and above
#: :data:`FISHER_RTOL`) are decided with :data:`scipy.stats.hypergeom`'s values: the
#: fast probabilities agree with them to about 1e-12.
_UNSURE_RTOL = 1e-9

#: A tail sum stops once what is left of it is below this fraction of it.
_TAIL_EPS = 2.0**-60


class _Distribution(NamedTuple):
    """The hypergeometric distributions of the tables, as three functions of
    ``(k, K)``: the pmf at ``k``, ``P(X <= k)`` and ``P(X >= k)``."""

    pmf: Callable[[np.ndarray, np.ndarray], np.ndarray]
    lower: Callable[[np.ndarray, np.ndarray], np.ndarray]
    upper: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _scipy_distribution(total: float, n1: float) -> _Distribution:
    """The distributions as :func:`scipy.stats.fisher_exact` computes them."""
    dist = stats.hypergeom
    return _Distribution(
        pmf=lambda k, big_k: dist.pmf(k, total, n1, big_k),
        lower=lambda k, big_k: dist.cdf(k, total, n1, big_k),
        upper=lambda k, big_k: dist.sf(k - 1.0, total, n1, big_k),
    )


def _fast_distribution(total: float, n1: float) -> _Distribution:
    """The distributions from binomial probabilities and the pmf's recurrence."""
    n2 = total - n1

    def pmf(k: np.ndarray, big_k: np.ndarray) -> np.ndarray:
        # P(x1 = k | K) = b(k; n1, p) b(K - k; n2, p) / b(K; M, p) for any p; p = K / M
        # keeps every factor away from underflow where the result is not (Loader's
        # form, as R's dhyper). 0 outside the support.
        p = big_k / total
        return (
            stats.binom.pmf(k, n1, p)
            * stats.binom.pmf(big_k - k, n2, p)
            / stats.binom.pmf(big_k, total, p)
        )

    def tail(start: np.ndarray, big_k: np.ndarray, step: float) -> np.ndarray:
        """sum of pmf(j) for j = start, start + step, ... to the end of the support,
        where the pmf falls from ``start`` on (``start`` on the far side of the mode)."""
        term = pmf(start, big_k)
        acc = term.copy()
        j = start.astype(np.float64)
        active = np.flatnonzero(term > 0)
        while active.size:
            jj, kk = j[active], big_k[active]
            if step > 0:  # pmf(j + 1) / pmf(j)
                ratio = (n1 - jj) * (kk - jj) / ((jj + 1.0) * (n2 - kk + jj + 1.0))
            else:  # pmf(j - 1) / pmf(j)
                ratio = jj * (n2 - kk + jj) / ((n1 - jj + 1.0) * (kk - jj + 1.0))
            t = term[active] * ratio
            term[active] = t
            j[active] = jj + step
            acc[active] += t
            # the ratios fall further out (the pmf is log-concave), so what is left is
            # below t r / (1 - r); a ratio of 0 is the end of the support
            keep = (t > 0) & (t * ratio >= (1.0 - ratio) * acc[active] * _TAIL_EPS)
            active = active[keep]
        return acc

    def mode(big_k: np.ndarray) -> np.ndarray:
        return np.floor((big_k + 1.0) * (n1 + 1.0) / (total + 2.0))

    def lower(k: np.ndarray, big_k: np.ndarray) -> np.ndarray:
        # the tail that does not hold the mode is summed; the other is its complement
        out = np.empty(k.shape[0])
        small = k <= mode(big_k)
        out[small] = tail(k[small], big_k[small], -1.0)
        out[~small] = 1.0 - tail(k[~small] + 1.0, big_k[~small], 1.0)
        return np.clip(out, 0.0, 1.0)

    def upper(k: np.ndarray, big_k: np.ndarray) -> np.ndarray:
        out = np.empty(k.shape[0])
        small = k >= mode(big_k)
        out[small] = tail(k[small], big_k[small], 1.0)
        out[~small] = 1.0 - tail(k[~small] - 1.0, big_k[~small], -1.0)
        return np.clip(out, 0.0, 1.0)

    return _Distribution(pmf=pmf, lower=lower, upper=upper)


def fisher_exact_pvalues(
    x1: np.ndarray, n1: float, x2: np.ndarray, n2: float, alternative: str
) -> np.ndarray:
    """The p-value of :func:`scipy.stats.fisher_exact` for every table
    ``[[x1, n1 - x1], [x2, n2 - x2]]``, computed for all of them at once.

    ``"greater"``: the first row's proportion is the larger (the upper tail of ``x1``
    given the margins); ``"less"``: the lower tail; ``"two-sided"``: the probability of
    the tables no more likely than the observed one (with scipy's relative tolerance,
    :data:`FISHER_RTOL`). A table with a zero margin has p-value 1.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    big_k = x1 + np.asarray(x2, dtype=np.float64)
    total = float(n1) + float(n2)
    p_value = np.ones(x1.shape[0])
    # (a zero margin leaves a single table; fisher_exact says 1)
    tested = np.flatnonzero((big_k > 0) & (big_k < total) & (n1 > 0) & (n2 > 0))
    if tested.size == 0:
        return p_value
    x, k = x1[tested], big_k[tested]
    fast = _fast_distribution(total, float(n1))
    if alternative == "greater":
        p = fast.upper(x, k)
    elif alternative == "less":
        p = fast.lower(x, k)
    else:
        p, unsure = _two_sided(x, k, total, float(n1), fast, check=True)
        if unsure.any():
            exact = _scipy_distribution(total, float(n1))
            p[unsure] = _two_sided(x[unsure], k[unsure], total, float(n1), exact)[0]
    p_value[tested] = np.minimum(p, 1.0)
    return p_value


def smallest_p_value(n1: int, n2: int, alternative: str) -> float:
    """The smallest p-value :func:`fisher_exact_pvalues` gives on any table of groups of
    ``n1`` and ``n2`` samples, whatever the counts.

    It is that of a concept in every sample of one group and in none of the other
    (``1 / C(n1 + n2, n1)`` for ``"greater"``): where it is ``alpha`` or more, no
    concept of a comparison of such groups can be significant, before any correction
    (adjusting makes a p-value no smaller). 1 where a group is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    extremes = fisher_exact_pvalues(
        np.array([n1, 0.0]), float(n1), np.array([0.0, n2]), float(n2), alternative
    )
    return float(extremes.min())


def _two_sided(
    x: np.ndarray,
    big_k: np.ndarray,
    total: float,
    n1: float,
    dist: _Distribution,
    *,
    check: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's two-sided p-values, as :func:`scipy.stats.fisher_exact` computes them.

    The observed tail plus the other tail from where the (unimodal) pmf falls to the
    observed probability, found by scipy's binary search run for all tables at once.
    Returns the p-values and, with ``check``, the tables whose decisions compared two
    probabilities closer than :data:`_UNSURE_RTOL` but not equal (to be computed again
    with scipy's probabilities).
    """
    m = x.shape[0]
    unsure = np.zeros(m, dtype=bool)

    def close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a - b) / np.maximum(a, b)
        return (rel > FISHER_RTOL) & (rel < _UNSURE_RTOL)

    gamma = 1.0 + FISHER_RTOL
    mode = np.floor((big_k + 1.0) * (n1 + 1.0) / (total + 2.0))
    p_exact = dist.pmf(x, big_k)
    p_mode = dist.pmf(mode, big_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        at_mode = np.abs(p_exact - p_mode) / np.maximum(p_exact, p_mode) <= FISHER_RTOL
    if check:
        unsure |= close(p_exact, p_mode)
    p_value = np.ones(m)
    below = x < mode  # the observed table is left of the mode: the other tail is right
    # the far end of the other tail is more likely than the observed table: the
    # observed tail alone
    far = np.where(below, big_k, 0.0)
    p_far = dist.pmf(far, big_k)
    alone = ~at_mode & (p_far > p_exact * gamma)
    if check:
        unsure |= ~at_mode & close(p_far, p_exact)
    for lo_side in (True, False):
        rows = np.flatnonzero(~at_mode & (below if lo_side else ~below))
        if rows.size == 0:
            continue
        tail = (dist.lower if lo_side else dist.upper)(x[rows], big_k[rows])
        p_value[rows] = tail
        rows_search = rows[~alone[rows]]
        if rows_search.size == 0:
            continue
        k = big_k[rows_search]
        target = p_exact[rows_search] * gamma
        if lo_side:
            # -pmf ascends from the mode to K: the last j with pmf(j) >= target
            def minus_pmf(i: np.ndarray, j: np.ndarray, k: np.ndarray = k) -> np.ndarray:
                return -dist.pmf(j, k[i])

            bound = _binary_search(minus_pmf, -target, mode[rows_search], k)
            other = dist.upper(bound + 1.0, k)
        else:
            # pmf ascends from 0 to the mode: the last j with pmf(j) <= target
            def pmf(i: np.ndarray, j: np.ndarray, k: np.ndarray = k) -> np.ndarray:
                return dist.pmf(j, k[i])

            bound = _binary_search(pmf, target, np.zeros(k.shape[0]), mode[rows_search])
            other = dist.lower(bound, k)
        if check:
            p_bound = dist.pmf(bound, k)
            p_next = dist.pmf(bound + 1.0, k)
            unsure[rows_search] |= close(p_bound, p_exact[rows_search])
            unsure[rows_search] |= close(p_next, p_exact[rows_search])
        p_value[rows_search] = p_value[rows_search] + other
    return p_value, unsure


def _binary_search(
    a: Callable[[np.ndarray, np.ndarray], np.ndarray],
    d: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """For every entry ``i``, the ``j`` with ``a(i, j) <= d[i] < a(i, j + 1)``.

    ``a(i, j)`` ascends in ``j`` over ``[lo[i], hi[i]]``. The search of scipy's
    ``fisher_exact`` (``_binary_search_for_binom_tst``), step for step, for all entries
    at once: ``a`` is called with the indices of the entries still searching and their
    midpoints.
    """
    lo, hi = lo.astype(np.float64), hi.astype(np.float64)
    found = np.zeros(lo.shape[0], dtype=bool)
    result = np.zeros(lo.shape[0])
    while True:
        active = np.flatnonzero(~found & (lo < hi))
        if active.size == 0:
            break
        mid = lo[active] + np.floor((hi[active] - lo[active]) / 2.0)
        value = a(active, mid)
        smaller, larger = value < d[active], value > d[active]
        lo[active[smaller]] = mid[smaller] + 1.0
        hi[active[larger]] = mid[larger] - 1.0
        equal = ~smaller & ~larger
        result[active[equal]] = mid[equal]
        found[active[equal]] = True
    rest = np.flatnonzero(~found)
    if rest.size:
        result[rest] = np.where(a(rest, lo[rest]) <= d[rest], lo[rest], lo[rest] - 1.0)
    return result
