"""The ``profile`` command: per-class concept profiles and rankings."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import _check_options, _check_outputs_apart, _Plan, _warn_unknown_extension
from ._decompose import (
    _decompose,
    _Decomposition,
    _report_skipped,
    check_embeddings_run,
    decompose_embeddings,
    transformed,
)
from ._inputs import _labelled, labels_sha256
from ._logging import CLIError, RunError, _usage
from ._output import (
    _default_of,
    _Output,
    _printable,
    _TextSink,
    _write_significant_rows,
    _write_significant_tail,
    _write_table_records,
    check_standard_output_encodes,
    listed_of,
    no_concept,
    p_value_written,
    plural,
    significant_values,
    untestable,
)

logger = logging.getLogger(__name__)


def _profile(
    args: argparse.Namespace,
    paths: list[Path],
    labels: list[str],
    plan: _Plan,
    *,
    fewer_ok: bool = False,
):
    """Decompose the images and profile their classes: (decomposition, profiles, ranking).

    A class whose images are all unreadable is found once the images are embedded,
    before the vocabulary is. With ``fewer_ok`` (the report), fewer than two classes
    (given, or left with readable images) give the decomposition alone, with a
    warning, as a folder of one class does; else it is an error.
    """
    if fewer_ok and len(set(labels)) < 2:  # (said when the labels were read)
        return _decompose(args, paths, plan), None, None

    def classes_read(kept: list[Path], skipped: list[Any]) -> None:
        read = {str(p) for p in kept}
        left = {lab for p, lab in zip(paths, labels, strict=True) if str(p) in read}
        if not (fewer_ok and len(left) < 2):
            _check_classes_left(skipped, paths, labels, left)

    said = warn_untestable_classes(labels)
    dec = _decompose(args, paths, plan, check_read=classes_read)
    kept = {str(p) for p in dec.paths}
    y = np.asarray([lab for p, lab in zip(paths, labels, strict=True) if str(p) in kept])
    left = set(y.tolist())
    if fewer_ok and len(left) < 2:
        lost = ", ".join(repr(c) for c in sorted(set(labels) - left))
        logger.warning(
            "no class profiles: none of the images of %s could be read, which leaves %s; "
            "the report shows the images without them",
            f"class {lost}" if "," not in lost else f"classes {lost}",
            f"class {next(iter(left))!r} alone" if left else "no class",
        )
        return dec, None, None
    return _profiled(dec, y, said)


def _untestable_classes(labels: Sequence[Any] | np.ndarray) -> list[tuple[Any, int, int, float]]:
    """The classes of rows labelled ``labels`` too small for any concept to be
    significant in :func:`~sksplice.analysis.rank_each_class` (its defaults), as its
    :class:`~sksplice.analysis.TooFewSamplesWarning` lists them: (class, rows, rows of
    the rest, smallest p-value possible). The class sizes alone decide it."""
    from .._fisher import smallest_p_value
    from ..analysis import _below_alpha, rank_each_class

    alpha = _default_of(rank_each_class, "alpha")
    alternative = _default_of(rank_each_class, "alternative")
    classes, sizes = np.unique(np.asarray(labels), return_counts=True)
    n = int(sizes.sum())
    groups = [
        (cls, int(k), n - int(k), smallest_p_value(int(k), n - int(k), alternative))
        for cls, k in zip(classes.tolist(), sizes.tolist(), strict=True)
    ]
    return [g for g in groups if not _below_alpha(g[3], alpha)]


def warn_untestable_classes(labels: Sequence[Any]) -> list[tuple[Any, int, int, float]]:
    """Warn, before anything is embedded, of the classes among ``labels`` too small for
    any concept to be significant (:func:`_untestable_classes`), in the words
    ``rank_each_class`` would warn of them in once every image is decomposed (a
    class of one image among twelve was said after minutes of embedding); the classes
    warned of, which :func:`_profiled` does not warn of again."""
    from ..analysis import _warn_too_few_samples, rank_each_class

    said = _untestable_classes(labels) if len(set(labels)) > 1 else []
    alpha = _default_of(rank_each_class, "alpha")
    _warn_too_few_samples(said, alpha, "class {}", "in the rest")
    return said


def _profiled(dec: _Decomposition, y: np.ndarray, said: Sequence[Any] = ()):
    """The class profiles and the ranking of the rows of ``dec``, of classes ``y``:
    (``dec``, with its weights and classes, profiles, ranking). The classes too small
    to test are not warned of again where they are those ``said`` before the run
    (:func:`warn_untestable_classes`): images that could not be read change them."""
    import warnings

    from ..analysis import TooFewSamplesWarning, concept_profiles, rank_each_class

    W = dec.W = transformed(dec.splice, dec.X)
    concepts = dec.splice.get_feature_names_out()
    profiles = concept_profiles(W, y, concepts, drop_empty=True)
    classes = sorted(set(y.tolist()))
    dec.metadata["classes"] = {cls: int(np.count_nonzero(y == cls)) for cls in classes}
    # every class against the rest, the p-values adjusted in two levels: the table
    # lists the concepts of each class that differs from the rest at all (classes too
    # small for any concept to be significant are warned about in every format: the
    # table, which says it too, or the report may go to a file)
    with warnings.catch_warnings():
        if said and _untestable_classes(y) == list(said):
            warnings.simplefilter("ignore", TooFewSamplesWarning)
        ranking = rank_each_class(W, y, concepts)
    return dec, profiles, ranking


def _top_per_class(ranking: Any, k: int | None, *, said_elsewhere: bool = False) -> Any:
    """The first ``k`` rows of each class of ``ranking`` (``ranking`` itself for None, or
    when no class has more rows).

    The rows come by difference, not by p-value: a significant concept of a small
    class (2 of 10 images, none of 1,000) can rank below concepts that are not (10
    of 10, 750 of 1,000). What the cut leaves out of them is logged, with the
    ``-k`` that keeps them, and recorded in the ``attrs`` of the rows returned
    (``rows_per_class``, ``significant_not_listed``: the report says so).
    """
    if k is None:
        return ranking
    position = ranking.groupby("class", sort=False).cumcount().to_numpy()
    if not (position >= k).any():  # (nothing cut: nothing to say)
        return ranking
    significant = ranking["significant"].to_numpy(dtype=bool)
    top = ranking[position < k].reset_index(drop=True)
    top.attrs = dict(ranking.attrs)
    beyond = significant & (position >= k)
    top.attrs.update(rows_per_class=k, significant_not_listed=int(beyond.sum()))
    if beyond.any():
        per_class = ranking["class"][beyond].value_counts(sort=False)
        classes = ", ".join(f"class {c}: {n}" for c, n in sorted(per_class.items()))
        # (a warning: records that leave out significant rows say so nowhere else, and
        # -q keeps warnings; the report's page says it above its table)
        logger.log(
            logging.INFO if said_elsewhere else logging.WARNING,
            "-k %d leaves out %s (%s) whose differences rank below their class's top %d; "
            "-k %d keeps %s",
            k,
            plural(int(beyond.sum()), "significant concept"),
            classes,
            k,
            int(position[significant].max()) + 1,
            "it" if int(beyond.sum()) == 1 else "them",
        )
    return top


def _check_classes_left(
    skipped: list[Any],
    paths: Sequence[Any],
    labels: list[str],
    left: set[str],
    *,
    rows: bool = False,
) -> None:
    """Say which classes lost every image to unreadable files (``rows``: every row of
    ``.npy`` inputs to values that are not finite); refuse fewer than two left."""
    lost = sorted(set(labels) - left)
    if not lost:
        return
    counts = {cls: labels.count(cls) for cls in lost}

    def lost_all(cls: str) -> str:
        n = counts[cls]
        if rows:
            if n == 1:
                return (
                    f"the only row of class {cls!r} cannot be decomposed (its values are not "
                    "all finite)"
                )
            return (
                f"none of the {n} rows of class {cls!r} can be decomposed (their values are "
                "not all finite)"
            )
        if n == 1:
            return f"the only image of class {cls!r} could not be read"
        return f"none of the {n} images of class {cls!r} could be read"

    named = "; ".join(lost_all(c) for c in lost)
    if len(left) < 2:
        what = "rows" if rows else "images"
        _report_skipped(skipped, len(paths), what)
        remaining = ", ".join(repr(cls) for cls in sorted(left)) or "none"
        raise RunError(
            f"{named} (see the skipped {what} above); "
            f"classes with {what}: {remaining}; profiles need at least two"
        )
    logger.warning(
        "%s: left out of the profiles (%d classes left)",
        named,
        len(left),
    )


#: The columns of a ranking that ``profile`` writes, in order.
WRITTEN_COLUMNS = (
    "class",
    "concept",
    "count_positive",
    "count_negative",
    "prevalence_positive",
    "prevalence_negative",
    "prevalence_diff",
    "test",
    "p_adjusted",
    "significant",
)


def written_ranking(ranking: Any) -> Any:
    """What ``profile`` writes of a ranking table: :data:`WRITTEN_COLUMNS`, the shares
    to 6 significant digits (as decompose writes its weights: 6 decimals wrote the share
    of a concept in one image of more than two million as 0.0)."""
    table = ranking[list(WRITTEN_COLUMNS)].copy()
    for share in ("prevalence_positive", "prevalence_negative", "prevalence_diff"):
        table[share] = significant_values(table[share])
    if isinstance(ranking.attrs.get("class_p_adjusted"), dict):
        # (adjusted in two levels: the p_adjusted of every concept of a class that does
        # not differ as a whole is 1, capped, whatever its counts; the class's own beside
        # it says why)
        by_class = _class_p_written(ranking.attrs)
        table.insert(
            table.columns.get_loc("p_adjusted"),
            "class_p_adjusted",
            [by_class.get(str(cls)) for cls in table["class"]],
        )
    return table


def _class_p_written(attrs: dict[str, Any]) -> dict[str, float]:
    """The adjusted p of each class as a whole (the first of two levels), by class name,
    as the metadata and the rows write them."""
    alpha = attrs["alpha"]
    return {str(cls): p_value_written(q, alpha) for cls, q in attrs["class_p_adjusted"].items()}


def _cmd_profile(args: argparse.Namespace) -> int:
    from ._embeddings import are_embeddings, check_names_options

    args.inputs = [str(args.folder), *(str(i) for i in args.inputs)]
    embeddings = are_embeddings(args.inputs)
    with _usage():
        if not embeddings and len(args.inputs) > 1:
            raise CLIError(_several_inputs_message(args.inputs))
        check_names_options(args, embeddings)
    if embeddings:
        return _profile_embeddings(args)
    with _usage():
        paths, labels = _labelled(args)
        labels_digest = labels_sha256(args)  # (the file as it was read)
        _check_outputs_apart(args, paths)
        plan = _check_options(args)
        check_standard_output_encodes(
            getattr(args, "output", None),
            {"class": sorted(set(labels))},
            {"concept": plan.concepts},
        )
    _warn_unknown_extension(args)
    dec, _, ranking = _profile(args, paths, labels, plan)
    _report_skipped(dec.skipped, len(paths))
    return _write_profile_run(args, dec, ranking, labels_digest)


def _profile_embeddings(args: argparse.Namespace) -> int:
    """``profile`` given ``.npy`` files: their rows, embeddings computed already, are
    profiled by the classes of ``--labels`` or ``--labels-column`` (only the vocabulary
    is embedded)."""
    from ._embeddings import read_labels

    labels: list[str] = []
    said: list[Any] = []

    def classes_read(emb: Any) -> None:
        nonlocal labels
        labels = read_labels(args, emb)
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise CLIError(f"profile needs at least two classes, found 1: {classes[0]!r}")

    def classes_left(emb: Any) -> None:
        # (classes that lost every row to values that are not finite: before the model)
        if emb.not_finite:
            kept = {lab for lab, k in zip(labels, emb.kept(), strict=True) if k}
            _check_classes_left(emb.skipped(), emb.names, labels, kept, rows=True)
        said[:] = warn_untestable_classes(emb.of_kept(labels).tolist())

    run = check_embeddings_run(
        args,
        lambda emb: ({"class": sorted(set(labels))}, {}),
        after_read=classes_read,
        after_scan=classes_left,
    )
    emb = run.embeddings
    digest = labels_sha256(args)
    dec = decompose_embeddings(args, run)
    y = emb.of_kept(labels)
    dec, _, ranking = _profiled(dec, y, said)
    _report_skipped(dec.skipped, emb.n_rows, "rows")
    return _write_profile_run(args, dec, ranking, digest)


def _write_profile_run(
    args: argparse.Namespace, dec: _Decomposition, ranking: Any, labels_digest: str | None
) -> int:
    """Write the ranking of a profile run (its records, or the table of each class's
    significant concepts) with its metadata."""
    # (the table lists each class's significant concepts, at most -k of them; the
    # records are the top -k rows of each class, significant or not)
    table_format = args.format == "table"
    table = written_ranking(ranking if table_format else _top_per_class(ranking, args.top_k))
    attrs = ranking.attrs
    significant = ranking.groupby("class")["significant"].sum()
    metadata = {
        **dec.metadata,
        # (the classes' file, where --labels gave them; null for class folders)
        "labels": None if getattr(args, "labels", None) is None else str(args.labels),
        "labels_sha256": labels_digest,
        # (.npy inputs: the column of the --labels or --names tables that held the classes)
        **(
            {"labels_column": args.labels_column}
            if getattr(args, "labels_column", None) is not None
            else {}
        ),
        "alternative": attrs["alternative"],
        "correction": attrs["correction"],
        "alpha": attrs["alpha"],
        # (what the correction covers: every class's concepts together, or in two levels,
        # the classes first)
        "adjusted_over": attrs["adjusted_over"],
        "tests": attrs["n_tests"],
        **(
            {
                # (the first of the two levels: which classes differ from the rest at all)
                "class_p_adjusted": _class_p_written(attrs),
                "classes_differing": attrs["n_classes_differing"],
            }
            if "class_p_adjusted" in attrs
            else {}
        ),
        # (of every row, also those beyond -k: the records hold the top -k of each class)
        # (every class, also where no concept is ranked at all: 0)
        "significant_concepts": {
            str(cls): int(significant.get(cls, 0))
            for cls in dec.metadata.get("classes") or significant.index
        },
        # (no concept of a class can be significant where this is alpha or more)
        "smallest_p_value": {
            str(cls): p_value_written(p, attrs["alpha"])
            for cls, p in attrs["smallest_p_value"].items()
        },
    }
    out = _Output(args.output)
    with out.writing():
        _write_profile(out.fh, table, args.format, metadata, attrs["alpha"], args.top_k, dec.unit)
        n_classes = table["class"].nunique()
        classes = "1 class" if n_classes == 1 else f"{n_classes} classes"
        if args.format != "table":
            out.summary = f"{plural(len(table), 'ranking row')}, {classes}"
        else:  # (the table lists the significant rows only, the first -k of each class)
            per_class = table["class"][table["significant"].to_numpy(dtype=bool)].value_counts()
            listed = int(per_class.clip(upper=args.top_k).sum())
            out.summary = f"{listed_of(listed, int(per_class.sum()))}, {classes}"
    return 0


def _write_profile(
    fh: _TextSink,
    table: Any,
    fmt: str,
    metadata: dict[str, Any],
    alpha: float,
    top_k: int | None = None,
    unit: str = "images",
) -> None:
    """Write a ranking: records, or the table of each class's significant concepts.

    The table format is given every row of each class and lists its significant
    ones, largest difference first, at most ``top_k`` of them (then how many more
    there are); the other formats write ``table`` as it is. ``unit``: what the
    classes hold, ``"rows"`` of embeddings given as ``.npy`` files.
    """
    sizes = metadata.get("classes", {})
    total = sum(sizes.values())
    if table.empty:  # (an empty ranking, unexplained, reads as a failure; and standard
        # error says it whatever the format: the table may go to a file)
        logger.warning("no concept to rank: %s", no_concept(total, unit))
    if fmt != "table":
        _write_table_records(fh, table, fmt, metadata, "ranking")
    else:
        # only what the statistics support is listed; the rest is counted
        from ..analysis import (
            _all_classes_phrase,
            _below_alpha,
            _correction_name,
            _two_levels_phrase,
        )

        if table.empty:  # (an empty table would say nothing)
            fh.write(f"no concept to rank: {no_concept(total, unit)}\n")
        elif "tests" in metadata:
            correction = str(metadata.get("correction"))  # (as the text shows it)
            sided = "two-sided" if metadata.get("alternative") == "two-sided" else "one-sided"
            n_classes = len(sizes) or table["class"].nunique()
            over = (
                _two_levels_phrase(len(metadata["class_p_adjusted"]), metadata["classes_differing"])
                if "classes_differing" in metadata
                else f"over the {plural(metadata['tests'], 'test')} of "
                f"{_all_classes_phrase(n_classes)} together"
            )
            fh.write(
                f"p-values of Fisher's exact test ({sided}), "
                f"{_correction_name(correction) or correction}-adjusted {over}\n"
            )
        for cls, frame in table.groupby("class", sort=True):
            sig = frame[frame["significant"]]
            n = sizes.get(cls)
            counted = "" if n is None else f" ({plural(n, unit[:-1])}; {total - n} in the others)"
            fh.write(
                f"class {_printable(str(cls))}{counted}: concepts significantly more frequent "
                "than in the "
                f"other classes (adjusted p < {alpha:g})\n"
            )
            shown = sig if top_k is None else sig.head(top_k)
            _write_significant_rows(
                fh,
                shown,
                ("", "vs "),
                ("count_positive", "count_negative"),
                (n, None if n is None else total - n),
                alpha,
            )
            listed = len(frame) if top_k is None else min(top_k, len(frame))
            smallest = metadata.get("smallest_p_value", {}).get(str(cls))
            why = None if n is None else untestable(n, total - n, smallest, alpha, unit=unit)
            class_p = metadata.get("class_p_adjusted", {}).get(str(cls))
            undiffering = None if class_p is None or _below_alpha(class_p, alpha) else class_p
            _write_significant_tail(
                fh, len(shown), len(sig), len(frame), listed, "difference", why, undiffering
            )
    fh.flush()


def _several_inputs_message(inputs: list[str]) -> str:
    """The error of ``profile`` given several inputs that are not all ``.npy`` files, with
    what to give instead: the folder the class folders are in, ``compare`` for two
    folders, or the ``.npy`` files alone."""
    import os

    first, second = inputs[0], inputs[1]
    said = (
        f"profile takes one folder of images, its classes in its sub-folders (or given by "
        f"--labels), or .npy files of embeddings; got {second} after {first}"
    )
    npy = [i for i in inputs if i.lower().endswith(".npy")]
    if npy:
        return (
            f"{said}: give the .npy files without the images ({npy[0]} is one), or the folder alone"
        )
    parents = {os.path.dirname(os.path.abspath(i.rstrip(os.sep))) for i in inputs}
    if len(parents) == 1 and all(os.path.isdir(i) for i in inputs):
        parent = os.path.relpath(parents.pop())
        two = (
            f"; to compare two folders with each other, sksplice compare {first} {second}"
            if len(inputs) == 2
            else ""
        )
        return (
            f"{said}: if they are classes, give the folder they are in (sksplice profile "
            f"{parent}){two}"
        )
    return (
        f"{said}: put the images of each class in a sub-folder of one folder, and give that folder"
    )
