"""The thumbnails of ``sksplice report``, against how they were made before.

Side by side in one process, on the same JPEG files:

* ``now``: ``sksplice.report._thumbnails``, as ``report`` and ``compare --report``
  call it: in threads (as many as the cores, at most 16), each JPEG decoded at a
  fraction of its size (1/2, 1/4 or 1/8, no smaller than the thumbnail);
* ``before``: each file decoded whole (``load_rgb`` without ``shrink_to``), shrunk
  to the thumbnail and encoded, one file after another.

Both make thumbnails of the same size (checked); their pixels differ a little, as
shrinking in the decoder and shrinking after it round differently (the largest and
mean absolute differences of the decoded thumbnails are recorded). The photographs
are synthetic but compress as photographs do: smooth gradients, shapes and grain,
``--width`` x ``--height``, JPEG quality 90. The two sides alternate which runs
first; the best of ``--repeats`` is reported. Results go to
``benchmarks/results/thumbnails<tag>.json``.

Example
-------
    python benchmarks/bench_thumbnails.py
"""

from __future__ import annotations

import argparse
import base64
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
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sksplice import report  # noqa: E402
from sksplice._atomic import atomic_write  # noqa: E402
from sksplice._images import load_rgb  # noqa: E402


def _photographs(folder: Path, n: int, width: int, height: int, seed: int) -> list[str]:
    """``n`` JPEG files that compress as photographs do (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(n):
        image = np.empty((height, width, 3), dtype=np.float32)
        for c in range(3):
            a, b, f = rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(2, 9)
            image[..., c] = 128 + 60 * np.sin((a * xx + b * yy) * f / width + c)
        for _ in range(6):  # (shapes: discs of another colour)
            cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 300)
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
            image[inside] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 6, image.shape).astype(np.float32)  # (grain)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(str(path))
    return paths


def _before(paths: list[str], size: int = report.THUMBNAIL_SIZE) -> list[str | None]:
    """Each file decoded whole, shrunk and encoded, one after another."""
    uris: list[str | None] = []
    for path in paths:
        img = load_rgb(path)
        img.thumbnail((size, size))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=75)
        uris.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return uris


def _pixels(uri: str | None) -> np.ndarray:
    assert uri is not None
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=120)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="sksplice-thumbs-") as tmp:
        paths = _photographs(Path(tmp), args.n_images, args.width, args.height, seed=0)
        file_bytes = sum(os.path.getsize(p) for p in paths)
        sides = (("before_s", _before), ("now_s", report._thumbnails))
        times: dict[str, list[float]] = {"before_s": [], "now_s": []}
        outputs: dict[str, list[str | None]] = {}
        for repeat in range(args.repeats):
            for name, run in sides if repeat % 2 == 0 else sides[::-1]:
                start = time.perf_counter()
                outputs[name] = run(paths)
                times[name].append(time.perf_counter() - start)
                print(f"  {name[:-2]}: {times[name][-1]:.2f} s", flush=True)
    before = [_pixels(u) for u in outputs["before_s"]]
    now = [_pixels(u) for u in outputs["now_s"]]
    same_sizes = all(a.shape == b.shape for a, b in zip(before, now, strict=True))
    diffs = [np.abs(a - b) for a, b in zip(before, now, strict=True) if a.shape == b.shape]
    now_s, before_s = min(times["now_s"]), min(times["before_s"])
    load.append(os.getloadavg())
    result: dict[str, Any] = {
        "benchmark": "thumbnails",
        "n_images": args.n_images,
        "image_size": [args.width, args.height],
        "file_bytes": file_bytes,
        "thumbnail_size": report.THUMBNAIL_SIZE,
        "threads": max(1, min(report._THUMBNAIL_THREADS, os.cpu_count() or 1, args.n_images)),
        "repeats": args.repeats,
        "now_s": now_s,
        "before_s": before_s,
        "speedup": before_s / now_s,
        "same_thumbnail_sizes": same_sizes,
        "largest_pixel_difference": int(max((int(d.max()) for d in diffs), default=0)),
        "mean_pixel_difference": float(np.mean([d.mean() for d in diffs])) if diffs else 0.0,
        "all_times": times,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "pillow": Image.__version__,
            "cpu_count": os.cpu_count(),
            "load_average_start": list(load[0]),
            "load_average_end": list(load[-1]),
        },
    }
    given = sys.argv[1:] if argv is None else argv
    result["command"] = " ".join(["python benchmarks/bench_thumbnails.py", *given])
    print(
        f"thumbnails: {now_s:.2f} s against {before_s:.2f} s ({before_s / now_s:.2f}x, "
        f"same sizes: {same_sizes}, mean pixel difference "
        f"{result['mean_pixel_difference']:.2f})",
        flush=True,
    )
    out = args.out_dir / f"thumbnails{args.tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        fh.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}", flush=True)
    return 0 if same_sizes else 1


if __name__ == "__main__":
    sys.exit(main())
