"""Progress bars that stay readable wherever standard error goes.

On a terminal (or in a Jupyter notebook: a widget where ipywidgets is installed, else
text whose carriage returns the notebook honours) a tqdm bar redraws one line in place.
Written to a file or a pipe (``sksplice ... 2> run.log``, a batch job's log), the
same bar would leave a carriage-return update every tenth of a second on one
endless line; there :func:`progress` writes plain lines instead, one every
:data:`LOG_INTERVAL` seconds and one when the work ends.

A stream of diagnostics that fails (a pipe whose reader went away, a full disk,
``2>/dev/full``) stops the diagnostics, never the work: once a write to it has
failed, bars and the command's log handler write nothing more to it
(:func:`_write_diagnostics`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

#: Seconds between two progress lines when standard error is not a terminal.
LOG_INTERVAL = 30.0


#: Streams of diagnostics a write to which has failed, by ``id`` (each held, so that its
#: ``id`` is not given to another object): nothing more is written to them.
_FAILED_STREAMS: dict[int, Any] = {}


def _stream_failed(stream: Any) -> bool:
    """Whether diagnostics must not be written to ``stream``: a write to it has failed,
    or there is none (``sys.stderr`` is None when the process has no file 2)."""
    return stream is None or _FAILED_STREAMS.get(id(stream)) is stream


def _stream_fails(stream: Any) -> None:
    """Write no more diagnostics to ``stream``."""
    if stream is not None:
        _FAILED_STREAMS[id(stream)] = stream


def _write_diagnostics(stream: Any, text: str, *, flush: bool = False) -> None:
    """Write ``text`` to a stream of diagnostics (standard error), if it still takes them.

    A write that fails (a closed pipe, a full disk, a closed file) ends the
    diagnostics on that stream: this one and all later ones are dropped, and the
    work goes on. Progress and messages are no results: losing them must not lose
    the results (written to a file or standard output) or change the exit status.
    """
    if _stream_failed(stream):
        return
    try:
        stream.write(text)
        if flush:
            stream.flush()
    except UnicodeError:  # (a character the stream cannot encode: this text only)
        return
    except (OSError, ValueError, AttributeError):
        _stream_fails(stream)


#: The terminal's control sequences (ECMA-48 CSI: parameters, intermediates, a final
#: byte), such as the cursor movements tqdm writes for bars open at once.
_CURSOR_MOVES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


class _Lines:
    """A file for tqdm that turns its in-place redraws into whole lines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._count = ""
        #: Called once, after the first line (a bar shown after a delay: see progress).
        self.after_first_line: Any = None

    def write(self, text: str) -> None:
        # (tqdm moves the cursor, "\x1b[A", to redraw a bar below another open one)
        line = _CURSOR_MOVES.sub("", text.replace("\r", "")).strip()
        # (the count before the times: the closing redraw repeats the last update's)
        count = line.rpartition(" [")[0] or line
        if line and count != self._count:
            _write_diagnostics(self._stream, line + "\n")
            self._count = count
            if self.after_first_line is not None:
                after, self.after_first_line = self.after_first_line, None
                after()

    def flush(self) -> None:
        if _stream_failed(self._stream) or not hasattr(self._stream, "flush"):
            return
        try:
            self._stream.flush()
        except (OSError, ValueError):
            _stream_fails(self._stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # (no isatty, or a closed file)
        return False


#: The size tqdm is given on a terminal that says it has no columns or no lines.
_FALLBACK_SIZE = {"ncols": 80, "nrows": 24}


def _zero_size(stream: Any) -> dict[str, int]:
    """tqdm's ``ncols`` and ``nrows`` where the terminal ``stream`` is on says it is 0
    columns wide or 0 lines high (the pseudo terminal of ``script``, ``docker exec -t``
    and some CI runners), where tqdm draws nothing at all; else nothing."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return {}
    zero = {"ncols": size.columns == 0, "nrows": size.lines == 0}
    return {key: value for key, value in _FALLBACK_SIZE.items() if zero[key]}


def in_jupyter_kernel() -> bool:
    """Whether this is the kernel of a Jupyter notebook (or another Jupyter front end)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def _kernel_stream(stream: Any) -> bool:
    """Whether ``stream`` is a Jupyter kernel's own (``sys.stderr`` in a notebook), whose
    front end shows a bar's carriage-return redraws in place, as a terminal does."""
    return type(stream).__module__.startswith("ipykernel.") and in_jupyter_kernel()


@functools.cache
def _has_ipywidgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def _notebook_tqdm() -> Any:
    """tqdm's notebook bar (a widget) when running in a Jupyter kernel that has
    ipywidgets, else None."""
    if "tqdm.autonotebook" not in sys.modules and not _has_ipywidgets():
        # (tqdm.auto would warn that ipywidgets is missing and give the plain bar, which a
        # kernel's stream shows redrawn in place: see _kernel_stream)
        return None
    from tqdm.auto import tqdm as auto_tqdm

    if any(cls.__module__ == "tqdm.notebook" for cls in auto_tqdm.__mro__):
        return auto_tqdm
    return None


#: The bar that counts the work of the bars made inside it (see :func:`counted_by`).
_ENCLOSING: contextvars.ContextVar[Any] = contextvars.ContextVar("sksplice_bar", default=None)


class _Forward:
    """A bar made inside :func:`counted_by`: it shows nothing and counts into the
    enclosing bar (the part of the work it stands for)."""

    def __init__(self, enclosing: Any) -> None:
        self._enclosing = enclosing
        self.n = 0

    def update(self, n: int = 1) -> None:
        self.n += n
        self._enclosing.update(n)

    def close(self) -> None:
        pass

    def __enter__(self) -> _Forward:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextlib.contextmanager
def counted_by(bar: Any) -> Iterator[Any]:
    """Within the block, bars made by :func:`progress` show nothing and add their
    counts to ``bar``: one bar for work done in several calls that each show their
    own (the blocks of a vocabulary embedded one call at a time)."""
    token = _ENCLOSING.set(bar)
    try:
        yield bar
    finally:
        _ENCLOSING.reset(token)


def progress(
    total: int | None,
    *,
    desc: str,
    unit: str,
    disable: bool = False,
    file: TextIO | None = None,
    **kwargs: Any,
) -> Any:
    """A tqdm progress bar suited to where it is written.

    Parameters
    ----------
    total : int or None
        Units of work.
    desc : str
        What is being done (``"CLIP images"``).
    unit : str
        The unit counted (``"image"``).
    disable : bool, default=False
        Show nothing (the bar still counts).
    file : file-like, optional
        Where to write; standard error (looked up when the bar is made) by default.
        Nothing is shown on a stream a write to which has failed; a write of
        the bar that fails ends its lines there (see :func:`_write_diagnostics`).
    **kwargs
        Passed on to tqdm (``unit_scale``, ``unit_divisor``; ``delay``: seconds
        before the bar shows, and nothing at all for work done sooner).

    Returns
    -------
    tqdm.tqdm
        A bar to use as a context manager, with ``update(n)`` and ``close()``:
        redrawn in place on a terminal and in a notebook, and written as whole
        lines at most every :data:`LOG_INTERVAL` seconds (and once at the end)
        anywhere else.
    """
    from tqdm.std import tqdm

    enclosing = _ENCLOSING.get()
    if enclosing is not None:
        return _Forward(enclosing)
    stream = sys.stderr if file is None else file
    if disable or _stream_failed(stream):
        # (nowhere to show it)
        return tqdm(total=total, desc=desc, unit=unit, disable=True)
    if file is None:
        notebook = _notebook_tqdm()
        if notebook is not None:
            return notebook(total=total, desc=desc, unit=unit, **kwargs)
    if _is_terminal(stream) or _kernel_stream(stream):
        kwargs = {**_zero_size(stream), **kwargs}
        return tqdm(total=total, desc=desc, unit=unit, file=stream, **kwargs)
    lines = _Lines(stream)
    # (with a delay, the first line comes at the first update after it, not LOG_INTERVAL
    # seconds in, and the next ones every LOG_INTERVAL seconds)
    delay = float(kwargs.get("delay", 0.0))
    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=lines,
        mininterval=min(LOG_INTERVAL, delay) if delay > 0 else LOG_INTERVAL,
        # (tqdm would otherwise learn "a line every N units" from the first interval and,
        # with no maxinterval to correct it, space the lines out when the work slows down)
        miniters=1,
        # (tqdm's monitor thread would also print a line whenever an update waits longer)
        maxinterval=float("inf"),
        # (no bar glyphs, which only make sense redrawn in place)
        dynamic_ncols=False,
        ncols=0,
        **kwargs,
    )
    if delay > 0:
        lines.after_first_line = lambda: setattr(bar, "mininterval", LOG_INTERVAL)
    return bar


class StderrHandler(logging.StreamHandler):
    """A handler of standard error (the command line's, a fit's ``verbose``): on a
    terminal, each line goes through ``tqdm.write``.

    A progress bar redrawn in place on a terminal has no newline at its end: a
    line written as it is would be glued onto the bar. ``tqdm.write`` clears the
    bars drawn on the stream, writes the line and draws them again below it.
    Anywhere else (a file, a pipe) progress comes as whole lines and a line is
    written as it is. Once a write fails (standard error is a pipe whose reader
    went away, or a full disk), nothing more is written to the stream, and the
    run goes on: its results and exit status do not depend on its messages.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if _stream_failed(self.stream):
            return
        try:
            text = self.format(record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        if not (_is_terminal(self.stream) or _kernel_stream(self.stream)):
            _write_diagnostics(self.stream, text + self.terminator, flush=True)
            return
        try:
            from tqdm.std import tqdm

            tqdm.write(text, file=self.stream)
            self.stream.flush()
        except UnicodeError:
            pass
        except (OSError, ValueError):
            _stream_fails(self.stream)


#: Fits with ``verbose`` running now (threads of a search may overlap) and what the
#: first of them changed, which the last one puts back.
_verbose_lock = threading.Lock()
_verbose_users = 0
_verbose_saved: tuple[int, logging.Handler | None, bool] = (logging.NOTSET, None, True)


def _has_handlers(logger: logging.Logger) -> bool:
    """``logger.hasHandlers()``, not counting :data:`logging.lastResort` (which the root
    logger holds while a CLIP model loads, and which shows no INFO record)."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler is not logging.lastResort for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


@contextlib.contextmanager
def verbose_logging(verbose: Any) -> Iterator[None]:
    """Show the INFO messages of sksplice's loggers on standard error while the block
    runs, when ``verbose`` is above 0 and logging shows them nowhere else.

    An estimator's ``verbose`` asks to see what its ``fit`` does (the vocabulary
    being embedded, with the estimate of its time and where it is cached; each
    step of a calibration). Those are logged at level INFO, which Python shows
    only when the program has configured logging: where no handler would show
    them, one writes them to standard error for the block (``[sksplice] ...``);
    where handlers exist, the ``sksplice`` logger is only let down to INFO for
    the block, and the program's handlers decide. Blocks may overlap (fits in
    threads): the first one in makes the change and the last one out undoes it.
    """
    global _verbose_users, _verbose_saved
    if not verbose:
        yield
        return
    package = logging.getLogger("sksplice")
    with _verbose_lock:
        if _verbose_users == 0:
            handler: logging.Handler | None = None
            propagate = package.propagate
            if not _has_handlers(package):
                # (its lines go above a progress bar drawn on a terminal, not onto it)
                handler = StderrHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("[sksplice] %(message)s"))
                handler.setLevel(logging.INFO)
                package.addHandler(handler)
                # No handler above showed these records when the block began; one that
                # appears during it (a library calling logging.info() makes the root
                # logger one) must not show each of them a second time.
                package.propagate = False
            _verbose_saved = (package.level, handler, propagate)
            if package.getEffectiveLevel() > logging.INFO:
                package.setLevel(logging.INFO)
        _verbose_users += 1
    try:
        yield
    finally:
        with _verbose_lock:
            _verbose_users -= 1
            if _verbose_users == 0:
                level, handler, propagate = _verbose_saved
                package.setLevel(level)
                package.propagate = propagate
                if handler is not None:
                    package.removeHandler(handler)
                _verbose_saved = (logging.NOTSET, None, True)
