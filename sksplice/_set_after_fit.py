"""Parameters set after ``fit``: a fitted estimator keeps using what it fitted.

scikit-learn's estimators read their parameters in ``fit`` and use the fitted
attributes afterwards; a parameter changed with ``set_params`` on a fitted
estimator changes nothing until ``fit`` runs again. That is easily missed
(``set_params(vocabulary="mscoco")`` and the columns stay LAION's), so the
estimators of sksplice record the parameters their fit read and say, when they
are used, which of them have changed since.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._stack import warn_user

_SIMPLE = (str, bytes, int, float, bool, type(None), os.PathLike)


def params_at_fit(estimator: Any, names: Iterable[str]) -> dict[str, Any]:
    """The values of the parameters ``names`` of ``estimator``, as its fit read them."""
    return {name: getattr(estimator, name) for name in names}


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
        try:
            return bool(now == then) and type(now) is type(then)
        except (TypeError, ValueError):
            return False
    return False  # (another object: an embedder, a frozen transformer)


def shown(value: Any) -> str:
    """A short description of a parameter value for a message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, _SIMPLE):
        text = repr(os.fspath(value) if isinstance(value, os.PathLike) else value)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, list | tuple) and len(repr(value)) > 60:
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, list | tuple):
        return repr(value)
    return f"another {type(value).__name__}"


def changed_since_fit(estimator: Any, at_fit: dict[str, Any] | None) -> list[str]:
    """The names of the parameters of ``at_fit`` whose value has changed since."""
    if not at_fit:
        return []
    return [name for name, then in at_fit.items() if not _same(getattr(estimator, name), then)]


def warn_set_after_fit(
    estimator: Any, at_fit: dict[str, Any] | None, uses: dict[str, str], default: str
) -> None:
    """Warn about the parameters of ``at_fit`` set since ``fit``, saying what is used instead.

    ``uses`` maps a parameter name to what the estimator uses in its place (e.g.
    ``"the fitted concepts (concepts_)"``), ``default`` for names not in it.
    """
    changed = changed_since_fit(estimator, at_fit)
    if not changed:
        return
    assert at_fit is not None
    parts = [
        f"{name}={shown(getattr(estimator, name))} (fitted with {shown(at_fit[name])})"
        for name in changed
    ]
    used = list(dict.fromkeys(uses.get(name, default) for name in changed))
    verb = "was" if len(changed) == 1 else "were"
    warn_user(
        f"{type(estimator).__name__}: {', '.join(parts)} {verb} set after fit; it "
        f"still uses {' and '.join(used)} until fit is called again"
    )
