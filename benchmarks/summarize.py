"""Render benchmark results (JSON) as the Markdown tables of benchmarks/README.md.

    python benchmarks/summarize.py benchmarks/results/*.json

Prints one table per result file, so that the README quotes the measurement files
rather than numbers copied by hand. Solver comparisons (``bench_solvers.py``) get
their fixed columns; files holding a list of runs (``runs``, ``results`` or
``rows``) get one row per run; any other file is listed as its scalar entries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [
    ("method", "method"),
    ("targets run", "targets_run"),
    ("time for all targets (s)", "time_s"),
    ("per target (ms)", "time_per_target_s"),
    ("x fastest sksplice", "time_over_fastest_sksplice"),
    ("x dense product", "time_over_dense_product"),
    ("paired x dense product", "paired_time_over_dense_product"),
    ("iterations", "n_iter"),
    ("mean l0", "mean_l0"),
    ("worst rel. gap", "worst_rel_gap"),
    ("max rel. objective excess", "max_rel_objective_excess"),
]


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if key == "time_per_target_s":
        return f"{1000 * value:.3g}"
    if key == "time_s":
        return f"{value:.3g}" + (" (est.)" if row.get("scaled") else "")
    if key in ("worst_rel_gap", "max_rel_objective_excess"):
        return f"{value:.1e}"
    if key == "mean_l0":
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(result: dict) -> str:
    """One Markdown table (with its heading line) for one result file."""
    m = result["machine"]
    head = (
        f"**{result['problem']}**: {result['n_concepts']} concepts x {result['n_features']} dims, "
        f"{result['n_targets']} targets, l1_penalty {result['l1_penalty']}, tol {result['tol']:g}; "
        f"torch threads {m['torch_threads']}, load average {m['load_average_start'][0]:.1f} at "
        f"start / {m['load_average_end'][0]:.1f} at end"
    )
    lines = [head, "", "| " + " | ".join(c for c, _ in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for row in result["results"]:
        lines.append("| " + " | ".join(_cell(row, key) for _, key in COLUMNS) + " |")
    return "\n".join(lines)


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return "" if value is None else str(value)


def _flatten(entry: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif not (isinstance(value, list) and value and isinstance(value[0], dict)):
            flat[f"{prefix}{key}"] = value
    return flat


def generic_table(name: str, result: dict) -> str:
    """A table for any other result file: one row per run, or its scalar entries."""
    m = result.get("machine", {})
    loads = [m.get(k) for k in ("load_average_start", "load_average_before") if m.get(k)]
    ends = [m.get(k) for k in ("load_average_end", "load_average_after") if m.get(k)]
    head = f"**{result.get('benchmark', name)}** (`{name}`)"
    if loads and ends:
        head += f"; load average {loads[0][0]:.1f} at start / {ends[0][0]:.1f} at end"
    lines = [head, ""]
    runs = next(
        (result[k] for k in ("runs", "results", "rows") if isinstance(result.get(k), list)), None
    )
    if runs:
        rows = [_flatten(run) for run in runs]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            lines.append("| " + " | ".join(_value(row.get(c)) for c in columns) + " |")
    else:
        flat = {k: v for k, v in _flatten(result).items() if not k.startswith("machine.")}
        lines += ["| entry | value |", "|---|---|"]
        lines += [f"| {key} | {_value(value)} |" for key, value in flat.items()]
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    for path in paths:
        result = json.loads(Path(path).read_text())
        is_solver_table = isinstance(result.get("results"), list) and "n_concepts" in result
        print(table(result) if is_solver_table else generic_table(Path(path).name, result))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
