"""Dataset shift: the concepts whose prevalence differs between two collections.

:func:`compare_datasets` compares the concept weights of two collections (two
datasets, two time periods, training and deployment data) decomposed by the same
fitted :class:`~sksplice.transformer.SpliceTransformer`. It uses the statistics of
:func:`sksplice.analysis.rank_concepts`: Fisher's exact test on each concept's 2x2
table, and a multiple-testing correction over the concepts tested. Sparse input is
never densified.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._fisher import smallest_p_value
from ._names import carried_names, check_source, recorded, recorded_makers
from ._pandas import as_pandas
from ._provenance import check_one_decomposition
from ._validation import refuse_estimator, shown_label
from .analysis import (
    _as_weights,
    _check_test_options,
    _exact_difference,
    _group_sums,
    _n_columns,
    _raised,
    _resolve_concepts,
    _smallest_adjusted,
    _test_columns,
    _warn_too_few_samples,
)

__all__ = ["compare_datasets"]


def _collection_sums(W: np.ndarray | sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of weights and of presence indicators of one collection."""
    sums, counts = _group_sums(W, np.zeros(W.shape[0], dtype=np.int64), 1)
    return sums[0], counts[0]


def compare_datasets(
    W_a: Any,
    W_b: Any,
    concepts: Any = None,
    *,
    labels: tuple[str, str] = ("A", "B"),
    correction: str | None = "fdr_bh",
    alpha: float = 0.05,
    min_count: int = 1,
    alternative: str = "two-sided",
) -> pd.DataFrame:
    """Concepts whose prevalence differs between two collections (dataset shift).

    For every concept, the fraction of samples of collection B in which it is
    present is compared with the fraction in collection A by Fisher's exact test
    on the 2x2 table of present and absent counts, as in
    :func:`~sksplice.analysis.rank_concepts` (the p-values of
    :func:`scipy.stats.fisher_exact`, computed for all concepts at once). The test
    is two-sided by default (a shift in either direction is a finding); the sign
    of ``prevalence_diff`` (B minus A) says which way it goes. p-values are
    corrected for the number of concepts tested.

    Parameters
    ----------
    W_a, W_b : {array-like, sparse matrix, DataFrame} of shape (n_samples_*, n_concepts)
        Concept weights of the two collections, over the same concepts in the
        same column order (decomposed by the same fitted transformer). Sparse
        input is not densified.
    concepts : sequence of str, fitted transformer or None, default=None
        Concept names, one per column, or a fitted object with
        ``get_feature_names_out``. Defaults to the columns of ``W_a`` (or
        ``W_b``) when it is a DataFrame; two DataFrames must have the same
        columns (those of ``W_b`` are read by name, in the order of
        ``W_a``'s). A DataFrame whose columns are these concepts in another
        order is labelled by its columns (see
        :func:`~sksplice.analysis.concept_profiles`); both collections must
        then still line up. A matrix without names beside a DataFrame is read
        by the DataFrame's columns; one that a transformer of other concepts
        (or of the same in another order) returned is refused.
    labels : tuple of two str, default=("A", "B")
        Names of the two collections, kept in ``comparison.attrs`` for plots
        and reports.
    correction : {"fdr_bh", "fdr_by", "holm", "bonferroni"} or None, default="fdr_bh"
        Multiple-testing correction, as in :func:`~sksplice.analysis.rank_concepts`.
    alpha : float, default=0.05
        Level for the ``significant`` column (adjusted p-value below ``alpha``;
        one within a relative ``1e-9`` of it counts as ``alpha``, as in
        :func:`~sksplice.analysis.rank_concepts`).
    min_count : int, default=1
        Only concepts present in at least this many samples of the two
        collections together are tested and returned.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: the concept is more frequent in B than in A; ``"less"``:
        less frequent in B; ``"two-sided"``: either. B is the collection
        tested against A, as every difference here is B minus A: the reverse
        of the order of ``scipy.stats.fisher_exact([[count_a, ...], [count_b,
        ...]], alternative="greater")``, whose ``"greater"`` is about its
        first row.

    Returns
    -------
    comparison : pandas.DataFrame
        One row per tested concept (index: concept name), sorted by p-value,
        then by the absolute prevalence difference (largest first, compared
        exactly), then in the order of the columns. Columns:
        ``count_a``, ``count_b`` (samples in which the concept is present),
        ``prevalence_a``, ``prevalence_b``, ``prevalence_diff`` (B minus A),
        ``mean_weight_a``, ``mean_weight_b``, ``mean_weight_diff`` (B minus A,
        0 for means equal to a few units in their last place; descriptive, not
        tested), ``cohens_h`` and ``log_odds_ratio`` (B
        relative to A; the log odds ratio of the prevalences shrunk toward the
        pooled prevalence ``p`` by one pseudo-observation per collection,
        ``logit((x_b + p) / (n_b + 1)) - logit((x_a + p) / (n_a + 1))``: 0
        exactly for equal prevalences, of the sign of ``prevalence_diff``
        otherwise), ``z`` (two-proportion z statistic, a description: the
        p-value does not come from it; NaN where an expected count of the 2x2
        table is below 5), ``test`` (``"fisher"``, the test that
        gave the p-value, every row), ``p_value``, ``p_adjusted``,
        ``significant`` (a p-value below the
        smallest float64, about 5e-324, is 0; the command line and the report
        show it as ``<1e-300``). ``comparison.attrs`` records the labels,
        collection sizes (``n_a``, ``n_b``), the number of concepts compared
        (``n_concepts``, the rows), the settings and ``smallest_p_value`` (the
        smallest p-value the test can give for collections of these sizes: no
        concept is significant where it is ``alpha`` or more, and a
        :class:`~sksplice.analysis.TooFewSamplesWarning` says so). The effect
        sizes describe the samples at hand and carry no uncertainty (one sample
        against many can give the largest Cohen's h, pi): select rows by
        ``significant``, not by them.

    Raises
    ------
    ValueError
        If the collections have different numbers of columns or different
        concept names, a collection is empty or holds NaN, infinite or
        negative weights, a parameter is out of range, or a name of
        ``concepts`` is blank.
    TypeError
        If a name of ``concepts`` is not a string (the message names its index),
        or ``W_a`` or ``W_b`` is an estimator (the transformer given in the place
        of weights: the message says where it goes).

    See Also
    --------
    sksplice.analysis.rank_concepts : the same statistics between two classes of one dataset.
    sksplice.plotting.plot_dataset_shift : prevalence in A against B.

    Notes
    -----
    The test is on prevalence (presence versus absence), where the exact test
    makes the p-value valid for any counts and any sizes of the collections
    (a normal approximation is not: with a small collection against a large one
    its p-values are far too small in the tails that matter after the
    correction). Mean weights
    are reported as a description of the shift: concept weights are zero in most
    samples, so a t-test on them would rest on an approximation that small
    collections do not support.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.shift import compare_datasets
    >>> W_a = np.array([[0.0, 0.4]] * 20 + [[0.3, 0.2]] * 2)
    >>> W_b = np.array([[0.5, 0.4]] * 18 + [[0.0, 0.2]] * 4)
    >>> shift = compare_datasets(W_a, W_b, concepts=["snow", "dog"])
    >>> row = shift.loc["snow"]
    >>> int(row["count_a"]), int(row["count_b"]), row["test"], bool(row["significant"])
    (2, 18, 'fisher', True)
    """
    _check_test_options(correction, alpha, min_count, alternative)
    if (
        not isinstance(labels, (tuple, list))
        or len(labels) != 2
        or not all(isinstance(lab, str) and lab for lab in labels)
        or labels[0] == labels[1]
    ):
        raise ValueError(f"`labels` must be two different non-empty strings, got {labels!r}")
    for weights, param in ((W_a, "W_a"), (W_b, "W_b")):
        refuse_estimator(
            weights,
            param,
            f"the concept weights of collection {param[-1].upper()}",
            "compare_datasets takes the weights of both collections first, and the "
            "transformer (or the concept names) third, or as concepts= "
            "(compare_datasets(W_a, W_b, concepts=splice))",
        )
    W_a, W_b = as_pandas(W_a), as_pandas(W_b)  # (a polars frame's columns name its concepts)
    if (
        isinstance(W_a, pd.DataFrame)
        and isinstance(W_b, pd.DataFrame)
        and W_a.columns.is_unique
        and W_b.columns.is_unique
        and len(W_a.columns) == len(W_b.columns)
        and not W_a.columns.equals(W_b.columns)
        and set(W_a.columns) == set(W_b.columns)
    ):
        # (the same concepts in another order: read by name, as the other functions
        # read a frame's columns)
        W_b = W_b[W_a.columns]
    c_a, c_b = _n_columns(W_a), _n_columns(W_b)
    if c_a != c_b:
        raise ValueError(
            f"W_a has {c_a} concept columns but W_b has {c_b}; decompose both collections "
            "with the same fitted transformer"
        )
    # Each collection's columns as its own names (or concepts=) say; they must line up.
    # (a matrix without names that a transformer made is checked against the names the
    # other collection's columns carry: read by position, each column would be read as
    # another concept)
    # (bare weights are looked up once: made by which transformers)
    found_a, found_b = (None if isinstance(W, pd.DataFrame) else recorded(W) for W in (W_a, W_b))
    if concepts is None and not isinstance(W_a, pd.DataFrame):
        names = names_b = _resolve_concepts(W_b, None, c_b, found_b)
        check_source(W_a, names, "the columns of W_b", found_a)
    else:
        names = _resolve_concepts(W_a, concepts, c_a, found_a)
        if concepts is not None:
            names_b = _resolve_concepts(W_b, concepts, c_b, found_b)
        else:
            carried = carried_names(W_b.columns) if isinstance(W_b, pd.DataFrame) else None
            names_b = names if carried is None else carried
            if not isinstance(W_b, pd.DataFrame):
                check_source(W_b, names, "the columns of W_a", found_b)
    check_one_decomposition(
        [
            (name, [] if found is None else recorded_makers(W, found))
            for name, W, found in (("W_a", W_a, found_a), ("W_b", W_b, found_b))
        ],
        "decompose both collections with one fitted SpliceTransformer (fit it once, on "
        "both or on a reference set, and transform each with it)",
    )
    differ = np.flatnonzero(names.astype(str) != names_b.astype(str))
    if differ.size:
        j = int(differ[0])
        frames = isinstance(W_a, pd.DataFrame) and isinstance(W_b, pd.DataFrame)
        same_set = len(names) == len(names_b) and set(names.astype(str)) == set(names_b.astype(str))
        if same_set:
            fix = "give both with their columns in the same order" + (
                " (W_b[W_a.columns])" if frames else ""
            )
        else:
            fix = (
                "they hold different concepts (weights of transformers of different "
                "vocabularies): decompose both collections with the same fitted "
                "SpliceTransformer"
            )
        differs = "1 column differs" if differ.size == 1 else f"{differ.size} columns differ"
        raise ValueError(
            f"W_a and W_b have different concept columns: column {j} is {str(names[j])!r} "
            f"in W_a and {str(names_b[j])!r} in W_b ({differs}); {fix}"
        )
    W_a = _as_weights(W_a, "W_a")
    W_b = _as_weights(W_b, "W_b")
    n_a, n_b = float(W_a.shape[0]), float(W_b.shape[0])
    sums_a, x_a = _collection_sums(W_a)
    sums_b, x_b = _collection_sums(W_b)
    keep = (x_a + x_b) >= min_count
    x_a, x_b = x_a[keep], x_b[keep]
    p_a, p_b = x_a / n_a, x_b / n_b
    # B is the first row of the table, so "greater" and the signs read "B relative to A"
    tests = _test_columns(x_b, n_b, x_a, n_a, alternative, correction, alpha)
    mean_a, mean_b = sums_a[keep] / n_a, sums_b[keep] / n_b
    mean_diff = mean_b - mean_a
    # equal means of sums divided by other counts differ by a rounding error (-2.8e-17
    # for 0.1 in 3 images and in 7): within a few units in their last place, they are 0
    mean_diff[np.abs(mean_diff) <= 4 * np.finfo(np.float64).eps * np.maximum(mean_a, mean_b)] = 0
    comparison = pd.DataFrame(
        {
            "count_a": x_a.astype(np.int64),
            "count_b": x_b.astype(np.int64),
            "prevalence_a": p_a,
            "prevalence_b": p_b,
            "prevalence_diff": p_b - p_a,
            "mean_weight_a": mean_a,
            "mean_weight_b": mean_b,
            "mean_weight_diff": mean_diff,
            **tests,
        },
        index=pd.Index(names[keep], name="concept"),
    )
    # ties of p-value by the larger difference, compared exactly
    exact = _exact_difference(x_b, n_b, x_a, n_a)
    order = np.lexsort((-np.abs(exact), tests["p_value"]))
    comparison = comparison.iloc[order]
    comparison.attrs.update(
        labels=tuple(labels),
        n_a=int(n_a),
        n_b=int(n_b),
        n_concepts=len(comparison),  # (its rows: a plot tells a filtered table by them)
        correction=correction,
        alpha=alpha,
        alternative=alternative,
        # (B is the table's first row; no concept can be significant where this is alpha
        # or more)
        smallest_p_value=smallest_p_value(int(n_b), int(n_a), alternative),
    )
    comparison.attrs["smallest_adjusted_p_value"] = _smallest_adjusted(
        comparison.attrs["smallest_p_value"], len(comparison), correction
    )
    _warn_too_few_samples(
        [(labels[1], int(n_b), int(n_a), comparison.attrs["smallest_adjusted_p_value"])],
        alpha,
        "collection {}",
        f"in {shown_label(labels[0])}",
        _raised(comparison.attrs, correction, len(comparison)),
    )
    return comparison
