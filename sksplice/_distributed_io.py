"""Storing concept weights from Dask: a Parquet dataset or a Zarr array.

:func:`write_parquet` and :func:`to_zarr` (public in :mod:`sksplice.distributed`)
write a dataset into a temporary sibling folder and rename it into place once
complete; ``overwrite=True`` replaces only a folder that this module wrote. The
temporary folder is named like the temporary files of
:func:`sksplice._atomic.atomic_write` (hidden, with the writing process's id and
machine), so that the one left by a writer that was killed is removed by the
next write of the same dataset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._atomic import _process_alive, temporary_files_of, temporary_name
from ._dask import DEFAULT_CHUNK_SIZE, _require_dask, is_dask_collection
from ._names import check_concept_names, listed

if TYPE_CHECKING:  # pragma: no cover - typing only
    import dask.array as da

__all__ = [
    "to_zarr",
    "write_parquet",
]

logger = logging.getLogger(__name__)


def _concept_names(concepts: Any) -> list[str]:
    """Concept names from a sequence or from a fitted transformer."""
    if hasattr(concepts, "get_feature_names_out"):
        concepts = concepts.get_feature_names_out()
    if isinstance(concepts, (str, bytes)) or not isinstance(concepts, (Sequence, np.ndarray)):
        raise TypeError(
            "concepts must be a sequence of concept names or a fitted SpliceTransformer, "
            f"got {type(concepts).__name__}"
        )
    names = [str(c) for c in concepts]
    # (two columns of one name could not be told apart once written)
    check_concept_names(names, "concepts")
    return names


def _checked_weights(W: Any, names: list[str]) -> Any:
    """``W``, refused where it was made in this process by a transformer whose concepts
    are not ``names`` (another's, or the same in another order): each column would be
    written as another concept. Arrays of :func:`sksplice.distributed.transform_dask`
    are known as they are (not sliced or rechunked: their rows are not computed to be
    recognised); weights of unknown origin are not checked. A pandas DataFrame comes
    back as its values (a CSR matrix for sparse columns, not densified), its columns
    checked to be ``names``, and its values to be those of a transformer of these
    concepts (columns relabelled, by a rename or by assigning ``W.columns``, would
    write each column as another concept)."""
    from ._names import _same_names, check_source, recorded, recorded_lazily, recorded_orders
    from ._pandas import frame_values

    shape = getattr(W, "shape", None)
    columns = getattr(W, "columns", None)
    if columns is not None and is_dask_collection(W):
        raise TypeError(
            "W is a Dask DataFrame: give its Dask array, W.to_dask_array(lengths=True) (which "
            "computes the length of each partition), with concepts=list(W.columns)"
        )
    if shape is None or len(shape) != 2 or shape[1] != len(names):
        return W  # (refused for its shape: see _as_weights_array)
    if columns is not None:
        if [str(c) for c in columns] != names:
            # (pandas output: its columns name the concepts, which the file would not keep)
            j = next(k for k, (a, b) in enumerate(zip(map(str, columns), names)) if a != b)
            raise ValueError(
                f"the columns of W are not `concepts`: column {j} is {str(columns[j])!r} in W "
                f"but {names[j]!r} in `concepts`. Each column would be written as another "
                "concept; give concepts=list(W.columns), or the transformer that made W"
            )
        advice = (
            "give the frame with the columns the transformer gave it (a frame whose columns "
            "were renamed, or assigned in another order, is refused), or the weights with "
            "the transformer that made them"
        )
        values = frame_values(W, "W")
        # (columns reordered by name, frame[other_order], stay labelled: read back in the
        # order of a transformer of these concepts, the values are its own)
        for order in recorded_orders(len(names)):
            order = [str(c) for c in order]
            if order != names and sorted(order) == sorted(names):
                at = {name: j for j, name in enumerate(names)}
                reordered = values[:, [at[name] for name in order]]
                found = recorded(reordered)
                # (recognised as weights of that order, and of no other: values of unknown
                # origin are no evidence that the labels are right)
                if not any(_same_names(f.concepts, order) for f in found):
                    continue
                try:
                    check_source(reordered, order, "the columns of W", found)
                except ValueError:
                    continue
                return values
        check_source(values, names, "the columns of W", advice=advice)
        return values
    if is_dask_collection(W):  # (a lazy array: known by itself only)
        found = recorded_lazily(W)
        if found:
            check_source(W, names, "`concepts`", found)
    else:
        check_source(W, names, "`concepts`")
    return W


def _as_weights_array(W: Any, n_concepts: int) -> da.Array:
    """A 2-D Dask array of weights with known row chunks and a single column chunk."""
    _require_dask()
    import dask.array as da

    if not isinstance(W, da.Array):
        if sp.issparse(W):
            W = sp.csr_matrix(W)
            meta = sp.csr_matrix((0, 0), dtype=W.dtype)
            W = da.from_array(W, chunks=(DEFAULT_CHUNK_SIZE, -1), asarray=False, meta=meta)
        else:
            W = np.asarray(W)
            if W.ndim == 2:
                W = da.from_array(W, chunks=(DEFAULT_CHUNK_SIZE, -1))
    if W.ndim != 2:
        raise ValueError(f"W must be 2-dimensional (rows, concepts), got shape {W.shape}")
    if not (np.issubdtype(W.dtype, np.number) and not np.issubdtype(W.dtype, np.complexfloating)):
        raise TypeError(f"W must hold concept weights (real numbers), got dtype {W.dtype}")
    if any(np.isnan(c) for c in W.chunks[0]):
        raise ValueError(
            "W has unknown row chunk sizes, which writing it needs: give transform_dask "
            "embeddings of known chunk sizes, "
            "X = X.compute_chunk_sizes() (this reads X, not the weights), or call "
            "W = W.compute_chunk_sizes(), which computes the weights once more "
            "(persisting W does not make its chunk sizes known)"
        )
    if W.shape[1] != n_concepts:
        raise ValueError(f"W has {W.shape[1]} columns but {n_concepts} concept names were given")
    if len(W.chunks[1]) > 1:
        W = W.rechunk({1: -1})
    # (each block checked as it is written: a value no transformer gives is not stored)
    return W.map_blocks(_checked_block, dtype=W.dtype, meta=W._meta)


def _checked_block(block: Any, block_info: Any = None) -> Any:
    """A block of weights, refused where it holds values that are not finite or are
    negative (no decomposition gives them: embeddings given for weights, perhaps),
    naming the rows in the whole array."""
    from ._validation import check_finite_rows, check_non_negative_rows

    first = int(block_info[0]["array-location"][0][0]) if block_info else 0
    check_finite_rows(
        block,
        "W",
        first_row=first,
        hint="the weights SpliceTransformer.transform gives are finite",
    )
    check_non_negative_rows(
        block,
        "W",
        first_row=first,
        hint="Embeddings are decomposed into weights first: W = splice.transform(X)",
    )
    return block


#: File written into every dataset folder by :func:`write_parquet` and
#: :func:`to_zarr`; ``overwrite=True`` replaces only folders that hold it (or,
#: for datasets written before it existed, nothing but this writer's files).
#: The leading underscore makes pyarrow's dataset discovery skip it.
_MARKER = "_sksplice_dataset.json"


def _written_by_us(folder: Path, kind: str) -> bool:
    """Whether ``folder`` holds a ``kind`` dataset of this module (and nothing else)."""
    names = [entry.name for entry in folder.iterdir()]
    if not names:
        return True
    if _MARKER in names:
        try:
            marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(marker, dict) and marker.get("writer") == kind
    if kind == "parquet":  # written before the marker: part files only
        return all(
            (folder / name).is_file() and name.startswith("part-") and name.endswith(".parquet")
            for name in names
        )
    try:  # a Zarr array written before the marker, with this writer's attributes
        import zarr

        return "sksplice" in zarr.open_array(str(folder), mode="r").attrs
    except Exception:
        return False


def _prepare_destination(path: str | os.PathLike, overwrite: bool, kind: str) -> tuple[Path, Path]:
    """Check the target folder and return (final path, temporary sibling path).

    A symbolic link is followed: the folder it points to is what gets written
    (or replaced), and the link stays. With ``overwrite``, only a folder that
    holds a dataset written by this module (or an empty folder) is replaced;
    anything else (a file, a device, a folder of other files) is refused.

    A relative ``path`` is made absolute here, against this process's working
    folder: the workers write into the returned folders, and their working
    folder is their own.
    """
    given = Path(path).expanduser()
    path = Path(os.path.realpath(given)) if given.is_symlink() else given.absolute()
    shown = f"{str(given)!r}" + (f" (a link to {str(path)!r})" if given.is_symlink() else "")
    if path.exists():
        # (what overwrite=True would refuse too is said first, not "pass overwrite=True")
        if not path.is_dir():
            raise FileExistsError(
                f"{shown} exists and is not a folder; overwrite=True only replaces a {kind} "
                "dataset folder written by sksplice. Remove it or choose another path."
            )
        if not _written_by_us(path, kind):
            others = sorted(entry.name for entry in path.iterdir())
            raise FileExistsError(
                f"{shown} is not a {kind} dataset written by sksplice (it holds "
                f"{listed(others, 3, repr)}); "
                "overwrite=True only replaces such datasets. Remove it or choose another path."
            )
        if not overwrite:
            raise FileExistsError(f"{shown} already exists; pass overwrite=True to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        # (a folder above the target is a file: mkdir said only "File exists")
        blocking = next(
            (p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir()),
            None,
        )
        where = f": {str(blocking)!r} is a file, not a folder" if blocking else f" ({exc})"
        raise FileExistsError(f"cannot make the folder of {shown}{where}") from exc
    _remove_stale_folders(path)
    tmp = path.parent / temporary_name(path.name)
    return path, tmp


#: End of the temporary name of the previous dataset that an overwrite moves aside
#: until the new one is in place (``.NAME.<pid>.<host>.<random>.old``).
_OLD = ".old"


def _remove_stale_folders(path: Path) -> None:
    """Remove the temporary folders of ``path`` left by writers that were killed.

    Only folders written on this machine by a process that is no longer running
    are removed (SIGKILL, SIGTERM or the end of a batch job's time, where no
    ``except`` clause runs): a dataset is written for as long as its blocks take,
    hours perhaps, so neither its age nor its time stamps tell a live writer from a
    dead one, and a folder of another machine sharing the folder is left alone.
    """
    # (the previous dataset moved aside by an overwrite: stale only once the new one is in
    # place; a writer killed between the two renames left the only copy there)
    previous = temporary_files_of(path, suffix=_OLD)
    for tmp, pid in [*temporary_files_of(path), *previous]:
        if pid is None or _process_alive(pid) or not tmp.is_dir() or tmp.is_symlink():
            continue
        if (tmp, pid) in previous and not path.exists():
            logger.warning(
                "%s holds the dataset that an interrupted overwrite of %s moved aside; "
                "rename it to %s to keep it, or remove it",
                tmp,
                path,
                path.name,
            )
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        if tmp.exists():  # (a read-only folder)
            logger.debug("could not remove %s, left by an interrupted write", tmp)
        else:
            logger.info("removed %s, a temporary folder left by an interrupted write", tmp)


def _write_marker(tmp: Path, kind: str, **fields: Any) -> None:
    """Write the marker file; ``fields`` (e.g. the concept names) are added to it."""
    marker = {"writer": kind, "format": 1, **fields}
    (tmp / _MARKER).write_text(json.dumps(marker), encoding="utf-8")


def _move_into_place(tmp: Path, path: Path) -> None:
    """Atomically publish the finished folder ``tmp`` as ``path``."""
    old = None
    if path.exists():
        old = path.parent / temporary_name(path.name, suffix=_OLD)
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)
        raise
    if old is not None:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def _write_parquet_block(
    block: Any, offset: int, index: int, folder: str, concepts: list[str], meta: dict
) -> int:
    """Task body: write one block of weights as a long-format Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    coo = sp.csr_matrix(block).tocoo()
    dictionary = pa.array(concepts, type=pa.string())
    concept = pa.DictionaryArray.from_arrays(pa.array(coo.col, type=pa.int32()), dictionary)
    table = pa.table(
        {
            "row": pa.array(coo.row.astype(np.int64) + offset, type=pa.int64()),
            "concept": concept,
            "weight": pa.array(coo.data.astype(np.float32), type=pa.float32()),
        }
    )
    table = table.replace_schema_metadata({"sksplice": json.dumps(meta)})
    target = Path(folder) / f"part-{index:06d}.parquet"
    partial = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    pq.write_table(table, partial)
    os.replace(partial, target)
    return int(coo.nnz)


def write_parquet(
    W: Any,
    path: str | os.PathLike,
    concepts: Any,
    *,
    overwrite: bool = False,
) -> Path:
    """Write concept weights to a Parquet dataset in long (tidy) format.

    Each non-zero weight is one record ``(row, concept, weight)``: ``row``
    (int64) is the global row index, ``concept`` the concept name (dictionary
    encoded, read back by pandas as a categorical) and ``weight`` a float32.
    Zero weights are not stored, so a row with no active concept has no
    record. Each block of ``W`` becomes one file ``part-NNNNNN.parquet``,
    written by the worker that computed it.

    The total number of rows and of concepts are in the schema metadata of
    every file, under the key ``sksplice`` (a JSON object with the keys
    ``format``, ``n_rows``, ``n_concepts`` and ``columns``). The concept names,
    in column order and including concepts that never occur, are the
    dictionary of the ``concept`` column of every file (in pandas, the
    categories of ``frame["concept"]``) and the list ``"concepts"`` of the JSON
    file ``_sksplice_dataset.json`` in the dataset folder, for readers that
    decode the column to plain strings. (They are not in the schema metadata,
    which every file carries twice: for 10,000 concepts that would add about
    half a megabyte to each file.)

    The dataset is first written to a temporary sibling folder and renamed into
    place once every block is written, so ``path`` never holds a partial
    result. Workers must see the same filesystem as the caller.

    Parameters
    ----------
    W : dask.array.Array, sparse matrix, ndarray or DataFrame of shape (n_samples, n_concepts)
        Concept weights, e.g. from :func:`transform_dask`. Row chunks must be known.
        A DataFrame (pandas output) is written under its columns, which must be
        ``concepts``; its sparse columns as the sparse matrix they hold.
    path : str or path-like
        Folder of the dataset (local or shared filesystem). A relative path is
        taken from this process's working folder (not from the workers').
    concepts : sequence of str or fitted SpliceTransformer
        Concept names, one per column of ``W``.
    overwrite : bool, default=False
        Replace an existing ``path``, but only when it is a dataset folder
        written by this function (it holds the marker file
        ``_sksplice_dataset.json``, or only ``part-*.parquet`` files) or an empty
        folder. A symbolic link is followed: the folder it points to is
        replaced and the link kept.

    Returns
    -------
    path : pathlib.Path
        The dataset folder, as an absolute path; read it with ``pandas.read_parquet(path)``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is not a
        folder written by this function (a file, a device, a folder holding
        other files: nothing is deleted; the message names what it holds).
    RuntimeError
        If a worker of the distributed cluster that would write the blocks
        cannot import sksplice (checked before anything is written).
    ValueError
        If ``W`` and ``concepts`` disagree on the number of concepts, two
        concepts have the same name, ``W`` has unknown row chunks, or ``W``
        was made in this process by a transformer whose concepts are not
        ``concepts`` (another's, or the same in another order: each column
        would be written as another concept; checked for weights of
        ``transform`` and their rows, and for the array of
        :func:`transform_dask` as it returns it; a DataFrame whose columns were
        relabelled), or a block of ``W`` holds values that are not finite or are
        negative (found as the block is written: nothing is left behind).
    TypeError
        If ``W`` is a Dask DataFrame (give ``W.to_dask_array(lengths=True)``) or
        does not hold real numbers.
    """
    dask = _require_dask()
    names = _concept_names(concepts)
    W = _as_weights_array(_checked_weights(W, names), len(names))
    _check_cluster()
    path, tmp = _prepare_destination(path, overwrite, "parquet")
    meta = {
        "format": "long",
        "n_rows": int(W.shape[0]),
        "n_concepts": len(names),
        "columns": ["row", "concept", "weight"],
    }
    offsets = np.concatenate([[0], np.cumsum(W.chunks[0])[:-1]]).astype(int)
    shared_names = dask.delayed(names, name=f"sksplice-concepts-{uuid.uuid4().hex}", pure=True)
    write = dask.delayed(_write_parquet_block, pure=True)
    tasks = [
        write(block, int(offset), i, str(tmp), shared_names, meta)
        for i, (block, offset) in enumerate(zip(W.to_delayed()[:, 0], offsets))
    ]
    tmp.mkdir()
    _compute_into(tmp, *tasks)
    try:
        _write_marker(tmp, "parquet", n_rows=meta["n_rows"], concepts=names)
        _move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


#: Seconds that a failed or interrupted write waits for the blocks still running on
#: workers to end, before its temporary folder is removed.
_RUNNING_BLOCKS_TIMEOUT_S = 600.0


def _compute_into(tmp: Path, *collections: Any) -> None:
    """Compute ``collections`` (tasks writing into ``tmp``), removing ``tmp`` on failure.

    On a distributed cluster, the blocks still running on other workers when one
    fails (or when the wait is interrupted, Ctrl-C) go on writing into ``tmp``:
    removing it at once left a partial ``tmp`` behind, made again by them. The
    outstanding tasks are cancelled and the blocks already running waited for
    (at most :data:`_RUNNING_BLOCKS_TIMEOUT_S` seconds) before ``tmp`` is removed.
    The same holds for the threads of Dask's threaded scheduler (see
    :func:`_own_thread_pool`).
    """
    dask = _require_dask()
    client = _scheduler_client()
    if client is None:
        with _own_thread_pool(collections) as pool:
            try:
                dask.compute(*collections, **({} if pool is None else {"pool": pool}))
            except BaseException:
                if pool is not None:
                    # The blocks already running in the pool's threads go on writing
                    # into tmp after the error or Ctrl-C ends the computation here
                    # (zarr makes the folders of its chunks again): the waiting ones are
                    # cancelled and the running ones waited for before tmp is removed.
                    logger.info(
                        "waiting for the blocks already running to end before removing %s "
                        "(they cannot be stopped midway; Ctrl-C again stops waiting)",
                        tmp,
                    )
                    with contextlib.suppress(BaseException):  # (a second Ctrl-C)
                        pool.shutdown(wait=True, cancel_futures=True)
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return
    futures = client.compute(list(collections))
    try:
        client.gather(futures)
    except BaseException:
        try:
            keys = set()
            for collection in collections:
                keys.update(collection.__dask_graph__().keys())
            client.cancel(futures, force=True)
            _wait_for_running(client, keys, _RUNNING_BLOCKS_TIMEOUT_S)
        except BaseException:  # (a second Ctrl-C, a cluster gone: remove what is there)
            pass
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def _own_thread_pool(collections: tuple[Any, ...]) -> Any:
    """A thread pool of this write for Dask's threaded scheduler, or None for another one.

    Dask's threaded scheduler (the default of Dask arrays) runs the blocks in a
    pool shared by every computation of the process, whose threads cannot be
    waited for one computation at a time. A pool of the write's own, of the size
    the shared one would have (``num_workers`` of the Dask configuration, else the
    number of CPUs), lets a failed or interrupted write wait for its blocks.
    A pool set in the Dask configuration, or another scheduler, is used as it is.
    """
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    scheduler = get_scheduler(collections=list(collections))
    if scheduler is not dask.threaded.get or dask.config.get("pool", None) is not None:
        yield None
        return
    n_workers = dask.config.get("num_workers", None) or dask.threaded.CPU_COUNT
    from concurrent.futures import ThreadPoolExecutor

    # (Dask's own executor, which runs each task in the caller's context, where it has one)
    executor: type[ThreadPoolExecutor] = getattr(
        dask.threaded, "ContextAwareThreadPoolExecutor", ThreadPoolExecutor
    )
    pool = executor(max_workers=int(n_workers))
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _check_cluster() -> None:
    """Refuse a distributed cluster whose workers cannot import sksplice, before any task.

    The tasks that write the blocks are functions of this module: a worker
    without sksplice could not read them, and the computation waited forever.
    """
    from .distributed import _check_workers

    _check_workers(_scheduler_client())


def _scheduler_client() -> Any:
    """The distributed client that ``dask.compute`` would use now, if any."""
    from dask.base import get_scheduler

    scheduler = get_scheduler()
    client = getattr(scheduler, "__self__", None)
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return client if isinstance(client, Client) else None


def _running_keys(keys: set[Any], dask_worker: Any = None) -> list[Any]:
    """Which of ``keys`` occupy a thread of this worker (run there by ``client.run``)."""
    return [ts.key for ts in dask_worker.state.all_running_tasks if ts.key in keys]


def _wait_for_running(client: Any, keys: set[Any], timeout: float) -> None:
    """Wait until no worker runs a task of ``keys`` (at most ``timeout`` seconds)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.run(_running_keys, keys)
        if not any(running.values()):
            return
        time.sleep(0.05)


def _densify_block(block: Any) -> np.ndarray:
    return block.toarray() if sp.issparse(block) else np.asarray(block)


def to_zarr(
    W: Any,
    path: str | os.PathLike,
    concepts: Any,
    *,
    overwrite: bool = False,
) -> Path:
    """Write concept weights to a dense Zarr array with the concept names attached.

    Zarr stores regular chunks, so the weights are stored dense: each stored
    chunk holds ``rows_per_chunk * n_concepts`` values (zero blocks compress
    well). The concept names are the array attribute ``"concepts"``; the
    attribute ``"sksplice"`` records the shape and layout.

    The array is first written to a temporary sibling folder and renamed into
    place once complete. Workers must see the same filesystem as the caller.

    Parameters
    ----------
    W : dask.array.Array, sparse matrix, ndarray or DataFrame of shape (n_samples, n_concepts)
        Concept weights (sparse or dense blocks). Row chunks must be known; they
        are made regular (the size of the first chunk that has rows) when they
        are not. A DataFrame (pandas output) is written under its columns, which
        must be ``concepts``.
    path : str or path-like
        Folder of the Zarr array (local or shared filesystem). A relative path
        is taken from this process's working folder (not from the workers').
    concepts : sequence of str or fitted SpliceTransformer
        Concept names, one per column of ``W``.
    overwrite : bool, default=False
        Replace an existing ``path``, but only when it is an array folder
        written by this function (it holds the marker file
        ``_sksplice_dataset.json``, or is a Zarr array with the ``"sksplice"``
        attribute) or an empty folder. A symbolic link is followed: the
        folder it points to is replaced and the link kept.

    Returns
    -------
    path : pathlib.Path
        The array folder, as an absolute path; open it with ``zarr.open_array(path, mode="r")`` or
        ``dask.array.from_zarr(path)``.

    Raises
    ------
    ImportError
        If zarr is not installed.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is not a
        folder written by this function (nothing is deleted).
    RuntimeError
        If a worker of the distributed cluster that would write the blocks
        cannot import sksplice (checked before anything is written).
    ValueError
        If ``W`` and ``concepts`` disagree on the number of concepts, two
        concepts have the same name, ``W`` has unknown row chunks, or ``W``
        was made in this process by a transformer whose concepts are not
        ``concepts`` (another's, or the same in another order: each column
        would be written as another concept; checked for weights of
        ``transform`` and their rows, and for the array of
        :func:`transform_dask` as it returns it; a DataFrame whose columns were
        relabelled), or a block of ``W`` holds values that are not finite or are
        negative (found as the block is written: nothing is left behind).
    TypeError
        If ``W`` is a Dask DataFrame (give ``W.to_dask_array(lengths=True)``) or
        does not hold real numbers.
    """
    _require_dask()
    import dask.array as da

    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_zarr needs zarr; install it with `pip install zarr`") from exc

    names = _concept_names(concepts)
    W = _as_weights_array(_checked_weights(W, names), len(names))
    dense = W.map_blocks(_densify_block, dtype=W.dtype, meta=np.zeros((0, 0), dtype=W.dtype))
    rows = [n for n in W.chunks[0] if n]  # (a block of no rows stores nothing)
    if len(rows) != len(W.chunks[0]) or (
        len(rows) > 1 and (len(set(rows[:-1])) > 1 or rows[-1] > rows[0])
    ):
        dense = dense.rechunk({0: rows[0] if rows else 1})
    if W.shape[0] == 0:
        dense = dense.rechunk({0: 1})
    _check_cluster()
    path, tmp = _prepare_destination(path, overwrite, "zarr")
    try:
        store = da.to_zarr(dense, str(tmp), overwrite=False, compute=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _compute_into(tmp, store)
    try:
        array = zarr.open_array(str(tmp), mode="r+")
        array.attrs.update(
            {
                "concepts": names,
                "sksplice": {"format": "dense", "n_rows": int(W.shape[0])},
            }
        )
        _write_marker(tmp, "zarr")
        _move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# Public in sksplice.distributed (docs/api.rst), which is where they are documented.
write_parquet.__module__ = to_zarr.__module__ = "sksplice.distributed"
