"""Test doubles for the fault-injection tests (importable by spawned processes)."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np


def fake_vector(text: str, dim: int) -> np.ndarray:
    """A unit vector determined only by ``text`` and ``dim``."""
    digest = hashlib.sha256(f"faults:{text}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    vec = rng.normal(size=dim)
    return (vec / np.linalg.norm(vec)).astype(np.float32)


class SlowFakeEmbedder:
    """Deterministic text embedder with a cache key; optionally slow.

    ``delay`` seconds of sleep in every ``embed_text`` call widen the window in
    which two processes both miss the disk cache and both write it.
    """

    def __init__(self, dim: int = 12, delay: float = 0.0) -> None:
        self.dim = dim
        self.delay = delay
        self.n_calls = 0

    def embed_text(self, texts: list[str]) -> np.ndarray:
        self.n_calls += 1
        if self.delay:
            time.sleep(self.delay)
        return np.stack([fake_vector(t, self.dim) for t in texts])

    def cache_key(self) -> str:
        return f"faults-fake-d{self.dim}"


def expected_embeddings(concepts: list[str], dim: int = 12) -> np.ndarray:
    """What :class:`SlowFakeEmbedder` returns for ``concepts``."""
    return np.stack([fake_vector(t, dim) for t in concepts])


def build_cache_worker(cache_dir: str, concepts: list[str], barrier: Any, queue: Any) -> None:
    """Embed ``concepts`` through the dictionary cache in a separate process.

    Waits on ``barrier`` so that both processes start together, then puts
    ``(raw embeddings, list of warning messages, number of embed_text calls)``
    on ``queue``.
    """
    import warnings

    from sksplice.dictionary import embed_vocabulary

    embedder = SlowFakeEmbedder(delay=0.3)
    barrier.wait(timeout=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = embed_vocabulary(embedder, concepts, cache_dir=cache_dir)
    queue.put((np.array(raw), [str(w.message) for w in caught], embedder.n_calls))


@functools.cache
def dead_pid() -> int:
    """The process id of a Python process that has ended (as a killed writer's)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def dead_writers_name(name: str, suffix: str = ".tmp") -> str:
    """A temporary name of ``name`` (:func:`sksplice._atomic.temporary_name`) as a
    writer on this machine that has ended (killed) left it."""
    from sksplice._atomic import temporary_name

    return temporary_name(name, suffix=suffix).replace(f".{os.getpid()}.", f".{dead_pid()}.", 1)


def refuse_renames_onto(monkeypatch: Any, *refused: Any) -> None:
    """Make ``os.replace`` in sksplice._atomic refuse a rename onto each path of
    ``refused`` (a folder made read-only during a run; on Windows, a file another
    program holds open)."""
    from pathlib import Path

    import sksplice._atomic as atomic_module

    real_replace = os.replace
    paths = {Path(p) for p in refused}

    def replace(src: Any, dst: Any) -> None:
        if Path(dst) in paths:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_module.os, "replace", replace)
