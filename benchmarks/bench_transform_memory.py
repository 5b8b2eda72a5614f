"""Memory that ``SpliceTransformer.transform`` takes besides its input, on many rows.

The problem is synthetic and needs no model: ``--n-concepts`` clustered concept
embeddings of ``--dim`` dimensions and ``--n-rows`` float32 embeddings, each a
non-negative mixture of 10 concepts plus noise and a shared offset (the
modality gap the transformer's centre removes), written once to ``--cache-dir``.
``SpliceTransformer(l1_penalty=0.25, device="cpu", modality="text")`` with the
default ``memory_budget`` is fitted on all rows (the centre is learned from
them), then ``transform`` decomposes them, in a fresh process for each of two
measurements:

* ``tracemalloc``: the peak of the memory numpy and Python allocate during
  ``transform``, above what was allocated before it (torch's CPU buffers are
  not traced);
* resident memory: the peak resident set size during ``transform`` (``VmHWM``,
  reset just before it through ``/proc/self/clear_refs``), above the resident
  set size before it. This counts torch's buffers too.

The run is merged into ``benchmarks/results/transform_memory.json`` under
``--label`` (other labels are kept), so that an older checkout (``--sksplice
PATH``, e.g. exported with ``git archive``) and this one sit side by side.

Example
-------
    python benchmarks/bench_transform_memory.py --label after
    python benchmarks/bench_transform_memory.py --label before --sksplice /tmp/old \\
        --commit c414d29^
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _record import REPO, save_run

_MB = 1e6  # decimal megabytes, as the docs quote them


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")  # pragma: no cover - Linux only


def _problem(args: argparse.Namespace) -> tuple[Path, Path]:
    """The concept embeddings and the rows, written once to the cache folder."""
    import numpy as np

    name = f"tm_{args.n_concepts}x{args.dim}_{args.n_rows}_seed{args.seed}"
    concepts_file = args.cache_dir / f"{name}_concepts.npy"
    rows_file = args.cache_dir / f"{name}_rows.npy"
    if concepts_file.is_file() and rows_file.is_file():
        return concepts_file, rows_file
    import scipy.sparse as sp

    rng = np.random.default_rng(args.seed)

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    n_clusters = max(args.n_concepts // 25, 1)
    centres = unit(rng.standard_normal((n_clusters, args.dim)))
    owner = rng.integers(0, n_clusters, size=args.n_concepts)
    noise = rng.standard_normal((args.n_concepts, args.dim)) / np.sqrt(args.dim)
    raw = unit(centres[owner] + 0.8 * noise)
    atoms = np.stack([rng.choice(args.n_concepts, 10, replace=False) for _ in range(args.n_rows)])
    mix = sp.csr_matrix(
        (rng.uniform(0.2, 1.0, atoms.size), atoms.ravel(), np.arange(0, atoms.size + 1, 10)),
        shape=(args.n_rows, args.n_concepts),
    )
    X = unit(np.asarray(mix @ raw))
    X += 0.5 * rng.standard_normal(X.shape) / np.sqrt(args.dim)
    X = unit(unit(X) + 0.7 * unit(rng.standard_normal((1, args.dim))))  # the offset
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(concepts_file, raw.astype(np.float32))
    np.save(rows_file, X.astype(np.float32))
    return concepts_file, rows_file


def _worker(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(args.sksplice))
    import numpy as np
    import torch

    import sksplice
    from sksplice.transformer import SpliceTransformer

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    if Path(sksplice.__file__).resolve().parents[1] != args.sksplice:
        raise RuntimeError(f"imported {sksplice.__file__}, not the package in {args.sksplice}")
    concepts_file, rows_file = _problem(args)
    raw, X = np.load(concepts_file), np.load(rows_file)
    splice = SpliceTransformer(
        vocabulary=[f"concept{i:05d}" for i in range(len(raw))],
        concept_embeddings=raw,
        modality="text",
        l1_penalty=0.25,
        device="cpu",
    ).fit(X)
    out = {"sksplice_file": sksplice.__file__, "X_shape": list(X.shape), "X_bytes": X.nbytes}
    # (on 2 to 4 threads the working-set solver solves chunks side by side, one a thread:
    # the resident peak grows with their number)
    out["torch_threads"] = torch.get_num_threads()
    out["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    if args.trace:
        import tracemalloc

        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        W = splice.transform(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak_above_before_bytes"] = peak - before
    else:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM, the peak resident set size, to the current size
        rss_before = _status_kib("VmRSS") * 1024
        t0 = time.perf_counter()
        W = splice.transform(X)
        out["transform_s"] = round(time.perf_counter() - t0, 2)
        out["rss_before_transform_bytes"] = rss_before
        out["peak_rss_above_before_bytes"] = _status_kib("VmHWM") * 1024 - rss_before
    out["nnz"] = int(W.nnz)
    out["csr_bytes"] = int(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes)
    out["weights_sum"] = float(W.sum())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", default="after", help="key of this run in the result file")
    p.add_argument("--sksplice", type=Path, default=REPO, help="folder of the sksplice package")
    p.add_argument("--commit", default=None, help="commit of --sksplice (default: git rev-parse)")
    p.add_argument("--n-rows", type=int, default=50_000)
    p.add_argument("--n-concepts", type=int, default=2_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of the measured processes (default: torch's own, one per core)",
    )
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "transform_memory.json"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be 1 or more, got {args.threads}")
    args.sksplice = args.sksplice.resolve()
    if not (args.sksplice / "sksplice" / "__init__.py").is_file():
        p.error(f"--sksplice {args.sksplice} holds no sksplice package (sksplice/__init__.py)")
    if args.worker:
        json.dump(_worker(args), sys.stdout)
        return 0

    _problem(args)  # written before any measured process starts
    common = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    common += ["--sksplice", str(args.sksplice), "--cache-dir", str(args.cache_dir)]
    common += ["--n-rows", str(args.n_rows), "--n-concepts", str(args.n_concepts)]
    common += ["--dim", str(args.dim), "--seed", str(args.seed)]
    common += [] if args.threads is None else ["--threads", str(args.threads)]
    record = {}
    load = [os.getloadavg()]
    for trace in (False, True):
        res = subprocess.run(
            common + (["--trace"] if trace else []), capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            sys.stderr.write(res.stderr)
            return res.returncode
        record.update(json.loads(res.stdout))
        load.append(os.getloadavg())
    record["tracemalloc_peak_above_before_mb"] = round(
        record["tracemalloc_peak_above_before_bytes"] / _MB, 1
    )
    record["peak_rss_above_before_mb"] = round(record["peak_rss_above_before_bytes"] / _MB, 1)
    print(f"[{args.label}] {json.dumps(record)}", flush=True)
    problem = {
        "n_rows": args.n_rows,
        "n_concepts": args.n_concepts,
        "dim": args.dim,
        "seed": args.seed,
        "l1_penalty": 0.25,
        "memory_budget": "default",
        "torch_threads": record["torch_threads"],
    }
    save_run(args, argv, "bench_transform_memory.py", load, problem=problem, result=record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
