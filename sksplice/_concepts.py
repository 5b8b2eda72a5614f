"""The concepts of a transformer and their embeddings, as the estimator resolves them.

The rules of ``SpliceTransformer.fit`` for its ``vocabulary``,
``vocabulary_size``, ``concept_embeddings`` (one row per concept of the full
vocabulary or of the concepts kept, the spot check of their order) and
``concepts_centered``.
"""

from __future__ import annotations

import logging
import os
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

import numpy as np
import scipy.sparse

from ._array import unit_rows
from ._names import (
    check_concept_names,
    closest_known,
    listed,
    plural,
    unknown_names_hints,
    visible_text,
)
from ._protocols import TextEmbedder, check_text_embedder
from ._validation import check_finite_rows, check_int, tensor_as_array
from .dictionary import embed_vocabulary, is_cached

__all__ = [
    "centred_dictionary",
    "check_alignment",
    "raw_concept_embeddings",
    "resolve_concepts",
]

logger = logging.getLogger(__name__)

#: Number of concepts embedded to check the order of ``concept_embeddings``.
_N_ALIGNMENT_CHECKS = 8
#: Largest deviation from 1 of a row norm of an already centred dictionary.
_UNIT_NORM_RTOL = 1e-3


def centred_dictionary(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Use already centred, unit-norm concept rows as the dictionary as they are."""
    D = np.asarray(raw, dtype=np.float64)
    check_finite_rows(D, "concept_embeddings")
    norms = np.linalg.norm(D, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > _UNIT_NORM_RTOL)
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"concepts_centered=True but concept_embeddings row {row} has norm "
            f"{norms[row]:.6g}: an already centred dictionary (the authors' cached one) has "
            "unit-norm rows; pass raw embeddings with concepts_centered=False instead"
        )
    return D / norms[:, None], np.zeros(D.shape[1])


def check_two_concepts(concepts: list[str], n_full: int | None) -> None:
    """Refuse fewer than two concepts to be centred, before anything is embedded.

    ``n_full`` is the number of entries before ``vocabulary_size`` truncated
    the list (None when unknown).
    """
    if len(concepts) < 2:
        cut = (
            f" (vocabulary_size={len(concepts)} of its {n_full})"
            if n_full is not None and n_full > len(concepts)
            else ""
        )
        raise ValueError(
            f"the vocabulary {concepts!r}{cut} holds one concept; SpLiCE needs at least two "
            "concepts: the dictionary is centred by their mean, which leaves nothing of a "
            "single one (concepts_centered=True takes precomputed embeddings as they are)"
        )
    if len(concepts) == 2:
        from ._stack import warn_user

        warn_user(
            f"the vocabulary {concepts!r} holds two concepts: centred by their mean, their "
            "rows of the dictionary are exact opposites (u and -u), so every row is given "
            "one of them at most, whatever the embeddings; use a larger vocabulary"
        )


def _pandas_column(obj: Any) -> bool:
    """Whether ``obj`` is a pandas Series or Index (ordered, like a list)."""
    import sys

    pd = sys.modules.get("pandas")  # (if pandas is not imported, obj is none of its types)
    return pd is not None and isinstance(obj, pd.Series | pd.Index)


@overload
def resolve_concepts(
    vocab: Any,
    vocabulary_size: int | str | None,
    data_home: Any,
    *,
    count_full: Literal[True] = True,
) -> tuple[list[str], int]: ...
@overload
def resolve_concepts(
    vocab: Any, vocabulary_size: int | str | None, data_home: Any, *, count_full: bool
) -> tuple[list[str], int | None]: ...
def resolve_concepts(
    vocab: Any, vocabulary_size: int | str | None, data_home: Any, *, count_full: bool = True
) -> tuple[list[str], int | None]:
    """The concepts and the number of entries of the full (untruncated) list.

    With ``count_full=False`` the number of entries of the full list is None;
    the concepts and every error are the same. ``vocabulary_size="auto"`` is
    resolved by :func:`sksplice.vocabulary.auto_size`. An integer
    ``vocabulary_size`` larger than the vocabulary (named, a file or a list) is
    a ``ValueError`` that gives its length.
    """
    if isinstance(vocabulary_size, str) and vocabulary_size == "auto":
        from .vocabulary import auto_size

        vocabulary_size = auto_size(vocab)
    vocabulary_size = check_int(vocabulary_size, "vocabulary_size", allow_none=True)
    if isinstance(vocab, str | os.PathLike):
        from .vocabulary import (
            VOCABULARIES,
            load_vocabulary,
            named_size_exceeded,
            size_cut_by_caller,
        )

        n = named_size_exceeded(vocab, vocabulary_size)
        if n is not None:  # (no download to find the size too large)
            raise ValueError(
                f"vocabulary_size={vocabulary_size} is larger than the {plural(n, 'concept')} "
                f"of the {vocab!r} vocabulary; use vocabulary_size=None to keep all of them"
            )
        # (load_vocabulary's rule for the size: the first ones of the full list, which
        # for a named vocabulary, or a copy of one, is most frequent first)
        with size_cut_by_caller(vocabulary_size):  # (warned below, of the size kept)
            items = list(load_vocabulary(vocab, size=None, data_home=data_home))
        if isinstance(vocab, str) and vocab in VOCABULARIES:
            what = f"the {vocab!r} vocabulary"
        else:
            what = f"the vocabulary file {os.fspath(vocab)!r}"
            if vocabulary_size is None or vocabulary_size <= len(items):
                from .vocabulary import _warn_first_lines_of_a_copy

                _warn_first_lines_of_a_copy(
                    Path(os.fspath(vocab)).expanduser(),
                    vocabulary_size,
                    items,
                    data_home=data_home,
                )
    else:
        if isinstance(vocab, bytes | bytearray) or not (
            isinstance(vocab, Sequence | np.ndarray) or _pandas_column(vocab)
        ):
            once = (
                " (an iterator is used up once: give a list)" if isinstance(vocab, Iterator) else ""
            )
            raise TypeError(
                "vocabulary must be a vocabulary name, a path to a text file or a list of "
                "strings (a list, tuple, numpy array, pandas Series or Index); got "
                f"{type(vocab).__name__}{once}"
            )
        items = list(vocab)
        if not items:
            raise ValueError("vocabulary is an empty list; give at least one concept")
        check_concept_names(items, "vocabulary", one_line=True)
        # Surrounding whitespace is stripped, as load_vocabulary does: the concepts name
        # the output columns (each entry keeps its position: rows of concept_embeddings).
        items = [item.strip() for item in items]
        what = "the vocabulary list"
    n_full = len(items)
    if vocabulary_size is not None:
        if vocabulary_size > n_full:
            raise ValueError(
                f"vocabulary_size={vocabulary_size} is larger than the {n_full} concepts of "
                f"{what}; use vocabulary_size=None to keep all of them"
            )
        items = items[:vocabulary_size]
    return items, (n_full if count_full else None)


#: Repeated lines an error names (the rest are counted).
_REPEATED_SHOWN = 3


class _Repeat(NamedTuple):
    """A repeated line of a vocabulary file."""

    row: int  # (its place among the file's non-blank lines, from 0)
    first: int  # (the place of the line it repeats)
    line: int  # (its line number, from 1)
    first_line: int
    concept: str


def _repeated_lines(vocabulary: Any) -> list[_Repeat]:
    """The repeated lines of a vocabulary file (not a published vocabulary's name nor a
    list), in file order; empty for anything else.

    :func:`~sksplice.vocabulary.load_vocabulary` keeps the first of each repeated
    concept (and leaves blank lines out): rows of embeddings made one per line, as a
    user embedding the file would, are then one off after each repeat.
    """
    from .vocabulary import VOCABULARIES, _read_lines

    if not isinstance(vocabulary, str | os.PathLike) or vocabulary in VOCABULARIES:
        return []
    path = Path(os.fspath(vocabulary)).expanduser()
    try:
        with warnings.catch_warnings():  # (its warnings said by load_vocabulary already)
            warnings.simplefilter("ignore")
            lines = _read_lines(path)
    except (OSError, ValueError):  # (read, and refused, by load_vocabulary already)
        return []
    seen: dict[str, tuple[int, int]] = {}
    found: list[_Repeat] = []
    row = 0
    for number, line in enumerate(lines, start=1):
        concept = visible_text(line)
        if not concept:
            continue
        if concept in seen:
            first, first_line = seen[concept]
            found.append(_Repeat(row, first, number, first_line, concept))
        else:
            seen[concept] = (row, number)
        row += 1
    return found


def _repeats_said(repeats: list[_Repeat]) -> str:
    """``line 11 ('c03', as line 4)`` for the first repeated lines, then how many more."""
    return "the file repeats " + listed(
        repeats, _REPEATED_SHOWN, lambda r: f"line {r.line} ({r.concept!r}, as line {r.first_line})"
    )


def _alike(a: str, b: str) -> bool:
    """Whether two concept names may be one text to a tokenizer: equal but for case,
    accents and runs of spaces (``"Dog"`` and ``"dog"``, ``"é"`` and ``"e"``)."""

    def bare(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        kept = "".join(c for c in decomposed if not unicodedata.combining(c))
        return " ".join(kept.casefold().split())

    return bare(a) == bare(b)


def _refuse_rows_of_repeated_lines(
    raw: np.ndarray, vocabulary: Any, repeats: list[_Repeat], concepts: list[str]
) -> None:
    """Refuse ``concept_embeddings`` made one row per line of a vocabulary file that
    repeats a concept: the row of each repeated line (among the rows given) is the
    embedding of the line it repeats, which rows made one per concept are not (their
    row there is another concept's, ``concepts``). The row counts agree where such
    rows are cut at ``vocabulary_size``, and from the first repeat on each concept
    would be given the row of an earlier one, silently. A repeat where the concepts
    of the two rows may be one text to a tokenizer (``"dog"``, ``"Dog"``) says nothing
    either way, and is not counted."""
    inside = [
        r
        for r in repeats
        if r.row < raw.shape[0]
        and not (r.row < len(concepts) and _alike(concepts[r.row], concepts[r.first]))
    ]
    if not inside:
        return
    rows = np.array([r.row for r in inside])
    firsts = np.array([r.first for r in inside])
    cosine = np.sum(unit_rows(raw[rows].astype(np.float64)) * unit_rows(raw[firsts]), axis=1)
    if not np.all(cosine >= 1.0 - 1e-6):  # (as a duplicate concept's, :func:`duplicate_concepts`)
        return
    row, first, line, first_line, concept = inside[0]
    to_drop = listed(inside, _REPEATED_SHOWN, lambda r: str(r.row))
    raise ValueError(
        f"concept_embeddings looks like a row per line of the vocabulary file "
        f"{os.fspath(vocabulary)!r}, repeats included: its row {row} (line {line}, "
        f"{concept!r} again) is the embedding of its row {first} ({concept!r}, line "
        f"{first_line}), as the row of every repeated line is its first's. The concepts "
        "are the file's lines without repeats (load_vocabulary keeps the first of each), "
        f"so from row {row} on, each concept would be given the row of an earlier one (one "
        "more row back after each repeat); give one row per concept, in the order of "
        "load_vocabulary(vocabulary, size=None): drop the rows of the repeated lines "
        f"(row{'s' if len(inside) > 1 else ''} {to_drop}), or remove the repeats from the file"
    )


def raw_concept_embeddings(
    concepts: list[str],
    n_full: int,
    *,
    concept_embeddings: Any,
    embedder: Any,
    vocabulary: Any,
    cache_dir: Any,
    n_features: int | None,
    data_home: Any = None,
) -> np.ndarray:
    if concept_embeddings is not None:
        sparse = scipy.sparse.issparse(concept_embeddings)
        raw = (
            concept_embeddings.toarray()
            if sparse
            else np.asarray(tensor_as_array(concept_embeddings))
        )
        if raw.ndim != 2:
            raise ValueError(
                f"concept_embeddings must be a 2-D array (n_concepts, d); got shape {raw.shape}"
            )
        k = len(concepts)
        repeats = _repeated_lines(vocabulary)
        if raw.shape[0] not in (k, n_full):
            counts = f"{k}" if k == n_full else f"{k} (the concepts kept) or {n_full} (all)"
            # (the authors' cached mscoco dictionary: 10,000 rows for 9,999 concepts)
            blank = (
                " (one row more than the concepts: a row of a blank line, which "
                "load_vocabulary leaves out? The authors' mscoco dictionary has one: drop the "
                "row where authors_index_to_concept(name, size) gives None)"
                if raw.shape[0] == k + 1 and not repeats
                else ""
            )
            if repeats and raw.shape[0] == n_full + len(repeats):
                blank = (
                    f" (a row per line of the file, repeats included? "
                    f"{_repeats_said(repeats)}; load_vocabulary keeps the first of each "
                    "repeated concept: drop the rows of the repeated lines)"
                )
            raise ValueError(
                f"concept_embeddings has {raw.shape[0]} rows but the vocabulary has "
                f"{counts} concepts; give one row per concept, in the order of "
                f"load_vocabulary(vocabulary, size=None){blank}"
            )
        if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
            raise TypeError(f"concept_embeddings must be real numbers; got dtype {raw.dtype}")
        _refuse_rows_of_repeated_lines(raw, vocabulary, repeats, concepts)
        raw = raw[:k]
        # (before the spot check of the order below, which loads the embedder's model)
        check_finite_rows(raw, "concept_embeddings")
        # With a named vocabulary or a file, sksplice decides which concept each
        # row stands for: check a few. A list names its rows itself (as
        # precompute_concept_embeddings does): checked only where that loads no model
        # (a worker fitting a clone makes no model call), else its rows are trusted.
        named = isinstance(vocabulary, str | os.PathLike)
        if named and isinstance(embedder, TextEmbedder):
            _check_given_order(embedder, concepts, raw, vocabulary, n_full, cache_dir, data_home)
        elif isinstance(embedder, TextEmbedder):
            _check_listed_order(embedder, concepts, raw)
        return raw
    if embedder is None:
        raise ValueError(
            "SpliceTransformer needs either an embedder (with embed_text) to embed the "
            "vocabulary or precomputed concept_embeddings; both are None"
        )
    check_text_embedder(embedder)
    logger.debug("concept dictionary: %d concepts", len(concepts))
    full = None
    if not is_cached(embedder, concepts, cache_dir):  # (else read as they are)
        full = whole_vocabulary(vocabulary, concepts, n_full, data_home)
    return embed_vocabulary(
        embedder,
        concepts,
        cache_dir=cache_dir,
        n_features=n_features,
        prefix_of=full,
    )


def whole_vocabulary(
    vocabulary: Any, concepts: list[str], n_full: int | None, data_home: Any
) -> list[str] | None:
    """The whole list that ``concepts`` (``vocabulary`` cut to a size, of ``n_full``
    entries) begin, or None where it is not known: a cached longer or shorter beginning
    of it is reused, so that a sweep over ``vocabulary_size`` embeds each concept once."""
    if n_full is None or n_full < len(concepts):
        return None
    if n_full == len(concepts):
        return concepts
    if isinstance(vocabulary, str | os.PathLike):
        from .vocabulary import load_vocabulary, size_cut_by_caller

        # (resolve_concepts read the file and warned of the size kept and of repeats)
        with size_cut_by_caller(len(concepts), repeats_said=True):
            return load_vocabulary(vocabulary, size=None, data_home=data_home)
    if not isinstance(vocabulary, Iterable):
        return None
    return [item.strip() for item in vocabulary]  # (a list, checked by resolve_concepts)


def positions_beyond(
    kept: Sequence[str], whole: Sequence[str] | None, names: Sequence[str]
) -> dict[str, int]:
    """The positions (from 1, in the order ``vocabulary_size`` keeps them) in the whole
    vocabulary of those of ``names`` it holds beyond the concepts ``kept`` (its
    beginning); empty where none is, where ``whole`` is None (not known), or where it
    does not begin with ``kept`` (a vocabulary changed since the concepts were cut)."""
    if whole is None or len(whole) <= len(kept):
        return {}
    if [str(c) for c in whole[: len(kept)]] != [str(c) for c in kept]:
        return {}  # (the vocabulary read now is not the one the concepts were cut from)
    wanted = {str(name) for name in names}
    return {str(c): i + 1 for i, c in enumerate(whole) if str(c) in wanted}


def positions_in_vocabulary(
    vocabulary: Any, kept: Sequence[str], n_full: int | None, data_home: Any, names: Sequence[str]
) -> tuple[dict[str, int], int | None]:
    """:func:`positions_beyond` of ``names`` in ``vocabulary`` (of ``n_full`` entries)
    cut to the concepts ``kept``, and ``n_full``: nothing where its whole list is not
    known, or cannot be read now (this serves an error's message: never an error of
    its own)."""
    if n_full is None or n_full <= len(kept):
        return {}, n_full
    try:
        whole = whole_vocabulary(vocabulary, list(kept), n_full, data_home)
    except Exception:
        return {}, n_full
    return positions_beyond(kept, whole, names), n_full


def unknown_concepts_message(
    unknown: Sequence[str],
    known: Iterable[str],
    param: str,
    beyond: tuple[dict[str, int], int | None] = ({}, None),
) -> str:
    """The error naming the ``unknown`` concepts given in ``param``, the first few with
    their closest ``known`` names (:func:`sksplice._names.unknown_names_hints`).
    ``beyond``: the positions of those the vocabulary holds beyond the ``known``
    concepts kept (told the size that keeps them instead), and the vocabulary's length
    (see :func:`positions_in_vocabulary`)."""
    known = list(known)
    where = param if param.startswith("-") else f"`{param}`"  # (an option, or a parameter)
    noun = "names" if param == "concepts" else "concepts"  # (not "concepts in `concepts`")
    positions, n_whole = beyond
    absent = [name for name in unknown if str(name) not in positions]
    parts = []
    if absent:
        parts.append(
            f"{noun} in {where} not in the vocabulary: {unknown_names_hints(absent, known)}"
        )
    if positions:
        # (a rare word beyond the size is often a typo of a kept concept, "forrest" of
        # "forest": the kept concepts close to it are suggested before a larger size)
        shown = ", ".join(f"{c!r} is concept {i}" for c, i in positions.items())
        of = f" of the {n_whole}" if n_whole is not None else ""
        them = "it" if len(positions) == 1 else "them"
        close = [
            (name, found)
            for name, found in zip(positions, closest_known(list(positions), known))
            if found
        ]
        if len(positions) == 1 and close:
            alike = f" (or, if misspelt, kept concepts close to it: {_listed(close[0][1])})"
        elif close:
            each = "; ".join(f"{name!r}: {_listed(found)}" for name, found in close)
            alike = f" (or, if misspelt, kept concepts close to them: {each})"
        else:
            alike = ""
        parts.append(
            f"{noun} in {where} beyond the {len(known)} that vocabulary_size keeps{of} of the "
            f"vocabulary ({shown}, in the order it keeps them): vocabulary_size="
            f"{max(positions.values())} or more keeps {them}{alike}"
        )
    return "; ".join(parts)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _set_centred(A: np.ndarray) -> np.ndarray:
    """Unit rows of ``A``, less their mean, made unit again.

    (A zero row becomes minus the mean; ``fit`` refuses zero rows right after the
    check, naming them.)
    """
    A = unit_rows(A)
    return unit_rows(A - A.mean(axis=0))


def _check_given_order(
    embedder: Any,
    concepts: list[str],
    raw: np.ndarray,
    vocabulary: Any,
    n_full: int,
    cache_dir: Any,
    data_home: Any,
) -> None:
    """:func:`check_alignment` of the rows given for a named vocabulary or a file:
    against the embedder's cached dictionary where there is one (no model is
    loaded), else against the embedder's embeddings of a few concepts; warned
    about, not done, where the model cannot run here (its weights unavailable
    offline, its device absent): given concept embeddings need no model otherwise."""
    from .dictionary import cached_embeddings
    from .exceptions import WeightsUnavailableError

    reason = None
    try:
        full = whole_vocabulary(vocabulary, concepts, n_full, data_home)
        cached = cached_embeddings(embedder, concepts, cache_dir, prefix_of=full)
        if cached is not None:
            check_alignment(embedder, concepts, raw, embeddings=cached)
            return
        reason = _cannot_run(embedder)
        if reason is None:
            check_alignment(embedder, concepts, raw)
            return
    except WeightsUnavailableError as exc:
        reason = str(exc).splitlines()[0]
    from ._stack import warn_user
    from .vocabulary import VOCABULARIES

    named = isinstance(vocabulary, str) and vocabulary in VOCABULARIES
    order = f"get_feature_names_out() ({'most frequent first' if named else 'its lines'})"
    warn_user(
        f"the order of the rows of concept_embeddings for vocabulary={str(vocabulary)!r} "
        f"was not checked: that embeds {_N_ALIGNMENT_CHECKS} of its concepts with the "
        f"embedder, which cannot run here ({reason}). Row i must hold concept i of "
        f"{order}; pass the concepts as a list (load_vocabulary(...)) to say so and skip "
        "the check"
    )


def _check_listed_order(embedder: Any, concepts: list[str], raw: np.ndarray) -> None:
    """:func:`check_alignment` of the rows given for a list vocabulary where the embedder's
    model is loaded in this process already (8 concepts embedded, in milliseconds);
    else nothing is checked: not even the embedder's cache key is asked, which for some
    models needs their weights (an ``hf-hub:`` model's, a loader's)."""
    is_loaded = getattr(embedder, "_is_loaded", None)  # (sksplice's embedders)
    try:
        loaded = callable(is_loaded) and bool(is_loaded())
    except (TypeError, ValueError, OSError):  # (settings refused where they are used)
        loaded = False
    if loaded:
        check_alignment(embedder, concepts, raw)


def _cannot_run(embedder: Any) -> str | None:
    """Why an embedder of sksplice cannot run on this machine (its ``device`` absent),
    or None (for other embedders: their devices are theirs to check)."""
    from ._device import resolve_device
    from .embedders import CLIPEmbedder
    from .sentence import SentenceTransformerEmbedder

    if not isinstance(embedder, CLIPEmbedder | SentenceTransformerEmbedder):
        return None
    try:
        resolve_device(embedder.device)
    except ValueError as exc:  # (a device this machine does not have)
        return str(exc)
    return None


def _own_row_closest(E: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each embedding of ``E`` is at least as close (cosine, within 1e-6 of the
    largest) to its own row of ``rows`` as to any other."""
    similarity = E @ rows.T
    own = np.diagonal(similarity)
    return own >= similarity.max(axis=1) - 1e-6 * np.maximum(np.abs(own), 1.0)


def check_alignment(
    embedder: Any, concepts: list[str], raw: np.ndarray, *, embeddings: Any = None
) -> None:
    """Embed a few concepts and check that their rows of ``raw`` are theirs.

    At most ``_N_ALIGNMENT_CHECKS`` concepts, evenly spaced over the
    dictionary (first and last included), are embedded with the embedder
    (or read from ``embeddings``, the embedder's rows of every concept);
    each must be closer (cosine) to its own row than to the rows of the
    other checked concepts, or as close (within rounding: concepts that the
    embedder embeds alike, ``"dog"`` and ``"Dog"`` for a lower-casing one, are
    as close to either row). This tolerates another precision or prompt
    template but not rows in another order.

    Both sets are compared after removing their own mean (of the unit rows):
    text embeddings share a large common component (a mean cosine of 0.7
    between concepts is usual), which rows already centred by the mean of the
    whole vocabulary (``concepts_centered=True``) have lost, and against which
    their differences would not show.
    """
    k = len(concepts)
    if k < 2:
        return
    idx = np.unique(np.linspace(0, k - 1, min(_N_ALIGNMENT_CHECKS, k)).round().astype(int))
    E = np.asarray(
        embedder.embed_text([concepts[i] for i in idx]) if embeddings is None else embeddings[idx],
        dtype=np.float64,
    )
    if E.ndim != 2 or E.shape[1] != raw.shape[1]:
        raise ValueError(
            f"the embedder gives embeddings of shape {E.shape} but concept_embeddings has "
            f"d={raw.shape[1]}: they come from different models"
        )
    E = _set_centred(E)
    rows = _set_centred(np.asarray(raw[idx], dtype=np.float64))
    # (its own row at least as close as the closest, within rounding: a tie between two
    # concepts embedded alike went to the first row, and correct rows were refused)
    match = _own_row_closest(E, rows)
    if match.all():
        return
    bad = int(idx[np.flatnonzero(~match)[0]])
    reversed_rows = _set_centred(np.asarray(raw[k - 1 - idx], dtype=np.float64))
    hint = ""
    if _own_row_closest(E, reversed_rows).all():
        hint = (
            " The rows are in reverse order (the authors' order, least frequent first): "
            "pass concept_embeddings[::-1], or keep their order with "
            "vocabulary=load_vocabulary(name, size, order='authors')."
        )
    raise ValueError(
        f"concept_embeddings row {bad} does not hold the embedding of concept "
        f"{concepts[bad]!r}: the embedder puts that concept closer to another checked row. "
        "Rows must follow the order of get_feature_names_out() (for a named vocabulary, "
        "most frequent first)." + hint
    )
