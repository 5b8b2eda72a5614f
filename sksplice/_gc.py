"""Python's cyclic garbage collector, paused while many small containers are made."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block.

    Every new list or tuple counts towards the collector's next pass, and a pass
    over the older generations walks every container the process holds. Lists of
    ``(concept, weight)`` pairs for a million rows (eleven million containers, none
    of them in a reference cycle) set off so many passes over the growing lists
    that they took half the time of making them (``top_concepts``: 9.3 s with them,
    4.5 s without, the pass after the block included). The collector runs again
    after the block if it ran before it; the containers made are freed by reference
    counting as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
