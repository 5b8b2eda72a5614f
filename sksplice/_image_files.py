"""Which files are taken for images (no imports beyond the standard library, so that the
command line reads it without numpy or PIL)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

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
