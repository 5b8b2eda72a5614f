"""``target_l0`` calibration: the current search against the previous one, in one process.

``SpliceTransformer(target_l0=t).fit(X)`` searches the penalty whose mean l0 on
a sample of ``X`` is within 10% of ``t``. Side by side, on the same fitted
dictionary, centred sample and solver:

* ``current``: ``sksplice._calibration.calibrate_penalty`` as the transformer
  runs it (steps by the measured slope of log l0 against log penalty, secant
  inside the bracket, a first search on 256 rows confirmed on the whole
  sample);
* ``previous``: the search the package ran before (``_previous_search`` below):
  from the start penalty, steps down by a factor of 4 until the codes are dense
  enough, then bisects in log penalty, every solve on the whole sample and
  warm-started from the nearest penalty solved.

Both start from ``l1_penalty=0.25`` (the transformer's default) and accept the
same tolerance; each solve is logged (penalty, rows, mean l0, seconds). Timed
best of ``--repeats``, alternating. Problem: the 10,000 most frequent LAION
words and 1,000 template captions embedded with MiniLM (as in
``bench_path.py``).

Example
-------
    python benchmarks/bench_calibration.py --targets 10 50 150 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_path import load_problem  # noqa: E402

from sksplice import SpliceTransformer  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice._calibration import _L0_RTOL, _LOWEST_PENALTY_FRACTION, calibrate_penalty  # noqa: E402


def _previous_search(V: np.ndarray, dictionary: np.ndarray, target: float, solve) -> float:
    """The previous calibration: 4x steps down, then bisection, all on ``V``."""
    top = float((V @ dictionary.T).max(initial=0.0))
    hi = math.log(2.0 * top)
    lo = hi + math.log(_LOWEST_PENALTY_FRACTION)
    last: dict[float, Any] = {}

    def mean_l0(log_pen: float) -> float:
        warm = last[min(last, key=lambda t: abs(t - log_pen))] if last else None
        codes = solve(V, math.exp(log_pen), warm_start=warm)
        last.clear()
        last[log_pen] = codes
        return float(np.mean(codes.l0()))

    def within(value: float) -> bool:
        return abs(value - target) <= _L0_RTOL * target

    start = min(max(math.log(0.25), lo), hi)
    value = mean_l0(start)
    if within(value):
        return math.exp(start)
    if value > target:
        lo = start
    else:
        hi = start
        while True:
            step = max(lo, hi - math.log(4.0))
            value = mean_l0(step)
            if within(value):
                return math.exp(step)
            if value > target:
                lo = step
                break
            hi = step
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        value = mean_l0(mid)
        if within(value):
            return math.exp(mid)
        lo, hi = (mid, hi) if value > target else (lo, mid)
    raise RuntimeError("the previous search did not converge")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=float, nargs="+", default=[10.0, 50.0, 150.0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "calibration.json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    problem = argparse.Namespace(
        problem="laion",
        n_concepts=10000,
        n_targets=1000,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
    )
    words, raw, X = load_problem(problem)
    splice = SpliceTransformer(
        vocabulary=words, concept_embeddings=raw, device="cpu", vocabulary_size=None
    ).fit(X)
    V = splice._center(X)
    solves: list[dict[str, Any]] = []

    def solve(Vs, penalty, warm_start=None):
        started = time.perf_counter()
        codes = splice._solve(Vs, penalty, warm_start=warm_start)
        solves.append(
            {
                "l1_penalty": penalty,
                "rows": int(Vs.shape[0]),
                "mean_l0": float(np.mean(codes.l0())),
                "s": time.perf_counter() - started,
            }
        )
        return codes

    def current(target: float) -> float:
        return calibrate_penalty(
            X,
            dictionary=splice.dictionary_,
            target_l0=target,
            l1_penalty=0.25,
            calibration_samples=2000,
            random_state=0,
            center=splice._center,
            solve=solve,
            verbose=False,
            logger=None,
        )[0]

    def previous(target: float) -> float:
        return _previous_search(V, splice.dictionary_, target, solve)

    runs = []
    for target in args.targets:
        entry: dict[str, Any] = {"target_l0": target}
        for repeat in range(args.repeats):
            order = [("current", current), ("previous", previous)]
            for name, search in order if repeat % 2 == 0 else order[::-1]:
                solves.clear()
                started = time.perf_counter()
                penalty = search(target)
                elapsed = time.perf_counter() - started
                l0 = float(np.mean(splice._solve(V, penalty).l0()))
                best = entry.get(name)
                if best is None or elapsed < best["s"]:
                    entry[name] = {
                        "s": elapsed,
                        "l1_penalty": penalty,
                        "mean_l0_on_all_rows": l0,
                        "solves": list(solves),
                    }
                print(
                    f"target {target:g} {name}: {elapsed:.2f} s, penalty {penalty:.4g}, "
                    f"l0 {l0:.1f}, {len(solves)} solves",
                    flush=True,
                )
        entry["speedup"] = entry["previous"]["s"] / entry["current"]["s"]
        runs.append(entry)
    result = {
        "benchmark": "target_l0 calibration: current search vs the previous one",
        "command": "python " + " ".join(sys.argv),
        "problem": "laion: 10000 concepts x 384 dims (MiniLM), 1000 caption targets",
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "load_average_end": list(os.getloadavg()),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as fh:
        fh.write(json.dumps(result, indent=1).encode())
    for entry in runs:
        print(
            f"target_l0={entry['target_l0']:g}: current {entry['current']['s']:.2f} s, previous "
            f"{entry['previous']['s']:.2f} s ({entry['speedup']:.2f}x)"
        )


if __name__ == "__main__":
    main()
