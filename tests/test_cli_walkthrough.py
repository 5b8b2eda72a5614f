"""Defects found by running the command as a user: failed runs leave nothing behind and
say what is wrong with the command line in its words."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from sksplice import cli
from sksplice._download import DataFetchError, fetch_file

from ._helpers_cli import VOCAB, model_args
from ._helpers_data import block_network
from .conftest import TESTS_DATA

OFFLINE = requests.exceptions.ConnectionError(
    "Failed to resolve 'raw.githubusercontent.com' ([Errno -2] Name or service not known)"
)


@pytest.fixture
def run_env(tmp_path, tiny_clip_model, monkeypatch) -> Path:
    """The tiny model, a vocabulary file and three images; returns the folder of the images."""
    monkeypatch.setenv("SKSPLICE_MODEL_CONFIGS", str(TESTS_DATA / f"{tiny_clip_model}.json"))
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "data_home"))
    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(images / f"{i}.png")
    return images


def _args(tmp_path: Path, *extra: str, pretrained: str = "none") -> list[str]:
    return model_args(tmp_path, "-q", *extra, pretrained=pretrained)


def _with_checkpoint(images: Path, tmp_path: Path, checkpoint: Path) -> list[str]:
    return ["decompose", str(images), *_args(tmp_path, pretrained=str(checkpoint))]


def _main(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------ a failed download leaves no folder


def test_a_failed_download_leaves_no_folder_it_made(tmp_path, monkeypatch):
    block_network(monkeypatch, OFFLINE)
    url = "https://example.org/vocab/laion.txt"
    sha = "0" * 64
    home = tmp_path / "new" / "data_home"
    with pytest.raises(DataFetchError, match="Name or service not known") as failed:
        fetch_file("vocab/laion.txt", url=url, sha256=sha, data_home=home)
    assert _tree(tmp_path) == []  # neither the data home, nor the folder above, nor vocab
    # (the advice names the folder to put the file in, which is gone: make it first)
    assert f"{str(home / 'vocab')!r} (create it first) as 'laion.txt'" in str(failed.value)
    # folders that were there stay, with what they hold; only the new one goes
    (tmp_path / "kept" / "means").mkdir(parents=True)
    (tmp_path / "kept" / "means" / "x.pt").write_bytes(b"x")
    with pytest.raises(DataFetchError):
        fetch_file("vocab/laion.txt", url=url, sha256=sha, data_home=tmp_path / "kept")
    with pytest.raises(DataFetchError) as failed:
        fetch_file("means/y.pt", url=url, sha256=sha, data_home=tmp_path / "kept")
    assert "create it first" not in str(failed.value)  # (kept/means is there)
    assert _tree(tmp_path) == ["kept", "kept/means", "kept/means/x.pt"]


def test_a_failed_image_mean_download_leaves_no_folder(tmp_path, monkeypatch):
    from sksplice.vocabulary import IMAGE_MEANS, load_image_mean

    block_network(monkeypatch, OFFLINE)
    model, pretrained = next(iter(IMAGE_MEANS))
    with pytest.raises(DataFetchError):
        load_image_mean(model, pretrained, data_home=tmp_path / "dh")
    assert _tree(tmp_path) == []


def test_a_failed_vocabulary_download_in_the_command_leaves_no_folder(
    run_env, tmp_path, monkeypatch, capsys
):
    block_network(monkeypatch, OFFLINE)
    home = tmp_path / "x" / "dh"
    args = ["decompose", str(run_env), *_args(tmp_path)]
    args[args.index("--vocabulary") + 1] = "laion"
    code, out, err = _main([*args, "--data-home", str(home)], capsys)
    assert code == 1 and out == ""
    assert "could not download 'vocab/laion.txt'" in err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------ the data home, checked before the model


@pytest.fixture
def no_model_checked(monkeypatch):
    from sksplice.cli import _checks

    def guard(*args, **kwargs):
        raise _Decoded("the device and the model were checked before the data home")

    monkeypatch.setattr(_checks, "_check_device", guard)


@pytest.mark.parametrize("option", ["--data-home", "--cache-dir"])
def test_a_blank_folder_option_is_a_wrong_command_line(run_env, tmp_path, capsys, option):
    # --data-home "" failed after 12 s (exit 1), telling to leave it unset "(None)"
    args = ["decompose", str(run_env), *_args(tmp_path), option, " "]
    code, out, err = _main(args, capsys)
    assert code == 2 and out == ""
    assert f"argument {option}: ' ' is blank (an unset variable?): give a folder, or leave " in err
    assert "None" not in err


@pytest.mark.parametrize("source", ["option", "variable"])
def test_a_data_home_that_is_a_file_is_refused_before_the_model(
    run_env, tmp_path, capsys, monkeypatch, no_model_checked, source
):
    # refused after torch and the model were loaded (~10 s); from $SKSPLICE_DATA the
    # message told to set $SKSPLICE_DATA, without saying the wrong value came from it
    (tmp_path / "dh_file").write_text("not a folder")
    args = ["decompose", str(run_env), *_args(tmp_path)]
    args[args.index("--vocabulary") + 1] = "laion"
    if source == "option":
        args += ["--data-home", str(tmp_path / "dh_file")]
        told = f"--data-home {tmp_path / 'dh_file'} is a file, not a folder; give --data-home"
    else:
        monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "dh_file"))
        told = f"$SKSPLICE_DATA ({tmp_path / 'dh_file'}) is a file, not a folder; set $SKSPLICE"
    code, out, err = _main(args, capsys)
    assert code == 2 and out == "" and told in err, err


def test_a_run_that_reads_nothing_from_the_data_home_is_not_refused_for_it(
    run_env, tmp_path, capsys
):
    # a vocabulary file and a centre learned from the images: no published file is read
    (tmp_path / "dh_file").write_text("not a folder")
    args = ["decompose", str(run_env), *_args(tmp_path), "--data-home", str(tmp_path / "dh_file")]
    code, out, err = _main([*args, "--image-mean", "data"], capsys)
    assert code == 0 and out and "data-home" not in err, err


def test_a_chosen_data_home_that_does_not_exist_is_said_before_a_download(
    run_env, tmp_path, monkeypatch, capsys
):
    # a misspelt --data-home was only a download destination: offline, "put the file in
    # the folder .../splce/vocab (create it first)"; online, filled with a second copy
    block_network(monkeypatch, OFFLINE)
    home = tmp_path / "splce"
    args = ["decompose", str(run_env), *_args(tmp_path), "--data-home", str(home)]
    args[args.index("--vocabulary") + 1] = "laion"
    code, out, err = _main(args, capsys)
    assert code == 1 and out == ""
    warning, error = err.splitlines()[:2]
    assert warning == (
        f"sksplice: warning: --data-home {home} does not exist: it is created if this run "
        "downloads a published file (the vocabulary, the image mean) to keep there; check the "
        "path if it should already hold them"
    )
    assert "could not download 'vocab/laion.txt'" in error
    # no file of it needed (a vocabulary file, a centre learned from the images): no word
    code, _, err = _main(
        ["decompose", str(run_env), *_args(tmp_path), "--data-home", str(home)], capsys
    )
    assert code == 0 and "does not exist" not in err, err


def test_the_first_run_line_counts_only_the_concepts_still_to_embed(run_env, tmp_path, capsys):
    # (a shorter beginning of the vocabulary cached by an earlier run: only the rest is
    # embedded, where the line said all of them)
    from sksplice.dictionary import clear_memory_cache

    clear_memory_cache()  # (nothing another test of this process embedded)
    args = ["decompose", str(run_env), *model_args(tmp_path), "--image-mean", "data"]
    code, _, err = _main([*args, "--vocabulary-size", "6"], capsys)
    assert code == 0 and "the 6 concepts of the vocabulary are not cached" in err, err
    code, _, err = _main(args, capsys)
    assert code == 0, err
    assert "the last 5 of the 11 concepts of the vocabulary are not cached" in err, err


# ------------------------------------------- a --pretrained file that is no checkpoint


class _Decoded(BaseException):
    """Raised when an image is decoded: not caught by the command's error handling."""


@pytest.fixture
def no_image_decoded(monkeypatch):
    from sksplice import _images

    def guard(*args, **kwargs):
        raise _Decoded("an image was decoded before the --pretrained file was refused")

    monkeypatch.setattr(_images, "_load_file", guard)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("vocab.txt", b"a dog\na cat\n", "it is not in torch.save's format"),
        ("concepts.txt", b"dog\ncat\n", "it is not in torch.save's format"),
        ("empty.pt", b"", "it is empty"),
        ("weights.safetensors", b"hello", "it is not in the safetensors format"),
    ],
)
def test_a_pretrained_file_that_is_no_checkpoint_is_a_wrong_command_line(
    name, content, reason, run_env, tmp_path, capsys, no_image_decoded
):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = _main(_with_checkpoint(run_env, tmp_path, path), capsys)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == (
        f"sksplice: error: --pretrained {path} is not a model checkpoint open_clip can load: "
        f"{reason}"
    )


def _tiny_state_dict():
    import open_clip

    return open_clip.create_model("sksplice-test-tiny").state_dict()


def test_a_checkpoint_torch_refuses_is_a_wrong_command_line_found_before_any_image(
    run_env, tmp_path, capsys, no_image_decoded
):
    import torch

    path = tmp_path / "train_state.pt"
    torch.save({"state_dict": _tiny_state_dict(), "args": argparse.Namespace(lr=1)}, path)
    code, _, err = _main(_with_checkpoint(run_env, tmp_path, path), capsys)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"sksplice: error: --pretrained {path} is not a model checkpoint open_clip can load "
        "(UnpicklingError: it holds argparse.Namespace, which torch's weights-only loading "
        "refuses)"
    )
    assert "add_safe_globals" not in err and "weights_only" not in err


@pytest.mark.parametrize("change", ["keys", "shape"])
def test_a_checkpoint_of_another_model_is_a_wrong_command_line(
    change, run_env, tmp_path, capsys, no_image_decoded, monkeypatch
):
    import torch

    state = _tiny_state_dict()
    if change == "keys":  # (renamed parameters: missing and unexpected keys)
        state["extra.weight"] = state.pop("visual.proj")
        reason = (
            "RuntimeError: Error(s) in loading state_dict for CLIP: 1 missing key(s) in the "
            "state dict (visual.proj); 1 unexpected key(s) in the state dict (extra.weight))"
        )
    else:  # (a wider text model: open_clip's resizing refuses it)
        state["positional_embedding"] = torch.zeros(77, 3 * state["positional_embedding"].shape[1])
        reason = "AssertionError: text pos_embed width changed!)"
    path = tmp_path / "other_model.pt"
    torch.save(state, path)
    args = _with_checkpoint(run_env, tmp_path, path)
    code, out, err = _main(args, capsys)
    assert code == 2, err
    assert out == ""
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: --pretrained {path} does not fit open_clip model "
        f"'sksplice-test-tiny': a checkpoint of another model? ({reason}"
    )
    # Without -q: refused before the images' progress bar shows (a bar at 0% read as if
    # embedding had begun).
    code, _, err = _main([a for a in args if a != "-q"], capsys)
    assert code == 2 and "does not fit open_clip model" in err, err
    assert "CLIP images" not in err
    # ... and before the vocabulary's lines, whether it is embedded first (a centre given:
    # the run streams) or said to come after the images
    np.save(tmp_path / "mean.npy", np.full(32, 0.05, dtype=np.float32))
    for centre in (["--image-mean", str(tmp_path / "mean.npy")], ["--image-mean", "data"]):
        code, _, err = _main([*(a for a in args if a != "-q"), *centre], capsys)
        assert code == 2 and "does not fit open_clip model" in err, err
        assert "concepts" not in err.split("does not fit")[0], err
    # a file named relative to the working folder is named so (it was shown resolved)
    monkeypatch.chdir(tmp_path)
    code, _, err = _main([path.name if a == str(path) else a for a in args], capsys)
    assert code == 2, err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"sksplice: error: --pretrained {path.name} does not fit open_clip model ")
    )


@pytest.mark.parametrize("error", ["out of memory", "memory", "disk"])
def test_a_checkpoint_that_fails_to_load_for_other_reasons_is_an_error_of_the_run(
    error, run_env, tmp_path, capsys, monkeypatch
):
    import torch

    path = tmp_path / "good.pt"
    torch.save(_tiny_state_dict(), path)
    failure = {
        "out of memory": torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
        "memory": MemoryError(),
        "disk": OSError(5, "Input/output error"),
    }[error]

    def load(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torch, "load", load)
    code, _, err = _main(_with_checkpoint(run_env, tmp_path, path), capsys)
    assert code == 1, err
    assert "not a model checkpoint" not in err


# ------------------------------------------- inputs skipped before too few are left


def test_a_single_input_that_is_no_image_is_named_as_such(run_env, tmp_path, capsys):
    notes = tmp_path / "mixed" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("hello\n")
    code, out, err = _main(["decompose", str(notes), *_args(tmp_path)], capsys)
    assert code == 1 and out == ""  # (every input unreadable: an error of the run)
    last = err.strip().splitlines()[-1]
    assert last == (
        f"sksplice: error: {str(notes)!r} is not an image file PIL can read: it is skipped, "
        "and no image is left to decompose"
    )
    assert "single image" not in err


def test_a_file_of_embeddings_given_as_an_image_is_told_where_it_goes(run_env, tmp_path, capsys):
    # (it was "not an image file PIL can read", with no word of what to do instead; a
    # .npy file alone is decomposed as embeddings: tests/test_cli_embeddings.py)
    import numpy as np

    embeddings = tmp_path / "X.npy"
    np.save(embeddings, np.ones((3, 32), dtype=np.float32))
    archive = tmp_path / "X.npz"
    np.savez(archive, X=np.ones((3, 32), dtype=np.float32))
    code, out, err = _main(["decompose", str(archive), *_args(tmp_path)], capsys)
    # (refused before any work, as a folder of them is: it loaded the model, and showed
    # the bar of the images embedded, to skip the file)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"sksplice: error: not an image file: {archive} (a .npz file holds arrays, not a "
        "picture: every command of sksplice reads embeddings computed already from .npy "
        "files "
        "(numpy.save writes one); they are also decomposed without embedding them again, by "
        "SpliceTransformer(...).fit_transform(X) in Python with X read from the file)"
    ], err
    # compressed, it is decompressed first (it was "not an image file PIL can read: it is
    # skipped", exit 1)
    import gzip

    packed = tmp_path / "X.npy.gz"
    packed.write_bytes(gzip.compress(embeddings.read_bytes()))
    code, out, err = _main(["decompose", str(packed), *_args(tmp_path)], capsys)
    assert code == 2 and out == ""
    assert err.strip().startswith(
        f"sksplice: error: not an image file: {packed} (a compressed .npy file holds arrays, "
        "not a picture: decompress it first (gunzip X.npy.gz); every command of sksplice "
        "reads embeddings computed already from .npy files"
    ), err
    # a folder of them (clip-retrieval's img_emb/) is told the same (it was "no image
    # files under folder"); a .npy file given alone is read as embeddings by every
    # command (tests/test_cli_embeddings.py)
    folder = tmp_path / "only_npy"
    folder.mkdir()
    (folder / "img_emb_0.npy").write_bytes(embeddings.read_bytes())
    code, out, err = _main(["decompose", str(folder), *_args(tmp_path)], capsys)
    assert code == 2 and out == "", err
    assert f"under folder {folder}: it holds img_emb_0.npy (a .npy file holds arrays" in err
    assert "every command of sksplice, given .npy files alone, decomposes their rows" in err


def test_every_input_skipped_is_named_with_its_reason(run_env, tmp_path, capsys):
    names = [tmp_path / "a.txt", tmp_path / "b.png"]
    names[0].write_text("hello\n")
    names[1].write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = _main(["decompose", *map(str, names), *_args(tmp_path)], capsys)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "none of the 2 images could be read" in last
    assert f"{str(names[0])!r} is not an image file PIL can read" in last, last
    assert f"{str(names[1])!r} could not be decoded (truncated or corrupt?)" in last, last


def test_a_single_image_still_gets_the_advice(run_env, tmp_path, capsys):
    code, _, err = _main(["decompose", str(run_env / "0.png"), *_args(tmp_path)], capsys)
    assert code == 2  # (a wrong command line)
    assert "cannot be learned from a single image" in err


# ----------------------------------------------------------- close matches everywhere


@pytest.mark.parametrize("typo, match", [("pretraind", "pretrained"), ("dta", "data")])
def test_a_misspelt_image_mean_keyword_gets_close_matches(typo, match, run_env, tmp_path, capsys):
    code, _, err = _main(
        ["decompose", str(run_env), *_args(tmp_path, "--image-mean", typo)], capsys
    )
    assert code == 2
    assert err.strip().endswith(f"(close matches: {match})"), err
