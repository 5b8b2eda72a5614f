"""What the command says and records: one-line command-line errors, a report without
concepts, significant digits, which run made which file, a kept image centre, and
standard output in an encoding that cannot write a name."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sksplice import cli
from sksplice._data import file_sha256
from sksplice._names import plural
from sksplice._version import __version__
from sksplice.cli import _decompose, _output

from ._helpers_cli import VOCAB, refused_before_torch
from ._helpers_cli import model_args as _args
from ._helpers_cli import run_main as _main

# ------------------------------------------------------ a report without any concept


@pytest.mark.parametrize("quiet", [False, True])
def test_a_report_whose_weights_are_all_zero_says_why(run_env, tmp_path, capsys, quiet):
    out = tmp_path / "r.html"
    extra = ["--l1-penalty", "1.99", *(["-q"] if quiet else [])]
    code, _, err = _main(["report", str(run_env), "-o", str(out), *_args(tmp_path, *extra)], capsys)
    assert code == 0, err
    assert out.is_file()
    assert (
        "sksplice: warning: no concept has a non-zero weight in any of the 6 images (a smaller "
        "--l1-penalty, or a larger --target-l0, keeps more concepts)"
    ) in err.splitlines()
    # the page says it where it is read first, with the same advice (a grey line of the
    # side panel said it, without advice, and the sections it lacks went unexplained)
    page = out.read_text(encoding="utf-8")
    summary = page[page.index('<section id="summary">') : page.index('<div class="row-panels">')]
    assert '<p class="panel notice" id="no-concept" role="note">No image has a concept' in summary
    assert "<code>--l1-penalty</code>" in summary and "<code>--target-l0</code>" in summary


# ------------------------------------------------- errors of the command line: one line


@pytest.mark.parametrize(
    ("argv", "command", "message"),
    [
        (["decompose", "a.png", "--top-k", "0"], "decompose", "must be a positive integer"),
        (["decompose", "a.png", "-f", "xml"], "decompose", "invalid choice: 'xml'"),
        (["decompose", "a.png", "--bogus"], "decompose", "unrecognized arguments: --bogus"),
        (["report", "photos/"], "report", "required: -o/--output"),
        (["decompose", "a.png", "-q", "--debug"], "decompose", "--debug: not allowed with"),
        (["profile"], "profile", "required: FOLDER"),
        (["search", "a.png", "--concepts", "a", "--text", "b"], "search", "not allowed with"),
        (["compare", "a/", "b/", "--alternative", "up"], "compare", "invalid choice: 'up'"),
        # (a word given to cache: it said only that it was not recognised)
        (["cache", "stale"], "cache", "unrecognized arguments: stale (did you mean --clear stale?"),
        (["cache", "clera"], "cache", "unrecognized arguments: clera (did you mean --clear? "),
    ],
)
def test_an_error_of_a_command_line_is_one_line(argv, command, message, capsys):
    code = cli.main(argv)
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err  # (argparse put its usage, ~10 lines, first)
    line = lines[0]
    assert line.startswith(f"sksplice: error: {command}: "), line
    assert message in line and line.endswith(f"; see sksplice {command} --help"), line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--bogus"],
            "sksplice: error: unrecognized arguments: --bogus (give a command: decompose, "
            "profile, compare, search, report, cache, help); see sksplice --help",
        ),
        (
            [],
            "sksplice: error: no command (give a command: decompose, profile, compare, "
            "search, report, cache, help); see sksplice --help",
        ),
        (
            ["-q", "decompose", "a.png"],
            "sksplice: error: unrecognized arguments: -q (an option of decompose comes after "
            "it: sksplice decompose ... -q); see sksplice --help",
        ),
    ],
)
def test_an_unknown_option_without_a_command_is_named(argv, expected, capsys):
    # "sksplice --bogus" said "the following arguments are required: COMMAND"
    code = cli.main(argv)
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [expected]


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["--help"], "usage: sksplice [-h]"),
        (["decompose", "--help"], "usage: sksplice decompose [-h]"),
        (["--version"], f"sksplice {__version__}"),
    ],
)
def test_help_and_version_are_answered_as_before(argv, start, capsys):
    # (cli.main returns the status, as documented: argparse's SystemExit stays inside)
    code = cli.main(argv)
    assert code == 0
    assert capsys.readouterr().out.startswith(start)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # prefixes of options ran as the options: a script would change meaning once another
        # option shares the prefix
        (["decompose", "x.png", "--l1", "0.1"], "--l1 0.1 (close matches: --l1-penalty)"),
        (["decompose", "x.png", "--image", "data"], "--image data (close matches: --image-mean"),
        (["decompose", "x.png", "--no-image"], "--no-image (close matches: --no-image-cache"),
        (
            ["--vers"],
            "--vers (give a command: decompose, profile, compare, search, report, "
            "cache, help) (close matches: --version)",
        ),
        # an option of another command says which
        (["decompose", "x.png", "--concepts", "dog"], "--concepts is an option of sksplice search"),
    ],
)
def test_options_are_taken_by_their_whole_names(argv, said, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and said in err, err


@pytest.mark.parametrize("columns", ["80", "100"])
def test_every_command_of_the_top_level_help_has_its_help_on_its_line(columns, monkeypatch, capsys):
    # Python 3.11's argparse measured the commands two columns short: "decompose" had its
    # help on a line of its own
    monkeypatch.setenv("COLUMNS", columns)
    assert cli.main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for command in ("decompose", "profile", "compare", "search", "report"):
        (line,) = [line for line in lines if line.split()[:1] == [command]]
        assert len(line.split()) > 1, line
    assert "    decompose  concept decomposition of images" in lines


# ---------------------------------------------------------------- significant digits


def test_the_table_shows_a_small_weight_in_significant_digits():
    record = {
        "path": "a.png",
        "concepts": [
            {"concept": "dog", "weight": 0.5},
            {"concept": "tent", "weight": 0.0003232},
            {"concept": "red", "weight": 1.1e-05},
        ],
        "l0": 3,
        "cosine": 0.5,
        "baseline_cosine": 0.25,
    }
    fh = io.StringIO()
    _output._Writer(fh, "table", {}).write(record)
    # not 0.0000; and the concepts in one column (0.0003232 pushed its concept one on)
    assert fh.getvalue().splitlines()[1:] == [
        "     0.5000  dog",
        "  0.0003232  tent",
        "  1.100e-05  red",
    ]


class _Splice:
    """What ``_iter_rows`` asks of a fitted transformer: one image, weights given."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = np.asarray([weights])

    def transform(self, X):
        return self.weights

    def cosine_similarity(self, X, baseline=False, weights=None):
        return np.full(len(X), 0.5)

    def l0(self, W, kind, per_sample):
        return (W > 0).sum(axis=1)

    def top_concepts(self, W, k, kind):
        names = ["dog", "red"]
        return [[(names[j], float(W[0, j])) for j in np.argsort(-W[0])[:k] if W[0, j] > 0]]


def test_records_keep_a_small_weight():
    # a weight of 4.2e-07 was rounded to 6 decimals: 0.0, beside an l0 that counts it
    dec = _decompose._Decomposition(
        paths=[Path("a.png")],
        X=np.ones((1, 2)),
        splice=_Splice([0.123456789, 4.2e-07]),
        skipped=[],
        plan=None,
        n_inputs=1,
    )
    (record,) = _decompose._iter_rows(dec, 10, True)
    assert record["l0"] == 2
    assert [c["weight"] for c in record["concepts"]] == [0.123457, 4.2e-07]


def _settings(page: str) -> dict[str, str]:
    """The settings panel of a report: {name: value}."""
    return dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", page))


def test_the_report_records_the_run(run_env, tmp_path, capsys):
    out = tmp_path / "r.html"
    code, _, err = _main(
        ["report", str(run_env), "-o", str(out), "-q"]
        + _args(tmp_path, "--l1-penalty", "0.00004", "--solver", "admm"),
        capsys,
    )
    assert code == 0, err
    settings = _settings(out.read_text(encoding="utf-8"))
    assert settings["l1 penalty"] == "4e-05"  # was 0.0
    assert settings["solver"] == "admm"
    assert settings["sksplice version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", settings["date"])
    assert settings["vocabulary sha256"] == file_sha256(tmp_path / "vocab.txt")
    assert "target l0" not in settings

    code, _, err = _main(
        ["report", str(run_env), "-o", str(out), "-q", *_args(tmp_path, "--target-l0", "2")],
        capsys,
    )
    assert code == 0, err
    settings = _settings(out.read_text(encoding="utf-8"))
    # (the method that ran, and that auto chose it)
    assert settings["target l0"] == "2" and settings["solver"] == "working_set (auto)"
    assert "labels" not in settings
    # classes from a labels file: the file is named, with its digest
    labels = tmp_path / "labels.csv"
    rows = [f"{c}/{i}.png,{'odd' if i % 2 else 'even'}" for c in ("cats", "dogs") for i in range(3)]
    labels.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = _main(
        ["report", str(run_env), "-o", str(out), "-q", "--labels", str(labels), *_args(tmp_path)],
        capsys,
    )
    assert code == 0, err
    settings = _settings(out.read_text(encoding="utf-8"))
    assert settings["labels"] == str(labels)
    assert settings["labels sha256"] == file_sha256(labels)


def test_a_report_of_images_named_with_labels_is_told_to_give_their_folder(
    run_env, tmp_path, capsys, no_embedding
):
    # "report cats/0.png profiles the classes of cats/0.png ... put them in a class folder"
    # called an image a folder, and --labels has no class folders
    images = [str(p) for p in sorted((run_env / "cats").glob("*.png"))]
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n0.png,a\n1.png,b\n", encoding="utf-8")
    for given in (images[:1], images[:2]):
        argv = ["report", *given, "--labels", str(labels), "-o", str(tmp_path / "r.html")]
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == (
            f"sksplice: error: not a folder: {images[0]} (a file); --labels {labels} labels the "
            f"images of a folder (sksplice report FOLDER --labels {labels}, its paths relative "
            "to FOLDER)"
        )


def test_a_vocabulary_file_without_a_concept_is_said_as_one_of_too_few(
    run_env, tmp_path, capsys, no_embedding
):
    # "--vocabulary v.txt: the vocabulary file 'v.txt' holds no concept (only blank
    # entries)", of a file of 0 bytes too, beside "vocabulary file v.txt holds 1 concept"
    for text, why in (("", "it is empty"), ("\n  \n", "only blank lines")):
        vocabulary = tmp_path / "v.txt"
        vocabulary.write_text(text, encoding="utf-8")
        argv = ["decompose", str(run_env), *_args(tmp_path), "--vocabulary", str(vocabulary)]
        code, out, err = _main(argv, capsys)
        assert code == 2 and out == ""
        assert err.strip() == (
            f"sksplice: error: vocabulary file {vocabulary} holds no concept ({why}); SpLiCE "
            "needs at least two (the dictionary is centred by their mean)"
        )


def test_a_report_of_two_folders_says_they_are_pooled(run_env, tmp_path, capsys):
    folders = [str(run_env / "cats"), str(run_env / "dogs")]
    page = tmp_path / "r.html"
    code, out, err = _main(["report", *folders, "-o", str(page), *_args(tmp_path)], capsys)
    assert code == 0 and page.is_file(), err
    assert (
        "sksplice: the images of the 2 folders are shown together, without classes (sksplice "
        f"compare {folders[0]} {folders[1]} --report OUT.html shows two folders as two "
        "collections; a folder of class sub-folders is profiled by class)"
    ) in err.splitlines(), err
    code, out, err = _main(["report", folders[0], "-o", str(page), *_args(tmp_path)], capsys)
    assert code == 0 and out == "" and "shown together" not in err, err


# ------------------------------------------------------------ which run made which file


def test_metadata_tells_two_files_at_one_path_apart(run_env, tmp_path, capsys):
    import open_clip
    import torch

    checkpoint, vocab = tmp_path / "model.pt", tmp_path / "vocab.txt"
    metadata = []
    for seed, concepts in ((0, VOCAB), (1, VOCAB[::-1])):
        torch.manual_seed(seed)
        torch.save(open_clip.create_model("sksplice-test-tiny").state_dict(), checkpoint)
        vocab.write_text("\n".join(concepts) + "\n", encoding="utf-8")
        code, out, err = _main(
            ["decompose", str(run_env), "-f", "json", "-q"]
            + _args(tmp_path, pretrained=str(checkpoint)),
            capsys,
        )
        assert code == 0, err
        data = json.loads(out)["metadata"]
        assert data["pretrained"] == str(checkpoint) and data["vocabulary"] == str(vocab)
        assert data["pretrained_sha256"] == file_sha256(checkpoint)
        assert data["vocabulary_sha256"] == file_sha256(vocab)
        metadata.append(data)
    assert metadata[0]["pretrained_sha256"] != metadata[1]["pretrained_sha256"]
    assert metadata[0]["vocabulary_sha256"] != metadata[1]["vocabulary_sha256"]


def test_random_weights_and_named_files_have_no_digest():
    from sksplice.cli._embedders import weights_sha256

    class Embedder:
        def __init__(self, key):
            self.key = key

        def cache_key(self):
            return self.key

    digest = "ab" * 32
    assert weights_sha256(Embedder(f"open_clip/m/file-sha256-{digest}")) == digest
    assert weights_sha256(Embedder(f"open_clip/m/file-sha256-{digest}/bf16")) == digest
    assert weights_sha256(Embedder("open_clip/ViT-B-32/laion2b_s34b_b79k")) is None
    assert weights_sha256(Embedder(None)) is None
    assert weights_sha256(object()) is None


@pytest.mark.parametrize(
    ("command", "fmt", "said"),
    [
        ("decompose", "csv", "6 images"),
        ("profile", "json", "ranking rows, 2 classes"),
        ("search", "jsonl", "results"),
        ("compare", "csv", "concepts"),
        # (a table file: the significant concepts it lists, as its lines do; it said its
        # size alone)
        ("profile", "txt", "significant concept"),
        ("compare", "txt", "significant concept"),
    ],
)
def test_a_file_written_is_said(run_env, tmp_path, capsys, command, fmt, said):
    out = tmp_path / f"out.{fmt}"
    inputs = {
        "decompose": [str(run_env)],
        "profile": [str(run_env)],
        "search": [str(run_env), "--concepts", "dog,cat"],
        "compare": [str(run_env / "cats"), str(run_env / "dogs")],
    }[command]
    args = [command, *inputs, "-o", str(out), *_args(tmp_path, "--l1-penalty", "0.05")]
    code, stdout, err = _main(args, capsys)
    assert code == 0, err
    assert stdout == ""
    (line,) = [ln for ln in err.splitlines() if "wrote" in ln]
    size = out.stat().st_size
    shown = f"{size / 1e3:.0f} kB" if size >= 1e3 else f"{size} bytes"
    assert line.startswith(f"sksplice: wrote {out} (") and line.endswith(f", {shown})"), line
    assert said in line, line
    if fmt == "txt":
        listed = out.read_text(encoding="utf-8").count("p_adj=")
        assert re.search(rf"\(({listed}|{listed} of \d+) significant concepts?, ", line), line
    code, _, err = _main([*args, "-q"], capsys)  # silent with -q
    assert code == 0 and "wrote" not in err, err


# ------------------------------------------------------------- the image centre kept


def test_a_learned_centre_is_kept_for_a_later_run(run_env, tmp_path, capsys):
    mean, first = tmp_path / "mean.npy", tmp_path / "all.csv"
    code, _, err = _main(
        ["decompose", str(run_env), "-o", str(first), "--save-image-mean", str(mean)]
        + _args(tmp_path),
        capsys,
    )
    assert code == 0, err
    assert (
        f"sksplice: wrote {mean} (the image mean, learned from 6 images, fewer than 100: "
        "unstable): a later run given "
        f"--image-mean {mean} centres its images as this one did"
    ) in err.splitlines()
    # the warning about a small learned centre says how to keep one
    assert "--save-image-mean" in next(ln for ln in err.splitlines() if "only 6 images" in ln)
    assert np.load(mean).shape == (32,)
    # a later run of some of the images, given the centre, decomposes them as the first did
    code, out, err = _main(
        ["decompose", str(run_env / "dogs"), "-f", "csv", "-q", "--image-mean", str(mean)]
        + _args(tmp_path),
        capsys,
    )
    assert code == 0, err
    rows = first.read_text().splitlines()
    assert out.splitlines()[0] == rows[0]
    # The same concepts in the same order; the weights agree to float32 rounding (a solve
    # of other rows in its batch may round the last bits differently on some CPUs).
    import io

    import pandas as pd

    got = pd.read_csv(io.StringIO(out))
    want = pd.read_csv(io.StringIO("\n".join([rows[0]] + [r for r in rows[1:] if "/dogs/" in r])))
    exact = [c for c in want.columns if c not in ("weight", "cosine")]
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got[exact], want[exact])
    for column in ("weight", "cosine"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("where", ["-", "input", "output"])
def test_a_centre_file_is_checked_as_an_output_before_any_work(run_env, tmp_path, capsys, where):
    target = {
        "-": "-",
        "input": str(run_env / "cats" / "0.png"),
        "output": str(tmp_path / "out.csv"),
    }[where]
    args = ["decompose", str(run_env), "-o", str(tmp_path / "out.csv")]
    code, _, err = _main([*args, "--save-image-mean", target, *_args(tmp_path)], capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("sksplice: error: ") and "--save-image-mean" in line, line
    assert "CLIP images" not in err and "decomposing" not in err


# ---------------------------------------------------- standard output in latin-1


def test_standard_output_that_cannot_encode_a_name_says_what_to_do(
    run_env, tmp_path, capsys, monkeypatch, caplog
):
    (run_env / "dogs" / "2.png").rename(run_env / "dogs" / "собака.png")
    code, out, err = _main(["decompose", str(run_env), "-f", "csv", "-q", *_args(tmp_path)], capsys)
    assert code == 0 and "собака.png" in out, err
    with monkeypatch.context() as patched:
        stdout = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
        patched.setattr(sys, "stdout", stdout)
        # refused before any image is embedded (it failed once the results were written)
        from sksplice.cli import _embedders

        def not_reached(*args, **kwargs):
            raise AssertionError("the names are checked before the images are embedded")

        patched.setattr(_embedders, "image_embedder", not_reached)
        code, _, err = _main(
            ["decompose", str(run_env), "-f", "csv", "-q", *_args(tmp_path)], capsys
        )
        assert code == 2
        last = err.strip().splitlines()[-1]
        assert last.startswith(
            "sksplice: error: cannot write standard output: its encoding, latin-1, has no "
            "character for 'собака' (in the file name '"
        ), last
        assert last.endswith(
            "set PYTHONIOENCODING=utf-8 (or a UTF-8 locale), or give -o FILE, which is "
            "written in UTF-8"
        ), last
        # a class name, for profile
        (run_env / "dogs").rename(run_env / "собаки")
        code, _, err = _main(["profile", str(run_env), "-f", "csv", "-q", *_args(tmp_path)], capsys)
        assert code == 2
        assert "has no character for 'собаки' (in the class 'собаки')" in err, err
    # an encoding with a handler that writes every name (replace, backslashreplace) is
    # no reason to refuse the run
    with monkeypatch.context() as patched:
        stdout = io.TextIOWrapper(io.BytesIO(), encoding="latin-1", errors="backslashreplace")
        patched.setattr(sys, "stdout", stdout)
        code, _, err = _main(
            ["decompose", str(run_env), "-f", "csv", "-q", *_args(tmp_path)], capsys
        )
        assert code == 0, err
        stdout.flush()
        assert "\\u0441\\u043e" in stdout.buffer.getvalue().decode("latin-1")
    # a concept it cannot write is warned about: the results may never hold it
    with monkeypatch.context() as patched, caplog.at_level(logging.WARNING):
        patched.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="latin-1"))
        _output.check_standard_output_encodes(None, {"file name": ["a.png"]}, {"concept": ["空"]})
    assert "has no character for '空' (in the concept '空'): the run stops if" in caplog.text
    # as it says: -o FILE is written in UTF-8
    out_file = tmp_path / "out.csv"
    args = ["decompose", str(run_env), "-o", str(out_file), "-q", *_args(tmp_path)]
    code, _, err = _main(args, capsys)
    assert code == 0, err
    assert "собака.png" in out_file.read_text(encoding="utf-8")


# ------------------------------------- a query's concepts checked before torch is loaded

_RDE = "sksplice: error: concepts in --concepts not in the vocabulary: 'rde'"


def test_a_query_concept_of_a_vocabulary_file_is_checked_before_torch(run_env, tmp_path):
    # In a fresh process: neither torch nor open_clip is imported when the query is
    # refused.
    err = refused_before_torch(["search", str(run_env), "--concepts", "rde,dog", *_args(tmp_path)])
    assert err.splitlines() == [f"{_RDE} (did you mean 'red'?)"]


def test_a_query_concept_of_a_named_vocabulary_at_hand_is_checked_before_the_model(
    run_env, tmp_path, capsys, monkeypatch, splice_data_dir
):
    from sksplice.cli import _checks

    def not_reached(*args, **kwargs):
        raise AssertionError("the device and the model are checked before the query")

    monkeypatch.setattr(_checks, "_check_device", not_reached)
    monkeypatch.setattr(_checks._embedders, "check_model", not_reached)
    args = [*_args(tmp_path), "--vocabulary", "laion", "--data-home", str(splice_data_dir)]
    code, out, err = _main(["search", str(run_env), "--concepts", "rde,dog", *args], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"{_RDE} (did you mean 'red', 'ride', 'rode'?)"]


def test_a_query_concept_beyond_the_vocabulary_size_is_told_the_size_that_keeps_it(
    run_env, tmp_path, capsys
):
    # 'chased' of laion beyond its 10,000 most frequent was "not in the vocabulary (did
    # you mean 'chase', ...)"; here 'grass' is the 10th of the 11 concepts of the file
    argv = ["search", str(run_env), "--concepts", "grass,dog", *_args(tmp_path)]
    code, out, err = _main([*argv, "--vocabulary-size", "8"], capsys)
    assert code == 2 and out == ""
    beyond = (
        "concepts in --concepts beyond the 8 that --vocabulary-size keeps of the 11 of the "
        "vocabulary ('grass' is concept 10, in the order it keeps them): --vocabulary-size 10 "
        "or more keeps it"
    )
    assert err.splitlines() == [f"sksplice: error: {beyond}"]
    # (a name of no concept as well: told first, with its close matches)
    code, _, err = _main([*argv, "--vocabulary-size", "8", "--concepts", "grass,rde"], capsys)
    assert code == 2
    assert err.splitlines() == [f"{_RDE} (did you mean 'red'?); {beyond}"]
    # a phrase of the vocabulary beyond the size is not told to be split at a comma
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("cat\ndog\nred\nblue\nred dog\n", encoding="utf-8")
    argv = ["search", str(run_env), "--concepts", "red dog", *_args(tmp_path)]
    code, _, err = _main([*argv, "--vocabulary", str(phrases), "--vocabulary-size", "4"], capsys)
    assert code == 2 and "'red dog' is concept 5" in err and "separated by commas" not in err


def test_a_query_concept_of_a_named_vocabulary_to_download_is_checked_after_the_model(
    run_env, tmp_path, capsys, monkeypatch
):
    # (the data home is empty: the vocabulary would be downloaded, which waits for
    # the model to be checked)
    from sksplice.cli import _checks

    calls = []
    monkeypatch.setattr(_checks, "_check_device", lambda device: calls.append(device))
    monkeypatch.setattr(
        _checks._embedders, "check_model", lambda args: calls.append("model") or ("m", None, 8)
    )
    monkeypatch.setattr(
        _checks._embedders, "check_weights", lambda model, pretrained: calls.append("weights")
    )
    monkeypatch.setattr(_checks, "_check_vocabulary", lambda args: (["red", "dog"],) * 2)
    argv = ["search", str(run_env), "--concepts", "rde,dog", *_args(tmp_path)]
    code, _, err = _main([*argv, "--vocabulary", "laion"], capsys)
    assert code == 2 and calls == ["cpu", "model", "weights"]
    assert err.splitlines() == [f"{_RDE} (did you mean 'red'?)"]


def test_an_image_mean_file_of_another_width_is_refused_before_the_model(run_env, tmp_path):
    # (refused once open_clip had loaded the model, seconds later; the model's config
    # file gives its width). In a fresh process: neither torch nor open_clip imported.
    mean = tmp_path / "mean64.npy"
    np.save(mean, np.full(64, 0.05))
    err = refused_before_torch(
        ["decompose", str(run_env), "--image-mean", str(mean), *_args(tmp_path)]
    )
    assert err.splitlines() == [
        f"sksplice: error: --image-mean file {str(mean)!r} has shape (64,) but the concept "
        "dictionary has d=32 dimensions (model sksplice-test-tiny)"
    ]


def test_an_image_mean_archive_is_refused_before_the_model_without_naming_it(run_env, tmp_path):
    # A .npz archive (numpy.savez) was read as a torch file once the model had loaded:
    # "RuntimeError: [enforce fail at inline_container.cc:180] ... (model sksplice-test-tiny)"
    archive = tmp_path / "means.npz"
    np.savez(archive, mean=np.full(32, 0.05))
    err = refused_before_torch(
        ["decompose", str(run_env), "--image-mean", str(archive), *_args(tmp_path)]
    )
    assert err.splitlines() == [
        f"sksplice: error: cannot read --image-mean file {str(archive)!r} (expected a .npy "
        "array or a torch file holding one tensor): it is a .npz archive (numpy.savez) of the "
        "arrays 'mean', not one array; save the mean alone with numpy.save('mean.npy', mean)"
    ]


def test_a_pretrained_file_that_is_no_checkpoint_is_refused_before_torch(run_env, tmp_path):
    # (refused once torch and open_clip were imported: 11 to 13 s, where a misspelt tag
    # takes under a second)
    args = _args(tmp_path)
    args[args.index("--pretrained") + 1] = str(tmp_path / "vocab.txt")
    err = refused_before_torch(["decompose", str(run_env), *args])
    assert err.splitlines() == [
        f"sksplice: error: --pretrained {tmp_path / 'vocab.txt'} is not a model checkpoint "
        "open_clip can load: it is not in torch.save's format"
    ]


def test_a_wrong_model_configs_variable_is_refused_before_torch(run_env, tmp_path, monkeypatch):
    # (refused once open_clip was imported: 5.5 s)
    (tmp_path / "bad.json").write_text("{bad json")
    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(tmp_path / "bad.json"))
    err = refused_before_torch(["decompose", str(run_env), *_args(tmp_path)])
    assert err.startswith(
        f"sksplice: error: SKSPLICE_MODEL_CONFIGS: {str(tmp_path / 'bad.json')!r} is not a "
        "readable JSON model config: "
    ), err


def test_the_torch_magic_number_is_torch_s():
    import torch

    from sksplice._model_names import TORCH_MAGIC_NUMBER

    assert TORCH_MAGIC_NUMBER == torch.serialization.MAGIC_NUMBER


# ---------------------------------------- p-values and a text query's weights: 6 digits


def _ranked(p_values: list[float]):
    import pandas as pd

    n = len(p_values)
    return pd.DataFrame(
        {
            "class": ["a"] * n,
            "concept": [f"c{i}" for i in range(n)],
            "count_positive": [3] * n,
            "count_negative": [0] * n,
            "prevalence_positive": [1.0] * n,
            "prevalence_negative": [0.0] * n,
            "prevalence_diff": [1.0] * n,
            "test": ["fisher"] * n,
            "p_adjusted": p_values,
            "significant": [p < 0.05 for p in p_values],
        }
    )


_P_VALUES = [5.412544112234514e-05, 0.6666666666666671, 1.0, 0.0, 3.1e-300]
_P_SHOWN = [5.41254e-05, 0.666667, 1.0, 0.0, 3.1e-300]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
@pytest.mark.parametrize("command", ["profile", "compare"])
def test_p_values_are_written_to_6_significant_digits(fmt, command):
    from sksplice.cli import _compare, _profile

    table = _ranked(_P_VALUES)
    fh = io.StringIO()
    if command == "profile":
        _profile._write_profile(fh, table, fmt, {"classes": {"a": 3}}, 0.05)
        key = "ranking"
    else:
        table = table.drop(columns="class")
        _compare._write_comparison(fh, table, fmt, {})
        key = "comparison"
    text = fh.getvalue()
    if fmt == "csv":
        column = [line.split(",")[-2] for line in text.splitlines()[1:]]
        assert column == ["5.41254e-05", "0.666667", "1.0", "0.0", "3.1e-300"]
    else:
        lines = text.splitlines()
        records = json.loads(text)[key] if fmt == "json" else [json.loads(x) for x in lines]
        assert [r["p_adjusted"] for r in records] == _P_SHOWN
    assert table["p_adjusted"].tolist() == _P_VALUES  # (the caller's table is left as it was)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_significant_digits_of_many_values_are_those_of_their_text(dtype, monkeypatch):
    """Each value is the float of its text to 6 (or 1 to 9) significant digits, as one
    ``float(f"{v:.6g}")`` a value gives (halves, powers of ten, values beyond 1e22,
    zeros, NaN, infinities), but only the few whose digits a float quotient cannot
    tell are formatted one at a time (all of them were: 0.4 s for 500,000 values)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    halves = [float(f"{m}5e{e}") for m, e in zip(rng.integers(10**5, 10**6, 300), range(-30, 30))]
    powers = 10.0 ** np.arange(-30, 31)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 0.04999997]
    x = np.r_[
        rng.random(2000),
        10.0 ** rng.uniform(-320, 308, 2000),
        -(10.0 ** rng.uniform(-25, 25, 2000)),
        rng.integers(0, 50, 2000) / rng.integers(1, 50, 2000),
        halves,
        powers,
        np.nextafter(powers, 0),
        np.nextafter(powers, np.inf),
        special,
    ]
    with np.errstate(over="ignore"):
        values = pd.Series(x.astype(dtype), index=np.arange(x.size) * 2, name="p")
    for digits in (1, 3, 6, 9):
        expected = [float(f"{v:.{digits}g}") for v in values.tolist()]
        got = _output.significant_values(values, digits)
        assert got.dtype == dtype and got.name == "p" and got.index.equals(values.index)
        np.testing.assert_array_equal(got.to_numpy(), np.array(expected, dtype=dtype))
        assert (np.signbit(got.to_numpy()) == np.signbit(np.array(expected))).all()
    formatted = []
    text = _output.significant

    def counted(value, digits=4):
        formatted.append(value)
        return text(value, digits)

    monkeypatch.setattr(_output, "significant", counted)
    _output.significant_values(pd.Series(rng.random(10_000)))
    assert len(formatted) < 10


def test_the_share_of_a_concept_in_one_image_of_millions_is_not_written_as_zero():
    # Rounded to 6 decimals, 1 image in 3,000,000 was written as a share of 0.0.
    import scipy.sparse as sp

    from sksplice.analysis import rank_each_class
    from sksplice.cli._compare import written_comparison
    from sksplice.cli._profile import written_ranking
    from sksplice.shift import compare_datasets

    n = 3_000_000
    W = sp.csr_matrix((np.ones(2), ([0, n], [0, 1])), shape=(n + 10, 2))
    names = ["rare", "other"]
    y = np.array(["a"] * n + ["b"] * 10)
    table = written_ranking(rank_each_class(W, y, names))
    rare = table[(table["concept"] == "rare") & (table["class"] == "a")].iloc[0]
    assert rare["prevalence_positive"] == pytest.approx(1 / n, rel=1e-5)
    assert rare["prevalence_diff"] == pytest.approx(1 / n, rel=1e-5)
    comparison = compare_datasets(W[:n], W[n:], concepts=names, min_count=1)
    table = written_comparison(comparison).set_index("concept")
    assert table.loc["rare", "prevalence_a"] == pytest.approx(1 / n, rel=1e-5)
    assert table.loc["rare", "prevalence_diff"] == pytest.approx(-1 / n, rel=1e-5)  # (B - A)
    assert list(table.columns) == list(cli._compare.WRITTEN_COLUMNS)
    # (each row says how many images its counts are of)
    assert table["n_a"].tolist() == [n, n] and table["n_b"].tolist() == [10, 10]
    # equal mean weights (0.1 in 3 images and in 7) differ by a rounding error, not written
    same = sp.csr_matrix(np.full((10, 1), 0.1))
    comparison = compare_datasets(same[:3], same[3:], concepts=["x"], min_count=1)
    assert comparison["mean_weight_diff"].tolist() == [0.0]  # (the table, and its file)
    assert written_comparison(comparison)["mean_weight_diff"].tolist() == [0.0]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
@pytest.mark.parametrize("command", ["profile", "compare"])
def test_a_significant_p_value_is_never_written_as_the_level(fmt, command):
    # 0.04999997 to 6 digits is 0.05: written beside "significant": true, it read as
    # p_adjusted == alpha, which is not significant
    from sksplice.cli import _compare, _profile

    table = _ranked([0.04999997, 0.0500000004, 0.0123456789])
    assert table["significant"].tolist() == [True, False, True]
    fh = io.StringIO()
    metadata = {"alpha": 0.05, "classes": {"a": 3}}
    if command == "profile":
        _profile._write_profile(fh, table, fmt, metadata, 0.05)
        key = "ranking"
    else:
        _compare._write_comparison(fh, table.drop(columns="class"), fmt, metadata)
        key = "comparison"
    text = fh.getvalue()
    if fmt == "csv":
        lines = text.splitlines()[1:]
        written = [float(line.split(",")[-2]) for line in lines]
    else:
        lines = text.splitlines()
        records = json.loads(text)[key] if fmt == "json" else [json.loads(x) for x in lines]
        written = [r["p_adjusted"] for r in records]
    assert written == [0.04999997, 0.05, 0.0123457]


def test_counts_of_one_are_singular_in_the_compare_table():
    # "A: rare (1 images)", "1 concepts tested"
    from sksplice.cli import _compare

    table = _ranked([0.5]).drop(columns="class")
    metadata = {
        "a": {"folder": "rare", "images": 1},
        "b": {"folder": "common", "images": 2},
        "concepts_tested": 1,
        "alternative": "two-sided",
        "alpha": 0.05,
    }
    fh = io.StringIO()
    _compare._write_comparison(fh, table, "table", metadata)
    lines = fh.getvalue().splitlines()
    assert lines[0] == "A: rare (1 image)  B: common (2 images)"
    assert lines[1].startswith("concepts whose prevalence differs (adjusted p < 0.05, 1 concept ")


@pytest.mark.parametrize(
    ("correction", "named"),
    [("fdr_bh", "Benjamini-Hochberg"), ("holm", "Holm"), ("bonferroni", "Bonferroni")],
)
def test_the_comparison_table_names_its_correction(correction, named):
    # (as the profile table does: "adjusted" alone did not say which correction)
    from sksplice.cli import _compare

    metadata = {
        "a": {"folder": "rare", "images": 1},
        "b": {"folder": "common", "images": 2},
        "concepts_tested": 1,
        "alternative": "greater",
        "alpha": 0.05,
        "correction": correction,
    }
    fh = io.StringIO()
    _compare._write_comparison(fh, _ranked([0.5]).drop(columns="class"), "table", metadata)
    assert fh.getvalue().splitlines()[1] == (
        "concepts whose prevalence is higher in B (adjusted p < 0.05, 1 concept tested; "
        f"Fisher's exact test, one-sided, {named}-adjusted over the concepts tested)"
    )


def test_the_table_format_rounds_the_exact_p_value_once():
    # (0.0124999996 to 6 digits is 0.0125, which 2 digits would make 0.013, not 0.012)
    fh = io.StringIO()
    _profile_table = _ranked([0.0124999996])
    from sksplice.cli import _profile

    _profile._write_profile(fh, _profile_table, "table", {"classes": {"a": 3}}, 0.05)
    assert "p_adj=0.012  c0" in fh.getvalue()


def test_a_significant_p_value_reads_below_the_level_of_the_heading():
    # 0.0496 was "p_adj=0.05" on a row under "adjusted p < 0.05"
    from sksplice.cli._output import format_p_value

    assert format_p_value(0.0496, below=0.05) == "0.0496"
    assert format_p_value(0.0499999, below=0.05) == "0.0499999"
    assert format_p_value(0.012, below=0.05) == "0.012"
    assert format_p_value(0.0496) == "0.050" and format_p_value(0.0, below=0.05) == "<1e-300"
    # two significant digits, a zero among them kept
    assert format_p_value(3e-25) == "3.0e-25" and format_p_value(0.1) == "0.10"
    fh = io.StringIO()
    from sksplice.cli import _profile

    _profile._write_profile(fh, _ranked([0.0496]), "table", {"classes": {"a": 3}}, 0.05)
    assert "p_adj=0.0496  c0" in fh.getvalue()


def test_the_metadata_writes_its_p_values_to_six_digits_as_the_records_do():
    # smallest_p_value and class_p_adjusted were written whole (4.390987777610989e-87)
    from sksplice.cli._output import p_value_written

    assert p_value_written(4.390987777610989e-87, 0.05) == 4.39099e-87
    assert p_value_written(0.10000000000000006, 0.05) == 0.1
    # below the level, never rounded up to it (a class that can differ reads so)
    assert p_value_written(0.04999999, 0.05) == 0.04999999
    assert p_value_written(0.0, 0.05) == 0.0


def test_the_profile_table_keeps_its_concepts_in_one_column():
    # p-values of other widths pushed the concept names apart ("p_adj=1e-15  blond",
    # "p_adj=2.1e-13  transfers")
    fh = io.StringIO()
    from sksplice.cli import _profile

    _profile._write_profile(
        fh, _ranked([1e-15, 2.1e-13, 0.0]), "table", {"classes": {"a": 3}}, 0.05
    )
    rows = [line for line in fh.getvalue().splitlines() if "p_adj=" in line]
    assert [row.index(f"c{i}") for i, row in enumerate(rows)] == [rows[0].index("c0")] * 3
    assert rows[1].endswith("p_adj=2.1e-13  c1") and rows[0].endswith("p_adj=1.0e-15  c0")
    assert rows[2].endswith("p_adj=<1e-300  c2")


def test_the_profile_table_lists_significant_concepts_that_rank_below_the_top_k(caplog):
    # 10 images of "x" against 1,000 of "y": ten concepts in 10 of 10 and 750 of 1,000
    # (not significant) rank above "rare", 2 of 10 against 0 of 1,000 (significant); -k 10
    # printed "none: the top 10 are not significant"
    import logging

    from sksplice.analysis import rank_each_class
    from sksplice.cli import _profile

    n_x, n_y = 10, 1000
    W = np.zeros((n_x + n_y, 11))
    W[:n_x, :10] = 1.0
    W[n_x : n_x + 750, :10] = 1.0
    W[:2, 10] = 1.0
    y = np.array(["x"] * n_x + ["y"] * n_y)
    ranking = rank_each_class(W, y, [f"common{j}" for j in range(10)] + ["rare"])
    metadata = {"classes": {"x": n_x, "y": n_y}, "tests": ranking.attrs["n_tests"]}
    fh = io.StringIO()
    _profile._write_profile(fh, _profile.written_ranking(ranking), "table", metadata, 0.05, 10)
    x = fh.getvalue().split("class x")[1].split("class y")[0].splitlines()
    assert x[1].endswith("  rare") and len(x) == 2
    # the shares with their counts: 2 of 10 images of x, 0 of the 1,000 others
    assert x[1].startswith("   20.0%  (2/10) vs   0.0%    (0/1000)  p_adj="), x[1]
    y_block = fh.getvalue().split("class y")[1].splitlines()
    assert y_block[1:] == ["  none (11 concepts tested; -f csv lists the top 10 by difference)"]
    # more significant than -k lists: counted, with the -k that lists them
    fh = io.StringIO()
    W[:n_x, 10] = 0.0
    W[:2, :10] = 0.0  # "common" in 8 of 10: not significant
    W[:2, 10] = 1.0
    many = rank_each_class(
        np.hstack([W, np.repeat(W[:, 10:], 4, axis=1)]), y, [f"c{j}" for j in range(15)]
    )
    table = _profile.written_ranking(many)
    _profile._write_profile(fh, table, "table", metadata, 0.05, 2)
    x = fh.getvalue().split("class x")[1].split("class y")[0].splitlines()
    assert x[-1] == "  (3 more significant concepts: -k 5 lists them all)" and len(x) == 4
    # the records are the top -k rows of each class; what the cut leaves out is said
    with caplog.at_level(logging.INFO, logger="sksplice.cli._profile"):
        top = _profile._top_per_class(ranking, 10)
    assert len(top) == 20 and "rare" not in set(top["concept"][top["class"] == "x"])
    assert top.attrs["significant_not_listed"] == 1
    assert (
        "-k 10 leaves out 1 significant concept (class x: 1) whose differences rank below "
        "their class's top 10; -k 11 keeps it" in caplog.text  # (one: not "them")
    )


def test_the_compare_table_counts_the_significant_concepts_beyond_the_top_k():
    # 30 significant concepts and -k 20: the table listed 20 and said nothing of the others
    from sksplice.cli import _compare

    table = _ranked([0.001] * 20).drop(columns="class")
    table = table.rename(
        columns={
            "count_positive": "count_a",
            "count_negative": "count_b",
            "prevalence_positive": "prevalence_a",
            "prevalence_negative": "prevalence_b",
        }
    )
    metadata = {
        "a": {"folder": "old", "images": 40},
        "b": {"folder": "new", "images": 40},
        "concepts_tested": 200,
        "concepts_significant": 30,
        "alternative": "two-sided",
        "alpha": 0.05,
    }
    fh = io.StringIO()
    _compare._write_comparison(fh, table, "table", metadata)
    lines = fh.getvalue().splitlines()
    assert len(lines) == 2 + 20 + 1
    assert lines[-1] == "  (10 more significant concepts: -k 30 lists them all)"
    # each share with its count of the collection's images (a share alone read the
    # same for 3 images as for 300)
    assert lines[2] == "  A 100.0%  (3/40) -> B   0.0%  (0/40)  p_adj=0.0010  c0"
    fh = io.StringIO()
    _compare._write_comparison(
        fh, table.assign(significant=False), "table", {**metadata, "concepts_significant": 0}
    )
    assert fh.getvalue().splitlines()[-1] == (
        "  none (200 concepts tested; -f csv lists the top 20 by p-value)"
    )


def test_a_text_query_is_recorded_with_weights_to_6_significant_digits(run_env, tmp_path, capsys):
    args = ["search", str(run_env), "--text", "a red dog", "-f", "json", "-q", *_args(tmp_path)]
    code, out, err = _main(args, capsys)
    assert code == 0, err
    weights = json.loads(out)["metadata"]["query"]["concepts"]
    assert weights
    # (they were written in full: 0.3265644311904907)
    assert all(weight == float(f"{weight:.6g}") and weight > 0 for weight in weights.values())


def test_a_missing_output_folder_is_named_as_the_command_line_named_it(tmp_path, monkeypatch):
    # "folder /abs/path/out/nodir does not exist (-o)" for -o out/nodir/d.csv
    from sksplice.cli._checks import _check_output
    from sksplice.cli._logging import CLIError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(CLIError) as refused:
        _check_output("out/nodir/d.csv")
    assert str(refused.value) == (
        "cannot write output file out/nodir/d.csv: folder out/nodir does not exist; create it "
        "first (-o)"
    )


# ------------------------------------- significant concepts beyond -k, end to end


@pytest.fixture
def tinted_classes(run_env, tmp_path) -> Path:
    """Three class folders of tinted noise (12 red, 20 blue, 16 green images), whose
    classes the tiny model's concepts separate, and an 80-word vocabulary."""
    vocabulary = [f"{a}{b}" for a in ("red", "blue", "sun", "sea") for b in range(20)]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    root = tmp_path / "tinted"
    rng = np.random.default_rng(1)
    for cls, n, tint in (
        ("red", 12, (130, 0, 0)),
        ("blue", 20, (0, 0, 130)),
        ("green", 16, (0, 130, 0)),
    ):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = (rng.random((32, 32, 3)) * 120 + np.array(tint)).clip(0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_profile_compare_and_report_say_what_k_leaves_out_end_to_end(
    tinted_classes, tmp_path, capsys
):
    """Each command's -k, through the command line: the profile table lists each class's
    significant concepts and counts those beyond -k, its records say what -k cut (standard
    error) and count them all (JSON metadata), compare likewise, and the report's page."""
    import pandas as pd

    model = _args(tmp_path, "--l1-penalty", "0.2")
    base = ["profile", str(tinted_classes), *model]
    code, out, err = _main([*base, "-k", "1000", "-f", "csv", "-q"], capsys)
    assert code == 0, err
    every = pd.read_csv(io.StringIO(out))
    counts = every.groupby("class")["significant"].sum().to_dict()
    assert max(counts.values()) >= 3, counts  # (the data must leave some beyond -k 1)
    # the table: at most one row per class, and the count of the others
    code, out, err = _main([*base, "-k", "1", "-q"], capsys)
    assert code == 0, err
    for cls, n in counts.items():
        block = out.split(f"class {cls} (")[1].split("\nclass ")[0].splitlines()[1:]
        if n == 0:
            assert block[0].startswith("  none (")
        else:
            assert block[0].startswith("  ") and "p_adj=" in block[0]
            first = every[(every["class"] == cls) & every["significant"]].iloc[0]["concept"]
            assert block[0].endswith(f"  {first}")
        if n > 1:
            more, them = ("concept", "it too") if n == 2 else ("concepts", "them all")
            assert block[1] == f"  ({n - 1} more significant {more}: -k {n} lists {them})"
    # the records: the top row of each class; standard error and the metadata count the rest
    code, out, err = _main([*base, "-k", "1", "-f", "json"], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert len(document["ranking"]) == 3
    assert document["metadata"]["significant_concepts"] == {c: int(n) for c, n in counts.items()}
    beyond = sum(counts.values()) - sum(1 for n in counts.values() if n)
    assert "-k 1 leaves out" in err and ("keeps it" if beyond == 1 else "keeps them") in err
    # a warning, which -q keeps: the records say it nowhere else
    code, out, err = _main([*base, "-k", "1", "-f", "csv", "-q"], capsys)
    assert code == 0 and "sksplice: warning: -k 1 leaves out" in err, err
    # the report: the cut and the significant rows it left out, above the table (and not
    # as a warning: the page says it)
    page = tmp_path / "r.html"
    code, _, err = _main(
        ["report", str(tinted_classes), "-o", str(page), "-k", "1", "-q", *model], capsys
    )
    assert code == 0, err
    assert "leaves out" not in err
    left = sum(max(n - 1, 0) for n in counts.values())
    rows = (
        "1 significant row below them is"
        if left == 1
        else f"{left} significant rows below them are"
    )
    assert (
        f"Listed: the first row of each class by difference; {rows} left out." in page.read_text()
    )
    # compare: the table's count, the records' standard error and metadata, the report's sizes
    a, b = tinted_classes / "red", tinted_classes / "blue"
    code, out, err = _main(
        ["compare", str(a), str(b), "-k", "1000", "-f", "json", "-q", *model], capsys
    )
    assert code == 0, err
    n_significant = sum(r["significant"] for r in json.loads(out)["comparison"])
    assert n_significant >= 3
    code, out, err = _main(
        ["compare", str(a), str(b), "-k", "1", "-f", "json", "-q", *model], capsys
    )
    assert json.loads(out)["metadata"]["concepts_significant"] == n_significant
    assert (
        f"sksplice: warning: -k 1 leaves out {plural(n_significant - 1, 'significant concept')}"
        f"; -k {n_significant} keeps {'it' if n_significant == 2 else 'them'}" in err
    )
    page = tmp_path / "c.html"
    code, out, err = _main(
        ["compare", str(a), str(b), "-k", "1", "-q", "--report", str(page), *model], capsys
    )
    assert out.splitlines()[-1] == (
        f"  ({n_significant - 1} more significant concepts: -k {n_significant} lists them all)"
    )
    data = json.loads(
        re.search(
            r'<script id="sksplice-data" type="application/json">(.*?)</script>',
            page.read_text(),
            re.S,
        ).group(1)
    )
    assert [name.split(" (n=")[1] for name in data["groupNames"]] == ["12)", "20)"]


# ------------------------------------------- offline: everything to fetch, said at once


@pytest.mark.parametrize(
    ("extra", "listed"),
    [
        ([], ["vocab/laion.txt", "means/open_clip_ViT-B-32_image.pt"]),
        (["--image-mean", "data"], ["vocab/laion.txt"]),
        (["--vocabulary", "{vocab}"], ["means/open_clip_ViT-B-32_image.pt"]),
        (["--vocabulary", "{vocab}", "--image-mean", "data"], []),
    ],
)
def test_offline_weights_error_also_names_the_published_files_to_fetch(
    run_env, tmp_path, monkeypatch, capsys, extra, listed
):
    # Offline without the weights, the vocabulary or the image mean: the weights' error
    # used to be the only one, and each published file was reported by a later run.
    # (no weights in the Hugging Face cache, whatever this machine holds: the hub reads
    # HF_HOME once, when it is imported)
    from sksplice import _models

    monkeypatch.setattr(_models, "_hf_cached", lambda *args, **kwargs: None)
    vocab = str(tmp_path / "vocab.txt")
    extra = [arg.format(vocab=vocab) for arg in extra]
    code, out, err = _main(
        ["decompose", str(run_env), "--model", "ViT-B-32", "--device", "cpu", *extra], capsys
    )
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("sksplice: error: the pretrained weights of open_clip model")
    data_home = tmp_path / "data_home"
    for relative in listed:
        folder, name = relative.split("/")
        assert f"to put in the folder {str(data_home / folder)!r} as {name!r}, SHA-256 " in line
        assert f"/data/{relative}, to put" in line  # (the address it is downloaded from)
    assert ("The run also needs" in line) == bool(listed), line
    if len(listed) == 2:
        assert line.endswith("to a folder that holds them.")


def test_a_vocabulary_that_cannot_be_fetched_is_said_with_the_image_mean_to_fetch(
    run_env, tmp_path, monkeypatch, capsys
):
    # The weights at hand (as a model already used with open_clip), the vocabulary and
    # the image mean not: both are said in one error.
    from sksplice.cli import _embedders
    from sksplice.vocabulary import VOCABULARIES

    monkeypatch.setattr(
        _embedders, "check_model", lambda args: ("ViT-B-32", "laion2b_s34b_b79k", 512)
    )
    monkeypatch.setattr(_embedders, "check_weights", lambda model, pretrained: None)
    # (a host that never resolves, RFC 2606: no download is tried on any machine)
    unreachable = VOCABULARIES["laion"]._replace(url="https://sksplice-test.invalid/laion.txt")
    monkeypatch.setitem(VOCABULARIES, "laion", unreachable)
    code, out, err = _main(
        ["decompose", str(run_env), "--model", "ViT-B-32", "--device", "cpu"], capsys
    )
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("sksplice: error: could not download 'vocab/laion.txt'")
    means = tmp_path / "data_home" / "means"
    assert (
        f"The run also needs the image mean of ViT-B-32 laion2b_s34b_b79k (https://raw."
        f"githubusercontent.com/AI4LIFE-GROUP/SpLiCE/main/data/means/open_clip_ViT-B-32_image"
        f".pt, to put in the folder {str(means)!r} as 'open_clip_ViT-B-32_image.pt', SHA-256 "
    ) in line
    assert line.endswith("to a folder that holds it.")


def test_a_published_file_of_another_digest_is_said_to_be_there(
    run_env, tmp_path, monkeypatch, capsys
):
    from sksplice import _models

    monkeypatch.setattr(_models, "_hf_cached", lambda *args, **kwargs: None)
    means = tmp_path / "data_home" / "means"
    means.mkdir(parents=True)
    (means / "open_clip_ViT-B-32_image.pt").write_bytes(b"an older copy")
    vocab = str(tmp_path / "vocab.txt")
    code, out, err = _main(
        ["decompose", str(run_env), "--model", "ViT-B-32", "--vocabulary", vocab], capsys
    )
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert f"to put in the folder {str(means)!r} as 'open_clip_ViT-B-32_image.pt', SHA-256 " in line
    assert "; the file there has another digest), which the data folder lacks" in line


def test_a_repeated_line_of_a_vocabulary_file_is_told_in_the_words_of_the_command_line(
    run_env, tmp_path, capsys
):
    # (it advised naming weight columns with get_feature_names_out(), which no command
    # line user has: the output names each concept)
    vocab = tmp_path / "repeats.txt"
    vocab.write_text("\n".join([*VOCAB[:4], "dog", *VOCAB[4:]]) + "\n", encoding="utf-8")
    args = ["decompose", str(run_env), "-f", "jsonl", *_args(tmp_path, "--vocabulary", str(vocab))]
    code, out, err = _main(args, capsys)
    assert code == 0 and out.count("\n") == len(list(run_env.rglob("*.png"))), err
    assert "repeats 1 concept ('dog' at lines 2, 5): only the first of each is kept" in err
    assert "get_feature_names_out" not in err
    assert "are not at their line. Remove the repeats to keep one concept per line." in err


def test_another_librarys_log_lines_name_it(tmp_path, monkeypatch):
    # (--debug showed open_clip's lines, logged on the root logger, as sksplice's own:
    # "sksplice: Loaded built-in ViT-B-32 model config.")
    from sksplice.cli._logging import _Formatter

    def shown(name, level, path, text):
        return _Formatter().format(logging.LogRecord(name, level, str(path), 1, text, None, None))

    site = tmp_path / "site-packages"
    monkeypatch.setattr(sys, "path", [str(tmp_path / "scripts"), str(site)])
    factory = site / "open_clip" / "factory.py"
    assert shown("root", logging.INFO, factory, "Loaded.") == "sksplice: open_clip: Loaded."
    # (the package, not the folder of the file; a top-level module by its name)
    deep = site / "transformers" / "models" / "fnet" / "modeling_fnet.py"
    assert shown("root", logging.INFO, deep, "a") == "sksplice: transformers: a"
    module = site / "typing_extensions.py"
    assert shown("root", logging.INFO, module, "b") == "sksplice: typing_extensions: b"
    script = tmp_path / "scripts" / "mine.py"
    assert shown("root", logging.INFO, script, "c") == "sksplice: mine: c"
    assert shown("root", logging.INFO, "/elsewhere/x.py", "d") == "sksplice: d"
    assert (
        shown("urllib3.connectionpool", logging.WARNING, site / "urllib3" / "p.py", "Retrying")
        == "sksplice: warning: urllib3: Retrying"
    )
    ours = shown("sksplice.cli._decompose", logging.INFO, site / "sksplice" / "cli.py", "done")
    assert ours == "sksplice: done"


def test_a_missing_pretrained_file_is_told_where_it_was_looked_for(tmp_path, monkeypatch):
    # (a relative path is looked for in the working folder, which may be the mistake)
    from sksplice.cli._embedders import _unknown_pretrained

    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    said = str(_unknown_pretrained("ViT-B-32", "./nothere.pt", ["openai", "laion2b_s34b_b79k"]))
    assert said == (
        f"--pretrained './nothere.pt' ({str(tmp_path / 'nothere.pt')!r}): no such checkpoint "
        "file; or give a pretrained tag of ViT-B-32: openai, laion2b_s34b_b79k"
    )
    said = str(_unknown_pretrained("ViT-B-32", "weights", ["openai"]))
    assert "--pretrained 'weights'" in said and "is neither a pretrained tag" in said
    said = str(_unknown_pretrained("ViT-B-32", "weights/", ["openai"]))
    assert said.startswith(f"--pretrained 'weights/' ({str(tmp_path / 'weights')!r}): a folder")


def test_a_full_cache_disk_is_not_told_to_give_a_writable_folder():
    # (the folder of a full disk is writable: "give --cache-dir a writable folder" said
    # nothing a user could do)
    from sksplice.cli._logging import _warning_fix
    from sksplice.exceptions import DictionaryCacheWarning

    start = "cannot write the concept dictionary cache /c/x.npz "
    full = _warning_fix(DictionaryCacheWarning, start + "([Errno 28] No space left on device)")
    assert full is not None and full.startswith("free space on that disk, or give --cache-dir")
    read_only = _warning_fix(DictionaryCacheWarning, start + "(Permission denied)")
    assert read_only is not None and read_only.startswith("give --cache-dir a writable folder")


def test_library_sentences_start_in_lower_case_after_the_command_s_prefix():
    # ("sksplice: error: The sksplice data home ...", "--vocabulary e.txt: The vocabulary
    # file ...", "sksplice: warning: Cached file ...": the command's own lines are lower case)
    from sksplice.cli._logging import _lower_start

    assert _lower_start("The vocabulary holds no concept") == "the vocabulary holds no concept"
    assert _lower_start("--vocabulary e.txt: The vocabulary file") == (
        "--vocabulary e.txt: the vocabulary file"
    )
    assert _lower_start("Could not download x") == "could not download x"
    for kept in ("Theory of x", "ViT-B-32 is a model", "PIL cannot read it"):
        assert _lower_start(kept) == kept


@pytest.mark.parametrize(
    ("library", "said", "gone"),
    [
        (
            "l1_penalty=1e-09 is below the smallest penalty the duality-gap certificate "
            "supports at tol=1e-06 for these targets (about 1.1e-09); the rows are solved "
            "with max_iter=10 and may not reach tol. Use an l1_penalty of at least about "
            "1.1e-09 or a larger tol",
            "--l1-penalty 1e-09 is below the smallest penalty the duality-gap certificate "
            "supports at the solver's tolerance (1e-06) for these targets (about 1.1e-09); "
            "the rows are solved "
            "in at most 10 rounds and may not converge. Use an --l1-penalty of at least "
            "about 1.1e-09",
            "larger tol",
        ),
        (
            "NonNegLasso (working_set) stopped after max_iter=10 with a worst relative "
            "duality gap of 0.9 > tol=1e-06 on 6 of 12 row(s); increase max_iter "
            "(SpliceTransformer's transform_max_iter) or tol",
            "NonNegLasso (working_set) stopped after 10 rounds with a worst relative "
            "duality gap of 0.9 > 1e-06, the solver's tolerance, on 6 of 12 row(s)",
            "tol=",
        ),
        (
            "... so none of them stands for it alone. Keep one concept of each group (the "
            "warning's `groups` lists them): vocabulary=[c for c in load_vocabulary('laion', "
            "size=10000) if c not in dropped], with dropped the others of each group; or "
            "filter this warning by its class, sksplice.exceptions.DuplicateConceptWarning.",
            "... so none of them stands for it alone. Keep one concept of each group: give "
            "--vocabulary a file without the others of each group.",
            "groups`",
        ),
        (
            "... so none of them stands for it alone. Keep one concept of each group, dropping "
            "the others ({'à', 'é'}): vocabulary=[c for c in load_vocabulary('laion', "
            "size=10000) if c not in {'à', 'é'}]; or filter this warning by its class, "
            "sksplice.exceptions.DuplicateConceptWarning.",
            "... so none of them stands for it alone. Keep one concept of each group: give "
            "--vocabulary a file without the others of each group ('à', 'é').",
            "load_vocabulary",
        ),
        (
            "... so none of them stands for it alone. Keep one concept of each group, dropping "
            "the others ({'à'}) from the vocabulary.",
            "... so none of them stands for it alone. Keep one concept of each group: give "
            "--vocabulary a file without the others of each group ('à').",
            "{",
        ),
    ],
)
def test_library_advice_is_said_in_the_words_of_the_command_line(library, said, gone):
    # The advice named the solver's tol and max_iter and a warning's attribute, which
    # the command line has no option for
    from sksplice.cli._logging import _cli_words

    assert _cli_words(library) == said
    assert gone not in _cli_words(library)


def test_the_smallest_certified_penalty_is_rounded_up():
    # "1e-09 is below ... (about 1e-09)": the limit, 1.04e-09, rounded to the penalty
    from sksplice.solvers._lasso import _rounded_up

    assert _rounded_up(1.04e-9) == "1.1e-09"
    assert _rounded_up(1.001e-9) == "1.1e-09"
    assert _rounded_up(0.0123) == "0.013"
    assert _rounded_up(2.5e-7) == "2.5e-07"  # (no rounding error takes it a step up)
    assert _rounded_up(0.99) == "0.99" and _rounded_up(0.991) == "1"
    # (a limit a hair above the penalty: "1e-09" in the library's own message)
    assert _rounded_up(1.0000000001e-9, [1e-9]) == "1.1e-09"
    assert _rounded_up(1.23456e-3, [1.2345e-3, 1.23e-3]) == "0.0013"


def test_a_checkpoint_file_of_a_model_with_a_published_mean_is_told_how_to_give_it(
    run_env, tmp_path, capsys, monkeypatch
):
    # Offline, the weights of ViT-B-32/laion2b_s34b_b79k downloaded by hand and given as
    # --pretrained FILE: the published mean, in the data folder already, was not used (a
    # file is no tag), one image was refused, and the advice was to use the very model
    # given ("use a model with a published mean (--model ViT-B-32 --pretrained ...)");
    # --image-mean pretrained was refused without a word of how to give it. (The tiny
    # model stands in for ViT-B-32: its published mean is registered for the test.)
    import open_clip
    import torch

    from sksplice import vocabulary

    remote = vocabulary.IMAGE_MEANS[("ViT-B-32", "laion2b_s34b_b79k")]
    monkeypatch.setitem(vocabulary.IMAGE_MEANS, ("sksplice-test-tiny", "laion2b_s34b_b79k"), remote)
    checkpoint = tmp_path / "downloaded by hand.pt"
    torch.save(open_clip.create_model("sksplice-test-tiny").state_dict(), checkpoint)
    mean = tmp_path / "data_home" / remote.path
    one = next((run_env / "cats").iterdir())
    for there in (False, True):
        if there:  # (the mean in the data folder: its path alone)
            mean.parent.mkdir(parents=True)
            mean.write_bytes(b"the published mean")
        fetch = (
            ""
            if there
            else (
                f" (download {remote.url} to that file first, creating its folder, "
                f"SHA-256 {remote.sha256})"
            )
        )
        settings = (
            f"--image-mean {mean}{fetch} where they are those of --pretrained laion2b_s34b_b79k"
        )
        # (with --image-mean data, the centre is learned as asked: the file is named in
        # the advice)
        advice = (
            f"give the settings of the weights in --pretrained '{checkpoint}' yourself (a "
            f"checkpoint file is no tag: no published mean is looked up for it): {settings}"
        )
        code, _, err = _main(
            ["decompose", str(one), "--image-mean", "data"]
            + _args(tmp_path, pretrained=str(checkpoint)),
            capsys,
        )
        assert code == 2 and f"one a larger run learns), or {advice}\n" in err, err
        assert "use a model with a published mean" not in err
        # the default, auto, was asked for, not a centre learned: why it is learned comes
        # first, and the file is named once
        code, _, err = _main(
            ["decompose", str(one), *_args(tmp_path, pretrained=str(checkpoint))], capsys
        )
        last = err.strip().splitlines()[-1]
        assert code == 2 and last.startswith(
            f"sksplice: error: --pretrained '{checkpoint}' is a checkpoint file, and a file is "
            "no tag: no published mean is looked up for it, so --image-mean auto (the default) "
            "learns the image mean (the modality centre) from the images, which it cannot from "
            "a single image: its centred embedding would be zero."
        ), err
        assert last.endswith(
            f"one a larger run learns), or give the settings of these weights yourself: {settings}"
        ), err
        assert last.count(str(checkpoint)) == 1 and last.count("is no tag") == 1, last
        code, _, err = _main(
            ["decompose", str(run_env), "--image-mean", "pretrained"]
            + _args(tmp_path, pretrained=str(checkpoint)),
            capsys,
        )
        # (the file said once, quoted for the shell)
        assert (
            code == 2
            and (
                "no published image mean for --model sksplice-test-tiny --pretrained "
                f"'{checkpoint}' ({advice}); use --image-mean data"
            )
            in err
        ), err
    # the library says it in its words, also of a model named as OpenAI names it
    for model in ("sksplice-test-tiny", "sksplice/test-tiny"):
        with pytest.raises(ValueError) as caught:
            vocabulary.load_image_mean(model, str(checkpoint))
        assert (
            f"Pass the settings of the weights in pretrained={str(checkpoint)!r} yourself (a "
            "checkpoint file is no tag: no published mean is looked up for it): image_mean="
            "sksplice.vocabulary.load_image_mean('sksplice-test-tiny', 'laion2b_s34b_b79k') "
            "where they are those of pretrained='laion2b_s34b_b79k'. Else learn the mean"
        ) in str(caught.value)
    # a tag, or a model without a published mean, gets the advice as before
    code, _, err = _main(["decompose", str(one), *_args(tmp_path)], capsys)
    assert code == 2 and "use a model with a published mean" in err and "checkpoint" not in err
    # weights with a published mean whose centre --image-mean data would learn from one
    # image are told of their mean (it said to use a model with a published mean: the one
    # given), with its file, and how to fetch it where the data folder lacks it
    tag = _args(tmp_path, "--image-mean", "data", pretrained="laion2b_s34b_b79k")
    for there in (True, False):
        if not there:
            mean.unlink()
        code, _, err = _main(["decompose", str(one), *tag], capsys)
        told = (
            f"in {mean}\n"
            if there
            else (
                f"downloaded on first use to {mean} (without network access, download "
                f"{remote.url} to that file first, creating its folder, SHA-256 "
                f"{remote.sha256})\n"
            )
        )
        assert (
            code == 2
            and (
                "one a larger run learns), or give --image-mean auto: the published mean of "
                f"these weights, {told}"
            )
            in err
        ), err


def test_the_file_of_openai_weights_is_told_with_the_quickgelu_model_they_need():
    # A tag trained with QuickGELU builds it, a file of its weights does not: the advice
    # to pass OpenAI's weights as a file with their published mean ran them on GELU.
    from sksplice.cli._logging import _cli_words
    from sksplice.vocabulary import _settings_of_tag_file

    settings, why = _settings_of_tag_file("ViT-B-32", "openai")
    assert settings == [
        "model='ViT-B-32-quickgelu'",
        "image_mean=sksplice.vocabulary.load_image_mean('ViT-B-32-quickgelu', 'openai')",
    ]
    assert why == "the QuickGELU they were trained with and their published mean"
    assert _cli_words(settings[0]) == "--model ViT-B-32-quickgelu"
    for model, tag in (("ViT-B-32", "laion2b_s34b_b79k"), ("ViT-B-32-quickgelu", "openai")):
        settings, why = _settings_of_tag_file(model, tag)
        assert (
            settings == [f"image_mean=sksplice.vocabulary.load_image_mean({model!r}, {tag!r})"]
            and why == "their published mean"
        )
    from sksplice._models import _checkpoint_advice

    assert _checkpoint_advice("RN50", "openai", "URL") == (
        "; or pass pretrained=<path to a checkpoint file> (these weights: URL), with "
        "model='RN50-quickgelu' and image_mean=sksplice.vocabulary.load_image_mean("
        "'RN50-quickgelu', 'openai') for the QuickGELU they were trained with and their "
        "published mean (a checkpoint file does not bring them along, as the tag does)"
    )


def test_the_file_of_weights_is_told_without_the_published_mean_to_an_own_centre():
    # A run centred by a mean file of its own (or learned from its images) was told to
    # pass a checkpoint file "with --image-mean <published mean>": a mean it does not use.
    from sksplice._model_names import own_centre, published_mean_used
    from sksplice._models import _checkpoint_advice

    with own_centre():
        assert _checkpoint_advice("RN50", "openai", "URL") == (
            "; or pass pretrained=<path to a checkpoint file> (these weights: URL), with "
            "model='RN50-quickgelu' for the QuickGELU they were trained with (a checkpoint "
            "file does not bring it along, as the tag does)"
        )
        assert _checkpoint_advice("ViT-B-32", "laion2b_s34b_b79k", "URL") == (
            "; or pass pretrained=<path to a checkpoint file> (these weights: URL)"
        )
        # (a transformer given the published mean as an array by the command line keeps
        # the word of the command line, which knows where the array came from)
        with own_centre(False, unless_said=True):
            assert not published_mean_used()
    with own_centre(False), own_centre(True, unless_said=True):
        assert published_mean_used()
    assert published_mean_used() and "published mean" in _checkpoint_advice(
        "ViT-B-32", "laion2b_s34b_b79k", "URL"
    )


@pytest.mark.parametrize("image_mean", ["auto", "pretrained", "data", "file"])
def test_a_run_says_whether_it_is_centred_by_a_published_mean(
    image_mean, run_env, tmp_path, capsys, monkeypatch
):
    # What the advice for weights that cannot be fetched reads while the model is
    # loaded to embed the concepts: the published mean for a run centred by it (auto,
    # pretrained), not for one centred by a file or by its own rows; and the transformer
    # of the Python API says the same for its image_mean.
    import sksplice._models
    from sksplice import SpliceTransformer, dictionary
    from sksplice._model_names import published_mean_used

    seen = []
    create = sksplice._models._create_model  # (where weights not fetched are refused)

    def recording(config):
        seen.append(published_mean_used())
        return create(config)

    def afresh():  # (the model and the concepts' embeddings made again, not remembered)
        sksplice._models.clear_model_cache()
        dictionary.clear_memory_cache()

    monkeypatch.setattr(sksplice._models, "_create_model", recording)
    afresh()
    X = np.random.default_rng(0).normal(size=(12, 32)).astype(np.float32)
    np.save(tmp_path / "rows.npy", X)
    np.save(tmp_path / "mean.npy", X.mean(axis=0) / np.linalg.norm(X.mean(axis=0)) / 2)
    mean = str(tmp_path / "mean.npy") if image_mean == "file" else image_mean
    argv = ["decompose", str(tmp_path / "rows.npy"), "-q", "--image-mean", mean]
    code, _, err = _main(argv + _args(tmp_path, "--cache-dir", str(tmp_path / "c")), capsys)
    # (the tiny model has no published mean: "pretrained" is refused before any embedding)
    assert code == (2 if image_mean == "pretrained" else 0), err
    assert seen == ([] if image_mean == "pretrained" else [image_mean == "auto"]), seen
    # (the fit itself, recorded: the tiny model has no published mean to load)
    monkeypatch.setattr(
        SpliceTransformer, "_fit", lambda self, X: seen.append(published_mean_used())
    )
    seen.clear()
    for given in (None, np.zeros(32), "pretrained"):
        SpliceTransformer(vocabulary=["red"], image_mean=given).fit(X)
    SpliceTransformer(vocabulary=["red"], modality="text").fit(X)
    assert seen == [False, False, True, False]
    # (and precompute_concept_embeddings, which embeds the vocabulary outside fit)
    from sksplice import CLIPEmbedder
    from sksplice.distributed import precompute_concept_embeddings

    seen.clear()
    monkeypatch.setattr(
        dictionary,
        "embed_vocabulary",
        lambda embedder, concepts, **kw: seen.append(published_mean_used()) or np.eye(2, 32),
    )
    text = CLIPEmbedder("sksplice-test-tiny", pretrained=None, modality="text")
    for given in (None, "pretrained"):
        splice = SpliceTransformer(embedder=text, vocabulary=["red", "blue"], image_mean=given)
        if given == "pretrained":
            # (the tiny model has no published mean: refused before anything is embedded,
            # as fit refuses it; then, that check left out, the embedding is said to be of
            # a run centred by the published mean)
            with pytest.raises(ValueError, match="No published image mean for model="):
                precompute_concept_embeddings(splice)
            assert seen == [False]
            monkeypatch.setattr(SpliceTransformer, "_checked_without_samples", lambda *a: None)
        precompute_concept_embeddings(splice)
    assert seen == [False, True]


def test_a_duplicate_warning_of_many_groups_lists_every_group_under_it(
    run_env, tmp_path, capsys, monkeypatch
):
    # The warning names five groups ("and 55 more groups") and tells the user to give a
    # file without the others of each group; the command line named the other groups
    # nowhere (in Python the warning's `groups` lists them).
    from sksplice.cli import _logging

    words = [f"word{i}" for i in range(7)]
    (tmp_path / "vocab.txt").write_text(
        "\n".join([*words, *(w.upper() for w in words), *(w.title() for w in words[:2])]) + "\n",
        encoding="utf-8",
    )
    code, out, err = _main(
        ["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "2")], capsys
    )
    assert code == 0 and out
    lines = err.splitlines()
    (at,) = (i for i, line in enumerate(lines) if "the same embedding as another" in line)
    assert "; and 2 more groups" in lines[at]
    assert lines[at + 1] == "sksplice: the 7 groups of concepts with the same embedding:"
    listed = lines[at + 2 : at + 9]
    assert listed == [
        "sksplice:   'word0' = 'WORD0' = 'Word0'",
        "sksplice:   'word1' = 'WORD1' = 'Word1'",
        *(f"sksplice:   'word{i}' = 'WORD{i}'" for i in range(2, 7)),
    ], err
    # (at most _GROUPS_LISTED of them, then how many more)
    monkeypatch.setattr(_logging, "_GROUPS_LISTED", 3)
    from sksplice.dictionary import clear_memory_cache

    clear_memory_cache()
    code, _, err = _main(["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "2")], capsys)
    lines = err.splitlines()
    (at,) = (i for i, line in enumerate(lines) if "the same embedding as another" in line)
    assert lines[at + 4 : at + 6] == [
        "sksplice:   'word2' = 'WORD2'",
        "sksplice:   ... and 4 more groups",
    ], err
    # (a list to act on, not a warning: left out with -q, as information is)
    clear_memory_cache()
    code, _, err = _main(
        ["decompose", str(run_env / "cats"), "-q", *_args(tmp_path, "-k", "2")], capsys
    )
    assert "the same embedding as another" in err and "groups of concepts" not in err, err
    # a warning that writes out the names to drop lists nothing under it
    (tmp_path / "vocab.txt").write_text("word0\nWORD0\nword1\n", encoding="utf-8")
    code, _, err = _main(["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "2")], capsys)
    assert "file without the others of each group ('WORD0')." in err
    assert "groups of concepts with the same embedding" not in err


def test_random_weights_of_a_model_with_published_weights_are_said(
    run_env, tmp_path, capsys, monkeypatch
):
    # `--model ViT-B-32 --pretrained none`, read as "no extra checkpoint", printed the
    # concepts of an untrained model as if they meant something. (The tiny model stands
    # in for one with published weights, read from open_clip's files without importing it.)
    from sksplice import _model_names

    code, out, err = _main(
        ["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "1")], capsys
    )
    assert code == 0 and out and "random weights (" not in err  # (none published: not said)
    tags = {"sksplice-test-tiny": ["openai", "laion2b_s34b_b79k", "datacomp", "commonpool", "x"]}
    monkeypatch.setattr(_model_names, "pretrained_tags", lambda: tags)
    code, out, err = _main(
        ["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "1")], capsys
    )
    assert code == 0 and out
    assert (
        "sksplice: warning: sksplice-test-tiny runs with random weights (--pretrained none or "
        "random: no pretrained weights are loaded), so its concepts say nothing of the images; "
        "give a pretrained tag of it for trained weights (--pretrained openai, --pretrained "
        "laion2b_s34b_b79k, --pretrained datacomp and 2 more)"
    ) in err.splitlines(), err
    # (open_clip's files laid out otherwise: open_clip is asked)
    import open_clip

    monkeypatch.setattr(_model_names, "pretrained_tags", lambda: None)
    monkeypatch.setattr(open_clip, "list_pretrained_tags_by_model", lambda m: tags.get(m, []))
    code, _, err = _main(["decompose", str(run_env / "cats"), *_args(tmp_path, "-k", "1")], capsys)
    assert code == 0 and "sksplice-test-tiny runs with random weights" in err, err


def test_a_group_of_many_alike_concepts_is_listed_on_one_short_line():
    # (a tokenizer that reads many names as one unknown token makes one group of them all)
    from sksplice.cli._logging import _groups_listed
    from sksplice.exceptions import DuplicateConceptWarning

    group = tuple(f"w{i}" for i in range(60))
    said = _groups_listed(DuplicateConceptWarning("...", [group]), DuplicateConceptWarning)
    assert said.splitlines()[1:] == [
        "the 1 group of concepts with the same embedding:",
        "  " + " = ".join(repr(n) for n in group[:50]) + " = ... and 10 more",
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # argparse said first that a required option was missing, not a word of the typo
        (["search", "x.png", "--conc", "dog"], "--conc dog (close matches: --concepts)"),
        (
            ["report", "x.png", "--output-dir", "r.html"],
            "--output-dir r.html (close matches: --output)",
        ),
        (["decompose", "x.png", "--vers"], "--vers (--version comes before the command"),
        (["decompose", "x.png", "--h"], "--h (close matches: -h, --help)"),
    ],
)
def test_a_mistyped_option_is_named_before_a_required_one_is_missed(argv, said, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and said in err and "required" not in err, err


@pytest.mark.parametrize("from_embeddings", [False, True])
def test_a_text_query_longer_than_the_context_is_said_before_the_images_once(
    run_env, tmp_path, capsys, from_embeddings
):
    # its end was cut by the tokenizer without a word, once the images were embedded
    inputs = [str(run_env)]
    if from_embeddings:
        inputs = [str(tmp_path / "img_emb_0.npy")]
        np.save(inputs[0], np.random.default_rng(0).normal(size=(6, 32)).astype(np.float32))
    query = "a photo of " + "a small red dog and " * 20
    argv = ["search", *inputs, "--text", query, "-f", "json", *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 0 and json.loads(out), err
    lines = err.splitlines()
    said = [i for i, line in enumerate(lines) if "text tower" in line]
    assert len(said) == 1, err
    assert lines[said[0]] == (
        "sksplice: warning: --text is longer than the context of sksplice-test-tiny's text "
        "tower (77 tokens), which its tokenizer cuts it to: the query is only its beginning; "
        "shorten it"
    )
    # before anything is embedded or read from a cache (the vocabulary's and the images'
    # lines where they are said, the centre learned, the query's own embedding)
    marks = ("concept dict", "embed", "image mean", "CLIP texts")
    later = [i for i, line in enumerate(lines) if any(mark in line for mark in marks)]
    assert len(later) >= 2 and min(later) > said[0], err
    short = ["search", *inputs, "--text", "a red dog", "-f", "json", *_args(tmp_path)]
    code, out, err = _main(short, capsys)
    assert code == 0 and "text tower" not in err, err


def test_naming_a_published_mean_does_not_make_the_data_folder(tmp_path, monkeypatch):
    # The error of a run without weights named the published mean's file in a
    # --data-home that did not exist, and made that folder (empty) on the way.
    from sksplice.cli import _logging

    missing = tmp_path / "no_data_home"
    monkeypatch.setattr(_logging, "_DATA_HOME", str(missing))
    found = _logging.published_mean_file("ViT-B-32", "laion2b_s34b_b79k")
    assert found is not None
    where, fetch = found
    assert where == str(missing / "means" / "open_clip_ViT-B-32_image.pt")
    assert fetch is not None and fetch.startswith("download https://")
    assert not missing.exists()


def test_suggested_commands_quote_a_word_as_the_platform_s_shell_reads_it():
    # A POSIX shell's single quotes are part of the word in Windows' command lines: a
    # suggested "> 'my out.csv'" wrote a file named with its quotes there.
    from sksplice.cli._logging import shell_word

    assert shell_word("my out.csv", posix=True) == "'my out.csv'"
    assert shell_word("my out.csv", posix=False) == '"my out.csv"'
    assert shell_word("out.csv", posix=False) == "out.csv"
    assert shell_word("~/models/x.pt", posix=True) == "~/models/x.pt"
    assert shell_word("it's here.png", posix=True) == "'it'\"'\"'s here.png'"


@pytest.mark.parametrize(
    ("where", "option", "advice"),
    [
        ("out.csv", "-o", "(free space on that disk, or give -o a file on another)"),
        ("mean.npy", "--save-image-mean", "or give --save-image-mean a file on another)"),
        ("standard output", "-o", "free space there, or give -o FILE)"),
        ("standard output", None, "free space there, or send it to another disk)"),
    ],
)
def test_a_full_disk_is_said_with_the_option_that_names_another_file(where, option, advice):
    import errno

    from sksplice.cli._logging import CLIError
    from sksplice.cli._output import naming_write_errors

    with pytest.raises(CLIError) as caught, naming_write_errors(where, option):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value).startswith(f"cannot write {where}: No space left on device (")
    assert str(caught.value).endswith(advice)
