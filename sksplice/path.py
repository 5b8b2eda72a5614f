"""Concept weights along a sequence of l1 penalties, each solution seeding the next.

:func:`splice_path` is to :class:`sksplice.SpliceTransformer` what
scikit-learn's :func:`~sklearn.linear_model.lasso_path` is to
:class:`~sklearn.linear_model.Lasso`: the decompositions of the same
embeddings at several sparsity levels, solved from the largest penalty (the
sparsest weights) down, each solution seeding the next. Every solution is
certified to the transformer's ``tol`` like a single :meth:`transform`.
"""

from __future__ import annotations

import inspect
import logging
import numbers
import pickle
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import scipy.sparse
from sklearn import get_config
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning, UnsetMetadataPassedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.parallel import Parallel, delayed  # (passes the config to workers)
from sklearn.utils.validation import _check_method_params, _num_samples, check_is_fitted

from ._array import unit_rows
from ._names import a_type, remember_concepts
from ._pandas import transform_output
from ._penalty import ZERO_CODE_PENALTY, no_concept_reason
from ._progress import verbose_logging
from ._stack import warn_user
from ._validation import check_flag, check_labels, check_y_length
from ._weights import in_container, recomposition_key

__all__ = ["SplicePath", "splice_path", "splice_validation_curve"]

logger = logging.getLogger(__name__)


@dataclass
class SplicePath:
    """Result of :func:`splice_path`: one entry per penalty, largest penalty first.

    Parameters
    ----------
    l1_penalties : ndarray of shape (n_penalties,)
        The penalties, in decreasing order (the order they were solved in).
    weights : list of scipy.sparse.csr_matrix of shape (n_samples, n_concepts)
        Concept weights at each penalty.
    mean_l0 : ndarray of shape (n_penalties,)
        Mean number of non-zero weights per sample.
    cosine : ndarray of shape (n_penalties,)
        Mean cosine similarity between the embeddings and their
        recompositions (:meth:`SpliceTransformer.score` at that penalty).
    worst_gap : ndarray of shape (n_penalties,)
        Largest relative duality gap of any sample (the certificate).
    n_iter : ndarray of shape (n_penalties,)
        Iterations of each solve: the most working-set rounds any sample
        spent at that penalty (ADMM iterations with ``solver="admm"``).
    time_s : float
        Wall-clock time of the whole path's solve, in seconds (the penalties
        are solved in one batch, so there is no time per penalty).
    concepts : ndarray of str objects, shape (n_concepts,)
        The concept names (the columns of every weight matrix).
    baseline_cosine : float, default=nan
        Mean cosine similarity between the embeddings and the centre alone
        (:meth:`SpliceTransformer.cosine_similarity` with ``baseline=True``),
        what recompositions from no concept score: the floor ``cosine`` is read
        against. NaN where not known.
    """

    l1_penalties: np.ndarray
    weights: list[scipy.sparse.csr_matrix] = field(repr=False)
    mean_l0: np.ndarray
    cosine: np.ndarray
    worst_gap: np.ndarray
    n_iter: np.ndarray
    time_s: float
    concepts: np.ndarray = field(repr=False)
    baseline_cosine: float = float("nan")

    def __len__(self) -> int:
        return len(self.l1_penalties)

    def _heading(self) -> str:
        rows = self.weights[0].shape[0] if self.weights else 0
        baseline = (
            f"; cosine of the centre alone {self.baseline_cosine:.4g}"
            if np.isfinite(self.baseline_cosine)
            else ""
        )
        return (
            f"SplicePath of {len(self)} penalt{'y' if len(self) == 1 else 'ies'} ({rows} "
            f"row{'' if rows == 1 else 's'}, {len(self.concepts)} concepts; solved in "
            f"{self.time_s:.3g} s{baseline})"
        )

    def __repr__(self) -> str:
        # (the statistics as a table: the dataclass's repr was one long line of arrays)
        return f"{self._heading()}\n{self.to_frame().to_string(index=False)}"

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(self._heading())}</p>{self.to_frame().to_html(index=False)}"

    def to_frame(self) -> Any:
        """The per-penalty statistics as a pandas DataFrame (one row per penalty).

        Returns
        -------
        pandas.DataFrame
            Columns ``l1_penalty``, ``mean_l0``, ``cosine``, ``worst_gap`` and
            ``n_iter``, largest penalty first; ``attrs["baseline_cosine"]`` holds
            ``baseline_cosine``, one value for the whole path (which
            :func:`~sksplice.plotting.plot_sparsity_tradeoff` draws from the
            frame as it does from the path).
        """
        import pandas as pd

        frame = pd.DataFrame(
            {
                "l1_penalty": self.l1_penalties,
                "mean_l0": self.mean_l0,
                "cosine": self.cosine,
                "worst_gap": self.worst_gap,
                "n_iter": self.n_iter,
            }
        )
        frame.attrs["baseline_cosine"] = float(self.baseline_cosine)
        return frame


def _check_penalties(l1_penalties: Any) -> np.ndarray:
    if isinstance(l1_penalties, numbers.Real) and not isinstance(l1_penalties, bool):
        raise TypeError(
            f"l1_penalties must be a sequence of penalties, got the single number {l1_penalties!r}"
            " (pass [value])"
        )
    if isinstance(l1_penalties, (str, bytes)):
        raise TypeError(f"l1_penalties must be a sequence of numbers, got {l1_penalties!r}")
    if isinstance(l1_penalties, Mapping):  # (GridSearchCV's habit: a parameter grid)
        shown = ", ".join(repr(k) for k in list(l1_penalties)[:3])
        raise TypeError(
            f"l1_penalties must be a sequence of penalties, got a dict ({shown}), a "
            "parameter grid perhaps: pass the penalties themselves, e.g. [0.1, 0.2, 0.3]"
            " (the path varies the SpliceTransformer's l1_penalty; other parameters are "
            "searched by a GridSearchCV around it)"
        )
    if not isinstance(l1_penalties, np.ndarray) and hasattr(l1_penalties, "__iter__"):
        l1_penalties = list(l1_penalties)
        for i, value in enumerate(l1_penalties):
            # (NumPy would read "0.1" as 0.1 and True as 1; the transformer's l1_penalty
            # refuses them; a nested list is left to the shape check below)
            if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
                raise TypeError(
                    f"l1_penalties[{i}] = {value!r} is {type(value).__name__}, not a number"
                )
    elif isinstance(l1_penalties, np.ndarray) and l1_penalties.dtype.kind not in "fiu":
        raise TypeError(
            f"l1_penalties must be an array of real numbers, got dtype {l1_penalties.dtype}"
        )
    try:
        values = np.asarray(l1_penalties, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"l1_penalties must be a sequence of real numbers: {exc}") from exc
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"l1_penalties must be a non-empty 1-D sequence, got shape {values.shape}")
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        why = (
            " (0 is non-negative least squares: about as many concepts as dimensions, and "
            "slow to solve over a dictionary wider than the embedding; a small positive "
            "penalty such as 0.01 gives nearly its fit)"
            if values[i] == 0
            else ""
        )
        raise ValueError(
            f"l1_penalties[{i}] = {float(values[i])!r}: every penalty must be a positive finite "
            f"number, as SpliceTransformer's l1_penalty{why}"
        )
    high = np.flatnonzero(values >= ZERO_CODE_PENALTY)
    if high.size:
        i = int(high[0])
        raise ValueError(
            f"l1_penalties[{i}] = {float(values[i])!r}: every penalty must be below "
            f"{ZERO_CODE_PENALTY:g}, as SpliceTransformer's l1_penalty: {no_concept_reason()}"
        )
    return np.sort(values)[::-1].copy()


def splice_path(transformer: Any, X: Any, l1_penalties: Any) -> SplicePath:
    """Decompose ``X`` at several l1 penalties, largest first, each solution seeding the next.

    The path equivalent of calling ``transform`` once per penalty (with
    ``l1_penalty`` set to each value): the same certified solutions, within
    the transformer's ``tol``. With the working-set solver (the default on
    CPU) the whole path runs in one batch: a sample certified at one penalty
    goes on to the next with its working set of concepts, their Gram block
    and its weights, and the concepts that join are read from the
    correlations its certificate has just computed
    (:meth:`~sksplice.solvers.NonNegLasso.solve_path`). With ADMM each
    penalty is warm-started from the previous solution.
    ``benchmarks/bench_path.py`` measures the gain against solving every
    penalty from scratch.

    Parameters
    ----------
    transformer : SpliceTransformer
        Supplies the dictionary, the modality centre and the solver settings
        (``solver``, ``tol``, ``transform_max_iter``, ``memory_budget``, ``device``).
        A fitted transformer is used as is; an unfitted one is cloned and the
        clone fitted on ``X``. Its own ``l1_penalty`` is not used.
    X : array-like of shape (n_samples, d)
        Embeddings, as given to :meth:`SpliceTransformer.transform`.
    l1_penalties : sequence of float
        Penalties in (0, 2), in any order; they are solved (and returned)
        in decreasing order.

    Returns
    -------
    SplicePath
        Weights (CSR), mean l0, mean cosine similarity, certificate and
        iterations per penalty, and the time of the solve; ``to_frame()``
        gives the statistics as a DataFrame.

    Raises
    ------
    TypeError, ValueError
        For a penalty that is not a positive finite number below 2 (from 2
        on every weight is zero), an empty or non 1-D ``l1_penalties``, or
        embeddings ``transform`` would refuse.

    Warns
    -----
    UserWarning, DenseCodesWarning
        As :meth:`SpliceTransformer.transform` warns, once per penalty: most rows
        (or every row) without a concept, or codes nearly dense (a penalty far from
        the useful range). :class:`SplicePathSearchCV` and
        :func:`splice_validation_curve` solve paths, and so warn as a grid search
        over ``l1_penalty`` does.

    See Also
    --------
    sklearn.linear_model.lasso_path : The same idea for the lasso.

    Examples
    --------
    >>> import numpy as np
    >>> from sksplice import SpliceTransformer, splice_path
    >>> rng = np.random.default_rng(0)
    >>> words = [f"concept {i}" for i in range(40)]
    >>> emb = rng.standard_normal((40, 16))
    >>> X = emb[rng.integers(40, size=120)] + emb[rng.integers(40, size=120)]
    >>> splicer = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu")
    >>> path = splice_path(splicer, X, [0.1, 0.3, 0.2])
    >>> path.l1_penalties
    array([0.3, 0.2, 0.1])
    >>> bool((np.diff(path.mean_l0) >= 0).all())
    True
    """
    penalties = _check_penalties(l1_penalties)
    from .transformer import SpliceTransformer, _weights_dtype

    if not isinstance(transformer, SpliceTransformer):
        raise TypeError(
            f"transformer must be a SpliceTransformer, got {type(transformer).__name__}"
        )
    try:
        check_is_fitted(transformer)
        fitted = True
    except Exception:
        fitted = False
    if not fitted:  # (fitted outside the handler: its errors are not chained to "not fitted")
        transformer = clone(transformer).fit(X)
    # (float16 rows kept, as transform keeps them: the weights are float32, as its are)
    X = transformer._validate_X(X, reset=False, keep_float16=True)
    V = transformer._targets(X)
    dtype = _weights_dtype(X)
    Xn = unit_rows(X.astype(dtype, copy=False))  # (rows of any scale, as transform takes them)

    weights: list[scipy.sparse.csr_matrix] = []
    mean_l0, cosine, worst_gap, n_iter = [], [], [], []
    started = time.perf_counter()
    solved = transformer._solve_path(V, penalties.tolist())
    elapsed = time.perf_counter() - started
    maker = recomposition_key(transformer)
    for codes, penalty in zip(solved, penalties.tolist(), strict=True):
        W = transformer._codes_weights(codes, dtype)
        # (recorded with its concepts, as transform's weights are: see check_source; and
        # with the penalty it was solved at)
        made = maker._replace(penalty=float(penalty), target=None)  # (given, not calibrated)
        weights.append(remember_concepts(W, transformer.concepts_, maker=made))
        # (a penalty that leaves the rows without a concept, or nearly dense: warned about
        # as transform warns, once per penalty, so that a search over a path says what a
        # grid search says)
        transformer._warn_about_codes(W, X, float(penalty))
        mean_l0.append(float(np.mean(np.diff(W.indptr))))
        recomposed = transformer.inverse_transform(W)
        cosine.append(float(np.mean(np.sum(Xn * recomposed, axis=1))))
        worst_gap.append(float(codes.gap))
        n_iter.append(int(codes.n_iter))
    return SplicePath(
        l1_penalties=penalties,
        weights=weights,
        mean_l0=np.asarray(mean_l0),
        cosine=np.asarray(cosine),
        worst_gap=np.asarray(worst_gap),
        n_iter=np.asarray(n_iter),
        time_s=elapsed,
        concepts=np.asarray(transformer.concepts_, dtype=object),
        baseline_cosine=float(np.mean(transformer._cosines(X, baseline=True))),
    )


def _check_targets(probe: Any, y: Any) -> None:
    """Refuse, before any path is solved, ``y=None`` for a probe that requires ``y``
    (the last step of a Pipeline decides: a Pipeline's own tags do not say), and,
    for a classifier, labels that are missing (None or NaN, named by row) or of
    types that do not order: scikit-learn's splitter or probe would fail on them
    with a ``TypeError`` that names no row, after the transformer's fit."""
    if y is not None:
        if is_classifier(probe):
            check_labels(y, "y")
        return
    final = probe
    while isinstance(final, Pipeline):
        final = final.steps[-1][1]
    if final is not None and final != "passthrough" and get_tags(final).target_tags.required:
        raise ValueError(
            f"y is None, but the probe {type(final).__name__} requires y to be passed: give "
            "the labels (the targets of the probe) as y"
        )


def splice_validation_curve(
    transformer: Any,
    estimator: Any,
    X: Any,
    y: Any = None,
    l1_penalties: Any = None,
    *,
    groups: Any = None,
    cv: Any = None,
    scoring: Any = None,
    n_jobs: int | None = None,
    error_score: Any = np.nan,
    params: Mapping[str, Any] | None = None,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated scores of a probe on concept weights, for several l1 penalties.

    The path-aware equivalent of scikit-learn's
    :func:`~sklearn.model_selection.validation_curve` for
    ``make_pipeline(transformer, estimator)`` over the transformer's
    ``l1_penalty``: the same splits, fits and scores, but each fold
    decomposes its training and test embeddings with :func:`splice_path`
    (every penalty in one batch) instead of solving every penalty from
    scratch in every fold. When the transformer's centre is fixed
    (``image_mean="pretrained"`` or an array; ``text_mean="concepts"`` or an
    array with ``modality="text"``), fitting it on any fold gives the same
    transformer, so every embedding is decomposed once, by one path over the
    rows the folds use, and each fold takes its rows of those weights.

    Parameters
    ----------
    transformer : SpliceTransformer
        Cloned and fitted on the training embeddings of every fold (its
        ``l1_penalty`` is not used; ``target_l0`` must be None); with a fixed
        centre, fitted once.
    estimator : estimator object
        The probe fitted on the concept weights (e.g. ``LogisticRegression``);
        cloned for every fold and penalty.
    X : array-like of shape (n_samples, d)
        Embeddings, as given to :meth:`SpliceTransformer.fit`.
    y : array-like of shape (n_samples,) or None, default=None
        Targets of the probe (None for a probe without targets).
    l1_penalties : sequence of float
        The penalties, in (0, 2); the scores come back in this order. Required (its
        default None is refused, as is a pipeline given as ``transformer``).
    groups : array-like of shape (n_samples,) or None, default=None
        Group labels for group-aware splitters (without metadata routing; with
        it, pass them in ``params``, as ``validation_curve`` takes them).
    cv : int, cross-validation generator, iterable or None, default=None
        As for :func:`~sklearn.model_selection.validation_curve` (default 5-fold,
        stratified for classifiers).
    scoring : str, callable or None, default=None
        As for :func:`~sklearn.model_selection.validation_curve` (default: the
        estimator's ``score``): one metric.
    n_jobs : int or None, default=None
        Folds run in parallel in this many joblib workers (None: one after the
        other; -1: one per core). Each worker's torch threads are limited by
        joblib, so that the workers share the cores. With a fixed centre the
        one path is solved in this process first and the workers only fit and
        score the probes, which pays only where the probes are slow (see
        :class:`~sksplice.SplicePathSearchCV`).
    error_score : 'raise' or float, default=np.nan
        As for :func:`~sklearn.model_selection.validation_curve`: the score
        recorded for a penalty whose probe fit or scoring fails on a fold (for
        every penalty of the fold when its transformer fit or path fails), with
        a ``FitFailedWarning`` that says how many failed and why; ``'raise'``
        raises the error instead. When every fit fails the function raises
        (so it does at once when the one transformer fit or path of a fixed
        centre fails).
    params : dict or None, default=None
        As for :func:`~sklearn.model_selection.validation_curve`. Without
        metadata routing (the default), parameters of the probe's ``fit``
        (e.g. ``{"sample_weight": w}``). With
        ``sklearn.set_config(enable_metadata_routing=True)``, metadata routed
        by request: to the probe's ``fit`` (``set_fit_request``), the scorer
        (``set_score_request``) and the splitter (``groups``, which is then
        given here, not as ``groups=``). An array with one entry per sample is
        cut to each fold's training (or scored) rows, anything else goes as it
        is. Parameters that ``estimator.fit`` does not take (with routing:
        that nothing requests, or that an object could take but was not told
        to), and a ``sample_weight`` without one entry per row of ``X``, are
        refused before any fit.
    verbose : int or bool, default=0
        0 (or False) is quiet (a negative value is refused, as scikit-learn
        refuses it); above 0, what is about to run and each fold as it is
        scored, with the time so far, are shown on standard error (INFO
        messages of the ``sksplice`` loggers; where the program has configured
        logging, its handlers show them instead).

    Returns
    -------
    train_scores : ndarray of shape (n_penalties, n_splits)
        Scores on the training folds.
    test_scores : ndarray of shape (n_penalties, n_splits)
        Scores on the test folds.

    Raises
    ------
    TypeError, ValueError
        For a ``transformer`` that is not a ``SpliceTransformer``, has a
        ``target_l0`` or an option its ``fit`` refuses (a misspelt ``solver``, a
        vocabulary file that does not exist, a ``vocabulary_size`` larger than
        the vocabulary, ``concept_embeddings`` of another width than ``X``),
        an ``estimator`` without ``fit`` or with an invalid option (of itself or
        of a step: scikit-learn's ``InvalidParameterError``), penalties
        :func:`splice_path` refuses, a
        ``ConceptEditor`` as ``estimator`` (or its first step) that names a
        concept the transformer's vocabulary lacks (without ``ignore_unknown``),
        several metrics in ``scoring``, an ``n_jobs`` that is not a non-zero integer, a
        ``verbose`` that is neither a bool nor an int of at least 0, an
        ``error_score`` that is neither ``'raise'`` nor a number, ``params``
        the probe's ``fit`` does not take, or embeddings ``X`` that the
        transformer refuses (not a dense 2-D array of real numbers, or rows
        with NaN or infinite values, named by their row in ``X``), or, for a
        classifier, labels ``y`` that are missing (None or NaN, named by row)
        or of several types that do not order, before any fit.

    See Also
    --------
    sklearn.model_selection.validation_curve : The same curve for any parameter.
    splice_path : The decompositions of one set of embeddings along the penalties.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksplice import SpliceTransformer, splice_validation_curve
    >>> rng = np.random.default_rng(0)
    >>> words = [f"concept {i}" for i in range(40)]
    >>> emb = rng.standard_normal((40, 16))
    >>> y = np.repeat([0, 1], 75)  # each training fold has 100 rows to learn the centre from
    >>> X = emb[y * 3] + emb[rng.integers(40, size=150)] + 0.1 * rng.standard_normal((150, 16))
    >>> splicer = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu")
    >>> train, test = splice_validation_curve(
    ...     splicer, LogisticRegression(), X, y, [0.1, 0.3], cv=3
    ... )
    >>> test.shape
    (2, 3)
    """
    # Refuse bad arguments before any fit. (y and l1_penalties default to None so that a
    # pipeline given whole, splice_validation_curve(pipe, X, y, penalties), is told what
    # to give, not only that an argument is missing; y=None: a probe without targets.)
    _check_transformer(transformer)
    if l1_penalties is None:
        raise TypeError(
            "splice_validation_curve() needs l1_penalties: splice_validation_curve("
            "transformer, estimator, X, y, l1_penalties)"
        )
    if not hasattr(estimator, "fit"):
        raise TypeError(
            "estimator must be the probe to fit on the weights (an estimator with fit, "
            f"e.g. LogisticRegression()), got {a_type(estimator)}"
        )
    if isinstance(l1_penalties, Iterator):  # (a generator is read here, once)
        l1_penalties = list(l1_penalties)
    _check_penalties(l1_penalties)
    # (in the order given: the curve's rows follow it, as validation_curve's do)
    penalties = np.asarray(l1_penalties, dtype=np.float64)
    _check_n_jobs(n_jobs)
    check_flag(verbose, "verbose", int_ok=True)
    _check_error_score(error_score)
    _checked_transformer(transformer, penalties[0])
    _check_probe_params(estimator, "estimator")
    _check_editor_names(transformer, estimator)
    params = {} if params is None else params
    routing = _routing_enabled()
    if routing and groups is not None:
        raise ValueError(
            "splice_validation_curve: groups can only be given as an argument without "
            "metadata routing; with sklearn.set_config(enable_metadata_routing=True) pass "
            "them with the other metadata, as params={'groups': groups}"
        )
    if not routing:
        _check_fit_params(estimator, params, "splice_validation_curve", X)
    if isinstance(scoring, (list, tuple, set, frozenset, Mapping)):
        raise TypeError(
            f"scoring must be one metric (a string, a callable or None), got a "
            f"{type(scoring).__name__} of {len(scoring)}{_ONE_METRIC}"
        )
    check_sample_args(X, y, groups, cv)
    X, y, groups = indexable(X, y, groups)
    _check_embeddings(transformer, X, penalties[0])
    _check_targets(estimator, y)
    cv = check_cv(cv, y, classifier=is_classifier(estimator))
    scorer = checked_scoring(estimator, scoring, "splice_validation_curve")
    if routing:
        router = _curve_router(estimator, cv, scorer)
        try:
            fit_params, split_params, score_params = _route(
                router, params, "splice_validation_curve", X
            )
        except UnsetMetadataPassedError as exc:
            # (The caller named in the message is the function, not a fit method.)
            raise UnsetMetadataPassedError(
                message=str(exc).replace("splice_validation_curve.fit", "splice_validation_curve"),
                unrequested_params=exc.unrequested_params,
                routed_params=exc.routed_params,
            ) from None
    else:
        fit_params, split_params, score_params = params, {"groups": groups}, {}
    splits = list(cv.split(X, y, **split_params))
    folds, _ = _scored_folds(
        "splice_validation_curve",
        transformer,
        estimator,
        X,
        y,
        penalties,
        splits,
        n_jobs=n_jobs,
        verbose=verbose,
        scorer=scorer,
        error_score=error_score,
        fit_params=fit_params,
        score_params=score_params,
        names_read=_reads_names(estimator, scoring),
    )
    failures = [failure for _, _, fold, _ in folds for failure in fold]
    _report_failures(failures, len(splits) * len(penalties), error_score, "validation curve")

    if any(isinstance(s, Mapping) for _, on_test, _, _ in folds for s in on_test):
        raise TypeError(f"scoring returned several metrics (a dict){_ONE_METRIC}")
    train_scores = np.column_stack([_fold_column(on, None, error_score) for on, _, _, _ in folds])
    test_scores = np.column_stack([_fold_column(on, None, error_score) for _, on, _, _ in folds])
    return train_scores, test_scores


# Why splice_validation_curve takes one metric, and what to use for several.
_ONE_METRIC = (
    ": a validation curve has one score per penalty and fold; for several metrics use "
    "SplicePathSearchCV(..., refit=False) and read its cv_results_"
)


def _fold_column(scores: list[Any], metric: Any, error_score: Any) -> np.ndarray:
    """One fold's scores per penalty (of ``metric``; None: plain numbers), failed ones filled."""
    return np.array(
        [
            error_score if score is None else score if metric is None else score[metric]
            for score in scores
        ],
        dtype=np.float64,
    )


def _check_error_score(error_score: Any) -> None:
    if not (
        (isinstance(error_score, str) and error_score == "raise")
        or (isinstance(error_score, numbers.Real) and not isinstance(error_score, bool))
    ):
        raise ValueError(
            f"error_score must be 'raise' or a number (e.g. np.nan), got {error_score!r}"
        )


def _report_failures(failures: list[str], n_fits: int, error_score: Any, what: str) -> None:
    """Warn about the failed fits (``FitFailedWarning``); raise when all of them failed.

    ``failures`` holds one ``"<which penalty>:\\n<traceback>"`` per failed fit.
    """
    if not failures:
        return
    where = Counter(failure.split(":\n", 1)[0] for failure in failures)
    why = Counter(failure.split(":\n", 1)[1] for failure in failures)
    details = "\n".join(
        f"{count} fit(s) failed with this error:\n{trace}" for trace, count in why.items()
    )
    failed = ", ".join(f"{penalty} ({count} fit(s))" for penalty, count in where.items())
    if len(failures) == n_fits:
        raise ValueError(
            f"All {n_fits} fits of the {what} failed (every l1_penalty on every fold): "
            "the probe or the pipeline is likely misconfigured. Pass error_score='raise' "
            "to stop at the first error.\n\n"
            f"{details}"
        )
    warn_user(
        f"{len(failures)} of the {n_fits} fits of the {what} failed: {failed}; their "
        f"scores are error_score={error_score!r}. Pass error_score='raise' to stop at the "
        f"first error.\n\n{details}",
        FitFailedWarning,
    )


def _check_n_jobs(n_jobs: Any) -> None:
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0
    ):
        integral = isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool)
        error = ValueError if integral else TypeError
        raise error(
            f"n_jobs must be a non-zero integer (-1: one worker per core) or None, got {n_jobs!r}"
        )


def _fit_param_problem(estimator: Any, key: str) -> str | None:
    """Why ``estimator.fit`` would not take the keyword ``key`` (None: it would).

    A pipeline takes ``step__parameter`` when that step's ``fit`` takes
    ``parameter``, as :meth:`Pipeline.fit <sklearn.pipeline.Pipeline.fit>` routes
    it without metadata routing.
    """
    if isinstance(estimator, Pipeline):
        step, sep, param = key.partition("__")
        steps = dict(estimator.steps)
        if not sep or step not in steps:
            names = ", ".join(repr(name) for name in steps)
            return (
                "name a step of the pipeline and its parameter as 'step__parameter' "
                f"(steps {names})"
            )
        problem = _fit_param_problem(steps[step], param)
        return None if problem is None else f"step {step!r}: {problem}"
    fit = getattr(estimator, "fit", None)
    if fit is None:  # "passthrough" or None: nothing is fitted
        return f"{estimator!r} is fitted with nothing"
    parameters = list(inspect.signature(fit).parameters.values())
    data = [p.name for p in parameters[:2] if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    if key in data:
        return f"{key!r} is the data {type(estimator).__name__}.fit is given, not a fit parameter"
    for p in parameters:
        if p.kind is inspect.Parameter.VAR_KEYWORD or (
            p.name == key and p.kind is not inspect.Parameter.VAR_POSITIONAL
        ):
            return None
    return f"{type(estimator).__name__}.fit takes no parameter {key!r}"


def _routing_enabled() -> bool:
    """Whether ``sklearn.set_config(enable_metadata_routing=True)`` is in effect."""
    return bool(get_config().get("enable_metadata_routing", False))


def _check_fit_params(estimator: Any, params: Any, where: str, X: Any = None) -> None:
    """Refuse fit parameters that ``estimator.fit`` would not take, before any fit.

    Without metadata routing, as in scikit-learn: the parameters go to the
    probe's ``fit`` (an array with one entry per sample is cut to each fold's
    training rows); a pipeline takes them as ``step__parameter``.
    """
    _check_params_mapping(params, where)
    for key in params:
        problem = _fit_param_problem(estimator, key)
        if problem is not None:
            raise TypeError(f"{where} got the fit parameter {key!r}: {problem}")
    if X is not None:
        _check_weight_rows(params, where, _num_samples(X))


def _check_params_mapping(params: Any, where: str) -> None:
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{where}: fit parameters must be a dict of name to value, got {type(params).__name__}"
        )


def _check_weight_rows(params: Mapping[str, Any], where: str, n: int) -> None:
    """Refuse a ``sample_weight`` (or ``step__sample_weight``) without one entry per row."""
    for key, value in params.items():
        # (Other arrays of another length pass through whole, as scikit-learn passes them.)
        if key.rpartition("__")[2] == "sample_weight" and value is not None:
            try:
                count = _num_samples(value)
            except TypeError:
                continue  # a scalar weight
            if count != n:
                raise ValueError(
                    f"{where}: the fit parameter {key!r} has {count} entries but X has {n} "
                    "rows; give one weight per row of X"
                )


def _route(router: Any, params: Any, where: str, X: Any) -> tuple[Any, Any, Any]:
    """``params`` routed by request (metadata routing on), before any fit.

    ``router`` is the caller's :class:`~sklearn.utils.metadata_routing.MetadataRouter`
    (or an object with ``get_metadata_routing``) with an ``estimator``, a
    ``splitter`` and a ``scorer``. scikit-learn refuses metadata that no
    object requests and metadata an object could take but has not been told to
    (``set_fit_request``, ``set_score_request``); a ``sample_weight`` for the
    estimator without one entry per row of ``X`` is refused here. Returns the
    metadata of the estimator's ``fit``, the splitter's ``split`` and the
    scorer.
    """
    _check_params_mapping(params, where)
    routed = process_routing(router, "fit", **params)
    _check_weight_rows(routed.estimator.fit, where, _num_samples(X))
    return routed.estimator.fit, routed.splitter.split, routed.scorer.score


def _curve_router(estimator: Any, cv: Any, scorer: Any) -> MetadataRouter:
    """How :func:`splice_validation_curve` routes metadata, as ``validation_curve`` does."""
    return (
        MetadataRouter(owner="splice_validation_curve")
        .add(estimator=estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        .add(splitter=cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        .add(scorer=scorer, method_mapping=MethodMapping().add(caller="fit", callee="score"))
    )


def _learns_from_rows(transformer: Any) -> bool:
    """Whether fitting the SpliceTransformer ``transformer`` learns from the rows of ``X``.

    Only its centre can (``image_mean=None``, or ``text_mean=None`` with
    ``modality="text"``); with a fixed centre every fit builds the same
    transformer, whatever rows it is given (its penalty aside, which a path
    does not use).
    """
    centre = transformer.text_mean if transformer.modality == "text" else transformer.image_mean
    return centre is None


def _check_embeddings(transformer: Any, X: Any, penalty: float) -> None:
    """Refuse embeddings that no fold could decompose, and settings that no fold could
    fit with, before any fit.

    The transformer's parameters (with ``l1_penalty`` set to ``penalty``: its own is
    not used) and what its ``fit`` checks before the vocabulary is embedded (the
    vocabulary file or name, the width of ``X`` against the concepts' where it is
    known) are checked once: a misspelt ``solver`` or a missing vocabulary file
    failed every fold, and was told only as every fit of the search having failed.

    The SpliceTransformer's own checks of ``X`` (dense, 2-D, real numbers, no NaN
    or infinite values) run once on the whole of ``X``, as every fold's fit would
    run them on its rows. An ``X`` they refuse (an object array holding a dict, a
    sparse matrix, NaN) raises the transformer's own ``TypeError`` or
    ``ValueError`` here, naming rows of ``X`` rather than of a fold, where
    otherwise every fold would fail and the search would report only that all its
    fits failed. The checked array is dropped: an array of floats is not copied,
    and other input (a DataFrame, an object array, a list) is converted once more
    than the folds and the refit convert it. The width of the concepts may be asked
    of the text embedder (a sentence-transformers model is then loaded here, and kept
    for the folds of this process) when no dictionary is cached.
    """
    checked = _checked_transformer(transformer, penalty)
    checked._checked_before_embedding(X)


def _checked_transformer(transformer: Any, penalty: float) -> Any:
    """A clone of ``transformer`` at ``penalty`` whose parameters are checked (its own
    penalty is not used): the first check of :func:`splice_validation_curve` and
    :class:`~sksplice.SplicePathSearchCV`, before the names of an editor are looked
    up in the vocabulary, so that both say the same of the same wrong setting."""
    checked = clone(transformer).set_params(l1_penalty=float(penalty))
    checked._check_params()
    return checked


def _check_transformer(transformer: Any) -> None:
    """Refuse what :func:`splice_validation_curve` cannot vary the penalty of."""
    from sklearn.pipeline import Pipeline

    from .transformer import SpliceTransformer

    if isinstance(transformer, Pipeline):  # (SplicePathSearchCV's habit: the whole model)
        raise TypeError(
            "transformer must be a SpliceTransformer, got a Pipeline: pass its "
            "SpliceTransformer and the steps after it apart, "
            "splice_validation_curve(pipe[0], pipe[1:], X, y, l1_penalties) for a "
            "pipeline that begins with it"
        )
    if not isinstance(transformer, SpliceTransformer):
        raise TypeError(
            f"transformer must be a SpliceTransformer, got {type(transformer).__name__}"
        )
    if transformer.target_l0 is not None:
        raise ValueError(
            f"the SpliceTransformer has target_l0={transformer.target_l0!r}, which sets its "
            "penalty itself: create it with target_l0=None to score it over l1_penalty"
        )


def _check_probe_params(
    estimator: Any,
    what: str = "the probe",
    when: str = "before the vocabulary is embedded",
    *,
    deep: bool = True,
) -> None:
    """Refuse an invalid parameter of the probe (``LogisticRegression(C=-1)``,
    ``solver="lbgfs"``) and of its steps and inner estimators, before any fit.

    Found by the probe's first fit, it came after the vocabulary was embedded and the
    first fold decomposed, and it failed every fit. scikit-learn checks an estimator's
    parameters against its ``_parameter_constraints`` in ``fit``; the check is private
    (``_validate_params``), so it is called behind a guard: an estimator without
    declared constraints, or a scikit-learn without the check, is left to its fit, as
    is every parameter where ``sklearn.set_config(skip_parameter_validation=True)``.
    With ``deep=False`` only the estimator's own parameters are checked, not those of
    the estimators it holds.
    """
    try:
        from sklearn.utils._param_validation import InvalidParameterError
    except ImportError:  # pragma: no cover - a scikit-learn without it
        return
    if get_config().get("skip_parameter_validation", False):
        return
    pending: list[tuple[str, Any]] = [("", estimator)]
    seen: set[int] = set()
    while pending:
        where, est = pending.pop(0)
        if id(est) in seen or not hasattr(est, "get_params") or _is_frozen(est):
            continue  # (a frozen estimator's fit fits nothing: it is used as it is)
        seen.add(id(est))
        validate = getattr(est, "_validate_params", None)
        if callable(validate) and isinstance(getattr(est, "_parameter_constraints", None), dict):
            try:
                validate()
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{what}{where}: {exc} (checked {when})") from exc
            except Exception:  # (the check failing its own way: the fit will tell)
                pass
        if not deep:
            break
        try:
            params = est.get_params(deep=False)
        except Exception:
            continue
        for key, value in params.items():
            if hasattr(value, "get_params") and not isinstance(value, type):
                pending.append((f"{where} ({key})", value))
            elif isinstance(value, list):  # (steps, transformer_list: (name, estimator, ...))
                for item in value:
                    if isinstance(item, tuple) and len(item) > 1 and hasattr(item[1], "get_params"):
                        pending.append((f"{where}, step {item[0]!r}", item[1]))


def _is_frozen(estimator: Any) -> bool:
    """Whether ``estimator`` is scikit-learn's ``FrozenEstimator`` (scikit-learn 1.6 on)."""
    try:
        from sklearn.frozen import FrozenEstimator
    except ImportError:  # pragma: no cover - scikit-learn before 1.6
        return False
    return isinstance(estimator, FrozenEstimator)


def checked_scoring(estimator: Any, scoring: Any, who: str) -> Any:
    """``check_scoring(estimator, scoring=scoring)``, its refusal of a ``scoring`` it
    does not know naming ``who`` (the caller's function or class, as ``GridSearchCV``
    names itself), not scikit-learn's ``check_scoring``, which the user did not call.
    A name that is not a scorer's is said with its close matches (scikit-learn listed
    its 50 scorers, in no order, without them)."""
    from sklearn.metrics import get_scorer_names

    from ._names import close_matches
    from .exceptions import InvalidParameterError

    listed = (
        list(scoring.values())
        if isinstance(scoring, Mapping)
        else scoring
        if isinstance(scoring, (list, tuple, set, frozenset))
        else [scoring]
    )
    known = get_scorer_names()
    for name in listed:
        if isinstance(name, str) and name not in known:
            close = close_matches(name, known, n=2)
            hint = " or ".join(map(repr, close))
            raise InvalidParameterError(
                f"{who}: scoring {name!r} is not the name of a scikit-learn scorer"
                + (f"; did you mean {hint}?" if close else "")
                + " (sklearn.metrics.get_scorer_names() lists them all)"
            )
    try:
        return check_scoring(estimator, scoring=scoring)
    except (TypeError, ValueError) as exc:
        said = str(exc)
        named = said.replace("parameter of check_scoring ", f"parameter of {who} ", 1)
        if named == said:
            raise
        raise type(exc)(named) from None


def check_sample_args(X: Any, y: Any, groups: Any, cv: Any) -> None:
    """Refuse ``y`` or ``groups`` of another length than ``X``, each named (scikit-learn
    said "Found input variables with inconsistent numbers of samples: [120, 10]"), and
    a ``cv`` given as a string (its "Got 5." hid the quotes)."""
    check_y_length(X, y, step=False)
    check_y_length(X, groups, name="groups", step=False)
    if isinstance(cv, str):  # (a ValueError, as scikit-learn's check_cv raises)
        raise ValueError(
            f"cv={cv!r} is a string: give the number of folds as an int"
            + (f" (cv={int(cv)})" if cv.strip().isdigit() else "")
            + ", a cross-validation splitter, or an iterable of (train, test) index arrays"
        )


def _check_editor_names(transformer: Any, estimator: Any, step: str = "estimator") -> None:
    """Refuse the unknown concept names of a ConceptEditor that takes the transformer's
    output (``estimator`` itself, or the first step of a Pipeline) before any fit: found
    in the first fold, after the vocabulary is embedded, they would fail every fit."""
    from ._pandas import transform_output
    from .editing import ConceptEditor, check_editor_names

    if isinstance(estimator, Pipeline) and estimator.steps:
        step, estimator = estimator.steps[0]
    if not isinstance(estimator, ConceptEditor):
        return
    # (a vocabulary file or list, or a named vocabulary from the data home: no embedding;
    # read from the transformer as it is, not a deep copy of its embedder, which may hold
    # what cannot be copied)
    concepts, n_full = transformer._resolve_concepts()

    def beyond(unknown: list[str]) -> tuple[dict[str, int], int | None]:
        from ._concepts import positions_in_vocabulary

        vocabulary, data_home = transformer.vocabulary, transformer.data_home
        return positions_in_vocabulary(vocabulary, concepts, n_full, data_home, unknown)

    # (a DataFrame names the columns; an array does not, and the editor needs `splice`)
    named = transform_output(transformer) not in (None, "default")
    check_editor_names(estimator, concepts, step, beyond, named=named)


def _scored_folds(
    who: str,
    transformer: Any,
    estimator: Any,
    X: Any,
    y: Any,
    penalties: np.ndarray,
    splits: list[tuple[Any, Any]],
    *,
    n_jobs: int | None,
    verbose: Any,
    **kwargs: Any,
) -> tuple[list[Any], tuple[SplicePath, np.ndarray] | None]:
    """:func:`_fold_scores` of every split (in parallel with ``n_jobs``), in split order,
    and the path the folds shared (:func:`_shared_path`).

    With ``verbose`` above 0, what is about to run and each fold as it is scored are
    INFO messages of this module's logger, shown on standard error (see
    :func:`sksplice._progress.verbose_logging`).
    """
    with verbose_logging(verbose):
        start = time.perf_counter()
        shared = _shared_path(transformer, X, penalties, splits)
        n_folds = len(splits)
        # (the one path of a fixed centre serves every fold: each its share of it)
        shared_seconds = (time.perf_counter() - start) / n_folds if shared is not None else 0.0
        if shared is not None:
            logger.info(
                "%s: the transformer's centre is fixed: one path over %d rows served every "
                "fold (%.1f s); scoring %d penalties on %d folds",
                who,
                shared[0].weights[0].shape[0],
                time.perf_counter() - start,
                len(penalties),
                n_folds,
            )
        else:
            logger.info(
                "%s: %d folds, each decomposed along one path of %d penalties",
                who,
                n_folds,
                len(penalties),
            )
        # (in worker processes a fold's warnings are recorded there and issued here, once
        # each, naming the caller's line: else each process shows its own copy, which the
        # caller's catch_warnings does not see)
        elsewhere = _in_worker_processes(n_jobs)
        tasks = (
            delayed(_recorded if elsewhere else _not_recorded)(
                _fold_scores,
                transformer,
                estimator,
                X,
                y,
                train,
                test,
                penalties,
                shared=shared,
                shared_seconds=shared_seconds,
                **kwargs,
            )
            for train, test in splits
        )
        folds = []
        # (as a generator, the folds come back in order as they finish)
        returned = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        for k, (fold, caught) in enumerate(returned, 1):
            for message in caught:
                warn_user(message)
            folds.append(fold)
            logger.info(
                "%s: fold %d of %d scored (%.1f s)", who, k, n_folds, time.perf_counter() - start
            )
        return folds, shared


def _quiet_editors(estimator: Any) -> Any:
    """``estimator`` (a fold's clone) with its ``ConceptEditor`` steps told not to warn
    about removed concepts that no row holds: at the large penalties of a path they are
    often in no row of a fold, which says nothing of the refit (that warns)."""
    from .editing import ConceptEditor

    for step in [estimator, *(s for _, s in getattr(estimator, "steps", ()))]:
        if isinstance(step, ConceptEditor):
            step._quiet_idle_removals = True
    return estimator


def _in_worker_processes(n_jobs: int | None) -> bool:
    """Whether joblib runs the tasks of ``n_jobs`` in other processes (not threads)."""
    from joblib import effective_n_jobs
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return effective_n_jobs(n_jobs) > 1 and not getattr(backend, "uses_threads", False)


def _recorded(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[Warning]]:
    """``func(*args, **kwargs)`` and the warnings it issued, recorded rather than shown: a
    task of a worker process, whose warnings the caller's process issues (see
    :func:`_scored_folds`).

    The warnings are sent back as they were issued, with their attributes (the
    ``groups`` of a :class:`~sksplice.exceptions.DuplicateConceptWarning`): a warning
    class whose constructor takes more than the text could not be issued again from
    its text alone. One that does not pickle is sent as a ``UserWarning`` of its
    class name and text.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, [_portable(w.message) for w in caught]


def _portable(message: Warning | str) -> Warning:
    """``message`` if it survives pickling (to the caller's process), else its text."""
    if not isinstance(message, Warning):
        return UserWarning(str(message))
    try:
        pickle.loads(pickle.dumps(message))
    except Exception:  # (any failure to pickle or rebuild it: the text still goes)
        return UserWarning(f"{type(message).__name__}: {message}")
    return message


def _not_recorded(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[Warning]]:
    """``func(*args, **kwargs)``, its warnings shown where they are issued (this process,
    or threads of it), in the shape of :func:`_recorded`."""
    return func(*args, **kwargs), []


def _shared_path(
    transformer: Any, X: Any, penalties: np.ndarray, splits: list[tuple[Any, Any]]
) -> tuple[SplicePath, np.ndarray] | None:
    """One path for every fold when all folds would fit the same transformer.

    With a fixed centre a fold's fit does not depend on its rows, so each
    embedding has the same weights in every fold: one path over the rows the
    folds use serves all of them. Returns that path and, for each row of
    ``X``, its row in the path (-1 for a row no fold uses); None when the
    centre is learned (each fold then fits and solves its own).
    """
    if _learns_from_rows(transformer):
        return None
    n = _num_samples(X)
    used = np.unique(np.concatenate([_indices(part) for fold in splits for part in fold]))
    rows = X if used.size == n else _safe_indexing(X, used)
    fitted = clone(transformer).fit(rows)
    position = np.full(n, -1, dtype=np.intp)
    position[used] = np.arange(used.size)
    return splice_path(fitted, rows, penalties), position


def _indices(part: Any) -> np.ndarray:
    """A fold's rows as integer indices (a splitter may give a boolean mask)."""
    part = np.asarray(part)
    return np.flatnonzero(part) if part.dtype == bool else part.astype(np.intp, copy=False)


#: The modules of scikit-learn's estimators that read a DataFrame of pandas sparse
#: columns as the CSR matrix they make of it (``check_array``), its column names only
#: kept as ``feature_names_in_``: the linear probes.
_NAME_BLIND = ("sklearn.linear_model.", "sklearn.svm.")


def _reads_names(estimator: Any, scoring: Any) -> bool:
    """Whether the probe ``estimator`` or the ``scoring`` of a search may read the names
    of the concept columns (so that the probe must get the pandas DataFrame that
    ``set_output`` asks for, not the CSR matrix of its values).

    Not for a linear probe of scikit-learn (:data:`_NAME_BLIND`) scored by metric
    names, which score its predictions: in a search of 3 penalties on 5 folds of 256
    captions (10,000 concepts), turning the weights into DataFrames of sparse columns
    and scikit-learn turning them back took 17 to 22 s of a search that takes 2 s on
    the CSR matrices, with the same scores. A callable ``scoring`` (which gets the
    weights), a pipeline, a linear model holding another estimator
    (``RANSACRegressor(estimator=...)``) or any other probe gets the DataFrame.
    """
    module = type(estimator).__module__ + "."
    if not module.startswith(_NAME_BLIND) or any(
        hasattr(value, "fit") for value in estimator.get_params(deep=False).values()
    ):  # (a model holding another, RANSACRegressor(estimator=...), may pass names on)
        return True
    if scoring is None or isinstance(scoring, str):
        return False
    if isinstance(scoring, Mapping):
        return not all(isinstance(v, str) for v in scoring.values())
    if isinstance(scoring, list | tuple | set | frozenset):
        return not all(isinstance(v, str) for v in scoring)
    return True


def _fold_scores(
    transformer: Any,
    estimator: Any,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    penalties: np.ndarray,
    scorer: Any,
    *,
    train_score: bool = True,
    shared: tuple[SplicePath, np.ndarray] | None = None,
    shared_seconds: float = 0.0,
    error_score: Any = "raise",
    fit_params: Mapping[str, Any] | None = None,
    score_params: Mapping[str, Any] | None = None,
    names_read: bool = True,
) -> tuple[list[Any] | None, list[Any], list[str], list[tuple[float, float]]]:
    """Train and test scores of one fold at every penalty (in the order of ``penalties``).

    The transformer is cloned and fitted once on the training part, and the
    training and test parts are decomposed with one :func:`splice_path`
    (with ``shared``, the path of the rows all folds use and each row's place in
    it, the fold takes its rows of those weights instead: see
    :func:`_shared_path`); a
    clone of ``estimator`` is fitted on the training weights of each penalty.
    With ``train_score=False`` the training weights are not scored (None
    comes back in their place). The probe gets the weights in the transformer's
    ``output``: dense arrays with ``output="dense"``, else CSR, or in the
    container ``set_output`` asks for (a pandas DataFrame with the concepts as
    columns), as the pipeline would give them; sparse weights stay CSR where
    ``names_read`` is False (see :func:`_reads_names`). ``y`` may be None (an
    unsupervised probe).

    Each score is what ``scorer`` returns (a number, or a dict of them for
    several metrics). With ``error_score="raise"`` a failing fit or score
    raises; otherwise the scores of a penalty whose probe fit or scoring fails
    (all penalties, if the fold's transformer fit or path fails) are None, and
    the third item lists the failures (the penalty and the traceback). The fourth
    holds, per penalty, the seconds of its fit (its share of the fold's transformer
    fit and path, or of ``shared_seconds``, the shared path's share of this fold,
    split evenly among the penalties, and the probe's fit) and of its scoring (on the
    test rows, and the training rows where scored), as ``GridSearchCV`` times them.
    ``fit_params`` go to every fit of the probe, an array with one entry per
    row of ``X`` cut to the fold's training rows (as scikit-learn cuts them),
    and ``score_params`` (routed metadata) to the scorer, cut to the rows it
    scores.
    """
    if y is None:
        y_train = y_test = None
    else:
        y_train, y_test = _safe_indexing(y, train), _safe_indexing(y, test)
    train, test = _indices(train), _indices(test)
    train_idx, test_idx = train, test  # (rows of X; train and test become rows of the path)
    probe_params = _check_method_params(X, fit_params or {}, train)
    score_train = _check_method_params(X, score_params or {}, train)
    score_test = _check_method_params(X, score_params or {}, test)
    failures: list[str] = []
    decomposed = shared_seconds
    if shared is None:
        # The training and test rows in one path (one batch: fewer, fuller chunks).
        rows = np.concatenate([train, test])
        started = time.perf_counter()
        try:
            fitted = clone(transformer).fit(_safe_indexing(X, train), y_train)
            path = splice_path(fitted, _safe_indexing(X, rows), penalties)
        except Exception:
            if error_score == "raise":
                raise
            failed = f"every l1_penalty of the fold (the transformer):\n{traceback.format_exc()}"
            none = [None] * len(penalties)
            share = (time.perf_counter() - started) / len(penalties)
            return (
                (list(none) if train_score else None),
                none,
                [failed] * len(penalties),
                [(share, 0.0)] * len(penalties),
            )
        decomposed = time.perf_counter() - started
        train, test = np.arange(len(train)), np.arange(len(train), len(rows))
    else:
        path, row_in_path = shared
        train, test = row_in_path[train], row_in_path[test]
    train_weights: list[Any] = [W[train] for W in path.weights]
    test_weights: list[Any] = [W[test] for W in path.weights]
    solved = path.l1_penalties
    # splice_path returns the penalties largest first.
    column = {float(p): k for k, p in enumerate(solved)}
    if transformer.output == "dense":
        train_weights = [W.toarray() for W in train_weights]
        test_weights = [W.toarray() for W in test_weights]
    container = transform_output(transformer)
    if container not in (None, "default") and not (
        container == "pandas" and transformer.output != "dense" and not names_read
    ):
        # set_output asked for a container (pandas ...): the probe gets it, with the
        # concepts as its columns, as the pipeline would give it (a ConceptEditor
        # without splice= reads the concept names from it). Not pandas frames of sparse
        # weights where neither the probe nor the scoring reads names (see _reads_names):
        # the probe makes the CSR matrix of them again. (Polars refuses sparse weights:
        # in every fold, as the pipeline would.)
        # (cast: the test above leaves a container's name, a str)
        kind, names = cast(str, container), path.concepts
        rows = _safe_indexing(X, train_idx)
        train_weights = [in_container(W, kind, rows, names) for W in train_weights]
        rows = _safe_indexing(X, test_idx)
        test_weights = [in_container(W, kind, rows, names) for W in test_weights]
    train_scores: list[Any] | None = [] if train_score else None
    test_scores: list[Any] = []
    times: list[tuple[float, float]] = []
    share = decomposed / len(penalties)
    for penalty in penalties:
        k = column[float(penalty)]
        on_train = on_test = None
        started = time.perf_counter()
        fitted_at = None
        try:
            probe = _quiet_editors(clone(estimator)).fit(train_weights[k], y_train, **probe_params)
            fitted_at = time.perf_counter()
            if train_scores is not None:
                on_train = scorer(probe, train_weights[k], y_train, **score_train)
            on_test = scorer(probe, test_weights[k], y_test, **score_test)
        except Exception:
            if error_score == "raise":
                raise
            on_train = on_test = None
            failures.append(f"l1_penalty={float(penalty):g}:\n{traceback.format_exc()}")
        ended = time.perf_counter()
        if fitted_at is None:  # (the fit failed: its time is the fit's, as scikit-learn's)
            fitted_at = ended
        times.append((share + fitted_at - started, ended - fitted_at))
        if train_scores is not None:
            train_scores.append(on_train)
        test_scores.append(on_test)
    return train_scores, test_scores, failures, times
