"""Running sksplice on a Dask cluster (the optional ``dask`` extra).

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
single-process :meth:`~sksplice.SpliceTransformer.transform`, so the results agree with
the in-process path up to the solver's tolerance. A block that was running on
a worker that died is simply run again on another worker: blocks are pure
functions of their input rows, so no row is lost or duplicated.

See :doc:`/scaling` for a walk-through.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from . import _dask
from ._dask import _require_dask
from ._distributed_io import to_zarr, write_parquet
from ._names import listed, remember_lazy_concepts
from ._pandas import is_sparse_frame, sparse_frame_to_csr
from ._protocols import check_image_embedder
from ._validation import (
    SKIPPED_ROWS_HINT,
    check_finite_rows,
    check_flag,
    check_int,
    check_option,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import types

    import dask.array as da
    from dask.delayed import Delayed
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
DEFAULT_CHUNK_SIZE = _dask.DEFAULT_CHUNK_SIZE
#: Default number of image paths embedded by one task.
DEFAULT_PATHS_PER_TASK = 256


# --------------------------------------------------------------------------- helpers


def _share(obj: Any, client: Client | None, label: str) -> Any:
    """Ship ``obj`` to the cluster once and return a handle usable as a task argument.

    With a ``client`` the object is scattered to every worker (``broadcast=True``),
    so each worker deserialises it once and all its tasks reuse that copy. Without
    one it becomes a single key of the task graph (``dask.delayed``), which any
    scheduler computes once per worker process that needs it.
    """
    dask = _require_dask()
    _check_workers(client if client is not None else _default_client())
    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    return dask.delayed(obj, name=f"sksplice-{label}-{uuid.uuid4().hex}", pure=True)


def _snapshot(splice: Any) -> Any:
    """A copy of the fitted transformer ``splice`` that its later changes leave alone.

    Everything is copied but the ``embedder`` (a model, which ``transform`` does not
    use: embeddings come in) and the arrays (the dictionary, the mean, the concept
    embeddings given), which the copy shares: ``fit`` and ``set_params`` put new
    ones in place of them, never change them.
    """
    embedder = getattr(splice, "embedder", None)
    memo: dict[int, Any] = {} if embedder is None else {id(embedder): embedder}
    # (nor its arrays, which fit replaces rather than changes: a deep copy of a 37,444 x
    # 768 dictionary, with the concept embeddings given as a parameter, took 0.75 s and
    # 345 MB, held by every lazy array of a loop over penalties)
    for value in vars(splice).values():
        if isinstance(value, np.ndarray) or type(value).__module__.startswith("torch"):
            memo[id(value)] = value
    return copy.deepcopy(splice, memo)


def _default_client() -> Client | None:
    """The distributed client a graph would run on without ``client=``, if there is one."""
    try:
        from distributed import default_client
    except ImportError:  # (the threaded scheduler: sksplice is this process's)
        return None
    try:
        return default_client()
    except ValueError:  # no client
        return None


def _check_workers(client: Client | None) -> None:
    """Refuse a cluster whose workers cannot import sksplice, before any task.

    A worker without it cannot read the shipped transformer: with a client the
    scatter failed with a bare ``ModuleNotFoundError`` and the worker shut down,
    without one the computation hung once the workers were gone.
    """
    if client is None:
        return
    import importlib.util

    try:  # (find_spec is the standard library's: every worker can run it)
        found = client.run(importlib.util.find_spec, "sksplice")
    except Exception:  # a cluster that cannot run it: the tasks say what is wrong
        return
    missing = sorted(str(worker) for worker, spec in found.items() if spec is None)
    if missing:
        shown = listed(missing, 3)
        raise RuntimeError(
            f"sksplice is not installed on {len(missing)} of the {len(found)} worker(s) of "
            f"the cluster ({shown}): install it in every worker's environment "
            "(the same version as here, with its `dask` extra)"
        )


def _check_output(output: str) -> str:
    check_option(output, "output", _OUTPUTS)
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
    block: np.ndarray,
    splice: Any,
    output: str,
    n_concepts: int,
    dtype: np.dtype,
    block_info: dict | None = None,
) -> Any:
    """Task body: concept weights of one block of embeddings."""
    block = np.asarray(block)
    if block.shape[0] == 0:
        return _empty_block(n_concepts, output, dtype)
    if block_info is not None:  # rows of X, not of the block (dask says where it lies)
        first_row = block_info[0]["array-location"][0][0]
        # (NaN where X's chunk sizes are unknown: rows are then named within their block)
        known = first_row is not None and not math.isnan(first_row)
        # (a block fails on its own: the rows of the others are not named, and may hold
        # values that are not finite too; the in-memory transform names every row)
        where = (
            f"X's block of rows {int(first_row)} to {int(first_row) + block.shape[0] - 1} (the "
            "first block found to hold any: others may as well)"
            if known
            else "X"
        )
        check_finite_rows(
            block,
            where,
            first_row=int(first_row) if known else 0,
            block_index=None if known else int(block_info[0]["chunk-location"][0]),
            nan_rows_hint=SKIPPED_ROWS_HINT,
        )
    from .transformer import block_of_more

    with block_of_more():  # (no warning that a block's rows hold no concept: others may)
        W = splice.transform(block)
    return _coerce_block(W, block.shape[0], n_concepts, output, dtype)


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
        every worker when ``client`` is given, otherwise a copy taken now is
        stored as a single key of the task graph. Either way the weights are
        those of the transformer as it is at this call: refitting it or
        changing its parameters before the result is computed does not change
        them.
    X : dask.array.Array, dask.dataframe.DataFrame or array-like of shape (n_samples, n_features)
        Embeddings. A NumPy array is wrapped into a Dask array with
        ``chunk_size`` rows per block; a Dask DataFrame of numeric columns is
        read a block per partition (its index is not kept), whose lengths are
        counted first (one pass over the partitions, by the scheduler). Column
        chunks are merged (each block needs whole rows).
    client : distributed.Client or None, default=None
        The client used to scatter ``splice``. Without one, any Dask scheduler
        (including a default distributed client) can compute the result.
    output : {"sparse", "dense"}, default="sparse"
        ``"sparse"``: every block is a ``scipy.sparse.csr_matrix``; a block
        holds about ``nnz * 8 + (rows + 1) * 4`` bytes (float32 weights, int32
        column indices). ``"dense"``: every block is an ndarray of
        ``rows * n_concepts * itemsize`` bytes (400 MB for 10,000 rows and a
        10,000-concept vocabulary in float32); choose ``chunk_size`` accordingly.
    chunk_size : int or None, default=None
        Rows per block. Defaults to 4096 for NumPy input and to the existing
        row chunks for Dask input (the array is re-chunked when given).
    dtype : {np.float32, np.float64}, default=np.float32
        Dtype of the weights (what SciPy's sparse matrices hold: not float16).

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
    TypeError
        If ``splice`` is a Pipeline (the message names its transformer step).
    ValueError
        If ``output``, ``chunk_size`` or ``dtype`` is invalid, or ``X`` is not
        2-D with as many columns as ``splice`` was fitted on. Rows of ``X`` that
        are not finite are refused by the block that holds them, as it is
        computed: named in ``X``, those of that block only.
    """
    _require_dask()
    import dask.array as da
    from dask.base import tokenize
    from sklearn.utils.validation import check_is_fitted

    output = _check_output(output)
    chunk_size = check_int(chunk_size, "chunk_size", allow_none=True)
    from .editing import pipeline_in

    inner = pipeline_in(splice)
    if inner is not None:
        # (a Pipeline met "no attribute 'dictionary_'" in the first block)
        names = [name for name, step in inner.steps if hasattr(step, "dictionary_")]
        where = f"pipeline.named_steps[{names[0]!r}]" if names else "its fitted SpliceTransformer"
        raise TypeError(
            f"splice must be a fitted SpliceTransformer, got a {type(splice).__name__}: give "
            f"its transformer step, {where}, with the embeddings that step takes (the "
            "output of the steps before it)"
        )
    check_is_fitted(splice)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        # (float16 passed, then failed in every block with scipy's message: sparse
        # matrices take neither it nor longdouble, and dense blocks are made from them)
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")

    if not isinstance(X, da.Array) and hasattr(X, "to_dask_array") and hasattr(X, "npartitions"):
        # A Dask DataFrame: its partitions become the blocks (np.asarray computed every
        # partition here, on the client, into one block). Their lengths are counted
        # first, by the scheduler, so that the result has a known shape and chunk_size
        # can re-chunk it
        X = X.to_dask_array(lengths=True)
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
    # The transformer as it is now: a client's scatter sends a copy at once, but a key of
    # the graph holds the object, which a later fit or set_params would change before
    # the graph runs (a loop over penalties computed afterwards gave the last penalty's
    # weights for every one)
    shared = _share(splice if client is not None else _snapshot(splice), client, "transformer")
    if output == "sparse":
        meta = sp.csr_matrix((0, 0), dtype=dtype)
    else:
        meta = np.zeros((0, 0), dtype=dtype)
    name = "splice-transform-" + tokenize(X.name, getattr(shared, "key", shared), output, dtype)
    W = X.map_blocks(
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
    # (its concepts, for the writers to refuse other names: the blocks are computed later,
    # maybe elsewhere, and are recorded where they are)
    return remember_lazy_concepts(W, splice.concepts_)


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
        If a parameter of ``splice`` is refused (``vocabulary`` and
        ``vocabulary_size`` included), with the errors of
        ``SpliceTransformer.fit``; nothing is embedded then.
    """
    from sklearn.base import clone

    from .dictionary import embed_vocabulary

    params = splice.get_params(deep=False)
    if params.get("concept_embeddings") is not None:
        # (embedded already, given or by an earlier call: the options are checked all
        # the same, as the docs promise, not in the first fit of every worker)
        splice._check_params()
        return clone(splice)
    embedder = params.get("embedder")
    if embedder is None:
        raise ValueError(
            "splice has neither concept_embeddings nor an embedder: there is no vocabulary "
            "embedding to precompute"
        )
    # Every option the fits of the clone would refuse (a misspelt solver or device, an
    # l1_penalty of 2 or more ...), refused now: not after the vocabulary is embedded,
    # then again in the first fit of every worker. (Checked on splice itself, which
    # the checks leave as it is: a clone deep-copies an embedder that is no estimator.)
    splice._check_params()
    # The transformer's own rules (and errors) for vocabulary and vocabulary_size, and
    # what no sample decides: a centre given or published of another width, a mean file
    # missing, a target_l0 out of reach.
    concepts = splice._checked_without_samples()
    from ._model_names import own_centre_of

    # (weights that cannot be fetched are told as fit tells them: the published mean
    # among what a checkpoint file needs only where the transformer is centred by it)
    with own_centre_of(params.get("image_mean")):
        raw = embed_vocabulary(embedder, concepts, cache_dir=params.get("cache_dir"))
    return clone(splice).set_params(vocabulary=concepts, concept_embeddings=np.asarray(raw))


# --------------------------------------------------------------------------- images


def _embed_chunk(
    embedder: Any,
    paths: Any,
    n_features: int,
    first_index: int = 0,
    return_skipped: bool = False,
) -> Any:
    """Task body: embed one share of image paths with an embedder held by the worker.

    ``first_index`` is the row of ``paths[0]`` in the whole collection: a
    :class:`~sksplice.CLIPEmbedder` names the images it cannot load (in its error,
    or in its :class:`~sksplice.exceptions.SkippedInputWarning` with ``on_error="skip"``) by
    their rows of the result, not by their place in the task.

    With ``return_skipped`` the task returns ``(embeddings, skipped)`` and warns
    nothing; otherwise it returns the embeddings and reports the images it skipped
    with :func:`_report_skipped` (which reaches the client of a distributed cluster).
    """
    if hasattr(paths, "tolist"):
        paths = paths.tolist()
    paths = [_as_path(p, first_index + i) for i, p in enumerate(paths)]
    skipped: list = []
    if not paths:
        emb = np.zeros((0, n_features), dtype=np.float32)
        return (emb, skipped) if return_skipped else emb
    # (a subclass with its own embed_images is called through it)
    if _is_plain_clip(embedder):
        # (a share after the first: its paths, none of which exists, are no texts given
        # by mistake, which the first share says as such)
        emb, skipped = embedder._embed_images(
            paths, return_skipped=True, first_index=first_index, share=first_index > 0
        )
        if skipped and not return_skipped:
            _report_skipped(skipped, len(paths), first_index)
    elif return_skipped:  # (embed_images_dask checked that it takes return_skipped)
        emb, skipped = embedder.embed_images(paths, return_skipped=True)
        # (its rows of the task, made rows of the whole collection)
        skipped = [_shift_index(s, first_index) for s in skipped]
    else:
        emb = embedder.embed_images(paths)
    emb = np.asarray(emb, dtype=np.float32)
    if emb.shape != (len(paths), n_features):
        raise ValueError(
            f"the embedder returned shape {emb.shape} for {len(paths)} images starting at "
            f"{paths[0]!r}; expected {(len(paths), n_features)} (one row per path: images "
            "that fail to load must raise or be kept as rows)"
        )
    return (emb, list(skipped)) if return_skipped else emb


def _as_path(item: Any, row: int) -> str:
    """One image path as a string; anything else is refused, named by its row of ``X``."""
    try:
        return os.fspath(item)
    except TypeError:
        raise TypeError(
            f"input {row} is {type(item).__name__} ({item!r}), not an image path: "
            "embed_images_dask takes paths (str or os.PathLike); drop or fill the missing "
            "ones first"
        ) from None


def _shift_index(item: Any, offset: int) -> Any:
    """A skipped item of a task, named by its row of the whole collection."""
    if offset and hasattr(item, "_replace") and hasattr(item, "index"):
        return item._replace(index=int(item.index) + offset)
    return item


def _report_skipped(skipped: list, n_items: int, first_index: int) -> None:
    """Warn of the images a task skipped, in the client's process.

    On a ``dask.distributed`` worker the :class:`SkippedInputWarning` is sent to
    the clients of the scheduler as a ``"warn"`` event, the one
    :func:`distributed.warn` sends, which each client emits in its own process
    (asynchronously, as an event of the scheduler). Unlike ``distributed.warn`` it
    is not also emitted on the worker: the workers of a ``LocalCluster`` share the
    user's terminal, which showed every skip twice. The scheduler keeps the event
    (``client.get_events("warn")``). Elsewhere (the threaded or synchronous
    scheduler: the user's process) it is emitted once, naming the user's line.
    """
    from ._stack import warn_user
    from .embedders import _skipped_warning

    message = _skipped_warning(skipped, n_items, first_index)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a distributed worker
        warn_user(message)
        return
    worker.log_event(
        "warn",
        {"message": pickle.dumps(message), "category": pickle.dumps(type(message))},
    )


def _is_plain_clip(embedder: Any) -> bool:
    """A CLIPEmbedder whose embed_images is CLIPEmbedder's (its tasks name rows of X)."""
    from .embedders import CLIPEmbedder

    return isinstance(embedder, CLIPEmbedder) and (
        type(embedder).embed_images is CLIPEmbedder.embed_images
    )


def _collect_skipped(*parts: Any) -> list:
    """Every task's skipped images, in row order."""
    return [item for part in parts for item in part]


def _takes_return_skipped(embedder: Any) -> bool:
    import inspect

    try:
        parameters = inspect.signature(embedder.embed_images).parameters
    except (TypeError, ValueError):  # (a callable without a signature)
        return False
    return "return_skipped" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


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


def _check_n_features(embedder: Any, n_features: int) -> None:
    """``n_features`` given is the embedder's width where that is known without its
    model (its ``embedding_dim_``, or a :class:`~sksplice.CLIPEmbedder`'s config): it
    was found only once a task had loaded the model and embedded its images, in an
    error that did not name ``n_features``."""
    from .embedders import CLIPEmbedder

    known = getattr(embedder, "embedding_dim_", None)
    if known is None and isinstance(embedder, CLIPEmbedder):
        try:
            known = embedder._config("known").embed_dim
        except Exception:  # (a Hub model's config offline: checked by the tasks)
            return
    if isinstance(known, int | np.integer) and known > 0 and int(known) != n_features:
        raise ValueError(
            f"n_features={n_features} but the embedder's embeddings have {int(known)} "
            "dimensions: leave n_features out to use the embedder's"
        )


def _partition_len(part: Any) -> int:
    return len(list(part)) if not hasattr(part, "__len__") else len(part)


def embed_images_dask(
    embedder: Any,
    paths: Any,
    *,
    client: Client | None = None,
    paths_per_task: int = DEFAULT_PATHS_PER_TASK,
    n_features: int | None = None,
    return_skipped: bool = False,
) -> da.Array | tuple[da.Array, Delayed]:
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
        the embedder can open). Without ``client`` the graph holds the
        embedder itself (a copy would load its model again): its parameters
        when the tasks run are the ones used, so leave it unchanged until the
        result is computed.
    paths : list of str or path-like, dask.bag.Bag, or dask.dataframe.Series
        Image paths. A list is split into tasks of ``paths_per_task`` paths;
        a bag or a Dask DataFrame column keeps its partitions (one task per
        partition), whose lengths are counted first so that the result has
        known chunks (this reads the path partitions one extra time).
    client : distributed.Client or None, default=None
        The client used to scatter the embedder.
    paths_per_task : int, default=256
        Paths per task when ``paths`` is a list.
    n_features : int or None, default=None
        Embedding dimension. When not given it is read from the embedder's
        ``embedding_dim_`` (``CLIPEmbedder`` sets it in ``fit``, which loads
        no model; an unfitted one is fitted on a clone).
    return_skipped : bool, default=False
        Also return the images skipped under ``on_error="skip"``, as a lazy
        list (see Returns); then no :class:`~sksplice.exceptions.SkippedInputWarning`
        is emitted, as with ``CLIPEmbedder.embed_images(return_skipped=True)``.
        The embedder's ``embed_images`` must take ``return_skipped``
        (``CLIPEmbedder``'s does).

    Returns
    -------
    X : dask.array.Array of shape (n_images, n_features), float32
        Lazy embeddings, one block per task, ready for :func:`transform_dask`.
        Rows of skipped images are NaN.
    skipped : dask.delayed.Delayed
        Only with ``return_skipped=True``: computes to the list of every
        skipped image, a :class:`~sksplice.exceptions.SkippedInput` ``(index,
        item, reason)`` each, in row order, with ``index`` its row of ``X``
        and ``item`` its path. It is made by the same tasks as ``X``: compute
        both at once (``X, skipped = dask.compute(X, skipped)``) to read each
        image once.

    Notes
    -----
    Without ``return_skipped``, each task that skipped images emits one
    ``SkippedInputWarning`` naming their rows of ``X`` and their paths (the
    warning's ``skipped`` attribute lists them), as ``CLIPEmbedder`` does for
    one call. On a ``dask.distributed`` cluster the worker sends it to the
    clients as the ``"warn"`` event of :func:`distributed.warn`, so it is emitted
    in the client's process (once: not on the worker too); it arrives as an
    event of the scheduler, usually by the time the computation returns, and the
    scheduler keeps it (``client.get_events("warn")``). A task run twice (its
    worker died) warns twice. Dask's ``processes`` scheduler has no way back to
    the caller's process: its worker processes print the warning on their
    standard error, where the caller's filters do not reach; use
    ``return_skipped=True`` there.

    Raises
    ------
    TypeError
        If ``paths`` is none of the accepted kinds, or one of them is not a path
        (``None``, a missing value of a column: named by its row, when the list
        is given and, for a bag or a column, when its task runs).
    ValueError
        If ``n_features`` cannot be inferred, or ``paths_per_task`` is invalid.
    """
    dask = _require_dask()
    import dask.array as da

    paths_per_task = check_int(paths_per_task, "paths_per_task")
    check_int(n_features, "n_features", allow_none=True)
    return_skipped = check_flag(return_skipped, "return_skipped")
    check_image_embedder(embedder)
    if return_skipped and not _is_plain_clip(embedder) and not _takes_return_skipped(embedder):
        raise TypeError(
            f"return_skipped=True needs an embedder whose embed_images takes return_skipped; "
            f"{type(embedder).__name__}.embed_images does not"
        )
    if n_features is None:
        n_features = _infer_n_features(embedder)
        if n_features is None:
            raise ValueError(
                "could not infer the embedding dimension of the embedder; pass n_features="
            )
    else:
        _check_n_features(embedder, n_features)

    import dask.bag as db

    dd: types.ModuleType | None
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
        paths = [_as_path(p, i) for i, p in enumerate(paths)]
        parts = [paths[i : i + paths_per_task] for i in range(0, len(paths), paths_per_task)]
        lengths = [len(p) for p in parts]

    shared = _share(embedder, client, "embedder")
    embed = dask.delayed(_embed_chunk, pure=True)
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]]).tolist()
    tasks = [
        embed(shared, part, n_features, start, return_skipped) for part, start in zip(parts, starts)
    ]
    # (with return_skipped a task returns (embeddings, skipped): X takes the first)
    outputs = [task[0] for task in tasks] if return_skipped else tasks
    blocks = [
        da.from_delayed(out, shape=(n, n_features), dtype=np.float32)
        for out, n in zip(outputs, lengths)
    ]
    if blocks:
        X = da.concatenate(blocks, axis=0)
    else:
        X = da.zeros((0, n_features), dtype=np.float32, chunks=(1, n_features))
    if not return_skipped:
        return X
    collect = dask.delayed(_collect_skipped, pure=True)
    return X, collect(*[task[1] for task in tasks])
