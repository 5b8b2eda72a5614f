"""The names ``solver=`` accepts, importable without torch.

The command line checks ``--solver`` against these before torch is imported;
``_registry.METHODS`` holds one method under each name after ``"auto"``
(``tests/test_solvers.py`` checks that the two agree).
"""

from __future__ import annotations

#: The values of ``solver=`` (and ``--solver``); ``"auto"`` is the working set.
SOLVERS: tuple[str, ...] = ("auto", "admm", "working_set")
