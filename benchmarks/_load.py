"""Other work on the machine, on demand: ``--busy N`` keeps N processes spinning.

The CPU benchmarks compare the solver with a dense product that uses every core;
how the ratio moves when part of the machine is taken by other work is measured
by running them again with processes that do nothing but spin, one per core
taken, started before the timings and stopped after them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator


def _spin() -> None:  # pragma: no cover - runs in the child processes
    while True:
        pass


@contextlib.contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """Keep ``n`` processes spinning while the block runs (0: nothing)."""
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_spin, daemon=True) for _ in range(n)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()
