"""Targets computed a block of rows at a time, as the solver reaches them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["LazyRows"]


class LazyRows:
    """The rows ``make(X[rows])`` of a batch, made when the solver asks for them.

    :meth:`NonNegLasso.solve <sksplice.solvers.NonNegLasso.solve>` and
    ``solve_path`` take it in place of ``V`` with ``check_input=False``: each
    chunk of rows is made from the same rows of ``X`` when it is solved, so
    the targets of the whole batch are never held at once. ``make`` must work
    row by row (the rows it returns for a block are those it returns for the
    same rows in any other block) and return a C-contiguous array of shape
    ``(len(rows), d)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
        The source rows.
    make : callable
        Maps a block of rows of ``X`` to the targets of those rows.
    norm_bound : float
        An upper bound of the Euclidean norm of every target row.
    index : ndarray of int, optional
        Rows of ``X`` that make up the batch (default: all, in order).
    """

    def __init__(
        self,
        X: np.ndarray,
        make: Callable[[np.ndarray], np.ndarray],
        norm_bound: float,
        index: np.ndarray | None = None,
    ) -> None:
        self.X = X
        self.make = make
        self.norm_bound = float(norm_bound)
        self.index = index
        n = X.shape[0] if index is None else len(index)
        self.shape = (int(n), int(X.shape[1]))
        self.device = torch.device("cpu")

    def __getitem__(self, key: Any) -> Any:
        """A slice: the targets of those rows (a tensor); row numbers: a ``LazyRows`` of them."""
        if isinstance(key, slice):
            rows = self.X[key] if self.index is None else self.X[self.index[key]]
            return torch.from_numpy(np.ascontiguousarray(self.make(rows)))
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        key = np.asarray(key, dtype=np.int64)
        index = key if self.index is None else self.index[key]
        return LazyRows(self.X, self.make, self.norm_bound, index)

    def max_row_norm(self, block: int) -> float:
        """Largest Euclidean norm (float64) of a target row, made ``block`` rows at a time."""
        n = self.shape[0]
        block = max(1, int(block))
        most = 0.0
        for start in range(0, n, block):
            V = self[start : min(n, start + block)].to(torch.float64)
            most = max(most, float(torch.linalg.vector_norm(V, dim=1).max()))
        return most
