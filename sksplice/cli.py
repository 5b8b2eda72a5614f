"""The ``sksplice`` command: concept decompositions, class profiles and HTML reports.

Exit codes: 0 on success, 2 for usage errors (argparse), 1 for runtime errors,
reported as one line naming the file or setting at fault (a traceback only
with ``--debug``), 130 when interrupted (output written so far stays valid).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._version import __version__

__all__ = ["IMAGE_EXTENSIONS", "collect_images", "main"]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_FORMATS = ("table", "csv", "json", "jsonl")
_CHUNK = 512


class CLIError(Exception):
    """A runtime error reported to the user as one line (exit code 1)."""


# --------------------------------------------------------------------------- inputs


def collect_images(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into a sorted list of image paths.

    Parameters
    ----------
    inputs : sequence of path-like
        Image files (taken as given, whatever their extension) and folders
        (walked recursively for files with an image extension, in sorted order).

    Returns
    -------
    paths : list of pathlib.Path
        Images, files first in the order given, each folder's images sorted.

    Raises
    ------
    CLIError
        When an input does not exist or a folder holds no image.
    """
    paths: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
            )
            if not found:
                raise CLIError(
                    f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) under folder {path}"
                )
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        else:
            raise CLIError(f"no such file or folder: {path}")
    return paths


def _read_labels(labels_csv: Path, root: Path, paths: list[Path]) -> list[str]:
    """Labels for ``paths`` from a CSV with columns path,label (paths relative to ``root``)."""
    try:
        text = labels_csv.read_text(encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot read labels file {labels_csv}: {exc.strerror or exc}") from exc
    reader = csv.reader(io.StringIO(text))
    mapping: dict[str, str] = {}
    for lineno, row in enumerate(reader, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            raise CLIError(f"{labels_csv}, line {lineno}: expected 'path,label', got {row!r}")
        key, label = row[0].strip(), row[1].strip()
        if lineno == 1 and key.lower() in {"path", "file", "filename", "image"}:
            continue
        mapping[str((root / key).resolve())] = label
        mapping.setdefault(key, label)
    labels = []
    for p in paths:
        label = mapping.get(str(p.resolve()), mapping.get(p.name))
        if label is None:
            raise CLIError(f"{labels_csv} has no label for image {p}")
        labels.append(label)
    return labels


def _labels_from_folders(root: Path, paths: list[Path]) -> list[str]:
    """Labels from the first sub-folder level below ``root`` (one folder per class)."""
    labels = []
    for p in paths:
        rel = p.relative_to(root)
        if len(rel.parts) < 2:
            raise CLIError(
                f"image {p} is not inside a class sub-folder of {root}; "
                "give --labels labels.csv or put each class in its own sub-folder"
            )
        labels.append(rel.parts[0])
    return labels


# ------------------------------------------------------------------------ the model


@dataclass
class _Decomposition:
    paths: list[Path]
    X: np.ndarray
    splice: Any
    skipped: list[Any]
    W: Any = None  # concept weights of all of X, once computed (CSR)


def _image_mean(args: argparse.Namespace) -> Any:
    from .vocabulary import IMAGE_MEANS, load_image_mean

    choice = args.image_mean
    if choice == "auto":
        known = args.pretrained is not None and (args.model, args.pretrained) in IMAGE_MEANS
        choice = "pretrained" if known else "data"
    if choice == "data":
        return None
    if choice == "pretrained":
        if args.pretrained is None:
            raise CLIError(
                "--image-mean pretrained needs --pretrained weights with a published mean"
            )
        return load_image_mean(args.model, args.pretrained, data_home=args.data_home)
    path = Path(choice)
    if not path.is_file():
        raise CLIError(f"--image-mean: no such file {path} (or use 'pretrained', 'data', 'auto')")
    try:
        if path.suffix == ".npy":
            mean = np.load(path, allow_pickle=False)
        else:
            import torch

            mean = torch.load(path, map_location="cpu", weights_only=True).numpy()
    except Exception as exc:
        raise CLIError(f"--image-mean: cannot read {path}: {exc}") from exc
    return np.asarray(mean, dtype=np.float32).ravel()


def _decompose(args: argparse.Namespace, paths: list[Path]) -> _Decomposition:
    from .embedders import CLIPEmbedder
    from .transformer import SpliceTransformer

    common = dict(
        model=args.model,
        pretrained=args.pretrained,
        device=args.device,
        batch_size=args.batch_size,
        verbose=not args.quiet,
    )
    image_embedder = CLIPEmbedder(
        modality="image", on_error="raise" if args.strict else "skip", **common
    )
    X, skipped = image_embedder.embed_images([str(p) for p in paths], return_skipped=True)
    keep = ~np.isnan(X).any(axis=1)
    if not keep.any():
        first = skipped[0] if skipped else None
        detail = f" (first, {first.item}: {first.reason})" if first is not None else ""
        raise CLIError(f"none of the {len(paths)} images could be read{detail}")
    X = X[keep]
    paths = [p for p, k in zip(paths, keep, strict=True) if k]
    image_mean = _image_mean(args)
    if image_mean is None and X.shape[0] < 2:
        raise CLIError(
            "the image mean cannot be learned from a single image: decompose more images at "
            "once, or give --image-mean pretrained / a .pt or .npy file"
        )
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(modality="text", **common),
        vocabulary=args.vocabulary,
        vocabulary_size=args.vocabulary_size,
        l1_penalty=args.l1_penalty if args.l1_penalty is not None else 0.25,
        target_l0=args.target_l0,
        solver=args.solver,
        device=args.device,
        image_mean=image_mean,
        data_home=args.data_home,
        verbose=not args.quiet,
    )
    splice.fit(X)
    return _Decomposition(paths=paths, X=X, splice=splice, skipped=list(skipped))


def _iter_rows(dec: _Decomposition, top_k: int, quiet: bool) -> Iterator[dict[str, Any]]:
    """Decompose in chunks and yield one record per image."""
    from tqdm.auto import tqdm

    from .dictionary import l2_normalize

    splice = dec.splice
    n = dec.X.shape[0]
    with tqdm(total=n, desc="decomposing", unit="img", disable=quiet, file=sys.stderr) as bar:
        for start in range(0, n, _CHUNK):
            X = dec.X[start : start + _CHUNK]
            W = splice.transform(X) if dec.W is None else dec.W[start : start + _CHUNK]
            R = splice.inverse_transform(W)
            cos = np.sum(l2_normalize(X) * R, axis=1)
            l0 = splice.l0(W, kind="weights", per_sample=True)
            tops = splice.top_concepts(W, k=top_k, kind="weights")
            for i in range(X.shape[0]):
                yield {
                    "path": str(dec.paths[start + i]),
                    "l0": int(l0[i]),
                    "cosine": round(float(cos[i]), 6),
                    "concepts": [{"concept": c, "weight": round(float(w), 6)} for c, w in tops[i]],
                }
            bar.update(X.shape[0])


# ------------------------------------------------------------------------- writers


class _Writer:
    """Streams records in one of the output formats; output stays valid when interrupted."""

    def __init__(self, fh: IO[str], fmt: str) -> None:
        self.fh = fh
        self.fmt = fmt
        self.n = 0
        if fmt == "csv":
            self._csv = csv.writer(fh, lineterminator="\n")
            self._csv.writerow(["path", "rank", "concept", "weight", "l0", "cosine"])
        elif fmt == "json":
            fh.write("[")

    def write(self, rec: dict[str, Any]) -> None:
        fmt, fh = self.fmt, self.fh
        if fmt == "jsonl":
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif fmt == "json":
            fh.write(("," if self.n else "") + "\n  " + json.dumps(rec, ensure_ascii=False))
        elif fmt == "csv":
            for rank, c in enumerate(rec["concepts"], start=1):
                self._csv.writerow(
                    [rec["path"], rank, c["concept"], c["weight"], rec["l0"], rec["cosine"]]
                )
            if not rec["concepts"]:
                self._csv.writerow([rec["path"], "", "", "", rec["l0"], rec["cosine"]])
        else:
            fh.write(f"{rec['path']}  (l0={rec['l0']}, cosine={rec['cosine']:.3f})\n")
            for c in rec["concepts"]:
                fh.write(f"  {c['weight']:8.4f}  {c['concept']}\n")
            if not rec["concepts"]:
                fh.write("  (no concept above the penalty)\n")
        fh.flush()
        self.n += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.fh.write("\n]\n" if self.n else "]\n")
        self.fh.flush()


@contextmanager
def _open_output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise CLIError(f"cannot write output file {path}: {exc.strerror or exc}") from exc
    with fh:
        yield fh


def _report_skipped(skipped: list[Any], n_total: int) -> None:
    if not skipped:
        return
    print(f"skipped {len(skipped)} of {n_total} images:", file=sys.stderr)
    for s in skipped:
        print(f"  {s.item}: {s.reason}", file=sys.stderr)


# ------------------------------------------------------------------------ commands


def _cmd_decompose(args: argparse.Namespace) -> int:
    paths = collect_images(args.inputs)
    dec = _decompose(args, paths)
    interrupted = False
    with _open_output(args.output) as fh:
        writer = _Writer(fh, args.format)
        try:
            for rec in _iter_rows(dec, args.top_k, args.quiet):
                writer.write(rec)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            writer.close()
    _report_skipped(dec.skipped, len(paths))
    if interrupted:
        print(f"interrupted: {writer.n} of {len(dec.paths)} images written", file=sys.stderr)
        return 130
    return 0


def _labelled(args: argparse.Namespace) -> tuple[list[Path], list[str]]:
    root = Path(args.folder)
    if not root.is_dir():
        raise CLIError(f"not a folder: {root}")
    paths = collect_images([root])
    if args.labels:
        labels = _read_labels(Path(args.labels), root, paths)
    else:
        labels = _labels_from_folders(root, paths)
    if len(set(labels)) < 2:
        raise CLIError(f"need at least two classes to profile, found {sorted(set(labels))}")
    return paths, labels


def _profile(args: argparse.Namespace, paths: list[Path], labels: list[str]):
    from .analysis import concept_profiles, rank_concepts

    dec = _decompose(args, paths)
    kept = {str(p) for p in dec.paths}
    y = np.asarray([lab for p, lab in zip(paths, labels, strict=True) if str(p) in kept])
    W = dec.W = dec.splice.transform(dec.X)
    concepts = dec.splice.get_feature_names_out()
    profiles = concept_profiles(W, y, concepts, drop_empty=True)
    classes = sorted(set(y.tolist()))
    rankings = []
    for cls in classes:
        r = rank_concepts(W, y, cls, None, concepts=concepts)
        r = (r if args.top_k is None else r.head(args.top_k)).reset_index(names="concept")
        r.insert(0, "class", cls)
        rankings.append(r)
    import pandas as pd

    ranking = pd.concat(rankings, ignore_index=True)
    return dec, profiles, ranking


def _cmd_profile(args: argparse.Namespace) -> int:
    paths, labels = _labelled(args)
    dec, _, ranking = _profile(args, paths, labels)
    _report_skipped(dec.skipped, len(paths))
    cols = [
        "class",
        "concept",
        "prevalence_positive",
        "prevalence_negative",
        "prevalence_diff",
        "test",
        "p_adjusted",
        "significant",
    ]
    table = ranking[cols]
    with _open_output(args.output) as fh:
        if args.format == "csv":
            table.to_csv(fh, index=False)
        elif args.format in ("json", "jsonl"):
            records = table.to_dict(orient="records")
            if args.format == "json":
                json.dump(records, fh, indent=1, default=_json_scalar)
                fh.write("\n")
            else:
                for rec in records:
                    fh.write(json.dumps(rec, default=_json_scalar) + "\n")
        else:
            # only what the statistics support is listed; the rest is counted
            alpha = ranking.attrs.get("alpha", 0.05)
            for cls, frame in table.groupby("class", sort=True):
                sig = frame[frame["significant"]]
                fh.write(
                    f"class {cls}: concepts significantly more frequent than in the other "
                    f"classes (adjusted p < {alpha:g})\n"
                )
                for _, row in sig.iterrows():
                    fh.write(
                        f"  {row['prevalence_positive']:6.1%} vs {row['prevalence_negative']:6.1%}"
                        f"  p_adj={row['p_adjusted']:.2g} ({row['test']})  {row['concept']}\n"
                    )
                n_not = len(frame) - len(sig)
                if sig.empty:
                    fh.write(f"  none: the top {n_not} are not significant (-f csv lists them)\n")
                elif n_not:
                    fh.write(f"  ({n_not} more of the top {len(frame)} not significant)\n")
    return 0


def _json_scalar(value: Any) -> Any:
    """numpy scalars (float64, bool_) as JSON values."""
    return value.item() if hasattr(value, "item") else float(value)


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import ImageResult, write_report

    if args.folder is not None and (args.labels or _has_class_folders(Path(args.folder))):
        paths, labels = _labelled(args)
        dec, profiles, ranking = _profile(args, paths, labels)
        label_of = {str(p): lab for p, lab in zip(paths, labels, strict=True)}
    else:
        inputs = [args.folder] if args.folder is not None else []
        paths = collect_images(inputs + list(args.inputs))
        dec = _decompose(args, paths)
        label_of, profiles, ranking = {}, None, None
    results = [
        ImageResult(
            path=rec["path"],
            concepts=[(c["concept"], c["weight"]) for c in rec["concepts"]],
            l0=rec["l0"],
            cosine=rec["cosine"],
            label=label_of.get(rec["path"]),
        )
        # all non-zero concepts: a click on an image shows its whole decomposition
        for rec in _iter_rows(dec, len(dec.splice.concepts_), args.quiet)
    ]
    settings = {
        "model": args.model,
        "pretrained": args.pretrained,
        "vocabulary": args.vocabulary,
        "concepts": len(dec.splice.concepts_),
        "l1 penalty": round(float(dec.splice.l1_penalty_), 4),
    }
    out = write_report(
        args.output,
        results,
        title=args.title,
        settings=settings,
        profiles=profiles,
        ranking=ranking,
        skipped=[(str(paths[s.index]), s.reason) for s in dec.skipped],
    )
    _report_skipped(dec.skipped, len(paths))
    if not args.quiet:
        size = out.stat().st_size if out.is_file() else 0
        shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
        print(f"wrote {out} ({len(results)} images, {shown})", file=sys.stderr)
    return 0


def _has_class_folders(root: Path) -> bool:
    return root.is_dir() and sum(1 for p in root.iterdir() if p.is_dir()) >= 2


# ---------------------------------------------------------------------------- parser


def _pretrained(value: str) -> str | None:
    return None if value.lower() in {"none", "random", ""} else value


def _positive_float(value: str) -> float:
    try:
        out = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from exc
    if not np.isfinite(out) or out <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value!r}")
    return out


def _positive_int(value: str) -> int:
    try:
        out = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from exc
    if out < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return out


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and dictionary")
    g.add_argument(
        "--model", default="ViT-B-32", help="open_clip model name (default: %(default)s)"
    )
    g.add_argument(
        "--pretrained",
        type=_pretrained,
        default="laion2b_s34b_b79k",
        help="open_clip pretrained tag or checkpoint path; 'none' for random weights "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--vocabulary",
        default="laion",
        help="laion, laion_bigrams, mscoco, or a text file with one concept per line "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--vocabulary-size",
        type=_positive_int,
        default=10000,
        help="number of most frequent concepts to use (default: %(default)s)",
    )
    sparsity = g.add_mutually_exclusive_group()
    sparsity.add_argument(
        "--l1-penalty", type=_positive_float, default=None, help="sparsity penalty (default: 0.25)"
    )
    sparsity.add_argument(
        "--target-l0",
        type=_positive_float,
        default=None,
        help="calibrate the penalty to this mean number of concepts per image",
    )
    g.add_argument(
        "--image-mean",
        default="auto",
        help="modality centre: 'pretrained' (the published mean of the model), 'data' "
        "(learned from the images given), a .pt/.npy file, or 'auto' (pretrained when "
        "published, else data) (default: %(default)s)",
    )
    g.add_argument(
        "--solver", default="auto", help="lasso solver: auto, admm, ... (default: %(default)s)"
    )
    r = p.add_argument_group("resources")
    r.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default: auto)")
    r.add_argument(
        "--data-home",
        default=None,
        help="folder for vocabularies, image means and dictionary caches "
        "(default: $SKSPLICE_DATA or ~/.cache/sksplice)",
    )
    r.add_argument(
        "--batch-size", type=_positive_int, default=64, help="images per forward pass (default: 64)"
    )
    o = p.add_argument_group("behaviour")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    o.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unreadable image instead of skipping it",
    )
    o.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sksplice`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with sub-commands ``decompose``, ``profile`` and ``report``.
    """
    parser = argparse.ArgumentParser(
        prog="sksplice",
        description="Explain CLIP embeddings of images as sparse combinations of "
        "human-readable concepts (SpLiCE).",
        epilog="The first run with a pretrained model downloads its weights and the "
        "vocabulary and caches them; later runs work offline.",
    )
    parser.add_argument("--version", action="version", version=f"sksplice {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "decompose",
        help="concept decomposition of images",
        description="Decompose each image into its top concepts, with weights, the number "
        "of non-zero concepts (l0) and the cosine similarity of the recomposition.",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="images or folders")
    p.add_argument("-k", "--top-k", type=_positive_int, default=10, help="concepts per image")
    p.add_argument("-f", "--format", choices=_FORMATS, default="table", help="output format")
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    _add_model_options(p)
    p.set_defaults(func=_cmd_decompose)

    p = sub.add_parser(
        "profile",
        help="per-class concept profiles and the concepts that separate classes",
        description="Rank, for each class, the concepts that occur in it significantly "
        "more often than in the other classes (Fisher's exact test when an expected count is "
        "below 5, else the two-proportion z-test; one-sided, Benjamini-Hochberg corrected).",
    )
    p.add_argument("folder", metavar="FOLDER", help="images, one sub-folder per class")
    p.add_argument("--labels", default=None, help="CSV of path,label (instead of sub-folders)")
    p.add_argument("-k", "--top-k", type=_positive_int, default=10, help="concepts per class")
    p.add_argument("-f", "--format", choices=_FORMATS, default="table", help="output format")
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    _add_model_options(p)
    p.set_defaults(func=_cmd_profile)

    p = sub.add_parser(
        "report",
        help="a self-contained HTML report",
        description="Write a static HTML page: thumbnails next to their concept bars, and "
        "for labelled folders the class profiles and the ranking table.",
    )
    p.add_argument("folder", nargs="?", default=None, metavar="FOLDER", help="images folder")
    p.add_argument("inputs", nargs="*", default=[], metavar="IMAGE", help="more images")
    p.add_argument("--labels", default=None, help="CSV of path,label")
    p.add_argument(
        "-k",
        "--top-k",
        type=_positive_int,
        default=None,
        help="ranking rows per class (default: every concept tested); images show all concepts",
    )
    p.add_argument("-o", "--output", required=True, help="output HTML file")
    p.add_argument("--title", default="sksplice concept report", help="page title")
    _add_model_options(p)
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sksplice`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "report" and args.folder is None and not args.inputs:
        parser.error("report needs a FOLDER or images")
    if args.quiet:
        logging.getLogger().setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (``sksplice ... | head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"sksplice: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
