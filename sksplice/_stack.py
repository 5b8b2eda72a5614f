"""Warnings that point at the user's code, not at the library's."""

from __future__ import annotations

import inspect
import os

__all__ = ["user_stacklevel"]


def _library_folders() -> tuple[str, ...]:
    import joblib
    import sklearn

    import sksplice

    return tuple(
        os.path.dirname(module.__file__) + os.sep for module in (sksplice, sklearn, joblib)
    )


def user_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn`` that names the first caller outside the library.

    Call it as ``warnings.warn(..., stacklevel=user_stacklevel())``: the frames
    of sksplice and of the scikit-learn and joblib code that calls it
    (``fit_transform``, ``Pipeline``, ``set_output``'s wrappers, a search's
    folds) are skipped, so the warning names the user's line, the way pandas
    words its ``find_stack_level``. Where no frame is outside the library (a
    worker process), the outermost frame is named.
    """
    skip = _library_folders()
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None and frame.f_back is not None:
            if not frame.f_code.co_filename.startswith(skip):
                break
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return level
