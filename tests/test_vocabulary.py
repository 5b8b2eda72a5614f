"""Tests of the vocabularies and image means (offline)."""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import requests
import torch

from sksplice import SpliceTransformer, vocabulary
from sksplice._data import file_sha256
from sksplice._download import DataFetchError, RemoteFile
from sksplice.vocabulary import (
    IMAGE_MEANS,
    UPSTREAM_URL,
    VOCABULARIES,
    RepeatedConceptWarning,
    as_mean_vector,
    authors_index_to_concept,
    load_image_mean,
    load_vocabulary,
)

from ._helpers_data import LocalServer, Route, block_network, sha256_bytes, start_server

EXPECTED_SIZES = {"laion": 37445, "laion_bigrams": 15000, "mscoco": 12832}
MEAN_DIMS = {
    "means/open_clip_ViT-B-32_image.pt": 512,
    "means/clip_ViT-B-32_image.pt": 512,
    "means/clip_ViT-B-16_image.pt": 512,
    "means/clip_RN50_image.pt": 1024,
}


def _tree_snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _raw_top(path: Path, k: int) -> list[str]:
    """Top k concepts straight from the file: last non-blank lines, reversed."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").split("\n")]
    return [line for line in reversed(lines) if line][:k]


@pytest.fixture
def no_network(monkeypatch):
    block_network(monkeypatch)


# ------------------------------------------------------------------ authors' files


def test_registries_point_upstream_with_pinned_digests():
    assert set(VOCABULARIES) == {"laion", "laion_bigrams", "mscoco"}
    remotes = list(VOCABULARIES.values()) + list(IMAGE_MEANS.values())
    for remote in remotes:
        assert remote.url == UPSTREAM_URL + remote.path
        assert remote.url.startswith("https://raw.githubusercontent.com/AI4LIFE-GROUP/SpLiCE/")
        assert len(remote.sha256) == 64
    assert {r.path for r in IMAGE_MEANS.values()} == set(MEAN_DIMS)
    assert IMAGE_MEANS["ViT-B-32", "laion2b_s34b_b79k"].path == "means/open_clip_ViT-B-32_image.pt"
    assert IMAGE_MEANS["RN50", "openai"].path == "means/clip_RN50_image.pt"


def test_reference_files_match_the_pins(splice_data_dir):
    for remote in [*VOCABULARIES.values(), *IMAGE_MEANS.values()]:
        assert file_sha256(splice_data_dir / remote.path) == remote.sha256, remote.path


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_named_vocabularies_from_a_read_only_data_home(splice_data_dir, no_network, name):
    before = _tree_snapshot(splice_data_dir)
    path = splice_data_dir / VOCABULARIES[name].path

    everything = load_vocabulary(name, size=None, data_home=splice_data_dir)
    assert len(everything) == EXPECTED_SIZES[name]
    assert len(set(everything)) == len(everything)
    assert all(c and c == c.strip() for c in everything)
    assert everything[:50] == _raw_top(path, 50)

    top = load_vocabulary(name, size=1000, data_home=splice_data_dir)
    assert top == everything[:1000]
    # Most frequent first: the last line of the file comes first.
    last_line = next(ln for ln in reversed(path.read_text("utf-8").split("\n")) if ln.strip())
    assert top[0] == last_line.strip()

    assert _tree_snapshot(splice_data_dir) == before  # nothing written


def test_default_vocabulary_is_the_paper_setting(splice_data_dir, no_network, monkeypatch):
    monkeypatch.setenv("SKSPLICE_DATA", str(splice_data_dir))
    concepts = load_vocabulary()
    assert len(concepts) == 10000
    assert concepts[:3] == ["-", "of", "the"]
    assert concepts == load_vocabulary("laion", size=10000, data_home=splice_data_dir)


def test_mscoco_blank_line_is_skipped_not_counted(splice_data_dir, no_network):
    path = splice_data_dir / "vocab" / "mscoco.txt"
    last_ten_lines = path.read_text("utf-8").rstrip("\n").split("\n")[-10:]
    assert "" in [ln.strip() for ln in last_ten_lines]  # the file has a blank line there
    top = load_vocabulary("mscoco", size=10, data_home=splice_data_dir)
    assert len(top) == 10 and "" not in top
    assert top[:9] == [ln for ln in reversed(last_ten_lines) if ln.strip()]


def test_named_vocabulary_size_too_large(splice_data_dir):
    with pytest.raises(ValueError, match=r"larger than the 15000 concepts.*size=None"):
        load_vocabulary("laion_bigrams", size=15001, data_home=splice_data_dir)
    assert len(load_vocabulary("laion_bigrams", size=15000, data_home=splice_data_dir)) == 15000


@pytest.mark.parametrize("path", sorted(MEAN_DIMS))
def test_published_image_means(splice_data_dir, no_network, path):
    keys = [key for key, remote in IMAGE_MEANS.items() if remote.path == path]
    assert keys
    reference = torch.load(splice_data_dir / path, map_location="cpu", weights_only=True)
    for model, pretrained in keys:
        mean = load_image_mean(model, pretrained, data_home=splice_data_dir)
        assert mean.dtype == np.float32
        assert mean.shape == (MEAN_DIMS[path],)
        assert mean.flags.writeable and mean.flags.c_contiguous
        np.testing.assert_array_equal(mean, reference.numpy())
        # A mean of unit vectors lies strictly inside the unit ball.
        assert 0.1 < np.linalg.norm(mean) < 1.0
        # and the rule for given centres (norm at most 1) lets it through, in float16 too
        for given in (mean, mean.astype(np.float16)):
            assert as_mean_vector(given, MEAN_DIMS[path]).shape == mean.shape


def test_image_mean_name_aliases(splice_data_dir, no_network):
    a = load_image_mean("ViT-B/32", "OpenAI", data_home=splice_data_dir)
    b = load_image_mean("ViT-B-32", "openai", data_home=splice_data_dir)
    c = load_image_mean("ViT-B-32", "laion2b_s34b_b79k", data_home=splice_data_dir)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    # As for open_clip's tags, "-" and "_" in the tag do not matter (nor does case).
    d = load_image_mean("ViT-B/32", "LAION2B-S34B-B79K", data_home=splice_data_dir)
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize(
    ("model", "pretrained"),
    [("ViT-L-14", "openai"), ("ViT-B-32", None), ("ViT-B-32", "laion400m_e32"), ("tiny", None)],
)
def test_model_without_published_mean(tmp_path, no_network, model, pretrained):
    with pytest.raises(ValueError, match=r"No published image mean.*image_mean=None") as info:
        load_image_mean(model, pretrained, data_home=tmp_path)
    assert "('ViT-B-32', 'laion2b_s34b_b79k')" in str(info.value)
    assert "did you mean" not in str(info.value)  # (no typo: a model with no mean)
    with pytest.raises(TypeError, match="model"):
        load_image_mean(None, "openai")


@pytest.mark.parametrize(
    ("model", "pretrained", "close"),
    [("ViT-B-32x", "openai", "model='ViT-B-32'"), ("ViT-B-32", "openia", "pretrained='openai'")],
)
def test_a_misspelt_model_or_tag_of_a_published_mean_gets_its_close_match(
    tmp_path, no_network, model, pretrained, close
):
    # as CLIPEmbedder says the same typo (the mean's error listed the published pairs only)
    with pytest.raises(
        ValueError,
        match=rf"^No published image mean for model={model!r}, pretrained={pretrained!r} "
        rf"\(did you mean {close}\?\)\. Published means exist for",
    ):
        load_image_mean(model, pretrained, data_home=tmp_path)


# ------------------------------------------------------------------ network path


@pytest.fixture
def served_vocab(monkeypatch):
    """Serve a small vocabulary on 127.0.0.1 and register it as 'laion'."""
    body = b"rare\nless common\n\n  common \nmost common\n"
    state = LocalServer(routes={"/vocab/laion.txt": Route(body)})
    httpd, thread = start_server(state)
    remote = RemoteFile("vocab/laion.txt", state.url("/vocab/laion.txt"), sha256_bytes(body))
    monkeypatch.setitem(VOCABULARIES, "laion", remote)
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_named_vocabulary_is_downloaded_once(tmp_path, served_vocab):
    assert load_vocabulary("laion", size=2, data_home=tmp_path) == ["most common", "common"]
    assert served_vocab.requests == ["/vocab/laion.txt"]
    assert (tmp_path / "vocab" / "laion.txt").is_file()
    assert load_vocabulary("laion", size=None, data_home=tmp_path) == [
        "most common",
        "common",
        "less common",
        "rare",
    ]
    assert served_vocab.requests == ["/vocab/laion.txt"]


def test_named_vocabulary_corrupted_cache_is_refetched(tmp_path, served_vocab):
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "laion.txt").write_text("poisoned\n")
    with pytest.warns(UserWarning, match="not used"):
        concepts = load_vocabulary("laion", size=None, data_home=tmp_path)
    assert "poisoned" not in concepts and concepts[0] == "most common"
    assert served_vocab.requests == ["/vocab/laion.txt"]


def test_offline_named_vocabulary_error(tmp_path, monkeypatch):
    block_network(monkeypatch, requests.exceptions.ConnectionError("Network is unreachable"))
    with pytest.raises(DataFetchError) as info:
        load_vocabulary("laion", data_home=tmp_path)
    message = str(info.value)
    assert "vocab/laion.txt" in message
    assert UPSTREAM_URL + "vocab/laion.txt" in message
    assert str(tmp_path / "vocab") in message

    with pytest.raises(DataFetchError, match=r"means/clip_RN50_image\.pt"):
        load_image_mean("RN50", "openai", data_home=tmp_path)


def test_image_mean_downloaded_from_local_server(tmp_path, monkeypatch):
    values = torch.linspace(-0.5, 0.5, 16)
    src = tmp_path / "served.pt"
    torch.save(values, src)
    body = src.read_bytes()
    state = LocalServer(routes={"/m.pt": Route(body)})
    httpd, thread = start_server(state)
    try:
        remote = RemoteFile("means/served.pt", state.url("/m.pt"), sha256_bytes(body))
        monkeypatch.setitem(IMAGE_MEANS, ("Toy", "tag"), remote)
        mean = load_image_mean("Toy", "tag", data_home=tmp_path / "home")
        np.testing.assert_array_equal(mean, values.numpy())
        assert state.requests == ["/m.pt"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ------------------------------------------------------------------ malformed mean files


class _Sneaky:
    """Unpickling this with weights_only=False would create a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _register_local_mean(tmp_path: Path, monkeypatch, obj: object) -> Path:
    home = tmp_path / "home"
    target = home / "means" / "bad.pt"
    target.parent.mkdir(parents=True)
    torch.save(obj, target)
    remote = RemoteFile("means/bad.pt", "https://example.invalid/bad.pt", file_sha256(target))
    monkeypatch.setitem(IMAGE_MEANS, ("Bad", "tag"), remote)
    return home


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (torch.zeros(2, 3), r"shape \(2, 3\)"),
        (torch.arange(4), "torch.int64"),
        (torch.zeros(0), r"shape \(0,\)"),
        ({"mean": torch.zeros(3)}, "holds a dict"),
        (torch.tensor([0.1, float("nan")]), "non-finite"),
    ],
)
def test_malformed_mean_files(tmp_path, monkeypatch, no_network, obj, match):
    home = _register_local_mean(tmp_path, monkeypatch, obj)
    with pytest.raises(ValueError, match=match) as info:
        load_image_mean("Bad", "tag", data_home=home)
    assert "bad.pt" in str(info.value)


def test_mean_loading_refuses_arbitrary_pickles(tmp_path, monkeypatch, no_network):
    marker = tmp_path / "code_was_executed"
    home = _register_local_mean(tmp_path, monkeypatch, _Sneaky(str(marker)))
    with pytest.raises(ValueError, match="Cannot read the image mean file"):
        load_image_mean("Bad", "tag", data_home=home)
    assert not marker.exists()


def test_float64_mean_is_returned_as_float32(tmp_path, monkeypatch, no_network):
    home = _register_local_mean(tmp_path, monkeypatch, torch.tensor([0.25, -0.5], dtype=float))
    mean = load_image_mean("Bad", "tag", data_home=home)
    assert mean.dtype == np.float32
    np.testing.assert_array_equal(mean, [0.25, -0.5])


# ------------------------------------------------------------------ custom vocabularies


@pytest.mark.filterwarnings("ignore::sksplice.vocabulary.RepeatedConceptWarning")
def test_list_cleaning_is_deterministic():
    items = ["  dog", "cat\t", "", "   ", "dog", "Dog", "tree  ", "cat", "hot dog"]
    with pytest.warns(RepeatedConceptWarning):
        assert load_vocabulary(items) == ["dog", "cat", "Dog", "tree", "hot dog"]
    assert load_vocabulary(items, size=2) == ["dog", "cat"]
    assert load_vocabulary(items, size=None) == load_vocabulary(items, size=5)
    assert load_vocabulary(tuple(items)) == load_vocabulary(items)
    assert load_vocabulary(np.array(items)) == load_vocabulary(items)
    assert load_vocabulary(iter(items)) == load_vocabulary(items)
    assert all(type(c) is str for c in load_vocabulary(np.array(items)))


def test_repeated_concepts_of_a_file_or_list_are_named(tmp_path):
    # Concepts after a repeat are no longer at their line: said, with the lines.
    path = tmp_path / "mine.txt"
    path.write_text("dog\ncat\n\ndog \ntree\ncat\nbird\nfish\nbird\nowl\n")
    with pytest.warns(RepeatedConceptWarning) as record:
        assert load_vocabulary(path) == ["dog", "cat", "tree", "bird", "fish", "owl"]
    (warning,) = record
    message = str(warning.message)
    assert f"file {str(path)!r} repeats 3 concepts" in message, message
    assert "'dog' at lines 1, 4; 'cat' at lines 2, 6; 'bird' at lines 7, 9" in message
    assert "3 entries dropped" in message
    assert warning.message.repeats == {"dog": [1, 4], "cat": [2, 6], "bird": [7, 9]}
    # Only repeats before the last concept kept move a kept concept.
    with pytest.warns(RepeatedConceptWarning) as record:
        load_vocabulary(path, size=3)  # (tree, line 5, comes after the repeat at 4)
    assert record[0].message.repeats == {"dog": [1, 4]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_vocabulary(path, size=2) == ["dog", "cat"]
        assert load_vocabulary(["a", "b", "a"]) == ["a", "b"]  # (it moves nothing)
    # The authors' order keeps the last lines: numbered as lines of the file.
    with pytest.warns(RepeatedConceptWarning) as record:
        assert load_vocabulary(path, size=4, order="authors") == ["bird", "fish", "owl"]
    assert record[0].message.repeats == {"bird": [7, 9]}
    # A list: indices from 0; more than three repeats are counted.
    items = ["a", "b", "c", "d", "e", "a", "b", "c", "d", "e", "f"]
    with pytest.warns(RepeatedConceptWarning) as record:
        assert load_vocabulary(items) == ["a", "b", "c", "d", "e", "f"]
    message = str(record[0].message)
    assert "list repeats 5 concepts ('a' at entries 0, 5; 'b' at entries 1, 6;" in message
    assert "; and 2 more)" in message and "5 entries dropped" in message
    # Blank lines are not repeats; a warning survives pickling with its positions.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_vocabulary(["a", "", "b", "  ", "c"])
    again = pickle.loads(pickle.dumps(record[0].message))
    assert again.repeats == record[0].message.repeats and str(again) == message


def test_a_transformer_warns_of_the_repeats_it_keeps(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("dog\ncat\ndog\ntree\n")
    X = np.random.default_rng(0).normal(size=(120, 6))
    E = np.random.default_rng(1).normal(size=(3, 6))

    def fit(size):
        return SpliceTransformer(
            vocabulary=path,
            vocabulary_size=size,
            concept_embeddings=E[: size or 3],
            image_mean=None,
            l1_penalty=0.1,
        ).fit(X)

    with pytest.warns(RepeatedConceptWarning, match=r"'dog' at lines 1, 3"):
        assert list(fit(None).get_feature_names_out()) == ["dog", "cat", "tree"]
    with warnings.catch_warnings():  # (the two concepts kept are at their lines)
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".* holds two concepts: centred")
        assert list(fit(2).get_feature_names_out()) == ["dog", "cat"]

    # With an embedder, the file is read again to embed a beginning of it: said once.
    class Embedder:
        def embed_text(self, texts):
            return np.random.default_rng(len(texts)).normal(size=(len(texts), 6))

    path.write_text("dog\ncat\ndog\ntree\nbird\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SpliceTransformer(
            embedder=Embedder(), vocabulary=path, vocabulary_size=3, image_mean=None
        ).fit(X)
    said = [w for w in caught if issubclass(w.category, RepeatedConceptWarning)]
    assert len(said) == 1, [str(w.message) for w in said]


def test_list_errors():
    with pytest.raises(TypeError, match=r"index 2 is an int"):
        load_vocabulary(["a", "b", 3])
    with pytest.raises(TypeError, match=r"index 0 is None"):
        load_vocabulary([None])
    with pytest.raises(TypeError, match="index 1 is a bytes"):
        load_vocabulary(["a", b"b"])
    with pytest.raises(ValueError, match="no concept"):
        load_vocabulary([])
    with pytest.raises(ValueError, match="no concept"):
        load_vocabulary(["", "  ", "\n"])
    with pytest.raises(TypeError, match="name must be"):
        load_vocabulary(b"laion")
    with pytest.raises(TypeError, match="name must be"):
        load_vocabulary(42)


@pytest.mark.parametrize(
    ("size", "error"),
    [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError), ("10", TypeError)],
)
def test_size_validation(size, error):
    with pytest.raises(error, match="size"):
        load_vocabulary(["a", "b"], size=size)


def test_auto_size_keeps_every_entry_of_a_list_or_file_of_ones_own(tmp_path, splice_data_dir):
    # As SpliceTransformer(vocabulary_size="auto"): all of one's own concepts,
    # the 10,000 most frequent of a published vocabulary or a copy of one.
    items = [f"concept {i}" for i in range(12_000)]
    assert load_vocabulary(items) == items
    path = tmp_path / "mine.txt"
    path.write_text("\n".join(items), encoding="utf-8")
    assert load_vocabulary(path) == items
    assert load_vocabulary(path, size="auto", order="authors") == items
    assert load_vocabulary(items, size=10000) == items[:10000]
    copy = tmp_path / "copy.txt"
    copy.write_bytes((splice_data_dir / "vocab" / "laion.txt").read_bytes())
    assert len(load_vocabulary(copy)) == 10000
    assert load_vocabulary(copy) == load_vocabulary("laion", data_home=splice_data_dir)
    with pytest.raises(TypeError, match="size"):
        load_vocabulary(items, size="AUTO")


def test_auto_size_keeps_the_two_word_concepts_of_laion_bigrams(tmp_path, splice_data_dir):
    # Its two-word concepts are its 5,001 least frequent lines: the 10,000 most frequent
    # held one ("vector image"), and a user who chose it decomposed over words alone.
    def pairs(concepts):
        return [c for c in concepts if " " in c]

    at_10000 = load_vocabulary("laion_bigrams", size=10000, data_home=splice_data_dir)
    assert pairs(at_10000) == ["vector image"]
    auto = load_vocabulary("laion_bigrams", data_home=splice_data_dir)
    assert auto == load_vocabulary("laion_bigrams", size=None, data_home=splice_data_dir)
    assert len(auto) == 15000 and len(pairs(auto)) == 5001
    copy = tmp_path / "bigrams_copy.txt"
    copy.write_bytes((splice_data_dir / "vocab" / "laion_bigrams.txt").read_bytes())
    assert load_vocabulary(copy) == auto
    assert len(load_vocabulary("laion", data_home=splice_data_dir)) == 10000
    assert len(load_vocabulary("mscoco", data_home=splice_data_dir)) == 10000
    splice = SpliceTransformer(vocabulary="laion_bigrams", data_home=splice_data_dir)
    assert len(splice._resolve_concepts()[0]) == 15000


def test_a_size_larger_than_a_list_or_file_is_refused_naming_its_length(tmp_path):
    # It was cut silently to what was there (a named vocabulary refused it): a setting
    # of 10 concepts ran with 3, and results differed from those asked for.
    items = ["dog", "cat", "car"]
    with pytest.raises(ValueError, match=r"^size=10 is larger than the 3 concepts of the list;"):
        load_vocabulary(items, size=10)
    with pytest.raises(ValueError, match=r"the 2 concepts of the list \(without its blank and"):
        load_vocabulary(["dog", "cat", " dog", ""], size=3)
    with pytest.raises(ValueError, match=r"size=4 is larger than the 3 entries of the list"):
        load_vocabulary(items, size=4, order="authors")
    path = tmp_path / "three.txt"
    path.write_text("dog\ncat\ncar\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"size=10 is larger than the 3 concepts of the vocab"):
        load_vocabulary(path, size=10)
    with pytest.raises(ValueError, match=r"three\.txt'; use size=None to load all of them"):
        load_vocabulary(path, size=4, order="authors")
    # a size up to the length, and the defaults, work on short inputs
    assert load_vocabulary(items, size=3) == items
    assert load_vocabulary(path, size=3) == load_vocabulary(path) == items
    assert load_vocabulary(items, size="auto") == load_vocabulary(items, size=None) == items
    assert load_vocabulary(path, size=3, order="authors") == items


@pytest.mark.parametrize(
    ("text", "shown", "command"),
    [
        ("concept,count\ndog,120\ncat,80\ncar,50\n", "'dog,120'", "tail -n +2 {} | cut -d, -f1"),
        ("dog\t120\r\ncat\t80\r\ncar\t5.5e3\r\n", "'dog\\t120'", "cut -f1 {}"),
        ("word\tcount\nhot dog\t1,200\ncat\t8\n", "'hot dog\\t1,200'", "tail -n +2 {} | cut -f1"),
    ],
    ids=["csv-with-header", "tsv-crlf", "tsv-with-header"],
)
def test_a_table_of_concepts_and_counts_is_warned_about(tmp_path, text, shown, command):
    # Each line was embedded whole ('dog,120'), without a word said.
    path = tmp_path / "counts.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.warns(UserWarning, match="lines end in a (comma|tab) and a number") as record:
        concepts = load_vocabulary(path)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"vocabulary file {str(path)!r}: ")
    assert shown in message and "one concept per line" in message
    assert message.endswith(command.format(path) + " > concepts.txt")
    assert concepts == [line.strip() for line in text.splitlines()]  # (read as before)


@pytest.mark.parametrize(
    "text",
    [
        "dog\ncat\ncar\n",
        "hot dog\nsalt, pepper\nfish, 1\ncat\n",  # (a comma in a few concepts)
        "a,1\nb,2\nc\nd\ne\n",  # (two of five lines)
        "dog,120\n",  # (one line)
        "red, green\nblue, black\n",
    ],
)
def test_a_vocabulary_of_concepts_is_not_warned_about(tmp_path, text, recwarn):
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    load_vocabulary(path)
    assert not [w for w in recwarn if "a number" in str(w.message)]


def test_no_published_vocabulary_looks_like_a_table_of_counts(splice_data_dir, recwarn):
    for name in VOCABULARIES:
        load_vocabulary(name, size=None, data_home=splice_data_dir)
        load_vocabulary(splice_data_dir / "vocab" / f"{name}.txt", size=None)
    assert not [w for w in recwarn if "a number" in str(w.message)]
    assert not [w for w in recwarn if "separated by commas" in str(w.message)]


def test_lines_listing_concepts_separated_by_commas_are_warned_about(tmp_path):
    # "dog, cat, tree" on a line was one concept, without a word
    import warnings

    path = tmp_path / "lists.txt"
    path.write_text("dog, cat, tree\nsky, sun, moon\nbeach, sea\n", encoding="utf-8")
    with pytest.warns(
        UserWarning,
        match=r"3 of its 3 lines list words separated by commas \('dog, cat, tree'\), and each "
        r"line is read as one concept, commas included\..*tr ',' '\\n' < ",
    ) as seen:
        assert load_vocabulary(path)[0] == "dog, cat, tree"
    assert len(seen) == 1
    # a few concepts that hold a comma, or a counts table (its own warning): not this one
    few = tmp_path / "few.txt"
    few.write_text("dog\ncat\nsalt, pepper\ntree\n", encoding="utf-8")
    counts = tmp_path / "counts.txt"
    counts.write_text("dog,12\ncat,7\nbird,3\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_vocabulary(few)
        load_vocabulary(counts)
    assert not [w for w in caught if "separated by commas" in str(w.message)]
    assert len([w for w in caught if "a number" in str(w.message)]) == 1


def test_numpy_integer_size():
    assert load_vocabulary(["a", "b", "c"], size=np.int64(2)) == ["a", "b"]


@pytest.mark.filterwarnings("ignore::sksplice.vocabulary.RepeatedConceptWarning")
def test_text_file_in_file_order(tmp_path):
    path = tmp_path / "concepts.txt"
    path.write_bytes("\ufeffzebra\r\n  giraffe \r\n\r\nzebra\r\ncafé\u2028latte\nend".encode())
    expected = ["zebra", "giraffe", "café\u2028latte", "end"]
    assert load_vocabulary(str(path)) == expected
    assert load_vocabulary(path) == expected
    assert load_vocabulary(path, size=2) == ["zebra", "giraffe"]


def test_text_file_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mine.txt").write_text("a\nb\n", encoding="utf-8")
    assert load_vocabulary("~/mine.txt") == ["a", "b"]


def test_text_file_errors(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("ok\nfine\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt', line 3: not valid UTF-8") as info:
        load_vocabulary(bad)
    assert "0xe9" in str(info.value)

    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"blank\.txt.*no concept"):
        load_vocabulary(blank)

    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        load_vocabulary(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        load_vocabulary(str(tmp_path / "missing.txt"))
    with pytest.raises(FileNotFoundError):
        load_vocabulary(tmp_path)  # a folder is not a vocabulary file


def test_unknown_name(tmp_path, no_network):
    with pytest.raises(ValueError, match=r"Unknown vocabulary 'laoin' \(did you mean 'laion'\?\)"):
        load_vocabulary("laoin", data_home=tmp_path)
    with pytest.raises(ValueError, match=r"'LAION' \(did you mean 'laion'\?\).*laion_bigrams"):
        load_vocabulary("LAION", data_home=tmp_path)
    assert not any(tmp_path.iterdir())


def test_relative_text_file_is_found_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("words").write_text("x\ny\n", encoding="utf-8")
    # No suffix and no separator: still a path, because the file exists.
    assert load_vocabulary("words") == ["x", "y"]
    assert os.path.exists("words")


def test_custom_vocabulary_never_touches_the_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "home"))
    load_vocabulary(["a"])
    assert not (tmp_path / "home").exists()


# ------------------------------------------------------- the authors' order


def _authors_rule(path: Path, k: int) -> list[str]:
    """The authors' selection, stated from their description: last k lines of the
    file as ``readlines`` gives them, in file order, each stripped."""
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle.readlines()[-k:]]


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_a_copy_of_a_published_file_loads_like_its_name(splice_data_dir, tmp_path, name):
    copy = tmp_path / "my_vocab.txt"  # another name, same content
    copy.write_bytes((splice_data_dir / VOCABULARIES[name].path).read_bytes())
    for size in (10, 10000, None):
        expected = load_vocabulary(name, size=size, data_home=splice_data_dir)
        assert load_vocabulary(copy, size=size) == expected
        assert load_vocabulary(str(copy), size=size) == expected
    authors = load_vocabulary(name, size=100, data_home=splice_data_dir, order="authors")
    assert load_vocabulary(copy, size=100, order="authors") == authors
    # One changed byte: an ordinary file again, read in file order.
    copy.write_bytes(b"x" + copy.read_bytes())
    assert load_vocabulary(copy, size=3) == load_vocabulary(
        copy.read_text("utf-8").split("\n")[:3], size=3
    )


def test_published_laion_by_path_shares_the_named_top_words(splice_data_dir):
    path = splice_data_dir / "vocab" / "laion.txt"
    by_path = load_vocabulary(path, size=10000)
    assert by_path[:3] == ["-", "of", "the"]
    assert set(by_path) == set(load_vocabulary("laion", size=10000, data_home=splice_data_dir))


@pytest.mark.parametrize(
    ("name", "k"), [("laion", 10000), ("laion_bigrams", 15000), ("mscoco", 10000)]
)
def test_authors_index_to_concept_on_the_real_files(splice_data_dir, name, k):
    path = splice_data_dir / VOCABULARIES[name].path
    index = authors_index_to_concept(name, size=k, data_home=splice_data_dir)
    assert len(index) == k
    assert [c or "" for c in index] == _authors_rule(path, k)
    frequency = load_vocabulary(name, size=None, data_home=splice_data_dir)
    # Their last index is the most frequent concept, ours the first.
    assert index[-1] == frequency[0]
    assert load_vocabulary(name, size=k, data_home=splice_data_dir, order="authors") == [
        c for c in index if c is not None
    ]
    # Every concept of their dictionary is a column name of sksplice's of the same size.
    kept = set(load_vocabulary(name, size=k, data_home=splice_data_dir))
    missing = [c for c in index if c is not None and c not in kept]
    assert missing == [] or (name == "mscoco" and len(missing) == 1)


def test_authors_intervention_indices_name_forest_concepts(splice_data_dir):
    """The Waterbirds indices of their intervention script: land-background concepts."""
    waterbirds = [2118, 13929, 1281, 422, 4187, 5127, 3316, 11443, 14702, 13617, 4106, 3929]
    index = authors_index_to_concept("laion_bigrams", size=15000, data_home=splice_data_dir)
    names = [index[i] for i in waterbirds]
    assert names[:3] == ["bird feeder", "bamboo", "forest landscape"]
    assert "forest" in names and "rainforest" in names
    # Read in sksplice's order, the same indices name unrelated concepts.
    ours = load_vocabulary("laion_bigrams", size=15000, data_home=splice_data_dir)
    assert "forest" not in [ours[i] for i in waterbirds]


def test_pinned_counts_are_those_of_the_files(splice_data_dir):
    from sksplice.vocabulary import _VOCABULARY_COUNTS

    assert set(_VOCABULARY_COUNTS) == set(VOCABULARIES)
    for name, (n_lines, n_concepts) in _VOCABULARY_COUNTS.items():
        assert n_concepts == EXPECTED_SIZES[name]
        assert len(load_vocabulary(name, size=None, data_home=splice_data_dir)) == n_concepts
        index = authors_index_to_concept(name, size=-1, data_home=splice_data_dir)
        assert len(index) == n_lines


def test_a_size_too_large_is_refused_before_the_download(tmp_path, monkeypatch):
    # The files are pinned, so their lengths are known: no download (here, no network and
    # an empty data home) is needed to say that a size is too large.
    block_network(monkeypatch, requests.exceptions.ConnectionError("Network is unreachable"))
    with pytest.raises(ValueError, match=r"larger than the 15000 concepts.*size=None"):
        load_vocabulary("laion_bigrams", size=15001, data_home=tmp_path)
    with pytest.raises(ValueError, match=r"larger than the 12833 lines.*size=None"):
        load_vocabulary("mscoco", size=12834, data_home=tmp_path, order="authors")
    with pytest.raises(ValueError, match=r"larger than the 37445 lines.*size=-1"):
        authors_index_to_concept("laion", size=37446, data_home=tmp_path)
    with pytest.raises(DataFetchError):  # (the largest size that fits does download)
        load_vocabulary("laion_bigrams", size=15000, data_home=tmp_path)
    assert not any(tmp_path.rglob("*.txt"))
    # and the transformer's fit, in the words of its parameter
    from sksplice import SpliceTransformer

    splice = SpliceTransformer(
        vocabulary="laion", vocabulary_size=40000, data_home=tmp_path, device="cpu"
    )
    with pytest.raises(ValueError, match=r"^vocabulary_size=40000 is larger than the 37445"):
        splice.fit(np.ones((3, 4)))


def test_authors_size_too_large(splice_data_dir):
    with pytest.raises(ValueError, match="larger than the 15000 lines"):
        authors_index_to_concept("laion_bigrams", size=15001, data_home=splice_data_dir)
    with pytest.raises(ValueError, match="larger than the 12833 lines"):
        load_vocabulary("mscoco", size=12834, data_home=splice_data_dir, order="authors")


def test_mscoco_blank_line_has_an_authors_index_but_no_concept(splice_data_dir):
    index = authors_index_to_concept("mscoco", size=10000, data_home=splice_data_dir)
    assert index.count(None) == 1 and index.index(None) == 9991
    authors = load_vocabulary("mscoco", size=10000, data_home=splice_data_dir, order="authors")
    assert len(authors) == 9999


def test_authors_order_for_files_and_lists(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("rare\nless common\n\ncommon\nthe\n", encoding="utf-8")
    assert authors_index_to_concept(path, size=3) == [None, "common", "the"]
    assert authors_index_to_concept(path, size=50) == ["rare", "less common", None, "common", "the"]
    assert load_vocabulary(path, size=3, order="authors") == ["common", "the"]
    assert load_vocabulary(path, size=3) == ["rare", "less common", "common"]
    assert load_vocabulary(["a", "b", "c"], size=2, order="authors") == ["b", "c"]
    with pytest.raises(ValueError, match="order must be 'frequency' or 'authors', got 'reversed'"):
        load_vocabulary(["a"], order="reversed")
    with pytest.raises(TypeError, match="order must be 'frequency' or 'authors', got None"):
        load_vocabulary(["a"], order=None)
    with pytest.raises(TypeError, match="size must be an integer >= -1, got None"):
        authors_index_to_concept(path, size=None)
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        authors_index_to_concept(tmp_path / "nope.txt", size=3)


def test_module_exports():
    assert set(vocabulary.__all__) >= {
        "load_vocabulary",
        "load_image_mean",
        "VOCABULARIES",
        "IMAGE_MEANS",
    }


_COPY_EDITS = {
    "crlf": lambda data: data.replace(b"\n", b"\r\n"),
    "no_final_newline": lambda data: data.rstrip(b"\n"),
    "blank_lines_after": lambda data: data + b"\n\n",
    "byte_order_mark": lambda data: b"\xef\xbb\xbf" + data,
    "trailing_spaces": lambda data: data.replace(b"\n", b"  \n"),
}


@pytest.mark.parametrize("edit", list(_COPY_EDITS))
def test_a_copy_of_a_published_file_is_recognised(splice_data_dir, tmp_path, edit):
    # A Windows checkout (CRLF), an editor that drops the final newline or adds blank
    # lines, a byte-order mark, spaces at line ends: the same concepts, so the same order
    # (most frequent first) as the original, not the file's order (which gave the least
    # frequent concepts for the last three).
    from sksplice.vocabulary import load_vocabulary

    original = Path(splice_data_dir) / "vocab" / "laion.txt"
    copy = tmp_path / "laion_copy.txt"
    copy.write_bytes(_COPY_EDITS[edit](original.read_bytes()))
    expected = load_vocabulary("laion", size=5, data_home=splice_data_dir)
    assert load_vocabulary(copy, size=5) == expected
    if edit in ("crlf", "no_final_newline", "trailing_spaces"):  # (the same lines for them)
        assert load_vocabulary(copy, size=5, order="authors") == load_vocabulary(
            "laion", size=5, data_home=splice_data_dir, order="authors"
        )


def test_a_file_that_is_not_a_published_one_is_read_in_its_order(splice_data_dir, tmp_path):
    from sksplice.vocabulary import load_vocabulary

    original = Path(splice_data_dir) / "vocab" / "laion.txt"
    lines = original.read_text(encoding="utf-8").splitlines()
    copy = tmp_path / "edited.txt"
    copy.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one concept fewer
    assert load_vocabulary(copy, size=3) == lines[:3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # old Mac line endings were one concept 'cat\rdog\rbird'
        (b"cat\rdog\rbird\r", r"line 1: 'cat\\rdog\\rbird' holds the control character '\\r'; its"),
        (b"cat\ndog\x00s\nbird\n", r"line 2: 'dog\\x00s' holds the control character '\\x00'"),
        (b"cat\r\ndog\x1b\r\n", r"line 2: 'dog\\x1b' holds the control character"),
    ],
)
def test_a_vocabulary_file_with_control_characters_is_refused_naming_the_line(
    tmp_path, data, message
):
    from sksplice.vocabulary import load_vocabulary

    path = tmp_path / "v.txt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        load_vocabulary(path)
    path.write_bytes(b"cat\r\ndog\twalk\r\n")  # (CRLF, and a tab, are read as before)
    assert load_vocabulary(path) == ["cat", "dog\twalk"]


def test_the_docs_count_of_two_word_concepts_in_laion_bigrams(splice_data_dir):
    # docs/vocabularies.md: the default 10,000 concepts hold 1 of its 5,001 two-word ones
    from sksplice.vocabulary import load_vocabulary

    every = load_vocabulary("laion_bigrams", size=None, data_home=splice_data_dir)
    assert len(every) == 15000
    assert sum(" " in c for c in every) == 5001
    assert sum(" " in c for c in every[:10000]) == 1


def test_a_mean_file_that_is_not_npy_is_named_as_such(tmp_path):
    # numpy speaks of "pickled (object) data" and allow_pickle= for any file that is not
    # a .npy file: the message says what the file is not
    from sksplice.vocabulary import as_mean_vector

    junk = tmp_path / "mean.npy"
    junk.write_bytes(b"these bytes are no array")
    with pytest.raises(ValueError, match=r"it is not a .npy file: it lacks the format's header"):
        as_mean_vector(junk, 4, source="image_mean")
    np.save(junk, np.array([0.5, 0.25, 0.0, 0.0]))
    assert as_mean_vector(junk, 4, source="image_mean").shape == (4,)

    # any other file: what it is not, and how to save a mean, in one line (torch's
    # refusal of a text file was a paragraph about its weights_only default)
    text = tmp_path / "mean.txt"
    np.savetxt(text, np.arange(4.0))
    with pytest.raises(ValueError, match=r"neither a .npy file nor a torch file") as info:
        as_mean_vector(text, 4)
    assert "numpy.save('mean.npy', mean)" in str(info.value)
    assert "weights_only" not in str(info.value)
    # a .npy array under another extension is read as one
    other = tmp_path / "mean.bin"
    other.write_bytes(junk.read_bytes())
    np.testing.assert_array_equal(as_mean_vector(other, 4), [0.5, 0.25, 0.0, 0.0])
    # a torch file of other objects: torch's reason, in one sentence
    torch = pytest.importorskip("torch")
    torch.save({"mean": np.zeros(4)}, tmp_path / "objects.pt")
    with pytest.raises(ValueError, match=r"holds objects other than tensors") as info:
        as_mean_vector(tmp_path / "objects.pt", 4)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)
    # an empty file, and a .npz archive (numpy.savez): said as such (were "lacks the
    # format's header" and torch's "[enforce fail at inline_container.cc:180]")
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"image_mean file .*empty\.npy.*: it is empty \(0 bytes\)$"
    ):
        as_mean_vector(empty, 4)
    np.savez(tmp_path / "means.npz", image=np.zeros(4), text=np.zeros(4))
    with pytest.raises(ValueError) as info:
        as_mean_vector(tmp_path / "means.npz", 4)
    assert str(info.value).endswith(
        "it is a .npz archive (numpy.savez) of the arrays 'image', 'text', not one array; save "
        "the mean alone with numpy.save('mean.npy', mean)"
    ), str(info.value)
    assert "enforce" not in str(info.value)
    # a torch file (a zip archive too) is still read as one
    torch.save(torch.tensor([0.5, 0.25, 0.0, 0.0]), tmp_path / "mean.pt")
    np.testing.assert_allclose(as_mean_vector(tmp_path / "mean.pt", 4), [0.5, 0.25, 0.0, 0.0])


def test_a_size_of_a_file_named_like_a_published_vocabulary_warns_of_its_first_lines(
    tmp_path, monkeypatch
):
    # An edited copy of the authors' laion.txt is no longer the pinned file: read in file
    # order, a size keeps its first lines, which in their files are the rarest concepts.
    # Without the published file at hand, the warning says what to check.
    import argparse
    import warnings

    from sksplice import SpliceTransformer
    from sksplice.cli._checks import _check_vocabulary

    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "empty_home"))
    lines = [f"rare{i}" for i in range(10)] + ["common", "most common"]
    path = tmp_path / "laion_edited.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = r"^the vocabulary file '.*laion_edited\.txt' is read in file order .*, and "
    soft = r"if it is an edited copy of the published 'laion' vocabulary, whose lines run"
    with pytest.warns(UserWarning, match=first + r"the size 3 keeps its first lines: " + soft):
        assert load_vocabulary(path, 3) == ["rare0", "rare1", "rare2"]
    with pytest.warns(UserWarning, match=r"are the rarest\. If so, put the most frequent first"):
        load_vocabulary(path, 3)
    with pytest.warns(UserWarning, match=r"load_vocabulary\(path, 3, order='authors'\)"):
        load_vocabulary(path, 3)
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match=first + r"the size 4 keeps its first lines: "):
        SpliceTransformer(
            vocabulary=path,
            vocabulary_size=4,
            concept_embeddings=rng.normal(size=(4, 6)),
            image_mean=np.zeros(6),
            device="cpu",
        ).fit(rng.normal(size=(3, 6)))
    args = argparse.Namespace(vocabulary=str(path), vocabulary_size=5, data_home=None)
    with pytest.warns(UserWarning, match=first + r"--vocabulary-size 5 keeps .*\(tac "):
        _check_vocabulary(args)
    bigrams = tmp_path / "my_laion_bigrams.txt"
    bigrams.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"edited copy of the published 'laion_bigrams' "):
        load_vocabulary(bigrams, 3)
    # All of the file, the authors' order, or a file of another name: nothing to say.
    other = tmp_path / "mine.txt"
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_vocabulary(path, None)) == len(load_vocabulary(path, 12)) == 12
        assert load_vocabulary(path, 2, order="authors") == ["common", "most common"]
        assert load_vocabulary(other, 3) == ["rare0", "rare1", "rare2"]
        args = argparse.Namespace(vocabulary=str(path), vocabulary_size=None, data_home=None)
        _check_vocabulary(args)


def test_with_the_published_file_at_hand_only_a_copy_that_starts_rare_is_warned_about(
    tmp_path, splice_data_dir
):
    # The published file in the data home tells a copy whose first lines are its rarest
    # concepts (an edit of the authors' file) from one already most frequent first.
    import warnings

    published = (splice_data_dir / "vocab" / "laion.txt").read_text(encoding="utf-8")
    lines = published.splitlines()
    edited = tmp_path / "laion_edited.txt"
    edited.write_text("\n".join(lines[:99] + lines[100:]) + "\n", encoding="utf-8")
    with pytest.warns(
        UserWarning,
        match=r"keeps its first lines: most of the first 500 of its 37444 concepts are among "
        r"its less frequent half, as the published 'laion' vocabulary ranks them\. Put the most "
        r"frequent",
    ):
        load_vocabulary(edited, 500, data_home=splice_data_dir)
    frequent_first = tmp_path / "laion_frequent_first.txt"
    frequent_first.write_text("\n".join(lines[::-1][:5000]) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top = load_vocabulary(frequent_first, 500, data_home=splice_data_dir)
        assert len(load_vocabulary(frequent_first, None, data_home=splice_data_dir)) == 5000
    assert top == load_vocabulary("laion", 500, data_home=splice_data_dir)
    # (the authors' 3,000 most frequent lines, least frequent first: all in the more
    # frequent half of the published file, so a size kept their rarest without a word)
    top_3000 = tmp_path / "laion_top.txt"
    top_3000.write_text("\n".join(lines[-3000:]) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"most of the first 10 of its 3000 concepts are among"):
        rarest = load_vocabulary(top_3000, 10, data_home=splice_data_dir)
    assert rarest == lines[-3000:][:10]
    reversed_top = tmp_path / "laion_top_reversed.txt"
    reversed_top.write_text("\n".join(lines[-3000:][::-1]) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_vocabulary(reversed_top, 10, data_home=splice_data_dir) == top[:10]


def test_a_copy_used_whole_whose_first_lines_are_the_rarest_is_warned_about(
    tmp_path, splice_data_dir, monkeypatch
):
    # One word removed from the authors' laion.txt: vocabulary_size="auto" read all 37,444
    # lines in file order (columns 'uncondition', 'ynna', ...) where "laion" keeps its
    # 10,000 most frequent, without a word (a size that cut it was warned about).
    import argparse

    from sksplice import SpliceTransformer
    from sksplice.cli._checks import _check_vocabulary

    lines = (splice_data_dir / "vocab" / "laion.txt").read_text(encoding="utf-8").splitlines()
    edited = tmp_path / "laion_noThe.txt"
    edited.write_text("\n".join(line for line in lines if line != "the") + "\n", "utf-8")
    found = (
        r"all of its 37444 concepts are used: most of the first 1000 of its 37444 concepts "
        r"are among its less frequent half, as the published 'laion' vocabulary ranks them, so "
        r"its "
        r"columns run rarest first, where the 'laion' vocabulary keeps its 10000 most frequent"
    )
    with pytest.warns(UserWarning, match=found + r".*order='authors'") as seen:
        concepts = load_vocabulary(edited, None, data_home=splice_data_dir)
    assert len(seen) == 1 and concepts[0] == lines[0]
    rng = np.random.default_rng(0)
    splice = SpliceTransformer(
        vocabulary=edited,
        concept_embeddings=rng.normal(size=(37444, 6)),
        image_mean=np.zeros(6),
        data_home=splice_data_dir,
        device="cpu",
    )
    with pytest.warns(UserWarning, match=found) as seen:
        splice.fit(rng.normal(size=(3, 6)))
    assert sum("all of its 37444 concepts" in str(w.message) for w in seen) == 1
    monkeypatch.setenv("SKSPLICE_DATA", str(splice_data_dir))
    args = argparse.Namespace(vocabulary=str(edited), vocabulary_size=None, data_home=None)
    with pytest.warns(UserWarning, match=found + r".*--vocabulary-size 10000") as seen:
        _check_vocabulary(args)
    assert len(seen) == 1


@pytest.mark.parametrize("size", [-1, 0])
def test_a_size_of_zero_or_less_is_told_that_none_keeps_every_concept(size):
    # the authors' loader keeps every line for vocabulary_size=-1 (its default)
    from sksplice import SpliceTransformer

    message = rf"got {size}: None keeps every concept \(what vocabulary_size=-1 does"
    with pytest.raises(ValueError, match=r"^size must be 'auto' or a positive .*" + message):
        load_vocabulary(["dog", "cat"], size)
    splice = SpliceTransformer(
        vocabulary=["dog", "cat"], concept_embeddings=np.eye(2, 4), vocabulary_size=size
    )
    with pytest.raises(ValueError, match=r"vocabulary_size must be 'auto' or a .*" + message):
        splice.fit(np.ones((3, 4)))


def test_a_utf16_file_is_told_it_is_utf16_with_the_command_to_convert(tmp_path):
    # was "not valid UTF-8 (byte 0xff at byte offset 0)"
    path = tmp_path / "notepad.txt"
    path.write_bytes("dog\r\ncat\r\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"is UTF-16 \(it starts with a UTF-16 byte-order mark\)"):
        load_vocabulary(path)
    with pytest.raises(ValueError, match=r"iconv -f UTF-16 -t UTF-8 .*notepad\.txt > concepts"):
        load_vocabulary(path)


def test_a_size_larger_than_one_concept_is_counted_in_the_singular():
    with pytest.raises(ValueError, match=r"larger than the 1 concept of the list"):
        load_vocabulary(["dog"], 2)
    with pytest.raises(ValueError, match=r"larger than the 1 entry of the list"):
        load_vocabulary(["dog"], 2, order="authors")


def test_a_first_fit_of_a_cut_copy_warns_of_the_size_only(tmp_path, splice_data_dir):
    # The fit's second read of the whole file (to reuse a cached beginning) warned that
    # "all of its 37444 concepts are used", besides the true warning of the size kept.
    import warnings

    from sksplice import SpliceTransformer

    from ._helpers_transformer import CountingEmbedder

    lines = (splice_data_dir / "vocab" / "laion.txt").read_text(encoding="utf-8").splitlines()
    edited = tmp_path / "laion_noThe.txt"
    edited.write_text("\n".join(line for line in lines if line != "the") + "\n", "utf-8")
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=6),
        vocabulary=edited,
        vocabulary_size=50,
        image_mean=np.zeros(6),
        data_home=splice_data_dir,
        cache_dir=tmp_path / "cache",
        device="cpu",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splice.fit(np.random.default_rng(0).normal(size=(3, 6)))
    said = [str(w.message) for w in caught if "read in file order" in str(w.message)]
    assert len(said) == 1 and "the size 50 keeps its first lines" in said[0], said


def test_a_vocabulary_without_a_concept_says_whether_it_is_empty_or_blank(tmp_path):
    # (a file of 0 bytes was said to hold "only blank entries")
    cases = {
        "": "The vocabulary file '{}' holds no concept (it is empty)",
        "\n \n": "The vocabulary file '{}' holds no concept (only blank lines)",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"v{i}.txt"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError) as raised:
            load_vocabulary(path)
        assert str(raised.value) == message.format(path)
    for given, why in (([], "it is empty"), (["", " "], "only blank entries")):
        with pytest.raises(ValueError, match=re.escape(f"holds no concept ({why})")):
            load_vocabulary(given)


def test_a_size_that_keeps_next_to_none_of_a_vocabularys_phrases_is_warned_about():
    # --vocabulary laion_bigrams --vocabulary-size 10000 kept 1 of its 5,001 two-word
    # concepts (they follow its words): a vocabulary chosen for its phrases, without them
    from sksplice.vocabulary import _warn_if_no_phrase_kept

    concepts = [f"w{i}" for i in range(300)] + [f"a b{i}" for i in range(200)]
    with pytest.warns(UserWarning, match=r"the 300 most frequent concepts of the 'v' vocabulary "
                      r"hold 0 of its 200 phrases .* from concept 301 on; the whole vocabulary "
                      r"keeps them all \(vocabulary_size=500\)"):  # fmt: skip
        _warn_if_no_phrase_kept("v", concepts, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_no_phrase_kept("v", concepts, 302)  # (2 of 200: 1% kept)
        _warn_if_no_phrase_kept("v", concepts, None)
        _warn_if_no_phrase_kept("v", concepts[:300], 100)  # (no phrase at all)


def test_laion_bigrams_cut_to_its_words_is_warned_about(splice_data_dir, monkeypatch):
    from sksplice.vocabulary import load_vocabulary

    monkeypatch.setenv("SKSPLICE_DATA", str(splice_data_dir))
    with pytest.warns(UserWarning, match=r"hold 1 of its 5,001 phrases"):
        load_vocabulary("laion_bigrams", size=10000)


def test_entries_of_characters_that_show_nothing_are_blank():
    # a zero-width space was kept as a concept (a column that printed as blank), and
    # "dog\u200b" beside "dog" was caught only as a duplicate embedding
    from sksplice._names import check_concept_names

    with pytest.warns(RepeatedConceptWarning, match=r"'dog' at entries 0, 3"):
        concepts = load_vocabulary(["dog", "\u200b", "cat", "dog\u200b", " \ufeffsnow\u200d "])
    assert concepts == ["dog", "cat", "snow"]
    assert load_vocabulary(["a\u200bb", "c"]) == ["a\u200bb", "c"]  # (inside: kept as it is)
    # format characters that are part of what shows are kept: the tags of subdivision
    # flags (England, Scotland), which would all become one black flag
    flags = ["\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
             "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"]  # fmt: skip
    assert load_vocabulary(flags) == flags
    with pytest.raises(ValueError, match=r"`concepts` entry 1 is blank \('\\u200b'\)"):
        check_concept_names(["a", "\u200b"], "`concepts`")


def test_a_concept_repeated_behind_a_zero_width_character_is_refused_in_a_list():
    # SpliceTransformer(vocabulary=["dog", ..., "dog\u200b"]) kept two columns that
    # print alike
    from sksplice import SpliceTransformer

    E = np.random.default_rng(0).normal(size=(3, 8))
    splice = SpliceTransformer(vocabulary=["dog", "cat", "dog\u200b"], concept_embeddings=E)
    with pytest.raises(ValueError, match=r"entry 2 \('dog\\u200b'\) is entry 0 \('dog'\) up to "
                       r"surrounding white space or zero-width characters"):  # fmt: skip
        splice.set_params(device="cpu").fit(E)
