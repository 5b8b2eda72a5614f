"""Concept names given twice: by the data (frame columns, a model's inputs) and by an argument."""

from __future__ import annotations

import re
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
    (a frame whose columns were reordered): the argument's names in the data's
    order, as the data say what each column holds. Names of which only some are
    the argument's: a ``ValueError`` naming the first column that differs, as
    labelling the columns by position would put the wrong concept names on
    them. Names none of which are the argument's: the argument's names where
    the data's only number the columns (positions such as ``0``, ``"0"``, or
    ``x0`` made up by a step fitted on unnamed columns), which they do not
    contradict; else a ``ValueError`` as well.

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
    if carried is None or carried.shape != given.shape:
        return given
    given_text = [str(name) for name in given]
    carried_text = [str(name) for name in carried]
    if given_text == carried_text:
        return given
    shared = set(given_text) & set(carried_text)
    if not shared:
        if _positions(carried_text):
            return given
        raise ValueError(
            f"{carried_what} and {given_what} name different concepts: column 0 is "
            f"{_shown(carried[0])} in {carried_what} but {_shown(given[0])} in "
            f"{given_what}, and no name of {carried_what} is in {given_what}; the columns would be "
            "mislabelled. Give the names of these columns, in their order"
        )
    if len(shared) == len(set(given_text)) == len(given_text) == len(set(carried_text)):
        by_text = dict(zip(given_text, given))
        return np.asarray([by_text[name] for name in carried_text], dtype=object)
    j = next(k for k, (a, b) in enumerate(zip(given_text, carried_text)) if a != b)
    raise ValueError(
        f"{carried_what} and {given_what} name different concepts: column {j} is "
        f"{_shown(carried[j])} in {carried_what} but {_shown(given[j])} in {given_what}; the "
        "columns would be mislabelled. Give the names of these columns, in their order"
    )


def _shown(name: Any) -> str:
    """``repr`` of a name, numpy strings as plain ones (``'dog'``, not ``np.str_('dog')``)."""
    return repr(str(name)) if isinstance(name, str) else repr(name)


def _positions(names: list[str]) -> bool:
    """Whether ``names`` only number the columns: numbers (``0, 1, 4``: positions, also
    of columns kept from a wider frame), or one prefix and numbers (``x0``, ``clip0``,
    ``pca0``: made up by a step fitted on unnamed columns)."""
    parts = [re.fullmatch(r"(.*?)(\d+)", name) for name in names]
    return all(parts) and len({part.group(1) for part in parts}) == 1


def close_matches(word: str, options: Any, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The ``options`` closest to a misspelt ``word``, closest first (case ignored).

    Candidates are those :func:`difflib.get_close_matches` finds at ``cutoff``,
    ranked by edit distance counting a swap of two neighbouring letters as one
    edit, then the same letters first (so ``"dgo"`` finds ``"dog"`` before
    ``"duo"``, ``"do"`` and ``"go"``), then by how little the length changes,
    then by difflib's similarity.
    """
    import difflib

    lowered: dict[str, str] = {}
    for option in options:
        lowered.setdefault(str(option).lower(), str(option))
    key = str(word).lower()
    found = difflib.get_close_matches(key, list(lowered), n=max(4 * n, 20), cutoff=cutoff)

    def rank(candidate: str) -> tuple[int, bool, int, float]:
        ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
        same_letters = sorted(candidate) == sorted(key)  # a swap, not another letter
        return _edits(key, candidate), not same_letters, abs(len(candidate) - len(key)), -ratio

    return [lowered[c] for c in sorted(found, key=rank)[:n]]


def _edits(a: str, b: str) -> int:
    """Edit distance of ``a`` and ``b``: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def a_type(value: Any) -> str:
    """The type of ``value`` with its article, for messages: ``"an int"``, ``"a float"``,
    ``"None"``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
