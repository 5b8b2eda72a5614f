"""Fisher's exact test for every concept at once, against scipy's test one table at a time.

Side by side in one process, on the same tables (the counts of ``--n-concepts``
concepts in two groups, each concept's prevalence drawn uniformly from 0 to 0.3 and
its counts from binomials of that prevalence in both groups, except that every other
concept is twice as prevalent in the first group: tables of concepts that do not
differ, and of concepts that do, whose p-values are the small ones a correction
keeps):

* ``sksplice``: ``sksplice._fisher.fisher_exact_pvalues``, as ``rank_concepts``,
  ``rank_each_class`` and ``compare_datasets`` call it: every table in one vectorised
  computation; the median of ``--repeats`` runs;
* ``scipy``: ``scipy.stats.fisher_exact`` called on each 2 x 2 table in a loop, the
  reference the p-values are defined by (``--scipy-repeats`` runs, the median).

For each pair of group sizes (a class of 100 against 10,000 images, and 10,000
against 10,000) and each of ``greater`` and ``two-sided``, it records both times,
their ratio and the largest relative difference of the p-values. Results go to
``benchmarks/results/fisher<tag>.json``.

Example
-------
    python benchmarks/bench_fisher.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.stats
from _record import REPO, machine

from sksplice._atomic import atomic_write
from sksplice._fisher import fisher_exact_pvalues

#: The pairs of group sizes timed: a class against the rest, and two equal collections.
SIZES = ((100, 10_000), (10_000, 10_000))
ALTERNATIVES = ("greater", "two-sided")


def _tables(n_concepts: int, n1: int, n2: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The counts of ``n_concepts`` concepts in groups of ``n1`` and ``n2`` samples."""
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.0, 0.3, n_concepts)
    first = prevalence.copy()
    first[::2] *= 2.0  # (every other concept differs)
    return rng.binomial(n1, first), rng.binomial(n2, prevalence)


def _scipy(x1: np.ndarray, n1: int, x2: np.ndarray, n2: int, alternative: str) -> np.ndarray:
    """scipy's test of each table, one call a table."""
    return np.array(
        [
            scipy.stats.fisher_exact([[a, n1 - a], [b, n2 - b]], alternative=alternative).pvalue
            for a, b in zip(x1.tolist(), x2.tolist(), strict=True)
        ]
    )


def _timed(run: Any, repeats: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return times, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-concepts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scipy-repeats", type=int, default=1)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    load = [os.getloadavg()]
    runs = []
    for n1, n2 in SIZES:
        x1, x2 = _tables(args.n_concepts, n1, n2, seed=n1)
        for alternative in ALTERNATIVES:
            ours_t, ours = _timed(
                lambda: fisher_exact_pvalues(x1, n1, x2, n2, alternative),  # noqa: B023
                args.repeats,
            )
            ref_t, ref = _timed(
                lambda: _scipy(x1, n1, x2, n2, alternative),  # noqa: B023
                args.scipy_repeats,
            )
            ours_s, ref_s = statistics.median(ours_t), statistics.median(ref_t)
            diff = np.abs(ours - ref) / np.maximum(ref, np.finfo(float).tiny)
            runs.append(
                {
                    "n1": n1,
                    "n2": n2,
                    "alternative": alternative,
                    "sksplice_s": ours_s,
                    "scipy_s": ref_s,
                    "scipy_over_sksplice": ref_s / ours_s,
                    "max_rel_difference": float(diff.max()),
                    "smallest_p_value": float(ref.min()),
                    "sksplice_times": ours_t,
                    "scipy_times": ref_t,
                }
            )
            print(
                f"{n1} against {n2}, {alternative}: {ours_s:.4f} s against scipy's "
                f"{ref_s:.2f} s ({ref_s / ours_s:.0f}x), largest relative difference "
                f"{diff.max():.1e}",
                flush=True,
            )
    load.append(os.getloadavg())
    result = {
        "benchmark": "Fisher's exact test of every concept: sksplice vs scipy.stats.fisher_exact",
        "n_concepts": args.n_concepts,
        "repeats": args.repeats,
        "scipy_repeats": args.scipy_repeats,
        "runs": runs,
        "machine": {**machine(load), "numpy": np.__version__, "scipy": scipy.__version__},
    }
    given = sys.argv[1:] if argv is None else argv
    result["command"] = " ".join(["python benchmarks/bench_fisher.py", *given])
    out = args.out_dir / f"fisher{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        fh.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}", flush=True)
    worst = max(run["max_rel_difference"] for run in runs)
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
