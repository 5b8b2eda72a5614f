"""Image inputs for :class:`sksplice.embedders.CLIPEmbedder`.

This module turns the image inputs a user may hand to an embedder (file paths,
PIL images, ``uint8`` arrays) into RGB PIL images, and checks a whole input
sequence up front so that type mistakes are reported before any work is done.

Errors about one input item carry its position: the loaders raise one of
:class:`FileNotFoundError`, :class:`IsADirectoryError` or
:class:`InvalidImageError`, and the embedder adds the index of the item.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._image_files import broken_link, file_being_read, from_pil, reading
from ._names import a_type
from ._stack import warn_user
from .exceptions import ImageFileWarning, InvalidImageError

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = [
    "ImageFileWarning",
    "InvalidImageError",
    "check_image_items",
    "describe_item",
    "first_missing_file",
    "item_kind",
    "load_rgb",
    "to_item_list",
]

#: Errors that concern the content of one input item; ``on_error="skip"``
#: skips items that fail with one of these.
ITEM_ERRORS: tuple[type[Exception], ...]

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


ITEM_ERRORS = (FileNotFoundError, IsADirectoryError, InvalidImageError)


#: The warnings about image files collected in this thread (see :func:`collected_warnings`).
_collecting = threading.local()


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[ImageFileWarning]]:
    """Collect, in this thread, the warnings about the image files read in the block.

    Each is kept as an :class:`ImageFileWarning` naming its file, instead of being
    shown: the caller issues them where the user's code can see them (threads and
    worker processes decode images where no caller's line is). PIL's warnings are
    collected where :func:`pil_warnings_caught` is active.
    """
    before = getattr(_collecting, "found", None)
    found: list[ImageFileWarning] = []
    _collecting.found = found
    try:
        yield found
    finally:
        _collecting.found = before


def _file_warning(path: str, text: str, origin: tuple[Any, ...] | None = None) -> None:
    """Collect an :class:`ImageFileWarning` where the thread collects them, else issue it.

    ``origin`` is ``(text, category, module, lineno)`` of the warning of PIL's it stands
    for: the caller's filters are applied to that when it is issued
    (:func:`issue_file_warnings`).
    """
    found = getattr(_collecting, "found", None)
    warning = ImageFileWarning(path, text)
    warning._origin = origin
    if found is None:
        issue_file_warnings([warning])
    elif not any(w.path == path and w.text == text for w in found):
        found.append(warning)


def issue_file_warnings(found: Sequence[ImageFileWarning]) -> None:
    """Issue collected warnings about image files, in this (the caller's) thread.

    One that stands for a warning of PIL's first meets the filters PIL's warning would
    have met: one the caller ignores (``filterwarnings("ignore", module="PIL")``, or by
    its text) is dropped, one the caller makes an error is raised; the others are
    issued as :class:`ImageFileWarning`, at the caller's line, under the caller's filters.
    """
    for warning in found:
        origin = getattr(warning, "_origin", None)
        if origin is not None:
            action = _their_action(*origin)
            if action == "ignore":
                continue
            if action == "error":
                raise warning
        warn_user(warning)


def _pil_module(filename: str) -> str:
    """The module of PIL's that ``filename`` is, as ``warnings.warn`` names it
    (``PIL.TiffImagePlugin``)."""
    parts = os.path.splitext(os.path.normpath(filename))[0].split(os.sep)
    return ".".join(parts[parts.index("PIL") :]) if "PIL" in parts else "PIL"


class _Routing:
    """The state of :func:`pil_warnings_caught`, shared by the calls that overlap (threads
    of a Dask task each embedding images): installed by the first, removed by the last."""

    lock = threading.Lock()
    depth = 0
    #: ``warnings.showwarning`` before the routing, to which every other warning goes.
    previous: Callable[..., Any] | None = None
    #: The filter put first (``"always"`` for PIL's UserWarnings), left out wherever the
    #: caller's filters are asked what they would do.
    entry: Any = None
    #: PIL's warnings shown once per the caller's "default", "module" or "once" filters.
    shown: ClassVar[set[tuple[Any, ...]]] = set()


def _their_action(text: str, category: type[Warning], module: str, lineno: int) -> str:
    """The action the caller's filters give a warning (the routing's own filter left out)."""
    from ._stack import _action

    theirs = [f for f in warnings.filters if f is not _Routing.entry]
    return _action(text, category, module, lineno, theirs)


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` while images are decoded (:func:`pil_warnings_caught`)."""
    previous = _Routing.previous or warnings._showwarning_orig  # type: ignore[attr-defined]
    if not from_pil(filename):
        previous(message, category, filename, lineno, file, line)
        return
    text, module = str(message), _pil_module(filename)
    path = file_being_read()
    if path is not None and getattr(_collecting, "found", None) is not None:
        # (the caller decides with its filters when it issues it: issue_file_warnings)
        _file_warning(path, " ".join(text.split()), (text, category, module, lineno))
        return
    # A warning of PIL's that no collection takes (a PIL image given in memory, another
    # thread's work): shown as the caller's filters say, which the routing's "always"
    # filter took the place of
    action = _their_action(text, category, module, lineno)
    if action == "ignore":
        return
    if action == "error":
        raise message if isinstance(message, Warning) else category(message)
    if action in ("default", "module", "once"):
        if action == "default":
            key: tuple[Any, ...] = (text, category, module, lineno)
        elif action == "module":
            key = (text, category, module)
        else:
            key = (text, category)
        with _Routing.lock:
            if key in _Routing.shown:
                return
            _Routing.shown.add(key)
    previous(message, category, filename, lineno, file, line)


@contextlib.contextmanager
def pil_warnings_caught() -> Iterator[None]:
    """Route PIL's warnings about the file a thread reads to that thread's collection.

    PIL warns about damaged data without naming the file, and Python's default
    filter shows a warning once per text and line, so that of a second damaged
    file would not be shown at all. While the block runs, each of PIL's
    warnings issued in a thread that collects (:func:`collected_warnings`) and
    reads a file (:func:`~sksplice._image_files.reading`) is collected, for the
    caller to issue (:func:`issue_file_warnings`, which applies the caller's
    filters); any other warning is shown as the caller's filters say. Entered by
    the thread that starts the decoding, around all of it. The warnings module's
    settings are the process's: overlapping blocks (threads each embedding
    images) share one routing, put in place by the first and taken away by the
    last, which removes only what it put in place (the filter and the function
    that shows warnings, where it is still the routing's).
    """
    with _Routing.lock:
        if _Routing.depth == 0:
            _Routing.previous = warnings.showwarning
            warnings.filterwarnings("always", category=UserWarning, module=r"PIL(\.|$)")
            _Routing.entry = warnings.filters[0]
            warnings.showwarning = _show
        _Routing.depth += 1
    try:
        yield
    finally:
        with _Routing.lock:
            _Routing.depth -= 1
            if _Routing.depth == 0:
                with contextlib.suppress(ValueError):
                    cast("list[Any]", warnings.filters).remove(_Routing.entry)
                mutated = getattr(warnings, "_filters_mutated", None)
                if mutated is not None:  # (Python's record of what it has shown: reset)
                    mutated()
                if warnings.showwarning is _show:
                    warnings.showwarning = _Routing.previous  # type: ignore[assignment]
                _Routing.previous = _Routing.entry = None


def to_item_list(X: Any, *, what: str) -> list[Any]:
    """Turn a container of inputs into a plain list of items.

    Parameters
    ----------
    X : sequence, numpy array, pandas Series or single-column DataFrame
        The inputs. A ``uint8`` array of shape (n, H, W) or (n, H, W, C) is
        *not* accepted as a stack because (H, W, 3) would be ambiguous; a
        4-D ``uint8`` array (n, H, W, C) is split into n images.
    what : str
        Name of the inputs in error messages, e.g. ``"images"``.

    Returns
    -------
    list
        The items, in order.

    Raises
    ------
    TypeError
        If ``X`` is a single item (a string, a path or a PIL image), not a
        sequence, a set or a mapping (no order of rows) or a SciPy sparse matrix.
    ValueError
        If ``X`` is a multi-column table or an array of a shape that cannot
        hold a sequence of items, or if it is empty.
    """
    if what == "images" and isinstance(X, (str, os.PathLike)) and os.path.isdir(X):
        raise TypeError(
            f"expected a sequence of {what}, got the folder {os.fspath(X)!r}: pass the "
            "image files it holds, e.g. sorted(str(p) for p in pathlib.Path(folder).iterdir() "
            "if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))"
        )
    if isinstance(X, (str, bytes, os.PathLike, Image.Image)):
        raise TypeError(
            f"expected a sequence of {what}, got a single {type(X).__name__}; "
            "wrap it in a list, e.g. [x]"
        )
    if isinstance(X, (set, frozenset, Mapping)):
        # (in no order of rows: a set's changes with PYTHONHASHSEED; a dict gives its keys)
        fix = "sorted(...)" if isinstance(X, (set, frozenset)) else "list(d.values()) or list(d)"
        raise TypeError(
            f"expected a sequence of {what}, got a {type(X).__name__}, which has no order of "
            f"rows to match labels or other inputs by: give a list ({fix})"
        )
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"expected a sequence of {what}, got a sparse {type(X).__name__} (embeddings?): "
            f"an embedder takes the {what} themselves"
        )
    if hasattr(X, "to_numpy") and hasattr(X, "shape"):  # pandas Series / DataFrame
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        items = _array_to_items(X, what=what)
    else:
        try:
            items = list(X)
        except TypeError:
            raise TypeError(
                f"expected a sequence of {what} (list, tuple, numpy array or pandas "
                f"Series), got {type(X).__name__}"
            ) from None
    if not items:
        raise ValueError(f"got an empty input: at least one of the {what} is needed")
    return items


def _array_to_items(X: np.ndarray, *, what: str) -> list[Any]:
    if X.dtype.kind in "OUS":
        if X.ndim == 1:
            return list(X)
        if X.ndim == 2 and X.shape[1] == 1:
            return list(X[:, 0])
        raise ValueError(
            f"expected a 1-D array (or a single column) of {what}, got an array of shape {X.shape}"
        )
    if X.ndim == 4:
        return list(X)
    if X.ndim == 0:
        raise TypeError(f"expected a sequence of {what}, got a 0-d array")
    raise ValueError(
        f"cannot read a numeric array of shape {X.shape} as a sequence of {what}: pass a "
        "list of (H, W) or (H, W, 3) uint8 arrays, or one uint8 array of shape (n, H, W, C)"
    )


def item_kind(item: Any) -> str | None:
    """Kind of one image input: ``"path"``, ``"pil"``, ``"array"`` or None.

    Parameters
    ----------
    item : object
        One input item.

    Returns
    -------
    str or None
        None when the item is of no supported type.
    """
    if isinstance(item, (str, os.PathLike)):
        return "path"
    if isinstance(item, Image.Image):
        return "pil"
    if isinstance(item, np.ndarray):
        return "array"
    return None


def describe_item(item: Any) -> str:
    """Short human-readable description of an input item for messages.

    Parameters
    ----------
    item : object
        One input item.

    Returns
    -------
    str
        The path for path items, a summary for images and arrays.
    """
    kind = item_kind(item)
    if kind == "path":
        return repr(os.fspath(item))
    if kind == "pil":
        return f"<PIL image mode={item.mode} size={item.size[0]}x{item.size[1]}>"
    if kind == "array":
        return f"<array shape={item.shape} dtype={item.dtype}>"
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."


def check_image_items(items: Sequence[Any], *, text_hint: str, share: bool = False) -> None:
    """Check the types of a sequence of image inputs before any decoding.

    Parameters
    ----------
    items : sequence
        The image inputs.
    text_hint : str
        Advice added to the error raised when the items look like texts
        (strings none of which is an existing file).
    share : bool, default=False
        The items are a share of a larger collection (a task's): strings none of
        which exists are not taken for texts (the others may exist); the missing
        files are told one by one, by their rows of the collection.

    Raises
    ------
    TypeError
        At the first item of an unsupported type, the first item whose kind
        differs from the first item's (mixed types), or the first array that
        is not ``uint8``. The message names the index.
    ValueError
        At the first array of an unsupported shape, or when every item is a
        string and none of them is an existing path (texts given to an image
        embedder).
    """
    first_kind = item_kind(items[0])
    for index, item in enumerate(items):
        kind = item_kind(item)
        if kind is None:
            raise TypeError(
                f"input {index} is {a_type(item)} ({describe_item(item)}); image "
                "inputs must be file paths (str or os.PathLike), PIL images or uint8 arrays"
            )
        if kind != first_kind:
            # (cast: input 0 is of a known kind, or the loop would have stopped there)
            raise TypeError(
                f"mixed input types: input 0 is a {_KIND_NAMES[cast(str, first_kind)]} but input "
                f"{index} is a {_KIND_NAMES[kind]} ({describe_item(item)}); pass one kind "
                "of image input per call"
            )
        if kind == "array":
            _check_array(item, index)
    if (
        first_kind == "path"
        and not share
        and not any(os.path.exists(os.fspath(item)) for item in items)
    ):
        sample = describe_item(items[0])
        raise ValueError(
            f"none of the {len(items)} string or path inputs is an existing file or folder "
            f"(input 0 is {sample}). If they are texts, {text_hint}; if they are image "
            f"paths, check them (relative paths start at {os.getcwd()!r})"
        )


_KIND_NAMES = {"path": "file path", "pil": "PIL image", "array": "numpy array"}


def _check_array(array: np.ndarray, index: int) -> None:
    if array.dtype != np.uint8:
        raise TypeError(
            f"input {index} is an array of dtype {array.dtype}; image arrays must be uint8 "
            "with values 0..255 (for floats in [0, 1] use (x * 255).round().astype(np.uint8))"
        )
    ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    if not ok or 0 in array.shape:
        raise ValueError(
            f"input {index} is an array of shape {array.shape}; image arrays must have shape "
            "(H, W) for grayscale or (H, W, 3) for RGB (also (H, W, 1) and (H, W, 4) RGBA), "
            "with H, W > 0"
        )


def load_rgb(item: Any, *, shrink_to: int | None = None) -> Image.Image:
    """Load one image input as an RGB PIL image.

    Files are opened with PIL, rotated according to their EXIF orientation
    and converted to RGB; a PIL image is rotated by the orientation tag it
    carries (that of the file it was opened from), so that it gives the
    image of its file. Grayscale, palette (with or without transparency),
    RGBA, CMYK and 16-bit images are supported; 16-bit values are scaled to
    8 bits (divided by 257). Alpha is dropped, as open_clip's own
    preprocessing does.

    Parameters
    ----------
    item : str, os.PathLike, PIL.Image.Image or numpy.ndarray
        One image input (already type-checked by :func:`check_image_items`).
    shrink_to : int, optional
        For a file: let the decoder shrink the image while it decodes it, as
        long as both sides stay at least this long (a JPEG decodes at 1/2,
        1/4 or 1/8 of its size, several times faster): for thumbnails. Other
        formats, and other inputs, are decoded whole.

    Returns
    -------
    PIL.Image.Image
        A new, fully loaded RGB image.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    IsADirectoryError
        If a path is a directory.
    InvalidImageError
        If a file cannot be read or decoded, is truncated, or has more
        pixels than ``PIL.Image.MAX_IMAGE_PIXELS``.
    """
    kind = item_kind(item)
    if kind == "path":
        return _load_file(os.fspath(item), shrink_to)
    if kind == "pil":
        try:
            # (turned upright as its file is: Image.open(path) gives the embedding of path)
            return _to_rgb(_upright(item), declared_by=item)
        except Exception as exc:  # a lazily loaded image may fail to decode here
            raise InvalidImageError(f"the PIL image could not be converted: {exc}") from exc
    if kind == "array":
        return _to_rgb(_array_to_pil(item))
    raise TypeError(f"unsupported image input of type {type(item).__name__}")


#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation tag says (``image`` itself without one).

    A PIL image keeps the tag of the file it was opened from (also through
    ``convert``, ``resize`` or pickling), as viewers and :func:`_load_file` read
    it; an image already turned by ``ImageOps.exif_transpose`` has none left.
    """
    try:
        if image.getexif().get(_ORIENTATION, 1) in (None, 1):
            return image
        return ImageOps.exif_transpose(image)
    except Exception as exc:  # (damaged EXIF data: PIL raises SyntaxError, ValueError...)
        warn_user(f"a PIL image: {_exif_text(exc)}")
        return image


def _exif_text(exc: Exception) -> str:
    """What is said of an image whose EXIF data could not be read (``exc``: why)."""
    return (
        f"its EXIF data could not be read ({type(exc).__name__}: {exc}); the image is "
        "embedded as stored, not turned by an EXIF orientation (re-save it to drop the "
        "damaged data)"
    )


def _turned(image: Image.Image, path: str) -> Image.Image:
    """``image`` (opened from ``path``) turned as its EXIF orientation says; as stored,
    with a warning naming the file, when its EXIF data cannot be read."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception as exc:
        _file_warning(path, _exif_text(exc))
        return image


def _missing_file(path: str) -> OSError | None:
    """The error of a ``path`` that is a folder or does not exist; None otherwise."""
    if os.path.isdir(path):
        return IsADirectoryError(
            f"{path!r} is a directory, not an image file: pass the image files it holds"
        )
    if not os.path.exists(path):
        problem = broken_link(path)
        if problem is not None:
            return FileNotFoundError(
                f"{path!r} is {problem}; point the link at the image file, or remove it"
            )
        return FileNotFoundError(f"image file not found: {path!r}")
    return None


def first_missing_file(items: Sequence[Any]) -> tuple[int, OSError] | None:
    """The first path of ``items`` that does not exist or is a folder, and its error.

    What :func:`load_rgb` would raise for it, found by looking at the paths only
    (no file is opened): a list of images whose last one is missing is refused
    before the others are decoded and embedded. None when every path names
    something that is not a folder (or ``items`` holds no paths).
    """
    for index, item in enumerate(items):
        if item_kind(item) != "path":
            return None  # (one kind per call: checked by check_image_items)
        error = _missing_file(os.fspath(item))
        if error is not None:
            return index, error
    return None


def _load_file(path: str, shrink_to: int | None = None) -> Image.Image:
    missing = _missing_file(path)
    if missing is not None:
        raise missing
    try:
        # (a warning of PIL's about this file is told with its name: see reading())
        with reading(path), Image.open(path) as opened:
            _check_pixel_limit(opened, path)
            if shrink_to is not None:
                opened.draft(None, (shrink_to, shrink_to))  # (JPEG only; others: no-op)
            opened.load()
            oriented = _turned(opened, path)
            # (the turned copy has lost the file's tags, which may declare its depth)
            return _to_rgb(oriented, declared_by=opened)
    except Image.DecompressionBombError as exc:
        # (PIL refuses twice its limit while opening: its message has the pixel count)
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else None
        raise InvalidImageError(_bomb_message(path, None, pixels)) from exc
    except Image.DecompressionBombWarning as exc:  # warnings turned into errors by the user
        raise InvalidImageError(_bomb_message(path, None)) from exc
    except UnidentifiedImageError as exc:
        if _empty_file(path):  # (an interrupted download or copy)
            raise InvalidImageError(f"{path!r} is an empty file (0 bytes)") from exc
        raise InvalidImageError(
            f"{path!r} is not an image file PIL can read{_array_file_hint(path)}"
        ) from exc
    except InvalidImageError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            # (the system's error, EACCES or EIO: the file may be whole, and unreadable)
            raise InvalidImageError(_unreadable_message(path, exc)) from exc
        # PIL reports truncated data as OSError("image file is truncated ..."),
        # broken headers as SyntaxError or ValueError, broken EXIF data in
        # various ways: whatever fails while decoding one file is a bad file.
        raise InvalidImageError(
            f"{path!r} could not be decoded (truncated or corrupt?): {exc}"
        ) from exc


def _unreadable_message(path: str, exc: OSError) -> str:
    """The message of a file that the system could not read (``exc``: its error)."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        advice = "; check its permissions (and those of the folders above it)"
    elif exc.errno == errno.EIO:
        advice = "; the disk or network drive that holds it may be failing"
    else:
        advice = ""
    return f"{path!r} could not be read ({reason}){advice}"


#: Files of arrays (embeddings computed already, say) that a user may give in place of images.
_ARRAY_SUFFIXES = frozenset({".npy", ".npz", ".pt", ".pth", ".parquet", ".h5", ".hdf5"})


#: Compressions a file of arrays may come in (``emb.npy.gz``), with the command that
#: undoes each.
_DECOMPRESSORS = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zst": "unzstd"}


def _array_file_hint(path: str) -> str:
    """What to do with a file of arrays given as an image (nothing for other files),
    also compressed (``emb.npy.gz``: decompressed first)."""
    stem, suffix = os.path.splitext(str(path))
    suffix = suffix.lower()
    tool = _DECOMPRESSORS.get(suffix)
    first = ""
    if tool is not None and os.path.splitext(stem)[1].lower() in _ARRAY_SUFFIXES:
        # (read as an image, it was "not an image file PIL can read", and skipped)
        suffix = os.path.splitext(stem)[1].lower()
        first = f"decompress it first ({tool} {os.path.basename(str(path))}); "
    if suffix not in _ARRAY_SUFFIXES:
        return ""
    holds = "a table" if suffix == ".parquet" else "arrays"
    compressed = "compressed " if first else ""
    return (
        f" (a {compressed}{suffix} file holds {holds}, not a picture: {first}embeddings "
        "computed already are decomposed without embedding them again, by "
        "SpliceTransformer(...).fit_transform(X) in Python with X read from the file)"
    )


def _empty_file(path: str) -> bool:
    """Whether ``path`` is a regular file of 0 bytes (a pipe reads as 0 bytes too)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _check_pixel_limit(image: Image.Image, path: str) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    width, height = image.size
    if limit is not None and width * height > limit:
        raise InvalidImageError(_bomb_message(path, (width, height)))


def _bomb_message(path: str, size: tuple[int, int] | None, n_pixels: int | None = None) -> str:
    if size:
        pixels = f" has {size[0]} x {size[1]} = {size[0] * size[1]:,} pixels and"
    else:
        pixels = f" has {n_pixels:,} pixels and" if n_pixels else ""
    return (
        f"{path!r}{pixels} exceeds PIL's decompression-bomb limit "
        f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}); if you trust this file, "
        "raise that limit before embedding it (in Python, set PIL.Image.MAX_IMAGE_PIXELS; "
        "on the command line, --max-image-pixels)"
    )


def _array_to_pil(array: np.ndarray) -> Image.Image:
    array = np.ascontiguousarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    # A 2-D uint8 array becomes mode "L", (H, W, 3) "RGB" and (H, W, 4) "RGBA".
    return Image.fromarray(array)


def _full_scale(image: Image.Image | None, values: np.ndarray) -> float:
    """The value of white in a 32-bit integer image (mode ``"I"``).

    The depth its file declares (a TIFF's bits per sample, signed or not) when it
    declares one; else 16 bits when every value fits in them (Pillow has opened
    16-bit files as ``"I"``), and the signed 32-bit range when not.
    """
    tags = getattr(image, "tag_v2", None)
    if tags is not None:
        bits = tags.get(258)  # BitsPerSample
        bits = bits[0] if isinstance(bits, tuple) and bits else bits
        if isinstance(bits, int) and 8 <= bits <= 32:
            signed = tags.get(339) in (2, (2,))  # SampleFormat: 2 is a signed integer
            return float(2 ** (bits - 1) - 1 if signed else 2**bits - 1)
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return 65535.0
    return float(2**31 - 1)


def _to_rgb(image: Image.Image, declared_by: Image.Image | None = None) -> Image.Image:
    """``image`` in RGB; ``declared_by`` is the image as opened from its file, whose
    tags may declare the depth of its values (``image`` itself by default)."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(image).astype(np.float64)
        top = 65535.0 if mode != "I" else _full_scale(declared_by or image, values)
        eight_bit = np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(eight_bit).convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if np.nanmax(values, initial=0.0) <= 1.0 else 1.0
        eight_bit = np.clip(np.nan_to_num(values * scale), 0, 255).round().astype(np.uint8)
        return Image.fromarray(eight_bit).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def load_and_preprocess(
    item: Any, preprocess: Callable[[Any], Any], lock: threading.Lock | None = None
) -> tuple[Any, Exception | None, list[ImageFileWarning]]:
    """Decode one image item and preprocess it: ``(tensor, None, warnings)`` or
    ``(None, error, warnings)``, with the warnings about its file collected
    (:func:`collected_warnings`). ``lock`` is held while the item is decoded (a PIL
    image may still be unloaded: never decode one object in two threads at once)."""
    with collected_warnings() as found:
        try:
            with lock if lock is not None else contextlib.nullcontext():
                image = load_rgb(item)
        except ITEM_ERRORS as exc:
            return None, exc, found
        try:
            return preprocess(image), None, found
        except Exception as exc:
            return None, InvalidImageError(f"preprocessing failed: {exc}"), found


class DecodedBatch(NamedTuple):
    """One batch of decoded and preprocessed images, in input order.

    Attributes
    ----------
    start : int
        Index of the batch's first item in the input.
    size : int
        Number of items in the batch.
    tensors : torch.Tensor or None
        The preprocessed images of the items that loaded, stacked (None when
        none did).
    rows : list of int
        Offsets, within the batch, of the items in ``tensors``.
    errors : list of (int, Exception)
        Offset and error of each item that could not be loaded.
    warnings : list of ImageFileWarning
        The warnings about the batch's files, in input order, for the caller to
        issue.
    """

    start: int
    size: int
    tensors: Any
    rows: list[int]
    errors: list[tuple[int, Exception]]
    warnings: list[ImageFileWarning]


def collate_decoded(
    results: Sequence[tuple[Any, Exception | None, list[ImageFileWarning]]], start: int = 0
) -> DecodedBatch:
    """Stack the tensors of one batch of :func:`load_and_preprocess` results."""
    import torch

    rows = [offset for offset, (_, error, _) in enumerate(results) if error is None]
    errors = [(offset, error) for offset, (_, error, _) in enumerate(results) if error is not None]
    tensors = torch.stack([results[offset][0] for offset in rows]) if rows else None
    found = [warning for _, _, told in results for warning in told]
    return DecodedBatch(start, len(results), tensors, rows, errors, found)


#: What :func:`load_and_preprocess` gives for one item.
_Decoded = tuple[Any, Exception | None, list[ImageFileWarning]]


def start_method() -> str:
    """How worker processes start (``"fork"``, ``"spawn"``, ``"forkserver"``), without
    fixing it as :func:`multiprocessing.get_start_method` does when none is set yet."""
    import multiprocessing

    chosen = multiprocessing.get_start_method(allow_none=True)
    return chosen or multiprocessing.get_all_start_methods()[0]  # (else the platform's default)


def _added_formats() -> list[tuple[str, bytes, list[str]]]:
    """The image formats other packages registered with PIL in this process
    (``pillow_heif.register_heif_opener()``), in PIL's order, for workers that start
    afresh: ``(format, pickled (factory, accept), extensions)``, those whose factory
    pickles (by reference; an ``accept`` that does not, a lambda, is left out: PIL then
    tries the factory on files that no other format takes)."""
    import pickle

    added = []
    for fmt in list(Image.ID):
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None or str(getattr(factory, "__module__", "")).startswith("PIL."):
            continue  # (PIL's own: every process has them)
        for opener in ((factory, accept), (factory, None)):
            try:
                pickled = pickle.dumps(opener)
            except Exception:  # (made in a function, a lambda)
                continue
            extensions = [ext for ext, named in Image.EXTENSION.items() if named == fmt]
            added.append((fmt, pickled, extensions))
            break
    return added


#: Whether this worker process registered the caller's formats (once per process).
_FORMATS_ADDED: list[bool] = []


class _DecodeDataset:
    """Map-style dataset for :class:`torch.utils.data.DataLoader` worker processes."""

    def __init__(self, items: Sequence[Any], preprocess: Callable[[Any], Any]) -> None:
        from PIL import ImageFile

        self.items = items
        self.preprocess = preprocess
        # What the caller set up in PIL, for workers that start afresh (spawn, forkserver),
        # which would not have it: the decompression-bomb limit, whether files cut short
        # are read, and the formats other packages registered.
        self.max_image_pixels = Image.MAX_IMAGE_PIXELS
        self.load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        self.formats = _added_formats()

    def __len__(self) -> int:
        return len(self.items)

    def _as_in_caller(self) -> None:
        from PIL import ImageFile

        if self.max_image_pixels != Image.MAX_IMAGE_PIXELS:
            Image.MAX_IMAGE_PIXELS = self.max_image_pixels
        if self.load_truncated != ImageFile.LOAD_TRUNCATED_IMAGES:
            ImageFile.LOAD_TRUNCATED_IMAGES = self.load_truncated
        if self.formats and not _FORMATS_ADDED:
            import pickle

            Image.init()  # (PIL's own formats first, as in the caller)
            for fmt, pickled, extensions in self.formats:
                if fmt in Image.OPEN:
                    continue
                try:
                    factory, accept = pickle.loads(pickled)
                except Exception:  # (a class of a notebook's __main__: not importable here)
                    continue  # (that format's files fail as unreadable; the others decode)
                Image.register_open(fmt, factory, accept)
                Image.register_extensions(fmt, extensions)
            _FORMATS_ADDED.append(True)

    def __getitem__(self, index: int) -> tuple[Any, Exception | None, list[ImageFileWarning]]:
        self._as_in_caller()
        # (a worker decodes one item at a time: its warnings go back with the item)
        with pil_warnings_caught():
            return load_and_preprocess(self.items[index], self.preprocess)


def process_decoded_batches(
    items: Sequence[Any],
    preprocess: Callable[[Any], Any],
    batch_size: int,
    num_workers: int,
) -> Generator[DecodedBatch, None, None]:
    """Yield one :class:`DecodedBatch` per batch, decoded in worker processes.

    A :class:`torch.utils.data.DataLoader` with ``num_workers`` processes, each
    decoding, preprocessing and stacking whole batches (so that a batch comes
    back as one tensor in shared memory, as in a plain DataLoader loop), two
    batches ahead per worker; batches come back in input order. Errors are
    returned per item, as by the thread-based path.
    """
    from torch.utils.data import DataLoader

    # (a map-style dataset needs only __getitem__ and __len__, not to be a Dataset)
    dataset = cast("Dataset[_Decoded]", _DecodeDataset(items, preprocess))
    loader: DataLoader[_Decoded] = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_decoded,
    )
    start = 0
    try:
        for batch in loader:
            yield batch._replace(start=start)
            start += batch.size
    except RuntimeError as exc:
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if "exited unexpectedly" not in str(exc) or start_method() == "fork" or not script:
            raise
        # (a worker started afresh imports the caller's script: one that embeds at its
        # top level, unguarded, fails in every worker, the reason deep in their output)
        raise RuntimeError(
            f"{exc}. Worker processes start afresh here ({start_method()!r} start method, "
            f"as on macOS and Windows) by importing the main script, {script}: if it embeds "
            "images at its top level, each worker does so again and fails; embed under "
            "if __name__ == '__main__': (or pass num_workers=0, threads of this process)"
        ) from exc
