"""Write ``docs/reliability.md`` from the bad-input cases of the test suite.

The cases live in ``tests/test_bad_inputs.py`` (:data:`CASES`); this script turns
them into the table of the reliability page, so that the page lists exactly what
the tests run. ``tests/test_bad_inputs.py`` checks that the committed page is
what :func:`render` gives.

Usage::

    python tools/make_reliability_page.py          # rewrite docs/reliability.md
    python tools/make_reliability_page.py --check  # exit 1 when the page is stale
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGE = REPO_ROOT / "docs" / "reliability.md"

INTRO = """\
# Reliability

sksplice is tested against malformed input at every public entry point: the
estimators (`CLIPEmbedder`, `SpliceTransformer`, `ConceptEditor`,
`ZeroShotClassifier`), the analysis functions, the lasso solver and the
`sksplice` command. Each case below either raises an exception of the stated
type whose message names the item at fault (the row, the parameter, the path
or the shape), or is handled as documented: with `on_error="skip"`, an image
that cannot be read gives a NaN row and a `SkippedInputWarning` that lists it;
the command line exits with status 2 for a wrong command line (an option,
an input or a labels file, found before any image is embedded) or 1 for an
error of the run, each with one line on standard error. The sksplice warnings and
errors named in the tables (`SkippedInputWarning`, `InvalidImageError`, ...) are
importable from `sksplice.exceptions`, to filter or catch them.

Some messages come from scikit-learn's own validation (for example
`Expected 2D array, got 1D array`); they name the argument and the shape.
Rows with NaN or infinite values are named by every estimator and by the
solver (`X holds NaN or infinite values in 2 row(s): 7, 42`), with their
labels too when a DataFrame's index names them.

The decompression-bomb cases lower `PIL.Image.MAX_IMAGE_PIXELS` for the test
instead of writing a huge file; a real image over the limit takes the same path.

The tables are generated from the test suite by `tools/make_reliability_page.py`:
the bad inputs from the parametrisation of `tests/test_bad_inputs.py`, the faults
from `tests/faults_catalogue.py`, each of which names the test that injects it. A
test fails when the page is out of date or names a test that does not exist.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _group(entry: str) -> str:
    """The entry point without options (``sksplice decompose --strict``: ``sksplice decompose``)."""
    if entry.startswith("sksplice "):
        return " ".join(entry.split()[:2])
    return entry.split(" (")[0]


def render(cases: Sequence[Any], faults: Sequence[Any] = ()) -> str:
    """The Markdown of the reliability page.

    Parameters
    ----------
    cases : sequence of Case
        Records with ``id``, ``entry``, ``given`` and ``expected`` attributes.
    faults : sequence of Fault, default=()
        Records with ``id``, ``test``, ``fault`` and ``outcome`` attributes.

    Returns
    -------
    page : str
        The page, ending with a newline.
    """
    per_entry = Counter(_group(case.entry) for case in cases)
    lines = [INTRO, "## Summary", ""]
    lines.append("| Entry point | Cases |")
    lines.append("|---|---|")
    for entry, count in per_entry.items():
        lines.append(f"| `{_cell(entry)}` | {count} |")
    lines.append(f"| **total** | {len(cases)} |")
    lines += ["", "## Bad inputs", ""]
    lines.append("| Case | Entry point | Input | Expected outcome |")
    lines.append("|---|---|---|---|")
    for case in cases:
        lines.append(
            f"| `{_cell(case.id)}` | `{_cell(case.entry)}` | {_cell(case.given)} "
            f"| {_cell(case.expected)} |"
        )
    if faults:
        lines += ["", "## Faults injected", ""]
        lines.append("| Fault | Injected by | What happens | Outcome |")
        lines.append("|---|---|---|---|")
        for fault in faults:
            lines.append(
                f"| `{_cell(fault.id)}` | `tests/{_cell(fault.test)}` | {_cell(fault.fault)} "
                f"| {_cell(fault.outcome)} |"
            )
    return "\n".join(lines) + "\n"


def _cases() -> list[Any]:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.test_bad_inputs import CASES

    return list(CASES)


def _faults() -> list[Any]:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.faults_catalogue import FAULTS

    return list(FAULTS)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether it is up to date.

    Parameters
    ----------
    argv : sequence of str, default=None
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        0 on success, 1 when ``--check`` finds the page stale.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the page")
    args = parser.parse_args(argv)
    page = render(_cases(), _faults())
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
        if current != page:
            print(f"{PAGE} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    fd, tmp = tempfile.mkstemp(dir=PAGE.parent, prefix=".reliability-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(page)
        os.replace(tmp, PAGE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
