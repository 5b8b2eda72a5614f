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


def test_nan_filled_frame_reads_as_zeros(W):
    """What pandas 3.0.x's from_spmatrix makes: NaN fill, the stored values as given."""
    csc = W.tocsc()
    columns = {}
    for j in range(csc.shape[1]):
        dense = np.full(csc.shape[0], np.nan)
        col = csc[:, [j]]
        dense[col.indices] = col.data
        columns[f"c{j}"] = pd.arrays.SparseArray(dense, fill_value=np.nan)
    frame = pd.DataFrame(columns)
    assert np.isnan(frame.dtypes.iloc[0].fill_value)
    back = _pandas.sparse_frame_to_csr(frame)
    np.testing.assert_array_equal(back.toarray(), W.toarray())


def test_block_index_columns_read_correctly():
    dense = np.array([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0], [3.0, 4.0]])
    frame = pd.DataFrame(
        {
            "p": pd.arrays.SparseArray(dense[:, 0], fill_value=0.0, kind="block"),
            "q": pd.arrays.SparseArray(dense[:, 1], fill_value=0.0, kind="integer"),
        }
    )
    np.testing.assert_array_equal(_pandas.sparse_frame_to_csr(frame).toarray(), dense)


def test_non_zero_fill_value_is_refused_by_name():
    frame = pd.DataFrame(
        {
            "fine": pd.arrays.SparseArray([0.0, 1.0], fill_value=0.0),
            "ones": pd.arrays.SparseArray([1.0, 2.0], fill_value=1.0),
        }
    )
    with pytest.raises(ValueError, match=r"W has sparse column 'ones' with fill value 1\.0"):
        _pandas.sparse_frame_to_csr(frame, "W")


def test_is_sparse_frame():
    sparse = pd.DataFrame({"a": pd.arrays.SparseArray([0.0, 1.0], fill_value=0.0)})
    assert _pandas.is_sparse_frame(sparse)
    assert not _pandas.is_sparse_frame(pd.DataFrame({"a": [0.0, 1.0]}))
    mixed = sparse.assign(b=[1.0, 2.0])
    assert not _pandas.is_sparse_frame(mixed)
    assert not _pandas.is_sparse_frame(pd.DataFrame(index=[0, 1]))
    assert not _pandas.is_sparse_frame(np.zeros((2, 2)))


def test_transformer_and_editor_pandas_output_hold_zeros(monkeypatch, W):
    """The estimators' pandas output, on the column-by-column path too."""
    from sksplice import ConceptEditor, SpliceTransformer

    rng = np.random.default_rng(1)
    concepts = [f"concept{i}" for i in range(12)]
    emb = rng.standard_normal((12, 6))
    X = np.abs(rng.standard_normal((9, 12))) @ emb
    probe = _pandas._from_spmatrix_fills_zero
    for fills_zero in (True, False):
        probe.cache_clear()
        if not fills_zero:
            monkeypatch.setattr(_pandas, "_from_spmatrix_fills_zero", lambda: False)
        splice = SpliceTransformer(
            vocabulary=concepts, concept_embeddings=emb, l1_penalty=0.05, device="cpu"
        ).fit(X)
        W_csr = splice.transform(X)
        out = splice.set_output(transform="pandas").transform(X)
        assert all(t.fill_value == 0 for t in out.dtypes)
        np.testing.assert_array_equal(out.sparse.to_dense().to_numpy(), W_csr.toarray())
        editor = ConceptEditor(remove=["concept0"], splice=splice).fit(out)
        edited = editor.set_output(transform="pandas").transform(out)
        assert all(t.fill_value == 0 for t in edited.dtypes)
        assert (edited["concept0"] == 0).all()
        np.testing.assert_allclose(splice.inverse_transform(out), splice.inverse_transform(W_csr))
    probe.cache_clear()
