"""Batched working-set solver.

Every row ``v`` of a batch gets its own small set of candidate concepts
(the *working set*). On that set the non-negative lasso is solved exactly by
a batched active-set method on the small Gram matrix (in float64, see
:mod:`._small`). The optimality of the result over *all* concepts is then
checked with one dense product of the residuals against the dictionary, which
also yields the relative duality gap (see :mod:`._common`); concepts that
violate the optimality conditions join the working set and the process
repeats until the gap is below ``tol``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from ._common import (
    Method,
    Problem,
    RowResult,
    binding_max,
    check_stopped,
    dense_product,
    gap_from_cmax,
)
from ._small import (
    _INF,
    _PART_MIN_WIDTH,
    refine_support_parts,
    row_groups,
    solve_small,
    take_columns,
)

if TYPE_CHECKING:
    from ._lasso import NonNegLasso

# Relative violation above which a row is clearly not optimal yet.
_CLEAR = 1e-4
# Below this many rows a product with the dictionary, and the batched operations
# of a working-set round, run on one thread: starting the threads costs more
# than they save (on 2 shared cores, 13 rows x 10,000 concepts x 384 took 2 ms
# on one thread and 32 ms on two). From this many rows on, a round uses every
# thread torch has (on 2 idle cores, 1,000 LAION captions at l1 0.15 took
# 1.23 s instead of 1.54 s).
_THREADED_ROWS = 128
# The batch is compacted to its unfinished rows once at least this fraction of
# it has finished. Compacting moves the set data of every kept row (rows x set
# size x d values), which cost as much as hundreds of rounds of an idle row;
# compacting for every few rows that finished took about 5% of a path's time.
_COMPACT = 0.125
# Working sets wider than this fraction of the dimension d keep their rows of D
# in float64 (see ``_Sets``).
_EXACT_WIDTH = 0.5
# A penalty below this fraction of the penalty that zeroes a chunk's solutions
# (the median over its rows of ``2 max_j (D v)_j``) is reached along a path of
# penalties, each at most ``_CONTINUE_STEP`` times the next (see ``_continuation``).
_CONTINUE = 3e-3
_CONTINUE_STEP = 10.0
# The certificate recomputes in float64 the correlations of this many of a row's
# strongest concepts outside its working set (see ``_certify``).
_EXACT_CANDIDATES = 8


def _product(prob: Problem, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A @ B`` for a product with the dictionary, threaded when ``A`` has many rows."""
    return dense_product(prob, A, B) if A.shape[0] >= _THREADED_ROWS else A @ B


def _support_order(w: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Column order putting each row's non-zero weights first (width ``k``, default the
    largest support)."""
    nz = w > 0
    if k is None:
        k = max(1, int(nz.sum(dim=1).max()))
    return torch.argsort((~nz).to(torch.int8), dim=1, stable=True)[:, :k]


class _Sets:
    """Working sets of a group of rows, in buffers of a fixed column capacity.

    Columns ``0:width`` are in use; a slot whose concept left the support is
    reused by the next violator, so each round writes only the new concepts
    (their rows of ``D``, correlations with the targets, and Gram rows and
    columns) in place. The buffers are copied only when the capacity runs out
    (it doubles); when finished rows leave, the kept rows move to the front of
    the same buffers.

    The Gram blocks are float64. With a dictionary stored in float32 they are
    products of its float32 rows, off by about 1e-7: harmless for small sets,
    but the block of a set of about d concepts or more is singular or nearly
    so, and rounding makes it indefinite; the small solves then fail their
    factorisations and cycle (a set of 80 concepts in 64 dimensions: its
    smallest eigenvalue came out as -1.5e-7, and a round took about 100 times
    as long as in float64). So once the sets grow wider than ``_EXACT_WIDTH``
    times d, the rows of D, the Gram blocks and the correlations with the
    targets are formed again from the float64 dictionary, and the new
    concepts' too from then on (``exact``).
    """

    def __init__(
        self,
        prob: Problem,
        V: torch.Tensor,
        v64: torch.Tensor,
        idx: torch.Tensor,
        valid: torch.Tensor,
        w: torch.Tensor,
        capacity: int,
    ) -> None:
        m, K = idx.shape
        d = prob.D.shape[1]
        self.exact = prob.D.dtype == torch.float64 or K / d > _EXACT_WIDTH
        D = prob.D64 if self.exact else prob.D
        self.cap = max(capacity, K)
        self.width = K
        dev = D.device
        # The used columns are written below; only the free ones are cleared.
        self.DW = torch.empty((m, self.cap, d), dtype=D.dtype, device=dev)
        self.DW[:, K:].zero_()
        # The Gram blocks and correlations are kept in float64, the precision of the
        # small solves (converting the whole block every round cost more than its
        # new columns).
        self.G = torch.empty((m, self.cap, self.cap), dtype=torch.float64, device=dev)
        self.G[:, K:].zero_()
        self.G[:, :K, K:].zero_()
        self.b = torch.zeros((m, self.cap), dtype=torch.float64, device=dev)
        self.idx = torch.zeros((m, self.cap), dtype=torch.int64, device=dev)
        self.valid = torch.zeros((m, self.cap), dtype=torch.bool, device=dev)
        self.w = torch.zeros((m, self.cap), dtype=torch.float64, device=dev)
        # Valid columns added by the last round (a new violator that takes no
        # weight means the round could not make progress).
        self.new = torch.zeros((m, self.cap), dtype=torch.bool, device=dev)
        self.idx[:, :K] = idx
        self.valid[:, :K] = valid
        self.w[:, :K] = w
        self._fill(D, v64 if self.exact else V)

    def _fill(self, D: torch.Tensor, V: torch.Tensor) -> None:
        """Rows of ``D``, Gram blocks and correlations with ``V`` of the used columns."""
        m, K = self.idx.shape[0], self.width
        DW = self.DW[:, :K]
        DW.copy_(D.index_select(0, self.idx[:, :K].flatten()).view(m, K, -1))
        # (A product into a strided ``out=`` view is many times slower on CPU.)
        self.G[:, :K, :K] = DW @ DW.transpose(1, 2)
        # (Row vector times matrix: many times faster than the matrix-vector form on CPU.)
        self.b[:, :K] = (V.unsqueeze(1) @ DW.transpose(1, 2)).squeeze(1)

    def make_exact(self, prob: Problem, v64: torch.Tensor) -> None:
        """Form the rows of ``D``, Gram blocks and correlations again in float64."""
        if self.exact:
            return
        self.exact = True
        self.DW = torch.zeros(self.DW.shape, dtype=torch.float64, device=self.DW.device)
        self._fill(prob.D64, v64)

    def residuals(self, V: torch.Tensor, v64: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``V - w DW`` in the storage dtype of ``V`` (formed in float64 when exact)."""
        K = w.shape[1]
        if self.exact:
            return (v64 - (w.unsqueeze(1) @ self.DW[:, :K]).squeeze(1)).to(V.dtype)
        return V - (w.to(V.dtype).unsqueeze(1) @ self.DW[:, :K]).squeeze(1)

    def resize(self, keep: torch.Tensor | None, cap: int) -> None:
        """Copy the used columns of the rows ``keep`` (None: all) to buffers of ``cap`` columns."""
        K = self.width
        if keep is not None and cap <= self.cap:
            # Fewer rows: move the kept rows' used columns to the front in place.
            # The free columns keep finite values of earlier concepts, which are
            # invalid slots with zero weight, so nothing is cleared or allocated.
            n = keep.numel()
            for name in ("DW", "G", "b", "idx", "valid", "w", "new"):
                t = getattr(self, name)
                t[:n, :K] = t[:, :K].index_select(0, keep)
                setattr(self, name, t[:n])
            return

        def take(t: torch.Tensor, square: bool = False) -> torch.Tensor:
            part = t[:, :K, :K] if square else t[:, :K]
            if keep is not None:
                part = part.index_select(0, keep)
            shape = (part.shape[0], cap, cap) if square else (part.shape[0], cap, *t.shape[2:])
            # Only the free columns are cleared (the used ones are overwritten).
            out = torch.empty(shape, dtype=t.dtype, device=t.device)
            if square:
                out[:, :K, :K] = part
                out[:, K:].zero_()
                out[:, :K, K:].zero_()
            else:
                out[:, :K] = part
                out[:, K:].zero_()
            return out

        self.DW, self.G = take(self.DW), take(self.G, square=True)
        self.b, self.idx, self.valid = take(self.b), take(self.idx), take(self.valid)
        self.w, self.new = take(self.w), take(self.new)
        self.cap = cap

    def add(
        self,
        prob: Problem,
        V: torch.Tensor,
        v64: torch.Tensor,
        cand: torch.Tensor,
        ok: torch.Tensor,
    ) -> None:
        """Drop the concepts without weight and put ``cand`` (valid where ``ok``) in free slots."""
        K = self.width
        m, n_new = cand.shape
        occupied = self.w[:, :K] > 0
        n_free = K - occupied.sum(dim=1)
        width = K + max(0, n_new - int(n_free.min()))
        if width > self.cap:
            self.resize(None, max(width, 2 * self.cap))
        if width / self.DW.shape[2] > _EXACT_WIDTH:
            self.make_exact(prob, v64)
        self.width = width
        occ = torch.zeros((m, width), dtype=torch.bool, device=cand.device)
        occ[:, :K] = occupied
        slots = torch.argsort(occ.to(torch.int8), dim=1, stable=True)[:, :n_new]
        rows = torch.arange(m, device=cand.device).unsqueeze(1).expand(-1, n_new)
        self.valid[:, :width] = occ
        self.w[:, :width] *= occ
        self.valid[rows, slots] = ok
        self.idx[rows, slots] = cand
        self.new[:, :width] = False
        self.new[rows, slots] = ok
        # (index_select: several times faster than advanced indexing on CPU.)
        D, T = (prob.D64, v64) if self.exact else (prob.D, V)
        D_new = D.index_select(0, cand.flatten()).view(m, n_new, -1)
        self.DW[rows, slots] = D_new
        self.b[rows, slots] = (T.unsqueeze(1) @ D_new.transpose(1, 2)).squeeze(1).to(torch.float64)
        # Rows and columns of the Gram block for the new slots (the new-new
        # block included, as the new rows of DW are already in place).
        cross = (D_new @ self.DW[:, :width].transpose(1, 2)).to(torch.float64)
        G = self.G[:, :width, :width]
        G[rows, slots] = cross
        G.transpose(1, 2)[rows, slots] = cross


def _unseen_max(mem_val: torch.Tensor, order: torch.Tensor, cand_val: torch.Tensor) -> torch.Tensor:
    """Largest correlation, at the residual before the refinement, of the concepts whose
    correlation is not recomputed at the refined one.

    ``mem_val`` holds the correlations of each row's working set, of which the
    columns ``order`` are refined (and recomputed); of the candidates outside
    the set (``cand_val``, strongest first) the first ``_EXACT_CANDIDATES`` are
    recomputed, and every other concept outside the set is bounded by the next
    candidate's correlation.
    """
    rest = mem_val.scatter(1, order, -_INF).amax(dim=1)
    # (with fewer candidates than that, all are recomputed and the last bounds the others)
    beyond = cand_val[:, min(_EXACT_CANDIDATES, cand_val.shape[1] - 1)]
    return torch.maximum(rest, beyond).to(torch.float64)


def _product_eps(D: torch.Tensor) -> float:
    """Unit round-off of a product with ``D``: TF32's where a user let CUDA use it for
    float32 products (``torch.backends.cuda.matmul.allow_tf32``), else the dtype's."""
    if D.dtype == torch.float32 and D.is_cuda and torch.backends.cuda.matmul.allow_tf32:
        return 2.0**-10
    return torch.finfo(D.dtype).eps


def _certify(
    prob: Problem,
    v64: torch.Tensor,
    r64: torch.Tensor,
    w: torch.Tensor,
    lam: torch.Tensor,
    idx: torch.Tensor,
    c_set: torch.Tensor,
    top: torch.Tensor,
    unseen: torch.Tensor,
    r: torch.Tensor,
) -> torch.Tensor:
    """Relative duality gaps of refined rows (residual ``r64``, weights ``w`` on ``idx``).

    The dual scale needs ``max_j (D r64)_j`` over every concept. It is computed
    exactly for the refined concepts (``c_set``) and the strongest ones outside
    the working set at the residual ``r`` of the round (``top``). Any other
    concept's correlation at ``r64`` is at most ``unseen``, its correlation at
    ``r``, plus ``||d_j|| ||r64 - r||`` (Cauchy-Schwarz), plus the round-off of
    the product that gave it (at most ``d eps ||d_j|| ||r||``). Where that
    bound could exceed the exact maximum (the refinement moved the residual a
    long way for a concept of large norm, or a concept outside the recomputed
    ones stands within round-off of it), the row's correlations with every
    concept are formed in float64: for 1,000 LAION captions (10,000 concepts x
    384, float32) 1 to 9 rows per solve from l1 0.35 to 0.05. Recomputing only
    the 8 strongest correlations of the round, as before, understated gaps:
    0.99 reported as 3.5e-08 for concepts of norms 1e-3 to 1e3, and 1.5e-07 as
    3.6e-15 for a LAION caption at l1 0.05 (benchmarks/README.md, "The
    certificate").
    """
    D64, norms = prob.D64, prob.atom_norms
    r_norm = torch.linalg.vector_norm(r64, dim=1)
    cols = torch.cat([idx, top], dim=1)
    corr = torch.cat([c_set, torch.einsum("mkd,md->mk", D64[top], r64)], dim=1)
    exact = binding_max(corr, norms[cols], r_norm)
    drift = torch.linalg.vector_norm(r64 - r, dim=1)
    off = prob.D.shape[1] * _product_eps(prob.D)
    bound = unseen + prob.max_norm * (drift + off * torch.linalg.vector_norm(r, dim=1))
    sel = (bound > exact).nonzero().flatten()
    if sel.numel():
        full = r64[sel] @ D64.T
        exact[sel] = binding_max(full, norms.expand_as(full), r_norm[sel])
    return gap_from_cmax(v64, r64, w.sum(dim=1), lam, exact)


def working_set_rounds(
    prob: Problem,
    V: torch.Tensor,
    v64: torch.Tensor,
    idx: torch.Tensor,
    valid: torch.Tensor,
    w: torch.Tensor,
    *,
    tol: float,
    max_rounds: int | torch.Tensor,
    n_add: int,
    iter_offset: int = 0,
    penalties: torch.Tensor | None = None,
    stage: torch.Tensor | None = None,
) -> tuple[list[RowResult], RowResult | None]:
    """Grow working sets until each row's relative duality gap is below ``tol``.

    Each round solves the small problems exactly on the working sets, forms
    ``D r`` for all concepts with one dense product, certifies the rows that
    have no clear violator (after a float64 refinement on their support) and
    grows the others with their strongest violators. Concepts without weight
    leave the working sets between rounds and their slots take the new
    violators; the data of the kept concepts (rows of ``D``, correlations and
    Gram blocks) stay in place, so only the new rows and columns are computed.

    Along a path of penalties (``penalties``) a row that is finished at its
    penalty goes on to the next one in the same batch: its working set, Gram
    block and weights stay, and the violators at the new penalty come from the
    correlations the certificate has just computed, so no product is repeated.

    Parameters
    ----------
    prob : Problem
        Dictionary and penalty.
    V, v64 : Tensor of shape (m, d)
        Targets in storage dtype and float64.
    idx : Tensor of shape (m, K), int64
        Initial working sets (no duplicate valid entries within a row).
    valid : Tensor of shape (m, K), bool
        False on padding slots, whose weight is held at zero.
    w : Tensor of shape (m, K), float64
        Starting weights on those sets (non-negative).
    tol : float
        Target relative duality gap.
    max_rounds : int or Tensor of shape (n_penalties,), int64
        Maximum number of working-set rounds of a row at a penalty (one
        budget per penalty of the path).
    n_add : int
        Most concepts added to a row's working set per round (adding more
        at once was measured slower: the small solves grow as K^3).
    iter_offset : int, default=0
        Added to the reported iteration counts.
    penalties : Tensor of shape (n_penalties,), float64, optional
        A decreasing path of penalties; None: the single penalty ``prob.lam``.
    stage : Tensor of shape (m,), int64, optional
        Position in ``penalties`` at which each row starts (default 0).

    Returns
    -------
    done : list of RowResult
        Rows certified (gap at most ``tol``) or that cannot improve further;
        along a path, one result per row and penalty from its ``stage`` on,
        each labelled with its stage.
    left : RowResult or None
        Rows still above ``tol`` when ``max_rounds`` ran out.
    """
    D, D64 = prob.D, prob.D64
    device = V.device
    c = D.shape[0]
    m = V.shape[0]
    path = penalties is not None
    if penalties is None:
        penalties = torch.tensor([prob.lam], dtype=torch.float64, device=device)
    n_stages = penalties.numel()
    if stage is None:
        stage = torch.zeros(m, dtype=torch.int64, device=device)
    limits = torch.as_tensor(max_rounds, dtype=torch.int64, device=device).expand(n_stages)
    lam = penalties[stage]  # each row's penalty
    since = torch.zeros(m, dtype=torch.int64, device=device)  # rounds at that penalty
    fresh = torch.zeros(m, dtype=torch.bool, device=device)  # just went on to the next one
    rows = torch.arange(m, device=device)
    # Finished rows stay in the batch, idle, until enough of them have finished
    # to pay for moving the others (see ``_COMPACT``).
    alive = torch.ones(m, dtype=torch.bool, device=device)
    done: list[RowResult] = []
    # Working-set data computed in storage precision (in float64 for wide sets, see
    # ``_Sets``): concepts, their correlations with the targets and their Gram
    # block (kept in float64). The float64 refinement removes the round-off before
    # anything is certified.
    sets = _Sets(prob, V, v64, idx, valid, w, capacity=idx.shape[1] + 2 * n_add)
    previous_threads = torch.get_num_threads()
    try:
        while True:
            check_stopped()
            # The batched operations of a round on many rows are large enough to
            # use every thread (the front end runs the small ones on one; on a
            # machine busy with other work the threads of small ones mostly wait).
            # Once the sets are wide, the small problems and refinements, most of a
            # round, share the rows among threads of their own instead (see
            # ``_small._in_parts``) and the rest of the round runs on one thread:
            # with one other busy process on 2 cores, 334 LAION captions at l1 0.05
            # took 7.68 s instead of 48.13 s, and 4.67 s instead of 5.01 s on an idle
            # machine (benchmarks/results/wide_threads*.json).
            many = rows.numel() >= _THREADED_ROWS
            workers = prob.threads if many else 1
            if prob.threads:
                wide = sets.width >= _PART_MIN_WIDTH
                torch.set_num_threads(prob.threads if many and not wide else 1)
            since += 1
            last = since >= limits[stage]
            K = sets.width
            idx, valid = sets.idx[:, :K], sets.valid[:, :K]
            w = solve_small(
                sets.G[:, :K, :K],
                sets.b[:, :K],
                lam.unsqueeze(1),
                valid,
                w0=sets.w[:, :K] * valid,
                group=prob.group_rows,
                workers=workers,
            )
            sets.w[:, :K] = w
            # In exact arithmetic a violator that joins the set makes the objective drop,
            # so at least one of the new concepts takes a positive weight. When none does,
            # the small problem (set up in storage precision) and the correlations disagree
            # at round-off level: more rounds would only add and prune the same concepts.
            # Such a row is refined and certified now, or handed back uncertified (the
            # front end solves it again in float64).
            # (Not so for a row that has just gone on to the next penalty of a path: its
            # new concepts violate the conditions at the previous solution, which the
            # weights of its other concepts may now satisfy.)
            new = sets.new[:, :K]
            stalled = new.any(dim=1) & ~((w > 0) & new).any(dim=1) & ~fresh
            r = sets.residuals(V, v64, w)
            corr = _product(prob, r, D.T)
            # The correlations of the set's own concepts (they bound the dual scale)
            # are read and masked out, so that one partial sort of width ``n_add``
            # finds the strongest violators outside the set.
            mem_val = torch.where(valid, corr.gather(1, idx), -_INF)
            hide = torch.full(idx.shape, _INF, dtype=corr.dtype, device=device)
            corr.scatter_reduce_(1, idx, hide.masked_fill_(valid, -_INF), "amin")
            cand_val, cand_idx = corr.topk(min(n_add, c), dim=1)
            del corr
            cand_val = cand_val.to(torch.float64)
            new_ok = 2.0 * cand_val > lam.unsqueeze(1) * (1 + 1e-12)
            # Rows without a clear violator are refined in float64 and certified.
            clear = 2.0 * cand_val[:, 0] > lam * (1 + _CLEAR)
            check = (~clear | last | stalled) & alive
            gap = torch.full((idx.shape[0],), _INF, dtype=torch.float64, device=device)
            # (Each nonzero() below is one host synchronisation; boolean-mask indexing
            # would cost one per use.)
            sel = check.nonzero().flatten()
            refined = []  # (rows of the batch, their supports, refined weights)
            if sel.numel():
                # Rows with supports of very different sizes are refined in groups.
                groups = None
                if prob.group_rows:
                    groups = row_groups((w.index_select(0, sel) > 0).sum(dim=1), K)
                for part, k in [(None, None)] if groups is None else groups:
                    s_rows = sel if part is None else sel[part]
                    w_r = w[s_rows]
                    order = _support_order(w_r, k)
                    i_s, w_s = take_columns(idx, s_rows, order), w_r.gather(1, order)
                    G_s = take_columns(sets.G[:, :K, :K], s_rows, order)
                    lam_s, v_s = lam[s_rows], v64[s_rows]
                    r64, w_s, c_set = refine_support_parts(
                        D64, v_s, i_s, w_s, lam_s.unsqueeze(1), G_s, workers
                    )
                    # The correlations of every other concept are known only at
                    # the residual before the refinement.
                    unseen = _unseen_max(mem_val[s_rows], order, cand_val[s_rows])
                    gap[s_rows] = _certify(
                        prob,
                        v_s,
                        r64,
                        w_s,
                        lam_s,
                        i_s,
                        c_set,
                        cand_idx[s_rows, :_EXACT_CANDIDATES],
                        unseen,
                        r.index_select(0, s_rows),
                    )
                    refined.append((s_rows, i_s, w_s))
            del r
            # Finished rows were all refined (no clear violator, or out of rounds).
            finished = ((gap <= tol) | ~new_ok.any(dim=1) | stalled | last) & alive
            for s_rows, i_s, w_s in refined:
                f = finished[s_rows].nonzero().flatten()
                if f.numel():
                    fin = s_rows[f]
                    done.append(
                        RowResult(
                            rows=rows[fin],
                            idx=i_s[f],
                            w=w_s[f],
                            gap=gap[fin],
                            n_iter=since[fin] + iter_offset,
                            stage=stage[fin] if path else None,
                        )
                    )
            if path:
                # A finished row goes on to the next penalty with its working set; the
                # violators there come from the correlations just computed.
                advance = finished & (stage < n_stages - 1)
                stage = stage + advance
                lam = penalties[stage]
                since = since.masked_fill(advance, 0)
                fresh = advance
                # Concepts of a set that took no weight met the conditions at the
                # previous penalty only; at the next one they compete with the
                # violators outside the set (else a row's strongest violator could
                # leave its set now and come back a round later).
                idle = torch.where(valid & (w == 0) & advance.unsqueeze(1), mem_val, -_INF)
                both = torch.cat([cand_val, idle.to(torch.float64)], dim=1)
                cand_val, pos = both.topk(cand_idx.shape[1], dim=1)
                cand_idx = torch.cat([cand_idx, idx], dim=1).gather(1, pos)
                new_ok = 2.0 * cand_val > lam.unsqueeze(1) * (1 + 1e-12)
                finished = finished & ~advance
            alive = alive & ~finished
            n_alive = int(alive.sum())
            if n_alive == 0:
                return done, None
            if rows.numel() - n_alive >= max(1, int(_COMPACT * rows.numel())):
                # Compact to the unfinished rows (moving every kept row's set data).
                # (The count is known: no second synchronisation for the indices.)
                keep = torch.nonzero_static(alive, size=n_alive).flatten()
                rows, V, v64 = rows[keep], V[keep], v64[keep]
                lam, stage, since, fresh = lam[keep], stage[keep], since[keep], fresh[keep]
                sets.resize(keep, sets.cap)
                cand_idx, new_ok, alive = cand_idx[keep], new_ok[keep], alive[keep]
            else:
                # Idle rows take no new concepts (their sets keep their supports).
                new_ok = new_ok & alive.unsqueeze(1)
            # Put the violators in the slots of the concepts that left the support.
            width = max(1, int(new_ok.sum(dim=1).max()))
            sets.add(prob, V, v64, cand_idx[:, :width], new_ok[:, :width])
    finally:
        torch.set_num_threads(previous_threads)


def _continuation(lam_max: torch.Tensor, lam: float) -> torch.Tensor | None:
    """The path of penalties down to a tiny ``lam``, or None to solve at ``lam`` directly.

    ``lam_max`` holds each row's ``2 max_j (D v)_j``, the penalty from which its
    solution is zero. At a penalty far below it the solutions of wide
    dictionaries hold about d concepts, and growing the working sets from the
    concepts most correlated with the targets is slow: once a set holds about d
    concepts each round only swaps a few of them (5,000 random concepts in 128
    dimensions, penalty 1e-4: the primal value fell by about 0.5% a round, and
    no row was certified in 100 rounds). Along a path each penalty starts from
    the working sets and solutions of the previous one and takes few rounds
    (the same problem: 25 rounds in all over 5 penalties, every row
    certified). The path starts at half the median of ``lam_max`` and steps
    down by at most ``_CONTINUE_STEP``; only penalties below ``_CONTINUE``
    times that median take it (at about 1e-2 of it, 100 LAION captions at l1
    0.01 with about 320 concepts each, paths of 4 to 8 penalties took 15.3 s
    to 20.3 s of CPU time against 15.3 s directly).
    """
    if lam <= 0.0:
        return None  # non-negative least squares: any set spanning the target is optimal
    top = float(lam_max.median())
    if not lam < _CONTINUE * top:
        return None
    start = 0.5 * top
    n = math.ceil(math.log(start / lam) / math.log(_CONTINUE_STEP)) + 1
    path = torch.logspace(
        math.log10(start), math.log10(lam), n, dtype=torch.float64, device=lam_max.device
    )
    path[-1] = lam
    return path


def _last_stage(results: list[RowResult], last: int, m: int) -> list[RowResult]:
    """The results at stage ``last`` of a path, with the rounds of all its stages."""
    device = results[0].rows.device
    rounds = torch.zeros(m, dtype=torch.int64, device=device)
    for res in results:
        rounds.index_add_(0, res.rows, res.n_iter.to(torch.int64))
    out = []
    for res in results:
        stage = res.stage if res.stage is not None else torch.zeros_like(res.rows)
        keep = (stage == last).nonzero().flatten()
        if keep.numel():
            rows = res.rows[keep]
            out.append(
                RowResult(
                    rows=rows,
                    idx=res.idx[keep],
                    w=res.w[keep],
                    gap=res.gap[keep],
                    n_iter=rounds[rows],
                )
            )
    return out


def _warm_residual(
    prob: Problem, V: torch.Tensor, idx: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    """``V - W D`` in storage precision for the weights ``w`` on the concepts ``idx``."""
    m = V.shape[0]
    nz = (w > 0).nonzero()
    W = torch.sparse_coo_tensor(
        torch.stack([nz[:, 0], idx[nz[:, 0], nz[:, 1]]]),
        w[nz[:, 0], nz[:, 1]].to(prob.D.dtype),
        (m, prob.D.shape[0]),
        check_invariants=False,  # indices in range by construction
    )
    return V - torch.sparse.mm(W, prob.D)


def solve_chunk(
    lasso: NonNegLasso,
    prob: Problem,
    V: torch.Tensor,
    v64: torch.Tensor,
    warm: torch.Tensor | None,
    tol: float,
    max_iter: int | torch.Tensor,
    k0: int = 24,
    n_add: int = 16,
    k_warm: int = 16,
    penalties: torch.Tensor | None = None,
) -> list[RowResult]:
    """Seed each row's working set and run the rounds (see :class:`._common.Method`).

    Without a warm start the ``k0`` strongest correlations with the targets seed
    the sets. With one, its support (at most the 256 largest weights) and the
    at most ``k_warm`` strongest violators of the optimality conditions at its
    residual do: along a path of penalties these are the concepts that join.
    Each round adds at most ``n_add`` concepts per row.

    ``penalties`` (float64, decreasing) solves the rows along that path of
    penalties in one batch (see :func:`working_set_rounds`; ``prob.lam`` is then
    ``penalties[0]``), with ``max_iter`` the round budget of each penalty (one
    per penalty as a tensor, or one for all); the results carry their stage.

    Without a warm start, a single positive penalty far below the one that
    zeroes the rows' solutions is reached along a path of larger penalties
    (:func:`_continuation`): ``max_iter`` is then the budget of each of them,
    and the rows report their rounds over the whole path.
    """
    D = prob.D
    device = V.device
    lam = prob.lam  # along a path, penalties[0]
    c = D.shape[0]
    k = min(k0, c)
    if warm is None:
        corr = _product(prob, V, D.T)
    else:
        # At most the 256 largest warm-start weights seed the working sets.
        # (Counted as uint8 into int32: the bool sum over (m, c) is several times slower.)
        n_warm = (warm > 0).view(torch.uint8).sum(dim=1, dtype=torch.int32)
        kw = min(c, 256, max(1, int(n_warm.max())))
        wv, wi = warm.topk(kw, dim=1)
        wvalid = wv > 0
        # Correlations with the residual of the warm start (with the targets where
        # it is zero): its violators at this penalty join the support it seeds.
        corr = _product(prob, _warm_residual(prob, V, wi, wv * wvalid), D.T)
        corr.scatter_(1, wi, torch.where(wvalid, -torch.inf, corr.gather(1, wi)))
        k = min(c, k_warm)
    top_val, idx = corr.topk(k, dim=1)
    answer_stage = None  # (along a continuation path: the stage that answers)
    if warm is None and penalties is None:
        path = _continuation(2.0 * top_val[:, 0].to(torch.float64), lam)
        if path is not None:
            # The rows start at the path's first penalty, from the product just made.
            penalties, answer_stage = path, path.numel() - 1
            prob = replace(prob, lam=float(path[0]))
            lam = prob.lam
    valid = 2.0 * top_val.to(torch.float64) > lam
    w = torch.zeros(valid.shape, dtype=torch.float64, device=device)
    if warm is not None:
        idx = torch.cat([wi, idx], dim=1)
        valid = torch.cat([wvalid, valid], dim=1)
        w = torch.cat([wv * wvalid, w], dim=1)
        # Each row's concepts first: the sets are as wide as the largest row, not
        # the largest support plus the most violators.
        order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
        order = order[:, : max(1, int(valid.sum(dim=1).max()))]
        idx, valid, w = idx.gather(1, order), valid.gather(1, order), w.gather(1, order)
    results: list[RowResult] = []
    # Rows whose zero solution already satisfies the optimality conditions.
    empty = ~valid.any(dim=1)
    if bool(empty.any()):
        sel = empty.nonzero().flatten()
        v_sel = v64[sel]
        zero = torch.zeros(sel.numel(), dtype=torch.float64, device=device)
        corr_sel = corr[sel] if warm is None else dense_product(prob, V[sel], D.T)
        # The residual is the target: the strongest correlations are recomputed, and the
        # others bounded by the next one (as for refined rows, ``_certify``).
        k = min(_EXACT_CANDIDATES + 1, corr_sel.shape[1])
        top_val, top = corr_sel.topk(k, dim=1)
        gap = _certify(
            prob,
            v_sel,
            v_sel,
            zero.unsqueeze(1),
            torch.full_like(zero, lam),
            top[:, :0],
            zero.unsqueeze(1)[:, :0],
            top[:, :_EXACT_CANDIDATES],
            top_val[:, -1].to(torch.float64),
            V[sel],
        )
        results.append(
            RowResult(
                rows=sel,
                idx=idx[sel, :1],
                w=torch.zeros((sel.numel(), 1), dtype=torch.float64, device=device),
                gap=gap,
                n_iter=torch.ones(sel.numel(), dtype=torch.int64, device=device),
                stage=None if penalties is None else torch.zeros_like(sel),
            )
        )
        if penalties is not None and penalties.numel() > 1:
            # Along a path these rows start again, from scratch, at the next penalty.
            rest_iter = max_iter[1:] if isinstance(max_iter, torch.Tensor) else max_iter
            sub = replace(prob, lam=float(penalties[1]))
            for res in solve_chunk(
                lasso,
                sub,
                V[sel],
                v64[sel],
                None,
                tol,
                rest_iter,
                k0,
                n_add,
                k_warm,
                penalties=penalties[1:],
            ):
                res.rows = sel[res.rows]
                # (every result of a path of penalties carries its stage)
                assert res.stage is not None
                res.stage = res.stage + 1
                results.append(res)
    rest = (~empty).nonzero().flatten()
    del corr
    if rest.numel() == 0:
        return results if answer_stage is None else _last_stage(results, answer_stage, V.shape[0])
    idx, valid, w = idx[rest], valid[rest], w[rest]
    col_keep = valid.any(dim=0)
    idx, valid, w = idx[:, col_keep], valid[:, col_keep], w[:, col_keep]
    done, left = working_set_rounds(
        prob,
        V[rest],
        v64[rest],
        idx,
        valid,
        w,
        tol=tol,
        max_rounds=max_iter,
        n_add=n_add,
        penalties=penalties,
    )
    if left is not None:
        done.append(left)
    for res in done:
        res.rows = rest[res.rows]
        results.append(res)
    return results if answer_stage is None else _last_stage(results, answer_stage, V.shape[0])


METHOD = Method(solve_chunk=solve_chunk, max_iter=100, small_penalty_max_iter=10)
