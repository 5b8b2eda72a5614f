"""The ``sksplice`` command: concept decompositions, class profiles and HTML reports.

Standard output carries only results; progress, information, warnings and
errors go to standard error through one logging handler.

Exit codes: 0 on success (also when the reader of standard output closes it
early, ``sksplice ... | head``: the rest is not written, and a line on standard
error says so), 2 for a wrong command line (an unknown option, a
value that is not valid, an input or labels file that does not exist; all
found before any work), 1 for errors of the run, each reported as one line
naming the file or setting at fault (a traceback only with ``--debug``), 130
when interrupted (Ctrl-C), 143 when terminated (SIGTERM) and 129 when hung up
(SIGHUP: the terminal closed); an output file is then left as it was and the
records finished so far are kept in ``FILE.partial``. A signal once the output is in place leaves
the run complete; a standard error that fails costs only the messages.
:func:`main` puts back the signal handlers it found; the console script
(``sksplice._console``) covers the start and the end of the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence

from ._inputs import IMAGE_EXTENSIONS, collect_images
from ._logging import CLIError as CLIError
from ._logging import (
    UsageError,
    _interruption,
    _reader_gone,
    _signals_as_interrupt,
    _stderr_logging,
    raise_if_signalled,
)
from ._parser import build_parser as build_parser
from ._parser import output_format, parse_command_line

__all__ = ["IMAGE_EXTENSIONS", "CLIError", "collect_images", "main"]

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sksplice`` command.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        The exit status: 0 also after ``--help`` and ``--version``, 2 for a wrong
        command line (whose message is on stderr), 1 for an error of the run, 130
        after Ctrl-C, 143 after SIGTERM and 129 after SIGHUP (see the module's
        docstring, and "Errors and exit codes" in the command-line guide).
    """
    try:
        args = parse_command_line(argv)
        if hasattr(args, "format"):
            # (the extension's warning waits for the command line to be accepted)
            args.format_from_extension = args.format is None
            args.format = output_format(args.format, getattr(args, "output", None))
    except SystemExit as exc:
        # (argparse ends the process for --help, --version and a wrong command line;
        # a program that calls main gets the status, as the docstring says)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    limit = _pixel_limit(getattr(args, "max_image_pixels", None))
    from .._data import checkpoint_digests_kept

    # (a --pretrained FILE is hashed once, not by every run: read back from the cache)
    digests = checkpoint_digests_kept(getattr(args, "cache_dir", None))
    logging_of_run = _stderr_logging(args.quiet, args.debug, getattr(args, "data_home", None))
    from .._model_names import own_centre

    # (weights that cannot be fetched are said with what a file in their stead needs:
    # the published mean only for a run centred by it, not by a file or its own images)
    centre = own_centre(getattr(args, "image_mean", "auto") not in ("auto", "pretrained"))
    with logging_of_run, _signals_as_interrupt(), limit, digests, centre:
        # (--debug adds the traceback to the error line)
        try:
            code = int(args.func(args))
            if code == 0:  # (a command that met the interruption has said so: 130, 143, 129)
                raise_if_signalled()  # a Ctrl-C that library code swallowed
            return code
        except KeyboardInterrupt as exc:
            code, said = _interruption(exc)
            embedded = getattr(exc, "_sksplice_embedded", None)
            if embedded is not None:
                # (profile, compare, report: their output comes once every image is
                # decomposed; decompose says what it kept itself)
                from ._decompose import interrupted_embedding

                said += f" {interrupted_embedding(embedded)}: nothing was written"
            elif getattr(args, "command", None) in ("search", "profile", "compare", "report"):
                said += ": nothing was written"  # (they write their output once at the end)
            logger.error("%s", said)
            return code
        except UsageError as exc:
            logger.error("%s", _one_line(exc), exc_info=exc if args.debug else None)
            return 2
        except BrokenPipeError as exc:
            if not (getattr(exc, "_sksplice_noted", False) or _reader_gone()):
                # (a broken pipe of something else: a worker process, a socket)
                logger.error("%s", _one_line(exc), exc_info=exc if args.debug else None)
                return 1
            # The reader of our output went away (``sksplice ... | head``): it has what it
            # asked for, so this is a success (exit 0, as ``head`` expects of a writer),
            # with a line on standard error saying where the output stopped.
            from ._decompose import _note_closed_output

            _note_closed_output(exc, "standard output")
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except Exception as exc:
            message = _one_line(exc)
            typed = getattr(args, "pretrained", None)
            if _wrong_checkpoint(exc) and isinstance(typed, str):
                # (the file as the command line names it, as the checks before the run do,
                # not as the library resolved it)
                resolved = os.path.abspath(os.path.expanduser(typed))
                message = message.replace(f"pretrained={resolved!r}", f"pretrained={typed!r}", 1)
            logger.error("%s", message, exc_info=_whole_chain(exc) if args.debug else None)
            return 2 if _wrong_checkpoint(exc) else 1


def _whole_chain(exc: BaseException) -> BaseException:
    """``exc`` with every error behind it shown in its traceback (``--debug``).

    The library says some errors in one message and keeps the errors behind them as
    ``__context__`` without printing them (a download that failed: the errors of
    requests and urllib3); a debugging run shows them all.
    """
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if error.__cause__ is None and error.__context__ is not None:
            error.__suppress_context__ = False
        error = error.__cause__ or error.__context__
    return exc


def _wrong_checkpoint(exc: BaseException) -> bool:
    """Whether ``exc`` says the ``--pretrained`` file is no checkpoint open_clip can load.

    Found when the model is loaded, before any image is embedded: a wrong command
    line (exit code 2) like the files refused by the checks, which only read the
    start of the file.
    """
    models = sys.modules.get("sksplice._models")  # (loaded if a model was)
    return models is not None and isinstance(exc, models.CheckpointFormatError)


@contextlib.contextmanager
def _pixel_limit(pixels: int | None) -> Iterator[None]:
    """PIL's decompression-bomb limit for the run (``--max-image-pixels``; 0: none)."""
    if pixels is None:
        yield
        return
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixels or None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


#: A terminal's control sequence (``ESC [ 1 m``: bold), as torch puts in some messages.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, without a terminal's control sequences."""
    # (An OSError's "[Errno 13] " says nothing a user can act on.)
    text = re.sub(r"^\[Errno \d+\] ", "", str(exc).strip())
    text = _ESCAPE_SEQUENCE.sub("", text)
    return " ".join(text.split()) if text else type(exc).__name__
