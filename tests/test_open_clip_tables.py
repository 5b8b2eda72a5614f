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


_LIST_SCRIPT = """
import json
from sksplice._models import _ImportedRegistry
print(json.dumps(_ImportedRegistry().list_models()))
"""


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
    models = read.list_models()
    assert "sksplice-test-tiny" in models and "ViT-B-32" in models
    # (names and order, as close matches list them; open_clip in this process may hold
    # configs other tests registered with it, of folders no longer in the environment)
    assert [m for m in imported.list_models() if m in read.configs] == models
    listed = subprocess.run(  # (and all of them, as a fresh process's open_clip lists them)
        [sys.executable, "-c", _LIST_SCRIPT],
        capture_output=True,
        text=True,
        env={**os.environ, "SKSPLICE_MODEL_CONFIGS": TINY_CONFIG},
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == models
    for model in models:
        assert read.get_model_config(model) == imported.get_model_config(model), model
        assert read.list_pretrained_tags_by_model(model) == (
            imported.list_pretrained_tags_by_model(model)
        ), model
        for tag in imported.list_pretrained_tags_by_model(model):
            # (what open_clip itself says: where the weights come from, and QuickGELU)
            cfg = open_clip.get_pretrained_cfg(model, tag)
            assert read.get_pretrained_cfg(model, tag) == {
                "url": cfg.get("url", ""),
                "hf_hub": cfg.get("hf_hub", ""),
                "quick_gelu": bool(cfg.get("quick_gelu", False)),
            }, (model, tag)
            assert read.tag_quick_gelu(model, tag) is imported.tag_quick_gelu(model, tag)
            # (a tag as a user writes it: case and - or _ do not matter)
            shown = tag.upper().replace("_", "-")
            assert read.tag_quick_gelu(model, shown) is imported.tag_quick_gelu(model, shown)
    assert read.get_model_config("no-such-model") is None
    assert read.get_pretrained_cfg("ViT-B-32", "no-such-tag") == {}
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
    before, after = _keys(asked, TINY_CONFIG)
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


def _keys(asked: list, configs: str) -> tuple[list, list]:
    """The answers of :data:`_KEYS_SCRIPT` in a fresh process with ``configs`` as
    ``$SKSPLICE_MODEL_CONFIGS``: before open_clip is imported, and after."""
    env = {**os.environ, "SKSPLICE_MODEL_CONFIGS": configs}
    proc = subprocess.run(
        [sys.executable, "-c", _KEYS_SCRIPT, json.dumps(asked)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    before, after = json.loads(proc.stdout)
    return before, after


def test_a_config_of_a_built_in_name_is_read_as_open_clip_reads_it(tmp_path):
    # A folder of $SKSPLICE_MODEL_CONFIGS whose every config replaces a built-in name
    # (a patched ViT-B-32.json) added no name, and was taken for a folder of none:
    # open_clip was imported to answer, in every run.
    folder = tmp_path / "patched"
    folder.mkdir()
    (folder / "ViT-B-32.json").write_text(Path(TINY_CONFIG).read_text())
    asked = [["ViT-B-32", None, "fp32"], ["sksplice-test-tiny", None, "fp32"]]
    before, after = _keys(asked, os.pathsep.join([TINY_CONFIG, str(folder), str(folder)]))
    assert before == after  # (and open_clip not imported before: the script checks)
    assert before[0][1] == 32 and before[0][0] == before[1][0].replace(
        "sksplice-test-tiny", "ViT-B-32"
    )


def test_a_config_file_not_named_json_is_refused_as_open_clip_skips_it(tmp_path, monkeypatch):
    # open_clip reads a file named in add_model_config only where it ends in .json: the
    # tables took it, and the model was known until open_clip was imported.
    from sksplice import _model_names

    text = tmp_path / "tiny.txt"
    text.write_text(Path(TINY_CONFIG).read_text())
    with pytest.raises(ValueError, match=r"a file whose name does not end in \.json"):
        _model_names.check_env_config(str(text), str(text))
    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(text))
    assert _model_names._config_table() is None  # (open_clip's path: refused there too)


@pytest.fixture
def cached_run(tmp_path, monkeypatch):
    """Images, a vocabulary file, and the embeddings of both cached for ViT-B-32 with the
    laion2b_s34b_b79k weights; the weights themselves are not on this machine (an empty
    Hugging Face cache, ``HF_HOME``) unless the test puts them there
    (:func:`_weights_cached`)."""
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
    cache.put([file_sha256(p) for p in paths], unit(len(paths)))
    argv = [
        "decompose",
        *["--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k", "--device", "cpu"],
        *["--vocabulary", str(tmp_path / "vocab.txt"), "--image-mean", "data", "-f", "json"],
        *map(str, paths),
    ]
    return argv, paths


def _weights_cached(hf_home: Path) -> None:
    """A file where the Hugging Face cache holds the laion2b_s34b_b79k weights of
    ViT-B-32 (never read: a run whose embeddings are all cached loads no model)."""
    repo = hf_home / "hub" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"not read")


def test_a_run_whose_embeddings_are_all_cached_imports_no_open_clip(cached_run, tmp_path):
    argv, paths = cached_run
    _weights_cached(tmp_path / "hf")
    proc = in_a_fresh_process(argv)
    out, status = proc.stdout.rsplit("\n", 2)[0], proc.stdout.rsplit("\n", 2)[1]
    assert status.split() == ["0", "True", "False"], proc.stderr
    data = json.loads(out)
    assert [Path(record["path"]).name for record in data["images"]] == [p.name for p in paths]
    assert "6 embeddings read from the cache of image embeddings" in proc.stderr


def test_weights_not_at_hand_are_said_with_the_options_whatever_is_cached(cached_run):
    # Every embedding cached, the weights absent (offline): the run says it with the
    # options, as one with an image to embed would (no image read), where they come from
    # read from open_clip's files, without importing it.
    argv, _ = cached_run
    proc = in_a_fresh_process(argv)
    assert proc.stdout.split() == ["1", "True", "False"], proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(
        "sksplice: error: the pretrained weights of open_clip model 'ViT-B-32' "
        "(--pretrained laion2b_s34b_b79k) are not in the local cache (from the Hugging Face "
        "Hub repository 'laion/CLIP-ViT-B-32-laion2B-s34B-b79K', cached in "
    ), proc.stderr


def test_a_library_imported_by_a_run_is_imported_with_its_signals_held(monkeypatch):
    # open_clip is imported by a run only where it needs it (a model loaded, the tables
    # unreadable): a Ctrl-C raised by the command's handler halfway through that import
    # was swallowed by the import machinery, and the run went on to its end. Another
    # thread may take the signal, whose handler Python then runs in the main thread,
    # halfway through the import: it is recorded, and raised once the import is done.
    import signal
    import types

    from sksplice import _interrupt
    from sksplice.cli._logging import _signals_as_interrupt

    held, done = [], []

    def import_module(name):
        held.append(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        if name.endswith("_a"):
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # (the handler, as run)
        done.append(name)
        return types.ModuleType(name)

    monkeypatch.setattr(_interrupt.importlib, "import_module", import_module)
    # (an output committed outside a run in this process, as a test of the outputs does,
    # left every later run ignoring its signals)
    from sksplice.cli import _logging

    monkeypatch.setattr(_logging._RUN, "committed", True)
    with _signals_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            _interrupt.import_whole("sksplice_test_library_a")
        assert done == ["sksplice_test_library_a"]  # (the import went to its end first)
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        _interrupt.import_whole("sksplice_test_library_b")  # (no signal: nothing raised)
    _interrupt.import_whole("sksplice_test_library_c")  # (Python's handler: deferred)
    assert held == [True, True, False]
