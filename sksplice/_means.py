"""The modality centre: found by ``SpliceTransformer.fit``, removed by ``transform``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ._array import unit_rows
from ._stack import warn_user

if TYPE_CHECKING:
    from .transformer import SpliceTransformer

__all__ = [
    "MIN_MEAN_SAMPLES",
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


class SmallMeanSampleWarning(UserWarning):
    """The modality centre was learned from fewer than ``MIN_MEAN_SAMPLES`` rows.

    The learned centre, and with it every decomposition, then depends on which
    other rows were in ``X``; give a published or precomputed mean, or fit on
    more rows.
    """


def learned_mean(X: np.ndarray) -> np.ndarray:
    """Mean of the unit-norm non-zero rows of ``X`` (float64)."""
    U = unit_rows(np.asarray(X, dtype=np.float64, order="C"))  # (one copy at most)
    nonzero = U.any(axis=1)
    if not nonzero.any():
        raise ValueError(
            "every row of X is zero: the centre of the embeddings cannot be learned from "
            "them (give image_mean, or text_mean with modality='text')"
        )
    return U[nonzero].mean(axis=0)


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
    n_zero = int((~np.asarray(X).any(axis=1)).sum())
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
    if not center_rows(X, mean, warn_zero=False).any():
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
    shown = ", ".join(str(int(r)) for r in rows[:5])
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    warn_user(
        f"X row(s) {shown}{more} are all zero: a zero embedding has no direction, "
        "so its concept weights are all zero",
        UserWarning,
    )
