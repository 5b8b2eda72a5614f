"""The HTML report without a browser: escaping, embedded data, thumbnails, summary."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sksplice.analysis import concept_profiles, rank_concepts, rank_each_class
from sksplice.report import ImageResult, render_report, thumbnail_data_uri, write_report

HOSTILE = "</script><script>window.__pwned=1</script>\"'&<b>ü猫"


def _png_uri(color=(200, 30, 30), size=(8, 6)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _data(page: str) -> dict:
    block = re.search(
        r'<script id="sksplice-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert block is not None
    return json.loads(block.group(1))


@pytest.mark.parametrize(
    "thumbnail",
    [
        'x" onerror="window.__pwned=1',
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",  # SVG can carry script
        'data:image/png;base64,AAAA" onerror="x',
        "http://example.org/a.png",
        b"data:image/png;base64,AAAA",
    ],
)
def test_thumbnail_must_be_an_image_data_uri(thumbnail):
    with pytest.raises(ValueError, match="thumbnail") as info:
        ImageResult("a/b.png", [("sky", 1.0)], 1, 0.9, thumbnail=thumbnail)
    assert "a/b.png" in str(info.value)


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
def test_image_data_uris_are_accepted(kind):
    uri = f"data:image/{kind};base64,iVBORw0KGgo="
    assert ImageResult("x.png", [], 0, 0.5, thumbnail=uri).thumbnail == uri


def test_hostile_names_are_escaped_everywhere():
    results = [
        ImageResult(
            f"{HOSTILE}/img.png",
            [(HOSTILE, 0.5), ("sky", 0.25)],
            2,
            0.9,
            label=HOSTILE,
            thumbnail=_png_uri(),
        ),
        ImageResult("b/img.png", [("sky", 0.75)], 1, 0.8, label="b", thumbnail=_png_uri()),
    ]
    page = render_report(
        results,
        title=HOSTILE,
        settings={HOSTILE: HOSTILE},
        skipped=[(f"{HOSTILE}.png", HOSTILE)],
    )
    # the only script elements are the page's two, and nothing closes them early
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "window.__pwned=1</script>" not in page
    assert "<b>ü猫" not in page  # escaped in markup, \u003c in the JSON
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    data = _data(page)
    assert HOSTILE in data["concepts"] and HOSTILE in data["classes"]
    assert data["images"][0]["p"] == f"{HOSTILE}/img.png"


def test_names_that_are_not_utf8_are_shown_with_backslash_escapes(tmp_path):
    """File and folder names as os.listdir gives them when they are not valid UTF-8 (lone
    surrogates): the page shows each undecodable byte as \\xNN, and is valid UTF-8."""
    import os

    path = os.fsdecode(b"caf\xe9/bad\xff.png")
    label = os.fsdecode(b"caf\xe9")
    results = [
        ImageResult(path, [("sky", 0.5)], 1, 0.9, label=label, thumbnail=_png_uri()),
        ImageResult("dogs/a.png", [("sky", 0.25)], 1, 0.8, label="dogs", thumbnail=_png_uri()),
    ]
    unreadable = os.fsdecode(b"caf\xe9/x\xfe.png")
    page = render_report(
        results,
        title=f"report of {label}",
        settings={"folder": label},
        skipped=[(unreadable, f"PIL cannot read {unreadable!r}")],
    )
    written = write_report(tmp_path / "r.html", results, title=label)
    assert written.read_bytes().decode("utf-8").count("caf\\xe9") >= 1
    page.encode("utf-8")  # (no lone surrogate left)
    data = _data(page)
    assert data["images"][0]["p"] == "caf\\xe9/bad\\xff.png"
    assert data["classes"] == ["caf\\xe9", "dogs"]
    assert "<title>report of caf\\xe9</title>" in page
    assert "PIL cannot read &#39;caf\\xe9/x\\xfe.png&#39;" in page  # (as text)
    assert '<td class="path">caf\\xe9/x\\xfe.png</td>' in page
    assert "\\udc" not in page


def test_page_is_self_contained():
    page = render_report(
        [ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())],
        settings={"model": "ViT-B-32"},
    )
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page and "@import" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "<style>" in page and "document.getElementById" in page


def test_every_concept_and_one_global_scale():
    rng = np.random.default_rng(0)
    results = []
    for i in range(6):
        weights = sorted(rng.random(5).round(3) + 0.01, reverse=True)
        concepts = [(f"c{j}", float(w)) for j, w in enumerate(weights)]
        results.append(ImageResult(f"{i}.png", concepts, 5, 0.9, thumbnail=_png_uri()))
    data = _data(render_report(results))
    # every non-zero concept of every image, and one scale: the largest weight of all
    assert [len(img["w"]) for img in data["images"]] == [5] * 6
    top = max(w for r in results for _, w in r.concepts)
    assert data["scale"] == pytest.approx(top)
    for img, r in zip(data["images"], results):
        got = {data["concepts"][j]: w for j, w in img["w"]}
        assert got == pytest.approx(dict(r.concepts), abs=1e-4)


def test_summary_counts_skipped_histograms_and_frequent_concepts():
    results = [
        ImageResult(
            f"{i}.png",
            [("sky", 0.5)] + [("sea", 0.2)] * (i % 2),
            1 + i % 2,
            0.8 + i / 100,
            label="ab"[i % 2],
            thumbnail=_png_uri(),
        )
        for i in range(10)
    ]
    skipped = [("bad.png", "cannot identify image file"), ("gone.png", "no such file")]
    page = render_report(results, skipped=skipped)
    assert re.search(r'id="n-images">10<', page)
    assert re.search(r'id="n-classes">2</span><span>classes<', page)
    assert re.search(r'id="n-skipped">2<', page)
    # counts of one are singular ("1 classes" before)
    one = render_report(results[:1], skipped=skipped)
    assert re.search(r'id="n-images">1</span><span>image<', one)
    assert re.search(r'id="n-classes">1</span><span>class<', one)
    assert re.search(r">1</span><span>concept used<", one)
    assert "bad.png" in page and "cannot identify image file" in page and "gone.png" in page
    # a reason that begins by naming its file leaves it to the File column beside it
    named = render_report(results, skipped=[("x/c.jpg", "'x/c.jpg' could not be decoded")])
    assert '<td class="path">x/c.jpg</td><td>could not be decoded</td>' in named
    titles = re.findall(r"<title>([^<]*: (\d+) images?)</title>", page)
    l0_bars = re.search(r'id="hist-l0".*?</figure>', page, re.S).group(0)
    counts = [int(n) for _, n in re.findall(r"<title>([^<]*: (\d+) images?)</title>", l0_bars)]
    assert sum(counts) == 10 and counts[0] == 5 and counts[-1] == 5
    assert len(titles) > len(counts)  # the cosine histogram too
    frequent = re.search(r"Most frequent concepts.*?</div>\s*</div>", page, re.S).group(0)
    assert frequent.index('data-concept="sky"') < frequent.index('data-concept="sea"')


def _axis(page: str, what: str) -> tuple[list[int], dict[int, float], list[tuple[float, float]]]:
    """Bar counts, the labelled counts of the y axis (with their y), and (bar top, height)."""
    figure = re.search(rf'id="hist-{what}".*?</figure>', page, re.S).group(0)
    counts = [int(n) for n in re.findall(r": (\d+) images?</title>", figure)]
    ticks = {
        int(label): float(y)
        for y, label in re.findall(r'<text class="y-tick"[^>]* y="([-\d.]+)"[^>]*>(\d+)<', figure)
    }
    bars = [
        (float(y), float(h))
        for y, h in re.findall(r'<rect [^>]*y="([-\d.]+)" [^>]*height="([\d.]+)"', figure)
    ]
    return counts, ticks, bars


@pytest.mark.parametrize(
    ("l0", "ticks"),
    [
        ([3] * 7 + [4] * 2 + [5], [0, 4, 7]),  # the middle: 7 / 2 rounded
        ([2] * 34 + [9] * 5, [0, 20, 34]),  # 17 to one significant digit
        ([6] * 1234 + [8] * 3, [0, 600, 1234]),
        ([4, 4, 5], [0, 1, 2]),
        ([11], [0, 1]),  # no middle count between 0 and 1
    ],
)
def test_histograms_have_a_count_axis_that_matches_their_bars(l0, ticks):
    cosine = [0.5] * (len(l0) - 1) + [0.99]
    results = [
        ImageResult(f"{i}.png", [("sky", 1.0)], n, c) for i, (n, c) in enumerate(zip(l0, cosine))
    ]
    page = render_report(results)
    counts, axis, bars = _axis(page, "l0")
    assert sum(counts) == len(l0)
    assert sorted(axis) == ticks and max(axis) == max(counts)
    # the axis is linear from 0 (the bars' base) to the largest count (the tallest bar's top)
    base, top = axis[0], axis[max(counts)]
    assert base == pytest.approx(100.0) and top == pytest.approx(0.0)
    for value, y in axis.items():
        assert y == pytest.approx(base + (top - base) * value / max(counts), abs=0.01)
    for count, (y, height) in zip(counts, bars, strict=True):
        assert y == pytest.approx(base + (top - base) * count / max(counts), abs=0.01)
        assert y + height == pytest.approx(base, abs=0.01)
    figure = re.search(r'id="hist-l0".*?</figure>', page, re.S).group(0)
    assert re.search(r">images</text>", figure)
    ends = re.findall(r'<text class="x-end"[^>]*>([^<]*)</text>', figure)
    assert ends == sorted({str(min(l0)), str(max(l0))}, key=int)  # one value: one end
    label = re.search(r'aria-label="([^"]*)"', figure).group(1)
    assert f"histogram of {len(l0)} image" in label
    assert (f"from {min(l0)} to {max(l0)}" if len(set(l0)) > 1 else f"all {l0[0]}") in label
    assert f"the tallest bar holds {max(counts)} image" in label
    counts, axis, _ = _axis(page, "cosine")
    assert sum(counts) == len(l0) and max(counts) == max(len(l0) - 1, 1)
    assert max(axis) == max(counts)
    assert re.search(r'id="hist-cosine".*?>images</text>.*?</figure>', page, re.S)


@pytest.mark.parametrize(
    ("values", "integer", "middle"),
    [
        (np.arange(8, 35), True, "20"),
        (np.linspace(0.836, 0.932, 50), False, "0.9"),
        (np.arange(1, 200), True, "100"),
        (np.array([4, 5, 4, 5]), True, ""),  # (no value between the ends)
        (np.full(5, 0.8), False, ""),  # (one bar)
    ],
)
def test_a_histogram_labels_a_round_value_in_the_middle_of_its_x_axis(values, integer, middle):
    # Only the ends were labelled (8 and 34; 0.836 and 0.932): a bar's range was only in
    # its tooltip, which neither a touch screen nor paper shows.
    from sksplice.report import _histogram

    hist = _histogram(values, integer=integer)
    assert hist["mid"] == middle
    if middle:
        lo, hi = float(values.min()), float(values.max())
        assert lo + (hi - lo) / 3 <= float(middle) <= hi - (hi - lo) / 3
        # (under the bar whose range holds the value)
        value = float(middle)
        for bar in hist["bars"]:
            span = bar["title"].split(":")[0]
            a, _, b = span.partition("-")
            a, b = float(a), float(b or a)
            if (a <= value <= b) if integer else (a <= value < b):
                assert bar["x"] - 0.5 <= hist["mid_x"] <= bar["x"] + bar["w"] + 1.5
                break
        else:
            raise AssertionError(f"no bar holds {middle}")
        if not integer:
            page = render_report(
                [ImageResult(f"{i}.png", [("sky", 1.0)], 3, c) for i, c in enumerate(values)]
            )
            assert f'<text class="x-mid" x="{hist["mid_x"]}" y="116"' in page


def test_an_empty_report_draws_no_count_axis():
    page = render_report([])
    for what in ("l0", "cosine"):
        counts, axis, bars = _axis(page, what)
        assert counts == [] and axis == {} and bars == []
    assert "histogram of 0 images" in page


def test_the_difference_column_says_which_way_it_is_taken():
    # "Difference" alone: of which class from which, for one class against another
    W = np.zeros((30, 2))
    W[:12, 0] = 1.0
    y = np.array(["coast"] * 10 + ["forest"] * 10 + ["city"] * 10)
    ranking = rank_concepts(W, y, "forest", negative="coast", concepts=["sea", "sky"])
    page = render_report([], ranking=ranking)
    headers = re.findall(r'<th data-col="\d" [^>]*>([^<]*)</th>', page)
    assert headers[:4] == ["Concept", "In forest", "In coast", "Difference"]
    assert 'title="prevalence in forest minus in coast">Difference</th>' in page
    data = _data(page)
    sea = next(r for r in data["ranking"] if data["concepts"][r[1]] == "sea")
    assert sea[2:5] == [pytest.approx(0.2), pytest.approx(1.0), pytest.approx(-0.8)]


def test_ranking_rows_key_columns_and_significance():
    n = 40
    W = np.zeros((2 * n, 3))
    W[:30, 0] = 1.0
    W[n : n + 10, 0] = 1.0
    W[0, 1] = 1.0
    W[::3, 2] = 0.5
    y = np.array(["coast"] * n + ["forest"] * n)
    names = ["sea", "sky", "grass"]
    ranking = rank_concepts(W, y, "coast", concepts=names)
    profiles = concept_profiles(W, y, names)
    page = render_report([], ranking=ranking, profiles=profiles)
    headers = re.findall(r'<th data-col="\d" [^>]*>([^<]*)</th>', page)
    assert headers == [
        "Class",
        "Concept",
        "In class",
        "Outside",
        "Difference",
        "p adjusted",
        "Significant",
    ]  # (no Test column: every p-value is of Fisher's exact test, as the text says)
    data = _data(page)
    assert data["rankClasses"] == ["coast"]
    rows = {data["concepts"][r[1]]: r for r in data["ranking"]}
    assert set(rows) == set(names)
    # test 1 = Fisher (0 = z, in tables of earlier versions); significant 1/0
    assert rows["sea"][0] == 0 and rows["sea"][5] == 1 and rows["sea"][7] == 1
    assert rows["sky"][5] == 1 and rows["sky"][7] == 0
    assert rows["sea"][2] == pytest.approx(0.75) and rows["sea"][3] == pytest.approx(0.25)
    # the page rounds p-values once (to 2 digits, as the command line): sent with 6
    p_sea = float(ranking.loc["sea", "p_adjusted"])
    assert rows["sea"][6] == float(f"{p_sea:.6g}")
    assert data["groups"] == ["all", "coast", "forest"]
    assert data["prevalence"]["sea"] == pytest.approx([0.5, 0.75, 0.25])


def test_a_ranking_of_one_class_against_another_names_both():
    # rank_concepts(W, y, "coast", "forest") was shown as "In class" / "Outside" with
    # the wording of one class against the rest: its second column is forest only.
    n = 20
    W = np.zeros((3 * n, 2))
    W[:15, 0] = 1.0  # coast: 15 of 20
    W[n : n + 4, 0] = 1.0  # forest: 4 of 20
    W[2 * n :, 0] = 1.0  # desert: 20 of 20 (it would change "outside coast")
    W[::2, 1] = 0.5
    y = np.array(["coast"] * n + ["forest"] * n + ["desert"] * n)
    pairwise = rank_concepts(W, y, "coast", "forest", concepts=["sea", "sky"])
    page = render_report([], ranking=pairwise)
    headers = re.findall(r'<th data-col="\d" [^>]*>([^<]*)</th>', page)
    assert headers[:3] == ["Concept", "In coast", "In forest"], headers
    assert "Outside" not in headers
    # (one-sided, the default: the heading says in which direction)
    assert "Concepts more frequent in coast than in forest" in page
    assert "in coast and in forest" in page and "outside it" not in page
    data = _data(page)
    assert data["rankClasses"] == ["coast vs forest"]
    row = {data["concepts"][r[1]]: r for r in data["ranking"]}["sea"]
    assert row[2] == pytest.approx(0.75) and row[3] == pytest.approx(0.2)

    two_sided = rank_concepts(
        W, y, "coast", "forest", concepts=["sea", "sky"], alternative="two-sided"
    )
    assert "Concepts that separate coast from forest" in render_report([], ranking=two_sided)

    # one class against the rest keeps its words; several classes say "within each class"
    rest = rank_concepts(W, y, "coast", concepts=["sea", "sky"])
    page = render_report([], ranking=rest)
    assert "Outside" in page and "within each class" not in page
    both = pd.concat(
        [
            rank_concepts(W, y, c, concepts=["sea", "sky"]).reset_index().assign(**{"class": c})
            for c in ("coast", "forest")
        ]
    )
    assert "within each class" in render_report([], ranking=both)

    # a class that is called "rest", ranked against: still named as a class
    y_rest = np.where(y == "forest", "rest", y)
    page = render_report([], ranking=rank_concepts(W, y_rest, "coast", "rest", concepts=["a", "b"]))
    assert "In rest" in page and "Outside" not in page


def test_concepts_used_counts_the_concepts_of_the_images_only():
    results = [
        ImageResult("a.png", [("beach", 0.5), ("lake", 0.2)], 2, 0.9, thumbnail=_png_uri()),
        ImageResult("b.png", [("beach", 0.4)], 1, 0.9, thumbnail=_png_uri()),
    ]
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]] * 5)
    y = np.array(["x", "y"] * 5)
    ranking = rank_concepts(W, y, "x", concepts=["beach", "lake", "unrelated"])
    for page in (render_report(results), render_report(results, ranking=ranking)):
        assert re.search(r'<span class="num">2</span><span>concepts used</span>', page), page
    assert "unrelated" in _data(render_report(results, ranking=ranking))["concepts"]


def test_a_thumbnail_shows_the_pixels_that_were_embedded(tmp_path):
    # EXIF orientation applied and 16-bit images scaled, as CLIPEmbedder decodes them.
    import numpy as np

    from sksplice._images import load_rgb

    def pixels(uri):
        with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
            return np.asarray(img.convert("RGB"), dtype=float)

    rotated = tmp_path / "rotated.jpg"
    left_red = np.zeros((120, 180, 3), dtype=np.uint8)
    left_red[:, :90] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(left_red).save(rotated, exif=exif, quality=95)
    thumb = pixels(thumbnail_data_uri(rotated))
    embedded = np.asarray(load_rgb(str(rotated)), dtype=float)
    assert thumb.shape[:2] == (96, 64) and embedded.shape[:2] == (180, 120)  # upright
    assert thumb[:40, :, 0].mean() > 200 and thumb[-40:, :, 0].mean() < 50  # red on top

    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((40, 40), 32768, dtype=np.uint16)).save(deep)
    assert abs(pixels(thumbnail_data_uri(deep)).mean() - 128) < 3  # not blank white


def test_thumbnails_are_small_jpegs(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (640, 480), (10, 120, 200)).save(path)
    uri = thumbnail_data_uri(path)
    assert uri.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        assert max(img.size) == 96
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert thumbnail_data_uri(tmp_path / "broken.png") is None
    # made when the report is rendered; unreadable files get no preview
    data = _data(
        render_report(
            [
                ImageResult(path, [("sky", 1.0)], 1, 0.9),
                ImageResult(tmp_path / "broken.png", [], 0, 0.0),
            ]
        )
    )
    assert data["images"][0]["t"] == uri and data["images"][1]["t"] is None


def test_non_finite_values_become_null(tmp_path):
    results = [
        ImageResult(
            "a.png", [("sky", 0.5), ("nan", float("nan"))], 1, float("nan"), thumbnail=_png_uri()
        ),
    ]
    out = write_report(tmp_path / "r.html", results)
    data = _data(out.read_text(encoding="utf-8"))
    assert data["images"][0]["cos"] is None
    assert [data["concepts"][j] for j, _ in data["images"][0]["w"]] == ["sky"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # written atomically, no leftovers


def test_skipped_objects_and_wide_profiles():
    import pandas as pd

    from sksplice.embedders import SkippedInput

    wide = pd.DataFrame({"a": [0.5, 0.0], "b": [0.25, 1.0]}, index=["sky", "sea"])
    page = render_report(
        [ImageResult("x.png", [("sky", 1.0)], 1, 0.9, label="a", thumbnail=_png_uri())],
        profiles=wide,
        skipped=[SkippedInput(3, "y.png", "cannot identify image file")],
    )
    assert "y.png" in page and "cannot identify image file" in page
    data = _data(page)
    assert data["groups"] == ["a", "b"] and data["prevalence"]["sea"] == [0.0, 1.0]
    # the class cards list a class's prevalent concepts, largest first, zeros left out
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    card_b = cards.split('<h3 title="b">b</h3>')[1]
    assert card_b.index('data-concept="sea"') < card_b.index('data-concept="sky"')
    assert 'data-concept="sea"' not in cards.split('<h3 title="b">b</h3>')[0]


def test_a_small_weight_stays_non_zero_on_the_page():
    # weights go to the page with 4 significant digits (4 decimals made 3e-5 a 0)
    result = ImageResult("a.png", [("sky", 0.5), ("sea", 3.14159e-5)], 2, 0.9, thumbnail=None)
    data = _data(render_report([result]))
    assert sorted(w for _, w in data["images"][0]["w"]) == [3.142e-05, 0.5]


def test_a_histogram_of_few_values_has_few_bars():
    # 12 images in 20 bars were bars of one image between gaps
    from sksplice.report import _histogram

    rng = np.random.default_rng(0)
    for n, most in ((12, 4), (50, 8), (5000, 20)):
        cosine = _histogram(rng.uniform(0.7, 0.9, n), integer=False)
        assert len(cosine["bars"]) == most
        # (an integer's bars are whole numbers wide: 59 values in at most `most` bars)
        l0 = _histogram(rng.integers(1, 60, n), integer=True)
        assert len(l0["bars"]) == math.ceil(59 / math.ceil(59 / most))
    assert len(_histogram(np.array([0.1, 0.2]), integer=False)["bars"]) == 3  # (at least)


@pytest.mark.parametrize("integer, value, label", [(False, 0.8, "0.800"), (True, 7, "7")])
def test_a_histogram_of_one_value_is_one_bar_labelled_once_under_its_middle(integer, value, label):
    # A cosine shared by every image was a thin bar at the left end of a made-up
    # range 0.001 wide, its one label at the left edge.
    from sksplice.report import _histogram

    hist = _histogram(np.full(7, value), integer=integer)
    assert len(hist["bars"]) == 1
    bar = hist["bars"][0]
    assert bar["x"] == 0.0 and bar["w"] == 299.0 and bar["h"] == 100.0
    assert bar["title"] == f"{label}: 7 images"
    assert hist["lo"] == hist["hi"] == label
    assert hist["lo_x"] == 150.0 and hist["lo_anchor"] == "middle"


def test_images_whose_files_cannot_be_read_are_counted_in_a_warning(tmp_path, monkeypatch):
    """Paths joined wrongly gave a page of "no preview" for every image, without a word;
    ``thumbnail=""`` shows none without reading the file, and is not warned about."""
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "red.png")
    results = [
        ImageResult("red.png", [("sky", 1.0)], 1, 0.9),
        ImageResult("captions/a.txt", [("sky", 1.0)], 1, 0.9),
        ImageResult("captions/b.txt", [("sea", 1.0)], 1, 0.9),
    ]
    with pytest.warns(UserWarning) as caught:
        page = render_report(results)
    said = [str(w.message) for w in caught]
    assert said == [
        "2 of 3 images have no preview: their files cannot be read as images "
        f"('captions/a.txt', ...) (relative paths are read from {str(tmp_path)!r}). The page "
        "shows 'no preview' for them; give an ImageResult thumbnail='' to show none without "
        "reading its file"
    ]
    assert [bool(image["t"]) for image in _data(page)["images"]] == [True, False, False]
    captions = [
        ImageResult(f"captions/{c}.txt", [("sky", 1.0)], 1, 0.9, thumbnail="") for c in "ab"
    ]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = render_report(captions)
    assert [image["t"] for image in _data(page)["images"]] == [None, None]
    with pytest.raises(ValueError, match=r"URI, '' \(no preview\) or None, got 'x'"):
        ImageResult("a.png", [("sky", 1.0)], 1, 0.9, thumbnail="x")


def test_the_cards_of_a_comparison_are_in_its_order_a_then_b():
    """Profiles of "train" (A) and "shifted test" (B) are sorted by name: the page showed
    B's card before A's, under a ranking headed "between A (train) and B (shifted test)"."""
    from sksplice.shift import compare_datasets

    rng = np.random.default_rng(0)
    Wa = (rng.random((30, 5)) < 0.4).astype(float)
    Wb = (rng.random((30, 5)) < 0.4).astype(float)
    names = list("vwxyz")
    comparison = compare_datasets(Wa, Wb, concepts=names, labels=("train", "shifted test"))
    profiles = concept_profiles(np.vstack([Wa, Wb]), ["train"] * 30 + ["shifted test"] * 30, names)
    assert list(profiles["prevalence"].columns) == ["all", "shifted test", "train"]
    page = render_report([], profiles=profiles, ranking=comparison)
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    assert re.findall(r"<h3 [^>]*>([^<]*)</h3>", cards) == [
        "all images (n=60)",
        "train (n=30)",
        "shifted test (n=30)",
    ]
    data = _data(page)
    assert data["groups"] == ["all", "train", "shifted test"]
    assert data["prevalence"]["v"] == [
        float(f"{profiles['prevalence'].loc['v', g]:.3g}") for g in data["groups"]
    ]
    # a table of one statistic: the group of all images stays first
    page = render_report([], profiles=profiles["prevalence"], ranking=comparison)
    assert _data(page)["groups"] == ["all", "train", "shifted test"]
    # a ranking of classes leaves the order as it is
    page = render_report([], profiles=profiles)
    assert _data(page)["groups"] == ["all", "shifted test", "train"]


def test_class_cards_break_ties_as_the_class_profile_plot_does():
    """A class of 4 images has many concepts at 75%: the card kept the vocabulary's order
    among them and showed two other concepts than plot_class_profile, which breaks ties
    by mean weight."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sksplice.plotting import plot_class_profile

    rng = np.random.default_rng(3)
    n_concepts = 14
    W = np.zeros((24, n_concepts))
    W[:4, :] = 0.01 + 0.1 * np.arange(n_concepts)  # (the strongest last in the vocabulary)
    W[3, :] = 0.0  # (each concept in 3 of the class's 4 images: all tied at 75%)
    W[3, 0] = 0.5
    W[4:] = rng.random((20, n_concepts)) * (rng.random((20, n_concepts)) < 0.3)
    y = np.array(["small"] * 4 + ["big"] * 20)
    names = [f"c{j:02d}" for j in range(n_concepts)]
    profiles = concept_profiles(W, y, names)
    ax = plot_class_profile(profiles, "small", k=10)
    plotted = [t.get_text() for t in ax.get_yticklabels()][::-1]  # (largest on top)
    page = render_report([], profiles=profiles)
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    card = cards.split('<h3 title="small (n=4)">small (n=4)</h3>')[1].split("</h3>")[0]
    shown = re.findall(r'data-concept="([^"]+)"', card)
    assert shown == plotted
    assert shown[0] == "c00" and shown[1:] == [f"c{j:02d}" for j in range(13, 4, -1)]


def test_class_cards_and_panel_give_each_group_its_number_of_images():
    # "bird 75%" alone hides that it is 3 of 4 images; long names keep a tooltip
    import numpy as np

    from sksplice.analysis import concept_profiles

    long = "golden retriever puppy playing fetch"
    W = np.array([[1.0, 0], [1, 1], [1, 0], [0, 1], [0, 1]])
    profiles = concept_profiles(W, ["bird"] * 4 + ["cat"], [long, "sea"])
    results = [ImageResult(f"{i}.png", [(long, 1.0)], 1, 0.9, thumbnail=None) for i in range(5)]
    page = render_report(results, profiles=profiles)
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    headings = re.findall(r"<h3 [^>]*>([^<]*)</h3>", cards)
    assert headings == ["all images (n=5)", "bird (n=4)", "cat (n=1)"]
    # (the whole name, its count and its interval are the row's tooltip)
    assert f'title="{long}: 3 of 4 images, 95% interval 19.4% to 99.4%"' in cards
    data = _data(page)
    assert data["groupNames"] == headings
    frequent = re.search(r"<h3>Most frequent concepts.*?</h3>", page).group(0)
    assert "(images)" in frequent


def test_prevalence_bars_carry_their_exact_95_percent_intervals():
    # A class of one image holding a concept is at 100%, a bar as long as 300 of 300:
    # cards and the concept panel draw each share's interval, as the plots do.
    import numpy as np
    from scipy.stats import binomtest

    from sksplice.analysis import concept_profiles

    W = np.array([[1.0, 0], [1, 1], [1, 0], [0, 1], [0, 1]])
    profiles = concept_profiles(W, ["bird"] * 4 + ["cat"], ["sky", "sea"])
    results = [ImageResult(f"{i}.png", [("sky", 1.0)], 1, 0.9, thumbnail=None) for i in range(5)]
    page = render_report(results, profiles=profiles)
    data = _data(page)
    assert data["groupSizes"] == [5, 4, 1]
    for concept, counts in {"sky": (3, 3, 0), "sea": (3, 2, 1)}.items():
        for (low, high, count), k, n in zip(
            data["prevalenceInterval"][concept], counts, (5, 4, 1), strict=True
        ):
            expected = binomtest(k, n).proportion_ci(method="exact")
            assert count == k
            assert low == pytest.approx(expected.low, abs=5e-4)
            assert high == pytest.approx(expected.high, abs=5e-4)
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    # cat's one image holds "sea": 100%, its whisker from 2.5% to the end of the track
    cat = cards[cards.index("cat (n=1)") :]
    assert 'title="sea: 1 of 1 image, 95% interval 2.5% to 100%"' in cat
    assert '<span class="ci" style="left:2.5%;width:97.5%"></span>' in cat
    assert "exact 95% interval of that share (Clopper-Pearson)" in cards
    assert "not a test" in cards


def test_a_tooltips_interval_holds_the_exact_interval():
    """The class cards' tooltips rounded an interval's ends to whole percents, to the
    nearest: 1 of 1 read "3% to 100%", narrower than the exact 2.5% to 100%. Each end is
    now a tenth of a percent rounded away from the inside."""
    from sksplice._proportions import prevalence_interval
    from sksplice.report import _bound_text

    n = np.repeat(np.arange(1, 61), np.arange(1, 61) + 1)
    k = np.concatenate([np.arange(m + 1) for m in range(1, 61)])
    low, high = prevalence_interval(k, n)
    for lo, hi in zip(low, high, strict=True):
        shown_low = float(_bound_text(lo, up=False).removesuffix("%")) / 100
        shown_high = float(_bound_text(hi, up=True).removesuffix("%")) / 100
        assert shown_low <= lo + 1e-12 and hi - 1e-12 <= shown_high
        assert lo - shown_low < 0.001 and shown_high - hi < 0.001
    assert [_bound_text(v, up=u) for v, u in [(0.025, False), (1.0, True), (0.0, False)]] == [
        "2.5%",
        "100%",
        "0%",
    ]
    assert [_bound_text(v, up=u) for v, u in [(0.13157, True), (0.98742, True)]] == [
        "13.2%",
        "98.8%",
    ]
    # an end that is neither 0 nor 1 is not written "0%" or "100%" (1 of 1,000 read "0%
    # to 0.6%" beside a share of "<1%"): more digits, still rounded away from the inside
    low, high = prevalence_interval(np.array([1, 999, 1]), np.array([1000, 1000, 10**9]))
    shown = [_bound_text(v, up=u) for v, u in [(low[0], False), (high[1], True), (low[2], False)]]
    assert shown == ["0.002%", "99.998%", "<0.0001%"]


def test_prevalence_bars_of_groups_of_unknown_size_draw_no_interval():
    profiles = pd.DataFrame({"a": [0.5, 0.0], "b": [0.1, 0.4]}, index=["sky", "sea"])
    results = [ImageResult(f"{i}.png", [("sky", 1.0)], 1, 0.9, thumbnail=None) for i in range(2)]
    page = render_report(results, profiles=profiles)
    assert _data(page)["prevalenceInterval"]["sky"] == [None, None]
    assert '<span class="ci"' not in page and "95% interval of that share" not in page
    profiles.attrs["n_samples"] = {"a": 10, "b": 10}
    data = _data(render_report(results, profiles=profiles))
    assert [ci[2] for ci in data["prevalenceInterval"]["sky"]] == [5, 1]


def test_a_compared_collection_named_all_is_not_shown_as_all_images():
    # sksplice compare all other --report: the folder "all" was shown as "all images"
    profiles = pd.DataFrame({"all": [0.5, 0.0], "other": [0.1, 0.4]}, index=["sky", "sea"])
    results = [ImageResult(f"{i}.png", [("sky", 1.0)], 1, 0.9, thumbnail=None) for i in range(2)]
    assert _data(render_report(results, profiles=profiles))["groupNames"] == ["all", "other"]


def test_a_comparison_heading_names_each_collection_once():
    from sksplice.report import _ranking_text

    ranking = pd.DataFrame({"prevalence_a": [0.5], "prevalence_b": [0.1]})
    assert _ranking_text(ranking)["heading"] == (
        "Concepts whose prevalence differs between A and B"
    )
    ranking.attrs["labels"] = ("autumn", "B")
    assert _ranking_text(ranking)["heading"] == (
        "Concepts whose prevalence differs between A (autumn) and B"
    )


def test_a_report_without_any_weight_says_so_instead_of_a_scale():
    # every weight zero (a large penalty): "a full bar is 1.000" named a scale of nothing
    empty = [ImageResult(f"{i}.png", [], 0, 0.0, thumbnail=None) for i in range(3)]
    page = render_report(empty)
    assert "No image has a concept with a non-zero weight." in page
    assert 'id="scale"' not in page and _data(page)["hasWeights"] is False
    some = render_report([ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=None)])
    assert 'id="scale"' in some and _data(some)["hasWeights"] is True


# ------------------------------------------------------------------ wrong arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"l0": "x"}, TypeError, r"`l0` must be the number of non-zero concept weights .*'x'"),
        ({"l0": -1}, ValueError, r"`l0` must be .*a whole number of at least 0, got -1"),
        ({"l0": 2.5}, ValueError, r"`l0` must be .*whole number.*got 2\.5"),
        ({"cosine": "0.9"}, TypeError, r"`cosine` must be a number .*got a str \('0\.9'\)"),
        ({"concepts": {"dog": 0.2}}, TypeError, r"`concepts` must be a list of .*got a dict"),
        ({"concepts": "dog"}, TypeError, r"`concepts` must be a list of .*got a str"),
        ({"concepts": [("dog", 0.2, 1)]}, ValueError, r"`concepts\[0\]` .* got 3 values"),
        ({"concepts": ["dog"]}, TypeError, r"`concepts\[0\]` must be a \(concept, weight\) pair"),
        ({"concepts": [("dog", "0.2")]}, TypeError, r"weight of concept 'dog' .*got a str"),
        ({"concepts": [(None, 0.2)]}, TypeError, r"`concepts\[0\]` names its concept by None"),
        ({"path": 3}, TypeError, r"`path` must be the image's path .*got an int \(3\)"),
    ],
)
def test_image_result_names_the_wrong_field(kwargs, error, match):
    fields = {"path": "a/b.png", "concepts": [("dog", 0.2)], "l0": 1, "cosine": 0.9, **kwargs}
    with pytest.raises(error, match=match) as info:
        ImageResult(**fields)
    if "path" not in kwargs:
        assert "ImageResult(path='a/b.png')" in str(info.value)


def test_image_result_takes_numpy_numbers_and_any_iterable_of_pairs():
    result = ImageResult(
        "a.png", (pair for pair in [("sky", np.float32(0.5))]), np.int64(1), np.float64(0.9)
    )
    assert result.concepts == [("sky", 0.5)] and type(result.l0) is int
    assert type(result.cosine) is float


@pytest.mark.parametrize("missing", [float("nan"), np.nan, pd.NA, None])
def test_a_missing_label_is_no_class(missing):
    # labels taken from a pandas column: a NaN label made a class "nan", counted in the
    # summary's classes and offered in the class filter
    results = [
        ImageResult("a.png", [("sky", 0.5)], 1, 0.9, label="cat", thumbnail=_png_uri()),
        ImageResult("b.png", [("sky", 0.5)], 1, 0.9, label=missing, thumbnail=_png_uri()),
    ]
    assert results[1].label is None
    page = render_report(results)
    data = _data(page)
    assert data["classes"] == ["cat"]
    assert [image["c"] for image in data["images"]] == [0, -1]
    assert '<span class="num" id="n-classes">1</span><span>class</span>' in page


def _tables():
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]] * 4)
    y = np.array(["x", "y"] * 4)
    names = ["beach", "lake", "sky"]
    return concept_profiles(W, y, names), rank_concepts(W, y, "x", concepts=names)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda p, r: {"profiles": r},
            ValueError,
            r"`profiles` is a ranking \(columns count_positive, .*not the output of "
            r"sksplice\.analysis\.concept_profiles.*pass a ranking as `ranking=`",
        ),
        (
            lambda p, r: {"ranking": p},
            ValueError,
            r"`ranking` is class profiles .*not the output of sksplice\.analysis\.rank_concepts"
            r".*pass class profiles as `profiles=`",
        ),
        (
            lambda p, r: {"ranking": r.drop(columns="p_adjusted")},
            ValueError,
            r"`ranking` lacks the columns p_adjusted",
        ),
        (
            lambda p, r: {"ranking": r.to_numpy()},
            TypeError,
            r"`ranking` must be the output of .*rank_concepts.*, a DataFrame; got a.? ndarray",
        ),
        (
            lambda p, r: {"profiles": pd.DataFrame({"a": ["x"]}, index=["sky"])},
            ValueError,
            r"`profiles` has columns that hold no prevalences \(not numbers\): a",
        ),
        (lambda p, r: {"title": None}, TypeError, r"`title` must be text \(a str\), got None"),
        (lambda p, r: {"settings": ["a"]}, TypeError, r"`settings` must be a mapping"),
        (lambda p, r: {"skipped": ["a.png"]}, TypeError, r"`skipped\[0\]` must be one of"),
    ],
    ids=[
        "profiles=ranking",
        "ranking=profiles",
        "ranking-column-missing",
        "ranking-array",
        "profiles-text",
        "title",
        "settings",
        "skipped",
    ],
)
def test_render_report_names_the_wrong_argument(make, error, match):
    profiles, ranking = _tables()
    result = ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())
    with pytest.raises(error, match=match):
        render_report([result], **make(profiles, ranking))


def test_render_report_refuses_results_that_are_no_image_results():
    result = ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())
    with pytest.raises(TypeError, match=r"`results\[1\]` is a dict \(\{'path': 'b.png'\}\), not"):
        render_report([result, {"path": "b.png"}])
    with pytest.raises(TypeError, match=r"got one ImageResult; give \[result\]"):
        render_report(result)
    # the tables of the analysis are accepted where they belong
    profiles, ranking = _tables()
    assert _data(render_report([result], profiles=profiles, ranking=ranking))["ranking"]


def test_write_report_spells_out_the_keywords_of_render_report(tmp_path):
    # It took **kwargs: no completion or signature help showed title, ranking ...
    import inspect

    written = inspect.signature(write_report).parameters
    rendered = inspect.signature(render_report).parameters
    keywords = [name for name, p in rendered.items() if p.kind is p.KEYWORD_ONLY]
    assert [name for name, p in written.items() if p.kind is p.KEYWORD_ONLY] == keywords
    assert all(written[name].default == rendered[name].default for name in keywords)
    results = [ImageResult("0.png", [("leaf", 0.5)], 1, 0.9, thumbnail=_png_uri())]
    path = write_report(tmp_path / "r.html", results, title="Autumn leaves", unit="row")
    page = path.read_text(encoding="utf-8")
    assert "<title>Autumn leaves</title>" in page and "1 row" in page


def test_write_report_refuses_a_missing_folder(tmp_path):
    result = ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())
    missing = tmp_path / "nodir"
    with pytest.raises(FileNotFoundError, match=r"its folder '.*nodir' does not exist"):
        write_report(missing / "r.html", [result])
    assert not missing.exists()  # not created
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"'.*file' is not a folder"):
        write_report(tmp_path / "file" / "r.html", [result])


def test_write_report_errors_name_the_file_asked_for(tmp_path, monkeypatch):
    # a read-only folder refuses the temporary file written first: the error names r.html
    import os

    import sksplice._atomic as atomic

    real_open = os.open
    opened = []

    def refusing_open(path, flags, *args, **kwargs):
        if os.fspath(path).endswith(".tmp"):
            opened.append(path)
            # (the file made to check the folder before the page is made gets through: a
            # folder made read-only while the page was made)
            if len(opened) > 1:
                raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", refusing_open)
    result = ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())
    target = tmp_path / "r.html"
    with pytest.raises(PermissionError) as info:
        write_report(target, [result])
    assert info.value.filename == str(target)
    assert str(info.value) == f"[Errno 13] Permission denied: {str(target)!r}"
    assert list(tmp_path.iterdir()) == []


def test_write_report_refuses_an_unwritable_path_before_reading_any_image(tmp_path, monkeypatch):
    # a report of 2,000 images read and shrank every image (seconds) before it found
    # that its path was a folder, or that its folder took no file
    import os

    import sksplice._atomic as atomic
    import sksplice.report as report

    read = []
    monkeypatch.setattr(report, "thumbnail_data_uri", lambda path, *a, **k: read.append(path))
    results = [ImageResult(f"{i}.png", [("sky", 0.5)], 1, 0.9) for i in range(3)]
    with pytest.raises(IsADirectoryError, match=r"it is a folder, not a regular file"):
        write_report(tmp_path, results)
    assert read == []

    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if os.fspath(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", refusing_open)
    target = tmp_path / "r.html"
    with pytest.raises(PermissionError) as info:
        write_report(target, results)
    assert read == []
    message = str(info.value)
    assert repr(str(target)) in message and "(Permission denied)" in message
    assert "choose a path in a writable folder" in message
    assert list(tmp_path.iterdir()) == []


def test_write_report_refuses_a_folder_that_lets_no_file_be_removed(tmp_path, monkeypatch):
    # an append-only folder takes a new file but lets none be removed, so the report's
    # temporary file could not be renamed over a previous report: the probe passed, was
    # left behind, and the report failed once every image had been read
    import os

    import sksplice.report as report

    read = []
    monkeypatch.setattr(report, "thumbnail_data_uri", lambda path, *a, **k: read.append(path))

    def refuse(path, *args, **kwargs):
        raise PermissionError(1, "Operation not permitted", os.fspath(path))

    monkeypatch.setattr(os, "unlink", refuse)
    results = [ImageResult(f"{i}.png", [("sky", 0.5)], 1, 0.9) for i in range(3)]
    with pytest.raises(PermissionError, match=r"cannot be removed there \(Operation not"):
        write_report(tmp_path / "r.html", results)
    assert read == []


def test_write_report_removes_the_temporary_file_of_a_killed_writer(tmp_path):
    # a script killed while writing its report (SIGKILL, or SIGTERM, which runs no
    # cleanup) left ".r.html.<pid>.<host>.<random>.tmp" that no later write removed
    import os

    from sksplice._atomic import temporary_name

    from ._helpers_faults import dead_writers_name

    target = tmp_path / "r.html"
    left = tmp_path / dead_writers_name(target.name)
    left.write_bytes(b"<!DOCTYPE html><html><body>half a rep")
    live = tmp_path / temporary_name(target.name)  # (a writer still running: kept)
    live.write_bytes(b"")
    os.utime(left, (0, 1_000_000))
    result = ImageResult("a.png", [("sky", 0.5)], 1, 0.9, thumbnail=_png_uri())
    write_report(target, [result])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, target.name])


def test_torch_and_zero_dimensional_numbers_are_taken_as_numbers():
    import numpy as np
    import torch

    result = ImageResult(
        "a.png",
        [("dog", torch.tensor(0.5)), ("sea", np.array(0.25))],
        torch.tensor(2),
        torch.tensor(0.8),
        thumbnail=None,
    )
    assert result.concepts == [("dog", 0.5), ("sea", 0.25)]
    assert (result.l0, type(result.l0)) == (2, int)
    assert result.cosine == pytest.approx(0.8)
    with pytest.raises(TypeError, match="must be a number"):
        ImageResult("a.png", [("dog", np.array([0.5, 0.1]))], 1, 0.8, thumbnail=None)


def test_ranking_rows_carry_the_counts_behind_each_share():
    # a share alone hides 2 of 2 against 200 of 200
    n = 20
    W = np.zeros((2 * n + 2, 2))
    W[:15, 0] = 1.0  # coast: 15 of 20
    W[n : n + 4, 0] = 1.0  # forest: 4 of 20
    W[2 * n :, 1] = 1.0  # penguin: 2 of 2
    y = np.array(["coast"] * n + ["forest"] * n + ["penguin"] * 2)
    names = ["sea", "ice"]
    one = rank_concepts(W, y, "coast", "forest", concepts=names)
    data = _data(render_report([], ranking=one))
    sea = next(r for r in data["ranking"] if data["concepts"][r[1]] == "sea")
    assert sea[8:] == [15, 20, 4, 20]
    # rankings of several classes put together: each class's own sizes
    both = pd.concat(
        [
            rank_concepts(W, y, c, concepts=names).reset_index().assign(**{"class": c})
            for c in ("coast", "penguin")
        ]
    )
    data = _data(render_report([], ranking=both))
    by = {(data["rankClasses"][r[0]], data["concepts"][r[1]]): r[8:] for r in data["ranking"]}
    assert by["coast", "sea"] == [15, 20, 4, 22]
    assert by["penguin", "ice"] == [2, 2, 0, 40]
    assert by["penguin", "sea"] == [0, 2, 19, 40]  # (none present: size from the class's rows)
    # a comparison of two collections
    from sksplice.shift import compare_datasets

    comparison = compare_datasets(W[:n], W[n : 2 * n], concepts=names)
    data = _data(render_report([], ranking=comparison))
    row = next(r for r in data["ranking"] if data["concepts"][r[1]] == "sea")
    assert row[8:] == [15, 20, 4, 20]
    # a table without the count columns: none shown
    bare = one.drop(columns=["count_positive", "count_negative"])
    assert all(r[8:] == [None] * 4 for r in _data(render_report([], ranking=bare))["ranking"])


def test_the_ranking_text_says_what_the_adjustment_covers():
    """Every class against the rest, as `sksplice report` of a labelled folder shows it:
    the p-values are adjusted in two levels (a false discovery rate) or over the tests of
    all classes together (a family-wise error rate), and the page says so (it said
    "within each class" for all of them), and names the classes that do not differ."""
    from sksplice.analysis import rank_each_class
    from sksplice.report import _ranking_text

    rng = np.random.default_rng(0)
    W = (rng.random((60, 4)) < 0.3).astype(float)
    W[:20, 0] = 1.0  # ("sea" in every coast image)
    y = np.repeat(["coast", "forest", "desert"], 20)
    names = ["sea", "sky", "sand", "tree"]
    pooled = rank_each_class(W, y, names, correction="holm")
    text = _ranking_text(pooled)
    assert text["adjusted"] == (
        "p adjusted (Holm) over the 12 tests of all 3 classes together (each class against "
        "the rest)"
    )
    assert "over the 12 tests of all 3 classes together" in render_report([], ranking=pooled)
    two_levels = rank_each_class(W, y, names)
    assert two_levels.attrs["n_classes_differing"] == 1
    text = _ranking_text(two_levels)
    assert text["adjusted"] == (
        "p adjusted (Benjamini-Hochberg) in two levels: each class against the rest as a "
        "whole (all 3 classes: 1 found to differ), then the concepts of each class found to "
        "differ, at alpha x 1/3"
    )
    class_p = two_levels.attrs["class_p_adjusted"]
    page = render_report([], ranking=two_levels)
    assert (
        f"Classes desert (20 images, adjusted p {class_p['desert']:.2g}) and forest (20 "
        f"images, adjusted p {class_p['forest']:.2g}) are not found to differ from the rest as "
        "a whole, so no concept of them is significant: a test that finds no difference does "
        "not show that there is none, and a small class shows only large ones."
    ) in page
    # none of them differing: one line, not a paragraph naming each class
    W_none = (rng.random((60, 4)) < 0.3).astype(float)
    none = rank_each_class(W_none, y, names)
    assert none.attrs["n_classes_differing"] == 0
    low, high = (
        min(none.attrs["class_p_adjusted"].values()),
        max(none.attrs["class_p_adjusted"].values()),
    )
    span = f"{low:.2g}" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g} to {high:.2g}"
    assert (
        f"None of the 3 classes is found to differ from the rest as a whole (adjusted p "
        f"{span}), so no concept is significant: a test that finds no difference"
    ) in render_report([], ranking=none)
    assert text["test"] == (
        "Fisher's exact test, one-sided (for concepts more frequent in its class than outside it)"
    )
    assert text["heading"] == "Concepts more frequent in a class than outside it"
    assert "within each class" not in page and "z-test" not in page
    # rankings concatenated by hand, each adjusted on its own, are said to be
    parts = [
        rank_concepts(W, y, c, concepts=["sea", "sky", "sand", "tree"])
        .reset_index()
        .assign(**{"class": c})
        for c in ("coast", "forest")
    ]
    assert "within each class" in _ranking_text(pd.concat(parts))["adjusted"]
    # no correction: not said to be adjusted
    alone = rank_concepts(W, y, "coast", concepts=["sea", "sky", "sand", "tree"], correction=None)
    assert _ranking_text(alone)["adjusted"] == "p not adjusted for multiple testing"


def test_rankings_put_together_are_said_to_be_adjusted_as_their_p_values_show():
    # adjusted together, as docs/analysis.md suggests: the page said "within each class"
    from scipy import stats

    from sksplice.report import _ranking_text

    rng = np.random.default_rng(0)
    W = (rng.random((60, 5)) < 0.4).astype(float)
    W[:20, 0] = 1.0
    y = np.repeat(["coast", "forest", "desert"], 20)
    names = ["sea", "sky", "sand", "tree", "rock"]
    parts = [
        rank_concepts(W, y, c, concepts=names).reset_index().assign(**{"class": c})
        for c in ("coast", "forest", "desert")
    ]
    each = pd.concat(parts, ignore_index=True)
    # (and that the highlighted rows of the whole table are then not controlled)
    assert _ranking_text(each)["adjusted"] == (
        "p adjusted (Benjamini-Hochberg) for the number of concepts tested, within each "
        "class (each class is ranked against the rest on its own), not over the 3 classes: "
        "where no class differs, some class has a chance concept highlighted far more often "
        "than the level says (sksplice.analysis.rank_each_class adjusts over the classes too)"
    )
    together = each.assign(p_adjusted=stats.false_discovery_control(each["p_value"]))
    assert _ranking_text(together)["adjusted"] == (
        "p adjusted (Benjamini-Hochberg) over the 15 tests of all 3 classes together"
    )
    page = render_report([], ranking=together)
    assert "over the 15 tests of all 3 classes together" in page
    assert "within each class" not in page
    # rankings made with correction=None: their p-values are not adjusted
    plain = pd.concat(
        [
            rank_concepts(W, y, c, concepts=names, correction=None)
            .reset_index()
            .assign(**{"class": c})
            for c in ("coast", "forest", "desert")
        ]
    )
    assert _ranking_text(plain)["adjusted"] == "p not adjusted for multiple testing"
    assert _ranking_text(plain)["p"] == "p"
    # no p-values to tell from (a table read back from `sksplice profile -f csv`)
    read_back = together.drop(columns="p_value")
    assert _ranking_text(read_back)["adjusted"] == (
        "p adjusted; the table does not record whether within each class or over all "
        "classes together"
    )


def test_the_ranking_text_of_two_classes_says_both():
    """Two classes are "both classes", not "all 2 classes"."""
    from sksplice.analysis import rank_each_class
    from sksplice.report import _ranking_text

    rng = np.random.default_rng(1)
    W = (rng.random((40, 3)) < 0.4).astype(float)
    y = np.repeat(["coast", "forest"], 20)
    W[:20, 0] = 1.0
    W[20:, 2] = 1.0
    text = _ranking_text(rank_each_class(W, y, ["sea", "sky", "tree"]))
    assert text["adjusted"] == (
        "p adjusted (Benjamini-Hochberg) in two levels: each class against the rest as a "
        "whole (both classes: both found to differ), then the concepts of each class found to "
        "differ"
    )
    text = _ranking_text(rank_each_class(W, y, ["sea", "sky", "tree"], correction="bonferroni"))
    assert text["adjusted"] == (
        "p adjusted (Bonferroni) over the 6 tests of both classes together (each class "
        "against the rest)"
    )


@pytest.mark.parametrize(
    ("alternative", "heading", "test", "claim"),
    [
        (
            "two-sided",
            "Concepts whose prevalence differs between A and B",
            "Fisher's exact test, two-sided",
            "the concept's prevalence differs",
        ),
        (
            "greater",
            "Concepts more frequent in B than in A",
            "Fisher's exact test, one-sided (for concepts more frequent in B than in A)",
            "the concept is more frequent in B than in A",
        ),
        (
            "less",
            "Concepts less frequent in B than in A",
            "Fisher's exact test, one-sided (for concepts less frequent in B than in A)",
            "the concept is less frequent in B than in A",
        ),
    ],
)
def test_a_one_sided_comparison_says_its_direction(alternative, heading, test, claim):
    # a comparison made with alternative="less" was headed "Concepts whose prevalence
    # differs between A and B" and never said that the test was one-sided
    from sksplice.shift import compare_datasets

    W_a = np.r_[np.tile([0.0, 0.4], (20, 1)), np.tile([0.3, 0.2], (2, 1))]
    W_b = np.r_[np.tile([0.5, 0.4], (18, 1)), np.tile([0.0, 0.2], (4, 1))]
    comparison = compare_datasets(W_a, W_b, concepts=["snow", "dog"], alternative=alternative)
    page = render_report([], ranking=comparison)
    assert f"<h2>{heading}</h2>" in page
    assert f"Test: {test};".replace("'", "&#39;") in page
    assert f"not evidence that {claim}".replace("'", "&#39;") in page
    named = compare_datasets(
        W_a, W_b, concepts=["snow", "dog"], alternative=alternative, labels=("autumn", "B")
    )
    if alternative == "less":
        assert "<h2>Concepts less frequent in B than in A (autumn)</h2>" in render_report(
            [], ranking=named
        )


def test_a_page_says_which_classes_are_too_small_to_test():
    """Two images against two: Fisher's exact test gives no p-value below 1/6, so no row
    can be highlighted; the page says so (that no row is highlighted is no finding about
    those classes), and says nothing where classes are large enough."""
    from sksplice.analysis import TooFewSamplesWarning, concept_profiles, rank_each_class
    from sksplice.shift import compare_datasets

    W = np.array([[0.5, 0.0], [0.4, 0.1], [0.0, 0.3], [0.1, 0.2]])
    labels = np.array(["autumn", "autumn", "<b>winter</b>", "<b>winter</b>"])
    results = [
        ImageResult(f"{i}.png", [("leaf", 0.5)], 1, 0.9, label=c, thumbnail=_png_uri())
        for i, c in enumerate(labels)
    ]
    profiles = concept_profiles(W, labels, ["leaf", "snow"])
    with pytest.warns(TooFewSamplesWarning):
        ranking = rank_each_class(W, labels, ["leaf", "snow"])
    page = render_report(results, ranking=ranking, profiles=profiles)
    assert (
        "Too few images to test classes &lt;b&gt;winter&lt;/b&gt; (2 images, p 0.17) and autumn "
        "(2 images, p 0.17): for classes of these sizes Fisher&#39;s exact test gives no "
        "p-value below the one in parentheses"
    ) in page
    with pytest.warns(TooFewSamplesWarning):
        comparison = compare_datasets(W[:2], W[2:], concepts=["leaf", "snow"])
    page = render_report(results, ranking=comparison, profiles=profiles)
    assert "Too few images to test: for groups of these sizes" in page
    assert "no p-value below 0.33, whatever the counts" in page
    # (a correction that raises the floor: the page says so, with the floor it gives)
    W_many = np.tile(W, (1, 40))
    names = [f"c{i}" for i in range(80)]
    wide = np.array(["autumn"] * 3 + ["winter"] * 9)
    with pytest.warns(TooFewSamplesWarning, match="Bonferroni correction over 160 tests"):
        ranking = rank_each_class(np.tile(W_many, (3, 1)), wide, names, correction="bonferroni")
    page = render_report(results, ranking=ranking, profiles=profiles)
    assert (
        "for classes of these sizes Fisher&#39;s exact test, with the Bonferroni correction, "
        "gives no adjusted p-value below the one in parentheses"
    ) in page
    assert "autumn (3 images, adjusted p 0.73)" in page
    # classes large enough: nothing said
    W = np.tile(W, (10, 1))
    labels = np.tile(labels, 10)
    page = render_report(
        results, ranking=rank_each_class(W, labels, ["leaf", "snow"]), profiles=profiles
    )
    assert "Too few images" not in page


def test_a_comparison_page_calls_its_two_collections_collections():
    # The summary said "2 classes", the cards "Classes: their most prevalent concepts" and
    # an image "class autumn", of the two folders compared.
    from sksplice.analysis import concept_profiles
    from sksplice.shift import compare_datasets

    W = np.array([[0.5, 0.0], [0.4, 0.1], [0.0, 0.3], [0.1, 0.2]])
    labels = np.array(["autumn", "autumn", "winter", "winter"])
    comparison = compare_datasets(
        W[:2], W[2:], concepts=["leaf", "snow"], labels=("autumn", "winter")
    )
    results = [
        ImageResult(f"{c}/{i}.png", [("leaf", 0.5)], 1, 0.9, label=c, thumbnail=_png_uri())
        for i, c in enumerate(labels)
    ]
    profiles = concept_profiles(W, labels, ["leaf", "snow"])
    page = render_report(results, ranking=comparison, profiles=profiles)
    assert "<span>collections</span>" in page and "<span>classes</span>" not in page
    assert '<a href="#classes">Collections</a>' in page
    assert "<h2>Collections: their most prevalent concepts</h2>" in page
    assert '<option value="">all collections</option>' in page
    assert _data(page)["labelWord"] == "collection"
    # (the concept panel's heading, and an image's details, take the word from the data)
    assert '"Prevalence per " + DATA.labelWord' in page and "Prevalence per class" not in page
    # a ranking of classes keeps its words
    ranking = rank_concepts(W, labels, "autumn", concepts=["leaf", "snow"])
    page = render_report(results, ranking=ranking, profiles=profiles)
    assert "<span>classes</span>" in page and "<h2>Classes: their most prevalent" in page
    assert _data(page)["labelWord"] == "class"


def test_undecodable_concept_names_are_shown_escaped_everywhere():
    """A concept or class name that is not valid UTF-8 (lone surrogates) is escaped in every
    place of the page: the images' concepts and classes, the most frequent concepts, with
    a ranking and profiles (the texts are treated only where texts are)."""
    import os

    bad = os.fsdecode(b"caf\xe9")
    cls = os.fsdecode(b"cl\xff")
    results = [
        ImageResult("a.png", [(bad, 0.5), ("sky", 0.25)], 2, 0.9, label=cls, thumbnail=_png_uri()),
        ImageResult("b.png", [("sky", 0.5)], 1, 0.8, label="dogs", thumbnail=_png_uri()),
    ]
    W = np.array([[0.5, 0.25], [0.0, 0.5]])
    y = np.array(["cats", "dogs"])
    ranking = pd.concat(
        [
            rank_concepts(W, y, c, concepts=["sea", "sky"]).reset_index().assign(**{"class": c})
            for c in ("cats", "dogs")
        ],
        ignore_index=True,
    )
    # (the tables hold no lone surrogate: pandas' text dtype refuses them)
    profiles = concept_profiles(W, y, ["sea", "sky"])
    page = render_report(results, ranking=ranking, profiles=profiles)
    page.encode("utf-8")
    assert "\\udc" not in page
    data = _data(page)
    assert "caf\\xe9" in data["concepts"] and bad not in data["concepts"]
    assert data["classes"] == ["cl\\xff", "dogs"]
    assert "sea" in data["prevalence"] and "sea" in data["concepts"]
    assert "caf\\xe9" in page.split('id="sksplice-data"')[0]  # (the frequent concepts)


@pytest.mark.parametrize(
    ("concepts", "error", "match"),
    [
        ([("sky", "0.5")], TypeError, r"the weight of concept 'sky' \(`concepts\[0\]`\)"),
        ([("sky", True)], TypeError, r"the weight of concept 'sky'"),
        ([("sky", 0.5, 1)], ValueError, r"`concepts\[0\]` must be a \(concept, weight\) pair"),
        ([(None, 0.5)], TypeError, r"`concepts\[0\]` names its concept by"),
        ([("sky", 0.5), "sea"], TypeError, r"`concepts\[1\]` must be a \(concept, weight\)"),
        ({"sky": 0.5}, TypeError, r"give its items"),
        ("sky", TypeError, r"`concepts` must be a list of"),
    ],
)
def test_bad_concept_pairs_still_raise(concepts, error, match):
    with pytest.raises(error, match=match):
        ImageResult("a.png", concepts, 1, 0.9)


def test_concept_pairs_are_plain_floats():
    """Every weight becomes a Python float, whatever number type it was given as."""
    r = ImageResult("a.png", [("a", np.float32(0.5)), ("b", 1), ("c", np.float64(0.25))], 3, 0.9)
    assert r.concepts == [("b", 1.0), ("a", 0.5), ("c", 0.25)]  # (largest first)
    assert all(type(w) is float for _, w in r.concepts)
    r = ImageResult("a.png", [["a", 0.5], (2, np.int64(1))], 2, 0.9)
    assert r.concepts == [(2, 1.0), ("a", 0.5)]


def test_plain_pairs_and_numbers_are_not_walked_one_by_one(monkeypatch):
    """The texts are looked for where texts are, not in every weight and ranking cell, and
    (str, float) pairs are not checked pair by pair (both cost seconds for thousands of
    images)."""
    from sksplice import report

    calls = {"_shown_texts": 0, "_is_number": 0}
    for name in calls:
        original = getattr(report, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(report, name, counted)
    pairs = [(f"concept {j}", 1.0 / (j + 1)) for j in range(40)]
    results = [
        ImageResult(f"img{i}.png", pairs, 40, 0.9, label=f"c{i % 2}", thumbnail=_png_uri())
        for i in range(50)
    ]
    # (l0, cosine and baseline_cosine of each image; no weight)
    assert calls["_is_number"] == 3 * 50
    calls["_shown_texts"] = 0
    render_report(results)
    # (about 2 per image and per text: 2,000 weights and their lists are not walked)
    assert calls["_shown_texts"] < 400


def _each_class_page(alternative: str = "greater", **kwargs):
    from sksplice.analysis import rank_each_class

    rng = np.random.default_rng(5)
    W = (rng.random((90, 8)) < 0.2) * rng.random((90, 8))
    y = np.repeat(["coast", "forest", "desert"], 30)
    W[y == "coast", 0] = 0.0  # (absent from a class)
    W[y == "coast", 1] = 0.5  # (significant in that class)
    names = [f"k{j}" for j in range(8)]
    ranking = rank_each_class(W, y, names, alternative=alternative)
    return ranking, render_report([], ranking=ranking, **kwargs)


def test_rows_that_can_never_be_significant_are_left_out_and_said():
    """With the one-sided test for concepts more frequent in the class, a concept in no
    image of the class has p = 1: its rows are not in the page (two thirds of a ranking of
    100 classes), the page says how many, and the adjustment still counts them."""
    ranking, page = _each_class_page()
    data = _data(page)
    absent = ranking["count_positive"] == 0
    assert absent.any() and not ranking.loc[absent, "significant"].any()
    shown = [(data["rankClasses"][r[0]], data["concepts"][r[1]]) for r in data["ranking"]]
    kept = ranking.loc[~absent]
    assert shown == list(zip(kept["class"], kept["concept"], strict=True))
    assert [r[6] for r in data["ranking"]] == [float(f"{p:.6g}") for p in kept["p_adjusted"]]
    assert sum(r[7] for r in data["ranking"]) == ranking["significant"].sum() > 0
    # every class's sizes are still known (from all rows)
    assert all(r[9] == 30 and r[11] == 60 for r in data["ranking"])
    n = int(absent.sum())
    rows = "1 row" if n == 1 else f"{n} rows"
    assert f"Not listed: {rows} of a concept in no image of the class" in page
    assert "in two levels: each class against the rest as a whole (all 3 classes:" in page
    # one class against another: the class is named
    W = np.tile(np.eye(3), (10, 1))
    y = np.tile(["coast", "forest", "desert"], 10)
    pair = rank_concepts(W, y, "coast", "forest", concepts=["sea", "tree", "sand"])
    page = render_report([], ranking=pair)
    assert "Not listed: 1 row of a concept in no image of coast, which" in page


@pytest.mark.parametrize("alternative", ["two-sided", "less"])
def test_rows_are_all_listed_for_other_alternatives(alternative):
    ranking, page = _each_class_page(alternative)
    assert len(_data(page)["ranking"]) == len(ranking)
    assert "Not listed" not in page


def test_prevalences_are_those_of_concepts_the_page_links():
    """The prevalence per class is shown for a clicked concept: the page carries it for
    the concepts it links (images, ranking, class profiles), not for every concept."""
    rng = np.random.default_rng(6)
    W = (rng.random((40, 30)) < 0.3) * rng.random((40, 30))
    W[:, 29] = 0.0
    W[25, 29] = 0.01  # (in one image: in no class's top 10, nor in the images below)
    y = np.repeat(["a", "b"], 20)
    names = [f"k{j}" for j in range(30)]
    profiles = concept_profiles(W, y, names)
    results = [ImageResult("i.png", [("k1", 0.5)], 1, 0.9, label="a", thumbnail=_png_uri())]
    data = _data(render_report(results, profiles=profiles))
    assert "k1" in data["prevalence"]
    assert "k29" not in data["prevalence"]
    assert set(data["prevalence"]) <= set(names) and len(data["prevalence"]) < 30


@pytest.mark.parametrize(("alpha", "shown"), [(0.05, "0.05"), (0.01, "0.01"), (1e-05, "1e-05")])
def test_the_significance_level_is_written_into_the_page(alpha, shown):
    # (not only filled in by the page's script: read without JavaScript, and by tools)
    W = np.zeros((8, 2))
    W[:4, 0] = 1.0
    y = np.array(["a"] * 4 + ["b"] * 4)
    page = render_report([], ranking=rank_concepts(W, y, "a", concepts=["x", "z"], alpha=alpha))
    assert ('rows are significant (adjusted p &lt; <span id="alpha">' + shown + "</span>);") in page


@pytest.mark.parametrize("make", ["rank", "compare"])
def test_p_values_not_adjusted_are_not_titled_adjusted(make):
    # correction=None: the column and the level name plain p-values, as the text does
    from sksplice.shift import compare_datasets

    W = np.zeros((8, 2))
    W[:4, 0] = 1.0
    y = np.array(["a"] * 4 + ["b"] * 4)
    for correction, column, level in ((None, "p", "p"), ("holm", "p adjusted", "adjusted p")):
        if make == "rank":
            ranking = rank_concepts(W, y, "a", concepts=["x", "z"], correction=correction)
        else:
            ranking = compare_datasets(W[:4], W[4:], ["x", "z"], correction=correction)
        page = render_report([], ranking=ranking)
        assert f'<th data-col="6" data-type="num" class="num">{column}</th>' in page
        assert f'rows are significant ({level} &lt; <span id="alpha">0.05</span>);' in page
        assert ("not adjusted for multiple testing" in page) is (correction is None)


def test_each_class_of_a_cut_ranking_keeps_its_sizes_and_the_page_says_what_was_cut():
    # `sksplice report -k 2`: a class whose kept rows all had the concept in no image
    # outside it showed "0.0% 0" (no size: it was guessed from count / share); and the
    # page did not say that it lists the top rows only, nor what that left out
    from sksplice.analysis import rank_each_class
    from sksplice.cli._profile import _top_per_class

    # "tent" in 1 of 4 "camp" images and nowhere else; "rare" in 2 of 4, none outside
    n_a, n_b = 4, 12
    W = np.zeros((n_a + n_b, 4))
    W[:1, 0] = 1.0
    W[:2, 1] = 1.0
    W[n_a:, 2] = 1.0  # "road": in every "city" image
    W[n_a : n_a + 6, 3] = 1.0
    y = np.array(["camp"] * n_a + ["city"] * n_b)
    ranking = rank_each_class(W, y, ["tent", "rare", "road", "car"])
    top = _top_per_class(ranking, 2)
    data = _data(render_report([], ranking=top))
    sizes = {
        (data["rankClasses"][r[0]], data["concepts"][r[1]]): (r[9], r[11]) for r in data["ranking"]
    }
    assert sizes[("camp", "rare")] == (4, 12) and sizes[("camp", "tent")] == (4, 12)
    assert sizes[("city", "road")] == (12, 4)
    # the cut, said above the table
    page = render_report([], ranking=top)
    assert "Listed: the top 2 rows of each class by difference." in page
    # a significant row below the cut is counted (10 of 10 against 750 of 1,000 is not
    # significant; 2 of 10 against none of 1,000 is, and ranks below them)
    n_x, n_y = 10, 1000
    W = np.zeros((n_x + n_y, 4))
    W[:n_x, :3] = 1.0
    W[n_x : n_x + 750, :3] = 1.0
    W[:2, 3] = 1.0
    y = np.array(["x"] * n_x + ["y"] * n_y)
    ranking = rank_each_class(W, y, ["a", "b", "c", "rare"])
    assert ranking.set_index(["class", "concept"]).loc[("x", "rare"), "significant"]
    top = _top_per_class(ranking, 3)
    assert top.attrs["significant_not_listed"] == 1
    assert (
        "Listed: the top 3 rows of each class by difference; 1 significant row below them is "
        "left out. Not listed: 1 row of a concept in no image of the class, which the one-sided "
        "test can never find significant (it is counted in the adjustment)."
        in render_report([], ranking=top)
    )


def test_a_plain_table_of_shares_gives_its_groups_sizes_from_its_attrs():
    # `sksplice compare A B --report`: the two collections' cards read "A: person 100%",
    # a share of 1 image
    profiles = pd.DataFrame({"A": [1.0, 0.0], "B": [0.5, 0.5]}, index=["person", "sea"])
    profiles.attrs["n_samples"] = {"A": 1, "B": 6}
    data = _data(render_report([], profiles=profiles))
    assert data["groupNames"] == ["A (n=1)", "B (n=6)"]


def test_a_share_that_is_neither_none_nor_all_never_reads_0_or_100_percent():
    # the class cards showed 199 of 200 images as "100%" and 1 of 300 as "0%"
    from sksplice.report import _share_text

    W = np.zeros((500, 3))
    W[:199, 0] = 1.0  # "sky": 199 of the 200 "a" images
    W[:200, 1] = 1.0  # "sea": all of them
    W[200, 2] = 1.0  # "kite": 1 of the 300 "b" images
    W[201:, 1] = 1.0
    profiles = concept_profiles(W, ["a"] * 200 + ["b"] * 300, ["sky", "sea", "kite"])
    page = render_report([], profiles=profiles)
    cards = re.search(r'<section id="classes">.*?</section>', page, re.S).group(0)
    # (the last card of a concept wins: "sky" in a, "kite" in b)
    shown = {
        concept: html.unescape(text)
        for concept, text in re.findall(
            r'data-concept="([^"]+)"[^>]*>[^<]*</a>.*?<span class="val">([^<]*)</span>', cards, re.S
        )
    }
    assert shown["sky"] == ">99%" and shown["kite"] == "<1%"
    a_card = cards.split("<h3")[2]
    assert re.search(r'data-concept="sea".*?<span class="val">100%</span>', a_card, re.S)
    # the page's data keeps such shares off 0 and 1 too
    prevalence = _data(page)["prevalence"]
    assert 0 < prevalence["kite"][2] < 0.01 and 0.99 < prevalence["sky"][1] < 1
    # (halves rounded up: 3/40 and 5/40 were "8%" and "12%", half to even with float noise)
    assert [_share_text(k / 40) for k in (3, 5, 15, 25, 35)] == ["8%", "13%", "38%", "63%", "88%"]
    assert [_share_text(v) for v in (0.0, 0.004, 0.005, 0.5, 0.994, 0.995, 1.0)] == [
        "0%",
        "<1%",
        "1%",
        "50%",
        "99%",
        ">99%",
        "100%",
    ]


def test_the_page_data_never_rounds_a_share_to_none_or_all_nor_a_significant_p_to_alpha():
    from sksplice.report import _rounded_share

    assert _rounded_share(1 - 1 / 3e6) < 1.0 and _rounded_share(1 / 3e6) > 0.0
    assert _rounded_share(-(1 - 1 / 3e6)) > -1.0 and _rounded_share(0.12345) == 0.123
    assert _rounded_share(1.0) == 1.0 and _rounded_share(0.0) == 0.0
    assert _rounded_share(float("nan")) is None
    # a significant p-value a hair below alpha: 6 digits made it 0.05
    ranking = pd.DataFrame(
        {
            "prevalence_positive": [0.9],
            "prevalence_negative": [0.1],
            "prevalence_diff": [0.8],
            "test": ["fisher"],
            "p_adjusted": [0.05 * (1 - 1e-8)],
            "significant": [True],
        },
        index=pd.Index(["sea"], name="concept"),
    )
    ranking.attrs.update(alpha=0.05)
    (row,) = _data(render_report([], ranking=ranking))["ranking"]
    assert row[6] < 0.05


def test_class_sizes_recorded_under_other_labels_fall_back_to_the_counts():
    # integer classes whose attrs went through JSON ("1", "2"), and a class renamed after
    # the ranking was made: the recorded size where the label matches, else count/share
    from sksplice.analysis import rank_each_class

    W = np.zeros((16, 2))
    W[:2, 0] = 1.0
    W[4:10, 1] = 1.0
    y = np.array([1] * 4 + [2] * 12)
    ranking = rank_each_class(W, y, ["tent", "road"])
    ranking.attrs["class_sizes"] = {str(k): v for k, v in ranking.attrs["class_sizes"].items()}
    data = _data(render_report([], ranking=ranking))
    sizes = {
        (data["rankClasses"][r[0]], data["concepts"][r[1]]): (r[9], r[11]) for r in data["ranking"]
    }
    assert sizes[("1", "tent")] == (4, 12) and sizes[("2", "road")] == (12, 4)
    renamed = ranking.assign(**{"class": ranking["class"].map({1: "camp", 2: "city"})})
    data = _data(render_report([], ranking=renamed))
    sizes = {
        (data["rankClasses"][r[0]], data["concepts"][r[1]]): (r[9], r[11]) for r in data["ranking"]
    }
    assert sizes[("camp", "tent")] == (4, 12) and sizes[("city", "road")] == (12, 4)


def test_ranking_rows_are_made_without_collector_passes():
    """The page's ranking rows (a list of numbers each) are made with the cyclic garbage
    collector paused (736,000 rows of 100 classes: 7.9 s before, 6.2 s so), and it runs
    again afterwards; the rows are those of the table."""
    import gc

    from sksplice.analysis import rank_each_class
    from sksplice.report import _ranking_rows

    from .conftest import collector_passes

    rng = np.random.default_rng(0)
    W = rng.random((600, 200)) * (rng.random((600, 200)) < 0.2)
    y = rng.choice([f"class {k}" for k in range(30)], size=600)
    ranking = rank_each_class(W, y, [f"c{j}" for j in range(200)])
    with collector_passes() as passes:
        classes, rows, left_out = _ranking_rows(ranking, {})
    assert gc.isenabled()
    # (thousands of rows of lists: passes before; the few left are of the columns first)
    assert len(rows) + left_out == len(ranking) and len(passes) <= 2, passes
    kept = ranking[ranking["count_positive"] > 0]
    assert [classes[r[0]] for r in rows] == kept["class"].astype(str).tolist()
    assert [r[7] for r in rows] == kept["significant"].astype(int).tolist()


def test_a_jpeg_thumbnail_is_decoded_at_a_fraction_of_its_size(tmp_path, monkeypatch):
    # a 1600 x 1200 photo decoded whole took 80 ms for a 96-pixel thumbnail
    import numpy as np

    from sksplice import _images

    path = tmp_path / "photo.jpg"
    pixels = np.zeros((1200, 1600, 3), np.uint8)
    pixels[:, :800] = (255, 0, 0)
    Image.fromarray(pixels).save(path, quality=90)
    decoded = []
    real = _images._to_rgb

    def seen(image, declared_by=None):
        decoded.append(image.size)
        return real(image, declared_by)

    monkeypatch.setattr(_images, "_to_rgb", seen)
    uri = thumbnail_data_uri(path)
    assert decoded == [(200, 150)]  # (1/8 of each side: no smaller than 96)
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        assert img.size == (96, 72)
        thumb = np.asarray(img.convert("RGB"), dtype=float)
    assert thumb[:, :40, 0].mean() > 200 and thumb[:, -40:, 0].mean() < 50
    # the embedder decodes it whole
    decoded.clear()
    assert _images.load_rgb(str(path)).size == (1600, 1200) and decoded == [(1600, 1200)]


def test_the_report_makes_its_thumbnails_in_threads(tmp_path, monkeypatch):
    import threading

    from sksplice import report

    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (40, 30), (40 * i, 0, 0)).save(paths[-1])
    threads = set()
    real = report.thumbnail_data_uri

    def recorded(path, size=report.THUMBNAIL_SIZE):
        threads.add(threading.current_thread().name)
        return real(path, size)

    monkeypatch.setattr(report, "thumbnail_data_uri", recorded)
    monkeypatch.setattr(report.os, "cpu_count", lambda: 4)
    results = [ImageResult(str(p), [("sky", 0.5)], 1, 0.9) for p in paths]
    data = _data(render_report(results))
    assert threads and all(name.startswith("sksplice-thumbs") for name in threads)
    # in the order of the images
    assert [image["t"] for image in data["images"]] == [real(p) for p in paths]


@pytest.mark.parametrize(
    ("concepts", "l0", "cosine", "message"),
    [
        (
            [("sky", 0.5)],
            1,
            5.0,
            r"`cosine` must be a cosine similarity, between -1 and 1, got 5.0",
        ),
        ([("sky", 0.5)], 1, -1.5, r"`cosine` must be .* got -1.5"),
        ([("dog", -0.5), ("cat", 0.1)], 2, 0.9, r"concept 'dog' has weight -0.5: SpLiCE weights"),
        ([("cat", 0.0)], 1, 0.9, r"concept 'cat' has weight 0.0"),
        ([("cat", 0.2), ("dog", 0.1)], 1, 0.9, r"`l0` is 1 but 2 concepts with non-zero weights"),
    ],
)
def test_values_no_decomposition_has_are_refused(concepts, l0, cosine, message):
    # The page showed them as facts: a mean cosine of 5.000, a negative weight counted as
    # present, l0 0 beside a concept.
    with pytest.raises(ValueError, match=r"^ImageResult\(path='a.png'\): " + message):
        ImageResult("a.png", concepts, l0, cosine)
    # a cosine of 1 rounded above it in float32 is a cosine; smallest-first is put in order
    r = ImageResult("a.png", [("cat", 0.1), ("dog", 0.9)], 2, float(np.float32(1.00001)))
    assert r.concepts == [("dog", 0.9), ("cat", 0.1)]


def test_the_baseline_cosine_is_shown_beside_the_cosine_where_known():
    """The mean cosine of the recompositions read alone looked like a fit: the page puts
    the mean cosine of the centre alone beside it, and each image's beside its own."""
    results = [
        ImageResult(f"{i}.png", [("sky", 0.5)], 1, 0.8, thumbnail="", baseline_cosine=0.6 + i / 10)
        for i in range(3)
    ]
    page = render_report(results)
    assert re.search(r'id="baseline"[^>]*><span class="num">0\.700</span>', page), page
    assert [img["base"] for img in _data(page)["images"]] == [0.6, 0.7, 0.8]
    # not known (a report made in Python from older records): no card, no value
    page = render_report([ImageResult("a.png", [("sky", 0.5)], 1, 0.8, thumbnail="")])
    assert 'id="baseline"' not in page and _data(page)["images"][0]["base"] is None
    # known for some images only: no mean of other images than the mean cosine's
    page = render_report([*results, ImageResult("b.png", [("sky", 0.5)], 1, 0.8, thumbnail="")])
    assert 'id="baseline"' not in page
    # an image without a cosine is in neither mean
    page = render_report(
        [*results, ImageResult("c.png", [], 0, float("nan"), thumbnail="", baseline_cosine=0.1)]
    )
    assert re.search(r'id="baseline"[^>]*><span class="num">0\.700</span>', page)
    with pytest.raises(ValueError, match=r"`baseline_cosine` must be a cosine similarity"):
        ImageResult("a.png", [("sky", 0.5)], 1, 0.8, baseline_cosine=1.5)
    with pytest.raises(TypeError, match=r"`baseline_cosine` must be a number"):
        ImageResult("a.png", [("sky", 0.5)], 1, 0.8, baseline_cosine="high")


def test_a_report_named_for_another_format_is_warned_about(tmp_path):
    # write_report("r.csv", ...) wrote HTML silently; the command line says so
    results = [ImageResult("x.png", [("sky", 1.0)], 1, 0.9, thumbnail=_png_uri())]
    with pytest.warns(UserWarning, match=r"'.*r\.csv' is an HTML page whatever its extension"):
        write_report(tmp_path / "r.csv", results)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(tmp_path / "r.html", results)
        write_report(tmp_path / "r", results)


def test_a_page_of_rows_calls_them_rows_everywhere_it_counts_them():
    # rows of embeddings computed already (sksplice report of .npy files): the page's
    # text counts rows, its histograms and class cards too; "image" is left only in names
    rng = np.random.default_rng(4)
    concepts = ["sea", "sand", "tree"]
    W = rng.random((12, 3)) * (rng.random((12, 3)) < 0.6)
    W[:2] = 0.0  # (a concept in no row of class a: the left-out ranking rows are said)
    W[:, 0] = np.r_[np.zeros(6), 0.5 + rng.random(6)]
    y = np.repeat(["a", "b"], 6)
    results = [
        ImageResult(f"x.npy:{i}", [(concepts[j], float(W[i, j])) for j in np.flatnonzero(W[i])],
                    int((W[i] > 0).sum()), 0.8, label=str(y[i]), thumbnail="")
        for i in range(12)
    ]  # fmt: skip
    ranking = rank_each_class(W, y, concepts)
    page = render_report(
        results,
        profiles=concept_profiles(W, y, concepts),
        ranking=ranking,
        skipped=[("x.npy:12", "values that are not finite")],
        unit="row",
    )
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style).*?</\1>", "", page,
                                                        flags=re.S)))  # fmt: skip
    assert "image" not in text.lower(), re.findall(r".{30}image.{30}", text, flags=re.I)
    for said in ("12 rows", "concepts per row (mean)", "Concepts per row (l0)",
                 "1 row could not be decomposed", "all rows (n=12)", "(rows)",
                 "the share of rows in which", "or a row to see all its concepts",
                 "table row"):  # fmt: skip
        assert said in " ".join(text.split()), said
    # the ranking table's rows are table rows there, told apart from the rows decomposed
    said = " ".join(text.split())
    assert "Highlighted table rows are significant" in said and "Show more table rows" in said
    assert "Highlighted rows" not in said and "Show more rows" in said  # (the rows' gallery)
    data = _data(page)
    assert (data["unit"], data["units"]) == ("row", "rows")
    # rows without a thumbnail, named by no image file: said as rows
    said = (
        r"^12 of 12 rows have no preview: their names are not paths of image files that can "
        r"be read \('x\.npy:0', \.\.\.\)"
    )
    bare = [ImageResult(r.path, r.concepts, r.l0, r.cosine) for r in results]
    with pytest.warns(UserWarning, match=said):
        render_report(bare, unit="row")
    assert re.search(r"<title>\d+(-\d+)?: \d+ rows?</title>", page)  # (the histogram's bars)
    # the default page counts images, as before
    assert "12 images" in render_report(results)
    with pytest.raises(TypeError, match=r"^`unit` must be text \(a str, such as 'row'\), got "):
        render_report(results, unit=None)
    for blank in ("", " row"):
        with pytest.raises(ValueError, match=r"^`unit` must be a noun without spaces"):
            render_report(results, unit=blank)


@pytest.mark.filterwarnings("ignore::sksplice.analysis.TooFewSamplesWarning")
def test_the_page_names_the_classes_whose_rows_the_ranking_opens_with_last():
    # (the classes no concept can be significant in: too small, or not differing from
    # the rest as a whole; the table opened with such a class of one row, each at 100%)
    rng = np.random.default_rng(0)
    y = np.array(["a lone one"] + ["beach"] * 12 + ["forest"] * 12 + ["hill"] * 12)
    W = (rng.random((37, 6)) < 0.3) * 0.5
    W[y == "beach", 0] = W[y == "forest", 1] = 0.9
    ranking = rank_each_class(W, y, list("abcdef"))
    page = render_report([], ranking=ranking)
    data = _data(page)
    # (hill: no concept apart from the rest's, not found to differ as a whole)
    assert [data["rankClasses"][k] for k in data["rankLast"]] == ["a lone one", "hill"]
    assert "and the rows of the classes named below" in page
    # (none where every class can hold a significant concept)
    page = render_report([], ranking=rank_each_class(W[1:25], y[1:25], list("abcdef")))
    assert _data(page)["rankLast"] == [] and "classes named below" not in page
