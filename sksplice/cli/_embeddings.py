"""Embeddings computed already, given to ``decompose`` as ``.npy`` files.

clip-retrieval (and most scripts that embed a collection once) writes image
embeddings as ``.npy`` files of one row per image, with the rows' names (the
image paths, URLs, captions) in a separate metadata table. ``decompose`` given
only such files decomposes their rows without embedding anything but the
vocabulary; ``--names`` reads the rows' names from the metadata. Everything is
checked (each file's shape and type, every value finite, the names' count, the
width against the model's) before torch is imported where open_clip's config
files tell the model's width, and always before the vocabulary is embedded.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._names import natural_key, plural
from ._logging import CLIError, RunError, UsageError

logger = logging.getLogger(__name__)

#: The suffix of the files ``decompose`` reads as embeddings (numpy's own format, in which
#: clip-retrieval writes ``img_emb/img_emb_0.npy``).
EMBEDDING_SUFFIX = ".npy"

#: Suffixes of the ``--names`` files read as tables (a header, then one row per name;
#: JSON lines: one object per name); any other file holds one name per line.
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl")

#: Suffixes of compressed files, which pandas reads (a compressed table: ``.csv.gz``).
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


#: Headers of the column of names, after the path columns that a labels file knows, in
#: the order they are preferred (clip-retrieval's metadata holds image_path where it
#: embedded files, url and caption where it embedded a web dataset).
_NAME_HEADERS = ("url", "key", "id", "name", "caption", "text")

#: Rows read at a time while every value is checked to be finite.
_SCAN_ROWS = 65_536

#: Rows of the first file checked against the centre (those of the first chunk decomposed).
_CENTRE_ROWS = 512
# (a run of many files: at least _CENTRE_ROWS_EACH rows of each, about _CENTRE_ROWS_ALL in all)
_CENTRE_ROWS_EACH = 64
_CENTRE_ROWS_ALL = 16_384


def are_embeddings(inputs: Sequence[str]) -> bool:
    """Whether every input of the command line names a ``.npy`` file (no folder)."""
    return bool(inputs) and all(
        str(raw).lower().endswith(EMBEDDING_SUFFIX) and not os.path.isdir(raw) for raw in inputs
    )


def _names_file(raw: str) -> bool:
    """Whether ``raw`` names a file of names (a table or a text file), not embeddings."""
    kind = _kind(Path(raw))
    return kind in (*_TABLE_SUFFIXES, *_COMPRESSED, ".txt") and not os.path.isdir(raw)


def _check_pairs(files: list[Path], names_files: list[Path]) -> None:
    """A names file given twice is refused, and so, where there is one per ``.npy`` file,
    is a pair whose files carry different numbers (``img_emb_2.npy`` with
    ``metadata_10.parquet``: the names given in another order than the files)."""
    twice = _given_twice(names_files)
    if twice is not None:
        raise CLIError(f"--names {twice[0]} is given twice: give each file of names once")
    if len(names_files) != len(files) or len(files) < 2:
        return
    for npy, names in zip(files, names_files, strict=True):
        a, b = re.findall(r"\d+", npy.name), re.findall(r"\d+", names.name)
        if a and b and int(a[-1]) != int(b[-1]):
            raise CLIError(
                f"--names pairs {npy} with {names}, numbered {int(a[-1])} and {int(b[-1])}: "
                "give the files of names in the order of the .npy files (the shell lists "
                "img_emb/*.npy and metadata/*.parquet alike; a list written by hand may not)"
            )


def _warn_if_out_of_order(files: list[Path], names_files: list[Path]) -> None:
    """Warn where one ``--names`` file names the rows of several ``.npy`` files that are
    given out of the order of their numbers: the rows are read in the order given,
    and a names table joined in the order of the numbers would name most of them
    wrongly."""
    if len(names_files) != 1 or len(files) < 2:
        return
    patterns = {re.sub(r"\d+", "#", str(path)) for path in files}
    if len(patterns) != 1 or "#" not in next(iter(patterns)):
        return  # (not numbered alike: train.npy test.npy are read as given, said nowhere)
    ordered = sorted(files, key=natural_key)
    if ordered == files:
        return
    at = next(i for i, (a, b) in enumerate(zip(files, ordered, strict=True)) if a != b)
    # (the order of a shell's img_emb/*.npy puts img_emb_10 before img_emb_2; an order
    # typed by hand is said as it is)
    shell = " (as the shell sorts numbered files)" if files == sorted(files, key=str) else ""
    logger.warning(
        "the .npy files are read in the order given, %s before %s%s, not in the order of "
        "their numbers: --names %s must name their rows in that order; give one --names file "
        "per .npy file (--names metadata/*.parquet pairs them in the same order)",
        files[at],
        ordered[at],
        shell,
        names_files[0],
    )


def position_name(path: Path, row: int) -> str:
    """The name of a row that has none: its file and its position, as numpy indexes it
    (``img_emb_0.npy[17]``, from 0)."""
    return f"{path}[{row}]"


@dataclass
class EmbeddingInputs:
    """The ``.npy`` files of a run, read (memory-mapped), and the names of their rows."""

    files: list[Path]
    arrays: list[np.ndarray]  # 2-D, memory-mapped
    names: list[str]
    names_files: list[Path]
    names_columns: list[str | None]  # (each names file's; None: a file of lines)
    # (the rows, counted over all the files, holding a value that is not finite: found by
    # :meth:`find_not_finite`, which reads every value, once the cheap checks are done)
    not_finite: list[int] | None = None
    # (what :meth:`decomposable` gives, once made)
    _decomposable: tuple[np.ndarray, list[str], list[Any]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def n_rows(self) -> int:
        return len(self.names)

    @property
    def width(self) -> int:
        return int(self.arrays[0].shape[1])

    def rows(self) -> np.ndarray:
        """Every row: the file's own, memory-mapped, where there is one file; the files'
        rows read into one array where there are several."""
        if len(self.arrays) == 1:
            return self.arrays[0]
        return np.concatenate(self.arrays)

    def find_not_finite(self, strict: bool = False) -> int:
        """Read every value, and find the rows that hold one that is not finite (NaN or
        infinite); how many rows are left to decompose. ``strict``: refuse the first
        file that has such a row (:class:`RunError`)."""
        if self.not_finite is None:
            found: list[int] = []
            start = 0
            for path, array in zip(self.files, self.arrays, strict=True):
                rows = _not_finite(array)
                if len(rows) and strict:
                    _refuse_not_finite(path, rows)
                found += (start + rows).tolist()
                start += int(array.shape[0])
            self.not_finite = found
        return self.n_rows - len(self.not_finite)

    def kept(self) -> np.ndarray:
        """Which rows are decomposed: those without a value that is not finite (found by
        :meth:`find_not_finite` first)."""
        if self.not_finite is None:
            raise RuntimeError("find_not_finite() reads the rows before they are decomposed")
        keep = np.ones(self.n_rows, dtype=bool)
        keep[self.not_finite] = False
        return keep

    def of_kept(self, values: Any) -> np.ndarray:
        """The entries of ``values`` (one per row: their classes, their collection) of the
        rows decomposed (:meth:`kept`), in order."""
        return np.asarray(values)[self.kept()]

    def skipped(self) -> list[Any]:
        """The rows skipped for values that are not finite, as
        :class:`~sksplice.embedders.SkippedInput` records, named."""
        from ..embedders import SkippedInput

        return [
            SkippedInput(i, self.names[i], "its values are not all finite (NaN or infinite)")
            for i in self.not_finite or []
        ]

    def decomposable(self) -> tuple[np.ndarray, list[str], list[Any]]:
        """The rows to decompose, their names, and the rows skipped for values that are
        not finite (:meth:`skipped`; found by :meth:`find_not_finite` first). Made once:
        rows of several files, or those left by the skipped ones, are a copy."""
        if self._decomposable is None:
            X = self.rows()
            keep = self.kept()
            if keep.all():
                self._decomposable = (X, self.names, [])
            else:
                names = [n for n, k in zip(self.names, keep, strict=True) if k]
                self._decomposable = (X[keep], names, self.skipped())
        return self._decomposable

    @functools.cached_property
    def described(self) -> dict[str, Any]:
        """The files and the names of the run, for the JSON metadata (``embeddings``):
        their digests are taken once, where a JSON document is written."""
        from .._data import file_sha256

        return {
            "files": [
                {
                    "path": str(path),
                    "sha256": file_sha256(path),
                    "rows": int(array.shape[0]),
                    "width": int(array.shape[1]),
                    "dtype": str(array.dtype),
                }
                for path, array in zip(self.files, self.arrays, strict=True)
            ],
            "names": (
                None
                if not self.names_files
                else {
                    "files": [
                        {"path": str(path), "sha256": file_sha256(path), "column": column}
                        for path, column in zip(self.names_files, self.names_columns, strict=True)
                    ],
                }
            ),
        }


def check_names_options(args: argparse.Namespace, embeddings: bool) -> None:
    """``--names`` and ``--names-column`` only where they name the rows of embeddings, and
    ``--labels-column`` where it picks a column of a ``--labels`` table or of theirs; a
    file of names given as an input beside ``.npy`` files is told to go after
    ``--names``; ``.npy`` files after ``--names`` (which takes every file that follows
    it) are told to come first."""
    names, column = getattr(args, "names", None), getattr(args, "names_column", None)
    prog = f"sksplice {getattr(args, 'command', None) or 'decompose'}"
    inputs = [str(raw) for raw in getattr(args, "inputs", None) or []]
    arrays = [raw for raw in inputs if raw.lower().endswith(EMBEDDING_SUFFIX)]
    tables = [raw for raw in inputs if _names_file(raw)]
    if arrays and tables and len(arrays) + len(tables) == len(inputs):
        raise UsageError(
            f"{tables[0]} is given as an input beside .npy files: a file of names goes after "
            f"--names, which takes one per .npy file, in their order ({prog} "
            "img_emb/*.npy --names metadata/*.parquet)"
        )
    if arrays and not embeddings:
        files = [raw for raw in arrays if not os.path.isdir(raw)]
        if files:  # (beside images: it was skipped once every image was decomposed)
            raise UsageError(
                f"{files[0]} is a file of embeddings given beside images: decompose the "
                f"embeddings in a run of their own ({prog} {files[0]}), and the "
                "images without it"
            )
    swallowed = [raw for raw in names or [] if str(raw).lower().endswith(EMBEDDING_SUFFIX)]
    if swallowed:
        raise UsageError(
            f"--names {swallowed[0]}: a .npy file is no file of names (--names takes every "
            f"file that follows it): give the .npy files first ({prog} "
            "img_emb/*.npy --names metadata/*.parquet)"
        )
    if names and not embeddings:
        raise UsageError(
            "--names names the rows of embeddings given as .npy files; images are named by "
            "their paths (give only .npy files to decompose embeddings computed already)"
        )
    if column is not None and not names:
        raise UsageError("--names-column picks the column of a --names table: give --names too")
    if (
        getattr(args, "labels_column", None) is not None
        and not embeddings
        and not getattr(args, "labels", None)
    ):
        raise UsageError(
            "--labels-column picks the column of classes of the --labels table: give --labels "
            "FILE too (images in class sub-folders need neither)"
        )
    if embeddings:
        # (options of images, given to a run of embeddings computed already: said, not
        # refused, as a script may give the same options to runs of either kind)
        unused = [
            option
            for option, given in (
                ("--no-image-cache", getattr(args, "no_image_cache", False)),
                ("--max-image-pixels", getattr(args, "max_image_pixels", None) is not None),
            )
            if given
        ]
        if unused:
            logger.warning(
                "%s %s no effect on rows of .npy files: %s images, and the rows are "
                "embeddings computed already",
                " and ".join(unused),
                "has" if len(unused) == 1 else "have",
                "it applies to" if len(unused) == 1 else "they apply to",
            )


def read_embeddings(args: argparse.Namespace) -> EmbeddingInputs:
    """The ``.npy`` files of ``args.inputs`` and the names of their rows, every one
    checked: a file numpy reads as one float array of one row per image, all of one
    width, every value finite; names (``--names``), one per row."""
    files = [Path(raw) for raw in args.inputs]
    twice = _given_twice(files)
    if twice is not None:
        path, other = twice
        raise CLIError(
            f"{path} is given twice{'' if str(path) == str(other) else f' (as {other})'}: "
            "its rows would be decomposed twice, and counted twice in a learned centre; give "
            "each file once"
        )
    arrays = [_open(path) for path in files]
    for path, array in zip(files[1:], arrays[1:], strict=True):
        if array.shape[1] != arrays[0].shape[1]:
            raise CLIError(
                f"{path} holds embeddings of width {array.shape[1]}, {files[0]} of width "
                f"{arrays[0].shape[1]}: the files of one run hold embeddings of one model; "
                "decompose them in separate runs, each with the --model that made it"
            )
    names_files = [Path(p) for p in (getattr(args, "names", None) or [])]
    column = getattr(args, "names_column", None)
    names: list[str] = []
    columns: list[str | None] = []
    if len(names_files) not in (0, 1, len(files)):
        raise CLIError(
            f"--names gives {plural(len(names_files), 'file')} for "
            f"{plural(len(files), '.npy file')}: give one per .npy file, in their order, or "
            "one for all their rows"
        )
    if names_files:
        _check_pairs(files, names_files)
        _warn_if_out_of_order(files, names_files)
        read = [_read_names(path, column) for path in names_files]
        _check_names_count(files, arrays, names_files, read)
        names = [name for found, _ in read for name in found]
        columns = [chosen for _, chosen in read]
        _warn_if_names_repeat(names, names_files, columns)
        _warn_if_names_missing(names_files, read)
    else:
        names = [""] * sum(int(a.shape[0]) for a in arrays)
    # (a row without a name, or with a blank one, is named by its file and position)
    start = 0
    for path, array in zip(files, arrays, strict=True):
        for i in range(int(array.shape[0])):
            if not names[start + i].strip():
                names[start + i] = position_name(path, i)
        start += int(array.shape[0])
    return EmbeddingInputs(files, arrays, names, names_files, columns)


def _warn_if_names_missing(
    names_files: list[Path], read: list[tuple[list[str], str | None]]
) -> None:
    """Warn that rows of the ``--names`` files have no name (a missing cell of the column
    read, a blank line): they are named by their file and position instead, which most
    often means the wrong column, or missing values a join left. Once for all the files
    (``read``: the names of each, and the column they come from): the first file with
    such rows is named, and how many others have some."""
    lacking = [
        (path, names, column, [i for i, name in enumerate(names) if not name.strip()])
        for path, (names, column) in zip(names_files, read, strict=True)
    ]
    lacking = [entry for entry in lacking if entry[3]]
    if not lacking:
        return
    path, names, column, blank = lacking[0]
    n, k = len(names), len(blank)
    verb = "is" if k == 1 else "are"
    if column is None:
        which = f"{k} of its {n} lines {verb} blank (the first: line {blank[0] + 1})"
    elif k == n:
        which = (
            f"none of its {plural(n, 'row')} has a name in its column {column!r} (pick "
            "another with --names-column)"
        )
    else:
        has = "has" if k == 1 else "have"
        which = (
            f"{k} of its {n} rows {has} no name in its column {column!r} (the first: "
            f"{_row_at(path, blank[0])})"
        )
    others = ""
    if len(lacking) > 1:
        rows = sum(len(entry[3]) for entry in lacking)
        others = (
            f"; so {'does' if len(lacking) == 2 else 'do'} "
            f"{plural(len(lacking) - 1, 'other file')} of the {len(names_files)} "
            f"({rows} rows in all)"
        )
    logger.warning(
        "--names %s: %s%s; those rows are named by their .npy file and row instead",
        path,
        which,
        others,
    )


def _warn_if_names_repeat(
    names: list[str], names_files: list[Path], columns: list[str | None]
) -> None:
    """Warn where rows share a name (a column of captions or labels picked, not of ids):
    their records cannot be told apart by it."""
    from collections import Counter

    counts = Counter(name for name in names if name.strip())
    shared = sum(n for n in counts.values() if n > 1)
    if not shared:
        return
    common, n_common = counts.most_common(1)[0]
    picked = [f"column {c!r} of " if c else "" for c in columns]
    shown = [f"{p}{path}" for p, path in zip(picked, names_files, strict=True)]
    # (clip-retrieval writes a metadata file per shard: hundreds of them)
    from .._names import listed

    where = listed(shown, 3)
    logger.warning(
        "%d of the %s share their name with another row (%r names %s; names from %s): "
        "their records are told apart only by their order%s",
        shared,
        plural(len(names), "row"),
        common,
        plural(n_common, "row"),
        where,
        "; --names-column picks a column of one name per row" if any(columns) else "",
    )


def check_width(embeddings: EmbeddingInputs, width: int, model: str) -> None:
    """The rows are as wide as the ``model``'s embeddings (``width``)."""
    if embeddings.width == width:
        return
    shape = embeddings.arrays[0].shape
    # (as many rows as the model's width: perhaps one embedding a column, perhaps as
    # many embeddings of another model: both are said)
    columns = (
        f"; or, if its {shape[1]} columns are embeddings of {width} values, save the "
        "transposed array, one embedding per row (np.save(path, X.T))"
        if all(a.shape[0] == width for a in embeddings.arrays)
        else ""
    )
    raise CLIError(
        f"{embeddings.files[0]} holds embeddings of width {embeddings.width} (shape "
        f"{shape[0]} x {shape[1]}), and {model} embeds images to {width} values: give the "
        f"--model (and --pretrained) that made them{columns}"
    )


def _open(path: Path) -> np.ndarray:
    """The array of the ``.npy`` file ``path``, memory-mapped, as 2-D rows (a 1-D file
    holds one embedding)."""
    what = f"{path} is not a .npy file of embeddings"
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as exc:
        raise CLIError(f"no such file: {path}") from exc
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except EOFError as exc:
        raise CLIError(f"{what}: it is empty (0 bytes)" if _empty(path) else what) from exc
    except ValueError as exc:
        text = str(exc)
        if _empty(path):  # (numpy < 1.25 says ValueError "pickled data" of an empty file)
            why = "it is empty (0 bytes)"
        elif "pickled" in text:
            why = "numpy's .npy header is missing (a file of another kind, renamed?)"
        elif "Python objects" in text or "Object arrays" in text:
            why = "it holds Python objects, not numbers"
        elif "greater than file size" in text:
            why = "it is shorter than its header says (cut off while written or copied?)"
        else:
            why = " ".join(text.split())
        raise CLIError(f"{what}: {why}") from exc
    if not isinstance(array, np.ndarray):  # (an .npz archive, renamed)
        if hasattr(array, "close"):
            array.close()
        raise CLIError(
            f"{what}: it is an .npz archive of arrays (named {', '.join(array.files)}); save "
            "the array of embeddings alone with numpy.save"
        )
    if array.dtype.kind != "f":
        raise CLIError(
            f"{path} holds values of type {array.dtype}, not floating-point numbers: embeddings "
            "are float16, float32 or float64"
        )
    if array.ndim == 1:
        if array.shape[0]:  # (said: a centre, or a flattened array, given by mistake?)
            logger.info("%s holds one vector (shape %s): read as one embedding", path, array.shape)
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise CLIError(
            f"{path} holds an array of shape {array.shape}: embeddings are one row per image, "
            "of shape (images, width)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise CLIError(f"{path} holds no embedding (shape {array.shape})")
    return array


def _given_twice(paths: list[Path]) -> tuple[Path, Path] | None:
    """The first of ``paths`` that names the file of an earlier one, and that one."""
    from ._checks import _same_file

    for i, path in enumerate(paths):
        for other in paths[:i]:
            if _same_file(path, other):
                return path, other
    return None


def _empty(path: Path) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:
        return False


def _not_finite(array: np.ndarray) -> np.ndarray:
    """The rows of ``array`` that hold a value that is not finite (NaN or infinite)."""
    found = [
        start + np.flatnonzero(~np.isfinite(np.asarray(array[start : start + _SCAN_ROWS])).all(1))
        for start in range(0, array.shape[0], _SCAN_ROWS)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


def _refuse_not_finite(path: Path, rows: np.ndarray) -> None:
    """The error of ``--strict`` for the ``rows`` of ``path`` that are not finite."""
    n = len(rows)
    raise RunError(
        f"{position_name(path, int(rows[0]))} holds values that are not finite (NaN or "
        f"infinite), as {plural(n, 'row')} of {path} do{'es' if n == 1 else ''}, which no "
        "decomposition explains (--strict stops at the first; without it, such rows are "
        "skipped and named)"
    )


def _not_utf8_text(option: str, path: Path) -> str:
    """The error of the file ``path`` of ``option`` that is not UTF-8 text: the line and
    byte where it stops being so, where they can be found."""
    from ._inputs import utf8_fault

    fault = utf8_fault(path)
    if fault is None:
        return f"{option} {path} is not UTF-8 text: save it as UTF-8"
    return f"{option} {path}, {fault}; save it as UTF-8"


def _read_names(
    path: Path,
    column: str | None,
    option: str = "--names",
    table: Any = None,
    pick: str | None = None,
) -> tuple[list[str], str | None]:
    """The names ``path`` holds, one per row, and the column they were read from (None
    for a file of one name per line). ``option``: ``--names``, or ``--labels`` for the
    classes of the rows (a table's column of labels is then looked for, picked by
    ``--labels-column``); ``table``: the file read already, as a table; ``pick``: the
    option that gave ``column`` (by default ``option`` followed by ``-column``; the
    classes read from the ``--names`` tables are picked by ``--labels-column``)."""
    pick = pick or f"{option}-column"
    if not path.is_file():
        raise CLIError(
            f"{option} {path}: " + ("no such file" if not os.path.lexists(path) else "not a file")
        )
    kind = _kind(path)
    if kind in _COMPRESSED:
        raise CLIError(
            f"{option} {path} is compressed ({kind}) text: decompress it, or give a compressed "
            "table (.csv.gz, .tsv.gz, .jsonl.gz)"
        )
    if kind not in _TABLE_SUFFIXES:
        if column is not None:
            raise CLIError(
                f"{pick} picks a column of a .csv, .tsv, .parquet or .jsonl file; "
                f"{path} is read as one {option.removeprefix('--').removesuffix('s')} per line"
            )
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CLIError(_not_utf8_text(option, path)) from exc
        except OSError as exc:
            raise CLIError(f"cannot read {option} {path}: {exc.strerror or exc}") from exc
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # (the end of the last line)
        return [line.removesuffix("\r") for line in lines], None
    table = _read_table(path, kind, option) if table is None else table
    columns = [str(c) for c in table.columns]
    if kind == ".csv" and len(columns) == 1:
        from ._inputs import _OTHER_SEPARATORS

        other = [name for sep, name in _OTHER_SEPARATORS if sep in columns[0]]
        if other:
            raise CLIError(
                f"{option} {path}: its header {columns[0]!r} is one column of a .csv file, "
                f"separated by {other[0]}: save it with commas between the columns (a "
                "spreadsheet's list separator), or with tabs as a .tsv file"
            )
    chosen = _names_column(path, columns, column, option, pick)
    values = table[table.columns[columns.index(chosen)]].tolist()
    held = next(
        (v for v in values if not _missing(v) and not isinstance(v, str | int | float)), None
    )
    if held is not None:  # (an image column of encoded pictures, as datasets' tables hold)
        raise CLIError(
            f"{option} {path}: its column {chosen!r} holds {type(held).__name__} values, not "
            f"{option.removeprefix('--')}: pick the column of {option.removeprefix('--')} with "
            f"{pick} (its columns: "
            f"{', '.join(columns)})"
        )
    return ["" if _missing(v) else str(v) for v in values], chosen


def _kind(path: Path) -> str:
    """The suffix that tells how ``path`` is read: that before a compression suffix
    (``.csv`` of ``names.csv.gz``), or the compression suffix of a file of lines."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        inner = suffixes[-2] if len(suffixes) > 1 else ""
        return inner if inner in _TABLE_SUFFIXES and inner != ".parquet" else suffixes[-1]
    return suffixes[-1] if suffixes else ""


def _read_table(path: Path, kind: str, option: str = "--names") -> Any:
    import pandas as pd

    try:
        if kind == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        if kind == ".parquet":
            try:
                return pd.read_parquet(path)
            except ImportError as exc:
                raise CLIError(
                    f"reading {option} {path} needs pyarrow (pip install pyarrow); or give it "
                    "as a .csv file, or as a text file of one value per line"
                ) from exc
        sep = "\t" if kind == ".tsv" else ","
        return pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8",
            skip_blank_lines=False,
        )
    except CLIError:
        raise
    except UnicodeDecodeError as exc:
        raise CLIError(_not_utf8_text(option, path)) from exc
    except OSError as exc:
        raise CLIError(f"cannot read {option} {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # (pandas' and pyarrow's errors of a malformed file)
        raise CLIError(f"cannot read {option} {path}: {malformed(path, kind, exc)}") from exc


def malformed(path: Path, kind: str, exc: Exception) -> str:
    """What is wrong with the table ``path`` that pandas or pyarrow failed to read, by
    its line where it has lines: pandas says "Error tokenizing data. C error: Expected 2
    fields in line 3, saw 3" of a row with a comma too many, and a byte position (in the
    decompressed text, of a compressed file) of a line of a .jsonl file that is not
    JSON."""
    said = " ".join(str(exc).split())
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", said)
    if ragged:
        n, line, saw = ragged.groups()
        sep = "a tab" if kind == ".tsv" else "a comma"
        return (
            f"line {line} has {saw} fields where the lines before it have {n}: put a value "
            f"that holds {sep} in double quotes"
        )
    if kind == ".jsonl":
        import json

        for line, text in _json_lines(path):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                return f"line {line} is not JSON ({error.msg}, column {error.colno})"
            if not isinstance(value, dict):
                return f"line {line} is not a JSON object ({{...}}) of one row's fields"
    return said


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of the .jsonl file ``path`` that are not blank (pandas reads no row of
    those), with their numbers from 1, as an editor numbers them; a compressed file
    (``.jsonl.gz``, ``.bz2``, ``.xz``) read through its compression. Nothing where it
    cannot be read (its error is pandas')."""
    import bz2
    import gzip
    import lzma

    opener: Any = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(
        path.suffix.lower(), open
    )
    if opener is open and path.suffix.lower() != ".jsonl":  # (.zst, .zip: not read here)
        return
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line, text in enumerate(fh, start=1):
                if text.strip():
                    yield line, text
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError):
        return


def _row_at(path: Path, i: int) -> str:
    """Where the row ``i`` (from 0) of the table ``path`` is, in words its reader counts
    alike: the line of a .csv or .tsv file (after its header) or of a .jsonl file (blank
    lines counted), as an editor numbers it; the ordinal row of a .parquet file (no line
    to count, and its row numbers start from 0 in pandas, from 1 elsewhere), and of a
    .jsonl file that cannot be read again."""
    kind = _kind(path)
    if kind in (".csv", ".tsv"):
        return f"line {i + 2}"
    if kind == ".jsonl":
        # (the i-th line that is not blank: pandas reads no row of a blank one)
        line = next(itertools.islice((n for n, _ in _json_lines(path)), i, None), None)
        if line is not None:
            return f"line {line}"
    n = i + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"its {n}{suffix} row"


def _names_column(
    path: Path,
    columns: list[str],
    column: str | None,
    option: str = "--names",
    pick: str | None = None,
) -> str:
    """The column of ``columns`` that holds the names: ``column`` where given (by the
    option ``pick``, by default ``option`` followed by ``-column``), else the first path
    column, else the first of :data:`_NAME_HEADERS`, else the only one (of ``--labels``:
    the first of ``_inputs._LABEL_HEADERS``, else the only one)."""
    from ._inputs import _LABEL_HEADERS, _PATH_HEADERS, column_hint

    if column is not None:
        if column not in columns:
            raise CLIError(
                f"{pick or option + '-column'} {column}: {option} {path} has no column "
                f"{column!r}{column_hint(column, columns)}; its columns: {', '.join(columns)}"
            )
        return column
    lower = [c.lower() for c in columns]
    headers = (*sorted(_PATH_HEADERS), *_NAME_HEADERS) if option == "--names" else _LABEL_HEADERS
    if option == "--names":
        for i, header in enumerate(lower):
            if header in _PATH_HEADERS:
                return columns[i]
    for header in headers:
        if header in lower:
            return columns[lower.index(header)]
    if len(columns) == 1:
        return columns[0]
    what = "names" if option == "--names" else "labels"
    raise CLIError(
        f"{option} {path} has {len(columns)} columns ({', '.join(columns)}), none of them "
        f"named as a column of {what} is ({', '.join(headers)}): pick one with {option}-column"
    )


def _missing(value: Any) -> bool:
    """A table's cell without a value (None, or NaN in a column of numbers)."""
    return value is None or (isinstance(value, float) and value != value)


def _check_names_count(
    files: list[Path],
    arrays: list[np.ndarray],
    names_files: list[Path],
    read: list[tuple[list[str], str | None]],
) -> None:
    """One name per row: a names file per ``.npy`` file, pair by pair where there are as
    many of each, else all the names for all the rows (``read``: each names file's
    names and the column they were read from, None for a file of lines)."""
    rows = [int(a.shape[0]) for a in arrays]
    if len(names_files) == len(files) > 1:
        for path, n_rows, names_path, (names, column) in zip(
            files, rows, names_files, read, strict=True
        ):
            if len(names) != n_rows:
                raise CLIError(
                    f"--names {names_path} gives {plural(len(names), 'name')} for the "
                    f"{plural(n_rows, 'row')} of {path} (each --names file names the rows of "
                    "the .npy file in the same place on the command line)"
                    + _why(names, column, n_rows)
                )
        return
    n_names, n_rows = sum(len(names) for names, _ in read), sum(rows)
    if n_names != n_rows:
        of = (
            f"the {plural(n_rows, 'row')} of {files[0]}"
            if len(files) == 1
            else f"the {plural(n_rows, 'row')} of the {len(files)} .npy files"
        )
        given = names_files[0] if len(names_files) == 1 else f"{len(names_files)} files"
        why = _why(*read[0], n_rows) if len(read) == 1 else ""
        raise CLIError(
            f"--names {given} gives {plural(n_names, 'name')} for {of}: give one name per "
            f"row, in the order of the rows{why}"
        )


def _why(names: list[str], column: str | None, n_rows: int) -> str:
    """Why a names file gives a name fewer or more than ``n_rows``, where it can be
    told: a table's header, blank lines at the end of a file of lines."""
    from ._inputs import _LABEL_HEADERS, _PATH_HEADERS

    known = {*_PATH_HEADERS, *_NAME_HEADERS, *_LABEL_HEADERS}
    if column is not None and len(names) == n_rows - 1 and column.lower() not in known:
        return (
            f" (a table's first line is its header: {column!r} was read as the name of the "
            "column, not of a row)"
        )
    if column is None and len(names) == n_rows + 1 and names[0].strip().lower() in known:
        return (
            f" (its first line, {names[0]!r}, reads as a header: a text file holds one value "
            "per line and no header; a table with a header is a .csv file)"
        )
    blank = len(names) - len(list(itertools.dropwhile(lambda n: not n.strip(), names[::-1])))
    if column is None and blank and len(names) - blank <= n_rows < len(names):
        return " (its last line is blank)" if blank == 1 else f" (its last {blank} lines are blank)"
    return ""


def centre_at_hand(args: argparse.Namespace) -> tuple[np.ndarray, str, bool] | None:
    """The centre the run will use, where it is known without the model or a download:
    the published mean of ``--model``/``--pretrained`` already in the data home, or an
    ``--image-mean`` ``.npy`` file; with what it is (``"the published image mean of
    M/P"``) and whether it is a published one. None otherwise (learned from the rows, or
    to be downloaded)."""
    from .._data import resolve_in_data_home
    from ..vocabulary import IMAGE_MEANS, as_mean_vector, image_mean_key, load_image_mean
    from ._checks import _MEAN_KEYWORDS, _torch_file, has_published_mean

    choice = getattr(args, "image_mean", None)
    if choice in ("auto", "pretrained"):
        if not has_published_mean(args):
            return None
        remote = IMAGE_MEANS[image_mean_key(args.model, args.pretrained)]
        try:
            if not resolve_in_data_home(remote.path, args.data_home, create=False).is_file():
                return None
            mean = load_image_mean(args.model, args.pretrained, data_home=args.data_home)
        except Exception:  # (said where the run reads it)
            return None
        return np.asarray(mean), f"the published image mean of {args.model}/{args.pretrained}", True
    if choice is None or choice in _MEAN_KEYWORDS:
        return None
    path = Path(choice).expanduser()
    if not path.is_file() or _torch_file(path):
        return None
    try:
        mean = as_mean_vector(path, source="--image-mean")
        return np.asarray(mean), f"the image mean in {choice}", False
    except ValueError:
        return None


def check_centre_early(args: argparse.Namespace, embeddings: EmbeddingInputs) -> bool:
    """Check, before the model loads, that the rows lie around the centre of the run
    (:func:`centre_at_hand`); whether it was checked.

    Rows that fit the published mean of other weights, where the run would centre
    them by a published one, are refused (exit 2): they were made by those weights,
    whose text tower must embed the concepts, and every concept found would explain
    the offset between the two centres. Rows that fit none are warned about.
    """
    at_hand = centre_at_hand(args)
    if at_hand is None:
        return False
    mean, where, published = at_hand
    check_centre(embeddings, mean, where, args.data_home, published=published)
    return True


def _centre_samples(embeddings: EmbeddingInputs) -> Iterator[tuple[str, np.ndarray]]:
    """The first finite rows of each file (at most ``_CENTRE_ROWS``, fewer where there are
    many files), with the file's name: the rows that :func:`check_centre` looks at, so
    that shards of other weights mixed into a run are found. A file of too few rows to
    tell is taken together with the files that follow it (named by the first and the
    last); the last files, where they hold too few, are not looked at."""
    from .._means import MIN_CENTRE_CHECK_ROWS

    each = max(_CENTRE_ROWS_EACH, _CENTRE_ROWS_ALL // len(embeddings.files))
    group: list[np.ndarray] = []
    first: Path | None = None
    for path, array in zip(embeddings.files, embeddings.arrays, strict=True):
        rows = np.asarray(array[: min(each, _CENTRE_ROWS)])
        group.append(rows[np.isfinite(rows).all(axis=1)])  # (rows skipped are not decomposed)
        first = path if first is None else first
        if sum(len(r) for r in group) >= MIN_CENTRE_CHECK_ROWS:
            yield (str(path) if first == path else f"{first} to {path}"), np.concatenate(group)
            group, first = [], None


def check_centre(
    embeddings: EmbeddingInputs, mean: Any, where: str, data_home: Any, *, published: bool
) -> None:
    """Refuse or warn (:func:`check_centre_early`) where the first rows of a file (of
    :func:`_centre_samples`) do not lie around the centre ``mean`` of the run (said as
    ``where``; ``published``: a published mean, else a file given)."""
    from .._means import _OPPOSITE, CENTRE_MISMATCH_COSINE, centre_mismatch

    mean = np.asarray(mean)
    if mean.shape != (embeddings.width,):  # (a centre of another width: refused as such)
        return
    mismatches = (
        (files, centre_mismatch(rows, mean, data_home))
        for files, rows in _centre_samples(embeddings)
    )
    files, found = next(((f, m) for f, m in mismatches if m is not None), ("", None))
    if found is None:
        return
    said = (
        f"the embeddings of {files} do not lie around {where}: the mean "
        f"direction of {found.n_samples} of them has cosine {found.cosine:.2f} with it (below "
        f"{CENTRE_MISMATCH_COSINE})"
    )
    if found.fits is not None and published and found.cosine > _OPPOSITE:
        model, pretrained, cosine = found.fits
        raise UsageError(
            f"{said}, and {cosine:.2f} with the published image mean of {model}/{pretrained}: "
            f"they are embeddings of {model}/{pretrained}, whose text tower must embed the "
            f"concepts: give --model {model} --pretrained {pretrained} (or --image-mean data "
            "to centre them by their own mean)"
        )
    fits = (
        f" (they fit the published image mean of {found.fits[0]}/{found.fits[1]}: cosine "
        f"{found.fits[2]:.2f}: --model {found.fits[0]} --pretrained {found.fits[1]})"
        if found.fits is not None
        else ""
    )
    if found.cosine <= _OPPOSITE:
        cause = "The mean points the opposite way (its sign flipped?)"
    elif published:
        cause = "They are likely embeddings of other CLIP weights, or of texts"
    else:
        cause = "The mean is likely of other CLIP weights than the embeddings'"
    logger.warning(
        "%s, so their concepts explain that offset rather than the images. %s%s: give the "
        "--model and --pretrained that made them, or --image-mean data (learned from them)",
        said,
        cause,
        fits,
    )


def read_labels(args: argparse.Namespace, embeddings: EmbeddingInputs) -> list[str]:
    """The class of each row of ``embeddings`` (``profile`` and ``report`` given ``.npy``
    files): from ``--labels FILE`` (one label per row, in their order: a text file of one
    per line, or a table's column of labels; a table with a column of paths, as for
    images, is matched to the rows by their names) or from the ``--labels-column`` of the
    ``--names`` tables. Classes whose names differ only in case or spaces are warned
    about."""
    labels = _read_labels(args, embeddings)
    from .._validation import alike_labels, alike_labels_message

    alike = alike_labels(sorted(set(labels)))
    if alike:  # (told before the vocabulary is embedded)
        logger.warning("%s", alike_labels_message(alike, "in the labels"))
    return labels


def _read_labels(args: argparse.Namespace, embeddings: EmbeddingInputs) -> list[str]:
    """The labels of :func:`read_labels`, checked (one per row, none blank or reserved)."""
    column = getattr(args, "labels_column", None)
    if getattr(args, "labels", None):
        path = Path(args.labels)
        by_name, table, at = _labels_by_name(path, column, embeddings)
        if by_name is not None:
            # (a row's label is on the line of the table that names it)
            def where_named(i: int | None) -> str:
                return f"--labels {path}" + ("" if i is None else f", {_row_at(path, at[i])}")

            return _checked_labels(by_name, embeddings, where_named)
        labels, chosen = _read_names(path, column, "--labels", table)
        read = [(labels, chosen)]

        def where(i: int | None) -> str:
            if i is None:
                return f"--labels {path}"
            return f"--labels {path}, {f'line {i + 1}' if chosen is None else _row_at(path, i)}"

    elif column is not None:
        if not embeddings.names_files:
            raise CLIError(
                f"--labels-column {column} picks the column of classes of the --names tables "
                "(or of a --labels table): give --names too, or --labels FILE"
            )
        lines = [p for p, c in zip(embeddings.names_files, embeddings.names_columns) if c is None]
        if lines:
            raise CLIError(
                f"--labels-column {column} picks a column of the --names tables, and --names "
                f"{lines[0]} is a file of one name per line: give the classes with --labels FILE "
                "(one label per row, in their order)"
            )
        read = [
            _read_names(path, column, pick="--labels-column") for path in embeddings.names_files
        ]
        labels = [label for found, _ in read for label in found]
        # (the file of each label, and its row there: one names file per .npy file, or one
        # for all)
        starts = np.cumsum([0, *(len(found) for found, _ in read)])

        def where(i: int | None) -> str:
            if i is None:
                return f"column {column!r} of --names"
            at = int(np.searchsorted(starts, i, side="right")) - 1
            names_file = embeddings.names_files[at]
            row = _row_at(names_file, i - int(starts[at]))
            return f"column {column!r} of --names {names_file}, {row}"

    else:
        raise CLIError(
            f"{getattr(args, 'command', None) or 'profile'} needs the class of each row of the "
            ".npy files: give --labels FILE (one label per row, in their order: a text file of "
            "one per line, or a table with a label column) or --labels-column COLUMN (a column "
            "of the --names tables)"
        )
    # (the counts of the names tables match the rows': checked when they were read)
    if len(labels) != embeddings.n_rows:
        why = _why(*read[0], embeddings.n_rows)
        raise CLIError(
            f"{where(None)} gives {plural(len(labels), 'label')} for the "
            f"{plural(embeddings.n_rows, 'row')} of the .npy files: give one label per row, "
            f"in the order of the rows{why}"
        )
    return _checked_labels(labels, embeddings, where)


def _checked_labels(labels: list[str], embeddings: EmbeddingInputs, where: Any) -> list[str]:
    """``labels``, one per row, refused where one is blank or the reserved ``all``; the
    message names the row's place (``where(i)``: the file, and its line or row) and
    name."""
    from .._names import ALL_GROUP

    reserved = [i for i, label in enumerate(labels) if label == ALL_GROUP]
    if reserved:
        raise CLIError(
            f"{where(reserved[0])} gives the label {ALL_GROUP!r} to "
            f"{embeddings.names[reserved[0]]}, a label reserved for the group of all rows "
            "in the class profiles; give that class another name"
        )
    blank = [i for i, label in enumerate(labels) if not label.strip()]
    if blank:
        more = f" (and {plural(len(blank) - 1, 'other row')})" if len(blank) > 1 else ""
        raise CLIError(
            f"{where(blank[0])} gives no label for {embeddings.names[blank[0]]}{more}: every "
            "row needs its class (leave the rows without one out of the .npy file, or label "
            "them)"
        )
    return labels


def _labels_by_name(
    path: Path, column: str | None, embeddings: EmbeddingInputs
) -> tuple[list[str] | None, Any, list[int]]:
    """The classes of the rows from a ``--labels`` table with a column of paths (as one
    for images holds), matched to the rows by their names (``--names``); None for a file
    without such a column (read in the order of the rows). With the table read (None
    for a file of lines), not to be read again, and the row of the table that gives
    each row its class (empty where the table is not matched by name)."""
    from ._inputs import _PATH_HEADERS

    kind = _kind(path)
    if kind not in _TABLE_SUFFIXES or not path.is_file():
        return None, None, []
    table = _read_table(path, kind, "--labels")
    columns = [str(c) for c in table.columns]
    keys = [c for c in columns if c.lower() in _PATH_HEADERS and c != column]
    if not keys:
        return None, table, []
    key = keys[0]
    chosen = _names_column(path, columns, column, "--labels")
    if not embeddings.names_files:
        raise CLIError(
            f"--labels {path} names its rows by its column {key!r}, and the rows of the .npy "
            "files have no names: give --names (their metadata, whose names are those of "
            f"{key!r}), or a --labels file without a column of paths (one label per row, in "
            "their order)"
        )
    found: dict[str, str] = {}
    first: dict[str, int] = {}  # (the row of the table that first names each name)
    values = zip(
        table[table.columns[columns.index(key)]], table[table.columns[columns.index(chosen)]]
    )
    for i, (name, label) in enumerate(values):
        name, label = ("" if _missing(v) else str(v) for v in (name, label))
        if found.get(name, label) != label:
            raise CLIError(
                f"--labels {path}, {_row_at(path, i)}: {name} is given two labels "
                f"({found[name]!r}, {label!r})"
            )
        found[name] = label
        first.setdefault(name, i)
    missing = [i for i, name in enumerate(embeddings.names) if name not in found]
    if missing:
        more = f" (and {plural(len(missing) - 1, 'other row')})" if len(missing) > 1 else ""
        raise CLIError(
            f"--labels {path} has no label for {embeddings.names[missing[0]]}{more}: its "
            f"column {key!r} names the rows as --names does (or give a --labels file without "
            "a column of paths: one label per row, in their order)"
        )
    unused = len(set(found) - set(embeddings.names))
    if unused:
        logger.warning(
            "--labels %s: %s of its column %r name%s no row of the .npy files",
            path,
            plural(unused, "row"),
            key,
            "s" if unused == 1 else "",
        )
    names = embeddings.names
    return [found[name] for name in names], table, [first[name] for name in names]
