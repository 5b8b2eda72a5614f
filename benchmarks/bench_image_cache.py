"""The command line run twice on one folder of images: the image-embedding cache.

A researcher runs several commands over one collection (``decompose``, then
``profile``, ``report``, ``search``), and each embedded every image again. Three
runs of ``sksplice decompose FOLDER -f csv`` on the same JPEG files (``--size``,
default 500x375, written once by ``bench_pipeline.make_jpegs``), same model
(random weights: the cost of trained ones; with ``--checkpoint`` they are read from
a checkpoint file, as trained weights are), each in a process of its own, as a
user runs them:

* ``no_cache``: ``--no-image-cache``, every image embedded (what every run did
  before the cache);
* ``first``: the cache empty: every image embedded, and kept (the cost of the
  digests and the files written);
* ``second``: the cache full: every embedding read back.

Then ``--repeats`` more runs with the cache full, in turn with ``second_open_clip``:
the same run in a process that imports open_clip before the command starts, as
every run did before a run whose embeddings are all cached stopped importing it
(its model tables are read from its files): the best of each, and their ratio.
With ``--checkpoint`` also ``second_digest_taken``: the same run with the kept
digest of the checkpoint file removed first (``<cache>/checkpoints``), so that it
hashes the file, as every run did before the digest was kept.

The vocabulary (``--n-concepts`` words written by the benchmark) is embedded
before the timed runs (a run on one image), so that none of them embeds it. The
outputs of ``first`` and ``second`` must be the same bytes; ``no_cache`` against
``second`` gives the largest difference of a weight. The result goes to
``benchmarks/results/image_cache<tag>.json``.

Example
-------
    python benchmarks/bench_image_cache.py --n-images 1000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import make_jpegs

REPO = Path(__file__).resolve().parents[1]


#: ``python -m sksplice``, in a process that imports open_clip first.
_OPEN_CLIP_FIRST = "import sys, open_clip; from sksplice._console import main; sys.exit(main())"


def _run(argv: list[str], env: dict[str, str], out: Path, open_clip: bool = False) -> float:
    """Wall time of ``sksplice ARGV -o OUT`` in a new process (it must exit 0); with
    ``open_clip``, a process that imports open_clip before the command runs."""
    start = time.perf_counter()
    command = ["-c", _OPEN_CLIP_FIRST] if open_clip else ["-m", "sksplice"]
    proc = subprocess.run(
        [sys.executable, *command, *argv, "-o", str(out), "-q"],
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sksplice {' '.join(argv)} failed:\n{proc.stderr}")
    return took


def _weights(path: Path) -> dict[tuple[str, str], float]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["path"], r["concept"]): float(r["weight"] or 0) for r in csv.DictReader(fh)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ViT-B-32")
    p.add_argument("--n-images", type=int, default=1000)
    p.add_argument("--size", default="500x375", help="JPEG width x height")
    p.add_argument("--n-concepts", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3, help="runs of each with the cache full")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="give the model's random weights as a checkpoint file (--pretrained FILE), so "
        "that every run loads weights from disk as one of trained weights does",
    )
    tmp = Path(tempfile.gettempdir()) / "sksplice-bench"
    p.add_argument("--image-dir", type=Path, default=None, help="default: <work-dir>/jpegs-WxH")
    p.add_argument("--work-dir", type=Path, default=tmp)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)

    width, height = (int(v) for v in args.size.split("x"))
    images = args.image_dir or args.work_dir / f"jpegs-{width}x{height}"
    paths = make_jpegs(images / "all", args.n_images, (width, height), os.cpu_count() or 1)
    folder = args.work_dir / f"cache-run-{args.n_images}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    for path in paths:  # (a folder of exactly these images: links to the files written once)
        os.link(path, folder / "images" / Path(path).name)
    vocabulary = folder / "vocabulary.txt"
    vocabulary.write_text("".join(f"concept {i}\n" for i in range(args.n_concepts)), "utf-8")
    env = dict(os.environ, SKSPLICE_CACHE=str(folder / "cache"))
    weights = "none"
    if args.checkpoint:
        weights = str(args.work_dir / f"{args.model}-random.pt")
        if not Path(weights).exists():
            import open_clip
            import torch

            model = open_clip.create_model(args.model, pretrained=None)
            torch.save(model.state_dict(), weights + ".tmp")
            os.replace(weights + ".tmp", weights)
    common = ["--model", args.model, "--pretrained", weights, "--vocabulary", str(vocabulary),
              "--image-mean", "data", "--device", args.device, "-f", "csv"]  # fmt: skip
    (folder / "one").mkdir()
    os.link(paths[0], folder / "one" / "a.jpg")
    os.link(paths[1], folder / "one" / "b.jpg")
    # (the vocabulary embedded, untimed; its two images not kept: the timed runs start
    # from an empty cache of images)
    _run(["decompose", str(folder / "one"), *common, "--no-image-cache"], env, folder / "warm.csv")
    load = [os.getloadavg()]
    runs = {}
    for name, extra in (("no_cache", ["--no-image-cache"]), ("first", []), ("second", [])):
        runs[name] = _run(["decompose", str(folder / "images"), *common, *extra], env,
                          folder / f"{name}.csv")  # fmt: skip
        load.append(os.getloadavg())
    again: dict[str, list[float]] = {"second": [], "second_open_clip": []}
    if args.checkpoint:
        again["second_digest_taken"] = []
    for _ in range(args.repeats):
        for name in again:
            argv = ["decompose", str(folder / "images"), *common]
            out = folder / f"{name}.csv"
            if name == "second_digest_taken":
                shutil.rmtree(folder / "cache" / "checkpoints")  # (kept by the run before)
            again[name].append(_run(argv, env, out, open_clip=name == "second_open_clip"))
    load.append(os.getloadavg())
    first, second = (folder / "first.csv").read_bytes(), (folder / "second.csv").read_bytes()
    same_open_clip = (folder / "second_open_clip.csv").read_bytes() == second
    plain, cached = _weights(folder / "no_cache.csv"), _weights(folder / "second.csv")
    result = {
        "what": "sksplice decompose FOLDER -f csv, three runs in processes of their own",
        "model": args.model,
        "n_images": args.n_images,
        "size": args.size,
        "n_concepts": args.n_concepts,
        "device": args.device,
        "weights": "random, from a checkpoint file" if args.checkpoint else "random",
        "seconds": {k: round(v, 3) for k, v in runs.items()},
        "images_per_second": {k: round(args.n_images / v, 1) for k, v in runs.items()},
        "second_vs_no_cache": round(runs["no_cache"] / runs["second"], 2),
        "first_vs_no_cache": round(runs["first"] / runs["no_cache"], 3),
        "cache_full_seconds": {k: [round(t, 3) for t in v] for k, v in again.items()},
        "cache_full_best": {k: round(min(v), 3) for k, v in again.items()},
        "second_open_clip_vs_second": round(
            min(again["second_open_clip"]) / min(again["second"]), 2
        ),
        "same_bytes_second_open_clip": same_open_clip,
        **(
            {
                "second_digest_taken_vs_second": round(
                    min(again["second_digest_taken"]) / min(again["second"]), 2
                )
            }
            if args.checkpoint
            else {}
        ),
        "same_bytes_first_second": first == second,
        "same_rows_no_cache_second": set(plain) == set(cached),
        "max_weight_difference_no_cache_second": max(
            (abs(plain[k] - cached.get(k, 0.0)) for k in plain), default=0.0
        ),
        "cache_bytes": sum(
            f.stat().st_size for f in (folder / "cache" / "images").rglob("*") if f.is_file()
        ),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average": load,
        },
        "command": "python benchmarks/bench_image_cache.py " + " ".join(sys.argv[1:]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"image_cache{args.tag}.json"
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
