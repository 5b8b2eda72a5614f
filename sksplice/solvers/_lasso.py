"""The :class:`NonNegLasso` front end: validation, chunking and assembly."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.exceptions import ConvergenceWarning

from .._device import resolve_device
from .._stack import warn_user
from .._validation import check_finite_rows, check_int, check_number, check_option
from ._codes import SparseCodes
from ._common import Problem, RowResult, in_threads, intra_op_threads
from ._names import resolved_solver
from ._registry import METHODS, SOLVERS
from ._rows import LazyRows
from ._validation import (
    as_tensor_2d,
    check_magnitude,
    check_penalty,
    resolve_dtype,
    shared_tensor,
)

# Resolution of the certificate: the relative gap it can show at a penalty ``lam``
# is about this constant times ``||v|| max_j ||d_j|| / lam`` (measured: 8e-11 at
# 1e-6 and 1e-12 at 1e-4 for unit-norm rows; a factor 10 of margin).
_GAP_RESOLUTION = 1e-15
_MiB = 1 << 20


#: Whether the caller of a solve takes ``l1_penalty=0`` (see :func:`zero_penalty_refused`).
_ZERO_PENALTY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sksplice_zero_penalty", default=True
)


@contextlib.contextmanager
def zero_penalty_refused() -> Iterator[None]:
    """Solves in this block are for a caller that refuses ``l1_penalty=0`` (a
    :class:`~sksplice.SpliceTransformer`): the warning about too small a penalty does
    not suggest it."""
    token = _ZERO_PENALTY.set(False)
    try:
        yield
    finally:
        _ZERO_PENALTY.reset(token)


class NonNegLasso:
    """Batched non-negative lasso over a fixed dictionary.

    Solves, for every row ``v`` of a batch ``V``::

        w* = argmin_{w >= 0} ||D^T w - v||^2 + l1_penalty * ||w||_1

    The dictionary and everything derived from it (``D^T D``, its float64
    copy, the d x d Cholesky factors used by ADMM) are kept on the chosen
    device and reused across calls.

    Parameters
    ----------
    dictionary : torch.Tensor or ndarray of shape (n_concepts, n_features)
        The concept dictionary ``D``, one concept per row.
    device : str or torch.device, default="auto"
        Where to compute: ``"auto"`` picks CUDA when available, else CPU.
    dtype : torch.dtype, numpy dtype, str or None, default=None
        Precision of the large products with ``D``. None means float64 for a
        float64 dictionary on CPU and float32 otherwise. The small problems
        on each row's working set and the duality-gap certificate are always
        computed in float64, with a float64 dictionary as given (on the CPU
        without a copy: do not modify it in place) and with any other
        widened from the storage copy.

    Attributes
    ----------
    dictionary : torch.Tensor of shape (n_concepts, n_features)
        ``D`` on ``device`` in the storage dtype.
    device : torch.device
        The resolved device.
    dtype : torch.dtype
        The resolved storage dtype.
    n_concepts : int
        Number of concepts ``c``.
    n_features : int
        Embedding dimension ``d``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.solvers import NonNegLasso
    >>> rng = np.random.default_rng(0)
    >>> D = rng.standard_normal((50, 8))
    >>> D /= np.linalg.norm(D, axis=1, keepdims=True)
    >>> codes = NonNegLasso(D, device="cpu").solve(D[:3], 0.1)
    >>> codes.shape
    (3, 50)
    >>> bool(codes.converged)
    True
    """

    def __init__(
        self,
        dictionary: torch.Tensor | np.ndarray,
        *,
        device: str | torch.device = "auto",
        dtype: Any = None,
    ) -> None:
        self.device = torch.device(resolve_device(device))
        D = as_tensor_2d(dictionary, "dictionary")
        if D.shape[0] == 0 or D.shape[1] == 0:
            raise ValueError(
                f"dictionary must have at least one concept and one feature, "
                f"got shape {tuple(D.shape)}"
            )
        check_finite_rows(D, "dictionary")
        self.dtype = resolve_dtype(dtype, D.dtype, self.device)
        check_magnitude(
            D,
            "dictionary",
            self.dtype,
            "the weights with dictionary / s and l1_penalty / s are s times those with "
            "dictionary and l1_penalty",
        )
        self.dictionary = D.to(device=self.device, dtype=self.dtype).contiguous()
        self.n_concepts, self.n_features = (int(s) for s in self.dictionary.shape)
        # A float64 dictionary is kept as given for the float64 work (no copy on
        # the CPU); any other is widened from the storage copy when first needed.
        self._D64_given = D.dtype == torch.float64
        self._D64: torch.Tensor | None = None
        if self._D64_given:
            self._D64 = D.to(device=self.device).contiguous()
        self._DtD64: torch.Tensor | None = None
        self._DtD: torch.Tensor | None = None
        self._factors: dict[float, torch.Tensor] = {}
        self._atom_norms64: torch.Tensor | None = None
        self._max_atom_norm64: float | None = None

    # ------------------------------------------------------------------ cache
    @property
    def _dictionary64(self) -> torch.Tensor:
        if self._D64 is None:
            self._D64 = self.dictionary.to(torch.float64)
        return self._D64

    @property
    def _atom_norms(self) -> torch.Tensor:
        """The row norms of the dictionary, in float64 (for the certificate).

        Computed once: every solve needs them, and for 15,000 concepts of 512
        dimensions they took 7 ms, a third of the time of decomposing one row.
        """
        if self._atom_norms64 is None:
            self._atom_norms64 = torch.linalg.vector_norm(self._dictionary64, dim=1)
        return self._atom_norms64

    @property
    def _max_atom_norm(self) -> float:
        """The largest row norm of the dictionary, in float64 (for the penalty floor)."""
        if self._max_atom_norm64 is None:
            self._max_atom_norm64 = float(self._atom_norms.max())
        return self._max_atom_norm64

    @property
    def _gram64(self) -> torch.Tensor:
        """``D^T D`` (d x d) in float64, the source of the factors."""
        if self._DtD64 is None:
            self._DtD64 = self._dictionary64.T @ self._dictionary64
        return self._DtD64

    @property
    def _gram_d(self) -> torch.Tensor:
        """``D^T D`` in the storage dtype, for the products of ADMM."""
        if self._DtD is None:
            self._DtD = self._gram64.to(self.dtype)
        return self._DtD

    def _factor(self, rho: float) -> torch.Tensor:
        """Cholesky factor of ``rho I_d + 2 D^T D`` (cached per rho)."""
        key = float(rho)
        L = self._factors.get(key)
        if L is None:
            K = 2.0 * self._gram64
            K.diagonal().add_(key)
            L = torch.linalg.cholesky(K).to(self.dtype)
            if len(self._factors) > 16:
                self._factors.clear()
            self._factors[key] = L
        return L

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not self._D64_given:
            state["_D64"] = None  # widened again from the storage copy
        state["_DtD64"] = None
        state["_DtD"] = None
        state["_factors"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_D64_given", False)
        state.setdefault("_DtD64", None)
        state.setdefault("_max_atom_norm64", None)
        state.setdefault("_atom_norms64", None)
        self.__dict__.update(state)

    # ------------------------------------------------------------------ solve
    def _resolve_solver(self, solver: str) -> str:
        check_option(solver, "solver", SOLVERS)
        return resolved_solver(solver)

    def _check_targets(self, V: Any) -> torch.Tensor:
        Vt = as_tensor_2d(V, "V")
        if Vt.shape[0] == 0:
            raise ValueError("V is an empty batch (0 rows); pass at least one target")
        if Vt.shape[1] != self.n_features:
            raise ValueError(
                f"V has {Vt.shape[1]} features per row but the dictionary has "
                f"{self.n_features} (V shape {tuple(Vt.shape)}, dictionary shape "
                f"{tuple(self.dictionary.shape)})"
            )
        check_finite_rows(Vt, "V")
        check_magnitude(
            Vt,
            "V",
            self.dtype,
            "the weights of V / s at l1_penalty / s are those of V divided by s",
        )
        return Vt

    def _check_warm_start(self, warm_start: Any, n: int) -> Any:
        if warm_start is None:
            return None
        W: Any  # SparseCodes, a CSR matrix or an ndarray
        if isinstance(warm_start, SparseCodes):
            W = warm_start  # the solver's own output: its CSR arrays are used as they are
            data = W.data
        elif scipy.sparse.issparse(warm_start):
            W = scipy.sparse.csr_matrix(warm_start)
            data = W.data
        elif isinstance(warm_start, torch.Tensor):
            W = warm_start.detach().cpu().numpy()
            data = W
        else:
            W = np.asarray(warm_start)
            data = W
        if len(W.shape) != 2 or tuple(W.shape) != (n, self.n_concepts):
            raise ValueError(
                f"warm_start must have shape (n_samples, n_concepts) = "
                f"({n}, {self.n_concepts}), got {tuple(W.shape)}"
            )
        if not np.issubdtype(np.asarray(data).dtype, np.number):
            raise TypeError(f"warm_start must hold real numbers, got dtype {data.dtype}")
        if isinstance(W, SparseCodes):
            if not np.isfinite(W.data).all():  # name the rows, through a CSR view of its arrays
                view = scipy.sparse.csr_matrix((W.data, W.indices, W.indptr), shape=W.shape)
                check_finite_rows(view, "warm_start")
        else:
            check_finite_rows(W, "warm_start")
        return W

    def _warm_rows(self, W: Any, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of the warm start, dense float64 on the device."""
        if isinstance(W, SparseCodes) or scipy.sparse.isspmatrix_csr(W):
            # Scattered straight from the CSR arrays: no dense copy on the host.
            lo, hi = int(W.indptr[start]), int(W.indptr[stop])
            counts = torch.from_numpy(np.diff(W.indptr[start : stop + 1]).astype(np.int64))
            rows = torch.repeat_interleave(torch.arange(stop - start), counts)
            cols = torch.from_numpy(np.asarray(W.indices[lo:hi], dtype=np.int64))
            vals = torch.from_numpy(np.asarray(W.data[lo:hi], dtype=np.float64))
            shape = (stop - start, self.n_concepts)
            t = torch.zeros(shape, dtype=torch.float64, device=self.device)
            index = (rows.to(self.device), cols.to(self.device))
            t.index_put_(index, vals.to(self.device), accumulate=True)  # sums duplicates
            return t.clamp_min_(0.0)
        block = W[start:stop]
        block = block.toarray() if scipy.sparse.issparse(block) else np.asarray(block)
        t = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float64))
        return t.to(self.device).clamp_min_(0.0)

    def _chunk_size(self, method: str, n: int, memory_budget: int | None) -> int:
        given = memory_budget is not None
        if memory_budget is None:
            if self.device.type == "cuda":
                free, _ = torch.cuda.mem_get_info(self.device)
                memory_budget = int(min(16384 * _MiB, free // 3))
            else:
                memory_budget = 512 * _MiB
        else:
            memory_budget = check_int(memory_budget, "memory_budget")
        c, d = self.n_concepts, self.n_features
        item = self.dictionary.element_size()
        per_row = c * (3 * item + 2) + 96 * d * 8 * 3 + 64 * 64 * 8 * 4
        per_row += c * item * METHODS[method].row_items
        if given and memory_budget < per_row and n > 1:
            warn_user(
                f"memory_budget={memory_budget} bytes is less than one row of this problem "
                f"needs ({per_row} bytes for {c} concepts x {d} features): the {n} rows are "
                "solved one at a time, far slower than in batches. memory_budget counts "
                f"bytes (512 MiB is {512 * _MiB}); None chooses one",
                UserWarning,
            )
        most = int(max(1, min(n, memory_budget // per_row)))
        # Chunks of equal size: a small last chunk would run its rounds on few rows
        # (one thread, the same per-round costs for less work).
        n_chunks = -(-n // most)
        return -(-n // n_chunks)

    def solve(
        self,
        V: torch.Tensor | np.ndarray,
        l1_penalty: float,
        *,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int | None = None,
        warm_start: Any = None,
        memory_budget: int | None = None,
        check_input: bool = True,
        progress: Callable[[int], object] | None = None,
    ) -> SparseCodes:
        """Solve the non-negative lasso for every row of ``V``.

        Parameters
        ----------
        V : torch.Tensor or ndarray of shape (n_samples, n_features)
            Targets (for SpLiCE: centred, unit-norm embeddings).
        l1_penalty : float
            Non-negative weight of the l1 term (same scaling as the SpLiCE
            authors' code).
        solver : {"auto", "admm", "working_set"}, default="auto"
            ``"working_set"``: batched working-set method with exact solves
            on each row's candidate set. ``"admm"``: batched ADMM with a d x d
            factorisation and certified polishing. ``"auto"`` uses the
            working-set method, the faster of the two on CPUs and GPUs.
        tol : float, default=1e-6
            Target relative duality gap of each row.
        max_iter : int or None, default=None
            ADMM iterations (default 1000) or working-set rounds (default
            100). When it runs out before every row reaches ``tol`` a
            :class:`~sklearn.exceptions.ConvergenceWarning` reports the gap.
        warm_start : SparseCodes, sparse matrix, ndarray, tensor or None, default=None
            Starting weights of shape (n_samples, n_concepts), e.g. the codes
            of a nearby penalty, best passed as the :class:`SparseCodes`
            this method returned (negative entries are treated as zero).
        memory_budget : int or None, default=None
            Approximate number of bytes of working memory; the batch is
            processed in chunks sized to fit. Default 512 MiB on CPU and a
            third of the free memory (at most 16 GiB) on CUDA.
        check_input : bool, default=True
            Check ``V`` (a real 2-D array of the dictionary's width, at least
            one row, no NaN or infinite values). False skips these checks, for
            callers that have already checked the targets (as
            :class:`~sksplice.SpliceTransformer` does); do not pass False
            otherwise.
        progress : callable or None, default=None
            Called with a number of rows each time a chunk of that many rows is
            solved (the counts add up to ``n_samples``), e.g. the ``update``
            method of a tqdm bar. Chunks solved side by side in threads call it
            from those threads. With it, the rows are solved in ten chunks or
            more (of 16 rows at least), so that it is called along the way.

        Returns
        -------
        SparseCodes
            The solution in CSR layout with its certificate.

        Raises
        ------
        ValueError
            For NaN or infinite values in ``V``, a feature count that does
            not match the dictionary, an empty batch, a negative or
            non-finite ``l1_penalty``, or an invalid option.
        TypeError
            For ``V`` that does not hold real numbers, or an option of the wrong
            type (a string or a bool where a number is expected).
        torch.cuda.OutOfMemoryError
            When the device runs out of memory even on a chunk of one row.

        Warns
        -----
        UserWarning
            When the device runs out of memory on a chunk: the chunk size is
            halved, the chunk is solved again, and the remaining rows use the
            smaller size. Also when a positive ``l1_penalty`` is below
            :meth:`smallest_supported_penalty`: the rows cannot be certified
            at ``tol``, and unless ``max_iter`` is given the budget is 10
            working-set rounds (100 ADMM iterations) instead of the default.

        Notes
        -----
        The certificate is the relative duality gap of the dual point built
        from each row's residual ``r``, computed in float64. Its resolution is
        about machine epsilon times ``||r|| / l1_penalty``, so very small
        positive penalties cannot certify very small ``tol`` (for unit-norm
        rows: below about 1e-9 at ``tol=1e-6``); ``l1_penalty=0``
        (non-negative least squares) is fine. The dual point's scale needs the
        largest correlation ``(D r)_j`` over every concept: it is recomputed
        in float64 for the row's working set and its strongest concepts, and
        bounded for the others (their correlation in storage precision before
        the float64 refinement moved ``r``, plus how far it moved times the
        largest norm of a concept, plus the round-off of the product); where
        the bound could exceed the recomputed maximum, all of the row's
        correlations are formed in float64. The concepts need not have unit
        norm: the small solves are regularised relative to each concept's own
        norm.

        Without ``warm_start``, the working-set method reaches a positive
        penalty below about 3e-3 times the one that zeroes the solutions (a
        wide dictionary's solutions then hold about d concepts) along a path of
        larger penalties, each at most 10 times the next, as
        :meth:`solve_path` does; ``max_iter`` is the budget of each, and
        ``n_iter`` counts the rounds of the whole path.

        A round of the working-set method (also the polish of ADMM) in which
        none of the newly added concepts takes a positive weight cannot make
        progress in the storage precision: the row is refined and certified at
        once or, with a float32 dictionary, solved again in float64.
        """
        lam = check_penalty(l1_penalty)
        if progress is not None and not callable(progress):
            raise TypeError(
                "progress must be a callable taking a number of rows (e.g. a tqdm bar's "
                f"update) or None, got {type(progress).__name__} {progress!r}"
            )
        Vt, method, tol, max_iter, W_warm = self._check_call(
            V, solver, tol, max_iter, warm_start, check_input
        )
        return self._solve_penalties(
            Vt, [lam], method, tol, max_iter, W_warm, memory_budget, progress
        )[0]

    def solve_path(
        self,
        V: torch.Tensor | np.ndarray,
        l1_penalties: Any,
        *,
        solver: str = "auto",
        tol: float = 1e-6,
        max_iter: int | None = None,
        warm_start: Any = None,
        memory_budget: int | None = None,
        check_input: bool = True,
    ) -> list[SparseCodes]:
        """Solve every row of ``V`` at several penalties, each solution seeding the next.

        The penalties are solved from the largest (the sparsest solutions)
        down. With the working-set method the whole path runs in one batch: a
        row certified at one penalty goes on to the next with its working set,
        the Gram block of that set and its weights, and the concepts that join
        are read from the correlations its certificate has just computed. Every
        solution is certified to ``tol`` as :meth:`solve` certifies it. With
        ADMM each penalty is one :meth:`solve` warm-started from the previous
        solution.

        Parameters
        ----------
        V : torch.Tensor or ndarray of shape (n_samples, n_features)
            Targets, as for :meth:`solve`.
        l1_penalties : sequence of float
            Non-negative penalties, in any order (at least one).
        solver, tol, max_iter
            As for :meth:`solve`; ``max_iter`` is the budget of each penalty.
        warm_start : SparseCodes, sparse matrix, ndarray, tensor or None, default=None
            Starting weights for the largest penalty, as for :meth:`solve`.
        memory_budget, check_input
            As for :meth:`solve`.

        Returns
        -------
        list of SparseCodes
            One solution per penalty, in the order of ``l1_penalties``.

        Raises
        ------
        ValueError, TypeError
            As for :meth:`solve`, and for an empty ``l1_penalties``.

        Warns
        -----
        UserWarning, ConvergenceWarning
            As for :meth:`solve`, naming the penalties concerned.

        Examples
        --------
        >>> import numpy as np
        >>> from sksplice.solvers import NonNegLasso
        >>> rng = np.random.default_rng(0)
        >>> D = rng.standard_normal((50, 8))
        >>> D /= np.linalg.norm(D, axis=1, keepdims=True)
        >>> path = NonNegLasso(D, device="cpu").solve_path(D[:3] + D[3:6], [0.1, 0.5, 0.2])
        >>> [codes.shape for codes in path]
        [(3, 50), (3, 50), (3, 50)]
        >>> [bool(codes.converged) for codes in path]
        [True, True, True]
        """
        if isinstance(l1_penalties, (str, bytes)) or not hasattr(l1_penalties, "__len__"):
            raise TypeError(
                f"l1_penalties must be a sequence of penalties, got {type(l1_penalties).__name__}"
            )
        lams = [check_penalty(p) for p in l1_penalties]
        if not lams:
            raise ValueError("l1_penalties is empty; pass at least one penalty")
        Vt, method, tol, max_iter, W_warm = self._check_call(
            V, solver, tol, max_iter, warm_start, check_input
        )
        order = sorted(range(len(lams)), key=lambda i: -lams[i])
        ordered = [lams[i] for i in order]
        if method == "working_set":
            solved = self._solve_penalties(
                Vt, ordered, method, tol, max_iter, W_warm, memory_budget
            )
        else:
            solved = []
            for lam in ordered:
                codes = self._solve_penalties(
                    Vt, [lam], method, tol, max_iter, W_warm, memory_budget
                )[0]
                solved.append(codes)
                W_warm = codes
        out: list[SparseCodes] = [solved[0]] * len(lams)
        for position, i in enumerate(order):
            out[i] = solved[position]
        return out

    def _check_call(
        self,
        V: Any,
        solver: str,
        tol: float,
        max_iter: int | None,
        warm_start: Any,
        check_input: bool,
    ) -> tuple[torch.Tensor | LazyRows, str, float, int | None, Any]:
        """The checked targets, method, ``tol``, ``max_iter`` and warm start of a call."""
        tol = check_number(tol, "tol", low=0.0, closed="left")
        method = self._resolve_solver(solver)
        max_iter = check_int(max_iter, "max_iter", allow_none=True)
        Vt: torch.Tensor | LazyRows
        if isinstance(V, LazyRows):
            Vt = V  # made a chunk at a time by the caller's function, which checked X
        elif check_input:
            Vt = self._check_targets(V)
        else:
            Vt = V if isinstance(V, torch.Tensor) else shared_tensor(np.ascontiguousarray(V))
        W_warm = self._check_warm_start(warm_start, int(Vt.shape[0]))
        return Vt, method, tol, max_iter, W_warm

    def _solve_penalties(
        self,
        Vt: torch.Tensor | LazyRows,
        lams: list[float],
        method: str,
        tol: float,
        max_iter: int | None,
        W_warm: Any,
        memory_budget: int | None,
        progress: Callable[[int], object] | None = None,
    ) -> list[SparseCodes]:
        """Solve at the decreasing penalties ``lams`` (more than one: working set only).

        The warning about too small a penalty suggests ``l1_penalty=0`` (non-negative
        least squares) unless the caller does not take it (:func:`zero_penalty_refused`).
        """
        n = int(Vt.shape[0])
        chunk = self._chunk_size(method, n, memory_budget)
        if progress is not None:
            # (a bar counts chunks: a few hundred rows at a small penalty, minutes of work,
            # were one chunk, and the bar showed nothing until they were done)
            chunk = min(chunk, max(_PROGRESS_MIN_ROWS, -(-n // _PROGRESS_STEPS)))
        floor = self._penalty_floor(Vt, lams, tol, chunk)
        low = [lam for lam in lams if 0.0 < lam < floor]
        budgets = [
            max_iter
            if max_iter is not None
            else METHODS[method].small_penalty_max_iter
            if 0.0 < lam < floor
            else METHODS[method].max_iter
            for lam in lams
        ]
        if low:
            # Rows cannot be certified at ``tol``: bound the work instead of running
            # every round (and the float64 redo) to the full budget.
            shown = ", ".join(f"{lam:g}" for lam in low)
            budget = budgets[lams.index(low[0])]
            # (rounded up: "1e-09 is below about 1e-09" hid the limit, 1.04e-09)
            least = _rounded_up(floor, low)
            warn_user(
                f"l1_penalty={shown} is below the smallest penalty the duality-gap "
                f"certificate supports at tol={tol:g} for these targets (about {least}); "
                f"the rows are solved with max_iter={budget} and may not reach tol. Use "
                + ("l1_penalty=0 (non-negative least squares), " if _ZERO_PENALTY.get() else "")
                + f"an l1_penalty of at least about {least} or a larger tol",
                UserWarning,
            )

        # On CPU the small batched operations run single-threaded (they are bound
        # by per-call overhead). With 2 to 4 torch threads the chunks run side by
        # side, each on one thread (``_chunk_workers``); with more, the dense
        # products and the working-set rounds on many rows use every thread torch has.
        on_cpu = self.device.type == "cpu"
        threads = torch.get_num_threads() if on_cpu else 0
        prob = Problem(
            D=self.dictionary,
            D64=self._dictionary64,
            norms=self._atom_norms,
            max_norm=self._max_atom_norm,
            lam=lams[0],
            threads=threads,
            group_rows=on_cpu,
        )
        path = None
        rounds: int | torch.Tensor = budgets[0]
        if len(lams) > 1:
            path = torch.tensor(lams, dtype=torch.float64, device=self.device)
            rounds = torch.tensor(budgets, dtype=torch.int64, device=self.device)
        with intra_op_threads(1 if on_cpu else 0):
            solved = self._solve_chunks(
                prob, Vt, W_warm, method, chunk, tol, rounds, path, progress
            )
            for s, codes in enumerate(solved):
                if not codes.converged and self.dtype != torch.float64:
                    # Products in float32 can stall on ill-conditioned rows (many concepts
                    # in few dimensions); the rows that are not certified are solved again
                    # by the working-set method entirely in float64.
                    redo_iter = budgets[s] if method == "working_set" else None
                    solved[s] = self._redo_in_float64(
                        codes, replace(prob, lam=lams[s]), Vt, chunk, tol, redo_iter
                    )
        for lam, budget, codes in zip(lams, budgets, solved):
            if not codes.converged:
                n_bad = int((codes.row_gaps > tol).sum())
                at = f" at l1_penalty={lam:g}" if len(lams) > 1 else ""
                # (the rounds of the rows left uncertified: along a path of penalties
                # they are summed over its stages, so "ran out" may be said of a row
                # whose last stage stalled, never "stalled" of one that ran out)
                left = codes.row_n_iter[codes.row_gaps > tol] if codes.row_n_iter.size else None
                if left is None or not left.size or int(left.max()) >= budget:
                    how = f"stopped after max_iter={budget}"
                    advice = "increase max_iter (SpliceTransformer's transform_max_iter) or tol"
                else:
                    # (rows whose rounds could no longer make progress, even in float64)
                    rounds = int(left.max())
                    how = f"stopped making progress after {rounds} rounds (max_iter={budget})"
                    advice = (
                        "a larger tol or l1_penalty would let them converge; more rounds would not"
                    )
                warn_user(
                    f"NonNegLasso ({method}) {how}{at} with a worst relative duality gap of "
                    f"{codes.gap:.3g} > tol={tol:g} on {n_bad} of {n} row(s); {advice}",
                    ConvergenceWarning,
                )
        return solved

    def smallest_supported_penalty(self, V: Any, tol: float = 1e-6) -> float:
        """Smallest positive penalty whose solutions can be certified at ``tol``.

        The relative duality gap is computed from residuals in float64; its
        resolution grows as ``||v|| max_j ||d_j|| / l1_penalty``. Below the
        returned value a positive penalty cannot be certified at ``tol``
        (``l1_penalty=0``, non-negative least squares, is always supported).

        Parameters
        ----------
        V : array-like or torch.Tensor of shape (n_samples, n_features)
            The targets.
        tol : float, default=1e-6
            Target relative duality gap.

        Returns
        -------
        float
            The smallest supported penalty (0.0 when ``tol`` is 0 or every
            target is zero).
        """
        tol = check_number(tol, "tol", low=0.0, closed="left")
        Vt = V if isinstance(V, torch.Tensor) else as_tensor_2d(V, "V")
        if tol == 0.0 or Vt.shape[0] == 0:
            return 0.0
        v_norm = float(torch.linalg.vector_norm(Vt.to(torch.float64), dim=1).max())
        d_norm = self._max_atom_norm
        return _GAP_RESOLUTION * v_norm * d_norm / tol

    def _penalty_floor(self, Vt: Any, lams: list[float], tol: float, block: int) -> float:
        """:meth:`smallest_supported_penalty` of ``Vt``, or a bound above it no penalty is below.

        For targets made a chunk at a time (:class:`LazyRows`), the rows are made
        once more to find their largest norm only when a positive penalty lies
        below the floor their norm bound gives.
        """
        if not isinstance(Vt, LazyRows):
            return self.smallest_supported_penalty(Vt, tol)
        if tol == 0.0 or Vt.shape[0] == 0:
            return 0.0
        d_norm = self._max_atom_norm
        bound = _GAP_RESOLUTION * Vt.norm_bound * d_norm / tol
        if not any(0.0 < lam < bound for lam in lams):
            return bound
        return _GAP_RESOLUTION * Vt.max_row_norm(block) * d_norm / tol

    def _redo_in_float64(
        self,
        codes: SparseCodes,
        prob: Problem,
        Vt: torch.Tensor | LazyRows,
        chunk: int,
        tol: float,
        max_iter: int | None,
    ) -> SparseCodes:
        """Solve the rows whose gap is above ``tol`` again in float64 (working set)."""
        bad = np.flatnonzero(codes.row_gaps > tol)
        if max_iter is None:
            max_iter = METHODS["working_set"].max_iter
        prob64 = replace(prob, D=prob.D64)
        rows = torch.as_tensor(bad, device=Vt.device)
        redo = self._solve_chunks(prob64, Vt[rows], None, "working_set", chunk, tol, max_iter)[0]
        improved = redo.row_gaps < codes.row_gaps[bad]
        if not improved.any():
            return codes
        better = bad[improved]
        indptr, indices, data = _replace_rows(codes, better, redo, np.flatnonzero(improved))
        gaps = codes.row_gaps.copy()
        gaps[better] = redo.row_gaps[improved]
        n_iter = codes.row_n_iter.copy()
        if n_iter.size and redo.row_n_iter.size:
            n_iter[better] = redo.row_n_iter[improved]
        worst = float(gaps.max())
        return SparseCodes(
            indptr=indptr,
            indices=indices,
            data=data,
            shape=codes.shape,
            n_iter=max(codes.n_iter, redo.n_iter),
            gap=worst,
            converged=bool(worst <= tol),
            row_gaps=gaps,
            row_n_iter=n_iter,
        )

    def _solve_chunks(
        self,
        prob: Problem,
        Vt: torch.Tensor | LazyRows,
        W_warm: Any,
        method: str,
        chunk: int,
        tol: float,
        max_iter: int | torch.Tensor,
        penalties: torch.Tensor | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> list[SparseCodes]:
        """The solutions, one per penalty of ``penalties`` (None: ``prob.lam`` alone);
        ``progress`` is called with the rows of each chunk once it is solved."""
        n = int(Vt.shape[0])
        n_stages = 1 if penalties is None else penalties.numel()
        out: list[tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = [
            ([], [], []) for _ in range(n_stages)
        ]
        gaps = np.zeros((n_stages, n), dtype=np.float64)
        iters = np.zeros((n_stages, n), dtype=np.int64)
        workers = _chunk_workers(prob, method, n)
        if workers > 1:
            # Chunks of a share of the memory budget each, in a multiple of the workers.
            n_chunks = -(-n // max(1, chunk // workers))
            n_chunks = -(-n_chunks // workers) * workers
            chunk = -(-n // n_chunks)
            bounds = [(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
            one = replace(prob, threads=1)
            reported = threading.Lock()  # (one call of ``progress`` at a time)

            def solve(bound: tuple[int, int]) -> list[RowResult]:
                lo, hi = bound
                results = self._solve_one_chunk(
                    one, Vt, W_warm, method, lo, hi, tol, max_iter, penalties
                )
                if progress is not None:
                    with reported:
                        progress(hi - lo)
                return results

            solved = in_threads(solve, bounds, workers)
        else:
            solved = None
        start = 0
        while start < n:
            stop = min(n, start + chunk)
            try:
                if solved is not None:
                    # (each chunk's padded results are freed once copied, as without threads)
                    results, solved[start // chunk] = solved[start // chunk], []
                else:
                    results = self._solve_one_chunk(
                        prob, Vt, W_warm, method, start, stop, tol, max_iter, penalties
                    )
                    if progress is not None:
                        progress(stop - start)
            except torch.cuda.OutOfMemoryError as exc:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                if stop - start <= 1:
                    raise torch.cuda.OutOfMemoryError(
                        f"NonNegLasso ran out of device memory on {self.device} even with "
                        f"a chunk size of 1 row (row {start}; {self.n_concepts} concepts, "
                        f"{self.n_features} features); free memory on the device or use "
                        f"device='cpu' ({exc})"
                    ) from exc
                new_chunk = max(1, (stop - start) // 2)
                warn_user(
                    f"NonNegLasso ran out of device memory on {self.device} with a chunk "
                    f"of {stop - start} rows; reducing the chunk size to {new_chunk} rows "
                    "and carrying on (pass a smaller memory_budget to avoid this)",
                    UserWarning,
                )
                chunk = new_chunk
                continue
            for res in _to_host(results):
                r_rows = res.rows + start
                stage = 0 if res.stage is None else res.stage
                gaps[stage, r_rows] = res.gap
                iters[stage, r_rows] = res.n_iter
                w, idx = res.w, res.idx
                nz = w > 0
                rows = np.broadcast_to(r_rows[:, None], w.shape)[nz]
                cols, vals = idx[nz], w[nz]
                if res.stage is None:
                    parts: list[tuple[int, Any]] = [(0, slice(None))]
                else:
                    stages = np.broadcast_to(res.stage[:, None], w.shape)[nz]
                    parts = [(int(s), stages == s) for s in np.unique(stages)]
                for s, keep in parts:
                    out[s][0].append(rows[keep])
                    out[s][1].append(cols[keep])
                    out[s][2].append(vals[keep])
            start = stop
        return [
            _assemble(n, self.n_concepts, rows, cols, vals, gaps[s], iters[s], tol)
            for s, (rows, cols, vals) in enumerate(out)
        ]

    def _solve_one_chunk(
        self,
        prob: Problem,
        Vt: torch.Tensor | LazyRows,
        W_warm: Any,
        method: str,
        start: int,
        stop: int,
        tol: float,
        max_iter: int | torch.Tensor,
        penalties: torch.Tensor | None = None,
    ) -> list[RowResult]:
        """Solve rows ``start:stop`` of ``Vt``; results index rows from ``start``."""
        Vc = Vt[start:stop].to(device=self.device)
        v64 = Vc.to(torch.float64)
        Vc = Vc.to(prob.D.dtype)
        warm = None if W_warm is None else self._warm_rows(W_warm, start, stop)
        solve_chunk = METHODS[method].solve_chunk
        if penalties is None:
            return solve_chunk(self, prob, Vc, v64, warm, tol, max_iter)
        return solve_chunk(self, prob, Vc, v64, warm, tol, max_iter, penalties=penalties)


# Rows per worker thread from which the chunks of a CPU solve run in threads, and the
# most torch threads for which they do (measured on 2 cores; with many threads, the
# Python threads that dispatch many short operations would contend for the GIL).
_CHUNK_MIN_ROWS = 64

#: With a ``progress`` callback, the rows are solved in at least this many chunks (of at
#: least _PROGRESS_MIN_ROWS rows), so that a bar moves while they are (the callback is
#: called as each chunk ends).
_PROGRESS_STEPS = 10
_PROGRESS_MIN_ROWS = 16
_CHUNK_MAX_THREADS = 4


def _chunk_workers(prob: Problem, method: str, n: int) -> int:
    """Threads of this process that solve the chunks of ``n`` rows side by side.

    On CPU with several torch threads the working-set rounds of a chunk are many
    short batched operations, each a parallel region that waits for all its
    threads; on a machine busy with other work, a thread that lost its core holds
    up every region. Chunks solved side by side in threads of the process, each
    on one torch thread, meet only at the end (see ``benchmarks/README.md``,
    "Chunks side by side").
    """
    if not 2 <= prob.threads <= _CHUNK_MAX_THREADS:
        return 1
    if method != "working_set" or prob.D.device.type != "cpu":
        return 1
    return max(1, min(prob.threads, n // _CHUNK_MIN_ROWS))


@dataclass
class _HostRows:
    """A :class:`RowResult` copied to the host (NumPy arrays)."""

    rows: np.ndarray
    idx: np.ndarray
    w: np.ndarray
    gap: np.ndarray
    n_iter: np.ndarray
    stage: np.ndarray | None


def _to_host(results: list[RowResult]) -> list[_HostRows]:
    """The row groups of a chunk on the host, in two copies for all of them.

    The integer and the float64 fields of every group are packed into one
    tensor each on the device (the shapes are known on the host), so a chunk
    costs two device-to-host copies, each a synchronisation on a GPU, instead
    of five per group.
    """
    if not results:
        return []
    ints, floats = [], []
    for res in results:
        stage = res.stage if res.stage is not None else res.rows.new_zeros(0)
        ints += [res.rows, res.n_iter.to(torch.int64), stage, res.idx.flatten()]
        floats += [res.gap.to(torch.float64), res.w.to(torch.float64).flatten()]
    int_host = torch.cat(ints).cpu().numpy()
    float_host = torch.cat(floats).cpu().numpy()
    out = []
    i = f = 0
    for res in results:
        m, k = res.idx.shape
        n_stage = 0 if res.stage is None else m
        rows, n_iter = int_host[i : i + m], int_host[i + m : i + 2 * m]
        i += 2 * m
        host_stage = int_host[i : i + n_stage] if res.stage is not None else None
        i += n_stage
        idx = int_host[i : i + m * k].reshape(m, k)
        i += m * k
        gap, w = float_host[f : f + m], float_host[f + m : f + m + m * k].reshape(m, k)
        f += m + m * k
        out.append(_HostRows(rows=rows, idx=idx, w=w, gap=gap, n_iter=n_iter, stage=host_stage))
    return out


def _replace_rows(
    codes: SparseCodes, rows: np.ndarray, new: SparseCodes, new_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of ``codes`` with rows ``rows`` taken from rows ``new_rows`` of ``new``."""
    lengths = np.diff(codes.indptr)
    new_lengths = np.diff(new.indptr)
    lengths[rows] = new_lengths[new_rows]
    indptr = np.zeros_like(codes.indptr)
    np.cumsum(lengths, out=indptr[1:])
    # Each output entry comes from one source: the old row, or the row that replaces it.
    source_start = codes.indptr[:-1].copy()
    source_start[rows] = new.indptr[new_rows] + codes.nnz
    offsets = np.arange(indptr[-1]) - np.repeat(indptr[:-1], lengths)
    take = np.repeat(source_start, lengths) + offsets
    indices = np.concatenate([codes.indices, new.indices])[take]
    data = np.concatenate([codes.data, new.data])[take]
    return indptr, indices, data


def _assemble(
    n: int,
    c: int,
    rows: list[np.ndarray],
    cols: list[np.ndarray],
    vals: list[np.ndarray],
    gaps: np.ndarray,
    iters: np.ndarray,
    tol: float,
) -> SparseCodes:
    """Sort the (row, column, value) triplets into CSR arrays."""
    r = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    j = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    x = np.concatenate(vals).astype(np.float64) if vals else np.zeros(0, np.float64)
    order = np.lexsort((j, r))
    r, j, x = r[order], j[order], x[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    worst = float(gaps.max()) if n else 0.0
    return SparseCodes(
        indptr=indptr,
        indices=j,
        data=x,
        shape=(n, c),
        n_iter=int(iters.max()) if n else 0,
        gap=worst,
        converged=bool(worst <= tol),
        row_gaps=gaps,
        row_n_iter=np.asarray(iters, dtype=np.int64),
    )


def _rounded_up(value: float, below: Sequence[float] = ()) -> str:
    """``value`` (positive) rounded up to 2 significant digits, or to more (up to 6)
    where that would show it no larger than a number of ``below``: a limit said so is
    one the numbers said to be below it are below (1.04e-09 as 1.1e-09, where ``:.2g``
    gave 1e-09, the very penalty it was said to be above)."""
    import math

    largest = max(below, default=0.0)
    text = f"{value:g}"
    for digits in range(2, 7):
        step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
        rounded = float(f"{value:.{digits}g}")
        if rounded < value:
            rounded += step
        text = f"{rounded:.{digits}g}"
        if float(text) > largest:
            return text
    return text
