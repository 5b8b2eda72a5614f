"""Concept statistics over a labelled dataset: profiles and spurious-correlation ranking.

Both functions take concept weights ``W`` of shape (n_samples, n_concepts) as
produced by :class:`sksplice.transformer.SpliceTransformer` (scipy CSR, dense
array or pandas DataFrame). Sparse input is never densified: per-class sums
add each stored weight into a (class, concept) table, so the cost is proportional
to the number of non-zero weights.

A concept is *present* in a sample when its weight is non-zero; its
*prevalence* in a group of samples is the fraction of samples where it is
present.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from ._dask import is_dask_collection
from ._fisher import fisher_exact_pvalues, smallest_p_value
from ._names import ALL_GROUP as _ALL_GROUP
from ._names import (
    Found,
    carried_names,
    check_concept_names,
    check_source,
    label_hint,
    listed,
    plural,
    reconcile_names,
    recorded,
    recorded_makers,
    unnamed_hint,
)
from ._pandas import as_pandas, frame_values
from ._provenance import check_one_decomposition
from ._validation import (
    alike_labels,
    alike_labels_message,
    check_finite_rows,
    check_flag,
    check_int,
    check_label_index,
    check_labels,
    check_non_negative_rows,
    check_number,
    check_option,
    find_label,
    refuse_estimator,
    row_labels,
    shown_label,
)

__all__ = [
    "ALL_GROUP",
    "TooFewSamplesWarning",
    "concept_profiles",
    "rank_concepts",
    "rank_each_class",
]

#: Name of the column group holding statistics over the whole dataset.
ALL_GROUP = _ALL_GROUP

#: Adjusted p-values within this relative distance of ``alpha`` count as ``alpha`` itself
#: (not significant): the exact test's p-value is a sum of probabilities in floating
#: point, and an exact 1/20 comes out as 0.049999999999999975.
_ALPHA_RTOL = 1e-9


def _below_alpha(p: Any, alpha: float) -> Any:
    """Whether the p-values ``p`` are below ``alpha``, those within :data:`_ALPHA_RTOL`
    (relative) of it counting as ``alpha`` itself (see there)."""
    return np.asarray(p) < alpha * (1.0 - _ALPHA_RTOL)


class TooFewSamplesWarning(UserWarning):
    """Groups too small for any concept to be significant, whatever the counts.

    Fisher's exact test gives no p-value below that of a concept in every sample of
    one group and in none of the other (``1 / C(n1 + n2, n1)`` one-sided): for one
    sample against two that is 1/3, so at ``alpha=0.05`` no concept can be
    significant, and a table without significant concepts says nothing about such a
    group. A correction for the number of tests can raise that floor: Bonferroni's
    over 10,000 tests multiplies it by 10,000, as Holm's does in one comparison (over
    several classes' tests, by the tests of the classes that cannot come before;
    Benjamini-Hochberg's leaves it), and a group of 3 samples against 30 (one-sided
    floor 1/5,456) is then too small as well. ``groups`` lists each one as ``(group,
    samples, samples compared with, smallest p-value)``, that p-value after the
    correction; tables record the test's own of every group in
    ``attrs["smallest_p_value"]`` and the smallest adjusted p-value the correction
    can give in ``attrs["smallest_adjusted_p_value"]``.
    """

    def __init__(self, message: str, groups: list[tuple[Any, int, int, float]]) -> None:
        super().__init__(message)
        self.groups = groups

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self.args[0]) if self.args else "", self.groups), self.__dict__)


def _smallest_adjusted(smallest: float, n_tests: int, correction: str | None) -> float:
    """The smallest adjusted p-value that ``correction`` can give in a family of
    ``n_tests`` tests none of whose p-values is below ``smallest``: that of ``n_tests``
    p-values all equal to it (``n_tests`` times it for Bonferroni and Holm, whose first
    step multiplies the smallest by ``n_tests``; times ``sum(1/i)`` for
    Benjamini-Yekutieli; Benjamini-Hochberg's own)."""
    if n_tests < 1:
        return float(smallest)
    adjusted = _adjust_tied_pvalues(np.array([float(smallest)]), np.array([n_tests]), correction)
    return float(adjusted[0])


def _correction_phrase(correction: str | None, n_tests: int, each: bool = False) -> str:
    """``"the Holm correction over 1,800 tests"`` (with ``each``, ``"over each class's
    600 tests"``): how a warning names a correction that raised the smallest p-value
    possible."""
    over = f"each class's {n_tests:,} tests" if each else f"{n_tests:,} tests"
    return f"the {_correction_name(correction)} correction over {over}"


def _warn_too_few_samples(
    groups: list[tuple[Any, int, int, float]],
    alpha: float,
    what: str,
    against: str,
    corrected: str | None = None,
) -> None:
    """Warn (:class:`TooFewSamplesWarning`) about the ``groups`` (group, its samples,
    the samples it is compared with, the smallest p-value possible) where no concept
    can be significant at ``alpha``; ``what`` names a group in the message (``"class
    {}"``; several groups are classes), ``against`` what it is compared with (``"in
    the rest"``). ``corrected`` names the correction (:func:`_correction_phrase`)
    where it raised those p-values above the test's own."""
    untestable = [g for g in groups if not _below_alpha(g[3], alpha)]
    if not untestable:
        return
    from ._stack import warn_user

    def sizes(n: int, m: int) -> str:
        return f"{plural(n, 'sample')} against {m} {against}"

    test, needed = "Fisher's exact test gives no p-value", "more samples are needed"
    if corrected is not None:
        test = f"Fisher's exact test, with {corrected}, gives no adjusted p-value"
        needed = "more samples, or fewer tests (min_count), are needed"
    if len(untestable) == 1:
        group, n, m, p = untestable[0]
        said = (
            f"no concept of {what.format(shown_label(group))} can be significant at "
            f"alpha={alpha:g}: with {sizes(n, m)}, {test} below {p:.2g}, whatever the "
            f"counts. That none is significant says nothing about it; {needed}"
        )
    else:
        shown = listed(
            untestable,
            5,
            lambda g: f"{what.format(shown_label(g[0]))}, {sizes(g[1], g[2])}: {g[3]:.2g}",
            sep="; ",
            more="; and {} more",
        )
        said = (
            f"in none of {len(untestable)} classes can a concept be significant at "
            f"alpha={alpha:g}: for groups of their sizes {test} below the smallest given "
            f"here for each, whatever the counts ({shown}). That none is significant says "
            f"nothing about them; {needed}"
        )
    warn_user(TooFewSamplesWarning(said, untestable))


def _ranked_first(exact_diff: np.ndarray, alternative: str) -> np.ndarray:
    """The sort key (ascending) of a ranking's rows by their exact differences: the
    largest first, or with ``alternative="less"`` (concepts less frequent in the
    positive group) the most negative first, so that the rows at the top are those of
    the tested direction."""
    return exact_diff if alternative == "less" else -exact_diff


def _exact_difference(x1: np.ndarray, n1: float, x2: np.ndarray, n2: float) -> np.ndarray:
    """``x1/n1 - x2/n2`` scaled by ``n1 n2``, in integers (``x1 n2 - x2 n1``): equal
    differences of prevalences are equal here, where their floats can differ in the last
    bit, so that sorting by it is exact."""
    return x1.astype(np.int64) * int(n2) - x2.astype(np.int64) * int(n1)


_CORRECTIONS = ("fdr_bh", "fdr_by", "holm", "bonferroni", None)
#: The corrections of :data:`_CORRECTIONS` by name: in full, and as a legend says them.
_CORRECTION_NAMES = {
    "fdr_bh": ("Benjamini-Hochberg", "BH"),
    "fdr_by": ("Benjamini-Yekutieli", "BY"),
    "holm": ("Holm", "Holm"),
    "bonferroni": ("Bonferroni", "Bonferroni"),
}


def _correction_name(correction: object, *, short: bool = False) -> str | None:
    """The name of a multiple-testing correction (``"fdr_bh"``: ``"Benjamini-Hochberg"``,
    or ``"BH"`` where ``short``); None for one that is not among :data:`_CORRECTIONS`."""
    names = _CORRECTION_NAMES.get(correction) if isinstance(correction, str) else None
    return None if names is None else names[short]


#: The corrections of :data:`_CORRECTIONS` that control a false discovery rate.
_FALSE_DISCOVERY_RATES = ("fdr_bh", "fdr_by")
_ALTERNATIVES = ("greater", "two-sided", "less")


def _resolve_concepts(
    W: Any, concepts: Any, n_concepts: int, found: list[Found] | None = None
) -> np.ndarray:
    """Concept names for the columns of ``W``.

    Taken from ``concepts`` (a sequence of names, or a fitted object with
    ``get_feature_names_out``), else from the columns of a DataFrame ``W``.
    When both name the columns, they must name the same concepts (in another
    order, the frame's columns label the data; see :func:`reconcile_names`).
    ``found``: what :func:`~sksplice._names.recorded` gave for ``W``.
    """
    given = concepts is not None and not hasattr(concepts, "get_feature_names_out")
    width = getattr(concepts, "n_features_in_", None)  # (of a fitted SpliceTransformer)
    if concepts is not None and hasattr(concepts, "get_feature_names_out"):
        concepts = concepts.get_feature_names_out()
    if concepts is None:
        if isinstance(W, pd.DataFrame) and carried_names(W.columns) is not None:
            concepts = W.columns
        else:
            raise ValueError(
                "the concept weights carry no concept names: pass a pandas DataFrame whose "
                "columns are the concepts, or give `concepts=` (a list of names or a fitted "
                "SpliceTransformer)" + unnamed_hint(W)
            )
    if isinstance(concepts, str):
        raise TypeError("`concepts` must be a sequence of concept names, not a single string")
    if not isinstance(concepts, Iterable):
        raise TypeError(
            "`concepts` must be a sequence of concept names or a fitted SpliceTransformer, "
            f"got {type(concepts).__name__} {concepts!r}"
        )
    names = np.asarray(list(concepts), dtype=object)
    if names.ndim != 1 or names.shape[0] != n_concepts:
        embeddings = (
            f": {n_concepts} is the width of the embeddings the transformer decomposes, so "
            "these look like embeddings; pass their concept weights, W = "
            "splice.transform(X)"
            if n_concepts == width
            else ""
        )
        raise ValueError(
            f"`concepts` has {names.shape[0]} names but the weights have {n_concepts} "
            f"columns; there must be one name per column{embeddings}"
        )
    if given:
        # (a name that is not a string, or blank, labels no concept: None became NaN in
        # the tables' index)
        check_concept_names(names, "`concepts`", distinct=False, blank="name its column")
    if isinstance(W, pd.DataFrame):
        names = reconcile_names(names, carried_names(W.columns), "`concepts`", "the columns of W")
    else:
        check_source(W, names, "`concepts`", found)
    text = [str(name) for name in names]
    if len(set(text)) != len(text):  # (tables indexed by concept would hold a name twice)
        seen: dict[str, int] = {}
        for j, name in enumerate(text):
            if name in seen:
                raise ValueError(
                    f"the concept {name!r} names two columns ({seen[name]} and {j}): give each "
                    "column its own name"
                )
            seen[name] = j
    return names


#: What to do about weights of several decompositions analysed together.
_ONE_DECOMPOSITION = (
    "decompose all the rows with one fitted SpliceTransformer (fit it once, transform "
    "every collection with it) to compare their concepts"
)


def _concepts_of(W: Any, concepts: Any) -> np.ndarray:
    """:func:`_resolve_concepts` of ``W``, then a warning where the rows of bare weights
    ``W`` were made by decompositions that differ
    (:func:`~sksplice._provenance.check_one_decomposition`); the records of ``W`` are
    looked up once, for both."""
    found = None if isinstance(W, pd.DataFrame) else recorded(W)
    names = _resolve_concepts(W, concepts, _n_columns(W), found)
    if found is not None:  # (after the concepts: another vocabulary is an error first)
        check_one_decomposition([("W", recorded_makers(W, found))], _ONE_DECOMPOSITION)
    return names


def _n_columns(W: Any) -> int:
    shape = W.shape if hasattr(W, "shape") else np.shape(W)
    if len(shape) != 2:
        raise ValueError(
            f"concept weights must be a 2-D (n_samples, n_concepts) matrix, got shape {shape}"
        )
    return int(shape[1])


def _as_weights(W: Any, name: str | None = None) -> np.ndarray | sp.csr_matrix:
    """Validate ``W`` as a 2-D float matrix, keeping sparse input sparse (CSR).

    ``name`` is what the messages call ``W`` (``"W_a"``); by default, "concept
    weights" (and ``W`` for a DataFrame's column).
    """
    what = "concept weights" if name is None else name
    if is_dask_collection(W):
        # (np.asarray of the lazy array of transform_dask is an array of CSR blocks: it
        # read "must be numeric, got dtype object")
        raise TypeError(
            f"{what} {'are' if name is None else 'is'} a Dask collection (lazy): compute the "
            f"weights first, {name or 'W'}.compute() (for the array of transform_dask, a "
            "sparse matrix), "
            "or write them with sksplice.distributed.write_parquet and read back the rows "
            "needed"
        )
    labels = row_labels(W)
    if isinstance(W, pd.DataFrame):
        # (pandas sparse columns stay sparse; pd.NA becomes NaN, which the row check names)
        W = frame_values(W, "W" if name is None else name)
    if sp.issparse(W):
        W = sp.csr_matrix(W, dtype=np.float64)
        if not W.has_canonical_format:
            # one concept stored twice in a row is one weight, their sum (counted twice,
            # a class of one image had a prevalence of 2); sorted, as scipy keeps them
            W = W.copy()
            W.sum_duplicates()
    else:
        W = np.asarray(W)
        if np.issubdtype(W.dtype, np.complexfloating):
            raise ValueError(
                f"Complex data not supported: {what} must be real, got dtype {W.dtype}"
            )
        if W.dtype == object:  # (numbers held as objects are taken, as scikit-learn does)
            try:
                W = W.astype(np.float64)
            except (TypeError, ValueError) as error:
                raise TypeError(f"{what} must be numeric, got dtype object ({error})") from None
        elif not (np.issubdtype(W.dtype, np.number) or W.dtype == bool):
            raise TypeError(f"{what} must be numeric, got dtype {W.dtype}")
        W = W.astype(np.float64, copy=False)
    if W.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D (n_samples, n_concepts) matrix, got shape {W.shape}"
        )
    if W.shape[0] == 0:
        raise ValueError(f"{what} {'have' if name is None else 'has'} no rows (0 samples)")
    check_finite_rows(
        W,
        what,
        labels,
        hint="the weights SpliceTransformer.transform gives are finite: decompose the "
        "embeddings with it, or leave these rows out (and their labels)",
    )
    # (a negative weight would count as present in a prevalence; most often embeddings
    # given where their weights were meant: say how to get them)
    hint = "Embeddings are decomposed into weights first: W = splice.transform(X)"
    check_non_negative_rows(W, what, labels, hint=hint)
    return W


def _as_labels(y: Any, n_samples: int, W: Any = None) -> np.ndarray:
    """Labels checked against the ``n_samples`` rows of the weights ``W`` (as given: a
    DataFrame and a Series must be indexed alike, see :func:`check_label_index`)."""
    y = np.asarray(y) if np.ndim(y) == 0 else y
    if np.ndim(y) != 1:
        raise ValueError(f"labels `y` must be 1-D, got shape {np.shape(y)}")
    if len(y) != n_samples:
        raise ValueError(f"labels `y` have {len(y)} entries but the weights have {n_samples} rows")
    check_label_index(W, y)  # (labels go to rows by position)
    y = check_labels(y, "y")  # (missing or unorderable labels refused)
    alike = alike_labels(y)
    if alike:  # ("Temple" and "temple": two classes, each half of one, without a word)
        from ._stack import warn_user

        warn_user(
            alike_labels_message(alike, 'y = [" ".join(label.split()).casefold() for label in y]'),
            UserWarning,
        )
    return y


def _group_sums(W: np.ndarray | sp.csr_matrix, codes: np.ndarray, n_groups: int):
    """Per-group sums of weights and of presence indicators, each (n_groups, n_concepts).

    Each sum adds its group's rows in row order (in float64, from zero), as the
    product of a one-hot matrix of the groups with ``W`` does. For CSR weights the
    stored entries are added straight into a ``(group, concept)`` table, in the order
    they are stored, which is that order: the same floats without the product's
    sparse result and its copy of ``W`` (concept_profiles of 1,000,000 rows in 10
    classes: 0.6-0.9 s before, 0.3 s so, and half the memory).
    """
    n = W.shape[0]
    if sp.issparse(W):
        csr: Any = W  # (a sparse matrix: issparse does not narrow W's type)
        m = csr.shape[1]
        lengths = np.diff(csr.indptr)
        keys = np.repeat(np.asarray(codes, dtype=np.int64) * m, lengths)
        keys += csr.indices
        size = n_groups * m
        data = np.asarray(csr.data, dtype=np.float64)
        sums = np.bincount(keys, weights=data, minlength=size).reshape(n_groups, m)
        present = keys if data.all() else keys[data != 0]  # (stored zeros are absent)
        counts = np.bincount(present, minlength=size).astype(np.float64).reshape(n_groups, m)
        return sums, counts
    onehot = sp.csr_matrix(
        (np.ones(n), (codes, np.arange(n))), shape=(n_groups, n), dtype=np.float64
    )
    sums = np.asarray(onehot @ W)
    counts = np.asarray(onehot @ (W != 0).astype(np.float64))
    return sums, counts


def concept_profiles(
    W: Any,
    y: Any = None,
    concepts: Any = None,
    *,
    drop_empty: bool = False,
) -> pd.DataFrame:
    """Mean weight and prevalence of every concept, per class and over the whole dataset.

    Parameters
    ----------
    W : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
        Concept weights. Sparse input is not densified.
    y : array-like of shape (n_samples,) or None, default=None
        Class labels, matched to the rows of ``W`` by position. Without labels,
        only the dataset-wide group is returned. A pandas Series given with a
        DataFrame ``W`` must have the same index (same labels, same order).
    concepts : sequence of str, fitted transformer or None, default=None
        Concept names, one per column of ``W``, or a fitted object with
        ``get_feature_names_out`` (such as a SpliceTransformer). Defaults to
        the columns of ``W`` when it is a DataFrame. When both are given, a
        frame whose columns are these concepts in another order is labelled
        by its columns, and columns naming other concepts are refused
        (columns that are only positions, such as ``0``, ``1`` ..., name
        nothing).
    drop_empty : bool, default=False
        Drop concepts that are zero in every sample. Must be a bool.

    Returns
    -------
    profiles : pandas.DataFrame
        Indexed by concept name (in column order of ``W``). Columns are a
        two-level index ``(statistic, group)`` with statistics
        ``"mean_weight"`` and ``"prevalence"`` and groups ``"all"`` followed by
        the sorted class labels; ``profiles["prevalence"]`` is thus a
        concept-by-group table. A ``"count"`` statistic holds the number of
        samples in which the concept is present. ``profiles.attrs["n_samples"]``
        maps each group to its number of samples; with ``drop_empty``,
        ``profiles.attrs["dropped_empty"]`` is the number of concepts dropped.

    Raises
    ------
    ValueError
        If the weights carry no concept names, hold NaN, infinite or negative
        values, the labels do not match the rows (in number, or, for a Series
        with a DataFrame, in index: the message names the first position
        where the indexes differ and suggests ``y.loc[W.index]``), a class
        is named ``"all"``, or a name of ``concepts`` is blank.
    TypeError
        If a name of ``concepts`` is not a string (the message names its index),
        ``drop_empty`` is not a bool, or ``y`` is an estimator (the transformer
        given second: the message says where it goes).

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.analysis import concept_profiles
    >>> W = np.array([[0.5, 0.0], [0.0, 0.2], [0.3, 0.1]])
    >>> prof = concept_profiles(W, ["a", "b", "a"], concepts=["dog", "cat"])
    >>> float(prof.loc["dog", ("prevalence", "a")])
    1.0
    """
    check_flag(drop_empty, "drop_empty")  # ("False" dropped them: a non-empty string)
    refuse_estimator(
        y,
        "y",
        "the class labels of the rows (or None)",
        "the transformer (or the concept names) goes third, or as concepts= "
        "(concept_profiles(W, y, concepts=splice); concept_profiles(W, concepts=splice) "
        "without labels)",
    )
    W = as_pandas(W)  # (a polars frame's columns name its concepts too)
    names = _concepts_of(W, concepts)
    given = W
    W = _as_weights(W)
    n = W.shape[0]
    if y is None:
        groups = [ALL_GROUP]
        sums, counts = _group_sums(W, np.zeros(n, dtype=np.int64), 1)
        sizes = np.array([n], dtype=np.float64)
    else:
        y = _as_labels(y, n, given)
        classes, codes = np.unique(y, return_inverse=True)
        if any(str(c) == ALL_GROUP for c in classes):
            raise ValueError(
                f"a class is named {ALL_GROUP!r}, which is reserved for the dataset-wide "
                "group; rename that class"
            )
        sums_c, counts_c = _group_sums(W, codes, len(classes))
        sizes_c = np.bincount(codes, minlength=len(classes)).astype(np.float64)
        sums = np.vstack([sums_c.sum(axis=0, keepdims=True), sums_c])
        counts = np.vstack([counts_c.sum(axis=0, keepdims=True), counts_c])
        del sums_c, counts_c
        sizes = np.concatenate([[float(n)], sizes_c])
        groups = [ALL_GROUP, *classes.tolist()]
    profiles = _profile_frame(sums, counts, sizes, groups, names)
    if drop_empty:
        profiles = profiles.loc[profiles[("count", ALL_GROUP)].to_numpy() > 0]
    # (the samples of each group: a prevalence of 1.0 in a class of one sample is no
    # evidence, and plots say so)
    profiles.attrs["n_samples"] = {g: int(n) for g, n in zip(groups, sizes, strict=True)}
    if drop_empty:  # (a concept looked up later and not found may be one of those dropped)
        profiles.attrs["dropped_empty"] = len(names) - len(profiles)
    return profiles


def _top_of_group(profiles: pd.DataFrame, group: Any, statistic: str = "prevalence") -> np.ndarray:
    """Positions of the concepts of ``group`` in ``profiles`` (:func:`concept_profiles`'
    table, or a table of one statistic) with a positive ``statistic``, largest first.

    Ties (a prevalence of 1.0 for every concept of a class of one sample) are broken by
    the other statistic, then by position: by position alone, the vocabulary's order
    chose which of the tied concepts were shown, the weakest ones included. The plots
    and the report's class profiles show the concepts in this order.
    """
    two = isinstance(profiles.columns, pd.MultiIndex)
    values = np.asarray((profiles[statistic] if two else profiles)[group], dtype=np.float64)
    positive = np.flatnonzero(values > 0)
    other = "mean_weight" if statistic == "prevalence" else "prevalence"
    if two and other in profiles.columns.get_level_values(0):
        second = np.asarray(profiles[other][group], dtype=np.float64)[positive]
    else:  # (a table of one statistic)
        second = np.zeros(positive.size)
    return positive[np.lexsort((-second, -values[positive]))]


def _profile_frame(
    sums: np.ndarray, counts: np.ndarray, sizes: np.ndarray, groups: list[Any], names: Any
) -> pd.DataFrame:
    """The table of :func:`concept_profiles` from the per-group sums and counts, each
    (n_groups, n_concepts), and the groups' sizes.

    The mean weights and prevalences are written straight into one float64 block and
    the counts into one int64 block, which become the frame's two blocks: the table of
    1,000 classes of 10,000 concepts (240 MB) was built before through a stack of the
    transposed statistics, a copy of it in the frame and the counts cast back one
    column at a time (about 1 GB of temporaries, and 1,001 column assignments).
    """
    n_groups, n_concepts = sums.shape
    index = pd.Index(names, name="concept")
    stats = np.empty((n_concepts, 2 * n_groups), dtype=np.float64)
    np.divide(sums.T, sizes, out=stats[:, :n_groups])
    np.divide(counts.T, sizes, out=stats[:, n_groups:])
    present = np.empty((n_concepts, n_groups), dtype=np.int64)
    present[...] = counts.T  # (whole numbers of samples, exact in float64)

    def columns(stats_names: tuple[str, ...]) -> pd.MultiIndex:
        return pd.MultiIndex.from_tuples(
            [(stat, g) for stat in stats_names for g in groups], names=["statistic", "group"]
        )

    shares = pd.DataFrame(
        stats, index=index, columns=columns(("mean_weight", "prevalence")), copy=False
    )
    numbers = pd.DataFrame(present, index=index, columns=columns(("count",)), copy=False)
    # (pandas < 3 copies both frames in concat unless told not to; 3 copies lazily and
    # deprecates the keyword)
    no_copy = {} if int(pd.__version__.split(".")[0]) >= 3 else {"copy": False}
    return pd.concat([shares, numbers], axis=1, **no_copy)


def _group_sizes(profiles: pd.DataFrame) -> dict[Any, int]:
    """The samples of each group of ``profiles``: its ``attrs``, or where they were lost
    (a pandas operation that drops them) count / prevalence of a concept present there."""
    sizes = profiles.attrs.get("n_samples")
    if isinstance(sizes, dict):
        return sizes
    found: dict[Any, int] = {}
    if "count" in profiles.columns.get_level_values(0):
        counts, shares = profiles["count"], profiles["prevalence"]
        for group in counts.columns:
            present = shares[group].to_numpy(dtype=np.float64) > 0
            if present.any():
                i = int(np.flatnonzero(present)[0])
                found[group] = round(float(counts[group].iloc[i]) / float(shares[group].iloc[i]))
    return found


def _adjust_pvalues(p: np.ndarray, method: str | None) -> np.ndarray:
    """Multiple-testing adjusted p-values.

    Benjamini–Hochberg (``"fdr_bh"``) and Benjamini–Yekutieli (``"fdr_by"``) come from
    :func:`scipy.stats.false_discovery_control`. scipy has no family-wise error rate
    correction, so Holm's step-down and Bonferroni's are computed here (a few lines each).
    """
    m = p.shape[0]
    if method is None or m == 0:
        return p.copy()
    if method in _FALSE_DISCOVERY_RATES:
        return stats.false_discovery_control(p, method=method[-2:])
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    # holm: step-down, running maximum of the scaled sorted p-values
    order = np.argsort(p, kind="mergesort")
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    return np.minimum(adjusted, 1.0)


def _adjust_tied_pvalues(values: np.ndarray, counts: np.ndarray, method: str | None) -> np.ndarray:
    """:func:`_adjust_pvalues` of the p-values ``values`` (sorted, distinct, no NaN), each
    held ``counts`` times, for each of them.

    Equal p-values get equal adjusted ones under every correction, and each is that of
    the last (Benjamini's) or the first (Holm's) of its run in the sorted p-values: the
    same floats as :func:`_adjust_pvalues` of the whole family, by the same operations,
    without sorting it (``tests/test_analysis_each_class.py`` compares them on tied
    p-values, a family of millions among them).
    """
    m = int(counts.sum())
    if method is None or m == 0:
        return values.copy()
    if method == "bonferroni":
        return np.minimum(values * m, 1.0)
    last = np.cumsum(counts)  # (the 1-based position of each run's last p-value)
    if method == "holm":
        first = last - counts  # (0-based position of its first)
        return np.minimum(np.maximum.accumulate(values * (m - first)), 1.0)
    # scipy.stats.false_discovery_control: p_(i) m / i, for "by" times sum(1 / i), then
    # the running minimum from the largest
    adjusted = values * (m / last.astype(np.float64))
    if method == "fdr_by":
        adjusted *= np.sum(1 / np.arange(1, m + 1, dtype=np.float64))
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    return np.clip(adjusted, 0.0, 1.0)


#: The two-proportion z statistic is given where every expected count of its 2x2 table is
#: at least this (the usual condition for its normal approximation), NaN elsewhere.
_Z_MIN_EXPECTED = 5.0


def _z_statistic(x1: np.ndarray, n1: float, x2: np.ndarray, n2: float) -> np.ndarray:
    """The two-proportion z statistic of ``x1/n1`` against ``x2/n2``, NaN where an
    expected count of the table ``[[x1, n1 - x1], [x2, n2 - x2]]`` under equal
    proportions is below :data:`_Z_MIN_EXPECTED`: there its normal approximation does
    not hold (one sample against many gave z = 11 beside a p-value of 0.29)."""
    p1, p2 = x1 / n1, x2 / n2
    present = x1 + x2
    pooled = present / (n1 + n2)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    # (the smallest expected count: of the smaller group, in the rarer of present/absent)
    expected = min(n1, n2) * np.minimum(pooled, 1.0 - pooled)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.where(se > 0, se, 1.0)
    return np.where(expected >= _Z_MIN_EXPECTED * (1.0 - 1e-12), z, np.nan)


def _two_by_two_tests(
    x1: np.ndarray, n1: float, x2: np.ndarray, n2: float, alternative: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare the proportions ``x1/n1`` and ``x2/n2`` of every concept.

    Returns the z statistic of the two-proportion z-test (a description, not the
    test), the p-value of Fisher's exact test on the table ``[[x1, n1 - x1], [x2, n2 -
    x2]]`` (that of :func:`scipy.stats.fisher_exact`, computed for all concepts at once
    by :func:`sksplice._fisher.fisher_exact_pvalues`) and the name of the test,
    ``"fisher"``, for every concept.
    """
    z = _z_statistic(x1, n1, x2, n2)
    p_value = fisher_exact_pvalues(x1, n1, x2, n2, alternative)
    test = np.full(np.shape(x1)[0], "fisher", dtype=object)
    return z, p_value, test


def _check_test_options(correction: Any, alpha: Any, min_count: Any, alternative: Any) -> None:
    """Validate the options shared by :func:`rank_concepts` and :func:`compare_datasets`."""
    named = tuple(c for c in _CORRECTIONS if c is not None)
    check_option(correction, "`correction`", named, allow_none=True)  # (None: no correction)
    check_option(alternative, "`alternative`", _ALTERNATIVES)
    check_number(alpha, "alpha", low=0.0, high=1.0, closed="neither")
    check_int(min_count, "min_count")


def _effect_sizes(x1: np.ndarray, n1: float, x2: np.ndarray, n2: float):
    """Cohen's h and the log odds ratio of ``x1/n1`` relative to ``x2/n2``.

    The log odds ratio is that of the prevalences shrunk toward the pooled prevalence
    ``p`` by one pseudo-observation per group, ``(x + p) / (n + 1)``: 0 exactly when the
    prevalences are equal, of the sign of their difference otherwise, finite, and 0
    where ``p`` is 0 or 1. (Adding 0.5 to every cell instead gives groups of unequal
    sizes a nonzero ratio for equal prevalences, even one of the wrong sign.)
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    p1, p2 = x1 / n1, x2 / n2
    cohens_h = 2.0 * np.arcsin(np.sqrt(p1)) - 2.0 * np.arcsin(np.sqrt(p2))
    total = n1 + n2
    present = x1 + x2
    pooled, absent = present / total, (total - present) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        # log odds of (x + p) / (n + 1): log(x + p) - log(n - x + 1 - p), per group
        log_or = (
            np.log(x1 + pooled)
            - np.log(n1 - x1 + absent)
            - np.log(x2 + pooled)
            + np.log(n2 - x2 + absent)
        )
    # the sign of the prevalence difference from the exact difference of the counts
    # (equal prevalences: exactly 0, and no rounding can flip a small ratio's sign)
    sign = np.sign(x1.astype(np.int64) * round(n2) - x2.astype(np.int64) * round(n1))
    log_or = np.where((pooled > 0) & (absent > 0) & (sign != 0), np.abs(log_or) * sign, 0.0)
    return cohens_h, log_or


def _test_columns(
    x1: np.ndarray,
    n1: float,
    x2: np.ndarray,
    n2: float,
    alternative: str,
    correction: str | None,
    alpha: float,
) -> dict[str, np.ndarray]:
    """The effect-size and test columns of ``x1/n1`` against ``x2/n2``, in table order.

    Shared by :func:`rank_concepts` and :func:`compare_datasets`: ``cohens_h``,
    ``log_odds_ratio``, ``z``, ``test``, ``p_value``, ``p_adjusted`` and ``significant``.
    """
    z, p_value, test = _two_by_two_tests(x1, n1, x2, n2, alternative)
    p_adjusted = _adjust_pvalues(p_value, correction)
    cohens_h, log_or = _effect_sizes(x1, n1, x2, n2)
    return {
        "cohens_h": cohens_h,
        "log_odds_ratio": log_or,
        "z": z,
        "test": test,
        "p_value": p_value,
        "p_adjusted": p_adjusted,
        "significant": _below_alpha(p_adjusted, alpha),
    }


def _ranking_inputs(W: Any, y: Any, concepts: Any) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The concept names, ``W`` as weights, ``y`` checked against it and its classes
    (at least two), as :func:`rank_concepts` and :func:`rank_each_class` check them."""
    if y is None:  # (was "labels `y` must be 1-D, got shape ()")
        raise ValueError(
            "labels `y` are required, one per row of W: ranking concepts compares classes; "
            "for the concepts of the whole dataset use concept_profiles(W)"
        )
    W = as_pandas(W)  # (a polars frame's columns name its concepts too)
    names = _concepts_of(W, concepts)
    given = W
    W = _as_weights(W)
    y = _as_labels(y, W.shape[0], given)
    classes = np.unique(y)
    if classes.shape[0] < 2:
        raise ValueError(
            f"`y` holds a single class ({shown_label(classes[0])}); ranking concepts needs at "
            "least two"
        )
    return names, W, y, classes


def rank_concepts(
    W: Any,
    y: Any,
    positive: Any,
    negative: Any = None,
    *,
    concepts: Any = None,
    correction: str | None = "fdr_bh",
    alpha: float = 0.05,
    min_count: int = 1,
    alternative: str = "greater",
) -> pd.DataFrame:
    """Rank concepts by how much more often they occur in one class than in another.

    For every concept, its prevalence among ``positive`` samples is compared
    with its prevalence among ``negative`` samples (another class, or all other
    samples) by Fisher's exact test on its 2x2 table of present and absent
    counts, one-sided by default (the claim is "more frequent in ``positive``").
    p-values are corrected for the number of concepts tested and ``significant``
    marks the rows whose corrected p-value is below ``alpha``.

    Parameters
    ----------
    W : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
        Concept weights. Sparse input is not densified.
    y : array-like of shape (n_samples,)
        Class labels, matched to the rows of ``W`` by position (a pandas
        Series given with a DataFrame ``W`` must have the same index, see
        :func:`concept_profiles`).
    positive : label
        The class whose over-represented concepts are sought.
    negative : label or None, default=None
        The class to compare against; ``None`` compares against all samples
        not in ``positive`` (one-vs-rest).
    concepts : sequence of str, fitted transformer or None, default=None
        Concept names (see :func:`concept_profiles`).
    correction : {"fdr_bh", "fdr_by", "holm", "bonferroni"} or None, default="fdr_bh"
        Multiple-testing correction: Benjamini–Hochberg or Benjamini–Yekutieli
        false discovery rate (:func:`scipy.stats.false_discovery_control`),
        Holm's or Bonferroni's family-wise error rate, or none.
    alpha : float, default=0.05
        Level for the ``significant`` column (adjusted p-value below ``alpha``;
        one within a relative ``1e-9`` of ``alpha`` counts as ``alpha``: an exact
        p-value of 1/20 is summed in floating point to 0.049999999999999975).
    min_count : int, default=1
        Only concepts present in at least this many samples of the two groups
        together are tested and returned (a ``UserWarning`` says when that leaves
        none of the concepts present).
    alternative : {"greater", "two-sided", "less"}, default="greater"
        The alternative hypothesis: the concept is more frequent in ``positive``
        than in ``negative`` (``"greater"``), differs in either direction, or is
        less frequent.

    Returns
    -------
    ranking : pandas.DataFrame
        One row per tested concept (index: concept name), sorted by
        ``prevalence_diff`` descending (ascending with ``alternative="less"``:
        the concepts least frequent in ``positive`` relative to ``negative``
        first), then by p-value. Columns:
        ``count_positive``, ``count_negative``, ``prevalence_positive``,
        ``prevalence_negative``, ``prevalence_diff``, ``mean_weight_positive``,
        ``mean_weight_negative``, ``cohens_h`` (effect size
        ``2 asin sqrt(p1) - 2 asin sqrt(p2)``), ``log_odds_ratio`` (of the
        prevalences shrunk toward the pooled prevalence, see Notes), ``z`` (the
        two-proportion z statistic, a description of the difference: the
        p-value does not come from it; NaN where an expected count of the 2x2
        table is below 5, where its normal approximation does not hold),
        ``test`` (``"fisher"``, the test that gave the p-value, on every row),
        ``p_value``, ``p_adjusted``, ``significant``.
        ``ranking.attrs`` records the group sizes, the settings and
        ``smallest_p_value`` (the smallest p-value the test can give for groups
        of these sizes: no concept is significant where it is ``alpha`` or more).

    Raises
    ------
    ValueError
        If the weights hold NaN, infinite or negative values, the labels do
        not match the rows (in number, or in index, as in
        :func:`concept_profiles`), fewer than two classes are present, ``positive``
        or ``negative`` is not a label of ``y``, a parameter is out of
        range, or a name of ``concepts`` is blank.
    TypeError
        If a name of ``concepts`` is not a string (the message names its index).

    Notes
    -----
    The p-value is that of :func:`scipy.stats.fisher_exact` on the table
    ``[[x1, n1 - x1], [x2, n2 - x2]]`` with the same ``alternative``: a one-sided
    p-value is a tail of the hypergeometric distribution of ``x1`` given the
    margins, the two-sided one the probability of the tables no more likely than
    the observed one. It is exact for any counts: a normal approximation (the
    z-test) is far too small in the tails that matter after a correction over
    hundreds of concepts when the groups differ much in size (a class of 100
    images against 10,000). All concepts are tested at once (milliseconds for
    thousands of concepts). One sample of a class against five of another can
    never be significant at 0.05: its exact p-value is 1/6. At the other end, a
    p-value below the smallest float64 (about 5e-324, as a strong shortcut in a
    few thousand images gives) is 0; the command line and the report show it as
    ``<1e-300``.

    The log odds ratio compares the prevalences shrunk toward the pooled
    prevalence ``p = (x1 + x2) / (n1 + n2)`` by one pseudo-observation per
    group, ``p1' = (x1 + p) / (n1 + 1)`` and ``p2' = (x2 + p) / (n2 + 1)``:
    ``logit(p1') - logit(p2')``. Each shrunk prevalence lies between its
    group's prevalence and the pooled one, so the log odds ratio is finite, 0
    exactly when the prevalences are equal and of the sign of
    ``prevalence_diff`` otherwise (a concept in every sample, or in none, has
    0).

    Cohen's h, the log odds ratio and the prevalence difference describe the
    samples at hand and carry no uncertainty: a concept in the one sample of a
    class and in none of the rest has the largest h there is (pi) and a p-value
    that no correction makes significant. Read them beside ``p_adjusted``, and
    select rows by ``significant``, not by the size of an effect. ``z`` is left
    out (NaN) where its normal approximation does not hold, and groups too small
    for any concept to be significant are warned about
    (:class:`TooFewSamplesWarning`; ``attrs["smallest_p_value"]`` records the
    smallest p-value the test can give for the two groups' sizes).

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.analysis import rank_concepts
    >>> W = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 0.3], [0.0, 0.1]] * 3)
    >>> y = ["woman", "woman", "man", "man"] * 3
    >>> ranking = rank_concepts(W, y, "woman", concepts=["bikini", "suit"])
    >>> ranking.index[0], round(float(ranking.loc["bikini", "p_value"]), 4)
    ('bikini', 0.0011)
    """
    _check_test_options(correction, alpha, min_count, alternative)
    # (before the weights are read: concept names given where concept_profiles takes
    # them, after y, land in `positive` or `negative`, and were told as weights that
    # carry no concept names)
    for label, param in ((positive, "positive"), (negative, "negative")):
        if hasattr(label, "get_feature_names_out"):  # (a transformer, given where the
            # other functions of this module take it: its repr is no label's)
            raise TypeError(
                f"`{param}` must be one label of `y`, got a {type(label).__name__}: "
                "rank_concepts takes the classes to compare third and fourth, and the "
                "transformer (or the concept names) as concepts= (rank_concepts(W, y, "
                "positive, concepts=splice))"
            )
        if not isinstance(label, Hashable):
            items = list(label) if isinstance(label, Iterable) else []
            shown, hint = repr(label), ""
            if len(items) > 5:
                first = str(items[0]) if isinstance(items[0], str) else items[0]
                shown = f"{len(items)} items, {first!r} first"
            if concepts is None and items and all(isinstance(item, str) for item in items):
                hint = (
                    ": concept names perhaps; rank_concepts takes the classes to compare "
                    "third and fourth, and the names as concepts= (rank_concepts(W, y, "
                    "positive, concepts=names))"
                )
            raise TypeError(
                f"`{param}` must be one label of `y`, got a {type(label).__name__}: {shown}{hint}"
            )
    names, W, y, classes = _ranking_inputs(W, y, concepts)
    if find_label(positive, classes.tolist()) is None:
        raise ValueError(
            f"`positive`={positive!r} is not a label of `y`; labels are {classes.tolist()}"
            + label_hint(positive, classes.tolist())
        )
    pos_mask = y == positive
    if negative is None:
        neg_mask = ~pos_mask
        negative_label = "rest"
    else:
        if find_label(negative, classes.tolist()) is None:
            raise ValueError(
                f"`negative`={negative!r} is not a label of `y`; labels are {classes.tolist()}"
                + label_hint(negative, classes.tolist())
            )
        if negative == positive:
            raise ValueError("`negative` must differ from `positive`")
        neg_mask = y == negative
        negative_label = negative
    codes = np.full(y.shape[0], 2, dtype=np.int64)
    codes[pos_mask] = 0
    codes[neg_mask] = 1
    sums, counts = _group_sums(W, codes, 3)
    n1, n2 = float(pos_mask.sum()), float(neg_mask.sum())
    x1, x2 = counts[0], counts[1]
    keep = (x1 + x2) >= min_count
    _warn_if_none_tested(keep, min_count, int(n1 + n2), bool((x1 + x2).any()))
    x1, x2 = x1[keep], x2[keep]
    p1, p2 = x1 / n1, x2 / n2
    # The difference of the prevalences, x1/n1 - x2/n2, from the exact difference of the
    # counts scaled by n1 n2 (integers): one rounding, so that equal differences are equal
    # floats (as p1 - p2, 4/11 - 0/11 and 9/11 - 5/11 differ in the last bit, which put the
    # larger p-value first), and the column is sorted exactly as the counts are.
    exact_diff = _exact_difference(x1, n1, x2, n2)
    ranking = pd.DataFrame(
        {
            "count_positive": x1.astype(np.int64),
            "count_negative": x2.astype(np.int64),
            "prevalence_positive": p1,
            "prevalence_negative": p2,
            "prevalence_diff": exact_diff / (n1 * n2),
            "mean_weight_positive": sums[0][keep] / n1,
            "mean_weight_negative": sums[1][keep] / n2,
            **_test_columns(x1, n1, x2, n2, alternative, correction, alpha),
        },
        index=pd.Index(names[keep], name="concept"),
    )
    ranking = ranking.iloc[
        np.lexsort((ranking["p_value"].to_numpy(), _ranked_first(exact_diff, alternative)))
    ]
    smallest = smallest_p_value(int(n1), int(n2), alternative)
    ranking.attrs.update(
        positive=positive,
        negative=negative_label,
        one_vs_rest=negative is None,
        n_positive=int(n1),
        n_negative=int(n2),
        correction=correction,
        alpha=alpha,
        alternative=alternative,
        smallest_p_value=smallest,
        smallest_adjusted_p_value=_smallest_adjusted(smallest, len(ranking), correction),
    )
    against = "in the rest" if negative is None else f"of class {shown_label(negative)}"
    _warn_too_few_samples(
        [(positive, int(n1), int(n2), ranking.attrs["smallest_adjusted_p_value"])],
        alpha,
        "class {}",
        against,
        _raised(ranking.attrs, correction, len(ranking)),
    )
    return ranking


def _raised(
    attrs: Mapping[str, Any], correction: str | None, n_tests: int, each: bool = False
) -> str | None:
    """How a warning names ``correction`` over ``n_tests`` tests (of each class, with
    ``each``) where it raised the smallest p-value possible of a table's group
    (:func:`_floor_raised`); None where it did not."""
    return _correction_phrase(correction, n_tests, each) if _floor_raised(attrs) else None


def _floor_raised(attrs: Mapping[str, Any]) -> bool:
    """Whether a table's correction raised the smallest p-value possible of a group:
    ``attrs["smallest_adjusted_p_value"]`` above ``attrs["smallest_p_value"]`` (each a
    number, or one per class); False where either is missing (a table made before the
    former was recorded)."""
    raw, adjusted = attrs.get("smallest_p_value"), attrs.get("smallest_adjusted_p_value")
    if raw is None or adjusted is None:
        return False
    if isinstance(raw, Mapping) and isinstance(adjusted, Mapping):
        return any(float(adjusted.get(key, p)) > float(p) for key, p in raw.items())
    return float(adjusted) > float(raw)


#: ``ranking.attrs["adjusted_over"]`` of a table of every class against the rest whose
#: p-values are adjusted over the tests of all classes together (a family-wise error
#: rate: Holm, Bonferroni; or none).
ALL_CLASSES = "all classes"

#: ``ranking.attrs["adjusted_over"]`` of a table of every class against the rest whose
#: p-values are adjusted in two levels (a false discovery rate): the classes first, then
#: the concepts of each class that differs from the rest (see
#: :func:`_two_level_adjustment`).
CLASSES_THEN_CONCEPTS = "classes, then each class's concepts"


def _two_levels_phrase(n_classes: int, n_differing: int) -> str:
    """How the texts that say what a correction covered describe the two levels of
    :func:`_two_level_adjustment`, for ``n_differing`` of ``n_classes`` classes found to
    differ from the rest: ``"in two levels: each class against the rest as a whole (all
    3 classes: 2 found to differ), then the concepts of each class found to differ, at
    alpha x 2/3"``. A class not found to differ may well differ: its test may have had
    too few samples to show it.
    """
    if n_differing == n_classes:
        differ = "all found to differ" if n_classes > 2 else "both found to differ"
    else:
        differ = "none" if n_differing == 0 else f"{n_differing}"
        differ += " found to differ"
    level = f", at alpha x {n_differing}/{n_classes}" if 0 < n_differing < n_classes else ""
    return (
        f"in two levels: each class against the rest as a whole "
        f"({_all_classes_phrase(n_classes)}: {differ}), then the concepts of each class "
        f"found to differ{level}"
    )


def _two_level_adjustment(
    p: np.ndarray, method: str, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Adjust the p-values ``p`` ``(classes, concepts)`` of every class against the
    rest in two levels, for a false discovery rate (Benjamini & Bogomolov, 2014).

    Each class's concepts are one family, adjusted by ``method`` on their own as
    :func:`rank_concepts` adjusts them. A class differs from the rest at all where the
    smallest of its adjusted p-values (Simes' test of the class, for Benjamini-Hochberg)
    is significant once adjusted, by ``method`` again, over the classes; the ``R`` of
    the ``C`` classes that do are tested at ``alpha R / C`` each. A row's adjusted
    p-value is its own times ``C / R`` (``rank_concepts``' own where every class
    differs), and at least its class's where the class does not differ: it is below
    ``alpha`` where both levels pass. ``R`` is counted at ``alpha``: the adjusted
    p-values hold for that level only.

    Adjusted over all classes' tests together (one family), the strong concepts of some
    classes raised Benjamini-Hochberg's threshold until every concept of a class of one
    image, 1 of 1 against 0 of 120 (p = 1/121), was significant; within each class alone,
    a chance concept was listed in some class of 20 without any difference far more often
    than ``alpha``. The two levels keep the average false discovery rate of the classes
    listed at ``alpha`` and, where no class differs, list one with probability at most
    ``alpha`` (exactly for independent tests, as Benjamini-Hochberg's own guarantee; the
    tests of classes against the rest share that rest).

    Returns the adjusted p-values ``(classes, concepts)`` and each class's adjusted
    p-value ``(classes,)``.
    """
    n_classes, m = p.shape
    within = np.ones_like(p)
    rows = max(1, _BLOCK_ENTRIES // max(m, 1))
    for start in range(0, n_classes if m else 0, rows):
        block = p[start : start + rows]
        within[start : start + rows] = stats.false_discovery_control(
            block, axis=-1, method=method[-2:]
        )
    class_p = within.min(axis=1) if m else np.ones(n_classes)
    class_adjusted = _adjust_pvalues(class_p, method)
    differ = _below_alpha(class_adjusted, alpha)
    n_selected = int(np.count_nonzero(differ))
    if n_selected < n_classes:  # (all of them: each class's own adjusted p-values)
        within = np.minimum(within * (n_classes / max(n_selected, 1)), 1.0)
    # (a class that does not differ has no significant concept: its rows at least its own)
    within[~differ] = np.maximum(within[~differ], class_adjusted[~differ, None])
    return within, class_adjusted


def _all_classes_phrase(n_classes: int) -> str:
    """``"both classes"`` for two classes, ``"all 3 classes"`` for three: how the texts
    that say what a correction covered name the classes."""
    return "both classes" if n_classes == 2 else f"all {n_classes} classes"


#: Entries of the (rows x classes) indicator that :func:`_rest_sums` multiplies ``W`` by at
#: once (32 MB of float64), and of the tables one call of the tests takes.
_BLOCK_ENTRIES = 1 << 22


def _rest_sums(W: np.ndarray | sp.csr_matrix, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class ``k``, the sums of the weights over the rows whose code is not ``k``.

    Shape (n_classes, n_concepts). Each sum adds the rows in row order, as
    :func:`_group_sums` adds a group of those rows, so that it is the float of
    :func:`rank_concepts`'s one-vs-rest sums to the last bit (the total less the class's
    sum is not). The product of ``W`` with an indicator of the other rows per class
    adds ``w * 1.0`` and ``w * 0.0`` (exact) row by row, a block of classes at a time.
    """
    n, m = W.shape
    out = np.empty((n_classes, m))
    block = max(1, _BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n_classes, block):
        ks = np.arange(start, min(start + block, n_classes))
        if sp.issparse(W):
            # (W.T is CSC: its product with a dense matrix adds the rows of W in order)
            others = (codes[:, None] != ks[None, :]).astype(np.float64)
            out[ks] = (W.T @ others).T
        else:
            rows, cols = np.nonzero(codes[None, :] != ks[:, None])
            onehot = sp.csr_matrix(
                (np.ones(rows.shape[0]), (rows, cols)), shape=(ks.shape[0], n), dtype=np.float64
            )
            out[ks] = np.asarray(onehot @ W)
    return out


def _distinct_pairs(x1: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs ``(x1[k, j], total[j])`` of integer counts of shape (classes,
    concepts) and (concepts,): the index of each entry's pair, shape of ``x1``, and the
    pairs' ``x1`` and ``total``, in ascending order of ``(x1, total)``."""
    width = int(total.max(initial=0)) + 1
    keys = x1 * width + total[None, :]
    span = (int(x1.max(initial=0)) + 1) * width
    if span <= 2 * keys.size + 65536:
        # (whole numbers of a small range: marked in a table of the range, no sort)
        seen = np.zeros(span, dtype=bool)
        seen[keys] = True
        distinct = np.flatnonzero(seen)
        index = np.zeros(span, dtype=np.int64)
        index[distinct] = np.arange(distinct.shape[0])
        ids = index[keys]
    else:
        distinct, ids = np.unique(keys, return_inverse=True)
        ids = ids.reshape(keys.shape)
    return ids, distinct // width, distinct % width


def _key_ranks(p_value: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Ranks of the keys ``(first, p_value)``, ``first`` first, equal keys (NaN equal to
    NaN) equal ranks, in the smallest unsigned type that holds them: a stable sort of
    the ranks of a row's entries gives the order of :func:`numpy.lexsort` of its keys."""
    order = np.lexsort((p_value, first))
    f, p = first[order], p_value[order]
    new = np.ones(order.shape[0], dtype=bool)
    same_p = (p[1:] == p[:-1]) | (np.isnan(p[1:]) & np.isnan(p[:-1]))
    new[1:] = (f[1:] != f[:-1]) | ~same_p
    rank = np.empty(order.shape[0], dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    # (a stable sort of 16-bit keys is a radix sort)
    return rank.astype(np.min_scalar_type(max(int(rank.max(initial=0)), 0)))


def _warn_if_none_tested(
    keep: np.ndarray, min_count: int, n_samples: int, any_present: bool
) -> None:
    """Warn that ``min_count`` leaves no concept to test (an empty table, else silent);
    ``any_present``: whether any concept is present in any sample tested."""
    if keep.size and not keep.any() and min_count > 1 and any_present:
        from ._stack import warn_user

        warn_user(
            f"no concept is present in min_count={min_count} or more of the {n_samples} "
            "samples tested: the table is empty (lower min_count)",
            UserWarning,
        )


# the float columns of rank_each_class's table, in one block (given to the table as it is)
_EACH_CLASS_FLOATS = (
    "prevalence_positive",
    "prevalence_negative",
    "prevalence_diff",
    "mean_weight_positive",
    "mean_weight_negative",
    "cohens_h",
    "log_odds_ratio",
    "z",
    "p_value",
)


def _class_tables(
    W: Any, y: np.ndarray, classes: list[Any], min_count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The margins of every class's one-vs-rest tables, computed once for all classes.

    Returns each class's weight sums (a last row for rows of no class), the rest's weight
    sums, the mask of concepts tested (present in ``min_count`` samples or more), each
    class's counts of the tested concepts ``(classes, m)``, their counts in all samples
    ``(m,)`` and the classes' sizes.
    """
    n_classes, n = len(classes), W.shape[0]
    codes = np.full(n, n_classes, dtype=np.int64)  # (n_classes: a row of no class)
    for k, cls in enumerate(classes):
        codes[y == cls] = k
    sums, counts = _group_sums(W, codes, n_classes + 1)
    total = counts.sum(axis=0)  # (counts are whole numbers: the sum is exact)
    rest_sums = _rest_sums(W, codes, n_classes)
    # x1 + x2 is the total count for every class: one set of concepts is tested
    keep = total >= min_count
    sizes = np.bincount(codes, minlength=n_classes + 1)[:n_classes]
    return sums, rest_sums, keep, counts[:n_classes][:, keep], total[keep], sizes


def _each_class_frame(
    block: np.ndarray,
    classes: list[Any],
    names_kept: np.ndarray,
    positions: np.ndarray,
    count_positive: np.ndarray,
    count_negative: np.ndarray,
) -> pd.DataFrame:
    """rank_each_class's table: the float ``block`` ``(floats, classes, m)`` with the
    class, the concept (``names_kept`` at ``positions``), the counts and the test."""
    n_classes, m = positions.shape
    n_rows = n_classes * m
    floats = list(_EACH_CLASS_FLOATS)
    table = pd.DataFrame(block.reshape(len(floats), n_rows).T, columns=floats, copy=False)
    # (the dtypes pandas gives the labels, the names and the test's name, as each class's
    # table had them)
    table.insert(0, "class", pd.Series(classes).array.take(np.repeat(np.arange(n_classes), m)))
    table.insert(1, "concept", pd.Index(names_kept, name="concept").take(positions.ravel()).array)
    table.insert(2, "count_positive", count_positive)
    table.insert(3, "count_negative", count_negative)
    # (pandas infers the text dtype from an object array of text, not from an empty one)
    test = np.full(min(n_rows, 1), "fisher", dtype=object)
    test = pd.DataFrame({"test": test})["test"].array.take(np.zeros(n_rows, dtype=np.intp))
    table.insert(table.columns.get_loc("p_value"), "test", test)
    return table


def _holm_class_floors(floors: dict[Any, float], n_tests: int, share: int) -> dict[Any, float]:
    """The smallest adjusted p-value Holm's correction over ``n_tests`` tests can give a
    test of each class, whose tests (``share`` of them) have p-values no smaller than
    its ``floors`` entry (the classes' tests together make the family).

    Holm multiplies the ``i``-th smallest p-value by ``n_tests - i + 1`` and keeps the
    running maximum. A class's smallest p-value ``p`` can come after every test of
    the other classes whose floor is below ``p`` (their p-values may all be smaller),
    not after those of a class whose floor is ``p`` or more: its multiplier is at least
    ``n_tests - share * (those classes)``. The smallest product over ``p`` from the
    class's floor up is reached just above a floor (within each span between floors it
    grows with ``p``); and the first step multiplies the smallest floor of all by
    ``n_tests``. Equal class sizes give ``n_tests`` times the smallest floor.
    """
    values = np.array(sorted(set(floors.values())), dtype=np.float64)
    if values.size == 0:
        return {}
    counts = np.array([sum(f <= v for f in floors.values()) for v in values])
    # (p just above v: the other classes whose floor is v or less may all come first)
    product = (n_tests - share * (counts - 1)) * values
    from_here = np.minimum.accumulate(product[::-1])[::-1]  # (the least from v on)
    first = n_tests * values[0]
    position = {v: i for i, v in enumerate(values.tolist())}
    return {cls: float(min(1.0, max(first, from_here[position[f]]))) for cls, f in floors.items()}


def _each_class_attrs(
    table: pd.DataFrame,
    correction: str | None,
    alpha: float,
    alternative: str,
    classes: list[Any],
    sizes: np.ndarray,
    n: int,
    class_adjusted: np.ndarray | None = None,
) -> int:
    """Record rank_each_class's test and samples in ``table.attrs``; return the number
    of tests of the family each class's tests are adjusted in (each class's own in two
    levels, all of them otherwise)."""
    # (one smallest p-value per size of class: classes of one size share their margins)
    by_size = {k: smallest_p_value(k, int(n - k), alternative) for k in set(sizes.tolist())}
    raw = {cls: by_size[k] for cls, k in zip(classes, sizes.tolist(), strict=True)}
    # The smallest adjusted p-value of each class: its own family's (the second level)
    # where the correction is in two levels; of one family of all tests otherwise (see
    # _holm_class_floors for Holm's).
    share = len(table) // max(len(classes), 1)
    family = share if class_adjusted is not None else len(table)
    if class_adjusted is not None or correction in (None, "bonferroni"):
        adjusted = {cls: _smallest_adjusted(p, family, correction) for cls, p in raw.items()}
    else:
        adjusted = _holm_class_floors(raw, len(table), share)
    if class_adjusted is not None:  # (the two levels' first: which classes differ)
        table.attrs["class_p_adjusted"] = {
            cls: float(q) for cls, q in zip(classes, class_adjusted.tolist(), strict=True)
        }
        table.attrs["n_classes_differing"] = int(
            np.count_nonzero(_below_alpha(class_adjusted, alpha))
        )
    table.attrs.update(
        correction=correction,
        alpha=alpha,
        alternative=alternative,
        one_vs_rest=True,
        negative="rest",
        adjusted_over=ALL_CLASSES if class_adjusted is None else CLASSES_THEN_CONCEPTS,
        n_tests=len(table),
        n_classes=len(classes),
        # (each class's images; the rest are the others: n_samples less the class's)
        class_sizes={cls: int(k) for cls, k in zip(classes, sizes.tolist(), strict=True)},
        n_samples=int(n),
        # (no concept of a class can be significant where this is alpha or more)
        smallest_p_value=raw,
        smallest_adjusted_p_value=adjusted,
    )
    return family


def rank_each_class(
    W: Any,
    y: Any,
    concepts: Any = None,
    *,
    correction: str | None = "fdr_bh",
    alpha: float = 0.05,
    min_count: int = 1,
    alternative: str = "greater",
) -> pd.DataFrame:
    """Rank the concepts of every class against the rest, in one table, corrected for all classes.

    The rows of :func:`rank_concepts` for each class of ``y`` against all other
    samples, one class after the other (classes in sorted order, each class's rows
    in the order :func:`rank_concepts` gives them). This is the table that
    ``sksplice profile`` and ``sksplice report`` show, and one that
    :func:`sksplice.report.render_report` describes in full from its ``attrs``.

    A table of every class's significant concepts is read class by class, and its
    p-values are adjusted for that. With a false discovery rate (``"fdr_bh"``, the
    default, or ``"fdr_by"``), in two levels (Benjamini and Bogomolov, 2014): each
    class is first tested as a whole against the rest (the smallest of its own
    adjusted p-values, those :func:`rank_concepts` gives, adjusted over the ``C``
    classes), then the concepts of the ``R`` classes found to differ are tested at
    ``alpha R / C``; a row's ``p_adjusted`` is its own times ``C / R`` (equal to
    :func:`rank_concepts`' where every class is found to differ), and at least its
    class's adjusted p-value where the class is not. A class not found to differ may
    still differ (a class of 3 samples shows only large differences, after the
    correction over every concept tested): its test found nothing, which is no
    evidence that there is nothing to find. ``R`` is counted at ``alpha``, so
    ``p_adjusted`` is for that level only: for another, call again with its
    ``alpha``. Each class's concepts adjusted on their own let a chance concept
    through in some class of many far more often than ``alpha``; all ``C x m`` tests
    adjusted as one family let the strong concepts of some classes loosen the
    threshold for the others, until every concept of a class of one image was
    significant. The two levels keep the false discovery rate of the classes listed,
    on average, at ``alpha``, and list a concept of some class where none differs
    with probability at most ``alpha`` (exactly for independent tests;
    ``docs/examples/analysis_false_discoveries.py`` measures, for the three ways,
    how often a concept is listed where no class differs or where the class is one
    image, and how many true differences are found). With a family-wise error rate (``"holm"``,
    ``"bonferroni"``), which holds for any part of the table, the ``C x m`` tests
    are one family.

    Parameters
    ----------
    W : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
        Concept weights. Sparse input is not densified.
    y : array-like of shape (n_samples,)
        Class labels, matched to the rows of ``W`` by position (see
        :func:`concept_profiles`).
    concepts : sequence of str, fitted transformer or None, default=None
        Concept names (see :func:`concept_profiles`).
    correction : {"fdr_bh", "fdr_by", "holm", "bonferroni"} or None, default="fdr_bh"
        Multiple-testing correction: in two levels for ``"fdr_bh"`` and
        ``"fdr_by"``, over all the table's tests for ``"holm"`` and
        ``"bonferroni"`` (see above).
    alpha : float, default=0.05
        Level for the ``significant`` column (and, in two levels, for the classes
        that differ, on which ``p_adjusted`` then depends: compare it with this
        ``alpha`` only).
    min_count : int, default=1
        Only concepts present in at least this many samples are tested (the same
        concepts for every class; a ``UserWarning`` says when that leaves none of
        the concepts present).
    alternative : {"greater", "two-sided", "less"}, default="greater"
        The alternative hypothesis of each class's test against the rest (see
        :func:`rank_concepts`).

    Returns
    -------
    ranking : pandas.DataFrame
        One row per class and tested concept, on a default index: a ``class`` and
        a ``concept`` column, then the columns of :func:`rank_concepts` (the
        ``negative`` group of each row being the samples of the other classes).
        ``ranking.attrs`` records the settings (``correction``, ``alpha``,
        ``alternative``), ``one_vs_rest`` (True) and ``negative`` (``"rest"``),
        as :func:`rank_concepts` records them, ``adjusted_over`` (``"classes, then
        each class's concepts"`` in two levels, with ``class_p_adjusted``, each
        class's adjusted p-value as a whole, and ``n_classes_differing``, the ``R``
        classes below ``alpha``; ``"all classes"`` otherwise), ``n_tests``,
        ``n_classes``, ``class_sizes`` (the
        samples of each class), ``n_samples`` and ``smallest_p_value`` (of each
        class: the smallest p-value its test against the rest can give; no
        concept of a class is significant where it is ``alpha`` or more, and
        :class:`TooFewSamplesWarning` names such classes).

    Raises
    ------
    ValueError
        As :func:`rank_concepts`: weights that are NaN, infinite or negative,
        labels that do not match the rows, fewer than two classes, a parameter
        out of range, a blank concept name.
    TypeError
        If a name of ``concepts`` is not a string, or ``y`` is an estimator (the
        transformer given second: the message says where it goes).

    See Also
    --------
    rank_concepts : One class against another class or against the rest.

    Notes
    -----
    The values are those of :func:`rank_concepts` called for each class and put
    together, then adjusted as said above, computed at once: ``W`` is checked and
    converted once, the per-class sums are one product (a class's rest is the total
    less the class, except for the weight sums, see ``_rest_sums``), and the classes
    of one size share one call of the tests (the same 2x2 margins), which computes
    each distinct table (the concept's count in the class and in all samples) once;
    the classes' own adjustments are one call of
    :func:`scipy.stats.false_discovery_control` a block of classes at a time (over
    all tests, each distinct p-value is adjusted once). The values are the same floats
    (``tests/test_analysis_each_class.py`` compares them with those of
    :func:`rank_concepts` run class by class). Tables of :func:`rank_concepts` put
    together with :func:`pandas.concat` lose their ``attrs`` (they differ in
    ``positive``), so a report of such a table cannot say in which
    direction the test was one-sided.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.analysis import rank_each_class
    >>> W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]] * 3)
    >>> y = ["sea", "sea", "forest", "forest"] * 3
    >>> ranking = rank_each_class(W, y, ["water", "tree"])
    >>> ranking[["class", "concept", "count_positive", "count_negative", "significant"]]
        class concept  count_positive  count_negative  significant
    0  forest    tree               6               0         True
    1  forest   water               0               6        False
    2     sea   water               6               0         True
    3     sea    tree               0               6        False
    """
    _check_test_options(correction, alpha, min_count, alternative)
    refuse_estimator(
        y,
        "y",
        "the class labels of the rows",
        "the transformer (or the concept names) goes third, or as concepts= "
        "(rank_each_class(W, y, concepts=splice))",
    )
    if isinstance(concepts, str):
        # (rank_concepts takes the class third: rank_concepts(W, y, "sea") ranks one class)
        raise TypeError(
            f"`concepts` must be a sequence of concept names, not a single string "
            f"({concepts!r}); rank_each_class ranks every class, rank_concepts(W, y, "
            f"{concepts!r}, concepts=...) ranks one class against the rest"
        )
    # what rank_concepts checks for every class, checked once, with its messages (missing
    # labels named by row, before they are sorted)
    names, W, y, present = _ranking_inputs(W, y, concepts)
    classes = sorted(set(np.asarray(y).tolist()))
    known = present.tolist()
    same_labels = len(classes) == len(known) and all(
        type(a) is type(b) and a == b for a, b in zip(classes, known, strict=True)
    )
    if not same_labels:  # (else every class is trivially one of them)
        for cls in classes:
            if find_label(cls, known) is None:
                raise ValueError(f"`positive`={cls!r} is not a label of `y`; labels are {known}")
    n_classes, n = len(classes), W.shape[0]
    sums, rest_sums, keep, x1_all, total_kept, sizes = _class_tables(W, y, classes, min_count)
    _warn_if_none_tested(keep, min_count, int(W.shape[0]), bool(np.any(sums)))
    m = int(keep.sum())
    floats = _EACH_CLASS_FLOATS
    block = np.empty((len(floats), n_classes, m))
    out = dict(zip(floats, block, strict=True))
    positions = np.empty((n_classes, m), dtype=np.int64)
    # The classes of one size have the same margins, and a table of the test is then its
    # count in the class and its count in all samples: every statistic but the mean
    # weights is computed once per distinct (count, total) pair of a block of classes of
    # one size, elementwise as it is for every table (the same floats), and gathered.
    per_call = max(1, _BLOCK_ENTRIES // max(m, 1))
    total_int = total_kept.astype(np.int64)
    per_pair: dict[str, list[np.ndarray]] = {}  # (each statistic of each block's pairs)
    pair_id = np.empty((n_classes, m), dtype=np.int64)  # (into their concatenation)
    n_pairs = 0
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        n1, n2 = float(size), float(n - size)
        for start in range(0, same.shape[0], per_call):
            ks = same[start : start + per_call]
            ids, x1_pair, total_pair = _distinct_pairs(x1_all[ks].astype(np.int64), total_int)
            x1, x2 = x1_pair.astype(np.float64), (total_pair - x1_pair).astype(np.float64)
            cohens_h, log_or = _effect_sizes(x1, n1, x2, n2)
            p_value = fisher_exact_pvalues(x1, n1, x2, n2, alternative)
            # as rank_concepts computes the difference and sorts (see there), each class
            # on its own row: a stable sort of the ranks of the pairs' sort keys (equal
            # keys, equal ranks) is the order of their lexsort
            exact_diff = _exact_difference(x1, n1, x2, n2)
            rank = _key_ranks(p_value, _ranked_first(exact_diff, alternative))
            order = np.argsort(rank[ids], axis=-1, kind="stable")
            pair_id[ks] = np.take_along_axis(ids, order, axis=-1) + n_pairs
            positions[ks] = order
            for name, group_sums, size_n in (
                ("mean_weight_positive", sums, n1),
                ("mean_weight_negative", rest_sums, n2),
            ):
                out[name][ks] = np.take_along_axis(group_sums[ks][:, keep] / size_n, order, -1)
            statistics = {
                "count_positive": x1_pair,
                "count_negative": total_pair - x1_pair,
                "prevalence_positive": x1 / n1,
                "prevalence_negative": x2 / n2,
                "prevalence_diff": exact_diff / (n1 * n2),
                "cohens_h": cohens_h,
                "log_odds_ratio": log_or,
                "z": _z_statistic(x1, n1, x2, n2),
                "p_value": p_value,
            }
            for name, values in statistics.items():
                per_pair.setdefault(name, []).append(values)
            n_pairs += p_value.shape[0]
    pairs = {
        name: np.concatenate(per_pair.get(name, [np.empty(0, dtype=dtype)]))
        for name, dtype in [("count_positive", np.int64), ("count_negative", np.int64)]
        + [(name, np.float64) for name in floats if not name.startswith("mean_weight")]
    }
    for name in pairs:
        if name in out:
            np.take(pairs[name], pair_id, out=out[name], mode="clip")  # (unbuffered)
    table = _each_class_frame(
        block,
        classes,
        names[keep],
        positions,
        pairs["count_positive"][pair_id.ravel()],
        pairs["count_negative"][pair_id.ravel()],
    )
    class_adjusted = None
    if correction in _FALSE_DISCOVERY_RATES:
        adjusted, class_adjusted = _two_level_adjustment(out["p_value"], correction, alpha)
        adjusted = adjusted.ravel()
    else:  # (a family-wise error rate holds for any part of the table: one family)
        # each distinct p-value adjusted once, for all the rows that hold it
        p_values, p_of_pair = np.unique(pairs["p_value"], return_inverse=True)
        held = np.zeros(p_values.shape[0], dtype=np.int64)
        np.add.at(held, p_of_pair, np.bincount(pair_id.ravel(), minlength=n_pairs))
        adjusted = _adjust_tied_pvalues(p_values, held, correction)[p_of_pair][pair_id.ravel()]
    table["p_adjusted"] = adjusted
    table["significant"] = _below_alpha(adjusted, alpha)
    family = _each_class_attrs(
        table, correction, alpha, alternative, classes, sizes, n, class_adjusted
    )
    smallest = table.attrs["smallest_adjusted_p_value"]
    _warn_too_few_samples(
        [(cls, int(k), int(n - k), smallest[cls]) for cls, k in zip(classes, sizes.tolist())],
        alpha,
        "class {}",
        "in the rest",
        _raised(table.attrs, correction, family, each=class_adjusted is not None),
    )
    return table
