"""Concept retrieval: rank the items of a collection by a query made of concepts.

:class:`ConceptRetriever` is fitted on the concept weights of a collection (the
sparse output of :class:`sksplice.transformer.SpliceTransformer`, one row per
item) and answers queries such as ``{"dog": 1, "snow": 1}`` or, through the
same fitted transformer, a text such as ``"a dog in the snow"``, decomposed
into concepts first. Everything stays sparse: the collection is stored as a
CSC matrix and a query touches only the columns of its concepts, so its cost
is proportional to the number of non-zero weights of those concepts, never to
``n_items x n_concepts``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array import l2_normalize
from ._display import OneBlockMixin
from ._names import (
    a_type,
    check_concept_names,
    check_source,
    listed,
    name_differences,
)
from ._pandas import frame_values, in_order_of
from ._persistence import VersionStampMixin
from ._protocols import check_text_embedder
from ._stack import warn_user
from ._validation import (
    check_int,
    check_number,
    check_option,
    parameters_of,
    restored_on_failure,
)
from .analysis import _as_weights
from .editing import (
    _check_neighbor_params,
    beyond_kept,
    check_splice_kind,
    not_a_splice_transformer,
    ranked_neighbors,
)

__all__ = ["ConceptRetriever"]

logger = logging.getLogger(__name__)

_MODES = ("or", "and", "min")
_METRICS = ("dot", "cosine")


def unknown_concepts_error(
    unknown: Sequence[str],
    known: Sequence[str],
    param: str,
    beyond: tuple[dict[str, int], int | None] = ({}, None),
) -> ValueError:
    """A ``ValueError`` of :func:`sksplice._concepts.unknown_concepts_message`."""
    from ._concepts import unknown_concepts_message

    return ValueError(unknown_concepts_message(unknown, known, param, beyond))


def _concept_names(
    source: Any, param: str = "concepts", *, check: bool = False
) -> np.ndarray | None:
    """Concept names from a list of names or a fitted object with ``get_feature_names_out``.

    ``param`` names the parameter that gave ``source`` in messages; ``splice`` must be
    a fitted object. With ``check``, the names are refused, naming the entry, when one
    is not a string, is blank or repeats another (:func:`check_concept_names`): a
    name given twice would find only one of its columns.
    """
    if source is None:
        return None
    label = f"`{param}`"
    if hasattr(source, "get_feature_names_out"):
        try:
            names = source.get_feature_names_out()
        except NotFittedError as error:
            raise NotFittedError(
                f"`{param}` is a {type(source).__name__} that is not fitted: give a fitted one "
                "(clone() unfits it; wrap it as sklearn.frozen.FrozenEstimator(...) so that a "
                "cloned retriever keeps it fitted)"
            ) from error
        label = f"`{param}`.get_feature_names_out()"
    elif param == "splice":
        raise not_a_splice_transformer(source)
    elif isinstance(source, str | bytes):
        raise TypeError(
            f"`{param}` must be a sequence of concept names, not a single string "
            f"({param}=[{source!r}] names one concept)"
        )
    elif isinstance(source, Mapping) or not isinstance(
        source, Sequence | np.ndarray | pd.Index | pd.Series
    ):
        raise TypeError(
            f"`{param}` must be a list of concept names (one per column of the weights) or a "
            f"fitted SpliceTransformer, got {a_type(source)}"
        )
    else:
        names = source
    names = list(names)
    if check:
        check_concept_names(names, label)
    return np.asarray(names, dtype=object)


def _as_csr(W: Any) -> sp.csr_matrix:
    """Concept weights as a float64 CSR matrix."""
    # numeric, 2-D, with rows, finite, non-negative: the rule analysis applies to weights
    W = sp.csr_matrix(_as_weights(W), dtype=np.float64)
    if W.shape[1] == 0:
        raise ValueError(
            f"concept weights must have concepts: got 0 feature(s) (shape={W.shape}) while a "
            "minimum of 1 is required."
        )
    return W


def _dictionary_rows(names: np.ndarray, splice_names: np.ndarray | None) -> np.ndarray | None:
    """The row of ``splice``'s dictionary for each concept name (None: the same order).

    Raises a ValueError for a name the transformer does not have.
    """
    if splice_names is None or np.array_equal(names, splice_names):
        return None
    where = {str(name): i for i, name in enumerate(splice_names)}
    # (fit has checked already that these are splice's concepts: a guard, not a message
    # users meet)
    missing = [str(name) for name in names if str(name) not in where]
    if missing or len(set(map(str, names))) != len(names):
        what = f"{missing[0]!r} is not a concept of `splice`" if missing else "names repeat"
        raise ValueError(
            f"the concept names of the weights do not match `splice`'s concepts ({what}): "
            "the neighbours come from its dictionary, so give the weights it produced"
        )
    return np.fromiter((where[str(name)] for name in names), dtype=np.int64, count=len(names))


def _check_same_concepts(splice_names: np.ndarray, names: np.ndarray) -> None:
    """Refuse a ``splice`` whose concepts are not those of the collection's columns."""
    mine, theirs = [str(n) for n in names], [str(n) for n in splice_names]
    if mine == theirs or sorted(mine) == sorted(theirs):
        return
    if len(mine) != len(theirs):
        detail = f"{len(theirs)} concepts there, {len(mine)} columns in the weights"
    else:
        unknown, missing = name_differences(mine, theirs)
        detail = (
            f"columns not among its concepts {unknown}, its concepts not among the "
            f"columns {missing}"
        )
    raise ValueError(
        f"the concepts of `splice` differ from the concepts of the collection's weights "
        f"({detail}): text queries are decomposed by `splice` into its concepts; give the "
        "transformer that produced the collection"
    )


class ConceptRetriever(OneBlockMixin, VersionStampMixin, BaseEstimator):
    """Rank the items of a collection by a query made of named concepts.

    The retriever stores the concept weights ``W`` of a collection (one row
    per item, one column per concept, as produced by
    :class:`sksplice.transformer.SpliceTransformer`) and scores every item
    against a query ``q``, a set of concepts with positive weights::

        score_i = sum_j q_j * W[i, j]                (mode="or", "and")
        score_i = min_j q_j * W[i, j]                (mode="min")

    with the sum or minimum taken over the query's concepts ``j``.
    Decompositions name one concept where a synonym would do ("canine" for
    "dog"); ``n_neighbors`` expands each query concept with its nearest
    concepts in the dictionary so that such items match too.

    * ``mode="or"``: an item is a match when it holds *at least one* query
      concept (a non-zero weight); matches are ranked by the weighted sum.
      This is the dot product of the item's weights with the query, so a text
      query decomposed into concepts ranks items by concept-space similarity.
    * ``mode="and"``: an item is a match only when it holds *every* query
      concept; matches are ranked by the same weighted sum.
    * ``mode="min"``: the same matches as ``"and"``, ranked by the smallest
      weighted query concept, so that an item strong in one concept and weak in
      another ranks below an item moderately strong in both.

    With ``metric="cosine"`` each item's weights are divided by their L2 norm
    (over all concepts) and the query by its own (neighbours added to it
    included), so that the scores of ``"or"`` are cosines and items with many
    other concepts do not outrank items that are mostly about the query. Items
    that are not matches are never returned, so a query may return fewer than
    ``k`` items. Ties are broken by item index (lower first).

    Parameters
    ----------
    concepts : list of str, fitted SpliceTransformer or None, default=None
        Names of the columns of ``W``, distinct and not blank. If None they are
        taken from ``splice``,
        else from the columns of a DataFrame ``W`` (when all are strings).
        Pass a transformer wrapped as ``sklearn.frozen.FrozenEstimator`` if
        the retriever is cloned (``clone`` would unfit it).
    splice : fitted SpliceTransformer or None, default=None
        Transformer that decomposes text queries (:meth:`search_text`) with its
        ``embedder``: the query text is embedded and ``splice.transform``
        gives its concept weights. It must be the transformer (or one with the
        same concepts) that produced ``W``. ``transform`` centres by the
        transformer's ``mean_``: for a collection of images and text queries,
        pass a transformer fitted on texts with the same vocabulary. Pass it
        wrapped as ``sklearn.frozen.FrozenEstimator(splice)`` if the retriever
        is cloned.
    mode : {"or", "and", "min"}, default="or"
        Matching and ranking rule, see above.
    metric : {"dot", "cosine"}, default="dot"
        Score of a match: weighted sum of the raw weights, or of the weights
        normalised per item.
    n_neighbors : int, default=0
        Expand each query concept with up to this many of its nearest concepts
        in the dictionary (cosine similarity of the rows of
        ``splice.dictionary_``), each weighted by the query weight times its
        similarity (neighbours with similarity <= 0 are dropped). A query
        concept and its neighbours form one group: ``"and"`` and ``"min"``
        require every group to be present, the group's score being the sum
        over its members. The other concepts of the query are not among a
        concept's neighbours (each is its own group): ``search(["canine",
        "puppy"], mode="and")`` requires both groups even where "puppy" is
        the nearest concept to "canine". A neighbour of two query concepts
        belongs to both groups (its weight counts in each). 0
        disables the limit: then ``similarity_threshold`` alone selects
        neighbours, and without a threshold none are added. Needs ``splice``.
    similarity_threshold : float or None, default=None
        Expand each query concept with the concepts whose cosine similarity to
        it is at least this value (with ``n_neighbors``: the nearest
        ``n_neighbors`` among those). Needs ``splice``.

        Both are read at each query, as ``mode`` and ``metric`` are: set after
        ``fit``, they expand the next query as a fit with them would.

    Attributes
    ----------
    concepts_ : ndarray of shape (n_concepts,), dtype object
        The concept names, in column order.
    weights_ : scipy.sparse.csc_matrix of shape (n_items, n_concepts)
        The collection's weights (float64, explicit zeros removed).
    item_norms_ : ndarray of shape (n_items,)
        L2 norm of each item's weights.
    n_features_in_ : int
        Number of concepts.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame ``W``. Defined only when they are all
        strings.

    See Also
    --------
    sksplice.transformer.SpliceTransformer : Produces the weights.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sksplice.retrieval import ConceptRetriever
    >>> W = sp.csr_matrix([[0.5, 0.0, 0.1], [0.2, 0.4, 0.0], [0.0, 0.3, 0.0]])
    >>> retriever = ConceptRetriever(concepts=["dog", "snow", "beach"]).fit(W)
    >>> retriever.search({"dog": 1, "snow": 1})
    (array([1, 0, 2]), array([0.6, 0.5, 0.3]))
    >>> retriever.search({"dog": 1, "snow": 1}, mode="and")
    (array([1]), array([0.6]))
    """

    def __init__(
        self,
        concepts: Any = None,
        splice: Any = None,
        mode: str = "or",
        metric: str = "dot",
        n_neighbors: int = 0,
        similarity_threshold: float | None = None,
    ) -> None:
        self.concepts = concepts
        self.splice = splice
        self.mode = mode
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.similarity_threshold = similarity_threshold

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.requires_fit = True
        return tags

    @staticmethod
    def _check_mode(mode: Any) -> None:
        check_option(mode, "mode", _MODES)

    def _query_mode(self, k: Any, mode: Any) -> str:
        """Check that the retriever is fitted and ``k`` and ``mode`` valid; the mode to use."""
        check_is_fitted(self)
        mode = self.mode if mode is None else mode
        self._check_mode(mode)
        check_int(k, "k", allow_none=True)
        return mode

    def fit(self, X: Any, y: Any = None) -> ConceptRetriever:
        """Store the collection's concept weights.

        Parameters
        ----------
        X : {sparse matrix, array-like, DataFrame} of shape (n_items, n_concepts)
            Non-negative concept weights of the collection. Sparse input is
            never densified.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : ConceptRetriever
            The fitted retriever.

        Raises
        ------
        ValueError
            For an unknown ``mode`` or ``metric``, weights with NaN, infinite
            or negative values (the rows are named), no concept names, names
            whose number differs from the number of columns, a blank or
            repeated name in ``concepts``, or a ``splice`` whose concepts are
            not those of the columns (in any order: a text query is read by
            ``splice``'s names).
        TypeError
            For a ``mode`` or ``metric`` that is not a string, ``concepts`` that
            is not a list of strings (a single string, a dict, a number, an
            entry that is not a string) nor a fitted transformer, or a
            ``splice`` that is not a fitted transformer.
        sklearn.exceptions.NotFittedError
            If ``splice`` is given but not fitted (its concepts are checked
            against the columns, also when ``concepts`` names them).

        Notes
        -----
        A fit that raises leaves the retriever as it was before the call: fitted
        as before, or not fitted.
        """
        with restored_on_failure(self):
            return self._fit(X)

    def _fit(self, X: Any) -> ConceptRetriever:
        """:meth:`fit` (the retriever's attributes are put back when it raises)."""
        n_nb, threshold = self.n_neighbors, self.similarity_threshold
        with parameters_of(self):
            self._check_mode(self.mode)
            check_option(self.metric, "metric", _METRICS)
            _check_neighbor_params(n_nb, threshold)
        expand = n_nb > 0 or threshold is not None
        if expand and self.splice is None:
            raise ValueError(
                "n_neighbors / similarity_threshold need `splice` (a fitted SpliceTransformer) "
                "whose dictionary defines the neighbours"
            )
        given = _concept_names(self.concepts, check=True)
        if self.splice is not None:
            check_splice_kind(self.splice)
        splice_names = None
        if given is None or expand:
            splice_names = _concept_names(self.splice, "splice", check=given is None)
        # (a frame of these concepts in another order: read by name, as the editor does)
        X = in_order_of(X, given if given is not None else splice_names)
        W = _as_csr(X)
        # n_features_in_ and feature_names_in_ as scikit-learn sets them (a DataFrame's
        # columns name the concepts when all of them are strings)
        validate_data(self, X, reset=True, skip_check_array=True)
        columns = getattr(self, "feature_names_in_", None)
        names = given if given is not None else splice_names
        if names is None:
            names = columns
        if names is None:
            raise ValueError(
                "the concept weights carry no concept names: give `concepts=` (a list of names "
                "or a fitted SpliceTransformer), `splice=`, or a DataFrame whose columns are "
                "the concepts"
            )
        if names.shape != (W.shape[1],):
            raise ValueError(
                f"there are {names.shape[0]} concept names but the weights have {W.shape[1]} "
                "columns; give one name per column"
            )
        what = "`concepts`" if self.concepts is not None else "`splice`"
        check_source(X, names, what)
        if columns is not None and not np.array_equal(columns, names):
            j = next(k for k, (a, b) in enumerate(zip(columns, names)) if a != b)
            # (the same names in another order are read by name above: these differ, and
            # X[names] would raise a KeyError)
            raise ValueError(
                f"the DataFrame columns differ from the concept names given: column {j} is "
                f"{columns[j]!r} in X but {names[j]!r} in the names, which X does not hold "
                "all; give the frame with the columns the transformer gave it (not renamed), "
                "or the names its columns are"
            )
        if self.splice is not None:
            # (text queries are decomposed by `splice` and read by its concepts' names: a
            # transformer of other concepts is refused here, not at the first text query)
            own = _concept_names(self.splice, "splice") if splice_names is None else splice_names
            assert own is not None  # (splice is not None)
            _check_same_concepts(own, names)
        # (a refit without neighbours keeps no dictionary of an earlier fit's `splice`)
        self._neighbours = None
        if expand:
            self._neighbours = self._unit_rows(names, splice_names, W.shape[1])
        W.eliminate_zeros()
        self.weights_ = W.tocsc()
        self.weights_.sort_indices()
        self.item_norms_ = np.sqrt(np.asarray(W.multiply(W).sum(axis=1)).ravel())
        self.concepts_ = names
        self._index = {str(name): j for j, name in enumerate(names)}
        logger.debug("indexed %d items x %d concepts (%d weights)", *W.shape, W.nnz)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # The unit dictionary rows of the neighbours are made again, from `splice`, at the
        # first query that needs them (milliseconds): saved, they were a second float64
        # copy of the dictionary (a file twice the transformer's; `_unit_dictionary`: the
        # same, of an earlier release).
        state.pop("_neighbours", None)
        state.pop("_unit_dictionary", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # (an earlier release's unit dictionary: never read, made again from `splice`)
        self.__dict__.pop("_unit_dictionary", None)

    def _unit_rows(
        self, names: np.ndarray, splice_names: np.ndarray | None, n_columns: int
    ) -> tuple[Any, np.ndarray]:
        """``splice`` and its dictionary's rows of the concepts ``names`` (the columns),
        each of unit norm: the neighbours of a concept are read from there."""
        if not hasattr(self.splice, "dictionary_"):  # (a Pipeline names concepts, no more)
            raise not_a_splice_transformer(self.splice)
        D = np.asarray(self.splice.dictionary_, dtype=np.float64)
        if D.shape[0] != n_columns:
            raise ValueError(
                f"`splice` has {D.shape[0]} concepts but the weights have {n_columns} "
                "columns: give the weights this transformer produced"
            )
        # The neighbours come from the dictionary's rows: each column takes the row of
        # its own concept (columns named by `concepts=` in another order than the
        # transformer's).
        rows = _dictionary_rows(names, splice_names)
        return self.splice, l2_normalize(D if rows is None else D[rows])

    def _neighbour_dictionary(self) -> np.ndarray:
        """The unit dictionary rows of the columns, for ``n_neighbors`` and
        ``similarity_threshold``: those fit made, or, where they were set after fit
        (or ``splice`` was), made now from ``splice`` (they are read at each query, as
        ``mode`` and ``metric`` are)."""
        _check_neighbor_params(self.n_neighbors, self.similarity_threshold)
        made = getattr(self, "_neighbours", None)
        if made is not None and made[0] is self.splice:
            return made[1]
        if self.splice is None:
            raise ValueError(
                "n_neighbors / similarity_threshold need `splice` (a fitted SpliceTransformer) "
                "whose dictionary defines the neighbours: set_params(splice=...) with the "
                "transformer that produced the collection"
            )
        check_splice_kind(self.splice)
        splice_names = _concept_names(self.splice, "splice")
        assert splice_names is not None  # (splice is not None)
        _check_same_concepts(splice_names, self.concepts_)  # (`splice` set after fit)
        self._neighbours = self._unit_rows(self.concepts_, splice_names, self.weights_.shape[1])
        return self._neighbours[1]

    def _query_vector(self, query: Any) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and positive weights of a concept query."""
        if isinstance(query, str):
            raise TypeError(
                "a query of concepts is a dict {concept: weight} or a list of concept names; "
                f"got the string {query!r} (use search_text for a text query, or [{query!r}])"
            )
        if isinstance(query, pd.Series | Mapping):
            # (a Series' items, not to_dict(), which keeps the last of a repeated label)
            items = list(query.items())
        elif isinstance(query, Sequence | np.ndarray | pd.Index):
            items = [(name, 1.0) for name in query]
        else:
            raise TypeError(
                "query must be a dict {concept: weight} or a list of concept names; got "
                f"{type(query).__name__}"
            )
        if not items:
            raise ValueError("the query names no concept")
        not_names = [name for name, _ in items if not isinstance(name, str)]
        if not_names:
            # (a number is no concept name, also where str() of it is one: the LAION
            # vocabulary holds '0', '1' and '2', which a Series' default index would name)
            shown = ", ".join(
                f"{name.item() if isinstance(name, np.generic) else name!r} ({type(name).__name__})"
                for name in not_names[:3]
            )
            what = (
                "a Series of weights needs the concepts as its index: "
                "pd.Series(weights, index=concepts)"
                if isinstance(query, pd.Series)
                else "a dict maps concept names to weights: {'dog': 1.0}"
                if isinstance(query, Mapping)
                else "a list of concepts holds their names: ['dog', 'snow']"
            )
            raise TypeError(f"concept names are strings; the query has {shown}: {what}")
        unknown = [name for name, _ in items if str(name) not in self._index]
        if unknown:
            beyond = beyond_kept(self.splice, unknown)
            raise unknown_concepts_error(unknown, list(self._index), "query", beyond)
        weights: dict[int, float] = {}
        first: dict[int, Any] = {}
        for name, value in items:
            check_number(value, f"the weight of query concept {name!r}", low=0.0, closed="neither")
            j = self._index[str(name)]
            if j in weights:
                # (as `sksplice search --concepts dog,dog` is: not a weight of 2 by accident)
                how = "" if first[j] == name else f" (as {first[j]!r} and {name!r})"
                raise ValueError(
                    f"the query names the concept {str(name)!r} twice{how}; name each concept "
                    "once, and give a weight to weigh it more: "
                    f"{{{str(name)!r}: {weights[j] + float(value):g}}}"
                )
            weights[j], first[j] = float(value), name
        cols = np.fromiter(weights, dtype=np.int64, count=len(weights))
        return cols, np.fromiter(weights.values(), dtype=np.float64, count=len(weights))

    def _expand(self, cols: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, ...]:
        """Query columns with their dictionary neighbours: columns, weights and groups.

        Each query concept ``j`` forms a group holding itself (weight ``q_j``) and its
        selected neighbours ``l`` (weight ``q_j * cos(j, l)``). The query's concepts
        are never neighbours: each is its own group, so that ``"and"`` requires every
        one of them (an item holding ``j`` alone does not match ``j`` and ``l`` where
        ``l`` is ``j``'s neighbour).
        """
        groups = np.arange(cols.size)
        if self.n_neighbors == 0 and self.similarity_threshold is None:
            return cols, q, groups
        D = self._neighbour_dictionary()
        sims = D[cols] @ D.T  # (n_query_concepts, n_concepts), one product for all
        sims[:, cols] = -np.inf  # (no query concept is another's neighbour, nor its own)
        selected = ranked_neighbors(sims, self.n_neighbors, self.similarity_threshold)
        out_cols, out_q, out_groups = [cols], [q], [groups]
        for g, weight in enumerate(q):
            order, row = selected[g], sims[g]
            order = order[row[order] > 0]
            out_cols.append(order)
            out_q.append(weight * row[order])
            out_groups.append(np.full(order.size, g))
        return np.concatenate(out_cols), np.concatenate(out_q), np.concatenate(out_groups)

    def _rank(
        self, cols: np.ndarray, q: np.ndarray, k: int | None, mode: str
    ) -> tuple[np.ndarray, np.ndarray]:
        W = self.weights_
        n_groups = cols.size
        cols, q, groups = self._expand(cols, q)
        if self.metric == "cosine":
            # The norm of the query as expanded: a neighbour of two query concepts is
            # one column of the query vector, holding the sum of its two weights.
            _, column = np.unique(cols, return_inverse=True)
            q = q / np.linalg.norm(np.bincount(column, weights=q))
        starts, stops = W.indptr[cols], W.indptr[cols + 1]
        lengths = stops - starts
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
        rows = W.indices[take].astype(np.int64)
        values = W.data[take]
        if self.metric == "cosine":
            values = values / self.item_norms_[rows]
        values = values * np.repeat(q, lengths)
        if mode == "or":
            items, inverse = np.unique(rows, return_inverse=True)
            scores = np.bincount(inverse, weights=values, minlength=items.size)
        else:
            # score of every (item, query concept group) pair, then all groups required
            keys, inverse = np.unique(
                rows * n_groups + np.repeat(groups, lengths), return_inverse=True
            )
            group_scores = np.bincount(inverse, weights=values, minlength=keys.size)
            items, item_of_key = np.unique(keys // n_groups, return_inverse=True)
            present = np.bincount(item_of_key, minlength=items.size)
            if mode == "and":
                scores = np.bincount(item_of_key, weights=group_scores, minlength=items.size)
            else:
                scores = np.full(items.size, np.inf)
                np.minimum.at(scores, item_of_key, group_scores)
            keep = present == n_groups
            items, scores = items[keep], scores[keep]
        if k is not None and items.size > k:
            # the k best (ties at the boundary resolved by index below)
            threshold = np.partition(scores, items.size - k)[items.size - k]
            keep = scores >= threshold
            items, scores = items[keep], scores[keep]
        order = np.lexsort((items, -scores))
        if k is not None:
            order = order[:k]
        return items[order].astype(np.int64), scores[order].astype(np.float64)

    def search(
        self, query: Any, k: int | None = 10, *, mode: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rank the items by a query made of concepts.

        Parameters
        ----------
        query : dict of {str: float}, list of str or pandas.Series
            The query concepts and their positive weights (a list gives every
            concept weight 1).
        k : int or None, default=10
            Number of items returned at most; None returns every match.
        mode : {"or", "and", "min"} or None, default=None
            Overrides the retriever's ``mode`` for this query.

        Returns
        -------
        indices : ndarray of shape (n_results,), int64
            Positions (from 0) of the matching rows of the weights given to
            ``fit``, best first, as ``NearestNeighbors`` returns them: of a
            DataFrame, ``W.index[indices]`` are their labels.
        scores : ndarray of shape (n_results,), float64
            Their scores, non-increasing.

        Raises
        ------
        ValueError
            If a query concept is not in the vocabulary (the message names it
            and suggests close matches), is named twice, a weight is not
            positive, or ``k`` or ``mode`` is invalid.

        Warns
        -----
        UserWarning
            If no item matches and a query concept is held by no item: the
            message names such concepts (the decompositions may carry their
            meaning with other concepts). :meth:`search_text` warns alike of the
            concepts of its text.
        """
        mode = self._query_mode(k, mode)
        cols, q = self._query_vector(query)
        found = self._rank(cols, q, k, mode)
        if not found[0].size:
            self._warn_no_match(cols, mode)
        return found

    def _warn_no_match(self, cols: np.ndarray, mode: str, text: bool = False) -> None:
        """Say why a query of the concepts ``cols`` matched no item, where a concept of
        it is held by none: an empty result read as "no such item" where the items hold
        its meaning with other concepts ("canine" for a query of "dog"). No item holding
        all of several concepts that each are held (``mode`` ``"and"`` or ``"min"``) is
        an answer, said by the empty result. ``text``: the concepts of a text query."""
        # (items with a weight on each query concept or a neighbour selected for it: a
        # group matches an item holding any of its concepts)
        expanded, _, groups = self._expand(cols, np.ones(cols.size))
        holding = np.bincount(
            groups, weights=np.diff(self.weights_.indptr)[expanded], minlength=cols.size
        )
        unheld = [repr(str(self.concepts_[j])) for j, n in zip(cols, holding) if not n]
        if not unheld:
            return
        one = len(unheld) == 1
        neighbours = self.n_neighbors != 0 or self.similarity_threshold is not None
        warn_user(
            f"no item holds the concept{'' if one else 's'} {listed(unheld, 5)} of the query"
            + (" (nor any of the neighbours selected for it)" if neighbours else "")
            + f": {'it has' if one else 'they have'} a non-zero weight in no row of the "
            "weights given to fit"
            + (f", so no item matches in mode={mode!r}" if mode != "or" else "")
            + ". The decompositions may carry that meaning with other concepts: look at the "
            "nearest concepts in the dictionary (sksplice.editing.concept_neighbors) and "
            "query those, or widen the query with n_neighbors or similarity_threshold"
            + (
                ""
                if text
                else ", or call search_text with a text, which is decomposed into the "
                "concepts the dictionary holds"
            )
        )

    def decompose_text(self, text: str) -> dict[str, float]:
        """The concepts of a text query, as decomposed by ``splice``.

        Parameters
        ----------
        text : str
            The query text.

        Returns
        -------
        dict of {str: float}
            Concept name to weight, largest first; empty when the decomposition
            is all zero.
        """
        check_is_fitted(self)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"the text query must be a non-empty string; got {text!r}")
        if self.splice is None:
            given = (
                f"; the {type(self.concepts).__name__} given is `concepts`, the first "
                "argument, which only names the columns: give it as splice= "
                "(ConceptRetriever(splice=splice), whose concepts name the columns too)"
                if getattr(self.concepts, "embedder", None) is not None
                else ""
            )
            raise ValueError(
                "text queries need `splice`: the fitted SpliceTransformer (with an embedder) "
                f"that decomposes the query into the collection's concepts{given}"
            )
        embedder = getattr(self.splice, "embedder", None)
        if embedder is None:
            raise ValueError(
                "text queries need `splice.embedder` with an embed_text method to embed the "
                "query; the transformer has none"
            )
        check_text_embedder(embedder, param="splice.embedder", purpose="to embed the query")
        names = _concept_names(self.splice, "splice")
        assert names is not None  # (splice is not None: tested above)
        _check_same_concepts(names, self.concepts_)  # (`splice` refitted since)
        if (
            getattr(self.splice, "modality", None) == "image"
            and getattr(self.splice, "mean_source_", None) == "pretrained"
        ):
            # (the docs' recipe; the results are those of a query centred by the wrong
            # modality's mean, which skews its decomposition. A centre learned from the
            # collection, or given, may be of texts: a transformer fitted on captions)
            warn_user(
                "`splice` is a transformer for images (modality='image') centred by the "
                "published image mean: it centres the text query as an image. Decompose "
                "text queries with a text "
                "transformer of the same vocabulary and penalty: splice="
                "clone(image_splice).set_params(image_mean=None, modality='text', "
                "text_mean='concepts'), fitted on a text's embedding (its centre is the "
                "vocabulary's: fit reads only the width)",
                UserWarning,
            )
        W = self.splice.transform(np.asarray(embedder.embed_text([text])))
        if isinstance(W, pd.DataFrame):
            W = frame_values(W, "query")
        w = sp.csr_matrix(W)
        order = np.argsort(-w.data, kind="stable")
        # (named by `splice`'s columns, which may hold the collection's concepts in
        # another order; the query is matched to the collection's columns by name)
        return {str(names[w.indices[i]]): float(w.data[i]) for i in order if w.data[i]}

    def search_text(
        self, text: str, k: int | None = 10, *, mode: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rank the items by a text query decomposed into concepts.

        The text is embedded by ``splice.embedder`` and decomposed by
        ``splice.transform`` (see :meth:`decompose_text`); its concept weights
        are the query of :meth:`search`. With the default ``mode="or"`` items
        are ranked by the dot product (or cosine, with ``metric="cosine"``)
        of their weights with the query's.

        Parameters
        ----------
        text : str
            The query text.
        k : int or None, default=10
            Number of items returned at most; None returns every match.
        mode : {"or", "and", "min"} or None, default=None
            Overrides the retriever's ``mode`` for this query.

        Returns
        -------
        indices : ndarray of shape (n_results,), int64
            Positions (from 0) of the matching rows of the weights given to
            ``fit``, best first (of a DataFrame, ``W.index[indices]`` are their
            labels); empty when the text decomposes to no concept.
        scores : ndarray of shape (n_results,), float64
            Their scores, non-increasing.
        """
        mode = self._query_mode(k, mode)
        query = self.decompose_text(text)
        if not query:
            logger.info("the query %r decomposes to no concept; nothing matches", text)
            return np.array([], dtype=np.int64), np.array([], dtype=np.float64)
        cols, q = self._query_vector(query)
        found = self._rank(cols, q, k, mode)
        if not found[0].size:
            self._warn_no_match(cols, mode, text=True)
        return found
