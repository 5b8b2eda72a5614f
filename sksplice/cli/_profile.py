"""The ``profile`` command: per-class concept profiles and rankings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._checks import _check_options, _Plan
from ._decompose import _decompose, _report_skipped
from ._inputs import _labelled
from ._output import (
    _Output,
    _write_not_significant,
    _write_significant_rows,
    _write_table_records,
)


def _profile(args: argparse.Namespace, paths: list[Path], labels: list[str], plan: _Plan):
    from ..analysis import concept_profiles, rank_concepts

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
            _write_significant_rows(
                fh, sig, "{:6.1%} vs {:6.1%}", "prevalence_positive", "prevalence_negative"
            )
            _write_not_significant(fh, len(sig), len(frame))
    fh.flush()
