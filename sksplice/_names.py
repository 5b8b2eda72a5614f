"""Concept names given twice: by the data (frame columns, a model's inputs) and by an argument."""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse

from ._array import unit_rows

#: The group of all samples in class profiles (``sksplice.analysis.ALL_GROUP``), here so
#: that the command line can refuse a class of that name before it imports the analysis.
ALL_GROUP = "all"


def carried_names(labels: Any) -> np.ndarray | None:
    """The names a DataFrame's columns (or a Series' index) carry; None for bare positions.

    A frame built from an array without names has a ``RangeIndex`` of
    positions (0, 1, ...), which name nothing.
    """
    import pandas as pd

    if labels is None or isinstance(labels, pd.RangeIndex):
        return None
    return np.asarray(list(labels), dtype=object)


#: Characters that show nothing and mean nothing at the ends of a concept: the
#: zero-width space, non-joiner and joiner, the left-to-right and right-to-left marks,
#: the word joiner, the byte order mark (zero-width no-break space), the soft hyphen
#: and the Mongolian vowel separator. (Not every format character: the tags that end
#: a subdivision flag emoji, or the Arabic number sign, are part of what shows.)
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u180e")


def _invisible(char: str) -> bool:
    """Whether ``char`` shows nothing: white space, or one of :data:`_INVISIBLE`."""
    return char.isspace() or char in _INVISIBLE


def visible_text(item: str) -> str:
    """``item`` without the characters that show nothing at its ends (:func:`_invisible`):
    ``"\u200b"`` is a blank entry, ``"dog\u200b"`` is ``"dog"`` (a column that printed
    as blank, or a second ``dog`` its text tower embeds alike)."""
    item = item.strip()
    if item and (_invisible(item[0]) or _invisible(item[-1])):
        start, stop = 0, len(item)
        while start < stop and _invisible(item[start]):
            start += 1
        while stop > start and _invisible(item[stop - 1]):
            stop -= 1
        item = item[start:stop]
    return item


#: The line breaks no line of a vocabulary file holds (it is read by them).
_LINE_BREAKS = frozenset("\n\r")


def check_concept_names(
    names: Any,
    label: str,
    *,
    distinct: bool = True,
    blank: str = "remove it",
    one_line: bool = False,
) -> None:
    """Refuse a list of concept names with an entry that names no concept.

    Every entry must be a string (``TypeError``) that is not blank (``ValueError``);
    with ``distinct``, no entry may repeat an earlier one, nor be one up to
    surrounding white space or zero-width characters (:func:`visible_text`;
    ``ValueError``: the text embeddings of ``"dog"`` and
    ``" dog"`` nearly agree, and a name that labels two columns finds one of them);
    with ``one_line``, none may hold a line break within its text (a concept of a
    vocabulary is a word or phrase, one line of a vocabulary file: a break is the
    mark of a list split otherwise than by lines). Messages name ``label``
    (``"vocabulary"``, ``"`concepts`"``) and the entry's index; ``blank`` says what to
    do about a blank entry.
    """
    seen: dict[str, int] = {}
    stripped: dict[str, int] = {}
    for i, item in enumerate(names):
        if not isinstance(item, str):
            shown = "" if item is None else f" ({item!r})"
            raise TypeError(f"{label} entry {i} is {a_type(item)}{shown}, not a string")
        bare = visible_text(item)  # (without white space and zero-width characters)
        if not bare:  # (nothing shows)
            raise ValueError(f"{label} entry {i} is blank ({item!r}); {blank}")
        if one_line and any(c in _LINE_BREAKS for c in bare):
            raise ValueError(
                f"{label} entry {i} ({item!r}) holds a line break: a concept is a word or "
                "phrase of one line (a list split otherwise than by lines, perhaps: "
                "text.split('\\n') gives one concept a line)"
            )
        if not distinct:
            continue
        if item in seen:
            raise ValueError(
                f"{label} entry {i} ({item!r}) duplicates entry {seen[item]}; "
                "concepts must be distinct"
            )
        if bare in stripped:
            j = stripped[bare]
            raise ValueError(
                f"{label} entry {i} ({item!r}) is entry {j} ({names[j]!r}) up to "
                "surrounding white space or zero-width characters; concepts must be distinct "
                "(strip the entries)"
            )
        seen[item] = i
        stripped[bare] = i


# Weights a SpliceTransformer returned as a bare matrix (CSR or ndarray, without column
# names), by ``id``: a weak reference to the matrix and the concepts of its columns. Code
# that is handed such a matrix and the names of its columns by another argument (a
# ConceptEditor's ``splice``, ``concepts=`` of the analysis functions) checks that they
# are the same concepts: in a Pipeline, the matrix a step returns is the one the next
# step is given.
_SOURCES: dict[int, tuple[weakref.ref, np.ndarray, Any]] = {}


# The same record by content, for copies and row subsets of such a matrix: ``W.copy()``,
# a pickled and loaded one, ``W.astype(np.float64)``, ``W.toarray()``, ``W.tocsc()``,
# the output that a ``Pipeline(memory=...)`` reads back from its cache, and ``W[:5]``,
# ``W[train]``, ``W[[0]]`` (the rows a user looks at, or a fold). Each record holds the
# fingerprints of the non-empty rows of one matrix (see :func:`row_fingerprints`),
# sorted, and its concepts; the matrices themselves are not held. The most recently
# made or read are kept: at most :data:`_MAX_ROWS` rows in all (8 bytes a row) and
# :data:`_MAX_RECORDS` matrices, of which the smallest older ones go first (see
# :func:`_evict`).
class _Record(NamedTuple):
    """What is kept of a matrix of weights made here (see :func:`remember_concepts`)."""

    width: int
    fingerprints: np.ndarray  # (of its non-empty rows, sorted and unique)
    concepts: Any
    densest: int  # (the most non-zero values of a row)
    maker: Any
    # (the embeddings its rows were solved for, as sketches: see :func:`_Targets`; None
    # where they were not given, or were dropped for newer ones)
    targets: _Targets | None = None


class _Targets(NamedTuple):
    """The embeddings the rows of weights were solved for: the fingerprints of the rows
    that no other row of the matrix shares (sorted) and a sketch of each one's
    embedding (:func:`_sketches`), in the same order."""

    fingerprints: np.ndarray
    sketches: np.ndarray


_RECORDS: OrderedDict[int, _Record] = OrderedDict()
_MAX_RECORDS = 64
_MAX_ROWS = 1 << 22
#: Rows are fingerprinted a block at a time, of at most this many stored values of
#: sparse weights (the temporaries of each: a few 8-byte values per stored value) or
#: entries of a dense array (whose non-zero values are taken as a sparse block), so
#: that looking up or recording weights takes a few megabytes besides 16 bytes a row
#: (each row's fingerprint and position), not copies of them: a dense 20,000 x 300
#: float64 array of weights was copied whole.
_SPARSE_BLOCK = 1 << 16
_DENSE_BLOCK = 1 << 19
_RECORDS_LOCK = threading.Lock()
_NEXT_RECORD = iter(range(1 << 62))

#: Constants of the splitmix64 finaliser that mixes the bits of a (column, value) pair.
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_SEED = np.uint64(0x9E3779B97F4A7C15)


def _mixed(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps, as it must)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX[0]
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX[1]
    return x ^ (x >> np.uint64(31))


def row_fingerprints(W: Any, densest: int | None = None) -> np.ndarray | None:
    """A 64-bit fingerprint of each non-empty row of concept weights ``W``, in row order.

    A row's fingerprint depends on its set of (column, non-zero value) pairs only, the
    values taken as float32: equal for the row in a copy of ``W``, in a float32 or
    float64 cast, in a dense or any sparse format of it, with explicit zeros or not,
    and in any slice of its rows. None for anything but a scipy sparse matrix or
    array and a 2-D floating-point ndarray (a DataFrame carries its names), and for
    weights without a non-zero value (which no column misreads). ``densest``: rows of
    more stored values than this are left out (they cannot be rows of weights whose
    densest row has that many). Vectorised, a block of rows at a time: about a
    hundred milliseconds for ten million non-zero weights.
    """
    found = _fingerprints_and_rows(W, densest)
    return None if found is None else found[0]


def _fingerprints_and_rows(W: Any, densest: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`row_fingerprints` of ``W`` and the position in ``W`` of each row they are of."""
    kind = row_fingerprints_kind(W)
    if kind is None:
        return None
    if kind == "sparse" and W.format != "csr":
        W = W.tocsr()  # (rows are taken in blocks; a COO matrix takes no index)
    parts, positions = [], []
    for block, rows in _row_blocks(W, densest):
        fingerprints, kept = _block_fingerprints(block)
        if fingerprints.size:
            parts.append(fingerprints)
            positions.append(rows[kept])
    if not parts:
        return None
    return np.concatenate(parts), np.concatenate(positions)


def _row_blocks(W: Any, densest: int | None) -> Iterator[tuple[Any, np.ndarray]]:
    """Consecutive blocks of the rows of ``W`` (CSR or a dense array) as CSR matrices,
    of at most about :data:`_SPARSE_BLOCK` stored values or :data:`_DENSE_BLOCK`
    entries (or one row), without the rows of more than ``densest`` values; each with
    the positions in ``W`` of its rows."""
    n_rows = W.shape[0]
    sparse = scipy.sparse.issparse(W)
    start = 0
    while start < n_rows:
        if sparse:
            reach = int(W.indptr[start]) + _SPARSE_BLOCK  # (no int32 overflow)
            stop = int(np.searchsorted(W.indptr, reach, side="right")) - 1
        else:
            stop = start + _DENSE_BLOCK // max(W.shape[1], 1)
        stop = min(max(stop, start + 1), n_rows)
        block, rows = W[start:stop], np.arange(start, stop)
        if densest is not None:
            sizes = np.diff(block.indptr) if sparse else np.count_nonzero(block, axis=1)
            keep = sizes <= densest
            if not keep.all():
                block, rows = block[np.flatnonzero(keep)], rows[keep]
        if block.shape[0]:
            if not sparse:  # (scipy takes no float16; fingerprints read float32 values)
                block = block.astype(np.float32) if block.dtype == np.float16 else block
                block = scipy.sparse.csr_array(block)
            yield block, rows
        start = stop


def _block_fingerprints(csr: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_fingerprints` of a CSR block, one per row with a non-zero value, and
    the positions of those rows in the block."""
    counts = np.diff(csr.indptr)
    columns, values = csr.indices, csr.data
    values32 = np.ascontiguousarray(values, dtype=np.float32)
    rows = None
    if values32.size and not np.all(values32 != 0):
        # (explicit zeros, and float64 weights that float32 rounds to 0: no weight of a
        # float32 copy)
        keep = values32 != 0
        rows = np.repeat(np.arange(csr.shape[0]), counts)[keep]
        columns, values32 = columns[keep], values32[keep]
    if not values32.size:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
    bits = values32.view(np.uint32).astype(np.uint64)
    mixed = _mixed(((columns.astype(np.uint64) << np.uint64(32)) | bits) ^ _SEED)
    if rows is None:  # (CSR without zeros: its rows are the runs of indptr)
        present = np.flatnonzero(counts > 0)
        starts = csr.indptr[:-1][present]
        sizes = counts[present]
    else:
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        sizes = np.diff(np.r_[starts, rows.size])
        present = rows[starts]
    # (a row's pairs summed: their order within the row does not matter; the sum mixed
    # again with the row's size)
    sums = np.add.reduceat(mixed, starts)
    return _mixed(sums ^ (sizes.astype(np.uint64) * _SEED)), present


def row_fingerprints_kind(W: Any) -> str | None:
    """``"sparse"`` or ``"dense"`` for what :func:`row_fingerprints` takes; else None."""
    if scipy.sparse.issparse(W) and W.ndim == 2:
        return "sparse" if W.dtype.kind == "f" else None
    if (
        isinstance(W, np.ndarray)
        and not isinstance(W, np.matrix)
        and W.ndim == 2
        and W.dtype.kind == "f"
    ):
        return "dense"
    return None


def remember_concepts(
    W: Any,
    concepts: np.ndarray,
    *,
    sparse_of: Any = None,
    maker: Any = None,
    targets: np.ndarray | None = None,
) -> Any:
    """Record that the columns of ``W`` (a matrix just made) are ``concepts``; returns ``W``.

    The record is kept by identity (while ``W`` exists) and by content
    (:func:`row_fingerprints`), so that copies of ``W`` and of its rows are
    recognised too. ``sparse_of``: the sparse matrix ``W`` is the dense array of,
    whose rows are fingerprinted instead (ten times faster than the dense array's).
    ``maker``: what recomposes them as they were made (a transformer's
    ``recomposition_key``), None where unknown; see :func:`recorded_makers`.
    ``targets``: the embeddings the rows of ``W`` were solved for, row for row: each
    row is kept with a sketch of its embedding (see :func:`rows_of_other_targets`).
    """
    if not _remember_identity(W, concepts, maker):
        return W
    source = W if sparse_of is None else sparse_of
    found = _fingerprints_and_rows(source, None)
    if found is None:
        return W
    fingerprints, positions = found[0][:_MAX_ROWS], found[1][:_MAX_ROWS]
    kept = None
    if targets is not None and targets.shape[0] == W.shape[0]:
        # (a row two embeddings share, such as the same decomposition of two copies of an
        # image, says nothing of which one it was solved for: left out)
        at = positions[:_MAX_TARGET_ROWS]
        unique, first, counts = np.unique(
            fingerprints[: at.size], return_index=True, return_counts=True
        )
        once = counts == 1
        kept = _Targets(unique[once], _sketches(targets, at[first[once]]))
    densest = int(_row_sizes(source).max())
    record = _Record(int(W.shape[1]), np.unique(fingerprints), concepts, densest, maker, kept)
    with _RECORDS_LOCK:
        _RECORDS[next(_NEXT_RECORD)] = record
        _evict()
    return W


#: Embeddings sketched at a time (of at most this many values in all: the temporaries
#: of a block are no copy of a large X).
_SKETCH_BLOCK = 1 << 16
#: The values of a sketch, and how far two sketches of one embedding may differ: the
#: same embedding rescaled, rounded to float16 (a relative 5e-4), or made again on
#: another device (a cosine of 0.99998 with the first) stays within it; two embeddings
#: whose cosine is 0.9 differ by about 0.02 in each value for 512 dimensions, 0.08 for
#: 32 (each of four within it for a row in a few hundred).
_SKETCH_SIZE = 4
_SKETCH_TOLERANCE = 1e-2
#: The most rows of weights whose embeddings are kept as sketches (24 bytes a row with
#: their fingerprints), the oldest records' dropped first.
_MAX_TARGET_ROWS = 1 << 20


def _sketches(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A sketch of each of the ``rows`` of embeddings ``X``: its unit vector's projections
    on :data:`_SKETCH_SIZE` fixed random directions (float32), the same for the row
    rescaled or rounded (to float16, float32), a block of rows at a time (13 ms for
    10,000 rows of 512 values on two CPU cores, where their decomposition takes
    seconds). A row of zeros sketches to zeros."""
    width = int(X.shape[1])
    directions = _sketch_directions(width)
    out = np.empty((rows.size, _SKETCH_SIZE), dtype=np.float32)
    step = max(1, _SKETCH_BLOCK // max(width, 1))
    for start in range(0, rows.size, step):
        block = unit_rows(np.asarray(X[rows[start : start + step]], dtype=np.float64))
        out[start : start + step] = block @ directions
    return out


def _sketch_directions(width: int) -> np.ndarray:
    """:data:`_SKETCH_SIZE` random unit directions of ``width`` dimensions, the same in
    every process."""
    directions = np.random.default_rng(0x5B11CE).normal(size=(width, _SKETCH_SIZE))
    return directions / np.linalg.norm(directions, axis=0, keepdims=True)


def rows_of_other_targets(W: Any, X: np.ndarray) -> tuple[np.ndarray, int]:
    """The rows of weights ``W`` recorded as solved for other embeddings than the rows of
    ``X`` at their places, and how many of its rows could be checked.

    A row of ``W`` whose fingerprint a record kept with a sketch of its embedding
    (:func:`remember_concepts` with ``targets``) is checked against the sketch of the
    row of ``X`` at its place; rows not recorded so (weights changed since, of unknown
    origin, or shared by two embeddings) are not checked. Returns the positions of
    the rows whose recorded embeddings all differ from it, and the number of rows
    checked.
    """
    shape = getattr(W, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != X.shape[0]:
        return np.empty(0, dtype=np.intp), 0
    with _RECORDS_LOCK:
        kept = [r for r in _RECORDS.values() if r.targets is not None and r.width == shape[1]]
    if not kept:
        return np.empty(0, dtype=np.intp), 0
    found = _fingerprints_and_rows(W, max(r.densest for r in kept))
    if found is None:
        return np.empty(0, dtype=np.intp), 0
    fingerprints, positions = found
    known = np.zeros(fingerprints.size, dtype=bool)
    matched = np.zeros(fingerprints.size, dtype=bool)
    sketches: np.ndarray | None = None
    for record in kept:
        assert record.targets is not None
        at, hits = _found_in(fingerprints, record.targets.fingerprints)
        if not hits.any():
            continue
        if sketches is None:  # (sketched once, where some row was recorded)
            sketches = _sketches(X, positions)
        close = np.zeros(fingerprints.size, dtype=bool)
        close[hits] = np.all(
            np.abs(sketches[hits] - record.targets.sketches[at[hits]]) <= _SKETCH_TOLERANCE,
            axis=1,
        )
        known |= hits
        matched |= close
    return positions[known & ~matched], int(known.sum())


def _found_in(values: np.ndarray, sorted_unique: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``values`` is in the sorted array ``sorted_unique`` (its position,
    valid where found) and whether it is there."""
    if not sorted_unique.size:
        return np.zeros(values.size, dtype=np.intp), np.zeros(values.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), sorted_unique.size - 1)
    return at, sorted_unique[at] == values


def _evict() -> None:
    """Drop records beyond :data:`_MAX_ROWS` rows (the least recently made or read
    first) and beyond :data:`_MAX_RECORDS` matrices (among the older half, the one of
    fewest rows first: a loop that decomposes one row at a time would otherwise push
    out, within 64 calls, the record of a large matrix made just before; of matrices of
    about one size, the least recently made or read goes first). Call it with
    :data:`_RECORDS_LOCK` held."""
    total = sum(record.fingerprints.size for record in _RECORDS.values())
    while total > _MAX_ROWS and len(_RECORDS) > 1:
        _, dropped = _RECORDS.popitem(last=False)
        total -= dropped.fingerprints.size
    # (the sketches of embeddings, of the newest records that fit in _MAX_TARGET_ROWS)
    sketched = 0
    for key in list(reversed(_RECORDS)):
        targets = _RECORDS[key].targets
        if targets is None:
            continue
        sketched += targets.fingerprints.size
        if sketched > _MAX_TARGET_ROWS:
            _RECORDS[key] = _RECORDS[key]._replace(targets=None)
    while len(_RECORDS) > _MAX_RECORDS:
        older = list(_RECORDS.items())[: len(_RECORDS) - _MAX_RECORDS // 2]
        # (the oldest of those whose number of rows has the fewest binary digits: of
        # matrices of about one size, the least recently made or read goes first)
        _, key = min((item[1][1].size.bit_length(), i) for i, item in enumerate(older))
        del _RECORDS[older[key][0]]


def _row_sizes(W: Any) -> np.ndarray:
    """The number of non-zero values of each row of ``W`` (sparse or a dense array)."""
    if scipy.sparse.issparse(W):
        return np.diff(W.tocsr().indptr) if W.format != "csr" else np.diff(W.indptr)
    return np.count_nonzero(W, axis=1)


def _same_names(a: Any, b: Any) -> bool:
    return len(a) == len(b) and bool(np.array_equal(a, b))


class Found(NamedTuple):
    """A record that some rows of a matrix are rows of (see :func:`recorded`)."""

    #: The concepts of the record's columns.
    concepts: Any
    #: What recomposes the record's weights as they were made (see :func:`remember_concepts`).
    maker: Any
    #: The positions of the matrix's rows found among the record's; None: the matrix
    #: is the recorded one.
    rows: np.ndarray | None


def recorded_makers(W: Any, found: list[Found] | None = None) -> list[Any]:
    """The makers (see :func:`remember_concepts`) recorded for ``W`` or for matrices
    some of its rows are rows of; empty where none is known. ``found``: what
    :func:`recorded` gave for ``W``."""
    found = recorded(W) if found is None else found
    makers: list[Any] = []
    for record in found:
        if record.maker is not None and not any(record.maker is m for m in makers):
            makers.append(record.maker)
    return makers


def remember_lazy_concepts(W: Any, concepts: np.ndarray) -> Any:
    """Record, by identity only, that the columns of ``W`` (a lazy matrix, such as the
    Dask array of :func:`sksplice.distributed.transform_dask`, whose rows are not
    computed to be fingerprinted) are ``concepts``; returns ``W``. See
    :func:`recorded_lazily`."""
    _remember_identity(W, concepts, None)
    return W


def _remember_identity(W: Any, concepts: Any, maker: Any) -> bool:
    """Record ``W`` by identity, while it exists (see :func:`recorded`); False where it
    takes no weak reference (then nothing is recorded)."""
    key = id(W)

    def forget(ref: weakref.ref, key: int = key) -> None:
        if _SOURCES.get(key, (None,))[0] is ref:
            del _SOURCES[key]

    try:
        ref = weakref.ref(W, forget)
    except TypeError:
        return False
    _SOURCES[key] = (ref, concepts, maker)
    return True


def recorded_orders(width: int) -> list[Any]:
    """The concepts, in their order, of each transformer whose weights of ``width``
    columns are recorded (by their rows; see :func:`remember_concepts`), once each."""
    with _RECORDS_LOCK:
        orders = [r.concepts for r in _RECORDS.values() if r.width == width]
    distinct: list[Any] = []
    for order in orders:
        if not any(order is o or _same_names(order, o) for o in distinct):
            distinct.append(order)
    return distinct


def recorded_lazily(W: Any) -> list[Found]:
    """The record of ``W`` itself (see :func:`remember_lazy_concepts`), or none: the
    rows of a lazy matrix are not read to find it among the records of others."""
    entry = _SOURCES.get(id(W))
    return [Found(entry[1], entry[2], None)] if entry is not None and entry[0]() is W else []


def recorded(W: Any) -> list[Found]:
    """Each record ``W`` is, or some of whose rows it holds: the rows are fingerprinted
    once, for :func:`check_source` and :func:`recorded_makers`."""
    entry = _SOURCES.get(id(W))
    if entry is not None and entry[0]() is W:
        return [Found(entry[1], entry[2], None)]
    return _recorded_by_rows(W)


def _recorded_by_rows(W: Any) -> list[Found]:
    shape = getattr(W, "shape", None)
    if not _RECORDS or shape is None or len(shape) != 2:
        return []
    with _RECORDS_LOCK:  # (only widths made here are worth fingerprints)
        densest = [r.densest for r in _RECORDS.values() if r.width == shape[1]]
    if not densest:
        return []
    # Only rows no denser than a recorded row can be one: embeddings of as many
    # dimensions as a transformer had concepts (dense rows) are not fingerprinted
    # (that took 13 s for 200,000 x 512).
    fingerprinted = _fingerprints_and_rows(W, densest=max(densest))
    if fingerprinted is None:
        return []
    fingerprints, positions = fingerprinted
    found: list[Found] = []
    with _RECORDS_LOCK:
        for key, record in list(_RECORDS.items()):
            if record.width != shape[1]:
                continue
            _, hits = _found_in(fingerprints, record.fingerprints)
            if hits.any():
                found.append(Found(record.concepts, record.maker, positions[hits]))
                _RECORDS.move_to_end(key)  # (read: kept as if made now)
    return found


def name_differences(given: Any, expected: Any, n: int = 5) -> tuple[list[Any], list[Any]]:
    """Up to ``n`` names of ``given`` not in ``expected``, and of ``expected`` not in
    ``given``, each in its own order (for messages about mismatched columns)."""
    known, seen = set(expected), set(given)
    return [c for c in given if c not in known][:n], [c for c in expected if c not in seen][:n]


def differences_said(
    given: Any, unknown: list[Any], missing: list[Any], words: tuple[str, str], n: int = 5
) -> str:
    """The ``unknown`` and ``missing`` names of :func:`name_differences`, each after its
    word of ``words`` and only where there are some; where there are none, the names
    that ``given`` repeats (the same names as expected, one twice)."""
    said = [f"{word} {names}" for word, names in zip(words, (unknown, missing)) if names]
    if said:
        return ", ".join(said)
    from collections import Counter

    return f"repeated columns {[name for name, k in Counter(given).items() if k > 1][:n]}"


def check_source(
    W: Any, names: Any, what: str, found: list[Found] | None = None, *, advice: str | None = None
) -> None:
    """Refuse a matrix made by a SpliceTransformer whose concepts are not ``names``.

    ``W`` was returned by a transformer's ``transform`` (see :func:`remember_concepts`)
    and ``names``, given by ``what``, are to label its columns: with other concepts, or
    the same in another order, every column would be read as another concept.
    Copies of such a matrix, and matrices of some of its rows (slices, a fold, rows
    stacked with others), are recognised by their rows (see :func:`row_fingerprints`)
    while the record is kept: a matrix is refused where some of its rows were made
    with other concepts and not also (the same values) with ``names``. Matrices of
    unknown origin (arrays made elsewhere, or in another process) are not checked.
    ``found``: what :func:`recorded` gave for ``W``; ``advice``: what the message ends
    with, instead of how to give the weights with their names.
    """
    found = recorded(W) if found is None else found
    same = [f for f in found if f.concepts is names or _same_names(f.concepts, names)]
    other = [f for f in found if not any(f is g for g in same)]
    if not other:
        return
    source, foreign = other[0], None
    if source.rows is not None:  # (rows recognised: those made with other concepts only)
        # (all found by their rows: the matrix itself is one record, found alone)
        ours = [f.rows for f in same if f.rows is not None] or [np.empty(0, dtype=np.intp)]
        theirs = [(f, f.rows) for f in other if f.rows is not None]
        foreign = np.setdiff1d(np.concatenate([rows for _, rows in theirs]), np.concatenate(ours))
        if not foreign.size:
            return
        source = next(f for f, rows in theirs if np.isin(rows, foreign).any())
    made, given = [str(c) for c in source.concepts], [str(c) for c in names]
    if len(made) != len(given):
        detail = f"{len(made)} concepts there, {len(given)} in {what}"
    else:
        j = next(k for k, (a, b) in enumerate(zip(made, given)) if a != b)
        detail = f"column {j} is {made[j]!r} there but {given[j]!r} in {what}"
        if sorted(made) == sorted(given):
            detail += " (the same concepts in another order)"
    these, others = "these weights were", ""
    if foreign is not None and foreign.size < W.shape[0]:  # (not every row: name them)
        verb = "was" if foreign.size == 1 else "were"
        these = (
            f"{plural(foreign.size, 'row')} of these weights ({_shown_positions(foreign)}) {verb}"
        )
    how = "give the transformer that made the weights (or one fitted on the same vocabulary)"
    if same:
        others = " (other rows by one whose concepts are)"
        how = "keep the weights of each transformer apart, or decompose those rows again"
    if advice is None:
        advice = (
            f"{how}, or use pandas output (set_output(transform='pandas')), whose columns carry "
            "the names"
        )
    raise ValueError(
        f"{these} made by a SpliceTransformer whose concepts are not those of "
        f"{what}{others}: {detail}. Each column would be read as another concept; {advice}"
    )


def _shown_positions(rows: np.ndarray, n: int = 5) -> str:
    """``rows 3, 7, 9 and 2 more`` (the first ``n`` positions)."""
    shown = ", ".join(str(int(r)) for r in rows[:n])
    more = f" and {rows.size - n} more" if rows.size > n else ""
    return ("row " if rows.size == 1 else "rows ") + shown + more


def reconcile_names(
    given: np.ndarray, carried: np.ndarray | None, given_what: str, carried_what: str
) -> np.ndarray:
    """The names of the data's columns when the data and an argument both name them.

    The same names in the same order: those. The same concepts in another order
    (a frame whose columns were reordered): the argument's names in the data's
    order, as the data say what each column holds. Names of which only some are
    the argument's: a ``ValueError`` naming the first column that differs, as
    labelling the columns by position would put the wrong concept names on
    them. Names none of which are the argument's: the argument's names where
    the data's only number the columns (positions such as ``0``, ``"0"``, or
    ``x0`` made up by a step fitted on unnamed columns), which they do not
    contradict; else a ``ValueError`` as well.

    Parameters
    ----------
    given : ndarray of shape (n_columns,)
        The names of the argument (``concepts=``, ``feature_names=``).
    carried : ndarray of shape (n_columns,) or None
        The names the data carry (None: the data name nothing).
    given_what, carried_what : str
        How the two are called in the error message.

    Returns
    -------
    ndarray of shape (n_columns,)
        The names of the data's columns.
    """
    if carried is None or carried.shape != given.shape:
        return given
    given_text = [str(name) for name in given]
    carried_text = [str(name) for name in carried]
    if given_text == carried_text:
        return given
    shared = set(given_text) & set(carried_text)
    if not shared:
        if _positions(carried_text):
            return given
        raise ValueError(
            f"{carried_what} and {given_what} name different concepts: column 0 is "
            f"{_shown(carried[0])} in {carried_what} but {_shown(given[0])} in "
            f"{given_what}, and no name of {carried_what} is in {given_what}; the columns would be "
            "mislabelled. Give the names of these columns, in their order"
        )
    if len(shared) == len(set(given_text)) == len(given_text) == len(set(carried_text)):
        by_text = dict(zip(given_text, given))
        return np.asarray([by_text[name] for name in carried_text], dtype=object)
    j = next(k for k, (a, b) in enumerate(zip(given_text, carried_text)) if a != b)
    raise ValueError(
        f"{carried_what} and {given_what} name different concepts: column {j} is "
        f"{_shown(carried[j])} in {carried_what} but {_shown(given[j])} in {given_what}; the "
        "columns would be mislabelled. Give the names of these columns, in their order"
    )


def _shown(name: Any) -> str:
    """``repr`` of a name, numpy strings as plain ones (``'dog'``, not ``np.str_('dog')``)."""
    return repr(str(name)) if isinstance(name, str) else repr(name)


def _positions(names: list[str]) -> bool:
    """Whether ``names`` only number the columns: numbers (``0, 1, 4``: positions, also
    of columns kept from a wider frame), or one prefix and numbers (``x0``, ``clip0``,
    ``pca0``: made up by a step fitted on unnamed columns)."""
    parts = [re.fullmatch(r"(.*?)(\d+)", name) for name in names]
    return all(parts) and len({part.group(1) for part in parts if part is not None}) == 1


def numbered_prefix(names: Any) -> str | None:
    """The prefix ``p`` when ``names`` are exactly ``p0, p1, ..., p<n-1>``, in order; else None.

    scikit-learn steps name columns they cannot name otherwise so: ``x0, x1, ...`` for
    columns that carried no names, ``pca0, pca1, ...`` (the step's class name) for
    columns a step makes. The whole set is checked: a vocabulary may hold words that end
    in digits (``covid19``, ``f1``), but not every word numbered from 0 in order.
    """
    names = [str(name) for name in names]
    if not names or not names[0].endswith("0"):
        return None
    prefix = names[0][:-1]
    if all(name == f"{prefix}{j}" for j, name in enumerate(names)):
        return prefix
    return None


def label_hint(label: Any, labels: Any) -> str:
    """``"; did you mean 'dog'?"`` for a text ``label`` close to text ``labels`` (``"Dog"``,
    ``"dgo"``), ``""`` otherwise: the labels alone left the user to spot the case."""
    if not isinstance(label, str):
        return ""
    close = close_matches(label, [x for x in labels if isinstance(x, str)])
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def close_matches(word: str, options: Any, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The ``options`` closest to a misspelt ``word``, closest first.

    Names are compared stripped of surrounding whitespace (inner runs of it read
    as one space) and case-folded, so ``"tree "`` and ``"Tree"`` find ``"tree"``
    first, as an exact match. Every option is a candidate whose similarity to
    ``word`` reaches ``cutoff``: the larger of ``1 - edits / longer length``
    (``edits`` counting insertions, deletions, substitutions and swaps of two
    neighbouring letters) and ``2 * common / total length`` (``common``: the
    letters the two share in the same order, at least those
    :func:`difflib.SequenceMatcher.ratio` counts, so ``"swim"`` finds
    ``"swimming"``). Candidates rank by edits, then the same letters first (so
    ``"dgo"`` finds ``"dog"`` before ``"duo"``, ``"do"`` and ``"go"``), then
    an option written as ``word`` (case included) first, then the same first
    letter first (rarely the one mistyped), then by the share of letters in
    common (so ``"catt"`` finds ``"cat"`` before ``"cast"`` and ``"bech"``
    ``"beach"`` before ``"tech"``), then by how little the length changes, then
    in the order of ``options`` (most frequent first for a vocabulary). Each
    name's distances are computed, so the closest are never left out; a
    vocabulary of 50,000 names takes well under 0.1 s.

    Parameters
    ----------
    word : str
        The name that matched nothing.
    options : iterable
        The known names (converted with ``str``).
    n : int, default=3
        The largest number of matches returned.
    cutoff : float, default=0.6
        The least similarity, in [0, 1], of a match.

    Returns
    -------
    list of str
        Up to ``n`` options, as given, closest first; empty if none is close.
    """
    if n <= 0:
        raise ValueError(f"n must be > 0: {n!r}")
    if not 0.0 <= cutoff <= 1.0:
        raise ValueError(f"cutoff must be in [0.0, 1.0]: {cutoff!r}")
    given = list(map(str, options))
    return _close_matches(word, given, _all_normalised(given), n, cutoff)


def _close_matches(
    word: str, given: list[str], names: list[str], n: int = 3, cutoff: float = 0.6
) -> list[str]:
    """:func:`close_matches` among ``given`` (the options as text), whose normalised
    forms (:func:`_all_normalised`) are ``names``: computed once for many words."""
    key = _normalised(str(word))
    found, edits, common = _close(key, names, cutoff)
    first: dict[str, int] = {}  # an option given twice is found once, at its first place
    for k in np.argsort(found, kind="stable"):
        first.setdefault(given[found[k]], k)
    kept = np.sort(np.fromiter(first.values(), dtype=np.int64, count=len(first)))
    found, edits, common = found[kept], edits[kept], common[kept]
    if len(found) > n:  # only ties with the n-th fewest edits can still rank first
        keep = edits <= np.partition(edits, n - 1)[n - 1]
        found, edits, common = found[keep], edits[keep], common[keep]
    stripped = str(word).strip()
    letters = sorted(key)

    def rank(k: int) -> tuple[int, bool, bool, bool, float, int, int]:
        i = int(found[k])
        name = names[i]
        return (
            int(edits[k]),
            sorted(name) != letters,  # a swap, not another letter
            given[i].strip() != stripped,  # written as `word`, case included
            name[:1] != key[:1],
            -float(common[k]) / max(len(name) + len(key), 1),
            abs(len(name) - len(key)),
            i,
        )

    return [given[int(found[k])] for k in sorted(range(len(found)), key=rank)[:n]]


#: How many unknown names a message shows, each with its closest known names.
SUGGESTED = 5


def unknown_names_hints(unknown: Sequence[Any], known: Any) -> str:
    """The unknown names for a message, each of the first few with its closest known names.

    ``'dgo' (did you mean 'dog'?); 'kitt' (did you mean 'kitten', 'kit'?)``: the first
    :data:`SUGGESTED` names with their suggestions (:func:`close_matches`), then how
    many more there are (``; and 495 more``), so that a list of many misspelt or
    foreign names neither makes a message of hundreds of hints nor compares each with
    the whole vocabulary. The known names are normalised once for all the suggestions.
    Known names that are the name with a prefix ending in ``__`` (the columns of a
    ``FeatureUnion`` or ``ColumnTransformer``: ``'union-1__dog'``) are suggested first.

    Parameters
    ----------
    unknown : sequence
        The names not found, in the order given.
    known : iterable
        The known names (converted with ``str``).

    Returns
    -------
    str
        The names, separated by ``"; "``.
    """
    unknown = list(unknown)
    hints = []
    for name, close in zip(unknown, closest_known(unknown, known)):
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        hints.append(f"{name!r}{hint}")
    if len(unknown) > SUGGESTED:
        hints.append(f"and {len(unknown) - SUGGESTED} more")
    return "; ".join(hints)


def closest_known(unknown: Sequence[Any], known: Any) -> list[list[str]]:
    """The closest ``known`` names (:func:`close_matches`, at most 3) of each of the
    first :data:`SUGGESTED` ``unknown`` names, the known names normalised once;
    those ending in ``__`` and the name (a union's columns) first."""
    shown = list(unknown)[:SUGGESTED]
    given = list(map(str, known)) if shown else []
    names = _all_normalised(given)
    found = []
    for name in shown:
        suffix = f"__{name}"
        prefixed = [c for c in given if c.endswith(suffix)][:3]
        found.append(prefixed or _close_matches(str(name), given, names))
    return found


def _normalised(name: str) -> str:
    """``name`` as compared for suggestions: stripped, one space for a run, case-folded."""
    return " ".join(name.split()).casefold()


def _all_normalised(names: list[str]) -> list[str]:
    """:func:`_normalised` for each of ``names``; one pass over their joined text where
    no name has whitespace to strip or join (the usual case)."""
    text = "\0".join(names)
    if (
        text.count("\0") != len(names) - 1  # a name holds the separator
        or _ODD_SPACE.search(text)
        or text[:1] == " "
        or text[-1:] == " "
        or any(text.count(space) for space in ("  ", "\0 ", " \0"))
    ):
        return [_normalised(name) for name in names]
    return text.casefold().split("\0") if names else []


_ODD_SPACE = re.compile(r"[^\S ]")


def _close(
    key: str, names: list[str], cutoff: float, block: int = 1 << 18
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions of the ``names`` close to ``key`` (see :func:`close_matches`), their
    edits and their letters shared in the same order.

    Edits are the optimal string alignment distance (insertions, deletions,
    substitutions, swaps of neighbouring letters), the letters shared the
    longest common subsequence. Two filters, each bounding both measures, leave
    few names to their dynamic programmes: the lengths (edits are at least the
    change of length, shared letters at most the shorter length), then the
    letters counted regardless of order (as
    :meth:`difflib.SequenceMatcher.quick_ratio`; a swap changes no count).
    The programmes run a row per letter of ``key`` over many names at once,
    padded to a common length (a name's result, read in its own last column,
    does not depend on the columns after it); names are taken by length, in
    blocks of about ``block`` letters.
    """
    size = len(key)
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))

    def close(shared: np.ndarray, edits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        longer = np.maximum(lengths, max(size, 1))
        return (edits <= (1.0 - cutoff) * longer + 1e-9) | (
            2 * shared >= cutoff * (lengths + size) - 1e-9
        )

    shorter = np.minimum(lengths, size)
    candidates = np.flatnonzero(close(shorter, np.abs(lengths - size), lengths))
    candidates = candidates[np.argsort(lengths[candidates], kind="stable")]
    counts = {letter: key.count(letter) for letter in set(key)}
    found, edits, common = [], [], []
    start = 0
    while start < len(candidates):
        stop = start + max(1, block // (int(lengths[candidates[start]]) + 1))
        rows = candidates[start:stop]
        start = stop
        width = int(lengths[rows[-1]])
        codes = np.array([names[i] for i in rows], dtype=f"<U{max(width, 1)}")
        codes = codes.view(np.uint32).reshape(len(rows), -1)
        bag = np.zeros(len(rows), dtype=np.int64)
        for letter, count in counts.items():
            bag += np.minimum((codes == ord(letter)).sum(axis=1), count)
        kept = close(bag, np.maximum(lengths[rows], size) - bag, lengths[rows])
        rows, codes = rows[kept], codes[kept]
        if not len(rows):
            continue
        e, c = _alignments(key, codes, lengths[rows])
        kept = close(c, e, lengths[rows])
        found.append(rows[kept])
        edits.append(e[kept])
        common.append(c[kept])
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(found), np.concatenate(edits), np.concatenate(common)


def _alignments(key: str, codes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edits and letters shared in the same order between ``key`` and each row of
    ``codes`` (code points, padded), row ``r`` of length ``lengths[r]``."""
    m, width = codes.shape
    dtype = np.int16 if len(key) + width < 2**15 - 2 else np.int64
    steps = np.arange(width + 1, dtype=dtype)
    previous = np.broadcast_to(steps, (m, width + 1)).copy()
    before = previous
    shared = np.zeros((m, width + 1), dtype=dtype)
    equal_before = None
    for i, letter in enumerate(key, start=1):
        equal = codes == ord(letter)
        current = np.empty_like(previous)
        current[:, 0] = i
        # a deletion, or a substitution (none for the same letter)
        np.minimum(previous[:, 1:] + 1, previous[:, :-1] + ~equal, out=current[:, 1:])
        if equal_before is not None and width > 1:  # a swap of two neighbouring letters
            swap = equal[:, :-1] & equal_before[:, 1:]
            current[:, 2:][swap] = np.minimum(current[:, 2:][swap], before[:, :-2][swap] + 1)
        # an insertion: current[j] = min over k <= j of current[k] + (j - k)
        current -= steps
        np.minimum.accumulate(current, axis=1, out=current)
        current += steps
        before, previous = previous, current
        np.maximum(shared[:, 1:], shared[:, :-1] + equal, out=shared[:, 1:])
        np.maximum.accumulate(shared, axis=1, out=shared)
        equal_before = equal
    at = np.arange(m)
    return previous[at, lengths].astype(np.int64), shared[at, lengths].astype(np.int64)


def a_type(value: Any) -> str:
    """The type of ``value`` with its article, for messages: ``"an int"``, ``"a float"``,
    ``"None"``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def natural_key(path: str | os.PathLike[str]) -> tuple[Any, ...]:
    """A sort key that orders paths as file browsers list them: folder by folder, the
    numbers in a name by their value and letters whatever their case (``p2.png`` before
    ``p10.png``, ``img_emb_2`` before ``img_emb_10``, which plain sorting and the shell's
    patterns put the other way; ``cat/`` before ``cat 2/``). Names that only differ in
    case or in zeros (``p1.png``, ``p01.png``) are ordered by their text: the order
    never depends on the one a folder was listed in."""
    text = os.fspath(path)
    parts = re.split(r"[\\/]", text) if os.sep == "\\" else text.split("/")

    def of_name(name: str) -> list[tuple[int, int, str]]:
        # (the odd places of the split are the runs of decimal digits it split on)
        pieces = re.split(r"(\d+)", name)
        return [
            (0, int(piece), "") if i % 2 else (1, 0, piece.casefold())
            for i, piece in enumerate(pieces)
        ]

    return (tuple(tuple(of_name(part)) for part in parts), text)


def plural(n: int, noun: str) -> str:
    """``"1 image"``, ``"2 images"``: ``n`` and ``noun`` in the number ``n`` asks for."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def listed(
    items: Sequence[Any] | np.ndarray,
    n: int,
    show: Callable[[Any], str] = str,
    *,
    sep: str = ", ",
    more: str = " and {} more",
) -> str:
    """The first ``n`` of ``items``, each as ``show`` writes it, joined by ``sep``, then
    how many more there are (``more``, formatted with their number: ``"'a', 'b' and 3
    more"``); all of them where that would leave one ("and 1 more" says less than its
    name). Only the items shown are written: ``items`` may be the million rows of X
    (an array of row numbers is written as integers)."""
    count = len(items)
    head = items[: count if count <= n + 1 else n]
    if isinstance(head, np.ndarray) and head.dtype.kind in "iu" and show is str:
        head = head.tolist()  # ("3", not "np.int64(3)")
    shown = sep.join(show(item) for item in head)
    return shown if count <= n + 1 else shown + more.format(count - n)


def unnamed_hint(W: Any) -> str:
    """For the error of weights without concept names: where ``W`` is a frame (or series)
    whose labels are bare positions (:func:`carried_names`), what they are and how to
    name them."""
    import pandas as pd

    labels = (
        W.columns if isinstance(W, pd.DataFrame) else W.index if isinstance(W, pd.Series) else None
    )
    if labels is None or len(labels) == 0 or carried_names(labels) is not None:
        return ""
    where = "columns" if isinstance(W, pd.DataFrame) else "index"
    return (
        f"; its {where} ({', '.join(map(repr, list(labels[:3])))}"
        f"{', ...' if len(labels) > 3 else ''}) are not concept names, as a frame made "
        "from an array without names has: build it with "
        "columns=splice.get_feature_names_out(), or set_output(transform='pandas') on the "
        "transformer"
    )
