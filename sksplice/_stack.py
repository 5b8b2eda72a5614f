"""Warnings that point at the user's code, not at the library's."""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "in_estimator_display",
    "shown_afresh",
    "user_line",
    "user_stacklevel",
    "warn_at",
    "warn_user",
]


def _library_folders() -> tuple[str, ...]:
    import concurrent.futures
    import multiprocessing
    import pickle
    import threading

    import joblib
    import sklearn

    import sksplice

    modules = [sksplice, sklearn, joblib, multiprocessing, concurrent.futures]
    # (a task of a Dask graph: its scheduler's frames, when it runs in the user's process)
    modules += [sys.modules[name] for name in ("dask", "distributed") if name in sys.modules]
    folders = [os.path.dirname(module.__file__) + os.sep for module in modules]
    # (and pickle's Python unpickler, which joblib.load runs: a warning of __setstate__)
    return (*folders, threading.__file__, pickle.__file__)


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
    found = _first_user_frame(inspect.currentframe())
    return 1 if found is None else found[0]  # (in a worker: the line that warns)


def user_line() -> tuple[str, int, dict[str, Any]] | None:
    """Where the first caller outside the library is (file name, line, module globals),
    for a warning issued later, from elsewhere (:func:`warn_at`); None where every
    frame is the library's."""
    found = _first_user_frame(inspect.currentframe())
    if found is None:
        return None
    frame = found[1]
    try:
        return frame.f_code.co_filename, frame.f_lineno, frame.f_globals
    finally:
        del frame, found


def warn_at(
    line: tuple[str, int, dict[str, Any]] | None, message: str, category: type[Warning]
) -> None:
    """Warn as if from ``line`` (:func:`user_line`, taken when the user's call ran): a
    warning issued from a callback (a figure's draw) names the user's line that led
    to it, under the filters and registry of that line's module, as Python would."""
    if line is None:
        warnings.warn(message, category, stacklevel=2)
        return
    filename, lineno, module_globals = line
    registry = module_globals.setdefault("__warningregistry__", {})
    module = module_globals.get("__name__", "<string>")
    try:
        warnings.warn_explicit(
            message, category, filename, lineno, module, registry, module_globals
        )
    except ImportError:
        # (a __main__ whose loader has no source to give, which warn_explicit asks for
        # before it warns: code run by `python -c`, read from a pipe or typed at the
        # interactive prompt; the warning is then said without its source line, as
        # warnings.warn says it there)
        warnings.warn_explicit(message, category, filename, lineno, module, registry)


def _first_user_frame(frame: Any) -> tuple[int, Any] | None:
    """The first frame outside the library from ``frame`` back, and the steps to it;
    None if every frame is the library's."""
    # (and the frozen modules of the standard library: runpy starts a worker process)
    skip = (*_library_folders(), "<frozen ")
    level = 0
    while frame is not None:
        if not frame.f_code.co_filename.startswith(skip):
            return level, frame
        frame = frame.f_back
        level += 1
    return None


#: Warnings already shown, by what Python's registry would key them on (see ``warn_user``).
_SHOWN: set[tuple[Any, ...]] = set()
_SHOWN_LOCK = threading.Lock()

#: The record of a block of :func:`shown_afresh`, in its context (None: ``_SHOWN``).
_RUN_SHOWN: contextvars.ContextVar[set[tuple[Any, ...]] | None] = contextvars.ContextVar(
    "sksplice_run_shown", default=None
)


@contextlib.contextmanager
def shown_afresh() -> Iterator[None]:
    """Within the block, :func:`warn_user` keeps a record of shown warnings of its own,
    empty at the start; the caller's is back after it.

    For a run of the command line called in a process that ran one before (tests, a
    notebook calling ``sksplice.cli.main``): each run shows its warnings once, as a
    process of its own would, not only the first run. The record is the block's
    context's (a ``contextvars`` variable): runs in two threads at once keep theirs
    apart, and threads started in the block use the process's.
    """
    token = _RUN_SHOWN.set(set())
    try:
        yield
    finally:
        _RUN_SHOWN.reset(token)


def _action(
    text: str,
    category: type[Warning],
    module: str,
    lineno: int,
    filters: Sequence[tuple[Any, ...]] | None = None,
) -> str:
    """The action of the first filter of ``filters`` (:data:`warnings.filters` by default)
    that matches, as :func:`warnings.warn_explicit` finds it."""
    for action, message, cat, mod, line in warnings.filters if filters is None else filters:
        if (
            (message is None or message.match(text))
            and issubclass(category, cat)
            and (mod is None or mod.match(module))
            and (line == 0 or lineno == line)
        ):
            return action
    # (warnings.defaultaction exists at run time; typeshed does not declare it)
    return warnings.defaultaction  # type: ignore[attr-defined]


def _filters_key(text: str, category: type[Warning], module: str, lineno: int) -> tuple[Any, ...]:
    """The filters of :data:`warnings.filters` that match this warning, hashable.

    Only those: a filter for another category or module, such as the one a library
    adds when it is first imported inside one fit's ``catch_warnings`` (sympy's
    ``("once", SymPyDeprecationWarning)``, imported while a CLIP model loads), does
    not make a warning new.
    """
    matching = tuple(
        entry
        for entry in warnings.filters
        if (entry[1] is None or entry[1].match(text))
        and issubclass(category, entry[2])
        and (entry[3] is None or entry[3].match(module))
        and (entry[4] == 0 or lineno == entry[4])
    )
    try:
        hash(matching)
    except TypeError:  # pragma: no cover - an unhashable entry someone put in
        return (id(warnings.filters),)
    return matching


def _destination() -> Any:
    """Where a warning shown now goes: the function Python's ``showwarning`` writes
    through, which ``catch_warnings(record=True)`` replaces by its list's ``append``
    (a warning recorded there was not displayed). The object itself, not its id: the
    ``append`` of a later block's list often gets the id of an earlier one."""
    return getattr(warnings, "_showwarnmsg_impl", None)


def warn_user(
    message: str | Warning,
    category: type[Warning] = UserWarning,
    *,
    once_as: str | None = None,
    of_the_data: bool = False,
) -> None:
    """``warnings.warn`` naming the user's line (:func:`user_stacklevel`), shown once
    per line even where scikit-learn resets Python's record of shown warnings.

    Python's default filter shows a warning once per text, category and line.
    A search (``GridSearchCV``, ``cross_validate``) runs each fit in
    ``warnings.catch_warnings``, which resets that record, so a warning of every
    fit (a centre learned from few rows) would be shown once per fold and
    candidate, all naming the same line. This keeps its own record of what was
    shown for the filters that show a warning once ("default", "module",
    "once"), keyed also on the filters that match it (after ``resetwarnings()`` or
    a new ``simplefilter`` a warning is shown again, as Python does) and on
    where warnings go (:func:`_destination`: a warning recorded by a
    ``catch_warnings(record=True)`` was not shown, and is shown again once that
    block has ended); every other action ("always", "error", "ignore", as
    ``pytest.warns`` or ``simplefilter("always")`` set) is left to
    :func:`warnings.warn`. ``once_as``: the text this record keys the warning on in
    place of its own, for a warning whose text holds a count that differs from fit
    to fit (the rows of each fold: folds of 53 and 54 rows and a refit on 80 showed
    one warning three times); filters still match its own text. The warning carries it,
    so that one recorded in a worker process and issued again here (the folds of
    ``SplicePathSearchCV(n_jobs=2)``) is keyed alike. ``of_the_data``: a warning about
    data that any line may meet again (the concepts of a vocabulary with the same
    embedding, which every fit of that vocabulary finds), shown once per process under
    the default filter, not once per line that meets it.
    """
    if isinstance(message, Warning):
        category = type(message)
        # (a warning recorded in a worker process and issued again in the caller's keeps
        # the text it is shown once as, and whether it is of the data)
        if once_as is None:
            once_as = getattr(message, "_sksplice_once_as", None)
        else:
            message._sksplice_once_as = once_as  # type: ignore[attr-defined]
        if of_the_data:
            message._sksplice_of_the_data = True  # type: ignore[attr-defined]
        else:
            of_the_data = bool(getattr(message, "_sksplice_of_the_data", False))
    elif once_as is not None or of_the_data:
        message = category(message)
        if once_as is not None:
            message._sksplice_once_as = once_as  # type: ignore[attr-defined]
        if of_the_data:
            message._sksplice_of_the_data = True  # type: ignore[attr-defined]
    # (level 1 is this function, as for the warnings.warn calls below; in a worker,
    # where no caller is outside the library, the line that called this one)
    here = inspect.currentframe()
    assert here is not None  # (CPython gives every running function a frame)
    found = _first_user_frame(here)
    level, frame = (2, here.f_back) if found is None else (found[0] + 1, found[1])
    del here, found
    assert frame is not None  # (this function has a caller)
    try:
        filename = frame.f_code.co_filename
        lineno = frame.f_lineno
        module = frame.f_globals.get("__name__", "<string>")
    finally:
        del frame
    text = str(message)
    action = _action(text, category, module, lineno)
    shown_as = text if once_as is None else once_as
    if action == "default" and not of_the_data:
        key: tuple[Any, ...] = (shown_as, category, filename, lineno)
    elif action == "module":
        key = (shown_as, category, filename)
    elif action in ("once", "default"):  # (of the data: once, wherever it is met)
        key = (shown_as, category)
    else:
        warnings.warn(message, category, stacklevel=level)
        return
    # (under other filters for it, as after resetwarnings() or a new simplefilter, Python
    # shows a warning again; a search's per-fit copies of the filters are equal to them)
    key += (_filters_key(text, category, module, lineno), _destination())
    record = _RUN_SHOWN.get()
    with _SHOWN_LOCK:
        if record is None:
            record = _SHOWN
        if key in record:
            return
        record.add(key)
    warnings.warn(message, category, stacklevel=level)


#: The modules of scikit-learn's HTML display of estimators (a notebook's rich output),
#: as named in scikit-learn 1.7 and later, and before.
_DISPLAY_MODULES = ("sklearn.utils._repr_html.", "sklearn.utils._estimator_html_repr")


def in_estimator_display() -> bool:
    """Whether scikit-learn's HTML display of an estimator is among the callers.

    A notebook shows an estimator (or a pipeline or search holding one) with
    scikit-learn's HTML display, which asks every step that counts as fitted
    for ``get_feature_names_out()``. An embedder learns nothing, so it always
    counts as fitted, and the names of its outputs need the width of its
    embeddings: a model to load (seconds, perhaps a download), or open_clip to
    import, only to show the estimator. An embedder tells that case with this
    function and gives no names there until its model is at hand (the display
    then leaves the count of output features out).
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(_DISPLAY_MODULES):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False
