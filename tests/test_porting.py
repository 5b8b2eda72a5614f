"""Porting fidelity: code and data from the authors' SpLiCE package give the same answers.

Everything runs on MiniLM sentence embeddings standing in for CLIP embeddings and
on the authors' vocabulary files (skipped where ../shared/data/splice is absent).
"""

from __future__ import annotations

import numpy as np
import pytest

from sksplice.dictionary import build_dictionary, clear_memory_cache
from sksplice.transformer import SpliceTransformer
from sksplice.vocabulary import load_vocabulary

from .test_docs import _load


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture(scope="module")
def background(minilm):
    module = _load("migrating_equivalence")
    return _unit(minilm.embed_text(module.BACKGROUND))


# ------------------------------------------------------ the migration guide
def test_migration_guide_equivalences_hold_to_1e_6(splice_data_dir, minilm, laion_minilm):
    module = _load("migrating_equivalence")
    concepts, embeddings = laion_minilm
    diffs = module.run(str(splice_data_dir), minilm, concepts, embeddings)
    expected = {
        "vocabulary",
        "dictionary",
        "centred targets",
        "weights",
        "recomposition",
        "cosine (batch sum)",
        "cosine (mean)",
        "intervention",
        "dataset mean weights",
        "class mean weights",
        "dataset l0",
        "text weights",
        "text recomposition",
    }
    assert set(diffs) == expected
    too_far = {name: diff for name, diff in diffs.items() if not diff <= 1e-6}
    assert too_far == {}


# ------------------------------------- the default path against the authors' recipe
def test_named_vocabulary_embedded_by_open_clip_decomposes_as_the_authors_recipe(
    splice_data_dir, tiny_clip_model
):
    """The path a user takes (a named vocabulary embedded by an open_clip text tower,
    images centred by a fixed mean) against the authors' steps written out: the last k
    lines of their file, each embedded on its own by ``encode_text``, normalised,
    centred by their mean and normalised again; each image normalised, centred and
    normalised; a non-negative lasso per image."""
    import open_clip
    import torch
    from sklearn.linear_model import Lasso

    from sksplice import CLIPEmbedder
    from sksplice._models import _load_model

    k, penalty = 300, 0.25
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text", device="cpu")
    model = _load_model(embedder._config()).model  # (the random weights the embedder uses)
    rng = np.random.default_rng(0)
    d = int(model.text_projection.shape[1])
    mean = 0.3 * _unit(rng.normal(size=d))  # (a published mean has a norm below 1)
    X = mean + 0.2 * rng.normal(size=(6, d))
    splice = SpliceTransformer(
        embedder,
        vocabulary="laion",
        vocabulary_size=k,
        data_home=splice_data_dir,
        image_mean=mean,
        l1_penalty=penalty,
        device="cpu",
    ).fit(X)

    lines = (splice_data_dir / "vocab" / "laion.txt").read_text(encoding="utf-8").splitlines()
    words = [line.strip() for line in lines[-k:]]
    tokenizer = open_clip.get_tokenizer(tiny_clip_model)
    with torch.no_grad():
        C = np.concatenate([model.encode_text(tokenizer([w])).numpy() for w in words])
    C = _unit(C)
    D = _unit(C - C.mean(axis=0))
    V = _unit(_unit(X) - mean)
    theirs = np.stack(
        [
            Lasso(alpha=penalty / (2 * d), positive=True, fit_intercept=False, tol=1e-12)
            .fit(D.T, v)
            .coef_
            for v in V
        ]
    )
    assert list(splice.concepts_) == words[::-1]  # most frequent first: columns reversed
    np.testing.assert_allclose(splice.dictionary_[::-1], D, atol=1e-5)
    W = splice.transform(X).toarray()[:, ::-1]
    assert (theirs > 0).sum() >= 6  # (a problem with concepts in it)
    np.testing.assert_allclose(W, theirs, atol=1e-5)
    np.testing.assert_array_equal(W > 1e-4, theirs > 1e-4)


# ------------------------------------------- concept arrays of a named vocabulary
def test_full_vocabulary_array_is_accepted_and_the_right_rows_kept(splice_data_dir):
    n_full = len(load_vocabulary("laion", size=None, data_home=splice_data_dir))
    assert n_full == 37445
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(n_full, 8))
    X = rng.normal(size=(5, 8))
    kwargs = {"vocabulary": "laion", "data_home": splice_data_dir, "device": "cpu"}
    full = SpliceTransformer(concept_embeddings=raw, vocabulary_size=300, **kwargs).fit(X)
    exact = SpliceTransformer(concept_embeddings=raw[:300], vocabulary_size=300, **kwargs).fit(X)
    np.testing.assert_array_equal(full.dictionary_, build_dictionary(raw[:300])[0])
    np.testing.assert_array_equal(full.dictionary_, exact.dictionary_)
    assert list(full.concepts_[:3]) == ["-", "of", "the"]
    with pytest.raises(ValueError, match=r"301 rows.*300 \(the concepts kept\) or 37445 \(all\)"):
        SpliceTransformer(concept_embeddings=raw[:301], vocabulary_size=300, **kwargs).fit(X)


def test_concept_rows_are_spot_checked_against_their_names(
    splice_data_dir, minilm, laion_minilm, background
):
    _, embeddings = laion_minilm
    kwargs = {
        "vocabulary": "laion",
        "data_home": splice_data_dir,
        "l1_penalty": 0.25,
        "image_mean": background.mean(axis=0),
        "device": "cpu",
    }
    X = minilm.embed_text(["a man riding a horse on a beach"])
    calls = minilm.n_texts
    splice = SpliceTransformer(minilm, concept_embeddings=embeddings, **kwargs).fit(X)
    assert minilm.n_texts - calls <= 8  # a few concepts embedded, not the vocabulary
    top = [name for name, _ in splice.top_concepts(X, k=6)[0]]
    assert "horse" in top and ("beach" in top or "beaches" in top), top
    # The same rows in the authors' order (least frequent first) are refused with a hint.
    with pytest.raises(ValueError, match=r"row 0 does not hold the embedding of concept '-'.*"):
        SpliceTransformer(minilm, concept_embeddings=embeddings[::-1], **kwargs).fit(X)
    with pytest.raises(ValueError, match=r"authors' order.*order='authors'"):
        SpliceTransformer(minilm, concept_embeddings=embeddings[::-1], **kwargs).fit(X)
    # Rows shifted by one: refused, without the hint about the authors' order.
    shifted = np.roll(embeddings, 1, axis=0)
    with pytest.raises(ValueError, match="does not hold the embedding") as info:
        SpliceTransformer(minilm, concept_embeddings=shifted, **kwargs).fit(X)
    assert "authors' order" not in str(info.value)
    # In the authors' order with their names, the same decomposition, columns reversed.
    authors = SpliceTransformer(
        minilm,
        vocabulary=load_vocabulary("laion", 10000, splice_data_dir, order="authors"),
        concept_embeddings=embeddings[::-1],
        l1_penalty=0.25,
        image_mean=background.mean(axis=0),
        device="cpu",
    ).fit(X)
    np.testing.assert_allclose(
        authors.transform(X).toarray()[:, ::-1], splice.transform(X).toarray(), atol=1e-6
    )


def test_authors_centred_dictionary_is_not_centred_twice(splice_data_dir, minilm, laion_minilm):
    concepts, embeddings = laion_minilm
    k = 2000
    C = _unit(embeddings[:k])
    theirs = _unit(C - C.mean(axis=0))  # what their cached dictionary holds
    X = minilm.embed_text(["a red sports car parked on a street", "a cat sleeping on a sofa"])
    kwargs = {"vocabulary": concepts[:k], "l1_penalty": 0.25, "device": "cpu"}
    twice = SpliceTransformer(concept_embeddings=theirs, **kwargs).fit(X)
    once = SpliceTransformer(concept_embeddings=theirs, concepts_centered=True, **kwargs).fit(X)
    np.testing.assert_allclose(once.dictionary_, theirs, atol=1e-12)
    np.testing.assert_array_equal(once.concept_mean_, np.zeros(C.shape[1]))
    # Centring the centred rows again moves them: not the authors' dictionary.
    # (for these 2,000 MiniLM words by 8.8e-4 at most, far beyond the 1e-6 of the guide)
    assert np.abs(twice.dictionary_ - theirs).max() > 1e-4
    moved = np.abs(twice.transform(X).toarray() - once.transform(X).toarray()).max()
    assert moved > 1e-6
    raw = SpliceTransformer(concept_embeddings=embeddings[:k], **kwargs).fit(X)
    np.testing.assert_allclose(once.dictionary_, raw.dictionary_, atol=1e-6)
    np.testing.assert_allclose(once.transform(X).toarray(), raw.transform(X).toarray(), atol=1e-6)
    with pytest.raises(ValueError, match="row 0 has norm"):
        SpliceTransformer(concept_embeddings=2 * theirs, concepts_centered=True, **kwargs).fit(X)
    with pytest.raises(ValueError, match="concept_embeddings is None"):
        SpliceTransformer(minilm, concepts_centered=True, **kwargs).fit(X)


# ------------------------------------------------------------- text modality
def test_text_modality_centres_captions_by_the_text_mean(laion_minilm, minilm, background):
    concepts, embeddings = laion_minilm
    captions = ["a dog running on the beach", "a train arriving at a station"]
    T = minilm.embed_text(captions)
    kwargs = {
        "vocabulary": concepts[:5000],
        "concept_embeddings": embeddings[:5000],
        "l1_penalty": 0.25,
        "device": "cpu",
    }
    learned = SpliceTransformer(modality="text", **kwargs).fit(background)
    np.testing.assert_allclose(learned.mean_, background.mean(axis=0), atol=1e-12)
    given = SpliceTransformer(modality="text", text_mean=background.mean(axis=0), **kwargs).fit(T)
    np.testing.assert_allclose(given.mean_, learned.mean_, atol=1e-12)
    tops = [[name for name, _ in row] for row in given.top_concepts(T, k=5)]
    assert "dog" in tops[0] and "beach" in tops[0]
    assert "train" in tops[1] or "station" in tops[1]
    from_concepts = SpliceTransformer(modality="text", text_mean="concepts", **kwargs).fit(T)
    np.testing.assert_array_equal(from_concepts.mean_, from_concepts.concept_mean_)
    # Same checks as image_mean.
    with pytest.raises(ValueError, match=r"text_mean has shape \(3,\) but.*d=384"):
        SpliceTransformer(modality="text", text_mean=np.zeros(3), **kwargs).fit(T)
    with pytest.raises(ValueError, match="text_mean must be None, 'concepts', an array"):
        SpliceTransformer(modality="text", text_mean="pretrained", **kwargs).fit(T)
    with pytest.raises(ValueError, match="image_mean is the centre of image embeddings"):
        SpliceTransformer(modality="text", image_mean="pretrained", **kwargs).fit(T)
    with pytest.raises(ValueError, match="text_mean is only used with modality='text'"):
        SpliceTransformer(text_mean=background.mean(axis=0), **kwargs).fit(T)
    with pytest.raises(ValueError, match="modality must be 'image' or 'text'"):
        SpliceTransformer(modality="audio", **kwargs).fit(T)
