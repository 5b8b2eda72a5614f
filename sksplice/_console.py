"""The ``sksplice`` console command: :func:`sksplice.cli.main` in a process of its own.

:func:`sksplice.cli.main` handles Ctrl-C (SIGINT), SIGTERM and SIGHUP while it runs
and puts the handlers of its caller back at the end, so that it can be called
from Python. A process has also a start and an end around it, which this entry
point covers:

* the start: importing the command (numpy, ...) takes a while, and a Ctrl-C
  then is the same one-line ``sksplice: error: interrupted`` (exit code 130;
  SIGTERM: ``terminated``, 143; SIGHUP: ``hung up``, 129) as later. This module imports nothing but
  what Python has loaded at start-up, installs its handlers, and imports the
  command with the signals held (:class:`signals_held`): one that arrives
  meanwhile ends the process as soon as the import is done, and one that
  arrives before the run handles signals itself ends it at once (nothing has
  been written yet);
* the end: once the run is over its exit status is decided, and the output
  (a file renamed into place, standard output flushed) cannot be taken back.
  Python's teardown (about two seconds with torch loaded) follows; a signal
  then ends the process at once with the status of the run (after flushing
  standard output and standard error), and during the last of the teardown,
  when Python no longer runs handlers, it is ignored. A run that a signal
  ended leaves the process with 130, 143 or 129 once the exit functions have run,
  without the interpreter's own last teardown: Python would otherwise end it
  with the signal itself (status -2) where the KeyboardInterrupt had passed
  through code it ran for a library (an import under way).

A SIGINT, SIGTERM or SIGHUP ignored by the parent (a job started in the
background of a shell, ``nohup``) stays ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys

#: The exit status of each signal the command handles, and the word of its message
#: (keyed by signal number: a handler is given an int, equal to the Signals member).
_SIGNALS: dict[int, tuple[int, str]] = {
    signal.SIGINT: (130, "interrupted"),
    signal.SIGTERM: (143, "terminated"),
}
if hasattr(signal, "SIGHUP"):  # (a terminal closed, an ssh connection lost; not on Windows)
    _SIGNALS[signal.SIGHUP] = (129, "hung up")
_INTERRUPTED = frozenset(code for code, _ in _SIGNALS.values())


class signals_held:
    """Hold SIGINT, SIGTERM and SIGHUP while the ``with`` block runs; one that arrives is
    delivered (and its handler run) when the block ends.

    For imports of large libraries (numpy, torch, open_clip): a
    ``KeyboardInterrupt`` raised in the middle of one is turned into an
    ``ImportError`` by some ("PyCapsule_Import could not import module"),
    and raised inside a callback of torch's C++ code it aborts the process.
    The signals are held for the calling thread (the main one, where Python
    runs handlers) and the threads started in the block (a library's pool of
    workers), which keep them held. Where signals cannot be held (Windows),
    the block runs as it is.
    """

    def __enter__(self) -> signals_held:
        self._mask = None
        with contextlib.suppress(AttributeError, ValueError, OSError):  # (no sigmask)
            self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, tuple(_SIGNALS))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)


class _State:
    #: The exit status, once decided: by the run, or by a signal before it.
    decided: int | None = None
    #: What a signal before the run ends it with (``interrupted``), once said.
    word: str | None = None
    said = False


def _runs_ended() -> int:
    """How many runs of :func:`sksplice.cli.main` have ended in this process."""
    state = getattr(sys.modules.get("sksplice.cli._logging"), "_RUN", None)
    return int(getattr(state, "ended", 0))


def _say() -> None:
    """Say on standard error what a signal before the run ended it with (once)."""
    if _State.word is None or _State.said:
        return
    _State.said = True
    try:
        sys.stderr.write(f"sksplice: error: {_State.word}\n")
        sys.stderr.flush()
    except Exception:  # (no standard error to say it on)
        pass


def _flush_standard_streams() -> None:
    """Flush standard output and standard error; one that cannot be written (a pipe
    whose reader went away, a full disk) is pointed at the null device, so that the
    flush Python makes at exit neither fails nor changes the exit status."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except Exception:  # (OSError; ValueError: closed; RuntimeError: in a flush already)
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except Exception:
                pass


def _install(ended_before: int) -> None:
    """Handle SIGINT, SIGTERM and SIGHUP for the whole life of the process."""

    def handler(signum: int, frame: object) -> None:
        if _State.decided is not None:  # (the status is decided: end now, with it)
            _say()
            _flush_standard_streams()
            os._exit(_State.decided)
        if _runs_ended() > ended_before:
            return  # (the run has ended, its status is on its way back: let it come)
        _State.decided, _State.word = _SIGNALS[signum]
        # Before the run handles signals itself, nothing has been written: end now. (A
        # KeyboardInterrupt raised here could be lost: raised inside a callback, such as
        # the one of importlib's module locks, it is printed as "Exception ignored" and
        # the run goes on, to exit 0.)
        _say()
        _flush_standard_streams()
        os._exit(_State.decided)

    for signum in _SIGNALS:
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            signal.signal(signum, handler)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass


def _ignore_signals_at_exit() -> None:
    """Registered first, so run last of the functions Python calls at exit: from
    here on Python runs no handler (a signal would end the process with the
    signal's status), so SIGINT, SIGTERM and SIGHUP are ignored."""
    if _State.decided is None:
        return
    for signum in _SIGNALS:
        try:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, signal.SIG_IGN)
        except (ValueError, OSError):  # pragma: no cover
            pass
    if _State.decided in _INTERRUPTED:
        # A run that a signal ended: Python would end the process with that signal
        # (exit status -2, not 130) where the KeyboardInterrupt had passed through
        # code Python ran on behalf of a library (an import, at the right moment),
        # which leaves it marked as unhandled. The other exit functions have run and
        # the threads are joined; what is left is the interpreter's own teardown.
        _flush_standard_streams()
        os._exit(_State.decided)


def main() -> int:
    """Run the ``sksplice`` command with ``sys.argv[1:]``; return its exit status."""
    atexit.register(_ignore_signals_at_exit)
    _install(_runs_ended())
    try:
        with signals_held():
            from .cli import main as run
        code = run()
    except KeyboardInterrupt as exc:
        # (a signal before the command handles them itself: while it was imported, or
        # its command line read; or one of the run's handlers as they are put back)
        if _State.decided is None:  # (SIGTERM and SIGHUP of the run say which they were)
            _State.decided, _State.word = _SIGNALS[getattr(exc, "signum", signal.SIGINT)]
        _say()
        return _State.decided
    except SystemExit as exc:  # (--help, --version, a wrong command line)
        _State.decided = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        _flush_standard_streams()
        raise
    _State.decided = code
    _flush_standard_streams()
    if code in _INTERRUPTED and _blocked_threads():
        # (Python would join them at exit, and wait for good for one blocked in open()
        # of a named pipe that no one writes to: the run has said how it ended)
        os._exit(code)
    return code


#: The names of the threads (their prefixes) that read input files: a run cut short
#: does not wait for them (one may be blocked in open() of a named pipe; see
#: :func:`sksplice._image_files.reading_pool`).
_READERS = ("sksplice-io", "sksplice-hash")


def _blocked_threads() -> bool:
    """Whether threads reading input files are still running after a grace of a fifth of
    a second (those of a run cut short, which it did not wait for; the idle ones end by
    then), which Python would join at exit."""
    import threading

    readers = [
        thread
        for thread in threading.enumerate()
        if thread.name.startswith(_READERS) and not thread.daemon
    ]
    for thread in readers:
        thread.join(0.2)
    return any(thread.is_alive() for thread in readers)
