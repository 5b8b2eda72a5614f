"""Concept vocabularies and CLIP image means published by the SpLiCE authors.

The files are downloaded from their upstream address on first use, verified
against pinned SHA-256 digests and cached in the data home (see
:func:`sksplice.get_data_home`) under the upstream layout
(``vocab/<name>.txt``, ``means/<file>.pt``). See :doc:`/vocabularies`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import shlex
import warnings
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from ._download import RemoteFile, fetch_remote_file
from ._names import a_type, listed, visible_text
from ._stack import warn_user
from ._validation import VOCABULARY_SIZE, check_int, check_option, tensor_as_array

__all__ = [
    "IMAGE_MEANS",
    "UPSTREAM_URL",
    "VOCABULARIES",
    "EmptyVocabularyError",
    "RepeatedConceptWarning",
    "as_mean_vector",
    "authors_index_to_concept",
    "load_image_mean",
    "load_vocabulary",
]

#: Upstream folder of the authors' data files (AI4LIFE-GROUP/SpLiCE, ``data/``).
UPSTREAM_URL = "https://raw.githubusercontent.com/AI4LIFE-GROUP/SpLiCE/main/data/"


def _remote(path: str, sha256: str) -> RemoteFile:
    return RemoteFile(path=path, url=UPSTREAM_URL + path, sha256=sha256)


#: Named vocabularies: name -> (relative path, upstream URL, sha256). Each file
#: lists one concept per line, least frequent first.
VOCABULARIES: dict[str, RemoteFile] = {
    "laion": _remote(
        "vocab/laion.txt", "aee8e260477dcfbc873f939955ffd472969859054ed46e245bbe8b37d10b508c"
    ),
    "laion_bigrams": _remote(
        "vocab/laion_bigrams.txt",
        "6561525228843aa8b0d2b27e731c8c2b18dac0e4bdda40761933b0aecda1e67a",
    ),
    "mscoco": _remote(
        "vocab/mscoco.txt", "ddd84fc591b2e49c1513cc3dcc199153df276a44686712e21a6efb7711e2d43b"
    ),
}

#: What each pinned vocabulary file holds: (lines, concepts after cleaning). The
#: files are pinned by digest, so a ``size`` can be checked before a download.
_VOCABULARY_COUNTS: dict[str, tuple[int, int]] = {
    "laion": (37445, 37445),
    "laion_bigrams": (15000, 15000),
    "mscoco": (12833, 12832),
}


def named_size_exceeded(name: Any, size: int | None, order: str = "frequency") -> int | None:
    """The length of the pinned vocabulary ``name`` when ``size`` is larger, else None.

    The length is its lines for ``order="authors"`` (whose sizes count lines), its
    concepts otherwise; known without the file, so a size is checked before a download.
    None also for a name that is not pinned (its file says, once read).
    """
    counts = _VOCABULARY_COUNTS.get(name) if isinstance(name, str) else None
    if counts is None or size is None:
        return None
    n = counts[0] if order == "authors" else counts[1]
    return n if size > n else None


def _check_named_size(name: str, size: int | None, order: str) -> None:
    """Refuse a ``size`` larger than the named vocabulary (before it is fetched)."""
    n = named_size_exceeded(name, size, order)
    if n is not None:
        what = "lines" if order == "authors" else "concepts"
        raise ValueError(
            f"size={size} is larger than the {n} {what} of the {name!r} vocabulary; "
            "use size=None to load all of them"
        )


_OPEN_CLIP_B32 = _remote(
    "means/open_clip_ViT-B-32_image.pt",
    "6b91c6d0e9006e27dfb6f13e6d25a90c5ff24eb14e4ee60cf064a7ddf9f646b7",
)
_OPENAI_B32 = _remote(
    "means/clip_ViT-B-32_image.pt",
    "dbd73aec9162cc26d3850c042b2a035720c1f6d38fc0b64a73518995f884202b",
)
_OPENAI_B16 = _remote(
    "means/clip_ViT-B-16_image.pt",
    "2907555438ef16b4677cb72ad81b3c3fe8c9246028714e943dba6c3b91d67eee",
)
_OPENAI_RN50 = _remote(
    "means/clip_RN50_image.pt",
    "e1ee3345ef6faf6f8ebc30f649189bf4e583fe71229b2955e227cf59124d42fa",
)

#: Published image means: (open_clip model name, pretrained tag) -> (relative
#: path, upstream URL, sha256). The ``-quickgelu`` names load the same OpenAI
#: weights in open_clip and share their mean.
IMAGE_MEANS: dict[tuple[str, str], RemoteFile] = {
    ("ViT-B-32", "laion2b_s34b_b79k"): _OPEN_CLIP_B32,
    ("ViT-B-32", "openai"): _OPENAI_B32,
    ("ViT-B-32-quickgelu", "openai"): _OPENAI_B32,
    ("ViT-B-16", "openai"): _OPENAI_B16,
    ("ViT-B-16-quickgelu", "openai"): _OPENAI_B16,
    ("RN50", "openai"): _OPENAI_RN50,
    ("RN50-quickgelu", "openai"): _OPENAI_RN50,
}


class RepeatedConceptWarning(UserWarning):
    """A vocabulary file or list names a concept more than once.

    Only the first of each is kept, so the concepts (and the columns of the
    weights) are fewer than the file's lines or the list's entries, and a
    concept's position among them is not its line. ``repeats`` maps each
    repeated concept to its positions (line numbers of a file, from 1; indices
    of a list, from 0).
    """

    def __init__(self, message: str, repeats: dict[str, list[int]]) -> None:
        super().__init__(message)
        self.repeats = repeats

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickled with its repeats: a warning recorded in a worker process)
        return (type(self), (str(self.args[0]) if self.args else "", self.repeats), self.__dict__)


#: Repeated concepts a RepeatedConceptWarning names (the rest are counted).
_REPEATS_SHOWN = 3


class EmptyVocabularyError(ValueError):
    """A vocabulary (a file, a list) that holds no concept.

    Attributes
    ----------
    empty : bool
        True where it holds no entry at all, False where it holds only blank ones.
    """

    def __init__(self, message: str, *, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty

    def __reduce__(self) -> tuple[object, ...]:
        return (_empty_vocabulary_error, (str(self), self.empty))


def _empty_vocabulary_error(message: str, empty: bool) -> EmptyVocabularyError:
    """An :class:`EmptyVocabularyError` made again (unpickled)."""
    return EmptyVocabularyError(message, empty=empty)


def _clean(
    items: Iterable[str],
    source: str,
    *,
    positions: Literal["line", "index"] | None = None,
    first: int = 0,
    keep: int | None = None,
) -> list[str]:
    """Strip, drop blanks and keep the first occurrence of each concept, in order.

    With ``positions``, repeated concepts among the first ``keep`` kept (all with
    None) are named in a :class:`RepeatedConceptWarning`: ``"line"`` numbers
    the items ``first + 1``, ``first + 2``, ... (a file's lines), ``"index"``
    ``first``, ``first + 1``, ... (a list's entries).
    """
    seen: dict[str, int] = {}
    out: list[str] = []
    at: list[int] = []  # (the item position of each concept kept)
    repeats: dict[str, list[int]] = {}
    i, written = -1, False  # (the last item's position; whether an item holds a character)
    for i, item in enumerate(items):
        written = written or bool(item)
        concept = visible_text(item)
        if not concept:
            continue
        if concept not in seen:
            seen[concept] = i
            out.append(concept)
            at.append(i)
        else:
            repeats.setdefault(concept, [seen[concept]]).append(i)
    if not out:
        entries = "lines" if positions == "line" else "entries"
        # (a file of 0 bytes reads as one empty line; a list of one "" holds an entry)
        empty = i < 0 or (positions == "line" and i == 0 and not written)
        raise EmptyVocabularyError(
            f"The vocabulary {source} holds no concept "
            f"({'it is empty' if empty else f'only blank {entries}'})",
            empty=empty,
        )
    caller = _SIZE_CUT_BY_CALLER.get()
    if positions is not None and repeats and not (caller and caller.repeats_said):
        # (only a repeat before the last concept kept moves a kept concept off its place)
        last = at[len(out) - 1 if keep is None else min(keep, len(out)) - 1]
        moving = {c: [p[0]] + [i for i in p[1:] if i < last] for c, p in repeats.items()}
        moving = {c: p for c, p in moving.items() if len(p) > 1}
        if moving:
            _warn_repeats(moving, source, positions, first)
    return out


def _warn_repeats(repeats: dict[str, list[int]], source: str, positions: str, first: int) -> None:
    shift = first + (1 if positions == "line" else 0)
    where = {c: [shift + i for i in at] for c, at in repeats.items()}
    word = "lines" if positions == "line" else "entries"
    shown = listed(
        list(where.items()),
        _REPEATS_SHOWN,
        lambda item: f"{item[0]!r} at {word} {', '.join(map(str, item[1]))}",
        sep="; ",
        more="; and {} more",
    )
    n_dropped = sum(len(at) - 1 for at in where.values())
    warn_user(
        RepeatedConceptWarning(
            f"The vocabulary {source} repeats {len(where)} concept"
            f"{'s' if len(where) > 1 else ''} ({shown}): only the first of each is kept, "
            f"{n_dropped} {'entry' if n_dropped == 1 else 'entries'} dropped, so the "
            f"concepts after a repeat are not at their {'line' if positions == 'line' else 'index'}"
            " (name weight columns with get_feature_names_out()). Remove the repeats to keep "
            f"one concept per {'line' if positions == 'line' else 'entry'}.",
            where,
        )
    )


def _read_lines(path: Path) -> list[str]:
    """Read a UTF-8 text file (optional BOM) as a list of lines."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data[:offset].count(b"\n") + 1
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # (as Windows' Notepad saves "Unicode")
            raise ValueError(
                f"{str(path)!r} is UTF-16 (it starts with a UTF-16 byte-order mark), not "
                "UTF-8: save the vocabulary file as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 "
                f"{shlex.quote(str(path))} > concepts.txt"
            ) from exc
        raise ValueError(
            f"{str(path)!r}, line {line}: not valid UTF-8 (byte 0x{data[offset]:02x} at byte "
            f"offset {offset}); save the vocabulary file as UTF-8"
        ) from exc
    # Only "\n" (with an optional "\r" removed by strip) ends a line, so that
    # exotic Unicode separators inside a concept never split it.
    lines = text.split("\n")
    _refuse_control_characters(text, path)
    if ("," in text or "\t" in text) and not _warn_if_counts_table(lines, path):
        _warn_if_comma_lists(lines, path)
    return lines


def _warn_if_comma_lists(lines: list[str], path: Path) -> None:
    """Warn when at least half of the lines of a vocabulary file (two at least) list
    words separated by commas (``dog, cat, tree``): each line is one concept, so
    ``"dog, cat, tree"`` would be a single concept. No published vocabulary has a
    comma in any line; a file of one concept per line with a few commas (``salt,
    pepper``) is left alone."""
    entries = [entry for entry in (line.strip() for line in lines) if entry]
    listed = [
        entry
        for entry in entries
        if "," in entry and all(part.strip() for part in entry.split(","))
    ]
    if len(listed) < 2 or 2 * len(listed) < len(entries):
        return
    quoted = shlex.quote(str(path))
    warn_user(
        f"vocabulary file {str(path)!r}: {len(listed)} of its {len(entries)} lines list "
        f"words separated by commas ({listed[0]!r}), and each line is read as one concept, "
        "commas included. A vocabulary file holds one concept per line: if those are "
        f"lists of concepts, put one on each line, e.g. tr ',' '\\n' < {quoted} | "
        "sed 's/^ *//' > concepts.txt",
        UserWarning,
    )


#: Characters no concept holds: the C0 controls but tab, and DEL (a "\r" that ends a line
#: before its "\n" is not one of them: removed with the line's ends).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _refuse_control_characters(text: str, path: Path) -> None:
    """Refuse a vocabulary file whose concepts would hold a control character, naming
    its line: a file of old Mac line endings (``"\r"`` alone) was read as one concept
    ``'cat\rdog\rbird'``, and a NUL byte went into a concept, without a word."""
    plain = text.replace("\r\n", "\n")
    found = _CONTROL.search(plain)
    if found is None:
        return
    line = plain.count("\n", 0, found.start()) + 1
    start = plain.rfind("\n", 0, found.start()) + 1
    end = plain.find("\n", found.start())
    entry = plain[start : end if end >= 0 else len(plain)].strip()
    shown = entry if len(entry) <= 60 else entry[:57] + "..."
    if found.group() == "\r":
        advice = (
            "its lines end in a lone carriage return (old Mac line endings): save it with "
            f"\\n line endings, e.g. tr '\\r' '\\n' < {shlex.quote(str(path))} > concepts.txt"
        )
    else:
        advice = "a concept holds no control character: remove it"
    raise ValueError(
        f"{str(path)!r}, line {line}: {shown!r} holds the control character "
        f"{found.group()!r}; {advice}"
    )


#: A count or frequency, as a table of them writes it: ``120``, ``1,200``, ``0.5``, ``3e-05``.
_NUMBER = re.compile(r"[-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _count_separator(entry: str) -> str | None:
    """The tab or comma before a number that ends ``entry`` (after some text), else None."""
    for sep in ("\t", ","):
        head, found, tail = entry.rpartition(sep)
        if found and head.strip() and _NUMBER.fullmatch(tail.strip()):
            return sep
    return None


def _warn_if_counts_table(lines: list[str], path: Path) -> bool:
    """Warn when (nearly) every line of a vocabulary file ends in a comma or tab and a
    number: a table of concepts and counts (``word,count``, ``word<TAB>count``), whose
    lines would each be read as one concept (``"dog,120"``); whether it warned.

    A line that does not (a header such as ``concept,count``) is allowed per 20 lines,
    and at least one. No published vocabulary has a comma or a tab in any line.
    """
    entries = [entry for entry in (line.strip() for line in lines) if entry]
    seps = [_count_separator(entry) for entry in entries]
    counted = [(entry, sep) for entry, sep in zip(entries, seps, strict=True) if sep]
    others = len(entries) - len(counted)
    if len(counted) < 2 or others > max(1, len(entries) // 20):
        return False
    found = [sep for _, sep in counted]
    sep = max(set(found), key=found.count)
    header = seps[0] is None and sep in entries[0]  # (such as "concept,count")
    quoted = shlex.quote(str(path))
    cut = "cut -d, -f1" if sep == "," else "cut -f1"
    command = f"tail -n +2 {quoted} | {cut}" if header else f"{cut} {quoted}"
    warn_user(
        f"vocabulary file {str(path)!r}: {len(counted)} of its {len(entries)} lines end in "
        f"{'a comma' if sep == ',' else 'a tab'} and a number ({counted[0][0]!r}), as in a "
        "table of concepts and counts, and each line is read as one concept, number "
        "included. A vocabulary file holds one concept per line: keep the first column"
        f"{f' without the header line {entries[0]!r}' if header else ''}, e.g. "
        f"{command} > concepts.txt",
        UserWarning,
    )
    return True


_ORDERS = ("frequency", "authors")


def _published_name(path: Path) -> str | None:
    """The name of the published vocabulary whose content ``path`` holds, if any.

    Also a copy that differs only in what the concepts do not hold: lines ending
    with CRLF (a Windows checkout), spaces at the ends of lines, a byte-order
    mark, no newline after the last line or blank lines after it. Each
    published file holds its lines without trailing spaces, each ended by a
    newline, with no blank line at its end, so a file is compared in that form
    (and, for a file registered with another form, with only its line ends
    made so). Such a copy read in file order would give the least frequent
    concepts first.
    """
    if path.stat().st_size > _LARGEST_PUBLISHED:
        return None
    data = path.read_bytes().replace(b"\r\n", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    forms = [data]
    try:
        lines = [line.rstrip() for line in data.decode("utf-8-sig").split("\n")]
    except UnicodeDecodeError:
        lines = []
    while lines and not lines[-1]:
        lines.pop()
    if lines:
        forms.append(("\n".join(lines) + "\n").encode("utf-8"))
    digests = {hashlib.sha256(form).hexdigest() for form in forms}
    return next((name for name, r in VOCABULARIES.items() if r.sha256 in digests), None)


#: Concepts of a published vocabulary kept by default (``vocabulary_size="auto"``): the
#: setting of the authors' README and scripts.
DEFAULT_SIZE = 10000
#: Published vocabularies kept whole by default: the 5,001 two-word concepts of
#: ``laion_bigrams`` are its least frequent lines, of which its 10,000 most frequent
#: concepts hold one ("vector image").
_KEPT_WHOLE = ("laion_bigrams",)


def named_auto_size(name: str) -> int:
    """The number of concepts ``vocabulary_size="auto"`` keeps of the published
    vocabulary ``name``: :data:`DEFAULT_SIZE`, or all of those kept whole."""
    return _VOCABULARY_COUNTS[name][1] if name in _KEPT_WHOLE else DEFAULT_SIZE


def auto_size(vocabulary: Any) -> int | None:
    """The number of concepts ``vocabulary_size="auto"`` keeps of ``vocabulary``.

    :func:`named_auto_size` (the most frequent ones) of a published vocabulary,
    given by its name or as a file holding it; None (every entry) for any other
    file or list, whose order is the caller's: a list in the authors' order
    starts with the least frequent concepts, and cutting it would keep those.
    """
    if isinstance(vocabulary, str) and vocabulary in VOCABULARIES:
        return named_auto_size(vocabulary)
    if isinstance(vocabulary, str | os.PathLike) and not isinstance(os.fspath(vocabulary), bytes):
        path = Path(os.fspath(vocabulary)).expanduser()
        try:
            published = _published_name(path) if path.is_file() else None
            if published is not None:
                return named_auto_size(published)
        except OSError:  # (unreadable: load_vocabulary says why)
            return None
    return None


#: More bytes than any published vocabulary file holds with CRLF line endings.
_LARGEST_PUBLISHED = 2_000_000


def _authors_lines(lines: list[str], size: int | None) -> list[str]:
    """The lines the authors' loader reads: the last ``size`` lines, in file order.

    Their loader reads the file with ``readlines`` (a final newline ends the
    last line rather than starting an empty one) and keeps ``lines[-size:]``.
    """
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return lines if size is None else lines[-size:]


def _looks_like_path(text: str) -> bool:
    return (
        os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or Path(text).suffix != ""
        or os.path.exists(text)
    )


def _vocabulary_file(name: str | os.PathLike[str], text: str, uses: str, missing: str) -> Path:
    """The existing file that ``name`` (``text`` its string form) names, or an error.

    ``uses`` ends the message for a string that is neither a vocabulary name nor a path,
    ``missing`` the one for a path that is not a file.
    """
    if isinstance(name, str) and not _looks_like_path(text):
        from ._names import close_matches

        close = close_matches(text, VOCABULARIES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"Unknown vocabulary {text!r}{hint}: use one of {sorted(VOCABULARIES)}{uses}"
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Vocabulary file {str(path)!r}{_where(path)} does not exist or is not a file{missing}"
        )
    return path


def _where(path: Path) -> str:
    """Where a relative ``path`` was looked for (a pickled estimator refitted in another
    working folder reads its files from there); empty for an absolute one."""
    return "" if path.is_absolute() else f" (in the working folder {os.getcwd()})"


def load_vocabulary(
    name: str | os.PathLike[str] | Iterable[str] = "laion",
    size: int | Literal["auto"] | None = "auto",
    data_home: str | os.PathLike[str] | None = None,
    *,
    order: str = "frequency",
) -> list[str]:
    """Load a list of concepts: a published SpLiCE vocabulary, a text file or a list.

    Every source is cleaned the same way: surrounding whitespace is stripped
    from each entry, blank entries are dropped and of duplicate entries only
    the first (in the order below) is kept; comparison is exact and
    case-sensitive.

    Parameters
    ----------
    name : str, os.PathLike or iterable of str, default="laion"
        What to load:

        - ``"laion"``, ``"laion_bigrams"`` or ``"mscoco"``: the authors'
          vocabularies (37,445, 15,000 and 12,832 concepts). Their files list
          concepts least frequent first; the concepts are returned most
          frequent first, i.e. the last lines of the file in reverse order.
          Downloaded on first use and cached in the data home.
        - a path to a UTF-8 text file (a leading byte-order mark is allowed)
          with one concept per line (each line is one concept, commas and
          tabs included: a ``word,count`` table is read whole, with a
          warning). A file whose content is one of the published
          vocabularies (same SHA-256 as the pinned file, e.g. the
          authors' ``laion.txt`` downloaded by hand) is loaded exactly as
          that named vocabulary. Any other file is returned in file order
          (see Warns for a file named like a published vocabulary).
        - a list (or any non-string iterable) of strings: returned in the
          given order.
    size : int, None or "auto", default="auto"
        Number of concepts to return, counted after cleaning: the ``size``
        most frequent ones for a named vocabulary (or a copy of one), the first
        ``size`` of any other file or list. None returns all of them.
        ``"auto"`` (as ``SpliceTransformer(vocabulary_size="auto")``) is 10,000
        for a named vocabulary or a copy of one (the setting of the authors'
        README and scripts; all 15,000 of ``"laion_bigrams"``, whose two-word
        concepts are its least frequent lines) and None for any other file
        or list (so a short list or file is returned whole). An integer
        ``size`` larger than the number of concepts is an error, for a named
        vocabulary, a file or a list alike: the message gives the number.
    data_home : str, os.PathLike or None, default=None
        Data home for named vocabularies, see
        :func:`sksplice.get_data_home`. A folder that already holds
        ``vocab/<name>.txt`` with the right digest is only read.
    order : {"frequency", "authors"}, default="frequency"
        ``"frequency"`` is the order described above. ``"authors"`` applies
        the rule of the authors' loader to any file or list: keep the last
        ``size`` lines (counted before cleaning, so a blank line among them
        takes a place), in file order (least frequent first for the published
        files), then clean them. The i-th concept is then the authors'
        dictionary index i, unless a blank line comes before it (see
        :func:`~sksplice.vocabulary.authors_index_to_concept` for an exact index map). With
        ``"authors"``, ``size`` larger than the number of lines (of a list, its
        entries) is an error.

    Returns
    -------
    list of str
        The concepts, without blanks or duplicates.

    Raises
    ------
    ValueError
        If the name is unknown, the text file is not valid UTF-8 (the message
        names the file and line), nothing is left after cleaning, or ``size``
        is invalid or larger than the vocabulary.
    TypeError
        If a list entry is not a string (the message gives its index), or
        ``name`` or ``size`` has the wrong type.
    FileNotFoundError
        If a path is given and no such file exists.
    sksplice.exceptions.DataFetchError
        If a named vocabulary is not cached and cannot be downloaded; the
        message says where to put the file by hand.

    Warns
    -----
    UserWarning
        If (nearly) every line of a text file ends in a comma or a tab and a
        number (``dog,120``): a table of concepts and counts, whose lines would
        each be one concept. The message names the file and says how to keep
        its first column. Also if an integer ``size`` cuts a file named like a
        published vocabulary (``laion_edited.txt``) whose content is not the
        pinned file's: its first lines are kept, the rarest concepts of an
        edited copy of the authors' file (with the published file in the data
        home, only when most of them are among the file's less frequent half, as
        the published file ranks them).
    RepeatedConceptWarning
        If a file or list repeats a concept before the last concept returned
        (the concepts after it are no longer at their line or index); the
        message names the repeats and their lines (from 1) or indices (from 0).

    Examples
    --------
    >>> load_vocabulary(["  dog", "cat", "", "tree  "])
    ['dog', 'cat', 'tree']
    >>> load_vocabulary(["dog", "cat", "tree"], size=2)
    ['dog', 'cat']
    >>> load_vocabulary(["rare", "common", "most common"], size=2, order="authors")
    ['common', 'most common']
    """
    size = VOCABULARY_SIZE.check(size, "size")
    if isinstance(size, str):  # ("auto")
        size = auto_size(name)
    check_option(order, "order", _ORDERS)

    if isinstance(name, str) and name in VOCABULARIES:
        _check_named_size(name, size, order)
        path = fetch_remote_file(VOCABULARIES[name], data_home=data_home)
        return _load_published(name, path, size, order)

    if isinstance(name, str | os.PathLike):
        text = os.fspath(name)
        if isinstance(text, bytes):
            raise TypeError("name must be a str path, not bytes")
        path = _vocabulary_file(
            name,
            text,
            ", a path to a text file with one concept per line, or a list of strings",
            f" (named vocabularies: {sorted(VOCABULARIES)})",
        )
        published = _published_name(path)
        if published is not None:
            return _load_published(published, path, size, order)
        lines = _read_lines(path)
        source = f"file {str(path)!r}"
        if order == "authors":
            _check_size(size, len(_authors_lines(lines, None)), "lines", f"the vocabulary {source}")
            kept = _authors_lines(lines, size)
            return _clean(
                kept, source, positions="line", first=len(_authors_lines(lines, None)) - len(kept)
            )
        caller = _SIZE_CUT_BY_CALLER.get()
        concepts = _clean(
            lines, source, positions="line", keep=size if caller is None else caller.size
        )
        _check_size(size, len(concepts), "concepts", f"the vocabulary {source}")
        if caller is None:
            _warn_first_lines_of_a_copy(path, size, concepts, data_home=data_home, published=False)
        return concepts[:size]

    if isinstance(name, bytes | bytearray) or not isinstance(name, Iterable):
        raise TypeError(
            "name must be a vocabulary name, a path to a text file or a list of strings, "
            f"got {type(name).__name__}"
        )
    items = list(name)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"Vocabulary entry at index {i} is {a_type(item)} ({item!r}), expected a str"
            )
    if order == "authors":
        _check_size(size, len(items), "entries", "the list")
        kept = items if size is None else items[-size:]
        return _clean(kept, "list", positions="index", first=len(items) - len(kept))
    concepts = _clean(items, "list", positions="index", keep=size)
    cleaned = " (without its blank and repeated entries)" if len(concepts) < len(items) else ""
    _check_size(size, len(concepts), "concepts", f"the list{cleaned}")
    return concepts[:size]


def _published_at_hand(name: str, data_home: Any) -> list[str] | None:
    """The concepts of the published vocabulary ``name``, most frequent first, when its
    pinned file is in the data home already (nothing is downloaded); else None."""
    from ._data import file_sha256, get_data_home

    try:
        path = get_data_home(data_home, create=False) / VOCABULARIES[name].path
        if not path.is_file() or file_sha256(path) != VOCABULARIES[name].sha256:
            return None
        return _load_published(name, path, None, "frequency")
    except (OSError, ValueError):
        return None


class _CallerCut(NamedTuple):
    """What a caller that cuts a file's full list itself keeps and has said."""

    #: The number of concepts it keeps (None: all): repeated concepts after the last
    #: of them move none it keeps and are not warned about.
    size: int | None
    #: It read the file before and warned of its repeated concepts.
    repeats_said: bool


#: Set by callers that read a file's full list with ``load_vocabulary(size=None)``
#: and cut it to their own size themselves: they warn of a copy's order with that
#: size (:func:`_warn_first_lines_of_a_copy`), so the full read does not.
_SIZE_CUT_BY_CALLER: ContextVar[_CallerCut | None] = ContextVar(
    "sksplice_size_cut_by_caller", default=None
)


@contextlib.contextmanager
def size_cut_by_caller(size: int | None = None, *, repeats_said: bool = False) -> Iterator[None]:
    """Within the block, ``load_vocabulary`` leaves the warning of a copy's order to
    the caller (see :data:`_SIZE_CUT_BY_CALLER`), who keeps the first ``size``
    concepts (None: all); with ``repeats_said``, also the warning of repeated
    concepts (the caller read the file before and warned of them)."""
    token = _SIZE_CUT_BY_CALLER.set(_CallerCut(size, repeats_said))
    try:
        yield
    finally:
        _SIZE_CUT_BY_CALLER.reset(token)


#: Concepts of a file whose order is compared with the published vocabulary's when
#: all of them are used (its first ones: those of its first columns).
_FIRST_COMPARED = 1000


def _warn_first_lines_of_a_copy(
    path: Path,
    size: int | None,
    concepts: list[str],
    *,
    data_home: Any = None,
    published: bool | None = None,
    command_line: bool = False,
) -> None:
    """Warn that a file named like a published vocabulary is read in file order where
    its first lines are the rarest concepts.

    A file of another content than the pinned one (an edited copy of the authors'
    ``laion.txt``, say) is read in file order, where the authors' files list their
    concepts least frequent first: a ``size`` smaller than the file then keeps the
    rarest concepts. Only files whose name holds a published vocabulary's name are
    considered (``published``: whether the content is a pinned file's, None to find
    out). Where the published file is in the data home, the warning is given only if
    most of the concepts kept are among its less frequent half (a file of the right
    order is left alone); otherwise it says what to check. Where every concept is
    used (``size`` None or the whole file: an edited copy read with
    ``vocabulary_size="auto"``), it warns only where the published file tells that
    the file's first concepts are its rarest: the columns then run rarest first, and
    every concept is used where the named vocabulary keeps its most frequent
    (:func:`named_auto_size`).
    ``command_line``: the advice in the command line's terms.
    """
    n_concepts = len(concepts)
    whole = size is None or size >= n_concepts
    stem = path.stem.lower()
    by_length = sorted(VOCABULARIES, key=len, reverse=True)  # ('laion_bigrams' first)
    named = next((name for name in by_length if name in stem), None)
    if named is None:
        return
    if published is None:
        published = _published_name(path) is not None
    if published:
        return
    order = _published_at_hand(named, data_home)
    if whole and order is None:
        return  # (the order of a file used whole is told only by the published one)
    if order is not None:
        rank = {concept: i for i, concept in enumerate(order)}
        first = min(n_concepts, _FIRST_COMPARED) if whole else size
        kept = [rank[c] for c in concepts[:first] if c in rank]
        # (the less frequent half of the file's own concepts, as the published file ranks
        # them: the 3,000 most frequent lines of the authors' file, least frequent first,
        # are all in its more frequent half, and a size kept the rarest of them unsaid)
        ranks = sorted(rank[c] for c in concepts if c in rank)
        middle = ranks[len(ranks) // 2] if ranks else 0
        if not kept or sum(r >= middle for r in kept) * 2 <= len(kept):
            return  # (most frequent first already, or not the published concepts)
        found = (
            f"most of the first {first} of its {n_concepts} concepts are among its less "
            f"frequent half, as the published {named!r} vocabulary ranks them"
        )
        if whole:
            return _warn_whole_copy(path, named, n_concepts, found, command_line)
    else:
        found = (
            f"if it is an edited copy of the published {named!r} vocabulary, whose lines run "
            f"least frequent first, the first {size} of its {n_concepts} concepts are the "
            "rarest"
        )
    what = "--vocabulary-size" if command_line else "the size"
    remedy = (
        f"(tac {shlex.quote(str(path))} > reversed.txt writes its lines in reverse order)"
        if command_line
        else "(tac reverses its lines), or take its last lines with load_vocabulary(path, "
        f"{size}, order='authors') as the authors' loader does (vocabulary= of a "
        "SpliceTransformer takes that list)"
    )
    # (without the published file, whether the file runs least frequent first is not
    # known: the advice is as conditional as the finding)
    advice = "Put" if order is not None else "If so, put"
    warn_user(
        f"the vocabulary file {str(path)!r} is read in file order (its content is not the "
        f"published file's), and {what} {size} keeps its first lines: {found}. {advice} the "
        f"most frequent first in the file {remedy}"
    )


def _warn_whole_copy(
    path: Path, named: str, n_concepts: int, found: str, command_line: bool
) -> None:
    """The warning of :func:`_warn_first_lines_of_a_copy` for a file used whole."""
    quoted = shlex.quote(str(path))
    size = named_auto_size(named)
    if command_line:
        remedy = (
            f"tac {quoted} > reversed.txt writes its lines in reverse order; then "
            f"--vocabulary reversed.txt --vocabulary-size {size}"
        )
    else:
        remedy = (
            f"tac reverses its lines; then give the size {size}: size= of "
            "load_vocabulary, vocabulary_size= of a SpliceTransformer), or take its last "
            f"lines with load_vocabulary(path, {size}, order='authors') as the "
            "authors' loader does (vocabulary= of a SpliceTransformer takes that list"
        )
    warn_user(
        f"the vocabulary file {str(path)!r} is read in file order (its content is not the "
        f"published file's) and all of its {n_concepts} concepts are used: {found}, so its "
        f"columns run rarest first, where the {named!r} vocabulary keeps its {size} "
        f"most frequent. Put the most frequent first in the file and give a size ({remedy})"
    )


#: The singular of the nouns :func:`_check_size` counts.
_ONE = {"lines": "line", "concepts": "concept", "entries": "entry"}


def _check_size(size: int | None, n: int, what: str, source: str) -> None:
    """Refuse a ``size`` larger than the ``n`` concepts (or lines) of ``source``."""
    if size is not None and size > n:
        raise ValueError(
            f"size={size} is larger than the {n} {_ONE.get(what, what) if n == 1 else what} "
            f"of {source}; "
            "use size=None to load all of them"
        )


def _load_published(name: str, path: Path, size: int | None, order: str) -> list[str]:
    lines = _read_lines(path)
    if order == "authors":
        n_lines = len(_authors_lines(lines, None))
        if size is not None and size > n_lines:
            raise ValueError(
                f"size={size} is larger than the {n_lines} lines of the {name!r} vocabulary; "
                "use size=None to load all of them"
            )
        return _clean(_authors_lines(lines, size), f"{name!r} ({path})")
    concepts = _clean(reversed(lines), f"{name!r} ({path})")
    if size is not None and size > len(concepts):
        raise ValueError(
            f"size={size} is larger than the {len(concepts)} concepts of the {name!r} "
            "vocabulary; use size=None to load all of them"
        )
    _warn_if_no_phrase_kept(name, concepts, size)
    return concepts[:size]


def _warn_if_no_phrase_kept(name: str, concepts: list[str], size: int | None) -> None:
    """Warn where the ``size`` most frequent ``concepts`` of the published vocabulary
    ``name`` hold next to none (under 1%) of its phrases of several words:
    ``laion_bigrams`` lists its two-word concepts after its words (as less frequent),
    so that a size of 10,000 keeps one of its 5,001, which its name does not lead one
    to expect."""
    if size is None or size >= len(concepts):
        return
    phrases = [i for i, c in enumerate(concepts) if len(c.split()) > 1]
    kept = sum(i < size for i in phrases)
    if not phrases or kept * 100 >= len(phrases):
        return
    warn_user(
        f"the {size:,} most frequent concepts of the {name!r} vocabulary hold {kept:,} of "
        f"its {len(phrases):,} phrases of two words or more: they come after its words, from "
        f"concept {phrases[0] + 1:,} on; the whole vocabulary keeps them all "
        f"(vocabulary_size={len(concepts)})",
        UserWarning,
    )


def authors_index_to_concept(
    name: str | os.PathLike[str] = "laion",
    size: int = 10000,
    data_home: str | os.PathLike[str] | None = None,
) -> list[str | None]:
    """Map the dictionary indices of the authors' package to concept names.

    The authors' loader keeps the last ``size`` lines of a vocabulary file in
    file order (least frequent first) and embeds each line, stripped (an
    earlier revision embedded only the text before a first ``", "``; no
    published file has one); their index lists (for example the concepts
    zeroed by their intervention script) count rows of that dictionary. Entry
    ``i`` of the returned list is the concept of their index ``i``, as
    sksplice names it, so that ``transformer.get_feature_names_out()`` can be
    searched for it; ``None`` marks a blank line, which they embed as an
    empty text and which has no sksplice concept.

    Parameters
    ----------
    name : str or os.PathLike, default="laion"
        A published vocabulary name or a path to a vocabulary file.
    size : int, default=10000
        The authors' ``vocabulary_size``: the number of lines their
        dictionary was built from (``splice.load`` keeps the whole file by
        default, ``vocabulary_size=-1``, which means the same here, as does
        0; their ``decompose_image.py`` uses 10,000). An index list is only
        read right with the size, and the file, it was made from.
    data_home : str, os.PathLike or None, default=None
        Data home for named vocabularies, see
        :func:`sksplice.get_data_home`.

    Returns
    -------
    list of (str or None)
        ``size`` entries (fewer if the file is shorter), in the authors'
        index order.

    Raises
    ------
    ValueError
        If the name is unknown or ``size`` is invalid or larger than the
        number of lines of a named vocabulary.
    FileNotFoundError
        If a path is given and no such file exists.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = path.write_text("rare\\nless common\\n\\ncommon\\nthe\\n")
    >>> authors_index_to_concept(path, size=3)
    [None, 'common', 'the']
    """
    # the authors' vocabulary_size: -1 (or 0), their loader's default, keeps every line
    size = check_int(size, "size", low=-1)
    whole = size <= 0
    if isinstance(name, str) and name in VOCABULARIES:
        n_lines = named_size_exceeded(name, size, "authors")
        if n_lines is not None:
            raise ValueError(
                f"size={size} is larger than the {n_lines} lines of the {name!r} vocabulary; "
                "use size=-1 to map all of them"
            )
        path = fetch_remote_file(VOCABULARIES[name], data_home=data_home)
    elif isinstance(name, str | os.PathLike) and not isinstance(os.fspath(name), bytes):
        text = os.fspath(name)
        path = _vocabulary_file(
            name, text, " or a path to a text file with one concept per line", ""
        )
    else:
        raise TypeError(f"name must be a vocabulary name or a path, got {type(name).__name__}")
    lines = _read_lines(path)
    n_lines = len(_authors_lines(lines, None))
    if whole:
        size = n_lines
    if isinstance(name, str) and name in VOCABULARIES and size > n_lines:
        raise ValueError(
            f"size={size} is larger than the {n_lines} lines of the {name!r} vocabulary"
        )
    out: list[str | None] = []
    for line in _authors_lines(lines, size):
        out.append(line.strip() or None)
    return out


def _normalise_model_name(model: str) -> str:
    # open_clip accepts OpenAI-style names such as "ViT-B/32".
    return model.replace("/", "-")


def image_mean_key(model: str, pretrained: str | None) -> tuple[str, str]:
    """The key of ``(model, pretrained)`` in ``IMAGE_MEANS``.

    As open_clip's tags are matched, the case of ``pretrained`` and ``-`` or
    ``_`` in it do not matter (``"LAION2B-S34B-B79K"`` is
    ``"laion2b_s34b_b79k"``); ``"ViT-B/32"`` is ``"ViT-B-32"``.
    """
    from ._model_names import clean_tag  # (the rule open_clip's tags are matched by)

    return _normalise_model_name(model), clean_tag(pretrained or "")


def load_image_mean(
    model: str,
    pretrained: str | None,
    data_home: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Load the authors' mean CLIP image embedding of a model.

    The mean is that of L2-normalised image embeddings; SpLiCE subtracts it
    before decomposing an image embedding. Only a few models have a published
    mean (see ``IMAGE_MEANS``); for any other, estimate the mean from your
    own images instead (``image_mean=None`` in the transformer).

    Parameters
    ----------
    model : str
        open_clip model name, e.g. ``"ViT-B-32"`` (``"ViT-B/32"`` is
        accepted too).
    pretrained : str or None
        open_clip pretrained tag, e.g. ``"laion2b_s34b_b79k"`` or
        ``"openai"`` (case and ``-``/``_`` do not matter).
    data_home : str, os.PathLike or None, default=None
        See :func:`sksplice.get_data_home`.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (d,).

    Raises
    ------
    ValueError
        If no mean is published for ``(model, pretrained)``, or the file
        does not hold a 1-D floating-point tensor of finite values.
    sksplice.exceptions.DataFetchError
        If the file is not cached and cannot be downloaded.

    Examples
    --------
    >>> sorted({key[1] for key in IMAGE_MEANS})
    ['laion2b_s34b_b79k', 'openai']
    """
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, got {type(model).__name__}")
    if pretrained is not None and not isinstance(pretrained, str):
        raise TypeError(f"pretrained must be a str or None, got {type(pretrained).__name__}")
    remote = IMAGE_MEANS.get(image_mean_key(model, pretrained))
    if remote is None:
        known = ", ".join(f"({m!r}, {p!r})" for m, p in IMAGE_MEANS)
        hint = _checkpoint_mean_hint(model, pretrained)
        raise ValueError(
            f"No published image mean for model={model!r}, pretrained={pretrained!r}"
            + ("" if hint else _close_published(model, pretrained))
            + ". "
            + (
                f"{hint[0].upper()}{hint[1:]}. Else learn"
                if hint
                else f"Published means exist for: {known}. Learn"
            )
            + " the mean from your own images instead (image_mean=None estimates it from the "
            "data given to fit)."
        )
    path = fetch_remote_file(remote, data_home=data_home)
    return _read_mean(path)


def _close_published(model: str, pretrained: str | None) -> str:
    """`` (did you mean model='ViT-B-32'?)`` for a misspelt model or tag of a published
    mean (the close matches CLIPEmbedder gives for the same typo), else ``""``."""
    from ._model_names import config_widths
    from ._names import close_matches

    models = list(dict.fromkeys(m for m, _ in IMAGE_MEANS))
    if model not in models:
        # (a model of open_clip's own, as ViT-L-14, is no typo: it has no published mean)
        if model in (config_widths() or {}):
            return ""
        close = close_matches(model, models, n=1)
        return f" (did you mean model={close[0]!r}?)" if close else ""
    tags = [p for m, p in IMAGE_MEANS if m == model]
    close = close_matches(str(pretrained), tags, n=1)
    return f" (did you mean pretrained={close[0]!r}?)" if close else ""


def _quick_gelu_name(model: str, tag: str) -> str | None:
    """The ``-quickgelu`` model that the weights of ``tag`` need when they come from a
    file: open_clip marks the tag ``quick_gelu`` and ``model``'s config lacks it (a tag
    builds QuickGELU itself, a file does not); None otherwise."""
    from ._model_names import open_clip_tables, quick_gelu_lacking

    tables: Any = open_clip_tables()
    if tables is None:  # (open_clip imported: asked of it; torch is imported already)
        from ._models import _registry

        tables = _registry()
    try:
        if not quick_gelu_lacking(tables, model, tag):
            return None
    except Exception:  # (a model or tag open_clip does not know: nothing to add)
        return None
    name = f"{model}-quickgelu"
    return name if tables.get_model_config(name) is not None else None


def _settings_of_tag_file(model: str, tag: str, *, mean: bool = True) -> tuple[list[str], str]:
    """The settings that weights of ``tag`` given as a checkpoint file need besides the
    file (a file is no tag: neither its published mean nor its QuickGELU comes along),
    in the library's words (``model='ViT-B-32-quickgelu'``, ``image_mean=...``), and why;
    ``mean=False`` leaves the published mean out (the caller centres by its own)."""
    settings, why = [], []
    quick_gelu = _quick_gelu_name(model, tag)
    if quick_gelu is not None:
        settings.append(f"model={quick_gelu!r}")
        why.append("the QuickGELU they were trained with")
    key = image_mean_key(quick_gelu or model, tag)
    if mean and key in IMAGE_MEANS:
        settings.append(f"image_mean=sksplice.vocabulary.load_image_mean({key[0]!r}, {key[1]!r})")
        why.append("their published mean")
    return settings, " and ".join(why)


def _checkpoint_mean_hint(
    model: str, pretrained: str | None, *, file_named: bool = False
) -> str | None:
    """What to pass for weights given as a checkpoint file that hold those of a tag whose
    image mean is published (a file is no tag: no mean is looked up for it, even for a
    checkpoint downloaded by hand, offline). None where ``pretrained`` is no file or
    ``model`` has no published mean. ``file_named``: the message has named the file and
    said why no mean is looked up for it already."""
    if pretrained is None or not os.path.isfile(os.path.expanduser(pretrained)):
        return None
    model = _normalise_model_name(model)
    tags = sorted({tag for name, tag in IMAGE_MEANS if name == model})
    if not tags:
        return None
    cases = "; ".join(
        f"{' and '.join(_settings_of_tag_file(model, tag)[0])} where they are those of "
        f"pretrained={tag!r}"
        for tag in tags
    )
    if file_named:
        return f"give the settings of these weights yourself: {cases}"
    return (
        f"pass the settings of the weights in pretrained={pretrained!r} yourself (a "
        f"checkpoint file is no tag: no published mean is looked up for it): {cases}"
    )


def _published_files_missing(
    vocabulary: Any,
    model: Any,
    pretrained: Any,
    data_home: Any,
    *,
    image_mean: bool,
    home_option: str = "data_home",
) -> str:
    """The authors' published files a run needs that the data home lacks, said with
    where to put each (address, folder, name, SHA-256); empty when none is missing.

    Said beside a file or weights that cannot be fetched: a machine without network
    access needs the others by hand as well, and would otherwise learn of them one
    run at a time. ``vocabulary`` is listed when it names a published vocabulary
    (pass None to leave it out); the image mean of ``model``/``pretrained`` when
    ``image_mean`` and one is published. ``home_option`` is how the caller names the
    data home (``"--data-home"`` on the command line).
    """
    from ._data import DATA_HOME_ENV, file_sha256, resolve_in_data_home

    remotes = []
    if isinstance(vocabulary, str) and vocabulary in VOCABULARIES:
        remotes.append((f"the {vocabulary!r} vocabulary", VOCABULARIES[vocabulary]))
    if image_mean and isinstance(model, str) and isinstance(pretrained, str):
        key = image_mean_key(model, pretrained)
        if key in IMAGE_MEANS:
            remotes.append((f"the image mean of {key[0]} {key[1]}", IMAGE_MEANS[key]))
    lines = []
    for what, remote in remotes:
        try:
            path = resolve_in_data_home(remote.path, data_home, create=False)
            other = path.is_file() and file_sha256(path) != remote.sha256.lower()
            if path.is_file() and not other:
                continue
        except (OSError, ValueError):
            continue  # (said when it is read)
        lines.append(
            f"{what} ({remote.url}, to put in the folder {str(path.parent)!r} as "
            f"{path.name!r}, SHA-256 {remote.sha256.lower()}"
            f"{'; the file there has another digest' if other else ''})"
        )
    if not lines:
        return ""
    many = len(lines) > 1
    it, is_ = ("they", "are") if many else ("it", "is")
    them = "them" if many else "it"
    return (
        f"The run also needs {' and '.join(lines)}, which the data folder lacks as well: "
        f"{it} {is_} downloaded on first use; without network access fetch {them} by hand "
        f"too, or point {home_option} (or ${DATA_HOME_ENV}) to a folder that holds {them}."
    )


def _read_mean(path: Path) -> np.ndarray:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"Cannot read the image mean file {str(path)!r}: {exc}") from exc
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"Image mean file {str(path)!r} holds {a_type(obj)}, expected a tensor")
    if obj.ndim != 1 or obj.numel() == 0 or not obj.is_floating_point():
        raise ValueError(
            f"Image mean file {str(path)!r} holds a {obj.dtype} tensor of shape "
            f"{tuple(obj.shape)}, expected a non-empty 1-D floating-point tensor"
        )
    mean = obj.detach().to(torch.float32).numpy().copy()
    if not np.isfinite(mean).all():
        raise ValueError(f"Image mean file {str(path)!r} holds non-finite values")
    return mean


def _npz_members(path: Path) -> list[str]:
    """The names of the arrays of the ``.npz`` archive ``path`` (its members are ``.npy``
    files at the top of the archive, where torch's zip files hold a folder); empty for
    another kind of zip file."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []
    if not members or not all(m.endswith(".npy") and "/" not in m for m in members):
        return []
    return [m.removesuffix(".npy") for m in members]


def _torch_load_tensor(path: Path) -> object:
    """``torch.load`` of a mean file, weights only; its refusal in one line."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # (torch's message is a paragraph about its weights_only default)
            found = re.search(r"WeightsUnpickler error: (.*?)(?:\s+Check |$)", str(exc), re.S)
            why = (found.group(1) if found else str(exc)).split(". ")[0].strip().rstrip(".")
            raise ValueError(
                f"it holds objects other than tensors, which a weights-only torch.load "
                f"refuses ({why})"
            ) from exc


#: How far above 1 the norm of a given mean may lie: the rounding of a mean of unit
#: vectors stored in float16 (relative error at most 2**-11 per entry) stays below it.
_MEAN_NORM_TOLERANCE = 1e-3


def as_mean_vector(mean: object, d: int | None = None, *, source: str = "image_mean") -> np.ndarray:
    """Check a modality centre (an array, or a ``.npy``/``.pt`` file) and return it.

    One rule for every way a mean reaches sksplice (``image_mean=`` in Python,
    ``--image-mean FILE`` on the command line): a 1-D vector of real
    floating-point numbers (float16, float32 or float64), finite, of length
    ``d``, of norm at most 1 (1.001, for rounding): a mean of L2-normalised
    embeddings. Nothing is flattened or cast from another kind: 2-D arrays,
    complex, boolean and integer arrays are refused.

    Parameters
    ----------
    mean : array-like, torch.Tensor, str or os.PathLike
        The mean, or the path of a ``.npy`` file (read with
        ``allow_pickle=False``) or of a torch file holding one tensor (read
        with ``weights_only=True``).
    d : int or None, default=None
        Required length (the embedding dimension); None skips that check.
    source : str, default="image_mean"
        How the mean is named in error messages (a file is named by its path).

    Returns
    -------
    ndarray of shape (d,), float64
        The mean.

    Raises
    ------
    FileNotFoundError
        If a path is given and no such file exists.
    ValueError
        If the file cannot be read or the values break the rule; the message
        names the source (the file), its dtype and shape, or its norm when
        that is above 1 (the mean of embeddings that were not normalised).

    Examples
    --------
    >>> as_mean_vector([0.5, 0.25], d=2)
    array([0.5 , 0.25])
    """
    return _mean_vector(mean, d, source, "the concept dictionary has d={d} dimensions")


def _mean_vector(mean: object, d: int | None, source: str, width: str) -> np.ndarray:
    """:func:`as_mean_vector`, whose message of a mean of another length than ``d`` says
    ``width`` (formatted with ``d``) of what has that width."""
    if isinstance(mean, str | os.PathLike):
        path = Path(mean).expanduser()
        source = f"{source} file {str(path)!r}"
        if not path.is_file():
            source += _where(path)
            raise FileNotFoundError(f"{source} does not exist or is not a file")
        try:
            with open(path, "rb") as fh:
                start = fh.read(8)
            # (told by their first bytes: numpy would speak of pickled data, torch of
            # its weights_only default; torch.save writes a zip archive, or a pickle)
            if not start:
                raise ValueError("it is empty (0 bytes)")
            arrays = _npz_members(path) if start.startswith(b"PK\x03\x04") else []
            if start.startswith(b"\x93NUMPY"):
                mean = np.load(path, allow_pickle=False)
            elif arrays:
                names = ", ".join(repr(name) for name in arrays)
                raise ValueError(
                    f"it is a .npz archive (numpy.savez) of the arrays {names}, not one "
                    "array; save the mean alone with numpy.save('mean.npy', mean)"
                )
            elif path.suffix.lower() == ".npy":
                raise ValueError("it is not a .npy file: it lacks the format's header")
            elif start.startswith(b"PK\x03\x04") or start[:1] == b"\x80":
                mean = _torch_load_tensor(path)
            else:
                raise ValueError(
                    f"it is neither a .npy file nor a torch file (it starts with {start!r}); "
                    "save the mean with numpy.save('mean.npy', mean)"
                )
        except Exception as exc:
            why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise ValueError(
                f"cannot read {source} (expected a .npy array or a torch file holding one "
                f"tensor): {why}"
            ) from exc
    if type(mean).__module__.startswith("torch"):
        import torch

        if not isinstance(mean, torch.Tensor):
            raise ValueError(f"{source} holds {a_type(mean)}, expected one tensor")
        mean = tensor_as_array(mean)
    if isinstance(mean, dict | list | tuple) and not mean:
        raise ValueError(f"{source} is empty; expected a 1-D vector of length d")
    try:
        arr = np.asarray(mean)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source} is not an array of numbers: {exc}") from exc
    if arr.dtype.kind != "f" or arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{source} holds {arr.dtype} values of shape {arr.shape}; expected a non-empty "
            "1-D vector of real floating-point numbers (nothing is flattened or cast)"
        )
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{source} has shape {arr.shape} but {width.format(d=d)}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{source} holds a non-finite value at index {bad}")
    out = arr.astype(np.float64)
    norm = float(np.linalg.norm(out))
    if norm > 1.0 + _MEAN_NORM_TOLERANCE:
        raise ValueError(
            f"{source} has norm {norm:.4g}, above 1: the mean of L2-normalised embeddings has "
            "norm at most 1 (the published image means have norms 0.56 to 0.70), so this is "
            "not one (a mean of embeddings that were not normalised, or a sum, perhaps), and "
            "centring by it would give every row the same concepts. Normalise each embedding "
            "before averaging: (X / np.linalg.norm(X, axis=1, keepdims=True)).mean(axis=0)"
        )
    return out
