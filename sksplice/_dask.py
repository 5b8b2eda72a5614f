"""Dask for :mod:`sksplice.distributed`: importing it, and the default block size.

Shared by the functions that run work on a cluster (:mod:`sksplice.distributed`)
and those that store their results (:mod:`sksplice._distributed_io`).
"""

from __future__ import annotations

from types import ModuleType

#: Default number of rows per block when a NumPy array is given (documented as
#: ``sksplice.distributed.DEFAULT_CHUNK_SIZE``).
DEFAULT_CHUNK_SIZE = 4096


def _require_dask() -> ModuleType:
    """Import dask.array, raising an actionable ImportError when Dask is missing."""
    try:
        import dask
        import dask.array
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sksplice.distributed needs Dask (with distributed, pyarrow and zarr): install the "
            '`dask` extra, `pip install -c constraints.txt ".[dask]"` in a checkout of '
            "sksplice"
        ) from exc
    return dask


def is_dask_collection(obj: object) -> bool:
    """Whether ``obj`` is a Dask collection (an array, a DataFrame, a bag): asked of dask
    where it is imported already (an object of dask's cannot exist otherwise), not of an
    attribute named ``dask``, which a pandas frame with a column of that name has."""
    import sys

    base = sys.modules.get("dask.base")
    return base is not None and bool(base.is_dask_collection(obj))
