"""Batched non-negative lasso solvers (torch only, CPU and CUDA).

The SpLiCE decomposition of a target ``v`` over a dictionary ``D`` is::

    w* = argmin_{w >= 0} ||D^T w - v||^2 + l1_penalty * ||w||_1

:class:`NonNegLasso` holds the dictionary and solves this for batches of
targets, returning :class:`SparseCodes` (CSR layout with a duality-gap
certificate).
"""

from ._codes import SparseCodes
from ._lasso import NonNegLasso
from ._registry import SOLVERS

__all__ = ["SOLVERS", "NonNegLasso", "SparseCodes"]
