"""Where the GPU solve spends its time: torch.profiler tables for each method.

Same synthetic problem as ``gpu_check.py`` (15,000 concepts x 512 dims, 10,000
targets). For each method: the wall time of a solve (best of 3 after a
warm-up), the time the GPU was busy with kernels in a profiled solve (the
rest is launch overhead, host synchronisations and Python), and the
operators that take the most GPU and host time, with the number of kernels
launched and of host synchronisations (the CPU-side count of
``tests/test_solvers.py::test_gpu_work_is_counted_on_cpu``, measured here)::

    python benchmarks/gpu_profile.py --out benchmarks/results/gpu_profile.txt

``--device cpu`` with small sizes runs the same code without a GPU::

    python benchmarks/gpu_profile.py --device cpu --n-targets 200 --n-concepts 800 \
        --n-features 64 --rows 8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_solvers import synthetic_problem  # noqa: E402
from gpu_check import _timed  # noqa: E402

from sksplice.solvers import SOLVERS, NonNegLasso  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-targets", type=int, default=10_000)
    p.add_argument("--n-concepts", type=int, default=15_000)
    p.add_argument("--n-features", type=int, default=512)
    p.add_argument("--lam", type=float, default=0.25)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--rows", type=int, default=25, help="operators per table")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device (use --device cpu for a dry run)")
        return 2
    D, V = synthetic_problem(args.n_targets, c=args.n_concepts, d=args.n_features)
    solver = NonNegLasso(D, device=dev)
    Vd = torch.from_numpy(V).to(dev)
    activities = [ProfilerActivity.CPU]
    if dev.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    lines = [
        f"problem: {D.shape[0]} concepts x {D.shape[1]} dims, {V.shape[0]} targets, "
        f"l1_penalty {args.lam}, tol {args.tol}; device {dev}"
        + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else "")
        + f"; torch {torch.__version__}"
    ]
    for method in [m for m in SOLVERS if m != "auto"]:
        solver.solve(Vd[:1000], args.lam, solver=method, tol=args.tol)  # warm-up
        t, codes = _timed(lambda m=method: solver.solve(Vd, args.lam, solver=m, tol=args.tol), dev)
        with profile(activities=activities) as prof:
            solver.solve(Vd, args.lam, solver=method, tol=args.tol)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
        events = prof.key_averages()
        # Kernel and copy time: events that ran on the device (the operator rows
        # above them only repeat it).
        busy_us = sum(e.self_device_time_total for e in events if e.device_type.name == "CUDA")
        # Launches and host synchronisations, counted as tests/test_solvers.py counts
        # them on the CPU (reads of a device value into Python, and nonzero).
        n_kernels = sum(e.count for e in events if e.device_type.name == "CUDA")
        n_syncs = sum(
            e.count for e in events if e.key in ("aten::_local_scalar_dense", "aten::nonzero")
        )
        n_stream_syncs = sum(e.count for e in events if e.key == "cudaStreamSynchronize")
        lines += [
            "",
            f"== {method}: {t:.4f} s wall (best of 3), {V.shape[0] / t:,.0f} embeddings/s, "
            f"{codes.n_iter} iterations, worst gap {codes.gap:.1e}",
            f"   kernels busy {busy_us / 1e6:.4f} s of the profiled solve "
            f"({100 * busy_us / 1e6 / t:.0f}% of the unprofiled wall time)",
            f"   kernels launched {n_kernels} (device operations, copies included), "
            f"host synchronisations {n_syncs} (_local_scalar_dense and nonzero; "
            f"{n_stream_syncs} cudaStreamSynchronize)",
        ]
        sort_keys = ["self_cpu_time_total"]
        if dev.type == "cuda":
            sort_keys.insert(0, "self_device_time_total")
        for key in sort_keys:
            lines += ["", f"-- {method}, sorted by {key}"]
            lines.append(events.table(sort_by=key, row_limit=args.rows, max_name_column_width=48))
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    rc = main()
    print(f"[gpu_profile] {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    raise SystemExit(rc)
