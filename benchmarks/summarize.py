"""Render the solver benchmark results (JSON) as the Markdown tables of benchmarks/README.md.

    python benchmarks/summarize.py benchmarks/results/laion.json benchmarks/results/synthetic.json

Prints one table per result file, so that the README quotes the measurement files
rather than numbers copied by hand.
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


def main(paths: list[str]) -> int:
    for path in paths:
        print(table(json.loads(Path(path).read_text())))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
