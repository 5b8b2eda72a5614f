"""Weights of many rows: ``inverse_transform`` and ``top_concepts``.

Both give what a direct computation written here gives (row by row, as the
formulas read), and ``inverse_transform`` stays within a bound of memory.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
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


def _weights_matrix(n_rows, dtype, seed=0, *, full_row=None, negative=True):
    """CSR weights with empty rows, stored zeros, ties and unsorted column indices
    (and, with ``full_row``, a row of weights in every column, 5 values); with
    ``negative``, a fifth of them negative (which ``inverse_transform`` refuses)."""
    rng = np.random.default_rng(seed)
    W = sp.random(n_rows, N_CONCEPTS, density=0.05, format="lil", random_state=rng)
    if full_row is not None:
        W[full_row] = np.arange(N_CONCEPTS) % 5 + 1.0
    W = sp.csr_matrix(W)
    W.data = np.round(W.data * 8) / 8  # ties, and a few stored zeros
    if negative:
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
    W = _weights_matrix(700, dtype, negative=False)
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
    W = _weights_matrix(200, dtype, seed=1, negative=False)
    whole = splicer.inverse_transform(W)
    monkeypatch.setattr(_weights, "_RECOMPOSE_BLOCK_ITEMS", 3 * DIM, raising=False)
    np.testing.assert_array_equal(splicer.inverse_transform(W), whole)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("records", [False, True])
def test_inverse_transform_peak_memory_is_about_its_result(
    splicer, dtype, dense, records, monkeypatch
):
    """No temporaries the size of the result: the product, the norms' squares and the
    quotients of two full normalisations came to ~4x the result (782 MB for 205 MB).
    Nor of the weights: their rows are looked up among the records of weights made in
    the process where one of their width exists, and that fingerprinted them whole (10.3
    MB for a result of 3.8 MB) and copied dense weights (48 MB for 7.7 MB)."""
    monkeypatch.setattr(_weights, "_RECOMPOSE_BLOCK_ITEMS", 256 * DIM, raising=False)
    from collections import OrderedDict

    from sksplice import _names

    monkeypatch.setattr(_names, "_RECORDS", OrderedDict())
    if records:  # (weights of this width made here)
        splicer.transform(np.random.default_rng(3).normal(size=(20, DIM)))
        assert _names._RECORDS
    W = _weights_matrix(20_000, dtype, seed=2, negative=False)
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


# ----------------------------------------------------------------- top_concepts
def _reference_top(est, W, k):
    """The k largest non-zero weights of each row, ties in stored order, one row at a time."""
    W = sp.csr_matrix(W, copy=True)
    out = []
    for i in range(W.shape[0]):
        idx = W.indices[W.indptr[i] : W.indptr[i + 1]]
        val = W.data[W.indptr[i] : W.indptr[i + 1]]
        idx, val = idx[val != 0], val[val != 0]
        order = sorted(range(len(val)), key=lambda j: -val[j])[:k]  # sorted() is stable
        # (a float32 weight as its shortest decimal, as numpy writes it: 0.3, not
        # 0.30000001192092896)
        shown = (lambda v: float(str(v))) if val.dtype == np.float32 else float
        out.append([(str(est.concepts_[idx[j]]), shown(val[j])) for j in order])
    return out


def _reference_frame(top, labels=None):
    # (a sample without concepts is one row of missing values: every sample is there)
    names = range(len(top)) if labels is None else list(labels)
    rows = [
        (name, rank + 1, concept, weight) if concept is not None else (name, pd.NA, None, np.nan)
        for name, pairs in zip(names, top, strict=True)
        for rank, (concept, weight) in enumerate(pairs or [(None, None)])
    ]
    frame = pd.DataFrame(rows, columns=["sample", "rank", "concept", "weight"])
    types = {"rank": "Int64", "weight": np.float64}
    if labels is None:
        types["sample"] = np.int64
    return frame.astype(types)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 10, N_CONCEPTS, 10**30])
def test_top_concepts_match_a_row_by_row_sort(splicer, dtype, k):
    W = _weights_matrix(300, dtype, full_row=5)
    expected = _reference_top(splicer, W, k)
    assert any(row == [] for row in expected)
    top = splicer.top_concepts(W, k=k)
    assert top == expected
    assert all(type(c) is str and type(w) is float for row in top for c, w in row)
    frame = splicer.top_concepts(W, k=k, as_frame=True)
    pd.testing.assert_frame_equal(frame, _reference_frame(expected))
    assert frame["sample"].nunique() == W.shape[0]  # (those without concepts too)
    dense = W.toarray()  # (each row's weights in column order: ties in that order)
    assert splicer.top_concepts(dense, k=k) == _reference_top(splicer, dense, k)


def test_top_concepts_of_long_rows_in_small_groups(splicer, monkeypatch):
    """Rows sorted a few padded entries at a time (fewer than a row's) give the same."""
    W = _weights_matrix(120, np.float64, seed=3, full_row=8)  # one long row, ties
    expected = _reference_top(splicer, W, 12)
    monkeypatch.setattr(_weights, "_TOP_BLOCK_ITEMS", 8, raising=False)
    assert splicer.top_concepts(W, k=12) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_concepts_of_a_sparse_frame_and_its_labels(splicer, dtype):
    W = _weights_matrix(60, dtype, seed=4)
    W = W.sorted_indices()  # (the frame's CSR has each row's weights in column order)
    labels = pd.Index([f"image {i}" for i in range(60)], name="file")
    frame = _pandas.sparse_frame(W, splicer.concepts_, index=labels)
    assert all(t.subtype == dtype for t in frame.dtypes)
    expected = _reference_top(splicer, W, 4)
    assert splicer.top_concepts(frame, k=4) == expected
    pd.testing.assert_frame_equal(
        splicer.top_concepts(frame, k=4, as_frame=True), _reference_frame(expected, labels)
    )


def test_top_concepts_of_no_weights(splicer):
    for W in (sp.csr_matrix((3, N_CONCEPTS)), sp.csr_matrix((0, N_CONCEPTS))):
        assert splicer.top_concepts(W, k=2) == [[]] * W.shape[0]
        pd.testing.assert_frame_equal(
            splicer.top_concepts(W, k=2, as_frame=True), _reference_frame([[]] * W.shape[0])
        )


def test_top_concepts_leave_the_weights_unchanged(splicer):
    """The stored zeros of the caller's matrix stay (they were removed in place)."""
    W = _weights_matrix(50, np.float64)
    before = (W.data.copy(), W.indices.copy(), W.indptr.copy())
    splicer.top_concepts(W, k=3)
    for array, kept in zip((W.data, W.indices, W.indptr), before, strict=True):
        np.testing.assert_array_equal(array, kept)


def test_top_concepts_lists_are_made_without_collector_passes(splicer):
    """The (concept, weight) pairs of many rows are made with the cyclic garbage
    collector paused, and it runs again afterwards (1,000,000 rows of 10 pairs: 9.3 s
    with its passes over the growing lists, 4.5 s without)."""
    import gc

    from .conftest import collector_passes

    W = _weights_matrix(3000, np.float64, seed=5)
    expected = _reference_top(splicer, W, 5)
    with collector_passes() as passes:
        top = splicer.top_concepts(W, k=5)
    assert top == expected
    # (18,000 containers made: 22 passes before; the few left are of the checks first)
    assert len(passes) <= 2, passes
    assert gc.isenabled()
    gc.disable()  # (a caller's paused collector stays paused)
    try:
        assert splicer.top_concepts(W, k=5) == expected
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_paused_in_overlapping_threads_runs_again_after_the_last():
    # Blocks of two threads that overlap: the first to end turned the collector on
    # inside the other.
    import gc
    import threading

    from sksplice._gc import gc_paused

    inside, leave_a, a_left, seen = threading.Event(), threading.Event(), threading.Event(), {}

    def a():
        with gc_paused():
            inside.set()
            leave_a.wait(5)
        a_left.set()

    assert gc.isenabled()
    thread = threading.Thread(target=a)
    thread.start()
    inside.wait(5)
    with gc_paused():
        leave_a.set()
        a_left.wait(5)
        seen["inside B after A left"] = gc.isenabled()
    thread.join(5)
    assert seen == {"inside B after A left": False}
    assert gc.isenabled()
    with gc_paused(), gc_paused():  # (nested in one thread)
        assert not gc.isenabled()
    assert gc.isenabled()


def test_top_concepts_sort_the_rows_together(splicer, monkeypatch):
    """One argsort per group of rows of similar lengths, not one per row (100k rows:
    2.6-5.9 s row by row)."""
    W = _weights_matrix(300, np.float64)
    expected = _reference_top(splicer, W, 5)
    calls = []
    argsort = np.argsort

    def counting(*args, **kwargs):
        calls.append(1)
        return argsort(*args, **kwargs)

    monkeypatch.setattr(np, "argsort", counting)
    assert splicer.top_concepts(W, k=5) == expected
    assert len(calls) <= 10  # (rows of 1-40 weights: 6 groups by bit length)
