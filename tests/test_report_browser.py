"""The HTML report in headless Chromium, driven by Playwright: sort, search, drill down.

One browser per module. The tests skip when Playwright or Chromium is missing (Debian's
``chromium`` at /usr/bin; Playwright's own browser downloads are never used). Screenshots
go to ``$SKSPLICE_TEST_ARTIFACTS`` (a temporary folder by default).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sksplice.analysis import concept_profiles, rank_concepts, rank_each_class
from sksplice.report import ImageResult, thumbnail_data_uri, write_report

from .conftest import TESTS_DATA

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONCEPTS = ["sea", "sky", "sand", "tree", "grass", "snow", "road", "car", "dog", "cat"]
CLASSES = ["beach", "forest", "city"]
HOSTILE_CLASS = '<img src=x onerror="window.__pwned=1">\'ü猫'
HOSTILE_FILE = "<script>window.__pwned=1<script><svg onload=window.__pwned=1>\"q'é.png"
HOSTILE_CONCEPT = '</script><script>window.__pwned=1</script>&amp;"ß'


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(name).exists():
            return name
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium installed (Debian package chromium)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("SKSPLICE_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Page:
    """A loaded report page; collects script errors."""

    def __init__(self, browser, path: Path, width: int = 1400, height: int = 1000) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready]", timeout=30_000)

    def texts(self, selector: str) -> list[str]:
        return self.page.locator(selector).all_inner_texts()

    def captions(self) -> list[str]:
        """The gallery's captions, each a folder line and a file line, as one path."""
        return [c.replace("\n", "") for c in self.texts("#gallery .thumb .cap")]

    def close(self, artifacts: Path | None = None, name: str = "") -> None:
        if artifacts is not None:
            self.page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        assert self.errors == []
        self.page.close()


def _thumb(color) -> str:
    path_free = Image.new("RGB", (64, 48), color)
    import base64
    import io

    buf = io.BytesIO()
    path_free.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    """A report of 30 images in 3 classes: (path, W, y, results)."""
    rng = np.random.default_rng(7)
    n_per, c = 10, len(CONCEPTS)
    y = np.repeat(CLASSES, n_per)
    W = rng.random((3 * n_per, c)) * (rng.random((3 * n_per, c)) < 0.35)
    W[:n_per, 0] = 0.5 + rng.random(n_per)  # "sea" in every beach image
    W[n_per:, 0] = 0.0
    W = W.round(4)
    colors = {"beach": (230, 200, 120), "forest": (40, 120, 50), "city": (120, 120, 130)}
    results = []
    for i in range(W.shape[0]):
        nz = np.flatnonzero(W[i])
        order = nz[np.argsort(-W[i, nz], kind="stable")]
        results.append(
            ImageResult(
                f"/data/{y[i]}/{y[i]}_{i:02d}.jpg",
                [(CONCEPTS[j], float(W[i, j])) for j in order],
                int(nz.size),
                0.7 + 0.01 * i,
                label=str(y[i]),
                thumbnail=_thumb(colors[y[i]]),
            )
        )
    import pandas as pd

    parts = []
    for cls in CLASSES:
        r = rank_concepts(W, y, cls, concepts=CONCEPTS).reset_index(names="concept")
        r.insert(0, "class", cls)
        parts.append(r)
    ranking = pd.concat(parts, ignore_index=True)
    profiles = concept_profiles(W, y, CONCEPTS, drop_empty=True)
    path = tmp_path_factory.mktemp("explorer") / "report.html"
    write_report(
        path,
        results,
        title="explorer test",
        settings={"model": "test", "l1 penalty": 0.25},
        ranking=ranking,
        profiles=profiles,
        skipped=[("/data/beach/broken.jpg", "cannot identify image file")],
    )
    return path, W, y, results, ranking


def _column(page: Page, col: int) -> list[str]:
    return page.texts(f"#ranking-table tbody tr td:nth-child({col + 1})")


def _num(text: str) -> float:
    return float(re.sub(r"[^0-9.eE+-]", "", text))


def test_sort_a_column(browser, explorer, artifacts):
    path, _, _, _, ranking = explorer
    page = Page(browser, path)
    header = page.page.locator("#ranking-table th", has_text="Difference")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = [_num(t) for t in _column(page, 4)]
    assert len(values) == len(ranking)
    assert values == sorted(values)
    assert values[0] == pytest.approx(100 * ranking["prevalence_diff"].min(), abs=0.05)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    values = [_num(t) for t in _column(page, 4)]
    assert values == sorted(values, reverse=True)
    top = ranking.sort_values("prevalence_diff", ascending=False, kind="mergesort").iloc[0]
    assert _column(page, 1)[0] == top["concept"] == "sea"
    page.page.locator("#ranking-table th", has_text="Concept").click()
    names = _column(page, 1)
    assert names == sorted(names)
    page.close(artifacts, "report_sorted")


def test_sort_a_column_with_the_keyboard(browser, explorer, artifacts):
    """The column titles are in the tab order; Enter and Space sort, aria-sort follows."""
    path, _, _, _, ranking = explorer
    page = Page(browser, path)
    page.page.focus("#ranking-significant")  # the control just before the table
    focused = []
    for _ in range(len(ranking.columns)):
        page.page.keyboard.press("Tab")
        focused.append(page.page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1].startswith("Difference"):
            break
    assert focused[:3] == ["Class", "Concept", "In class"], focused
    assert focused[-1] == "Difference", focused
    assert page.page.evaluate("document.activeElement.closest('th').dataset.col") == "4"
    header = page.page.locator("#ranking-table th", has_text="Difference")
    assert header.get_attribute("aria-sort") is None
    page.page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    values = [_num(t) for t in _column(page, 4)]
    assert len(values) == len(ranking) and values == sorted(values)
    page.page.keyboard.press("Space")  # the focus stays on the title: sort the other way
    assert header.get_attribute("aria-sort") == "descending"
    values = [_num(t) for t in _column(page, 4)]
    assert values == sorted(values, reverse=True)
    # one column at a time carries aria-sort
    page.page.keyboard.press("Shift+Tab")
    page.page.keyboard.press("Enter")
    sorts = page.page.eval_on_selector_all(
        "#ranking-table th", "ths => ths.map(th => th.getAttribute('aria-sort'))"
    )
    assert sorts == [None, None, None, "ascending", None, None, None]  # (no Test column)
    page.close(artifacts, "report_sorted_by_keyboard")


def test_every_column_of_a_class_ranking_is_in_view_at_1200_pixels(browser, explorer, artifacts):
    # the last column (Significant) lay behind a horizontal scrollbar: a Test column
    # repeated "fisher" in every row, and each share wrapped its counts to a line of its own
    path, *_ = explorer
    page = Page(browser, path, width=1200)
    assert "Test" not in page.texts("#ranking-table th")
    wrap = page.page.locator("#ranking .table-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    heights = page.page.eval_on_selector_all(
        "#ranking-table tbody tr", "trs => trs.map(tr => tr.getBoundingClientRect().height)"
    )
    assert max(heights) < 2 * min(heights)  # (one line a row: no share wrapped)
    page.close(artifacts, "report_ranking_at_1200")


def test_search_and_significant_only(browser, explorer, artifacts):
    path, _, _, _, ranking = explorer
    page = Page(browser, path)
    page.page.fill("#ranking-search", "sa")
    rows = page.page.locator("#ranking-table tbody tr")
    expected = ranking[
        ranking["class"].str.lower().str.contains("sa")
        | ranking["concept"].str.lower().str.contains("sa")
    ]
    assert rows.count() == len(expected) > 0
    assert set(_column(page, 1)) == set(expected["concept"])
    assert page.page.inner_text("#ranking-count").startswith(f"{len(expected)} of {len(ranking)}")
    page.page.fill("#ranking-search", "")
    page.page.check("#ranking-significant")
    n_sig = int(ranking["significant"].sum())
    assert n_sig >= 1
    assert rows.count() == n_sig
    assert page.page.locator("#ranking-table tbody tr.sig").count() == n_sig
    assert set(_column(page, 6)) == {"yes"}
    # the significant row: "sea" in "beach" (10 of 10 against 0 of 20)
    assert ("beach", "sea") in zip(_column(page, 0), _column(page, 1))
    page.close(artifacts, "report_significant")


@pytest.mark.parametrize("width", [1280, 1000])
def test_ranking_fits_and_class_names_stay_whole(browser, explorer, width):
    """Every column is visible without scrolling sideways; class names never wrap."""
    path = explorer[0]
    page = Page(browser, path, width=width)
    scroll, client = page.page.eval_on_selector(
        "#ranking-table", "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]"
    )
    assert scroll <= client
    heights = page.page.eval_on_selector_all(
        "#ranking-table td.cls", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    concept_heights = page.page.eval_on_selector_all(
        "#ranking-table tbody td:nth-child(2)",
        "els => els.map(e => e.getBoundingClientRect().height)",
    )
    assert max(heights) <= min(concept_heights) + 0.5  # one line each
    assert page.page.eval_on_selector("td.cls", "e => getComputedStyle(e).whiteSpace") == "nowrap"
    page.close()


def test_a_very_long_class_name_leaves_every_column_in_view(browser, tmp_path):
    # one line, cut with an ellipsis and whole in its tooltip: the p-value columns stay
    long = "a class named at great length for the sake of its folder " * 2
    y = np.array([long] * 4 + ["short"] * 4)
    W = np.zeros((8, len(CONCEPTS)))
    W[:4, 0], W[4:, 1] = 1.0, 1.0
    import pandas as pd

    ranking = pd.concat(
        [
            rank_concepts(W, y, c, concepts=CONCEPTS)
            .reset_index(names="concept")
            .assign(**{"class": c})
            for c in (long, "short")
        ],
        ignore_index=True,
    )
    results = [
        ImageResult(f"/d/{i}.png", [], 0, 0.5, label=str(y[i]), thumbnail=_thumb((9, 9, 9)))
        for i in range(8)
    ]
    path = tmp_path / "long.html"
    write_report(path, results, ranking=ranking, profiles=concept_profiles(W, y, CONCEPTS))
    page = Page(browser, path, width=1280)
    wrap = page.page.locator("#ranking .table-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    cell = page.page.locator("#ranking-table td.cls", has_text="a class named").first
    assert cell.get_attribute("title") == long
    page.close()


def _whole_tails(page: Page, selector: str) -> list[str | None]:
    """The part that tells each name cut in its middle from the others (by default its
    last word), whole and inside its box (None for one cut there too)."""
    return page.page.eval_on_selector_all(
        selector,
        """els => els.map(e => {
             const t = e.querySelector(".keep"), b = e.getBoundingClientRect(),
                   r = t.getBoundingClientRect();
             return r.left >= b.left - 0.5 && r.right <= b.right + 0.5
                    ? t.textContent : null; })""",
    )


def test_very_long_concepts_leave_every_column_in_view(browser, tmp_path):
    # A vocabulary file of phrases: the concept column took each phrase's width (1717 px
    # of table in an 848 px box), and every number was out of view. Cut in its middle,
    # whole in its tooltip and when read or copied.
    stem = "game coins less meaning gives disc bedrooms au display letter bearings "
    names = [stem + "furniture trends band ways", stem + "wheels", "dog"]
    y = np.array(["a", "b"] * 4)
    W = np.tile([[0.5, 0.0, 0.1], [0.0, 0.4, 0.1]], (4, 1))
    results = [
        ImageResult(f"/d/{y[i]}/{i}.png", [(names[0], 0.5)], 1, 0.9, label=str(y[i]),
                    thumbnail=_thumb((9, 9, 9)))
        for i in range(8)
    ]  # fmt: skip
    ranking = pd.concat(
        [
            rank_concepts(W, y, c, concepts=names)
            .reset_index(names="concept")
            .assign(**{"class": c})
            for c in ("a", "b")
        ],
        ignore_index=True,
    )
    path = tmp_path / "phrases.html"
    write_report(path, results, ranking=ranking, profiles=concept_profiles(W, y, names))
    page = Page(browser, path, width=1280)
    wrap = page.page.locator("#ranking .table-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    links = page.page.locator("#ranking-table td.con a.concept")
    assert set(links.evaluate_all("els => els.map(e => e.title)")) == set(names)
    assert set(page.texts("#ranking-table tbody td.con")) == set(names)
    # (the word where the two begin to differ: " furniture trends band ways" is longer
    # than the part kept whole)
    assert set(_whole_tails(page, "#ranking-table td.con .cutname")) == {" furniture", " wheels"}
    page.close()


@pytest.mark.parametrize("ends", [("temples", "flowers"), ("WMWMWM", "MWMWMW")])
def test_names_alike_but_for_their_end_read_apart(browser, tmp_path, artifacts, ends):
    # Two long class folders that differ in their last word read "a very long cl..." alike
    # in the class column and the thumbnails' captions, and two long concepts alike in the
    # class cards; each now shows its beginning cut and its last word whole (also a word
    # of wide letters, wider than the characters' count says).
    stem = "a very long class name describing a photograph taken with a camera of "
    classes = [stem + ends[0], stem + ends[1]]
    stem_c = "a very long concept name that ends with end "
    names = [stem_c + "A", stem_c + "B", "dog"]
    y = np.array(classes * 4)
    W = np.tile([[0.5, 0.4, 0.1], [0.0, 0.4, 0.1]], (4, 1))
    results = [
        ImageResult(f"/d/{y[i]}/{i}.png", [(names[1], 0.4)], 1, 0.9, label=str(y[i]),
                    thumbnail=_thumb((9, 9, 9)))
        for i in range(8)
    ]  # fmt: skip
    ranking = rank_concepts(W, y, classes[0], concepts=names)
    ranking = ranking.reset_index(names="concept").assign(**{"class": classes[0]})
    ranking = pd.concat([ranking, ranking.assign(**{"class": classes[1]})], ignore_index=True)
    path = tmp_path / "alike.html"
    write_report(path, results, ranking=ranking, profiles=concept_profiles(W, y, names))
    page = Page(browser, path, width=1280)

    tails = {" " + end for end in ends}
    assert set(_whole_tails(page, "#ranking-table td.cls > .cutname")) == tails
    folders = _whole_tails(page, "#gallery .thumb .cap .dir .cutname")
    assert {f.rstrip("/") for f in folders} == tails
    assert set(_whole_tails(page, ".cards .bar-row > a.concept > .cutname")) == {" A", " B"}
    # the text read or copied is the name, whole, without a break between the parts
    assert set(page.texts("#ranking-table tbody td.cls")) == set(classes)
    assert page.captions()[0] == f"{y[0]}/0.png"
    page.close(artifacts, f"report_names_alike_{ends[0]}")


@pytest.mark.parametrize(
    "l0",
    [
        [7],
        [3] * 7 + [4] * 2 + [5],
        list(range(1, 200)) * 3,
        [9] * 12_345 + [1000] * 2,  # a count of five digits, values of four
    ],
    ids=["one", "small", "wide", "large"],
)
def test_histogram_labels_stay_in_their_box_and_apart(browser, tmp_path, l0):
    """The count axis and the x ends of both histograms: inside the SVG, none over another."""
    rng = np.random.default_rng(0)
    results = [
        ImageResult(f"{i}.png", [("sky", 1.0)], n, float(c))
        for i, (n, c) in enumerate(zip(l0, rng.uniform(0.6, 0.9, len(l0))))
    ]
    path = tmp_path / "hist.html"
    write_report(path, results)
    page = Page(browser, path, width=1000)
    for what in ("l0", "cosine"):
        box, texts, bars = page.page.eval_on_selector(
            f"#hist-{what} svg",
            """svg => {
                const r = e => { const b = e.getBoundingClientRect();
                                 return [b.left, b.top, b.right, b.bottom, e.textContent]; };
                return [r(svg), [...svg.querySelectorAll("text")].map(r),
                        [...svg.querySelectorAll("rect")].map(r)];
            }""",
        )
        labels = [t[4] for t in texts]
        assert "images" in labels and len(texts) >= 4, labels
        for k, (x0, y0, x1, y1, label) in enumerate(texts):
            assert box[0] <= x0 and x1 <= box[2] and box[1] <= y0 and y1 <= box[3], label
            for other in texts[k + 1 :] + bars:
                apart = x1 <= other[0] or other[2] <= x0 or y1 <= other[1] or other[3] <= y0
                assert apart, (label, other[4])
    page.close()


def test_click_a_concept_lists_its_strongest_images(browser, explorer, artifacts):
    path, W, _, results, _ = explorer
    page = Page(browser, path)
    page.page.locator('#ranking-table a.concept[data-concept="sky"]').first.click()
    assert page.page.inner_text("#detail-title") == "sky"
    j = CONCEPTS.index("sky")
    order = [i for i in np.argsort(-W[:, j], kind="stable") if W[i, j] > 0]
    shown = page.page.locator("#concept-images .thumb")
    assert [shown.nth(k).get_attribute("title") for k in range(shown.count())] == [
        results[i].path for i in order
    ]
    assert f"non-zero in {len(order)} of {len(results)} images" in page.page.inner_text("#detail")
    page.close(artifacts, "report_concept")


def test_click_an_image_shows_its_whole_decomposition(browser, explorer, artifacts):
    path, W, _, results, _ = explorer
    page = Page(browser, path)
    i = int(np.argmax((W > 0).sum(axis=1)))
    page.page.locator(f'#gallery .thumb[data-image="{i}"]').click()
    assert page.page.inner_text("#detail-title") == "/".join(Path(results[i].path).parts[-2:])
    names = page.texts("#image-concepts .bar-row a.concept")
    assert names == [name for name, _ in results[i].concepts]
    assert len(names) == int((W[i] > 0).sum()) >= 4
    # one scale for the page: bar width = weight / largest weight of all images
    scale = W.max()
    widths = page.page.eval_on_selector_all(
        "#image-concepts .fill", "els => els.map(e => parseFloat(e.style.width))"
    )
    expected = [100 * w / scale for _, w in results[i].concepts]
    np.testing.assert_allclose(widths, expected, atol=0.06)
    assert page.page.inner_text("#scale") == f"{scale:.3f}"
    # and from there to a concept
    page.page.locator("#image-concepts a.concept").first.click()
    assert page.page.inner_text("#detail-title") == results[i].concepts[0][0]
    page.close(artifacts, "report_image")


def test_gallery_filter_and_skipped_list(browser, explorer):
    path, _, y, _, _ = explorer
    page = Page(browser, path)
    assert page.page.locator("#gallery .thumb").count() == len(y)
    page.page.select_option("#image-class", label="forest")
    captions = page.captions()
    assert len(captions) == int((y == "forest").sum())
    assert all(c.startswith("forest/forest_") for c in captions)
    page.page.fill("#image-search", "forest_1")
    assert page.captions() == [f"forest/forest_{i}.jpg" for i in range(10, 20)]
    skipped = page.page.inner_text("#skipped")
    assert "/data/beach/broken.jpg" in skipped and "cannot identify image file" in skipped
    assert page.page.inner_text("#n-skipped") == "1"
    page.close()


def test_hostile_names_are_shown_as_text(browser, tmp_path, artifacts):
    folder = tmp_path / HOSTILE_CLASS
    folder.mkdir()
    image = folder / HOSTILE_FILE
    Image.new("RGB", (40, 30), (200, 40, 40)).save(image, format="PNG")
    results = [
        ImageResult(
            str(image), [(HOSTILE_CONCEPT, 0.8), ("sky", 0.2)], 2, 0.9, label=HOSTILE_CLASS
        ),
        ImageResult(
            str(tmp_path / "plain.png"),
            [("sky", 0.4)],
            1,
            0.8,
            label="plain",
            thumbnail=thumbnail_data_uri(image),
        ),
    ]
    W = np.array([[0.8, 0.2], [0.0, 0.4]])
    y = np.array([HOSTILE_CLASS, "plain"])
    ranking = rank_concepts(W, y, HOSTILE_CLASS, concepts=[HOSTILE_CONCEPT, "sky"])
    ranking = ranking.reset_index(names="concept")
    ranking.insert(0, "class", HOSTILE_CLASS)
    path = write_report(
        tmp_path / "hostile.html",
        results,
        title=HOSTILE_CONCEPT,
        settings={"vocabulary": HOSTILE_CONCEPT},
        ranking=ranking,
        skipped=[(HOSTILE_FILE, HOSTILE_CLASS)],
    )
    page = Page(browser, path)
    assert page.page.title() == HOSTILE_CONCEPT
    assert page.page.inner_text("h1") == HOSTILE_CONCEPT
    assert HOSTILE_CONCEPT in page.texts(".frequent a.concept")
    assert page.texts("#ranking-table tbody td.cls")[0] == HOSTILE_CLASS
    assert HOSTILE_CONCEPT in _column(page, 1)
    assert page.captions()[0] == f"{HOSTILE_CLASS}/{HOSTILE_FILE}"
    assert HOSTILE_FILE in page.page.inner_text("#skipped")
    page.page.locator("#gallery .thumb").first.click()
    assert page.page.inner_text("#detail-title") == f"{HOSTILE_CLASS}/{HOSTILE_FILE}"
    assert f"class {HOSTILE_CLASS}" in page.page.inner_text("#detail .meta")
    page.page.locator("#image-concepts a.concept").first.click()
    assert page.page.inner_text("#detail-title") == HOSTILE_CONCEPT
    # no injected element ran or exists
    assert page.page.evaluate("window.__pwned") is None
    assert page.page.locator("img[src=x]").count() == 0
    assert page.page.evaluate("document.scripts.length") == 2
    page.close(artifacts, "report_hostile")


@pytest.mark.skipif(os.name == "nt", reason="a backslash separates folders on Windows")
def test_a_backslash_in_a_name_is_part_of_it(browser, tmp_path):
    # The page split paths at backslashes too: a file named with the \xNN escape the
    # outputs write for bytes that are not UTF-8 (caf\xe9.jpg) was captioned "caf/" over
    # "xe9.jpg", and its class folder dropped out; its thumbnail was loaded lazily.
    folder = tmp_path / "b"
    folder.mkdir()
    image = folder / "caf\\xe9 1.png"
    Image.new("RGB", (40, 30), (200, 40, 40)).save(image, format="PNG")
    results = [ImageResult(str(image), [("sky", 0.4)], 1, 0.8, label="b")]
    page = Page(browser, write_report(tmp_path / "names.html", results))
    assert page.captions() == ["b/caf\\xe9 1.png"]
    assert page.page.locator("#gallery .thumb img[loading=lazy]").count() == 0
    page.page.locator("#gallery .thumb").first.click()
    assert page.page.inner_text("#detail-title") == "b/caf\\xe9 1.png"
    page.close()


def test_cli_report_in_chromium(browser, tiny_clip_model, tmp_path, monkeypatch, artifacts, capsys):
    """`sksplice report` on two class folders and a broken file, opened in the browser."""
    from sksplice import cli

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for cls, tint in (("cats", (255, 80, 40)), ("dogs", (40, 80, 255))):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            arr[:18] = np.asarray(tint, dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "dogs" / "broken.png").write_bytes(b"not a png")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(CONCEPTS) + "\n", encoding="utf-8")
    out = tmp_path / "report.html"
    code = cli.main(
        [
            "report",
            str(root),
            "-o",
            str(out),
            "--model",
            tiny_clip_model,
            "--pretrained",
            "none",
            "--vocabulary",
            str(vocab),
            "--l1-penalty",
            "0.05",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    size_kb = round(out.stat().st_size / 1e3)
    assert f"wrote {out} (8 images, {size_kb} kB)" in capsys.readouterr().err
    page = Page(browser, out)
    assert page.page.inner_text("#n-images") == "8"
    assert page.page.inner_text("#n-classes") == "2"
    assert "broken.png" in page.page.inner_text("#skipped")
    assert page.page.locator("#gallery .thumb img").count() == 8
    assert page.page.locator("#ranking-table tbody tr").count() >= 2
    assert set(_column(page, 0)) == {"cats", "dogs"}
    page.page.locator("#gallery .thumb").first.click()
    n_bars = page.page.locator("#image-concepts .bar-row").count()
    l0 = int(re.search(r"(\d+) concepts", page.page.inner_text("#detail .meta")).group(1))
    assert n_bars == l0 >= 1  # every non-zero concept, not a top k
    page.close(artifacts, "report_cli")


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_compare_report_in_chromium(browser, tiny_clip_model, tmp_path, monkeypatch, capsys):
    """`sksplice compare A B --report`: the ranking table shows the comparison's rows."""
    import csv
    import io

    from sksplice import cli

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    rng = np.random.default_rng(1)
    folders = []
    for name, tint in (("summer", (255, 80, 40)), ("winter", (40, 80, 255))):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(5):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            arr[:18] = np.asarray(tint, dtype=np.uint8)
            Image.fromarray(arr).save(folder / f"{i}.png")
        folders.append(str(folder))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(CONCEPTS) + "\n", encoding="utf-8")
    out = tmp_path / "compare.html"
    model = ["--model", tiny_clip_model, "--pretrained", "none", "--vocabulary", str(vocab)]
    args = [*model, "--l1-penalty", "0.05", "--device", "cpu", "-f", "csv", "--quiet"]
    code = cli.main(["compare", *folders, *args, "--report", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    expected = list(csv.DictReader(io.StringIO(captured.out)))
    assert expected
    page = Page(browser, out)
    headers = page.texts("#ranking-table th")
    # one comparison: no column repeating "A vs B"; the heading names the folders
    assert headers[:4] == ["Concept", "In A", "In B", "Difference (B - A)"]
    heading = page.page.inner_text("#ranking h2")
    assert f"A ({folders[0]})" in heading and f"B ({folders[1]})" in heading
    assert page.page.inner_text("#n-classes") == "2"
    assert page.page.locator("#ranking-table tbody tr").count() == len(expected)
    assert _column(page, 0) == [row["concept"] for row in expected]
    # every p-value of Fisher's exact test, which the text names: no Test column
    assert {row["test"] for row in expected} == {"fisher"} and "Test" not in headers
    assert "Test: Fisher's exact test" in page.page.inner_text("#ranking p")
    # every column is in view: the table is no wider than its frame
    wrap = page.page.locator("#ranking .table-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    shown = [_num(t) for t in _column(page, 1)]
    assert shown == pytest.approx([100 * float(row["prevalence_a"]) for row in expected], abs=0.06)
    n_sig = sum(row["significant"] == "True" for row in expected)
    assert page.page.locator("#ranking-table tbody tr.sig").count() == n_sig
    # the search box searches the concepts, not the "A vs B" every row holds unseen
    page.page.fill("#ranking-search", "summer")  # (a folder's name, no concept's)
    assert page.page.locator("#ranking-table tbody tr").all_inner_texts() == [
        "No row matches \u201csummer\u201d"
    ]
    page.page.fill("#ranking-search", "sa")
    assert _column(page, 0) == [row["concept"] for row in expected if "sa" in row["concept"]]
    page.close()


def _example():
    import importlib.util

    from .conftest import REPO_ROOT

    path = REPO_ROOT / "docs" / "examples" / "report_explorer.py"
    spec = importlib.util.spec_from_file_location("report_explorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_example_builds_and_photographs_the_explorer(browser, laion_minilm, minilm, tmp_path):
    example = _example()
    concepts, raw = laion_minilm
    html = example.build(
        tmp_path / "report.html", embedder=minilm, concepts=concepts, concept_embeddings=raw
    )
    page = Page(browser, html)
    page.page.check("#ranking-significant")
    # the planted concept is among the significant rows of its class
    assert ("woman", "bikini") in zip(_column(page, 0), _column(page, 1))
    page.page.locator('#ranking-table a.concept[data-concept="bikini"]').first.click()
    assert page.page.inner_text("#detail-title") == "bikini"
    assert page.page.locator("#concept-images .thumb").count() >= 30
    page.close()
    shots = example.screenshot(html, tmp_path, browser=browser)
    for shot in shots:
        with Image.open(shot) as img:
            assert img.size == (1400, 900)
            # not a blank page: many distinct colours
            assert len(img.convert("RGB").getcolors(maxcolors=1 << 20)) > 100


def test_size_and_load_measurement_runs(browser, tmp_path):
    result = _example().measure(40, tmp_path, repeats=1, browser=browser)
    html = tmp_path / "report_40.html"
    assert result["images"] == 40 and result["file_bytes"] == html.stat().st_size
    assert 0 < result["script_ready_s_median"] <= result["load_s_median"] < 60
    data = json.loads(
        re.search(r'type="application/json">(.*?)</script>', html.read_text(), re.S).group(1)
    )
    assert len(data["images"]) == 40 and len(data["rankClasses"]) == 10
    # the sizes the CLI page quotes: the parts of the embedded data
    assert result["ranking_rows"] == len(data["ranking"]) and result["ranking_fields"] == 12
    assert result["profile_concepts"] == len(data["prevalence"]) > 0
    thumbnails = sum(len(image["t"]) for image in data["images"])  # (ASCII data URIs)
    assert result["thumbnails_bytes"] == thumbnails
    assert result["thumbnail_bytes_mean"] == round(thumbnails / 40)
    parts = ("thumbnails_bytes", "weights_bytes", "ranking_bytes", "profiles_bytes")
    assert all(result[k] > 0 for k in parts)
    assert sum(result[k] for k in parts) < result["file_bytes"]


def test_a_long_folder_name_leaves_each_file_name_in_view(browser, tmp_path):
    # the caption was "folder/file" cut at two lines: under a long folder name every
    # caption read the same ("dogs photographed b...")
    from sksplice.report import ImageResult, write_report

    folder = "dogs photographed by a very long class name"
    results = [
        ImageResult(f"/data/{folder}/dog_{i:03d}.jpg", [("dog", 1.0)], 1, 0.9, thumbnail=None)
        for i in range(4)
    ]
    path = write_report(tmp_path / "r.html", results)
    page = Page(browser, path)
    files = page.texts("#gallery .thumb .cap .file")
    assert files == [f"dog_{i:03d}.jpg" for i in range(4)]
    for i in range(4):  # the file line is whole on the page, not cut
        box = page.page.locator("#gallery .thumb .cap .file").nth(i)
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.captions()[0] == f"{folder}/dog_000.jpg"
    page.close()


def test_a_report_without_any_weight_loads_without_errors(browser, tmp_path):
    from sksplice.report import ImageResult, write_report

    results = [ImageResult(f"{i}.png", [], 0, 0.0, thumbnail=None) for i in range(3)]
    page = Page(browser, write_report(tmp_path / "r.html", results))
    assert page.texts(".scale-note") == ["No image has a concept with a non-zero weight."]
    page.close()  # (asserts no script error)


def test_shares_show_their_counts_and_an_underflowed_p_value_a_bound(browser, tmp_path):
    n = 2000
    W = np.zeros((2 * n + 2, 2))
    W[:n, 0] = 1.0  # lake: every water image, no land image (p underflows to 0)
    W[2 * n :, 1] = 1.0  # ice: 2 of 2 penguins
    y = np.array(["water"] * n + ["land"] * n + ["penguin"] * 2)
    ranking = rank_concepts(W, y, "water", "land", concepts=["lake", "ice"])
    assert ranking.loc["lake", "p_adjusted"] == 0.0
    page = Page(browser, write_report(tmp_path / "r.html", [], ranking=ranking))
    row = page.page.locator("#ranking-table tbody tr").first
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "lake"
    assert [" ".join(c.split()) for c in cells[1:3]] == ["100.0% 2000/2000", "0.0% 0/2000"]
    assert cells[4] == "<1e-300"
    page.close()


def test_a_share_that_is_neither_none_nor_all_reads_neither(browser, tmp_path):
    # 1 of 30,000 images read "0.0%" and 29,999 of 30,000 "100.0%" (also in the
    # difference column)
    n = 30000
    W = np.zeros((2 * n, 2))
    W[: n - 1, 0] = 1.0  # lake: 2,999 of the water images
    W[n, 1] = 1.0  # ice: 1 of the land images
    y = np.array(["water"] * n + ["land"] * n)
    ranking = rank_concepts(
        W, y, "water", "land", concepts=["lake", "ice"], alternative="two-sided"
    )
    page = Page(browser, write_report(tmp_path / "r.html", [], ranking=ranking))
    shares = {}
    for row in page.page.locator("#ranking-table tbody tr").all():
        cells = [" ".join(c.split()) for c in row.locator("td").all_inner_texts()]
        shares[cells[0]] = cells[1:4]
    assert shares == {
        "lake": ["99.997% 29999/30000", "0.0% 0/30000", "+99.997 pp"],
        "ice": ["0.0% 0/30000", "0.003% 1/30000", "-0.003 pp"],
    }
    page.close()


def test_the_shares_read_as_the_command_line_table_rounds_them(browser, tmp_path):
    # The page rounded shares that the data held rounded to 4 decimals: 34 of 74
    # (45.946%) read "46.0%" beside the table's "45.9%"; and toFixed rounds a value
    # exactly halfway up, 1 of 16 (6.25%) to "6.3%", where Python's format writes "6.2%".
    W = np.zeros((90, 3))
    W[:34, 0] = 1.0  # sea: 34 of the 74 coast images, 1 of the 16 others
    W[74, 0] = 1.0
    W[:3, 1] = 1.0  # sky: 3 of 74, none of 16
    W[74:77, 2] = 1.0  # sand: 0 of 74, 3 of 16 (18.75%)
    W[:20, 2] = 1.0  # and 20 of 74
    y = np.array(["coast"] * 74 + ["rest"] * 16)
    ranking = rank_concepts(
        W, y, "coast", "rest", concepts=["sea", "sky", "sand"], alternative="two-sided"
    )
    page = Page(browser, write_report(tmp_path / "r.html", [], ranking=ranking))
    shown = {}
    for row in page.page.locator("#ranking-table tbody tr").all():
        cells = [" ".join(c.split()) for c in row.locator("td").all_inner_texts()]
        shown[cells[0]] = cells[1:4]
    expected = {}
    for concept, r in ranking.iterrows():
        expected[concept] = [
            f"{r.prevalence_positive:.1%} {r.count_positive}/74",
            f"{r.prevalence_negative:.1%} {r.count_negative}/16",
            f"{100 * r.prevalence_diff:+.1f} pp",
        ]
    assert shown == expected
    # (the cases themselves: what the data's 4 decimals and toFixed made of them)
    assert shown["sea"][0] == "45.9% 34/74" and shown["sea"][1] == "6.2% 1/16"
    assert shown["sky"][0] == "4.1% 3/74" and shown["sand"][1] == "18.8% 3/16"
    assert not page.errors
    page.close()


def test_a_significant_p_value_reads_below_the_level(browser, tmp_path):
    # 0.0496 on a significant row read "0.050" under "adjusted p < 0.05"
    ranking = pd.DataFrame(
        {
            "prevalence_positive": [0.9, 0.8, 0.7],
            "prevalence_negative": [0.1, 0.2, 0.3],
            "prevalence_diff": [0.8, 0.6, 0.4],
            "test": ["fisher"] * 3,
            "p_adjusted": [0.0496, 0.012, 0.0504],
            "significant": [True, True, False],
        },
        index=pd.Index(["sea", "sky", "sand"], name="concept"),
    )
    ranking.attrs.update(alpha=0.05, positive="coast", negative="rest")
    page = Page(browser, write_report(tmp_path / "r.html", [], ranking=ranking))
    shown = {}
    for row in page.page.locator("#ranking-table tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown[cells[-6]] = cells[-2]  # (concept ... p adjusted, significant)
    assert shown == {"sea": "0.0496", "sky": "0.012", "sand": "0.050"}
    page.close()


@pytest.mark.parametrize("width", [1400, 420])
def test_enter_on_a_concept_moves_the_focus_to_the_panel_and_back(browser, explorer, width):
    """The panel a link fills is one key press away, not hundreds, and so is the way back."""
    path, W, _, _, _ = explorer
    page = Page(browser, path, width=width)
    p = page.page
    link = p.locator('#ranking-table a.concept[data-concept="sky"]').first
    link.focus()
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.id") == "detail-title"
    # the panel is not read out whole on every change: a short status is
    assert p.get_attribute("#detail", "aria-live") is None
    assert p.get_attribute("#detail-status", "role") == "status"
    assert p.inner_text("#detail-title") == "sky"
    assert p.get_attribute("#detail-title", "tabindex") == "-1"
    n = int((W[:, CONCEPTS.index("sky")] > 0).sum())
    assert p.inner_text("#detail-status") == f"Showing concept \u201csky\u201d: {n} images"
    # the focused heading is on screen (at 420 px the panel is below the page's sections)
    top, bottom = p.evaluate(
        "(() => { const r = document.activeElement.getBoundingClientRect();"
        " return [r.top, r.bottom]; })()"
    )
    assert top >= 0 and bottom <= 1000
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.textContent") == "Back to the ranking table"
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.dataset.concept") == "sky"
    assert p.evaluate("!!document.activeElement.closest('#ranking-table')")
    # from a thumbnail: Escape in the panel goes back too
    thumb = p.locator('#gallery .thumb[data-image="3"]')
    thumb.focus()
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.id") == "detail-title"
    assert p.inner_text("#detail-status").startswith("Showing image \u201cbeach/beach_03.jpg\u201d")
    p.keyboard.press("Escape")
    assert p.evaluate("document.activeElement.dataset.image") == "3"
    page.close()


def test_a_click_fills_the_panel_without_moving_the_page_focus_elsewhere(browser, explorer):
    # a click on a concept in the panel keeps the way back to where the panel was opened
    path = explorer[0]
    page = Page(browser, path)
    p = page.page
    p.locator('#gallery .thumb[data-image="0"]').click()
    assert p.inner_text("#detail button.back") == "Back to the images"
    p.locator("#image-concepts a.concept").first.click()
    assert p.evaluate("document.activeElement.id") == "detail-title"
    p.locator("#detail button.back").click()
    assert p.evaluate("document.activeElement.dataset.image") == "0"
    page.close()


def test_images_whose_folder_and_file_read_alike_are_told_apart(browser, tmp_path, artifacts):
    # data/A/sub/nested.jpg and data/B/sub/nested.jpg were both captioned "sub/ nested.jpg"
    # (and named so for a screen reader, and in the panel's title): each is shown with
    # as many of its folders as tell it from the others; the rest keep folder and file.
    results = []
    for cls in ("A", "B"):
        for name in ("sub/nested.jpg", "a_0.jpg"):
            image = tmp_path / "data" / cls / name
            image.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (40, 30), (40, 200, 40)).save(image, format="JPEG")
            results.append(ImageResult(str(image), [("sky", 0.4)], 1, 0.8, label=cls))
    page = Page(browser, write_report(tmp_path / "alike.html", results))
    assert page.captions() == ["A/sub/nested.jpg", "A/a_0.jpg", "B/sub/nested.jpg", "B/a_0.jpg"]
    page.page.locator("#gallery .thumb").nth(2).click()
    assert page.page.inner_text("#detail-title") == "B/sub/nested.jpg"
    page.close(artifacts, "alike-names")


def test_each_thumbnail_has_one_accessible_name(browser, explorer):
    """The file name once (not the picture's alt text and then the caption again)."""
    path = explorer[0]
    page = Page(browser, path)
    p = page.page
    first = p.locator("#gallery .thumb").first

    def name(thumb) -> str:  # the accessible name, as a screen reader gets it
        snapshot = thumb.aria_snapshot()
        assert 'img "' not in snapshot, snapshot  # (no named picture inside)
        return re.match(r'- button "(.*)"', snapshot).group(1)

    assert name(first) == "beach/beach_00.jpg"
    p.locator('#ranking-table a.concept[data-concept="sea"]').first.click()
    shown = name(p.locator("#concept-images .thumb").first)
    assert re.fullmatch(r"beach/beach_\d\d\.jpg, weight \d\.\d{3}", shown), shown
    page.close()


def test_a_64_character_class_name_does_not_widen_a_narrow_page(browser, tmp_path, artifacts):
    long = "a_very_long_class_folder_name_with_many_words_in_it_for_testing_"
    assert len(long) == 64
    y = np.array([long] * 4 + ["short"] * 4)
    W = np.zeros((8, len(CONCEPTS)))
    W[:4, 0], W[4:, 1] = 1.0, 1.0
    results = [
        ImageResult(f"/d/{y[i]}/{i}.png", [(CONCEPTS[i // 4], 1.0)], 1, 0.5, label=str(y[i]))
        for i in range(8)
    ]
    path = tmp_path / "long.html"
    write_report(path, results, profiles=concept_profiles(W, y, CONCEPTS))
    page = Page(browser, path, width=420)
    p = page.page
    assert p.evaluate("document.documentElement.scrollWidth") <= 420
    # each class heading wraps inside its card, whole and over no other
    for h3 in p.locator(".profile h3").all():
        inside = h3.evaluate(
            """h => { const r = h.getBoundingClientRect(),
                             c = h.parentElement.getBoundingClientRect();
                      return h.scrollWidth <= h.clientWidth && r.right <= c.right; }"""
        )
        assert inside, h3.inner_text()
    heading = p.locator(".profile h3", has_text="a_very_long").first
    assert heading.get_attribute("title") == f"{long} (n=4)"
    assert heading.inner_text().replace("\n", "") == f"{long} (n=4)"
    # the class list is no wider than the page; the whole name is its tooltip
    select = p.locator("#image-class")
    assert select.evaluate("e => e.getBoundingClientRect().right") <= 420
    p.select_option("#image-class", label=long)
    assert select.get_attribute("title") == long
    page.close(artifacts, "report_long_class_420")


def test_a_long_class_name_in_the_sentence_of_classes_not_differing_wraps(browser, tmp_path):
    # the bold sentence naming the classes that do not differ from the rest widened a
    # 390 px page to 759 px with a class name of no spaces
    long = "a_really_long_class_name_that_goes_on_and_on_without_any_spaces_at_all_for_layout"
    y = np.array([long] * 6 + ["short"] * 6)
    W = np.tile(np.eye(len(CONCEPTS))[:2], (6, 1))  # (the same concepts in both classes)
    results = [
        ImageResult(f"/d/{i}.png", [(CONCEPTS[i % 2], 1.0)], 1, 0.5, label=str(y[i]))
        for i in range(12)
    ]
    ranking = rank_each_class(W, y, CONCEPTS)
    assert ranking.attrs["n_classes_differing"] == 0
    path = tmp_path / "long_sentence.html"
    write_report(path, results, profiles=concept_profiles(W, y, CONCEPTS), ranking=ranking)
    page = Page(browser, path, width=390)
    p = page.page
    sentence = p.locator("#ranking strong.untestable")
    assert long in sentence.inner_text().replace("\n", "")
    assert "(6 images, adjusted p " in sentence.inner_text()
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    assert sentence.evaluate("e => e.getBoundingClientRect().right") <= 390
    # "significant only" of a ranking without one: a row says so (the table was empty
    # under its headers); a search matching nothing alike
    p.check("#ranking-significant")
    rows = p.locator("#ranking-table tbody tr")
    assert rows.count() == 1 and rows.first.inner_text().strip() == "No row is significant"
    columns = p.locator("#ranking-table thead th").count()
    assert rows.first.locator("td").get_attribute("colspan") == str(columns)
    p.uncheck("#ranking-significant")
    p.fill("#ranking-search", "zzz")
    assert rows.count() == 1 and rows.first.inner_text().strip() == "No row matches \u201czzz\u201d"
    p.fill("#ranking-search", "")
    assert rows.count() > 1 and not rows.locator("td.empty").count()
    page.close()


def test_a_phone_wide_window_shows_the_summary_without_scrolling_sideways(browser, tmp_path):
    # the histograms (drawn 340 px wide) ran past a 380 px window; the skipped images' names
    # broke every few letters beside a wide reason
    results = [
        ImageResult(f"/d/{i}.png", [(CONCEPTS[i % 3], 0.5)], 1, 0.5 + i / 100) for i in range(8)
    ]
    path = tmp_path / "narrow.html"
    write_report(path, results, skipped=[("photos/corrupt.jpg", "'photos/corrupt.jpg' truncated")])
    page = Page(browser, path, width=360)
    p = page.page
    assert p.evaluate("document.documentElement.scrollWidth") <= 360
    for figure in p.locator("figure.hist").all():
        assert figure.evaluate("e => e.getBoundingClientRect().right") <= 360
    assert p.locator("#skipped td.path").inner_text() == "photos/corrupt.jpg"
    assert p.locator("#skipped td.path").evaluate("e => e.getBoundingClientRect().height") < 40
    page.close()


def test_a_table_wider_than_its_box_shows_a_shadow_where_columns_lie_beyond(browser, tmp_path):
    # At 420 px the ranking's p-value and significance columns lay beyond the box's right
    # edge with nothing to say so; a shadow now marks an edge with more columns beyond it.
    import io

    rng = np.random.default_rng(0)
    names = [f"concept {j}" for j in range(30)]
    W = rng.random((60, 30)) * (rng.random((60, 30)) < 0.5)  # (no difference: no highlight)
    y = np.tile(["coast", "forest"], 30)
    ranking = rank_each_class(W, y, names)
    results = [ImageResult(f"/d/{i}.png", [], 0, 0.5, label=str(y[i])) for i in range(60)]
    path = tmp_path / "wide.html"
    write_report(path, results, ranking=ranking, profiles=concept_profiles(W, y, names))

    def edges(page: Page) -> tuple[int, int]:
        # the grey of the box's left and right edges, at the height of the first row
        box = page.page.locator("#ranking .table-wrap")
        shot = Image.open(io.BytesIO(box.screenshot())).convert("L")
        # (the lightest pixel of a column 4 px inside each edge, below the header: the
        # cells' padding there holds no text, only the rows' borders)
        rows = range(40, shot.height - 10)
        return (
            max(shot.getpixel((4, r)) for r in rows),
            max(shot.getpixel((shot.width - 5, r)) for r in rows),
        )

    narrow = Page(browser, path, width=420)
    box = narrow.page.locator("#ranking .table-wrap")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # (the case at hand)
    left, right = edges(narrow)
    assert left == 255 and right < 248  # (more columns to the right)
    narrow.page.locator("#ranking .table-wrap").evaluate("e => e.scrollLeft = e.scrollWidth")
    left, right = edges(narrow)
    assert left < 248 and right == 255  # (scrolled to the end: the columns are to the left)
    narrow.close()
    wide = Page(browser, path, width=1400)
    assert edges(wide) == (255, 255)  # (the whole table in view: no shadow)
    wide.close()


def _scrolled_to(section) -> bool:
    """Whether the page of ``section`` (a locator) shows it at its top, or is scrolled as
    far down as it goes (a section near the end cannot reach the top)."""
    return section.evaluate(
        "e => { const top = e.getBoundingClientRect().top; const d = document.scrollingElement;"
        " return (-2 < top && top < 10) || (top > 0 && d.scrollTop > 0"
        " && d.scrollTop >= d.scrollHeight - d.clientHeight - 1); }"
    )


def test_the_links_of_the_header_go_to_their_sections(browser, explorer):
    path, *_ = explorer
    page = Page(browser, path, height=700)
    for section in ("ranking", "images", "summary"):
        page.page.locator(f'header nav a[href="#{section}"]').click()
        assert _scrolled_to(page.page.locator(f"#{section}")), section
        assert page.page.evaluate("location.hash") == f"#{section}"  # (an address to share)
    page.close()


def test_a_page_shown_in_a_notebook_keeps_its_style_and_script_in_its_frame(
    browser, explorer, tmp_path, artifacts
):
    # Shown inline as IPython's HTML(page), the report's stylesheet restyled the whole
    # notebook: every DataFrame above it stretched to full width, its titles cut. The page
    # displays itself in a frame (its _repr_html_), where it works as the file does.
    from sksplice.report import ReportPage, render_report

    *_, results, ranking = explorer
    page = render_report(results, ranking=ranking)
    assert isinstance(page, ReportPage) and isinstance(page, str)
    assert str(page).startswith("<!DOCTYPE html>")  # (the text, as before, for files)
    # (IPython's plain text of it, kept by a notebook beside the frame: not the whole page)
    said: list[str] = []
    page._repr_pretty_(type("Printer", (), {"text": lambda self, text: said.append(text)})(), False)
    assert said == [
        f"<sksplice report page: {len(page):,} characters of HTML; shown in a frame where "
        "HTML is shown, str(page) is its text>"
    ]
    notebook = tmp_path / "notebook.html"
    notebook.write_text(
        "<!DOCTYPE html><html><body>"
        '<table id="frame-above"><tr><th>concept</th><th>weight</th></tr>'
        "<tr><td>sea</td><td>0.5</td></tr></table>"
        f"{page._repr_html_()}"
        '<table id="frame-below"><tr><td>x</td></tr></table>'
        "</body></html>",
        encoding="utf-8",
    )
    tab = browser.new_page(viewport={"width": 1400, "height": 1200})
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(notebook.as_uri())
    frame = tab.frame_locator("iframe")
    frame.locator("body[data-ready]").wait_for(timeout=30_000)
    # the page's script ran inside the frame (its sortable columns and its rows)
    assert frame.locator("#ranking-table th > button.sort").count() >= 5
    assert frame.locator("#ranking-table tbody tr").count() > 0
    # and the notebook's own tables kept their width and their padding
    for table in ("#frame-above", "#frame-below"):
        width = tab.evaluate(f"document.querySelector('{table}').getBoundingClientRect().width")
        assert width < 400, (table, width)
    padding = tab.evaluate(
        "getComputedStyle(document.querySelector('#frame-above td')).paddingLeft"
    )
    assert padding == "1px", padding  # (the browser's default, not the report's 0.5rem)
    frame_height = tab.evaluate("document.querySelector('iframe').getBoundingClientRect().height")
    assert abs(frame_height - page.frame_height) <= 2, frame_height
    # the links of its header scroll the frame to their section (in a frame of srcdoc,
    # whose address is the host page's, "#ranking" loaded the host page into the frame)
    for section in ("ranking", "images", "summary"):
        frame.locator(f'header nav a[href="#{section}"]').click()
        assert frame.locator("#ranking-table").count() == 1  # (still the report)
        assert _scrolled_to(frame.locator(f"#{section}")), section
    assert tab.url == notebook.as_uri()
    assert errors == []
    tab.screenshot(path=str(artifacts / "report_in_a_notebook.png"), full_page=True)
    tab.close()


def test_the_panel_writes_an_intervals_ends_as_the_class_cards_do(browser):
    # The concept panel (report.js's bound, on the ends the page's data hold) and the
    # class cards' tooltips (report._bound_text, on the exact ends) write one interval
    # alike: rounded away from its inside, with the digits an end near 0 or 1 needs.
    import sksplice.report
    from sksplice._proportions import prevalence_interval
    from sksplice.report import _bound_text, _written_end

    folder = Path(sksplice.report.__file__).parent / "templates"
    script = (folder / "report.js").read_text("utf-8")
    bound = re.search(r"  const bound = \(v, up\) => \{.*?\n  \};", script, re.S).group(0)
    pairs = [(c, m) for m in (1, 2, 3, 7, 40, 399, 1000, 2000, 10**6)
             for c in sorted({0, 1, 2, m // 2, m - 1, m}) if c <= m]  # fmt: skip
    low, high = prevalence_interval(*np.array(pairs).T)
    data = [[_written_end(lo, up=False), _written_end(hi, up=True)] for lo, hi in zip(low, high)]
    tab = browser.new_page()
    try:
        written = tab.evaluate(
            f"(ends) => {{ {bound.strip()} return ends.map(([a, b]) => [bound(a, false), "
            "bound(b, true)]); }",
            data,
        )
    finally:
        tab.close()
    expected = [[_bound_text(lo, up=False), _bound_text(hi, up=True)] for lo, hi in zip(low, high)]
    assert written == expected
    assert ["0.002%", "0.6%"] in written  # (1 of 1,000: not "0%")


def test_a_page_of_rows_counts_rows_in_what_its_script_writes(browser, tmp_path, artifacts):
    # the gallery's count, a concept's panel and what the status line announces: rows of
    # embeddings computed already, not images
    from sksplice.analysis import concept_profiles
    from sksplice.report import ImageResult, write_report

    W = np.array([[0.4, 0.0], [0.2, 0.1], [0.0, 0.3]])
    results = [
        ImageResult(f"x.npy:{i}", [(c, float(w)) for c, w in zip("ab", W[i]) if w],
                    int((W[i] > 0).sum()), 0.8, label=k, thumbnail="")
        for i, k in enumerate("ppq")
    ]  # fmt: skip
    profiles = concept_profiles(W, list("ppq"), ["a", "b"])
    page = Page(browser, write_report(tmp_path / "rows.html", results, profiles=profiles,
                                      unit="row"))  # fmt: skip
    assert page.texts("nav a")[-1] == "Rows"
    assert page.page.inner_text("#image-count") == "3 rows"
    # (each row by its name: no grey "no preview" box for each, which pages of images keep
    # for an image that could not be read)
    tiles = page.page.locator("#gallery .thumb")
    assert tiles.count() == 3 and page.page.locator("#gallery .noimg").count() == 0
    assert all("bare" in (tiles.nth(i).get_attribute("class") or "") for i in range(3))
    page.page.fill("#image-search", "x.npy:1")
    assert page.page.inner_text("#image-count") == "1 row (3 in all)"
    page.page.fill("#image-search", "")
    page.page.locator('.frequent a.concept[data-concept="a"]').click()
    detail = page.page.inner_text("#detail")
    assert "non-zero in 2 of 3 rows" in detail and "Rows where it is strongest" in detail
    assert (
        page.page.locator("#detail .prevalence .bar-row").first.get_attribute("title")
        == "all rows (n=3): 2 of 3 rows, 95% interval 9.4% to 99.2%"
    )
    status = page.page.inner_text("#detail-status")
    assert status.startswith("Showing concept \u201ca\u201d: 2 rows"), status
    # an interval's ends rounded away from its inside (1 of 2 is 1.26% to 98.74%: "1.3%
    # to 98.7%", rounded to the nearest, is narrower than the interval that covers 95%)
    page.page.locator('.frequent a.concept[data-concept="b"]').click()
    titles = page.page.locator("#detail .prevalence .bar-row").evaluate_all(
        "rows => rows.map(r => r.title)"
    )
    assert "p (n=2): 1 of 2 rows, 95% interval 1.2% to 98.8%" in titles, titles
    page.page.locator('.frequent a.concept[data-concept="a"]').click()
    page.page.locator('#gallery .thumb[data-image="2"]').click()
    assert page.page.inner_text("#detail-status").startswith("Showing row \u201cx.npy:2\u201d")
    assert "image" not in page.page.inner_text("body").lower()
    page.close(artifacts, "report_rows")
    # (a page of images without their pictures keeps the box that says so)
    images = Page(browser, write_report(tmp_path / "images.html", results, profiles=profiles))
    assert images.page.locator("#gallery .noimg").all_inner_texts() == ["no preview"] * 3
    images.close()


# The characters of an element as drawn: those inside every box that clips them (one
# "…" for each run of characters cut off), as a reader sees the name.
_SHOWN = """root => {
  const clipped = (n) => { const boxes = [];
    for (let e = n.parentElement; e; e = e.parentElement) {
      if (getComputedStyle(e).overflowX !== 'visible') boxes.push(e.getBoundingClientRect());
      if (e === root.closest('td, .bar-row, .thumb') || e === document.body) break; }
    return boxes; };
  let out = '', cut = false;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const boxes = clipped(n), r = document.createRange(), s = n.textContent;
    for (let i = 0; i < s.length; i++) {
      r.setStart(n, i); r.setEnd(n, i + 1); const b = r.getBoundingClientRect();
      const seen = b.width > 0 &&
        boxes.every(c => b.left >= c.left - 0.5 && b.right <= c.right + 0.5);
      if (seen) { out += s[i]; cut = false; } else if (!cut) { out += '\u2026'; cut = true; } } }
  return out; }"""


def _shown(page: Page, selector: str) -> list[str]:
    return page.page.eval_on_selector_all(selector, f"els => els.map({_SHOWN})")


def _report_of_classes(tmp_path, classes, concepts, n_per=6, name="classes.html", **kwargs):
    """A report of ``n_per`` rows per class, each class holding its own concept (the
    class's index) in every row and the shared ones at random: (path, ranking)."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.array(classes, dtype=object), n_per)
    W = (rng.random((len(y), len(concepts))) < 0.3) * rng.random((len(y), len(concepts)))
    for k in range(len(classes)):
        W[k * n_per : (k + 1) * n_per, k] = 0.8
    W = W.round(3)
    results = []
    for i in range(len(y)):
        nz = np.flatnonzero(W[i])
        results.append(
            ImageResult(
                f"/d/{y[i]}/{i:03d}.png",
                [(concepts[j], float(W[i, j])) for j in nz[np.argsort(-W[i, nz])]],
                int(nz.size),
                0.8,
                label=str(y[i]),
                thumbnail=_thumb((9, 9, 9)),
            )
        )
    ranking = rank_each_class(W, y, concepts)
    path = write_report(
        tmp_path / name,
        results,
        ranking=ranking,
        profiles=concept_profiles(W, y, concepts, drop_empty=True),
        **kwargs,
    )
    return path, ranking


@pytest.mark.filterwarnings("ignore::sksplice.analysis.TooFewSamplesWarning")
@pytest.mark.parametrize("width", [1280, 390])
def test_names_sharing_their_ending_read_apart_where_they_differ(browser, tmp_path, width):
    # Class names sharing a long ending all read "ca… collection)" (car and cat alike) or
    # "c…xxxxxxxxxxxx" (every class alike) in an 8em column of a table with room to
    # spare; so did the thumbnails' folder lines and long concepts beside their bars.
    # Each is now cut where it differs from the others, and shown whole where it fits.
    words = ["car", "cat", "cart", "dog", "locomotive", "sailboat"]
    suffix = " (training split, 2024 collection)"
    split = [w + suffix for w in words]
    xs = [f"class_{k}_with_a_rather_long_label_name_xxxxxxxxxxxxxxxxxxxx" for k in range(6)]
    stock = " photographed in natural light for a stock catalogue"
    concepts = [w + stock for w in ("cat", "dog", "cart", "car", "bus", "boat")] + ["sky"]
    short = ["sky", "sea", "sand", "tree", "road", "snow", "cloud"]
    cases = ((split, words, short), (xs, [f"_{k}_" for k in range(6)], concepts))
    for classes, tells, names in cases:
        path, _ = _report_of_classes(tmp_path, classes, names)
        page = Page(browser, path, width=width)
        cells = "#ranking-table tbody td.cls"
        titles = page.page.eval_on_selector_all(cells, "els => els.map(e => e.title)")
        shown = dict(zip(titles, _shown(page, cells)))
        assert set(shown) == set(classes)
        assert len(set(shown.values())) == len(classes), shown  # (none reads as another)
        for full, tell in zip(classes, tells):
            assert tell in shown[full], shown  # (the part that tells it apart, in view)
        if width == 1280 and classes is split:  # (the room the table has: not 8em)
            assert all(len(shown[c]) >= 28 for c in classes), shown
        # every column stays in view on a wide page
        if width == 1280:
            wrap = page.page.locator("#ranking .table-wrap")
            assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
        # the names whole without a tooltip: below the table
        legend = page.page.inner_text("#ranking-names")
        assert all(c in legend for c in classes), legend
        folders = _shown(page, "#gallery .thumb .cap .dir")
        assert len(set(folders)) == len(classes), folders
        assert all(any(t in f for f in folders) for t in tells), folders
        if names is short:
            page.close()
            continue
        bars = page.page.locator(".frequent .bar-row a.concept")
        labels = dict(zip(bars.evaluate_all("els => els.map(e => e.title)"),
                          _shown(page, ".frequent .bar-row a.concept")))  # fmt: skip
        long = {c: s for c, s in labels.items() if c != "sky"}
        assert len(long) >= 4 and len(set(long.values())) == len(long), labels
        for c, s in long.items():
            assert s.startswith(c.split()[0] + " "), labels
        page.close()


@pytest.mark.filterwarnings("ignore::sksplice.analysis.TooFewSamplesWarning")
def test_the_ranking_opens_with_the_significant_rows_first(browser, tmp_path):
    # In label order the table opened with the rows of a class of one row (each at
    # 100%, none significant), and the second class's significant rows hundreds of rows
    # down; it now opens with the significant rows, by p-value, and those of classes in
    # which nothing can be significant last.
    concepts = [f"concept {j}" for j in range(40)]
    classes = ["a lone one", "beach", "forest", "mountain"]
    rng = np.random.default_rng(5)
    y = np.array(["a lone one"] + ["beach"] * 12 + ["forest"] * 12 + ["mountain"] * 12)
    W = (rng.random((len(y), 40)) < 0.3) * 0.5
    W[0, :] = 0.5  # (every concept in the one row: 100%, and never significant)
    for k, cls in enumerate(classes[1:]):
        W[y == cls, 1 + 3 * k : 4 + 3 * k] = 0.9
    results = [ImageResult(f"/d/{y[i]}/{i}.png", [], 0, 0.5, label=str(y[i]))
               for i in range(len(y))]  # fmt: skip
    ranking = rank_each_class(W, y, concepts)
    path = write_report(tmp_path / "order.html", results, ranking=ranking,
                        profiles=concept_profiles(W, y, concepts))  # fmt: skip
    page = Page(browser, path, width=1280)
    rows = page.page.eval_on_selector_all(
        "#ranking-table tbody tr",
        "trs => trs.map(tr => [tr.cells[0].title, tr.classList.contains('sig'),"
        " tr.cells[5].textContent])",
    )
    n_sig = int(ranking["significant"].sum())
    assert n_sig >= 6 and [r[1] for r in rows[:n_sig]] == [True] * n_sig
    p = [float(r[2]) for r in rows[:n_sig]]
    assert p == sorted(p)
    # each class with a significant row shows one within the first rows
    for cls in classes[1:]:
        assert next(i for i, r in enumerate(rows) if r[0] == cls and r[1]) < n_sig
    lone = [i for i, r in enumerate(rows) if r[0] == "a lone one"]
    assert lone and min(lone) == len(rows) - len(lone)  # (its rows last)
    assert "opens with the significant rows first" in page.page.inner_text("#ranking p.muted")
    # the column titles still sort
    page.page.locator("#ranking-table th", has_text="Difference").click()
    values = [_num(t) for t in _column(page, 4)]
    assert values == sorted(values)
    page.close()


@pytest.mark.filterwarnings("ignore::sksplice.analysis.TooFewSamplesWarning")
@pytest.mark.parametrize("width", [1280, 390])
def test_a_concepts_panel_of_many_classes_keeps_its_images_near(browser, tmp_path, width):
    # 40 classes of 80-character names: the prevalence list held all 40 in label order,
    # each name wrapped to 5 lines, and the images began 4,400 px below the panel's top.
    classes = [
        f"{w} \u2014 photographed for the regional archive collection (batch {k:02d})"
        for k, w in enumerate(f"Class{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn")
    ]
    concepts = [f"concept {j}" for j in range(40)]
    path, _ = _report_of_classes(tmp_path, classes, concepts, n_per=3)
    page = Page(browser, path, width=width)
    p = page.page
    p.locator('#ranking-table a.concept[data-concept="concept 39"]').first.click()
    rows = p.locator("#detail .prevalence .bar-row")
    shown = rows.evaluate_all("rs => rs.filter(r => r.offsetParent)")
    assert 5 <= len(shown) <= 10, len(shown)
    vals = p.locator("#detail .prevalence .bar-row:visible .val").all_inner_texts()
    values = [_num(v) for v in vals]
    assert values[1:] == sorted(values[1:], reverse=True)  # (after "all", the highest first)
    assert values[1] == 100.0
    heights = p.locator("#detail .prevalence .bar-row:visible").evaluate_all(
        "rs => rs.map(r => r.getBoundingClientRect().height)"
    )
    assert max(heights) < 30, heights  # (one line each)
    titles = p.locator("#detail .prevalence .bar-row:visible").evaluate_all(
        "rs => rs.map(r => r.title)"
    )
    assert any(t.startswith(classes[39] + " (n=3): 3 of 3") for t in titles), titles
    top = p.evaluate(
        """(() => { const h = [...document.querySelectorAll('#detail h3')]
                 .find(h => h.textContent.includes('strongest'));
             return h.getBoundingClientRect().top
                    - document.getElementById('detail-title').getBoundingClientRect().top; })()"""
    )
    assert top < 600, top
    button = p.locator("#detail .prevalence button.show-all")
    button.click()
    assert rows.evaluate_all("rs => rs.filter(r => r.offsetParent).length") == 41
    assert button.get_attribute("aria-expanded") == "true"
    page.close()


@pytest.mark.filterwarnings("ignore::sksplice.analysis.TooFewSamplesWarning")
def test_a_printed_report_holds_the_ranking_and_says_what_it_leaves_out(browser, tmp_path):
    # Printed, the ranking kept its box of 16 rows (16 of 1,466 rows on paper), and the
    # search box, switches and "Show more" buttons were printed.
    concepts = [f"concept {j}" for j in range(300)]
    path, ranking = _report_of_classes(tmp_path, ["coast", "forest"], concepts, n_per=70)
    page = Page(browser, path, width=794)
    p = page.page
    p.emulate_media(media="print")
    wrap = p.locator("#ranking .table-wrap")
    assert wrap.evaluate("e => e.scrollHeight <= e.clientHeight + 1")  # (no box: all drawn)
    drawn = p.locator("#ranking-table tbody tr").count()
    assert drawn == 500 < len(ranking)
    for control in ("#ranking-search", "#ranking-significant", "#ranking-more",
                    "#image-search", "#image-class", "#gallery-more"):  # fmt: skip
        assert not p.locator(control).is_visible(), control
    note = p.inner_text("#ranking-print-note")
    assert f"the first 500 of these {len(ranking)} rows" in note
    assert f"the other {len(ranking) - 500} are not printed" in note
    gallery_note = p.inner_text("#gallery-print-note")
    assert gallery_note == "Printed: 120 of these 140 images; the other 20 are not printed."
    assert p.locator("#ranking-table th").first.inner_text() == "Class"  # (titles kept)
    p.emulate_media(media="screen")
    assert not p.locator("#ranking-print-note").is_visible()
    assert wrap.evaluate("e => e.scrollHeight > e.clientHeight")  # (the box on screen)
    page.close()


def test_a_phone_wide_ranking_shows_the_p_value_and_verdict_in_view(browser, explorer):
    # At 390 px "p adjusted" and "Significant" lay beyond the box's right edge; on a narrow
    # screen they now come right after the names.
    path = explorer[0]
    page = Page(browser, path, width=390)
    p = page.page
    right = p.locator("#ranking .table-wrap").evaluate("e => e.getBoundingClientRect().right")
    for title in ("p adjusted", "Significant"):
        th = p.locator("#ranking-table th", has_text=title)
        assert th.evaluate("e => e.getBoundingClientRect().right") <= right + 0.5, title
    # each row's cells in the header's order
    heads = p.locator("#ranking-table th").all_inner_texts()
    first = p.locator("#ranking-table tbody tr").first.locator("td").all_inner_texts()
    assert first[heads.index("Significant")] in ("yes", "no")
    p.set_viewport_size({"width": 1280, "height": 900})
    assert p.locator("#ranking-table th").all_inner_texts()[-1] == "Significant"
    page.close()
