"""Behaviour that needs neither the authors' reference files nor a download.

Vocabularies are lists or files written to ``tmp_path``; a published
vocabulary is stood in for by registering a small file under a published name
with its own pin; concept rows come from the deterministic fake embedders of
``_helpers_transformer``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch

from sksplice._array import unit_rows
from sksplice._data import file_sha256
from sksplice._download import RemoteFile
from sksplice.transformer import SmallMeanSampleWarning, SpliceTransformer
from sksplice.vocabulary import (
    IMAGE_MEANS,
    VOCABULARIES,
    as_mean_vector,
    authors_index_to_concept,
    load_image_mean,
    load_vocabulary,
)

try:  # whether or not tests/ is a package
    from ._helpers_data import block_network
    from ._helpers_transformer import CountingEmbedder, random_vocabulary
except ImportError:
    from _helpers_data import block_network
    from _helpers_transformer import CountingEmbedder, random_vocabulary

DIM = 16

# Most fits here learn the image centre from a few rows on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sksplice.transformer.SmallMeanSampleWarning")


@pytest.fixture(autouse=True)
def _isolated(isolated_folders, monkeypatch):
    block_network(monkeypatch)
    CountingEmbedder.reset()


def _problem(n_concepts=12, n_samples=30, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n_concepts, DIM))
    X = rng.normal(size=(n_samples, DIM)) + 0.5
    return random_vocabulary(n_concepts), raw, X


def _make(concepts, raw, **kwargs):
    kwargs.setdefault("device", "cpu")
    return SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, **kwargs)


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


# ------------------------------------------------------------- parameter checks


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"solver": 3}, TypeError, r"solver must be one of .*got 3 \(int\)"),
        ({"solver": "newton"}, ValueError, "solver must be one of .*got 'newton'"),
        ({"verbose": "yes"}, TypeError, r"verbose must be a bool or an int, got 'yes' \(str\)"),
        ({"modality": "audio"}, ValueError, "modality must be 'image' or 'text', got 'audio'"),
        ({"modality": None}, TypeError, "modality must be 'image' or 'text', got None"),
        (
            {"modality": "text", "text_mean": "captions"},
            ValueError,
            "text_mean must be None, 'concepts', an array or a pathlib.Path of a .npy/.pt file; "
            "got 'captions'",
        ),
        (
            {"modality": "text", "image_mean": np.zeros(DIM)},
            ValueError,
            "image_mean is the centre of image embeddings but modality='text'",
        ),
        (
            {"modality": "image", "text_mean": "concepts"},
            ValueError,
            "text_mean is only used with modality='text'",
        ),
        ({"concepts_centered": "yes"}, TypeError, "concepts_centered must be a bool, got 'yes'"),
    ],
)
def test_invalid_parameters_are_refused_before_embedding(params, error, match):
    concepts, _, X = _problem()
    embedder = CountingEmbedder(dim=DIM)
    splice = SpliceTransformer(embedder=embedder, vocabulary=concepts, device="cpu", **params)
    with pytest.raises(error, match=match):
        splice.fit(X)
    assert CountingEmbedder.n_calls == 0
    assert not hasattr(splice, "dictionary_")


def test_concepts_centered_needs_concept_embeddings():
    concepts, _, X = _problem()
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=concepts, concepts_centered=True
    )
    with pytest.raises(ValueError, match=r"concepts_centered=True .* concept_embeddings is None"):
        splice.fit(X)
    assert CountingEmbedder.n_calls == 0


@pytest.mark.parametrize("vocabulary", [b"laion", 42, object(), {"a"}])
def test_vocabulary_of_the_wrong_type(vocabulary):
    _, raw, X = _problem()
    with pytest.raises(TypeError, match="vocabulary must be a vocabulary name, a path"):
        _make(vocabulary, raw).fit(X)
    with pytest.raises(TypeError, match="an iterator is used up once: give a list"):
        _make(iter(["a", "b"]), raw[:2]).fit(X)


def test_vocabulary_as_a_pandas_column():
    # vocabulary=df["concept"] is what a pandas user writes
    concepts, raw, X = _problem()
    expected = _make(concepts, raw).fit(X)
    for column in (pd.Series(concepts, index=range(5, 5 + len(concepts))), pd.Index(concepts)):
        splice = _make(column, raw).fit(X)
        assert list(splice.get_feature_names_out()) == concepts
        np.testing.assert_array_equal(
            splice.transform(X).toarray(), expected.transform(X).toarray()
        )


def test_concept_embeddings_must_be_two_dimensional():
    concepts, raw, X = _problem()
    with pytest.raises(ValueError, match=r"2-D array \(n_concepts, d\); got shape \(192,\)"):
        _make(concepts, raw.ravel()).fit(X)


def test_concept_embeddings_must_be_real_numbers():
    concepts, raw, X = _problem()
    with pytest.raises(TypeError, match="concept_embeddings must be real numbers; got dtype"):
        _make(concepts, raw.astype(np.complex128)).fit(X)
    with pytest.raises(TypeError, match="concept_embeddings must be real numbers"):
        _make(concepts, raw.astype(str)).fit(X)


# --------------------------------------------------------- concepts_centered


def test_concepts_centered_uses_unit_rows_as_they_are():
    concepts, raw, X = _problem()
    rows = _unit(raw)
    splice = _make(concepts, rows, concepts_centered=True, l1_penalty=0.1).fit(X)
    np.testing.assert_allclose(splice.dictionary_, rows, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(splice.concept_mean_, np.zeros(DIM))
    # Not centred a second time: an uncentred fit of the same rows differs.
    other = _make(concepts, rows, l1_penalty=0.1).fit(X)
    assert not np.allclose(other.dictionary_, rows)
    assert splice.transform(X).shape == (X.shape[0], len(concepts))


def test_concepts_centered_refuses_rows_that_are_not_unit():
    concepts, raw, X = _problem()
    rows = _unit(raw)
    rows[3] *= 2.0
    with pytest.raises(ValueError, match=r"row 3 has norm 2\b.*concepts_centered=False"):
        _make(concepts, rows, concepts_centered=True).fit(X)
    # Within the tolerance a row is accepted and renormalised.
    rows[3] = _unit(raw[3]) * (1 + 1e-4)
    splice = _make(concepts, rows, concepts_centered=True).fit(X)
    np.testing.assert_allclose(np.linalg.norm(splice.dictionary_, axis=1), 1.0, rtol=1e-12)


def test_concepts_centered_names_a_non_finite_row():
    concepts, raw, X = _problem()
    rows = _unit(raw)
    rows[5, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"concept_embeddings hold NaN or infinite values in 1 row\(s\): 5"
    ):
        _make(concepts, rows, concepts_centered=True).fit(X)


# ----------------------------------------------- concept row order spot check


def _vocab_file(tmp_path, concepts):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(concepts) + "\n", encoding="utf-8")
    return path


def test_aligned_rows_of_a_vocabulary_file_pass_the_spot_check(tmp_path):
    concepts = random_vocabulary(20)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)
    CountingEmbedder.reset()
    path = _vocab_file(tmp_path, concepts)
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=path, concept_embeddings=raw, device="cpu"
    ).fit(np.random.default_rng(1).normal(size=(5, DIM)) + 0.3)
    assert list(splice.get_feature_names_out()) == concepts
    # One call embedding at most 8 concepts, not the whole vocabulary.
    assert CountingEmbedder.n_calls == 1
    assert CountingEmbedder.n_texts == 8


def test_rows_that_are_not_finite_are_refused_before_the_spot_check(tmp_path):
    # The spot check of the order loaded the model and embedded 8 concepts (numpy warning
    # of invalid values in divide and matmul) before the rows were found not finite.
    concepts = random_vocabulary(20)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)
    raw[7, 1] = np.inf
    CountingEmbedder.reset()
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=_vocab_file(tmp_path, concepts),
        concept_embeddings=raw,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # (numpy's invalid values)
        with pytest.raises(
            ValueError, match=r"^concept_embeddings hold NaN or infinite values in 1 row\(s\): 7$"
        ):
            splice.fit(np.ones((3, DIM)) + np.eye(3, DIM))
    assert CountingEmbedder.n_calls == 0


def test_reversed_rows_are_reported_as_the_authors_order(tmp_path):
    concepts = random_vocabulary(20)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)
    path = _vocab_file(tmp_path, concepts)
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=path, concept_embeddings=raw[::-1], device="cpu"
    )
    with pytest.raises(ValueError, match="reverse order") as info:
        splice.fit(np.ones((3, DIM)) + np.eye(3, DIM))
    message = str(info.value)
    assert "row 0 does not hold the embedding of concept 'concept000'" in message
    assert "concept_embeddings[::-1]" in message
    assert not hasattr(splice, "dictionary_")


class _LoadedEmbedder(CountingEmbedder):
    """A text model already loaded in this process, or not (``loaded``)."""

    loaded = True

    def _is_loaded(self) -> bool:
        return self.loaded


@pytest.mark.parametrize("where", ["loaded", "not loaded"])
def test_rows_of_a_list_vocabulary_are_checked_where_that_loads_no_model(where):
    # A list and the rows of its concepts in another order, with the embedder that made
    # them: accepted silently ("a dog on the beach" came out as 'cat', 'snow'). Checked
    # where the model is loaded in the process; a worker fitting a clone with the model
    # not loaded makes no model call, and asks not even for a cache key (an hf-hub:
    # model's needs its weights).
    concepts = random_vocabulary(20)
    embedder = _LoadedEmbedder(dim=DIM, key=f"list-order-{where}")
    embedder.loaded = where == "loaded"
    raw = embedder.embed_text(concepts)

    def no_key():
        raise AssertionError("the cache key was asked")

    embedder.cache_key = no_key
    _LoadedEmbedder.reset()
    X = np.random.default_rng(1).normal(size=(5, DIM)) + 0.3
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=concepts, concept_embeddings=raw[::-1], device="cpu"
    )
    if where == "not loaded":
        splice.fit(X)  # (the caller's promise, as documented)
        assert _LoadedEmbedder.n_calls == 0
        return
    with pytest.raises(ValueError, match="row 0 does not hold the embedding of concept"):
        splice.fit(X)
    assert _LoadedEmbedder.n_texts == 8
    _LoadedEmbedder.reset()
    splice.set_params(concept_embeddings=raw).fit(X)  # (in order: accepted)
    assert list(splice.get_feature_names_out()) == concepts


class _OfflineEmbedder(CountingEmbedder):
    """A text model whose weights cannot be had here."""

    def embed_text(self, texts):
        from sksplice.exceptions import WeightsUnavailableError

        raise WeightsUnavailableError("the weights are not in the local cache")


class _DeviceNumberEmbedder(CountingEmbedder):
    """An embedder of another library, whose ``device`` is a number (its own business)."""

    device = 0


def test_given_rows_of_a_named_vocabulary_need_no_model_that_cannot_run(
    tmp_path, monkeypatch, tiny_clip_model
):
    # The order check loaded the model: given embeddings of a named vocabulary (or a
    # file) failed to fit offline or without the embedder's GPU, although no other step
    # of the fit needs the model
    import torch

    from sksplice import CLIPEmbedder
    from sksplice.dictionary import embed_vocabulary

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    concepts = random_vocabulary(20)
    path = _vocab_file(tmp_path, concepts)
    X = np.random.default_rng(1).normal(size=(120, DIM)) + 0.3
    fit = {"vocabulary": path, "device": "cpu", "cache_dir": tmp_path}
    raw = CountingEmbedder(dim=DIM, key="offline-fake").embed_text(concepts)
    offline = _OfflineEmbedder(dim=DIM, key="offline-fake")
    with pytest.warns(UserWarning, match="was not checked") as info:
        splice = SpliceTransformer(embedder=offline, **fit, concept_embeddings=raw[::-1]).fit(X)
    message = str(info[0].message)
    assert "not in the local cache" in message and "get_feature_names_out() (its lines)" in message
    assert list(splice.get_feature_names_out()) == concepts
    # with the embedder's dictionary cached, the rows are checked against it: no model
    embed_vocabulary(CountingEmbedder(dim=DIM, key="offline-fake"), concepts, cache_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SpliceTransformer(embedder=offline, **fit, concept_embeddings=raw).fit(X)
        with pytest.raises(ValueError, match="reverse order"):
            SpliceTransformer(embedder=offline, **fit, concept_embeddings=raw[::-1]).fit(X)
        # (a device this check does not know is the embedder's own: it embeds as before)
        numbered = _DeviceNumberEmbedder(dim=DIM, key="numbered")
        SpliceTransformer(embedder=numbered, **fit, concept_embeddings=raw).fit(X)
    # a cache file that cannot be read is no cache (not rebuilt with the model here)
    from sksplice.dictionary import clear_memory_cache, dictionary_cache_path

    clear_memory_cache()
    dictionary_cache_path(offline.cache_key(), concepts, tmp_path).write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="was not checked"):
        SpliceTransformer(embedder=offline, **fit, concept_embeddings=raw).fit(X)
    # a CLIP model set up for a GPU, on a machine without one
    clip = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text", device="cuda")
    width = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text").embed_text(["a"])
    E = np.random.default_rng(2).normal(size=(len(concepts), width.shape[1]))
    Xc = np.random.default_rng(3).normal(size=(120, width.shape[1]))
    with pytest.warns(UserWarning, match="was not checked") as info:
        SpliceTransformer(embedder=clip, **fit, concept_embeddings=E).fit(Xc)
    assert "CUDA is not available" in str(info[0].message)


def test_swapped_rows_are_named_without_the_reverse_hint(tmp_path):
    concepts = random_vocabulary(20)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)
    raw[[0, 19]] = raw[[19, 0]]
    path = _vocab_file(tmp_path, concepts)
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=path, concept_embeddings=raw, device="cpu"
    )
    with pytest.raises(ValueError, match=r"row 0 does not hold .* 'concept000'") as info:
        splice.fit(np.ones((3, DIM)) + np.eye(3, DIM))
    assert "reverse order" not in str(info.value)


class _SharedDirectionEmbedder:
    """Text embeddings with a large common component, as CLIP's have (mean cosine ~0.7),
    and concept-specific parts of very different sizes."""

    def __init__(self, concepts, dim=16, seed=0):
        rng = np.random.default_rng(seed)
        common = rng.normal(size=dim)
        common /= np.linalg.norm(common)
        scale = rng.uniform(0.2, 1.5, size=(len(concepts), 1))
        E = 2.0 * common + scale * rng.normal(size=(len(concepts), dim)) / np.sqrt(dim)
        self.table = dict(zip(concepts, E / np.linalg.norm(E, axis=1, keepdims=True)))

    def embed_text(self, texts):
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


@pytest.mark.parametrize("seed", range(5))
def test_rows_already_centred_pass_the_spot_check_and_shuffled_ones_do_not(tmp_path, seed):
    # The authors' cached dictionary (normalised, centred by the mean of the vocabulary,
    # normalised again) in the right order was refused with concepts_centered=True
    # ("row 286 does not hold the embedding of concept 'boy'"): the embedder's raw
    # embeddings were compared with rows that had lost their common component.
    concepts = random_vocabulary(200)
    embedder = _SharedDirectionEmbedder(concepts, seed=seed)
    E = embedder.embed_text(concepts).astype(np.float64)
    D = E - E.mean(axis=0)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    path = _vocab_file(tmp_path, concepts)
    X = np.random.default_rng(seed).normal(size=(120, 16))
    fit = {"embedder": embedder, "vocabulary": path, "device": "cpu", "concepts_centered": True}
    splice = SpliceTransformer(**fit, concept_embeddings=D).fit(X)
    assert list(splice.get_feature_names_out()) == concepts
    shuffled = D[np.random.default_rng(seed).permutation(len(D))]
    with pytest.raises(ValueError, match="does not hold the embedding"):
        SpliceTransformer(**fit, concept_embeddings=shuffled).fit(X)
    with pytest.raises(ValueError, match="reverse order"):
        SpliceTransformer(**fit, concept_embeddings=D[::-1]).fit(X)
    # and the raw rows, as before
    SpliceTransformer(embedder=embedder, vocabulary=path, concept_embeddings=E, device="cpu").fit(X)


def test_spot_check_refuses_rows_of_another_width(tmp_path):
    concepts = random_vocabulary(10)
    path = _vocab_file(tmp_path, concepts)
    raw = CountingEmbedder(dim=DIM + 4).embed_text(concepts)
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM), vocabulary=path, concept_embeddings=raw, device="cpu"
    )
    with pytest.raises(ValueError, match=rf"d={DIM + 4}: they come from different models"):
        splice.fit(np.ones((3, DIM + 4)) + np.eye(3, DIM + 4))


def test_a_one_concept_file_has_no_order_to_check(tmp_path):
    path = _vocab_file(tmp_path, ["sky"])
    row = _unit(np.arange(1.0, DIM + 1.0))[None, :]
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=DIM),
        vocabulary=path,
        concept_embeddings=row,
        concepts_centered=True,
        device="cpu",
    ).fit(np.ones((3, DIM)) + np.eye(3, DIM))
    assert CountingEmbedder.n_calls == 0
    np.testing.assert_allclose(splice.dictionary_, row, atol=1e-12)


def test_list_vocabulary_rows_are_not_spot_checked():
    concepts = random_vocabulary(10)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)[::-1]
    CountingEmbedder.reset()
    SpliceTransformer(
        embedder=embedder, vocabulary=concepts, concept_embeddings=raw, device="cpu"
    ).fit(np.ones((3, DIM)) + np.eye(3, DIM))
    assert CountingEmbedder.n_calls == 0


def test_file_vocabulary_size_keeps_the_first_rows(tmp_path):
    concepts = random_vocabulary(10)
    embedder = CountingEmbedder(dim=DIM)
    raw = embedder.embed_text(concepts)
    path = _vocab_file(tmp_path, concepts)
    X = np.random.default_rng(2).normal(size=(4, DIM)) + 0.3
    kept = SpliceTransformer(
        embedder=embedder,
        vocabulary=path,
        vocabulary_size=4,
        concept_embeddings=raw,
        device="cpu",
    ).fit(X)
    assert list(kept.get_feature_names_out()) == concepts[:4]
    every = SpliceTransformer(
        embedder=embedder,
        vocabulary=path,
        vocabulary_size=None,
        concept_embeddings=raw,
        device="cpu",
    ).fit(X)
    assert list(every.get_feature_names_out()) == concepts
    with pytest.raises(ValueError, match=r"concept_embeddings has 7 rows .* 4 \(the concepts"):
        SpliceTransformer(
            vocabulary=path, vocabulary_size=4, concept_embeddings=raw[:7], device="cpu"
        ).fit(X)


# ------------------------------------------------------------------ centres


def test_text_modality_learns_the_centre_from_x():
    concepts, raw, X = _problem(n_samples=120)
    splice = _make(concepts, raw, modality="text").fit(X)
    assert splice.mean_source_ == "data"
    assert splice.n_mean_samples_ == 120
    np.testing.assert_allclose(splice.mean_, _unit(X).mean(axis=0), rtol=1e-12)
    assert not np.allclose(splice.mean_, splice.concept_mean_)


def test_text_modality_can_use_the_concept_centre():
    concepts, raw, X = _problem(n_samples=3)
    splice = _make(concepts, raw, modality="text", text_mean="concepts").fit(X)
    assert splice.mean_source_ == "concepts"
    assert splice.n_mean_samples_ is None
    np.testing.assert_array_equal(splice.mean_, splice.concept_mean_)
    np.testing.assert_allclose(splice.mean_, _unit(raw).mean(axis=0), rtol=1e-12)
    # mean_ is a copy: changing it leaves the concept centre alone.
    splice.mean_[0] += 1.0
    assert splice.mean_[0] != splice.concept_mean_[0]


def test_the_concept_centre_of_a_centred_dictionary_is_refused():
    # A centred dictionary's concept mean is unknown (zero): text_mean='concepts' would
    # silently not centre the texts at all.
    concepts, raw, X = _problem(n_samples=3)
    centred = _make(concepts, raw).fit(X).dictionary_
    splice = _make(concepts, centred, modality="text", text_mean="concepts")
    with pytest.raises(ValueError, match=r"text_mean='concepts' .* concepts_centered=True"):
        splice.set_params(concepts_centered=True).fit(X)


def test_text_modality_with_a_given_centre(tmp_path):
    concepts, raw, X = _problem(n_samples=3)
    centre = np.linspace(-0.1, 0.1, DIM)
    splice = _make(concepts, raw, modality="text", text_mean=centre).fit(X)
    assert splice.mean_source_ == "given"
    np.testing.assert_array_equal(splice.mean_, centre)
    with pytest.raises(ValueError, match=rf"text_mean has shape \(3,\) .* d={DIM}"):
        _make(concepts, raw, modality="text", text_mean=np.zeros(3)).fit(X)


def test_all_zero_rows_are_not_counted_in_the_learned_centre():
    # The centre is the mean of the rows' directions: zero rows have none, are left
    # out of it, and must not count towards the rows it was learned from.
    concepts, raw, X = _problem(n_samples=10)
    padded = np.vstack([X, np.zeros((150, DIM))])
    with pytest.warns(
        SmallMeanSampleWarning, match=r"only 10 rows, besides 150 all-zero rows without"
    ):
        splice = _make(concepts, raw).fit(padded)
    assert splice.n_mean_samples_ == 10
    np.testing.assert_allclose(splice.mean_, _unit(X).mean(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match=r"from 1 non-zero row, besides 150 all-zero rows without"):
        _make(concepts, raw).fit(padded[9:])


def test_text_modality_refuses_one_row_to_learn_from():
    concepts, raw, X = _problem()
    with pytest.raises(ValueError, match=r"text_mean=None cannot learn .* text_mean='concepts'"):
        _make(concepts, raw, modality="text").fit(X[:1])


def test_pretrained_image_mean_needs_an_embedder_with_a_model_name():
    concepts, raw, X = _problem()
    splice = _make(concepts, raw, embedder=CountingEmbedder(dim=DIM), image_mean="pretrained")
    with pytest.raises(ValueError, match=r"needs an embedder with .model .*CountingEmbedder"):
        splice.fit(X)
    with pytest.raises(ValueError, match=r"embedder=None\. ") as raised:
        _make(concepts, raw, image_mean="pretrained").fit(X)
    # (concept embeddings of one's own, no model at hand: the published mean itself)
    assert "image_mean=sksplice.vocabulary.load_image_mean(model, pretrained)" in str(raised.value)


class _NamedEmbedder(CountingEmbedder):
    model = "Toy-B-1"
    pretrained = "tag"


def test_pretrained_image_mean_is_the_pinned_file_of_the_model(tmp_path, monkeypatch):
    home = tmp_path / "home"
    target = home / "means" / "toy.pt"
    target.parent.mkdir(parents=True)
    values = torch.linspace(-0.3, 0.3, DIM)  # (a mean of unit vectors: norm at most 1)
    torch.save(values, target)
    remote = RemoteFile("means/toy.pt", "https://example.invalid/toy.pt", file_sha256(target))
    monkeypatch.setitem(IMAGE_MEANS, ("Toy-B-1", "tag"), remote)
    concepts, raw, X = _problem(n_samples=2)
    splice = _make(
        concepts, raw, embedder=_NamedEmbedder(dim=DIM), image_mean="pretrained", data_home=home
    ).fit(X)
    assert splice.mean_source_ == "pretrained"
    assert splice.n_mean_samples_ is None
    np.testing.assert_allclose(splice.mean_, values.numpy(), rtol=1e-7)
    # A published mean of another width is refused, naming where it comes from.
    torch.save(torch.zeros(DIM + 1), home / "means" / "t.pt")
    monkeypatch.setitem(
        IMAGE_MEANS,
        ("Toy-B-1", "tag"),
        remote._replace(path="means/t.pt", sha256=file_sha256(home / "means" / "t.pt")),
    )
    with pytest.raises(ValueError, match=rf"published image mean of 'Toy-B-1'/'tag' .*d={DIM}"):
        _make(
            concepts, raw, embedder=_NamedEmbedder(dim=DIM), image_mean="pretrained", data_home=home
        ).fit(X)


def test_all_zero_x_has_no_centre_to_learn():
    concepts, raw, _ = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused at once, without a warning about its size
        with pytest.raises(ValueError, match="every row of X is zero"):
            _make(concepts, raw).fit(np.zeros((4, DIM)))


def test_integer_rows_are_scaled_to_unit_floats():
    U = unit_rows(np.array([[3, 4], [0, 0], [-2, 0]]))
    assert U.dtype == np.float64
    np.testing.assert_allclose(U, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])


# ----------------------------------------------------- weights and helpers


@pytest.fixture
def fitted():
    concepts, raw, X = _problem()
    return _make(concepts, raw, l1_penalty=0.1).fit(X), X


def test_integer_weights_recompose_like_float_weights(fitted):
    splice, _ = fitted
    W = np.zeros((2, len(splice.concepts_)), dtype=np.int64)
    W[0, 1], W[1, 4] = 2, 1
    expected = splice.inverse_transform(W.astype(np.float64))
    np.testing.assert_allclose(splice.inverse_transform(W), expected)
    np.testing.assert_allclose(splice.inverse_transform(scipy.sparse.csr_matrix(W)), expected)
    assert splice.inverse_transform(W).dtype == np.float64


def test_malformed_weights_are_named(fitted):
    splice, _ = fitted
    n = len(splice.concepts_)
    with pytest.raises(ValueError, match=r"weights must be 2-D .*W.reshape\(1, -1\)"):
        splice.inverse_transform(np.zeros(n))
    with pytest.raises(TypeError, match="weights must be real numbers; got dtype <U"):
        splice.inverse_transform(np.full((1, n), "a"))
    with pytest.raises(TypeError, match="weights must be real numbers"):
        splice.inverse_transform(np.zeros((1, n), dtype=complex))


def test_helpers_refuse_an_unknown_kind(fitted):
    splice, X = fitted
    with pytest.raises(
        ValueError, match=r"kind must be one of \('auto', 'embeddings', 'weights'\)"
    ):
        splice.l0(X, kind="codes")
    with pytest.raises(TypeError, match=r"kind must be one of .*got None \(NoneType\)"):
        splice.l0(X, kind=None)


def test_dataframe_features_are_checked_and_recognised():
    concepts, raw, X = _problem()
    columns = [f"f{i}" for i in range(DIM)]
    frame = pd.DataFrame(X, columns=columns)
    splice = _make(concepts, raw, l1_penalty=0.1).fit(frame)
    assert list(splice.get_feature_names_out(columns)) == concepts
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        splice.get_feature_names_out(columns[::-1])
    # complex embeddings are named without the whole array in the message
    for method in (
        _make(concepts, raw).fit,
        splice.transform,
        lambda Z: splice.transform(pd.DataFrame(Z)),
    ):
        with pytest.raises(
            ValueError,
            match=r"^Complex data not supported: X holds complex numbers \(dtype complex128\) of",
        ):
            method(X.astype(complex))
    # a length, not a shape ("should have length 8, got (1,)")
    with pytest.raises(
        ValueError, match=rf"length {DIM} \(one name per input feature\), got 1 name$"
    ):
        splice.get_feature_names_out(columns[:1])
    # A frame with the fitted columns is embeddings, whatever the shapes say.
    weights = splice.transform(frame)
    assert (
        splice.l0(frame, per_sample=True).tolist() == splice.l0(weights, per_sample=True).tolist()
    )


# ------------------------------------------------------------------ calibration


def test_calibration_refuses_when_no_concept_correlates():
    concepts = ["a", "b"]
    rows = np.eye(2, 4)
    X = np.tile([-1.0, -1.0, 0.0, 0.0], (5, 1))
    splice = _make(concepts, rows, concepts_centered=True, image_mean=np.zeros(4), target_l0=1)
    with pytest.raises(ValueError, match="target_l0=1 cannot be reached: every code is zero"):
        splice.fit(X)


def test_calibration_keeps_a_start_penalty_that_already_meets_the_target():
    concepts, raw, X = _problem(n_concepts=20, n_samples=60, seed=3)
    first = _make(concepts, raw, target_l0=3).fit(X)
    assert abs(first.calibration_l0_ - 3) <= 0.3
    # (a start given with a target is warned about: it is no penalty of the fit)
    with pytest.warns(UserWarning, match="only where that search starts"):
        again = _make(concepts, raw, target_l0=3, l1_penalty=first.l1_penalty_).fit(X)
    assert again.l1_penalty_ == pytest.approx(first.l1_penalty_, rel=1e-12)
    assert again.calibration_l0_ == first.calibration_l0_


def test_calibration_refuses_more_weights_than_dimensions():
    concepts, raw, X = _problem(n_concepts=30)
    with pytest.raises(ValueError, match=rf"target_l0=20 .* dimension \({DIM}\): at most"):
        _make(concepts, raw, target_l0=20).fit(X)


def test_an_unreachable_target_states_the_range_reachable():
    # above the number of concepts, the range offered must still respect the dimension
    from sksplice._calibration import check_target_l0

    with pytest.raises(ValueError) as raised:
        check_target_l0(500, n_concepts=200, n_features=32)
    assert str(raised.value) == (
        "target_l0=500 cannot be reached: the dictionary has only 200 concepts, and codes "
        "have at most as many non-zero weights as the embedding dimension (32): at most 32 "
        "can be reached (targets up to 35.2 are accepted: the calibration reaches a mean l0 "
        "within ±10% of the target)"
    )
    with pytest.raises(ValueError, match=r"only 20 concepts: at most 20 can be reached \(.* 22 "):
        check_target_l0(50, n_concepts=20, n_features=32)
    # the bound said is the one applied (it said "at most 32" and took 33)
    check_target_l0(35.2, n_concepts=200, n_features=32)
    with pytest.raises(ValueError, match=r"up to 35\.2 are accepted"):
        check_target_l0(35.3, n_concepts=200, n_features=32)
    # concepts centred by their mean: never all of them at once (5 of 5 was accepted,
    # then failed after the calibration's solves: "only reaches 4")
    with pytest.raises(ValueError, match=r"only 5 concepts \(centred by their mean: .*\): at "
                       r"most 4 can be reached \(targets up to 4\.4 are accepted"):  # fmt: skip
        check_target_l0(5, n_concepts=5, n_features=32, centred=True)
    check_target_l0(5, n_concepts=5, n_features=32)  # (a dictionary given centred already)
    check_target_l0(4.4, n_concepts=5, n_features=32, centred=True)


def test_a_target_of_every_concept_is_refused_before_the_calibration(monkeypatch):
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    raw, X = rng.normal(size=(5, 16)), rng.normal(size=(120, 16))
    solves = []
    monkeypatch.setattr(SpliceTransformer, "_solve", lambda *a, **k: solves.append(a))
    splice = SpliceTransformer(vocabulary=list("abcde"), concept_embeddings=raw, target_l0=5)
    with pytest.raises(ValueError, match=r"at most 4 can be reached"):
        splice.set_params(device="cpu").fit(X)
    assert solves == []


@pytest.mark.parametrize("target", [1, 2, 4, 6])
def test_calibration_from_a_penalty_far_too_large(target):
    concepts, raw, X = _problem(n_concepts=20, n_samples=60, seed=3)
    splice = _make(concepts, raw, target_l0=target, l1_penalty=1e3).fit(X)
    assert abs(splice.calibration_l0_ - target) <= 0.1 * target
    assert splice.l1_penalty_ < 1e3
    # The whole of X is the calibration sample: transform gives the reported l0.
    assert splice.l0(X) == pytest.approx(splice.calibration_l0_, abs=1e-12)


# ------------------------------------------------------------------ vocabularies

_BODY = "rare\nless common\n\n  common \nmost common\n"


@pytest.fixture
def pinned_laion(tmp_path, monkeypatch):
    """A small file registered as 'laion', with its own pin, cached in a data home."""
    home = tmp_path / "home"
    cached = home / "vocab" / "laion.txt"
    cached.parent.mkdir(parents=True)
    cached.write_text(_BODY, encoding="utf-8")
    remote = RemoteFile("vocab/laion.txt", "https://example.invalid/laion.txt", file_sha256(cached))
    monkeypatch.setitem(VOCABULARIES, "laion", remote)
    return home


def test_named_vocabulary_in_the_authors_order(pinned_laion):
    assert load_vocabulary("laion", size=None, data_home=pinned_laion, order="authors") == [
        "rare",
        "less common",
        "common",
        "most common",
    ]
    # The blank line takes one of the last three places.
    assert load_vocabulary("laion", size=3, data_home=pinned_laion, order="authors") == [
        "common",
        "most common",
    ]
    with pytest.raises(ValueError, match="size=6 is larger than the 5 lines of the 'laion'"):
        load_vocabulary("laion", size=6, data_home=pinned_laion, order="authors")
    with pytest.raises(ValueError, match="size=5 is larger than the 4 concepts of the 'laion'"):
        load_vocabulary("laion", size=5, data_home=pinned_laion)


def test_a_copy_of_a_pinned_file_loads_like_its_name(pinned_laion, tmp_path):
    copy = tmp_path / "my_copy.txt"
    copy.write_text(_BODY, encoding="utf-8")
    assert load_vocabulary(copy, size=2) == ["most common", "common"]
    assert load_vocabulary(copy, size=2) == load_vocabulary("laion", 2, data_home=pinned_laion)
    # A one-byte change makes it an ordinary file, read in file order.
    copy.write_text(_BODY + "x\n", encoding="utf-8")
    assert load_vocabulary(copy, size=2) == ["rare", "less common"]


def test_authors_index_of_a_named_vocabulary(pinned_laion):
    assert authors_index_to_concept("laion", size=3, data_home=pinned_laion) == [
        None,
        "common",
        "most common",
    ]
    with pytest.raises(ValueError, match="size=6 is larger than the 5 lines of the 'laion'"):
        authors_index_to_concept("laion", size=6, data_home=pinned_laion)
    # the authors' loader keeps the whole file with vocabulary_size=-1 (its default)
    whole = authors_index_to_concept("laion", size=-1, data_home=pinned_laion)
    assert len(whole) == 5 and whole[-3:] == [None, "common", "most common"]
    assert authors_index_to_concept("laion", size=0, data_home=pinned_laion) == whole
    with pytest.raises(ValueError, match="size must be an integer >= -1, got -2"):
        authors_index_to_concept("laion", size=-2, data_home=pinned_laion)


def test_authors_index_to_concept_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown vocabulary 'imagenet'"):
        authors_index_to_concept("imagenet", size=3)
    with pytest.raises(TypeError, match="name must be a vocabulary name or a path, got int"):
        authors_index_to_concept(3, size=3)
    with pytest.raises(TypeError, match="got list"):
        authors_index_to_concept(["a", "b"], size=3)


def test_a_file_without_a_final_newline_keeps_its_last_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a\nb\nc", encoding="utf-8")
    assert authors_index_to_concept(path, size=2) == ["b", "c"]
    assert load_vocabulary(path, size=2, order="authors") == ["b", "c"]


class _BytesPath:
    def __fspath__(self):
        return b"vocab.txt"


def test_a_bytes_path_is_refused():
    with pytest.raises(TypeError, match="name must be a str path, not bytes"):
        load_vocabulary(_BytesPath())
    with pytest.raises(TypeError, match="name must be a vocabulary name or a path"):
        authors_index_to_concept(_BytesPath(), size=3)


def test_pretrained_tag_must_be_a_string():
    with pytest.raises(TypeError, match="pretrained must be a str or None, got int"):
        load_image_mean("ViT-B-32", 32)


# ------------------------------------------------------------------ as_mean_vector


def test_mean_vector_from_files(tmp_path):
    values = np.linspace(-0.5, 0.5, 6)
    np.save(tmp_path / "m.npy", values)
    torch.save(torch.tensor(values, dtype=torch.float32), tmp_path / "m.pt")
    np.testing.assert_array_equal(as_mean_vector(tmp_path / "m.npy", 6), values)
    from_pt = as_mean_vector(str(tmp_path / "m.pt"), 6)
    assert from_pt.dtype == np.float64
    np.testing.assert_allclose(from_pt, values, rtol=1e-7)
    with pytest.raises(FileNotFoundError, match=r"image_mean file .*nope\.npy' does not exist"):
        as_mean_vector(tmp_path / "nope.npy")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"cannot read text_mean file .*junk\.pt"):
        as_mean_vector(tmp_path / "junk.pt", source="text_mean")
    torch.save({"mean": torch.zeros(6)}, tmp_path / "dict.pt")
    with pytest.raises(ValueError, match=r"dict\.pt' holds object values of shape \(\)"):
        as_mean_vector(tmp_path / "dict.pt")


def test_mean_vector_from_tensors():
    mean = as_mean_vector(torch.tensor([0.5, -0.25], dtype=torch.bfloat16), 2)
    assert mean.dtype == np.float64
    np.testing.assert_array_equal(mean, [0.5, -0.25])
    with pytest.raises(ValueError, match=r"int64 values of shape \(3,\)"):
        as_mean_vector(torch.arange(3))
    with pytest.raises(ValueError, match="image_mean holds a Size, expected one tensor"):
        as_mean_vector(torch.Size([3]))


@pytest.mark.parametrize(
    ("mean", "match"),
    [
        ([], "image_mean is empty; expected a 1-D vector of length d"),
        ({}, "image_mean is empty"),
        ([[0.1], [0.2, 0.3]], "image_mean is not an array of numbers"),
        (np.zeros((2, 2)), r"float64 values of shape \(2, 2\)"),
        (np.array([0.1, np.inf]), "non-finite value at index 1"),
        # not a mean of unit vectors: every row would decompose into the same concepts
        (np.array([3.0, 4.0]), r"^image_mean has norm 5, above 1: .* Normalise each embedding"),
        (np.array([0.6, 0.8]) * 1.002, "image_mean has norm 1.002, above 1"),
    ],
)
def test_mean_vector_errors(mean, match):
    with pytest.raises(ValueError, match=match):
        as_mean_vector(mean)


class _PowerLawCodes:
    """Codes whose mean l0 follows ``scale * penalty ** -slope`` (what a solve returns)."""

    def __init__(self, n_rows: int, l0: float) -> None:
        self._l0 = np.full(n_rows, l0)

    def l0(self) -> np.ndarray:
        return self._l0


@pytest.mark.parametrize("slope", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("target", [5.0, 50.0, 150.0])
def test_calibration_steps_by_the_slope_without_overshooting(slope, target):
    # Small penalties are the expensive solves: the search must not step far below the
    # penalty it looks for (the previous one stepped down by a factor of 4 at once: from
    # 0.25 to 0.0625 for a target of 50 on LAION captions, 40 s of a 52 s fit), and it
    # finds the penalty on 256 rows before confirming it on the whole sample.
    from sksplice._calibration import calibrate_penalty

    rng = np.random.default_rng(0)
    X, dictionary = rng.normal(size=(1000, 384)), rng.normal(size=(2000, 384))
    scale = 19.4 * 0.25**slope  # 19.4 concepts at the default penalty, as on LAION
    tried = []

    def solve(V, penalty, warm_start=None):
        tried.append((V.shape[0], penalty))
        return _PowerLawCodes(V.shape[0], min(scale * penalty**-slope, 384.0))

    penalty, l0 = calibrate_penalty(
        X,
        dictionary=dictionary,
        target_l0=target,
        l1_penalty=0.25,
        calibration_samples=2000,
        random_state=0,
        center=lambda X: X / np.linalg.norm(X, axis=1, keepdims=True),
        solve=solve,
        verbose=False,
        logger=None,
    )
    assert abs(l0 - target) <= 0.1 * target
    assert tried[-1] == (1000, penalty)  # the answer is the whole sample's
    exact = (scale / target) ** (1 / slope)  # the penalty that gives the target exactly
    stepped = [p for _, p in tried if p != 0.25]  # (0.25: the start, given)
    assert min(stepped) >= min(exact, 0.25) / 1.6  # never far into the dense side
    full = [p for n, p in tried if n == 1000]
    assert len(full) <= 2 and {n for n, _ in tried} <= {256, 1000}
    assert len(tried) <= 7


def test_a_relative_file_that_is_missing_is_said_with_the_working_folder(tmp_path, monkeypatch):
    # A pickled transformer refitted in another working folder reads its relative files
    # from there: the error says where it looked.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        FileNotFoundError,
        match=rf"^Vocabulary file 'vocab\.txt' \(in the working folder {re.escape(str(tmp_path))}\)"
        r" does not exist",
    ):
        load_vocabulary("vocab.txt")
    with pytest.raises(
        FileNotFoundError,
        match=rf"^image_mean file 'm\.npy' \(in the working folder {re.escape(str(tmp_path))}\) "
        "does not exist",
    ):
        as_mean_vector(Path("m.npy"))
    with pytest.raises(FileNotFoundError) as info:  # (an absolute path says it all)
        load_vocabulary(tmp_path / "vocab.txt")
    assert "working folder" not in str(info.value)


def test_fit_that_cannot_fetch_the_vocabulary_names_the_image_mean_to_fetch(tmp_path, monkeypatch):
    # Offline, fit said the vocabulary was missing; the next fit, the image mean.
    import requests

    from sksplice._download import DataFetchError
    from sksplice.embedders import CLIPEmbedder

    block_network(monkeypatch, requests.ConnectionError("no network"))
    splice = SpliceTransformer(
        embedder=CLIPEmbedder("ViT-B-32", pretrained="laion2b_s34b_b79k", modality="text"),
        vocabulary="laion",
        image_mean="pretrained",
        data_home=tmp_path,
    )
    X = np.random.default_rng(0).standard_normal((4, 512))
    with pytest.raises(DataFetchError) as info:
        splice.fit(X)
    message = str(info.value)
    assert message.startswith("Could not download 'vocab/laion.txt'")
    assert (
        f"The run also needs the image mean of ViT-B-32 laion2b_s34b_b79k (https://raw."
        f"githubusercontent.com/AI4LIFE-GROUP/SpLiCE/main/data/means/open_clip_ViT-B-32_image"
        f".pt, to put in the folder {str(tmp_path / 'means')!r} as "
        "'open_clip_ViT-B-32_image.pt', SHA-256 "
    ) in message
    # (then the CLIP weights, where they are not cached either)
    assert "point data_home (or $SKSPLICE_DATA) to a folder that holds it." in message
    # with a learned centre there is nothing more to fetch
    with pytest.raises(DataFetchError) as info:
        splice.set_params(image_mean=None).fit(X)
    assert "also needs" not in str(info.value)


# -- a first run without network access: what to fetch, and misspelt names first


def test_fit_that_cannot_fetch_the_vocabulary_names_the_clip_weights_missing(tmp_path, monkeypatch):
    import requests

    from sksplice._download import DataFetchError
    from sksplice.embedders import CLIPEmbedder

    block_network(monkeypatch, requests.ConnectionError("no network"))
    hub_cache = tmp_path / "hf"  # (empty: the weights are not cached)
    splice = SpliceTransformer(
        embedder=CLIPEmbedder("ViT-B-32", "laion2b_s34b_b79k", cache_dir=hub_cache),
        vocabulary="laion",
        data_home=tmp_path / "home",
    )
    with pytest.raises(DataFetchError) as info:
        splice.fit(np.random.default_rng(0).standard_normal((4, 512)))
    message = str(info.value)
    assert message.startswith("Could not download 'vocab/laion.txt'")
    assert (
        "The pretrained weights of open_clip model 'ViT-B-32' (pretrained='laion2b_s34b_b79k') "
        "are not in the local cache (from the Hugging Face Hub repository "
        f"'laion/CLIP-ViT-B-32-laion2B-s34B-b79K', cached in {str(hub_cache)!r}) either"
    ) in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # random weights need nothing fetched
    splice.set_params(embedder=CLIPEmbedder("ViT-B-32", None, cache_dir=hub_cache))
    with pytest.raises(DataFetchError) as info:
        splice.fit(np.random.default_rng(0).standard_normal((4, 512)))
    assert "pretrained weights" not in str(info.value)


def test_fit_that_cannot_fetch_the_image_mean_names_the_clip_weights_missing(tmp_path, monkeypatch):
    # (a vocabulary of one's own: the published image mean is the first file missing)
    import requests

    from sksplice import dictionary
    from sksplice._download import DataFetchError
    from sksplice.embedders import CLIPEmbedder

    block_network(monkeypatch, requests.ConnectionError("no network"))
    splice = SpliceTransformer(
        embedder=CLIPEmbedder("ViT-B-32", "laion2b_s34b_b79k", cache_dir=tmp_path / "hf"),
        vocabulary=["sand", "sea", "tree", "leaf"],
        image_mean="pretrained",
        data_home=tmp_path / "home",
        cache_dir=tmp_path / "cache",
    )
    X = np.random.default_rng(0).standard_normal((4, 512))
    with pytest.raises(DataFetchError) as info:
        splice.fit(X)
    message = str(info.value)
    assert message.startswith("Could not download 'means/open_clip_ViT-B-32_image.pt'")
    assert "The pretrained weights of open_clip model 'ViT-B-32'" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # with the concepts' embeddings cached, no weights are needed: the mean alone is said
    monkeypatch.setattr(dictionary, "is_cached", lambda *args: True)
    with pytest.raises(DataFetchError) as info:
        splice.fit(X)
    assert "pretrained weights" not in str(info.value)


@pytest.mark.parametrize(
    ("model", "pretrained", "match"),
    [
        ("ViT-B-23", "laion2b_s34b_b79k", r"model='ViT-B-23' is not an open_clip.*'ViT-B-32'"),
        ("ViT-B-32", "laion2b_s34b_b78k", r"pretrained='laion2b_s34b_b78k'.*'laion2b_s34b_b79k'"),
        ("hf-hub:no-repo", None, r"model='hf-hub:no-repo': an open_clip Hub model is named"),
    ],
)
def test_a_misspelt_model_or_tag_is_refused_before_the_vocabulary_is_downloaded(
    tmp_path, monkeypatch, model, pretrained, match
):
    from sksplice.embedders import CLIPEmbedder

    # (any download fails the test: the network is blocked for every test here)
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(model, pretrained),
        vocabulary="laion",
        data_home=tmp_path / "home",
        image_mean="pretrained",
    )
    with pytest.raises(ValueError, match=match):
        splice.fit(np.random.default_rng(0).standard_normal((4, 512)))
    assert not (tmp_path / "home").exists()


def test_an_embedder_for_an_absent_device_is_accepted_when_it_is_never_loaded():
    from sksplice.embedders import CLIPEmbedder

    # A model set up for a GPU is fitted on a machine without one: its concept embeddings
    # are given, so nothing is embedded and the device is never asked for; a device that
    # is no device at all is refused as before.
    rng = np.random.default_rng(0)
    E, X = rng.standard_normal((12, 8)), rng.standard_normal((20, 8))
    names = [f"concept {i}" for i in range(12)]
    absent = "cuda:63" if torch.cuda.is_available() else "cuda"

    def fit(device):
        return SpliceTransformer(
            vocabulary=names,
            concept_embeddings=E,
            embedder=CLIPEmbedder(device=device),
            image_mean=np.zeros(8),
        ).fit(X)

    assert fit(absent).dictionary_.shape == (12, 8)
    with pytest.raises(ValueError, match="device='cdua' is not a device torch understands"):
        fit("cdua")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_an_embedder_for_an_absent_device_reads_the_dictionary_it_cached(
    tiny_clip_model, tmp_path, precision
):
    # ... and where the concept embeddings are cached (by the GPU machine, under the key
    # of the weights and precision, which does not depend on the device): cache_key asked
    # for the device and failed
    from sksplice.dictionary import (
        _disk_key,
        _write_cache_file,
        clear_memory_cache,
        dictionary_cache_path,
    )
    from sksplice.embedders import CLIPEmbedder

    names = ["dog", "cat", "snow", "grass", "sky", "red car"]
    absent = "cuda:63" if torch.cuda.is_available() else "cuda"
    here, there = (
        CLIPEmbedder(tiny_clip_model, None, device=device, precision=precision)
        for device in ("cpu", absent)
    )
    X = here.embed_text(["a photo of a dog", "a red car in the snow", "sky"])
    key = there.cache_key()  # (the key the GPU machine wrote its file under)
    # (fp16 is embedded as fp32 on the CPU, under another key; fp32 is the same here)
    assert (key == here.cache_key()) == (precision == "fp32")
    path = dictionary_cache_path(key, names, tmp_path)
    _write_cache_file(path, _disk_key(key, names), here.embed_text(names).astype(np.float32))
    clear_memory_cache()
    splice = SpliceTransformer(there, vocabulary=names, image_mean=X[0], cache_dir=tmp_path)
    assert splice.fit(X).dictionary_.shape == (len(names), X.shape[1])
