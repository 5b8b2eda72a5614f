"""Where a benchmark run came from, and the file of labelled runs it joins.

``bench_memory.py`` and ``bench_transform_memory.py`` measure one checkout at a time
(``--sksplice PATH``) and keep each run under a label in one JSON file, so that an
older checkout and this one sit side by side.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def git_commit(path: Path) -> str | None:
    """The commit checked out at ``path`` (None where git cannot tell)."""
    try:
        res = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:  # pragma: no cover - git missing
        return None
    return res.stdout.strip() or None


def machine(load: list[tuple[float, float, float]]) -> dict[str, Any]:
    """The platform, Python, CPU count and the load averages taken during the run."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
    }


def save_run(
    args: Any,
    argv: list[str] | None,
    script: str,
    load: list[tuple[float, float, float]],
    **fields: Any,
) -> None:
    """Save the run of the checkout ``args.sksplice`` under ``args.label`` in ``args.out``:
    where it came from (the folder, its commit: ``args.commit`` or git's), ``fields``,
    the machine and the command line of ``benchmarks/<script>`` that made it."""
    run = {
        "sksplice": str(args.sksplice),
        "commit": args.commit or git_commit(args.sksplice),
        **fields,
        "machine": machine(load),
        "command": f"python benchmarks/{script} "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    save_labelled(args.out, args.label, run)


def save_labelled(out: Path, label: str, run: dict[str, Any]) -> None:
    """Put ``run`` under ``label`` in the JSON file ``out``, keeping its other labels
    (written whole or not at all)."""
    results = json.loads(out.read_text()) if out.is_file() else {}
    results[label] = run
    out.parent.mkdir(parents=True, exist_ok=True)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from sksplice._atomic import atomic_write

    with atomic_write(out) as fh:
        fh.write((json.dumps(results, indent=2) + "\n").encode())
    print(f"wrote {out}", flush=True)
