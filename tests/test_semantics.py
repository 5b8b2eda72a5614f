"""Real semantics: MiniLM decompositions of phrases over the LAION vocabulary.

These tests run the user-guide example (docs/examples/transformer_minilm.py),
so the example and the numbers quoted in docs/transformer.md cannot rot.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from sksplice.dictionary import clear_memory_cache, l2_normalize
from sksplice.solvers import NonNegLasso
from sksplice.transformer import SpliceTransformer

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "transformer_minilm.py"
TARGET_L0 = 8.0


def _load_example():
    spec = importlib.util.spec_from_file_location("transformer_minilm_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return _load_example()


@pytest.fixture(scope="module")
def decomposition(laion_minilm, minilm, example, tmp_path_factory):
    concepts, embeddings = laion_minilm
    splice, top, table = example.run(
        list(concepts),
        minilm,
        concept_embeddings=embeddings,
        cache_home=tmp_path_factory.mktemp("sksplice_home"),
        target_l0=TARGET_L0,
        echo=False,
    )
    X = minilm.embed_text(list(example.PHRASES))
    return splice, top, table, X


def test_example_vocabulary_matches_the_fixture(laion_minilm, splice_data_dir, example):
    from sksplice.vocabulary import load_vocabulary

    concepts, _ = laion_minilm
    assert load_vocabulary("laion", size=10000, data_home=splice_data_dir) == list(concepts)
    for words in example.PHRASES.values():
        assert set(words) <= set(concepts)


def test_text_centre_is_learned_from_text(decomposition, example, minilm):
    splice, _, _, _ = decomposition
    background = minilm.embed_text(example.background_phrases())
    np.testing.assert_allclose(splice.mean_, l2_normalize(background).mean(axis=0), atol=1e-5)
    # Sentence embeddings share a large common direction: the centre is far from 0.
    assert np.linalg.norm(splice.mean_) > 0.3


def test_phrases_name_their_parts(decomposition, example):
    _, top, _, _ = decomposition
    names = {phrase: [c for c, _ in pairs] for phrase, pairs in zip(example.PHRASES, top)}
    for phrase, words in example.PHRASES.items():
        found = [w for w in words if w in names[phrase]]
        # at least half of each phrase's words are among its 5 top concepts
        assert len(found) >= len(words) / 2, (phrase, names[phrase])
    assert set(names["a red car"][:2]) == {"red", "car"}
    assert set(names["a bowl of fruit"][:2]) == {"bowl", "fruit"}
    assert set(names["snow on a mountain"][:2]) == {"snow", "mountain"}
    assert {"yellow", "flower", "garden"} <= set(names["a yellow flower in a garden"])
    # Unrelated phrases are explained by unrelated concepts.
    assert not set(names["a red car"]) & set(names["a dog on the beach"])
    # Weights are positive and sorted.
    for pairs in top:
        weights = [w for _, w in pairs]
        assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)


def test_transform_is_the_splice_problem_on_real_data(decomposition):
    splice, _, _, X = decomposition
    W = splice.transform(X).toarray()
    V = l2_normalize(l2_normalize(X) - splice.mean_)
    direct = NonNegLasso(splice.dictionary_, device="cpu").solve(V, splice.l1_penalty_)
    np.testing.assert_allclose(W, direct.to_dense(), atol=1e-5)
    assert splice.l1_penalty_ > 0 and 3 <= splice.l0(W) <= 15
    assert splice.score(X) > 0.75


def test_every_ablation_variant_has_the_same_sparsity(decomposition):
    _, _, table, _ = decomposition
    for name, metrics in table.items():
        assert abs(metrics["l0"] - TARGET_L0) <= 0.1 * TARGET_L0, name


def test_modality_centring_helps(decomposition):
    _, _, table, _ = decomposition
    splice, raw = table["splice"], table["no_centring"]
    # Recomposition fidelity at equal sparsity (measured: 0.82 against 0.74).
    assert splice["cosine"] >= raw["cosine"] + 0.05
    # The phrases' own words are found at least as often.
    assert splice["recovery"] >= raw["recovery"]
    assert splice["recovery"] >= 0.9


def test_non_negativity_helps(decomposition):
    _, _, table, _ = decomposition
    splice, signed = table["splice"], table["signed"]
    # Without the constraint a large share of the weights is negative ...
    assert signed["negative"] >= 0.15
    assert splice["negative"] == 0.0
    # ... and the named concepts are much less related to the phrase
    # (measured relevance: 0.47 against 0.38) ...
    assert splice["relevance"] >= signed["relevance"] + 0.05
    # ... for no gain in fidelity or in recovered words.
    assert splice["cosine"] >= signed["cosine"] - 0.02
    assert splice["recovery"] >= signed["recovery"]


def test_text_decomposition_through_the_embedder(minilm, example, tmp_path):
    clear_memory_cache()
    vocabulary = [
        "red",
        "blue",
        "green",
        "car",
        "truck",
        "dog",
        "cat",
        "horse",
        "beach",
        "mountain",
        "snow",
        "kitchen",
        "table",
        "garden",
        "flower",
        "sky",
        "airplane",
        "boat",
        "lake",
        "music",
        "computer",
        "money",
        "city",
        "forest",
        "night",
        "child",
        "football",
        "bird",
    ]
    background = minilm.embed_text(example.background_phrases(100))
    calls = minilm.n_calls
    splice = SpliceTransformer(
        embedder=minilm, vocabulary=vocabulary, l1_penalty=0.3, cache_dir=tmp_path, device="cpu"
    ).fit(background)
    assert minilm.n_calls == calls + 1
    clone(splice).fit(background)  # the embedded vocabulary is reused
    assert minilm.n_calls == calls + 1
    top = splice.top_concepts(minilm.embed_text(["a red car", "a dog on the beach"]), k=3)
    assert {"red", "car"} <= {c for c, _ in top[0]}
    assert {"dog", "beach"} <= {c for c, _ in top[1]}
    assert any((tmp_path / "dictionaries").glob("*minilm-l6-v2-28-*.npz"))
