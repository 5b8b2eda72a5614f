"""Batched ADMM for the non-negative lasso, without any c x c matrix.

Splitting ``w = z`` with ``f(w) = ||D^T w - v||^2`` and
``g(z) = lam * sum(z) + indicator(z >= 0)``, the scaled ADMM iteration is::

    x  = (rho I_c + 2 D D^T)^{-1} (2 D v + rho (z - u))
    xh = alpha x + (1 - alpha) z                      # over-relaxation
    z  = max(0, xh + u - lam / rho)
    u  = u + xh - z

By the matrix inversion lemma
``(rho I_c + 2 D D^T)^{-1} q = (q - 2 D K^{-1} D^T q) / rho`` with the
d x d matrix ``K = rho I_d + 2 D^T D``, whose Cholesky factor is computed
once per (dictionary, rho) and cached by :class:`~sksplice.solvers.NonNegLasso`.
One iteration costs two (m, c) x (c, d) products for a batch of m targets.

Every ``check_every`` iterations the support of ``z`` is *polished*: the
problem is solved exactly on it (plus the strongest violators of the
optimality conditions), and the relative duality gap of the polished point
is computed over all concepts. Rows whose gap is below ``tol`` leave the
iteration. rho is adapted by residual balancing (the d x d factor is cheap
to recompute).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from ._common import Method, Problem, RowResult, check_stopped, intra_op_threads
from ._working_set import working_set_rounds

if TYPE_CHECKING:
    from ._lasso import NonNegLasso


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """Allow TF32 matrix products on CUDA inside the block (restored after)."""
    if not enabled:
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def admm_step(
    Z: torch.Tensor,
    U: torch.Tensor,
    C2r: torch.Tensor,
    VG2: torch.Tensor,
    D: torch.Tensor,
    L: torch.Tensor,
    rho: float,
    alpha: float,
    lam: float,
    *,
    use_tf32: bool = False,
    threads: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One over-relaxed, scaled ADMM iteration for a batch of rows.

    Parameters
    ----------
    Z, U : Tensor of shape (m, c)
        Current ``z`` and scaled dual ``u`` (not modified).
    C2r : Tensor of shape (m, c)
        ``2 V D^T / rho``.
    VG2 : Tensor of shape (m, d)
        ``2 V D^T D``.
    D : Tensor of shape (c, d)
        The dictionary.
    L : Tensor of shape (d, d)
        Lower Cholesky factor of ``rho I_d + 2 D^T D``.
    rho, alpha, lam : float
        Penalty parameter, over-relaxation factor and l1 penalty.
    use_tf32 : bool, default=False
        Allow TF32 in the two products (CUDA).
    threads : int, default=0
        Intra-op threads for the products (0: unchanged).

    Returns
    -------
    X, Z_new, U_new : Tensor of shape (m, c)
        ``x = (rho I_c + 2 D D^T)^{-1} (2 D v + rho (z - u))`` per row, then
        ``z = max(0, xh + u - lam / rho)`` and ``u = u + xh - z`` with
        ``xh = alpha x + (1 - alpha) z``.
    """
    with _tf32(use_tf32), intra_op_threads(threads):
        ZU = Z - U
        QD = torch.addmm(VG2, ZU, D, alpha=rho)
        Y = torch.cholesky_solve(QD.T, L).T
        # x = (2 D v + rho (z - u) - 2 D Y) / rho; ZU is not needed any more.
        X = torch.addmm(ZU.add_(C2r), Y, D.T, alpha=-2.0 / rho)
    # Few passes over the (m, c) iterates (on GPUs the iterations are bound by
    # memory traffic): T = xh + u, then u = T - z = min(T, lam / rho) and
    # z = max(0, T - lam / rho) = T - u (exactly: T - T is 0, T - lam / rho is the
    # same rounding), two passes where forming z first takes three.
    T = torch.lerp(Z, X, alpha).add_(U) if alpha != 1.0 else X + U
    U_new = T.clamp_max(lam / rho)
    return X, T.sub_(U_new), U_new


def rescale_for_rho(
    rho: float, new_rho: float, U: torch.Tensor, C2r: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The iterates that depend on rho, for a change of rho to ``new_rho``.

    The scaled dual ``u = y / rho`` keeps the dual ``y``, and ``C2r = 2 V D^T / rho``
    keeps ``2 V D^T``: both are multiplied by ``rho / new_rho``.
    """
    ratio = rho / new_rho
    return U * ratio, C2r * ratio


def admm_chunk(
    prob: Problem,
    factor: Callable[[float], torch.Tensor],
    DtD: torch.Tensor,
    V: torch.Tensor,
    v64: torch.Tensor,
    z0: torch.Tensor | None,
    *,
    tol: float,
    max_iter: int,
    rho: float,
    alpha: float = 1.6,
    check_every: int = 10,
    polish_rounds: int = 6,
    polish_size: int = 64,
    n_add: int = 16,
    adaptive_rho: bool = True,
    use_tf32: bool = False,
) -> tuple[list[RowResult], RowResult | None]:
    """Run ADMM with periodic certified polishing on one chunk of targets.

    Parameters
    ----------
    prob : Problem
        Dictionary (storage dtype and float64) and penalty.
    factor : callable
        ``factor(rho)`` returns the lower Cholesky factor of
        ``rho I_d + 2 D^T D`` (cached by the caller).
    DtD : Tensor of shape (d, d)
        ``D^T D`` in storage dtype.
    V, v64 : Tensor of shape (m, d)
        Targets in storage dtype and float64.
    z0 : Tensor of shape (m, c) or None
        Warm start (non-negative), zeros when None.
    tol : float
        Target relative duality gap.
    max_iter : int
        Maximum number of ADMM iterations.
    rho : float
        Initial penalty parameter.
    alpha : float, default=1.6
        Over-relaxation factor in (0, 2).
    check_every : int, default=10
        Iterations between polishing / certification steps (the first one
        comes after half as many).
    polish_rounds : int, default=6
        Working-set rounds allowed in the first polishing step; one more is
        allowed after every ``check_every`` iterations.
    polish_size : int, default=64
        Largest number of entries of ``z`` taken as a polishing support.
    n_add : int, default=16
        Concepts added per working-set round while polishing.
    adaptive_rho : bool, default=True
        Balance primal and dual residuals by doubling or halving rho.
    use_tf32 : bool, default=False
        Allow TF32 in the ADMM products (never in the certification).

    Returns
    -------
    done : list of RowResult
        Certified rows.
    left : RowResult or None
        Rows not certified within ``max_iter`` iterations.
    """
    D, lam = prob.D, prob.lam
    m, c = V.shape[0], D.shape[0]
    device = V.device
    rows = torch.arange(m, device=device)
    with _tf32(use_tf32), intra_op_threads(prob.threads):
        # 2 D v / rho: the constant part of the x-update, kept divided by rho.
        C2r = (V @ D.T).mul_(2.0 / rho)
        VG2 = 2.0 * (V @ DtD)
    Z = torch.zeros((m, c), dtype=D.dtype, device=device) if z0 is None else z0.to(D.dtype)
    U = torch.zeros_like(Z)
    L = factor(rho)
    done: list[RowResult] = []
    k_pol = min(polish_size, c)
    first_check = max(1, check_every // 2)
    it = 0
    while True:
        it += 1
        X, Z_new, U = admm_step(
            Z, U, C2r, VG2, D, L, rho, alpha, lam, use_tf32=use_tf32, threads=prob.threads
        )
        check = it % check_every == 0 or it == first_check or it >= max_iter
        if check:
            check_stopped()
        if check and adaptive_rho:
            # Residual balancing: +1 doubles rho (primal residual more than 10 times the
            # dual one), -1 halves it, 0 keeps it; read once, after the polish.
            # (r / s with the dual residual s = rho ||z_new - z||.)
            ratio = torch.linalg.vector_norm(X - Z_new) / torch.linalg.vector_norm(Z_new - Z)
            rho_move = (ratio > 10.0 * rho).to(torch.int8) - (ratio < 0.1 * rho).to(torch.int8)
        Z = Z_new
        if not check:
            continue
        # Polish the current support and certify it.
        vals, idx = Z.topk(k_pol, dim=1)
        valid = vals > 0
        ncols = max(1, int(valid.sum(dim=1).max()))
        idx, valid = idx[:, :ncols], valid[:, :ncols]
        w0 = vals[:, :ncols].to(torch.float64) * valid
        last = it >= max_iter
        # Later polishing steps may grow the sets further.
        max_rounds = polish_rounds + it // check_every
        pol_done, pol_left = working_set_rounds(
            prob,
            V,
            v64,
            idx,
            valid,
            w0,
            tol=tol,
            max_rounds=max_rounds,
            n_add=n_add,
            iter_offset=it,
        )
        # Certified rows leave. In storage precisions other than float64 so do the
        # rows the polish could not improve (no violator left, or the violators do
        # not enter the small problem set up in that precision), which it finishes
        # before its last round: more iterations cannot fix round-off, and the
        # front end solves them again in float64. Rows that only ran out of
        # polishing rounds go on (a new support from ADMM and more rounds next time),
        # up to the third polishing step, which gives up on every row.
        low_precision = D.dtype != torch.float64
        give_up = last or (low_precision and it >= 2 * check_every)
        finished = torch.zeros(V.shape[0], dtype=torch.bool, device=device)
        for res in pol_done:
            accept = res.gap <= tol
            if give_up:
                accept = torch.ones_like(accept)
            elif low_precision:
                accept |= res.n_iter < it + max_rounds
            sel = accept.nonzero().flatten()
            if sel.numel():
                finished[res.rows[sel]] = True
                done.append(
                    RowResult(
                        rows=rows[res.rows[sel]],
                        idx=res.idx[sel],
                        w=res.w[sel],
                        gap=res.gap[sel],
                        n_iter=res.n_iter[sel],
                    )
                )
        if last:
            left = None
            if pol_left is not None:
                left = RowResult(
                    rows=rows[pol_left.rows],
                    idx=pol_left.idx,
                    w=pol_left.w,
                    gap=pol_left.gap,
                    n_iter=pol_left.n_iter,
                )
            return done, left
        keep = (~finished).nonzero().flatten()
        if keep.numel() == 0:
            return done, None
        if keep.numel() < V.shape[0]:
            rows, V, v64 = rows[keep], V[keep], v64[keep]
            C2r, VG2, Z, U = C2r[keep], VG2[keep], Z[keep], U[keep]
        move = int(rho_move) if adaptive_rho else 0
        if move:
            new_rho = rho * 2.0 if move > 0 else rho * 0.5
            U, C2r = rescale_for_rho(rho, new_rho, U, C2r)
            rho, L = new_rho, factor(new_rho)


def solve_chunk(
    lasso: NonNegLasso,
    prob: Problem,
    V: torch.Tensor,
    v64: torch.Tensor,
    warm: torch.Tensor | None,
    tol: float,
    max_iter: int,
) -> list[RowResult]:
    """Solve a chunk of rows by ADMM with ``lasso``'s cached factors (see ``Method``)."""
    c, d = lasso.n_concepts, lasso.n_features
    rho = max(1e-3, 2.0 * c / d) * 0.5
    done, left = admm_chunk(
        prob,
        lasso._factor,
        lasso._gram_d,
        V,
        v64,
        warm,
        tol=tol,
        max_iter=max_iter,
        rho=rho,
        use_tf32=lasso.device.type == "cuda" and lasso.dtype == torch.float32,
    )
    if left is not None:
        done.append(left)
    return done


METHOD = Method(solve_chunk=solve_chunk, max_iter=1000, small_penalty_max_iter=100, row_items=7)
