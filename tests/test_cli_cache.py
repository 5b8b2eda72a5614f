"""The ``cache`` command: what the cache folder holds, and clearing it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ._helpers_cli import VOCAB
from ._helpers_cli import model_args as _args
from ._helpers_cli import run_main as _main


def _filled(run_env: Path, tmp_path: Path, capsys) -> Path:
    """The cache folder after one decompose run (image embeddings and a dictionary)."""
    from sksplice import dictionary

    dictionary.clear_memory_cache()  # (an earlier test's dictionary: not written again)
    code, _, err = _main(["decompose", str(run_env), "-q", *_args(tmp_path)], capsys)
    assert code == 0, err
    return tmp_path / "cache"


def _stale_copy(cache: Path) -> Path:
    """A copy of the image folder recorded as made with another torch."""
    (current,) = (cache / "images").iterdir()
    stale = cache / "images" / "0123456789abcdef0123"
    shutil.copytree(current, stale)
    key = json.loads((stale / "key.json").read_text(encoding="utf-8"))
    key["torch"] = "1.0.0"
    (stale / "key.json").write_text(json.dumps(key), encoding="utf-8")
    return stale


def test_the_listing_names_each_entry_and_the_stale_image_folders(run_env, tmp_path, capsys):
    from importlib.metadata import version

    cache = _filled(run_env, tmp_path, capsys)
    stale = _stale_copy(cache)
    code, out, err = _main(["cache", "-f", "json"], capsys)
    assert code == 0, err
    listing = json.loads(out)
    assert listing["cache_dir"] == str(cache)
    entries = {Path(e["path"]).name: e for e in listing["entries"]}
    (current,) = (p for p in (cache / "images").iterdir() if p != stale)
    assert entries[current.name]["kind"] == "images" and entries[current.name]["stale"] is None
    assert entries[current.name]["files"] == 7  # (six images and key.json)
    assert entries[current.name]["what"].startswith("open_clip/sksplice-test-tiny/")
    assert entries[stale.name]["stale"] == f"made with torch 1.0.0 (installed: {version('torch')})"
    (dictionary,) = (e for e in listing["entries"] if e["kind"] == "dictionary")
    assert dictionary["what"].endswith(f", {len(VOCAB)} concepts")
    assert dictionary["vocabulary"].startswith("a vocabulary file or list (its concepts' digest ")
    assert dictionary["bytes"] >= Path(dictionary["path"]).stat().st_size > 0
    assert listing["bytes"] == sum(e["bytes"] for e in listing["entries"])
    assert re.search(
        r"sksplice: 1 image folder \([0-9.]+ kB\) of other releases, read by no run of this "
        r"installation: sksplice cache --clear stale removes it\n",
        err,
    ), err
    # the table: one row per entry, its path below it; results only on standard output
    code, out, err = _main(["cache"], capsys)
    assert code == 0 and not any(line.startswith("sksplice:") for line in out.splitlines())
    header, *rows = [line for line in out.splitlines() if not line.startswith("    ")]
    assert header.split() == ["kind", "files", "on", "disk", "newest", "(UTC)", "what"]
    assert len(rows) == len(listing["entries"]) == 3
    assert any(line.endswith(f"[stale: {entries[stale.name]['stale']}]") for line in rows), out
    assert f"    {stale}" in out.splitlines()


def test_clear_stale_removes_only_folders_no_run_reads(run_env, tmp_path, capsys):
    cache = _filled(run_env, tmp_path, capsys)
    stale = _stale_copy(cache)
    kept = sorted(p for p in cache.rglob("*") if stale not in p.parents and p != stale)
    code, out, err = _main(["cache", "--clear", "stale", "-f", "json"], capsys)
    assert code == 0, err
    assert [e["path"] for e in json.loads(out)["cleared"]] == [str(stale)]
    assert not stale.exists() and sorted(cache.rglob("*")) == kept
    assert "removed 1 entry, " in err and f"from {cache}" in err, err
    # the next run still reads every image from the cache
    code, _, err = _main(["decompose", str(run_env), *_args(tmp_path)], capsys)
    assert code == 0 and "6 embeddings read from the cache" in err, err
    code, out, err = _main(["cache", "--clear", "stale"], capsys)
    assert code == 0 and out == "" and f"nothing to remove (--clear stale) in {cache}" in err


def test_temporary_files_of_stopped_writers_are_listed_and_cleared(run_env, tmp_path, capsys):
    # A dictionary's temporary file left by a run killed while writing it (as large as
    # the dictionary) was neither listed nor removed, by --clear all either: only a later
    # build of that same dictionary removed it.
    import os

    from sksplice._atomic import temporary_name

    cache = _filled(run_env, tmp_path, capsys)
    (dictionary,) = (cache / "dictionaries").glob("*.npz")
    live = dictionary.with_name(temporary_name(dictionary.name))  # (this process's)
    live.write_bytes(b"being written")
    dead = dictionary.with_name(
        temporary_name(dictionary.name).replace(f".{os.getpid()}.", ".999999999.", 1)
    )
    dead.write_bytes(b"\0" * 5000)
    old = dictionary.with_name(f".{dictionary.name}.0123456789ab.tmp")  # (no process named)
    old.write_bytes(b"\0" * 10)
    os.utime(old, (1e9, 1e9))  # (2001: written to last long ago)
    code, out, err = _main(["cache", "-f", "json"], capsys)
    assert code == 0, err
    listing = json.loads(out)
    entries = {Path(e["path"]).name: e for e in listing["entries"]}
    assert entries[live.name]["kind"] == "temporary file" and entries[live.name]["stale"] is None
    assert entries[dead.name]["stale"] == "its writer, process 999999999, is no longer running"
    assert entries[old.name]["stale"] == "written to last more than an hour ago"
    assert entries[dead.name]["bytes"] >= 5000
    assert listing["bytes"] == sum(e["bytes"] for e in listing["entries"])
    assert "sksplice: 2 temporary files (" in err and "--clear stale removes them" in err, err
    code, out, err = _main(["cache", "--clear", "all", "-f", "json"], capsys)
    assert code == 0, err
    cleared = {Path(e["path"]).name for e in json.loads(out)["cleared"]}
    assert dead.name in cleared and old.name in cleared and live.name not in cleared
    assert [p.name for p in (cache / "dictionaries").iterdir()] == [live.name]


@pytest.mark.parametrize(
    ("what", "left"),
    [("images", {"dictionaries"}), ("dictionaries", {"images"}), ("all", set())],
)
def test_clear_a_kind_removes_its_entries(run_env, tmp_path, capsys, what, left):
    cache = _filled(run_env, tmp_path, capsys)
    code, out, err = _main(["cache", "--clear", what, "-f", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["cleared"]
    holding = {p.name for p in cache.iterdir() if any(p.iterdir())}
    assert holding == left


def test_a_cache_folder_not_made_yet_holds_nothing(tmp_path, capsys):
    missing = tmp_path / "none"
    code, out, err = _main(["cache", "--cache-dir", str(missing), "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["entries"] == [], err
    assert f"the cache folder {missing} does not exist: nothing is cached yet" in err
    assert not missing.exists()


def test_an_entry_that_cannot_be_removed_whole_is_set_apart_and_named(
    run_env, tmp_path, capsys, monkeypatch
):
    # rmtree stops at the first file it cannot remove: the half of a stale folder left
    # (its key.json gone) was listed as a folder of unknown images, no longer stale
    from sksplice.cli import _cache

    cache = _filled(run_env, tmp_path, capsys)
    stale = _stale_copy(cache)
    rmtree = _cache.shutil.rmtree

    def stops_half_way(path, *args, **kwargs):
        (Path(path) / "key.json").unlink()  # (removed before the file that stops it)
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(_cache.shutil, "rmtree", stops_half_way)
    code, out, err = _main(["cache", "--clear", "stale"], capsys)
    left = stale.with_name(f".{stale.name}.removing")
    assert code == 1 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot remove {stale}: Operation not permitted (what was not "
        f"removed is in {left}: the next --clear removes it); 0 of 1 entry removed"
    )
    assert left.is_dir() and not stale.exists()
    code, out, err = _main(["cache", "-f", "json"], capsys)
    kinds = {Path(e["path"]).name: e["kind"] for e in json.loads(out)["entries"]}
    assert kinds[left.name] == "partly removed" and len(kinds) == 3, kinds
    monkeypatch.setattr(_cache.shutil, "rmtree", rmtree)
    code, out, err = _main(["cache", "--clear", "stale", "-f", "json"], capsys)
    assert code == 0 and [e["path"] for e in json.loads(out)["cleared"]] == [str(left)], err
    assert not left.exists() and len(list((cache / "images").iterdir())) == 1


def test_a_link_among_the_entries_is_removed_not_what_it_leads_to(run_env, tmp_path, capsys):
    cache = _filled(run_env, tmp_path, capsys)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "ab").mkdir(parents=True)
    (elsewhere / "ab" / "kept.npy").write_bytes(b"x")
    (cache / "images" / "linked").symlink_to(elsewhere, target_is_directory=True)
    code, out, err = _main(["cache", "--clear", "images", "-f", "json"], capsys)
    assert code == 0 and len(json.loads(out)["cleared"]) == 2, err
    assert (elsewhere / "ab" / "kept.npy").exists() and not any((cache / "images").iterdir())


def test_an_entry_that_cannot_be_removed_is_named_with_those_removed(
    run_env, tmp_path, capsys, monkeypatch
):
    from sksplice.cli import _cache

    cache = _filled(run_env, tmp_path, capsys)
    (folder,) = (cache / "images").iterdir()

    def refused(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_cache.shutil, "rmtree", refused)
    monkeypatch.setattr(_cache.os, "replace", refused)  # (the folder cannot be renamed)
    code, out, err = _main(["cache", "--clear", "all"], capsys)
    assert code == 1 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot remove {folder}: Permission denied; 0 of 2 entries removed"
    )
    assert folder.is_dir() and (folder / "key.json").is_file()  # (left whole)


def test_a_dictionary_of_a_named_vocabulary_is_named(
    run_env, tmp_path, capsys, monkeypatch, splice_data_dir
):
    # An MSCOCO dictionary of 2,000 concepts read "minilm-l6-v2, 2000 concepts", as a
    # LAION one or a file of that size would: which vocabulary it held was not said.
    from sksplice import CLIPEmbedder, SpliceTransformer, dictionary
    from sksplice.vocabulary import load_vocabulary

    dictionary.clear_memory_cache()
    for vocabulary in ("laion", "mscoco"):
        args = [vocabulary if a == str(tmp_path / "vocab.txt") else a for a in _args(tmp_path)]
        code, _, err = _main(
            ["decompose", str(run_env), "-q", "--vocabulary-size", "40", "--data-home"]
            + [str(splice_data_dir), *args],
            capsys,
        )
        assert code == 0, err
    # (the authors' order: their last 30 lines, given as a list)
    authors = load_vocabulary("laion", 30, splice_data_dir, order="authors")
    SpliceTransformer(
        embedder=CLIPEmbedder("sksplice-test-tiny", pretrained=None, modality="text"),
        vocabulary=authors,
        image_mean=np.zeros(32),
        cache_dir=tmp_path / "cache",
    ).fit(np.eye(2, 32))
    code, out, err = _main(["cache", "-f", "json", "--data-home", str(splice_data_dir)], capsys)
    assert code == 0, err
    said = sorted(e["vocabulary"] for e in json.loads(out)["entries"] if e["kind"] == "dictionary")
    assert said == [
        "the 30 most frequent of laion, in the authors' order",
        "the 40 most frequent of laion",
        "the 40 most frequent of mscoco",
    ]
    code, out, _ = _main(["cache", "--data-home", str(splice_data_dir)], capsys)
    assert code == 0 and out.count(" concepts: the 40 most frequent of ") == 2, out
    # (the default data folder, without the vocabularies, or with a laion.txt of another
    # digest: nothing downloaded, nothing read, the digest said)
    import sksplice._download

    fetched = []

    def no_download(*args, **kwargs):
        fetched.append(args)
        raise OSError("offline")

    monkeypatch.setattr(sksplice._download, "fetch_file", no_download)
    home = tmp_path / "data_home"
    for damaged in (False, True):
        if damaged:
            (home / "vocab").mkdir()
            shutil.copy(splice_data_dir / "vocab" / "laion.txt", home / "vocab" / "laion.txt")
            with open(home / "vocab" / "laion.txt", "a", encoding="utf-8") as fh:
                fh.write("one more line\n")
        code, out, err = _main(["cache", "-f", "json"], capsys)
        assert code == 0, err
        # (said on standard error: the listing names fewer than it could)
        assert f"sksplice: the data folder {home} does not hold " in err, err
        said = [e["vocabulary"] for e in json.loads(out)["entries"] if e["kind"] == "dictionary"]
        assert len(said) == 3
        digest = "a vocabulary file or list (its concepts' digest "
        assert all(what.startswith(digest) for what in said), said
        assert not fetched
    # (a --data-home that does not exist, mistyped perhaps: said as such, as a warning)
    missing = tmp_path / "no_such_folder"
    code, out, err = _main(["cache", "-f", "json", "--data-home", str(missing)], capsys)
    assert code == 0, err
    assert f"sksplice: warning: the data folder {missing} does not exist: " in err, err
    assert "does not hold" not in err and not missing.exists()
    listed = [e for e in json.loads(out)["entries"] if e["kind"] == "dictionary"]
    assert len(listed) == 3 and all(e["vocabulary"].startswith(digest) for e in listed)
    # (the default folder, not given, only not made yet: an information line, not a warning)
    monkeypatch.setenv("SKSPLICE_DATA", str(missing))
    code, out, err = _main(["cache", "-f", "json"], capsys)
    assert code == 0 and f"sksplice: the data folder {missing} does not exist: " in err, err
    code, out, err = _main(["cache", "-f", "json", "-q"], capsys)
    assert code == 0 and err == "", err


def test_a_default_cache_folder_that_is_a_file_is_said_as_such(tmp_path, capsys, monkeypatch):
    # With neither --cache-dir nor $SKSPLICE_CACHE, a default folder that cannot be made
    # ended the command in "sksplice: error: 'SKSPLICE_CACHE'" (a KeyError); the chosen
    # folders are said in the words of the option or variable, a wrong command line.
    blocked = tmp_path / "xdg"
    blocked.write_text("a file where the cache folders would go\n")
    monkeypatch.delenv("SKSPLICE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    code, out, err = _main(["cache"], capsys)
    assert (code, out) == (1, ""), err
    assert err.strip().splitlines()[-1] == (
        f"sksplice: error: cannot create the sksplice cache folder '{blocked / 'sksplice'}' "
        f"({blocked} is not a folder); pass a writable folder as --cache-dir or set "
        "$SKSPLICE_CACHE"
    ), err
    monkeypatch.setenv("SKSPLICE_CACHE", str(blocked))
    code, out, err = _main(["cache"], capsys)
    assert (code, out) == (2, "") and err.strip().splitlines()[-1] == (
        f"sksplice: error: $SKSPLICE_CACHE ({blocked}) is a file, not a folder; set "
        "$SKSPLICE_CACHE to a folder, or give --cache-dir"
    ), err


@pytest.mark.parametrize("by_option", [True, False])
def test_clearing_a_chosen_folder_that_does_not_exist_is_warned_about(
    tmp_path, capsys, monkeypatch, by_option
):
    # a misspelt folder was said in an information line, "nothing is cached yet", which
    # -q drops; a script clearing a folder that may not exist yet still succeeds
    missing = tmp_path / "cahce"
    if by_option:
        argv = ["cache", "--cache-dir", str(missing), "--clear", "all"]
        named = f"--cache-dir {missing}"
    else:
        monkeypatch.setenv("SKSPLICE_CACHE", str(missing))
        argv = ["cache", "--clear", "stale"]
        named = f"$SKSPLICE_CACHE ({missing})"
    code, out, err = _main([*argv, "-q", "-f", "json"], capsys)
    assert code == 0 and json.loads(out)["cleared"] == []
    assert err == (
        f"sksplice: warning: {named} does not exist, so --clear {argv[-1]} removed nothing; "
        "check the folder's name if a cache was meant to be there\n"
    )
    assert not missing.exists()


def test_a_cache_folder_that_cannot_be_read_is_said_with_what_to_do(
    run_env, tmp_path, capsys, monkeypatch
):
    # (another user's folder of mode 700: the error named the file, not what to do)
    import pathlib

    cache = _filled(run_env, tmp_path, capsys)
    is_dir = pathlib.Path.is_dir

    def refused(self, *args, **kwargs):
        if self == cache / "images":
            raise PermissionError(13, "Permission denied", str(self))
        return is_dir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "is_dir", refused)
    code, out, err = _main(["cache"], capsys)
    assert code == 1 and out == ""
    assert err.strip().endswith(
        f"sksplice: error: cannot read the cache folder {cache}: {cache / 'images'} (Permission "
        "denied); give --cache-dir a folder you can read, or run as the user whose cache it is"
    ), err


def test_a_stopped_vocabulary_embedding_is_listed_with_its_model_size_and_progress(
    tiny_clip_model, tmp_path, capsys, monkeypatch, splice_data_dir
):
    # Its row read "open_clip_sksplice-test-tiny_random-init-seed0-c-2000-d7fe...: the
    # blocks of a vocabulary embedding ...": the file name, where a dictionary's row says
    # its model, size and vocabulary.
    from sksplice import CLIPEmbedder, dictionary
    from sksplice.vocabulary import load_vocabulary

    monkeypatch.setenv("SKSPLICE_CACHE", str(tmp_path / "cache"))
    concepts = load_vocabulary("laion", 2000, splice_data_dir)
    calls = []
    embed_text = CLIPEmbedder.embed_text

    def stopped(self, texts, **kwargs):  # (Ctrl-C in the fifth call of 256: 2 blocks kept)
        calls.append(len(texts))
        if len(calls) >= 5:
            raise KeyboardInterrupt
        return embed_text(self, texts, **kwargs)

    monkeypatch.setattr(CLIPEmbedder, "embed_text", stopped)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text")
    dictionary.clear_memory_cache()
    with pytest.raises(KeyboardInterrupt, match=r"\(2 of 3 blocks\)"):
        dictionary.embed_vocabulary(embedder, list(concepts), batch_size=256)
    (folder,) = (tmp_path / "cache" / "dictionaries").glob("*.partial")
    code, out, err = _main(["cache", "-f", "json", "--data-home", str(splice_data_dir)], capsys)
    assert code == 0, err
    (entry,) = json.loads(out)["entries"]
    assert entry["kind"] == "partial dictionary" and entry["path"] == str(folder)
    assert entry["vocabulary"] == "the 2000 most frequent of laion", entry
    assert entry["what"] == (
        f"{embedder.cache_key()}, 2000 concepts (2 of 3 blocks of a vocabulary embedding that "
        "was stopped, or is running; the next run resumes from them)"
    ), entry
    # a block that cannot be read is not counted as done; none: named by the folder
    blocks = sorted(folder.iterdir())
    blocks[0].write_bytes(b"not a block")
    code, out, err = _main(["cache", "-f", "json"], capsys)
    (entry,) = json.loads(out)["entries"]
    assert "concepts (1 of 3 blocks of a vocabulary embedding" in entry["what"], entry
    for block in blocks:
        block.write_bytes(b"not a block")
    code, out, err = _main(["cache", "-f", "json"], capsys)
    (entry,) = json.loads(out)["entries"]
    assert entry["what"].startswith(f"{folder.stem} (the blocks of a vocabulary embedding"), entry
    assert entry["vocabulary"] is None
