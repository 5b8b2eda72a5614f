"""The first embedding of a vocabulary says how many concepts, how long and where it is cached."""

from __future__ import annotations

import logging
import re
import time
import types

import numpy as np
import pytest

import sksplice.dictionary as dictionary_module
from sksplice.dictionary import clear_memory_cache, dictionary_cache_path, embed_vocabulary

try:  # whether or not tests/ is a package
    from ._helpers_transformer import CountingEmbedder, KeylessEmbedder
except ImportError:
    from _helpers_transformer import CountingEmbedder, KeylessEmbedder


def test_first_run_is_announced_with_count_estimate_and_cache_path(tmp_path, caplog):
    concepts = [f"concept {i}" for i in range(2100)]
    embedder = CountingEmbedder(dim=8)
    CountingEmbedder.reset()
    clear_memory_cache()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    messages = [r.getMessage() for r in caplog.records if r.name == "sksplice.dictionary"]
    path = dictionary_cache_path(embedder.cache_key(), concepts, tmp_path)
    assert len(messages) == 3
    assert "embedding 2100 concepts" in messages[0] and str(path) in messages[0]
    assert "512 concepts spread over the vocabulary" in messages[1]
    assert "for the remaining 1588" in messages[1]
    assert "embedded all 2100 concepts" in messages[2]
    # one untimed concept (loads the model), the rest of the sample, the rest
    assert CountingEmbedder.n_calls == 3 and CountingEmbedder.n_texts == 2100
    # same rows, in vocabulary order, as one call
    np.testing.assert_array_equal(raw, embedder.embed_text(concepts))
    assert path.is_file()

    # cached: nothing is embedded; one line says where the dictionary was read from
    caplog.clear()
    clear_memory_cache()
    CountingEmbedder.reset()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    assert CountingEmbedder.n_calls == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "sksplice.dictionary"]
    assert len(messages) == 1
    assert "2100 concepts read from the cache" in messages[0] and str(path) in messages[0]
    assert "embedding" not in messages[0]


def test_small_or_uncached_vocabularies_say_where_the_result_goes(caplog):
    concepts = [f"word {i}" for i in range(10)]
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        embed_vocabulary(KeylessEmbedder(), concepts)
    messages = [r.getMessage() for r in caplog.records if r.name == "sksplice.dictionary"]
    assert len(messages) == 1
    assert "embedding 10 concepts" in messages[0] and "memory for this process" in messages[0]


class _LengthCostEmbedder(CountingEmbedder):
    """Row-wise fake embedder that records its calls and advances a fake clock by the
    length of each text, as a text tower that runs each text up to its length does."""

    def __init__(self) -> None:
        super().__init__(dim=8, key="length-cost")
        self.calls: list[list[str]] = []
        self.clock = 0.0

    def embed_text(self, texts):
        self.calls.append(list(texts))
        self.clock += sum(len(t) for t in texts)
        return super().embed_text(texts)


def _embed_on_fake_clock(
    monkeypatch, caplog, embedder: _LengthCostEmbedder, concepts: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Embed ``concepts`` (no disk cache) with the embedder's clock as the time; return
    the embeddings and the messages logged."""
    fake_time = types.SimpleNamespace(perf_counter=lambda: embedder.clock, time=time.time)
    monkeypatch.setattr(dictionary_module, "time", fake_time)
    clear_memory_cache()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        raw = embed_vocabulary(embedder, concepts, disk_cache=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "sksplice.dictionary"]
    return raw, messages


def _ranked_vocabulary(n: int) -> list[str]:
    """Short concepts first, then longer ones, as in a vocabulary ranked by frequency
    that ends with bigrams."""
    return [f"w{i}" if i < n // 2 else f"a longer two-word concept {i}" for i in range(n)]


def test_the_timed_sample_represents_the_whole_vocabulary(monkeypatch, caplog):
    concepts = _ranked_vocabulary(6000)
    embedder = _LengthCostEmbedder()
    raw, messages = _embed_on_fake_clock(monkeypatch, caplog, embedder, concepts)
    sample = embedder.calls[0] + embedder.calls[1]
    assert [len(call) for call in embedder.calls[:2]] == [1, 511]
    assert sample != concepts[:512]
    # the sample's mean cost is the vocabulary's, within 5%
    mean_all = np.mean([len(c) for c in concepts])
    assert np.mean([len(c) for c in sample]) == pytest.approx(mean_all, rel=0.05)
    # so the estimate logged for the rest is its actual cost, within 5%
    estimate = float(re.search(r"about (\d+) s for the remaining 5488", messages[1]).group(1))
    actual = embedder.clock - sum(len(c) for c in sample)
    assert estimate == pytest.approx(actual, rel=0.05)
    assert "(%.0f concepts/s)" % (511 / sum(len(c) for c in embedder.calls[1])) in messages[1]
    # every concept embedded once, rows in vocabulary order
    assert sorted(c for call in embedder.calls for c in call) == sorted(concepts)
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8).embed_text(concepts))


def test_progress_is_reported_while_the_rest_is_embedded(monkeypatch, caplog):
    concepts = _ranked_vocabulary(10_000)
    embedder = _LengthCostEmbedder()
    monkeypatch.setattr(dictionary_module, "_PROGRESS_INTERVAL", 0.0)
    raw, messages = _embed_on_fake_clock(monkeypatch, caplog, embedder, concepts)
    # the sample (its first concept alone), then the 9,488 others in three blocks
    assert [len(call) for call in embedder.calls] == [1, 511, 3163, 3163, 3162]
    progress = [m for m in messages if " of 10000 concepts" in m]
    assert len(progress) == 2
    assert "embedded 3675 of 10000 concepts (37%)" in progress[0]
    assert "embedded 6838 of 10000 concepts (68%)" in progress[1]
    # each block is spread over the vocabulary, so the time left said is the time left
    costs = [sum(len(c) for c in call) for call in embedder.calls]
    for message, n_calls in zip(progress, (3, 4), strict=True):
        left = float(re.search(r"about (\d+) s left", message).group(1))
        assert left == pytest.approx(sum(costs[n_calls:]), rel=0.05)
    assert "embedded all 10000 concepts" in messages[-1]
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8).embed_text(concepts))


def test_progress_lines_are_spaced_in_time(monkeypatch, caplog):
    concepts = _ranked_vocabulary(10_000)
    embedder = _LengthCostEmbedder()  # (about 71,000 fake seconds per block)
    monkeypatch.setattr(dictionary_module, "_PROGRESS_INTERVAL", 10.0**6)
    _, messages = _embed_on_fake_clock(monkeypatch, caplog, embedder, concepts)
    assert not [m for m in messages if " of 10000 concepts" in m]
    assert len(messages) == 3


class _ColdEmbedder(_LengthCostEmbedder):
    """Its first call also loads a model: a fixed cost far above a sample's."""

    def embed_text(self, texts):
        if not self.calls:
            self.clock += 10.0**6
        return super().embed_text(texts)


def test_loading_the_model_is_not_counted_in_the_estimate(monkeypatch, caplog):
    concepts = _ranked_vocabulary(6000)
    embedder = _ColdEmbedder()
    _, messages = _embed_on_fake_clock(monkeypatch, caplog, embedder, concepts)
    estimate = float(re.search(r"about (\d+) s for the remaining 5488", messages[1]).group(1))
    sample = embedder.calls[0] + embedder.calls[1]
    actual = sum(len(c) for c in concepts) - sum(len(c) for c in sample)
    assert estimate == pytest.approx(actual, rel=0.05)
    # the closing line counts the whole time, loading included
    total = float(re.search(r"embedded all 6000 concepts in (\d+)", messages[-1]).group(1))
    assert total == pytest.approx(embedder.clock, rel=1e-3)


def test_tiny_clip_dictionary_is_the_direct_embedding_in_vocabulary_order(
    tiny_clip_model, splice_data_dir
):
    from sksplice.embedders import CLIPEmbedder

    def read(name):
        text = (splice_data_dir / "vocab" / name).read_text(encoding="utf-8")
        return [line for line in text.splitlines() if line]

    concepts = read("laion.txt")[:1600] + read("laion_bigrams.txt")[:600]
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu")
    clear_memory_cache()
    raw = embed_vocabulary(embedder, concepts, disk_cache=False)
    direct = embedder.embed_text(concepts)
    # (batches of other texts change the float rounding, not the embeddings)
    np.testing.assert_allclose(raw, direct, rtol=0, atol=1e-6)
    assert np.abs(raw - direct).max() < 1e-6 < np.abs(raw - np.roll(direct, 1, axis=0)).max()


def test_one_bar_counts_the_whole_vocabulary(tiny_clip_model, capsys):
    # The embedder shows a bar per call; the calls of one vocabulary (the untimed
    # concept, the sample, the blocks) show one bar of all its concepts instead.
    from sksplice.embedders import CLIPEmbedder

    concepts = [f"concept number {i}" for i in range(2100)]
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu", verbose=True)
    clear_memory_cache()
    embed_vocabulary(embedder, concepts, disk_cache=False)
    err = capsys.readouterr().err
    assert "CLIP texts" not in err
    lines = [line for line in err.splitlines() if line.startswith("embedding concepts")]
    assert lines and "2100/2100" in lines[-1]
    # outside a vocabulary the embedder's own bar is shown as before
    embedder.embed_text(["a dog", "a cat"])
    assert "CLIP texts: 100% 2/2" in capsys.readouterr().err
    # and a quiet embedder shows none
    embedder.set_params(verbose=False)
    clear_memory_cache()
    embed_vocabulary(embedder, concepts, disk_cache=False)
    assert capsys.readouterr().err == ""
