"""Where weights came from: the decompositions that made weights analysed together.

The analysis functions (``compare_datasets``, ``rank_concepts``, ...) compare the
prevalence of concepts between rows; rows decomposed with another dictionary, centre
or penalty hold other concepts for the same embedding. Weights that a transformer
returned bare are recorded with what made them (:func:`sksplice._names.remember_concepts`,
:func:`sksplice._weights.recomposition_key`); this module says where those differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._stack import warn_user
from .exceptions import MixedDecompositionWarning

__all__ = ["MixedDecompositionWarning", "check_one_decomposition"]


#: Centres that differ by at most this fraction of their norm count as one here: those
#: of the training folds of a cross-validation over 200 captions differ by 0.10 to
#: 0.15, of two random halves by 0.16; of captions of snow and of beaches by 1.0.
_SAME_POPULATION = 0.25


def _differences(a: Any, b: Any) -> list[str]:
    """What differs between the decompositions ``a`` and ``b`` (empty: none)."""
    said = []
    if a.dictionary != b.dictionary:
        said.append("dictionary")
    elif not a.same_centre(b, within=_SAME_POPULATION):
        said.append("centre (mean_)")
    target_a, target_b = getattr(a, "target", None), getattr(b, "target", None)
    calibrated_alike = target_a is not None and target_a == target_b
    if (
        a.penalty is not None
        and b.penalty is not None
        and not calibrated_alike
        and not np.isclose(a.penalty, b.penalty, rtol=1e-6, atol=0)
    ):
        said.append(f"penalty (l1_penalty_ {a.penalty:.6g} and {b.penalty:.6g})")
    return said


def check_one_decomposition(parts: list[tuple[str, list[Any]]], advice: str) -> None:
    """Warn (:class:`MixedDecompositionWarning`) where weights analysed together were
    made by decompositions that differ.

    ``parts``: for each matrix given (``"W_a"``), the makers
    (:func:`~sksplice._names.recorded_makers`) of its rows: the
    :class:`~sksplice._weights.RecompositionKey` of each transformer that made them,
    empty where none is known (weights made elsewhere, or in another process: not
    checked). ``advice``: what to do, ending the message.
    """
    known = [(name, [m for m in makers if hasattr(m, "same_centre")]) for name, makers in parts]
    flat = [(name, m) for name, makers in known for m in makers]
    if len(flat) < 2:
        return
    first_name, first = flat[0]
    found = next(
        ((name, said) for name, other in flat[1:] if (said := _differences(first, other))),
        None,
    )
    if found is None:
        return
    name, differ = found
    where = f"the rows of {name}" if name == first_name else f"{first_name} and {name}"
    made = f"that differ in their {' and '.join(differ)}"
    warn_user(
        MixedDecompositionWarning(
            f"{where} were made by SpliceTransformers {made}: the prevalences of their "
            f"concepts then differ by the decomposition as well as by the data; {advice}",
            made,
        )
    )
