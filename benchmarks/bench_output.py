"""What the command line spends writing its results, against how it wrote them before.

Side by side in one process, on the same records and files:

1. ``records``: the ``decompose`` records of a batch of weights (recomposition,
   cosine, l0, top concepts; ``_chunk_rows``, 512 rows a chunk), against the same
   with the float64 dictionary cast a block at a time whole for every chunk (the
   recomposition before only the concepts a chunk uses were cast);
2. ``writers``: those records written in each format by the command's writer,
   against the writer rebuilding every record with its texts escaped (``shown``)
   before writing it, as it did before;
3. ``ranking``: a ranking table as ``sksplice profile`` writes it (its columns,
   the shares rounded), as json and jsonl, encoded a column at a time, against
   escaping every text on a copy and ``json.dumps`` of each ``to_dict`` record.

Each pair must write the same bytes (checked). The records are synthetic: random
weights of ``--l0`` concepts per row over a random float64 dictionary, file paths
of 40 characters. The two sides alternate which runs first. Results go to
``benchmarks/results/output<tag>.json``.

Example
-------
    python benchmarks/bench_output.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sksplice import SpliceTransformer, _weights  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice.cli import _decompose, _output, _profile  # noqa: E402


def _blockwise(W: Any, D: np.ndarray, D_cast: np.ndarray | None = None) -> np.ndarray:
    """``W @ D`` as it was computed before: every block of ``D`` cast to the weights' dtype."""
    if W.dtype == D.dtype:
        return np.asarray(W @ D)
    if D_cast is not None:
        return np.asarray(W @ D_cast)
    E = np.zeros((W.shape[0], D.shape[1]), dtype=W.dtype)
    step = _weights._DICTIONARY_BLOCK_ROWS
    for start in range(0, D.shape[0], step):
        E += np.asarray(W[:, start : start + step] @ D[start : start + step].astype(W.dtype))
    return E


def _records(splicer: Any, X: np.ndarray, W: Any, paths: list[Path]) -> list[dict]:
    out = []
    for start in range(0, X.shape[0], 512):
        stop = start + 512
        out += _decompose._chunk_rows(splicer, X[start:stop], paths[start:stop], 10, W[start:stop])
    return out


def _write(records: list[dict], fmt: str, escape_all: bool) -> tuple[float, bytes]:
    """Seconds to write ``records`` to a file in ``fmt``, and the bytes written."""
    saved = _output._json_record
    if escape_all:  # (every record rebuilt by ``shown``, as before)
        _output._json_record = lambda rec: json.dumps(_output.shown(rec), ensure_ascii=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"out.{fmt}"
            with open(path, "w", encoding="utf-8") as fh:
                writer = _output._Writer(fh, fmt, {"images": len(records)})
                if escape_all:
                    writer._shown = _output.shown  # type: ignore[method-assign]
                start = time.perf_counter()
                for rec in records:
                    writer.write(rec)
                writer.close()
                elapsed = time.perf_counter() - start
            return elapsed, path.read_bytes()
    finally:
        _output._json_record = saved


def _ranking_table(n_rows: int, seed: int) -> Any:
    """A ranking of ``n_rows`` rows of 1,000 concepts per class, as ``sksplice profile``
    writes it (``written_ranking``: its columns, the shares rounded)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_classes = max(1, n_rows // 1000)
    per_class = -(-n_rows // n_classes)
    table = pd.DataFrame(
        {
            "class": np.repeat([f"n{i:08d}" for i in range(n_classes)], per_class)[:n_rows],
            "concept": np.array([f"concept {i}" for i in range(1000)])[
                rng.integers(1000, size=n_rows)
            ],
            "count_positive": rng.integers(0, 50, n_rows),
            "count_negative": rng.integers(0, 5000, n_rows),
        }
    )
    for name in ("prevalence_positive", "prevalence_negative", "prevalence_diff"):
        table[name] = rng.standard_normal(n_rows)
    table["test"] = "fisher"
    table["p_adjusted"] = rng.random(n_rows) ** 2
    table["significant"] = table["p_adjusted"] < 0.05
    return _profile.written_ranking(table)


def _ranking_by_records(table: Any, fmt: str, metadata: dict) -> str:
    """The table written as before: every text escaped (``shown``, on a copy), then a
    record at a time (``json.dumps`` of each ``to_dict`` record)."""
    import pandas as pd

    fh = io.StringIO()
    table = table.copy()
    for c in table.columns:
        if table[c].dtype == object or pd.api.types.is_string_dtype(table[c].dtype):
            table[c] = table[c].map(_output.shown)
    metadata = _output.shown(metadata)
    table = table.assign(p_adjusted=_output.significant_values(table["p_adjusted"]))
    records = table.to_dict(orient="records")
    if fmt == "json":
        doc = {"metadata": metadata, "ranking": records}
        json.dump(doc, fh, indent=1, default=_output._json_scalar)
        fh.write("\n")
    else:
        for rec in records:
            fh.write(json.dumps(rec, default=_output._json_scalar) + "\n")
    return fh.getvalue()


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def _alternating(repeats: int, before: Any, now: Any) -> tuple[dict, Any, Any]:
    """Each side ``repeats`` times, alternating which runs first (each returns its time
    and its output): the times of both sides, and each side's last output."""
    times: dict[str, list[float]] = {"now_s": [], "before_s": []}
    outputs = {}
    sides = (("before_s", before), ("now_s", now))
    for repeat in range(repeats):
        for name, run in sides if repeat % 2 == 0 else sides[::-1]:
            t, outputs[name] = run()
            times[name].append(t)
    return times, outputs["before_s"], outputs["now_s"]


def _entry(times: dict, n: int, rate: str) -> dict[str, Any]:
    """The best time of each side, their ratio and ``n`` over the best time now."""
    now_s, before_s = min(times["now_s"]), min(times["before_s"])
    return {"now_s": now_s, "before_s": before_s, "speedup": before_s / now_s, rate: n / now_s}


def _records_before(splicer: Any, X: np.ndarray, W: Any, paths: list[Path]) -> list[dict]:
    """:func:`_records` with the recomposition of before (:func:`_blockwise`)."""
    saved = _weights._times_dictionary
    _weights._times_dictionary = _blockwise
    try:
        return _records(splicer, X, W, paths)
    finally:
        _weights._times_dictionary = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-records", type=int, default=100_000)
    parser.add_argument("--n-ranking", type=int, default=200_000)
    parser.add_argument("--n-concepts", type=int, default=10_000)
    parser.add_argument("--n-features", type=int, default=512)
    parser.add_argument("--l0", type=int, default=20, help="concepts per record's row")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    load = [os.getloadavg()]

    rng = np.random.default_rng(0)
    c, d, n = args.n_concepts, args.n_features, args.n_records
    emb = rng.standard_normal((c, d))
    words = [f"concept {i}" for i in range(c)]
    splicer = SpliceTransformer(vocabulary=words, concept_embeddings=emb, device="cpu")
    splicer.fit(rng.standard_normal((200, d)))
    rows = np.repeat(np.arange(n), args.l0)
    cols = rng.integers(0, c, size=n * args.l0)
    W = scipy.sparse.csr_matrix(
        (rng.random(n * args.l0).astype(np.float32), (rows, cols)), shape=(n, c)
    )
    W.sum_duplicates()
    X = splicer.inverse_transform(W)  # (any embeddings: the records recompose W)
    paths = [Path(f"/data/photos/class_{i % 100:03d}/img_{i:08d}.jpg") for i in range(n)]

    result: dict[str, Any] = {
        "benchmark": "output",
        "n_records": n,
        "n_concepts": c,
        "n_features": d,
        "l0": args.l0,
        "n_ranking_rows": args.n_ranking,
        "repeats": args.repeats,
    }
    # 1. records: the recomposition with only the used concepts cast, against every block
    times, before, records = _alternating(
        args.repeats,
        lambda: _timed(_records_before, splicer, X, W, paths),
        lambda: _timed(_records, splicer, X, W, paths),
    )
    # (the recompositions add the concepts in another order: cosines may differ at 1e-7)
    same = all(
        (a["path"], a["l0"], a["concepts"]) == (b["path"], b["l0"], b["concepts"])
        for a, b in zip(before, records, strict=True)
    )
    cosine_diff = max(abs(a["cosine"] - b["cosine"]) for a, b in zip(before, records, strict=True))
    same = same and cosine_diff <= 2e-6
    result["records"] = {
        **_entry(times, n, "now_per_s"),
        "same_records": same,
        "max_cosine_difference": cosine_diff,
        "all_times": times,
    }
    entry = result["records"]
    print(
        f"records: {entry['now_s']:.2f} s against {entry['before_s']:.2f} s (same: {same})",
        flush=True,
    )
    # 2. writers
    result["writers"] = {}
    for fmt in ("jsonl", "json", "csv", "table"):
        times, before_bytes, now_bytes = _alternating(
            args.repeats,
            lambda fmt=fmt: _write(records, fmt, escape_all=True),
            lambda fmt=fmt: _write(records, fmt, escape_all=False),
        )
        result["writers"][fmt] = {
            **_entry(times, n, "now_records_per_s"),
            "before_records_per_s": n / min(times["before_s"]),
            "same_bytes": now_bytes == before_bytes,
            "all_times": times,
        }
    # 3. ranking tables
    table = _ranking_table(args.n_ranking, seed=1)
    metadata = {"alpha": 0.05, "tests": len(table)}

    def written(fmt: str) -> str:
        fh = io.StringIO()
        _output._write_table_records(fh, table, fmt, metadata, "ranking")
        return fh.getvalue()

    result["ranking"] = {}
    for fmt in ("jsonl", "json"):
        times, before_text, now_text = _alternating(
            args.repeats,
            lambda fmt=fmt: _timed(_ranking_by_records, table, fmt, metadata),
            lambda fmt=fmt: _timed(written, fmt),
        )
        result["ranking"][fmt] = {
            **_entry(times, args.n_ranking, "now_rows_per_s"),
            "same_bytes": now_text == before_text,
            "all_times": times,
        }
    for part in ("writers", "ranking"):
        for fmt, entry in result[part].items():
            print(
                f"{'ranking ' if part == 'ranking' else ''}{fmt}: {entry['now_s']:.2f} s against "
                f"{entry['before_s']:.2f} s ({entry['speedup']:.2f}x, same bytes: "
                f"{entry['same_bytes']})",
                flush=True,
            )
    load.append(os.getloadavg())
    result["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_start": list(load[0]),
        "load_average_end": list(load[-1]),
    }
    result["command"] = "python benchmarks/bench_output.py " + " ".join(argv or sys.argv[1:])
    out = args.out_dir / f"output{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        fh.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}", flush=True)
    ok = result["records"]["same_records"] and all(
        e["same_bytes"] for part in ("writers", "ranking") for e in result[part].values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
