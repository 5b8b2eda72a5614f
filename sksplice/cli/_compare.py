"""The ``compare`` command: concepts whose prevalence differs between two folders."""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._image_files import shown_name
from ._checks import (
    _check_options,
    _check_outputs_apart,
    _check_report_output,
    _warn_unknown_extension,
)
from ._decompose import (
    _decompose,
    _report_skipped,
    check_embeddings_run,
    decompose_embeddings,
    transformed,
)
from ._embeddings import EMBEDDING_SUFFIX
from ._inputs import _two_collections
from ._logging import CLIError, RunError, _usage
from ._output import (
    _default_of,
    _Output,
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
from ._report import _write_explorer

logger = logging.getLogger(__name__)


#: The columns of a comparison that ``compare`` writes, after ``concept``.
WRITTEN_COLUMNS = (
    "count_a",
    "count_b",
    "n_a",
    "n_b",
    "prevalence_a",
    "prevalence_b",
    "prevalence_diff",
    "mean_weight_diff",
    "test",
    "p_adjusted",
    "significant",
)


def written_comparison(comparison: Any) -> Any:
    """What ``compare`` writes of a comparison table: ``concept`` and
    :data:`WRITTEN_COLUMNS`, the shares and the weight difference to 6 significant
    digits (as profile writes its shares and decompose its weights: 6 decimals wrote
    the share of a concept in one image of more than two million as 0.0). Each row
    carries the sizes of the collections, ``n_a`` and ``n_b`` (from the table's
    ``attrs``), so that a row read on its own says how many images its counts are of."""
    comparison = comparison.assign(n_a=comparison.attrs["n_a"], n_b=comparison.attrs["n_b"])
    table = comparison[list(WRITTEN_COLUMNS)].reset_index(names="concept")
    for column in ("prevalence_a", "prevalence_b", "prevalence_diff", "mean_weight_diff"):
        table[column] = significant_values(table[column])
    return table


def _cmd_compare(args: argparse.Namespace) -> int:
    from ._embeddings import are_embeddings, check_names_options

    sides = [str(args.folder_a), str(args.folder_b)]
    embeddings = are_embeddings(sides)
    with _usage():
        _check_report_output(args)
        _check_one_kind(sides, embeddings)
        args.inputs = sides  # (the inputs, as the checks of .npy inputs read them)
        check_names_options(args, embeddings)
    if embeddings:
        return _compare_embeddings(args)
    with _usage():
        paths_a, paths_b = _two_collections(args)
        _check_outputs_apart(args, paths_a + paths_b)
        plan = _check_options(args)
        check_standard_output_encodes(
            getattr(args, "output", None), {"folder name": sides}, {"concept": plan.concepts}
        )
    _warn_unknown_extension(args)
    said = _warn_untestable_sides(args, len(paths_a), len(paths_b), "images")
    # (as the outputs write a name: see sksplice._image_files.shown_name)
    labels = (shown_name(sides[0]), shown_name(sides[1]))
    n_total = len(paths_a) + len(paths_b)

    def folders_read(kept: list[Path], skipped: list[Any]) -> None:
        # each folder still has an image: checked before the vocabulary is embedded
        read = {str(p) for p in kept}
        for folder, paths in ((labels[0], paths_a), (labels[1], paths_b)):
            if not any(str(p) in read for p in paths):
                _report_skipped(skipped, n_total)  # (every one, before the error)
                raise CLIError(f"none of the {len(paths)} images of {folder} could be read")

    # one decomposition (one dictionary, one modality centre) for both collections
    dec = _decompose(args, paths_a + paths_b, plan, check_read=folders_read)
    _report_skipped(dec.skipped, n_total)
    in_a = {str(p) for p in paths_a}
    from_a = np.array([str(p) in in_a for p in dec.paths], dtype=bool)
    return _compare(args, dec, from_a, [*paths_a, *paths_b], labels, said)


def _warn_untestable_sides(args: argparse.Namespace, n_a: int, n_b: int, unit: str) -> str | None:
    """Warn, before anything is embedded, that no concept can be significant where the
    sizes of the collections alone decide it (``n_a`` and ``n_b`` images, or rows of
    ``.npy`` files), in the words the end of the run would say it in (1 image against 3
    was said after the vocabulary was embedded and every image decomposed); what is
    said, which :func:`_compare` does not say again, or None."""
    from .._fisher import smallest_p_value
    from ..shift import compare_datasets

    alpha = _default_of(compare_datasets, "alpha")
    smallest = p_value_written(smallest_p_value(n_b, n_a, args.alternative), alpha)
    why = untestable(n_a, n_b, smallest, alpha, ("A", "B"), unit)
    if why is not None:
        logger.warning("no concept can be significant at alpha=%g: %s", alpha, why)
    return why


def _check_one_kind(sides: list[str], embeddings: bool) -> None:
    """Two folders of images, or two ``.npy`` files of embeddings: not one of each, and
    not one given as both."""
    from ._checks import _same_file

    if all(os.path.exists(side) for side in sides) and _same_file(*sides):
        also = "" if sides[0] == sides[1] else f" (as {sides[1]})"
        raise CLIError(
            f"{sides[0]} is given as both A and B{also}: compare two different collections"
        )
    arrays = [side for side in sides if side.lower().endswith(EMBEDDING_SUFFIX)]
    if arrays and not embeddings and not any(os.path.isdir(side) for side in arrays):
        other = next(side for side in sides if side not in arrays)
        raise CLIError(
            f"{arrays[0]} is a file of embeddings and {other} is not: compare takes two folders "
            "of images, or two .npy files of embeddings computed by one model (A.npy B.npy)"
        )


def _compare_embeddings(args: argparse.Namespace) -> int:
    """``compare`` given two ``.npy`` files: the rows of each, embeddings computed already,
    are a collection (only the vocabulary is embedded)."""
    sides = [str(args.folder_a), str(args.folder_b)]

    said: str | None = None

    def scanned(emb: Any) -> None:
        nonlocal said
        # each file still has a row: checked once every value is read, before the model
        kept, n_a = emb.kept(), int(emb.arrays[0].shape[0])
        for path, rows in ((sides[0], kept[:n_a]), (sides[1], kept[n_a:])):
            if not rows.any():
                _report_skipped(emb.skipped(), emb.n_rows, "rows")  # (every one, before the error)
                raise RunError(
                    f"none of the {plural(len(rows), 'row')} of {path} can be decomposed: every "
                    "one holds values that are not finite (NaN or infinite)"
                )
        _say_shared_rows(emb, sides)
        said = _warn_untestable_sides(args, int(kept[:n_a].sum()), int(kept[n_a:].sum()), "rows")

    run = check_embeddings_run(args, lambda emb: ({"folder name": sides}, {}), after_scan=scanned)
    emb = run.embeddings
    dec = decompose_embeddings(args, run)
    _report_skipped(dec.skipped, emb.n_rows, "rows")
    labels = (shown_name(sides[0]), shown_name(sides[1]))
    from_a = emb.of_kept(np.arange(emb.n_rows) < int(emb.arrays[0].shape[0]))
    return _compare(args, dec, from_a, emb.names, labels, said)


#: Rows whose keys are taken at a time (:func:`_row_keys`): 4,096 rows of 512 values
#: take 16 MiB of keys' terms.
_KEY_ROWS = 4096


def _row_keys(array: np.ndarray) -> np.ndarray:
    """A 64-bit key of each row of ``array``, from the bits of its float32 values: rows of
    the same values have the same key (a weighted sum of the bits, modulo 2**64)."""
    weights = np.random.default_rng(0).integers(1, 2**63, size=array.shape[1], dtype=np.uint64)
    weights |= np.uint64(1)
    keys = np.empty(array.shape[0], dtype=np.uint64)
    for start in range(0, array.shape[0], _KEY_ROWS):
        block = np.ascontiguousarray(array[start : start + _KEY_ROWS], dtype=np.float32)
        terms = block.view(np.uint32).astype(np.uint64)
        terms *= weights  # (wraps around, as the sum does: a key, not a number)
        keys[start : start + _KEY_ROWS] = terms.sum(axis=1, dtype=np.uint64)
    return keys


def _say_shared_rows(emb: Any, sides: list[str]) -> None:
    """Warn of the rows of B that hold the values of a row of A (a copy of the file, or of
    some of its rows), as ``compare`` warns of images copied from one folder to the other:
    each is counted in both collections, which makes them look more alike."""
    a, b = emb.arrays
    kept = emb.kept()
    n_a = int(a.shape[0])
    keys_a, keys_b = _row_keys(a), _row_keys(b)
    # (rows all zero, keys of 0, are no copies: they hold no embedding, and are said apart)
    rows_a = np.flatnonzero(kept[:n_a] & (keys_a != 0))
    order = rows_a[np.argsort(keys_a[rows_a], kind="stable")]
    sorted_a = keys_a[order]
    rows_b = np.flatnonzero(kept[n_a:] & (keys_b != 0))
    if not len(order) or not len(rows_b):
        return
    at = np.minimum(np.searchsorted(sorted_a, keys_b[rows_b]), len(order) - 1)
    candidates = sorted_a[at] == keys_b[rows_b]
    rows_b, at = rows_b[candidates], at[candidates]
    same = np.zeros(len(rows_b), dtype=bool)  # (the values themselves, not only the keys)
    for start in range(0, len(rows_b), _KEY_ROWS):
        part = slice(start, start + _KEY_ROWS)
        in_a = np.asarray(a[order[at[part]]], dtype=np.float32)
        in_b = np.asarray(b[rows_b[part]], dtype=np.float32)
        same[part] = (in_a.view(np.uint32) == in_b.view(np.uint32)).all(axis=1)
    copied = rows_b[same]
    if not copied.size:
        return
    first_b, first_a = emb.names[n_a + int(copied[0])], emb.names[int(order[at[same][0]])]
    n_b_kept = int(kept[n_a:].sum())
    one = copied.size == 1
    logger.warning(
        "%s of %s %s the values of %s of %s (%s%s, those of %s): each is counted in both "
        "collections, which makes them look more alike than their distinct rows are; leave "
        "the copies out of one file to compare distinct embeddings",
        f"all {n_b_kept} rows"
        if copied.size == n_b_kept and not one
        else plural(copied.size, "row"),
        sides[1],
        "holds" if one else "hold",
        "a row" if one else "rows",
        sides[0],
        "" if one else "first: ",
        first_b,
        first_a,
    )


def _compare(
    args: argparse.Namespace,
    dec: Any,
    from_a: np.ndarray,
    inputs: list[Any],
    labels: tuple[str, str],
    said: str | None = None,
) -> int:
    """Test the concepts of the rows of ``dec`` of collection A (``from_a``) against those
    of B, and write the comparison (and the explorer of ``--report``; ``inputs``: the
    images, or the names of the rows, given, as the skipped ones are numbered; ``said``:
    why no concept can be significant, as warned before the run, not warned again)."""
    from ..analysis import TooFewSamplesWarning, _correction_name
    from ..shift import compare_datasets

    W = transformed(dec.splice, dec.X)
    with warnings.catch_warnings():
        # (why no concept can be significant is warned below, in every format, and said
        # by the table, in the command line's words: A before B, images)
        warnings.simplefilter("ignore", TooFewSamplesWarning)
        comparison = compare_datasets(
            W[from_a],
            W[~from_a],
            concepts=dec.splice.get_feature_names_out(),
            labels=labels,
            alternative=args.alternative,
        )
    table = written_comparison(comparison if args.top_k is None else comparison.head(args.top_k))
    metadata = {
        **dec.metadata,
        "a": {"folder": labels[0], "images": int(from_a.sum())},
        "b": {"folder": labels[1], "images": int((~from_a).sum())},
        "alternative": args.alternative,
        "correction": comparison.attrs["correction"],
        "alpha": comparison.attrs["alpha"],
        "concepts_tested": len(comparison),
        # (all of them, also those beyond -k: rows come by p-value, they come first)
        "concepts_significant": int(comparison["significant"].sum()),
        # (of B against A: no concept can be significant where this is alpha or more)
        "smallest_p_value": p_value_written(
            comparison.attrs["smallest_p_value"], comparison.attrs["alpha"]
        ),
    }
    why = untestable(
        metadata["a"]["images"],
        metadata["b"]["images"],
        metadata["smallest_p_value"],
        metadata["alpha"],
        ("A", "B"),
        dec.unit,
    )
    # (the table says it under its rows as well: it may go to a file; said before the run
    # where the sizes were those, else now: images that could not be read change them)
    if why is not None and why != said:
        logger.warning("no concept can be significant at alpha=%g: %s", metadata["alpha"], why)
    beyond = metadata["concepts_significant"] - int(table["significant"].sum())
    if beyond and args.format != "table":  # (the table says it under its rows)
        # (a warning: the records say it nowhere else, and -q keeps warnings)
        logger.warning(
            "-k %d leaves out %s; -k %d keeps %s",
            args.top_k,
            plural(beyond, "significant concept"),
            metadata["concepts_significant"],
            "it" if beyond == 1 else "them",
        )
    if args.report is not None:
        # the explorer: the two collections as its two classes, every tested concept ranked
        dec.W = W
        _write_explorer(
            args,
            dec,
            inputs,
            args.report,
            title=f"sksplice compare: {labels[0]} vs {labels[1]}",
            row_labels=[labels[0 if a else 1] for a in from_a.tolist()],
            profiles=_shares(comparison, labels, int(from_a.sum()), int((~from_a).sum())),
            ranking=comparison,
            settings={
                "alternative": args.alternative,
                # (the page's words for it, as its text says it: not statsmodels' fdr_bh)
                "correction": _correction_name(comparison.attrs["correction"])
                or comparison.attrs["correction"],
            },
        )
    out = _Output(args.output)
    with out.writing():
        _write_comparison(out.fh, table, args.format, metadata, dec.unit)
        if args.format != "table":
            out.summary = plural(len(table), "concept")
        else:  # (the table lists the significant rows only, the first -k of them)
            listed = int(table["significant"].sum())
            out.summary = listed_of(listed, int(metadata["concepts_significant"]))
    return 0


def _shares(comparison: Any, labels: tuple[str, str], n_a: int, n_b: int) -> Any:
    """The prevalences of a comparison as a table of its two collections, for the
    report, with the images of each (``attrs["n_samples"]``: the page shows them)."""
    shares = comparison[["prevalence_a", "prevalence_b"]].set_axis(list(labels), axis=1)
    shares.attrs = {"n_samples": {labels[0]: n_a, labels[1]: n_b}}
    return shares


def _write_comparison(
    fh: _TextSink, table: Any, fmt: str, metadata: dict[str, Any], unit: str = "images"
) -> None:
    """Write a comparison: records, or the table of its significant concepts (``unit``:
    what the collections hold, ``"rows"`` of embeddings given as ``.npy`` files)."""
    if metadata.get("concepts_tested") == 0:  # (an empty comparison, unexplained; said
        # whatever the format: the table may go to a file)
        n_images = metadata["a"]["images"] + metadata["b"]["images"]
        logger.warning("no concept to test: %s", no_concept(n_images, unit))
    if fmt != "table":
        _write_table_records(fh, table, fmt, metadata, "comparison")
    else:
        a, b = metadata["a"], metadata["b"]
        sides = {"two-sided": "differs", "greater": "is higher in B", "less": "is lower in B"}
        fh.write(
            f"A: {a['folder']} ({plural(a['images'], unit[:-1])})  "
            f"B: {b['folder']} ({plural(b['images'], unit[:-1])})\n"
        )
        if not metadata["concepts_tested"]:  # (nothing tested: "none of the top 0" says nothing)
            fh.write(f"no concept to test: {no_concept(a['images'] + b['images'], unit)}\n")
            fh.flush()
            return
        sided = "two-sided" if metadata["alternative"] == "two-sided" else "one-sided"
        tested = plural(metadata["concepts_tested"], "concept")
        # (the correction named, as profile names it: "adjusted" alone says not which)
        from ..analysis import _correction_name

        correction = metadata.get("correction")
        named = _correction_name(correction) or correction
        adjusted = f", {named}-adjusted over the concepts tested" if correction else ""
        fh.write(
            f"concepts whose prevalence {sides[metadata['alternative']]} "
            f"(adjusted p < {metadata['alpha']:g}, {tested} tested; Fisher's exact test, "
            f"{sided}{adjusted})\n"
        )
        sig = table[table["significant"]]
        alpha = metadata["alpha"]
        _write_significant_rows(
            fh, sig, ("A ", "-> B "), ("count_a", "count_b"), (a["images"], b["images"]), alpha
        )
        n_significant = metadata.get("concepts_significant", len(sig))
        tested = metadata["concepts_tested"]
        # (the smallest p-value does not depend on which side is tested: A is named first)
        why = untestable(
            a["images"], b["images"], metadata.get("smallest_p_value"), alpha, ("A", "B"), unit
        )
        _write_significant_tail(fh, len(sig), n_significant, tested, len(table), "p-value", why)
    fh.flush()
