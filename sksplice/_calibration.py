"""Calibration of the L1 penalty to a target mean number of non-zero weights."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["calibrate_penalty", "check_target_l0"]

#: Relative tolerance on the mean l0 accepted by the ``target_l0`` calibration.
_L0_RTOL = 0.10
#: Penalties tried by the calibration span [_LOWEST_PENALTY_FRACTION, 1] x the
#: smallest penalty that zeroes every code of the calibration sample.
_LOWEST_PENALTY_FRACTION = 1e-4
_MAX_BISECTIONS = 40


def check_target_l0(target: float, n_concepts: int, n_features: int) -> None:
    """Refuse a ``target_l0`` that no penalty reaches within ±10% (known before any solve).

    Parameters
    ----------
    target : float
        Mean number of non-zero weights sought.
    n_concepts : int
        Number of concepts of the dictionary.
    n_features : int
        Embedding dimension.

    Raises
    ------
    ValueError
        When ``target`` is above the number of concepts or the dimension (by
        more than the tolerance).
    """
    if target > n_concepts * (1 + _L0_RTOL):
        raise ValueError(
            f"target_l0={target:g} cannot be reached: the dictionary has only "
            f"{n_concepts} concepts (range reachable 0 to {n_concepts})"
        )
    # A non-negative lasso has a solution on at most n_features linearly
    # independent concepts, the one found for data in general position.
    if target > n_features * (1 + _L0_RTOL):
        raise ValueError(
            f"target_l0={target:g} cannot be reached: codes have at most as many "
            f"non-zero weights as the embedding dimension ({n_features}; range "
            f"reachable 0 to {n_features})"
        )


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
) -> tuple[float, float]:
    """Penalty whose mean l0 on a sample of ``X`` is within ±10% of ``target_l0``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
        Validated embeddings; at most ``calibration_samples`` rows of them,
        drawn with ``random_state``, are used.
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
    rng = check_random_state(random_state)
    n = X.shape[0]
    if n > calibration_samples:
        rows = np.sort(rng.choice(n, calibration_samples, replace=False))
        X = X[rows]
    V = center(X)
    # The smallest penalty at which every code of the sample is zero:
    # w = 0 is optimal iff 2 D v <= penalty for every concept. Each block of V
    # is cast to the dictionary's dtype, never the dictionary to V's.
    top = 0.0
    for start in range(0, V.shape[0], 512):
        top = max(top, float((V[start : start + 512] @ dictionary.T).max(initial=0.0)))
    if top <= 0.0:
        raise ValueError(
            f"target_l0={target:g} cannot be reached: every code is zero at any penalty on "
            "the calibration sample (no concept correlates positively with the centred X)"
        )
    hi = math.log(2.0 * top)
    lo = hi + math.log(_LOWEST_PENALTY_FRACTION)
    history: list[tuple[float, float]] = [(math.exp(hi), 0.0)]
    codes_by_log: dict[float, Any] = {}

    def mean_l0(log_pen: float) -> float:
        warm = None
        if codes_by_log:
            nearest = min(codes_by_log, key=lambda t: abs(t - log_pen))
            warm = codes_by_log[nearest]  # the solver's own SparseCodes, as they are
        codes = solve(V, math.exp(log_pen), warm_start=warm)
        codes_by_log.clear()
        codes_by_log[log_pen] = codes
        value = float(np.mean(codes.l0()))
        history.append((math.exp(log_pen), value))
        if verbose:
            logger.info(
                "calibrating target_l0=%g: l1_penalty=%.5g gives mean l0=%.3f",
                target,
                math.exp(log_pen),
                value,
            )
        return value

    def within(value: float) -> bool:
        return abs(value - target) <= _L0_RTOL * target

    start = min(max(math.log(float(l1_penalty)), lo), hi)
    value = mean_l0(start)
    if within(value):
        return math.exp(start), value
    if value > target:
        lo = start
    else:
        # Step the penalty down geometrically until the codes are dense
        # enough: small penalties are the expensive ones, so the floor
        # (the smallest penalty tried) is only reached when it must be.
        hi = start
        floor = lo
        while True:
            step = max(floor, hi - math.log(4.0))
            value = mean_l0(step)
            if within(value):
                return math.exp(step), value
            if value > target:
                lo = step
                break
            hi = step
            if step <= floor:
                raise ValueError(
                    f"target_l0={target:g} cannot be reached: the mean l0 on the "
                    f"{V.shape[0]}-row calibration sample only reaches {value:.3g} at "
                    f"l1_penalty={math.exp(step):.3g} (range reached 0 to {value:.3g}); "
                    "use a larger vocabulary or a smaller target_l0"
                )
    for _ in range(_MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        value = mean_l0(mid)
        if within(value):
            return math.exp(mid), value
        if value > target:
            lo = mid
        else:
            hi = mid
    below = max((v for _, v in history if v < target), default=0.0)
    above = min((v for _, v in history if v > target), default=float("inf"))
    raise ValueError(
        f"target_l0={target:g} cannot be reached within ±10%: on the {V.shape[0]}-row "
        f"calibration sample the mean l0 jumps from {below:.3g} to {above:.3g} around "
        f"l1_penalty={math.exp(0.5 * (lo + hi)):.3g} (range reached 0 to "
        f"{max(v for _, v in history):.3g}); use more calibration rows or another target"
    )
