"""What a grid search on a Dask cluster ships: precomputed concept embeddings or a shared cache.

The recipe of docs/scaling.md ("Grid search with joblib's Dask backend") runs
``GridSearchCV(make_pipeline(splice, LogisticRegression()), {l1_penalty: ...})``
under ``joblib.parallel_config(backend="dask")``. Its fits run on the workers, and
each needs the vocabulary's text embeddings. There are two ways to give them:

* ``precomputed``: :func:`sksplice.distributed.precompute_concept_embeddings`
  puts them in the transformer's ``concept_embeddings`` parameter, so every fit
  task carries them (n_concepts x d float32) through the scheduler;
* ``shared-cache``: the same embeddings are first written to a cache folder that
  every worker can read (here a local folder; on a cluster, a shared file
  system), and the transformer is given that ``cache_dir``: a task carries its
  parameters only, and each worker process reads the dictionary once.

Both searches run on one ``LocalCluster`` of single-threaded worker processes, on
the same synthetic data (embeddings made of a few concepts of a random
dictionary, two classes), twice each, alternating. The script records, for each,
the seconds of ``search.fit``, the size of the graph Dask warns about ("Sending
large graph of size ...") and how often, and checks that both choose the same
penalty with the same (finite) scores and that no fit embedded the vocabulary again
(the stand-in embedder logs every call, in any process). The text embedder is a
stand-in (a fixed random embedding per concept, with a ``cache_key``): the cost
measured is that of shipping and reading the embeddings, which does not depend on
the model.

Run from the repository root::

    python benchmarks/bench_dask_search.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _record import REPO, git_commit


class FixedTextEmbedder:
    """Texts to fixed pseudo-random unit vectors (one per text, from its hash), with a
    ``cache_key``: what the search needs of a text embedder, at no model's cost. Each
    call is logged (process id, texts) to ``log``, so that a call in a worker, where the
    embeddings should have been read from the cache folder, is seen."""

    def __init__(self, width: int, log: str) -> None:
        self.width = width
        self.log = log

    def calls(self) -> list[tuple[int, int]]:
        """The calls logged: (process id, number of texts)."""
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as fh:
            return [(int(a), int(b)) for a, b in (line.split() for line in fh if line.strip())]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        import zlib

        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {len(texts)}\n")

        rows = [
            np.random.default_rng(zlib.crc32(text.encode("utf-8"))).normal(size=self.width)
            for text in texts
        ]
        E = np.asarray(rows, dtype=np.float32)
        return E / np.linalg.norm(E, axis=1, keepdims=True)

    def cache_key(self) -> str:
        return f"benchmark-fixed-random-{self.width}"


def make_data(embedder: FixedTextEmbedder, concepts: list[str], n: int, seed: int = 0):
    """Embeddings of ``n`` rows, each a noisy sum of 4 concepts, in two classes of
    ``n // 2`` rows: a row of class 1 holds one of the first 20 concepts, a row of class
    0 none of them."""
    rng = np.random.default_rng(seed)
    atoms = embedder.embed_text(concepts)
    y = np.arange(n) % 2
    active = rng.integers(20, len(concepts), size=(n, 4))
    active[y == 1, 0] = rng.integers(0, 20, size=int((y == 1).sum()))
    X = atoms[active].sum(axis=1) + 0.05 * rng.normal(size=(n, atoms.shape[1]))
    return X.astype(np.float32), y


def run_search(splice, X, y, penalties, cv):
    """Fit the search of docs/scaling.md under the Dask backend; the seconds and the
    "large graph" warnings Dask gave."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    search = GridSearchCV(
        make_pipeline(splice, LogisticRegression(max_iter=1000)),
        {"splicetransformer__l1_penalty": penalties},
        cv=cv,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            search.fit(X, y)
        seconds = time.perf_counter() - start
    sizes = [
        m.group(0)
        for w in caught
        if (m := re.search(r"large graph of size [\d.]+ \w+", str(w.message)))
    ]
    return search, seconds, sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="rows of the search")
    parser.add_argument("--d", type=int, default=512, help="embedding width (ViT-B-32: 512)")
    parser.add_argument("--c", type=int, default=10_000, help="concepts")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "dask_search.json",
    )
    args = parser.parse_args(argv)

    from _cluster import local_client

    from sksplice import SpliceTransformer
    from sksplice.distributed import precompute_concept_embeddings

    penalties, cv = [0.15, 0.2, 0.25, 0.3], 5
    concepts = [f"concept {i}" for i in range(args.c)]
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as cache:
        embedder = FixedTextEmbedder(args.d, os.path.join(cache, "calls.log"))
        X, y = make_data(embedder, concepts, args.n)
        base = SpliceTransformer(
            embedder=embedder,
            vocabulary=concepts,
            modality="text",
            text_mean="concepts",
            cache_dir=cache,
            device="cpu",
        )
        # (writes the cache folder too: the shared-cache search reads it there)
        precomputed = precompute_concept_embeddings(base)
        n_calls = len(embedder.calls())
        ways = {"precomputed": precomputed, "shared-cache": base}
        runs: dict[str, list[dict]] = {name: [] for name in ways}
        chosen = {}
        with local_client(args.workers):
            for repeat in range(args.repeats):
                for name, splice in ways.items():
                    search, seconds, sizes = run_search(splice, X, y, penalties, cv)
                    calls = embedder.calls()
                    runs[name].append(
                        {
                            "repeat": repeat,
                            "seconds": round(seconds, 2),
                            "large_graph_warnings": len(sizes),
                            "large_graph_sizes": sorted(set(sizes)),
                            # (texts embedded by the search: 0 where every fit read the
                            # embeddings from its parameters or the cache folder)
                            "texts_embedded": sum(k for _, k in calls[n_calls:]),
                        }
                    )
                    n_calls = len(calls)
                    chosen[name] = (
                        search.best_params_["splicetransformer__l1_penalty"],
                        search.cv_results_["mean_test_score"].tolist(),
                    )
                    print(
                        f"{name}: {seconds:.2f} s, {len(sizes)} large-graph warnings "
                        f"{sorted(set(sizes))}",
                        flush=True,
                    )
                    load.append(os.getloadavg())
    scores = chosen["precomputed"][1]
    same = chosen["precomputed"] == chosen["shared-cache"] and bool(np.isfinite(scores).all())
    embedded_again = any(r["texts_embedded"] for rs in runs.values() for r in rs)
    best = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    report = {
        "benchmark": "GridSearchCV over l1_penalty under joblib's Dask backend: "
        "precomputed concept embeddings vs a shared cache folder",
        "command": " ".join(["python benchmarks/bench_dask_search.py", *(argv or sys.argv[1:])]),
        "problem": {
            "n_rows": args.n,
            "d": args.d,
            "n_concepts": args.c,
            "concept_embeddings_mib": round(args.c * args.d * 4 / 2**20, 2),
            "l1_penalties": penalties,
            "cv": cv,
            "fits": len(penalties) * cv,
            "workers": args.workers,
            "data": "synthetic: noisy sums of 4 of the concepts' fixed random embeddings",
        },
        "commit": git_commit(REPO),
        "runs": runs,
        "same_best_penalty_and_scores": same,
        "best_penalty": chosen["precomputed"][0],
        "mean_test_scores": scores,
        "vocabulary_embedded_during_a_search": embedded_again,
        "fastest_seconds": best,
        "precomputed_over_shared_cache": round(best["precomputed"] / best["shared-cache"], 2),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average": load,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if same and not embedded_again else 1


if __name__ == "__main__":
    sys.exit(main())
