"""Weights of many rows: ``inverse_transform``.

It gives what a direct computation written here gives, and stays within a
bound of memory.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from sksplice import SpliceTransformer, _pandas, _weights

N_CONCEPTS, DIM = 300, 48


@pytest.fixture(scope="module")
def splicer():
    rng = np.random.default_rng(0)
    return SpliceTransformer(
        vocabulary=[f"concept {i}" for i in range(N_CONCEPTS)],
        concept_embeddings=rng.normal(size=(N_CONCEPTS, DIM)),
        device="cpu",
    ).fit(rng.normal(size=(120, DIM)))


def _weights_matrix(n_rows, dtype, seed=0, *, full_row=None):
    """CSR weights with empty rows, stored zeros, ties and unsorted column indices
    (and, with ``full_row``, a row of weights in every column, 5 values)."""
    rng = np.random.default_rng(seed)
    W = sp.random(n_rows, N_CONCEPTS, density=0.05, format="lil", random_state=rng)
    if full_row is not None:
        W[full_row] = np.arange(N_CONCEPTS) % 5 + 1.0
    W = sp.csr_matrix(W)
    W.data = np.round(W.data * 8) / 8  # ties, and a few stored zeros
    W.data[::5] *= -1  # weights handed back may be negative
    W = W.astype(dtype)
    W.data[W.indices % 13 == 0] = 0  # more stored zeros
    W = sp.csr_matrix(W)
    for i in range(0, n_rows, 7):  # empty rows
        if i == full_row:
            continue
        W.data[W.indptr[i] : W.indptr[i + 1]] = 0
    W.eliminate_zeros()
    W.data[W.indices % 11 == 0] = 0  # stored (explicit) zeros
    for i in range(1, n_rows, 3):  # column indices stored out of order
        a, b = W.indptr[i], W.indptr[i + 1]
        W.indices[a:b] = W.indices[a:b][::-1].copy()
        W.data[a:b] = W.data[a:b][::-1].copy()
    W.has_sorted_indices = False
    return W


def _unit(X):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 1e-12)


def _reference_recomposition(est, W):
    dense = W.toarray() if sp.issparse(W) else np.asarray(W)
    E = dense.astype(np.float64) @ est.dictionary_.astype(np.float64)
    return _unit(_unit(E) + est.mean_)


# ----------------------------------------------------------- inverse_transform
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("container", ["csr", "dense", "sparse frame"])
def test_inverse_transform_matches_the_formula(splicer, dtype, container):
    W = _weights_matrix(700, dtype)
    if container == "dense":
        X = W.toarray()
    elif container == "sparse frame":
        X = _pandas.sparse_frame(W, splicer.concepts_)
    else:
        X = W
    R = splicer.inverse_transform(X)
    assert R.dtype == dtype
    assert R.shape == (700, DIM)
    expected = _reference_recomposition(splicer, W)
    np.testing.assert_allclose(R, expected, atol=1e-6 if dtype == np.float32 else 1e-12)
    empty = np.diff(W.indptr) == 0
    assert empty.any()
    mean_unit = splicer.mean_ / np.linalg.norm(splicer.mean_)
    np.testing.assert_allclose(R[empty], np.tile(mean_unit, (empty.sum(), 1)), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_transform_block_by_block_gives_the_whole_product(splicer, dtype, monkeypatch):
    """Rows recomposed a few at a time (3 rows a block) give what one block gives."""
    W = _weights_matrix(200, dtype, seed=1)
    whole = splicer.inverse_transform(W)
    monkeypatch.setattr(_weights, "_RECOMPOSE_BLOCK_ITEMS", 3 * DIM, raising=False)
    np.testing.assert_array_equal(splicer.inverse_transform(W), whole)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dense", [False, True])
def test_inverse_transform_peak_memory_is_about_its_result(splicer, dtype, dense, monkeypatch):
    """No temporaries the size of the result: the product, the norms' squares and the
    quotients of two full normalisations came to ~4x the result (782 MB for 205 MB)."""
    monkeypatch.setattr(_weights, "_RECOMPOSE_BLOCK_ITEMS", 256 * DIM, raising=False)
    W = _weights_matrix(20_000, dtype, seed=2)
    W = W.toarray() if dense else W
    splicer.inverse_transform(W[:10])  # warm-up: first-call allocations
    tracemalloc.start()
    try:
        R = splicer.inverse_transform(W)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # (dense weights are checked finite with one bool mask of their own size)
    checked = W.size if dense else 0
    assert peak < 1.5 * R.nbytes + checked, (peak, R.nbytes, checked)
