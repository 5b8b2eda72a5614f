"""pandas sparse DataFrames whose unstored entries are zeros, on every pandas version.

``DataFrame.sparse.from_spmatrix`` gives the unstored entries of a float matrix a
missing value (NaN) instead of zero in pandas 3.0.x (pandas-dev/pandas#59212,
fixed in 3.1), so the same concept weights would read as NaN there. These helpers
build frames whose sparse columns have fill value 0 everywhere and refuse to read
frames whose unstored entries are anything but zero.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp


@functools.cache
def _from_spmatrix_fills_zero() -> bool:
    """Whether this pandas' ``DataFrame.sparse.from_spmatrix`` fills with zero."""
    import pandas as pd

    probe = pd.DataFrame.sparse.from_spmatrix(sp.csc_matrix((1, 1), dtype=np.float64))
    fill = probe.dtypes.iloc[0].fill_value
    return bool(fill == 0)


def sparse_frame(W: Any, columns: Sequence[Any], index: Any = None) -> Any:
    """A DataFrame of pandas sparse columns (fill value 0) holding the sparse matrix ``W``.

    Parameters
    ----------
    W : scipy sparse matrix of shape (n_samples, n_columns)
        The values; unstored entries are zeros.
    columns : sequence of length n_columns
        Column labels.
    index : pandas Index or None, default=None
        Row labels (a RangeIndex when None).

    Returns
    -------
    pandas.DataFrame
        One ``Sparse[dtype, 0]`` column per column of ``W``.
    """
    import pandas as pd

    # Built with positional column labels, then labelled: from_spmatrix mixes up the
    # columns of duplicate labels.
    if _from_spmatrix_fills_zero():
        frame = pd.DataFrame.sparse.from_spmatrix(W)
    else:
        csc = sp.csc_matrix(W)
        arrays = {j: pd.arrays.SparseArray.from_spmatrix(csc[:, [j]]) for j in range(csc.shape[1])}
        frame = pd.DataFrame(arrays, index=pd.RangeIndex(csc.shape[0]))
    frame.columns = pd.Index(list(columns), dtype=object)
    if index is not None:
        frame.index = index
    return frame


def is_sparse_frame(X: Any) -> bool:
    """Whether ``X`` is a DataFrame whose columns are all pandas sparse columns."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "sparse") or not hasattr(X, "columns"):
        return False
    import pandas as pd

    return len(dtypes) > 0 and all(isinstance(t, pd.SparseDtype) for t in dtypes)


def sparse_frame_to_csr(frame: Any, name: str = "X") -> sp.csr_matrix:
    """The CSR matrix of a DataFrame of pandas sparse columns.

    Unstored entries are zeros when the column's fill value is 0, and also when
    it is NaN: that is what ``DataFrame.sparse.from_spmatrix`` of pandas 3.0.x
    makes of a scipy matrix's zeros, and concept weights have no missing values.

    Raises
    ------
    ValueError
        When a column's fill value is anything else, naming the column: its
        unstored entries are not zeros, so the frame is no sparse matrix.
    """
    n_rows = frame.shape[0]
    rows, cols, vals = [], [], []
    for j, (column, dtype) in enumerate(zip(frame.columns, frame.dtypes, strict=True)):
        fill = dtype.fill_value
        if not (fill == 0 or (isinstance(fill, float) and np.isnan(fill))):
            raise ValueError(
                f"{name} has sparse column {column!r} with fill value {fill!r}: its unstored "
                "entries are not zeros. Pass the scipy sparse matrix instead, a DataFrame "
                "whose sparse columns have fill value 0, or a dense DataFrame"
            )
        array = frame.iloc[:, j].array
        rows.append(np.asarray(array.sp_index.to_int_index().indices, dtype=np.int64))
        cols.append(np.full(rows[-1].shape, j, dtype=np.int64))
        vals.append(np.asarray(array.sp_values))
    if not vals:
        return sp.csr_matrix((n_rows, 0), dtype=np.float64)
    data = np.concatenate(vals)
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise TypeError(f"{name} must hold numbers; its sparse columns hold {data.dtype}")
    return sp.csr_matrix(
        (data, (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, frame.shape[1])
    )
