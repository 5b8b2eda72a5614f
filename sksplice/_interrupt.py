"""Imports of large libraries that a Ctrl-C cannot leave half done.

The first ``fit`` of an embedder imports open_clip, which imports torchvision,
timm, transformers and sympy: a few seconds during which nothing is shown. A
``KeyboardInterrupt`` raised in the middle of them (Ctrl-C in a terminal, the
interrupt button of a Jupyter notebook) leaves modules half initialised in
``sys.modules`` (``module 'sympy' has no attribute 'logic'``), and every later
use of the model fails until the Python process (the notebook's kernel) is
restarted. :func:`import_whole` runs such an import with the interrupt held
back: a Ctrl-C that arrives meanwhile is raised as soon as the import is done.

Only Python's own handler of SIGINT (``signal.default_int_handler``, that of a
script, an interactive session and a Jupyter kernel) is held back, and only in
the main thread, the one where Python runs signal handlers: a program that
handles SIGINT itself keeps its own handling, unless it says how to hold its
signals during such an import (:func:`holding_signals_on_import`, as the
``sksplice`` command does).
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import FrameType, ModuleType
from typing import Any

#: How a program that handles its signals itself holds them while a large library is
#: imported (:func:`holding_signals_on_import`, the last one given); empty: Python's own
#: SIGINT handler is held back (:func:`interrupt_deferred`).
_HOLD: list[Callable[[], AbstractContextManager[Any]]] = []


@contextlib.contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Hold back a ``KeyboardInterrupt`` while the block runs; raise it at the end.

    Where SIGINT is not handled by ``signal.default_int_handler`` in the main
    thread, the block runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []
    holding = [True]

    def hold(signum: int, frame: FrameType | None) -> None:
        if not holding[0]:
            # (after the block, where a library imported in it kept this handler to
            # call on: Python's own, so that Ctrl-C is not swallowed for good)
            signal.default_int_handler(signum, frame)
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        holding[0] = False
        if signal.getsignal(signal.SIGINT) is hold:
            # (a handler installed by the block, by a library it imported, stays)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if received:
            # also where the block raised (an import that failed): the Ctrl-C is not
            # lost in a caller that catches that error; the error is its context
            raise KeyboardInterrupt


def _imported(name: str) -> bool:
    """Whether module ``name`` is in ``sys.modules`` and done initialising."""
    module = sys.modules.get(name)
    if module is None:
        return False
    spec = getattr(module, "__spec__", None)
    return not getattr(spec, "_initializing", False)


def import_whole(name: str) -> ModuleType:
    """``importlib.import_module(name)``, with a Ctrl-C held back until it is done
    (see :func:`interrupt_deferred`, or the hold of :func:`holding_signals_on_import`)."""
    if _imported(name):
        return sys.modules[name]
    with _HOLD[-1]() if _HOLD else interrupt_deferred():
        return importlib.import_module(name)


@contextlib.contextmanager
def holding_signals_on_import(
    hold: Callable[[], AbstractContextManager[Any]],
) -> Iterator[None]:
    """In the block, :func:`import_whole` imports under ``hold()`` (a context manager
    that holds the program's own signal handling back, such as
    :class:`sksplice._console.signals_held`): for a program whose handlers raise in
    the middle of an import, wherever a library is imported first."""
    _HOLD.append(hold)
    try:
        yield
    finally:
        _HOLD.remove(hold)
