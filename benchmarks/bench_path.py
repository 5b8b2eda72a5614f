"""Grid over sparsity: ``splice_path`` (one batch along the path) against independent solves.

Side by side in one process, on the same fitted ``SpliceTransformer``, targets
and penalties:

* ``independent``: ``splice_path(transformer, X, [penalty])`` once per
  penalty, i.e. every penalty solved from scratch with exactly the same code
  and statistics (mean l0, cosine) as the path, as a grid search does;
* ``path``: ``splice_path(transformer, X, penalties)``: all penalties in one
  batch, largest first, each target going on to the next penalty with its
  working set once certified (``NonNegLasso.solve_path``).

Both are timed best of ``--repeats``, alternating (the order swaps every
repeat), in wall-clock time and in CPU time of this process (``process_time``,
all threads; on a machine shared with other work it counts only this
process's work), with the load average after each repeat; the median of the
ratios of the two runs of each repeat (back to back, under about the same
load) is the steadier figure on a shared machine. Their answers are
compared through the same float64 objective per target (both are certified to
the transformer's ``tol`` as a relative duality gap). With ``--phases`` one
more run of each records the CPU time per phase (dense products, small
problems, working-set updates, float64 refinement, certificate, the rest of
the rounds: selection of violators) of every independent solve and of the
whole path, and where the concepts that join at each penalty rank among
the candidates at the previous solution (``joiners``), and the mean number of
working-set rounds per target at each penalty on both sides (``rounds``). With ``--cv K`` a probe
for the colour named in each caption is cross-validated over the penalties on K
stratified folds, two runs each, alternating:
``splice_validation_curve`` against scikit-learn's ``validation_curve``
(``validation_curve`` in the result) and ``SplicePathSearchCV`` against
``GridSearchCV`` without refit (``search_cv``), over the same pipeline, folds and
scorer. With ``--fixed-centre`` the transformer is given its centre
(``image_mean``: the mean learned from all the captions, so the decompositions
are those of the default), as with ``image_mean="pretrained"``: every fold would
then fit the same transformer, and the path-aware searches decompose each
caption once. The result goes to ``benchmarks/results/path<tag>.json``.

Problems: ``laion`` (the 10,000 most frequent LAION words and 1,000 template
captions embedded with MiniLM, as in ``bench_solvers.py``) or ``synthetic``
(15,000 x 512 clustered concepts).

Example
-------
    python benchmarks/bench_path.py --problem laion --threads 2
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.base import clone

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import busy_cores  # noqa: E402
from bench_solvers import COLOURS, _embed, captions, synthetic_problem  # noqa: E402

from sksplice import SpliceTransformer, splice_path  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.vocabulary import load_vocabulary  # noqa: E402


def load_problem(args) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Concept names, raw concept embeddings and raw target embeddings."""
    if args.problem == "laion":
        words = load_vocabulary("laion", size=args.n_concepts, data_home=args.data_dir)
        raw = _embed(words, args.cache_dir / f"laion{args.n_concepts // 1000}k_minilm.npy")
        texts = captions(args.n_targets)
        X = _embed(texts, args.cache_dir / f"captions{args.n_targets}_minilm.npy")
        return words, raw.astype(np.float32), X.astype(np.float32)
    D, V = synthetic_problem(args.n_targets, c=args.n_concepts, d=args.n_features)
    return [f"concept {i}" for i in range(len(D))], D, V


# Phases of a working-set solve: (label, module or class, attribute). Times are
# exclusive (a phase called inside another is not counted twice).
def _phase_targets() -> list[tuple[str, object, str]]:
    from sksplice.solvers import _lasso, _working_set

    return [
        ("dense products", _working_set, "dense_product"),
        ("small problems", _working_set, "solve_small"),
        ("working-set updates", _working_set._Sets, "__init__"),
        ("working-set updates", _working_set._Sets, "add"),
        ("working-set updates", _working_set._Sets, "resize"),
        ("float64 refinement", _working_set, "refine_support_parts"),
        ("certificate", _working_set, "_certify"),
        ("warm-start residual", _working_set, "_warm_residual"),
        ("rest of the rounds (selection)", _working_set, "working_set_rounds"),
        ("seeding", _lasso.NonNegLasso, "_solve_one_chunk"),
        ("front end", _lasso.NonNegLasso, "solve"),
        ("front end", _lasso.NonNegLasso, "solve_path"),
    ]


@contextlib.contextmanager
def phase_timer():
    """Record the exclusive CPU time of each phase while active.

    Each phase counts the CPU time of the thread that runs it
    (``time.thread_time``): the chunks of a CPU solve run side by side in
    threads of the process, each on one torch thread, and a phase called in one
    of them is not counted in the caller that waits for it. (Where torch's own
    threads do the work, their time is not seen: run with them when the chunks
    do not run side by side.)
    """
    totals: collections.Counter = collections.Counter()
    local = threading.local()
    lock = threading.Lock()
    saved = []

    def timed(label, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            stack = local.__dict__.setdefault("stack", [])
            start = time.thread_time()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                spent = time.thread_time() - start
                inner = stack.pop()
                with lock:
                    totals[label] += spent - inner
                if stack:
                    stack[-1] += spent

        return wrapper

    for label, owner, name in _phase_targets():
        fn = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        saved.append((owner, name, fn))
        setattr(owner, name, timed(label, fn))
    try:
        yield totals
    finally:
        for owner, name, fn in reversed(saved):
            setattr(owner, name, fn)


@contextlib.contextmanager
def row_rounds():
    """Record the mean number of rounds per row of each solution assembled while active.

    One entry per penalty solved (``NonNegLasso`` assembles one result per
    penalty, in the order of the penalties); a round is one working-set round,
    with its product of every residual with the whole dictionary.
    """
    from sksplice.solvers import _lasso

    means: list[float] = []
    assemble = _lasso._assemble

    def recording(n, c, rows, cols, vals, gaps, iters, tol):
        means.append(float(np.mean(iters)) if n else 0.0)
        return assemble(n, c, rows, cols, vals, gaps, iters, tol)

    _lasso._assemble = recording
    try:
        yield means
    finally:
        _lasso._assemble = assemble


def phases_of(splicer, X, penalties: list[float]) -> dict:
    """CPU seconds per phase: each penalty solved from scratch, and the whole path.

    Also the mean number of working-set rounds per caption at each penalty
    (``rounds``): every round of a caption costs one product of its residual
    with the whole dictionary and one small problem, so the ratio of the total
    rounds of the independent solves to those of the path says how much the
    path saves of that work (the independent solves also pay a seeding product
    per penalty).
    """

    def entry(totals, n_iter) -> dict:
        out = {k: round(v, 4) for k, v in sorted(totals.items())}
        out["total"] = round(sum(totals.values()), 4)
        out["n_iter"] = n_iter
        return out

    V = splicer._center(splicer._validate_X(X, reset=False))
    ordered = sorted(penalties, reverse=True)
    result: dict = {"independent": {}, "path": {}}
    alone_rounds = []
    for penalty in ordered:
        with phase_timer() as totals, row_rounds() as means:
            codes = splicer._solve(V, penalty)
        result["independent"][str(penalty)] = entry(totals, int(codes.n_iter))
        alone_rounds.append(means[0])
    with phase_timer() as totals, row_rounds() as means:
        solved = splicer._solve_path(V, ordered)
    result["path"]["all penalties"] = entry(totals, [int(c.n_iter) for c in solved])
    path_rounds = means[: len(ordered)]
    result["rounds"] = {
        "penalties": ordered,
        "independent_mean_per_caption": [round(v, 3) for v in alone_rounds],
        "path_mean_per_caption": [round(v, 3) for v in path_rounds],
        "independent_total": round(sum(alone_rounds), 3),
        "path_total": round(sum(path_rounds), 3),
        "ratio": round(sum(alone_rounds) / sum(path_rounds), 3),
    }
    return result


def joiners_of(splicer, X, weights: list, penalties: list[float], tops=(16, 32, 48, 64)) -> list:
    """Where the concepts that join at each penalty rank at the previous solution.

    For each step of the path (``weights``: the solutions, largest penalty first)
    and each caption: the concepts of the new support that were not in the
    previous one (the joiners), the violators of the new penalty at the previous
    solution (``2 (D r)_j > l1_penalty``), and the fraction of joiners among the
    strongest ``tops`` concepts outside the previous support, ranked by their
    correlation with the previous residual (what the path adds from) and by the
    correlation predicted at the new penalty if the previous support stayed
    (``D r - (l1_prev - l1) / 2 * D D_S^T G_SS^-1 1``).
    """
    D = torch.as_tensor(splicer.dictionary_, dtype=torch.float64)
    V = torch.as_tensor(splicer._center(splicer._validate_X(X, reset=False)), dtype=torch.float64)
    out = []
    for k in range(1, len(penalties)):
        before = torch.as_tensor(weights[k - 1].toarray(), dtype=torch.float64)
        after = torch.as_tensor(weights[k].toarray(), dtype=torch.float64)
        corr = (V - before @ D) @ D.T
        drop = (penalties[k - 1] - penalties[k]) / 2
        counts = {"joiners": [], "violators": []}
        ranks: dict[str, list] = {"correlation": [], "predicted": []}
        for i in range(len(V)):
            old, new = before[i] > 0, after[i] > 0
            joined = (new & ~old).nonzero().flatten()
            c = corr[i].masked_fill(old, -np.inf)
            counts["joiners"].append(len(joined))
            counts["violators"].append(int((2 * c > penalties[k]).sum()))
            DS = D[old]
            direction = torch.linalg.solve(DS @ DS.T, torch.ones(len(DS), dtype=torch.float64))
            predicted = (c - drop * (D @ (DS.T @ direction))).masked_fill(old, -np.inf)
            for name, score in (("correlation", c), ("predicted", predicted)):
                position = torch.empty(len(score), dtype=torch.int64)
                position[torch.argsort(score, descending=True)] = torch.arange(len(score))
                ranks[name].append(position[joined])
        entry = {
            "from": penalties[k - 1],
            "to": penalties[k],
            "joiners_per_caption": float(np.mean(counts["joiners"])),
            "violators_per_caption": float(np.mean(counts["violators"])),
        }
        for name, parts in ranks.items():
            rank = torch.cat(parts).numpy()
            entry[f"joiners_in_top_by_{name}"] = {
                str(t): round(float(np.mean(rank < t)), 3) for t in tops
            }
        out.append(entry)
    return out


def colour_labels(args) -> np.ndarray:
    """The colour named in each caption (the target of the probes of ``--cv``)."""
    if args.problem != "laion":
        raise SystemExit("--cv needs --problem laion (the captions name a colour)")
    texts = captions(args.n_targets)
    return np.array([next(i for i, c in enumerate(COLOURS) if f" a {c} " in t) for t in texts])


def alternate(
    runs: dict[str, Callable[[], Any]], repeats: int, after_repeat: Callable[[], None] | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, Any]]:
    """Run the two callables of ``runs`` ``repeats`` times each, the order swapping every repeat.

    Returns the wall-clock and CPU seconds of every run per key, and each
    callable's last result; ``after_repeat`` is called after each repeat.
    """
    first, second = runs
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    results: dict[str, Any] = {}
    for repeat in range(repeats):
        for mode in (first, second) if repeat % 2 == 0 else (second, first):
            started, cpu_started = time.perf_counter(), time.process_time()
            results[mode] = runs[mode]()
            times[mode].append(time.perf_counter() - started)
            cpu[mode].append(time.process_time() - cpu_started)
        if after_repeat is not None:
            after_repeat()
    return times, cpu, results


def search_cvs(args, splicer, X, penalties: list[float]) -> dict:
    """``SplicePathSearchCV`` against ``GridSearchCV`` over the pipeline's ``l1_penalty``.

    The probe, labels, folds and scorer of :func:`validation_curves`; both
    without refit (the search only), two runs each, the order alternating.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    from sksplice import SplicePathSearchCV

    y = colour_labels(args)
    pipe = make_pipeline(clone(splicer), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(args.cv, shuffle=True, random_state=0)
    grid = {"splicetransformer__l1_penalty": penalties}
    times, _, searches = alternate(
        {
            "path": lambda: SplicePathSearchCV(pipe, penalties, cv=cv, refit=False).fit(X, y),
            "independent": lambda: GridSearchCV(pipe, grid, cv=cv, refit=False).fit(X, y),
        },
        repeats=2,
    )
    means = {mode: searches[mode].cv_results_["mean_test_score"] for mode in searches}
    return {
        "folds": args.cv,
        "probe": "LogisticRegression(max_iter=2000), colour named in the caption",
        "refit": False,
        "splice_path_search_cv_s": times["path"],
        "grid_search_cv_s": times["independent"],
        "speedup_best": min(times["independent"]) / min(times["path"]),
        "mean_test_score": {
            "SplicePathSearchCV": means["path"].tolist(),
            "GridSearchCV": means["independent"].tolist(),
        },
        "max_abs_score_difference": float(np.abs(means["path"] - means["independent"]).max()),
        "best_params": {
            "SplicePathSearchCV": searches["path"].best_params_,
            "GridSearchCV": searches["independent"].best_params_,
        },
    }


def validation_curves(args, splicer, X, penalties: list[float]) -> dict:
    """``splice_validation_curve`` against scikit-learn's ``validation_curve`` over the pipeline.

    The probe (logistic regression) predicts the colour named in each caption; both
    use the same stratified folds and scorer, the order alternates between repeats.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, validation_curve
    from sklearn.pipeline import make_pipeline

    from sksplice import splice_validation_curve

    y = colour_labels(args)
    probe = LogisticRegression(max_iter=2000)
    cv = StratifiedKFold(args.cv, shuffle=True, random_state=0)
    times, _, scores = alternate(
        {
            "path": lambda: splice_validation_curve(clone(splicer), probe, X, y, penalties, cv=cv),
            "independent": lambda: validation_curve(
                make_pipeline(clone(splicer), probe),
                X,
                y,
                param_name="splicetransformer__l1_penalty",
                param_range=penalties,
                cv=cv,
            ),
        },
        repeats=2,
    )
    return {
        "folds": args.cv,
        "probe": "LogisticRegression(max_iter=2000), colour named in the caption",
        "n_classes": len(np.unique(y)),
        "splice_validation_curve_s": times["path"],
        "sklearn_validation_curve_s": times["independent"],
        "speedup_best": min(times["independent"]) / min(times["path"]),
        "mean_test_score": {
            "splice_validation_curve": scores["path"][1].mean(axis=1).tolist(),
            "sklearn_validation_curve": scores["independent"][1].mean(axis=1).tolist(),
        },
        "max_abs_score_difference": float(
            max(np.abs(scores["path"][k] - scores["independent"][k]).max() for k in (0, 1))
        ),
    }


def objective(splicer, V: np.ndarray, W, penalty: float) -> np.ndarray:
    W = scipy.sparse.csr_matrix(W, dtype=np.float64)
    residual = np.asarray(W @ splicer.dictionary_) - V
    return (residual**2).sum(axis=1) + penalty * np.asarray(W.sum(axis=1)).ravel()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problem", choices=["laion", "synthetic"], default="laion")
    p.add_argument("--penalties", default="0.35,0.3,0.25,0.2,0.15")
    p.add_argument("--n-targets", type=int, default=1000)
    p.add_argument("--n-concepts", type=int, default=10000)
    p.add_argument("--n-features", type=int, default=512, help="synthetic only")
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--solver", default="auto")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    p.add_argument(
        "--phases",
        action="store_true",
        help="also record CPU time per phase, and the ranks of the concepts that join",
    )
    p.add_argument(
        "--cv",
        type=int,
        default=0,
        help="also time splice_validation_curve against validation_curve, and "
        "SplicePathSearchCV against GridSearchCV, with this many folds (laion: a probe for "
        "the colour named in each caption)",
    )
    p.add_argument(
        "--fixed-centre",
        action="store_true",
        help="give the transformer its centre (image_mean: the mean learned from all the "
        "captions) instead of learning it in every fit",
    )
    p.add_argument(
        "--busy",
        type=int,
        default=0,
        help="processes that spin during the timings (other work on the machine)",
    )
    args = p.parse_args(argv)
    if args.cv and args.problem != "laion":
        p.error("--cv needs --problem laion (the captions name a colour)")
    args.argv = sys.argv[1:] if argv is None else argv
    if args.threads:
        torch.set_num_threads(args.threads)
    penalties = [float(v) for v in args.penalties.split(",")]
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "device": args.device,
        "load_average_start": os.getloadavg(),
    }
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    words, raw, X = load_problem(args)
    splicer = SpliceTransformer(
        vocabulary=words,
        concept_embeddings=raw,
        device=args.device,
        tol=args.tol,
        solver=args.solver,
    ).fit(X)
    if args.fixed_centre:
        # The same centre (so the same decompositions), given instead of learned.
        splicer = clone(splicer).set_params(image_mean=splicer.mean_.copy()).fit(X)
    V = splicer._center(splicer._validate_X(X, reset=False)).astype(np.float64)
    splice_path(splicer, X[:50], penalties[-1:])  # warm-up (factorisations, first calls)

    with busy_cores(args.busy):
        result = _measure(args, splicer, X, V, words, penalties, machine)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"path{args.tag}.json"
    with atomic_write(target) as fh:
        fh.write(json.dumps(result, indent=2).encode())
    print(
        json.dumps(
            {
                k: v
                for k, v in result.items()
                if k not in ("rows", "phases_cpu_s", "rounds", "joiners")
            },
            indent=2,
        )
    )
    return 0


def _measure(args, splicer, X, V, words, penalties, machine) -> dict:
    loads: list[float] = []
    times, cpu, results = alternate(
        {
            "path": lambda: splice_path(splicer, X, penalties),
            "independent": lambda: [splice_path(splicer, X, [p]) for p in penalties],
        },
        args.repeats,
        after_repeat=lambda: loads.append(os.getloadavg()[0]),
    )
    path, independent = results["path"], results["independent"]
    phases = phases_of(splicer, X, penalties) if args.phases else None
    rounds = phases.pop("rounds") if phases else None
    joiners = joiners_of(splicer, X, path.weights, list(path.l1_penalties)) if args.phases else None
    curve = validation_curves(args, splicer, X, penalties) if args.cv else None
    search_cv = search_cvs(args, splicer, X, penalties) if args.cv else None

    rows = []
    for k, penalty in enumerate(path.l1_penalties):
        alone = next(r for r in independent if r.l1_penalties[0] == penalty)
        f_path = objective(splicer, V, path.weights[k], penalty)
        f_alone = objective(splicer, V, alone.weights[0], penalty)
        rows.append(
            {
                "l1_penalty": float(penalty),
                "mean_l0": float(path.mean_l0[k]),
                "cosine": float(path.cosine[k]),
                "independent_solve_s": float(alone.time_s),
                "path_n_iter": int(path.n_iter[k]),
                "independent_n_iter": int(alone.n_iter[0]),
                "path_worst_gap": float(path.worst_gap[k]),
                "independent_worst_gap": float(alone.worst_gap[0]),
                "max_rel_objective_difference": float(
                    np.max(np.abs(f_path - f_alone) / np.maximum(f_alone, 1e-300))
                ),
                "max_abs_weight_difference": float(
                    np.abs((path.weights[k] - alone.weights[0]).toarray()).max()
                ),
            }
        )
    result = {
        "benchmark": "splice_path vs independent solves",
        "problem": args.problem,
        "n_concepts": len(words),
        "n_features": int(X.shape[1]),
        "n_targets": int(X.shape[0]),
        "tol": args.tol,
        "solver": args.solver,
        "penalties": [float(v) for v in path.l1_penalties],
        "repeats": args.repeats,
        "path_s": min(times["path"]),
        "path_solve_s_last_repeat": float(path.time_s),
        "independent_s": min(times["independent"]),
        "speedup": min(times["independent"]) / min(times["path"]),
        "path_cpu_s": min(cpu["path"]),
        "independent_cpu_s": min(cpu["independent"]),
        "cpu_speedup": min(cpu["independent"]) / min(cpu["path"]),
        # Ratio of the two runs of each repeat (run back to back, under the same load).
        "paired_speedup_median": float(np.median(np.divide(times["independent"], times["path"]))),
        "paired_cpu_speedup_median": float(np.median(np.divide(cpu["independent"], cpu["path"]))),
        "all_times": {
            "path_s": times["path"],
            "independent_s": times["independent"],
            "path_cpu_s": cpu["path"],
            "independent_cpu_s": cpu["independent"],
            "load_average_1min_after_repeat": loads,
        },
        "rows": rows,
        "phases_cpu_s": phases,
        "rounds": rounds,
        "joiners": joiners,
        "validation_curve": curve,
        "search_cv": search_cv,
        "busy_processes": args.busy,
        "centre": "given (image_mean: the mean of all the captions)"
        if args.fixed_centre
        else "learned in every fit (image_mean=None)",
        "machine": dict(machine, load_average_end=os.getloadavg()),
        "command": "python benchmarks/bench_path.py " + " ".join(args.argv),
    }
    return result


if __name__ == "__main__":
    raise SystemExit(main())
