"""The first run: embedding a vocabulary with a CLIP text tower, shortened vs full length.

Side by side in one process, on the same model and machine:

1. ``full_length``: the plain open_clip loop (tokenize ``batch_size`` texts,
   ``model.encode_text`` on the padded context-length tokens, normalise), on a
   random subset of the vocabulary;
2. ``sksplice``: :meth:`sksplice.CLIPEmbedder.embed_text` on the same subset
   (texts sorted by token length, batches run up to their longest sequence);
3. ``first_run``: :func:`sksplice.dictionary.embed_vocabulary` on the whole
   vocabulary into an empty cache folder (what a user's first
   ``SpliceTransformer.fit`` does), with the estimate it logs beforehand.

The full-length time of the whole vocabulary is estimated from the subset
(it is linear in the number of texts). Random weights (``pretrained=None``)
cost the same as trained ones. The result goes to
``benchmarks/results/text_first_run<tag>.json``.

Example
-------
    python benchmarks/bench_text.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sksplice._atomic import atomic_write  # noqa: E402
from sksplice._models import _load_model  # noqa: E402
from sksplice._text_encoder import _short_text_encoder  # noqa: E402
from sksplice.dictionary import embed_vocabulary  # noqa: E402
from sksplice.embedders import CLIPEmbedder  # noqa: E402
from sksplice.vocabulary import VOCABULARIES, load_vocabulary  # noqa: E402


def benchmark_vocabulary(n_concepts: int, data_dir: Path) -> tuple[list[str], str]:
    """The ``n_concepts`` most frequent LAION words, or, where the reference files are
    absent (a bare GPU machine), as many whole words of CLIP's BPE vocabulary (one token
    each, like most LAION words); the second item says which. Nothing is downloaded: the
    GPU machine has no network, and a download that waits for it would eat the stage's time."""
    if (Path(data_dir) / VOCABULARIES["laion"].path).is_file():
        return load_vocabulary("laion", size=n_concepts, data_home=data_dir), "laion"
    from open_clip.tokenizer import SimpleTokenizer

    words = [w[:-4] for w in SimpleTokenizer().encoder if w.endswith("</w>")]
    words = [w for w in words if w.isalpha() and w.islower() and len(w) > 2]
    return list(dict.fromkeys(words))[:n_concepts], "clip-bpe-words"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def full_length_loop(model, tokenizer, texts: list[str], batch_size: int, device: str):
    """What a user writes with open_clip: every text at the full context length."""
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(texts[start : start + batch_size]).to(device)
            features = model.encode_text(tokens)
            parts.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu())
    return torch.cat(parts).numpy()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((time.perf_counter(), record.getMessage()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ViT-B-32")
    p.add_argument("--n-concepts", type=int, default=10000)
    p.add_argument("--subset", type=int, default=192, help="texts run both ways")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-first-run", action="store_true", help="only the subset comparison")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("SKSPLICE_REFERENCE_DATA", REPO.parent / "shared/data/splice")),
    )
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
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
    concepts, vocabulary_source = benchmark_vocabulary(args.n_concepts, args.data_dir)
    embedder = CLIPEmbedder(
        model=args.model,
        pretrained=None,
        modality="text",
        device=args.device,
        batch_size=args.batch_size,
    )
    started = time.perf_counter()
    loaded = _load_model(embedder._config())
    load_s = time.perf_counter() - started
    shortened = _short_text_encoder(loaded.model) is not None

    rng = np.random.default_rng(0)
    subset = [concepts[i] for i in rng.choice(len(concepts), args.subset, replace=False)]
    # warm-up of both paths (first-call allocations, kernel selection)
    full_length_loop(loaded.model, loaded.tokenizer, subset[:8], args.batch_size, args.device)
    embedder.embed_text(subset[:8])

    _sync(args.device)
    started = time.perf_counter()
    reference = full_length_loop(
        loaded.model, loaded.tokenizer, subset, args.batch_size, args.device
    )
    _sync(args.device)
    full_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = embedder.embed_text(subset)
    _sync(args.device)
    short_s = time.perf_counter() - started
    token_lengths = (loaded.tokenizer(concepts).argmax(dim=-1) + 1).numpy()

    result = {
        "benchmark": "text_first_run",
        "model": args.model,
        "pretrained": None,
        "batch_size": args.batch_size,
        "n_concepts": len(concepts),
        "vocabulary": vocabulary_source,
        "shortened_path": shortened,
        "token_length": {
            "mean": float(token_lengths.mean()),
            "max": int(token_lengths.max()),
            "context_length": int(loaded.model.context_length),
        },
        "model_load_s": load_s,
        "subset": {
            "n_texts": len(subset),
            "full_length_s": full_s,
            "sksplice_s": short_s,
            "full_length_texts_per_s": len(subset) / full_s,
            "sksplice_texts_per_s": len(subset) / short_s,
            "speedup": full_s / short_s,
            "max_abs_difference": float(np.abs(ours - reference).max()),
        },
        "full_length_estimated_all_s": full_s / len(subset) * len(concepts),
    }
    if not args.skip_first_run:
        handler = _Records()
        log = logging.getLogger("sksplice.dictionary")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            with tempfile.TemporaryDirectory() as home:
                started = time.perf_counter()
                embed_vocabulary(embedder, concepts, cache_dir=home)
                _sync(args.device)
                first_s = time.perf_counter() - started
        finally:
            log.removeHandler(handler)
        result["first_run"] = {
            "time_s": first_s,
            "texts_per_s": len(concepts) / first_s,
            "speedup_over_full_length_estimate": result["full_length_estimated_all_s"] / first_s,
            "log": [
                {"after_s": round(when - started, 3), "message": message}
                for when, message in handler.messages
            ],
        }
    result["machine"] = dict(machine, load_average_end=os.getloadavg())
    result["command"] = "python benchmarks/bench_text.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"text_first_run{args.tag}.json"
    with atomic_write(target) as fh:
        fh.write(json.dumps(result, indent=2).encode())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
