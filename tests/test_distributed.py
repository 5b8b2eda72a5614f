"""sksplice.distributed on a local Dask cluster of two worker processes."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import cloudpickle
import dask
import dask.array as da
from dask.local import get_sync
from distributed import Client, LocalCluster, get_task_stream
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sksplice.distributed import (
    embed_images_dask,
    precompute_concept_embeddings,
    to_zarr,
    transform_dask,
    write_parquet,
)
from sksplice.embedders import MODEL_CONFIGS_ENV, CLIPEmbedder
from sksplice.transformer import SpliceTransformer

try:
    from ._helpers_distributed import (
        FAIL_MARK,
        KeyedLoggingHashEmbedder,
        LoggingHashEmbedder,
        gated_copy,
        install_load_counter,
        read_load_counter,
        started_pids,
    )
except ImportError:
    from _helpers_distributed import (
        FAIL_MARK,
        KeyedLoggingHashEmbedder,
        LoggingHashEmbedder,
        gated_copy,
        install_load_counter,
        read_load_counter,
        started_pids,
    )

TINY_CONFIG = Path(__file__).resolve().parent / "data" / "sksplice-test-tiny.json"
N_ROWS, N_FEATURES, N_CONCEPTS = 20_000, 64, 200
TIMEOUT = 180  # seconds, for any single wait on the cluster
ATOL = 1e-5


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes (each under a Nanny) on 127.0.0.1."""
    saved = os.environ.get(MODEL_CONFIGS_ENV)
    # Worker processes inherit the environment at spawn time (also when a Nanny
    # restarts one), so they can create the tiny test model too.
    os.environ[MODEL_CONFIGS_ENV] = str(TINY_CONFIG)
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    dask_client = Client(cluster, timeout=TIMEOUT)
    try:
        dask_client.wait_for_workers(2, timeout=TIMEOUT)
        yield dask_client
    finally:
        dask_client.close(timeout=TIMEOUT)
        cluster.close(timeout=TIMEOUT)
        if saved is None:
            os.environ.pop(MODEL_CONFIGS_ENV, None)
        else:
            os.environ[MODEL_CONFIGS_ENV] = saved


@pytest.fixture(scope="module")
def problem():
    """Embeddings made of a few concepts plus noise, and a transformer fitted on them."""
    rng = np.random.default_rng(7)
    raw = rng.normal(size=(N_CONCEPTS, N_FEATURES)).astype(np.float32)
    atoms = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    active = rng.integers(0, N_CONCEPTS, size=(N_ROWS, 4))
    weights = rng.uniform(0.5, 1.0, size=(N_ROWS, 4))
    X = np.einsum("nk,nkd->nd", weights, atoms[active])
    X = (X + 0.05 * rng.normal(size=X.shape)).astype(np.float32)
    concepts = [f"concept_{i:03d}" for i in range(N_CONCEPTS)]
    splice = SpliceTransformer(
        vocabulary=concepts,
        concept_embeddings=raw,
        l1_penalty=0.25,
        tol=1e-4,
        device="cpu",
    ).fit(X)
    return X, splice


@pytest.fixture(scope="module")
def reference(problem):
    """The single-process result on all rows."""
    X, splice = problem
    return splice.transform(X)


# ------------------------------------------------------------------------ transform


def _key_name(key) -> str:
    return str(key[0] if isinstance(key, tuple) else key)


def test_transform_matches_in_process(client, problem, reference):
    X, splice = problem
    X_dask = da.from_array(X, chunks=(2_000, 32))  # column chunks are merged
    W = transform_dask(splice, X_dask, client=client)
    assert W.shape == (N_ROWS, N_CONCEPTS)
    assert W.numblocks == (10, 1)
    assert sp.issparse(W._meta)
    # The transformer travels once (a scattered future), not inside every task.
    graph = dict(W.__dask_graph__())
    tasks = [v for k, v in graph.items() if _key_name(k).startswith("splice-transform-")]
    assert len(tasks) == 10
    for task in tasks:
        assert len(cloudpickle.dumps(task)) < splice.dictionary_.nbytes / 4

    result = client.compute(W).result(timeout=TIMEOUT)
    assert sp.issparse(result)
    assert result.shape == reference.shape
    assert result.nnz == reference.nnz
    np.testing.assert_allclose(result.toarray(), reference.toarray(), atol=ATOL)


def test_dense_output_numpy_input_without_client(client, problem, reference):
    X, splice = problem
    W = transform_dask(splice, X[:1_500], output="dense", chunk_size=400)
    assert W.chunks == ((400, 400, 400, 300), (N_CONCEPTS,))
    block = W.blocks[3].compute()
    assert isinstance(block, np.ndarray)
    assert block.shape == (300, N_CONCEPTS)
    # Without a client the transformer is one key of the graph.
    graph = dict(W.__dask_graph__())
    shared = [k for k in graph if _key_name(k).startswith("sksplice-transformer-")]
    assert len(shared) == 1
    dense = W.compute()
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(dense, reference[:1_500].toarray(), atol=ATOL)


def test_a_block_without_any_concept_is_not_warned_about(problem):
    # transform warns when no row of X holds a concept; a Dask block's rows say nothing of
    # the whole X (it warned once per block, "every one of the 400 rows")
    import warnings

    from sklearn.base import clone

    X, splice = problem
    empty = clone(splice).set_params(l1_penalty=1.99).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (dask before 2025.4 warns that the client of another test is active)
        warnings.filterwarnings("ignore", message="Running on a single-machine scheduler")
        W = transform_dask(empty, X[:800], chunk_size=400).compute(scheduler="sync")
    assert W.nnz == 0
    with pytest.warns(UserWarning, match="every row of X decomposes to no concept"):
        empty.transform(X[:800])


def test_transform_rejects_bad_input(problem):
    X, splice = problem
    with pytest.raises(ValueError, match="output must be 'sparse' or 'dense', got 'coo'"):
        transform_dask(splice, X[:10], output="coo")
    with pytest.raises(TypeError, match="output must be 'sparse' or 'dense', got None"):
        transform_dask(splice, X[:10], output=None)
    with pytest.raises(ValueError, match="64-dimensional"):
        transform_dask(splice, X[:10, :5])
    with pytest.raises(ValueError, match="2-dimensional"):
        transform_dask(splice, X[0])
    with pytest.raises(ValueError, match="chunk_size"):
        transform_dask(splice, X[:10], chunk_size=0)
    with pytest.raises(TypeError, match="dense embeddings"):
        transform_dask(splice, sp.csr_matrix(X[:10]))
    with pytest.raises(NotFittedError):
        transform_dask(SpliceTransformer(vocabulary=["a"], concept_embeddings=[[1.0]]), X[:10])


# ------------------------------------------------------------------------ writers


def test_write_parquet_long_format(client, problem, reference, tmp_path):
    pd = pytest.importorskip("pandas")
    pq = pytest.importorskip("pyarrow.parquet")
    import json

    X, splice = problem
    W = transform_dask(splice, X[:2_500], chunk_size=1_000, client=client)
    path = write_parquet(W, tmp_path / "weights.parquet", splice)
    assert path == tmp_path / "weights.parquet"
    assert sorted(p.name for p in path.iterdir()) == [
        "_sksplice_dataset.json",
        "part-000000.parquet",
        "part-000001.parquet",
        "part-000002.parquet",
    ]
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["row", "concept", "weight"]
    expected = reference[:2_500].tocoo()
    assert len(frame) == expected.nnz
    assert frame["row"].is_monotonic_increasing
    names = list(splice.get_feature_names_out())
    cols = frame["concept"].astype(str).map({n: i for i, n in enumerate(names)})
    rebuilt = sp.csr_matrix(
        (frame["weight"].to_numpy(), (frame["row"].to_numpy(), cols.to_numpy())),
        shape=(2_500, N_CONCEPTS),
    )
    np.testing.assert_allclose(rebuilt.toarray(), reference[:2_500].toarray(), atol=ATOL)
    # What docs/scaling.md says a reader finds: the counts in every file's schema
    # metadata, the concept names (in column order, unused ones included) in the
    # column's dictionary and in the dataset's JSON file.
    for part in sorted(path.glob("part-*.parquet")):
        meta = json.loads(pq.read_schema(part).metadata[b"sksplice"])
        assert meta == {
            "format": "long",
            "n_rows": 2_500,
            "n_concepts": N_CONCEPTS,
            "columns": ["row", "concept", "weight"],
        }
        dictionary = pq.read_table(part).column("concept").chunk(0).dictionary
        assert dictionary.to_pylist() == names
    assert list(frame["concept"].cat.categories) == names
    info = json.loads((path / "_sksplice_dataset.json").read_text(encoding="utf-8"))
    assert info["concepts"] == names and info["n_rows"] == 2_500

    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_parquet(W, path, splice)
    write_parquet(W[:1_000], path, names, overwrite=True)
    assert pd.read_parquet(path)["row"].max() < 1_000
    with pytest.raises(ValueError, match="199 concept names"):
        write_parquet(W, tmp_path / "other.parquet", names[:-1])
    # In-memory weights (scipy sparse) are accepted too.
    small = write_parquet(reference[:300], tmp_path / "small.parquet", names)
    frame = pd.read_parquet(small)
    assert len(frame) == reference[:300].nnz
    assert set(frame["row"]) <= set(range(300))
    # Nothing but the finished datasets is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.parquet", "weights.parquet"]


def test_to_zarr_dense_with_concept_names(client, problem, reference, tmp_path):
    zarr = pytest.importorskip("zarr")
    X, splice = problem
    W = transform_dask(splice, X[:1_800], client=client).rechunk({0: (1_000, 500, 300)})
    path = to_zarr(W, tmp_path / "weights.zarr", splice)
    array = zarr.open_array(str(path), mode="r")
    assert array.shape == (1_800, N_CONCEPTS)
    assert list(array.attrs["concepts"]) == list(splice.get_feature_names_out())
    assert array.attrs["sksplice"]["n_rows"] == 1_800
    np.testing.assert_allclose(array[:], reference[:1_800].toarray(), atol=ATOL)
    with pytest.raises(FileExistsError):
        to_zarr(W, path, splice)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.zarr"]
    np.testing.assert_allclose(da.from_zarr(str(path)).compute(), array[:])
    to_zarr(W[:100], path, splice, overwrite=True)  # its own dataset: replaced
    assert zarr.open_array(str(path), mode="r").shape == (100, N_CONCEPTS)


def _not_a_dataset(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    (folder / "thesis.tex").write_bytes(b"\\documentclass{article}")
    (folder / "part-000000.parquet").write_bytes(b"looks like a part")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _writer(kind: str):
    """``write_parquet`` or ``to_zarr`` (the test skipped where zarr is not installed)."""
    if kind == "zarr":
        pytest.importorskip("zarr")
    return write_parquet if kind == "parquet" else to_zarr


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_overwrite_refuses_what_this_writer_did_not_write(reference, tmp_path, writer):
    write = _writer(writer)
    names = [f"concept_{i:03d}" for i in range(N_CONCEPTS)]
    W = reference[:50]
    # A folder of other files (one of which even looks like a part) is not deleted.
    folder = tmp_path / "thesis"
    before = _not_a_dataset(folder)
    with pytest.raises(FileExistsError, match=r"'thesis\.tex'"):
        write(W, folder, names, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # A regular file and a character device are refused, never replaced.
    plain = tmp_path / "notes.txt"
    plain.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="not a folder"):
        write(W, plain, names, overwrite=True)
    assert plain.read_bytes() == b"keep me"
    if os.path.exists("/dev/null"):
        link_to_device = tmp_path / "devnull"
        link_to_device.symlink_to("/dev/null")
        with pytest.raises(FileExistsError, match="not a folder"):
            write(W, link_to_device, names, overwrite=True)
        assert link_to_device.is_symlink() and os.path.exists("/dev/null")
    # A link to this writer's dataset is followed: the dataset is replaced, the link kept.
    real = write(W, tmp_path / "real", names)
    link = tmp_path / "link"
    link.symlink_to(real)
    write(W[:10], link, names, overwrite=True)
    assert link.is_symlink() and real.is_dir()
    assert (real / "_sksplice_dataset.json").is_file()
    # An empty folder may be replaced.
    empty = tmp_path / "empty"
    empty.mkdir()
    write(W, empty, names, overwrite=True)
    assert (empty / "_sksplice_dataset.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_overwrite_replaces_a_parquet_dataset_written_before_the_marker(reference, tmp_path):
    names = [f"concept_{i:03d}" for i in range(N_CONCEPTS)]
    path = write_parquet(reference[:50], tmp_path / "old.parquet", names)
    (path / "_sksplice_dataset.json").unlink()  # as written by an earlier version
    write_parquet(reference[:20], path, names, overwrite=True)
    assert (path / "_sksplice_dataset.json").is_file()


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_a_relative_path_is_the_callers_not_the_workers(
    client, problem, reference, tmp_path, monkeypatch, writer
):
    # The workers keep the working folder they started in: a relative path given
    # to them made the Parquet writer fail on a missing temporary file, and the
    # Zarr writer put its chunks into the workers' folder, leaving an all-zero array.
    zarr = pytest.importorskip("zarr") if writer == "zarr" else None
    pd = pytest.importorskip("pandas")
    X, splice = problem
    names = list(splice.get_feature_names_out())
    workers_folders = set(client.run(os.getcwd).values())
    monkeypatch.chdir(tmp_path)
    assert str(tmp_path) not in workers_folders
    W = transform_dask(splice, X[:600], chunk_size=250, client=client)
    write = write_parquet if writer == "parquet" else to_zarr
    path = write(W, Path("out") / "weights", splice)
    if writer == "parquet":
        frame = pd.read_parquet(path)
        cols = frame["concept"].astype(str).map({n: i for i, n in enumerate(names)})
        got = sp.csr_matrix(
            (frame["weight"].to_numpy(), (frame["row"].to_numpy(), cols.to_numpy())),
            shape=(600, N_CONCEPTS),
        ).toarray()
    else:
        got = zarr.open_array(str(path), mode="r")[:]
    np.testing.assert_allclose(got, reference[:600].toarray(), atol=ATOL)
    assert path == tmp_path / "out" / "weights"
    for folder in workers_folders:  # nothing was written where the workers run
        assert not list(Path(folder).glob("out/.weights.*"))


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_weights_of_unknown_chunk_sizes_are_refused_with_advice_that_works(
    problem, reference, tmp_path, writer
):
    # The message said "(or persist it)", which leaves the chunk sizes unknown, and
    # only W.compute_chunk_sizes(), which solves every row one extra time.
    write = _writer(writer)
    X, splice = problem
    X_unknown = da.from_array(X[:300], chunks=(100, -1))[da.ones(300, chunks=100, dtype=bool)]
    W = transform_dask(splice, X_unknown)
    with dask.config.set(scheduler="sync"):
        assert np.isnan(W.persist().chunks[0]).all()
        with pytest.raises(ValueError, match="unknown row chunk sizes") as info:
            write(W, tmp_path / "weights", splice)
        assert "persist it" not in str(info.value)
        assert "X = X.compute_chunk_sizes()" in str(info.value)
        W = transform_dask(splice, X_unknown.compute_chunk_sizes())
        path = write(W, tmp_path / "weights", splice)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights"]
    assert (path / "_sksplice_dataset.json").is_file()


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_without_overwrite_what_overwrite_would_refuse_is_said_first(reference, tmp_path, writer):
    # "already exists; pass overwrite=True to replace it" was said of a file and of
    # a folder of other files, which overwrite=True then refused to replace.
    write = _writer(writer)
    names = [f"concept_{i:03d}" for i in range(N_CONCEPTS)]
    plain = tmp_path / "notes.txt"
    plain.write_bytes(b"keep me")
    folder = tmp_path / "thesis"
    _not_a_dataset(folder)
    for target, words in ((plain, "is not a folder"), (folder, "'thesis.tex'")):
        with pytest.raises(FileExistsError) as info:
            write(reference[:20], target, names)
        assert words in str(info.value) and "pass overwrite=True" not in str(info.value)
    ours = write(reference[:20], tmp_path / "ours", names)
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        write(reference[:20], ours, names)
    # under a file: said so (was a bare "[Errno 17] File exists")
    with pytest.raises(FileExistsError, match=rf"{re.escape(repr(str(plain)))} is a file, not a"):
        write(reference[:20], plain / "sub" / "w", names)
    assert plain.read_bytes() == b"keep me" and (folder / "thesis.tex").is_file()


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_duplicate_concept_names_are_refused(reference, tmp_path, writer):
    # Two columns of one name were written as two records of that name for a row:
    # which column each weight was could not be read back.
    write = _writer(writer)
    names = [f"c{i}" for i in range(N_CONCEPTS)]
    names[7] = "c3"
    with pytest.raises(ValueError, match=r"concepts entry 7 \('c3'\) duplicates entry 3"):
        write(reference[:20], tmp_path / "weights", names)
    assert list(tmp_path.iterdir()) == []


def test_to_zarr_stores_chunks_of_the_first_block_that_has_rows(problem, reference, tmp_path):
    # A first block of no rows (rows filtered out of X) made chunks of one row each:
    # one file per row.
    zarr = pytest.importorskip("zarr")
    X, splice = problem
    W = transform_dask(splice, da.from_array(X[:400], chunks=((0, 150, 150, 100), -1)))
    with dask.config.set(scheduler="sync"):
        path = to_zarr(W, tmp_path / "weights.zarr", splice)
    array = zarr.open_array(str(path), mode="r")
    assert array.chunks == (150, N_CONCEPTS)
    np.testing.assert_allclose(array[:], reference[:400].toarray(), atol=ATOL)


# ------------------------------------------------------------------------ images


def _write_images(folder: Path, n: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(3)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
        path = folder / f"img_{i:03d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def test_embed_images_dask_names_unreadable_images_by_their_row(tiny_clip_model, tmp_path):
    import warnings

    from sksplice.embedders import SkippedInputWarning

    paths = _write_images(tmp_path, 10)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    paths[7] = str(broken)  # in the second task of 4 paths, its fourth

    # on_error="raise": the computation's error names row 7, not "input 3"
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", batch_size=4)
    X = embed_images_dask(embedder, paths, paths_per_task=4)
    with pytest.raises(Exception, match=r"input 7\b") as info:
        X.compute(scheduler="sync")
    assert "broken.png" in str(info.value) and "input 3" not in str(info.value)

    # on_error="skip": the task's warning lists row 7 and its path
    skipping = CLIPEmbedder(
        tiny_clip_model, pretrained=None, device="cpu", batch_size=4, on_error="skip"
    )
    X = embed_images_dask(skipping, paths, paths_per_task=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = X.compute(scheduler="sync")
    skipped = [w.message for w in caught if issubclass(w.category, SkippedInputWarning)]
    assert len(skipped) == 1
    assert [(s.index, s.item) for s in skipped[0].skipped] == [(7, str(broken))]
    # (computed in this process: the warning names this line, not Dask's)
    assert {w.filename for w in caught if w.category is SkippedInputWarning} == {__file__}
    assert "of the 4 images 4 to 7" in str(skipped[0])
    assert np.isnan(got[7]).all() and not np.isnan(np.delete(got, 7, axis=0)).any()
    # the documented way to drop them keeps the other rows in order
    kept = X[~da.isnan(X).any(axis=1)].compute(scheduler="sync")
    np.testing.assert_array_equal(kept, np.delete(got, 7, axis=0))

    # return_skipped=True, also through a subclass's own embed_images (its rows of
    # the task are made rows of X)
    class Subclass(CLIPEmbedder):
        def embed_images(self, images, *, return_skipped=False):
            return super().embed_images(images, return_skipped=return_skipped)

    for embedder in (skipping, Subclass(**skipping.get_params())):
        X, found = embed_images_dask(embedder, paths, paths_per_task=4, return_skipped=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SkippedInputWarning)
            got_again, found = dask.compute(X, found, scheduler="sync")
        assert [(s.index, s.item) for s in found] == [(7, str(broken))]
        np.testing.assert_array_equal(got_again, got)


def test_embed_images_on_workers_loads_model_once_per_worker(client, tiny_clip_model, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    import dask.bag as db
    import pandas as pd

    client.wait_for_workers(2, timeout=TIMEOUT)
    client.run(install_load_counter)
    before = client.run(read_load_counter)

    paths = _write_images(tmp_path, 24)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", batch_size=4)
    expected = embedder.embed_images(paths)

    X = embed_images_dask(embedder, paths, client=client, paths_per_task=4)
    assert X.shape == (24, 32)
    assert X.numblocks == (6, 1)
    with get_task_stream(client) as stream:
        got = client.compute(X).result(timeout=TIMEOUT)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(stream.data) >= 6  # one task per share of 4 paths, run on the workers

    bag = db.from_sequence(paths, npartitions=3)
    np.testing.assert_allclose(embed_images_dask(embedder, bag).compute(), expected, atol=1e-5)
    column = dd.from_pandas(pd.DataFrame({"path": paths}), npartitions=4)["path"]
    X_col = embed_images_dask(embedder, column, client=client)
    assert X_col.chunks[0] == (6, 6, 6, 6)
    np.testing.assert_allclose(X_col.compute(), expected, atol=1e-5)

    loads = client.run(read_load_counter)
    new_loads = {addr: loads[addr] - before.get(addr, 0) for addr in loads}
    # 6 + 3 + 4 tasks ran, yet each worker created the model at most once.
    assert all(n <= 1 for n in new_loads.values()), new_loads
    assert sum(new_loads.values()) >= 1

    # The image path end to end: embeddings on workers, then concept weights.
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(40, 32)).astype(np.float32)
    splice = SpliceTransformer(
        vocabulary=[f"w{i}" for i in range(40)],
        concept_embeddings=raw,
        l1_penalty=0.1,
        tol=1e-4,
        device="cpu",
    ).fit(expected)
    W = transform_dask(splice, X, client=client).compute()
    np.testing.assert_allclose(W.toarray(), splice.transform(expected).toarray(), atol=1e-4)


def test_embed_images_dask_reports_skipped_images_in_the_client_process(
    client, tiny_clip_model, tmp_path
):
    # (after the test above, which counts the workers' first model loads)
    import warnings

    from sksplice.embedders import SkippedInput, SkippedInputWarning

    paths = _write_images(tmp_path, 5)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    paths[3] = str(broken)  # the second task of 2 paths, its second
    skipping = CLIPEmbedder(
        tiny_clip_model, pretrained=None, device="cpu", batch_size=4, on_error="skip"
    )

    # return_skipped=True: a lazy list of every skipped image, computed with X in one pass
    X, skipped = embed_images_dask(
        skipping, paths, client=client, paths_per_task=2, return_skipped=True
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got, found = dask.compute(X, skipped)
    assert [(s.index, s.item) for s in found] == [(3, str(broken))]
    assert all(isinstance(s, SkippedInput) for s in found)
    assert "cannot identify image" in found[0].reason or "broken.jpg" in found[0].reason
    assert not [w for w in caught if issubclass(w.category, SkippedInputWarning)]
    assert np.isnan(got[3]).all() and not np.isnan(np.delete(got, 3, axis=0)).any()
    # (the workers ran the tasks: the skipped image was read in another process)
    assert os.getpid() not in client.run(os.getpid).values()

    # the default: the task's SkippedInputWarning is also emitted here, not only on its worker
    X = embed_images_dask(skipping, paths, client=client, paths_per_task=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = X.compute()
        deadline = time.monotonic() + 10  # (it arrives as an event of the scheduler)
        while time.monotonic() < deadline and not [
            w for w in caught if issubclass(w.category, SkippedInputWarning)
        ]:
            time.sleep(0.05)
    reported = [w.message for w in caught if issubclass(w.category, SkippedInputWarning)]
    assert len(reported) == 1, [str(w.message) for w in caught]
    assert [(s.index, s.item) for s in reported[0].skipped] == [(3, str(broken))]
    assert "3: " + str(broken) in str(reported[0])
    assert "of the 2 images 2 to 3" in str(reported[0])
    assert np.isnan(got[3]).all()
    # the scheduler keeps the event (the worker does not emit the warning itself)
    import pickle

    kept = [pickle.loads(msg["message"]) for _, msg in client.get_events("warn")]
    assert any(str(broken) in str(m) for m in kept if isinstance(m, SkippedInputWarning))


def test_embed_images_rejects_bad_input(tiny_clip_model):
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    with pytest.raises(TypeError, match="list of image paths"):
        embed_images_dask(embedder, "one/path.png")
    with pytest.raises(ValueError, match="paths_per_task"):
        embed_images_dask(embedder, ["a.png"], paths_per_task=0)
    with pytest.raises(TypeError, match="paths_per_task"):
        embed_images_dask(embedder, ["a.png"], paths_per_task=None)
    with pytest.raises(TypeError, match="embed_images"):
        embed_images_dask(object(), ["a.png"])

    class NoSkipList:
        def embed_images(self, paths):
            return np.zeros((len(paths), 4), dtype=np.float32)

    with pytest.raises(TypeError, match=r"NoSkipList\.embed_images does not"):
        embed_images_dask(NoSkipList(), ["a.png"], n_features=4, return_skipped=True)
    with pytest.raises(TypeError, match="return_skipped"):
        embed_images_dask(embedder, ["a.png"], return_skipped="yes")


def test_a_missing_path_is_named_by_its_row(tiny_clip_model, tmp_path):
    # None in a list, or a missing value of a column, failed with the bare
    # "expected str, bytes or os.PathLike object, not NoneType" of os.fspath.
    dd = pytest.importorskip("dask.dataframe")
    import dask.bag as db
    import pandas as pd

    paths = _write_images(tmp_path, 4)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", on_error="skip")
    with pytest.raises(TypeError, match=r"^input 2 is NoneType \(None\), not an image path"):
        embed_images_dask(embedder, paths[:2] + [None] + paths[2:])
    frame = pd.DataFrame({"path": paths[:3] + [None] + paths[3:]})
    column = dd.from_pandas(frame, npartitions=2)["path"]
    bag = db.from_sequence(paths[:3] + [None] + paths[3:], npartitions=2)
    for given in (column, bag):
        X = embed_images_dask(embedder, given)
        with pytest.raises(TypeError, match=r"^input 3 is \w+ \((None|<NA>|nan)\), not an image"):
            X.compute(scheduler="sync")


def test_a_missing_file_alone_in_its_task_is_named_by_its_row(tiny_clip_model, tmp_path):
    # It was "none of the 1 string or path inputs is an existing file or folder (input 0
    # ...). If they are texts, use ...": the row within the task, and a hint for texts.
    paths = _write_images(tmp_path, 4)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    X = embed_images_dask(embedder, [*paths, str(tmp_path / "nope.png")], paths_per_task=2)
    with pytest.raises(FileNotFoundError, match=r"^input 4: image file not found: .*nope\.png"):
        X.compute(scheduler="sync")


def test_captions_given_for_image_paths_are_said_to_be_texts(tiny_clip_model):
    # (by the first share: its paths, none of which exists, are texts given by mistake)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", on_error="skip")
    X = embed_images_dask(embedder, ["a dog on a beach", "a cat", "a bird"], paths_per_task=2)
    with pytest.raises(
        ValueError, match=r"^none of the 2 string or path inputs .*If they are texts"
    ):
        X.compute(scheduler="sync")


def test_n_features_is_checked_against_the_embedder_before_any_task(tiny_clip_model, tmp_path):
    # It was found by the first task, once it had loaded the model and embedded its
    # images, in an error that did not name n_features.
    paths = _write_images(tmp_path, 2)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    width = embedder._config("known").embed_dim
    with pytest.raises(
        ValueError, match=rf"^n_features={width - 1} but the embedder's .* {width} "
    ):
        embed_images_dask(embedder, paths, n_features=width - 1)
    assert embed_images_dask(embedder, paths, n_features=width).shape == (2, width)


# ------------------------------------------------------------------------ grid search


def _classification_data(embedder: LoggingHashEmbedder, words: list[str]):
    rng = np.random.default_rng(1)
    atoms = embedder.embed_text(words)
    y = np.repeat([0, 1], 60)
    X = np.empty((120, atoms.shape[1]), dtype=np.float32)
    for i, label in enumerate(y):
        pool = np.arange(0, 10) if label == 0 else np.arange(10, 20)
        picks = np.concatenate([rng.choice(pool, 2), rng.choice(np.arange(20, 60), 2)])
        X[i] = atoms[picks].sum(axis=0) + 0.05 * rng.normal(size=atoms.shape[1])
    return X, y


def test_grid_search_on_dask_backend_embeds_vocabulary_once(client, tmp_path):
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    words = [f"word{i}" for i in range(60)]
    X, y = _classification_data(LoggingHashEmbedder(tmp_path / "unused.log"), words)
    embedder = LoggingHashEmbedder(tmp_path / "calls.log")
    splice = SpliceTransformer(embedder=embedder, vocabulary=words, tol=1e-4, device="cpu")

    shared = precompute_concept_embeddings(splice)
    assert embedder.calls() == [(os.getpid(), 60)]
    assert shared.get_params()["concept_embeddings"].shape == (60, 64)

    grid = {"splicetransformer__l1_penalty": [0.05, 0.1, 0.2]}
    pipe = make_pipeline(shared, LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, grid, cv=3)
    with get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        search.fit(X, y)
    # The fits ran on the cluster's workers (joblib batches them into fewer tasks).
    workers = set(client.scheduler_info()["workers"])
    ran_on = {record["worker"] for record in stream.data}
    assert ran_on and ran_on <= workers, (ran_on, workers)
    # ... all 3 penalties x 3 folds of them, in joblib's "batch_of_<f>_<n>_calls" or
    # "mixed_batch_of_<f>_<n>_calls" tasks (the name depends on how joblib batched them).
    batches = {str(record["key"]) for record in stream.data}
    counts = [
        re.fullmatch(r"(?:mixed_)?batch_of__fit_and_score_(\d+)_calls-.*", key) for key in batches
    ]
    n_fits = sum(int(m.group(1)) for m in counts if m is not None)
    assert n_fits == 3 * 3, sorted(batches)
    assert embedder.calls() == [(os.getpid(), 60)]  # ... without embedding the vocabulary again

    serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == serial.best_params_

    # Without precomputation, the workers embed the vocabulary themselves: the
    # log sees their calls (which is what precompute_concept_embeddings avoids).
    naive = GridSearchCV(make_pipeline(splice, LogisticRegression(max_iter=500)), grid, cv=3)
    with joblib.parallel_config(backend="dask"):
        naive.fit(X, y)
    worker_calls = [pid for pid, _ in embedder.calls() if pid != os.getpid()]
    assert len(worker_calls) >= 1


def test_grid_search_on_dask_backend_reads_a_shared_cache_folder(client, tmp_path):
    """docs/scaling.md: the transformer given the cache folder that the precomputation
    filled ships no embeddings, and its fits on the workers embed nothing."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    words = [f"word{i}" for i in range(60)]
    X, y = _classification_data(LoggingHashEmbedder(tmp_path / "unused.log"), words)
    embedder = KeyedLoggingHashEmbedder(tmp_path / "calls.log")
    splice = SpliceTransformer(
        embedder=embedder, vocabulary=words, tol=1e-4, device="cpu", cache_dir=tmp_path / "cache"
    )
    precomputed = precompute_concept_embeddings(splice)
    assert embedder.calls() == [(os.getpid(), 60)]
    grid = {"splicetransformer__l1_penalty": [0.05, 0.1, 0.2]}
    search = GridSearchCV(make_pipeline(splice, LogisticRegression(max_iter=500)), grid, cv=3)
    with get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        search.fit(X, y)
    workers = set(client.scheduler_info()["workers"])
    ran_on = {record["worker"] for record in stream.data}
    assert ran_on and ran_on <= workers  # (the fits ran on the cluster)
    assert embedder.calls() == [(os.getpid(), 60)]  # read from the folder, not embedded
    serial = GridSearchCV(make_pipeline(precomputed, LogisticRegression(max_iter=500)), grid, cv=3)
    serial.fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


# ------------------------------------------------------------------------ worker death


def _wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_worker_killed_mid_run_loses_and_duplicates_no_rows(client, problem, reference, tmp_path):
    X, splice = problem
    n = 6_000
    client.wait_for_workers(2, timeout=TIMEOUT)
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2

    gate = tmp_path / "gate"
    gate.mkdir()
    W = transform_dask(gated_copy(splice, gate), X[:n], chunk_size=500, client=client)
    future = client.compute(W)
    try:
        # Both workers are inside a block, held at the gate.
        _wait_for(lambda: started_pids(gate) >= worker_pids, "both workers to start a block")
        victim = sorted(started_pids(gate) & worker_pids)[0]
        os.kill(victim, signal.SIGKILL)
    finally:
        (gate / "release").touch()
    result = future.result(timeout=TIMEOUT)

    assert result.shape == (n, N_CONCEPTS)
    assert result.nnz == reference[:n].nnz
    np.testing.assert_allclose(result.toarray(), reference[:n].toarray(), atol=ATOL)
    # The Nanny brought a fresh worker process back.
    client.wait_for_workers(2, timeout=TIMEOUT)
    new_pids = set(client.run(os.getpid).values())
    assert victim not in new_pids
    assert len(new_pids) == 2


@pytest.mark.parametrize("writer", [to_zarr, write_parquet])
def test_a_failed_write_leaves_no_temporary_folder_behind(client, problem, writer, tmp_path):
    # block 0 fails (as a block holding NaN does) while block 1 is held at the gate on
    # the other worker: the folder must be removed only once block 1 stopped writing into
    # it. (Block 0 fails once block 1 has entered the gate: a NaN row failed it at once,
    # and block 1 was at times cancelled before it began.)
    X, splice = problem
    bad = np.array(X[:1_000], copy=True)
    bad[0, 0] = FAIL_MARK
    gate = tmp_path / "gate"
    gate.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    gated = gated_copy(splice, gate, fail_marked=True)
    W = transform_dask(gated, bad, chunk_size=500, client=client)
    release = threading.Timer(2.0, (gate / "release").touch)
    release.start()
    try:
        with pytest.raises(ValueError, match="NaN"):
            writer(W, out / "weights", splice)
    finally:
        release.join()

    def idle() -> bool:
        return not any(
            client.run(lambda dask_worker: len(dask_worker.state.all_running_tasks)).values()
        )

    _wait_for(idle, "the workers to end their blocks")
    time.sleep(0.5)
    assert started_pids(gate), "block 1 never started"
    assert sorted(p.name for p in out.iterdir()) == []


def test_default_scheduler_without_cluster(problem, reference):
    X, splice = problem
    with dask.config.set(scheduler="threads"):
        W = transform_dask(splice, X[:600], chunk_size=250).compute()
    np.testing.assert_allclose(W.toarray(), reference[:600].toarray(), atol=ATOL)


def _assert_refused_as_fit_refuses(splice, embedder, error, words):
    """``precompute_concept_embeddings(splice)`` raises what ``splice.fit`` raises, and
    before ``embedder`` has embedded anything."""
    with pytest.raises(error, match=words) as from_fit:
        splice.fit(np.ones((3, 8)))
    with pytest.raises(error, match=words) as from_precompute:
        precompute_concept_embeddings(splice)
    assert str(from_precompute.value) == str(from_fit.value)
    assert embedder.calls() == []  # refused before anything is embedded


@pytest.mark.parametrize(
    ("vocabulary", "error", "words"),
    [
        (["red", 3], TypeError, "vocabulary entry 1 is an int"),
        (["red", "  "], ValueError, "vocabulary entry 1 is blank"),
        # (a list split otherwise than by lines: a concept of two lines was kept)
        (["red", "hot\ndog"], ValueError, r"vocabulary entry 1 \('hot\\ndog'\) holds a line"),
        (["red", "blue", "red"], ValueError, r"entry 2 \('red'\) duplicates entry 0"),
        ([], ValueError, "vocabulary is an empty list"),
        (["red"], ValueError, r"the vocabulary \['red'\] holds one concept; SpLiCE needs"),
        (b"red", TypeError, "vocabulary must be a vocabulary name"),
        (42, TypeError, "vocabulary must be a vocabulary name"),
    ],
)
def test_precompute_rejects_a_bad_vocabulary_as_fit_does(tmp_path, vocabulary, error, words):
    embedder = LoggingHashEmbedder(tmp_path / "calls.log", dim=8)
    splice = SpliceTransformer(embedder=embedder, vocabulary=vocabulary, device="cpu")
    _assert_refused_as_fit_refuses(splice, embedder, error, words)


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"solver": "amdd"}, ValueError, r"solver must be one of .*got 'amdd'"),
        ({"device": "cpux"}, ValueError, "device='cpux' is not a device torch understands"),
        ({"l1_penalty": 5.0}, ValueError, "l1_penalty must be below 2, got 5.0"),
        ({"image_mean": "pretraind"}, ValueError, "did you mean 'pretrained'"),
        ({"output": "dens"}, ValueError, "output must be 'sparse' or 'dense', got 'dens'"),
        ({"tol": "1e-6"}, TypeError, r"tol must be a number in \(0, 1\)"),
    ],
)
def test_precompute_rejects_the_options_fit_rejects_before_embedding(
    tmp_path, params, error, words
):
    # they were found only by the fit of every worker, after the whole vocabulary was
    # embedded here (minutes for a vocabulary of 10,000 concepts on a CPU)
    embedder = LoggingHashEmbedder(tmp_path / "calls.log", dim=8)
    splice = SpliceTransformer(embedder=embedder, vocabulary=["red", "green", "blue"], **params)
    _assert_refused_as_fit_refuses(splice, embedder, error, words)
    # (and where the vocabulary is embedded already: given, or by an earlier call, the
    # options went unchecked to the fits of the search)
    given = splice.set_params(concept_embeddings=np.eye(3, 8))
    with pytest.raises(error, match=words):
        precompute_concept_embeddings(given)


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        ({"image_mean": np.full(7, 0.1)}, ValueError, r"image_mean has shape \(7,\) but the"),
        ({"image_mean": "missing.npy"}, FileNotFoundError, "does not exist or is not a file"),
        ({"image_mean": "pretrained"}, ValueError, "needs an embedder with .model"),
        ({"target_l0": 100.0}, ValueError, "target_l0=100 cannot be reached"),
        ({"modality": "text", "text_mean": np.full(9, 0.1)}, ValueError, r"shape \(9,\)"),
    ],
)
def test_precompute_rejects_what_no_sample_decides_as_fit_does(tmp_path, params, error, words):
    # A centre of another width, a mean file that does not exist, a target_l0 out of
    # reach: accepted here, the whole vocabulary embedded, then refused by the fit of
    # every worker.
    embedder = LoggingHashEmbedder(tmp_path / "calls.log", dim=8)
    embedder.embedding_dim_ = 8  # (the width, known without embedding anything)
    if isinstance(params.get("image_mean"), str) and params["image_mean"] == "missing.npy":
        params = {"image_mean": tmp_path / "missing.npy"}
    splice = SpliceTransformer(embedder=embedder, vocabulary=["red", "green", "blue"], **params)
    _assert_refused_as_fit_refuses(splice, embedder, error, words)


def test_precompute_loads_a_vocabulary_file_as_fit_does(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("red\n green\n\nred\nblue\ncyan\n", encoding="utf-8")
    embedder = LoggingHashEmbedder(tmp_path / "calls.log", dim=8)
    splice = SpliceTransformer(embedder=embedder, vocabulary=path, vocabulary_size=3)
    shared = precompute_concept_embeddings(splice)
    assert shared.get_params()["vocabulary"] == ["red", "green", "blue"]
    assert splice._resolve_concepts()[0] == ["red", "green", "blue"]  # what fit uses


def test_precompute_concept_embeddings_needs_an_embedder_or_embeddings(tmp_path):
    with pytest.raises(ValueError, match="neither concept_embeddings nor an embedder"):
        precompute_concept_embeddings(SpliceTransformer(vocabulary=["a", "b"]))
    raw = np.eye(2, 4, dtype=np.float32)
    given = SpliceTransformer(vocabulary=["a", "b"], concept_embeddings=raw)
    clone = precompute_concept_embeddings(given)
    assert clone is not given
    np.testing.assert_array_equal(clone.get_params()["concept_embeddings"], raw)
    embedder = LoggingHashEmbedder(tmp_path / "calls.log", dim=8)
    words = ["red", "green", "blue", "cyan"]
    shared = precompute_concept_embeddings(
        SpliceTransformer(embedder=embedder, vocabulary=words, vocabulary_size=3)
    )
    assert shared.get_params()["vocabulary"] == words[:3]
    np.testing.assert_allclose(
        shared.get_params()["concept_embeddings"], embedder.embed_text(words[:3])
    )
    assert [n for _, n in embedder.calls()] == [3, 3]  # ours, then the check above


def test_non_finite_rows_are_named_by_their_row_of_x(problem):
    # each block is checked on its own: the message names rows of X, not of the block
    X, splice = problem
    bad = np.array(X, dtype=np.float64, copy=True)
    last = bad.shape[0] - 1
    bad[last, 0] = np.nan
    size = max(1, bad.shape[0] // 3)
    result = transform_dask(splice, bad, chunk_size=size)
    start = last // size * size
    said = (
        rf"X's block of rows {start} to {last} \(the first block found to hold any: others may "
        rf"as well\) holds NaN or infinite values in 1 row\(s\): {last}$"
    )
    with pytest.raises(ValueError, match=said):
        result.compute(scheduler="sync")


def test_non_finite_rows_of_unknown_chunk_sizes_are_named_in_their_block(problem):
    # a Dask array of unknown chunk sizes (a boolean mask of rows) does not say
    # where a block lies in X: the message names the row within its block
    X, splice = problem
    bad = np.array(X[:8_000], copy=True)
    bad[5_003, 0] = np.nan
    X_dask = da.from_array(bad, chunks=(2_000, -1))
    X_unknown = X_dask[da.ones(8_000, chunks=2_000, dtype=bool)]
    assert np.isnan(X_unknown.chunks[0]).all()
    result = transform_dask(splice, X_unknown)
    with pytest.raises(
        ValueError, match=r"X holds NaN or infinite values in 1 row\(s\): row 1003 of block 2$"
    ):
        result.compute(scheduler="sync")


def test_a_worker_without_sksplice_is_named_before_any_task(problem, tmp_path):
    # A worker that cannot import sksplice failed the scatter with a bare
    # ModuleNotFoundError (and shut down); without client= the compute hung. The
    # worker here runs without site processing (-S), so the editable install of the
    # checkout is not on its path while distributed (in site-packages) is.
    import subprocess
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    origin = importlib.util.find_spec("sksplice").origin or ""
    if os.path.realpath(origin).startswith(os.path.realpath(site)):
        pytest.skip("sksplice is installed into site-packages: every worker finds it")
    X, splice = problem
    cluster = LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None, silence_logs=50)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = site
    worker = subprocess.Popen(
        [sys.executable, "-S", "-m", "distributed.cli.dask_worker", cluster.scheduler_address]
        + ["--nthreads", "1", "--no-nanny"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Client(cluster, timeout=TIMEOUT) as bare:
            bare.wait_for_workers(1, timeout=TIMEOUT)
            for client in (bare, None):  # (None: the default client, bare)
                with pytest.raises(RuntimeError, match=r"sksplice is not installed on 1 of the 1"):
                    transform_dask(splice, X, client=client, chunk_size=16)
            # The writers ship their own tasks (weights in memory need no transform):
            # they waited forever for a worker that could not read them.
            weights = sp.random(40, N_CONCEPTS, density=0.05, format="csr", random_state=0)
            names = [f"c{i}" for i in range(N_CONCEPTS)]
            for writer in (write_parquet, to_zarr):
                raised: list[BaseException] = []

                def write(writer=writer, raised=raised):
                    try:
                        writer(weights, tmp_path / f"{writer.__name__}-out", names)
                    except BaseException as exc:
                        raised.append(exc)

                thread = threading.Thread(target=write, daemon=True)
                thread.start()
                thread.join(timeout=60)
                assert not thread.is_alive(), f"{writer.__name__} waited for the worker"
                assert len(raised) == 1 and isinstance(raised[0], RuntimeError), raised
                assert "sksplice is not installed on 1 of the 1" in str(raised[0])
                assert not [p for p in tmp_path.iterdir() if "-out" in p.name]
    finally:
        worker.kill()
        worker.wait(timeout=30)
        cluster.close(timeout=TIMEOUT)


def test_a_worker_sends_its_skips_to_the_clients_without_warning_itself(monkeypatch):
    # distributed.warn also emitted the warning on the worker: the workers of a
    # LocalCluster share the user's terminal, which showed every skip twice.
    import pickle
    import warnings

    import distributed

    from sksplice import distributed as sk_distributed
    from sksplice.embedders import SkippedInput, SkippedInputWarning

    events = []

    class Worker:
        def log_event(self, topic, msg):
            events.append((topic, msg))

    monkeypatch.setattr(distributed, "get_worker", lambda: Worker())
    skipped = [SkippedInput(7, "imgs/broken.jpg", "not an image")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sk_distributed._report_skipped(skipped, 3, 5)
    assert caught == []
    assert [topic for topic, _ in events] == ["warn"]
    message = pickle.loads(events[0][1]["message"])
    assert isinstance(message, SkippedInputWarning) and "imgs/broken.jpg" in str(message)
    assert pickle.loads(events[0][1]["category"]) is SkippedInputWarning


def test_the_weights_are_those_of_the_transformer_at_the_call(problem):
    # Without a client the graph held the transformer itself: a loop over penalties
    # computed afterwards gave every array the last penalty's weights.
    X, splice = problem
    splice = clone(splice).fit(X)
    lazy, eager = [], []
    for penalty in (0.35, 0.25, 0.15):
        splice.set_params(l1_penalty=penalty).fit(X)
        eager.append(splice.transform(X[:600]))
        lazy.append(transform_dask(splice, X[:600], chunk_size=300))
    assert len({w.nnz for w in eager}) == 3
    for got, expected in zip(dask.compute(*lazy, scheduler="threads"), eager, strict=True):
        assert got.nnz == expected.nnz
        np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=ATOL)
    # the copy shares the embedder (a model transform does not use) and the arrays,
    # which fit replaces rather than changes: here those of the fit at 0.35
    graph = dict(lazy[0].__dask_graph__())
    (key,) = [k for k in graph if _key_name(k).startswith("sksplice-transformer-")]
    shipped = get_sync(graph, key)
    assert shipped is not splice and shipped.l1_penalty == 0.35
    assert shipped.embedder is splice.embedder
    assert shipped.concept_embeddings is splice.concept_embeddings
    assert shipped.dictionary_ is not splice.dictionary_  # (refitted since)
    now = get_sync(*next(iter(_transformer_keys(transform_dask(splice, X[:10])))))
    assert now.dictionary_ is splice.dictionary_ and now.mean_ is splice.mean_


def _transformer_keys(W):
    graph = dict(W.__dask_graph__())
    return [(graph, k) for k in graph if _key_name(k).startswith("sksplice-transformer-")]


def test_a_dask_dataframe_is_read_a_partition_per_block(problem, reference):
    # np.asarray computed every partition on the client, into one block
    dd = pytest.importorskip("dask.dataframe")
    X, splice = problem
    computed = []

    def seen(part):
        computed.append(len(part))
        return part

    parts = dd.from_pandas(pd.DataFrame(X[:900]), npartitions=3)
    frame = parts.map_partitions(seen, meta=parts._meta)
    with dask.config.set(scheduler="sync"):
        W = transform_dask(splice, frame)
        # (the partitions' lengths counted, one pass: the shape is known, no solve yet)
        assert sorted(computed) == [300, 300, 300]
        assert W.shape == (900, N_CONCEPTS) and W.chunks[0] == (300, 300, 300)
        result = W.compute()
        np.testing.assert_allclose(result.toarray(), reference[:900].toarray(), atol=ATOL)
        # chunk_size re-chunks the rows, as for an array
        W = transform_dask(splice, frame, chunk_size=200)
        assert W.chunks[0] == (200, 200, 200, 200, 100)
        np.testing.assert_allclose(W[:10].compute().toarray(), reference[:10].toarray(), atol=ATOL)


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_weights_are_not_written_under_another_transformers_concepts(problem, tmp_path, writer):
    # The same concepts in another order (or another vocabulary): every column would be
    # written as another concept, silently; the in-memory consumers refuse such names.
    X, splice = problem
    write = _writer(writer)
    W = splice.transform(X[:300])
    names = list(splice.concepts_)
    reordered = (
        clone(splice)
        .set_params(vocabulary=names[::-1], concept_embeddings=splice.concept_embeddings[::-1])
        .fit(X[:300])
    )
    said = (
        r"^these weights were made by a SpliceTransformer whose concepts are not those of "
        r"`concepts`: column 0 is 'concept_000' there but 'concept_199' in `concepts` \(the "
        r"same concepts in another order\)"
    )
    lazy = transform_dask(splice, da.from_array(X[:300], chunks=100))
    for weights, concepts in (
        (W, reordered),
        (W[50:120].toarray(), names[::-1]),  # (rows of them, made dense)
        (lazy, reordered),  # (transform_dask's array as it returns it)
    ):
        with pytest.raises(ValueError, match=said):
            write(weights, tmp_path / "weights", concepts)
        assert list(tmp_path.iterdir()) == []  # (nothing written, nothing begun)
    # pandas output: written under its columns, which must be the concepts given
    frame = clone(splice).set_output(transform="pandas").fit(X[:300]).transform(X[:300])
    with pytest.raises(ValueError, match=r"^the columns of W are not `concepts`: column 0 is "
                       r"'concept_000' in W but 'concept_199' in `concepts`"):  # fmt: skip
        write(frame, tmp_path / "weights", names[::-1])
    assert list(tmp_path.iterdir()) == []
    # ... and its values those of a transformer of these concepts: a frame whose columns
    # were relabelled (assigned in another order, or renamed) was written under its labels
    relabelled, renamed = frame.copy(), frame.rename(columns={"concept_003": "hound"})
    relabelled.columns = names[::-1]
    cases = (
        (relabelled, "column 0 is 'concept_000' there but 'concept_199' in the columns of W"),
        (renamed, "column 3 is 'concept_003' there but 'hound' in the columns of W"),
    )
    for weights, detail in cases:
        with pytest.raises(ValueError, match=re.escape(detail) + ".*give the frame with the"):
            write(weights, tmp_path / "weights", list(weights.columns))
        assert list(tmp_path.iterdir()) == []
    # (columns reordered by name stay labelled: taken, each concept's weights under it)
    swapped = frame[[names[1], names[0], *names[2:]]]
    path = write(swapped, tmp_path / "swapped", list(swapped.columns))
    if writer == "parquet":
        back = pd.read_parquet(path)
        first = back[back["concept"] == names[0]].set_index("row")["weight"]
        expected = frame[names[0]].sparse.to_dense()
        np.testing.assert_allclose(first, expected[expected != 0].loc[first.index], rtol=1e-6)
        assert len(first) == int((expected != 0).sum()) > 0
    shutil.rmtree(path)
    # the transformer that made them, or its names, write them
    for weights in (W, lazy, frame):
        path = write(weights, tmp_path / f"ok-{len(list(tmp_path.iterdir()))}", splice)
        assert path.is_dir()


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_a_sparse_frame_is_written_as_its_sparse_matrix_not_densified(
    problem, tmp_path, writer, monkeypatch
):
    # np.asarray(frame) made the dense matrix of transform's pandas output in the client
    # (48 MB where its CSR held 12.5 MB, at 0.6% density), before any block was written.
    import sksplice._distributed_io as io

    X, splice = problem
    frame = clone(splice).set_output(transform="pandas").fit(X[:300]).transform(X[:300])
    given = []
    as_array = io._as_weights_array
    monkeypatch.setattr(io, "_as_weights_array", lambda W, n: given.append(W) or as_array(W, n))
    path = _writer(writer)(frame, tmp_path / "weights", splice)
    assert len(given) == 1 and sp.issparse(given[0]), type(given[0])
    np.testing.assert_array_equal(given[0].toarray(), frame.sparse.to_dense().to_numpy())
    assert path.is_dir()


@pytest.mark.parametrize("writer", ["parquet", "zarr"])
def test_weights_no_decomposition_gives_are_refused_by_row(tmp_path, writer):
    # NaN, infinite and negative weights were stored without a word (the analyses refuse
    # them when the dataset is read back); a 1-D array met dask's "Chunks do not add up
    # to shape", and strings numpy's ufunc error.
    write = _writer(writer)
    dense = np.vstack([np.ones((5, 2)), [[1.0, -0.5]], np.ones((2, 2))])
    cases = [
        (np.array([[np.nan, 1.0]]), ValueError, r"W holds NaN or infinite values in 1 row\(s\): 0"),
        (sp.csr_matrix([[0, 1.0], [0, np.inf]]), ValueError, r"infinite values in 1 row\(s\): 1"),
        (dense, ValueError, r"W must be non-negative .* 1 row\(s\) hold negative values: 5"),
        (da.from_array(dense, chunks=4), ValueError, r"hold negative values: 5\. Embeddings"),
        (np.zeros(5), ValueError, r"W must be 2-dimensional \(rows, concepts\), got shape"),
        (np.array([["a", "b"]]), TypeError, r"W must hold concept weights \(real numbers\)"),
    ]
    for weights, error, said in cases:
        names = ["a", "b"] if weights.ndim == 2 else list("abcde")
        with pytest.raises(error, match=said):
            write(weights, tmp_path / "weights", names)
        assert list(tmp_path.iterdir()) == []  # (nothing left, nothing begun)


def test_a_dask_dataframe_of_weights_is_refused_with_its_array_as_advice(tmp_path):
    # It was computed whole in the client and written as one file.
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(pd.DataFrame(np.ones((6, 2)), columns=["a", "b"]), npartitions=2)
    for write in (write_parquet, to_zarr):
        with pytest.raises(TypeError, match=r"W is a Dask DataFrame: give its Dask array, "
                           r"W\.to_dask_array\(lengths=True\)"):  # fmt: skip
            write(frame, tmp_path / "weights", ["a", "b"])
        path = write(frame.to_dask_array(lengths=True), tmp_path / "weights", ["a", "b"])
        assert path.is_dir()
        shutil.rmtree(path)


def test_the_lazy_weights_of_transform_dask_are_told_to_be_computed_first(problem):
    # compare_datasets and ConceptRetriever.fit said "must be numeric, got dtype object"
    # (np.asarray of an array of CSR blocks) of float32 weights.
    from sksplice.retrieval import ConceptRetriever
    from sksplice.shift import compare_datasets

    X, splice = problem
    W = transform_dask(splice, da.from_array(X[:200], chunks=100))
    said = r"W_a is a Dask collection \(lazy\): compute the weights first, W_a\.compute\(\)"
    with pytest.raises(TypeError, match=said):
        compare_datasets(W, W, concepts=splice)
    with pytest.raises(TypeError, match="concept weights are a Dask collection"):
        ConceptRetriever(splice=splice).fit(W)
    computed = W.compute()
    assert ConceptRetriever(splice=splice).fit(computed).n_features_in_ == computed.shape[1]


def test_a_pipeline_or_a_half_precision_dtype_is_refused_by_name(problem):
    # A Pipeline met "'Pipeline' object has no attribute 'dictionary_'" and float16
    # scipy's "does not support dtype float16" in every block, naming neither.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, splice = problem
    pipe = make_pipeline(FunctionTransformer(), clone(splice)).fit(X[:200])
    with pytest.raises(TypeError, match=r"got a Pipeline: give its transformer step, "
                       r"pipeline\.named_steps\['splicetransformer'\]"):  # fmt: skip
        transform_dask(pipe, X[:200])
    for dtype in ("float16", np.longdouble, "int32"):
        with pytest.raises(ValueError, match=r"dtype must be float32 or float64, got"):
            transform_dask(splice, X[:200], dtype=dtype)
    assert transform_dask(splice, X[:200], dtype=np.float64).compute().dtype == np.float64
