"""open_clip's registry read from its files: the same answers as open_clip, and a
command whose embeddings are all cached runs without importing open_clip (seconds)
and without the model's weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ._helpers_cli import VOCAB, in_a_fresh_process
from .conftest import TESTS_DATA

TINY_CONFIG = str(TESTS_DATA / "sksplice-test-tiny.json")


def test_the_tables_read_from_open_clips_files_answer_as_open_clip(monkeypatch):
    import open_clip

    from sksplice import _model_names
    from sksplice._models import _ImportedRegistry

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", TINY_CONFIG)
    # (read as a process that has not imported open_clip reads them)
    configs = _model_names._config_table()
    tags = _model_names._pretrained_table()
    version = _model_names._open_clip_version()
    assert configs is not None and tags is not None and version is not None
    read = _model_names.OpenClipTables(configs, tags, version)
    imported = _ImportedRegistry()  # (registers the configs of $SKSPLICE_MODEL_CONFIGS)
    assert version == open_clip.__version__ == imported.version
    models = imported.list_models()
    assert "sksplice-test-tiny" in models and "ViT-B-32" in models
    assert read.list_models() == models  # (names and order: close matches list them)
    for model in models:
        assert read.get_model_config(model) == imported.get_model_config(model), model
        assert read.list_pretrained_tags_by_model(model) == (
            imported.list_pretrained_tags_by_model(model)
        ), model
        for tag in imported.list_pretrained_tags_by_model(model):
            assert read.tag_quick_gelu(model, tag) is imported.tag_quick_gelu(model, tag)
            # (a tag as a user writes it: case and - or _ do not matter)
            shown = tag.upper().replace("_", "-")
            assert read.tag_quick_gelu(model, shown) is imported.tag_quick_gelu(model, shown)
    assert read.get_model_config("no-such-model") is None
    assert read.list_pretrained_tags_by_model("no-such-model") == []
    # some tags are QuickGELU ones (the -quickgelu twins hold only those)
    assert read.tag_quick_gelu("ViT-B-32", "openai") and read.tags["ViT-B-32-quickgelu"]
    # a copy: changing it changes nothing read later
    read.get_model_config("ViT-B-32")["embed_dim"] = 1
    assert read.get_model_config("ViT-B-32")["embed_dim"] == 512


def test_the_tables_stand_aside_once_open_clip_is_imported_or_unreadable(monkeypatch, tmp_path):
    import open_clip  # noqa: F401

    from sksplice import _model_names

    # (a program may have registered configs of its own with open_clip: it answers)
    assert _model_names.open_clip_tables() is None
    monkeypatch.delitem(sys.modules, "open_clip")
    tables = _model_names.open_clip_tables()
    assert tables is not None and "ViT-B-32" in tables.configs
    # another layout of the files (another open_clip release): open_clip answers
    monkeypatch.setattr(_model_names, "_open_clip_folder", lambda: str(tmp_path))
    assert _model_names.open_clip_tables() is None
    (tmp_path / "version.py").write_text("__version__ = compute()\n")
    assert _model_names._open_clip_version() is None
    (tmp_path / "version.py").write_text("__version__ = '9.1'\n")
    assert _model_names._open_clip_version() == "9.1"


_KEYS_SCRIPT = """
import json, sys, warnings
from sksplice import CLIPEmbedder

def answers():
    out = []
    for model, pretrained, precision in json.loads(sys.argv[1]):
        embedder = CLIPEmbedder(model, pretrained=pretrained, precision=precision, device="cpu")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                config = embedder._config()
            out.append([embedder.cache_key(), config.embed_dim, config.pretrained])
        except ValueError as exc:
            out.append(str(exc))
    return out

before = answers()
assert "open_clip" not in sys.modules, "open_clip was imported"
import open_clip
print(json.dumps([before, answers()]))
"""


def test_an_embedders_cache_key_is_the_same_without_open_clip_imported(tmp_path):
    # The caches of embeddings are keyed by cache_key(): read from open_clip's files
    # before it is imported, it must be the key open_clip's own answers give.
    asked = [
        ["ViT-B-32", "laion2b_s34b_b79k", "fp32"],
        ["ViT-B-32", "LAION2B-S34B-B79K", "fp32"],  # (the tag as a user writes it)
        ["ViT-B-32", "openai", "fp32"],  # (a QuickGELU tag: "/quickgelu")
        ["ViT-B-32-quickgelu", "openai", "fp32"],
        ["RN50", "openai", "bf16"],
        ["sksplice-test-tiny", None, "fp32"],  # (random weights: a digest of the config)
        ["sksplice-test-tiny", None, "bf16"],
        ["ViT-B/32", None, "fp32"],  # (a / read as -)
        ["ViT-B-3", None, "fp32"],  # (no such model: the same error, close matches)
        ["ViT-B-32", "laion2b", "fp32"],  # (no such tag: the same error)
    ]
    env = {**os.environ, "SKSPLICE_MODEL_CONFIGS": TINY_CONFIG}
    proc = subprocess.run(
        [sys.executable, "-c", _KEYS_SCRIPT, json.dumps(asked)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    before, after = json.loads(proc.stdout)
    assert before == after
    keys = [answer[0] for answer in before if isinstance(answer, list)]
    assert keys[:5] == [
        "open_clip/ViT-B-32/laion2b_s34b_b79k",
        "open_clip/ViT-B-32/laion2b_s34b_b79k",
        "open_clip/ViT-B-32/openai/quickgelu",
        "open_clip/ViT-B-32-quickgelu/openai",
        "open_clip/RN50/openai/quickgelu/bf16",
    ]
    assert keys[5].startswith("open_clip/sksplice-test-tiny/random-init-seed0-cfg-")
    assert keys[6] == keys[5] + "/bf16"
    assert "Close matches: 'ViT-B-32'" in before[8]
    assert "Tags for 'ViT-B-32'" in before[9]


@pytest.fixture
def cached_run(tmp_path, monkeypatch):
    """Images, a vocabulary file, and the embeddings of both cached for ViT-B-32 with the
    laion2b_s34b_b79k weights, which are not on this machine (no Hugging Face cache)."""
    from sksplice import CLIPEmbedder
    from sksplice._data import file_sha256
    from sksplice._image_cache import ImageEmbeddingCache
    from sksplice.dictionary import embed_vocabulary

    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # (an empty Hugging Face cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SKSPLICE_MODEL_CONFIGS", raising=False)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{i}.png")

    def unit(n: int) -> np.ndarray:
        X = rng.standard_normal((n, 512)).astype(np.float32)
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    class Cached:
        """Stands in for the weights: embeds with random vectors, under their key."""

        def cache_key(self) -> str:
            return "open_clip/ViT-B-32/laion2b_s34b_b79k"

        def embed_text(self, texts):
            return unit(len(texts))

    embed_vocabulary(Cached(), VOCAB, cache_dir=None)
    embedder = CLIPEmbedder("ViT-B-32", pretrained="laion2b_s34b_b79k", modality="image")
    embedder.set_params(device="cpu")
    cache = ImageEmbeddingCache.for_embedder(embedder, 512, None)
    assert cache is not None
    paths = sorted(images.iterdir())
    cache.put([file_sha256(p) for p in paths[:5]], unit(5))
    argv = [
        "decompose",
        *["--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k", "--device", "cpu"],
        *["--vocabulary", str(tmp_path / "vocab.txt"), "--image-mean", "data", "-f", "json"],
    ]
    return argv, paths


def test_a_run_whose_embeddings_are_all_cached_needs_neither_open_clip_nor_the_weights(
    cached_run,
):
    argv, paths = cached_run
    proc = in_a_fresh_process([*argv, *map(str, paths[:5])])
    out, status = proc.stdout.rsplit("\n", 2)[0], proc.stdout.rsplit("\n", 2)[1]
    assert status.split() == ["0", "True", "False"], proc.stderr
    data = json.loads(out)
    assert [Path(record["path"]).name for record in data["images"]] == [p.name for p in paths[:5]]
    assert "5 embeddings read from the cache of image embeddings" in proc.stderr


def test_an_image_not_cached_loads_the_model_before_any_image_is_embedded(cached_run):
    # The weights are needed for the sixth image: the run says it before the progress
    # bar, as where the concept dictionary is not cached either (with the options).
    argv, paths = cached_run
    proc = in_a_fresh_process([*argv, *map(str, paths)])
    code, _, open_clip_imported = proc.stdout.split("\n")[-2].split()
    assert (code, open_clip_imported) == ("1", "True"), proc.stderr
    assert proc.stdout.count("\n") == 1  # (no record written)
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "sksplice: error: the pretrained weights of open_clip model 'ViT-B-32' "
        "(--pretrained laion2b_s34b_b79k) are not in the local cache"
    ), proc.stderr
    assert not any("CLIP images" in line for line in lines), proc.stderr
