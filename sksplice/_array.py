"""Row normalisation of embedding matrices, shared by every module that needs it.

:func:`l2_normalize` divides each vector by its Euclidean norm (vectors of
norm at most :data:`ZERO_NORM` become zeros); :func:`unit_rows` does the same
for rows of any scale, without overflow or underflow of the squares.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ZERO_NORM", "l2_normalize", "unit_rows"]

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
    out : ndarray, optional
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
