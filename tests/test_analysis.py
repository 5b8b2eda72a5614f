"""Tests for sksplice.analysis: concept profiles and concept ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sksplice.analysis import _adjust_pvalues, concept_profiles, rank_concepts


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


def test_profiles_reject_non_finite_and_wrong_ndim():
    with pytest.raises(ValueError, match="NaN or infinite"):
        concept_profiles(np.array([[np.nan, 1.0]]), concepts=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        concept_profiles(np.ones(3), concepts=["a", "b", "c"])


def test_rank_statistics_against_chi_square_test():
    # 3 concepts, 40 "woman" rows vs 60 "man" rows with known presence counts.
    n1, n2 = 40, 60
    counts = [(30, 5), (10, 15), (0, 6)]
    W = np.zeros((n1 + n2, 3))
    for j, (x1, x2) in enumerate(counts):
        W[:x1, j] = 0.5
        W[n1 : n1 + x2, j] = 0.25
    y = np.array(["woman"] * n1 + ["man"] * n2)
    ranking = rank_concepts(W, y, "woman", "man", concepts=["bikini", "hat", "tie"])
    assert list(ranking.index) == ["bikini", "hat", "tie"]
    for name, (x1, x2) in zip(["bikini", "hat", "tie"], counts):
        row = ranking.loc[name]
        table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        assert row["p_value"] == pytest.approx(p, rel=1e-9)
        assert row["z"] ** 2 == pytest.approx(chi2, rel=1e-9)
        assert np.sign(row["z"]) == np.sign(x1 / n1 - x2 / n2)
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


def test_rank_one_vs_rest_and_min_count(rng):
    W, y = _random_weights(rng, n=90, c=6)
    W[y == "b", 4] = 1.0  # present in every "b" row
    W[y != "b", 4] = 0.0
    W[:, 5] = 0.0  # never present: not tested
    ranking = rank_concepts(sp.csr_matrix(W), y, "b", concepts=list("uvwxyz"))
    assert ranking.index[0] == "y"
    assert "z" not in ranking.index
    assert ranking.attrs["negative"] == "rest"
    assert ranking.attrs["n_negative"] == int((y != "b").sum())
    dense = rank_concepts(W, y, "b", concepts=list("uvwxyz"))
    pd.testing.assert_frame_equal(ranking, dense)
    few = rank_concepts(W, y, "b", concepts=list("uvwxyz"), min_count=10_000)
    assert few.empty


def test_adjust_pvalues_holm_bonferroni_bh():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(_adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.8])
    # Holm: sorted 0.01*4, 0.03*3, 0.04*2, 0.2*1 with running maximum.
    np.testing.assert_allclose(_adjust_pvalues(p, "holm"), [0.04, 0.09, 0.09, 0.2])
    np.testing.assert_allclose(
        _adjust_pvalues(p, "fdr_bh"), stats.false_discovery_control(p, method="bh")
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
    correction = data.draw(st.sampled_from(["fdr_bh", "holm", "bonferroni", None]))
    ranking = rank_concepts(W, y, 0, concepts=names, correction=correction)
    assert (ranking["p_adjusted"] >= ranking["p_value"] - 1e-15).all()
    assert (ranking["p_adjusted"] <= 1).all()
    assert ranking["prevalence_diff"].is_monotonic_decreasing
    assert (np.sign(ranking["z"]) == np.sign(ranking["prevalence_diff"])).all()
    sparse = rank_concepts(sp.csr_matrix(W), y, 0, concepts=names, correction=correction)
    pd.testing.assert_frame_equal(ranking, sparse)
