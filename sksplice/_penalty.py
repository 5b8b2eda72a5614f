"""The largest l1 penalty worth asking for, and why (no torch, no scikit-learn).

The decomposition minimises ``||D^T w - v||^2 + l1_penalty * ||w||_1`` over
``w >= 0`` (:mod:`sksplice.solvers`). Its gradient at ``w = 0`` is ``-2 D v``,
so ``w = 0`` is the solution exactly when ``l1_penalty >= 2 max_j (D v)_j``.
The targets ``v`` of a :class:`~sksplice.SpliceTransformer` (centred rows)
and the rows of its dictionary have unit norm, so ``(D v)_j <= 1``: at
``l1_penalty >= 2`` every weight of every row is zero, whatever the data.
"""

from __future__ import annotations

__all__ = ["ZERO_CODE_PENALTY", "no_concept_reason"]

#: The penalty from which every code of a SpliceTransformer is zero.
ZERO_CODE_PENALTY = 2.0


def no_concept_reason() -> str:
    """Why a penalty of ``ZERO_CODE_PENALTY`` or more is refused, and what to use instead."""
    return (
        f"at {ZERO_CODE_PENALTY:g} or more every weight of every row is zero (the targets and "
        "the concepts have unit norm, so w = 0 is the solution), which gives no concept at "
        f"all. Useful penalties lie below {ZERO_CODE_PENALTY:g}, mostly from 0.05 to 0.5 "
        "(a smaller penalty keeps more concepts); or set target_l0 to have fit find "
        "the penalty for a number of concepts"
    )
