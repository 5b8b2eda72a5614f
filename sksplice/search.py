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

import numbers
import time
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags, indexable
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._pandas import transform_output
from ._persistence import VersionStampMixin
from ._stack import warn_user
from ._validation import check_flag, checks_parameters, restored_on_failure
from ._weights import format_weights
from .path import (
    _check_editor_names,
    _check_embeddings,
    _check_error_score,
    _check_fit_params,
    _check_n_jobs,
    _check_penalties,
    _check_probe_params,
    _check_targets,
    _checked_transformer,
    _fold_column,
    _reads_names,
    _report_failures,
    _route,
    _routing_enabled,
    _scored_folds,
    check_sample_args,
    checked_scoring,
)

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
                f"best_estimator_ and no {attr}: create it with refit=True (or a metric "
                "name or a callable), or fit clone(estimator).set_params(**search.best_params_) "
                "yourself (with several metrics, the params of the candidate you pick from "
                "cv_results_)"
            )
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


class SplicePathSearchCV(MetaEstimatorMixin, VersionStampMixin, BaseEstimator):
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
    and each fold takes its rows of those weights (as does the refit, when
    every embedding is in some fold).

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        A pipeline whose first step is a ``SpliceTransformer`` (with
        ``target_l0=None``) and whose other steps (one or more) are the
        probe, e.g. ``make_pipeline(SpliceTransformer(...),
        LogisticRegression())``. The transformer's own ``l1_penalty`` is not
        used.
    l1_penalties : sequence of float
        The candidate penalties, in (0, 2) (from 2 on every weight is zero);
        the results come back in this order.
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As for ``GridSearchCV``: one metric (a scorer name, a callable or None
        for the probe's ``score``) or several (a list, tuple or set of scorer
        names, or a dict of names to scorers; the keys of ``cv_results_`` then
        end with each metric's name instead of ``score``). A callable is called
        during the search as ``scoring(probe, W, y)`` with the fitted probe and
        the concept weights ``W``, and by :meth:`score` with the whole
        ``best_estimator_`` and embeddings; it may return a dict of several
        metrics.
    cv : int, cross-validation generator, iterable or None, default=None
        As for ``GridSearchCV`` (default 5-fold, stratified for classifiers).
    refit : bool, str or callable, default=True
        As for ``GridSearchCV``: refit a clone of the pipeline with the best
        penalty on the whole data (``best_estimator_``), which the prediction
        methods use. With several metrics, the name of the metric that chooses
        the best penalty. A callable gets ``cv_results_`` and returns the index
        of the chosen candidate, e.g. the sparsest penalty whose mean score is
        within one standard deviation of the best (there is then no
        ``best_score_``). With one metric, a string equal to ``scoring`` means
        True.
    n_jobs : int or None, default=None
        Folds run in parallel in this many joblib workers (None: one after the
        other; -1: one per core), as for
        :func:`~sksplice.splice_validation_curve`. With a fixed centre the one
        path is solved in this process first, so the workers fit and score only
        the probes: starting them (each imports torch and scikit-learn) pays
        only where the probes are slow (for a logistic regression on a few
        hundred captions, 2 workers made the search slower on 2 cores).
    return_train_score : bool, default=False
        Also score each probe on its training fold (``split{k}_train_score``,
        ``mean_train_score`` and ``std_train_score`` in ``cv_results_``).
    error_score : 'raise' or float, default=np.nan
        As for ``GridSearchCV``: the score recorded for a penalty whose probe
        fit or scoring fails on a fold (for every penalty of the fold when its
        transformer fit or path fails), with a ``FitFailedWarning`` that says
        how many failed and why; ``'raise'`` raises the error instead. When
        every fit fails the search raises (so it does at once when the one
        transformer fit or path of a fixed centre fails).
    verbose : int or bool, default=0
        0 (or False) is quiet (a negative value is refused, as scikit-learn
        refuses it); above 0, what is about to run and each fold as it is
        scored, with the time so far, are shown on standard error (INFO
        messages of the ``sksplice`` loggers; where the program has configured
        logging, its handlers show them instead).

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        Keyed like ``GridSearchCV``'s: ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time`` and ``std_score_time`` (seconds, see Notes),
        ``param_<step>__l1_penalty`` (masked
        array), ``params``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score`` and, with
        ``return_train_score=True``, the same train keys (no rank); with
        several metrics, one set of these per metric, named
        ``split{k}_test_<metric>`` and so on. One entry per candidate, in the
        order of ``l1_penalties``.
    best_index_ : int
        Index of the best candidate in ``cv_results_`` (the first of those
        ranked 1 by the metric, or what a callable ``refit`` returned). Not set
        with several metrics and ``refit=False``.
    best_params_ : dict
        ``{"<step>__l1_penalty": best penalty}`` (when ``best_index_`` is set).
    best_score_ : float
        Mean cross-validated score of the best candidate (when ``best_index_``
        is set and ``refit`` is not a callable).
    best_estimator_ : Pipeline
        Clone of ``estimator`` with the best penalty, fitted on all of ``X``
        and ``y`` (only when ``refit`` is not False).
    refit_time_ : float
        Seconds spent refitting ``best_estimator_`` (only when ``refit`` is not
        False).
    scorer_ : callable or dict
        The scorer of the pipeline, used by :meth:`score` (with several metrics
        named in ``scoring``, a dict of them by name).
    n_splits_ : int
        Number of cross-validation splits.
    multimetric_ : bool
        Whether several metrics were searched.
    classes_ : ndarray of shape (n_classes,)
        Class labels of ``best_estimator_`` (only when ``refit`` is not False
        and the probe is a classifier).
    n_features_in_ : int
        Number of columns of the embeddings ``X`` seen during ``fit`` (only
        when ``refit`` is not False, as in ``GridSearchCV``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X``, when ``X`` has string column names (only when
        ``refit`` is not False).

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The same search, one solve per penalty and fold.
    splice_validation_curve : The scores per penalty and fold, without the search.
    splice_path : The decompositions of one set of embeddings along the penalties.

    Notes
    -----
    The penalties of one fold share their transformer fit and their path
    (with a fixed centre, all folds share one fit and one path): a candidate's
    fit time in ``cv_results_`` is its even share of that (the fold's fit and
    path, or the fold's share of the one path) plus its probe's fit, and its
    score time that of scoring its probe (on the test rows, and the training
    rows with ``return_train_score``), so that code written for
    ``GridSearchCV``'s ``mean_fit_time`` and friends reads them; summed over
    the candidates they are the time of the search's folds. Only the folds run in
    parallel (``n_jobs``), not the candidates. The probe gets the concept
    weights as the pipeline would give them: CSR matrices (dense arrays with
    the transformer's ``output="dense"``), or with ``set_output(transform=
    "pandas")`` DataFrames whose columns are the concepts (so that a
    ``ConceptEditor`` without ``splice=`` finds the concept names); but a
    linear probe of scikit-learn (``sklearn.linear_model``, ``sklearn.svm``)
    scored by metric names, which reads no names, gets sparse weights as CSR
    matrices, with the same scores (made DataFrames of one sparse column per
    concept and CSR again, 3 penalties on 5 folds over 10,000 concepts took 17
    to 22 s, against 2.7 to 2.9 s so); the refit gets what the pipeline gives.

    Where it differs from ``GridSearchCV``: only ``l1_penalty`` is searched;
    there is no ``pre_dispatch``; ``verbose`` shows progress on standard
    error (scikit-learn prints to standard output); with one metric a
    string ``refit`` must equal ``scoring`` (``GridSearchCV`` takes any string
    as True); a failing scorer among several fails the whole candidate on that
    fold (every metric gets ``error_score``); and a callable ``scoring`` is
    called with the probe and the concept weights during the search, but with
    the whole pipeline and the embeddings by :meth:`score`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sksplice import SplicePathSearchCV, SpliceTransformer
    >>> rng = np.random.default_rng(0)
    >>> words = [f"concept {i}" for i in range(40)]
    >>> emb = rng.standard_normal((40, 16))
    >>> y = np.repeat([0, 1], 75)  # each training fold has 100 rows to learn the centre from
    >>> X = emb[y * 3] + emb[rng.integers(40, size=150)] + 0.1 * rng.standard_normal((150, 16))
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
        refit: bool | str | Callable[[dict[str, Any]], int] = True,
        n_jobs: int | None = None,
        return_train_score: bool = False,
        error_score: Any = np.nan,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.l1_penalties = l1_penalties
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score
        self.error_score = error_score
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = deepcopy(inner.classifier_tags)
        tags.regressor_tags = deepcopy(inner.regressor_tags)
        tags.input_tags.sparse = False  # the transformer takes dense embeddings
        return tags

    def _sk_visual_block_(self) -> Any:
        # The HTML display of a fitted search shows the refitted pipeline (its best
        # penalty), as scikit-learn's searches show their best_estimator_; before fit,
        # or without refit, the pipeline given.
        from ._display import visual_block_class

        if hasattr(self, "best_estimator_"):
            key, estimator = "best_estimator_", self.best_estimator_
        else:
            key, estimator = "estimator", self.estimator
        return visual_block_class()(
            "parallel",
            [estimator],
            names=[f"{key}: {type(estimator).__name__}"],
            name_details=[str(estimator)],
        )

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

    @checks_parameters
    def _check_params(self) -> tuple[str, Any, Any, np.ndarray, Any, list[Any] | None]:
        """Validate every parameter (nothing is fitted); the pieces the search needs.

        The last item is the names of the metrics ``scoring`` lists (None for one
        metric or a callable).
        """
        name, transformer, probe = self._split_pipeline()
        if isinstance(self.l1_penalties, Iterator):
            raise TypeError(
                f"l1_penalties must be a sequence that can be read more than once (a list, "
                f"tuple or array), got a {type(self.l1_penalties).__name__}: pass list(...)"
            )
        _check_penalties(self.l1_penalties)
        # (in the order given: cv_results_ follows it, as GridSearchCV's follows its grid)
        penalties = np.asarray(self.l1_penalties, dtype=np.float64)
        # The transformer's other options are checked now, not in the first fold.
        _checked_transformer(transformer, penalties[0])
        _check_probe_params(probe, "the probe")
        _check_editor_names(transformer, probe, self.estimator.steps[1][0])
        _check_n_jobs(self.n_jobs)
        check_flag(self.verbose, "verbose", int_ok=True)
        if not isinstance(self.return_train_score, (bool, np.bool_)):
            raise TypeError(
                f"return_train_score must be True or False, got {self.return_train_score!r}"
            )
        _check_error_score(self.error_score)
        names = None
        if isinstance(self.scoring, (list, tuple, set, frozenset, Mapping)):
            names = list(self.scoring)
            if not names:
                raise ValueError(
                    f"scoring is an empty {type(self.scoring).__name__}: name at least one metric"
                )
        # (check_scoring refuses unknown names, duplicates and wrong types.)
        fold_scorer = checked_scoring(probe, self.scoring, "SplicePathSearchCV")
        self._check_refit(names)
        return name, transformer, probe, penalties, fold_scorer, names

    def _check_refit(self, names: list[Any] | None) -> None:
        """Refuse a ``refit`` that does not fit the metrics (``names``: None for one)."""
        refit = self.refit
        if not (isinstance(refit, (bool, np.bool_, str)) or callable(refit)):
            raise TypeError(
                f"refit must be True, False, the name of a metric in scoring or a callable "
                f"that picks a candidate's index from cv_results_, got {refit!r}"
            )
        if names is not None:
            if isinstance(refit, (bool, np.bool_)) and refit:
                raise ValueError(
                    f"with several metrics in scoring ({', '.join(map(repr, names))}), refit "
                    f"must name the one that chooses the penalty (e.g. refit={names[0]!r}), "
                    "be a callable that picks a candidate's index from cv_results_, or be "
                    "False; got True"
                )
            if isinstance(refit, str) and refit not in names:
                raise ValueError(
                    f"refit={refit!r} is not one of the metrics in scoring: "
                    f"{', '.join(map(repr, names))}"
                )
        elif isinstance(refit, str) and refit != self.scoring and not callable(self.scoring):
            # (A callable may return several metrics: its refit is checked after the fit.)
            raise ValueError(
                f"refit={refit!r} names a metric, but scoring is one metric "
                f"({self.scoring!r}): use refit=True, or list several metrics in scoring "
                "and name one of them in refit"
            )

    def _probe_params(
        self, name: str, probe: Any, params: dict[str, Any], X: Any
    ) -> dict[str, Any]:
        """The fit parameters of the pipeline's steps after the transformer ``name``, as
        ``probe.fit`` takes them (without the step name when the probe is one step)."""
        if not params:
            return {}
        for key in params:
            if key.partition("__")[0] == name:
                raise TypeError(
                    f"SplicePathSearchCV.fit got the fit parameter {key!r}, but the "
                    f"SpliceTransformer {name!r} takes none: pass fit parameters to the "
                    "steps after it"
                )
        _check_fit_params(self.estimator, params, "SplicePathSearchCV.fit", X)
        if isinstance(probe, Pipeline):
            return dict(params)
        return {key.partition("__")[2]: value for key, value in params.items()}

    def _routed_probe_params(self, probe: Any, fit_params: dict[str, Any]) -> dict[str, Any]:
        """The metadata routed to the pipeline's ``fit`` that its probe requested.

        A probe of several steps is a pipeline itself and routes all of it by its
        steps' requests; the transformer requests none.
        """
        if isinstance(probe, Pipeline) or not fit_params:
            return dict(fit_params)
        step = self.estimator.steps[-1][0]
        routing = self.estimator.get_metadata_routing()
        return dict(routing.route_params(caller="fit", params=fit_params)[step].fit)

    def _routed_probe_score_params(
        self, probe: Any, score_params: dict[str, Any]
    ) -> dict[str, Any]:
        """The scorer's metadata that the probe's ``score`` requested (``scoring=None``).

        ``GridSearchCV`` scores with the pipeline's ``score``, which passes metadata
        on by the requests of its steps: a ``sample_weight`` that the probe's
        ``score`` has not been told to take (``set_score_request``) is an
        ``UnsetMetadataPassedError``, one it was told not to take is left out. The
        folds score the probe itself, whose ``score`` would take whatever it is
        given: the metadata is routed as the pipeline would route it, before any
        fit. Other scorers carry their own requests. A probe of several steps is a
        pipeline and routes the metadata itself when it scores, but only then: its
        requests are checked here too, by the whole pipeline's routing.
        """
        if self.scoring is not None or not score_params:
            return dict(score_params)
        routing = self.estimator.get_metadata_routing()
        routed = routing.route_params(caller="score", params=score_params)
        if isinstance(probe, Pipeline):
            # (what any of its steps takes; it routes that among them as it scores)
            first = self.estimator.steps[0][0]
            taken = {
                key
                for step, methods in routed.items()  # ('passthrough' steps are not there)
                if step != first
                for method in methods.values()
                for key in method
            }
            return {key: value for key, value in score_params.items() if key in taken}
        return dict(routed[self.estimator.steps[-1][0]].score)

    def get_metadata_routing(self) -> MetadataRouter:
        """How :meth:`fit` and :meth:`score` route metadata (with metadata routing on).

        As ``GridSearchCV`` routes it: ``fit``'s metadata to the pipeline's
        ``fit`` (hence to its steps, by their requests), to the scorer and to
        the splitter's ``split`` (``groups``); ``score``'s to the scorer.

        Returns
        -------
        routing : MetadataRouter
            The routing of this search.
        """
        router = MetadataRouter(owner=type(self).__name__)
        router.add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        router.add(
            # (scoring=None: the pipeline's score routes by its steps' requests, as
            # scikit-learn >= 1.8's passthrough scorer; before 1.8 that scorer took the
            # pipeline's own unset request)
            scorer=self.estimator
            if self.scoring is None
            else check_scoring(self.estimator, scoring=self.scoring),
            method_mapping=MethodMapping()
            .add(caller="score", callee="score")
            .add(caller="fit", callee="score"),
        )
        router.add(
            splitter=self.cv,
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
        return router

    # -------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, groups: Any = None, **params: Any) -> SplicePathSearchCV:
        """Score every penalty on every fold, then refit the best (with ``refit=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings, as given to :meth:`SpliceTransformer.fit`.
        y : array-like of shape (n_samples,) or None, default=None
            Targets of the probe.
        groups : array-like of shape (n_samples,) or None, default=None
            Group labels for group-aware splitters (with metadata routing on,
            routed to the splitter like the other metadata).
        **params : dict
            Without metadata routing (the default), fit parameters of the steps
            after the ``SpliceTransformer``, named ``step__parameter`` as for
            :meth:`Pipeline.fit <sklearn.pipeline.Pipeline.fit>` (e.g.
            ``logisticregression__sample_weight=w``). With
            ``sklearn.set_config(enable_metadata_routing=True)``, metadata
            (e.g. ``sample_weight=w``) routed as ``GridSearchCV`` routes it: to
            the steps that request it (``set_fit_request``), to the scorer if it
            requests it (``set_score_request``) and to the splitter. As in
            ``GridSearchCV``, an array with one entry per sample is cut to each
            fold's training (or, for the scorer, scored) rows, and the refit
            gets them whole; a ``sample_weight`` without one entry per row of
            ``X`` is refused before any fit.

        Returns
        -------
        self : SplicePathSearchCV
            The fitted search.

        Raises
        ------
        TypeError, ValueError
            For an estimator that is not a pipeline starting with a
            ``SpliceTransformer`` and ending with a probe, penalties
            :func:`splice_path` refuses, a ``ConceptEditor`` right after the
            transformer that names a concept its vocabulary lacks (without
            ``ignore_unknown``), an unknown or empty ``scoring``, a
            penalty that is not in (0, 2), an invalid option of the transformer
            (a vocabulary file that does not exist, a ``vocabulary_size`` larger
            than the vocabulary, ``concept_embeddings`` of another width than
            ``X`` included), an invalid option of the probe or of one of its
            steps (scikit-learn's ``InvalidParameterError``: a misspelt
            ``solver``, ``C=-1``), an ``n_jobs`` that is not a non-zero integer, a ``verbose`` that
            is neither a bool nor an int of at least 0, a ``refit`` that does
            not fit the metrics (True with several, a name not among them, a
            name with one metric other than ``scoring``, another type), a
            ``return_train_score`` that is not a bool, an ``error_score`` that
            is neither ``'raise'`` nor a number, or fit parameters that name no
            step after the transformer or that its ``fit`` does not take (with
            metadata routing on: metadata that nothing requests, or that an
            object could take but was not told to, as scikit-learn refuses it),
            or embeddings ``X`` that the transformer refuses (not a dense 2-D
            array of real numbers, or rows with NaN or infinite values, named
            by their row in ``X``), or, for a classifier, labels ``y`` that
            are missing (None or NaN, named by row) or of several types that
            do not order, with the transformer's own error rather
            than the failure of every fold; all before any fit. A callable
            ``scoring`` that returns several metrics has its ``refit`` checked
            after the fits.

        Notes
        -----
        A fit that raises or is interrupted (``KeyboardInterrupt``) leaves the
        search as it was: fitted as before, or not fitted.
        """
        with restored_on_failure(self):
            return self._fit(X, y, groups, **params)

    def _fit(self, X: Any, y: Any, groups: Any, **params: Any) -> SplicePathSearchCV:
        name, transformer, probe, penalties, fold_scorer, names = self._check_params()
        if _routing_enabled():
            # Metadata by request (groups among them), refused now if nothing takes it.
            metadata = dict(params) if groups is None else {**params, "groups": groups}
            fit_params, split_params, score_params = _route(
                self, metadata, "SplicePathSearchCV.fit", X
            )
            probe_params = self._routed_probe_params(probe, fit_params)
            score_params = self._routed_probe_score_params(probe, score_params)
        else:
            probe_params = self._probe_params(name, probe, params, X)
            fit_params, split_params, score_params = params, {"groups": groups}, {}
        if names is None:
            scorer: Any = check_scoring(self.estimator, scoring=self.scoring)
        else:
            specs = self.scoring if isinstance(self.scoring, Mapping) else dict.fromkeys(names)
            scorer = {
                key: check_scoring(self.estimator, scoring=key if spec is None else spec)
                for key, spec in specs.items()
            }
        check_sample_args(X, y, split_params.get("groups"), self.cv)
        X, y = indexable(X, y)
        _check_embeddings(transformer, X, penalties[0])
        validate_data(self, X, reset=True, skip_check_array=True)
        _check_targets(probe, y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, **split_params))
        folds, shared = _scored_folds(
            "SplicePathSearchCV",
            transformer,
            probe,
            X,
            y,
            penalties,
            splits,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            scorer=fold_scorer,
            train_score=bool(self.return_train_score),
            error_score=self.error_score,
            fit_params=probe_params,
            score_params=score_params,
            names_read=_reads_names(probe, self.scoring),
        )
        _report_failures(
            [failure for _, _, fold, _ in folds for failure in fold],
            len(splits) * len(penalties),
            self.error_score,
            "search",
        )
        metrics = _metrics_of([on_test for _, on_test, _, _ in folds])
        if metrics is not None and names is None:
            # A callable scoring that returns several metrics.
            self._check_refit(metrics)
        key = f"{name}__l1_penalty"
        candidates = list(self.l1_penalties)
        # (as GridSearchCV's: seconds per candidate and fold, first; a fold's transformer
        # fit and path, shared by its penalties, split evenly among them)
        times = np.array([fold[3] for fold in folds], dtype=np.float64)  # (fold, penalty, 2)
        results: dict[str, Any] = {
            "mean_fit_time": times[:, :, 0].mean(axis=0),
            "std_fit_time": times[:, :, 0].std(axis=0),
            "mean_score_time": times[:, :, 1].mean(axis=0),
            "std_score_time": times[:, :, 1].std(axis=0),
            f"param_{key}": _param_column(candidates),
            "params": [{key: value} for value in candidates],
        }
        kinds = [("test", 1, True)] + ([("train", 0, False)] if self.return_train_score else [])
        # (each metric's test keys, then its train keys: GridSearchCV's order)
        for metric in ["score"] if metrics is None else metrics:
            for kind, at, rank in kinds:
                which = None if metrics is None else metric
                scores = np.column_stack(
                    [_fold_column(fold[at], which, self.error_score) for fold in folds]
                )
                _store_scores(results, kind, scores, rank=rank, metric=metric)

        self.cv_results_ = results
        self.n_splits_ = len(splits)
        self.scorer_ = scorer
        self.multimetric_ = metrics is not None
        # Nothing of an earlier fit stays that this one does not set.
        stale = ("best_index_", "best_params_", "best_score_", "best_estimator_", "refit_time_")
        for attr in (*stale, "classes_"):
            self.__dict__.pop(attr, None)
        if self.refit or metrics is None:
            metric = "score" if metrics is None else self.refit
            self.best_index_ = self._best_index(results, metric)
            self.best_params_ = results["params"][self.best_index_]
            if not callable(self.refit):
                # (a NumPy float, as GridSearchCV's)
                self.best_score_ = results[f"mean_test_{metric}"][self.best_index_]
        if self.refit:
            started = time.perf_counter()
            best = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            if shared is None or not _refit_from_path(best, X, y, shared, fit_params):
                best.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - started
            self.best_estimator_ = best
            if hasattr(best, "classes_"):
                self.classes_ = best.classes_
        else:  # (as GridSearchCV's: the input's width and names are those of the refit)
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
        return self

    def _best_index(self, results: dict[str, Any], metric: Any) -> Any:
        """The candidate ``refit`` picks: a callable's choice (as it returned it), else the
        first ranked 1 (a NumPy integer, as GridSearchCV's)."""
        if not callable(self.refit):
            return np.argmin(results[f"rank_test_{metric}"])
        index = self.refit(results)
        n = len(results["params"])
        if not isinstance(index, numbers.Integral) or isinstance(index, (bool, np.bool_)):
            raise TypeError(
                f"refit={self.refit!r} returned {index!r}, not the integer index of a "
                f"candidate in cv_results_ (0 to {n - 1})"
            )
        if not 0 <= index < n:
            raise IndexError(
                f"refit={self.refit!r} returned {index}, out of range for the {n} candidates "
                "in cv_results_"
            )
        return index

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
    def score(self, X: Any, y: Any = None, **params: Any) -> float:
        """Score of ``best_estimator_`` by ``scorer_`` (the ``scoring`` searched with).

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Embeddings.
        y : array-like of shape (n_samples,), default=None
            Targets.
        **params : dict
            Metadata for the scorer (e.g. ``sample_weight``), routed by its
            request; only with ``sklearn.set_config(enable_metadata_routing=True)``,
            as for ``GridSearchCV.score``.

        Returns
        -------
        float
            The score.

        Raises
        ------
        ValueError
            For metadata given without metadata routing (as ``GridSearchCV.score``),
            or that the scorer could take but did not request.
        TypeError
            For metadata that nothing takes.
        """
        check_is_fitted(self)
        if not _routing_enabled():
            if params:
                raise ValueError(
                    f"SplicePathSearchCV.score got {sorted(params)}, which it passes to the "
                    "scorer only with metadata routing: call "
                    "sklearn.set_config(enable_metadata_routing=True) and request them on "
                    "the scorer (make_scorer(...).set_score_request(sample_weight=True))"
                )
            score_params: dict[str, Any] = {}
        else:
            score_params = process_routing(self, "score", **params).scorer.score
        if self.multimetric_ and not isinstance(self.refit, str):
            raise ValueError(
                "score needs refit to name the metric to score with, but refit is "
                f"{self.refit!r} and the search has several metrics: call "
                "search.scorer_[name](search.best_estimator_, X, y) for the one you want"
                if isinstance(self.scorer_, dict)
                else "score needs refit to name the metric to score with, but refit is "
                f"{self.refit!r} and the search has several metrics"
            )
        if isinstance(self.scorer_, dict):
            return float(self.scorer_[self.refit](self.best_estimator_, X, y, **score_params))
        score = self.scorer_(self.best_estimator_, X, y, **score_params)
        return float(score[self.refit] if self.multimetric_ else score)


def _refit_from_path(
    best: Pipeline, X: Any, y: Any, shared: tuple[Any, np.ndarray], params: dict[str, Any]
) -> bool:
    """Fit ``best`` on ``X`` with the weights of the shared path instead of a new solve.

    With a fixed centre, the transformer ``best`` starts with fits as the
    search's did, so the path over the rows the folds used already holds the
    weights its ``fit_transform`` would solve for at its penalty: the
    transformer is fitted (no solve) and the rest of the pipeline is fitted on
    those weights, in the container the transformer gives, with the fit
    parameters ``params`` of those steps. Returns False (and
    fits nothing) when some row of ``X`` is in no fold, hence not in the path,
    when the pipeline caches its steps (``memory``: it fits clones of them), and
    for dense weights that ``set_output`` would wrap in a container.
    """
    path, row_in_path = shared
    transformer = best.steps[0][1]
    wrapped = transformer.output == "dense" and transform_output(transformer) != "default"
    if (row_in_path < 0).any() or best.memory is not None or wrapped:
        return False
    column = {float(p): k for k, p in enumerate(path.l1_penalties)}
    W = path.weights[column[float(transformer.l1_penalty)]][row_in_path]
    W.eliminate_zeros()
    transformer.fit(X, y)
    rest = best[1:]
    rest.fit(format_weights(transformer, W, X), y, **params)
    best.steps[1:] = rest.steps
    return True


def _param_column(values: list[Any]) -> np.ma.MaskedArray:
    """The ``param_*`` column of ``cv_results_`` for the candidates' ``values``, of the
    type GridSearchCV gives it: that of ``np.array(values)`` (int64 for integers,
    float32 for a float32 grid, float64 for one that mixes float32 and Python floats),
    object where that is not a 1-D array of numbers."""
    dtype_object = np.dtype(object)
    try:
        inferred = np.array(values)
    except ValueError:
        dtype = dtype_object
    else:
        numbers_1d = inferred.dtype.kind != "U" and inferred.ndim == 1
        dtype = inferred.dtype if numbers_1d else dtype_object
    column = np.ma.MaskedArray(np.empty(len(values), dtype=dtype), mask=True)
    for i, value in enumerate(values):
        column[i] = value  # (unmasked as it is set)
    return column


def _metrics_of(folds: list[list[Any]]) -> list[Any] | None:
    """The metric names of the scores (dicts), or None for one metric (numbers).

    ``folds`` holds the scores of each fold per penalty (None where a fit
    failed); every score must be of the same kind, with the same names.
    """
    scores = [score for fold in folds for score in fold if score is not None]
    first = scores[0]
    if not isinstance(first, Mapping):
        if any(isinstance(score, Mapping) for score in scores):
            raise ValueError("scoring returned a number for some fits and a dict for others")
        return None
    names = list(first)
    for score in scores:
        if not isinstance(score, Mapping) or set(score) != set(names):
            raise ValueError(
                f"scoring returned the metrics {names} for one fit and "
                f"{list(score) if isinstance(score, Mapping) else score!r} for another"
            )
    return names


def _store_scores(
    results: dict[str, Any], kind: str, scores: np.ndarray, *, rank: bool, metric: Any = "score"
) -> None:
    """Add the per-split scores, their mean and std (and rank) of ``kind`` to ``results``."""
    for k in range(scores.shape[1]):
        results[f"split{k}_{kind}_{metric}"] = scores[:, k].copy()
    means = scores.mean(axis=1)
    results[f"mean_{kind}_{metric}"] = means
    results[f"std_{kind}_{metric}"] = scores.std(axis=1)
    if not np.isfinite(means).all():  # (as GridSearchCV says it: a penalty without a score)
        warn_user(f"One or more of the {kind} scores are non-finite: {means}", UserWarning)
    if rank:
        # Like scikit-learn: the highest mean ranks 1, ties share the lowest
        # rank, and a candidate without a score (nan) ranks last.
        if np.isnan(means).all():
            ranks = np.ones(len(means), dtype=np.int32)
        else:
            filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
            ranks = rankdata(-filled, method="min").astype(np.int32)
        results[f"rank_{kind}_{metric}"] = ranks
