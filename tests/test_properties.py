"""Property-based tests of SpliceTransformer and its solver on random problems."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sksplice import SpliceTransformer
from sksplice.dictionary import l2_normalize
from sksplice.solvers import NonNegLasso

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def problems(draw):
    """A random raw concept matrix, embeddings and penalty."""
    seed = draw(st.integers(0, 2**31 - 1))
    c = draw(st.integers(5, 40))
    d = draw(st.integers(4, 16))
    n = draw(st.integers(2, 12))
    penalty = draw(st.floats(0.01, 1.0))
    rng = np.random.default_rng(seed)
    concepts = rng.normal(size=(c, d))
    # embeddings near a few concepts, so that decompositions are not all empty
    mix = rng.exponential(size=(n, c)) * (rng.random((n, c)) < 3.0 / c)
    X = mix @ concepts + 0.3 * rng.normal(size=(n, d))
    return concepts, X, penalty


def _fit(concepts, X, penalty, **kwargs):
    vocabulary = [f"c{i}" for i in range(concepts.shape[0])]
    return SpliceTransformer(
        vocabulary=vocabulary,
        concept_embeddings=concepts,
        l1_penalty=penalty,
        device="cpu",
        output="dense",
        **kwargs,
    ).fit(X)


def _objective(D, V, W, penalty):
    R = V - W @ D
    return (R * R).sum(axis=1) + penalty * W.sum(axis=1)


@SETTINGS
@given(problems())
def test_weights_are_optimal_and_never_worse_than_zero(problem):
    concepts, X, penalty = problem
    est = _fit(concepts, X, penalty)
    W = est.transform(X)
    assert np.all(W >= 0)
    D = est.dictionary_
    V = l2_normalize(l2_normalize(X) - est.mean_)
    f = _objective(D, V, W, penalty)
    f0 = _objective(D, V, np.zeros_like(W), penalty)
    assert np.all(f <= f0 + 1e-9)
    # optimality conditions: 2 (D r)_j = penalty on the support, <= penalty elsewhere
    G = 2.0 * (V - W @ D) @ D.T
    tol = 1e-3 * max(1.0, penalty)
    assert np.all(G - penalty <= tol)
    assert np.all(np.abs(G[W > 0] - penalty) <= tol)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_invariant_to_row_order_batch_and_chunk_size(problem, random):
    concepts, X, penalty = problem
    est = _fit(concepts, X, penalty)
    W = est.transform(X)
    order = list(range(X.shape[0]))
    random.shuffle(order)
    np.testing.assert_allclose(est.transform(X[order]), W[order], atol=1e-6)
    # one row at a time
    rows = np.vstack([est.transform(X[i : i + 1]) for i in range(X.shape[0])])
    np.testing.assert_allclose(rows, W, atol=1e-6)
    # the smallest memory budget: one row per chunk
    tiny = _fit(concepts, X, penalty, memory_budget=1)
    with pytest.warns(UserWarning, match="memory_budget=1 bytes is less than one row"):
        np.testing.assert_allclose(tiny.transform(X), W, atol=1e-6)


@SETTINGS
@given(problems(), st.floats(1e-3, 1e3))
def test_positive_scaling_and_unit_recomposition(problem, scale):
    concepts, X, penalty = problem
    est = _fit(concepts, X, penalty)
    W = est.transform(X)
    # targets are normalised first: a positive scale changes nothing
    np.testing.assert_allclose(est.transform(scale * X), W, atol=1e-6)
    R = est.inverse_transform(W)
    np.testing.assert_allclose(np.linalg.norm(R, axis=1), 1.0, atol=1e-6)
    assert np.all(np.isfinite(R))


@pytest.mark.parametrize("penalty", [0.05, 0.3])
def test_zero_rows_recompose_to_the_mean(penalty):
    rng = np.random.default_rng(1)
    est = _fit(rng.normal(size=(12, 6)), rng.normal(size=(8, 6)), penalty)
    R = est.inverse_transform(np.zeros((2, 12)))
    expected = est.mean_ / np.linalg.norm(est.mean_)
    np.testing.assert_allclose(R, np.vstack([expected, expected]), atol=1e-12)


def _small_lasso_problem(seed: int):
    """A small random lasso problem: dictionary, targets, penalty, dtype and method."""
    rng = np.random.default_rng(seed)
    c, d, n = int(rng.integers(5, 60)), int(rng.integers(2, 16)), int(rng.integers(1, 6))
    penalty = float(np.exp(rng.uniform(np.log(1e-2), np.log(2.0))))
    D = l2_normalize(rng.normal(size=(c, d)))
    if seed % 2:  # centred concepts, as SpliceTransformer builds them
        D = l2_normalize(D - D.mean(axis=0))
    mix = rng.exponential(size=(n, c)) * (rng.random((n, c)) < 3.0 / c)
    V = mix @ D + 0.3 * rng.normal(size=(n, d))
    dtype = (np.float32, np.float64)[(seed + seed // 4) % 2]
    method = ("working_set", "admm")[(seed // 2) % 2]
    return D.astype(dtype), V.astype(dtype), penalty, method


@pytest.mark.parametrize("block", range(4))
def test_every_row_is_certified_at_default_settings(block):
    """Hundreds of small random problems (both methods, float32 and float64
    dictionaries, penalties from 0.01 to 2): at the default settings every row
    ends with a relative duality gap at most ``tol`` and nothing warns. A solver
    that accepts a row without checking its gap leaves some rows uncertified.
    """
    for seed in range(80 * block, 80 * (block + 1)):
        D, V, penalty, method = _small_lasso_problem(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            codes = NonNegLasso(D, device="cpu").solve(V, penalty, solver=method)
        assert codes.converged, seed
        assert codes.row_gaps.shape == (V.shape[0],)
        assert np.all(codes.row_gaps <= 1e-6), (seed, codes.row_gaps.max())
