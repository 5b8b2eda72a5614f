"""Images to concepts end to end: sksplice against the plain open_clip + DataLoader loop.

Side by side in one process, on the same JPEG files, model (random weights:
the cost is that of trained ones), batch size and device:

* ``plain_dataloader``: the loop a user writes with open_clip (as
  clip-retrieval's inference does): a ``torch.utils.data.DataLoader`` with
  ``--workers`` worker processes decoding and preprocessing, ``encode_image``,
  normalise; then the same ``SpliceTransformer.transform`` for the concepts;
* ``sksplice_threads``: ``CLIPEmbedder(num_workers=0)`` (decoding in
  threads of this process) then ``SpliceTransformer.transform`` (CSR);
* ``sksplice_processes``: ``CLIPEmbedder(num_workers=--workers)``, then the
  same transform.

The default ``CLIPEmbedder(num_workers=None)`` takes one of the two (processes
on a CUDA device for inputs of several batches); the result file says which
(``default_num_workers``).

Where the time goes is measured on the side: decoding and preprocessing one
image at a time in this process (per image, on a sample), the forward pass on
already preprocessed batches, and the solve. The JPEG files (``--size``,
default 500x375, smooth colour gradients with noise, quality 90) are written
once into ``--image-dir``. The concept dictionary is the LAION vocabulary
embedded with the same model's text tower (cached in ``--cache-dir``; not
timed). The result goes to ``benchmarks/results/pipeline<tag>.json``.

Example
-------
    python benchmarks/bench_pipeline.py --n-images 192 --workers 2 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_text import benchmark_vocabulary  # noqa: E402

from sksplice import SpliceTransformer  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice._images import load_rgb  # noqa: E402
from sksplice._models import _load_model  # noqa: E402
from sksplice.embedders import CLIPEmbedder  # noqa: E402


def _write_jpeg(job: tuple[str, int, int, int]) -> None:
    path, seed, width, height = job
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1) / 2
    low, high = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = low + ramp[..., None] * (high - low)
    blobs = rng.normal(0, 40, (height // 25 + 1, width // 25 + 1, 3))
    image += np.kron(blobs, np.ones((25, 25, 1)))[:height, :width]
    image += rng.normal(0, 12, image.shape)
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path, quality=90)


def make_jpegs(folder: Path, n: int, size: tuple[int, int], workers: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(folder / f"img{i:05d}.jpg") for i in range(n)]
    jobs = [(p, i, *size) for i, p in enumerate(paths) if not os.path.isfile(p)]
    if jobs:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_write_jpeg, jobs, chunksize=16))
    return paths


class _Files(torch.utils.data.Dataset):
    def __init__(self, paths: list[str], preprocess) -> None:
        self.paths = paths
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.preprocess(Image.open(self.paths[index]).convert("RGB"))


def plain_loop(model, preprocess, paths, batch_size, workers, device) -> np.ndarray:
    """The user's loop: DataLoader with worker processes, encode_image, normalise."""
    loader = torch.utils.data.DataLoader(
        _Files(paths, preprocess),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=device.startswith("cuda"),
    )
    parts = []
    with torch.inference_mode():
        for batch in loader:
            features = model.encode_image(batch.to(device, non_blocking=True))
            parts.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu())
    return torch.cat(parts).numpy()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ViT-B-32")
    p.add_argument("--n-images", type=int, default=192)
    p.add_argument("--size", default="500x375", help="JPEG width x height")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--n-concepts", type=int, default=10000)
    p.add_argument("--l1-penalty", type=float, default=0.25)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--sample", type=int, default=32, help="images timed one by one")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("SKSPLICE_REFERENCE_DATA", REPO.parent / "shared/data/splice")),
    )
    tmp = Path(tempfile.gettempdir()) / "sksplice-bench"
    p.add_argument("--image-dir", type=Path, default=None, help="default: <cache-dir>/jpegs-WxH")
    p.add_argument("--cache-dir", type=Path, default=tmp)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        "load_average_start": os.getloadavg(),
    }
    image_dir = args.image_dir or args.cache_dir / f"jpegs-{width}x{height}"
    paths, gen_s = _timed(
        lambda: make_jpegs(image_dir, args.n_images, (width, height), max(1, args.workers))
    )

    common = dict(model=args.model, pretrained=None, device=args.device)
    embedder = CLIPEmbedder(**common, batch_size=args.batch_size, num_workers=0)
    loaded = _load_model(embedder._config())
    model, preprocess = loaded.model, loaded.preprocess
    concepts, vocabulary_source = benchmark_vocabulary(args.n_concepts, args.data_dir)
    text = CLIPEmbedder(**common, modality="text", batch_size=256)
    splicer = SpliceTransformer(
        embedder=text,
        vocabulary=concepts,
        l1_penalty=args.l1_penalty,
        device=args.device,
        data_home=args.cache_dir,
    )

    # warm-up: model, allocator, kernels; and the splicer's fit (dictionary, centre)
    warm = plain_loop(model, preprocess, paths[: args.batch_size], args.batch_size, 0, args.device)
    splicer.fit(warm)
    splicer.transform(warm)

    runs = []

    def record(name, embed, workers):
        _sync(args.device)
        X, embed_s = _timed(embed)
        _sync(args.device)
        W, solve_s = _timed(lambda: splicer.transform(X))
        _sync(args.device)
        total = embed_s + solve_s
        runs.append(
            {
                "method": name,
                "workers": workers,
                "embed_s": embed_s,
                "solve_s": solve_s,
                "total_s": total,
                "images_per_s": len(paths) / total,
                "embed_images_per_s": len(paths) / embed_s,
                "mean_l0": float(np.mean(np.diff(W.indptr))),
            }
        )
        return X

    X_plain = record(
        "plain_dataloader",
        lambda: plain_loop(model, preprocess, paths, args.batch_size, args.workers, args.device),
        args.workers,
    )
    X_threads = record("sksplice_threads", lambda: embedder.transform(paths), 0)
    procs = CLIPEmbedder(**common, batch_size=args.batch_size, num_workers=args.workers)
    X_procs = record("sksplice_processes", lambda: procs.transform(paths), args.workers)
    plain = runs[0]
    for run in runs:
        run["x_plain_images_per_s"] = run["images_per_s"] / plain["images_per_s"]
        run["x_plain_embed"] = plain["embed_s"] / run["embed_s"]

    # where the time goes, measured on the side
    sample = paths[: args.sample]
    images, decode_s = _timed(lambda: [load_rgb(path) for path in sample])
    tensors, preprocess_s = _timed(lambda: [preprocess(image) for image in images])
    batch = torch.stack((tensors * (args.batch_size // len(tensors) + 1))[: args.batch_size])
    with torch.inference_mode():
        model.encode_image(batch.to(args.device))
        _sync(args.device)
        n_batches = max(1, min(5, len(paths) // args.batch_size))
        started = time.perf_counter()
        for _ in range(n_batches):
            model.encode_image(batch.to(args.device))
        _sync(args.device)
        forward_s = (time.perf_counter() - started) / (n_batches * args.batch_size)
    breakdown = {
        "decode_ms_per_image_one_thread": 1000 * decode_s / len(sample),
        "preprocess_ms_per_image_one_thread": 1000 * preprocess_s / len(sample),
        "forward_ms_per_image": 1000 * forward_s,
        "solve_ms_per_image": 1000 * runs[1]["solve_s"] / len(paths),
        "decode_preprocess_images_per_s_one_thread": len(sample) / (decode_s + preprocess_s),
        "forward_images_per_s": 1 / forward_s,
    }
    result = {
        "benchmark": "images to concepts: sksplice vs plain open_clip DataLoader loop",
        "model": args.model,
        "pretrained": None,
        "n_images": len(paths),
        "image_size": [width, height],
        "batch_size": args.batch_size,
        "n_concepts": len(concepts),
        "vocabulary": vocabulary_source,
        "l1_penalty": args.l1_penalty,
        "jpeg_generation_s": gen_s,
        "default_num_workers": CLIPEmbedder(**common, batch_size=args.batch_size)._decode_processes(
            len(paths), embedder._config()
        ),
        "max_abs_difference": {
            "threads_vs_plain": float(np.abs(X_threads - X_plain).max()),
            "processes_vs_plain": float(np.abs(X_procs - X_plain).max()),
        },
        "runs": runs,
        "breakdown": breakdown,
        "machine": dict(machine, load_average_end=os.getloadavg()),
        "command": "python benchmarks/bench_pipeline.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"pipeline{args.tag}.json"
    with atomic_write(target) as fh:
        fh.write(json.dumps(result, indent=2).encode())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
