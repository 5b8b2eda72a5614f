"""Container for the sparse solutions returned by :class:`NonNegLasso`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse


@dataclass
class SparseCodes:
    """Sparse non-negative codes of a batch of targets, in CSR layout.

    Parameters
    ----------
    indptr : ndarray of shape (n_samples + 1,), dtype int64
        Row pointers: the codes of row ``i`` are
        ``data[indptr[i]:indptr[i + 1]]`` at concepts
        ``indices[indptr[i]:indptr[i + 1]]``.
    indices : ndarray of shape (nnz,), dtype int64
        Concept indices, sorted within each row.
    data : ndarray of shape (nnz,), dtype float64
        Strictly positive weights.
    shape : tuple of int
        ``(n_samples, n_concepts)``.
    n_iter : int
        Largest number of iterations any row needed (ADMM iterations plus
        polishing rounds for ``"admm"``; working-set rounds for
        ``"working_set"``).
    gap : float
        Worst relative duality gap over the rows, ``(primal - dual) / primal``.
    converged : bool
        Whether every row reached a relative duality gap of at most ``tol``.
    row_gaps : ndarray of shape (n_samples,), dtype float64
        Relative duality gap of each row.
    row_n_iter : ndarray of shape (n_samples,), dtype int64
        Iterations of each row (along a path of penalties, summed over its
        penalties).

    See Also
    --------
    NonNegLasso.solve : The solver that builds these codes.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]
    n_iter: int
    gap: float
    converged: bool
    row_gaps: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    row_n_iter: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def nnz(self) -> int:
        """Number of stored non-zero weights."""
        return int(self.data.shape[0])

    def l0(self) -> np.ndarray:
        """Number of non-zero weights of each row.

        Returns
        -------
        ndarray of shape (n_samples,), dtype int64
            Support size per row.
        """
        return np.diff(self.indptr)

    def to_csr(self) -> scipy.sparse.csr_matrix:
        """Return the codes as a SciPy CSR matrix.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_samples, n_concepts)
            The non-negative weights.
        """
        return scipy.sparse.csr_matrix(
            (self.data, self.indices, self.indptr), shape=self.shape, copy=False
        )

    def to_dense(self) -> np.ndarray:
        """Return the codes as a dense array.

        Returns
        -------
        ndarray of shape (n_samples, n_concepts), dtype float64
            The non-negative weights, zeros elsewhere.
        """
        return self.to_csr().toarray()
