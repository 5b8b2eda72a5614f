"""The process-wide cache of solvers, keyed by dictionary content and device."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["shared_lasso"]

_LASSO_CACHE_SIZE = 4
_lasso_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lasso_lock = threading.Lock()


def shared_lasso(dictionary: np.ndarray, digest: str, device: Any) -> Any:
    """A ``NonNegLasso`` for ``dictionary``, shared in process by content and device."""
    from . import NonNegLasso

    key = (digest, dictionary.shape, str(dictionary.dtype), str(device))
    with _lasso_lock:
        lasso = _lasso_cache.get(key)
        if lasso is not None:
            _lasso_cache.move_to_end(key)
            return lasso
    # Large products in float32 (on every device); the solver certifies each row
    # in float64 and solves again in float64 any row float32 cannot certify.
    lasso = NonNegLasso(dictionary, device=device, dtype=np.float32)
    with _lasso_lock:
        _lasso_cache[key] = lasso
        _lasso_cache.move_to_end(key)
        while len(_lasso_cache) > _LASSO_CACHE_SIZE:
            _lasso_cache.popitem(last=False)
    return lasso
