"""Tests for sksplice.shift.compare_datasets: dataset shift between two collections."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from sksplice.shift import compare_datasets

from .conftest import REPO_ROOT


def _collections(n_a: int, n_b: int, counts: list[tuple[int, int]]):
    """W_a, W_b with concept j present in the first counts[j] rows of each collection."""
    W_a = np.zeros((n_a, len(counts)))
    W_b = np.zeros((n_b, len(counts)))
    for j, (x_a, x_b) in enumerate(counts):
        W_a[:x_a, j] = 0.5
        W_b[:x_b, j] = 0.25
    return W_a, W_b


def test_fisher_on_small_tables_matches_scipy():
    """Expected counts below 5: the p-value is scipy's two-sided Fisher exact test."""
    n_a, n_b = 12, 15
    counts = [(1, 7), (0, 5), (2, 3)]
    W_a, W_b = _collections(n_a, n_b, counts)
    names = ["snow", "sled", "dog"]
    shift = compare_datasets(W_a, W_b, concepts=names, correction=None)
    for name, (x_a, x_b) in zip(names, counts):
        row = shift.loc[name]
        # B is the first row of the table: "greater" and the signs mean "more in B"
        table = np.array([[x_b, n_b - x_b], [x_a, n_a - x_a]])
        assert row["test"] == "fisher"
        assert row["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
        assert row["count_a"] == x_a and row["count_b"] == x_b
        assert row["prevalence_diff"] == pytest.approx(x_b / n_b - x_a / n_a)
        assert row["p_adjusted"] == row["p_value"]
    # "sled": 0 of 12 against 5 of 15, by hand. Given the margins, the number of the 5
    # "sled" samples in B is hypergeometric: all 5 in B has probability C(15,5) / C(27,5)
    # (the one-sided p-value); the two-sided test adds the tables at most as probable,
    # here only "all 5 in A", C(12,5) / C(27,5)
    one_sided = math.comb(15, 5) / math.comb(27, 5)
    two_sided = (math.comb(15, 5) + math.comb(12, 5)) / math.comb(27, 5)
    assert shift.loc["sled", "p_value"] == pytest.approx(two_sided, rel=1e-12)
    greater = compare_datasets(W_a, W_b, concepts=names, alternative="greater").loc["sled"]
    assert greater["p_value"] == pytest.approx(one_sided, rel=1e-12)
    less = compare_datasets(W_a, W_b, concepts=names, alternative="less").loc["sled"]
    assert less["p_value"] == pytest.approx(1.0)


def test_exact_test_by_hand_and_direction():
    """50 vs 50 samples, present in 10 of A and 30 of B: every expected count is 20 (the
    z-test was used there); Fisher's exact test gives the p-value, B the first row."""
    W_a, W_b = _collections(50, 50, [(10, 30), (30, 10)])
    shift = compare_datasets(W_a, W_b, concepts=["snow", "sand"], correction=None)
    # pooled 0.4; se = sqrt(0.4 * 0.6 * (2 / 50)) = sqrt(0.0096); z = 0.4 / se
    z = 0.4 / math.sqrt(0.0096)
    snow, sand = shift.loc["snow"], shift.loc["sand"]
    assert snow["test"] == "fisher" and sand["test"] == "fisher"
    assert snow["z"] == pytest.approx(z, rel=1e-12) and sand["z"] == pytest.approx(-z, rel=1e-12)
    # the upper tail by hand: P(X >= 30), X the "snow" samples of B among the 40
    tables = sum(math.comb(50, k) * math.comb(50, 40 - k) for k in range(30, 41))
    upper = tables / math.comb(100, 40)
    # (equal collections: the tables mirror each other, the two-sided p-value is twice)
    assert snow["p_value"] == pytest.approx(2 * upper, rel=1e-10)
    assert sand["p_value"] == pytest.approx(2 * upper, rel=1e-10)
    table = [[30, 20], [10, 40]]
    assert snow["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-10)
    assert snow["prevalence_diff"] == pytest.approx(0.4) and sand["prevalence_diff"] < 0
    assert snow["mean_weight_a"] == pytest.approx(0.5 * 10 / 50)
    assert snow["mean_weight_b"] == pytest.approx(0.25 * 30 / 50)
    assert snow["mean_weight_diff"] == pytest.approx(0.15 - 0.1)
    assert snow["cohens_h"] == pytest.approx(2 * math.asin(0.6**0.5) - 2 * math.asin(0.2**0.5))
    # prevalences shrunk toward the pooled 0.4 by one pseudo-observation per collection
    p_b, p_a = (30 + 0.4) / 51, (10 + 0.4) / 51
    expected = math.log(p_b / (1 - p_b)) - math.log(p_a / (1 - p_a))
    assert snow["log_odds_ratio"] == pytest.approx(expected, rel=1e-12)
    assert sand["log_odds_ratio"] == pytest.approx(-expected, rel=1e-12)
    greater = compare_datasets(W_a, W_b, concepts=["snow", "sand"], alternative="greater")
    assert greater.loc["snow", "p_value"] == pytest.approx(upper, rel=1e-10)
    assert greater.loc["sand", "p_value"] == pytest.approx(
        stats.fisher_exact([[10, 40], [30, 20]], alternative="greater").pvalue, rel=1e-10
    )
    assert shift.attrs["n_a"] == 50 and shift.attrs["alternative"] == "two-sided"


def test_correction_sorting_and_min_count(rng):
    W_a = rng.random((80, 30)) * (rng.random((80, 30)) < 0.2)
    W_b = rng.random((70, 30)) * (rng.random((70, 30)) < 0.3)
    W_a[:, 5] = 0.0
    W_b[:, 5] = 0.0
    W_b[:2, 6] = 0.0
    names = [f"c{j}" for j in range(30)]
    shift = compare_datasets(W_a, W_b, concepts=names)
    assert "c5" not in shift.index and len(shift) == 29  # absent everywhere: not tested
    expected = stats.false_discovery_control(shift["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(shift["p_adjusted"], expected)
    np.testing.assert_array_equal(shift["significant"], shift["p_adjusted"] < 0.05)
    p = shift["p_value"].to_numpy()
    assert np.all(np.diff(p) >= 0)
    holm = compare_datasets(W_a, W_b, concepts=names, correction="holm", alpha=0.1)
    assert (holm["p_adjusted"] >= holm["p_value"]).all() and holm.attrs["alpha"] == 0.1
    counts = (W_a != 0).sum(axis=0) + (W_b != 0).sum(axis=0)
    frequent = compare_datasets(W_a, W_b, concepts=names, min_count=30)
    assert set(frequent.index) == {n for n, c in zip(names, counts) if c >= 30}


def test_sparse_and_dataframe_inputs_match_dense(rng):
    W_a = rng.random((40, 6)) * (rng.random((40, 6)) < 0.4)
    W_b = rng.random((30, 6)) * (rng.random((30, 6)) < 0.4)
    names = list("abcdef")
    dense = compare_datasets(W_a, W_b, concepts=names)
    sparse = compare_datasets(sp.csr_matrix(W_a), sp.csc_matrix(W_b), concepts=names)
    pd.testing.assert_frame_equal(dense, sparse)
    frames = compare_datasets(pd.DataFrame(W_a, columns=names), pd.DataFrame(W_b, columns=names))
    pd.testing.assert_frame_equal(dense, frames)
    # names from W_b alone when W_a is an array
    pd.testing.assert_frame_equal(dense, compare_datasets(W_a, pd.DataFrame(W_b, columns=names)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"correction": "fdr"}, ValueError, "correction"),
        ({"alternative": "bigger"}, ValueError, "alternative"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": "0.05"}, TypeError, "alpha"),
        ({"min_count": 0}, ValueError, "min_count"),
        ({"min_count": 1.5}, TypeError, "min_count"),
        ({"labels": ("A", "A")}, ValueError, "labels"),
        ({"labels": "AB"}, ValueError, "labels"),
    ],
)
def test_bad_options(kwargs, error, match):
    W = np.ones((3, 2))
    with pytest.raises(error, match=match):
        compare_datasets(W, W, concepts=["a", "b"], **kwargs)


def test_mismatched_collections_are_named():
    with pytest.raises(ValueError, match="W_a has 2 concept columns but W_b has 3"):
        compare_datasets(np.ones((3, 2)), np.ones((3, 3)), concepts=["a", "b"])
    A = pd.DataFrame(np.ones((3, 2)), columns=["dog", "snow"])
    B = pd.DataFrame(np.ones((3, 2)), columns=["snow", "cat"])
    with pytest.raises(ValueError, match=r"column 0 is 'dog' in W_a and 'snow' in W_b \(2 "):
        compare_datasets(A, B)
    C = pd.DataFrame(np.ones((3, 2)), columns=["dog", "sand"])
    with pytest.raises(ValueError, match=r"\(1 column differs\)"):
        compare_datasets(A, C)
    with pytest.raises(ValueError, match="concept names"):
        compare_datasets(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="no rows"):
        compare_datasets(np.ones((3, 2)), np.ones((0, 2)), concepts=["a", "b"])


@pytest.mark.parametrize("side", ["W_a", "W_b"])
def test_invalid_weights_name_their_collection(side):
    # Both collections were called "concept weights": the rows named meant nothing.
    good = np.ones((4, 2))
    bad_rows = {
        "NaN or infinite values in 2 row(s): 1, 3": np.array(
            [[1, 0], [np.nan, 0], [0, 1], [0, np.inf]], dtype=float
        ),
        "negative values: 2": np.array([[1, 0], [0, 1], [0, -0.5], [1, 1]], dtype=float),
    }
    for message, bad in bad_rows.items():
        for form in (bad, sp.csr_matrix(bad), pd.DataFrame(bad, columns=["a", "b"])):
            W_a, W_b = (form, good) if side == "W_a" else (good, form)
            with pytest.raises(ValueError) as caught:
                compare_datasets(W_a, W_b, concepts=["a", "b"])
            text = str(caught.value)
            assert side in text and message in text, text
            assert "concept weights" not in text, text
    with pytest.raises(ValueError, match=f"^{side} has no rows"):
        compare_datasets(*((good[:0], good) if side == "W_a" else (good, good[:0])), ["a", "b"])
    # (other callers keep their words)
    from sksplice.analysis import _as_weights

    with pytest.raises(ValueError, match=r"^Negative values in data: concept weights must be"):
        _as_weights(-good)


def test_worked_example_finds_the_planted_shift(laion_minilm, minilm, tmp_path):
    """Collection B mentions snow 8x as often: 'snow' is found, subjects and scenes are not."""
    pytest.importorskip("matplotlib")
    from ._helpers_editing import assert_png, load_example

    example = load_example("shift_snow")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    assert_png(result["figures"]["shift"])
    shift, null = result["comparison"], result["null"]
    snow = shift.loc[example.PLANTED]
    assert snow["significant"] and snow["prevalence_diff"] > 0.2
    assert shift.index[0] in {"snow", "snowfall"}
    # subjects and scenes have the same distribution in A and B
    unplanted = [*example.SUBJECTS, *example.SCENES]
    tested = [c for c in unplanted if c in shift.index]
    assert len(tested) >= 10
    assert not shift.loc[tested, "significant"].any()
    # between the captions that do not mention snow nothing differs but chance
    assert not null["significant"].any()
    # every significant shift is carried by the captions that mention snow: the concept's
    # prevalence differs between snow and no-snow captions in the direction of the shift
    data, W = result["collections"], result["weights"]
    index = {name: i for i, name in enumerate(concepts)}
    present = sp.vstack([W["A"], W["B"]]).tocsc() != 0
    snowy = np.concatenate([data["A"]["snow"].to_numpy(), data["B"]["snow"].to_numpy()])
    for name, row in shift[shift["significant"]].iterrows():
        col = present[:, index[name]].toarray().ravel()
        carried = col[snowy].mean() - col[~snowy].mean()
        assert np.sign(carried) == np.sign(row["prevalence_diff"]), name

    # docs/shift.md quotes the table of the significant concepts and the null result
    page = (REPO_ROOT / "docs" / "shift.md").read_text(encoding="utf-8")
    documented = {}
    row_pattern = r"\| (\S+) \| (\d+) \| (\d+) \| ([-+]?0\.\d{3}) \| (\S+) \| (\S+) \|"
    for line in page.splitlines():
        m = re.fullmatch(row_pattern, line)
        if m:
            documented[m.group(1)] = (int(m.group(2)), int(m.group(3)), float(m.group(6)))
    significant = shift[shift["significant"]]
    assert list(documented) == list(significant.index[: len(documented)])
    assert len(documented) >= 10
    for name, (count_a, count_b, p_adj) in documented.items():
        row = significant.loc[name]
        assert (row["count_a"], row["count_b"]) == (count_a, count_b), name
        assert row["p_adjusted"] == pytest.approx(p_adj, rel=0.01), name
    assert f"{int(shift['significant'].sum())} of the {len(shift)} concepts" in page
    assert f"none of the {len(null)} concepts" in page
    assert (shift["test"] == "fisher").all()
    assert "significant (Fisher's exact test, two-sided,\nBenjamini\u2013Hochberg)" in page
    n_snow = [int(data[name]["snow"].sum()) for name in ("A", "B")]
    assert f"{n_snow[0]} of\nA's captions and {n_snow[1]} of B's mention snow" in page
    n_plain = [int((~data[name]["snow"]).sum()) for name in ("A", "B")]
    assert f"({n_plain[0]} of A's, {n_plain[1]} of B's)" in page
    assert f"adjusted p-value {null['p_adjusted'].min():.3f})" in page


# --------------------------------------------------------------- sksplice compare A B

VOCAB = ["cat", "dog", "red", "blue", "car", "tree", "sky", "house", "water", "grass", "snow"]


@pytest.fixture
def two_folders(tmp_path, tiny_clip_model, monkeypatch):
    """Two folders of small random images (red-topped and blue-topped), a vocabulary file."""
    from PIL import Image

    from .conftest import TESTS_DATA

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rng = np.random.default_rng(0)
    folders = []
    for name, tint, n in (("summer", (255, 80, 40), 6), ("winter", (40, 80, 255), 7)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(n):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            arr[:18] = np.asarray(tint, dtype=np.uint8)
            Image.fromarray(arr).save(folder / f"{i}.png")
        folders.append(folder)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    model = ["--model", "sksplice-test-tiny", "--pretrained", "none", "--vocabulary", str(vocab)]
    return folders, vocab, [*model, "--l1-penalty", "0.05", "--device", "cpu"]


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_compare_matches_python(two_folders, capsys):
    import csv
    import io
    import json

    from sksplice import CLIPEmbedder, SpliceTransformer, cli

    (a, b), vocab, model_args = two_folders
    code = cli.main(["compare", str(a), str(b), "-f", "csv", "-k", "50", "--quiet", *model_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = list(csv.DictReader(io.StringIO(captured.out)))

    # the same decomposition and comparison through the Python API
    paths = sorted(a.glob("*.png")) + sorted(b.glob("*.png"))
    X = CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu").transform(
        [str(p) for p in paths]
    )
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(
            model="sksplice-test-tiny", pretrained=None, modality="text", device="cpu"
        ),
        vocabulary=str(vocab),
        l1_penalty=0.05,
        device="cpu",
    ).fit(X)
    W = splice.transform(X)
    expected = compare_datasets(W[:6], W[6:], concepts=splice)
    assert rows and [r["concept"] for r in rows] == list(expected.index)
    for r in rows:
        row = expected.loc[r["concept"]]
        assert (int(r["count_a"]), int(r["count_b"])) == (row["count_a"], row["count_b"])
        assert r["test"] == row["test"]
        # (written to 6 significant digits)
        assert float(r["p_adjusted"]) == pytest.approx(row["p_adjusted"], rel=5e-6)

    for fmt in ("json", "jsonl", "table"):
        code = cli.main(["compare", str(a), str(b), "-f", fmt, "-k", "3", *model_args])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        if fmt == "json":
            data = json.loads(captured.out)
            assert data["metadata"]["a"] == {"folder": str(a), "images": 6}
            assert data["metadata"]["alternative"] == "two-sided"
            assert len(data["comparison"]) == 3
        elif fmt == "jsonl":
            assert len([json.loads(line) for line in captured.out.splitlines()]) == 3
        else:
            assert captured.out.startswith(f"A: {a} (6 images)  B: {b} (7 images)\n")
            assert "concepts whose prevalence differs (adjusted p < 0.05" in captured.out
            assert (
                "concepts tested; Fisher's exact test, two-sided, Benjamini-Hochberg-adjusted "
                "over the concepts tested)\n"
            ) in captured.out
        assert "decomposing" not in captured.out and "warning" not in captured.out


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_shift_page_recipe_gives_what_cli_compare_writes(
    two_folders, capsys, tmp_path, monkeypatch
):
    # The first block of docs/shift.md, run on two folders with the tiny model (no
    # published mean: compare's default learns the centre from both folders), gives
    # the table compare writes; a centre fitted on A alone gave other counts.
    import csv
    import functools
    import io
    import re

    from sksplice import CLIPEmbedder, SpliceTransformer, cli

    (a, b), vocab, model_args = two_folders
    code = cli.main(["compare", str(a), str(b), "-f", "csv", "-k", "50", "--quiet", *model_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = list(csv.DictReader(io.StringIO(captured.out)))

    text = (REPO_ROOT / "docs" / "shift.md").read_text(encoding="utf-8")
    recipe = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    tiny = functools.partial(
        CLIPEmbedder, model="sksplice-test-tiny", pretrained=None, device="cpu"
    )
    embed = tiny()
    namespace = {
        "X_a": embed.transform([str(p) for p in sorted(a.glob("*.png"))]),
        "X_b": embed.transform([str(p) for p in sorted(b.glob("*.png"))]),
    }
    # the page's imports, then its names bound to the tiny model and the folders' settings
    head, body = recipe.split("\n\n", 1)
    exec(head, namespace)
    namespace["CLIPEmbedder"] = tiny
    namespace["SpliceTransformer"] = functools.partial(
        SpliceTransformer, vocabulary=str(vocab), l1_penalty=0.05, device="cpu"
    )
    monkeypatch.chdir(tmp_path)  # (the block saves shift.png)
    exec(body, namespace)
    shift = namespace["shift"]
    assert (tmp_path / "shift.png").is_file()
    assert rows and [r["concept"] for r in rows] == list(shift.index)
    for r in rows:
        row = shift.loc[r["concept"]]
        assert (int(r["count_a"]), int(r["count_b"])) == (row["count_a"], row["count_b"])
        # (written to 6 significant digits)
        assert float(r["mean_weight_diff"]) == pytest.approx(row["mean_weight_diff"], rel=5e-6)
        assert float(r["p_adjusted"]) == pytest.approx(row["p_adjusted"], rel=5e-6)


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_compare_report_holds_the_comparison(two_folders, capsys, tmp_path):
    import json
    import re

    from sksplice import cli

    from ._helpers_faults import dead_writers_name

    (a, b), _, model_args = two_folders
    out = tmp_path / "compare.html"
    # the temporary file of a report write whose process was killed
    name = dead_writers_name(out.name)
    stale = tmp_path / name
    stale.write_text("<html>half", encoding="utf-8")
    args = ["compare", str(a), str(b), "-f", "json", "-k", "50", *model_args]
    code = cli.main([*args, "--report", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert not stale.exists()  # removed by the next write of the report
    # stdout is the comparison as without --report
    code = cli.main(args)
    assert code == 0 and capsys.readouterr().out == captured.out
    comparison = json.loads(captured.out)["comparison"]
    assert comparison

    assert [f.name for f in tmp_path.glob("*.html")] == ["compare.html"]
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page and "@import" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    headers = re.findall(r'<th data-col="\d" [^>]*>([^<]*)</th>', page)
    # one comparison: no column repeating it, the heading names the folders
    assert headers[:4] == ["Concept", "In A", "In B", "Difference (B - A)"]
    assert f"Concepts whose prevalence differs between A ({a}) and B ({b})" in page
    assert 'placeholder="Search concept"' in page
    block = re.search(
        r'<script id="sksplice-data" type="application/json">(.*?)</script>', page, re.S
    )
    data = json.loads(block.group(1))
    # the two folders are the report's classes; every image is shown with its folder
    assert data["classes"] == [str(a), str(b)]
    classes = [data["classes"][image["c"]] for image in data["images"]]
    assert classes == [str(a)] * 6 + [str(b)] * 7
    assert data["rankClasses"] == [f"{a} vs {b}"]
    rows = {data["concepts"][r[1]]: r for r in data["ranking"]}
    assert list(rows) == [rec["concept"] for rec in comparison]
    for rec in comparison:
        row = rows[rec["concept"]]
        assert row[2] == pytest.approx(rec["prevalence_a"], abs=1e-4)
        assert row[3] == pytest.approx(rec["prevalence_b"], abs=1e-4)
        assert row[4] == pytest.approx(rec["prevalence_diff"], abs=1e-4)
        assert row[5] == int(rec["test"] == "fisher") and row[7] == int(rec["significant"])
        assert row[6] == float(f"{rec['p_adjusted']:.6g}")  # sent with 6 significant digits
    assert data["groups"] == [str(a), str(b)]


def test_cli_compare_checks_before_embedding(two_folders, capsys, monkeypatch, tmp_path):
    from sksplice import cli
    from sksplice.embedders import CLIPEmbedder

    def guard(*args, **kwargs):
        raise AssertionError("something was embedded before the options were checked")

    monkeypatch.setattr(CLIPEmbedder, "embed_images", guard)
    monkeypatch.setattr(CLIPEmbedder, "embed_text", guard)
    (a, b), _, model_args = two_folders
    cases = [
        ([str(a), str(tmp_path / "missing")], [], "no such folder"),
        ([str(a), str(a)], [], "is given as both A and B"),
        ([str(a), str(b)], ["--solver", "fista"], "--solver 'fista' is not a solver"),
        ([str(a), str(b)], ["-o", str(tmp_path / "missing" / "x.csv")], "does not exist"),
        ([str(a), str(b)], ["--report", str(tmp_path / "missing" / "x.html")], "does not exist"),
        ([str(a), str(b)], ["--report", str(tmp_path)], "it is a directory (--report)"),
        ([str(a), str(b)], ["--report", "-"], "--report needs a file name"),
        (
            [str(a), str(b)],
            ["-o", str(tmp_path / "x.html"), "--report", str(tmp_path / "x.html")],
            "--report and -o name the same file",
        ),
    ]
    for folders, extra, message in cases:
        code = cli.main(["compare", *folders, *model_args, *extra])
        captured = capsys.readouterr()
        assert code == 2 and captured.out == ""
        assert message in captured.err.strip().splitlines()[-1], captured.err
    assert cli.main(["compare", str(a), str(b), "--alternative", "bigger", *model_args]) == 2


# ------------------------------------------------------------ sksplice search FOLDER


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_search_matches_a_brute_force_ranking(two_folders, capsys):
    import csv
    import io
    import json

    from sksplice import CLIPEmbedder, SpliceTransformer, cli

    (a, b), vocab, model_args = two_folders
    root = a.parent
    args = ["search", str(a), str(b), "--concepts", "red,sky:2", "-n", "4", "-k", "3"]
    code = cli.main([*args, "-f", "jsonl", "--quiet", *model_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]

    paths = sorted(a.glob("*.png")) + sorted(b.glob("*.png"))
    X = CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu").transform(
        [str(p) for p in paths]
    )
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(
            model="sksplice-test-tiny", pretrained=None, modality="text", device="cpu"
        ),
        vocabulary=str(vocab),
        l1_penalty=0.05,
        device="cpu",
    ).fit(X)
    W = splice.transform(X).toarray()
    # brute force: the images holding "red" or "sky", by 1 * w_red + 2 * w_sky
    red, sky = VOCAB.index("red"), VOCAB.index("sky")
    score = W[:, red] + 2 * W[:, sky]
    matches = [i for i in np.argsort(-score, kind="stable") if W[i, red] > 0 or W[i, sky] > 0]
    assert matches, "the query should match some images"
    assert [r["path"] for r in records] == [str(paths[i]) for i in matches[:4]]
    np.testing.assert_allclose([r["score"] for r in records], score[matches[:4]], atol=1e-5)
    assert [r["result"] for r in records] == list(range(1, len(records) + 1))
    # (-k 3, and the query concepts each result holds beyond them, with their rank)
    assert all(len([c for c in r["concepts"] if "rank" not in c]) <= 3 for r in records)
    assert all(c["concept"] in ("red", "sky") for r in records for c in r["concepts"][3:])

    for fmt in ("csv", "json", "table"):
        code = cli.main([*args, "-f", fmt, *model_args])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(captured.out)))
            assert rows[0]["result"] == "1" and rows[0]["path"] == records[0]["path"]
        elif fmt == "json":
            data = json.loads(captured.out)
            assert data["metadata"]["query"]["concepts"] == {"red": 1.0, "sky": 2.0}
            assert [r["path"] for r in data["images"]] == [r["path"] for r in records]
        else:
            assert captured.out.startswith(f"{records[0]['path']}  (result=1, score=")
        assert "decomposing" not in captured.out

    # a text query: decomposed centred like the vocabulary's texts, as ConceptRetriever does
    from sklearn.base import clone

    from sksplice.retrieval import ConceptRetriever

    code = cli.main(["search", str(root), "--text", "a red sky", "-f", "json", *model_args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["metadata"]["query"]["text"] == "a red sky"
    text_splice = clone(splice).set_params(image_mean=splice.concept_mean_)
    text_splice.fit(splice.concept_mean_[None, :])
    retriever = ConceptRetriever(splice=text_splice).fit(splice.transform(X))
    indices, scores = retriever.search_text("a red sky", k=10)
    assert len(indices) > 0
    assert [r["path"] for r in data["images"]] == [str(paths[i]) for i in indices]
    np.testing.assert_allclose([r["score"] for r in data["images"]], scores, atol=1e-5)


def test_cli_search_checks_the_query_before_embedding(two_folders, capsys, monkeypatch):
    from sksplice import cli
    from sksplice.embedders import CLIPEmbedder

    def guard(*args, **kwargs):
        raise AssertionError("something was embedded before the options were checked")

    monkeypatch.setattr(CLIPEmbedder, "embed_images", guard)
    monkeypatch.setattr(CLIPEmbedder, "embed_text", guard)
    (a, _), _, model_args = two_folders
    cases = [
        (["--concepts", "dgo,snow"], "concepts in --concepts not in the vocabulary: 'dgo'"),
        (["--concepts", "dog:-1"], "must be a positive finite number"),
        (["--concepts", "dog:inf"], "must be a positive finite number, got inf"),
        (["--concepts", "dog:x"], "not a number"),
        (["--concepts", "dog,,snow"], "empty concept name"),
        (["--text", "  "], "--text is empty"),
    ]
    for extra, message in cases:
        code = cli.main(["search", str(a), *extra, *model_args])
        captured = capsys.readouterr()
        assert code == 2 and captured.out == ""
        assert message in captured.err.strip().splitlines()[-1], captured.err
    assert cli.main(["search", str(a), *model_args]) == 2  # exactly one of --concepts and --text


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_search_interrupted_keeps_the_results_written(two_folders, tmp_path, monkeypatch):
    import json

    from sksplice import cli
    from sksplice.cli import _search

    real_rows = _search._iter_rows

    def interrupted(*args, **kwargs):
        for i, rec in enumerate(real_rows(*args, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt
            yield rec

    monkeypatch.setattr(_search, "_iter_rows", interrupted)
    (a, b), _, model_args = two_folders
    out = tmp_path / "found.json"
    out.write_text("previous\n")
    args = ["search", str(a), str(b), "--concepts", "red,sky", "-n", "5", "-f", "json"]
    code = cli.main([*args, "-o", str(out), "--quiet", *model_args])
    assert code == 130
    assert out.read_text() == "previous\n"  # an interrupted run never replaces the file
    data = json.loads((tmp_path / "found.json.partial").read_text())  # valid JSON
    assert [r["result"] for r in data["images"]] == [1, 2]
    assert data["complete"] is False and data["written"] == 2


@pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")
def test_cli_search_says_when_nothing_matches(two_folders, capsys):
    from sksplice import cli

    (a, b), _, model_args = two_folders
    # no image holds all eleven concepts at once
    query = ",".join(VOCAB)
    code = cli.main(["search", str(a), str(b), "--concepts", query, "--mode", "and", *model_args])
    captured = capsys.readouterr()
    assert code == 0 and captured.out == ""
    assert "no image of the 13 holds every concept of the query (cat, dog" in captured.err
    assert "no item holds" not in captured.err  # (the library's words, of its parameters)


def test_cli_search_names_the_query_concepts_no_image_holds():
    # "--mode and" without a result named the query, not the concept that left it empty
    import scipy.sparse as sp

    from sksplice import ConceptRetriever
    from sksplice.cli._search import _held_by_none

    W = np.array([[0.5, 0.0, 0.0], [0.2, 0.3, 0.0]])
    names = ["cat", "dog", "snow"]
    for weights in (W, sp.csr_matrix(W)):
        retriever = ConceptRetriever(concepts=names).fit(weights)
        assert _held_by_none(retriever, {"cat": 1.0, "dog": 1.0}) == ""
        assert _held_by_none(retriever, {"cat": 1.0, "snow": 1.0}) == (
            "; no image holds 'snow' (the images may show it with other concepts: look at "
            "their decompositions)"
        )


def test_rows_of_equal_p_value_and_difference_keep_the_order_of_the_columns():
    # 4 -> 5 of 7 images and 0 -> 1 of 7: the same p-value and difference (1/7), which
    # floats make 0.1428571428571429 and 0.14285714285714285; the order followed the
    # floats, not the columns
    A, B = np.zeros((7, 2)), np.zeros((7, 2))
    A[:4, 0], B[:5, 0], B[:1, 1] = 1.0, 1.0, 1.0
    forward = compare_datasets(A, B, concepts=["first", "second"])
    backward = compare_datasets(A[:, ::-1], B[:, ::-1], concepts=["second", "first"])
    assert forward["p_value"].nunique() == 1
    assert list(forward.index) == ["first", "second"]
    assert list(backward.index) == ["second", "first"]


@pytest.mark.parametrize("bare", ["W_a", "W_b"])
def test_a_transformers_bare_weights_are_checked_against_the_other_collections_names(bare):
    # Weights a transformer returned without names, beside a DataFrame of a transformer of
    # the same concepts in another order: read by position, every column of the bare
    # matrix was tested against another concept's column, without a word.
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    names = [f"c{j}" for j in range(12)]
    raw = rng.normal(size=(12, 16))
    kwargs = {"l1_penalty": 0.1, "device": "cpu", "image_mean": np.zeros(16)}
    first = SpliceTransformer(vocabulary=names, concept_embeddings=raw, **kwargs)
    second = SpliceTransformer(vocabulary=names[::-1], concept_embeddings=raw[::-1], **kwargs)
    X = rng.normal(size=(20, 16))
    W = first.fit(X).transform(X)  # bare CSR, recorded with first's concepts
    frame = second.fit(X).set_output(transform="pandas").transform(X)
    pair = (W, frame) if bare == "W_a" else (frame, W)
    other = "W_b" if bare == "W_a" else "W_a"
    with pytest.raises(
        ValueError,
        match=rf"not those of the columns of {other}: column 0 is 'c0' there but 'c11' in "
        rf"the columns of {other} \(the same concepts in another order\)",
    ):
        compare_datasets(*pair)
    # The same order of columns is accepted, read by the frame's names.
    same = first.set_output(transform="pandas").transform(X)
    pair = (W, same) if bare == "W_a" else (same, W)
    assert list(compare_datasets(*pair, correction=None).columns)[:2] == ["count_a", "count_b"]


def test_a_column_mismatch_names_the_columns_as_text():
    # (names given as a NumPy array of text were shown as np.str_('cat'))
    W_a = pd.DataFrame(np.eye(3), columns=np.array(["dog", "cat", "car"]))
    W_b = pd.DataFrame(np.eye(3), columns=np.array(["dog", "car", "bus"]))
    with pytest.raises(ValueError, match=r"column 1 is 'cat' in W_a and 'car' in W_b"):
        compare_datasets(W_a, W_b)


def test_frames_of_other_concepts_are_told_to_use_one_transformer():
    # Told to reorder (W_b[W_a.columns]), which then failed with a KeyError.
    W_a = pd.DataFrame(np.eye(3), columns=["dog", "cat", "car"])
    W_b = pd.DataFrame(np.eye(3), columns=["dog", "bus", "tree"])
    with pytest.raises(ValueError, match=r"different concepts .* with the same fitted") as info:
        compare_datasets(W_a, W_b)
    assert "W_b[W_a.columns]" not in str(info.value)
    # the same concepts in another order are read by name, as the other functions read
    # a frame's columns (they were refused, told to reorder)
    pd.testing.assert_frame_equal(
        compare_datasets(W_a, W_a[["cat", "dog", "car"]]), compare_datasets(W_a, W_a)
    )


def test_concepts_chosen_beforehand_are_tested_with_the_numbers_the_page_quotes():
    # docs/shift.md, "Testing a few concepts chosen beforehand": a concept in 39 of 60
    # samples of A and 21 of 60 of B among 560 concepts that do not differ
    from pathlib import Path

    rng = np.random.default_rng(0)
    m = 560
    names = [f"c{j}" for j in range(m)]
    names[0] = "grass"
    p = rng.uniform(0.02, 0.4, m)
    A = (rng.random((60, m)) < p) * 1.0
    B = (rng.random((60, m)) < p) * 1.0
    A[:, 0], B[:, 0] = 0.0, 0.0
    A[:39, 0], B[:21, 0] = 1.0, 1.0
    every = compare_datasets(sp.csr_matrix(A), sp.csr_matrix(B), concepts=names)
    columns = list(range(10))
    few = compare_datasets(
        sp.csr_matrix(A)[:, columns], sp.csr_matrix(B)[:, columns], concepts=names[:10]
    )
    p_value = every.loc["grass", "p_value"]
    said = (
        f"p-value of {p_value:.2g}: adjusted over the 560 concepts it is "
        f"{every.loc['grass', 'p_adjusted']:.2f}, over 10 chosen beforehand\n"
        f"{few.loc['grass', 'p_adjusted']:.2g}."
    )
    page = (Path(__file__).parents[1] / "docs" / "shift.md").read_text(encoding="utf-8")
    assert said in page, said
    assert not every.loc["grass", "significant"] and few.loc["grass", "significant"]


def _two_decompositions(**second):
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    names = [f"c{j}" for j in range(12)]
    raw = rng.normal(size=(12, 16))
    kwargs = {"l1_penalty": 0.1, "device": "cpu", "vocabulary": names, "concept_embeddings": raw}
    X = rng.normal(size=(40, 16))
    first = SpliceTransformer(**kwargs).fit(X)
    other = SpliceTransformer(**{**kwargs, **second}).fit(X[20:] if not second else X)
    return first, other, X


@pytest.mark.parametrize(
    ("second", "differs"),
    [({}, r"centre \(mean_\)"), ({"l1_penalty": 0.3}, r"penalty \(l1_penalty_ 0.1 and 0.3\)")],
)
def test_collections_of_two_decompositions_are_warned_about(second, differs):
    # Weights of A and B from transformers of other centres or penalties were compared
    # without a word: the prevalences then differ by the decomposition (76 concepts
    # "significant" in one population decomposed at two penalties)
    from sksplice.exceptions import MixedDecompositionWarning

    first, other, X = _two_decompositions(**second)
    W_a, W_b = first.transform(X[:20]), other.transform(X[20:])
    said = rf"W_a and W_b .* differ in their {differs}"
    with pytest.warns(MixedDecompositionWarning, match=said):
        compare_datasets(W_a, W_b, concepts=first)
    with pytest.warns(MixedDecompositionWarning, match="one fitted SpliceTransformer"):
        compare_datasets(W_a[:5].copy(), W_b.toarray(), concepts=first)  # (rows, copies)
    # one transformer, or weights of unknown origin: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedDecompositionWarning)
        compare_datasets(W_a, first.transform(X[20:]), concepts=first)
        compare_datasets(W_a, W_b.toarray() * 1.001, concepts=first)  # (made elsewhere)


def test_rows_of_two_decompositions_stacked_are_warned_about_by_the_analysis():
    from sksplice.analysis import concept_profiles, rank_concepts, rank_each_class
    from sksplice.exceptions import MixedDecompositionWarning

    first, other, X = _two_decompositions(l1_penalty=0.3)
    W = sp.vstack([first.transform(X[:20]), other.transform(X[20:])]).tocsr()
    y = ["a"] * 20 + ["b"] * 20
    for call in (
        lambda: rank_concepts(W, y, "a", concepts=first),
        lambda: rank_each_class(W, y, first),
        lambda: concept_profiles(W, y, first),
    ):
        with pytest.warns(MixedDecompositionWarning, match="the rows of W were made by"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedDecompositionWarning)
        rank_concepts(first.transform(X), y, "a", concepts=first)


def test_weights_of_a_path_are_recorded_with_their_penalties():
    from sksplice.exceptions import MixedDecompositionWarning
    from sksplice.path import splice_path

    first, _, X = _two_decompositions()
    path = splice_path(first, X, [0.1, 0.3])
    with pytest.warns(MixedDecompositionWarning, match=r"l1_penalty_ 0.3 and 0.1"):
        compare_datasets(path.weights[0], path.weights[1], concepts=first)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedDecompositionWarning)
        compare_datasets(path.weights[1], first.transform(X), concepts=first)  # (0.1)


def test_out_of_fold_weights_of_one_setting_are_not_warned_about():
    # the out-of-fold weights of a cross-validation, stacked: centres learned from
    # overlapping rows, penalties calibrated for one target_l0 (0.116 and 0.108) were
    # said to "differ"
    from sklearn.model_selection import KFold

    from sksplice import SpliceTransformer
    from sksplice.analysis import rank_concepts
    from sksplice.exceptions import MixedDecompositionWarning

    rng = np.random.default_rng(0)
    names = [f"c{j}" for j in range(40)]
    raw = rng.normal(size=(40, 16))
    X = rng.normal(size=(300, 16)) + 3 * rng.normal(size=16)  # (a centre far from 0)
    y = np.array(["a", "b"] * 150)
    for setting in ({"l1_penalty": 0.1}, {"target_l0": 4}):
        parts, rows = [], []
        for train, test in KFold(3, shuffle=True, random_state=0).split(X):
            fold = SpliceTransformer(vocabulary=names, concept_embeddings=raw, device="cpu",
                                     **setting).fit(X[train])  # fmt: skip
            parts.append(fold.transform(X[test]))
            rows.append(test)
        W = sp.vstack(parts).tocsr()
        with warnings.catch_warnings():
            warnings.simplefilter("error", MixedDecompositionWarning)
            rank_concepts(W, y[np.concatenate(rows)], "a", concepts=names)
