"""Tests for sksplice.analysis: concept profiles and concept ranking."""

from __future__ import annotations

import io
import tracemalloc
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sksplice.analysis import (
    TooFewSamplesWarning,
    _adjust_pvalues,
    concept_profiles,
    rank_concepts,
    rank_each_class,
)


def _random_weights(rng, n=60, c=8, density=0.3):
    W = rng.random((n, c)) * (rng.random((n, c)) < density)
    y = rng.choice(["a", "b", "c"], size=n)
    return W, y


def test_profiles_match_direct_computation(rng):
    W, y = _random_weights(rng)
    names = [f"concept{i}" for i in range(W.shape[1])]
    prof = concept_profiles(W, y, names)
    assert list(prof.index) == names
    assert list(prof["prevalence"].columns) == ["all", "a", "b", "c"]
    for cls in ["a", "b", "c"]:
        rows = W[y == cls]
        np.testing.assert_allclose(prof["mean_weight"][cls], rows.mean(axis=0))
        np.testing.assert_allclose(prof["prevalence"][cls], (rows != 0).mean(axis=0))
        np.testing.assert_array_equal(prof["count"][cls], (rows != 0).sum(axis=0))
    np.testing.assert_allclose(prof["mean_weight"]["all"], W.mean(axis=0))
    np.testing.assert_allclose(prof["prevalence"]["all"], (W != 0).mean(axis=0))


def test_profiles_sparse_equals_dense_and_stays_sparse(rng, monkeypatch):
    W, y = _random_weights(rng)
    names = [f"c{i}" for i in range(W.shape[1])]
    dense = concept_profiles(W, y, names)

    W_csr = sp.csr_matrix(W)
    calls = []
    original = sp.csr_matrix.toarray

    def _tracking(self, *args, **kwargs):
        calls.append(self.shape)
        return original(self, *args, **kwargs)

    for cls in (sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.csc_array):
        monkeypatch.setattr(cls, "toarray", _tracking)
    sparse = concept_profiles(W_csr, y, names)
    assert all(shape[0] <= 3 for shape in calls), f"densified an (n, c) matrix: {calls}"
    pd.testing.assert_frame_equal(dense, sparse)


def test_profiles_of_many_classes_built_in_little_memory(rng):
    """The table of 200 classes (stored zeros and duplicate entries in the weights) is
    what each class's rows give, and building it takes little beyond the table itself
    (4.4 times the table before: a stack of the statistics, its copy in the frame and
    the counts cast back column by column)."""
    n, c = 3000, 400
    W = sp.random(n, c, density=0.02, format="csr", random_state=np.random.default_rng(1))
    W.data[::9] = 0
    indptr = W.indptr.copy()
    indptr[1:] += 2  # (concept 3 stored twice more in row 0)
    W = sp.csr_matrix((np.r_[[0.5, 0.25], W.data], np.r_[[3, 3], W.indices], indptr), W.shape)
    y = rng.integers(0, 200, n)
    names = [f"c{i}" for i in range(c)]
    concept_profiles(W, y, names)  # (first-call allocations)
    tracemalloc.start()
    try:
        prof = concept_profiles(W, y, names)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2.5 * prof.memory_usage(index=False).sum()
    dense = W.toarray()
    for cls in (0, 17, 199):
        rows = dense[y == cls]
        np.testing.assert_allclose(prof[("mean_weight", cls)], rows.mean(axis=0), rtol=1e-12)
        np.testing.assert_array_equal(prof[("count", cls)], (rows != 0).sum(axis=0))
    assert prof.loc["c3", ("count", "all")] == (dense[:, 3] != 0).sum()
    assert (prof["count"].dtypes == np.int64).all()
    assert (prof["prevalence"].dtypes == np.float64).all()


def _one_hot_sums(W, codes, n_groups):
    """The group sums of a one-hot matrix of the groups times W (rows added in order)."""
    n = W.shape[0]
    onehot = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
    present = W.copy()
    present.data = (present.data != 0).astype(np.float64)
    return (onehot @ W).toarray(), (onehot @ present).toarray()


@pytest.mark.parametrize("seed", range(6))
def test_group_sums_of_csr_are_the_one_hot_products_to_the_last_bit(seed):
    """Sparse weights are added into the (group, concept) table entry by entry: the
    floats of the one-hot product, with stored zeros, repeated and unsorted columns."""
    from sksplice.analysis import _group_sums

    rng = np.random.default_rng(seed)
    n, m, groups = 400, 30, int(rng.integers(1, 12))
    W = sp.random(n, m, density=0.3, format="csr", random_state=rng)
    W.data = W.data * 10.0 ** rng.integers(-8, 9, size=W.nnz)  # (sums that round)
    W.data[::7] = 0.0  # stored zeros: not present
    # a row holding one column twice, and rows whose columns are stored out of order
    indices, data = W.indices.copy(), W.data.copy()
    a, b = W.indptr[3], W.indptr[4]
    if b - a >= 2:
        indices[a + 1] = indices[a]
    for i in range(0, n, 5):
        a, b = W.indptr[i], W.indptr[i + 1]
        indices[a:b], data[a:b] = indices[a:b][::-1].copy(), data[a:b][::-1].copy()
    W = sp.csr_matrix((data, indices, W.indptr.copy()), shape=W.shape)
    codes = rng.integers(0, groups, size=n)
    expected_sums, expected_counts = _one_hot_sums(W, codes, groups)
    sums, counts = _group_sums(W, codes, groups)
    assert sums.dtype == counts.dtype == np.float64
    np.testing.assert_array_equal(sums.view(np.int64), expected_sums.view(np.int64))
    np.testing.assert_array_equal(counts, expected_counts)


def test_a_concept_stored_twice_in_a_row_of_sparse_weights_is_one_weight():
    # The two entries were counted as two images holding the concept: a class of one
    # image had a prevalence of 2.0, and rank_concepts a Cohen's h of NaN.
    indptr, indices = np.array([0, 2, 3, 4]), np.array([0, 0, 1, 0])
    W = sp.csr_matrix((np.array([0.25, 0.5, 1.0, 1.0]), indices, indptr), shape=(3, 2))
    y = np.array(["a", "b", "b"])
    profiles = concept_profiles(W, y, ["x", "z"])
    dense = concept_profiles(W.toarray(), y, ["x", "z"])
    pd.testing.assert_frame_equal(profiles, dense)
    assert profiles.loc["x", ("prevalence", "a")] == 1.0
    assert profiles.loc["x", ("mean_weight", "a")] == 0.75
    ranking = rank_concepts(W, y, "a", concepts=["x", "z"], min_count=1)
    assert ranking.loc["x", "prevalence_positive"] == 1.0
    assert np.isfinite(ranking["cohens_h"]).all()
    assert W.nnz == 4  # (the caller's matrix is left as it was)


def test_profiles_of_csr_copy_nothing_the_size_of_the_weights():
    """concept_profiles of float64 CSR weights (as _as_weights gives them) holds at most
    its table and about one integer per weight: no copy of the matrix, no one-hot
    product (1,000,000 rows in 10 classes: 0.6-0.9 s before, 0.3 s so)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n, m = 200_000, 2_000
    W = sp.random(n, m, density=0.01, format="csr", random_state=rng, dtype=np.float64)
    y = rng.integers(0, 10, size=n)
    names = [f"c{j}" for j in range(m)]
    W_bytes = W.data.nbytes + W.indices.nbytes + W.indptr.nbytes
    tracemalloc.start()
    try:
        profiles = concept_profiles(W, y, names)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert profiles.shape == (m, 33)
    table = 11 * m * 8 * 3 * 3  # (sums, counts and the frame, each with its copies)
    # (one int64 key a weight, 32 MB here: 38 MB in all; 89 MB with the product)
    assert peak < 10 * W.nnz + 16 * n + table < W_bytes, (peak, W_bytes)


def test_profiles_without_labels_and_drop_empty():
    W = np.array([[0.0, 1.0, 0.0], [0.0, 0.5, 2.0]])
    prof = concept_profiles(W, concepts=["x", "y", "z"], drop_empty=True)
    assert list(prof.index) == ["y", "z"]
    assert list(prof["prevalence"].columns) == ["all"]
    np.testing.assert_allclose(prof[("mean_weight", "all")], [0.75, 1.0])
    np.testing.assert_allclose(prof[("prevalence", "all")], [1.0, 0.5])


def test_profiles_take_names_from_dataframe_or_transformer():
    W = pd.DataFrame([[1.0, 0.0], [0.0, 1.0]], columns=["dog", "cat"])
    assert list(concept_profiles(W, [0, 1]).index) == ["dog", "cat"]

    class Named:
        def get_feature_names_out(self):
            return np.array(["red", "blue"], dtype=object)

    assert list(concept_profiles(W.to_numpy(), [0, 1], Named()).index) == ["red", "blue"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"concepts": None}, ValueError, "no concept names"),
        ({"concepts": ["a"]}, ValueError, "1 names but the weights have 3 columns"),
        ({"concepts": "abc"}, TypeError, "single string"),
        ({"concepts": ["a", "b", "c"], "y": [0, 1]}, ValueError, "2 entries but .* 4 rows"),
        ({"concepts": ["a", "b", "c"], "y": ["all"] * 4}, ValueError, "reserved"),
    ],
)
def test_profiles_bad_input(kwargs, error, match):
    W = np.ones((4, 3))
    with pytest.raises(error, match=match):
        concept_profiles(W, **kwargs)


def test_embeddings_given_for_weights_are_named_as_such():
    # the embeddings X instead of splice.transform(X): their width is the transformer's
    class Fitted:
        n_features_in_ = 2

        def get_feature_names_out(self):
            return np.array(["red", "blue", "green"], dtype=object)

    X = np.array([[0.5, -0.5], [0.1, 0.9]])
    for call in (
        lambda: concept_profiles(X, [0, 1], Fitted()),
        lambda: rank_concepts(X, [0, 1], positive=1, concepts=Fitted()),
    ):
        with pytest.raises(ValueError, match=r"look like embeddings.*splice\.transform\(X\)"):
            call()


def test_profiles_reject_non_finite_and_wrong_ndim():
    with pytest.raises(ValueError, match="NaN or infinite"):
        concept_profiles(np.array([[np.nan, 1.0]]), concepts=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        concept_profiles(np.ones(3), concepts=["a", "b", "c"])


def test_rank_statistics_against_chi_square_and_fisher():
    # 3 concepts, 40 "woman" rows vs 60 "man" rows with known presence counts.
    n1, n2 = 40, 60
    counts = [(30, 5), (10, 15), (0, 6)]
    W = np.zeros((n1 + n2, 3))
    for j, (x1, x2) in enumerate(counts):
        W[:x1, j] = 0.5
        W[n1 : n1 + x2, j] = 0.25
    y = np.array(["woman"] * n1 + ["man"] * n2)
    names = ["bikini", "hat", "tie"]
    ranking = rank_concepts(W, y, "woman", "man", concepts=names, alternative="two-sided")
    assert list(ranking.index) == names
    # Fisher's exact test for every table, however large its expected counts
    assert list(ranking["test"]) == ["fisher", "fisher", "fisher"]
    for name, (x1, x2) in zip(names, counts):
        row = ranking.loc[name]
        table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
        chi2, _, _, _ = stats.chi2_contingency(table, correction=False)
        assert row["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-10)
        # the z statistic is still given, as a description, where every expected count
        # is 5 or more (its normal approximation holds): not for "tie" (2.4 expected)
        expected = stats.contingency.expected_freq(table).min()
        if expected >= 5:
            assert row["z"] ** 2 == pytest.approx(chi2, rel=1e-9)
            assert np.sign(row["z"]) == np.sign(x1 / n1 - x2 / n2)
        else:
            assert name == "tie" and np.isnan(row["z"])
        assert row["prevalence_diff"] == pytest.approx(x1 / n1 - x2 / n2)
        assert row["count_positive"] == x1 and row["count_negative"] == x2
        expected_h = 2 * np.arcsin(np.sqrt(x1 / n1)) - 2 * np.arcsin(np.sqrt(x2 / n2))
        assert row["cohens_h"] == pytest.approx(expected_h)
    assert ranking.loc["bikini", "mean_weight_positive"] == pytest.approx(0.5 * 30 / 40)
    expected_adj = stats.false_discovery_control(ranking["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(ranking["p_adjusted"], expected_adj)
    assert bool(ranking.loc["bikini", "significant"])
    assert not bool(ranking.loc["hat", "significant"])
    assert ranking.attrs["n_positive"] == n1 and ranking.attrs["negative"] == "man"
    assert ranking.attrs["alternative"] == "two-sided"


def test_one_image_against_five_is_not_significant():
    """One image of class A (with the concept) against five of B (without): Fisher, 1/6."""
    W = np.array([[1.0, 0.3]] + [[0.0, 0.2]] * 5)
    y = ["A"] + ["B"] * 5
    # no table of these groups can be significant: said, and recorded
    with pytest.warns(TooFewSamplesWarning, match=r"class 'A'.*1 sample against 5.*0\.17"):
        ranking = rank_concepts(W, y, "A", concepts=["sky", "tree"])
    assert ranking.attrs["smallest_p_value"] == pytest.approx(1 / 6, rel=1e-12)
    row = ranking.loc["sky"]
    assert row["test"] == "fisher"
    # one-sided hypergeometric tail by hand: P(the single "sky" image is the A image) = 1/6
    assert row["p_value"] == pytest.approx(1 / 6, rel=1e-12)
    table = [[1, 0], [0, 5]]
    assert row["p_value"] == pytest.approx(
        stats.fisher_exact(table, alternative="greater").pvalue, rel=1e-12
    )
    # "tree" is in every image: p = 1; Benjamini-Hochberg over the 2 concepts: 2/6 for "sky"
    assert ranking.loc["tree", "p_value"] == pytest.approx(1.0)
    assert row["p_adjusted"] == pytest.approx(1 / 3, rel=1e-12)
    assert not ranking["significant"].any()
    # the z-test would have claimed z = 2.449 (two-sided p = 0.0143, BH-adjusted 0.029):
    # with expected counts of 1/6 its normal approximation does not hold, and z is not given
    assert np.isnan(row["z"])


def test_large_expected_counts_use_the_exact_test_too():
    """40 vs 40 samples, present in 30 and 10: expected counts of 20, where the z-test was
    used; the p-values are Fisher's, the z statistic (2 sqrt 5) is still given."""
    n = 40
    W = np.zeros((2 * n, 1))
    W[:30, 0] = 1.0
    W[n : n + 10, 0] = 1.0
    y = ["p"] * n + ["q"] * n
    table = [[30, 10], [10, 30]]
    for alternative in ("greater", "two-sided", "less"):
        row = rank_concepts(W, y, "p", concepts=["c"], alternative=alternative).iloc[0]
        assert row["test"] == "fisher"
        assert row["z"] == pytest.approx(4.47213595499958, rel=1e-12)
        expected = stats.fisher_exact(table, alternative=alternative).pvalue
        assert row["p_value"] == pytest.approx(expected, rel=1e-10)
    # (the z-test's one-sided p-value was 3.87e-06, the exact one is 7.44e-06)
    greater = rank_concepts(W, y, "p", concepts=["c"]).iloc[0]
    assert greater["p_value"] == pytest.approx(7.437401535542681e-06, rel=1e-9)


def test_a_ranking_for_concepts_less_frequent_lists_them_first():
    # alternative="less" put the concepts most over-represented in `positive` (p = 1)
    # at the top, and the significant ones at the bottom: head() showed none of them
    n = 40
    W = np.zeros((2 * n, 3))
    W[:30, 0] = 1.0  # more frequent in p: 30 of 40 against 2 of 40
    W[n : n + 2, 0] = 1.0
    W[:2, 1] = 1.0  # less frequent in p: 2 of 40 against 30 of 40
    W[n : n + 30, 1] = 1.0
    W[:10, 2] = 1.0  # as frequent: 10 of 40 in both
    W[n : n + 10, 2] = 1.0
    y = ["p"] * n + ["q"] * n
    names = ["beach", "snow", "tree"]
    less = rank_concepts(W, y, "p", concepts=names, alternative="less")
    assert list(less.index) == ["snow", "tree", "beach"]
    assert less.iloc[0]["significant"] and not less.iloc[-1]["significant"]
    assert less.iloc[0]["p_value"] == pytest.approx(
        stats.fisher_exact([[2, 38], [30, 10]], alternative="less").pvalue, rel=1e-10
    )
    # (the other alternatives keep the largest difference first)
    for alternative in ("greater", "two-sided"):
        ranked = rank_concepts(W, y, "p", concepts=names, alternative=alternative)
        assert list(ranked.index) == ["beach", "tree", "snow"]


def test_a_small_class_against_a_large_rest_is_not_overstated():
    """15 of a class of 100 against 505 of 9,900 others, among 689 concepts: the z-test
    said p = 5e-06 (adjusted 0.0032, significant); Fisher's one-sided test says 1.9e-04,
    0.13 after Benjamini-Hochberg over the 689 concepts."""
    n1, n2, m = 100, 9900, 689
    rows = list(range(15)) + list(range(n1, n1 + 505))
    cols = [0] * 520
    for j in range(1, m):  # every other concept: one image outside the class
        rows.append(n1 + j)
        cols.append(j)
    W = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n1 + n2, m))
    y = np.array(["bird"] * n1 + ["other"] * n2)
    row = rank_concepts(W, y, "bird", concepts=[f"c{j}" for j in range(m)]).loc["c0"]
    expected = stats.fisher_exact([[15, 85], [505, 9395]], alternative="greater").pvalue
    assert row["p_value"] == pytest.approx(expected, rel=1e-10)
    assert row["p_adjusted"] == pytest.approx(expected * m, rel=1e-10)
    assert not row["significant"]


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
@pytest.mark.parametrize(
    ("n1", "n2", "present"), [(100, 10_000, 520), (60, 5000, 450), (200, 800, 25)]
)
def test_the_false_alarm_rate_is_at_most_the_level(n1, n2, present, alternative):
    """Under no difference, x1 given the margins is hypergeometric: the chance of a
    p-value at or below a level must not exceed the level, in the far tails too (where
    a correction over hundreds of concepts puts the threshold). The z-test exceeded
    it 5 to 17 times at 1e-4 and 1e-5 with groups of such unequal sizes."""
    from sksplice.analysis import _two_by_two_tests

    x1 = np.arange(max(0, present - n2), min(present, n1) + 1, dtype=np.float64)
    _, p, _ = _two_by_two_tests(x1, float(n1), present - x1, float(n2), alternative)
    pmf = stats.hypergeom.pmf(x1, n1 + n2, present, n1)
    for level in (0.05, 0.01, 1e-3, 1e-4, 1e-5, 1e-6):
        assert pmf[p <= level].sum() <= level * (1 + 1e-9), level


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
@pytest.mark.parametrize(
    ("n1", "n2"), [(1, 1), (1, 5), (1, 100), (100, 1), (5, 5), (7, 3), (30, 200), (100, 100)]
)
def test_every_small_table_matches_scipy_fisher_exact(n1, n2, alternative):
    """Every count pair of groups of n1 and n2 samples, as scipy.stats.fisher_exact says.

    (Of the two-sided tests of the large groups, scipy's slowest, every table at or
    next to the edges and to equal proportions, where its rule for ties decides,
    and 1,500 others drawn at random.)
    """
    from sksplice.analysis import _two_by_two_tests

    a, b = np.meshgrid(np.arange(n1 + 1), np.arange(n2 + 1), indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = a + b > 0
    if alternative == "two-sided" and keep.sum() > 3_000:
        edge = (a <= 1) | (a >= n1 - 1) | (b <= 1) | (b >= n2 - 1)
        tie = np.abs(a * n2 - b * n1) <= n1 + n2
        drawn = np.zeros_like(keep)
        drawn[np.random.default_rng(0).choice(keep.size, 1_500, replace=False)] = True
        keep &= edge | tie | drawn
    a, b = a[keep], b[keep]
    _, got, test = _two_by_two_tests(
        a.astype(float), float(n1), b.astype(float), float(n2), alternative
    )
    assert set(test) == {"fisher"}
    expected = [
        stats.fisher_exact([[x, n1 - x], [z, n2 - z]], alternative=alternative).pvalue
        for x, z in zip(a.tolist(), b.tolist())
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
def test_large_tables_match_scipy_fisher_exact(alternative):
    """Random groups of up to 20,000 samples, concepts from the far tails to the mode
    (and tables at a tie of the two-sided rule: equal groups, K = n / 2)."""
    from sksplice.analysis import _two_by_two_tests

    rng = np.random.default_rng(7)
    for trial in range(12):
        n1, n2 = (int(v) for v in rng.integers(1, 20_001, 2))
        if trial % 3 == 0:
            n2 = n1
        total = n1 + n2
        present = rng.integers(1, total, 40).astype(np.float64)
        if trial % 3 == 1 and total % 2 == 0:
            present[:10] = total // 2
        lo, hi = np.maximum(0, present - n2), np.minimum(present, n1)
        x1 = np.minimum(np.floor(lo + rng.random(40) * (hi - lo + 1)), hi)
        mode = np.floor((present + 1) * (n1 + 1) / (total + 2))
        x1[:10] = np.clip(mode[:10] + rng.integers(-3, 4, 10), lo[:10], hi[:10])
        x1[10:13], x1[13:16] = lo[10:13], hi[13:16]
        _, got, _ = _two_by_two_tests(x1, float(n1), present - x1, float(n2), alternative)
        for x, k, p in zip(x1.astype(int).tolist(), present.astype(int).tolist(), got):
            table = [[x, n1 - x], [k - x, n2 - k + x]]
            expected = stats.fisher_exact(table, alternative=alternative).pvalue
            assert p == pytest.approx(expected, rel=1e-10, abs=1e-300), (table, alternative)


def test_two_sided_ties_are_decided_with_scipys_probabilities(monkeypatch):
    """Where the two-sided rule compares probabilities closer than the fast ones can
    tell apart (a concept in half of the samples: tables x and n1 - x are equally
    likely, groups of unequal sizes), the table is computed again with
    scipy.stats.hypergeom, as fisher_exact does."""
    from sksplice import _fisher

    n1, n2 = 300, 500
    x1 = np.arange(n1 + 1, dtype=np.float64)
    present = np.full(n1 + 1, (n1 + n2) / 2)
    calls = []
    original = _fisher._scipy_distribution
    monkeypatch.setattr(_fisher, "_scipy_distribution", lambda *a: calls.append(a) or original(*a))
    got = _fisher.fisher_exact_pvalues(x1, n1, present - x1, n2, "two-sided")
    assert calls  # some near ties went to scipy's probabilities
    expected = [
        stats.fisher_exact([[x, n1 - x], [400 - x, n2 - 400 + x]]).pvalue for x in range(n1 + 1)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)
    # and where every comparison is taken as unsure, scipy's probabilities give its p-values
    monkeypatch.setattr(_fisher, "_UNSURE_RTOL", np.inf)
    got = _fisher.fisher_exact_pvalues(x1, n1, present - x1, n2, "two-sided")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_every_row_is_tested_exactly():
    # 10 vs 10 samples, present in 3 to 17: expected counts from 1.5 to 5, one test
    W = np.zeros((20, 15))
    for j, present in enumerate(range(3, 18)):
        W[:present, j] = 1.0
    y = ["a"] * 10 + ["b"] * 10
    ranking = rank_concepts(W, y, "a", concepts=[f"c{j}" for j in range(15)])
    assert set(ranking["test"]) == {"fisher"}


@settings(max_examples=30, deadline=None)
@given(
    n1=st.integers(1, 9),
    n2=st.integers(1, 9),
    data=st.data(),
    alternative=st.sampled_from(["greater", "two-sided", "less"]),
)
def test_small_tables_match_scipy_fisher_exact(n1, n2, data, alternative):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    W = np.zeros((n1 + n2, 2))
    W[:x1, 0] = 1.0
    W[n1 : n1 + x2, 0] = 1.0
    W[:, 1] = 1.0  # a second concept so that at least one is tested
    y = ["a"] * n1 + ["b"] * n2
    ranking = rank_concepts(W, y, "a", concepts=["c", "all"], alternative=alternative)
    if "c" not in ranking.index:
        assert x1 + x2 == 0
        return
    row = ranking.loc["c"]
    assert row["test"] == "fisher"
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    expected = stats.fisher_exact(table, alternative=alternative).pvalue
    assert row["p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("alternative", ["greater", "two-sided", "less"])
def test_the_smallest_p_value_is_that_of_the_most_extreme_table(alternative):
    """The smallest p-value any table of groups of n1 and n2 samples gives, by brute
    force over every table with scipy: below it no concept can be significant."""
    from sksplice._fisher import smallest_p_value

    for n1 in range(1, 8):
        for n2 in range(1, 8):
            best = min(
                stats.fisher_exact([[a, n1 - a], [b, n2 - b]], alternative=alternative).pvalue
                for a in range(n1 + 1)
                for b in range(n2 + 1)
            )
            assert smallest_p_value(n1, n2, alternative) == pytest.approx(best, rel=1e-9)
    assert smallest_p_value(0, 5, alternative) == 1.0


def test_classes_and_collections_too_small_to_test_are_named():
    """A class of one image among three cannot have a significant concept (1/3 at best):
    every function that tests says so once, naming the groups, and records the smallest
    p-value; groups large enough are not named."""
    from sksplice.shift import compare_datasets

    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] + [[0.0, 1.0]] * 37)
    y = np.array(["lone", "pair", "pair"] + ["many"] * 37)
    # 1 image of 40 could be significant (1/40 < 0.05): nothing said, all recorded
    with warnings.catch_warnings():
        warnings.simplefilter("error", TooFewSamplesWarning)
        ranking = rank_each_class(W, y, ["x", "z"])
    assert ranking.attrs["smallest_p_value"]["lone"] == pytest.approx(1 / 40)
    assert ranking.attrs["smallest_p_value"]["pair"] == pytest.approx(1 / 780)
    few = np.isin(y, ["lone", "pair"])
    with pytest.warns(TooFewSamplesWarning, match=r"in none of 2 classes can a concept") as record:
        rank_each_class(W[few], y[few], ["x", "z"])
    assert len(record) == 1
    assert [group[:3] for group in record[0].message.groups] == [("lone", 1, 2), ("pair", 2, 1)]
    assert "class 'lone', 1 sample against 2 in the rest: 0.33" in str(record[0].message)
    with pytest.warns(TooFewSamplesWarning, match=r"class 'lone'.*against 2 of class 'pair'"):
        rank_concepts(W, y, "lone", "pair", concepts=["x", "z"])
    with pytest.warns(TooFewSamplesWarning, match=r"collection 'B'.*2 samples against 1 in 'A'"):
        shift = compare_datasets(W[:1], W[1:3], concepts=["x", "z"])
    assert shift.attrs["smallest_p_value"] == pytest.approx(1 / 3)
    # large enough: nothing said
    with warnings.catch_warnings():
        warnings.simplefilter("error", TooFewSamplesWarning)
        rank_concepts(W, y, "many", concepts=["x", "z"])
        compare_datasets(W[:20], W[20:], concepts=["x", "z"])


@pytest.mark.parametrize("correction", ["holm", "bonferroni", "fdr_by", "fdr_bh", None])
def test_the_smallest_adjusted_p_value_bounds_every_table_and_is_reached(correction):
    """Holm or Bonferroni over 2,000 concepts with a class of 3 against 30 (floor 1/5,456
    = 0.00018): no adjusted p-value could be below 0.37, yet nothing was said, and the
    empty list of significant concepts read as a finding."""
    from sksplice.shift import compare_datasets

    names = [f"c{i}" for i in range(2000)]
    y = np.array(["a"] * 3 + ["b"] * 15 + ["c"] * 15)
    raises = correction in ("holm", "bonferroni")
    for seed in range(3):
        W = (np.random.default_rng(seed).random((33, 2000)) < 0.2).astype(float)
        W[3] = 1.0  # (every concept present somewhere: all 2,000 tested)
        W[:3, 0], W[3:, 0] = 1.0, 0.0  # (c0: in every image of class a, in no other)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            one = rank_concepts(W, y, "a", concepts=names, correction=correction)
            each = rank_each_class(W, y, names, correction=correction)
            shift = compare_datasets(W[3:], W[:3], concepts=names, correction=correction)
        for table in (one, shift):
            bound = table.attrs["smallest_adjusted_p_value"]
            assert table["p_adjusted"].min() >= bound * (1 - 1e-12)
            if correction in ("holm", "bonferroni", None):  # (c0 reaches it)
                assert table["p_adjusted"].min() == pytest.approx(bound, rel=1e-9)
        by_class = each.groupby("class")["p_adjusted"].min()
        for cls, bound in each.attrs["smallest_adjusted_p_value"].items():
            assert by_class[cls] >= bound * (1 - 1e-12), (cls, correction)
        warned = [str(w.message) for w in record if w.category is TooFewSamplesWarning]
        if raises:
            assert len(warned) == 3, warned
            assert (
                "no concept of class 'a' can be significant at alpha=0.05: with 3 samples "
                "against 30 in the rest, Fisher's exact test, with the "
                f"{'Holm' if correction == 'holm' else 'Bonferroni'} correction over 2,000 "
                "tests, gives no adjusted p-value below 0.37, whatever the counts"
            ) in warned[0]
            assert "correction over 6,000 tests" in warned[1]
            assert warned[0].endswith("more samples, or fewer tests (min_count), are needed")
        else:
            assert warned == []
    raw = one.attrs["smallest_p_value"]
    assert raw == pytest.approx(1 / 5456)
    expected = {
        "holm": 2000 * raw,
        "bonferroni": 2000 * raw,
        "fdr_by": raw * np.sum(1 / np.arange(1, 2001)),
    }.get(correction, raw)
    assert one.attrs["smallest_adjusted_p_value"] == pytest.approx(expected, rel=1e-12)
    # (all classes' tests in one family: Holm's first step multiplies the smallest of all
    # by their number, a test after all the others' its class's by one class's number)
    floor = each.attrs["smallest_p_value"]
    if correction == "holm":
        first = 6000 * min(floor.values())
        assert each.attrs["smallest_adjusted_p_value"]["a"] == pytest.approx(
            max(first, 2000 * floor["a"]), rel=1e-12
        )


def test_holms_floor_of_a_class_counts_only_the_classes_that_can_come_first():
    # Classes of 3, 4 and 26 over 1,500 concepts: a test of class b can come after all of
    # class c's (whose floor is lower), not after class a's (higher), so its multiplier is
    # at least 3,000, not 1,500: 0.073, where 0.037 (below alpha) was recorded and nothing
    # said.
    names = [f"c{i}" for i in range(1500)]
    y = np.array(["a"] * 3 + ["b"] * 4 + ["c"] * 26)
    for seed in range(3):
        W = (np.random.default_rng(seed).random((33, 1500)) < 0.2).astype(float)
        W[7] = 1.0  # (every concept present somewhere)
        W[:, 0] = np.isin(y, ["a"])  # (concepts in every image of one class, no other)
        W[:, 1] = np.isin(y, ["b"])
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ranking = rank_each_class(W, y, names, correction="holm")
        floor = ranking.attrs["smallest_p_value"]
        bound = ranking.attrs["smallest_adjusted_p_value"]
        assert bound["b"] == pytest.approx(3000 * floor["b"], rel=1e-12)
        assert bound["a"] == pytest.approx(1500 * floor["a"], rel=1e-12)
        assert bound["c"] == pytest.approx(4500 * floor["c"], rel=1e-12)
        lowest = ranking.groupby("class")["p_adjusted"].min()
        assert all(lowest[cls] >= bound[cls] * (1 - 1e-12) for cls in bound)
        (warned,) = [w.message for w in record if w.category is TooFewSamplesWarning]
        assert [group[0] for group in warned.groups] == ["a", "b"]


def test_labels_alike_but_for_case_or_spaces_are_warned_about():
    """'Temple' and 'temple' (a typed labels file) became two classes of half the
    images each, and 'the rest' of each held the other, without a word."""
    W = np.eye(4)
    y = ["Temple", "temple", "temple", "flower"]
    with pytest.warns(UserWarning, match=r"'Temple' and 'temple'; if they name one class"):
        profiles = concept_profiles(W, y, ["a", "b", "c", "d"])
    assert "Temple" in profiles["prevalence"].columns  # (still counted apart: only said)
    with pytest.warns(UserWarning, match=r"'Flower pot' and 'flower  pot'"):
        concept_profiles(W, ["flower  pot", "Flower pot", "x", "x"], ["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        concept_profiles(W, ["cat", "car", "cats", "x"], ["a", "b", "c", "d"])
        concept_profiles(W, [1, 2, 2, 1], ["a", "b", "c", "d"])


def test_z_is_given_only_where_its_normal_approximation_holds():
    """One caption against 120: z was 11.0 beside a p-value of 0.29; every expected count
    of 5 or more gives z, a smaller one NaN."""
    from sksplice.shift import compare_datasets

    W_a = np.zeros((120, 2))
    W_a[:60, 1] = 1.0
    W_b = np.array([[1.0, 1.0]])
    shift = compare_datasets(W_a, W_b, concepts=["rare", "half"])
    assert np.isnan(shift.loc["rare", "z"]) and np.isnan(shift.loc["half", "z"])
    W_b = np.zeros((20, 2))
    W_b[:15, 1] = 1.0
    shift = compare_datasets(W_a, W_b, concepts=["rare", "half"])
    table = np.array([[15, 5], [60, 60]])
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert shift.loc["half", "z"] ** 2 == pytest.approx(chi2, rel=1e-9)
    assert "rare" not in shift.index  # (in no sample: not tested)


def test_rank_one_vs_rest_and_min_count(rng):
    W, y = _random_weights(rng, n=90, c=6)
    W[y == "b", 4] = 1.0  # present in every "b" row
    W[y != "b", 4] = 0.0
    W[:, 5] = 0.0  # never present: not tested
    ranking = rank_concepts(sp.csr_matrix(W), y, "b", concepts=list("uvwxyz"))
    assert ranking.index[0] == "y"
    assert "z" not in ranking.index
    assert ranking.attrs["negative"] == "rest"
    assert ranking.attrs["one_vs_rest"] is True
    assert ranking.attrs["n_negative"] == int((y != "b").sum())
    dense = rank_concepts(W, y, "b", concepts=list("uvwxyz"))
    pd.testing.assert_frame_equal(ranking, dense)
    # (an empty table is said: 90 samples cannot hold a concept 10,000 times)
    with pytest.warns(UserWarning, match=r"no concept is present in min_count=10000 or more"):
        few = rank_concepts(W, y, "b", concepts=list("uvwxyz"), min_count=10_000)
    assert few.empty
    # ... but not where no concept is present at all (a lower min_count would not help)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rank_concepts(0 * W, y, "b", concepts=list("uvwxyz"), min_count=5).empty


def test_adjust_pvalues_holm_bonferroni_bh():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(_adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.8])
    # Holm: sorted 0.01*4, 0.03*3, 0.04*2, 0.2*1 with running maximum.
    np.testing.assert_allclose(_adjust_pvalues(p, "holm"), [0.04, 0.09, 0.09, 0.2])
    # Benjamini-Hochberg by hand: sorted 0.01*4/1, 0.03*4/2, 0.04*4/3, 0.2*4/4 with a running
    # minimum from the top: 0.04, 0.0533 (for 0.04), 0.0533 (for 0.03, was 0.06), 0.2
    np.testing.assert_allclose(_adjust_pvalues(p, "fdr_bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    np.testing.assert_allclose(
        _adjust_pvalues(p, "fdr_bh"), stats.false_discovery_control(p, method="bh")
    )
    np.testing.assert_allclose(
        _adjust_pvalues(p, "fdr_by"), stats.false_discovery_control(p, method="by")
    )
    np.testing.assert_allclose(_adjust_pvalues(p, None), p)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y": ["a"] * 4, "positive": "a"}, ValueError, "single class"),
        ({"positive": "zebra"}, ValueError, "not a label"),
        ({"positive": "a", "negative": "zebra"}, ValueError, "not a label"),
        ({"positive": "a", "negative": "a"}, ValueError, "must differ"),
        ({"positive": "a", "correction": "fdr"}, ValueError, "correction"),
        ({"positive": "a", "alpha": 2.0}, ValueError, "alpha"),
        ({"positive": "a", "min_count": 0}, ValueError, "min_count"),
        ({"positive": "a", "alternative": "bigger"}, ValueError, "alternative"),
        ({"positive": "a", "y": ["a", "b"]}, ValueError, "2 entries"),
    ],
)
def test_rank_bad_input(kwargs, error, match):
    W = np.ones((4, 2))
    kwargs = {"y": ["a", "a", "b", "b"], **kwargs}
    with pytest.raises(error, match=match):
        rank_concepts(W, concepts=["p", "q"], **kwargs)


def test_rank_without_names_is_an_error():
    with pytest.raises(ValueError, match="no concept names"):
        rank_concepts(np.ones((4, 2)), ["a", "a", "b", "b"], "a")


def test_sparse_dataframe_input_matches_dense(rng):
    W, y = _random_weights(rng)
    names = [f"c{i}" for i in range(W.shape[1])]
    # Sparse columns with fill value 0 (pandas 3.0.x's from_spmatrix would fill with NaN).
    frame = pd.DataFrame(
        {name: pd.arrays.SparseArray(W[:, j], fill_value=0.0) for j, name in enumerate(names)}
    )
    assert sp.csr_matrix(W).nnz < W.size  # there are zeros left unstored
    pd.testing.assert_frame_equal(concept_profiles(frame, y), concept_profiles(W, y, names))
    pd.testing.assert_frame_equal(
        rank_concepts(frame, y, "a"), rank_concepts(W, y, "a", concepts=names)
    )


def test_planted_correlation_is_ranked_first(laion_minilm, minilm):
    """Every "woman" phrase mentions a bikini, no "man" phrase does: bikini comes first."""
    from sksplice.transformer import SpliceTransformer

    from ._helpers_editing import load_example

    texts, y = load_example("analysis_spurious").captions()
    X = minilm.embed_text(texts)
    concepts, raw = laion_minilm
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=raw, l1_penalty=0.25, device="cpu"
    ).fit(X)
    W = splice.transform(X)
    ranking = rank_concepts(W, y, "woman", "man", concepts=splice)
    top = ranking.iloc[0]
    assert ranking.index[0] == "bikini"
    assert top["prevalence_positive"] > 0.7 and top["count_negative"] == 0
    assert bool(top["significant"]) and top["p_adjusted"] < 1e-6
    assert top["prevalence_diff"] > ranking["prevalence_diff"].iloc[1] + 0.3
    # the reverse comparison does not put it near the top
    reverse = rank_concepts(W, y, "man", "woman", concepts=splice)
    assert "bikini" not in reverse.index[:10]
    profiles = concept_profiles(W, y, splice, drop_empty=True)
    assert profiles.loc["bikini", ("prevalence", "woman")] == top["prevalence_positive"]
    assert profiles.loc["bikini", ("prevalence", "man")] == 0.0


def test_worked_example_runs_and_writes_figures(laion_minilm, minilm, tmp_path):
    from ._helpers_editing import assert_png, load_example

    example = load_example("analysis_spurious")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    assert result["ranking"].index[0] == "bikini"
    assert set(result["figures"]) == {"prevalence", "class_profile", "decomposition"}
    for path in result["figures"].values():
        assert Path(path).parent == tmp_path
        assert_png(path)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=4, max_value=30),
    c=st.integers(min_value=1, max_value=6),
)
def test_profile_and_ranking_invariants(data, n, c):
    seed = data.draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    W = rng.random((n, c)) * (rng.random((n, c)) < data.draw(st.floats(0.0, 1.0)))
    y = rng.integers(0, 3, size=n)
    y[:2] = [0, 1]  # at least two classes
    names = [f"k{i}" for i in range(c)]
    prof = concept_profiles(sp.csr_matrix(W), y, names)
    prevalence = prof["prevalence"]
    assert ((prevalence >= 0) & (prevalence <= 1)).all().all()
    sizes = np.bincount(y, minlength=3)
    classes = [k for k in range(3) if sizes[k]]
    weighted = sum(prevalence[k] * sizes[k] for k in classes) / n
    np.testing.assert_allclose(weighted, prevalence["all"], atol=1e-12)
    correction = data.draw(st.sampled_from(["fdr_bh", "fdr_by", "holm", "bonferroni", None]))
    ranking = rank_concepts(W, y, 0, concepts=names, correction=correction)
    assert (ranking["p_adjusted"] >= ranking["p_value"] - 1e-15).all()
    assert (ranking["p_adjusted"] <= 1).all()
    assert ranking["prevalence_diff"].is_monotonic_decreasing
    z = ranking["z"].to_numpy()
    finite = np.isfinite(z)
    assert (np.sign(z[finite]) == np.sign(ranking["prevalence_diff"].to_numpy()[finite])).all()
    # no p-value is below the smallest the groups' sizes allow; none significant above alpha
    smallest = ranking.attrs["smallest_p_value"]
    assert (ranking["p_value"] >= smallest * (1 - 1e-12)).all()
    if smallest >= 0.05:
        assert not ranking["significant"].any()
    sparse = rank_concepts(sp.csr_matrix(W), y, 0, concepts=names, correction=correction)
    pd.testing.assert_frame_equal(ranking, sparse)


def _cli_ranking(W, y, names, top_k=8, **kwargs):
    """The ranking table ``sksplice profile`` builds: one-vs-rest, p-values adjusted in
    two levels, top rows per class."""
    from sksplice.analysis import rank_each_class

    ranking = rank_each_class(W, y, names, **kwargs)
    top = ranking.groupby("class", sort=False).head(top_k).reset_index(drop=True)
    top.attrs = ranking.attrs
    return top


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_profile_output_shows_significance(tmp_path, fmt):
    """`sksplice profile` lists a concept as separating classes only when it is significant."""
    import json

    from sksplice.cli import _profile as profile_command

    # "sea": 20 of 20 "coast" images, 0 of 20 "forest" ones (significant); "sky": the one
    # "lone" image against 39 others without it (Fisher, not significant)
    n = 41
    W = np.zeros((n, 3))
    y = np.array(["coast"] * 20 + ["forest"] * 20 + ["lone"])
    W[:20, 0] = 1.0
    W[40, 1] = 1.0
    W[::2, 2] = 1.0
    ranking = _cli_ranking(W, y, ["sea", "sky", "grass"])
    dec = types.SimpleNamespace(skipped=[], metadata={}, unit="images")
    out = tmp_path / "profile.out"
    args = types.SimpleNamespace(output=str(out), format=fmt, top_k=10)
    assert profile_command._write_profile_run(args, dec, ranking, None) == 0
    text = out.read_text()
    if fmt == "table":
        block = text.split("class lone:")[1]
        assert "sky" not in block  # 1 of 1 against 0 of 40 is p = 1/41 unadjusted: not listed
        # (its class as a whole: 3 x 1/41 over its 3 concepts, 0.073; over the 3 classes,
        # second of them, 3/2 x 0.073)
        assert (
            "  none (the class as a whole is not found to differ from the rest, adjusted p=0.11; "
            "3 concepts tested; -f csv lists the top 3 by difference)"
        ) in block
        coast = text.split("class coast:")[1].split("class forest:")[0]
        assert "sea" in coast and "p_adj=" in coast and "adjusted p < 0.05" in coast
        # what the adjustment covers: the classes as a whole, then the concepts of the
        # one that differs
        assert text.startswith(
            "p-values of Fisher's exact test (one-sided), Benjamini-Hochberg-adjusted in two "
            "levels: each class against the rest as a whole (all 3 classes: 1 found to differ), "
            "then the concepts of each class found to differ, at alpha x 1/3\n"
        )
        # (every significant row listed: no line under them)
        assert "grass" not in coast and coast.rstrip("\n").endswith("sea")
    elif fmt == "csv":
        rows = pd.read_csv(io.StringIO(text))
        assert {"test", "significant", "p_adjusted"} <= set(rows.columns)
        sky = rows[(rows["class"] == "lone") & (rows["concept"] == "sky")].iloc[0]
        assert sky["test"] == "fisher" and not sky["significant"]
    else:
        records = json.loads(text)["ranking"]
        sea = next(r for r in records if r["class"] == "coast" and r["concept"] == "sea")
        assert sea["significant"] is True and sea["test"] == "fisher"
        metadata = json.loads(text)["metadata"]
        assert metadata["correction"] == "fdr_bh"
        assert metadata["adjusted_over"] == "classes, then each class's concepts"
        assert metadata["tests"] == 9 and metadata["alternative"] == "greater"
        assert metadata["classes_differing"] == 1
        assert metadata["class_p_adjusted"]["lone"] == pytest.approx(3 / 2 * 3 / 41)
        assert metadata["class_p_adjusted"]["coast"] < 1e-9


@pytest.mark.parametrize(
    ("sizes", "said"), [({"coast": 20, "forest": 20}, "both classes"), ({}, "both classes")]
)
def test_the_profile_table_names_the_classes_its_tests_cover(tmp_path, sizes, said):
    """The header of `sksplice profile`'s table says which classes the adjustment covers:
    "both classes" for two ("all 2 classes" before), and every class counted, also one the
    table lists no row of."""

    from sksplice.cli import _profile as profile_command

    W = np.zeros((40, 2))
    W[:20, 0] = 1.0
    W[::2, 1] = 1.0
    y = np.array(["coast"] * 20 + ["forest"] * 20)
    ranking = _cli_ranking(W, y, ["sea", "sky"])
    dec = types.SimpleNamespace(
        skipped=[], metadata={"classes": sizes} if sizes else {}, unit="images"
    )
    out = tmp_path / "profile.out"
    args = types.SimpleNamespace(output=str(out), format="table", top_k=10)
    assert profile_command._write_profile_run(args, dec, ranking, None) == 0
    assert out.read_text().startswith(
        "p-values of Fisher's exact test (one-sided), Benjamini-Hochberg-adjusted in two "
        f"levels: each class against the rest as a whole ({said}: 1 found to differ), then "
        "the concepts of each class found to differ, at alpha x 1/2\n"
    )
    # a class that none of the table's rows is of is counted all the same (what the
    # correction covered: the classes of the ranking); over all tests together (Holm)
    ranking = _cli_ranking(W, y, ["sea", "sky"], correction="holm")
    only_coast = ranking[ranking["class"] == "coast"].reset_index(drop=True)
    only_coast.attrs = ranking.attrs
    dec.metadata = {"classes": {"coast": 20, "forest": 20, "desert": 20}}
    assert profile_command._write_profile_run(args, dec, only_coast, None) == 0
    assert "of all 3 classes together\n" in out.read_text()


def test_profile_lists_no_chance_difference_in_some_class_of_many(monkeypatch):
    """`sksplice profile` shows every class's significant concepts together: a class is
    first tested as a whole against the rest, over all classes. Adjusted within each
    class only, a chance difference was listed in some class of 20 (of 100 images each)
    in 31% of datasets without any difference."""

    from sksplice.cli import _profile as profile_command

    n_classes, per = 20, 10
    labels = [f"k{i:02d}" for i in range(n_classes) for _ in range(per)]
    paths = [Path(f"{lab}/{i}.png") for i, lab in enumerate(labels)]
    W = np.zeros((len(labels), 2))
    W[:, 1] = 1.0  # "sky" in every image
    W[:3, 0] = 1.0  # "kite" in 3 of the 10 images of k00 ...
    W[[per * c for c in range(1, 6)], 0] = 1.0  # ... and in one image of k01 to k05 each
    splice = types.SimpleNamespace(
        transform=lambda X: X, get_feature_names_out=lambda: np.array(["kite", "sky"], dtype=object)
    )
    dec = types.SimpleNamespace(paths=paths, X=W, splice=splice, metadata={}, skipped=[])
    monkeypatch.setattr(profile_command, "_decompose", lambda *args, **kwargs: dec)
    _, _, ranking = profile_command._profile(types.SimpleNamespace(top_k=None), paths, labels, None)
    kite = ranking[(ranking["class"] == "k00") & (ranking["concept"] == "kite")].iloc[0]
    p = stats.fisher_exact([[3, 7], [5, 185]], alternative="greater").pvalue  # 0.0045
    assert kite["p_value"] == pytest.approx(p, rel=1e-10)
    # within k00's 2 concepts Benjamini-Hochberg gives 2p = 0.009, "significant"; k00 as
    # a whole (that smallest adjusted p-value), first of the 20 classes, is 20 x 2p = 0.18
    assert len(ranking) == 40
    class_p = ranking.attrs["class_p_adjusted"]
    assert class_p["k00"] == pytest.approx(20 * 2 * p, rel=1e-10)
    assert ranking.attrs["n_classes_differing"] == 0
    assert kite["p_adjusted"] == pytest.approx(40 * p, rel=1e-10)
    assert not ranking["significant"].any()
    assert ranking.attrs["adjusted_over"] == "classes, then each class's concepts"
    assert ranking.attrs["n_tests"] == 40
    # --top-k keeps the rows of each class, as adjusted over all classes
    top = profile_command._top_per_class(ranking, 1)
    assert len(top) == 20 and top.attrs["n_tests"] == 40
    merged = top.merge(ranking, on=["class", "concept"], suffixes=("", "_all"))
    np.testing.assert_array_equal(merged["p_adjusted"], merged["p_adjusted_all"])


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "NaN"])
def test_missing_labels_are_named_by_row(missing):
    W = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.8]])
    y = np.array(["a", missing, "b", "b"], dtype=object)
    with pytest.raises(ValueError, match=r"labels `y` are missing \(None or NaN\) at row\(s\) 1:"):
        concept_profiles(W, y, ["x", "z"])
    with pytest.raises(ValueError, match=r"row\(s\) 1:"):
        rank_concepts(W, y, "a", concepts=["x", "z"])


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "NaN"])
def test_a_missing_label_in_a_list_is_no_class_nan(missing):
    # np.asarray(["a", nan]) is ["a", "nan"]: a list is read without turning values to text
    W = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.8]])
    with pytest.raises(ValueError, match=r"labels `y` are missing \(None or NaN\) at row\(s\) 1:"):
        concept_profiles(W, ["a", missing, "b", "b"], ["x", "z"])
    with pytest.raises(TypeError, match=r"mix types that cannot be ordered \(int, str\)"):
        rank_concepts(W, [1, "dog", 1, "dog"], 1, concepts=["x", "z"])
    string_dtype = pd.Series(["a", missing, "b", "b"], dtype="string")  # (pd.NA)
    with pytest.raises(ValueError, match=r"are missing \(None or NaN\) at row\(s\) 1:"):
        concept_profiles(W, string_dtype, ["x", "z"])
    profile = concept_profiles(W, [2, 10, 2, 10], ["x", "z"])  # numbers stay numbers
    assert list(profile["count"].columns) == ["all", 2, 10]


def test_a_concept_named_twice_is_refused_naming_its_columns():
    W = np.array([[1.0, 0.0, 0.2], [0.5, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"the concept 'x' names two columns \(0 and 2\)"):
        rank_concepts(W, ["a", "b"], "a", concepts=["x", "y", "x"])
    with pytest.raises(ValueError, match=r"'x' names two columns"):
        concept_profiles(pd.DataFrame(W, columns=["x", "y", "x"]), ["a", "b"])


@pytest.mark.parametrize(
    ("names", "error", "match"),
    [
        ([None, "dog"], TypeError, r"`concepts` entry 0 is None, not a string"),
        ([np.nan, "dog"], TypeError, r"`concepts` entry 0 is a float \(nan\), not a string"),
        (["dog", 2], TypeError, r"`concepts` entry 1 is an int \(2\), not a string"),
        (["dog", " "], ValueError, r"`concepts` entry 1 is blank \(' '\); name its column$"),
    ],
)
def test_concept_names_that_name_no_concept_are_refused(names, error, match):
    # None became NaN in the tables' index, and a number a label no name finds
    from sksplice.shift import compare_datasets

    W = np.array([[1.0, 0.0], [0.0, 0.2], [0.3, 0.3], [0.0, 0.1]])
    y = ["a", "a", "b", "b"]
    with pytest.raises(error, match=match):
        concept_profiles(W, y, names)
    with pytest.raises(error, match=match):
        rank_concepts(W, y, "a", concepts=names)
    with pytest.raises(error, match=match):
        compare_datasets(W[:2], W[2:], concepts=names)
    # names as numpy strings or a pandas Index are names
    for named in (np.array(["dog", "sky"]), pd.Index(["dog", "sky"])):
        assert list(concept_profiles(W, y, named).index) == ["dog", "sky"]


def test_labels_of_mixed_types_are_refused_naming_them():
    W = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.8]])
    y = np.array(["a", 1, "a", 1], dtype=object)
    with pytest.raises(
        TypeError, match=r"labels `y` mix types that cannot be ordered \(int, str\)"
    ):
        concept_profiles(W, y, ["x", "z"])


def test_nullable_and_boolean_weight_frames():
    # pd.NA in a nullable Float64 column was "must be numeric (float() argument ...
    # 'NAType')": it is a missing value, named by row; booleans (presence) are numbers
    frame = pd.DataFrame(
        {"a": pd.array([0.5, None], dtype="Float64"), "b": pd.array([0.1, 0.2], dtype="Float64")}
    )
    with pytest.raises(
        ValueError, match=r"NaN or infinite values in 1 row\(s\): 1; .*leave these rows out \(and"
    ):
        concept_profiles(frame)
    present = concept_profiles(pd.DataFrame({"a": [True, False], "b": [True, True]}))
    assert present[("prevalence", "all")].tolist() == [0.5, 1.0]


@pytest.mark.parametrize("sparse", [False, True])
def test_negative_weights_are_refused_naming_the_rows(sparse):
    # A negative weight counted as present in the prevalences (SpLiCE weights never are)
    import scipy.sparse as sp

    from sksplice.shift import compare_datasets

    W = np.array([[0.5, 0.0], [0.1, -0.2], [0.0, 0.3], [-1.0, 0.0]])
    W = sp.csr_matrix(W) if sparse else W
    y = ["a", "b", "a", "b"]
    for call in (
        lambda: concept_profiles(W, y, concepts=["x", "z"]),
        lambda: rank_concepts(W, y, "a", concepts=["x", "z"]),
        lambda: compare_datasets(W, W, concepts=["x", "z"]),
    ):
        negative = r"non-negative .*2 row\(s\) hold negative values: 1, 3"
        with pytest.raises(ValueError, match=negative):
            call()


def test_equal_prevalence_differences_are_ordered_by_p_value():
    # 9/11 - 5/11 and 4/11 - 0/11 are the same difference; as floats they differ in
    # the last bit, which put the larger p-value first (and a --top-k cut dropped the
    # stronger concept)
    W = np.zeros((22, 2))
    W[:9, 0] = W[11:16, 0] = 1.0  # grass: 9 of 11 against 5 of 11
    W[:4, 1] = 1.0  # water: 4 of 11 against 0 of 11
    y = np.array(["a"] * 11 + ["b"] * 11)
    ranking = rank_concepts(W, y, "a", concepts=["grass", "water"])
    assert ranking["count_positive"].tolist() == [4, 9]
    assert ranking.index.tolist() == ["water", "grass"]
    assert ranking["p_value"].is_monotonic_increasing
    # and the column shows them equal (as p1 - p2 it read 0.36363636363636365 above
    # 0.3636363636363637: sorted by the counts, not monotonic in the column)
    assert ranking["prevalence_diff"].tolist() == [4 / 11, 4 / 11]


@pytest.mark.parametrize(
    "labels, label",
    [([1, 1, 0, 2], True), ([1, 1, 0, 2], np.True_), ([True, True, False, False], 1)],
)
def test_a_bool_label_is_not_taken_for_an_integer_one(labels, label):
    # True == 1: the ranking selected class 1 and was then headed "True" everywhere
    W = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"`positive`=.* is not a label of `y`; labels are"):
        rank_concepts(W, np.array(labels), label, concepts=["a", "b"])
    with pytest.raises(ValueError, match=r"`negative`=.* is not a label of `y`"):
        rank_concepts(W, np.array(labels), labels[2], label, concepts=["a", "b"])


def test_numbers_of_another_type_still_name_their_class():
    W = np.ones((4, 2))
    y = np.array([1, 1, 0, 2])
    for label in (1, np.int64(1), 1.0):
        assert rank_concepts(W, y, label, concepts=["a", "b"]).attrs["n_positive"] == 2
    yb = np.array([True, True, False, False])
    assert rank_concepts(W, yb, np.True_, concepts=["a", "b"]).attrs["n_positive"] == 2


def test_log_odds_ratio_is_zero_for_equal_prevalences_and_has_their_sign():
    """0.5 added to every cell gave 4 of 4 against 50 of 50 a log odds ratio of 2.418,
    and 0 of 4 against 1 of 50 one of -1.30 although B's prevalence is the higher."""
    from sksplice.shift import compare_datasets

    same = compare_datasets(np.ones((4, 1)), np.ones((50, 1)), concepts=["sky"]).iloc[0]
    assert same["log_odds_ratio"] == 0.0
    W = np.ones((202, 1))
    y = ["small"] * 2 + ["big"] * 200
    ranked = rank_concepts(W, y, "big", "small", concepts=["sky"], alternative="two-sided")
    assert ranked.iloc[0]["log_odds_ratio"] == 0.0
    half = compare_datasets(
        np.r_[np.ones((2, 1)), np.zeros((2, 1))],
        np.r_[np.ones((25, 1)), np.zeros((25, 1))],
        concepts=["sky"],
    ).iloc[0]
    assert half["log_odds_ratio"] == 0.0
    kite = compare_datasets(
        np.zeros((4, 1)), np.r_[np.ones((1, 1)), np.zeros((49, 1))], concepts=["kite"]
    ).iloc[0]
    # shrunk toward the pooled 1/54: A (0 + 1/54) / 5, B (1 + 1/54) / 51
    p_pool = 1 / 54
    p_a, p_b = p_pool / 5, (1 + p_pool) / 51
    expected = np.log(p_b / (1 - p_b)) - np.log(p_a / (1 - p_a))
    assert kite["log_odds_ratio"] == pytest.approx(expected, rel=1e-12)
    assert kite["log_odds_ratio"] > 0 and kite["prevalence_diff"] > 0


def test_log_odds_ratio_sign_follows_the_prevalence_difference_on_a_grid():
    from sksplice.analysis import _effect_sizes

    for n1, n2 in [(1, 1), (1, 7), (4, 50), (3, 3), (12, 9), (100, 10_000)]:
        step1, step2 = max(1, n1 // 12), max(1, n2 // 40)
        a, b = np.meshgrid(np.arange(0, n1 + 1, step1), np.arange(0, n2 + 1, step2), indexing="ij")
        x1, x2 = a.ravel().astype(float), b.ravel().astype(float)
        _, log_or = _effect_sizes(x1, float(n1), x2, float(n2))
        assert np.isfinite(log_or).all()
        diff = x1 * n2 - x2 * n1  # (the sign of x1/n1 - x2/n2, exactly)
        np.testing.assert_array_equal(np.sign(log_or), np.sign(diff))
        # 0 also where the concept is in every sample or in none
        everywhere = (x1 == n1) & (x2 == n2)
        assert (log_or[everywhere] == 0).all()


def _indexed_weights(rng):
    W, y = _random_weights(rng, n=30)
    names = [f"img{i}" for i in range(W.shape[0])]
    frame = pd.DataFrame(W, index=names, columns=[f"c{j}" for j in range(W.shape[1])])
    return frame, pd.Series(y, index=names)


@pytest.mark.parametrize("function", ["concept_profiles", "rank_concepts"])
def test_labels_in_another_order_than_the_rows_are_refused(rng, function):
    # Labels went to rows by position: a Series of the same samples in another order
    # (y.sample(frac=1)) gave every row another sample's label, without a word.
    W, y = _indexed_weights(rng)
    shuffled = y.iloc[[1, 0, *range(2, len(y))]]
    call = {
        "concept_profiles": lambda labels: concept_profiles(W, labels),
        "rank_concepts": lambda labels: rank_concepts(W, labels, "a"),
    }[function]
    with pytest.raises(ValueError) as info:
        call(shuffled)
    message = str(info.value)
    assert "labels `y` are indexed differently from the rows of W: at position 0" in message
    assert "y.index holds 'img1' and W.index 'img0'" in message
    assert "y.loc[W.index]" in message and "y.to_numpy()" in message
    # aligned, the result is that of the labels in the order of the rows
    pd.testing.assert_frame_equal(call(shuffled.loc[W.index]), call(y))
    pd.testing.assert_frame_equal(call(y.to_numpy()), call(y))


def test_labels_indexed_by_other_labels_are_refused(rng):
    W, y = _indexed_weights(rng)
    other = y.reset_index(drop=True)  # (positions 0, 1, ...: none of W's row names)
    with pytest.raises(ValueError, match=r"position 0, y.index holds 0 and W.index 'img0'") as info:
        concept_profiles(W, other)
    assert "cannot be aligned by index: pass y.to_numpy()" in str(info.value)
    # W of positions (its default index) with a Series in another order of those
    # positions: refused, reset_index works
    positional = W.reset_index(drop=True)
    reordered = y.set_axis(range(30)).iloc[[1, 0, *range(2, 30)]]
    with pytest.raises(ValueError, match=r"position 0, y.index holds 1 and W.index 0"):
        concept_profiles(positional, reordered)
    with pytest.raises(ValueError, match=r"pass y.reset_index\(drop=True\)") as info:
        concept_profiles(positional, reordered)
    # labels shuffled together with an array of the data (sklearn.utils.shuffle) hold
    # its positions in another order: the message's first advice is by position, which
    # is right for them; aligning them by index would mislabel every row
    message = str(info.value)
    assert "shuffled or split together with the data" in message
    assert message.index("y.reset_index(drop=True)") < message.index("y.loc[W.index]")
    expected = concept_profiles(W, y)
    # ... and with a Series of other labels (the rows kept by train_test_split of an
    # array and a Series), which can only be meant by position: taken as they are
    pd.testing.assert_frame_equal(concept_profiles(positional, y), expected)
    kept = y.set_axis(np.arange(30) * 3 + 7)
    pd.testing.assert_frame_equal(concept_profiles(positional, kept), expected)
    pd.testing.assert_frame_equal(concept_profiles(positional, y.reset_index(drop=True)), expected)
    # an index of the same labels of another dtype, or an array on either side: no check
    pd.testing.assert_frame_equal(concept_profiles(positional, y.set_axis(range(30))), expected)
    pd.testing.assert_frame_equal(concept_profiles(W.to_numpy(), other, W.columns), expected)
    pd.testing.assert_frame_equal(
        concept_profiles(positional.set_axis(np.arange(30.0)), y.set_axis(range(30))), expected
    )


def test_a_p_value_of_exactly_alpha_is_not_significant():
    # 2 of 4 images against none of 12: Fisher's one-sided p-value is exactly 1/20, summed
    # in floating point to 0.049999999999999975, and called significant at alpha 0.05
    from math import comb

    from sksplice.analysis import rank_each_class
    from sksplice.shift import compare_datasets

    W = np.zeros((16, 1))
    W[:2, 0] = 1.0
    y = ["a"] * 4 + ["b"] * 12
    ranking = rank_concepts(W, y, "a", concepts=["snow"])
    assert ranking.loc["snow", "p_adjusted"] == pytest.approx(comb(4, 2) / comb(16, 2), rel=1e-12)
    assert not ranking.loc["snow", "significant"]
    each = rank_each_class(W, y, ["snow"])
    assert not each["significant"].any()
    compared = compare_datasets(W[4:], W[:4], concepts=["snow"])
    assert compared.loc["snow", "p_adjusted"] == pytest.approx(0.05, rel=1e-12)
    assert not compared.loc["snow", "significant"]
    # one a hair further below is
    assert rank_concepts(W, y, "a", concepts=["snow"], alpha=0.0500001).loc["snow", "significant"]


@pytest.mark.parametrize(
    ("y", "shown"), [(np.array(["woman"] * 4), "'woman'"), (np.ones(4, int), "1")]
)
def test_a_single_class_is_named_as_python_shows_it(y, shown):
    # "`y` holds a single class (np.str_('woman'))"
    with pytest.raises(ValueError) as refused:
        rank_concepts(np.eye(4), y, y[0], concepts=list("abcd"))
    assert str(refused.value).startswith(f"`y` holds a single class ({shown}); ")


def test_rank_concepts_names_concept_names_given_as_the_class_to_compare_with():
    # rank_concepts(W, y, "cat", names), as concept_profiles(W, y, names) takes them,
    # said that the weights carried no concept names, and to give concepts=
    W = sp.random(30, 8, density=0.5, format="csr", random_state=0)
    y = np.arange(30) % 2
    names = [f"c{i}" for i in range(8)]
    for as_given in (names, np.array(names)):
        with pytest.raises(TypeError) as info:
            rank_concepts(W, y, 1, as_given)
        assert str(info.value).startswith(
            f"`negative` must be one label of `y`, got a {type(as_given).__name__}: 8 items, "
            "'c0' first: concept names perhaps; rank_concepts takes the classes to compare "
            "third and fourth, and the names as concepts="
        )
    # a list of a few labels is shown whole; with the names given, no word of them
    with pytest.raises(TypeError) as info:
        rank_concepts(W, y, ["a"], concepts=names)
    assert str(info.value) == "`positive` must be one label of `y`, got a list: ['a']"
    with pytest.raises(
        TypeError, match=r"^`positive` must be one label of `y`, got a list: \[0, 1\]$"
    ):
        rank_concepts(W, y, [0, 1], concepts=names)
    assert rank_concepts(W, y, 1, concepts=names).shape[0] > 0


def _small_splice(embedder=None):
    """A SpliceTransformer of 8 concepts in 6 dimensions fitted on 30 random rows, the
    weights of 30 others and their labels (alternately 0 and 1)."""
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    E = rng.normal(size=(8, 6))
    names = [f"c{i}" for i in range(8)]
    splice = SpliceTransformer(embedder=embedder, vocabulary=names, concept_embeddings=E)
    splice.fit(rng.normal(size=(30, 6)))
    return splice, splice.transform(rng.normal(size=(30, 6))), np.arange(30) % 2


def test_rank_concepts_names_a_transformer_given_as_the_class_to_compare_with():
    # rank_concepts(W, y, "cat", splice), as concept_profiles(W, y, splice) takes it: the
    # message said the weights carried no names, or printed the transformer's whole repr
    splice, W, y = _small_splice()
    for W_given in (W, pd.DataFrame(W.toarray(), columns=splice.get_feature_names_out())):
        with pytest.raises(TypeError) as info:
            rank_concepts(W_given, y, 1, splice)
        assert str(info.value) == (
            "`negative` must be one label of `y`, got a SpliceTransformer: rank_concepts "
            "takes the classes to compare third and fourth, and the transformer (or the "
            "concept names) as concepts= (rank_concepts(W, y, positive, concepts=splice))"
        )
    assert rank_concepts(W, y, 1, concepts=splice).shape[0] > 0


class _HashTexts:
    """A text embedder of 6 dimensions, each text's from its characters."""

    def embed_text(self, texts):
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=6) for t in texts]
        return np.asarray(rows, dtype=np.float32)

    def cache_key(self):
        return "hash-texts-6"


def test_a_transformer_given_in_another_arguments_place_says_where_it_goes():
    # concept_profiles(W, splice) put it in `y` and said the weights carry no names;
    # probe_concepts(model, splice) printed its whole repr (the concept embeddings);
    # ConceptRetriever(splice) searched by names and failed text queries for `splice`
    from sklearn.linear_model import LogisticRegression

    from sksplice import SpliceTransformer
    from sksplice.probes import probe_concepts, zero_concept_coefficients
    from sksplice.retrieval import ConceptRetriever
    from sksplice.shift import compare_datasets

    splice, W, y = _small_splice()
    model = LogisticRegression().fit(W, y)
    third = "the transformer (or the concept names) goes third, or as concepts= "
    refused = {
        lambda: concept_profiles(W, splice): (
            "`y` must be the class labels of the rows (or None), got a SpliceTransformer: "
            + third
            + "(concept_profiles(W, y, concepts=splice); concept_profiles(W, "
            "concepts=splice) without labels)"
        ),
        lambda: rank_each_class(W, splice): (
            "`y` must be the class labels of the rows, got a SpliceTransformer: "
            + third
            + "(rank_each_class(W, y, concepts=splice))"
        ),
        lambda: compare_datasets(W, splice): (
            "`W_b` must be the concept weights of collection B, got a SpliceTransformer: "
            "compare_datasets takes the weights of both collections first, and the "
            "transformer (or the concept names) third, or as concepts= "
            "(compare_datasets(W_a, W_b, concepts=splice))"
        ),
        lambda: probe_concepts(model, splice): (
            "`k` must be a positive integer or None, got a SpliceTransformer: probe_concepts "
            "takes the concept names (or the transformer) as concepts= (probe_concepts(model, "
            "concepts=splice))"
        ),
        lambda: probe_concepts(model, list(splice.get_feature_names_out())): (
            "`k` must be a positive integer or None, got 8 items: probe_concepts takes the "
            "concept names (or the transformer) as concepts= (probe_concepts(model, "
            "concepts=splice))"
        ),
        lambda: zero_concept_coefficients(model, splice): (
            "`concepts` must be the concepts to zero, a list of names, got a "
            "SpliceTransformer: the transformer (or the names) that names the classifier's "
            "inputs goes in feature_names= (zero_concept_coefficients(model, ['dog'], "
            "feature_names=splice))"
        ),
    }
    for call, message in refused.items():
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == message
    # (a class, not a fitted transformer; a frame whose columns are named fit and
    # get_params is no estimator)
    with pytest.raises(TypeError, match=r"got the class SpliceTransformer, not a fitted"):
        concept_profiles(W, SpliceTransformer)
    odd = pd.DataFrame(W.toarray()[:, :2], columns=["fit", "get_params"])
    assert compare_datasets(odd, odd).shape[0] == 2
    with pytest.raises(TypeError, match=r"got 1 item: probe_concepts takes"):
        probe_concepts(model, ["c0"])
    with pytest.raises(TypeError, match=r"k must be a positive integer or None, got array"):
        probe_concepts(model, np.array(3))
    with pytest.raises(TypeError, match=r"got 2 items: probe_concepts takes"):
        probe_concepts(model, [["c0"], ["c1", "c2"]])  # (ragged: no array of it)
    # (text queries: the transformer with an embedder given as `concepts`)
    texts = _small_splice(_HashTexts())[0]
    retriever = ConceptRetriever(texts).fit(W)
    with pytest.raises(ValueError) as info:
        retriever.search_text("a dog")
    assert str(info.value).endswith(
        "; the SpliceTransformer given is `concepts`, the first argument, which only names "
        "the columns: give it as splice= (ConceptRetriever(splice=splice), whose concepts "
        "name the columns too)"
    )
    assert ConceptRetriever(splice=texts).fit(W).search_text("a dog") is not None
    # (without an embedder, the advice would not help: not given)
    with pytest.raises(ValueError) as info:
        ConceptRetriever(splice).fit(W).search_text("a dog")
    assert "give it as splice=" not in str(info.value)
    # (the forms asked for work)
    assert concept_profiles(W, y, concepts=splice).shape[0] == 8
    assert probe_concepts(model, concepts=splice).shape[0] > 0
    assert zero_concept_coefficients(model, ["c1"], feature_names=splice).coef_[0, 1] == 0
    # (a parameter's check shows an estimator by its class, a long value cut short)
    with pytest.raises(TypeError) as info:
        SpliceTransformer(
            vocabulary=["a"], concept_embeddings=np.ones((1, 6)), l1_penalty=splice
        ).fit(np.random.default_rng(1).normal(size=(30, 6)))
    assert "got a SpliceTransformer" in str(info.value) and "array(" not in str(info.value)


@pytest.mark.parametrize("value", ["False", "yes", None, 1])
def test_drop_empty_must_be_a_bool(value):
    # drop_empty="False" dropped the empty concepts (a non-empty string is true)
    W = np.array([[0.5, 0.0], [0.2, 0.0]])
    with pytest.raises(TypeError, match="drop_empty"):
        concept_profiles(W, concepts=["dog", "cat"], drop_empty=value)
    assert list(concept_profiles(W, concepts=["dog", "cat"], drop_empty=True).index) == ["dog"]


@pytest.mark.parametrize("function", [rank_concepts, rank_each_class])
def test_ranking_without_labels_says_they_are_required(function):
    # was "labels `y` must be 1-D, got shape ()"
    W = np.array([[0.5, 0.0], [0.2, 0.1]])
    args = (W, None, "dog") if function is rank_concepts else (W, None)
    with pytest.raises(ValueError, match=r"labels `y` are required.*concept_profiles\(W\)"):
        function(*args, concepts=["dog", "cat"])


def test_a_label_written_in_another_case_gets_a_suggestion():
    # the labels were listed, and the user left to spot 'dog' for 'Dog'
    from sksplice.plotting import plot_class_profile

    W = np.eye(3).repeat(4, axis=0)
    y = ["bird"] * 4 + ["cat"] * 4 + ["dog"] * 4
    names = ["a", "b", "c"]
    with pytest.raises(
        ValueError, match=r"labels are \['bird', 'cat', 'dog'\]; did you mean 'dog'\?$"
    ):
        rank_concepts(W, y, "Dog", concepts=names)
    with pytest.raises(ValueError, match=r"`negative`='dgo' .*; did you mean 'dog'\?$"):
        rank_concepts(W, y, "cat", "dgo", concepts=names)
    pytest.importorskip("matplotlib")
    with pytest.raises(
        ValueError, match=r"classes are \['bird', 'cat', 'dog'\]; did you mean 'dog'\?$"
    ):
        plot_class_profile(concept_profiles(W, y, names), "Dog")
    with pytest.raises(ValueError, match=r"classes are \['bird', 'cat', 'dog'\]$"):
        plot_class_profile(concept_profiles(W, y, names), "zebra")  # (nothing close)


@pytest.mark.parametrize("container", ["csr", "array"])
def test_labels_in_another_order_are_said_beside_weights_without_an_index(rng, container):
    # Weights without an index (CSR, the default output; an array) took a Series of
    # labels shuffled alone by position, without a word; a frame sampled or sorted
    # together with the data holds the same index, and is right: said, not refused
    frame, y = _indexed_weights(rng)
    W = sp.csr_matrix(frame.to_numpy()) if container == "csr" else frame.to_numpy()
    names = list(frame.columns)
    labels = y.reset_index(drop=True)
    shuffled = labels.iloc[[1, 0, *range(2, len(labels))]]
    with pytest.warns(UserWarning) as caught:
        ranked = rank_concepts(W, shuffled, labels.iloc[0], concepts=names)
    (message,) = [str(w.message) for w in caught if "matched to the rows" in str(w.message)]
    assert message == (
        "labels `y` are matched to the rows of W by position, but y.index holds their "
        "positions in another order (at position 0: 1): if y was sampled, sorted or split "
        "together with the data, this is right (pass y.to_numpy() to say so); if y alone "
        "was reordered, y.sort_index() puts it back"
    )
    pd.testing.assert_frame_equal(
        ranked, rank_concepts(W, shuffled.to_numpy(), labels.iloc[0], concepts=names)
    )
    expected = concept_profiles(W, labels, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(concept_profiles(W, shuffled.sort_index(), names), expected)
    kept = labels.set_axis(np.arange(len(labels)) * 3 + 7)
    pd.testing.assert_frame_equal(concept_profiles(W, kept, names), expected)


def test_a_frame_whose_columns_are_numbers_carries_no_concept_names():
    # pd.DataFrame(W.toarray()) numbers its columns: they were taken for concept names,
    # and the rankings were indexed 3801, 9748, ... without a word.
    from sksplice.analysis import rank_concepts, rank_each_class

    W = sp.random(20, 6, density=0.5, random_state=0, format="csr")
    y = np.array(["a", "b"] * 10)
    unnamed = pd.DataFrame(W.toarray())
    hint = r"carry no concept names.*its columns \(0, 1, 2, \.\.\.\) are not concept names"
    for call in (
        lambda: concept_profiles(unnamed, y),
        lambda: rank_concepts(unnamed, y, positive="a"),
        lambda: rank_each_class(unnamed, y),
    ):
        with pytest.raises(ValueError, match=hint):
            call()
    # named by the columns, or by concepts=, they are analysed as before
    named = unnamed.set_axis([f"c{j}" for j in range(6)], axis=1)
    expected = concept_profiles(named, y)
    pd.testing.assert_frame_equal(
        concept_profiles(unnamed, y, concepts=list(named.columns)), expected
    )
