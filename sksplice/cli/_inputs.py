"""Inputs of the command: image files and folders, labels, the two collections of compare."""

from __future__ import annotations

import argparse
import codecs
import logging
import os
import stat
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .._image_files import IMAGE_EXTENSIONS, broken_link, not_utf8, shown_name
from .._images import _array_file_hint as _library_array_hint
from .._names import natural_key
from .._validation import alike_labels, alike_labels_message
from ._logging import CLIError
from ._output import _printable, plural

logger = logging.getLogger(__name__)


class _Walk(NamedTuple):
    """What a walk of a folder found, each list sorted."""

    images: list[Path]
    """The files with an image extension: the images read."""
    others: list[Path]
    """The files without an image extension (hidden ones are not counted)."""
    hidden: list[Path]
    """The files with an image extension whose name, or a folder's below the walked
    folder, starts with "." (``.ipynb_checkpoints/x.png``, macOS's ``._x.png``)."""
    folders: list[str]
    """The names of the sub-folders walked at the top (the class folders)."""
    unreadable: dict[str, str]
    """The sub-folders that could not be read (their path relative to the walked folder),
    each with the system's reason (``Permission denied``)."""


def other_files(folder: Path) -> list[Path]:
    """The files under ``folder`` that a walk for images leaves out (no image extension),
    sorted; walked as :func:`_walk` does, without its warnings."""
    return _walk(folder, warn=False).others


def _relative(path: str, given: Path) -> str:
    """``path`` (absolute, resolved) relative to the working folder when it is inside it
    and the folder ``given`` on the command line was relative too; else as it is."""
    if given.is_absolute():
        return path
    try:
        relative = os.path.relpath(path)
    except (ValueError, OSError):  # (another drive; a working folder since removed)
        return path
    return path if relative == ".." or relative.startswith(".." + os.sep) else relative


def _array_file_hint(path: str) -> str:
    """What to do with a file of arrays given to a command as an image: a ``.npy`` file
    is read as embeddings by every command given such files alone (nothing for other
    files)."""
    if not path.lower().endswith(".npy"):
        hint = _library_array_hint(path)  # (a compressed .npy file too: decompressed first)
        # (a .npz, .pt, ... file: the command reads embeddings from .npy files)
        return hint.replace(
            "embeddings computed already are decomposed",
            "every command of sksplice reads embeddings computed already from .npy files "
            "(numpy.save writes one); they are also decomposed",
            1,
        )
    return (
        " (a .npy file holds arrays, not a picture: every command of sksplice, given .npy "
        "files alone, decomposes their rows as image embeddings computed already, "
        "as in sksplice decompose emb/*.npy; in Python, SpliceTransformer(...).fit_transform(X) "
        "with X read from the file)"
    )


def _hidden(name: str) -> bool:
    """A hidden name (``.DS_Store``, ``.ipynb_checkpoints``, macOS's ``._x.png``)."""
    return name.startswith(".")


def _walk(folder: Path, warn: bool = True) -> _Walk:
    """The image files and the other files under ``folder``.

    Hidden files and folders (a name starting with ".") are not read: tools and
    systems leave them (``.ipynb_checkpoints/``, macOS's ``._x.png`` resource
    forks, ``.git/``); those with an image extension are counted in ``hidden``.
    Symlinked folders are followed once each: a folder reached again through a
    link (a loop, or a second link to a folder already walked) is not walked
    twice; a warning names the link. Links to missing files with an image
    extension are kept, so that they are reported as unreadable rather than
    dropped. A named pipe, a socket or a device is neither (a warning names it).
    A sub-folder that cannot be read (no permission), and a link without an image
    extension that leads nowhere (a broken link to a class folder), are named in a
    warning; the folder itself unreadable is an error.

    Raises
    ------
    CLIError
        When ``folder`` itself cannot be read.
    """
    found: list[Path] = []
    others: list[Path] = []
    hidden: list[Path] = []
    folders: list[str] = []
    unreadable: dict[str, str] = {}

    def unread(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename is not None else folder
        if where == folder:
            raise CLIError(unreadable_folder(folder, exc))
        unreadable[str(where.relative_to(folder))] = exc.strerror or str(exc)

    seen = {os.path.realpath(folder)}
    # The tree's own folders are read under their own names: a link to one of them (an
    # alias) is not followed, wherever it sorts (else "a_cats_alias" would take the
    # place of "cats", and name its class).
    own = set()
    for top, dirs, _ in os.walk(folder):
        dirs[:] = [name for name in dirs if not _hidden(name)]
        own.add(os.path.realpath(top))
    for step, (top, dirs, files) in enumerate(os.walk(folder, onerror=unread, followlinks=True)):
        keep = []
        for name in sorted(dirs, key=natural_key):
            sub = Path(top) / name
            if _hidden(name):
                # (counted, not read: its links are not followed)
                hidden.extend(
                    Path(t) / f
                    for t, _, fs in os.walk(sub)
                    for f in fs
                    if Path(f).suffix.lower() in IMAGE_EXTENSIONS
                )
                continue
            real = os.path.realpath(sub)
            if real in seen or (real in own and os.path.islink(sub)):
                if warn:
                    logger.warning(
                        "not following %s: it leads to %s, a folder read under another "
                        "path (its own, or an earlier link's: a loop or a second link to "
                        "it); its images are taken once",
                        sub,
                        _relative(real, folder),
                    )
                continue
            seen.add(real)
            keep.append(name)
        dirs[:] = keep
        if step == 0:  # (the folder itself comes first)
            folders = list(keep)
        for name in files:
            path = Path(top) / name
            image = path.suffix.lower() in IMAGE_EXTENSIONS
            if _hidden(name):
                if image:
                    hidden.append(path)
                continue
            if not image:
                problem = broken_link(str(path))
                if problem is not None:
                    # (a link meant for a class folder, or for a file of another kind)
                    if warn:
                        logger.warning("not reading %s: it is %s", path, problem)
                    continue
            kind = _special_file(path)
            if kind is not None:
                # Opening a named pipe waits for a writer, forever if none comes (and a
                # thread blocked there outlives Ctrl-C); a device may never end. One named
                # on the command line is read (``<(cat img.png)``); in a folder it is not.
                if warn:
                    logger.warning("not reading %s: it is %s, not a regular file", path, kind)
                continue
            (found if image else others).append(path)
    if unreadable and warn:
        said, one = _unreadable_said(folder, unreadable)
        their = "its" if one else "their"
        logger.warning(
            "%s%s %s images are left out; check %s permissions",
            said,
            ":" if one else ";",
            their,
            their,
        )
    # (in the order of a file browser: p2.png before p10.png)
    return _Walk(
        sorted(found, key=natural_key),
        sorted(others, key=natural_key),
        sorted(hidden, key=natural_key),
        folders,
        unreadable,
    )


def _unreadable_said(folder: Path, unreadable: dict[str, str]) -> tuple[str, bool]:
    """The folders under ``folder`` that could not be read (``unreadable``: their paths
    relative to it, and why), in words (``folder F could not be read (Permission
    denied)``, ``2 folders could not be read: ...``), and whether there is one."""
    from .._names import listed

    if len(unreadable) == 1:
        ((name, why),) = unreadable.items()
        return f"folder {folder / name} could not be read ({why})", True
    said = [f"{folder / name} ({why})" for name, why in sorted(unreadable.items())]
    return f"{len(said)} folders could not be read: {listed(said, 3)}", False


def unreadable_folder(folder: Path, exc: OSError) -> str:
    """The message of the folder ``folder`` given, which could not be read (``exc``)."""
    return f"folder {folder} could not be read ({exc.strerror or exc}); check its permissions"


def _special_file(path: Path) -> str | None:
    """What ``path`` is when it is no regular file (a named pipe, a socket, a device)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # (a dangling link: kept, and reported as an unreadable image)
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    return "a socket" if stat.S_ISSOCK(mode) else "a device"


#: Files that operating systems and tools leave in folders, not meant as images.
_SYSTEM_FILES = frozenset({"Thumbs.db", "desktop.ini", "ehthumbs.db"})


def _system_file(relative: Path) -> bool:
    """A hidden file or a file in a hidden folder (``.DS_Store``, ``.ipynb_checkpoints/``),
    or a file a system leaves (``Thumbs.db``): not counted among the files left out."""
    return relative.name in _SYSTEM_FILES or any(part.startswith(".") for part in relative.parts)


#: Extensions of files that are no images and often lie beside them (notes, labels,
#: annotations, embeddings computed already, code): left out with an information line.
_NOT_IMAGE_EXTENSIONS = frozenset(
    [
        ".csv",
        ".gz",
        ".htm",
        ".html",
        ".ipynb",
        ".json",
        ".jsonl",
        ".log",
        ".md",
        ".npy",
        ".npz",
        ".parquet",
        ".pdf",
        ".pkl",
        ".pt",
        ".pth",
        ".py",
        ".rst",
        ".tar",
        ".tsv",
        ".txt",
        ".xml",
        ".yaml",
        ".yml",
        ".zip",
    ]
)


def _note_other_files(
    folder: Path,
    others: Sequence[Path],
    expected: Sequence[str | os.PathLike[str]] = (),
    hidden: Sequence[Path] = (),
) -> None:
    """Warn that the walk of ``folder`` left out ``others`` (files without an image
    extension) and ``hidden`` (hidden files with one); the files of ``expected`` (the
    run's labels file) are not counted."""
    known = {os.path.realpath(p) for p in expected}
    left = [
        p
        for p in others
        if os.path.realpath(p) not in known and not _system_file(p.relative_to(folder))
    ]

    # (notes, tables and arrays beside the images: said once in an information line, not
    # warned about at every run of every command; a file that may be an image in a
    # format not read, or of no extension, is warned about)
    def counted(files: Sequence[Path], noun: str, why: str) -> str:
        # (a name holding a line break keeps the message one line)
        from .._names import listed

        names = [_printable(str(p.relative_to(folder))) for p in files]
        return f"{plural(len(names), noun)} {why}: {listed(names, 3)}"

    data = [p for p in left if p.suffix.lower() in _NOT_IMAGE_EXTENSIONS]
    if data:
        logger.info("folder %s: left out %s", folder, counted(data, "file", "of text or data"))
        left = [p for p in left if p.suffix.lower() not in _NOT_IMAGE_EXTENSIONS]
    said = []
    for files, noun, why in (
        (left, "file", f"without an image extension ({' '.join(sorted(IMAGE_EXTENSIONS))})"),
        (
            hidden,
            "hidden file",
            'with an image extension (a name in its path starts with ".", as in '
            ".ipynb_checkpoints/ and macOS's ._ files; move or rename one to read it)",
        ),
    ):
        if files:
            said.append(counted(files, noun, why))
    if said:
        logger.warning("folder %s: left out %s", folder, "; and ".join(said))


def collect_images(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into a sorted list of image paths.

    Parameters
    ----------
    inputs : sequence of path-like
        Image files (taken as given, whatever their extension and name) and
        folders (walked recursively for files with an image extension, in
        sorted order; symlinked folders are followed, each real folder once;
        hidden files and folders, whose names start with ".", are not read).

    Returns
    -------
    paths : list of pathlib.Path
        Images in the order of ``inputs``, each folder's images sorted; a file
        that an earlier input reached already (named twice, or named and in a
        folder given too), or that its folder holds twice (a link beside the
        file it leads to), is left out, with a warning. Within one folder a file
        linked into two sub-folders stays in both (an image of two classes).

    Raises
    ------
    CLIError
        When an input does not exist, a folder holds no image, or a folder
        given cannot be read (no read permission).

    Notes
    -----
    The files a folder holds without an image extension are left out, and so
    are its hidden files with one (``.ipynb_checkpoints/x.png``, macOS's
    ``._x.png``): a warning per folder counts them and names a few (an
    information line, for notes, tables and arrays: ``.txt``, ``.csv``, ``.npy``
    ...). A
    sub-folder that cannot be read, and a link of no image name that leads
    nowhere, are named in a warning. Paths whose
    names are not valid UTF-8 are counted in a warning that shows the first as
    the outputs write it: each byte that is not valid UTF-8 as a backslash
    escape ``\\xNN``.
    """
    return _collect_images(inputs)


def _outputs_of(args: argparse.Namespace) -> list[str]:
    """The files the run writes (``-o``, ``--report``, ``--save-image-mean``) and the
    ``FILE.partial`` of each: in a folder walked, they are no input left out (a run
    writing into its images' folder warned of its own earlier output at every run)."""
    given = [getattr(args, name, None) for name in ("output", "report", "save_image_mean")]
    return [f"{path}{end}" for path in given if path and path != "-" for end in ("", ".partial")]


def _collect_images(
    inputs: Sequence[str | os.PathLike[str]],
    expected: Sequence[str | os.PathLike[str]] = (),
    *,
    note_names: bool = True,
    walks: dict[Path, _Walk] | None = None,
    classes: bool = True,
) -> list[Path]:
    """:func:`collect_images`; the files of ``expected`` (a labels file in the folder)
    are left out of a folder's images without a warning. ``note_names=False`` leaves
    the warning about names that are not valid UTF-8 to the caller
    (:func:`_note_undecodable`), which collects more images. ``walks``, when given,
    receives the walk of each folder of ``inputs``. ``classes=False`` (a command whose
    sub-folders are no classes: decompose, search, compare, a report without classes)
    leaves out a file that a folder holds twice in any two of its sub-folders, not only
    in one."""
    paths: list[Path] = []
    seen: dict[str, Path] = {}  # real path -> the path of an earlier input that reached it
    repeats: list[tuple[Path, Path]] = []
    for raw in inputs:
        path = Path(raw)
        is_folder = path.is_dir()
        if is_folder:
            walk = _walk(path)
            if walks is not None:
                walks[path] = walk
            found = walk.images
            _note_other_files(path, walk.others, expected, walk.hidden)
            if not found:
                hidden = ""
                if walk.hidden:
                    first = walk.hidden[0].relative_to(path)
                    hidden = (
                        f" (only {plural(len(walk.hidden), 'hidden file')}, not read from a "
                        f"folder: {first}{', ...' if len(walk.hidden) > 1 else ''}; name a "
                        "hidden file to read it)"
                    )
                # (.npy first: clip-retrieval's folders hold a metadata .parquet beside them)
                arrays = sorted(
                    (p for p in walk.others if _array_file_hint(str(p))),
                    key=lambda p: p.suffix.lower() != ".npy",
                )
                if arrays and not hidden:
                    # (a folder of embeddings computed already: clip-retrieval's img_emb/)
                    hidden = f": it holds {arrays[0].relative_to(path)}" + _array_file_hint(
                        str(arrays[0])
                    )
                elif walk.others and not hidden:
                    # (the note naming them is held back by the refused run: a wrong
                    # folder is seen at once by what it holds)
                    from .._names import listed

                    n = len(walk.others)
                    shown = listed([str(p.relative_to(path)) for p in walk.others], 3)
                    without = "none with" if n > 1 else "without"
                    hidden = (
                        f": it holds {plural(n, 'file')}, {without} an image extension ({shown})"
                    )
                elif not hidden and not walk.unreadable:
                    hidden = ": it holds no file that is read (hidden files are not)"
                if walk.unreadable:
                    # (the warning naming them is held back by a refused run: said here)
                    said, one = _unreadable_said(path, walk.unreadable)
                    their = "its" if one else "their"
                    hidden += f"; {said}{':' if one else ';'} check {their} permissions"
                raise CLIError(
                    f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) under folder "
                    f"{path}{hidden}"
                )
        elif path.exists():
            found = [path]
        elif str(path) == "-":
            # (as other commands read standard input: not an image file here)
            raise CLIError(
                "no such file or folder: - (images are not read from standard input; give "
                "image files or folders, or a named pipe such as <(cat image.png))"
            )
        else:
            raise CLIError(f"no such file or folder: {path}")
        # A file that an earlier input reached already is left out, and so is a file
        # reached twice within one sub-folder of a folder (a link beside its file): it
        # would be decomposed twice, and counted twice in a learned centre. Within one
        # folder whose sub-folders are classes, a file linked into two of them stays in
        # both (an image of two classes); where they are none, it is left out too.
        mine: dict[tuple[str, str], int] = {}  # (real path, sub-folder) -> index in paths
        for item in found:
            real = os.path.realpath(item)
            if real in seen:
                repeats.append((item, seen[real]))
                continue
            key = (real, _first_part(item, path) if is_folder and classes else "")
            if key in mine:
                index = mine[key]
                kept = paths[index]
                if _own_name(item, real) and not _own_name(kept, real):
                    # (the file under its own name, rather than a link's)
                    repeats = [(a, item if b is kept else b) for a, b in repeats]
                    paths[index], kept, item = item, item, kept
                repeats.append((item, kept))
                continue
            mine[key] = len(paths)
            paths.append(item)
        for (real, _), index in mine.items():
            seen.setdefault(real, paths[index])
    arrays = [p for p in paths if _array_file_hint(str(p))]
    if arrays and len(arrays) == len(paths):
        # (files of embeddings only: refused before the model loads, as a folder of them is)
        shown = ", ".join(map(str, arrays[:3])) + (", ..." if len(arrays) > 3 else "")
        raise CLIError(
            f"not {'an image file' if len(arrays) == 1 else 'image files'}: {shown}"
            + _array_file_hint(str(arrays[0]))
        )
    if repeats:
        # One entry per file, with the other names it was given by.
        again_as: dict[Path, list[str]] = {}
        for again, once in repeats:
            names = again_as.setdefault(once, [])
            if str(again) != str(once) and str(again) not in names:
                names.append(str(again))
        from .._names import listed

        shown = listed(
            list(again_as.items()),
            3,
            lambda item: f"{item[0]} (again as {', '.join(item[1])})" if item[1] else str(item[0]),
            sep="; ",
        )
        logger.warning(
            "%d image file%s given more than once: %s; each is decomposed once",
            len(again_as),
            "" if len(again_as) == 1 else "s",
            shown,
        )
    if note_names:
        _note_undecodable(paths)
    return paths


def _first_part(item: Path, folder: Path) -> str:
    """The sub-folder of ``folder`` that holds ``item`` (its class), or "" at the top."""
    parts = item.relative_to(folder).parts
    return parts[0] if len(parts) > 1 else ""


def _own_name(item: Path, real: str) -> bool:
    """Whether ``item`` names the file ``real`` itself, not through a link."""
    return os.path.realpath(item.parent) == os.path.dirname(real) and item.name == (
        os.path.basename(real)
    )


def _note_undecodable(paths: Sequence[Path]) -> None:
    """Warn once about the image paths whose names are not valid UTF-8.

    Such a name holds bytes that Python keeps as lone surrogates; every output
    (csv, json, jsonl, table, the report) writes each such byte as a backslash
    escape ``\\xNN`` (:func:`sksplice._image_files.shown_name`), which the
    warning shows on the first of them.
    """
    odd = [p for p in paths if not_utf8(str(p))]
    if not odd:
        return
    first = shown_name(str(odd[0]))
    logger.warning(
        "%s not valid UTF-8 (%s): the outputs write each byte that is not valid UTF-8 as "
        "a \\xNN escape, as shown here",
        "the name of 1 image is" if len(odd) == 1 else f"the names of {len(odd)} images are",
        first if len(odd) == 1 else f"the first: {first}",
    )


#: Names of the path and label columns in a labels file's header (exported metadata,
#: clip-retrieval's among them, names its path column image_path).
_PATH_HEADERS = (
    "path",
    "file",
    "filename",
    "file_name",
    "filepath",
    "file_path",
    "image",
    "image_path",
    "image_file",
    "image_filename",
    "image_name",
    "img",
    "img_path",
    "img_filename",
)
#: Separators of the lists that spreadsheets write where a CSV has commas.
_OTHER_SEPARATORS = (("\t", "tabs"), (";", "semicolons"), ("|", "vertical bars"))
#: Names of the label column in a labels file's header, in the order they are preferred.
_LABEL_HEADERS = ("label", "labels", "class", "class_name", "category", "target", "y")


def _other_separator(lines: list[str]) -> str | None:
    """The name of the separator other than a comma found in every one of ``lines``
    (as a spreadsheet's list separator is), one that splits them all into the same
    number of fields first; None when none is in every line (a name may hold a ';' or
    a '|' of its own)."""
    if not lines:
        return None
    # (one in every line, the same number of times first: a name may hold one too)
    present = [(sep, name) for sep, name in _OTHER_SEPARATORS if all(sep in x for x in lines)]
    even = [name for sep, name in present if len({x.count(sep) for x in lines}) == 1]
    names = even or [name for _, name in present]
    return names[0] if names else None


def utf8_fault(path: Path) -> str | None:
    """Where the text file ``path`` stops being UTF-8, in words: ``"line 3: not valid
    UTF-8 (byte 0xe9)"``; None where it is UTF-8, or cannot be read again (a compressed
    file's bytes are not its text)."""
    if path.name.lower().endswith((".gz", ".bz2", ".xz", ".zst", ".zip")):
        return None
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as found:
        line = data[: found.start].count(b"\n") + 1
        return f"line {line}: not valid UTF-8 (byte 0x{data[found.start]:02x})"
    except OSError:
        pass
    return None


def _not_utf8(labels_csv: Path, exc: UnicodeDecodeError) -> str:
    """Where the labels file ``labels_csv`` stops being UTF-8 text, and what to do.

    Parameters
    ----------
    labels_csv : Path
        The labels file.
    exc : UnicodeDecodeError
        The error of reading it (its position is in a block of the file).

    Returns
    -------
    str
        The message: the line and byte that are not UTF-8.
    """
    fault = utf8_fault(labels_csv)
    if fault is not None:
        return f"labels file {labels_csv}, {fault}; save the labels file as UTF-8"
    return f"labels file {labels_csv} is not valid UTF-8 ({exc}); save it as UTF-8"


def _nfc(text: str) -> str:
    """``text`` in Unicode normal form C (composed: "é" rather than "e" and an accent)."""
    return unicodedata.normalize("NFC", text)


def _check_text_file(labels_csv: Path) -> None:
    """Refuse a labels file that is empty, UTF-16 text or binary data (an image given as
    ``--labels``), which pandas would report in its own words ("No columns to parse
    from file", a tokenizing error of its C parser)."""
    try:
        with open(labels_csv, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return  # (read_csv says what is wrong)
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise CLIError(
            f"labels file {labels_csv} is empty ({'0 bytes' if not head else 'blank'}); "
            "--labels takes a CSV of path,label lines, one image a line (e.g. cats/001.jpg,cat)"
        )
    wide = (
        "UTF-32"
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE))
        else "UTF-16"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else None
    )
    if wide is not None:
        # (a spreadsheet's "Unicode Text" export: UTF-16, with a byte order mark)
        raise CLIError(
            f"labels file {labels_csv} is {wide} text, not UTF-8 (as a spreadsheet's "
            "'Unicode Text' export writes it); save it as 'CSV UTF-8' (comma-separated)"
        )
    if b"\0" not in head:
        return
    image = os.path.splitext(labels_csv.name)[1].lower() in IMAGE_EXTENSIONS
    raise CLIError(
        f"labels file {labels_csv} is not a text file (it holds binary data"
        f"{': an image' if image else ''}); --labels takes a CSV of path,label lines, "
        "one image a line (e.g. cats/001.jpg,cat)"
    )


def _holds_tabs(path: Path, n_lines: int = 20) -> bool:
    """Whether one of the first ``n_lines`` lines of the text file ``path`` holds a tab."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return any("\t" in line for line, _ in zip(fh, range(n_lines)))
    except OSError:
        return True  # (read as a .tsv file: the read says what is wrong)


def _record_lines(path: Path, sep: str) -> tuple[list[int], list[int]]:
    """The line of the text file ``path`` on which each of its records that is not
    empty in every cell starts (a quoted cell may hold line breaks), and the number of
    fields of each."""
    import csv

    starts, widths, line = [], [], 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sep)
            for record in reader:
                if any(cell.strip() for cell in record):
                    starts.append(line + 1)
                    widths.append(len(record))
                line = reader.line_num
    except (csv.Error, OSError, UnicodeDecodeError):
        return [], []  # (read otherwise than pandas did: the caller numbers rows in order)
    return starts, widths


def _read_labels(
    labels_csv: Path, root: Path, paths: list[Path], column: str | None = None
) -> list[str]:
    """Labels for ``paths`` from a CSV of path,label, or from the column ``column`` of a
    table with a header and a column of paths (``--labels-column``).

    A path is matched by its location relative to ``root`` (absolute paths
    too); a bare file name matches an image of that name in a sub-folder only
    when exactly one image has that name. Names match whatever their Unicode
    normal form (NFC or NFD, as macOS writes file names), an exact match first.
    Spaces around a path or label are not part of it; labels that differ only by
    them are said to be read as one.
    """
    import pandas as pd

    from .._names import ALL_GROUP as reserved

    if not labels_csv.is_file():
        raise CLIError(f"labels file {labels_csv} does not exist or is not a file")
    _check_text_file(labels_csv)
    # (a .tsv file is read with tabs between its columns, as --names reads one; one
    # without a tab on its first lines, with commas, as the CSV it was read as before)
    tabs = labels_csv.suffix.lower() in (".tsv", ".tab") and _holds_tabs(labels_csv)
    try:
        table = pd.read_csv(
            labels_csv,
            sep="\t" if tabs else ",",
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            encoding="utf-8",
        )
    except UnicodeDecodeError as exc:
        # (pandas reads in blocks: the codec's "position" is not one in the file)
        raise CLIError(_not_utf8(labels_csv, exc)) from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        from ._embeddings import malformed

        raise CLIError(
            f"cannot read labels file {labels_csv}: "
            f"{malformed(labels_csv, '.tsv' if tabs else '.csv', exc)}"
        ) from exc
    # Rows empty in every cell (a spreadsheet's rows of commas) are skipped as blank
    # lines are; messages name the others by their line in the file.
    table = table[(table.apply(lambda cells: cells.str.strip()) != "").any(axis=1)]
    line_numbers, widths = _record_lines(labels_csv, "\t" if tabs else ",")
    if len(line_numbers) != len(table):  # (read otherwise than pandas did: their order)
        line_numbers, widths = list(range(1, len(table) + 1)), []
    # Columns empty on every line (a spreadsheet's trailing commas) are not columns.
    filled = [bool((table[c].str.strip() != "").any()) for c in table.columns]
    table = table.loc[:, filled].set_axis(range(sum(filled)), axis=1)
    field_of = [i for i, kept in enumerate(filled) if kept]  # (each column's field)
    if table.shape[1] < 2:
        # (a spreadsheet set to another list separator writes ';' or tabs between them)
        other = _other_separator([str(v) for v in table.iloc[:20, 0]] if table.size else [])
        hint = (
            f"; its columns are separated by {other}: save it with commas (CSV)"
            + (", or name it .tsv" if other == "tabs" else "")
            if other is not None
            else ""
        )
        raise CLIError(
            f"{labels_csv}, line {line_numbers[0] if line_numbers else 1}: expected two "
            f"columns 'path,label', found {table.shape[1]}{hint}"
        )
    # A header naming the path and label columns says which they are, in any order.
    header = [str(v).strip().lower() for v in table.iloc[0]]
    if column is not None:
        path_col, label_col = _columns_named(labels_csv, [str(v) for v in table.iloc[0]], column)
    else:
        paths_named = [i for i, h in enumerate(header) if h in _PATH_HEADERS]
        # (of several, the first in the order of _LABEL_HEADERS, as for .npy inputs:
        # class_name before target, a class's index that exports write beside it)
        labels_named = sorted(
            (i for i, h in enumerate(header) if h in _LABEL_HEADERS),
            key=lambda i: _LABEL_HEADERS.index(header[i]),
        )
        if len(paths_named) == 1 and labels_named:
            path_col, label_col = paths_named[0], labels_named[0]
        elif table.shape[1] == 2:
            path_col, label_col = 0, 1
        else:
            raise CLIError(
                f"{labels_csv} has {table.shape[1]} columns; give two (path,label), or a "
                f"header naming the path column ({', '.join(_PATH_HEADERS)}) and pick the "
                "label column with --labels-column COLUMN (without it, the first column named "
                f"{', '.join(_LABEL_HEADERS)}, in that order)"
            )
    raw = [(str(k), str(v)) for k, v in zip(table[path_col], table[label_col])]
    rows = [(k.strip(), v.strip()) for k, v in raw]
    if rows and (
        column is not None  # (the column is named by the header)
        or rows[0][0].lower() in _PATH_HEADERS
        # (a header whose path column has a name of its own: no image is named so)
        or (
            rows[0][1].lower() in _LABEL_HEADERS
            and os.path.splitext(rows[0][0])[1].lower() not in IMAGE_EXTENSIONS
        )
    ):
        raw, rows, line_numbers, widths = raw[1:], rows[1:], line_numbers[1:], widths[1:]
    _say_spaced_labels(labels_csv, [label for _, label in raw])
    # A row of fewer fields than the path and label columns need (a line without its
    # comma) is read by pandas with empty cells: where it names an image it is refused
    # as an empty label is; one that names none is counted with the others, its fields
    # said (a row of another split may leave its label out as it may leave it blank).
    needed = max(field_of[path_col], field_of[label_col]) + 1
    separator = "tabs" if tabs else "commas"

    def fields(i: int) -> str:
        """``" (1 field of the 2 its columns need)"`` for a short row ``i``, else ``""``."""
        if not widths or widths[i] >= needed:
            return ""
        return f" ({plural(widths[i], 'field')} of the {needed} its columns need)"

    # Paths relative to the folder, compared as absolute paths (a row may give an
    # absolute path whether or not the folder was named by one).
    base = Path(os.path.abspath(root))

    def rel(p: Path) -> str:
        return Path(os.path.abspath(p)).relative_to(base).as_posix()

    by_rel = {rel(p): i for i, p in enumerate(paths)}
    # A name matches in any Unicode normal form: macOS writes file names decomposed
    # (NFD: "e" and a combining accent), a labels file typed elsewhere holds them
    # composed (NFC: "é"); an exact match comes first (two files may differ only so).
    by_text: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    by_real: dict[str, list[int]] = {}  # (a row naming the file by another link)
    for i, p in enumerate(paths):
        by_text.setdefault(_nfc(rel(p)), []).append(i)
        by_name.setdefault(_nfc(p.name), []).append(i)
        by_real.setdefault(os.path.realpath(p), []).append(i)
    by_abs = {os.path.abspath(p): i for i, p in enumerate(paths)}
    labels: list[str | None] = [None] * len(paths)
    origin: list[int] = [0] * len(paths)
    unmatched = 0
    unmatched_at: list[tuple[int, str]] = []  # (line, path) of the rows naming no image
    from_cwd: list[tuple[int, str]] = []  # (line, path) of rows naming an image from "."

    def find(key: str, start: Path) -> int | None:
        """The image the path ``key`` names, read from the folder ``start`` (an absolute
        path replaces it); None for none."""
        try:
            relative = rel(start / key)
        except ValueError:
            relative = None
        index = None if relative is None else by_rel.get(relative)
        if index is None and relative is not None:
            same_text = by_text.get(_nfc(relative), [])
            index = same_text[0] if len(same_text) == 1 else None
        if index is None:
            same_file = by_real.get(os.path.realpath(start / key), [])
            index = same_file[0] if len(same_file) == 1 else None
        return index

    # Paths are read from the folder; from the working folder where none of them names an
    # image so and some name one from there (a list written by `ls photos/*/*.jpg` run
    # beside the folder), which is said.
    start = root
    placed = [k for k, _ in rows if ("/" in k or os.sep in k) and not os.path.isabs(k)]
    if (
        placed
        and all(find(k, root) is None for k in placed)
        and any(os.path.abspath(k) in by_abs for k in placed)
    ):
        start = Path(os.curdir)
        logger.info(
            "the paths of %s name no image relative to %s, and are read from the working "
            "folder, where they name images",
            labels_csv,
            root,
        )
    for i, (line, (key, label)) in enumerate(zip(line_numbers, rows, strict=True)):
        short = fields(i)
        if not key and not short:  # (a short row without its path names no image)
            raise CLIError(f"{labels_csv}, line {line}: empty path")
        index = find(key, start) if key else None
        if index is None and key and "/" not in key and os.sep not in key:
            same = by_name.get(_nfc(key), [])
            if len(same) > 1:
                raise CLIError(
                    f"{labels_csv}, line {line}: the bare name {key!r} matches "
                    f"{paths[same[0]]} and {paths[same[1]]}; give the path relative to {root}"
                )
            index = same[0] if same else None
        if index is None:
            unmatched += 1
            unmatched_at.append((line, (key or label) + short))
            if key and not os.path.isabs(key) and os.path.abspath(key) in by_abs:
                from_cwd.append((line, key))
            continue
        if short:
            raise CLIError(
                f"{labels_csv}, line {line}: the row of {key} has {plural(widths[i], 'field')}, "
                f"where its path and label columns need {needed}, separated by {separator}"
            )
        if not label:  # (a row of an image not in the folder may leave it blank)
            raise CLIError(f"{labels_csv}, line {line}: no label for {key}")
        if label == reserved:
            raise CLIError(
                f"{labels_csv}, line {line}: the label {label!r} (of {key}) is reserved for "
                "the group of all images in the class profiles; give that class another name"
            )
        if labels[index] is not None and labels[index] != label:
            raise CLIError(
                f"{labels_csv}: lines {origin[index]} and {line} give image {paths[index]} two "
                f"labels ({labels[index]!r}, {label!r})"
            )
        labels[index], origin[index] = label, line
    if unmatched:
        shown = "; ".join(f"line {line}: {key}" for line, key in unmatched_at[:3])
        more = f"; and {unmatched - 3} more" if unmatched > 3 else ""
        logger.warning(
            "%d row%s of %s name%s no image under %s (%s%s; a relative path is read from %s)",
            unmatched,
            "" if unmatched == 1 else "s",
            labels_csv,
            "s" if unmatched == 1 else "",
            root,
            shown,
            more,
            root if start == root else "the working folder, as the file's other paths",
        )
    missing = [p for p, label in zip(paths, labels, strict=True) if label is None]
    if missing:
        message = _no_label(labels_csv, root, missing, unmatched, from_cwd, start)
        # (label,path in place of path,label: the labels are file names of images)
        swapped = [
            (line, key, label)
            for line, (key, label) in zip(line_numbers, rows, strict=True)
            if os.path.splitext(label)[1].lower() in IMAGE_EXTENSIONS
            and os.path.splitext(key)[1].lower() not in IMAGE_EXTENSIONS
        ]
        if unmatched and len(swapped) == unmatched:
            line, key, label = swapped[0]
            message += (
                f"; its columns look swapped (line {line}: {key},{label}): give path,label, "
                "or a header naming them (label,path)"
            )
        raise CLIError(message)
    return [str(label) for label in labels]


def column_hint(column: str, columns: Sequence[str]) -> str:
    """``" (did you mean 'label'?)"`` for a misspelt ``column`` of a table of ``columns``
    (its two closest), or ``""``."""
    from .._names import close_matches

    close = close_matches(column, columns, n=2)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _columns_named(labels_csv: Path, header: list[str], column: str) -> tuple[int, int]:
    """The path and label columns of a labels table whose first line is ``header``, its
    label column picked by ``--labels-column``: the path column is the one whose header
    names paths (or the other of two)."""
    named = [h.strip() for h in header]
    if column not in named:
        raise CLIError(
            f"--labels-column {column}: {labels_csv} has no column {column!r}"
            f"{column_hint(column, named)}; its "
            f"first line, read as its header: {', '.join(named)}"
        )
    if named.count(column) > 1:
        raise CLIError(
            f"--labels-column {column}: {labels_csv} has {named.count(column)} columns named "
            f"{column!r}; give each column of its header a name of its own"
        )
    label_col = named.index(column)
    paths_named = [i for i, h in enumerate(named) if h.lower() in _PATH_HEADERS]
    if paths_named == [label_col]:
        others = [h for i, h in enumerate(named) if i != label_col]
        raise CLIError(
            f"--labels-column {column}: that is the column of image paths of {labels_csv}; "
            f"give its column of classes ({', '.join(others)})"
        )
    paths_named = [i for i in paths_named if i != label_col]
    if len(paths_named) == 1:
        return paths_named[0], label_col
    if not paths_named and len(named) == 2:
        return 1 - label_col, label_col
    found = (
        f"{len(paths_named)} do ({', '.join(named[i] for i in paths_named)})"
        if paths_named
        else "none does"
    )
    raise CLIError(
        f"--labels {labels_csv}: one column of its header must name the image paths, "
        f"and {found}: name it one of {', '.join(_PATH_HEADERS)}"
    )


def _say_spaced_labels(labels_csv: Path, labels: list[str]) -> None:
    """Say where labels that differ only by the spaces around them (``"dog"``,
    ``"dog "``) are read as one class: a CSV written with spaces after its commas reads
    so, and a trailing space typed in some rows would otherwise make a class of its
    own."""
    forms: dict[str, set[str]] = {}
    for label in labels:
        forms.setdefault(label.strip(), set()).add(label)
    spaced = [(name, sorted(seen)) for name, seen in forms.items() if name and len(seen) > 1]
    if spaced:
        name, seen = spaced[0]
        more = f" (and {plural(len(spaced) - 1, 'other label')})" if len(spaced) > 1 else ""
        logger.warning(
            "%s: the labels %s differ only by the spaces around them, and are read as one "
            "class, %r%s",
            labels_csv,
            " and ".join(map(repr, seen[:2])),
            name,
            more,
        )


def _no_label(
    labels_csv: Path,
    root: Path,
    missing: Sequence[Path],
    unmatched: int,
    from_cwd: Sequence[tuple[int, str]],
    start: Path | None = None,
) -> str:
    """The error for images of ``root`` that no row of ``labels_csv`` labels: the first,
    the row it needs, and the rows that named no image (read from the working folder?).
    ``start``: the folder the file's relative paths are read from (``root`` by default;
    the working folder where they name images from there)."""
    first = missing[0]
    others = f" (and {plural(len(missing) - 1, 'other image')})" if len(missing) > 1 else ""
    start = root if start is None else start
    expected = Path(os.path.relpath(os.path.abspath(first), os.path.abspath(start))).as_posix()
    where = (
        f"the folder {root}" if start == root else "the working folder, as the file's other paths"
    )
    text = (
        f"{labels_csv} has no label for image {first}{others}: expected a row for "
        f"{expected} (a relative path is read from {where}), or for its absolute path"
    )
    if unmatched:
        text += (
            f"; {plural(unmatched, 'row')} of {labels_csv} name"
            f"{'s' if unmatched == 1 else ''} no image under {root}"
        )
    else:  # (every row found its image: the folder holds more images than were labelled)
        text += (
            f"; every image under {root} needs a label: label the others, or move them out of "
            "the folder"
        )
    if from_cwd:
        line, key = from_cwd[0]
        some = (
            "it names"
            if unmatched == 1
            else "they name"
            if len(from_cwd) == unmatched
            else f"{len(from_cwd)} of them name"
        )
        text += (
            f": {some} an image from the working folder instead (line {line}: {key}); give "
            f"paths relative to {root}, or absolute"
        )
    return text


def _labels_from_folders(root: Path, paths: list[Path]) -> list[str]:
    """Labels from the first sub-folder level below ``root`` (one folder per class).

    A folder name that is not valid UTF-8 gives the class its name as the outputs
    write it (:func:`sksplice._image_files.shown_name`: ``caf\\xe9``).
    """
    from .._names import ALL_GROUP

    labels = []
    flat = [p for p in paths if len(p.relative_to(root).parts) < 2]
    if flat and len(flat) == len(paths):  # (no class folder at all: not one image's fault)
        raise CLIError(
            f"{root} has no class sub-folders: its {plural(len(paths), 'image')} "
            f"{'lies' if len(paths) == 1 else 'lie'} in it directly; give --labels labels.csv "
            "(path,label), or put each class in its own sub-folder"
        )
    for p in paths:
        rel = p.relative_to(root)
        if len(rel.parts) < 2:
            raise CLIError(
                f"image {p} is not inside a class sub-folder of {root} ({len(flat)} of its "
                f"{len(paths)} images {'is' if len(flat) == 1 else 'are'} not); give --labels "
                "labels.csv or put each class in its own sub-folder"
            )
        if rel.parts[0] == ALL_GROUP:
            raise CLIError(
                f"class folder {root / ALL_GROUP}: the class name {ALL_GROUP!r} is reserved for "
                "the group of all images in the class profiles; rename that folder"
            )
        labels.append(shown_name(rel.parts[0]))  # (a name as the outputs write it)
    return labels


def _class_folders_left_out(root: Path, walk: _Walk, classes: set[str]) -> dict[str, str]:
    """``F held no file`` (``F held 4 files, none with an image extension``, ``F could
    not be read (Permission denied)``) for each sub-folder of ``root`` that the walk
    entered but that gave no class of ``classes``, by the sub-folder's name."""
    notes = {}
    for name in walk.folders:
        if shown_name(name) in classes:
            continue
        if name in walk.unreadable:
            notes[name] = f"{root / name} could not be read ({walk.unreadable[name]})"
            continue
        n_other = sum(1 for p in walk.others if p.relative_to(root).parts[0] == name)
        n_hidden = sum(1 for p in walk.hidden if p.relative_to(root).parts[0] == name)
        held = [f"{plural(n_other, 'file')}, none with an image extension"] if n_other else []
        if n_hidden:
            held.append(plural(n_hidden, "hidden file") + ("" if n_other else " only"))
        notes[name] = f"{root / name} held {', and '.join(held) or 'no file'}"
    return notes


def _check_folder(folder: Path, wanted: str = "") -> None:
    """``folder`` is a folder: else "no such folder" or "not a folder (a file)", followed
    by ``wanted`` (what the command takes) where it is a file."""
    if folder.is_dir():
        return
    if not os.path.lexists(folder):
        raise CLIError(f"no such folder: {folder}")
    what = " (a broken link)" if not folder.exists() else " (a file)" if folder.is_file() else ""
    if folder.is_file():
        what = _array_file_hint(str(folder)).replace(" (a ", " (a file: a ", 1) or what
    raise CLIError(f"not a folder: {folder}{what}{wanted if folder.is_file() else ''}")


def labels_sha256(args: argparse.Namespace) -> str | None:
    """The SHA-256 of the ``--labels`` file, where one gives the classes (taken when it
    is read: a file replaced during the run is recorded as it was read)."""
    if not getattr(args, "labels", None):
        return None
    from .._data import file_sha256

    return file_sha256(Path(args.labels).expanduser())


def _labelled(args: argparse.Namespace, command: str = "profile") -> tuple[list[Path], list[str]]:
    """The images of ``args.folder`` and their labels (``--labels``, else class folders).

    Fewer than two classes are refused for ``profile``; for ``report`` a warning
    says that the page will have no class profiles.
    """
    root = Path(args.folder)
    _check_folder(root)
    labels_file = [args.labels] if args.labels else []
    walks: dict[Path, _Walk] = {}
    paths = _collect_images([root], expected=labels_file + _outputs_of(args), walks=walks)
    left_out: dict[str, str] = {}
    if args.labels:
        labels = _read_labels(Path(args.labels), root, paths, getattr(args, "labels_column", None))
        where = f"labels file {args.labels}"
    else:
        labels = _labels_from_folders(root, paths)
        where = f"the class sub-folders of {root}"
        left_out = _class_folders_left_out(root, walks[root], set(labels))
    classes = sorted(set(labels))
    alike = alike_labels(classes)
    if alike:  # (told before the images are embedded; the profiles do not tell it again)
        fix = "in the labels file" if args.labels else "rename the class folders"
        logger.warning("%s", alike_labels_message(alike, fix))
    if len(classes) >= 2:  # (else the classes found are told, and these with them)
        for name, note in left_out.items():
            if name not in walks[root].unreadable:  # (the walk told those)
                logger.warning("class folder %s: left out of the classes", note)
    if len(classes) < 2:
        found = f"found 1 in {where}: {classes[0]!r}"
        if left_out:
            found += f" ({'; '.join(left_out.values())})"
        if command != "report":
            raise CLIError(f"{command} needs at least two classes, {found}")
        logger.warning(
            "no class profiles: profiles need at least two classes, %s; the report shows "
            "the images without them",
            found,
        )
    return paths, labels


def _two_collections(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The images of the two folders of ``compare``; they must not share an image."""
    folders = [Path(args.folder_a), Path(args.folder_b)]
    for folder in folders:
        _check_folder(folder, "; compare takes two folders of images, A_FOLDER B_FOLDER")
    outputs = _outputs_of(args)
    paths_a = _collect_images([folders[0]], outputs, note_names=False, classes=False)
    paths_b = _collect_images([folders[1]], outputs, note_names=False, classes=False)
    _note_undecodable(paths_a + paths_b)
    real_a = {os.path.realpath(p) for p in paths_a}
    shared = [p for p in paths_b if os.path.realpath(p) in real_a]
    if shared:
        raise CLIError(
            f"{folders[0]} and {folders[1]} share {plural(len(shared), 'image')} "
            f"(first: {shared[0]}); compare two distinct collections"
        )
    copies = _copies(paths_a, paths_b)
    if copies:
        b, a = copies[0]
        one = len(copies) == 1
        logger.warning(
            "%s of %s %s byte-identical to %s of %s (%s%s, a copy of %s): each is counted "
            "in both collections, which makes them look more alike than their distinct "
            "images are; remove the copies from one folder to compare distinct images",
            plural(len(copies), "image"),
            folders[1],
            "is" if one else "are",
            "one" if one else "images",
            folders[0],
            "" if one else "first: ",
            b,
            a,
        )
    return paths_a, paths_b


def _copies(paths_a: list[Path], paths_b: list[Path]) -> list[tuple[Path, Path]]:
    """The files of ``paths_b`` that hold the same bytes as one of ``paths_a`` (copies, not
    links: those share a path), each with the first such file of A, in the order of the
    run. Only files of a size that both hold are read (copies have the same size; two
    photos seldom do), and of those only the beginning where the beginnings differ
    (uncompressed images of one size, BMP or PPM, all have the same size)."""
    import hashlib

    from .._data import file_sha256

    def beginning(path: Path) -> str | None:
        try:
            with open(path, "rb") as fh:
                return hashlib.sha256(fh.read(_BEGINNING)).hexdigest()
        except OSError:
            return None

    def sizes(paths: list[Path]) -> dict[int, list[Path]]:
        by_size: dict[int, list[Path]] = {}
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:  # (said when it is decoded)
                continue
            if stat.S_ISREG(st.st_mode):  # (a named pipe is read once, when decoded)
                by_size.setdefault(st.st_size, []).append(path)
        return by_size

    def digest(path: Path) -> str | None:
        try:
            return file_sha256(path)
        except OSError:
            return None

    def alike(a: list[Path], b: list[Path], key: Any) -> list[tuple[list[Path], list[Path]]]:
        """The groups of ``a`` and ``b`` that share a ``key`` (files it could not read
        left out)."""
        keyed_a: dict[str, list[Path]] = {}
        for path in a:
            k = key(path)
            if k is not None:
                keyed_a.setdefault(k, []).append(path)
        keyed_b: dict[str, list[Path]] = {}
        for path in b:
            k = key(path)
            if k in keyed_a:
                keyed_b.setdefault(k, []).append(path)
        return [(keyed_a[k], keyed_b[k]) for k in keyed_b]

    of_a, of_b = sizes(paths_a), sizes(paths_b)
    found: list[tuple[Path, Path]] = []
    for size in of_a.keys() & of_b.keys():
        pairs = alike(of_a[size], of_b[size], beginning)
        if size > _BEGINNING:  # (else the beginning is the whole file)
            pairs = [p for a, b in pairs for p in alike(a, b, digest)]
        found += [(path, a[0]) for a, b in pairs for path in b]
    return sorted(found, key=lambda pair: natural_key(pair[0]))


#: The bytes of a file read first to tell it apart from others of its size.
_BEGINNING = 1 << 16


def _has_class_folders(root: Path) -> bool:
    """Whether ``root`` is laid out as one sub-folder per class: it holds at least two
    sub-folders that are not hidden, or one and no image beside it (a class folder alone:
    the report says why it has no class profiles, rather than showing no class)."""
    if not root.is_dir():
        return False
    try:
        visible = [p for p in root.iterdir() if not _hidden(p.name)]
    except OSError as exc:
        raise CLIError(unreadable_folder(root, exc)) from exc
    folders = sum(1 for p in visible if p.is_dir())
    beside = any(p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir() for p in visible)
    return folders >= 2 or (folders == 1 and not beside)
