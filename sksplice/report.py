"""Self-contained static HTML reports of concept decompositions: an offline explorer.

The page needs no server, no network and no external assets. It is rendered from a
Jinja2 template with autoescaping on, so file, folder, class and concept names can never
inject markup; the data the page's script works on (every image's decomposition, the
ranking table, the class profiles) is embedded as one JSON document in a
``<script type="application/json">`` block whose ``<``, ``>`` and ``&`` are escaped, and
the script writes names into the page as text only. Thumbnails are embedded as ``data:``
URIs and must be images (``ImageResult`` refuses anything else).

In the page: a summary (images, classes, skipped images and why, histograms of the
number of concepts and of the cosine of the recomposition, the most frequent concepts,
the run settings); the ranking of the concepts that separate the classes as a sortable,
searchable table with the significant rows highlighted; the images, filterable by class
and name. A click on a concept lists the images where it is strongest; a click on an
image shows all its non-zero concepts, with bars on one scale for the whole page.
"""

from __future__ import annotations

import base64
import errno
import io
import logging
import math
import numbers
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ._atomic import PAGE_EXTENSIONS, atomic_write, check_writable, remove_stale_temporaries
from ._gc import gc_paused
from ._image_files import shown_message, shown_name
from ._names import a_type
from ._stack import warn_user

__all__ = ["ImageResult", "ReportPage", "render_report", "thumbnail_data_uri", "write_report"]

logger = logging.getLogger(__name__)

#: Longest side of the embedded thumbnails, in pixels (small: a report may hold
#: thousands of images).
THUMBNAIL_SIZE = 96

_DATA_URI = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}")

#: How many of the most frequent concepts the summary shows.
_N_FREQUENT = 20


@dataclass
class ImageResult:
    """Decomposition of one image, as shown in a report.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the image file (shown as the caption).
    concepts : list of (str, float)
        Concepts and their positive weights: all non-zero concepts of the
        image (what the page shows when the image is clicked), or its top ones.
        Kept largest first (put in that order when given in another).
    l0 : int
        Number of non-zero concept weights (at least as many as ``concepts``
        holds).
    cosine : float
        Cosine similarity between the embedding and its recomposition, from
        -1 to 1.
    label : str or None, default=None
        Class label, when known. A missing value (NaN, ``pd.NA``, as a pandas
        column of labels holds it) is no label, as None is: not a class named
        ``"nan"``.
    thumbnail : str or None, default=None
        The image as a ``data:image/(png|jpeg|gif|webp);base64,...`` URI. None
        makes one from ``path`` when the report is rendered (with
        :func:`thumbnail_data_uri`, the images in threads, side by side; a
        warning counts the files that cannot be read as images). ``""``: no
        preview, ``path`` not read (a caption, or an image not at hand).
    baseline_cosine : float, default=nan
        Cosine similarity between the embedding and the centre alone, what a
        recomposition from no concept scores
        (``SpliceTransformer.cosine_similarity(X, baseline=True)``): the page
        shows it beside ``cosine``, its mean beside the mean cosine. NaN (not
        known) leaves it out.

    Raises
    ------
    TypeError
        If ``path`` is not a path, ``concepts`` not a list of pairs, or
        ``l0``, ``cosine`` or ``baseline_cosine`` (or a concept's weight) not
        a number.
    ValueError
        If a concept is not a (name, weight) pair or its weight is not
        positive, ``l0`` is not a whole number of at least 0 or is below the
        number of concepts given, ``cosine`` or ``baseline_cosine`` is outside
        -1 to 1 (NaN, not known, is shown as such),
        or ``thumbnail`` is not such a data URI.
    """

    path: str
    concepts: list[tuple[str, float]]
    l0: int
    cosine: float
    label: str | None = None
    thumbnail: str | None = field(default=None, repr=False)
    baseline_cosine: float = math.nan

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise TypeError(
                f"ImageResult: `path` must be the image's path (a str or os.PathLike), got "
                f"{_given(self.path)}"
            )
        self.path = os.fspath(self.path)
        where = f"ImageResult(path={self.path!r})"
        self.concepts = _checked_concepts(self.concepts, where)
        self.l0 = _checked_l0(self.l0, where)
        if not _is_number(self.cosine):
            raise TypeError(
                f"{where}: `cosine` must be a number (the cosine similarity of the embedding "
                f"and its recomposition), got {_given(self.cosine)}"
            )
        self.cosine = float(self.cosine)
        if not _is_number(self.baseline_cosine):
            raise TypeError(
                f"{where}: `baseline_cosine` must be a number (the cosine similarity of the "
                f"embedding and the centre alone), got {_given(self.baseline_cosine)}"
            )
        self.baseline_cosine = float(self.baseline_cosine)
        _check_values(self, where)
        if self.label is not None and pd.api.types.is_scalar(self.label) and pd.isna(self.label):
            self.label = None  # (a missing label, not the class "nan")
        if self.thumbnail not in (None, "") and (
            not isinstance(self.thumbnail, str) or _DATA_URI.fullmatch(self.thumbnail) is None
        ):
            shown = repr(self.thumbnail)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ValueError(
                f"ImageResult(path={self.path!r}): `thumbnail` must be a "
                f"'data:image/(png|jpeg|gif|webp);base64,...' URI, '' (no preview) or None, "
                f"got {shown}"
            )


#: How far above 1 a cosine may lie (float32 rounding of unit vectors).
_COSINE_SLACK = 1e-4


def _check_values(result: ImageResult, where: str) -> None:
    """Refuse values no decomposition has (the page showed them as facts: a mean cosine
    of 5.000, a negative weight counted as present, ``l0`` 0 beside a concept); put the
    concepts largest first. NaN (not known) stays, as the page shows it: a NaN cosine as
    none, a concept of NaN weight left out."""
    for name in ("cosine", "baseline_cosine"):
        cosine = getattr(result, name)
        if not (math.isnan(cosine) or abs(cosine) <= 1.0 + _COSINE_SLACK):
            raise ValueError(
                f"{where}: `{name}` must be a cosine similarity, between -1 and 1, got {cosine!r}"
            )
    bad = next((i for i, (_, w) in enumerate(result.concepts) if not (w > 0.0 or w != w)), None)
    if bad is not None:
        name, weight = result.concepts[bad]
        raise ValueError(
            f"{where}: concept {name!r} has weight {weight!r}: SpLiCE weights are positive "
            "(give the image's non-zero concepts only)"
        )
    weights = [weight for _, weight in result.concepts if not math.isnan(weight)]
    if result.l0 < len(weights):
        raise ValueError(
            f"{where}: `l0` is {result.l0} but {len(weights)} concepts with non-zero weights "
            "are given: l0 counts the image's non-zero weights, at least those given"
        )
    if any(a < b for a, b in pairwise(weights)):
        result.concepts = sorted(
            result.concepts, key=lambda pair: math.inf if math.isnan(pair[1]) else -pair[1]
        )


def _given(value: Any) -> str:
    """What was given, for a message: its type and (shortened) value, ``"a str ('x')"``."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return a_type(value) if value is None else f"{a_type(value)} ({shown})"


def _is_number(value: Any) -> bool:
    """A real number: what ``float()`` takes (int, float, numpy or torch scalars, 0-d
    arrays and tensors), not a bool or text."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or getattr(value, "ndim", 0) != 0:
        return False
    if isinstance(value, numbers.Real):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, complex)


#: Weight types that are numbers without a check (``_is_number`` takes them all).
_PLAIN_NUMBERS = (float, int, np.float64, np.float32)


def _checked_concepts(concepts: Any, where: str) -> list[tuple[Any, float]]:
    """``concepts`` as a list of (name, weight) pairs, or a TypeError/ValueError saying why not."""
    if type(concepts) is list and all(
        type(pair) is tuple
        and len(pair) == 2
        and type(pair[0]) is str
        and type(pair[1]) in _PLAIN_NUMBERS
        for pair in concepts
    ):
        # (the common case, as the command line builds it: nothing to check pair by pair;
        # isinstance against the abstract classes cost seconds for thousands of images)
        return [(name, float(weight)) for name, weight in concepts]
    expected = "a list of (concept, weight) pairs, largest weight first"
    if isinstance(concepts, Mapping):
        raise TypeError(
            f"{where}: `concepts` must be {expected}, got {a_type(concepts)}; give its items, "
            "e.g. sorted(concepts.items(), key=lambda kv: -kv[1])"
        )
    if isinstance(concepts, (str, bytes)) or not isinstance(concepts, Iterable):
        raise TypeError(f"{where}: `concepts` must be {expected}, got {_given(concepts)}")
    pairs = []
    for i, pair in enumerate(concepts):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, (tuple, list, np.ndarray)):
            raise TypeError(
                f"{where}: `concepts[{i}]` must be a (concept, weight) pair, got {_given(pair)}"
            )
        if len(pair) != 2:
            raise ValueError(
                f"{where}: `concepts[{i}]` must be a (concept, weight) pair, got {len(pair)} "
                f"values: {pair!r}"
            )
        name, weight = pair
        if not isinstance(name, (str, numbers.Integral)) or isinstance(name, (bool, np.bool_)):
            raise TypeError(
                f"{where}: `concepts[{i}]` names its concept by {_given(name)}; a concept name "
                "is text (or an integer position)"
            )
        if not _is_number(weight):
            raise TypeError(
                f"{where}: the weight of concept {name!r} (`concepts[{i}]`) must be a number, "
                f"got {_given(weight)}"
            )
        pairs.append((name, float(weight)))
    return pairs


def _checked_l0(l0: Any, where: str) -> int:
    """``l0`` as an int, or a TypeError/ValueError saying why it is no count."""
    if not _is_number(l0):
        raise TypeError(
            f"{where}: `l0` must be the number of non-zero concept weights (an int), got "
            f"{_given(l0)}"
        )
    count = float(l0)
    if not (math.isfinite(count) and count.is_integer() and count >= 0):
        raise ValueError(
            f"{where}: `l0` must be the number of non-zero concept weights, a whole number "
            f"of at least 0, got {l0!r}"
        )
    return int(count)


def thumbnail_data_uri(path: str | os.PathLike, size: int = THUMBNAIL_SIZE) -> str | None:
    """Return a small JPEG thumbnail of an image file as a ``data:`` URI.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    size : int, default=96
        Longest side of the thumbnail in pixels.

    Returns
    -------
    uri : str or None
        The data URI, or None when the file cannot be read as an image.

    Notes
    -----
    The image is decoded as :class:`~sksplice.CLIPEmbedder` decodes it before
    embedding (EXIF orientation applied, 16-bit and float images scaled to 8
    bits, alpha dropped), so the thumbnail shows the pixels that were embedded.
    A JPEG is decoded at a fraction of its size (1/2, 1/4 or 1/8, no smaller
    than ``size``), several times faster than whole.
    """
    from ._images import ITEM_ERRORS, load_rgb

    try:
        # (a JPEG is decoded at a fraction of its size, no smaller than the thumbnail)
        img = load_rgb(os.fspath(path), shrink_to=size)
    except ITEM_ERRORS:
        return None
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


#: Most threads that make thumbnails at once (no more than the cores): decoding
#: releases the GIL.
_THUMBNAIL_THREADS = 16


def _thumbnails(
    paths: Sequence[str | os.PathLike], *, bar: Any = None, size: int = THUMBNAIL_SIZE
) -> list[str | None]:
    """:func:`thumbnail_data_uri` of each of ``paths``, in order, made in threads.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Image files.
    bar : tqdm progress bar, optional
        Updated by one for each thumbnail made.
    size : int, default=96
        Longest side of the thumbnails in pixels.

    Returns
    -------
    list of (str or None)
        The data URIs; None for a file that cannot be read as an image.
    """
    if not paths:
        return []
    workers = max(1, min(_THUMBNAIL_THREADS, os.cpu_count() or 1, len(paths)))

    def one(path: str | os.PathLike) -> str | None:
        uri = thumbnail_data_uri(path, size)
        if bar is not None:
            bar.update(1)
        return uri

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sksplice-thumbs") as pool:
        return list(pool.map(one, paths))


def _warn_unread(paths: list[str], thumbnails: list[str | None], unit: str = "image") -> None:
    """Warn that the files of ``paths`` whose thumbnail is None cannot be read as images:
    a page of "no preview" for every image, said nowhere, read as a working report
    (``unit``: what the results are, as :func:`render_report` names them)."""
    unread = [path for path, uri in zip(paths, thumbnails, strict=True) if uri is None]
    if not unread:
        return
    first = repr(unread[0]) + (", ..." if len(unread) > 1 else "")
    relative = not os.path.isabs(unread[0])
    where = f" (relative paths are read from {os.getcwd()!r})" if relative else ""
    why = (
        "their files cannot be read as images"
        if unit == "image"
        else "their names are not paths of image files that can be read"
    )
    warn_user(
        f"{len(unread)} of {len(paths)} {unit}s have no preview: {why} ({first}){where}. "
        "The page shows 'no preview' for them; give an ImageResult thumbnail='' to show none "
        "without reading its file"
    )


# ---------------------------------------------------------------------------- data


def _finite(value: Any, digits: int = 4) -> float | None:
    """A float for JSON (rounded), None for NaN or infinity."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _ranking_share(value: float) -> float | None:
    """A share of the ranking table for the page: :func:`_rounded_share` to 4 decimals."""
    return _rounded_share(value, 4)


def _p_value(value: Any) -> float | None:
    # (6 significant digits: the page rounds once more, to 2, as the command line does)
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _each_distinct(values: np.ndarray, convert: Any) -> list[Any]:
    """``[convert(v) for v in values]``, calling ``convert`` once per distinct float (the
    shares of a ranking of many classes repeat: a count over a class size)."""
    bits, inverse = np.unique(values.view(np.int64), return_inverse=True)  # (0.0 != -0.0)
    converted = [convert(v) for v in bits.view(np.float64).tolist()]
    return [converted[i] for i in inverse.tolist()]


def _never_significant(ranking: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """The rows of ``frame`` (``ranking`` with a ``concept`` column) the page leaves out.

    With the one-sided test for concepts more frequent in the class (``alternative``
    ``"greater"``), a concept in no image of the class has a p-value of 1 (about): it can
    never be significant, and such rows are most of a ranking of many classes (two
    thirds at 100 classes). They are left out; their tests stay counted in the adjusted
    p-values (``attrs["n_tests"]``), which are those of the table.
    """
    drop = np.zeros(len(frame), dtype=bool)
    if (
        ranking.attrs.get("alternative") == "greater"
        and _compared(ranking) is None
        and "count_positive" in frame.columns
    ):
        drop = frame["count_positive"].to_numpy(dtype=np.float64) == 0
        if "significant" in frame.columns:
            drop &= ~frame["significant"].to_numpy(dtype=bool)
    return drop


def _ranking_rows(
    ranking: pd.DataFrame, concept_index: dict[str, int]
) -> tuple[list[str], list[list[Any]], int]:
    """The ranking table, compactly: (classes, rows, rows left out).

    A row is ``[class, concept, in, out, difference, test, p adjusted, significant,
    count in, size in, count out, size out]`` with ``class`` an index into the
    returned classes, ``concept`` an index into ``concept_index`` (extended with the
    ranking's concepts), ``test`` 1 for Fisher's exact test (every row of a table
    made by this version) and 0 for the z-test (a table made by an earlier one),
    ``significant`` 1 or 0, and the counts behind the two shares (samples with the
    concept, samples in the group; None where the ranking does not hold them). The
    rows that can never be significant (see :func:`_never_significant`) are left out
    and counted.
    """
    frame = ranking
    if "concept" not in frame.columns:
        frame = frame.reset_index(names="concept")
    n = len(frame)
    compared = _compared(ranking)
    pair = _pair(ranking)
    if "class" in frame.columns:
        labels = frame["class"].astype(str).to_numpy(dtype=object).tolist()
    elif compared is not None or pair is not None:
        # (pair is not None when compared is None: the test above)
        first, second = compared if compared is not None else cast("tuple[str, str]", pair)
        labels = [f"{first} vs {second}"] * n
    else:
        labels = [str(ranking.attrs.get("positive", ""))] * n
    class_index: dict[str, int] = {}
    drop = _never_significant(ranking, frame)
    kept = np.flatnonzero(~drop)
    if "test" in frame.columns:
        fisher = frame["test"].astype(str).to_numpy(dtype=object)[kept] == "fisher"
        fisher = fisher.astype(int).tolist()
    else:  # (as the text above the table names the test of such a ranking: Fisher's)
        fisher = [1] * kept.shape[0]
    if "significant" in frame.columns:
        significant = frame["significant"].astype(bool).to_numpy()[kept].astype(int).tolist()
    else:
        significant = [0] * kept.shape[0]
    sides = ("prevalence_positive", "prevalence_negative")
    if compared is not None:
        sides = ("prevalence_a", "prevalence_b")
    shares = [
        _each_distinct(frame[c].to_numpy(np.float64)[kept], _ranking_share)
        for c in (*sides, "prevalence_diff")
    ]
    exact_p = frame["p_adjusted"].to_numpy(np.float64)[kept]
    p_adjusted = _each_distinct(exact_p, _p_value)
    # a significant row's p-value whose 6 digits reach the level keeps them all (the page
    # shows it with the digits it needs to read below the level)
    alpha = float(ranking.attrs.get("alpha", 0.05))
    for j in np.flatnonzero(np.asarray(significant, dtype=bool)).tolist():
        if p_adjusted[j] is not None and p_adjusted[j] >= alpha > exact_p[j]:
            p_adjusted[j] = float(exact_p[j])
    counts = _ranking_counts(ranking, frame, labels, compared is not None, kept)
    names = frame["concept"].astype(str).to_numpy(dtype=object)[kept].tolist()
    shown = [labels[i] for i in kept.tolist()]
    index = concept_index.setdefault
    with gc_paused():  # (a list a row, numbers only: 736,000 rows, 7.9 s before, 6.2 s so)
        rows = [
            [
                class_index.setdefault(shown[j], len(class_index)),
                index(names[j], len(concept_index)),
                shares[0][j],
                shares[1][j],
                shares[2][j],
                fisher[j],
                p_adjusted[j],
                significant[j],
                *(side[j] for side in counts),
            ]
            for j in range(kept.shape[0])
        ]
    return list(class_index), rows, int(drop.sum())


def _ranking_counts(
    ranking: pd.DataFrame,
    frame: pd.DataFrame,
    labels: list[str],
    compared: bool,
    rows: np.ndarray,
) -> list[list[int | None]]:
    """Per row of ``rows`` (positions in ``frame``), the counts behind the two shares:
    [count in, size in, count out, size out].

    The counts are the ranking's ``count_*`` columns; the group sizes come from its
    ``attrs`` (one ranking or comparison; for every class against the rest, the
    ``class_sizes`` and ``n_samples`` that ``rank_each_class`` records) or, for
    rankings of several classes put together, from the rows of the same class whose
    concept is present (``count / prevalence``; all rows, also those the page leaves
    out). None where the ranking does not hold them.
    """
    n = rows.shape[0]
    out: list[list[int | None]] = []
    sides = (
        (("a", "n_a"), ("b", "n_b"))
        if compared
        else (
            ("positive", "n_positive"),
            ("negative", "n_negative"),
        )
    )
    codes: np.ndarray | None = None
    for side, size_key in sides:
        count_col, share_col = f"count_{side}", f"prevalence_{side}"
        if count_col not in frame.columns:
            out += [[None] * n, [None] * n]
            continue
        count = frame[count_col].to_numpy(dtype=np.float64)
        share = frame[share_col].to_numpy(dtype=np.float64)
        size = ranking.attrs.get(size_key) if "class" not in frame.columns else None
        by_class = _class_sizes(ranking, side) if "class" in frame.columns else {}
        sizes: list[int | None]
        if size is not None:
            sizes = [int(size)] * n
        else:
            if codes is None:
                uniques, codes = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = count / share
            # the first row of each label whose concept is present there
            found = np.flatnonzero((count > 0) & (share > 0) & np.isfinite(ratio))
            first_codes, first = np.unique(codes[found], return_index=True)
            known = {int(c): round(float(ratio[found[i]])) for c, i in zip(first_codes, first)}
            # (the recorded size of a class where there is one, else the one found)
            per_code = [by_class.get(label, known.get(c)) for c, label in enumerate(uniques)]
            sizes = [per_code[c] for c in codes[rows].tolist()]
        count = count[rows]
        whole = np.isfinite(count)
        out.append(
            [int(c) if w else None for c, w in zip(count.tolist(), whole.tolist(), strict=True)]
        )
        out.append(sizes)
    return out


def _class_sizes(ranking: pd.DataFrame, side: str) -> dict[str, int]:
    """The images of each class (``side`` ``"positive"``) or outside it (``"negative"``),
    by the class's text, that a ranking of every class against the rest records in its
    ``attrs``; empty if it does not (a table put together by hand, attributes lost)."""
    sizes, total = ranking.attrs.get("class_sizes"), ranking.attrs.get("n_samples")
    if not isinstance(sizes, dict) or not isinstance(total, int):
        return {}
    # (by the label's text, as the page shows it: also where the attrs went through
    # JSON, which makes the labels 1, 2 of integer classes "1", "2")
    if side == "positive":
        return {str(label): int(k) for label, k in sizes.items()}
    return {str(label): total - int(k) for label, k in sizes.items()}


def _compared(ranking: pd.DataFrame) -> tuple[str, str] | None:
    """The labels (A, B) of a comparison from ``compare_datasets``, None for a ranking."""
    if "prevalence_a" not in ranking.columns or "prevalence_b" not in ranking.columns:
        return None
    a, b = ranking.attrs.get("labels", ("A", "B"))
    return str(a), str(b)


def _in_comparison_order(profiles: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """``profiles`` with the collections of the comparison ``ranking`` first, A then B
    (after the group of all images): sorted by name, B came before A where its name
    does (the cards of "train" against "shifted test" read B, A)."""
    compared = _compared(ranking)
    two = isinstance(profiles.columns, pd.MultiIndex)
    groups = list(profiles.columns.get_level_values(1).unique() if two else profiles.columns)
    if compared is None:
        return profiles
    first = [g for label in compared for g in groups if str(g) == label]
    if len(first) != 2:
        return profiles
    from .analysis import ALL_GROUP

    # (the group of all images stays first, in a table of one statistic too)
    lead = [groups[0]] if groups[0] == ALL_GROUP and groups[0] not in first else []
    order = lead + first + [g for g in groups if g not in first and g not in lead]
    if order == groups:
        return profiles
    return profiles.reindex(columns=order, level=1) if two else profiles[order]


def _pair(ranking: pd.DataFrame) -> tuple[str, str] | None:
    """The two classes of a ranking of one class against another (``rank_concepts``
    with ``negative=``), None for one class against the rest or several rankings."""
    if "class" in ranking.columns or "prevalence_negative" not in ranking.columns:
        return None
    negative = ranking.attrs.get("negative")
    # (a ranking made before "one_vs_rest" was recorded named the rest "rest")
    one_vs_rest = ranking.attrs.get("one_vs_rest", negative == "rest")
    if negative is None or one_vs_rest:
        return None
    return str(ranking.attrs.get("positive", "")), str(negative)


#: What the page says of p-values not adjusted for multiple testing.
_NOT_ADJUSTED = "p not adjusted for multiple testing"

#: What the page says after naming the classes not found to differ from the rest.
_NOT_FOUND = (
    "a test that finds no difference does not show that there is none, and a small class "
    "shows only large ones."
)


def _found_adjustment(ranking: pd.DataFrame) -> tuple[str | None, str | None]:
    """How the ``p_adjusted`` of rankings of several classes put together were adjusted,
    where their ``attrs`` do not record it: found from the ``p_value`` column.

    Returns ``(over, correction)``: ``over`` is ``"each"`` (within each class) or
    ``"all"`` (over all rows together) where the adjusted p-values are those of one of
    them only, else None; ``correction`` the one correction that gives them (the
    recorded one, if any), ``"none"`` where no correction does and they are the
    p-values themselves, else None. (The rankings of each class adjusted on their own
    and put together, or adjusted together as :mod:`sksplice.analysis` suggests: the
    page must not say one for the other.)
    """
    from .analysis import _CORRECTIONS, _adjust_pvalues

    if not {"p_value", "p_adjusted"} <= set(ranking.columns):
        return None, None
    p = ranking["p_value"].to_numpy(dtype=np.float64)
    adjusted = ranking["p_adjusted"].to_numpy(dtype=np.float64)
    if not (np.isfinite(p).all() and np.isfinite(adjusted).all()):
        return None, None
    recorded = ranking.attrs.get("correction")
    methods = [recorded] if recorded in _CORRECTIONS[:-1] else list(_CORRECTIONS[:-1])
    codes = pd.factorize(ranking["class"].astype(str))[0]
    # (the rows of each class, as index arrays: a mask per class would cost classes x rows)
    groups = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    found: dict[str, list[str]] = {}
    for over in ("each", "all"):
        for method in methods:
            if over == "all":
                expected = _adjust_pvalues(p, method)
            else:
                expected = np.empty_like(p)
                for rows in groups:
                    expected[rows] = _adjust_pvalues(p[rows], method)
            if np.allclose(expected, adjusted, rtol=1e-9, atol=0.0):
                found.setdefault(over, []).append(method)
    if not found and np.allclose(p, adjusted, rtol=1e-9, atol=0.0):
        return None, "none"  # (each ranking made with correction=None)
    if len(found) != 1:  # (neither, or both: the numbers do not tell)
        return None, recorded if recorded in methods else None
    over, matched = next(iter(found.items()))
    return over, recorded if recorded in methods else (matched[0] if len(matched) == 1 else None)


def _adjusted_text(ranking: pd.DataFrame | None) -> str:
    """What the adjusted p-values of ``ranking`` are adjusted over, from its ``attrs``
    (or, for rankings of several classes put together that do not record it, from its
    p-values, see :func:`_found_adjustment`)."""
    from .analysis import (
        ALL_CLASSES,
        CLASSES_THEN_CONCEPTS,
        _all_classes_phrase,
        _correction_name,
        _two_levels_phrase,
    )

    attrs = {} if ranking is None else ranking.attrs
    correction = attrs.get("correction", "")
    if "correction" in attrs and correction is None:
        return _NOT_ADJUSTED
    several = ranking is not None and "class" in ranking.columns and ranking["class"].nunique() > 1
    recorded = attrs.get("adjusted_over") in (ALL_CLASSES, CLASSES_THEN_CONCEPTS)
    over = None
    if several and ranking is not None and not recorded:
        over, correction = _found_adjustment(ranking)
        if correction == "none":
            return _NOT_ADJUSTED
    method = _correction_name(correction)
    how = f"p adjusted ({method})" if method else "p adjusted"
    differing = attrs.get("n_classes_differing")
    if attrs.get("adjusted_over") == CLASSES_THEN_CONCEPTS and isinstance(differing, int):
        n_classes = attrs.get("n_classes")
        if not isinstance(n_classes, int) and ranking is not None:
            n_classes = ranking["class"].nunique()
        return f"{how} {_two_levels_phrase(int(n_classes or 0), differing)}"
    # (ranking is not None when several is true: repeated for the type checker)
    if several and ranking is not None and attrs.get("adjusted_over") == ALL_CLASSES:
        n_tests, n_classes = attrs.get("n_tests"), ranking["class"].nunique()
        tests = f"{n_tests:,} tests" if isinstance(n_tests, int) else "tests"
        return (
            f"{how} over the {tests} of {_all_classes_phrase(n_classes)} together (each class "
            "against the rest)"
        )
    if several and ranking is not None and over == "all":
        n_classes = ranking["class"].nunique()
        return f"{how} over the {len(ranking):,} tests of {_all_classes_phrase(n_classes)} together"
    if several and over == "each":
        # (adjusted within each class, the highlighted rows of the whole table are not
        # controlled: with 20 classes of 20 images and no class differing, some row was
        # highlighted in 42% of such tables, against 4% for rank_each_class)
        n_classes = ranking["class"].nunique() if ranking is not None else 0
        return (
            f"{how} for the number of concepts tested, within each class (each class is "
            f"ranked against the rest on its own), not over the {n_classes} classes: where no "
            "class differs, some class has a chance concept highlighted far more often than "
            "the level says (sksplice.analysis.rank_each_class adjusts over the classes too)"
        )
    if several:
        return (
            f"{how}; the table does not record whether within each class or over all "
            "classes together"
        )
    return f"{how} for the number of concepts tested"


def _one_test(ranking: pd.DataFrame | None) -> bool:
    """Whether every p-value of ``ranking`` is of Fisher's exact test (the text above
    the table names it; the Test column is then left out)."""
    if ranking is None or "test" not in ranking.columns:
        return True
    return set(ranking["test"].astype(str).unique().tolist()) <= {"fisher"}


def _test_text(ranking: pd.DataFrame | None, sided: str | None) -> str:
    """The test behind the p-values: its name and, where ``attrs`` records it, whether
    it is two-sided or, ``sided``, the one direction it tests."""
    name = "Fisher's exact test" if _one_test(ranking) else "the test in the Test column"
    alternative = None if ranking is None else ranking.attrs.get("alternative")
    if sided is not None:
        return f"{name}, one-sided (for concepts {sided})"
    if alternative == "two-sided":
        return f"{name}, two-sided"
    return name


def _left_out_text(left_out: int, ranking: pd.DataFrame | None = None, unit: str = "image") -> str:
    """What the page says of the ranking rows it leaves out: those that can never be
    significant (see :func:`_never_significant`) and, for a ranking cut to its first
    rows per class (``attrs["rows_per_class"]``, ``sksplice report -k``), the cut and
    the significant rows it left out (``attrs["significant_not_listed"]``)."""
    texts = []
    attrs = {} if ranking is None else ranking.attrs
    # (table rows, told apart from the rows of embeddings a page of them calls rows)
    row = "row" if unit != "row" else "table row"
    k = attrs.get("rows_per_class")
    if isinstance(k, int):
        beyond = int(attrs.get("significant_not_listed", 0))
        top = f"the first {row}" if k == 1 else f"the top {k:,} {row}s"
        cut = f"Listed: {top} of each class by difference"
        if beyond:
            rows = f"1 significant {row}" if beyond == 1 else f"{beyond:,} significant {row}s"
            cut += f"; {rows} below them {'is' if beyond == 1 else 'are'} left out"
        texts.append(cut + ".")
    if left_out:
        rows, they = (
            (f"1 {row}", "it is") if left_out == 1 else (f"{left_out:,} {row}s", "they are")
        )
        pair = None if ranking is None else _pair(ranking)
        of = "the class" if pair is None else pair[0]  # (one class against another: named)
        texts.append(
            f"Not listed: {rows} of a concept in no {unit} of {of}, which the one-sided "
            f"test can never find significant ({they} counted in the adjustment)."
        )
    return " ".join(texts)


def _untestable_text(ranking: pd.DataFrame | None, unit: str = "image") -> str:
    """What the page says of the classes (or collections) too small for any concept to be
    significant: those whose smallest possible adjusted p-value (:func:`_smallest_possible`,
    see :class:`~sksplice.analysis.TooFewSamplesWarning`) is ``alpha`` or more. A table
    without highlighted rows for them is no finding about them. Then, of a ranking
    adjusted in two levels, the classes not found to differ from the rest as a whole
    (``attrs["class_p_adjusted"]``), whose concepts none is significant."""
    from .analysis import _below_alpha

    attrs = {} if ranking is None else ranking.attrs
    smallest, alpha = _smallest_possible(attrs), attrs.get("alpha")
    if smallest is None or not isinstance(alpha, numbers.Real):
        return ""
    alpha = float(alpha)
    test, said = _test_floor(attrs)
    if not isinstance(smallest, Mapping):  # (one comparison: a pair, or collections)
        if _below_alpha(float(smallest), alpha):
            return ""
        return (
            f"Too few {unit}s to test: for groups of these sizes {test} below "
            f"{float(smallest):.2g}, whatever the counts, so no concept can be significant "
            "here; that none is highlighted says nothing."
        )
    sizes = _class_sizes(ranking, "positive") if ranking is not None else {}

    def bracketed(label: Any, p: float, said: str = "p") -> str:
        counted = f"{_counted(sizes[str(label)], unit)}, " if str(label) in sizes else ""
        return f"{label} ({counted}{said} {float(p):.2g})"

    too_small, undiffering_q = _classes_without_findings(ranking)
    named = [bracketed(label, p, said) for label, p in too_small.items()]
    texts = []
    if named:
        one = len(named) == 1
        texts.append(
            f"Too few {unit}s to test {'class' if one else 'classes'} {_listed(named)}: for "
            f"classes of these sizes {test} below the one in "
            "parentheses, whatever the counts, so no concept of "
            f"{'it' if one else 'them'} can be significant; that none is highlighted says "
            "nothing."
        )
    # (the first of two levels: a class not found to differ from the rest as a whole has
    # no significant concept; those too small to test are named above)
    class_p = attrs.get("class_p_adjusted") if ranking is not None and len(ranking) else None
    undiffering = [bracketed(label, q, "adjusted p") for label, q in undiffering_q.items()]
    # (the adjusted p of each class large enough to test)
    tested = (
        {
            label: float(q)
            for label, q in class_p.items()
            if _below_alpha(smallest.get(label, 0.0), alpha)
        }
        if isinstance(class_p, Mapping)
        else {}
    )
    if undiffering and len(undiffering) == len(tested) > 2:
        # (every class tested: said in one line, not a paragraph of every class)
        values = list(tested.values())
        low, high = min(values), max(values)
        span = f"{low:.2g}" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g} to {high:.2g}"
        texts.append(
            f"None of the {len(tested)} classes{' tested' if named else ''} is found to differ "
            f"from the rest as a whole (adjusted p {span}), so no concept is significant: "
            f"{_NOT_FOUND}"
        )
    elif undiffering:
        one = len(undiffering) == 1
        texts.append(
            f"{'Class' if one else 'Classes'} {_listed(undiffering)} "
            f"{'is' if one else 'are'} not found to differ from the rest as a whole, so no "
            f"concept of {'it' if one else 'them'} is significant: {_NOT_FOUND}"
        )
    return " ".join(texts)


def _smallest_possible(attrs: Mapping[str, Any]) -> Any:
    """The smallest adjusted p-value a ranking's correction can give (one, or one per
    class: ``attrs["smallest_adjusted_p_value"]``), else the test's own smallest
    p-value (``attrs["smallest_p_value"]``, of a ranking made before the former was
    recorded, or made otherwise); None without either."""
    adjusted = attrs.get("smallest_adjusted_p_value")
    return attrs.get("smallest_p_value") if adjusted is None else adjusted


def _test_floor(attrs: Mapping[str, Any]) -> tuple[str, str]:
    """How the page says what the smallest possible p-values are of, and what it calls
    them in parentheses: ``("Fisher's exact test gives no p-value", "p")``, or where
    the ranking's correction raised that floor (Holm's, Bonferroni's), ``("Fisher's
    exact test, with the Holm correction, gives no adjusted p-value", "adjusted p")``."""
    from .analysis import _correction_name, _floor_raised

    name = _correction_name(attrs.get("correction"))
    if not _floor_raised(attrs) or name is None:
        return "Fisher's exact test gives no p-value", "p"
    return (
        f"Fisher's exact test, with the {name} correction, gives no adjusted p-value",
        "adjusted p",
    )


def _classes_without_findings(
    ranking: pd.DataFrame | None,
) -> tuple[dict[Any, float], dict[Any, float]]:
    """The classes of a ranking in which no concept can be significant: those too small
    for any p-value below ``alpha`` (each with its smallest possible p-value), and, of a
    ranking adjusted in two levels, those large enough but not found to differ from the
    rest as a whole (each with its adjusted p-value). Empty for a ranking of one
    comparison, or without these attributes."""
    from .analysis import _below_alpha

    attrs = {} if ranking is None else ranking.attrs
    smallest, alpha = _smallest_possible(attrs), attrs.get("alpha")
    if not isinstance(smallest, Mapping) or not isinstance(alpha, numbers.Real):
        return {}, {}
    alpha = float(alpha)
    too_small = {
        label: float(p) for label, p in smallest.items() if not _below_alpha(float(p), alpha)
    }
    class_p = attrs.get("class_p_adjusted") if ranking is not None and len(ranking) else None
    undiffering = (
        {
            label: float(q)
            for label, q in class_p.items()
            if not _below_alpha(float(q), alpha) and label not in too_small
        }
        if isinstance(class_p, Mapping)
        else {}
    )
    return too_small, undiffering


def _unpromising_classes(ranking: pd.DataFrame | None) -> set[str]:
    """The classes of a ranking that no concept can be significant in, as the page says
    above the table (:func:`_untestable_text`); the table opens with their rows last."""
    too_small, undiffering = _classes_without_findings(ranking)
    return {str(label) for label in [*too_small, *undiffering]}


def _listed(names: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _counted(n: int, unit: str = "image") -> str:
    """``"1 image"``, ``"1,024 images"``: ``n`` of ``unit``."""
    return f"1 {unit}" if n == 1 else f"{n:,} {unit}s"


def _with_article(unit: str) -> str:
    """``"an image"``, ``"a row"``."""
    return f"{'an' if unit[:1].lower() in 'aeiou' else 'a'} {unit}"


def _ranking_text(ranking: pd.DataFrame | None) -> dict[str, str]:
    """Heading, column titles and wording of the ranking table, for a ranking or a comparison.

    A one-sided test (``alternative`` ``"greater"`` or ``"less"`` in ``attrs``) is said
    in the heading, the test and the claim: its significant rows are evidence of a
    difference in that direction only. p-values not adjusted (``correction`` None) are
    titled ``"p"``, not ``"p adjusted"`` (``"p"`` entry).
    """
    compared = None if ranking is None else _compared(ranking)
    pair = None if ranking is None else _pair(ranking)
    alternative = None if ranking is None else ranking.attrs.get("alternative")
    adjusted = _adjusted_text(ranking)
    # the p-values as the column and the level name them: not "adjusted" where they are
    # not (correction=None)
    p_name = "p" if adjusted == _NOT_ADJUSTED else "p adjusted"
    # the direction of a one-sided test, as "more" or "less" (frequent); None: two-sided
    # or not recorded
    more = {"greater": "more", "less": "less"}.get(str(alternative))

    if pair is not None:
        positive, negative = pair
        sided = f"{more} frequent in {positive} than in {negative}" if more else None
        return {
            "heading": f"Concepts {sided}"
            if sided
            else f"Concepts that separate {positive} from {negative}",
            "where": f"in {positive} and in {negative}",
            "test": _test_text(ranking, sided),
            "claim": f"the concept is {sided}"
            if sided
            else f"the concept separates {positive} from {negative}",
            "adjusted": adjusted,
            "p": p_name,
            # (one comparison: no column repeating it; the heading names both classes)
            "group": "",
            "first": f"In {positive}",
            "second": f"In {negative}",
            "difference": "Difference",
            # (which way, on the column title: written out, the names widened the table)
            "difference_title": f"prevalence in {positive} minus in {negative}",
        }
    if compared is None:
        sided = f"{more} frequent in its class than outside it" if more else None
        return {
            "heading": f"Concepts {more} frequent in a class than outside it"
            if more
            else "Concepts that separate the classes",
            "where": "in the class and outside it",
            "test": _test_text(ranking, sided),
            "claim": f"the concept is {sided}" if sided else "the concept separates the classes",
            "adjusted": adjusted,
            "p": p_name,
            "group": "Class",
            "first": "In class",
            "second": "Outside",
            "difference": "Difference",
            "difference_title": "prevalence in the class minus outside it",
        }
    a, b = (tag if str(name) == tag else f"{tag} ({name})" for tag, name in zip("AB", compared))
    sided = f"{more} frequent in B than in A" if more else None
    return {
        "heading": f"Concepts {more} frequent in {b} than in {a}"
        if more
        else f"Concepts whose prevalence differs between {a} and {b}",
        "where": "in collection A and in collection B",
        "test": _test_text(ranking, sided),
        "claim": f"the concept is {sided}" if sided else "the concept's prevalence differs",
        "adjusted": adjusted,
        "p": p_name,
        # (one comparison: no column repeating it; the heading names A and B)
        "group": "",
        "first": "In A",
        "second": "In B",
        "difference": "Difference (B - A)",
        "difference_title": "prevalence in B minus in A",
    }


def _prevalences(profiles: pd.DataFrame) -> pd.DataFrame:
    """The concept-by-group table of prevalences of ``profiles``."""
    return profiles["prevalence"] if isinstance(profiles.columns, pd.MultiIndex) else profiles


def _rounded_share(value: float, digits: int = 3) -> float | None:
    """A share (or a difference of shares) for the page's data: ``digits`` decimals, but
    never rounded to 0 or to 1 (or -1) when it is neither (1 of 30,000 images is not
    none, 29,999 of 30,000 not all: such a value is kept whole); None if not finite."""
    if not math.isfinite(value):
        return None
    rounded = round(value, digits)
    if (rounded == 0.0) != (value == 0.0) or (abs(rounded) == 1.0) != (abs(value) == 1.0):
        return value
    return rounded


def _share_text(share: float) -> str:
    """A share as a whole percentage, as the class cards show it: ``"75%"``; one that is
    neither none nor all is never shown as ``"0%"`` or ``"100%"`` (``"<1%"``, ``">99%"``)."""
    percent = 100.0 * share
    # (halves up, as people round: Python's round and format round half to even, and
    # float noise on top gave 3/40 "8%" but 5/40 "12%")
    whole = math.floor(percent + 0.5 + 1e-9)
    if percent > 0.0 and whole == 0:
        return "<1%"
    if percent < 100.0 and whole >= 100:
        return ">99%"
    return f"{whole}%"


def _rounded_out(value: float, places: int, *, up: bool) -> float:
    """``value`` rounded to ``places`` decimals away from an interval's inside: up for
    its high end, down for its low end (by no more than float noise: a product that
    lands a hair above a whole number does not move a whole step)."""
    scaled = value * 10.0**places + (-1e-9 if up else 1e-9)
    return (math.ceil(scaled) if up else math.floor(scaled)) / 10.0**places


#: The most decimals of a percentage that an interval's end is written with.
_BOUND_DIGITS = 4


def _written_end(bound: float, *, up: bool) -> float:
    """An end of an exact interval as the page's data hold it: rounded away from the
    inside to the digits the panel writes (:func:`_bound_text`), or whole where that
    would make an end that is neither 0 nor 1 one of them (the panel then writes it
    ``"<0.0001%"``, as the class cards do)."""
    end = _rounded_out(bound, _BOUND_DIGITS + 2, up=up)
    return bound if (end == 0.0 < bound) or (end == 1.0 > bound) else end


def _bound_text(bound: float, *, up: bool) -> str:
    """An end of an exact interval as a percentage rounded away from the interval's
    inside (the low end down, the high end up), so that the interval shown holds the
    exact one: to a tenth (``"2.5%"``, ``"13.2%"`` for 0.13157, ``"100%"``), with more
    digits where a tenth would write an end that is neither 0 nor 1 as ``"0%"`` or
    ``"100%"`` (``"0.002%"`` for 1 of 1,000's 0.0025%). Rounded to whole percents as
    shares are, 1 of 1 read "3% to 100%", narrower than the 2.5% to 100% that covers
    95%."""
    for digits in range(1, _BOUND_DIGITS + 1):
        percent = _rounded_out(100.0 * bound, digits, up=up)
        if not ((bound > 0.0 and percent == 0.0) or (bound < 1.0 and percent >= 100.0)):
            break
    else:  # (an end nearer 0 or 1 than the most digits tell)
        return (
            f"<{10.0**-_BOUND_DIGITS:.{_BOUND_DIGITS}f}%"
            if not up
            else (f">{100.0 - 10.0**-_BOUND_DIGITS:.{_BOUND_DIGITS}f}%")
        )
    return f"{f'{percent:.{digits}f}'.rstrip('0').removesuffix('.')}%"


def _profile_bar(
    concept: str,
    share: float,
    count: float,
    low: float,
    high: float,
    n: int | None,
    unit: str = "image",
) -> tuple[str, float, str, float | None, float | None, str]:
    """One bar of a class card: (concept, share, share as text, the 95% interval's low
    and high ends or None, the bar's tooltip: "cat: 3 of 4 images, 95% interval 19.4% to
    99.4%")."""
    if n is None or not (math.isfinite(low) and math.isfinite(high)):
        return concept, share, _share_text(share), None, None, concept
    tip = (
        f"{concept}: {int(count):,} of {n:,} {unit}{'' if n == 1 else 's'}, "
        f"95% interval {_bound_text(low, up=False)} to {_bound_text(high, up=True)}"
    )
    return concept, share, _share_text(share), low, high, tip


def _profile_rows(profiles: pd.DataFrame) -> tuple[list[str], dict[str, list[float | None]]]:
    """Per-class prevalence of every concept: (groups, {concept: [prevalence per group]})."""
    table = _prevalences(profiles)
    groups = [str(c) for c in table.columns]
    values = table.to_numpy(dtype=np.float64)
    return groups, {
        str(name): [_rounded_share(v) for v in row]
        for name, row in zip(table.index, values.tolist(), strict=True)
    }


def _group_sizes_shown(profiles: pd.DataFrame, groups: list[str]) -> list[int | None]:
    """The images of each group of the page (None where ``profiles`` does not say)."""
    from .analysis import _group_sizes

    sizes: dict[str, int] = {}
    if isinstance(profiles.columns, pd.MultiIndex):
        sizes = {str(g): int(n) for g, n in _group_sizes(profiles).items()}
    elif isinstance(profiles.attrs.get("n_samples"), dict):  # (a plain table's own record)
        sizes = {str(g): int(n) for g, n in profiles.attrs["n_samples"].items()}
    return [sizes.get(group) for group in groups]


def _group_names(
    profiles: pd.DataFrame, groups: list[str], sizes: list[int | None], unit: str = "image"
) -> list[str]:
    """Each group as the report shows it: ``"bird (n=4)"``, the first ``"all images (n=40)"``.

    A share alone (75%) hides whether it is 3 of 4 images or 300 of 400.
    """
    from .analysis import ALL_GROUP

    # (only concept_profiles' tables, with their statistics over the groups, hold the
    # group of all images; a plain table's first group may be a collection named "all")
    dataset_wide = isinstance(profiles.columns, pd.MultiIndex)
    shown = []
    for k, (group, n) in enumerate(zip(groups, sizes, strict=True)):
        name = f"all {unit}s" if dataset_wide and k == 0 and group == ALL_GROUP else group
        shown.append(name if n is None else f"{name} (n={n})")
    return shown


def _prevalence_intervals(
    profiles: pd.DataFrame, sizes: list[int | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per concept and group of ``profiles``: the images holding the concept and the
    exact 95% interval (Clopper-Pearson) of its prevalence (NaN where the group's size
    is unknown).

    The counts are the table's ``count`` columns where it has them, else each
    prevalence times its group's size.
    """
    from ._proportions import prevalence_interval

    shares = _prevalences(profiles).to_numpy(dtype=np.float64)
    n = np.array([np.nan if v is None else float(v) for v in sizes])
    if isinstance(profiles.columns, pd.MultiIndex) and "count" in profiles.columns.get_level_values(
        0
    ):
        counts = profiles["count"].reindex(columns=_prevalences(profiles).columns)
        k = counts.to_numpy(dtype=np.float64)
    else:
        k = np.rint(shares * n)
    k = np.where(np.isfinite(n) & np.isfinite(k), k, np.nan)
    low, high = prevalence_interval(np.nan_to_num(k), n)
    bad = ~np.isfinite(k)
    return k, np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def _count_ticks(top: int) -> list[int]:
    """Counts to label on a histogram's axis: 0, a round value near the middle, and ``top``.

    The middle value is ``top / 2`` rounded to one significant digit (17 -> 20, 617 -> 600),
    so it lies between a third and two thirds of ``top``: never near the other two labels.
    """
    if top <= 0:
        return [0]
    ticks = [0]
    half = top / 2
    if half >= 1:
        power = 10 ** math.floor(math.log10(half))
        middle = int(math.floor(half / power + 0.5) * power)
        if 0 < middle < top:
            ticks.append(middle)
    return [*ticks, int(top)]


def _middle_value(lo: float, hi: float, integer: bool) -> float | None:
    """A round value to label in the middle of a histogram's x axis from ``lo`` to
    ``hi``: the one nearest the middle among the multiples of the largest power of ten
    (times 1, 2 or 5) of which one lies in the middle third; None where none does (an
    integer axis too short for a value between its ends)."""
    span = hi - lo
    if not span > 0:
        return None
    power = 10.0 ** math.floor(math.log10(span))
    for _ in range(12):
        for unit in (5 * power, 2 * power, power):
            if integer and unit < 1:
                return None
            middle = round((lo + hi) / 2 / unit) * unit
            if lo + span / 3 <= middle <= hi - span / 3:
                return float(round(middle, 12))
        power /= 10.0
    return None


def _label_width(text: str) -> float:
    """About how wide ``text`` is in the histogram's 11-pixel font (digits, point, dash)."""
    return 6.6 * len(text)


def _histogram(
    values: np.ndarray, *, integer: bool, bins: int = 20, unit: str = "image"
) -> dict[str, Any]:
    """A histogram for the inline SVG of the summary: bars in a 300 x 100 box, and its axes;
    ``bins`` bars at most, and no more than the square root of the number of values (at
    least 3).

    ``ticks`` are the labelled counts of the y axis (``y``: their height in the box, where
    the tallest bar ends at the largest count); ``left`` is the room the axis needs to the
    left of the box; ``lo``/``hi`` label the ends of the x axis at ``lo_x``/``hi_x``, and
    ``mid`` a round value between them at ``mid_x`` (empty where none fits).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {
            "bars": [], "lo": "", "hi": "", "mid": "", "ticks": [], "n": 0, "top": 0, "left": 8
        }  # fmt: skip
    lo, hi = float(values.min()), float(values.max())
    single = hi <= lo  # (every image has the same value: one bar, as wide as the box)
    # (at most the square root of the count of values: 12 images in 20 bars were bars
    # of 1 between gaps)
    bins = min(bins, max(3, math.ceil(math.sqrt(values.size))))
    if integer:
        width = max(1, math.ceil((hi - lo + 1) / bins))
        edges = np.arange(lo, hi + width + 1, width) - 0.5
    elif single:
        edges = np.array([lo - 5e-4, lo + 5e-4])
    else:
        edges = np.linspace(lo, hi, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    top = int(counts.max())
    step = 300.0 / len(counts)
    bars = []
    for k, count in enumerate(counts):
        a, b = edges[k], edges[k + 1]
        if integer:
            span = f"{a + 0.5:.0f}" if b - a <= 1 else f"{a + 0.5:.0f}-{b - 0.5:.0f}"
        else:
            span = f"{lo:.3f}" if single else f"{a:.3f}-{b:.3f}"
        height = 100.0 * count / top
        bars.append(
            {
                "x": round(k * step, 2),
                "y": round(100.0 - height, 2),
                "w": round(max(step - 1.0, 0.5), 2),
                "h": round(height, 2),
                "title": f"{span}: {int(count)} {unit}{'s' if count != 1 else ''}",
            }
        )
    ticks = [
        {"value": t, "label": str(t), "y": round(100.0 - 100.0 * t / top, 2)}
        for t in _count_ticks(top)
    ]
    fmt = "{:.0f}" if integer else "{:.3f}"
    lo_label, hi_label = fmt.format(lo), fmt.format(hi)
    # an integer histogram's ends are the values of its first and last bars: under their
    # middles, unless a label would then stick out of the box; real-valued ones end at edges
    lo_x, hi_x = 0.0, 300.0
    if single:
        lo_x = hi_x = 150.0  # (one label, under the middle of the one bar)
    elif integer:
        half_bar = (step - 1.0) / 2
        if half_bar >= _label_width(lo_label) / 2:
            lo_x = half_bar
        if half_bar >= _label_width(hi_label) / 2:
            hi_x = 300.0 - step + half_bar
    # a round value in the middle of the x axis, where its label keeps clear of the ends'
    # (a bar's range is otherwise only in its tooltip, which neither touch nor print has)
    mid_label, mid_x = "", 0.0
    middle = None if single else _middle_value(lo, hi, integer)
    if middle is not None:
        mid_x = 300.0 * (middle - edges[0]) / (edges[-1] - edges[0])
        mid_label = f"{middle:.0f}" if integer else f"{middle:g}"
        half = _label_width(mid_label) / 2
        lo_right = lo_x + _label_width(lo_label) * (0.5 if lo_x else 1.0)
        hi_left = hi_x - _label_width(hi_label) * (0.5 if hi_x < 300.0 else 1.0)
        if not lo_right + 6 <= mid_x - half or not mid_x + half + 6 <= hi_left:
            mid_label = ""
    return {
        "bars": bars,
        "lo": lo_label,
        "hi": hi_label,
        "mid": mid_label,
        "mid_x": round(mid_x, 2),
        "lo_x": round(lo_x, 2),
        "hi_x": round(hi_x, 2),
        "lo_anchor": "middle" if lo_x else "start",
        "hi_anchor": "middle" if hi_x < 300.0 else "end",
        "ticks": ticks,
        "n": int(values.size),
        "top": top,
        # the rotated "images" (about 16 px), the longest count, a tick mark and gaps
        "left": math.ceil(16 + _label_width(str(top)) + 10),
    }


def _without_item(reason: str, item: str) -> str:
    """``reason`` without the file it begins by naming (``'a.jpg' could not be decoded``):
    the table names it in the column beside it."""
    for named in (repr(item), item):
        if reason.startswith(named + " ") and len(reason) > len(named) + 1:
            return reason[len(named) + 1 :]
    return reason


def _skipped_rows(skipped: Iterable[Any] | None) -> list[tuple[str, str]]:
    """(item, reason) pairs from objects with ``item``/``reason`` or from pairs."""
    expected = (
        "objects with `item` and `reason` (as the embedders report them) or (image, reason) pairs"
    )
    if skipped is None:
        return []
    if isinstance(skipped, (str, bytes, Mapping)) or not isinstance(skipped, Iterable):
        raise TypeError(f"`skipped` must be a list of {expected}, got {_given(skipped)}")
    rows = []
    for i, s in enumerate(skipped):
        if hasattr(s, "item") and hasattr(s, "reason"):
            rows.append((str(s.item), str(s.reason)))
        elif isinstance(s, (tuple, list)) and len(s) == 2:
            item, reason = s
            rows.append((str(item), str(reason)))
        else:
            raise TypeError(f"`skipped[{i}]` must be one of {expected}, got {_given(s)}")
    return rows


#: What ``profiles`` and ``ranking`` are, for messages.
_PROFILES = (
    "the output of sksplice.analysis.concept_profiles (or a concept-by-class table of prevalences)"
)
_RANKING = "the output of sksplice.analysis.rank_concepts (or sksplice.shift.compare_datasets)"
_RANKING_COLUMNS = ("prevalence_positive", "prevalence_negative", "prevalence_diff", "p_adjusted")
_COMPARISON_COLUMNS = ("prevalence_a", "prevalence_b", "prevalence_diff", "p_adjusted")


def _columns_shown(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns.get_level_values(0).unique()]
    return ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")


def _looks_like_ranking(frame: pd.DataFrame) -> bool:
    return not isinstance(frame.columns, pd.MultiIndex) and (
        "p_adjusted" in frame.columns or "prevalence_diff" in frame.columns
    )


def _check_results(results: Any) -> list[ImageResult]:
    """``results`` as a list of :class:`ImageResult`, or a TypeError saying what is wrong."""
    expected = "an iterable of sksplice.report.ImageResult, one per image"
    if isinstance(results, ImageResult):
        raise TypeError(f"`results` must be {expected}, got one ImageResult; give [result]")
    if isinstance(results, (str, bytes, Mapping, pd.DataFrame)) or not isinstance(
        results, Iterable
    ):
        raise TypeError(f"`results` must be {expected}, got {a_type(results)}")
    results = list(results)
    for i, r in enumerate(results):
        if not isinstance(r, ImageResult):
            raise TypeError(
                f"`results[{i}]` is {_given(r)}, not a sksplice.report.ImageResult; build one "
                "per image: ImageResult(path, concepts, l0, cosine, label=...)"
            )
    return results


def _check_profiles(profiles: Any) -> None:
    """Refuse a ``profiles`` table the report cannot read, saying what was expected."""
    if not isinstance(profiles, pd.DataFrame):
        raise TypeError(f"`profiles` must be {_PROFILES}, a DataFrame; got {a_type(profiles)}")
    if profiles.columns.empty:
        return
    if _looks_like_ranking(profiles):
        raise ValueError(
            f"`profiles` is a ranking (columns {_columns_shown(profiles)}), not {_PROFILES}; "
            "pass a ranking as `ranking=`"
        )
    if isinstance(profiles.columns, pd.MultiIndex):
        if "prevalence" not in profiles.columns.get_level_values(0):
            raise ValueError(
                f"`profiles` has no 'prevalence' columns (its columns: "
                f"{_columns_shown(profiles)}); expected {_PROFILES}"
            )
        table = profiles["prevalence"]
    else:
        table = profiles
    text = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        raise ValueError(
            f"`profiles` has columns that hold no prevalences (not numbers): "
            f"{', '.join(text[:5])}; expected {_PROFILES}"
        )


def _check_ranking(ranking: Any) -> None:
    """Refuse a ``ranking`` table the report cannot read, saying what was expected."""
    if not isinstance(ranking, pd.DataFrame):
        raise TypeError(f"`ranking` must be {_RANKING}, a DataFrame; got {a_type(ranking)}")
    if ranking.columns.empty:
        return
    if isinstance(ranking.columns, pd.MultiIndex):
        if "prevalence" in ranking.columns.get_level_values(0):
            raise ValueError(
                f"`ranking` is class profiles (columns {_columns_shown(ranking)}), not "
                f"{_RANKING}; pass class profiles as `profiles=`"
            )
        raise ValueError(
            f"`ranking` has columns on several levels ({_columns_shown(ranking)}); expected "
            f"{_RANKING}"
        )
    needed = _COMPARISON_COLUMNS if _compared(ranking) is not None else _RANKING_COLUMNS
    missing = [c for c in needed if c not in ranking.columns]
    if missing:
        raise ValueError(
            f"`ranking` lacks the columns {', '.join(missing)} (its columns: "
            f"{_columns_shown(ranking)}); expected {_RANKING}"
        )
    text = [c for c in needed if not pd.api.types.is_numeric_dtype(ranking[c])]
    if text:
        raise ValueError(
            f"`ranking` has columns that hold no numbers: {', '.join(text)}; expected {_RANKING}"
        )


def _asset(name: str) -> str:
    return resources.files("sksplice").joinpath("templates", name).read_text(encoding="utf-8")


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sksplice", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # |tojson escapes <, >, & and ' as \\u escapes, so the JSON can never end its script
    # block; compact, in insertion order, and never NaN (JSON.parse would reject it)
    env.policies["json.dumps_kwargs"] = {
        "sort_keys": False,
        "separators": (",", ":"),
        "allow_nan": False,
        "ensure_ascii": False,
    }
    return env


class ReportPage(str):
    """The HTML page :func:`render_report` returns: a string, that a notebook shows in a
    frame of its own.

    It is the page's text in every use of a string (written to a file, compared,
    searched). Displayed in a Jupyter notebook (the last expression of a cell, or
    ``IPython.display.display(page)``), it is shown in an ``<iframe>`` of the page, so
    that its stylesheet and script stay inside: the page given as ``HTML(page)`` would
    restyle the whole notebook (its tables stretched to full width, its headings and
    buttons).

    Attributes
    ----------
    frame_height : int
        The height of the frame in the notebook, in CSS pixels (the page scrolls
        within it).
    """

    frame_height: int = 800

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # (IPython's text of the page, which a notebook keeps beside the frame and a
        # terminal shows: the whole page, tens of kilobytes, was written out)
        printer.text(
            f"<sksplice report page: {len(self):,} characters of HTML; shown in a frame "
            "where HTML is shown, str(page) is its text>"
        )

    def _repr_html_(self) -> str:
        import html

        return (
            f'<iframe srcdoc="{html.escape(str(self), quote=True)}" '
            f'style="width: 100%; height: {int(self.frame_height)}px; border: 1px solid #d1d9e0; '
            'border-radius: 6px;" title="sksplice concept report"></iframe>'
        )


def render_report(
    results: Iterable[ImageResult],
    *,
    title: str = "sksplice concept report",
    settings: Mapping[str, object] | None = None,
    profiles: pd.DataFrame | None = None,
    ranking: pd.DataFrame | None = None,
    skipped: Iterable[Any] | None = None,
    unit: str = "image",
) -> ReportPage:
    """Render a self-contained HTML page that explores image decompositions.

    Parameters
    ----------
    results : iterable of ImageResult
        One entry per image. Give all non-zero concepts of each image: a click
        on an image shows the ones given.
    title : str, default="sksplice concept report"
        Page title.
    settings : mapping or None, default=None
        Run settings listed in the summary (model, vocabulary, penalty, ...).
    profiles : pandas.DataFrame or None, default=None
        Per-class concept profiles (as from
        :func:`sksplice.analysis.concept_profiles`, or a concept-by-class table
        of prevalences, whose ``attrs["n_samples"]`` may give the images of each
        class as a dict): the most prevalent concepts of each class, with its
        number of images, and the prevalence per class of a clicked concept (the
        page holds those of the concepts it links: in the images, the ranking and
        the class profiles).
    ranking : pandas.DataFrame or None, default=None
        Concept ranking (as from :func:`sksplice.analysis.rank_concepts`, or
        from :func:`sksplice.analysis.rank_each_class` for every class against
        the rest, with its ``class`` column; rankings concatenated by hand may
        have one too),
        or a comparison of two collections (as from
        :func:`sksplice.shift.compare_datasets`, its collections' labels as
        column titles): shown as a sortable, searchable table, significant rows
        highlighted. The text above it names the test, its direction where it
        is one-sided (``attrs["alternative"]``) and what the p-values are
        adjusted over: in two levels where ``attrs["adjusted_over"]`` is
        ``"classes, then each class's concepts"`` (the rankings of ``sksplice
        profile`` and ``sksplice report``, with the classes not found to differ
        from the rest as a whole named), all classes together where it is
        ``"all classes"`` (``attrs["n_tests"]`` gives the number of tests);
        for rankings of several classes put together without it, what their
        ``p_value`` column shows (within each class, or over all rows
        together), and where it does not tell, that the table does not record
        it. With the one-sided test for concepts more frequent in
        the class (``attrs["alternative"]`` ``"greater"``), the rows of a concept
        in no image of the class (``count_positive`` 0, p-value 1) are left out
        of the page, which says how many: they can never be significant (two
        thirds of the rows of a ranking of 100 classes). A ranking cut to its
        first rows per class (``attrs["rows_per_class"]``, as ``sksplice report
        -k`` cuts it) is said to be, with the significant rows the cut left out
        (``attrs["significant_not_listed"]``).
    skipped : iterable or None, default=None
        Images that could not be decomposed: objects with ``item`` and
        ``reason`` attributes (as the embedders report them) or ``(path,
        reason)`` pairs. Listed in the summary.
    unit : str, default="image"
        What one result is, as the page's text names it: ``"row"`` for the
        rows of embeddings computed already (``"40 rows"``, ``"Concepts per
        row (l0)"``), as ``sksplice report`` names the rows of ``.npy`` files.
        A singular noun; the page adds an "s" for its plural.

    Returns
    -------
    html : ReportPage
        The complete page: a string, which a Jupyter notebook shows in a frame of
        its own (end a cell with it; ``HTML(html)`` would let its stylesheet
        restyle the notebook).

    Raises
    ------
    TypeError
        If an argument is not of the kind described above (an entry of
        ``results`` that is no :class:`ImageResult`, a ``title`` or ``unit``
        that is no text, ``profiles`` or ``ranking`` that is no DataFrame).
    ValueError
        If ``profiles`` or ``ranking`` is not such a table (a ranking given
        as ``profiles`` or the other way round, columns missing), or ``unit``
        is blank or has spaces around it.

    Notes
    -----
    A file or folder name that is not valid UTF-8 (its undecodable bytes held
    by Python as lone surrogates, as ``os.listdir`` gives them) is shown with
    each such byte as a backslash escape: ``b"bad\\xff.png"`` as ``bad\\xff.png``,
    the way the ``sksplice`` command writes it in every output.
    """
    results = _check_results(results)
    if not isinstance(title, str):
        raise TypeError(f"`title` must be text (a str), got {_given(title)}")
    if not isinstance(unit, str):
        raise TypeError(f"`unit` must be text (a str, such as 'row'), got {_given(unit)}")
    if not unit.strip() or unit != unit.strip():
        raise ValueError(
            f"`unit` must be a noun without spaces around it (such as 'image' or 'row'), "
            f"got {unit!r}"
        )
    if settings is not None and not isinstance(settings, Mapping):
        raise TypeError(
            f"`settings` must be a mapping of setting names to values (a dict), got "
            f"{_given(settings)}"
        )
    if profiles is not None:
        _check_profiles(profiles)
    if ranking is not None:
        _check_ranking(ranking)
    if profiles is not None and ranking is not None:
        profiles = _in_comparison_order(profiles, ranking)
    skipped_rows = _skipped_rows(skipped)
    concept_index: dict[str, int] = {}
    class_index: dict[str, int] = {}
    images = []
    frequency: Counter[str] = Counter()
    top_weight = 0.0
    isfinite, index = math.isfinite, concept_index.setdefault
    # (the thumbnails not given, made side by side)
    missing = [r.path for r in results if r.thumbnail is None]
    thumbnails = _thumbnails(missing)
    _warn_unread(missing, thumbnails, unit)
    made = iter(thumbnails)
    for r in results:
        thumb = r.thumbnail if r.thumbnail is not None else next(made)
        thumb = thumb or None  # ("": no preview)
        shown = [(str(name), float(weight)) for name, weight in r.concepts]
        shown = [(name, weight) for name, weight in shown if weight != 0 and isfinite(weight)]
        # 4 significant digits: a small weight stays non-zero (round(w, 4) made 3e-5 a 0)
        weights = [[index(name, len(concept_index)), float(f"{w:.4g}")] for name, w in shown]
        frequency.update(name for name, _ in shown)
        if shown:
            top_weight = max(top_weight, max(weight for _, weight in shown))
        label = None if r.label is None else str(r.label)
        images.append(
            {
                "p": r.path,
                "c": -1 if label is None else class_index.setdefault(label, len(class_index)),
                "l0": int(r.l0),
                "cos": _finite(r.cosine),
                "base": _finite(r.baseline_cosine),
                "t": thumb,
                "w": weights,
            }
        )
    class_names = list(class_index)
    # (the concepts of the images: the ranking's may add others to the index below)
    n_concepts = len(concept_index)
    groups: list[str] = []
    prevalence: dict[str, list[float | None]] = {}
    names: list[str] = []  # each group as shown, with its number of images
    sizes: list[int | None] = []
    if profiles is not None and len(profiles):
        groups, prevalence = _profile_rows(profiles)
        sizes = _group_sizes_shown(profiles, groups)
        names = _group_names(profiles, groups, sizes, unit)
    rank_classes: list[str] = []
    rows: list[list[Any]] = []
    left_out = 0
    if ranking is not None and len(ranking):
        rank_classes, rows, left_out = _ranking_rows(ranking, concept_index)
    last_classes = _unpromising_classes(ranking)
    data = {
        "concepts": list(concept_index),
        "classes": class_names,
        "images": images,
        "scale": top_weight or 1.0,
        "hasWeights": bool(top_weight),
        "rankClasses": rank_classes,
        # (indices into rankClasses: the classes no concept can be significant in, whose
        # rows the table opens with last)
        "rankLast": [i for i, c in enumerate(rank_classes) if c in last_classes],
        "ranking": rows,
        "alpha": float(ranking.attrs.get("alpha", 0.05)) if ranking is not None else 0.05,
        "groups": groups,
        "groupNames": names,
        "prevalence": prevalence,
        # (the folder separators of the paths: a backslash is one only on Windows; elsewhere
        # it is part of a name, as in the \xNN the outputs write for bytes not UTF-8)
        "windowsPaths": os.name == "nt",
    }
    frequent = sorted(frequency.items(), key=lambda kv: (-kv[1], kv[0]))[:_N_FREQUENT]
    l0 = np.array([r.l0 for r in results], dtype=np.float64)
    cosine = np.array([r.cosine for r in results], dtype=np.float64)
    baseline = np.array([r.baseline_cosine for r in results], dtype=np.float64)
    known = np.isfinite(cosine)  # (the images the mean cosine is of)
    class_profiles = []
    if groups:
        from .analysis import _top_of_group

        # (the exact shares: the cards' percentages are rounded from them, once)
        shares = _prevalences(cast("pd.DataFrame", profiles))
        concept_names = [str(name) for name in shares.index]
        table = pd.DataFrame(shares.to_numpy(dtype=np.float64), index=concept_names, columns=groups)
        # (a class of one image holding a concept has it at 100%, a bar as long as one
        # of 300 images at 100%: each bar carries its 95% interval, as the plots do)
        counts, low, high = _prevalence_intervals(cast("pd.DataFrame", profiles), sizes)
        row_of = {name: i for i, name in enumerate(concept_names)}
        for j, (group, name) in enumerate(zip(groups, names, strict=True)):
            # (ties broken by mean weight, as plot_class_profile breaks them; the groups
            # are the columns' labels as text)
            label = shares.columns[j]
            top = table[group].iloc[_top_of_group(cast("pd.DataFrame", profiles), label)[:10]]
            class_profiles.append(
                (
                    name,
                    [
                        _profile_bar(
                            str(k),
                            float(v),
                            float(counts[row_of[str(k)], j]),
                            float(low[row_of[str(k)], j]),
                            float(high[row_of[str(k)], j]),
                            sizes[j],
                            unit,
                        )
                        for k, v in top.items()
                    ],
                )
            )
        # the prevalences of the concepts the page can show (a concept is shown from its
        # links: in the images, the ranking and the class profiles)
        linked = set(concept_index).union(k for _, top in class_profiles for k, *_ in top)
        data["prevalence"] = {k: v for k, v in prevalence.items() if k in linked}
        data["prevalenceInterval"] = {
            k: [
                # (ends rounded away from the inside, the interval written holding the exact
                # one, to the digits the panel writes them with: see _bound_text)
                None
                if not math.isfinite(lo)
                else [_written_end(lo, up=False), _written_end(hi, up=True), int(c)]
                for c, lo, hi in zip(counts[i], low[i], high[i], strict=True)
            ]
            for k, i in row_of.items()
            if k in linked
        }
        data["groupSizes"] = sizes
    summary = {
        "n_images": len(results),
        "n_classes": len(class_names),
        "n_skipped": len(skipped_rows),
        "n_concepts": n_concepts,
        "mean_l0": f"{l0.mean():.1f}" if l0.size else "-",
        "mean_cosine": f"{np.mean(cosine[known]):.3f}" if known.any() else "-",
        # (shown where every image with a cosine has it: a mean of other images than the
        # mean cosine's would not be its baseline; results made in Python may lack it)
        "mean_baseline": (
            f"{np.mean(baseline[known]):.3f}"
            if known.any() and np.isfinite(baseline[known]).all()
            else None
        ),
    }
    # Every text as the page shows it: a file or folder name that is not valid UTF-8
    # with \xNN escapes (the page is UTF-8), also where a reason quotes it.
    skipped_rows = [
        (shown_name(item), shown_message(_without_item(reason, item)))
        for item, reason in skipped_rows
    ]
    texts = _shown_texts(
        {
            "title": title,
            "settings": [(str(k), str(v)) for k, v in (settings or {}).items()],
            "frequent": frequent,
            "class_profiles": class_profiles,
            "ranking_text": {
                **_ranking_text(ranking),
                "left_out": _left_out_text(left_out, ranking, unit),
                "untestable": _untestable_text(ranking, unit),
            },
        }
    )
    # what the labels are: classes, or the two collections of a comparison (its folders)
    label_word, labels_word = (
        ("collection", "collections")
        if ranking is not None and _compared(ranking) is not None
        else ("class", "classes")
    )
    data.update(labelWord=label_word, labelsWord=labels_word, unit=unit, units=f"{unit}s")
    texts["data"] = _shown_data(data)
    template = _environment().get_template("report.html.j2")
    return ReportPage(
        template.render(
            **texts,
            group=label_word,
            groups=labels_word,
            summary=summary,
            skipped=skipped_rows,
            unit=unit,
            units=f"{unit}s",
            a_unit=_with_article(unit),
            l0_hist=_histogram(l0, integer=True, unit=unit),
            cosine_hist=_histogram(cosine, integer=False, unit=unit),
            n_images=max(len(results), 1),
            has_ranking=bool(rows),
            # (every p-value of Fisher's exact test, as the text above the table says: no
            # column repeating it in every row, which pushed the last columns out of view)
            one_test=_one_test(ranking),
            has_intervals=any(
                low is not None for _, top in class_profiles for *_, low, _h, _t in top
            ),
            # (written into the page, not only by its script: read without JavaScript too)
            alpha=f"{data['alpha']:g}",
            css=_asset("report.css"),
            script=_asset("report.js"),
        )
    )


def _shown_texts(value: Any) -> Any:
    """``value`` with every text in it (in dicts, lists and tuples) as
    :func:`sksplice._image_files.shown_name` writes it: valid UTF-8."""
    if isinstance(value, str):
        return shown_name(value)
    if isinstance(value, dict):
        return {_shown_texts(k): _shown_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown_texts(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_shown_texts(v) for v in value)
    return value


def _shown_data(data: dict[str, Any]) -> dict[str, Any]:
    """The page's data with its texts as :func:`_shown_texts` gives them, looking only where
    texts are: the images' paths and thumbnails and the prevalence table's concept names
    (the weights, ranking rows and prevalences are numbers; walking them all took seconds
    for thousands of images)."""
    shown: dict[str, Any] = {}
    for key, value in data.items():
        if key == "images":
            shown[key] = [
                {**image, "p": _shown_texts(image["p"]), "t": _shown_texts(image["t"])}
                for image in value
            ]
        elif key == "ranking":
            shown[key] = value  # (numbers: indices into rankClasses and concepts)
        elif key == "prevalence":
            shown[key] = {_shown_texts(k): v for k, v in value.items()}
        else:
            shown[key] = _shown_texts(value)
    return shown


def write_report(
    path: str | os.PathLike,
    results: Iterable[ImageResult],
    *,
    title: str = "sksplice concept report",
    settings: Mapping[str, object] | None = None,
    profiles: pd.DataFrame | None = None,
    ranking: pd.DataFrame | None = None,
    skipped: Iterable[Any] | None = None,
    unit: str = "image",
) -> Path:
    """Render a report (see :func:`render_report`) and write it atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output HTML file.
    results : iterable of ImageResult
        Image decompositions.
    title : str, default="sksplice concept report"
        Page title (as in :func:`render_report`).
    settings : mapping or None, default=None
        Run settings listed in the summary (as in :func:`render_report`).
    profiles : pandas.DataFrame or None, default=None
        Per-class concept profiles (as in :func:`render_report`).
    ranking : pandas.DataFrame or None, default=None
        Concept ranking or comparison of two collections (as in
        :func:`render_report`).
    skipped : iterable or None, default=None
        Inputs that could not be decomposed (as in :func:`render_report`).
    unit : str, default="image"
        What a row is (as in :func:`render_report`).

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist (it is not created, as
        :meth:`pandas.DataFrame.to_csv` does not create one either).
    NotADirectoryError
        If what should be the folder of ``path`` is a file.
    IsADirectoryError
        If ``path`` is a folder.
    OSError
        If the file cannot be written (a read-only folder: ``PermissionError``);
        the error names ``path``. An existing file is left as it was. A
        ``path`` that is a folder, or whose folder takes no new file, is refused
        before the page is made (before any image is read for its thumbnail).

    Notes
    -----
    The page is written to a temporary file in the same folder, then renamed
    to ``path``: a reader sees the old file or the complete new one. The
    temporary file of a writer of ``path`` that was killed on this machine is
    removed first.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path (a str or os.PathLike), got {_given(path)}")
    path = Path(path)
    folder = path.parent
    if not path.is_symlink():  # (a link is followed: atomic_write checks its target's folder)
        if not folder.exists():
            raise FileNotFoundError(
                errno.ENOENT,
                f"Cannot write the report {str(path)!r}: its folder {str(folder)!r} does not "
                "exist; create it first or choose another path",
            )
        if not folder.is_dir():
            raise NotADirectoryError(
                errno.ENOTDIR,
                f"Cannot write the report {str(path)!r}: {str(folder)!r} is not a folder",
            )
    suffix = path.suffix.lower()
    if suffix[1:].isalpha() and suffix not in PAGE_EXTENSIONS:  # (as the command line says)
        warn_user(
            f"the report {str(path)!r} is an HTML page whatever its extension ({suffix}); "
            "name it .html to open it in a browser"
        )
    # (before the page is made: its thumbnails read every image)
    check_writable(path)
    page = render_report(
        results,
        title=title,
        settings=settings,
        profiles=profiles,
        ranking=ranking,
        skipped=skipped,
        unit=unit,
    ).encode("utf-8")
    # (the temporary file of a writer that was killed, named with its process id)
    remove_stale_temporaries(os.path.realpath(path), time.time())
    try:
        with atomic_write(path) as fh:
            fh.write(page)
    except OSError as exc:
        # the error of the temporary file written first (".r.html.1234....tmp") or of a
        # write that names no file (a full disk): named after the file asked for
        text = os.fspath(path)
        if exc.errno is None or exc.filename == text or text in str(exc.strerror):
            raise
        raise type(exc)(exc.errno, exc.strerror, text) from None
    logger.debug("wrote %s (%.1f MB)", path, len(page) / 1e6)
    return path
