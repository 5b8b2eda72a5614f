"""The CPU working-set method against the dense product, on the LAION/MiniLM problem.

For each penalty, in one process and interleaved (dense product, then the solve,
``--repeats`` times), it times ``NonNegLasso(solver="working_set")`` at
``tol=1e-6`` and one dense product ``V D^T`` (the floor of any certified
method), and reports the paired ratio (median over the repeats of the solve
time over the product timed just before it), the same ratio in process CPU
time (less sensitive to other work on the machine than wall time), the load
average before and after each penalty, the iterations, the mean l0 and the
worst relative gap. A torch.profiler table of one solve per penalty (self CPU
time per operator) says what bounds it.

The problem is the one of ``bench_solvers.py --problem laion``: the 10,000 most
frequent LAION words and template captions, embedded with MiniLM (384-d).

Example
-------
    python benchmarks/bench_working_set.py --n-targets 1000 --cache-dir /tmp/sksolv/bench-cache
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
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import busy_cores  # noqa: E402
from bench_solvers import laion_problem  # noqa: E402

from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.solvers import NonNegLasso  # noqa: E402


def _profile(solver: NonNegLasso, V: np.ndarray, lam: float, rows: int) -> list[dict]:
    """Self CPU time of the operators of one solve, largest first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        solver.solve(V, lam, solver="working_set", tol=1e-6)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "calls": int(e.count),
            "self_cpu_ms": round(e.self_cpu_time_total / 1e3, 2),
            "share": round(e.self_cpu_time_total / total, 3),
        }
        for e in events[:rows]
    ]


def run(lam: float, D: np.ndarray, V: np.ndarray, repeats: int) -> dict:
    solver = NonNegLasso(D, device="cpu", dtype="float32")
    Dt, Vt = torch.from_numpy(D), torch.from_numpy(V)
    load_start = os.getloadavg()
    solver.solve(V, lam, solver="working_set", tol=1e-6)  # warm-up
    dense, solve, dense_cpu, solve_cpu, codes = [], [], [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        Vt @ Dt.T
        dense.append(time.perf_counter() - t0)
        dense_cpu.append(time.process_time() - c0)
        c0, t0 = time.process_time(), time.perf_counter()
        codes = solver.solve(V, lam, solver="working_set", tol=1e-6)
        solve.append(time.perf_counter() - t0)
        solve_cpu.append(time.process_time() - c0)
    paired = float(np.median(np.array(solve) / np.array(dense)))
    paired_cpu = float(np.median(np.array(solve_cpu) / np.array(dense_cpu)))
    return {
        "l1_penalty": lam,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "dense_product_s": dense,
        "working_set_s": solve,
        "dense_product_cpu_s": dense_cpu,
        "working_set_cpu_s": solve_cpu,
        "paired_x_dense_product": round(paired, 2),
        "paired_cpu_x_dense_product": round(paired_cpu, 2),
        "best_x_best_dense_product": round(min(solve) / min(dense), 2),
        "iterations": int(codes.n_iter),
        "mean_l0": round(float(codes.l0().mean()), 2),
        "worst_relative_gap": float(codes.gap),
        "profile_top_ops": _profile(solver, V, lam, 10),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-targets", type=int, default=1000)
    p.add_argument("--penalties", type=float, nargs="+", default=[0.25, 0.15])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "working_set_dense.json"
    )
    p.add_argument(
        "--busy",
        type=int,
        default=0,
        help="processes that spin during the timings (other work on the machine)",
    )
    args = p.parse_args(argv)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    D, V = laion_problem(args.data_dir, args.n_targets, args.cache_dir)
    with busy_cores(args.busy):
        result = _measure(args, D, V)
    with atomic_write(args.out) as fh:
        fh.write(json.dumps(result, indent=1).encode("utf-8"))
    for r in result["runs"]:
        print(
            f"l1 {r['l1_penalty']}: working_set {min(r['working_set_s']):.3f} s, paired "
            f"{r['paired_x_dense_product']}x the dense product (CPU time "
            f"{r['paired_cpu_x_dense_product']}x), l0 {r['mean_l0']}, "
            f"gap {r['worst_relative_gap']:.1e}"
        )
    return 0


def _measure(args: argparse.Namespace, D: np.ndarray, V: np.ndarray) -> dict:
    return {
        "busy_processes": args.busy,
        "problem": f"laion: {D.shape[0]} concepts x {D.shape[1]} dims, {V.shape[0]} targets",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "load_average_start": os.getloadavg(),
        "runs": [run(lam, D, V, args.repeats) for lam in args.penalties],
        "load_average_end": os.getloadavg(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
