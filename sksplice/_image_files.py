"""Which files are taken for images (no imports beyond the standard library, so that the
command line reads it without numpy or PIL)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

#: File extensions taken for images (lower case): those that every build of Pillow
#: decodes (``.jfif`` and ``.jpe`` are JPEG, ``.pbm`` and ``.pnm`` Netpbm).
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".bmp",
        ".gif",
        ".webp",
        ".tif",
        ".tiff",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    }
)


def looks_like_image_paths(texts: Sequence[str], n_checked: int = 20) -> str | None:
    """An existing image file among ``texts`` when every text names an image file
    (ends with an image extension), else None. Only the first ``n_checked`` texts
    are looked up on disk."""
    if not texts or not all(os.path.splitext(t)[1].lower() in IMAGE_EXTENSIONS for t in texts):
        return None
    return next((t for t in texts[:n_checked] if os.path.isfile(t)), None)


def undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes of a file name that are not valid UTF-8 (which Python
    keeps as lone surrogates, ``"\\udcff"`` for the byte ``0xff``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def not_utf8(text: str) -> bool:
    """Whether the file name ``text`` is of bytes that are not valid UTF-8 (not only held
    as surrogates, as every non-ASCII byte is where Python reads names as ASCII)."""
    if not undecodable(text):
        return False
    try:
        text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:  # (bytes not of UTF-8, or a surrogate that stands for no byte)
        return True
    return False


def shown_name(text: str) -> str:
    """``text`` as the outputs write a file name: valid UTF-8, undecodable bytes escaped.

    A byte of a file name that is not valid UTF-8 (held by Python as a lone
    surrogate, U+DC80 to U+DCFF) is written as a backslash escape ``\\xNN``
    (``b"bad\\xff.png"`` is written ``bad\\xff.png``), as Python's
    ``name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")``
    does; any other lone surrogate as ``\\uNNNN``. Text without them is returned
    as it is.

    Parameters
    ----------
    text : str
        A file or folder name, or any text holding one.

    Returns
    -------
    str
        The text, valid UTF-8.
    """
    if text.isascii() or not undecodable(text):
        return text
    try:
        # (by the bytes: a name of valid UTF-8 read in another file system encoding, ASCII
        # with PYTHONUTF8=0 and a C locale, holds each byte as a surrogate)
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # (a surrogate that stands for no byte)
        pass
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


#: A lone surrogate of an undecodable byte as ``repr`` writes it (``\udcff``), after an
#: even number of backslashes (an odd one makes the first of them a backslash itself).
_REPR_SURROGATE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def shown_message(text: str) -> str:
    """A message as the outputs write it: a file name in it as :func:`shown_name` writes
    it, also where the message quotes it with ``repr`` (``'bad\\udcff.png'`` becomes
    ``'bad\\xff.png'``)."""
    text = shown_name(text)
    if "\\udc" not in text:
        return text
    return _REPR_SURROGATE.sub(r"\1\\x\2", text)


#: The image file each thread is reading (see :func:`reading`).
_being_read = threading.local()


@contextlib.contextmanager
def reading(path: str) -> Iterator[None]:
    """Mark ``path`` as the file this thread reads while the block runs.

    PIL warns about a damaged file (``Corrupt EXIF data``, ``Truncated File
    Read``) without naming it; a warning shown while the block runs is shown by
    the command line with the name :func:`file_being_read` gives. Threads
    decode images side by side: each keeps its own.
    """
    before = getattr(_being_read, "path", None)
    _being_read.path = path
    try:
        yield
    finally:
        _being_read.path = before


def file_being_read() -> str | None:
    """The image file this thread is reading (in a :func:`reading` block), or None."""
    return getattr(_being_read, "path", None)


def from_pil(filename: str) -> bool:
    """Whether a warning was issued in PIL's code (``filename``: where)."""
    # (the parts as they are written: normcase would lower-case a Windows path)
    return "PIL" in Path(str(filename)).parts


def broken_link(path: str) -> str | None:
    """What is wrong with the symbolic link ``path`` when it leads to nothing.

    ``"a broken symbolic link: it leads to 'x.png', which does not exist"`` (the
    last name reached too, through a chain of links), or ``"a symbolic link in a
    loop: ..."``; None when ``path`` is no link, or leads to a file or folder.
    """
    if not os.path.islink(path) or os.path.exists(path):
        return None
    try:
        target = os.readlink(path)
    except OSError:  # (removed meanwhile)
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"a symbolic link in a loop: it leads to {target!r}, which leads back to it"
        if exc.errno != errno.ENOENT:
            return None  # (removed meanwhile, or a folder above it unreadable)
    else:  # pragma: no cover - (made meanwhile)
        return None
    # (a chain of links: the last name it reaches too)
    chained = os.path.islink(os.path.join(os.path.dirname(path), target))
    through = f", then {os.path.realpath(path)!r}" if chained else ""
    return f"a broken symbolic link: it leads to {target!r}{through}, which does not exist"


@contextlib.contextmanager
def reading_pool(workers: int, name: str) -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    """A pool of ``workers`` threads named ``name`` (``"sksplice-io"``, ``"sksplice-hash"``:
    the readers of input files the command line looks for, see :mod:`sksplice._console`),
    shut down at the end of the block with its pending tasks cancelled.

    Its threads are joined, except after an interruption (a ``KeyboardInterrupt``, as
    the command line raises for SIGTERM and SIGHUP too): one blocked in ``open()`` of a
    named pipe that no one writes to would hold the run for good.
    """
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=name)
    interrupted = False
    try:
        yield pool
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
