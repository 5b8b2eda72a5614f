"""The sksplice version recorded in a pickled estimator, and the warning on a mismatch.

scikit-learn's ``BaseEstimator`` records its own version in the pickled state of
the estimators defined in ``sklearn`` only, so an sksplice estimator saved by one
release and loaded by another would load silently and fail later (an attribute
the other release does not set) or give other results. :class:`VersionStampMixin`
records the sksplice version under ``_sksplice_version`` and warns with
:class:`InconsistentVersionWarning` when a pickle was saved by another release, or
by one that did not record its version.
"""

from __future__ import annotations

from typing import Any

from ._stack import warn_user
from ._version import __version__

__all__ = ["STATE_KEY", "InconsistentVersionWarning", "VersionStampMixin"]

#: The key of the sksplice version in an estimator's pickled state.
STATE_KEY = "_sksplice_version"


class InconsistentVersionWarning(UserWarning):
    """An estimator was loaded from a pickle saved by another sksplice release.

    Fitted attributes change between releases (added, renamed, computed
    differently), so such an estimator may fail or give other results than the
    release that saved it. Refit it with the installed release, or load it with
    the release that saved it.

    Parameters
    ----------
    estimator_name : str
        The class name of the loaded estimator.
    original_version : str or None
        The sksplice version that saved the estimator; None for a pickle that
        does not record it (saved by a release before the version was recorded).
    current_version : str
        The installed sksplice version.

    Notes
    -----
    This is not :class:`sklearn.exceptions.InconsistentVersionWarning`, which
    scikit-learn emits when the scikit-learn version differs: its attributes
    are named ``original_sklearn_version`` and ``current_sklearn_version`` and
    its message refers to scikit-learn. Filter both to handle either.
    """

    def __init__(
        self, estimator_name: str, original_version: str | None, current_version: str
    ) -> None:
        # (the arguments are kept in ``args``, so that the warning pickles, e.g. from
        # a Dask worker)
        super().__init__(estimator_name, original_version, current_version)
        self.estimator_name = estimator_name
        self.original_version = original_version
        self.current_version = current_version

    def __str__(self) -> str:
        if self.original_version is None:
            saved = "an unknown version of sksplice (one that did not record its version)"
            use = "the sksplice release that saved it"
        else:
            saved = f"sksplice {self.original_version}"
            use = f"sksplice {self.original_version}, the release that saved it"
        return (
            f"{self.estimator_name} was pickled by {saved} and is loaded by sksplice "
            f"{self.current_version}: its fitted state may not match this release, and "
            f"using it may fail or give wrong results. Refit it with sksplice "
            f"{self.current_version}, or load it with {use}."
        )


class VersionStampMixin:
    """Record the sksplice version in the pickled state; warn when it differs on load.

    Put it before :class:`sklearn.base.BaseEstimator` among the bases. It calls
    the next ``__getstate__``/``__setstate__`` of the MRO (scikit-learn's, or a
    class's own), so what those keep or drop stays as it is; the version is
    added to the state they return and taken out of the state before theirs
    runs.
    """

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # type: ignore[misc]
        return {**state, STATE_KEY: __version__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)  # (the caller's dict is left as it was)
        saved = state.pop(STATE_KEY, None)
        if saved != __version__:
            warn_user(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    original_version=saved,
                    current_version=__version__,
                )
            )
        super().__setstate__(state)  # type: ignore[misc]
