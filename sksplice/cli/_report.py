"""The ``report`` command and the HTML explorer (also written by ``compare --report``)."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any

from .._atomic import atomic_write, remove_stale_temporaries
from ._checks import _check_options, _check_outputs_apart, _warn_unknown_extension
from ._decompose import _decompose, _Decomposition, _iter_rows, _mean_summary, _report_skipped
from ._inputs import _has_class_folders, _labelled, collect_images
from ._logging import CLIError, _usage, committing, raise_if_signalled
from ._output import naming_write_errors
from ._profile import _profile

logger = logging.getLogger(__name__)


def _cmd_report(args: argparse.Namespace) -> int:
    with _usage():
        if args.folder is None and not args.inputs:
            raise CLIError(
                "report needs a FOLDER or images (e.g. sksplice report photos/ -o r.html)"
            )
        if args.output == "-":
            raise CLIError(
                "-o needs a file name: the report is an HTML page with its images "
                "(e.g. -o report.html)"
            )
        labelled = args.folder is not None and (
            args.labels is not None or _has_class_folders(Path(args.folder))
        )
        if labelled:
            if args.inputs:
                how = f"--labels {args.labels}" if args.labels else "its class sub-folders"
                raise CLIError(
                    f"report {args.folder} profiles the classes of {args.folder} ({how}), "
                    f"so it takes no other images (got {len(args.inputs)}, first "
                    f"{args.inputs[0]}): put them in a class folder, or leave them out"
                )
            paths, labels = _labelled(args, "report")
        else:
            inputs = [args.folder] if args.folder is not None else []
            paths = collect_images(inputs + list(args.inputs))
        _check_outputs_apart(args, paths)
        plan = _check_options(args)
    _warn_unknown_extension(args)
    if labelled:
        dec, profiles, ranking = _profile(args, paths, labels, plan, fewer_ok=True)
        label_of = {str(p): lab for p, lab in zip(paths, labels, strict=True)}
    else:
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
    from ..report import ImageResult, render_report

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
        "pretrained": args.pretrained or "none",  # as the option spells random weights
        "vocabulary": args.vocabulary,
        "concepts": len(dec.splice.concepts_),
        "l1 penalty": round(float(dec.splice.l1_penalty_), 4),
        "image mean": _mean_summary(dec.metadata),
        **(settings or {}),
    }
    remove_stale_temporaries(os.path.realpath(output), time.time())  # left by killed runs
    page = render_report(  # (thumbnail read errors are caught inside)
        results,
        title=title,
        settings=settings,
        profiles=profiles,
        ranking=ranking,
        skipped=[(str(paths[s.index]), s.reason) for s in dec.skipped],
    ).encode("utf-8")
    raise_if_signalled()  # a Ctrl-C swallowed on the way leaves the old page in place
    out = Path(output)
    # (a signal while the page is renamed into place waits for it; a pipe is written through)
    renamed = not out.exists() or out.is_file()
    with naming_write_errors(output), committing(wait=renamed), atomic_write(out) as fh:
        fh.write(page)
    size = out.stat().st_size if out.is_file() else 0
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    logger.info("wrote %s (%d images, %s)", out, len(results), shown)
