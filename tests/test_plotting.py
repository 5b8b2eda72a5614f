"""Tests for sksplice.plotting: figures render with Agg and show the right content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.patches import Rectangle  # noqa: E402

from sksplice.analysis import concept_profiles  # noqa: E402
from sksplice.plotting import (  # noqa: E402
    plot_class_profile,
    plot_concept_prevalence,
    plot_dataset_shift,
    plot_decomposition,
)
from sksplice.shift import compare_datasets  # noqa: E402

NAMES = ["dog", "cat", "beach", "bikini", "tree", "car"]


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _ticklabels(ax, axis="y"):
    ticks = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in ticks]


def _save_png(ax, tmp_path):
    path = tmp_path / "figure.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


@pytest.fixture
def labelled():
    W = np.array(
        [
            [0.5, 0.0, 0.3, 0.2, 0.0, 0.0],
            [0.4, 0.0, 0.1, 0.3, 0.0, 0.0],
            [0.0, 0.6, 0.0, 0.0, 0.2, 0.0],
            [0.0, 0.5, 0.0, 0.0, 0.0, 0.1],
            [0.2, 0.0, 0.0, 0.1, 0.0, 0.0],
        ]
    )
    y = np.array(["woman", "woman", "man", "man", "woman"])
    return W, y


def test_plot_decomposition_top_k_sorted(tmp_path):
    row = np.array([0.1, 0.0, 0.7, 0.3, 0.05, 0.0])
    ax = plot_decomposition(row, NAMES, k=3, title="sample 0")
    bars = _bars(ax)
    assert len(bars) == 3
    # largest weight on top: barh places index 0 at the bottom
    assert _ticklabels(ax) == ["dog", "bikini", "beach"]
    assert [b.get_width() for b in bars] == pytest.approx([0.1, 0.3, 0.7])
    assert ax.get_title() == "sample 0"
    _save_png(ax, tmp_path)


def test_plot_decomposition_fewer_nonzero_than_k_and_sparse_row():
    row = sp.csr_matrix(np.array([[0.0, 0.2, 0.0, 0.0, 0.9, 0.0]]))
    ax = plot_decomposition(row, NAMES, k=10)
    assert len(_bars(ax)) == 2
    assert _ticklabels(ax) == ["cat", "tree"]


def test_plot_decomposition_series_and_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax0 = fig.add_subplot()
    series = pd.Series([0.0, 0.4, 0.0, 0.0, 0.0, 0.1], index=NAMES)
    ax = plot_decomposition(series, k=5, ax=ax0)
    assert ax is ax0
    assert _ticklabels(ax) == ["car", "cat"]


def test_plot_decomposition_errors():
    with pytest.raises(ValueError, match="no concept names"):
        plot_decomposition(np.ones(6))
    with pytest.raises(ValueError, match="5 concept names for 6 weights"):
        plot_decomposition(np.ones(6), NAMES[:5])
    with pytest.raises(ValueError, match="single row"):
        plot_decomposition(np.ones((2, 6)), NAMES)
    with pytest.raises(ValueError, match="k"):
        plot_decomposition(np.ones(6), NAMES, k=0)


def test_plot_class_profile(labelled, tmp_path):
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    ax = plot_class_profile(prof, "woman", k=2)
    assert len(_bars(ax)) == 2
    # prevalence in "woman": dog 1.0, bikini 1.0, beach 2/3 -> top two, stable order
    assert _ticklabels(ax) == ["bikini", "dog"]
    assert [b.get_width() for b in _bars(ax)] == pytest.approx([1.0, 1.0])
    overall = ax.collections[0].get_offsets()[:, 0]
    assert list(overall) == pytest.approx([3 / 5, 3 / 5])
    assert ax.get_title() == "class woman"
    _save_png(ax, tmp_path)
    ax = plot_class_profile(prof, "man", k=10, statistic="mean_weight")
    assert len(_bars(ax)) == 3  # only the non-zero concepts of "man": cat, tree, car
    assert ax.get_xlabel() == "mean weight"


def test_plot_concept_prevalence(labelled, tmp_path):
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    ax = plot_concept_prevalence(prof, "bikini")
    bars = _bars(ax)
    assert len(bars) == 2
    assert _ticklabels(ax, "x") == ["man", "woman"]
    assert [b.get_height() for b in bars] == pytest.approx([0.0, 1.0])
    assert ax.lines[0].get_ydata()[0] == pytest.approx(3 / 5)
    assert ax.get_title() == "bikini"
    _save_png(ax, tmp_path)
    ax = plot_concept_prevalence(prof, "bikini", classes=["woman"])
    assert len(_bars(ax)) == 1


def test_profile_plot_errors(labelled):
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    with pytest.raises(ValueError, match="did you mean"):
        plot_concept_prevalence(prof, "bikinis")
    with pytest.raises(ValueError, match="not in the profiles"):
        plot_class_profile(prof, "child")
    with pytest.raises(ValueError, match="statistic"):
        plot_class_profile(prof, "man", statistic="median")
    with pytest.raises(TypeError, match="concept_profiles"):
        plot_class_profile(pd.DataFrame(W, columns=NAMES), "man")
    with pytest.raises(ValueError, match="per-class"):
        plot_concept_prevalence(concept_profiles(W, concepts=NAMES), "dog")


def test_no_pyplot_figures_are_left_open(labelled):
    import matplotlib.pyplot as plt

    W, y = labelled
    before = len(plt.get_fignums())
    prof = concept_profiles(W, y, NAMES)
    plot_decomposition(W[0], NAMES)
    plot_class_profile(prof, "man")
    plot_concept_prevalence(prof, "dog")
    assert len(plt.get_fignums()) == before


@pytest.fixture
def shifted():
    """Collections of 60 samples; "snow" and "sled" more frequent in B, "sand" less."""
    rng = np.random.default_rng(1)
    names = ["snow", "sled", "sand", "dog", "cat", "tree", "car", "sky"]
    prevalence_a = np.array([0.05, 0.02, 0.5, 0.3, 0.3, 0.2, 0.1, 0.6])
    prevalence_b = np.array([0.6, 0.3, 0.1, 0.3, 0.3, 0.2, 0.1, 0.6])
    W_a = rng.random((60, 8)) * (rng.random((60, 8)) < prevalence_a)
    W_b = rng.random((60, 8)) * (rng.random((60, 8)) < prevalence_b)
    return compare_datasets(W_a, W_b, concepts=names, labels=("summer", "winter"))


@pytest.mark.parametrize("statistic", ["prevalence", "mean_weight"])
def test_plot_dataset_shift_points_colours_and_labels(shifted, statistic, tmp_path):
    ax = plot_dataset_shift(shifted, k=2, statistic=statistic, scale="sqrt")
    _save_png(ax, tmp_path)
    significant = shifted["significant"].to_numpy()
    assert set(shifted.index[significant]) == {"snow", "sled", "sand"}
    plotted = {c.get_label(): c.get_offsets() for c in ax.collections}
    up = significant & (shifted["prevalence_diff"].to_numpy() > 0)
    expected = {
        "not significant": ~significant,
        "more frequent in winter": up,
        "more frequent in summer": significant & ~up,
    }
    for label, mask in expected.items():
        points = np.asarray(plotted[label])
        np.testing.assert_allclose(points[:, 0], shifted[f"{statistic}_a"][mask])
        np.testing.assert_allclose(points[:, 1], shifted[f"{statistic}_b"][mask])
    # the two significant concepts with the smallest adjusted p-values are labelled
    labelled = {t.get_text() for t in ax.texts}
    assert labelled == set(shifted[significant].sort_values("p_adjusted").index[:2])
    assert ax.get_xlabel() == f"{statistic.replace('_', ' ')} in summer"
    assert ax.get_ylabel() == f"{statistic.replace('_', ' ')} in winter"
    assert ax.get_xscale() == "function"


def test_plot_dataset_shift_labels_do_not_overlap():
    names = [f"concept{j}" for j in range(6)]
    # six concepts at almost the same place, all significant
    W_a = np.zeros((200, 6))
    W_b = np.zeros((200, 6))
    for j in range(6):
        W_a[: 10 + j, j] = 1.0
        W_b[: 100 + j, j] = 1.0
    comparison = compare_datasets(W_a, W_b, concepts=names)
    ax = plot_dataset_shift(comparison, k=6)
    ax.figure.canvas.draw()
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t) for t in ax.texts]  # the text, not its leader line
    assert len(boxes) == 6
    for i in range(6):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (ax.texts[i].get_text(), ax.texts[j].get_text())


def test_plot_dataset_shift_errors(shifted, labelled):
    W, y = labelled
    with pytest.raises(TypeError, match="compare_datasets"):
        plot_dataset_shift(concept_profiles(W, y, NAMES))
    with pytest.raises(ValueError, match="statistic"):
        plot_dataset_shift(shifted, statistic="count")
    with pytest.raises(ValueError, match="scale"):
        plot_dataset_shift(shifted, scale="log")
    with pytest.raises(ValueError, match="k"):
        plot_dataset_shift(shifted, k=0)
