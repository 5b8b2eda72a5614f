"""SpliceTransformer: dense embeddings to sparse concept weights and back."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    import torch

from . import _weights
from ._calibration import calibrate_penalty, check_target_l0
from ._concepts import (
    centred_dictionary,
    check_two_concepts,
    raw_concept_embeddings,
    resolve_concepts,
)
from ._display import OneBlockMixin
from ._means import (
    MIN_MEAN_SAMPLES,
    as_solved,
    center_rows,
    resolve_mean,
    warn_if_centre_mismatched,
    warn_zero_rows,
    zero_rows,
)
from ._model_names import own_centre_of
from ._names import listed
from ._penalty import ZERO_CODE_PENALTY, no_concept_reason
from ._persistence import VersionStampMixin
from ._progress import progress, verbose_logging
from ._set_after_fit import params_at_fit, record_params, warn_set_after_fit
from ._stack import warn_user
from ._validation import (
    SKIPPED_ROWS_HINT,
    VOCABULARY_SIZE,
    Flag,
    Integer,
    Number,
    Options,
    Rule,
    all_float16,
    check_finite_rows,
    check_option,
    check_y_length,
    checks_parameters,
    float_dtypes,
    restored_on_failure,
    row_labels,
    tensor_as_array,
    validate_params,
    validated,
    vectors_in_cells,
)
from ._weights import OUTPUT, ConceptSpaceMixin
from .dictionary import (
    build_dictionary,
    exact_duplicate_columns,
    note_clone,
    split_duplicate_weights,
    warn_duplicate_concepts,
)
from .exceptions import CalibrationStartWarning, CentreMismatchWarning, SmallMeanSampleWarning

__all__ = [
    "MIN_MEAN_SAMPLES",
    "CentreMismatchWarning",
    "DenseCodesWarning",
    "SmallMeanSampleWarning",
    "SpliceTransformer",
    "TransformStats",
]

#: Seconds a verbose ``transform`` runs before its progress bar shows: a quick one (a
#: search's text query, one row of ``cosine_similarity``) shows none, a slow one does
#: whatever its number of rows (a small penalty can take seconds a row). Blocks of a
#: larger ``X`` decomposed under their caller's own bar (:func:`block_of_more`) show none.
_BAR_DELAY = 2.0

logger = logging.getLogger(__name__)

#: Default of ``SpliceTransformer(l1_penalty=...)``; other values given with
#: ``target_l0`` are warned about (the calibration decides the penalty).
_DEFAULT_L1_PENALTY = 0.25

_CONCEPTS = "the fitted concepts (concepts_) and dictionary (dictionary_)"
_CENTRE = "the fitted centre (mean_)"
#: The parameters fit reads (and what a fitted transformer uses in their place); the
#: penalty's are said with the fitted penalty. (data_home and cache_dir only say where
#: the same files are; the others are read by transform.)
_FIT_PARAMS: dict[str, str] = {
    "embedder": _CONCEPTS,
    "vocabulary": _CONCEPTS,
    "vocabulary_size": _CONCEPTS,
    "concept_embeddings": _CONCEPTS,
    "concepts_centered": _CONCEPTS,
    "image_mean": _CENTRE,
    "modality": _CENTRE,
    "text_mean": _CENTRE,
    "l1_penalty": "",
    "target_l0": "",
    "calibration_samples": "",
    "random_state": "",
}


#: Fewest concepts a row, on average, of codes said to be nearly dense (with more than
#: half the dimensions): SpLiCE's decompositions are read at a few to a few tens.
_DENSE_MIN_L0 = 64


def _nearly_dense(mean_l0: float, d: int) -> bool:
    """Whether codes of ``mean_l0`` concepts a row on average, of embeddings of ``d``
    dimensions, are said to be nearly dense (:class:`DenseCodesWarning`)."""
    return mean_l0 > max(d / 2, _DENSE_MIN_L0)


#: Fewest rows of which more than half without a concept are said to be mostly empty
#: codes (every row without one is said from two rows on).
_EMPTY_MIN_ROWS = 10


def _mostly_empty(n_empty: int, n: int) -> bool:
    """Whether ``n_empty`` rows of ``n`` without a concept are said to be too many: more
    than half, of 10 rows or more."""
    return n >= _EMPTY_MIN_ROWS and 2 * n_empty > n


def _mostly_empty_message(n_empty: int, n: int, l1_penalty: float) -> str:
    """Say that ``n_empty`` of the ``n`` rows of X decompose to no concept at
    ``l1_penalty`` (the command line says it in its words)."""
    return (
        f"{n_empty} of the {n} rows of X decompose to no concept at l1_penalty={l1_penalty:g}: "
        "no concept's correlation with them reaches the penalty, so their codes say nothing "
        "of them. A smaller l1_penalty keeps more concepts (useful penalties lie mostly from "
        "0.05 to 0.5), or set target_l0 to have fit find the penalty for a number of concepts"
    )


class DenseCodesWarning(UserWarning):
    """The codes of ``transform`` are nearly dense: their rows keep, on average, more
    concepts than half the dimensions of the embeddings.

    A decomposition that long explains an embedding with hundreds of concepts,
    which nobody reads, and it is slow to find (each row's solve grows with the
    number of concepts it keeps: about 0.6 s a row at ``l1_penalty=0.001`` over
    the 10,000 LAION concepts with 384-dimensional text embeddings, against
    3 ms at 0.3, on two CPU cores). It comes from a penalty far below the
    useful range (0.05 to 0.5 for CLIP). Only said of codes of more than 64
    concepts a row on average (SpLiCE's decompositions are read at a few to a
    few tens of concepts), so that embeddings of a few dimensions, as in
    examples, are not warned about;
    nor where ``target_l0`` asked for codes that long.
    ``mean_l0`` holds the mean number of concepts per row, ``n_features`` the
    dimensions and ``l1_penalty`` the penalty.
    """

    def __init__(self, message: str, mean_l0: float, n_features: int, l1_penalty: float) -> None:
        super().__init__(message)
        self.mean_l0 = mean_l0
        self.n_features = n_features
        self.l1_penalty = l1_penalty

    def __reduce__(self) -> tuple[Any, ...]:
        text = str(self.args[0]) if self.args else ""
        return (type(self), (text, self.mean_l0, self.n_features, self.l1_penalty), self.__dict__)


def _dense_codes(mean_l0: float, d: int, l1_penalty: float) -> DenseCodesWarning:
    """The :class:`DenseCodesWarning` of codes of ``mean_l0`` concepts a row on average,
    of embeddings of ``d`` dimensions, at ``l1_penalty``."""
    return DenseCodesWarning(
        f"the rows of X decompose to {mean_l0:.0f} concepts each on average at "
        f"l1_penalty={l1_penalty:g}, more than half the {d} dimensions of the embeddings: "
        "codes this dense explain little and are slow to find. A larger l1_penalty keeps "
        "fewer concepts (useful penalties lie mostly from 0.05 to 0.5), or set target_l0 "
        "to have fit find the penalty for a number of concepts",
        mean_l0,
        d,
        l1_penalty,
    )


class TransformStats(NamedTuple):
    """Solver statistics of one :meth:`~sksplice.SpliceTransformer.transform_with_stats` call.

    Attributes
    ----------
    n_iter : int
        Largest number of solver iterations any row needed.
    gaps : ndarray of shape (n_samples,)
        Relative duality gap ``(primal - dual) / primal`` of each row (0 for a
        row whose weights are all zero because the penalty zeroes them).
    max_gap : float
        Worst relative duality gap over the rows.
    converged : bool
        Whether every row reached a gap of at most ``tol``.
    tol : float
        The tolerance the rows were solved to.
    """

    n_iter: int
    gaps: np.ndarray
    max_gap: float
    converged: bool
    tol: float

    def __repr__(self) -> str:
        # (the gaps summarised: one number per row made a page of output in a notebook)
        n = int(np.shape(self.gaps)[0]) if np.ndim(self.gaps) else 1
        return (
            f"TransformStats(n_iter={self.n_iter!r}, gaps=<{n} row gap{'s' if n != 1 else ''}"
            f">, max_gap={self.max_gap!r}, converged={self.converged!r}, tol={self.tol!r})"
        )


def _weights_dtype(X: np.ndarray) -> type:
    """The dtype of the weights of embeddings ``X``: float64 for float64, else float32."""
    return np.float64 if X.dtype == np.float64 else np.float32


def _mean_string_hint(value: str, option: str) -> str:
    """What a string given as a centre was perhaps meant to be: a file, or ``option``."""
    from ._names import close_matches

    path = Path(value)
    if path.suffix.lower() in (".npy", ".pt", ".pth") or os.sep in value or path.exists():
        return f"; a file is given as pathlib.Path({value!r}) (a string names an option)"
    if close_matches(value, [option]):
        return f"; did you mean {option!r}?"
    if value.lower() in ("data", "learn", "learned", "fit", "mean", "x"):
        # (the command line's --image-mean data)
        return "; None learns the centre from the X given to fit"
    if value.lower() == "auto" and option == "pretrained":
        return (
            "; the command line's 'auto' is 'pretrained' where the authors published a mean "
            "for the model, else None (learned from the X given to fit)"
        )
    return ""


_EMBED_FIRST = (
    "{estimator} {verb} embeddings, a dense array of shape (n_samples, d). "
    "Embed {what} first with {embedder}{also}: X = {embedder}.fit_transform({items}), or "
    "make_pipeline({embedder}, {estimator}({params}...))"
)
#: How a file of embeddings of each kind is read, for the advice to read it first.
_ARRAY_READERS = {
    ".npy": "np.load(path)",
    ".npz": "np.load(path)[name]",
    ".pt": "torch.load(path)",
    ".pth": "torch.load(path)",
    ".parquet": "pandas.read_parquet(path) (a column of vectors: np.stack(frame[column]))",
    ".h5": "h5py.File(path)[name][:]",
    ".hdf5": "h5py.File(path)[name][:]",
}
_IMAGE_EMBEDDER = "CLIPEmbedder(modality='image')"
_TEXT_EMBEDDER = "CLIPEmbedder(modality='text')"


def _own_text_embedder(embedder: Any) -> str | None:
    """How the advice names an estimator's own text embedder that is no CLIPEmbedder (a
    sentence-transformers model: CLIPEmbedder's embeddings would be of another model);
    None for a CLIPEmbedder or none."""
    from ._protocols import TextEmbedder
    from .embedders import CLIPEmbedder

    if embedder is None or isinstance(embedder, CLIPEmbedder):
        return None
    if not isinstance(embedder, TextEmbedder):
        return None
    return type(embedder).__name__


def _not_embeddings(
    X: Any,
    *,
    estimator: str = "SpliceTransformer",
    verb: str = "decomposes",
    embedder: Any = None,
    variable: str = "splice",
    instead: str | None = None,
) -> Exception | None:
    """The error for an ``X`` that holds images, file paths or texts, not embeddings.

    Only what is cheap to see is looked at: the type of ``X``, its number of
    dimensions, and its first item. Numbers in one dimension are one embedding
    perhaps (told to be reshaped to one row). None when ``X`` may be embeddings
    (numbers of any other shape are left to scikit-learn's checks). The advice names
    ``estimator`` (what it does with embeddings: ``verb``), and for texts the
    estimator's own ``embedder`` where that is no CLIPEmbedder (``variable`` is what
    the advice calls the estimator). ``instead``: the error is ``X <what it holds>,
    not <instead>`` (for an estimator of concept weights), and numbers of one
    dimension are left to scikit-learn's checks.
    """
    from ._image_files import IMAGE_EXTENSIONS
    from ._images import _ARRAY_SUFFIXES

    common = {"estimator": estimator, "verb": verb}

    def is_path(item: Any) -> bool:
        if isinstance(item, os.PathLike):
            return True
        return isinstance(item, str) and os.path.splitext(item)[1].lower() in IMAGE_EXTENSIONS

    def strings(shown: str, first: Any) -> TypeError:
        own = _own_text_embedder(embedder)
        if instead is not None:
            return TypeError(f"X {shown}, not {instead}")
        named = isinstance(first, str | os.PathLike)
        suffix = os.path.splitext(os.fspath(first))[1].lower() if named else ""
        if suffix in _ARRAY_SUFFIXES:
            # (embeddings computed already, named by their files: read them; a list of files
            # of one kind holds the parts of one collection, as clip-retrieval writes them)
            listed = first is not X
            parts = listed and all(
                isinstance(x, str | os.PathLike) and os.fspath(x).lower().endswith(suffix)
                for x in itertools.islice(X, 100)  # (the first items: what is cheap to see)
            )
            reader = _ARRAY_READERS.get(suffix, "the library that wrote it")
            read = (
                "X = np.concatenate([np.load(path) for path in paths])"
                if parts and suffix == ".npy"
                else f"X = np.load({os.fspath(first)!r}) (mmap_mode='r' reads a large file "
                "as needed)"
                if suffix == ".npy" and not listed
                else f"each with {reader}"
                if listed
                else f"with {reader}"
            )
            files, them = ("names of files", "them") if listed else ("name of a file", "it")
            return TypeError(
                f"X {shown}, not embeddings: {estimator} {verb} embeddings, a dense array of "
                f"shape (n_samples, d), not the {files} holding them: read {them} first, {read}"
            )
        if is_path(first):
            words = {
                "what": "the image files",
                "embedder": _IMAGE_EMBEDDER,
                "also": f" (texts with {_TEXT_EMBEDDER})",
                "items": "paths",
                "params": "",
            }
        elif own is not None:
            # (the concepts' model: CLIPEmbedder's embeddings would be of another one)
            decomposes = verb == "decomposes"
            modality = ", and decompose them with modality='text'" if decomposes else ""
            of = "class prompts" if verb == "classifies" else "concepts"
            return TypeError(
                f"X {shown}, not embeddings: {estimator} {verb} embeddings, a dense array of "
                f"shape (n_samples, d). Embed the texts first with the model of the {of} "
                f"(its {own}){modality}: X = {variable}.embedder.embed_text(texts)"
            )
        else:
            modality = " and decompose them with modality='text'" if verb == "decomposes" else ""
            words = {
                "what": "the texts",
                "embedder": _TEXT_EMBEDDER,
                "also": f"{modality} (image files with {_IMAGE_EMBEDDER})",
                "items": "texts",
                "params": "modality='text', " if verb == "decomposes" else "",
            }
        return TypeError(f"X {shown}, not embeddings: " + _EMBED_FIRST.format(**common, **words))

    def images(shown: str, error: type[Exception]) -> Exception:
        if instead is not None:
            return error(f"X {shown}, not {instead}")
        words = {
            "what": "the images",
            "embedder": _IMAGE_EMBEDDER,
            "also": "",
            "items": "images",
            "params": "",
        }
        return error(f"X {shown}, not embeddings: " + _EMBED_FIRST.format(**common, **words))

    def is_number(item: Any) -> bool:
        try:
            float(item)
        except (TypeError, ValueError):
            return False
        return True

    def text_numbers(row: Sequence[Any]) -> Exception:
        # (scikit-learn refuses arrays of strings, ValueError; numpy would parse those
        # that are numbers)
        first = row[0]
        shown = repr(bytes(first) if isinstance(first, bytes) else str(first))
        if is_number(first):
            return ValueError(
                f"X holds numbers written as text ({shown} first), not "
                f"{instead or 'embeddings'}: convert them explicitly, "
                "X = np.asarray(X, dtype=np.float32)"
            )
        if any(is_number(item) for item in itertools.islice(row, 1, 17)):
            return ValueError(
                f"X has rows of text and numbers ({shown} first): a column of labels or "
                "names perhaps; give only the columns of numbers"
            )
        return strings(f"holds strings ({shown} first)", str(first))

    if isinstance(X, str | bytes | os.PathLike):
        return strings(f"is one {'path' if is_path(X) else 'string'} ({X!r})", X)
    ndim = getattr(X, "ndim", None)
    shape = getattr(X, "shape", None)
    if isinstance(ndim, int) and ndim >= 3 and shape is not None:
        dtype = getattr(X, "dtype", None)  # (numpy's or torch's)
        floating = getattr(dtype, "kind", "") == "f" or getattr(dtype, "is_floating_point", False)
        if floating and sum(int(n) != 1 for n in tuple(shape)[1:]) == 1:
            # (embeddings with an axis of size 1 too, (n, d, 1) or (n, 1, d): a model's
            # output kept whole; images have two axes of pixels)
            what = (
                f"embeddings with an axis of size 1 perhaps; {estimator} {verb} embeddings, "
                "a dense array of shape (n_samples, d)"
                if instead is None
                else f"{instead} with an axis of size 1 perhaps"
            )
            return ValueError(f"X has shape {tuple(shape)}: {what}: give X.reshape(len(X), -1)")
        return images(f"has shape {tuple(shape)}: a batch of images perhaps", ValueError)
    if ndim == 2 and getattr(getattr(X, "dtype", None), "kind", "") in ("U", "S") and X.size:
        return text_numbers(X[0])  # (an array of strings: a table read as text)
    if isinstance(X, list | tuple) or (isinstance(ndim, int) and ndim == 1):
        try:
            first = X[0] if isinstance(X, list | tuple) else next(iter(X))
        except (IndexError, KeyError, TypeError, StopIteration):
            return None
        if isinstance(first, list | tuple) and first and isinstance(first[0], str | bytes):
            return text_numbers(first)  # (rows of csv.reader, say)
        if isinstance(first, str | bytes | os.PathLike):
            kind = "file paths" if is_path(first) else "strings"
            shown = repr(first if isinstance(first, bytes | os.PathLike) else str(first))
            return strings(f"holds {kind} ({shown} first)", first)  # (not np.str_('a'))
        if type(first).__module__.startswith("PIL."):
            return images(f"holds PIL images ({type(first).__name__} first)", TypeError)
        first_ndim = getattr(first, "ndim", None)
        if isinstance(first_ndim, int) and first_ndim >= 2:
            return images(
                f"holds arrays of shape {tuple(first.shape)} (images perhaps)", ValueError
            )
        # (a number, or a 0-d array or tensor: an element of a 1-D torch tensor is one)
        if (
            instead is None
            and (isinstance(first, int | float | np.number) or first_ndim == 0)
            and not isinstance(first, bool)
        ):
            shown = f"has shape {tuple(shape)}" if shape is not None else f"is {len(X)} numbers"
            return ValueError(
                f"X {shown}: one embedding perhaps, but X must be a 2-D array of shape "
                "(n_samples, d), one embedding a row. Reshape your data: np.reshape(X, (1, -1)) "
                "for one embedding"
            )
    return None


def recompose_advice(step: str | None) -> str:
    """How to turn concept weights into the embeddings an estimator takes (``step``: what
    the advice calls it in a pipeline, "classifier"; None: a function, no pipeline)."""
    advice = "into embeddings with splice.inverse_transform(W)"
    if step is None:
        return advice
    return (
        f"{advice}, or in a Pipeline with ConceptEditor(..., output='embedding') before the {step}"
    )


def refuse_concept_weights(X: Any, *, estimator: str, verb: str, step: str | None) -> None:
    """Refuse concept weights (sparse, or recorded as a transformer's) given as ``X`` to
    ``estimator``, which ``verb`` dense embeddings (``step``: see :func:`recompose_advice`).

    Taken as embeddings they fail on their sparse format, or on their width, with
    messages that point elsewhere (to ``toarray()``, which then fails on the width).
    """
    import scipy.sparse

    from ._names import recorded
    from ._pandas import is_sparse_frame

    recompose = recompose_advice(step)
    sparse_frame = is_sparse_frame(X)  # (pandas output of a transformer of sparse weights)
    if scipy.sparse.issparse(X) or sparse_frame:
        # (a TypeError, as scikit-learn's refusal of sparse input)
        what = "a DataFrame of sparse columns" if sparse_frame else "a sparse matrix"
        raise TypeError(
            f"X is {what}, but {estimator} {verb} dense embeddings (sparse input is not "
            f"supported): recompose concept weights {recompose}"
        )
    if recorded(X):
        raise ValueError(
            f"X is concept weights that a SpliceTransformer returned, but {estimator} "
            f"{verb} embeddings: recompose them {recompose}"
        )


def refuse_non_embeddings(X: Any, **advice: Any) -> None:
    """Raise the error of :func:`_not_embeddings` (given ``advice``) where there is one."""
    mistake = _not_embeddings(X, **advice)
    if mistake is not None:
        raise mistake


def _columns_not_numbers(X: Any) -> ValueError | None:
    """The error for a pandas or polars DataFrame with columns of text (a label, a file
    name) beside its embedding dimensions; None for any other ``X``.

    Only what scikit-learn would fail to convert is named: a column of text whose first
    value is no number (numbers written as text, ``"0.5"``, are converted), a categorical
    column of text categories.
    """
    module = type(X).__module__
    if getattr(X, "ndim", 2) != 2 or not module.startswith(("pandas", "polars")):
        return None

    def not_a_number(value: Any) -> bool:
        if not isinstance(value, str | bytes):
            return False
        try:
            float(value)
        except ValueError:
            return True
        return False

    bad: list[tuple[Any, Any]] = []
    if module.startswith("pandas"):
        if not hasattr(X, "dtypes"):
            return None
        import pandas as pd
        from pandas.api.types import is_numeric_dtype

        for name, dtype in X.dtypes.items():
            if isinstance(dtype, pd.CategoricalDtype):
                if not is_numeric_dtype(dtype.categories.dtype):
                    bad.append((name, dtype))
                continue
            if is_numeric_dtype(dtype):  # (bool included)
                continue
            present = X[name].dropna()
            if len(present) and not_a_number(present.iloc[0]):
                bad.append((name, dtype))
    else:  # polars
        schema = getattr(X, "schema", None)
        if schema is None:
            return None
        for name, dtype in schema.items():
            if dtype.is_numeric() or str(dtype) == "Boolean":
                continue
            present = X.get_column(name).drop_nulls()
            first = present[0] if len(present) else None
            if str(dtype).startswith("Categorical") or not_a_number(first):
                bad.append((name, dtype))
    if not bad:
        return None
    shown = listed(bad, 5, lambda column: f"{column[0]!r} ({column[1]})")
    return ValueError(
        f"X has columns that are not numbers: {shown}. X holds embeddings, one column per "
        "dimension: leave the other columns (a label, a file name) out, e.g. "
        + ("X.drop(columns=[...])" if module.startswith("pandas") else "X.drop([...])")
    )


#: Set (per thread) while a block of a larger ``X`` is transformed (a Dask task, a chunk
#: of the command line's images): rows of one block that hold no concept say nothing of
#: the whole ``X``, and the block's rows are counted by its caller's bar, if any (see
#: :func:`block_of_more`).
_BLOCK_OF_MORE = threading.local()


@contextlib.contextmanager
def block_of_more() -> Iterator[None]:
    """While the block runs, :meth:`SpliceTransformer.transform` in this thread is given a
    block of a larger ``X``: no warning that none of its rows holds a concept, and no
    progress bar of its own."""
    before = getattr(_BLOCK_OF_MORE, "active", False)
    _BLOCK_OF_MORE.active = True
    try:
        yield
    finally:
        _BLOCK_OF_MORE.active = before


#: The parameters read when solving (``transform`` and its kin), set after ``fit`` or not.
_SOLVE_PARAMS = ("tol", "transform_max_iter", "memory_budget", "verbose")


class SpliceTransformer(
    ConceptSpaceMixin, TransformerMixin, OneBlockMixin, VersionStampMixin, BaseEstimator
):
    """Sparse Linear Concept Embeddings (SpLiCE) as a scikit-learn transformer.

    Each dense embedding ``x`` (an image or text embedding of a CLIP-like
    model) is decomposed into a sparse, non-negative combination of concept
    embeddings::

        v = normalise(normalise(x) - mean_)
        w = argmin_{w >= 0} ||D^T w - v||^2 + l1_penalty * ||w||_1

    where ``D`` (``dictionary_``) holds the text embeddings of a
    vocabulary of concepts, each L2-normalised, centred by the mean of all
    concept embeddings and L2-normalised again. ``transform`` returns the
    weights ``w``; ``inverse_transform`` recomposes
    ``normalise(normalise(w @ D) + mean_)``. The rules below are those of
    :doc:`/transformer`, which gives their reasons and examples.

    Parameters
    ----------
    embedder : object or None, default=None
        Text embedder of the vocabulary: anything with
        ``embed_text(list[str]) -> ndarray (n, d)`` (for example
        :class:`sksplice.embedders.CLIPEmbedder`); with ``cache_key()`` the
        embedded vocabulary is also cached on disk. Not needed when
        ``concept_embeddings`` is given; ``image_mean="pretrained"`` also
        needs its ``model`` and ``pretrained`` attributes.
    vocabulary : str, path or list of str, default="laion"
        A published vocabulary name (``"laion"``, ``"laion_bigrams"``,
        ``"mscoco"``), a text file with one concept per line, or a list of
        distinct, non-blank concept strings of one line each, used in its order
        with surrounding whitespace stripped (see :func:`sksplice.load_vocabulary`).
        Concepts whose embeddings come out the same (case variants for a
        model that lower-cases, concepts cut at the model's context length)
        are named in a :class:`~sksplice.exceptions.DuplicateConceptWarning`.
    vocabulary_size : int, None or "auto", default="auto"
        Number of concepts kept, as ``load_vocabulary`` selects them (most
        frequent first for a published vocabulary, else the first ones).
        ``None`` keeps all. ``"auto"`` keeps the 10,000 most frequent concepts
        of a published vocabulary (by name, or a file holding one; the setting
        of the authors' README and scripts), all 15,000 of ``"laion_bigrams"``
        (its two-word concepts are its least frequent lines), and every entry of any other file
        or list (a list in the authors' order, least frequent first, would
        otherwise lose its most frequent concepts). An integer larger than the
        vocabulary (named, a file or a list) is a ``ValueError`` giving its
        length.
    concept_embeddings : array-like of shape (n_concepts, d) or None, default=None
        Precomputed raw text embeddings of the concepts, in the order of
        ``load_vocabulary(vocabulary, size=None)``: every concept of the
        vocabulary or exactly the concepts kept. For a named vocabulary or a
        file, a given embedder spot-checks the order on at most 8 concepts
        (a ``ValueError`` names the first row that does not match), read from
        its cached dictionary where there is one; where its model cannot run
        here (weights offline, device absent) the check is skipped with a
        ``UserWarning``. Otherwise the order is the caller's promise.
    l1_penalty : float, default=0.25
        Weight of the L1 penalty, in (0, 2); larger values give sparser codes.
        From 2 on every weight of every row is zero (the centred embeddings
        and the concepts have unit norm), so such a penalty is refused. When
        ``target_l0`` is set it is only where the calibration starts (any
        positive number, taken within the range searched): the
        penalty used is the calibrated ``l1_penalty_`` (so a grid search
        over ``l1_penalty`` with ``target_l0`` set compares fits of the same
        sparsity; search over ``target_l0`` instead). ``fit`` warns when
        both are set (``l1_penalty`` other than its default), with a
        :class:`~sksplice.exceptions.CalibrationStartWarning`.
    target_l0 : float or None, default=None
        If set, ``fit`` searches the logarithm of the penalty (by the slope of
        the log mean l0, safeguarded inside a bracket), on a sample of at
        most ``calibration_samples`` rows of ``X``, until the mean number of
        non-zero weights is within ±10% of this value, and stores the penalty
        in ``l1_penalty_``. Rows whose weights are zero at any penalty (all-zero
        rows of ``X``, and rows whose centred embedding is zero) are left out
        of the sample, so that the other rows get the target on average.
    solver : str, default="auto"
        Solver passed to :meth:`sksplice.solvers.NonNegLasso.solve`.
    device : str or torch.device, default="auto"
        Torch device of the solver (``"auto"``: CUDA when available).
    tol : float, default=1e-6
        Relative duality gap at which a row's solution is accepted, in (0, 1).
    transform_max_iter : int or None, default=None
        Iteration limit of the solver run by ``transform`` (named as in
        :class:`sklearn.decomposition.SparseCoder`); ``None`` uses the
        solver's default. With ``solver="admm"`` it bounds the ADMM iterations
        only: the rows they leave uncertified are then finished by the
        working-set method with its own budget, so the answers are certified
        (and ``TransformStats.n_iter`` may exceed it); with ``"working_set"``
        it bounds its rounds, and rows left uncertified are warned about
        (``ConvergenceWarning``).
    image_mean : None, "pretrained", array-like of shape (d,) or path, default=None
        Centre of the image embeddings (``modality="image"``): ``None`` learns
        it in ``fit`` as the mean of the L2-normalised non-zero rows of ``X``;
        ``"pretrained"`` loads the authors' published mean for
        ``embedder.model`` and ``embedder.pretrained``; an array, or a
        :class:`pathlib.Path` of a ``.npy``/``.pt`` file, is used as given
        (:func:`sksplice.vocabulary.as_mean_vector`). Must be None with
        ``modality="text"``.
    modality : {"image", "text"}, default="image"
        What ``X`` holds; each modality is centred by its own centre.
    text_mean : None, "concepts", array-like of shape (d,) or path, default=None
        Centre of the text embeddings (only with ``modality="text"``):
        ``None`` learns it from the texts in ``X``, ``"concepts"`` uses
        ``concept_mean_`` (not with ``concepts_centered=True``, whose
        mean is unknown), an array or a path follows ``image_mean``.
    concepts_centered : bool, default=False
        True uses ``concept_embeddings`` (unit-norm rows, already normalised,
        centred and normalised, such as the authors' cached dictionaries) as
        ``dictionary_`` as they are, with a zero ``concept_mean_``;
        False treats them as raw embeddings.
    output : {"sparse", "dense"}, default="sparse"
        Container of ``transform``: a SciPy CSR matrix or a dense ndarray.
        With ``set_output(transform="pandas")``, a DataFrame of pandas sparse
        columns or an ordinary DataFrame, with the concepts as columns.
    data_home : str, path-like or None, default=None
        Data home for vocabularies and image means (see
        :func:`sksplice.get_data_home`); it may be read-only.
    cache_dir : str, path-like or None, default=None
        Folder of the on-disk dictionary cache (``None``: ``$SKSPLICE_CACHE``,
        else the per-user cache folder). Not where model weights are kept: that
        is the embedder's ``cache_dir`` (:class:`~sksplice.CLIPEmbedder`).
    calibration_samples : int, default=2000
        Largest number of rows of ``X`` used to calibrate ``target_l0``. The
        calibrated penalty reaches ``target_l0`` on average over these rows; a
        sample of fewer than 100 rows (a smaller value, or a smaller ``X``) is
        warned about, as the mean of the other rows may then differ widely.
    random_state : int, RandomState instance or None, default=0
        Seed of the calibration sample (rows drawn by position, so the same
        rows in another order may calibrate another penalty within the
        tolerance of ``target_l0``). Pass an int for the same ``l1_penalty_``
        on every fit of the same ``X``.
    memory_budget : int or None, default=None
        Passed to the solver (bytes it may use per batch); ``None`` uses the
        solver's default.
    verbose : int or bool, default=False
        0 (or False) is quiet (a negative value is refused); above 0, ``fit``
        shows what it does on standard error: the vocabulary about to be
        embedded (how many concepts, where the result is cached, after a first
        sample an estimate of the time left, then its progress) and each step
        of the ``target_l0`` calibration. These are INFO messages of the ``sksplice`` loggers;
        where the program has configured logging, its handlers show them
        instead. ``transform`` then shows a progress bar of the rows
        decomposed once it has run for 2 s (updated as each chunk of the
        solver is done).

    Attributes
    ----------
    concepts_ : ndarray of shape (n_concepts,), dtype object
        The concept strings, in dictionary order.
    dictionary_ : ndarray of shape (n_concepts, d), float64
        Centred, unit-norm concept embeddings. Do not modify it in place: the
        solver shared in process is keyed by its content digest taken in
        ``fit``.
    concept_mean_ : ndarray of shape (d,)
        Mean of the L2-normalised raw concept embeddings (the text centre of
        the vocabulary).
    mean_ : ndarray of shape (d,), float64
        Centre of the decomposed modality (see ``image_mean`` and
        ``text_mean``).
    mean_source_ : {"data", "pretrained", "given", "concepts"}
        Where ``mean_`` comes from: learned from ``X``, the published mean,
        the array given, or the concept mean (``text_mean="concepts"``).
    n_mean_samples_ : int or None
        Number of rows of ``X`` the centre was learned from: its rows that
        are not all zero (None unless ``mean_source_ == "data"``).
    l1_penalty_ : float
        Penalty used by ``transform``: ``l1_penalty``, or the calibrated one.
        ``l1_penalty`` or ``target_l0`` set on a fitted transformer takes effect
        at the next ``fit`` (``transform`` warns until then).
    calibration_l0_ : float
        Mean l0 reached on the calibration sample (only with ``target_l0``).
    n_features_in_ : int
        Number of features of ``X``: the embedding dimension ``d``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` when it was a DataFrame with string columns.

    See Also
    --------
    sksplice.solvers.NonNegLasso : The solver behind ``transform``.
    sksplice.dictionary.embed_vocabulary : The cached vocabulary embedding.

    Notes
    -----
    ``transform`` returns float32 weights for float32 and float16 input
    (float16 rows are solved in float32) and float64 weights for any other
    input (float64 and integers). The
    decomposition is scale-invariant (rows are scaled by their largest
    absolute value before they are normalised).
    An all-zero row of ``X``, or one whose centred embedding is zero up to
    rounding (norm below ``4 * sqrt(d) * eps`` of the dtype), gets all-zero
    weights (the first with a ``UserWarning`` naming it);
    ``inverse_transform`` maps an all-zero row of weights to
    ``normalise(mean_)``. A centre learned from ``X`` (``image_mean=None``
    or ``text_mean=None``) refuses a single row and warns with
    :class:`~sksplice.exceptions.SmallMeanSampleWarning` below ``MIN_MEAN_SAMPLES`` (100) rows.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> concepts = ["red", "car", "dog", "beach", "sky", "tree"]
    >>> raw = rng.normal(size=(6, 8))
    >>> X = rng.normal(size=(200, 8))  # the centre is learned from X: 100 rows or more
    >>> splice = SpliceTransformer(vocabulary=concepts, concept_embeddings=raw,
    ...                            l1_penalty=0.1, device="cpu").fit(X)
    >>> W = splice.transform(X)
    >>> W.shape
    (200, 6)
    >>> splice.get_feature_names_out()[:3]
    array(['red', 'car', 'dog'], dtype=object)
    """

    # (their content is in the pickled state, so Pipeline(memory=...) refits after an edit)
    _input_files = ("vocabulary", "image_mean", "text_mean")

    def __init__(
        self,
        embedder: Any = None,
        vocabulary: str | os.PathLike[str] | Sequence[str] | np.ndarray = "laion",
        vocabulary_size: int | str | None = "auto",
        concept_embeddings: Any = None,
        l1_penalty: float = _DEFAULT_L1_PENALTY,
        target_l0: float | None = None,
        solver: str = "auto",
        device: str | torch.device = "auto",
        tol: float = 1e-6,
        transform_max_iter: int | None = None,
        image_mean: Any = None,
        modality: str = "image",
        text_mean: Any = None,
        concepts_centered: bool = False,
        output: str = "sparse",
        data_home: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        calibration_samples: int = 2000,
        random_state: Any = 0,
        memory_budget: int | None = None,
        verbose: int | bool = False,
    ) -> None:
        self.embedder = embedder
        self.vocabulary = vocabulary
        self.vocabulary_size = vocabulary_size
        self.concept_embeddings = concept_embeddings
        self.l1_penalty = l1_penalty
        self.target_l0 = target_l0
        self.solver = solver
        self.device = device
        self.tol = tol
        self.transform_max_iter = transform_max_iter
        self.image_mean = image_mean
        self.modality = modality
        self.text_mean = text_mean
        self.concepts_centered = concepts_centered
        self.output = output
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.calibration_samples = calibration_samples
        self.random_state = random_state
        self.memory_budget = memory_budget
        self.verbose = verbose

    def __sklearn_clone__(self) -> SpliceTransformer:
        # clone deep-copies an embedder that is no estimator (a search's every fit gets a
        # copy): one without cache_key() is recorded as a copy of this one's, so that it
        # finds the vocabulary this one's embedded, held in process (see note_clone)
        new = cast("SpliceTransformer", super().__sklearn_clone__())
        if new.embedder is not None and self.embedder is not None:
            note_clone(new.embedder, self.embedder)
        return new

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ---------------------------------------------------------- validation
    #: Scalar parameters and their rules, checked in ``fit`` by ``_check_params``.
    _param_rules: ClassVar[dict[str, Rule]] = {
        # (and below ZERO_CODE_PENALTY without target_l0: see _check_params)
        "l1_penalty": Number(low=0.0, closed="neither"),
        "target_l0": Number(low=0.0, closed="neither", allow_none=True),
        # (a relative duality gap: 1 or more accepts any answer, an uncertified one too)
        "tol": Number(low=0.0, high=1.0, closed="neither"),
        "transform_max_iter": Integer(allow_none=True),
        "vocabulary_size": VOCABULARY_SIZE,
        "calibration_samples": Integer(),
        "memory_budget": Integer(allow_none=True),
        "output": OUTPUT,
        "modality": Options(("image", "text")),
        "verbose": Flag(int_ok=True),
        "concepts_centered": Flag(),
    }

    @checks_parameters
    def _check_params(self) -> None:
        validate_params(self, self._param_rules)
        if self.target_l0 is not None and self.l1_penalty != _DEFAULT_L1_PENALTY:
            # (a grid search over l1_penalty of a transformer with target_l0 compared fits
            # of the same sparsity, calibration noise apart, without a word)
            warn_user(
                f"l1_penalty={self.l1_penalty!r} is given with target_l0={self.target_l0!r}: "
                "fit calibrates the penalty to reach target_l0, and l1_penalty is only where "
                "that search starts (to compare sparsities, search over target_l0 with "
                f"l1_penalty left at its default, {_DEFAULT_L1_PENALTY:g}, where every fit "
                "then starts; to fix the penalty, set target_l0=None; where the start is "
                "meant, filter "
                "sksplice.exceptions.CalibrationStartWarning)",
                CalibrationStartWarning,
            )
        if self.target_l0 is None and self.l1_penalty >= ZERO_CODE_PENALTY:
            # (with target_l0 the penalty is only where the calibration starts)
            raise ValueError(
                f"l1_penalty must be below {ZERO_CODE_PENALTY:g}, got {self.l1_penalty!r}: "
                f"{no_concept_reason()}"
            )
        from ._device import resolve_device
        from .embedders import CLIPEmbedder
        from .solvers import SOLVERS

        check_option(self.solver, "solver", SOLVERS)
        resolve_device(self.device)
        if isinstance(self.embedder, CLIPEmbedder):
            # (a misspelt model name or pretrained tag is refused, with close matches,
            # before the vocabulary is downloaded or embedded)
            self.embedder._check_names()
        _weights.check_output(self)
        if isinstance(self.image_mean, str) and self.image_mean != "pretrained":
            raise ValueError(
                "image_mean must be None, 'pretrained', an array or a pathlib.Path of a .npy/.pt "
                f"file; got {self.image_mean!r}{_mean_string_hint(self.image_mean, 'pretrained')}"
            )
        if isinstance(self.text_mean, str) and self.text_mean != "concepts":
            raise ValueError(
                "text_mean must be None, 'concepts', an array or a pathlib.Path of a .npy/.pt "
                f"file; got {self.text_mean!r}{_mean_string_hint(self.text_mean, 'concepts')}"
            )
        if self.modality == "text" and self.image_mean is not None:
            raise ValueError(
                "image_mean is the centre of image embeddings but modality='text'; give the "
                "centre of the texts as text_mean (None learns it from the X given to fit)"
            )
        if self.modality == "image" and self.text_mean is not None:
            raise ValueError(
                "text_mean is only used with modality='text'; set modality='text' to "
                "decompose text embeddings, or give the image centre as image_mean"
            )
        if self.concepts_centered and self.concept_embeddings is None:
            raise ValueError(
                "concepts_centered=True describes the given concept_embeddings, but "
                "concept_embeddings is None"
            )
        if self.concepts_centered and isinstance(self.text_mean, str):
            # (a centred dictionary no longer holds the mean of the concepts' embeddings)
            raise ValueError(
                "text_mean='concepts' centres texts by the mean of the raw concept embeddings, "
                "which concepts_centered=True dictionaries no longer hold; give that mean as "
                "text_mean (an array), or the raw embeddings with concepts_centered=False"
            )
        from sklearn.utils import check_random_state

        try:  # (used only to calibrate target_l0, but checked whatever the settings)
            check_random_state(self.random_state)
        except ValueError as exc:
            raise ValueError(
                "random_state must be None, an int from 0 to 2**32 - 1 or a "
                f"numpy.random.RandomState; got {self.random_state!r}"
            ) from exc

    def _resolve_concepts(self) -> tuple[list[str], int]:
        """The concepts and the number of entries of the full (untruncated) list."""
        return resolve_concepts(self.vocabulary, self.vocabulary_size, self.data_home)

    def _raw_concept_embeddings(self, concepts: list[str], n_full: int) -> np.ndarray:
        return raw_concept_embeddings(
            concepts,
            n_full,
            concept_embeddings=self.concept_embeddings,
            embedder=self.embedder,
            vocabulary=self.vocabulary,
            cache_dir=self.cache_dir,
            n_features=getattr(self, "n_features_in_", None),
            data_home=self.data_home,
        )

    def _concept_width(self, concepts: list[str], n_full: int | None) -> int | None:
        """The dimension of the concept embeddings when it is known without computing them.

        From ``concept_embeddings``, or the model configuration of a
        :class:`~sksplice.CLIPEmbedder` (no weights are loaded), or an
        embedder's ``embedding_dim_``; for an embedder with
        ``get_embedding_dimension()``, the width of the cached dictionary (or of a
        cached longer beginning of the ``n_full`` entries the concepts begin, read
        from its file's header), else that method's answer (a
        :class:`~sksplice.sentence.SentenceTransformerEmbedder` loads its model,
        needed then anyway); None otherwise.
        """
        if self.concept_embeddings is not None:
            shape = np.shape(self.concept_embeddings)
            return int(shape[1]) if len(shape) == 2 else None
        from .embedders import CLIPEmbedder

        if isinstance(self.embedder, CLIPEmbedder):
            try:
                return int(self.embedder._config("known").embed_dim)
            except Exception:  # e.g. a Hub model's configuration offline: known later, or
                return None  # not needed at all when the dictionary is in a cache
        dim = getattr(self.embedder, "embedding_dim_", None)
        get = getattr(self.embedder, "get_embedding_dimension", None)
        if dim is None and callable(get):
            # (the width of the cached embeddings, from the cache file's header, without
            # the model: a wrong X was found only once every concept was embedded again,
            # the cache passed over as of another width)
            dim = self._cached_width(concepts, n_full)
            if dim is None:
                try:
                    dim = get()
                except Exception:  # the model cannot be loaded now: its width is known later
                    return None
        if isinstance(dim, int | np.integer) and not isinstance(dim, bool) and dim > 0:
            return int(dim)
        return None

    def _validate_X(self, X: Any, *, reset: bool, keep_float16: bool = False) -> np.ndarray:
        """``X`` checked as embeddings: a float64 or float32 array (no copy of those).

        With ``keep_float16``, float16 embeddings (a memory-mapped ``.npy`` file
        perhaps) are kept as they are, not copied whole into float64: the
        caller then reads them a block of rows at a time, in float32 where they
        are solved (:meth:`_targets`, :func:`~sksplice._means.as_solved`) and in
        float64 where a centre is learned from them.
        """
        from ._pandas import is_sparse_frame

        X = tensor_as_array(X)
        if scipy.sparse.issparse(X) or is_sparse_frame(X):
            raise TypeError(
                f"X must be dense embeddings of shape (n_samples, d); got sparse data of shape "
                f"{X.shape}, concept weights perhaps: fit, transform, score and "
                "cosine_similarity take embeddings (inverse_transform turns weights back "
                "into embeddings)"
            )
        concepts = getattr(self, "concepts_", None)
        shape = getattr(X, "shape", None)
        if (
            not reset
            and concepts is not None
            and shape is not None
            and len(shape) == 2
            and shape[1] == len(concepts) != getattr(self, "n_features_in_", None)
        ):
            raise ValueError(
                f"X has {shape[1]} features, one per concept of this transformer: concept "
                f"weights perhaps, but transform, score and cosine_similarity take embeddings "
                f"of {self.n_features_in_} features (inverse_transform turns weights back "
                "into embeddings)"
            )
        refuse_non_embeddings(X, embedder=self.embedder)
        cells = vectors_in_cells(X)
        if cells is not None:
            raise ValueError(cells)
        mistake = _columns_not_numbers(X)
        if mistake is not None:
            raise mistake
        # (an array's dtype, or a DataFrame's columns', each of its own)
        of_columns = getattr(X, "dtypes", None)
        held = [getattr(X, "dtype", None), *(() if of_columns is None else list(of_columns))]
        found = next((t for t in held if getattr(t, "kind", None) == "c"), None)
        if found is not None:  # (begun as scikit-learn's message, which held the whole array)
            raise ValueError(
                f"Complex data not supported: X holds complex numbers (dtype {found}) of "
                f"shape {shape}, and embeddings are real (X.real, if their imaginary parts "
                "are zero)"
            )
        fitted_width = getattr(self, "n_features_in_", None)
        if (
            not reset
            and fitted_width is not None
            and shape is not None
            and len(shape) == 2
            and shape[1] != fitted_width
        ):
            # (scikit-learn's message says only that the widths differ)
            raise ValueError(
                f"X has {shape[1]} features, but SpliceTransformer is expecting "
                f"{fitted_width} features as input: the embeddings it was fitted on (of "
                "the model of its concepts). Embeddings of another model, or of another "
                "tower of another width, perhaps: embed X with the model the transformer "
                "was fitted for"
            )
        labels = row_labels(X)
        dtypes: list[Any] = float_dtypes(X)
        if keep_float16 and all_float16(X):
            dtypes.append(np.float16)
        X = validated(
            self,
            X,
            reset=reset,
            dtype=dtypes,
            ensure_all_finite=False,
            accept_sparse=False,
        )
        check_finite_rows(X, "X", labels, nan_rows_hint=SKIPPED_ROWS_HINT)
        return X

    # ----------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None) -> SpliceTransformer:
        """Learn the concept dictionary and the modality centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Dense embeddings of one modality (need not be normalised).
        y : array-like of shape (n_samples,) or None, default=None
            Not used, but a ``y`` of another length than ``X`` is refused
            (``ValueError``) before the vocabulary is embedded: a Pipeline gives
            its ``y`` to every step.

        Returns
        -------
        self : SpliceTransformer
            The fitted transformer.

        Raises
        ------
        ValueError
            For invalid parameters (among them an ``l1_penalty`` of 2 or more
            without ``target_l0``, at which every weight of every row is zero,
            and a ``device`` whose backend torch does not have), an empty ``X``, rows with NaN or
            infinite values (rows that are NaN throughout are told as the
            inputs ``CLIPEmbedder(on_error="skip")`` could not read), an ``X``
            of 3 or more dimensions (images perhaps), a vocabulary with blank
            or duplicate entries or entries of several lines, a
            ``concept_embeddings`` row count that does not match the vocabulary,
            an ``X`` whose number of features differs from the dictionary's
            dimension, a given centre of another width or
            of norm above 1 (not a mean of L2-normalised embeddings), no
            published mean for ``image_mean="pretrained"``, a centre to learn
            from one row or from rows that all point the same way, or an
            unreachable ``target_l0``. All but the dictionary's dimension are
            checked before the vocabulary is embedded.
        TypeError
            For a parameter of the wrong type (a bool or a string where a
            number is expected, a number where an option string is expected),
            or an ``X`` of file paths, texts or PIL images (the message names
            the ``CLIPEmbedder`` to apply first).

        Warns
        -----
        SmallMeanSampleWarning
            If the centre is learned from fewer than 100 rows.
        CentreMismatchWarning
            If an image centre not learned from ``X`` (the published mean, or
            the array given) does not point where 10 or more rows of ``X`` lie
            (cosine below 0.3 with their mean direction): ``X`` made by other
            CLIP weights than the centre's, or text embeddings. Said before the
            vocabulary is embedded.

        Notes
        -----
        A fit that raises, or is interrupted (``KeyboardInterrupt``), leaves the
        transformer as it was before the call: fitted as before, with the
        dictionary, centre and penalty of that fit, or not fitted.
        """
        self._check_params()
        check_y_length(X, y)  # (before the vocabulary is embedded)
        # (a fit that fails or is interrupted, Ctrl-C while the vocabulary is embedded or
        # target_l0 calibrated, leaves the transformer as it was)
        # (the embedder's weights, if they cannot be fetched, are said with what a file in
        # their stead would need: the published mean only where this centre is that mean)
        centre = own_centre_of(self.image_mean)
        with restored_on_failure(self), verbose_logging(self.verbose), centre:
            return self._fit(X)

    def _uncached_weights_note(self) -> str:
        """A sentence naming the CLIP weights of the embedder's pretrained tag that are
        not in the local cache (said beside a vocabulary that cannot be downloaded);
        empty for other embedders, checkpoint files, random or cached weights."""
        from .embedders import CLIPEmbedder

        if not isinstance(self.embedder, CLIPEmbedder) or self.concept_embeddings is not None:
            return ""
        from ._models import uncached_weights_note

        try:
            config = self.embedder._config("known")
            if config.pretrained_kind != "tag" or config.pretrained is None:
                return ""
            return uncached_weights_note(config.model, config.pretrained, config.cache_dir)
        except Exception:  # (said when the model is loaded)
            return ""

    def _concepts_beyond(self, names: Sequence[str]) -> tuple[dict[str, int], int | None]:
        """:func:`~sksplice._concepts.positions_in_vocabulary` of ``names`` for the
        concepts this fitted transformer keeps of its vocabulary."""
        from ._concepts import positions_in_vocabulary

        kept = [str(c) for c in getattr(self, "concepts_", ())]
        n_full = getattr(self, "_n_vocabulary", None)
        return positions_in_vocabulary(self.vocabulary, kept, n_full, self.data_home, names)

    def _concepts_cached(self, concepts: list[str], n_full: int | None) -> bool:
        """Whether the embeddings of ``concepts`` are cached, or cut from a cached longer
        beginning of the ``n_full`` entries they begin: no model is needed for them."""
        from ._concepts import whole_vocabulary
        from .dictionary import is_cached

        if is_cached(self.embedder, concepts, self.cache_dir):
            return True
        full = whole_vocabulary(self.vocabulary, concepts, n_full, self.data_home)
        return is_cached(self.embedder, concepts, self.cache_dir, prefix_of=full)

    def _cached_width(self, concepts: list[str], n_full: int | None) -> int | None:
        """The width of the cached embeddings that :meth:`_concepts_cached` finds, read
        without the model (None where none is cached)."""
        from ._concepts import whole_vocabulary
        from .dictionary import cached_width

        found = cached_width(self.embedder, concepts, self.cache_dir)
        if found is None:
            full = whole_vocabulary(self.vocabulary, concepts, n_full, self.data_home)
            found = cached_width(self.embedder, concepts, self.cache_dir, prefix_of=full)
        return found

    def _fetched_mean(
        self, X: np.ndarray, concepts: list[str], n_full: int | None, width: int | None
    ) -> tuple[np.ndarray, str, int | None]:
        """The modality centre (:func:`resolve_mean`); a published mean that cannot be
        downloaded is said with the CLIP weights the fit needs next that are not cached
        either (not when the concepts' embeddings are cached: no weights are needed)."""
        from .exceptions import DataFetchError

        try:
            centre = resolve_mean(self, X, X.shape[1], d_of_x=width is None)
        except DataFetchError as exc:
            note = self._uncached_weights_note()
            if note and not self._concepts_cached(concepts, n_full):
                raise type(exc)(f"{exc} {note}") from None
            raise
        if self.modality == "image" and centre[1] != "data":
            # (said before the concepts are embedded: minutes, the first time)
            if centre[1] == "pretrained":
                model, pretrained = self.embedder.model, self.embedder.pretrained
                source = f"the published image mean of {model!r}/{pretrained!r}"
            else:
                source = "the image_mean given"
            warn_if_centre_mismatched(X, centre[0], source, self.data_home)
        return centre

    def _checked_before_embedding(
        self, X: Any
    ) -> tuple[np.ndarray, list[str], int, int | None, list[Any] | None]:
        """What ``fit`` checks before the vocabulary is embedded (the parameters aside).

        ``X`` as embeddings, the vocabulary resolved (its file read), at least two
        concepts, the width of ``X`` against the concepts' where it is known without
        embedding them, and ``target_l0``. Returns the checked ``X``, the concepts,
        the number of entries of the full vocabulary, that width (None when
        unknown) and the column names of a frame ``X`` (for the width error).
        """
        # (a frame's column names, for the width error: scikit-learn keeps them in
        # feature_names_in_ only where all are strings)
        columns = getattr(X, "columns", None) if getattr(X, "ndim", None) == 2 else None
        columns = None if columns is None else list(columns)
        # (float16 rows, a memory-mapped file perhaps, are read a block at a time: not
        # copied whole into float64)
        X = self._validate_X(X, reset=True, keep_float16=True)
        from .exceptions import DataFetchError

        try:
            concepts, n_full = self._resolve_concepts()
        except DataFetchError as exc:
            # (offline, the published image mean the fit reads next is said now too)
            from .vocabulary import _published_files_missing

            also = _published_files_missing(
                None,
                getattr(self.embedder, "model", None),
                getattr(self.embedder, "pretrained", None),
                self.data_home,
                image_mean=self.modality == "image" and isinstance(self.image_mean, str),
            )
            also = " ".join(filter(None, [also, self._uncached_weights_note()]))
            if also:  # (of the same class: a DigestMismatchError stays one; one message)
                raise type(exc)(f"{exc} {also}") from None
            raise
        if not self.concepts_centered:
            check_two_concepts(concepts, n_full)
        # Everything that does not need the concepts' embeddings is checked before
        # they are computed (minutes for a large vocabulary on a CPU): the centre
        # (published, given or learned) against the width of X, and target_l0.
        width = self._concept_width(concepts, n_full)
        if width is not None and X.shape[1] != width:
            raise self._width_error(X.shape[1], width, columns, self._cached_as(concepts, n_full))
        self._check_target_l0(len(concepts), X.shape[1])
        return X, concepts, n_full, width, columns

    def _check_target_l0(self, n_concepts: int, d: int) -> None:
        """Refuse a ``target_l0`` that ``n_concepts`` concepts of width ``d`` cannot reach."""
        if self.target_l0 is not None:
            check_target_l0(
                float(self.target_l0),
                n_concepts,
                d,
                centred=not self.concepts_centered,  # (fit centres raw embeddings)
            )

    def _checked_without_samples(self) -> list[str]:
        """What :meth:`fit` checks before the concepts are embedded that depends on no
        sample (the parameters aside), for
        :func:`~sksplice.distributed.precompute_concept_embeddings` and
        :func:`~sksplice.pipeline.check_steps`: the vocabulary resolved (its file read),
        at least two concepts and, where the concepts' width is known without embedding
        them, ``target_l0`` and a centre given or published (read, downloaded if it must
        be) against it. A clone fitted on a worker refused these only after the
        vocabulary was embedded. Returns the concepts."""
        concepts, n_full = self._resolve_concepts()
        if not self.concepts_centered:
            check_two_concepts(concepts, n_full)
        width = self._concept_width(concepts, n_full)
        if width is None:
            return concepts
        self._check_target_l0(len(concepts), width)
        learned = (
            self.image_mean is None
            if self.modality == "image"
            else self.text_mean is None or isinstance(self.text_mean, str)
        )
        if not learned:
            resolve_mean(self, np.empty((0, width)), width)
        return concepts

    def _cached_as(self, concepts: list[str], n_full: int | None) -> tuple[str, int] | None:
        """The cache key and width of the cached dictionary the concepts are read from, for
        an embedder named by its user (not a :class:`~sksplice.CLIPEmbedder`, whose key
        names its weights); None otherwise. Asked before the concepts are read, where
        the cache alone told their width."""
        from .embedders import CLIPEmbedder

        key_fn = getattr(self.embedder, "cache_key", None)
        if isinstance(self.embedder, CLIPEmbedder) or not callable(key_fn):
            return None
        width = self._cached_width(concepts, n_full)
        return None if width is None else (str(key_fn()), width)

    def _width_error(
        self,
        n_features: int,
        d: int,
        names: list[Any] | None,
        cached: tuple[str, int] | None = None,
    ) -> ValueError:
        """The error for embeddings ``X`` of another width than the concepts' ``d`` (``names``:
        the column names of a frame ``X``, or None; ``cached``: the key and width of the
        cached dictionary the concepts were read from, see :meth:`_cached_as`)."""
        hint = ""
        if self.concept_embeddings is not None:
            # (which of the two is of another model, only the caller knows: both named)
            hint = (
                f" (the concept dictionary is the concept_embeddings given, of d={d}: if X "
                "is right, they are another model's)"
            )
        if cached is not None and cached[1] == d:
            # (a key reused after its model changed: the cache is another model's)
            hint = (
                f" (d is that of the dictionary cached for the embedder's key {cached[0]!r}: "
                "if that key now names another model, give the embedder another name, or "
                "remove that key's files from the cache folder)"
            )
        # (fitted on a DataFrame just now, with a column or two more than the concepts'
        # width: a label or an id left in it; many more is another model's embeddings)
        if names and len(names) == n_features and 0 < n_features - d <= 3:

            def shown(name: Any) -> str:  # (numbered columns as numbers: 0 to 512)
                if isinstance(name, int | np.integer) and not isinstance(name, bool):
                    return str(int(name))
                return repr(str(name))

            hint = (
                f" (X is a DataFrame of {n_features} columns, {shown(names[0])} to "
                f"{shown(names[-1])}: is one of them not an embedding dimension, a label or "
                "an id?)"
            )
        return ValueError(
            f"X has {n_features} features but the concept dictionary has d={d} dimensions: "
            f"X must be embeddings from the same model as the concepts{hint}"
        )

    def _fit(self, X: Any) -> SpliceTransformer:
        X, concepts, n_full, width, columns = self._checked_before_embedding(X)
        needs_concepts = self.modality == "text" and isinstance(self.text_mean, str)
        centre = None if needs_concepts else self._fetched_mean(X, concepts, n_full, width)
        raw = self._raw_concept_embeddings(concepts, n_full)
        from .vocabulary import VOCABULARIES

        vocabulary = self.vocabulary
        named = vocabulary if isinstance(vocabulary, str) and vocabulary in VOCABULARIES else None
        duplicates = warn_duplicate_concepts(raw, concepts, named)
        if self.concepts_centered:
            dictionary, concept_mean = centred_dictionary(raw)
        else:
            dictionary, concept_mean = build_dictionary(raw, concepts)
        d = dictionary.shape[1]
        if X.shape[1] != d:
            raise self._width_error(X.shape[1], d, columns)
        if centre is None:
            centre = resolve_mean(self, X, d, concept_mean=concept_mean)
        self.concepts_ = np.asarray(concepts, dtype=object)
        self._n_vocabulary = n_full  # (the entries the concepts kept begin: see concepts_beyond)
        # Stored in float64; the solver computes its large products in float32
        # and certifies (and if needed finishes) every row in float64.
        self.dictionary_ = np.ascontiguousarray(dictionary, dtype=np.float64)
        self.concept_mean_ = np.asarray(concept_mean, dtype=np.float64)
        self.mean_, self.mean_source_, self.n_mean_samples_ = centre
        from .solvers._cache import digest

        self._dictionary_digest = digest(self.dictionary_)
        # (concepts embedded exactly alike: each row's weight of them split equally)
        self._duplicate_columns = exact_duplicate_columns(self.dictionary_, duplicates)
        if self.target_l0 is None:
            self.l1_penalty_ = float(self.l1_penalty)
            self.__dict__.pop("calibration_l0_", None)  # of an earlier fit with target_l0
        else:
            self.l1_penalty_, self.calibration_l0_ = self._calibrate(X)
        record_params(self, _FIT_PARAMS)
        return self

    def _warn_if_set_after_fit(self, *, penalty: bool = True) -> None:
        """Warn about parameters that ``fit`` reads, set since ``fit``.

        ``transform`` solves with the fitted concepts, dictionary and centre at
        the fitted ``l1_penalty_`` (the penalty, or the one calibrated for
        ``target_l0``); ``set_params(vocabulary=...)`` or
        ``set_params(l1_penalty=...)`` on a fitted transformer changes nothing
        until ``fit`` runs again. ``penalty=False``: not the parameters of the
        penalty (``inverse_transform`` uses none).
        """
        at_fit = params_at_fit(self)
        if not at_fit:
            return
        at_fit = dict(at_fit)
        penalty_now = f"the fitted l1_penalty_={self.l1_penalty_:g}"
        calibrated = at_fit.get("target_l0") is not None
        if not penalty:
            for name in ("l1_penalty", "target_l0", "calibration_samples", "random_state"):
                at_fit.pop(name, None)
        elif calibrated or self.target_l0 is not None:
            # (a calibration starts its search from l1_penalty: changing it is no news)
            at_fit.pop("l1_penalty", None)
        if not calibrated:  # (they only matter to a calibration)
            at_fit.pop("calibration_samples", None)
            at_fit.pop("random_state", None)
        uses = {name: what or penalty_now for name, what in _FIT_PARAMS.items()}
        warn_set_after_fit(self, uses, "what it fitted", at_fit)

    # ------------------------------------------------------------- solving
    def _get_lasso(self) -> Any:
        # The solver lives in a process-wide cache keyed by the dictionary's
        # content digest (computed in fit) and the device: it is never pickled,
        # clones and unpickled copies find it again, and transform leaves the
        # estimator's __dict__ untouched.
        from .solvers._cache import shared_lasso

        return shared_lasso(self.dictionary_, self._dictionary_digest, self.device)

    def _center(self, X: np.ndarray) -> np.ndarray:
        """``normalise(normalise(X) - mean_)``, scale-invariant, zero for zero rows."""
        return center_rows(X, self.mean_)

    def _targets(self, X: np.ndarray) -> Any:
        """The centred rows of ``X`` (:meth:`_center`), made a solver chunk at a time.

        The zero rows of ``X`` are warned about now; each chunk of rows is
        centred when the solver reaches it, so that the memory of a
        decomposition follows ``memory_budget`` rather than the number of rows.
        """
        from .solvers._rows import LazyRows

        warn_zero_rows(X)
        mean = self.mean_

        def make(rows: np.ndarray) -> np.ndarray:
            # (float16 rows are solved in float32, as the float32 rows would be)
            return center_rows(as_solved(rows), mean, warn_zero=False)

        # A centred row has norm 1 up to rounding in X.dtype, or 0.
        return LazyRows(X, make, norm_bound=2.0)

    @checks_parameters
    def _solver_options(self) -> dict[str, Any]:
        # The parameters read when solving, settable after fit: checked by the rules
        # and names of fit (the solver's own checks name max_iter, and allow tol=0)
        from .solvers import SOLVERS

        validate_params(self, {name: self._param_rules[name] for name in _SOLVE_PARAMS})
        check_option(self.solver, "solver", SOLVERS)
        kwargs: dict[str, Any] = {"solver": self.solver, "tol": self.tol}
        if self.transform_max_iter is not None:
            kwargs["max_iter"] = self.transform_max_iter
        if self.memory_budget is not None:
            kwargs["memory_budget"] = self.memory_budget
        return kwargs

    def _solve(self, V: Any, penalty: float, warm_start: Any = None, on_rows: Any = None) -> Any:
        kwargs = self._solver_options()
        if warm_start is not None:
            kwargs["warm_start"] = warm_start
        if on_rows is not None:
            kwargs["progress"] = on_rows
        # V is centred (now or a chunk at a time) from an X that _validate_X has
        # checked: no second check. (l1_penalty=0 is refused here: the solver's advice
        # leaves it out.)
        from .solvers._lasso import zero_penalty_refused

        with zero_penalty_refused():
            return self._get_lasso().solve(V, penalty, check_input=False, **kwargs)

    def _solve_path(self, V: Any, penalties: Any) -> list[Any]:
        """The solutions at ``penalties`` (see :meth:`NonNegLasso.solve_path`)."""
        from .solvers._lasso import zero_penalty_refused

        with zero_penalty_refused():
            return self._get_lasso().solve_path(
                V, penalties, check_input=False, **self._solver_options()
            )

    def _split_duplicates(self, W: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
        """``W`` with each row's weight of concepts embedded exactly alike split equally
        between them (the solvers' split is arbitrary: any has the same objective)."""
        # (a transformer fitted by a release without the record: as solved)
        return split_duplicate_weights(W, getattr(self, "_duplicate_columns", []))

    def _codes_weights(self, codes: Any, dtype: Any = None) -> scipy.sparse.csr_matrix:
        """The CSR weights of the solver's ``codes`` as ``transform`` gives them (of
        ``dtype``; explicit zeros dropped, a weight of concepts embedded alike split)."""
        W = scipy.sparse.csr_matrix(codes.to_csr(), dtype=dtype)
        W.eliminate_zeros()
        return self._split_duplicates(W)

    def _weights(self, X: np.ndarray) -> scipy.sparse.csr_matrix:
        """CSR weights of validated embeddings ``X`` (dtype follows ``X``)."""
        return self._weights_and_stats(X)[0]

    def _decomposed(self, X: np.ndarray) -> scipy.sparse.csr_matrix:
        """:meth:`_weights` of ``X`` with the warnings :meth:`transform` gives about them
        (a penalty that leaves the rows without a concept, or nearly dense): for the
        methods that decompose embeddings themselves (``score``, ``l0``, ...)."""
        W = self._weights(X)
        self._warn_about_codes(W, X)
        return W

    def _weights_and_stats(self, X: np.ndarray) -> tuple[scipy.sparse.csr_matrix, TransformStats]:
        self._warn_if_set_after_fit()
        quiet = not self.verbose or getattr(_BLOCK_OF_MORE, "active", False)
        with progress(
            X.shape[0], desc="decomposing", unit="row", disable=quiet, delay=_BAR_DELAY
        ) as bar:
            on_rows = None if quiet else bar.update  # (only a bar shown cuts the rows finer)
            codes = self._solve(self._targets(X), self.l1_penalty_, on_rows=on_rows)
        W = self._codes_weights(codes, _weights_dtype(X))
        gaps = np.asarray(codes.row_gaps, dtype=np.float64).copy()
        stats = TransformStats(
            n_iter=int(codes.n_iter),
            gaps=gaps,
            max_gap=float(gaps.max(initial=0.0)),
            converged=bool(codes.converged),
            tol=float(self.tol),
        )
        return W, stats

    # ----------------------------------------------------------- transform
    def transform(self, X: Any) -> Any:
        """Decompose embeddings into sparse non-negative concept weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Dense embeddings of the modality the transformer was fitted on.

        Returns
        -------
        W : scipy.sparse.csr_matrix, ndarray or DataFrame of shape (n_samples, n_concepts)
            Concept weights; the container follows ``output`` and
            ``set_output`` (a pandas sparse DataFrame for ``output="sparse"``
            with pandas output).

        Raises
        ------
        ValueError
            If ``X`` has the wrong number of features, is empty, has 3 or more
            dimensions (images perhaps), or holds NaN or infinite values (the
            rows are named, and rows that are NaN throughout are told as the
            inputs ``CLIPEmbedder(on_error="skip")`` could not read).
        TypeError
            If ``X`` holds file paths, texts or PIL images rather than
            embeddings (the message names the ``CLIPEmbedder`` to apply first).

        Warns
        -----
        UserWarning
            If ``X`` has two rows or more and none of them holds a concept (a
            penalty just below 2), or 10 rows or more and more than half of them
            hold none (a penalty above the useful range; not where ``target_l0``
            asked for so few concepts). Rows of ``X`` that are all zero (warned
            about as such) are not counted.
        DenseCodesWarning
            If the rows keep more concepts than half the dimensions of ``X``,
            and more than 64, on average (a penalty far below the useful range;
            not where ``target_l0`` asked for such codes).
        """
        check_is_fitted(self)
        _weights.check_output(self)  # before the solve, not after it
        X_in = X
        X = self._validate_X(X, reset=False, keep_float16=True)
        _weights.check_dense_fits(self, X.shape[0], _weights_dtype(X))
        W = self._decomposed(X)
        return _weights.format_weights(self, W, X_in, wrapped=True, targets=X)

    def _warn_about_codes(
        self, W: scipy.sparse.csr_matrix, X: np.ndarray, penalty: float | None = None
    ) -> None:
        """Warn when the weights ``W`` of a transform of ``X`` hold no concept at all, or
        are nearly dense (:class:`DenseCodesWarning`): the penalty is far from useful.
        The rows of ``X`` that are all zero (warned about as such) hold no concept at any
        penalty, and are not counted. ``penalty``: the penalty of weights of a path
        (:func:`~sksplice.path.splice_path`), given whatever ``target_l0`` is; None: the
        fitted ``l1_penalty_``."""
        n, d = W.shape[0], self.n_features_in_
        path = penalty is not None
        asked = self.target_l0 is None or path  # (not calibrated for)
        penalty = self.l1_penalty_ if penalty is None else penalty
        whole = not getattr(_BLOCK_OF_MORE, "active", False)  # (not a chunk of a run)
        empty = n - int(np.count_nonzero(np.diff(W.indptr)))
        counted = n  # (the rows with a direction)
        if whole and (W.nnz == 0 or _mostly_empty(empty, n)):
            # (the zero rows looked for only where a warning would follow: one more pass)
            n_zero = int(zero_rows(X).sum())
            counted, empty = n - n_zero, empty - n_zero
        if whole and W.nnz and asked and _mostly_empty(empty, counted):
            # (the counts differ from fold to fold of a search: shown once per penalty)
            warn_user(
                _mostly_empty_message(empty, counted, penalty),
                UserWarning,
                once_as=f"most rows without a concept at l1_penalty={penalty:g}",
            )
        if counted > 1 and W.nnz == 0 and whole:
            # (a penalty just below 2 is accepted, and gives this; the CLI says it too)
            # (without the number of rows: the folds of a search, of other sizes, gave as
            # many warnings as folds for one setting)
            # (a path's penalties are the caller's: target_l0 does not choose them)
            target = (
                ""
                if path
                else ", or set target_l0 to have fit find the penalty for a number of concepts"
            )
            warn_user(
                f"every row of X decomposes to no concept at "
                f"l1_penalty={penalty:g}: no concept's correlation with a row "
                "reaches the penalty. A smaller l1_penalty keeps more concepts (useful "
                f"penalties lie mostly from 0.05 to 0.5){target}",
                UserWarning,
            )
        mean_l0 = W.nnz / n if n else 0.0
        # (not where target_l0 asked for codes this long: the penalty follows from it)
        if asked and _nearly_dense(mean_l0, d):
            # (the mean differs from fold to fold of a search: shown once per penalty)
            once_as = f"nearly dense codes at l1_penalty={penalty:g}"
            warn_user(_dense_codes(mean_l0, d, penalty), once_as=once_as)

    def transform_with_stats(self, X: Any) -> tuple[Any, TransformStats]:
        """Decompose embeddings and report how the solver did on them.

        The weights are those of :meth:`transform` (same container). The
        solver statistics are returned rather than stored on the estimator, so
        that a fitted transformer is never modified by decomposing data (as
        scikit-learn requires of ``transform``) and concurrent calls do not
        overwrite each other's report.

        Parameters
        ----------
        X : array-like of shape (n_samples, d)
            Dense embeddings of the modality the transformer was fitted on.

        Returns
        -------
        W : scipy.sparse.csr_matrix, ndarray or DataFrame of shape (n_samples, n_concepts)
            Concept weights, as returned by :meth:`transform`.
        stats : TransformStats
            ``n_iter`` (the largest number of solver iterations any row
            needed), ``gaps`` (relative duality gap of each row), ``max_gap``
            (the worst of them), ``converged`` (every gap at most ``tol``) and
            ``tol``.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> splice = SpliceTransformer(vocabulary=list("abcdef"),
        ...                            concept_embeddings=rng.normal(size=(6, 8)),
        ...                            l1_penalty=0.1, device="cpu").fit(rng.normal(size=(200, 8)))
        >>> W, stats = splice.transform_with_stats(rng.normal(size=(4, 8)))
        >>> stats.gaps.shape, bool(stats.max_gap <= stats.tol), stats.n_iter >= 1
        ((4,), True, True)
        """
        check_is_fitted(self)
        _weights.check_output(self)  # before the solve, not after it
        X_in = X
        X = self._validate_X(X, reset=False, keep_float16=True)
        _weights.check_dense_fits(self, X.shape[0], _weights_dtype(X))
        W, stats = self._weights_and_stats(X)
        self._warn_about_codes(W, X)
        return _weights.format_weights(self, W, X_in, targets=X), stats

    # --------------------------------------------------------- calibration
    def _calibrate(self, X: np.ndarray) -> tuple[float, float]:
        """Penalty whose mean l0 on a sample of ``X`` is within ±10% of ``target_l0``."""
        return calibrate_penalty(
            X,
            dictionary=self.dictionary_,
            target_l0=cast(float, self.target_l0),  # (fit calibrates only with a target)
            l1_penalty=self.l1_penalty,
            calibration_samples=self.calibration_samples,
            random_state=self.random_state,
            center=lambda rows: self._center(as_solved(rows)),
            solve=self._solve,
            verbose=self.verbose,
            logger=logger,
            row_l0=self._row_l0 if getattr(self, "_duplicate_columns", []) else None,
        )

    def _row_l0(self, codes: Any) -> np.ndarray:
        """Each row's number of non-zero weights of the solver's ``codes`` as
        ``transform`` gives them (a weight of concepts embedded alike split)."""
        return np.diff(self._codes_weights(codes).indptr)
