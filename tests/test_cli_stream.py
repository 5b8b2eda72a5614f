"""``sksplice decompose`` streams its records when the centre does not depend on the images.

A run whose centre is published or read from a file embeds, decomposes and writes
its images a chunk at a time: Ctrl-C keeps every record finished (``FILE.partial``,
a ``json`` document that says it is incomplete). A run that learns its centre from
the images (``--image-mean data``, ``--target-l0``) writes nothing before every
image is embedded, and an interruption then says so.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sksplice import cli
from sksplice.cli import _decompose, _embedders

from ._helpers_faults import refuse_renames_onto

VOCAB = [f"concept {i}" for i in range(24)]


@pytest.fixture(scope="module")
def stream_inputs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """60 tiny images (``a05.png`` unreadable; the last 20 named ``zz*``), a vocabulary
    and a centre file for the tiny model."""
    names = [f"a{i:02d}" for i in range(40)] + [f"zz{i:02d}" for i in range(20)]
    return _write_inputs(tmp_path_factory.mktemp("stream"), names, "a05", seed=0)


def _write_inputs(
    root: Path, names: list[str], unreadable: str, seed: int
) -> tuple[Path, Path, Path]:
    """Tiny images ``NAME.png`` in ``root/images`` (``unreadable`` not an image), a
    vocabulary and a centre file for the tiny model."""
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(
            images / f"{name}.png"
        )
    (images / f"{unreadable}.png").write_bytes(b"not an image")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    mean = rng.standard_normal(32)
    np.save(root / "mean.npy", mean / np.linalg.norm(mean))
    return images, vocab, root / "mean.npy"


@pytest.fixture
def inproc(env, monkeypatch):
    for key in ("SKSPLICE_MODEL_CONFIGS", "SKSPLICE_DATA", "SKSPLICE_CACHE"):
        monkeypatch.setenv(key, env[key])
    return env


def _args(vocab: Path, mean: Path | str, *extra: str) -> list[str]:
    return [
        "--model",
        "sksplice-test-tiny",
        "--pretrained",
        "none",
        "--device",
        "cpu",
        "--vocabulary",
        str(vocab),
        "--l1-penalty",
        "0.05",
        "--image-mean",
        str(mean),
        *extra,
    ]


def _records(fmt: str, text: str) -> list[str]:
    """The image paths of an output, in order (a csv image once per row)."""
    if fmt == "json":
        return [rec["path"] for rec in json.loads(text)["images"]]
    if fmt == "jsonl":
        return [json.loads(line)["path"] for line in text.splitlines()]
    if fmt == "csv":
        rows = text.splitlines()[1:]
        return list(dict.fromkeys(row.split(",")[0] for row in rows))
    return [line.split("  (")[0] for line in text.splitlines() if not line.startswith(" ")]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_a_streamed_run_writes_the_bytes_of_a_run_that_embeds_first(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys, fmt
):
    """Chunks of 4 rows across embedding calls of 6 images (two batches of 3, the fewest
    whole batches that hold a chunk; an unreadable image among them):
    the same records, in the same order, byte for byte, as the run that embeds every
    image before decomposing them; the skipped image is reported the same way."""
    images, vocab, mean = stream_inputs
    monkeypatch.setattr(_decompose, "_CHUNK", 4)
    calls = []
    real = _embedders.image_embedder

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def embed_images(self, paths, **kwargs):
            calls.append(len(paths))
            return self.inner.embed_images(paths, **kwargs)

    monkeypatch.setattr(_embedders, "image_embedder", lambda *a, **k: Counting(real(*a, **k)))
    argv = ["decompose", str(images), "-f", fmt, "--batch-size", "3", "-q"] + _args(vocab, mean)
    assert cli.main(argv) == 0
    streamed = capsys.readouterr()
    assert calls == [6] * 10  # embedded a few batches at a time
    calls.clear()
    monkeypatch.setattr(_decompose, "_streams", lambda args, plan: False)
    assert cli.main(argv) == 0
    whole = capsys.readouterr()
    assert streamed.out == whole.out
    assert streamed.err == whole.err
    assert "skipped 1 of 60 images" in streamed.err and "a05.png" in streamed.err
    paths = _records(fmt, streamed.out)
    assert len(paths) == 59 and not any("a05" in p for p in paths)


def test_a_strict_run_to_standard_output_prints_nothing_when_a_later_image_fails(
    inproc, tmp_path, monkeypatch, capsys
):
    """``--strict`` writes all its records or none. Streamed to standard output, the
    records of the first chunks were printed before an unreadable image further on
    stopped the run (exit status 1 after 8 records)."""
    images, vocab, mean = _write_inputs(tmp_path, [f"i{i:02d}" for i in range(12)], "i10", seed=1)
    monkeypatch.setattr(_decompose, "_CHUNK", 4)
    base = ["decompose", str(images), "--batch-size", "3", "--strict", *_args(vocab, mean)]
    for fmt in ("jsonl", "csv"):
        assert cli.main([*base, "-f", fmt]) == 1
        out = capsys.readouterr()
        assert out.out == ""
        assert "i10.png" in out.err and "--strict" in out.err
    # To a file the run still streams (the file is replaced only when the run ends well).
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n", encoding="utf-8")
    assert cli.main([*base, "-f", "jsonl", "-o", str(target)]) == 1
    assert target.read_text(encoding="utf-8") == "previous\n"
    capsys.readouterr()


@pytest.mark.parametrize("streamed", [True, False])
def test_a_call_whose_files_all_went_missing_mid_run_skips_them(
    inproc, tmp_path, monkeypatch, capsys, streamed
):
    """Files that disappear after the run has listed them are skipped, also when they
    are every file of one embedding call (the embedder took such a call for texts and
    the run failed); under ``--strict`` the first of them stops the run, named."""
    names = [f"i{i:02d}" for i in range(12)]
    images, vocab, mean = _write_inputs(tmp_path, names, "i11", seed=2)
    monkeypatch.setattr(_decompose, "_CHUNK", 4)
    if not streamed:
        monkeypatch.setattr(_decompose, "_streams", lambda args, plan: False)
    real = _embedders.image_embedder
    gone = ["i03", "i04", "i05"]  # the second call of 3 images

    class Deleting:
        def __init__(self, inner):
            self.inner = inner

        def embed_images(self, paths, **kwargs):
            if any(Path(p).stem == "i00" for p in paths):
                for name in gone:
                    (images / f"{name}.png").unlink(missing_ok=True)
            return self.inner.embed_images(paths, **kwargs)

    monkeypatch.setattr(_embedders, "image_embedder", lambda *a, **k: Deleting(real(*a, **k)))
    base = ["decompose", str(images), "--batch-size", "3", "-f", "jsonl", *_args(vocab, mean)]
    assert cli.main(base) == 0
    out = capsys.readouterr()
    paths = _records("jsonl", out.out)
    assert [Path(p).stem for p in paths] == [n for n in names if n not in [*gone, "i11"]]
    assert "skipped 4 of 12 images" in out.err
    for name in gone:
        assert f"{name}.png" in out.err
    assert "image file not found" in out.err
    # --strict: the first file gone stops the run, and nothing is written.
    for name in names:
        if not (images / f"{name}.png").exists():
            Image.new("RGB", (12, 12)).save(images / f"{name}.png")
    assert cli.main([*base, "--strict"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert "i03.png" in out.err and "image 4 of 12" in out.err and "--strict" in out.err


#: Runs the command with records decomposed 4 at a time, and an embedder that stops
#: (says ``BLOCKED`` on standard error and waits) at the images named ``zz*``: an
#: interruption then comes during the embedding, after 36 records are finished.
_BLOCKING_MAIN = """
import sys, time
from sksplice.cli import _decompose, _embedders, main
_decompose._CHUNK = 4
real = _embedders.image_embedder
class Blocking:
    def __init__(self, inner):
        self.inner = inner
    def embed_images(self, paths, **kwargs):
        if any("zz" in p for p in paths):
            print("BLOCKED", file=sys.stderr, flush=True)
            time.sleep(300)
        return self.inner.embed_images(paths, **kwargs)
_embedders.image_embedder = lambda *a, **k: Blocking(real(*a, **k))
sys.exit(main(sys.argv[1:]))
"""


def _interrupted_when_blocked(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``argv`` with :data:`_BLOCKING_MAIN`, send SIGINT once it blocks (or after
    120 s, when it never does); its exit status, standard output and standard error."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _BLOCKING_MAIN, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    err = []
    blocked = threading.Event()

    def read_err() -> None:
        for line in proc.stderr:
            err.append(line)
            if line.strip() == "BLOCKED":
                blocked.set()
        blocked.set()

    errs = threading.Thread(target=read_err, daemon=True)
    errs.start()
    blocked.wait(120)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    errs.join(10)
    return code, "".join(out), "".join(err)


def test_an_interrupted_streamed_run_keeps_the_finished_records(stream_inputs, env, tmp_path):
    """Ctrl-C while images are embedded keeps the records of those decomposed already in
    FILE.partial, as many as standard error says; the previous FILE stays."""
    images, vocab, mean = stream_inputs
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    argv = ["decompose", str(images), "-o", str(out), "--batch-size", "1"]
    code, _, err = _interrupted_when_blocked(argv + _args(vocab, mean), env)
    assert code == 130, err
    assert out.read_text() == "previous\n"
    partial = tmp_path / "out.jsonl.partial"
    assert partial.exists(), err
    records = [json.loads(line) for line in partial.read_text().splitlines()]
    said = re.search(r"interrupted: (\d+) of 60 images written; the (\d+) finished records", err)
    assert said is not None, err
    assert int(said.group(1)) == int(said.group(2)) == len(records) == 36
    expected = [f"a{i:02d}.png" for i in range(40) if i != 5][:36]
    assert [Path(r["path"]).name for r in records] == expected
    assert all(set(r) == {"path", "l0", "cosine", "baseline_cosine", "concepts"} for r in records)
    assert "skipped 1 of 60 images" in err  # (the summary of those skipped so far)


def test_the_records_of_the_first_chunk_are_written_before_the_next_images_are_embedded(
    tmp_path_factory, env, tmp_path
):
    # They waited for the embedding of the second chunk: in a run of fewer than two
    # chunks (700 images, 512 a chunk) no record came before every image was embedded, and
    # Ctrl-C at 640 of 700 kept none.
    images, vocab, mean = _write_inputs(
        tmp_path_factory.mktemp("first"),
        ["a00", "a01", "a02", "a03"] + [f"zz{i:02d}" for i in range(8)],
        "zz07",
        seed=1,
    )
    out = tmp_path / "out.jsonl"
    argv = ["decompose", str(images), "-o", str(out), "--batch-size", "1"]
    code, _, err = _interrupted_when_blocked(argv + _args(vocab, mean), env)
    assert code == 130, err
    records = [
        json.loads(line) for line in (tmp_path / "out.jsonl.partial").read_text().splitlines()
    ]
    assert [Path(r["path"]).name for r in records] == ["a00.png", "a01.png", "a02.png", "a03.png"]
    assert "interrupted: 4 of 12 images written" in err, err


def test_an_interrupted_streamed_json_run_is_a_document_that_says_so(stream_inputs, env, tmp_path):
    images, vocab, mean = stream_inputs
    argv = ["decompose", str(images), "-f", "json", "--batch-size", "1"]
    code, out, err = _interrupted_when_blocked(argv + _args(vocab, mean), env)
    assert code == 130, err
    data = json.loads(out)
    assert data["complete"] is False
    assert data["written"] == len(data["images"]) == 36
    # (what the run had read when it stopped: 40 images, one of them unreadable, and 36
    # of the 39 read decomposed: the metadata counts the records the document holds)
    assert data["metadata"]["images"] == 60
    assert data["metadata"]["decomposed"] == data["written"] == 36
    assert [s["path"] for s in data["metadata"]["skipped"]] == [str(images / "a05.png")]
    assert "interrupted: 36 of 60 images written" in err


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_an_interruption_while_a_learned_centre_needs_every_image_says_nothing_was_written(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys, fmt
):
    """--image-mean data: no record can be written before every image is embedded; Ctrl-C
    then says how far the embedding went and that no record was written; standard output
    holds nothing, and an output file stays as it was, with no FILE.partial."""
    images, vocab, _ = stream_inputs
    monkeypatch.setattr(_decompose, "_CHUNK", 4)
    real = _embedders.image_embedder

    class Interrupted:
        """Ctrl-C (raised as the signal handler raises it) once 8 images are embedded."""

        def __init__(self, inner):
            self.inner = inner
            self.seen = 0

        def embed_images(self, paths, **kwargs):
            left = 8 - self.seen
            if len(paths) < left:
                self.seen += len(paths)
                return self.inner.embed_images(paths, **kwargs)
            if left:
                self.inner.embed_images(paths[:left], **kwargs)
            raise KeyboardInterrupt

    monkeypatch.setattr(_embedders, "image_embedder", lambda *a, **k: Interrupted(real(*a, **k)))
    argv = ["decompose", str(images), "-f", fmt, "--batch-size", "2"] + _args(vocab, "data")
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 130
    assert captured.out == ""
    assert (
        "sksplice: error: interrupted while embedding images (8 of 60 embedded): no record "
        "was written" in captured.err
    )
    out = tmp_path / f"out.{fmt}"
    out.write_text("previous\n")
    code = cli.main([*argv, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 130
    assert out.read_text() == "previous\n"
    assert not (tmp_path / f"out.{fmt}.partial").exists()
    assert "(8 of 60 embedded): no record was written" in captured.err


def test_an_interruption_after_the_embedding_says_no_record_was_written(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys
):
    """Ctrl-C once every image is embedded, while the transformer is fitted (its centre
    learned, its dictionary built): the line said a bare "interrupted" (other runs say how
    many records were written)."""
    from sksplice import transformer

    images, vocab, _ = stream_inputs

    def interrupted(self, X, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(transformer.SpliceTransformer, "fit", interrupted)
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    argv = ["decompose", str(images), "-f", "csv", "-o", str(out)] + _args(vocab, "data")
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 130
    assert captured.err.splitlines()[-1] == "sksplice: error: interrupted: no record was written"
    assert out.read_text() == "previous\n"
    assert not (tmp_path / "out.csv.partial").exists()


def test_an_interrupted_json_run_of_a_learned_centre_counts_the_records_it_holds(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys
):
    # (every image embedded first, then decomposed a chunk at a time: the metadata,
    # written first, said "decomposed": 60 where the document held the 8 finished)
    images, vocab, _ = stream_inputs
    monkeypatch.setattr(_decompose, "_CHUNK", 4)
    real, chunks = _decompose._chunk_rows, []

    def chunk_rows(*args, **kwargs):
        chunks.append(1)
        if len(chunks) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_decompose, "_chunk_rows", chunk_rows)
    argv = ["decompose", str(images), "-f", "json", "--batch-size", "8"] + _args(vocab, "data")
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 130, captured.err
    data = json.loads(captured.out)
    assert data["complete"] is False and data["written"] == len(data["images"]) == 8
    assert data["metadata"]["decomposed"] == 8 and data["metadata"]["images"] == 60


@pytest.mark.parametrize("command", ["profile", "compare", "report"])
def test_the_commands_that_write_once_every_image_is_decomposed_say_how_far_they_went(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys, command
):
    """profile, compare and report met Ctrl-C while embedding with a bare "interrupted";
    they now say how far the embedding went, as decompose does, and that nothing was
    written (their output comes once every image is decomposed)."""
    images, vocab, mean = stream_inputs
    real = _embedders.image_embedder

    class Interrupted:
        def __init__(self, inner):
            self.inner = inner

        def embed_images(self, paths, **kwargs):
            self.inner.embed_images(paths[:1], **kwargs)
            raise KeyboardInterrupt

    monkeypatch.setattr(_embedders, "image_embedder", lambda *a, **k: Interrupted(real(*a, **k)))
    out = tmp_path / ("r.html" if command == "report" else "out.csv")
    if command == "compare":
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir(), b.mkdir()
        for i, image in enumerate(sorted(images.glob("*.png"))[:20]):
            (a if i % 2 else b).joinpath(image.name).write_bytes(image.read_bytes())
        inputs = [str(a), str(b)]
    else:
        inputs = [str(images)]
    extra = []
    if command == "profile":
        labels = tmp_path / "labels.csv"
        names = sorted(p.name for p in images.glob("*.png"))
        labels.write_text("".join(f"{n},{'x' if i % 2 else 'y'}\n" for i, n in enumerate(names)))
        extra = ["--labels", str(labels)]
    code = cli.main([command, *inputs, "-o", str(out), *extra, *_args(vocab, mean)])
    captured = capsys.readouterr()
    assert code == 130 and captured.out == ""
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("sksplice: error: interrupted while embedding images (1 of "), last
    assert last.endswith(" embedded): nothing was written"), last
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_an_interruption_before_the_first_record_keeps_an_earlier_partial_file(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys, fmt
):
    """Ctrl-C while a streamed run decomposes its first images: no record is finished, so
    none is written: standard output holds no json document of no records, and FILE and
    the FILE.partial an earlier interrupted run left stay as they were."""
    images, vocab, mean = stream_inputs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_decompose, "_chunk_rows", interrupted)
    argv = ["decompose", str(images), "-f", fmt, "--batch-size", "2"] + _args(vocab, mean)
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 130
    # (csv: its header line, written as the output starts)
    assert captured.out == (
        "path,rank,concept,weight,l0,cosine,baseline_cosine\n" if fmt == "csv" else ""
    )
    assert captured.err.splitlines()[-1] == "sksplice: error: interrupted: no record was written"
    assert "finished records are in" not in captured.err

    out = tmp_path / f"out.{fmt}"
    out.write_text("previous\n")
    partial = tmp_path / f"out.{fmt}.partial"
    partial.write_text("113 records of an earlier run\n")
    code = cli.main([*argv, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 130
    assert out.read_text() == "previous\n"
    assert partial.read_text() == "113 records of an earlier run\n"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out."))
    assert left == [f"out.{fmt}", f"out.{fmt}.partial"]
    assert captured.err.splitlines()[-1] == "sksplice: error: interrupted: no record was written"
    assert "finished records are in" not in captured.err


def test_the_partial_file_is_named_as_the_command_line_named_its_file(tmp_path, monkeypatch):
    # "the 1536 finished records are in /abs/path/out.jsonl.partial" for -o out.jsonl
    from sksplice.cli._output import _Output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    out = _Output("sub/out.jsonl")
    out.fh.write("{}\n")
    assert out.keep_partial() == Path("sub/out.jsonl.partial")
    assert (tmp_path / "sub" / "out.jsonl.partial").read_text() == "{}\n"
    # a link to a file elsewhere: the partial file is beside the target, named in full
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "elsewhere" / "real.jsonl")
    out = _Output("link.jsonl")
    out.fh.write("{}\n")
    kept = out.keep_partial()
    assert kept is not None and kept.is_absolute()
    assert kept == Path(os.path.realpath(tmp_path / "elsewhere" / "real.jsonl.partial"))


def test_results_that_cannot_be_put_in_place_are_kept_and_named(
    stream_inputs, inproc, tmp_path, monkeypatch, capsys
):
    # The complete results of a run whose output folder became read-only were left in a
    # hidden temporary file that no message named ("cannot write rw/out.jsonl: Permission
    # denied"), which the next run removed; where the rename alone failed, they were removed
    # at once.
    images, vocab, mean = stream_inputs
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    refuse_renames_onto(monkeypatch, out)
    argv = ["decompose", str(images), "-f", "jsonl", "-o", str(out), *_args(vocab, mean)]
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    new = Path(f"{out}.new")
    assert captured.err.splitlines()[-1] == (
        f"sksplice: error: cannot write {out}: Permission denied; the complete content is "
        f"kept in {new}"
    )
    assert out.read_text() == "previous\n"
    records = [json.loads(line) for line in new.read_text().splitlines()]
    assert len({r["path"] for r in records}) == 59  # (every readable image: a05 is not)
    # a folder where nothing can be renamed: the temporary file, named, is kept
    new.unlink()
    refuse_renames_onto(monkeypatch, out, new)
    code = cli.main(argv)
    last = capsys.readouterr().err.splitlines()[-1]
    kept = re.search(r"kept in (\S+) \(move it away before writing there again", last)
    assert code == 1 and kept, last
    assert len(Path(kept.group(1)).read_text().splitlines()) == len(records)


def test_an_interruption_whose_partial_file_cannot_be_made_says_where_the_records_are(
    tmp_path, monkeypatch, caplog
):
    # "the 1024 finished records are in rw/out.jsonl.partial", a file that did not exist:
    # the records were in a hidden temporary file, which the next run removed.
    from sksplice.cli._output import _Output

    monkeypatch.chdir(tmp_path)
    refuse_renames_onto(monkeypatch, tmp_path / "out.jsonl.partial")
    out = _Output("out.jsonl")
    out.fh.write("{}\n")
    kept = out.keep_partial()
    assert kept is not None and kept.name.startswith(".out.jsonl.") and kept.suffix == ".tmp"
    assert kept.read_text() == "{}\n" and not (tmp_path / "out.jsonl.partial").exists()
    err = caplog.text
    assert "cannot keep the finished records as out.jsonl.partial: Permission denied; " in err
    assert f"is kept in {kept} (move it away before writing there again" in err


def test_a_partial_file_replaced_by_a_shorter_one_is_said_with_both_sizes(
    tmp_path, monkeypatch, caplog
):
    # A run interrupted again, sooner, replaced the 1,536 records an earlier one had kept
    # in FILE.partial with its 1,024 without a word.
    from sksplice.cli._output import _Output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.jsonl.partial").write_text("{}\n" * 1500)  # (4.5 kB)
    out = _Output("out.jsonl")
    out.fh.write("{}\n" * 10)
    assert out.keep_partial() == Path("out.jsonl.partial")
    assert (tmp_path / "out.jsonl.partial").read_text() == "{}\n" * 10
    assert (
        "replaced out.jsonl.partial, the records an earlier interrupted run had finished "
        "(4 kB), with this run's (30 bytes)"
    ) in caplog.text
    # none before: nothing said
    caplog.clear()
    (tmp_path / "out.jsonl.partial").unlink()
    out = _Output("out.jsonl")
    out.fh.write("{}\n")
    out.keep_partial()
    assert "replaced" not in caplog.text
