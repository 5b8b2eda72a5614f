"""Row normalisation of embedding matrices, shared by every module that needs it.

:func:`l2_normalize` divides each vector by its Euclidean norm (vectors of
norm at most :data:`ZERO_NORM` become zeros); :func:`unit_rows` does the same
for rows of any scale, without overflow or underflow of the squares.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ZERO_NORM", "l2_normalize", "shortest_floats", "unit_rows"]

#: Vectors whose norm is at most this are zero vectors to :func:`l2_normalize`.
ZERO_NORM = 1e-12


def l2_normalize(X: np.ndarray, axis: int = -1, *, out: np.ndarray | None = None) -> np.ndarray:
    """Scale vectors to unit Euclidean norm, leaving zero vectors at zero.

    Parameters
    ----------
    X : ndarray
        Array of vectors.
    axis : int, default=-1
        Axis along which the norm is taken.
    out : ndarray or None, default=None
        Where to write the result: a floating array of the shape of ``X`` (of
        its dtype for the same values); ``out=X`` normalises ``X`` in place.
        By default a new array.

    Returns
    -------
    ndarray
        Array of the same shape and dtype (floating) as ``X`` (``out`` when
        given); vectors whose norm is below ``1e-12`` are returned as zeros
        rather than divided by ~0. Vectors whose squared entries overflow the
        dtype (entries of about 1e20 in float32) are scaled by their largest
        entry first.
    """
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    norms = _norms(X, axis)
    nonzero = norms > ZERO_NORM
    # One array of X's size (the quotient, or none with out=X), zero vectors zeroed in
    # place: X / safe and np.where(...) each made another.
    if out is None:
        out = np.empty_like(X)
    np.divide(X, np.where(nonzero, norms, 1.0), out=out)
    if not nonzero.all():  # (a pass over the whole array, for the zero vectors only)
        np.copyto(out, 0.0, where=~nonzero)
    return out


def _norms(X: np.ndarray, axis: int) -> np.ndarray:
    """Euclidean norms of the vectors of floating ``X`` (keepdims), overflow-safe."""
    with np.errstate(over="ignore"):  # an overflow is caught below
        norms = np.linalg.norm(X, axis=axis, keepdims=True)
    overflow = np.isinf(norms)
    if not overflow.any():  # (the usual case: no pass over X to tell overflow from inf)
        return norms
    overflow &= np.isfinite(X).all(axis=axis, keepdims=True)
    if overflow.any():
        # The squares overflowed (1e20 in float32): those vectors are scaled by
        # their largest entry first, as unit_rows does.
        scale = np.where(overflow, np.max(np.abs(X), axis=axis, keepdims=True), 1.0)
        scaled = np.linalg.norm(X / scale.astype(X.dtype), axis=axis, keepdims=True)
        norms = np.where(overflow, scale * scaled, norms)
    return norms


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm whatever their scale; zero rows stay zero.

    Each row is first divided by its largest absolute value, so that squaring
    can neither overflow (1e20 in float32) nor underflow (1e-13 rows would
    otherwise fall below the zero threshold of :func:`l2_normalize`).
    The rows are made C-contiguous first: numpy sums a contiguous row in
    another order than a strided one (a Fortran-ordered array, the columns of
    a DataFrame), and a row must give the same bits whatever its layout.
    """
    X = np.ascontiguousarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    scale = np.max(np.abs(X), axis=1, keepdims=True)
    nonzero = scale > 0
    Y = X / np.where(nonzero, scale, 1.0).astype(X.dtype)
    norms = np.linalg.norm(Y, axis=1, keepdims=True)
    return np.where(nonzero, Y / np.where(nonzero, norms, 1.0), 0.0).astype(X.dtype, copy=False)


def shortest_floats(values: np.ndarray) -> np.ndarray:
    """float32 ``values`` as the float64 numbers their shortest decimals name.

    A float32 weight of 0.3 is 0.300000011920928955078125, shown as
    ``0.30000001192092896`` once made a Python float. Each value here is instead
    the float64 nearest to the shortest decimal that reads back as the same
    float32 (``0.3``: what ``str(numpy.float32(w))`` writes), so that
    ``numpy.float32(result) == value`` and ``repr(result)`` is that decimal.
    Other dtypes are returned as float64, unchanged.

    The decimals are found for all values together, one number of significant
    digits at a time, 6 to 9 (the most a float32 needs; a float32's interval
    holds at most one decimal of 6 digits, so a shorter one, 0.3, is found as
    0.300000): the value scaled by a power of ten (exact up to 10**22), rounded
    to an integer ``m`` and divided back (one correctly rounded operation: the
    float64 nearest the decimal), kept where it reads back as the value. Values
    whose scaled value is within rounding of a half (a tie, or rounding that
    may have picked the wrong integer) or that are powers of two (whose interval
    is narrower below) are converted one at a time, as are values too small or
    large for an exact power of ten (below 1e-12 or from 1e12 on, in magnitude).
    """
    values = np.asarray(values)
    out = values.astype(np.float64)
    if values.dtype != np.float32 or out.size == 0:
        return out
    flat_in, flat = values.ravel(), out.ravel()
    magnitude = np.abs(flat)
    vectorised = np.isfinite(flat) & (magnitude >= 1e-12) & (magnitude < 1e12)
    todo = np.flatnonzero(vectorised)
    exponent = np.floor(np.log10(magnitude[todo])).astype(np.int64)
    remaining = np.arange(todo.size)
    for digits in range(6, 10):
        if remaining.size == 0:
            break
        at = todo[remaining]
        x, target = flat[at], flat_in[at]
        k = digits - 1 - exponent[remaining]
        power = 10.0 ** np.abs(k)
        # x * 10**k as one rounded operation: times 10**k, or over 10**-k (and the
        # other factor 1.0, exact), and back the same way
        times, over = np.where(k >= 0, power, 1.0), np.where(k >= 0, 1.0, power)
        scaled = x * times / over
        m = np.rint(scaled)
        best = m / times * over
        found = best.astype(np.float32) == target
        # The nearest decimal, unless the scaling's rounding moved it from a half (or
        # it is a tie, rounded to even by numpy's own shortest decimal), or a power of
        # two's interval (narrower below) holds a neighbour instead: one at a time.
        doubtful = np.flatnonzero(
            (np.abs(scaled - m) > 0.5 - 1e-6) | (~found & (np.frexp(target)[0] == 0.5))
        )
        best[doubtful] = [float(str(v)) for v in target[doubtful]]
        found[doubtful] = True
        flat[at[found]] = best[found]
        remaining = remaining[~found]
    rest = np.concatenate([np.flatnonzero(np.isfinite(flat) & ~vectorised), todo[remaining]])
    for i in rest.tolist():
        flat[i] = float(str(flat_in[i]))
    return flat.reshape(values.shape)
