"""Tests of sksplice.embedders.CLIPEmbedder with a tiny randomly initialised open_clip model."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sksplice import _models, embedders
from sksplice.embedders import (
    CLIPEmbedder,
    InvalidImageError,
    SkippedInput,
    SkippedInputWarning,
    WeightsUnavailableError,
)

TESTS_DATA = Path(__file__).resolve().parent / "data"
TEXTS = ["a photo of a dog", "a cat", "", "an astronaut riding a horse", "x" * 500]


@pytest.fixture
def make_embedder(tiny_clip_model):
    def make(**params):
        params.setdefault("model", tiny_clip_model)
        params.setdefault("pretrained", None)
        params.setdefault("device", "cpu")
        return CLIPEmbedder(**params)

    return make


def random_images(n: int, seed: int = 0, size: tuple[int, int] = (40, 52)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(*size, 3), dtype=np.uint8) for _ in range(n)]


def random_unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    X = np.random.default_rng(seed).normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def save_png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


# ---------------------------------------------------------------- basics


def test_image_embeddings_shape_dtype_unit_norm(make_embedder):
    embedder = make_embedder().fit(None)
    Z = embedder.transform(random_images(5))
    assert Z.shape == (5, 32)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    assert embedder.embedding_dim_ == 32
    # different images give different embeddings
    assert np.abs(Z[0] - Z[1]).max() > 1e-3


def test_text_embeddings_shape_dtype_unit_norm(make_embedder):
    embedder = make_embedder(modality="text")
    Z = embedder.fit_transform(TEXTS)
    assert Z.shape == (len(TEXTS), 32)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(Z, embedder.embed_text(TEXTS))
    # embed_text works whatever the modality
    np.testing.assert_allclose(make_embedder().embed_text(TEXTS), Z, atol=1e-6)


def test_rows_of_concepts_embedded_alike_pass_the_order_check(make_embedder):
    # "dog" and "Dog" (the tokenizer lower-cases): the embedder's own rows, in order, were
    # refused ("row 1 does not hold the embedding of concept 'Dog'"), the tie between the
    # two rows going to the first; without an embedder they fitted.
    import warnings

    from sksplice import SpliceTransformer

    embedder = make_embedder(modality="text")
    words = ["dog", "Dog", "cat", "tree", "car", "sky"]
    rows = embedder.embed_text(words)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the duplicate concepts, said)
        splice = SpliceTransformer(
            embedder=embedder, vocabulary=words, concept_embeddings=rows, device="cpu"
        ).fit(random_unit_rows(120, 32))
        assert list(splice.concepts_) == words
        # rows in another order are still refused
        with pytest.raises(ValueError, match="does not hold the embedding of concept"):
            SpliceTransformer(
                embedder=embedder, vocabulary=words, concept_embeddings=rows[::-1], device="cpu"
            ).fit(random_unit_rows(120, 32))


def test_a_list_vocabulary_is_checked_with_a_model_loaded_already(make_embedder, monkeypatch):
    # Rows made with the embedder just before, in another order than the list: the model
    # is loaded, so 8 concepts embedded check them (a clone on a worker loads nothing).
    from sksplice import SpliceTransformer
    from sksplice.embedders import clear_model_cache

    clear_model_cache()
    embedder = make_embedder(modality="text")
    assert not embedder._is_loaded()
    words = [f"word {i}" for i in range(12)]
    rows = embedder.embed_text(words)
    assert embedder._is_loaded() and clone(embedder)._is_loaded()
    assert not make_embedder(modality="text", precision="bf16")._is_loaded()
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=words, concept_embeddings=rows[::-1], device="cpu"
    )
    with pytest.raises(ValueError, match="row 0 does not hold the embedding of concept"):
        splice.fit(random_unit_rows(120, 32))
    # A model not loaded is asked nothing: an hf-hub: model's config and weights (not
    # on this machine, offline) are not looked for.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = CLIPEmbedder("hf-hub:sksplice-test/not-on-this-machine", device="cpu")
    assert not hub._is_loaded()
    SpliceTransformer(
        embedder=hub, vocabulary=words, concept_embeddings=rows[::-1], device="cpu"
    ).fit(random_unit_rows(120, 32))


def test_embed_images_regardless_of_modality(make_embedder):
    images = random_images(3)
    Z_image = make_embedder().transform(images)
    Z_text_mode = make_embedder(modality="text").embed_images(images)
    np.testing.assert_allclose(Z_text_mode, Z_image, atol=1e-6)


def test_batch_size_invariance(make_embedder):
    images = random_images(10, seed=1)
    one = make_embedder(batch_size=1).transform(images)
    seven = make_embedder(batch_size=7).transform(images)
    np.testing.assert_allclose(one, seven, atol=1e-5)
    texts = [f"text number {i}" for i in range(10)]
    np.testing.assert_allclose(
        make_embedder(batch_size=1).embed_text(texts),
        make_embedder(batch_size=7).embed_text(texts),
        atol=1e-5,
    )


def test_paths_pil_and_arrays_agree(make_embedder, tmp_path):
    arrays = random_images(3, seed=2)
    paths = [save_png(tmp_path / f"img{i}.png", a) for i, a in enumerate(arrays)]
    embedder = make_embedder()
    from_arrays = embedder.transform(arrays)
    np.testing.assert_allclose(embedder.transform(paths), from_arrays, atol=1e-6)
    np.testing.assert_allclose(embedder.transform([str(p) for p in paths]), from_arrays, atol=1e-6)
    pil = [Image.fromarray(a) for a in arrays]
    np.testing.assert_allclose(embedder.transform(pil), from_arrays, atol=1e-6)
    np.testing.assert_allclose(embedder.transform(np.stack(arrays)), from_arrays, atol=1e-6)


def test_lazily_opened_pil_images_repeated(make_embedder, tmp_path):
    arrays = random_images(2, seed=11, size=(120, 90))
    paths = [save_png(tmp_path / f"lazy{i}.png", a) for i, a in enumerate(arrays)]
    embedder = make_embedder(batch_size=3)
    expected = embedder.transform(paths)
    with Image.open(paths[0]) as first, Image.open(paths[1]) as second:
        Z = embedder.transform([first, second] * 6)  # same unloaded objects, several threads
    np.testing.assert_allclose(Z, np.tile(expected, (6, 1)), atol=1e-6)


def test_containers(make_embedder, tmp_path):
    pd = pytest.importorskip("pandas")
    arrays = random_images(2, seed=3)
    paths = [str(save_png(tmp_path / f"c{i}.png", a)) for i, a in enumerate(arrays)]
    embedder = make_embedder()
    expected = embedder.transform(paths)
    np.testing.assert_allclose(embedder.transform(pd.Series(paths)), expected, atol=1e-6)
    np.testing.assert_allclose(embedder.transform(pd.DataFrame({"p": paths})), expected, atol=1e-6)
    np.testing.assert_allclose(embedder.transform(np.array(paths)), expected, atol=1e-6)
    np.testing.assert_allclose(embedder.transform(tuple(paths)), expected, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        embedder.transform(pd.DataFrame({"a": paths, "b": paths}))


def test_transform_works_unfitted_and_fit_does_not_read_X(make_embedder):
    embedder = make_embedder()
    Z = embedder.transform(random_images(2))
    assert Z.shape == (2, 32)
    assert embedder.fit("not even images") is embedder


def test_scikit_learn_api_conventions(make_embedder):
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    embedder = make_embedder(batch_size=3)
    check_no_attributes_set_in_init("CLIPEmbedder", embedder)
    check_parameters_default_constructible("CLIPEmbedder", embedder)
    check_get_params_invariance("CLIPEmbedder", embedder)
    check_set_params("CLIPEmbedder", embedder)
    tags = embedder.__sklearn_tags__()
    assert not tags.requires_fit and not tags.input_tags.two_d_array
    # transform and the embed_* methods leave the estimator's state alone
    embedder.fit(None)
    before = pickle.dumps(embedder)
    embedder.transform(random_images(2))
    embedder.embed_text(["a"])
    embedder.cache_key()
    assert pickle.dumps(embedder) == before


def test_pipeline_with_labels(make_embedder):
    images = random_images(12, seed=4)
    y = np.array([0, 1] * 6)
    pipe = make_pipeline(make_embedder(), LogisticRegression()).fit(images, y)
    assert pipe.predict(images).shape == (12,)


def test_feature_names_and_pandas_output(make_embedder):
    pytest.importorskip("pandas")
    embedder = make_embedder()
    names = embedder.get_feature_names_out()
    assert list(names) == [f"clip{i}" for i in range(32)]
    frame = embedder.set_output(transform="pandas").fit_transform(random_images(3))
    assert list(frame.columns) == list(names)
    assert frame.shape == (3, 32)


def test_precision_on_cpu(make_embedder):
    images = random_images(4, seed=5)
    fp32 = make_embedder().transform(images)
    with pytest.warns(UserWarning, match="fp16"):
        fp16 = make_embedder(precision="fp16").transform(images)
    np.testing.assert_array_equal(fp16, fp32)
    bf16_embedder = make_embedder(precision="bf16")
    bf16 = bf16_embedder.transform(images)
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(bf16 * fp32, axis=1)
    assert np.all(cosine > 0.98)
    assert not np.array_equal(bf16, fp32)
    assert bf16_embedder.cache_key().endswith("/bf16")
    assert not make_embedder().cache_key().endswith("/bf16")


def test_verbose_progress_bar(make_embedder, capsys):
    make_embedder(verbose=False).embed_text(["a", "b"])
    assert "CLIP texts" not in capsys.readouterr().err
    make_embedder(verbose=True).embed_text(["a", "b"])
    assert "CLIP texts" in capsys.readouterr().err


# ---------------------------------------------------------------- image modes


def _embed_file(embedder, path) -> np.ndarray:
    Z = embedder.transform([path])
    assert np.all(np.isfinite(Z))
    return Z[0]


def test_grayscale_and_palette_and_rgba_images(make_embedder, tmp_path):
    embedder = make_embedder()
    rng = np.random.default_rng(6)
    gray = rng.integers(0, 256, size=(30, 34), dtype=np.uint8)
    gray_rgb = np.repeat(gray[:, :, None], 3, axis=2)
    expected_gray = embedder.transform([gray_rgb])[0]

    Image.fromarray(gray).save(tmp_path / "gray.png")
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "gray.png"), expected_gray, atol=1e-6
    )
    np.testing.assert_allclose(embedder.transform([gray])[0], expected_gray, atol=1e-6)
    np.testing.assert_allclose(embedder.transform([gray[:, :, None]])[0], expected_gray, atol=1e-6)

    # 16-bit grayscale: value v * 257 must look like the 8-bit value v
    sixteen = Image.fromarray(gray.astype(np.uint16) * 257)
    assert sixteen.mode.startswith("I;16")
    sixteen.save(tmp_path / "gray16.png")
    with Image.open(tmp_path / "gray16.png") as reopened:
        assert reopened.mode in ("I;16", "I")
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "gray16.png"), expected_gray, atol=1e-6
    )
    np.testing.assert_allclose(embedder.transform([sixteen])[0], expected_gray, atol=1e-6)

    # 32-bit integers (mode "I"): white is the top of the depth the file declares
    # (a full-range 32-bit TIFF embedded as an all-white image before)
    full = np.round(gray.astype(np.float64) * ((2**31 - 1) / 255)).astype(np.int32)
    Image.fromarray(full).save(tmp_path / "gray32.tif")
    with Image.open(tmp_path / "gray32.tif") as reopened:
        assert reopened.mode == "I"
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "gray32.tif"), expected_gray, atol=1e-6
    )
    np.testing.assert_allclose(
        embedder.transform([Image.fromarray(full)])[0], expected_gray, atol=1e-6
    )
    # a dark 32-bit file (every value within 16 bits) keeps its declared depth when read
    # from its path, as when opened by the caller (the path read it as 16-bit values)
    dark = np.full((30, 34), 60000, dtype=np.int32)
    Image.fromarray(dark).save(tmp_path / "dark32.tif")
    with Image.open(tmp_path / "dark32.tif") as opened:
        np.testing.assert_allclose(
            _embed_file(embedder, tmp_path / "dark32.tif"),
            embedder.transform([opened])[0],
            atol=1e-6,
        )
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "dark32.tif"),
        embedder.transform([np.zeros((30, 34), np.uint8)])[0],
        atol=1e-6,
    )
    # without a declared depth, values within 16 bits are 16-bit ones
    in_i = Image.fromarray(gray.astype(np.int32) * 257)
    assert in_i.mode == "I"
    np.testing.assert_allclose(embedder.transform([in_i])[0], expected_gray, atol=1e-6)

    color = rng.integers(0, 256, size=(30, 34, 3), dtype=np.uint8)
    expected_color = embedder.transform([color])[0]
    # RGBA: alpha is dropped
    rgba = np.concatenate([color, rng.integers(0, 256, size=(30, 34, 1), dtype=np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "rgba.png"), expected_color, atol=1e-6
    )
    np.testing.assert_allclose(embedder.transform([rgba])[0], expected_color, atol=1e-6)

    # palette, with and without transparency
    palette = Image.fromarray(color).quantize(colors=16)
    palette_rgb = np.asarray(palette.convert("RGB"))
    expected_palette = embedder.transform([palette_rgb])[0]
    palette.save(tmp_path / "palette.png")
    np.testing.assert_allclose(
        _embed_file(embedder, tmp_path / "palette.png"), expected_palette, atol=1e-6
    )
    palette.save(tmp_path / "palette_t.png", transparency=0)
    with Image.open(tmp_path / "palette_t.png") as reopened:
        assert reopened.mode == "P" and "transparency" in reopened.info
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(
            _embed_file(embedder, tmp_path / "palette_t.png"), expected_palette, atol=1e-6
        )

    # bilevel, gray with alpha and CMYK files decode to finite unit embeddings
    Image.fromarray(gray).convert("1").save(tmp_path / "bilevel.png")
    Image.fromarray(gray).convert("LA").save(tmp_path / "la.png")
    Image.fromarray(color).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Z = embedder.transform([tmp_path / "bilevel.png", tmp_path / "la.png", tmp_path / "cmyk.jpg"])
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(Z[1], expected_gray, atol=1e-6)


def test_exif_orientation_is_applied(make_embedder, tmp_path):
    embedder = make_embedder()
    image = random_images(1, seed=7, size=(20, 36))[0]
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated by 180 degrees
    Image.fromarray(image).save(tmp_path / "rotated.png", exif=exif)
    expected = embedder.transform([np.ascontiguousarray(image[::-1, ::-1])])[0]
    plain = embedder.transform([image])[0]
    got = _embed_file(embedder, tmp_path / "rotated.png")
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.abs(got - plain).max() > 1e-4


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_pil_image_opened_from_a_rotated_file_gives_the_file_embedding(
    make_embedder, tmp_path, num_workers
):
    # Image.open(path) (or a copy converted or resized, which keep the file's tag) is
    # turned upright as path itself is; an image already turned by exif_transpose, or
    # made in memory, has no tag and is taken as it is.
    from PIL import ImageOps

    embedder = make_embedder(num_workers=num_workers)
    image = random_images(1, seed=7, size=(20, 36))[0]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate by 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(image).save(path, exif=exif, quality=95)
    from_file = _embed_file(embedder, path)
    with Image.open(path) as opened:
        upright = ImageOps.exif_transpose(opened)
        got = embedder.transform([opened, opened.convert("RGB"), upright])
    np.testing.assert_allclose(got, np.repeat(from_file[None], 3, axis=0), atol=1e-6)
    plain = embedder.transform([np.asarray(Image.open(path))])[0]  # (the pixels as stored)
    assert np.abs(plain - from_file).max() > 1e-4


# ---------------------------------------------------------------- errors


def test_empty_and_single_inputs(make_embedder):
    embedder = make_embedder()
    with pytest.raises(ValueError, match="empty"):
        embedder.transform([])
    with pytest.raises(ValueError, match="empty"):
        embedder.embed_text([])
    with pytest.raises(TypeError, match="wrap it in a list"):
        embedder.transform("cat.jpg")
    with pytest.raises(TypeError, match="wrap it in a list"):
        embedder.embed_text("a cat")
    with pytest.raises(TypeError, match="wrap it in a list"):
        embedder.transform(Image.new("RGB", (4, 4)))
    with pytest.raises(TypeError, match="sequence"):
        embedder.transform(42)


def test_inputs_in_no_order_of_rows_or_sparse_are_refused(make_embedder):
    # A set gave rows in its hash order (another under another PYTHONHASHSEED, beside
    # labels in theirs), a dict its keys; a sparse matrix of embeddings was "text input 0
    # is a csr_matrix".
    import scipy.sparse as sp

    embedder = make_embedder()
    for texts, fix in (({"a cat", "a dog"}, "sorted"), ({"a": 1, "b": 2}, "d.values()")):
        with pytest.raises(TypeError, match=rf"got a {type(texts).__name__}, which has no order"):
            embedder.embed_text(texts)
        with pytest.raises(TypeError, match=re.escape(fix)):
            embedder.transform(frozenset(texts) if fix == "sorted" else texts)
    with pytest.raises(TypeError, match=r"got a sparse csr_matrix \(embeddings\?\)"):
        embedder.transform(sp.csr_matrix(np.eye(3)))
    # an ordered iterable is its order
    assert embedder.embed_text(iter(["a cat", "a dog"])).shape[0] == 2


def test_mixed_and_unsupported_types_name_the_index(make_embedder, tmp_path):
    embedder = make_embedder()
    arrays = random_images(3)
    path = save_png(tmp_path / "a.png", arrays[0])
    with pytest.raises(TypeError, match=r"input 2 is a PIL image"):
        embedder.transform([arrays[0], arrays[1], Image.fromarray(arrays[2])])
    with pytest.raises(TypeError, match=r"input 1 is a numpy array"):
        embedder.transform([path, arrays[1]])
    with pytest.raises(TypeError, match=r"input 1 is an int"):
        embedder.transform([arrays[0], 7])
    with pytest.raises(TypeError, match=r"input 0 .*float64"):
        embedder.transform([arrays[0] / 255.0])
    with pytest.raises(ValueError, match=r"input 1 .*shape \(4, 4, 2\)"):
        embedder.transform([arrays[0], np.zeros((4, 4, 2), np.uint8)])
    with pytest.raises(ValueError, match="shape"):
        embedder.transform(np.zeros((2, 8, 8, 3), np.float32)[..., 0])
    with pytest.raises(TypeError, match=r"text input 1 is None"):
        embedder.embed_text(["a", None])


def test_images_given_to_a_text_embedder_name_the_image_modality(make_embedder, tmp_path):
    embedder = make_embedder(modality="text")
    image = Image.new("RGB", (4, 4))
    image.save(tmp_path / "a.png")
    array = np.zeros((4, 4, 3), dtype=np.uint8)
    for images in ([image], [array], np.stack([array, array]), [tmp_path / "a.png"]):
        with pytest.raises(TypeError, match=r"not a string; .*CLIPEmbedder\(modality='image'\)"):
            embedder.transform(images)
    with pytest.raises(TypeError, match=r"is an int \(3\), not a string$"):
        embedder.embed_text(["a cat", 3])
    # (embeddings, or a path that names no image, are not said to be images)
    for other in ([np.zeros(8, dtype=np.float32)], [tmp_path / "captions.txt"]):
        with pytest.raises(TypeError) as info:
            embedder.transform(other)
        assert "modality='image'" not in str(info.value)


def test_a_folder_of_images_is_refused_with_how_to_list_its_files(make_embedder, tmp_path):
    # "wrap it in a list" would only lead to the next error: a folder is not an image
    embedder = make_embedder()
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    for folder in (str(tmp_path), tmp_path):
        with pytest.raises(TypeError, match=r"got the folder .*pass the image files it holds"):
            embedder.transform(folder)
    with pytest.raises(IsADirectoryError, match="pass the image files it holds"):
        embedder.transform([tmp_path])
    # (a text that names a folder is still a text)
    with pytest.raises(TypeError, match="wrap it in a list"):
        embedder.embed_text(str(tmp_path))


def test_text_given_to_image_embedder(make_embedder):
    with pytest.raises(ValueError, match="modality='text'"):
        make_embedder().transform(["a photo of a dog", "a cat"])
    with pytest.raises(ValueError, match="embed_text"):
        make_embedder(modality="text").embed_images(["a photo of a dog"])


def test_bad_files_name_index_and_path(make_embedder, tmp_path):
    embedder = make_embedder()
    good = save_png(tmp_path / "good.png", random_images(1)[0])
    missing = tmp_path / "missing.png"
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.png").write_text("this is not an image")
    png = io.BytesIO()
    Image.fromarray(random_images(1, size=(64, 64))[0]).save(png, format="PNG")
    (tmp_path / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    jpeg = io.BytesIO()
    Image.fromarray(random_images(1, size=(64, 64))[0]).save(jpeg, format="JPEG")
    (tmp_path / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])

    cases = [
        (missing, FileNotFoundError, "not found"),
        (tmp_path / "folder", IsADirectoryError, "directory"),
        (tmp_path / "notes.png", InvalidImageError, "not an image"),
        (tmp_path / "truncated.png", InvalidImageError, "truncated"),
        (tmp_path / "truncated.jpg", InvalidImageError, "truncated"),
    ]
    for bad, error, words in cases:
        with pytest.raises(error, match=words) as info:
            embedder.transform([good, good, bad])
        assert "input 2" in str(info.value)
        assert str(bad) in str(info.value)
        # and how to embed the others, leaving it out
        assert str(info.value).endswith(
            "(to embed the other inputs and leave this one out, its row NaN, pass on_error='skip')"
        )


def test_one_bad_file_among_many(make_embedder, tmp_path):
    arrays = random_images(1)
    good = save_png(tmp_path / "good.png", arrays[0])
    paths = [good] * 50
    paths[37] = tmp_path / "gone.png"
    with pytest.raises(FileNotFoundError, match=r"input 37: .*gone\.png"):
        make_embedder(batch_size=8).transform(paths)


@pytest.mark.parametrize("last", ["gone.png", "folder"])
def test_a_missing_file_is_refused_before_any_image_is_embedded(
    make_embedder, tmp_path, monkeypatch, last
):
    # a missing file (or a folder) at the end of a list was found only once every image
    # before it had been decoded and embedded: 576 of 600 before the error
    from sksplice.embedders import CLIPEmbedder

    (tmp_path / "folder").mkdir()
    good = save_png(tmp_path / "good.png", random_images(1)[0])
    paths = [good] * 20 + [tmp_path / last]
    encoded = []
    real = CLIPEmbedder._encode

    def counted(encode, batch, config):
        encoded.append(len(batch))
        return real(encode, batch, config)

    monkeypatch.setattr(CLIPEmbedder, "_encode", staticmethod(counted))
    error = FileNotFoundError if last == "gone.png" else IsADirectoryError
    embedder = make_embedder(batch_size=4)
    with pytest.raises(error, match=rf"^input 20: .*{last}"):
        embedder.transform(paths)
    assert encoded == []
    # with on_error="skip" the others are embedded, the missing one skipped and named
    with pytest.warns(SkippedInputWarning, match=last):
        Z = embedder.set_params(on_error="skip").transform(paths)
    assert sum(encoded) == 20 and np.isnan(Z[20]).all() and np.isfinite(Z[:20]).all()


def test_decompression_bomb(make_embedder, tmp_path, monkeypatch):
    save_png(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))  # 1600 pixels
    embedder = make_embedder()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL warns above 1000, fails above 2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(InvalidImageError, match=r"input 0: .*big\.png.*MAX_IMAGE_PIXELS"):
            embedder.transform([tmp_path / "big.png"])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    # over twice the limit PIL refuses the file while opening it: its size is still said
    with pytest.raises(InvalidImageError, match=r"big\.png' has 1,600 pixels and exceeds"):
        embedder.transform([tmp_path / "big.png"])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert embedder.transform([tmp_path / "big.png"]).shape == (1, 32)


def test_an_image_over_the_pixel_limit_is_skipped_with_its_size(
    make_embedder, tmp_path, monkeypatch
):
    """An image over the limit (but under twice it, where PIL only warns) is refused or
    skipped with sksplice's message (path, size, limit), in threads or not, and the
    warning filters are left as they were (they are shared by every thread)."""
    big = save_png(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))  # 1600 pixels
    small = save_png(tmp_path / "small.png", np.zeros((20, 20, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL warns above 1000
    for batch_size in (1, 4):  # (opened in a pool of threads)
        filters = list(warnings.filters)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X = make_embedder(on_error="skip", num_workers=0, batch_size=batch_size).embed_images(
                [big, small, big, small]
            )
        ours = [w for w in caught if w.category is SkippedInputWarning]
        assert len(ours) == 1
        skipped = ours[0].message.skipped
        assert [s.index for s in skipped] == [0, 2]
        assert all("big.png" in s.reason and "MAX_IMAGE_PIXELS" in s.reason for s in skipped)
        assert np.isnan(X[[0, 2]]).all() and np.isfinite(X[[1, 3]]).all()
        assert warnings.filters == filters
    # a user who turns PIL's warning into an error gets sksplice's error still
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(InvalidImageError, match=r"input 0: .*big\.png.*MAX_IMAGE_PIXELS"):
            make_embedder().embed_images([big])


def test_on_error_skip(make_embedder, tmp_path):
    arrays = random_images(3, seed=8)
    paths = [save_png(tmp_path / f"ok{i}.png", a) for i, a in enumerate(arrays)]
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    inputs = [paths[0], tmp_path / "bad.png", paths[1], tmp_path / "missing.png", paths[2]]
    embedder = make_embedder(on_error="skip", batch_size=2)
    expected = embedder.transform(paths)

    with pytest.warns(SkippedInputWarning, match="skipped 2 of 5") as record:
        Z = embedder.transform(inputs)
    assert Z.shape == (5, 32)
    assert np.isnan(Z[[1, 3]]).all()
    np.testing.assert_allclose(Z[[0, 2, 4]], expected, atol=1e-6)
    skipped = next(w.message for w in record if isinstance(w.message, SkippedInputWarning)).skipped
    assert [s.index for s in skipped] == [1, 3]
    assert all(isinstance(s, SkippedInput) for s in skipped)
    assert "bad.png" in skipped[0].item and "missing.png" in skipped[1].item
    assert "not found" in skipped[1].reason

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z2, skipped2 = embedder.embed_images(inputs, return_skipped=True)
    np.testing.assert_array_equal(Z2, Z)
    assert skipped2 == list(skipped)
    _, none_skipped = embedder.embed_images(paths, return_skipped=True)
    assert none_skipped == []

    # type errors are not skipped
    with pytest.raises(TypeError, match="mixed"):
        embedder.transform([paths[0], arrays[0]])

    # every input bad: all rows NaN, still one row per input
    with pytest.warns(SkippedInputWarning, match="skipped 2 of 2"):
        Z_bad = embedder.transform([tmp_path / "bad.png", tmp_path])
    assert Z_bad.shape == (2, 32) and np.isnan(Z_bad).all()
    # ... but strings none of which exists are a usage error, not bad files
    with pytest.raises(ValueError, match="none of the 2 string or path inputs"):
        embedder.transform([tmp_path / "gone1.png", tmp_path / "gone2.png"])


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"modality": "audio"}, ValueError, "modality"),
        ({"precision": "fp8"}, ValueError, "precision"),
        ({"on_error": "ignore"}, ValueError, "on_error"),
        # None for a string option is a value of the wrong type, as in SpliceTransformer
        (
            {"modality": None},
            TypeError,
            r"^CLIPEmbedder: modality must be 'image' or 'text', got None",
        ),
        (
            {"precision": None},
            TypeError,
            r"^CLIPEmbedder: precision must be one of .*got None \(NoneType\)",
        ),
        (
            {"on_error": None},
            TypeError,
            r"^CLIPEmbedder: on_error must be 'raise' or 'skip', got None",
        ),
        ({"modality": 1}, TypeError, r"^CLIPEmbedder: modality must be .*got 1 \(int\)$"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"num_workers": -1}, ValueError, "num_workers"),
        ({"num_workers": True}, TypeError, "num_workers"),
        ({"device": "tpu-ish"}, ValueError, "device"),
        ({"device": 3.0}, TypeError, "device"),
        ({"model": "ViT-B-33"}, ValueError, r"Close matches: 'ViT-B-32'"),
        ({"model": 32}, TypeError, "model"),
        ({"pretrained": 5}, TypeError, "pretrained"),
        ({"cache_dir": 5}, TypeError, "cache_dir"),
    ],
)
def test_invalid_parameters(make_embedder, params, error, words):
    embedder = make_embedder(**params)  # __init__ stores, does not validate
    for key, value in params.items():
        assert getattr(embedder, key) is value
    with pytest.raises(error, match=words):
        embedder.fit(None)
    with pytest.raises(error, match=words):
        embedder.embed_text(["a"])


def test_unknown_pretrained_tag_lists_tags(make_embedder):
    with pytest.raises(ValueError, match=r"laion2b_s34b_b79k.*Close matches"):
        CLIPEmbedder("ViT-B-32", pretrained="laion2b_s34b").fit()
    with pytest.raises(ValueError, match="no pretrained tags"):
        make_embedder(pretrained="openai").fit()


@pytest.mark.parametrize("empty", ["", "  "])
def test_empty_pretrained_is_refused_not_random_weights(make_embedder, empty):
    # (an unset setting or environment variable gives ""; random weights would give
    # embeddings that mean nothing, and open_clip's warning about them is silenced)
    with pytest.raises(ValueError, match=r"is empty .*pretrained=None means random weights"):
        make_embedder(pretrained=empty).fit()
    with pytest.raises(ValueError, match=r"tags of 'ViT-B-32': .*'laion2b_s34b_b79k'"):
        CLIPEmbedder("ViT-B-32", pretrained=empty).fit()
    assert make_embedder(pretrained=None)._config().pretrained_kind == "random"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/clip-vit-base-patch32", "give model='ViT-B-32', pretrained='openai'."),
        ("OpenAI/CLIP-ViT-Large-Patch14-336", "give model='ViT-L-14-336', pretrained='openai'."),
        ("ViT-L/14@336px", "give model='ViT-L-14-336', pretrained='openai'."),
        (
            "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
            "give model='ViT-B-32', pretrained='laion2b_s34b_b79k' (or "
            "model='hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K').",
        ),
        ("laion/CLIP-ViT-X-1-laion2B", "model='hf-hub:laion/CLIP-ViT-X-1-laion2B' loads that repo"),
        ("timm/ViT-B-16-SigLIP", "close matches: 'ViT-B-16-SigLIP',"),
        ("someone/my-clip", "(pretrained='openai' for OpenAI's, 'laion2b_s34b_b79k' for one"),
    ],
)
def test_a_hugging_face_repo_name_is_told_how_open_clip_names_models(
    make_embedder, model, expected
):
    # "openai/clip-vit-base-patch32" got "Close matches: 'roberta-ViT-B-32'", a text
    # encoder of another model.
    with pytest.raises(ValueError) as info:
        make_embedder(model=model).fit()
    message = str(info.value)
    assert message.startswith(f"model={model!r} is not an open_clip model name")
    assert "open_clip names a model without an organisation, such as 'ViT-B-32'" in message
    assert expected in message
    assert "model='hf-hub:ORG/REPO' loads a Hugging Face repo that holds an open_clip config" in (
        message
    )
    assert "roberta" not in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_requested_without_cuda(make_embedder):
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_embedder(device="cuda").fit()
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_embedder(device=torch.device("cuda", 0)).fit()
    assert make_embedder(device=torch.device("cpu")).transform(random_images(1)).shape == (1, 32)
    assert make_embedder(device="auto").transform(random_images(1)).shape == (1, 32)


def test_cache_key(make_embedder, tmp_path):
    key = CLIPEmbedder("ViT-B/32", pretrained="LAION2B-S34B-B79K").cache_key()
    assert key == "open_clip/ViT-B-32/laion2b_s34b_b79k"
    assert CLIPEmbedder("ViT-B-32", pretrained="openai").cache_key() != key
    random_key = make_embedder().cache_key()
    assert "random-init-seed0" in random_key
    assert random_key == make_embedder(batch_size=3, modality="text").cache_key()


# ---------------------------------------------------------------- model cache, pickling


def test_model_loaded_lazily_and_shared(make_embedder):
    first, second = make_embedder(), make_embedder(modality="text", batch_size=3)
    assert first._config().model_key() == second._config().model_key()
    assert _models._load_model(first._config()) is _models._load_model(second._config())
    assert not any(isinstance(v, torch.nn.Module) for v in vars(first).values())
    other_device_string = make_embedder(device="auto") if not torch.cuda.is_available() else None
    if other_device_string is not None:
        assert _models._load_model(other_device_string._config()) is _models._load_model(
            first._config()
        )


def test_concurrent_loading_creates_one_model(make_embedder, monkeypatch):
    embedders.clear_model_cache()
    calls = []
    real_create = _models._create_model

    def slow_create(config):
        calls.append(config)
        time.sleep(0.2)
        return real_create(config)

    monkeypatch.setattr(_models, "_create_model", slow_create)
    config = make_embedder()._config()
    results = [None] * 6

    def work(i):
        results[i] = _models._load_model(config)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_random_init_is_deterministic_after_cache_clear(make_embedder):
    embedder = make_embedder(modality="text")
    before = embedder.transform(TEXTS)
    old_model = _models._load_model(embedder._config())
    embedders.clear_model_cache()
    after = embedder.transform(TEXTS)
    assert _models._load_model(embedder._config()) is not old_model
    np.testing.assert_array_equal(before, after)
    # seeding does not disturb the caller's random stream
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    embedders.clear_model_cache()
    embedder.transform(TEXTS)
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickle_clone_joblib_small_and_reload(make_embedder, tmp_path):
    embedder = make_embedder(modality="text").fit(None)
    expected = embedder.transform(TEXTS)
    model = _models._load_model(embedder._config())

    blob = pickle.dumps(embedder)
    assert len(blob) < 100_000
    restored = pickle.loads(blob)
    assert restored.embedding_dim_ == 32
    np.testing.assert_array_equal(restored.transform(TEXTS), expected)
    assert _models._load_model(restored._config()) is model

    joblib.dump(embedder, tmp_path / "embedder.joblib")
    assert (tmp_path / "embedder.joblib").stat().st_size < 100_000
    embedders.clear_model_cache()  # as in a fresh process: reload on use
    loaded = joblib.load(tmp_path / "embedder.joblib")
    np.testing.assert_array_equal(loaded.transform(TEXTS), expected)

    cloned = clone(embedder)
    assert cloned.get_params() == embedder.get_params()
    assert not hasattr(cloned, "embedding_dim_")
    np.testing.assert_array_equal(cloned.transform(TEXTS), expected)


def test_checkpoint_file_as_pretrained(make_embedder, tmp_path):
    reference = make_embedder(modality="text")
    expected = reference.transform(TEXTS)
    state = _models._load_model(reference._config()).model.state_dict()
    checkpoint = tmp_path / "tiny.pt"
    torch.save(state, checkpoint)
    from_file = make_embedder(modality="text", pretrained=str(checkpoint))
    np.testing.assert_allclose(from_file.transform(TEXTS), expected, atol=1e-6)
    key = from_file.cache_key()
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert key == f"open_clip/sksplice-test-tiny/file-sha256-{digest}"
    # a different file content changes the key
    state = {k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}
    other = tmp_path / "other.pt"
    torch.save(state, other)
    assert make_embedder(pretrained=other).cache_key() != key
    # the remembered digest follows a file rewritten in place
    checkpoint.write_bytes(other.read_bytes())
    os.utime(checkpoint, ns=(1, 1))
    digest = hashlib.sha256(other.read_bytes()).hexdigest()
    assert from_file.cache_key() == f"open_clip/sksplice-test-tiny/file-sha256-{digest}"


def test_the_digest_of_a_checkpoint_is_kept_for_the_next_process(tmp_path, monkeypatch):
    # Each command of the command line is a process, which hashed a --pretrained file of
    # 605 MB anew (about 0.5 s of a 3 s run whose embeddings were all cached).
    from sksplice import _data
    from sksplice._data import checkpoint_digests_kept

    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    cache = tmp_path / "cache"

    def new_process():  # (what a process remembered is gone)
        _models._file_version_sha256.cache_clear()

    def digest_now():
        new_process()
        return _models._file_sha256(str(checkpoint))

    hashed = []
    monkeypatch.setattr(_models, "file_sha256", lambda path: hashed.append(path) or digest)
    # a file written within the last 2 s (the times may not show a write in the same
    # tick): hashed, not kept
    with checkpoint_digests_kept(cache):
        assert digest_now() == digest
    assert len(hashed) == 1 and not cache.exists()
    monkeypatch.setattr(_data, "_RACY_SECONDS", -1.0)  # (as if written long ago)
    assert digest_now() == digest  # (outside the block: not kept)
    assert len(hashed) == 2 and not cache.exists()
    with checkpoint_digests_kept(cache):
        assert digest_now() == digest
        assert digest_now() == digest
    assert len(hashed) == 3  # (the second process read it back)
    (kept,) = (cache / "checkpoints").iterdir()
    assert kept.read_text() == digest
    # a file written again (its size and times kept: its change time moves) is hashed again
    stat = checkpoint.stat()
    checkpoint.write_bytes(b"WEIGHTS" * 1000)
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with checkpoint_digests_kept(cache):
        digest_now()
    assert len(hashed) == 4

    # a file written while it is hashed: its digest is not kept
    def hash_and_write(path):
        hashed.append(path)
        checkpoint.write_bytes(b"written meanwhile")
        return digest

    monkeypatch.setattr(_models, "file_sha256", hash_and_write)
    before = sorted(p.name for p in (cache / "checkpoints").iterdir())
    with checkpoint_digests_kept(cache):
        digest_now()
    assert sorted(p.name for p in (cache / "checkpoints").iterdir()) == before
    monkeypatch.setattr(_models, "file_sha256", lambda path: hashed.append(path) or digest)
    # a kept digest that is not one (a file cut short) is not taken, and is written again
    with checkpoint_digests_kept(cache):
        digest_now()
    n = len(hashed)
    for memo in (cache / "checkpoints").iterdir():
        memo.write_text("0123")
    with checkpoint_digests_kept(cache):
        assert digest_now() == digest
    assert len(hashed) == n + 1
    assert digest in [memo.read_text() for memo in (cache / "checkpoints").iterdir()]


def test_a_checkpoint_of_another_model_is_said_in_a_few_words(make_embedder, tmp_path):
    # torch lists every missing key of the state dict: cut to a count and three names
    checkpoint = tmp_path / "other_model.pt"
    torch.save({"x": torch.zeros(2)}, checkpoint)
    from sksplice._models import CheckpointFormatError

    with pytest.raises(CheckpointFormatError) as info:
        make_embedder(modality="text", pretrained=str(checkpoint)).transform(TEXTS)
    message = str(info.value)
    assert "does not fit open_clip model 'sksplice-test-tiny': a checkpoint of another" in message
    assert re.search(
        r"\d+ missing key\(s\) in the state dict \([\w.]+, [\w.]+, [\w.]+ and \d+ more\); "
        r"1 unexpected key\(s\) in the state dict \(x\)\)$",
        message,
    ), message
    assert len(message) < 600 and "ln_final.bias" not in message


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notckpt.pt", b"this is text, not a checkpoint\n" * 4, "it is not in torch.save's format"),
        ("weights.safetensors", b"hello", "it is not in the safetensors format"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_said_in_the_words_of_the_command_line(
    make_embedder, tmp_path, name, content, reason
):
    # the message named only what torch's unpickler stumbled on ("(KeyError: 101)")
    from sksplice._models import CheckpointFormatError, checkpoint_file_problem

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError) as info:
        make_embedder(modality="text", pretrained=str(path)).transform(TEXTS)
    assert checkpoint_file_problem(path) == reason  # what the command line says
    assert str(info.value) == (
        f"pretrained={str(path)!r} is not a model checkpoint open_clip can load: {reason}"
    )
    assert info.value.__cause__ is not None  # torch's own error stays chained


# ---------------------------------------------------------------- pretrained weights


def test_download_failure_is_a_clear_error(monkeypatch, tmp_path):
    import open_clip

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(open_clip, "download_pretrained", refuse)
    # the host answers (so the download is tried) but the download itself fails
    monkeypatch.setattr(_models, "_hub_offline", lambda: False)
    monkeypatch.setattr(_models, "_reachable", lambda url, timeout=None: True)
    embedder = CLIPEmbedder("ViT-B-32", pretrained="openai", device="cpu", cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="could not be downloaded") as info:
        embedder.embed_text(["a"])
    message = str(info.value)
    assert "'ViT-B-32'" in message and "'openai'" in message
    assert str(tmp_path) in message
    assert "network is unreachable" in message
    assert isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize(
    ("hf_hub_offline", "transformers_offline", "named"),
    [
        ("1", None, "HF_HUB_OFFLINE=1"),
        (None, "1", "TRANSFORMERS_OFFLINE=1"),
        ("", "yes", "TRANSFORMERS_OFFLINE=yes"),  # empty: huggingface_hub reads the next
        ("true", "1", "HF_HUB_OFFLINE=true"),
    ],
)
def test_offline_error_names_the_variable_that_is_set(
    monkeypatch, hf_hub_offline, transformers_offline, named
):
    for variable, value in (
        ("HF_HUB_OFFLINE", hf_hub_offline),
        ("TRANSFORMERS_OFFLINE", transformers_offline),
    ):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    with pytest.raises(WeightsUnavailableError) as info:
        _models._check_fetchable("The weights", "/cache", "https://hub.invalid", cached=False)
    message = str(info.value)
    assert f"cannot be downloaded: offline mode is on ({named})." in message, message
    if named.startswith("TRANSFORMERS_OFFLINE"):
        assert "HF_HUB_OFFLINE is set" not in message


def test_offline_mode_follows_huggingface_hub(monkeypatch):
    from huggingface_hub import constants

    # HF_HUB_OFFLINE=0 overrides TRANSFORMERS_OFFLINE=1 (huggingface_hub reads the first
    # non-empty one of the two), unless the Hub was imported offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert _models._hub_offline_setting() is None and not _models._hub_offline()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "set when huggingface_hub was imported" in _models._offline_reason()


def test_real_download_fails_fast_offline(tmp_path):
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        pytest.skip("needs HF_HUB_OFFLINE=1 so that the Hugging Face client fails fast")
    embedder = CLIPEmbedder(
        "ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu", cache_dir=tmp_path
    )
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match=r"'ViT-B-32'.*'laion2b_s34b_b79k'.*not in"):
        embedder.transform(random_images(1))
    assert time.perf_counter() - start < 10


# ---------------------------------------------------------------- configs from the environment


def test_model_configs_env_in_subprocess(make_embedder, tmp_path):
    config = json.loads((TESTS_DATA / "sksplice-test-tiny.json").read_text())
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "sksplice-env-tiny.json").write_text(json.dumps(config))
    script = (
        "import sys, numpy as np\n"
        "from sksplice.embedders import CLIPEmbedder\n"
        "for name in ('sksplice-test-tiny', 'sksplice-env-tiny'):\n"
        "    e = CLIPEmbedder(name, pretrained=None, modality='text', device='cpu')\n"
        "    np.save(sys.argv[1] + '/' + name + '.npy', e.transform(sys.argv[2:]))\n"
    )
    env = dict(os.environ)
    env[embedders.MODEL_CONFIGS_ENV] = os.pathsep.join(
        [str(TESTS_DATA / "sksplice-test-tiny.json"), str(folder)]
    )
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DATA.parents[1]), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *TEXTS[:3]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    expected = make_embedder(modality="text").transform(TEXTS[:3])
    # same seeded random initialisation in another process
    np.testing.assert_allclose(np.load(tmp_path / "sksplice-test-tiny.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "sksplice-env-tiny.npy"), expected, atol=1e-5)


def test_model_configs_env_errors(make_embedder, monkeypatch, tmp_path):
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(tmp_path / "nowhere.json"))
    with pytest.raises(ValueError, match=r"SKSPLICE_MODEL_CONFIGS.*nowhere\.json"):
        make_embedder().fit()
    (tmp_path / "broken.json").write_text("{not json")
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(tmp_path / "broken.json"))
    with pytest.raises(ValueError, match=r"broken\.json.*not a readable JSON"):
        make_embedder().fit()
    # Valid JSON that is no model config: open_clip would leave it out without a word,
    # and the model it was meant to register would then be 'not an open_clip model name'.
    (tmp_path / "other.json").write_text('{"a": 1}')
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(tmp_path / "other.json"))
    with pytest.raises(
        ValueError,
        match=r"other\.json' is not an open_clip model config: it has no embed_dim or "
        r"vision_cfg or text_cfg of the right kind",
    ):
        make_embedder().fit()
    (tmp_path / "list.json").write_text("[1, 2]")
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(tmp_path / "list.json"))
    with pytest.raises(ValueError, match=r"list\.json' is not an open_clip model config: it holds"):
        make_embedder().fit()
    # A folder: its other JSON files are skipped, as open_clip skips them (a Hub snapshot
    # holds config.json and tokenizer.json); only a folder without any config is refused.
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "readme.txt").write_text("configs go here")
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(folder))
    with pytest.raises(ValueError, match=r"the folder '.*configs' holds no JSON file"):
        make_embedder().fit()
    (folder / "notes.json").write_text('{"note": "not a config"}')
    monkeypatch.setenv(embedders.MODEL_CONFIGS_ENV, str(folder))
    with pytest.raises(ValueError, match=r"configs' holds no model config: .*notes\.json' is not"):
        make_embedder().fit()
    config = json.loads((TESTS_DATA / "sksplice-test-tiny.json").read_text())
    (folder / "sksplice-folder-tiny.json").write_text(json.dumps(config))
    CLIPEmbedder("sksplice-folder-tiny", pretrained=None, modality="text", device="cpu").fit()


# ---------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_on_cuda(make_embedder, precision):
    images = random_images(6, seed=9)
    reference = make_embedder(device="cpu").transform(images)
    fp32 = make_embedder(device="cuda").transform(images)
    # cuDNN may run the patch convolution in TF32: compare directions, not bits
    assert np.all(np.sum(fp32 * reference, axis=1) > 0.999)
    half = make_embedder(device="cuda", precision=precision).transform(images)
    assert half.dtype == np.float32
    assert np.all(np.sum(half * reference, axis=1) > 0.98)
    # "auto" and "cuda" name the current CUDA device explicitly, so that they share
    # one cached model with "cuda:<index>".
    current = f"cuda:{torch.cuda.current_device()}"
    assert make_embedder(device="auto")._config().device == current
    assert make_embedder(device="cuda")._config().device == current


# ------------------------------------------------------------------ QuickGELU
@pytest.mark.parametrize(
    ("model", "tag", "expected"),
    [
        ("ViT-B-32", "openai", True),
        ("ViT-B-16", "openai", True),
        ("RN50", "openai", True),
        ("ViT-L-14", "openai", True),
        ("RN50", "yfcc15m", True),
        ("ViT-B-32", "laion400m_e32", True),
        ("ViT-B-32", "laion2b_s34b_b79k", False),
        ("ViT-B-16", "laion2b_s34b_b88k", False),
        # The -quickgelu configs already ask for it: nothing to force.
        ("ViT-B-32-quickgelu", "openai", False),
    ],
)
def test_quick_gelu_decided_from_the_pretrained_tag(model, tag, expected):
    assert _models._quick_gelu_needed(model, tag, "tag") is expected


def test_every_tag_open_clip_marks_quick_gelu_builds_it():
    import open_clip

    for model, tag in open_clip.list_pretrained():
        marked = bool(open_clip.get_pretrained_cfg(model, tag).get("quick_gelu", False))
        in_config = bool((open_clip.get_model_config(model) or {}).get("quick_gelu", False))
        built = _models._quick_gelu_needed(model, tag, "tag") or in_config
        if marked:  # (a config may ask for QuickGELU on its own; that is left alone)
            assert built, (model, tag)
        else:
            assert not _models._quick_gelu_needed(model, tag, "tag"), (model, tag)


def test_openai_tags_build_quick_gelu_and_laion_tags_gelu(tiny_clip_model, monkeypatch):
    """The decision reaches open_clip's create_model: a real (random-weight) build."""
    import open_clip
    from open_clip.transformer import QuickGELU

    def activations(loaded):
        return {type(m).__name__ for m in loaded.model.modules() if "GELU" in type(m).__name__}

    seen = []

    def decide(model, pretrained, kind):
        seen.append((model, pretrained, kind))
        return open_clip.get_pretrained_cfg("ViT-B-32", "openai").get("quick_gelu", False)

    config = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")._config()
    monkeypatch.setattr(_models, "_quick_gelu_needed", decide)
    quick = _models._create_model(config)
    assert seen == [(tiny_clip_model, None, "random")]
    assert activations(quick) == {QuickGELU.__name__}
    monkeypatch.setattr(_models, "_quick_gelu_needed", lambda *args: False)
    plain = _models._create_model(config)
    assert activations(plain) == {"GELU"}


def test_quick_gelu_tags_get_their_own_cache_key():
    key = CLIPEmbedder("ViT-B-32", "openai", device="cpu").cache_key()
    assert key == "open_clip/ViT-B-32/openai/quickgelu"
    laion = CLIPEmbedder("ViT-B-32", "laion2b_s34b_b79k", device="cpu").cache_key()
    assert laion == "open_clip/ViT-B-32/laion2b_s34b_b79k"


def test_decoding_workers_keep_the_callers_pixel_limit(monkeypatch):
    # A worker that starts afresh (spawn) gets the limit of the process that made the dataset.
    import pickle

    from sksplice._images import _DecodeDataset

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1234)
    dataset = pickle.loads(
        pickle.dumps(_DecodeDataset([np.zeros((4, 4, 3), np.uint8)], np.asarray))
    )
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 99)  # what a fresh worker would have
    _, error, told = dataset[0]
    assert error is None and told == [] and Image.MAX_IMAGE_PIXELS == 1234
