"""The solver methods by name: what ``solver=`` accepts besides ``"auto"``.

A new method is one module exposing a :class:`._common.Method` and one entry here.
"""

from __future__ import annotations

from . import _admm, _working_set
from ._common import Method

METHODS: dict[str, Method] = {
    "admm": _admm.METHOD,
    "working_set": _working_set.METHOD,
}

SOLVERS: tuple[str, ...] = ("auto", *METHODS)
