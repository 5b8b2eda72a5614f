"""Objects shared by the Dask tests; importable by worker processes (tests/ is on their path)."""

from __future__ import annotations

import os
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from sksplice.transformer import SpliceTransformer

GATE_TIMEOUT_S = 120.0


class GatedSpliceTransformer(SpliceTransformer):
    """A SpliceTransformer whose ``transform`` waits at a gate before solving.

    When ``gate_dir`` is set, every call first drops a marker file
    ``started-<pid>-<random>`` in that folder, then waits (bounded) until a
    file ``release`` appears there. A test can thus know that a worker process
    is in the middle of a block before it kills that process.
    """

    gate_dir: str | None = None
    #: A block whose first value is :data:`FAIL_MARK` fails, as a block holding NaN
    #: does, but only once another block has entered the gate (a NaN row fails before
    #: the transform, at once: the other block was at times cancelled before it began).
    fail_marked: bool = False

    def transform(self, X: Any) -> Any:
        gate = self.gate_dir
        if gate is not None and self.fail_marked and np.asarray(X)[0, 0] == FAIL_MARK:
            deadline = time.monotonic() + GATE_TIMEOUT_S
            while not started_pids(gate) and time.monotonic() < deadline:
                time.sleep(0.02)
            raise ValueError("X holds NaN or infinite values in row 0 (a block made to fail)")
        if gate is not None:
            folder = Path(gate)
            (folder / f"started-{os.getpid()}-{uuid.uuid4().hex}").touch()
            deadline = time.monotonic() + GATE_TIMEOUT_S
            while not (folder / "release").exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"gate {folder} was not released in {GATE_TIMEOUT_S} s")
                time.sleep(0.02)
        return super().transform(X)


#: The first value of a block that a GatedSpliceTransformer with ``fail_marked`` fails.
FAIL_MARK = 123.0


def gated_copy(
    splice: SpliceTransformer, gate_dir: str | os.PathLike, *, fail_marked: bool = False
) -> GatedSpliceTransformer:
    """A fitted GatedSpliceTransformer with the state of ``splice``."""
    gated = GatedSpliceTransformer(**splice.get_params(deep=False))
    gated.__dict__.update(splice.__dict__)
    gated.gate_dir = os.fspath(gate_dir)
    gated.fail_marked = fail_marked
    return gated


def started_pids(gate_dir: str | os.PathLike) -> set[int]:
    """Process ids that have entered the gate."""
    return {int(p.name.split("-")[1]) for p in Path(gate_dir).glob("started-*")}


class LoggingHashEmbedder:
    """A deterministic text embedder that logs every call (pid, n_texts) to a file.

    The log is a file so that calls made in worker processes are counted too.
    It has no ``cache_key``: without precomputation each process that fits a
    SpliceTransformer would embed the vocabulary again.
    """

    def __init__(self, log_path: str | os.PathLike, dim: int = 64) -> None:
        self.log_path = os.fspath(log_path)
        self.dim = dim

    def embed_text(self, texts: list[str]) -> np.ndarray:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {len(texts)}\n")
        rows = [
            np.random.default_rng(zlib.crc32(text.encode("utf-8"))).normal(size=self.dim)
            for text in texts
        ]
        out = np.asarray(rows, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def calls(self) -> list[tuple[int, int]]:
        """The logged calls as (pid, number of texts)."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as handle:
            return [tuple(int(v) for v in line.split()) for line in handle if line.strip()]


class KeyedLoggingHashEmbedder(LoggingHashEmbedder):
    """:class:`LoggingHashEmbedder` with a ``cache_key``: its embedded vocabulary is kept
    in, and read back from, the transformer's cache folder."""

    def cache_key(self) -> str:
        return f"test-logging-hash-{self.dim}"


# ---------------------------------------------------------------- model loads per worker

_LOADS = {"count": 0}
_LOADS_LOCK = threading.Lock()


def install_load_counter() -> bool:
    """Count calls of open_clip.create_model_and_transforms in this process (idempotent)."""
    import open_clip

    original = open_clip.create_model_and_transforms
    if getattr(original, "_sksplice_counted", False):
        return False

    def counted(*args: Any, **kwargs: Any) -> Any:
        with _LOADS_LOCK:
            _LOADS["count"] += 1
        return original(*args, **kwargs)

    counted._sksplice_counted = True  # type: ignore[attr-defined]
    open_clip.create_model_and_transforms = counted
    return True


def read_load_counter() -> int:
    """Number of model loads counted in this process since install_load_counter."""
    return _LOADS["count"]
