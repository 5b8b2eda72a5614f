"""Warnings that point at the user's code, not at the library's."""

from __future__ import annotations

import inspect
import os
import sys

__all__ = ["user_stacklevel"]


def _library_folders() -> tuple[str, ...]:
    import concurrent.futures
    import multiprocessing
    import threading

    import joblib
    import sklearn

    import sksplice

    modules = [sksplice, sklearn, joblib, multiprocessing, concurrent.futures]
    # (a task of a Dask graph: its scheduler's frames, when it runs in the user's process)
    modules += [sys.modules[name] for name in ("dask", "distributed") if name in sys.modules]
    folders = [os.path.dirname(module.__file__) + os.sep for module in modules]
    return (*folders, threading.__file__)


def user_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn`` that names the first caller outside the library.

    Call it as ``warnings.warn(..., stacklevel=user_stacklevel())``: the frames
    of sksplice and of the scikit-learn, joblib and Dask code that calls it
    (``fit_transform``, ``Pipeline``, ``set_output``'s wrappers, a search's
    folds, a Dask scheduler running a task) are skipped, so the warning names
    the user's line, the way pandas words its ``find_stack_level``; the thread
    and process machinery of the standard library counts as the library too.
    Where no frame is outside the library (a task in a worker thread or
    process), the line that warns is named.
    """
    skip = _library_folders()
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            if not frame.f_code.co_filename.startswith(skip):
                return level
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return 1  # no caller outside the library (a worker): the line that warns
