"""The command on the files a user has: output paths written as folders, a closed
standard output, a labels file saved in another encoding, empty image files and file
names holding a line break."""

from __future__ import annotations

import codecs
import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sksplice import cli

from ._helpers_cli import model_args as _args
from ._helpers_cli import run_main as _main

# ----------------------------------------------- an output file in a folder that takes none


@pytest.mark.parametrize(
    ("command", "option", "name", "redirect"),
    [
        ("decompose", "-o", "existing.txt", "> {}"),
        ("search", "-o", "my results.csv", "-f csv > '{}'"),  # (the format -o chose)
        ("report", "-o", "existing.html", None),
        ("compare", "--report", "existing.html", None),
    ],
)
def test_an_existing_output_file_in_a_folder_that_takes_no_file_is_told_why(
    command, option, name, redirect, run_env, tmp_path, capsys, no_embedding, monkeypatch
):
    # "folder ... is not writable", where the user could write the file itself: why the
    # folder matters, and the redirection that writes the file in place
    from sksplice.cli import _checks

    existing = tmp_path / "out" / name
    existing.parent.mkdir()
    existing.write_text("kept\n")

    def refusal(folder):
        if os.fspath(folder) != os.fspath(existing.parent):
            return None
        return OSError(errno.EROFS, f"cannot make a file in {folder}: Read-only file system")

    monkeypatch.setattr(_checks, "folder_refusal", refusal)
    inputs = (
        [str(run_env / "cats"), str(run_env / "dogs")] if command == "compare" else [str(run_env)]
    )
    query = ["--concepts", "dog"] if command == "search" else []
    argv = [command, *inputs, *query, option, str(existing), *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == "", err
    said = (
        f"sksplice: error: cannot write output file {existing}: cannot make a file in "
        f"{existing.parent}: Read-only file system; {option} writes a new file beside it and "
        "renames it over it, so that a run that fails leaves it as it was: give a file in a "
        "writable folder"
        + (
            f", or write standard output into it ({redirect.format(existing)}; a run that "
            "fails then leaves it cut short)"
            if redirect
            else ""
        )
        + f" ({option})"
    )
    assert err.strip().splitlines()[-1] == said
    assert existing.read_text() == "kept\n"


# --------------------------------------------------------- an output path ending in /


@pytest.mark.parametrize(
    ("command", "option"),
    [("decompose", "-o"), ("decompose", "--save-image-mean"), ("report", "-o")],
)
@pytest.mark.parametrize("given", ["missing/", "existing.csv/", "existing.csv/.", "missing/."])
def test_an_output_path_ending_in_a_slash_is_refused_before_embedding(
    command, option, given, run_env, tmp_path, capsys, no_embedding
):
    # Path("out/") is "out": the run wrote a file named after the folder meant, or
    # replaced the file "existing.csv" named with a slash, which the shell's ">" refuses.
    existing = tmp_path / "existing.csv"
    existing.write_text("kept\n")
    target = f"{tmp_path}/{given}"
    extra = [option, target]
    code, out, err = _main([command, str(run_env), *extra, *_args(tmp_path)], capsys)
    assert code == 2 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"sksplice: error: cannot write output file {target}: a path ending in / (or /. or "
        f"/..) names a folder, not a file; give a file name ({option})"
    )
    assert existing.read_text() == "kept\n"
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("command", ["decompose", "profile"])
def test_an_output_whose_partial_file_is_a_folder_is_refused_before_embedding(
    command, run_env, tmp_path, capsys, no_embedding
):
    # An interrupted run keeps its finished records in FILE.partial: a folder there lost
    # them, while the run said they were in it.
    target = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").mkdir()
    code, out, err = _main([command, str(run_env), "-o", str(target), *_args(tmp_path)], capsys)
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot write output file {target}: {target}.partial is a folder, "
        "where an interrupted run keeps the records it finished; remove or rename it (-o)"
    )
    assert not target.exists()


# ------------------------------------------------------------ a closed standard output


def test_a_closed_standard_output_is_refused_before_embedding(
    run_env, tmp_path, capsys, monkeypatch, no_embedding
):
    monkeypatch.setattr(sys, "stdout", None)  # (as Python starts with file 1 closed)
    code = cli.main(["decompose", str(run_env), *_args(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "sksplice: error: standard output is closed (as by >&-): the results would have "
        "nowhere to go; give -o FILE, or open standard output (> FILE, or a pipe)"
    )


def test_a_closed_standard_output_is_no_matter_with_an_output_file(run_env, tmp_path):
    out = tmp_path / "out.csv"
    command = [sys.executable, "-m", "sksplice", "decompose", str(run_env), "-q", "-o", str(out)]
    closed = subprocess.run(
        [*command, *_args(tmp_path)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env=os.environ,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 0, closed.stderr
    assert out.read_text().startswith("path,rank,concept,weight,l0,cosine,baseline_cosine\n")
    # without -o, refused at once (the run embedded every image, then failed with
    # "'NoneType' object has no attribute 'flush'", exit 1)
    closed = subprocess.run(
        [*command[:-2], *_args(tmp_path)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env=os.environ,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 2, closed.stderr
    assert "standard output is closed" in closed.stderr
    assert "CLIP images" not in closed.stderr and "NoneType" not in closed.stderr


# ------------------------------------------------------ a labels file that is not UTF-8


def test_a_labels_file_that_is_not_utf8_names_its_line(run_env, tmp_path, capsys, no_embedding):
    labels = tmp_path / "labels.csv"
    rows = [
        f"{p.relative_to(run_env).as_posix()},caf\xe9 {p.parent.name}"
        for p in sorted(run_env.rglob("*.png"))
    ]
    labels.write_text("path,label\n" + "\n".join(rows) + "\n", encoding="latin-1")
    args = ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    # (was pandas' "'utf-8' codec can't decode byte 0xe9 in position 4": a position in
    # one of its blocks, not in the file)
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: labels file {labels}, line 2: not valid UTF-8 (byte 0xe9); save "
        "the labels file as UTF-8"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_labels_file_is_told_to_be_saved_as_utf8(
    run_env, tmp_path, capsys, no_embedding, encoding
):
    # A spreadsheet's "Unicode Text" export (UTF-16 with a byte order mark) was "not a text
    # file (it holds binary data)": nothing said that saving it as UTF-8 would do.
    labels = tmp_path / "labels.txt"
    rows = [f"{p.relative_to(run_env).as_posix()}\t{p.parent.name}" for p in run_env.rglob("*.png")]
    data = "\n".join(rows).encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    labels.write_bytes(data)
    args = ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    wide = encoding[:6].upper()
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: labels file {labels} is {wide} text, not UTF-8 (as a spreadsheet's "
        "'Unicode Text' export writes it); save it as 'CSV UTF-8' (comma-separated)"
    )


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"", "0 bytes"), (b"\n \r\n", "blank"), (codecs.BOM_UTF8 + b"\r\n", "blank")],
)
def test_an_empty_labels_file_is_said_to_be_empty(
    run_env, tmp_path, capsys, no_embedding, content, said
):
    # (was pandas' "cannot read labels file L.csv: No columns to parse from file")
    labels = tmp_path / "labels.csv"
    labels.write_bytes(content)
    args = ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: labels file {labels} is empty ({said}); --labels takes a CSV of "
        "path,label lines, one image a line (e.g. cats/001.jpg,cat)"
    )


@pytest.mark.parametrize("name", ["0.png", "labels.csv"])
def test_an_image_given_as_the_labels_file_is_not_taken_for_text(
    run_env, tmp_path, capsys, no_embedding, name
):
    # (was pandas' "Error tokenizing data. C error: Expected 1 fields in line 6, saw 2")
    labels = tmp_path / name
    labels.write_bytes((run_env / "cats" / "0.png").read_bytes())
    args = ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    image = ": an image" if name.endswith(".png") else ""
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: labels file {labels} is not a text file (it holds binary data"
        f"{image}); --labels takes a CSV of path,label lines, one image a line "
        "(e.g. cats/001.jpg,cat)"
    )


@pytest.mark.parametrize(
    ("sep", "said"),
    [
        (";", "semicolons"),
        ("\t", "tabs"),
        (",", None),
        ("\t;", "tabs"),
        (",|", None),
        (";;", "semicolons"),
    ],
)
def test_a_labels_file_of_another_list_separator_says_so(
    run_env, tmp_path, capsys, no_embedding, sep, said
):
    # (spreadsheets set to a European locale save "CSV" with semicolons)
    labels = tmp_path / "labels.csv"
    rows = [p.relative_to(run_env).as_posix() for p in sorted(run_env.rglob("*.png"))]
    if sep == ",":  # (one column: no separator at all)
        lines = ["path", *rows]
    elif sep == ",|":  # (one column, a '|' in one name of its own)
        lines = ["path", *rows[:-1], rows[-1] + "|x"]
    elif sep == ";;":  # (semicolons between the columns, one more in a name)
        lines = ["path;label", *(f"{r};{r.split('/')[0]}" for r in rows)]
        lines[-1] = lines[-1].replace("/", ";x/", 1)
    elif sep == "\t;":  # (tabs between the columns, a ';' in one label)
        lines = ["path\tlabel", *(f"{r}\t{r.split('/')[0]}" for r in rows)]
        lines[-1] += ";x"
    else:
        lines = [f"path{sep}label", *(f"{r}{sep}{r.split('/')[0]}" for r in rows)]
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _main(
        ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)], capsys
    )
    assert code == 2 and out == ""
    expected = f"sksplice: error: {labels}, line 1: expected two columns 'path,label', found 1"
    if said is not None:
        expected += f"; its columns are separated by {said}: save it with commas (CSV)"
        expected += ", or name it .tsv" if said == "tabs" else ""
    assert err.strip().splitlines()[-1] == expected


def test_a_tsv_labels_file_is_read_with_tabs(run_env, tmp_path, capsys, no_embedding):
    # "its columns are separated by tabs: save it with commas", of a file named .tsv
    rows = [p.relative_to(run_env).as_posix() for p in sorted(run_env.rglob("*.png"))]
    lines = ["path\tlabel", *(f"{r}\t{r.split('/')[0]}" for r in rows)]
    (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "labels.csv").write_text(
        "\n".join(line.replace("\t", ",") for line in lines) + "\n", encoding="utf-8"
    )
    from sksplice.cli._inputs import _collect_images, _read_labels

    paths = _collect_images([run_env])
    by_tabs = _read_labels(tmp_path / "labels.tsv", run_env, paths)
    assert by_tabs == _read_labels(tmp_path / "labels.csv", run_env, paths)
    assert len(set(by_tabs)) >= 2
    # a .tsv file of commas (read as CSV before) is read so still
    (tmp_path / "commas.tsv").write_bytes((tmp_path / "labels.csv").read_bytes())
    assert _read_labels(tmp_path / "commas.tsv", run_env, paths) == by_tabs


# ------------------------------------------------------ empty files, odd file names


def test_an_empty_image_file_is_said_to_be_empty(run_env, tmp_path, capsys):
    (run_env / "cats" / "empty.png").write_bytes(b"")
    (run_env / "cats" / "notes.png").write_text("not an image\n")
    code, _, err = _main(["decompose", str(run_env), "-q", *_args(tmp_path)], capsys)
    assert code == 0, err
    assert f"  {str(run_env / 'cats' / 'empty.png')!r} is an empty file (0 bytes)\n" in err
    assert f"  {str(run_env / 'cats' / 'notes.png')!r} is not an image file PIL can read" in err


def test_a_file_name_holding_a_line_break_keeps_each_message_one_line(run_env, tmp_path, capsys):
    (run_env / "cats" / "bad\nname.png").write_text("not an image\n")
    (run_env / "cats" / "read\nme").write_text("notes\n")
    code, _, err = _main(["decompose", str(run_env), "-q", *_args(tmp_path)], capsys)
    assert code == 0, err
    # every line of standard error is a message, or a skipped image under its summary
    for line in err.splitlines():
        assert line.startswith(("sksplice: ", "  '")), err
    assert "left out 1 file without an image extension" in err
    assert "cats/read\\nme" in err
    skipped = repr(str(run_env / "cats" / "bad\nname.png"))
    assert f"\nsksplice:   {skipped} is not an image file PIL can read\n" in err, err


# ------------------------------------------------ folders and links that cannot be read


def _refuse_to_list(monkeypatch, *names):
    """Listing a folder named one of ``names`` fails as without read permission (tests
    run as root, who may read any folder)."""
    real_scandir, real_listdir = os.scandir, os.listdir

    def refused(path):
        if os.path.basename(os.fspath(path).rstrip(os.sep)) in names:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def scandir(path="."):
        refused(path)
        return real_scandir(path)

    def listdir(path="."):
        refused(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)


def test_an_unreadable_sub_folder_is_named_not_dropped(run_env, tmp_path, capsys, monkeypatch):
    (run_env / "birds").mkdir()
    (run_env / "birds" / "0.png").write_bytes((run_env / "cats" / "0.png").read_bytes())
    _refuse_to_list(monkeypatch, "birds")
    code, out, err = _main(["decompose", str(run_env), "-f", "csv", *_args(tmp_path)], capsys)
    assert code == 0, err
    assert (
        f"sksplice: warning: folder {run_env / 'birds'} could not be read (Permission "
        "denied): its images are left out; check its permissions\n"
    ) in err
    assert "birds" not in out and "cats/0.png" in out


def test_an_unreadable_folder_given_is_a_usage_error(run_env, tmp_path, capsys, monkeypatch):
    _refuse_to_list(monkeypatch, run_env.name)
    for command in (["decompose", str(run_env)], ["report", str(run_env), "-o", "r.html"]):
        code, out, err = _main([*command, *_args(tmp_path)], capsys)
        assert code == 2, err
        assert err == (
            f"sksplice: error: folder {run_env} could not be read (Permission denied); "
            "check its permissions\n"
        )
        assert out == ""


def test_profile_refusing_one_class_names_the_unreadable_class_folder(
    run_env, tmp_path, capsys, monkeypatch, no_embedding
):
    _refuse_to_list(monkeypatch, "dogs")
    code, _, err = _main(["profile", str(run_env), *_args(tmp_path)], capsys)
    assert code == 2, err
    assert err.endswith(
        f"sksplice: error: profile needs at least two classes, found 1 in the class "
        f"sub-folders of {run_env}: 'cats' ({run_env / 'dogs'} could not be read (Permission "
        "denied))\n"
    )


def test_a_report_without_class_profiles_names_the_unreadable_class_folder(
    run_env, tmp_path, capsys, monkeypatch
):
    _refuse_to_list(monkeypatch, "dogs")
    report = tmp_path / "r.html"
    code, _, err = _main(["report", str(run_env), "-o", str(report), *_args(tmp_path)], capsys)
    assert code == 0, err
    assert (
        f"no class profiles: profiles need at least two classes, found 1 in the class "
        f"sub-folders of {run_env}: 'cats' ({run_env / 'dogs'} could not be read (Permission "
        "denied))"
    ) in err
    assert report.is_file()


def test_a_broken_link_to_a_class_folder_is_named_with_where_it_leads(run_env, tmp_path, capsys):
    (run_env / "birds").symlink_to(tmp_path / "moved" / "birds")
    (run_env / "cats" / "3.png").symlink_to("gone.png")
    code, _, err = _main(["decompose", str(run_env), "-q", *_args(tmp_path)], capsys)
    assert code == 0, err
    assert (
        f"sksplice: warning: not reading {run_env / 'birds'}: it is a broken symbolic link: "
        f"it leads to {str(tmp_path / 'moved' / 'birds')!r}, which does not exist\n"
    ) in err
    assert "without an image extension" not in err  # (not counted as a file left out)
    assert (
        f"  {str(run_env / 'cats' / '3.png')!r} is a broken symbolic link: it leads to "
        "'gone.png', which does not exist; point the link at the image file, or remove it\n"
    ) in err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="needs POSIX permissions that apply (root reads any folder)",
)
def test_a_sub_folder_without_read_permission_is_named(run_env, tmp_path, capsys):
    (run_env / "birds").mkdir()
    (run_env / "birds" / "0.png").write_bytes((run_env / "cats" / "0.png").read_bytes())
    (run_env / "birds").chmod(0)
    try:
        code, _, err = _main(["decompose", str(run_env), "-q", *_args(tmp_path)], capsys)
    finally:
        (run_env / "birds").chmod(0o755)
    assert code == 0, err
    assert f"folder {run_env / 'birds'} could not be read (Permission denied)" in err


def test_a_warning_of_pils_about_a_file_names_it(run_env, tmp_path, capsys):
    # a PNG whose EXIF data is cut short: PIL warns "Corrupt EXIF data" without a name
    from .test_image_files import corrupt_exif_png

    damaged = corrupt_exif_png(run_env / "cats" / "damaged.png", run_env / "cats" / "0.png")
    report = ["report", str(run_env), "-o", str(tmp_path / "r.html")]
    for command in (["decompose", str(run_env)], report):
        code, _, err = _main([*command, "-q", *_args(tmp_path)], capsys)
        assert code == 0, err
        told = [line for line in err.splitlines() if "Corrupt EXIF data" in line]
        assert told, err
        assert all(line.startswith(f"sksplice: warning: {damaged}: Corrupt EXIF") for line in told)
        # once, though the report reads the file again for its thumbnail
        assert len(told) == len(set(told)), err


# ------------------------------------------------------- names in other normal forms


@pytest.mark.parametrize("written", ["NFC", "NFD"])
def test_labels_match_file_names_in_another_unicode_normal_form(tmp_path, written):
    # macOS writes file names decomposed (NFD); a labels file typed elsewhere is composed
    import unicodedata

    from sksplice.cli._inputs import _read_labels

    stored = "NFD" if written == "NFC" else "NFC"
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    paths = [
        root / unicodedata.normalize(stored, "café.png"),
        root / "sub" / unicodedata.normalize(stored, "crème.png"),
        root / "sub" / unicodedata.normalize(stored, "Ørsted über.png"),
    ]
    for path in paths:
        path.write_bytes(b"")
    labels = tmp_path / "labels.csv"
    rows = ["café.png,cat", "sub/crème.png,dog", "Ørsted über.png,dog"]  # (the last bare)
    labels.write_text(unicodedata.normalize(written, "\n".join(rows)) + "\n", encoding="utf-8")
    assert _read_labels(labels, root, paths) == ["cat", "dog", "dog"]


def test_an_exact_name_comes_before_one_in_another_normal_form(tmp_path):
    import unicodedata

    from sksplice.cli._inputs import _read_labels

    root = tmp_path / "photos"
    root.mkdir()
    paths = [root / unicodedata.normalize(form, "café.png") for form in ("NFC", "NFD")]
    for path in paths:
        path.write_bytes(b"")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "".join(f"{unicodedata.normalize(form, 'café.png')},{form}\n" for form in ("NFD", "NFC")),
        encoding="utf-8",
    )
    assert _read_labels(labels, root, paths) == ["NFC", "NFD"]


# ------------------------------------------------------------------ report thumbnails


def test_report_and_compare_show_the_progress_of_the_thumbnails(run_env, tmp_path, capsys):
    page = tmp_path / "r.html"
    for command in (
        ["report", str(run_env), "-o", str(page)],
        ["compare", str(run_env / "cats"), str(run_env / "dogs"), "--report", str(page)],
    ):
        code, _, err = _main([*command, *_args(tmp_path)], capsys)
        assert code == 0, err
        assert "thumbnails: 100% 6/6 " in err, err
        # each image has its thumbnail in the page
        assert page.read_text(encoding="utf-8").count("data:image/jpeg;base64,") == 6
        code, _, err = _main([*command, "-q", *_args(tmp_path)], capsys)
        assert code == 0 and "thumbnails" not in err, err


# ------------------------------------------------------------- nested class folders


def test_images_in_folders_below_a_class_folder_belong_to_that_class(tmp_path):
    # (as docs/cli.md says: the classes are the first level of sub-folders only)
    from sksplice.cli._inputs import _collect_images, _labels_from_folders
    from sksplice.cli._logging import CLIError

    root = tmp_path / "dataset"
    for relative in ("cats/1.png", "cats/indoor/2.png", "cats/indoor/sofa/3.png", "dogs/4.png"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"")
    paths = _collect_images([root])
    assert _labels_from_folders(root, paths) == ["cats", "cats", "cats", "dogs"]
    (root / "x.png").write_bytes(b"")
    with pytest.raises(CLIError, match=r"image .*x\.png is not inside a class sub-folder of"):
        _labels_from_folders(root, _collect_images([root]))
    # a folder without any class folder: said of the folder, not of its first image
    flat = tmp_path / "flat"
    for name in ("a.png", "b.png"):
        (flat / name).parent.mkdir(parents=True, exist_ok=True)
        (flat / name).write_bytes(b"")
    with pytest.raises(CLIError, match=r"flat has no class sub-folders: its 2 images lie in it"):
        _labels_from_folders(flat, _collect_images([flat]))


@pytest.mark.parametrize(
    ("inputs", "said"),
    [
        (["ds/cats", "ds/dogs"], "give the folder they are in (sksplice profile ds); to "
         "compare two folders with each other, sksplice compare ds/cats ds/dogs"),
        (["ds/cats", "ds/dogs", "ds/birds"], "give the folder they are in (sksplice profile ds)"),
        (["ds/cats", "x.npy"], "give the .npy files without the images (x.npy is one)"),
        (["ds/cats", "other/a.png"], "put the images of each class in a sub-folder of one"),
    ],
)  # fmt: skip
def test_profile_given_several_inputs_says_what_to_give(inputs, said, tmp_path, monkeypatch):
    from sksplice.cli._profile import _several_inputs_message

    for folder in ("ds/cats", "ds/dogs", "ds/birds", "other"):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    message = _several_inputs_message(inputs)
    assert message.startswith(f"profile takes one folder of images, its classes in its sub-"
                              f"folders (or given by --labels), or .npy files of embeddings; "
                              f"got {inputs[1]} after {inputs[0]}: ")  # fmt: skip
    assert said in message, message


def test_a_labels_line_with_a_comma_too_many_is_named(run_env, tmp_path, capsys, no_embedding):
    # (was pandas' "Error tokenizing data. C error: Expected 2 fields in line 3, saw 3")
    labels = tmp_path / "labels.csv"
    rows = [p.relative_to(run_env).as_posix() for p in sorted(run_env.rglob("*.png"))]
    lines = [f"{r},{r.split('/')[0]}" for r in rows]
    lines[2] += ",fluffy"
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _main(
        ["profile", str(run_env), "--labels", str(labels), *_args(tmp_path)], capsys
    )
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot read labels file {labels}: line 3 has 3 fields where the "
        "lines before it have 2: put a value that holds a comma in double quotes"
    )


def test_a_folder_whose_only_images_cannot_be_read_says_why_it_holds_none(
    run_env, tmp_path, capsys, monkeypatch
):
    # the warning naming the folder that could not be read is held back by a refused
    # run, which said only "no image files under folder"
    folder = tmp_path / "photos"
    for name in ("birds", "fish"):
        (folder / name).mkdir(parents=True)
        (folder / name / "0.png").write_bytes((run_env / "cats" / "0.png").read_bytes())
    _refuse_to_list(monkeypatch, "birds")
    (folder / "fish" / "0.png").unlink()
    code, out, err = _main(["decompose", str(folder), *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip().endswith(
        f" under folder {folder}; folder {folder / 'birds'} could not be read (Permission "
        "denied): check its permissions"
    ), err
    assert err.count("\n") == 1, err
    _refuse_to_list(monkeypatch, "birds", "fish")
    code, out, err = _main(["decompose", str(folder), *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip().endswith(
        f" under folder {folder}; 2 folders could not be read: {folder / 'birds'} "
        f"(Permission denied), {folder / 'fish'} (Permission denied); check their permissions"
    ), err


def test_a_folder_without_images_says_what_it_holds(tmp_path, capsys):
    # the note naming the files left out is held back by the refused run: the error
    # said only "no image files under folder F", where a class folder is told in full
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.md", "c.doc", "d.rtf", "e.odt"):
        (folder / name).write_text("x")
    code, out, err = _main(["decompose", str(folder), *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip().endswith(
        f" under folder {folder}: it holds 5 files, none with an image extension (a.txt, b.md, "
        "c.doc and 2 more)"
    ), err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _main(["decompose", str(empty), *_args(tmp_path)], capsys)
    assert code == 2 and err.strip().endswith(
        f" under folder {empty}: it holds no file that is read (hidden files are not)"
    ), err
    (folder / "only.txt").mkdir()  # (a folder named as a file: none of the files)
    for name in ("a.txt", "b.md", "c.doc", "d.rtf", "e.odt"):
        (folder / name).unlink()
    (folder / "notes.txt").write_text("x")
    code, out, err = _main(["decompose", str(folder), *_args(tmp_path)], capsys)
    assert err.strip().endswith(": it holds 1 file, without an image extension (notes.txt)")


def test_images_of_a_folder_come_in_the_order_of_their_numbers(run_env, tmp_path, capsys):
    # p10.png came before p2.png (plain sorting), in the table, the CSV and the report
    folder = tmp_path / "numbered"
    folder.mkdir()
    sources = sorted(run_env.rglob("*.png"))
    for source, name in zip(sources, ("p10.png", "p2.png", "p1.png", "IMG_9.png", "IMG_10.png")):
        (folder / name).write_bytes(source.read_bytes())
    code, out, err = _main(["decompose", str(folder), "-f", "csv", "-q", *_args(tmp_path)], capsys)
    assert code == 0, err
    paths = dict.fromkeys(line.split(",")[0] for line in out.splitlines()[1:])  # (in order)
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "IMG_9.png",
        "IMG_10.png",
        "p1.png",
        "p2.png",
        "p10.png",
    ]


def test_copies_of_large_files_of_one_size_are_told_apart_by_their_whole_content(
    tmp_path, monkeypatch
):
    # uncompressed images of one size (BMP, PPM) all have the same size: their beginnings
    # tell most apart, and only files with the same beginning are read whole
    from sksplice.cli import _inputs

    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = {
        "a/x.ppm": original,
        "a/other.ppm": rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes(),
        "b/y.ppm": original,  # (a copy)
        "b/z.ppm": original[:-1] + bytes([original[-1] ^ 1]),  # (its last byte differs)
        "b/w.ppm": rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    from sksplice import _data

    hashed = []
    real = _data.file_sha256

    def counted(path, **kwargs):
        hashed.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(_data, "file_sha256", counted)
    a = sorted((tmp_path / "a").iterdir())
    b = sorted((tmp_path / "b").iterdir())
    assert _inputs._copies(a, b) == [(tmp_path / "b/y.ppm", tmp_path / "a/x.ppm")]
    assert sorted(hashed) == ["x.ppm", "y.ppm", "z.ppm"]  # (not other.ppm, w.ppm)
