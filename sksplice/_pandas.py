"""pandas sparse DataFrames whose unstored entries are zeros, on every pandas version.

``DataFrame.sparse.from_spmatrix`` gives the unstored entries of a float matrix a
missing value (NaN) instead of zero in pandas 3.0.x (pandas-dev/pandas#59212,
fixed in 3.1), so the same concept weights would read as NaN there. These helpers
build frames whose sparse columns have fill value 0 everywhere and refuse to read
frames whose unstored entries are anything but zero: a NaN fill value may stand
for missing values, and reading those as zeros would silently change the data.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp


@functools.cache
def _from_spmatrix_fills_zero() -> bool:
    """Whether this pandas' ``DataFrame.sparse.from_spmatrix`` fills with zero."""
    import pandas as pd

    probe = pd.DataFrame.sparse.from_spmatrix(sp.csc_matrix((1, 1), dtype=np.float64))
    return _is_zero(probe.dtypes.iloc[0].fill_value)


def _is_zero(value: Any) -> bool:
    """Whether a fill value is zero (False for NaN, ``pd.NA`` and anything else)."""
    try:
        return bool(value == 0)
    except TypeError:  # pd.NA == 0 is pd.NA, whose truth value is ambiguous
        return False


def _column_arrays(csc: sp.csc_matrix) -> list[Any]:
    """One pandas SparseArray (fill value 0) per column of a CSC matrix (sorted indices)."""
    import pandas as pd

    n_rows, n_cols = csc.shape
    zero = csc.dtype.type(0)
    indptr, indices, data = csc.indptr, csc.indices.astype(np.int32), csc.data
    spans = [(indptr[j], indptr[j + 1]) for j in range(n_cols)]
    if hasattr(pd.arrays.SparseArray, "from_indices"):  # pandas >= 3.1
        return [
            pd.arrays.SparseArray.from_indices(
                data[a:b], indices[a:b], n_rows, fill_value=zero, dtype=csc.dtype
            )
            for a, b in spans
        ]
    # pandas 3.0.x: what from_spmatrix itself does; about 3x faster than slicing columns.
    from pandas._libs.sparse import IntIndex

    dtype = pd.SparseDtype(csc.dtype, zero)
    return [
        pd.arrays.SparseArray(data[a:b], sparse_index=IntIndex(n_rows, indices[a:b]), dtype=dtype)
        for a, b in spans
    ]


def is_polars_frame(X: Any) -> bool:
    """Whether ``X`` is a polars DataFrame (without importing polars)."""
    polars = sys.modules.get("polars")  # (a polars frame exists only once polars is imported)
    return polars is not None and isinstance(X, polars.DataFrame)


def as_pandas(X: Any) -> Any:
    """A polars DataFrame as a pandas DataFrame of the same column names and values.

    The weights of ``set_output(transform="polars")`` name their concepts by their
    columns, as a pandas DataFrame does; the functions that read weights by their
    column names take them through this (read as a bare array, a polars frame whose
    columns were selected or reordered would be read by position, each column as
    another concept). Anything else is returned as it is.

    Parameters
    ----------
    X : object
        Any input; only a ``polars.DataFrame`` is converted.

    Returns
    -------
    object
        ``X``, or a pandas DataFrame with ``X.columns`` as its columns.
    """
    if not is_polars_frame(X):
        return X
    import pandas as pd

    return pd.DataFrame(X.to_numpy(), columns=pd.Index(list(X.columns), dtype=object))


def transform_output(estimator: Any) -> str | None:
    """The container ``transform`` of ``estimator`` is asked to return.

    What ``estimator.set_output(transform=...)`` set, else scikit-learn's
    global ``transform_output`` setting (``"default"``, ``"pandas"``, ...).

    Parameters
    ----------
    estimator : object
        An estimator with scikit-learn's ``set_output`` (or without: then only
        the global setting counts).

    Returns
    -------
    str or None
        The setting, e.g. ``"default"`` or ``"pandas"``.
    """
    from sklearn import get_config

    config = getattr(estimator, "_sklearn_output_config", {})
    return config.get("transform", get_config()["transform_output"])


def sparse_frame(W: Any, columns: Sequence[Any] | np.ndarray, index: Any = None) -> Any:
    """A DataFrame of pandas sparse columns (fill value 0) holding the sparse matrix ``W``.

    Parameters
    ----------
    W : scipy sparse matrix of shape (n_samples, n_columns)
        The values; unstored entries are zeros.
    columns : sequence of length n_columns
        Column labels (the name of a pandas Index is kept).
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
        csc = sp.csc_matrix(W, copy=True)
        csc.sum_duplicates()  # sorted, unique row indices in every column
        frame = pd.DataFrame(
            dict(enumerate(_column_arrays(csc))), index=pd.RangeIndex(csc.shape[0])
        )
    frame.columns = pd.Index(list(columns), dtype=object, name=getattr(columns, "name", None))
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


def frame_values(frame: Any, name: str = "X") -> Any:
    """The values of a DataFrame of numbers: a CSR matrix for pandas sparse columns
    (:func:`sparse_frame_to_csr`); a float64 array for numeric columns of pandas'
    nullable dtypes, their missing values (``pd.NA``) NaN; else ``frame.to_numpy()``."""
    if is_sparse_frame(frame):
        return sparse_frame_to_csr(frame, name)
    import pandas as pd

    dtypes = list(frame.dtypes)
    if any(pd.api.types.is_extension_array_dtype(t) for t in dtypes) and all(
        pd.api.types.is_numeric_dtype(t) for t in dtypes
    ):
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return frame.to_numpy()


def sparse_frame_to_csr(frame: Any, name: str = "X") -> sp.csr_matrix:
    """The CSR matrix of a DataFrame of pandas sparse columns whose fill value is 0.

    Raises
    ------
    ValueError
        When a column's fill value is not zero (NaN, ``pd.NA`` or any other value),
        naming the column: its unstored entries are not zeros. Frames made by
        ``DataFrame.sparse.from_spmatrix`` of pandas 3.0.x are such frames.
    """
    for column, dtype in zip(frame.columns, frame.dtypes, strict=True):
        fill = dtype.fill_value
        if not _is_zero(fill):
            raise ValueError(
                f"{name} has sparse column {column!r} with fill value {fill!r}: its unstored "
                "entries are not zeros (pandas 3.0.x's DataFrame.sparse.from_spmatrix makes "
                "such frames, with NaN). Pass the scipy sparse matrix instead, a DataFrame "
                "whose sparse columns have fill value 0, or a dense DataFrame"
            )
    if frame.shape[1] == 0:
        return sp.csr_matrix((frame.shape[0], 0), dtype=np.float64)
    W = _csr_of_columns(frame)
    if W is None:
        W = sp.csr_matrix(frame.sparse.to_coo())
    if not (np.issubdtype(W.dtype, np.number) or W.dtype == bool):
        raise TypeError(f"{name} must hold numbers; its sparse columns hold {W.dtype}")
    return W


def _csr_of_columns(frame: Any) -> sp.csr_matrix | None:
    """The CSR matrix of the sparse columns of ``frame`` (fill value 0), built at once.

    What ``sp.csr_matrix(frame.sparse.to_coo())`` gives (same values, dtype,
    index arrays and explicit zeros), without the Series that pandas makes of
    every column: 1.2 s for a frame of 10k columns whatever its rows, against
    0.05 s here. ``None`` where the columns differ in dtype or hold no numbers
    (``to_coo`` decides the common dtype and the errors there).
    """
    iter_arrays = getattr(frame, "_iter_column_arrays", None)  # (no Series per column)
    arrays = list(iter_arrays()) if iter_arrays is not None else [c.array for _, c in frame.items()]
    dtype = arrays[0].dtype.subtype
    if not (np.issubdtype(dtype, np.number) or dtype == np.dtype(bool)) or any(
        a.dtype.subtype != dtype for a in arrays
    ):
        return None
    rows = [a.sp_index.indices for a in arrays]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    csc = sp.csc_matrix(
        (np.concatenate([a.sp_values for a in arrays]), np.concatenate(rows), indptr),
        shape=frame.shape,
    )
    return csc.tocsr()


def in_order_of(X: Any, names: Any) -> Any:
    """A pandas or polars frame whose columns are ``names`` in another order, with its
    columns in the order of ``names`` (selected by name, as ``inverse_transform`` reads
    weights); anything else as it is."""
    pandas = sys.modules.get("pandas")  # (a frame exists only once its library is imported)
    pandas_frame = pandas is not None and isinstance(X, pandas.DataFrame)
    if not (pandas_frame or is_polars_frame(X)) or names is None:
        return X
    columns = list(X.columns)
    text, mine = [str(c) for c in columns], [str(n) for n in names]
    if text == mine or len(set(text)) != len(text) or sorted(text) != sorted(mine):
        return X
    label = dict(zip(text, columns))
    ordered = [label[name] for name in mine]
    return X.select(ordered) if is_polars_frame(X) else X[ordered]
