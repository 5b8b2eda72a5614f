"""Exact batched solvers of the small non-negative lasso problems.

Both methods certify their answers on small working sets of concepts: the
problems restricted to those sets are solved exactly here, on batched dense
Gram matrices in float64 (:func:`solve_small`, with the Lawson-Hanson method
as its fallback), and the weights on their support are refined with exact
float64 residuals before a duality gap is computed (:func:`refine_support`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch

from ._common import in_threads

_INF = float("inf")

# A batch of small problems at least this wide (concepts per row) is split into parts
# of at least this many rows, one per worker thread (see ``_in_parts``). Narrower ones
# are mostly per-call overhead: split, the path of 5 penalties on 1,000 LAION
# captions (sets of up to about 100 concepts) took 2.25 s instead of 2.01 s.
_PART_MIN_WIDTH = 128
_PART_MIN_ROWS = 32
# Scale of the ridge of a concept of norm zero (its ridges stay normal numbers).
_TINY_SCALE = 1e-280


def _in_parts(fn: Callable[[slice], Any], m: int, workers: int, width: int) -> Any:
    """``fn(slice(0, m))``, computed as ``workers`` slices of rows in threads of this
    process, each running torch on one intra-op thread, and concatenated (each
    tensor of them, where ``fn`` returns a tuple); in one piece when the batch is
    narrower than ``_PART_MIN_WIDTH`` (``width`` concepts per row).

    A batch of small problems is many short operations (a factorisation, a solve
    and a product per step). With torch's own threads each of them is a parallel
    region that waits for all its threads at the end: on 2 cores shared with one
    other busy process, :func:`solve_small` on 334 problems of 200 concepts took
    9.0 s instead of 0.63 s, as a thread that lost its core held up every region.
    Threads that work on their own rows meet once, at the end: 0.78 s there, and
    0.52 s against 0.63 s on an idle machine.
    """
    n_parts = min(workers, m // _PART_MIN_ROWS) if width >= _PART_MIN_WIDTH else 1
    if n_parts <= 1:
        return fn(slice(0, m))
    bounds = [m * k // n_parts for k in range(n_parts + 1)]
    outs = in_threads(fn, [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)], n_parts)
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(each) for each in zip(*outs))
    return torch.cat(outs)


def _ridge(G: torch.Tensor, P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The small ridge of the set solves, ``1e-13 * scale``, and the scale.

    ``scale`` holds each concept's own diagonal entry of ``G`` (its squared
    norm; 1 outside ``P``), so that the ridge is the same relative change for
    every concept: a ridge scaled by the largest entry of the row swamped the
    concepts of small norm beside large ones (norms 1e-3 beside 500), and an
    absolute floor swamped a dictionary of small norms (a concept of norm 1e-7:
    weights off by 75%). Forming it once lets every solve on a subset of ``P``
    reuse it.
    """
    diag = G.diagonal(dim1=1, dim2=2)
    scale = torch.where(P, diag, 1.0).clamp_min_(_TINY_SCALE)
    return 1e-13 * scale, scale


def _set_solve(
    G: torch.Tensor, ridge: torch.Tensor, h: torch.Tensor, P: torch.Tensor, eye: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unchecked ``(G + ridge I)[P, P] z[P] = h[P]`` per row, ``z = 0`` outside ``P``.

    The system is ``G`` plus the ridge on ``P x P`` and the identity elsewhere,
    with a right-hand side that is zero outside ``P``, so ``z`` is exactly zero
    there. Returns ``z`` and the Cholesky status per row (non-zero: the
    factorisation failed).
    """
    A = torch.where(P.unsqueeze(2) & P.unsqueeze(1), G, eye)
    A.diagonal(dim1=1, dim2=2).add_(ridge * P)
    L, info = torch.linalg.cholesky_ex(A)
    rhs = (h * P).unsqueeze(-1)
    if _triangular_solves(L.device):
        y = torch.linalg.solve_triangular(L, rhs, upper=False)
        z = torch.linalg.solve_triangular(L.mT, y, upper=True).squeeze(-1)
    else:
        z = torch.cholesky_solve(rhs, L).squeeze(-1)
    return z, info


def _triangular_solves(device: torch.device) -> bool:
    """Whether the set solves use two triangular solves rather than ``cholesky_solve``.

    On CPU, torch's batched ``cholesky_solve`` of one right-hand side is several
    times slower than the two triangular solves it stands for (30 systems of 350
    concepts: 8.0 ms against 1.4 ms); the same weights came out. Transforms of 1,000
    LAION captions at l1 0.15 took 0.87 s instead of 0.95 s, 60 at l1 0.01 6.23 s
    instead of 7.44 s. On a GPU, where every operation is a kernel launch, it stays
    one call (not measured there).
    """
    return device.type == "cpu"


def _lstsq_rows(
    G: torch.Tensor, h: torch.Tensor, P: torch.Tensor, scale: torch.Tensor, bad: torch.Tensor
) -> torch.Tensor:
    """The set solves of the rows ``bad`` (indices) by regularised least squares.

    For nearly dependent concepts, whose Cholesky factorisation failed.
    """
    Gb, Pb = G[bad], P[bad]
    Pf = Pb.to(Gb.dtype)
    A = Gb * (Pf.unsqueeze(2) * Pf.unsqueeze(1))
    sb = scale[bad]
    A.diagonal(dim1=1, dim2=2).add_(torch.where(Pb, 1e-9 * sb + 1e-13 * sb, 1.0))
    rhs = (h[bad] * Pf).unsqueeze(-1)
    return torch.linalg.lstsq(A, rhs).solution.squeeze(-1).mul_(Pf)


def _masked_solve(G: torch.Tensor, h: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """Solve ``G[P, P] z[P] = h[P]`` per row, with ``z = 0`` outside ``P``."""
    ridge, scale = _ridge(G, P)
    eye = torch.eye(G.shape[-1], dtype=torch.bool, device=G.device)
    z, info = _set_solve(G, ridge, h, P, eye)
    bad = (info != 0).nonzero().flatten()
    if bad.numel():
        # Nearly dependent concepts: regularise a little more, then least squares.
        z[bad] = _lstsq_rows(G, h, P, scale, bad)
    return z


def _quad(G: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``w^T G w - 2 h^T w`` per row."""
    return ((G @ w.unsqueeze(-1)).squeeze(-1) * w).sum(1) - 2.0 * (h * w).sum(1)


# Rows of a batch of small problems are solved in groups of similar size (each
# group as wide as its largest set rather than the whole batch) when the batch
# is at least this wide and grouping saves a third of the factorisation work.
_GROUP_MIN_WIDTH = 32
_GROUPS = 4


def row_groups(
    counts: torch.Tensor, width: int, batch_width: int | None = None
) -> list[tuple[torch.Tensor, int]] | None:
    """Rows in groups of similar ``counts`` (set sizes) and each group's width.

    ``width`` bounds the counts. Returns None when one batch as wide as
    ``batch_width`` (default: the largest count) is about as cheap: the batch
    is narrow, has few rows, or the sizes are alike (the work of the
    factorisations, ``rows * width**3``, would drop by less than a third). Costs
    one host synchronisation when the batch is wide enough to consider.
    """
    m = counts.numel()
    if width < _GROUP_MIN_WIDTH or m < 2 * _GROUPS:
        return None
    sorted_counts, order = counts.sort()
    bounds = [m * g // _GROUPS for g in range(_GROUPS + 1)]
    ends = torch.tensor(bounds[1:], device=counts.device) - 1
    widths = [max(1, int(x)) for x in sorted_counts[ends].tolist()]
    full = widths[-1] if batch_width is None else batch_width
    work = sum((hi - lo) * wd**3 for lo, hi, wd in zip(bounds, bounds[1:], widths))
    if full < _GROUP_MIN_WIDTH or 3 * work > 2 * m * full**3:
        return None
    return [(order[lo:hi], wd) for lo, hi, wd in zip(bounds, bounds[1:], widths)]


def take_columns(t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``t[rows]`` with its columns (and, for ``(m, K, K)``, rows too) ``cols`` per row."""
    t = t.index_select(0, rows)
    if t.ndim == 2:
        return t.gather(1, cols)
    k = cols.shape[1]
    t = t.gather(1, cols.unsqueeze(2).expand(-1, -1, t.shape[2]))
    return t.gather(2, cols.unsqueeze(1).expand(-1, k, -1))


def solve_small(
    G: torch.Tensor,
    b: torch.Tensor,
    lam: float | torch.Tensor,
    valid: torch.Tensor,
    w0: torch.Tensor | None = None,
    max_pdas: int = 12,
    group: bool = False,
    workers: int = 1,
) -> torch.Tensor:
    """Exact batched non-negative lasso on small dense Gram matrices.

    Minimises ``w^T G w - 2 b^T w + lam * sum(w)`` over ``w >= 0`` for each
    row independently. A primal-dual active-set (semismooth Newton) method
    settles most rows in a handful of steps; rows it has not settled after
    ``max_pdas`` steps finish with the Lawson-Hanson method, which always
    terminates.

    Each step works on a batch of fixed shape: a settled row stays in it (its
    set no longer changes, so neither does its solution) and the batch is
    compacted only once at most half of its rows are still moving. A step costs
    one host synchronisation (the count of moving rows, read together with any
    failed factorisation), which also sizes the compaction.

    Parameters
    ----------
    G : Tensor of shape (m, K, K), float64
        Gram matrices of the working sets.
    b : Tensor of shape (m, K), float64
        Correlations of the targets with the working-set concepts.
    lam : float
        The l1 penalty.
    valid : Tensor of shape (m, K), bool
        False on padding slots, which are held at zero.
    w0 : Tensor of shape (m, K), optional
        Non-negative starting point (zeros by default).
    max_pdas : int, default=12
        Primal-dual active-set steps before the fallback.
    group : bool, default=False
        Solve rows whose sets differ much in size in groups of similar size
        (see :func:`row_groups`), the valid slots of each row moved to the
        front: less work for more operations.
    workers : int, default=1
        Threads of this process that share the rows (each running torch on one
        intra-op thread, see :func:`_in_parts`); on CPU.

    Returns
    -------
    Tensor of shape (m, K), float64
        The minimisers (exact up to round-off).

    Notes
    -----
    ``lam`` may also be a float64 tensor of shape (m, 1): one penalty per row
    (rows of a path of penalties solved in one batch).
    """
    m, K = b.shape
    if m == 0 or K == 0:
        return torch.zeros_like(b)
    groups = row_groups(valid.sum(dim=1), K, K) if group else None
    if groups is None:
        return _solve_parts(G, b, lam, valid, w0, max_pdas, workers)
    # Each row's valid slots first, then each group cut to its own width.
    front = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
    w = torch.zeros_like(b)
    for rows, width in groups:
        cols = front.index_select(0, rows)[:, :width]
        w0_g = None if w0 is None else take_columns(w0, rows, cols)
        w_g = _solve_parts(
            take_columns(G, rows, cols),
            take_columns(b, rows, cols),
            _rows(lam, rows),
            take_columns(valid, rows, cols),
            w0_g,
            max_pdas,
            workers,
        )
        w[rows.unsqueeze(1), cols] = w_g
    return w


def _solve_parts(
    G: torch.Tensor,
    b: torch.Tensor,
    lam: float | torch.Tensor,
    valid: torch.Tensor,
    w0: torch.Tensor | None,
    max_pdas: int,
    workers: int,
) -> torch.Tensor:
    """:func:`_solve_batch`, its rows shared by ``workers`` threads (see :func:`_in_parts`)."""

    def part(rows: slice) -> torch.Tensor:
        return _solve_batch(
            G[rows],
            b[rows],
            _rows(lam, rows),
            valid[rows],
            None if w0 is None else w0[rows],
            max_pdas,
        )

    m, K = b.shape
    return _in_parts(part, m, workers, K)


def _solve_batch(
    G: torch.Tensor,
    b: torch.Tensor,
    lam: float | torch.Tensor,
    valid: torch.Tensor,
    w0: torch.Tensor | None,
    max_pdas: int,
) -> torch.Tensor:
    """:func:`solve_small` on one batch of the full width."""
    m, K = b.shape
    h = b - lam / 2.0
    tol_in = h.abs().amax(dim=1, keepdim=True).add_(lam).mul_(1e-11)
    w = torch.zeros_like(b) if w0 is None else (w0.clamp_min(0.0) * valid).to(b.dtype)
    # Ridge and identity of the set solves, formed once for all steps.
    ridge, scale = _ridge(G, valid)
    eye = torch.eye(K, dtype=b.dtype, device=b.device)
    # Entering threshold per slot (infinite on padding, which never enters).
    thr = torch.where(valid, tol_in, _INF)
    grad = torch.baddbmm(h.unsqueeze(-1), G, w.unsqueeze(-1), beta=-1.0).squeeze(-1)
    free = (w - grad) > thr
    # The batch: all rows until it is compacted (``act`` then maps it to ``w``).
    act: torch.Tensor | None = None
    Gb, rb, hb, tb = G, ridge, h, thr
    moving: torch.Tensor | None = None  # None: every row of the batch
    # The free set of each row's previous step, and whether its factorisation
    # failed. The next free set depends only on the current one, so a row whose
    # next set is its previous one alternates between the two for ever. Nearly
    # dependent concepts do that: two concepts of almost the same direction in
    # the set make its factorisation fail, and the weights of the set without
    # one of them leave it a violation at the round-off of the Gram block. Such a
    # row stops at that set, whose factorisation succeeded with non-negative
    # weights. (Each went to the Lawson-Hanson method, which cycled there too
    # until its iterations ran out: 0.5 to 0.8 s per row, 2 of 1,000 LAION
    # captions at l1 0.15.) A cycle between two sets that both factorise goes
    # to the Lawson-Hanson method as before. The check runs only after a step
    # in which a factorisation failed (known on the host): no operations, which
    # are kernel launches on a GPU, are added otherwise.
    before = free
    failed_before: torch.Tensor | None = None
    for _ in range(max_pdas):
        z, info = _set_solve(Gb, rb, hb, free, eye)
        grad = torch.baddbmm(hb.unsqueeze(-1), Gb, z.unsqueeze(-1), beta=-1.0).squeeze(-1)
        new_free = (z - grad) > tb
        moving = ((new_free != free) | (z < 0)).any(dim=1)
        cycling = None
        if failed_before is not None:
            settled = (info == 0) & ~(z < 0).any(dim=1)
            cycling = moving & settled & failed_before & (new_free == before).all(dim=1)
        n = hb.shape[0]
        # One synchronisation: moving rows plus (n + 1) times the failed factorisations.
        code = int(moving.sum().add_(torch.count_nonzero(info), alpha=n + 1))
        failed_before = None
        if code > n:
            # Nearly dependent concepts: least squares for those rows, then redo the tests.
            failed_before = info != 0
            bad = failed_before.nonzero().flatten()
            sb = scale if act is None else scale[act]
            z[bad] = _lstsq_rows(Gb, hb, free, sb, bad)
            grad = torch.baddbmm(hb.unsqueeze(-1), Gb, z.unsqueeze(-1), beta=-1.0).squeeze(-1)
            new_free = (z - grad) > tb
            moving = ((new_free != free) | (z < 0)).any(dim=1)
        if cycling is not None:
            # A stopped row keeps its set (it is solved again while the batch lasts).
            moving &= ~cycling
            new_free = torch.where(cycling.unsqueeze(1), free, new_free)
        if code > n or cycling is not None:
            code = int(moving.sum())
        if act is None:
            w = z
        else:
            w[act] = z
        if code == 0:
            return w
        before, free = free, new_free
        if 2 * code <= n:
            # The count is known: no second synchronisation for the indices.
            keep = torch.nonzero_static(moving, size=code).flatten()
            act = keep if act is None else act[keep]
            Gb, rb, hb, tb, free = Gb[keep], rb[keep], hb[keep], tb[keep], free[keep]
            if failed_before is not None:
                before, failed_before = before[keep], failed_before[keep]
            moving = None
    rest = torch.arange(m, device=b.device) if moving is None else moving.nonzero().flatten()
    if act is not None:
        rest = act if moving is None else act[rest]
    w[rest] = _lawson_hanson(G[rest], b[rest], _rows(lam, rest), valid[rest], w0=None)
    return w


def _rows(lam: float | torch.Tensor, rows: torch.Tensor | slice) -> float | torch.Tensor:
    """The penalties of the rows ``rows``: one for all, or one per row."""
    return lam[rows] if isinstance(lam, torch.Tensor) else lam


def _lawson_hanson(
    G: torch.Tensor,
    b: torch.Tensor,
    lam: float | torch.Tensor,
    valid: torch.Tensor,
    w0: torch.Tensor | None = None,
    max_iter: int | None = None,
) -> torch.Tensor:
    """Batched Lawson-Hanson active-set method for the small problems.

    Same problem as :func:`solve_small`. All violating coordinates enter
    the passive set at once; a row that makes no progress falls back to the
    classical one-at-a-time rule, which cannot cycle. Only the rows that
    still change take part in each step.

    Parameters
    ----------
    G : Tensor of shape (m, K, K), float64
        Gram matrices of the working sets.
    b : Tensor of shape (m, K), float64
        Correlations of the targets with the working-set concepts.
    lam : float
        The l1 penalty.
    valid : Tensor of shape (m, K), bool
        False on padding slots, which are held at zero.
    w0 : Tensor of shape (m, K), optional
        Non-negative starting point (zeros by default).
    max_iter : int, optional
        Maximum number of outer iterations (default ``3 K + 20``).

    Returns
    -------
    Tensor of shape (m, K), float64
        The minimisers (exact up to round-off when the loop finishes).
    """
    m, K = b.shape
    if m == 0 or K == 0:
        return torch.zeros_like(b)
    device = b.device
    h = b - lam / 2.0
    tol_in = 1e-11 * (h.abs().amax(dim=1, keepdim=True) + lam)
    if max_iter is None:
        max_iter = 3 * K + 20
    w = torch.zeros_like(b) if w0 is None else (w0.clamp_min(0.0) * valid).to(b.dtype)
    P = w > 0
    single = torch.zeros(m, dtype=torch.bool, device=device)
    act = torch.arange(m, device=device)
    # First pass: make a warm start optimal on its own support.
    rows = P.any(dim=1).nonzero().flatten()
    for it in range(max_iter + 1):
        if it > 0:
            Ga, wa = G[act], w[act]
            grad = (Ga @ wa.unsqueeze(-1)).squeeze(-1) - h[act]
            viol = ~P[act] & valid[act] & (grad < -tol_in[act])
            has = viol.any(dim=1)
            act, viol, grad = act[has], viol[has], grad[has]
            if act.numel() == 0:
                break
            one_mode = single[act]
            if bool(one_mode.any()):
                gv = torch.where(viol, grad, torch.full_like(grad, _INF))
                best = torch.zeros_like(viol)
                best.scatter_(1, gv.argmin(dim=1, keepdim=True), True)
                viol = torch.where(one_mode[:, None], viol & best, viol)
            P[act] = P[act] | viol
            rows = act
        if rows.numel() == 0:
            continue
        f_before = _quad(G[rows], h[rows], w[rows])
        cur = rows
        for _ in range(K + 2):
            Gc, hc, Pc, wc = G[cur], h[cur], P[cur], w[cur]
            z = _masked_solve(Gc, hc, Pc)
            neg = Pc & (z <= 0)
            bad = neg.any(dim=1)
            good = ~bad
            if bool(good.any()):
                w[cur[good]] = z[good]
            if not bool(bad.any()):
                break
            wb, zb, nb, Pb = wc[bad], z[bad], neg[bad], Pc[bad]
            ratio = torch.where(nb, wb / torch.where(nb, wb - zb, 1.0), _INF)
            alpha = ratio.amin(dim=1, keepdim=True).clamp(0.0, 1.0)
            wb = (wb + alpha * (zb - wb)).clamp_min_(0.0)
            # The coordinates that limited the step leave the passive set.
            limit = 1e-15 * wb.amax(dim=1, keepdim=True).clamp_min(1.0)
            Pb = Pb & ~(nb & (wb <= limit))
            cur = cur[bad]
            w[cur] = wb * Pb
            P[cur] = Pb
        if it > 0:
            f_after = _quad(G[rows], h[rows], w[rows])
            stalled = f_after >= f_before - 1e-15 * f_before.abs()
            single[rows] = single[rows] | stalled
        P[rows] = P[rows] & (w[rows] > 0)
    return w


def refine_support_parts(
    D64: torch.Tensor,
    v64: torch.Tensor,
    idx: torch.Tensor,
    w: torch.Tensor,
    lam: torch.Tensor,
    gram: torch.Tensor,
    workers: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`refine_support` (``lam`` one per row, of shape (m, 1)), its rows shared by
    ``workers`` threads when the supports are wide (see :func:`_in_parts`)."""

    def part(rows: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return refine_support(D64, v64[rows], idx[rows], w[rows], lam[rows], gram=gram[rows])

    m, k = w.shape
    return _in_parts(part, m, workers, k)


def refine_support(
    D64: torch.Tensor,
    v64: torch.Tensor,
    idx: torch.Tensor,
    w: torch.Tensor,
    lam: float | torch.Tensor,
    steps: int = 2,
    gram: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Newton refinement in float64 of the weights on their support.

    The small problems are set up from products in storage precision; the
    relative duality gap is first order in the error of ``w``, so the
    stationarity conditions ``2 D_S r = lam`` on the support are corrected
    with exact float64 residuals. ``gram``, the Gram blocks of ``idx`` when
    known (from products in storage precision, or in float64 for wide working
    sets), serves as the Newton matrix (the residuals, which decide the result,
    stay exact); otherwise it is formed in float64.
    ``lam`` is one penalty or a float64 tensor of shape (m, 1), one per row.
    Returns the residual, the weights and the correlations ``(D r)_j`` of the
    concepts ``idx`` with that residual (in float64, for the certificate).

    The steps run without host synchronisation; a failed factorisation in any of
    them (checked once at the end) repeats the refinement with checked solves.
    """
    DS = D64[idx]
    r64 = v64 - torch.einsum("mk,mkd->md", w, DS)
    S = w > 0
    G = DS @ DS.transpose(1, 2) if gram is None else gram.to(torch.float64)
    ridge, _ = _ridge(G, S)
    eye = torch.eye(G.shape[-1], dtype=G.dtype, device=G.device)
    w_in, r_in, failed = w, r64, None
    if isinstance(lam, torch.Tensor):
        half_lam = lam.mul(-0.5).expand_as(w).unsqueeze(-1)
    else:
        half_lam = torch.full_like(w, -lam / 2.0).unsqueeze(-1)
    for _ in range(steps):
        # e = D_S r - lam / 2 and r -= D_S^T (w_new - w), one batched product each.
        e = torch.baddbmm(half_lam, DS, r64.unsqueeze(-1)).squeeze(-1)
        delta, info = _set_solve(G, ridge, e, S, eye)
        failed = info if failed is None else failed.bitwise_or_(info)
        w_new = (w + delta).clamp_min_(0.0).mul_(S)
        r64 = torch.baddbmm(r64.unsqueeze(1), (w - w_new).unsqueeze(1), DS).squeeze(1)
        w = w_new
        S = w > 0
    if failed is not None and bool(failed.any()):
        w, r64, S = w_in, r_in, w_in > 0
        for _ in range(steps):
            e = torch.einsum("mkd,md->mk", DS, r64).sub_(lam / 2.0)
            w_new = (w + _masked_solve(G, e, S)).clamp_min_(0.0).mul_(S)
            r64 = r64 - torch.einsum("mk,mkd->md", w_new - w, DS)
            w = w_new
            S = w > 0
    return r64, w, torch.bmm(DS, r64.unsqueeze(-1)).squeeze(-1)
