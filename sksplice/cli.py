"""The ``sksplice`` command: concept decompositions, class profiles and HTML reports.

Standard output carries only results; progress, information, warnings and
errors go to standard error through one logging handler.

Exit codes: 0 on success, 2 for usage errors (argparse), 1 for runtime errors,
reported as one line naming the file or setting at fault (a traceback only
with ``--debug``), 130 when interrupted (Ctrl-C) and 143 when terminated
(SIGTERM); an output file is then left as it was and the records finished so
far are kept in ``FILE.partial``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import difflib
import io
import json
import logging
import os
import re
import secrets
import signal
import stat
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._version import __version__

__all__ = ["IMAGE_EXTENSIONS", "collect_images", "main"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_FORMATS = ("table", "csv", "json", "jsonl")
_CHUNK = 512
_NAMED_VOCABULARY_SIZE = 10000
_MEAN_KEYWORDS = ("auto", "pretrained", "data")
_DEFAULT_PRETRAINED = "laion2b_s34b_b79k"


class CLIError(Exception):
    """A runtime error reported to the user as one line (exit code 1)."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit code 143 instead of 130)."""


# ------------------------------------------------------------------------ messages

#: Keyword arguments of the library and the options that set them.
_FLAGS = {
    "vocabulary_size": "--vocabulary-size",
    "l1_penalty": "--l1-penalty",
    "target_l0": "--target-l0",
    "image_mean": "--image-mean",
    "data_home": "--data-home",
    "batch_size": "--batch-size",
    "pretrained": "--pretrained",
    "vocabulary": "--vocabulary",
    "device": "--device",
    "solver": "--solver",
    "model": "--model",
}
_PHRASES = (
    ("pretrained=<path to a checkpoint file>", "--pretrained PATH"),
    ("pretrained=None", "--pretrained none"),
    ("image_mean=None", "--image-mean data"),
    ("image_mean='pretrained'", "--image-mean pretrained"),
    ("device='cpu'", "--device cpu"),
    (" (or pass cache_dir=...)", ""),
)
_ASSIGNMENT = re.compile(r"\b(" + "|".join(_FLAGS) + r")=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)")
_BARE = re.compile(
    r"(?<![\w./\\-])(vocabulary_size|l1_penalty|target_l0|image_mean|data_home|batch_size)\b"
)


def _cli_words(text: str) -> str:
    """Say a library message in the words of the command line (options, not keywords)."""
    for old, new in _PHRASES:
        text = text.replace(old, new)

    def option(match: re.Match[str]) -> str:
        value = match.group(2)
        if value[:1] in "'\"":
            value = value[1:-1]
        return f"{_FLAGS[match.group(1)]} {value}"

    text = _ASSIGNMENT.sub(option, text)
    return _BARE.sub(lambda m: _FLAGS[m.group(1)], text)


#: What a command-line user can do about each kind of warning.
_WARNING_FIXES = {
    "DictionaryCacheWarning": "give --cache-dir a writable folder to keep the dictionary "
    "for later runs",
    "ConvergenceWarning": "those rows keep the best weights found; a larger --l1-penalty "
    "converges sooner",
}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = _cli_words(record.getMessage())
        if record.levelno >= logging.ERROR:
            text = f"sksplice: error: {text}"
        elif record.levelno >= logging.WARNING:
            text = f"sksplice: warning: {text}"
        else:
            text = f"sksplice: {text}"
        if record.exc_info and logging.getLogger("sksplice").isEnabledFor(logging.DEBUG):
            text += "\n" + self.formatException(record.exc_info)
        return text


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the command: one line on standard error, with the fix."""
    text = " ".join(str(message).split())
    fix = _WARNING_FIXES.get(category.__name__)
    logger.warning("%s%s", text, f" ({fix})" if fix else "")


@contextlib.contextmanager
def _stderr_logging(quiet: bool, debug: bool) -> Iterator[None]:
    """One stderr handler for the run: INFO (WARNING with -q, DEBUG with --debug)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(_Formatter())
    root, package = logging.getLogger(), logging.getLogger("sksplice")
    saved = (root.level, package.level, package.propagate)
    root.addHandler(handler)
    root.setLevel(logging.INFO if debug else logging.WARNING)
    package.setLevel(level)
    package.propagate = True
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        package.setLevel(saved[1])
        package.propagate = saved[2]


# --------------------------------------------------------------------------- inputs


def _walk_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, following symlinked folders once each.

    A folder reached again through a link (a loop, or a second link to a folder
    already walked) is not walked twice; a warning names the link. Links to
    missing files with an image extension are kept, so that they are reported
    as unreadable rather than dropped.
    """
    found: list[Path] = []
    seen = {os.path.realpath(folder)}
    for top, dirs, files in os.walk(folder, followlinks=True):
        keep = []
        for name in sorted(dirs):
            sub = Path(top) / name
            real = os.path.realpath(sub)
            if real in seen:
                logger.warning(
                    "not following %s: it leads to %s, a folder already read (a loop or a "
                    "second link to it); its images are taken once",
                    sub,
                    real,
                )
                continue
            seen.add(real)
            keep.append(name)
        dirs[:] = keep
        for name in files:
            path = Path(top) / name
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                found.append(path)
    return sorted(found)


def collect_images(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders into a sorted list of image paths.

    Parameters
    ----------
    inputs : sequence of path-like
        Image files (taken as given, whatever their extension) and folders
        (walked recursively for files with an image extension, in sorted
        order; symlinked folders are followed, each real folder once).

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
            found = _walk_images(path)
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


_PATH_HEADERS = {"path", "file", "filename", "image"}


def _read_labels(labels_csv: Path, root: Path, paths: list[Path]) -> list[str]:
    """Labels for ``paths`` from a CSV of path,label.

    A path is matched by its location relative to ``root`` (absolute paths
    too); a bare file name matches an image of that name in a sub-folder only
    when exactly one image has that name.
    """
    import pandas as pd

    if not labels_csv.is_file():
        raise CLIError(f"labels file {labels_csv} does not exist or is not a file")
    try:
        table = pd.read_csv(
            labels_csv,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            encoding="utf-8",
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CLIError(f"cannot read labels file {labels_csv}: {exc}") from exc
    if table.shape[1] < 2:
        raise CLIError(f"{labels_csv}: expected two columns 'path,label', found {table.shape[1]}")
    rows = [(str(k).strip(), str(v).strip()) for k, v in zip(table[0], table[1])]
    first_line = 1
    if rows and rows[0][0].lower() in _PATH_HEADERS:
        rows, first_line = rows[1:], 2

    def rel(p: Path) -> str:
        return Path(os.path.normpath(p)).relative_to(os.path.normpath(root)).as_posix()

    by_rel = {rel(p): i for i, p in enumerate(paths)}
    by_name: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        by_name.setdefault(p.name, []).append(i)
    labels: list[str | None] = [None] * len(paths)
    origin: list[int] = [0] * len(paths)
    unmatched = 0
    for offset, (key, label) in enumerate(rows):
        line = first_line + offset
        if not key:
            raise CLIError(f"{labels_csv}, line {line}: empty path")
        if not label:
            raise CLIError(f"{labels_csv}, line {line}: no label for {key}")
        target = Path(key)
        norm = os.path.normpath(target if target.is_absolute() else root / target)
        try:
            index = by_rel.get(Path(norm).relative_to(os.path.normpath(root)).as_posix())
        except ValueError:
            index = None
        if index is None and "/" not in key and os.sep not in key:
            same = by_name.get(key, [])
            if len(same) > 1:
                raise CLIError(
                    f"{labels_csv}, line {line}: the bare name {key!r} matches "
                    f"{paths[same[0]]} and {paths[same[1]]}; give the path relative to {root}"
                )
            index = same[0] if same else None
        if index is None:
            unmatched += 1
            continue
        if labels[index] is not None and labels[index] != label:
            raise CLIError(
                f"{labels_csv}: lines {origin[index]} and {line} give image {paths[index]} two "
                f"labels ({labels[index]!r}, {label!r})"
            )
        labels[index], origin[index] = label, line
    if unmatched:
        logger.warning("%d rows of %s name no image under %s", unmatched, labels_csv, root)
    for p, label in zip(paths, labels, strict=True):
        if label is None:
            raise CLIError(f"{labels_csv} has no label for image {p}")
    return [str(label) for label in labels]


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
class _Plan:
    """Every option checked and resolved, before anything is embedded."""

    model: str
    pretrained: str | None
    embed_dim: int
    concepts: list[str]
    image_mean: Any  # None (learn from the images), or a 1-D float array
    mean_source: str  # "data", "pretrained" or "file"
    mean_file: str | None = None


@dataclass
class _Decomposition:
    paths: list[Path]
    X: np.ndarray
    splice: Any
    skipped: list[Any]
    plan: _Plan
    n_inputs: int
    W: Any = None  # concept weights of all of X, once computed (CSR)
    metadata: dict[str, Any] = field(default_factory=dict)


def _close(word: str, options: Sequence[str], n: int = 5) -> str:
    """`` (close matches: a, b)`` for a misspelt option value, or ``""``."""
    lowered = {o.lower(): o for o in options}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    return f" (close matches: {', '.join(lowered[m] for m in found)})" if found else ""


def _check_device(device: str) -> None:
    from ._device import resolve_device as _resolve_device

    try:
        _resolve_device(device)
    except ValueError as exc:
        if "CUDA is not available" in str(exc):
            raise CLIError(
                f"--device {device}: CUDA is not available on this machine; use --device cpu "
                "(or --device auto)"
            ) from exc
        raise CLIError(
            f"--device {device!r} is not a device (use auto, cpu, cuda or cuda:N)"
        ) from exc


def _check_solver(solver: str) -> None:
    from .solvers import SOLVERS

    if solver not in SOLVERS:
        raise CLIError(
            f"--solver {solver!r} is not a solver; choose one of {', '.join(SOLVERS)}"
            f"{_close(solver, SOLVERS)}"
        )


def _check_model(args: argparse.Namespace) -> tuple[str, str | None, int]:
    """The model name, the pretrained weights and the embedding dimension."""
    import open_clip

    from ._models import HF_HUB_PREFIX, _ensure_tag_weights
    from .embedders import CLIPEmbedder

    model, pretrained = args.model, args.pretrained
    if model.startswith(HF_HUB_PREFIX):
        if pretrained not in (None, _DEFAULT_PRETRAINED):
            logger.warning(
                "--pretrained %s is ignored: %s models bring their own weights",
                pretrained,
                HF_HUB_PREFIX,
            )
        pretrained = None
    else:
        from ._models import _register_env_model_configs

        _register_env_model_configs()
        models = open_clip.list_models()
        if model not in models and model.replace("/", "-") not in models:
            raise CLIError(
                f"--model {model!r} is not an open_clip model{_close(model, models)}; "
                f"see open_clip.list_models() ({len(models)} names), or give "
                f"{HF_HUB_PREFIX}ORG/REPO for a model on the Hugging Face Hub"
            )
        model = model if model in models else model.replace("/", "-")
        if pretrained is not None:
            tags = open_clip.list_pretrained_tags_by_model(model)
            clean = {t.lower().replace("-", "_"): t for t in tags}
            key = pretrained.lower().replace("-", "_")
            if key in clean:
                pretrained = clean[key]
            elif not Path(pretrained).expanduser().is_file():
                listed = ", ".join(tags) if tags else "none"
                raise CLIError(
                    f"--pretrained {pretrained!r} is neither a pretrained tag of {model} nor a "
                    f"checkpoint file{_close(pretrained, tags)}; tags of {model}: {listed}; "
                    "--pretrained none gives random weights"
                )
    embedder = CLIPEmbedder(model=model, pretrained=pretrained, device="cpu")
    config = embedder._config()  # an hf-hub: model fetches its config here (or fails fast)
    if config.pretrained_kind == "tag":
        _ensure_tag_weights(config.model, config.pretrained, None)  # offline: fail now
    return model, pretrained, config.embed_dim


def _check_vocabulary(args: argparse.Namespace) -> list[str]:
    """The concepts, with --vocabulary-size checked against the vocabulary's length."""
    from .vocabulary import VOCABULARIES, load_vocabulary

    name, size = args.vocabulary, args.vocabulary_size
    path = Path(name).expanduser()
    if name in VOCABULARIES:
        concepts = load_vocabulary(name, size=None, data_home=args.data_home)
        what = f"the {name!r} vocabulary"
        if size is None:
            size = min(_NAMED_VOCABULARY_SIZE, len(concepts))
    elif path.is_file():
        try:
            concepts = load_vocabulary(path, size=None)
        except ValueError as exc:
            raise CLIError(f"--vocabulary {path}: {exc}") from exc
        what = f"vocabulary file {path}"
    elif path.exists():
        raise CLIError(f"--vocabulary {path} is not a file")
    else:
        raise CLIError(
            f"--vocabulary {name!r} is neither a vocabulary name ({', '.join(VOCABULARIES)}) "
            f"nor an existing text file{_close(name, list(VOCABULARIES))}"
        )
    if size is not None and size > len(concepts):
        raise CLIError(
            f"--vocabulary-size {size} is larger than the {len(concepts)} concepts of {what}; "
            f"use --vocabulary-size {len(concepts)} or less"
        )
    return concepts[:size] if size is not None else concepts


def _check_image_mean(
    args: argparse.Namespace, model: str, pretrained: str | None, d: int
) -> tuple[Any, str, str | None]:
    """The modality centre: (mean or None, source, file)."""
    from .vocabulary import IMAGE_MEANS, as_mean_vector, load_image_mean

    choice = args.image_mean
    published = pretrained is not None and (model, pretrained.lower()) in IMAGE_MEANS
    if choice == "auto":
        choice = "pretrained" if published else "data"
    if choice == "data":
        return None, "data", None
    if choice == "pretrained":
        if not published:
            known = ", ".join(f"--model {m} --pretrained {p}" for m, p in IMAGE_MEANS)
            raise CLIError(
                f"--image-mean pretrained: no published image mean for --model {model} "
                f"--pretrained {pretrained or 'none'} (published: {known}); use --image-mean "
                "data to learn it from the images, or --image-mean FILE.npy"
            )
        return (
            as_mean_vector(load_image_mean(model, pretrained, data_home=args.data_home), d),
            ("pretrained"),
            None,
        )
    path = Path(choice).expanduser()
    if not path.is_file():
        raise CLIError(f"--image-mean: no such file {path} (or use {', '.join(_MEAN_KEYWORDS)})")
    try:
        mean = as_mean_vector(path, d, source="--image-mean")
    except ValueError as exc:
        raise CLIError(f"{exc} (model {model})") from exc
    return mean, "file", str(path)


def _check_output(path: str | None, option: str = "-o") -> None:
    """An output file can be written: its folder exists and it is not a folder."""
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise CLIError(f"cannot write output file {target}: it is a directory ({option})")
    folder = Path(os.path.realpath(target)).parent
    if not folder.is_dir():
        raise CLIError(f"cannot write output file {target}: folder {folder} does not exist")
    if target.exists() and not stat.S_ISREG(os.stat(target).st_mode):
        return  # a pipe or a device: written through
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write output file {target}: folder {folder} is not writable")


def _check_options(args: argparse.Namespace) -> _Plan:
    """Check every option (cheap checks first) before any image or concept is embedded."""
    _check_output(getattr(args, "output", None))
    _check_device(args.device)
    _check_solver(args.solver)
    model, pretrained, d = _check_model(args)
    concepts = _check_vocabulary(args)
    mean, source, mean_file = _check_image_mean(args, model, pretrained, d)
    return _Plan(model, pretrained, d, concepts, mean, source, mean_file)


def _one_image_advice() -> str:
    from .transformer import MIN_MEAN_SAMPLES

    return (
        "the image mean (the modality centre) cannot be learned from a single image: its "
        "centred embedding would be zero. Decompose it together with other images of the "
        f"kind (at least {MIN_MEAN_SAMPLES} give a stable centre), give --image-mean FILE.npy "
        "(the mean embedding of this model's images), or use a model with a published mean "
        "(--model ViT-B-32 --pretrained laion2b_s34b_b79k)"
    )


def _decompose(args: argparse.Namespace, paths: list[Path], plan: _Plan) -> _Decomposition:
    from .embedders import CLIPEmbedder
    from .transformer import MIN_MEAN_SAMPLES, SmallMeanSampleWarning, SpliceTransformer

    if plan.image_mean is None and len(paths) < 2:
        raise CLIError(_one_image_advice())
    verbose = 0 if args.quiet else 1
    common = dict(
        model=plan.model,
        pretrained=plan.pretrained,
        device=args.device,
        batch_size=args.batch_size,
        verbose=verbose,
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
    kept = [p for p, k in zip(paths, keep, strict=True) if k]
    if plan.image_mean is None and X.shape[0] < 2:
        raise CLIError(_one_image_advice())
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(modality="text", **common),
        vocabulary=plan.concepts,
        vocabulary_size=None,
        l1_penalty=args.l1_penalty if args.l1_penalty is not None else 0.25,
        target_l0=args.target_l0,
        solver=args.solver,
        device=args.device,
        image_mean=plan.image_mean,
        data_home=args.data_home,
        cache_dir=args.cache_dir,
        verbose=verbose,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)  # said below, in CLI words
        splice.fit(X)
    if splice.mean_source_ == "data" and X.shape[0] < MIN_MEAN_SAMPLES:
        logger.warning(
            "the image mean (modality centre) is learned from only %d images, fewer than %d: "
            "each image's concepts depend on which other images are in the run; decompose "
            "more images at once, or give --image-mean FILE.npy",
            X.shape[0],
            MIN_MEAN_SAMPLES,
        )
    dec = _Decomposition(
        paths=kept, X=X, splice=splice, skipped=list(skipped), plan=plan, n_inputs=len(paths)
    )
    dec.metadata = _metadata(args, dec)
    if not (splice.mean_source_ == "data" and X.shape[0] < MIN_MEAN_SAMPLES):
        logger.info("image mean: %s", _mean_summary(dec.metadata))
    return dec


def _metadata(args: argparse.Namespace, dec: _Decomposition) -> dict[str, Any]:
    """Settings and provenance of a run (the ``metadata`` of JSON output)."""
    from .transformer import MIN_MEAN_SAMPLES

    splice, plan = dec.splice, dec.plan
    mean: dict[str, Any] = {"source": splice.mean_source_ if plan.mean_source != "file" else "file"}
    if plan.mean_file is not None:
        mean["file"] = plan.mean_file
    if splice.mean_source_ == "data":
        mean["n_samples"] = splice.n_mean_samples_
        mean["stable"] = splice.n_mean_samples_ >= MIN_MEAN_SAMPLES
        mean["min_stable_samples"] = MIN_MEAN_SAMPLES
    return {
        "sksplice_version": __version__,
        "model": plan.model,
        "pretrained": plan.pretrained,
        "vocabulary": args.vocabulary,
        "concepts": len(splice.concepts_),
        "l1_penalty": float(splice.l1_penalty_),
        "target_l0": args.target_l0,
        "solver": args.solver,
        "image_mean": mean,
        "images": dec.n_inputs,
        "decomposed": len(dec.paths),
        "skipped": [{"path": s.item, "reason": s.reason} for s in dec.skipped],
    }


def _mean_summary(metadata: dict[str, Any]) -> str:
    mean = metadata["image_mean"]
    if mean["source"] == "data":
        note = "" if mean["stable"] else f", fewer than {mean['min_stable_samples']}: unstable"
        return f"learned from {mean['n_samples']} images{note}"
    if mean["source"] == "file":
        return f"from {mean['file']}"
    return f"published mean of {metadata['model']} / {metadata['pretrained']}"


def _iter_rows(dec: _Decomposition, top_k: int, quiet: bool) -> Iterator[dict[str, Any]]:
    """Decompose in chunks and yield one record per image."""
    from tqdm.auto import tqdm

    from ._array import l2_normalize

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
    """Streams records in one of the output formats; output stays valid when interrupted.

    ``json`` is one object ``{"metadata": {...}, "images": [...]}``; ``jsonl``
    and ``csv`` hold one record per line or row and nothing else. ``extra``
    names record fields written before the path (CSV columns, table prefix).
    """

    def __init__(
        self, fh: IO[str], fmt: str, metadata: dict[str, Any], extra: Sequence[str] = ()
    ) -> None:
        self.fh = fh
        self.fmt = fmt
        self.n = 0
        self.extra = tuple(extra)
        if fmt == "csv":
            self._csv = csv.writer(fh, lineterminator="\n")
            self._csv.writerow([*self.extra, "path", "rank", "concept", "weight", "l0", "cosine"])
        elif fmt == "json":
            head = json.dumps(metadata, ensure_ascii=False, indent=None)
            fh.write('{"metadata": ' + head + ',\n "images": [')

    def write(self, rec: dict[str, Any]) -> None:
        fmt, fh = self.fmt, self.fh
        if fmt == "jsonl":
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif fmt == "json":
            fh.write(("," if self.n else "") + "\n  " + json.dumps(rec, ensure_ascii=False))
        elif fmt == "csv":
            head = [rec[e] for e in self.extra]
            for rank, c in enumerate(rec["concepts"], start=1):
                self._csv.writerow(
                    [*head, rec["path"], rank, c["concept"], c["weight"], rec["l0"], rec["cosine"]]
                )
            if not rec["concepts"]:
                self._csv.writerow([*head, rec["path"], "", "", "", rec["l0"], rec["cosine"]])
        else:
            head = "".join(f"{e}={rec[e]}, " for e in self.extra)
            fh.write(f"{rec['path']}  ({head}l0={rec['l0']}, cosine={rec['cosine']:.3f})\n")
            for c in rec["concepts"]:
                fh.write(f"  {c['weight']:8.4f}  {c['concept']}\n")
            if not rec["concepts"]:
                fh.write("  (no concept above the penalty)\n")
        fh.flush()
        self.n += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.fh.write("\n ]}\n" if self.n else "]}\n")
        self.fh.flush()


class _Output:
    """Where results go: standard output (streamed), or a file replaced only when complete.

    A regular output file is written to a hidden temporary file in its folder
    and renamed over the target at the end, so a killed run leaves the
    previous file as it was. An interrupted run (Ctrl-C, SIGTERM) keeps the
    records finished so far in ``FILE.partial`` instead. A symlink is
    followed (its target is replaced, never the link); a target that is not a
    regular file (a pipe, ``/dev/stdout``) is written through.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, "-") else Path(path)
        self.tmp: Path | None = None
        self.fh: IO[str] = sys.stdout
        self._raw: IO[bytes] | None = None
        if self.path is None:
            return
        target = Path(os.path.realpath(self.path))
        self.target = target
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        try:
            if mode is not None and not stat.S_ISREG(mode):
                self._raw = open(target, "wb")  # noqa: SIM115 - a pipe or device
            else:
                self.tmp = target.with_name(f".{target.name[:96]}.{secrets.token_hex(6)}.tmp")
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                self._raw = os.fdopen(fd, "wb")
        except OSError as exc:
            raise CLIError(f"cannot write output file {path}: {exc.strerror or exc}") from exc
        self.fh = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")

    def _close(self) -> None:
        if self._raw is None:
            self.fh.flush()
            return
        self.fh.flush()
        if self.tmp is not None:
            os.fsync(self._raw.fileno())
        self.fh.close()

    def commit(self) -> None:
        """The output is complete: put it in place."""
        self._close()
        if self.tmp is not None:
            os.replace(self.tmp, self.target)

    def keep_partial(self) -> Path | None:
        """The run was interrupted: keep what was written as ``FILE.partial``."""
        self._close()
        if self.tmp is None:
            return self.path
        partial = self.target.with_name(self.target.name + ".partial")
        os.replace(self.tmp, partial)
        return partial

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.fh.close() if self._raw is not None else None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)


def _report_skipped(skipped: list[Any], n_total: int) -> None:
    if not skipped:
        return
    lines = "".join(f"\n  {s.item}: {s.reason}" for s in skipped)
    logger.warning("skipped %d of %d images:%s", len(skipped), n_total, lines)


def _interrupted(exc: KeyboardInterrupt) -> int:
    return 143 if isinstance(exc, _Terminated) else 130


# ------------------------------------------------------------------------ commands


def _cmd_decompose(args: argparse.Namespace) -> int:
    plan = _check_options(args)
    paths = collect_images(args.inputs)
    dec = _decompose(args, paths, plan)
    out = _Output(args.output)
    writer = None
    try:
        writer = _Writer(out.fh, args.format, dec.metadata)
        for rec in _iter_rows(dec, args.top_k, args.quiet):
            writer.write(rec)
        writer.close()
    except KeyboardInterrupt as exc:
        if writer is not None:
            writer.close()
        where = out.keep_partial()
        _report_skipped(dec.skipped, len(paths))
        n = writer.n if writer is not None else 0
        kept = f"; the {n} finished records are in {where}" if where is not None else ""
        logger.error("interrupted: %d of %d images written%s", n, len(dec.paths), kept)
        return _interrupted(exc)
    except BaseException:
        out.discard()
        raise
    out.commit()
    _report_skipped(dec.skipped, len(paths))
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


def _profile(args: argparse.Namespace, paths: list[Path], labels: list[str], plan: _Plan):
    from .analysis import concept_profiles, rank_concepts

    dec = _decompose(args, paths, plan)
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
    plan = _check_options(args)
    paths, labels = _labelled(args)
    dec, _, ranking = _profile(args, paths, labels, plan)
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
    out = _Output(args.output)
    try:
        _write_profile(out.fh, table, args.format, dec.metadata, ranking.attrs.get("alpha", 0.05))
    except BaseException:
        out.discard()
        raise
    out.commit()
    return 0


def _json_scalar(value: Any) -> Any:
    """numpy scalars (float64, bool_) as JSON values."""
    return value.item() if hasattr(value, "item") else float(value)


def _write_table_records(
    fh: IO[str], table: Any, fmt: str, metadata: dict[str, Any], key: str
) -> None:
    """``table`` as csv, jsonl (one record per line) or json (``{"metadata", key}``)."""
    if fmt == "csv":
        table.to_csv(fh, index=False)
        return
    records = table.to_dict(orient="records")
    if fmt == "json":
        json.dump({"metadata": metadata, key: records}, fh, indent=1, default=_json_scalar)
        fh.write("\n")
    else:
        for rec in records:
            fh.write(json.dumps(rec, default=_json_scalar) + "\n")


def _write_profile(
    fh: IO[str], table: Any, fmt: str, metadata: dict[str, Any], alpha: float
) -> None:
    if fmt != "table":
        _write_table_records(fh, table, fmt, metadata, "ranking")
    else:
        # only what the statistics support is listed; the rest is counted
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
            _write_not_significant(fh, len(sig), len(frame))
    fh.flush()


def _write_not_significant(fh: IO[str], n_significant: int, n_rows: int) -> None:
    """The table format's last line: how many of the rows shown were not significant."""
    n_not = n_rows - n_significant
    if not n_significant:
        fh.write(f"  none: the top {n_not} are not significant (-f csv lists them)\n")
    elif n_not:
        fh.write(f"  ({n_not} more of the top {n_rows} not significant)\n")


def _check_query(args: argparse.Namespace, concepts: list[str]) -> dict[str, float] | None:
    """The ``--concepts`` query as {name: weight}, every name checked against the vocabulary.

    ``--concepts dog,snow`` weighs each concept 1; ``dog:2,snow`` gives a weight.
    Returns None for a ``--text`` query (checked to be non-empty).
    """
    from .retrieval import unknown_concepts_error

    if args.text is not None:
        if not args.text.strip():
            raise CLIError("--text is empty: give the query text, e.g. --text 'a dog in the snow'")
        return None
    query: dict[str, float] = {}
    for item in args.concepts.split(","):
        name, _, weight = item.strip().partition(":")
        name = name.strip()
        if not name:
            raise CLIError(f"--concepts {args.concepts!r} has an empty concept name")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise CLIError(
                f"--concepts: the weight of {name!r} is {weight!r}, not a number"
            ) from None
        if not (np.isfinite(value) and value > 0):
            raise CLIError(f"--concepts: the weight of {name!r} must be positive, got {weight}")
        query[name] = query.get(name, 0.0) + value
    known = set(concepts)
    unknown = [name for name in query if name not in known]
    if unknown:
        raise CLIError(str(unknown_concepts_error(unknown, concepts, "--concepts")))
    return query


def _cmd_search(args: argparse.Namespace) -> int:
    from sklearn.base import clone

    from .retrieval import ConceptRetriever

    plan = _check_options(args)
    query = _check_query(args, plan.concepts)
    paths = collect_images(args.inputs)
    dec = _decompose(args, paths, plan)
    _report_skipped(dec.skipped, len(paths))
    splice = dec.splice
    W = dec.W = splice.transform(dec.X)
    if query is None:
        # a text query is centred like the vocabulary's texts, not like the images
        text_splice = clone(splice).set_params(image_mean=splice.concept_mean_, verbose=0)
        # (the centre is given, so the rows fit sees only set the dimension)
        text_splice.fit(splice.concept_mean_[None, :])
        retriever = ConceptRetriever(splice=text_splice, mode=args.mode).fit(W)
        query = retriever.decompose_text(args.text)
        if query:
            shown = ", ".join(f"{name} {weight:.3f}" for name, weight in query.items())
            logger.info("the query text decomposes into: %s", shown)
        else:
            logger.warning("the query text decomposes to no concept; nothing matches")
    else:
        retriever = ConceptRetriever(concepts=splice.get_feature_names_out(), mode=args.mode)
        retriever.fit(W)
    if query:
        indices, scores = retriever.search(query, k=args.n_results)
    else:
        indices, scores = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    metadata = {
        **dec.metadata,
        "query": {"concepts": query, "text": args.text, "mode": args.mode},
        "results": len(indices),
    }
    # only the results are described (top concepts, l0, cosine), best first
    found = dataclasses.replace(
        dec, paths=[dec.paths[int(i)] for i in indices], X=dec.X[indices], W=W[indices]
    )
    out = _Output(args.output)
    try:
        writer = _Writer(out.fh, args.format, metadata, extra=("result", "score"))
        records = _iter_rows(found, args.top_k, True)
        for rank, (rec, score) in enumerate(zip(records, scores, strict=True), start=1):
            writer.write({"result": rank, "score": round(float(score), 6), **rec})
        writer.close()
    except BaseException:
        out.discard()
        raise
    out.commit()
    return 0


def _two_collections(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The images of the two folders of ``compare``; they must not share an image."""
    folders = [Path(args.folder_a), Path(args.folder_b)]
    for folder in folders:
        if not folder.is_dir():
            raise CLIError(f"not a folder: {folder}")
    paths_a, paths_b = collect_images([folders[0]]), collect_images([folders[1]])
    real_a = {os.path.realpath(p) for p in paths_a}
    shared = [p for p in paths_b if os.path.realpath(p) in real_a]
    if shared:
        raise CLIError(
            f"{folders[0]} and {folders[1]} share {len(shared)} image(s) (first: {shared[0]}); "
            "compare two distinct collections"
        )
    return paths_a, paths_b


def _cmd_compare(args: argparse.Namespace) -> int:
    from .shift import compare_datasets

    _check_report_output(args)
    plan = _check_options(args)
    paths_a, paths_b = _two_collections(args)
    # one decomposition (one dictionary, one modality centre) for both collections
    dec = _decompose(args, paths_a + paths_b, plan)
    _report_skipped(dec.skipped, len(paths_a) + len(paths_b))
    in_a = {str(p) for p in paths_a}
    from_a = np.array([str(p) in in_a for p in dec.paths], dtype=bool)
    labels = (str(args.folder_a), str(args.folder_b))
    for mask, folder in ((from_a, labels[0]), (~from_a, labels[1])):
        if not mask.any():
            raise CLIError(f"none of the images of {folder} could be read")
    W = dec.splice.transform(dec.X)
    comparison = compare_datasets(
        W[from_a],
        W[~from_a],
        concepts=dec.splice.get_feature_names_out(),
        labels=labels,
        alternative=args.alternative,
    )
    table = comparison if args.top_k is None else comparison.head(args.top_k)
    cols = [
        "count_a",
        "count_b",
        "prevalence_a",
        "prevalence_b",
        "prevalence_diff",
        "mean_weight_diff",
        "test",
        "p_adjusted",
        "significant",
    ]
    table = table[cols].reset_index(names="concept")
    metadata = {
        **dec.metadata,
        "a": {"folder": labels[0], "images": int(from_a.sum())},
        "b": {"folder": labels[1], "images": int((~from_a).sum())},
        "alternative": args.alternative,
        "correction": comparison.attrs["correction"],
        "alpha": comparison.attrs["alpha"],
        "concepts_tested": len(comparison),
    }
    if args.report is not None:
        # the explorer: the two collections as its two classes, every tested concept ranked
        label_of = {str(p): labels[0 if a else 1] for p, a in zip(dec.paths, from_a, strict=True)}
        dec.W = W
        _write_explorer(
            args,
            dec,
            paths_a + paths_b,
            args.report,
            title=f"sksplice compare: {labels[0]} vs {labels[1]}",
            label_of=label_of,
            profiles=comparison[["prevalence_a", "prevalence_b"]].set_axis(list(labels), axis=1),
            ranking=comparison,
            settings={
                "alternative": args.alternative,
                "correction": comparison.attrs["correction"],
            },
        )
    out = _Output(args.output)
    try:
        _write_comparison(out.fh, table, args.format, metadata)
    except BaseException:
        out.discard()
        raise
    out.commit()
    return 0


def _check_report_output(args: argparse.Namespace) -> None:
    """``compare --report``: an HTML file that is not the ``-o`` output."""
    if args.report is None:
        return
    if args.report == "-":
        raise CLIError("--report needs a file name (the results go to standard output or -o)")
    _check_output(args.report, "--report")
    if args.output not in (None, "-") and os.path.realpath(args.output) == os.path.realpath(
        args.report
    ):
        raise CLIError(f"--report and -o name the same file {args.report}; give two files")


def _write_comparison(fh: IO[str], table: Any, fmt: str, metadata: dict[str, Any]) -> None:
    if fmt != "table":
        _write_table_records(fh, table, fmt, metadata, "comparison")
    else:
        a, b = metadata["a"], metadata["b"]
        sides = {"two-sided": "differs", "greater": "is higher in B", "less": "is lower in B"}
        fh.write(
            f"A: {a['folder']} ({a['images']} images)  B: {b['folder']} ({b['images']} images)\n"
            f"concepts whose prevalence {sides[metadata['alternative']]} "
            f"(adjusted p < {metadata['alpha']:g}, {metadata['concepts_tested']} concepts "
            "tested)\n"
        )
        sig = table[table["significant"]]
        for _, row in sig.iterrows():
            fh.write(
                f"  A {row['prevalence_a']:6.1%} -> B {row['prevalence_b']:6.1%}"
                f"  p_adj={row['p_adjusted']:.2g} ({row['test']})  {row['concept']}\n"
            )
        _write_not_significant(fh, len(sig), len(table))
    fh.flush()


def _cmd_report(args: argparse.Namespace) -> int:
    plan = _check_options(args)
    if args.folder is not None and (args.labels or _has_class_folders(Path(args.folder))):
        paths, labels = _labelled(args)
        dec, profiles, ranking = _profile(args, paths, labels, plan)
        label_of = {str(p): lab for p, lab in zip(paths, labels, strict=True)}
    else:
        inputs = [args.folder] if args.folder is not None else []
        paths = collect_images(inputs + list(args.inputs))
        dec = _decompose(args, paths, plan)
        label_of, profiles, ranking = {}, None, None
    _report_skipped(dec.skipped, len(paths))
    _write_explorer(
        args,
        dec,
        paths,
        args.output,
        title=args.title,
        label_of=label_of,
        profiles=profiles,
        ranking=ranking,
    )
    return 0


def _write_explorer(
    args: argparse.Namespace,
    dec: _Decomposition,
    paths: list[Path],
    output: str,
    *,
    title: str,
    label_of: dict[str, str],
    profiles: Any,
    ranking: Any,
    settings: dict[str, Any] | None = None,
) -> None:
    """Write the HTML explorer of ``dec`` (images labelled by ``label_of``) to ``output``."""
    from .report import ImageResult, write_report

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
        "image mean": _mean_summary(dec.metadata),
        **(settings or {}),
    }
    out = write_report(
        output,
        results,
        title=title,
        settings=settings,
        profiles=profiles,
        ranking=ranking,
        skipped=[(str(paths[s.index]), s.reason) for s in dec.skipped],
    )
    size = out.stat().st_size if out.is_file() else 0
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    logger.info("wrote %s (%d images, %s)", out, len(results), shown)


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
        "--model",
        default="ViT-B-32",
        help="open_clip model name, or hf-hub:ORG/REPO (default: %(default)s)",
    )
    g.add_argument(
        "--pretrained",
        type=_pretrained,
        default=_DEFAULT_PRETRAINED,
        help="open_clip pretrained tag or checkpoint path; 'none' for random weights; "
        "ignored for hf-hub:ORG/REPO models (default: %(default)s)",
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
        default=None,
        help="number of concepts to use: the most frequent ones of a named vocabulary "
        "(default 10000), the first ones of a file (default: all)",
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
        "(learned from the images given; a warning below 100 images), a .npy/.pt file "
        "holding a 1-D float vector, or 'auto' (pretrained when published, else data) "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--solver",
        default="auto",
        help="lasso solver: auto, admm or working_set (default: %(default)s)",
    )
    r = p.add_argument_group("resources")
    r.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default: auto)")
    r.add_argument(
        "--data-home",
        default=None,
        help="folder for vocabularies and image means; may be read-only "
        "(default: $SKSPLICE_DATA or ~/.cache/sksplice)",
    )
    r.add_argument(
        "--cache-dir",
        default=None,
        help="writable folder for the embedded-vocabulary cache "
        "(default: $SKSPLICE_CACHE, else the per-user cache folder, ~/.cache/sksplice on Linux)",
    )
    r.add_argument(
        "--batch-size", type=_positive_int, default=64, help="images per forward pass (default: 64)"
    )
    o = p.add_argument_group("behaviour")
    o.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or information; only warnings and errors (on standard error)",
    )
    o.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unreadable image instead of skipping it",
    )
    o.add_argument("--debug", action="store_true", help="debug messages and tracebacks of errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sksplice`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with sub-commands ``decompose``, ``profile``, ``compare``, ``search``
        and ``report``.
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
        "compare",
        help="the concepts whose prevalence differs between two image folders",
        description="Decompose two image collections with one dictionary and modality centre "
        "and test, concept by concept, whether its prevalence differs between them (Fisher's "
        "exact test when an expected count is below 5, else the two-proportion z-test; "
        "two-sided by default, Benjamini-Hochberg corrected). Rows are sorted by p-value.",
    )
    p.add_argument("folder_a", metavar="A_FOLDER", help="images of collection A")
    p.add_argument("folder_b", metavar="B_FOLDER", help="images of collection B")
    p.add_argument(
        "--alternative",
        choices=("two-sided", "greater", "less"),
        default="two-sided",
        help="greater: more frequent in B than in A; less: less frequent in B",
    )
    p.add_argument("-k", "--top-k", type=_positive_int, default=20, help="rows (smallest p-values)")
    p.add_argument("-f", "--format", choices=_FORMATS, default="table", help="output format")
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    p.add_argument(
        "--report",
        default=None,
        metavar="OUT.html",
        help="also write the HTML explorer: the two folders as its classes, every tested "
        "concept in its table",
    )
    _add_model_options(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "search",
        help="images ranked by a query made of concepts or a text",
        description="Decompose the images and rank them by a query: named concepts "
        "(--concepts dog,snow; dog:2 weighs a concept) or a text decomposed into the same "
        "concepts (--text). mode 'or' ranks the images holding any query concept by the "
        "weighted sum of their weights, 'and' only those holding every one, 'min' those by "
        "their weakest query concept.",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="images or folders")
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--concepts", default=None, help="comma-separated concepts, e.g. dog,snow")
    q.add_argument("--text", default=None, help="a query text, decomposed into concepts")
    p.add_argument("--mode", choices=("or", "and", "min"), default="or", help="matching rule")
    p.add_argument(
        "-n", "--n-results", type=_positive_int, default=10, help="images returned at most"
    )
    p.add_argument("-k", "--top-k", type=_positive_int, default=5, help="concepts per image")
    p.add_argument("-f", "--format", choices=_FORMATS, default="table", help="output format")
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    _add_model_options(p)
    p.set_defaults(func=_cmd_search)

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
    with _stderr_logging(args.quiet, args.debug), _sigterm_as_interrupt():
        try:
            return int(args.func(args))
        except KeyboardInterrupt as exc:
            logger.error("interrupted")
            return _interrupted(exc)
        except BrokenPipeError:
            # the reader of our output went away (``sksplice ... | head``): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except Exception as exc:
            if args.debug:
                raise
            text = str(exc).strip()
            msg = " ".join(text.split()) if text else type(exc).__name__
            logger.error("%s", msg)
            return 1


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` (a KeyboardInterrupt) for the run."""

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
