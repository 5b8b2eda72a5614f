"""The ``profile`` command: per-class concept profiles and rankings."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import _check_options, _check_outputs_apart, _Plan, _warn_unknown_extension
from ._decompose import _decompose, _report_skipped
from ._inputs import _labelled
from ._logging import CLIError, _usage
from ._output import (
    _Output,
    _TextSink,
    _write_not_significant,
    _write_significant_rows,
    _write_table_records,
    no_concept,
    plural,
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
    from ..analysis import _rank_each_class, concept_profiles

    if fewer_ok and len(set(labels)) < 2:  # (said when the labels were read)
        return _decompose(args, paths, plan), None, None

    def classes_read(kept: list[Path], skipped: list[Any]) -> None:
        read = {str(p) for p in kept}
        left = {lab for p, lab in zip(paths, labels, strict=True) if str(p) in read}
        if not (fewer_ok and len(left) < 2):
            _check_classes_left(skipped, paths, labels, left)

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
    W = dec.W = dec.splice.transform(dec.X)
    concepts = dec.splice.get_feature_names_out()
    profiles = concept_profiles(W, y, concepts, drop_empty=True)
    classes = sorted(set(y.tolist()))
    dec.metadata["classes"] = {cls: int(np.count_nonzero(y == cls)) for cls in classes}
    # every class against the rest, the p-values adjusted over all classes' tests
    # together: the table shows them together
    ranking = _rank_each_class(W, y, concepts)
    if args.top_k is not None:
        attrs = ranking.attrs
        ranking = ranking.groupby("class", sort=False).head(args.top_k).reset_index(drop=True)
        ranking.attrs = attrs
    return dec, profiles, ranking


def _check_classes_left(
    skipped: list[Any], paths: list[Path], labels: list[str], left: set[str]
) -> None:
    """Say which classes lost every image to unreadable files; refuse fewer than two left."""
    lost = sorted(set(labels) - left)
    if not lost:
        return
    counts = {cls: labels.count(cls) for cls in lost}
    named = "; ".join(f"none of the {counts[c]} images of class {c!r} could be read" for c in lost)
    if len(left) < 2:
        _report_skipped(skipped, len(paths))
        remaining = ", ".join(repr(cls) for cls in sorted(left)) or "none"
        raise CLIError(
            f"{named} (see the skipped images above); "
            f"classes with images: {remaining}; profiles need at least two"
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
    rounded to 6 decimals (as decompose rounds its weights)."""
    table = ranking[list(WRITTEN_COLUMNS)].copy()
    shares = ["prevalence_positive", "prevalence_negative", "prevalence_diff"]
    table[shares] = table[shares].round(6)
    return table


def _cmd_profile(args: argparse.Namespace) -> int:
    with _usage():
        paths, labels = _labelled(args)
        _check_outputs_apart(args, paths)
        plan = _check_options(args)
    _warn_unknown_extension(args)
    dec, _, ranking = _profile(args, paths, labels, plan)
    _report_skipped(dec.skipped, len(paths))
    table = written_ranking(ranking)
    attrs = ranking.attrs
    metadata = {
        **dec.metadata,
        "alternative": attrs["alternative"],
        "correction": attrs["correction"],
        "alpha": attrs["alpha"],
        # (what the correction covers: every class's concepts, not each class's alone)
        "adjusted_over": attrs["adjusted_over"],
        "tests": attrs["n_tests"],
    }
    out = _Output(args.output)
    with out.writing():
        _write_profile(out.fh, table, args.format, metadata, attrs["alpha"])
        if args.format != "table":  # (the table lists the significant rows only)
            n_classes = table["class"].nunique()
            classes = "1 class" if n_classes == 1 else f"{n_classes} classes"
            out.summary = f"{plural(len(table), 'ranking row')}, {classes}"
    return 0


#: The corrections as the table format names them.
_CORRECTIONS = {
    "fdr_bh": "Benjamini-Hochberg",
    "fdr_by": "Benjamini-Yekutieli",
    "holm": "Holm",
    "bonferroni": "Bonferroni",
}


def _write_profile(
    fh: _TextSink, table: Any, fmt: str, metadata: dict[str, Any], alpha: float
) -> None:
    sizes = metadata.get("classes", {})
    total = sum(sizes.values())
    if fmt != "table":
        if table.empty:  # (an empty ranking, unexplained, reads as a failure)
            logger.warning("no concept to rank: %s", no_concept(total))
        _write_table_records(fh, table, fmt, metadata, "ranking")
    else:
        # only what the statistics support is listed; the rest is counted
        if table.empty:  # (an empty table would say nothing)
            fh.write(f"no concept to rank: {no_concept(total)}\n")
        elif "tests" in metadata:
            from ..analysis import _all_classes_phrase

            correction = str(metadata.get("correction"))  # (as the text shows it)
            sided = "two-sided" if metadata.get("alternative") == "two-sided" else "one-sided"
            fh.write(
                f"p-values of Fisher's exact test ({sided}), "
                f"{_CORRECTIONS.get(correction, correction)}-adjusted over the "
                f"{plural(metadata['tests'], 'test')} of "
                f"{_all_classes_phrase(len(sizes) or table['class'].nunique())} together\n"
            )
        for cls, frame in table.groupby("class", sort=True):
            sig = frame[frame["significant"]]
            n = sizes.get(cls)
            counted = "" if n is None else f" ({plural(n, 'image')}; {total - n} in the others)"
            fh.write(
                f"class {cls}{counted}: concepts significantly more frequent than in the "
                f"other classes (adjusted p < {alpha:g})\n"
            )
            _write_significant_rows(
                fh, sig, "{:6.1%} vs {:6.1%}", "prevalence_positive", "prevalence_negative"
            )
            _write_not_significant(fh, len(sig), len(frame))
    fh.flush()
