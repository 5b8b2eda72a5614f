"""The sksplice version recorded in a pickled estimator, and the warning on a mismatch.

scikit-learn's ``BaseEstimator`` records its own version in the pickled state of
the estimators defined in ``sklearn`` only, so an sksplice estimator saved by one
release and loaded by another would load silently and fail later (an attribute
the other release does not set) or give other results. :class:`VersionStampMixin`
records the sksplice version under ``_sksplice_version`` and warns with
:class:`InconsistentVersionWarning` when a pickle was saved by another release, or
by one that did not record its version.

The state also holds what identifies the files that an estimator's
parameters name (:data:`FILES_KEY`, dropped on load: their content digests, or for
model checkpoints their size, times and inode): ``joblib.Memory`` (the
cache of ``Pipeline(memory=...)``) hashes the pickled state of the unfitted
estimator, and a file edited since would otherwise hash the same and give back
the estimator fitted on its old content.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from ._stack import warn_user
from ._version import __version__
from .exceptions import InconsistentVersionWarning

__all__ = ["FILES_KEY", "STATE_KEY", "InconsistentVersionWarning", "VersionStampMixin"]

#: The key of the sksplice version in an estimator's pickled state.
STATE_KEY = "_sksplice_version"

#: The key of what identifies the files named by an estimator's parameters.
FILES_KEY = "_sksplice_input_files"

#: Files of at least this size are identified by their metadata, not their content.
_LARGE_BYTES = 16 << 20


class VersionStampMixin:
    """Record the sksplice version in the pickled state; warn when it differs on load.

    Put it before :class:`sklearn.base.BaseEstimator` among the bases. It calls
    the next ``__getstate__``/``__setstate__`` of the MRO (scikit-learn's, or a
    class's own), so what those keep or drop stays as it is; the version is
    added to the state they return and taken out of the state before theirs
    runs.

    A class that reads files named by its parameters lists those parameters in
    ``_input_files``: the state then also holds what identifies each such file
    (see :func:`file_fingerprint`), so that the hash ``joblib.Memory`` takes of
    the estimator changes when a file's content does. The digests are dropped on
    load.
    """

    #: Parameters that may name a file read by ``fit`` (a str or path-like value).
    _input_files: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        inherited = super().__getstate__()  # type: ignore[misc]
        # (the estimators' base class, scikit-learn's BaseEstimator, returns a dict)
        from ._set_after_fit import pack_state

        state = {**pack_state(cast("dict[str, Any]", inherited)), STATE_KEY: __version__}
        digests = input_file_digests(self, self._input_files)
        if digests:
            state[FILES_KEY] = digests
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)  # (the caller's dict is left as it was)
        state.pop(FILES_KEY, None)
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
        from ._set_after_fit import unpack_state

        unpack_state(self)


def input_file_digests(estimator: Any, names: tuple[str, ...]) -> dict[str, str]:
    """What identifies the file each of the parameters ``names`` of ``estimator`` names.

    Only parameters whose value is a str or path-like naming an existing file
    are listed (a vocabulary name such as ``"laion"``, an array or a list names
    none); a file that cannot be read is left out (``fit`` says why). See
    :func:`file_fingerprint`.
    """
    digests = {}
    for name in names:
        value = getattr(estimator, name, None)
        if not isinstance(value, str | os.PathLike):
            continue
        try:
            path = Path(os.fspath(value)).expanduser()
            if path.is_file():
                digests[name] = file_fingerprint(path)
        except (OSError, TypeError, ValueError):  # (bytes paths, unreadable files)
            continue
    return digests


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """A text that changes whenever the file at ``path`` is written or replaced.

    Files under ``_LARGE_BYTES`` (vocabularies, centres) are identified by their
    SHA-256, read each time. Larger ones (model checkpoints, which an estimator
    is pickled or hashed with in every process that ships or caches it: a few
    seconds per gigabyte) by their size, modification and change times and
    inode: writing the file changes the times, replacing it (a copy renamed into
    place, ``cp -p``, ``rsync -a``) changes the inode or the change time, which no
    tool sets back. A file touched without a change (``chmod``), or the same file
    on another machine, reads as another one, so a cache computes again there.
    """
    info = os.stat(path)
    if info.st_size < _LARGE_BYTES:
        from ._data import file_sha256

        return file_sha256(path)
    from ._models import _file_version

    size, mtime, ctime, inode = _file_version(info)
    return f"size {size}, mtime {mtime}, ctime {ctime}, inode {inode}"
