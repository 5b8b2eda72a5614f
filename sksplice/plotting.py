"""Matplotlib figures for concept decompositions and concept statistics.

Every function draws into the ``ax`` it is given (or a new figure) and returns
the :class:`matplotlib.axes.Axes`; the figure is ``ax.figure``. Nothing here
calls ``plt.show()``. In a Jupyter notebook, and where pyplot is in use
(imported), a new figure is pyplot's, so that a notebook shows it and
``plt.savefig`` finds it; elsewhere it is a bare Figure that no GUI backend holds: save it with
``ax.figure.savefig(...)``. matplotlib is an optional dependency
(the ``plot`` extra: ``pip install -c constraints.txt ".[plot]"``
in a checkout).
"""

from __future__ import annotations

import math
import numbers
import re
import reprlib
import sys
import warnings
from collections.abc import Hashable
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._names import (
    a_type,
    carried_names,
    label_hint,
    listed,
    plural,
    reconcile_names,
    unnamed_hint,
)
from ._progress import in_jupyter_kernel
from ._proportions import INTERVAL_LEVEL as _INTERVAL_LEVEL
from ._validation import check_flag, check_int, check_labels, check_option, find_label
from .analysis import ALL_GROUP, _correction_name, _group_sizes, _top_of_group

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence

    from matplotlib.axes import Axes

__all__ = [
    "FigureLayoutWarning",
    "plot_class_profile",
    "plot_concept_histogram",
    "plot_concept_prevalence",
    "plot_dataset_shift",
    "plot_decomposition",
    "plot_sparsity_tradeoff",
]

#: The legend entry of the prevalence intervals: each bar's own interval, not a test of
#: its difference from the dataset-wide value (see :func:`plot_class_profile`).
_INTERVAL_LABEL = f"{_INTERVAL_LEVEL:.0%} interval (per bar)"

_STATISTICS = ("prevalence", "mean_weight")
#: The widest new figure of plot_concept_prevalence, in inches, and the most classes it
#: shows (a quarter of an inch or more each, where turned labels do not overlap).
_MAX_WIDTH = 24.0
_MAX_CLASSES = 80


def _check_axes(ax: Any, name: str) -> Axes:
    """``ax``, refused with a ``TypeError`` naming ``name`` unless it is one Axes."""
    from matplotlib.axes import Axes as _Axes

    if not isinstance(ax, _Axes):
        # (the array plt.subplots returns, or the figure: it failed deep inside with
        # "'numpy.ndarray' object has no attribute 'barh'")
        example = " (one of the array plt.subplots returns, e.g. axs[0])"
        raise TypeError(
            f"{name} must be one matplotlib Axes{example if isinstance(ax, np.ndarray) else ''}"
            f", got {a_type(ax)}"
        )
    return ax


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new figure.

    In a Jupyter notebook (whose kernel does not import pyplot until asked), and
    where pyplot is in use (imported: a script that calls ``plt.show`` or
    ``plt.savefig``), the figure is made by pyplot, as scikit-learn's displays and
    pandas do: a notebook shows it, and ``plt.title``, ``plt.savefig`` and
    ``plt.show`` act on it. Elsewhere it is a bare Figure, registered with no GUI
    backend (save it with ``ax.figure.savefig``).
    """
    if ax is not None:
        return _check_axes(ax, "ax")
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "sksplice.plotting needs matplotlib: pip install matplotlib, or install the "
            '`plot` extra (`pip install -c constraints.txt ".[plot]"` in a checkout of sksplice)'
        ) from exc
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None and in_jupyter_kernel():
        # (a notebook whose code has not imported pyplot: it shows only pyplot's figures,
        # and its kernel's backend is the inline one, no GUI)
        import matplotlib.pyplot as pyplot
    if pyplot is not None:
        return pyplot.figure(figsize=figsize, layout="constrained").add_subplot()
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _check_profiles(profiles: Any, statistic: str) -> pd.DataFrame:
    check_option(statistic, "`statistic`", _STATISTICS)
    if not isinstance(profiles, pd.DataFrame) or not isinstance(profiles.columns, pd.MultiIndex):
        raise TypeError(
            "`profiles` must be the DataFrame returned by sksplice.analysis.concept_profiles"
        )
    if statistic not in profiles.columns.get_level_values(0):
        raise ValueError(f"`profiles` has no {statistic!r} columns")
    return profiles[statistic]


#: The smallest range of an accuracy axis: accuracies of 0.962 to 0.971 (2 samples of
#: 240) would otherwise fill the axes like a large effect.
_MIN_ACCURACY_SPAN = 0.1


def _at_least_span(ax: Axes, span: float) -> None:
    """Widen the y range of ``ax`` about its middle to ``span``, and keep it within
    [0, 1] (with a margin for the markers) where it fits: matplotlib pads a flat line
    at 1.0 to 0.945-1.055, which ticked an accuracy at 1.02 and 1.04."""
    lo, hi = ax.get_ylim()
    if hi - lo < span:
        middle = 0.5 * (lo + hi)
        lo, hi = middle - 0.5 * span, middle + 0.5 * span
    margin = 0.02 * (hi - lo)
    floor, ceiling = 0.0 - margin, 1.0 + margin
    values = [np.asarray(line.get_ydata(), dtype=np.float64) for line in ax.get_lines()]
    drawn = np.concatenate(values) if values else np.empty(0)
    drawn = drawn[np.isfinite(drawn)]
    if np.any((drawn < 0.0) | (drawn > 1.0)):  # (given axes holding other data: shown whole)
        floor, ceiling = -np.inf, np.inf
    if hi - lo <= ceiling - floor:  # (moved inside whole, its span kept)
        shift = max(0.0, hi - ceiling) - max(0.0, floor - lo)
        lo, hi = lo - shift, hi - shift
    ax.set_ylim(max(lo, floor), min(hi, ceiling))


def _with_size(label: Any, sizes: dict[Any, int], sep: str = " ", text: str | None = None) -> str:
    """``label`` (or ``text``, its shortened form) and its number of samples, when known:
    ``"bat (n=1)"``."""
    n = sizes.get(label)
    text = str(label) if text is None else text
    return text if n is None else f"{text}{sep}(n={n})"


#: Longest tick label of a concept name; a longer one is cut with an ellipsis (a long
#: name would otherwise squeeze the bars away).
_MAX_LABEL = 40


def _say_on_empty_axes(ax: Axes, text: str, y: float = 0.5) -> None:
    """Write ``text`` in the middle of axes that have nothing to show (``y``: its height
    in the axes, above what they do show)."""
    # (on a box of the axes' colour, above lines that cross the middle, e.g. a diagonal)
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.3", zorder=5,
            bbox={"facecolor": ax.get_facecolor(), "edgecolor": "none", "pad": 2.0})  # fmt: skip


def _literal(text: str) -> str:
    """``text`` drawn as written: matplotlib reads a text with two ``$`` as
    mathematics (``"price $10 and $20"`` lost its dollars and ``"$$"`` failed to draw),
    so every ``$`` of a name from the data is escaped (``\\$``, drawn as ``$``).
    Titles given by the caller are not: they may hold mathematics on purpose."""
    return text.replace("$", r"\$")


def _shortened(name: str) -> str:
    return name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "\u2026"


def _cut_at_difference(name: str, start: int) -> str:
    """``name`` in at most ``_MAX_LABEL`` characters keeping the part from index
    ``start`` (where it differs from a name alike): its beginning, an ellipsis, then the
    word holding ``start`` with the words before it that fit in half the length, and
    what follows (cut with an ellipsis where longer)."""
    if len(name) <= _MAX_LABEL:
        return name
    half = _MAX_LABEL // 2
    begin = name.rfind(" ", 0, start) + 1
    if start - begin > 8:  # (a long word, or no spaces: a few characters before)
        begin = start - 4
    while begin > 0:  # (with the words before it, for context)
        before = name.rfind(" ", 0, begin - 1) + 1
        if len(name) - before > half or before == begin:
            break
        begin = before
    tail = name[begin:]
    if len(tail) > half:
        tail = tail[: half - 1].rstrip() + "\u2026"
    room = _MAX_LABEL - len(tail) - 3  # (an ellipsis between spaces)
    head = name[:room]
    if name[room] != " " and not head.endswith(" ") and " " in head.strip():
        head = head[: head.rstrip().rfind(" ")]  # (ends at a word)
    return f"{head.rstrip()} \u2026 {tail}"


def _shortened_apart(names: list[str]) -> list[str]:
    """``names`` cut to ``_MAX_LABEL`` characters as :func:`_shortened` does, unless two
    different names would then read the same: those are cut in the middle instead,
    keeping the words where they differ (``"a photograph \u2026 camera of dog"``), and a
    name that still reads as another is left whole."""
    short = [_shortened(n) for n in names]
    for _ in range(2):
        alike: dict[str, set[str]] = {}
        for name, cut in zip(names, short):
            alike.setdefault(cut, set()).add(name)
        clashing = {cut for cut, group in alike.items() if len(group) > 1}
        if not clashing:
            return short
        for i, (name, cut) in enumerate(zip(names, short)):
            if cut not in clashing:
                continue
            if cut != _shortened(name):  # (a middle cut that still clashes)
                short[i] = name
                continue
            common = max(
                next((j for j, (a, b) in enumerate(zip(name, other)) if a != b), len(name))
                for other in alike[cut] - {name}
            )
            short[i] = _cut_at_difference(name, common)
    return short


def _ink() -> Any:
    """The colour of text in the current style (black by default, white on dark styles):
    marks that stand for "everything" are drawn in it, never in a fixed black."""
    import matplotlib

    return matplotlib.rcParams["text.color"]


def _luminance(color: Any) -> float:
    """The relative luminance of ``color`` (WCAG 2): 0 for black, 1 for white."""
    from matplotlib.colors import to_rgb

    rgb = np.asarray(to_rgb(color))
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def _contrast(a: Any, b: Any) -> float:
    """The contrast ratio of two colours (WCAG 2): 1 for equal ones, 21 for black on
    white."""
    la, lb = sorted((_luminance(a), _luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def _against(color: Any) -> str:
    """Black or white, whichever stands out more against ``color``."""
    return "black" if _contrast("black", color) >= _contrast("white", color) else "white"


def _mark_on(artist: Any, bars: Any, width: float) -> None:
    """Colour ``artist`` (marks drawn ``width`` points wide over bars of colour ``bars``)
    black or white, whichever stands out on the bars, with a thin outline of the other:
    the marks show on the bars and off them, in light and dark styles alike (in the
    text colour, white marks on the pale bars of a dark style would not show)."""
    from matplotlib import patheffects

    ink = _against(bars)
    artist.set_color(ink)
    outline = "white" if ink == "black" else "black"
    artist.set_path_effects([patheffects.withStroke(linewidth=width + 1.5, foreground=outline)])


def _class_colour(cls: Any, groups: list[Any]) -> str:
    """The colour of class ``cls`` among the sorted classes ``groups`` of the labels (or of
    the profiles): the same class has the same colour in every figure of the labels, also
    where a figure draws some classes only, or in another order (by their position in
    ``classes=``, orange was "dog" in one histogram and "cat" in the next)."""
    return f"C{groups.index(cls) % 10}"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _not_in_profiles(said: str, requested: list[Any], groups: list[Any]) -> str:
    """The message of classes ``requested`` (``said`` in it) that are not ``groups``;
    a bool equal to a number class, or the other way round, is pointed out."""
    if not groups:  # (profiles of the whole dataset only: made without labels)
        return (
            f"{said} not in the profiles, which have no per-class columns: compute them "
            "with labels `y` (concept_profiles(W, y, concepts))"
        )
    message = f"{said} not in the profiles; classes are {groups}"
    if any(isinstance(cls, str) and cls == ALL_GROUP for cls in requested):
        # (the whole dataset's column, which plot_class_profile marks on every class)
        return (
            f"{message} ({ALL_GROUP!r} is the whole dataset, not a class: its concepts are "
            f"plot_decomposition(profiles['mean_weight'][{ALL_GROUP!r}], k=10))"
        )
    for cls in requested:
        for group in groups:
            if _is_bool(cls) != _is_bool(group):
                try:
                    equal = bool(cls == group)
                except (TypeError, ValueError):
                    equal = False
                if equal:
                    kinds = ("a bool", "a number") if _is_bool(cls) else ("a number", "a bool")
                    return (
                        f"{message} ({cls!r} is {kinds[0]} and the class {group!r} "
                        f"{kinds[1]}: pass {group!r})"
                    )
    return message + (label_hint(requested[0], groups) if len(requested) == 1 else "")


#: Points kept between a title or legend and the left or right edge of the figure.
_EDGE = 4.0
#: Most lines of a wrapped title: the last one ends with an ellipsis when the title is
#: longer still.
_TITLE_LINES = 3


def _root_figure(ax: Axes) -> Any:
    """The figure holding ``ax`` (the root figure of a subfigure: a SubFigure's figure is
    its parent), which is laid out and drawn."""
    from matplotlib.figure import Figure

    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def _lay_out(ax: Axes) -> None:
    """Run the layout of the figure holding ``ax`` (the root figure of a subfigure), so
    that the axes and their texts have their places on the screen."""
    fig = _root_figure(ax)
    fig._sksplice_laying_out = True  # type: ignore[attr-defined]  # (see _check_when_drawn)
    try:
        with warnings.catch_warnings():
            # (a layout on the way, before the titles are wrapped and the legends put on one
            # entry a row: matplotlib's "constrained_layout not applied" of a figure that is
            # fine in the end; _unfit_texts says where the end is not)
            warnings.filterwarnings("ignore", message="constrained_layout not applied")
            fig.draw_without_rendering()
    finally:
        fig._sksplice_laying_out = False  # type: ignore[attr-defined]


class FigureLayoutWarning(UserWarning):
    """Texts of axes given to a plot of ``sksplice.plotting`` do not fit where the
    figure is drawn: concept names, a title, a legend or class labels run out of the
    figure, over other axes, or over each other.

    It is issued when the figure is drawn (saved, shown, or displayed by a notebook),
    after the caller's own layout, and names the line of the plot's call; a filter
    that ignores it where the plot is made (``warnings.catch_warnings()`` around the
    call) or anywhere (``warnings.filterwarnings("ignore",
    category=FigureLayoutWarning)``) silences it.
    """


def _dry_run(renderer: Any) -> bool:
    """Whether a draw is matplotlib's dry run, which places the artists but paints
    nothing (``fig.draw_without_rendering()``, and ``savefig`` before a layout or a
    ``bbox_inches="tight"`` crop): the texts of the figure may still move or, cropped
    to, come inside the image (a notebook's inline display saves figures so)."""
    # (matplotlib's renderer._draw_disabled() sets its draw_* methods on the instance; the
    # vector formats' MixedModeRenderer passes the call on to the renderer it wraps)
    inner = getattr(renderer, "__dict__", {}).get("_renderer")
    return any("draw_path" in getattr(r, "__dict__", {}) for r in (renderer, inner))


def _check_when_drawn(ax: Axes, check: Callable[[Axes], str | None]) -> None:
    """Warn with what ``check(ax)`` says is wrong (a message, or None), once, when the
    figure is next drawn (saved, shown, or displayed by a notebook): after the caller's
    own layout (``fig.tight_layout()``, a call that comes after the plot's), where the
    texts of the axes have their final places. Drawn at once, the check warned of
    labels that the layout then moved apart. The warning names the user's line that
    made the plot, not matplotlib's that draws it; an axes removed from its figure
    meanwhile is not checked. Filters that ignore a :class:`FigureLayoutWarning` where
    the plot is made (a ``catch_warnings`` around the call) leave it unchecked."""
    from ._stack import _action, user_line, warn_at

    fig = _root_figure(ax)
    line = user_line()
    if line is not None:
        module = line[2].get("__name__", "<string>")
        if _action("the ", FigureLayoutWarning, module, line[1]) == "ignore":
            return
    cid = 0

    def on_draw(event: Any) -> None:
        if getattr(fig, "_sksplice_laying_out", False):
            return  # (the layout of a plot drawn on other axes of the figure meanwhile)
        if _dry_run(event.renderer):
            # (the painted draw comes next, on the crop of bbox_inches="tight", with the
            # layout engine that savefig turns off for it: kept for _room_advice)
            fig._sksplice_engine_laid_out = fig.get_layout_engine()  # type: ignore[attr-defined]
            return
        fig.canvas.mpl_disconnect(cid)
        if ax.figure is None or ax not in fig.get_axes():
            return  # (ax.remove(), fig.delaxes(ax), fig.clf())
        message = check(ax)
        if message is not None:
            warn_at(line, message, FigureLayoutWarning)

    cid = fig.canvas.mpl_connect("draw_event", on_draw)


def _beside_others(ax: Axes) -> bool:
    """Whether other visible axes of the figure stand beside ``ax`` (a row of panels)."""
    box = ax.bbox
    return any(
        other is not ax
        and other.get_visible()
        and other.bbox.y1 > box.y0
        and other.bbox.y0 < box.y1
        and (other.bbox.x0 >= box.x1 or other.bbox.x1 <= box.x0)
        for other in ax.figure.axes
    )


def _room_above(ax: Axes) -> float:
    """The width, in pixels, a text centred over ``ax`` may take inside its figure, on
    the figure's current layout: up to the figure's edges, and no further than halfway
    into the gap to an axes beside it (subplots in a row: a class's title or legend ran
    over its neighbour's, and a constrained layout shrank every axes to make room)."""
    figure_box = ax.figure.bbox
    box = ax.bbox
    centre = 0.5 * (box.x0 + box.x1)
    room = 2.0 * min(centre - figure_box.x0, figure_box.x1 - centre)
    edge = 2.0 * _EDGE * ax.figure.dpi / 72.0
    for other in ax.figure.axes:
        near = other.bbox
        if other is ax or not other.get_visible() or near.y1 <= box.y0 or near.y0 >= box.y1:
            continue  # (not beside it: above, below, or the axes itself)
        if near.x0 >= box.x1:
            room = min(room, 2.0 * (0.5 * (near.x0 + box.x1) - centre) + edge)
        elif near.x1 <= box.x0:
            room = min(room, 2.0 * (centre - 0.5 * (near.x1 + box.x0)) + edge)
    return max(room - edge, 1.0)


def _wrapped(text: Any, content: str, room: float, *, vertical: bool = False) -> str:
    """``content`` broken at spaces into lines no wider than ``room`` pixels when drawn as
    ``text`` (a matplotlib Text, whose string this sets), at most ``_TITLE_LINES`` of
    them; a word too long for a line, and the last line of a text that needs more lines,
    are cut with an ellipsis. Mathematical text (``$...$``) is left whole. A
    ``vertical`` text (a y-axis label) is measured by its height.
    """
    from matplotlib import cbook

    def width(line: str) -> float:
        text.set_text(line)
        extent = text.get_window_extent()
        return float(extent.height if vertical else extent.width)

    def cut(line: str) -> str:
        # (the longest start of ``line`` that fits with an ellipsis)
        lo, hi = 0, len(line)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if width(line[:mid].rstrip() + "\u2026") <= room:
                lo = mid
            else:
                hi = mid - 1
        if line[lo - 1 : lo + 1] == "\\$":  # (not between an escape and its dollar)
            lo -= 1
        return line[:lo].rstrip() + "\u2026"

    if text.get_usetex() or cbook.is_math_text(content) or width(content) <= room:
        return content
    lines: list[str] = []
    paragraphs = [[w for w in p.split(" ") if w] for p in content.split("\n")]
    for p, rest in enumerate(paragraphs):
        while True:
            n = 1  # (the most words that fit, one at least)
            while n < len(rest) and width(" ".join(rest[: n + 1])) <= room:
                n += 1
            line, rest = " ".join(rest[:n]), rest[n:]
            if len(lines) == _TITLE_LINES - 1 and (rest or p < len(paragraphs) - 1):
                lines.append(cut(" ".join([line, *rest])))
                return "\n".join(lines)
            lines.append(line if width(line) <= room else cut(line))
            if not rest:
                break
    return "\n".join(lines)


def _set_title(ax: Axes, title: str) -> None:
    """Title ``ax``, the title wrapped (see :func:`_wrapped`) to lie inside the figure
    on its layout at the call."""
    text = ax.set_title(title)
    _lay_out(ax)
    text.set_text(_wrapped(text, title, _room_above(ax)))


def _check_color(color: Any) -> None:
    """``color`` is a colour matplotlib knows, or a list of them (its own error,
    "'facecolor' or 'color' argument must be a valid color or sequence of colors",
    named no parameter)."""
    from matplotlib.colors import is_color_like

    if color is None:
        return  # (matplotlib's next colour)
    if isinstance(color, str):
        if is_color_like(color):
            return
    elif isinstance(color, list | tuple | np.ndarray):
        if is_color_like(color):  # (an RGB(A) tuple)
            return
        # (a colour per bar, as matplotlib's barh takes them; a bare number is none)
        if len(color) and all(
            is_color_like(c) and not isinstance(c, numbers.Number) for c in color
        ):
            return
    raise ValueError(
        f"color={color!r} is not a matplotlib colour: give one colour, such as 'C0', "
        "'tab:blue', '#1f77b4' or an RGB(A) tuple of floats in [0, 1], or a list of them"
    )


def plot_decomposition(
    weights_row: Any,
    concepts: Any = None,
    k: int = 10,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    color: str = "C0",
) -> Axes:
    """Horizontal bar chart of the ``k`` largest concept weights of one sample.

    Parameters
    ----------
    weights_row : array-like of shape (n_concepts,), sparse row or pandas Series
        The concept weights of one sample (a 1 x n_concepts sparse matrix or
        DataFrame row is accepted too, and so is a 1-D sparse array such as
        ``sp.csr_array(W)[i]``).
    concepts : sequence of str, fitted transformer or None, default=None
        Concept names, or an object with ``get_feature_names_out``; defaults to
        the index of a Series (or the columns of a one-row DataFrame). With
        both, the Series' own index labels its weights when it holds these
        concepts in another order; other concept names are refused.
    k : int, default=10
        Number of concepts shown; fewer when fewer weights are non-zero.
    ax : matplotlib Axes or None, default=None
        Axes to draw into; a new figure is made when omitted.
    title : str or None, default=None
        Axes title; one too wide for the figure is wrapped (see
        :func:`plot_class_profile`).
    color : str, tuple of float or list of them, default="C0"
        Bar colour: one matplotlib colour for every bar, or a list of colours as
        matplotlib's ``barh`` takes them (bottom bar first, repeated if shorter).

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn into, largest weight at the top.

    Raises
    ------
    ValueError
        If the row is not one sample, names are missing or their number does
        not match, a weight is NaN, infinite or negative (naming the first), or
        ``color`` is not one colour.
    TypeError
        If ``concepts`` is a single string, or ``ax`` is not one Axes.
    """
    k = check_int(k, "k")
    _check_color(color)
    if isinstance(weights_row, pd.DataFrame):
        if weights_row.shape[0] != 1:
            raise ValueError(f"expected a single row of weights, got shape {weights_row.shape}")
        weights_row = weights_row.iloc[0]
    carried = carried_names(weights_row.index) if isinstance(weights_row, pd.Series) else None
    if concepts is None and carried is not None:
        concepts = weights_row.index
    if sp.issparse(weights_row):
        # (a row of a sparse array is 1-D: scipy >= 1.14 indexes csr_array rows so)
        if weights_row.ndim != 1 and weights_row.shape[0] != 1:
            raise ValueError(f"expected a single row of weights, got shape {weights_row.shape}")
        values = weights_row.toarray().ravel().astype(np.float64)
    else:
        values = np.asarray(weights_row, dtype=np.float64)
        if values.ndim == 2 and values.shape[0] == 1:
            values = values.ravel()
        if values.ndim != 1:
            raise ValueError(f"expected a single row of weights, got shape {values.shape}")
    if concepts is None:
        raise ValueError(
            "the weights carry no concept names: pass `concepts=` (a list of names or a "
            "fitted SpliceTransformer) or a pandas Series indexed by concept"
            + unnamed_hint(weights_row)
        )
    if isinstance(concepts, str):  # (its letters would label the bars)
        raise TypeError("`concepts` must be a sequence of concept names, not a single string")
    splice = concepts if hasattr(concepts, "get_feature_names_out") else None
    if splice is not None:
        concepts = splice.get_feature_names_out()
    names = np.asarray(list(concepts), dtype=object)
    if names.shape[0] != values.shape[0]:
        hint = ""
        width = getattr(splice, "n_features_in_", None)
        if width is not None and values.shape[0] == width:
            # (a row of X, not of its weights)
            hint = (
                f"; these {width} values are an embedding (the transformer's input "
                "width): plot its weights, e.g. splice.transform(X[[i]])"
            )
        raise ValueError(
            f"{names.shape[0]} concept names for {values.shape[0]} weights; "
            f"there must be one name per weight{hint}"
        )
    names = reconcile_names(names, carried, "`concepts`", "the index of the weights")
    # (NaN was drawn as an empty labelled bar, a negative weight ranked first by its size)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"the weights hold {values[j]} at position {j} ({names[j]!r}); concept weights "
            "are finite and non-negative"
            + (f" ({bad.size} positions are not)" if bad.size > 1 else "")
        )
    nonzero = np.flatnonzero(values)
    order = nonzero[np.argsort(-values[nonzero], kind="mergesort")][:k]
    ax = _new_axes(ax, (6.0, 0.35 * max(len(order), 3) + 1.0))
    # barh draws bottom-up: reverse so the largest weight is on top.
    shown = order[::-1]
    ax.barh(np.arange(len(shown)), values[shown], color=color)
    ax.set_yticks(
        np.arange(len(shown)),
        [_literal(n) for n in _shortened_apart([str(n) for n in names[shown]])],
    )
    if not len(shown):  # an empty axis would say nothing
        _say_on_empty_axes(ax, "no concept: every weight of this row is zero")
        # (weights are not negative; on its own the empty axis ran from 0 to 0.055)
        ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("concept weight")
    if title is not None:
        _set_title(ax, title)
    return ax


def plot_class_profile(
    profiles: pd.DataFrame,
    cls: Any,
    k: int = 10,
    ax: Axes | None = None,
    *,
    statistic: str = "prevalence",
    title: str | None = None,
) -> Axes:
    """Top concepts of one class, with the dataset-wide value for comparison.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`sksplice.analysis.concept_profiles` with labels.
    cls : label
        The class to show.
    k : int, default=10
        Number of concepts shown: those with the largest ``statistic`` in
        ``cls`` (concepts with value 0 are left out).
    ax : matplotlib Axes or None, default=None
        Axes to draw into; a new figure is made when omitted.
    statistic : {"prevalence", "mean_weight"}, default="prevalence"
        Which statistic to plot.
    title : str or None, default=None
        Axes title; defaults to the class name and its number of samples
        (``"class bat (n=1)"``). A title too wide for the figure is wrapped at
        spaces onto at most three lines, a word too long for a line cut with an
        ellipsis; a legend too wide for one row, or beside other axes, is put
        one entry a row, then its class name cut. Both are fitted to the
        figure's size at the call: draw into axes of the final size rather than
        resizing the figure after.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One bar per concept (the class's value, largest on top) and a marker
        per concept for the dataset-wide value (black or white, whichever
        stands out on the bars, outlined in the other). Prevalence bars carry
        their exact 95% interval (Clopper-Pearson, from the concept's count and
        the class's size, as in :func:`plot_concept_prevalence`): every concept
        of a class of one sample is at 1.0, with an interval from 0.025 to 1.
        An interval covers the prevalence of a concept chosen beforehand at
        least 95% of the time; the ``k`` bars are the largest prevalences,
        chosen after looking, which chance has raised more often than lowered,
        so their intervals may cover less than 95% of the time (most where many
        concepts have nearly the same prevalence). Each interval is the bar's
        own, not a test: of the many concepts of a class, some intervals miss
        the dataset-wide value by chance alone (in data where no class differs,
        one of the ten bars of a class of 30 did in 40% of such plots);
        :func:`~sksplice.analysis.rank_each_class` tests the differences,
        adjusted for every concept and class. The
        legend is in one row (one entry a row when that is too wide, and
        beside other axes, so the panels of a row are alike) between
        the title and the axes, where it covers no bar; title and legend keep
        within the figure and halfway into the gap to an axes beside these.
        Given axes whose concept names, title or legend run out of the figure
        or over other axes are warned about when the figure is drawn (saved or
        shown: after a ``fig.tight_layout()`` that comes later); make subplots
        with ``layout="constrained"``, which makes room for them.

    Raises
    ------
    ValueError
        If ``cls`` is not a class of ``profiles`` or ``statistic`` is unknown. A
        bool is not the class ``1`` (nor ``1`` the class ``True``), although
        ``True == 1`` in Python.
    """
    from matplotlib.patches import Patch

    k = check_int(k, "k")
    table = _check_profiles(profiles, statistic)
    groups = [g for g in table.columns if g != ALL_GROUP]
    found = find_label(cls, groups)
    if found is None:
        raise ValueError(_not_in_profiles(f"class {cls!r} is", [cls], groups))
    cls = found
    values = table[cls].to_numpy(dtype=np.float64)
    overall = table[ALL_GROUP].to_numpy(dtype=np.float64)
    # (ties broken by the other statistic, as the report's class profiles break them)
    order = _top_of_group(profiles, cls, statistic)[:k][::-1]
    names = table.index.to_numpy()[order]
    given = ax is not None
    # (a third of an inch more than plot_decomposition: the legend is above the axes;
    # another for the interval's entry, on a row of its own where the class name is long)
    ax = _new_axes(ax, (6.0, 0.35 * max(len(order), 3) + 1.7))
    positions = np.arange(len(order))
    colour = _class_colour(cls, groups)
    bars = ax.barh(positions, values[order], color=colour, label=_shortened(str(cls)))
    # (the legend shows an empty bar container in the default colour: a swatch of C0)
    swatch = bars if len(order) else Patch(color=colour, label=bars.get_label())
    marks = ax.scatter(overall[order], positions, marker="|", s=200, zorder=3, label="all samples")
    # (cast: a collection's widths, one per point, which the stubs also allow as a float)
    _mark_on(marks, colour, float(cast("Sequence[float]", marks.get_linewidth())[0]))
    handles: list[Any] = [swatch, marks]
    sizes = _group_sizes(profiles)
    if statistic == "prevalence" and len(order) and "count" in profiles.columns.get_level_values(0):
        # (a class of one sample has every one of its concepts at 1.0, as long as a bar
        # of 300 of 300: the interval shows how little it says)
        from ._proportions import prevalence_interval

        counts = profiles["count"][cls].to_numpy(dtype=np.float64)[order]
        low, high = prevalence_interval(counts, float(sizes.get(cls) or np.nan), _INTERVAL_LEVEL)
        shown = np.isfinite(low)
        if shown.any():
            handles.append(
                ax.errorbar(
                    values[order][shown],
                    positions[shown],
                    # (at least 0: sizes that disagree with the prevalences, as in a table
                    # edited by hand, put the bar outside its interval)
                    xerr=np.maximum(
                        np.vstack(
                            [values[order][shown] - low[shown], high[shown] - values[order][shown]]
                        ),
                        0.0,
                    ),
                    fmt="none",
                    ecolor="0.25",
                    elinewidth=1.0,
                    capsize=3.0,
                    label=_INTERVAL_LABEL,
                )
            )
    ax.set_yticks(positions, [_literal(n) for n in _shortened_apart([str(n) for n in names])])
    ax.set_xlabel(statistic.replace("_", " "))
    if not len(order):  # an empty axis would say nothing
        ax.set_xlim(0.0, 1.0)  # (as for an empty decomposition: not 0 to 0.055)
        ax.set_yticks([])
        _say_on_empty_axes(ax, f"no concept has a {statistic.replace('_', ' ')} above 0 here")
    # ("class" before the name, unless the name says it already: "class 3", not "class class 3")
    # (whole: a title is wrapped where it is too wide)
    named = _literal(_with_size(cls, sizes))
    default = named if re.match(r"class\b", str(cls), re.IGNORECASE) else f"class {named}"
    _legend_above(ax, title if title is not None else default, handles)
    if given:
        _check_when_drawn(ax, _unfit_texts)
    return ax


def _unfit_texts(ax: Axes, names: bool = True) -> str | None:
    """Why the concept names beside given axes (the y axis's labels; not with
    ``names=False``, for axes whose y axis is a scale), or the title and legend above
    them, do not fit: they run out of the figure or over other axes of it (subplots
    made without room for them: ``plt.subplots(1, 3)`` without a layout); None when
    they fit."""
    texts: list[Any] = [t for t in ax.get_yticklabels() if t.get_text()] if names else []
    texts += [t for t in (ax.title, ax.get_legend()) if t is not None and t.get_visible()]
    boxes = [t.get_window_extent() for t in texts]
    figure_box = ax.figure.bbox
    outside = any(
        b.x0 < figure_box.x0 - 0.5
        or b.y0 < figure_box.y0 - 0.5
        or b.x1 > figure_box.x1 + 0.5
        or b.y1 > figure_box.y1 + 0.5
        for b in boxes
    )
    others = [o.bbox for o in ax.figure.axes if o is not ax and o.get_visible()]
    # (a twin of the axes shares its box: only axes elsewhere count)
    others = [o for o in others if not o.fully_overlaps(ax.bbox) and not ax.bbox.fully_overlaps(o)]
    over = any(b.overlaps(o) for b in boxes for o in others)
    if not (outside or over):
        return None
    # (over other axes first: there they hide what those axes show)
    why = " and ".join(
        ([] if not over else ["run over other axes"])
        + ([] if not outside else ["run out of the figure"])
    )
    what = "the concept names, title or legend" if names else "the title or legend"
    return f"{what} of the given axes {why}: {_room_advice(ax)}"


def _room_advice(ax: Axes) -> str:
    """What makes room for the texts of given axes: a larger figure, and a layout where
    it has none (a figure laid out already has no more room to give: it is too small)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine, PlaceHolderLayoutEngine

    engine = _root_figure(ax).get_layout_engine()
    if isinstance(engine, PlaceHolderLayoutEngine):  # (savefig's, after its own layout)
        engine = getattr(_root_figure(ax), "_sksplice_engine_laid_out", engine)
    if isinstance(engine, ConstrainedLayoutEngine):
        return "make the figure larger (figsize)"
    return (
        "make the figure larger or lay it out with room for them (plt.subplots(..., "
        'layout="constrained"))'
    )


def _legend_above(ax: Axes, title: str, handles: list[Any], *, shorten: bool = True) -> None:
    """Title the axes, with the legend in one row (or as few rows as fit, one entry a
    row beside other axes) between the title and the axes.

    Outside the axes the legend covers no bar, however long the bars are (inside, the
    top concepts of a class, often present in nearly all of its samples, fill every
    corner). The title is lifted by the legend's height.

    Both stay inside the figure, on its layout at the call: a legend too wide for it
    is put on fewer entries a row, then its longest label cut to 24 and 12 characters; a
    title too wide is wrapped (:func:`_wrapped`). The labels are first cut to
    ``_MAX_LABEL`` characters (:func:`_shortened`), unless ``shorten`` is False (labels
    cut already, with something kept at their end: a class's size).
    """
    # (raw: cut, then escaped; labels cut already are cut no more, but where too wide)
    labels = [_shortened(h.get_label()) if shorten else h.get_label() for h in handles]
    # one entry a row beside other axes: their room shrinks as the panels of a row are
    # drawn (the first panel of `plt.subplots(1, 3)` got a legend of one row, the others
    # one entry a row, and the titles of the row stood at different heights)
    ncols = 1 if _beside_others(ax) else len(handles)
    # (a narrower legend may let the layout move the axes: the room is measured again)
    while True:
        legend = ax.legend(
            handles,
            [_literal(label) for label in labels],
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=ncols,
            frameon=False,
            fontsize=9,
            borderaxespad=0.2,
            handlelength=1.5,
        )
        # (in points: the legend's height and its gap to the axes; the title's bottom,
        # its descenders included, goes 2 points above)
        top = legend.get_window_extent().height * 72.0 / ax.figure.dpi + 0.2 * 9
        text = ax.set_title(title, pad=top + 2.0, verticalalignment="bottom")
        _lay_out(ax)
        room = _room_above(ax)
        if legend.get_window_extent().width <= room:
            break
        if ncols > 1:
            # (fewer entries a row: ten classes took ten rows, over half the axes' height)
            ncols = 1 if _beside_others(ax) else ncols - 1
            continue
        longest = max(range(len(labels)), key=lambda i: len(labels[i]))
        shorter = [n for n in _LABEL_LENGTHS if n < len(labels[longest])]
        if not shorter:
            break
        labels[longest] = labels[longest][: shorter[0] - 1] + "\u2026"
    # (a title of other lines moves the axes in a constrained layout, and with them the
    # room: wrapped again on the new layout until it fits)
    for _ in range(3):
        text.set_text(_wrapped(text, title, room))
        _lay_out(ax)
        room = _room_above(ax)
        if text.get_window_extent().width <= room + 0.5:
            break


def plot_concept_prevalence(
    profiles: pd.DataFrame,
    concept: str,
    ax: Axes | None = None,
    *,
    statistic: str = "prevalence",
    classes: Any = None,
    title: str | None = None,
) -> Axes:
    """Bar chart of one concept's prevalence (or mean weight) in every class.

    One bar per class: how often the concept occurs among its images (how
    often "swimwear" does among images of each class). The distribution of the
    weights themselves over the images of each class, the histogram of the
    SpLiCE paper's spurious-correlation figure, is
    :func:`plot_concept_histogram`.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`sksplice.analysis.concept_profiles` with labels.
    concept : str
        The concept to show.
    ax : matplotlib Axes or None, default=None
        Axes to draw into; a new figure is made when omitted.
    statistic : {"prevalence", "mean_weight"}, default="prevalence"
        Which statistic to plot.
    classes : sequence of labels or None, default=None
        Classes to show, in this order; all classes by default. A single label
        (``"dog"``, not ``["dog"]``) is refused, as a single string is for
        ``concepts`` in :func:`plot_decomposition`. A new figure
        is 0.6 inch wider per class, up to 24 inches, and holds at most 80
        classes: with more (and no ``ax``), pass a subset here, such as the
        classes where the concept is most prevalent. Axes given in ``ax``
        take any number; a warning says, when the figure is drawn (saved or
        shown, after the caller's own ``fig.tight_layout()``), when their
        class labels run out of the figure or overlap (make such figures with
        ``plt.subplots(..., layout="constrained")``, which makes room for
        turned labels, and wide enough for the classes).
    title : str or None, default=None
        Axes title; defaults to the concept name. A title too wide for the
        figure is wrapped, as in :func:`plot_class_profile`.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One bar per class and a dashed line at the dataset-wide value (black
        or white, whichever stands out on the bars, outlined in the other).
        Prevalence bars carry the exact 95% interval of their class
        (Clopper-Pearson: the interval of
        ``scipy.stats.binomtest(...).proportion_ci(method="exact")``, of the
        concept's count and the class's size), so that a class of a few
        samples shows how little its prevalence says (one sample holding the
        concept: 1.0, interval 0.025 to 1). Each interval is the bar's own, not a
        test: with many classes, some miss the dashed line by chance alone;
        :func:`~sksplice.analysis.rank_each_class` tests the differences.

    Raises
    ------
    ValueError
        If ``concept`` or a requested class is not in ``profiles`` (the error
        suggests close concept names; a bool is not the class ``1``), or, with
        no ``ax``, more than 80 classes are to be shown.
    TypeError
        If ``classes`` is a single label rather than a sequence of them, or
        ``concept`` is not one name (a list of them).
    """
    table = _check_profiles(profiles, statistic)
    if not isinstance(concept, Hashable) or isinstance(concept, tuple):
        # (a list of names, as plot_concept_histogram takes: unhashable, said as such)
        raise TypeError(
            f"`concept` must be one concept name, got a {type(concept).__name__}: "
            f"{reprlib.repr(concept)}; plot_concept_prevalence draws one concept, so call it "
            "once per concept (plot_concept_histogram draws several)"
        )
    if concept not in table.index:
        from ._names import close_matches

        close = close_matches(str(concept), [str(c) for c in table.index])
        hint = f"; did you mean {close}?" if close else ""
        dropped = profiles.attrs.get("dropped_empty")
        if isinstance(dropped, int) and dropped > 0:
            # (a concept of the vocabulary that no sample holds is no typo)
            hint = (
                f" (they were computed with drop_empty=True, which left out "
                f"{plural(dropped, 'concept')} that no sample holds: if it is in the "
                "vocabulary, no sample holds it)" + hint
            )
        raise ValueError(f"concept {concept!r} is not in the profiles{hint}")
    groups = [g for g in table.columns if g != ALL_GROUP]
    if not groups:
        raise ValueError("`profiles` has no per-class columns: compute them with labels `y`")
    classes = _chosen_classes(
        classes, groups, lambda missing: _not_in_profiles(f"classes {missing} are", missing, groups)
    )
    if ax is None and len(classes) > _MAX_CLASSES:
        raise ValueError(
            f"{len(classes)} classes are too many for one legible figure (at most "
            f"{_MAX_CLASSES}, on a figure {_MAX_WIDTH:g} inches wide): pass `classes=` with "
            "a subset (for example the classes where the concept is most prevalent: "
            f"profiles[{statistic!r}].loc[{concept!r}].drop({ALL_GROUP!r}).nlargest(40)"
            ".index), or draw into axes of your own (`ax=`)"
        )
    row = table.loc[concept]
    values = np.array([row[c] for c in classes], dtype=np.float64)
    sizes = _group_sizes(profiles)
    # Many or long class names are turned (with the size on the same line), each label
    # ending under its own bar; the figure is made taller by the room they take.
    turned = len(classes) > 6 or max(len(str(c)) for c in classes) > 12
    short = _shortened_apart([str(c) for c in classes])
    ticks = [
        _literal(_with_size(c, sizes, " " if turned else "\n", t)) for c, t in zip(classes, short)
    ]
    longest = max(len(line) for tick in ticks for line in tick.split("\n"))
    # (a turned label reaches left of its bar by about as much as it reaches down: the
    # first one's reach is added to the width, else the bars get what the labels leave)
    reach = 0.07 * min(longest, _MAX_LABEL) if turned else 0.0
    height = 3.5 + reach
    width = max(4.0, 0.6 * len(classes) + 2.0 + 0.75 * reach)
    given = ax is not None
    ax = _new_axes(ax, (min(width, _MAX_WIDTH), height))
    positions = np.arange(len(classes))
    ax.bar(positions, values, color=[_class_colour(c, groups) for c in classes])
    mean = ax.axhline(float(row[ALL_GROUP]), linestyle="--", linewidth=1, label="all samples")
    _mark_on(mean, _class_colour(classes[0], groups), 1.0)
    handles: list[Any] = [mean]
    bounds = None
    if statistic == "prevalence":
        # (also where no class holds it: 0 of 20 samples is a prevalence up to 0.17, 0 of
        # 2,000 up to 0.002, which the bars of 0 do not tell apart)
        bounds = _prevalence_intervals(profiles, concept, classes, sizes)
    if bounds is not None:
        # (a class of one sample that holds the concept has prevalence 1.0, a bar as tall
        # as one of 36 samples: the interval shows how little it says)
        low, high = bounds
        shown = np.isfinite(low)
        handles.append(
            ax.errorbar(
                positions[shown],
                values[shown],
                # (at least 0: sizes that disagree with the prevalences put the bar outside)
                yerr=np.maximum(
                    np.vstack([values[shown] - low[shown], high[shown] - values[shown]]), 0.0
                ),
                fmt="none",
                ecolor="0.25",
                elinewidth=1.0,
                capsize=3.0,
                label=_INTERVAL_LABEL,
            )
        )
    if turned:
        ax.set_xticks(positions, ticks, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(positions, ticks)
    # From 0, with room above the tallest bar for the legend: a prevalence of 42% must
    # not fill the axes, nor a concept no sample has get a scale below 0.
    top = max(float(np.max(values, initial=0.0)), float(row[ALL_GROUP]))
    if bounds is not None:
        top = max(top, float(np.max(np.nan_to_num(bounds[1]), initial=0.0)))
    limit = 1.3 * top if top > 0 else 1.0
    ax.set_ylim(0.0, min(limit, 1.15) if statistic == "prevalence" else limit)
    ax.set_ylabel(statistic.replace("_", " "))
    if not np.any(values > 0):
        # (above the whiskers of the intervals, where they are drawn)
        _say_on_empty_axes(
            ax, "no sample of these classes has this concept", 0.5 if bounds is None else 0.88
        )
    # (the legend between the title and the axes covers no bar)
    _legend_above(ax, title if title is not None else _literal(str(concept)), handles)
    if given:
        _check_when_drawn(ax, _unfit_ticks)
    return ax


#: Most classes :func:`plot_concept_histogram` overlays (one colour each).
_MAX_HISTOGRAM_CLASSES = 10
#: The share of a bin its classes' bars fill, the narrowest bar of a new figure (in
#: inches), the width of a new figure beside its axes (the y axis's labels and
#: margins, in inches), and the narrowest bar on given axes (in pixels) that draws no
#: warning.
_BAR_SHARE = 0.9
_MIN_BAR = 0.05
_HISTOGRAM_MARGIN = 1.2
_THIN_BAR = 2.0
#: Most classes whose legend :func:`plot_concept_histogram` puts above the axes (more
#: go in a column on their right), and the width (inches) a character of that column
#: takes, at its font size of 9 points, in the widening of a new figure for it.
_LEGEND_ABOVE = 3
_LEGEND_CHARACTER = 0.07


def plot_concept_histogram(
    W: Any,
    y: Any,
    selected: Any,
    *,
    concepts: Any = None,
    classes: Any = None,
    bins: int = 20,
    log: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Histogram, per class, of each sample's mean weight on some concepts.

    The figure of the SpLiCE paper that shows a spurious correlation
    (``experiments/concept_histogram.py`` of the authors' code): for every
    image of the classes shown, the mean of its weights on the ``selected``
    concepts (``["trunks", "underwear", "bra", "swimwear"]`` for the classes
    "man" and "woman"), and the histogram of those values for each class, on
    one set of bins, the counts on a log scale. The classes' bars stand side by
    side in each bin (the authors' overlaid histograms hid a class whose count
    in a bin was another's), each in its class's colour, the one
    :func:`plot_class_profile` and :func:`plot_concept_prevalence` give it (by
    its rank among the sorted labels). Where
    :func:`plot_concept_prevalence` counts the images holding a concept, this
    shows how much weight they give it: a class whose images lean on the
    concepts has a long tail to the right.

    Parameters
    ----------
    W : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_concepts)
        Concept weights, as :class:`~sksplice.transformer.SpliceTransformer`
        gives them. Sparse input is not densified (only the selected columns
        are read).
    y : array-like of shape (n_samples,)
        Class labels, matched to the rows of ``W`` by position.
    selected : str or sequence of str
        The concepts whose weights are averaged per image (one concept: its
        weight).
    concepts : sequence of str, fitted transformer or None, default=None
        The names of the columns of ``W`` (see
        :func:`~sksplice.analysis.concept_profiles`); a DataFrame's columns
        name them otherwise.
    classes : sequence of labels or None, default=None
        The classes to show, in this order; all classes by default, at most
        10.
    bins : int, default=20
        Number of bins, shared by the classes (the authors' 20).
    log : bool, default=True
        Counts on a log scale, as in the paper (the images of a class that
        give the concepts no weight are most of it).
    ax : matplotlib Axes or None, default=None
        Axes to draw into; a new figure is made when omitted, widened with the
        classes and bins so that each bar stays about 0.05 inches wide (up to
        24 inches). On given axes, a :class:`FigureLayoutWarning` says when
        the figure is drawn if the bars are under 2 pixels wide or the legend
        or title do not fit.
    title : str or None, default=None
        Axes title; none by default.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The classes' bars side by side in each bin, with a legend naming each
        class and its number of rows above the axes (on their right for more
        than 3 classes); the y axis counts
        "images" or "texts" by the modality of a transformer given as
        ``concepts``, else "samples".

    Raises
    ------
    ValueError
        If a selected concept is not a column of ``W`` (close names are
        suggested; where ``concepts`` is the fitted transformer, a concept of
        its vocabulary beyond ``vocabulary_size`` is told the size that keeps
        it), a requested class is not in ``y``, more than 10 classes
        are to be shown, ``bins`` is not a positive integer, or ``W`` and
        ``y`` are refused as :func:`~sksplice.analysis.concept_profiles`
        refuses them.
    TypeError
        If ``classes`` is a single label rather than a sequence of them.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sksplice.plotting import plot_concept_histogram
    >>> W = np.array([[0.3, 0.0], [0.2, 0.1], [0.0, 0.0], [0.0, 0.2]])
    >>> y = ["woman", "woman", "man", "man"]
    >>> ax = plot_concept_histogram(W, y, ["bikini", "swimwear"], concepts=["bikini", "swimwear"])
    >>> ax.get_xlabel()
    'mean weight of bikini, swimwear'
    """
    from ._pandas import as_pandas
    from .analysis import _as_labels, _as_weights, _n_columns, _resolve_concepts

    check_int(bins, "bins", low=1)
    check_flag(log, "log")
    W = as_pandas(W)
    names = _resolve_concepts(W, concepts, _n_columns(W))
    given = W
    W = _as_weights(W)
    y = _as_labels(y, W.shape[0], given)
    chosen = [selected] if isinstance(selected, str) else list(selected)
    if not chosen:
        raise ValueError("`selected` is empty: name the concepts whose weights to average")
    if len({str(name) for name in chosen}) != len(chosen):  # (counted twice in the mean)
        raise ValueError(f"`selected` names a concept twice: {chosen}")
    index = {str(name): j for j, name in enumerate(names)}
    missing = [name for name in chosen if str(name) not in index]
    if missing:
        from ._concepts import unknown_concepts_message
        from ._names import close_matches

        beyond = getattr(_unwrapped(concepts), "_concepts_beyond", None)
        where = beyond([str(name) for name in missing]) if beyond is not None else ({}, None)
        if where[0]:  # (words of the vocabulary that vocabulary_size cut: said so)
            raise ValueError(unknown_concepts_message(missing, index, "selected", where))
        close = close_matches(str(missing[0]), list(index))
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(f"concept {missing[0]!r} is not a column of the weights{hint}")
    groups = np.unique(y).tolist()
    classes = _chosen_classes(
        classes,
        groups,
        lambda absent: (
            f"classes {absent} are not labels of `y`; labels are {groups}"
            + (label_hint(absent[0], groups) if len(absent) == 1 else "")
        ),
    )
    if len(classes) > _MAX_HISTOGRAM_CLASSES:
        raise ValueError(
            f"{len(classes)} classes are too many for one histogram (at most "
            f"{_MAX_HISTOGRAM_CLASSES}): pass `classes=` with the ones to compare"
        )
    columns = W[:, [index[str(name)] for name in chosen]]
    per_image = np.asarray(columns.mean(axis=1), dtype=np.float64).ravel()
    values = [per_image[y == cls] for cls in classes]
    # (from 0: weights are not negative, and a class of none but zero weights is a bar at 0)
    top = float(max((v.max() for v in values if v.size), default=0.0))
    if top == 0.0:
        # (one bar of every row at 0 looked like a finding about the classes)
        from ._stack import warn_user

        drawn = " of the classes drawn" if len(classes) < len(groups) else ""
        which = (
            f"the concept {chosen[0]!r} has a non-zero weight in no row of W{drawn}"
            if len(chosen) == 1
            else f"none of the concepts {chosen} has a non-zero weight in any row of W{drawn}"
        )
        warn_user(
            f"{which}: "
            f"every {_rows_counted(concepts)[:-1]} is in the bar at 0; choose concepts the "
            "rows hold, or decompose with a smaller l1_penalty, which keeps more concepts"
        )
    edges = np.histogram_bin_edges(per_image[:0], bins=bins, range=(0.0, top or 1.0)).tolist()
    given = ax is not None
    # (a new figure is widened so that each class's bar keeps _MIN_BAR inches: 10
    # classes in 20 bins on 6 inches drew bars of 1 to 2 pixels)
    wide = _HISTOGRAM_MARGIN + bins * len(classes) * _MIN_BAR / _BAR_SHARE
    # (each class's name cut apart from the others', then its size: whole)
    sizes = {cls: int(v.size) for cls, v in zip(classes, values)}
    short = _shortened_apart([str(cls) for cls in classes])
    labels = [_with_size(cls, sizes, text=name) for cls, name in zip(classes, short)]
    if len(classes) > _LEGEND_ABOVE:  # (and the legend's column on the right)
        wide += 0.5 + _LEGEND_CHARACTER * max(len(label) for label in labels)
    ax = _new_axes(ax, (min(max(6.0, wide), _MAX_WIDTH), 4.0))
    # the classes' bars side by side in each bin: overlaid, a class with the count of
    # another in a bin was hidden behind it (cat's 120 images at 0 under dog's 120)
    colours = [_class_colour(cls, groups) for cls in classes]
    if len(set(colours)) < len(colours):  # (of more than 10 labels: the colours repeat)
        colours = [f"C{i}" for i in range(len(classes))]
    counts, _, made = ax.hist(values, bins=edges, color=colours, rwidth=_BAR_SHARE)
    # (one BarContainer a class, even for one class)
    containers: list[Any] = list(made) if len(classes) > 1 else [made]  # type: ignore[arg-type]
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_yscale("log")
        # counts read as counts (1, 2, 3 ... up to 10; 1, 2, 5, 10, 20 ... beyond), not
        # 2x10^0; a bar of one image rises from below 1, the bottom (0.5) unlabelled
        most = float(np.max(counts)) if np.size(counts) else 1.0
        ax.set_ylim(0.5, max(most, 1.0) * 1.6)  # (room above the tallest bar, for the legend)
        few = most <= 6
        ax.yaxis.set_major_locator(LogLocator(subs=range(1, 10) if few else (1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}" if v >= 1 else ""))
        ax.yaxis.set_minor_formatter(NullFormatter())
    what = ", ".join(str(name) for name in chosen)
    ax.set_xlabel(_literal(f"mean weight of {_shortened(what)}" if len(chosen) > 1 else
                           f"weight of {_shortened(what)}"))  # fmt: skip
    ax.set_ylabel(_rows_counted(concepts))
    # (the legend outside the axes: inside, it covered the top right corner, where a
    # class whose rows lean on the concepts has its tail); a few classes between the
    # title and the axes, more in a column on the right, which a new figure is widened
    # for (above, ten of them took rows over half the axes' height)
    for container, label in zip(containers, labels, strict=True):
        container.set_label(label)  # (set so: a name starting "_" is kept in the legend)
    if len(classes) <= _LEGEND_ABOVE:
        # (the labels cut already: a cut of the whole label took the size off its end)
        _legend_above(ax, "" if title is None else title, containers, shorten=False)
    else:
        ax.legend(
            containers,
            [_literal(label) for label in labels],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
            fontsize=9,  # (as _legend_above's)
        )
        if title is not None:
            _set_title(ax, title)
    _check_when_drawn(ax, lambda ax: _unfit_histogram(ax, containers, given))
    return ax


def _unfit_histogram(ax: Axes, containers: list[Any], given: bool) -> str | None:
    """Why a histogram of :func:`plot_concept_histogram` (its ``containers``, one a
    class) is hard to read: its bars are too thin to tell the classes apart, or, on
    ``given`` axes, its title or legend do not fit; None when it reads."""
    # (its y axis is a scale of counts, whose labels beyond the view are not drawn)
    said = [_unfit_texts(ax, names=False) if given else None]
    bar = next((patch for container in containers for patch in container), None)
    if bar is not None:
        x0, x1 = bar.get_x(), bar.get_x() + bar.get_width()
        wide = abs(float(np.diff(ax.transData.transform([(x0, 1.0), (x1, 1.0)])[:, 0])[0]))
        if wide < _THIN_BAR:
            room = "make the figure wider (figsize), or " if given else ""
            n = len(containers)
            said.insert(
                0,
                f"the bars of {'the class' if n == 1 else f'the {n} classes'} are "
                f"{wide:.1f} pixels wide{' on the given axes' if given else ''}: {room}pass "
                "fewer `classes=` or `bins=`",
            )
    return "; ".join(m for m in said if m) or None


def _unwrapped(estimator: Any) -> Any:
    """The transformer a ``FrozenEstimator`` holds, or ``estimator`` itself."""
    inner = getattr(estimator, "estimator", None)
    return inner if inner is not None and hasattr(inner, "get_feature_names_out") else estimator


def _rows_counted(concepts: Any) -> str:
    """What an axis counting the rows of the weights calls them: the modality of the
    transformer given as ``concepts`` (``"images"``, ``"texts"``), else ``"samples"``."""
    modality = getattr(_unwrapped(concepts), "modality", None)
    return {"image": "images", "text": "texts"}.get(str(modality), "samples")


def _chosen_classes(classes: Any, groups: list[Any], absent: Any) -> list[Any]:
    """The classes to draw: all ``groups`` for None, else ``classes`` as the labels of
    ``groups`` they name (a bool is not the class 1), in their order; ``absent`` makes
    the message for those that name none."""
    if classes is None:
        return list(groups)
    if isinstance(classes, str | bytes) or not hasattr(classes, "__iter__"):
        # (a string's letters would be looked up as classes)
        raise TypeError(
            f"`classes` must be a sequence of class labels, not a single label: "
            f"pass classes=[{classes!r}]"
        )
    classes = list(classes)
    if not classes:
        raise ValueError(f"`classes` is empty: give some of the classes {groups}")
    found = [find_label(c, groups) for c in classes]
    missing = [c for c, f in zip(classes, found, strict=True) if f is None]
    if missing:
        raise ValueError(absent(missing))
    if len(set(found)) != len(found):  # (a class drawn twice)
        raise ValueError(f"`classes` names a class twice: {classes}")
    return found


def _prevalence_intervals(
    profiles: pd.DataFrame, concept: Any, classes: list[Any], sizes: dict[Any, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact (Clopper-Pearson) intervals of the concept's prevalence in each class (NaN
    where the class's size is unknown), from the ``count`` columns and the class sizes;
    None where ``profiles`` has no counts."""
    from ._proportions import prevalence_interval

    if "count" not in profiles.columns.get_level_values(0):
        return None
    counts = profiles["count"].loc[concept]
    k = np.array([float(counts[cls]) for cls in classes])
    n = np.array([float(sizes.get(cls) or np.nan) for cls in classes])
    return prevalence_interval(k, n, _INTERVAL_LEVEL)


def _unfit_ticks(ax: Axes) -> str | None:
    """Why the class labels under given axes do not fit: they run out of the figure or
    pile onto each other (the axes, not made here, may be too small or laid out without
    room); None when they fit."""
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    if not ticks:
        return None
    boxes = [t.get_window_extent() for t in ticks]
    figure_box = ax.figure.bbox
    outside = any(b.y0 < figure_box.y0 - 0.5 or b.x0 < figure_box.x0 - 0.5 for b in boxes)
    # (turned labels: one line of text needs its height between neighbouring bars)
    line = min(b.height for b in boxes) if ticks[0].get_rotation() == 0 else None
    spacing = np.diff(ax.transData.transform(np.column_stack([np.arange(2), [0, 0]]))[:, 0])
    # (cast: the size in points, a float; matplotlib's stubs also allow a size's name)
    height = cast(float, ticks[0].get_fontsize()) * ax.figure.dpi / 72.0
    piled = line is None and abs(float(spacing[0])) < height
    piled = piled or (line is not None and any(a.overlaps(b) for a, b in pairwise(boxes)))
    if not (outside or piled):
        return None
    why = " and ".join(
        ([] if not piled else ["overlap"]) + ([] if not outside else ["run out of the figure"])
    )
    return (
        f"the {len(ticks)} class labels of the given axes {why}: {_room_advice(ax)}, or "
        "pass fewer `classes=`"
    )


def _path_name(label: str) -> str:
    """How messages name a path of :func:`plot_sparsity_tradeoff` (one path is unnamed)."""
    return f"path {label!r}" if label else "the path"


#: A label's place is tried level with its point, then alternately one line (this many
#: points) lower and higher, and so on across the axes.
_LABEL_LINE = 10.0
#: How many of those places are tried clear of points and lines: within four lines.
_CLEAR_STEPS = 9
#: Points between a point and the near end of its label.
_LABEL_GAP = 4.0
#: Lengths a label is cut to, in turn, when it fits nowhere whole.
_LABEL_LENGTHS = (_MAX_LABEL, 24, 12)
#: Distances (points) of the near ends of labels set off from their points obliquely,
#: out into free space, and the directions (degrees, 0 to the right) they are set off in.
_LABEL_REACH = (12.0, 18.0, 26.0, 36.0, 50.0, 70.0, 100.0)
_LABEL_ANGLES = tuple(range(0, 360, 20))
#: The last stretch of a leader, to its point (in markers' radii), that passes over no
#: other point even where the rest of it may pass over unlabelled points.
_LAST_STRETCH = 5.0
#: Leaders at most this long (points) are tried clear of lines before any on a line.
_CLEAR_LEADER = 40.0
#: The longest leader (points): a label farther from its point reads as nobody's.
_MAX_LEADER = 100.0
#: How many times labels are placed again, those left out first, while some are left out,
#: and the most left out for which they are (a crowd leaves many out, whatever the order).
_LABEL_RETRIES = 3
_RETRIED_AT_MOST = 5


def _along(a: np.ndarray, b: np.ndarray, step: float) -> np.ndarray:
    """Points from ``a`` to ``b`` (display coordinates), ``step`` pixels apart or closer."""
    n = max(int(np.hypot(*(b - a)) / step), 1)
    return a + np.linspace(0.0, 1.0, n + 1)[:, None] * (b - a)


def _to_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance of each of ``points`` (shape (n, 2)) to the segment from ``a`` to
    ``b``."""
    ab = b - a
    length = float(ab @ ab)
    t = np.zeros(len(points)) if length == 0.0 else np.clip((points - a) @ ab / length, 0, 1)
    return np.asarray(np.hypot(*(points - (a + t[:, None] * ab)).T))


def _segments_apart(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> float:
    """The distance between the segments ``a``-``b`` and ``c``-``d`` (0 where they
    cross)."""

    def turn(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    if turn(a, b, c) * turn(a, b, d) < 0 and turn(c, d, a) * turn(c, d, b) < 0:
        return 0.0
    return float(
        min(_to_segment(np.array([c, d]), a, b).min(), _to_segment(np.array([a, b]), c, d).min())
    )


def _meets_box(a: np.ndarray, b: np.ndarray, box: tuple[float, ...]) -> bool:
    """Whether the segment from ``a`` to ``b`` enters ``box`` (x0, y0, x1, y1)."""
    t0, t1 = 0.0, 1.0  # (Liang-Barsky: the part of the segment inside each side's line)
    d = b - a
    for p, q in (
        (-d[0], a[0] - box[0]),
        (d[0], box[2] - a[0]),
        (-d[1], a[1] - box[1]),
        (d[1], box[3] - a[1]),
    ):
        if p == 0.0:
            if q < 0.0:
                return False
        elif p < 0.0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    return t0 <= t1


#: The radius (points) of the markers of points of lesser rank that labels keep off
#: (the grey ones of :func:`plot_dataset_shift`, of size 10: a diameter of about 3.2).
_LESSER_MARK_RADIUS = 1.6

#: The passes of :func:`_place_labels` over the places of a label, each with rules less
#: strict than the last: (clear of ``avoid_lines`` near the point, a leader over points
#: that are not labelled allowed, clear of the points of lesser rank, text and leader).
#: The first two are skipped where there are no points of lesser rank.
_PLACE_PASSES = (
    (True, False, True),
    (False, False, True),
    (True, False, False),
    (False, False, False),
    (False, True, False),
)


def _place_labels(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    avoid: np.ndarray | None = None,
    avoid_lines: tuple[Any, ...] = (),
    beneath: np.ndarray | None = None,
    fontsize: float = 8.0,
    colors: list[str] | None = None,
    marker: float = 2.5,
    same: float = 0.0,
    alternatives: list[np.ndarray] | None = None,
) -> list[str]:
    """Label points so that no two labels overlap and every label lies inside the axes.

    Greedy and deterministic, in the order given (the most important label first): a
    label takes the first position, beside its point on the right, then the left,
    then, in order of the length of the line to its point, one line lower or higher
    and so on across the axes, or set off obliquely out into free space (in 18
    directions, at 12 to 100 points; of equal lengths, the direction away from the
    neighbouring points first), whose text box lies inside the axes and overlaps no
    label placed before nor the legend, and, where possible, no line of
    ``avoid_lines``. A label set off from its point's level gets a thin line (a
    leader) from its near end to the edge of its point's marker (``marker``: the
    markers' radius, in points).

    A label never reads as another point's: its box covers no point of ``x, y`` or
    ``avoid`` (data coordinates, shape (n, 2)), its own included, and no other such
    point lies just before its near end at its level. A label level with its point
    has no other point nearer its near end than its own; a leader's near end is at no
    other point, its end at the marker's edge is clearly nearer its own point than
    any other; it passes over no other point, through no other label, and neither
    crosses nor touches another leader; and no later label covers a leader. Only where
    no place is free even so may a leader pass over points that are not labelled,
    never over a labelled one nor over any in its last five markers' radii to its
    point. Points within ``same`` points of a labelled one are taken to be at its
    place (their markers overlap, and its label names them too), except that a leader
    passes over none of them either. Where no such position is free with a leader of
    40 points or less, one farther away or over a line of ``avoid_lines`` is taken;
    when none is free either, the label is cut to 24, then 12 characters, and left out
    when it fits nowhere even so. ``beneath`` (data coordinates, shape (n, 2)) holds
    points of lesser rank (a shift's concepts that are not significant, drawn smaller:
    :data:`_LESSER_MARK_RADIUS`): where a place is free of them, a label and its leader
    cover none of them (in a crowd of them, the places above are taken, over them).
    ``alternatives`` gives each label other points (data
    coordinates, shape (n, 2)) it may be placed at, in turn, when its own point has no
    place free: the others of its group of overlapping points.

    Where a few labels are left out (``_RETRIED_AT_MOST``), every label is placed again
    with those left out first (at most ``_LABEL_RETRIES`` times; a greedy placement lets
    a label take the room that later ones needed), and a placement is kept only where it
    places every label the one before placed, and more.

    Call it last, when titles, axis labels and the legend are in place: the figure's
    layout is run first, so that the axes have their final size. Returns the names left
    out.
    """
    fig = ax.figure
    _lay_out(ax)
    scale = fig.dpi / 72.0  # pixels per point
    region = ax.bbox.padded(-1.0)
    lines = int(region.height / (_LABEL_LINE * scale)) + 1
    steps_all = [0.0, *(_LABEL_LINE * m for n in range(1, lines + 1) for m in (-n, n))]
    to_display = ax.transData.transform
    anchors = to_display(np.column_stack([x, y]).reshape(-1, 2))
    obstacles = [anchors]
    if avoid is not None:
        obstacles.append(to_display(np.asarray(avoid, dtype=np.float64).reshape(-1, 2)))
    # The marked points (not the samples of lines): a label must not read as theirs.
    marks = np.vstack(obstacles)
    # The labelled points (all of them, placed or not): no leader passes over one.
    labelled_points = [anchors]
    if alternatives is not None:
        labelled_points.extend(
            to_display(np.reshape(a, (-1, 2))) for a in alternatives if np.size(a)
        )
    named = np.vstack(labelled_points)
    for line in avoid_lines:  # a line is straight between its vertices on the screen
        for a, b in pairwise(to_display(line.get_xydata())):
            obstacles.append(_along(a, b, 2.0 * scale))
    points = np.vstack(obstacles)
    lesser = to_display(np.reshape(np.empty(0) if beneath is None else beneath, (-1, 2)))
    lesser_radius = _LESSER_MARK_RADIUS * scale
    radius = marker * scale
    same_px = max(same * scale, 0.5)
    placed: list[tuple[float, ...]] = []  # boxes (x0, y0, x1, y1) no label may overlap
    leaders: list[tuple[np.ndarray, np.ndarray]] = []  # (near end, point) of each leader
    legend = ax.get_legend()
    if legend is not None:
        # Where the draw above put it, and there it stays: a legend at loc="best" would
        # otherwise be placed again, around the labels, when the figure is drawn.
        box = legend.get_window_extent()
        corner = tuple(ax.transAxes.inverted().transform(box.p0))
        legend.set_loc(corner)
        placed.append(tuple(box.extents))
    # (the same, as arrays, for the checks of every place tried)
    kept = {"boxes": np.reshape(placed, (-1, 4)), "leaders": np.empty((0, 2, 2))}
    kept["low"] = kept["high"] = np.empty((0, 2))
    spacing = 1.5 * scale  # (the least room between two leaders)

    def free(
        box: tuple[float, ...],
        near: np.ndarray,
        side: float,
        clear: bool,
        mine: tuple,
        over: bool = False,
        off_lesser: bool = False,
    ) -> bool:
        own, distinct, others, labelled = mine
        x0, y0, x1, y1 = box
        if x0 < region.x0 or x1 > region.x1 or y0 < region.y0 or y1 > region.y1:
            return False
        boxes = kept["boxes"]
        if np.any(
            (x0 < boxes[:, 2]) & (boxes[:, 0] < x1) & (y0 < boxes[:, 3]) & (boxes[:, 1] < y1)
        ):
            return False
        # (a leader's bounding box meets the label's first, few do)
        lo, hi = kept["low"], kept["high"]
        meeting = (lo[:, 0] < x1) & (hi[:, 0] > x0) & (lo[:, 1] < y1) & (hi[:, 1] > y0)
        if any(_meets_box(a, b, box) for a, b in kept["leaders"][meeting]):
            return False
        # It covers no point, its own included (not even one whose marker touches its
        # own) ...
        if x0 - radius < own[0] < x1 + radius and y0 - radius < own[1] < y1 + radius:
            return False
        if np.any(
            (distinct[:, 0] > x0 - radius)
            & (distinct[:, 0] < x1 + radius)
            & (distinct[:, 1] > y0 - radius)
            & (distinct[:, 1] < y1 + radius)
        ):
            return False
        # ... nor, where a place is free of them, a point of lesser rank
        if off_lesser and np.any(
            (lesser[:, 0] > x0 - lesser_radius)
            & (lesser[:, 0] < x1 + lesser_radius)
            & (lesser[:, 1] > y0 - lesser_radius)
            & (lesser[:, 1] < y1 + lesser_radius)
        ):
            return False
        # (below, points at its place or touching it, which it names too, do not count)
        # ... and another point just before its near end, at its level, or nearer that
        # end than its own point, would read as the labelled one.
        reach = _LABEL_GAP * scale + 2.0 * radius
        slack = max(radius, 0.6 * (y1 - y0))  # (nearer its level than its own point)
        near_x0, near_x1 = (x0 - reach, x0) if side > 0 else (x1, x1 + reach)
        if np.any(
            (others[:, 0] > near_x0)
            & (others[:, 0] < near_x1)
            & (others[:, 1] > y0 - slack)
            & (others[:, 1] < y1 + slack)
        ):
            return False
        length = float(np.hypot(*(own - near)))
        if length <= _LABEL_GAP * scale + 0.5:  # (no leader: the label is read as the
            # nearest point's)
            if np.any(np.hypot(*(others - near).T) < length + radius):
                return False
        else:  # a leader, which is followed to its point: its near end is at no other
            # point, ...
            if np.any(np.hypot(*(others - near).T) < reach):
                return False
            # passes over no other point (it would seem to start there), not even over
            # the marker of one that touches its own; or, where none is free, over no
            # other labelled point, and over none in its last stretch, to its point's
            # marker, which its end names unambiguously ...
            edge = own + (near - own) * radius / max(length, 1e-9)
            start = near
            if over:
                if np.any(_to_segment(labelled, near, own) < 2.0 * radius):
                    return False
                start = own + (near - own) * min(_LAST_STRETCH * radius / length, 1.0)
            if np.any(_to_segment(others, start, edge) < 2.0 * radius):
                return False
            if np.any(_to_segment(distinct, start, edge) < radius + scale):
                return False
            if off_lesser and np.any(_to_segment(lesser, near, edge) < lesser_radius + 2 * scale):
                return False
            # ... through no other label, and crosses or touches no other leader
            if any(_meets_box(near, own, b) for b in placed):
                return False
            if any(_segments_apart(near, own, a, b) < spacing for a, b in leaders):
                return False
        if not clear:
            return True
        return not np.any(
            (points[:, 0] > x0 - radius)
            & (points[:, 0] < x1 + radius)
            & (points[:, 1] > y0 - radius)
            & (points[:, 1] < y1 + radius)
        )

    # The places a label may take: offsets (points) of its near end from its point, with
    # the side its text runs to. Level with the point, at the gap; one line lower or
    # higher and so on across the axes; and set off obliquely, out into free space.
    offsets = [(side, side * _LABEL_GAP, dy) for dy in steps_all for side in (1.0, -1.0)]
    for reach in _LABEL_REACH:
        for angle in np.radians(_LABEL_ANGLES):
            dx, dy = reach * np.cos(angle), reach * np.sin(angle)
            if abs(dx) < 1e-6:  # (straight up or down: the text runs either way)
                offsets.extend([(1.0, 0.0, dy), (-1.0, 0.0, dy)])
            else:
                offsets.append((float(np.sign(dx)), float(dx), float(dy)))
    # (none farther than _MAX_LEADER: a label two inches from its point names nothing)
    offsets = [o for o in offsets if np.hypot(o[1], o[2]) <= _MAX_LEADER + 1e-9]
    shift = np.array([(dx, dy) for _, dx, dy in offsets])
    sides = np.array([side for side, _, _ in offsets])
    lengths = np.hypot(*shift.T)
    directions = shift / lengths[:, None]
    # (within four lines, or as near, clear of lines first; then any, on lines too)
    near_enough = (np.abs(shift[:, 1]) <= steps_all[_CLEAR_STEPS - 1] + 1e-9) & (
        np.abs(shift[:, 0]) <= _LABEL_GAP + 1e-9
    ) | (lengths <= _CLEAR_LEADER)
    centre = np.array([(region.x0 + region.x1) / 2.0, (region.y0 + region.y1) / 2.0])
    crowd = 40.0 * scale  # (the neighbours that say which way is out)

    def position(px: float, py: float, width: float, height: float) -> tuple | None:
        # (clear of lines near the point, else farther and on them: a label far away
        # with a long line is harder to read; in order of the leader's length, and of
        # equal lengths, the one pointing away from the neighbouring points first)
        own = np.array([px, py])
        distance = np.hypot(*(marks - own).T)
        mine = (
            own,
            marks[distance > 0.5],
            marks[distance > same_px],
            named[np.hypot(*(named - own).T) > same_px],
        )
        around = marks[(distance > 0.5) & (distance < crowd)]
        out = own - (around.mean(axis=0) if len(around) else centre)
        out = out / max(float(np.hypot(*out)), 1e-9)
        order = np.lexsort((-(directions @ out), np.round(lengths, 3)))
        # (first, all at once, the places whose box lies inside the axes and overlaps no
        # label placed: the rest is checked place by place)
        nx, ny = px + shift[:, 0] * scale, py + shift[:, 1] * scale
        bx0 = np.where(sides > 0, nx, nx - width)
        bx1 = bx0 + width
        by0, by1 = ny - height / 2, ny + height / 2
        inside = (bx0 >= region.x0) & (bx1 <= region.x1) & (by0 >= region.y0) & (by1 <= region.y1)
        boxes = kept["boxes"]
        if len(boxes):
            inside &= ~np.any(
                (bx0[:, None] < boxes[None, :, 2])
                & (boxes[None, :, 0] < bx1[:, None])
                & (by0[:, None] < boxes[None, :, 3])
                & (boxes[None, :, 1] < by1[:, None]),
                axis=1,
            )
        order = order[inside[order]]
        for clear, over, off_lesser in _PLACE_PASSES if len(lesser) else _PLACE_PASSES[2:]:
            for j in order:
                if clear and not near_enough[j]:
                    continue
                side, dx, dy = offsets[j]
                near = own + np.array([dx, dy]) * scale
                x0, x1 = (near[0], near[0] + width) if side > 0 else (near[0] - width, near[0])
                box = (x0, near[1] - height / 2, x1, near[1] + height / 2)
                if free(box, near, side, clear, mine, over, off_lesser):
                    return side, (dx, dy), box, near
        return None

    # (a probe measures the text boxes; each label is then drawn where it was placed)
    probe = ax.text(0.5, 0.5, "", transform=ax.transAxes, fontsize=fontsize, va="center")
    fixed = list(placed)  # (the legend's box)

    def attempt(order: list[int]) -> tuple[dict[int, tuple], list[int]]:
        """Place the labels in ``order``, each where the ones before leave room: each
        placed label's (text, point, side, offset, whether it has a leader) and the
        labels left out."""
        placed[:] = fixed
        leaders.clear()
        kept["boxes"] = np.reshape(placed, (-1, 4))
        kept["leaders"] = np.empty((0, 2, 2))
        kept["low"] = kept["high"] = np.empty((0, 2))
        chosen_of: dict[int, tuple] = {}
        missing = []
        for i in order:
            name = names[i]
            # (its point, then the others it may be placed at)
            at = [(float(x[i]), float(y[i]))]
            if alternatives is not None:
                at.extend((float(a), float(b)) for a, b in np.reshape(alternatives[i], (-1, 2)))
            for length in _LABEL_LENGTHS:
                text = _literal(name if len(name) <= length else name[: length - 1] + "\u2026")
                probe.set_text(text)
                extent = probe.get_window_extent()
                for point in at:
                    px, py = to_display(np.array([point]))[0]
                    # (a pixel apart)
                    chosen = position(px, py, extent.width + 2.0, extent.height)
                    if chosen is not None:
                        break
                if chosen is not None or len(name) <= length:
                    break
            if chosen is None:  # no room left, even for the shortest text
                missing.append(i)
                continue
            side, (dx, dy), box, near = chosen
            placed.append(box)
            leader = (dx, dy) != (side * _LABEL_GAP, 0.0)  # (set off from its point's level)
            if leader:
                leaders.append((near, np.array([px, py])))
                kept["leaders"] = np.reshape(leaders, (-1, 2, 2))
                kept["low"] = kept["leaders"].min(axis=1)
                kept["high"] = kept["leaders"].max(axis=1)
            kept["boxes"] = np.reshape(placed, (-1, 4))
            chosen_of[i] = (text, point, side, (dx, dy), leader)
        return chosen_of, missing

    chosen_of, missing = attempt(list(range(len(names))))
    # Greedy placement lets a label take the room that the ones after it needed (the
    # label of the last of a row of points, set off over the others, blocked their
    # leaders): where a few are left out, the labels are placed again, those left out
    # first (in their order), and the placement is kept where it labels every point the
    # one before did and more (never one of a more important label for a lesser one).
    for _ in range(_LABEL_RETRIES if len(missing) <= _RETRIED_AT_MOST else 0):
        again = attempt(missing + [i for i in range(len(names)) if i not in missing])
        if not set(again[1]) < set(missing):
            break
        chosen_of, missing = again
        if not missing:
            break
    for i in sorted(chosen_of):
        text, point, side, (dx, dy), leader = chosen_of[i]
        label = ax.annotate(
            text,
            point,
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            color=_ink() if colors is None else colors[i],
            ha="left" if side > 0 else "right",
            va="center",
            # a label moved off its point's level gets a thin line from the middle of
            # its near end to the edge of the point's marker (not into it)
            arrowprops=None
            if not leader
            else {
                "arrowstyle": "-",
                "color": _ink(),
                "alpha": 0.6,
                "lw": 0.7,
                "relpos": (0.0 if side > 0 else 1.0, 0.5),
                # (from the text's near end itself: clipped at a box around the text,
                # as by default, the line was hidden under the marker)
                "patchA": None,
                "shrinkA": 1.0,
                "shrinkB": marker,
            },
        )
        label.set_in_layout(False)  # labels must not shrink the axes they were placed on
    probe.remove()
    return [names[i] for i in sorted(missing)]


def _first_names(names: list[str]) -> str:
    """The first five of ``names`` as warnings list them, then ``...`` if there are more."""
    return ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")


def _warn_left_out(left_out: list[str], what: str, advice: str) -> None:
    if left_out:
        from ._stack import warn_user

        shown = _first_names(left_out)
        noun = what if len(left_out) > 1 else what.removesuffix("s")  # ('1 concept label')
        warn_user(
            f"{len(left_out)} {noun} left out for want of room in the axes ({shown}); {advice}",
            UserWarning,
        )


def _marker_radius(size: float) -> float:
    """The radius, in points, of a scatter marker of ``size`` (points squared) with its
    edge (``lines.linewidth`` wide, scatter's default): where a leader to it ends."""
    import matplotlib

    return float(np.sqrt(size) / 2.0 + matplotlib.rcParams["lines.linewidth"] / 2.0)


#: The size (points squared) of the significant concepts' markers in plot_dataset_shift.
_SHIFT_MARK = 22
#: Concepts whose markers' centres are at most this many radii apart share a label.
_SHIFT_OVERLAP = 1.5
_SHIFT_COLUMNS = ("prevalence_a", "prevalence_b", "mean_weight_a", "mean_weight_b", "significant")
_SCALES = ("linear", "sqrt")


def _significance_said(attrs: dict[str, Any]) -> str:
    """`` (adj. p < 0.05, BH)`` for a comparison's legend: the level and correction of
    its ``significant`` column (`` (p < 0.05, not adjusted)`` without a correction);
    empty where the table does not record them (a table built or edited by hand)."""
    alpha = attrs.get("alpha")
    if not isinstance(alpha, float | int) or "correction" not in attrs:
        return ""
    correction = attrs["correction"]
    if correction is None:
        return f" (p < {alpha:g}, not adjusted)"
    said = _correction_name(correction, short=True)
    return f" (adj. p < {alpha:g}, {said})" if said else f" (adj. p < {alpha:g})"


def plot_dataset_shift(
    comparison: pd.DataFrame,
    k: int = 10,
    ax: Axes | None = None,
    *,
    statistic: str = "prevalence",
    scale: str = "linear",
    title: str | None = None,
) -> Axes:
    """Scatter of every concept's prevalence in collection A against collection B.

    Concepts on the diagonal occur as often in both collections. Significant
    shifts (the ``significant`` column) are coloured by the direction of the
    prevalence difference (the legend says "prevalence higher in" a collection)
    and the ``k`` with the smallest adjusted p-values are labelled.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of :func:`sksplice.shift.compare_datasets`.
    k : int, default=10
        Number of significant concepts labelled (fewer when fewer are
        significant). Labels are placed apart from each other, inside the axes
        and clear of the legend; a name too long for the space is cut with an
        ellipsis. A label reads as its own point's only: concepts at one point,
        or at points whose markers overlap, share one label (``"snow, ski +2"``,
        the names it counts in ``+N`` said in a warning); a label set off from
        its point (beside it higher or lower, or obliquely out of a cluster)
        has a thin line to the edge of the point's marker, which crosses no
        other line or label and passes over no other coloured point (where
        there is no other place, over none that is labelled nor near the
        marker); where a place is free of them, labels and their lines keep
        off the grey points and the diagonal; and a label with no such place
        left is left out with a
        warning.
        They are placed for the figure's size at the call: draw into axes of
        the final size (``figsize``) rather than resizing the figure after.
    ax : matplotlib Axes or None, default=None
        Axes to draw into; a new figure is made when omitted.
    statistic : {"prevalence", "mean_weight"}, default="prevalence"
        What the axes show; significance and the colours always refer to
        prevalence (with mean weights, a point coloured "prevalence higher in
        B" may lie below the diagonal).
    scale : {"linear", "sqrt"}, default="linear"
        Axis scale. ``"sqrt"`` spreads out the many rare concepts near 0.
    title : str or None, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One point per concept (x: collection A, y: collection B).

    Raises
    ------
    TypeError
        If ``comparison`` is not a DataFrame from ``compare_datasets``.
    ValueError
        If ``statistic`` or ``scale`` is unknown.
    """
    k = check_int(k, "k")
    check_option(statistic, "`statistic`", _STATISTICS)
    check_option(scale, "`scale`", _SCALES)
    if not isinstance(comparison, pd.DataFrame) or not set(_SHIFT_COLUMNS) <= set(
        comparison.columns
    ):
        raise TypeError(
            "`comparison` must be the DataFrame returned by sksplice.shift.compare_datasets"
        )
    label_a, label_b = (_literal(str(label)) for label in comparison.attrs.get("labels", "AB"))
    x = comparison[f"{statistic}_a"].to_numpy(dtype=np.float64)
    y = comparison[f"{statistic}_b"].to_numpy(dtype=np.float64)
    significant = comparison["significant"].to_numpy(dtype=bool)
    up = significant & (comparison["prevalence_diff"].to_numpy() > 0)
    down = significant & ~up
    ax = _new_axes(ax, (5.5, 5.0))
    # (the legend lists only the kinds of point drawn; the colours are the tested
    # prevalence, also where the axes show mean weights; what "significant" means, the
    # level and the correction, is said where the table records them)
    test = _significance_said(comparison.attrs)
    for mask, size, colour, label in (
        (~significant, 10, "0.65", "not significant"),
        (up, _SHIFT_MARK, "C3", f"prevalence higher in {label_b}{test}"),
        (down, _SHIFT_MARK, "C0", f"prevalence higher in {label_a}{test}"),
    ):
        ax.scatter(x[mask], y[mask], s=size, color=colour, label=label if mask.any() else None)
    top = max(float(np.max(x, initial=0.0)), float(np.max(y, initial=0.0))) * 1.08 or 1.0
    (diagonal,) = ax.plot(
        [0.0, top], [0.0, top], color=_ink(), linewidth=0.8, linestyle="--", zorder=0
    )
    # Each axis starts a little below 0, so that points on an axis (concepts of one
    # collection only, the largest shifts) show whole.
    low = -0.02 * top
    if scale == "sqrt":
        # (odd, so that the margin below 0 has a place on the axis)
        functions = (lambda v: np.sign(v) * np.sqrt(np.abs(v)), lambda u: np.sign(u) * u * u)
        ax.set_xscale("function", functions=functions)
        ax.set_yscale("function", functions=functions)
        ticks = [t for t in (0.0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0) if t <= top]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        low = -((0.02 * np.sqrt(top)) ** 2)
    ax.set_xlim(low, top)
    ax.set_ylim(low, top)
    what = statistic.replace("_", " ")
    on = " (square-root scale)" if scale == "sqrt" else ""
    # (with the collections' sizes: prevalences in small collections are few values k / n,
    # and many concepts share each point)
    n_a, n_b = comparison.attrs.get("n_a"), comparison.attrs.get("n_b")
    size_a = f" (n={n_a})" if n_a is not None else ""
    size_b = f" (n={n_b})" if n_b is not None else ""
    xlabel = ax.set_xlabel(f"{what} in {label_a}{size_a}{on}")
    ylabel = ax.set_ylabel(f"{what} in {label_b}{size_b}{on}")
    if title is not None:
        ax.set_title(title)
    # (long collection labels are wrapped to the axes' sides, as titles are)
    _lay_out(ax)
    scale_px = ax.figure.dpi / 72.0
    xlabel.set_text(_wrapped(xlabel, xlabel.get_text(), ax.bbox.width - 2 * _EDGE * scale_px))
    ylabel.set_text(
        _wrapped(ylabel, ylabel.get_text(), ax.bbox.height - 2 * _EDGE * scale_px, vertical=True)
    )
    if not (np.any(x > 0) or np.any(y > 0)):  # an empty plot would say nothing
        # (a table filtered to no row is no finding about the collections)
        compared = comparison.attrs.get("n_concepts", 0)
        said = (
            "the table has no rows"
            if not len(x) and compared
            else "no concept occurs in either collection"
        )
        _say_on_empty_axes(ax, said)
        return ax
    # Where the fewest points and labels are: a corner may hold the largest shifts
    # (concepts found in one collection only lie along an axis).
    ax.legend(loc="best", fontsize=8)
    # Labelled last, on the axes' final size; the labels keep clear of the coloured
    # points and of the legend.
    order = np.flatnonzero(significant)
    if "p_adjusted" in comparison.columns:
        p_adj = comparison["p_adjusted"].to_numpy(dtype=np.float64)[order]
        order = order[np.argsort(p_adj, kind="mergesort")]
    shown = order[:k]
    # Concepts at the same point (prevalences are counts over the collection sizes, so
    # in small collections many coincide), or at points whose markers overlap (by more
    # than a quarter of their width), share one label, listed in the order above: labels
    # of their own, stacked beside the point, would sit level with other points, and a
    # label of one of the overlapping markers could be told from no other's. (Markers
    # that only touch are told apart: a label of one keeps clear of the other.)
    marker = _marker_radius(_SHIFT_MARK)
    overlap = _SHIFT_OVERLAP * marker  # (points between two markers' centres)
    px = ax.figure.dpi / 72.0
    _lay_out(ax)
    on_screen = ax.transData.transform(np.column_stack([x, y]))

    def apart(one: list[int], other: list[int]) -> float:
        """The least distance (pixels) between points of two groups."""
        d = on_screen[one][:, None, :] - on_screen[other][None, :, :]
        return float(np.min(np.hypot(d[..., 0], d[..., 1])))

    # (a chain of overlapping markers is one group: a label at any of them could be read
    # as its neighbour's)
    groups: list[list[int]] = []  # (the concepts of each, the first labelled at)
    for i in shown:
        near = [g for g, members in enumerate(groups) if apart(members, [i]) <= overlap * px]
        if not near:
            groups.append([i])
            continue
        for g in near[1:]:  # (it joins groups apart till now: theirs come after)
            groups[near[0]].extend(groups[g])
        groups[near[0]].append(int(i))
        groups = [members for g, members in enumerate(groups) if g not in near[1:]]

    def place(groups: list[list[int]]) -> tuple[list[str], list[str], list[str]]:
        """Place the groups' labels: the names counted in a drawn '+N', the labels left
        out, and every group's label."""
        texts, counted = [], []
        for members in groups:
            text, rest = _shared_label([str(comparison.index[i]) for i in members])
            texts.append(text)
            counted.append(rest)
        left_out = _place_labels(
            ax,
            x[[m[0] for m in groups]],
            y[[m[0] for m in groups]],
            texts,
            avoid=np.column_stack([x[significant], y[significant]]),
            # (a label over a grey point, or across the diagonal, near a crowd of them,
            # was read as split in two, its second half naming the grey point)
            avoid_lines=(diagonal,),
            beneath=np.column_stack([x[~significant], y[~significant]]),
            marker=marker,
            same=overlap,
            # (a shared label may be placed at any of its points)
            alternatives=[np.column_stack([x[m[1:]], y[m[1:]]]) for m in groups],
        )
        # (the names a label counts in its '+N', where that label was drawn: those of a
        # label left out are said with it)
        unnamed = [n for text, rest in zip(texts, counted) if text not in left_out for n in rest]
        return unnamed, [t for t in texts if t in left_out], texts

    drawn = set(ax.texts)
    unnamed, left_out, texts = place(groups)
    # A label left out whose marker touches another group's joins that group's label,
    # and all are placed again: one label for both reads as theirs.
    merged = [list(m) for m in groups]
    for g in [g for g, text in enumerate(texts) if text in left_out]:
        into = [
            h
            for h in range(len(merged))
            if h != g and merged[h] and merged[g] and apart(merged[h], merged[g]) <= 2 * marker * px
        ]
        if into:
            merged[into[0]].extend(merged[g])
            merged[g] = []
    if any(not m for m in merged):
        for text in set(ax.texts) - drawn:
            text.remove()
        unnamed, left_out, _ = place([m for m in merged if m])
    if unnamed:
        from ._stack import warn_user

        shown_names = _first_names(unnamed)
        one = len(unnamed) == 1
        warn_user(
            f"{len(unnamed)} {'concept shares' if one else 'concepts share'} a label with "
            f"concepts whose markers overlap {'its' if one else 'theirs'} (a chain of "
            f"overlapping markers) and {'is' if one else 'are'} counted in its '+N', not "
            f"named ({shown_names})",
            UserWarning,
        )
    _warn_left_out(left_out, "concept labels", "draw on larger axes or label fewer (`k`)")
    return ax


def _shared_label(names: list[str]) -> tuple[str, list[str]]:
    """One label for the concepts at one point: as many names as fit in ``_MAX_LABEL``
    characters, then ``+N``; and the names left out of it (said in a warning)."""
    if len(names) == 1 or len(", ".join(names)) <= _MAX_LABEL:
        return ", ".join(names), []  # (one name alone is cut where it must be, when placed)
    for n in range(len(names) - 1, 0, -1):
        text = f"{', '.join(names[:n])} +{len(names) - n}"
        if len(text) <= _MAX_LABEL:
            return text, names[n:]
    return f"{_shortened(names[0])[: _MAX_LABEL - 6]}\u2026 +{len(names) - 1}", names[1:]


#: The gid of the dotted lines of :func:`plot_sparsity_tradeoff` at a path's baseline.
_BASELINE_GID = "sksplice-baseline-cosine"


def _path_arrays(path: Any, label: str) -> dict[str, np.ndarray]:
    """``l1_penalties``, ``mean_l0`` and ``cosine`` of a path result (object or DataFrame)."""
    arrays = {}
    for key, column in (
        ("l1_penalties", "l1_penalty"),
        ("mean_l0", "mean_l0"),
        ("cosine", "cosine"),
    ):
        if isinstance(path, pd.DataFrame):
            if column not in path.columns:
                raise ValueError(f"{_path_name(label)}: the DataFrame has no {column!r} column")
            values = path[column].to_numpy()
        elif hasattr(path, key):
            values = getattr(path, key)
        else:
            raise TypeError(
                f"{_path_name(label)} has no `{key}`: pass the result of "
                "sksplice.path.splice_path, its to_frame(), or an object with 1-D arrays "
                "l1_penalties, mean_l0 and cosine"
            )
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"{_path_name(label)}: `{key}` must be 1-D, got shape {values.shape}")
        arrays[key] = values
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{_path_name(label)}: arrays of different lengths {lengths}")
    # (of the path as a whole: the cosine of the centre alone, where the result has it)
    baseline = (
        path.attrs.get("baseline_cosine")
        if isinstance(path, pd.DataFrame)
        else getattr(path, "baseline_cosine", None)
    )
    if isinstance(baseline, numbers.Real) and math.isfinite(float(baseline)):
        arrays["baseline"] = np.asarray([float(baseline)])
    return arrays


def _path_accuracy(
    path: Any, label: str, y: np.ndarray, estimator: Any, transformer: Any, cv: int
) -> np.ndarray:
    """Accuracy at every penalty of a path (see :func:`plot_sparsity_tradeoff`)."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.utils.validation import check_is_fitted

    from .zero_shot import ZeroShotClassifier

    scores = []
    for W in path.weights:
        if isinstance(estimator, ZeroShotClassifier):
            recomposed = transformer.inverse_transform(W)
            try:
                check_is_fitted(estimator)
                model = estimator
            except Exception:  # NotFittedError: zero-shot learns nothing from the data
                model = clone(estimator).fit(recomposed, y)
            scores.append(float(model.score(recomposed, y)))
        else:
            cv_scores = cross_val_score(clone(estimator), W, y, cv=cv, scoring="accuracy")
            scores.append(float(np.mean(cv_scores)))
    return np.asarray(scores)


def _check_probe_labels(y: np.ndarray, estimator: Any, cv: int) -> None:
    """Refuse labels a probe cannot be cross-validated on with ``cv`` folds (its fits
    would fail: a single class, a training fold of a single class, every class smaller
    than ``cv``), in one line, before anything is drawn."""
    from sklearn.base import is_classifier

    if y.ndim != 1:
        return  # (the shape is said where the weights are matched)
    if y.shape[0] < cv:
        raise ValueError(
            f"`y` has {y.shape[0]} labels, fewer than the cv={cv} folds the probe is "
            "cross-validated with: pass a smaller `cv` or more samples"
        )
    if not is_classifier(estimator):
        return
    unique, counts = np.unique(y, return_counts=True)
    classes = unique.tolist()  # (Python values: 'a', not np.str_('a'), in the messages)
    if len(classes) < 2:
        raise ValueError(
            f"`y` holds a single class ({classes[0]!r}): a probe's accuracy needs labels "
            "of at least 2 classes"
        )
    # (a class smaller than cv is scikit-learn's warning, not an error: its fits succeed.
    # They fail when every class is smaller than cv, where the stratified split refuses,
    # or when a training fold holds a single class: the folds are those scikit-learn
    # makes, StratifiedKFold(cv) without shuffling)
    if counts.max() < cv:
        raise ValueError(
            f"every class of `y` has fewer samples than the cv={cv} folds of the probe's "
            f"stratified cross-validation (the largest, {classes[int(np.argmax(counts))]!r}, "
            f"has {int(counts.max())}): pass a smaller `cv` or more samples"
        )
    import warnings

    from sklearn.model_selection import StratifiedKFold

    with warnings.catch_warnings():  # (scikit-learn says it again when it scores)
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(cv).split(np.zeros(y.shape[0]), y))
    for fold, (train, test) in enumerate(splits):
        if np.unique(y[train]).size < 2:
            tested = sorted(set(y[test].tolist()) - set(y[train].tolist()), key=str)
            raise ValueError(
                f"fold {fold + 1} of the probe's stratified cv={cv} folds would train it on "
                f"the single class {y[train].tolist()[0]!r}, testing "
                + listed(tested, 3, repr)
                + ": classes with one sample leave no other class to train on; drop them, "
                "or give more samples of them"
            )


def plot_sparsity_tradeoff(
    paths: Any,
    ax: Axes | None = None,
    *,
    y: Any = None,
    estimator: Any = None,
    transformers: Any = None,
    cv: int = 5,
    accuracy_ax: Axes | None = None,
    log_l0: bool = True,
    annotate: bool = True,
    title: str | None = None,
) -> Axes:
    """Cosine similarity (and accuracy) against the mean number of concepts per sample.

    The sparsity-accuracy tradeoff figure of the SpLiCE paper: one line per path
    (a vocabulary, a vocabulary size, a model ...), one point per l1 penalty,
    so that a penalty and a vocabulary can be chosen from the picture.

    Parameters
    ----------
    paths : path result or mapping of str to path results
        The result of :func:`sksplice.splice_path`, or a dict of them keyed
        by the label shown in the legend. Any object with 1-D arrays
        ``l1_penalties``, ``mean_l0`` and ``cosine`` of equal length (one entry
        per penalty), or a DataFrame with columns ``l1_penalty``, ``mean_l0``
        and ``cosine`` (``SplicePath.to_frame()``), is accepted; accuracy also
        needs ``weights`` (one concept-weight matrix per penalty).
    ax : matplotlib Axes or None, default=None
        Axes for the cosine similarity; a new figure is made when omitted (with
        a second panel for accuracy when accuracy is drawn).
    y : array-like of shape (n_samples,) or None, default=None
        Labels of the decomposed samples; with ``estimator``, accuracy is drawn
        as well.
    estimator : estimator or None, default=None
        A :class:`~sksplice.zero_shot.ZeroShotClassifier` (scored on the
        embeddings recomposed from the weights at each penalty; fitted on them
        with ``y`` if it is not fitted yet), or any other classifier, a *probe*
        on concept weights (a clone is cross-validated on the weights at each
        penalty with ``cv`` folds, stratified for classifiers).
    transformers : SpliceTransformer, mapping of str to SpliceTransformer or None, default=None
        The fitted transformer of each path (the same keys as ``paths``),
        needed to recompose embeddings for a ZeroShotClassifier.
    cv : int, default=5
        Cross-validation folds for a probe.
    accuracy_ax : matplotlib Axes or None, default=None
        Axes for the accuracy, given together with ``ax`` (both or neither:
        without them, a new figure holds both panels). A title already set
        on it is kept; otherwise it is titled with the classifier. Its range spans at least 0.1
        (within 0 to 1), so that a difference of a few samples does not fill it.
    log_l0 : bool, default=True
        Logarithmic l0 axis (the penalties of a path spread l0 over decades).
    annotate : bool, default=True
        Write each point's l1 penalty next to it on the cosine lines, in the
        line's colour; the labels are kept apart from each other, inside the
        axes and off the lines where there is room, each where it reads as its
        own point's only (not beside another point, with any line to its point
        crossing no other; where two paths' markers touch, set off away from
        the other marker); a label with no such place left is left out with a
        warning.
    title : str or None, default=None
        Title of the cosine axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The cosine axes: mean cosine similarity between the embeddings and
        their recompositions against mean l0, one line per path, in the order
        of increasing l0. The accuracy lines (same colours) are on
        ``accuracy_ax``, or the figure's second axes.

    Raises
    ------
    TypeError, ValueError
        If a path lacks the arrays, ``y`` and ``estimator`` are not given
        together, ``y`` does not match the samples, a transformer is missing,
        ``cv`` is not an integer >= 2, ``ax`` or ``accuracy_ax`` is not one
        matplotlib Axes (a figure, the array ``plt.subplots`` returns), one of
        them is given without the other, ``accuracy_ax`` is given without ``y``
        and ``estimator``, ``log_l0`` or ``annotate`` is not a bool, or
        ``title`` is not text; for a probe, if ``y`` has fewer labels than ``cv``
        folds and, for a classifier, fewer than 2 classes, every class with
        fewer samples than ``cv``, or a training fold of scikit-learn's
        stratified folds (``StratifiedKFold(cv)``) that would hold a single
        class (a class smaller than ``cv`` beside larger ones is
        scikit-learn's warning, and scored). Everything is checked before
        anything is drawn or any accuracy is computed.
    """
    if isinstance(paths, dict):
        if not paths:
            raise ValueError("`paths` is an empty mapping")
        named = {str(k): v for k, v in paths.items()}
    else:
        named = {"": paths}
    arrays = {label: _path_arrays(path, label) for label, path in named.items()}
    if (y is None) != (estimator is None):
        raise ValueError("accuracy needs both `y` and `estimator`; give both or neither")
    check_int(cv, "cv", low=2)
    # (before the accuracy is computed, a cross-validation per penalty: a figure given
    # as accuracy_ax failed after it, with "'Figure' object has no attribute 'plot'")
    for axes_name, given_axes in (("ax", ax), ("accuracy_ax", accuracy_ax)):
        if given_axes is not None:
            _check_axes(given_axes, axes_name)
    check_flag(log_l0, "log_l0")
    check_flag(annotate, "annotate")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be text (a str) or None, got {a_type(title)}")
    with_accuracy = estimator is not None
    if accuracy_ax is not None and not with_accuracy:
        raise ValueError(
            "`accuracy_ax` is for the accuracy panel: give `y` and `estimator` as well "
            "(or leave `accuracy_ax` out for the cosine panel alone)"
        )
    if with_accuracy and (ax is None) != (accuracy_ax is None):
        given, missing = ("ax", "accuracy_ax") if accuracy_ax is None else ("accuracy_ax", "ax")
        raise ValueError(
            f"with accuracy, give `{missing}` as well as `{given}` (or neither, for a new "
            "figure with both panels)"
        )
    if with_accuracy:
        from .zero_shot import ZeroShotClassifier

        y = check_labels(y)
        zero_shot = isinstance(estimator, ZeroShotClassifier)
        if not isinstance(transformers, dict):
            transformers = {label: transformers for label in named}
        elif isinstance(paths, dict):
            # (a key that names no path: its transformer would be left unused, and the
            # path it was meant for said to have none)
            unknown = [key for key in transformers if str(key) not in named]
            if unknown:
                raise ValueError(
                    f"`transformers` has {'a key' if len(unknown) == 1 else 'keys'} "
                    f"{listed(unknown, 5, repr)} that "
                    f"{'names' if len(unknown) == 1 else 'name'} no path; the paths are "
                    f"{list(named)}: key each transformer by the name of the path it made"
                )
            transformers = {str(key): value for key, value in transformers.items()}
        for label, path in named.items():
            weights = getattr(path, "weights", None)
            if weights is None or len(weights) != arrays[label]["cosine"].shape[0]:
                raise TypeError(
                    f"{_path_name(label)} has no per-penalty `weights`: accuracy needs the result "
                    "of splice_path itself, not its summary"
                )
            if any(W.shape[0] != y.shape[0] for W in weights):
                raise ValueError(
                    f"`y` has {y.shape[0]} labels but {_path_name(label)} has weights of "
                    f"{weights[0].shape[0]} samples"
                )
            if zero_shot and transformers.get(label) is None:
                raise ValueError(
                    f"a ZeroShotClassifier is scored on recomposed embeddings: give the "
                    f"fitted SpliceTransformer of {_path_name(label)} in `transformers`"
                )
            given = transformers.get(label)
            if given is not None and hasattr(given, "concepts_"):
                # (the transformer of another path: said for this one, by its name)
                from ._names import check_source

                check_source(
                    weights[0],
                    given.concepts_,
                    f"the transformer given for {_path_name(label)} in `transformers`",
                )
        if not zero_shot:
            _check_probe_labels(y, estimator, cv)
    if ax is None:
        if with_accuracy:
            fig = _new_axes(None, (11.0, 4.5)).figure
            fig.clear()
            ax, accuracy_ax = fig.subplots(1, 2)
        else:
            ax = _new_axes(None, (6.5, 4.5))
    penalties: list[tuple[float, float, str, str]] = []  # (l0, cosine, label, colour)
    if log_l0:
        # A penalty whose solutions are all zero (mean l0 of 0) has no place on a log axis.
        zero = [
            f"{pen:g}" + (f" ({label})" if label else "")
            for label, values in arrays.items()
            for pen, l0 in zip(values["l1_penalties"], values["mean_l0"])
            if not l0 > 0
        ]
        if zero:
            from ._stack import warn_user

            warn_user(
                f"{len(zero)} penalt{'y' if len(zero) == 1 else 'ies'} with a mean l0 of 0 "
                f"(every weight zero) left out of the log l0 axis: l1_penalty "
                f"{', '.join(zero[:5])}{', ...' if len(zero) > 5 else ''}; pass log_l0=False "
                "to show them",
                UserWarning,
            )
    for i, (label, values) in enumerate(arrays.items()):
        color = f"C{i % 10}"
        order = np.argsort(values["mean_l0"], kind="mergesort")
        if log_l0:
            order = order[values["mean_l0"][order] > 0]
        l0 = values["mean_l0"][order]
        (drawn,) = ax.plot(
            l0, values["cosine"][order], "o-", color=color, label=_literal(label) or None
        )
        if "baseline" in values:
            # the cosine of no concept at all: the floor the line is read against
            ax.axhline(
                float(values["baseline"][0]), color=color, linestyle=":", linewidth=1.2,
                gid=_BASELINE_GID,
            )  # fmt: skip
        # (a leader to a penalty's label ends at the edge of its marker)
        marker = 0.5 * (drawn.get_markersize() + drawn.get_markeredgewidth())
        if annotate:
            for x, c, pen in zip(l0, values["cosine"][order], values["l1_penalties"][order]):
                penalties.append((x, c, f"{pen:g}", color))
        if with_accuracy:
            accuracy = _path_accuracy(
                named[label], label, y, estimator, transformers.get(label), cv
            )
            assert accuracy_ax is not None  # (given with ax, or made with it above)
            accuracy_ax.plot(l0, accuracy[order], "s-", color=color, label=_literal(label) or None)
    xlabel = "mean number of concepts per sample (l0" + (", log scale)" if log_l0 else ")")
    axes = [ax] if accuracy_ax is None else [ax, accuracy_ax]
    for a in axes:
        a.set_xlabel(xlabel)
        if log_l0:
            from matplotlib.ticker import FuncFormatter, LogLocator

            a.set_xscale("log")
            a.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            a.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            a.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
            # (a labelled tick at or below the fewest concepts: 2 for points near 2.5)
            shown = [
                np.asarray(line.get_xdata())
                for line in a.get_lines()
                if line.get_gid() != _BASELINE_GID  # (axes coordinates: 0 to 1)
            ]
            least = min((float(np.min(v)) for v in shown if len(v)), default=None)
            if least is not None and least > 0:
                decade = 10.0 ** np.floor(np.log10(least))
                tick = max(m * decade for m in (1.0, 2.0, 5.0) if m * decade <= least)
                a.set_xlim(left=min(a.get_xlim()[0], tick))
        if len(named) > 1 or "" not in named:
            a.legend(loc="best", fontsize=8)  # (where it covers the fewest points)
    handles, texts = ax.get_legend_handles_labels()
    if any(line.get_gid() == _BASELINE_GID for line in ax.get_lines()):
        # what the dotted lines are: the cosine of each path's centre alone
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.4", linestyle=":", linewidth=1.2))
        texts.append("centre alone (no concept)")
    # (labels only beside handles: matplotlib cannot pair two empty lists)
    entries: dict[str, Any] = {"handles": handles, **({"labels": texts} if handles else {})}
    if annotate:
        # what the numbers at the points are (in the legend's title, or alone)
        ax.legend(**entries, loc="best", fontsize=8, title="labels: l1_penalty",
                  title_fontsize=8)  # fmt: skip
    elif handles:
        ax.legend(**entries, loc="best", fontsize=8)
    ax.set_ylabel("cosine(embedding, recomposition)")
    if accuracy_ax is not None:
        _at_least_span(accuracy_ax, _MIN_ACCURACY_SPAN)
        accuracy_ax.set_ylabel("accuracy")
        name = type(estimator).__name__
        kind = "recomposed embeddings" if zero_shot else f"concept weights, {cv}-fold CV"
        if not accuracy_ax.get_title():  # (a title set on given axes is kept)
            accuracy_ax.set_title(f"{name} on {kind}")
    if title is not None:
        ax.set_title(title)
    if penalties:
        # each penalty in its line's colour, clear of the lines, the legend and the others
        x, c, text, colors = zip(*penalties)
        left_out = _place_labels(
            ax, np.array(x), np.array(c), list(text), avoid_lines=tuple(ax.get_lines()),
            fontsize=7, colors=list(colors), marker=marker,
        )  # fmt: skip
        _warn_left_out(left_out, "penalty labels", "draw on larger axes or pass annotate=False")
    return ax
