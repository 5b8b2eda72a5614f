"""The working set at tiny penalties on wide dictionaries, against a baseline checkout.

At penalties far below the one that zeroes the solutions, the solutions of a
dictionary of many concepts in few dimensions hold about d concepts. This times
``NonNegLasso(solver="working_set", tol=1e-6)`` there, in float32 and float64,
and, with ``--baseline DIR`` (a checkout of another version, e.g. made with
``git archive``), the same solves with that version's solver in the same
process, interleaved (baseline, then this checkout, then the other way round,
``--repeats`` times). Each solve records its wall and process CPU time, the
rounds (``n_iter``), whether every row was certified and the worst relative gap,
and each run the largest weight difference between the two versions. With
``--busy N``, N other processes spin during the solves (a machine busy with
other work).

Problems: ``random``, ``--n-concepts`` random unit concepts in ``--n-features``
dimensions and ``--n-targets`` random unit targets (seed 0); ``laion``, the
LAION/MiniLM problem of ``bench_solvers.py`` (10,000 words x 384, the first
``--n-targets`` of its 1,000 captions), for the normal penalties.

Example
-------
    python benchmarks/bench_tiny_penalty.py --penalties 1e-4 1e-5 0 --baseline /tmp/old
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import busy_cores  # noqa: E402

import sksplice.solvers  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402


def _baseline(path: Path) -> ModuleType:
    """``sksplice.solvers`` of the checkout ``path``, imported as ``sksplice_baseline``."""
    spec = importlib.util.spec_from_file_location(
        "sksplice_baseline",
        path / "sksplice" / "__init__.py",
        submodule_search_locations=[str(path / "sksplice")],
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no sksplice package under {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sksplice_baseline"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("sksplice_baseline.solvers")


def _unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _problem(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    if args.problem == "laion":
        from bench_solvers import laion_problem

        D, V = laion_problem(args.data_dir, 1000, args.cache_dir)
        V = V[: args.n_targets]
        return D.astype(np.float64), V.astype(np.float64), f"laion: {D.shape} x {len(V)} targets"
    rng = np.random.default_rng(0)
    D = _unit_rows(rng.standard_normal((args.n_concepts, args.n_features)))
    V = _unit_rows(rng.standard_normal((args.n_targets, args.n_features)))
    return D, V, f"random: {D.shape} x {len(V)} targets"


def _solve(module: ModuleType, D: np.ndarray, V: np.ndarray, lam: float, dtype: str) -> dict:
    solver = module.NonNegLasso(D.astype(dtype), device="cpu", dtype=dtype)
    c0, t0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codes = solver.solve(V.astype(dtype), lam, solver="working_set", tol=1e-6)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "n_iter": int(codes.n_iter),
        "converged": bool(codes.converged),
        "worst_relative_gap": float(codes.gap),
        "mean_l0": float(codes.l0().mean()),
        "warnings": [str(w.message)[:200] for w in caught],
        "weights": codes.to_dense(),  # (compared between versions, not written out)
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problem", choices=["random", "laion"], default="random")
    p.add_argument("--n-concepts", type=int, default=5000)
    p.add_argument("--n-features", type=int, default=128)
    p.add_argument("--n-targets", type=int, default=20)
    p.add_argument("--penalties", type=float, nargs="+", default=[1e-4, 1e-5, 0.0])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--baseline", type=Path, help="checkout of the version to compare with")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument(
        "--busy",
        type=int,
        default=0,
        help="other processes kept spinning during the solves (a machine busy with other work)",
    )
    p.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "tiny_penalty.json"
    )
    args = p.parse_args(argv)
    D, V, problem = _problem(args)
    versions = {"current": sksplice.solvers}
    if args.baseline is not None:
        versions = {"baseline": _baseline(args.baseline), **versions}
    load_start = os.getloadavg()
    with busy_cores(args.busy):
        runs = _runs(args, versions, D, V)
    result = {
        "problem": problem,
        "baseline": None if args.baseline is None else str(args.baseline),
        "busy_processes": args.busy,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "runs": runs,
        "command": "python " + " ".join(sys.argv),
    }
    with atomic_write(args.out) as fh:
        fh.write(json.dumps(result, indent=1).encode("utf-8"))
    return 0


def _runs(args: argparse.Namespace, versions: dict, D: np.ndarray, V: np.ndarray) -> list:
    """Every penalty and dtype solved by every version, interleaved."""
    runs = []
    for lam in args.penalties:
        for dtype in args.dtypes:
            times: dict[str, list[dict]] = {name: [] for name in versions}
            for r in range(args.repeats):
                order = list(versions) if r % 2 == 0 else list(reversed(versions))
                for name in order:
                    times[name].append(_solve(versions[name], D, V, lam, dtype))
            for name, solves in times.items():
                last = solves[-1]
                print(
                    f"l1 {lam:g} {dtype} {name}: wall {min(s['wall_s'] for s in solves):.2f} s "
                    f"(cpu {min(s['cpu_s'] for s in solves):.2f} s), rounds {last['n_iter']}, "
                    f"certified {last['converged']}, gap {last['worst_relative_gap']:.1e}, "
                    f"l0 {last['mean_l0']:.1f}",
                    flush=True,
                )
            run = {"l1_penalty": lam, "dtype": dtype, "solves": times}
            weights = [solves[-1].pop("weights") for solves in times.values()]
            for solves in times.values():
                for solve in solves:
                    solve.pop("weights", None)
            if len(weights) == 2:
                run["max_abs_weight_difference"] = float(np.abs(weights[0] - weights[1]).max())
                print(f"  largest weight difference {run['max_abs_weight_difference']:.1e}")
            runs.append(run)
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
