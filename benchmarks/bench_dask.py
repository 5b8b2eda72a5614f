"""Throughput of SpliceTransformer.transform in process and on a local Dask cluster.

Builds synthetic embeddings (each a noisy sum of four concepts of a random
dictionary), fits one SpliceTransformer, then times, on the same data:

* ``in-process``: ``splice.transform(X)`` in this process, one call;
* ``in-process-blocks``: the same, one call per block of ``--chunk-size`` rows;
* ``dask-1`` / ``dask-2``: :func:`sksplice.distributed.transform_dask` on a
  ``LocalCluster`` of 1 or 2 single-threaded worker processes, after a warm-up
  run (worker start-up, imports and the per-process solver cache are not
  timed) and with the input blocks already in the workers' memory.

Each Dask result is checked against the in-process one. The numbers are
written as JSON (default ``benchmarks/results/dask_throughput.json``) with the
machine's description and load averages: other processes may share the
machine, which the load averages make visible.

Run from the repository root::

    python benchmarks/bench_dask.py --n 20000 --d 64 --c 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_problem(n: int, d: int, c: int, seed: int = 0):
    """Synthetic embeddings and the raw concept embeddings they are made of."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(c, d)).astype(np.float32)
    atoms = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    active = rng.integers(0, c, size=(n, 4))
    weights = rng.uniform(0.5, 1.0, size=(n, 4))
    X = np.einsum("nk,nkd->nd", weights, atoms[active])
    X = (X + 0.05 * rng.normal(size=X.shape)).astype(np.float32)
    return X, raw


def time_dask(splice, X, n_workers: int, chunk_size: int, reference) -> dict:
    """Time transform_dask on a fresh LocalCluster of ``n_workers`` processes."""
    import dask.array as da
    from _cluster import local_client
    from distributed import wait

    from sksplice.distributed import transform_dask

    with local_client(n_workers) as client:
        warm = transform_dask(
            splice, X[: chunk_size * n_workers], client=client, chunk_size=chunk_size
        )
        client.compute(warm).result(timeout=600)
        # The input blocks are loaded into the workers' memory before timing, as
        # they would be read from storage by the workers in a real run.
        X_dask = client.persist(da.from_array(X, chunks=(chunk_size, -1)))
        wait(X_dask, timeout=600)
        start = time.perf_counter()
        W = transform_dask(splice, X_dask, client=client)
        result = client.compute(W).result(timeout=3600)
        seconds = time.perf_counter() - start
    diff = float(abs(result - reference).max()) if result.nnz or reference.nnz else 0.0
    return {
        "mode": f"dask-{n_workers}",
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "chunk_size": chunk_size,
        "seconds": round(seconds, 3),
        "embeddings_per_s": round(X.shape[0] / seconds, 1),
        "max_abs_diff_vs_in_process": diff,
        "same_nnz_as_in_process": bool(result.nnz == reference.nnz),
    }


def _code_state() -> dict:
    """The commit measured and whether the working tree had local changes."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "sksplice"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "sksplice_locally_modified": None}
    return {"commit": head or None, "sksplice_locally_modified": bool(dirty)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="number of embeddings")
    parser.add_argument("--d", type=int, default=64, help="embedding dimension")
    parser.add_argument("--c", type=int, default=200, help="number of concepts")
    parser.add_argument("--chunk-size", type=int, default=1_000, help="rows per Dask block")
    parser.add_argument("--l1-penalty", type=float, default=0.25)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "dask_throughput.json",
    )
    args = parser.parse_args(argv)

    import torch

    from sksplice.transformer import SpliceTransformer

    X, raw = make_problem(args.n, args.d, args.c)
    splice = SpliceTransformer(
        vocabulary=[f"concept_{i}" for i in range(args.c)],
        concept_embeddings=raw,
        l1_penalty=args.l1_penalty,
        tol=args.tol,
        device="cpu",
    ).fit(X)

    load_before = os.getloadavg()
    splice.transform(X[: args.chunk_size])  # warm-up: solver factorisation, imports
    start = time.perf_counter()
    reference = splice.transform(X)
    seconds = time.perf_counter() - start
    runs = [
        {
            "mode": "in-process",
            "torch_threads": torch.get_num_threads(),
            "seconds": round(seconds, 3),
            "embeddings_per_s": round(args.n / seconds, 1),
            "mean_nonzeros_per_row": round(reference.nnz / args.n, 2),
        }
    ]
    start = time.perf_counter()
    for i in range(0, args.n, args.chunk_size):
        splice.transform(X[i : i + args.chunk_size])
    seconds = time.perf_counter() - start
    runs.append(
        {
            "mode": "in-process-blocks",
            "torch_threads": torch.get_num_threads(),
            "chunk_size": args.chunk_size,
            "seconds": round(seconds, 3),
            "embeddings_per_s": round(args.n / seconds, 1),
        }
    )
    for run in runs:
        print(f"{run['mode']}: {run['embeddings_per_s']} embeddings/s", flush=True)
    for n_workers in args.workers:
        run = time_dask(splice, X, n_workers, args.chunk_size, reference)
        runs.append(run)
        print(f"{run['mode']}: {run['embeddings_per_s']} embeddings/s", flush=True)

    report = {
        "benchmark": "SpliceTransformer.transform throughput, in process vs Dask LocalCluster",
        "command": "python benchmarks/bench_dask.py " + " ".join(argv or sys.argv[1:]),
        "problem": {
            "n_embeddings": args.n,
            "d": args.d,
            "n_concepts": args.c,
            "l1_penalty": args.l1_penalty,
            "tol": args.tol,
            "data": "synthetic: noisy sums of 4 random concepts",
        },
        "code": _code_state(),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "note": (
                "shared machine: other processes may have been running during the "
                "measurement (see the load averages); all modes ran on the same data in "
                "the same process, one after the other"
            ),
        },
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=f".{args.out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, args.out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
