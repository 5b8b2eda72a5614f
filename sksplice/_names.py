"""Concept names given twice: by the data (frame columns, a model's inputs) and by an argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def carried_names(labels: Any) -> np.ndarray | None:
    """The names a DataFrame's columns (or a Series' index) carry; None for bare positions.

    A frame built from an array without names has a ``RangeIndex`` of
    positions (0, 1, ...), which name nothing.
    """
    import pandas as pd

    if labels is None or isinstance(labels, pd.RangeIndex):
        return None
    return np.asarray(list(labels), dtype=object)


def reconcile_names(
    given: np.ndarray, carried: np.ndarray | None, given_what: str, carried_what: str
) -> np.ndarray:
    """The names of the data's columns when the data and an argument both name them.

    The same names in the same order: those. The same concepts in another order
    (a frame whose columns were reordered): the data's own names, which say what
    each column holds. Other names: a ``ValueError`` naming the first column
    that differs, as labelling the columns by position would put the wrong
    concept names on them.

    Parameters
    ----------
    given : ndarray of shape (n_columns,)
        The names of the argument (``concepts=``, ``feature_names=``).
    carried : ndarray of shape (n_columns,) or None
        The names the data carry (None: the data name nothing).
    given_what, carried_what : str
        How the two are called in the error message.

    Returns
    -------
    ndarray of shape (n_columns,)
        The names of the data's columns.
    """
    if carried is None or np.array_equal(given.astype(str), carried.astype(str)):
        return given
    same = given.shape == carried.shape and len(set(map(str, carried))) == carried.shape[0]
    if same and set(map(str, given)) == set(map(str, carried)):
        return carried
    differ = [j for j, (a, b) in enumerate(zip(given, carried)) if str(a) != str(b)]
    j = differ[0] if differ else min(given.shape[0], carried.shape[0])
    shown_given = repr(given[j]) if j < given.shape[0] else "nothing"
    shown_carried = repr(carried[j]) if j < carried.shape[0] else "nothing"
    raise ValueError(
        f"{carried_what} and {given_what} name different concepts: column {j} is "
        f"{shown_carried} in {carried_what} but {shown_given} in {given_what}; the "
        "columns would be mislabelled. Give the names of these columns, or leave "
        f"{given_what} out to use {carried_what}"
    )
