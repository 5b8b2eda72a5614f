"""Concept probes: read and edit linear models trained on concept weights.

A linear probe on SpLiCE concept weights (for example
``make_pipeline(splice, LogisticRegression())``) has one coefficient per concept
and class, so it can be read in words. :func:`probe_concepts` lists the concepts
with the largest positive and negative coefficients of every class;
:func:`zero_concept_coefficients` returns a copy of the fitted model whose
coefficients of named concepts are zero, an intervention that removes what the
model learned from those concepts without retraining it.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._names import a_type, listed, numbered_prefix, plural, reconcile_names
from ._stack import warn_user
from ._validation import check_int, refuse_estimator
from .retrieval import unknown_concepts_error

__all__ = ["probe_concepts", "zero_concept_coefficients"]


def _final_step(model: Any) -> Any:
    """The last estimator of a Pipeline (or the model itself)."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _per_class(estimator: Any) -> list[Any] | None:
    """The binary estimators of a fitted one-vs-rest model (``estimators_``), or None."""
    if type(estimator).__name__ != "OneVsRestClassifier":
        return None
    return list(getattr(estimator, "estimators_", []) or []) or None


def _check_linear(estimator: Any) -> np.ndarray:
    """The 2-D coefficient array of a fitted linear classifier.

    A ``OneVsRestClassifier`` of linear classifiers has one row per class, that of
    its estimator for the class (zeros for a class whose estimator predicts a
    constant: every training row was, or none was, of it).
    """
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        # (NotFittedError, as scikit-learn's and sksplice's estimators raise; a ValueError too)
        raise NotFittedError(f"the {type(estimator).__name__} is not fitted; fit it first") from exc
    except TypeError as exc:
        raise TypeError(
            f"expected a fitted linear classifier or a Pipeline ending in one; got "
            f"{type(estimator).__name__}"
        ) from exc
    binaries = _per_class(estimator)
    if binaries is not None:
        n_features = getattr(estimator, "n_features_in_", None)
        rows = []
        for k, inner in enumerate(binaries):
            coef = getattr(inner, "coef_", None)
            if coef is None and type(inner).__name__ == "_ConstantPredictor" and n_features:
                rows.append(np.zeros((1, int(n_features))))
                continue
            if coef is None:
                raise TypeError(
                    f"the OneVsRestClassifier's estimator {k} is a {type(inner).__name__}, "
                    "which has no coef_: expected linear classifiers (LogisticRegression, "
                    "LinearSVC ...)"
                )
            rows.append(_as_rows(coef))
        return np.vstack(rows)
    coef = getattr(estimator, "coef_", None)
    if coef is None or not hasattr(estimator, "classes_"):
        # (a fitted search, GridSearchCV say, holds the refitted model it chose)
        chosen = getattr(estimator, "best_estimator_", None)
        best = (
            f"; it is a search: give its best_estimator_ (the {type(chosen).__name__} "
            "refitted on all the data)"
            if chosen is not None
            else ""
        )
        raise TypeError(
            f"{type(estimator).__name__} has no coef_ and classes_: expected a fitted linear "
            "classifier (LogisticRegression, LinearSVC, RidgeClassifier, SGDClassifier, "
            f"OneVsRestClassifier of one ...) or a Pipeline ending in one{best}"
        )
    return _as_rows(coef)


def _as_rows(coef: Any) -> np.ndarray:
    coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef, dtype=np.float64)
    return coef.reshape(1, -1) if coef.ndim == 1 else coef


def _zeroed(coef_: Any, columns: list[int]) -> Any:
    """``coef_`` with ``columns`` zero; sparse coefficients (after ``sparsify``) stay sparse."""
    if sp.issparse(coef_):
        new = coef_.tocoo()
        new.data[np.isin(new.col, columns)] = 0.0
        new = sp.csr_matrix(new)
        new.eliminate_zeros()
        return new
    new = np.array(coef_, copy=True)
    new[..., columns] = 0.0
    return new


def _name_makers(model: Any) -> dict[str, str]:
    """Prefixes of the column names the steps of ``model`` can make up, and who makes them.

    ``x`` (scikit-learn's names for columns that carried none), ``concepteditor``
    (:class:`~sksplice.editing.ConceptEditor` with ``output="embedding"``), and the
    lowercase class name of every estimator in the steps before the last, nested ones
    included (``pca`` for PCA: scikit-learn's ``ClassNamePrefixFeaturesOutMixin``).
    """
    makers = {"x": "", "concepteditor": "ConceptEditor"}
    if isinstance(model, Pipeline):
        pending = [step for _, step in model.steps[:-1]]
        seen: set[int] = set()
        while pending:
            step = pending.pop()
            if not hasattr(step, "get_params") or id(step) in seen:  # ("passthrough", None)
                continue
            seen.add(id(step))
            makers.setdefault(type(step).__name__.lower(), type(step).__name__)
            try:
                params = step.get_params(deep=False).values()
            except Exception:  # (a get_params that fails its own way)
                continue
            for value in params:
                if hasattr(value, "get_params"):
                    pending.append(value)
                elif isinstance(value, list):  # (steps, transformers: (name, estimator, ...))
                    for item in value:
                        nested = item[1] if isinstance(item, tuple) and len(item) > 1 else None
                        if hasattr(nested, "get_params"):
                            pending.append(nested)
    return makers


def _made_up_names(names: np.ndarray, makers: dict[str, str], what: str) -> str | None:
    """Why ``names`` name no concepts (None when they may be concepts).

    They do when they are numbered names a step made up: every name ``p0, p1, ...``
    in order, with ``p`` one of ``makers`` (after a ``name__`` that a ColumnTransformer
    or FeatureUnion puts in front).
    """
    prefix = numbered_prefix(names)
    if prefix is None:
        return None
    base = prefix.rsplit("__", 1)[-1]
    if base not in makers:
        return None
    shown = ", ".join(repr(str(name)) for name in names[:2]) + (", ..." if names.size > 2 else "")
    if base == "x":
        return (
            f"the classifier's input columns are named {shown}, names scikit-learn makes up "
            "for columns that carry none, not concepts: put the SpliceTransformer (or "
            "set_output(transform='pandas')) in the pipeline so that its concept names "
            f"travel to the classifier, or pass {what}"
        )
    maker = makers[base]
    detail = (
        "; with output='embedding' they are the dimensions of the recomposed embeddings"
        if maker == "ConceptEditor"
        else ""
    )
    return (
        f"the classifier's input columns are named {shown}, numbered names that {maker} "
        f"makes up for its output columns{detail}. They are not concepts, so a probe on "
        "them cannot be read in concepts: probe a classifier trained on concept weights "
        "(the SpliceTransformer's output, or ConceptEditor(output='weights'), the default), "
        f"or pass {what} if these columns are concepts"
    )


# ---------------------------------------------------------------------------
# What each input column of the classifier holds, traced through the steps
# ---------------------------------------------------------------------------


class _Column(NamedTuple):
    """What one column holds: a ``concept`` (its name), or columns a step made
    (``maker``, its class name; ``derived``: made from several columns or as a
    function of one, such as splines or products), or neither (a column of the
    pipeline's input, whose name alone says what it is)."""

    concept: str | None = None
    maker: str | None = None
    derived: bool = False
    #: (of a derived column: whether concept columns went into it)
    of_concepts: bool = False


#: Steps whose output columns are functions of their input columns (splines,
#: products, bins, one-hot codes): a coefficient of such a column is no concept's.
_DERIVING = (
    "PolynomialFeatures",
    "SplineTransformer",
    "OneHotEncoder",
    "KBinsDiscretizer",
    "TargetEncoder",
)


def _step_names(step: Any, n_in: int | None) -> np.ndarray | None:
    try:
        names = np.asarray(step.get_feature_names_out(), dtype=object)
    except Exception:  # (any step's get_feature_names_out may fail its own way)
        return None
    return names if names.ndim == 1 else None


def _made_by(
    step: Any, n_out: int, *, derived: bool = False, of_concepts: bool = False
) -> list[_Column]:
    return [_Column(maker=type(step).__name__, derived=derived, of_concepts=of_concepts)] * n_out


def _trace(step: Any, columns: list[_Column] | None) -> list[_Column] | None:
    """The columns ``step`` outputs for input ``columns`` (None: unknown)."""
    from sklearn.base import ClassNamePrefixFeaturesOutMixin, OneToOneFeatureMixin
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return columns
    estimator = getattr(step, "estimator", None)
    if type(step).__name__ == "FrozenEstimator" and estimator is not None:
        return _trace(estimator, columns)
    if isinstance(step, Pipeline):
        # (as in the model itself, a step that cannot be traced, an embedder say, leaves
        # its columns unknown and a SpliceTransformer after it makes concepts of them)
        for _, inner in step.steps:
            columns = _trace(inner, columns)
        return columns
    if isinstance(step, FeatureUnion):
        out: list[_Column] = []
        for _, inner in step.transformer_list:
            if isinstance(inner, str) and inner == "drop":
                continue
            block = _trace(inner, columns)
            if block is None:
                return None
            out.extend(block)
        return out
    if isinstance(step, ColumnTransformer):
        return _trace_column_transformer(step, columns)
    names = _step_names(step, None if columns is None else len(columns))
    if names is None:
        return None
    if hasattr(step, "dictionary_") and hasattr(step, "concepts_"):  # a SpliceTransformer
        return [_Column(concept=str(name)) for name in names]
    if type(step).__name__ == "ConceptEditor":
        if getattr(step, "output", "weights") == "embedding":
            return _made_by(step, names.size)
        if columns is None or len(columns) != names.size:
            return [_Column(concept=str(name)) for name in names]
        return columns
    if hasattr(step, "get_support"):  # (a feature selector: SelectKBest, RFE ...)
        try:
            support = np.asarray(step.get_support(), dtype=bool)
        except Exception:
            return None
        if columns is None or support.shape != (len(columns),):
            return None
        return [column for column, kept in zip(columns, support, strict=True) if kept]
    if type(step).__name__ in _DERIVING and not (
        type(step).__name__ == "KBinsDiscretizer" and getattr(step, "encode", "") == "ordinal"
    ):
        # (a OneHotEncoder of a metadata column in a ColumnTransformer is given no concept)
        of_concepts = columns is None or any(c.concept is not None for c in columns)
        return _made_by(step, names.size, derived=True, of_concepts=of_concepts)
    one_to_one = getattr(step, "feature_names_out", None) == "one-to-one"  # (FunctionTransformer)
    if (
        one_to_one
        or isinstance(step, OneToOneFeatureMixin)
        or type(step).__name__ == "KBinsDiscretizer"
    ):
        return columns if columns is not None and len(columns) == names.size else None
    if isinstance(step, ClassNamePrefixFeaturesOutMixin):  # (PCA: pca0, pca1, ...)
        return _made_by(step, names.size)
    # Another step: the columns it keeps by name are those; others it made.
    names_in = getattr(step, "feature_names_in_", None)
    if columns is not None and names_in is not None and len(names_in) == len(columns):
        by_name = {str(name): column for name, column in zip(names_in, columns, strict=True)}
        return [by_name.get(str(name), _Column()) for name in names]
    return None


def _recorded_input_indices(ct: Any) -> dict[str, np.ndarray] | None:
    """scikit-learn's own record of a ColumnTransformer's input columns per transformer
    (private: read behind a guard; None where it is not there or not as expected)."""
    recorded = getattr(ct, "_transformer_to_input_indices", None)
    if not isinstance(recorded, dict):
        return None
    try:
        return {str(k): np.asarray(v, dtype=np.intp).ravel() for k, v in recorded.items()}
    except (TypeError, ValueError):
        return None


def _input_indices(ct: Any) -> dict[str, np.ndarray] | None:
    """The input columns of each transformer of a fitted ColumnTransformer."""
    n_in = getattr(ct, "n_features_in_", None)
    if n_in is None:
        return None
    recorded = _recorded_input_indices(ct)
    if recorded is not None:
        return recorded
    names_in = [str(n) for n in getattr(ct, "feature_names_in_", [])]
    positions = np.arange(n_in)
    where_named = {c: j for j, c in reversed(list(enumerate(names_in)))}  # (the first)
    indices: dict[str, np.ndarray] = {}
    for name, _, selection in ct.transformers_:
        if callable(selection):
            return None
        if isinstance(selection, str):
            selection = [selection]
        try:
            if isinstance(selection, slice) and isinstance(selection.start or selection.stop, str):
                return None
            if isinstance(selection, slice):
                indices[name] = positions[selection]
                continue
            chosen = list(np.atleast_1d(np.asarray(selection, dtype=object)))
            if chosen and all(isinstance(c, str) for c in chosen):
                indices[name] = np.asarray([where_named[c] for c in chosen], dtype=np.intp)
            elif chosen and all(isinstance(c, bool | np.bool_) for c in chosen):
                indices[name] = positions[np.asarray(chosen, dtype=bool)]
            else:
                indices[name] = positions[np.asarray(chosen, dtype=np.intp)]
        except (KeyError, ValueError, IndexError, TypeError):
            return None
    return indices


def _trace_column_transformer(ct: Any, columns: list[_Column] | None) -> list[_Column] | None:
    n_in = getattr(ct, "n_features_in_", None)
    if columns is None and n_in is not None:
        columns = [_Column()] * n_in
    indices = _input_indices(ct)
    slices = getattr(ct, "output_indices_", None)
    if columns is None or indices is None or slices is None or len(columns) != n_in:
        return None
    n_out = max((s.stop for s in slices.values()), default=0)
    out: list[_Column | None] = [None] * n_out
    for name, transformer, _ in ct.transformers_:
        where = slices.get(name)
        if where is None or where.stop == where.start:
            continue
        if name not in indices:
            return None
        selected = [columns[i] for i in indices[name]]
        block = _trace(transformer, selected)
        if block is None or len(block) != where.stop - where.start:
            return None
        out[where] = block
    if any(column is None for column in out):
        return None
    return cast("list[_Column]", out)


def _carried_feature_names(model: Any, what: str) -> tuple[np.ndarray | None, str, str]:
    """The input names the fitted model carries (None: none), where they come from, and
    why there are none."""
    why = (
        "the model carries no concept names: pass a Pipeline whose steps before the "
        "last have get_feature_names_out (such as a SpliceTransformer), a model fitted "
        f"on a DataFrame of concept weights, or {what}"
    )
    makers = _name_makers(model)
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        try:
            names = np.asarray(model[:-1].get_feature_names_out(), dtype=object)
        except Exception as exc:  # any step's get_feature_names_out may fail its own way
            why = (
                "the steps before the last do not give their output names "
                f"(get_feature_names_out failed: {exc}); pass {what}"
            )
        else:
            # Names a step makes up (x0, x1, ...; concepteditor0, ...; pca0, ...) name
            # no concepts.
            made_up = _made_up_names(names, makers, what)
            if made_up is None:
                return names, "the names the steps before the last give (get_feature_names_out)", ""
            why = made_up
    names_in = getattr(_final_step(model), "feature_names_in_", None)
    if names_in is None:
        return None, "", why
    names = np.asarray(names_in, dtype=object)
    made_up = _made_up_names(names, makers, what)
    if made_up is not None:
        return None, "", made_up
    return names, "the model's input names (feature_names_in_)", ""


class _Inputs(NamedTuple):
    """The classifier's input columns: the concept each one is (``labels``, None where
    it is none), their names, and why each column that is no concept is none."""

    labels: np.ndarray
    names: np.ndarray
    reasons: dict[int, str]


def _traced_columns(model: Any) -> tuple[np.ndarray | None, list[_Column] | None]:
    """The names of a Pipeline's columns before its last step, and what each holds
    (None where unknown)."""
    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return None, None
    names = None
    # (the names the steps give; where an early step gives none, an embedder say,
    # those the steps after it give)
    for start in range(len(model.steps) - 1):
        try:
            names = np.asarray(model[start:-1].get_feature_names_out(), dtype=object)
        except Exception:  # (any step's get_feature_names_out may fail its own way)
            continue
        break
    n_in = getattr(model, "n_features_in_", None)
    columns = [_Column()] * int(n_in) if isinstance(n_in, int | np.integer) else None
    for _, step in model.steps[:-1]:
        # (a step that cannot be traced, an embedder say, leaves its columns unknown:
        # a SpliceTransformer after it still makes concepts of them)
        columns = _trace(step, columns)
    return names, columns


def _given_names(concepts: Any, what: str) -> np.ndarray | None:
    """``concepts`` (called ``what``) as an array of names, or a message saying what
    was wrong with it and what is accepted."""
    accepted = (
        "accepted: a list, tuple, numpy array, pandas Index or Series of concept names "
        "(one per input column of the classifier, or one per concept column), or a "
        "fitted SpliceTransformer"
    )
    if concepts is None:
        return None
    if hasattr(concepts, "get_feature_names_out"):
        try:
            concepts = concepts.get_feature_names_out()
        except NotFittedError as exc:
            raise NotFittedError(
                f"{what} is a {type(concepts).__name__} that is not fitted; {accepted}"
            ) from exc
    if isinstance(concepts, str):
        raise TypeError(f"{what} is a single string ({concepts!r}); {accepted}")
    if isinstance(concepts, set | frozenset | dict):
        raise TypeError(
            f"{what} is {a_type(concepts)}, whose order is not that of the columns; {accepted}"
        )
    if not isinstance(concepts, Sequence | np.ndarray | pd.Index | pd.Series):
        raise TypeError(f"{what} is {a_type(concepts)}; {accepted}")
    names = np.asarray(list(concepts), dtype=object)
    if names.ndim != 1:
        raise ValueError(f"{what} has shape {names.shape}, not a list of names; {accepted}")
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"{what} entry {i} is {a_type(name)}, not a concept name; {accepted}")
    return names


def _why_not(column: _Column) -> str:
    if column.derived:
        source = "the concept weights" if column.of_concepts else "its input columns"
        return (
            f"{column.maker} derives them from {source}; the coefficient of such a column "
            "is no one concept's"
        )
    if column.maker is not None:
        return f"{column.maker} makes them"
    return "they come from the pipeline's input, not from a SpliceTransformer"


def _concept_inputs(
    traced: list[_Column], names: np.ndarray | None, given: np.ndarray | None, what: str
) -> _Inputs:
    """The inputs when the steps say which columns are concepts (a SpliceTransformer's)."""
    n_features = len(traced)
    if names is None:
        names = np.asarray([c.concept or f"column {j}" for j, c in enumerate(traced)], dtype=object)
    where = np.asarray([j for j, c in enumerate(traced) if c.concept is not None], dtype=np.intp)
    concepts = [str(traced[j].concept) for j in where]
    twice = {c for c, n in Counter(concepts).items() if n > 1}  # (two SpliceTransformer blocks)
    labels = np.full(n_features, None, dtype=object)
    labels[where] = [str(names[j]) if c in twice else c for j, c in zip(where, concepts)]
    if given is not None:
        carried = labels[where].astype(object)
        if given.shape == (n_features,):
            labels[where] = reconcile_names(given[where], carried, what, "the pipeline's concepts")
        elif given.shape == (where.size,):
            labels[where] = reconcile_names(given, carried, what, "the pipeline's concepts")
        elif not set(map(str, carried)) <= set(map(str, given)):
            raise ValueError(
                f"{what} has {given.size} names, but the classifier has {n_features} input "
                f"columns, {where.size} of them concepts: give one name per input column, "
                "or one per concept column (in their order), or the fitted "
                "SpliceTransformer whose concepts they are"
            )
    reasons = {j: _why_not(c) for j, c in enumerate(traced) if c.concept is None}
    return _Inputs(labels, names, reasons)


def _feature_names(model: Any, n_features: int, concepts: Any, what: str = "`concepts`") -> _Inputs:
    """What the final estimator's input columns are: ``concepts`` (called ``what``),
    checked against the names the model carries, or those names; columns that a
    step made (PCA's, splines) or that are no SpliceTransformer's output beside
    ones that are, are no concepts."""
    given = _given_names(concepts, what)
    names, traced = _traced_columns(model)
    if traced is not None and len(traced) != n_features:
        traced = None
    if names is not None and names.shape != (n_features,):
        names = None
    if traced is not None and any(c.concept is not None for c in traced):
        return _concept_inputs(traced, names, given, what)
    # No column traced to a SpliceTransformer: the names say which are concepts.
    carried, source, why = _carried_feature_names(model, what)
    if given is not None:
        if given.shape != (n_features,):
            raise ValueError(
                f"there are {given.shape[0]} concept names but the model has {n_features} "
                f"coefficients per class; give one name per input column in {what}, or the "
                "fitted SpliceTransformer whose weights the model was trained on"
            )
        labels = reconcile_names(given, carried, what, source)
    elif carried is not None:
        labels = carried
    else:
        raise ValueError(why)
    labels = np.array(labels, dtype=object)
    reasons: dict[int, str] = {}
    for j, column in enumerate(traced or []):
        # (PCA's columns named by the caller are taken; derived ones never are)
        if column.derived or (column.maker is not None and given is None):
            reasons[j] = _why_not(column)
            labels[j] = None
    if reasons and len(reasons) == n_features:
        raise ValueError(
            "none of the classifier's input columns is a concept: "
            + _left_out_text(np.asarray(names if names is not None else labels), reasons)
            + "; probe a classifier trained on concept weights (the SpliceTransformer's "
            "output, selected or scaled)"
        )
    return _Inputs(labels, names if names is not None else labels.copy(), reasons)


def _left_out_text(names: np.ndarray, reasons: dict[int, str], n: int = 5) -> str:
    """``'pca0', 'pca1' and 3 more (PCA makes them)``, a group per reason."""
    groups: dict[str, list[str]] = {}
    for j, reason in reasons.items():
        groups.setdefault(reason, []).append(repr(str(names[j])))
    parts = []
    for reason, shown in groups.items():
        parts.append(f"{listed(shown, n)} ({reason})")
    return "; ".join(parts)


def probe_concepts(model: Any, k: int | None = 10, *, concepts: Any = None) -> pd.DataFrame:
    """The concepts with the largest positive and negative coefficients of each class.

    Parameters
    ----------
    model : fitted Pipeline or linear classifier
        A Pipeline whose last step is a fitted linear classifier (anything with
        ``coef_`` and ``classes_``, such as ``LogisticRegression``) trained on
        concept weights, or such a classifier on its own.
    k : int or None, default=10
        Number of concepts listed per class and sign (fewer when fewer
        coefficients of that sign are non-zero); None lists every non-zero
        coefficient, as ``top_concepts(k=None)`` lists every concept.
    concepts : list of str, fitted SpliceTransformer or None, default=None
        Names of the classifier's input columns (one per column, or one per
        concept column of a Pipeline whose steps say which those are), or the
        fitted SpliceTransformer whose concepts they are. By default they come from
        ``get_feature_names_out`` of the Pipeline's steps before the last, or
        from the classifier's ``feature_names_in_``. Given names are checked
        against those: the same concepts in another order follow the model's
        order, other concept names are refused (names made up for unnamed
        columns, such as ``x0``, name nothing).

        Numbered names that a step makes up for its output columns
        (``concepteditor0, concepteditor1, ...`` of
        ``ConceptEditor(output="embedding")``, ``pca0, pca1, ...`` of PCA,
        ``x0, x1, ...``) are not concepts: a classifier whose inputs carry
        only such names is refused unless ``concepts`` is given. A set of
        names counts as made up only when all of them are one prefix numbered
        0, 1, ... in order and the prefix is ``x``, ``concepteditor`` or the
        lowercase class name of a step before the classifier; concept names
        that end in digits are concepts.

        The Pipeline's steps are traced from the SpliceTransformer to the
        classifier: feature selectors (``get_support``), scalers and other
        one-to-one steps, ``FrozenEstimator``, ``FeatureUnion`` and
        ``ColumnTransformer`` blocks keep the concept of each column (listed
        by the concept's name, without the block's ``name__`` prefix); columns
        that another block makes (``pca__pca0`` beside the concepts) are no
        concepts and are left out, and columns derived from the concept
        weights (``SplineTransformer``, ``PolynomialFeatures``,
        ``OneHotEncoder``, ``KBinsDiscretizer``) are never concepts.

    Returns
    -------
    pandas.DataFrame
        One row per listed concept, with columns ``class``, ``sign``
        (``"positive"`` or ``"negative"``), ``rank`` (from 1, by decreasing
        absolute coefficient), ``concept`` and ``coefficient``; classes in the
        order of ``classes_``, positive rows first.

    Raises
    ------
    ValueError
        If the model is not fitted, carries no concept names (or only numbered
        names a step made up, such as the embedding dimensions of
        ``ConceptEditor(output="embedding")``), or ``k`` is not a positive
        integer.
        A ``ValueError`` too if no input column of the classifier is a concept
        (only columns derived from the weights, by splines say).
    TypeError
        If the final estimator is not a linear classifier (or a
        ``OneVsRestClassifier`` of them), ``concepts`` is not a list of
        names (the message says what is accepted), or ``k`` is concept names or
        an estimator (given second, where ``concepts=`` takes them).

    Warns
    -----
    UserWarning
        If some input columns of the classifier are not concepts (another
        block of a ``FeatureUnion`` or ``ColumnTransformer``, such as PCA's
        components): the warning names them (the first five, and how many
        more) and what made them, and they are left out of the table.

    Notes
    -----
    A binary classifier has one row of coefficients, the evidence for
    ``classes_[1]``; the evidence for ``classes_[0]`` is its negation, listed
    under that class, so that every class has its own rows. A multiclass
    (one-vs-rest or multinomial) classifier has one row per class; a
    ``OneVsRestClassifier`` has the row of its estimator for each class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksplice import probe_concepts
    >>> W = np.array([[1.0, 0.0, 0.2], [0.9, 0.1, 0.0], [0.0, 1.0, 0.1], [0.1, 0.8, 0.3]])
    >>> probe = LogisticRegression().fit(W, ["cat", "cat", "dog", "dog"])
    >>> table = probe_concepts(probe, k=1, concepts=["whiskers", "bark", "grass"])
    >>> print(table[["class", "sign", "concept"]].to_string(index=False))
    class     sign  concept
      cat positive whiskers
      cat negative     bark
      dog positive     bark
      dog negative whiskers
    """
    # (concept names or a transformer given second, where the analysis functions take
    # them third, land in `k`)
    to_concepts = (
        "probe_concepts takes the concept names (or the transformer) as concepts= "
        "(probe_concepts(model, concepts=splice))"
    )
    refuse_estimator(k, "k", "a positive integer or None", to_concepts)
    if (isinstance(k, Sequence | pd.Index | pd.Series) and not isinstance(k, str)) or (
        isinstance(k, np.ndarray) and k.ndim >= 1
    ):
        raise TypeError(
            f"`k` must be a positive integer or None, got {plural(len(k), 'item')}: {to_concepts}"
        )
    check_int(k, "k", allow_none=True)
    estimator = _final_step(model)
    coef = _check_linear(estimator)
    inputs = _feature_names(model, coef.shape[1], concepts)
    if inputs.reasons:
        warn_user(
            "the classifier's input columns "
            + _left_out_text(inputs.names, inputs.reasons)
            + " are not concepts: they are left out of the table, as their coefficients "
            "are not concept weights"
        )
    names = inputs.labels
    classes = list(estimator.classes_)
    if coef.shape[0] == 1 and len(classes) == 2:
        per_class = [(classes[0], -coef[0]), (classes[1], coef[0])]
    else:
        per_class = list(zip(classes, coef, strict=True))
    concept = np.asarray([name is not None for name in names], dtype=bool)
    rows = []
    for label, row in per_class:
        for sign, values in (("positive", row), ("negative", -row)):
            candidates = np.flatnonzero((values > 0) & concept)
            order = candidates[np.lexsort((candidates, -values[candidates]))][:k]
            for rank, j in enumerate(order, start=1):
                rows.append((label, sign, rank, str(names[j]), float(row[j])))
    return pd.DataFrame(rows, columns=["class", "sign", "rank", "concept", "coefficient"])


def _refuse_concepts_left_out(model: Any, unknown: list[str]) -> None:
    """Refuse concepts of a Pipeline's transformer that a later step (``SelectKBest``)
    left out of the classifier's inputs: "not in the vocabulary" would be untrue."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return
    steps = model.steps[:-1]
    for k, (name, step) in enumerate(steps):
        vocabulary = getattr(step, "concepts_", None)
        if vocabulary is None:
            continue
        known = set(map(str, vocabulary))
        left_out = [c for c in unknown if c in known]
        later = [n for n, s in steps[k + 1 :] if s is not None and s != "passthrough"]
        if left_out and later:
            are, it = ("is a concept", "it") if len(left_out) == 1 else ("are concepts", "them")
            raise ValueError(
                f"{listed(left_out, 5, repr)} {are} of the pipeline's step {name!r} but not an "
                "input of its "
                f"classifier: a later step ({', '.join(repr(n) for n in later)}) left {it} "
                f"out, so the classifier gives {it} no weight already; leave {it} out of "
                "`concepts`"
            )


def _refuse_concepts_of_several_blocks(unknown: list[str], known: list[str]) -> None:
    """Refuse names of concepts that several SpliceTransformer blocks hold: their columns
    are listed under each block's name (``a__horse``, ``b__horse``), one to name."""
    held = {name: [k for k in known if k.endswith(f"__{name}")] for name in unknown}
    held = {name: blocks for name, blocks in held.items() if len(blocks) > 1}
    if not held:
        return
    shown = "; ".join(
        f"{name!r} is a concept of {len(blocks)} blocks: " + listed(blocks, 5, repr)
        for name, blocks in list(held.items())[:5]
    )
    raise ValueError(
        f"`concepts` names concepts that several SpliceTransformer blocks hold, whose "
        f"columns are named by their block ({shown}): name the column of each block to "
        "zero (probe_concepts(model) lists them)"
    )


def zero_concept_coefficients(model: Any, concepts: Any, *, feature_names: Any = None) -> Any:
    """A copy of a fitted linear model with the coefficients of named concepts set to zero.

    The intervention of the SpLiCE paper on probes: the model no longer uses
    the named concepts, and nothing else changes (the other coefficients and
    the intercepts stay as fitted). On the model's inputs this is the same as
    setting those concepts' weights to zero (as
    :class:`sksplice.editing.ConceptEditor` does) before the unedited model,
    where the steps between the concepts and the classifier keep a zero weight
    at zero (no step, ``MaxAbsScaler``, ``StandardScaler(with_mean=False)``).
    After a step that centres or shifts (``StandardScaler()``), a zeroed
    coefficient holds the concept at the weight the step maps to zero instead
    (``StandardScaler()``: its training mean);
    to remove it as a zero weight there, put the editor in front of the
    unedited model.

    Parameters
    ----------
    model : fitted Pipeline or linear classifier
        As in :func:`probe_concepts`. It is not modified.
    concepts : str, list of str or set of str
        The concepts whose coefficients are zeroed (for every class); also a
        tuple, numpy array, pandas Index or Series of names (e.g. the
        ``concept`` column of :func:`probe_concepts`' table).
    feature_names : list of str, fitted SpliceTransformer or None, default=None
        Names of the classifier's input columns; by default as in
        :func:`probe_concepts`.

    Returns
    -------
    edited : same type as ``model``
        A deep copy of ``model``, still fitted, whose final estimator has zero
        coefficients for ``concepts`` (in every estimator of a
        ``OneVsRestClassifier``). (``sklearn.base.clone`` would return an
        unfitted copy.)

    Raises
    ------
    ValueError
        If a name is not among the model's concepts (the message suggests close
        matches, or names the step of a Pipeline that left a concept of its
        transformer out of the classifier's inputs), names an input column of the
        classifier that is not a concept (a PCA block's ``pca__pca0`` beside the
        concepts; the message names them), no concept is named, the
        model is not fitted, or its inputs carry no concept names (as in
        :func:`probe_concepts`) and ``feature_names`` is not given.
    TypeError
        If ``concepts`` is not a list of names: an estimator given there (the
        transformer that names the inputs goes in ``feature_names``) says so.

    Warns
    -----
    UserWarning
        If every coefficient of one or more of the named concepts is zero
        already: the model does not use them (no training row held them, or
        the penalty dropped them), and zeroing them changes nothing. The
        warning names them; if it names them all, the copy predicts as the
        model does.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksplice import zero_concept_coefficients
    >>> W = np.array([[1.0, 0.0, 0.2], [0.9, 0.1, 0.0], [0.0, 1.0, 0.1], [0.1, 0.8, 0.3]])
    >>> probe = LogisticRegression().fit(W, ["cat", "cat", "dog", "dog"])
    >>> names = ["whiskers", "bark", "grass"]
    >>> edited = zero_concept_coefficients(probe, "bark", feature_names=names)
    >>> float(edited.coef_[0, 1]), bool(probe.coef_[0, 1] != 0)
    (0.0, True)
    """
    if isinstance(concepts, str):
        concepts = [concepts]
    if isinstance(concepts, set | frozenset):  # (the order of zeroing does not matter)
        concepts = sorted(concepts, key=str)
    refuse_estimator(
        concepts,
        "concepts",
        "the concepts to zero, a list of names",
        "the transformer (or the names) that names the classifier's inputs goes in "
        "feature_names= (zero_concept_coefficients(model, ['dog'], feature_names=splice))",
    )
    if not isinstance(concepts, Sequence | np.ndarray | pd.Index | pd.Series):
        raise TypeError(
            f"`concepts` must be a list of concept names; got {type(concepts).__name__}"
        )
    concepts = list(concepts)  # (a Series: its values, e.g. a column of a concept table)
    if not concepts:
        raise ValueError("`concepts` names no concept")
    for i, name in enumerate(concepts):
        if not isinstance(name, str):
            raise TypeError(f"`concepts` entry {i} is {a_type(name)}, not a concept name")
    coef = _check_linear(_final_step(model))
    inputs = _feature_names(model, coef.shape[1], feature_names, "`feature_names`")
    index = {str(name): j for j, name in enumerate(inputs.labels) if name is not None}
    for j, name in enumerate(inputs.labels):  # (a column's own name, splice__dog, too)
        if name is not None:
            index.setdefault(str(inputs.names[j]), j)
    others = {str(inputs.names[j]): j for j in inputs.reasons}
    not_concepts = {
        others[name]: inputs.reasons[others[name]] for name in concepts if name in others
    }
    if not_concepts:
        raise ValueError(
            "`concepts` names input columns of the classifier that are not concepts: "
            + _left_out_text(inputs.names, not_concepts)
            + "; their coefficients are not concept weights, so zeroing them removes no "
            "concept: name only concepts (probe_concepts(model) lists them)"
        )
    unknown = [name for name in concepts if name not in index]
    if unknown:
        _refuse_concepts_left_out(model, unknown)
        _refuse_concepts_of_several_blocks(unknown, list(index))
        raise unknown_concepts_error(unknown, list(index), "concepts")
    columns = [index[name] for name in concepts]
    unique = list(dict.fromkeys(concepts))
    idle = [name for name in unique if not np.any(coef[:, index[name]])]
    if idle:
        shown = listed(idle, 10, repr)
        them = "this concept" if len(idle) == 1 else "these concepts"
        if len(idle) == len(unique):
            effect = "so the copy predicts as the model does"
        else:
            it = "it" if len(idle) == 1 else "them"
            effect = f"so zeroing {it} changes nothing (the other named concepts are zeroed)"
        warn_user(
            f"every coefficient of {shown} is zero already: the model does not use {them} "
            f"(no training row held it, or the penalty dropped it), {effect}. "
            "probe_concepts(model) lists the concepts it uses"
        )
    edited = copy.deepcopy(model)
    estimator = _final_step(edited)
    binaries = _per_class(estimator)
    for inner in binaries if binaries is not None else [estimator]:
        if getattr(inner, "coef_", None) is not None:  # (not a constant predictor's)
            inner.coef_ = _zeroed(inner.coef_, columns)
    return edited
