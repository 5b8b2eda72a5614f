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

from ._protocols import TextEmbedder
from ._stack import warn_user

_SIMPLE = (str, bytes, numbers.Number, np.generic, type(None), os.PathLike)

#: The attribute holding the parameters a fit read.
ATTRIBUTE = "_params_at_fit"
#: What a pickled state holds for a parameter whose value at fit is the parameter's
#: value now (the same object: pickled once; joblib writes each array it meets).
_SAME = ("sksplice: the parameter's value",)


#: The attribute holding the settings (``get_params(deep=True)``) of the parameters
#: that are unfitted estimators (an embedder) as the fit read them: the object is
#: the same after ``set_params(embedder__model=...)``, its settings are not.
SETTINGS_ATTRIBUTE = "_param_settings_at_fit"


def record_params(estimator: Any, names: Iterable[str]) -> None:
    """Record the values of the parameters ``names`` of ``estimator`` as its fit read
    them (in :data:`ATTRIBUTE`), and the settings of those that are unfitted
    estimators (in :data:`SETTINGS_ATTRIBUTE`)."""
    values = {name: getattr(estimator, name) for name in names}
    setattr(estimator, ATTRIBUTE, values)
    settings = {name: _settings(value) for name, value in values.items()}
    setattr(
        estimator,
        SETTINGS_ATTRIBUTE,
        {name: held for name, held in settings.items() if held is not None},
    )


#: Settings of an embedder that say how it runs, not what it computes: changing them
#: after fit is no news (matched on the last part of a nested name).
_HOW_IT_RUNS = frozenset(
    ("batch_size", "verbose", "device", "num_workers", "n_jobs", "cache_dir", "on_error")
)


def _settings(value: Any) -> dict[str, Any] | None:
    """``value.get_params(deep=True)`` for an embedder (with ``embed_text``: two with
    the same settings embed alike, fitted or not) or an estimator that holds no fitted
    state, less the settings of :data:`_HOW_IT_RUNS`; None for anything else (a
    fitted transformer is more than its settings)."""
    get = getattr(value, "get_params", None)
    if not callable(get) or isinstance(value, type):
        return None
    if not isinstance(value, TextEmbedder):
        is_fitted = getattr(value, "__sklearn_is_fitted__", None)
        if callable(is_fitted):
            if is_fitted():
                return None
        elif any(k.endswith("_") and not k.startswith("__") for k in _attributes(value)):
            return None
    try:
        params = get(deep=True)
    except Exception:  # (an object whose get_params fails: compared as an object)
        return None
    return {k: v for k, v in params.items() if k.rsplit("__", 1)[-1] not in _HOW_IT_RUNS}


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
    state = {**state, ATTRIBUTE: packed}
    settings = state.get(SETTINGS_ATTRIBUTE)
    if isinstance(settings, dict):  # (an embedder's array settings, likewise)
        state[SETTINGS_ATTRIBUTE] = {
            name: {
                key: _SAME if key in now and now[key] is value else value
                for key, value in held.items()
            }
            for name, held in settings.items()
            for now in [_params_now(state.get(name))]
        }
    return state


def _attributes(value: Any) -> Any:
    """The names of ``value``'s instance attributes (none for an object of ``__slots__``)."""
    return getattr(value, "__dict__", {})


def _params_now(value: Any) -> dict[str, Any]:
    """``value.get_params(deep=True)``, or nothing where it has none (or it fails)."""
    try:
        return dict(value.get_params(deep=True))
    except Exception:
        return {}


def unpack_state(estimator: Any) -> None:
    """The parameters at fit of a loaded ``estimator`` that :func:`pack_state` wrote
    as the parameters' objects, made those objects again."""
    at_fit = estimator.__dict__.get(ATTRIBUTE)
    if isinstance(at_fit, dict):
        for name, value in at_fit.items():
            if isinstance(value, tuple) and value == _SAME:
                at_fit[name] = getattr(estimator, name)
    settings = estimator.__dict__.get(SETTINGS_ATTRIBUTE)
    if isinstance(settings, dict):
        for name, held in settings.items():
            now = _params_now(getattr(estimator, name, None))
            for key, value in held.items():
                if isinstance(value, tuple) and value == _SAME:
                    held[key] = now.get(key)


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
    where = ""
    if isinstance(now, list | tuple) and shown(now) == shown(then):
        # (two long lists of one length show alike: say where they differ)
        first = next((i for i, (a, b) in enumerate(zip(now, then)) if not _same(a, b)), None)
        if first is not None:
            where = f"; entry {first} is {shown(now[first])}, was {shown(then[first])}"
    return f"{name}={shown(now)} (fitted with {shown(then)}{where})"


def _changes(estimator: Any, at_fit: dict[str, Any]) -> dict[str, list[str]]:
    """The parameters of ``at_fit`` whose value has changed since, each with what the
    message says of it (one part per setting changed).

    An estimator recorded with its settings (:func:`_settings`) has changed when its
    settings have (``embedder__model``, set on the very object the fit read), and
    not when it was replaced by another of its class with the same settings.
    """
    settings = getattr(estimator, SETTINGS_ATTRIBUTE, None) or {}
    found: dict[str, list[str]] = {}
    for name, then in at_fit.items():
        now = getattr(estimator, name)
        before = settings.get(name)
        if before is not None and type(now) is type(then):
            after = _settings(now)
            if after is not None:
                nested = [
                    f"{name}__{key}={shown(after.get(key))} (fitted with {shown(value)})"
                    for key, value in before.items()
                    if key not in after or not _same(after[key], value)
                ]
                nested += [
                    f"{name}__{key}={shown(value)} (fitted without it)"
                    for key, value in after.items()
                    if key not in before
                ]
                if nested:
                    found[name] = nested
                continue
        if not _same(now, then):
            found[name] = [_change(name, now, then)]
    return found


def warn_set_after_fit(
    estimator: Any, uses: dict[str, str], default: str, at_fit: dict[str, Any] | None = None
) -> None:
    """Warn about the parameters recorded at ``fit`` (or those of ``at_fit``) set since,
    saying what is used instead.

    ``uses`` maps a parameter name to what the estimator uses in its place (e.g.
    ``"the fitted concepts (concepts_)"``), ``default`` for names not in it.
    """
    at_fit = params_at_fit(estimator) if at_fit is None else at_fit
    changes = _changes(estimator, at_fit) if at_fit else {}
    if not changes:
        return
    changed = list(changes)
    parts = [part for said in changes.values() for part in said]
    used = list(dict.fromkeys(uses.get(name, default) for name in changed))
    verb = "was" if len(parts) == 1 else "were"
    warn_user(
        f"{type(estimator).__name__}: {', '.join(parts)} {verb} set after fit; it "
        f"still uses {' and '.join(used)} until fit is called again"
    )
