"""Batched non-negative lasso solvers (torch only, CPU and CUDA).

The SpLiCE decomposition of a target ``v`` over a dictionary ``D`` is::

    w* = argmin_{w >= 0} ||D^T w - v||^2 + l1_penalty * ||w||_1

:class:`NonNegLasso` holds the dictionary and solves this for batches of
targets, returning :class:`SparseCodes` (CSR layout with a duality-gap
certificate).

:class:`NonNegLasso` and :class:`SparseCodes` are imported (with torch) on
first use, so that ``SOLVERS`` can be read without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._names import SOLVERS

if TYPE_CHECKING:
    from ._codes import SparseCodes
    from ._lasso import NonNegLasso

__all__ = ["SOLVERS", "NonNegLasso", "SparseCodes"]

_LAZY = {"NonNegLasso": "._lasso", "SparseCodes": "._codes"}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
