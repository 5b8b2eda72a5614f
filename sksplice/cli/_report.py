"""The ``report`` command and the HTML explorer (also written by ``compare --report``)."""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .._atomic import atomic_write, remove_stale_temporaries
from .._version import __version__
from ..solvers._names import resolved_solver
from ._checks import _check_options, _check_outputs_apart, _warn_unknown_extension
from ._decompose import (
    _decompose,
    _Decomposition,
    _iter_rows,
    _mean_summary,
    _report_skipped,
    _say_if_dense,
    _say_if_mostly_empty,
    check_embeddings_run,
    decompose_embeddings,
    refuse_one_input_early,
    refuse_one_input_unpublished,
)
from ._inputs import (
    _check_folder,
    _collect_images,
    _has_class_folders,
    _labelled,
    _outputs_of,
    labels_sha256,
)
from ._logging import CLIError, _usage, committing, raise_if_signalled
from ._output import naming_write_errors, no_concept, plural, say_wrote, significant
from ._profile import _profile, _profiled, _top_per_class, warn_untestable_classes

logger = logging.getLogger(__name__)


def _cmd_report(args: argparse.Namespace) -> int:
    from ._embeddings import are_embeddings, check_names_options

    given = [str(args.folder), *(str(i) for i in args.inputs)]
    embeddings = are_embeddings(given)
    with _usage():
        if args.output == "-":
            raise CLIError(
                "-o needs a file name: the report is an HTML page to open in a browser "
                "(e.g. -o report.html)"
            )
        check_names_options(argparse.Namespace(**{**vars(args), "inputs": given}), embeddings)
    if embeddings:
        args.inputs = given  # (the .npy files, as the checks of .npy inputs read them)
        return _report_embeddings(args)
    with _usage():
        labelled = args.labels is not None or _has_class_folders(Path(args.folder))
        if labelled:
            if args.labels is not None and not Path(args.folder).is_dir():
                # (images given by name: --labels labels the images of one folder)
                _check_folder(
                    Path(args.folder),
                    f"; --labels {args.labels} labels the images of a folder (sksplice report "
                    f"FOLDER --labels {args.labels}, its paths relative to FOLDER)",
                )
            if args.inputs:
                how = f"--labels {args.labels}" if args.labels else "its class sub-folders"
                raise CLIError(
                    f"report {args.folder} profiles the classes of {args.folder} ({how}), "
                    f"so it takes no other images (got {len(args.inputs)}, first "
                    f"{args.inputs[0]}): put them in a class folder, or leave them out"
                )
            paths, labels = _labelled(args, "report")
            # (the file as it was read: hashed now, not once the images are decomposed)
            labels_digest = labels_sha256(args)
            before_model = None
        else:
            labels_digest = None
            inputs = [args.folder, *args.inputs]
            paths = _collect_images(inputs, _outputs_of(args), classes=False)
            refuse_one_input_early(args, paths, inputs)
            folders = [str(i) for i in inputs if os.path.isdir(i)]
            if len(folders) > 1:  # (pooled: a user may expect them as groups)
                logger.info(
                    "the images of the %d folders are shown together, without classes "
                    "(sksplice compare %s %s --report OUT.html shows two folders as two "
                    "collections; a folder of class sub-folders is profiled by class)",
                    len(folders),
                    folders[0],
                    folders[1],
                )

            def before_model() -> None:
                refuse_one_input_unpublished(args, paths, inputs)

        _check_outputs_apart(args, paths)
        plan = _check_options(args, before_model=before_model)
    _warn_unknown_extension(args)
    if labelled:
        dec, profiles, ranking = _profile(args, paths, labels, plan, fewer_ok=True)
        if ranking is not None:
            ranking = _top_per_class(ranking, args.top_k, said_elsewhere=True)
        label_of = {str(p): lab for p, lab in zip(paths, labels, strict=True)}
        rows: list[str] | None = [label_of[str(p)] for p in dec.paths]
    else:
        dec = _decompose(args, paths, plan)
        rows, profiles, ranking = None, None, None
    _report_skipped(dec.skipped, len(paths))
    return _write_report(args, dec, paths, profiles, ranking, labels_digest, rows)


def _write_report(
    args: argparse.Namespace,
    dec: _Decomposition,
    inputs: list[Any],
    profiles: Any,
    ranking: Any,
    labels_digest: str | None,
    row_labels: Sequence[str] | None = None,
) -> int:
    """Write the page of ``report`` (``inputs``: the images, or the names of the rows,
    given, as the skipped ones are numbered; ``row_labels``: the class of each row of
    ``dec``) and say what it found."""
    with_concepts = _write_explorer(
        args,
        dec,
        inputs,
        args.output,
        title=args.title,
        row_labels=row_labels,
        profiles=profiles,
        ranking=ranking,
        labels_digest=labels_digest,
    )
    if not with_concepts:  # (as decompose says it; the page says it too)
        logger.warning("%s", no_concept(len(dec.paths), dec.unit))
    elif dec.W is None and args.target_l0 is None:  # (decomposed in chunks, which say nothing)
        _say_if_mostly_empty(dec.splice, len(dec.paths) - with_concepts, len(dec.paths))
    return 0


def _report_embeddings(args: argparse.Namespace) -> int:
    """``report`` given ``.npy`` files: their rows, embeddings computed already, named by
    ``--names`` (a thumbnail where a name is the path of an image that can be read), and
    classed by ``--labels`` or ``--labels-column`` where given (only the vocabulary is
    embedded)."""
    from ._embeddings import read_labels

    labels: list[str] = []
    said: list[Any] = []
    labelled = bool(args.labels) or getattr(args, "labels_column", None) is not None

    def classes_read(emb: Any) -> None:
        nonlocal labels
        if labelled:
            labels = read_labels(args, emb)

    def classes_left(emb: Any) -> None:
        # (classes too small to test: said before the model, from the rows kept)
        if labelled:
            said[:] = warn_untestable_classes(emb.of_kept(labels).tolist())

    run = check_embeddings_run(
        args, lambda emb: ({}, {}), after_read=classes_read, after_scan=classes_left
    )
    emb = run.embeddings
    digest = labels_sha256(args)
    dec = decompose_embeddings(args, run)
    _report_skipped(dec.skipped, emb.n_rows, "rows")
    profiles = ranking = y = None
    if labelled:
        y = emb.of_kept(labels)
        if len(set(y.tolist())) < 2:  # (a row of each is left: decomposed above)
            logger.warning(
                "no class profiles: profiles need at least two classes, found 1 among the "
                "rows decomposed: %r; the report shows the rows without them",
                str(y[0]),
            )
        else:
            dec, profiles, ranking = _profiled(dec, y, said)
            ranking = _top_per_class(ranking, args.top_k, said_elsewhere=True)
    # (each row's class by its position: rows may share a name)
    rows = None if y is None else y.tolist()
    return _write_report(args, dec, emb.names, profiles, ranking, digest, rows)


def _write_explorer(
    args: argparse.Namespace,
    dec: _Decomposition,
    paths: list[Path],
    output: str,
    *,
    title: str,
    row_labels: Sequence[str] | None,
    profiles: Any,
    ranking: Any,
    settings: dict[str, Any] | None = None,
    labels_digest: str | None = None,
) -> int:
    """Write the HTML explorer of ``dec`` (its rows labelled by ``row_labels``, by
    position: rows of ``.npy`` inputs may share a name; None: no classes) to ``output``.

    Returns
    -------
    int
        The number of images (or rows) with a concept (a non-zero weight).
    """
    from .._progress import progress
    from ..report import ImageResult, _thumbnails, render_report

    # all non-zero concepts: a click on an image shows its whole decomposition
    decomposes = dec.W is None  # (an unlabelled report: decomposed a chunk at a time)
    records = list(_iter_rows(dec, len(dec.splice.concepts_), args.quiet))
    if decomposes and records:  # (the chunks say nothing of it: the run's mean is said)
        _say_if_dense(dec.splice, sum(rec["l0"] for rec in records) / len(records))
    # (each image read again, made small: in threads, as the images were decoded)
    with progress(len(records), desc="thumbnails", unit=dec.unit[:-1], disable=args.quiet) as bar:
        thumbs = _thumbnails([rec["path"] for rec in records], bar=bar)
    results = [
        ImageResult(
            path=rec["path"],
            concepts=[(c["concept"], c["weight"]) for c in rec["concepts"]],
            l0=rec["l0"],
            cosine=rec["cosine"],
            baseline_cosine=rec["baseline_cosine"],
            label=None if row_labels is None else row_labels[k],
            # (an image embedded whose file is no longer read: no preview, not read again)
            thumbnail="" if thumb is None else thumb,
        )
        for k, (rec, thumb) in enumerate(zip(records, thumbs, strict=True))
    ]
    settings = {**_settings(args, dec, labels_digest), **(settings or {})}
    remove_stale_temporaries(os.path.realpath(output), time.time())  # left by killed runs
    page = render_report(
        results,
        title=title,
        settings=settings,
        profiles=profiles,
        ranking=ranking,
        skipped=[(str(paths[s.index]), s.reason) for s in dec.skipped],
        unit=dec.unit[:-1],  # (rows of embeddings given as .npy files: "40 rows")
    ).encode("utf-8")
    raise_if_signalled()  # a Ctrl-C swallowed on the way leaves the old page in place
    out = Path(output)
    # (a signal while the page is renamed into place waits for it; a pipe is written through)
    renamed = not out.exists() or out.is_file()
    with (
        naming_write_errors(output),
        committing(wait=renamed),
        atomic_write(out, keep_complete=True) as fh,
    ):
        fh.write(page)
    say_wrote(out, plural(len(results), dec.unit[:-1]))
    return sum(result.l0 > 0 for result in results)


def _settings(
    args: argparse.Namespace, dec: _Decomposition, labels_digest: str | None = None
) -> dict[str, Any]:
    """The settings of the run as the report lists them: enough to tell which run made
    the page and to make it again (files are told apart by their SHA-256; that of the
    ``--labels`` file, ``labels_digest``, taken when it was read)."""
    metadata = dec.metadata
    settings: dict[str, Any] = {
        "model": args.model,
        "pretrained": args.pretrained or "none",  # as the option spells random weights
    }
    if metadata.get("pretrained_sha256"):
        settings["pretrained sha256"] = metadata["pretrained_sha256"]
    settings["vocabulary"] = args.vocabulary
    if metadata.get("vocabulary_sha256"):
        settings["vocabulary sha256"] = metadata["vocabulary_sha256"]
    settings["concepts"] = len(dec.splice.concepts_)
    # (significant digits: 0.00004 is not 0.0)
    settings["l1 penalty"] = significant(dec.splice.l1_penalty_)
    if args.target_l0 is not None:
        settings["target l0"] = f"{args.target_l0:g}"
    solver = resolved_solver(args.solver)
    settings["solver"] = solver if args.solver == solver else f"{solver} ({args.solver})"
    settings["image mean"] = _mean_summary(metadata, dec.unit)
    if metadata["image_mean"].get("sha256"):
        settings["image mean sha256"] = metadata["image_mean"]["sha256"]
    if labels_digest is not None:  # (the classes came from this file)
        settings["labels"] = str(args.labels)
        settings["labels sha256"] = labels_digest
    if getattr(args, "labels_column", None) is not None:
        settings["labels column"] = args.labels_column
    if dec.embeddings is not None:  # (.npy inputs: the files of the rows, by digest)
        described = dec.embeddings()
        for i, file in enumerate(described["files"]):
            n = "" if len(described["files"]) == 1 else f" {i + 1}"
            settings[f"embeddings{n}"] = f"{file['path']} ({plural(file['rows'], 'row')})"
            settings[f"embeddings{n} sha256"] = file["sha256"]
        names = (described["names"] or {}).get("files", [])
        for i, file in enumerate(names):  # (the --names files, as the JSON metadata has them)
            n = "" if len(names) == 1 else f" {i + 1}"
            column = "" if file["column"] is None else f" (column {file['column']})"
            settings[f"names{n}"] = f"{file['path']}{column}"
            settings[f"names{n} sha256"] = file["sha256"]
    settings["sksplice version"] = __version__
    settings["date"] = datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
    return settings
