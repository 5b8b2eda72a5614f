"""Self-contained static HTML reports of concept decompositions.

The page needs no server and no external assets: thumbnails are embedded as
``data:`` URIs and the concept bars are plain HTML elements styled inline, so
the file can be mailed, archived or opened from a laptop without network.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._data import atomic_write

__all__ = ["ImageResult", "render_report", "write_report"]

_THUMBNAIL_SIZE = 160


@dataclass
class ImageResult:
    """Decomposition of one image, as shown in a report.

    Parameters
    ----------
    path : str
        Path of the image file (shown as the caption).
    concepts : list of (str, float)
        Top concepts and their weights, largest first.
    l0 : int
        Number of non-zero concept weights.
    cosine : float
        Cosine similarity between the embedding and its recomposition.
    label : str or None
        Class label, when known.
    """

    path: str
    concepts: list[tuple[str, float]]
    l0: int
    cosine: float
    label: str | None = None
    thumbnail: str | None = field(default=None, repr=False)


def thumbnail_data_uri(path: str | os.PathLike, size: int = _THUMBNAIL_SIZE) -> str | None:
    """Return a small JPEG thumbnail of an image file as a ``data:`` URI.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    size : int, default=160
        Longest side of the thumbnail in pixels.

    Returns
    -------
    uri : str or None
        The data URI, or None when the file cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((size, size))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=80)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #1f2328; background: #fff; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; }
.meta { color: #57606a; font-size: 0.9rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1rem; }
.card { display: flex; gap: 0.8rem; border: 1px solid #d0d7de; border-radius: 8px;
        padding: 0.7rem; }
.card img { width: 160px; height: 160px; object-fit: contain; background: #f6f8fa;
            border-radius: 4px; flex: none; }
.noimg { width: 160px; height: 160px; background: #f6f8fa; flex: none; display: flex;
         align-items: center; justify-content: center; color: #8c959f; }
.bars { flex: 1; min-width: 0; }
.caption { font-size: 0.8rem; color: #57606a; word-break: break-all; margin-bottom: 0.3rem; }
.row { display: flex; align-items: center; gap: 0.4rem; font-size: 0.85rem; margin: 2px 0; }
.row .name { width: 8.5rem; text-align: right; overflow: hidden; text-overflow: ellipsis;
             white-space: nowrap; }
.row .track { flex: 1; background: #f6f8fa; height: 0.9rem; border-radius: 3px; }
.bar { background: #2f81f7; height: 100%; border-radius: 3px; }
.row .val { width: 3.2rem; font-variant-numeric: tabular-nums; color: #57606a; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def _bars(concepts: Sequence[tuple[str, float]], css_class: str = "bar") -> str:
    if not concepts:
        return '<div class="row"><span class="name">(no concepts)</span></div>'
    top = max(float(w) for _, w in concepts) or 1.0
    rows = []
    for name, weight in concepts:
        pct = 100.0 * float(weight) / top
        rows.append(
            '<div class="row"><span class="name" title="{n}">{n}</span>'
            '<span class="track"><div class="{c}" style="width:{p:.1f}%"></div></span>'
            '<span class="val">{w:.3f}</span></div>'.format(
                n=html.escape(str(name)), c=css_class, p=pct, w=float(weight)
            )
        )
    return "\n".join(rows)


def _card(result: ImageResult) -> str:
    thumb = result.thumbnail if result.thumbnail is not None else thumbnail_data_uri(result.path)
    if thumb is None:
        img = '<div class="noimg">no preview</div>'
    else:
        img = f'<img class="thumb" src="{thumb}" alt="{html.escape(result.path)}">'
    label = f" · class <b>{html.escape(str(result.label))}</b>" if result.label is not None else ""
    caption = (
        f'<div class="caption">{html.escape(result.path)}{label}<br>'
        f"l0 = {result.l0}, cosine = {result.cosine:.3f}</div>"
    )
    return f'<div class="card">{img}<div class="bars">{caption}{_bars(result.concepts)}</div></div>'


def _table(df: pd.DataFrame, max_rows: int = 50) -> str:
    return df.head(max_rows).to_html(
        classes="ranking", float_format=lambda v: f"{v:.4g}", border=0, escape=True
    )


def render_report(
    results: Iterable[ImageResult],
    *,
    title: str = "sksplice concept report",
    settings: dict[str, object] | None = None,
    profiles: pd.DataFrame | None = None,
    ranking: pd.DataFrame | None = None,
) -> str:
    """Render a self-contained HTML page of image decompositions.

    Parameters
    ----------
    results : iterable of ImageResult
        One entry per image: its thumbnail is shown next to its concept bars.
    title : str, default="sksplice concept report"
        Page title.
    settings : dict, default=None
        Settings to list at the top of the page (model, vocabulary, penalty ...).
    profiles : pandas.DataFrame, default=None
        Per-class concept profiles (as from :func:`sksplice.analysis.concept_profiles`):
        rendered as one bar block per class of its most prevalent concepts.
    ranking : pandas.DataFrame, default=None
        Concept ranking table (as from :func:`sksplice.analysis.rank_concepts`).

    Returns
    -------
    html : str
        The complete page.
    """
    results = list(results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if settings:
        items = ", ".join(
            f"{html.escape(str(k))} = <code>{html.escape(str(v))}</code>"
            for k, v in settings.items()
        )
        parts.append(f'<p class="meta">{items}</p>')
    parts.append(f'<h2 id="images">Images ({len(results)})</h2><div class="grid">')
    parts.extend(_card(r) for r in results)
    parts.append("</div>")
    if profiles is not None and len(profiles):
        parts.append('<h2 id="profiles">Class profiles</h2><div class="grid">')
        parts.append(_profile_blocks(profiles))
        parts.append("</div>")
    if ranking is not None and len(ranking):
        parts.append('<h2 id="ranking">Concepts that separate the classes</h2>')
        parts.append(_table(ranking))
    parts.append("</body></html>")
    return "\n".join(parts)


def _profile_blocks(profiles: pd.DataFrame, k: int = 10) -> str:
    """One bar block per class of its most prevalent concepts.

    ``profiles`` is either the output of :func:`sksplice.analysis.concept_profiles`
    (columns ``(statistic, group)``) or a wide table with concepts as index and one
    prevalence column per class.
    """
    if isinstance(profiles.columns, pd.MultiIndex):
        profiles = profiles["prevalence"]
    blocks = []
    for col in profiles.columns:
        top = profiles[col].sort_values(ascending=False).head(k)
        top = top[top > 0]
        blocks.append(_profile_card(str(col), list(top.items())))
    return "\n".join(blocks)


def _profile_card(cls: str, concepts: list[tuple[str, float]]) -> str:
    return (
        f'<div class="card profile"><div class="bars"><div class="caption">class '
        f"<b>{html.escape(cls)}</b> · prevalence of its most frequent concepts</div>"
        f"{_bars(concepts, css_class='bar pbar')}</div></div>"
    )


def write_report(path: str | os.PathLike, results: Iterable[ImageResult], **kwargs) -> Path:
    """Render a report (see :func:`render_report`) and write it atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output HTML file.
    results : iterable of ImageResult
        Image decompositions.
    **kwargs
        Passed on to :func:`render_report`.

    Returns
    -------
    path : pathlib.Path
        The written file.
    """
    page = render_report(results, **kwargs)
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(page.encode("utf-8"))
    return path
