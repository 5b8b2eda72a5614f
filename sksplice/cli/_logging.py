"""Messages of the command: the one-line error, standard error in command-line words, signals."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import logging
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .._image_files import file_being_read, shown_message
from .._image_files import from_pil as _from_pil
from .._progress import StderrHandler

logger = logging.getLogger(__name__)


class CLIError(Exception):
    """An error of a run of the command line, reported to the user as one line (exit
    code 1; its subclass for a wrong command line, found before any work, exit code 2).

    :func:`sksplice.cli.collect_images` raises it for an input that does not exist, a
    folder that holds no image or cannot be read.
    """


class UsageError(CLIError):
    """A wrong command line (an option, an input, a labels file), found before any work.

    Reported as one line, with exit code 2 as argparse's own usage errors.
    """


class RunError(CLIError):
    """An error of the run met while the options are checked (exit code 1, not 2).

    A download that failed or a cached file that cannot be read: the command
    line is right, the machine or the network is not.
    """


@contextlib.contextmanager
def _of_the_run() -> Iterator[None]:
    """A ``ValueError`` of the block (a file of the data folder that cannot be read)
    is an error of the run: :class:`RunError`, even within :func:`_usage`."""
    try:
        yield
    except ValueError as exc:
        raise RunError(str(exc)) from exc


@contextlib.contextmanager
def _usage() -> Iterator[None]:
    """Errors found while checking the command line are usage errors (exit code 2).

    Except errors of the run: :class:`RunError` and a failed download
    (:class:`sksplice.exceptions.DataFetchError`, an ``OSError``), which keep
    exit code 1. What reading the inputs has to say (files left out of a folder,
    links not followed) is held until the checks pass: a refused run says only why.
    """
    from ..exceptions import DataFetchError

    inputs = logging.getLogger(_INPUTS_LOGGER)
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    inputs.addFilter(hold)
    try:
        yield
    except (UsageError, RunError, DataFetchError):
        raise
    except (CLIError, ValueError, LookupError, OSError) as exc:
        # (The library's own checks of a value raise ValueError, LookupError or OSError.)
        raise UsageError(str(exc)) from exc
    finally:
        inputs.removeFilter(hold)
    for record in held:
        inputs.handle(record)


#: The logger of reading the command's inputs (sksplice/cli/_inputs.py).
_INPUTS_LOGGER = "sksplice.cli._inputs"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit code 143 instead of 130)."""

    signum: int = signal.SIGTERM


class _HungUp(_Terminated):
    """SIGHUP (the terminal closed, an ssh connection lost), handled as SIGTERM (exit
    code 129): the records finished so far are kept in ``FILE.partial``."""

    signum = getattr(signal, "SIGHUP", signal.SIGTERM)


#: The interruption each signal of the run raises (SIGINT: a plain KeyboardInterrupt).
_RAISED: dict[int, type[KeyboardInterrupt]] = {signal.SIGTERM: _Terminated}
if hasattr(signal, "SIGHUP"):  # (not on Windows)
    _RAISED[signal.SIGHUP] = _HungUp


#: Keyword arguments of the library and the options that set them.
_FLAGS = {
    "vocabulary_size": "--vocabulary-size",
    "l1_penalty": "--l1-penalty",
    "target_l0": "--target-l0",
    "image_mean": "--image-mean",
    "data_home": "--data-home",
    "cache_dir": "--cache-dir",
    "batch_size": "--batch-size",
    "pretrained": "--pretrained",
    "vocabulary": "--vocabulary",
    "device": "--device",
    "solver": "--solver",
    "model": "--model",
}
_PHRASES = (
    ("pretrained=<path to a checkpoint file>", "--pretrained PATH"),
    ("pretrained=None", "--pretrained none"),
    ("image_mean=None", "--image-mean data"),
    ("image_mean='pretrained'", "--image-mean pretrained"),
    ("device='cpu'", "--device cpu"),
    ("the rows of X decompose to", "the embeddings decompose to"),
    ("set target_l0 to have fit find the penalty", "give --target-l0 to have the run find it"),
    (" (or pass cache_dir=...)", ""),
    # (the command's output names each concept)
    (" (name weight columns with get_feature_names_out())", ""),
)
_ASSIGNMENT = re.compile(r"\b(" + "|".join(_FLAGS) + r")=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)")
_BARE = re.compile(
    r"(?<![\w./\\-])(vocabulary_size|l1_penalty|target_l0|image_mean|data_home|cache_dir|"
    r"batch_size)\b"
)


#: PIL's decompression-bomb limit as the library says it (an image refused as too large),
#: and as the command line sets it.
_PIXEL_LIMIT = re.compile(
    r"PIL's decompression-bomb limit \(PIL\.Image\.MAX_IMAGE_PIXELS = (\w+)\); if you "
    r"trust this file, raise that limit before embedding it \(in Python, set "
    r"PIL\.Image\.MAX_IMAGE_PIXELS; on the command line, --max-image-pixels\)"
)


#: The ``--data-home`` of the run (None: $SKSPLICE_DATA or the default), where a published
#: image mean that a message names lies.
_DATA_HOME: str | None = None


def shell_word(value: str, *, posix: bool | None = None) -> str:
    """``value`` as one word of a shell command: quoted where the shell would split or
    expand it (spaces, quotes, ``$``), as it is otherwise (``~/`` left to expand). On
    Windows (``posix=False``), in double quotes as its command lines take them (a
    POSIX shell's single quotes are part of the word there)."""
    import shlex

    if posix is None:
        posix = os.name != "nt"
    if not posix:
        import subprocess

        return subprocess.list2cmdline([value])
    if value.startswith("~/") and shlex.quote(value[2:]) == value[2:]:
        return value
    return shlex.quote(value)


def _published_mean_option(match: re.Match[str]) -> str:
    """``--image-mean FILE`` for the library's ``image_mean=...load_image_mean(model,
    tag)``: the published mean's file in the data folder of the run (with its address
    and digest where it is not there yet)."""
    found = published_mean_file(match.group(1), match.group(2))
    if found is None:  # pragma: no cover - the library names published means only
        return match.group(0)
    where, fetch = found
    return f"--image-mean {where}" + (f" ({fetch})" if fetch else "")


def published_mean_file(model: str, tag: str) -> tuple[str, str | None] | None:
    """Where the published image mean of ``model`` with the weights ``tag`` lies in the
    data folder of the run (a shell word), and how to fetch it by hand where it is not
    there yet (``"download URL to that file first, ..."``; None where it is); None where
    no mean of those weights is published."""
    from .._data import get_data_home, resolve_in_data_home
    from ..vocabulary import IMAGE_MEANS, image_mean_key

    remote = IMAGE_MEANS.get(image_mean_key(model, tag))
    if remote is None:
        return None
    try:
        path = resolve_in_data_home(
            remote.path, get_data_home(_DATA_HOME, create=False), create=False
        )
    except (OSError, ValueError):
        path = None
    if path is not None and path.is_file():
        return shell_word(str(path)), None
    where = f"<the data folder>/{remote.path}" if path is None else shell_word(str(path))
    return where, (
        f"download {remote.url} to that file first, creating its folder, SHA-256 {remote.sha256}"
    )


#: What the messages call the rows of the run: ``"image"``, or ``"row"`` where they are
#: rows of embeddings given as ``.npy`` files (set by the run that reads them; each run
#: starts with images, see :func:`_stderr_logging`).
ROWS_CALLED: contextvars.ContextVar[str] = contextvars.ContextVar("rows_called", default="image")


#: Advice of library messages that names what the command line has no option for
#: (the solver's ``tol`` and ``max_iter``, a warning's attribute), and what it says
#: instead.
_PYTHON_ADVICE = (
    (
        re.compile(r" and may not reach tol\. Use (.*?) or a larger tol\b"),
        r" and may not converge. Use \1",
    ),
    (re.compile(r"solved with max_iter=(\d+) "), r"solved in at most \1 rounds "),
    # (a published mean given by hand: its file)
    (
        re.compile(r"image_mean=sksplice\.vocabulary\.load_image_mean\('([^']+)', '([^']+)'\)"),
        _published_mean_option,
    ),
    (
        re.compile(r"\bpass the settings of the weights in\b"),
        "give the settings of the weights in",
    ),
    # (classes too small to test: the rows of the command line are images, or rows of
    # embeddings given as .npy files)
    (
        re.compile(r"\b(\d+) sample(s?) against (\d+) in the rest"),
        lambda m: f"{m[1]} {ROWS_CALLED.get()}{m[2]} against {m[3]} in the rest",
    ),
    (
        re.compile(r"; more samples are needed$"),
        lambda m: f"; more {ROWS_CALLED.get()}s are needed",
    ),
    (
        re.compile(r" rows of X decompose to no concept"),
        lambda m: f" {ROWS_CALLED.get()}s decompose to no concept",
    ),
    (re.compile(r"stopped after max_iter=(\d+) "), r"stopped after \1 rounds "),
    (re.compile(r"\(max_iter=(\d+)\)"), r"(of at most \1)"),
    # (the solver's tolerance, which no option sets: said as a number, not a keyword)
    (re.compile(r" > tol=(\S+?)( |$)"), r" > \1, the solver's tolerance,\2"),
    (re.compile(r" at tol=(\S+) "), r" at the solver's tolerance (\1) "),
    (re.compile(r"; increase max_iter \(SpliceTransformer's transform_max_iter\) or tol"), ""),
    (
        re.compile(r"a larger tol or l1_penalty would let them converge"),
        "a larger l1_penalty would let them converge",
    ),
    (
        re.compile(
            r"Keep one concept of each group(?:, dropping the others \(\{(?P<names>.*?)\}\))?"
            r"(?: \(the warning's `groups` lists them\))?"
            r"(?:: vocabulary=\[.*?DuplicateConceptWarning| from the vocabulary)?\."
        ),
        lambda m: (
            "Keep one concept of each group: give --vocabulary a file without the others of "
            "each group" + (f" ({m.group('names')})" if m.group("names") else "") + "."
        ),
    ),
)


#: How to fetch a published file named as an option's value (:func:`published_mean_file`).
_DOWNLOAD_FIRST = re.compile(
    r" \(download (\S+) to that file first, creating its folder, SHA-256 \w+\)"
)


def _cli_words(text: str) -> str:
    """Say a library message in the words of the command line (options, not keywords)."""
    for pattern, replacement in _PYTHON_ADVICE:
        text = pattern.sub(replacement, text)
    # (a file the message lists among those to fetch as well is not said twice)
    text = _DOWNLOAD_FIRST.sub(
        lambda m: "" if f"({m.group(1)}, to put in the folder " in text else m.group(0), text
    )
    for old, new in _PHRASES:
        text = text.replace(old, new)
    text = _PIXEL_LIMIT.sub(
        r"the decompression-bomb limit (--max-image-pixels \1); if you trust this file, "
        r"give a larger --max-image-pixels (0: no limit)",
        text,
    )

    def option(match: re.Match[str]) -> str:
        value = match.group(2)
        if value[:1] in "'\"":
            value = value[1:-1]
        elif "(" in value:  # (a Python expression, not a value: said as it is)
            return match.group(0)
        return f"{_FLAGS[match.group(1)]} {shell_word(value)}"

    text = _ASSIGNMENT.sub(option, text)
    return _BARE.sub(lambda m: _FLAGS[m.group(1)], text)


#: What a command-line user can do about each kind of warning: (category, words its
#: message holds, or "" for any, the advice); the first that fits is given, none when
#: none fits.
_WARNING_FIXES = (
    # a cache file that cannot be written: a full disk (the folder is writable), then a
    # read-only cache folder
    (
        "DictionaryCacheWarning",
        "No space left",
        "free space on that disk, or give --cache-dir a folder on another one, to keep the "
        "dictionary for later runs",
    ),
    (
        "DictionaryCacheWarning",
        "cannot write",
        "give --cache-dir a writable folder to keep the dictionary for later runs",
    ),
    # a cache file that cannot be used (corrupt, truncated, another model's): it is
    # rebuilt (and if it cannot be written, the warning above follows)
    ("DictionaryCacheWarning", "cannot be used", "nothing to do: it is rebuilt"),
    (
        "ConvergenceWarning",
        "",
        "those rows keep the best weights found; a larger --l1-penalty converges sooner",
    ),
)


def _warning_fix(category: type[Warning], text: str) -> str | None:
    """The advice of :data:`_WARNING_FIXES` for a warning, or None."""
    for name, words, fix in _WARNING_FIXES:
        if category.__name__ == name and words in text:
            return fix
    return None


def _origin(record: logging.LogRecord) -> str | None:
    """The library a record not of sksplice's loggers comes from: its logger's first
    name, or for the root logger (on which open_clip logs) the top-level module of the
    file that logged it, as found on ``sys.path``; None for sksplice's own, and where
    the file is on no entry of ``sys.path``."""
    if record.name == "sksplice" or record.name.startswith("sksplice."):
        return None
    if record.name != "root":
        return record.name.split(".")[0]
    path = os.path.abspath(record.pathname)
    entries = [os.path.abspath(entry or os.getcwd()) for entry in sys.path]
    found = [entry for entry in entries if path.startswith(entry.rstrip(os.sep) + os.sep)]
    if not found:
        return None
    top = os.path.relpath(path, max(found, key=len)).split(os.sep)[0]
    return top.removesuffix(".py") or None


#: The capitalised starts of library messages (sentences in Python), said in lower case
#: after the command line's "sksplice: error:" and after an option's "--vocabulary F:",
#: as the command line's own messages are.
_SENTENCE_START = re.compile(r"(^|: )(The|Cannot|Could not|Cached) ")


def _lower_start(text: str) -> str:
    return _SENTENCE_START.sub(lambda m: f"{m.group(1)}{m.group(2).lower()} ", text)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # (a file name that is not valid UTF-8 as the outputs write it: \xNN escapes)
        text = shown_message(_lower_start(_cli_words(record.getMessage())))
        origin = _origin(record)
        if origin is not None:  # (another library's message, told apart from the run's)
            text = f"{origin}: {text}"
        if record.levelno >= logging.ERROR:
            text = f"sksplice: error: {text}"
        elif record.levelno >= logging.WARNING:
            text = f"sksplice: warning: {text}"
        else:
            text = f"sksplice: {text}"
        # (the lines of a list, such as the images skipped, start as every line does: a log
        # searched for "^sksplice: " keeps them)
        text = text.replace("\n", "\nsksplice: ")
        if record.exc_info and logging.getLogger("sksplice").isEnabledFor(logging.DEBUG):
            text += "\n" + self.formatException(record.exc_info)
        return text


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the command: one line on standard error, with the fix;
    a warning about an image file (PIL's about the file being read, or an
    :class:`~sksplice.exceptions.ImageFileWarning`) starts with its name, once per file."""
    text = " ".join(str(message).split())
    path = getattr(message, "path", None) if category.__name__ == "ImageFileWarning" else None
    if path is not None:
        text = " ".join(message.text.split())
    elif _from_pil(filename):
        path = file_being_read()
    if path is not None:
        if (path, text) in _TOLD:  # (the file read again: for the report's thumbnail)
            return
        _TOLD.add((path, text))
        if path not in text:
            text = f"{path}: {text}"
    fix = _warning_fix(category, text)
    if fix and any(option in _cli_words(text) for option in re.findall(r"--[\w-]+", fix)):
        fix = None  # (the message gives that advice itself)
    logger.warning("%s%s", text, f" ({fix})" if fix else "")
    listing = _groups_listed(message, category)
    if listing:  # (a list to act on, not a warning of its own: left out with -q)
        logger.info("%s", listing.lstrip("\n"))


#: The most groups of alike concepts the command line lists under its warning, and the
#: most names of each.
_GROUPS_LISTED = 200
_NAMES_LISTED = 50


def _groups_listed(message: Any, category: type[Warning]) -> str:
    """The groups of a :class:`~sksplice.exceptions.DuplicateConceptWarning` whose
    names to drop it does not write out, a line each under it (the warning names five
    groups; in Python its ``groups`` lists them all, which the command line has no
    other way to show); an empty string for any other warning."""
    groups = getattr(message, "groups", None)
    if category.__name__ != "DuplicateConceptWarning" or not groups:
        return ""
    if "dropping the others ({" in str(message):  # (the message writes them)
        return ""
    from .._names import listed, plural

    # (a tokenizer that reads a thousand names as one unknown token makes a group of a
    # thousand: each group's names are written up to _NAMES_LISTED, then counted)
    lines = [
        listed(group, _NAMES_LISTED, repr, sep=" = ", more=" = ... and {} more")
        for group in groups[: len(groups) if len(groups) <= _GROUPS_LISTED + 1 else _GROUPS_LISTED]
    ]
    if len(groups) > _GROUPS_LISTED + 1:
        lines.append(f"... and {len(groups) - _GROUPS_LISTED} more groups")
    return f"\nthe {plural(len(groups), 'group')} of concepts with the same embedding:" + "".join(
        f"\n  {line}" for line in lines
    )


#: The warnings about image files told in this run, each with its file: told once per file.
_TOLD: set[tuple[str, str]] = set()


@contextlib.contextmanager
def _stderr_logging(quiet: bool, debug: bool, data_home: str | None = None) -> Iterator[None]:
    """One stderr handler for the run: INFO (WARNING with -q, DEBUG with --debug);
    ``data_home``: its ``--data-home``, where messages find the files they name."""
    global _DATA_HOME
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = StderrHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_Formatter())
    root, package = logging.getLogger(), logging.getLogger("sksplice")
    saved = (root.level, package.level, package.propagate)
    root.addHandler(handler)
    root.setLevel(logging.INFO if debug else logging.WARNING)
    package.setLevel(level)
    package.propagate = True
    _TOLD.clear()
    saved_home, _DATA_HOME = _DATA_HOME, data_home
    rows_called = ROWS_CALLED.set("image")
    from .._stack import shown_afresh

    try:
        with warnings.catch_warnings(), shown_afresh():
            warnings.showwarning = _show_warning
            # PIL's warning for an image over its pixel limit: the run skips that image and
            # names it, with its size and --max-image-pixels, in the summary
            from PIL import Image

            # PIL's warnings about a damaged file, each told with the file's name: once
            # per file (see _TOLD), not once per run
            warnings.filterwarnings("always", category=UserWarning, module=r"PIL(\.|$)")
            warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
            # the transformer's warning that no row holds a concept: the command says it
            # once, for every image of the run, not per chunk of rows decomposed
            warnings.filterwarnings("ignore", message="every row of X decomposes to no concept")
            # labels alike but for case or spaces: the command says it when it reads them,
            # before the images are embedded, not again when it profiles them
            warnings.filterwarnings("ignore", message="labels that differ only in case or spaces")
            yield
    finally:
        _DATA_HOME = saved_home
        ROWS_CALLED.reset(rows_called)
        root.removeHandler(handler)
        root.setLevel(saved[0])
        package.setLevel(saved[1])
        package.propagate = saved[2]


#: Whether this is Windows, whose writes to a pipe that its reader closed fail with
#: EINVAL (see :func:`as_closed_pipe`).
_WINDOWS = sys.platform == "win32"


def as_closed_pipe(exc: OSError) -> OSError:
    """``exc``, a failed write to standard output, or the :class:`BrokenPipeError` it
    stands for: on Windows, a write to a pipe whose reader has gone (``sksplice ... |
    more`` stopped early) fails with ``OSError: [Errno 22] Invalid argument`` instead
    (CPython issue 79935), which was said as "cannot write standard output: Invalid
    argument" and exit status 1. Only where standard output is a pipe: a file that
    refuses a write stays an error of the run."""
    if _WINDOWS and not isinstance(exc, BrokenPipeError) and exc.errno == errno.EINVAL:
        import stat

        try:
            piped = stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
        except (AttributeError, OSError, ValueError):
            piped = False
        if piped:
            return BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
    return exc


def _reader_gone(path: str | None = None) -> bool:
    """Whether the output (standard output, or the FIFO ``path``) is a pipe whose reader
    has closed it: a ``BrokenPipeError`` of the run came from there, not from elsewhere
    (a worker process, a socket), which is an error. True where it cannot be told."""
    import select
    import stat

    try:
        if path is None:
            fd, opened = sys.stdout.fileno(), False
        else:
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                return False  # (a regular file has no reader to lose)
            fd, opened = os.open(path, os.O_WRONLY | os.O_NONBLOCK), True
    except (AttributeError, OSError, ValueError):
        # (no file number to ask; a FIFO that cannot be opened has no reader)
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - no poll (Windows)
        return True
    finally:
        if opened:
            os.close(fd)


def _interruption(exc: KeyboardInterrupt) -> tuple[int, str]:
    """The exit status of an interrupted run and the word that says why (``interrupted``,
    ``terminated``, ``hung up``).

    An interruption that stopped the embedding of a vocabulary carries what was kept
    for the next run (``stopped: ... run again to resume``): said here, as a warning
    line before the run's error line.
    """
    from .._console import _SIGNALS

    stopped = getattr(exc, "_sksplice_stopped", None)
    if stopped:
        logger.warning("%s", stopped)
        exc._sksplice_stopped = None  # type: ignore[attr-defined]  # (said once)
    return _SIGNALS[getattr(exc, "signum", signal.SIGINT)]


#: The interruptions (Ctrl-C, SIGTERM, SIGHUP) of the run, kept even when the exception
#: raised for one was swallowed (raised inside a ``__del__`` or a callback,
#: Python prints it and goes on): the run checks them before it commits output.
_SIGNALLED: list[KeyboardInterrupt] = []


class _RunState:
    """Where the run stands with its output, for the signal handlers."""

    def __init__(self) -> None:
        #: The output is in place (a file renamed over ``FILE``, standard output flushed):
        #: a signal no longer interrupts the run, which has only to end.
        self.committed = False
        #: The output is being put in place: a signal waits for the end of it.
        self.committing = False
        #: Runs ended in this process, their exit status decided (read by the console
        #: entry point, :mod:`sksplice._console`, whose own handlers then take over).
        self.ended = 0


_RUN = _RunState()


def raise_if_signalled() -> None:
    """Raise the interruption a signal of the run asked for, if one arrived (before the
    output was put in place: after that, the run is complete)."""
    if _SIGNALLED and not _RUN.committed:
        raise type(_SIGNALLED[0])()


@contextlib.contextmanager
def signals_recorded() -> Iterator[None]:
    """A signal that arrives in the block is recorded, not raised: for the few files an
    interruption being handled still writes (the run ends with that interruption).
    Python runs the handler on the main thread whichever thread the signal reached,
    so this holds where masking the signal for one thread would not."""
    before = _RUN.committing
    _RUN.committing = True
    try:
        yield
    finally:
        _RUN.committing = before


@contextlib.contextmanager
def _recorded_while_importing() -> Iterator[None]:
    """For the import of a large library during a run (open_clip, where the run needs
    it): a signal that arrives is recorded, not raised halfway through the import (the
    import machinery swallowed it, and the run went on to its end), and raised once the
    import is done. Held for this thread too (:class:`sksplice._console.signals_held`):
    raised inside a callback of torch's C++ code, it could abort the process."""
    from .._console import signals_held

    arrived = len(_SIGNALLED)
    with signals_recorded(), signals_held():
        yield
    if len(_SIGNALLED) > arrived and not _RUN.committed:
        raise type(_SIGNALLED[arrived])()


@contextlib.contextmanager
def committing(*, wait: bool = True) -> Iterator[None]:
    """The block puts the run's output in place; from its end, a signal leaves it there.

    Once the output is complete and in place, Ctrl-C or SIGTERM cannot take it
    back: exit code 130 (143, 129) would say it was left as it was. So a signal that
    arrives after the block is ignored, and with ``wait``, one that arrives in
    the block waits for its end (the commit of a file: a flush to a temporary
    file, an fsync and a rename, which are not left half done). Without
    ``wait`` (the output is a pipe or standard output, whose flush may block
    on its reader for ever), a signal in the block interrupts it as anywhere
    else. An error of the block (a full disk) ends the run with that error.
    """
    _RUN.committing = wait
    try:
        yield
    finally:
        _RUN.committing = False
    _RUN.committed = True


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP interrupt the run, and are remembered.

    SIGTERM raises :class:`_Terminated` (a KeyboardInterrupt: exit 143), SIGHUP
    :class:`_HungUp` (exit 129), SIGINT a KeyboardInterrupt (exit 130); each is
    recorded for :func:`raise_if_signalled`. A signal that is ignored (SIGINT in
    a job started in the background by a shell, SIGHUP under ``nohup``) stays
    ignored. Once the output is in place
    (:func:`committing`), signals are ignored. The handlers of the caller are
    put back at the end of the block.
    """

    def handler(signum: int, frame: Any) -> None:
        if _RUN.committed:
            return  # (the output is in place: the run only has to end)
        exc = _RAISED.get(signum, KeyboardInterrupt)()
        _SIGNALLED.append(exc)
        if not _RUN.committing:
            raise exc

    # (a run starts with nothing committed nor signalled, whatever a use of the outputs
    # outside a run, in this process, left)
    _RUN.committed = _RUN.committing = False
    _SIGNALLED.clear()
    installed = []
    try:
        for signum in (*_RAISED, signal.SIGINT):
            if signum != signal.SIGTERM and signal.getsignal(signum) is signal.SIG_IGN:
                continue
            installed.append((signum, signal.signal(signum, handler)))
    except ValueError:  # not the main thread: leave signals alone
        pass
    from .._interrupt import holding_signals_on_import

    try:
        # (open_clip, imported by the run only where it needs it, wherever that is: a
        # signal raised halfway through its import was swallowed, and the run went on)
        with holding_signals_on_import(_recorded_while_importing):
            yield
    finally:
        _RUN.ended += 1  # (before the handlers of the caller are back)
        for signum, previous in installed:
            signal.signal(signum, previous)
        _SIGNALLED.clear()
        _RUN.committed = _RUN.committing = False


def _close(word: str, options: Sequence[str], n: int = 5) -> str:
    """`` (close matches: a, b)`` for a misspelt option value, or ``""``.

    The options that the value begins come first, in their order: a tag typed in part
    (``--pretrained laion2b``) is most likely one of them, which spelling distance
    ranks below shorter tags (``laion2b_e16`` before ``laion2b_s34b_b79k``).
    """
    from .._names import close_matches

    typed = word.strip().casefold()
    begun = [o for o in options if o.casefold().startswith(typed)] if typed else []
    found = [*begun, *(o for o in close_matches(word, options, n=n) if o not in begun)][:n]
    return f" (close matches: {', '.join(found)})" if found else ""
