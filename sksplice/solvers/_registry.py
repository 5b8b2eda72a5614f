"""The solver methods by name: what ``solver=`` accepts besides ``"auto"``.

A new method is one module exposing a :class:`._common.Method`, one entry here
and its name in ``_names.SOLVERS`` (which the command line reads without torch).
"""

from __future__ import annotations

from . import _admm, _working_set
from ._common import Method
from ._names import SOLVERS

METHODS: dict[str, Method] = {
    "admm": _admm.METHOD,
    "working_set": _working_set.METHOD,
}

__all__ = ["METHODS", "SOLVERS"]
