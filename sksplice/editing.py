"""Editing representations by removing concepts.

Two ways to remove a concept from CLIP-like embeddings, for side-by-side
comparison:

* :class:`ConceptEditor` works on SpLiCE concept weights: it zeroes the weights
  of named concepts (optionally extended to their neighbours in the concept
  dictionary) and returns the edited weights or the recomposed dense
  embeddings;
* :class:`ConceptProjector` (and :func:`project_out`) works on dense
  embeddings directly: it projects them onto the orthogonal complement of the
  concepts' text embeddings and renormalises them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._array import l2_normalize, unit_rows
from ._display import OneBlockMixin
from ._names import (
    a_type,
    carried_names,
    check_concept_names,
    check_source,
    differences_said,
    listed,
    name_differences,
    recorded,
    recorded_makers,
    remember_concepts,
)
from ._pandas import (
    in_order_of,
    is_polars_frame,
    is_sparse_frame,
    sparse_frame,
    sparse_frame_to_csr,
    transform_output,
)
from ._persistence import VersionStampMixin
from ._protocols import check_text_embedder
from ._set_after_fit import record_params, warn_set_after_fit
from ._stack import warn_user
from ._validation import (
    all_float16,
    check_finite_rows,
    check_flag,
    check_input_features,
    check_int,
    check_non_negative_rows,
    check_number,
    check_option,
    float_dtypes,
    negative_rows,
    parameters_of,
    refuse_zero_rows,
    restored_on_failure,
    row_labels,
    shown_rows,
    tensor_as_array,
    validated,
    vectors_in_cells,
)
from ._weights import check_recomposer, recomposition_key

__all__ = ["ConceptEditor", "ConceptProjector", "concept_neighbors", "project_out"]

_OUTPUTS = ("weights", "embedding")


def _name_list(value: Any, param: str) -> list[str]:
    """A list of concept names from ``None``, one string, a sequence or a set of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, set | frozenset):
        # (in a fixed order, as zero_concept_coefficients takes a set: the order of a
        # set of strings changes from one interpreter to the next)
        value = sorted(value, key=str)
    if not isinstance(value, Sequence | np.ndarray | pd.Index | pd.Series):
        raise TypeError(f"`{param}` must be a list of concept names, got {type(value).__name__}")
    names = list(value)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"`{param}` entry {i} is {a_type(name)} ({name!r}), not a concept name")
    return names


def _lookup(
    names: list[str],
    index: dict[str, int],
    param: str,
    ignore_unknown: bool,
    skipped: list[str] | None = None,
    beyond: Callable[[list[str]], tuple[dict[str, int], int | None]] | None = None,
) -> list[int]:
    """Positions of ``names`` in the vocabulary; unknown names raise (or warn) with hints.

    With ``ignore_unknown``, the unknown names are appended to ``skipped`` when given.
    ``beyond``: where unknown names are in the vocabulary beyond the concepts
    ``vocabulary_size`` keeps (see :func:`beyond_kept`), which the message says.
    """
    found, unknown = [], []
    for name in names:
        if name in index:
            found.append(index[name])
        else:
            unknown.append(name)
    if unknown:
        from ._concepts import unknown_concepts_message

        where = beyond(unknown) if beyond else ({}, None)
        message = unknown_concepts_message(unknown, index, param, where)
        if not ignore_unknown:
            raise ValueError(message + "; pass ignore_unknown=True to skip them")
        warn_user(message + "; they are ignored", UserWarning)
        if skipped is not None:
            skipped.extend(unknown)
    return list(dict.fromkeys(found))


def beyond_kept(splice: Any, names: Sequence[str]) -> tuple[dict[str, int], int | None]:
    """Where the vocabulary of the fitted transformer ``splice`` (or None) holds those of
    ``names`` beyond the concepts ``vocabulary_size`` keeps, and its length (see
    :func:`~sksplice._concepts.positions_beyond`); nothing where it is not known."""
    positions = getattr(splice, "_concepts_beyond", None) if splice is not None else None
    return positions(names) if callable(positions) else ({}, None)


#: Why an editor without ``splice`` that names concepts cannot edit weights without names.
_NO_NAMES = (
    "the concept weights carry no concept names, so the concepts to edit cannot be found: "
    "give `splice=` (a fitted SpliceTransformer) or pass a pandas DataFrame whose columns "
    "are the concepts (in a pipeline, SpliceTransformer(...).set_output(transform='pandas') "
    "before the editor: also where a search changes the transformer)"
)


def check_editor_names(
    editor: Any,
    concepts: Sequence[str],
    step: str,
    beyond: Callable[[list[str]], tuple[dict[str, int], int | None]] | None = None,
    *,
    named: bool = True,
) -> None:
    """Refuse, before any fit, the names of ``editor`` that ``concepts`` lack.

    For a :class:`ConceptEditor` right after a ``SpliceTransformer`` in a pipeline
    (its names are the transformer's columns): a misspelt name in ``remove`` or
    ``keep`` is otherwise found only after the whole vocabulary is embedded. An
    editor with its own fitted ``splice`` is checked against that transformer's
    concepts (which its ``fit`` edits by); one with ``ignore_unknown=True`` or with
    parameters that its ``fit`` refuses anyway is left to that ``fit``. ``named``:
    whether the transformer's output names its columns (a DataFrame); an editor
    that names concepts without ``splice`` cannot find them in an array.

    Raises
    ------
    ValueError
        Naming ``step`` and the unknown concepts, as :meth:`ConceptEditor.fit` does,
        or saying that the weights will carry no names to find them by.
    """
    if not isinstance(editor, ConceptEditor):
        return
    missing = _splice_missing(editor)
    if missing is not None:
        raise ValueError(f"step {step!r} of the pipeline: {missing}")
    try:
        remove = _name_list(editor.remove, "remove")
        keep = None if editor.keep is None else _name_list(editor.keep, "keep")
    except TypeError:
        return  # (its fit says what is wrong)
    if not named and editor.splice is None and (remove or keep is not None):
        raise ValueError(f"step {step!r} of the pipeline: {_NO_NAMES}")
    if editor.ignore_unknown is not False:
        return
    if editor.splice is not None:
        try:  # (the frozen transformer names the concepts its fit edits by)
            concepts = list(_splice_parts(editor.splice)[0])
        except (TypeError, ValueError, AttributeError):
            return  # (its fit says what is wrong)
    index = {str(c): i for i, c in enumerate(concepts)}
    for param, names in (("keep", keep), ("remove", remove)):
        if names:
            try:
                _lookup(names, index, param, ignore_unknown=False, beyond=beyond)
            except ValueError as exc:
                raise ValueError(f"step {step!r} of the pipeline: {exc}") from None


def _splice_missing(editor: ConceptEditor) -> str | None:
    """Why ``editor`` needs a ``splice`` it lacks (recomposing embeddings, or finding
    neighbours of the concepts named), or None. Its other settings are checked first by
    its ``fit``, which says what is wrong with them."""
    if editor.splice is not None:
        return None
    if editor.output == "embedding":
        return (
            "output='embedding' needs `splice` (a fitted SpliceTransformer, wrapped in "
            "sklearn.frozen.FrozenEstimator) to recompose embeddings"
        )
    n_neighbors = editor.n_neighbors
    if (isinstance(n_neighbors, numbers.Integral) and n_neighbors > 0) or (
        editor.similarity_threshold is not None
    ):
        return (
            "n_neighbors / similarity_threshold need `splice` (a fitted SpliceTransformer) "
            "whose dictionary defines the neighbours (a pipeline whose editor names its "
            "columns, with set_output(transform='pandas'), has none to give it)"
        )
    return None


def _keeps_nothing(keep: list[str], skipped: list[str]) -> str:
    """Why a ``keep`` that resolved to no concept of the vocabulary is refused."""
    if not keep:
        cause = "`keep` is empty (keep=[] keeps no concept; keep=None, the default, keeps all)"
    else:
        shown = ", ".join(repr(name) for name in dict.fromkeys(skipped))
        cause = (
            f"`keep` resolved to no known concept: its names not in the vocabulary ({shown}) "
            "were skipped by ignore_unknown=True"
        )
    return (
        f"{cause}, so every concept would be zeroed and every row would become the same "
        "(zero weights; the mean embedding with output='embedding'). Name at least one "
        "concept of the vocabulary in `keep`"
    )


#: The concepts a warning of idle removals names, at most (then how many more).
_IDLE_SHOWN = 10


def _warn_idle_removals(X: Any, table: pd.DataFrame, index: dict[str, int], expanded: bool) -> None:
    """Warn about the concepts named in ``remove`` that no row of ``X`` holds.

    ``table`` is the removal's neighbour table (a ``query`` and a ``concept`` column):
    a named concept is idle when neither it nor the neighbours selected for it has a
    non-zero weight in any row. Removing it changes nothing on those weights, which
    is easily taken for an edit that worked: a decomposition of a beach photo may carry
    "water" with "ocean" and "sea" and never use "water" itself.
    """
    columns = [index[str(c)] for c in table["concept"]]
    if sp.issparse(X):
        present = np.zeros(X.shape[1], dtype=bool)
        present[X.indices[X.data != 0]] = True
        present = present[columns]
    elif isinstance(X, pd.DataFrame):  # (its columns of pandas sparse values stay sparse)
        present = (X.iloc[:, columns] != 0).any(axis=0).to_numpy(dtype=bool)
    else:
        # (the columns of the removal only: not a boolean copy of the whole matrix)
        present = np.asarray((np.asarray(X)[:, columns] != 0).any(axis=0), dtype=bool)
    held = pd.Series(present, index=table.index)
    # (in the order of the names in `remove`, which the table keeps)
    any_held = held.groupby(table["query"], sort=False).any()
    idle = [str(query) for query, is_held in any_held.items() if not is_held]
    if not idle:
        return
    one = len(idle) == 1
    shown = listed(idle, _IDLE_SHOWN, repr)
    with_neighbours = table["query"].isin(idle) & (table["concept"] != table["query"])
    neighbours = (
        f" (nor does any of the neighbours selected for {'it' if one else 'them'})"
        if expanded and with_neighbours.any()
        else ""
    )
    warn_user(
        f"the concept{'' if one else 's'} {shown} named in `remove` "
        f"{'has' if one else 'have'} a non-zero weight in no row of X seen in fit"
        f"{neighbours}: removing {'it' if one else 'them'} changes nothing there. The "
        "decompositions may carry that meaning with other concepts: look at the concepts "
        "the rows use (SpliceTransformer.top_concepts) and at the nearest concepts in the "
        "dictionary (sksplice.editing.concept_neighbors), and name those, or "
        + (
            "extend the edit further (a larger n_neighbors or a lower similarity_threshold)"
            if expanded
            else "extend the edit with n_neighbors or similarity_threshold"
        )
        + f". (In a search over l1_penalty, a large penalty may leave {'it' if one else 'them'} "
        "out of every row of one fit only.)"
    )


def _warn_split_twins(splice: Any, names: np.ndarray, mask: np.ndarray) -> None:
    """Warn about concepts with the same embedding that the edit separates.

    The transformer splits a weight equally between concepts whose embeddings are
    exactly the same (its ``DuplicateConceptWarning`` at fit): zeroing some of them
    leaves the rest of that weight, the same direction, in the others.
    """
    groups = getattr(splice, "_duplicate_columns", None) or []
    split = [g for g in groups if mask[g].any() and not mask[g].all()]
    if not split:
        return

    def said(g: np.ndarray) -> str:
        zeroed = ", ".join(repr(str(names[j])) for j in g[~mask[g]])
        return f"{zeroed} zeroed, {', '.join(repr(str(names[j])) for j in g[mask[g]])} kept"

    shown = listed(split, 3, said, sep="; ", more="; and {} more groups")
    warn_user(
        f"the edit separates concepts whose embeddings are the same ({shown}): "
        "`splice` splits a weight equally between such concepts, so the kept ones still "
        "carry the zeroed ones' direction (half of a pair's weight). Name every concept of "
        "a group in `remove` (or `keep`) to edit that direction"
    )


#: The parameters ConceptEditor.fit reads (output is read by transform).
_EDITOR_FIT_PARAMS = ("remove", "keep", "n_neighbors", "similarity_threshold", "splice")


def _check_neighbor_params(n_neighbors: Any, similarity_threshold: Any) -> None:
    """Check ``n_neighbors`` and ``similarity_threshold`` (of the editor and the retriever)."""
    if n_neighbors is None:  # (None for "off", as a grid may write it)
        raise TypeError(
            "n_neighbors must be a non-negative integer, got None; 0 adds no neighbours"
        )
    check_int(n_neighbors, "n_neighbors", low=0)
    check_number(similarity_threshold, "similarity_threshold", low=-1.0, high=1.0, allow_none=True)


def _splice_parts(splice: Any, *, needed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Concept names and dictionary of a fitted SpliceTransformer (or a wrapper of one).

    ``needed``: whether the caller could do without ``splice`` (an editor of named
    weights that neither recomposes nor looks for neighbours); then the error of an
    unfitted one also says how to do without it in a search.
    """
    # (scikit-learn's check_is_fitted would say "... is not an estimator instance",
    # naming no parameter)
    check_splice_kind(splice)
    try:
        check_is_fitted(splice)
    except NotFittedError as exc:
        from sklearn.frozen import FrozenEstimator

        if isinstance(splice, FrozenEstimator):  # (frozen before it was fitted)
            inner = type(splice.estimator).__name__
            raise NotFittedError(
                f"`splice` is a FrozenEstimator of an unfitted {inner}: fit the transformer "
                "first, then freeze it (FrozenEstimator(splice.fit(X)))"
            ) from exc
        raise NotFittedError(
            f"`splice` must be a fitted SpliceTransformer, got an unfitted "
            f"{type(splice).__name__}: fit it first (splice.fit(X)). Inside GridSearchCV "
            "or cross_val_score, scikit-learn's clone returns unfitted copies of estimator "
            "parameters: wrap the fitted transformer as "
            "sklearn.frozen.FrozenEstimator(splice) so that it stays fitted"
            + (
                ""
                if needed
                else "; a search over the transformer's l1_penalty keeps that frozen one (the "
                "names and the dictionary do not change with the penalty), but where it changes "
                "the vocabulary, give no `splice` and let the pipeline's transformer name its "
                "columns instead (SpliceTransformer(...).set_output(transform='pandas'))"
            )
        ) from exc
    if not hasattr(splice, "dictionary_"):  # (a fitted Pipeline, another transformer)
        raise not_a_splice_transformer(splice)
    names = np.asarray(splice.get_feature_names_out(), dtype=object)
    dictionary = np.asarray(splice.dictionary_)
    return names, dictionary


def pipeline_in(splice: Any) -> Any:
    """``splice`` if it is a Pipeline, the Pipeline a FrozenEstimator ``splice`` wraps;
    else None."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    inner = splice.estimator if isinstance(splice, FrozenEstimator) else splice
    return inner if isinstance(inner, Pipeline) else None


def check_splice_kind(splice: Any) -> None:
    """Refuse a ``splice`` that is no transformer, or a Pipeline (told which step to
    give, fitted or not), with :func:`not_a_splice_transformer`."""
    if (
        not hasattr(splice, "fit")
        or not hasattr(splice, "get_feature_names_out")
        or pipeline_in(splice) is not None
    ):
        raise not_a_splice_transformer(splice)


def not_a_splice_transformer(splice: Any) -> TypeError:
    """The error for a ``splice`` that is no SpliceTransformer (a string, a list, another
    transformer; a Pipeline, such as ``probe[:-1]``, is told which step to give)."""
    shown = f" ({splice!r})" if isinstance(splice, str) else ""
    inner = pipeline_in(splice)
    advice = ""
    if inner is not None:
        shown = " of a Pipeline" if inner is not splice else ""
        steps = [name for name, step in inner.steps if hasattr(step, "dictionary_")]
        step = f"pipeline.named_steps[{steps[0]!r}]" if steps else ""
        advice = (
            f": give its SpliceTransformer step, FrozenEstimator({step})"
            if steps
            else ", of no fitted SpliceTransformer step"
        )
    return TypeError(
        "`splice` must be a fitted SpliceTransformer (wrapped in "
        f"sklearn.frozen.FrozenEstimator), got {a_type(splice)}{shown}{advice}"
    )


def ranked_neighbors(
    sims: np.ndarray, n_neighbors: int, threshold: float | None = None
) -> list[np.ndarray]:
    """For each row of ``sims``, its columns by decreasing value, ties by lower column.

    Only the ``n_neighbors`` first are kept (all for 0 or at least the number of
    columns), and with ``threshold`` only those whose value is at least it (a
    prefix of the order, so that the two limits commute). The order is that of
    a stable sort of the whole row (``np.argsort(-row, kind="mergesort")``), but
    only the values that can be among the first ``n_neighbors`` are sorted: those
    at least the ``n_neighbors``-th largest, ties at that boundary included, so
    the lower columns among them come first as in the full sort.

    Parameters
    ----------
    sims : ndarray of shape (n_rows, n_columns)
        Similarities, one row per query.
    n_neighbors : int
        Largest number of columns kept per row; 0 for no limit.
    threshold : float, default=None
        Least value kept.

    Returns
    -------
    list of ndarray of int
        The selected columns of each row, in order.
    """
    n_rows, n_cols = sims.shape
    kth = None
    if 0 < n_neighbors < n_cols:
        kth = -np.partition(-sims, n_neighbors - 1, axis=1)[:, n_neighbors - 1]
    selected = []
    for i in range(n_rows):
        row = sims[i]
        keep = None if kth is None else row >= kth[i]
        if threshold is not None:
            above = row >= threshold
            keep = above if keep is None else keep & above
        cand = np.arange(n_cols) if keep is None else np.flatnonzero(keep)
        order = cand[np.lexsort((cand, -row[cand]))]
        selected.append(order[:n_neighbors] if n_neighbors > 0 else order)
    return selected


#: Elements of one block of query-by-concept similarities (32 MB of float64).
_BLOCK_ELEMENTS = 1 << 22


def _neighbor_table(
    names: np.ndarray,
    dictionary: np.ndarray,
    queries: list[int],
    n_neighbors: int,
    similarity_threshold: float | None,
) -> pd.DataFrame:
    """Each query concept and the neighbours selected for it (query itself included).

    The cosines of a block of queries with every concept are one matrix product
    (a product per query read the whole dictionary once for each), and only the
    candidates for the first ``n_neighbors`` are sorted (:func:`ranked_neighbors`).
    """
    rows: list[tuple[str, str, float, int]] = []
    D = np.asarray(dictionary, dtype=np.float64)
    norms = np.linalg.norm(D, axis=1)
    norms[norms == 0] = 1.0
    expand = n_neighbors > 0 or similarity_threshold is not None
    block = max(1, _BLOCK_ELEMENTS // max(D.shape[0], 1))
    for start in range(0, len(queries), block):
        qs = np.asarray(queries[start : start + block], dtype=np.int64)
        selected: list[np.ndarray] = [np.array([], dtype=np.int64)] * len(qs)
        if expand:
            sims = (D[qs] @ D.T) / (norms[qs, None] * norms)
            sims[np.arange(len(qs)), qs] = -np.inf  # (the query is not its own neighbour)
            selected = ranked_neighbors(sims, n_neighbors, similarity_threshold)
            # (nor the last one when as many neighbours as concepts are asked for)
            selected = [order[order != q] for order, q in zip(selected, qs)]
        for i, q in enumerate(qs):
            rows.append((names[q], names[q], 1.0, 0))
            for rank, j in enumerate(selected[i], start=1):
                rows.append((names[q], names[j], float(sims[i, j]), rank))
    return pd.DataFrame(rows, columns=["query", "concept", "similarity", "rank"])


_PREVIEW_NEIGHBORS = 10  # neighbours listed by concept_neighbors without a limit or threshold


def concept_neighbors(
    splice: Any,
    concepts: str | Sequence[str],
    *,
    n_neighbors: int | None = None,
    similarity_threshold: float | None = None,
    ignore_unknown: bool = False,
) -> pd.DataFrame:
    """Concepts of a fitted SpliceTransformer's dictionary closest to given concepts.

    Similarity is the cosine between rows of ``splice.dictionary_`` (the
    centred concept embeddings). Use it to preview what
    ``ConceptEditor(n_neighbors=..., similarity_threshold=...)`` will remove:
    called with the values the editor is given for them (leaving out here those
    left out there), it lists the concepts the editor removes.

    Parameters
    ----------
    splice : fitted SpliceTransformer
        Gives the concept names and dictionary.
    concepts : str or sequence of str
        Query concepts (must be in the vocabulary).
    n_neighbors : int or None, default=None
        Largest number of neighbours per query; 0 for no limit: then
        ``similarity_threshold`` alone selects neighbours, and without a
        threshold none are listed (only the query's own row, as
        ``ConceptEditor`` then removes no neighbour). ``None`` means no limit
        when ``similarity_threshold`` is given (as ``ConceptEditor``'s default,
        ``n_neighbors=0``) and the 10 nearest when it is not.
    similarity_threshold : float or None, default=None
        Only neighbours with cosine similarity at least this are selected.
    ignore_unknown : bool, default=False
        Skip (with a warning) query names absent from the vocabulary instead
        of raising.

    Returns
    -------
    neighbors : pandas.DataFrame
        Columns ``query``, ``concept``, ``similarity`` and ``rank`` (0 for the
        query itself, then 1, 2, ... by decreasing similarity).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``splice`` is not fitted (a ``ValueError`` too).
    ValueError
        If ``concepts`` names no concept or one twice, or a name is not in the
        vocabulary (the message suggests close names).
    """
    if n_neighbors is None:
        n_neighbors = 0 if similarity_threshold is not None else _PREVIEW_NEIGHBORS
    _check_neighbor_params(n_neighbors, similarity_threshold)
    check_flag(ignore_unknown, "ignore_unknown")
    asked = _name_list(concepts, "concepts")
    if not asked:  # (an empty table read as "no neighbours")
        raise ValueError("`concepts` names no concept: give the concepts whose neighbours to list")
    twice = sorted({name for name in asked if asked.count(name) > 1})
    if twice:
        raise ValueError(
            f"`concepts` names {' and '.join(map(repr, twice[:2]))} twice: name each concept once"
        )
    names, dictionary = _splice_parts(splice)
    index = {str(n): i for i, n in enumerate(names)}
    queries = _lookup(
        asked,
        index,
        "concepts",
        ignore_unknown,
        beyond=lambda unknown: beyond_kept(splice, unknown),
    )
    return _neighbor_table(names, dictionary, queries, n_neighbors, similarity_threshold)


class ConceptEditor(TransformerMixin, OneBlockMixin, VersionStampMixin, BaseEstimator):
    """Remove (or keep only) named concepts from SpLiCE concept weights.

    The editor receives concept weights, as produced by
    :class:`sksplice.transformer.SpliceTransformer`, and sets the weights of the
    selected concepts to zero. Concepts are named by string and looked up
    among the concept names of the weights: those of ``splice`` when given,
    else the columns of the DataFrame seen in ``fit``.

    Parameters
    ----------
    remove : str, list of str or None, default=None
        Concepts whose weights are set to zero (a list, tuple, set, NumPy array,
        pandas Series or Index of names).
    keep : str, list of str or None, default=None
        If given, every concept *not* listed here is set to zero. With both
        ``keep`` and ``remove``, the concepts kept are those in ``keep`` and
        not in ``remove``. ``None`` keeps every concept; an empty list would
        keep none and is refused (see Notes).
    n_neighbors : int, default=0
        Extend each named concept with up to this many of its nearest concepts
        in the dictionary (cosine similarity of the rows of
        ``splice.dictionary_``). 0 disables the limit: then
        ``similarity_threshold`` alone selects neighbours, and without a
        threshold no neighbours are added. Needs ``splice``.
    similarity_threshold : float or None, default=None
        Extend each named concept with the concepts whose cosine similarity to
        it is at least this value (combined with ``n_neighbors``: the nearest
        ``n_neighbors`` among those above the threshold). Needs ``splice``.
    splice : fitted SpliceTransformer or None, default=None
        Source of the concept names, the dictionary used for neighbours, and
        ``inverse_transform`` for ``output="embedding"``. Pass it wrapped as
        ``sklearn.frozen.FrozenEstimator(splice)``: scikit-learn's ``clone``
        (run by ``GridSearchCV``, ``cross_validate`` ...) replaces estimator
        parameters by unfitted copies, but keeps a frozen estimator as it is.
    output : {"weights", "embedding"}, default="weights"
        ``"weights"`` returns the edited weights (same columns, removed ones
        zeroed) for a probe trained on concepts; ``"embedding"`` returns
        ``splice.inverse_transform`` of them, dense unit-norm embeddings for a
        zero-shot classifier or a probe trained in the embedding space.
    ignore_unknown : bool, default=False
        Names absent from the vocabulary raise a ``ValueError`` that suggests
        close matches; with ``True`` they are skipped with a warning (a
        ``keep`` left with no known name is still refused). Must be a bool.

    Attributes
    ----------
    concepts_ : ndarray of shape (n_concepts,), dtype object
        Concept names of the input columns (absent when the input carried
        none and nothing was to be edited).
    mask_ : ndarray of shape (n_concepts,), dtype bool
        True for the concepts that are left untouched.
    removed_concepts_ : ndarray of shape (n_removed,), dtype object
        Names of the concepts that ``transform`` zeroes, after neighbour
        expansion, in vocabulary order.
    neighbors_ : pandas.DataFrame
        The named concepts and the neighbours selected for each (columns
        ``query``, ``concept``, ``similarity``, ``rank``, ``action``), so the
        user can see what the expansion picked.
    splice_ : SpliceTransformer or None
        The transformer used (``splice`` as given, not a copy).
    n_features_in_ : int
        Number of concepts of the input.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame input.

    See Also
    --------
    ConceptProjector : Removal by projection of dense embeddings.
    sksplice.editing.concept_neighbors : Preview a neighbour expansion.

    Notes
    -----
    Why the editor takes weights and a frozen transformer rather than
    refitting one: in ``make_pipeline(splice, editor, probe)`` the editor
    sees only the previous step's output, never the fitted step itself. The
    concept names can travel with the data (``set_output(transform="pandas")``
    on the pipeline); recomposition needs the fitted dictionary and modality
    centre, which the editor gets from ``splice``. ``FrozenEstimator`` makes
    that reference survive ``clone``; in a grid search over the upstream
    ``l1_penalty`` the dictionary does not change, so a frozen transformer
    fitted once is the right reference. The centre does where the upstream
    transformer learns it from each fold (``image_mean=None``): give it the
    frozen one's (``image_mean=frozen.mean_``, or ``text_mean`` for texts) so
    that ``output="embedding"`` recomposes around the centre the weights were
    solved for (weights made in the process around another centre, or with
    another dictionary, are warned about).

    Sparse (CSR) input gives sparse output of the same container (a
    ``csr_array`` stays one) and is never densified, except by
    ``output="embedding"``, whose result is dense by nature.

    The weights ``transform`` gives are non-negative; weights that a step has
    centred (``StandardScaler``) are not, and zeroing a column of them sets the
    concept to its mean weight rather than to none. For a probe trained with
    the edit in its pipeline that is the same (the column is constant either
    way); for weights given to a model trained without the edit it is not. An
    editor that zeroes some concept warns of negative weights (``UserWarning``);
    ``output="embedding"`` refuses them (``ValueError``, naming the rows), as
    ``inverse_transform`` does. Put the editor before such a step.

    An edit that would zero every concept is refused with a ``ValueError``
    in ``fit``: ``keep=[]``, a ``keep`` whose names are all unknown (and
    skipped by ``ignore_unknown=True``), a ``keep`` whose concepts are all in
    ``remove``, or a ``remove`` that names (or, with neighbour expansion,
    reaches) every concept. Every row would become the same, all-zero
    weights or, with ``output="embedding"``, the normalised mean embedding:
    a constant input on which no downstream model can learn anything.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sksplice.editing import ConceptEditor
    >>> W = pd.DataFrame([[0.5, 0.2, 0.0], [0.0, 0.3, 0.4]], columns=["dog", "grass", "cat"])
    >>> ConceptEditor(remove=["dog"]).fit_transform(W)
    array([[0. , 0.2, 0. ],
           [0. , 0.3, 0.4]])
    """

    def __init__(
        self,
        remove: str | Sequence[str] | np.ndarray | None = None,
        keep: str | Sequence[str] | None = None,
        *,
        n_neighbors: int = 0,
        similarity_threshold: float | None = None,
        splice: Any = None,
        output: str = "weights",
        ignore_unknown: bool = False,
    ) -> None:
        self.remove = remove
        self.keep = keep
        self.n_neighbors = n_neighbors
        self.similarity_threshold = similarity_threshold
        self.splice = splice
        self.output = output
        self.ignore_unknown = ignore_unknown

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.requires_fit = True
        return tags

    def _refuse_embeddings(self, X: Any, *, reset: bool) -> None:
        """Refuse, once fitted, an ``X`` as wide as the embeddings of the transformer
        (``splice_``) and not as its concepts: embeddings given for their weights."""
        shape = getattr(X, "shape", None)
        expected = getattr(self, "n_features_in_", None)
        splice = getattr(self, "splice_", None)
        if reset or shape is None or len(shape) != 2 or expected is None or splice is None:
            return
        if shape[1] != expected and shape[1] == getattr(splice, "n_features_in_", None):
            raise ValueError(
                f"X has {shape[1]} features, the width of the embeddings of the transformer "
                f"(splice), but ConceptEditor edits concept weights, one column per concept "
                f"({expected}): embeddings perhaps; decompose them first, "
                "W = splice.transform(X), or put the editor after the transformer in a "
                "pipeline"
            )

    def _validate(self, X: Any, *, reset: bool) -> Any:
        from .transformer import refuse_non_embeddings

        X = tensor_as_array(X)
        refuse_non_embeddings(
            X,
            instead=(
                "concept weights: ConceptEditor edits the weights a fitted SpliceTransformer "
                "returns (W = splice.transform(embeddings)), or follows one in a pipeline: "
                "make_pipeline(CLIPEmbedder(...), SpliceTransformer(...), ConceptEditor(...))"
            ),
        )
        one_row = isinstance(X, (list, tuple)) and len(X) > 0 and np.isscalar(X[0])
        if one_row or (not sp.issparse(X) and getattr(X, "ndim", None) == 1):
            # (scikit-learn's own message printed every value of the row)
            raise ValueError(
                f"X has shape {np.shape(X)}: the weights of one sample perhaps, but X must "
                "be 2-D concept weights (n_samples, n_concepts), a sample a row. Reshape your "
                "data: "
                + (
                    "X.to_frame().T for the weights of one sample (its concepts kept as the "
                    "columns)"
                    if isinstance(X, pd.Series)
                    else "np.reshape(X, (1, -1)) for the weights of one sample"
                )
            )
        self._refuse_embeddings(X, reset=reset)
        labels = row_labels(X)
        options: dict[str, Any] = {
            "accept_sparse": "csr",
            "dtype": float_dtypes(X),
            "ensure_all_finite": False,
        }
        if is_sparse_frame(X):
            # The column names checked (or recorded) by scikit-learn, the values read
            # into CSR at once: scikit-learn's own reading (DataFrame.sparse.to_coo and
            # a check of every column's dtype) of 1,000,000 rows of 15,000 concepts
            # peaked at 564 MB of temporaries, 325 MB so (fit 1.1 s, 0.8 s so). A frame
            # whose unstored entries are not zeros (fill value NaN) is refused, naming
            # a column.
            validate_data(self, X, reset=reset, skip_check_array=True)
            X = check_array(sparse_frame_to_csr(X, "X"), input_name="X", estimator=self, **options)
        else:
            X = validated(self, X, reset=reset, **options)
        check_finite_rows(X, "X", labels)
        return X

    def fit(self, X: Any, y: Any = None) -> ConceptEditor:
        """Resolve the concept names and the set of concepts to zero.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
            Concept weights.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : ConceptEditor
            The fitted editor.

        Raises
        ------
        ValueError
            If a name is not in the vocabulary (unless ``ignore_unknown``), the
            edit would zero every concept (``keep=[]``, a ``keep`` of unknown
            names only, or a ``remove`` that reaches every concept), the
            weights carry no concept names while concepts are named, the
            weights do not match ``splice``, or ``output="embedding"`` or a
            neighbour expansion is asked for without ``splice``.
        TypeError
            If ``remove`` or ``keep`` is not a list of strings, ``output`` is
            not a string, ``ignore_unknown`` is not a bool, or ``splice`` is not
            a transformer.
        sklearn.exceptions.NotFittedError
            If ``splice`` is not fitted (a ``ValueError`` too).

        Warns
        -----
        UserWarning
            If a concept named in ``remove`` (with the neighbours selected for
            it, if any) has a non-zero weight in no row of ``X``: removing it
            changes nothing on these weights, as the decompositions carry its
            meaning with other concepts, if at all. The message names such
            concepts.

        Notes
        -----
        A fit that raises leaves the editor as it was before the call: fitted
        as before, or not fitted.
        """
        with restored_on_failure(self):
            return self._fit(X)

    def _check_params(self) -> tuple[list[str], list[str] | None]:
        """Validate the parameters (nothing is fitted); the names to remove and to keep."""
        with parameters_of(self):
            check_option(self.output, "output", _OUTPUTS)
            _check_neighbor_params(self.n_neighbors, self.similarity_threshold)
            check_flag(self.ignore_unknown, "ignore_unknown")
            remove = _name_list(self.remove, "remove")
            keep = None if self.keep is None else _name_list(self.keep, "keep")
        return remove, keep

    def _fit(self, X: Any) -> ConceptEditor:
        """:meth:`fit` (the editor's attributes are put back when it raises)."""
        remove, keep = self._check_params()
        expand = self.n_neighbors > 0 or self.similarity_threshold is not None
        # (the concepts of a fitted `splice` in another order: read by name; a FrozenEstimator
        # gives its transformer's attributes)
        X = in_order_of(X, getattr(self.splice, "concepts_", None))
        X_in = X
        X = self._validate(X, reset=True)
        n_concepts = X.shape[1]
        names_in = getattr(self, "feature_names_in_", None)

        dictionary = None
        if self.splice is not None:
            # (recomposing and neighbours need it; naming the columns does not)
            needed = self.output == "embedding" or expand
            names, dictionary = _splice_parts(self.splice, needed=needed)
            if names.shape[0] != n_concepts:
                width = getattr(self.splice, "n_features_in_", None)
                looks = (
                    f" ({n_concepts} columns is the width of the embeddings it decomposes: "
                    "these look like embeddings; decompose them first, W = "
                    "splice.transform(X))"
                    if n_concepts == width
                    else ""
                )
                raise ValueError(
                    f"the weights have {n_concepts} columns but `splice` has "
                    f"{names.shape[0]} concepts: give the weights this transformer "
                    f"produced{looks}"
                )
            check_source(X_in, names, "`splice`")
            if names_in is not None and not np.array_equal(names_in, names):
                text, mine = [str(c) for c in names_in], [str(c) for c in names]
                if sorted(text) == sorted(mine):
                    j = next(k for k, (a, b) in enumerate(zip(text, mine)) if a != b)
                    raise ValueError(
                        "the DataFrame columns are the concepts of `splice` in another "
                        f"order: column {j} is {names_in[j]!r} in X but {names[j]!r} in "
                        "splice.get_feature_names_out(); pass X[splice.get_feature_names_out()]"
                    )
                unknown, missing = name_differences(text, mine)
                raise ValueError(
                    "the DataFrame columns differ from the concepts of `splice` "
                    f"(get_feature_names_out()): columns not among its concepts {unknown}, "
                    f"its concepts not among the columns {missing}; give the weights that "
                    "transformer produced"
                )
        elif names_in is not None:
            names = np.asarray(names_in, dtype=object)
        else:
            names = None
        lacking = _splice_missing(self)
        if lacking is not None:
            raise ValueError(lacking)
        if names is None and (remove or keep is not None):
            raise ValueError(_NO_NAMES)

        mask = np.ones(n_concepts, dtype=bool)
        tables = []
        if names is not None:
            index = {str(n): i for i, n in enumerate(names)}
            splice = self.splice

            def beyond(unknown: list[str]) -> tuple[dict[str, int], int | None]:
                return beyond_kept(splice, unknown)

            n_nb = self.n_neighbors
            thr = self.similarity_threshold
            basis = dictionary if expand else None
            skipped: list[str] = []
            if keep is not None:
                kept = _lookup(keep, index, "keep", self.ignore_unknown, skipped, beyond)
                if not kept:
                    raise ValueError(_keeps_nothing(keep, skipped))
                table = self._expand(names, basis, kept, n_nb, thr, "keep")
                mask[:] = False
                mask[[index[c] for c in table["concept"]]] = True
                tables.append(table)
            if remove:
                removed = _lookup(remove, index, "remove", self.ignore_unknown, None, beyond)
                table = self._expand(names, basis, removed, n_nb, thr, "remove")
                mask[[index[c] for c in table["concept"]]] = False
                tables.append(table)
            if not mask.any():
                raise ValueError(
                    f"this edit zeroes all {n_concepts} concepts: "
                    + (
                        "every concept kept by `keep` is in `remove`"
                        if keep is not None
                        else "`remove` names every concept"
                    )
                    + (" (after neighbour expansion)" if expand else "")
                    + ", so every row would become the same (zero weights; the mean "
                    "embedding with output='embedding'). Leave at least one concept"
                )
            # (warned about once the edit is known to be made: not before a refusal)
            if remove and not getattr(self, "_quiet_idle_removals", False):
                # (not in the folds of SplicePathSearchCV, where large penalties leave
                # concepts out of every row of a fold; its refit says it)
                _warn_idle_removals(X, tables[-1], index, expand)
            if self.splice is not None:
                _warn_split_twins(self.splice, names, mask)
            self.concepts_ = names
        elif hasattr(self, "concepts_"):  # (nothing of an earlier fit stays)
            del self.concepts_
        columns = ["query", "concept", "similarity", "rank", "action"]
        self.neighbors_ = (
            pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
        )
        self.mask_ = mask
        self.removed_concepts_ = names[~mask] if names is not None else np.array([], dtype=object)
        self.splice_ = self.splice
        record_params(self, _EDITOR_FIT_PARAMS)
        return self

    @staticmethod
    def _expand(
        names: np.ndarray,
        dictionary: np.ndarray | None,
        queries: list[int],
        n_neighbors: int,
        threshold: float | None,
        action: str,
    ) -> pd.DataFrame:
        """The queries and their selected neighbours, labelled with ``action``."""
        if dictionary is None:  # no expansion asked for (checked in fit)
            table = pd.DataFrame(
                {"query": names[queries], "concept": names[queries], "similarity": 1.0, "rank": 0}
            )
        else:
            table = _neighbor_table(names, dictionary, queries, n_neighbors, threshold)
        table["action"] = action
        return table

    def transform(self, X: Any) -> Any:
        """Zero the selected concepts; return weights or recomposed embeddings.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
            Concept weights with the columns seen in ``fit``.

        Returns
        -------
        X_edited : sparse matrix, ndarray or DataFrame
            With ``output="weights"``: the weights, removed concepts set to
            zero (CSR for sparse input, a DataFrame of pandas sparse columns
            when pandas output is configured). With ``output="embedding"``:
            dense recomposed embeddings of shape (n_samples, d).

        Raises
        ------
        ValueError
            With ``output="embedding"``, if ``X`` holds negative weights (centred
            by an earlier step), naming the rows; if polars output is set for
            sparse weights.

        Warns
        -----
        UserWarning
            If ``X`` holds negative weights and the edit zeroes some concept (see
            Notes). With ``output="embedding"``, if the edit removes every concept of
            some rows (rows that held none before are not counted): recomposed,
            each is the centre, the same vector for all of them. The message
            names the first rows and counts them.
        """
        check_is_fitted(self)
        # (checked in fit too, but read here: one set after fit is not left unread)
        with parameters_of(self):
            check_option(self.output, "output", _OUTPUTS)
        self._check_splice_for_embedding()
        warn_set_after_fit(
            self,
            {"splice": "the transformer it was fitted with (splice_)"},
            "the fitted edit (removed_concepts_)",
        )
        concepts = getattr(self, "concepts_", None)
        # A frame whose columns are this editor's concepts in another order is read by
        # name, as inverse_transform reads weights (by position, it would be edited
        # wrongly: fitted on named columns, validate_data would refuse it, saying only
        # that the order differs; fitted on an unnamed matrix with `splice`, it would
        # only warn).
        X = X_in = in_order_of(X, concepts)
        if (isinstance(X_in, pd.DataFrame) or is_polars_frame(X_in)) and concepts is not None:
            # (A polars frame's columns are a list of its names.)
            columns = carried_names(X_in.columns)
            text = None if columns is None else [str(c) for c in columns]
            mine = [str(c) for c in concepts]
            # (text is None exactly when columns is: both are tested for the type checker)
            if (
                columns is not None
                and text is not None
                and text != mine
                and all(isinstance(c, str) for c in columns)
            ):
                # (other concepts: each column would be edited, and named, as another;
                # columns that are not strings are positions, as scikit-learn reads them)
                unknown, missing = name_differences(text, mine)
                said = differences_said(
                    text,
                    unknown,
                    missing,
                    ("columns not among its concepts", "its concepts not among the columns"),
                )
                raise ValueError(
                    "the columns of X differ from the concepts of this editor "
                    f"(concepts_): {said}; give the weights of the transformer it was fitted for"
                )
        X = self._validate(X, reset=False)
        # (the records of X's rows, looked up once for every check below; a frame has
        # none: its columns carry the names)
        needed = concepts is not None or self.output == "embedding"
        found = recorded(X_in) if needed else []
        if not (isinstance(X_in, pd.DataFrame) or is_polars_frame(X_in)) and concepts is not None:
            check_source(X_in, concepts, "this editor (concepts_)", found)
        if self.output == "embedding":
            check_recomposer(
                X_in,
                recomposition_key(self.splice_),
                "`splice` (the transformer this editor recomposes with)",
                in_pipeline=True,
                found=found,
                modality=getattr(self.splice_, "modality", "image"),
            )
        config = transform_output(self)
        if (
            sp.issparse(X)
            and self.output == "weights"
            and config not in ("default", "pandas", None)
        ):
            # (scikit-learn's own message would advise a dense output, which is the
            # transformer's to give, not the editor's)
            raise ValueError(
                f"{config} output of sparse weights is not supported: the editor returns "
                "weights as it gets them; make them dense where they are made "
                "(SpliceTransformer(output='dense')) or use set_output(transform='pandas')"
            )
        if self.output == "embedding":
            # (refused before the edit, as inverse_transform refuses them after it)
            check_non_negative_rows(
                X,
                "X",
                row_labels(X_in),
                hint="ConceptEditor recomposes the weights SpliceTransformer.transform "
                "gives; a step that centres them (StandardScaler) makes some negative: put "
                "the editor before that step",
            )
        elif not self.mask_.all() and negative_rows(X).size:
            # Zeroing a column of centred weights sets the concept to its mean weight, not
            # to none: the same for a probe trained with the edit in its pipeline (the
            # column is constant either way), not for weights given to a model trained
            # without it. (One text, whatever the rows: said once, not at every fold.)
            warn_user(
                "X holds negative weights: ConceptEditor edits the weights "
                "SpliceTransformer.transform gives, and after a step that centres them "
                "(StandardScaler) zeroing a column sets the concept to its mean weight, not "
                "to none. A probe trained with the edit in its pipeline learns the same "
                "either way; to edit the weights given to a model trained without it, put "
                "the editor before that step"
            )
        if sp.issparse(X):
            W = sp.csr_matrix(X, copy=True)
            W.data[~self.mask_[W.indices]] = 0
            W.eliminate_zeros()
            if isinstance(X, sp.sparray):  # (the container given is the one returned)
                W = sp.csr_array(W)
        else:
            W = X * self.mask_.astype(X.dtype)
        if self.output == "embedding":
            # (rows holding a weight before the edit and none after; sparse or dense alike)
            held, left = (np.asarray((M != 0).sum(axis=1)).ravel() > 0 for M in (X, W))
            self._warn_emptied_rows(np.flatnonzero(held & ~left), X.shape[0], row_labels(X_in))
            # (the origin of the weights is checked above: not looked up again for the
            # edited rows, nor warned about twice)
            # (a FrozenEstimator gives its transformer's attributes)
            if hasattr(self.splice_, "_inverse_transform"):
                return np.asarray(self.splice_._inverse_transform(W, checked=True))
            return np.asarray(self.splice_.inverse_transform(W))
        if sp.issparse(W) and config == "pandas":
            index = X_in.index if isinstance(X_in, pd.DataFrame) else None
            return sparse_frame(W, self.get_feature_names_out(), index=index)
        if concepts is not None and config in (None, "default"):
            # Bare edited weights keep the record of the concepts of their columns, as the
            # transformer's weights have it: without it, a transformer of other concepts
            # (or of the same in another order) would read them by position. (Without
            # concepts, nothing can be removed: the weights are those given.)
            # (and of what recomposes them as they were made, where one transformer made
            # them: edited rows are still that transformer's to recompose)
            makers = recorded_makers(X_in, found)
            maker = makers[0] if len(makers) == 1 else None
            remember_concepts(W, concepts, maker=maker)
        return W

    def _warn_emptied_rows(self, rows: np.ndarray, n_rows: int, labels: Any) -> None:
        """Warn that the edit removed every concept of ``rows`` (which held some).

        Recomposed (``output="embedding"``), each such row is the centre, the same
        vector for all of them, which a classifier downstream scores as any other.
        (Weights without a concept are what ``keep=`` asks for: not warned about.)
        """
        if not rows.size:
            return
        which = "row" if rows.size == 1 else "rows"
        share = "every row" if rows.size == n_rows else f"{rows.size} of {n_rows} rows"
        warn_user(
            f"the edit removed every concept of X {which} {shown_rows(rows, labels)} "
            f"({share}): each recomposes to the centre (the mean embedding), the same vector "
            "for all of them. Remove fewer concepts (or keep more), or leave such rows out"
        )

    def _check_splice_for_embedding(self) -> None:
        """Refuse ``output="embedding"`` set after a fit without ``splice``."""
        if self.output == "embedding" and getattr(self, "splice_", None) is None:
            raise ValueError(
                "output='embedding' needs the `splice` this editor was fitted with, and it "
                "was fitted without one (output was set after fit): set splice= (a fitted "
                "SpliceTransformer, wrapped in sklearn.frozen.FrozenEstimator) and fit again"
            )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; only used when the editor has no concept
            names of its own.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The concepts for ``output="weights"``; ``concepteditor0``,
            ``concepteditor1``, ... (one per embedding dimension) for
            ``output="embedding"``.
        """
        check_is_fitted(self, "mask_")
        if self.output == "embedding":
            self._check_splice_for_embedding()
            d = np.asarray(self.splice_.dictionary_).shape[1]
            return np.asarray([f"concepteditor{i}" for i in range(d)], dtype=object)
        if hasattr(self, "concepts_"):
            if input_features is not None and not np.array_equal(
                np.asarray(input_features, dtype=object), self.concepts_
            ):
                raise ValueError("input_features differ from the concepts seen in fit")
            return np.asarray(self.concepts_, dtype=object).copy()
        names = check_input_features(self, input_features)
        if names is not None:
            return names
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)


def project_out(
    X: Any, directions: Any, *, normalize: bool = True, rcond: float = 1e-6
) -> np.ndarray:
    """Remove the span of ``directions`` from every row of ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, d)
        Dense embeddings.
    directions : array-like of shape (k, d) or (d,)
        Directions to remove (need not be orthogonal or unit norm).
    normalize : bool, default=True
        Rescale each projected row to unit norm (rows that become zero stay
        zero; rows of any scale are projected as their unit rows). Must be a bool.
    rcond : float, default=1e-6
        Directions whose component independent of the previous ones is below
        ``rcond`` times the largest are treated as linearly dependent.

    Returns
    -------
    X_projected : ndarray of shape (n_samples, d)
        ``X`` minus its orthogonal projection onto the span of
        ``directions``; float32 for float32 ``X``, else float64.

    Raises
    ------
    ValueError
        If the dimensions disagree, values are not finite or a direction is
        the zero vector (it has no direction to remove).

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice.editing import project_out
    >>> project_out(np.array([[1.0, 1.0]]), np.array([1.0, 0.0]))
    array([[0., 1.]])
    """
    check_flag(normalize, "normalize")
    return _project_out(X, directions, normalize=normalize, rcond=rcond, labels=row_labels(X))


def _project_out(
    X: Any, directions: Any, *, normalize: bool, rcond: float = 1e-6, labels: Any = None
) -> np.ndarray:
    """:func:`project_out`; its warning of the rows it leaves at zero names them by
    ``labels`` (a DataFrame's index, as :meth:`ConceptProjector.transform` has it)."""
    from .transformer import refuse_concept_weights

    X = tensor_as_array(X)
    refuse_concept_weights(X, estimator="project_out", verb="projects", step=None)
    X = np.asarray(X)
    dtype = np.float32 if X.dtype == np.float32 else np.float64  # (as ConceptProjector)
    X = X.astype(np.float64, copy=False)
    U = np.atleast_2d(np.asarray(tensor_as_array(directions), dtype=np.float64))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, d), got shape {X.shape}")
    if U.ndim != 2 or U.shape[1] != X.shape[1]:
        raise ValueError(
            f"directions have shape {U.shape} but X has {X.shape[1]} features; "
            "they must have the same dimension"
        )
    check_finite_rows(X, "X")
    check_finite_rows(U, "directions")
    # (a zero direction removed nothing, silently, where ConceptProjector refuses it)
    refuse_zero_rows(U, "directions row {}")
    basis = _orthonormal_basis(U, rcond)
    if normalize:
        # (rows of any scale: a row of norm 1e-13 is projected as the unscaled row, not
        # taken for a row that the projection leaves at zero)
        X = unit_rows(X)
    out = X - (X @ basis.T) @ basis
    # (a full basis left every row at zero in silence: every later cosine 0 or NaN)
    _warn_rows_in_span(X, out, labels)
    return (l2_normalize(out) if normalize else out).astype(dtype, copy=False)


def _warn_rows_in_span(X: np.ndarray, out: np.ndarray, labels: Any) -> None:
    """Warn of the rows of ``X`` (not zero) that the projection ``out`` leaves at zero, up
    to rounding: they lie in the span of the directions removed."""
    norms = np.linalg.norm(out, axis=1)
    emptied = np.flatnonzero((norms <= 1e-6 * np.linalg.norm(X, axis=1)) & X.any(axis=1))
    if emptied.size:  # (as SpliceTransformer and ZeroShotClassifier warn of zero rows)
        warn_user(
            f"X row(s) {shown_rows(emptied, labels)} lie in the span of the directions "
            "removed: projected, they are zero, with no direction left (a classifier "
            "downstream scores them all alike)"
        )


def _orthonormal_basis(U: np.ndarray, rcond: float) -> np.ndarray:
    """Orthonormal rows spanning the rows of ``U`` (dependent rows dropped)."""
    if U.shape[0] == 0:
        return np.zeros((0, U.shape[1]))
    _, s, vt = np.linalg.svd(U, full_matrices=False)
    rank = int(np.sum(s > rcond * s.max())) if s.size and s.max() > 0 else 0
    return vt[:rank]


class ConceptProjector(
    OneToOneFeatureMixin, TransformerMixin, OneBlockMixin, VersionStampMixin, BaseEstimator
):
    """Remove concept directions from dense embeddings by orthogonal projection.

    The baseline the SpLiCE paper compares concept editing against: each
    embedding is projected onto the orthogonal complement of the text
    embeddings of the named concepts, then renormalised. No decomposition is
    involved, so the embedding space (and any downstream model) is unchanged.

    Parameters
    ----------
    embedder : object or None, default=None
        Text embedder (``embed_text(list[str]) -> (n, d)``) that embeds
        ``concepts``; it must match the embeddings' model.
    concepts : str, list of str or None, default=None
        Concepts whose text-embedding directions are removed.
    directions : array-like of shape (k, d) or None, default=None
        Directions to remove, instead of (or on top of) embedded concepts.
    normalize : bool, default=True
        Rescale projected embeddings to unit norm. Must be a bool.

    Attributes
    ----------
    directions_ : ndarray of shape (k, d)
        The unit directions removed (embedded concepts first).
    basis_ : ndarray of shape (r, d)
        Orthonormal basis of their span (r <= k).
    n_features_in_ : int
        Embedding dimension.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame input.

    See Also
    --------
    ConceptEditor : Removal in the sparse concept decomposition.
    sksplice.editing.project_out : The function behind ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice import ConceptProjector
    >>> X = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8]])
    >>> projector = ConceptProjector(directions=[[0.0, 1.0, 0.0]]).fit(X)
    >>> projector.transform(X)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """

    def __init__(
        self,
        embedder: Any = None,
        concepts: str | Sequence[str] | None = None,
        *,
        directions: Any = None,
        normalize: bool = True,
    ) -> None:
        self.embedder = embedder
        self.concepts = concepts
        self.directions = directions
        self.normalize = normalize

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _validate(self, X: Any, *, reset: bool) -> np.ndarray:
        from .transformer import refuse_concept_weights, refuse_non_embeddings

        X = tensor_as_array(X)
        refuse_concept_weights(X, estimator="ConceptProjector", verb="projects", step="projector")
        refuse_non_embeddings(
            X,
            estimator="ConceptProjector",
            verb="projects",
            embedder=self.embedder,
            variable="projector",
        )
        cells = vectors_in_cells(X)
        if cells is not None:
            raise ValueError(cells)
        labels = row_labels(X)
        # (float16 rows projected in float32, as SpliceTransformer solves them)
        dtypes = [np.float32, np.float64] if all_float16(X) else float_dtypes(X)
        X = validated(self, X, reset=reset, dtype=dtypes, ensure_all_finite=False)
        check_finite_rows(X, "X", labels)
        return X

    def fit(self, X: Any, y: Any = None) -> ConceptProjector:
        """Embed the concepts and build the basis of the removed subspace.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Dense embeddings; only their dimension is used.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : ConceptProjector
            The fitted projector.

        Raises
        ------
        ValueError
            If there is nothing to remove, the dimensions disagree, a name in
            ``concepts`` is blank, or a row of ``X`` or ``directions`` holds NaN
            or infinite values or a direction is zero (the row is named).
        TypeError
            If ``normalize`` is not a bool or ``concepts`` is not a list of
            strings.

        Notes
        -----
        A fit that raises, or is interrupted (``KeyboardInterrupt``), leaves the
        projector as it was before the call: fitted as before, or not fitted.
        """
        with restored_on_failure(self):
            return self._fit(X)

    def _fit(self, X: Any) -> ConceptProjector:
        """:meth:`fit` (the projector's attributes are put back when it raises)."""
        with parameters_of(self):
            check_flag(self.normalize, "normalize")
            names = _name_list(self.concepts, "concepts")
            # (a blank name would be embedded as a text of its own and removed)
            check_concept_names(names, "`concepts`", distinct=False)
        X = self._validate(X, reset=True)
        d = X.shape[1]
        given = None
        if self.directions is not None:
            given = np.atleast_2d(np.asarray(tensor_as_array(self.directions), dtype=np.float64))
            if given.ndim != 2 or given.shape[1] != d:
                raise ValueError(
                    f"directions have shape {given.shape} but X has {d} features; give "
                    "directions in the space of the embeddings"
                )
            check_finite_rows(given, "directions")
            refuse_zero_rows(given, "directions row {}")
        if not names and given is None:
            raise ValueError("nothing to remove: give `concepts` (with `embedder`) or `directions`")
        parts = []
        if names:
            check_text_embedder(self.embedder, purpose="to embed `concepts`")
            from .zero_shot import _declared_width

            # (an embedder that tells its width is checked before its model is loaded and
            # run; the others once the concepts are embedded)
            width = _declared_width(self.embedder)
            if width is not None and width != d:
                raise ValueError(
                    f"the embedder gives `concepts` embeddings of {width} dimensions but X "
                    f"has {d} features; use the text model that matches the embeddings"
                )
            embedded = np.asarray(self.embedder.embed_text(names), dtype=np.float64)
            if embedded.ndim != 2 or embedded.shape[1] != d:
                raise ValueError(
                    f"the embedder gives `concepts` embeddings of shape {embedded.shape} but X "
                    f"has {d} features; use the text model that matches the embeddings"
                )
            what = f"the embeddings of `concepts` by {type(self.embedder).__name__}.embed_text"
            check_finite_rows(embedded, what, names)
            refuse_zero_rows(embedded, "the embedding of concept {}", names)
            parts.append(embedded)
        if given is not None:
            parts.append(given)
        U = np.vstack(parts)
        norms = np.linalg.norm(U, axis=1, keepdims=True)
        self.directions_ = U / norms
        self.basis_ = _orthonormal_basis(self.directions_, 1e-6)
        record_params(self, ("embedder", "concepts", "directions"))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Project embeddings onto the orthogonal complement of the concepts.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Dense embeddings.

        Returns
        -------
        X_projected : ndarray of shape (n_samples, d)
            Projected (and, with ``normalize``, unit-norm) embeddings, in the
            dtype of ``X``.
        """
        check_is_fitted(self)
        # (normalize is read here; the directions removed are those fit made)
        warn_set_after_fit(self, {}, "the fitted directions (directions_)")
        labels = row_labels(X)
        X = self._validate(X, reset=False)
        out = _project_out(X, self.basis_, normalize=self.normalize, labels=labels)
        return out.astype(X.dtype, copy=False)
