"""The ``sksplice`` command: subprocess runs with the tiny test model, outputs, exit codes."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sksplice import cli
from sksplice._atomic import temporary_files_of
from sksplice._data import file_sha256
from sksplice.cli import _decompose, _embedders, _inputs, _output

from .conftest import TESTS_DATA, _Embedded

VOCAB = ["cat", "dog", "red", "blue", "car", "tree", "sky", "house", "water", "grass", "snow"]


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory) -> Path:
    """Two classes of small random images, plus one broken file."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for cls, tint in (("cats", (255, 80, 40)), ("dogs", (40, 80, 255))):
        (root / cls).mkdir()
        for i in range(5):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            arr[:18] = np.asarray(tint, dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


def _model_args(vocab_file: Path, *extra: str) -> list[str]:
    return [
        "--model",
        "sksplice-test-tiny",
        "--pretrained",
        "none",
        "--vocabulary",
        str(vocab_file),
        "--l1-penalty",
        "0.05",
        "--device",
        "cpu",
        *extra,
    ]


def _run(
    args: list[str], env: dict[str, str], *, start: Sequence[str] = ("-m", "sksplice")
) -> subprocess.CompletedProcess:
    """Run ``python START ARGS`` (the command, by default)."""
    return subprocess.run(
        [sys.executable, *start, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_decompose_subprocess_matches_python_api(image_tree, vocab_file, env, tmp_path):
    out = tmp_path / "out.jsonl"
    proc = _run(
        ["decompose", str(image_tree), "-f", "jsonl", "-k", "4", "-o", str(out), "--quiet"]
        + _model_args(vocab_file),
        env,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    paths = sorted(str(p) for p in image_tree.rglob("*.png"))
    assert [r["path"] for r in records] == paths

    # the same decomposition through the Python API
    from sksplice import CLIPEmbedder, SpliceTransformer

    os.environ["SKSPLICE_MODEL_CONFIGS"] = env["SKSPLICE_MODEL_CONFIGS"]
    embedder = CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu")
    X = embedder.transform(paths)
    splice = SpliceTransformer(
        embedder=CLIPEmbedder(
            model="sksplice-test-tiny", pretrained=None, modality="text", device="cpu"
        ),
        vocabulary=str(vocab_file),
        l1_penalty=0.05,
        device="cpu",
        data_home=env["SKSPLICE_DATA"],
    ).fit(X)
    tops = splice.top_concepts(X, k=4)
    cos = splice.cosine_similarity(X)
    for rec, top, c in zip(records, tops, cos, strict=True):
        assert [d["concept"] for d in rec["concepts"]] == [name for name, _ in top]
        np.testing.assert_allclose(
            [d["weight"] for d in rec["concepts"]], [w for _, w in top], atol=1e-4
        )
        assert rec["cosine"] == pytest.approx(float(c), abs=1e-4)
        assert 0 < rec["l0"] <= len(VOCAB)


def test_version_and_usage_errors(env):
    proc = _run(["--version"], env)
    assert proc.returncode == 0
    assert proc.stdout.startswith("sksplice ")
    proc = _run(["decompose"], env)  # missing IMAGE
    assert proc.returncode == 2
    assert "IMAGE_OR_FOLDER" in proc.stderr
    proc = _run(["decompose", "x.png", "--l1-penalty", "-1"], env)
    assert proc.returncode == 2
    assert "positive" in proc.stderr


@pytest.mark.parametrize(
    ("word", "expected"),
    [("decopmose", "(close matches: decompose)"), ("reprot", "(close matches: report)"), ("x", "")],
)
def test_a_misspelt_command_gets_close_matches(word, expected, capsys):
    code = cli.main([word, "photos/"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        f"sksplice: error: {word!r} is not a command (choose from decompose, profile, "
        f"compare, search, report, cache, help){' ' + expected if expected else ''}; see "
        "sksplice --help"
    ], err


def test_an_error_is_one_line(env, tmp_path, vocab_file):
    missing = tmp_path / "nowhere.png"
    proc = _run(["decompose", str(missing), "--quiet", *_model_args(vocab_file)], env)
    assert proc.returncode == 2  # a wrong command line, as argparse's usage errors
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1] == f"sksplice: error: no such file or folder: {missing}"
    assert "Traceback" not in proc.stderr


def test_an_error_line_holds_no_terminal_control_sequence():
    """torch's message of a checkpoint it refuses to load holds ESC[1m (bold) ...
    ESC[0m: the error line (a log, a file, a pipe) gets the words only."""
    exc = RuntimeError("Weights only load failed. \x1b[1mdo those steps only\x1b[0m. (1)")
    assert cli._one_line(exc) == "Weights only load failed. do those steps only. (1)"
    assert cli._one_line(ValueError("\x1b[31m\x1b[0m")) == "ValueError"


# ----------------------------------------------------------------- in-process runs


@pytest.fixture
def inproc(env, monkeypatch):
    for key in ("SKSPLICE_MODEL_CONFIGS", "SKSPLICE_DATA", "SKSPLICE_CACHE"):
        monkeypatch.setenv(key, env[key])
    return env


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_formats_parse(image_tree, vocab_file, inproc, tmp_path, fmt, capsys):
    out = tmp_path / f"out.{fmt}"
    code = cli.main(
        ["decompose", str(image_tree / "cats"), "-f", fmt, "-k", "3", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["path"] for r in rows} == {str(p) for p in (image_tree / "cats").glob("*.png")}
        assert all(r["concept"] in VOCAB for r in rows)
        assert all(int(r["rank"]) <= 3 for r in rows)
    elif fmt == "json":
        data = json.loads(text)
        assert set(data) == {"metadata", "images"}
        assert len(data["images"]) == 5
        assert all(len(d["concepts"]) <= 3 for d in data["images"])
        mean = data["metadata"]["image_mean"]
        assert mean == {
            "source": "data",
            "n_samples": 5,
            "stable": False,
            "min_stable_samples": 100,
        }
    else:
        assert text.count("(l0=") == 5


def test_bad_image_skipped_then_strict(image_tree, vocab_file, inproc, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out.jsonl"
    code = cli.main(
        ["decompose", str(folder), "-f", "jsonl", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    assert len(out.read_text().splitlines()) == 3
    err = capsys.readouterr().err
    assert "skipped 1 of 4 images" in err
    assert err.count("broken.png") == 1, err  # the file is named once, with its reason

    code = cli.main(
        ["decompose", str(folder), "-o", str(tmp_path / "strict.txt"), "--strict", "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 1
    assert "broken.png" in capsys.readouterr().err


def _interrupted_after(n: int):
    """``_decompose._iter_rows`` that a Ctrl-C stops after ``n`` records."""
    real_iter = _decompose._iter_rows

    def interrupted(*args, **kwargs):
        for i, rec in enumerate(real_iter(*args, **kwargs)):
            if i == n:
                raise KeyboardInterrupt
            yield rec

    return interrupted


def test_interrupt_leaves_valid_output(image_tree, vocab_file, inproc, tmp_path, monkeypatch):
    monkeypatch.setattr(_decompose, "_iter_rows", _interrupted_after(2))
    out = tmp_path / "partial.json"
    code = cli.main(
        ["decompose", str(image_tree), "-f", "json", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 130
    assert not out.exists()  # an interrupted run never replaces the output file
    data = json.loads((tmp_path / "partial.json.partial").read_text())  # valid JSON
    assert len(data["images"]) == 2


@pytest.mark.parametrize(("solver", "recorded"), [("auto", "working_set"), ("admm", "admm")])
def test_the_metadata_records_the_solver_that_ran(
    solver, recorded, image_tree, vocab_file, inproc, capsys
):
    # "auto" was recorded as given: the metadata names the method that ran
    args = ["decompose", str(image_tree), "-f", "json", "-q", *_model_args(vocab_file)]
    code, out, err = _main([*args, "--solver", solver], capsys)
    assert code == 0, err
    assert json.loads(out)["metadata"]["solver"] == recorded


def test_the_metadata_spells_random_weights_as_the_option_does(
    image_tree, vocab_file, inproc, capsys
):
    # ``--pretrained none`` was recorded as null, where the report and the option say none
    args = ["decompose", str(image_tree), "-f", "json", "-q", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 0, err
    metadata = json.loads(out)["metadata"]
    assert metadata["pretrained"] == "none" and metadata["pretrained_sha256"] is None


def test_the_metadata_records_what_the_records_are_cut_to(image_tree, vocab_file, inproc, capsys):
    # A list of 3 concepts read as an image's whole decomposition, or as its first 3: the
    # metadata did not say which.
    args = ["decompose", str(image_tree), "-f", "json", "-q", *_model_args(vocab_file)]
    for given, recorded in (([], 10), (["-k", "3"], 3)):
        code, out, err = _main([*args, *given], capsys)
        assert code == 0, err
        document = json.loads(out)
        assert document["metadata"]["top_k"] == recorded
        assert max(len(r["concepts"]) for r in document["images"]) <= recorded


def test_each_image_carries_the_cosine_of_the_centre_alone(image_tree, vocab_file, inproc, capsys):
    """Beside the cosine of its recomposition, each image has its baseline: the cosine of
    the centre alone, which an image without concepts scores (a cosine of 0.93 is no fit
    when the centre alone gives 0.98)."""

    def records(penalty):
        args = ["decompose", str(image_tree), "-f", "json", "--quiet", *_model_args(vocab_file)]
        code, out, err = _main([*args, "--l1-penalty", penalty], capsys)
        assert code == 0, err
        return {r["path"]: r for r in json.loads(out)["images"]}

    kept, none = records("0.05"), records("1.99")
    # the CSV rows carry the same values
    args = ["decompose", str(image_tree), "-f", "csv", "--quiet", *_model_args(vocab_file)]
    code, out, _ = _main([*args, "--l1-penalty", "0.05"], capsys)
    assert code == 0
    for row in csv.DictReader(io.StringIO(out)):
        assert float(row["baseline_cosine"]) == kept[row["path"]]["baseline_cosine"]
    assert kept.keys() == none.keys() and len(kept) == 10
    for path, rec in none.items():
        # no concept: the recomposition is the centre alone
        assert rec["l0"] == 0 and rec["cosine"] == pytest.approx(rec["baseline_cosine"], abs=2e-6)
        # the centre does not depend on the penalty
        assert kept[path]["baseline_cosine"] == pytest.approx(rec["baseline_cosine"], abs=2e-6)
    assert all(r["l0"] > 0 and r["cosine"] != r["baseline_cosine"] for r in kept.values())
    code, out, _ = _main(
        ["decompose", str(image_tree), "--quiet", *_model_args(vocab_file)], capsys
    )
    assert code == 0
    first = out.splitlines()[0]
    rec = kept[first.split("  (")[0]]
    assert first.endswith(
        f"(l0={rec['l0']}, cosine={rec['cosine']:.3f}, baseline={rec['baseline_cosine']:.3f})"
    )


def test_profile_finds_class_concepts(image_tree, vocab_file, inproc, tmp_path, capsys):
    out = tmp_path / "profile.csv"
    code = cli.main(
        ["profile", str(image_tree), "-f", "csv", "-o", str(out), "--quiet"]
        + _model_args(vocab_file)
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["class"] for r in rows} == {"cats", "dogs"}
    for r in rows:
        assert r["concept"] in VOCAB
        diff = float(r["prevalence_positive"]) - float(r["prevalence_negative"])
        assert diff == pytest.approx(float(r["prevalence_diff"]), abs=2e-6)
        # the counts behind the prevalences: 5 images per class
        assert float(r["prevalence_positive"]) == pytest.approx(int(r["count_positive"]) / 5)
        assert float(r["prevalence_negative"]) == pytest.approx(int(r["count_negative"]) / 5)
    # (adjusted in two levels: each row's class's own adjusted p stands beside its
    # p_adjusted, which a class that does not differ as a whole leaves no evidence)
    header = out.read_text().splitlines()[0].split(",")
    assert header[header.index("p_adjusted") - 1] == "class_p_adjusted"
    code = cli.main(["profile", str(image_tree), "-f", "json", "--quiet", *_model_args(vocab_file)])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    class_p = document["metadata"]["class_p_adjusted"]
    assert {cls: float(r["class_p_adjusted"]) for r in rows for cls in [r["class"]]} == class_p
    assert all(r["class_p_adjusted"] == class_p[r["class"]] for r in document["ranking"])
    code = cli.main(["profile", str(image_tree), "--quiet", *_model_args(vocab_file)])
    assert code == 0
    text = capsys.readouterr().out
    assert "class cats (5 images; 5 in the others): concepts significantly" in text


def test_profile_with_labels_csv(image_tree, vocab_file, inproc, tmp_path):
    labels = tmp_path / "labels.csv"
    lines = ["path,label"]
    for p in sorted(image_tree.rglob("*.png")):
        lines.append(f"{p.relative_to(image_tree)},{'A' if p.parent.name == 'cats' else 'B'}")
    labels.write_text("\n".join(lines))
    out = tmp_path / "profile.json"
    code = cli.main(
        ["profile", str(image_tree), "--labels", str(labels), "-f", "json", "-o", str(out)]
        + ["--quiet", *_model_args(vocab_file)]
    )
    assert code == 0
    written = json.loads(out.read_text())
    assert {r["class"] for r in written["ranking"]} == {"A", "B"}
    # the metadata names the file the classes came from, with its digest
    from sksplice._data import file_sha256

    assert written["metadata"]["labels"] == str(labels)
    assert written["metadata"]["labels_sha256"] == file_sha256(labels)

    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\ncats/0.png,A\n")
    code = cli.main(
        ["profile", str(image_tree), "--labels", str(bad), "--quiet", *_model_args(vocab_file)]
    )
    assert code == 2


# ------------------------------------------------------- standard output is results only


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the command in process; (exit status, standard output, standard error)."""
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _refused(args: list[str], capsys) -> list[str]:
    """The lines of standard error of a command line refused (exit status 2)."""
    code, _, err = _main(args, capsys)
    assert code == 2, err
    return err.splitlines()


def _class_folders(root: Path, counts: dict[str, int], seed: int) -> Path:
    """Folders of small random PNG images under ``root``: ``counts`` of each class."""
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    return root


def test_class_folders_alike_but_for_case_are_said_once_before_embedding(
    vocab_file, inproc, tmp_path, capsys
):
    root = _class_folders(tmp_path / "alike", {"Temple": 2, "temple": 2}, seed=6)
    code, _, err = _main(["profile", str(root), *_model_args(vocab_file)], capsys)
    assert code == 0
    said = "labels that differ only in case or spaces are counted as different classes"
    assert err.count(said) == 1
    assert "'Temple' and 'temple'; if they name one class, give them one label" in err
    assert err.index(said) < err.index("CLIP images")  # (before the images are embedded)


def test_classes_too_small_to_test_are_said_in_the_output_and_on_stderr(
    vocab_file, inproc, tmp_path, capsys
):
    """One image against two: Fisher's exact test gives no p-value below 1/3, so no
    concept can be significant, and "none" would read as "no shortcut". The table says
    so in place of "none"; records say it in their metadata; standard error says it
    whatever the format (the table said it alone, and a table sent to a file left a
    clean-looking run on the terminal); a comparison says it as well."""
    root = _class_folders(tmp_path / "few", {"a": 1, "b": 2}, seed=5)
    warned = "sksplice: warning: in none of 2 classes can a concept be significant at alpha=0.05"
    code, out, err = _main(["profile", str(root), "--quiet", *_model_args(vocab_file)], capsys)
    assert code == 0
    assert "class a (1 image; 2 in the others)" in out
    assert out.count("  none can be: with ") == 2
    assert "with 1 image against 2, Fisher's exact test gives no p-value below 0.33" in out
    assert err.count(warned) == 1 and "can be significant" not in out
    code, out, err = _main(
        ["profile", str(root), "-f", "json", "--quiet", *_model_args(vocab_file)], capsys
    )
    assert code == 0
    smallest = json.loads(out)["metadata"]["smallest_p_value"]
    assert smallest == {"a": 0.333333, "b": 0.333333}  # (6 significant digits)
    assert err.count(warned) == 1
    # (in the command line's words: images, not samples)
    assert "class 'a', 1 image against 2 in the rest: 0.33" in err
    assert "class 'b', 2 images against 1 in the rest: 0.33" in err
    assert "more images are needed" in err and "sample" not in err
    code, out, err = _main(
        ["compare", str(root / "a"), str(root / "b"), "--quiet", *_model_args(vocab_file)],
        capsys,
    )
    assert code == 0
    assert "  none can be: with 1 image in A against 2 in B, Fisher's exact test" in out
    assert err.count("sksplice: warning: no concept can be significant at alpha=0.05") == 1
    # the other formats warn, in the same words
    code, out, err = _main(
        ["compare", str(root / "a"), str(root / "b"), "-f", "json", *_model_args(vocab_file)],
        capsys,
    )
    assert code == 0 and json.loads(out)["metadata"]["smallest_p_value"] == 0.333333
    assert (
        "sksplice: warning: no concept can be significant at alpha=0.05: with 1 image in A "
        "against 2 in B, Fisher's exact test gives no p-value below 0.33"
    ) in err
    assert "sample" not in err


def test_classes_too_small_to_test_are_said_before_anything_is_embedded(
    vocab_file, inproc, tmp_path, capsys
):
    """Whether a concept can be significant depends on the sizes of the classes alone:
    it was said once every image was embedded and decomposed, minutes into a run. It
    is said before, once; where images that cannot be read change a class's size, at
    the end, in its new size."""
    root = _class_folders(tmp_path / "few", {"a": 1, "b": 6, "c": 5}, seed=5)
    args = [*_model_args(vocab_file), "--no-image-cache"]  # (images embedded every run)
    code, _, err = _main(["profile", str(root), *args], capsys)
    assert code == 0
    said = "sksplice: warning: no concept of class 'a' can be significant at alpha=0.05"
    assert err.count(said) == 1 and err.index(said) < err.index("CLIP images"), err
    code, _, err = _main(["compare", str(root / "a"), str(root / "c"), *args], capsys)
    assert code == 0
    said = "sksplice: warning: no concept can be significant at alpha=0.05: with 1 image in A"
    assert err.count(said) == 1 and err.index(said) < err.index("CLIP images"), err
    # 2 images of a class against 11 can be significant; one of them unreadable, 1 cannot
    (root / "a" / "0.png").replace(root / "a" / "1.jpg")
    (root / "a" / "0.png").write_bytes(b"not an image")
    code, _, err = _main(["profile", str(root), *args], capsys)
    assert code == 0
    said = "sksplice: warning: no concept of class 'a' can be significant at alpha=0.05"
    assert err.count(said) == 1 and err.index(said) > err.index("CLIP images"), err
    assert "with 1 image against 11 in the rest" in err


def _parse(fmt: str, text: str) -> int:
    """Parse an output of ``fmt``; return the number of records."""
    if fmt == "json":
        data = json.loads(text)
        return len(data.get("images", data.get("ranking", [])))
    if fmt == "jsonl":
        return len([json.loads(line) for line in text.splitlines()])
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and all(None not in r and None not in r.values() for r in rows)
        return len(rows)
    return text.count("\n")


@pytest.mark.parametrize("command", ["decompose", "profile"])
@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_stdout_holds_only_results(image_tree, vocab_file, inproc, capsys, command, fmt):
    """Every format written to standard output parses, with progress and warnings on."""
    args = [command, str(image_tree), "-f", fmt, "-k", "3", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)  # no --quiet: progress bars, info and warnings
    assert code == 0, err
    assert _parse(fmt, out) > 0
    # the diagnostics went to standard error, one readable line each
    assert "sksplice: warning: the image mean (modality centre) is learned from only 10" in err
    assert "CLIP images: 100%" in err  # the progress bar
    assert "[SpliceTransformer]" not in out + err
    if fmt == "json":
        assert json.loads(out)["metadata"]["image_mean"]["n_samples"] == 10


def test_stdout_piped_to_a_file_parses(image_tree, vocab_file, env, tmp_path):
    """The README's use: ``sksplice decompose ... -f json > out.json`` in a real process."""
    for fmt in ("json", "csv"):
        target = tmp_path / f"piped.{fmt}"
        with target.open("w") as fh:
            proc = subprocess.run(
                [sys.executable, "-m", "sksplice", "decompose", str(image_tree), "-f", fmt]
                + _model_args(vocab_file),
                env=env,
                stdout=fh,
                stderr=subprocess.PIPE,
                text=True,
                timeout=300,
            )
        assert proc.returncode == 0, proc.stderr
        assert _parse(fmt, target.read_text()) >= 10
        assert "decomposing" in proc.stderr  # the progress bar went to standard error
        assert "Traceback" not in proc.stderr


def test_warnings_are_one_readable_line(image_tree, vocab_file, inproc, capsys, monkeypatch):
    """An unwritable dictionary cache: one line with the fix, not a Python warning."""
    from sksplice import dictionary

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(dictionary, "atomic_write", refuse)
    dictionary.clear_memory_cache()
    code, out, err = _main(
        ["decompose", str(image_tree / "cats"), "-f", "jsonl", *_model_args(vocab_file)], capsys
    )
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "dictionary cache" in ln]
    assert len(lines) == 1
    assert lines[0].startswith("sksplice: warning: cannot write the concept dictionary cache")
    assert "--cache-dir" in lines[0]
    assert "DictionaryCacheWarning" not in err and "warnings.warn" not in err
    assert _parse("jsonl", out) == 5


def test_quiet_keeps_warnings_and_errors_only(image_tree, vocab_file, inproc, capsys):
    code, out, err = _main(
        ["decompose", str(image_tree / "cats"), "-f", "jsonl", "-q", *_model_args(vocab_file)],
        capsys,
    )
    assert code == 0
    assert "concept dictionary" not in err and "decomposing" not in err
    assert "sksplice: warning: the image mean" in err  # warnings stay
    assert _parse("jsonl", out) == 5


# ------------------------------------------------------- every option before embedding


def _bad_mean(tmp_path: Path, name: str) -> str:
    arrays = {
        "2x16": np.zeros((2, 16), dtype=np.float32),
        "4x8": np.zeros((4, 8), dtype=np.float32),
        "complex": np.zeros(32, dtype=np.complex64),
        "bool": np.zeros(32, dtype=bool),
        "int": np.zeros(32, dtype=np.int64),
        "5d": np.zeros(5, dtype=np.float32),
    }
    path = tmp_path / f"mean_{name}.npy"
    np.save(path, arrays[name])
    return str(path)


_OPTION_CASES = {
    "model-typo": (["--model", "sksplice-test-tinyy"], "close matches: sksplice-test-tiny"),
    "pretrained-tag-typo": (
        ["--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b78k"],
        "close matches: laion2b_s34b_b79k",
    ),
    "pretrained-missing-file": (
        ["--pretrained", "{tmp}/missing/weights.pt"],
        "--pretrained '{tmp}/missing/weights.pt': no such checkpoint file; or give "
        "--pretrained none (random weights: sksplice-test-tiny has no pretrained tags)",
    ),
    "model-hugging-face-repo": (
        ["--model", "openai/clip-vit-base-patch32"],
        "for 'openai/clip-vit-base-patch32' give --model ViT-B-32, --pretrained openai. "
        "--model hf-hub:ORG/REPO loads a Hugging Face repo that holds an open_clip config",
    ),
    "vocabulary-typo": (["--vocabulary", "laoin"], "close matches: laion"),
    "vocabulary-size": (["--vocabulary-size", "50"], "--vocabulary-size 50 is larger than the 11"),
    "vocabulary-size-one": (
        ["--vocabulary-size", "1"],
        "argument --vocabulary-size: must be 2 or more: SpLiCE needs at least two concepts",
    ),
    "solver-typo": (["--solver", "fista"], "--solver 'fista' is not a solver"),
    "device-unknown": (["--device", "tpu"], "--device 'tpu' is not a device"),
    "device-typo": (["--device", "cdu"], "device (close matches: cpu); use auto, cpu, cuda or"),
    "device-case": (["--device", "CPU"], "device (close matches: cpu); use auto, cpu, cuda or"),
    "mean-missing": (["--image-mean", "{tmp}/missing/mean.npy"], "no such file"),
    "mean-pretrained-none": (["--image-mean", "pretrained"], "no published image mean"),
    "output-folder-missing": (["-o", "{tmp}/missing/x.json"], "does not exist"),
}


@pytest.mark.parametrize("case", sorted(_OPTION_CASES))
def test_options_checked_before_embedding(
    case, image_tree, vocab_file, inproc, capsys, no_embedding, tmp_path
):
    extra, expected = _OPTION_CASES[case]
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    expected = expected.replace("{tmp}", str(tmp_path))
    args = ["decompose", str(image_tree), *_model_args(vocab_file), *extra]
    code, out, err = _main(args, capsys)
    assert code == 2, err  # a usage error, found before any work
    last = err.strip().splitlines()[-1]
    assert last.startswith("sksplice: error: ") and expected in last, last
    assert out == ""
    assert "=" not in last.split("--", 1)[0]  # no keyword arguments before the options


@pytest.mark.parametrize("device", ["CPU", "Cuda:0", "cuda: 0", "cuda:-1", "gpu 0", "gpu", "GPU:1"])
def test_a_device_torch_cannot_parse_is_refused_before_torch_is_imported(
    device, image_tree, vocab_file, inproc, capsys, monkeypatch
):
    # A misspelt --device was found only once torch was imported (about 7 s here).
    def imported():
        raise AssertionError("torch was imported to refuse the --device")

    monkeypatch.setattr(_embedders, "import_model_libraries", imported)
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--device", device]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sksplice: error: --device {device!r} is not a device"), last
    assert last.endswith("; use auto, cpu, cuda or cuda:N"), last
    if device.lower().startswith("gpu"):  # (torch's name for it, not "close matches: cpu")
        assert f"(did you mean {'cuda:1' if device.endswith(':1') else 'cuda'}?)" in last, last


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--model", "sksplice-test-tinyy"], "--model 'sksplice-test-tinyy' is not an open_clip"),
        (["--model", "ViT-B-33"], "(close matches: ViT-B-32"),
        (["--target-l0", "50"], "--target-l0 50 cannot be reached"),
        # (a named vocabulary not read yet: its size is known, and the width suffices)
        (
            ["--vocabulary", "laion", "--target-l0", "40"],
            "--target-l0 40 cannot be reached: codes have at most as many non-zero weights as "
            "the embedding dimension (32)",
        ),
        (["--image-mean", "pretrained"], "no published image mean for --model sksplice-test-tiny"),
        (
            ["--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b78k"],
            "--pretrained 'laion2b_s34b_b78k' is neither a pretrained tag of ViT-B-32 nor a "
            "checkpoint file (close matches: laion2b_s34b_b79k); tags of ViT-B-32: openai, ",
        ),
        # (a tag typed in part: the tags it begins first, the default among them)
        (
            ["--model", "ViT-B-32", "--pretrained", "laion2b"],
            "(close matches: laion2b_e16, laion2b_s34b_b79k, ",
        ),
        (
            ["--model", "ViT-B-32-quickgelu", "--pretrained", "laion2b_s34b_b79k"],
            "tags of ViT-B-32-quickgelu: openai, laion400m_e31, laion400m_e32, metaclip_400m",
        ),
        (["--pretrained", "openai"], "tags of sksplice-test-tiny: none; --pretrained none"),
        # (a path meant, not a tag: told that the file is not there)
        (
            ["--model", "ViT-B-32", "--pretrained", "/nonexistent/weights.bin"],
            "--pretrained '/nonexistent/weights.bin': no such checkpoint file; or give a "
            "pretrained tag of ViT-B-32: openai, ",
        ),
    ],
)
def test_what_the_model_config_tells_is_refused_before_open_clip_is_imported(
    extra, said, image_tree, vocab_file, inproc, capsys, monkeypatch
):
    # A misspelt --model, a --target-l0 out of reach or --image-mean pretrained for weights
    # of no published mean were refused once torch and open_clip were imported (9-10 s):
    # open_clip's config files and the table of published means tell them.
    def imported():
        raise AssertionError("torch and open_clip were imported to refuse the command line")

    monkeypatch.setattr(_embedders, "import_model_libraries", imported)
    # (as in a command's own process: open_clip not imported yet; once it is, it answers)
    monkeypatch.delitem(sys.modules, "open_clip", raising=False)
    model = _model_args(vocab_file)
    if "--target-l0" in extra:  # (not with --l1-penalty)
        at = model.index("--l1-penalty")
        del model[at : at + 2]
    args = ["decompose", str(image_tree), *model, *extra]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sksplice: error: ") and said in last, last


def test_the_pretrained_tags_read_without_open_clip_are_those_open_clip_lists(
    tmp_path, monkeypatch
):
    import open_clip

    from sksplice import _model_names

    tags = _model_names.pretrained_tags()
    assert tags is not None and tags["ViT-B-32"][0] == "openai"
    assert tags == {
        model: open_clip.list_pretrained_tags_by_model(model)
        for model in {model for model, _ in open_clip.list_pretrained()}
    }
    # A pretrained.py laid out otherwise (another open_clip release): None, open_clip decides.
    monkeypatch.setattr(_model_names, "_open_clip_folder", lambda: str(tmp_path))
    source = tmp_path / "pretrained.py"
    source.write_text("_PRETRAINED = build_table()\n")
    assert _model_names.pretrained_tags() is None
    source.write_text("_PRETRAINED = {'m': dict(a=_pcfg(), b=3)}\n")
    assert _model_names.pretrained_tags() is None
    table = "_M = dict(a=_pcfg(quick_gelu=True), b=_pcfg())\n_PRETRAINED = {'m': _M}\n"
    twins = (
        "_PRETRAINED_quickgelu = {}\nfor k, v in _PRETRAINED.items():\n"
        "    _PRETRAINED_quickgelu[k + '-quickgelu'] = v\n"
        "_PRETRAINED.update(_PRETRAINED_quickgelu)\n"
    )
    source.write_text(table + twins)
    assert _model_names.pretrained_tags() == {"m": ["a", "b"], "m-quickgelu": ["a"]}
    # Tags added otherwise, or twins made otherwise, are not guessed: open_clip answers.
    for other in (
        table + twins + "_PRETRAINED['n'] = dict(c=_pcfg())\n",
        table + twins + "_PRETRAINED.update(more_tags())\n",
        table,  # (no twins added: this reading would add them)
        table + "for k in list(_PRETRAINED): _PRETRAINED.pop(k)\n" + twins,
    ):
        source.write_text(other)
        assert _model_names.pretrained_tags() is None, other


def test_the_model_configs_read_without_open_clip_are_those_open_clip_lists(monkeypatch, tmp_path):
    import open_clip

    from sksplice._model_names import config_widths
    from sksplice._models import _register_env_model_configs

    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / "sksplice-test-tiny.json"))
    _register_env_model_configs()
    widths = config_widths()
    assert widths is not None and "sksplice-test-tiny" in widths
    listed = open_clip.list_models()
    assert widths == {m: open_clip.get_model_config(m)["embed_dim"] for m in listed}
    # a file or a folder named that is no config or holds none: open_clip's path says
    # what is wrong with it
    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / "no-such-config.json"))
    assert config_widths() is None
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir(), other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}')
    for folder in (empty, other):
        monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(folder))
        assert config_widths() is None, folder


@pytest.mark.parametrize("lines", ["dog\n", "dog\ndog \n\n"])
def test_a_vocabulary_of_one_concept_is_refused_before_embedding(
    lines, image_tree, vocab_file, inproc, capsys, no_embedding, tmp_path
):
    # It was refused only once every image had been embedded (exit 1).
    one = tmp_path / "one.txt"
    one.write_text(lines)
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--vocabulary", str(one)]
    code, out, err = _main(args, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and out == ""
    assert f"vocabulary file {one} holds 1 concept (after removing" in last, last
    # (not "use --vocabulary-size 1 or less", which would be refused in turn)
    code, _, err = _main([*args, "--vocabulary-size", "5"], capsys)
    assert code == 2 and "holds 1 concept" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["2x16", "4x8", "complex", "bool", "int", "5d"])
def test_image_mean_file_rule(name, image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding):
    """One rule for mean files: a 1-D real float vector of length d, never flattened."""
    path = _bad_mean(tmp_path, name)
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--image-mean", path]
    code, _, err = _main(args, capsys)
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert path in last, last
    shape = {"2x16": "(2, 16)", "4x8": "(4, 8)", "5d": "(5,)"}.get(name, "(32,)")
    assert shape in last, last


def test_an_image_mean_file_above_unit_norm_is_refused_before_embedding(
    image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding
):
    # It was accepted, and every image got the same concepts.
    path = tmp_path / "mean.npy"
    np.save(path, np.full(32, 0.5, dtype=np.float32))  # norm 2.83: not normalised first
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--image-mean", str(path)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sksplice: error: --image-mean file '{path}' has norm 2.828, above 1")
    assert "Normalise each embedding before averaging" in last


@pytest.mark.parametrize("suffix", [".npy", ".pt"])
def test_an_image_mean_file_of_zeros_is_said_once_before_embedding(
    suffix, image_tree, vocab_file, inproc, capsys, tmp_path
):
    # It was used without a word: no centring of the images, what a failed or empty
    # computation of a mean may write.
    path = tmp_path / f"mean{suffix}"
    if suffix == ".npy":
        np.save(path, np.zeros(32, dtype=np.float32))
    else:
        torch = pytest.importorskip("torch")
        torch.save(torch.zeros(32), path)
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--image-mean", str(path)]
    code, _, err = _main([*args, "-f", "json"], capsys)
    assert code == 0, err
    warned = f"sksplice: warning: --image-mean {path} holds only zeros: the images are not centred"
    assert err.count(warned) == 1, err
    if suffix == ".npy":  # (read before the model loads: said before the images' embedding)
        assert err.index(warned) < err.index(f"image mean: from {path}"), err
    np.save(tmp_path / "other.npy", np.eye(32, dtype=np.float32)[0] * 0.5)
    code, _, err = _main([*args[:-1], str(tmp_path / "other.npy")], capsys)
    assert code == 0 and "holds only zeros" not in err, err


@pytest.mark.parametrize("value", ["2", "2.0", "1e9"])
def test_a_penalty_of_two_or_more_is_a_usage_error(value, image_tree, vocab_file, env):
    # Every weight of every image is zero from 2 on: it was found after the images.
    proc = _run(
        ["decompose", str(image_tree), *_model_args(vocab_file, "--l1-penalty", value)], env
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"argument --l1-penalty: must be below 2, got '{value}'" in proc.stderr
    assert "no concept at all" in proc.stderr


def test_cuda_device_without_cuda_is_refused_before_embedding(
    image_tree, vocab_file, inproc, capsys, no_embedding
):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = _main(
        ["decompose", str(image_tree), *_model_args(vocab_file, "--device", "cuda")], capsys
    )
    assert code == 2
    assert "--device cuda: CUDA is not available on this machine; use --device cpu" in err


@pytest.mark.parametrize(
    ("device", "said"),
    [
        (
            "mps",
            "--device mps: MPS is not available on this machine (torch.backends.mps."
            "is_available() is False); use --device cpu (or --device auto)",
        ),
        (
            "xpu:1",
            "--device xpu:1: XPU is not available on this machine (torch.xpu.is_available() "
            "is False); use --device cpu (or --device auto)",
        ),
        (
            "meta",
            "--device meta: torch's meta device holds shapes, not numbers: nothing can be "
            "embedded or solved there; use auto, cpu, cuda or cuda:N",
        ),
    ],
)
def test_a_device_this_machine_has_not_is_refused_as_such_before_embedding(
    device, said, image_tree, vocab_file, inproc, capsys, monkeypatch, no_embedding
):
    # A device torch knows was refused as a misspelling ("'mps' is not a device (close
    # matches: mps)"); torch's meta device passed, and the run failed once it embedded
    # ("unsupported scalarType").
    import torch

    def is_available():
        return False

    is_available.__wrapped__ = is_available  # (torch._dynamo reads it)
    monkeypatch.setattr(torch.backends.mps, "is_available", is_available)
    monkeypatch.setattr(torch.xpu, "is_available", is_available)
    args = ["decompose", str(image_tree), *_model_args(vocab_file, "--device", device)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == f"sksplice: error: {said}"


def test_output_directory_and_labels_before_embedding(
    image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding
):
    code, _, err = _main(
        ["decompose", str(image_tree), "-o", str(tmp_path), *_model_args(vocab_file)], capsys
    )
    assert code == 2 and "is a directory" in err
    labels = tmp_path / "missing.csv"
    code, _, err = _main(
        ["profile", str(image_tree), "--labels", str(labels), *_model_args(vocab_file)], capsys
    )
    assert code == 2 and str(labels) in err


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_cache_dir_checked_before_embedding(
    where, image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding
):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    cache = afile if where == "file" else afile / "cache"
    args = ["decompose", str(image_tree), *_model_args(vocab_file), "--cache-dir", str(cache)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    # (in the words of the command line; "The sksplice cache folder '...' exists but ...")
    expected = (
        f"sksplice: error: --cache-dir {cache} is a file, not a folder; give --cache-dir a folder"
        if where == "file"
        else f"sksplice: error: --cache-dir {cache} cannot be created ({afile} is not a "
        "folder); give --cache-dir a folder that can be created"
    )
    assert last == expected, last
    # the same folder through $SKSPLICE_CACHE is named as such, with what to set
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SKSPLICE_CACHE", str(cache))
        code, out, err = _main(args[:-2], capsys)
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sksplice: error: $SKSPLICE_CACHE ({cache}) "), last
    assert last.endswith(
        "set $SKSPLICE_CACHE to a folder"
        + ("" if where == "file" else " that can be created")
        + ", or give --cache-dir"
    ), last
    # `sksplice cache` says it in the same words, with the same status (it said "The sksplice
    # cache folder '...' exists but is not a folder; ...", an error of the run, exit 1)
    if where == "file":
        code, out, err = _main(["cache", "--cache-dir", str(cache)], capsys)
        assert (code, out) == (2, "") and err.strip().splitlines()[-1] == expected, err


@pytest.mark.parametrize("how", ["--cache-dir", "SKSPLICE_CACHE"])
def test_a_cache_dir_that_takes_no_file_is_used_with_a_warning(
    how, image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    """A cache folder chosen by --cache-dir or $SKSPLICE_CACHE that takes no file (here a
    file where its dictionaries folder goes) is accepted the same way: a warning, before
    anything is embedded, says that a dictionary not in it is embedded but not saved; the
    run goes on, and the library's own warning does not repeat it."""
    from sksplice import dictionary

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "dictionaries").write_text("a file where the cache's folder goes\n")
    monkeypatch.setenv("SKSPLICE_CACHE", str(cache) if how == "SKSPLICE_CACHE" else "")
    given = ["--cache-dir", str(cache)] if how == "--cache-dir" else []
    dictionary.clear_memory_cache()
    args = ["decompose", str(image_tree / "cats"), "-f", "jsonl", *_model_args(vocab_file)]
    code, out, err = _main([*args, *given], capsys)
    assert code == 0, err
    assert _parse("jsonl", out) == 5
    lines = err.splitlines()
    warned = [i for i, ln in enumerate(lines) if "dictionary cache" in ln]
    embedding = [i for i, ln in enumerate(lines) if ln.startswith("sksplice: embedding ")]
    assert len(warned) == 1 and embedding and warned[0] < embedding[0], err
    line = lines[warned[0]]
    named = f"--cache-dir {cache}" if how == "--cache-dir" else f"the cache folder {cache}"
    assert line.startswith(
        f"sksplice: warning: cannot write the concept dictionary cache in {named} ("
    ), line
    assert (
        "the concepts of the vocabulary not cached there for this model are embedded for "
        "this run and not saved" in line
    ), line
    assert line.count("--cache-dir") == (2 if how == "--cache-dir" else 1), line
    assert "no disk cache" in lines[embedding[0]]


def _cached_dictionary(image_tree: Path, vocab_file: Path, cache: Path, capsys) -> None:
    """Fill ``cache`` with the dictionary of ``vocab_file`` (one run of the command)."""
    from sksplice import dictionary

    dictionary.clear_memory_cache()
    args = ["decompose", str(image_tree / "cats"), "-q", "-f", "jsonl", "--cache-dir", str(cache)]
    code, _, err = _main([*args, *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert len(list((cache / "dictionaries").glob("*.npz"))) == 1
    dictionary.clear_memory_cache()


def test_a_read_only_cache_dir_holding_the_dictionary_is_read(
    image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    """--cache-dir naming a read-only folder (a file system mounted read-only: every
    write refused, for the superuser too) that holds the dictionary: the dictionary is
    read from it, with no warning (a shared read-only cache was warned about on every
    run); a vocabulary it does not hold is warned about, before anything is embedded."""
    from sksplice import _data, dictionary

    cache = tmp_path / "cache"
    _cached_dictionary(image_tree, vocab_file, cache, capsys)
    before = sorted(cache.rglob("*"))

    def read_only(folder):
        return "Read-only file system" if str(folder).startswith(str(cache)) else None

    monkeypatch.setattr(_data, "unwritable_reason", read_only)
    monkeypatch.setattr(dictionary, "unwritable_reason", read_only)
    args = ["decompose", str(image_tree / "cats"), "-f", "jsonl", "--cache-dir", str(cache)]
    code, out, err = _main([*args, *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert _parse("jsonl", out) == 5
    assert "cannot write" not in err and "dictionary cache" not in err, err
    assert "concepts read from the cache" in err and "sksplice: embedding" not in err, err
    assert sorted(cache.rglob("*")) == before
    # a vocabulary the cache does not hold (one concept more): said once, before the
    # concepts are embedded, and nothing is written
    other = tmp_path / "other_vocab.txt"
    other.write_text(vocab_file.read_text() + "a concept not cached\n")
    code, out, err = _main([*args, *_model_args(other)], capsys)
    assert code == 0, err
    lines = err.splitlines()
    warned = [i for i, ln in enumerate(lines) if "dictionary cache" in ln]
    embedding = [i for i, ln in enumerate(lines) if ln.startswith("sksplice: embedding ")]
    assert len(warned) == 1 and embedding and warned[0] < embedding[0], err
    assert lines[warned[0]].startswith(
        f"sksplice: warning: cannot write the concept dictionary cache in --cache-dir {cache} "
        "(Read-only file system): the concepts of the vocabulary not cached there for this "
        "model are embedded for this run and not saved"
    ), err
    assert sorted(cache.rglob("*")) == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="the superuser writes in a folder of mode 0o555",
)
def test_a_cache_dir_of_mode_555_holding_the_dictionary_is_read(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    cache = tmp_path / "cache"
    _cached_dictionary(image_tree, vocab_file, cache, capsys)
    os.chmod(cache / "dictionaries", 0o555)
    os.chmod(cache, 0o555)
    try:
        args = ["decompose", str(image_tree / "cats"), "-f", "jsonl", "--cache-dir", str(cache)]
        code, out, err = _main([*args, *_model_args(vocab_file)], capsys)
    finally:
        os.chmod(cache, 0o755)
        os.chmod(cache / "dictionaries", 0o755)
    assert code == 0, err
    assert _parse("jsonl", out) == 5
    assert "cannot write the concept dictionary cache" not in err, err
    assert "concepts read from the cache" in err, err


@pytest.mark.parametrize("cache", ["given", "default"])
@pytest.mark.parametrize("missing", ["cache", "parent"])
def test_a_refused_run_leaves_the_cache_folder_as_it_was(
    cache, missing, image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch, no_embedding
):
    """The cache folder's check creates nothing (neither the folder nor its
    ``dictionaries`` one): a run refused after it (here for its --vocabulary-size) leaves
    the file system as it found it."""
    root = tmp_path / "caches"
    root.mkdir()
    folder = root / "cache" if missing == "cache" else root / "new" / "cache"
    if missing == "cache" and cache == "given":
        folder.mkdir()  # (an existing --cache-dir, without its dictionaries folder)
    before = sorted(root.rglob("*"))
    given = ["--cache-dir", str(folder)] if cache == "given" else []
    monkeypatch.setenv("SKSPLICE_CACHE", str(folder))
    args = ["decompose", str(image_tree), *_model_args(vocab_file, "--vocabulary-size", "100000")]
    code, out, err = _main([*args, *given], capsys)
    assert code == 2 and out == "", err
    assert "--vocabulary-size 100000" in err.strip().splitlines()[-1], err
    assert sorted(root.rglob("*")) == before


def test_an_unwritable_default_cache_is_warned_about_before_embedding(
    image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    from sksplice import dictionary

    cache = tmp_path / "default-cache"
    cache.mkdir()
    (cache / "dictionaries").write_text("a file where the cache's folder goes\n")
    monkeypatch.setenv("SKSPLICE_CACHE", str(cache))
    dictionary.clear_memory_cache()
    args = ["decompose", str(image_tree / "cats"), "-f", "jsonl", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 0, err
    lines = err.splitlines()
    warned = [i for i, ln in enumerate(lines) if "cannot write the concept dictionary" in ln]
    embedding = [i for i, ln in enumerate(lines) if ln.startswith("sksplice: embedding ")]
    assert len(warned) == 1 and embedding and warned[0] < embedding[0], err
    assert lines[warned[0]].count("--cache-dir") == 1, lines[warned[0]]  # (advice once)
    assert "no disk cache" in lines[embedding[0]]
    assert _parse("jsonl", out) == 5


def test_an_output_folder_that_takes_no_file_is_refused_before_the_run(tmp_path):
    from sksplice.cli._checks import _check_output

    # A superuser passes os.access everywhere; /proc takes no new file even so (another
    # user is refused by os.access already).
    if Path("/proc").is_dir() and hasattr(os, "geteuid") and os.geteuid() == 0:
        with pytest.raises(
            cli.CLIError,
            match=r"no file can be created in folder /proc \(its file system makes no new files\)",
        ):
            _check_output("/proc/out.csv")
    (tmp_path / "a_file").write_text("")
    for below in ("out.csv", "sub/out.csv"):
        with pytest.raises(cli.CLIError, match=r"a_file is a file, not a folder \(-o\)"):
            _check_output(str(tmp_path / "a_file" / below))
    _check_output(str(tmp_path / "out.csv"))  # a writable folder: nothing left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_an_output_folder_that_lets_no_file_be_removed_is_refused(tmp_path, monkeypatch):
    # (an append-only folder: the output's temporary file could not replace the file)
    from sksplice.cli import _checks

    def refuse(path):
        raise PermissionError(1, "Operation not permitted", path)

    monkeypatch.setattr(_checks.os, "unlink", refuse)
    with pytest.raises(cli.CLIError, match=r"cannot be removed there \(Operation not permitted\)"):
        _checks._check_output(str(tmp_path / "out.csv"))


def test_standard_output_named_as_a_file_is_not_checked_as_a_folder(monkeypatch):
    # -o /dev/stdout is written in place, also when the shell redirected it to a file in
    # a folder that takes no new file.
    from sksplice.cli import _checks

    # (under pytest's capture, file descriptor 1 is a regular file)
    monkeypatch.setattr(_checks.os, "access", lambda *args, **kwargs: False)
    _checks._check_output("/dev/stdout")


def test_report_output_must_be_a_file(
    image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(["report", str(image_tree), "-o", "-", *_model_args(vocab_file)], capsys)
    assert code == 2 and out == ""
    assert "sksplice: error: -o needs a file name: the report is an HTML page" in err
    assert not (tmp_path / "-").exists()


def test_a_file_given_twice_is_decomposed_once(image_tree, capsys, caplog):
    first, second = sorted((image_tree / "cats").glob("*.png"))[:2]
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        paths = cli.collect_images([first, image_tree / "cats", second, first])
    assert paths[0] == first and len(paths) == len(set(map(os.path.realpath, paths)))
    assert sorted(map(os.path.realpath, paths)) == sorted(
        os.path.realpath(p) for p in (image_tree / "cats").glob("*.png")
    )
    messages = [r.getMessage() for r in caplog.records]
    assert any("2 image files given more than once: " in m for m in messages), messages


def test_a_file_given_three_times_is_counted_once(image_tree, caplog, monkeypatch):
    # It was "2 image file(s) given more than once: x.png; x.png (again as ...)".
    monkeypatch.chdir(image_tree)
    first = sorted(Path("cats").glob("*.png"))[0]
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        cli.collect_images(["cats", str(first), f"./cats/../{first}"])
    (message,) = [r.getMessage() for r in caplog.records if "more than once" in r.getMessage()]
    assert message.startswith(
        f"1 image file given more than once: {first} (again as cats/../{first}); "
    ), message


def test_an_image_linked_into_two_class_folders_stays_in_both(tmp_path):
    root = tmp_path / "classes"
    _png(root / "beach" / "a.png", 0)
    _png(root / "beach" / "b.png", 1)
    (root / "dog").mkdir()
    (root / "dog" / "a.png").symlink_to(root / "beach" / "a.png")  # a dog on a beach
    paths = cli.collect_images([root])
    assert _inputs._labels_from_folders(root, paths) == ["beach", "beach", "dog"]


def test_python_fit_rejects_unknown_solver_and_device():
    from sksplice import SpliceTransformer

    rng = np.random.default_rng(0)
    X, D = rng.normal(size=(120, 8)), rng.normal(size=(6, 8))
    make = lambda **kw: SpliceTransformer(  # noqa: E731
        vocabulary=[f"c{i}" for i in range(6)], concept_embeddings=D, **kw
    )
    with pytest.raises(ValueError, match="solver must be one of"):
        make(solver="fista", device="cpu").fit(X)
    with pytest.raises(ValueError, match="device='tpu'"):
        make(device="tpu").fit(X)


# ------------------------------------------------------------- the modality centre


def test_one_image_in_a_folder_names_the_files_not_read(
    vocab_file, inproc, capsys, tmp_path, no_embedding
):
    # A folder of one image and two other files got the single-image advice only, and the
    # user who counted three files could not tell why.
    folder = tmp_path / "photos"
    _png(folder / "a.png", 0)
    (folder / "notes.txt").write_text("x")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.heic").write_bytes(b"x")
    code, out, err = _main(["decompose", str(folder), *_model_args(vocab_file)], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and out == ""
    assert "cannot be learned from a single image" in last, last
    assert last.endswith(
        f"(folder {folder}: 2 other files not read, without an image extension "
        "(notes.txt, sub/b.heic))"
    ), last
    # a single image named as a file: the advice alone
    code, _, err = _main(["decompose", str(folder / "a.png"), *_model_args(vocab_file)], capsys)
    assert code == 2 and "not read" not in err


@pytest.mark.parametrize("command", ["decompose", "search", "report"])
def test_one_image_with_a_learned_centre_is_refused_before_the_model_is_looked_up(
    command, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    # With --image-mean data the centre is learned whatever the model, yet one image was
    # refused only after torch and open_clip were imported and the model checked (8 s).
    def imported():
        raise AssertionError("torch and open_clip were imported to refuse one image")

    monkeypatch.setattr(_embedders, "import_model_libraries", imported)
    # (as in a command's own process: open_clip not imported yet; once it is, the model's
    # name is checked by open_clip before the one image is refused)
    monkeypatch.delitem(sys.modules, "open_clip", raising=False)
    image = tmp_path / "a.png"
    _png(image, 0)
    extra = {"search": ["--concepts", "cat"], "report": ["-o", str(tmp_path / "r.html")]}
    args = [command, str(image), *extra.get(command, []), *_model_args(vocab_file)]
    # (also with the default, auto, for weights of no published mean: a table lookup)
    for mean in (["--image-mean", "data"], [], ["--image-mean", "auto"]):
        code, out, err = _main([*args, *mean], capsys)
        assert code == 2 and out == "", err
        assert "cannot be learned from a single image" in err.strip().splitlines()[-1]
    # one file that is no image: no image is left, an error of the run (exit 1)
    image.write_text("not an image")
    code, out, err = _main([*args, "--image-mean", "data"], capsys)
    assert code == 1 and out == "", err
    assert "it is skipped, and no image is left to decompose" in err


def test_one_image_advice_works_in_cli_and_python(image_tree, vocab_file, inproc, capsys, tmp_path):
    one = str(sorted((image_tree / "cats").glob("*.png"))[0])
    code, _, err = _main(["decompose", one, *_model_args(vocab_file)], capsys)
    assert code == 2  # found before any image is embedded: the command line is wrong
    assert "cannot be learned from a single image" in err and "--image-mean FILE.npy" in err
    # the advice works: a mean file of this model's image embeddings
    from sksplice import CLIPEmbedder, SpliceTransformer

    X = CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu").transform(
        [str(p) for p in sorted(image_tree.rglob("*.png"))]
    )
    mean_file = tmp_path / "mean.npy"
    np.save(mean_file, X.mean(axis=0))
    code, out, err = _main(
        ["decompose", one, "-f", "json", "--image-mean", str(mean_file), *_model_args(vocab_file)],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["metadata"]["image_mean"] == {
        "source": "file",
        "file": str(mean_file),
        "sha256": file_sha256(mean_file),
    }
    assert len(data["images"]) == 1 and data["images"][0]["l0"] > 0
    # Python behaves the same way: one row with a learned centre is refused
    splice = SpliceTransformer(
        vocabulary=VOCAB, concept_embeddings=np.random.default_rng(0).normal(size=(11, 32))
    )
    with pytest.raises(ValueError, match="from 1 sample"):
        splice.fit(X[:1])
    splice.set_params(image_mean=X.mean(axis=0)).fit(X[:1])
    assert splice.mean_source_ == "given" and splice.n_mean_samples_ is None


def test_small_learned_mean_warns_and_is_recorded():
    from sksplice import SpliceTransformer
    from sksplice.transformer import MIN_MEAN_SAMPLES, SmallMeanSampleWarning

    rng = np.random.default_rng(0)
    splice = SpliceTransformer(
        vocabulary=[f"c{i}" for i in range(6)], concept_embeddings=rng.normal(size=(6, 8))
    )
    with pytest.warns(SmallMeanSampleWarning, match="only 99 rows"):
        splice.fit(rng.normal(size=(MIN_MEAN_SAMPLES - 1, 8)))
    assert (splice.mean_source_, splice.n_mean_samples_) == ("data", 99)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallMeanSampleWarning)
        splice.fit(rng.normal(size=(MIN_MEAN_SAMPLES, 8)))
    assert splice.n_mean_samples_ == MIN_MEAN_SAMPLES


# ------------------------------------------------------------- offline, no weights

_OFFLINE_SCRIPT = """
import json, sys, time
from sksplice import cli
import sksplice.embedders, open_clip, huggingface_hub  # imports are not what is timed
start = time.monotonic()
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "seconds": time.monotonic() - start}))
"""


@pytest.mark.parametrize(
    ("model", "offline"),
    [
        ("ViT-B-32", False),
        ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", True),
    ],
)
def test_offline_without_weights_fails_fast_with_advice(
    model, offline, image_tree, vocab_file, env, tmp_path
):
    """No cached weights and no network: an error in seconds (not a minute of retries)."""
    run_env = dict(env, HF_HOME=str(tmp_path / "empty_hf_home"))
    # a host name that never resolves (RFC 2606) stands for "no network": without the
    # fix, huggingface_hub retries it for about a minute; it never downloads anything
    run_env["HF_ENDPOINT"] = "https://hub.sksplice-test.invalid"
    if offline:
        run_env["HF_HUB_OFFLINE"] = "1"
    else:
        run_env.pop("HF_HUB_OFFLINE", None)
        run_env.pop("TRANSFORMERS_OFFLINE", None)  # huggingface_hub reads it too
    args = ["decompose", str(image_tree), "--model", model, "--vocabulary", str(vocab_file)]
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, *args, "--device", "cpu"],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 1, proc.stderr
    assert result["seconds"] < 10, result
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("sksplice: error: ")
    assert "not in the local cache" in last and str(tmp_path / "empty_hf_home") in last
    for advice in ("network connection", "HF_HUB_OFFLINE=1"):
        assert advice in last, last
    # offline mode on: a downloading run needs it off, a copied cache nothing more (it
    # was told to set the variable that was set)
    assert ("and set HF_HUB_OFFLINE=1" in last) == (not offline), last
    assert ("network connection and without HF_HUB_OFFLINE=1" in last) == offline, last
    # a checkpoint file is the third way for tags (--pretrained is ignored for hf-hub:),
    # with the file to download and the published mean it does not bring along (a file is
    # no tag: a run given one learned the centre, and refused a single image)
    assert ("--pretrained PATH" in last) == (not model.startswith("hf-hub:")), last
    if not model.startswith("hf-hub:"):
        from sksplice.vocabulary import IMAGE_MEANS

        remote = IMAGE_MEANS[("ViT-B-32", "laion2b_s34b_b79k")]
        mean = Path(env["SKSPLICE_DATA"]) / remote.path  # (not there: its address said)
        assert (
            "or pass --pretrained PATH (these weights: https://hub.sksplice-test.invalid/laion/"
            "CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/main/open_clip_pytorch_model.bin), with "
            f"--image-mean {mean} for their published mean (a checkpoint file does not "
            "bring it along, as the tag does). The run also "
            f"needs the image mean of ViT-B-32 laion2b_s34b_b79k ({remote.url}, to put in the "
            f"folder '{mean.parent}' as '{mean.name}', SHA-256 {remote.sha256})"
        ) in last, last
        # (said once: the advice of the checkpoint file named it with its address too)
        assert last.count(remote.url) == 1 and last.count(remote.sha256) == 1, last
    assert "Retrying" not in proc.stderr


# --------------------------------------------------- folders, labels and killed runs


def _png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)


def test_symlinked_class_folders_are_followed_once(tmp_path, caplog):
    """A class folder that is a symlink is read; a loop is walked once, with a warning."""
    elsewhere = tmp_path / "elsewhere" / "birds"
    for i in range(3):
        _png(elsewhere / f"{i}.png", i)
    root = tmp_path / "dataset"
    for cls in ("cats", "dogs"):
        for i in range(3):
            _png(root / cls / f"{i}.png", 10 + i)
    (root / "birds").symlink_to(elsewhere, target_is_directory=True)
    (root / "cats" / "loop").symlink_to(root, target_is_directory=True)  # a loop
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        paths = cli.collect_images([root])
    assert len(paths) == 9
    assert _inputs._labels_from_folders(root, paths).count("birds") == 3
    assert any(
        "loop" in r.getMessage() and "read under another path" in r.getMessage()
        for r in caplog.records
    )


def test_a_link_to_a_folder_of_the_tree_does_not_take_its_place(tmp_path, caplog):
    # "a_cats_alias" -> cats sorts first: the images stay under cats (and in its class),
    # the alias is not followed, wherever it sorts
    root = tmp_path / "dataset"
    for cls in ("cats", "dogs"):
        for i in range(3):
            _png(root / cls / f"{i}.png", 10 + i)
    (root / "a_cats_alias").symlink_to("cats", target_is_directory=True)
    (root / "zz_dogs_alias").symlink_to("dogs", target_is_directory=True)
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        paths = cli.collect_images([root])
    assert sorted({p.parent.name for p in paths}) == ["cats", "dogs"] and len(paths) == 6
    assert sorted(set(_inputs._labels_from_folders(root, paths))) == ["cats", "dogs"]
    warned = [r.getMessage() for r in caplog.records]
    assert any("not following" in m and "a_cats_alias" in m for m in warned), warned
    assert any("not following" in m and "zz_dogs_alias" in m for m in warned), warned


def test_a_link_s_folder_is_named_relative_to_the_working_folder(tmp_path, caplog, monkeypatch):
    # "it leads to /abs/path/dataset/cats" for a folder given as dataset
    monkeypatch.chdir(tmp_path)
    _png(tmp_path / "dataset" / "cats" / "0.png", 1)
    (tmp_path / "dataset" / "alias").symlink_to("cats", target_is_directory=True)
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        cli.collect_images([Path("dataset")])
    warned = [r.getMessage() for r in caplog.records if "not following" in r.getMessage()]
    assert warned and warned[0].startswith(
        f"not following {Path('dataset/alias')}: it leads to {Path('dataset/cats')}, a folder"
    ), warned
    # a folder given in full is answered in full
    caplog.clear()
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        cli.collect_images([tmp_path / "dataset"])
    warned = [r.getMessage() for r in caplog.records if "not following" in r.getMessage()]
    real = os.path.realpath(tmp_path / "dataset" / "cats")
    assert warned and f": it leads to {real}, a folder" in warned[0], warned


def test_labels_csv_matches_relative_paths(tmp_path):
    root = tmp_path / "imgs"
    for rel in ("x.png", "sub/x.png", "a/y.png", "b/y.png", "c/z.png"):
        _png(root / rel, 0)
    paths = cli.collect_images([root])
    labels = tmp_path / "labels.csv"
    # a bare name that is unique (z.png) matches; x.png names only the top-level file
    labels.write_text("path,label\nx.png,top\nsub/x.png,sub\na/y.png,A\nb/y.png,B\nz.png,Z\n")
    got = dict(zip(map(str, paths), _inputs._read_labels(labels, root, paths), strict=True))
    assert got[str(root / "x.png")] == "top" and got[str(root / "sub" / "x.png")] == "sub"
    assert got[str(root / "c" / "z.png")] == "Z"
    # x.png no longer labels sub/x.png too
    labels.write_text("x.png,top\na/y.png,A\nb/y.png,B\nz.png,Z\n")
    with pytest.raises(cli.CLIError, match=r"no label for image .*sub/x\.png"):
        _inputs._read_labels(labels, root, paths)
    # an ambiguous bare name is an error naming both files
    labels.write_text("x.png,top\nsub/x.png,s\ny.png,Y\nz.png,Z\n")
    with pytest.raises(cli.CLIError, match=r"line 3: the bare name 'y.png' matches") as info:
        _inputs._read_labels(labels, root, paths)
    assert str(root / "a" / "y.png") in str(info.value) and str(root / "b" / "y.png") in str(
        info.value
    )
    # quoted fields with commas are read as CSV
    (root / "c" / "z.png").rename(root / "c" / "z, 1.png")
    paths = cli.collect_images([root])
    labels.write_text('x.png,top\nsub/x.png,s\na/y.png,A\nb/y.png,B\n"c/z, 1.png","a, b"\n')
    assert "a, b" in _inputs._read_labels(labels, root, paths)


@pytest.mark.parametrize("folder_given_as", ["relative", "absolute"])
def test_labels_csv_of_absolute_paths_whatever_the_folder(tmp_path, monkeypatch, folder_given_as):
    # docs/cli.md: "absolute paths work too"; they did only when the folder was named by
    # an absolute path as well (every row "named no image").
    monkeypatch.chdir(tmp_path)
    for rel in ("imgs/a/x.png", "imgs/b/y.png"):
        _png(tmp_path / rel, 0)
    root = Path("imgs") if folder_given_as == "relative" else tmp_path / "imgs"
    paths = cli.collect_images([root])
    labels = tmp_path / "labels.csv"
    labels.write_text(f"{tmp_path / 'imgs/a/x.png'},A\n{tmp_path}/imgs/b/../b/y.png,B\n")
    assert _inputs._read_labels(labels, root, paths) == ["A", "B"]
    # relative rows still work, and an absolute path outside the folder names no image
    labels.write_text(f"a/x.png,A\nb/y.png,B\n{tmp_path / 'elsewhere.png'},C\n")
    assert _inputs._read_labels(labels, root, paths) == ["A", "B"]
    # the folder named through a link, the rows through its real path, and the reverse
    (tmp_path / "link").symlink_to(tmp_path / "imgs")
    for folder, named in (("link", "imgs"), ("imgs", "link")):
        linked = Path(folder) if folder_given_as == "relative" else tmp_path / folder
        labels.write_text(f"{tmp_path / named / 'a/x.png'},A\n{tmp_path / named / 'b/y.png'},B\n")
        assert _inputs._read_labels(labels, linked, cli.collect_images([linked])) == ["A", "B"]


_SLOW_WRITER = """
import sys, time
from sksplice import cli
from sksplice.cli import _output
write = _output._Writer.write
def slow(self, rec):
    write(self, rec)
    print("wrote", self.n, file=sys.stderr, flush=True)
    time.sleep(30)
_output._Writer.write = slow
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGKILL"])
def test_killed_decompose_keeps_the_previous_file(sig, image_tree, vocab_file, env, tmp_path):
    import signal
    import time

    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, "decompose", str(image_tree), "-f", "csv"]
        + ["-o", str(out), "--quiet", *_model_args(vocab_file)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "wrote 1" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the command ended early"
        proc.send_signal(getattr(signal, sig))
        code = proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        proc.kill()
    assert out.read_text() == "previous results\n"  # the previous file survives
    partial = tmp_path / "out.csv.partial"
    if sig != "SIGKILL":
        # (SIGHUP, the terminal or ssh connection of the run closed, ended the process
        # at once and lost the finished rows)
        code_expected, said = (143, "terminated") if sig == "SIGTERM" else (129, "hung up")
        assert code == code_expected, err
        assert f"{said}: 1 of 10 images written" in err and str(partial) in err
        assert err.count("sksplice: error:") == 1, err  # one error line
        rows = list(csv.DictReader(partial.open()))
        assert rows and {r["path"] for r in rows} == {rows[0]["path"]}
    else:
        assert code == -9
        assert not partial.exists()
        # the temporary file a kill leaves names its dead writer; the next write removes it
        assert [pid for _, pid in temporary_files_of(out)] == [proc.pid]
        _output._Output(str(out)).discard()
        assert not temporary_files_of(out) and out.read_text() == "previous results\n"


_SWALLOWING = """
import importlib, os, signal, sys, time
# Ctrl-C as in a terminal (a job started in the background of a shell ignores SIGINT, and
# so would this process).
signal.signal(signal.SIGINT, signal.default_int_handler)
from sksplice import cli
module, _, path = sys.argv[1].partition(":")
*owner_path, attribute = path.split(".")
owner = importlib.import_module(module)
for part in owner_path:
    owner = getattr(owner, part)
original, calls = getattr(owner, attribute), []
class Swallows:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the KeyboardInterrupt is raised here, where Python ignores it
def then_swallow(*args, **kwargs):
    result = original(*args, **kwargs)
    calls.append(1)
    if len(calls) == 1:
        Swallows()  # (collected at once)
    return result
setattr(owner, attribute, then_swallow)
sys.exit(cli.main(sys.argv[2:]))
"""


def _run_swallowing(target: str, args: list[str], env) -> subprocess.CompletedProcess:
    """Run the command with a Ctrl-C swallowed (raised in a ``__del__``) after the first
    call of ``target`` (``module:attribute``)."""
    return _run([target, *args], env, start=("-c", _SWALLOWING))


def test_a_ctrl_c_swallowed_on_the_way_still_interrupts(image_tree, vocab_file, env, tmp_path):
    # A KeyboardInterrupt raised inside a __del__ (or a callback that catches it) is
    # printed and ignored by Python: the run went on and replaced the output file.
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    args = ["decompose", str(image_tree), "-f", "csv", "-o", str(out), "--quiet"]
    result = _run_swallowing(
        "sksplice.cli._output:_Writer.write", [*args, *_model_args(vocab_file)], env
    )
    assert result.returncode == 130, result.stderr
    assert out.read_text() == "previous results\n"
    assert "sksplice: error: interrupted" in result.stderr
    assert result.stderr.count("sksplice: error:") == 1, result.stderr


def test_a_swallowed_ctrl_c_leaves_the_previous_report(image_tree, vocab_file, env, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("previous report\n")
    args = ["report", str(image_tree), "-o", str(out), "--quiet", *_model_args(vocab_file)]
    result = _run_swallowing("sksplice.report:render_report", args, env)
    assert result.returncode == 130, result.stderr
    assert out.read_text() == "previous report\n"
    assert result.stderr.count("sksplice: error: interrupted") == 1, result.stderr
    # (as the other commands say how far they went: a report is written at its end)
    assert "sksplice: error: interrupted: nothing was written\n" in result.stderr


# ------------------------------ a failing standard error; signals at the start and the end


def _results_of(command: str, out: Path) -> set[str]:
    """What a complete output file of ``command`` holds: its images (decompose), classes
    (profile) or ``{"page"}`` (report); an error when it is not complete."""
    text = out.read_text()
    if command == "report":
        assert text.rstrip().endswith("</html>"), text[-200:]
        return {"page"}
    data = json.loads(text)
    if command == "profile":
        return {r["class"] for r in data["ranking"]}
    assert "complete" not in data
    return {"/".join(Path(r["path"]).parts[-2:]) for r in data["images"]}


_COMPLETE = {
    "decompose": {f"{c}/{i}.png" for c in ("cats", "dogs") for i in range(5)},
    "profile": {"cats", "dogs"},
    "report": {"page"},
}


@pytest.mark.parametrize("command", ["decompose", "profile", "report"])
def test_standard_error_closed_by_its_reader_loses_no_results(
    command, image_tree, vocab_file, env, tmp_path
):
    # ``sksplice ... -o FILE 2>&1 | head -1``: standard output and standard error share a
    # pipe whose reader left after one line. A progress line that could not be written
    # ended the run with exit code 0 (taken for a reader of the results gone) and no FILE.
    out = tmp_path / ("out.html" if command == "report" else "out.json")
    out.write_text("previous results\n")
    args = [command, str(image_tree), "-o", str(out), *_model_args(vocab_file)]
    if command != "report":
        args += ["-f", "json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sksplice", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        first = proc.stdout.readline()
        proc.stdout.close()
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    # (the first line, all it read: the images' progress, or before it that the vocabulary
    # is not cached yet)
    assert first.startswith((b"CLIP ", b"sksplice: the ")), first
    assert code == 0
    assert _results_of(command, out) == _COMPLETE[command]


@pytest.mark.parametrize("stderr", ["closed pipe", "/dev/full"])
def test_a_failing_standard_error_loses_no_results(stderr, image_tree, vocab_file, env, tmp_path):
    # ``2> >(head -0)``, ``2>/dev/full``: the run stopped with exit code 1 at its first
    # progress line, and wrote nothing.
    if stderr == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    out = tmp_path / "out.json"
    args = ["decompose", str(image_tree / "cats"), "-f", "json", "-o", str(out)]
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(open(stderr, "w")) if stderr == "/dev/full" else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "sksplice", *args, *_model_args(vocab_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if target is None else target,
        )
        if proc.stderr is not None:
            proc.stderr.close()  # (before the command writes anything there)
        try:
            code = proc.wait(timeout=120)
        finally:
            proc.kill()
    assert code == 0
    assert _results_of("decompose", out) == {f"cats/{i}.png" for i in range(5)}


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_once_the_output_is_in_place_is_no_interruption(
    sig, image_tree, vocab_file, inproc, tmp_path, monkeypatch
):
    # A Ctrl-C between the rename of FILE and the end of the run gave exit code 1
    # ("underlying buffer has been detached") or 130, with FILE replaced.
    import signal

    signum = getattr(signal, sig)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    out = tmp_path / "out.json"
    out.write_text("previous results\n")
    put_in_place = _output._Output._remove_superseded_partial  # (called once FILE is)

    def then_signal(self):
        assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN)
        os.kill(os.getpid(), signum)  # (handled by the command's handler, at once)
        return put_in_place(self)

    monkeypatch.setattr(_output._Output, "_remove_superseded_partial", then_signal)
    args = ["decompose", str(image_tree), "-f", "json", "-o", str(out), "--quiet"]
    assert cli.main(args + _model_args(vocab_file)) == 0
    assert _results_of("decompose", out) == _COMPLETE["decompose"]
    # the command leaves the handlers of its caller as they were
    assert {s: signal.getsignal(s) for s in handlers} == handlers


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_process_ends_leaves_its_exit_status(
    sig, image_tree, vocab_file, env, tmp_path
):
    # After the run, Python's teardown takes a second or two (torch loaded): a Ctrl-C
    # then gave exit code 130 (or death by the signal), FILE already replaced.
    import signal
    import time

    out = tmp_path / "out.json"
    out.write_text("previous results\n")
    args = ["decompose", str(image_tree), "-f", "json", "-o", str(out), "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sksplice", *args, *_model_args(vocab_file)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while out.read_text() == "previous results\n":  # (renamed into place: complete)
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        for _ in range(2):  # (pressed twice: at once, and while Python ends)
            proc.send_signal(getattr(signal, sig))
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.3)
        code = proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        proc.kill()
    # the signal came once FILE was in place: the run was complete
    assert code == 0, err
    assert _results_of("decompose", out) == _COMPLETE["decompose"]
    assert "error" not in err and "Traceback" not in err, err


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="SIGHUP exists on POSIX only")
def test_signals_ignored_by_the_caller_stay_ignored_during_the_run():
    # Under nohup SIGHUP is ignored: the run must go on when the terminal closes, as a
    # background job's ignored SIGINT does; SIGTERM and SIGHUP are handled otherwise.
    import signal
    import time

    from sksplice.cli._logging import _HungUp, _signals_as_interrupt

    previous = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with _signals_as_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert callable(signal.getsignal(signal.SIGTERM))
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with pytest.raises(_HungUp), _signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGHUP)  # (handled at once: the run is interrupted)
            time.sleep(1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL  # (the caller's, put back)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _imports_numpy(pid: int) -> bool:
    """Whether process ``pid`` has loaded numpy's compiled core (its imports are under way)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "_multiarray_umath" in maps.read()
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc/PID/maps")
@pytest.mark.parametrize(
    ("sig", "delay"),
    [("SIGINT", d) for d in (0, 0.03, 0.1, 0.2)] + [("SIGTERM", 0), ("SIGHUP", 0)],
)
def test_a_signal_while_the_command_starts_is_one_line(sig, delay, image_tree, vocab_file, env):
    # Ctrl-C while the command imported numpy and scikit-learn printed a traceback of
    # the imports (SIGTERM killed the process with no message).
    import signal
    import time

    args = ["decompose", str(image_tree), "--quiet", *_model_args(vocab_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sksplice", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _imports_numpy(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(getattr(signal, sig))
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    code, word = {
        "SIGINT": (130, "interrupted"),
        "SIGTERM": (143, "terminated"),
        "SIGHUP": (129, "hung up"),
    }[sig]
    assert proc.returncode == code, err
    assert err.splitlines() == [f"sksplice: error: {word}"], err


@pytest.mark.skipif(sys.platform == "win32", reason="signals cannot be held on Windows")
def test_a_signal_held_while_a_library_loads_is_delivered_after_it():
    # (raised inside torch's import, a KeyboardInterrupt could abort the process)
    import signal
    import threading
    import time

    from sksplice._console import signals_held

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            # (to this thread: another one of the test process, started unheld, would take
            # a signal sent to the process; the command's threads start in held blocks)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            time.sleep(0.05)
            finished.append("the block")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished == ["the block"]


class _BlockedPipe(io.StringIO):
    """A stream whose flush is interrupted (Ctrl-C while a full pipe blocks the write)."""

    def flush(self):
        raise KeyboardInterrupt


def test_a_record_interrupted_in_its_flush_is_counted():
    # Ctrl-C while the flush waits on a full pipe: the record is in the stream's buffer
    # and reaches the reader at exit, so "N of M images written" must count it.
    fh = _BlockedPipe()
    writer = _output._Writer(fh, "jsonl", {})
    record = {"path": "a.png", "concepts": [], "l0": 0, "cosine": 0.5}
    with pytest.raises(KeyboardInterrupt):
        writer.write(record)
    assert writer.n == 1 and json.loads(fh.getvalue()) == record


class _Interrupting(float):
    """A weight whose writing is interrupted (Ctrl-C between two rows of a record)."""

    def __repr__(self):
        raise KeyboardInterrupt

    def __str__(self):
        raise KeyboardInterrupt

    def __format__(self, spec):
        raise KeyboardInterrupt


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_a_record_interrupted_between_its_rows_leaves_none_of_them(fmt):
    # FILE.partial kept the first rows of a record whose writing Ctrl-C stopped, under a
    # count that left it out: a record is written whole, or not at all
    fh = io.StringIO()
    writer = _output._Writer(fh, fmt, {})
    concepts = [{"concept": "dog", "weight": 0.5}, {"concept": "sky", "weight": 0.25}]
    whole = {"path": "a.png", "l0": 2, "cosine": 0.5, "baseline_cosine": 0.25, "concepts": concepts}
    writer.write(whole)
    before = fh.getvalue()
    cut = {**whole, "path": "b.png"}
    cut["concepts"] = [whole["concepts"][0], {"concept": "sky", "weight": _Interrupting(0.25)}]
    with pytest.raises(KeyboardInterrupt):
        writer.write(cut)
    assert fh.getvalue() == before and writer.n == 1
    assert "a.png" in before and before.count("dog") == 1
    writer.write({**whole, "path": "c.png"})  # (nothing of b.png comes with the next one)
    assert "b.png" not in fh.getvalue() and fh.getvalue().count("dog") == 2


def test_a_json_output_interrupted_while_closing_is_ended_once():
    fh = _BlockedPipe()
    writer = _output._Writer(fh, "json", {})
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    try:
        writer.close(interrupted=True)  # what the command does on the interrupt
    except KeyboardInterrupt:
        pytest.fail("the output was ended a second time")
    assert json.loads(fh.getvalue()) == {"metadata": {}, "images": []}


def test_the_table_escapes_control_characters_of_a_file_name():
    # A file name may hold a newline or an escape sequence: the table keeps one line per
    # image heading (shown as Python escapes them); csv and json keep the name as it is.
    name = "a\nb\tc \x1b[31m é.png"
    record = {"path": name, "concepts": [{"concept": "dog", "weight": 0.5}], "l0": 1}
    record["baseline_cosine"] = 0.25
    fh = io.StringIO()
    _output._Writer(fh, "table", {}).write({**record, "cosine": 0.5})
    assert fh.getvalue().splitlines() == [
        "a\\nb\\tc \\x1b[31m é.png  (l0=1, cosine=0.500, baseline=0.250)",
        "     0.5000  dog",
    ]
    fh = io.StringIO()
    _output._Writer(fh, "jsonl", {}).write({**record, "cosine": 0.5})
    assert json.loads(fh.getvalue())["path"] == name


def test_csv_quotes_a_name_holding_a_carriage_return():
    """The rows ended in "\\n" and a field holding "\\r" was written bare: pandas and the
    csv module read its row as two, and the rows no longer lined up with the images."""
    name = "a\rb.png"
    fh = io.StringIO()
    _output._Writer(fh, "csv", {}).write(
        {
            "path": name,
            "concepts": [{"concept": "dog", "weight": 0.5}],
            "l0": 1,
            "cosine": 0.5,
            "baseline_cosine": 0.25,
        }
    )
    text = fh.getvalue()
    assert text.endswith("\n") and "\r\n" not in text
    rows = pd.read_csv(io.StringIO(text))
    assert rows["path"].tolist() == [name] and rows["concept"].tolist() == ["dog"]
    assert list(csv.reader(io.StringIO(text, newline="")))[1][0] == name
    fh = io.StringIO()
    table = pd.DataFrame({"class": ["x\ry", "z"], "concept": ["dog", "cat"]})
    _output._write_table_records(fh, table, "csv", {}, "ranking")
    assert fh.getvalue() == 'class,concept\n"x\ry",dog\nz,cat\n'
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(fh.getvalue())), table)


@pytest.mark.parametrize("n", [0, 2])
def test_interrupted_json_says_it_is_incomplete(n):
    fh = io.StringIO()
    writer = _output._Writer(fh, "json", {"decomposed": 5})
    for i in range(n):
        writer.write({"path": f"{i}.png", "concepts": [], "l0": 0, "cosine": 0.5})
    writer.close(interrupted=True)
    out = json.loads(fh.getvalue())
    assert out["metadata"] == {"decomposed": 5} and len(out["images"]) == n
    assert out["complete"] is False and out["written"] == n
    fh = io.StringIO()
    writer = _output._Writer(fh, "json", {})
    writer.close()
    assert json.loads(fh.getvalue()) == {"metadata": {}, "images": []}  # complete: as before


def test_output_file_is_replaced_only_when_complete(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    partial = tmp_path / "out.csv.partial"
    # a failure mid-way: the previous file stays, nothing else is left
    output = _output._Output(str(out))
    output.fh.write("path,rank\nhalf")
    assert [pid for _, pid in temporary_files_of(out)] == [os.getpid()]
    output.discard()
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    # an interruption: what was written goes to FILE.partial
    output = _output._Output(str(out))
    output.fh.write("path,rank\na.png,1\n")
    assert output.keep_partial() == partial
    assert out.read_text() == "previous\n" and partial.read_text() == "path,rank\na.png,1\n"
    assert not temporary_files_of(out)
    # complete: the file is replaced
    output = _output._Output(str(out))
    output.fh.write("done\n")
    output.commit()
    assert out.read_text() == "done\n" and not temporary_files_of(out)


def test_output_named_as_a_stream_is_written_through(image_tree, vocab_file, inproc, tmp_path):
    # ``-o /dev/stdout >> log`` (here /dev/fd/N) appends to the file the stream is open on;
    # that file is never replaced by a new one
    log = tmp_path / "log.csv"
    log.write_text("previous\n")
    inode = log.stat().st_ino
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        code = cli.main(
            ["decompose", str(image_tree / "cats"), "-f", "csv", "-k", "2", "--quiet"]
            + ["-o", f"/dev/fd/{fd}", *_model_args(vocab_file)]
        )
    finally:
        os.close(fd)
    assert code == 0
    assert log.stat().st_ino == inode
    text = log.read_text()
    assert text.startswith("previous\npath,rank,concept")
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert {Path(r["path"]).name for r in rows} == {f"{i}.png" for i in range(5)}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


_HUB_SCRIPT = """
import json, sys
import numpy as np
from sksplice import CLIPEmbedder, cli
image, other, vocab, out = sys.argv[1:5]
hub = CLIPEmbedder("hf-hub:sksplice-test/tiny", pretrained="ignored-for-hub-models", device="cpu")
X = hub.transform([image])
code = cli.main(["decompose", image, other, "--model", "hf-hub:sksplice-test/tiny", "--vocabulary",
                 vocab, "--device", "cpu", "-f", "json", "-o", out, "-q"])
print(json.dumps({"X": X.tolist(), "key": hub.cache_key(), "code": code}))
"""


def test_hf_hub_model_loads_from_a_filled_cache_offline(
    tiny_clip_model, image_tree, vocab_file, env, tmp_path
):
    """``hf-hub:ORG/REPO`` names work: config and weights from the Hub cache, offline."""
    import open_clip
    import torch

    from sksplice import CLIPEmbedder

    model = open_clip.create_model(tiny_clip_model)
    snapshot = tmp_path / "hf" / "hub" / "models--sksplice-test--tiny"
    commit = "0" * 40
    files = snapshot / "snapshots" / commit
    files.mkdir(parents=True)
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text(commit)
    config = json.loads((TESTS_DATA / f"{tiny_clip_model}.json").read_text())
    (files / "open_clip_config.json").write_text(json.dumps({"model_cfg": config}))
    torch.save(model.state_dict(), files / "open_clip_pytorch_model.bin")

    image, other = (str(p) for p in sorted(image_tree.rglob("*.png"))[:2])
    out = tmp_path / "hub.json"
    run_env = dict(env, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-c", _HUB_SCRIPT, image, other, str(vocab_file), str(out)],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # the same weights loaded as a checkpoint file give the same embedding
    direct = CLIPEmbedder(
        model=tiny_clip_model, pretrained=str(files / "open_clip_pytorch_model.bin"), device="cpu"
    ).transform([image])
    np.testing.assert_allclose(result["X"], direct, atol=1e-5)
    assert result["key"].startswith("open_clip/hf-hub:sksplice-test/tiny/file-sha256-")
    assert result["code"] == 0
    metadata = json.loads(out.read_text())["metadata"]
    assert metadata["model"] == "hf-hub:sksplice-test/tiny"
    # (the Hub model's own weights: no tag, and not "none", which says random weights)
    assert metadata["pretrained"] is None and metadata["pretrained_sha256"]


class _LetterImages:
    """A toy image embedder: the mean colour of each image, spread over 16 dims."""

    def embed_images(self, images, return_skipped=False):
        rows = []
        for path in images:
            arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
            top, bottom = (
                arr[: arr.shape[0] // 2].mean((0, 1)),
                arr[arr.shape[0] // 2 :].mean((0, 1)),
            )
            rows.append(np.concatenate([top, bottom, np.sin(np.arange(10) + top.sum())]))
        X = np.asarray(rows, dtype=np.float32)
        return (X, []) if return_skipped else X


class _LetterTexts:
    def embed_text(self, texts):
        rng = np.random.default_rng([sum(map(ord, t)) for t in texts])
        return rng.standard_normal((len(texts), 16)).astype(np.float32)


def test_commands_get_their_embedders_from_one_module(
    image_tree, vocab_file, inproc, capsys, monkeypatch
):
    """Another family of models plugs into every command through cli/_embedders.py alone."""
    from sksplice.cli import _embedders

    made = []
    monkeypatch.setattr(_embedders, "check_model", lambda args: ("toy", None, 16))
    monkeypatch.setattr(_embedders, "check_weights", lambda model, pretrained: None)
    monkeypatch.setattr(
        _embedders, "image_embedder", lambda *a, **k: made.append("image") or _LetterImages()
    )
    monkeypatch.setattr(
        _embedders, "text_embedder", lambda *a, **k: made.append("text") or _LetterTexts()
    )
    code, out, _ = _main(
        ["decompose", str(image_tree / "cats"), str(image_tree / "dogs"), "-f", "json"]
        + _model_args(vocab_file, "--model", "toy"),
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    assert len(data["images"]) == 10
    assert data["metadata"]["model"] == "toy"
    # (the text embedder first: whether the vocabulary is cached is said before the images)
    assert made == ["text", "image"]
    cli_files = Path(cli.__file__).parent.glob("*.py")
    assert [p.name for p in cli_files if "CLIPEmbedder" in p.read_text()] == ["_embedders.py"]


@pytest.mark.parametrize("centre", ["data", "file"])
def test_a_vocabulary_not_cached_yet_is_said_or_embedded_before_the_images(
    image_tree, vocab_file, inproc, capsys, monkeypatch, tmp_path, centre
):
    # A first run learned that the vocabulary was still to embed only after every image
    # (a centre learned from them), or saw its bar start under the images' bar at 0% (a
    # centre given: the run streams); the vocabulary is embedded once in either case.
    from sksplice.cli import _embedders

    calls = []

    class Images(_LetterImages):
        def embed_images(self, images, return_skipped=False):
            calls.append("images")
            return super().embed_images(images, return_skipped)

    class Texts(_LetterTexts):
        def embed_text(self, texts):
            calls.append("texts")
            return super().embed_text(texts)

    monkeypatch.setattr(_embedders, "check_model", lambda args: ("toy", None, 16))
    monkeypatch.setattr(_embedders, "check_weights", lambda model, pretrained: None)
    monkeypatch.setattr(_embedders, "image_embedder", lambda *a, **k: Images())
    monkeypatch.setattr(_embedders, "text_embedder", lambda *a, **k: Texts())
    np.save(tmp_path / "mean.npy", np.full(16, 0.1, dtype=np.float32))
    mean = ["--image-mean", str(tmp_path / "mean.npy")] if centre == "file" else []
    args = ["decompose", str(image_tree), "-o", str(tmp_path / "out.csv"), *mean]
    code, _, err = _main(args + _model_args(vocab_file, "--model", "toy"), capsys)
    assert code == 0, err
    said = "concepts of the vocabulary are not cached for this model yet: they are embedded"
    if centre == "data":
        assert calls[0] == "images" and "texts" in calls
        assert err.index(said) < err.index("CLIP images")
    else:
        assert calls[0] == "texts" and said not in err
        assert calls.index("images") > max(i for i, c in enumerate(calls) if c == "texts")


# ------------------------------------------------ the command line checked before any work


def _three_classes(image_tree: Path, root: Path, unreadable: tuple[str, ...]) -> Path:
    """cats, dogs and birds; the classes in ``unreadable`` hold only broken files."""
    for cls in ("cats", "dogs", "birds"):
        (root / cls).mkdir(parents=True)
        if cls in unreadable:
            (root / cls / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
            (root / cls / "b.jpg").write_bytes(b"")
        else:
            for p in sorted((image_tree / ("dogs" if cls == "birds" else cls)).glob("*.png")):
                (root / cls / p.name).write_bytes(p.read_bytes())
    return root


@pytest.mark.parametrize("command", ["profile", "report"])
def test_a_class_whose_images_are_all_unreadable_is_named(
    command, image_tree, vocab_file, inproc, tmp_path, capsys
):
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    root = _three_classes(image_tree, tmp_path / "two_bad", ("dogs", "birds"))
    code, stdout, err = _main([command, str(root), "-q", *out, *_model_args(vocab_file)], capsys)
    assert "skipped 4 of 9 images" in err and str(root / "birds" / "a.png") in err
    if command == "profile":  # (profiles need two classes)
        assert code == 1 and stdout == ""
        last = err.strip().splitlines()[-1]
        assert "none of the 2 images of class 'birds' could be read" in last, last
        assert "none of the 2 images of class 'dogs'" in last and "'cats'" in last, last
    else:  # the report shows the images, as for a folder of one class
        assert code == 0 and stdout == "", err
        assert (
            "no class profiles: none of the images of classes 'birds', 'dogs' could be "
            "read, which leaves class 'cats' alone"
        ) in err
        page = (tmp_path / "r.html").read_text(encoding="utf-8")
        assert '<section id="classes">' not in page and "cats/" in page

    # two classes left: profiled, with a warning naming the class left out
    root = _three_classes(image_tree, tmp_path / "one_bad", ("birds",))
    code, stdout, err = _main([command, str(root), "-q", *out, *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert "none of the 2 images of class 'birds' could be read: left out" in err
    if command == "profile":
        assert "class birds" not in stdout and "class cats" in stdout


def test_report_of_class_folders_refuses_more_images(
    image_tree, vocab_file, inproc, tmp_path, capsys, no_embedding
):
    extra = sorted((image_tree / "cats").glob("*.png"))[0]
    args = ["report", str(image_tree), str(extra), "-o", str(tmp_path / "r.html")]
    code, _, err = _main([*args, *_model_args(vocab_file)], capsys)
    assert code == 2
    assert "takes no other images (got 1, first " + str(extra) in err
    code, _, err = _main(["report", "-o", str(tmp_path / "r.html")], capsys)
    assert code == 2 and "the following arguments are required: FOLDER_OR_IMAGE" in err
    assert not (tmp_path / "r.html").exists()


def test_inputs_and_an_unreachable_target_l0_are_refused_before_any_work(
    image_tree, vocab_file, inproc, tmp_path, capsys, no_embedding, monkeypatch
):
    args = ["decompose", str(image_tree), *_model_args(vocab_file)]
    args.remove("--l1-penalty")
    args.remove("0.05")
    code, _, err = _main([*args, "--target-l0", "50"], capsys)
    assert code == 2
    assert "--target-l0 50 cannot be reached: the dictionary has only 11 concepts" in err
    # a missing input is named before the model is looked at (no torch needed for that)
    missing = tmp_path / "nowhere"
    code, _, err = _main(["decompose", str(missing), "--model", "no-such-model"], capsys)
    assert code == 2 and err.strip().endswith(f"no such file or folder: {missing}")
    # "-" (standard input, for other commands) is told what is read instead
    monkeypatch.chdir(tmp_path)  # (no file named "-" there)
    code, _, err = _main(["decompose", "-", "--model", "no-such-model"], capsys)
    assert code == 2 and err.strip().endswith(
        "no such file or folder: - (images are not read from standard input; give image "
        "files or folders, or a named pipe such as <(cat image.png))"
    )


def test_skipped_images_are_listed_by_their_paths(image_tree, vocab_file, inproc, tmp_path, capsys):
    folder = tmp_path / "it's here"
    folder.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    broken = folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, out, err = _main(
        ["decompose", str(folder), "-f", "json", "-q", *_model_args(vocab_file)], capsys
    )
    assert code == 0, err
    skipped = json.loads(out)["metadata"]["skipped"]
    assert [s["path"] for s in skipped] == [str(broken)]  # the path itself, no quotes


def test_a_labels_file_of_more_columns_needs_a_header_naming_them(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    images = sorted(image_tree.rglob("*.png"))
    rows = [
        f"{p.relative_to(image_tree)},split{i % 2},{p.parent.name}" for i, p in enumerate(images)
    ]
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(rows) + "\n")
    code, _, err = _main(["profile", str(image_tree), "--labels", str(bare)], capsys)
    assert code == 2 and f"{bare} has 3 columns; give two (path,label), or a header" in err
    assert "pick the label column with --labels-column COLUMN" in err, err
    # the header says which column is the label, whatever the order
    named = tmp_path / "named.csv"
    named.write_text("image,split,class\n" + "\n".join(rows) + "\n")
    out = tmp_path / "profile.json"
    args = ["profile", str(image_tree), "--labels", str(named), "-f", "json", "-o", str(out)]
    code, _, err = _main([*args, "-q", *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert {r["class"] for r in json.loads(out.read_text())["ranking"]} == {"cats", "dogs"}

    pairs = [(str(p.relative_to(image_tree)), p.parent.name) for p in images]
    # exported metadata's names (clip-retrieval's image_path), with or without more columns;
    # a header whose path column has a name of its own is no row naming no image
    for header, extra in (
        ("image_path,label", ""),
        ("image_path,label,source", ",web"),
        ("name,label", ""),
    ):
        table = tmp_path / "exported.csv"
        table.write_text(header + "\n" + "".join(f"{a},{b}{extra}\n" for a, b in pairs))
        args = ["profile", str(image_tree), "--labels", str(table), "-f", "json", "-o", str(out)]
        code, _, err = _main([*args, "-q", *_model_args(vocab_file)], capsys)
        assert code == 0 and "names no image" not in err, (header, err)
        assert {r["class"] for r in json.loads(out.read_text())["ranking"]} == {"cats", "dogs"}

    # a spreadsheet's trailing empty column is no column; a header of two names the order
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("".join(f"{a},{b},\n" for a, b in pairs))
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("label,path\n" + "".join(f"{b},{a}\n" for a, b in pairs))
    for labels in (trailing, swapped):
        args = ["profile", str(image_tree), "--labels", str(labels), "-f", "json", "-o", str(out)]
        code, _, err = _main([*args, "-q", *_model_args(vocab_file)], capsys)
        assert code == 0, err
        assert {r["class"] for r in json.loads(out.read_text())["ranking"]} == {"cats", "dogs"}


def _image_names(root: Path) -> list[str]:
    """The images of the tree ``root`` by their paths relative to it, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.png"))


def _classes_profiled(args: list[str], vocab_file, out: Path, capsys) -> tuple[set[str], str]:
    """The classes of a ``profile`` run written as JSON to ``out``, and its stderr."""
    code, _, err = _main([*args, "-f", "json", "-o", str(out), *_model_args(vocab_file)], capsys)
    assert code == 0, err
    return {r["class"] for r in json.loads(out.read_text())["ranking"]}, err


def test_a_column_of_a_metadata_table_classes_the_images(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # A table of attributes per image (Waterbirds' img_filename,y,split,place) was
    # refused for images: --labels-column was for .npy inputs only.
    images = sorted(image_tree.rglob("*.png"))
    table = tmp_path / "metadata.csv"
    table.write_text(
        "img_filename,y,split,place\n"
        + "".join(
            f"{p.relative_to(image_tree)},{p.parent.name},{i % 3},{'water' if i % 2 else 'land'}\n"
            for i, p in enumerate(images)
        )
    )
    base = ["profile", str(image_tree), "--labels", str(table)]
    for column, classes in (("place", {"land", "water"}), ("y", {"cats", "dogs"})):
        argv = [*base, "--labels-column", column, "-q"]
        assert _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)[0] == classes
    # a misspelt column is refused before any image is embedded, with its close match
    code, _, err = _main([*base, "--labels-column", "plcae", *_model_args(vocab_file)], capsys)
    assert code == 2, err
    assert (
        f"--labels-column plcae: {table} has no column 'plcae' (did you mean 'place'?); its "
        "first line, read as its header: img_filename, y, split, place"
    ) in err, err


def test_a_labels_table_needs_one_column_of_paths_for_its_labels_column(
    image_tree, inproc, tmp_path, capsys
):
    table = tmp_path / "metadata.csv"
    table.write_text("a,b,place\ncats/0.png,x,land\n")
    argv = ["profile", str(image_tree), "--labels", str(table), "--labels-column", "place"]
    code, _, err = _main(argv, capsys)
    assert code == 2
    assert "one column of its header must name the image paths, and none does" in err, err
    table.write_text("path,image,place\ncats/0.png,cats/0.png,land\n")
    code, _, err = _main(argv, capsys)
    assert code == 2 and "and 2 do (path, image)" in err, err
    code, _, err = _main(["profile", str(image_tree), "--labels-column", "place"], capsys)
    assert code == 2 and "--labels-column picks the column of classes of the --labels" in err


def test_a_labels_column_is_refused_where_it_cannot_be_the_classes(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    images = _image_names(image_tree)
    table = tmp_path / "metadata.csv"
    argv = ["profile", str(image_tree), "--labels", str(table), "--labels-column"]
    # the column of paths itself (it was taken for the classes, or "no column names paths")
    for header in ("img_filename,y", "img_filename,y,split,place"):
        extra = ",a,b" if header.count(",") == 3 else ""
        table.write_text(header + "\n" + "".join(f"{p},{p[:4]}{extra}\n" for p in images))
        code, _, err = _main([*argv, "img_filename"], capsys)
        assert code == 2, err
        assert "--labels-column img_filename: that is the column of image paths of" in err, err
    # two columns of that name
    table.write_text("path,place,place\n" + "".join(f"{p},a,b\n" for p in images))
    code, _, err = _main([*argv, "place"], capsys)
    assert code == 2 and "has 2 columns named 'place'" in err, err


def test_a_metadata_row_of_an_image_not_in_the_folder_may_leave_its_class_blank(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    images = _image_names(image_tree)
    table = tmp_path / "metadata.csv"
    table.write_text(
        "img_filename,place\n"
        + "".join(f"{p},{p[:4]}\n" for p in images)
        + "elsewhere/x.png,\n"  # (another split's image, its attribute not filled in)
    )
    argv = ["profile", str(image_tree), "--labels", str(table), "--labels-column", "place"]
    _, err = _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)
    assert "1 row of" in err and "names no image" in err, err
    table.write_text(
        "img_filename,place\n"
        + "".join(f"{p},{'' if i == 0 else p[:4]}\n" for i, p in enumerate(images))
    )
    code, _, err = _main([*argv, *_model_args(vocab_file)], capsys)
    assert code == 2 and f"{table}, line 2: no label for {images[0]}" in err, err


def test_a_labels_row_without_its_label_field_says_so(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # A line without its comma was read as a path with an empty label: one naming no
    # image was warned of as a row naming no image, its missing field unsaid, and one
    # naming an image as an image without a label.
    images = _image_names(image_tree)
    table = tmp_path / "labels.csv"
    table.write_text("".join(f"{p},{p[:4]}\n" for p in images) + "\nstray_line\n")
    argv = ["profile", str(image_tree), "--labels", str(table)]
    _, err = _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)
    line = len(images) + 2
    assert (
        f"1 row of {table} names no image under {image_tree} (line {line}: stray_line "
        "(1 field of the 2 its columns need);"
    ) in err, err
    # (a short row of an image in the folder: refused, as a row whose label is empty is)
    table.write_text("".join(f"{p},{p[:4]}\n" for p in images[1:]) + f"{images[0]}\n")
    code, out, err = _main([*argv, *_model_args(vocab_file)], capsys)
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: {table}, line {len(images)}: the row of {images[0]} has 1 field, "
        "where its path and label columns need 2, separated by commas"
    )
    # (a table whose label column is its third: a row of two fields lacks it; a row of
    # another split's image may leave it out, as it may leave it blank)
    table.write_text(
        "img_filename,split,place\n"
        + "".join(f"{p},train,{p[:4]}\n" for p in images[1:])
        + "extra/9.png,test\n"
        + f"{images[0]},train\n"
    )
    code, _, err = _main([*argv, "--labels-column", "place", *_model_args(vocab_file)], capsys)
    assert code == 2, err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: {table}, line {len(images) + 2}: the row of {images[0]} has 2 "
        "fields, where its path and label columns need 3, separated by commas"
    )
    table.write_text(table.read_text().replace(f"{images[0]},train\n", f"{images[0]},train,x\n"))
    _, err = _classes_profiled(
        [*argv, "--labels-column", "place"], vocab_file, tmp_path / "p.json", capsys
    )
    assert "extra/9.png (2 fields of the 3 its columns need)" in err, err
    # (the label column first: a short row lacks its path, and names no image)
    table.write_text("label,path\n" + "".join(f"{p[:4]},{p}\n" for p in images) + "notes\n")
    _, err = _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)
    assert f"(line {len(images) + 2}: notes (1 field of the 2 its columns need);" in err, err


def test_lines_of_a_labels_file_are_named_by_their_place_in_the_file(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # Blank lines were dropped before the rows were numbered: two labels given on
    # lines 4 and 6 were said to be given on lines 2 and 3.
    images = _image_names(image_tree)
    table = tmp_path / "labels.csv"
    table.write_text(f"\npath,label\n\n{images[0]},cat\n,\n{images[0]},dog\n")
    argv = ["profile", str(image_tree), "--labels", str(table), *_model_args(vocab_file)]
    code, _, err = _main(argv, capsys)
    assert code == 2 and f"{table}: lines 4 and 6 give image" in err, err
    # (a row of empty cells, a spreadsheet's, is skipped as a blank line is)
    table.write_text(
        "path,label\n\n" + "".join(f"{p},{p[:4]}\n,\n" for p in images) + f"{images[0]},\n"
    )
    code, _, err = _main(argv, capsys)
    assert code == 2 and f"{table}, line {3 + 2 * len(images)}: no label for" in err, err
    # (a quoted label holding a line break takes two lines of the file)
    table.write_text(f'path,label\n{images[1]},"water\nbird"\n{images[0]},\n')
    code, _, err = _main(argv, capsys)
    assert code == 2 and f"{table}, line 4: no label for" in err, err
    # (a cell longer than the csv module reads: the rows are numbered in order, as before)
    table.write_text(f'path,label\n{images[1]},"{"w" * 200_000}"\n{images[0]},\n')
    code, _, err = _main(argv, capsys)
    assert code == 2 and f"{table}, line 3: no label for" in err, err


def test_of_two_label_columns_the_first_in_order_of_preference_gives_the_classes(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # "filename,class_name,target" (a class and its index, as exports write them) was
    # read by class_name; with target a label header too, it was refused.
    images = _image_names(image_tree)
    table = tmp_path / "labels.csv"
    table.write_text(
        "filename,target,class_name\n"
        + "".join(f"{p},{int(p.startswith('dogs'))},{p[:4]}\n" for p in images)
    )
    argv = ["profile", str(image_tree), "--labels", str(table)]
    classes, _ = _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)
    assert classes == {"cats", "dogs"}


def test_labels_that_differ_by_the_spaces_around_them_are_one_class_said(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    images = sorted(image_tree.rglob("*.png"))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "".join(
            f"{p.relative_to(image_tree)}, {p.parent.name}{' ' if i % 2 else ''}\n"
            for i, p in enumerate(images)
        )
    )
    argv = ["profile", str(image_tree), "--labels", str(labels)]
    classes, err = _classes_profiled(argv, vocab_file, tmp_path / "p.json", capsys)
    assert classes == {"cats", "dogs"}
    assert (
        f"{labels}: the labels ' cats' and ' cats ' differ only by the spaces around them, and "
        "are read as one class, 'cats' (and 1 other label)"
    ) in err, err


def test_a_class_name_holding_a_line_break_keeps_the_table_a_line_per_row(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    images = sorted(image_tree.rglob("*.png"))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,label\n"
        + "".join(f'{p.relative_to(image_tree)},"{p.parent.name}\nx"\n' for p in images)
    )
    code, out, err = _main(
        ["profile", str(image_tree), "--labels", str(labels), "-q", *_model_args(vocab_file)],
        capsys,
    )
    assert code == 0, err
    headers = [line for line in out.splitlines() if line.startswith("class ")]
    assert [h.split(" (")[0] for h in headers] == ["class cats\\nx", "class dogs\\nx"], out


def _main_to_full_stdout(args, capsys):
    """Run the command line with standard output on /dev/full; its code and stderr."""
    full = open("/dev/full", "w")  # noqa: SIM115 (closed below, refusing its data)
    saved, sys.stdout = sys.stdout, full
    try:
        code = cli.main(args)
    finally:
        sys.stdout = saved
        with contextlib.suppress(OSError):
            full.close()
    return code, capsys.readouterr().err


def test_a_write_error_names_the_output(image_tree, vocab_file, inproc, tmp_path, capsys):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    for out in (["-o", "/dev/full"], []):
        args = ["decompose", str(image_tree), "-q", "-f", "json", *out, *_model_args(vocab_file)]
        if out:
            code, _, err = _main(args, capsys)
        else:  # standard output on a full device
            code, err = _main_to_full_stdout(args, capsys)
        where = "/dev/full" if out else "standard output"
        assert code == 1 and f"cannot write {where}: No space left on device" in err, err
        assert ("give -o FILE" if where == "standard output" else "give -o a file on") in err
    code, _, err = _main(
        ["report", str(image_tree), "-o", "/dev/full", *_model_args(vocab_file)], capsys
    )
    assert code == 1 and "cannot write /dev/full: No space left on device" in err, err
    assert "(free space on that disk, or give -o a file on another)" in err, err
    # an OSError of the work that makes the results is not one of the output
    from sksplice.transformer import SpliceTransformer

    def full_cache(*args, **kwargs):
        raise OSError(28, "No space left on device", "/tmp/kernel_cache")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(SpliceTransformer, "transform", full_cache)
        out = tmp_path / "o.csv"
        args = ["decompose", str(image_tree), "-q", "-o", str(out), *_model_args(vocab_file)]
        code, _, err = _main(args, capsys)
    assert code == 1 and "No space left on device: '/tmp/kernel_cache'" in err, err
    assert "cannot write" not in err and not out.exists()
    report = tmp_path / "missing" / "c.html"
    folders = [str(image_tree / "cats"), str(image_tree / "dogs")]
    code, _, err = _main(["compare", *folders, "--report", str(report)], capsys)
    assert code == 2 and "does not exist; create it first (--report)" in err


def test_max_image_pixels_lifts_the_decompression_bomb_limit(
    image_tree, vocab_file, inproc, tmp_path, capsys, monkeypatch
):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # the 36 x 36 images are over it
    args = ["decompose", str(image_tree / "cats"), "-q", "-f", "jsonl", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 1 and out == ""
    # in the command line's words (it said "PIL.Image.MAX_IMAGE_PIXELS = 500", and how
    # to set it in Python)
    assert (
        "has 1,296 pixels and exceeds the decompression-bomb limit (--max-image-pixels 500); "
        "if you trust this file, give a larger --max-image-pixels (0: no limit)"
    ) in err
    assert "PIL.Image" not in err and "Python" not in err
    for limit in ("2000", "2e3", "0"):  # 0: no limit; a whole number written as a float
        code, out, err = _main([*args, "--max-image-pixels", limit], capsys)
        assert code == 0, err
        assert len(out.splitlines()) == 5
    assert Image.MAX_IMAGE_PIXELS == 500  # the run's limit is the run's only
    code = cli.main([*args, "--max-image-pixels", "-1"])
    assert code == 2
    for value in ("1.5", "inf", "nan", "many"):
        code, out, err = _main([*args, "--max-image-pixels", value], capsys)
        assert code == 2 and f"not an integer: {value!r}" in err, err


def test_an_html_output_of_the_table_commands_is_told_where_the_page_comes_from(caplog):
    # compare -o shift.html wrote the text table into shift.html; the warning named the
    # text formats only, not the page the name asks for
    import argparse

    from sksplice.cli._checks import _warn_unknown_extension

    for command, inputs, advice in (
        ("compare", ["a", "b"], "; for the HTML page, give --report shift.html"),
        ("profile", ["data set/"], "; for the HTML page, run sksplice report 'data set/' -o "
         "shift.html"),
        ("decompose", list("abcd"), "; for the HTML page, run sksplice report a b c ... -o "
         "shift.html"),
        ("search", ["a"], ""),  # (a page of all the images would leave the query out)
    ):  # fmt: skip
        args = argparse.Namespace(
            command=command,
            inputs=inputs,
            output="shift.html",
            format="table",
            format_from_extension=True,
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sksplice"):
            _warn_unknown_extension(args)
        assert [r.getMessage() for r in caplog.records] == [
            "-o shift.html: .html is not an output format, so the file gets the table format; "
            f"give -f csv, json or jsonl (or a .csv, .json or .jsonl file) for another{advice}"
        ]


def test_the_output_file_extension_chooses_the_format(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    names = ("out.json", "out.CSV", "out.txt", "out.parquet")
    for name, parse in zip(names, (json.loads, None, None, None)):
        out = tmp_path / name
        code = cli.main(
            ["decompose", str(image_tree / "cats"), "-q", "-o", str(out)] + _model_args(vocab_file)
        )
        assert code == 0
        err = capsys.readouterr().err
        # a file named for a format that is not one gets the table, and a warning says so
        warned = f"sksplice: warning: -o {out}: .parquet is not an output format"
        assert (warned in err) == (name == "out.parquet"), err
        text = out.read_text()
        if parse is not None:
            assert len(parse(text)["images"]) == 5
        elif name.endswith("CSV"):
            assert text.startswith("path,rank,concept,weight,l0,cosine,baseline_cosine\n")
        else:
            assert "(l0=" in text  # the table format
    # -f wins over the extension, with a warning (there was none)
    out = tmp_path / "forced.json"
    code = cli.main(
        ["decompose", str(image_tree / "cats"), "-q", "-f", "csv", "-o", str(out)]
        + _model_args(vocab_file)
    )
    assert code == 0 and out.read_text().startswith("path,rank")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"sksplice: warning: -o {out}: the file gets the csv format (-f csv), not the json "
        "format its extension names\n"
    ), captured.err
    # nothing to say when they agree, or when the extension names no format
    for fmt, name in (("json", "agreed.JSON"), ("csv", "named.txt")):
        out = tmp_path / name
        code = cli.main(
            ["decompose", str(image_tree / "cats"), "-q", "-f", fmt, "-o", str(out)]
            + _model_args(vocab_file)
        )
        assert code == 0 and "-o " not in capsys.readouterr().err


@pytest.mark.parametrize("name", ["mean.txt", "mean", "mean.NPY"])
def test_a_saved_centre_not_named_npy_is_warned_about(
    name, image_tree, vocab_file, inproc, tmp_path, capsys
):
    # the file holds .npy data whatever its name (it was written under mean.txt silently)
    target = tmp_path / name
    args = ["decompose", str(image_tree / "cats"), "--save-image-mean", str(target)]
    code = cli.main(args + _model_args(vocab_file))
    err = capsys.readouterr().err
    assert code == 0, err
    assert target.read_bytes().startswith(b"\x93NUMPY")
    warned = f"sksplice: warning: --save-image-mean {target}: the file gets the centre as .npy"
    assert (warned in err) == (name != "mean.NPY"), err


def test_errors_of_the_run_met_while_checking_keep_exit_code_1(
    image_tree, vocab_file, inproc, capsys, monkeypatch, no_embedding
):
    # a failed download or an unreadable file in the data folder: the command line is right
    from sksplice import vocabulary
    from sksplice._download import DataFetchError

    failures = [
        DataFetchError("Could not download 'vocab/laion.txt' from https://example.org"),
        ValueError("Cannot read the vocabulary file '/data/vocab/laion.txt': truncated"),
    ]
    args = ["decompose", str(image_tree), *_model_args(vocab_file)]
    laion = [*args[:-6], "--vocabulary", "laion", *args[-4:]]
    for failure in failures:

        def fail(*a, failure=failure, **k):
            raise failure

        with monkeypatch.context() as m:
            m.setattr(vocabulary, "load_vocabulary", fail)
            code, _, err = _main(laion, capsys)
        # (said after "sksplice: error:" with its first word in lower case)
        said = str(failure)
        assert code == 1 and said[0].lower() + said[1:] in err, err


def test_quiet_and_debug_together_are_refused(image_tree, vocab_file, capsys):
    # -q hides the information --debug asks for: both given is a wrong command line
    args = ["decompose", str(image_tree), "-q", "--debug", *_model_args(vocab_file)]
    code = cli.main(args)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.splitlines() == [
        "sksplice: error: decompose: argument --debug: not allowed with argument -q/--quiet; "
        "see sksplice decompose --help"
    ], captured.err


def test_debug_adds_the_traceback_and_keeps_the_exit_code(
    image_tree, vocab_file, inproc, tmp_path, capsys, monkeypatch, no_embedding
):
    # a wrong command line stays exit 2, an error of the run exit 1: --debug only adds
    code, out, err = _main(["decompose", str(tmp_path / "nope"), "--debug"], capsys)
    assert code == 2 and out == ""
    assert f"sksplice: error: no such file or folder: {tmp_path / 'nope'}" in err
    assert "Traceback (most recent call last)" in err
    from sksplice import vocabulary
    from sksplice._download import DataFetchError

    def fail(*a, **k):
        raise DataFetchError("Could not download 'vocab/laion.txt' from https://example.org")

    monkeypatch.setattr(vocabulary, "load_vocabulary", fail)
    args = ["decompose", str(image_tree), *_model_args(vocab_file)]
    laion = [*args[:-6], "--vocabulary", "laion", *args[-4:], "--debug"]
    code, out, err = _main(laion, capsys)
    assert code == 1 and out == "", err
    assert "sksplice: error: could not download 'vocab/laion.txt'" in err
    assert "Traceback (most recent call last)" in err and "DataFetchError" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["decompose", "a.png", "--topk", "3"],
            "decompose: unrecognized arguments: --topk 3 (close matches: --top-k); "
            "see sksplice decompose --help",
        ),
        (
            ["search", "a.png", "--text", "dog", "--n-resluts=3"],
            "search: unrecognized arguments: --n-resluts=3 (close matches: --n-results); "
            "see sksplice search --help",
        ),
        (
            ["--nope", "decompose", "a.png"],
            "unrecognized arguments: --nope; see sksplice --help",
        ),
        # (matched without the dashes: "--help" was a close match of "--alpha")
        (
            ["profile", "folder", "--alpha", "0.01"],
            "profile: unrecognized arguments: --alpha 0.01; see sksplice profile --help",
        ),
        (
            ["profile", "folder", "--vocabularu", "v.txt"],
            "profile: unrecognized arguments: --vocabularu v.txt (close matches: --vocabulary, "
            "--vocabulary-size); see sksplice profile --help",
        ),
    ],
)
def test_an_unknown_option_is_refused_by_its_command(argv, message, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"sksplice: error: {message}"], err


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_pretrained_is_refused_not_taken_for_random_weights(value, capsys):
    # --pretrained "$WEIGHTS" with the variable unset gave random weights, silently.
    code = cli.main(["decompose", "a.png", "--pretrained", value])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        f"sksplice: error: decompose: argument --pretrained: {value!r} is empty (an unset "
        "variable?): give a pretrained tag or a checkpoint path; 'none' gives random weights; "
        "see sksplice decompose --help"
    ], err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decompose", ""], "decompose: argument IMAGE_OR_FOLDER"),
        (["decompose", "a.png", ""], "decompose: argument IMAGE_OR_FOLDER"),
        (["search", "", "--concepts", "dog"], "search: argument IMAGE_OR_FOLDER"),
        (["profile", ""], "profile: argument FOLDER"),
        (["compare", "a", ""], "compare: argument B_FOLDER"),
        (["report", "", "-o", "r.html"], "report: argument FOLDER_OR_IMAGE"),
        (["report", "a", "", "-o", "r.html"], "report: argument IMAGE"),
    ],
)
def test_an_empty_input_is_refused_not_taken_for_the_current_folder(argv, message, capsys):
    # `sksplice decompose "$PHOTOS"` with the variable unset walked the working folder
    assert _refused(argv, capsys) == [
        f"sksplice: error: {message}: '' is empty (an unset variable?): give an image or a "
        f"folder; see sksplice {argv[0]} --help"
    ]


def test_a_blank_title_is_refused(capsys):
    # it made a page headed by nothing, with an empty <title>
    assert _refused(["report", "imgs", "-o", "r.html", "--title", " "], capsys) == [
        "sksplice: error: report: argument --title: ' ' is blank (an unset variable?): give "
        "a title, or leave --title out for the default; see sksplice report --help"
    ]


@pytest.mark.parametrize(
    ("option", "value", "what", "default"),
    [
        ("--model", "", "an open_clip model name or hf-hub:ORG/REPO", "ViT-B-32"),
        ("--vocabulary", "", "laion, laion_bigrams, mscoco or a vocabulary file", "laion"),
        ("--image-mean", " ", "auto, pretrained, data or a .npy file", "auto"),
        ("--device", "", "cpu, cuda, cuda:N or auto", "auto"),
    ],
)
@pytest.mark.parametrize("command", ["decompose", "report"])
def test_a_blank_model_option_is_refused_saying_what_leaving_it_out_gives(
    command, option, value, what, default, capsys
):
    # --vocabulary "" was read as the folder "." ("--vocabulary . is not a file"),
    # --image-mean "" as "no such file .", --model "" as a model of no name
    assert _refused([command, "imgs", option, value, "-o", "out.html"], capsys) == [
        f"sksplice: error: {command}: argument {option}: {value!r} is blank (an unset "
        f"variable?): give {what}, or leave {option} out for {default}; see sksplice "
        f"{command} --help"
    ]


@pytest.mark.parametrize("command", ["profile", "report"])
def test_empty_labels_are_refused_not_ignored(command, capsys):
    # profile and report then grouped the images by their sub-folders, without a word
    assert _refused([command, "imgs", "--labels", "", "-o", "out.html"], capsys) == [
        f"sksplice: error: {command}: argument --labels: '' is empty (an unset variable?): "
        f"give the CSV file of path,label rows; see sksplice {command} --help"
    ]


def test_a_table_of_concepts_and_counts_is_warned_about_once(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    counts = tmp_path / "counts.csv"
    counts.write_text("concept,count\n" + "".join(f"{c},{i + 1}\n" for i, c in enumerate(VOCAB)))
    args = ["decompose", str(image_tree / "cats"), *_model_args(vocab_file), "--quiet"]
    code, out, err = _main([*args, "--vocabulary", str(counts)], capsys)
    assert code == 0 and out
    said = [line for line in err.splitlines() if "lines end in a comma and a number" in line]
    assert len(said) == 1, err
    assert said[0].startswith(f"sksplice: warning: vocabulary file {str(counts)!r}: ")
    assert said[0].endswith(f"tail -n +2 {counts} | cut -d, -f1 > concepts.txt")


def test_help_gives_the_defaults_of_the_counts(capsys):
    for command, expected in (
        ("decompose", ["(default: 10)"]),
        ("search", ["(default: 5)", "(default: 10)"]),
    ):
        assert cli.main([command, "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert all(text in out for text in expected), out


def test_the_profile_table_counts_in_words_that_agree():
    from sksplice.cli._output import _write_significant_tail, plural

    assert [plural(n, "image") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    for counts, expected in (
        ((0, 0, 1, 1), "none (1 concept tested; -f csv lists the first by difference)"),
        ((0, 0, 30, 3), "none (30 concepts tested; -f csv lists the top 3 by difference)"),
        ((3, 4, 30, 3), "(1 more significant concept: -k 4 lists it too)"),
        ((3, 9, 30, 3), "(6 more significant concepts: -k 9 lists them all)"),
        ((3, 3, 30, 10), ""),
    ):
        fh = io.StringIO()
        _write_significant_tail(fh, *counts, "difference")
        assert fh.getvalue().strip() == expected


def test_a_profile_with_no_concept_left_says_so():
    # every weight zero (a large --l1-penalty): the table printed nothing at all
    import pandas as pd

    from sksplice.cli._profile import _write_profile

    empty = pd.DataFrame({"class": [], "significant": []})
    fh = io.StringIO()
    _write_profile(fh, empty, "table", {"classes": {"cats": 12, "dogs": 12}}, 0.05)
    assert fh.getvalue() == (
        "no concept to rank: no concept has a non-zero weight in any of the 24 images "
        "(a smaller --l1-penalty, or a larger --target-l0, keeps more concepts)\n"
    )


def test_a_missing_folder_is_told_from_a_file(image_tree, tmp_path, capsys):
    a_file = sorted((image_tree / "cats").glob("*.png"))[0]
    for argv, message in (
        (["compare", str(image_tree / "cats"), str(tmp_path / "nope")], "no such folder: "),
        (["profile", str(tmp_path / "nope")], "no such folder: "),
        (
            ["compare", str(image_tree / "cats"), str(a_file)],
            f"not a folder: {a_file} (a file); compare takes two folders of images, "
            "A_FOLDER B_FOLDER\n",
        ),
    ):
        code, out, err = _main(argv, capsys)
        assert code == 2 and out == "" and f"sksplice: error: {message}" in err, err


def test_copies_of_one_picture_are_refused_in_command_line_words(
    vocab_file, inproc, tmp_path, capsys, monkeypatch
):
    from sksplice import SpliceTransformer

    def fail(*args, **kwargs):
        raise AssertionError("the vocabulary was embedded before the centre was checked")

    monkeypatch.setattr(SpliceTransformer, "fit", fail)
    pixels = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(tmp_path / name)
    code, out, err = _main(["decompose", str(tmp_path), *_model_args(vocab_file)], capsys)
    assert code == 1 and out == ""
    line = err.strip().splitlines()[-1]
    assert "cannot be learned from these 2 images: their embeddings are all the same" in line
    assert "--image-mean FILE.npy" in line and "rows" not in line and "X" not in line


# ------------------------------------------- an output file is never an input of the run


def _inputs_case(case: str, tmp_path: Path, vocab_file: Path) -> tuple[list[str], Path, str]:
    """(command line, the input file its output would replace, the option at fault)."""
    root = tmp_path / "photos"
    for cls in ("cats", "dogs"):
        for i in range(2):
            _png(root / cls / f"img_{i}.png", 10 * len(cls) + i)
    labels = tmp_path / "lab.csv"
    labels.write_text(
        "".join(f"{p.relative_to(root)},{p.parent.name}\n" for p in sorted(root.rglob("*.png")))
    )
    vocab = tmp_path / "v.txt"
    vocab.write_text(vocab_file.read_text())
    mean = tmp_path / "mean.npy"
    np.save(mean, np.ones(32, dtype=np.float32))
    image = root / "cats" / "img_0.png"
    link = tmp_path / "link.png"
    link.symlink_to(image)
    model = _model_args(vocab)
    cases = {
        "profile-labels": (
            ["profile", str(root), "--labels", str(labels), "-o", str(labels)],
            labels,
            "-o",
        ),
        "decompose-vocabulary": (["decompose", str(root), "-o", str(vocab)], vocab, "-o"),
        "decompose-image-in-folder": (["decompose", str(root), "-o", str(image)], image, "-o"),
        "decompose-image-named": (
            ["decompose", str(image), str(root / "dogs"), "-o", str(image)],
            image,
            "-o",
        ),
        "decompose-image-through-a-link": (["decompose", str(root), "-o", str(link)], image, "-o"),
        "decompose-image-mean": (
            ["decompose", str(root), "--image-mean", str(mean), "-o", str(mean)],
            mean,
            "-o",
        ),
        "compare-report-image": (
            ["compare", str(root / "cats"), str(root / "dogs"), "--report", str(image)],
            image,
            "--report",
        ),
        "search-output-relative": (
            ["search", str(root), "--concepts", "cat", "-o", "photos/dogs/../cats/img_0.png"],
            image,
            "-o",
        ),
        "report-output-labels": (
            ["report", str(root), "--labels", str(labels), "-o", str(labels)],
            labels,
            "-o",
        ),
    }
    argv, victim, option = cases[case]
    return [*argv, *model], victim, option


@pytest.mark.parametrize(
    "case",
    [
        "profile-labels",
        "decompose-vocabulary",
        "decompose-image-in-folder",
        "decompose-image-named",
        "decompose-image-through-a-link",
        "decompose-image-mean",
        "compare-report-image",
        "search-output-relative",
        "report-output-labels",
    ],
)
def test_an_output_that_is_an_input_is_refused_before_any_work(
    case, vocab_file, inproc, capsys, tmp_path, no_embedding, monkeypatch
):
    """-o or --report naming an input of the run (an image, --labels, --vocabulary,
    --image-mean) would replace it: a usage error naming the option and the file."""
    monkeypatch.chdir(tmp_path)
    argv, victim, option = _inputs_case(case, tmp_path, vocab_file)
    before = victim.read_bytes()
    code, out, err = _main(argv, capsys)
    assert code == 2, err
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sksplice: error: {option} "), last
    assert "would replace it" in last and str(victim.name) in last, last
    assert victim.read_bytes() == before


@pytest.mark.parametrize("why", ["an input", "a bad option"])
def test_a_refused_run_says_nothing_of_its_output_extension(
    why, image_tree, vocab_file, inproc, capsys, tmp_path, no_embedding
):
    """``-o x.jpg`` that is an input image (or a run refused for another option) prints
    only the error, not the warning about the table format its -o would have got."""
    image = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(image)
    before = image.read_bytes()
    output = image if why == "an input" else tmp_path / "out.parquet"
    extra = ["--solver", "lars"] if why == "a bad option" else []
    argv = ["decompose", str(image), "-o", str(output), *_model_args(vocab_file, *extra)]
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sksplice: error: "), err
    assert ("would replace it" if why == "an input" else "--solver") in lines[0], err
    assert "not an output format" not in err, err
    assert image.read_bytes() == before and not (tmp_path / "out.parquet").exists()


def test_an_output_beside_the_inputs_is_accepted(image_tree, vocab_file, inproc, tmp_path, capsys):
    """An output file that exists and is no input (nor the other output) is replaced."""
    out, report = tmp_path / "out.csv", tmp_path / "out.html"
    out.write_text("old\n")
    report.write_text("old\n")
    folders = [str(image_tree / "cats"), str(image_tree / "dogs")]
    args = ["compare", *folders, "-q", "-o", str(out), "--report", str(report)]
    code, _, err = _main([*args, *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert out.read_text().startswith("concept,") and "<html" in report.read_text()
    # (the settings name the correction as the page's text does: not statsmodels' fdr_bh)
    assert "<dd>Benjamini-Hochberg</dd>" in report.read_text() and "fdr_bh" not in (
        report.read_text()
    )
    code, _, err = _main(
        [
            "compare",
            *folders,
            "-o",
            str(out),
            "--report",
            str(tmp_path / "." / "out.csv"),
            *_model_args(vocab_file),
        ],
        capsys,
    )
    assert code == 2 and "--report and -o name the same file" in err, err


def test_one_image_left_after_skipping_says_how_many_were_read(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    """One readable image of two: the skipped one is listed (the usual summary, then in the
    error line), and the error says how many of the images given could be read (exit 1)."""
    bad = tmp_path / "notimage.jpg"
    bad.write_text("hello\n")
    one = str(sorted((image_tree / "cats").glob("*.png"))[0])
    code, out, err = _main(["decompose", str(bad), one, "-q", *_model_args(vocab_file)], capsys)
    assert code == 1 and out == "", err  # a finding of the run: the command line was right
    lines = err.strip().splitlines()
    summary = next(i for i, ln in enumerate(lines) if "skipped 1 of 2 images" in ln)
    assert str(bad) in lines[summary + 1]
    last = lines[-1]
    assert summary < len(lines) - 1
    assert last.startswith("sksplice: error: only 1 of the 2 images could be read (skipped: ")
    assert str(bad) in last and "cannot be learned from a single image" in last, last


def test_pil_bomb_warning_is_not_shown_beside_the_skip_summary(
    image_tree, vocab_file, inproc, tmp_path, capsys, monkeypatch
):
    """An image over PIL's limit but under twice it (where PIL only warns): the skip summary
    names it and --max-image-pixels; PIL's own warning is not passed on, even without -q."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the 36 x 36 images: 1296 pixels
    small = [tmp_path / "a.png", tmp_path / "b.png"]
    for i, path in enumerate(small):
        _png(path, i)  # 20 x 20: under the limit
    big = sorted((image_tree / "cats").glob("*.png"))[0]
    for quiet in (["-q"], []):
        args = ["decompose", str(big), *map(str, small), "-f", "jsonl", *quiet]
        code, out, err = _main([*args, *_model_args(vocab_file)], capsys)
        assert code == 0, err
        assert len(out.splitlines()) == 2
        assert "skipped 1 of 3 images" in err and "--max-image-pixels" in err
        assert "decompression bomb DOS attack" not in err, err
        assert "exceeds limit of" not in err, err


def test_a_corrupt_dictionary_cache_gets_its_own_advice(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    """A cache file that cannot be used is rebuilt: nothing to do (the --cache-dir advice
    is for a cache that cannot be written)."""
    from sksplice import dictionary

    args = ["decompose", str(image_tree / "cats"), "-f", "jsonl", *_model_args(vocab_file)]
    dictionary.clear_memory_cache()
    code, _, err = _main(args, capsys)
    assert code == 0, err
    dictionaries = Path(inproc["SKSPLICE_CACHE"], "dictionaries")
    (cached,) = [p for p in dictionaries.rglob("*") if p.is_file()]
    data = bytearray(cached.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)  # the second half zeroed
    cached.write_bytes(bytes(data))
    dictionary.clear_memory_cache()
    code, out, err = _main(args, capsys)
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "dictionary" in ln and "warning" in ln]
    assert "cannot be used" in line and str(cached) in line, line
    assert line.endswith("(nothing to do: it is rebuilt)"), line
    assert "--cache-dir" not in line, line
    assert _parse("jsonl", out) == 5


class _ClosingPipe(io.StringIO):
    """Standard output on a real pipe whose reader goes away after ``n`` records (``|
    head``); with ``close_reader=False`` the broken pipe comes from elsewhere (the pipe's
    reader is still there)."""

    def __init__(self, n: int, close_reader: bool = True, windows: bool = False) -> None:
        super().__init__()
        self._r, self._w = os.pipe()
        self.flushes, self.n, self.close_reader = 0, n, close_reader
        self.windows = windows  # (Windows says a closed pipe as EINVAL: CPython issue 79935)

    def fileno(self) -> int:
        return self._w

    def flush(self) -> None:
        self.flushes += 1
        if self.flushes > self.n:
            if self.close_reader and self._r is not None:
                os.close(self._r)
                self._r = None
            if self.windows:
                raise OSError(errno.EINVAL, "Invalid argument")
            raise BrokenPipeError(32, "Broken pipe")

    def close_fds(self) -> None:
        for fd in (self._r, self._w):
            if fd is not None:
                os.close(fd)


@pytest.mark.parametrize(("reader_gone", "windows"), [(True, False), (False, False), (True, True)])
def test_a_closed_standard_output_is_noted_on_standard_error(
    image_tree, vocab_file, inproc, tmp_path, capsys, monkeypatch, reader_gone, windows
):
    """``sksplice decompose ... | head``: exit 0 (the reader has what it asked for), the
    skipped images are listed, and a line says where the output stopped. A broken pipe
    while standard output's reader is still there came from elsewhere: an error. On
    Windows the closed pipe is an EINVAL error, said as "cannot write standard output:
    Invalid argument" (exit 1) before it was taken for what it is."""
    from sksplice.cli import _logging

    monkeypatch.setattr(_logging, "_WINDOWS", windows)
    folder = tmp_path / "mixed"
    for p in sorted(image_tree.rglob("*.png")):
        (folder / p.parent.name).mkdir(parents=True, exist_ok=True)
        (folder / p.parent.name / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    pipe = _ClosingPipe(n=3, close_reader=reader_gone, windows=windows)
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        code = cli.main(["decompose", str(folder), "-f", "jsonl", *_model_args(vocab_file)])
    finally:
        pipe.close_fds()
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    if not reader_gone:
        assert code == 1, err
        assert last == "sksplice: error: Broken pipe", last
        assert "closed by its reader" not in err
        return
    assert code == 0, err
    assert "skipped 1 of 11 images" in err and "broken.png" in err
    assert last == (
        "sksplice: standard output was closed by its reader after 3 of 10 images had been "
        "sent to it in full (and perhaps part of the next; the reader may have read fewer); "
        "the rest were not written"
    ), last


def test_only_a_piped_standard_output_takes_windows_einval_for_a_closed_pipe(tmp_path, monkeypatch):
    # A file that refuses a write with EINVAL is an error of the run (exit 1), not a
    # reader that went away (exit 0, no file): only standard output, and only a pipe.
    from sksplice.cli import _logging
    from sksplice.cli._output import naming_write_errors

    monkeypatch.setattr(_logging, "_WINDOWS", True)
    einval = OSError(errno.EINVAL, "Invalid argument")
    with open(tmp_path / "out.txt", "w") as regular:
        monkeypatch.setattr(sys, "stdout", regular)
        assert _logging.as_closed_pipe(einval) is einval
    pipe = _ClosingPipe(n=0)
    try:
        monkeypatch.setattr(sys, "stdout", pipe)
        assert isinstance(_logging.as_closed_pipe(einval), BrokenPipeError)
        refused = r"^cannot write out\.jsonl: Invalid argument$"
        with pytest.raises(cli.CLIError, match=refused), naming_write_errors("out.jsonl"):
            raise einval
        with pytest.raises(BrokenPipeError), naming_write_errors("standard output"):
            raise einval
    finally:
        pipe.close_fds()
    monkeypatch.setattr(_logging, "_WINDOWS", False)
    assert _logging.as_closed_pipe(einval) is einval


@pytest.mark.parametrize("command", ["profile", "compare"])
def test_a_table_s_reader_that_closes_early_is_noted_as_such(
    command, image_tree, vocab_file, inproc, capsys, monkeypatch
):
    # ("standard output was closed before the results were all written": not said by whom)
    pipe = _ClosingPipe(n=0, close_reader=True)
    monkeypatch.setattr(sys, "stdout", pipe)
    folders = [str(image_tree)] if command == "profile" else sorted(map(str, image_tree.iterdir()))
    try:
        code = cli.main([command, *folders[:2], "-f", "csv", *_model_args(vocab_file)])
    finally:
        pipe.close_fds()
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.strip().splitlines()[-1] == (
        "sksplice: standard output was closed by its reader before the results were all "
        "written; the rest were not written"
    ), err


def test_a_json_lines_table_is_written_a_few_hundred_lines_at_a_time():
    # One write of a block's 343 kB into a pipe whose reader had gone (profile -f jsonl |
    # head -c 10) ended with no BrokenPipeError: no line said the rest was not written.
    import pandas as pd

    class Writes:
        def __init__(self):
            self.calls = []

        def write(self, text):
            self.calls.append(text)
            return len(text)

        def flush(self):
            pass

    table = pd.DataFrame({"concept": [f"c{i}" for i in range(1000)], "count": range(1000)})
    sink = Writes()
    _output._write_table_records(sink, table, "jsonl", {}, "ranking")
    assert max(text.count("\n") for text in sink.calls) <= 256 and len(sink.calls) == 4
    rows = [json.loads(line) for line in "".join(sink.calls).splitlines()]
    assert rows == table.to_dict(orient="records")


@pytest.mark.parametrize(
    ("query", "name", "advice"),
    [("cat,cat", "cat", "cat:2"), ("dog:2, snow ,dog:0.5", "dog", "dog:2.5")],
)
def test_a_concept_named_twice_in_a_query_is_refused(
    query, name, advice, image_tree, vocab_file, inproc, capsys, no_embedding
):
    """``--concepts cat,cat`` would silently weigh cat twice: a usage error naming the
    concept, with the weight that says so."""
    args = ["search", str(image_tree), "--concepts", query, *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sksplice: error: --concepts "), last
    assert f"names {name!r} twice" in last and last.endswith(advice), last


def test_a_complete_run_removes_the_partial_file_of_an_interrupted_one(
    image_tree, vocab_file, inproc, tmp_path, monkeypatch, capsys
):
    """FILE.partial of an interrupted run is superseded once a later run completes FILE:
    it is removed, with a line saying so; a failed run leaves it."""
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    args = ["decompose", str(image_tree / "cats"), "-o", str(out), *_model_args(vocab_file)]
    with monkeypatch.context() as m:
        m.setattr(_decompose, "_iter_rows", _interrupted_after(2))
        code, _, err = _main(args, capsys)
    assert code == 130 and len(partial.read_text().splitlines()) == 2, err
    # a run that fails does not complete FILE: the partial file stays
    code, _, err = _main([*args, "--image-mean", str(vocab_file)], capsys)
    assert code == 2 and partial.exists(), err
    code, _, err = _main(args, capsys)
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 5
    assert not partial.exists()
    assert f"sksplice: removed {partial}, the records an earlier interrupted run" in err, err
    code, _, err = _main([*args, "-q"], capsys)  # nothing to remove: nothing said
    assert code == 0 and "removed" not in err


def test_images_after_an_option_join_the_inputs(tmp_path, monkeypatch, capsys):
    from sksplice.cli._parser import parse_command_line

    monkeypatch.chdir(tmp_path)
    for name in ("A", "B", "C", "x.jpg"):
        Path(name).write_bytes(b"")
    args = parse_command_line(["decompose", "A", "-k", "1", "B", "C"])
    assert args.inputs == ["A", "B", "C"] and args.top_k == 1
    assert parse_command_line(["search", "A", "--concepts", "blue", "B"]).inputs == ["A", "B"]
    args = parse_command_line(["report", "flat", "-o", "r.html", "--labels", "l.csv", "x.jpg"])
    assert args.folder == "flat" and args.inputs == ["x.jpg"]
    # a stray word (no such file) stays an unrecognized argument, not a missing image
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["search", "A", "--concepts", "dog", "cat"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.rstrip()
    assert err.endswith(
        "unrecognized arguments: cat (quote a query of several words: --text 'a dog in the snow')"
        "; see sksplice search --help"
    )
    # a third folder for compare: what takes more than two
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["compare", "A", "B", "C"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.rstrip() == (
        "sksplice: error: compare: unrecognized arguments: C (compare takes two collections, "
        "A and B; to compare more, use sksplice profile: a folder of one sub-folder per "
        "class, or .npy files with --labels); see sksplice compare --help"
    )
    # a word after an unknown option is not taken for an image: the option is refused
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["decompose", "A", "--nope", "B"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --nope B" in capsys.readouterr().err
    # profile takes more inputs (.npy files; a second folder is refused by the command:
    # tests/test_cli_embeddings.py)
    args = parse_command_line(["profile", "A", "-k", "2", "B"])
    assert args.folder == "A" and args.inputs == ["B"] and args.top_k == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_in_a_folder_is_not_read_but_one_named_is(tmp_path, caplog):
    # Opening a FIFO blocks until a writer comes: one in a folder hung the run (a
    # thread blocked in open() outlived Ctrl-C). One named on the command line
    # (<(cat img.png)) has a writer and is read, as PIL reads any stream.
    import threading

    from sksplice._images import load_rgb

    folder = tmp_path / "imgs"
    for i in range(2):
        _png(folder / f"{i}.png", i)
    os.mkfifo(folder / "pipe.jpg")
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        paths = cli.collect_images([folder])
    assert [p.name for p in paths] == ["0.png", "1.png"]
    assert any(
        "not reading" in r.getMessage() and "a named pipe (FIFO)" in r.getMessage()
        for r in caplog.records
    )
    named = tmp_path / "named.png"
    os.mkfifo(named)
    data = (folder / "0.png").read_bytes()

    def write():
        with open(named, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert cli.collect_images([named]) == [named]
    assert load_rgb(str(named)).size == load_rgb(str(folder / "0.png")).size
    writer.join(10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_ctrl_c_ends_a_run_held_by_a_named_pipe_no_one_writes_to(
    image_tree, vocab_file, env, tmp_path, signum
):
    # A worker thread blocked in open() of the pipe was waited for as the interrupt
    # unwound, and again at exit: Ctrl-C and SIGTERM did nothing, with nothing said.
    import signal
    import time

    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    images = sorted(str(p) for p in image_tree.rglob("*.png"))
    argv = ["decompose", str(pipe), *images, "-f", "csv", *_model_args(vocab_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sksplice", *argv],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        err = ""
        deadline = time.monotonic() + 120
        while "CLIP images" not in err and time.monotonic() < deadline:  # (decoding)
            err += proc.stderr.read(1)
        time.sleep(1.0)
        proc.send_signal(getattr(signal, signum))
        out, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    code, word = {"SIGINT": (130, "interrupted"), "SIGTERM": (143, "terminated")}[signum]
    assert proc.returncode == code, err + rest
    assert f"sksplice: error: {word} while embedding images" in rest, rest
    assert out == ""


def test_a_query_concept_holding_a_colon_is_read_whole():
    # a custom vocabulary may hold "16:9": the weight follows the last colon, and a
    # split that names no concept is read whole
    import argparse

    from sksplice.cli._checks import _check_query_concepts, _parse_query

    concepts = ["16:9", "16", "dog", "x:1"]
    for raw, expected in (
        ("16:9", {"16:9": 1.0}),
        ("16:9:2,dog", {"16:9": 2.0, "dog": 1.0}),
        ("16:2", {"16": 2.0}),
        ("dog:0.5,x:1", {"dog": 0.5, "x:1": 1.0}),
    ):
        args = argparse.Namespace(text=None, concepts=raw)
        assert _check_query_concepts(_parse_query(args), concepts, raw) == expected, raw
    args = argparse.Namespace(text=None, concepts="cat:2")
    with pytest.raises(cli.CLIError, match="not in the vocabulary: 'cat'"):
        _check_query_concepts(_parse_query(args), concepts, "cat:2")
    # two concepts with a space between: each word is one, the phrase is not
    args = argparse.Namespace(text=None, concepts="dog 16")
    with pytest.raises(cli.CLIError, match=r"separated by commas \(--concepts dog,16\)$"):
        _check_query_concepts(_parse_query(args), concepts, "dog 16")
    args = argparse.Namespace(text=None, concepts="16:2,dog 16")  # (the others kept)
    with pytest.raises(cli.CLIError, match=r"\(--concepts 16:2,dog,16\)$"):
        _check_query_concepts(_parse_query(args), concepts, "16:2,dog 16")
    args = argparse.Namespace(text=None, concepts="dog cat")
    with pytest.raises(cli.CLIError) as info:
        _check_query_concepts(_parse_query(args), concepts, "dog cat")
    assert "commas" not in str(info.value)  # ('cat' is no concept either)


# ------------------------------------------ classes, files left out, output files refused


def _classes(root: Path, *names: str, n: int = 3) -> Path:
    """A folder of class sub-folders ``names``, ``n`` small images each."""
    for k, name in enumerate(names):
        for i in range(n):
            _png(root / name / f"{i}.png", 10 * k + i)
    return root


@pytest.mark.parametrize("reserved", ["all", "every"])
@pytest.mark.parametrize("how", ["profile-folders", "profile-labels", "report-folders"])
def test_a_class_named_as_the_group_of_all_images_is_refused_before_any_work(
    how, reserved, vocab_file, inproc, tmp_path, capsys, no_embedding, monkeypatch
):
    # It was refused by the profiles (exit 1), once every image and the vocabulary
    # had been embedded. The name is the one the analysis uses (kept in sksplice._names,
    # which the command line reads before it imports the analysis), not a copy of it.
    from sksplice import _names, analysis

    assert analysis.ALL_GROUP is _names.ALL_GROUP
    monkeypatch.setattr(_names, "ALL_GROUP", reserved)
    monkeypatch.setattr(analysis, "ALL_GROUP", reserved)
    command, source = how.split("-")
    root = _classes(tmp_path / "data", reserved if source == "folders" else "cat", "dog")
    extra = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    if source == "labels":
        labels = tmp_path / "labels.csv"
        rows = [f"cat/{i}.png,cat" for i in range(3)] + [f"dog/{i}.png,dog" for i in range(2)]
        labels.write_text("path,label\n" + "\n".join(rows) + f"\ndog/2.png,{reserved}\n")
        extra += ["--labels", str(labels)]
    code, out, err = _main([command, str(root), *extra, *_model_args(vocab_file)], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and out == "", err
    assert f"{reserved!r}" in last and "reserved" in last, last
    if source == "labels":
        assert f"{labels}, line 7: the label {reserved!r} (of dog/2.png)" in last, last
    else:
        assert f"class folder {root / reserved}: " in last and "rename that folder" in last, last
    if reserved != "all":  # (a class named all is one like any other then)
        import argparse

        from sksplice.cli._inputs import _labelled

        monkeypatch.setattr(_names, "ALL_GROUP", "zzz")

        args = argparse.Namespace(
            folder=str(root), labels=extra[-1] if source == "labels" else None
        )
        assert reserved in _labelled(args)[1]


def test_a_class_of_unreadable_images_is_refused_before_the_vocabulary_is_embedded(
    image_tree, vocab_file, inproc, tmp_path, capsys, monkeypatch
):
    # The vocabulary was embedded (the dictionary built) before a class with no readable
    # image was found; decompose's own checks of what was read come before it too.
    from sksplice.embedders import CLIPEmbedder

    def no_text(*args, **kwargs):
        raise _Embedded("the vocabulary was embedded before the classes were checked")

    monkeypatch.setattr(CLIPEmbedder, "embed_text", no_text)
    root = _three_classes(image_tree, tmp_path / "two_bad", ("dogs", "birds"))
    fresh = tmp_path / "fresh.txt"  # (a vocabulary no other test has embedded and cached)
    fresh.write_text("\n".join([*VOCAB, f"concept of {tmp_path.name}"]) + "\n")
    args = ["profile", str(root), "-q", *_model_args(vocab_file), "--vocabulary", str(fresh)]
    code, out, err = _main(args, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 1 and out == ""
    assert "none of the 2 images of class 'birds' could be read" in last, last
    assert "skipped 4 of 9 images" in err


def test_files_without_an_image_extension_are_counted_per_folder(tmp_path, caplog, capsys):
    # They were left out without a word, even with --debug.
    import argparse

    from sksplice.cli._inputs import _labelled

    root = _classes(tmp_path / "data", "cat", "dog", n=2)
    for name in ("cat/noext", "cat/x.jpeg.bak", "dog/notes.txt", "dog/README", "z"):
        (root / name).write_text("x")
    labels = root / "labels.csv"
    labels.write_text("".join(f"{c}/{i}.png,{c}\n" for c in ("cat", "dog") for i in range(2)))
    other = _classes(tmp_path / "other", "a", n=1)  # (nothing left out: nothing said)
    (root / "dog" / "emb.npy").write_bytes(b"x")
    with caplog.at_level("INFO", logger="sksplice.cli"):
        paths = cli.collect_images([root, other])
    assert len(paths) == 5
    said = [
        r.getMessage() for r in caplog.records if "without an image extension" in r.getMessage()
    ]
    assert len(said) == 1 and said[0].startswith(f"folder {root}: left out 4 files "), said
    # (the fourth named, not counted: "and 1 more" says less than its name)
    assert said[0].endswith(": cat/noext, cat/x.jpeg.bak, dog/README, z"), said
    # notes, tables and arrays: an information line, not a warning at every run
    levels = {r.getMessage(): r.levelname for r in caplog.records}
    assert levels == {
        said[0]: "WARNING",
        f"folder {root}: left out 3 files of text or data: dog/emb.npy, dog/notes.txt, "
        "labels.csv": "INFO",
    }, levels
    # the --labels file of the run, in the folder, is no file left out
    caplog.clear()
    with caplog.at_level("INFO", logger="sksplice.cli"):
        _labelled(argparse.Namespace(folder=str(root), labels=str(labels)))
    said = [r.getMessage() for r in caplog.records]
    assert f"folder {root}: left out 2 files of text or data: dog/emb.npy, dog/notes.txt" in said
    assert "left out 4 files" in said[1] and "labels.csv" not in " ".join(said), said
    assert capsys.readouterr().out == ""


def test_the_runs_own_outputs_in_its_folder_are_no_file_left_out(
    image_tree, vocab_file, inproc, capsys
):
    """`decompose photos -o photos/out.csv` warned at every later run that it left out
    out.csv, its own earlier output (and an interrupted run's out.csv.partial)."""
    out = image_tree / "out.csv"
    args = ["decompose", str(image_tree), "-f", "csv", "-o", str(out), *_model_args(vocab_file)]
    code, _, err = _main(args, capsys)
    assert code == 0 and out.exists(), err
    (image_tree / "out.csv.partial").write_text("path\n")
    (image_tree / "notes.txt").write_text("x")
    code, _, err = _main(args, capsys)
    assert code == 0, err
    said = [line for line in err.splitlines() if "left out" in line]
    assert len(said) == 1 and said[0].endswith(": notes.txt"), said


def test_every_image_extension_of_a_folder_is_decoded(tmp_path):
    # .jfif (what browsers on Windows save JPEGs as), .jpe, .pbm and .pnm were left out.
    from PIL import Image

    from sksplice._images import load_rgb

    formats = {".jpe": "JPEG", ".jfif": "JPEG", ".pbm": "PPM", ".pnm": "PPM"}
    for ext in cli.IMAGE_EXTENSIONS:
        mode = "1" if ext == ".pbm" else "L" if ext == ".pgm" else "RGB"
        Image.new(mode, (8, 6)).save(tmp_path / f"a{ext}", format=formats.get(ext))
    paths = cli.collect_images([tmp_path])
    assert sorted(p.suffix for p in map(Path, paths)) == sorted(cli.IMAGE_EXTENSIONS)
    assert {".jfif", ".jpe", ".pbm", ".pnm"} <= cli.IMAGE_EXTENSIONS
    assert all(load_rgb(p).size == (8, 6) for p in paths)


@pytest.mark.parametrize("command", ["profile", "report"])
def test_a_class_folder_of_files_without_an_image_extension_is_named(
    command, vocab_file, inproc, tmp_path, capsys, no_embedding
):
    root = _classes(tmp_path / "noext", "cat", n=2)
    (root / "dog").mkdir()
    for i in range(4):
        (root / "dog" / f"img{i}").write_bytes((root / "cat" / "0.png").read_bytes())
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    args = [command, str(root), *out, "-q", *_model_args(vocab_file)]
    if command == "report":  # it goes on, to the images (see the one-class report test)
        with pytest.raises(_Embedded):
            cli.main(args)
        code, (stdout, err) = None, capsys.readouterr()
    else:
        code, stdout, err = _main(args, capsys)
    assert stdout == ""
    # (a refused run says only why: the error names the folder)
    warned = f"warning: folder {root}: left out 4 files without an image extension" in err
    assert warned == (command == "report")
    said = (
        f"found 1 in the class sub-folders of {root}: 'cat' ({root / 'dog'} held 4 files, "
        "none with an image extension)"
    )
    if command == "profile":
        last = err.strip().splitlines()[-1]
        assert code == 2 and last == f"sksplice: error: profile needs at least two classes, {said}"
    else:
        assert f"warning: no class profiles: profiles need at least two classes, {said}" in err


def test_a_report_of_one_class_is_a_summary_with_a_warning(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # It failed with "need at least two classes to profile"; the report of one class is
    # written without class profiles, as documented.
    labels = tmp_path / "one.csv"
    labels.write_text(
        "".join(f"{p.relative_to(image_tree)},pets\n" for p in sorted(image_tree.rglob("*.png")))
    )
    page = tmp_path / "r.html"
    args = ["report", str(image_tree), "--labels", str(labels), "-o", str(page), "-q"]
    code, out, err = _main([*args, *_model_args(vocab_file)], capsys)
    assert code == 0 and out == "", err
    assert (
        f"warning: no class profiles: profiles need at least two classes, found 1 in labels "
        f"file {labels}: 'pets'; the report shows the images without them"
    ) in err
    assert err.count("no class profiles") == 1
    text = page.read_text(encoding="utf-8")
    assert '<section id="classes">' not in text and "cats/" in text and "dogs/" in text
    # profile refuses it before any work, in its own name
    code, _, err = _main(["profile", *args[1:4], *_model_args(vocab_file)], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2
    assert last == (
        f"sksplice: error: profile needs at least two classes, found 1 in labels file "
        f"{labels}: 'pets'"
    )


def test_a_report_of_a_folder_of_one_class_folder_says_why_it_has_no_profiles(
    vocab_file, inproc, tmp_path, capsys
):
    # A folder holding one class folder was taken for a folder of unlabelled images: the
    # page said "0 classes", with no warning.
    root = _classes(tmp_path / "one", "only", n=2)
    page = tmp_path / "r.html"
    args = ["report", str(root), "-o", str(page), "-q", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 0 and out == "", err
    assert (
        "warning: no class profiles: profiles need at least two classes, found 1 in the "
        f"class sub-folders of {root}: 'only'; the report shows the images without them"
    ) in err
    text = page.read_text(encoding="utf-8")
    assert '<section id="classes">' not in text and "only/0.png" in text
    # images beside the one sub-folder: a folder of images, as before (no warning)
    _png(root / "top.png", 7)
    code, out, err = _main(args, capsys)
    assert code == 0 and "no class profiles" not in err, err


def test_a_write_protected_output_file_is_refused_before_any_work(
    image_tree, vocab_file, inproc, tmp_path, capsys, no_embedding, monkeypatch
):
    # It was replaced (a new file renamed over it), where the shell's ">" refuses it.
    # (os.access says so for a user; a superuser may write it, as with ">".)
    locked = tmp_path / "locked.csv"
    locked.write_text("kept\n")
    locked.chmod(0o444)
    access = os.access

    def no_write(path, mode, *args, **kwargs):
        if os.fspath(path) == str(locked) and mode & os.W_OK:
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", no_write)
    for command, option in (("decompose", "-o"), ("report", "-o"), ("compare", "--report")):
        inputs = [str(image_tree / "cats"), str(image_tree / "dogs")]
        if command == "decompose":
            inputs = inputs[:1]
        args = [command, *inputs, option, str(locked), *_model_args(vocab_file)]
        code, out, err = _main(args, capsys)
        last = err.strip().splitlines()[-1]
        assert code == 2 and out == "", err
        assert last == (
            f"sksplice: error: cannot write output file {locked}: it is write-protected; make "
            f"it writable (chmod u+w {locked}) or give another file ({option})"
        )
        assert locked.read_text() == "kept\n"
    # a file whose mode allows writing (immutable, on a read-only mount): no chmod advice
    locked.chmod(0o644)
    args = ["decompose", str(image_tree / "cats"), "-o", str(locked), *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 2 and err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot write output file {locked}: it cannot be written, though "
        "its mode allows it (a file marked immutable, a read-only file system, or access "
        "rules); give another file (-o)"
    )
    assert locked.read_text() == "kept\n"


@pytest.mark.parametrize("command", ["decompose", "report", "compare"])
def test_an_empty_output_path_is_named_as_such(
    command, image_tree, vocab_file, inproc, capsys, no_embedding
):
    # -o "" was "cannot write output file .: it is a directory"; - (standard output) is
    # offered only where it is taken (report -o refused it, a page with its images)
    option = "--report" if command == "compare" else "-o"
    inputs = [str(image_tree / "cats"), str(image_tree / "dogs")]
    args = [command, *inputs, option, "", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and out == ""
    stdout_taken = command == "decompose"
    assert last == (
        f"sksplice: error: the output path of {option} is empty: give a file name"
        + (", or - for standard output" if stdout_taken else "")
    )


def test_a_refused_run_says_only_why_and_system_files_are_not_counted(
    tmp_path, vocab_file, inproc, capsys, caplog, no_embedding
):
    # "folder plain: left out 2 files ... .DS_Store, notes.txt" came before the refusal
    # of -o "", and every macOS folder warned of its .DS_Store.
    root = _classes(tmp_path / "plain", "cat", n=2)
    for name in (".DS_Store", "cat/Thumbs.db", "notes.txt"):
        (root / name).write_text("x")
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    code, out, err = _main(["decompose", str(root), "-o", "", *_model_args(vocab_file)], capsys)
    assert code == 2 and out == "" and "left out" not in err, err
    assert err.strip().splitlines() == [
        "sksplice: error: the output path of -o is empty: give a file name, or - for standard "
        "output"
    ]
    with caplog.at_level("INFO", logger="sksplice.cli"):
        cli.collect_images([root])
    (said,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert said.endswith(": notes.txt") and "left out 1 file " in said, said


def test_a_p_value_that_underflowed_is_shown_as_a_bound():
    # 2,000 against 2,000 images, fully separated: p underflows to 0.0 (z = 63),
    # which the table printed as "p_adj=0" (a certainty)
    import numpy as np

    from sksplice.analysis import rank_concepts
    from sksplice.cli._output import format_p_value
    from sksplice.cli._profile import _write_profile

    W = np.zeros((4000, 2))
    W[:2000, 0] = 1.0
    W[::2, 1] = 1.0
    y = np.array(["water"] * 2000 + ["land"] * 2000)
    ranking = rank_concepts(W, y, "water", concepts=["lake", "sky"])
    assert ranking.loc["lake", "p_adjusted"] == 0.0
    table = ranking.reset_index(names="concept").assign(**{"class": "water"})
    fh = io.StringIO()
    _write_profile(fh, table, "table", {"classes": {"water": 2000, "land": 2000}}, 0.05)
    assert "p_adj=<1e-300  lake" in fh.getvalue()
    assert [format_p_value(p) for p in (0.0, 5e-324, 0.0123, 1.0)] == [
        "<1e-300",
        "4.9e-324",
        "0.012",
        "1.0",
    ]


# ------------------------------------------------ file names that are not valid UTF-8

#: A file name that is not valid UTF-8, and how every output writes it.
_UNDECODABLE = b"bad\xff\xfeutf8.png"
_SHOWN = "bad\\xff\\xfeutf8.png"


def _bytes_named(folder: Path, name: bytes, data: bytes) -> None:
    """Write ``data`` to the file ``name`` of ``folder``; skip where names must be UTF-8."""
    try:
        with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
            fh.write(data)
    except (OSError, UnicodeError) as exc:  # (macOS: EILSEQ)
        pytest.skip(f"the file system refuses a name that is not valid UTF-8: {exc}")


@pytest.fixture
def undecodable_tree(image_tree, tmp_path) -> Path:
    """Three images, one image and one unreadable file whose names are not valid UTF-8."""
    root = tmp_path / "weird"
    root.mkdir()
    cats = sorted((image_tree / "cats").glob("*.png"))
    for i, p in enumerate(cats[:3]):
        (root / f"{i}.png").write_bytes(p.read_bytes())
    _bytes_named(root, _UNDECODABLE, cats[3].read_bytes())
    _bytes_named(root, b"broken\xff.png", b"not an image\n")
    return root


def test_a_name_that_is_not_utf8_is_shown_with_backslash_escapes():
    from sksplice._image_files import not_utf8, shown_message, shown_name

    name = os.fsdecode(b"photos/" + _UNDECODABLE)
    assert shown_name(name) == "photos/" + _SHOWN
    assert shown_name(name) == name.encode("utf-8", "surrogateescape").decode(
        "utf-8", "backslashreplace"
    )
    assert shown_name("caf\u00e9 \U0001f431.png") == "caf\u00e9 \U0001f431.png"  # valid: kept
    assert shown_message(f"{name!r} is not an image") == f"'photos/{_SHOWN}' is not an image"
    assert not_utf8(name) and not not_utf8("caf\u00e9.png")
    # valid UTF-8 read as ASCII (PYTHONUTF8=0 with a C locale: each byte a surrogate) is
    # shown as it is, not escaped byte by byte, and is no name that is not valid UTF-8
    as_ascii = b"caf\xc3\xa9.png".decode("ascii", "surrogateescape")
    assert shown_name(as_ascii) == "caf\u00e9.png" and not not_utf8(as_ascii)
    assert shown_name("x\ud800y") == "x\\ud800y" and not_utf8("x\ud800y")


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_names_that_are_not_utf8_are_written_escaped_in_every_format(
    fmt, undecodable_tree, vocab_file, inproc, capsys, tmp_path
):
    """Such a name is written with \\xNN escapes (valid UTF-8) in every format, and one
    warning, before anything is embedded, counts them and shows the first."""
    root = undecodable_tree
    out = tmp_path / f"out.{fmt}"
    code, _, err = _main(["decompose", str(root), "-o", str(out), *_model_args(vocab_file)], capsys)
    assert code == 0, err
    text = out.read_bytes().decode("utf-8")  # (strict: valid UTF-8)
    shown = f"{root}/{_SHOWN}"
    if fmt == "csv":
        assert shown in {row["path"] for row in csv.DictReader(io.StringIO(text))}
    elif fmt == "json":
        data = json.loads(text)
        assert shown in [r["path"] for r in data["images"]]
        (skipped,) = data["metadata"]["skipped"]
        assert skipped["path"] == f"{root}/broken\\xff.png", skipped
        assert f"'{root}/broken\\xff.png'" in skipped["reason"], skipped
    elif fmt == "jsonl":
        assert shown in [json.loads(line)["path"] for line in text.splitlines()]
    else:
        assert f"{shown}  (l0=" in text
    lines = err.splitlines()
    warned = [i for i, ln in enumerate(lines) if "not valid UTF-8" in ln]
    assert len(warned) == 1, err
    assert lines[warned[0]] == (
        f"sksplice: warning: the names of 2 images are not valid UTF-8 (the first: {shown}): "
        "the outputs write each byte that is not valid UTF-8 as a \\xNN escape, as shown here"
    )
    first_work = next(i for i, ln in enumerate(lines) if ln.startswith(("CLIP", "sksplice: embed")))
    assert warned[0] < first_work, err
    assert "\\udc" not in err and f"{root}/broken\\xff.png" in err, err


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_the_writer_escapes_texts_that_are_not_utf8_wherever_they_are(fmt):
    """Records are written as they are unless a text in them is not valid UTF-8 (checked
    once per record, not by rebuilding it); such a record is written as its escaped
    copy (``shown``) is, whichever of its texts holds the bytes: the path, a concept,
    or a field written before the path."""
    records = [
        {"cls": "cats", "path": "a.png", "l0": 1, "cosine": 0.5,
         "concepts": [{"concept": "cat", "weight": 0.25}]},
        {"cls": "dogs\udcff", "path": "b.png", "l0": 0, "cosine": 0.25, "concepts": []},
        {"cls": "dogs", "path": "c\udcfe.png", "l0": 1, "cosine": 0.5,
         "concepts": [{"concept": "dog", "weight": 0.5}]},
        {"cls": "dogs", "path": "d.png", "l0": 2, "cosine": 0.75,
         "concepts": [{"concept": "d\udc80g", "weight": 0.5}, {"concept": "cat", "weight": 0.1}]},
    ]  # fmt: skip
    for rec in records:
        rec["baseline_cosine"] = 0.125

    def written(recs):
        fh = io.StringIO()
        writer = _output._Writer(fh, fmt, {"n": len(recs)}, extra=("cls",))
        for rec in recs:
            writer.write(rec)
        writer.close()
        return fh.getvalue()

    text = written(records)
    assert text == written([_output.shown(r) for r in records])
    text.encode("utf-8")  # (strict: valid UTF-8)
    for escaped in ("dogs\\xff", "c\\xfe.png", "d\\x80g"):
        assert escaped in text or json.dumps(escaped)[1:-1] in text  # (JSON doubles the \\)
    assert "cats" in text and "a.png" in text


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("n_rows", [0, 1, 300])
def test_ranking_tables_are_written_as_one_record_at_a_time_would_be(fmt, n_rows, monkeypatch):
    """The json and jsonl tables (profile, compare) are encoded a column at a time; the
    bytes are those of ``json.dumps`` of each record of ``to_dict(orient="records")``:
    texts with quotes, backslashes, ``%`` and non-ASCII letters, NaN and infinite
    values, ints, bools, numpy scalars, 0.0 and -0.0 and None in an object column,
    float32 and int32 columns, and blocks of rows."""
    import pandas as pd

    monkeypatch.setattr(_output, "_JSON_BLOCK_ROWS", 64)
    rng = np.random.default_rng(0)
    texts = np.array(['quo"te', "back\\slash", "é ü 漢", "tab\tx", "50%s", "cat"], dtype=object)
    special = np.array([np.nan, np.inf, -np.inf, 1e-300, -0.0, 1e16, 1.5e-5, 0.1])
    table = pd.DataFrame(
        {
            "class": pd.Series(texts[rng.integers(6, size=n_rows)], dtype=object),
            "concept": texts[rng.integers(6, size=n_rows)],
            "count_positive": rng.integers(0, 100, n_rows),
            "log_odds_ratio": np.where(
                rng.random(n_rows) < 0.5, special[rng.integers(8, size=n_rows)], rng.random(n_rows)
            ),
            "p_adjusted": rng.random(n_rows) ** 8,
            "significant": rng.random(n_rows) < 0.5,
            "mixed": np.array(
                ([np.int64(3), 0.0, None, True, np.bool_(False), -0.0, "s"] * n_rows)[:n_rows],
                dtype=object,
            ),
            "f32": rng.random(n_rows).astype(np.float32),
            "i32": rng.integers(0, 5, n_rows).astype(np.int32),
            "100%": rng.random(n_rows),
        }
    )
    metadata = {"alpha": 0.05, "classes": {"cat": 3}, "note": "\x00records"}
    fh = io.StringIO()
    _output._write_table_records(fh, table, fmt, metadata, "ranking")
    table = table.assign(p_adjusted=_output.significant_values(table["p_adjusted"]))
    records = table.to_dict(orient="records")
    if fmt == "json":
        doc = {"metadata": metadata, "ranking": records}
        expected = json.dumps(doc, indent=1, default=_output._json_scalar) + "\n"
    else:
        expected = "".join(json.dumps(r, default=_output._json_scalar) + "\n" for r in records)
    assert fh.getvalue() == expected


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_ranking_tables_of_unusual_columns_are_written_as_one_record_at_a_time_would_be(fmt):
    """Missing values of nullable and pyarrow columns (None, as to_dict gives them),
    lists and dicts (indented inside a json record), names that are not texts, rows
    without columns; a column name json cannot write is refused."""
    import pandas as pd

    def reference(table):
        # (a frame without columns: a record of each row, as pandas >= 3.1 gives them; 2.x
        # and 3.0 give none)
        records = table.to_dict(orient="records") if table.shape[1] else [{}] * len(table)
        if fmt == "json":
            doc = {"metadata": {}, "ranking": records}
            return json.dumps(doc, indent=1, default=_output._json_scalar) + "\n"
        return "".join(json.dumps(r, default=_output._json_scalar) + "\n" for r in records)

    tables = [
        pd.DataFrame(
            {
                "n": pd.array([1, None, 3], dtype="Int64"),
                "f": pd.array([0.5, None, -0.0], dtype="Float64"),
                "b": pd.array([True, None, False], dtype="boolean"),
                "s": pd.array(["x", None, "y"], dtype="string"),
                "c": pd.Categorical(["u", None, "u"]),
                "l": pd.Series([[1, [2, 3]], {"k": [4]}, []], dtype=object),
                1.5: [1, 2, 3],
                None: ["a", "b", "c"],
            }
        ),
        pd.DataFrame(index=range(3)),
    ]
    for table in tables:
        fh = io.StringIO()
        _output._write_table_records(fh, table, fmt, {}, "ranking")
        assert fh.getvalue() == reference(table)
    with pytest.raises(TypeError, match="keys must be str"):
        _output._write_table_records(
            io.StringIO(), pd.DataFrame({("a", "b"): [1]}), fmt, {}, "ranking"
        )


def test_names_that_are_not_utf8_on_standard_output_are_valid_utf8(
    undecodable_tree, vocab_file, env
):
    run_env = {**env, "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run(
        [sys.executable, "-m", "sksplice", "decompose", str(undecodable_tree), "-q", "-f", "csv"]
        + _model_args(vocab_file),
        env=run_env,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout.decode("utf-8"))))
    assert f"{undecodable_tree}/{_SHOWN}" in {row["path"] for row in rows}


@pytest.fixture
def undecodable_classes(image_tree, tmp_path) -> Path:
    """Two class folders, one named b"caf\\xe9" (Latin-1, not valid UTF-8)."""
    root = tmp_path / "classes"
    (root / "dogs").mkdir(parents=True)
    try:
        os.mkdir(os.path.join(os.fsencode(root), b"caf\xe9"))
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"the file system refuses a name that is not valid UTF-8: {exc}")
    cafe = Path(os.fsdecode(os.path.join(os.fsencode(root), b"caf\xe9")))
    for cls, folder in (("cats", cafe), ("dogs", root / "dogs")):
        for p in sorted((image_tree / cls).glob("*.png"))[:3]:
            (folder / p.name).write_bytes(p.read_bytes())
    return root


def test_class_folders_not_utf8_are_named_escaped_by_profile_report_and_compare(
    undecodable_classes, vocab_file, inproc, capsys, tmp_path
):
    root = undecodable_classes
    model = _model_args(vocab_file)
    out = tmp_path / "profile.json"
    code, _, err = _main(["profile", str(root), "-q", "-o", str(out), *model], capsys)
    assert code == 0, err
    data = json.loads(out.read_bytes().decode("utf-8"))
    assert data["metadata"]["classes"] == {"caf\\xe9": 3, "dogs": 3}
    assert {row["class"] for row in data["ranking"]} == {"caf\\xe9", "dogs"}

    page = tmp_path / "report.html"
    code, _, err = _main(["report", str(root), "-q", "-o", str(page), *model], capsys)
    assert code == 0, err
    html = page.read_bytes().decode("utf-8")
    assert "caf\\xe9 (n=3)" in html and '"caf\\\\xe9"' in html  # (text, and JSON data)

    cafe = os.fsdecode(os.path.join(os.fsencode(root), b"caf\xe9"))
    out = tmp_path / "compare.json"
    args = ["compare", cafe, str(root / "dogs"), "-q", "-o", str(out), "--report", str(page)]
    code, _, err = _main([*args, *model], capsys)
    assert code == 0, err
    data = json.loads(out.read_bytes().decode("utf-8"))
    assert data["metadata"]["a"]["folder"] == f"{root}/caf\\xe9"
    assert f"{root}/caf\\xe9" in page.read_bytes().decode("utf-8")


# ----------------------------------------------------------- links, --strict, rounding


def test_a_link_beside_its_file_is_decomposed_once(tmp_path, caplog):
    """A link in the folder of the file it leads to: the file is taken once, under its
    own name, with a warning (an image linked into two class folders stays in both)."""
    root = tmp_path / "odd"
    _png(root / "full.png", 0)
    _png(root / "other.png", 1)
    (root / "link_to_full.png").symlink_to("full.png")
    (root / "0_link.png").symlink_to("other.png")  # (sorts before its file)
    _png(root / "cats" / "a.png", 2)
    (root / "cats" / "b.png").symlink_to(root / "cats" / "a.png")
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        paths = cli.collect_images([root])
    # (in the walk's order: 0_link.png, cats/, full.png, link_to_full.png, other.png)
    assert paths == [root / "other.png", root / "cats" / "a.png", root / "full.png"]
    (message,) = [r.getMessage() for r in caplog.records if "more than once" in r.getMessage()]
    assert message == (
        f"3 image files given more than once: {root / 'cats' / 'a.png'} (again as "
        f"{root / 'cats' / 'b.png'}); {root / 'full.png'} (again as "
        f"{root / 'link_to_full.png'}); {root / 'other.png'} (again as {root / '0_link.png'}); "
        "each is decomposed once"
    )


def test_a_link_beside_its_file_counts_once_in_the_learned_centre(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    folder = tmp_path / "cats"
    folder.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "zz_link.png").symlink_to(folder / "0.png")
    code, out, err = _main(
        ["decompose", str(folder), "-f", "json", *_model_args(vocab_file)], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    assert len(data["images"]) == 3 and data["metadata"]["images"] == 3
    assert data["metadata"]["image_mean"]["n_samples"] == 3
    assert "zz_link.png" not in {Path(r["path"]).name for r in data["images"]}


def test_a_link_across_sub_folders_is_decomposed_once_where_they_are_no_classes(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    # decompose and search have no classes: a file linked from one sub-folder into
    # another was decomposed twice and counted twice in the learned centre, silently;
    # profile keeps it in both classes
    root = tmp_path / "photos"
    for sub in ("x", "y"):
        (root / sub).mkdir(parents=True)
        for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
            (root / sub / f"{sub}{p.name}").write_bytes(p.read_bytes())
    original = root / "x" / "x0.png"
    (root / "y" / "link.png").symlink_to(original)
    code, out, err = _main(["decompose", str(root), "-f", "json", *_model_args(vocab_file)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert len(data["images"]) == 6 and data["metadata"]["image_mean"]["n_samples"] == 6
    assert "link.png" not in {Path(r["path"]).name for r in data["images"]}
    assert (
        f"1 image file given more than once: {original} (again as {root / 'y' / 'link.png'}); "
        "each is decomposed once"
    ) in err, err
    code, out, err = _main(["profile", str(root), "-f", "json", *_model_args(vocab_file)], capsys)
    assert code == 0 and "more than once" not in err, err
    assert json.loads(out)["metadata"]["classes"] == {"x": 3, "y": 4}
    # so do search, compare and a report of several inputs (no classes)
    other = tmp_path / "other"
    other.mkdir()
    for p in sorted((image_tree / "dogs").glob("*.png"))[:3]:
        (other / p.name).write_bytes(p.read_bytes())
    for argv in (
        ["search", str(root), "--concepts", "cat,dog", "-n", "50"],
        ["compare", str(root), str(other)],
        ["report", str(other), str(root), "-o", str(tmp_path / "r.html")],
    ):
        code, out, err = _main([*argv, "-q", *_model_args(vocab_file)], capsys)
        assert code == 0, err
        assert f"{original} (again as {root / 'y' / 'link.png'})" in err, (argv, err)


def test_strict_names_the_unreadable_image_and_its_place(
    image_tree, vocab_file, inproc, capsys, tmp_path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png"))[:3]:
        (folder / p.name).write_bytes(p.read_bytes())  # 0.png 1.png 2.png
    broken = folder / "1b.png"
    broken.write_bytes(b"not an image\n")
    code, out, err = _main(["decompose", str(folder), "--strict", *_model_args(vocab_file)], capsys)
    assert code == 1 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"sksplice: error: '{broken}' is not an image file PIL can read (image 3 of 4; "
        "--strict stops at the first image that cannot be read)"
    ), last
    assert "input " not in err, err


def test_compare_rounds_as_profile_does(image_tree, vocab_file, inproc, capsys, tmp_path):
    folders = [str(image_tree / "cats"), str(image_tree / "dogs")]
    code, out, err = _main(
        ["compare", *folders, "-q", "-f", "json", *_model_args(vocab_file)], capsys
    )
    assert code == 0, err
    rows = json.loads(out)["comparison"]
    columns = ("prevalence_a", "prevalence_b", "prevalence_diff", "mean_weight_diff")
    values = [row[c] for row in rows for c in columns]
    # (6 significant digits, as profile writes its shares and decompose its weights)
    assert values and all(v == float(f"{v:.6g}") for v in values), values
    assert any(v != round(v, 3) for v in values)  # (rounded, not coarser)


def test_compare_warns_of_copies_of_images_in_both_folders_before_embedding(
    image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    # links to one file were refused; byte-identical copies were counted in both
    # collections without a word
    import shutil

    from sksplice import embedders

    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(image_tree / "cats", a)
    shutil.copytree(image_tree / "dogs", b)
    images = sorted(a.glob("*.png"))
    shutil.copy(images[1], b / "copy1.png")
    shutil.copy(images[0], b / "copy0.png")
    (b / "renamed.png").write_bytes(images[0].read_bytes()[:-1] + b"\0")  # (same size)

    def refused(*_args, **_kwargs):
        raise AssertionError("embedded before the copies were said")

    monkeypatch.setattr(embedders.CLIPEmbedder, "embed_images", refused)
    code, out, err = _main(["compare", str(a), str(b), *_model_args(vocab_file)], capsys)
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        f"sksplice: warning: 2 images of {b} are byte-identical to images of {a} (first: "
        f"{b / 'copy0.png'}, a copy of {images[0]}): each is counted in both collections, "
        "which makes them look more alike than their distinct images are; remove the copies "
        "from one folder to compare distinct images"
    ), err
    monkeypatch.undo()
    (b / "copy1.png").unlink()
    code, out, err = _main(["compare", str(a), str(b), "-q", *_model_args(vocab_file)], capsys)
    assert code == 0, err
    assert f"1 image of {b} is byte-identical to one of {a} ({b / 'copy0.png'}, a copy" in err
    (b / "copy0.png").unlink()
    code, out, err = _main(["compare", str(a), str(b), "-q", *_model_args(vocab_file)], capsys)
    assert code == 0 and "byte-identical" not in err, err


@pytest.mark.parametrize("broken_side", ["a", "b"])
def test_compare_refuses_a_folder_of_unreadable_images_before_the_vocabulary_is_embedded(
    broken_side, image_tree, vocab_file, inproc, tmp_path, capsys
):
    # The folder was named only after the vocabulary was embedded and every image
    # decomposed (after a warning about the image mean learned from the images read).
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (broken / "b.jpg").write_bytes(b"")
    fresh = tmp_path / "fresh.txt"  # (a vocabulary no other test has embedded and cached)
    fresh.write_text("\n".join([*VOCAB, f"concept of {tmp_path.name}"]) + "\n")
    folders = [str(image_tree / "cats"), str(broken)]
    if broken_side == "a":
        folders.reverse()
    args = ["compare", *folders, *_model_args(vocab_file), "--vocabulary", str(fresh)]
    code, out, err = _main(args, capsys)
    assert code == 1 and out == ""
    assert "concepts with" not in err and "image mean" not in err, err
    last = err.strip().splitlines()[-1]
    assert last == f"sksplice: error: none of the 2 images of {broken} could be read", last
    assert "skipped 2 of 7 images" in err and str(broken / "a.png") in err, err
    # (the same vocabulary, not cached yet, is embedded once both folders have images)
    good = [str(image_tree / "cats"), str(image_tree / "dogs")]
    code, _, err = _main(["compare", *good, *args[3:]], capsys)
    assert code == 0 and "embedding 12 concepts with" in err, err


# ------------------------------------------------- local files checked without torch


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--vocabulary", "missing.txt"], "--vocabulary 'missing.txt' is neither"),
        (["--image-mean", "missing.npy"], "--image-mean: no such file missing.npy"),
        (["--vocabulary-size", "12"], "--vocabulary-size 12 is larger than the 11 concepts"),
        (["--image-mean", "two_rows.npy"], "holds float32 values of shape (2, 16)"),
        # a named vocabulary is read after the model, but its length is known before
        (
            ["--vocabulary", "laion_bigrams", "--vocabulary-size", "15001"],
            "--vocabulary-size 15001 is larger than the 15000 concepts of the 'laion_bigrams'",
        ),
        # (refused once the model was checked: 6 s)
        (["--vocabulary", "laion", "--vocabulary-size", "1"], "must be 2 or more: SpLiCE needs"),
    ],
)
def test_local_files_are_checked_before_torch_is_imported(
    option, expected, image_tree, vocab_file, env, tmp_path
):
    """A missing --vocabulary or --image-mean file, or a --vocabulary-size larger than the
    file, is refused before the model is looked at: torch and open_clip (seconds to
    import) are not loaded."""
    np.save(tmp_path / "two_rows.npy", np.zeros((2, 16), dtype=np.float32))
    args = ["decompose", str(image_tree / "cats"), *_model_args(vocab_file), *option]
    code, loaded, err = _run_and_look_at_modules(args, ("torch", "open_clip"), env, tmp_path)
    assert (code, loaded) == (2, [False, False]), err
    assert expected in err, err


def _run_and_look_at_modules(args, modules, env, tmp_path):
    """Run the command line in a fresh process: (exit code, whether each of ``modules``
    was imported, standard error)."""
    code = (
        "import sys\n"
        "from sksplice.cli import main\n"
        f"code = main({args!r})\n"
        f"print(code, *[m in sys.modules for m in {tuple(modules)!r}])\n"
    )
    repo = str(Path(__file__).resolve().parents[1])  # (this checkout, from another folder)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": repo},
        capture_output=True,
        text=True,
        timeout=300,
    )
    first, *flags = proc.stdout.split() or ["", ""]
    return (int(first) if first.isdigit() else None), [f == "True" for f in flags], proc.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["compare", "{cats}", "{tmp}/nope"], "no such folder"),
        (["compare", "{cats}", "{cats}"], "is given as both A and B"),
        (["compare", "{cats}/..", "{cats}"], "share 5 images"),
        (["profile", "{cats}"], "has no class sub-folders: its 5 images lie in it directly"),
        (["profile", "{root}", "--labels", "{tmp}/nope.csv"], "labels file"),
        (["search", "{root}", "--concepts", "nosuchword"], "not in the vocabulary"),
    ],
)
def test_profile_compare_and_search_check_their_inputs_before_the_analysis_is_imported(
    command, expected, image_tree, vocab_file, env, tmp_path
):
    """The statistics (scipy.stats, scikit-learn: a second or two to import) are loaded
    once the command line is accepted: a misspelt folder or concept is refused at once,
    as decompose refuses it."""
    fill = {"cats": image_tree / "cats", "root": image_tree, "tmp": tmp_path}
    args = [part.format(**fill) for part in command] + _model_args(vocab_file)
    heavy = ("sksplice.analysis", "scipy.stats", "sklearn", "torch")
    code, loaded, err = _run_and_look_at_modules(args, heavy, env, tmp_path)
    assert (code, loaded) == (2, [False] * 4), err
    assert expected in err, err


def test_a_file_holding_a_published_vocabulary_keeps_its_default_size(splice_data_dir, tmp_path):
    # --vocabulary laion gave the 10,000 most frequent concepts, the same file by path
    # all 37,445 (a first run 3.7 times as long, and other decompositions); the library
    # takes such a file as the named vocabulary.
    import argparse

    from sksplice.cli._checks import _check_vocabulary

    copy = tmp_path / "laion.txt"
    copy.write_bytes((splice_data_dir / "vocab" / "laion.txt").read_bytes())
    args = argparse.Namespace(vocabulary=str(copy), vocabulary_size=None, data_home=None)
    by_path, whole = _check_vocabulary(args)
    args = argparse.Namespace(vocabulary="laion", vocabulary_size=None, data_home=splice_data_dir)
    assert by_path == _check_vocabulary(args)[0] and len(by_path) == 10_000
    assert len(whole) == 37_445 and whole[:10_000] == by_path
    mine = tmp_path / "mine.txt"
    mine.write_text("\n".join(f"word{i}" for i in range(10_050)) + "\n", encoding="utf-8")
    args = argparse.Namespace(vocabulary=str(mine), vocabulary_size=None, data_home=None)
    assert len(_check_vocabulary(args)[0]) == 10_050  # (any other file: all of it)
    # laion_bigrams whole (its 10,000 most frequent held one of its two-word concepts),
    # by name and as a file holding it
    args = argparse.Namespace(
        vocabulary="laion_bigrams", vocabulary_size=None, data_home=splice_data_dir
    )
    kept, _ = _check_vocabulary(args)
    assert len(kept) == 15_000 and sum(" " in c for c in kept) == 5001
    copy = tmp_path / "laion_bigrams.txt"
    copy.write_bytes((splice_data_dir / "vocab" / "laion_bigrams.txt").read_bytes())
    args = argparse.Namespace(vocabulary=str(copy), vocabulary_size=None, data_home=None)
    assert _check_vocabulary(args)[0] == kept


def test_a_signal_before_the_run_is_not_lost_in_a_callback(tmp_path):
    # A KeyboardInterrupt raised by the start-up handler inside a callback (importlib's
    # module-lock one, as a module is imported) was printed as "Exception ignored" and the
    # run went on to exit 0; before the run handles signals, nothing is written: it ends.
    import subprocess
    import sys

    script = tmp_path / "callback.py"
    script.write_text(
        "import os, signal, weakref\n"
        "from sksplice import _console\n"
        "_console._install(_console._runs_ended())\n"
        "class Thing: pass\n"
        "thing = Thing()\n"
        "def callback(_):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    for _ in range(100_000): pass  # (the handler runs here)\n"
        "ref = weakref.ref(thing, callback)\n"
        "del thing\n"
        "print('went on')\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == "sksplice: error: interrupted\n"


# ------------------------------------------------ hidden files, empty classes, messages


def test_hidden_files_and_folders_of_a_folder_are_not_read(vocab_file, inproc, tmp_path, capsys):
    # .ipynb_checkpoints/ became a class of profile and report, counted in the learned
    # centre, and --labels asked for its label; macOS's ._x.png was a skipped unreadable
    # image (and stopped --strict). They are left out, and the left-out warning says so.
    root = _classes(tmp_path / "data", "cat", "dog", n=3)
    _png(root / ".ipynb_checkpoints" / "0-checkpoint.png", 99)
    (root / "cat" / "._0.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    visible = [f"{c}/{i}.png" for c in ("cat", "dog") for i in range(3)]
    assert [p.relative_to(root).as_posix() for p in cli.collect_images([root])] == visible
    out = tmp_path / "profile.json"
    args = ["profile", str(root), "--strict", "-o", str(out), *_model_args(vocab_file)]
    code, stdout, err = _main(args, capsys)
    assert code == 0 and stdout == "", err
    metadata = json.loads(out.read_text())["metadata"]
    assert metadata["classes"] == {"cat": 3, "dog": 3}
    assert metadata["image_mean"]["n_samples"] == 6 and metadata["skipped"] == []
    said = [line for line in err.splitlines() if "left out" in line]
    assert said == [
        f"sksplice: warning: folder {root}: left out 2 hidden files with an image extension "
        '(a name in its path starts with ".", as in .ipynb_checkpoints/ and macOS\'s ._ '
        "files; move or rename one to read it): .ipynb_checkpoints/0-checkpoint.png, "
        "cat/._0.png"
    ], err
    # --labels needs no label for them
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(f"{p},{p.split('/')[0]}\n" for p in visible))
    code, _, err = _main([*args, "--labels", str(labels)], capsys)
    assert code == 0, err
    # a hidden folder is no class folder for the report: beside the images of a folder it
    # makes no class layout; beside one class folder, that class is the only one
    one = _classes(tmp_path / "one", "cat")
    (one / ".ipynb_checkpoints").mkdir()
    _png(one / "top.png", 1)
    assert not _inputs._has_class_folders(one)
    (one / "top.png").unlink()
    assert _inputs._has_class_folders(one)
    (one / "dog").mkdir()
    assert _inputs._has_class_folders(one)
    # a folder of hidden images only is a folder of no image, which the error explains
    hidden_only = tmp_path / "hidden_only"
    _png(hidden_only / ".ipynb_checkpoints" / "a.png", 1)
    code, _, err = _main(["decompose", str(hidden_only), *_model_args(vocab_file)], capsys)
    assert code == 2 and "(only 1 hidden file, not read from a folder: " in err, err
    # a file named on the command line is read, whatever its name
    named = [root / "cat" / "._0.png", root / "cat" / "0.png", root / "dog" / "0.png"]
    code, stdout, err = _main(
        ["decompose", *map(str, named), "-f", "jsonl", *_model_args(vocab_file)], capsys
    )
    assert code == 0 and len(stdout.splitlines()) == 2, err
    assert "skipped 1 of 3 images" in err and f"{named[0]}" in err


def test_a_labels_file_of_paths_from_the_working_folder_says_where_paths_are_read_from(
    vocab_file, inproc, tmp_path, capsys, monkeypatch, no_embedding, caplog
):
    # "lab.csv has no label for image data/cat/0.png" although the file holds that
    # string; the warning that explained it was held back by the refusal.
    root = _classes(tmp_path / "data", "cat", "dog", n=2)
    monkeypatch.chdir(tmp_path)
    rows = [f"data/{c}/{i}.png,{c}" for c in ("cat", "dog") for i in range(2)]
    # no path names an image of the folder, every one names one from the working folder
    # (a list written by `ls data/*/*.png`): read so, and said (it was refused)
    Path("lab.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.INFO, logger="sksplice"):
        labels = _inputs._read_labels(Path("lab.csv"), Path("data"), cli.collect_images([root]))
    assert labels == ["cat", "cat", "dog", "dog"]
    assert (
        "the paths of lab.csv name no image relative to data, and are read from the working "
        "folder, where they name images"
    ) in caplog.messages
    # ... and an image without a row, a row naming no image, are said so: the row it
    # needs is read from the working folder too (it was asked for as "dog/1.png", which
    # would have turned the reading from the working folder off)
    Path("lab.csv").write_text("path,label\n" + "\n".join([*rows[:3], "data/x.png,x"]) + "\n")
    caplog.clear()
    with pytest.raises(cli.CLIError) as refused, caplog.at_level(logging.INFO, logger="sksplice"):
        _inputs._read_labels(Path("lab.csv"), Path("data"), cli.collect_images([root]))
    assert str(refused.value).startswith(
        f"lab.csv has no label for image {root / 'dog' / '1.png'}: expected a row for "
        "data/dog/1.png (a relative path is read from the working folder, as the file's "
        "other paths), or for its absolute path"
    ), refused.value
    assert any(
        m.endswith("(line 5: data/x.png; a relative path is read from the working folder, as "
                   "the file's other paths)") for m in caplog.messages
    ), caplog.messages  # fmt: skip
    # one path of the folder among them: the paths are read from the folder, and the
    # others said to name an image from the working folder instead
    rows[0] = "cat/0.png,cat"
    Path("lab.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    args = ["profile", "data", "--labels", "lab.csv", *_model_args(vocab_file)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "sksplice: error: lab.csv has no label for image data/cat/1.png (and 2 other "
        "images): expected a row for cat/1.png (a relative path is read from the folder "
        "data), or for its absolute path; 3 rows of lab.csv name no image under data: they "
        "name an image from the working folder instead (line 3: data/cat/1.png); give paths "
        "relative to data, or absolute"
    ]
    # rows that name other files: counted; one image without a row: named, with its path
    Path("lab.csv").write_text("cat/0.png,cat\ncat/1.png,cat\ndog/0.png,dog\nelsewhere.png,x\n")
    with pytest.raises(cli.CLIError) as refused:
        _inputs._read_labels(Path("lab.csv"), root, cli.collect_images([root]))
    assert str(refused.value) == (
        f"lab.csv has no label for image {root / 'dog' / '1.png'}: expected a row for "
        f"dog/1.png (a relative path is read from the folder {root}), or for its absolute "
        f"path; 1 row of lab.csv names no image under {root}"
    )
    # every row names an image, and one image has none: the folder holds more than labelled
    Path("lab.csv").write_text("cat/0.png,cat\ncat/1.png,cat\ndog/0.png,dog\n")
    with pytest.raises(cli.CLIError) as refused:
        _inputs._read_labels(Path("lab.csv"), root, cli.collect_images([root]))
    assert str(refused.value).endswith(
        f"or for its absolute path; every image under {root} needs a label: label the "
        "others, or move them out of the folder"
    )
    # label,path in place of path,label (no header): the columns look swapped
    Path("lab.csv").write_text("cat,cat/0.png\ncat,cat/1.png\ndog,dog/0.png\ndog,dog/1.png\n")
    with pytest.raises(cli.CLIError) as refused:
        _inputs._read_labels(Path("lab.csv"), root, cli.collect_images([root]))
    assert str(refused.value).endswith(
        "; its columns look swapped (line 1: cat,cat/0.png): give path,label, or a header "
        "naming them (label,path)"
    )
    Path("lab.csv").write_text("label,path\ncat,cat/0.png\ncat,cat/1.png\ndog,dog/0.png\n")
    with pytest.raises(cli.CLIError) as refused:  # (read rightly: one image left unlabelled)
        _inputs._read_labels(Path("lab.csv"), root, cli.collect_images([root]))
    assert "swapped" not in str(refused.value) and "dog/1.png" in str(refused.value)
    # every image labelled, and rows that name no image: told with their lines and paths
    Path("lab.csv").write_text(
        "cat/0.png,cat\ncat/1.png,cat\nelsewhere.png,x\ndog/0.png,dog\ndog/1.png,dog\nb,y\n"
    )
    with caplog.at_level("WARNING", logger="sksplice.cli"):
        _inputs._read_labels(Path("lab.csv"), root, cli.collect_images([root]))
    assert (
        f"2 rows of lab.csv name no image under {root} (line 3: elsewhere.png; line 6: b; a "
        f"relative path is read from {root})" in caplog.text
    )


def test_a_failed_output_comes_after_the_summary_of_the_skipped_images(
    image_tree, vocab_file, inproc, tmp_path, capsys
):
    # decompose and search lost the list of skipped images when the output could not
    # be written (-o /dev/full, > /dev/full): the error came alone.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    root = tmp_path / "some_bad"
    root.mkdir()
    for p in sorted((image_tree / "cats").glob("*.png")):
        (root / p.name).write_bytes(p.read_bytes())
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    common = [str(root), "-q", *_model_args(vocab_file)]
    for args in (
        ["decompose", *common, "-o", "/dev/full"],
        ["search", *common, "--concepts", "cat", "-n", "6", "-o", "/dev/full"],
        ["decompose", *common],
    ):
        if "-o" in args:
            code, _, err = _main(args, capsys)
        else:  # standard output on a full device
            code, err = _main_to_full_stdout(args, capsys)
        lines = err.strip().splitlines()
        assert code == 1, err
        assert lines[-1].startswith("sksplice: error: cannot write "), err
        summary = lines.index("sksplice: warning: skipped 1 of 6 images:")
        # (the list of skipped images, then the error)
        assert str(root / "broken.png") in lines[summary + 1], err
        assert summary + 2 == len(lines) - 1, err


@pytest.mark.parametrize(
    ("command", "option", "name", "warned"),
    [
        ("report", "-o", "r.csv", True),
        ("report", "-o", "r.txt", True),
        ("report", "-o", "r.HTML", False),
        ("report", "-o", "report", False),
        ("compare", "--report", "r.txt", True),
        ("compare", "--report", "r.htm", False),
    ],
)
def test_a_report_named_for_another_format_is_warned_about(
    command, option, name, warned, image_tree, vocab_file, inproc, tmp_path, capsys, no_embedding
):
    # report -o r.csv and compare --report r.txt wrote HTML there without a word, while
    # decompose -o out.parquet warns.
    page = tmp_path / name
    inputs = [str(image_tree / "cats"), str(image_tree / "dogs")]
    with pytest.raises(_Embedded):  # (the warning comes once the command line is accepted)
        cli.main([command, *inputs, option, str(page), *_model_args(vocab_file)])
    err = capsys.readouterr().err
    suffix = Path(name).suffix
    said = (
        f"sksplice: warning: {option} {page}: the file gets the report, an HTML page, "
        f"whatever its extension ({suffix}); name it .html to open it in a browser"
    )
    assert (said in err) == warned, err
    assert "not an output format" not in err


@pytest.mark.parametrize("command", ["profile", "report"])
def test_an_empty_class_folder_is_named(
    command, vocab_file, inproc, tmp_path, capsys, no_embedding
):
    # mkdir data/fish: the class was dropped without a message.
    root = _classes(tmp_path / "data", "cat", "dog", n=2)
    (root / "fish").mkdir()
    (root / "owl").mkdir()
    (root / "owl" / "notes.txt").write_text("x")
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    with pytest.raises(_Embedded):
        cli.main([command, str(root), *out, *_model_args(vocab_file)])
    err = capsys.readouterr().err
    assert (
        f"sksplice: warning: class folder {root / 'fish'} held no file: left out of the classes"
        in err
    )
    assert (
        f"sksplice: warning: class folder {root / 'owl'} held 1 file, none with an image "
        "extension: left out of the classes"
    ) in err
    # one class left: the refusal names the empty folder
    one = _classes(tmp_path / "one", "cat", n=2)
    (one / "fish").mkdir()
    code, stdout, err = _main(["profile", str(one), *_model_args(vocab_file)], capsys)
    assert code == 2 and stdout == ""
    assert err.strip().splitlines() == [
        f"sksplice: error: profile needs at least two classes, found 1 in the class "
        f"sub-folders of {one}: 'cat' ({one / 'fish'} held no file)"
    ]


def test_a_penalty_that_leaves_no_concept_says_so(image_tree, vocab_file, inproc, capsys):
    # decompose printed "(no concept above the penalty)" for every image without a word on
    # standard error; compare printed "0 concepts tested ... none: the top 0 are not
    # significant (-f csv lists them)".
    large = ["--l1-penalty", "1.99"]  # (from 2 on, refused as a usage error)
    code, out, err = _main(
        ["decompose", str(image_tree), "-q", *_model_args(vocab_file), *large], capsys
    )
    assert code == 0 and out.count("(no concept above the penalty)") == 10, err
    assert err.splitlines()[-1] == (
        "sksplice: warning: no concept has a non-zero weight in any of the 10 images (a "
        "smaller --l1-penalty, or a larger --target-l0, keeps more concepts)"
    )
    assert "decomposes to no concept" not in err  # (the library's warning: said once)
    code, out, _ = _main(["decompose", str(image_tree), "-q", *_model_args(vocab_file)], capsys)
    assert code == 0 and "(no concept above the penalty)" not in out
    folders = [str(image_tree / "cats"), str(image_tree / "dogs")]
    code, out, err = _main(["compare", *folders, "-q", *_model_args(vocab_file), *large], capsys)
    assert code == 0, err
    assert out.splitlines()[1:] == [
        "no concept to test: no concept has a non-zero weight in any of the 10 images (a "
        "smaller --l1-penalty, or a larger --target-l0, keeps more concepts)"
    ]


def test_a_penalty_that_leaves_most_images_without_a_concept_says_so_once(
    image_tree, vocab_file, inproc, capsys, monkeypatch, tmp_path
):
    # At 0.42, 7 of the 10 images kept no concept, each said "(no concept above the
    # penalty)" and the run nothing (it spoke only where every image had none).
    from sksplice.cli import _decompose

    args = [*_model_args(vocab_file), "--l1-penalty", "0.42"]
    with monkeypatch.context() as patched:
        patched.setattr(_decompose, "_CHUNK", 3)  # (chunks say nothing: the run does)
        code, out, err = _main(["decompose", str(image_tree), "-q", "-f", "csv", *args], capsys)
    assert code == 0, err
    l0 = {row["path"]: int(row["l0"]) for row in csv.DictReader(io.StringIO(out))}
    n_empty = sum(k == 0 for k in l0.values())
    assert len(l0) == 10 and 5 < n_empty < 10, l0
    said = [line for line in err.splitlines() if "no concept at" in line]
    assert said == [
        f"sksplice: warning: {n_empty} of the 10 images decompose to no concept at "
        "--l1-penalty 0.42: no concept's correlation with them reaches the penalty, so their "
        "codes say nothing of them. A smaller --l1-penalty keeps more concepts (useful "
        "penalties lie mostly from 0.05 to 0.5), or give --target-l0 to have the run find it "
        "for a number of concepts"
    ], err
    # a labelled run (the library's warning, in the command line's words) and a report of
    # unlabelled images (decomposed in chunks) say the same
    code, out, err = _main(["profile", str(image_tree), "-q", *args], capsys)
    assert code == 0, err
    assert [line for line in err.splitlines() if "no concept at" in line] == said, err
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in sorted(image_tree.rglob("*.png")):
        (flat / f"{path.parent.name}_{path.name}").write_bytes(path.read_bytes())
    code, out, err = _main(["decompose", str(flat), "-q", *args], capsys)
    said_flat = [line for line in err.splitlines() if "no concept at" in line]
    assert code == 0 and len(said_flat) == 1, err
    report = ["report", str(flat), "-o", str(tmp_path / "r.html"), "-q"]
    with monkeypatch.context() as patched:
        patched.setattr(_decompose, "_CHUNK", 3)
        code, out, err = _main([*report, *args], capsys)
    assert code == 0, err
    assert [line for line in err.splitlines() if "no concept at" in line] == said_flat, err


def test_a_penalty_that_keeps_nearly_every_concept_says_so_once(
    image_tree, vocab_file, inproc, capsys, monkeypatch, tmp_path
):
    # A tiny penalty (1e-4, a scikit-learn Lasso's habit) gave codes of hundreds of concepts,
    # slow to find, without a word. The library's warning is said once, in the command
    # line's words, on standard error, with the mean of the whole run. (Ten images of the
    # tiny model keep a few concepts each at 0.05, far from nearly dense: the threshold is
    # lowered below.)
    from sksplice import transformer as transformer_module
    from sksplice.cli import _decompose

    small = ["--l1-penalty", "0.05"]
    with monkeypatch.context() as patched:
        # (the images keep 4 to 8 concepts, 6.1 on average: codes of more than 6 are said
        # to be nearly dense; decomposed one at a time, the first such image keeps 8, and
        # the run's mean, not that image's, is said)
        patched.setattr(transformer_module, "_nearly_dense", lambda mean_l0, d: mean_l0 > 6)
        patched.setattr(_decompose, "_CHUNK", 1)
        code, out, err = _main(
            ["decompose", str(image_tree), "-q", "-f", "csv", *_model_args(vocab_file), *small],
            capsys,
        )
    assert code == 0 and out.startswith("path,rank,concept,weight,l0"), err
    rows = csv.DictReader(io.StringIO(out))
    l0 = [int(v) for v in {row["path"]: row["l0"] for row in rows}.values()]
    mean = np.mean(l0)
    assert len(l0) == 10 and mean > 6 and round(mean) != next(k for k in l0 if k > 6), l0
    dense = [ln for ln in err.splitlines() if "decompose to" in ln]
    assert len(dense) == 1, err
    said = f"sksplice: warning: the embeddings decompose to {mean:.0f} concepts each on average"
    assert dense[0].startswith(said), (dense, l0)
    assert "at --l1-penalty 0.05, more than half the 32 dimensions" in dense[0], dense
    assert "A larger --l1-penalty keeps fewer concepts" in dense[0]
    assert "or give --target-l0 to have the run find it for a number of concepts" in dense[0]
    assert "l1_penalty" not in err and "rows of X" not in err and "fit" not in err
    # a report of unlabelled images decomposes them a chunk at a time too: said once, with
    # the mean of the run
    with monkeypatch.context() as patched:
        patched.setattr(transformer_module, "_nearly_dense", lambda mean_l0, d: mean_l0 > 6)
        patched.setattr(_decompose, "_CHUNK", 1)
        report = ["report", str(image_tree), "-o", str(tmp_path / "r.html"), "-q"]
        code, out, err = _main([*report, *_model_args(vocab_file), *small], capsys)
    assert code == 0, err
    assert [line for line in err.splitlines() if "decompose to" in line] == dense, err
    # the default penalty, judged as it is: no such warning
    code, out, err = _main(["decompose", str(image_tree), "-q", *_model_args(vocab_file)], capsys)
    assert code == 0 and "decompose to" not in err, err


def test_an_image_mean_file_the_images_do_not_lie_around_is_said_once(
    image_tree, vocab_file, inproc, capsys, tmp_path, monkeypatch
):
    # A mean file of other CLIP weights (OpenAI's ViT-B-32 for LAION's, nearly orthogonal)
    # centred every image wrongly, silently. (The tiny model's images: their own centre,
    # saved by a run, and that centre turned around.)
    from sksplice.cli import _decompose

    own, other, flipped = (tmp_path / f"{name}.npy" for name in ("own", "other", "flipped"))
    args = ["decompose", str(image_tree), "-q", "-f", "csv", *_model_args(vocab_file)]
    code, out, err = _main([*args, "--image-mean", "data", "--save-image-mean", str(own)], capsys)
    assert code == 0 and "do not lie around" not in err, err
    mean = np.load(own)
    np.save(flipped, -mean)
    away = np.random.default_rng(0).normal(size=mean.size)  # (at right angles, as the
    away -= (away @ mean) / (mean @ mean) * mean  # means of other weights lie)
    np.save(other, away * np.linalg.norm(mean) / np.linalg.norm(away))
    code, out, err = _main([*args, "--image-mean", str(own)], capsys)
    assert code == 0 and "do not lie around" not in err, err
    for streams in (True, False):  # (said the same, from the same images, either way)
        with monkeypatch.context() as patched:
            if not streams:
                patched.setattr(_decompose, "_streams", lambda args, plan: False)
            code, out, err = _main([*args, "--image-mean", str(other)], capsys)
        assert code == 0 and out.startswith("path,rank,concept"), err
        said = [line for line in err.splitlines() if "do not lie around" in line]
        assert len(said) == 1, err
        assert said[0].startswith(
            f"sksplice: warning: the images do not lie around the image mean in {other}: the "
            "mean direction of 10 of them has cosine "
        ), said
        assert said[0].endswith(
            " with it (below 0.3), so their concepts explain that offset rather than the "
            "images. The mean is likely of other CLIP weights than the run's "
            "(sksplice-test-tiny, random): give --image-mean auto (the model's published "
            "mean, where there is one) or data (learned from the images)"
        ), said
    # a mean whose sign was flipped is told so
    code, out, err = _main([*args, "--image-mean", str(flipped)], capsys)
    assert code == 0 and "has cosine -1.00 with it (below 0.3), so their concepts explain " in err
    assert "images. The mean points the opposite way (its sign flipped?): give --image-" in err
    # profile checks its images the same way
    code, out, err = _main(
        ["profile", str(image_tree), "-q", *_model_args(vocab_file), "--image-mean", str(other)],
        capsys,
    )
    assert code == 0 and err.count("do not lie around the image mean in") == 1, err


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_results_without_any_concept_say_why_on_stderr(image_tree, vocab_file, inproc, capsys, fmt):
    # profile and compare wrote an empty ranking (a csv header, "ranking": []) without a
    # word, and search blamed the query ("no image of the 10 holds any concept of the
    # query") where the penalty had left no concept in any image. The table said it on
    # standard output alone: sent to a file, it left a clean-looking run on the terminal.
    why = (
        "no concept has a non-zero weight in any of the 10 images (a smaller --l1-penalty, "
        "or a larger --target-l0, keeps more concepts)"
    )
    large = ["-f", fmt, *_model_args(vocab_file), "--l1-penalty", "1.99"]
    folders = [str(image_tree / "cats"), str(image_tree / "dogs")]
    for argv, what in (
        (["profile", str(image_tree)], "no concept to rank: "),
        (["compare", *folders], "no concept to test: "),
        (["search", str(image_tree), "--concepts", "cat"], ""),
    ):
        code, out, err = _main([*argv, *large], capsys)
        assert code == 0, err
        assert f"sksplice: warning: {what}{why}" in err.splitlines(), (argv, err)
        assert "no image of the" not in err
        assert "warning" not in out
        if argv[0] == "profile" and fmt == "json":  # (every class counted, none left out)
            assert json.loads(out)["metadata"]["significant_concepts"] == {"cats": 0, "dogs": 0}
    code, out, err = _main(
        ["profile", str(image_tree), "-f", fmt, *_model_args(vocab_file)], capsys
    )
    assert code == 0 and "no concept to rank" not in err


def test_a_sweep_over_vocabulary_sizes_embeds_each_concept_once(tmp_path, tiny_clip_model):
    # --vocabulary-size cuts the vocabulary; a later run reuses the cached beginning.
    from PIL import Image

    import sksplice.dictionary as dictionary_module

    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        path = tmp_path / f"im{i}.png"
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype("uint8")).save(path)
        images.append(str(path))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(f"thing {i}" for i in range(3000)), encoding="utf-8")
    counted: list[int] = []
    original = dictionary_module._embed

    def counting(embedder, concepts, *args, **kwargs):
        counted.append(len(concepts))
        return original(embedder, concepts, *args, **kwargs)

    base = [*images, "--model", tiny_clip_model, "--pretrained", "none", "--device", "cpu"]
    base += ["--vocabulary", str(vocab), "--cache-dir", str(tmp_path / "cache"), "-q"]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(dictionary_module, "_embed", counting)
        for size in ("2000", "1000", "3000"):
            dictionary_module.clear_memory_cache()  # (each run a new process)
            dictionary_module._prefix_sizes_seen.clear()
            assert cli.main(["decompose", *base, "--vocabulary-size", size]) == 0
    # 2,000; then none (cut from them); then the 1,000 after them
    assert counted == [2000, 1000]


def _records(n: int, concept: str) -> list[dict]:
    """``n`` records of one concept each, as decompose makes them (``0.png``, ...)."""
    return [
        {
            "path": f"{i}.png",
            "concepts": [{"concept": concept, "weight": 0.5}],
            "l0": 1,
            "cosine": 0.9,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("to_file", [True, False], ids=["file", "stdout"])
def test_a_json_run_interrupted_while_its_held_records_are_written_is_one_document(
    to_file, tmp_path, monkeypatch, capsys, caplog
):
    # A streamed json run holds its records until its metadata is known; Ctrl-C while
    # they were written began a second document after the first, cut short: two
    # "metadata" keys, and json.load failed
    records = _records(5, "dog")
    real_write = _output._Writer.write_json
    calls = []

    def write(self, text):  # (held records are written as their lines of JSON)
        calls.append(json.loads(text)["path"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(self, text)

    monkeypatch.setattr(_output._Writer, "write_json", write)
    output = tmp_path / "out.json"
    code = _decompose._write_records(
        str(output) if to_file else None,
        "json",
        lambda n: {"images": 5, "held": n},
        iter(records),
        5,
        "images",
        [],
        5,
    )
    assert code == 130
    text = (tmp_path / "out.json.partial").read_text() if to_file else capsys.readouterr().out
    data = json.loads(text)
    assert text.count('"metadata"') == 1
    assert data["complete"] is False and data["written"] == len(data["images"]) == 2
    assert [r["path"] for r in data["images"]] == ["0.png", "1.png"]
    assert calls == ["0.png", "1.png", "2.png"]  # (none written twice)
    assert "interrupted: 2 of 5 images written" in caplog.text


def test_an_interruption_before_the_first_record_says_how_far_the_embedding_got(caplog):
    # a streamed run stopped in its first block said only "interrupted: no record was
    # written", where one stopped before the records began said what was embedded
    def records():
        stop = KeyboardInterrupt()
        stop._sksplice_embedded = (512, 1500, 0)
        raise stop
        yield  # (a generator)

    code = _decompose._write_records(None, "csv", {}, records(), 1500, "images", [], 1500)
    assert code == 130
    assert "interrupted while embedding images (512 of 1500 embedded): no record was written" in (
        caplog.text
    )
    caplog.clear()

    def kept():
        stop = KeyboardInterrupt()
        stop._sksplice_embedded = (512, 1500, 512)
        raise stop
        yield  # (a generator)

    assert _decompose._write_records(None, "csv", {}, kept(), 1500, "images", [], 1500) == 130
    assert caplog.text.count("kept for a run started again") == 1, caplog.text
    assert "(512 of 1500 embedded, 512 of them kept for a run started again): no record" in (
        caplog.text
    )


def test_records_a_json_document_holds_go_to_disk_beyond_a_size(tmp_path, monkeypatch):
    # (held as dicts until the metadata was known: about 3 KB a record at -k 10, 3 GB for
    # a million images; now as their lines of JSON, on disk beyond _HELD_IN_MEMORY bytes)
    records = _records(50, "a\nb")
    rolled = []
    real_close = _decompose._Held.close

    def close(self):
        rolled.append(self._file._rolled)
        real_close(self)

    monkeypatch.setattr(_decompose._Held, "close", close)

    def written(limit):
        monkeypatch.setattr(_decompose, "_HELD_IN_MEMORY", limit)
        out = tmp_path / f"out{limit}.json"
        code = _decompose._write_records(
            str(out), "json", lambda n: {"held": n}, iter(records), 50, "images", [], 50
        )
        assert code == 0
        return out.read_text(encoding="utf-8")

    in_memory, on_disk = written(1 << 20), written(100)
    assert rolled == [False, True]
    assert in_memory == on_disk
    data = json.loads(on_disk)
    assert [r["path"] for r in data["images"]] == [f"{i}.png" for i in range(50)]
    assert data["images"][0]["concepts"][0]["concept"] == "a\nb"


@pytest.mark.parametrize(
    ("command", "length", "said"),
    [
        (
            "decompose",
            250,
            "its name is 250 bytes long, and qqqqqqqqqqqq....partial, which keeps the records "
            "of an interrupted run, would be 258, beyond the 255 a file name may have there; "
            "give a name of at most 247 bytes (-o)",
        ),
        (
            "decompose",
            256,
            "its name is 256 bytes long, beyond the 255 bytes a file name may have there; give "
            "a name of at most 247 bytes (-o)",
        ),
    ],
)
def test_an_output_name_too_long_for_its_partial_file_is_refused_naming_it(
    command, length, said, tmp_path, capsys
):
    # 248 to 255 bytes were refused with a bare "File name too long" naming FILE.partial
    image = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(image)
    name = "q" * (length - 4) + ".csv"
    assert _refused([command, str(image), "-o", str(tmp_path / name)], capsys) == [
        f"sksplice: error: cannot write output file {tmp_path / name}: {said}"
    ]


def test_help_as_a_command_prints_the_help_of_sksplice_or_of_a_command(capsys):
    # "sksplice help" was refused: "'help' is not a command"
    from sksplice.cli._parser import build_parser, parse_command_line

    parser = build_parser()
    for words, expected in (([], parser.format_help()), (["search"], None)):
        with pytest.raises(SystemExit) as exited:
            parse_command_line(["help", *words])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        if expected is not None:
            assert out == expected
        else:
            assert out.startswith("usage: sksplice search ") and "--concepts" in out
    for words, said in (
        (["serch"], "help serch: 'serch' is not a command (choose from "
         "decompose, profile, compare, search, report, cache, help) (close matches: search)"),
        (["bogus"], "help bogus: 'bogus' is not a command (choose from "),
        (["bogus", "x"], "help bogus: 'bogus' is not a command (choose from "),
        (["search", "x"], "help search x: give one command, sksplice help COMMAND (choose from "
         "decompose, profile, compare, search, report, cache, help); see sksplice --help"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            parse_command_line(["help", *words])
        assert exited.value.code == 2
        assert said in capsys.readouterr().err
    # "help help" was "give one command": the help of help (and so of help --help)
    for words in (["help"], ["--help"], ["-h"]):
        with pytest.raises(SystemExit) as exited:
            parse_command_line(["help", *words])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith("usage: sksplice help [-h] [COMMAND]")
    # the help asked for twice (help search --help) is given once
    for words in (["search", "--help"], ["-h", "search"]):
        with pytest.raises(SystemExit) as exited:
            parse_command_line(["help", *words])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith("usage: sksplice search ")
    # help is listed with the commands it gives the help of
    listed = parser.format_help()
    assert "    help       the help of a command: sksplice help COMMAND\n" in listed
    # --version after a command was "the following arguments are required"
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["decompose", "--version"])
    assert exited.value.code == 2
    assert "--version comes before the command: sksplice --version" in capsys.readouterr().err
