"""Cross-validated search over a pipeline's sparsity, one path per fold.

:class:`SplicePathSearchCV` is scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` over the ``l1_penalty`` of the
:class:`~sksplice.SpliceTransformer` that starts a pipeline, with the same
splits, fits, scores and fitted attributes, but each fold fits the transformer
once and decomposes its training and test embeddings together with one
:func:`~sksplice.splice_path` (as :func:`~sksplice.splice_validation_curve`
does; with a fixed centre, one path serves all folds) instead of refitting the
transformer and solving every penalty from scratch for every candidate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from copy import deepcopy
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags, indexable
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .path import _check_n_jobs, _check_penalties, _fold_scores, _shared_path

__all__ = ["SplicePathSearchCV"]


def _refit_and_has(attr: str):
    """Availability check of a method delegated to ``best_estimator_``.

    The method exists only with ``refit=True``, and only when the best
    estimator (or, before ``fit``, the pipeline) has it.
    """

    def check(self: SplicePathSearchCV) -> bool:
        if not self.refit:
            raise AttributeError(
                f"This SplicePathSearchCV was created with refit=False, so it has no "
                f"best_estimator_ and no {attr}: create it with refit=True, or fit "
                "clone(estimator).set_params(**search.best_params_) yourself"
            )
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


class SplicePathSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Exhaustive search over the l1 penalty of a pipeline's SpliceTransformer, path by path.

    Stands in for ``GridSearchCV(pipeline, {"<step>__l1_penalty": l1_penalties})``
    where ``pipeline`` starts with a :class:`~sksplice.SpliceTransformer` and
    ends with a probe (e.g. ``LogisticRegression``): the same splits, the same
    probe fits and scores, and its fitted attributes for one metric (Notes
    list what differs), but each fold fits
    the transformer once and decomposes its training and test embeddings
    together with one :func:`~sksplice.splice_path` (every penalty in one batch,
    each solution seeding the next), where ``GridSearchCV`` refits the transformer
    and solves from scratch for every penalty (and, with
    ``return_train_score=True``, decomposes the training embeddings a second
    time to score them). With a fixed centre (``image_mean="pretrained"`` or
    an array, or ``text_mean="concepts"`` or an array with
    ``modality="text"``) every fold would fit the same transformer, so the
    embeddings are decomposed once, by one path over the rows the folds use,
    and each fold takes its rows of those weights.

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        A pipeline whose first step is a ``SpliceTransformer`` (with
        ``target_l0=None``) and whose other steps (one or more) are the
        probe, e.g. ``make_pipeline(SpliceTransformer(...),
        LogisticRegression())``. The transformer's own ``l1_penalty`` is not
        used.
    l1_penalties : sequence of float
        The candidate penalties (finite, positive); the results come back in
        this order.
    scoring : str, callable or None, default=None
        One metric, as for ``GridSearchCV`` (None: the probe's ``score``). A
        callable is called during the search as ``scoring(probe, W, y)`` with
        the fitted probe and the concept weights ``W``, and by :meth:`score`
        with the whole ``best_estimator_`` and embeddings. Several metrics (a
        list, tuple, set or dict) are refused.
    cv : int, cross-validation generator or iterable, default=None
        As for ``GridSearchCV`` (default 5-fold, stratified for classifiers).
    refit : bool, default=True
        Refit a clone of the pipeline with the best penalty on the whole data
        (``best_estimator_``), which the prediction methods use.
    n_jobs : int, default=None
        Folds run in parallel in this many joblib workers (None: one after the
        other; -1: one per core), as for
        :func:`~sksplice.splice_validation_curve`.
    return_train_score : bool, default=False
        Also score each probe on its training fold (``split{k}_train_score``,
        ``mean_train_score`` and ``std_train_score`` in ``cv_results_``).

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        Keyed like ``GridSearchCV``'s for one metric: ``param_<step>__l1_penalty``
        (masked array), ``params``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score`` and, with
        ``return_train_score=True``, the same train keys (no rank). One entry
        per candidate, in the order of ``l1_penalties``.
    best_index_ : int
        Index of the best candidate in ``cv_results_`` (the first of those
        ranked 1).
    best_params_ : dict
        ``{"<step>__l1_penalty": best penalty}``.
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_estimator_ : Pipeline
        Clone of ``estimator`` with the best penalty, fitted on all of ``X``
        and ``y`` (only with ``refit=True``).
    refit_time_ : float
        Seconds spent refitting ``best_estimator_`` (only with ``refit=True``).
    scorer_ : callable
        The scorer of the pipeline, used by :meth:`score`.
    n_splits_ : int
        Number of cross-validation splits.
    multimetric_ : bool
        Always False: one metric is searched.
    classes_ : ndarray of shape (n_classes,)
        Class labels of ``best_estimator_`` (only with ``refit=True`` and a
        classifier probe).
    n_features_in_ : int
        Number of columns of the embeddings ``X`` seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X``, when ``X`` has string column names.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The same search, one solve per penalty and fold.
    splice_validation_curve : The scores per penalty and fold, without the search.
    splice_path : The decompositions of one set of embeddings along the penalties.

    Notes
    -----
    The penalties of one fold share their transformer fit and their path
    (with a fixed centre, all folds share one fit and one path), so
    ``cv_results_`` has no per-candidate fit and score times
    (``mean_fit_time`` and friends of ``GridSearchCV``). Only the folds run in
    parallel (``n_jobs``), not the candidates. The probe gets the concept
    weights as CSR matrices (dense arrays with the transformer's
    ``output="dense"``), whatever ``set_output`` says. A failing fit raises
    (like ``GridSearchCV(error_score="raise")``).

    Where it differs from ``GridSearchCV``: only ``l1_penalty`` is searched;
    one metric; ``refit`` is a bool (no metric name or callable); there is no
    ``verbose``, ``error_score`` or ``pre_dispatch``; fit parameters (such as
    a probe's ``sample_weight``) are refused rather than routed; and a callable
    ``scoring`` is called with the probe and the concept weights during the
    search, but with the whole pipeline and the embeddings by :meth:`score`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sksplice import SplicePathSearchCV, SpliceTransformer
    >>> rng = np.random.default_rng(0)
    >>> words = [f"concept {i}" for i in range(40)]
    >>> emb = rng.standard_normal((40, 16))
    >>> y = np.repeat([0, 1], 20)
    >>> X = emb[y * 3] + emb[(np.arange(40) * 7) % 40] + 0.1 * rng.standard_normal((40, 16))
    >>> splicer = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu")
    >>> pipe = make_pipeline(splicer, LogisticRegression())
    >>> search = SplicePathSearchCV(pipe, [0.1, 0.3], cv=3).fit(X, y)
    >>> search.cv_results_["mean_test_score"].shape
    (2,)
    >>> sorted(search.best_params_)
    ['splicetransformer__l1_penalty']
    >>> search.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        estimator: Any,
        l1_penalties: Any,
        *,
        scoring: Any = None,
        cv: Any = None,
        refit: bool = True,
        n_jobs: int | None = None,
        return_train_score: bool = False,
    ) -> None:
        self.estimator = estimator
        self.l1_penalties = l1_penalties
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.input_tags.sparse = False  # the transformer takes dense embeddings
        return tags

    # ----------------------------------------------------------------- checks
    def _split_pipeline(self) -> tuple[str, Any, Any]:
        """The transformer's step name, the transformer and the probe, or an error."""
        from .transformer import SpliceTransformer

        how = (
            "pass make_pipeline(SpliceTransformer(...), probe), e.g. with "
            "LogisticRegression() as the probe"
        )
        estimator = self.estimator
        if isinstance(estimator, SpliceTransformer):
            raise TypeError(
                f"estimator is a SpliceTransformer alone, with no probe to score: {how}"
            )
        if not isinstance(estimator, Pipeline):
            raise TypeError(
                "estimator must be a Pipeline whose first step is a SpliceTransformer, got "
                f"{type(estimator).__name__}: {how}"
            )
        steps = list(estimator.steps)
        name, first = steps[0]
        if not isinstance(first, SpliceTransformer):
            later = [n for n, step in steps[1:] if isinstance(step, SpliceTransformer)]
            what = "passthrough" if first in (None, "passthrough") else type(first).__name__
            if later:
                raise ValueError(
                    f"the pipeline's first step {name!r} ({what}) comes before its "
                    f"SpliceTransformer {later[0]!r}: the search decomposes the input it is "
                    "given along the penalties, so transform the data once with the steps "
                    f"before {later[0]!r} (e.g. embed the images once with CLIPEmbedder) and "
                    "search on the result with a pipeline that starts at the SpliceTransformer"
                )
            raise TypeError(
                f"the pipeline's first step {name!r} is {what}, not a SpliceTransformer: {how}"
            )
        rest = steps[1:]
        if all(step is None or step == "passthrough" for _, step in rest):
            raise ValueError(
                f"the pipeline ends with its SpliceTransformer {name!r}: add the probe whose "
                "score chooses the penalty after it (e.g. LogisticRegression())"
            )
        if first.target_l0 is not None:
            raise ValueError(
                f"the SpliceTransformer {name!r} has target_l0={first.target_l0!r}, which sets "
                "its penalty itself: create it with target_l0=None to search over l1_penalty"
            )
        probe = rest[0][1] if len(rest) == 1 else Pipeline(rest)
        return name, first, probe

    def _check_params(self) -> tuple[str, Any, Any, np.ndarray, Any]:
        """Validate every parameter (nothing is fitted); the pieces the search needs."""
        name, transformer, probe = self._split_pipeline()
        _check_penalties(self.l1_penalties)
        penalties = np.asarray(self.l1_penalties, dtype=np.float64)
        zero = np.flatnonzero(penalties <= 0)
        if zero.size:
            raise ValueError(
                f"l1_penalties[{zero[0]}] is {float(penalties[zero[0]])!r}: a SpliceTransformer's "
                "l1_penalty must be positive, so the search could not refit with it (for "
                "the unpenalised decomposition use splice_path)"
            )
        # The transformer's other options are checked now, not in the first fold.
        clone(transformer).set_params(l1_penalty=float(penalties[0]))._check_params()
        _check_n_jobs(self.n_jobs)
        if not isinstance(self.refit, (bool, np.bool_)):
            raise TypeError(
                f"refit must be True or False, got {self.refit!r}: the search has one metric, "
                "so refit=True refits its best penalty; to choose another way, use "
                "refit=False and pick from cv_results_"
            )
        if not isinstance(self.return_train_score, (bool, np.bool_)):
            raise TypeError(
                f"return_train_score must be True or False, got {self.return_train_score!r}"
            )
        if isinstance(self.scoring, (list, tuple, set, frozenset, Mapping)):
            raise TypeError(
                "scoring must be one metric (a string, a callable or None), got a "
                f"{type(self.scoring).__name__} of {len(self.scoring)}: the search ranks "
                "the penalties by a single score, so run one search per metric"
            )
        fold_scorer = check_scoring(probe, scoring=self.scoring)
        return name, transformer, probe, penalties, fold_scorer

    # -------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, groups: Any = None, **params: Any) -> SplicePathSearchCV:
        """Score every penalty on every fold, then refit the best (with ``refit=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings, as given to :meth:`SpliceTransformer.fit`.
        y : array-like of shape (n_samples,), default=None
            Targets of the probe.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware splitters.
        **params : dict
            Not supported: fit parameters (e.g.
            ``logisticregression__sample_weight``) are refused, before any fit.

        Returns
        -------
        self : SplicePathSearchCV
            The fitted search.

        Raises
        ------
        TypeError, ValueError
            For an estimator that is not a pipeline starting with a
            ``SpliceTransformer`` and ending with a probe, penalties
            :func:`splice_path` refuses, several metrics in ``scoring``, an
            unknown metric, a penalty that is not positive, an invalid option of
            the transformer, an ``n_jobs`` that is not a non-zero integer, a
            ``refit`` or ``return_train_score`` that is not a bool, or fit
            parameters; all before any fit.
        """
        if params:
            raise TypeError(
                f"SplicePathSearchCV.fit does not pass fit parameters on, got "
                f"{sorted(params)}: search without them, or use GridSearchCV over the "
                "pipeline for a weighted probe"
            )
        name, transformer, probe, penalties, fold_scorer = self._check_params()
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        X, y, groups = indexable(X, y, groups)
        validate_data(self, X, reset=True, skip_check_array=True)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        shared = _shared_path(transformer, X, penalties, splits)
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_scores)(
                transformer,
                probe,
                X,
                y,
                train,
                test,
                penalties,
                fold_scorer,
                train_score=bool(self.return_train_score),
                shared=shared,
            )
            for train, test in splits
        )
        key = f"{name}__l1_penalty"
        candidates = list(self.l1_penalties)
        results: dict[str, Any] = {
            f"param_{key}": np.ma.MaskedArray(penalties, mask=np.zeros(len(penalties), bool)),
            "params": [{key: value} for value in candidates],
        }
        test_scores = np.column_stack([on_test for _, on_test in folds])
        _store_scores(results, "test", test_scores, rank=True)
        if self.return_train_score:
            train_scores = np.column_stack([on_train for on_train, _ in folds])
            _store_scores(results, "train", train_scores, rank=False)

        self.cv_results_ = results
        self.n_splits_ = len(splits)
        self.scorer_ = scorer
        self.multimetric_ = False
        self.best_index_ = int(np.argmin(results["rank_test_score"]))
        self.best_params_ = results["params"][self.best_index_]
        self.best_score_ = float(results["mean_test_score"][self.best_index_])
        if self.refit:
            started = time.perf_counter()
            best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            best.fit(X, y)
            self.refit_time_ = time.perf_counter() - started
            self.best_estimator_ = best
            if hasattr(best, "classes_"):
                self.classes_ = best.classes_
        return self

    # ------------------------------------------------------------- delegation
    @available_if(_refit_and_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """Predict with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples,)
            The best pipeline's predictions.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_refit_and_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The best pipeline's class probabilities (columns follow ``classes_``).
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_refit_and_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities of ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The best pipeline's log class probabilities.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_refit_and_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Decision function of ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The best pipeline's decision function.
        """
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_refit_and_has("transform"))
    def transform(self, X: Any) -> Any:
        """Transform with ``best_estimator_`` (every step must be a transformer).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        array-like
            The output of the best pipeline's ``transform``.
        """
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @available_if(_refit_and_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """Inverse transform with ``best_estimator_`` (every step must have one).

        Parameters
        ----------
        X : array-like
            Output of :meth:`transform`.

        Returns
        -------
        array-like
            The output of the best pipeline's ``inverse_transform``.
        """
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)

    @available_if(_refit_and_has("score_samples"))
    def score_samples(self, X: Any) -> np.ndarray:
        """Per-sample scores of ``best_estimator_`` (when its probe has ``score_samples``).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples,)
            The best pipeline's ``score_samples``.
        """
        check_is_fitted(self)
        return self.best_estimator_.score_samples(X)

    @available_if(_refit_and_has("score"))
    def score(self, X: Any, y: Any = None) -> float:
        """Score of ``best_estimator_`` by ``scorer_`` (the ``scoring`` searched with).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.
        y : array-like of shape (n_samples,), default=None
            Targets.

        Returns
        -------
        float
            The score.
        """
        check_is_fitted(self)
        return float(self.scorer_(self.best_estimator_, X, y))


def _store_scores(results: dict[str, Any], kind: str, scores: np.ndarray, *, rank: bool) -> None:
    """Add the per-split scores, their mean and std (and rank) of ``kind`` to ``results``."""
    for k in range(scores.shape[1]):
        results[f"split{k}_{kind}_score"] = scores[:, k].copy()
    means = scores.mean(axis=1)
    results[f"mean_{kind}_score"] = means
    results[f"std_{kind}_score"] = scores.std(axis=1)
    if rank:
        # Like scikit-learn: the highest mean ranks 1, ties share the lowest
        # rank, and a candidate without a score (nan) ranks last.
        if np.isnan(means).all():
            ranks = np.ones(len(means), dtype=np.int32)
        else:
            filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
            ranks = rankdata(-filled, method="min").astype(np.int32)
        results[f"rank_{kind}_score"] = ranks
