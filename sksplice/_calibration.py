"""Calibration of the L1 penalty to a target mean number of non-zero weights."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._means import zero_rows

__all__ = ["calibrate_penalty", "check_target_l0"]

#: Relative tolerance on the mean l0 accepted by the ``target_l0`` calibration.
_L0_RTOL = 0.10
#: Penalties tried by the calibration span [_LOWEST_PENALTY_FRACTION, 1] x the
#: smallest penalty that zeroes every code of the calibration sample.
_LOWEST_PENALTY_FRACTION = 1e-4
_MAX_BISECTIONS = 40


def check_target_l0(
    target: float, n_concepts: int, n_features: int, *, centred: bool = False
) -> None:
    """Refuse a ``target_l0`` that no penalty reaches within ±10% (known before any solve).

    Parameters
    ----------
    target : float
        Mean number of non-zero weights sought.
    n_concepts : int
        Number of concepts of the dictionary.
    n_features : int
        Embedding dimension.
    centred : bool, default=False
        Whether the dictionary's rows are the concepts centred by their own mean
        (then normalised), as ``fit`` makes them from raw embeddings: a combination
        of them with positive weights is zero, so a solution never holds all of them
        (dropping one lowers the l1 norm for the same recomposition), and at most
        ``n_concepts - 1`` are reached.

    Raises
    ------
    ValueError
        When ``target`` is above the number of concepts (less one, ``centred``)
        or the dimension (by more than the tolerance).
    """
    most = n_concepts - 1 if centred else n_concepts
    reachable = min(most, n_features)  # (the stricter of the two bounds below)
    # (a target a little above the bound is accepted, and its mean l0 within ±10%)
    within = (
        f" (targets up to {reachable * (1 + _L0_RTOL):g} are accepted: the calibration "
        "reaches a mean l0 within ±10% of the target)"
    )
    if target > most * (1 + _L0_RTOL):
        also = (
            f", and codes have at most as many non-zero weights as the embedding dimension "
            f"({n_features})"
            if n_features < most
            else ""
        )
        centring = (
            " (centred by their mean: a positive combination of them is zero, so a code "
            "never holds all of them)"
            if centred
            else ""
        )
        raise ValueError(
            f"target_l0={target:g} cannot be reached: the dictionary has only "
            f"{n_concepts} concepts{centring}{also}: at most {reachable} can be reached{within}"
        )
    # A non-negative lasso has a solution on at most n_features linearly
    # independent concepts, the one found for data in general position.
    if target > n_features * (1 + _L0_RTOL):
        raise ValueError(
            f"target_l0={target:g} cannot be reached: codes have at most as many "
            f"non-zero weights as the embedding dimension ({n_features}): at most "
            f"{n_features} can be reached{within}"
        )


#: Slope of log l0 against log penalty assumed before two solves have measured it
#: (about 2 on CLIP-like problems), and the range a measured slope is kept in.
_PRIOR_SLOPE = 2.0
_SLOPES = (0.5, 4.0)
#: Rows of the first search on a sample of more than twice as many rows.
_PILOT_ROWS = 256
#: Largest step of the penalty (a factor) while the target is not bracketed.
_MAX_STEP = math.log(4.0)


def _next_log_penalty(
    target: float,
    dense: tuple[float, float] | None,
    sparse: tuple[float, float],
    recent: list[tuple[float, float]],
    floor: float,
) -> float:
    """The next log penalty of the calibration search.

    ``dense`` and ``sparse`` are (log penalty, mean l0) with l0 above and below
    the target (``dense`` None while no penalty was small enough); ``recent``
    the last one or two points tried, whose slope of log l0 against log
    penalty steers the step.
    """
    slope = _PRIOR_SLOPE
    positive = [(x, v) for x, v in recent if v > 0]
    if len(positive) == 2 and positive[0][0] != positive[1][0]:
        (x0, v0), (x1, v1) = positive
        slope = min(max(-(math.log(v1) - math.log(v0)) / (x1 - x0), _SLOPES[0]), _SLOPES[1])
    if dense is None:
        # Not bracketed yet: step down from the sparse side, at most a factor of 4.
        x, v = sparse
        step = _MAX_STEP if v <= 0 else min((math.log(target) - math.log(v)) / slope, _MAX_STEP)
        return max(floor, x - step)
    (xd, vd), (xs, vs) = dense, sparse
    width = xs - xd
    if vs > 0:  # a secant through the bracket's ends, in log l0
        guess = xd + (math.log(vd) - math.log(target)) * width / (math.log(vd) - math.log(vs))
    else:  # the sparse end has no concept: step up from the dense end by the slope
        guess = xd + (math.log(vd) - math.log(target)) / slope
    # Safeguards: well inside the bracket, and the middle when a side stalls.
    margin = 0.1 * width
    if not xd + margin <= guess <= xs - margin:
        guess = xd + 0.5 * width
    return guess


#: Fewer calibration samples than this, chosen though X has more rows, are warned about.
_FEW_SAMPLES = 100


def calibrate_penalty(
    X: np.ndarray,
    *,
    dictionary: np.ndarray,
    target_l0: float,
    l1_penalty: float,
    calibration_samples: int,
    random_state: Any,
    center: Callable[[np.ndarray], np.ndarray],
    solve: Callable[..., Any],
    verbose: Any,
    logger: logging.Logger,
    row_l0: Callable[[Any], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Penalty whose mean l0 on a sample of ``X`` is within ±10% of ``target_l0``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
        Validated embeddings; at most ``calibration_samples`` of their rows
        that are not zero, drawn with ``random_state``, are used (and of
        those, the rows not zero once centred).
    dictionary : ndarray of shape (n_concepts, d)
        The concept dictionary.
    target_l0 : float
        Mean number of non-zero weights sought.
    l1_penalty : float
        First penalty tried (clipped to the range searched).
    calibration_samples : int
        Largest number of rows of ``X`` used.
    random_state : int, RandomState instance or None
        Seed of the sample.
    center : callable
        Maps embeddings to the centred, unit-norm targets of the solver.
    solve : callable
        ``solve(V, penalty, warm_start=None) -> SparseCodes``.
    verbose : int or bool
        Log each step at level INFO when true.
    logger : logging.Logger
        Logger of the steps.
    row_l0 : callable, optional
        Each row's l0 of the solver's codes, as the weights are given to users
        (concepts embedded alike sharing a weight: each of them counted);
        ``codes.l0()`` when None.

    Returns
    -------
    l1_penalty : float
        The calibrated penalty.
    l0 : float
        Mean l0 it gives on the sample.

    Raises
    ------
    ValueError
        If ``target_l0`` cannot be reached within ±10%.
    """
    target = float(target_l0)
    check_target_l0(target, *dictionary.shape)
    from sklearn.utils import check_random_state  # (not at import: the command line's
    # check of --target-l0 reads this module before scikit-learn is needed)

    rng = check_random_state(random_state)
    if calibration_samples < _FEW_SAMPLES and X.shape[0] > calibration_samples:
        # (a penalty found for the mean of a handful of rows: the mean of the others may
        # differ widely, 8 concepts on 1 row against 10.9 on all 500)
        from ._stack import warn_user

        warn_user(
            f"calibration_samples={calibration_samples} calibrates target_l0={target:g} on "
            f"{calibration_samples} of the {X.shape[0]} rows of X: the mean l0 of the other "
            f"rows may differ widely from the target; give calibration_samples of "
            f"{_FEW_SAMPLES} or more",
            UserWarning,
            # (once, not once per fold of a search, whose X has other sizes)
            once_as=f"calibration_samples={calibration_samples} below {_FEW_SAMPLES}",
        )
    # Rows whose codes are zero at any penalty (all-zero rows, and rows whose
    # centred embedding is zero) would pull the mean l0 down: the other rows
    # would get more than the target. They are left out of the sample.
    rows = np.flatnonzero(~zero_rows(X))
    n_zero = X.shape[0] - rows.size
    if rows.size > calibration_samples:
        rows = np.sort(rng.choice(rows, calibration_samples, replace=False))
    V = center(X[rows] if rows.size < X.shape[0] else X)
    centred = np.any(V != 0, axis=1)
    if not centred.all():
        V = V[centred]
    if verbose and (n_zero or not centred.all()):
        logger.info(
            "calibrating target_l0=%g: left out %d all-zero row(s) of X and %d row(s) of "
            "the sample zero once centred",
            target,
            n_zero,
            int((~centred).sum()),
        )
    if V.shape[0] == 0:
        raise ValueError(
            f"target_l0={target:g} cannot be reached: every row of X is zero, or zero once "
            "centred (its weights are zero at any penalty)"
        )
    # The smallest penalty at which every code of the sample is zero:
    # w = 0 is optimal iff 2 D v <= penalty for every concept. Each block of V
    # is cast to the dictionary's dtype, never the dictionary to V's.
    top = 0.0
    for first in range(0, V.shape[0], 512):
        top = max(top, float((V[first : first + 512] @ dictionary.T).max(initial=0.0)))
    if top <= 0.0:
        raise ValueError(
            f"target_l0={target:g} cannot be reached: every code is zero at any penalty on "
            "the calibration sample (no concept correlates positively with the centred X)"
        )
    hi = math.log(2.0 * top)
    lo = hi + math.log(_LOWEST_PENALTY_FRACTION)

    def within(value: float) -> bool:
        return abs(value - target) <= _L0_RTOL * target

    def search(V: np.ndarray, start: float) -> tuple[float, float]:
        """(log penalty, mean l0) within the tolerance on ``V``, from ``start``; or raise."""
        codes_by_log: dict[float, Any] = {}
        history: list[tuple[float, float]] = [(math.exp(hi), 0.0)]

        def mean_l0(log_pen: float) -> float:
            warm = None
            if codes_by_log:
                nearest = min(codes_by_log, key=lambda t: abs(t - log_pen))
                warm = codes_by_log[nearest]  # the solver's own SparseCodes, as they are
            codes = solve(V, math.exp(log_pen), warm_start=warm)
            codes_by_log.clear()
            codes_by_log[log_pen] = codes
            value = float(np.mean(codes.l0() if row_l0 is None else row_l0(codes)))
            history.append((math.exp(log_pen), value))
            if verbose:
                logger.info(
                    "calibrating target_l0=%g: l1_penalty=%.5g gives mean l0=%.3f on %d rows",
                    target,
                    math.exp(log_pen),
                    value,
                    V.shape[0],
                )
            return value

        value = mean_l0(start)
        if within(value):
            return start, value
        # The search brackets the target between a penalty whose codes are denser
        # (``dense``) and one whose codes are sparser (``sparse``; at the top every
        # code is zero) and steps by the local slope of log l0 against log penalty
        # (a secant, safeguarded towards the bracket's middle). Small penalties are
        # the expensive ones: stepping down by the slope rather than a fixed factor
        # keeps the search from overshooting into them.
        dense: tuple[float, float] | None = (start, value) if value > target else None
        sparse: tuple[float, float] = (start, value) if value < target else (hi, 0.0)
        recent = [(start, value)]
        for _ in range(_MAX_BISECTIONS):
            step = _next_log_penalty(target, dense, sparse, recent, lo)
            value = mean_l0(step)
            if within(value):
                return step, value
            recent = [*recent[-1:], (step, value)]
            if value > target:
                dense = (step, value)
            else:
                sparse = (step, value)
                if dense is None and step <= lo:
                    raise ValueError(
                        f"target_l0={target:g} cannot be reached: the mean l0 on the "
                        f"{V.shape[0]}-row calibration sample only reaches {value:.3g} at "
                        f"l1_penalty={math.exp(step):.3g} (range reached 0 to {value:.3g}); "
                        "use a larger vocabulary or a smaller target_l0"
                    )
        middle = 0.5 * ((sparse[0] if dense is None else dense[0]) + sparse[0])
        below = max((v for _, v in history if v < target), default=0.0)
        above = min((v for _, v in history if v > target), default=float("inf"))
        raise ValueError(
            f"target_l0={target:g} cannot be reached within ±10%: on the {V.shape[0]}-row "
            f"calibration sample the mean l0 jumps from {below:.3g} to {above:.3g} around "
            f"l1_penalty={math.exp(middle):.3g} (range reached 0 to "
            f"{max(v for _, v in history):.3g}); use more calibration rows or another target"
        )

    start = min(max(math.log(float(l1_penalty)), lo), hi)
    if V.shape[0] > 2 * _PILOT_ROWS:
        # Find the penalty on a few rows first (every solve of the search is a
        # quarter of the work or less), then confirm it on the whole sample,
        # where it is usually within the tolerance at once.
        pilot = np.sort(rng.choice(V.shape[0], _PILOT_ROWS, replace=False))
        with contextlib.suppress(ValueError):  # (the whole sample decides, and says why)
            start, _ = search(V[pilot], start)
    log_pen, value = search(V, start)
    return math.exp(log_pen), value
