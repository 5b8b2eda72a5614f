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
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._names import a_type, numbered_prefix, reconcile_names
from ._stack import warn_user
from ._validation import check_int
from .retrieval import unknown_concepts_error

__all__ = ["probe_concepts", "zero_concept_coefficients"]


def _final_step(model: Any) -> Any:
    """The last estimator of a Pipeline (or the model itself)."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _check_linear(estimator: Any) -> np.ndarray:
    """The 2-D coefficient array of a fitted linear classifier."""
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ValueError(f"the {type(estimator).__name__} is not fitted; fit it first") from exc
    except TypeError as exc:
        raise TypeError(
            f"expected a fitted linear classifier or a Pipeline ending in one; got "
            f"{type(estimator).__name__}"
        ) from exc
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
            "classifier (LogisticRegression, LinearSVC, RidgeClassifier, SGDClassifier ...) "
            f"or a Pipeline ending in one{best}"
        )
    coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef, dtype=np.float64)
    return coef.reshape(1, -1) if coef.ndim == 1 else coef


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


def _feature_names(
    model: Any, n_features: int, concepts: Any, what: str = "`concepts`"
) -> np.ndarray:
    """Names of the final estimator's input columns: ``concepts`` (called ``what``),
    checked against the names the model carries, or those names."""
    carried, source, why = _carried_feature_names(model, what)
    if concepts is not None:
        if hasattr(concepts, "get_feature_names_out"):
            concepts = concepts.get_feature_names_out()
        if isinstance(concepts, str):
            raise TypeError(f"{what} must be a sequence of concept names, not a single string")
        names = np.asarray(list(concepts), dtype=object)
    elif carried is not None:
        names = carried
    else:
        raise ValueError(why)
    if names.shape != (n_features,):
        raise ValueError(
            f"there are {names.shape[0]} concept names but the model has {n_features} "
            "coefficients per class; give one name per input column"
        )
    return reconcile_names(names, carried, what, source)


def probe_concepts(model: Any, k: int = 10, *, concepts: Any = None) -> pd.DataFrame:
    """The concepts with the largest positive and negative coefficients of each class.

    Parameters
    ----------
    model : fitted Pipeline or linear classifier
        A Pipeline whose last step is a fitted linear classifier (anything with
        ``coef_`` and ``classes_``, such as ``LogisticRegression``) trained on
        concept weights, or such a classifier on its own.
    k : int, default=10
        Number of concepts listed per class and sign (fewer when fewer
        coefficients of that sign are non-zero).
    concepts : list of str or fitted SpliceTransformer, default=None
        Names of the classifier's input columns. By default they come from
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
    TypeError
        If the final estimator is not a linear classifier.

    Notes
    -----
    A binary classifier has one row of coefficients, the evidence for
    ``classes_[1]``; the evidence for ``classes_[0]`` is its negation, listed
    under that class, so that every class has its own rows. A multiclass
    (one-vs-rest or multinomial) classifier has one row per class.

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
    check_int(k, "k")
    estimator = _final_step(model)
    coef = _check_linear(estimator)
    names = _feature_names(model, coef.shape[1], concepts)
    classes = list(estimator.classes_)
    if coef.shape[0] == 1 and len(classes) == 2:
        per_class = [(classes[0], -coef[0]), (classes[1], coef[0])]
    else:
        per_class = list(zip(classes, coef, strict=True))
    rows = []
    for label, row in per_class:
        for sign, values in (("positive", row), ("negative", -row)):
            candidates = np.flatnonzero(values > 0)
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
            shown = ", ".join(repr(c) for c in left_out[:5])
            more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
            are, it = ("is a concept", "it") if len(left_out) == 1 else ("are concepts", "them")
            raise ValueError(
                f"{shown}{more} {are} of the pipeline's step {name!r} but not an input of its "
                f"classifier: a later step ({', '.join(repr(n) for n in later)}) left {it} "
                f"out, so the classifier gives {it} no weight already; leave {it} out of "
                "`concepts`"
            )


def zero_concept_coefficients(model: Any, concepts: Any, *, feature_names: Any = None) -> Any:
    """A copy of a fitted linear model with the coefficients of named concepts set to zero.

    The intervention of the SpLiCE paper on probes: the model no longer uses
    the named concepts, and nothing else changes (the other coefficients and
    the intercepts stay as fitted). On the model's inputs this is the same as
    setting those concepts' weights to zero (as
    :class:`sksplice.editing.ConceptEditor` does) before the unedited model.

    Parameters
    ----------
    model : fitted Pipeline or linear classifier
        As in :func:`probe_concepts`. It is not modified.
    concepts : str, list of str or set of str
        The concepts whose coefficients are zeroed (for every class); also a
        tuple, numpy array, pandas Index or Series of names (e.g. the
        ``concept`` column of :func:`probe_concepts`' table).
    feature_names : list of str or fitted SpliceTransformer, default=None
        Names of the classifier's input columns; by default as in
        :func:`probe_concepts`.

    Returns
    -------
    edited : same type as ``model``
        A deep copy of ``model``, still fitted, whose final estimator has zero
        coefficients for ``concepts``. (``sklearn.base.clone`` would return an
        unfitted copy.)

    Raises
    ------
    ValueError
        If a name is not among the model's concepts (the message suggests close
        matches, or names the step of a Pipeline that left a concept of its
        transformer out of the classifier's inputs), no concept is named, the
        model is not fitted, or its inputs carry no concept names (as in
        :func:`probe_concepts`) and ``feature_names`` is not given.

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
    names = _feature_names(model, coef.shape[1], feature_names, "`feature_names`")
    index = {str(name): j for j, name in enumerate(names)}
    unknown = [name for name in concepts if name not in index]
    if unknown:
        _refuse_concepts_left_out(model, unknown)
        raise unknown_concepts_error(unknown, list(index), "concepts")
    columns = [index[name] for name in concepts]
    unique = list(dict.fromkeys(concepts))
    idle = [name for name in unique if not np.any(coef[:, index[name]])]
    if idle:
        shown = ", ".join(repr(name) for name in idle[:10])
        shown += f" and {len(idle) - 10} more" if len(idle) > 10 else ""
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
    coef_ = estimator.coef_
    if sp.issparse(coef_):  # a sparsified model keeps sparse coefficients
        mask = np.isin(coef_.tocoo().col, columns)
        new = coef_.tocoo()
        new.data[mask] = 0.0
        new = sp.csr_matrix(new)
        new.eliminate_zeros()
    else:
        new = np.array(coef_, copy=True)
        new[..., columns] = 0.0
    estimator.coef_ = new
    return edited
