"""The process-wide cache of solvers, keyed by dictionary content and device."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np
from cachetools import LRUCache, cached

__all__ = ["digest", "shared_lasso"]

_LASSO_CACHE_SIZE = 4
_lasso_cache: LRUCache[tuple[Any, ...], Any] = LRUCache(maxsize=_LASSO_CACHE_SIZE)
_lasso_lock = threading.Lock()


def digest(array: np.ndarray) -> str:
    """Content digest of ``array`` (its C-order bytes), read in place."""
    # numpy's stubs give ndarray the buffer protocol (__buffer__) only for Python 3.12 and
    # later, although arrays have it at run time in every version (unused-ignore: where
    # the stubs declare it, the ignore has nothing to ignore).
    data = np.ascontiguousarray(array).reshape(-1)
    return hashlib.blake2b(data, digest_size=16).hexdigest()  # type: ignore[arg-type,unused-ignore]


def _lasso_key(dictionary: np.ndarray, digest: str, device: Any) -> tuple[Any, ...]:
    return (digest, dictionary.shape, str(dictionary.dtype), str(device))


@cached(_lasso_cache, key=_lasso_key, lock=_lasso_lock)
def shared_lasso(dictionary: np.ndarray, digest: str, device: Any) -> Any:
    """A ``NonNegLasso`` for ``dictionary``, shared in process by content and device."""
    from . import NonNegLasso

    # Large products in float32 (on every device); the solver certifies each row
    # in float64 and solves again in float64 any row float32 cannot certify.
    return NonNegLasso(dictionary, device=device, dtype=np.float32)
