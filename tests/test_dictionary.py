"""Tests for sksplice.dictionary: building the concept dictionary and caching it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sksplice import dictionary as dictionary_module
from sksplice.dictionary import (
    DictionaryCacheWarning,
    build_dictionary,
    clear_memory_cache,
    dictionary_cache_path,
    embed_vocabulary,
    l2_normalize,
    vocabulary_hash,
)

try:  # whether or not tests/ is a package
    from ._helpers_transformer import CountingEmbedder, KeylessEmbedder
except ImportError:
    from _helpers_transformer import CountingEmbedder, KeylessEmbedder


@pytest.fixture(autouse=True)
def _fresh_memory_cache():
    clear_memory_cache()
    yield
    clear_memory_cache()


def test_build_dictionary_is_normalised_centred_normalised(rng):
    raw = rng.normal(size=(40, 16)) * rng.uniform(0.5, 3.0, size=(40, 1)) + 2.0
    D, mean = build_dictionary(raw)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(mean, unit.mean(axis=0), rtol=1e-10)
    expected = unit - unit.mean(axis=0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(D, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    # Scaling a raw row does not change anything.
    raw2 = raw.copy()
    raw2[3] *= 7.0
    np.testing.assert_allclose(build_dictionary(raw2)[0], D, atol=1e-12)


def test_build_dictionary_keeps_float32_and_rejects_bad_input(rng):
    D, mean = build_dictionary(rng.normal(size=(5, 4)).astype(np.float32))
    assert D.dtype == np.float32 and mean.dtype == np.float32
    with pytest.raises(ValueError, match="2-D"):
        build_dictionary(np.ones(4))
    with pytest.raises(ValueError, match="empty"):
        build_dictionary(np.ones((0, 4)))
    bad = rng.normal(size=(6, 4))
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="row 4"):
        build_dictionary(bad)


def test_l2_normalize_leaves_zero_rows_at_zero():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalize(X)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert np.isfinite(out).all()


def test_vocabulary_hash_depends_on_content_order_and_boundaries():
    assert vocabulary_hash(["a", "b"]) == vocabulary_hash(["a", "b"])
    assert vocabulary_hash(["a", "b"]) != vocabulary_hash(["b", "a"])
    assert vocabulary_hash(["ab", "c"]) != vocabulary_hash(["a", "bc"])
    assert vocabulary_hash(["a"]) != vocabulary_hash(["a", "a"])


def test_embed_vocabulary_embeds_once_then_reads_memory_and_disk(tmp_path):
    CountingEmbedder.reset()
    emb = CountingEmbedder(dim=8)
    concepts = ["red", "car", "dog", "beach"]
    first = embed_vocabulary(emb, concepts, data_home=tmp_path)
    assert CountingEmbedder.n_calls == 1
    assert first.shape == (4, 8) and first.dtype == np.float32
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, emb.embed_text(concepts))
    CountingEmbedder.reset()

    again = embed_vocabulary(emb, concepts, data_home=tmp_path)
    assert CountingEmbedder.n_calls == 0  # in-process cache
    assert again is first

    clear_memory_cache()
    from_disk = embed_vocabulary(CountingEmbedder(dim=8), concepts, data_home=tmp_path)
    assert CountingEmbedder.n_calls == 0  # disk cache
    np.testing.assert_array_equal(from_disk, first)
    files = list((tmp_path / "dictionaries").iterdir())
    assert [f.suffix for f in files] == [".npz"]  # no temporary file left behind


def test_cache_is_keyed_by_embedder_vocabulary_and_size(tmp_path):
    CountingEmbedder.reset()
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "b"], data_home=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m2"), ["a", "b"], data_home=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "c"], data_home=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "b", "c"], data_home=tmp_path)
    assert CountingEmbedder.n_calls == 4
    assert len(list((tmp_path / "dictionaries").glob("*.npz"))) == 4
    p1 = dictionary_cache_path("m1", ["a", "b"], tmp_path)
    assert p1 != dictionary_cache_path("m1", ["a", "b", "c"], tmp_path)
    assert p1.name.startswith("m1-2-")


def test_cache_file_has_checked_header_and_loads_without_pickle(tmp_path):
    emb = CountingEmbedder(dim=6, key="model/with:odd chars")
    concepts = ["x", "y", "z"]
    embed_vocabulary(emb, concepts, data_home=tmp_path)
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    assert path.exists() and "/" not in path.name and ":" not in path.name
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["header"][()]))
        assert header["shape"] == [3, 6]
        assert header["key"] and header["sha256"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "tampered", "wrong_key"])
def test_corrupt_or_mismatched_cache_is_rebuilt_and_replaced(tmp_path, damage):
    emb = CountingEmbedder(dim=6)
    concepts = ["sun", "moon", "star"]
    good = np.array(embed_vocabulary(emb, concepts, data_home=tmp_path))
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    if damage == "garbage":
        path.write_bytes(b"this is not an npz file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "tampered":
        with np.load(path, allow_pickle=False) as npz:
            header, arr = npz["header"], np.array(npz["embeddings"])
        arr[1, 2] += 1.0
        with open(path, "wb") as handle:
            np.savez(handle, embeddings=arr, header=header)
    else:
        other_emb = CountingEmbedder(dim=6, key="another-model")
        embed_vocabulary(other_emb, concepts, data_home=tmp_path)
        other = dictionary_cache_path(other_emb.cache_key(), concepts, tmp_path)
        path.write_bytes(other.read_bytes())

    clear_memory_cache()
    CountingEmbedder.reset()
    with pytest.warns(DictionaryCacheWarning, match=str(path.name)):
        rebuilt = embed_vocabulary(emb, concepts, data_home=tmp_path)
    assert CountingEmbedder.n_calls == 1
    np.testing.assert_array_equal(rebuilt, good)

    # The file was replaced by a good one: reading it again is silent.
    clear_memory_cache()
    CountingEmbedder.reset()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DictionaryCacheWarning)
        np.testing.assert_array_equal(embed_vocabulary(emb, concepts, data_home=tmp_path), good)
    assert CountingEmbedder.n_calls == 0


def test_failed_write_warns_and_leaves_no_file(tmp_path, monkeypatch):
    emb = CountingEmbedder(dim=4)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dictionary_module.np, "savez", boom)
    with pytest.warns(DictionaryCacheWarning, match="disk full"):
        out = embed_vocabulary(emb, ["a", "b"], data_home=tmp_path)
    np.testing.assert_array_equal(out, emb.embed_text(["a", "b"]))
    assert list((tmp_path / "dictionaries").iterdir()) == []  # no partial file
    CountingEmbedder.reset()
    embed_vocabulary(emb, ["a", "b"], data_home=tmp_path)  # served from memory
    assert CountingEmbedder.n_calls == 0


def test_keyless_embedder_is_cached_in_process_only(tmp_path):
    emb = KeylessEmbedder(dim=5)
    a = embed_vocabulary(emb, ["p", "q"], data_home=tmp_path)
    b = embed_vocabulary(emb, ["p", "q"], data_home=tmp_path)
    assert emb.n_calls == 1 and a is b
    assert not (tmp_path / "dictionaries").exists() or not any(
        (tmp_path / "dictionaries").iterdir()
    )
    # A different embedder object (possibly another model) is not confused with it.
    other = KeylessEmbedder(dim=5, seed=1)
    c = embed_vocabulary(other, ["p", "q"], data_home=tmp_path)
    assert other.n_calls == 1
    assert not np.array_equal(a, c)


def test_batches_and_embedder_output_checks(tmp_path):
    emb = KeylessEmbedder(dim=3)
    out = embed_vocabulary(emb, [f"w{i}" for i in range(10)], batch_size=4, disk_cache=False)
    assert emb.n_calls == 3 and out.shape == (10, 3)

    class WrongShape:
        def embed_text(self, texts):
            return np.ones((len(texts) + 1, 3))

    with pytest.raises(ValueError, match="expected"):
        embed_vocabulary(WrongShape(), ["a", "b"])

    class NaNs:
        def embed_text(self, texts):
            out = np.ones((len(texts), 3))
            out[1, 0] = np.nan
            return out

    with pytest.raises(ValueError, match="'b'"):
        embed_vocabulary(NaNs(), ["a", "b"])
    with pytest.raises(TypeError, match="embed_text"):
        embed_vocabulary(object(), ["a"])
    with pytest.raises(ValueError, match="empty"):
        embed_vocabulary(emb, [])
    with pytest.raises(TypeError, match="entry 1"):
        embed_vocabulary(emb, ["a", 3])


def test_cache_key_none_means_in_process_only(tmp_path):
    class NoneKey(KeylessEmbedder):
        def cache_key(self):
            return None

    emb = NoneKey(dim=4)
    embed_vocabulary(emb, ["a", "b"], data_home=tmp_path)
    embed_vocabulary(emb, ["a", "b"], data_home=tmp_path)
    assert emb.n_calls == 1
    assert not (tmp_path / "dictionaries").exists()
