"""Fault injection and determinism: device out-of-memory, concurrent and failing
dictionary cache writes, bit-identical results across processes."""

from __future__ import annotations

import _thread
import dataclasses
import errno
import itertools
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import sksplice.dictionary as dictionary_module
from sksplice.dictionary import (
    DictionaryCacheWarning,
    clear_memory_cache,
    dictionary_cache_path,
    embed_vocabulary,
)
from sksplice.solvers import NonNegLasso
from sksplice.solvers._registry import METHODS
from sksplice.transformer import SpliceTransformer

from ._helpers_faults import (
    SlowFakeEmbedder,
    build_cache_worker,
    dead_writers_name,
    expected_embeddings,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _problem(n_rows: int = 40, n_concepts: int = 120, dim: int = 24, seed: int = 3):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_concepts, dim))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    V = rng.standard_normal((n_rows, dim))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    return D, V


def _csr_equal(a, b) -> bool:
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and a.data.tobytes() == b.data.tobytes()
    )


# --------------------------------------------------------------- out of memory
def _oom_above(monkeypatch, limit: int) -> list[int]:
    """Make the working-set chunk solver raise OOM for chunks over ``limit`` rows."""
    method = METHODS["working_set"]
    original = method.solve_chunk
    seen: list[int] = []

    def flaky(lasso, prob, V, *args, **kwargs):
        seen.append(int(V.shape[0]))
        if V.shape[0] > limit:
            raise torch.cuda.OutOfMemoryError("simulated")
        return original(lasso, prob, V, *args, **kwargs)

    monkeypatch.setitem(METHODS, "working_set", dataclasses.replace(method, solve_chunk=flaky))
    return seen


@pytest.mark.parametrize("limit", [1, 5, 7])
def test_out_of_memory_halves_chunk_and_carries_on(monkeypatch, limit):
    D, V = _problem()
    solver = NonNegLasso(D, device="cpu")
    reference = solver.solve(V, 0.2, solver="working_set")
    assert reference.converged

    seen = _oom_above(monkeypatch, limit)
    with pytest.warns(UserWarning, match="reducing the chunk size") as record:
        codes = solver.solve(V, 0.2, solver="working_set")

    # The first try used the whole batch, then the size halved until it fitted.
    assert seen[0] == V.shape[0]
    sizes_tried = sorted(set(seen), reverse=True)
    assert all(a // 2 == b for a, b in itertools.pairwise(sizes_tried))
    assert max(s for s in seen if s <= limit) == sizes_tried[-1]
    assert sum(s for s in seen if s <= limit) == V.shape[0]  # every row solved once
    n_halvings = len(sizes_tried) - 1
    oom_warnings = [w for w in record if "reducing the chunk size" in str(w.message)]
    assert len(oom_warnings) == n_halvings
    assert f"chunk of {V.shape[0]} rows" in str(oom_warnings[0].message)

    assert codes.converged
    assert codes.shape == reference.shape
    np.testing.assert_allclose(codes.to_dense(), reference.to_dense(), rtol=0, atol=1e-12)
    assert np.array_equal(codes.to_dense() > 0, reference.to_dense() > 0)


def test_out_of_memory_on_one_row_gives_up_naming_chunk_size(monkeypatch):
    D, V = _problem(n_rows=6)
    _oom_above(monkeypatch, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(torch.cuda.OutOfMemoryError, match="chunk size of 1 row") as info:
            NonNegLasso(D, device="cpu").solve(V, 0.2, solver="working_set")
    assert "simulated" in str(info.value)
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)


def test_out_of_memory_during_transform_gives_same_weights(monkeypatch):
    rng = np.random.default_rng(11)
    concepts = [f"concept {i}" for i in range(150)]
    C = rng.standard_normal((150, 20)).astype(np.float32)
    X = rng.standard_normal((30, 20)).astype(np.float32)
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=C, l1_penalty=0.15, device="cpu"
    ).fit(X)
    expected = splice.transform(X)
    _oom_above(monkeypatch, 4)
    with pytest.warns(UserWarning, match="reducing the chunk size") as record:
        got = splice.transform(X)
    messages = [str(w.message) for w in record]
    assert [m.split("reducing the chunk size to ")[1].split()[0] for m in messages] == [
        "15",
        "7",
        "3",
    ]
    np.testing.assert_allclose(got.toarray(), expected.toarray(), rtol=0, atol=1e-6)
    assert np.array_equal(got.toarray() > 0, expected.toarray() > 0)


# ------------------------------------------------------- concurrent cache build
def test_two_processes_build_same_cache(tmp_path):
    concepts = [f"word {i}" for i in range(64)]
    expected = expected_embeddings(concepts)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=build_cache_worker, args=(str(tmp_path), concepts, barrier, queue))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]

    for raw, messages, n_calls in results:
        np.testing.assert_array_equal(raw, expected)
        assert not [m for m in messages if "concept dictionary" in m], messages
        # The race happened: each process missed the cache and embedded the
        # vocabulary itself, so both wrote the same cache file.
        assert n_calls == 1

    path = dictionary_cache_path(SlowFakeEmbedder().cache_key(), concepts, tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files
    clear_memory_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = embed_vocabulary(
            _NoEmbedding(SlowFakeEmbedder().cache_key()), concepts, cache_dir=tmp_path
        )
    np.testing.assert_array_equal(again, expected)


class _NoEmbedding:
    """An embedder that must not be called: the result has to come from disk."""

    def __init__(self, key: str) -> None:
        self.key = key

    def embed_text(self, texts):
        raise AssertionError("the disk cache was not used")

    def cache_key(self) -> str:
        return self.key


# --------------------------------------------------- full or read-only data home
def _no_space_writer(real_writer):
    """An ``atomic_write`` whose file accepts a few bytes, then reports ENOSPC."""

    class _Full:
        def __init__(self, handle):
            self.handle = handle
            self.written = 0

        def write(self, data):
            if self.written + len(data) > 100:
                self.handle.write(bytes(data)[: max(0, 100 - self.written)])
                self.handle.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

    @contextmanager
    def writer(path):
        with real_writer(path) as handle:
            yield _Full(handle)

    return writer


def _read_only_writer(path):
    raise PermissionError(errno.EROFS, "Read-only file system", str(path))


def test_an_unwritable_cache_folder_is_said_before_the_embedding(tmp_path, caplog):
    # The folder was announced as the cache and found unwritable only after minutes
    # of embedding. (A file where the "dictionaries" folder goes: unwritable for
    # every user, the superuser too.)
    clear_memory_cache()
    (tmp_path / "dictionaries").write_text("in the way\n")
    concepts = [f"unwritable concept {i}" for i in range(30)]
    seen_at_embedding: list[int] = []

    class Watching(SlowFakeEmbedder):
        def embed_text(self, texts):
            seen_at_embedding.append(len(caught))
            return super().embed_text(texts)

    with warnings.catch_warnings(record=True) as caught, caplog.at_level("INFO"):
        warnings.simplefilter("always")
        raw = embed_vocabulary(Watching(), concepts, cache_dir=tmp_path)
    messages = [str(w.message) for w in caught if w.category is DictionaryCacheWarning]
    assert len(messages) == 1, messages  # once, before; not again after
    assert seen_at_embedding and seen_at_embedding[0] == 1
    assert "cannot write the concept dictionary cache" in messages[0]
    assert "30 concepts are embedded now and kept in memory" in messages[0]
    assert "cache_dir" in messages[0]
    # the announcement does not promise the cache
    assert any("no disk cache" in r.getMessage() for r in caplog.records)
    assert not any("will be cached in" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(raw, expected_embeddings(concepts))
    assert (tmp_path / "dictionaries").is_file()


@pytest.mark.parametrize("fault", ["no_space", "read_only"])
def test_unwritable_data_home_warns_and_returns_embeddings(monkeypatch, tmp_path, fault):
    clear_memory_cache()
    real = dictionary_module.atomic_write
    writer = _no_space_writer(real) if fault == "no_space" else _read_only_writer
    monkeypatch.setattr(dictionary_module, "atomic_write", writer)
    concepts = [f"{fault} concept {i}" for i in range(40)]
    embedder = SlowFakeEmbedder()

    with pytest.warns(DictionaryCacheWarning, match="cannot write") as record:
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    message = str(record[0].message)
    assert "in memory" in message
    assert ("No space left" if fault == "no_space" else "Read-only") in message
    np.testing.assert_array_equal(raw, expected_embeddings(concepts))

    path = dictionary_cache_path(embedder.cache_key(), concepts, tmp_path)
    folder = path.parent
    leftovers = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert leftovers == []  # neither the cache file nor a partial temp file

    # Kept in memory for this process: asking again neither warns nor embeds.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = embed_vocabulary(_NoEmbedding(embedder.cache_key()), concepts, cache_dir=tmp_path)
    assert again is raw

    # Once the data home is writable again the cache file is written and valid.
    clear_memory_cache()
    monkeypatch.setattr(dictionary_module, "atomic_write", real)
    embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    clear_memory_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = embed_vocabulary(_NoEmbedding(embedder.cache_key()), concepts, cache_dir=tmp_path)
    np.testing.assert_array_equal(loaded, expected_embeddings(concepts))
    clear_memory_cache()


# ------------------------------------------------------------------ determinism
_DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sksplice.transformer import SpliceTransformer

    rng = np.random.default_rng(2024)
    C = rng.standard_normal((400, 32)).astype(np.float32)
    X = rng.standard_normal((120, 32)).astype(np.float32)
    concepts = [f"concept {i}" for i in range(400)]
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=C, l1_penalty=0.1, device="cpu"
    ).fit(X)
    W = splice.transform(X)
    np.savez(sys.argv[1], indptr=W.indptr, indices=W.indices, data=W.data,
             shape=np.array(W.shape))
    """
)


def _transform_in_process(rounds: int = 1):
    rng = np.random.default_rng(2024)
    C = rng.standard_normal((400, 32)).astype(np.float32)
    X = rng.standard_normal((120, 32)).astype(np.float32)
    concepts = [f"concept {i}" for i in range(400)]
    splice = SpliceTransformer(
        vocabulary=concepts, concept_embeddings=C, l1_penalty=0.1, device="cpu"
    ).fit(X)
    return [splice.transform(X) for _ in range(rounds)]


def test_bit_identical_across_processes(tmp_path):
    outputs = [tmp_path / f"run{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _DETERMINISM_SCRIPT, str(out)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for out in outputs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")
    runs = [np.load(out) for out in outputs]
    for name in ("indptr", "indices", "data", "shape"):
        assert runs[0][name].dtype == runs[1][name].dtype
        assert runs[0][name].tobytes() == runs[1][name].tobytes(), name
    assert runs[0]["data"].size > 0

    # The same bytes come out of this process too.
    (W,) = _transform_in_process()
    assert W.data.tobytes() == runs[0]["data"].tobytes()
    assert W.indices.astype(runs[0]["indices"].dtype).tobytes() == runs[0]["indices"].tobytes()


def test_bit_identical_across_repeated_calls():
    first, *rest = _transform_in_process(rounds=3)
    assert first.nnz > 0
    for W in rest:
        assert _csr_equal(first, W)
    # A freshly fitted transformer (its own solver cache lookup) agrees too.
    (fresh,) = _transform_in_process()
    assert _csr_equal(first, fresh)


# ------------------------------------------------ dataset writes interrupted or killed
def _slow_weights(n_blocks: int, seconds: float):
    """Dask weights of ``n_blocks`` blocks of 50 rows, each taking ``seconds`` to compute."""
    da = pytest.importorskip("dask.array")

    def slow(block):
        time.sleep(seconds)
        return block

    rng = np.random.default_rng(5)
    dense = np.where(rng.random((50 * n_blocks, 8)) < 0.3, rng.random((50 * n_blocks, 8)), 0.0)
    return da.from_array(dense.astype(np.float32), chunks=(50, -1)).map_blocks(slow), dense


@pytest.mark.usefixtures("sigint_interrupts")
@pytest.mark.parametrize("writer", ["zarr", "parquet"])
def test_interrupted_dataset_write_waits_for_its_running_blocks(tmp_path, writer):
    # Ctrl-C during to_zarr with Dask's threaded scheduler: the temporary folder was
    # removed at once, and the blocks still running in the scheduler's threads made it
    # again (zarr creates the folders of its chunks), leaving a partial hidden folder.
    dask = pytest.importorskip("dask")
    if writer == "zarr":
        pytest.importorskip("zarr")
    else:
        pytest.importorskip("pyarrow")
    from sksplice.distributed import to_zarr, write_parquet

    write = to_zarr if writer == "zarr" else write_parquet
    W, _ = _slow_weights(n_blocks=4, seconds=1.0)
    names = [f"c{i}" for i in range(8)]
    out = tmp_path / "out"
    out.mkdir()
    ctrl_c = threading.Timer(0.4, _thread.interrupt_main)
    with dask.config.set(scheduler="threads", num_workers=2):
        ctrl_c.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                write(W, out / "weights", names)
        finally:
            ctrl_c.cancel()
    time.sleep(1.5)  # (longer than a block: any block still running has ended)
    assert sorted(p.name for p in out.iterdir()) == []


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import dask, dask.array as da, numpy as np
    from sksplice.distributed import write_parquet

    def slow(block):
        time.sleep(0.3)
        return block

    W = da.from_array(np.eye(400, 8, dtype=np.float32), chunks=(50, -1)).map_blocks(slow)
    with dask.config.set(scheduler="threads", num_workers=1):
        write_parquet(W, sys.argv[1], [f"c{i}" for i in range(8)])
    """
)


def test_killed_dataset_writer_leaves_a_folder_the_next_write_removes(tmp_path, caplog):
    # write_parquet killed (SIGKILL, or SIGTERM: a batch job out of time) left a hidden
    # temporary folder that no later write removed: a dataset's worth of disk, per kill.
    pytest.importorskip("dask")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from sksplice._atomic import temporary_name
    from sksplice.distributed import write_parquet

    out = tmp_path / "weights.parquet"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(out)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while not list(tmp_path.glob(".weights.parquet*/part-*.parquet")):
            assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")
            assert time.monotonic() < deadline, "the writer wrote no block"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.communicate()
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".weights.parquet.") and left.is_dir()
    # a folder being written by a live process on this machine is kept
    live = tmp_path / temporary_name(out.name)
    live.mkdir()

    W, dense = _slow_weights(n_blocks=2, seconds=0.0)
    with caplog.at_level("INFO", logger="sksplice"):
        path = write_parquet(W, out, [f"c{i}" for i in range(8)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, out.name])
    assert any("left by an interrupted write" in r.getMessage() for r in caplog.records)
    frame = pd.read_parquet(path)
    assert len(frame) == np.count_nonzero(dense)


@pytest.mark.parametrize("name", ["weights.parquet", "w" * 100 + ".parquet"])
def test_a_dataset_an_interrupted_overwrite_moved_aside_is_kept_until_a_new_one_is_in_place(
    name, tmp_path, caplog
):
    # A writer killed between moving the previous dataset aside and moving the new one
    # in left the only copy of the previous one in a temporary folder: the next write
    # must not remove it as a dead writer's leftover.
    pytest.importorskip("dask")
    pytest.importorskip("pyarrow")
    from sksplice.distributed import write_parquet

    out = tmp_path / name  # (a long one is cut in temporary names)
    aside = tmp_path / dead_writers_name(out.name, suffix=".old")
    aside.mkdir()
    (aside / "part-0.parquet").write_bytes(b"the previous dataset")
    W, _ = _slow_weights(n_blocks=2, seconds=0.0)
    names = [f"c{i}" for i in range(8)]
    with caplog.at_level("WARNING", logger="sksplice"):
        write_parquet(W, out, names)
    assert aside.exists() and out.is_dir()
    (said,) = [r.getMessage() for r in caplog.records if "moved aside" in r.getMessage()]
    assert said.startswith(f"{aside} holds the dataset that an interrupted overwrite of {out}")
    # once a dataset is in place, the folder is a leftover: the next write removes it
    write_parquet(W, out, names, overwrite=True)
    assert not aside.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


# ------------------------------------------------------ fit interrupted or failing
def test_interrupted_refit_leaves_the_transformer_as_it_was(monkeypatch):
    # A refit interrupted while target_l0 was calibrated (Ctrl-C in a notebook) kept
    # the new dictionary and centre with the penalty calibrated for the old ones:
    # transform then gave codes of neither fit, without an error.
    rng = np.random.default_rng(8)
    names = [f"concept {i}" for i in range(200)]
    C1 = rng.standard_normal((200, 24)).astype(np.float32)
    C2 = rng.standard_normal((200, 24)).astype(np.float32)
    X = rng.standard_normal((150, 24)).astype(np.float32)
    splice = SpliceTransformer(
        vocabulary=names, concept_embeddings=C1, target_l0=4, device="cpu"
    ).fit(X)
    fitted = {k: v for k, v in vars(splice).items() if k.endswith("_")}
    expected = splice.transform(X)

    def interrupted(self, X):
        raise KeyboardInterrupt

    monkeypatch.setattr(SpliceTransformer, "_calibrate", interrupted)
    splice.set_params(concept_embeddings=C2)
    with pytest.raises(KeyboardInterrupt):
        splice.fit(X[:100])
    monkeypatch.undo()
    splice.set_params(concept_embeddings=C1)
    after = {k: v for k, v in vars(splice).items() if k.endswith("_")}
    assert after.keys() == fitted.keys()
    for key, value in fitted.items():
        assert after[key] is value, key
    assert _csr_equal(splice.transform(X), expected)


def test_failed_first_fit_leaves_the_transformer_unfitted():
    # X of the wrong width: n_features_in_ was left set, so transform raised
    # AttributeError ('mean_') instead of saying the transformer is not fitted.
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(9)
    names = [f"concept {i}" for i in range(50)]
    splice = SpliceTransformer(
        vocabulary=names,
        concept_embeddings=rng.standard_normal((50, 16)).astype(np.float32),
        device="cpu",
    )
    X = rng.standard_normal((30, 8))
    with pytest.raises(ValueError, match="X has 8 features"):
        splice.fit(X)
    assert not [k for k in vars(splice) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        splice.transform(X)


def test_interrupted_first_fit_of_zero_shot_leaves_it_unfitted():
    # Ctrl-C while the class prompts were embedded left n_features_in_ alone: predict
    # raised AttributeError ('class_embeddings_') instead of NotFittedError.
    from sklearn.exceptions import NotFittedError

    from sksplice.zero_shot import ZeroShotClassifier

    class Interrupted:
        def embed_text(self, texts):
            raise KeyboardInterrupt

    X = np.random.default_rng(10).standard_normal((10, 8))
    classifier = ZeroShotClassifier(embedder=Interrupted(), classes=["cat", "dog"])
    with pytest.raises(KeyboardInterrupt):
        classifier.fit(X)
    assert not [k for k in vars(classifier) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        classifier.predict(X)


def test_failed_first_fit_of_a_retriever_leaves_it_unfitted():
    # names for 3 columns of 5: n_features_in_ was left set, so a search raised
    # AttributeError ('_index') instead of NotFittedError
    import scipy.sparse as sp
    from sklearn.exceptions import NotFittedError

    from sksplice.retrieval import ConceptRetriever

    W = sp.random(20, 5, density=0.5, format="csr", random_state=0)
    retriever = ConceptRetriever(concepts=["a", "b", "c"])
    with pytest.raises(ValueError, match="3 concept names but the weights have 5"):
        retriever.fit(W)
    assert not [k for k in vars(retriever) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        retriever.search(["a"])


def test_failed_or_interrupted_first_fit_of_editors_leaves_them_unfitted():
    # An unknown concept to remove, or Ctrl-C while the projector's concepts were
    # embedded, left n_features_in_ alone: transform raised AttributeError ('mask_',
    # 'basis_') instead of NotFittedError.
    pd = pytest.importorskip("pandas")
    from sklearn.exceptions import NotFittedError

    from sksplice.editing import ConceptEditor, ConceptProjector

    W = pd.DataFrame(np.random.default_rng(11).random((20, 5)), columns=list("abcde"))
    editor = ConceptEditor(remove=["zzz"])
    with pytest.raises(ValueError, match="'zzz'"):
        editor.fit(W)

    class Interrupted:
        def embed_text(self, texts):
            raise KeyboardInterrupt

    X = np.ones((3, 4))
    projector = ConceptProjector(embedder=Interrupted(), concepts=["x"])
    with pytest.raises(KeyboardInterrupt):
        projector.fit(X)
    for estimator, data in ((editor, W), (projector, X)):
        assert not [k for k in vars(estimator) if k.endswith("_")], estimator
        with pytest.raises(NotFittedError):
            estimator.transform(data)
