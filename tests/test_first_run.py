"""The first embedding of a vocabulary says how many concepts, how long and where it is cached."""

from __future__ import annotations

import logging

import numpy as np

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
    assert len(messages) == 2
    assert "embedding 2100 concepts" in messages[0] and str(path) in messages[0]
    assert "first 512 concepts" in messages[1] and "for the remaining 1588" in messages[1]
    assert CountingEmbedder.n_calls == 2 and CountingEmbedder.n_texts == 2100
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
