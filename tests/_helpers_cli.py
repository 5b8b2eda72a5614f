"""The command line run in this process on a small prepared folder of images (the
``run_env`` fixture of tests/conftest.py), as tests/test_cli_messages.py and
tests/test_cli_files.py run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sksplice import cli

#: The concepts of the vocabulary file that ``run_env`` writes.
VOCAB = ["cat", "dog", "red", "blue", "car", "tree", "sky", "house", "water", "grass", "snow"]


def model_args(tmp_path: Path, *extra: str, pretrained: str = "none") -> list[str]:
    """The tiny model and the vocabulary file of ``run_env``, then ``extra``."""
    return [
        "--model",
        "sksplice-test-tiny",
        "--pretrained",
        pretrained,
        "--vocabulary",
        str(tmp_path / "vocab.txt"),
        "--device",
        "cpu",
        *extra,
    ]


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of ``sksplice ARGS``."""
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def in_a_fresh_process(argv: list[str]) -> subprocess.CompletedProcess:
    """``sksplice ARGV`` in a new process, which prints its exit status and whether torch
    and open_clip were imported (importing them takes seconds)."""
    script = (
        "import sys\n"
        "from sksplice import cli\n"
        "code = cli.main(sys.argv[1:])\n"
        "print(code, 'torch' in sys.modules, 'open_clip' in sys.modules)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )


def refused_before_torch(argv: list[str]) -> str:
    """The standard error of ``sksplice ARGV`` in a new process, which exits with status 2
    without importing torch or open_clip."""
    proc = in_a_fresh_process(argv)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr
    return proc.stderr
