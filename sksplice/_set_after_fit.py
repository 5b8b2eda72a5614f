"""Parameters set after ``fit``: a fitted estimator keeps using what it fitted.

scikit-learn's estimators read their parameters in ``fit`` and use the fitted
attributes afterwards; a parameter changed with ``set_params`` on a fitted
estimator changes nothing until ``fit`` runs again. That is easily missed
(``set_params(vocabulary="mscoco")`` and the columns stay LAION's), so the
estimators of sksplice record the parameters their fit read and say, when they
are used, which of them have changed since.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._stack import warn_user

_SIMPLE = (str, bytes, numbers.Number, np.generic, type(None), os.PathLike)

#: The attribute holding the parameters a fit read.
ATTRIBUTE = "_params_at_fit"
#: What a pickled state holds for a parameter whose value at fit is the parameter's
#: value now (the same object: pickled once; joblib writes each array it meets).
_SAME = ("sksplice: the parameter's value",)


def record_params(estimator: Any, names: Iterable[str]) -> None:
    """Record the values of the parameters ``names`` of ``estimator`` as its fit read
    them (in :data:`ATTRIBUTE`)."""
    setattr(estimator, ATTRIBUTE, {name: getattr(estimator, name) for name in names})


def params_at_fit(estimator: Any) -> dict[str, Any] | None:
    """The parameters :func:`record_params` recorded (None: fitted by a release that
    did not record them)."""
    return getattr(estimator, ATTRIBUTE, None)


def pack_state(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` (an estimator's pickled ``__dict__``) whose parameters at fit that are
    the parameters' objects now are written once (``joblib.dump`` wrote an array
    parameter twice: a 115 MB concept_embeddings array of 37,445 x 768 values)."""
    at_fit = state.get(ATTRIBUTE)
    if not isinstance(at_fit, dict):
        return state
    packed = {
        name: _SAME if name in state and state[name] is value else value
        for name, value in at_fit.items()
    }
    return {**state, ATTRIBUTE: packed}


def unpack_state(estimator: Any) -> None:
    """The parameters at fit of a loaded ``estimator`` that :func:`pack_state` wrote
    as the parameters' objects, made those objects again."""
    at_fit = estimator.__dict__.get(ATTRIBUTE)
    if isinstance(at_fit, dict):
        for name, value in at_fit.items():
            if isinstance(value, tuple) and value == _SAME:
                at_fit[name] = getattr(estimator, name)


def _same(now: Any, then: Any) -> bool:
    if now is then:
        return True
    if isinstance(now, np.ndarray) or isinstance(then, np.ndarray):
        return (
            isinstance(now, np.ndarray)
            and isinstance(then, np.ndarray)
            and now.shape == then.shape
            and bool(np.array_equal(now, then))
        )
    if isinstance(now, list | tuple) and isinstance(then, list | tuple):
        return (
            type(now) is type(then)
            and len(now) == len(then)
            and all(_same(a, b) for a, b in zip(now, then, strict=True))
        )
    if isinstance(now, _SIMPLE) and isinstance(then, _SIMPLE):
        if isinstance(now, bool | np.bool_) != isinstance(then, bool | np.bool_):
            return False  # (True is not 1: another kind of setting)
        try:  # (0.25 and np.float64(0.25), "laion" and np.str_("laion") are the same)
            return bool(now == then)
        except (TypeError, ValueError):
            return False
    return False  # (another object: an embedder, a frozen transformer)


def shown(value: Any) -> str:
    """A short description of a parameter value for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, _SIMPLE):
        text = repr(os.fspath(value) if isinstance(value, os.PathLike) else value)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, list | tuple) and len(repr(value)) > 60:
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, list | tuple):
        return repr(value)
    return f"a {type(value).__name__}"


def _change(name: str, now: Any, then: Any) -> str:
    """``name=<now> (fitted with <then>)``; for two objects of a kind, ``name=another
    <kind> than the one fitted with``."""
    objects = not isinstance(now, (*_SIMPLE, np.ndarray, list, tuple))
    if objects and type(now) is type(then):
        return f"{name}=another {type(now).__name__} than the one fitted with"
    return f"{name}={shown(now)} (fitted with {shown(then)})"


def changed_since_fit(estimator: Any, at_fit: dict[str, Any] | None) -> list[str]:
    """The names of the parameters of ``at_fit`` whose value has changed since."""
    if not at_fit:
        return []
    return [name for name, then in at_fit.items() if not _same(getattr(estimator, name), then)]


def warn_set_after_fit(
    estimator: Any, uses: dict[str, str], default: str, at_fit: dict[str, Any] | None = None
) -> None:
    """Warn about the parameters recorded at ``fit`` (or those of ``at_fit``) set since,
    saying what is used instead.

    ``uses`` maps a parameter name to what the estimator uses in its place (e.g.
    ``"the fitted concepts (concepts_)"``), ``default`` for names not in it.
    """
    at_fit = params_at_fit(estimator) if at_fit is None else at_fit
    changed = changed_since_fit(estimator, at_fit)
    if not changed:
        return
    assert at_fit is not None
    parts = [_change(name, getattr(estimator, name), at_fit[name]) for name in changed]
    used = list(dict.fromkeys(uses.get(name, default) for name in changed))
    verb = "was" if len(changed) == 1 else "were"
    warn_user(
        f"{type(estimator).__name__}: {', '.join(parts)} {verb} set after fit; it "
        f"still uses {' and '.join(used)} until fit is called again"
    )
