"""The names ``solver=`` accepts, importable without torch.

The command line checks ``--solver`` against these before torch is imported;
``_registry.METHODS`` holds one method under each name after ``"auto"``
(``tests/test_solvers.py`` checks that the two agree).
"""

from __future__ import annotations

#: The values of ``solver=`` (and ``--solver``); ``"auto"`` is the working set.
SOLVERS: tuple[str, ...] = ("auto", "admm", "working_set")


def resolved_solver(solver: str) -> str:
    """The method ``solver`` names: ``"auto"`` is the working set, the faster method on
    CPUs and on GPUs alike (an H200: 1.24x to 1.45x the ADMM's throughput in every run
    of benchmarks/gpu_check.py, at l1 0.25 and 0.15), whatever the machine."""
    return "working_set" if solver == "auto" else solver
