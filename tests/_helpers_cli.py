"""The command line run in this process on a small prepared folder of images (the
``run_env`` fixture of tests/conftest.py), as tests/test_cli_messages.py and
tests/test_cli_files.py run it."""

from __future__ import annotations

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
