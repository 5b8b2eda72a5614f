"""What the solver methods share: the problem, the row results, threads and the certificate.

Each method (one module per method, listed in :mod:`._registry`) solves a chunk
of rows and returns :class:`RowResult` groups certified by their relative duality gap
(:func:`gap_from_cmax`; the working-set rounds bound the correlations they do not
recompute, see ``_working_set._certify``).

Duality gap
-----------
For ``P(w) = ||v - D^T w||^2 + lam * sum(w)`` with ``w >= 0``, writing
``||z||^2 = max_u 2 u.z - ||u||^2`` and minimising over ``w >= 0`` gives the
dual problem ``max_u 2 u.v - ||u||^2`` subject to ``2 (D u)_j <= lam`` for
every concept ``j``. At the optimum ``u`` is the residual ``r = v - D^T w``.
For any ``w`` we take ``theta = s r`` with the best scale
``s = clip(r.v / ||r||^2, 0, lam / (2 max_j (D r)_j))``, which is dual
feasible, so ``P(w) - (2 theta.v - ||theta||^2) >= P(w) - P(w*) >= 0``.
The relative gap divides this by ``P(w)``, floored at ``1e-12 ||v||^2``
(a near-exact fit with a vanishing penalty has a primal value made of
round-off only).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import torch

_INF = float("inf")
# Floor of the relative-gap denominator, as a fraction of ||v||^2.
_GAP_FLOOR = 1e-12
# A correlation (D r)_j below this fraction of ||r|| ||d_j|| is round-off (see
# ``binding_max``).
_ZERO_CORRELATION = 1e-13


@dataclass
class RowResult:
    """Solution of a group of rows: working-set indices and weights."""

    rows: torch.Tensor  # (m,) row numbers inside the chunk
    idx: torch.Tensor  # (m, K) concept indices
    w: torch.Tensor  # (m, K) float64 weights (0 on padding)
    gap: torch.Tensor  # (m,) relative duality gaps
    n_iter: torch.Tensor  # (m,) iterations used
    stage: torch.Tensor | None = None  # (m,) position in a path of penalties (None: 0)


def binding_max(corr: torch.Tensor, norms: torch.Tensor, r_norm: torch.Tensor) -> torch.Tensor:
    """The largest of each row's correlations ``(D r)_j`` that bind the dual scale.

    ``corr`` and ``norms`` (the concepts' norms ``||d_j||``) have shape (m, k),
    ``r_norm`` (the residuals' norms ``||r||``) shape (m,). A correlation at
    most ``1e-13 ||r|| ||d_j||`` is round-off and does not bind (relative to
    the concept's own norm: a concept of norm 1e-14 along the residual binds
    it fully). ``-inf`` where none binds.
    """
    floor = (r_norm * _ZERO_CORRELATION).unsqueeze(1)
    return torch.where(corr > floor * norms, corr, -_INF).amax(dim=1)


def gap_from_cmax(
    v64: torch.Tensor,
    r64: torch.Tensor,
    wsum: torch.Tensor,
    lam: float | torch.Tensor,
    cmax: torch.Tensor,
) -> torch.Tensor:
    """Relative gap of the scaled residual, ``cmax = max_j (D r)_j`` over the
    correlations that bind (:func:`binding_max`; ``-inf`` where none does)."""
    # r.r, r.v and v.v of each row from one batched product (few small kernels:
    # on GPUs this runs on every polishing round).
    RV = torch.stack((r64, v64), dim=1)
    gram = RV @ RV.transpose(1, 2)
    rr, rv, vv = gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1]
    primal = rr + lam * wsum
    s = torch.where(rr > 0, rv / rr.clamp_min(1e-300), 0.0).clamp_min_(0.0)
    smax = torch.where(cmax > 0, (0.5 * lam) / cmax, _INF)
    s = torch.minimum(s, smax)
    # primal - dual with dual = 2 s rv - s^2 rr = 2 s (rv - s rr / 2).
    gap = torch.addcmul(primal, s, torch.addcmul(rv, s, rr, value=-0.5), value=-2.0)
    gap.clamp_min_(0.0)
    # Below 1e-12 ||v||^2 the primal value is round-off: it is not a scale. (A zero
    # denominator means r = 0 and w = 0, so s = 0 and the gap is 0 as well.)
    denom = torch.maximum(primal, vv * _GAP_FLOOR)
    return gap.div_(denom.clamp_min_(1e-300))


@dataclass
class Problem:
    """A dictionary and penalty, in the two precisions the solvers use.

    ``threads`` is the intra-op thread count on CPU for the dense products
    with the dictionary and the batched operations of working-set rounds on
    many rows, while the small operations (bound by per-call overhead) run
    single-threaded; 0 leaves the setting alone.
    ``group_rows`` lets the small problems of a batch run in groups of similar
    size (on CPU, where the padded work costs time; on a GPU the extra
    launches of the groups cost more than the padding).
    """

    D: torch.Tensor  # (c, d) storage dtype
    D64: torch.Tensor  # (c, d) float64
    lam: float
    threads: int = 0
    group_rows: bool = False
    norms: torch.Tensor | None = None  # (c,) float64 norms of the rows of D64 (None: formed)
    max_norm: float = -1.0  # the largest of them (negative: formed)

    def __post_init__(self) -> None:
        if self.norms is None:
            self.norms = torch.linalg.vector_norm(self.D64, dim=1)
        if self.max_norm < 0:
            self.max_norm = float(self.norms.max()) if self.norms.numel() else 0.0

    @property
    def atom_norms(self) -> torch.Tensor:
        """The norms of the rows of ``D64`` (float64, shape (c,))."""
        assert self.norms is not None  # (formed in __post_init__)
        return self.norms


@contextlib.contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (0: leave unchanged)."""
    if n <= 0 or n == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_POOL: tuple[int, int, ThreadPoolExecutor] | None = None  # (process id, workers, pool)
_POOL_LOCK = threading.Lock()
_POOL_PREFIX = "sksplice-solver"


def _pool(workers: int) -> ThreadPoolExecutor:
    """Threads for :func:`in_threads`, at least ``workers`` of them (made again in a
    forked child, which inherits the pool object but not its threads; at most
    ``workers`` of them work for one call of :func:`in_threads`)."""
    global _POOL
    with _POOL_LOCK:
        pid = os.getpid()
        if _POOL is None or _POOL[0] != pid or _POOL[1] < workers:
            _POOL = (pid, workers, ThreadPoolExecutor(workers, thread_name_prefix=_POOL_PREFIX))
        return _POOL[2]


# The stop flag of the :func:`in_threads` call whose item this thread works on.
_WORK = threading.local()


class Stopped(Exception):
    """The caller of :func:`in_threads` stopped waiting for this thread's item."""


def check_stopped() -> None:
    """Raise :class:`Stopped` when the caller of :func:`in_threads` has stopped waiting.

    Called by the solvers at every round, so that an error in another thread or
    Ctrl-C stops the threads within a round, not at the end of their item: the
    interpreter waits for a pool's threads before it exits, and one chunk of a
    solve at a small penalty can take tens of seconds. A no-op outside those
    threads.
    """
    stop = getattr(_WORK, "stop", None)
    if stop is not None and stop.is_set():
        raise Stopped


def in_threads(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """``[fn(item) for item in items]``, run by ``workers`` threads of this process, each
    running torch on one intra-op thread.

    For work that torch's own threads do badly: many short batched operations,
    each a parallel region that waits for all its threads at its end, so that on a
    machine busy with other work a thread that lost its core holds up every
    region. Threads that each work on their own items meet only at the end.

    Thread ``k`` takes items ``k``, ``k + workers``, ... in turn, so that at most
    ``workers`` items are in work at once whatever the size of the pool (the
    chunks of a solve share its memory budget). Called from one of these threads,
    or once the interpreter is shutting down (no new work is taken by thread
    pools then), the items run in turn in the calling thread. If the caller stops
    waiting (an error in another thread, Ctrl-C), the threads take no further
    item, and work that calls :func:`check_stopped` stops where it does.
    """
    if workers <= 1 or len(items) <= 1 or threading.current_thread().name.startswith(_POOL_PREFIX):
        return [fn(item) for item in items]
    workers = min(workers, len(items))
    # (grad and inference modes are per thread: the workers take the caller's)
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
    stop = threading.Event()

    def run(share: Sequence[Any]) -> list[Any]:
        out = []
        outer, _WORK.stop = getattr(_WORK, "stop", None), stop
        try:
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                for item in share:
                    if stop.is_set():
                        break
                    out.append(fn(item))
        finally:
            _WORK.stop = outer
        return out

    shares = [items[k::workers] for k in range(workers)]
    results: list[Any] = [None] * len(items)
    with intra_op_threads(1):
        pool = _pool(workers)
        futures = []
        try:
            for share in shares:
                try:
                    futures.append(pool.submit(run, share))
                except RuntimeError:  # (the interpreter is shutting down)
                    break
            # Shares that could not be handed to a thread run here.
            inline = [run(share) for share in shares[len(futures) :]]
            # The first error stops the other threads (not only once they finish).
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                if future.done() and (error := future.exception()) is not None:
                    raise error
            done = [future.result() for future in futures] + inline
        finally:
            stop.set()
    for k, part in enumerate(done):
        results[k::workers] = part
    return results


def dense_product(prob: Problem, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A @ B`` for the large products, with all threads on CPU."""
    with intra_op_threads(prob.threads):
        return A @ B


@dataclass(frozen=True)
class Method:
    """A solver method as the registry lists it.

    ``solve_chunk(lasso, prob, V, v64, warm, tol, max_iter)`` solves a chunk of
    rows (``V`` in the storage dtype, ``v64`` in float64, ``warm`` the float64
    warm-start weights or None) for the :class:`~sksplice.solvers.NonNegLasso`
    ``lasso`` and returns the row groups with their gaps. ``max_iter`` is the
    default budget, ``small_penalty_max_iter`` the budget below the supported
    penalty, and ``row_items`` the extra per-row memory in storage items per
    concept that the chunk sizing adds for the method.
    """

    solve_chunk: Callable[..., list[RowResult]]
    max_iter: int
    small_penalty_max_iter: int
    row_items: int = 0
