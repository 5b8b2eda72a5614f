"""Peak memory and time of ``SpliceTransformer`` fit + transform on the LAION problem.

The problem is the one of ``bench_solvers.py``: the 10,000 most frequent LAION
words embedded with the MiniLM text model (``concept_embeddings``, float32, as
the embedder returns them) and ``--n-targets`` caption embeddings ``X``
(float32), decomposed as text (``modality="text"``, centre learned from ``X``)
on the CPU. Two cases, each in a fresh process so that the peak is its own:

* ``fixed``: ``l1_penalty=0.25``; ``fit(X)`` then ``transform(X)``;
* ``target_l0``: ``target_l0=50`` (the penalty search with warm starts on all
  rows of ``X``); ``fit(X)`` then ``transform(X)``.

Each case runs twice, in two processes: once for the wall and CPU times
(``time.perf_counter``, ``time.process_time``; on a shared machine the CPU time
is the steadier of the two) and the peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which counts torch's buffers
too), once under ``tracemalloc`` for the peak of the memory numpy and Python
allocate during fit + transform (torch's CPU buffers are not traced). The
resident set size just before ``fit`` is recorded, so the growth the fit
causes can be read as ``peak_rss_mib - rss_before_fit_mib``.

Results are merged into ``benchmarks/results/memory.json`` under ``--label``
(other labels in the file are kept), so a run of an older checkout
(``--sksplice PATH``) and of this one sit side by side.

Example
-------
    python benchmarks/bench_memory.py --label after
    python benchmarks/bench_memory.py --label before --sksplice /tmp/old --commit abc123
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _record import REPO, save_run

CASES = ("fixed", "target_l0")
_MiB = float(1 << 20)


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")  # pragma: no cover - Linux only


def _worker(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(args.sksplice))
    sys.path.insert(1, str(REPO / "benchmarks"))
    import importlib

    import numpy as np
    import torch

    import sksplice
    from sksplice.transformer import SpliceTransformer
    from sksplice.vocabulary import load_vocabulary

    # Imported after sksplice: bench_solvers puts this checkout first on sys.path.
    bench = importlib.import_module("bench_solvers")
    _embed, captions = bench._embed, bench.captions

    words = load_vocabulary("laion", size=10_000, data_home=args.data_dir)
    raw = _embed(words, args.cache_dir / "laion10k_minilm.npy")
    X = _embed(captions(args.n_targets), args.cache_dir / f"captions{args.n_targets}_minilm.npy")
    if args.worker == "prepare":  # embeddings cached before any measured process starts
        return {"cache_dir": str(args.cache_dir)}
    params = {"l1_penalty": 0.25} if args.worker == "fixed" else {"target_l0": 50.0}
    splice = SpliceTransformer(
        vocabulary=words,
        concept_embeddings=raw,
        modality="text",
        device="cpu",
        **params,
    )
    out = {
        "sksplice_file": sksplice.__file__,
        "raw_dtype": str(raw.dtype),
        "X_dtype": str(X.dtype),
        "X_shape": list(X.shape),
        "torch_threads": torch.get_num_threads(),
    }
    if args.trace:
        import tracemalloc

        tracemalloc.start()
        splice.fit(X)
        W = splice.transform(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak_mib"] = round(peak / _MiB, 1)
    else:
        rss_before = _rss_mib()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        t0, c0 = time.perf_counter(), time.process_time()
        splice.fit(X)
        t1, c1 = time.perf_counter(), time.process_time()
        W = splice.transform(X)
        t2, c2 = time.perf_counter(), time.process_time()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        out.update(
            rss_before_fit_mib=round(rss_before, 1),
            peak_rss_before_fit_mib=round(maxrss_before, 1),
            peak_rss_mib=round(maxrss, 1),
            fit_s=round(t1 - t0, 3),
            transform_s=round(t2 - t1, 3),
            fit_cpu_s=round(c1 - c0, 3),
            transform_cpu_s=round(c2 - c1, 3),
        )
    out["l1_penalty_"] = float(splice.l1_penalty_)
    out["mean_l0"] = float(np.mean(np.diff(W.indptr)))
    out["weights_sum"] = float(W.sum())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", default="after", help="key of this run in the result file")
    p.add_argument("--sksplice", type=Path, default=REPO, help="folder of the sksplice package")
    p.add_argument("--commit", default=None, help="commit of --sksplice (default: git rev-parse)")
    p.add_argument("--n-targets", type=int, default=1000)
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "splice")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "sksplice-bench")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "memory.json")
    p.add_argument("--worker", choices=(*CASES, "prepare"), help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.sksplice = args.sksplice.resolve()
    if args.worker:
        json.dump(_worker(args), sys.stdout)
        return 0

    base = [sys.executable, str(Path(__file__).resolve())]
    common = ["--sksplice", str(args.sksplice), "--n-targets", str(args.n_targets)]
    common += ["--data-dir", str(args.data_dir), "--cache-dir", str(args.cache_dir)]
    prepare = subprocess.run(
        base + common + ["--worker", "prepare"], capture_output=True, text=True, check=False
    )
    if prepare.returncode != 0:
        sys.stderr.write(prepare.stderr)
        return prepare.returncode
    cases = {}
    load = [os.getloadavg()]
    for case in CASES:
        record = {}
        for trace in (False, True):
            cmd = base + common + ["--worker", case] + (["--trace"] if trace else [])
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                sys.stderr.write(res.stderr)
                return res.returncode
            record.update(json.loads(res.stdout))
            load.append(os.getloadavg())
        cases[case] = record
        print(f"[{args.label}] {case}: {json.dumps(record)}", flush=True)
    save_run(args, argv, "bench_memory.py", load, cases=cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
