"""Build the HTML report shown in the documentation, offline, and photograph it in Chromium.

The captions of ``analysis_spurious.py`` stand in for images (every "woman" caption
mentions a bikini, no "man" caption does): they are embedded with MiniLM, decomposed
over the 10,000 most frequent LAION words, and written as a report whose thumbnails are
the captions drawn on small cards. Headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright) opens the page, clicks the top concept of the ranking and takes
the screenshot. Run from the repository root::

    python docs/examples/report_explorer.py --out docs/_static

``--measure N`` instead writes a report of ``N`` synthetic images (96-pixel JPEG
thumbnails cut from scikit-learn's sample photographs, 20 to 40 concepts each out of
10,000, 10 classes with their ranking and profiles) and prints its size, the bytes
of its parts (thumbnails, concept weights, ranking, class profiles) and the time
Chromium takes to load it, as JSON::

    python docs/examples/report_explorer.py --measure 5000 --out /tmp/report-size
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def caption_card(text: str, label: str, size: int = 96) -> str:
    """The caption drawn on a small card, as a PNG data URI (the "image" of a caption)."""
    from PIL import Image, ImageDraw, ImageFont

    background = (253, 236, 240) if label == "woman" else (232, 240, 253)
    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=12)
    lines = textwrap.wrap(text, width=13)[:6]
    top = (size - 15 * len(lines)) // 2
    for k, line in enumerate(lines):
        draw.text((size // 2, top + 15 * k), line, fill=(40, 40, 40), font=font, anchor="ma")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def class_rankings(W: Any, y: np.ndarray, concepts: Any):
    """Every class against the rest in one table with a ``class`` column, the p-values
    adjusted in two levels: the table the command line's report shows."""
    from sksplice.analysis import rank_each_class

    return rank_each_class(W, y, concepts)


def build(
    out_html: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> Path:
    """Decompose the captions and write the report to ``out_html``."""
    from analysis_spurious import captions, minilm

    from sksplice.analysis import concept_profiles
    from sksplice.report import ImageResult, write_report
    from sksplice.transformer import SpliceTransformer

    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    texts, y = captions()
    X = embedder.embed_text(texts)
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=list(concepts),
        concept_embeddings=concept_embeddings,
        modality="text",  # captions; text_mean=None: their centre, learned from X
        l1_penalty=0.25,
        tol=1e-5,
        device="cpu",
    ).fit(X)
    W = splice.transform(X)
    tops = splice.top_concepts(W, k=W.shape[1], kind="weights")
    cosine = splice.cosine_similarity(X, weights=W)
    l0 = splice.l0(W, kind="weights", per_sample=True)
    results = [
        ImageResult(
            path=f"captions/{label}/{i:02d}.txt",
            concepts=top,
            l0=int(n),
            cosine=float(c),
            label=str(label),
            thumbnail=caption_card(text, str(label)),
        )
        for i, (text, label, top, n, c) in enumerate(zip(texts, y, tops, l0, cosine))
    ]
    return write_report(
        out_html,
        results,
        title="sksplice report: captions with a planted correlation",
        settings={
            "model": "MiniLM-L6-v2 (text, standing in for CLIP)",
            "vocabulary": "laion, 10000 concepts",
            "l1 penalty": 0.25,
            "modality centre": f"learned from {len(texts)} rows",
        },
        ranking=class_rankings(W, y, splice),
        profiles=concept_profiles(W, y, splice, drop_empty=True),
    )


@contextlib.contextmanager
def _browser(chromium: str, browser: Any = None) -> Iterator[Any]:
    """The given Playwright browser, or headless ``chromium`` launched for the block."""
    if browser is not None:
        yield browser
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(
    html: Path, out_dir: Path, chromium: str = CHROMIUM, browser: Any = None
) -> list[Path]:
    """Open the report, sort, click the top concept and one of its images; save two PNGs."""
    shots = [out_dir / "report_explorer.png", out_dir / "report_explorer_image.png"]
    with _browser(chromium, browser) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(html.as_uri())
        page.wait_for_selector("body[data-ready]")
        page.check("#ranking-significant")
        difference = page.locator("#ranking-table th", has_text="Difference")
        difference.click()
        difference.click()  # largest difference first
        page.locator("#ranking-table a.concept").first.click()
        page.locator("#ranking").scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, document.getElementById('ranking').offsetTop - 8)")
        page.screenshot(path=str(shots[0]))
        page.locator("#concept-images .thumb").first.click()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots[1]))
        page.close()
    return shots


def synthetic_report(n_images: int, out_html: Path, seed: int = 0) -> Path:
    """A report of ``n_images`` synthetic decompositions with photographic thumbnails."""
    import scipy.sparse as sp
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from sksplice.analysis import concept_profiles
    from sksplice.report import THUMBNAIL_SIZE, ImageResult, write_report

    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    n_concepts, n_classes = 10_000, 10
    names = [f"concept{j:05d}" for j in range(n_concepts)]
    popularity = 1.0 / np.arange(1, n_concepts + 1)  # Zipf-like: a few concepts are common
    popularity /= popularity.sum()
    y = np.array([f"class{k}" for k in rng.integers(0, n_classes, n_images)])
    rows, cols, vals = [], [], []
    results = []
    for i in range(n_images):
        k = int(rng.integers(20, 41))
        idx = rng.choice(n_concepts, size=k, replace=False, p=popularity)
        w = np.sort(rng.gamma(1.0, 0.05, size=k))[::-1]
        rows += [i] * k
        cols += idx.tolist()
        vals += w.tolist()
        photo = photos[i % len(photos)]
        side = int(rng.integers(120, 300))
        x0 = int(rng.integers(0, photo.width - side))
        y0 = int(rng.integers(0, photo.height - side))
        tile = photo.crop((x0, y0, x0 + side, y0 + side))
        tile.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        buf = io.BytesIO()
        tile.save(buf, format="JPEG", quality=75)
        thumb = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        results.append(
            ImageResult(
                f"/data/{y[i]}/img{i:05d}.jpg",
                [(names[j], float(v)) for j, v in zip(idx, w)],
                k,
                float(rng.uniform(0.6, 0.9)),
                label=str(y[i]),
                thumbnail=thumb,
            )
        )
    W = sp.csr_matrix((vals, (rows, cols)), shape=(n_images, n_concepts))
    return write_report(
        out_html,
        results,
        title=f"{n_images} synthetic images",
        settings={"images": n_images, "concepts": n_concepts},
        ranking=class_rankings(W, y, names),
        profiles=concept_profiles(W, y, names, drop_empty=True),
    )


def report_parts(html: Path) -> dict:
    """Bytes of the parts of a report's embedded data, and the ranking's rows and fields."""

    def size(value: Any) -> int:  # as the page writes it: compact JSON, UTF-8
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    text = html.read_text(encoding="utf-8")
    start = text.index(">", text.index('<script id="sksplice-data"')) + 1
    data = json.loads(text[start : text.index("</script>", start)])
    images, ranking = data["images"], data["ranking"]
    thumbnails = sum(len(image["t"].encode()) for image in images)
    return {
        "thumbnails_bytes": thumbnails,
        "thumbnail_bytes_mean": round(thumbnails / max(len(images), 1)),
        "weights_bytes": sum(size(image["w"]) for image in images),
        "ranking_bytes": size(ranking),
        "ranking_rows": len(ranking),
        "ranking_fields": len(ranking[0]) if ranking else 0,
        "profiles_bytes": size(data["prevalence"]),
        "profile_concepts": len(data["prevalence"]),
        "intervals_bytes": size(data.get("prevalenceInterval", {})),
    }


def measure(
    n_images: int, out_dir: Path, repeats: int = 3, chromium: str = CHROMIUM, browser: Any = None
) -> dict:
    """Write a synthetic report and time its load in headless Chromium."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"report_{n_images}.html"
    t0 = time.perf_counter()
    synthetic_report(n_images, html)
    build_s = time.perf_counter() - t0
    loads, ready = [], []
    with _browser(chromium, browser) as browser:
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready]", timeout=120_000)
            loads.append(time.perf_counter() - t0)
            ready.append(page.evaluate("window.__skspliceReadyMs") / 1000.0)
            page.close()
        version = browser.version
    return {
        "images": n_images,
        "file_bytes": html.stat().st_size,
        **report_parts(html),
        "build_s": round(build_s, 2),
        "load_s_median": round(statistics.median(loads), 3),
        "load_s_all": [round(v, 3) for v in loads],
        "script_ready_s_median": round(statistics.median(ready), 3),
        "chromium": version,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "_static")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--measure", type=int, default=None, metavar="N")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    args.out = args.out.resolve()  # (the page is opened by its file:// address)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.out, chromium=args.chromium), indent=1))
    else:
        html = build(args.out / "report_explorer.html", data_home=args.data_home)
        for path in screenshot(html, args.out, chromium=args.chromium):
            print(path)
        html.unlink()
