"""One-shot GPU check of the sksplice solvers (finishes in a few minutes).

On one CUDA device, with the CLIP-sized synthetic problem of
``bench_solvers.py`` (15,000 concepts x 512 dims, 10,000 targets):

1. CPU / GPU agreement: a subset of targets is solved on CPU (float64
   certificate) and on GPU with every method; objectives and weights are
   compared and every answer is scored with the same float64 certificate.
2. sksplice timing on GPU for all 10,000 targets (each method, best of 3,
   after a warm-up), in embeddings per second.
3. The authors' ADMM (c x c Cholesky, rho 5, random start, residual
   tolerance 1e-6, at most 2,000 iterations) on the same GPU: the
   iterations it needs are measured on a subset of targets, the time of one
   iteration on the whole 10,000-target batch is measured, and its time is
   factorisation + iterations x that time.
4. ``solver="auto"`` on 50,000 targets handed over as a NumPy array
   (host-to-device copy and chunking included).

Prints one JSON summary (and writes it to ``--out`` when given, after every
part, so that a run cut short still leaves what it measured)::

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check.json

``--device cpu`` with small sizes runs the same code without a GPU (the test
suite does this so that the script cannot rot between GPU runs)::

    python benchmarks/gpu_check.py --device cpu --n-targets 200 --n-concepts 800 \
        --n-features 64 --agreement-subset 50 --authors-subset 16 --authors-max-iter 50 \
        --scaling-targets 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_solvers import _sync, authors_admm, certificate, synthetic_problem  # noqa: E402

from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.solvers import SOLVERS, NonNegLasso  # noqa: E402


def _timed(fn, device: torch.device, repeats: int = 3):
    """Best wall time of ``repeats`` calls (device synchronised around each)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _environment(device: torch.device) -> dict:
    env = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            device=torch.cuda.get_device_name(device),
            device_memory_gib=round(props.total_memory / 2**30, 1),
            multiprocessors=props.multi_processor_count,
            cuda=torch.version.cuda,
            tf32_matmul_default=torch.backends.cuda.matmul.allow_tf32,
        )
    else:
        env["device"] = "cpu"
    return env


def _write(summary: dict, out: Path | None) -> None:
    """Write the summary atomically (temporary file, then rename)."""
    if out is not None:
        with atomic_write(out) as fh:
            fh.write(json.dumps(summary, indent=2).encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="GPU agreement and timing check")
    p.add_argument("--n-targets", type=int, default=10_000)
    p.add_argument("--n-concepts", type=int, default=15_000)
    p.add_argument("--n-features", type=int, default=512)
    p.add_argument("--lam", type=float, default=0.25)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--agreement-subset", type=int, default=500)
    p.add_argument("--authors-subset", type=int, default=256)
    p.add_argument("--authors-max-iter", type=int, default=2000)
    p.add_argument(
        "--scaling-targets",
        type=int,
        default=50_000,
        help="also time solver='auto' on this many targets (0 skips it)",
    )
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device (use --device cpu for a dry run)"}))
        return 2
    t_start = time.perf_counter()
    D, V = synthetic_problem(args.n_targets, c=args.n_concepts, d=args.n_features)
    lam = args.lam
    summary: dict = {
        "command": " ".join(
            ["python benchmarks/gpu_check.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": _environment(dev),
        "problem": {
            "n_concepts": D.shape[0],
            "n_features": D.shape[1],
            "n_targets": V.shape[0],
            "l1_penalty": lam,
            "tol": args.tol,
        },
    }
    methods = [m for m in SOLVERS if m != "auto"]

    def section(name, fn):
        """Run one part; a failure is recorded in the summary, not fatal."""
        print(f"[gpu_check] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # report and go on with the other parts
            summary.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        summary.setdefault("section_wall_s", {})[name] = time.perf_counter() - t0
        print(f"[gpu_check] {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        _write(summary, args.out)

    gpu_solver = NonNegLasso(D, device=dev)
    section("agreement", lambda: _agreement(summary, args, D, V, lam, methods, gpu_solver))
    section("sksplice", lambda: _sksplice(summary, args, D, V, lam, methods, gpu_solver))
    section("authors_admm", lambda: _authors(summary, args, D, V, lam))
    if args.scaling_targets > 0:
        section("scaling", lambda: _scaling(summary, args, V, lam, gpu_solver))
    timings = summary.get("sksplice", {})
    auth = summary.get("authors_admm", {})
    if timings and auth:
        t_auth = auth["estimated_time_full_batch_s"]
        best_t = min(timings[mth]["time_s"] for mth in methods)
        summary["speedup_vs_authors_admm"] = {
            mth: t_auth / timings[mth]["time_s"] for mth in methods
        }
        summary["targets"] = {
            "admm_at_least_50x_authors": t_auth / timings["admm"]["time_s"] >= 50,
            "admm_at_least_50k_embeddings_per_s": timings["admm"]["embeddings_per_s"] >= 5e4,
            "fastest_at_least_50x_authors": t_auth / best_t >= 50,
            "auto_is_the_fastest_method": timings[gpu_solver._resolve_solver("auto")]["time_s"]
            == best_t,
            "agreement_ok": all(
                summary.get("agreement", {}).get(mth, {}).get("ok", False) for mth in methods
            ),
        }
    summary["wall_s"] = time.perf_counter() - t_start
    print(json.dumps(summary, indent=2))
    _write(summary, args.out)
    return 0 if "errors" not in summary else 1


def _agreement(summary, args, D, V, lam, methods, gpu_solver) -> None:
    """CPU (working set) against GPU (every method) on a subset of targets."""
    m = min(args.agreement_subset, V.shape[0])
    cpu = NonNegLasso(D, device="cpu").solve(V[:m], lam, solver="working_set", tol=args.tol)
    Wc = cpu.to_dense()
    pc, gc = certificate(D, V[:m], Wc, lam)
    agreement = {"cpu_working_set_gap": float(gc.max())}
    for method in methods:
        codes = gpu_solver.solve(V[:m], lam, solver=method, tol=args.tol)
        Wg = codes.to_dense()
        pg, gg = certificate(D, V[:m], Wg, lam)
        agreement[method] = {
            "max_rel_objective_diff": float(np.max(np.abs(pg - pc) / pc)),
            "max_abs_weight_diff": float(np.abs(Wg - Wc).max()),
            "same_support_fraction": float(np.mean(((Wg > 0) == (Wc > 0)).all(axis=1))),
            "gpu_worst_rel_gap": float(gg.max()),
            "ok": bool(np.max(np.abs(pg - pc) / pc) <= 1e-5 and gg.max() <= 1e-5),
        }
    summary["agreement"] = agreement


def _sksplice(summary, args, D, V, lam, methods, gpu_solver) -> None:
    """sksplice timings on the whole batch."""
    dev = gpu_solver.device
    Vg = torch.from_numpy(V).to(dev)
    Dg = torch.from_numpy(D).to(dev)
    t_prod, _ = _timed(lambda: Vg @ Dg.T, dev)
    timings = {"dense_product_s": t_prod}
    for method in methods:
        gpu_solver.solve(Vg[:1000], lam, solver=method, tol=args.tol)  # warm-up
        t, codes = _timed(lambda m=method: gpu_solver.solve(Vg, lam, solver=m, tol=args.tol), dev)
        # Certify a sample of rows with the common float64 certificate.
        sample = np.arange(0, V.shape[0], max(1, V.shape[0] // 500))
        W = codes.to_csr()[sample].toarray()
        _, g = certificate(D, V[sample], W, lam)
        timings[method] = {
            "time_s": t,
            "embeddings_per_s": V.shape[0] / t,
            "n_iter": codes.n_iter,
            "mean_l0": float(codes.l0().mean()),
            "reported_worst_gap": codes.gap,
            "sampled_worst_gap_float64": float(g.max()),
            "converged": codes.converged,
        }
    summary["sksplice"] = timings


def _scaling(summary, args, V, lam, gpu_solver) -> None:
    """solver='auto' on a larger batch (chunked by the default memory budget)."""
    rng = np.random.default_rng(1)
    reps = -(-args.scaling_targets // V.shape[0])
    big = np.tile(V, (reps, 1))[: args.scaling_targets]
    big = big + 0.05 * rng.standard_normal(big.shape).astype(np.float32) / np.sqrt(V.shape[1])
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    dev = gpu_solver.device
    t, codes = _timed(lambda: gpu_solver.solve(big, lam, tol=args.tol), dev, repeats=2)
    summary["scaling"] = {
        "n_targets": int(big.shape[0]),
        "solver": gpu_solver._resolve_solver("auto"),
        "inputs": "numpy on the host (transfer included)",
        "time_s": t,
        "embeddings_per_s": big.shape[0] / t,
        "reported_worst_gap": codes.gap,
        "mean_l0": float(codes.l0().mean()),
    }


def _authors(summary, args, D, V, lam) -> None:
    """The authors' ADMM on the same GPU."""
    ms = min(args.authors_subset, V.shape[0])
    Z, it, t_fac, t_sub, t_iter = authors_admm(
        D, V[:ms], lam, max_iter=args.authors_max_iter, time_full_batch=V, device=args.device
    )
    _, ga = certificate(D, V[:ms], Z, lam)
    t_auth = t_fac + it * t_iter
    summary["authors_admm"] = {
        "subset": ms,
        "n_iter": it,
        "factorisation_s": t_fac,
        "time_per_iteration_full_batch_s": t_iter,
        "estimated_time_full_batch_s": t_auth,
        "subset_time_s": t_sub,
        "worst_rel_gap_subset": float(ga.max()),
        "mean_l0_subset": float((Z > 0).sum(1).mean()),
    }


if __name__ == "__main__":
    raise SystemExit(main())
