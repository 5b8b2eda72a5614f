"""Running sksplice on a Dask cluster (optional extra ``sksplice[dask]``).

The functions here split the work of a fitted
:class:`~sksplice.transformer.SpliceTransformer` or of an image embedder into
Dask tasks, so that it runs on a ``dask.distributed`` cluster (or on any other
Dask scheduler) block by block:

* :func:`transform_dask` turns a Dask array of embeddings into a Dask array of
  concept weights, with scipy sparse blocks or dense blocks;
* :func:`embed_images_dask` embeds a large collection of image paths (a list,
  a Dask bag or a Dask DataFrame column) on the workers, each worker loading
  the model once;
* :func:`write_parquet` and :func:`to_zarr` store concept weights with their
  concept names.

The fitted transformer or the embedder is shipped to the cluster once (a
broadcast ``scatter`` when a client is given, otherwise a single graph key)
and never copied into every task. Each block is solved by the same code as the
single-process :meth:`SpliceTransformer.transform`, so the results agree with
the in-process path up to the solver's tolerance. A block that was running on
a worker that died is simply run again on another worker: blocks are pure
functions of their input rows, so no row is lost or duplicated.

See ``docs/scaling.md`` for a walk-through.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._pandas import is_sparse_frame, sparse_frame_to_csr
from ._protocols import check_image_embedder
from ._validation import check_int

if TYPE_CHECKING:  # pragma: no cover - typing only
    import dask.array as da
    from distributed import Client

__all__ = [
    "embed_images_dask",
    "precompute_concept_embeddings",
    "to_zarr",
    "transform_dask",
    "write_parquet",
]

_OUTPUTS = ("sparse", "dense")
#: Default number of rows per block when a NumPy array is given.
DEFAULT_CHUNK_SIZE = 4096
#: Default number of image paths embedded by one task.
DEFAULT_PATHS_PER_TASK = 256


# --------------------------------------------------------------------------- helpers


def _require_dask() -> ModuleType:
    """Import dask.array, raising an actionable ImportError when Dask is missing."""
    try:
        import dask
        import dask.array
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sksplice.distributed needs Dask; install it with `pip install 'sksplice[dask]'`"
        ) from exc
    return dask


def _share(obj: Any, client: Client | None, label: str) -> Any:
    """Ship ``obj`` to the cluster once and return a handle usable as a task argument.

    With a ``client`` the object is scattered to every worker (``broadcast=True``),
    so each worker deserialises it once and all its tasks reuse that copy. Without
    one it becomes a single key of the task graph (``dask.delayed``), which any
    scheduler computes once per worker process that needs it.
    """
    dask = _require_dask()
    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    return dask.delayed(obj, name=f"sksplice-{label}-{uuid.uuid4().hex}", pure=True)


def _check_output(output: str) -> str:
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
    return output


def _coerce_block(W: Any, n_rows: int, n_concepts: int, output: str, dtype: np.dtype) -> Any:
    """Bring one block of transform output to CSR (``sparse``) or ndarray (``dense``)."""
    if sp.issparse(W):
        W = sp.csr_matrix(W, dtype=dtype)
        if output == "dense":
            W = W.toarray()
    else:
        if is_sparse_frame(W):  # pandas with sparse columns
            W = sparse_frame_to_csr(W, "transform output")
            return _coerce_block(W, n_rows, n_concepts, output, dtype)
        if hasattr(W, "to_numpy"):  # pandas DataFrame
            W = W.to_numpy()
        W = np.asarray(W, dtype=dtype)
        if output == "sparse":
            W = sp.csr_matrix(W)
    if W.shape != (n_rows, n_concepts):
        raise ValueError(
            f"the transformer returned a block of shape {W.shape}, expected {(n_rows, n_concepts)}"
        )
    return W


def _empty_block(n_concepts: int, output: str, dtype: np.dtype) -> Any:
    if output == "sparse":
        return sp.csr_matrix((0, n_concepts), dtype=dtype)
    return np.zeros((0, n_concepts), dtype=dtype)


def _transform_block(
    block: np.ndarray, splice: Any, output: str, n_concepts: int, dtype: np.dtype
) -> Any:
    """Task body: concept weights of one block of embeddings."""
    block = np.asarray(block)
    if block.shape[0] == 0:
        return _empty_block(n_concepts, output, dtype)
    W = splice.transform(block)
    return _coerce_block(W, block.shape[0], n_concepts, output, dtype)


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
    return names


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
            W = da.from_array(np.asarray(W), chunks=(DEFAULT_CHUNK_SIZE, -1))
    if W.ndim != 2:
        raise ValueError(f"W must be 2-dimensional (rows, concepts), got shape {W.shape}")
    if any(np.isnan(c) for c in W.chunks[0]):
        raise ValueError(
            "W has unknown row chunk sizes; call W.compute_chunk_sizes() (or persist it) first"
        )
    if W.shape[1] != n_concepts:
        raise ValueError(f"W has {W.shape[1]} columns but {n_concepts} concept names were given")
    if len(W.chunks[1]) > 1:
        W = W.rechunk({1: -1})
    return W


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
    """
    given = Path(path).expanduser()
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    shown = f"{str(given)!r}" + (f" (a link to {str(path)!r})" if path != given else "")
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{shown} already exists; pass overwrite=True to replace it")
        if not path.is_dir():
            raise FileExistsError(
                f"{shown} exists and is not a folder; overwrite=True only replaces a {kind} "
                "dataset folder written by sksplice. Remove it or choose another path."
            )
        if not _written_by_us(path, kind):
            others = sorted(entry.name for entry in path.iterdir())
            listed = ", ".join(repr(name) for name in others[:3])
            more = f" and {len(others) - 3} more" if len(others) > 3 else ""
            raise FileExistsError(
                f"{shown} is not a {kind} dataset written by sksplice (it holds {listed}{more}); "
                "overwrite=True only replaces such datasets. Remove it or choose another path."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    return path, tmp


def _write_marker(tmp: Path, kind: str) -> None:
    (tmp / _MARKER).write_text(json.dumps({"writer": kind, "format": 1}), encoding="utf-8")


def _move_into_place(tmp: Path, path: Path) -> None:
    """Atomically publish the finished folder ``tmp`` as ``path``."""
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex}"
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


# --------------------------------------------------------------------------- transform


def transform_dask(
    splice: Any,
    X: Any,
    *,
    client: Client | None = None,
    output: str = "sparse",
    chunk_size: int | None = None,
    dtype: Any = np.float32,
) -> da.Array:
    """Concept weights of a (Dask) array of embeddings, solved block by block.

    Parameters
    ----------
    splice : SpliceTransformer
        A fitted transformer. It is shipped to the cluster once: scattered to
        every worker when ``client`` is given, otherwise stored as a single key
        of the task graph.
    X : dask.array.Array or array-like of shape (n_samples, n_features)
        Embeddings. A NumPy array is wrapped into a Dask array with
        ``chunk_size`` rows per block. Column chunks are merged (each block
        needs whole rows).
    client : distributed.Client, optional
        The client used to scatter ``splice``. Without one, any Dask scheduler
        (including a default distributed client) can compute the result.
    output : {"sparse", "dense"}, default="sparse"
        ``"sparse"``: every block is a ``scipy.sparse.csr_matrix``; a block
        holds about ``nnz * 8 + (rows + 1) * 4`` bytes (float32 weights, int32
        column indices). ``"dense"``: every block is an ndarray of
        ``rows * n_concepts * itemsize`` bytes (400 MB for 10,000 rows and a
        10,000-concept vocabulary in float32); choose ``chunk_size`` accordingly.
    chunk_size : int, optional
        Rows per block. Defaults to 4096 for NumPy input and to the existing
        row chunks for Dask input (the array is re-chunked when given).
    dtype : dtype, default=np.float32
        Dtype of the weights.

    Returns
    -------
    W : dask.array.Array of shape (n_samples, n_concepts)
        Lazy concept weights, with the row chunks of ``X``. Call ``.compute()``
        to get one CSR matrix (``"sparse"``) or ndarray (``"dense"``), or pass
        it to :func:`write_parquet` / :func:`to_zarr`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``splice`` is not fitted.
    ValueError
        If ``output`` or ``chunk_size`` is invalid, or ``X`` is not 2-D with as
        many columns as ``splice`` was fitted on.
    """
    _require_dask()
    import dask.array as da
    from dask.base import tokenize
    from sklearn.utils.validation import check_is_fitted

    output = _check_output(output)
    chunk_size = check_int(chunk_size, "chunk_size", allow_none=True)
    check_is_fitted(splice)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")

    if not isinstance(X, da.Array):
        if sp.issparse(X):
            raise TypeError("X must hold dense embeddings, got a scipy sparse matrix")
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional (n_samples, n_features), got {X.shape}")
        X = da.from_array(X, chunks=(chunk_size or DEFAULT_CHUNK_SIZE, -1))
    elif X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n_samples, n_features), got {X.shape}")
    elif chunk_size is not None:
        X = X.rechunk({0: chunk_size})
    n_features = getattr(splice, "n_features_in_", None)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features per row, but the transformer was fitted on "
            f"{n_features}-dimensional embeddings"
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})

    n_concepts = int(np.asarray(splice.dictionary_).shape[0])
    shared = _share(splice, client, "transformer")
    if output == "sparse":
        meta = sp.csr_matrix((0, 0), dtype=dtype)
    else:
        meta = np.zeros((0, 0), dtype=dtype)
    name = "splice-transform-" + tokenize(X.name, getattr(shared, "key", shared), output, dtype)
    return X.map_blocks(
        _transform_block,
        shared,
        output,
        n_concepts,
        dtype,
        chunks=(X.chunks[0], (n_concepts,)),
        dtype=dtype,
        meta=meta,
        name=name,
    )


def precompute_concept_embeddings(splice: Any) -> Any:
    """Embed a transformer's vocabulary once, here, before a distributed search.

    Returns an unfitted clone of ``splice`` whose ``vocabulary`` is the
    resolved list of concepts and whose ``concept_embeddings`` holds their raw
    text embeddings, computed by one call of
    :func:`sksplice.dictionary.embed_vocabulary` in this process (served from
    the on-disk cache when the embedder has a ``cache_key``). Every fit of the
    clone, on any worker, then builds its dictionary from those rows (a
    normalisation, no model call), so a grid search over ``l1_penalty`` embeds
    the vocabulary once instead of once per worker or per task.

    Parameters
    ----------
    splice : SpliceTransformer
        A transformer with an ``embedder``; fitted or not (only its parameters
        are used). One that already has ``concept_embeddings`` is cloned as is.

    Returns
    -------
    splice : SpliceTransformer
        An unfitted clone carrying the concept embeddings. Its ``embedder`` is
        kept (it is needed for ``image_mean="pretrained"``, not for fitting).

    Raises
    ------
    ValueError
        If ``splice`` has neither ``concept_embeddings`` nor an ``embedder``.
    TypeError, ValueError
        If ``vocabulary`` is refused, with the errors of ``SpliceTransformer.fit``
        (the same resolution of ``vocabulary`` and ``vocabulary_size``); nothing
        is embedded then.
    """
    from sklearn.base import clone

    from ._concepts import resolve_concepts
    from .dictionary import embed_vocabulary

    params = splice.get_params(deep=False)
    if params.get("concept_embeddings") is not None:
        return clone(splice)
    embedder = params.get("embedder")
    if embedder is None:
        raise ValueError(
            "splice has neither concept_embeddings nor an embedder: there is no vocabulary "
            "embedding to precompute"
        )
    # The transformer's own rules (and errors) for vocabulary and vocabulary_size.
    concepts, _ = resolve_concepts(
        params.get("vocabulary"),
        params.get("vocabulary_size"),
        params.get("data_home"),
        count_full=False,
    )
    raw = embed_vocabulary(embedder, concepts, cache_dir=params.get("cache_dir"))
    return clone(splice).set_params(vocabulary=concepts, concept_embeddings=np.asarray(raw))


# --------------------------------------------------------------------------- images


def _embed_chunk(embedder: Any, paths: Any, n_features: int) -> np.ndarray:
    """Task body: embed one share of image paths with an embedder held by the worker."""
    if hasattr(paths, "tolist"):
        paths = paths.tolist()
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return np.zeros((0, n_features), dtype=np.float32)
    emb = np.asarray(embedder.embed_images(paths), dtype=np.float32)
    if emb.shape != (len(paths), n_features):
        raise ValueError(
            f"the embedder returned shape {emb.shape} for {len(paths)} images starting at "
            f"{paths[0]!r}; expected {(len(paths), n_features)} (one row per path: images "
            "that fail to load must raise or be kept as rows)"
        )
    return emb


def _infer_n_features(embedder: Any) -> int | None:
    """Output dimension of an embedder, when it can be told without loading its model."""
    value = getattr(embedder, "embedding_dim_", None)
    if isinstance(value, (int, np.integer)) and value > 0:
        return int(value)
    if hasattr(embedder, "fit") and hasattr(embedder, "get_params"):
        from sklearn.base import clone

        # CLIPEmbedder.fit only validates its parameters and records embedding_dim_.
        value = getattr(clone(embedder).fit(), "embedding_dim_", None)
        if isinstance(value, (int, np.integer)) and value > 0:
            return int(value)
    return None


def _partition_len(part: Any) -> int:
    return len(list(part)) if not hasattr(part, "__len__") else len(part)


def embed_images_dask(
    embedder: Any,
    paths: Any,
    *,
    client: Client | None = None,
    paths_per_task: int = DEFAULT_PATHS_PER_TASK,
    n_features: int | None = None,
) -> da.Array:
    """Embed a large collection of images on a Dask cluster.

    The embedder is shipped to the cluster once (see :func:`transform_dask`);
    each worker process keeps one copy, whose model is loaded on its first task
    and reused by every later task on that worker. Each task embeds its share
    of paths with ``embedder.embed_images``, which batches them itself.

    Parameters
    ----------
    embedder : CLIPEmbedder or object with ``embed_images(list[str]) -> ndarray``
        Must be picklable without its loaded model (``CLIPEmbedder`` is). The
        paths must be readable from every worker (a shared filesystem or URLs
        the embedder can open).
    paths : list of str or path-like, dask.bag.Bag, or dask.dataframe.Series
        Image paths. A list is split into tasks of ``paths_per_task`` paths;
        a bag or a Dask DataFrame column keeps its partitions (one task per
        partition), whose lengths are counted first so that the result has
        known chunks (this reads the path partitions one extra time).
    client : distributed.Client, optional
        The client used to scatter the embedder.
    paths_per_task : int, default=256
        Paths per task when ``paths`` is a list.
    n_features : int, optional
        Embedding dimension. When not given it is read from the embedder's
        ``embedding_dim_`` (``CLIPEmbedder`` sets it in ``fit``, which loads
        no model; an unfitted one is fitted on a clone).

    Returns
    -------
    X : dask.array.Array of shape (n_images, n_features), float32
        Lazy embeddings, one block per task, ready for :func:`transform_dask`.

    Raises
    ------
    TypeError
        If ``paths`` is none of the accepted kinds.
    ValueError
        If ``n_features`` cannot be inferred, or ``paths_per_task`` is invalid.
    """
    dask = _require_dask()
    import dask.array as da

    paths_per_task = check_int(paths_per_task, "paths_per_task", allow_none=True)
    check_int(n_features, "n_features", allow_none=True)
    check_image_embedder(embedder)
    if n_features is None:
        n_features = _infer_n_features(embedder)
        if n_features is None:
            raise ValueError(
                "could not infer the embedding dimension of the embedder; pass n_features="
            )

    import dask.bag as db

    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - dask[dataframe] is part of the extra
        dd = None

    if isinstance(paths, db.Bag) or (dd is not None and isinstance(paths, dd.Series)):
        parts = paths.to_delayed()
        lengths = dask.compute(*[dask.delayed(_partition_len)(p) for p in parts])
    elif dd is not None and isinstance(paths, dd.DataFrame):
        raise TypeError("pass one column of the Dask DataFrame (df['path']), not the frame")
    elif isinstance(paths, (str, bytes)) or not hasattr(paths, "__len__"):
        raise TypeError(
            "paths must be a list of image paths, a dask bag or a dask DataFrame column, "
            f"got {type(paths).__name__}"
        )
    else:
        paths = [os.fspath(p) for p in paths]
        parts = [paths[i : i + paths_per_task] for i in range(0, len(paths), paths_per_task)]
        lengths = [len(p) for p in parts]

    shared = _share(embedder, client, "embedder")
    embed = dask.delayed(_embed_chunk, pure=True)
    blocks = [
        da.from_delayed(embed(shared, part, n_features), shape=(n, n_features), dtype=np.float32)
        for part, n in zip(parts, lengths)
    ]
    if not blocks:
        return da.zeros((0, n_features), dtype=np.float32, chunks=(1, n_features))
    return da.concatenate(blocks, axis=0)


# --------------------------------------------------------------------------- writers


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
    record; the total number of rows and the concept names are kept in the
    schema metadata under the key ``sksplice``. Each block of ``W`` becomes one
    file ``part-NNNNNN.parquet``, written by the worker that computed it.

    The dataset is first written to a temporary sibling folder and renamed into
    place once every block is written, so ``path`` never holds a partial
    result. Workers must see the same filesystem as the caller.

    Parameters
    ----------
    W : dask.array.Array, scipy sparse matrix or ndarray of shape (n_samples, n_concepts)
        Concept weights, e.g. from :func:`transform_dask`. Row chunks must be known.
    path : str or path-like
        Folder of the dataset (local or shared filesystem).
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
        The dataset folder; read it with ``pandas.read_parquet(path)``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is not a
        folder written by this function (a file, a device, a folder holding
        other files: nothing is deleted; the message names what it holds).
    ValueError
        If ``W`` and ``concepts`` disagree on the number of concepts, or ``W``
        has unknown row chunks.
    """
    dask = _require_dask()
    names = _concept_names(concepts)
    W = _as_weights_array(W, len(names))
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
    try:
        dask.compute(*tasks)
        _write_marker(tmp, "parquet")
        _move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


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
    W : dask.array.Array, scipy sparse matrix or ndarray of shape (n_samples, n_concepts)
        Concept weights (sparse or dense blocks). Row chunks must be known; they
        are made regular (the first chunk size) when they are not.
    path : str or path-like
        Folder of the Zarr array (local or shared filesystem).
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
        The array folder; open it with ``zarr.open_array(path, mode="r")`` or
        ``dask.array.from_zarr(path)``.

    Raises
    ------
    ImportError
        If zarr is not installed.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or ``path`` is not a
        folder written by this function (nothing is deleted).
    ValueError
        If ``W`` and ``concepts`` disagree on the number of concepts, or ``W``
        has unknown row chunks.
    """
    _require_dask()
    import dask.array as da

    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_zarr needs zarr; install it with `pip install zarr`") from exc

    names = _concept_names(concepts)
    W = _as_weights_array(W, len(names))
    dense = W.map_blocks(_densify_block, dtype=W.dtype, meta=np.zeros((0, 0), dtype=W.dtype))
    rows = W.chunks[0]
    if len(rows) > 1 and (len(set(rows[:-1])) > 1 or rows[-1] > rows[0]):
        dense = dense.rechunk({0: max(rows[0], 1)})
    if W.shape[0] == 0:
        dense = dense.rechunk({0: 1})
    path, tmp = _prepare_destination(path, overwrite, "zarr")
    try:
        da.to_zarr(dense, str(tmp), overwrite=False, compute=True)
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
