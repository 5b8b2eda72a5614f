"""The duality-gap certificate against the gap over every concept, and its cost.

For each penalty the problem is solved (``NonNegLasso.solve``, ``solver="auto"``,
``tol=1e-6``, float32 storage, CPU) best of ``--repeats`` in wall-clock time, and
every row's reported relative duality gap (``row_gaps``) is compared with its gap
recomputed here in float64 from the returned weights, the maximum correlation taken
over every concept (one full product, independent of the solver). A row whose
recomputed gap exceeds its reported one by more than the resolution of float64
sums (``1e-14 ||v|| max_j ||d_j|| / lam``) is *understated*. Where the certificate
can form all of a row's correlations in float64 when in doubt, the rows that did so
are counted (``rows_full_product_per_solve``).

Results are merged into ``benchmarks/results/certificate.json`` under ``--label``
(other labels in the file are kept), so that a run of an older checkout
(``--sksplice PATH``) and of this one sit side by side.

Problems: ``laion`` (the 10,000 most frequent LAION words and 1,000 template
captions embedded with MiniLM, as in ``bench_solvers.py``) or ``synthetic``
(clustered concepts, ``bench_solvers.py``), each as the solver of a
``SpliceTransformer`` fitted on the targets sees it (its dictionary and the
targets centred by the mean it learned; float32 storage).

Example
-------
    python benchmarks/bench_certificate.py --label after
    python benchmarks/bench_certificate.py --label before --sksplice /tmp/old --commit abc123
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _record import REPO, save_run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", default="after", help="key of this run in the result file")
    p.add_argument("--sksplice", type=Path, default=REPO, help="folder of the sksplice package")
    p.add_argument("--commit", default=None, help="commit of --sksplice (default: git rev-parse)")
    p.add_argument("--problem", choices=("laion", "synthetic"), default="laion")
    p.add_argument("--penalties", default="0.35,0.25,0.15,0.05")
    p.add_argument("--n-targets", type=int, default=1000)
    p.add_argument("--n-concepts", type=int, default=10_000)
    p.add_argument("--n-features", type=int, default=512, help="synthetic problem only")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "certificate.json")
    args = p.parse_args(argv)
    args.sksplice = args.sksplice.resolve()
    sys.path.insert(0, str(args.sksplice))
    sys.path.insert(1, str(REPO / "benchmarks"))
    sys.path.insert(2, str(REPO / "tests"))
    import torch
    from _helpers_solvers import exact_gaps  # (the tests' independent gap)

    torch.set_num_threads(args.threads)
    from sksplice import SpliceTransformer

    # Imported after sksplice: bench_solvers puts this checkout first on sys.path.
    bench = importlib.import_module("bench_solvers")
    if args.problem == "laion":
        from sksplice.vocabulary import load_vocabulary

        words = load_vocabulary("laion", size=args.n_concepts, data_home=args.data_dir)
        raw = bench._embed(words, args.cache_dir / f"laion{args.n_concepts // 1000}k_minilm.npy")
        texts = bench.captions(args.n_targets)
        X = bench._embed(texts, args.cache_dir / f"captions{args.n_targets}_minilm.npy")
        raw, X = raw.astype(np.float32), X.astype(np.float32)
    else:
        raw, X = bench.synthetic_problem(args.n_targets, c=args.n_concepts, d=args.n_features)
        words = [f"concept {i}" for i in range(len(raw))]
    # The problem a fitted transformer solves: its dictionary and centred targets.
    splice = SpliceTransformer(vocabulary=words, concept_embeddings=raw, device="cpu").fit(X)
    solver = splice._get_lasso()
    D64 = np.asarray(splice.dictionary_, dtype=np.float64)
    V = splice._center(X)
    V64 = V.astype(np.float64)
    solver.solve(V[:8], 0.25)  # cached float64 dictionary and norms
    # Rows whose certificate formed all their correlations in float64 (None: a checkout
    # without that fallback).
    full_rows: list[int] | None = None
    ws = importlib.import_module("sksplice.solvers._working_set")
    if hasattr(ws, "_certify"):
        full_rows, inner = [0], ws.binding_max

        def counted(corr, norms, r_norm):
            if corr.shape[1] == D64.shape[0]:
                full_rows[0] += corr.shape[0]
            return inner(corr, norms, r_norm)

        ws.binding_max = counted
    load = [os.getloadavg()]
    penalties = {}
    for lam in (float(x) for x in args.penalties.split(",")):
        times = []
        if full_rows is not None:
            full_rows[0] = 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            codes = solver.solve(V, lam)
            times.append(time.perf_counter() - start)
        load.append(os.getloadavg())
        W = codes.to_dense().astype(np.float64)
        exact = exact_gaps(D64, V64, W, lam)
        resolution = 1e-14 * np.linalg.norm(V64, axis=1) * np.linalg.norm(D64, axis=1).max() / lam
        reported = np.asarray(codes.row_gaps, dtype=np.float64)
        r = V64 - W @ D64
        penalties[str(lam)] = {
            "seconds": times,
            "best_s": min(times),
            "worst_reported_gap": float(reported.max()),
            "worst_exact_gap": float(exact.max()),
            "rows_understated": int((exact > reported + resolution).sum()),
            "rows_understated_tenfold": int((exact > 10 * reported + resolution).sum()),
            "converged": bool(codes.converged),
            "mean_objective": float(((r * r).sum(1) + lam * W.sum(1)).mean()),
            "mean_l0": float((W > 0).sum(1).mean()),
            "rows_full_product_per_solve": None
            if full_rows is None
            else full_rows[0] / args.repeats,
        }
        print(f"[{args.label}] l1 {lam}: {penalties[str(lam)]}", flush=True)
    problem = {"name": args.problem, "n_concepts": D64.shape[0], "n_targets": V.shape[0]}
    save_run(
        args,
        argv,
        "bench_certificate.py",
        load,
        problem=problem,
        d=D64.shape[1],
        threads=args.threads,
        torch=torch.__version__,
        penalties=penalties,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
