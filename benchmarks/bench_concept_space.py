"""What users wait for around the solver, against how it was done before.

Side by side in one process, on the same synthetic inputs (no model), each pair
run ``--repeats`` times, alternating which side runs first, best time kept:

1. ``concept_profiles``: the table of ``--n-classes`` classes of ``--n-samples``
   CSR rows (``--l0`` of ``--n-concepts`` concepts a row), against the table built as before (the
   statistics stacked transposed, a frame of them, the counts cast back to integers
   one column at a time);
2. ``written_ranking``: what ``sksplice profile -k`` writes of a ranking of
   ``--ranking-classes`` classes x ``--ranking-concepts`` concepts (its three share
   columns to 6 significant digits), against formatting and parsing every value
   one at a time;
3. ``rank_each_class``: the ranking of every class against the rest of ``--rank-classes``
   classes (labels drawn uniformly) of ``--rank-samples`` CSR rows (``--l0`` of
   ``--rank-concepts`` concepts a row), against computing it as before (every 2x2
   table of a class size tested, each class's rows sorted by ``lexsort`` of their
   keys, the whole family's p-values sorted to adjust them);
4. ``inverse_transform`` (not a pair: where the time goes): ``inverse_transform`` of
   ``--inverse-rows`` float32 CSR rows (``--l0`` concepts a row of ``--rank-concepts``,
   a dictionary of ``--inverse-features`` dimensions), then the same steps again, timed
   step by step over its blocks (the product with the dictionary, the first
   normalisation, adding the mean, the second normalisation, which writes the result),
   and the time to fill a fresh array of the result's size, and to fill it again.

Each pair must give the same result (checked: equal frames and tables, NaN for
NaN, same dtypes and ``attrs``). Results go to ``benchmarks/results/concept_space<tag>.json``.

Example
-------
    python benchmarks/bench_concept_space.py
    python benchmarks/bench_concept_space.py --parts rank_each_class --tag _rank_each_class
    python benchmarks/bench_concept_space.py --parts inverse_transform --repeats 1 \
        --tag _inverse_transform
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sksplice import SpliceTransformer, _weights, analysis  # noqa: E402
from sksplice._array import l2_normalize  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.cli import _output, _profile  # noqa: E402


def _profiles_before(W: Any, y: Any, concepts: Any) -> pd.DataFrame:
    """``concept_profiles(W, y, concepts)`` with the table built as before."""
    names = analysis._resolve_concepts(W, concepts, analysis._n_columns(W))
    given = W
    W = analysis._as_weights(W)
    n = W.shape[0]
    y = analysis._as_labels(y, n, given)
    classes, codes = np.unique(y, return_inverse=True)
    sums_c, counts_c = analysis._group_sums(W, codes, len(classes))
    sizes_c = np.bincount(codes, minlength=len(classes)).astype(np.float64)
    sums = np.vstack([sums_c.sum(axis=0, keepdims=True), sums_c])
    counts = np.vstack([counts_c.sum(axis=0, keepdims=True), counts_c])
    sizes = np.concatenate([[float(n)], sizes_c])
    groups = [analysis.ALL_GROUP, *classes.tolist()]
    mean_weight = sums / sizes[:, None]
    prevalence = counts / sizes[:, None]
    blocks = {"mean_weight": mean_weight, "prevalence": prevalence, "count": counts}
    columns = pd.MultiIndex.from_tuples(
        [(stat, g) for stat in blocks for g in groups], names=["statistic", "group"]
    )
    values = np.hstack([blocks[stat].T for stat in blocks])
    profiles = pd.DataFrame(values, index=pd.Index(names, name="concept"), columns=columns)
    profiles["count"] = profiles["count"].astype(np.int64)
    profiles.attrs["n_samples"] = {g: int(n) for g, n in zip(groups, sizes, strict=True)}
    return profiles


def _written_before(ranking: pd.DataFrame) -> pd.DataFrame:
    """``written_ranking`` with every share formatted and parsed one at a time."""
    table = ranking[list(_profile.WRITTEN_COLUMNS)].copy()
    for share in ("prevalence_positive", "prevalence_negative", "prevalence_diff"):
        column = table[share]
        table[share] = column.map(lambda v: float(_output.significant(v, 6))).astype(column.dtype)
    return table


def _rank_each_class_before(W: Any, y: Any, concepts: Any) -> pd.DataFrame:
    """``rank_each_class(W, y, concepts)`` (its defaults) computed as before: every table
    of a class size tested, rows sorted by ``lexsort``, the family sorted to adjust."""
    alternative, correction, alpha = "greater", "fdr_bh", 0.05
    names, W, y, _ = analysis._ranking_inputs(W, y, concepts)
    classes = sorted(set(np.asarray(y).tolist()))
    n_classes, n = len(classes), W.shape[0]
    sums, rest_sums, keep, x1_all, total_kept, sizes = analysis._class_tables(W, y, classes, 1)
    m = int(keep.sum())
    floats = analysis._EACH_CLASS_FLOATS
    block = np.empty((len(floats), n_classes, m))
    out = dict(zip(floats, block, strict=True))
    out["count_positive"] = np.empty((n_classes, m), dtype=np.int64)
    out["count_negative"] = np.empty((n_classes, m), dtype=np.int64)
    positions = np.empty((n_classes, m), dtype=np.int64)
    per_call = max(1, analysis._BLOCK_ENTRIES // max(m, 1))
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        n1, n2 = float(size), float(n - size)
        for start in range(0, same.shape[0], per_call):
            ks = same[start : start + per_call]
            x1 = x1_all[ks]
            x2 = total_kept[None, :] - x1
            shape = x1.shape
            flat1, flat2 = x1.ravel(), x2.ravel()
            cohens_h, log_or = analysis._effect_sizes(flat1, n1, flat2, n2)
            p_value = analysis.fisher_exact_pvalues(flat1, n1, flat2, n2, alternative)
            p_value = p_value.reshape(shape)
            exact_diff = analysis._exact_difference(x1, n1, x2, n2)
            first = analysis._ranked_first(exact_diff, alternative)
            order = np.lexsort((p_value, first), axis=-1)
            rows = {
                "count_positive": x1.astype(np.int64),
                "count_negative": x2.astype(np.int64),
                "prevalence_positive": x1 / n1,
                "prevalence_negative": x2 / n2,
                "prevalence_diff": exact_diff / (n1 * n2),
                "mean_weight_positive": sums[ks][:, keep] / n1,
                "mean_weight_negative": rest_sums[ks][:, keep] / n2,
                "cohens_h": cohens_h.reshape(shape),
                "log_odds_ratio": log_or.reshape(shape),
                "z": analysis._z_statistic(flat1, n1, flat2, n2).reshape(shape),
                "p_value": p_value,
            }
            for name, values in rows.items():
                out[name][ks] = np.take_along_axis(values, order, axis=-1)
            positions[ks] = order
    table = analysis._each_class_frame(
        block,
        classes,
        names[keep],
        positions,
        out["count_positive"].ravel(),
        out["count_negative"].ravel(),
    )
    adjusted = analysis._adjust_pvalues(table["p_value"].to_numpy(dtype=np.float64), correction)
    table["p_adjusted"] = adjusted
    table["significant"] = analysis._below_alpha(adjusted, alpha)
    analysis._each_class_attrs(table, correction, alpha, alternative, classes, sizes, n)
    return table


def _inverse_breakdown(splicer: Any, W: Any, repeats: int) -> dict[str, Any]:
    """``inverse_transform`` of ``W``, and its steps timed one by one (see the docstring)."""
    runs = []
    for _ in range(repeats):
        run: dict[str, Any] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        R = splicer.inverse_transform(W)
        run["inverse_transform_s"] = time.perf_counter() - wall
        run["inverse_transform_cpu_s"] = time.process_time() - cpu
        D = splicer.dictionary_
        D_cast = _weights._cast_dictionary(W, D)
        mean = splicer.mean_.astype(W.dtype)
        steps = dict.fromkeys(("product", "normalise", "add_mean", "normalise_into_result"), 0.0)
        steps_cpu = dict.fromkeys(steps, 0.0)
        wall, cpu = time.perf_counter(), time.process_time()
        out = np.empty((W.shape[0], D.shape[1]), dtype=W.dtype)
        block = max(1, _weights._RECOMPOSE_BLOCK_ITEMS // D.shape[1])
        for start in range(0, W.shape[0], block):
            marks = [(time.perf_counter(), time.process_time())]
            E = _weights._times_dictionary(W[start : start + block], D, D_cast)
            marks.append((time.perf_counter(), time.process_time()))
            l2_normalize(E, out=E)
            marks.append((time.perf_counter(), time.process_time()))
            E += mean
            marks.append((time.perf_counter(), time.process_time()))
            l2_normalize(E, out=out[start : start + block])
            marks.append((time.perf_counter(), time.process_time()))
            for name, a, b in zip(steps, marks[:-1], marks[1:], strict=True):
                steps[name] += b[0] - a[0]
                steps_cpu[name] += b[1] - a[1]
        run["steps_s"] = steps
        run["steps_cpu_s_each"] = steps_cpu
        run["steps_total_s"] = time.perf_counter() - wall
        run["steps_cpu_s"] = time.process_time() - cpu
        run["same_result"] = bool(np.array_equal(R, out))
        del R, out
        for name, value in (("fill_fresh_result", 0.0), ("fill_again", 1.0)):
            t, cpu = time.perf_counter(), time.process_time()
            if value == 0.0:
                fresh = np.empty((W.shape[0], D.shape[1]), dtype=W.dtype)
            fresh[...] = value
            run[f"{name}_s"] = time.perf_counter() - t
            run[f"{name}_cpu_s"] = time.process_time() - cpu
        del fresh
        print(f"  {json.dumps(run)}", flush=True)
        runs.append(run)
    return {"runs": runs, "same_result": all(run["same_result"] for run in runs)}


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def _alternating(repeats: int, before: Any, now: Any) -> tuple[dict, Any, Any]:
    """Each side ``repeats`` times, alternating which runs first: the times of both
    sides, and each side's last output (the other outputs are let go at once)."""
    times: dict[str, list[float]] = {"now_s": [], "before_s": []}
    outputs: dict[str, Any] = {}
    sides = (("before_s", before), ("now_s", now))
    for repeat in range(repeats):
        for name, run in sides if repeat % 2 == 0 else sides[::-1]:
            outputs.pop(name, None)
            t, outputs[name] = run()
            times[name].append(t)
            print(f"  {name[:-2]}: {t:.2f} s", flush=True)
    return times, outputs["before_s"], outputs["now_s"]


def _entry(times: dict, same: bool) -> dict[str, Any]:
    now_s, before_s = min(times["now_s"]), min(times["before_s"])
    return {
        "now_s": now_s,
        "before_s": before_s,
        "speedup": before_s / now_s,
        "same_result": same,
        "all_times": times,
    }


def _csr(rng: np.random.Generator, n: int, c: int, l0: int) -> scipy.sparse.csr_matrix:
    rows = np.repeat(np.arange(n), l0)
    cols = rng.integers(0, c, size=n * l0)
    W = scipy.sparse.csr_matrix((rng.random(n * l0).astype(np.float32), (rows, cols)), shape=(n, c))
    W.sum_duplicates()
    return W


def _ranking(n_classes: int, n_concepts: int, seed: int) -> pd.DataFrame:
    """A ranking of every concept in every class, its shares counts over class sizes."""
    rng = np.random.default_rng(seed)
    n = n_classes * n_concepts
    sizes = rng.integers(20, 2000, n_classes)
    positive = np.repeat(sizes, n_concepts)
    negative = sizes.sum() - positive
    count_p = rng.binomial(positive, 0.05)
    count_n = rng.binomial(negative, 0.05)
    table = pd.DataFrame(
        {
            "class": np.repeat([f"n{i:08d}" for i in range(n_classes)], n_concepts),
            "concept": np.tile([f"concept {i}" for i in range(n_concepts)], n_classes),
            "count_positive": count_p,
            "count_negative": count_n,
            "prevalence_positive": count_p / positive,
            "prevalence_negative": count_n / negative,
        }
    )
    table["prevalence_diff"] = table["prevalence_positive"] - table["prevalence_negative"]
    table["test"] = "fisher"
    table["p_adjusted"] = rng.random(n) ** 4
    table["significant"] = table["p_adjusted"] < 0.05
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-concepts", type=int, default=10_000)
    parser.add_argument("--l0", type=int, default=20, help="concepts per row")
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--n-classes", type=int, default=1000)
    parser.add_argument("--ranking-classes", type=int, default=100)
    parser.add_argument("--ranking-concepts", type=int, default=15_000)
    parser.add_argument("--rank-samples", type=int, default=50_000)
    parser.add_argument("--rank-classes", type=int, default=1000)
    parser.add_argument("--rank-concepts", type=int, default=10_000)
    parser.add_argument("--inverse-rows", type=int, default=1_000_000)
    parser.add_argument("--inverse-features", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="concept_profiles,written_ranking")
    parser.add_argument("--tag", default="")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    load = [os.getloadavg()]
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"benchmark": "concept_space", "repeats": args.repeats}
    if "concept_profiles" in parts:
        c = args.n_concepts
        W = _csr(rng, args.n_samples, c, args.l0)
        y = rng.integers(0, args.n_classes, args.n_samples)
        names = [f"concept {i}" for i in range(c)]
        print("concept_profiles", flush=True)
        times, before, now = _alternating(
            args.repeats,
            lambda: _timed(_profiles_before, W, y, names),
            lambda: _timed(analysis.concept_profiles, W, y, names),
        )
        same = before.attrs == now.attrs
        try:
            pd.testing.assert_frame_equal(before, now, check_exact=True)
        except AssertionError:
            same = False
        del before, now
        result["concept_profiles"] = {
            "n_samples": args.n_samples,
            "n_classes": args.n_classes,
            "n_concepts": c,
            "l0": args.l0,
            **_entry(times, same),
        }
    if "written_ranking" in parts:
        ranking = _ranking(args.ranking_classes, args.ranking_concepts, seed=1)
        print("written_ranking", flush=True)
        times, before, now = _alternating(
            args.repeats,
            lambda: _timed(_written_before, ranking),
            lambda: _timed(_profile.written_ranking, ranking),
        )
        try:
            pd.testing.assert_frame_equal(before, now, check_exact=True)
            same = True
        except AssertionError:
            same = False
        result["written_ranking"] = {
            "n_rows": len(ranking),
            "n_values": 3 * len(ranking),
            **_entry(times, same),
        }
    if "rank_each_class" in parts:
        c = args.rank_concepts
        W = _csr(rng, args.rank_samples, c, args.l0)
        y = rng.integers(0, args.rank_classes, args.rank_samples)
        names = [f"concept {i}" for i in range(c)]
        print("rank_each_class", flush=True)
        times, before, now = _alternating(
            args.repeats,
            lambda: _timed(_rank_each_class_before, W, y, names),
            lambda: _timed(analysis.rank_each_class, W, y, names),
        )
        same = before.attrs == now.attrs
        try:
            pd.testing.assert_frame_equal(before, now, check_exact=True)
        except AssertionError:
            same = False
        n_rows = len(now)
        del before, now
        result["rank_each_class"] = {
            "n_samples": args.rank_samples,
            "n_classes": args.rank_classes,
            "n_concepts": c,
            "l0": args.l0,
            "n_rows": n_rows,
            "n_class_sizes": int(np.unique(np.bincount(y)).shape[0]),
            **_entry(times, same),
        }
    if "inverse_transform" in parts:
        c, d = args.rank_concepts, args.inverse_features
        splicer = SpliceTransformer(
            vocabulary=[f"concept {i}" for i in range(c)],
            concept_embeddings=rng.standard_normal((c, d)),
            device="cpu",
        )
        splicer.fit(rng.standard_normal((200, d)))
        W = _csr(rng, args.inverse_rows, c, args.l0)
        print("inverse_transform", flush=True)
        result["inverse_transform"] = {
            "n_rows": args.inverse_rows,
            "n_concepts": c,
            "n_features": d,
            "l0": args.l0,
            "weights_dtype": str(W.dtype),
            "dictionary_dtype": str(splicer.dictionary_.dtype),
            "result_bytes": args.inverse_rows * d * W.dtype.itemsize,
            **_inverse_breakdown(splicer, W, args.repeats),
        }
        del W
    for part in parts:
        entry = result[part]
        if "runs" in entry:
            best = min(entry["runs"], key=lambda run: run["inverse_transform_s"])
            print(f"{part}: {json.dumps(best)}", flush=True)
            continue
        print(
            f"{part}: {entry['now_s']:.2f} s against {entry['before_s']:.2f} s "
            f"({entry['speedup']:.2f}x, same: {entry['same_result']})",
            flush=True,
        )
    load.append(os.getloadavg())
    result["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_start": list(load[0]),
        "load_average_end": list(load[-1]),
    }
    given = sys.argv[1:] if argv is None else argv
    result["command"] = " ".join(["python benchmarks/bench_concept_space.py", *given])
    out = args.out_dir / f"concept_space{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        fh.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}", flush=True)
    return 0 if all(result[p]["same_result"] for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
