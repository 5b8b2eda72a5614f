"""The concept dictionary: embedded vocabularies, centred and normalised, cached.

Embedding a vocabulary of 10,000 or 15,000 concepts with a CLIP text tower
costs minutes on a CPU, and a cross-validated search fits the same transformer
many times. :func:`embed_vocabulary` therefore keeps the raw concept
embeddings

* in process, keyed by the embedder's ``cache_key()`` (or, without one, by the
  embedder object itself, which the copies that ``clone`` makes of it share: see
  ``note_clone``), the vocabulary content hash and its size;
* on disk under ``get_cache_dir(cache_dir) / "dictionaries"`` (the cache folder,
  apart from the data home: ``$SKSPLICE_CACHE``, else the per-user cache folder) as
  uncompressed ``.npz`` files that carry a small header: the cache key, the
  array shape and dtype, and a SHA-256 digest of the array bytes. A file is
  checked before its array is read (stored uncompressed, a float32 array of
  exactly the expected shape and byte size), then against its header and digest
  and for finite values; a file that fails any check is reported with a
  :class:`DictionaryCacheWarning` naming it, rebuilt and atomically replaced.
  Temporary files left by a writer that was killed are removed by the next
  build of the same cache;
* while a vocabulary is embedded, block by block in ``<name>.partial/`` beside
  its cache file ``<name>.npz``, so that an embedding that is stopped (Ctrl-C, a
  job killed, a full disk) resumes from its finished blocks; the folder is
  removed once the cache file is written.

:func:`build_dictionary` turns the raw embeddings into the SpLiCE dictionary:
rows L2-normalised, centred by their mean, L2-normalised again.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any

import numpy as np
from cachetools import LRUCache

from ._array import ZERO_NORM, l2_normalize
from ._atomic import atomic_write, remove_stale_temporaries
from ._data import (
    cache_dir_chosen,
    get_cache_dir,
    readable_name,
    unsearchable_reason,
    unwritable_reason,
)
from ._names import plural
from ._progress import counted_by, progress
from ._protocols import check_text_embedder
from ._stack import warn_user
from ._text import cut_texts_kept
from ._validation import check_finite_rows, check_int, shown_groups

__all__ = [
    "PREFIX_SIZES",
    "DictionaryCacheWarning",
    "DuplicateConceptWarning",
    "build_dictionary",
    "clear_memory_cache",
    "dictionary_cache_path",
    "duplicate_concepts",
    "embed_vocabulary",
    "l2_normalize",
    "vocabulary_hash",
]

#: Version of the on-disk format; bump it when the layout changes.
_FORMAT_VERSION = 1
#: Number of dictionaries kept in the in-process cache (least recently used
#: entries are dropped first).
_MEMORY_CACHE_SIZE = 8
#: Vocabularies of at least this many concepts are embedded in several calls when no
#: batch size is given: first ``_PROBE_SIZE`` concepts evenly spaced over the
#: vocabulary (the same mix of short and long concepts as the whole, where the first
#: concepts of a list ordered by frequency are its shortest), which time the
#: embedder so that the log can say how long the rest will take; then the rest in
#: blocks of at most ``_BLOCK_SIZE`` concepts, each again evenly spaced over the
#: vocabulary, so that the progress lines between blocks can say how long is left.
#: The blocks depend on the number of concepts only, never on timing or verbosity.
_PROBE_MIN_CONCEPTS = 2048
_PROBE_SIZE = 512
_BLOCK_SIZE = 4096
#: Fewest seconds between two progress lines while the rest is embedded.
_PROGRESS_INTERVAL = 10.0
#: Seconds between two looks at the blocks that other processes are embedding.
_CLAIM_POLL = 0.2
#: Seconds between two renewals of the claims of a process (by a thread of it, also
#: while its embedder works on a long block).
_CLAIM_RENEW = 15.0
#: A claim that its process has not renewed for this many seconds is taken over (a
#: process stopped with Ctrl-Z, or of another machine, whose life cannot be asked for).
_CLAIM_STALE = 120.0

logger = logging.getLogger(__name__)
#: Widest concept embedding accepted from a cache file when the expected width
#: is not known (CLIP and sentence-transformers text towers are 1024 wide or less).
_MAX_CACHED_DIM = 16384
#: Largest header entry read from a cache file, in bytes.
_MAX_HEADER_BYTES = 1 << 16
#: A centred concept shorter than this coincides with the vocabulary's mean.
_CENTRED_EPS = 1e-6

_memory_cache: LRUCache[tuple[Any, ...], np.ndarray] = LRUCache(maxsize=_MEMORY_CACHE_SIZE)
_memory_lock = threading.Lock()


class DictionaryCacheWarning(UserWarning):
    """A cached concept dictionary on disk was unusable (rebuilt) or could not be written."""


class DuplicateConceptWarning(UserWarning):
    """Concepts of a vocabulary whose embeddings are the same direction.

    Their dictionary rows are equal, so the lasso is indifferent to how a weight
    is split between them; the transformer splits it equally between concepts
    whose embeddings are exactly the same. ``groups`` lists them, each a tuple
    of concept names.
    """

    def __init__(self, message: str, groups: list[tuple[str, ...]]) -> None:
        super().__init__(message)
        self.groups = groups

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickled with its groups: a warning recorded in a worker process, a fold of
        # SplicePathSearchCV(n_jobs=2), is sent back and issued in the caller's)
        return (type(self), (str(self.args[0]) if self.args else "", self.groups), self.__dict__)


#: Embeddings of two concepts count as the same direction from this cosine on.
_SAME_COSINE = 1.0 - 1e-6


def duplicate_concepts(raw: np.ndarray) -> list[list[int]]:
    """Groups of rows of ``raw`` that point the same way (cosine >= 1 - 1e-6).

    Rows are compared only where four random projections of the unit rows are
    all within the distance such rows can have (``sqrt(2e-6)``), found along the
    rows sorted by the first projection: no ``n x n`` product is formed (0.1 s
    for 37,445 rows of 512 on one core). Zero rows are left out
    (:func:`build_dictionary` refuses them).

    Parameters
    ----------
    raw : ndarray of shape (n_concepts, d)
        Concept embeddings.

    Returns
    -------
    list of list of int
        Row indices of each group of two or more, in increasing order, the
        groups ordered by their first row.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # (no float64 copy of the embeddings: the projections are formed in their dtype,
    # float32 at least, with a margin for its round-off, and only candidate pairs are
    # compared exactly)
    X = np.asarray(raw)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    elif X.dtype.itemsize < 4:
        X = X.astype(np.float32)
    X = np.ascontiguousarray(X)
    n = X.shape[0]
    norms = _row_norms(X)
    nonzero = np.flatnonzero(norms > 0)
    if nonzero.size < 2:
        return []
    # Rows equal bit for bit (many concepts a tokenizer reads as one unknown token) are
    # grouped first, so that the sweep below meets each such group once, not pairwise.
    rep = nonzero[_first_equal_rows(X[nonzero])]
    keep = np.unique(rep)
    edges = [np.stack([nonzero, rep], axis=1)]
    directions = np.random.default_rng(0).standard_normal((X.shape[1], 4))
    directions /= np.linalg.norm(directions, axis=0)
    P = (X[keep] @ directions.astype(X.dtype)).astype(np.float64) / norms[keep, None]
    order = np.argsort(P[:, 0], kind="stable")
    rows = keep[order]
    P = np.ascontiguousarray(P[order].T)
    eps = 1e-5 if X.dtype.itemsize < 8 else 1e-12
    reach = np.sqrt(2.0 * (1.0 - _SAME_COSINE)) * (1 + 1e-6) + eps
    for offset in range(1, rows.size):
        # (the first projection is sorted: no rows farther apart in it are within reach)
        near = P[0, offset:] - P[0, :-offset] <= reach
        if not near.any():
            break
        for k in range(1, P.shape[0]):
            near &= np.abs(P[k, offset:] - P[k, :-offset]) <= reach
        at = np.flatnonzero(near)
        if at.size:
            a, b = rows[at], rows[at + offset]
            Xa, Xb = X[a].astype(np.float64), X[b].astype(np.float64)
            cosine = np.einsum("ij,ij->i", Xa, Xb) / (norms[a] * norms[b])
            same = cosine >= _SAME_COSINE
            edges.append(np.stack([a[same], b[same]], axis=1))
    found = np.concatenate(edges)
    found = found[found[:, 0] != found[:, 1]]
    if not found.size:
        return []
    a, b = found[:, 0], found[:, 1]
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([a, b]))
    groups: dict[int, list[int]] = {}
    for i in members.tolist():
        groups.setdefault(int(labels[i]), []).append(i)
    return sorted(groups.values())


def _first_equal_rows(X: np.ndarray, block: int = 4096) -> np.ndarray:
    """For each row of ``X``, the index of the first row equal to it bit for bit.

    Rows are told apart by a fingerprint (their words times random odd multipliers,
    summed modulo 2**64, a block of rows at a time), then checked against the first
    row of their fingerprint; a row that differs from it (a collision) stands alone.
    """
    words = X.reshape(X.shape[0], -1).view(np.uint8)
    words = words.view(np.uint32) if words.shape[1] % 4 == 0 else words
    mult = np.random.default_rng(0).integers(1, 2**62, size=words.shape[1], dtype=np.uint64) | 1
    fingerprint = np.empty(X.shape[0], dtype=np.uint64)
    for start in range(0, X.shape[0], block):
        chunk = words[start : start + block].astype(np.uint64)
        fingerprint[start : start + block] = (chunk * mult).sum(axis=1)
    _, first, inverse = np.unique(fingerprint, return_index=True, return_inverse=True)
    rep = first[inverse.ravel()]
    for start in range(0, X.shape[0], block):
        part = slice(start, start + block)
        equal = np.all(X[part] == X[rep[part]], axis=1)
        rep[part] = np.where(equal, rep[part], np.arange(X.shape[0])[part])
    return rep


# Groups found by duplicate_concepts in the read-only arrays embed_vocabulary returns (the
# same object at every fit of a cached vocabulary, as in a search), by array.
_duplicates_found: LRUCache[_Same, list[list[int]]] = LRUCache(maxsize=_MEMORY_CACHE_SIZE)


def _duplicates_of(raw: np.ndarray) -> list[list[int]]:
    """:func:`duplicate_concepts` of ``raw``, computed once per read-only array."""
    if not isinstance(raw, np.ndarray) or raw.flags.writeable:
        return duplicate_concepts(raw)
    key = _Same(raw)
    with _memory_lock:
        found = _duplicates_found.get(key)
    if found is None:
        found = duplicate_concepts(raw)
        with _memory_lock:
            _duplicates_found[key] = found
    return found


#: The most concepts to drop that a DuplicateConceptWarning writes out in its advice.
_DROPPED_SHOWN = 8


def warn_duplicate_concepts(
    raw: np.ndarray, concepts: Sequence[str], named: str | None = None
) -> list[list[int]]:
    """Warn (:class:`DuplicateConceptWarning`) about concepts with the same embedding.

    A text tower that lower-cases its input embeds ``"Dog"`` as ``"dog"``, and
    one with a context of 77 tokens cuts longer concepts at their end; two
    concepts can also be the same text spelt differently. The warning names up
    to five groups (a long name is shortened in the message, not in ``groups``)
    and says what to do (``named``: the vocabulary's name, where it is a published
    one, which the advice shows how to keep one concept of each group of). Returns
    the groups of rows (:func:`duplicate_concepts`).
    """
    found = _duplicates_of(raw)
    if not found:
        return found
    # (the one to keep first: the plain spelling, 'a' of 'à' and 'a', whatever the order)
    groups = [_plain_first([str(concepts[i]) for i in group]) for group in found]

    def short(name: str) -> str:
        return repr(name if len(name) <= 40 else name[:37] + "...")

    shown = shown_groups(groups, short)
    dropped = [name for group in groups for name in group[1:]]
    n_extra = len(dropped)
    # (the names to drop written out where they are few: a notebook shows the message,
    # not the warning whose `groups` the advice needed)
    written = n_extra <= _DROPPED_SHOWN and all(len(name) <= 40 for name in dropped)
    names = "{" + ", ".join(repr(name) for name in dropped) + "}" if written else "dropped"
    keep = (
        f"Keep one concept of each group, dropping the others ({names})"
        if written
        else "Keep one concept of each group (the warning's `groups` lists them)"
    )
    if named is not None:
        keep += (
            f": vocabulary=[c for c in load_vocabulary({named!r}, size={len(concepts)}) if c "
            f"not in {names}]{'' if written else ', with dropped the others of each group'}; "
            "or filter this warning by its class, sksplice.exceptions.DuplicateConceptWarning"
        )
    elif written:
        keep += " from the vocabulary"
    warn_user(
        DuplicateConceptWarning(
            f"{n_extra} concept{'s' if n_extra > 1 else ''} of the vocabulary "
            f"{'have' if n_extra > 1 else 'has'} the same embedding as another: "
            f"{shown} (a text tower that lower-cases its input or strips its accents embeds "
            "such variants alike, and one cuts a concept longer than its context). A row's "
            "weight on such a group is split equally between its concepts, so none of them "
            f"stands for it alone. {keep}.",
            groups,
        ),
        of_the_data=True,  # (every fit of the vocabulary finds them: said once)
    )
    return found


def _plain_first(names: list[str]) -> tuple[str, ...]:
    """``names`` with the first of them that is its own plain form (lower case, without
    accents or outer spaces) moved to the front; as they are where none is."""
    import unicodedata

    def plain(name: str) -> str:
        decomposed = unicodedata.normalize("NFKD", name)
        return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()

    first = next((i for i, name in enumerate(names) if name == plain(name)), 0)
    return (names[first], *names[:first], *names[first + 1 :])


def exact_duplicate_columns(dictionary: np.ndarray, groups: list[list[int]]) -> list[np.ndarray]:
    """The columns of each set of bitwise equal rows of ``dictionary`` among ``groups``.

    Concepts whose embeddings are exactly the same have equal dictionary rows, and
    the lasso is indifferent to how a weight is split between them: any split of
    the same sum has the same objective. (Rows that only point nearly the same way,
    which ``groups`` holds too, are left to the solver.)
    """
    found: list[np.ndarray] = []
    for group in groups:
        by_row: dict[bytes, list[int]] = {}
        for i in group:
            by_row.setdefault(np.ascontiguousarray(dictionary[i]).tobytes(), []).append(int(i))
        found.extend(np.asarray(same, dtype=np.intp) for same in by_row.values() if len(same) > 1)
    return found


def split_duplicate_weights(W: Any, columns: list[np.ndarray]) -> Any:
    """CSR weights ``W`` whose weight of each set of ``columns`` is split equally.

    Each row's sum over a set is given in equal shares to its columns (the same
    value to each), other weights stay as they are (bit for bit): ``W @ P`` with
    ``P`` the identity but for ``1 / size`` between the columns of a set.
    """
    if not columns:
        return W
    import scipy.sparse

    n = W.shape[1]
    keep = np.ones(n, dtype=bool)
    rows, cols, vals = [], [], []
    for group in columns:
        keep[group] = False
        rows.append(np.repeat(group, group.size))
        cols.append(np.tile(group, group.size))
        vals.append(np.full(group.size**2, 1.0 / group.size))
    diagonal = np.flatnonzero(keep)
    P = scipy.sparse.csr_matrix(
        (
            np.concatenate([np.ones(diagonal.size), *vals]).astype(W.dtype),
            (np.concatenate([diagonal, *rows]), np.concatenate([diagonal, *cols])),
        ),
        shape=(n, n),
    )
    out = scipy.sparse.csr_matrix(W @ P)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def _row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a 2-D floating array, summed in float64.

    The products are formed in float64 (no overflow for float32 rows of
    1e20) by einsum's buffered cast, a block at a time, so no float64 copy of
    ``X`` is made.
    """
    squares = np.einsum("ij,ij->i", X, X, dtype=np.float64, casting="same_kind")
    return np.sqrt(squares)


def build_dictionary(
    raw: np.ndarray, concepts: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Turn raw concept embeddings into the SpLiCE concept dictionary.

    Each row is L2-normalised, the rows are centred by their mean, and each row
    is L2-normalised again.

    Parameters
    ----------
    raw : array-like of shape (n_concepts, d)
        Raw text embeddings of the concepts (need not be normalised).
    concepts : sequence of str or None, default=None
        The concept of each row, used to name a row at fault in errors.

    Returns
    -------
    dictionary : ndarray of shape (n_concepts, d)
        The centred, unit-norm concept dictionary (same floating dtype as the
        input, float32 for non-floating input).
    concept_mean : ndarray of shape (d,)
        Mean of the L2-normalised rows, the centre that was subtracted.

    Raises
    ------
    ValueError
        If ``raw`` is not two-dimensional, is empty, or holds NaN or infinite
        values; if a row is zero (it has no direction); or if a row coincides
        with the mean of all rows, so that centring leaves nothing of it (a
        one-concept vocabulary, or concepts that all embed the same). The
        first offending concept (or row) is named.
    """
    raw = np.asarray(raw)
    if raw.ndim != 2:
        raise ValueError(
            f"concept embeddings must be a 2-D array (n_concepts, d); got shape {raw.shape}"
        )
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise ValueError(f"concept embeddings are empty: shape {raw.shape}")
    if not np.issubdtype(raw.dtype, np.floating):
        raw = raw.astype(np.float32)
    check_finite_rows(raw, "concept embeddings")
    if concepts is not None and len(concepts) != raw.shape[0]:
        raise ValueError(
            f"{len(concepts)} concept names were given for {raw.shape[0]} concept embeddings"
        )

    def name(row: int) -> str:
        return f"{concepts[row]!r} (row {row})" if concepts is not None else f"row {row}"

    norms = _row_norms(raw)
    zero = norms <= ZERO_NORM
    if zero.any():
        row = int(np.flatnonzero(zero)[0])
        raise ValueError(
            f"the embedding of concept {name(row)} is a zero vector, which has no direction "
            f"({int(zero.sum())} such concept(s)); remove it or fix the embedder"
        )
    centred = l2_normalize(raw)  # a new array: centred in place below
    concept_mean = centred.mean(axis=0)
    centred -= concept_mean
    flat = _row_norms(centred) <= _CENTRED_EPS
    if flat.any():
        row = int(np.flatnonzero(flat)[0])
        why = (
            "a vocabulary of one concept"
            if raw.shape[0] == 1
            else f"{int(flat.sum())} concept(s) equal to the mean of the vocabulary"
        )
        raise ValueError(
            f"concept {name(row)} coincides with the mean of the vocabulary, so centring "
            f"leaves nothing of it ({why}); SpLiCE needs at least two concepts that embed "
            "differently"
        )
    dictionary = l2_normalize(centred)
    return dictionary, concept_mean


def vocabulary_hash(concepts: Sequence[str]) -> str:
    """SHA-256 digest of a vocabulary's content and order.

    Parameters
    ----------
    concepts : sequence of str
        The concept strings, in order.

    Returns
    -------
    str
        Hexadecimal digest; two vocabularies share it only if they hold the same
        strings in the same order.
    """
    digest = hashlib.sha256()
    for concept in concepts:
        encoded = concept.encode("utf-8")
        # Length-prefix every entry so that ("ab", "c") and ("a", "bc") differ.
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def dictionary_cache_path(
    cache_key: str, concepts: Sequence[str], cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Where the raw embeddings of ``concepts`` under ``cache_key`` are cached on disk.

    Parameters
    ----------
    cache_key : str
        The embedder's ``cache_key()``: identifies the model and its weights.
    concepts : sequence of str
        The vocabulary.
    cache_dir : str, path-like or None, default=None
        Cache folder (``None``: ``$SKSPLICE_CACHE``, else the per-user cache folder).

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/dictionaries/<name>-<size>-<digest>.npz``: ``<name>`` is
        ``cache_key`` with every run of characters other than ``[A-Za-z0-9._-]``
        replaced by ``_``, without ``.`` or ``_`` at either end, cut to 48
        characters (``embedder`` when nothing is left); ``<size>`` is
        ``len(concepts)``; ``<digest>`` is 20 hexadecimal digits of a SHA-256
        of the whole key, the vocabulary's :func:`vocabulary_hash` and its size
        (and, for on-disk layouts after the first, the layout's version, so that
        releases of two layouts sharing a cache folder keep a file each).
    """
    full_key = _disk_key(cache_key, concepts)
    digest = hashlib.sha256(full_key.encode("utf-8")).hexdigest()[:20]
    # The readable part is trimmed as it always was: cached files keep their names.
    readable = readable_name(cache_key).strip("._")[:48] or "embedder"
    name = f"{readable}-{len(concepts)}-{digest}.npz"
    return get_cache_dir(cache_dir) / "dictionaries" / name


def _disk_key(cache_key: str, concepts: Sequence[str]) -> str:
    key: dict[str, Any] = {
        "embedder": cache_key,
        "vocabulary": vocabulary_hash(concepts),
        "size": len(concepts),
    }
    if _FORMAT_VERSION != 1:
        # A file of another layout gets another name (the digest covers the key), so that
        # two installed versions sharing one cache folder do not replace each other's
        # file on every run; files of the first layout keep their names.
        key["format"] = _FORMAT_VERSION
    return json.dumps(key, sort_keys=True)


def _member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise ValueError(f"missing entry {name!r} (found {sorted(archive.namelist())})") from None
    if info.compress_type != zipfile.ZIP_STORED:
        # The writer stores entries uncompressed: a compressed one could expand
        # to any size, so it is refused before a byte of it is inflated.
        raise ValueError(f"entry {name!r} is compressed; the cache is written uncompressed")
    return info


def _npy_header(handle: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(handle)
    raise ValueError(f"unsupported .npy format version {version}")


def _read_cache_file(
    path: Path, expected_key: str, n_concepts: int, n_features: int | None
) -> np.ndarray:
    """Load and verify one cache file; raise ``ValueError`` saying what is wrong.

    Sizes are checked from the archive directory and the ``.npy`` header before
    the array is read, so a file declaring a huge array costs nothing.
    """

    def check_key(header: dict[str, Any]) -> None:
        if header.get("key") != expected_key:
            raise ValueError("its key does not match the embedder and vocabulary asked for")

    return _read_npz(path, check_key, n_concepts, n_features)


def _npz_header(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The header of a file of :func:`_write_npz` (its ``key``, ``shape`` ...), read
    alone and bounded in size; ``ValueError`` says what is wrong with it."""
    header_info = _member(archive, "header")
    if header_info.file_size > _MAX_HEADER_BYTES:
        raise ValueError(f"its header entry holds {header_info.file_size} bytes")
    with archive.open(header_info) as handle:
        header_array = np.lib.format.read_array(handle, allow_pickle=False)
    if header_array.shape != () or header_array.dtype.kind != "U":
        raise ValueError("its header entry is not a string")
    header = json.loads(str(header_array[()]))
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    if header.get("format") != _FORMAT_VERSION:
        raise ValueError(f"format version {header.get('format')!r} != {_FORMAT_VERSION}")
    return header


def cached_dictionary_key(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a cached dictionary file holds: the key it was written under (``embedder``,
    ``size``, ``vocabulary`` digest), from its header alone.

    Raises
    ------
    OSError, ValueError, zipfile.BadZipFile
        If the file cannot be read or is not a dictionary file of this release.
    """
    with zipfile.ZipFile(path) as archive:
        key = json.loads(_npz_header(archive)["key"])
    if not isinstance(key, dict):
        raise ValueError("its key is not a JSON object")
    return key


def _read_npz(
    path: Path,
    check_header: Callable[[dict[str, Any]], None],
    n_rows: int,
    n_features: int | None,
) -> np.ndarray:
    """Load and verify a file of :func:`_write_npz` of ``n_rows`` rows.

    ``check_header`` raises ``ValueError`` for a header that is not the one
    expected; it is called before the array is read.
    """
    with zipfile.ZipFile(path) as archive:
        header = _npz_header(archive)
        check_header(header)

        info = _member(archive, "embeddings")
        with archive.open(info) as handle:
            shape, fortran_order, dtype = _npy_header(handle)
            if dtype != np.dtype("<f4") or fortran_order:
                order = ", Fortran order" if fortran_order else ""
                raise ValueError(f"its array has dtype {dtype}{order}, not C-order float32")
            if len(shape) != 2 or shape[0] != n_rows:
                raise ValueError(f"its array has shape {shape}; expected ({n_rows}, d)")
            d = shape[1]
            if n_features is not None and d != n_features:
                raise ValueError(f"its array has shape {shape}; expected ({n_rows}, {n_features})")
            if not 1 <= d <= _MAX_CACHED_DIM:
                raise ValueError(f"its array has shape {shape}; d must be 1 to {_MAX_CACHED_DIM}")
            if tuple(header.get("shape", ())) != shape:
                raise ValueError(f"header shape {header.get('shape')} does not match array {shape}")
            n_bytes = n_rows * d * dtype.itemsize
            if info.file_size != handle.tell() + n_bytes:
                raise ValueError(
                    f"its array entry holds {info.file_size} bytes for a {shape} array"
                )
            data = handle.read(n_bytes)
    if len(data) != n_bytes:
        raise ValueError(f"its array is cut short ({len(data)} of {n_bytes} bytes)")
    embeddings = np.frombuffer(data, dtype=dtype).reshape(shape)
    if header.get("sha256") != _array_digest(embeddings):
        raise ValueError("the array digest does not match its content")
    check_finite_rows(embeddings, "its array")
    return np.array(embeddings)


def _write_cache_file(path: Path, key: str, embeddings: np.ndarray) -> None:
    _write_npz(path, {"key": key}, embeddings)


def _write_npz(path: Path, fields: dict[str, Any], embeddings: np.ndarray) -> None:
    """Write ``embeddings`` (float32) atomically with a header of ``fields``, the
    format version, the array's shape, dtype and SHA-256 digest."""
    header = {
        "format": _FORMAT_VERSION,
        **fields,
        "shape": list(embeddings.shape),
        "dtype": str(embeddings.dtype),
        "sha256": _array_digest(embeddings),
    }
    with atomic_write(path) as handle:
        np.savez(handle, embeddings=embeddings, header=np.array(json.dumps(header)))


def _memory_key(embedder: Any, cache_key: str | None, concepts: Sequence[str]) -> tuple:
    if cache_key is not None:
        ident: Any = ("key", cache_key)
    else:
        # Without a cache key the embedder object itself identifies the model: the
        # object it was cloned from, where it is a copy that clone made.
        ident = ("object", _Same(_original(embedder)))
    return (ident, vocabulary_hash(concepts), len(concepts))


# Copies of embedders that are no estimators, made by sklearn's clone (which deep-copies
# such a parameter: a search's every fit gets one), by ``id``: a weak reference to the
# copy and one to the object it was copied from (the first of a chain of copies). While
# that one lives, a copy without a cache key finds the dictionary it holds in process.
_copies: dict[int, tuple[weakref.ref[Any], weakref.ref[Any]]] = {}


def note_clone(copy: Any, original: Any) -> None:
    """Record that ``copy`` is a copy of the embedder ``original`` made by clone: an
    embedder without ``cache_key()`` then finds, in process, the dictionary embedded by
    the object it was copied from, as an embedder with a key finds it by the key
    (a 5-fold search with such an embedder embedded its vocabulary at every fit).

    Only embedders that are no estimators are recorded: clone copies them whole, and a
    search has no way to change them (an estimator is made anew from its parameters,
    which a search sets: ``embedder__seed``, another model). Nothing is asked of the
    embedder (no ``cache_key()``: clone stays cheap and cannot fail), and nothing is
    recorded for the object itself or for objects that take no weak reference (they are
    told apart as before).
    """
    if copy is original or hasattr(copy, "get_params"):  # (as the original: its copy)
        return
    root = _original(original)
    key = id(copy)

    def forget(_: weakref.ref[Any]) -> None:  # (the copy is gone: its id may be reused)
        # (no lock: the collector may run this while the lock is held, on this thread)
        _copies.pop(key, None)

    try:
        copy_ref = weakref.ref(copy, forget)
        root_ref = weakref.ref(root)
    except TypeError:  # (no weak reference to one of them)
        return
    with _memory_lock:
        _copies[key] = (copy_ref, root_ref)


def _original(embedder: Any) -> Any:
    """The object ``embedder`` was copied from by clone (:func:`note_clone`), while it
    lives; else ``embedder`` itself."""
    with _memory_lock:
        found = _copies.get(id(embedder))
    if found is None or found[0]() is not embedder:
        return embedder
    root = found[1]()
    return embedder if root is None else root


class _Same:
    """A cache key that is equal only for the very same object while it lives.

    Keyed on ``id`` (the object need not be hashable: a dataclass with ``eq=True``
    is not), compared by identity through a weak reference, so that a new object
    that reuses the id of a dead one never matches its entry. An object that takes
    no weak reference is held by the key instead: it lives as long as its entry,
    so its id cannot be reused meanwhile.
    """

    __slots__ = ("_get", "_id")

    def __init__(self, obj: Any) -> None:
        try:
            self._get: Callable[[], Any] = weakref.ref(obj)
        except TypeError:  # (no weak reference to it: hold it)
            self._get = lambda: obj
        self._id = id(obj)

    def __hash__(self) -> int:
        return self._id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Same):
            return NotImplemented
        mine = self._get()
        return mine is not None and mine is other._get()


def is_cached(
    embedder: Any,
    concepts: Sequence[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    prefix_of: Sequence[str] | None = None,
) -> bool:
    """Whether :func:`embed_vocabulary` would find ``concepts`` cached (in process or on disk).

    With ``prefix_of`` (a longer list that ``concepts`` begin, as
    :func:`embed_vocabulary` takes it), also whether a cached longer beginning of
    that list holds them: they are then cut from it, not embedded. Cheap: no model
    is loaded and no file is read (a disk cache file that turns out to be
    unreadable is rebuilt by :func:`embed_vocabulary`).
    """
    cache_key, lists = _cached_lists(embedder, concepts, prefix_of, cache_dir)
    return any(_held(embedder, cache_key, listed, cache_dir) for listed in lists)


def cached_embeddings(
    embedder: Any,
    concepts: Sequence[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    prefix_of: Sequence[str] | None = None,
) -> np.ndarray | None:
    """The embeddings of ``concepts`` where they are cached (in process or on disk, or in
    a cached longer beginning of ``prefix_of``), without embedding anything and without
    loading the model; None where they are not (a file that cannot be read counts as
    none: it is not rebuilt here)."""
    cache_key, lists = _cached_lists(embedder, concepts, prefix_of, cache_dir)
    for listed in lists:
        found = _cached_array(embedder, cache_key, listed, cache_dir, True, None)
        if found is not None:
            return found[: len(concepts)]
    return None


def _held(embedder: Any, cache_key: str | None, listed: list[str], cache_dir: Any) -> bool:
    """Whether the embeddings of ``listed`` are held in process or in a cache file (which
    may still turn out unreadable)."""
    if _memory_get(_memory_key(embedder, cache_key, listed)) is not None:
        return True
    if cache_key is None:
        return False
    try:
        return dictionary_cache_path(cache_key, listed, cache_dir).exists()
    except (OSError, ValueError):  # no usable cache folder
        return False


def cached_beginning(
    embedder: Any,
    concepts: Sequence[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    prefix_of: Sequence[str] | None = None,
) -> int:
    """How many of the first ``concepts`` a cached shorter beginning of ``prefix_of`` (a
    longer list they begin, or themselves) holds: :func:`embed_vocabulary` embeds only
    the rest. 0 where none is cached. Cheap, as :func:`is_cached`."""
    cache_key = _key_of(embedder)
    concepts = list(concepts)
    full, k = (concepts if prefix_of is None else list(prefix_of)), len(concepts)
    if full[:k] != concepts:
        return 0
    for j in sorted(
        (j for j in _sizes_to_try(cache_key, full, cache_dir) if 0 < j < k), reverse=True
    ):
        if _held(embedder, cache_key, full[:j], cache_dir):
            return j
    return 0


def cached_width(
    embedder: Any,
    concepts: Sequence[str],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    prefix_of: Sequence[str] | None = None,
) -> int | None:
    """The width of the cached embeddings :func:`embed_vocabulary` would use for
    ``concepts`` (see :func:`is_cached`), None where none is cached.

    Read from the array held in process, or from the header of the cache file (its
    array is not read): the width of embeddings ``X`` is checked against it before
    any concept is embedded, where a cache of another width would be passed over
    and the whole vocabulary embedded first. A file whose header cannot be read
    counts as none.
    """
    cache_key, lists = _cached_lists(embedder, concepts, prefix_of, cache_dir)
    for listed in lists:
        held = _memory_get(_memory_key(embedder, cache_key, listed))
        if held is not None:
            return int(held.shape[1])
        if cache_key is None:
            continue
        try:
            path = dictionary_cache_path(cache_key, listed, cache_dir)
            if not path.exists():
                continue
            with (
                zipfile.ZipFile(path) as archive,
                archive.open(_member(archive, "embeddings")) as handle,
            ):
                shape = _npy_header(handle)[0]
        except Exception:  # (no usable cache folder or file: rebuilt when it is read)
            continue
        if len(shape) == 2 and shape[0] == len(listed) and 1 <= shape[1] <= _MAX_CACHED_DIM:
            return int(shape[1])
    return None


def _cached_lists(
    embedder: Any,
    concepts: Sequence[str],
    prefix_of: Sequence[str] | None,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[str | None, list[list[str]]]:
    """The embedder's cache key and the lists whose cached embeddings hold those of
    ``concepts``: the concepts themselves, then the longer beginnings of ``prefix_of``
    that may be cached, shortest first (as :func:`embed_vocabulary` looks for them)."""
    cache_key = _key_of(embedder)
    lists = [list(concepts)]
    if prefix_of is not None:
        full, k = list(prefix_of), len(concepts)
        if len(full) > k and full[:k] == lists[0]:
            sizes = _sizes_to_try(cache_key, full, cache_dir)
            lists += [full[:j] for j in sorted(sizes) if k < j <= len(full)]
    return cache_key, lists


def _key_of(embedder: Any) -> str | None:
    """The embedder's cache key as a string, None where it has none."""
    key_fn = getattr(embedder, "cache_key", None)
    key = key_fn() if callable(key_fn) else None
    return None if key is None else str(key)


def _sizes_to_try(cache_key: str | None, full: list[str], cache_dir: Any) -> set[int]:
    """The sizes at which a beginning of ``full`` may be cached: :data:`PREFIX_SIZES`,
    those asked for in this process, those of files on disk, and the whole list."""
    with _memory_lock:
        seen = set(_prefix_sizes_seen.get((cache_key, vocabulary_hash(full), len(full)), ()))
    return {*PREFIX_SIZES, *seen, *_sizes_on_disk(cache_key, cache_dir), len(full)}


def _memory_get(key: tuple) -> np.ndarray | None:
    with _memory_lock:
        return _memory_cache.get(key)  # marks the entry as recently used


def _memory_put(key: tuple, value: np.ndarray) -> None:
    with _memory_lock:
        _memory_cache[key] = value  # drops the least recently used entry when full


def clear_memory_cache() -> None:
    """Forget every concept dictionary held in process, and the class embeddings of
    :class:`~sksplice.zero_shot.ZeroShotClassifier`'s prompts (the disk cache is kept)."""
    with _memory_lock:
        _memory_cache.clear()
        _prefix_sizes_seen.clear()


def _validate_concepts(concepts: Sequence[str], name: str = "concepts") -> list[str]:
    if isinstance(concepts, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    concepts = list(concepts)
    if not concepts:
        raise ValueError("the vocabulary is empty" if name == "concepts" else f"{name} is empty")
    what = "vocabulary" if name == "concepts" else name
    for i, concept in enumerate(concepts):
        if not isinstance(concept, str):
            raise TypeError(
                f"{what} entry {i} is {type(concept).__name__} {concept!r}, not a string"
            )
    return concepts


def _embed_plan(n_concepts: int, batch_size: int | None) -> list[np.ndarray]:
    """Row indices of the vocabulary for each ``embed_text`` call, in call order.

    With ``batch_size=None`` and at least ``_PROBE_MIN_CONCEPTS`` concepts, the first
    call is the timing sample (``_PROBE_SIZE`` evenly spaced rows) and the rest is
    dealt into blocks of at most ``_BLOCK_SIZE`` rows, each taking every k-th
    remaining row; otherwise the calls take consecutive rows.
    """
    if batch_size is not None and batch_size < n_concepts:
        return [
            np.arange(i, min(i + batch_size, n_concepts)) for i in range(0, n_concepts, batch_size)
        ]
    if batch_size is not None or n_concepts < _PROBE_MIN_CONCEPTS:
        return [np.arange(n_concepts)]
    sample = np.arange(_PROBE_SIZE) * n_concepts // _PROBE_SIZE
    rest = np.ones(n_concepts, dtype=bool)
    rest[sample] = False
    remaining = np.flatnonzero(rest)
    n_blocks = -(-remaining.size // _BLOCK_SIZE)
    return [sample] + [remaining[k::n_blocks] for k in range(n_blocks)]


def _embed(
    embedder: Any,
    concepts: list[str],
    batch_size: int | None,
    cache_path: Path | None = None,
    cache_key: str | None = None,
) -> np.ndarray:
    plan = _embed_plan(len(concepts), batch_size)
    timed = batch_size is None and len(plan) > 1
    if timed:
        # The sample's first concept goes alone, untimed: it loads the model and runs
        # its first forward pass, which would otherwise count in the estimate (with a
        # tiny CLIP model loaded cold, the estimate was 5 times the time taken).
        plan = [plan[0][:1], plan[0][1:], *plan[1:]]
    blocks = None
    if cache_path is not None and cache_key is not None and len(_resume_groups(plan)) > 1:
        # (a vocabulary of one block is kept by the cache file, written right after it)
        blocks = _Blocks(
            partial_folder(cache_path),
            cache_path,
            _disk_key(cache_key, concepts),
            _embedder_settings(embedder, batch_size),
            concepts,
            plan,
        )
    where = (
        f"cached in {cache_path}"
        if cache_path is not None
        else "kept in memory for this process only (no disk cache)"
    )
    raw, reused = _read_finished(blocks, len(concepts))
    done = sum(len(block) for block in reused.values())
    with_what = _embedder_said(embedder, cache_key)
    if reused:
        assert blocks is not None
        # (said instead of "not cached yet", which came just before it)
        logger.info(
            "resuming: %d of %d blocks already embedded (%d of %d concepts) in %s; "
            "embedding the other %d concepts with %s; the result will be %s",
            len(reused),
            len(blocks),
            done,
            len(concepts),
            blocks.folder,
            len(concepts) - done,
            with_what,
            where,
        )
    else:
        logger.info(
            "embedding %s with %s, not cached yet; the result will be %s",
            plural(len(concepts), "concept"),
            with_what,
            where,
        )
    # One bar for the whole vocabulary where the embedder shows bars (its ``verbose``):
    # the bars of its calls (the sample, then each block) count into it. Also where the
    # messages above are shown (a SpliceTransformer's ``verbose``), whose progress was
    # missing for embedders without bars of their own (a sentence-transformers model:
    # nothing between the estimate and the end), counted a call at a time there.
    # A resumed run's bar starts at the concepts already embedded, and its rate counts
    # only those embedded by this run (tqdm's ``initial``).
    verbose = bool(getattr(embedder, "verbose", False)) or logger.isEnabledFor(logging.INFO)
    bar = progress(
        len(concepts),
        desc="embedding concepts",
        unit="concept",
        disable=not verbose,
        initial=done,
    )
    with bar, counted_by(bar) if verbose else contextlib.nullcontext():
        raw = _embed_calls(embedder, concepts, plan, timed, bar, blocks, raw, reused)
    check_finite_rows(raw, f"the output of {type(embedder).__name__}.embed_text", concepts)
    return raw


#: An embedding that is stopped keeps its finished blocks for the next run to resume
#: from: consecutive ``embed_text`` calls grouped into blocks of at least this many
#: concepts (the timing sample and each block of ``_BLOCK_SIZE`` with the default
#: batching, 512 concepts a block with a given ``batch_size``).
_RESUME_BLOCK_MIN = 512


def partial_folder(cache_path: Path) -> Path:
    """The folder beside the cache file ``cache_path`` that keeps the finished blocks
    of an embedding that was stopped: ``<name>.partial`` for ``<name>.npz``."""
    return cache_path.with_name(cache_path.stem + ".partial")


def kept_blocks(
    embedder: Any, concepts: Sequence[str], cache_dir: str | os.PathLike[str] | None = None
) -> int:
    """How many finished blocks a stopped embedding of ``concepts`` by ``embedder`` left
    for the next one to resume from (files in its ``.partial`` folder, whether or not
    they turn out to be of the same calls); 0 where none, or where the embedder has no
    cache key."""
    cache_key = _key_of(embedder)
    if cache_key is None:
        return 0
    try:
        folder = partial_folder(dictionary_cache_path(cache_key, concepts, cache_dir))
        return sum(1 for _ in folder.glob("block-*.npz"))
    except OSError:
        return 0


def partial_dictionary_key(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], int, int]:
    """What the ``.partial`` folder of a stopped embedding holds: the key of the
    dictionary it embeds (``embedder``, ``size``, ``vocabulary`` digest, as
    :func:`cached_dictionary_key`), read from the headers of its blocks, the number of
    its finished blocks (those whose header can be read, of that dictionary) and the
    number of blocks of the whole embedding.

    Raises
    ------
    ValueError
        If no block of the folder can be read.
    """
    blocks = sorted(Path(folder).glob("block-*.npz"))
    found: list[tuple[str, int]] = []
    for path in blocks:
        try:
            with zipfile.ZipFile(path) as archive:
                header = _npz_header(archive)
            found.append((str(header["dictionary"]), int(header["n_blocks"])))
        except Exception:  # (a damaged block, or one of another layout: not counted)
            continue
    for text, n_blocks in found:
        try:
            key = json.loads(text)
        except ValueError:
            continue
        if isinstance(key, dict):
            done = sum(1 for other in found if other == (text, n_blocks))
            return key, done, n_blocks
    raise ValueError(f"none of the {len(blocks)} blocks of {folder} can be read")


def _resume_groups(plan: list[np.ndarray]) -> list[list[int]]:
    """The calls of ``plan`` (their numbers) grouped into blocks kept one file each.

    Consecutive calls make a block once they hold ``_RESUME_BLOCK_MIN`` concepts; a
    smaller last group joins the block before it.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for number, rows in enumerate(plan):
        current.append(number)
        size += len(rows)
        if size >= _RESUME_BLOCK_MIN:
            groups.append(current)
            current, size = [], 0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def _embedder_settings(embedder: Any, batch_size: int | None) -> dict[str, Any]:
    """What, beside the cache key, can change an embedding in its last digits: the
    calls made (``batch_size``), the embedder's device and its own batch size."""
    settings: dict[str, Any] = {"batch_size": batch_size}
    device = getattr(embedder, "device", None)
    if device is not None:
        try:
            from ._device import resolve_device

            settings["device"] = resolve_device(device)
        except Exception:  # (checked by the embedder when it runs)
            settings["device"] = str(device)
    own = getattr(embedder, "batch_size", None)
    if isinstance(own, int | np.integer) and not isinstance(own, bool):
        settings["embedder_batch_size"] = int(own)
    return settings


#: The settings of :func:`_embedder_settings` as messages say them (None: not set).
_SETTING_WORDS: dict[str, Callable[[Any], str]] = {
    "batch_size": lambda v: "in calls of the default size" if v is None else f"{v} concepts a call",
    "device": lambda v: "on the default device" if v is None else f"on {v}",
    "embedder_batch_size": lambda v: (
        "in batches of the default size" if v is None else f"in batches of {v}"
    ),
}


def _settings_text(then: Any, now: dict[str, Any]) -> tuple[str, str]:
    """The settings that differ between a finished block (``then``) and this run, in
    words: ``("in batches of 64", "in batches of 32")`` (the dicts themselves read as
    Python, and a command line's --batch-size is the embedder's batch size)."""
    if not isinstance(then, dict):
        return "with settings that are not recorded", "with its own"
    differ = [k for k in sorted(set(then) | set(now)) if then.get(k) != now.get(k)]

    def said(settings: dict[str, Any]) -> str:
        return ", ".join(
            _SETTING_WORDS.get(k, lambda v, k=k: f"{k} {v}")(settings.get(k)) for k in differ
        )

    return said(then), said(now)


class _OtherSettings(ValueError):
    """A finished block embedded by the same model with other settings (a device, a
    batch size): embedded again, said at INFO level rather than warned about."""


#: This machine and this process's run of Python, as claims on blocks name them.
_HOST = socket.gethostname()
_RUN = os.urandom(8).hex()
#: The claim files this process holds (a thread of it embedding their blocks).
_live_claims: set[str] = set()
_claims_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, time) of the file ``path``; None where there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns) if S_ISREG(found.st_mode) else None


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (not asked on Windows, where signal
    0 is Ctrl-C: a claim there is judged by its age)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # (a process of another user)
    return True


class _Blocks:
    """The finished blocks of one embedding, one file each in a ``.partial`` folder.

    ``block-NNNN-of-MMMM.npz`` holds the embeddings of the concepts of the calls of
    block ``NNNN`` (:func:`_resume_groups`), in call order, with a header naming the
    dictionary (cache key, vocabulary hash and size), the block, the settings of
    :func:`_embedder_settings` and digests of the block's rows and texts; a block
    is reused only when all of them match and its array passes the checks of a
    cache file. Each is written atomically, so two processes embedding the same
    vocabulary at once never read a half-written block, and each takes up the
    blocks the other has finished.
    """

    def __init__(
        self,
        folder: Path,
        final: Path,
        dictionary_key: str,
        settings: dict[str, Any],
        concepts: list[str],
        plan: list[np.ndarray],
    ) -> None:
        self.folder = folder
        self.final = final
        self.groups = _resume_groups(plan)
        self.rows = [np.concatenate([plan[n] for n in group]) for group in self.groups]
        self.dictionary_key = dictionary_key
        self.settings = settings
        self.concepts = concepts
        self.writable = True
        self.kept: set[int] = set()  # (blocks on disk: reused, or written by this run)
        self.tried: set[int] = set()  # (blocks found on disk, usable or not)
        self.claimed: set[int] = set()  # (blocks this run is embedding: see claim)
        self._renewer: threading.Thread | None = None
        self._stop_renewing = threading.Event()
        self._lock = threading.Lock()  # (claimed: changed here, read by the renewer)
        # The cache file as it was when the embedding started (an unusable one that is
        # being replaced): only another one is taken as another process's result.
        self._final_seen = _identity(final)
        self.started = time.time()

    def __len__(self) -> int:
        return len(self.groups)

    def path(self, block: int) -> Path:
        width = max(4, len(str(len(self))))
        return self.folder / f"block-{block:0{width}d}-of-{len(self):0{width}d}.npz"

    def _fields(self, block: int) -> dict[str, Any]:
        rows = self.rows[block]
        return {
            "dictionary": self.dictionary_key,
            "block": block,
            "n_blocks": len(self),
            "settings": self.settings,
            "rows": hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest(),
            "texts": vocabulary_hash([self.concepts[i] for i in rows]),
        }

    def read(self, block: int, n_features: int | None) -> np.ndarray | None:
        """The embeddings of a finished block, or None (none kept, or unusable: said)."""
        path = self.path(block)
        if not path.is_file():
            return None
        self.tried.add(block)
        expected = self._fields(block)

        def check(header: dict[str, Any]) -> None:
            if header.get("dictionary") != expected["dictionary"]:
                # (the rest of a vocabulary after a cached beginning, then the whole of it)
                raise _OtherSettings("it is a block of another list of concepts")
            for field in ("block", "n_blocks", "rows", "texts"):
                if header.get(field) != expected[field]:
                    raise ValueError(f"its {field} does not match this embedding's")
            if header.get("settings") != self.settings:
                then, now = _settings_text(header.get("settings"), self.settings)
                raise _OtherSettings(f"it was embedded {then}, this run {now}")

        try:
            out = _read_npz(path, check, len(self.rows[block]), n_features)
        except _OtherSettings as exc:
            logger.info("not reusing the finished block %s (%s); embedding it again", path, exc)
            return None
        except Exception as exc:  # a damaged or foreign file: embedded again, replaced
            warn_user(
                f"the finished block {path} of an earlier embedding cannot be used ({exc}); "
                "embedding its concepts again",
                DictionaryCacheWarning,
            )
            return None
        self.kept.add(block)
        return out

    def claim_path(self, block: int) -> Path:
        return self.path(block).with_suffix(".claim")

    def claim(self, block: int) -> bool:
        """Claim ``block`` for this run; False while another live process (or thread)
        holds it, which is embedding it.

        A claim is a file beside the blocks, made exclusively, naming the process and
        its machine: two processes that embed the same vocabulary at once (the fits of
        a search with ``n_jobs=2``) share its blocks instead of each embedding all of
        them. A claim whose process has ended (on this machine), or that has not been
        renewed for ``_CLAIM_STALE`` seconds, is taken over. Where no claim can be
        made (a folder that takes no file), the block is this run's to embed.
        """
        if not self.writable:
            return True
        path = self.claim_path(block)
        owner = json.dumps({"pid": os.getpid(), "host": _HOST, "run": _RUN})
        for _ in range(3):
            # (made and named live under the lock: a thread of this process that finds
            # the file is told by _stale that it is live, not a claim of this process
            # that no thread holds any more, which it would take over and embed again)
            with _claims_lock:
                made = self._make_claim(path, owner)
                if made:
                    _live_claims.add(str(path))
            if made is None:
                stale = self._stale(path)
                if stale is None:
                    return False
                # (taken over only if it is still the claim judged stale: another
                # process that took it over first made a new one)
                with contextlib.suppress(OSError):
                    current = path.stat()
                    if (current.st_ino, current.st_mtime_ns) == stale:
                        path.unlink()
                continue
            if not made:
                return True  # (no claim: this run embeds it, as without claims)
            with self._lock:
                self.claimed.add(block)
            self._keep_renewing()
            return True
        return True

    def _make_claim(self, path: Path, owner: str) -> bool | None:
        """Make the claim file ``path`` naming ``owner``: True where it is made, None where
        one exists, False where none can be made (a folder that takes no file, a full
        disk: none is left half-written)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        except OSError:
            return False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(owner)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        return True

    def _keep_renewing(self) -> None:
        """Renew this run's claims every ``_CLAIM_RENEW`` seconds, from a thread, while
        it holds any (an embedder's call on a block may take minutes)."""
        if self._renewer is not None and self._renewer.is_alive():
            return

        def renew_while_claimed() -> None:
            while not self._stop_renewing.wait(_CLAIM_RENEW):
                self.renew()

        self._stop_renewing.clear()
        self._renewer = threading.Thread(
            target=renew_while_claimed, name="sksplice-block-claims", daemon=True
        )
        self._renewer.start()

    def _stale(self, path: Path) -> tuple[int, int] | None:
        """The identity (inode, time) of the claim file ``path`` where no live process
        holds it; None while one does."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return (-1, -1)  # (released meanwhile: nothing to remove)
        except OSError:
            return None
        identity = (stat.st_ino, stat.st_mtime_ns)
        try:
            owner = json.loads(path.read_text(encoding="utf-8") or "{}")
        except FileNotFoundError:
            return (-1, -1)
        except (OSError, ValueError):
            owner = {}  # (being written, or damaged: judged by its age)
        if not isinstance(owner, dict):
            owner = {}
        pid = owner.get("pid")
        if owner.get("host") == _HOST and isinstance(pid, int) and os.name != "nt":
            if pid == os.getpid():
                # (a claim of this process: live while a thread of it holds it)
                if owner.get("run") == _RUN:
                    with _claims_lock:
                        return identity if str(path) not in _live_claims else None
                return identity  # (a process of that number that ended, its number reused)
            if not _process_alive(pid):
                return identity
        # (renewed by its process every _CLAIM_RENEW seconds while it runs)
        return identity if time.time() - stat.st_mtime > _CLAIM_STALE else None

    def renew(self) -> None:
        """Renew this run's claims (their files' time), so that they are not taken for
        those of a process that is gone."""
        with self._lock:
            claimed = list(self.claimed)
        for block in claimed:
            with contextlib.suppress(OSError):
                os.utime(self.claim_path(block))

    def release(self, block: int) -> None:
        """Give up the claim on ``block`` (embedded and kept, or stopped)."""
        with self._lock:
            if block not in self.claimed:
                return
            self.claimed.discard(block)
            if not self.claimed:
                self._stop_renewing.set()  # (the thread ends now, not at its next turn)
        path = self.claim_path(block)
        with _claims_lock:
            _live_claims.discard(str(path))
        with contextlib.suppress(OSError):
            path.unlink()

    def release_all(self) -> None:
        with self._lock:
            claimed = list(self.claimed)
        for block in claimed:
            self.release(block)
        self._stop_renewing.set()

    def read_final(self, n_features: int | None) -> np.ndarray | None:
        """The whole dictionary, where another process wrote its cache file since the
        embedding started (and removed the blocks); None if there is none, or it
        cannot be used (a file is read once: looked at again only once it changes)."""
        identity = _identity(self.final)
        if identity is None or identity == self._final_seen:
            return None
        self._final_seen = identity
        try:
            return _read_cache_file(self.final, self.dictionary_key, len(self.concepts), n_features)
        except Exception:  # (being replaced, or damaged: the blocks are embedded here)
            return None

    def write(self, block: int, embeddings: np.ndarray) -> None:
        """Keep a finished block (atomically); a block that cannot be written is said
        once, and the embedding goes on without keeping blocks."""
        if not self.writable:
            return
        path = self.path(block)
        try:
            remove_stale_temporaries(path, self.started)
            _write_npz(path, self._fields(block), np.ascontiguousarray(embeddings, np.float32))
        except OSError as exc:
            self.writable = False
            self.release_all()  # (no block is kept: the others embed theirs themselves)
            with contextlib.suppress(OSError):  # (made for this block: an empty folder)
                self.folder.rmdir()
            if self.final.exists():  # (another process finished the dictionary meanwhile)
                return
            kept = (
                f"the {plural(len(self.kept), 'block')} kept before "
                f"{'is' if len(self.kept) == 1 else 'are'} left there for a run that resumes "
                "it, and the others are embedded again if it is stopped"
                if self.kept
                else "if it is stopped, the next run starts it again from the beginning"
            )
            warn_user(
                f"cannot keep the finished blocks of this embedding in {self.folder} "
                f"({exc}); {kept}",
                DictionaryCacheWarning,
            )
            return
        self.kept.add(block)


def _read_block(
    blocks: _Blocks, block: int, raw: np.ndarray | None, n_concepts: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Block ``block`` of ``blocks`` if it is finished, read into its rows of ``raw``
    (the vocabulary's array, made at the first block read): ``(raw, block's rows)``,
    the rows None where it is not finished."""
    found = blocks.read(block, None if raw is None else raw.shape[1])
    if found is not None:
        if raw is None:
            raw = np.empty((n_concepts, found.shape[1]), dtype=np.float32)
        raw[blocks.rows[block]] = found
    return raw, found


def _embedder_said(embedder: Any, cache_key: str | None) -> str:
    """The embedder of a vocabulary in a user's words (``ViT-B-32 (laion2b_s34b_b79k)``
    of a CLIPEmbedder, not its cache key's config digest and releases), else its cache
    key, else its class."""
    said = getattr(embedder, "_weights_said", None)
    if callable(said):
        try:
            return str(said())
        except Exception:  # (a subclass's, or settings that fail later, said there)
            pass
    return cache_key or type(embedder).__name__


def _read_finished(
    blocks: _Blocks | None, n_concepts: int
) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
    """The blocks of ``blocks`` that an earlier run finished, read by
    :func:`_read_block`: the vocabulary's array (None where none was found) and
    the blocks found, by number."""
    raw: np.ndarray | None = None
    reused: dict[int, np.ndarray] = {}
    if blocks is None:
        return raw, reused
    for block in range(len(blocks)):
        raw, found = _read_block(blocks, block, raw, n_concepts)
        if found is not None:
            reused[block] = found
    return raw, reused


def _embed_calls(
    embedder: Any,
    concepts: list[str],
    plan: list[np.ndarray],
    timed: bool,
    bar: Any,
    blocks: _Blocks | None = None,
    raw: np.ndarray | None = None,
    reused: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """The embedding calls of :func:`_embed` (``plan``), with their log lines.

    With ``blocks``, the calls go a block at a time: the blocks finished by an
    earlier run (``reused``, read into ``raw`` by :func:`_read_finished`) or by
    another process meanwhile are read instead of embedded, and each block
    embedded is kept before the next one starts.
    """
    reused = {} if reused is None else reused
    groups = blocks.groups if blocks is not None else [list(range(len(plan)))]

    def read_block(block: int) -> np.ndarray | None:
        """A finished block read into ``raw`` (None when there is none to use)."""
        nonlocal raw
        assert blocks is not None
        raw, found = _read_block(blocks, block, raw, len(concepts))
        return found

    # (a resumed run reports its progress, but has no timing sample to estimate from)
    report, timed = timed, timed and not reused
    loop_started = first_started = time.perf_counter()
    last_line = sample_done = first_started
    done = sum(len(block) for block in reused.values())
    done_before = done
    if bar.n < done:
        bar.update(done - bar.n)
    embedded_here = 0  # (concepts embedded by this run, not read from blocks)
    # (the concepts the text tower cut to its context, by their places in the vocabulary)
    cut: list[tuple[list[int], int, str]] = []

    def embed_group(block: int, numbers: list[int]) -> None:
        """Embed the calls ``numbers`` of ``plan`` (block ``block``), and keep the block."""
        nonlocal raw, done, first_started, last_line, sample_done, embedded_here
        for number in numbers:
            rows = plan[number]
            batch = [concepts[i] for i in rows]
            kept: list[tuple[list[int], int, str]] = []
            token = cut_texts_kept.set(kept)
            try:
                out = np.asarray(embedder.embed_text(batch))
            finally:
                cut_texts_kept.reset(token)
            for positions, context_length, model in kept:  # (said once, at the end)
                cut.append(([rows[i] for i in positions], context_length, model))
            if out.ndim != 2 or out.shape[0] != len(batch):
                raise ValueError(
                    f"{type(embedder).__name__}.embed_text returned shape {out.shape} for "
                    f"{len(batch)} texts; expected ({len(batch)}, d)"
                )
            if raw is None:
                raw = np.empty((len(concepts), out.shape[1]), dtype=np.float32)
            elif out.shape[1] != raw.shape[1]:
                raise ValueError(
                    f"{type(embedder).__name__}.embed_text returned embeddings of width "
                    f"{out.shape[1]} for {len(batch)} texts after width {raw.shape[1]} for "
                    "earlier texts of the same vocabulary; it must return one width"
                )
            raw[rows] = out
            done += len(batch)
            embedded_here += len(batch)
            if bar.n < done:  # (an embedder whose calls show no sksplice bar)
                bar.update(done - bar.n)
            now = time.perf_counter()
            if timed and number == 0:
                first_started = now  # (the warm-up call is not timed)
                continue
            elapsed = max(now - first_started, 1e-9)
            remaining = len(concepts) - done
            if not report:
                continue
            if timed and number == 1:
                timed_done = len(batch)
                logger.info(
                    "embedded %d concepts spread over the vocabulary in %.1f s "
                    "(%.0f concepts/s): about %.0f s for the remaining %d",
                    done,
                    elapsed,
                    timed_done / elapsed,
                    remaining * elapsed / timed_done,
                    remaining,
                )
                last_line = sample_done = now
            elif remaining and now - last_line >= _PROGRESS_INTERVAL:
                if timed:
                    # (the rate of the blocks, which are alike, without the smaller sample's)
                    rate_done = done - len(plan[0]) - len(plan[1])
                    rate_time = max(now - sample_done, 1e-9)
                else:
                    # (the rate of this run, the model's loading included)
                    rate_done, rate_time = done - done_before, now - loop_started
                logger.info(
                    "embedded %d of %d concepts (%.0f%%) in %.1f s: about %.0f s left",
                    done,
                    len(concepts),
                    100.0 * done / len(concepts),
                    now - loop_started,
                    remaining * rate_time / max(rate_done, 1),
                )
                last_line = now
        if blocks is not None:
            assert raw is not None
            blocks.write(block, raw[blocks.rows[block]])
            blocks.release(block)

    def found_elsewhere(block: int) -> bool:
        """Whether another process finished ``block`` (read into ``raw``)."""
        nonlocal done
        found = read_block(block)
        if found is None:
            return False
        done += len(found)
        if bar.n < done:
            bar.update(done - bar.n)
        return True

    try:
        # Blocks another process is embedding (claimed) are left to it, and waited for
        # once this run has embedded all the others.
        waiting: list[int] = []
        finished = None
        for block, numbers in enumerate(groups):
            if block in reused:
                continue
            if blocks is not None:
                # (finished meanwhile by another process embedding the same vocabulary)
                existed = blocks.path(block).is_file()
                if block not in blocks.tried and found_elsewhere(block):
                    continue
                finished = blocks.read_final(None if raw is None else raw.shape[1])
                if finished is not None:  # (all of it, by another process)
                    break
                if not blocks.claim(block):
                    waiting.append(block)
                    if block == 0:
                        timed = False  # (the timing sample is the other process's)
                    continue
                if not existed and blocks.path(block).is_file() and found_elsewhere(block):
                    blocks.release(block)  # (finished just before the claim)
                    continue
            embed_group(block, numbers)
        if waiting:
            assert blocks is not None
            logger.info(
                "waiting for %s of the vocabulary that another process is embedding (%s)",
                plural(len(waiting), "block"),
                blocks.folder,
            )
        while waiting and finished is None:
            assert blocks is not None
            finished = blocks.read_final(None if raw is None else raw.shape[1])
            if finished is not None:  # (the other process finished it all, blocks removed)
                break
            for block in list(waiting):
                if found_elsewhere(block):
                    waiting.remove(block)
                elif blocks.claim(block):  # (its process stopped: embedded here)
                    waiting.remove(block)
                    if not found_elsewhere(block):
                        embed_group(block, groups[block])
                    else:
                        blocks.release(block)
            if waiting:
                time.sleep(_CLAIM_POLL)
        if finished is not None:
            raw = np.array(finished, dtype=np.float32)
            done = len(concepts)
            if bar.n < done:
                bar.update(done - bar.n)
    except BaseException as exc:
        if blocks is not None:
            blocks.release_all()
        if blocks is not None and blocks.kept:
            # (stopped, or out of disk or memory: running again resumes; an error of the
            # embedder's own comes again until it is fixed)
            interrupted = isinstance(exc, KeyboardInterrupt | SystemExit | OSError | MemoryError)
            # (in concepts, as the resuming run counts them: the bar counts the concepts
            # of the block being embedded too, which is not kept)
            stopped = (
                f"stopped: {sum(len(blocks.rows[b]) for b in blocks.kept)} of {len(concepts)} "
                f"concepts kept ({len(blocks.kept)} of {len(blocks)} blocks) in "
                f"{blocks.folder}; "
                + (
                    "run again to resume"
                    if interrupted
                    else f"a run after the {type(exc).__name__} is fixed resumes from them"
                )
            )
            if isinstance(exc, KeyboardInterrupt):
                # Said by the interruption itself, from here, and only there: its
                # traceback ran through the embedder's model (46 frames of torch and
                # transformers, a line logged above them out of sight in a notebook).
                # The same object, which callers mark (the signal of the command line,
                # the rows embedded); the command line says it in its own words.
                exc.args = (stopped,)
                exc._sksplice_stopped = stopped  # type: ignore[attr-defined]
                raise exc.with_traceback(None) from None
            logger.warning("%s", stopped)
        elif blocks is not None:  # (stopped in its first block: no folder of nothing left)
            with contextlib.suppress(OSError):
                blocks.folder.rmdir()
        raise
    now = time.perf_counter()
    bar.close()  # (its last line before the summary's, on a file or pipe too)
    shared = done - done_before - embedded_here  # (blocks another process embedded)
    if report and shared:
        logger.info(
            "embedded %d of the %d concepts in %.1f s; another process embedded the other %d",
            embedded_here,
            len(concepts) - done_before,  # (those not resumed from an earlier run)
            now - loop_started,
            shared,
        )
    elif report:
        total, first = now - loop_started, first_started - loop_started
        # (the concepts of the warm-up call, plan[0], where it was made and timed)
        embedded_first = len(plan[0]) if first > 0 else 0
        said = (
            "embedded all %d concepts in %.1f s"
            if not reused
            else "embedded the other %d concepts in %.1f s"
        )
        rest = done - done_before - embedded_first
        rate = rest / max(now - first_started, 1e-9)
        if embedded_first and rest and embedded_first / max(first, 1e-9) < rate / 2:
            # (a first call that loaded the model, at less than half the rate of the calls
            # after it: their rate, as the estimate gave it, not a tenth of it)
            logger.info(
                said + " (%.0f concepts/s after the first call, which set up the model and "
                "took %.1f s)",
                done - done_before,
                total,
                rate,
                first,
            )
        else:
            logger.info(
                said + " (%.0f concepts/s)",
                done - done_before,
                total,
                (done - done_before) / max(total, 1e-9),
            )
    if cut:
        from .embedders import _cut_texts_warning

        positions = sorted(i for found, _, _ in cut for i in found)
        warn_user(_cut_texts_warning(concepts, positions, cut[0][1], cut[0][2], "concepts"))
    assert raw is not None  # (the vocabulary is not empty)
    return raw


#: Sizes at which :func:`~sksplice.dictionary.embed_vocabulary` looks for a cached
#: beginning of a longer list, besides the list's own length, the sizes asked for in
#: this process and those of the files in the cache folder: the sizes a sweep over
#: ``vocabulary_size`` is likely to take.
PREFIX_SIZES = (1000, 2000, 3000, 5000, 10000, 15000, 20000, 30000)

# Sizes of beginnings of a longer list asked for in this process, by (cache key, list),
# for embedders with a cache key (the most recently used lists only).
_prefix_sizes_seen: LRUCache[tuple, set[int]] = LRUCache(maxsize=64)


def _sizes_on_disk(cache_key: str | None, cache_dir: Any) -> set[int]:
    """The sizes of the lists cached on disk under a name of ``cache_key``: where a
    beginning of a longer list may be cached at a size that is not among
    :data:`PREFIX_SIZES` (2,048 concepts, cached by another process). Each size is a
    candidate only: :func:`_cached_array` reads a file of the list's own name and key."""
    if cache_key is None:
        return set()
    sizes: set[int] = set()
    try:
        stem = dictionary_cache_path(cache_key, ["-"], cache_dir).name.rsplit("-", 2)[0]
        folder = get_cache_dir(cache_dir) / "dictionaries"
        for path in folder.glob(f"{glob.escape(stem)}-*-*.npz"):
            size = path.name[len(stem) + 1 :].split("-", 1)[0]
            if size.isdigit():
                sizes.add(int(size))
    except (OSError, ValueError):  # (no usable cache folder, or one that cannot be listed)
        return set()
    return sizes


def _cached_array(
    embedder: Any,
    cache_key: str | None,
    concepts: list[str],
    cache_dir: Any,
    disk_cache: bool,
    n_features: int | None,
) -> np.ndarray | None:
    """The embeddings of ``concepts`` if they are cached in process or on disk (a file
    that cannot be used counts as none: :func:`embed_vocabulary` of that list rebuilds it)."""
    hit = _memory_get(_memory_key(embedder, cache_key, concepts))
    if hit is not None or cache_key is None or not disk_cache:
        return hit
    try:
        path = dictionary_cache_path(cache_key, concepts, cache_dir)
        if not path.exists():
            return None
        return _read_cache_file(path, _disk_key(cache_key, concepts), len(concepts), n_features)
    except Exception:  # (no usable cache folder or file)
        return None


def _from_cached_prefix(
    embedder: Any,
    cache_key: str | None,
    concepts: list[str],
    full: list[str],
    cache_dir: Any,
    disk_cache: bool,
    n_features: int | None,
    embed: Callable[[list[str]], np.ndarray],
) -> tuple[np.ndarray | None, bool]:
    """The embeddings of ``concepts``, the first ones of ``full``, from a cached beginning
    of ``full``: cut from a longer one (then True), or a shorter one with the rest
    embedded now by ``embed`` (False); (None, False) when no beginning of ``full`` is
    cached."""
    k = len(concepts)
    if len(full) < k or full[:k] != concepts:
        return None, False
    seen: set[int] = set()
    if cache_key is not None:  # (no entry holds an embedder object)
        ident = (cache_key, vocabulary_hash(full), len(full))
        with _memory_lock:
            seen = _prefix_sizes_seen.setdefault(ident, set())
            sizes_seen = set(seen)
            seen.add(k)
        seen = sizes_seen
    on_disk = _sizes_on_disk(cache_key, cache_dir) if disk_cache else set()
    sizes = sorted({*PREFIX_SIZES, *seen, *on_disk, len(full)} - {k})
    for j in (j for j in sizes if k < j <= len(full)):
        found = _cached_array(embedder, cache_key, full[:j], cache_dir, disk_cache, n_features)
        if found is not None:
            logger.info(
                "concept dictionary: %d concepts, the first of %d cached ones", k, found.shape[0]
            )
            return found[:k], True
    for j in reversed([j for j in sizes if j < k]):
        found = _cached_array(embedder, cache_key, full[:j], cache_dir, disk_cache, n_features)
        if found is not None:
            logger.info(
                "concept dictionary: the first %d of the %d concepts are cached; embedding "
                "the other %d",
                j,
                k,
                k - j,
            )
            rest = embed(concepts[j:])
            if rest.shape[1] != found.shape[1]:
                raise ValueError(
                    f"{type(embedder).__name__}.embed_text returned embeddings of width "
                    f"{rest.shape[1]} after width {found.shape[1]} for the cached concepts "
                    "of the same vocabulary; it must return one width"
                )
            return np.concatenate([found, rest]), False
    return None, False


def _unsearchable(path: Path, n_concepts: int) -> bool:
    """Whether the folder of the cache file ``path`` cannot be searched (another user's,
    of mode 700), warned about: nothing can be read from it or written to it, and the
    ``n_concepts`` are embedded in memory."""
    reason = unsearchable_reason(path)
    if reason is None:
        return False
    warn_user(
        f"the concept dictionary cache {path} cannot be read ({reason}): the "
        f"{n_concepts} concepts are embedded now and kept in memory for this process only "
        "(pass a cache_dir you can read and write to keep them for later runs)",
        DictionaryCacheWarning,
    )
    return True


def embed_vocabulary(
    embedder: Any,
    concepts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    disk_cache: bool = True,
    n_features: int | None = None,
    prefix_of: Sequence[str] | None = None,
) -> np.ndarray:
    """Raw text embeddings of a vocabulary, computed once and cached.

    Parameters
    ----------
    embedder : object
        Anything with ``embed_text(list[str]) -> (n, d)`` array. If it also has
        ``cache_key() -> str`` identifying model and weights, the result is cached
        on disk (under ``cache_dir``) and in process under that key; otherwise
        (no ``cache_key``, or one that returns None) it is cached in process
        only, for as long as the embedder object lives.
    concepts : sequence of str
        The vocabulary, in order.
    cache_dir : str, path-like or None, default=None
        Cache folder of the disk cache (``None``: ``$SKSPLICE_CACHE``, else the
        per-user cache folder).
    batch_size : int or None, default=None
        Number of concepts per ``embed_text`` call; ``None`` lets the embedder
        batch internally: the whole vocabulary in one call, or, from 2,048
        concepts on, 512 concepts evenly spaced over the vocabulary and then
        the rest in blocks of at most 4,096 concepts, so that the time of the
        first call estimates the time of the rest and progress can be reported
        between blocks (logged at INFO level by the ``sksplice.dictionary``
        logger, with the number of concepts and where the result is cached,
        before the vocabulary is embedded). Rows are returned in vocabulary
        order whatever the calls.
    disk_cache : bool, default=True
        Whether to read and write the on-disk cache (when the embedder has a
        ``cache_key``). With it, the finished blocks of an embedding of more than
        one block (2,048 concepts or more with ``batch_size=None``; calls making
        two blocks of 512 concepts or more otherwise) are kept in a ``.partial``
        folder beside the cache file until it is written, so that a run that is
        stopped resumes from them
        (only for the same cache key, vocabulary, ``batch_size`` and the
        embedder's ``device`` and ``batch_size``): a ``KeyboardInterrupt`` says
        ``stopped: K of N concepts kept (B of M blocks) in <folder>; run again to
        resume`` (other errors: the ``sksplice.dictionary`` logger), and the next
        run logs ``resuming: B of M blocks already embedded``.
    n_features : int or None, default=None
        Expected embedding width ``d``: a cache file of another width is rebuilt.
        When None, the embedder's ``embedding_dim_`` is used if it has one,
        else any width up to 16384 is accepted from the cache.
    prefix_of : sequence of str or None, default=None
        A longer list that ``concepts`` begins (a named vocabulary or a file
        cut to a size). When ``concepts`` are not cached, a cached longer
        beginning of that list (of a size cached in the cache folder, of
        ``PREFIX_SIZES`` concepts, or of another size cached in this process)
        is read and cut, or a cached
        shorter one is read and only the concepts after it are embedded: a
        sweep over vocabulary sizes embeds each concept once.

    Returns
    -------
    ndarray of shape (n_concepts, d), float32
        Raw concept embeddings in vocabulary order. The returned array is shared
        with the cache and marked read-only; copy it before modifying it.

    Raises
    ------
    TypeError
        If ``embedder`` has no ``embed_text`` method or a concept is not a string.
    ValueError
        If the vocabulary is empty or the embedder returns a wrong shape or
        non-finite values.

    Warns
    -----
    DictionaryCacheWarning
        When a cache file exists but is unreadable or does not match (wrong
        header, digest, dtype, shape, size or non-finite values: it is rebuilt
        and replaced), or cannot be written (the result is then cached in
        process only). The message names the file.
    """
    check_text_embedder(embedder)
    concepts = _validate_concepts(concepts)
    batch_size = check_int(batch_size, "batch_size", allow_none=True)
    if prefix_of is not None:
        prefix_of = _validate_concepts(prefix_of, "prefix_of")

    cache_key: str | None = None
    key_fn = getattr(embedder, "cache_key", None)
    if callable(key_fn):
        key = key_fn()
        cache_key = None if key is None else str(key)

    if cache_key is not None and disk_cache and cache_dir_chosen(cache_dir):
        # A chosen cache folder is checked whatever the memory cache holds: a file in
        # its place is refused as it is when the concepts are not in memory.
        get_cache_dir(cache_dir, create=False)
    mem_key = _memory_key(embedder, cache_key, concepts)
    cached = _memory_get(mem_key)
    if cached is not None:
        return cached

    if n_features is None:
        dim = getattr(embedder, "embedding_dim_", None)
        if isinstance(dim, int | np.integer) and not isinstance(dim, bool) and dim > 0:
            n_features = int(dim)

    raw: np.ndarray | None = None
    path: Path | None = None
    disk_key = ""
    unusable = False  # (a cache file of these concepts exists and cannot be used)
    started = time.time()
    if cache_key is not None and disk_cache:
        try:
            path = dictionary_cache_path(cache_key, concepts, cache_dir)
        except OSError as exc:
            if cache_dir_chosen(cache_dir):
                raise  # (a folder chosen, by argument or environment: its error stands)
            # The default cache folder cannot be made (a read-only home, a file in its
            # place): as for one that takes no file, the run goes on without it.
            reason = str(exc.strerror or exc).rstrip(".")
            warn_user(
                f"{reason}; meanwhile the {len(concepts)} concepts are embedded now and "
                "kept in memory for this process only",
                DictionaryCacheWarning,
            )
        disk_key = _disk_key(cache_key, concepts)
        if path is not None and _unsearchable(path, len(concepts)):
            path = None
        if path is not None and path.exists() and not path.is_file():
            # (a folder of the cache file's name: the result could not be written there,
            # and the blocks of the embedding were left in a .partial folder beside it)
            warn_user(
                f"the concept dictionary cache {path} is not a file (a folder?): the "
                f"{len(concepts)} concepts are embedded now and kept in memory for this "
                "process only; remove it to keep them for later runs",
                DictionaryCacheWarning,
            )
            path = None
        if path is not None and path.exists():
            try:
                raw = _read_cache_file(path, disk_key, len(concepts), n_features)
            except Exception as exc:  # any unreadable file is rebuilt
                unusable = True
                warn_user(
                    f"the cached concept dictionary {path} cannot be used ({exc}); "
                    "embedding the vocabulary again and replacing it",
                    DictionaryCacheWarning,
                )
                raw = None

    unwritable, cache_file = None, path
    if raw is None and path is not None:
        unwritable = unwritable_reason(path.parent)
        if unwritable is not None:
            path = None  # (nothing is written there: neither blocks nor the dictionary)

    def embed(subset: list[str]) -> np.ndarray:
        if unwritable is not None:
            # Said before the embedding (minutes for a large vocabulary), not after it,
            # and only where concepts are embedded (not where a cached dictionary of more
            # concepts is cut)
            not_cached = "" if len(subset) == len(concepts) else " not cached"
            warn_user(
                f"cannot write the concept dictionary cache {cache_file} ({unwritable}): "
                f"the {len(subset)} concepts{not_cached} are embedded now and kept in memory "
                "for this process only (pass a writable cache_dir to keep them for later "
                "runs)",
                DictionaryCacheWarning,
            )
        return _embed(embedder, subset, batch_size, path, cache_key)

    from_file, sliced = raw is not None, False
    if raw is None and prefix_of is not None:
        raw, sliced = _from_cached_prefix(
            embedder,
            cache_key,
            concepts,
            list(prefix_of),
            cache_dir if disk_cache else None,
            disk_cache,
            n_features,
            embed,
        )
    if from_file:
        logger.info("concept dictionary: %d concepts read from the cache %s", len(concepts), path)
        if path is not None:  # (blocks a run stopped after another wrote the file kept)
            shutil.rmtree(partial_folder(path), ignore_errors=True)
    elif not sliced or unusable:  # (a file that cannot be used is replaced, as warned)
        if raw is None:
            raw = embed(concepts)
        if path is not None:
            remove_stale_temporaries(path, started)
            try:
                _write_cache_file(path, disk_key, raw)
            except OSError as exc:  # read-only or full data home: keep it in memory
                warn_user(
                    f"cannot write the concept dictionary cache {path} ({exc}); it is kept "
                    "in memory for this process only",
                    DictionaryCacheWarning,
                )
            else:  # (the finished blocks of this or an earlier run are not needed any more)
                shutil.rmtree(partial_folder(path), ignore_errors=True)

    raw = np.ascontiguousarray(raw, dtype=np.float32)
    raw.setflags(write=False)
    _memory_put(mem_key, raw)
    return raw
