"""How often the table of every class's concepts lists chance findings, by adjustment.

``rank_each_class`` (behind ``sksplice profile`` and ``sksplice report``) tests every
concept of every class against the rest. Three ways to adjust its p-values for a
false discovery rate (Benjamini-Hochberg) are compared on simulated datasets whose
concepts have the prevalences of a real decomposition (MiniLM captions of
``shift_snow.py`` over the 10,000 LAION words):

* **each class**: each class's concepts on their own (as ``rank_concepts`` does);
* **together**: all the table's tests as one family;
* **two levels** (what ``rank_each_class`` does): each class as a whole first (the
  smallest of its own adjusted p-values, adjusted over the classes), then the concepts
  of the classes that differ, at ``alpha x differing / classes``.

Two scenarios, each over ``--datasets`` simulated datasets:

1. 20 classes of 100 images and no difference at all: how often is some concept listed
   as significant in some class?
2. Two classes of 120 images that differ in 200 concepts (each in 10% of one class's
   images and in 30% to 90% of the other's, evenly spread), the other concepts at their
   prevalences in every image alike, and a class of one image: how often is a concept
   of the one-image class listed, and what share of the 200 true differences is found?

Run it from the repository root (it embeds the vocabulary with MiniLM on its first run,
about a minute on 2 cores, then reads it from the cache)::

    python docs/examples/analysis_false_discoveries.py --datasets 200
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sksplice.analysis import rank_each_class

ALPHA = 0.05
_WAYS = ("each class", "together", "two levels")


def _names(W: np.ndarray) -> list[str]:
    """Concepts named by their column: ``"0"``, ``"1"``, ..."""
    return [str(j) for j in range(W.shape[1])]


def prevalences(embedder: Any = None, data_home: Any = None) -> np.ndarray:
    """The prevalence of each concept present in the decomposition of the 600 captions of
    ``shift_snow.py`` (MiniLM, the 10,000 LAION words, ``l1_penalty`` 0.25)."""
    if str(Path(__file__).parent) not in sys.path:  # (the example beside this one)
        sys.path.insert(0, str(Path(__file__).parent))
    import shift_snow

    from sksplice.transformer import SpliceTransformer

    texts = [t for frame in shift_snow.collections().values() for t in frame["text"]]
    embedder = embedder if embedder is not None else shift_snow.minilm()
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary="laion",
        vocabulary_size=10000,
        modality="text",
        text_mean="concepts",
        l1_penalty=0.25,
        data_home=data_home,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (MiniLM embeds some concepts alike: said elsewhere)
        W = splice.fit_transform(embedder.embed_text(texts))
    present = np.asarray((W != 0).mean(axis=0)).ravel()
    return present[present > 0]


def _three_ways(ranking: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``significant`` column of ``ranking`` (``rank_each_class``'s, in two levels)
    and as the two other adjustments would give it."""
    p = ranking["p_value"].to_numpy()
    each = ranking.groupby("class", sort=False)["p_value"].transform(
        lambda q: stats.false_discovery_control(q.to_numpy(), method="bh")
    )
    return {
        "each class": each.to_numpy() < ALPHA,
        "together": stats.false_discovery_control(p, method="bh") < ALPHA,
        "two levels": ranking["significant"].to_numpy(),
    }


def no_difference(prevalence: np.ndarray, n_datasets: int, seed: int = 0) -> dict[str, float]:
    """Scenario 1: the share of datasets of 20 classes of 100 images without any
    difference in which some concept is listed in some class."""
    rng = np.random.default_rng(seed)
    y = np.repeat([f"class {k:02d}" for k in range(20)], 100)
    listed = dict.fromkeys(("each class", "together", "two levels"), 0)
    for _ in range(n_datasets):
        W = (rng.random((y.size, prevalence.size)) < prevalence).astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranking = rank_each_class(W, y, _names(W))
        for way, significant in _three_ways(ranking).items():
            listed[way] += bool(significant.any())
    return {way: count / n_datasets for way, count in listed.items()}


def one_image_class(
    prevalence: np.ndarray, n_datasets: int, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Scenario 2: the share of datasets in which a concept of the one-image class is
    listed, and the mean share of the 200 true differences found."""
    rng = np.random.default_rng(seed)
    y = np.array(["a"] * 120 + ["b"] * 120 + ["lone"])
    favoured = np.tile(np.linspace(0.3, 0.9, 100), 2)
    in_a = np.where(np.arange(200) < 100, favoured, 0.1)
    in_b = np.where(np.arange(200) < 100, 0.1, favoured)
    out = {way: {"lone listed": 0.0, "true found": 0.0} for way in _WAYS}
    for _ in range(n_datasets):
        strong = np.zeros((y.size, 200))
        strong[:120] = rng.random((120, 200)) < in_a
        strong[120:240] = rng.random((120, 200)) < in_b
        # the other concepts, at their prevalences, in every image alike
        rest = rng.random((y.size, prevalence.size)) < prevalence
        W = np.hstack([strong, rest]).astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranking = rank_each_class(W, y, _names(W))
        index = ranking["concept"].to_numpy().astype(np.int64)
        in_row_class = ranking["class"].to_numpy()
        true = (index < 200) & (
            ((in_row_class == "a") & (index < 100)) | ((in_row_class == "b") & (index >= 100))
        )
        for way, significant in _three_ways(ranking).items():
            out[way]["lone listed"] += bool(significant[in_row_class == "lone"].any())
            out[way]["true found"] += np.count_nonzero(significant & true) / 200
    return {
        way: {key: value / n_datasets for key, value in counts.items()}
        for way, counts in out.items()
    }


def main(n_datasets: int, data_home: Any = None) -> pd.DataFrame:
    """Run both scenarios and return their table (one row per adjustment)."""
    prevalence = prevalences(data_home=data_home)
    first = no_difference(prevalence, n_datasets)
    second = one_image_class(prevalence, n_datasets)
    table = pd.DataFrame(
        {
            "no difference: some class lists a concept": first,
            "one-image class lists a concept": {w: v["lone listed"] for w, v in second.items()},
            "true differences found": {w: v["true found"] for w, v in second.items()},
        }
    ).loc[list(_WAYS)]
    table.attrs["concepts"] = int(prevalence.size)
    return table


if __name__ == "__main__":  # pragma: no cover - command-line entry
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=200, help="datasets per scenario")
    parser.add_argument("--data-home", default=None, help="where the LAION vocabulary is")
    args = parser.parse_args()
    result = main(args.datasets, args.data_home)
    print(f"{result.attrs['concepts']} concepts present; {args.datasets} datasets each")
    print(result.to_string(float_format="{:.3f}".format))
