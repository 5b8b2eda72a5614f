"""Sparse DataFrames hold zeros, not missing values, on every pandas version.

pandas 3.0.x's ``DataFrame.sparse.from_spmatrix`` fills the unstored entries of a
float matrix with NaN (pandas-dev/pandas#59212); the helpers in
``sksplice._pandas`` must give the same frames whichever path they take.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sksplice import _pandas


@pytest.fixture
def W():
    rng = np.random.default_rng(0)
    M = sp.random(7, 5, density=0.3, format="csr", random_state=rng)
    M[0, 0] = 0.5  # at least one stored value in column 0
    return sp.csr_matrix(M)


@pytest.fixture(params=["from_spmatrix", "column_by_column"])
def frame_path(request, monkeypatch):
    """Run a test on both construction paths, whatever this pandas does."""
    probe = _pandas._from_spmatrix_fills_zero
    probe.cache_clear()
    if request.param == "column_by_column":
        monkeypatch.setattr(_pandas, "_from_spmatrix_fills_zero", lambda: False)
    elif not probe():
        pytest.skip(f"pandas {pd.__version__} from_spmatrix fills with NaN (the other path)")
    yield request.param
    probe.cache_clear()


def test_sparse_frame_holds_zeros(W, frame_path):
    index = pd.Index([f"row{i}" for i in range(W.shape[0])])
    frame = _pandas.sparse_frame(W, ["a", "b", "c", "d", "e"], index=index)
    assert list(frame.columns) == ["a", "b", "c", "d", "e"]
    assert frame.index.equals(index)
    for dtype in frame.dtypes:
        assert isinstance(dtype, pd.SparseDtype)
        assert dtype.fill_value == 0
    dense = frame.sparse.to_dense().to_numpy()
    assert not np.isnan(dense).any()
    np.testing.assert_array_equal(dense, W.toarray())
    assert frame.sparse.density == pytest.approx(W.nnz / np.prod(W.shape))
    back = _pandas.sparse_frame_to_csr(frame)
    assert (back != W).nnz == 0


def test_sparse_frame_keeps_duplicate_and_non_string_labels(W, frame_path):
    frame = _pandas.sparse_frame(W, [3, 3, "x", None, 1.5])
    assert list(frame.columns) == [3, 3, "x", None, 1.5]
    # (pandas' own frame.sparse.to_dense mixes up duplicate labels; read by position.)
    columns = [frame.iloc[:, j].sparse.to_dense().to_numpy() for j in range(frame.shape[1])]
    np.testing.assert_array_equal(np.column_stack(columns), W.toarray())
    np.testing.assert_array_equal(_pandas.sparse_frame_to_csr(frame).toarray(), W.toarray())


@pytest.mark.parametrize(
    "fill", [np.nan, np.float32(np.nan), pd.NA, 1.0], ids=["nan", "float32-nan", "NA", "one"]
)
def test_non_zero_fill_is_refused_by_name(fill):
    """Unstored entries that are not zeros (a NaN fill may mean missing values)."""
    dtype = "Float64" if fill is pd.NA else ("float32" if isinstance(fill, np.float32) else float)
    values = pd.array([0.5, fill, fill], dtype=dtype)
    frame = pd.DataFrame(
        {
            "fine": pd.arrays.SparseArray([0.0, 1.0, 0.0], fill_value=0.0),
            "gappy": pd.arrays.SparseArray(values, fill_value=fill),
        }
    )
    assert _pandas.is_sparse_frame(frame)
    with pytest.raises(ValueError, match=r"W has sparse column 'gappy' with fill value"):
        _pandas.sparse_frame_to_csr(frame, "W")


def test_from_spmatrix_frames_are_read_or_refused_clearly(W):
    """A user's own from_spmatrix frame: read where pandas fills with 0, refused where NaN."""
    frame = pd.DataFrame.sparse.from_spmatrix(W)
    if _pandas._from_spmatrix_fills_zero():
        assert (_pandas.sparse_frame_to_csr(frame) != W).nnz == 0
    else:
        with pytest.raises(ValueError, match=r"from_spmatrix makes such frames"):
            _pandas.sparse_frame_to_csr(frame)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, bool])
def test_sparse_frame_keeps_the_subtype(dtype, frame_path):
    M = sp.csr_matrix(np.array([[0, 2, 0], [3, 0, 0], [0, 0, 0], [1, 0, 4]], dtype=dtype))
    frame = _pandas.sparse_frame(M, pd.Index(["a", "b", "c"], name="concept"))
    assert frame.columns.name == "concept"
    for t in frame.dtypes:
        assert t.subtype == np.dtype(dtype)
        assert _pandas._is_zero(t.fill_value)
    back = _pandas.sparse_frame_to_csr(frame)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.toarray(), M.toarray())


def test_sparse_frame_of_unsorted_duplicate_entries(frame_path):
    """A COO-built matrix with unsorted and repeated entries: values add up, as in scipy."""
    M = sp.coo_matrix(([1.0, 2.0, 3.0], ([2, 0, 2], [1, 1, 1])), shape=(3, 2))
    frame = _pandas.sparse_frame(M, ["x", "y"])
    np.testing.assert_array_equal(_pandas.sparse_frame_to_csr(frame).toarray(), M.toarray())


def test_block_index_columns_read_correctly():
    dense = np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0], [3.0, 4.0]])
    frame = pd.DataFrame(
        {
            "p": pd.arrays.SparseArray(dense[:, 0], fill_value=0.0, kind="block"),
            "q": pd.arrays.SparseArray(dense[:, 1], fill_value=0.0, kind="integer"),
        }
    )
    np.testing.assert_array_equal(_pandas.sparse_frame_to_csr(frame).toarray(), dense)


def test_is_sparse_frame():
    sparse = pd.DataFrame({"a": pd.arrays.SparseArray([0.0, 1.0], fill_value=0.0)})
    assert _pandas.is_sparse_frame(sparse)
    assert not _pandas.is_sparse_frame(pd.DataFrame({"a": [0.0, 1.0]}))
    mixed = sparse.assign(b=[1.0, 2.0])
    assert not _pandas.is_sparse_frame(mixed)
    assert not _pandas.is_sparse_frame(pd.DataFrame(index=[0, 1]))
    assert not _pandas.is_sparse_frame(np.zeros((2, 2)))


def test_transformer_and_editor_pandas_output_hold_zeros(frame_path):
    """The estimators' pandas output, on both construction paths."""
    from sksplice import ConceptEditor, SpliceTransformer

    rng = np.random.default_rng(1)
    concepts = [f"concept{i}" for i in range(12)]
    emb = rng.standard_normal((12, 6))
    X = np.abs(rng.standard_normal((9, 12))) @ emb
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=emb, l1_penalty=0.05, device="cpu"
    ).fit(X)
    W_csr = splice.transform(X)
    assert 0 < W_csr.nnz < np.prod(W_csr.shape)  # zeros to fill, values to keep
    out = splice.set_output(transform="pandas").transform(X)
    assert all(t.fill_value == 0 for t in out.dtypes)
    np.testing.assert_array_equal(out.sparse.to_dense().to_numpy(), W_csr.toarray())
    editor = ConceptEditor(remove=["concept0"], splice=splice).fit(out)
    edited = editor.set_output(transform="pandas").transform(out)
    assert all(t.fill_value == 0 for t in edited.dtypes)
    assert (edited["concept0"] == 0).all()
    np.testing.assert_allclose(splice.inverse_transform(out), splice.inverse_transform(W_csr))


def _same_csr(got, expected):
    assert got.format == "csr" and got.shape == expected.shape and got.dtype == expected.dtype
    for name in ("data", "indices", "indptr"):  # values, stored zeros and index dtypes
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, bool])
def test_sparse_frame_to_csr_is_to_coo_without_a_series_per_column(dtype, monkeypatch):
    """The matrix of pandas' to_coo, built from the columns' arrays at once (to_coo makes
    a Series of every column: ~1 s a call for 10k columns, however few the rows)."""
    rng = np.random.default_rng(2)
    M = sp.random(40, 30, density=0.15, format="lil", random_state=rng).astype(dtype)
    M[:, [0, 4, 29]] = 0  # empty columns, first and last among them
    M[3, :] = 0  # and an empty row
    M = sp.csr_matrix(M)
    if dtype is not bool:
        M.data[::9] = 0  # stored zeros, kept as to_coo keeps them
    frame = _pandas.sparse_frame(M, [f"c{j}" for j in range(30)])
    # columns taken in the frame's order, not in the order pandas stores them
    shuffled = frame.iloc[:, rng.permutation(30)]
    frames = [frame, shuffled, frame.iloc[:0]]
    expected = [sp.csr_matrix(f.sparse.to_coo()) for f in frames]
    accessor = type(frame.sparse)

    def refuse(self):
        raise AssertionError("to_coo makes a Series of every column")

    monkeypatch.setattr(accessor, "to_coo", refuse)
    for f, csr in zip(frames, expected, strict=True):
        _same_csr(_pandas.sparse_frame_to_csr(f), csr)


def test_sparse_frame_to_csr_of_mixed_dtypes_is_to_coo():
    """Columns of different dtypes: to_coo's common dtype (float64 for float32 and int32)."""
    frame = pd.DataFrame(
        {
            "a": pd.arrays.SparseArray(np.array([0.0, 1.5, 0.0], np.float32), fill_value=0.0),
            "b": pd.arrays.SparseArray(np.array([2, 0, 0], np.int32), fill_value=0),
        }
    )
    got = _pandas.sparse_frame_to_csr(frame)
    assert got.dtype == np.float64
    _same_csr(got, sp.csr_matrix(frame.sparse.to_coo()))
