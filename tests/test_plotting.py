"""Tests for sksplice.plotting: figures render with Agg and show the right content."""

from __future__ import annotations

import io
import itertools
import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.stats import binomtest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from sksplice.analysis import concept_profiles  # noqa: E402
from sksplice.plotting import (  # noqa: E402
    FigureLayoutWarning,
    plot_class_profile,
    plot_concept_prevalence,
    plot_dataset_shift,
    plot_decomposition,
    plot_sparsity_tradeoff,
)
from sksplice.shift import compare_datasets  # noqa: E402

NAMES = ["dog", "cat", "beach", "bikini", "tree", "car"]
#: The radius (points) of plot_dataset_shift's markers of significant concepts, with
#: their edges: where a leader to one ends.
_SHIFT_RADIUS = np.sqrt(22) / 2 + matplotlib.rcParams["lines.linewidth"] / 2


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


def _drawn(ax):
    """Render the figure as ``savefig`` does (a bare Figure's ``canvas.draw()`` lays out
    nothing), so that window extents are those of the saved image."""
    import io

    ax.figure.savefig(io.BytesIO(), format="png")
    return ax.figure


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


def test_plot_decomposition_of_a_row_without_concepts_says_so():
    ax = plot_decomposition(np.zeros(len(NAMES)), NAMES)
    assert len(_bars(ax)) == 0
    assert [t.get_text() for t in ax.texts] == ["no concept: every weight of this row is zero"]
    # weights are not negative: the empty axis starts at 0 (it ran from -0.04)
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] > 0


def test_plot_decomposition_cuts_very_long_names():
    long = "a concept name far longer than any word of a caption would be"
    ax = plot_decomposition(np.array([0.5, 0.2]), ["dog", long])
    assert _ticklabels(ax) == [long[:39] + "\u2026", "dog"]


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
    # an embedding given for its weights: the error says so
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    splice = SpliceTransformer(
        vocabulary=[f"c{i}" for i in range(12)], concept_embeddings=rng.normal(size=(12, 8))
    ).fit(rng.normal(size=(20, 8)))
    with pytest.raises(
        ValueError, match=r"12 concept names for 8 weights.*an embedding .*splice\.transform"
    ):
        plot_decomposition(rng.normal(size=8), splice)
    with pytest.raises(ValueError, match="k"):
        plot_decomposition(np.ones(6), NAMES, k=0)
    # a colour matplotlib does not know: named as the parameter, before anything is drawn
    # (matplotlib said "'facecolor' or 'color' argument must be a valid color ...")
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    for bad in ("notacolor", ["C0", "nope"], 0.5, [0.5, 0.2]):
        with pytest.raises(ValueError, match=rf"color={re.escape(repr(bad))} is not a matplotlib"):
            plot_decomposition(np.ones(6), NAMES, color=bad)
    assert plt.get_fignums() == before
    for good in ("C1", "tab:green", "#1f77b4", "0.4", (0.2, 0.4, 0.6), (0.2, 0.4, 0.6, 0.5), None):
        ax = plot_decomposition(np.ones(6), NAMES, color=good)
        plt.close(ax.figure)
    # (a colour per bar, as matplotlib's barh takes them: bottom bar first, repeated)
    ax = plot_decomposition(np.arange(1.0, 4.0), NAMES[:3], color=["red", (0.0, 0.0, 1.0)])
    faces = [tuple(bar.get_facecolor()) for bar in ax.patches]
    assert faces == [(1.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 0.0, 1.0)], faces
    plt.close(ax.figure)


def test_plot_decomposition_refuses_what_labels_or_draws_wrong():
    # a single string labelled the bars with its letters; NaN was an empty labelled bar, a
    # negative weight the "largest"; the array of plt.subplots failed deep inside
    import matplotlib.pyplot as plt

    with pytest.raises(TypeError, match="not a single string"):
        plot_decomposition(np.array([0.1, 0.5, 0.3]), "dog")
    for bad, shown in ((np.nan, "nan"), (-0.7, "-0.7"), (np.inf, "inf")):
        with pytest.raises(ValueError, match=rf"hold {shown} at position 1 \('{NAMES[1]}'\)"):
            plot_decomposition(np.array([0.1, bad, 0.2, 0, 0, 0]), NAMES)
    with pytest.raises(ValueError, match=r"\(2 positions are not\)"):
        plot_decomposition(np.array([0.1, -1, -2, 0, 0, 0]), NAMES)
    fig, axs = plt.subplots(1, 2)
    try:
        with pytest.raises(TypeError, match=r"ax must be one matplotlib Axes \(.*axs\[0\]"):
            plot_decomposition(np.ones(6), NAMES, ax=axs)
        with pytest.raises(TypeError, match="ax must be one matplotlib Axes, got a Figure"):
            plot_decomposition(np.ones(6), NAMES, ax=fig)
        assert plot_decomposition(np.ones(6), NAMES, ax=axs[0]) is axs[0]
    finally:
        plt.close(fig)


def test_profiles_made_without_labels_are_said_to_lack_classes():
    prof = concept_profiles(np.array([[0.1, 0.0], [0.0, 0.3]]), concepts=["cat", "dog"])
    with pytest.raises(ValueError, match=r"no per-class columns: compute them with labels `y`"):
        plot_class_profile(prof, "cat")


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
    # the class's number of samples: a prevalence of 1.0 in 3 samples is little evidence
    assert ax.get_title() == "class woman (n=3)"
    _save_png(ax, tmp_path)
    ax = plot_class_profile(prof, "man", k=10, statistic="mean_weight")
    assert len(_bars(ax)) == 3  # only the non-zero concepts of "man": cat, tree, car
    assert ax.get_xlabel() == "mean weight"


def test_plot_concept_prevalence_of_several_concepts_says_to_call_it_per_concept(labelled):
    # a list of names, as plot_concept_histogram takes: "unhashable type: 'list'"
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    for given, shown in ((["bikini", "tree"], "list: ['bikini', 'tree']"),
                         (("bikini",), "tuple: ('bikini',)")):  # fmt: skip
        with pytest.raises(TypeError) as info:
            plot_concept_prevalence(prof, given)
        assert str(info.value) == (
            f"`concept` must be one concept name, got a {shown}; plot_concept_prevalence "
            "draws one concept, so call it once per concept (plot_concept_histogram draws "
            "several)"
        )


def test_plot_concept_prevalence(labelled, tmp_path):
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    ax = plot_concept_prevalence(prof, "bikini")
    bars = _bars(ax)
    assert len(bars) == 2
    assert _ticklabels(ax, "x") == ["man\n(n=2)", "woman\n(n=3)"]
    assert [b.get_height() for b in bars] == pytest.approx([0.0, 1.0])
    assert ax.lines[0].get_ydata()[0] == pytest.approx(3 / 5)
    assert ax.get_title() == "bikini"
    # each prevalence carries its class's exact 95% interval: 0 of 2, 3 of 3
    (intervals,) = ax.containers[1:]
    (segments,) = intervals.lines[2]
    spans = sorted((float(a[0][1]), float(a[1][1])) for a in segments.get_segments())
    expected = [binomtest(k, n).proportion_ci(method="exact") for k, n in ((0, 2), (3, 3))]
    np.testing.assert_allclose(spans, [(e.low, e.high) for e in expected], atol=1e-12)
    assert spans[1][0] == pytest.approx(0.2924, abs=1e-4) and spans[0][1] > 0.6
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "all samples",
        "95% interval (per bar)",
    ]
    _save_png(ax, tmp_path)
    ax = plot_concept_prevalence(prof, "bikini", classes=["woman"])
    assert len(_bars(ax)) == 1
    # the scale starts at 0 with room above the tallest bar, whatever the values
    assert ax.get_ylim() == pytest.approx((0.0, 1.15))
    W0 = np.array(W, dtype=float, copy=True)
    W0[:, NAMES.index("bikini")] = 0.0
    absent = plot_concept_prevalence(concept_profiles(W0, y, NAMES), "bikini")
    # (a concept no class holds keeps its intervals: 0 of 2 is a prevalence up to 0.84,
    # which a bar of 0 does not say; the scale leaves room above the tallest whisker)
    (intervals,) = absent.containers[1:]
    (segments,) = intervals.lines[2]
    spans = sorted((float(a[0][1]), float(a[1][1])) for a in segments.get_segments())
    uppers = [binomtest(0, n).proportion_ci(method="exact").high for n in (3, 2)]
    np.testing.assert_allclose(spans, [(0.0, u) for u in uppers], atol=1e-12)
    assert absent.get_ylim() == pytest.approx((0.0, min(1.3 * uppers[1], 1.15)))
    assert "no sample of these classes has this concept" in [t.get_text() for t in absent.texts]
    # sizes lost with the attrs (a pandas operation): read from counts and prevalences
    copied = prof.copy()
    copied.attrs = {}
    assert _ticklabels(plot_concept_prevalence(copied, "bikini"), "x") == [
        "man\n(n=2)",
        "woman\n(n=3)",
    ]


def test_a_concept_dropped_as_empty_is_not_said_to_be_a_typo(labelled):
    # With drop_empty=True, a concept of the vocabulary that no sample holds was "not in
    # the profiles; did you mean [...]", as a misspelt one is.
    W, y = labelled
    W0 = np.array(W, dtype=float, copy=True)
    W0[:, NAMES.index("bikini")] = 0.0
    prof = concept_profiles(W0, y, NAMES, drop_empty=True)
    assert prof.attrs["dropped_empty"] == int((W0 == 0).all(axis=0).sum()) >= 1
    said = r"computed with drop_empty=True, which left out \d+ concepts? that no sample holds"
    with pytest.raises(ValueError, match=r"concept 'bikini' is not in the profiles \(.*" + said):
        plot_concept_prevalence(prof, "bikini")
    full = concept_profiles(W0, y, NAMES)
    assert "dropped_empty" not in full.attrs
    with pytest.raises(ValueError, match=r"concept 'bikinni' is not in the profiles; did you"):
        plot_concept_prevalence(full, "bikinni")


def test_profile_plot_errors(labelled):
    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    with pytest.raises(ValueError, match="did you mean"):
        plot_concept_prevalence(prof, "bikinis")
    with pytest.raises(ValueError, match="not in the profiles"):
        plot_class_profile(prof, "child")
    # the whole dataset's column is not a class: where its concepts are plotted is said
    with pytest.raises(ValueError, match=r"'all' is the whole dataset.*plot_decomposition"):
        plot_class_profile(prof, "all")
    with pytest.raises(ValueError, match="statistic"):
        plot_class_profile(prof, "man", statistic="median")
    with pytest.raises(TypeError, match="concept_profiles"):
        plot_class_profile(pd.DataFrame(W, columns=NAMES), "man")
    with pytest.raises(ValueError, match="per-class"):
        plot_concept_prevalence(concept_profiles(W, concepts=NAMES), "dog")


def test_new_figures_are_pyplot_s_only_where_pyplot_is_in_use(labelled, tmp_path):
    # With pyplot imported (a notebook), a new figure is pyplot's: shown at the end
    # of a cell, found by plt.title / plt.savefig. Without it, a bare Figure: pyplot
    # is not even imported (no GUI backend holds the figures of a batch script).
    import subprocess
    import sys

    import matplotlib.pyplot as plt

    W, y = labelled
    prof = concept_profiles(W, y, NAMES)
    before = set(plt.get_fignums())
    try:
        for draw in (
            lambda: plot_decomposition(W[0], NAMES),
            lambda: plot_class_profile(prof, "man"),
            lambda: plot_concept_prevalence(prof, "dog"),
        ):
            ax = draw()
            assert plt.gcf() is ax.figure
        plt.title("edited through pyplot")
        plt.savefig(tmp_path / "current.png")
        assert (tmp_path / "current.png").stat().st_size > 0
        assert len(set(plt.get_fignums()) - before) == 3
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
    script = (
        "import sys, numpy as np\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "from sksplice.plotting import plot_decomposition\n"
        "ax = plot_decomposition(np.array([0.5, 0.0, 0.2]), ['a', 'b', 'c'])\n"
        "ax.figure.savefig(sys.argv[1])\n"
        "print('matplotlib.pyplot' in sys.modules, type(ax.figure).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "bare.png")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["False", "Figure"]
    assert (tmp_path / "bare.png").stat().st_size > 0


def test_a_notebook_shows_new_figures_without_importing_pyplot(tmp_path):
    # A Jupyter kernel imports pyplot only when the notebook's code does, and shows only
    # pyplot's figures: a notebook that plots only through sksplice.plotting showed
    # "<Axes: ...>" and no figure. The kernel's shell is stood in for here (an IPython
    # module whose shell has a kernel), so that no Jupyter is needed.
    import subprocess
    import sys

    script = (
        "import sys, types, numpy as np\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "events = types.SimpleNamespace(register=lambda *args: None)\n"
        "shell = types.SimpleNamespace(kernel=object(), events=events)\n"
        "sys.modules['IPython'] = types.SimpleNamespace(\n"
        "    get_ipython=lambda: shell, version_info=(9, 0)\n"
        ")\n"
        # (matplotlib < 3.9 reads IPython's table of GUI backends)
        "pylabtools = types.SimpleNamespace(backend2gui={})\n"
        "sys.modules['IPython.core'] = types.SimpleNamespace(pylabtools=pylabtools)\n"
        "sys.modules['IPython.core.pylabtools'] = pylabtools\n"
        "from sksplice.plotting import plot_decomposition\n"
        "ax = plot_decomposition(np.array([0.5, 0.0, 0.2]), ['a', 'b', 'c'])\n"
        "import matplotlib.pyplot as plt\n"
        "print(plt.gcf() is ax.figure, len(plt.get_fignums()))\n"
        "shell.kernel = None  # (a terminal IPython: no kernel, no pyplot of its own)\n"
        "plt.close('all'); del sys.modules['matplotlib.pyplot']\n"
        "ax = plot_decomposition(np.array([0.5, 0.0, 0.2]), ['a', 'b', 'c'])\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "1", "False"]


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
    # the colours are the tested prevalence, also where the axes show mean weights
    # (what significant means, the level and the correction, said in the legend)
    expected = {
        "not significant": ~significant,
        "prevalence higher in winter (adj. p < 0.05, BH)": up,
        "prevalence higher in summer (adj. p < 0.05, BH)": significant & ~up,
    }
    for label, mask in expected.items():
        points = np.asarray(plotted[label])
        np.testing.assert_allclose(points[:, 0], shifted[f"{statistic}_a"][mask])
        np.testing.assert_allclose(points[:, 1], shifted[f"{statistic}_b"][mask])
    # the two significant concepts with the smallest adjusted p-values are labelled
    labelled = {t.get_text() for t in ax.texts}
    assert labelled == set(shifted[significant].sort_values("p_adjusted").index[:2])
    sqrt = " (square-root scale)"
    assert ax.get_xlabel() == f"{statistic.replace('_', ' ')} in summer (n=60){sqrt}"
    assert ax.get_ylabel() == f"{statistic.replace('_', ' ')} in winter (n=60){sqrt}"
    assert ax.get_xscale() == "function"


def test_the_shift_legend_lists_only_the_kinds_of_point_drawn(shifted):
    fewer = shifted.copy()
    fewer.loc[fewer["prevalence_diff"] < 0, "significant"] = False  # none more frequent in A
    ax = plot_dataset_shift(fewer)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["not significant", "prevalence higher in winter (adj. p < 0.05, BH)"]


def test_the_mean_weight_shift_legend_says_the_colour_is_prevalence():
    # a concept in more of B's samples with smaller weights: red (prevalence higher in B)
    # below the diagonal; the legend said "more frequent in B", read as the axes' weights
    W_a = np.r_[np.tile([0.9, 0.1], (10, 1)), np.zeros((10, 2))]
    W_b = np.tile([0.05, 0.1], (20, 1))
    comparison = compare_datasets(W_a, W_b, concepts=["x", "y"])
    assert comparison.loc["x", "significant"] and comparison.loc["x", "prevalence_diff"] > 0
    ax = plot_dataset_shift(comparison, statistic="mean_weight")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["prevalence higher in B (adj. p < 0.05, BH)"]
    (red,) = [c for c in ax.collections if c.get_label().startswith("prevalence higher in B")]
    x, y = np.asarray(red.get_offsets()).T
    assert (y < x).any()  # below the diagonal: its mean weight is lower in B


def test_the_shift_legend_says_the_level_and_correction_of_significant():
    # "prevalence higher in B" gave neither the level nor the correction of the test
    W_a = np.r_[np.tile([0.9, 0.1], (10, 1)), np.zeros((10, 2))]
    W_b = np.tile([0.05, 0.1], (20, 1))
    said = {}
    for correction in ("fdr_by", "holm", "bonferroni", None):
        comparison = compare_datasets(
            W_a, W_b, concepts=["x", "y"], correction=correction, alpha=0.01
        )
        ax = plot_dataset_shift(comparison)
        said[correction] = [t.get_text() for t in ax.get_legend().get_texts()][-1]
        plt.close(ax.figure)
    assert said == {
        "fdr_by": "prevalence higher in B (adj. p < 0.01, BY)",
        "holm": "prevalence higher in B (adj. p < 0.01, Holm)",
        "bonferroni": "prevalence higher in B (adj. p < 0.01, Bonferroni)",
        None: "prevalence higher in B (p < 0.01, not adjusted)",
    }
    # a table that does not record them (built by hand) says nothing it does not know
    comparison.attrs.clear()
    ax = plot_dataset_shift(comparison)
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "prevalence higher in B"
    plt.close(ax.figure)


def test_shift_points_on_an_axis_show_whole_and_no_concept_is_said(shifted):
    ax = plot_dataset_shift(shifted)  # linear: the axes start a little below 0
    assert ax.get_xlim()[0] < 0 and ax.get_ylim()[0] < 0
    empty = shifted.copy()
    for column in ("prevalence_a", "prevalence_b", "mean_weight_a", "mean_weight_b"):
        empty[column] = 0.0
    empty["significant"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no "No artists with labels" from the legend)
        ax = plot_dataset_shift(empty)
    assert [t.get_text() for t in ax.texts] == ["no concept occurs in either collection"]
    assert ax.get_legend() is None
    # a table filtered to no row is no finding about the collections
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_dataset_shift(shifted[shifted["prevalence_a"] > 2])
    assert [t.get_text() for t in ax.texts] == ["the table has no rows"]


def test_shift_concepts_whose_markers_touch_share_a_label():
    names = [f"concept{j}" for j in range(6)]
    # six concepts at almost the same place, all significant: their markers touch, and
    # labels of their own (with leaders to a blob of points) could not say whose they are
    W_a = np.zeros((200, 6))
    W_b = np.zeros((200, 6))
    for j in range(6):
        W_a[: 10 + j, j] = 1.0
        W_b[: 100 + j, j] = 1.0
    comparison = compare_datasets(W_a, W_b, concepts=names)
    # (the names counted in "+3" share the label: not left out "for want of room")
    with pytest.warns(UserWarning, match=r"^3 concepts share a label .*not named") as record:
        ax = plot_dataset_shift(comparison, k=6)
    assert len(record) == 1
    _drawn(ax)
    [label] = ax.texts  # (one chain of overlapping markers: one label)
    assert label.get_text() == "concept0, concept1, concept2 +3"
    said = str(record[0].message)
    assert "want of room" not in said
    assert all(name in label.get_text() or name in said for name in names)
    _label_boxes_apart_and_inside(ax, [label])
    _assert_leaders_are_clear(ax, comparison[["prevalence_a", "prevalence_b"]], _SHIFT_RADIUS)


def _label_boxes_apart_and_inside(ax, texts):
    """Every label's text box lies inside the axes, and no two overlap."""
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t) for t in texts]  # the text, not its leader line
    for t, box in zip(texts, boxes):
        assert ax.figure.bbox.contains(box.x0, box.y0), t.get_text()
        assert ax.figure.bbox.contains(box.x1, box.y1), t.get_text()
        assert ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1), t
    for i in range(len(boxes)):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())


def test_shift_labels_of_close_points_with_long_names_stay_apart_and_inside():
    # ten concepts along a short stretch of the diagonal's upper side, near the top
    # right, some named at great length
    names = [
        "snow",
        "a very long concept name about winter sports equipment",
        "another quite long concept name about frozen lakes and rivers",
        "skis",
        "sled",
        "a third long and winding name for mountains in winter",
        "ice",
        "pine trees covered in snow under a grey sky",
        "cold",
        "scarf",
    ]
    n = 400
    W_a, W_b = np.zeros((n, len(names))), np.zeros((n, len(names)))
    for j in range(len(names)):
        W_a[: 200 + 4 * j, j] = 1.0
        W_b[: 320 + 6 * j, j] = 1.0
    comparison = compare_datasets(W_a, W_b, concepts=names, labels=("autumn", "winter"))
    assert comparison["significant"].all()
    for scale in ("linear", "sqrt"):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ax = plot_dataset_shift(comparison, k=10, scale=scale)
        _drawn(ax)
        labels = list(ax.texts)
        said = [str(w.message) for w in record]
        if scale == "linear":
            # markers that touch, each a label of its own (leaders out of the chain)
            assert len(labels) == 10 and not said
        else:
            # (near the top of the square-root scale the markers overlap: one label, and
            # the names counted in its "+8" are said)
            [label] = labels
            assert label.get_text() == "scarf, cold +8"
            [warning] = said
            assert warning.startswith("8 concepts share a label")
            assert sum(f"'{name}'" in warning for name in names) == 5  # (the first five)
        _label_boxes_apart_and_inside(ax, labels)
        marks = comparison[["prevalence_a", "prevalence_b"]]
        assert _assert_leaders_are_clear(ax, marks, _SHIFT_RADIUS) == 0
        # whole, or cut with an ellipsis (at 40 characters at most)
        for label in labels:
            text = label.get_text()
            assert len(text) <= 40
            for part in re.sub(r" \+\d+$", "", text).split(", "):
                assert part in names or any(
                    part.endswith("\u2026") and name.startswith(part[:-1]) for name in names
                ), text
        from matplotlib.text import Text

        legend = ax.get_legend().get_window_extent()
        # (the text, not the box around it and its leader line)
        assert not any(legend.overlaps(Text.get_window_extent(label)) for label in labels)


def test_shift_labels_with_no_room_left_are_left_out_with_a_warning():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    n, m = 300, 60
    W_a = (rng.random((n, m)) < 0.05).astype(float)
    W_b = (rng.random((n, m)) < 0.4).astype(float)
    comparison = compare_datasets(W_a, W_b, concepts=[f"concept {j}" for j in range(m)])
    ax = Figure(figsize=(2.5, 2.5), layout="constrained").add_subplot()
    with pytest.warns(UserWarning, match=r"concept labels? left out for want of room"):
        plot_dataset_shift(comparison, k=m, ax=ax)
    _drawn(ax)
    assert len(ax.texts) < m
    _label_boxes_apart_and_inside(ax, list(ax.texts))
    # on larger axes, some are drawn
    with pytest.warns(UserWarning, match=r"concept labels? left out for want of room"):
        ax = plot_dataset_shift(comparison, k=m)
    _drawn(ax)
    assert 0 < len(ax.texts) < m
    _label_boxes_apart_and_inside(ax, list(ax.texts))
    _assert_leaders_are_clear(ax, comparison[["prevalence_a", "prevalence_b"]], _SHIFT_RADIUS)


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


def _count_ticks(ax) -> list[str]:
    """The labels of the y axis within its limits, as drawn."""
    low, high = ax.get_ylim()
    return [
        t.get_text()
        for t in ax.get_yticklabels()
        if low <= t.get_position()[1] <= high and t.get_text()
    ]


def test_concept_histogram_is_the_papers_per_image_mean_weight_per_class(tmp_path):
    """experiments/concept_histogram.py of the authors: each image's mean weight on the
    chosen concepts, a histogram per class on shared bins (20), counts on a log scale."""
    from sksplice.plotting import plot_concept_histogram

    rng = np.random.default_rng(4)
    y = np.repeat(["man", "woman", "child"], 50)
    W = rng.random((150, 5)) * (rng.random((150, 5)) < 0.3)
    names = ["bikini", "swimwear", "tree", "car", "dog"]
    ax = plot_concept_histogram(sp.csr_matrix(W), y, ["bikini", "swimwear"], concepts=names,
                                classes=["woman", "man"])  # fmt: skip
    _save_png(ax, tmp_path)
    per_image = W[:, :2].mean(axis=1)
    edges = np.linspace(0.0, per_image[y != "child"].max(), 21)
    for bars, cls in zip(ax.containers, ["woman", "man"], strict=True):
        expected, _ = np.histogram(per_image[y == cls], bins=edges)
        np.testing.assert_allclose([p.get_height() for p in bars], expected)
    # side by side in each bin (overlaid, a class with the count of another was hidden)
    woman, man = ax.containers
    assert all(
        a.get_x() + a.get_width() <= b.get_x() + 1e-9 for a, b in zip(woman, man, strict=True)
    )
    assert ax.get_yscale() == "log"
    # counts read as counts (the log axis said 2x10^0, 3x10^0, and nothing from 2 to 9
    # once it reached 10), with room above the tallest bar
    _drawn(ax)
    ticks = _count_ticks(ax)
    assert ticks[:5] == ["1", "2", "5", "10", "20"] and all(t.isdigit() for t in ticks), ticks
    assert ax.get_ylim()[1] > max(p.get_height() for c in ax.containers for p in c)
    few = plot_concept_histogram(sp.csr_matrix(W[:6]), y[:6], "bikini", concepts=names)
    _drawn(few)
    ticks = _count_ticks(few)  # (a few images: every count)
    assert ticks == [str(i) for i in range(1, len(ticks) + 1)] and len(ticks) >= 3, ticks
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["woman (n=50)", "man (n=50)"]
    assert ax.get_xlabel() == "mean weight of bikini, swimwear"
    # one concept: its weight; a DataFrame names its columns; a single label is refused
    frame = pd.DataFrame(W, columns=names)
    ax = plot_concept_histogram(frame, y, "tree", log=False)
    assert ax.get_xlabel() == "weight of tree" and ax.get_yscale() == "linear"
    with pytest.raises(ValueError, match=r"'swimwaer' is not a column .*did you mean"):
        plot_concept_histogram(frame, y, ["swimwaer"])
    with pytest.raises(TypeError, match=r"pass classes=\['man'\]"):
        plot_concept_histogram(frame, y, "tree", classes="man")
    with pytest.raises(ValueError, match=r"classes \['adult'\] are not labels"):
        plot_concept_histogram(frame, y, "tree", classes=["adult"])
    with pytest.raises(ValueError, match="too many for one histogram"):
        plot_concept_histogram(frame.iloc[:11], list("abcdefghijk"), "tree")
    with pytest.raises(ValueError, match="bins"):
        plot_concept_histogram(frame, y, "tree", bins=0)
    with pytest.raises(ValueError, match="`classes` is empty"):
        plot_concept_histogram(frame, y, "tree", classes=[])
    with pytest.raises(ValueError, match="names a class twice"):
        plot_concept_histogram(frame, y, "tree", classes=["man", "man"])
    with pytest.raises(ValueError, match="names a concept twice"):
        plot_concept_histogram(frame, y, ["tree", "tree"])
    plt.close("all")


def _bar_pixels(ax) -> float:
    """The width in pixels of the first bar of ``ax``."""
    bar = ax.containers[0][0]
    ends = ax.transData.transform([(bar.get_x(), 1.0), (bar.get_x() + bar.get_width(), 1.0)])
    return float(ends[1, 0] - ends[0, 0])


def test_concept_histogram_of_many_classes_keeps_its_bars_and_tails_readable():
    """Ten classes in 20 bins on the 6-inch figure drew bars of 1 to 2 pixels, and the
    legend, inside the axes, covered the top right corner where a class's tail lies: a
    new figure is widened for its bars, the legend stands outside the axes (above for a
    few classes, on the right for more), and bars too thin on given axes are said."""
    import io

    import matplotlib.pyplot as plt

    from sksplice.plotting import plot_concept_histogram

    rng = np.random.default_rng(8)
    for n in (2, 4, 10):
        y = np.repeat([f"class {i}" for i in range(n)], 30)
        W = rng.random((30 * n, 2)) * (rng.random((30 * n, 2)) < 0.4)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ax = plot_concept_histogram(W, y, "a", concepts=["a", "b"])
            fig = _drawn(ax)
        assert _bar_pixels(ax) / fig.dpi >= 0.045, n
        legend = ax.get_legend().get_window_extent()
        assert not legend.overlaps(ax.bbox), n
        assert (legend.x0 >= ax.bbox.x1) == (n > 3), n  # (on the right, else above)
        assert legend.y0 >= ax.bbox.y1 or n > 3
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert texts == [f"class {i} (n=30)" for i in range(n)]
        figure = fig.bbox
        assert figure.x0 <= legend.x0 and legend.x1 <= figure.x1 and legend.y1 <= figure.y1
    assert fig.get_size_inches()[0] > 6.0
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    plot_concept_histogram(W, y, "a", concepts=["a", "b"], bins=40, ax=ax)
    with pytest.warns(FigureLayoutWarning) as record:
        fig.savefig(io.BytesIO())
    assert [str(w.message) for w in record] == [
        f"the bars of the 10 classes are {_bar_pixels(ax):.1f} pixels wide on the given axes: "
        "make the figure wider (figsize), or pass fewer `classes=` or `bins=`; the title or "
        "legend of the given axes run out of the figure: make the figure larger (figsize)"
    ]
    # names that differ at their end keep it, and their sizes, above the axes as beside
    # them (the whole label was cut: the size went, and then the difference)
    for n in (2, 4):
        names = ["x" * 39 + "A", "x" * 39 + "B", "c", "d"][:n]
        ax = plot_concept_histogram(W[: 30 * n], np.repeat(names, 30), "a", concepts=["a", "b"])
        texts = sorted(t.get_text() for t in ax.get_legend().get_texts())
        assert texts[-2:] == ["x" * 39 + "A (n=30)", "x" * 39 + "B (n=30)"], texts
    # one class: "the class"; a new figure, too wide for its bars, says so when drawn
    fig, ax = plt.subplots(figsize=(3, 3), layout="constrained")
    plot_concept_histogram(W[:30], y[:30], "a", concepts=["a", "b"], bins=200, ax=ax)
    with pytest.warns(FigureLayoutWarning, match=r"^the bars of the class are \d\.\d pixels"):
        fig.savefig(io.BytesIO())
    ax = plot_concept_histogram(W, y, "a", concepts=["a", "b"], bins=200)
    assert ax.figure.get_size_inches()[0] == 24.0
    with pytest.warns(FigureLayoutWarning, match=r"are 0\.\d pixels wide: pass fewer `classes"):
        _drawn(ax)
    # (roomy given axes: nothing said; the log axis's labels beyond the view, 20 and 50
    # over a top of 12.8, are not drawn and do not run out of the figure)
    for log in (True, False):
        fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
        plot_concept_histogram(W[:60], y[:60], "a", concepts=["a", "b"], ax=ax, log=log)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.savefig(io.BytesIO())
    plt.close("all")


def test_concept_histogram_counts_the_rows_by_their_modality_and_tells_a_cut_concept():
    # The y axis read "images" for captions; "labrador", beyond the 3,000 concepts kept,
    # was "not a column of the weights; did you mean ['library', ...]"
    from sklearn.frozen import FrozenEstimator

    from sksplice import SpliceTransformer
    from sksplice.plotting import plot_concept_histogram

    rng = np.random.default_rng(5)
    names = ["dog", "snow", "beach", "cat", "car", "sky", "sea", "tree", "labrador", "liberty"]
    X, y = rng.normal(size=(120, 8)), np.repeat(["a", "b"], 60)
    fitted = {}
    for modality in ("image", "text"):
        splice = SpliceTransformer(
            vocabulary=names,
            vocabulary_size=8,
            concept_embeddings=rng.normal(size=(10, 8)),
            modality=modality,
            l1_penalty=0.1,
            device="cpu",
        ).fit(X)
        fitted[modality] = (splice, splice.transform(X))
    for modality, label in (("image", "images"), ("text", "texts")):
        splice, W = fitted[modality]
        for given in (splice, FrozenEstimator(splice)):
            ax = plot_concept_histogram(W, y, "snow", concepts=given)
            assert ax.get_ylabel() == label
            plt.close("all")
    splice, W = fitted["text"]
    ax = plot_concept_histogram(W, y, "snow", concepts=list(splice.concepts_))
    assert ax.get_ylabel() == "samples"  # (nothing says what the rows are)
    with pytest.raises(ValueError) as cut:
        plot_concept_histogram(W, y, ["snow", "labrador"], concepts=FrozenEstimator(splice))
    assert str(cut.value) == (
        "concepts in `selected` beyond the 8 that vocabulary_size keeps of the 10 of the "
        "vocabulary ('labrador' is concept 9, in the order it keeps them): vocabulary_size=9 "
        "or more keeps it"
    )
    with pytest.raises(ValueError, match=r"'snwo' is not a column of the weights; did you"):
        plot_concept_histogram(W, y, "snwo", concepts=splice)
    plt.close("all")


def test_a_concept_histogram_of_concepts_in_no_row_says_so():
    # one bar of every image at 0, without a word, looked like a finding about the classes
    import warnings

    from sksplice.plotting import plot_concept_histogram

    W = np.array([[0.3, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.2]])
    y = ["woman", "woman", "man", "man"]
    names = ["bikini", "trunks", "bra"]
    with pytest.warns(UserWarning) as seen:
        plot_concept_histogram(W, y, ["trunks", "bra"], concepts=names, classes=["woman"])
    assert [str(w.message) for w in seen] == [
        "none of the concepts ['trunks', 'bra'] has a non-zero weight in any row of W of the "
        "classes drawn: every sample is in the bar at 0; choose concepts the rows hold, or "
        "decompose with a smaller l1_penalty, which keeps more concepts"
    ]
    assert seen[0].filename == __file__
    with pytest.warns(UserWarning, match=r"^the concept 'trunks' has a non-zero weight in no row"):
        plot_concept_histogram(W, y, "trunks", concepts=names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_concept_histogram(W, y, ["trunks", "bra"], concepts=names)  # (bra: a man's row)
    plt.close("all")


def test_class_profiles_side_by_side_that_fit_give_no_layout_warnings():
    """Three class profiles on plt.subplots(1, 3, layout="constrained") at the default
    size fit, but matplotlib's "constrained_layout not applied" came twice from the
    layouts drawn while titles and legends were fitted; the figure's own check stays."""
    rng = np.random.default_rng(0)
    names = [f"concept {i}" for i in range(30)]
    W = rng.random((90, 30)) * (rng.random((90, 30)) < 0.3)
    classes = ["cat", "dog", "a photograph of a very long class name here"]
    profiles = concept_profiles(W, np.repeat(classes, 30), names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, axes = plt.subplots(1, 3, layout="constrained", sharex=True)
        for ax, cls in zip(axes, classes):
            plot_class_profile(profiles, cls, ax=ax, k=8)
        _drawn(axes[0])
    assert [str(w.message) for w in caught] == []
    plt.close(fig)


def _drawn_texts(fig):
    """Every text of ``fig`` as matplotlib draws it: (the string, whether as mathematics)."""
    from matplotlib.text import Text

    return [t._preprocess_math(t.get_text()) for t in fig.findobj(Text) if t.get_text()]


def test_names_with_dollars_are_drawn_as_written_not_as_mathematics():
    # matplotlib reads a text with two "$" as mathematics: "price $10 and $20" lost its
    # dollars, "$$" failed to draw (and laion.txt holds "$$", "$$$" and "($)")
    rng = np.random.default_rng(3)
    names = ["price $10 and $20", "$$", r"costs $\euro$", "dog"]
    W = rng.random((40, 4)) + 0.05
    y = np.array(["$cheap$ things", "b"] * 20)
    profiles = concept_profiles(W, y, concepts=names)
    shift = compare_datasets(W[:20], W[20:] * (np.arange(4) < 2), concepts=names,
                             labels=("$A$ set", "B $"))  # fmt: skip
    axes = [
        plot_decomposition(W[0], names),
        plot_class_profile(profiles, "$cheap$ things"),
        plot_concept_prevalence(profiles, "$$"),
        plot_dataset_shift(shift, k=4),
    ]
    drawn = set()
    for ax in axes:
        texts = _drawn_texts(_drawn(ax))  # (drawing raised on "$$" before)
        assert not any(math for _, math in texts)
        drawn |= {text for text, _ in texts}
    shown = "\n".join(drawn)
    for name in [*names, "$cheap$ things", "$A$ set", "B $"]:
        assert name in shown
    # a title given by the caller keeps its mathematics
    ax = plot_decomposition(W[0], names, title=r"$\alpha$ weights")
    assert (r"$\alpha$ weights", True) in _drawn_texts(_drawn(ax))


@pytest.fixture
def small_paths(rng):
    """splice_path on a random 40-concept dictionary, for two dictionary sizes."""
    path_module = pytest.importorskip("sksplice.path")
    from sksplice.transformer import SpliceTransformer

    words = [f"concept{j}" for j in range(40)]
    emb = rng.standard_normal((40, 16))
    X = emb[:30] + emb[10:40] + 0.1 * rng.standard_normal((30, 16))
    y = np.repeat(["a", "b", "c"], 10)
    transformers, paths = {}, {}
    for size in (20, 40):
        transformers[f"{size} words"] = SpliceTransformer(
            vocabulary=words[:size], concept_embeddings=emb[:size], device="cpu"
        ).fit(X)
        paths[f"{size} words"] = path_module.splice_path(
            transformers[f"{size} words"], X, [0.05, 0.2, 0.1]
        )
    return X, y, transformers, paths


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_plot_sparsity_tradeoff_points_are_the_path_numbers(small_paths, tmp_path):
    _, _, _, paths = small_paths
    ax = plot_sparsity_tradeoff(paths, title="paths")
    _save_png(ax, tmp_path)
    for label, path in paths.items():
        line = _line(ax, label)
        order = np.argsort(path.mean_l0, kind="mergesort")
        np.testing.assert_array_equal(line.get_xdata(), path.mean_l0[order])
        np.testing.assert_array_equal(line.get_ydata(), path.cosine[order])
    # each point is labelled with its penalty
    assert sorted(t.get_text() for t in ax.texts) == sorted(["0.05", "0.1", "0.2"] * 2)
    assert ax.get_xscale() == "log" and len(ax.figure.axes) == 1
    # the summary DataFrame (to_frame) draws the same points
    frame_ax = plot_sparsity_tradeoff({k: p.to_frame() for k, p in paths.items()})
    for label in paths:
        np.testing.assert_array_equal(
            _line(frame_ax, label).get_xydata(), _line(ax, label).get_xydata()
        )


def test_plot_sparsity_tradeoff_draws_each_paths_baseline(small_paths):
    """A dotted line at each path's cosine of the centre alone, in its colour: the floor
    its cosines are read against (no concept at all scores it)."""
    X, _, transformers, paths = small_paths
    for label, path in paths.items():
        expected = np.mean(transformers[label].cosine_similarity(X, baseline=True))
        assert path.baseline_cosine == pytest.approx(expected)
    ax = plot_sparsity_tradeoff(paths)
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(dotted) == 2
    for line, (label, path) in zip(dotted, paths.items(), strict=True):
        assert list(line.get_ydata()) == [path.baseline_cosine] * 2
        assert line.get_color() == _line(ax, label).get_color()
    assert "centre alone (no concept)" in [t.get_text() for t in ax.get_legend().get_texts()]
    # the log axis still starts from the points, not from the line's axes coordinates
    assert ax.get_xlim()[0] > 0.5
    # the path's frame carries it (attrs), and draws it alike; a frame without it, none
    frames = {k: p.to_frame() for k, p in paths.items()}
    for label, frame in frames.items():
        assert frame.attrs["baseline_cosine"] == paths[label].baseline_cosine
    frame_ax = plot_sparsity_tradeoff(frames)
    dotted = [line for line in frame_ax.get_lines() if line.get_linestyle() == ":"]
    assert [line.get_ydata()[0] for line in dotted] == [p.baseline_cosine for p in paths.values()]
    for frame in frames.values():
        frame.attrs.clear()
    frame_ax = plot_sparsity_tradeoff(frames)
    assert not [line for line in frame_ax.get_lines() if line.get_linestyle() == ":"]


def test_transformers_keyed_by_no_path_or_of_another_path_are_named(small_paths):
    # a key that names no path was said as "give the fitted SpliceTransformer of path
    # '20 words'", and swapped transformers as weights of other concepts, naming no path
    from sksplice.zero_shot import ZeroShotClassifier

    X, y, transformers, paths = small_paths
    zero_shot = ZeroShotClassifier(_ClassMeans(X, y), classes=["a", "b", "c"]).fit(X, y)
    figures = plt.get_fignums()
    with pytest.raises(ValueError) as info:
        plot_sparsity_tradeoff(paths, y=y, estimator=zero_shot,
                               transformers={"20": transformers["20 words"]})  # fmt: skip
    assert str(info.value) == (
        "`transformers` has a key '20' that names no path; the paths are ['20 words', "
        "'40 words']: key each transformer by the name of the path it made"
    )
    swapped = {"20 words": transformers["40 words"], "40 words": transformers["20 words"]}
    with pytest.raises(ValueError, match=r"^these weights were made by a SpliceTransformer "
                       r"whose concepts are not those of the transformer given for path "
                       r"'20 words' in `transformers`: 20 concepts there, 40 in "):  # fmt: skip
        plot_sparsity_tradeoff(paths, y=y, estimator=zero_shot, transformers=swapped)
    assert plt.get_fignums() == figures  # (refused before anything is drawn)


class _ClassMeans:
    """Class prompts: the mean embedding of each class's samples."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def embed_text(self, texts):
        rows = [self.X[self.y == t.split()[-1].rstrip(".")].mean(axis=0) for t in texts]
        return np.asarray(rows) / np.linalg.norm(rows, axis=1, keepdims=True)


def test_plot_sparsity_tradeoff_accuracy_zero_shot_and_probe(small_paths):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from sksplice.zero_shot import ZeroShotClassifier

    X, y, transformers, paths = small_paths

    class Prompts:
        """Class prompts: the mean embedding of each class's samples."""

        def embed_text(self, texts):
            rows = [X[y == t.split()[-1].rstrip(".")].mean(axis=0) for t in texts]
            return np.asarray(rows) / np.linalg.norm(rows, axis=1, keepdims=True)

    zero_shot = ZeroShotClassifier(Prompts(), classes=["a", "b", "c"]).fit(X, y)
    ax = plot_sparsity_tradeoff(paths, y=y, estimator=zero_shot, transformers=transformers)
    acc_ax = ax.figure.axes[1]
    probe = LogisticRegression(max_iter=500)
    probe_ax = plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=3)
    for label, path in paths.items():
        order = np.argsort(path.mean_l0, kind="mergesort")
        expected = [
            zero_shot.score(transformers[label].inverse_transform(W), y) for W in path.weights
        ]
        line = _line(acc_ax, label)
        np.testing.assert_array_equal(line.get_xdata(), path.mean_l0[order])
        np.testing.assert_allclose(line.get_ydata(), np.asarray(expected)[order])
        expected_probe = [cross_val_score(probe, W, y, cv=3).mean() for W in path.weights]
        np.testing.assert_allclose(
            _line(probe_ax.figure.axes[1], label).get_ydata(), np.asarray(expected_probe)[order]
        )
    # an accuracy axis spans at least 0.1 (within [0, 1] and a margin): differences of a
    # sample or two do not fill it; every point stays in view
    for axes in (acc_ax, probe_ax.figure.axes[1]):
        lo, hi = axes.get_ylim()
        values = np.concatenate([line.get_ydata() for line in axes.get_lines()])
        assert hi - lo >= 0.1 - 1e-12 and lo >= -0.01 and hi <= 1.01
        assert lo <= values.min() and values.max() <= hi


def test_plot_sparsity_tradeoff_minimal_interface_and_errors(small_paths):
    class Summary:
        l1_penalties = np.array([0.3, 0.2, 0.1])
        mean_l0 = np.array([2.0, 4.5, 9.0])
        cosine = np.array([0.6, 0.7, 0.8])

    ax = plot_sparsity_tradeoff(Summary(), log_l0=False, annotate=False)
    np.testing.assert_array_equal(ax.get_lines()[0].get_xydata()[:, 1], Summary.cosine)
    assert ax.get_xscale() == "linear" and not ax.texts
    with pytest.raises(TypeError, match=r"^the path has no per-penalty `weights`"):
        plot_sparsity_tradeoff(Summary(), y=[0, 1], estimator=object())  # (one, unnamed)
    with pytest.raises(TypeError, match=r"^path 'mine' has no per-penalty `weights`"):
        plot_sparsity_tradeoff({"mine": Summary()}, y=[0, 1], estimator=object())
    _, y, _, paths = small_paths
    with pytest.raises(ValueError, match="both `y` and `estimator`"):
        plot_sparsity_tradeoff(paths, y=y)
    with pytest.raises(ValueError, match="`y` has 3 labels"):
        plot_sparsity_tradeoff(paths, y=y[:3], estimator=object())
    from sksplice.zero_shot import ZeroShotClassifier

    with pytest.raises(ValueError, match="fitted SpliceTransformer of path '20 words'"):
        plot_sparsity_tradeoff(paths, y=y, estimator=ZeroShotClassifier(object()))
    with pytest.raises(ValueError, match="cv"):
        plot_sparsity_tradeoff(paths, cv=1)
    with pytest.raises(TypeError, match="no `l1_penalties`"):
        plot_sparsity_tradeoff({"bad": object()})
    with pytest.raises(ValueError, match="different lengths"):

        class Ragged(Summary):
            cosine = np.array([0.5])

        plot_sparsity_tradeoff(Ragged())


def test_tradeoff_worked_example_plots_the_path_numbers(laion_minilm, minilm, tmp_path):
    """docs/examples/sparsity_tradeoff.py: 1k/5k/10k words, l1 0.05-0.5; docs hold its numbers."""
    import re

    from sklearn.base import clone

    from ._helpers_editing import assert_png, load_example
    from .conftest import REPO_ROOT

    example = load_example("sparsity_tradeoff")
    concepts, raw = laion_minilm
    result = example.main(tmp_path, embedder=minilm, concepts=concepts, concept_embeddings=raw)
    assert_png(result["figures"]["tradeoff"])
    ax, paths = result["axes"], result["paths"]
    acc_ax = ax.figure.axes[1]
    assert list(paths) == ["1k words", "5k words", "10k words"]
    rows = {}
    for label, path in paths.items():
        np.testing.assert_array_equal(path.l1_penalties, sorted(example.L1_PENALTIES)[::-1])
        order = np.argsort(path.mean_l0, kind="mergesort")
        np.testing.assert_array_equal(_line(ax, label).get_xdata(), path.mean_l0[order])
        np.testing.assert_array_equal(_line(ax, label).get_ydata(), path.cosine[order])
        np.testing.assert_array_equal(_line(acc_ax, label).get_xdata(), path.mean_l0[order])
        # fewer concepts, worse recomposition
        assert np.all(np.diff(path.mean_l0) > 0) and np.all(np.diff(path.cosine) > 0)
        accuracy = dict(zip(_line(acc_ax, label).get_xdata(), _line(acc_ax, label).get_ydata()))
        for pen, l0, cos in zip(path.l1_penalties, path.mean_l0, path.cosine):
            rows[(label, f"{pen:g}")] = (l0, cos, accuracy[l0])
    # a larger vocabulary recomposes better at the same penalty
    assert np.all(paths["10k words"].cosine > paths["1k words"].cosine)
    # no penalty label far from its point (one 2 inches below its point named nothing)
    scale = ax.figure.dpi / 72.0
    for label, start, _, point in _leaders(ax):
        assert np.hypot(*(start - point)) <= 106.0 * scale, label.get_text()
    # one point against an independent solve at that penalty
    single = clone(result["transformers"]["5k words"]).set_params(l1_penalty=0.3)
    X = minilm.embed_text(example.captions()[0])
    i = list(paths["5k words"].l1_penalties).index(0.3)
    assert single.fit(X).score(X) == pytest.approx(paths["5k words"].cosine[i], abs=2e-3)

    page = (REPO_ROOT / "docs" / "transformer.md").read_text(encoding="utf-8")
    pattern = r"\| (\d+k words) \| (0\.\d+) \| (\d+\.\d) \| (0\.\d{3}) \| (0\.\d{3}|1\.000) \|"
    documented = {}
    for line in page.splitlines():
        m = re.fullmatch(pattern, line.strip())
        if m:
            documented[(m.group(1), m.group(2))] = tuple(float(m.group(k)) for k in (3, 4, 5))
    assert set(documented) == set(rows)
    for key, (l0, cos, acc) in documented.items():
        assert rows[key][0] == pytest.approx(l0, abs=0.5), key
        assert rows[key][1] == pytest.approx(cos, abs=0.002), key
        assert rows[key][2] == pytest.approx(acc, abs=1 / 120 + 1e-9), key  # one caption
    # the dotted baseline the page quotes: one text centre for the three vocabularies
    assert "0.180 here, for all three vocabularies" in " ".join(page.split())
    for path in paths.values():
        assert path.baseline_cosine == pytest.approx(0.180, abs=5e-4)


def test_the_shift_legend_leaves_the_largest_shift_visible():
    # A concept found in collection B only lies on the y axis, high up: in the upper
    # left corner, where a fixed legend would cover it.
    from sksplice.plotting import plot_dataset_shift
    from sksplice.shift import compare_datasets

    rng = np.random.default_rng(0)
    n = 200
    A = (rng.random((n, 21)) < rng.uniform(0.02, 0.3, 21)).astype(float)
    B = (rng.random((n, 21)) < rng.uniform(0.02, 0.3, 21)).astype(float)
    A[:, 20], B[:, 20] = 0.0, rng.random(n) < 0.85
    names = [f"c{i}" for i in range(20)] + ["snow"]
    shift = compare_datasets(A, B, concepts=names, labels=("forest", "snow"))
    ax = plot_dataset_shift(shift, k=3)
    _drawn(ax)
    box = ax.get_legend().get_window_extent()
    assert shift.loc["snow", "significant"]
    point = (shift.loc["snow", "prevalence_a"], shift.loc["snow", "prevalence_b"])
    x, y = ax.transData.transform(point)
    assert not box.padded(5).contains(x, y)  # the marker, not just its centre
    (label,) = [t for t in ax.texts if t.get_text() == "snow"]
    assert not box.overlaps(label.get_window_extent())


def _display_boxes_of_markers(ax, collection):
    """Display-space boxes of a scatter's markers (marker size s is an area in points²)."""
    from matplotlib.transforms import Bbox

    half = np.sqrt(collection.get_sizes()[0]) / 2 * ax.figure.dpi / 72.0
    centres = ax.transData.transform(collection.get_offsets())
    return [Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in centres]


@pytest.mark.parametrize("k, cls_name", [(10, "park"), (2, "park"), (10, "a class " * 8)])
def test_the_class_profile_legend_covers_no_bar(k, cls_name, tmp_path):
    # the top concepts of a class are in (nearly) all of its samples: bars reach the
    # right edge in every row, and the dataset-wide markers sit at their ends
    rng = np.random.default_rng(0)
    names = ["dog", "grass", "ball", "park", "tree", "sky", "leash", "child", "bench", "frisbee"]
    W = (rng.random((40, 10)) < 0.97).astype(float)
    W[20:] = rng.random((20, 10)) < 0.9
    y = np.array([cls_name] * 20 + ["other"] * 20)
    ax = plot_class_profile(concept_profiles(W, y, names), cls_name, k=k)
    fig = _drawn(ax)
    legend = ax.get_legend().get_window_extent()
    for bar in _bars(ax):
        assert not legend.overlaps(bar.get_window_extent())
    for mark in _display_boxes_of_markers(ax, ax.collections[0]):
        assert not legend.overlaps(mark)
    assert not legend.overlaps(ax.title.get_window_extent())  # nor under the title
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)
    title = ax.title.get_window_extent()
    assert fig.bbox.contains(title.x0, title.y1)
    # the class first, then the dataset-wide markers
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == "all samples"
    _save_png(ax, tmp_path)


def test_tradeoff_penalty_labels_stay_apart_and_inside():
    # three vocabularies whose paths nearly coincide: every penalty's three points
    # are a few pixels apart
    class Summary:
        def __init__(self, l0, cosine):
            self.l1_penalties = np.array([0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05])
            self.mean_l0, self.cosine = l0, cosine

    l0 = np.array([3.0, 4.0, 6.0, 7.5, 10.0, 14.0, 22.0, 45.0])
    cosine = np.array([0.55, 0.6, 0.66, 0.69, 0.72, 0.76, 0.8, 0.86])
    paths = {
        "1k words": Summary(l0, cosine),
        "5k words": Summary(l0 * 1.06, cosine + 0.008),
        "10k words": Summary(l0 * 1.1, cosine + 0.02),
    }
    for log_l0 in (True, False):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ax = plot_sparsity_tradeoff(paths, log_l0=log_l0)
        _drawn(ax)
        labels = list(ax.texts)
        # every one, also where the markers of two paths touch (set off away from the
        # other marker)
        assert not [str(w.message) for w in record]
        assert sorted(t.get_text() for t in labels) == sorted(
            ["0.5", "0.4", "0.3", "0.25", "0.2", "0.15", "0.1", "0.05"] * 3
        )
        _label_boxes_apart_and_inside(ax, labels)
        legend = ax.get_legend().get_window_extent()
        assert not any(legend.overlaps(label.get_window_extent()) for label in labels)
        marks = np.vstack([line.get_xydata() for line in ax.get_lines()])
        assert _assert_leaders_are_clear(ax, marks, 3.5) == 0
        # each penalty in its path's colour
        colours = {line.get_color(): line for line in ax.get_lines()}
        for label in labels:
            line = colours[label.get_color()]
            at = line.get_xydata()
            assert np.any(np.all(np.isclose(at, label.xy), axis=1)), label.get_text()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.80, 0.81], (0.755, 0.855)),  # about the middle
        ([0.9625, 0.971], (0.902, 1.002)),  # moved down: 1 plus a margin is the top
        ([0.0, 0.01], (-0.002, 0.098)),  # moved up: 0 less a margin is the bottom
        ([0.5, 0.9], None),  # wide enough: left as drawn
        # flat at 1: matplotlib's own padding (0.945 to 1.055) ticked an accuracy at 1.04
        ([1.0, 1.0], (0.8928, 1.0022)),
        ([0.5, 1.0], (0.461, 1.011)),  # wide: moved down, off the padding above 1
        ([0.5, 1.3], None),  # (given axes holding other data beyond 1: left whole)
    ],
)
def test_an_accuracy_axis_spans_at_least_a_tenth(values, expected):
    from matplotlib.figure import Figure

    from sksplice.plotting import _at_least_span

    ax = Figure().add_subplot()
    ax.plot([1, 2], values)
    before = ax.get_ylim()
    _at_least_span(ax, 0.1)
    after = ax.get_ylim()
    if expected is None:
        assert after == before
    else:
        assert after == pytest.approx(expected, abs=1e-2 * 0.1)
        assert after[0] <= min(values) and max(values) <= after[1]
        assert after[1] - after[0] >= 0.1 - 1e-9
        ticks = [t for t in ax.get_yticks() if after[0] <= t <= after[1]]
        assert max(ticks) <= 1.0 + 1e-9, ticks


def _realistic_shift(n_concepts, n_samples, n_shifted, seed=0):
    """A comparison like a real one: rare concepts (beta prevalences), ``n_shifted`` of
    them three times more or less frequent in B; weights in (0.01, 0.2)."""
    rng = np.random.default_rng(seed)
    base = rng.beta(0.4, 30, n_concepts)
    shifted = base.copy()
    moved = rng.choice(n_concepts, n_shifted, replace=False)
    shifted[moved] = np.clip(base[moved] * rng.choice([0.3, 3.0], n_shifted), 0, 1)
    size = (n_samples, n_concepts)
    W_a = (rng.random(size) < base) * rng.uniform(0.01, 0.2, size)
    W_b = (rng.random(size) < shifted) * rng.uniform(0.01, 0.2, size)
    return compare_datasets(W_a, W_b, [f"concept{i}" for i in range(n_concepts)])


def _named(ax):
    """How many concepts the labels of ``ax`` name (a shared label counts each)."""
    count = 0
    for label in ax.texts:
        text, more = re.fullmatch(r"(.*?)(?: \+(\d+))?", label.get_text()).groups()
        count += len(text.split(", ")) + int(more or 0)
    return count


@pytest.mark.parametrize(
    ("n_samples", "n_shifted", "k", "least"),
    [
        # 35 significant of 3,000 concepts: before leaders were checked, all 10 were
        # labelled (some over other points); checked, with labels only level with or
        # above and below their points, 8 (square-root scale) and 6 (linear)
        (300, 300, 10, 10),
        # 239 significant, a dense cluster: 10 before (leaders across the cluster), then
        # 6 and 8
        (600, 1000, 10, 9),
    ],
)
def test_shift_labels_on_a_crowded_comparison_are_drawn_out_into_free_space(
    n_samples, n_shifted, k, least
):
    comparison = _realistic_shift(3000, n_samples, n_shifted)
    assert comparison["significant"].sum() > 3 * k
    marks = comparison.loc[comparison["significant"], ["prevalence_a", "prevalence_b"]]
    for scale in ("sqrt", "linear"):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ax = plot_dataset_shift(comparison, k=k, scale=scale)
        _drawn(ax)
        said = [re.match(r"(\d+) concept labels? left out", str(w.message)) for w in record]
        left_out = sum(int(m.group(1)) for m in said if m)
        assert _named(ax) >= least, scale
        assert left_out <= k - least, scale
        _label_boxes_apart_and_inside(ax, list(ax.texts))
        _assert_leaders_are_clear(ax, marks, _SHIFT_RADIUS)


def _crowded_shift():
    """Five significant concepts at one point and two just below it (counts of 112).

    One-sided ("more frequent in B"): the five have the smallest p-values and are labelled
    first (two-sided, "pictured" has the smallest: Fisher's two-sided p-value is not
    monotone in the count, 0 of 80 against 15 of 112 gives 2.25e-4, against 16, 2.29e-4).
    """
    rng = np.random.default_rng(0)
    counts = {"boat": 16, "train": 16, "guitar": 16, "aircraft": 16, "pizza": 16}
    counts |= {"pictured": 15, "dry": 13}
    names = list(counts) + [f"w{i}" for i in range(60)]
    A, B = np.zeros((80, 67)), np.zeros((112, 67))
    for j, c in enumerate(counts.values()):
        B[rng.choice(112, c, replace=False), j] = 1
    for j in range(7, 67):
        q = rng.uniform(0, 0.2)
        A[:, j] = rng.random(80) < q
        B[:, j] = rng.random(112) < q
    return compare_datasets(A, B, names, alternative="greater")


@pytest.mark.parametrize("scale", ["linear", "sqrt"])
def test_shift_concepts_at_one_point_share_a_label_level_with_no_other_point(scale):
    # Labels of their own, stacked beside a shared point, sat level with other points
    # (and were read as theirs).
    from matplotlib.text import Text

    comparison = _crowded_shift()
    ax = plot_dataset_shift(comparison, k=7, scale=scale)
    _drawn(ax)
    texts = {t.get_text(): t for t in ax.texts}
    # (on the square-root scale "pictured" lies between the others, whose markers nearly
    # touch its own: its label is set off, with a line to it)
    assert set(texts) == {"boat, train, guitar, aircraft, pizza", "pictured", "dry"}
    to_display = ax.transData.transform
    points = to_display(comparison[["prevalence_a", "prevalence_b"]].to_numpy()[:7])
    own = {"boat, train, guitar, aircraft, pizza": 0, "pictured": 5, "dry": 6}
    for text, label in texts.items():
        box = Text.get_window_extent(label)
        near = box.x0  # (labels right of their points here: the axis is on the left)
        level = (points[:, 1] > box.y0 - 2) & (points[:, 1] < box.y1 + 2)
        before = (points[:, 0] > near - 15) & (points[:, 0] < near)
        others = np.hypot(*(points - points[own[text]]).T) > 0.5
        assert not np.any(level & before & others), text
    significant = comparison.loc[comparison["significant"], ["prevalence_a", "prevalence_b"]]
    assert _assert_leaders_are_clear(ax, significant, _SHIFT_RADIUS) == 0
    # Each axis starts below 0, so that points on an axis show whole.
    assert ax.get_xlim()[0] < 0 and ax.get_ylim()[0] < 0


@pytest.mark.parametrize(
    "style", ["default", "dark_background", "Solarize_Light2", "seaborn-v0_8-pastel"]
)
def test_marks_for_all_samples_stand_out_on_their_bars(style):
    """In the text colour, white marks on the pale bars of dark_background did not show."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb, to_rgba

    def _contrast(a, b):  # (WCAG 2 contrast ratio)
        def luminance(color):
            c = np.asarray(to_rgb(color))
            c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
            return c @ [0.2126, 0.7152, 0.0722]

        low, high = sorted((luminance(a), luminance(b)))
        return (high + 0.05) / (low + 0.05)

    def outline(artist):
        if not artist.get_path_effects():
            return artist.get_color() if hasattr(artist, "get_color") else "none"
        (effect,) = artist.get_path_effects()
        return effect._gc["foreground"]

    rng = np.random.default_rng(0)
    W = rng.random((60, 6)) * (rng.random((60, 6)) < 0.5)
    profiles = concept_profiles(W, rng.integers(0, 3, 60), list("abcdef"))
    with plt.style.context(style):
        ax = plot_class_profile(profiles, 1)
        marks = next(c for c in ax.collections if c.get_label() == "all samples")
        bar = _bars(ax)[0].get_facecolor()
        background = ax.get_facecolor()
        mark = marks.get_edgecolor()[0]
        assert _contrast(mark, bar) >= 3.0
        # on the background (beyond a bar's end) the mark or its outline shows
        assert max(_contrast(mark, background), _contrast(outline(marks), background)) >= 3.0
        ax = plot_concept_prevalence(profiles, "a")
        line = ax.get_lines()[0]
        assert _contrast(line.get_color(), _bars(ax)[0].get_facecolor()) >= 3.0
        assert (
            max(
                _contrast(line.get_color(), ax.get_facecolor()),
                _contrast(outline(line), ax.get_facecolor()),
            )
            >= 3.0
        )
        if style == "dark_background":
            ax = plot_dataset_shift(compare_datasets(W[:30], W[30:], list("abcdef")))
            # (the diagonal, on the background, in the text colour)
            assert to_rgba(ax.get_lines()[0].get_color()) == to_rgba("white")


def test_long_names_many_classes_and_empty_profiles():
    long = "extremely long concept name for a stainless steel kitchen appliance"
    W = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1], [1, 0, 0.0]])
    profiles = concept_profiles(W, np.array(list("abcc")), [long, "dog", "cat"])
    ax = plot_class_profile(profiles, "a")
    assert max(len(t) for t in _ticklabels(ax)) <= 40
    assert _ticklabels(ax)[-1] == long[:39] + "\u2026"
    # the default title is the whole name, wrapped where too wide, not cut
    assert plot_concept_prevalence(profiles, long).get_title().replace("\n", " ") == long
    # many long class names: turned, each ending under its bar, sizes on the same line
    rng = np.random.default_rng(0)
    y = np.array([f"class number {i} with long name" for i in rng.integers(0, 14, 60)])
    many = concept_profiles(np.ones((60, 2)), y, ["dog", "cat"])
    ax = plot_concept_prevalence(many, "dog")
    ticks = ax.get_xticklabels()
    assert all(t.get_rotation() == 45 and t.get_horizontalalignment() == "right" for t in ticks)
    assert all("\n" not in t.get_text() and t.get_text().endswith(")") for t in ticks)
    assert ax.get_legend() is not None and ax.get_title() == "dog"
    # the default title does not repeat "class"
    assert (
        plot_class_profile(many, "class number 3 with long name")
        .get_title()
        .startswith("class number 3 with long name (n=")
    )
    # a class without concepts, a concept of no class: said on the axes
    Z = np.zeros((9, 3))
    Z[:3, 0] = 1
    empty = concept_profiles(Z, np.repeat([0, 1, 2], 3), list("abc"))
    texts = [t.get_text() for t in plot_class_profile(empty, 2).texts]
    assert texts == ["no concept has a prevalence above 0 here"]
    texts = [t.get_text() for t in plot_concept_prevalence(empty, "b").texts]
    assert texts == ["no sample of these classes has this concept"]


def test_sparsity_tradeoff_leaves_out_a_zero_l0_with_its_reason():
    frame = pd.DataFrame(
        {"l1_penalty": [3, 1, 0.6, 0.3], "mean_l0": [0, 0.975, 2.2, 5.8],
         "cosine": [0.515, 0.714, 0.813, 0.843]}
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"1 penalty with a mean l0 of 0 .* l1_penalty 3;"):
        ax = plot_sparsity_tradeoff(frame)
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [0.975, 2.2, 5.8])
    assert ax.get_ylim()[0] > 0.6  # (not stretched down to the point left out)
    assert ax.get_legend().get_title().get_text() == "labels: l1_penalty"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_sparsity_tradeoff(frame, log_l0=False)
    assert len(ax.get_lines()[0].get_xdata()) == 4


def test_a_shared_label_too_long_names_what_it_leaves_out():
    # ten concepts at one point: the label holds what fits and "+N", a warning the rest
    names = [f"concept number {i:02d}" for i in range(10)]
    A, B = np.zeros((40, 10)), np.ones((40, 10))
    comparison = compare_datasets(A, B, names)
    with pytest.warns(UserWarning, match=r"8 concepts share a label .*'concept number 02'"):
        ax = plot_dataset_shift(comparison, k=10)
    assert [t.get_text() for t in ax.texts] == ["concept number 00, concept number 01 +8"]


def test_class_titles_and_an_empty_class_list():
    W = np.array([[1.0, 0], [1, 1], [0, 1], [1, 1]])
    profiles = concept_profiles(W, ["classroom", "classroom", "class 2", "class 2"], ["a", "b"])
    assert plot_class_profile(profiles, "classroom").get_title() == "class classroom (n=2)"
    assert plot_class_profile(profiles, "class 2").get_title() == "class 2 (n=2)"
    with pytest.raises(ValueError, match="`classes` is empty"):
        plot_concept_prevalence(profiles, "a", classes=[])


def _texts_outside(ax):
    """The drawn texts of ``ax`` (title, legend, axis and tick labels, notes) that reach
    past the edge of its figure, as saved."""
    _drawn(ax)
    box = ax.figure.bbox
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    if ax.get_legend() is not None:
        texts += ax.get_legend().get_texts()
    # (tick labels outside the view limits are not drawn)
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        for tick in axis.get_major_ticks():
            if min(lo, hi) - 1e-9 <= tick.get_loc() <= max(lo, hi) + 1e-9:
                texts.append(tick.label1)
    assert len(texts) > 5
    outside = []
    for text in texts:
        if not text.get_visible() or not text.get_text():
            continue
        extent = text.get_window_extent()
        if (
            extent.x0 < box.x0 - 0.5
            or extent.x1 > box.x1 + 0.5
            or extent.y0 < box.y0 - 0.5
            or extent.y1 > box.y1 + 0.5
        ):
            outside.append(text.get_text())
    return outside


def _long_profiles(concept, class_name):
    rng = np.random.default_rng(0)
    names = [concept, "forest", "water"]
    W = (rng.random((40, 3)) < 0.5).astype(float)
    y = np.array([class_name] * 20 + ["other"] * 20)
    return concept_profiles(W, y, names)


@pytest.mark.parametrize(
    "concept",
    [
        "a very long concept name number 0 that keeps going on and on",
        "n01440764_tench_tinca_tinca_freshwater_fish_of_europe",  # (no space)
    ],
)
def test_a_long_concept_name_titles_the_prevalence_inside_the_figure(concept, tmp_path):
    ax = plot_concept_prevalence(_long_profiles(concept, "water"), concept)
    assert _texts_outside(ax) == []
    assert ax.get_title().replace("\n", " ").startswith(concept[:12])
    assert ax.get_title().count("\n") <= 2
    _save_png(ax, tmp_path)


def test_long_class_names_leave_the_bars_of_the_prevalence_room(tmp_path):
    # Three classes with names of 40 characters or more drew a figure 4 inches wide, whose
    # turned labels left the bars about a third of it.
    names = [
        "a very long class name describing animals in many words",
        "vehicles of every kind and shape, long name too",
    ]
    rng = np.random.default_rng(0)
    W = (rng.random((60, 2)) < 0.4).astype(float)
    y = np.array([names[0]] * 28 + [names[1]] * 29 + ["tiny"] * 3)
    ax = plot_concept_prevalence(concept_profiles(W, y, ["snow", "sea"]), "snow")
    ax.figure.canvas.draw()
    assert _texts_outside(ax) == []
    box = ax.get_position()  # (in figure fractions, once laid out)
    assert box.width >= 0.45, box
    _save_png(ax, tmp_path)


@pytest.mark.parametrize(
    "class_name",
    [
        "birdwatching at the lake shore",  # (a title of 43 characters)
        "birdwatching at the lake shore in wi",  # (a legend too wide for one row)
        "birdwatching at the lake shore in winter evening light",
        "n01440764_tench_tinca_tinca_freshwater_fish_of_europe",  # (no space)
    ],
)
def test_a_long_class_name_titles_its_profile_inside_the_figure(class_name, tmp_path):
    concept = "birdwatching at the lake shore x"  # (32 characters)
    ax = plot_class_profile(_long_profiles(concept, class_name), class_name)
    assert _texts_outside(ax) == []
    title = ax.get_title()
    assert title.count("\n") <= 2 and title.endswith("(n=20)")
    assert title.replace("\n", " ").startswith("class " + class_name[:12])
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == "all samples"
    _save_png(ax, tmp_path)


def test_a_long_title_given_is_wrapped_inside_the_figure():
    profiles = _long_profiles("sea", "land")
    ax = plot_class_profile(profiles, "land", title="a title given by the user " * 8)
    assert _texts_outside(ax) == []
    # (onto three lines at most, the last cut)
    assert ax.get_title().count("\n") == 2 and ax.get_title().endswith("\u2026")
    title = "the prevalence of sea, " * 2 + "the prevalence of sea"
    ax = plot_concept_prevalence(profiles, "sea", title=title)
    assert _texts_outside(ax) == []
    # (broken at spaces, nothing lost)
    assert ax.get_title().count("\n") == 1 and ax.get_title().replace("\n", " ") == title
    ax = plot_decomposition(np.ones(3), ["a", "b", "c"], title="a title of a figure " * 6)
    assert _texts_outside(ax) == []
    assert ax.get_title().count("\n") == 1


def test_ordinary_titles_and_legends_are_left_as_they_are(labelled):
    W, y = labelled
    profiles = concept_profiles(W, y, NAMES)
    ax = plot_class_profile(profiles, "woman")
    assert ax.get_title() == "class woman (n=3)"
    # (the class and the dataset-wide marker side by side, in one row)
    legend = ax.get_legend()
    _drawn(ax)
    first, second, third = (t.get_window_extent() for t in legend.get_texts())
    assert first.y0 == pytest.approx(second.y0) == pytest.approx(third.y0)
    assert first.x1 < second.x0 and second.x1 < third.x0
    assert [t.get_text() for t in legend.get_texts()] == [
        "woman",
        "all samples",
        "95% interval (per bar)",
    ]
    assert plot_concept_prevalence(profiles, "bikini").get_title() == "bikini"
    title = "bikinis among women"
    assert plot_concept_prevalence(profiles, "bikini", title=title).get_title() == title
    assert plot_decomposition(W[0], NAMES, title="sample 0").get_title() == "sample 0"


def test_axes_of_a_subfigure_are_drawn_into():
    from matplotlib.figure import Figure

    W = np.array([[1.0, 0], [1, 0], [1, 1], [0, 1]])
    profiles = concept_profiles(W, ["a", "a", "b", "b"], ["dog", "cat"])
    left, right = Figure(layout="constrained").subfigures(1, 2)
    ax = plot_class_profile(profiles, "a", ax=right.subplots())
    assert ax.get_title() == "class a (n=2)"
    rng = np.random.default_rng(0)
    comparison = compare_datasets(
        (rng.random((40, 5)) < 0.2).astype(float),
        (rng.random((40, 5)) < 0.8).astype(float),
        list("abcde"),
    )
    ax = plot_dataset_shift(comparison, ax=left.subplots())
    assert ax.texts


def _many_classes(n):
    y = np.repeat([f"n{i:08d}" for i in range(n)], 2)
    W = np.zeros((len(y), 2))
    W[::2, 0] = 1.0
    W[: 2 * (n // 2), 1] = 1.0
    return concept_profiles(W, y, ["water", "forest"])


def test_concept_prevalence_of_many_classes_is_refused_on_a_new_figure():
    profiles = _many_classes(1000)
    with pytest.raises(ValueError, match=r"1000 classes .*at most 80.* pass `classes=`") as err:
        plot_concept_prevalence(profiles, "water")
    # the subset the message suggests is drawn, on a figure 24 inches wide at most
    suggested = profiles["prevalence"].loc["forest"].drop("all").nlargest(40).index
    assert "profiles['prevalence'].loc['water'].drop('all').nlargest(40).index" in str(err.value)
    ax = plot_concept_prevalence(profiles, "forest", classes=suggested)
    assert len(_bars(ax)) == 40
    assert ax.figure.get_size_inches()[0] == pytest.approx(24.0)
    with pytest.raises(ValueError, match="81 classes"):
        plot_concept_prevalence(profiles, "water", classes=profiles["prevalence"].columns[1:82])
    # a few classes keep their width; axes of one's own take any number
    few = plot_concept_prevalence(profiles, "water", classes=["n00000000", "n00000001"])
    assert few.get_figure().get_size_inches()[0] == pytest.approx(4.0)
    from matplotlib.figure import Figure

    ax = Figure(figsize=(30, 4)).add_subplot()
    many = _many_classes(90)
    assert plot_concept_prevalence(many, "water", ax=ax) is ax
    assert len(_bars(ax)) == 90


def test_plot_decomposition_of_a_row_of_a_sparse_array():
    W = np.array([[0.0, 0.5, 0.0, 0.2, 0.9, 0.0], [0.1, 0.0, 0.0, 0.0, 0.0, 0.3]])
    dense = _ticklabels(plot_decomposition(W[0], NAMES))
    assert dense == ["bikini", "cat", "tree"]
    try:
        row = sp.csr_array(W)[0]  # (1-D: a row of a sparse array, with scipy >= 1.15)
    except NotImplementedError:  # (older scipy makes no such row: nothing to plot)
        row = None
    if row is not None:
        assert row.ndim == 1
        assert _ticklabels(plot_decomposition(row, NAMES)) == dense
    assert _ticklabels(plot_decomposition(sp.coo_array(W[1]), NAMES)) == ["dog", "car"]
    assert _ticklabels(plot_decomposition(sp.csr_array(W)[[0]], NAMES)) == dense
    for many in (sp.csr_array(W), sp.csr_matrix(W)):
        with pytest.raises(ValueError, match=r"single row of weights, got shape \(2, 6\)"):
            plot_decomposition(many, NAMES)


def test_a_bool_is_not_a_number_class_nor_a_number_a_bool_class():
    W = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [0, 1.0]])
    numbers = concept_profiles(W, np.array([1, 1, 1, 0, 0, 2]), ["water", "forest"])
    for given in (True, np.True_):
        with pytest.raises(ValueError, match=r"classes are \[0, 1, 2\] .*a bool .*pass 1"):
            plot_class_profile(numbers, given)
        with pytest.raises(ValueError, match=r"not in the profiles; classes are \[0, 1, 2\]"):
            plot_concept_prevalence(numbers, "water", classes=[0, given])
    # numbers of any type are the class
    assert plot_class_profile(numbers, np.int64(1)).get_title() == "class 1 (n=3)"
    assert plot_class_profile(numbers, 1.0).get_title() == "class 1 (n=3)"
    ax = plot_concept_prevalence(numbers, "water", classes=[np.int32(2), 1])
    assert _ticklabels(ax, "x") == ["2\n(n=1)", "1\n(n=3)"]
    bools = concept_profiles(W, np.array([True, True, True, False, False, False]), ["a", "b"])
    with pytest.raises(ValueError, match=r"1 is a number and the class True a bool: pass True"):
        plot_class_profile(bools, 1)
    with pytest.raises(ValueError, match=r"classes \[0\] are not in the profiles"):
        plot_concept_prevalence(bools, "a", classes=[0])
    assert plot_class_profile(bools, np.True_).get_title() == "class True (n=3)"
    strings = concept_profiles(W, np.array(list("aaabbb")), ["water", "forest"])
    assert plot_class_profile(strings, np.str_("a")).get_title() == "class a (n=3)"


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    # It said `pip install 'sksplice[plot]'`, which no package index serves: sksplice
    # installs from a checkout, with its constraints.
    import sys

    from sksplice.plotting import _new_axes

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="needs matplotlib: pip install matplotlib") as info:
        _new_axes(None, (4.0, 3.0))
    assert 'pip install -c constraints.txt ".[plot]"' in str(info.value)
    assert "sksplice[plot]" not in str(info.value)


def test_sparsity_tradeoff_refuses_what_is_no_axes_before_any_accuracy(small_paths, monkeypatch):
    # a figure given as accuracy_ax was found after the probe was cross-validated at
    # every penalty of every path, with "'Figure' object has no attribute 'plot'"
    from matplotlib.figure import Figure
    from sklearn.linear_model import LogisticRegression

    import sksplice.plotting as plotting

    _, y, _, paths = small_paths
    scored = []
    monkeypatch.setattr(plotting, "_path_accuracy", lambda *a, **k: scored.append(a))
    probe = LogisticRegression(max_iter=500)
    fig = Figure()
    cosine_ax, _ = fig.subplots(1, 2)
    for given, name in (({"ax": cosine_ax, "accuracy_ax": fig}, "accuracy_ax"),
                        ({"ax": fig, "accuracy_ax": cosine_ax}, "ax")):  # fmt: skip
        with pytest.raises(TypeError, match=rf"^{name} must be one matplotlib Axes, got a Figure"):
            plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=3, **given)
    with pytest.raises(TypeError, match=r"^log_l0 must be .*got 'no'"):
        plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=3, log_l0="no")
    with pytest.raises(TypeError, match=r"^annotate must be .*got 'no'"):
        plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=3, annotate="no")
    with pytest.raises(TypeError, match=r"^title must be text \(a str\) or None, got"):
        plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=3, title=["tradeoff"])
    assert scored == [] and not cosine_ax.lines


def test_sparsity_tradeoff_accuracy_axes_come_in_pairs_and_keep_a_title(small_paths):
    """accuracy_ax without ax would draw the cosine panel on a figure of its own."""
    from matplotlib.figure import Figure
    from sklearn.linear_model import LogisticRegression

    _, y, _, paths = small_paths
    probe = LogisticRegression(max_iter=500)
    fig = Figure()
    cosine_ax, accuracy_ax = fig.subplots(1, 2)
    with pytest.raises(ValueError, match="give `ax` as well as `accuracy_ax`"):
        plot_sparsity_tradeoff(paths, accuracy_ax=accuracy_ax, y=y, estimator=probe, cv=3)
    assert not accuracy_ax.lines and not cosine_ax.lines
    with pytest.raises(ValueError, match="give `accuracy_ax` as well as `ax`"):
        plot_sparsity_tradeoff(paths, ax=cosine_ax, y=y, estimator=probe, cv=3)
    accuracy_ax.set_title("my accuracy")
    ax = plot_sparsity_tradeoff(
        paths, ax=cosine_ax, accuracy_ax=accuracy_ax, y=y, estimator=probe, cv=3
    )
    assert ax is cosine_ax and ax.figure is fig and len(accuracy_ax.lines) == len(paths)
    assert accuracy_ax.get_title() == "my accuracy"
    # untitled given axes get the classifier's title
    other = Figure().subplots(1, 2)
    plot_sparsity_tradeoff(paths, ax=other[0], accuracy_ax=other[1], y=y, estimator=probe, cv=3)
    assert other[1].get_title() == "LogisticRegression on concept weights, 3-fold CV"


def test_long_names_alike_are_cut_where_they_differ():
    """Classes sharing their first 40 characters kept apart in ticks; titles whole."""
    prefix = "a photograph taken with a professional camera of "
    classes = [prefix + c for c in ("dog", "cat", "car", "pizza")]
    W = np.array([[0.5, 0.2, 0.0], [0.1, 0.0, 0.3], [0.4, 0.1, 0.0], [0.0, 0.3, 0.2]])
    profiles = concept_profiles(W, np.array(classes), ["snow", "grass", "road"])
    ax = plot_concept_prevalence(profiles, "snow")
    ticks = _ticklabels(ax, "x")
    assert len(set(ticks)) == 4
    for tick, cls in zip(ticks, ("car", "cat", "dog", "pizza")):  # (classes sorted)
        assert tick.endswith(f"camera of {cls} (n=1)") and len(tick) <= 40 + len(" (n=1)")
        assert tick.startswith("a photograph") and "\u2026" in tick
    ax = plot_class_profile(profiles, classes[3])
    # the default title names the class whole (wrapped where it is too wide)
    assert ax.get_title().replace("\n", " ") == f"class {classes[3]} (n=1)"
    # concept names alike, in a decomposition
    names = ["a very long concept name that goes on and on: " + w for w in ("one", "two")]
    ax = plot_decomposition([0.2, 0.5], names)
    assert _ticklabels(ax) == [
        "a very long \u2026 goes on and on: one",
        "a very long \u2026 goes on and on: two",
    ]
    # names unlike in their first 40 characters keep the plain cut
    ax = plot_decomposition([0.2, 0.5], ["x" * 50, "y" * 50])
    assert _ticklabels(ax) == ["x" * 39 + "\u2026", "y" * 39 + "\u2026"]


def test_shift_long_axis_labels_are_wrapped_inside_the_figure():
    rng = np.random.default_rng(0)
    W = rng.random((60, 6)) * (rng.random((60, 6)) < 0.5)
    comparison = compare_datasets(W[:30], W[30:], list("abcdef"))
    long_a = "photographs of beaches taken by tourists during the summer holidays"
    long_b = "photographs of snowy mountains taken by hikers during the winter months"
    comparison.attrs["labels"] = (long_a, long_b)
    ax = plot_dataset_shift(comparison)
    fig = _drawn(ax)
    for label, whole in ((ax.xaxis.label, long_a), (ax.yaxis.label, long_b)):
        assert "\n" in label.get_text()
        assert label.get_text().replace("\n", " ").startswith(f"prevalence in {whole}")
        box = label.get_window_extent()
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1


def test_an_empty_shift_says_so_above_the_diagonal():
    comparison = compare_datasets(np.zeros((5, 3)), np.zeros((6, 3)), list("abc"))
    ax = plot_dataset_shift(comparison)
    (message,) = ax.texts
    assert message.get_text() == "no concept occurs in either collection"
    diagonal = ax.get_lines()[0]
    assert message.get_bbox_patch() is not None
    assert message.get_bbox_patch().get_facecolor() == pytest.approx(
        matplotlib.colors.to_rgba(ax.get_facecolor())
    )
    assert message.get_zorder() > diagonal.get_zorder()


def test_labels_placed_over_points_never_sit_level_just_after_another_point():
    """The pass that may cover points kept no label from reading as a neighbour's."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from sksplice.plotting import _place_labels

    rng = np.random.default_rng(1)
    ax = Figure(figsize=(3.0, 3.0)).add_subplot()
    x, y = rng.random(150), rng.random(150)
    ax.scatter(x, y, s=10)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    names = [f"concept {i}" for i in range(25)]
    _place_labels(ax, x[:25], y[:25], names, avoid=np.column_stack([x, y]))
    _drawn(ax)
    points = ax.transData.transform(np.column_stack([x, y]))
    scale = ax.figure.dpi / 72.0
    assert ax.texts
    for label in ax.texts:
        own = ax.transData.transform(label.xy)
        box = Text.get_window_extent(label)
        right = box.x0 >= own[0]
        near = box.x0 if right else box.x1
        reach = 4.0 * scale + 4.0 * scale
        slack = max(2.5 * scale, 0.6 * box.height) - 1.0
        before = (
            (points[:, 0] > near - reach) & (points[:, 0] < near)
            if right
            else (points[:, 0] > near) & (points[:, 0] < near + reach)
        )
        level = (points[:, 1] > box.y0 - slack) & (points[:, 1] < box.y1 + slack)
        others = np.hypot(*(points - own).T) > 0.5
        assert not np.any(before & level & others), label.get_text()


def test_prevalence_in_given_axes_warns_when_class_labels_do_not_fit():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    y = np.array([f"class {i}" for i in range(12)] * 5)
    W = rng.random((60, 2))
    profiles = concept_profiles(W, y, ["snow", "grass"])
    fig, ax = plt.subplots(figsize=(8, 4))  # (no layout: no room for turned labels)
    # (said when the figure is drawn, saved or shown: the caller may lay it out before)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plot_concept_prevalence(profiles, "snow", ax=ax) is ax
    with pytest.warns(FigureLayoutWarning, match="12 class labels of the given axes ") as record:
        fig.savefig(io.BytesIO())
    assert 'layout="constrained"' in str(record[0].message)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_concept_prevalence(profiles, "snow", ax=ax)
        fig.savefig(io.BytesIO())
    plt.close(fig)
    many = concept_profiles(rng.random((81, 2)), np.arange(81), ["snow", "grass"])
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    plot_concept_prevalence(many, "snow", ax=ax)
    with pytest.warns(FigureLayoutWarning, match="81 class labels of the given axes") as record:
        fig.canvas.draw()
    # (laid out already: only a larger figure or fewer classes make room)
    assert str(record[0].message).endswith(
        "overlap: make the figure larger (figsize), or pass fewer `classes=`"
    )
    plt.close(fig)


def test_given_axes_laid_out_after_the_plot_are_not_warned_about():
    # A grid of class profiles and prevalences laid out with fig.tight_layout() after the
    # plots (the usual idiom) warned that names "run out of the figure", "run over other
    # axes" and "class labels overlap": checked before the layout, saved clean.
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    names = [f"a fairly long concept name {i}" for i in range(12)]
    y = np.repeat([f"class {i}" for i in range(6)], 10)
    profiles = concept_profiles(rng.random((60, 12)) * (rng.random((60, 12)) < 0.4), y, names)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, cls in zip(axes.flat, sorted(set(y))):
        plot_class_profile(profiles, cls, k=5, ax=ax)
    fig.tight_layout()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO())
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, concept in zip(axes, names):
        plot_concept_prevalence(profiles, concept, ax=ax)
    fig.tight_layout()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO())
    plt.close(fig)
    # without the layout, such figures are warned about when saved, once per plot whose
    # texts do not fit, naming the line of the plot's call (not matplotlib's that draws)
    figures = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(2):  # (two figures: both are said, the second too)
            fig, axes = plt.subplots(1, 3, figsize=(6.4, 4.8))
            figures.append(fig)
            for ax, cls in zip(axes, sorted(set(y))):
                plot_class_profile(profiles, cls, k=5, ax=ax)  # (line: plotted)
            plotted = sys._getframe().f_lineno - 1
            fig.savefig(io.BytesIO())
            fig.savefig(io.BytesIO())  # (not again)
    said = [w for w in seen if "of the given axes" in str(w.message)]
    assert len(said) == 6, [str(w.message) for w in said]
    assert all(w.filename == __file__ and w.lineno == plotted for w in said), said
    assert all("concept names, title or legend" in str(w.message) for w in said)
    for fig in figures:
        plt.close(fig)
    # ignored where the plot is made, it is not said when the figure is drawn; saved with
    # bbox_inches="tight" (as a notebook's inline display saves figures), texts beyond
    # the edge are in the image: only those over other axes are said, in the painted
    # draw on the crop, not in matplotlib's dry run before it
    fig, axes = plt.subplots(1, 3, figsize=(6.4, 4.8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FigureLayoutWarning)
        plot_class_profile(profiles, "class 0", k=5, ax=axes[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO())
    plt.close(fig)
    for bbox, said in (
        (None, "run over other axes and run out of the figure"),
        ("tight", "run over other axes: "),
    ):
        fig, axes = plt.subplots(1, 3, figsize=(6.4, 4.8))
        plot_class_profile(profiles, "class 0", k=5, ax=axes[1])
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fig.savefig(io.BytesIO(), bbox_inches=bbox)
        texts = [str(w.message) for w in seen if issubclass(w.category, FigureLayoutWarning)]
        assert len(texts) == 1 and said in texts[0], texts
        plt.close(fig)
    # a single axes whose names run out of the figure: right where it is cropped to its
    # texts, in every format (the vector ones draw through a renderer that wraps another),
    # and for a dry run (fig.draw_without_rendering()), said at the painted draw
    for bbox, said, fmt in (
        *(("tight", False, fmt) for fmt in ("png", "pdf", "svg", "ps")),
        (None, True, "png"),
        (None, True, "pdf"),
    ):
        fig, ax = plt.subplots(figsize=(2.0, 1.5))
        fig.subplots_adjust(left=0.05)
        plot_class_profile(profiles, "class 0", k=5, ax=ax)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fig.draw_without_rendering()
            assert not [w for w in seen if issubclass(w.category, FigureLayoutWarning)]
            fig.savefig(io.BytesIO(), bbox_inches=bbox, format=fmt)
        texts = [str(w.message) for w in seen if issubclass(w.category, FigureLayoutWarning)]
        assert len(texts) == int(said), (fmt, texts)
        assert all("run out of the figure" in text for text in texts), (fmt, texts)
        plt.close(fig)
    # a constrained figure too small for three columns of long names is told to grow, not
    # to take the layout it has (savefig turns the layout off for its painted draw)
    long = [f"an extraordinarily long concept name number {i} that runs on" for i in range(12)]
    wordy = concept_profiles(rng.random((60, 12)) * (rng.random((60, 12)) < 0.4), y, long)
    for bbox in (None, "tight"):
        fig, axes = plt.subplots(1, 3, figsize=(6.4, 4.8), sharex=True, layout="constrained")
        for ax, cls in zip(axes, sorted(set(y))):
            plot_class_profile(wordy, cls, k=8, ax=ax)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fig.savefig(io.BytesIO(), bbox_inches=bbox)
        texts = [str(w.message) for w in seen if issubclass(w.category, FigureLayoutWarning)]
        assert texts and all(t.endswith(": make the figure larger (figsize)") for t in texts), (
            bbox,
            texts,
        )
        plt.close(fig)
    # an axes removed before the figure is drawn is not checked (its figure is gone)
    fig, axes = plt.subplots(1, 3, figsize=(6.4, 4.8))
    plot_class_profile(profiles, "class 0", k=5, ax=axes[0])
    plot_concept_prevalence(profiles, names[0], ax=axes[1])
    axes[0].remove()
    axes[1].remove()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO())
    plt.close(fig)


def test_sparsity_tradeoff_says_its_l0_axis_is_logarithmic_with_a_tick_below_the_points():
    class Summary:
        l1_penalties = np.array([0.5, 0.3, 0.1])
        mean_l0 = np.array([2.5, 8.0, 60.0])
        cosine = np.array([0.5, 0.6, 0.8])

    ax = plot_sparsity_tradeoff(Summary())
    _drawn(ax)
    assert ax.get_xlabel() == "mean number of concepts per sample (l0, log scale)"
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert min(ticks) <= 2.5 and min(ticks) < 5
    linear = plot_sparsity_tradeoff(Summary(), log_l0=False)
    assert linear.get_xlabel() == "mean number of concepts per sample (l0)"


def test_sparsity_tradeoff_refuses_accuracy_axes_without_an_estimator(small_paths):
    """accuracy_ax without y and estimator raised UnboundLocalError after drawing."""
    from matplotlib.figure import Figure

    paths = small_paths[3]
    cosine_ax, accuracy_ax = Figure().subplots(1, 2)
    for kwargs in ({"ax": cosine_ax}, {}):
        with pytest.raises(ValueError, match="`accuracy_ax` is for the accuracy panel"):
            plot_sparsity_tradeoff(paths, accuracy_ax=accuracy_ax, **kwargs)
    assert not accuracy_ax.lines and not cosine_ax.lines


def _leaders(ax):
    """The leader lines drawn (display coordinates), each with its label and the point
    it names: (label, start, end, point)."""
    _drawn(ax)
    found = []
    for label in ax.texts:
        patch = getattr(label, "arrow_patch", None)
        if patch is None:
            continue
        vertices = patch.get_path().vertices  # (display coordinates: no transform)
        point = ax.transData.transform(np.asarray(label.xy, dtype=float))
        found.append((label, vertices[0], vertices[-1], point))
    return found


def _segments_distance(a, b, c, d):
    """The distance between the segments a-b and c-d (0 where they cross)."""

    def cross(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    if cross(a, b, c) * cross(a, b, d) < 0 and cross(c, d, a) * cross(c, d, b) < 0:
        return 0.0

    def to_segment(p, s, e):
        t = np.clip((p - s) @ (e - s) / max((e - s) @ (e - s), 1e-12), 0.0, 1.0)
        return float(np.hypot(*(p - (s + t * (e - s)))))

    return min(to_segment(c, a, b), to_segment(d, a, b), to_segment(a, c, d), to_segment(b, c, d))


def _assert_leaders_are_clear(ax, marks, radius):
    """Leaders (``radius``: the markers' radius, in points) end at the edge of their own
    point's marker, clearly the nearest of ``marks`` (data coordinates) to that end, and
    start at no other point; they neither cross nor touch each other, pass through no
    label and over no other point, except, where a label had no other place, over
    points not labelled, away from the last five radii to their own point. Returns how
    many leaders pass over a point (not labelled)."""
    from matplotlib.text import Text

    leaders = _leaders(ax)
    scale = ax.figure.dpi / 72.0
    marks = ax.transData.transform(np.asarray(marks, dtype=float))
    boxes = [(t, Text.get_window_extent(t)) for t in ax.texts]
    labelled = ax.transData.transform(np.array([t.xy for t in ax.texts], dtype=float))
    passing = 0
    for label, start, end, point in leaders:
        name = label.get_text()
        # at the marker's edge: neither inside it nor short of it
        assert np.hypot(*(end - point)) == pytest.approx(radius * scale, abs=1.0), name
        # and no longer than 100 points from its point (a label two inches away names
        # nothing; the text's near end is a few points before the line's start)
        assert np.hypot(*(start - point)) <= (100.0 + 6.0) * scale, name
        others = marks[np.hypot(*(marks - point).T) > 2.0 * radius * scale]
        along = start + np.linspace(0.0, 1.0, 200)[:, None] * (end - start)
        if len(others):
            # its own point is clearly the nearest to where it ends, and where it starts
            # lies no other point
            assert np.min(np.hypot(*(others - end).T)) > 2.0 * np.hypot(*(point - end)), name
            assert np.min(np.hypot(*(others - start).T)) > 2.0 * radius * scale, name
            # and it passes over no other point, or over none labelled nor near its end
            gaps = np.hypot(*(along[:, None, :] - others[None, :, :]).transpose(2, 0, 1))
            if np.min(gaps) <= radius * scale:
                passing += 1
                last = np.hypot(*(along - point).T) < 5.0 * radius * scale
                assert np.min(gaps[last]) > radius * scale, name
                named = labelled[np.hypot(*(labelled - point).T) > 2.0 * radius * scale]
                if len(named):
                    to_named = np.hypot(*(along[:, None, :] - named[None]).transpose(2, 0, 1))
                    assert np.min(to_named) > radius * scale, name
        for other, box in boxes:
            if other is label:
                continue
            inside = (
                (along[:, 0] > box.x0)
                & (along[:, 0] < box.x1)
                & (along[:, 1] > box.y0)
                & (along[:, 1] < box.y1)
            )
            assert not inside.any(), (name, other.get_text())
    for i, (label, a, b, _) in enumerate(leaders):
        for other, c, d, _ in leaders[:i]:
            assert _segments_distance(a, b, c, d) > 1.0, (label.get_text(), other.get_text())
    return passing


def _scattered(seed: int, n: int) -> tuple[object, np.ndarray, np.ndarray]:
    """Axes of 3 x 3 inches with ``n`` random points in the unit square, and the points."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    ax = Figure(figsize=(3.0, 3.0)).add_subplot()
    x, y = rng.random(n), rng.random(n)
    ax.scatter(x, y, s=22)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    return ax, x, y


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_label_leaders_neither_cross_nor_name_another_point(seed):
    """Crowded points labelled with leaders: in the pass that may cover points, leaders
    crossed each other, ran through labels and ended inside their markers (or merged
    into one line to a stack of points)."""

    from sksplice.plotting import _place_labels

    ax, x, y = _scattered(seed, 60)
    names = [f"concept {i}" for i in range(40)]
    radius = _SHIFT_RADIUS
    left_out = _place_labels(ax, x[:40], y[:40], names, avoid=np.column_stack([x, y]),
                             marker=radius)  # fmt: skip
    assert any(getattr(t, "arrow_patch", None) is not None for t in ax.texts)
    assert len(ax.texts) + len(left_out) == 40
    _drawn(ax)
    _label_boxes_apart_and_inside(ax, list(ax.texts))
    _assert_leaders_are_clear(ax, np.column_stack([x, y]), radius)


def test_a_label_that_took_the_room_of_later_ones_is_placed_again_after_them(monkeypatch):
    """A row of points at the right edge, the last labelled first: greedily, its label
    was set off over the others and blocked their leaders, and one was left out with a
    warning, though the axes above them were empty."""
    from matplotlib.figure import Figure

    import sksplice.plotting
    from sksplice.plotting import _place_labels

    def labelled(retries: int) -> tuple[list[str], object]:
        monkeypatch.setattr(sksplice.plotting, "_LABEL_RETRIES", retries)
        ax = Figure(figsize=(5.5, 5.0), dpi=100).add_subplot()
        x, y = np.array([0.97, 0.945, 0.92]), np.zeros(3)
        ax.scatter(x, y, s=22)  # (the size of the significant points of a shift)
        ax.set_xlim(-0.02, 1.0)
        ax.set_ylim(-0.02, 1.0)
        names = ["lived", "toxic", "soothing"]
        return _place_labels(ax, x, y, names, marker=_SHIFT_RADIUS), ax

    left_out, _ = labelled(0)
    assert left_out == ["toxic"]  # (the greedy placement alone)
    left_out, ax = labelled(3)
    assert left_out == []
    # every label drawn once, at its own point, by the rules of every placement
    assert sorted(t.get_text() for t in ax.texts) == ["lived", "soothing", "toxic"]
    _drawn(ax)
    _label_boxes_apart_and_inside(ax, list(ax.texts))
    _assert_leaders_are_clear(
        ax, np.column_stack([[0.97, 0.945, 0.92], np.zeros(3)]), _SHIFT_RADIUS
    )


def test_labels_placed_again_never_give_up_a_label_placed_before(monkeypatch):
    """A placement again, those left out first, is kept only where it places every label
    the one before did: kept where it left out fewer, it gave up the second most
    significant concept of a shift for lesser ones."""

    import sksplice.plotting
    from sksplice.plotting import _place_labels

    def left_out(seed: int, retries: int) -> list[str]:
        monkeypatch.setattr(sksplice.plotting, "_LABEL_RETRIES", retries)
        ax, x, y = _scattered(seed, 40)
        names = [f"concept {i}" for i in range(18)]
        return _place_labels(ax, x[:18], y[:18], names, avoid=np.column_stack([x, y]), marker=3.0)

    fewer = 0
    for seed in (3, 7, 11, 16):
        greedy, placed_again = left_out(seed, 0), left_out(seed, 3)
        assert set(placed_again) <= set(greedy), (seed, greedy, placed_again)
        # (named in the order given, the most important first, as the warning lists them)
        assert placed_again == sorted(placed_again, key=lambda name: int(name.split()[1]))
        fewer += len(placed_again) < len(greedy)
    assert fewer >= 2  # (the seeds were chosen where placing again labels more)


@pytest.mark.parametrize("statistic", ["prevalence", "mean_weight"])
def test_shift_labels_of_a_stack_of_points_do_not_share_leaders(statistic):
    """Significant concepts stacked along the axis (concepts of collection B only): their
    leaders ran as one thick line to the stack, each label naming no point clearly."""
    rng = np.random.default_rng(0)
    n_a, n_b, m = 45, 15, 40
    W_a = np.zeros((n_a, m))
    W_b = np.zeros((n_b, m))
    for j in range(8):  # (in B only, in 15 down to 6 samples, of weights alike)
        W_b[: 15 - j, j] = 0.02 + 0.002 * j
    W_a[:, 8:] = rng.random((n_a, m - 8)) * (rng.random((n_a, m - 8)) < 0.1)
    W_b[:, 8:] = rng.random((n_b, m - 8)) * (rng.random((n_b, m - 8)) < 0.1)
    comparison = compare_datasets(W_a, W_b, concepts=[f"concept {j}" for j in range(m)])
    significant = comparison["significant"].to_numpy()
    assert significant.sum() >= 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (labels left out, said elsewhere)
        ax = plot_dataset_shift(comparison, statistic=statistic)
    marks = comparison.loc[significant, [f"{statistic}_a", f"{statistic}_b"]].to_numpy()
    _drawn(ax)
    _label_boxes_apart_and_inside(ax, list(ax.texts))
    _assert_leaders_are_clear(ax, marks, _SHIFT_RADIUS)


def test_sparsity_tradeoff_refuses_labels_a_probe_cannot_be_scored_on_before_drawing(
    small_paths,
):
    """A single class, a training fold of a single class, or every class smaller than
    the stratified folds: the cosine panel was drawn, then scikit-learn's "All the 5 fits
    failed" traceback (or its split's refusal). A class smaller than the folds, which
    scikit-learn only warns about, is scored."""
    from matplotlib.figure import Figure
    from sklearn.linear_model import LogisticRegression

    _, y, _, paths = small_paths  # (10 samples of each of 'a', 'b', 'c')
    probe = LogisticRegression(max_iter=200)
    one_class = np.full(y.shape, "a")
    one_single = np.array(["a"] + ["b"] * 29)  # (cross_val_score: nan for fold 1)
    for labels, cv, message in (
        (
            one_class,
            5,
            r"`y` holds a single class \('a'\): a probe's accuracy needs labels of at least 2",
        ),
        (
            one_single,
            5,
            r"^fold 1 of the probe's stratified cv=5 folds would train it on the single class "
            r"'b', testing 'a': classes with one sample leave no other class to train on",
        ),
        (y, 12, r"every class of `y` has fewer samples than the cv=12 folds .* 'a', has 10\)"),
    ):
        ax, accuracy_ax = Figure().subplots(1, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (nothing from scikit-learn either)
            with pytest.raises(ValueError, match=message):
                plot_sparsity_tradeoff(
                    paths, ax, y=labels, estimator=probe, accuracy_ax=accuracy_ax, cv=cv
                )
        assert not ax.get_lines() and not accuracy_ax.get_lines()  # nothing drawn
    # A class of 2 samples with 5 folds, or of 1 beside two larger ones: scikit-learn warns
    # that the least populated class is smaller than the folds, and every fit succeeds.
    few = y.copy()
    few[:8] = "b"
    rare = y.copy()
    rare[1:10] = "b"
    # (single samples of two classes in different folds: every training fold holds two)
    singles = np.array(["a", "b"] + ["c"] * 28)
    for labels in (few, rare, singles):
        ax, accuracy_ax = Figure().subplots(1, 2)
        with pytest.warns(UserWarning, match="least populated class"):
            plot_sparsity_tradeoff(paths, ax, y=labels, estimator=probe, accuracy_ax=accuracy_ax)
        accuracy = np.concatenate([line.get_ydata() for line in accuracy_ax.get_lines()])
        assert accuracy.size and np.isfinite(accuracy).all()
    # fewer labelled samples than folds, for any probe
    with pytest.raises(ValueError, match=r"fewer than the cv=40 folds"):
        plot_sparsity_tradeoff(paths, y=y, estimator=probe, cv=40)
    # a zero-shot classifier is not cross-validated: samples of one class are scored
    from sksplice.zero_shot import ZeroShotClassifier

    X, _, transformers, _ = small_paths

    class Prompts:
        def embed_text(self, texts):
            rows = [X[y == t.split()[-1].rstrip(".")].mean(axis=0) for t in texts]
            return np.asarray(rows) / np.linalg.norm(rows, axis=1, keepdims=True)

    zero_shot = ZeroShotClassifier(Prompts(), classes=["a", "b", "c"]).fit(X, y)
    plot_sparsity_tradeoff(paths, y=one_class, estimator=zero_shot, transformers=transformers)


def test_concept_prevalence_refuses_a_single_class_for_classes(labelled):
    """classes="ab" was split into its letters: here the classes "a" and "b" were drawn
    where the class "ab" was asked for (elsewhere, an error about classes "m", "a" ...)."""
    W, _ = labelled
    prof = concept_profiles(W, np.array(["ab", "a", "b", "ab", "a"]), NAMES)
    with pytest.raises(TypeError, match=r"a single label: pass classes=\['ab'\]"):
        plot_concept_prevalence(prof, "dog", classes="ab")
    ints = concept_profiles(W, np.array([1, 2, 1, 2, 1]), NAMES)
    with pytest.raises(TypeError, match=r"pass classes=\[2\]"):
        plot_concept_prevalence(ints, "dog", classes=2)
    # a sequence of one class is one bar
    ax = plot_concept_prevalence(prof, "dog", classes=["ab"])
    assert len(_bars(ax)) == 1 and _ticklabels(ax, "x") == ["ab\n(n=2)"]


def test_a_class_has_one_colour_in_every_figure():
    """Orange was "dog" in the class profile (every class C1), "cat" in a histogram of
    all classes and "dog" in one of `classes=["dog", "cat"]` (by position in `classes`):
    a class's colour is now that of its rank among the sorted labels, in every figure."""
    from matplotlib.colors import same_color

    from sksplice.plotting import plot_concept_histogram

    rng = np.random.default_rng(5)
    y = np.repeat(["bird", "cat", "dog"], 20)
    W = rng.random((60, 4)) * (rng.random((60, 4)) < 0.6)
    names = ["snow", "sofa", "tree", "sky"]
    profiles = concept_profiles(W, y, names)
    colour = {"bird": "C0", "cat": "C1", "dog": "C2"}
    for cls in colour:
        ax = plot_class_profile(profiles, cls, k=3)
        assert all(same_color(bar.get_facecolor(), colour[cls]) for bar in ax.patches)
    for classes in (None, ["dog", "cat"], ["cat", "dog"]):
        ax = plot_concept_histogram(W, y, "snow", concepts=names, classes=classes)
        drawn = classes or ["bird", "cat", "dog"]
        for bars, cls in zip(ax.containers, drawn, strict=True):
            assert same_color(bars[0].get_facecolor(), colour[cls])
        ax = plot_concept_prevalence(profiles, "snow", classes=classes)
        bars = [p for p in ax.patches if p.get_height() > 0]
        assert [same_color(b.get_facecolor(), colour[c]) for b, c in zip(bars, drawn)] == [
            True
        ] * len(drawn)
    # of more than 10 labels the colours repeat: a histogram of two classes of one colour
    # draws them in two
    y12 = np.repeat([f"k{i:02d}" for i in range(12)], 5)
    ax = plot_concept_histogram(W, y12, "snow", concepts=names, classes=["k00", "k10"])
    first, second = (bars[0].get_facecolor() for bars in ax.containers)
    assert not same_color(first, second)
    with pytest.raises(ValueError, match=r"; did you mean 'dog'\?$"):
        plot_concept_histogram(W, y, "snow", concepts=names, classes=["Dog"])


@pytest.mark.parametrize("statistic", ["prevalence", "mean_weight"])
def test_empty_profiles_and_decompositions_have_a_legend_and_axis_that_fit(statistic):
    """A class without concepts: its legend swatch was C0 (blue), the colour of an empty
    bar container, not its bars' C1; an empty decomposition (or mean weight profile)
    ran its axis from 0 to 0.055."""
    from matplotlib.colors import same_color

    Z = np.zeros((9, 3))
    Z[:3, 0] = 1
    empty = concept_profiles(Z, np.repeat([0, 1, 2], 3), list("abc"))
    ax = plot_class_profile(empty, 2, statistic=statistic)
    swatch = ax.get_legend().legend_handles[0]
    assert same_color(swatch.get_facecolor(), "C2")  # (the third class's colour)
    assert ax.get_xlim() == (0.0, 1.0)
    # a class with bars: its bars' colour
    ax = plot_class_profile(empty, 0, statistic=statistic)
    full = ax.get_legend().legend_handles[0]
    assert same_color(full.get_facecolor(), "C0")
    assert all(same_color(bar.get_facecolor(), "C0") for bar in ax.patches)
    ax = plot_decomposition(np.zeros(len(NAMES)), NAMES)
    assert ax.get_xlim() == (0.0, 1.0)


@pytest.mark.parametrize(
    "sizes",
    [(1, 9, 20), (2, 19, 19), (1, 29), (1, 1, 28), (3, 3), (1, 9, 1), (1, 10, 1), (1, 1, 5)],
)
def test_probe_labels_are_refused_exactly_where_scikit_learns_cross_validation_fails(sizes):
    # (the refusal once also took labels scikit-learn scores, such as (1, 1, 28))
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from sksplice.plotting import _check_probe_labels

    y = np.concatenate([[f"c{i}"] * n for i, n in enumerate(sizes)])
    X = np.random.default_rng(0).normal(size=(y.shape[0], 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the least populated class; failed fits)
        try:
            scored = np.isfinite(cross_val_score(LogisticRegression(), X, y, cv=5)).all()
        except ValueError:
            scored = False
        try:
            _check_probe_labels(y, LogisticRegression(), 5)
            accepted = True
        except ValueError:
            accepted = False
    assert accepted == scored


def test_class_profile_ties_are_broken_by_the_other_statistic():
    # A class of one sample: every concept it holds has prevalence 1.0, and the bars
    # shown were the first concepts in column order, the weakest among them.
    import matplotlib.pyplot as plt

    W = np.array(
        [[0.01, 0.0, 0.3, 0.02, 0.2], [0.4, 0.4, 0.0, 0.0, 0.2], [0.0, 0.3, 0.0, 0.0, 0.2]]
    )
    names = ["mosque", "dog", "pasture", "tiny", "horse"]
    profiles = concept_profiles(W, ["one", "two", "two"], concepts=names)
    ax = plot_class_profile(profiles, "one", k=2)
    assert _ticklabels(ax)[::-1] == ["pasture", "horse"]  # largest first (top)
    plt.close(ax.figure)
    ax = plot_class_profile(profiles, "two", k=3, statistic="mean_weight")
    assert _ticklabels(ax)[::-1] == ["dog", "horse", "mosque"]  # (0.2 each: by prevalence)
    plt.close(ax.figure)


def test_class_profile_bars_carry_their_exact_95_percent_intervals(labelled):
    # every concept of a class of one sample is at 1.0, as long as a bar of 300 of 300:
    # the interval shows how little it says
    W, y = labelled
    y = np.array(["woman", "woman", "man", "man", "bird"])
    ax = plot_class_profile(concept_profiles(W, y, NAMES), "bird")
    assert [b.get_width() for b in _bars(ax)] == pytest.approx([1.0, 1.0])
    (intervals,) = ax.containers[1:]
    (segments,) = intervals.lines[2]
    spans = [(float(a[0][0]), float(a[1][0])) for a in segments.get_segments()]
    one = binomtest(1, 1).proportion_ci(method="exact")
    np.testing.assert_allclose(spans, [(one.low, one.high)] * 2, atol=1e-12)
    assert spans[0][0] == pytest.approx(0.025, abs=1e-4)
    assert [t.get_text() for t in ax.get_legend().get_texts()][2] == "95% interval (per bar)"
    # a mean weight has no such interval
    ax = plot_class_profile(concept_profiles(W, y, NAMES), "bird", statistic="mean_weight")
    assert len(ax.containers) == 1 and len(ax.get_legend().get_texts()) == 2


def _boxes(ax):
    """The window extents of the title and the legend of ``ax``, as drawn."""
    return [ax.title.get_window_extent(), ax.get_legend().get_window_extent()]


def test_class_profiles_in_a_row_of_subplots_keep_to_their_own_column():
    # a long class name's title and legend took the whole figure's width as their room:
    # a constrained layout shrank every axes to make room for them, and without a layout
    # they ran over the neighbouring subplots
    rng = np.random.default_rng(0)
    names = ["dog", "grass", "ball", "cat leaping over a tall fence", "water", "sand"]
    W = (rng.random((41, 6)) < 0.6) * rng.random((41, 6))
    classes = ["golden retrievers in the park", "cats sleeping on sofas", "one lonely bird"]
    y = np.repeat(classes, [30, 10, 1])
    profiles = concept_profiles(W, y, names)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (laid out with room: nothing to warn about)
        for ax, cls in zip(axes, classes, strict=True):
            plot_class_profile(profiles, cls, ax=ax, k=4)
    _drawn(axes[0])
    widths = [ax.bbox.width for ax in axes]
    assert min(widths) > 0.12 * fig.bbox.width  # (they were 1% of it: 11 pixels of 1000)
    for left, right in itertools.pairwise(axes):
        for a in _boxes(left):
            for b in _boxes(right):
                assert not a.overlaps(b)
    assert all(t.get_window_extent().x0 >= 0 for ax in axes for t in ax.get_yticklabels())
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))  # (no layout: names run over)
    for ax, cls in zip(axes, classes, strict=True):
        plot_class_profile(profiles, cls, ax=ax, k=4)
    with pytest.warns(UserWarning, match=r"layout=\"constrained\""):
        fig.savefig(io.BytesIO())  # (said when drawn)
    plt.close(fig)


def test_sizes_that_disagree_with_the_prevalences_draw_no_negative_whisker(labelled):
    # (a table edited by hand: the interval, from the counts and sizes, may leave the
    # bar outside it; matplotlib refused negative error lengths)
    W, y = labelled
    profiles = concept_profiles(W, y, NAMES)
    profiles.attrs["n_samples"] = {**profiles.attrs["n_samples"], "woman": 30}
    ax = plot_class_profile(profiles, "woman")
    (intervals,) = ax.containers[1:]
    assert len(intervals.lines[2][0].get_segments()) == len(_bars(ax))
    plot_concept_prevalence(profiles, "bikini")


def test_class_profiles_side_by_side_have_legends_and_titles_alike():
    """The layout the docs suggest, `plt.subplots(1, 3, layout="constrained")`: the first
    panel, drawn while its neighbours were empty, got a legend of one row, the others one
    entry a row, and the titles of the row stood at different heights."""
    rng = np.random.default_rng(0)
    y = np.repeat(["cat", "dog", "horse", "bird"], [120, 120, 4, 60])
    W = rng.random((304, 30)) * (rng.random((304, 30)) < 0.3)
    profiles = concept_profiles(W, y, [f"concept number {j}" for j in range(30)])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, layout="constrained")
    for ax, cls in zip(axes, ["cat", "dog", "horse"], strict=True):
        plot_class_profile(profiles, cls, k=8, ax=ax)
    _drawn(axes[0])
    assert len({ax.get_legend()._ncols for ax in axes}) == 1
    heights = [ax.title.get_window_extent().y0 for ax in axes]
    assert max(heights) - min(heights) < 1.0
    plt.close(fig)
    # alone, the legend keeps to one row
    ax = plot_class_profile(profiles, "cat", k=8)
    assert ax.get_legend()._ncols == 3


def test_shift_labels_keep_off_the_points_that_are_not_significant():
    # A label written over a grey point (not significant) beside it read as two labels,
    # its second half naming the grey point.
    n = 100
    W_a, W_b = np.zeros((n, 3)), np.zeros((n, 3))
    W_b[:12, 0] = 0.1  # (0, 0.12): significant, its label ran right ...
    W_a[:4, 1] = W_b[:12, 1] = 0.1  # (0.04, 0.12): ... over this one, not significant
    W_a[:5, 2] = W_b[:11, 2] = 0.1  # (0.05, 0.11): nor this one
    names = ["a concept with a long name", "plain", "other"]
    shift = compare_datasets(W_a, W_b, concepts=names)
    assert shift["significant"].tolist() == [True, False, False]
    ax = plot_dataset_shift(shift, k=3)
    _drawn(ax)
    (label,) = [t for t in ax.texts if t.get_text().startswith("a concept")]
    box = label.get_window_extent()
    grey = ax.transData.transform(shift.loc[["plain", "other"], ["prevalence_a", "prevalence_b"]])
    margin = 1.6 * ax.figure.dpi / 72.0  # (a grey marker's radius)
    covered = (
        (grey[:, 0] > box.x0 - margin)
        & (grey[:, 0] < box.x1 + margin)
        & (grey[:, 1] > box.y0 - margin)
        & (grey[:, 1] < box.y1 + margin)
    )
    assert not covered.any(), (box, grey)


@pytest.mark.skipif(
    tuple(int(part) for part in matplotlib.__version__.split(".")[:2]) < (3, 11),
    reason="before matplotlib 3.11 the legend of the best place covers a point here",
)
def test_the_tradeoff_legend_covers_no_point():
    # The legend sat in the lower right corner whatever was there: with a centre-alone
    # baseline above every cosine, the points of the longest codes lay under it.
    import pandas as pd

    frames = {}
    for label, shift in (("1k words", 0.0), ("10k words", 0.03)):
        frame = pd.DataFrame({
            "l1_penalty": [0.05, 0.1, 0.2, 0.3],
            "mean_l0": [40.0, 22.0, 11.0, 5.0],
            "cosine": np.array([0.3, 0.22, 0.14, 0.08]) + shift,
        })  # fmt: skip
        frame.attrs["baseline_cosine"] = 0.97
        frames[label] = frame
    ax = plot_sparsity_tradeoff(frames)
    _drawn(ax)
    box = ax.get_legend().get_window_extent()
    for label, frame in frames.items():
        for x, y in ax.transData.transform(frame[["mean_l0", "cosine"]].to_numpy()):
            assert not box.padded(4).contains(x, y), (label, x, y)


def test_plot_decomposition_of_a_series_indexed_by_numbers_asks_for_names():
    row = pd.Series([0.0, 0.4, 0.1])  # (a row of pd.DataFrame(W.toarray()))
    with pytest.raises(ValueError, match=r"carry no concept names.*its index \(0, 1, 2\) are not"):
        plot_decomposition(row)
    ax = plot_decomposition(row, concepts=["a", "b", "c"])
    assert {t.get_text() for t in ax.get_yticklabels()} == {"b", "c"}
    plt.close("all")
