"""Concept weights in and out of ``SpliceTransformer``.

The output container of ``transform`` (CSR, dense or pandas), the checks of
weights handed back (``inverse_transform``, ``top_concepts``, ``l0``), and the
summaries computed from them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import scipy.sparse
from sklearn.utils.validation import check_is_fitted

from ._array import l2_normalize, shortest_floats, unit_rows
from ._gc import gc_paused
from ._names import (
    Found,
    check_source,
    differences_said,
    name_differences,
    recorded,
    recorded_makers,
    remember_concepts,
    rows_of_other_targets,
)
from ._pandas import as_pandas, frame_values, is_polars_frame, sparse_frame, transform_output
from ._stack import warn_user
from ._validation import (
    Options,
    check_finite_rows,
    check_flag,
    check_input_features,
    check_int,
    check_non_negative_rows,
    check_option,
    parameters_of,
    row_labels,
)

if TYPE_CHECKING:
    from .transformer import SpliceTransformer

__all__ = [
    "ConceptSpaceMixin",
    "as_weights",
    "check_dense_fits",
    "check_output",
    "check_weights",
    "format_weights",
    "in_container",
    "is_dataframe",
]


#: Entries of the embeddings that ``cosine_similarity`` recomposes together.
_COSINE_BLOCK_ITEMS = 1 << 18


def is_dataframe(X: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    return isinstance(X, pd.DataFrame)


#: The rule of SpliceTransformer's ``output``: "pandas" is no value of it.
OUTPUT = Options(
    ("sparse", "dense"),
    meant=(
        (
            "pandas",
            "weights in a DataFrame are set_output(transform='pandas'), which keeps them "
            "sparse (output='sparse') or not (output='dense')",
        ),
    ),
)


def check_output(est: SpliceTransformer) -> None:
    """Refuse an unknown ``output`` (set after ``fit``, which checks it too) and a
    ``set_output`` container that cannot hold sparse weights (before any solve)."""
    with parameters_of(est):
        OUTPUT.check(est.output, "output")
    config = transform_output(est)
    if est.output != "dense" and config not in ("default", "pandas", None):
        raise ValueError(
            f"{config} output of sparse weights is not supported: use "
            "SpliceTransformer(output='dense') or set_output(transform='pandas')"
        )


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now (None where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def _float32_if_half(X: np.ndarray) -> np.ndarray:
    """Rows of float16 embeddings in float32 (as they are decomposed); others as they are."""
    return X.astype(np.float32) if X.dtype == np.float16 else X


def check_dense_fits(est: SpliceTransformer, n_rows: int, dtype: Any) -> None:
    """Refuse ``output="dense"`` weights that cannot fit in memory, before the solve.

    The dense array is ``n_rows * n_concepts`` values of ``dtype`` (float32, or
    float64 for float64 embeddings); it is made only once every row is solved,
    so a batch too large for it failed with a bare ``MemoryError`` after the
    whole solve.
    """
    if est.output != "dense":
        return
    n_concepts = len(est.concepts_)
    needed = int(n_rows) * n_concepts * np.dtype(dtype).itemsize
    available = available_memory()
    if available is None or needed <= available:
        return
    rows_that_fit = max(1, available // max(1, n_concepts * np.dtype(dtype).itemsize) // 2)
    raise MemoryError(
        f"output='dense' weights of {n_rows:,} rows x {n_concepts:,} concepts "
        f"({np.dtype(dtype).name}) take {needed / 1e9:.1f} GB, more than the "
        f"{available / 1e9:.1f} GB of memory available: use output='sparse' (the "
        f"default, a CSR matrix), or transform fewer rows per call (e.g. "
        f"{rows_that_fit:,} at a time)"
    )


def format_weights(
    est: SpliceTransformer,
    W: scipy.sparse.csr_matrix,
    X_in: Any,
    *,
    wrapped: bool = False,
    targets: np.ndarray | None = None,
) -> Any:
    """``W`` in the container ``output`` and ``set_output`` ask for.

    ``wrapped``: the caller is ``transform``, whose dense output scikit-learn's
    ``set_output`` wraps itself; other callers (``transform_with_stats``, a
    search's refit) get the same container here. ``targets``: the validated
    embeddings ``W`` was solved for, whose rows are kept paired with its rows (a
    frame's rows carry labels instead): :meth:`cosine_similarity` given weights of
    other rows than those of its ``X`` says so.
    """
    kind = transform_output(est)
    key = recomposition_key(est)
    if est.output == "dense":
        if wrapped or kind in (None, "default"):
            return remember_concepts(
                W.toarray(), est.concepts_, sparse_of=W, maker=key, targets=targets
            )
        # (the frame's values are known by their rows, as the other outputs are: a frame
        # whose columns are relabelled is refused where its values are written by name)
        remember_concepts(W, est.concepts_, maker=key)
        return in_container(W.toarray(), kind, X_in, est.concepts_)
    check_output(est)
    if kind in (None, "default"):
        return remember_concepts(W, est.concepts_, maker=key, targets=targets)
    remember_concepts(W, est.concepts_, maker=key)
    return in_container(W, kind, X_in, est.concepts_)


def in_container(W: Any, kind: str, X_in: Any, concepts: Any) -> Any:
    """Weights ``W`` of the rows ``X_in`` in the container ``kind`` of ``set_output``.

    CSR becomes a DataFrame of pandas sparse columns (only pandas holds them: see
    :func:`check_output`); a dense array goes through scikit-learn's own adapter
    (pandas, polars ...), as ``transform`` would get it. The columns are the
    concepts, the index that of ``X_in`` when it is a DataFrame.
    """
    if scipy.sparse.issparse(W):
        return sparse_frame(W, concepts, index=X_in.index if is_dataframe(X_in) else None)
    from sklearn.utils._set_output import ADAPTERS_MANAGER

    return ADAPTERS_MANAGER.adapters[kind].create_container(
        W, X_in, columns=list(concepts), inplace=True
    )


def _prefix_hint(columns: list[Any], concepts: set[Any]) -> str:
    """Advice for weights whose columns are the concepts behind a step name's prefix
    (``splice__dog``: a ``ColumnTransformer`` or ``FeatureUnion`` output), or ``""``."""
    names = {str(c) for c in concepts}
    behind: dict[str, set[str]] = {}
    for column in map(str, columns):
        prefix, sep, rest = column.partition("__")
        if sep:
            behind.setdefault(prefix, set()).add(rest)
    found = [p for p, rests in behind.items() if rests <= names]
    if not found:
        return ""
    prefix = found[0]
    return (
        f". The columns {prefix}__... are this transformer's concepts behind the step name "
        f"{prefix!r} (a ColumnTransformer's or FeatureUnion's output): pass "
        f"W[[c for c in W.columns if c.startswith('{prefix}__')]].rename(columns=lambda c: "
        "c.split('__', 1)[1]), or build the ColumnTransformer with "
        "verbose_feature_names_out=False"
    )


class RecompositionKey(NamedTuple):
    """What ``inverse_transform`` of a fitted transformer recomposes with: the content
    digest of its dictionary (computed in fit) and its centre ``mean_`` (float64); and
    the penalty the weights were solved at (``l1_penalty_``; None where unknown), which
    the analysis functions compare (see
    :func:`~sksplice._provenance.check_one_decomposition`)."""

    dictionary: str
    mean: np.ndarray
    penalty: float | None = None
    #: The ``target_l0`` the penalty was calibrated for (None: the penalty was given).
    target: float | None = None

    def same_centre(self, other: RecompositionKey, within: float | None = None) -> bool:
        """Whether the centres are the same up to rounding (a float32 copy of a centre,
        one learned from the same rows in another order); ``within``: up to that
        fraction of their norm instead."""
        a, b = self.mean, other.mean
        if a.shape != b.shape:
            return False
        scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
        tolerance = _SAME_CENTRE if within is None else within
        return float(np.linalg.norm(a - b)) <= tolerance * scale


#: Centres whose difference is at most this fraction of their norm are the same one.
_SAME_CENTRE = 1e-5


def recomposition_key(est: Any) -> RecompositionKey:
    """The :class:`RecompositionKey` of the fitted transformer ``est``."""
    from .solvers._cache import digest

    dictionary = getattr(est, "_dictionary_digest", None) or digest(est.dictionary_)
    penalty = getattr(est, "l1_penalty_", None)
    target = getattr(est, "target_l0", None)
    return RecompositionKey(
        dictionary,
        np.array(est.mean_, dtype=np.float64),
        None if penalty is None else float(penalty),
        None if target is None else float(target),
    )


def check_recomposer(
    W: Any,
    key: RecompositionKey,
    what: str,
    *,
    in_pipeline: bool = False,
    found: list[Found] | None = None,
    modality: str = "image",
) -> None:
    """Warn when weights ``W`` were made by a transformer that recomposes otherwise.

    ``W`` (or the weights some of its rows are rows of) was returned by a transformer
    of the same concepts (:func:`check_source` has checked the concepts) whose
    dictionary or centre is not ``key``'s (:func:`recomposition_key` of ``what``):
    recomposed with ``what``, the embeddings are not those the weights were solved
    for. Weights of unknown origin are not checked. ``in_pipeline``: ``what`` is a
    ConceptEditor's frozen transformer (the advice says how its pipeline agrees).
    ``found``: what :func:`~sksplice._names.recorded` gave for ``W``; ``modality``:
    that of ``what`` (the advice names its centre's parameter, ``text_mean`` for texts).
    """
    makers = recorded_makers(W, found)
    if not makers:
        return
    same_dictionary = [m for m in makers if m.dictionary == key.dictionary]
    if any(key.same_centre(m) for m in same_dictionary):
        return
    advice = "recompose them with the transformer that made them"
    if not same_dictionary:
        other = (
            "another dictionary (the same concepts embedded by another model, or other "
            "concept_embeddings)"
        )
    else:
        centre = "text_mean" if modality == "text" else "image_mean"
        other = f"another centre (mean_: another {centre}, or one learned from other rows)"
        if in_pipeline:
            advice = (
                "in a pipeline, give its SpliceTransformer the frozen transformer's centre "
                f"({centre}=frozen.mean_) so that every fit decomposes around the centre "
                "the editor recomposes with"
            )
    warn_user(
        f"these weights were made by a SpliceTransformer with {other} than {what}: "
        "recomposed with it, they do not give back the embeddings they were solved for; " + advice
    )


def _warn_rows_of_other_targets(W: Any, X: np.ndarray) -> None:
    """Warn where rows of weights ``W`` given to :meth:`cosine_similarity` were solved by
    :meth:`transform` for other embeddings than the rows of ``X`` at their places (rows
    in another order, of other samples): each cosine then compares an embedding with
    another's recomposition, silently (``W[::-1]`` gave a mean cosine of 0.10 for 0.999)."""
    others, checked = rows_of_other_targets(W, X)
    if not others.size:
        return
    warn_user(
        "these weights were solved by transform for other embeddings than the rows of X "
        f"at their places: {others.size} of the {checked} rows that could be checked, row "
        f"{int(others[0])} first (another order, other samples, or embeddings changed since "
        "the transform), so their cosines compare an embedding with another's "
        "recomposition. Give the weights that transform returned for this X, in its order"
    )


def check_weights(est: SpliceTransformer, W: Any, found: list[Found] | None = None) -> Any:
    """Validate concept weights; returns CSR or a 2-D float ndarray. ``found``: what
    :func:`~sksplice._names.recorded` gave for ``W`` (None: looked up here)."""
    n_concepts = est.concepts_.shape[0]
    W = as_pandas(W)  # (a polars frame's columns name its concepts too)
    check_source(W, est.concepts_, "this transformer", found)
    labels = row_labels(W)
    if is_dataframe(W):
        columns = list(W.columns)
        # Columns numbered 0..n-1 in order (pd.DataFrame(W.toarray())) name no concept:
        # the weights are taken in column order, as an array's.
        if columns != list(range(W.shape[1])) and columns != list(est.concepts_):
            known = set(est.concepts_)
            if len(columns) == n_concepts and set(columns) == known:
                W = W[list(est.concepts_)]
            else:
                unknown, missing = name_differences(columns, est.concepts_)
                select = (
                    "; give the concepts' columns only: W[splice.get_feature_names_out()]"
                    if not missing
                    else ""
                )
                said = differences_said(
                    columns, unknown, missing, ("unknown columns", "missing concepts")
                )
                raise ValueError(
                    "the DataFrame columns must be the concepts of get_feature_names_out(); "
                    + said
                    + (_prefix_hint(columns, known) or select)
                )
        import pandas as pd

        other = [c for c, t in W.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if other:  # (was "weights must be real numbers; got dtype object", naming none)
            # (a column added under a concept's name replaced its weights; columns of
            # numbers stored as objects are weights still)
            numbers = pd.to_numeric(W[other[0]], errors="coerce").notna().all()
            fix = (
                "convert them to numbers: W.astype(float)"
                if numbers
                else "give the weights' columns only, as transform made them"
            )
            raise TypeError(
                f"weights must be real numbers, but the DataFrame column(s) {other[:5]} hold "
                f"{W[other[0]].dtype} values: {fix}"
            )
        W = frame_values(W, "W")
    if scipy.sparse.issparse(W):
        W = scipy.sparse.csr_matrix(W)
        if W.dtype not in (np.float32, np.float64):
            W = W.astype(np.float64)
    else:
        W = np.asarray(W)
        if W.ndim == 1:
            raise ValueError(
                f"weights must be 2-D (n_samples, {n_concepts}); got a 1-D array, "
                "use W.reshape(1, -1) for a single sample"
            )
        if not np.issubdtype(W.dtype, np.number) or np.issubdtype(W.dtype, np.complexfloating):
            raise TypeError(f"weights must be real numbers; got dtype {W.dtype}")
        if W.dtype not in (np.float32, np.float64):
            W = W.astype(np.float64)
    if W.ndim != 2 or W.shape[1] != n_concepts:
        looks = ""
        if W.ndim == 2 and W.shape[1] == getattr(est, "n_features_in_", None):
            looks = (
                f": these look like embeddings ({W.shape[1]} columns, the width of the "
                "embeddings it was fitted on); decompose them first, W = splice.transform(X)"
            )
        raise ValueError(
            f"weights have shape {W.shape} but the transformer has {n_concepts} concepts{looks}"
        )
    check_finite_rows(W, "weights", labels)
    return W


def as_weights(est: SpliceTransformer, X: Any, kind: str) -> Any:
    """Weights for embeddings or weights ``X`` (``kind`` says which, or "auto")."""
    check_is_fitted(est)
    check_option(kind, "kind", ("auto", "embeddings", "weights"))
    if kind == "auto":
        kind = guess_kind(est, X)
    if kind == "weights":
        return check_weights(est, X)
    return est._decomposed(est._validate_X(X, reset=False, keep_float16=True))


def guess_kind(est: SpliceTransformer, X: Any) -> str:
    if scipy.sparse.issparse(X):
        return "weights"
    # (the columns of a pandas or polars frame: the values are not read, nor copied)
    columns = list(X.columns) if is_dataframe(X) or is_polars_frame(X) else None
    if columns is not None and all(isinstance(c, str) for c in columns):
        # (columns that are not all names, a plain 0..n-1, say nothing: the shape decides)
        if columns == list(getattr(est, "feature_names_in_", [])):
            return "embeddings"
        known = set(est.concepts_)
        if set(columns) <= known:
            return "weights"
        if X.shape[1] != est.n_features_in_ and 2 * sum(c in known for c in columns) > len(columns):
            # mostly concepts, and a few other columns (a label added to the weights'
            # frame): weights, whose check names the other columns (as embeddings they
            # were told of a width or of non-numeric columns of embeddings)
            return "weights"
        n_concepts, d = est.concepts_.shape[0], est.n_features_in_
        if X.shape[1] == n_concepts != d:
            unknown = [c for c in columns if c not in known][:5]
            raise ValueError(
                f"X is a DataFrame of {n_concepts} columns, as many as the concepts, but its "
                f"columns are not concept names (e.g. {unknown}): name them by "
                "get_feature_names_out(), or pass the weights as an array or with columns "
                "0..n-1 (taken in order)"
            )
        return "embeddings"
    shape = np.shape(X)
    n_cols = shape[-1] if len(shape) else 0
    n_concepts, d = est.concepts_.shape[0], est.n_features_in_
    if n_cols == d and n_cols != n_concepts:
        return "embeddings"
    if n_cols == n_concepts and n_cols != d:
        return "weights"
    if n_cols == d == n_concepts:
        # (weights are never negative: a negative value tells embeddings, for certain)
        values = np.asarray(X)
        if values.dtype.kind in "fiu" and values.size and np.nanmin(values) < 0:
            return "embeddings"
        raise ValueError(
            f"cannot tell embeddings from weights: both have {d} columns, and X holds no "
            "negative value (weights never do); pass kind='embeddings' or kind='weights'"
        )
    raise ValueError(
        f"X has {n_cols} columns: expected embeddings ({d} columns) or concept weights "
        f"({n_concepts} columns)"
    )


#: Rows of the dictionary cast at a time for weights of another dtype.
_DICTIONARY_BLOCK_ROWS = 1024

#: Entries of the embeddings that ``inverse_transform`` recomposes together
#: (8192 rows of 512): the temporaries of a block, not of every row.
_RECOMPOSE_BLOCK_ITEMS = 1 << 22


def _cast_dictionary(W: Any, D: np.ndarray) -> np.ndarray | None:
    """``D`` in the dtype of the weights ``W`` when ``W @ D`` should take it cast whole.

    ``D`` itself for weights of its dtype; ``None`` (cast a block at a time, see
    :func:`_times_dictionary`) when the copy would be larger than the weights
    (dense) or than the product (sparse), e.g. a few rows against a large
    vocabulary. Otherwise one cast copy, no larger than those, is the faster:
    float32 CSR of 100k rows x 10k concepts (20-60 non-zeros a row) times a
    float64 dictionary of 512 dimensions took 1.3 s against the whole cast
    copy, 1.8-2.2 s a block of 1024 cast rows at a time (slicing the columns
    of the weights once per block costs more than the cache the block saves).
    """
    if W.dtype == D.dtype:
        return D
    # (the product of sparse weights, else the weights themselves, at least as large)
    larger = W.shape[0] * D.shape[1] if scipy.sparse.issparse(W) else W.size
    return D.astype(W.dtype) if larger >= D.size else None


def _times_dictionary(W: Any, D: np.ndarray, D_cast: np.ndarray | None = None) -> np.ndarray:
    """``W @ D`` in the dtype of ``W``, without a per-call copy of the dictionary ``D``.

    ``D_cast`` is ``D`` already in the dtype of ``W`` (see
    :func:`_cast_dictionary`); without it, weights of another dtype than ``D``
    (float32 weights, float64 ``dictionary_``) meet ``D`` a block of
    ``_DICTIONARY_BLOCK_ROWS`` rows at a time, each block cast to their dtype,
    so that no copy of the whole ``D`` is made for a few rows. CSR weights that
    use at most half of the concepts meet only those rows of ``D``, in blocks of
    as many (the sum of a row then follows the blocks of the concepts its batch
    uses: the same rows give the same result).
    """
    if W.dtype == D.dtype:
        return np.asarray(W @ D)
    if D_cast is not None:
        return np.asarray(W @ D_cast)
    E = np.zeros((W.shape[0], D.shape[1]), dtype=W.dtype)
    csr = scipy.sparse.issparse(W) and W.format == "csr"
    used = np.unique(W.indices) if csr else None
    if used is not None and 2 * used.size <= D.shape[0]:
        # Weights that use at most half of the concepts: only those are cast, a block of
        # them at a time (512 rows of 3 concepts each: casting every block of D took
        # most of the time of recomposing them).
        for start in range(0, used.size, _DICTIONARY_BLOCK_ROWS):
            cols = used[start : start + _DICTIONARY_BLOCK_ROWS]
            E += np.asarray(W[:, cols] @ D[cols].astype(W.dtype))
        return E
    for start in range(0, D.shape[0], _DICTIONARY_BLOCK_ROWS):
        stop = start + _DICTIONARY_BLOCK_ROWS
        E += np.asarray(W[:, start:stop] @ D[start:stop].astype(W.dtype))
    return E


#: Entries of the padded (rows, row length) arrays that ``top_concepts`` sorts together.
_TOP_BLOCK_ITEMS = 1 << 20


def _top_entries(W: scipy.sparse.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest non-zero entries of each row of ``W``, as positions in ``W.data``.

    Returns the positions, row after row, each row's by decreasing value (equal
    values in the order they are stored), and the number taken from each row.
    Entries stored as zeros are skipped. The rows are sorted together (one
    stable argsort of a padded array) rather than one at a time (100k rows of
    20-60 non-zeros, k=10: 0.3 s here, 0.9-1.0 s the whole ``top_concepts``
    call before float32 weights were given as their shortest decimals, which adds
    0.3-0.5 s, 4.2-4.6 s with one argsort a row); rows of similar lengths
    share a padded array, so that one long row does not pad every other, in
    groups of at most ``_TOP_BLOCK_ITEMS`` entries.
    """
    nonzero = W.data != 0
    if nonzero.all():
        kept = None  # every stored entry counts: positions in W.data directly
        values = W.data
        lengths = np.diff(W.indptr).astype(np.int64)
    else:
        kept = np.flatnonzero(nonzero)
        values = W.data[kept]
        cumulative = np.concatenate([[0], np.cumsum(nonzero, dtype=np.int64)])
        lengths = cumulative[W.indptr[1:]] - cumulative[W.indptr[:-1]]
    starts = np.cumsum(lengths) - lengths
    k = min(k, int(lengths.max(initial=1)))  # (a k beyond int64 would overflow below)
    counts = np.minimum(lengths, k)
    chosen = np.empty(int(counts.sum()), dtype=np.intp)
    first = np.cumsum(counts) - counts
    # Rows grouped by the bit length of their number of entries: padded to at most
    # twice their length.
    group = np.frexp(lengths.astype(np.float64))[1]
    for g in np.unique(group[lengths > 0]):
        members = np.flatnonzero(group == g)
        width = int(lengths[members].max())
        take = min(k, width)
        step = max(1, _TOP_BLOCK_ITEMS // width)
        for at in range(0, len(members), step):
            rows = members[at : at + step]
            padding = np.arange(width) >= lengths[rows, None]
            source = starts[rows, None] + np.arange(width)
            source[padding] = 0
            keys = -values[source]
            keys[padding] = np.inf  # after every (finite) weight
            order = np.argsort(keys, axis=1, kind="stable")[:, :take]
            best = np.take_along_axis(source, order, axis=1)
            wanted = np.arange(take) < counts[rows, None]
            chosen[(first[rows, None] + np.arange(take))[wanted]] = best[wanted]
    return (chosen if kept is None else kept[chosen]), counts


class ConceptSpaceMixin:
    """What a fitted ``SpliceTransformer`` offers in concept space.

    The names of the concepts, recomposition, the largest weights, sparsity
    and recomposition quality. It relies on the fitted ``concepts_``,
    ``dictionary_`` and ``mean_`` and, for embeddings, on ``_validate_X`` and
    ``_decomposed`` of the estimator.
    """

    if TYPE_CHECKING:  # (what the estimator provides, declared for type checkers)
        concepts_: np.ndarray
        dictionary_: np.ndarray
        mean_: np.ndarray

        def _validate_X(self, X: Any, *, reset: bool, keep_float16: bool = False) -> np.ndarray: ...

        def _decomposed(self, X: np.ndarray) -> scipy.sparse.csr_matrix: ...

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The concept strings, the names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked for consistency with the fitted input.

        Returns
        -------
        ndarray of shape (n_concepts,), dtype object
            The concepts, in dictionary order.
        """
        check_is_fitted(self)
        check_input_features(self, input_features)
        return self.concepts_.copy()

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Recompose dense embeddings from concept weights.

        Computes ``normalise(normalise(W @ dictionary_) + mean_)`` row by row.
        An all-zero row of weights gives ``normalise(mean_)`` (the zero vector
        if ``mean_`` is itself zero).

        Parameters
        ----------
        X : {scipy sparse matrix, ndarray, DataFrame} of shape (n_samples, n_concepts)
            Concept weights, as returned by :meth:`transform`. A DataFrame must
            have the concepts as columns (in any order).

        Returns
        -------
        ndarray of shape (n_samples, d)
            Unit-norm recomposed embeddings (float32 for float32 weights,
            float64 otherwise).

        Raises
        ------
        ValueError
            If the number of columns is not the number of concepts, the
            DataFrame columns are not the concepts, or values are not finite
            or negative (SpLiCE weights are non-negative: a negative weight
            would recompose the opposite of its concept).
        """
        return self._inverse_transform(X)

    def _inverse_transform(self, X: Any, *, checked: bool = False) -> np.ndarray:
        """``inverse_transform``; ``checked=True`` for weights whose origin and sign the
        caller has checked (a ConceptEditor's edit of weights it has looked up and found
        non-negative)."""
        check_is_fitted(self)
        # (cast: SpliceTransformer is the one class of this mixin)
        cast("SpliceTransformer", self)._warn_if_set_after_fit(penalty=False)
        splice = cast("SpliceTransformer", self)
        if checked:
            W = check_weights(splice, X, [])
        else:
            W = self._weights_to_recompose(X)
            check_non_negative_rows(
                W,
                "weights",
                row_labels(X),
                hint="inverse_transform recomposes the weights transform gives (a step "
                "that centres or scales them, such as StandardScaler, makes some negative); "
                "to take a concept out, set its column to zero",
            )
        return self._recompose(W)

    def _weights_to_recompose(self, W: Any) -> Any:
        """Weights given to be recomposed (``inverse_transform``, ``cosine_similarity``)
        checked against this transformer's concepts (:func:`check_weights`: CSR or a 2-D
        array), warned about where a transformer of another centre or dictionary made
        them (:func:`check_recomposer`)."""
        found = recorded(W)
        splice = cast("SpliceTransformer", self)
        checked = check_weights(splice, W, found)
        check_recomposer(
            W, recomposition_key(self), "this transformer", found=found, modality=splice.modality
        )
        return checked

    def _recompose(self, W: Any) -> np.ndarray:
        """``inverse_transform`` of weights that are already checked (CSR or ndarray)."""
        dtype = W.dtype
        D = self.dictionary_
        D_cast = _cast_dictionary(W, D)
        mean = self.mean_.astype(dtype)
        R = np.empty((W.shape[0], D.shape[1]), dtype=dtype)
        # A block of rows at a time, normalised in place, into the result: the
        # temporaries (product, squares for the norms) are a block's, not 3-4
        # arrays the size of the result (782 MB for 205 MB of float32 before).
        block = max(1, _RECOMPOSE_BLOCK_ITEMS // max(1, D.shape[1]))
        for start in range(0, W.shape[0], block):
            E = _times_dictionary(W[start : start + block], D, D_cast)
            l2_normalize(E, out=E)
            E += mean
            l2_normalize(E, out=R[start : start + block])
        return R

    def top_concepts(
        self, X: Any, k: int | None = 10, *, kind: str = "auto", as_frame: bool = False
    ) -> Any:
        """The ``k`` largest concept weights of each sample.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
            Embeddings of shape (n_samples, d), which are transformed first, or
            concept weights of shape (n_samples, n_concepts).
        k : int or None, default=10
            Number of concepts per sample (fewer when fewer are non-zero); None for
            every non-zero one (as :meth:`sksplice.ConceptRetriever.search` takes
            ``k=None`` for every match).
        kind : {"auto", "embeddings", "weights"}, default="auto"
            What ``X`` holds; ``"auto"`` decides from its type and shape
            (sparse input and DataFrames with concept columns are weights).
        as_frame : bool, default=False
            Return a tidy DataFrame instead of lists.

        Returns
        -------
        list of list of (str, float) or DataFrame
            Per sample, ``(concept, weight)`` pairs by decreasing weight; or a
            DataFrame with columns ``sample``, ``rank`` (from 1; nullable
            ``Int64``), ``concept``, ``weight``, where ``sample`` is the row's
            label in the index of a DataFrame ``X`` (its position otherwise). A
            sample without any concept is one row of missing values (rank
            ``<NA>``, concept and weight missing: None or NaN, as pandas stores
            them), so that each sample is in the frame
            (``frame.dropna(subset=["concept"])`` drops them). A float32 weight is given
            as the shortest decimal that reads back as the same float32
            (``0.3``, not ``0.30000001192092896``): ``numpy.float32(weight)``
            is the weight.

        Warns
        -----
        UserWarning, DenseCodesWarning
            Where embeddings are decomposed, as :meth:`transform` warns: a penalty
            that leaves the rows without a concept, or nearly dense codes.
        """
        k = check_int(k, "k", allow_none=True)
        labels = getattr(X, "index", None) if hasattr(X, "iloc") else None
        W = scipy.sparse.csr_matrix(as_weights(cast("SpliceTransformer", self), X, kind))
        chosen, counts = _top_entries(W, W.shape[1] if k is None else int(k))
        names = self.concepts_
        if set(map(type, names.tolist())) != {str}:  # (in C: 10k names in 0.2 ms)
            names = np.array([str(c) for c in names], dtype=object)
        concepts = names[W.indices[chosen]].tolist()
        # (float32 weights as their shortest decimals: 0.3, not 0.30000001192092896)
        weights = shortest_floats(W.data[chosen])
        if not as_frame:
            ends = np.cumsum(counts)
            bounds = zip((ends - counts).tolist(), ends.tolist(), strict=True)
            with gc_paused():  # (a list and k tuples a row, none in a reference cycle)
                pairs = list(zip(concepts, weights.tolist(), strict=True))
                return [pairs[a:b] for a, b in bounds]
        return _top_frame(concepts, weights, counts, labels)

    def l0(self, X: Any, *, kind: str = "auto", per_sample: bool = False) -> Any:
        """Number of non-zero concept weights.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
            Embeddings (transformed first) or concept weights, see
            :meth:`top_concepts`.
        kind : {"auto", "embeddings", "weights"}, default="auto"
            What ``X`` holds.
        per_sample : bool, default=False
            Return the count of every sample instead of the mean.

        Returns
        -------
        float or ndarray of shape (n_samples,)
            Mean number of non-zero weights, or the per-sample counts.

        Raises
        ------
        ValueError
            For the mean of weights without a row (with ``per_sample=True`` the
            counts are an empty array).

        Warns
        -----
        UserWarning, DenseCodesWarning
            Where embeddings are decomposed, as :meth:`transform` warns: a penalty
            that leaves the rows without a concept, or nearly dense codes.
        """
        W = as_weights(cast("SpliceTransformer", self), X, kind)
        if scipy.sparse.issparse(W):
            counts = np.asarray((W != 0).sum(axis=1)).ravel()
        else:
            counts = np.count_nonzero(W, axis=1)
        counts = counts.astype(np.int64)
        if not per_sample and not counts.size:  # (the mean of nothing: NaN, and numpy's warnings)
            raise ValueError(
                "weights have no rows (0 samples): their mean l0 is undefined; "
                "l0(W, per_sample=True) gives the counts of every row (none)"
            )
        return counts if per_sample else float(counts.mean())

    def cosine_similarity(
        self, X: Any, *, baseline: bool = False, weights: Any = None
    ) -> np.ndarray:
        """Cosine similarity between each embedding and its recomposition.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.
        baseline : bool, default=False
            Instead, the cosine similarity between each embedding and the centre
            alone (``mean_`` normalised), which is what a recomposition from no
            concept scores: the baseline to read the cosines of the recompositions
            against. It is not small: the embeddings of a modality share much of
            their direction, and over the embeddings the centre is the mean of, its
            mean is the centre's norm (0.56 to 0.70 for the published CLIP image
            means). A recomposition explains an embedding as far as its cosine rises
            above this one. Nothing is decomposed.
        weights : {array-like, sparse matrix} of shape (n_samples, n_concepts) or None, default=None
            The concept weights of ``X`` that :meth:`transform` returned (any of its
            containers, a DataFrame too): recomposed as they are, without decomposing
            ``X`` again (which takes as long as the ``transform`` did): concept
            weights, not sample weights. Not with ``baseline``; a frame's rows must be
            labelled as those of a frame ``X``.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``cos(x, inverse_transform(transform(x)))`` per sample (with
            ``weights``, ``cos(x, inverse_transform(weights))``), or with
            ``baseline`` ``cos(x, mean_)`` (0 where the centre is zero); 0 for
            an all-zero row of ``X``, which has no direction; float32 for
            float32 and float16 embeddings, float64 otherwise.

        Warns
        -----
        UserWarning, DenseCodesWarning
            Where embeddings are decomposed, as :meth:`transform` warns: a penalty
            that leaves the rows without a concept, or nearly dense codes.
        UserWarning
            Where rows of ``weights`` were solved by :meth:`transform` (in this
            process, and not changed since) for other embeddings than the rows of
            ``X`` at their places: rows in another order, of other samples (each
            transform keeps a sketch of the embedding of each row it solves, 16
            bytes, which the embedding rescaled or rounded to float16 keeps).
        """
        check_is_fitted(self)
        check_flag(baseline, "baseline")
        if baseline and weights is not None:
            raise ValueError(
                "cosine_similarity takes weights or baseline=True, not both: the baseline "
                "is the cosine of the centre alone, which recomposes no weights"
            )
        # (rows of a frame X and of the weights' frame, taken in one order only if alike)
        x_rows, w_rows = row_labels(X), row_labels(weights)
        if x_rows is not None and w_rows is not None and not x_rows.equals(w_rows):
            raise ValueError(
                "the rows of weights are labelled otherwise than the rows of X (another "
                "order, or other samples): give the weights of X in its order, "
                "weights.loc[X.index]"
            )
        # (float16 rows, a memory-mapped .npy perhaps, are decomposed as transform does
        # it, in float32 a chunk at a time, not copied whole into float64)
        X = self._validate_X(X, reset=False, keep_float16=True)
        if weights is not None:
            given = weights
            # (as CSR whatever the container: recomposed as transform's own weights are,
            # and as inverse_transform recomposes them)
            weights = scipy.sparse.csr_matrix(self._weights_to_recompose(weights))
            if weights.shape[0] != X.shape[0]:
                raise ValueError(
                    f"weights has {weights.shape[0]} rows for the {X.shape[0]} rows of X: "
                    "give the weights that transform returned for this X"
                )
            if w_rows is None:  # (rows with labels were matched above)
                _warn_rows_of_other_targets(given, X)
        return self._cosines(X, baseline=baseline, weights=weights)

    def _cosines(self, X: np.ndarray, *, baseline: bool = False, weights: Any = None) -> np.ndarray:
        """:meth:`cosine_similarity` of validated embeddings ``X`` (``weights``: CSR of
        as many rows, or None), for callers that validated ``X`` already."""
        block = max(1, _COSINE_BLOCK_ITEMS // X.shape[1])
        other: Callable[[int], np.ndarray]
        if baseline:
            # (the fitted centre, which a mean set since the fit does not move: said)
            cast("SpliceTransformer", self)._warn_if_set_after_fit(penalty=False)
            centre = l2_normalize(self.mean_.astype(_float32_if_half(X[:0]).dtype))

            def other(start: int) -> np.ndarray:
                return centre

        else:
            W = self._decomposed(X) if weights is None else weights

            def other(start: int) -> np.ndarray:
                return self._recompose(W[start : start + block])

        # Compared a block of rows at a time, with no dense array of every row; the
        # centre too is summed row by row, not in a matrix product: a row without
        # concepts gets its cosine's bits, whatever rows come with it.
        return np.concatenate(
            [
                np.sum(unit_rows(_float32_if_half(X[s : s + block])) * other(s), axis=1)
                for s in range(0, X.shape[0], block)
            ]
        )

    def score(self, X: Any, y: Any = None) -> float:
        """Mean cosine similarity between embeddings and their recompositions.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        float
            Mean of :meth:`cosine_similarity`; higher is better (at most 1). An
            all-zero row of ``X`` (warned about) counts as 0 in the mean: drop
            such rows to score the others alone.

        Warns
        -----
        UserWarning, DenseCodesWarning
            Where embeddings are decomposed, as :meth:`transform` warns: a penalty
            that leaves the rows without a concept, or nearly dense codes.
        """
        return float(np.mean(self.cosine_similarity(X)))


def _top_frame(concepts: list[str], weights: np.ndarray, counts: np.ndarray, labels: Any) -> Any:
    """The tidy frame of :meth:`top_concepts`: ``sample, rank, concept, weight``, the
    ``counts[i]`` top concepts of each sample in turn, and one row of missing values
    (rank ``<NA>``, concept and weight missing) for a sample without any, so that every
    sample is in it (a frame saved as a table had lost the samples without concepts)."""
    import pandas as pd

    slots = np.maximum(counts, 1)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), slots)
    held = np.repeat(counts > 0, slots)  # (the rows that hold a concept)
    first = np.cumsum(slots) - slots
    rank = pd.array(np.arange(1, len(rows) + 1, dtype=np.int64) - np.repeat(first, slots))
    rank[~held] = pd.NA
    concept = np.full(len(rows), None, dtype=object)
    concept[held] = concepts
    weight = np.full(len(rows), np.nan)
    weight[held] = weights
    if labels is None:
        sample: Any = rows
    else:
        label_list = list(labels)
        # A list of the labels, typed by pandas as the rows of tuples were.
        sample = [label_list[i] for i in rows.tolist()]
    return pd.DataFrame(
        {"sample": sample, "rank": rank, "concept": concept, "weight": weight},
        columns=["sample", "rank", "concept", "weight"],
    )
