"""Hand-made mutants of the core, applied one by one to see whether the tests catch them.

Each :class:`Mutant` replaces one piece of source text (which must occur exactly once
in its file) by a wrong version: a solver that accepts rows without checking the
duality gap, a dictionary that is not centred, a cache reader that skips a check,
CSR arrays in the wrong order, ... For each mutant the script copies the repository's
tracked files into a temporary folder once, writes the mutated file there, runs the
tests named for that mutant, and restores the file. A mutant is *killed* when the
tests fail, *survives* when they pass. The working tree is never modified.

``tests/test_mutants.py`` checks that every mutant still applies to the current
source (its text exists exactly once) and names existing test files, so this list
cannot rot silently.

Usage::

    python tools/mutants.py                 # every mutant; prints a table, exit 1 if any survives
    python tools/mutants.py --list          # the mutants, without running anything
    python tools/mutants.py admm-rho-reversed centring-skipped   # some of them
    python tools/mutants.py --no-reference-data   # as if ../shared/data/splice were absent
    python tools/mutants.py --json results.json   # also write the results as JSON

By default the authors' reference files are used when ``../shared/data/splice`` (or
``$SKSPLICE_REFERENCE_DATA``) exists, as in CI; tests that need them skip otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]

SOLVER_TESTS = ("tests/test_solvers.py", "tests/test_properties.py")
DICTIONARY_TESTS = ("tests/test_dictionary.py",)
TRANSFORMER_TESTS = tuple(
    f"tests/test_transformer.py::{name}"
    for name in (
        "test_fit_learns_dictionary_mean_and_concepts",
        "test_transform_solves_the_splice_problem",
        "test_recovers_a_known_sparse_combination",
        "test_inverse_transform_formula_and_zero_rows",
        "test_score_and_cosine_similarity",
    )
)
ATOMIC_TESTS = ("tests/test_data.py",)
DISTRIBUTED_TESTS = (
    "tests/test_distributed.py::test_overwrite_refuses_what_this_writer_did_not_write",
)


class Mutant(NamedTuple):
    """One deliberate bug.

    Attributes
    ----------
    id : str
        Short name.
    path : str
        File to mutate, relative to the repository root.
    old : str
        Source text replaced; must occur exactly once in ``path``.
    new : str
        The wrong text put in its place.
    tests : tuple of str
        Test files (or ``file::test`` ids) that should catch it.
    what : str
        The bug, in words.
    """

    id: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ solvers
    Mutant(
        "admm-accepts-without-gap",
        "sksplice/solvers/_admm.py",
        "            accept = res.gap <= tol\n",
        "            accept = torch.ones_like(res.gap, dtype=torch.bool)\n",
        SOLVER_TESTS,
        "ADMM accepts every polished row without checking its duality gap",
    ),
    Mutant(
        "admm-rho-reversed",
        "sksplice/solvers/_admm.py",
        "new_rho = rho * 2.0 if move > 0 else rho * 0.5",
        "new_rho = rho * 0.5 if move > 0 else rho * 2.0",
        SOLVER_TESTS,
        "ADMM's residual balancing moves rho the wrong way",
    ),
    Mutant(
        "working-set-accepts-without-gap",
        "sksplice/solvers/_working_set.py",
        "finished = ((gap <= tol) | ~new_ok.any(dim=1) | stalled | last) & alive",
        "finished = alive.clone()",
        SOLVER_TESTS,
        "working-set rounds stop after one round whatever the gap",
    ),
    Mutant(
        "idle-rows-take-new-concepts",
        "sksplice/solvers/_working_set.py",
        "new_ok = new_ok & alive.unsqueeze(1)",
        "new_ok = new_ok",
        ("tests/test_solve_path.py",),
        "rows waiting idle in the batch still take their violators into their sets",
    ),
    Mutant(
        "finished-rows-never-leave-the-batch",
        "sksplice/solvers/_working_set.py",
        "if rows.numel() - n_alive >= max(1, int(_COMPACT * rows.numel())):",
        "if rows.numel() - n_alive > rows.numel():",
        ("tests/test_solve_path.py",),
        "finished rows stay idle in the batch until the end, however many have finished",
    ),
    Mutant(
        "path-row-stalled-after-moving-on",
        "sksplice/solvers/_working_set.py",
        "stalled = new.any(dim=1) & ~((w > 0) & new).any(dim=1) & ~fresh",
        "stalled = new.any(dim=1) & ~((w > 0) & new).any(dim=1)",
        ("tests/test_solve_path.py",),
        "a row of a path that has just moved on to the next penalty is taken as stalled",
    ),
    Mutant(
        "path-row-keeps-its-penalty",
        "sksplice/solvers/_working_set.py",
        "                lam = penalties[stage]\n                since = since.masked_fill",
        "                lam = lam\n                since = since.masked_fill",
        ("tests/test_solve_path.py",),
        "a row of a path goes on at the penalty it was certified at",
    ),
    Mutant(
        "converged-flag-always-true",
        "sksplice/solvers/_lasso.py",
        "\n        converged=bool(worst <= tol),\n",
        "\n        converged=True,\n",
        SOLVER_TESTS,
        "the codes report convergence whatever the worst gap",
    ),
    Mutant(
        "no-float64-retry",
        "sksplice/solvers/_lasso.py",
        "if not codes.converged and self.dtype != torch.float64:",
        "if False:",
        SOLVER_TESTS,
        "rows that float32 cannot certify are not solved again in float64",
    ),
    Mutant(
        "csr-rows-unsorted",
        "sksplice/solvers/_lasso.py",
        "order = np.lexsort((j, r))",
        "order = np.lexsort((r, j))",
        SOLVER_TESTS,
        "CSR triplets sorted by column first: rows scrambled",
    ),
    Mutant(
        "csr-indptr-shifted",
        "sksplice/solvers/_lasso.py",
        "np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])",
        "np.cumsum(np.bincount(r, minlength=n), out=indptr[:-1])",
        SOLVER_TESTS,
        "CSR row pointers shifted by one row",
    ),
    # --------------------------------------------------------------- dictionary
    Mutant(
        "centring-skipped",
        "sksplice/dictionary.py",
        "    dictionary = l2_normalize(centred)\n",
        "    dictionary = l2_normalize(unit)\n",
        DICTIONARY_TESTS,
        "the concept dictionary is not centred",
    ),
    Mutant(
        "rows-not-normalised-first",
        "sksplice/dictionary.py",
        "    centred = l2_normalize(raw)  # a new array: centred in place below\n",
        "    centred = raw / np.linalg.norm(raw)\n",
        DICTIONARY_TESTS,
        "concept rows scaled by one global norm instead of each to unit length",
    ),
    Mutant(
        "concept-mean-wrong",
        "sksplice/dictionary.py",
        "    concept_mean = centred.mean(axis=0)\n",
        "    concept_mean = centred.mean(axis=0) * 0.5\n",
        DICTIONARY_TESTS,
        "half the concept mean is subtracted",
    ),
    Mutant(
        "normalisation-wrong",
        "sksplice/_array.py",
        "    np.divide(X, np.where(nonzero, norms, 1.0), out=out)\n",
        "    np.divide(X, np.where(nonzero, norms**2, 1.0), out=out)\n",
        DICTIONARY_TESTS,
        "l2_normalize divides by the squared norm",
    ),
    Mutant(
        "vocabulary-hash-no-boundaries",
        "sksplice/dictionary.py",
        '        digest.update(len(encoded).to_bytes(8, "little"))\n',
        "        pass\n",
        DICTIONARY_TESTS,
        'the vocabulary hash cannot tell ("ab", "c") from ("a", "bc")',
    ),
    Mutant(
        "zero-concept-accepted",
        "sksplice/dictionary.py",
        "    zero = norms <= ZERO_NORM\n",
        "    zero = norms < 0\n",
        DICTIONARY_TESTS,
        "a concept embedding of zeros is not refused",
    ),
    # ---------------------------------------------------------- dictionary cache
    Mutant(
        "cache-digest-unchecked",
        "sksplice/dictionary.py",
        '    if header.get("sha256") != _array_digest(embeddings):\n',
        "    if False:\n",
        DICTIONARY_TESTS,
        "a cache file whose content does not match its digest is used",
    ),
    Mutant(
        "cache-key-unchecked",
        "sksplice/dictionary.py",
        '        if header.get("key") != expected_key:\n',
        "        if False:\n",
        DICTIONARY_TESTS,
        "a cache file of another embedder or vocabulary is used",
    ),
    Mutant(
        "cache-finiteness-unchecked",
        "sksplice/dictionary.py",
        '    check_finite_rows(embeddings, "its array")\n',
        "    embeddings = np.asarray(embeddings)\n",
        DICTIONARY_TESTS,
        "a cache file holding NaN or infinite values is used",
    ),
    Mutant(
        "cache-dtype-unchecked",
        "sksplice/dictionary.py",
        '            if dtype != np.dtype("<f4") or fortran_order:\n',
        "            if fortran_order:\n",
        DICTIONARY_TESTS,
        "a cache file of float16, int8 or bool values is used",
    ),
    Mutant(
        "cache-compressed-inflated",
        "sksplice/dictionary.py",
        "    if info.compress_type != zipfile.ZIP_STORED:\n",
        "    if False:\n",
        DICTIONARY_TESTS,
        "a compressed cache entry is inflated before its size is checked",
    ),
    Mutant(
        "cache-width-unchecked",
        "sksplice/dictionary.py",
        "            if n_features is not None and d != n_features:\n",
        "            if False:\n",
        DICTIONARY_TESTS,
        "a cache file of another embedding width is used",
    ),
    Mutant(
        "stale-temporaries-of-live-writers-removed",
        "sksplice/_atomic.py",
        "if pid is not None and not _process_alive(pid):",
        "if pid is not None:",
        DICTIONARY_TESTS,
        "temporary files of writers still running are deleted",
    ),
    # -------------------------------------------------------------- transformer
    Mutant(
        "embeddings-not-centred",
        "sksplice/_means.py",
        "    C = U - mean.astype(X.dtype)\n",
        "    C = U.copy()\n",
        TRANSFORMER_TESTS,
        "transform does not subtract the modality centre",
    ),
    Mutant(
        "inverse-transform-sign",
        "sksplice/_weights.py",
        "            E += mean\n",
        "            E -= mean\n",
        TRANSFORMER_TESTS,
        "inverse_transform subtracts the centre instead of adding it back",
    ),
    Mutant(
        "learned-mean-unnormalised",
        "sksplice/_means.py",
        "        U = unit_rows(np.asarray(X[start : start + _MEAN_BLOCK], dtype=np.float64, "
        'order="C"))\n',
        '        U = np.asarray(X[start : start + _MEAN_BLOCK], dtype=np.float64, order="C")\n',
        TRANSFORMER_TESTS,
        "the learned modality centre averages rows before normalising them",
    ),
    # ------------------------------------------------------------------ writers
    Mutant(
        "atomic-write-replaces-pipes-and-devices",
        "sksplice/_atomic.py",
        "    if mode is not None and _write_through(path, mode):\n        # O_APPEND",
        "    if False:\n        # O_APPEND",
        ATOMIC_TESTS,
        "named pipes and character devices are not written through",
    ),
    Mutant(
        "atomic-write-replaces-symlinks",
        "sksplice/_atomic.py",
        "    if path.is_symlink():\n",
        "    if False:\n",
        ATOMIC_TESTS,
        "a symbolic link is replaced by a regular file",
    ),
    Mutant(
        "atomic-write-replaces-sockets",
        "sksplice/_atomic.py",
        "    if mode is not None and not stat.S_ISREG(mode):\n"
        "        raise _not_a_file(path, mode)\n    if path.is_symlink():\n",
        "    if False:\n        raise _not_a_file(path, mode)\n    if path.is_symlink():\n",
        ATOMIC_TESTS,
        "a folder or a socket is not refused",
    ),
    Mutant(
        "dataset-overwrite-deletes-anything",
        "sksplice/_distributed_io.py",
        "    names = [entry.name for entry in folder.iterdir()]\n    if not names:\n",
        "    names = []\n    if not names:\n",
        DISTRIBUTED_TESTS,
        "overwrite=True deletes a folder of other files",
    ),
]


class Outcome(NamedTuple):
    id: str
    status: str  # "killed", "survived", "timeout" or "error"
    seconds: float
    detail: str


def check_applies(mutant: Mutant, root: Path = REPO_ROOT) -> str:
    """Return the source of ``mutant.path`` with the mutant applied.

    Raises
    ------
    ValueError
        If the mutant's text does not occur exactly once, or changes nothing.
    """
    source = (root / mutant.path).read_text(encoding="utf-8")
    count = source.count(mutant.old)
    if count != 1:
        raise ValueError(f"{mutant.id}: its text occurs {count} times in {mutant.path}")
    if mutant.old == mutant.new:
        raise ValueError(f"{mutant.id}: the mutant changes nothing")
    return source.replace(mutant.old, mutant.new)


def _copy_tree(dest: Path) -> None:
    """Copy the tracked and untracked-but-not-ignored files of the repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = Path(os.fsdecode(raw))
        src = REPO_ROOT / rel
        if not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def _reference_data() -> str | None:
    env = os.environ.get("SKSPLICE_REFERENCE_DATA")
    for candidate in ([Path(env)] if env else []) + [
        REPO_ROOT.parent / "shared" / "data" / "splice"
    ]:
        if (candidate / "vocab" / "laion.txt").is_file():
            return str(candidate.resolve())
    return None


def _run_tests(copy: Path, tests: Sequence[str], env: dict[str, str], timeout: float):
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-n",
        "0",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-cov",
    ]
    return subprocess.run(
        [*command, *tests],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _summary(stdout: str) -> str:
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    mutants: Sequence[Mutant], *, reference_data: bool = True, timeout: float = 600.0
) -> list[Outcome]:
    """Apply each mutant in a temporary copy of the repository and run its tests.

    Parameters
    ----------
    mutants : sequence of Mutant
        The mutants to try.
    reference_data : bool, default=True
        Let the tests use the authors' reference files when they are found.
    timeout : float, default=600.0
        Seconds allowed for the tests of one mutant (a mutant that makes them
        run longer counts as killed, status ``"timeout"``).

    Returns
    -------
    list of Outcome
        One per mutant, in order.
    """
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="sksplice-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        _copy_tree(copy)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(copy)
        env.pop("SKSPLICE_REFERENCE_DATA", None)
        found = _reference_data() if reference_data else None
        if found:
            env["SKSPLICE_REFERENCE_DATA"] = found
        elif not reference_data:
            env["SKSPLICE_REFERENCE_DATA"] = str(Path(tmp) / "no-reference-data")

        groups = sorted({tests for m in mutants for tests in [m.tests]})
        for tests in groups:
            baseline = _run_tests(copy, tests, env, timeout)
            if baseline.returncode != 0:
                raise RuntimeError(
                    f"the unmutated tests {' '.join(tests)} fail; fix them first:\n"
                    + baseline.stdout[-3000:]
                )
        for mutant in mutants:
            target = copy / mutant.path
            original = target.read_text(encoding="utf-8")
            mutated = check_applies(mutant, copy)
            start = time.perf_counter()
            try:
                target.write_text(mutated, encoding="utf-8")
                try:
                    proc = _run_tests(copy, mutant.tests, env, timeout)
                except subprocess.TimeoutExpired:
                    status, detail = "timeout", f"over {timeout:.0f} s"
                else:
                    detail = _summary(proc.stdout)
                    if proc.returncode == 0:
                        status = "survived"
                    elif proc.returncode == 1:
                        status = "killed"
                    else:
                        status = "error"
                        detail = f"pytest exit {proc.returncode}: {detail}"
            finally:
                target.write_text(original, encoding="utf-8")
            outcomes.append(Outcome(mutant.id, status, time.perf_counter() - start, detail))
            print(
                f"{mutant.id:45s} {status:9s} {outcomes[-1].seconds:7.1f} s  {detail}", flush=True
            )
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutants named on the command line (all by default).

    Parameters
    ----------
    argv : sequence of str, default=None
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        0 when every mutant is killed, 1 when one survives, 2 on a usage error.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--no-reference-data",
        action="store_true",
        help="hide the authors' reference files from the tests",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    by_id = {m.id: m for m in MUTANTS}
    unknown = [i for i in args.ids if i not in by_id]
    if unknown:
        parser.error(f"unknown mutant(s) {unknown}; --list shows them")
    chosen = [by_id[i] for i in args.ids] if args.ids else MUTANTS
    if args.list:
        for m in chosen:
            print(f"{m.id:45s} {m.path:36s} {m.what}")
        return 0
    for m in chosen:
        check_applies(m)
    outcomes = run(chosen, reference_data=not args.no_reference_data, timeout=args.timeout)
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    survived = [o.id for o in outcomes if o.status == "survived"]
    errors = [o.id for o in outcomes if o.status == "error"]
    print(f"\n{killed} of {len(outcomes)} mutants killed", end="")
    print(f"; survived: {', '.join(survived)}" if survived else "", end="")
    print(f"; errors: {', '.join(errors)}" if errors else "")
    if args.json:
        args.json.write_text(
            json.dumps([o._asdict() for o in outcomes], indent=2) + "\n", encoding="utf-8"
        )
    return 1 if survived or errors else 0


if __name__ == "__main__":
    sys.exit(main())
