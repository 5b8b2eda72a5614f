"""``sksplice decompose`` given embeddings computed already, as ``.npy`` files."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from ._helpers_cli import in_a_fresh_process, refused_before_torch
from ._helpers_cli import model_args as _args
from ._helpers_cli import run_main as _main


def _image_paths(images: Path) -> list[Path]:
    return sorted(images.rglob("*.png"))


def _embedded(images: Path, tiny_clip_model: str) -> np.ndarray:
    """The tiny model's embeddings of the images of ``run_env``, in path order."""
    from sksplice import CLIPEmbedder

    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu")
    return embedder.fit_transform([str(p) for p in _image_paths(images)])


def _records(out: str) -> list[dict]:
    return json.loads(out)["images"]


def test_embeddings_are_decomposed_as_the_images_they_were_computed_from(
    run_env, tmp_path, capsys, tiny_clip_model
):
    paths = _image_paths(run_env)
    X = _embedded(run_env, tiny_clip_model)
    np.save(tmp_path / "img_emb_0.npy", X.astype(np.float32))
    # clip-retrieval's metadata: a header, the path column named image_path
    rows = "".join(f"{p},{p.parent.name}\n" for p in paths)
    (tmp_path / "metadata.csv").write_text("image_path,label\n" + rows, encoding="utf-8")
    code, out, err = _main(["decompose", str(run_env), "-f", "json", *_args(tmp_path)], capsys)
    assert code == 0, err
    from_images = _records(out)
    argv = ["decompose", str(tmp_path / "img_emb_0.npy"), "--names", str(tmp_path / "metadata.csv")]
    code, out, err = _main([*argv, "-f", "json", *_args(tmp_path)], capsys)
    assert code == 0, err
    from_embeddings = _records(out)
    assert [r["path"] for r in from_embeddings] == [str(p) for p in paths]
    assert [r["path"] for r in from_embeddings] == [r["path"] for r in from_images]
    for a, b in zip(from_embeddings, from_images, strict=True):
        assert a["l0"] == b["l0"] and a["cosine"] == pytest.approx(b["cosine"], abs=1e-5)
        assert [c["concept"] for c in a["concepts"]] == [c["concept"] for c in b["concepts"]]
    metadata = json.loads(out)["metadata"]
    assert metadata["images"] == metadata["decomposed"] == len(paths)
    assert metadata["image_mean"]["source"] == "data"
    files = metadata["embeddings"]["files"]
    assert [(f["path"], f["rows"], f["width"], f["dtype"]) for f in files] == [
        (str(tmp_path / "img_emb_0.npy"), len(paths), 32, "float32")
    ]
    (names,) = metadata["embeddings"]["names"]["files"]
    assert (names["path"], names["column"]) == (str(tmp_path / "metadata.csv"), "image_path")
    assert "CLIP images" not in err  # (no image was embedded)


def test_rows_without_names_are_named_by_file_and_position(run_env, tmp_path, capsys):
    rng = np.random.default_rng(0)
    first, second = tmp_path / "img_emb_0.npy", tmp_path / "img_emb_1.npy"
    np.save(first, rng.normal(size=(4, 32)).astype(np.float16))
    np.save(second, rng.normal(size=(3, 32)).astype(np.float16))
    code, out, err = _main(
        ["decompose", str(first), str(second), "-f", "csv", "-k", "1", *_args(tmp_path)], capsys
    )
    assert code == 0, err
    named = list(dict.fromkeys(line.split(",")[0] for line in out.splitlines()[1:]))
    assert named == [f"{first}[{i}]" for i in range(4)] + [f"{second}[{i}]" for i in range(3)]


def test_names_come_from_one_file_per_npy_file_or_one_for_all(run_env, tmp_path, capsys):
    rng = np.random.default_rng(1)
    files = [tmp_path / "a.npy", tmp_path / "b.npy"]
    np.save(files[0], rng.normal(size=(3, 32)))
    np.save(files[1], rng.normal(size=(2, 32)))
    (tmp_path / "a.txt").write_text("cat 1\ncat 2\n\n", encoding="utf-8")  # a blank name
    (tmp_path / "b.txt").write_text("dog 1\r\ndog 2", encoding="utf-8")  # (no last newline)
    npy = [str(f) for f in files]
    names = ["--names", str(tmp_path / "a.txt"), "--names", str(tmp_path / "b.txt")]
    code, out, err = _main(["decompose", *npy, *names, "-f", "json", *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == [
        "cat 1",
        "cat 2",
        f"{files[0]}[2]",  # (its blank name: its position)
        "dog 1",
        "dog 2",
    ]
    # one file of five names for both
    (tmp_path / "all.txt").write_text("".join(f"n{i}\n" for i in range(5)), encoding="utf-8")
    argv = ["decompose", *npy, "--names", str(tmp_path / "all.txt"), "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == [f"n{i}" for i in range(5)]
    # a pair that does not match is named
    (tmp_path / "b.txt").write_text("dog 1\n", encoding="utf-8")
    code, out, err = _main(["decompose", *npy, *names, *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip() == (
        f"sksplice: error: --names {tmp_path / 'b.txt'} gives 1 name for the 2 rows of "
        f"{files[1]} (each --names file names the rows of the .npy file in the same place on "
        "the command line)"
    )
    code, out, err = _main(["decompose", npy[0], "--names", str(tmp_path / "all.txt"),
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        f"sksplice: error: --names {tmp_path / 'all.txt'} gives 5 names for the 3 rows of "
        f"{files[0]}: give one name per row, in the order of the rows"
    )


def _refused(argv: list[str], capsys) -> str:
    """The standard error of ``sksplice ARGV`` run in process and refused (exit status 2,
    nothing on standard output), stripped."""
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == "", err
    return err.strip()


def test_the_column_of_names_of_a_table_is_found_or_picked(run_env, tmp_path, capsys):
    X = tmp_path / "text_emb_0.npy"
    np.save(X, np.random.default_rng(2).normal(size=(2, 32)).astype(np.float32))
    table = tmp_path / "meta.csv"
    table.write_text("key,caption,width\n000,a dog,500\n001,a cat,375\n", encoding="utf-8")
    code, out, err = _main(["decompose", str(X), "--names", str(table), "-f", "json",
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == ["000", "001"]  # (key before caption)
    argv = ["decompose", str(X), "--names", str(table), "--names-column", "caption", "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == ["a dog", "a cat"]
    assert json.loads(out)["metadata"]["embeddings"]["names"]["files"][0]["column"] == "caption"
    table.write_text("width,height\n500,375\n640,480\n", encoding="utf-8")
    code, out, err = _main(["decompose", str(X), "--names", str(table), *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.startswith(
        f"sksplice: error: --names {table} has 2 columns (width, height), none of them named as "
        "a column of names is ("
    ), err
    assert err.strip().endswith("pick one with --names-column")
    argv = ["decompose", str(X), "--names", str(table), "--names-column", "Width"]
    assert _refused([*argv, *_args(tmp_path)], capsys) == (
        f"sksplice: error: --names-column Width: --names {table} has no column 'Width' "
        "(did you mean 'width'?); its columns: width, height"
    )
    # the classes of a profile, from a column of the --names table: the option that
    # named the column is the one named (it said --names, without a close match)
    table.write_text("key,label\n000,cat\n001,dog\n", encoding="utf-8")
    argv = ["profile", str(X), "--names", str(table), "--labels-column", "lable"]
    assert _refused([*argv, *_args(tmp_path)], capsys) == (
        f"sksplice: error: --labels-column lable: --names {table} has no column 'lable' "
        "(did you mean 'label'?); its columns: key, label"
    )


def test_a_names_file_that_is_not_utf8_is_named_with_its_line_and_byte(run_env, tmp_path, capsys):
    # It said "byte 3 cannot be read" (a file of lines) or nothing of where (a table),
    # where a vocabulary file's error names the line and the byte.
    X = tmp_path / "text_emb_0.npy"
    np.save(X, np.random.default_rng(2).normal(size=(3, 32)).astype(np.float32))
    lines = tmp_path / "names.txt"
    lines.write_bytes("a dog\na cat\na caf\u00e9\n".encode("latin-1"))
    table = tmp_path / "names.csv"
    table.write_bytes("key,caption\n0,a dog\n1,a cat\n2,a caf\u00e9\n".encode("latin-1"))
    for names, line in ((lines, 3), (table, 4)):
        argv = ["decompose", str(X), "--names", str(names), *_args(tmp_path)]
        assert _refused(argv, capsys) == (
            f"sksplice: error: --names {names}, line {line}: not valid UTF-8 (byte 0xe9); "
            "save it as UTF-8"
        )


def test_names_that_repeat_are_said(run_env, tmp_path, capsys):
    # A column of captions picked, every one 'c': 50 records of one name, and no word.
    X = tmp_path / "text_emb_0.npy"
    np.save(X, np.random.default_rng(2).normal(size=(4, 32)).astype(np.float32))
    table = tmp_path / "meta.csv"
    table.write_text("key,caption\n000,c\n001,c\n002,c\n003,d\n", encoding="utf-8")
    argv = ["decompose", str(X), "--names", str(table), "-f", "json", *_args(tmp_path)]
    code, out, err = _main([*argv, "--names-column", "caption"], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == ["c", "c", "c", "d"]
    assert (
        f"sksplice: warning: 3 of the 4 rows share their name with another row ('c' "
        f"names 3 rows; names from column 'caption' of {table}): their records are told "
        "apart only by their order; --names-column picks a column of one name per row"
    ) in err
    code, out, err = _main(argv, capsys)  # (the keys: one name per row, nothing said)
    assert code == 0 and "share their name" not in err, err


def test_a_parquet_table_of_names_is_read(run_env, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(3, 32)))
    meta = tmp_path / "metadata_0.parquet"
    pd.DataFrame({"url": ["u0", "u1", "u2"], "caption": ["c0", None, "c2"]}).to_parquet(meta)
    argv = ["decompose", str(X), "--names", str(meta), "--names-column", "caption", "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == ["c0", f"{X}[1]", "c2"]  # (a missing one)
    # rows without a name were named by position in silence: a wrong column, or a join's
    # missing values
    assert (
        f"sksplice: warning: --names {meta}: 1 of its 3 rows has no name in its column "
        "'caption' (the first: its 2nd row); those rows are named by their .npy file and row "
        "instead"
    ) in err, err
    pd.DataFrame({"image_path": [None] * 3, "caption": ["a", "b", "c"]}).to_parquet(meta)
    code, out, err = _main(["decompose", str(X), "--names", str(meta), *_args(tmp_path)], capsys)
    assert code == 0, err
    assert (
        f"--names {meta}: none of its 3 rows has a name in its column 'image_path' (pick "
        "another with --names-column)"
    ) in err, err
    lines = tmp_path / "names.txt"
    lines.write_text("x\n\nz\n", encoding="utf-8")
    code, out, err = _main(["decompose", str(X), "--names", str(lines), *_args(tmp_path)], capsys)
    assert code == 0, err
    assert f"--names {lines}: 1 of its 3 lines is blank (the first: line 2)" in err, err


def test_embeddings_of_another_width_are_refused_before_torch(run_env, tmp_path):
    X = tmp_path / "text_emb.npy"
    np.save(X, np.zeros((300, 384), dtype=np.float32))
    err = refused_before_torch(["decompose", str(X), *_args(tmp_path)])
    assert err.splitlines() == [
        f"sksplice: error: {X} holds embeddings of width 384 (shape 300 x 384), and "
        "sksplice-test-tiny embeds images to 32 values: give the --model (and --pretrained) "
        "that made them"
    ]


def test_a_run_whose_images_and_dictionary_are_cached_does_not_import_open_clip(run_env, tmp_path):
    # `--pretrained none` asked open_clip for the model's published tags (to warn that its
    # weights are random), importing it: 3.7 s of a 12 s run that ran no model.
    argv = ["decompose", str(run_env), "-q", *_args(tmp_path)]
    first = in_a_fresh_process(argv)
    assert first.stdout.split()[-3:] == ["0", "True", "True"], first.stderr
    again = in_a_fresh_process(argv)
    assert again.stdout.split()[-3:] == ["0", "True", "False"], again.stderr


def test_rows_that_are_not_finite_are_skipped_and_named_or_stop_a_strict_run(
    run_env, tmp_path, capsys
):
    # (one NaN row stopped the run, as no unreadable image does)
    X = np.random.default_rng(4).normal(size=(70_000, 32)).astype(np.float16)
    X[66_000, 3] = np.nan
    X[69_999, 0] = np.inf
    X[5] = 0  # (no direction: named once, with no concept)
    path = tmp_path / "img_emb_0.npy"
    np.save(path, X)
    proc = in_a_fresh_process(["decompose", str(path), "--strict", *_args(tmp_path)])
    # (an error of the run, exit 1, as --strict's first unreadable image; before torch)
    assert proc.stdout.split() == ["1", "False", "False"], proc.stderr
    assert proc.stderr.splitlines() == [
        f"sksplice: error: {path}[66000] holds values that are not finite (NaN or infinite), "
        f"as 2 rows of {path} do, which no decomposition explains (--strict stops at the "
        "first; without it, such rows are skipped and named)"
    ]
    small = tmp_path / "small.npy"
    np.save(small, X[[0, 1, 5, 66_000, 2, 69_999, 3]])
    names = tmp_path / "names.txt"
    names.write_text("".join(f"image {i}\n" for i in range(7)), encoding="utf-8")
    argv = ["decompose", str(small), "--names", str(names), "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    document = json.loads(out)
    assert [r["path"] for r in document["images"]] == [f"image {i}" for i in (0, 1, 2, 4, 6)]
    reason = "its values are not all finite (NaN or infinite)"
    assert document["metadata"]["skipped"] == [
        {"path": "image 3", "reason": reason},
        {"path": "image 5", "reason": reason},
    ]
    meta = document["metadata"]
    assert (meta["images"], meta["decomposed"], meta["image_mean"]["n_samples"]) == (7, 5, 4)
    assert "sksplice: warning: skipped 2 of 7 rows:" in err, err
    assert (
        "sksplice: warning: 1 row is all zero (image 2): an embedding without a direction "
        "holds no concept, and is left out of a centre learned from the rows"
    ) in err.splitlines(), err
    assert "X row(s)" not in err
    assert next(r for r in document["images"] if r["path"] == "image 2")["l0"] == 0
    # nor by the other commands: the library's warning numbered the row among the rows
    # decomposed, of all files ("X row(s) 6 are all zero" for small.npy[2] after other.npy)
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{'ab'[i % 2]}\n" for i in range(7)), encoding="utf-8")
    other = tmp_path / "other.npy"
    np.save(other, X[[6, 7, 8, 9]])
    for argv in (
        ["profile", str(small), "--labels", str(labels)],
        ["compare", str(other), str(small)],
        ["search", str(small), "--concepts", "dog"],
    ):
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 0, err
        said = [line for line in err.splitlines() if "all zero" in line]
        assert said == [
            f"sksplice: warning: 1 row is all zero ({small}[2]): an embedding without a "
            "direction holds no concept, and is left out of a centre learned from the rows"
        ], (argv, err)


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    """Files given as embeddings that are not, and what is said of each."""
    cases = []
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    cases.append((empty, "it is empty (0 bytes)"))
    text = tmp_path / "text.npy"
    text.write_text("a,b\n1,2\n")
    cases.append((text, "numpy's .npy header is missing (a file of another kind, renamed?)"))
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases.append((objects, "it holds Python objects, not numbers"))
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as fh:
        np.savez(fh, X=np.zeros((2, 32)))
    cases.append(
        (
            archive,
            "it is an .npz archive of arrays (named X); save the array of embeddings alone "
            "with numpy.save",
        )
    )
    cut = tmp_path / "cut.npy"
    np.save(cut, np.zeros((100, 32), dtype=np.float32))
    cut.write_bytes(cut.read_bytes()[:500])
    cases.append((cut, "it is shorter than its header says (cut off while written or copied?)"))
    return [
        (p, f"sksplice: error: {p} is not a .npy file of embeddings: {why}") for p, why in cases
    ]


def test_files_that_hold_no_embeddings_are_refused_with_why(
    run_env, tmp_path, capsys, no_embedding
):
    for path, said in _bad_files(tmp_path):
        code, out, err = _main(["decompose", str(path), *_args(tmp_path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == said
    ints = tmp_path / "ints.npy"
    np.save(ints, np.ones((3, 32), dtype=np.int8))
    cube = tmp_path / "cube.npy"
    np.save(cube, np.ones((3, 4, 32)))
    none = tmp_path / "none.npy"
    np.save(none, np.ones((0, 32)))
    for path, said in [
        (ints, f"{ints} holds values of type int8, not floating-point numbers: embeddings are "
         "float16, float32 or float64"),
        (cube, f"{cube} holds an array of shape (3, 4, 32): embeddings are one row per image, "
         "of shape (images, width)"),
        (none, f"{none} holds no embedding (shape (0, 32))"),
    ]:  # fmt: skip
        code, out, err = _main(["decompose", str(path), *_args(tmp_path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == f"sksplice: error: {said}"
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.ones((2, 32)))
    np.save(b, np.ones((2, 16)))
    code, out, err = _main(["decompose", str(a), str(b), *_args(tmp_path)], capsys)
    assert code == 2
    assert err.strip() == (
        f"sksplice: error: {b} holds embeddings of width 16, {a} of width 32: the files of one "
        "run hold embeddings of one model; decompose them in separate runs, each with the "
        "--model that made it"
    )


def test_names_options_without_embeddings_and_outputs_onto_them_are_refused(
    run_env, tmp_path, capsys, no_embedding
):
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n", encoding="utf-8")
    code, out, err = _main(["decompose", str(run_env), "--names", str(names), *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        "sksplice: error: --names names the rows of embeddings given as .npy files; images are "
        "named by their paths (give only .npy files to decompose embeddings computed already)"
    )
    X = tmp_path / "X.npy"
    np.save(X, np.ones((2, 32)))
    code, out, err = _main(["decompose", str(X), "--names-column", "path", *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2
    assert err.strip() == (
        "sksplice: error: --names-column picks the column of a --names table: give --names too"
    )
    for output in (X, names):
        argv = ["decompose", str(X), "--names", str(names), "-o", str(output), "-f", "csv"]
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 2, err
        what = "input embeddings" if output == X else "--names"
        assert f"is the {what} file of this run" in err, err
    assert np.load(X).shape == (2, 32) and names.read_text() == "a\nb\n"


def test_one_embedding_is_decomposed_around_a_given_centre_and_refused_without(
    run_env, tmp_path, capsys
):
    one = tmp_path / "one.npy"
    np.save(one, np.random.default_rng(5).normal(size=32).astype(np.float32))  # (1-D: one row)
    code, out, err = _main(["decompose", str(one), "--image-mean", "data", *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert "cannot be learned from a single embedding: its centred" in err, err
    mean = tmp_path / "mean.npy"
    np.save(mean, np.full(32, 0.1, dtype=np.float32))
    argv = ["decompose", str(one), "--image-mean", str(mean), "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == [f"{one}[0]"]
    assert json.loads(out)["metadata"]["embeddings"]["files"][0]["rows"] == 1
    # (said: a 1-D file may be a centre, or a flattened array, given by mistake)
    assert f"sksplice: {one} holds one vector (shape (32,)): read as one embedding" in err


def test_a_centre_known_only_once_the_model_loads_is_checked_after_the_fit(
    splice_data_dir, tmp_path, caplog
):
    # Where the published mean was not in the data home before the run (downloaded with
    # the model) the rows are checked against it once it is: the same refusal. Images
    # the run embedded itself are not checked against the model's own published mean.
    from sksplice.cli._checks import _Plan
    from sksplice.cli._decompose import _say_if_centre_mismatched, _where_centred
    from sksplice.cli._embeddings import EmbeddingInputs, check_centre
    from sksplice.cli._logging import UsageError
    from sksplice.vocabulary import load_image_mean

    laion = load_image_mean("ViT-B-32", "laion2b_s34b_b79k", data_home=splice_data_dir)
    openai = load_image_mean("ViT-B-32", "openai", data_home=splice_data_dir)
    X = _around(openai, 300, 6)
    plan = _Plan("ViT-B-32", "laion2b_s34b_b79k", 512, ["a", "b"], laion, "pretrained")
    emb = EmbeddingInputs([tmp_path / "X.npy"], [X], ["x"] * 300, [], [])
    with pytest.raises(UsageError, match=r"give --model ViT-B-32 --pretrained openai \(or"):
        check_centre(emb, laion, _where_centred(plan), splice_data_dir, published=True)

    class Fitted:
        mean_ = laion
        data_home = splice_data_dir

    with caplog.at_level(logging.WARNING, logger="sksplice"):
        _say_if_centre_mismatched(plan, Fitted(), X)
    assert caplog.messages == []


def test_a_npy_file_beside_images_is_refused_before_any_work(run_env, tmp_path, capsys):
    # (it was skipped once every image was decomposed: "not an image file PIL can read")
    X = tmp_path / "X.npy"
    np.save(X, np.ones((3, 32), dtype=np.float32))
    images = [str(p) for p in _image_paths(run_env)[:2]]
    for argv in ([str(X), *images], [str(X), str(run_env)]):
        code, out, err = _main(["decompose", *argv, *_args(tmp_path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == (
            f"sksplice: error: {X} is a file of embeddings given beside images: decompose the "
            f"embeddings in a run of their own (sksplice decompose {X}), and the images "
            "without it"
        )
    code, out, err = _main(["search", str(X), *images, "--concepts", "dog", *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2 and out == ""
    assert f"(sksplice search {X}), and the images without it" in err, err
    output = tmp_path / "report.html"
    code, out, err = _main(["report", images[0], images[1], str(X), "-o", str(output),
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 2 and not output.exists()
    assert f"(sksplice report {X}), and the images without it" in err, err


def test_the_metadata_says_a_published_centre_is_the_published_one(splice_data_dir):
    # The transformer is given the published mean as an array (its mean_source_ is
    # "given"): the metadata said {"source": "given"}, not the documented "pretrained".
    import argparse

    from sksplice.cli._checks import _Plan
    from sksplice.cli._decompose import _Decomposition, _metadata
    from sksplice.vocabulary import load_image_mean

    laion = load_image_mean("ViT-B-32", "laion2b_s34b_b79k", data_home=splice_data_dir)
    plan = _Plan("ViT-B-32", "laion2b_s34b_b79k", 512, ["a", "b"], laion, "pretrained")

    class Fitted:
        mean_source_ = "given"
        concepts_ = ("a", "b")
        l1_penalty_ = 0.25
        embedder = None

    args = argparse.Namespace(vocabulary="laion", target_l0=None, solver="auto")
    dec = _Decomposition(paths=["a"], X=np.zeros((1, 512)), splice=Fitted(), skipped=[],
                         plan=plan, n_inputs=1)  # fmt: skip
    assert _metadata(args, dec)["image_mean"] == {"source": "pretrained"}


def _around(mean: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = mean + 0.05 * rng.normal(size=(n, mean.size))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float16)


def _centre_run(X: Path, data_home: Path, tmp_path: Path) -> list[str]:
    return ["decompose", str(X), "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k",
            "--data-home", str(data_home), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip


@pytest.fixture
def model_not_reached(monkeypatch):
    """The run stops where it would check (load or download) the model."""
    from sksplice.cli import _embedders
    from sksplice.cli._logging import CLIError

    def stop(*args, **kwargs):
        raise CLIError("the model is reached")

    monkeypatch.setattr(_embedders, "check_model", stop)


def test_embeddings_of_other_published_weights_are_refused_before_the_model_loads(
    splice_data_dir, tmp_path, capsys, model_not_reached
):
    # OpenAI ViT-B-32 embeddings (clip-retrieval's default) decomposed with the default
    # LAION weights were warned about once the weights were loaded (a download) and the
    # vocabulary embedded, and the run wrote concepts explaining the offset, exit 0.
    from sksplice.vocabulary import load_image_mean

    openai = load_image_mean("ViT-B-32", "openai", data_home=splice_data_dir)
    X = tmp_path / "img_emb_0.npy"
    np.save(X, _around(openai, 600, 7))
    code, out, err = _main(_centre_run(X, splice_data_dir, tmp_path), capsys)
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(
        f"sksplice: error: the embeddings of {X} do not lie around the published image mean "
        "of ViT-B-32/laion2b_s34b_b79k: the mean direction of 512 of them has cosine "
    ), line
    assert line.endswith(
        "with the published image mean of ViT-B-32/openai: they are embeddings of "
        "ViT-B-32/openai, whose text tower must embed the concepts: give --model ViT-B-32 "
        "--pretrained openai (or --image-mean data to centre them by their own mean)"
    ), line


def test_embeddings_around_no_published_mean_are_warned_about_before_the_model_loads(
    splice_data_dir, tmp_path, capsys, model_not_reached
):
    X = tmp_path / "img_emb_0.npy"
    np.save(X, _around(np.random.default_rng(8).normal(size=512) / 30, 600, 9))
    code, out, err = _main(_centre_run(X, splice_data_dir, tmp_path), capsys)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[-1] == "sksplice: error: the model is reached", err
    assert lines[0].startswith(
        f"sksplice: warning: the embeddings of {X} do not lie around the published image mean "
        "of ViT-B-32/laion2b_s34b_b79k: "
    ), err
    assert "They are likely embeddings of other CLIP weights, or of texts: give the --model" in err


def test_shards_and_their_names_are_given_as_the_shell_lists_them(run_env, tmp_path, capsys):
    # clip-retrieval's shards: img_emb_0 ... img_emb_10, metadata_0 ... metadata_10. The
    # shell lists both as 0, 1, 10, 2, ...: `--names metadata/*.parquet` gave only the first
    # file to --names (the others were taken for images), and one names table joined in the
    # numbers' order named most rows wrongly, silently.
    rng = np.random.default_rng(10)
    (tmp_path / "img_emb").mkdir()
    (tmp_path / "metadata").mkdir()
    shards = [0, 1, 10, 2]  # (as the shell sorts them)
    for k in shards:
        np.save(tmp_path / "img_emb" / f"img_emb_{k}.npy", rng.normal(size=(2, 32)))
        (tmp_path / "metadata" / f"metadata_{k}.csv").write_text(
            f"image_path\nshard{k}/a.png\nshard{k}/b.png\n", encoding="utf-8"
        )
    npy = [str(tmp_path / "img_emb" / f"img_emb_{k}.npy") for k in shards]
    tables = [str(tmp_path / "metadata" / f"metadata_{k}.csv") for k in shards]
    code, out, err = _main(["decompose", *npy, "--names", *tables, "-f", "json",
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == [
        f"shard{k}/{x}.png" for k in shards for x in ("a", "b")
    ]
    assert "order" not in err  # (one names file per .npy file: paired in the same order)
    # one table for all: the order the rows are read in is said
    joined = tmp_path / "all.csv"
    joined.write_text(
        "image_path\n" + "".join(f"shard{k}/{x}.png\n" for k in (0, 1, 2, 10) for x in "ab"),
        encoding="utf-8",
    )
    code, out, err = _main(["decompose", *npy, "--names", str(joined), *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 0
    assert (
        f"sksplice: warning: the .npy files are read in the order given, {npy[2]} before "
        f"{npy[3]} (as the shell sorts numbered files), not in the order of their numbers: "
        f"--names {joined} must name their rows in that order; give one --names file per .npy "
        "file (--names metadata/*.parquet pairs them in the same order)"
    ) in err.splitlines(), err
    # an order typed by hand is no shell's
    typed = [npy[1], npy[0], npy[3], npy[2]]
    code, out, err = _main(["decompose", *typed, "--names", str(joined), *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert (
        f"sksplice: warning: the .npy files are read in the order given, {npy[1]} before "
        f"{npy[0]}, not in the order of their numbers: "
    ) in err, err
    # a names file among the inputs; .npy files after --names; a count of names files
    # that fits neither; a file given twice
    for argv, said in [
        ([npy[0], tables[0]], f"{tables[0]} is given as an input beside .npy files: a file of "
         "names goes after --names, which takes one per .npy file, in their order (sksplice "
         "decompose img_emb/*.npy --names metadata/*.parquet)"),
        ([npy[0], "--names", tables[0], npy[1]], f"--names {npy[1]}: a .npy file is no file of "
         "names (--names takes every file that follows it): give the .npy files first "
         "(sksplice decompose img_emb/*.npy --names metadata/*.parquet)"),
        ([*npy[:3], "--names", *tables[:2]], "--names gives 2 files for 3 .npy files: give one "
         "per .npy file, in their order, or one for all their rows"),
        ([npy[0], npy[1], npy[0]], f"{npy[0]} is given twice: its rows would be decomposed "
         "twice, and counted twice in a learned centre; give each file once"),
        ([npy[0], npy[1], "--names", tables[0], tables[0]], f"--names {tables[0]} is given "
         "twice: give each file of names once"),
        ([npy[2], npy[3], "--names", tables[3], tables[2]], f"--names pairs {npy[2]} with "
         f"{tables[3]}, numbered 10 and 2: give the files of names in the order of the .npy "
         "files (the shell lists img_emb/*.npy and metadata/*.parquet alike; a list written "
         "by hand may not)"),
    ]:  # fmt: skip
        code, out, err = _main(["decompose", *argv, *_args(tmp_path)], capsys)
        assert code == 2 and out == ""
        assert err.strip() == f"sksplice: error: {said}"
    # --names first takes the .npy files too, which left no input ("IMAGE_OR_FOLDER is
    # required"): said as when it follows an input
    code, out, err = _main(["decompose", "--names", tables[0], npy[0], *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip() == (
        f"sksplice: error: decompose: --names {npy[0]}: a .npy file is no file of names "
        "(--names takes every file that follows it): give the .npy files first (sksplice "
        "decompose img_emb/*.npy --names metadata/*.parquet); see sksplice decompose --help"
    )
    # what --names takes ends at the next option: a .npy after it is an input (refused as
    # a file of names), or another option's value (the names were blamed on it)
    argv = ["decompose", "--names", tables[0], "-k", "1", npy[0], "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert [r["path"] for r in _records(out)] == ["shard0/a.png", "shard0/b.png"]
    mean = tmp_path / "mean.npy"
    np.save(mean, np.ones(32) / np.sqrt(32))
    argv = ["decompose", str(run_env), "--names", tables[0], "--image-mean", str(mean)]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert "--names names the rows of embeddings given as .npy files" in err, err


def test_names_files_of_other_kinds_are_read_or_told_what_is_wrong(run_env, tmp_path, capsys):
    import gzip

    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(11).normal(size=(3, 32)))
    rows = "".join(f"img{i}.png\n" for i in range(3))
    read = {
        "names.csv.gz": gzip.compress(("image_path\n" + rows).encode()),
        "names.jsonl": "".join(f'{{"image_path": "img{i}.png", "n": {i}}}\n' for i in range(3)),
    }
    for name, content in read.items():
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        code, out, err = _main(["decompose", str(X), "--names", str(path), "-f", "json",
                                *_args(tmp_path)], capsys)  # fmt: skip
        assert code == 0, err
        assert [r["path"] for r in _records(out)] == [f"img{i}.png" for i in range(3)]
    told = {
        "names.txt.gz": (gzip.compress(rows.encode()), "is compressed (.gz) text: decompress "
                         "it, or give a compressed table (.csv.gz, .tsv.gz, .jsonl.gz)"),
        "semi.csv": ("image_path;n\n" + rows, "its header 'image_path;n' is one column of a "
                     ".csv file, separated by semicolons: save it with commas between the "
                     "columns (a spreadsheet's list separator), or with tabs as a .tsv file"),
        "bare.csv": (rows, "gives 2 names for the 3 rows of " + str(X) + ": give one name per "
                     "row, in the order of the rows (a table's first line is its header: "
                     "'img0.png' was read as the name of the column, not of a row)"),
        "blank.txt": (rows + "\n\n", "gives 5 names for the 3 rows of " + str(X) + ": give "
                      "one name per row, in the order of the rows (its last 2 lines are "
                      "blank)"),
    }  # fmt: skip
    for name, (content, said) in told.items():
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        code, out, err = _main(["decompose", str(X), "--names", str(path), *_args(tmp_path)],
                               capsys)  # fmt: skip
        assert code == 2 and out == ""
        assert err.strip() == f"sksplice: error: --names {path}: {said}".replace(
            f"{path}: gives", f"{path} gives"
        ).replace(f"{path}: is compressed", f"{path} is compressed"), err


def test_too_few_rows_left_are_told_before_the_model_and_all_zero_rows_refused(
    run_env, tmp_path, capsys, no_embedding
):
    # one row left once the others are skipped is a finding of the run (exit 1, the
    # skipped rows named), as one image left of several is; one row given is exit 2
    two = tmp_path / "two.npy"
    np.save(two, np.array([[np.nan] * 32, [0.1] * 32]))
    for image_mean in ("data", "auto"):
        code, out, err = _main(
            ["decompose", str(two), "--image-mean", image_mean, *_args(tmp_path)], capsys
        )
        assert code == 1 and out == ""
        assert err.strip() == (
            "sksplice: error: the image mean (the modality centre) cannot be learned from a "
            f"single embedding (the only one of the 2 rows with finite values; skipped: "
            f"{two}[0]): its centred embedding would be zero. Decompose it together with other "
            "embeddings of the same model (at least 100 give a stable centre), or give "
            "--image-mean FILE.npy (the mean image embedding of the model that made it; "
            "--image-mean pretrained where that model has a published mean)"
        )
    one = tmp_path / "one.npy"
    np.save(one, np.array([[0.1] * 32]))
    code, out, err = _main(["decompose", str(one), *_args(tmp_path)], capsys)
    assert code == 2 and "cannot be learned from a single embedding: its centred" in err
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((3, 32), np.nan))
    code, out, err = _main(["decompose", str(nan), *_args(tmp_path)], capsys)
    assert code == 1 and out == ""
    assert err.strip() == (
        "sksplice: error: none of the 3 rows can be decomposed: every one holds values that "
        "are not finite (NaN or infinite)"
    )


def test_rows_that_leave_no_centre_to_learn_are_refused_before_the_vocabulary(
    run_env, tmp_path, capsys, no_embedding
):
    # all zero, or all the same: found once every value is read (before the model loads
    # where its name gives its width, as ViT-B-32's does), not after the vocabulary is
    # embedded; no advice of another model (the rows are of theirs)
    zeros, same = tmp_path / "zeros.npy", tmp_path / "same.npy"
    np.save(zeros, np.zeros((4, 32), dtype=np.float32))
    np.save(same, np.tile(np.linspace(0.1, 1.0, 32, dtype=np.float32), (5, 1)))
    code, out, err = _main(["decompose", str(zeros), *_args(tmp_path)], capsys)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        "sksplice: error: every one of the 4 rows to decompose is all zero: no centre can be "
        "learned from them, and none holds a concept"
    ), err
    code, out, err = _main(["decompose", str(same), "--image-mean", "data", *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 1 and out == ""
    assert err.strip() == (
        "sksplice: error: the image mean (the modality centre) cannot be learned from these 5 "
        "rows: they all point the same way (copies of one embedding?), so every centred "
        "embedding, and every weight, would be zero. Decompose them together with other "
        "embeddings of the same model, or give --image-mean FILE.npy (the mean image embedding "
        "of the model that made them; --image-mean pretrained where that model has a "
        "published mean)"
    ), err


def test_rows_all_zero_are_refused_before_a_model_whose_name_gives_its_width(run_env, tmp_path):
    # In a process of its own (one that imported open_clip asks it for the width, after
    # loading it): offline, with no weights at hand, the rows are refused first; had the
    # model been reached, its weights would be the error.
    import subprocess
    import sys

    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((4, 512), dtype=np.float32))
    argv = ["decompose", str(wide), "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k",
            "--image-mean", "data", "--vocabulary", str(tmp_path / "vocab.txt")]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sksplice", *argv], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "sksplice: error: every one of the 4 rows to decompose is all zero: no centre can be "
        "learned from them, and none holds a concept"
    ), done.stderr


def test_the_centre_is_checked_on_finite_rows_and_after_the_fit_where_torch_reads_it(
    run_env, tmp_path, capsys, splice_data_dir
):
    # An infinite value among the first rows made the centre check warn that the rows
    # were of other weights (cosine 0.0); a centre read with torch (a .pt file) is known
    # only once torch and the model are, and was not checked at all.
    import torch

    from sksplice.cli._embeddings import EmbeddingInputs, check_centre
    from sksplice.vocabulary import load_image_mean

    laion = load_image_mean("ViT-B-32", "laion2b_s34b_b79k", data_home=splice_data_dir)
    X = _around(laion, 300, 12).astype(np.float32)
    X[0, 0] = np.inf
    emb = EmbeddingInputs([tmp_path / "X.npy"], [X], ["x"] * 300, [], [], [0])
    check_centre(emb, laion, "the published image mean", splice_data_dir, published=True)
    assert capsys.readouterr().err == ""
    rows = tmp_path / "rows.npy"
    np.save(rows, np.random.default_rng(13).normal(size=(50, 32)) + 1.0)
    mean = tmp_path / "mean.pt"
    torch.save(torch.full((32,), -0.15), mean)
    code, _, err = _main(["decompose", str(rows), "--image-mean", str(mean), "-q",
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 0, err
    assert (
        f"sksplice: warning: the embeddings of {rows} do not lie around the image mean in " in err
    )
    assert "The mean points the opposite way (its sign flipped?)" in err, err


def test_names_read_as_written(run_env, tmp_path, capsys):
    X = tmp_path / "a_1.npy"
    np.save(X, np.random.default_rng(14).normal(size=(3, 32)))
    other = tmp_path / "b.npy"
    np.save(other, np.random.default_rng(15).normal(size=(2, 32)))
    (tmp_path / "one.csv").write_text("image_path\nx.png\n\nz.png\n", encoding="utf-8")
    (tmp_path / "bom.txt").write_text("\ufeffx.png\ny.png\nz.png\n", encoding="utf-8")
    for names, expected in (("one.csv", ["x.png", f"{X}[1]", "z.png"]),
                            ("bom.txt", ["x.png", "y.png", "z.png"])):  # fmt: skip
        code, out, err = _main(["decompose", str(X), "--names", str(tmp_path / names), "-f",
                                "json", *_args(tmp_path)], capsys)  # fmt: skip
        assert code == 0, err
        assert [r["path"] for r in _records(out)] == expected
    # unnumbered files read as given: no word of their numbers' order; a header that is one
    (tmp_path / "all.txt").write_text("".join(f"n{i}\n" for i in range(5)), encoding="utf-8")
    code, out, err = _main(["decompose", str(X), str(other), "--names", str(tmp_path / "all.txt"),
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 0 and "order" not in err, err
    (tmp_path / "short.csv").write_text("image_path\nx.png\ny.png\n", encoding="utf-8")
    code, out, err = _main(["decompose", str(X), "--names", str(tmp_path / "short.csv"),
                            *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 2 and "header" not in err, err
    # a table's column of encoded pictures is no column of names; a compressed names file
    # among the inputs is told to go after --names
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    table = tmp_path / "images.parquet"
    pd.DataFrame({"image": [b"\x89PNG", b"\x89PNG", b"\x89PNG"], "text": list("abc")}).to_parquet(
        table
    )
    code, out, err = _main(["decompose", str(X), "--names", str(table), *_args(tmp_path)], capsys)
    assert code == 2
    assert err.strip() == (
        f"sksplice: error: --names {table}: its column 'image' holds bytes values, not names: "
        "pick the column of names with --names-column (its columns: image, text)"
    )
    gz = tmp_path / "names.csv.gz"
    gz.write_bytes(b"")
    code, out, err = _main(["decompose", str(X), str(gz), *_args(tmp_path)], capsys)
    assert code == 2 and "is given as an input beside .npy files" in err, err


def test_options_are_checked_before_every_value_is_read(run_env, tmp_path, capsys, monkeypatch):
    # Every value of every file was read for finiteness before the options were checked:
    # on gigabytes of shards, a misspelt option cost a full scan before its one-line error.
    from sksplice.cli import _embeddings

    scanned = []
    scan = _embeddings._not_finite
    monkeypatch.setattr(_embeddings, "_not_finite", lambda a: scanned.append(a.shape) or scan(a))
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(14).normal(size=(20, 32)).astype(np.float32))
    missing = tmp_path / "no-such-vocabulary.txt"
    argv = ["decompose", str(X), *_args(tmp_path), "--vocabulary", str(missing)]
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == "" and str(missing) in err, err
    code, out, err = _main(["decompose", str(X), "--image-mean", "data", "-o",
                            str(tmp_path / "no-such-folder" / "out.csv"), *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2 and out == "" and "no-such-folder" in err, err
    assert scanned == []
    code, out, err = _main(["decompose", str(X), "-q", *_args(tmp_path)], capsys)
    assert code == 0 and scanned == [(20, 32)], err


def test_a_shard_of_other_weights_among_the_shards_is_found(
    splice_data_dir, tmp_path, capsys, model_not_reached
):
    # Only the first rows of the first file were looked at: a shard of other weights
    # given after it was decomposed around a centre it does not lie around.
    from sksplice.vocabulary import load_image_mean

    laion = load_image_mean("ViT-B-32", "laion2b_s34b_b79k", data_home=splice_data_dir)
    openai = load_image_mean("ViT-B-32", "openai", data_home=splice_data_dir)
    shards = [tmp_path / f"img_emb_{i}.npy" for i in range(3)]
    np.save(shards[0], _around(laion, 600, 15))
    np.save(shards[1], _around(laion, 5, 16))  # (too few to tell: taken with the next)
    np.save(shards[2], _around(openai, 40, 17))
    argv = _centre_run(shards[0], splice_data_dir, tmp_path)
    code, out, err = _main([*argv[:2], *map(str, shards[1:]), *argv[2:]], capsys)
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(
        f"sksplice: error: the embeddings of {shards[1]} to {shards[2]} do not lie around the "
        "published image mean of ViT-B-32/laion2b_s34b_b79k: the mean direction of 45 of them "
    ), line
    assert "they are embeddings of ViT-B-32/openai" in line, line
    np.save(shards[2], _around(laion, 40, 17))
    code, out, err = _main([*argv[:2], *map(str, shards[1:]), *argv[2:]], capsys)
    assert err.splitlines() == ["sksplice: error: the model is reached"], err


def test_rows_all_zero_are_not_counted_as_left_without_a_concept_by_the_penalty(
    run_env, tmp_path, capsys
):
    # 12 rows a job never filled, beside 8 that hold concepts, were said to be "12 of the
    # 20 images decompose to no concept at --l1-penalty 0.25 ... A smaller --l1-penalty
    # keeps more concepts": no penalty gives them one.
    rng = np.random.default_rng(18)
    X = np.vstack([np.zeros((12, 32)), rng.normal(size=(8, 32))]).astype(np.float32)
    path, mean = tmp_path / "img_emb_0.npy", tmp_path / "mean.npy"
    np.save(path, X)
    np.save(mean, rng.normal(size=32) * 0.1)
    argv = ["decompose", str(path), "-f", "csv", "--image-mean", str(mean), *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 0, err
    l0 = [int(row["l0"]) for row in csv.DictReader(io.StringIO(out))]
    assert "12 rows are all zero" in err, err
    assert "no concept at" not in err and "no concept has a non-zero weight" not in err, err
    np.save(path, np.zeros((12, 32), dtype=np.float32))
    code, out, err = _main(argv, capsys)
    assert code == 0 and "no concept has a non-zero weight" not in err, err
    assert "12 rows are all zero" in err, err
    assert l0 and min(l0) == 0 and max(l0) > 0


def test_rows_without_a_concept_at_the_penalty_are_counted_as_rows(run_env, tmp_path, capsys):
    # "191 of the 200 images decompose to no concept" for rows of a .npy file: the
    # library's "rows of X" was always said as images.
    rng = np.random.default_rng(19)
    X = rng.normal(size=(10, 32)).astype(np.float32)
    np.save(tmp_path / "rows.npy", X)
    argv = ["decompose", str(tmp_path / "rows.npy"), "-f", "csv", "--l1-penalty", "0.7"]
    code, _, err = _main([*argv, "--image-mean", "data", *_args(tmp_path)], capsys)
    assert code == 0, err
    said = re.search(r"sksplice: warning: (\d+) of the 10 (\w+) decompose to no concept", err)
    assert said is not None and said[2] == "rows", err
    assert "images" not in err, err


def test_search_ranks_embeddings_as_the_images_they_were_computed_from(
    run_env, tmp_path, capsys, tiny_clip_model
):
    paths = _image_paths(run_env)
    np.save(tmp_path / "img_emb_0.npy", _embedded(run_env, tiny_clip_model).astype(np.float32))
    (tmp_path / "names.txt").write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    embeddings = [str(tmp_path / "img_emb_0.npy"), "--names", str(tmp_path / "names.txt")]
    for query in (["--concepts", "cat,dog:2"], ["--text", "a red car"]):
        results = []
        for inputs in ([str(run_env)], embeddings):
            argv = ["search", *inputs, *query, "-n", "6", "-f", "json", *_args(tmp_path)]
            code, out, err = _main([*argv, "--l1-penalty", "0.05"], capsys)
            assert code == 0, err
            results.append(json.loads(out))
        from_images, from_embeddings = results
        assert from_embeddings["images"], "the query matched nothing: the test shows nothing"
        assert [r["path"] for r in from_embeddings["images"]] == [
            r["path"] for r in from_images["images"]
        ]
        for a, b in zip(from_embeddings["images"], from_images["images"], strict=True):
            assert a["score"] == pytest.approx(b["score"], rel=1e-4)
        assert from_embeddings["metadata"]["query"]["concepts"].keys() == (
            from_images["metadata"]["query"]["concepts"].keys()
        )
        metadata = from_embeddings["metadata"]
        assert metadata["images"] == len(paths) and metadata["results"] == len(
            from_embeddings["images"]
        )
        assert metadata["embeddings"]["files"][0]["rows"] == len(paths)
        assert "CLIP images" not in err  # (no image was embedded)


def test_search_of_embeddings_refuses_an_unknown_concept_before_torch(run_env, tmp_path):
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(8, 32)).astype(np.float32))
    err = refused_before_torch(["search", str(X), "--concepts", "dgo", *_args(tmp_path)])
    assert "dgo" in err and "dog" in err, err
    # a file of names given as an input, .npy files after --names: told where they go
    names = tmp_path / "names.txt"
    names.write_text("".join(f"n{i}\n" for i in range(8)), encoding="utf-8")
    err = refused_before_torch(["search", str(X), str(names), "--concepts", "dog",
                                *_args(tmp_path)])  # fmt: skip
    assert err.strip() == (
        f"sksplice: error: {names} is given as an input beside .npy files: a file of names goes "
        "after --names, which takes one per .npy file, in their order (sksplice search "
        "img_emb/*.npy --names metadata/*.parquet)"
    )
    err = refused_before_torch(["search", "--concepts", "dog", "--names", str(names), str(X),
                                *_args(tmp_path)])  # fmt: skip
    assert "give the .npy files first (sksplice search img_emb/*.npy" in err, err
    err = refused_before_torch(["search", str(run_env), "--concepts", "dog", "--names",
                                str(names), *_args(tmp_path)])  # fmt: skip
    assert "--names names the rows of embeddings given as .npy files" in err, err


def test_compare_tests_two_npy_files_as_the_folders_they_were_computed_from(
    run_env, tmp_path, capsys, tiny_clip_model
):
    folders = [run_env / "cats", run_env / "dogs"]
    X = _embedded(run_env, tiny_clip_model)  # (cats first, in path order)
    files = [tmp_path / "a.npy", tmp_path / "b.npy"]
    np.save(files[0], X[:3].astype(np.float32))
    np.save(files[1], X[3:].astype(np.float32))
    names = [tmp_path / "a.txt", tmp_path / "b.txt"]
    paths = _image_paths(run_env)
    names[0].write_text("".join(f"{p}\n" for p in paths[:3]), encoding="utf-8")
    names[1].write_text("".join(f"{p}\n" for p in paths[3:]), encoding="utf-8")
    tables = []
    for inputs in (
        [str(f) for f in folders],
        [str(f) for f in files] + ["--names", *map(str, names)],
    ):
        argv = ["compare", *inputs, "-k", "30", "-f", "json", "--l1-penalty", "0.05"]
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 0, err
        tables.append(json.loads(out))
    from_folders, from_files = tables
    assert from_files["comparison"], "no concept tested: the test shows nothing"
    assert [(r["concept"], r["count_a"], r["count_b"]) for r in from_files["comparison"]] == [
        (r["concept"], r["count_a"], r["count_b"]) for r in from_folders["comparison"]
    ]
    assert from_files["metadata"]["a"] == {"folder": str(files[0]), "images": 3}
    assert from_files["metadata"]["b"] == {"folder": str(files[1]), "images": 3}
    assert [f["rows"] for f in from_files["metadata"]["embeddings"]["files"]] == [3, 3]
    assert "CLIP images" not in err  # (no image was embedded)
    # the explorer shows the rows by their names: the images' thumbnails where they are read
    report = tmp_path / "compare.html"
    argv = ["compare", *map(str, files), "--names", *map(str, names), "--report", str(report)]
    code, out, err = _main([*argv, "-q", "--l1-penalty", "0.05", *_args(tmp_path)], capsys)
    assert code == 0, err
    page = report.read_text(encoding="utf-8")
    assert all(str(p) in page for p in paths) and page.count("data:image/") >= len(paths)


def test_compare_of_npy_files_warns_of_rows_of_b_that_are_rows_of_a(run_env, tmp_path, capsys):
    # A copy of A.npy compared with it gave "none" without a word, where images copied
    # from one folder to the other are warned about: each copy counts in both collections.
    rng = np.random.default_rng(21)
    A = rng.normal(size=(12, 32)).astype(np.float32)
    B = rng.normal(size=(9, 32)).astype(np.float32)
    B[[2, 5]] = A[[7, 3]]
    B[4] = np.nan  # (a skipped row is no copy, nor counted among B's rows)
    A[5] = B[6] = 0.0  # (nor a row all zero in both: it holds no embedding)
    paths = {}
    for name, array in (("a", A), ("copy", A.astype(np.float64)), ("b", B), ("c", B[:2])):
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], array)
    said = {}
    for other in ("copy", "b", "c"):
        argv = ["compare", str(paths["a"]), str(paths[other]), "-f", "csv", "-q"]
        code, _, err = _main([*argv, "--image-mean", "data", *_args(tmp_path)], capsys)
        assert code == 0, err
        said[other] = [line for line in err.splitlines() if " the values of " in line]
    assert said["copy"] == [
        f"sksplice: warning: 11 rows of {paths['copy']} hold the values of rows of "
        f"{paths['a']} (first: {paths['copy']}[0], those of {paths['a']}[0]): each is counted "
        "in both collections, which makes them look more alike than their distinct rows are; "
        "leave the copies out of one file to compare distinct embeddings"
    ]
    assert len(said["b"]) == 1 and said["b"][0].startswith(
        f"sksplice: warning: 2 rows of {paths['b']} hold the values of rows of {paths['a']} "
        f"(first: {paths['b']}[2], those of {paths['a']}[7]): "
    )
    assert said["c"] == []


def test_compare_of_npy_files_refuses_mixed_inputs_and_an_unusable_side_before_the_vocabulary(
    run_env, tmp_path, capsys, no_embedding
):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.random.default_rng(4).normal(size=(5, 32)).astype(np.float32))
    err = refused_before_torch(["compare", str(a), str(run_env / "dogs"), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: {a} is a file of embeddings and {run_env / 'dogs'} is not: compare "
        "takes two folders of images, or two .npy files of embeddings computed by one model "
        "(A.npy B.npy)"
    )
    np.save(b, np.full((4, 32), np.nan, dtype=np.float32))
    code, out, err = _main(["compare", str(a), str(b), *_args(tmp_path)], capsys)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: none of the 4 rows of {b} can be decomposed: every one holds values "
        "that are not finite (NaN or infinite)"
    )
    for same in (a, run_env):  # (they said "given twice: its rows would be decomposed
        # twice", and "share 6 images")
        code, out, err = _main(["compare", str(same), str(same), *_args(tmp_path)], capsys)
        assert code == 2 and out == "", err
        assert err.strip() == (
            f"sksplice: error: {same} is given as both A and B: compare two different collections"
        )


def test_profile_ranks_the_classes_of_npy_rows_as_those_of_the_class_folders(
    run_env, tmp_path, capsys, tiny_clip_model
):
    paths = _image_paths(run_env)  # (cats, then dogs)
    X = _embedded(run_env, tiny_clip_model).astype(np.float32)
    np.save(tmp_path / "img_emb_0.npy", X[:4])
    np.save(tmp_path / "img_emb_1.npy", X[4:])
    for i, part in enumerate((paths[:4], paths[4:])):
        rows = "".join(f"{p},{p.parent.name},caption {p.name}\n" for p in part)
        (tmp_path / f"metadata_{i}.csv").write_text(
            "image_path,label,caption\n" + rows, encoding="utf-8"
        )
    npy = [str(tmp_path / "img_emb_0.npy"), str(tmp_path / "img_emb_1.npy")]
    names = ["--names", str(tmp_path / "metadata_0.csv"), str(tmp_path / "metadata_1.csv")]
    (tmp_path / "classes.txt").write_text(
        "".join(f"{p.parent.name}\n" for p in paths), encoding="utf-8"
    )
    rankings = []
    for inputs in (
        [str(run_env)],
        [*npy, *names, "--labels-column", "label"],
        [*npy, "--labels", str(tmp_path / "classes.txt")],
    ):
        argv = ["profile", *inputs, "-f", "json", "-k", "20", "--l1-penalty", "0.05"]
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 0, err
        rankings.append(json.loads(out))
    from_folders = rankings[0]
    assert from_folders["ranking"], "nothing ranked: the test shows nothing"
    for ranked in rankings[1:]:
        assert [(r["class"], r["concept"], r["count_positive"]) for r in ranked["ranking"]] == [
            (r["class"], r["concept"], r["count_positive"]) for r in from_folders["ranking"]
        ]
        assert ranked["metadata"]["classes"] == {"cats": 3, "dogs": 3}
    assert rankings[1]["metadata"]["labels_column"] == "label"
    assert rankings[2]["metadata"]["labels"] == str(tmp_path / "classes.txt")
    assert rankings[2]["metadata"]["labels_sha256"] is not None


def test_profile_of_npy_rows_refuses_missing_or_miscounted_classes_before_torch(run_env, tmp_path):
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(5).normal(size=(4, 32)).astype(np.float32))
    labels = tmp_path / "labels.txt"
    names = tmp_path / "names.txt"
    names.write_text("a\nb\nc\nd\n", encoding="utf-8")
    cases = {
        (): (
            "profile needs the class of each row of the .npy files: give --labels FILE (one "
            "label per row, in their order: a text file of one per line, or a table with a "
            "label column) or --labels-column COLUMN (a column of the --names tables)"
        ),
        ("--labels", str(labels)): (
            f"--labels {labels} gives 5 labels for the 4 rows of the .npy files: give one label "
            "per row, in the order of the rows (its last line is blank)"
        ),
        ("--labels-column", "label"): (
            "--labels-column label picks the column of classes of the --names tables (or of a "
            "--labels table): give --names too, or --labels FILE"
        ),
        ("--names", str(names), "--labels-column", "label"): (
            f"--labels-column label picks a column of the --names tables, and --names {names} "
            "is a file of one name per line: give the classes with --labels FILE (one label per "
            "row, in their order)"
        ),
    }
    labels.write_text("cat\ndog\ncat\ndog\n\n", encoding="utf-8")
    for extra, message in cases.items():
        err = refused_before_torch(["profile", str(X), *extra, *_args(tmp_path)])
        assert err.strip() == f"sksplice: error: {message}", err
    labels.write_text("cat\n\ncat\ndog\n", encoding="utf-8")
    err = refused_before_torch(["profile", str(X), "--labels", str(labels), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: --labels {labels}, line 2 gives no label for {X}[1]: every row needs "
        "its class (leave the rows without one out of the .npy file, or label them)"
    )
    labels.write_text("label\ncat\ndog\ncat\ndog\n", encoding="utf-8")
    err = refused_before_torch(["profile", str(X), "--labels", str(labels), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: --labels {labels} gives 5 labels for the 4 rows of the .npy files: "
        "give one label per row, in the order of the rows (its first line, 'label', reads as a "
        "header: a text file holds one value per line and no header; a table with a header is "
        "a .csv file)"
    )
    labels.write_text("cat\nall\ncat\ndog\n", encoding="utf-8")
    err = refused_before_torch(["profile", str(X), "--labels", str(labels), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: --labels {labels}, line 2 gives the label 'all' to {X}[1], a label "
        "reserved for the group of all rows in the class profiles; give that class another "
        "name"
    )
    # (a centre to learn from the rows, not from images, where no mean is published)
    labels.write_text("cat\ndog\ncat\ndog\n", encoding="utf-8")
    argv = ["profile", str(X), "--labels", str(labels), "--image-mean", "pretrained"]
    err = refused_before_torch([*argv, *_args(tmp_path)])
    assert "; use --image-mean data to learn it from the rows, or --image-mean FILE" in err, err
    labels.write_text("cat\ncat\ncat\ncat\n", encoding="utf-8")
    err = refused_before_torch(["profile", str(X), "--labels", str(labels), *_args(tmp_path)])
    assert err.strip() == "sksplice: error: profile needs at least two classes, found 1: 'cat'"
    table = tmp_path / "labels.csv"
    table.write_text("file,kind,split\nx,cat,a\ny,dog,a\nz,cat,b\nw,dog,b\n", encoding="utf-8")
    err = refused_before_torch(["profile", str(X), "--labels", str(table), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: --labels {table} has 3 columns (file, kind, split), none of them "
        "named as a column of labels is (label, labels, class, class_name, category, target, "
        "y): pick one with --labels-column"
    )
    err = refused_before_torch(["profile", str(run_env), "--labels-column", "kind",
                                *_args(tmp_path)])  # fmt: skip
    assert "--labels-column picks the column of classes of the --labels table: give" in err, err
    err = refused_before_torch(["profile", str(run_env), str(X), *_args(tmp_path)])
    assert "profile takes one folder of images, its classes in its sub-folders" in err, err
    assert f"got {X} after {run_env}: give the .npy files without the images" in err, err


def test_profile_of_npy_rows_reads_a_table_of_labels_and_drops_a_class_left_without_rows(
    run_env, tmp_path, capsys
):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(9, 32)).astype(np.float32) + 1
    X[8] = np.nan  # (the only row of class "bird")
    np.save(tmp_path / "img_emb_0.npy", X)
    table = tmp_path / "labels.csv"
    kinds = ["cat", "dog"] * 4 + ["bird"]
    table.write_text("kind\n" + "".join(f"{k}\n" for k in kinds), encoding="utf-8")
    argv = ["profile", str(tmp_path / "img_emb_0.npy"), "--labels", str(table), "-f", "json"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    assert json.loads(out)["metadata"]["classes"] == {"cat": 4, "dog": 4}
    assert (
        "the only row of class 'bird' cannot be decomposed (its values are not all "
        "finite): left out of the profiles (2 classes left)"
    ) in err, err
    assert f"{tmp_path / 'img_emb_0.npy'}[8]: its values are not all finite" in err, err


def test_outputs_onto_the_npy_inputs_of_search_compare_and_profile_are_refused(
    run_env, tmp_path, capsys, no_embedding
):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for path in (a, b):
        np.save(path, np.ones((3, 32), dtype=np.float32))
    labels = tmp_path / "labels.txt"
    labels.write_text("x\ny\nx\n", encoding="utf-8")
    for argv in (
        ["search", str(a), "--concepts", "dog", "-o", str(a), "-f", "csv"],
        ["compare", str(a), str(b), "-o", str(b), "-f", "csv"],
        ["compare", str(a), str(b), "--report", str(a)],
        ["profile", str(a), "--labels", str(labels), "-o", str(a), "-f", "csv"],
    ):
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 2 and out == "", err
        assert "is the input embeddings file of this run" in err, err
    assert np.load(a).shape == np.load(b).shape == (3, 32)


def test_report_shows_npy_rows_by_their_names_with_their_classes(
    run_env, tmp_path, capsys, tiny_clip_model
):
    paths = _image_paths(run_env)  # (cats, then dogs)
    np.save(tmp_path / "img_emb_0.npy", _embedded(run_env, tiny_clip_model).astype(np.float32))
    rows = "".join(f"{p},{p.parent.name}\n" for p in paths)
    (tmp_path / "metadata.csv").write_text("image_path,label\n" + rows, encoding="utf-8")
    npy = [str(tmp_path / "img_emb_0.npy"), "--names", str(tmp_path / "metadata.csv")]
    pages = {}
    for name, inputs in (
        ("folder", [str(run_env)]),
        ("labelled", [*npy, "--labels-column", "label"]),
        ("unlabelled", npy),
    ):
        page = tmp_path / f"{name}.html"
        argv = ["report", *inputs, "-o", str(page), "-q", "--l1-penalty", "0.05"]
        code, out, err = _main([*argv, *_args(tmp_path)], capsys)
        assert code == 0 and out == "", err
        pages[name] = page.read_text(encoding="utf-8")
    for name, page in pages.items():
        # every row by its name, with the thumbnail of the image it names
        assert all(str(p) in page for p in paths) and page.count("data:image/") >= len(paths)
        assert ("Concepts more frequent in a class than outside it" in page) == (
            name != "unlabelled"
        ), name
    # the rows of .npy files counted as rows, the images of a folder as images
    for name, page in pages.items():
        unit = "image" if name == "folder" else "row"
        assert f"<span>{unit}s</span>" in page and f"learned from 6 {unit}s" in page, name
    # the same classes, with the same counts, as the folders give
    for text in ("cats (n=3)", "dogs (n=3)"):
        assert text in pages["folder"] and text in pages["labelled"]
    # the settings name the file of the rows, with its digest, and the column of classes
    from sksplice._data import file_sha256

    for text in (
        f"{tmp_path / 'img_emb_0.npy'} (6 rows)",
        file_sha256(tmp_path / "img_emb_0.npy"),
        # (and the file of their names, as the JSON metadata has it)
        f"{tmp_path / 'metadata.csv'} (column image_path)",
        file_sha256(tmp_path / "metadata.csv"),
    ):
        assert text in pages["labelled"] and text in pages["unlabelled"], text
    assert "labels column" in pages["labelled"] and "labels column" not in pages["unlabelled"]
    code, out, err = _main(["report", str(run_env), "--labels-column", "label", "-o",
                            str(tmp_path / "x.html"), *_args(tmp_path)], capsys)  # fmt: skip
    assert code == 2 and "--labels-column picks the column of classes of the --labels" in err


def test_labels_of_npy_rows_in_a_table_of_paths_are_matched_by_name(run_env, tmp_path, capsys):
    # a path,label file, as profile takes for images, was read in the order of its rows:
    # shuffled, it gave the rows wrong classes without a word
    rng = np.random.default_rng(7)
    X = tmp_path / "img_emb_0.npy"
    np.save(X, (rng.normal(size=(8, 32)) + 1).astype(np.float32))
    names = [f"img{i}.jpg" for i in range(8)]
    (tmp_path / "names.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    classes = ["cat", "dog"] * 4
    ordered, shuffled = tmp_path / "ordered.txt", tmp_path / "labels.csv"
    ordered.write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    rows = [f"{n},{c}\n" for n, c in zip(names, classes, strict=True)]
    shuffled.write_text("path,label\n" + "".join(rows[::-1]) + "extra.jpg,cat\n", encoding="utf-8")
    outputs = []
    for labels in (ordered, shuffled):
        argv = ["profile", str(X), "--names", str(tmp_path / "names.txt"), "--labels", str(labels)]
        code, out, err = _main([*argv, "-f", "csv", "--l1-penalty", "0.05", *_args(tmp_path)],
                               capsys)  # fmt: skip
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") > 2
    assert f"--labels {shuffled}: 1 row of its column 'path' names no row of the .npy files" in err
    # rows without names, or a row the table lacks, are told
    code, out, err = _main(["profile", str(X), "--labels", str(shuffled), *_args(tmp_path)],
                           capsys)  # fmt: skip
    assert code == 2 and f"--labels {shuffled} names its rows by its column 'path'" in err, err
    shuffled.write_text("path,label\n" + "".join(rows[1:]), encoding="utf-8")
    argv = ["profile", str(X), "--names", str(tmp_path / "names.txt"), "--labels", str(shuffled)]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert f"--labels {shuffled} has no label for img0.jpg: its column 'path' names" in err, err
    # a blank label of a table matched by name: the line that names the row (it said the
    # file alone, where a table read in the order of the rows says its line)
    blank = [*rows[::-1]]
    blank[1] = f"{names[len(names) - 2]},\n"
    shuffled.write_text("path,label\n" + "".join(blank), encoding="utf-8")
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    said = f"--labels {shuffled}, line 3 gives no label for {names[len(names) - 2]}: every row"
    assert said in err, err


def test_a_blank_label_of_many_names_tables_is_named_in_its_file(run_env, tmp_path):
    rng = np.random.default_rng(8)
    npy, tables = [], []
    for i in range(4):
        np.save(tmp_path / f"img_emb_{i}.npy", rng.normal(size=(3, 32)).astype(np.float32))
        rows = [f"f{i}_{j}.jpg,{'cat' if j % 2 else 'dog'}\n" for j in range(3)]
        if i == 3:
            rows[1] = "f3_1.jpg,\n"
        (tmp_path / f"metadata_{i}.csv").write_text("image_path,label\n" + "".join(rows))
        npy.append(str(tmp_path / f"img_emb_{i}.npy"))
        tables.append(str(tmp_path / f"metadata_{i}.csv"))
    argv = ["profile", *npy, "--names", *tables, "--labels-column", "label", *_args(tmp_path)]
    err = refused_before_torch(argv)
    assert err.strip() == (
        f"sksplice: error: column 'label' of --names {tables[3]}, line 3 gives no label for "
        "f3_1.jpg: every row needs its class (leave the rows without one out of the .npy file, "
        "or label them)"
    )


def test_classes_of_rows_too_small_to_test_are_said_before_the_model_loads(
    run_env, tmp_path, capsys, monkeypatch
):
    # the rows kept decide it: class "b" keeps 1 of its 2 rows (the other is NaN)
    import sksplice.cli._profile as profile

    decompose, said_before = profile.decompose_embeddings, []

    def spied(*args):  # (loads the model, embeds the vocabulary, decomposes)
        said_before.append(capsys.readouterr().err)
        return decompose(*args)

    monkeypatch.setattr(profile, "decompose_embeddings", spied)
    X = np.random.default_rng(9).normal(size=(12, 32)).astype(np.float32)
    X[1] = np.nan
    np.save(tmp_path / "all.npy", X)
    labels = tmp_path / "labels.txt"
    labels.write_text("b\nb\n" + "a\n" * 5 + "c\n" * 5, encoding="utf-8")
    said = (
        "sksplice: warning: no concept of class 'b' can be significant at alpha=0.05: "
        "with 1 row against 10 in the rest"
    )
    argv = ["profile", str(tmp_path / "all.npy"), "--labels", str(labels), *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    assert code == 0, err
    assert said in said_before[0] and said not in err, said_before  # (before, once)
    # (the report too: the warning once)
    argv[0:1] = ["report", "-o", str(tmp_path / "r.html")]
    code, _, err = _main(argv, capsys)
    assert code == 0 and err.count(said) == 1, err
    np.save(tmp_path / "a.npy", X[:2])  # (a row kept: 1 against 3)
    np.save(tmp_path / "b.npy", X[2:5])
    argv = ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), *_args(tmp_path)]
    code, _, err = _main(argv, capsys)
    said = "no concept can be significant at alpha=0.05: with 1 row in A against 3 in B"
    assert code == 0 and err.count(said) == 1, err


def test_rows_lost_to_values_not_finite_are_told_before_the_model_loads(
    run_env, tmp_path, capsys, monkeypatch, no_embedding
):
    import sksplice.embedders as embedders

    def load(config):
        raise AssertionError("the model was loaded before the rows left were checked")

    monkeypatch.setattr(embedders, "_load_model", load)
    X = np.random.default_rng(9).normal(size=(6, 32)).astype(np.float32)
    X[3:] = np.nan  # (every row of class "dog")
    np.save(tmp_path / "a.npy", X[:3])
    np.save(tmp_path / "b.npy", X[3:])
    np.save(tmp_path / "all.npy", X)
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ncat\ncat\ndog\ndog\ndog\n", encoding="utf-8")
    argv = ["profile", str(tmp_path / "all.npy"), "--labels", str(labels), *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        "sksplice: error: none of the 3 rows of class 'dog' can be decomposed (their values "
        "are not all finite) (see the skipped rows above); classes with rows: 'cat'; profiles "
        "need at least two"
    )
    assert f"{tmp_path / 'all.npy'}[3]: its values are not all finite" in err, err
    assert "sksplice: warning: skipped 3 of 6 rows:" in err, err  # (it said "images")
    argv = ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 1 and out == ""
    assert f"{tmp_path / 'b.npy'}[0]: its values are not all finite" in err, err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: none of the 3 rows of {tmp_path / 'b.npy'} can be decomposed: every "
        "one holds values that are not finite (NaN or infinite)"
    )


def test_report_classes_rows_that_share_a_name_by_their_position(run_env, tmp_path, capsys):
    # the page took each row's class by its name: rows sharing one all showed the last's
    import re

    X = tmp_path / "img_emb_0.npy"
    np.save(X, (np.random.default_rng(10).normal(size=(8, 32)) + 1).astype(np.float32))
    (tmp_path / "names.txt").write_text("same.jpg\n" * 8, encoding="utf-8")
    (tmp_path / "labels.txt").write_text("cat\ndog\n" * 4, encoding="utf-8")
    page = tmp_path / "r.html"
    argv = ["report", str(X), "--names", str(tmp_path / "names.txt"), "--labels",
            str(tmp_path / "labels.txt"), "-o", str(page), "-q", *_args(tmp_path)]  # fmt: skip
    code, out, err = _main(argv, capsys)
    assert code == 0 and out == "", err
    data = re.search(r'<script[^>]*application/json">(.*?)</script>', page.read_text(), re.S)
    shown = json.loads(data.group(1))
    classes = [shown["classes"][image["c"]] for image in shown["images"]]
    assert classes == ["cat", "dog"] * 4


def test_search_lists_the_query_concepts_a_result_holds_beyond_its_top_concepts(
    run_env, tmp_path, capsys, tiny_clip_model
):
    # A result's own top 5 concepts were listed, the concept searched for often not
    # among them: only its score said that it held it
    np.save(tmp_path / "img_emb_0.npy", _embedded(run_env, tiny_clip_model).astype(np.float32))
    base = [str(tmp_path / "img_emb_0.npy"), "--l1-penalty", "0.05"]
    every = ["decompose", *base, "-k", "1000", "-f", "json", *_args(tmp_path)]
    code, out, err = _main(every, capsys)
    assert code == 0, err
    whole = {r["path"]: r["concepts"] for r in json.loads(out)["images"]}
    # the concept of the most rows at the 3rd rank or later: what -k 2 does not show
    counts: dict[str, int] = {}
    for concepts in whole.values():
        for c in concepts[2:]:
            counts[c["concept"]] = counts.get(c["concept"], 0) + 1
    assert counts, "no image holds a third concept: the test shows nothing"
    query = max(counts, key=counts.get)
    argv = ["search", *base, "-n", "20", "--concepts", query, "-k", "2", *_args(tmp_path)]
    code, out, err = _main([*argv, "-f", "json"], capsys)
    assert code == 0, err
    results = json.loads(out)["images"]
    assert any(len(r["concepts"]) == 3 for r in results), results
    # (fewer results than -n: said, lest the list read as cut short)
    n, k = len(whole), len(results)
    assert k < n < 20
    said = f"{k} of the {n} images hold any concept of the query (--mode or): {k} results, not 20"
    assert f"sksplice: {said}" in err.splitlines(), err
    for r in results:
        ranks = [c["concept"] for c in whole[r["path"]]]
        top, more = r["concepts"][:2], r["concepts"][2:]
        assert [c["concept"] for c in top] == ranks[:2] and all("rank" not in c for c in top)
        assert query in [c["concept"] for c in r["concepts"]]
        for c in more:
            assert c["concept"] == query and c["rank"] == ranks.index(query) + 1 > 2
        # every query concept is marked, among the top ones too
        assert [c.get("query", False) for c in r["concepts"]] == [
            c["concept"] == query for c in r["concepts"]
        ]
    assert any(c["concept"] == query for r in results for c in r["concepts"][:2])
    code, out, err = _main([*argv, "-f", "csv"], capsys)
    every = list(csv.DictReader(io.StringIO(out)))
    rows = [row for row in every if row["concept"] == query]
    assert len(rows) == len(results) and any(int(row["rank"]) > 2 for row in rows)
    # (a query column marks the query's concepts, among the top -k too)
    assert [row["query"] for row in every] == [
        "True" if row["concept"] == query else "False" for row in every
    ]
    code, out, err = _main(argv, capsys)
    assert f"  {query}  (query, rank " in out, out
    marked = [line for line in out.splitlines() if line.endswith(f"  {query}  (query)")]
    assert marked and len(marked) + out.count(f"  {query}  (query, rank ") == len(results), out


def test_embeddings_saved_as_columns_are_told_to_be_transposed(run_env, tmp_path):
    # a (32, 10) array for a model of width 32 was said to be "of width 10"
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(0).normal(size=(32, 10)).astype(np.float32))
    err = refused_before_torch(["decompose", str(X), *_args(tmp_path)])
    assert err.splitlines() == [
        f"sksplice: error: {X} holds embeddings of width 10 (shape 32 x 10), and "
        "sksplice-test-tiny embeds images to 32 values: give the --model (and --pretrained) "
        "that made them; or, if its 10 columns are embeddings of 32 values, save the "
        "transposed array, one embedding per row (np.save(path, X.T))"
    ]


def test_a_text_query_of_no_concept_says_what_to_do(run_env, tmp_path, capsys):
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(0).normal(size=(6, 32)).astype(np.float32))
    argv = ["search", str(X), "--text", "zzz qqq", "--l1-penalty", "1.9", *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 0 and out == "", err
    assert (
        "the query text decomposes to no concept at --l1-penalty 1.9; nothing matches (a "
        "smaller --l1-penalty keeps more concepts, or give them with --concepts)"
    ) in err, err


def test_rows_without_names_in_many_names_files_are_said_once(run_env, tmp_path, capsys):
    # one warning a file: hundreds of lines for sharded metadata
    rng = np.random.default_rng(0)
    argv = ["decompose"]
    for i in range(3):
        np.save(tmp_path / f"img_emb_{i}.npy", rng.normal(size=(3, 32)).astype(np.float32))
        argv.append(str(tmp_path / f"img_emb_{i}.npy"))
    argv.append("--names")
    for i in range(3):
        (tmp_path / f"metadata_{i}.txt").write_text("a\n\nc\n" if i else "a\nb\nc\n")
        argv.append(str(tmp_path / f"metadata_{i}.txt"))
    code, _, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0, err
    said = [line for line in err.splitlines() if "--names" in line]
    assert said == [
        f"sksplice: warning: --names {tmp_path / 'metadata_1.txt'}: 1 of its 3 lines is blank "
        "(the first: line 2); so does 1 other file of the 3 (2 rows in all); those rows are "
        "named by their .npy file and row instead"
    ], err


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        (
            "names.csv",
            "path,caption\na.jpg,a dog\nb.jpg,a dog, a cat\nc.jpg,snow\n",
            "line 3 has 3 fields where the lines before it have 2: put a value that holds a "
            "comma in double quotes",
        ),
        (
            "names.tsv",
            "path\tcaption\na.jpg\ta dog\nb.jpg\tsnow\tcold\nc.jpg\tx\n",
            "line 3 has 3 fields where the lines before it have 2: put a value that holds a tab "
            "in double quotes",
        ),
        (
            "names.jsonl",
            '{"path": "a.jpg"}\n\n{"path": "b.jpg"}\n{"path": b.jpg}\n',
            "line 4 is not JSON (Expecting value, column 10)",
        ),
        (
            "names.jsonl",
            '{"path": "a.jpg"}\n["b.jpg"]\n{"path": "c.jpg"}\n',
            "line 2 is not a JSON object ({...}) of one row's fields",
        ),
    ],
)
def test_a_malformed_names_table_is_refused_at_its_line(run_env, tmp_path, name, text, said):
    # pandas' words: "Error tokenizing data. C error: Expected 2 fields in line 3, saw 3",
    # "Expected object or value at position 35" (a byte offset)
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(3, 32)).astype(np.float32))
    names = tmp_path / name
    names.write_text(text, encoding="utf-8")
    err = refused_before_torch(["decompose", str(X), "--names", str(names), *_args(tmp_path)])
    assert err.strip() == f"sksplice: error: cannot read --names {names}: {said}", err


def test_a_labels_table_giving_a_name_two_labels_is_refused_at_its_row(run_env, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(3, 32)).astype(np.float32))
    names = tmp_path / "names.txt"
    names.write_text("a.jpg\nb.jpg\nc.jpg\n", encoding="utf-8")
    table = {"path": ["a.jpg", "b.jpg", "c.jpg", "a.jpg"], "label": ["cat", "dog", "cat", "dog"]}
    for suffix, at in ((".csv", "line 5"), (".parquet", "its 4th row")):
        labels = tmp_path / f"labels{suffix}"
        frame = pd.DataFrame(table)
        frame.to_csv(labels, index=False) if suffix == ".csv" else frame.to_parquet(labels)
        argv = ["profile", str(X), "--names", str(names), "--labels", str(labels)]
        err = refused_before_torch([*argv, *_args(tmp_path)])
        assert err.strip() == (
            f"sksplice: error: --labels {labels}, {at}: a.jpg is given two labels ('cat', 'dog')"
        ), err


def test_rows_of_a_json_lines_file_are_named_by_their_lines_blank_ones_counted(
    run_env, tmp_path, capsys
):
    # pandas reads no row of a blank line: its 2nd row was said to be on line 2 where it
    # was on line 3; and a compressed file's bad line was a byte offset of its text
    import gzip

    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(3, 32)).astype(np.float32))
    names = tmp_path / "names.jsonl"
    names.write_text('{"path": "a.jpg"}\n\n{"path": null}\n{"path": "c.jpg"}\n', "utf-8")
    argv = ["decompose", str(X), "--names", str(names), "-f", "csv", *_args(tmp_path)]
    code, out, err = _main(argv, capsys)
    assert code == 0 and f"{X}[1]" in out, err  # (named by its place instead)
    assert "no name in its column 'path' (the first: line 3)" in err, err
    packed = tmp_path / "names.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"path": "a.jpg"}\n\n{"path": "b.jpg"}\n{"path": b}\n'))
    err = refused_before_torch(["decompose", str(X), "--names", str(packed), *_args(tmp_path)])
    assert err.strip() == (
        f"sksplice: error: cannot read --names {packed}: line 4 is not JSON (Expecting value, "
        "column 10)"
    ), err


def test_rows_of_embeddings_without_concepts_are_called_rows(run_env, tmp_path, capsys):
    # "in any of the 6 images" of the rows of a .npy file
    X = tmp_path / "img_emb_0.npy"
    np.save(X, np.random.default_rng(3).normal(size=(6, 32)).astype(np.float32))
    for command in (["decompose", str(X)], ["report", str(X), "-o", str(tmp_path / "r.html")]):
        argv = [*command, "-q", *_args(tmp_path, "--l1-penalty", "1.99")]
        code, _, err = _main(argv, capsys)
        assert code == 0, err
        assert (
            "sksplice: warning: no concept has a non-zero weight in any of the 6 rows (a "
            "smaller --l1-penalty, or a larger --target-l0, keeps more concepts)"
        ) in err.splitlines(), err


def test_compare_and_profile_of_npy_rows_count_rows_not_images(run_env, tmp_path, capsys):
    # classes and collections too small for any concept to be significant: what the
    # table, its warning and the library's warning count are rows of embeddings
    rng = np.random.default_rng(5)
    a, b, X = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "x.npy"
    np.save(a, rng.normal(size=(2, 32)).astype(np.float32))
    np.save(b, rng.normal(size=(3, 32)).astype(np.float32))
    np.save(X, rng.normal(size=(11, 32)).astype(np.float32))
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\n" + "dog\n" * 10, encoding="utf-8")
    for command in (["compare", str(a), str(b)], ["profile", str(X), "--labels", str(labels)]):
        code, out, err = _main([*command, "-q", *_args(tmp_path, "--l1-penalty", "0.05")], capsys)
        assert code == 0, err
        assert "image" not in out.replace("image mean", ""), out
        assert "more rows are needed" in out and "more rows are needed" in err, (out, err)
    # (the last run is profile)
    assert "class cat (1 row; 10 in the others)" in out, out
    assert "class 'cat', 1 row against 10 in the rest" in err, err
    code, out, err = _main(
        ["compare", str(a), str(b), "-q", *_args(tmp_path, "--l1-penalty", "0.05")], capsys
    )
    assert out.startswith(f"A: {a} (2 rows)  B: {b} (3 rows)\n"), out
    assert "with 2 rows in A against 3 in B" in err, err
    # a run of images after them, in the same process, counts images again
    code, out, err = _main(["profile", str(run_env), "-q", *_args(tmp_path, "--l1-penalty",
                                                                   "0.05")], capsys)  # fmt: skip
    assert code == 0, err
    assert "class cats (3 images; 3 in the others)" in out, out
    assert "3 images against 3 in the rest" in err and " rows" not in err, err


def test_options_of_images_given_with_embeddings_are_said_to_do_nothing(run_env, tmp_path, capsys):
    # --no-image-cache and --max-image-pixels were accepted without a word with .npy inputs
    X = tmp_path / "x.npy"
    np.save(X, np.random.default_rng(2).normal(size=(6, 32)).astype(np.float32))
    argv = ["decompose", str(X), "-q", "--no-image-cache", "--max-image-pixels", "5"]
    code, out, err = _main([*argv, *_args(tmp_path)], capsys)
    assert code == 0 and out, err
    said = [line for line in err.splitlines() if "no effect" in line]
    assert said == [
        "sksplice: warning: --no-image-cache and --max-image-pixels have no effect on rows of "
        ".npy files: they apply to images, and the rows are embeddings computed already"
    ], err
    code, out, err = _main(["decompose", str(X), "-q", *_args(tmp_path)], capsys)
    assert code == 0 and "no effect" not in err
