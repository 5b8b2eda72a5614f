"""Tests of the batched non-negative lasso solvers (sksplice.solvers)."""

from __future__ import annotations

import pickle
import re
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sksplice.solvers import NonNegLasso, SparseCodes
from sksplice.solvers._common import binding_max, gap_from_cmax
from sksplice.solvers._lasso import _GAP_RESOLUTION
from sksplice.solvers._small import solve_small

from ._helpers_solvers import (
    brute_force_optimum,
    clustered_dictionary,
    kkt_violation,
    objective,
    random_dictionary,
    sklearn_reference,
    unit_rows,
)

METHODS = ["working_set", "admm"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small batched ops are fastest single-threaded on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_problem(seed: int, c: int = 150, d: int = 24, n: int = 8):
    rng = np.random.default_rng(seed)
    D = random_dictionary(rng, c, d)
    V = unit_rows(rng.standard_normal((n, d)))
    return D, V


def _structured_problem(seed: int, d: int = 32, n: int = 8):
    """Clustered (correlated) concepts; targets are sparse non-negative mixtures."""
    rng = np.random.default_rng(seed)
    D = clustered_dictionary(rng, n_clusters=25, per_cluster=6, d=d)
    V = np.zeros((n, d))
    for i in range(n):
        atoms = rng.choice(D.shape[0], size=4, replace=False)
        V[i] = rng.uniform(0.3, 1.0, size=4) @ D[atoms]
    V += 0.05 * rng.standard_normal(V.shape) / np.sqrt(d)
    return D, unit_rows(V)


def _unique_support(D: np.ndarray, v: np.ndarray, w: np.ndarray, lam: float) -> bool:
    """Strict complementarity and independent active atoms: the optimum is unique."""
    on = w > 1e-8
    g = 2.0 * D @ (v - D.T @ w)
    if on.sum() and np.linalg.svd(D[on], compute_uv=False).min() < 1e-3:
        return False
    return bool(np.all(g[~on] < lam - 1e-4))


# ----------------------------------------------------------------- correctness
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kind", "seed", "lam"),
    [
        ("random", 0, 0.05),
        ("random", 1, 0.2),
        ("random", 2, 0.6),
        ("structured", 3, 0.02),
        ("structured", 4, 0.1),
        ("structured", 5, 0.3),
    ],
)
def test_matches_sklearn_lasso(method, kind, seed, lam):
    D, V = _random_problem(seed) if kind == "random" else _structured_problem(seed)
    ref = sklearn_reference(D, V, lam)
    codes = NonNegLasso(D, device="cpu").solve(V, lam, solver=method, tol=1e-8)
    W = codes.to_dense()
    assert codes.converged
    assert codes.gap <= 1e-8
    assert np.all(W >= 0)
    n_unique = 0
    for i in range(V.shape[0]):
        ours, theirs = objective(D, V[i], W[i], lam), objective(D, V[i], ref[i], lam)
        assert ours <= theirs * (1 + 1e-5), (i, ours, theirs)
        assert abs(ours - theirs) <= 1e-5 * theirs
        if _unique_support(D, V[i], ref[i], lam):
            n_unique += 1
            np.testing.assert_array_equal(np.flatnonzero(W[i]), np.flatnonzero(ref[i] > 1e-8))
    assert n_unique >= V.shape[0] // 2


@pytest.mark.parametrize("method", METHODS)
def test_planted_support_is_recovered(method):
    rng = np.random.default_rng(7)
    c, d, n = 2000, 512, 12
    D = unit_rows(rng.standard_normal((c, d))).astype(np.float32)
    planted = [np.sort(rng.choice(c, size=5, replace=False)) for _ in range(n)]
    V = np.stack([rng.uniform(0.5, 1.5, size=5) @ D[p] for p in planted])
    V = unit_rows(V)
    codes = NonNegLasso(D, device="cpu").solve(V, 0.05, solver=method)
    assert codes.converged
    assert codes.gap <= 1e-6
    for i in range(n):
        found = codes.indices[codes.indptr[i] : codes.indptr[i + 1]]
        np.testing.assert_array_equal(found, planted[i])


@pytest.mark.parametrize("method", METHODS)
def test_kkt_conditions_hold(method):
    D, V = _structured_problem(11, n=10)
    lam = 0.05
    codes = NonNegLasso(D, device="cpu").solve(V, lam, solver=method, tol=1e-9)
    W = codes.to_dense()
    for i in range(V.shape[0]):
        assert kkt_violation(D, V[i], W[i], lam) <= 1e-4 * lam


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    c=st.integers(1, 60),
    d=st.integers(1, 12),
    lam=st.one_of(st.just(0.0), st.floats(1e-3, 3.0)),
    method=st.sampled_from(METHODS),
)
def test_random_problems_are_certified(seed, c, d, lam, method):
    """Any small problem: converged, certified and optimal (KKT) at the answer.

    (Penalties between 0 and 1e-3 are left out: there the certificate's
    resolution, about machine epsilon x ||r|| / l1_penalty, is above 1e-9.)
    """
    rng = np.random.default_rng(seed)
    D = unit_rows(rng.standard_normal((c, d)))
    V = rng.standard_normal((3, d))
    codes = NonNegLasso(D, device="cpu").solve(V, lam, solver=method, tol=1e-9)
    assert codes.converged and codes.gap <= 1e-9
    W = codes.to_dense()
    assert np.all(W >= 0)
    scale = max(lam, 1.0) * (1.0 + np.abs(V).sum())
    for i in range(3):
        assert kkt_violation(D, V[i], W[i], lam) <= 1e-5 * scale


@pytest.mark.parametrize("method", METHODS)
def test_duplicated_concepts(method):
    """Exactly repeated concepts (singular Gram blocks) still give the optimum."""
    rng = np.random.default_rng(0)
    D = random_dictionary(rng, 100, 20)
    D = np.vstack([D, D[:30]])
    V = unit_rows(rng.standard_normal((6, 20)))
    lam = 0.02
    ref = sklearn_reference(D, V, lam)
    codes = NonNegLasso(D, device="cpu").solve(V, lam, solver=method)
    assert codes.converged
    W = codes.to_dense()
    for i in range(V.shape[0]):
        ours, theirs = objective(D, V[i], W[i], lam), objective(D, V[i], ref[i], lam)
        assert ours <= theirs * (1 + 1e-6)


def test_gap_bounds_suboptimality_and_vanishes_at_optimum():
    """The certificate is a valid upper bound (weak duality, brute-force optimum)."""
    D, V = _random_problem(21, c=60, d=12, n=4)
    lam = 0.1
    rng = np.random.default_rng(0)
    D64 = torch.from_numpy(D)
    for i in range(V.shape[0]):
        best = brute_force_optimum(D, V[i], lam)
        for _ in range(5):
            w = np.maximum(rng.standard_normal(D.shape[0]) * 0.05, 0.0)
            r = V[i] - D.T @ w
            # (the dual point scaled by every concept's correlation, as the solvers do)
            r64 = torch.from_numpy(r[None])
            cmax = binding_max(
                r64 @ D64.T,
                torch.linalg.vector_norm(D64, dim=1).expand(1, -1),
                torch.linalg.vector_norm(r64, dim=1),
            )
            rel = gap_from_cmax(
                torch.from_numpy(V[i][None]), r64, torch.tensor([w.sum()]), lam, cmax
            ).item()
            primal = objective(D, V[i], w, lam)
            assert rel >= (primal - best) / primal - 1e-9
            assert rel >= 0.0
    codes = NonNegLasso(D, device="cpu").solve(V, lam, tol=1e-10)
    W = codes.to_dense()
    for i in range(V.shape[0]):
        best = brute_force_optimum(D, V[i], lam)
        assert objective(D, V[i], W[i], lam) <= best * (1 + 1e-9)
    assert codes.gap <= 1e-10


@pytest.mark.parametrize("max_pdas", [0, 1, 12])
def test_small_solver_paths_agree(max_pdas):
    """The active-set fallback (max_pdas=0) and the primal-dual path give the optimum."""
    rng = np.random.default_rng(4)
    m, K, d = 12, 15, 10
    DW = rng.standard_normal((m, K, d))
    DW /= np.linalg.norm(DW, axis=2, keepdims=True)
    V = unit_rows(rng.standard_normal((m, d)))
    G = torch.from_numpy(DW @ DW.transpose(0, 2, 1))
    b = torch.from_numpy(np.einsum("mkd,md->mk", DW, V))
    valid = torch.ones((m, K), dtype=torch.bool)
    valid[:, -2:] = False  # padding slots stay at zero
    lam = 0.05
    w = solve_small(G, b, lam, valid, max_pdas=max_pdas).numpy()
    assert np.all(w >= 0) and np.all(w[:, -2:] == 0)
    for i in range(m):
        ref = sklearn_reference(DW[i, :-2], V[i : i + 1], lam)[0]
        ours = objective(DW[i, :-2], V[i], w[i, :-2], lam)
        assert ours <= objective(DW[i, :-2], V[i], ref, lam) * (1 + 1e-9)
        assert kkt_violation(DW[i, :-2], V[i], w[i, :-2], lam) <= 1e-8


def _nearly_dependent_small_problem(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A small problem whose set holds two pairs of concepts 1e-7 apart (Gram block from
    float32 rows, as the working-set solver forms it)."""
    g = torch.Generator().manual_seed(seed)
    d, K = 48, 40
    D = torch.randn(K, d, generator=g, dtype=torch.float64)
    D[1] = D[0] + 1e-7 * torch.randn(d, generator=g, dtype=torch.float64)
    D[3] = D[2] + 1e-7 * torch.randn(d, generator=g, dtype=torch.float64)
    D = D / D.norm(dim=1, keepdim=True)
    w = torch.zeros(K, dtype=torch.float64)
    w[torch.randperm(K, generator=g)[:12]] = torch.rand(12, generator=g, dtype=torch.float64)
    w[0], w[2] = 0.5, 0.4
    v = w @ D + 0.05 * torch.randn(d, generator=g, dtype=torch.float64)
    D32, v32 = D.float(), v.float()
    return (D32 @ D32.T).double()[None], (D32 @ v32).double()[None]


@pytest.mark.parametrize("seed", [1, 6, 8, 12])
def test_small_problems_with_nearly_dependent_concepts_skip_the_fallback(monkeypatch, seed):
    """A set with two concepts of almost the same direction made the primal-dual steps
    alternate between two sets (the larger one's factorisation fails); each such row went
    to the Lawson-Hanson method, which cycled until its iterations ran out (0.5 to 0.8 s
    a row on LAION captions). The steps now stop at the set that factorises, with the
    Lawson-Hanson method's objective."""
    import sksplice.solvers._small as small

    G, b = _nearly_dependent_small_problem(seed)
    valid = torch.ones(b.shape, dtype=torch.bool)
    lam = 0.05
    reference = small._lawson_hanson(G, b, lam, valid)
    fallbacks = []
    lawson_hanson = small._lawson_hanson

    def counted(*args, **kwargs):
        fallbacks.append(args[1].shape[0])
        return lawson_hanson(*args, **kwargs)

    monkeypatch.setattr(small, "_lawson_hanson", counted)
    w = solve_small(G, b, lam, valid)
    assert fallbacks == []
    h = b - lam / 2

    def f(x):
        return float(x @ G[0] @ x.T - 2 * (h * x).sum())

    assert torch.all(w >= 0)
    assert f(w) == pytest.approx(f(reference), rel=1e-12)


def test_float32_dictionary_is_certified():
    rng = np.random.default_rng(3)
    D = random_dictionary(rng, 3000, 128).astype(np.float32)
    V = unit_rows(rng.standard_normal((40, 128))).astype(np.float32)
    solver = NonNegLasso(D, device="cpu")
    assert solver.dtype == torch.float32
    for method in METHODS:
        codes = solver.solve(V, 0.3, solver=method, tol=1e-6)
        assert codes.converged and codes.gap <= 1e-6
        assert 1 <= codes.l0().mean() <= 100


@pytest.mark.parametrize("method", METHODS)
def test_batch_size_invariance_and_determinism(method):
    D, V = _structured_problem(5, n=30)
    solver = NonNegLasso(D, device="cpu")
    whole = solver.solve(V, 0.05, solver=method)
    again = solver.solve(V, 0.05, solver=method)
    # one row at a time, said (a budget of 512 meant as MiB ran 10,000 solves of one row)
    with pytest.warns(UserWarning, match=r"memory_budget=1 bytes is less than one row .* counts"):
        chunked = solver.solve(V, 0.05, solver=method, memory_budget=1)
    rows = [solver.solve(V[i : i + 1], 0.05, solver=method).to_dense() for i in range(5)]
    np.testing.assert_array_equal(whole.indptr, again.indptr)
    np.testing.assert_array_equal(whole.indices, again.indices)
    np.testing.assert_array_equal(whole.data, again.data)
    np.testing.assert_allclose(chunked.to_dense(), whole.to_dense(), atol=1e-9)
    np.testing.assert_allclose(np.vstack(rows), whole.to_dense()[:5], atol=1e-9)


def test_methods_agree():
    D, V = _structured_problem(8, n=12)
    solver = NonNegLasso(D, device="cpu")
    a = solver.solve(V, 0.08, solver="working_set", tol=1e-9).to_dense()
    b = solver.solve(V, 0.08, solver="admm", tol=1e-9).to_dense()
    for i in range(V.shape[0]):
        oa, ob = objective(D, V[i], a[i], 0.08), objective(D, V[i], b[i], 0.08)
        assert abs(oa - ob) <= 1e-8 * oa


@pytest.mark.gpu
@pytest.mark.parametrize("method", METHODS)
def test_cpu_and_gpu_agree(method):
    rng = np.random.default_rng(12)
    D = random_dictionary(rng, 5000, 256).astype(np.float32)
    V = unit_rows(rng.standard_normal((64, 256))).astype(np.float32)
    cpu = NonNegLasso(D, device="cpu").solve(V, 0.25, solver=method)
    gpu = NonNegLasso(D, device="cuda").solve(V, 0.25, solver=method)
    assert cpu.converged and gpu.converged
    Wc, Wg = cpu.to_dense(), gpu.to_dense()
    for i in range(V.shape[0]):
        oc, og = objective(D, V[i], Wc[i], 0.25), objective(D, V[i], Wg[i], 0.25)
        assert abs(oc - og) <= 1e-5 * oc
    np.testing.assert_allclose(Wc, Wg, atol=1e-4)


# ----------------------------------------------------------------- edge cases
@pytest.mark.parametrize("method", METHODS)
def test_zero_target_and_huge_penalty_give_zeros_without_warning(method):
    D, V = _random_problem(2)
    V = V.copy()
    V[3] = 0.0
    solver = NonNegLasso(D, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = solver.solve(V, 0.1, solver=method)
        assert codes.l0()[3] == 0
        assert codes.row_gaps[3] == 0.0
        big = solver.solve(V, 1e6, solver=method)
    assert big.nnz == 0
    assert big.converged and big.gap == 0.0
    np.testing.assert_array_equal(big.to_dense(), np.zeros((V.shape[0], D.shape[0])))


def test_zero_penalty_is_nonnegative_least_squares():
    D, V = _random_problem(4, c=10, d=20, n=3)
    codes = NonNegLasso(D, device="cpu").solve(V, 0.0, tol=1e-9)
    W = codes.to_dense()
    from scipy.optimize import nnls

    for i in range(3):
        ref, _ = nnls(D.T, V[i])
        assert objective(D, V[i], W[i], 0.0) <= objective(D, V[i], ref, 0.0) + 1e-9


@pytest.mark.parametrize("method", METHODS)
def test_convergence_warning_reports_gap(method):
    D, V = _random_problem(6, c=300, d=64, n=6)
    solver = NonNegLasso(D, device="cpu")
    with pytest.warns(ConvergenceWarning, match="duality gap of") as record:
        codes = solver.solve(V, 0.01, solver=method, max_iter=1, tol=1e-12)
    assert not codes.converged
    assert codes.gap > 1e-12
    message = str(record[0].message)
    assert f"{codes.gap:.3g}" in message
    assert "max_iter=1" in message


@pytest.mark.parametrize("method", METHODS)
def test_warm_start_dense_and_sparse(method):
    D, V = _structured_problem(9, n=10)
    solver = NonNegLasso(D, device="cpu")
    cold = solver.solve(V, 0.05, solver=method)
    near = solver.solve(V, 0.06, solver=method)
    for warm in (near.to_csr(), near.to_dense(), torch.from_numpy(near.to_dense())):
        hot = solver.solve(V, 0.05, solver=method, warm_start=warm)
        assert hot.converged
        np.testing.assert_allclose(hot.to_dense(), cold.to_dense(), atol=1e-7)
    restart = solver.solve(V, 0.05, solver="working_set", warm_start=cold.to_csr())
    assert restart.n_iter == 1


@pytest.mark.parametrize("method", METHODS)
def test_warm_start_in_the_solvers_own_format(method):
    """SparseCodes are taken as they are and start the solve as their CSR and dense forms do."""
    D, V = _structured_problem(9, n=10)
    solver = NonNegLasso(D.astype(np.float32), device="cpu")
    near = solver.solve(V, 0.06, solver=method)
    near.data[: near.nnz // 3] *= -1.0  # negative entries count as zero in every form
    via_csr = solver.solve(V, 0.05, solver=method, warm_start=near.to_csr())
    via_codes = solver.solve(V, 0.05, solver=method, warm_start=near)
    for name in ("indptr", "indices", "data", "row_gaps"):
        np.testing.assert_array_equal(getattr(via_codes, name), getattr(via_csr, name))
    assert via_codes.n_iter == via_csr.n_iter
    for start, stop in ((0, 10), (3, 7), (9, 10)):
        expected = torch.from_numpy(near.to_dense()[start:stop]).clamp_min(0.0)
        assert torch.equal(solver._warm_rows(near, start, stop), expected)
        assert torch.equal(solver._warm_rows(near.to_csr(), start, stop), expected)
    with pytest.raises(ValueError, match=re.escape("= (4, 150), got (10, 150)")):
        solver.solve(V[:4], 0.05, warm_start=near)


def test_float64_redo_splices_rows_into_the_csr_arrays():
    """The rows solved again replace theirs, as a row assignment of the matrices does."""
    from sksplice.solvers._lasso import _replace_rows

    rng = np.random.default_rng(0)

    def codes_of(dense):
        csr = scipy.sparse.csr_matrix(dense)
        return SparseCodes(
            indptr=csr.indptr.astype(np.int64),
            indices=csr.indices.astype(np.int64),
            data=csr.data.astype(np.float64),
            shape=csr.shape,
            n_iter=1,
            gap=0.0,
            converged=True,
        )

    for _ in range(30):
        n, c = int(rng.integers(1, 12)), int(rng.integers(1, 15))
        old = rng.random((n, c)) * (rng.random((n, c)) < 0.4)
        rows = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False))
        new = rng.random((rows.size, c)) * (rng.random((rows.size, c)) < 0.4)
        keep = rng.random(rows.size) < 0.6
        indptr, indices, data = _replace_rows(
            codes_of(old), rows[keep], codes_of(new), np.flatnonzero(keep)
        )
        expected = old.copy()
        expected[rows[keep]] = new[keep]
        ref = scipy.sparse.csr_matrix(expected)
        np.testing.assert_array_equal(indptr, ref.indptr)
        np.testing.assert_array_equal(indices, ref.indices)
        np.testing.assert_array_equal(data, ref.data)
        assert (indptr.dtype, indices.dtype, data.dtype) == (np.int64, np.int64, np.float64)


def test_float64_dictionary_is_used_as_given_for_the_float64_work():
    """No second float64 copy on the CPU; the Gram and factors come from it in float64."""
    D, V = _structured_problem(2, n=4)
    solver = NonNegLasso(D, device="cpu", dtype=np.float32)
    assert solver.dictionary.dtype == torch.float32
    assert solver._dictionary64.data_ptr() == D.__array_interface__["data"][0]
    gram = torch.from_numpy(D.T @ D)
    torch.testing.assert_close(solver._gram64, gram, rtol=1e-13, atol=1e-13)
    assert torch.equal(solver._gram_d, solver._gram64.to(torch.float32))
    K = 2.0 * solver._gram64
    K.diagonal().add_(1.5)
    assert torch.equal(solver._factor(1.5), torch.linalg.cholesky(K).to(torch.float32))
    first = solver.solve(V, 0.05, solver="admm")
    clone = pickle.loads(pickle.dumps(solver))
    torch.testing.assert_close(clone._dictionary64, solver._dictionary64, rtol=0, atol=0)
    again = clone.solve(V, 0.05, solver="admm")
    np.testing.assert_array_equal(first.to_dense(), again.to_dense())
    widened = NonNegLasso(D.astype(np.float32), device="cpu")
    assert torch.equal(widened._dictionary64, widened.dictionary.to(torch.float64))


def test_sparse_codes_layout_and_conversions():
    D, V = _structured_problem(1, n=6)
    codes = NonNegLasso(D, device="cpu").solve(V, 0.05)
    assert isinstance(codes, SparseCodes)
    assert codes.shape == (6, D.shape[0])
    assert codes.indptr.shape == (7,) and codes.indptr[0] == 0
    assert codes.indptr[-1] == codes.nnz == codes.indices.size == codes.data.size
    for i in range(6):
        row = codes.indices[codes.indptr[i] : codes.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)
    assert np.all(codes.data > 0)
    csr = codes.to_csr()
    assert scipy.sparse.issparse(csr) and csr.format == "csr"
    np.testing.assert_array_equal(csr.toarray(), codes.to_dense())
    np.testing.assert_array_equal(codes.l0(), np.diff(codes.indptr))
    assert codes.n_iter >= 1
    assert codes.row_gaps.shape == (6,) and codes.gap == codes.row_gaps.max()


def test_solver_accepts_tensors_pickles_and_reuses_factor():
    D, V = _structured_problem(2, n=4)
    solver = NonNegLasso(torch.from_numpy(D), device="auto")
    assert solver.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    a = solver.solve(torch.from_numpy(V), 0.05, solver="admm")
    assert len(solver._factors) >= 1
    clone = pickle.loads(pickle.dumps(solver))
    b = clone.solve(V, 0.05, solver="admm")
    np.testing.assert_allclose(a.to_dense(), b.to_dense(), atol=1e-12)
    np.testing.assert_array_equal(clone.dictionary.cpu().numpy(), solver.dictionary.cpu().numpy())


def test_dictionary_norms_are_computed_once_for_all_solves(monkeypatch):
    # The penalty floor needs the largest row norm of the dictionary: computed on every
    # solve before, 7 ms for 15,000 concepts, a third of the time of one row.
    D, V = _structured_problem(3, n=4)
    solver = NonNegLasso(D, device="cpu")
    calls = []
    norm = torch.linalg.vector_norm

    def counted(x, *args, **kwargs):
        if x.shape == solver.dictionary.shape:
            calls.append(x.shape)
        return norm(x, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "vector_norm", counted)
    first = solver.solve(V, 0.05)
    floor = solver.smallest_supported_penalty(V, 1e-6)
    for _ in range(3):
        again = solver.solve(V, 0.05)
    assert len(calls) == 1
    np.testing.assert_array_equal(first.to_dense(), again.to_dense())
    monkeypatch.setattr(torch.linalg, "vector_norm", norm)
    d_norm = float(np.linalg.norm(D, axis=1).max())
    v_norm = float(np.linalg.norm(V, axis=1).max())
    assert floor == pytest.approx(_GAP_RESOLUTION * v_norm * d_norm / 1e-6, rel=1e-12)
    # pickled and loaded, the solver computes it again from its dictionary
    clone = pickle.loads(pickle.dumps(solver))
    assert clone.smallest_supported_penalty(V, 1e-6) == floor


# ----------------------------------------------------------------- validation
def test_dictionary_validation():
    good = np.eye(4)
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"dictionary holds NaN or infinite values in 1 row\(s\): 2"
    ):
        NonNegLasso(bad)
    bad[2, 1] = np.inf
    with pytest.raises(
        ValueError, match=r"dictionary holds NaN or infinite values in 1 row\(s\): 2"
    ):
        NonNegLasso(bad)
    with pytest.raises(ValueError, match="dictionary must be 2-D"):
        NonNegLasso(np.ones(4))
    with pytest.raises(ValueError, match="at least one concept"):
        NonNegLasso(np.ones((0, 4)))
    with pytest.raises(TypeError, match="dictionary must hold real numbers"):
        NonNegLasso(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="device"):
        NonNegLasso(good, device="not-a-device")
    with pytest.raises(ValueError, match="dtype"):
        NonNegLasso(good, dtype="int8")


def test_target_and_parameter_validation():
    solver = NonNegLasso(np.eye(4), device="cpu")
    V = np.ones((3, 4))
    bad = V.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"V holds NaN or infinite values in 1 row\(s\): 1"):
        solver.solve(bad, 0.1)
    bad[1, 0] = -np.inf
    with pytest.raises(ValueError, match=r"V holds NaN or infinite values in 1 row\(s\): 1"):
        solver.solve(bad, 0.1)
    with pytest.raises(
        ValueError, match=re.escape("V has 5 features per row but the dictionary has 4")
    ):
        solver.solve(np.ones((3, 5)), 0.1)
    with pytest.raises(ValueError, match="empty batch"):
        solver.solve(np.ones((0, 4)), 0.1)
    with pytest.raises(ValueError, match="V must be 2-D"):
        solver.solve(np.ones(4), 0.1)
    # A bad value is a ValueError, a bad type a TypeError; both name the parameter and value.
    for lam, error, shown in [
        (-0.1, ValueError, "-0.1"),
        (np.nan, ValueError, "nan"),
        (np.inf, ValueError, "inf"),
        ("0.1", TypeError, "'0.1' (str)"),
        (None, TypeError, "None (NoneType)"),
        (True, TypeError, "True (bool)"),
    ]:
        message = f"l1_penalty must be a finite non-negative number, got {shown}"
        with pytest.raises(error, match=re.escape(message)):
            solver.solve(V, lam)
    with pytest.raises(ValueError, match="solver must be one of"):
        solver.solve(V, 0.1, solver="lars")
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        solver.solve(V, 0.1, max_iter=0)
    with pytest.raises(ValueError, match="tol must be"):
        solver.solve(V, 0.1, tol=-1.0)
    with pytest.raises(ValueError, match="memory_budget must be a positive integer"):
        solver.solve(V, 0.1, memory_budget=0)
    with pytest.raises(
        ValueError, match=re.escape("warm_start must have shape (n_samples, n_concepts) = (3, 4)")
    ):
        solver.solve(V, 0.1, warm_start=np.ones((2, 4)))
    with pytest.raises(ValueError, match="warm_start holds NaN or infinite values in 3 row"):
        solver.solve(V, 0.1, warm_start=np.full((3, 4), np.nan))


@pytest.mark.parametrize("d", [3, 8])
def test_float32_ill_conditioned_rows_are_certified(d):
    """Many concepts in few dimensions: float32 products stall, float64 finishes the rows."""
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(10 * d, d))
    D = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    D -= D.mean(axis=0)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    V = rng.normal(size=(50, d))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning either
        codes32 = NonNegLasso(D.astype(np.float32), device="cpu").solve(V.astype(np.float32), 0.1)
    codes64 = NonNegLasso(D, device="cpu").solve(V, 0.1)
    assert codes32.converged and codes32.gap <= 1e-6
    np.testing.assert_allclose(codes32.to_dense(), codes64.to_dense(), atol=1e-5)


def _wide_problem(c: int, d: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random unit concepts and targets: at tiny penalties the solutions hold d concepts."""
    rng = np.random.default_rng(0)
    return unit_rows(rng.standard_normal((c, d))), unit_rows(rng.standard_normal((n, d)))


def test_float32_sets_of_about_d_concepts_get_exact_gram_blocks(monkeypatch):
    """Penalty 0, 400 concepts in 32 dimensions: the working sets grow past d concepts.

    Gram blocks from float32 products were indefinite for such sets (smallest
    eigenvalue about -1e-7) and the small solves cycled: 20 rounds and several
    seconds where float64 took 5 rounds.
    """
    from sksplice.solvers import _working_set

    D, V = _wide_problem(400, 32, 8)
    smallest, widths = [], []
    real = _working_set.solve_small

    def spy(G, b, lam, valid, **kwargs):
        both = valid.unsqueeze(2) & valid.unsqueeze(1)
        smallest.append(float(torch.linalg.eigvalsh(torch.where(both, G, 0.0)).min()))
        widths.append(int(valid.sum(dim=1).max()))
        return real(G, b, lam, valid, **kwargs)

    monkeypatch.setattr(_working_set, "solve_small", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes32 = NonNegLasso(D.astype(np.float32), device="cpu").solve(V.astype(np.float32), 0.0)
        codes64 = NonNegLasso(D, device="cpu").solve(V, 0.0)
    assert max(widths) > 32  # the sets did reach more than d concepts
    assert min(smallest) >= -1e-12
    assert codes32.converged and (codes32.row_gaps <= 1e-6).all()
    assert codes32.n_iter <= codes64.n_iter + 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lam", [1e-4, 1e-5])
def test_tiny_penalties_on_a_wide_dictionary_are_reached_along_a_path(dtype, lam):
    """1,000 concepts in 64 dimensions, solutions of 64 concepts.

    Grown from the concepts most correlated with the targets, the sets took 54
    rounds at 1e-4 and 67 at 1e-5 (in float32 about 30 s on 2 cores); along a
    path of penalties from about half the penalty that zeroes the solutions, 18.
    """
    D, V = _wide_problem(1000, 64, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        codes = NonNegLasso(D.astype(dtype), device="cpu").solve(V.astype(dtype), lam)
    assert codes.converged and (codes.row_gaps <= 1e-6).all()
    assert codes.n_iter <= 30  # rounds over all the penalties of the path
    W = codes.to_dense()
    D64 = D.astype(dtype).astype(np.float64)
    for i in range(len(V)):
        assert kkt_violation(D64, V[i].astype(dtype).astype(np.float64), W[i], lam) <= 1e-3 * lam


def test_continuation_path():
    from sksplice.solvers._working_set import _continuation

    lam_max = torch.tensor([0.4, 0.6, 0.8], dtype=torch.float64)  # median 0.6
    assert _continuation(lam_max, 0.0) is None  # non-negative least squares: directly
    assert _continuation(lam_max, 3e-3 * 0.6) is None
    path = _continuation(lam_max, 1e-5)
    assert path is not None and float(path[0]) == pytest.approx(0.3)
    assert float(path[-1]) == 1e-5
    steps = (path[:-1] / path[1:]).tolist()
    assert all(1.0 < s <= 10.0 + 1e-9 for s in steps)
    assert len(path) == 6  # 0.3 / 1e-5 = 3e4: five steps of at most 10


@pytest.mark.parametrize("alpha", [1.0, 1.6])
def test_admm_step_is_the_textbook_iteration(alpha):
    """One iteration through the d x d factor equals the c x c formula in float64."""
    from sksplice.solvers._admm import admm_step

    rng = np.random.default_rng(3)
    c, d, m, rho, lam = 40, 7, 6, 2.5, 0.3
    D = torch.from_numpy(rng.standard_normal((c, d)))
    V = torch.from_numpy(rng.standard_normal((m, d)))
    Z = torch.from_numpy(np.abs(rng.standard_normal((m, c))))
    U = torch.from_numpy(rng.standard_normal((m, c)))
    Z_in, U_in = Z.clone(), U.clone()
    L = torch.linalg.cholesky(rho * torch.eye(d, dtype=D.dtype) + 2.0 * D.T @ D)
    X, Z_new, U_new = admm_step(
        Z, U, 2.0 * (V @ D.T) / rho, 2.0 * (V @ D.T @ D), D, L, rho, alpha, lam
    )
    # Reference: x = (rho I_c + 2 D D^T)^{-1} (2 D v + rho (z - u)), row by row.
    M = rho * torch.eye(c, dtype=D.dtype) + 2.0 * D @ D.T
    X_ref = torch.linalg.solve(M, (2.0 * V @ D.T + rho * (Z - U)).T).T
    Xh = alpha * X_ref + (1.0 - alpha) * Z
    Z_ref = torch.clamp(Xh + U - lam / rho, min=0.0)
    U_ref = U + Xh - Z_ref
    torch.testing.assert_close(X, X_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(Z_new, Z_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(U_new, U_ref, rtol=1e-10, atol=1e-10)
    assert bool((Z_new > 0).any()) and bool((Z_new == 0).any())  # both branches of max
    # The inputs are left as they were.
    assert torch.equal(Z, Z_in) and torch.equal(U, U_in)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_admm_converges_within_a_short_iteration_budget(dtype):
    """A broken ADMM step (or a rho change that forgets to rescale) cannot pass this.

    With 60 iterations and a small penalty (many active concepts, slow for ADMM),
    the iterates must be good enough for the polishing step to certify every row.
    (In float32 about 30 concepts per row in 32 dimensions are beyond what the
    polish can certify: it hands the rows to the float64 redo at once, before
    rho changes.)
    """
    rng = np.random.default_rng(0)
    c, d, m = 600, 32, 200
    D = rng.standard_normal((c, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    V = rng.standard_normal((m, d))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    solver = NonNegLasso(D, device="cpu", dtype=dtype)
    rhos = []
    factor = solver._factor
    solver._factor = lambda rho: (rhos.append(rho), factor(rho))[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        codes = solver.solve(V, 0.05, solver="admm", max_iter=60)
    if dtype == "float64":
        assert len(set(rhos)) > 1  # rho was adapted at least once
    assert codes.converged
    assert codes.gap <= 1e-6


def test_rho_change_keeps_the_dual_and_the_data_term():
    from sksplice.solvers._admm import rescale_for_rho

    rng = np.random.default_rng(5)
    U = torch.from_numpy(rng.standard_normal((3, 9)))
    C2 = torch.from_numpy(rng.standard_normal((3, 9)))  # 2 V D^T
    for rho, new_rho in [(4.0, 8.0), (4.0, 2.0), (0.3, 0.3)]:
        U_new, C2r_new = rescale_for_rho(rho, new_rho, U, C2 / rho)
        torch.testing.assert_close(new_rho * U_new, rho * U)  # y = rho u is kept
        torch.testing.assert_close(new_rho * C2r_new, C2)  # C2r is 2 V D^T / rho


@pytest.mark.parametrize(
    ("c", "d", "m", "lam", "seed", "most"),
    # Measured: 25 and 36 iterations. Reversing the rho balancing gives 36 and 58,
    # no over-relaxation 36 and 36, a fixed rho 36 and 47, no rescaling of the dual
    # on a rho change 102 and 102.
    [(600, 32, 200, 0.05, 0, 27), (800, 48, 60, 0.03, 2, 38)],
)
def test_admm_iteration_count_on_fixed_problems(c, d, m, lam, seed, most):
    """The ADMM step, over-relaxation and rho balancing, pinned by iteration counts.

    In float64 (where the polish never hands a row over) a weaker variant of the
    iteration still certifies every row, only later: the count catches it.
    """
    rng = np.random.default_rng(seed)
    D = unit_rows(rng.standard_normal((c, d)))
    V = unit_rows(rng.standard_normal((m, d)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = NonNegLasso(D, device="cpu", dtype="float64").solve(V, lam, solver="admm")
    assert codes.converged and codes.gap <= 1e-6
    assert codes.n_iter <= most


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_small_penalties_cost_a_bounded_multiple_of_a_normal_one(monkeypatch):
    """Tiny penalties and unreachable l0 targets: the work is bounded.

    Measured on a 2-core machine (ratios to the normal penalty 0.25 on the same
    5 rows x 200 concepts x 32 dimensions): l1 0.01 about 80x, l1 1e-12 about
    260x (4,000x before the stall detection and the warning below the supported
    penalty), the refusal of target_l0=200 about 0.2x (4,400x before: it ran the
    whole calibration). Bounds are generous for a loaded machine.
    """
    import time

    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    concepts, X = rng.normal(size=(200, 32)), rng.normal(size=(5, 32))
    vocabulary = [f"c{i}" for i in range(200)]
    mean = rng.normal(size=32) / 8  # a given centre: no warning about a mean learned from 5 rows

    def seconds(penalty, **kwargs):
        est = SpliceTransformer(
            vocabulary=vocabulary,
            concept_embeddings=concepts,
            l1_penalty=penalty,
            image_mean=mean,
            device="cpu",
            **kwargs,
        ).fit(X)
        start = time.perf_counter()
        est.transform(X)
        return time.perf_counter() - start

    seconds(0.25)  # warm-up
    normal = float(np.median([seconds(0.25) for _ in range(5)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert seconds(0.01) <= 800 * normal
    with pytest.warns(UserWarning, match=r"l1_penalty=1e-12 is below the smallest penalty"):
        assert seconds(1e-12) <= 1500 * normal
    # target_l0 above the embedding dimension is refused before any solve.
    calls = []
    monkeypatch.setattr(NonNegLasso, "solve", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError, match=r"target_l0=200 cannot be reached.*dimension \(32"):
        SpliceTransformer(
            vocabulary=vocabulary, concept_embeddings=concepts, target_l0=200, device="cpu"
        ).fit(X)
    assert calls == []


class _CountOps:
    """Count the aten operations a block runs (CPU), as a stand-in for GPU work.

    Every operation that is not a view would be one kernel launch on CUDA; the
    host synchronisations are the reads of a device value into Python
    (``bool()``/``int()``/``float()``/``.item()``: ``_local_scalar_dense``) and
    ``nonzero`` (whose output size the host must wait for).
    """

    _VIEWS = (
        "view", "unsqueeze", "permute", "expand", "squeeze", "transpose", "aten.t.", "alias",
        "slice", "select", "as_strided", "detach", "diagonal", "split", "unbind",
    )  # fmt: skip
    _SYNCS = ("aten._local_scalar_dense.default", "aten.nonzero.default")

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counts = self
        counts.kernels = counts.syncs = 0

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                name = str(func)
                if name in counts._SYNCS:
                    counts.syncs += 1
                elif not any(v in name for v in counts._VIEWS):
                    counts.kernels += 1
                return func(*args, **(kwargs or {}))

        self._mode = Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)


def _gpu_stand_in() -> tuple[np.ndarray, np.ndarray]:
    """500 targets mixing 10 of 2,000 clustered concepts in 64 dimensions."""
    rng = np.random.default_rng(0)
    D = clustered_dictionary(rng, n_clusters=80, per_cluster=25, d=64)
    D = unit_rows(D - D.mean(axis=0))
    W = np.zeros((500, D.shape[0]))
    for i in range(500):
        W[i, rng.choice(D.shape[0], 10, replace=False)] = rng.uniform(0.2, 1.0, 10)
    return D, unit_rows(W @ D + 0.05 * rng.standard_normal((500, 64)))


def test_admm_float32_polish_keeps_rows_that_ran_out_of_rounds(monkeypatch):
    """Rows the float32 polish has not certified when its rounds run out go on.

    They are polished again after more ADMM iterations rather than handed to the
    float64 redo, which solves them from scratch (on this problem the redo of 42
    such rows took more launches than the whole rest of the solve).
    """
    D, V = _gpu_stand_in()
    redone = []
    redo = NonNegLasso._redo_in_float64

    def record(self, codes, *args, **kwargs):
        redone.append(int((codes.row_gaps > 1e-6).sum()))
        return redo(self, codes, *args, **kwargs)

    monkeypatch.setattr(NonNegLasso, "_redo_in_float64", record)
    codes = NonNegLasso(D, device="cpu", dtype="float32").solve(V, 0.25, solver="admm")
    assert codes.converged and codes.gap <= 1e-6
    assert redone == []


@pytest.mark.parametrize(
    ("method", "kernels", "syncs"),
    # Measured on this problem (about 18.6 concepts per target): admm 1,750
    # kernels and 74 synchronisations, working_set 2,455 and 106 (admm 1,654 and 67,
    # working_set 2,360 and 98 before the certificate bounded the correlations of the
    # concepts it does not recompute after the refinement, one synchronisation per
    # certificate; admm 1,690 and 70, working_set 2,362 and 99 recorded before that,
    # 98 synchronisations before the check
    # whether a penalty is tiny enough to be reached along a path; admm 1,695 before the
    # ADMM step formed u = min(T, lam / rho) first and z = T - u; 1,683 and 2,351
    # before finished rows waited in the batch until an eighth of it had finished;
    # 1,617 and 2,229 before the rounds carried one penalty per row for paths). Before the
    # fixed-shape small solves (one synchronisation per step), the float32 polish
    # that keeps rows which only ran out of rounds instead of handing them to the
    # float64 redo, and the shorter gap computation: admm 4,028 and 206,
    # working_set 3,064 and 155 (recorded earlier as 3,858 and 2,925 kernels).
    [("admm", 1750, 74), ("working_set", 2455, 106)],
)
def test_gpu_work_is_counted_on_cpu(monkeypatch, method, kernels, syncs):
    """Kernel launches and host synchronisations of a solve, counted on the CPU.

    A scaled-down stand-in for the 10,000 x 15,000 x 512 GPU benchmark (500
    targets, 2,000 clustered concepts, 64 dimensions, l1 0.25, 10-concept
    mixtures): the GPU solve is bound by the host launching the
    small operations of the certified polish, so their number is what to cut
    and must not grow unnoticed (10% margin over the measured counts). The
    small problems are not grouped by size on a GPU (``Problem.group_rows``
    is set on CPU only), so they are not grouped here either, and the Cholesky solves
    stay single calls as on a GPU.
    """
    import sksplice.solvers._small as small
    import sksplice.solvers._working_set as working_set

    for module in (small, working_set):
        monkeypatch.setattr(module, "row_groups", lambda *args: None)
    # (nor do they split their Cholesky solves in two triangular ones there)
    monkeypatch.setattr(small, "_triangular_solves", lambda device: False)
    D, V = _gpu_stand_in()
    solver = NonNegLasso(D, device="cpu", dtype="float32")
    solver.solve(V, 0.25, solver=method)  # builds the cached factors
    with _CountOps() as counts:
        codes = solver.solve(V, 0.25, solver=method)
    assert codes.converged
    assert counts.kernels <= 1.1 * kernels, counts.kernels
    assert counts.syncs <= 1.1 * syncs, counts.syncs


def test_set_solves_by_triangular_solves_equal_cholesky_solve(monkeypatch):
    # On CPU the set solves run as two triangular solves (faster than torch's batched
    # cholesky_solve there); on a GPU as one cholesky_solve. Same answers.
    import sksplice.solvers._small as small

    assert small._triangular_solves(torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    A = torch.randn((40, 30, 50), generator=gen, dtype=torch.float64)
    G = A @ A.mT
    h = torch.randn((40, 30), generator=gen, dtype=torch.float64)
    P = torch.rand((40, 30), generator=gen) < 0.6
    ridge, _ = small._ridge(G, P)
    eye = torch.eye(30, dtype=torch.float64)
    z_tri, info_tri = small._set_solve(G, ridge, h, P, eye)
    monkeypatch.setattr(small, "_triangular_solves", lambda device: False)
    z_chol, info_chol = small._set_solve(G, ridge, h, P, eye)
    assert not info_tri.any() and not info_chol.any()
    torch.testing.assert_close(z_tri, z_chol, rtol=1e-10, atol=1e-12)
    assert (z_tri[~P] == 0).all()


@pytest.mark.parametrize(("scale", "direction"), [(1e-4, 1.0), (1e4, -1.0)])
def test_residual_balancing_moves_rho_towards_balance(monkeypatch, scale, direction):
    """A rho far too small must grow, one far too large must shrink.

    The certified polish makes the answers independent of rho, so only the
    direction of its updates shows whether residual balancing works.
    """
    import sksplice.solvers._admm as admm_module

    rng = np.random.default_rng(0)
    c, d, m = 600, 32, 50
    D = rng.standard_normal((c, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    V = rng.standard_normal((m, d))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    solver = NonNegLasso(D, device="cpu", dtype="float64")
    rhos = []
    factor = solver._factor
    solver._factor = lambda rho: (rhos.append(rho), factor(rho))[1]
    real_chunk = admm_module.admm_chunk

    def badly_scaled(*args, rho, **kwargs):
        return real_chunk(*args, rho=rho * scale, **kwargs)

    monkeypatch.setattr(admm_module, "admm_chunk", badly_scaled)
    codes = solver.solve(V, 0.05, solver="admm", max_iter=60)
    assert codes.converged
    changes = np.sign(np.diff(rhos))
    assert changes.size and changes[0] == direction, rhos


def test_rows_that_stop_making_progress_are_not_said_to_run_out_of_rounds():
    # A tiny penalty over a wide dictionary: a row whose rounds can no longer make
    # progress is given up before max_iter; the warning said "stopped after
    # max_iter=100" and advised more rounds, which would not help.
    rng = np.random.default_rng(0)
    D = rng.normal(size=(1000, 64))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    V = rng.normal(size=(10, 64))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    lasso = NonNegLasso(D.astype(np.float32), device="cpu")
    with pytest.warns(ConvergenceWarning) as record:
        codes = lasso.solve(V.astype(np.float32), l1_penalty=1e-8)
    assert not codes.converged
    # (the rounds of the rows left uncertified, not of the slowest row)
    left = codes.row_n_iter[codes.row_gaps > 1e-6]
    assert left.size and left.max() < 100 and codes.row_n_iter.shape == (10,)
    message = str(record[0].message)
    assert f"stopped making progress after {left.max()} rounds (max_iter=100)" in message
    assert "more rounds would not" in message and "increase max_iter" not in message
    # running out of rounds is still said so
    with pytest.warns(ConvergenceWarning, match=r"stopped after max_iter=2 .*increase max_iter"):
        lasso.solve(V.astype(np.float32), l1_penalty=1e-3, max_iter=2)


def _wide_small_problems(m: int, K: int, seed: int = 0):
    """Gram blocks, correlations and per-row penalties of ``m`` sets of ``K`` concepts."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(m, K, 3 * K, generator=gen, dtype=torch.float64) / (3 * K) ** 0.5
    G = X @ X.transpose(1, 2)
    b = 0.2 + 0.1 * torch.randn(m, K, generator=gen, dtype=torch.float64)
    lam = torch.linspace(0.05, 0.3, m, dtype=torch.float64).unsqueeze(1)
    valid = torch.rand(m, K, generator=gen) > 0.05
    return G, b, lam, valid


def _threads_that_ran(monkeypatch, module, name):
    names = set()
    real = getattr(module, name)

    def spy(*args, **kwargs):
        names.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return names


def test_wide_small_problems_shared_by_threads_are_solved_as_one_batch(monkeypatch):
    """Sets of at least 128 concepts: the rows are split among threads of the
    process (each on one intra-op thread), which meet only at the end; the answers
    are those of the whole batch, bit for bit."""
    from sksplice.solvers import _small

    G, b, lam, valid = _wide_small_problems(96, 130)
    whole = solve_small(G, b, lam, valid)
    ran = _threads_that_ran(monkeypatch, _small, "_solve_batch")
    torch.set_num_threads(2)
    parts = solve_small(G, b, lam, valid, workers=2)
    assert torch.get_num_threads() == 2  # (restored after the parts)
    assert torch.equal(parts, whole)
    assert len(ran) == 2 and all(n.startswith("sksplice") for n in ran)
    # Narrower sets (mostly per-call overhead) stay in one batch.
    ran.clear()
    solve_small(G[:, :100, :100], b[:, :100], lam, valid[:, :100], workers=2)
    assert ran == {threading.current_thread().name}
    # The caller's inference mode reaches the threads.
    with torch.inference_mode():
        Gi, bi, lami, validi = (t.clone() for t in (G, b, lam, valid))
        assert torch.equal(solve_small(Gi, bi, lami, validi, workers=2), whole)


def test_wide_refinements_shared_by_threads_are_those_of_the_whole_batch(monkeypatch):
    from sksplice.solvers import _small

    rng = np.random.default_rng(1)
    D64 = torch.from_numpy(random_dictionary(rng, 600, 256))
    m, k = 70, 140
    idx = torch.stack(
        [torch.randperm(600, generator=torch.Generator().manual_seed(i))[:k] for i in range(m)]
    )
    w = torch.rand(m, k, dtype=torch.float64) * (torch.rand(m, k) > 0.2)
    v = torch.einsum("mk,mkd->md", w, D64[idx]) + 0.01 * torch.randn(m, 256, dtype=torch.float64)
    lam = torch.full((m, 1), 0.05, dtype=torch.float64)
    gram = D64[idx] @ D64[idx].transpose(1, 2)
    whole = _small.refine_support(D64, v, idx, w, lam, gram=gram)
    ran = _threads_that_ran(monkeypatch, _small, "refine_support")
    parts = _small.refine_support_parts(D64, v, idx, w, lam, gram, workers=2)
    assert len(ran) == 2
    assert len(parts) == 3 and all(map(torch.equal, parts, whole))


def test_the_solver_threads_are_made_again_in_a_forked_child(monkeypatch):
    from sksplice.solvers import _common

    pool = _common._pool(2)
    assert _common._pool(2) is pool and _common._pool(1) is pool
    monkeypatch.setattr(_common.os, "getpid", lambda: -1)  # as in a forked child
    assert _common._pool(2) is not pool


def test_wide_working_sets_on_many_rows_use_threads_and_are_certified(monkeypatch):
    """140 targets at a penalty whose solutions hold about 130 of 1,500 concepts in
    160 dimensions, on 2 threads: the small problems and refinements of the wide
    rounds run in parts, and every row is certified with the answers of one thread."""
    from sksplice.solvers import _small

    D, V = _wide_problem(1500, 160, 140)
    one = NonNegLasso(D, device="cpu").solve(V, 0.02)
    ran = _threads_that_ran(monkeypatch, _small, "_solve_batch")
    torch.set_num_threads(2)
    two = NonNegLasso(D, device="cpu").solve(V, 0.02)
    assert any(n.startswith("sksplice") for n in ran)
    assert two.converged and (two.row_gaps <= 1e-6).all()
    np.testing.assert_allclose(two.to_dense(), one.to_dense(), atol=1e-8)


def test_chunks_of_a_cpu_solve_run_side_by_side_in_threads(monkeypatch):
    """With 2 torch threads the chunks are solved by 2 threads of the process, each on
    one torch thread; the answers are those of one thread, along a path too."""
    from sksplice.solvers import _lasso

    D, V = _random_problem(3, c=400, d=32, n=160)
    one = NonNegLasso(D, device="cpu")
    single = one.solve(V, 0.1)
    single_path = one.solve_path(V, [0.3, 0.1])
    ran = _threads_that_ran(monkeypatch, _lasso.NonNegLasso, "_solve_one_chunk")
    torch.set_num_threads(2)
    two = NonNegLasso(D, device="cpu")
    both = two.solve(V, 0.1)
    assert torch.get_num_threads() == 2
    assert len(ran) == 2 and all(n.startswith("sksplice") for n in ran)
    assert both.converged
    np.testing.assert_allclose(both.to_dense(), single.to_dense(), atol=1e-10)
    np.testing.assert_array_equal(both.row_gaps <= 1e-6, True)
    for a, b in zip(two.solve_path(V, [0.3, 0.1]), single_path):
        np.testing.assert_allclose(a.to_dense(), b.to_dense(), atol=1e-10)
    # Fewer than 64 rows per thread: one chunk, on torch's threads.
    ran.clear()
    two.solve(V[:100], 0.1)
    assert ran == {threading.current_thread().name}


def test_in_threads_keeps_to_its_workers_whatever_the_pool():
    """A pool grown by an earlier call (8 threads) runs at most ``workers`` items at once:
    the chunks of a solve share its memory budget."""
    import time

    from sksplice.solvers import _common

    _common._pool(8)
    lock, busy, most = threading.Lock(), [0], [0]

    def work(item):
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.01)
        with lock:
            busy[0] -= 1
        return item * 10

    assert _common.in_threads(work, list(range(11)), 2) == [i * 10 for i in range(11)]
    assert most[0] == 2


def test_in_threads_works_when_no_thread_takes_new_work(monkeypatch):
    """Once the interpreter shuts down, thread pools take no new work: a solve in a
    user's thread still running then did fail with 'cannot schedule new futures'."""
    from sksplice.solvers import _common

    real = _common._pool(2)

    class ShuttingDown:
        def __init__(self):
            self.calls = 0

        def submit(self, fn, *args):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            return real.submit(fn, *args)

    monkeypatch.setattr(_common, "_pool", lambda workers: ShuttingDown())
    assert _common.in_threads(lambda x: x + 1, list(range(7)), 3) == list(range(1, 8))


def test_in_threads_takes_no_further_item_once_the_caller_stops_waiting():
    import time

    from sksplice.solvers import _common

    seen = []

    def work(item):
        if item == 0:
            time.sleep(0.05)
            raise ValueError("chunk 0 failed")
        time.sleep(0.02)
        seen.append(item)
        return item

    with pytest.raises(ValueError, match="chunk 0 failed"):
        _common.in_threads(work, list(range(40)), 2)
    time.sleep(0.1)
    # the other thread's share is items 1, 3, 5, ...: it stopped soon after the failure
    assert 0 < len(seen) < 10


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_stops_the_other_threads_within_their_item(failing):
    # One chunk of a solve at a small penalty can run for tens of seconds; the other
    # thread stops at its next round (check_stopped), and the error is raised at once
    # whichever thread's item failed (not once the long item has finished).
    import time

    from sksplice.solvers import _common

    rounds = []

    def work(item):
        if item == failing:
            time.sleep(0.05)
            raise ValueError("chunk failed")
        for k in range(300):  # 3 s if nothing stops it
            _common.check_stopped()
            rounds.append(k)
            time.sleep(0.01)
        return item

    start = time.perf_counter()
    with pytest.raises(ValueError, match="chunk failed"):
        _common.in_threads(work, [0, 1], 2)
    assert time.perf_counter() - start < 1.0
    time.sleep(0.1)
    n = len(rounds)
    time.sleep(0.1)
    assert len(rounds) == n < 50  # stopped, after a few rounds


@pytest.mark.parametrize("method", ["working_set", "admm"])
def test_solver_rounds_stop_when_the_caller_stops_waiting(method):
    import threading

    from sksplice.solvers import _common

    D, V = _gpu_stand_in()
    lasso = NonNegLasso(D, device="cpu", dtype="float32")
    stop = threading.Event()
    _common._WORK.stop = stop
    try:
        assert lasso.solve(V[:20], 0.25, solver=method).converged  # not stopped: solves
        stop.set()
        with pytest.raises(_common.Stopped):
            lasso.solve(V[:20], 0.25, solver=method)
    finally:
        _common._WORK.stop = None
    assert lasso.solve(V[:20], 0.25, solver=method).converged


_READ_ONLY_SOLVE = """
import sys
import joblib
import numpy as np
from sksplice import SpliceTransformer
from sksplice.solvers import NonNegLasso

path = sys.argv[1]
rng = np.random.default_rng(0)
splicer = SpliceTransformer(
    vocabulary=[f"c{i}" for i in range(20)],
    concept_embeddings=rng.normal(size=(20, 8)),
    image_mean=rng.normal(size=8) / 8,  # (a centre has norm at most 1)
    device="cpu",
).fit(rng.normal(size=(30, 8)))
joblib.dump(splicer, path)
loaded = joblib.load(path, mmap_mode="r")
assert isinstance(loaded.dictionary_, np.memmap) and not loaded.dictionary_.flags.writeable
X = rng.normal(size=(5, 8))
expected = splicer.transform(X)
assert (loaded.transform(X) != expected).nnz == 0
D = np.array(loaded.dictionary_)
V = rng.normal(size=(4, 8))
D.setflags(write=False)
V.setflags(write=False)
NonNegLasso(D, device="cpu").solve(V, 0.1, check_input=False)
print("solved")
"""


def test_read_only_arrays_are_solved_without_torch_warning(tmp_path):
    # A transformer loaded with joblib.load(path, mmap_mode="r") printed torch's "The
    # given NumPy array is not writable" warning at its first transform: the solvers
    # share the read-only dictionary (and targets) without copying, and never write to
    # them. (torch warns once per process, hence a fresh one.)
    import os
    import subprocess
    import sys

    import sksplice

    root = os.path.dirname(os.path.dirname(os.path.abspath(sksplice.__file__)))
    env = {
        **os.environ,
        "PYTHONPATH": root,
        "PYTHONWARNINGS": "always",
        "SKSPLICE_CACHE": str(tmp_path / "cache"),
        "SKSPLICE_DATA": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _READ_ONLY_SOLVE, str(tmp_path / "splicer.joblib")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "solved"
    assert "not writable" not in proc.stderr, proc.stderr
