"""``rank_each_class`` (behind ``sksplice profile`` and ``report``) against the
straightforward computation: :func:`rank_concepts` for each class, put together, and
adjusted in two levels (a false discovery rate: each class's own adjusted p-values, the
classes selected by the smallest of them) or as one family (a family-wise error rate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sksplice import analysis
from sksplice.analysis import (
    ALL_CLASSES,
    CLASSES_THEN_CONCEPTS,
    _adjust_pvalues,
    _below_alpha,
    rank_concepts,
    rank_each_class,
)


def _reference(
    W, y, concepts, *, correction="fdr_bh", alpha=0.05, min_count=1, alternative="greater"
):
    """One rank_concepts per class, concatenated. Benjamini-Hochberg or -Yekutieli: a
    class differs where the smallest of its own adjusted p-values (rank_concepts') is
    significant adjusted over the classes; each row is its own times (classes / classes
    that differ), at least its class's adjusted p-value where the class does not differ.
    Otherwise the p-values are adjusted over all rows."""
    analysis._check_test_options(correction, alpha, min_count, alternative)
    parts = []
    for cls in sorted(set(np.asarray(y).tolist())):
        r = rank_concepts(
            W,
            y,
            cls,
            None,
            concepts=concepts,
            correction=correction,
            alpha=alpha,
            min_count=min_count,
            alternative=alternative,
        ).reset_index(names="concept")
        r.insert(0, "class", cls)
        parts.append(r)
    table = pd.concat(parts, ignore_index=True)
    table.attrs = {}
    if correction in ("fdr_bh", "fdr_by"):
        own = [part["p_adjusted"].to_numpy(dtype=np.float64) for part in parts]
        smallest = np.array([p.min() if p.size else 1.0 for p in own])
        class_p = _adjust_pvalues(smallest, correction)
        differing = int(_below_alpha(class_p, alpha).sum())
        scale = len(parts) / max(differing, 1)
        adjusted = np.concatenate(
            [
                (np.minimum(p * scale, 1.0) if scale != 1 else p)
                if _below_alpha(q, alpha)
                else np.maximum(np.minimum(p * scale, 1.0), q)
                for p, q in zip(own, class_p, strict=True)
            ]
        )
    else:
        adjusted = _adjust_pvalues(table["p_value"].to_numpy(dtype=np.float64), correction)
    table["p_adjusted"] = adjusted
    table["significant"] = _below_alpha(adjusted, alpha)
    return table


def _data(seed=0, n=40, m=12):
    """Labels with a class of one row, concepts absent from some classes, tied counts,
    an all-zero row and an all-zero concept."""
    rng = np.random.default_rng(seed)
    W = rng.random((n, m)) * (rng.random((n, m)) < 0.35)
    y = np.array(["b"] * 15 + ["a"] * 14 + ["c"] * 10 + ["lone"])
    rng.shuffle(y)
    W[y == "c", 0] = 0.0  # (absent from a class)
    W[:, 1] = 0.0  # (in no row: dropped by min_count)
    W[:, 2] = np.where(y == "a", 0.5, 0.0)  # (in one class only)
    W[:, 3] = W[:, 4] = np.where(np.arange(n) % 3 == 0, 0.25, 0.0)  # (tied concepts)
    W[5] = 0.0  # (an empty row)
    return W, y, [f"concept {j}" for j in range(m)]


def _assert_same(W, y, concepts, **kwargs):
    got = rank_each_class(W, y, concepts, **kwargs)
    want = _reference(W, y, concepts, **kwargs)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs["n_tests"] == len(want)
    fdr = kwargs.get("correction", "fdr_bh") in ("fdr_bh", "fdr_by")
    assert got.attrs["adjusted_over"] == (CLASSES_THEN_CONCEPTS if fdr else ALL_CLASSES)
    assert ("class_p_adjusted" in got.attrs) == fdr
    return got


@pytest.mark.parametrize(
    "kind", ["dense", "sparse", "float32", "sparse32", "frame", "sparse frame"]
)
def test_each_class_is_its_rank_concepts(kind):
    W, y, names = _data()
    if kind == "sparse":
        W = sp.csr_matrix(W)
    elif kind == "float32":
        W = W.astype(np.float32)
    elif kind == "sparse32":
        W = sp.csr_matrix(W.astype(np.float32))
    elif kind == "frame":
        W = pd.DataFrame(W, columns=names)
    elif kind == "sparse frame":
        W = pd.DataFrame.sparse.from_spmatrix(sp.csr_matrix(W), columns=names)
    got = _assert_same(W, y, None if "frame" in kind else names)
    assert set(got["class"]) == {"a", "b", "c", "lone"}
    assert (got.loc[got["class"] == "lone", "count_positive"] <= 1).all()


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
@pytest.mark.parametrize("correction", ["fdr_bh", "fdr_by", "holm", "bonferroni", None])
def test_each_class_options(alternative, correction):
    W, y, names = _data(seed=1)
    _assert_same(
        sp.csr_matrix(W), y, names, alternative=alternative, correction=correction, alpha=0.2
    )


@pytest.mark.parametrize("min_count", [1, 4, 1000])
def test_each_class_min_count(min_count):
    import warnings

    W, y, names = _data(seed=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _assert_same(W, y, names, min_count=min_count)
    assert (len(got) == 0) == (min_count == 1000)
    # (an empty table is said, by rank_each_class and by each class's rank_concepts)
    said = [w for w in caught if "no concept is present in min_count=1000" in str(w.message)]
    assert bool(said) == (min_count == 1000)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 1, 2, 1, 3, 2, 7, 1, 2, 3, 1, 2]),
        [0.5, 1.5, 0.5, 1.5, 2.5, 0.5, 1.5, 0.5, 2.5, 1.5, 0.5, 1.5],
        pd.Series(["x", "y", "x", "y", "x", "z", "x", "y", "x", "y", "x", "y"]),
        [True, False, True, True, False, True, False, True, True, False, True, True],
    ],
)
def test_each_class_label_types(labels):
    rng = np.random.default_rng(3)
    W = (rng.random((12, 6)) < 0.4) * rng.random((12, 6))
    _assert_same(sp.csr_matrix(W), labels, list("uvwxyz"))
    _assert_same(W, labels, list("uvwxyz"))


def test_each_class_larger_random_case():
    """Many classes of equal and of different sizes (the tests of one size are computed
    together), weights summed over thousands of rows."""
    rng = np.random.default_rng(4)
    n, m = 3000, 300
    W = sp.random(n, m, density=0.05, random_state=rng, format="csr") * 0.3
    y = rng.integers(0, 40, size=n)
    y[:5] = 99  # (a class of five)
    _assert_same(W, y, [f"c{j}" for j in range(m)])


def test_each_class_errors_are_rank_concepts_errors():
    W, y, names = _data()
    for bad, kwargs in [
        (dict(y=np.array(["a"] * len(y))), {}),
        (dict(W=np.where(np.eye(len(y), 12) > 0, np.nan, W)), {}),
        (dict(W=-W), {}),
        (dict(y=y[:-1]), {}),
        ({}, dict(alpha=2.0)),
        ({}, dict(correction="nope")),
    ]:
        args = {**dict(W=W, y=y, concepts=names), **bad}
        with pytest.raises(Exception) as want:
            _reference(args["W"], args["y"], args["concepts"], **kwargs)
        with pytest.raises(type(want.value), match=None) as got:
            rank_each_class(args["W"], args["y"], args["concepts"], **kwargs)
        assert str(got.value) == str(want.value)


def test_each_class_checks_and_sums_once(monkeypatch):
    """W is converted and checked once and the per-class sums are one product, not one
    per class (they took 15 s at 100 classes of 100,000 images)."""
    calls = {"_as_weights": 0, "_group_sums": 0, "_resolve_concepts": 0}
    for name in calls:
        original = getattr(analysis, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(analysis, name, counted)
    W, y, names = _data()
    rank_each_class(sp.csr_matrix(W), y, names)
    assert calls == {"_as_weights": 1, "_group_sums": 1, "_resolve_concepts": 1}


def test_rank_each_class_is_public_and_its_report_names_the_direction():
    # Ranking every class against the rest for a report took either the private
    # function behind the command line or rank_concepts tables put together with
    # pandas.concat, which drops their attrs: the page then called a one-sided test's
    # rows "concepts that separate the classes" and listed concepts absent from a class.
    import sksplice
    from sksplice.report import ImageResult, render_report

    assert "rank_each_class" in analysis.__all__
    assert sksplice.rank_each_class is analysis.rank_each_class
    W, y, names = _data()
    ranking = analysis.rank_each_class(W, y, concepts=names)
    assert ranking.attrs["alternative"] == "greater"
    assert ranking.attrs["adjusted_over"] == CLASSES_THEN_CONCEPTS
    assert ranking.attrs["one_vs_rest"] is True and ranking.attrs["negative"] == "rest"
    results = [ImageResult("a.png", [("concept 0", 1.0)], 1, 0.9, thumbnail=None)]
    page = render_report(results, ranking=ranking)
    assert "Concepts more frequent in a class than outside it" in page
    assert "one-sided" in page
    assert "Concepts that separate the classes" not in page


def test_rank_each_class_names_missing_labels_by_row_as_rank_concepts_does():
    # sorted() of the labels came first: TypeError '<' not supported between 'NoneType'
    # and 'str', where rank_concepts names the row
    W = np.eye(4)
    y = ["a", None, "b", "b"]
    with pytest.raises(ValueError, match=r"missing \(None or NaN\)") as each:
        rank_each_class(W, y, ["w", "x", "y", "z"])
    with pytest.raises(ValueError) as one:
        rank_concepts(W, y, "a", concepts=["w", "x", "y", "z"])
    assert str(each.value) == str(one.value)


def test_rank_each_class_given_a_class_where_rank_concepts_takes_it_says_which_to_use():
    W, y, _ = _data()
    with pytest.raises(TypeError, match=r"rank_concepts\(W, y, 'a', concepts=\.\.\.\) ranks one"):
        rank_each_class(W, y, "a")


def _tied_data(seed, n_classes=30, size=12, m=80):
    """Many classes of one size (and a few of others), weights of a few levels: most
    (count in class, count in all) pairs and p-values recur. Edge cases: a class none of
    whose rows holds a concept, a concept in no row, one in every row, one in every row
    of a class and in no other."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), size)
    y = np.concatenate([y, [n_classes] * 3, [n_classes + 1], [n_classes + 2] * 40])
    n = y.shape[0]
    W = rng.choice([0.0, 0.0, 0.0, 0.25, 0.5], size=(n, m)) * (rng.random((1, m)) < 0.9)
    W[y == 4] = 0.0  # (a class without concepts)
    W[:, 0] = 0.0  # (a concept in no row: dropped)
    W[:, 1] = 0.75  # (in every row: both margins full, p-value 1)
    W[:, 2] = np.where(y == 7, 0.5, 0.0)  # (all of one class, nothing elsewhere)
    rng.shuffle(y)  # (the classes' rows interleaved)
    return W, y, [f"c{j}" for j in range(m)]


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
@pytest.mark.parametrize("correction", ["fdr_bh", "fdr_by", "holm", "bonferroni", None])
def test_each_class_tied_tables_are_the_per_class_computation(alternative, correction):
    """The statistics computed once per distinct (count in class, count in all) pair and
    gathered, the rows sorted through ranks of their keys and the p-values adjusted once
    per distinct value are, to the bit, those of rank_concepts run class by class (every
    table computed on its own) and adjusted over the whole family."""
    W, y, names = _tied_data(seed=5)
    for given in (W, sp.csr_matrix(W)) if correction == "fdr_bh" else (W,):
        got = _assert_same(given, y, names, alternative=alternative, correction=correction)
        assert set(got["class"]) == set(y.tolist())
        assert got.loc[got["concept"] == "c1", "p_value"].eq(1.0).all()
        assert "c0" not in set(got["concept"])


def test_each_class_counts_of_a_wide_range_are_the_per_class_computation():
    # (pairs of counts too far apart for a table of their range: sorted instead)
    rng = np.random.default_rng(6)
    y = np.repeat(["a", "b", "c"], [700, 500, 700])
    W = (rng.random((y.shape[0], 4)) < [[0.9, 0.5, 0.99, 0.2]]) * 1.0
    _assert_same(W, y, list("wxyz"), alternative="two-sided")


def test_each_class_tests_each_distinct_pair_once(monkeypatch):
    """Many classes of one size share their 2x2 tables: Fisher's test is computed for
    each distinct table once (every table was computed, classes x concepts of them)."""
    W, y, names = _tied_data(seed=7, n_classes=60, m=120)
    tables = []

    def counted(x1, n1, x2, n2, alternative):
        tables.extend(zip(np.asarray(x1).tolist(), np.asarray(x2).tolist(), [n1] * len(x1)))
        return fisher(x1, n1, x2, n2, alternative)

    fisher = analysis.fisher_exact_pvalues
    monkeypatch.setattr(analysis, "fisher_exact_pvalues", counted)
    got = rank_each_class(W, y, names)
    distinct = set(
        zip(
            got["count_positive"],
            got["count_negative"],
            got["class"].map(dict(zip(*np.unique(y, return_counts=True)))).astype(float),
        )
    )
    assert len(tables) == len(set(tables)) == len(distinct)
    assert len(tables) < len(got) / 5


@pytest.mark.parametrize("method", ["fdr_bh", "fdr_by", "holm", "bonferroni", None])
@pytest.mark.parametrize("m", [0, 1, 7, 250_000])
def test_tied_adjustment_is_that_of_the_whole_family(method, m):
    """Each distinct p-value adjusted once with its multiplicity gives, to the bit, what
    adjusting the whole family gives each of its copies (the family of 250,000 has more
    terms than numpy's pairwise sum adds at once, for Benjamini-Yekutieli's factor)."""
    rng = np.random.default_rng(m)
    levels = np.concatenate([[0.0, 1.0, 0.05, 1e-300], rng.random(40) ** 6])
    p = rng.choice(levels, size=m)
    values, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    tied = analysis._adjust_tied_pvalues(values, counts, method)
    whole = _adjust_pvalues(p, method)
    np.testing.assert_array_equal(tied[inverse], whole, strict=True)
    if method == "fdr_by":
        assert m < 2 or (tied[inverse] != analysis._adjust_pvalues(p, "fdr_bh")).any()


def test_distinct_pairs_and_key_ranks():
    rng = np.random.default_rng(8)
    total = rng.integers(0, 50, size=30)
    x1 = np.minimum(rng.integers(0, 6, size=(9, 30)), total)
    for spread in (1, 10**6):  # (a table of the range; a sort)
        ids, pair_x1, pair_total = analysis._distinct_pairs(x1, total * spread)
        want = np.unique(
            np.stack([x1.ravel(), np.broadcast_to(total * spread, x1.shape).ravel()]), axis=1
        )
        np.testing.assert_array_equal(np.stack([pair_x1, pair_total]), want)
        np.testing.assert_array_equal(pair_x1[ids], x1)
        np.testing.assert_array_equal(pair_total[ids], np.broadcast_to(total * spread, x1.shape))
    p = np.array([0.5, np.nan, 0.5, 0.1, np.nan, 0.1, 0.1, 1.0])
    first = np.array([2, 1, 2, 2, 1, 0, 2, 0])
    ranks = analysis._key_ranks(p, first)
    assert ranks.dtype == np.uint8
    np.testing.assert_array_equal(ranks, [4, 2, 4, 3, 2, 0, 3, 1])
    keys = np.tile(np.arange(8), (5, 1))
    rng.permuted(keys, axis=1, out=keys)
    np.testing.assert_array_equal(
        np.argsort(ranks[keys], axis=1, kind="stable"), np.lexsort((p[keys], first[keys]), axis=-1)
    )


def test_a_class_of_one_image_is_not_given_every_concept_of_that_image():
    """Adjusted over all classes' tests together, the many strong concepts of two large
    classes raised Benjamini-Hochberg's threshold until every concept of a class of one
    image (1 of 1 against 0 of 240, p = 1/241) was significant, although that class as
    a whole does not differ from the rest: each image of the others has concepts of its
    own too. Tested as a whole first, it is not; the large classes keep their concepts."""
    from scipy import stats

    rng = np.random.default_rng(0)
    n_strong, n_own = 200, 1
    y = np.array(["a"] * 120 + ["b"] * 120 + ["lone"])
    strong = np.zeros((241, n_strong))
    in_a = np.where(np.arange(n_strong) < 100, 0.8, 0.1)  # (half of them frequent in a,
    strong[:120] = rng.random((120, n_strong)) < in_a  # the other half in b)
    strong[120:240] = rng.random((120, n_strong)) < in_a[::-1]
    own = np.zeros((241, 240 * n_own + 12))  # (concepts of one image each)
    for i in range(240):
        own[i, i * n_own : (i + 1) * n_own] = 1.0
    own[240, -12:] = 1.0  # (the lone image's twelve)
    W = np.hstack([strong, own])
    names = [f"c{j}" for j in range(W.shape[1])]
    ranking = rank_each_class(W, y, names)
    lone = (ranking["class"] == "lone").to_numpy()
    assert np.allclose(ranking.loc[lone, "p_value"].nsmallest(12), 1 / 241)
    pooled = stats.false_discovery_control(ranking["p_value"].to_numpy(), method="bh")
    assert np.count_nonzero(pooled[lone] < 0.05) == 12  # (as one family: all twelve)
    assert not ranking.loc[lone, "significant"].any()
    assert ranking.attrs["class_p_adjusted"]["lone"] > 0.05
    assert ranking.attrs["n_classes_differing"] == 2
    found = ranking[ranking["significant"]]
    assert set(found["class"]) == {"a", "b"}
    a_strong = {f"c{j}" for j in range(100)}
    assert len(a_strong & set(found.loc[found["class"] == "a", "concept"])) >= 95


def test_where_every_class_differs_the_rows_are_those_of_rank_concepts():
    """The two levels change nothing where every class differs from the rest: each class's
    rows, p_adjusted included, are rank_concepts' own (the same floats)."""
    rng = np.random.default_rng(7)
    y = np.repeat(["a", "b", "c"], 30)
    W = (rng.random((90, 12)) < 0.2).astype(float)
    for k, cls in enumerate("abc"):
        W[y == cls, k] = 1.0  # (a concept of its own: every class differs)
    names = [f"c{j}" for j in range(12)]
    ranking = rank_each_class(W, y, names)
    assert ranking.attrs["n_classes_differing"] == 3
    for cls in "abc":
        own = rank_concepts(W, y, cls, concepts=names)
        rows = ranking[ranking["class"] == cls].set_index("concept")
        np.testing.assert_array_equal(rows["p_adjusted"], own["p_adjusted"].to_numpy())
        np.testing.assert_array_equal(rows["significant"], own["significant"].to_numpy())


def test_the_false_discovery_example_runs_its_scenarios():
    """docs/examples/analysis_false_discoveries.py (its numbers are in docs/analysis.md)
    on made-up prevalences and a few datasets: the three adjustments of each scenario."""
    from ._helpers_editing import load_example

    example = load_example("analysis_false_discoveries")
    prevalence = np.geomspace(0.002, 0.3, 150)
    first = example.no_difference(prevalence, 3)
    second = example.one_image_class(prevalence, 3)
    ways = {"each class", "together", "two levels"}
    assert set(first) == set(second) == ways
    assert all(0.0 <= value <= 1.0 for value in first.values())
    assert first["two levels"] <= first["each class"]
    assert second["two levels"]["lone listed"] == 0.0
    assert all(second[way]["true found"] > 0.9 for way in ways)
