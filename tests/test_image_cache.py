"""The cache of image embeddings that the command line keeps between runs."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ._helpers_cli import model_args as _args
from ._helpers_cli import run_main as _main


@pytest.fixture
def embedded(monkeypatch):
    """The lists of images each ``embed_images`` call of the run embedded."""
    from sksplice.embedders import CLIPEmbedder

    calls: list[list[str]] = []
    original = CLIPEmbedder.embed_images

    def counted(self, images, *args, **kwargs):
        calls.append([Path(p).name for p in images])
        return original(self, images, *args, **kwargs)

    monkeypatch.setattr(CLIPEmbedder, "embed_images", counted)
    return calls


def _assert_close(a: str, b: str) -> None:
    """Two CSV outputs name the same concepts of the same images, with the same weights
    up to float32 rounding."""
    rows_a, rows_b = (list(csv.DictReader(io.StringIO(t))) for t in (a, b))
    named = [[(r["path"], r["concept"]) for r in rows] for rows in (rows_a, rows_b)]
    assert named[0] == named[1]
    for x, y in zip(rows_a, rows_b, strict=True):
        assert float(x["weight"] or 0) == pytest.approx(float(y["weight"] or 0), abs=1e-5)


def _cached_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "images").rglob("*.npy"))


def _interrupted_at(monkeypatch, call: int) -> Any:
    """Make the embedder's ``call``-th forward pass raise KeyboardInterrupt (a Ctrl-C);
    returns the forward pass it replaced, to put back."""
    from sksplice.embedders import CLIPEmbedder

    encoded: list[int] = []
    original = CLIPEmbedder._encode

    def interrupted(encode, batch, config):
        encoded.append(len(batch))
        if len(encoded) == call:
            raise KeyboardInterrupt
        return original(encode, batch, config)

    monkeypatch.setattr(CLIPEmbedder, "_encode", staticmethod(interrupted))
    return original


class _Terminal(io.StringIO):
    """Standard error as a terminal, where tqdm redraws its bar in place."""

    def isatty(self) -> bool:
        return True


def test_the_bar_of_a_run_partly_cached_counts_the_embedded_images_in_its_rate(
    run_env, tmp_path, capsys, embedded, monkeypatch
):
    # "CLIP images: 100% 32/32 [..., 63.61image/s]" counted the images read from the cache
    # in its rate (a model that embeds 9 images a second read at 31), and said nothing of
    # them until the line after it.
    from sksplice.embedders import CLIPEmbedder

    cats = sorted((run_env / "cats").iterdir())
    embed_images = CLIPEmbedder.embed_images

    def slow(self, images, **kwargs):  # (4 images in at least 0.4 s: at most 10 a second)
        time.sleep(0.4)
        return embed_images(self, images, **kwargs)

    rate = r"CLIP images: 100%.* 6/6 \[.*, *([\d.]+)image/s, 2 from the cache\]"
    for terminal in (False, True):  # (a log's lines; a bar redrawn, its rate smoothed)
        shutil.rmtree(tmp_path / "cache" / "images", ignore_errors=True)
        code, _, err = _main(["decompose", *map(str, cats[:2]), *_args(tmp_path)], capsys)
        assert code == 0 and len(_cached_files(tmp_path)) == 2, err
        with monkeypatch.context() as patched:
            patched.setattr(CLIPEmbedder, "embed_images", slow)
            if terminal:
                patched.setattr(sys, "stderr", _Terminal())
            code, _, err = _main(["decompose", str(run_env), *_args(tmp_path)], capsys)
            err = sys.stderr.getvalue() if terminal else err
        assert code == 0, err
        last = [part for part in re.split(r"[\r\n]", err) if "CLIP images: 100%" in part][-1]
        found = re.fullmatch(rate, last.strip())
        assert found and float(found.group(1)) <= 10.5, last  # (it said 15: 6 in 0.4 s)
        if not terminal:  # (and the line after the bar: both counts)
            (folder,) = (tmp_path / "cache" / "images").iterdir()
            assert (
                f"sksplice: 2 embeddings read from the cache of image embeddings ({folder}; "
                "4 new embeddings kept in it for later runs; --no-image-cache embeds them all)"
            ) in err.splitlines(), err


def test_images_read_from_the_cache_between_embedded_ones_stay_out_of_the_smoothed_rate(
    run_env, tmp_path, capsys, monkeypatch
):
    # A bar redrawn on a terminal shows tqdm's smoothed rate, of the count since its last
    # drawing: images read from the cache between two embedded calls were counted in it
    # (1,000 read and 10 embedded at 10 a second showed 96 a second).
    from sksplice.cli import _decompose
    from sksplice.embedders import CLIPEmbedder

    dogs = sorted((run_env / "dogs").iterdir())
    code, _, err = _main(["decompose", *map(str, dogs[:2]), *_args(tmp_path)], capsys)
    assert code == 0 and len(_cached_files(tmp_path)) == 2, err
    embed_images = CLIPEmbedder.embed_images

    def slow(self, images, **kwargs):  # (a call in at least 0.4 s)
        time.sleep(0.4)
        return embed_images(self, images, **kwargs)

    monkeypatch.setattr(CLIPEmbedder, "embed_images", slow)
    monkeypatch.setattr(_decompose, "_CHUNK", 3)  # (calls of cats 0-2, then dogs 0-2)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    argv = ["decompose", str(run_env), "--batch-size", "1", *_args(tmp_path)]
    code, _, _ = _main(argv, capsys)
    err = sys.stderr.getvalue()
    assert code == 0, err
    # 4 images embedded in two calls of at least 0.4 s each, 3 then 1: no drawing of the
    # bar says more than 3 / 0.4 = 7.5 a second, and the last about 5 (the drawing after
    # the second call said 8.1, its count since the first call's 3 with the 2 read)
    drawn = [part for part in re.split(r"[\r\n]", err) if part.startswith("CLIP images")]
    rates = [float(r) for part in drawn for r in re.findall(r"([\d.]+)image/s", part)]
    assert rates and max(rates) <= 7.5 and rates[-1] <= 6.0, drawn
    assert " 6/6 [" in drawn[-1] and drawn[-1].endswith(", 2 from the cache]"), drawn


def test_a_second_run_of_any_command_reads_the_embeddings_of_the_first(
    run_env, tmp_path, capsys, embedded
):
    # Each command embedded every image again: decompose, then profile, then report of
    # one folder embedded it three times (minutes a command for a few thousand images).
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, first, err = _main(argv, capsys)
    assert code == 0, err
    assert sum(map(len, embedded)) == 6 and len(_cached_files(tmp_path)) == 6
    assert "CLIP images: 100% 6/6" in err, err
    (folder,) = (tmp_path / "cache" / "images").iterdir()
    # (the first run says where it kept them: a user learned of the cache only when a
    # second run read it)
    assert (
        f"sksplice: 6 embeddings kept in the cache of image embeddings ({folder}): later runs "
        "of any command on these files with this model, and these releases of sksplice and "
        "the libraries it embeds with, read them instead of embedding them again "
        "(--no-image-cache neither reads nor keeps them)"
    ) in err.splitlines(), err
    key = json.loads((folder / "key.json").read_text(encoding="utf-8"))
    assert key["embedder"].startswith("open_clip/sksplice-test-tiny/") and key["sksplice"]
    embedded.clear()
    code, second, err = _main(argv, capsys)
    assert code == 0 and second == first and embedded == [], err
    # (no bar of images "embedded" at 100,000 a second: the line below says where from)
    assert "CLIP images" not in err, err
    assert (
        f"sksplice: 6 embeddings read from the cache of image embeddings ({folder}; "
        "--no-image-cache embeds them all)"
    ) in err.splitlines(), err
    code, _, err = _main(["profile", str(run_env), "-q", *_args(tmp_path)], capsys)
    assert code == 0 and embedded == [], err
    assert "read from the cache" not in err and "kept in the cache" not in err  # (-q)
    # --no-image-cache: every image embedded though the cache holds it, nothing written
    kept = {path: path.stat().st_mtime_ns for path in _cached_files(tmp_path)}
    code, plain, err = _main([*argv, "--no-image-cache"], capsys)
    assert code == 0 and plain == first and sum(map(len, embedded)) == 6, err
    assert "read from the cache" not in err and "kept in the cache" not in err
    assert {path: path.stat().st_mtime_ns for path in _cached_files(tmp_path)} == kept
    for path in _cached_files(tmp_path):
        path.unlink()
    code, _, err = _main([*argv, "--no-image-cache"], capsys)
    assert code == 0 and _cached_files(tmp_path) == [], err


def test_an_image_changed_is_embedded_again_and_a_copy_is_found(
    run_env, tmp_path, capsys, embedded
):
    from PIL import Image

    argv = ["decompose", str(run_env), "-f", "json", *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    embedded.clear()
    changed = run_env / "cats" / "1.png"
    Image.fromarray(np.full((32, 32, 3), 200, dtype=np.uint8)).save(changed)
    (run_env / "dogs" / "copy.png").write_bytes((run_env / "dogs" / "0.png").read_bytes())
    code, out, err = _main(argv, capsys)
    assert code == 0, err
    assert embedded == [["1.png"]]  # (the copy has the content of a file embedded already)
    records = {r["path"]: r for r in json.loads(out)["images"]}
    same = records[str(run_env / "dogs" / "copy.png")], records[str(run_env / "dogs" / "0.png")]
    assert same[0]["concepts"] == same[1]["concepts"]
    # the run gives what a run without the cache gives (the images it embeds now are
    # embedded in a call of their own: the same values up to float32 rounding)
    code, plain, err = _main([*argv, "--no-image-cache"], capsys)
    assert code == 0, err
    for a, b in zip(json.loads(out)["images"], json.loads(plain)["images"], strict=True):
        assert a["path"] == b["path"] and a["cosine"] == pytest.approx(b["cosine"], abs=1e-5)
        assert [c["concept"] for c in a["concepts"]] == [c["concept"] for c in b["concepts"]]


def test_an_unreadable_image_is_skipped_on_every_run_and_a_damaged_file_embedded_again(
    run_env, tmp_path, capsys, embedded
):
    (run_env / "cats" / "broken.png").write_bytes(b"not an image")
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, first, err = _main(argv, capsys)
    assert code == 0 and "skipped 1 of 7 images" in err, err
    assert len(_cached_files(tmp_path)) == 6  # (nothing kept of the image skipped)
    embedded.clear()
    damaged = _cached_files(tmp_path)[0]
    damaged.write_bytes(damaged.read_bytes()[:40])  # (cut short)
    wrong = _cached_files(tmp_path)[1]
    np.save(wrong, np.ones(7, dtype=np.float32))  # (not of the model's width)
    code, second, err = _main(argv, capsys)
    assert code == 0 and "skipped 1 of 7 images" in err, err
    _assert_close(second, first)  # (two images embedded in a call of their own)
    assert sorted(map(len, embedded)) == [3]  # (the two files, and the broken image)
    assert np.load(damaged).shape == np.load(wrong).shape == (32,)  # (replaced)
    # every image read from the cache, the broken one skipped again: no bar of seven
    # images "embedded" (it was shown for the one file decoded to be skipped)
    embedded.clear()
    code, third, err = _main(argv, capsys)
    assert code == 0 and embedded == [], err
    _assert_close(third, second)
    assert "skipped 1 of 7 images" in err and "CLIP images" not in err, err


def test_the_cache_reads_only_whole_vectors_of_its_width_and_stops_writing_where_it_cannot(
    tmp_path, caplog
):
    from sksplice._image_cache import ImageEmbeddingCache, seen_files

    cache = ImageEmbeddingCache(tmp_path / "c", 4, {"embedder": "e"})
    X = np.array([[1, 2, 3, 4], [np.nan] * 4, [5, 6, 7, 8]], dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # (embeddings of unit length)
    cache.put(["aa11", "bb22", None], X)  # (a skipped image, an image without a digest)
    assert cache.n_written == 1
    found = cache.get(["aa11", "bb22", None, "cc33"])
    assert list(found) == [0] and np.array_equal(found[0], X[0]) and cache.n_read == 1
    assert json.loads((tmp_path / "c" / "key.json").read_text()) == {"embedder": "e"}
    assert not [p for p in (tmp_path / "c").rglob("*.tmp")]
    # (float64, another width, not finite, not of unit length: a file of other values,
    # which changed the concepts of its image)
    for bad in (
        X[0].astype(np.float64),
        np.full(5, 0.2**0.5, dtype=np.float32),
        np.array([1, np.inf, 0, 0], "f4"),
        np.ones(4, dtype=np.float32),
    ):
        np.save(tmp_path / "c" / "aa" / "11.npy", bad)
        assert cache.get(["aa11"]) == {}
    # a file that claims a huge shape allocates nothing; one cut short is not read
    np.save(tmp_path / "c" / "aa" / "11.npy", X[0])
    whole = (tmp_path / "c" / "aa" / "11.npy").read_bytes()
    assert np.array_equal(cache.get(["aa11"])[0], X[0])
    header = whole[: whole.index(b"}") + 1].replace(b"(4,)", b"(100000000000,)")
    huge = header + b" " * (128 - len(header) - 1) + b"\n" + whole[128:]
    (tmp_path / "c" / "aa" / "11.npy").write_bytes(huge)
    assert cache.get(["aa11"]) == {}
    (tmp_path / "c" / "aa" / "11.npy").write_bytes(whole[:-3])
    assert cache.get(["aa11"]) == {}
    # a file that cannot be read has no digest (the embedder says why it is skipped)
    missing, key = seen_files([tmp_path / "missing.png", tmp_path / "c" / "key.json"])
    assert missing is None and key is not None and len(key.digest) == 64
    # a folder that takes no file: said once, and the run goes on
    (tmp_path / "file").write_text("x")
    blocked = ImageEmbeddingCache(tmp_path / "file" / "c", 4)
    with caplog.at_level(logging.WARNING, logger="sksplice"):
        blocked.put(["aa11", "dd44"], X[[0, 2]])
        blocked.put(["ee55"], X[:1])
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith(
        "the embeddings of the images are not kept for later runs: "
    ), said
    assert blocked.n_written == 0 and blocked.get(["aa11"]) == {}


def test_embeddings_of_other_weights_or_releases_are_kept_apart(tmp_path, monkeypatch):
    from sksplice import _version
    from sksplice._image_cache import ImageEmbeddingCache

    class Embedder:
        def __init__(self, key):
            self.key = key

        def cache_key(self):
            return self.key

    folders = {
        ImageEmbeddingCache.for_embedder(Embedder(key), 32, tmp_path).folder
        for key in ("open_clip/ViT-B-32/openai", "open_clip/ViT-B-32/laion2b_s34b_b79k")
    }
    same = ImageEmbeddingCache.for_embedder(Embedder("open_clip/ViT-B-32/openai"), 32, tmp_path)
    assert len(folders) == 2 and same.folder in folders
    assert all(f.parent == tmp_path / "images" for f in folders)
    monkeypatch.setattr(_version, "__version__", "9.9.9")  # (another release reads images
    other = ImageEmbeddingCache.for_embedder(Embedder("open_clip/ViT-B-32/openai"), 32, tmp_path)
    assert other.folder not in folders and other.key["sksplice"] == "9.9.9"  # (its own way)
    assert ImageEmbeddingCache.for_embedder(Embedder(None), 32, tmp_path) is None


def test_strict_names_the_unreadable_image_by_its_place_in_the_run(run_env, tmp_path, capsys):
    # The images the cache held are not given to the embedder: the position in its error
    # is of the images it was given, and was read as the position in the run.
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    broken = run_env / "dogs" / "1b.png"  # (the 6th of 7 in the order of the run)
    broken.write_bytes(b"not an image")
    code, out, err = _main([*argv, "--strict"], capsys)
    assert code == 1 and out == "", err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("(image 6 of 7; --strict stops at the first image that cannot be read)")
    ), err
    assert str(broken) in err


def test_an_image_rewritten_while_it_is_embedded_is_not_kept(
    run_env, tmp_path, capsys, monkeypatch
):
    # The digest was taken before the embedder read the file: a file rewritten in between
    # left the embedding of its new picture under its old content's digest, for good.
    from PIL import Image

    from sksplice.embedders import CLIPEmbedder

    target = run_env / "cats" / "0.png"
    old = target.read_bytes()
    original = CLIPEmbedder.embed_images

    def rewritten_first(self, images, *args, **kwargs):
        Image.fromarray(np.full((32, 32, 3), 30, dtype=np.uint8)).save(target)
        return original(self, images, *args, **kwargs)

    monkeypatch.setattr(CLIPEmbedder, "embed_images", rewritten_first)
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    assert len(_cached_files(tmp_path)) == 5  # (all but the image rewritten)
    monkeypatch.setattr(CLIPEmbedder, "embed_images", original)
    target.write_bytes(old)  # (the old content back: embedded, not another's embedding)
    code, cached, err = _main(argv, capsys)
    assert code == 0, err
    code, plain, err = _main([*argv, "--no-image-cache"], capsys)
    assert code == 0, err
    _assert_close(cached, plain)


def test_an_image_over_the_pixel_limit_is_refused_though_the_cache_holds_it(
    run_env, tmp_path, capsys
):
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    code, out, err = _main([*argv, "--max-image-pixels", "500", "--strict"], capsys)
    assert code == 1 and out == "", err  # (32 x 32 = 1024 pixels)
    assert "--max-image-pixels" in err.splitlines()[-1], err
    code, out, err = _main([*argv, "--max-image-pixels", "2000"], capsys)
    assert code == 0 and "6 embeddings read from the cache" in err, err


def test_a_streamed_run_reads_and_keeps_the_embeddings_too(run_env, tmp_path, capsys, embedded):
    # (a centre that does not depend on the images: the records are written as the
    # images are embedded, in chunks)
    mean = tmp_path / "mean.npy"
    np.save(mean, np.full(32, 0.01, dtype=np.float32))
    argv = ["decompose", str(run_env), "-f", "jsonl", "--image-mean", str(mean),
            "--batch-size", "2", *_args(tmp_path)]  # fmt: skip
    code, first, err = _main(argv, capsys)
    assert code == 0 and len(_cached_files(tmp_path)) == 6, err
    embedded.clear()
    code, second, err = _main(argv, capsys)
    assert code == 0 and second == first and embedded == [], err


def test_a_run_whose_images_are_all_in_the_cache_loads_no_model(
    run_env, tmp_path, capsys, monkeypatch
):
    # A second run over one folder loaded the model (1.5 s of a 9.6 s run of 1,000 images
    # on ViT-B-32, all read from the cache) though it embedded no image.
    import sksplice.embedders as embedders
    from sksplice._models import clear_model_cache

    loaded: list[str] = []
    original = embedders._load_model

    def counted(config):
        loaded.append(config.model)
        return original(config)

    monkeypatch.setattr(embedders, "_load_model", counted)
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, first, err = _main(argv, capsys)
    assert code == 0 and loaded, err
    clear_model_cache()
    loaded.clear()
    code, second, err = _main(argv, capsys)
    assert code == 0 and second == first and loaded == [], err
    # an image the cache lacks, after a first call found whole in it: loaded by the call
    # that embeds it, with the same results for the others
    monkeypatch.setattr("sksplice.cli._decompose._CHUNK", 4)
    from PIL import Image

    Image.new("RGB", (40, 30), (10, 200, 30)).save(run_env / "zz_new.png")
    code, third, err = _main([*argv, "--batch-size", "4"], capsys)
    assert code == 0 and loaded == ["sksplice-test-tiny"], err
    assert "zz_new.png" in third and "6 embeddings read from the cache" in err, err


def test_files_that_cannot_be_read_make_a_run_cached_otherwise_load_no_model(
    run_env, tmp_path, capsys, monkeypatch
):
    # A damaged file is never cached: every run loaded the model (seconds to a minute)
    # to skip it again, though the cache held every other image.
    import sksplice.embedders as embedders
    from sksplice._models import clear_model_cache

    loaded: list[str] = []
    original = embedders._load_model
    monkeypatch.setattr(embedders, "_load_model", lambda c: loaded.append(c.model) or original(c))
    (run_env / "cats" / "broken.png").write_bytes(b"not an image")
    (run_env / "dogs" / "empty.jpg").write_bytes(b"")
    argv = ["decompose", str(run_env), "-f", "csv", *_args(tmp_path)]
    code, first, first_err = _main(argv, capsys)
    assert code == 0 and loaded and "skipped 2 of 8 images" in first_err, first_err
    for chunk in (512, 3):  # (the files in the first call, and in a later one)
        monkeypatch.setattr("sksplice.cli._decompose._CHUNK", chunk)
        clear_model_cache()
        loaded.clear()
        code, again, err = _main([*argv, "--batch-size", "3"], capsys)
        assert code == 0 and again == first and loaded == [], err
        skipped = [line for line in err.splitlines() if "broken.png" in line or "empty.jpg" in line]
        assert skipped == [
            line for line in first_err.splitlines() if "broken.png" in line or "empty.jpg" in line
        ]
    # under --strict the first one stops the run, named as before
    code, out, err = _main([*argv, "--strict"], capsys)
    assert code == 1 and out == "" and "broken.png" in err, err


def test_an_interrupted_run_keeps_the_batches_it_embedded(run_env, tmp_path, capsys, monkeypatch):
    # Ctrl-C lost every embedding of the call in progress (about 512 images: minutes of a
    # large model on a CPU); now those of its finished batches are kept.
    from sksplice.embedders import CLIPEmbedder

    original = _interrupted_at(monkeypatch, 3)
    argv = ["decompose", str(run_env), "-f", "csv", "--batch-size", "2", *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 130 and out == "", err
    assert len(_cached_files(tmp_path)) == 4  # (two batches of two)
    assert (
        "sksplice: error: interrupted while embedding images (4 of 6 embedded, 4 of them kept "
        "for a run started again): no record was written"
    ) in err.splitlines(), err
    monkeypatch.setattr(CLIPEmbedder, "_encode", staticmethod(original))
    code, resumed, err = _main(argv, capsys)
    assert code == 0, err
    assert "4 embeddings read from the cache" in err and len(_cached_files(tmp_path)) == 6
    # the same records as a run that was not interrupted
    code, plain, err = _main([*argv, "--no-image-cache"], capsys)
    assert code == 0 and plain == resumed, err


def test_a_streamed_run_interrupted_while_embedding_says_what_it_kept(
    run_env, tmp_path, capsys, monkeypatch
):
    # It said the records written, not that the embeddings of its finished batches were
    # kept, as a run that writes at the end says.
    from sksplice.embedders import CLIPEmbedder

    mean = np.random.default_rng(0).standard_normal(32)
    np.save(tmp_path / "mean.npy", mean / np.linalg.norm(mean))
    encoded: list[int] = []
    original = CLIPEmbedder._encode

    def interrupted_third(encode, batch, config):
        if batch.ndim == 4:  # (images; the concepts are embedded first here)
            encoded.append(len(batch))
            if len(encoded) == 3:
                raise KeyboardInterrupt
        return original(encode, batch, config)

    monkeypatch.setattr(CLIPEmbedder, "_encode", staticmethod(interrupted_third))
    monkeypatch.setattr("sksplice.cli._decompose._CHUNK", 4)
    argv = ["decompose", str(run_env), "-f", "jsonl", "--batch-size", "2", *_args(tmp_path)]
    code, out, err = _main([*argv, "--image-mean", str(tmp_path / "mean.npy")], capsys)
    assert code == 130 and len(out.splitlines()) == 4, err  # (the first chunk's records)
    assert err.splitlines()[-1] == (
        "sksplice: error: interrupted: 4 of 6 images written; 4 image embeddings kept for a "
        "run started again"
    ), err
    assert len(_cached_files(tmp_path)) == 4


def test_a_signal_while_the_finished_batches_are_kept_waits_for_them():
    # The files of the batches finished before a Ctrl-C are written while the run ends; a
    # second signal (Ctrl-C again, a job killer's SIGTERM) then cut them short: holding it
    # for the main thread did nothing where another thread (tqdm's monitor, torch's
    # workers) took it. Recorded instead, as the command line's handler does when it
    # commits its output.
    import os
    import signal
    import threading
    import time

    from sksplice.cli._logging import _signals_as_interrupt, signals_recorded

    other = threading.Event()
    threading.Thread(target=other.wait, daemon=True).start()  # (a thread that takes signals)
    written = []
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt), _signals_as_interrupt():
            with signals_recorded():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # (the handler has run by now)
                written.append("files")
            os.kill(os.getpid(), signal.SIGINT)  # (outside the block: at once)
            time.sleep(1)
            written.append("not reached")
    finally:
        other.set()
        signal.signal(signal.SIGINT, previous)
    assert written == ["files"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes")
def test_an_image_given_as_a_named_pipe_is_read_once_by_the_embedder(run_env, tmp_path, capsys):
    # The cache read the pipe to the end to take its digest, and the embedder found it
    # empty: "'/dev/fd/63' is not an image file PIL can read", exit 0, one image short.
    import os
    import threading

    from sksplice._image_cache import seen_files

    dogs = sorted((run_env / "dogs").iterdir())
    image = dogs[0]
    argv = ["decompose", "-f", "csv", "-k", "1", *_args(tmp_path)]
    code, plain, err = _main([*argv, *map(str, dogs), "--no-image-cache"], capsys)
    assert code == 0, err
    expected = plain.splitlines()[1:]
    assert expected[0].startswith(f"{image},")
    for run in range(2):  # (the second with the image's embedding in the cache)
        pipe = tmp_path / f"pipe{run}.png"
        os.mkfifo(pipe)

        def write(pipe=pipe):
            # the image to the first reader, nothing to any other (a second reading
            # finds the pipe empty, as a shell's <(cat image.png) would leave it)
            for n in range(3):
                with open(pipe, "wb") as fh:
                    fh.write(image.read_bytes() if n == 0 else b"")

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        code, out, err = _main([*argv, str(pipe), *map(str, dogs[1:])], capsys)
        while writer.is_alive():  # (the writer waits for readers that do not come)
            os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
            writer.join(0.1)
        assert code == 0 and "skipped" not in err, err
        assert out.splitlines()[1:] == [
            expected[0].replace(str(image), str(pipe)),
            *expected[1:],
        ], out
    # (nothing is hashed that is no regular file: a device may never end)
    assert seen_files(["/dev/null", str(image)])[0] is None


# ---------------------------------------------------------------- CLIPEmbedder(image_cache=)


def _image_files(folder: Path, n: int) -> list[str]:
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return [str(folder / f"{i}.png") for i in range(n)]


def test_the_estimator_keeps_image_embeddings_and_a_call_interrupted_resumes(
    tiny_clip_model, tmp_path, monkeypatch
):
    # Ctrl-C in CLIPEmbedder.transform lost every image embedded (9,216 of 12,000 in a
    # trial), silently; with image_cache each batch is kept as it is made.
    from sksplice.embedders import CLIPEmbedder

    paths = _image_files(tmp_path / "images", 7)
    made = dict(model=tiny_clip_model, pretrained=None, batch_size=2, num_workers=0)
    plain = CLIPEmbedder(**made).transform(paths)
    cached = CLIPEmbedder(**made, image_cache=tmp_path / "cache")
    original = _interrupted_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        cached.transform(paths)
    assert len(_cached_files(tmp_path)) == 4  # (two batches of two)
    counted: list[int] = []
    monkeypatch.setattr(
        CLIPEmbedder,
        "_encode",
        staticmethod(lambda e, b, c: counted.append(len(b)) or original(e, b, c)),
    )
    resumed = cached.transform(paths)
    assert sum(counted) == 3  # (only the images not kept)
    np.testing.assert_allclose(resumed, plain, atol=1e-6)  # (other batches: rounding)
    counted.clear()
    again = cached.transform(paths[::-1])  # (any order: keyed by content)
    assert counted == [] and len(_cached_files(tmp_path)) == 7
    np.testing.assert_array_equal(again, resumed[::-1])


def test_an_interruption_without_the_cache_says_what_was_lost(
    tiny_clip_model, tmp_path, monkeypatch
):
    from sksplice.embedders import CLIPEmbedder

    paths = _image_files(tmp_path / "images", 5)
    _interrupted_at(monkeypatch, 2)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, batch_size=2, num_workers=0)
    with pytest.raises(KeyboardInterrupt) as caught:
        embedder.transform(paths)
    if sys.version_info >= (3, 11):
        assert caught.value.__notes__ == [
            "CLIPEmbedder: 2 of 5 images were embedded when interrupted, and are not kept; "
            "with image_cache=True the embeddings of image files are kept on disk as they "
            "are made, and a call started again resumes from them"
        ]


def test_the_estimator_and_the_command_line_share_the_cache(run_env, tmp_path, capsys, caplog):
    from sksplice.embedders import CLIPEmbedder

    code, _, err = _main(["decompose", str(run_env), "-f", "csv", *_args(tmp_path)], capsys)
    assert code == 0, err
    paths = sorted(str(p) for p in run_env.rglob("*.png"))
    embedder = CLIPEmbedder("sksplice-test-tiny", pretrained=None, image_cache=True)
    with caplog.at_level(logging.INFO, logger="sksplice"):
        X = embedder.transform(paths)
    assert f"{len(paths)} of {len(paths)} images read from the cache of image embeddings" in (
        caplog.text
    )
    np.testing.assert_allclose(
        X, CLIPEmbedder("sksplice-test-tiny", pretrained=None).transform(paths), atol=1e-6
    )


def test_skipped_images_are_named_by_their_place_in_the_input_whatever_the_cache_holds(
    tiny_clip_model, tmp_path
):
    from sksplice.embedders import CLIPEmbedder, SkippedInputWarning

    paths = _image_files(tmp_path / "images", 4)
    bad = tmp_path / "images" / "bad.png"
    bad.write_text("no image")
    made = dict(model=tiny_clip_model, pretrained=None, image_cache=tmp_path / "cache")
    CLIPEmbedder(**made).transform(paths[:2])  # (the first two kept)
    items = [*paths[:2], str(bad), *paths[2:]]
    X, skipped = CLIPEmbedder(**made, on_error="skip").embed_images(items, return_skipped=True)
    assert [(s.index, s.item) for s in skipped] == [(2, str(bad))]
    assert np.isnan(X[2]).all() and np.isfinite(np.delete(X, 2, axis=0)).all()
    with pytest.raises(ValueError, match=r"^input 2: .*bad\.png"):
        CLIPEmbedder(**made).transform(items)
    with pytest.warns(SkippedInputWarning, match="skipped 1 of 5 images"):
        CLIPEmbedder(**made, on_error="skip").transform(items)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (
            1.5,
            TypeError,
            "image_cache must be True, False or the path of a cache folder, got float",
        ),
        ("", ValueError, "image_cache is an empty path"),
    ],
)
def test_an_image_cache_that_is_no_flag_or_folder_is_refused(tiny_clip_model, value, error, words):
    from sksplice.embedders import CLIPEmbedder

    with pytest.raises(error, match=words):
        CLIPEmbedder(tiny_clip_model, pretrained=None, image_cache=value).fit()


def test_a_cache_folder_removed_during_a_run_is_made_again(tmp_path):
    # sksplice cache --clear images during a run: every later write failed ("cannot be
    # written (No such file or directory); give --cache-dir a writable folder").
    from sksplice._image_cache import ImageEmbeddingCache

    cache = ImageEmbeddingCache(tmp_path / "images" / "k", 3, {"embedder": "x"})
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    cache.put(["ab" * 32], vector[None])
    shutil.rmtree(tmp_path / "images")
    cache.put(["cd" * 32], vector[None])
    assert cache.n_written == 2 and cache._writable
    assert (tmp_path / "images" / "k" / "key.json").is_file()
    assert cache.get(["cd" * 32]) and not cache.get(["ab" * 32])


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_run_killed_keeps_the_batches_it_embedded(run_env, tmp_path):
    # The embeddings of a call (about 512 images) were kept when it returned: a process
    # killed (SIGKILL, the out-of-memory killer) lost all of the call's; now each batch is
    # kept as it is made.
    import os
    import subprocess

    script = (
        "import os, signal, sys\n"
        "from sksplice import cli\n"
        "from sksplice.embedders import CLIPEmbedder\n"
        "original, calls = CLIPEmbedder._encode, []\n"
        "def killed_at_third(encode, batch, config):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return original(encode, batch, config)\n"
        "CLIPEmbedder._encode = staticmethod(killed_at_third)\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    argv = ["decompose", str(run_env), "-f", "csv", "--batch-size", "2", "-q", *_args(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, env=os.environ
    )
    assert done.returncode == -9, done.stderr
    assert len(_cached_files(tmp_path)) == 4  # (the two batches of two made before it)


def test_an_embedder_pickled_before_image_cache_existed_embeds_as_it_did(tiny_clip_model):
    import pickle

    from sksplice.embedders import CLIPEmbedder

    state = CLIPEmbedder(tiny_clip_model, pretrained=None).__getstate__()
    del state["image_cache"], state["num_workers"]  # (as an earlier release pickled it)
    old = CLIPEmbedder.__new__(CLIPEmbedder)
    old.__setstate__(state)
    assert old.get_params()["image_cache"] is False and old.get_params()["num_workers"] is None
    assert pickle.loads(pickle.dumps(old)).get_params() == old.get_params()


def test_an_image_cache_that_cannot_be_had_or_written_is_warned_about(tiny_clip_model, tmp_path):
    from sksplice.embedders import CLIPEmbedder

    paths = _image_files(tmp_path / "images", 2)
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    with pytest.warns(UserWarning, match=r"image_cache: no cache folder can be had \(.*afile"):
        X = CLIPEmbedder(tiny_clip_model, pretrained=None, image_cache=afile).transform(paths)
    assert np.isfinite(X).all()
    # a folder whose images/ cannot take a file: a warning (filterable), once per call
    root = tmp_path / "cache"
    root.mkdir()
    (root / "images").write_text("not a folder")
    with pytest.warns(
        UserWarning, match="not kept for later calls: .* give image_cache a writable"
    ):
        CLIPEmbedder(tiny_clip_model, pretrained=None, image_cache=root).transform(paths)
