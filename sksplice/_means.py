"""The modality centre: found by ``SpliceTransformer.fit``, removed by ``transform``."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from ._array import unit_rows
from ._names import listed
from ._stack import warn_user
from .exceptions import CentreMismatchWarning, SmallMeanSampleWarning

if TYPE_CHECKING:
    from .transformer import SpliceTransformer

__all__ = [
    "MIN_MEAN_SAMPLES",
    "CentreMismatchWarning",
    "SmallMeanSampleWarning",
    "center_rows",
    "learned_mean",
    "resolve_mean",
    "warn_zero_rows",
]

#: Fewest rows from which a learned modality centre (``image_mean=None``) is
#: taken to be stable; below it ``fit`` warns with
#: :class:`~sksplice.exceptions.SmallMeanSampleWarning`.
MIN_MEAN_SAMPLES = 100


#: A centred row is zero when its norm is below this many ``sqrt(d) * eps``.
_ZERO_NORM_ULPS = 4.0

#: Fewest non-zero rows of ``X`` whose mean direction ``fit`` compares with an image
#: centre it did not learn from them (:class:`CentreMismatchWarning`): fewer, of one
#: subject perhaps, say little of where the model's embeddings lie.
MIN_CENTRE_CHECK_ROWS = 10
#: Most rows of ``X`` read for that comparison (evenly spaced over it), and how many at once.
_CENTRE_CHECK_MAX_ROWS = 10_000
_CENTRE_CHECK_BLOCK = 1024
#: Cosine between the mean direction of the rows and a centre below which the rows are
#: said not to lie around it. The published image means of different CLIP weights of
#: the same width are nearly orthogonal to each other (cosines from -0.009 to 0.023):
#: rows of one model around another's centre score near 0.
CENTRE_MISMATCH_COSINE = 0.3
#: A cosine at or below this one: the centre points away from the rows, as a negated mean.
_OPPOSITE = -0.9
#: What made ``X`` lie away from the centre, by whether the centre points the opposite way.
_CAUSES = {
    False: "embeddings of other CLIP weights (the published means of different weights are "
    "nearly orthogonal) or of texts",
    True: "embeddings of these weights centred by a mean whose sign was flipped (it points "
    "the opposite way)",
}


def _mean_direction(X: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The mean of the unit-norm non-zero rows of ``X`` (at most
    ``_CENTRE_CHECK_MAX_ROWS`` of them, evenly spaced) and their number; None when
    fewer than ``MIN_CENTRE_CHECK_ROWS``."""
    n = X.shape[0]
    rows = np.linspace(0, n - 1, min(n, _CENTRE_CHECK_MAX_ROWS)).astype(np.intp)
    total, n_rows = np.zeros(X.shape[1]), 0
    # (a block of rows at a time in float64: not a float64 copy of 10,000 float16 rows)
    for start in range(0, rows.size, _CENTRE_CHECK_BLOCK):
        U = unit_rows(np.asarray(X[rows[start : start + _CENTRE_CHECK_BLOCK]], dtype=np.float64))
        kept = U.any(axis=1)
        total += U[kept].sum(axis=0)
        n_rows += int(kept.sum())
    return (total / n_rows if n_rows >= MIN_CENTRE_CHECK_ROWS else None), n_rows


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms > 0 else 0.0


class CentreMismatch(NamedTuple):
    """How far the rows of ``X`` lie from a centre (:func:`centre_mismatch`)."""

    cosine: float  # (of the mean direction of the rows with the centre)
    n_samples: int  # (the rows it was measured on)
    fits: tuple[str, str, float] | None  # (a published mean that fits: model, tag, cosine)


def centre_mismatch(
    X: np.ndarray, mean: np.ndarray, data_home: Any = None
) -> CentreMismatch | None:
    """How far the rows of ``X`` lie from the image centre ``mean``, where they do not lie
    around it (:class:`CentreMismatchWarning`); None where they do, where ``X`` has too
    few non-zero rows to tell, or where the centre is zero (no centring asked for)."""
    mean = np.asarray(mean, dtype=np.float64)
    if not mean.any():
        return None
    direction, n = _mean_direction(X)
    if direction is None:
        return None
    cosine = _cosine(direction, mean)
    if cosine >= CENTRE_MISMATCH_COSINE:
        return None
    return CentreMismatch(cosine, n, _published_mean_that_fits(direction, data_home))


def warn_if_centre_mismatched(
    X: np.ndarray, mean: np.ndarray, source: str, data_home: Any = None
) -> None:
    """Warn (:class:`CentreMismatchWarning`) when the image centre ``mean`` (said as
    ``source``) does not point where the rows of ``X`` lie; name a published image mean
    of the same width, already in the data home, that fits them."""
    found = centre_mismatch(X, mean, data_home)
    if found is None:
        return
    instead = (
        f" (X fits the published image mean of {found.fits[0]!r}/{found.fits[1]!r}: "
        f"cosine {found.fits[2]:.2f})"
        if found.fits is not None
        else ""
    )
    warn_user(
        CentreMismatchWarning(
            f"the rows of X do not lie around {source}: the mean direction of "
            f"{found.n_samples} of them has cosine {found.cosine:.2f} with it (below "
            f"{CENTRE_MISMATCH_COSINE}), so every centred row keeps their common offset and "
            f"the concepts found explain it. X may be {_CAUSES[found.cosine <= _OPPOSITE]}. Give "
            f"the embedder (or image_mean) of the model and weights that made X{instead}, or "
            "learn the centre from X with image_mean=None",
            found.cosine,
            found.n_samples,
        ),
        # (the cosine and rows differ from fold to fold of a search: said once)
        once_as=f"the rows of X do not lie around {source}",
    )


def _published_mean_that_fits(
    direction: np.ndarray, data_home: Any
) -> tuple[str, str, float] | None:
    """The published image mean of the width of ``direction`` that fits it best, above
    ``CENTRE_MISMATCH_COSINE``, among those already in the data home (nothing is
    downloaded): ``(model, pretrained, cosine)``, or None."""
    from ._data import resolve_in_data_home
    from .vocabulary import IMAGE_MEANS, load_image_mean

    best: tuple[str, str, float] | None = None
    seen: set[str] = set()
    for (model, pretrained), remote in IMAGE_MEANS.items():
        if remote.path in seen:  # (a -quickgelu name shares its model's file)
            continue
        seen.add(remote.path)
        try:
            if not resolve_in_data_home(remote.path, data_home, create=False).is_file():
                continue
            mean = np.asarray(load_image_mean(model, pretrained, data_home=data_home))
        except Exception:  # (a file that cannot be read is said where it is used)
            continue
        if mean.shape != direction.shape:
            continue
        cosine = _cosine(direction, mean.astype(np.float64))
        if cosine >= CENTRE_MISMATCH_COSINE and (best is None or cosine > best[2]):
            best = (model, pretrained, cosine)
    return best


#: Rows of ``X`` read at a time to learn its centre, or to check that it leaves one: a
#: large (memory-mapped, float16) ``X`` is not copied whole as float64.
_MEAN_BLOCK = 16_384


#: The rows whose learned mean is known (:func:`learned_mean_known`), and that mean.
_KNOWN = threading.local()


@contextlib.contextmanager
def learned_mean_known(X: np.ndarray, mean: np.ndarray) -> Iterator[None]:
    """Within the block, :func:`learned_mean` of the rows of ``X`` (the same memory read
    the same way: ``X`` itself, or an array that validation left uncopied) is ``mean``,
    computed from them already (by :func:`learned_mean`), and they are not read again:
    a run that checks the centre of a million rows before the vocabulary is embedded
    does not read them once more in ``fit``."""
    before = getattr(_KNOWN, "value", None)
    _KNOWN.value = (_layout(X), np.array(mean, dtype=np.float64))
    try:
        yield
    finally:
        _KNOWN.value = before


def _layout(X: np.ndarray) -> tuple[Any, ...]:
    """Where and how ``X`` holds its values: equal for arrays of the same rows."""
    return (X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str)


def learned_mean(X: np.ndarray) -> np.ndarray:
    """Mean of the unit-norm non-zero rows of ``X`` (float64), read
    :data:`_MEAN_BLOCK` rows at a time (one block: the same bits as their mean)."""
    known = getattr(_KNOWN, "value", None)
    if known is not None and isinstance(X, np.ndarray) and known[0] == _layout(X):
        return known[1].copy()
    total = np.zeros(X.shape[1], dtype=np.float64)
    count = 0
    for start in range(0, X.shape[0], _MEAN_BLOCK):
        U = unit_rows(np.asarray(X[start : start + _MEAN_BLOCK], dtype=np.float64, order="C"))
        nonzero = U.any(axis=1)
        total += U[nonzero].sum(axis=0)
        count += int(nonzero.sum())
    if not count:
        raise ValueError(
            "every row of X is zero: the centre of the embeddings cannot be learned from "
            "them (give image_mean, or text_mean with modality='text')"
        )
    return total / count


def any_centred_row(X: np.ndarray, mean: np.ndarray) -> bool:
    """Whether a row of ``X`` keeps a direction once centred by ``mean`` (not where
    they all point the same way): read :data:`_MEAN_BLOCK` rows at a time, up to the
    first block that has one."""
    return any(
        center_rows(as_solved(X[start : start + _MEAN_BLOCK]), mean, warn_zero=False).any()
        for start in range(0, X.shape[0], _MEAN_BLOCK)
    )


def as_solved(rows: np.ndarray) -> np.ndarray:
    """``rows`` in the precision they are solved in: float16 rows in float32."""
    return rows.astype(np.float32) if rows.dtype == np.float16 else rows


def resolve_mean(
    est: SpliceTransformer,
    X: np.ndarray,
    d: int,
    concept_mean: np.ndarray | None = None,
    *,
    d_of_x: bool = False,
) -> tuple[np.ndarray, str, int | None]:
    """The centre ``mean_`` of ``est`` for ``X``, its ``mean_source_`` and ``n_mean_samples_``.

    Nothing is set on ``est``. ``concept_mean`` is needed only for
    ``text_mean="concepts"`` (the mean of the concept embeddings); every other
    centre is resolved, and checked against ``d``, before the concepts are
    embedded. ``d_of_x``: ``d`` is the width of ``X`` (the concepts' is not known
    yet), and a centre of another length is said to disagree with ``X``, not with
    the concept dictionary.
    """
    from .vocabulary import _mean_vector

    width = (
        "X has {d} features: the centre and X must both be embeddings of the model that "
        "embeds the concepts (one of them is of another model)"
        if d_of_x
        else "the concept dictionary has d={d} dimensions"
    )
    if est.modality == "text":
        if est.text_mean is None:
            return _learn_mean(X, "text_mean", "text_mean='concepts'")
        if isinstance(est.text_mean, str):  # "concepts", checked in _check_params
            if concept_mean is None:
                raise ValueError("text_mean='concepts' needs the mean of the concept embeddings")
            return np.asarray(concept_mean, dtype=np.float64).copy(), "concepts", None
        return _mean_vector(est.text_mean, d, "text_mean", width), "given", None
    if est.image_mean is None:
        return _learn_mean(X, "image_mean", "image_mean='pretrained'")
    if isinstance(est.image_mean, str):  # "pretrained", checked in _check_params
        model = getattr(est.embedder, "model", None)
        pretrained = getattr(est.embedder, "pretrained", None)
        if not isinstance(model, str) or not hasattr(est.embedder, "pretrained"):
            # (a SentenceTransformerEmbedder has a model name, and no CLIP weights)
            raise ValueError(_no_published_mean(est.embedder))
        from .vocabulary import load_image_mean

        mean = np.asarray(load_image_mean(model, pretrained, data_home=est.data_home))
        source, kind = f"the published image mean of {model!r}/{pretrained!r}", "pretrained"
    else:
        mean, source, kind = est.image_mean, "image_mean", "given"
    return _mean_vector(mean, d, source, width), kind, None


def _no_published_mean(embedder: Any) -> str:
    """Why ``image_mean='pretrained'`` finds no mean for ``embedder``, and what to do."""
    from .vocabulary import IMAGE_MEANS

    models = ", ".join(sorted({f"{m}/{p}" for m, p in IMAGE_MEANS}))
    said = (
        "image_mean='pretrained' needs an embedder with .model and .pretrained (such as "
        "CLIPEmbedder) to find the published image mean of its CLIP model; got "
    )
    if embedder is None:
        return (
            f"{said}embedder=None. Pass the published mean of the CLIP model of your "
            "embeddings itself: image_mean=sksplice.vocabulary.load_image_mean(model, "
            f"pretrained), published for {models}; or learn the centre from X with "
            "image_mean=None"
        )
    return (
        f"{said}embedder={type(embedder).__name__}, which names no CLIP model and weights. "
        f"Image means are published only for CLIP models ({models}): for embeddings of "
        "one of them, pass its mean (image_mean=sksplice.vocabulary.load_image_mean(model, "
        "pretrained)); for embeddings of another model, learn the centre from X with "
        "image_mean=None or pass a mean of your own embeddings as an array of shape (d,) "
        "(for text embeddings, modality='text' with text_mean)"
    )


def _learn_mean(X: np.ndarray, param: str, alternative: str) -> tuple[np.ndarray, str, int]:
    """The centre learned from ``X`` (``param=None``), refused or warned about when small.

    Rows that are all zero have no direction: the centre is learned from the others,
    and counted on them.
    """
    n_zero = int(zero_rows(X).sum())
    n = X.shape[0] - n_zero
    left_out = (
        f", besides {n_zero} all-zero row{'s' if n_zero != 1 else ''} without a direction"
        if n_zero
        else ""
    )
    if n < 2 and n_zero == 0:
        raise ValueError(
            f"{param}=None cannot learn the modality centre from {n} sample: the "
            "centred row would be zero and so would its weights. Fit on more rows (at "
            f"least {MIN_MEAN_SAMPLES} give a stable centre), or pass "
            f"{alternative} or a precomputed mean array of shape (d,)"
        )
    mean = learned_mean(X)
    if n < 2:
        raise ValueError(
            f"{param}=None cannot learn the modality centre from {n} non-zero row{left_out}: "
            "the centred row would be zero and so would its weights. Fit on more rows (at "
            f"least {MIN_MEAN_SAMPLES} give a stable centre), or pass "
            f"{alternative} or a precomputed mean array of shape (d,)"
        )
    if not any_centred_row(X, mean):
        raise ValueError(
            f"{param}=None cannot learn the modality centre from X ({n} rows of "
            f"{X.shape[1]} feature(s)): its rows all point the same way (the same embedding "
            "repeated, e.g. one image given twice), so every centred row, and every weight, "
            f"would be zero. Fit on different rows, or pass {alternative} or a precomputed "
            "mean array of shape (d,)"
        )
    if n < MIN_MEAN_SAMPLES:
        warn_user(
            f"{param}=None learns the modality centre from only {n} rows{left_out} (fewer "
            f"than {MIN_MEAN_SAMPLES}): the decomposition of each row depends on "
            f"which other rows are in X. Fit on more rows, or pass {alternative} "
            "or a precomputed mean",
            SmallMeanSampleWarning,
            # (once for every fit of a search, whatever the rows of each fold)
            once_as=f"{param}=None learns the modality centre from fewer than "
            f"{MIN_MEAN_SAMPLES} rows",
        )
    return mean, "data", int(n)


def center_rows(X: np.ndarray, mean: np.ndarray, *, warn_zero: bool = True) -> np.ndarray:
    """``normalise(normalise(X) - mean)``, scale-invariant, zero for zero rows.

    Rows are scaled by their largest absolute value before the norm is
    taken (no overflow or underflow of the squares), and a centred row whose
    norm is below what rounding in ``X.dtype`` can produce is zero. Zero rows
    of ``X`` are warned about unless ``warn_zero`` is False.
    """
    U = unit_rows(X)
    zero = cast(np.ndarray, ~U.any(axis=1))  # (an array: one bool per row of a 2-D U)
    if warn_zero:
        _warn_zero(zero)
    C = U - mean.astype(X.dtype)
    C[zero] = 0.0
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    # Rounding leaves |C| ~ eps * (1 + |mean_|) for a row equal to the centre.
    threshold = _ZERO_NORM_ULPS * math.sqrt(C.shape[1]) * float(np.finfo(C.dtype).eps)
    keep = norms > threshold
    out = np.where(keep, C / np.where(keep, norms, 1.0), 0.0).astype(X.dtype, copy=False)
    return np.ascontiguousarray(out)


#: Rows of ``X`` looked at together by :func:`warn_zero_rows`.
_ZERO_CHECK_ROWS = 8192


def zero_rows(X: np.ndarray) -> np.ndarray:
    """Whether each row of ``X`` is all zero, looked at in blocks of rows (no temporary
    the size of ``X``)."""
    n = X.shape[0]
    zero = np.zeros(n, dtype=bool)
    for start in range(0, n, _ZERO_CHECK_ROWS):
        stop = min(n, start + _ZERO_CHECK_ROWS)
        zero[start:stop] = ~X[start:stop].any(axis=1)
    return zero


def warn_zero_rows(X: np.ndarray) -> None:
    """Warn, as :func:`center_rows` does, about the all-zero rows of ``X``."""
    _warn_zero(zero_rows(X))


def _warn_zero(zero: np.ndarray) -> None:
    """Warn that the rows where ``zero`` is True are all zero (nothing if there are none)."""
    if not zero.any():
        return
    rows = np.flatnonzero(zero)
    warn_user(
        f"X row(s) {listed(rows, 5)} are all zero: a zero embedding has no direction, "
        "so its concept weights are all zero",
        UserWarning,
    )
