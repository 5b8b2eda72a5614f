"""NonNegLasso.solve_path: a path of penalties in one batch, certified like solve."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sksplice.solvers import NonNegLasso, _small, _working_set
from sksplice.solvers._common import Problem

from ._helpers_solvers import clustered_dictionary, objective, unit_rows

TOL = 1e-6


# Small batched ops are fastest single-threaded on a shared machine (autouse).
from .test_solvers import _one_thread  # noqa: E402, F401


def _problem(seed: int = 0, n: int = 80, d: int = 24):
    """Mixtures of a few clustered concepts, with supports of very different sizes."""
    rng = np.random.default_rng(seed)
    D = clustered_dictionary(rng, n_clusters=40, per_cluster=10, d=d)
    D = unit_rows(D - D.mean(axis=0))
    W = np.zeros((n, D.shape[0]))
    for i in range(n):
        k = 2 + i % 12  # 2 to 13 concepts per target
        W[i, rng.choice(D.shape[0], k, replace=False)] = rng.uniform(0.2, 1.0, k)
    return D, unit_rows(W @ D + 0.05 * rng.standard_normal((n, d)))


def _objectives(D, V, codes, lam):
    W = codes.to_dense()
    return np.array([objective(D, v, w, lam) for v, w in zip(V, W)])


def _assert_same_answers(D, V, penalties, solved, expected):
    """Every solution certified, with the objectives of ``expected`` (both within ``TOL``)."""
    for lam, codes, other in zip(penalties, solved, expected):
        assert codes.converged and codes.gap <= TOL
        np.testing.assert_allclose(
            _objectives(D, V, codes, lam), _objectives(D, V, other, lam), rtol=2 * TOL, atol=1e-12
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_path_equals_independent_solves(dtype):
    D, V = _problem()
    solver = NonNegLasso(D, device="cpu", dtype=dtype)
    penalties = [0.05, 0.3, 0.0, 0.15, 0.6, 0.15]  # any order, a repeat, NNLS
    path = solver.solve_path(V, penalties)
    assert len(path) == len(penalties)
    for lam, codes in zip(penalties, path):
        alone = solver.solve(V, lam)
        assert codes.converged and codes.gap <= TOL and codes.shape == alone.shape
        f_path, f_alone = _objectives(D, V, codes, lam), _objectives(D, V, alone, lam)
        # Both certified to a relative gap of TOL: their objectives agree to that.
        np.testing.assert_allclose(f_path, f_alone, rtol=2 * TOL, atol=1e-12)


def test_rows_that_are_zero_at_the_largest_penalties_join_later():
    # Targets of very different norms: at the largest penalties the small ones have
    # the zero solution and start at a later penalty of the path.
    D, V = _problem(seed=1)
    V = V * np.linspace(0.05, 1.0, len(V))[:, None]
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    penalties = [1.5, 0.8, 0.3, 0.1, 0.01]
    path = solver.solve_path(V, penalties)
    nnz = [np.diff(codes.indptr) for codes in path]
    assert (nnz[0] == 0).any() and (nnz[-1] > 0).all()
    _assert_same_answers(D, V, penalties, path, [solver.solve(V, lam) for lam in penalties])


def test_working_sets_go_on_to_the_next_penalty(monkeypatch):
    # The path seeds its working sets once (one product of the targets with the
    # dictionary for the first penalty) and takes fewer rounds than solving each
    # penalty from scratch.
    D, V = _problem()
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    penalties = [0.4, 0.3, 0.2, 0.1]
    seeded = []
    seed = _working_set.solve_chunk

    def count(*args, **kwargs):
        seeded.append(kwargs.get("penalties"))
        return seed(*args, **kwargs)

    monkeypatch.setattr(_working_set, "solve_chunk", count)
    monkeypatch.setitem(
        NonNegLasso._solve_one_chunk.__globals__["METHODS"],
        "working_set",
        _working_set.Method(solve_chunk=count, max_iter=100, small_penalty_max_iter=10),
    )
    path = solver.solve_path(V, penalties)
    assert len(seeded) == 1 and seeded[0].tolist() == penalties
    alone = [solver.solve(V, lam).n_iter for lam in penalties]
    assert sum(codes.n_iter for codes in path) < sum(alone)


def test_chunks_warm_start_and_grouped_rows_give_the_same_path(monkeypatch):
    D, V = _problem(n=60)
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    penalties = [0.3, 0.1, 0.05]
    reference = solver.solve_path(V, penalties)
    start = solver.solve(V, 0.5)
    groups = []
    real = _small.row_groups

    def spy(*args):
        out = real(*args)
        groups.append(out is not None)
        return out

    monkeypatch.setattr(_small, "_GROUP_MIN_WIDTH", 4)
    monkeypatch.setattr(_small, "row_groups", spy)
    monkeypatch.setattr(_working_set, "row_groups", spy)
    # Chunks of a few rows, a warm start from a larger penalty, rows grouped by size.
    other = solver.solve_path(V, penalties, warm_start=start, memory_budget=2_000_000)
    assert solver._chunk_size("working_set", len(V), 2_000_000) < len(V)
    assert any(groups)
    _assert_same_answers(D, V, penalties, other, reference)


def test_admm_path_warm_starts_each_penalty():
    D, V = _problem(n=30)
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    path = solver.solve_path(V, [0.1, 0.3], solver="admm")
    alone = [solver.solve(V, lam, solver="working_set") for lam in (0.1, 0.3)]
    _assert_same_answers(D, V, [0.1, 0.3], path, alone)


def test_path_warnings_name_the_penalties():
    D, V = _problem(n=20)
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    with pytest.warns(ConvergenceWarning, match=r"max_iter=1 at l1_penalty=0\.05"):
        solver.solve_path(V, [0.3, 0.05], max_iter=1)
    floor = solver.smallest_supported_penalty(V, 1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solver.solve_path(V, [0.3, floor / 2])
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    assert any(f"l1_penalty={floor / 2:g} is below" in m for m in messages)


@pytest.mark.parametrize(
    ("penalties", "error", "words"),
    [
        ([], ValueError, "empty"),
        (0.2, TypeError, "sequence"),
        ("0.2", TypeError, "sequence"),
        ([0.1, -1.0], ValueError, "l1_penalty"),
        ([0.1, float("nan")], ValueError, "l1_penalty"),
    ],
)
def test_bad_penalties_are_refused(penalties, error, words):
    D, V = _problem(n=5)
    with pytest.raises(error, match=words):
        NonNegLasso(D, device="cpu").solve_path(V, penalties)


def test_a_concept_without_weight_competes_at_the_next_penalty():
    # Orthonormal concepts: the solution is max(0, v - lam / 2) per concept. At 0.5
    # concept 2 is in the working set without weight; at 0.3 it is the row's only
    # violator. Moving on, it must stay a candidate (not leave the set and come
    # back a round later): the second penalty is certified in one round.
    D = torch.eye(8, dtype=torch.float64)
    v = torch.tensor([[0.5, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    prob = Problem(D=D, D64=D, lam=0.5)
    done, left = _working_set.working_set_rounds(
        prob,
        v,
        v,
        torch.tensor([[0, 1, 2]]),
        torch.ones((1, 3), dtype=torch.bool),
        torch.zeros((1, 3), dtype=torch.float64),
        tol=TOL,
        max_rounds=10,
        n_add=4,
        penalties=torch.tensor([0.5, 0.3], dtype=torch.float64),
    )
    assert left is None
    by_stage = {int(res.stage[0]): res for res in done}
    second = by_stage[1]
    weights = dict(zip(second.idx[0].tolist(), second.w[0].tolist()))
    assert weights[2] == pytest.approx(0.05) and weights[0] == pytest.approx(0.35)
    assert float(second.gap[0]) <= TOL and int(second.n_iter[0]) == 1


@pytest.mark.parametrize("compact", [0.0, 0.125, 1.0])
def test_finished_rows_wait_in_the_batch_until_compacting_pays(monkeypatch, compact):
    # Rows finish at different rounds. With compact=0.0 every round that finishes a
    # row compacts the batch; with 1.0 finished rows stay (idle) until all have
    # finished. Either way each row is reported once per penalty, with the same answers.
    D, V = _problem(n=40)
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    penalties = [0.3, 0.1, 0.02]
    reference = [solver.solve(V, lam) for lam in penalties]
    moves = []  # (rows before, rows kept) of each compaction
    resize = _working_set._Sets.resize

    def spy(self, keep, cap):
        if keep is not None:
            moves.append((self.idx.shape[0], keep.numel()))
        return resize(self, keep, cap)

    monkeypatch.setattr(_working_set, "_COMPACT", compact)
    monkeypatch.setattr(_working_set._Sets, "resize", spy)
    t = torch.as_tensor(V)
    prob = Problem(D=torch.as_tensor(D), D64=torch.as_tensor(D), lam=penalties[0])
    done = _working_set.solve_chunk(
        solver, prob, t, t, None, TOL, 100, penalties=torch.tensor(penalties, dtype=torch.float64)
    )
    reported = {}
    for res in done:
        for row, stage in zip(res.rows.tolist(), res.stage.tolist()):
            reported[row, stage] = reported.get((row, stage), 0) + 1
    assert sorted(reported) == [(i, s) for i in range(len(V)) for s in range(len(penalties))]
    assert set(reported.values()) == {1}
    if compact == 1.0:
        assert moves == []
    else:
        assert len(moves) >= 2  # rows finish over several rounds
        for before, kept in moves:
            assert before - kept >= max(1, int(compact * before))
    path = solver.solve_path(V, penalties)
    _assert_same_answers(D, V, penalties, path, reference)


def test_idle_rows_take_no_new_concepts(monkeypatch):
    # Finished rows wait in the batch (never compacted here): from the round in which a
    # row finished its last penalty on, no new concept may enter its set. One round at
    # the last penalty leaves rows with violators when they finish.
    D, V = _problem(n=40)
    penalties = torch.tensor([0.3, 0.1, 0.02], dtype=torch.float64)
    Dt, Vt = torch.as_tensor(D), torch.as_tensor(V)
    top_val, idx = (Vt @ Dt.T).topk(8, dim=1)
    valid = 2.0 * top_val > penalties[0]
    assert valid.any(dim=1).all()
    added = []  # per round: how many concepts each row of the batch took
    real_add = _working_set._Sets.add

    def spy(self, prob, V, v64, cand, ok):
        added.append(ok.sum(dim=1).tolist())
        return real_add(self, prob, V, v64, cand, ok)

    monkeypatch.setattr(_working_set, "_COMPACT", 1.0)
    monkeypatch.setattr(_working_set._Sets, "add", spy)
    done, left = _working_set.working_set_rounds(
        Problem(D=Dt, D64=Dt, lam=0.3),
        Vt,
        Vt,
        idx,
        valid,
        torch.zeros(idx.shape, dtype=torch.float64),
        tol=TOL,
        max_rounds=torch.tensor([100, 100, 1]),
        n_add=4,
        penalties=penalties,
    )
    assert left is None
    rounds = np.zeros(len(V), dtype=int)  # the round in which each row finished
    for res in done:
        np.add.at(rounds, res.rows.numpy(), res.n_iter.numpy())
    assert len(set(rounds)) > 1  # rows finish in different rounds
    for k, per_row in enumerate(added, start=1):
        idle = rounds <= k
        assert not np.asarray(per_row)[idle].any(), f"round {k}"
