"""Tests for sksplice.dictionary: building the concept dictionary and caching it."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

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


def _unit(v):
    """``v`` scaled to unit norm (a centre of 0.5 times it is a mean of unit vectors)."""
    return np.asarray(v, dtype=np.float64) / np.linalg.norm(v)


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
    with pytest.raises(ValueError, match=r"values in 1 row\(s\): 4$"):
        build_dictionary(bad)


def test_build_dictionary_makes_no_float64_copy_of_the_embeddings(rng):
    """Peak memory: the result and two float32 temporaries, no float64 widening."""
    import tracemalloc

    raw = rng.normal(size=(2000, 256)).astype(np.float32)
    build_dictionary(raw)  # warm-up: first-call allocations are not the function's
    tracemalloc.start()
    try:
        D, _ = build_dictionary(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert D.dtype == np.float32
    # 3 x raw.nbytes is the float32 floor (l2_normalize's quotient and masked copy beside
    # the centred rows); each float64 copy of the embeddings would add 2 x raw.nbytes.
    assert peak < 3.5 * raw.nbytes, (peak, raw.nbytes)


def test_dictionary_row_norms_are_summed_in_float64():
    """float32 rows whose squares overflow (1e20) or underflow (1e-25) float32."""
    X = np.array([[1e20, 2e20, 0.0], [0.0, 1e-25, 3e-25], [5.0, 0.0, 1.0]], np.float32)
    expected = np.linalg.norm(X.astype(np.float64), axis=1)
    np.testing.assert_allclose(dictionary_module._row_norms(X), expected, rtol=1e-15)
    wide = np.array([[3.0, 4.0]], np.longdouble)
    np.testing.assert_array_equal(dictionary_module._row_norms(wide), [5.0])


def test_l2_normalize_leaves_zero_rows_at_zero():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalize(X)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert np.isfinite(out).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_normalize_scales_huge_rows_instead_of_zeroing_them(dtype):
    # The squares of 1e20 overflow float32 (and of 1e200 float64): the norm was inf
    # and the row came back as zeros, so build_dictionary accepted it silently.
    big = 1e20 if dtype == np.float32 else 1e200
    X = np.array([[3 * big, 4 * big], [3.0, 4.0], [0.0, 0.0]], dtype)
    out = l2_normalize(X)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(l2_normalize(X.T, axis=0), out.T, rtol=1e-6)


def test_l2_normalize_of_finite_nonzero_rows_makes_no_extra_pass(monkeypatch):
    """Rows with finite norms are not checked entry by entry for infinities, and rows
    with none zero are not masked: two passes over the array fewer (8192 x 512 float32:
    8.3 ms instead of 13.1 ms), the same values; zero rows and overflowing rows are
    still handled (the tests above)."""
    from sksplice import _array

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 64)).astype(np.float32)
    expected = X / np.linalg.norm(X, axis=1, keepdims=True)
    passes = []
    isfinite, copyto = np.isfinite, np.copyto

    def counted_isfinite(x, *args, **kwargs):
        if np.shape(x) == X.shape:
            passes.append("isfinite")
        return isfinite(x, *args, **kwargs)

    def counted_copyto(dst, *args, **kwargs):
        if np.shape(dst) == X.shape:
            passes.append("copyto")
        return copyto(dst, *args, **kwargs)

    monkeypatch.setattr(_array.np, "isfinite", counted_isfinite)
    monkeypatch.setattr(_array.np, "copyto", counted_copyto)
    out = np.empty_like(X)
    l2_normalize(X, out=out)
    assert passes == []
    np.testing.assert_array_equal(out, X / np.linalg.norm(X, axis=1, keepdims=True))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    X[5] = 0.0  # a zero row: masked as before
    assert not l2_normalize(X)[5].any() and passes == ["copyto"]


def test_l2_normalize_is_importable_from_its_documented_module():
    from sksplice import _array

    # docs/transformer.md imports it from sksplice.dictionary; it lives in sksplice._array
    assert l2_normalize is _array.l2_normalize
    assert "l2_normalize" in dictionary_module.__all__
    tiny = np.array([[1e-13, 0.0], [3.0, 4.0]])
    np.testing.assert_array_equal(l2_normalize(tiny), [[0.0, 0.0], [0.6, 0.8]])


def test_vocabulary_hash_depends_on_content_order_and_boundaries():
    assert vocabulary_hash(["a", "b"]) == vocabulary_hash(["a", "b"])
    assert vocabulary_hash(["a", "b"]) != vocabulary_hash(["b", "a"])
    assert vocabulary_hash(["ab", "c"]) != vocabulary_hash(["a", "bc"])
    assert vocabulary_hash(["a"]) != vocabulary_hash(["a", "a"])


def test_embed_vocabulary_embeds_once_then_reads_memory_and_disk(tmp_path):
    CountingEmbedder.reset()
    emb = CountingEmbedder(dim=8)
    concepts = ["red", "car", "dog", "beach"]
    first = embed_vocabulary(emb, concepts, cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 1
    assert first.shape == (4, 8) and first.dtype == np.float32
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, emb.embed_text(concepts))
    CountingEmbedder.reset()

    again = embed_vocabulary(emb, concepts, cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 0  # in-process cache
    assert again is first

    clear_memory_cache()
    from_disk = embed_vocabulary(CountingEmbedder(dim=8), concepts, cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 0  # disk cache
    np.testing.assert_array_equal(from_disk, first)
    files = list((tmp_path / "dictionaries").iterdir())
    assert [f.suffix for f in files] == [".npz"]  # no temporary file left behind


def test_cache_is_keyed_by_embedder_vocabulary_and_size(tmp_path):
    CountingEmbedder.reset()
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "b"], cache_dir=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m2"), ["a", "b"], cache_dir=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "c"], cache_dir=tmp_path)
    embed_vocabulary(CountingEmbedder(dim=8, key="m1"), ["a", "b", "c"], cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 4
    assert len(list((tmp_path / "dictionaries").glob("*.npz"))) == 4
    p1 = dictionary_cache_path("m1", ["a", "b"], tmp_path)
    assert p1 != dictionary_cache_path("m1", ["a", "b", "c"], tmp_path)
    assert p1.name.startswith("m1-2-")


@pytest.mark.parametrize(
    ("cache_key", "concepts", "name"),
    [
        (
            "open_clip/ViT-B-32/laion2b_s34b_b79k",
            ["dog", "cat"],
            "open_clip_ViT-B-32_laion2b_s34b_b79k-2-4fcc0a9825bd59146ef5.npz",
        ),
        (
            "sentence-transformers/all-MiniLM-L6-v2",
            ["a"],
            "sentence-transformers_all-MiniLM-L6-v2-1-de1d004281ddd28e3ada.npz",
        ),
        (
            "..hf-hub:org/\u00fc model//x_" + "y" * 60,
            ["b", "c", "d"],
            "hf-hub_org_model_x_yyyyyyyyyyyyyyyyyyyyyyyyyyyyy-3-84fcb9341b30d552d482.npz",
        ),
        ("._", ["x"], "embedder-1-e9d5cffb443d51c450ec.npz"),
    ],
)
def test_cache_file_names_stay_those_of_files_already_written(tmp_path, cache_key, concepts, name):
    # Names written by earlier releases: a changed name would orphan every cached dictionary.
    path = dictionary_cache_path(cache_key, concepts, tmp_path)
    assert path == tmp_path / "dictionaries" / name


def test_a_cache_file_of_another_layout_gets_another_name(tmp_path, monkeypatch):
    # Two installed versions of another layout sharing one cache folder replaced each
    # other's file on every run (each read the other's as damaged and wrote its own).
    import sksplice.dictionary as dictionary

    concepts = ["dog", "cat"]
    first = dictionary_cache_path("open_clip/ViT-B-32/laion2b_s34b_b79k", concepts, tmp_path)
    emb = CountingEmbedder(dim=4, key="m")
    embed_vocabulary(emb, concepts, cache_dir=tmp_path)
    monkeypatch.setattr(dictionary, "_FORMAT_VERSION", 2)
    second = dictionary_cache_path("open_clip/ViT-B-32/laion2b_s34b_b79k", concepts, tmp_path)
    assert second != first and second.name.startswith("open_clip_ViT-B-32_laion2b_s34b_b79k-2-")
    dictionary.clear_memory_cache()
    CountingEmbedder.reset()
    embed_vocabulary(emb, concepts, cache_dir=tmp_path)  # (a file of its own, written beside)
    assert CountingEmbedder.n_calls == 1
    assert len(list((tmp_path / "dictionaries").glob("*.npz"))) == 2


def test_cache_file_has_checked_header_and_loads_without_pickle(tmp_path):
    emb = CountingEmbedder(dim=6, key="model/with:odd chars")
    concepts = ["x", "y", "z"]
    embed_vocabulary(emb, concepts, cache_dir=tmp_path)
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
    good = np.array(embed_vocabulary(emb, concepts, cache_dir=tmp_path))
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
        embed_vocabulary(other_emb, concepts, cache_dir=tmp_path)
        other = dictionary_cache_path(other_emb.cache_key(), concepts, tmp_path)
        path.write_bytes(other.read_bytes())

    clear_memory_cache()
    CountingEmbedder.reset()
    with pytest.warns(DictionaryCacheWarning, match=str(path.name)):
        rebuilt = embed_vocabulary(emb, concepts, cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 1
    np.testing.assert_array_equal(rebuilt, good)

    # The file was replaced by a good one: reading it again is silent.
    clear_memory_cache()
    CountingEmbedder.reset()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DictionaryCacheWarning)
        np.testing.assert_array_equal(embed_vocabulary(emb, concepts, cache_dir=tmp_path), good)
    assert CountingEmbedder.n_calls == 0


def test_failed_write_warns_and_leaves_no_file(tmp_path, monkeypatch):
    emb = CountingEmbedder(dim=4)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dictionary_module.np, "savez", boom)
    with pytest.warns(DictionaryCacheWarning, match="disk full"):
        out = embed_vocabulary(emb, ["a", "b"], cache_dir=tmp_path)
    np.testing.assert_array_equal(out, emb.embed_text(["a", "b"]))
    assert list((tmp_path / "dictionaries").iterdir()) == []  # no partial file
    CountingEmbedder.reset()
    embed_vocabulary(emb, ["a", "b"], cache_dir=tmp_path)  # served from memory
    assert CountingEmbedder.n_calls == 0


def test_keyless_embedder_is_cached_in_process_only(tmp_path):
    emb = KeylessEmbedder(dim=5)
    a = embed_vocabulary(emb, ["p", "q"], cache_dir=tmp_path)
    b = embed_vocabulary(emb, ["p", "q"], cache_dir=tmp_path)
    assert emb.n_calls == 1 and a is b
    assert not (tmp_path / "dictionaries").exists() or not any(
        (tmp_path / "dictionaries").iterdir()
    )
    # A different embedder object (possibly another model) is not confused with it.
    other = KeylessEmbedder(dim=5, seed=1)
    c = embed_vocabulary(other, ["p", "q"], cache_dir=tmp_path)
    assert other.n_calls == 1
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["unhashable", "slots"])
def test_a_new_keyless_embedder_never_gets_a_dead_ones_dictionary(kind):
    # The in-process entry of an embedder without cache_key belongs to that object: a
    # new object that reuses the id of a freed one (CPython reuses ids at once) is
    # another model. Unhashable (a dataclass with eq=True) and slotted objects (no
    # weak reference) included.
    import dataclasses
    import gc

    @dataclasses.dataclass
    class Unhashable:
        seed: int

        def embed_text(self, texts):
            rng = np.random.default_rng([self.seed, len(texts)])
            return rng.normal(size=(len(texts), 6))

    class Slotted:
        __slots__ = ("seed",)

        def __init__(self, seed):
            self.seed = seed

        def embed_text(self, texts):
            rng = np.random.default_rng([self.seed, len(texts)])
            return rng.normal(size=(len(texts), 6))

    make = Unhashable if kind == "unhashable" else Slotted
    concepts = [f"c{i}" for i in range(5)]
    ids, wrong = set(), []
    for seed in range(30):
        emb = make(seed)
        ids.add(id(emb))
        got = embed_vocabulary(emb, concepts, disk_cache=False)
        if not np.array_equal(got, emb.embed_text(concepts).astype(np.float32)):
            wrong.append(seed)
        assert embed_vocabulary(emb, concepts, disk_cache=False) is got  # (still cached)
        del emb, got
        gc.collect()
    assert wrong == []
    if kind == "unhashable":
        # Freed at once (the entry holds a weak reference): ids were reused, so the
        # case in point happened.
        assert len(ids) < 30
    else:
        # No weak reference: the entry holds the object, so its id cannot be taken
        # by a new object while the entry lives (whether CPython reuses an id once
        # the entry is evicted depends on allocation, so the loop cannot show it).
        from sksplice.dictionary import _Same

        probe = make(99)
        key = _Same(probe)
        del probe
        gc.collect()
        held = key._get()
        assert isinstance(held, make) and held.seed == 99
        assert key == _Same(held) and key != _Same(make(99))


def test_memory_cache_keeps_the_eight_most_recently_used(tmp_path):
    emb = KeylessEmbedder(dim=4)
    vocabularies = [[f"red{i}", f"car{i}"] for i in range(9)]

    def embed(i):
        return embed_vocabulary(emb, vocabularies[i], cache_dir=tmp_path, disk_cache=False)

    for i in range(8):
        embed(i)
    embed(0)  # read again: now the most recently used
    embed(8)  # a ninth drops the least recently used, 1
    assert emb.n_calls == 9
    for i in (0, *range(2, 9)):
        embed(i)
    assert emb.n_calls == 9
    embed(1)
    assert emb.n_calls == 10


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
    embed_vocabulary(emb, ["a", "b"], cache_dir=tmp_path)
    embed_vocabulary(emb, ["a", "b"], cache_dir=tmp_path)
    assert emb.n_calls == 1
    assert not (tmp_path / "dictionaries").exists()


# ----------------------------------------------------- crafted and oversized cache files
def _craft_cache(path, key: str, array: np.ndarray, *, compress: bool = False) -> None:
    """Write a cache file whose header (key, shape, digest) is valid for ``array``."""
    header = {
        "format": dictionary_module._FORMAT_VERSION,
        "key": key,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sha256": dictionary_module._array_digest(array),
    }
    save = np.savez_compressed if compress else np.savez
    with open(path, "wb") as handle:
        save(handle, embeddings=array, header=np.array(json.dumps(header)))


@pytest.mark.parametrize("bad", ["nan", "inf", "float16", "float64", "int8", "bool", "fortran"])
def test_crafted_cache_with_valid_digest_is_rebuilt(tmp_path, bad):
    emb = CountingEmbedder(dim=6)
    concepts = ["sun", "moon", "star", "sky"]
    good = np.array(embed_vocabulary(emb, concepts, cache_dir=tmp_path))
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    key = dictionary_module._disk_key(emb.cache_key(), concepts)
    if bad in ("nan", "inf"):
        array = good.copy()
        array[2, 1] = np.nan if bad == "nan" else np.inf
    elif bad == "fortran":
        array = np.asfortranarray(good)
    else:
        array = good.astype(bad)
    _craft_cache(path, key, array)

    clear_memory_cache()
    CountingEmbedder.reset()
    with pytest.warns(DictionaryCacheWarning, match=path.name) as record:
        rebuilt = embed_vocabulary(emb, concepts, cache_dir=tmp_path)
    assert str(path) in str(record[0].message)
    assert CountingEmbedder.n_calls == 1
    np.testing.assert_array_equal(rebuilt, good)
    clear_memory_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(embed_vocabulary(emb, concepts, cache_dir=tmp_path), good)


def test_cache_of_the_wrong_width_is_rebuilt_by_the_transformer(tmp_path):
    from sksplice import SpliceTransformer

    emb = CountingEmbedder(dim=6)
    concepts = [f"c{i}" for i in range(5)]
    good = np.array(embed_vocabulary(emb, concepts, cache_dir=tmp_path))
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    key = dictionary_module._disk_key(emb.cache_key(), concepts)
    _craft_cache(path, key, np.ascontiguousarray(good[:, :4]))  # a valid digest, 4 columns

    clear_memory_cache()
    CountingEmbedder.reset()
    X = np.random.default_rng(0).normal(size=(8, 6))
    splice = SpliceTransformer(emb, vocabulary=concepts, cache_dir=tmp_path, device="cpu")
    with pytest.warns(DictionaryCacheWarning, match=r"shape \(5, 4\); expected \(5, 6\)"):
        splice.fit(X)
    assert CountingEmbedder.n_calls == 1
    assert splice.dictionary_.shape == (5, 6)


def _write_bomb(path, key: str, n_rows: int, n_cols: int) -> None:
    """A cache file whose deflated array entry inflates to an all-zero (n_rows, n_cols) array.

    The entry is streamed through zipfile's compressor in chunks, so the test never
    holds the inflated array either.
    """
    import zipfile

    header = {
        "format": dictionary_module._FORMAT_VERSION,
        "key": key,
        "shape": [n_rows, n_cols],
        "dtype": "float32",
        "sha256": "0" * 64,
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        # The header entry is stored as the writer stores it; only the array is deflated.
        with zf.open(zipfile.ZipInfo("header.npy"), "w") as fh:
            np.lib.format.write_array(fh, np.array(json.dumps(header)))
        with zf.open("embeddings.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "<f4", "fortran_order": False, "shape": (n_rows, n_cols)}
            )
            chunk = bytes(1 << 22)
            remaining = n_rows * n_cols * 4
            while remaining:
                fh.write(chunk[: min(len(chunk), remaining)])
                remaining -= min(len(chunk), remaining)


def test_cache_declaring_a_huge_array_is_refused_before_inflating_it(tmp_path):
    import time
    import tracemalloc

    emb = CountingEmbedder(dim=6)
    concepts = ["sun", "moon", "star"]
    good = np.array(embed_vocabulary(emb, concepts, cache_dir=tmp_path))
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    key = dictionary_module._disk_key(emb.cache_key(), concepts)
    n_cols = (256 << 20) // (4 * len(concepts))  # 256 MiB once inflated
    _write_bomb(path, key, len(concepts), n_cols)
    assert path.stat().st_size < 2 << 20  # under 2 MB on disk

    clear_memory_cache()
    CountingEmbedder.reset()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.warns(DictionaryCacheWarning, match="'embeddings' is compressed"):
            rebuilt = embed_vocabulary(emb, concepts, cache_dir=tmp_path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(rebuilt, good)
    assert CountingEmbedder.n_calls == 1
    assert peak < 16 << 20, f"{peak} bytes allocated while reading the cache"
    assert elapsed < 5.0


def test_cache_of_an_absurd_width_is_refused(tmp_path):
    emb = CountingEmbedder(dim=6)
    concepts = ["sun", "moon"]
    good = np.array(embed_vocabulary(emb, concepts, cache_dir=tmp_path))
    path = dictionary_cache_path(emb.cache_key(), concepts, tmp_path)
    key = dictionary_module._disk_key(emb.cache_key(), concepts)
    wide = np.ones((2, dictionary_module._MAX_CACHED_DIM + 1), dtype=np.float32)
    _craft_cache(path, key, wide)
    clear_memory_cache()
    with pytest.warns(DictionaryCacheWarning, match="d must be 1 to 16384"):
        np.testing.assert_array_equal(embed_vocabulary(emb, concepts, cache_dir=tmp_path), good)


# ------------------------------------------------------------ stale temporary files
_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from sksplice import dictionary
sys.path.insert(0, sys.argv[2])
from tests._helpers_transformer import CountingEmbedder

def dying_savez(handle, **arrays):
    handle.write(b"x" * 100_000)
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)

dictionary.np.savez = dying_savez
dictionary.embed_vocabulary(CountingEmbedder(dim=6), ["sun", "moon"], cache_dir=sys.argv[1])
"""


def test_temporary_file_of_a_killed_writer_is_removed_by_the_next_build(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(repo)],
        cwd=repo,
        stderr=subprocess.PIPE,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err.decode(errors="replace")
    emb = CountingEmbedder(dim=6)
    path = dictionary_cache_path(emb.cache_key(), ["sun", "moon"], tmp_path)
    left = [p.name for p in path.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".{path.name}.{proc.pid}.")
    assert left[0].endswith(".tmp") and not path.exists()

    embed_vocabulary(emb, ["sun", "moon"], cache_dir=tmp_path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_stale_temporary_rule(tmp_path):
    import time

    from sksplice import _atomic
    from sksplice._atomic import remove_stale_temporaries, temporary_name

    from ._helpers_faults import dead_writers_name

    target = tmp_path / "cache.npz"
    now = time.time()

    def make(name: str, age: float):
        p = tmp_path / name
        p.write_bytes(b"partial")
        os.utime(p, (now - age, now - age))
        return p

    dead_old = make(dead_writers_name("cache.npz"), 60)
    live_old = make(temporary_name("cache.npz"), 60)  # this process: still writing
    legacy_recent = make(".cache.npz.0123456789ab.tmp", 60)
    legacy_ancient = make(".cache.npz.ba9876543210.tmp", 7200)
    dead_new = make(dead_writers_name("cache.npz"), -30)  # written after the build started
    other = make(dead_writers_name("other.npz"), 60)
    # Written on another machine sharing the folder: its process id means nothing
    # here, so only its age counts (a download there may still be running).
    elsewhere = dead_writers_name("cache.npz")
    elsewhere = elsewhere.replace(f".{_atomic._host()}.", ".another-machine.")
    assert "another-machine" in elsewhere
    remote_recent = make(elsewhere, 60)
    remote_ancient = make(elsewhere.replace(".another-machine.", ".third-machine."), 7200)

    remove_stale_temporaries(target, started=now)
    remaining = {p for p in tmp_path.iterdir()}
    assert remaining == {live_old, legacy_recent, dead_new, other, remote_recent}
    assert not dead_old.exists() and not legacy_ancient.exists()
    assert not remote_ancient.exists()


# ---------------------------------------------- concepts without a direction (item 12)
def test_zero_concept_embedding_is_refused_naming_the_concept(rng):
    raw = rng.normal(size=(5, 4))
    raw[3] = 0.0
    with pytest.raises(ValueError, match=r"'moon' \(row 3\) is a zero vector"):
        build_dictionary(raw, ["a", "b", "c", "moon", "e"])
    with pytest.raises(ValueError, match="row 3"):
        build_dictionary(raw)


def test_one_concept_or_identical_concepts_are_refused(rng):
    with pytest.raises(ValueError, match=r"'alone'.*a vocabulary of one concept"):
        build_dictionary(rng.normal(size=(1, 4)), ["alone"])
    same = np.tile(rng.normal(size=(1, 4)), (3, 1)) * np.array([[1.0], [2.0], [0.5]])
    with pytest.raises(ValueError, match=r"'x' \(row 0\) coincides with the mean"):
        build_dictionary(same, ["x", "y", "z"])
    with pytest.raises(ValueError, match="2 concept names"):
        build_dictionary(rng.normal(size=(3, 4)), ["x", "y"])


def test_transformer_names_the_concept_without_a_direction(rng):
    from sksplice import SpliceTransformer

    X = rng.normal(size=(10, 4))
    raw = rng.normal(size=(4, 4))
    raw[2] = 0.0
    splice = SpliceTransformer(
        vocabulary=["sun", "moon", "blank", "sky"], concept_embeddings=raw, device="cpu"
    )
    with pytest.raises(ValueError, match="'blank'"):
        splice.fit(X)
    lonely = SpliceTransformer(
        vocabulary=["sun"], concept_embeddings=raw[:1], device="cpu", vocabulary_size=None
    )
    with pytest.raises(ValueError, match=r"'sun'.*one concept"):
        lonely.fit(X)


# ------------------------------------------------------------------- the cache folder
def test_cache_folder_argument_environment_and_default(tmp_path, monkeypatch):
    import platformdirs

    from sksplice._data import CACHE_DIR_ENV, get_cache_dir

    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from_env"))
    assert get_cache_dir() == tmp_path / "from_env"
    assert get_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert (tmp_path / "arg").is_dir()
    monkeypatch.setenv(CACHE_DIR_ENV, "  ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    expected = Path(platformdirs.user_cache_dir("sksplice", appauthor=False)).absolute()
    assert get_cache_dir() == expected
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="pass another cache_dir or set"):
        get_cache_dir(tmp_path / "file")
    with pytest.raises(TypeError, match="cache_dir"):
        get_cache_dir(3)


def test_dictionary_cache_goes_to_the_cache_folder_not_the_data_home(
    tmp_path, monkeypatch, tiny_clip_model
):
    """The data home may be read-only and shared: the CLI and the estimator write the
    embedded vocabulary under --cache-dir / cache_dir / $SKSPLICE_CACHE only."""
    from PIL import Image

    from sksplice import cli

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(images / f"{i}.png")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["red", "dog", "car", "sky", "tree"]) + "\n", encoding="utf-8")
    home, cache, env_cache = tmp_path / "home", tmp_path / "cache", tmp_path / "env_cache"
    home.mkdir()
    monkeypatch.setenv("SKSPLICE_CACHE", str(env_cache))
    args = ["decompose", str(images), "--model", tiny_clip_model, "--pretrained", "none"]
    args += [
        "--vocabulary",
        str(vocab),
        "--device",
        "cpu",
        "--quiet",
        "-o",
        str(tmp_path / "out.csv"),
    ]
    assert cli.main([*args, "--data-home", str(home), "--cache-dir", str(cache)]) == 0
    assert len(list((cache / "dictionaries").glob("*.npz"))) == 1
    assert list(home.iterdir()) == []
    assert not env_cache.exists()
    clear_memory_cache()
    assert cli.main([*args, "--data-home", str(home)]) == 0
    assert len(list((env_cache / "dictionaries").glob("*.npz"))) == 1
    assert list(home.iterdir()) == []


def test_a_default_cache_folder_that_cannot_be_made_is_warned_about(tmp_path, monkeypatch):
    # A read-only home (or a file where the cache folder goes) must not stop the run:
    # the dictionary is embedded and kept in memory, as for a folder that takes no file.
    from sksplice.cli._checks import _check_cache_dir

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.delenv("SKSPLICE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    _check_cache_dir(None)  # (the command line's check lets the run go on)
    emb = CountingEmbedder(dim=4)
    with pytest.warns(DictionaryCacheWarning, match=r"Cannot create the sksplice cache folder"):
        out = embed_vocabulary(emb, ["a", "b"])
    np.testing.assert_array_equal(out, emb.embed_text(["a", "b"]))
    assert not (blocker.parent / "cache").exists()
    with pytest.raises(OSError, match="Cannot create the sksplice cache folder"):
        embed_vocabulary(CountingEmbedder(dim=4, key="other"), ["a"], cache_dir=blocker / "x")
    # a folder chosen through $SKSPLICE_CACHE is a choice too: its error stands
    monkeypatch.setenv("SKSPLICE_CACHE", str(blocker))
    from sksplice.cli._logging import CLIError

    with pytest.raises(CLIError, match=r"^\$SKSPLICE_CACHE \(.*\) is a file, not a folder; set"):
        _check_cache_dir(None)
    with pytest.raises(OSError, match="exists but is not a folder"):
        embed_vocabulary(CountingEmbedder(dim=4, key="third"), ["a"])


def test_duplicate_concepts_finds_rows_of_one_direction_only(rng):
    from sksplice.dictionary import duplicate_concepts

    X = rng.standard_normal((3000, 64)).astype(np.float32)
    X[10] = 3.0 * X[2]  # the same direction, another length
    X[2999] = X[2] + 1e-5 * rng.standard_normal(64).astype(np.float32)  # round-off apart
    X[500] = X[7]
    close = X[40] + 0.05 * np.linalg.norm(X[40]) / 8 * rng.standard_normal(64)
    X[41] = close  # a near neighbour (cosine about 0.999), not the same concept
    X[42] = 0.0  # zero rows are left out
    X[43] = 0.0
    assert float(X[40] @ X[41] / np.linalg.norm(X[40]) / np.linalg.norm(X[41])) < 1 - 1e-4
    assert duplicate_concepts(X) == [[2, 10, 2999], [7, 500]]
    assert duplicate_concepts(X[:5]) == []
    assert duplicate_concepts(X[:1]) == []


def test_transformer_warns_of_concepts_with_the_same_embedding(rng):
    from sksplice import SpliceTransformer
    from sksplice.exceptions import DuplicateConceptWarning

    concepts = ["dog", "Dog", "cat", "tree", "car", "sea", "a" * 60, "a" * 60 + "b"]
    raw = rng.standard_normal((len(concepts), 16)).astype(np.float32)
    raw[1] = raw[0]
    raw[7] = raw[6]
    mean = 0.5 * _unit(rng.standard_normal(16))
    splice = SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, image_mean=mean)
    said = r"2 concepts of the vocabulary have.*'dog' = 'Dog'"
    with pytest.warns(DuplicateConceptWarning, match=said) as caught:
        splice.fit(rng.standard_normal((5, 16)))
    (warning,) = [w.message for w in caught if isinstance(w.message, DuplicateConceptWarning)]
    assert warning.groups == [("dog", "Dog"), ("a" * 60, "a" * 60 + "b")]
    assert "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'" in str(warning)
    # (MiniLM's tokenizer strips accents: 'a' = 'à' of LAION's words is explained too)
    assert "strips its accents" in str(warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateConceptWarning)
        SpliceTransformer(
            vocabulary=concepts[:6], concept_embeddings=raw[[0, 2, 3, 4, 5, 6]], image_mean=mean
        ).fit(rng.standard_normal((5, 16)))


@pytest.mark.parametrize("solver", ["admm", "working_set"])
def test_the_weight_of_concepts_embedded_alike_is_split_equally(rng, solver):
    # The solvers split a weight between two equal dictionary rows as they came to
    # it (0.3997 and 0.3994, or all to one): which concept "explained" a row depended
    # on the batch and the solver. Now each gets an equal share, in transform and in
    # splice_path alike; the sum, and every other weight, stays as solved.
    from sksplice import SpliceTransformer, splice_path
    from sksplice.exceptions import DuplicateConceptWarning

    raw = rng.standard_normal((7, 16))
    raw = np.vstack([raw, raw[2], raw[2], raw[4] * (1 + 1e-9)])  # (c9: nearly c4's direction)
    concepts = [f"c{i}" for i in range(10)]
    X = raw[2] * 0.8 + raw[4] * 0.3 + 0.05 * rng.standard_normal((6, 16))
    splice = SpliceTransformer(
        vocabulary=concepts,
        concept_embeddings=raw,
        l1_penalty=0.1,
        solver=solver,
        image_mean=np.zeros(16),
        device="cpu",
    )
    with pytest.warns(DuplicateConceptWarning, match="is split equally between its concepts"):
        splice.fit(X)
    for dtype in (np.float64, np.float32):
        W = splice.transform(X.astype(dtype)).toarray()
        assert W.dtype == dtype and (W[:, 2] > 0).all()
        assert np.array_equal(W[:, 2], W[:, 7]) and np.array_equal(W[:, 2], W[:, 8])
    # the solver's own weights: the same sum over the group, the others bit for bit
    solved = splice._solve(splice._targets(X), splice.l1_penalty_).to_csr().toarray()
    W = splice.transform(X).toarray()
    assert not np.array_equal(solved[:, 2], solved[:, 7])  # (its split was its own)
    np.testing.assert_allclose(W[:, [2, 7, 8]].sum(axis=1), solved[:, [2, 7, 8]].sum(axis=1))
    others = [0, 1, 3, 4, 5, 6, 9]
    np.testing.assert_array_equal(W[:, others], solved[:, others])
    path = splice_path(splice, X, [0.1, 0.05])
    for penalty, W in zip((0.1, 0.05), path.weights, strict=True):
        W = W.toarray()
        assert np.array_equal(W[:, 2], W[:, 7]) and np.array_equal(W[:, 2], W[:, 8])
        if penalty == 0.1:
            np.testing.assert_allclose(W, splice.transform(X).toarray(), atol=1e-6)


@pytest.mark.parametrize("all_to_first", [False, True])
def test_target_l0_counts_the_weights_as_transform_gives_them(rng, monkeypatch, all_to_first):
    # Every concept is embedded three times. The solvers here weight every copy, but a
    # solver may give a copy's weight to the first (the authors' does): the calibration
    # counts the l0 of the split weights that transform returns, not the solver's (a
    # third of it then).
    import scipy.sparse

    from sksplice import SpliceTransformer
    from sksplice.exceptions import DuplicateConceptWarning

    distinct = rng.standard_normal((20, 16))
    raw = np.repeat(distinct, 3, axis=0)
    X = rng.random((200, 20)) ** 4 @ distinct + 0.1 * rng.standard_normal((200, 16))
    splice = SpliceTransformer(
        vocabulary=[f"c{i}" for i in range(60)],
        concept_embeddings=raw,
        target_l0=9,
        image_mean=np.zeros(16),
        device="cpu",
    )
    if all_to_first:
        solve = SpliceTransformer._solve
        to_first = scipy.sparse.csr_matrix(np.kron(np.eye(20), [[1, 0, 0]] * 3))

        class FirstCopy:  # (the solver's codes, each copy's weight given to the first)
            def __init__(self, codes):
                self.codes = codes

            def __getattr__(self, name):
                return getattr(self.codes, name)

            def to_csr(self):
                return scipy.sparse.csr_matrix(self.codes.to_csr() @ to_first)

            def l0(self):
                return self.to_csr().getnnz(axis=1)

        def first_copy(self, V, penalty, warm_start=None, **kwargs):
            warm_start = getattr(warm_start, "codes", warm_start)
            return FirstCopy(solve(self, V, penalty, warm_start=warm_start, **kwargs))

        monkeypatch.setattr(SpliceTransformer, "_solve", first_copy)
    with pytest.warns(DuplicateConceptWarning):
        splice.fit(X)
    l0 = splice.transform(X).getnnz(axis=1)
    assert abs(splice.calibration_l0_ - 9) <= 0.9 and abs(l0.mean() - 9) <= 0.9
    assert (l0 % 3 == 0).all()  # (every copy of a concept weighted, or none)


def test_splitting_duplicates_keeps_other_weights_bit_for_bit():
    import scipy.sparse

    from sksplice.dictionary import exact_duplicate_columns, split_duplicate_weights

    D = np.arange(20.0).reshape(5, 4)
    D[3] = D[1]
    D[4] = D[0] * (1 + 1e-12)  # (nearly the same: left to the solver)
    columns = exact_duplicate_columns(D, [[1, 3], [0, 4]])
    assert [c.tolist() for c in columns] == [[1, 3]]
    W = scipy.sparse.csr_matrix(
        np.array([[0.1, 0.7, 0.3, 0.0, 0.2], [0.0, 0.0, 0.5, 0.0, 0.0], [0.0, 0.1, 0.0, 0.2, 0.0]])
    )
    out = split_duplicate_weights(W, columns).toarray()
    np.testing.assert_array_equal(out[:, [0, 2, 4]], W.toarray()[:, [0, 2, 4]])
    np.testing.assert_allclose(out[:, [1, 3]], [[0.35, 0.35], [0, 0], [0.15, 0.15]])
    assert out[1, 1] == 0 and split_duplicate_weights(W, []) is W


def test_clip_case_variants_and_cut_concepts_are_named(tiny_clip_model, tmp_path):
    # open_clip's tokenizer lower-cases, and cuts texts at 77 tokens.
    from sksplice import CLIPEmbedder, SpliceTransformer
    from sksplice.exceptions import DuplicateConceptWarning

    long = " ".join(["word"] * 80)
    concepts = ["dog", "Dog", "cat", "a tree", long + " red car", long + " blue bird"]
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    X = embedder.embed_text(["a photo"])
    splice = SpliceTransformer(embedder, vocabulary=concepts, image_mean=X[0], cache_dir=tmp_path)
    with pytest.warns(DuplicateConceptWarning) as caught:
        splice.fit(X)
    (warning,) = [w.message for w in caught if isinstance(w.message, DuplicateConceptWarning)]
    assert warning.groups == [("dog", "Dog"), (long + " red car", long + " blue bird")]


def test_a_sweep_over_sizes_embeds_each_concept_once(tmp_path):
    # The first k concepts of a longer list reuse a cached beginning of it: cut from a
    # longer one, or a shorter one with only the concepts after it embedded.
    full = [f"concept {i}" for i in range(12_500)]
    embedder = CountingEmbedder(dim=8, key="sweep")
    direct = embedder.embed_text(full)
    clear_memory_cache()
    counts = []
    for k in (1000, 5000, 10_000, 2000, 4321):
        CountingEmbedder.reset()
        raw = embed_vocabulary(embedder, full[:k], cache_dir=tmp_path, prefix_of=full)
        counts.append(CountingEmbedder.n_texts)
        np.testing.assert_array_equal(raw, direct[:k])
    # 1,000; then the 4,000 after them; then 5,000; then none (cut from 5,000, as is
    # 4,321: the sizes of this process count too)
    assert counts == [1000, 4000, 5000, 0, 0]
    # Another process: the files on disk (1,000, 5,000 and 10,000 concepts) serve.
    clear_memory_cache()
    dictionary_module._prefix_sizes_seen.clear()
    CountingEmbedder.reset()
    np.testing.assert_array_equal(
        embed_vocabulary(embedder, full[:3500], cache_dir=tmp_path, prefix_of=full), direct[:3500]
    )
    assert CountingEmbedder.n_texts == 0
    CountingEmbedder.reset()
    np.testing.assert_array_equal(
        embed_vocabulary(embedder, full[:11_000], cache_dir=tmp_path, prefix_of=full),
        direct[:11_000],
    )
    assert CountingEmbedder.n_texts == 1000
    # A list that does not begin the longer one is embedded as it is.
    CountingEmbedder.reset()
    other = ["other", *full[1:999]]
    embed_vocabulary(embedder, other, cache_dir=tmp_path, prefix_of=full)
    assert CountingEmbedder.n_texts == 999
    # Without a disk cache only this process's arrays serve.
    clear_memory_cache()
    CountingEmbedder.reset()
    embed_vocabulary(embedder, full[:2000], disk_cache=False, prefix_of=full)
    assert CountingEmbedder.n_texts == 2000


def test_the_transformer_reuses_a_longer_cached_beginning_of_its_vocabulary(tmp_path):
    from sksplice import SpliceTransformer

    path = tmp_path / "concepts.txt"
    path.write_text("\n".join(f"word {i}" for i in range(3000)), encoding="utf-8")
    embedder = CountingEmbedder(dim=8, key="sweep-file")
    X = np.random.default_rng(0).standard_normal((4, 8))
    centre = 0.5 * _unit(X[0])
    clear_memory_cache()
    CountingEmbedder.reset()
    big = SpliceTransformer(embedder, vocabulary=path, image_mean=centre, cache_dir=tmp_path).fit(X)
    assert CountingEmbedder.n_texts == 3000
    CountingEmbedder.reset()
    small = SpliceTransformer(
        embedder, vocabulary=path, vocabulary_size=1000, image_mean=centre, cache_dir=tmp_path
    ).fit(X)
    assert CountingEmbedder.n_texts == 0
    assert list(small.concepts_) == list(big.concepts_[:1000])


class _LoadingEmbedder(CountingEmbedder):
    """An embedder whose width is known by loading its model, counted (as
    SentenceTransformerEmbedder's get_embedding_dimension)."""

    loads = 0

    def get_embedding_dimension(self) -> int:
        type(self).loads += 1
        return self.dim


def test_a_beginning_cached_at_any_size_serves_a_shorter_vocabulary_without_the_model(tmp_path):
    """A vocabulary of 2,048 concepts cached by another process: a transformer of its
    first 1,000 read them, but loaded the model first to learn its width (a fit with
    MiniLM: 2.9 s, against 0.09 s without), and 1,500 were embedded again (2,048 is not
    one of the PREFIX_SIZES, and the sizes of the other process were not known)."""
    from sksplice import SpliceTransformer

    words = [f"word {i}" for i in range(3000)]
    embedder = _LoadingEmbedder(dim=8, key="any-size")
    X = np.random.default_rng(0).standard_normal((4, 8))
    centre = 0.5 * _unit(X[0])
    clear_memory_cache()
    embed_vocabulary(embedder, words[:2048], cache_dir=tmp_path)
    for size in (1000, 1500):
        clear_memory_cache()  # (another process: nothing in memory, no sizes seen)
        _LoadingEmbedder.reset()
        _LoadingEmbedder.loads = 0
        fitted = SpliceTransformer(
            embedder, vocabulary=words, vocabulary_size=size, image_mean=centre, cache_dir=tmp_path
        ).fit(X)
        assert (_LoadingEmbedder.n_texts, _LoadingEmbedder.loads) == (0, 0)
        assert list(fitted.concepts_) == words[:size]
    # beyond the cached beginning the model is needed, and its width checked first
    clear_memory_cache()
    _LoadingEmbedder.reset()
    SpliceTransformer(
        embedder, vocabulary=words, vocabulary_size=2500, image_mean=centre, cache_dir=tmp_path
    ).fit(X)
    assert (_LoadingEmbedder.n_texts, _LoadingEmbedder.loads) == (452, 1)


@pytest.mark.parametrize("size", [2048, 1000])
def test_embeddings_of_another_width_than_a_cached_dictionary_are_refused_first(tmp_path, size):
    """X 5 wide, the cached dictionary (of these concepts, or a longer beginning of
    them) 8 wide: the cache was passed over as of another width, and every concept
    embedded and cached again, before X's width was refused (MiniLM, 600 concepts:
    10 s, against an error at once without a cache)."""
    from sksplice import SpliceTransformer

    words = [f"word {i}" for i in range(3000)]
    embedder = _LoadingEmbedder(dim=8, key="cached-width")
    clear_memory_cache()
    embed_vocabulary(embedder, words[:2048], cache_dir=tmp_path)
    if size == 1000:
        embed_vocabulary(embedder, words[:1000], cache_dir=tmp_path)
    files = sorted(tmp_path.rglob("*.npz"))
    X = np.random.default_rng(0).standard_normal((4, 5))
    for held in (True, False):  # (in this process's memory, then on disk only)
        if not held:
            clear_memory_cache()
        _LoadingEmbedder.reset()
        _LoadingEmbedder.loads = 0
        with pytest.raises(ValueError, match="5 features"):
            SpliceTransformer(
                embedder, vocabulary=words, vocabulary_size=1000, cache_dir=tmp_path
            ).fit(X)
        assert (_LoadingEmbedder.n_texts, _LoadingEmbedder.loads) == (0, 0)
        assert sorted(tmp_path.rglob("*.npz")) == files  # (no dictionary written)


def test_a_cache_of_another_model_under_the_same_key_is_named_in_the_width_error(tmp_path):
    """A key that now names another model (an embedder's ``name`` reused after its model
    changed): the cached width refuses X before any model is loaded, and the error says
    where that width comes from and what to do."""
    from sksplice import SpliceTransformer

    class Named(_LoadingEmbedder):
        def cache_key(self) -> str:  # (the name its user gave, whatever the model)
            return "reused"

    words = [f"word {i}" for i in range(50)]
    clear_memory_cache()
    embed_vocabulary(Named(dim=8), words, cache_dir=tmp_path)
    clear_memory_cache()
    X = np.random.default_rng(0).standard_normal((4, 5))
    _LoadingEmbedder.reset()
    _LoadingEmbedder.loads = 0
    with pytest.raises(
        ValueError,
        match=r"d=8 .* \(d is that of the dictionary cached for the "
        r"embedder's key 'reused': if that key now names another model, give",
    ):
        SpliceTransformer(Named(dim=5), vocabulary=words, cache_dir=tmp_path).fit(X)
    assert (_LoadingEmbedder.n_texts, _LoadingEmbedder.loads) == (0, 0)


def test_the_cached_beginning_of_a_longer_list_is_counted(tmp_path):
    from sksplice.dictionary import cached_beginning

    words = [f"word {i}" for i in range(3000)]
    embedder = CountingEmbedder(dim=8, key="beginning")
    clear_memory_cache()
    assert cached_beginning(embedder, words[:2500], tmp_path, prefix_of=words) == 0
    embed_vocabulary(embedder, words[:1000], cache_dir=tmp_path)
    embed_vocabulary(embedder, words[:1700], cache_dir=tmp_path)  # (a size of no list)
    clear_memory_cache()  # (another process: read from the files' names)
    assert cached_beginning(embedder, words[:2500], tmp_path, prefix_of=words) == 1700
    assert cached_beginning(embedder, words[:1500], tmp_path, prefix_of=words) == 1000
    assert cached_beginning(embedder, words[:900], tmp_path, prefix_of=words) == 0
    # (a list that the longer one does not begin has none)
    assert cached_beginning(embedder, ["other", *words[1:2500]], tmp_path, prefix_of=words) == 0


def test_a_large_group_of_duplicates_is_named_in_a_short_warning():
    from sksplice.dictionary import DuplicateConceptWarning, warn_duplicate_concepts

    raw = np.vstack([np.ones((30, 4)), np.eye(4)])
    names = [f"unknown {i}" for i in range(30)] + ["a", "b", "c", "d"]
    with pytest.warns(DuplicateConceptWarning) as told:
        warn_duplicate_concepts(raw, names)
    message = str(told[0].message)
    assert "'unknown 0' = 'unknown 1' = 'unknown 2' = 'unknown 3' = 'unknown 4' = ... " in message
    assert "(25 more)" in message and "'unknown 5'" not in message
    assert len(told[0].message.groups[0]) == 30  # (all of them in `groups`)


def test_duplicates_of_a_published_vocabulary_are_told_how_to_drop(isolated_folders):
    # "Keep one concept of each group in the vocabulary" said nothing a user who passed
    # vocabulary="laion" could do (MiniLM embeds 'a' and 'à' alike, in every fit); the
    # concepts kept of it are as many as the fit's (a list keeps every entry: followed
    # from vocabulary_size=2000, the advice gave 9,999 concepts to embed).
    from sksplice import SpliceTransformer
    from sksplice.dictionary import DuplicateConceptWarning, warn_duplicate_concepts

    raw = np.vstack([np.ones((2, 4)), np.eye(4)])
    names = ["a", "à", "b", "c", "d", "e"]
    with pytest.warns(DuplicateConceptWarning) as told:
        warn_duplicate_concepts(raw, names, named="laion")
    # (the names to drop written out: a notebook shows the message, not the warning whose
    # `groups` the advice needed)
    assert str(told[0].message) == (
        "1 concept of the vocabulary has the same embedding as another: 'a' = 'à' (a text "
        "tower that lower-cases its input or strips its accents embeds such variants alike, "
        "and one cuts a concept longer than its context). A row's weight on such a group is "
        "split equally between its concepts, so none of them stands for it alone. Keep one "
        "concept of each group, dropping the others ({'à'}): vocabulary=[c for c in "
        "load_vocabulary('laion', size=6) if c not in {'à'}]; or filter this warning by its "
        "class, sksplice.exceptions.DuplicateConceptWarning."
    )
    # many to drop: the advice names them by the warning's groups
    many = [f"c{i}" for i in range(12)]
    with pytest.warns(DuplicateConceptWarning) as told:
        warn_duplicate_concepts(np.ones((12, 4)), many, named="laion")
    assert str(told[0].message).endswith(
        "Keep one concept of each group (the warning's `groups` lists them): vocabulary=[c for "
        "c in load_vocabulary('laion', size=12) if c not in dropped], with dropped the others "
        "of each group; or filter this warning by its class, "
        "sksplice.exceptions.DuplicateConceptWarning."
    )
    # a list or a file: the names to leave out of it
    rng = np.random.default_rng(0)
    fit = SpliceTransformer(vocabulary=names, concept_embeddings=raw, device="cpu")
    with pytest.warns(DuplicateConceptWarning) as told:
        fit.fit(rng.normal(size=(120, 4)))
    assert str(told[0].message).endswith(
        "Keep one concept of each group, dropping the others ({'à'}) from the vocabulary."
    )
    with pytest.warns(DuplicateConceptWarning) as told:
        warn_duplicate_concepts(np.ones((12, 4)), many)
    assert str(told[0].message).endswith(
        "Keep one concept of each group (the warning's `groups` lists them)."
    )
    # the plain spelling is the one kept, whichever comes first (the authors' order of a
    # vocabulary put 'à' before 'a', and the advice dropped 'a')
    for order in (["à", "a", "b", "c", "d", "e"], ["Dog", "dog", "b", "c", "d", "e"]):
        with pytest.warns(DuplicateConceptWarning) as told:
            warn_duplicate_concepts(raw, order)
        assert f"'{order[1]}' = '{order[0]}'" in str(told[0].message)
        assert str(told[0].message).endswith(f"others ({{'{order[0]}'}}) from the vocabulary.")
        assert told[0].message.groups == [(order[1], order[0])]
    # none plain: as they come
    with pytest.warns(DuplicateConceptWarning) as told:
        warn_duplicate_concepts(raw, ["Éa", "À", "b", "c", "d", "e"])
    assert told[0].message.groups == [("Éa", "À")]


def test_duplicate_concepts_is_fast_for_many_equal_rows_and_exact_for_float16():
    import time

    from sksplice.dictionary import duplicate_concepts

    # Thousands of concepts a tokenizer reads as one unknown token: one group, at once
    # (pairwise, 10,000 equal rows took 43 s and 3.9 GB).
    X = np.ones((10_000, 64), dtype=np.float32)
    X[:5000] += np.random.default_rng(1).standard_normal((5000, 64)).astype(np.float32)
    started = time.perf_counter()
    groups = duplicate_concepts(X)
    assert time.perf_counter() - started < 5.0
    assert groups == [list(range(5000, 10_000))]
    # float16 rows at the edge of the threshold (their projections are formed in float32)
    d = 8
    D = np.random.default_rng(0).standard_normal((d, 4))
    D /= np.linalg.norm(D, axis=0)
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(300):
        x = rng.standard_normal(d)
        x /= np.linalg.norm(x)
        u = D[:, rng.integers(0, 4)].copy()
        u -= (u @ x) * x
        u /= np.linalg.norm(u)
        angle = np.sqrt(2e-6) * rng.uniform(0.97, 1.0)
        pair = np.stack([x, x * np.cos(angle) + u * np.sin(angle)]) * rng.uniform(0.5, 100)
        pair = pair.astype(np.float16)
        p64 = pair.astype(np.float64)
        cosine = p64[0] @ p64[1] / np.linalg.norm(p64[0]) / np.linalg.norm(p64[1])
        if cosine >= 1 - 1e-6:
            checked += 1
            assert duplicate_concepts(pair) == [[0, 1]]
    assert checked > 50


def test_prefix_reuse_replaces_an_unusable_file_and_checks_its_list(tmp_path):
    full = [f"concept {i}" for i in range(2000)]
    embedder = CountingEmbedder(dim=8, key="bad-prefix")
    clear_memory_cache()
    embed_vocabulary(embedder, full, cache_dir=tmp_path)
    bad = dictionary_cache_path(embedder.cache_key(), full[:1000], tmp_path)
    bad.write_bytes(b"garbage")
    clear_memory_cache()
    with pytest.warns(DictionaryCacheWarning, match="cannot be used"):
        raw = embed_vocabulary(embedder, full[:1000], cache_dir=tmp_path, prefix_of=full)
    np.testing.assert_array_equal(raw, embedder.embed_text(full[:1000]))
    clear_memory_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DictionaryCacheWarning)  # (replaced: no second warning)
        embed_vocabulary(embedder, full[:1000], cache_dir=tmp_path, prefix_of=full)
    with pytest.raises(TypeError, match="prefix_of must be a sequence of strings"):
        embed_vocabulary(embedder, full[:10], cache_dir=tmp_path, prefix_of="ab")
    with pytest.raises(TypeError, match="prefix_of entry 2 is NoneType"):
        embed_vocabulary(embedder, ["a", "b"], cache_dir=tmp_path, prefix_of=["a", "b", None])


def test_prefix_sizes_remembered_hold_no_embedder(tmp_path):
    full = [f"concept {i}" for i in range(1500)]
    clear_memory_cache()
    # (a folder of its own: a file of an earlier run in $SKSPLICE_CACHE, when it is set to
    # a lasting folder, would be read instead of embedding, and record no size)
    embed_vocabulary(KeylessEmbedder(dim=8), full[:1200], prefix_of=full, cache_dir=tmp_path)
    assert len(dictionary_module._prefix_sizes_seen) == 0
    embedder = CountingEmbedder(dim=8, key="seen")
    embed_vocabulary(embedder, full[:1200], prefix_of=full, cache_dir=tmp_path)
    assert len(dictionary_module._prefix_sizes_seen) == 1
    clear_memory_cache()
    assert len(dictionary_module._prefix_sizes_seen) == 0


@pytest.mark.parametrize("in_memory", [False, True])
def test_a_cache_dir_that_is_a_file_is_refused_whatever_the_memory_cache_holds(tmp_path, in_memory):
    from sksplice import SpliceTransformer

    concepts = [f"word {i}" for i in range(12)]
    embedder = CountingEmbedder(dim=8, key="cache-dir-file")
    X = np.random.default_rng(0).standard_normal((4, 8))
    centre = 0.5 * _unit(X[0])
    if in_memory:  # (the same dictionary, built with a good folder, is in memory)
        SpliceTransformer(embedder, vocabulary=concepts, image_mean=centre, cache_dir=tmp_path).fit(
            X
        )
        assert dictionary_module.is_cached(embedder, concepts)
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x", encoding="utf-8")
    splice = SpliceTransformer(embedder, vocabulary=concepts, image_mean=centre, cache_dir=a_file)
    with pytest.raises(NotADirectoryError, match="exists but is not a folder"):
        splice.fit(X)
    with pytest.raises(NotADirectoryError, match="exists but is not a folder"):
        embed_vocabulary(embedder, concepts, cache_dir=a_file)


def test_a_folder_at_the_cache_file_path_is_said_before_embedding_and_leaves_nothing(tmp_path):
    # A folder named as the cache file: "cannot be used ... replacing it", then the
    # write failed after the embedding, and the blocks stayed in a .partial folder.
    concepts = [f"c{i}" for i in range(3000)]  # (more than one block: blocks are kept)
    embedder = CountingEmbedder(dim=8, key="m1")
    path = dictionary_cache_path(embedder.cache_key(), concepts, tmp_path)
    path.mkdir(parents=True)
    with pytest.warns(DictionaryCacheWarning, match=r"is not a file \(a folder\?\)") as seen:
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    assert len(seen) == 1 and "remove it to keep them" in str(seen[0].message)
    assert raw.shape == (3000, 8)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_read_only_cache_warns_only_where_concepts_are_embedded(tmp_path, monkeypatch):
    # A size cut from a cached longer dictionary embeds nothing: a read-only cache folder
    # (a shared one) warned all the same that "the 1900 concepts are embedded now".
    full = [f"concept {i}" for i in range(3000)]
    embedder = CountingEmbedder(dim=8, key="read-only")
    direct = embedder.embed_text(full)
    embed_vocabulary(embedder, full[:2048], cache_dir=tmp_path, prefix_of=full)
    clear_memory_cache()
    dictionary_module._prefix_sizes_seen.clear()
    monkeypatch.setattr(dictionary_module, "unwritable_reason", lambda folder: "Permission denied")
    CountingEmbedder.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DictionaryCacheWarning)
        cut = embed_vocabulary(embedder, full[:1900], cache_dir=tmp_path, prefix_of=full)
    np.testing.assert_array_equal(cut, direct[:1900])
    assert CountingEmbedder.n_texts == 0
    # more concepts than cached: those after the cached ones are embedded, and said to be
    with pytest.warns(
        DictionaryCacheWarning,
        match=r"\(Permission denied\): the 452 concepts not cached are embedded now and kept "
        r"in memory for this process only",
    ):
        longer = embed_vocabulary(embedder, full[:2500], cache_dir=tmp_path, prefix_of=full)
    np.testing.assert_array_equal(longer, direct[:2500])
    assert CountingEmbedder.n_texts == 452
    # (nothing written: the cut and the longer list were kept in memory)
    assert [p.name.split("-")[-2] for p in (tmp_path / "dictionaries").iterdir()] == ["2048"]


def test_a_cache_folder_that_cannot_be_searched_is_warned_about_not_raised(tmp_path, monkeypatch):
    # Another user's cache folder of mode 700: Path.exists raised PermissionError from
    # the fit (the command line, after embedding every image).
    embedder = CountingEmbedder(dim=4, key="private")
    locked = str(tmp_path / "dictionaries")
    stat = os.stat

    def refused(path, *args, **kwargs):
        if str(path).startswith(locked + os.sep):
            raise PermissionError(13, "Permission denied", str(path))
        return stat(path, *args, **kwargs)

    (tmp_path / "dictionaries").mkdir()
    monkeypatch.setattr(os, "stat", refused)
    with pytest.warns(
        DictionaryCacheWarning,
        match=r"dictionaries/.*\.npz cannot be read \(Permission denied\): the 2 concepts are "
        r"embedded now and kept in memory for this process only \(pass a cache_dir you can "
        r"read and write",
    ):
        out = embed_vocabulary(embedder, ["a", "b"], cache_dir=tmp_path)
    np.testing.assert_array_equal(out, embedder.embed_text(["a", "b"]))
    assert list((tmp_path / "dictionaries").iterdir()) == []


def test_the_command_line_says_at_once_that_a_cache_folder_cannot_be_searched(
    tmp_path, monkeypatch
):
    from sksplice.cli._checks import _check_cache_dir

    stat = os.stat

    def refused(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path) + os.sep):
            raise PermissionError(13, "Permission denied", str(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refused)
    assert _check_cache_dir(str(tmp_path)) == (
        f"cannot read the concept dictionary cache in --cache-dir {tmp_path} (Permission "
        "denied): the vocabulary is embedded for this run and not saved (give --cache-dir a "
        "folder you can read and write to keep it for later runs)"
    )
