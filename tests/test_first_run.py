"""The first embedding of a vocabulary says how many concepts, how long and where it is cached."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import time
import types

import numpy as np
import pytest

import sksplice.dictionary as dictionary_module
from sksplice._atomic import atomic_write
from sksplice.dictionary import (
    DictionaryCacheWarning,
    clear_memory_cache,
    dictionary_cache_path,
    embed_vocabulary,
    partial_folder,
    vocabulary_hash,
)

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
    # the closing line counts the whole time, loading included, and gives the rate of
    # the calls after the first (the whole time's rate was a tenth of it, or less)
    total = float(re.search(r"embedded all 6000 concepts in (\d+)", messages[-1]).group(1))
    assert total == pytest.approx(embedder.clock, rel=1e-3)
    after_first = 5999 / (sum(len(c) for c in concepts) - len(embedder.calls[0][0]))
    rate, first = re.search(
        r" \((\d+) concepts/s after the first call, which set up the model and took ([\d.]+) "
        r"s\)$",
        messages[-1],
    ).groups()
    assert int(rate) == round(after_first)
    assert float(first) == 10**6 + len(embedder.calls[0][0])
    # a first call as fast as the others: the whole time's rate
    _, messages = _embed_on_fake_clock(monkeypatch, caplog, _LengthCostEmbedder(), concepts)
    assert re.search(r"embedded all 6000 concepts in [\d.]+ s \(\d+ concepts/s\)$", messages[-1])


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


def test_a_verbose_transformer_shows_the_progress_of_an_embedder_without_bars(capsys):
    # SpliceTransformer(verbose=1) said the estimate, then nothing for the rest of the
    # embedding with an embedder that shows no bar of its own (a sentence-transformers
    # model: 26 s of silence for 5,000 concepts): its calls are counted in one bar.
    from sksplice import SpliceTransformer

    concepts = [f"concept number {i}" for i in range(2100)]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8))
    for verbose in (1, 0):
        clear_memory_cache()
        SpliceTransformer(
            embedder=CountingEmbedder(dim=8, key=f"no-bar-{verbose}"),
            vocabulary=concepts,
            modality="text",
            verbose=verbose,
            device="cpu",
        ).fit(X)
        err = capsys.readouterr().err
        bar = [line for line in err.splitlines() if line.startswith("embedding concepts")]
        if verbose:
            assert bar and "2100/2100" in bar[-1], err
        else:
            assert bar == [], err


# -- an embedding that is stopped keeps its finished blocks for the next run


class _StoppedEmbedder(CountingEmbedder):
    """Records the texts of each call and, from call ``stop_at`` on, raises
    ``KeyboardInterrupt`` as a Ctrl-C during that call would."""

    def __init__(self, stop_at: int | None = None, error: type = KeyboardInterrupt, **kwargs):
        super().__init__(dim=8, key="stopped", **kwargs)
        self.stop_at = stop_at
        self.error = error
        self.calls: list[list[str]] = []

    def embed_text(self, texts):
        if self.stop_at is not None and len(self.calls) >= self.stop_at:
            raise self.error
        self.calls.append(list(texts))
        return super().embed_text(texts)


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sksplice.dictionary"]


def _stop_after(tmp_path, caplog, concepts, batch_size, stop_at, **kwargs):
    """Embed ``concepts`` until call ``stop_at`` is interrupted; return the folder of
    the blocks kept and the message the interruption said."""
    clear_memory_cache()
    with (
        caplog.at_level(logging.INFO, logger="sksplice.dictionary"),
        pytest.raises(KeyboardInterrupt) as stopped,
    ):
        embed_vocabulary(
            _StoppedEmbedder(stop_at, **kwargs), concepts, cache_dir=tmp_path, batch_size=batch_size
        )
    path = dictionary_cache_path(_StoppedEmbedder().cache_key(), concepts, tmp_path)
    assert not path.exists()
    # said once, by the interruption (a logged line said it a second time above it)
    assert not [m for m in _messages(caplog) if m.startswith("stopped")], _messages(caplog)
    return path.with_name(path.stem + ".partial"), str(stopped.value)


@pytest.mark.parametrize(
    ("batch_size", "stop_at", "kept_calls", "n_blocks"),
    [
        # calls of 256 concepts, kept two by two (512 concepts): blocks of 512, 512
        # and 976 (the last 464 join the block before them); stopped in the sixth
        # call, while the third block is embedded
        (256, 5, 4, 3),
        # the untimed concept and the sample (one block), then two of 2244 each;
        # stopped in the last call
        (None, 3, 3, 3),
    ],
)
def test_a_stopped_embedding_resumes_where_it_stopped(
    tmp_path, caplog, batch_size, stop_at, kept_calls, n_blocks
):
    concepts = [f"concept {i}" for i in range(2000 if batch_size else 5000)]
    reference = CountingEmbedder(dim=8, key="stopped").embed_text(concepts)

    first = _StoppedEmbedder()
    folder, said = _stop_after(tmp_path, caplog, concepts, batch_size, stop_at)
    n_kept = 2
    # (said in concepts, as the resuming run counts them: blocks hid how little was kept)
    stopped = re.fullmatch(
        rf"stopped: (\d+) of {len(concepts)} concepts kept \({n_kept} of {n_blocks} blocks\) in "
        rf"{re.escape(str(folder))}; run again to resume",
        said,
    )
    assert stopped, said
    width = 4
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"block-{b:0{width}d}-of-{n_blocks:0{width}d}.npz" for b in range(n_kept)]

    caplog.clear()
    clear_memory_cache()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        raw = embed_vocabulary(first, concepts, cache_dir=tmp_path, batch_size=batch_size)
    messages = _messages(caplog)
    # one line says what is resumed and what is left (not "not cached yet" first)
    (resuming,) = (m for m in messages if m.startswith("resuming") or "not cached" in m)
    assert re.fullmatch(
        rf"resuming: {n_kept} of {n_blocks} blocks already embedded \({stopped.group(1)} of "
        rf"{len(concepts)} concepts\) in {re.escape(str(folder))}; embedding the other "
        rf"{len(concepts) - int(stopped.group(1))} concepts with stopped-d8-s0; the result will "
        rf"be cached "
        rf"in {re.escape(str(dictionary_cache_path(first.cache_key(), concepts, tmp_path)))}",
        resuming,
    ), resuming
    # only the concepts of the blocks not kept are embedded, each once
    embedded = [c for call in first.calls for c in call]
    interrupted = _StoppedEmbedder()
    clear_memory_cache()
    embed_vocabulary(interrupted, concepts, batch_size=batch_size, disk_cache=False)
    kept = {c for call in interrupted.calls[:kept_calls] for c in call}
    assert sorted(embedded) == sorted(set(concepts) - kept)
    assert int(stopped.group(1)) == len(kept)  # (the concepts the message said were kept)
    # the dictionary is the one an uninterrupted run gives, bit for bit, and cached
    np.testing.assert_array_equal(raw, reference)
    path = dictionary_cache_path(first.cache_key(), concepts, tmp_path)
    assert path.is_file() and not folder.exists()
    clear_memory_cache()
    np.testing.assert_array_equal(embed_vocabulary(first, concepts, cache_dir=tmp_path), reference)


class _Terminal(io.StringIO):
    """Standard error as a terminal: tqdm redraws its bar in place there."""

    def isatty(self) -> bool:
        return True


def test_a_resumed_verbose_embedding_says_one_line_and_its_bar_counts_this_run(
    tmp_path, monkeypatch
):
    # Resuming said "embedding 5000 concepts ... (not cached yet)", then "resuming ...";
    # its bar started at 0, jumped to the concepts read back, and its rate counted them
    # (4219 concepts/s on the bar, 2048/s said at the end); and on a terminal the lines
    # of a verbose fit were written onto the bar's line.
    from sksplice._progress import verbose_logging

    concepts = [f"concept {i}" for i in range(5000)]
    _, said = _stop_after(tmp_path, _NoCaplog(), concepts, None, 3)
    kept = int(re.match(r"stopped: (\d+) of", said).group(1))

    bars = []
    made = dictionary_module.progress

    def kept_bar(*args, **kwargs):
        bars.append(made(*args, **kwargs))
        return bars[-1]

    monkeypatch.setattr(dictionary_module, "progress", kept_bar)
    monkeypatch.setattr(logging.root, "handlers", [])  # (as in a plain script)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    clear_memory_cache()
    with verbose_logging(1):
        embed_vocabulary(_StoppedEmbedder(), concepts, cache_dir=tmp_path)
    monkeypatch.undo()
    (bar,) = bars
    # (tqdm's rate is (n - initial) / elapsed: the concepts embedded by this run)
    assert bar.initial == kept and bar.n == len(concepts)
    written = terminal.getvalue()
    # each line of the fit is written on a line of its own (tqdm.write clears the bar
    # drawn in place, writes the line and draws the bar again below it)
    lines = [line.rsplit("\r", 1)[-1] for line in written.split("\n")]
    said_lines = [line for line in lines if "[sksplice]" in line]
    assert said_lines and all(line.startswith("[sksplice] ") for line in said_lines), written
    assert not any("not cached" in line for line in said_lines), said_lines
    assert said_lines[0].startswith(f"[sksplice] resuming: 2 of 3 blocks already embedded ({kept} ")
    # the bar's first drawing starts at the concepts read back
    assert re.search(rf"embedding concepts: +\d+%\|[^|]*\| {kept}/5000", written), written


class _NoCaplog:
    """What :func:`_stop_after` reads of pytest's ``caplog``, capturing nothing."""

    records = ()

    def at_level(self, *args, **kwargs):
        return contextlib.nullcontext()


def test_the_interruption_itself_says_how_to_resume_and_ends_where_it_is_said(tmp_path):
    # In a notebook the "run again to resume" line stood above a traceback of 46 frames
    # through the model (torch, transformers): the interruption now says it itself, with
    # a traceback that ends in the library, not inside the embedder. It stays the very
    # KeyboardInterrupt raised (callers mark it: the command line's signal, the rows
    # embedded).
    import traceback

    class _Marked(KeyboardInterrupt):
        signum = 15

    concepts = [f"concept {i}" for i in range(2000)]
    clear_memory_cache()
    with pytest.raises(KeyboardInterrupt) as stopped:
        embed_vocabulary(
            _StoppedEmbedder(5, error=_Marked), concepts, cache_dir=tmp_path, batch_size=256
        )
    exc = stopped.value
    assert type(exc) is _Marked and exc.signum == 15
    assert re.fullmatch(
        r"stopped: \d+ of 2000 concepts kept \(2 of 3 blocks\) in .*\.partial; run again to "
        "resume",
        str(exc),
    ), str(exc)
    frames = [frame.name for frame in traceback.extract_tb(exc.__traceback__)]
    assert "embed_text" not in frames, frames  # (the embedder's frame is not shown)
    assert frames[0] == "test_the_interruption_itself_says_how_to_resume_and_ends_where_it_is_said"
    assert exc.__context__ is None and exc.__cause__ is None
    # an interruption before any block was kept is left as it was raised, and leaves no
    # empty folder of blocks behind
    clear_memory_cache()
    with pytest.raises(KeyboardInterrupt) as early:
        embed_vocabulary(_StoppedEmbedder(0), concepts, cache_dir=tmp_path / "b", batch_size=256)
    assert str(early.value) == ""
    assert "embed_text" in [f.name for f in traceback.extract_tb(early.value.__traceback__)]
    assert not list((tmp_path / "b").rglob("*.partial")), list((tmp_path / "b").rglob("*"))


def test_blocks_kept_after_an_error_of_the_embedder_say_it_must_be_fixed(tmp_path, caplog):
    # running again resumes after Ctrl-C or a full disk, but an error of the embedder's
    # own (a model that fails on some text) comes again until it is fixed
    concepts = [f"concept {i}" for i in range(2000)]
    clear_memory_cache()
    with (
        caplog.at_level(logging.INFO, logger="sksplice.dictionary"),
        pytest.raises(RuntimeError),
    ):
        embed_vocabulary(
            _StoppedEmbedder(5, error=RuntimeError), concepts, cache_dir=tmp_path, batch_size=256
        )
    path = dictionary_cache_path(_StoppedEmbedder().cache_key(), concepts, tmp_path)
    folder = path.with_name(path.stem + ".partial")
    assert re.fullmatch(
        rf"stopped: \d+ of 2000 concepts kept \(2 of 3 blocks\) in {re.escape(str(folder))}; "
        "a run after the RuntimeError is fixed resumes from them",
        _messages(caplog)[-1],
    ), _messages(caplog)[-1]


def test_blocks_left_beside_a_written_cache_file_are_removed_when_it_is_read(tmp_path):
    # (another process wrote the cache file while this one, stopped, kept blocks)
    concepts = [f"concept {i}" for i in range(600)]
    embedder = _StoppedEmbedder()
    clear_memory_cache()
    raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    folder = partial_folder(dictionary_cache_path(embedder.cache_key(), concepts, tmp_path))
    folder.mkdir()
    (folder / "block-0000-of-0002.npz").write_bytes(b"left by a stopped run")
    clear_memory_cache()
    np.testing.assert_array_equal(embed_vocabulary(embedder, concepts, cache_dir=tmp_path), raw)
    assert not folder.exists()


def test_a_damaged_block_is_embedded_again(tmp_path, caplog):
    concepts = [f"concept {i}" for i in range(2000)]
    folder, _ = _stop_after(tmp_path, caplog, concepts, 256, 5)
    damaged = folder / "block-0000-of-0003.npz"
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 0xFF  # (a bit of the array flipped: its digest no longer matches)
    damaged.write_bytes(bytes(data))
    embedder = _StoppedEmbedder()
    clear_memory_cache()
    with pytest.warns(DictionaryCacheWarning, match=r"block-0000-of-0003\.npz.*cannot be used"):
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256)
    # block 0 (its 512 concepts) is embedded again, block 1 is not
    assert sum(len(call) for call in embedder.calls) == 2000 - 512
    assert embedder.calls[0] == concepts[:256]
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))


def test_a_block_of_other_texts_is_embedded_again(tmp_path, caplog):
    concepts = [f"concept {i}" for i in range(2000)]
    folder, _ = _stop_after(tmp_path, caplog, concepts, 256, 5)
    block = folder / "block-0001-of-0003.npz"
    with np.load(block) as archive:
        header = json.loads(str(archive["header"]))
        embeddings = archive["embeddings"]
    # a well-formed block whose texts are not those of this vocabulary's block 1
    fields = {k: v for k, v in header.items() if k not in ("format", "shape", "dtype", "sha256")}
    fields["texts"] = vocabulary_hash(["another concept"] * 512)
    dictionary_module._write_npz(block, fields, embeddings)
    embedder = _StoppedEmbedder()
    clear_memory_cache()
    with pytest.warns(DictionaryCacheWarning, match="its texts does not match"):
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256)
    assert embedder.calls[0] == concepts[512:768]  # block 0 kept, block 1 embedded again
    assert sum(len(call) for call in embedder.calls) == 2000 - 512
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))


class _DeviceEmbedder(_StoppedEmbedder):
    def __init__(self, stop_at=None, device="cpu", batch_size=32) -> None:
        super().__init__(stop_at)
        self.device = device
        self.batch_size = batch_size


@pytest.mark.parametrize(
    ("other", "said"),
    [
        ({"batch_size": 64}, "it was embedded in batches of 32, this run in batches of 64"),
        ({"device": "meta"}, "it was embedded on cpu, this run on meta"),
    ],
)
def test_blocks_of_other_settings_are_not_reused(tmp_path, caplog, other, said):
    from sksplice.dictionary import _settings_text

    # (a setting not given is said so, not "None")
    assert _settings_text({"device": None, "embedder_batch_size": None}, {"device": "cpu"}) == (
        "on the default device",
        "on cpu",
    )
    concepts = [f"concept {i}" for i in range(2000)]
    clear_memory_cache()
    with pytest.raises(KeyboardInterrupt):
        embed_vocabulary(_DeviceEmbedder(5), concepts, cache_dir=tmp_path, batch_size=256)
    # the same batch_size of embed_vocabulary, another device or batch size of the model
    embedder = _DeviceEmbedder(**other)
    clear_memory_cache()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256)
    assert sum(len(call) for call in embedder.calls) == 2000
    assert not any(m.startswith("resuming") for m in _messages(caplog))
    notes = [m for m in _messages(caplog) if m.startswith("not reusing the finished block")]
    # (in words: the settings' dicts read as Python, {'embedder_batch_size': 32, ...})
    assert notes and all(f"({said}); embedding it again" in note for note in notes)
    # and another batch_size of embed_vocabulary (other calls) reuses none either
    clear_memory_cache()
    with pytest.raises(KeyboardInterrupt):
        embed_vocabulary(_DeviceEmbedder(5), concepts, cache_dir=tmp_path / "b", batch_size=256)
    embedder = _DeviceEmbedder()
    clear_memory_cache()
    embed_vocabulary(embedder, concepts, cache_dir=tmp_path / "b", batch_size=128)
    assert sum(len(call) for call in embedder.calls) == 2000


def test_blocks_that_cannot_be_written_leave_no_folder(tmp_path, monkeypatch):
    concepts = [f"concept {i}" for i in range(2000)]
    real = dictionary_module._write_npz

    def full_disk(path, fields, embeddings):
        if "block" not in fields:
            return real(path, fields, embeddings)
        with atomic_write(path):  # (its folders are made, then the disk is full)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(dictionary_module, "_write_npz", full_disk)
    embedder = _StoppedEmbedder(stop_at=5)
    clear_memory_cache()
    with (
        pytest.warns(DictionaryCacheWarning, match="No space left.*starts it again"),
        pytest.raises(KeyboardInterrupt),
    ):
        embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256)
    assert list((tmp_path / "dictionaries").iterdir()) == []
    # the calls after the failed block went on; only a Ctrl-C stopped them
    assert len(embedder.calls) == 5


def test_blocks_kept_before_the_disk_filled_are_said_to_be_left(tmp_path, monkeypatch):
    # The warning said "the next run starts it again from the beginning", where the next
    # run resumed from the block written before the disk filled.
    concepts = [f"concept {i}" for i in range(3000)]
    real = dictionary_module._write_npz
    written = []

    def fills_up(path, fields, embeddings):
        if written:  # (the first block took the last free space)
            raise OSError(28, "No space left on device")
        written.append(path)
        return real(path, fields, embeddings)

    monkeypatch.setattr(dictionary_module, "_write_npz", fills_up)
    embedder = _StoppedEmbedder()
    clear_memory_cache()
    with pytest.warns(
        DictionaryCacheWarning,
        match=r"No space left on device\); the 1 block kept before is left there for a run "
        r"that resumes it, and the others are embedded again if it is stopped",
    ):
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256)
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))
    (partial,) = (tmp_path / "dictionaries").iterdir()
    assert [p.name for p in partial.iterdir()] == [written[0].name]


def test_two_embeddings_of_one_vocabulary_at_once(tmp_path):
    import threading

    concepts = [f"concept {i}" for i in range(3000)]
    reference = CountingEmbedder(dim=8, key="stopped").embed_text(concepts)

    class Slow(_StoppedEmbedder):
        def embed_text(self, texts):
            time.sleep(0.02)
            return super().embed_text(texts)

    results: list[np.ndarray] = []

    def run() -> None:
        results.append(
            np.array(
                dictionary_module._embed(
                    Slow(),
                    concepts,
                    256,
                    dictionary_cache_path("stopped-d8-s0", concepts, tmp_path),
                    "stopped-d8-s0",
                )
            )
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    for result in results:
        np.testing.assert_array_equal(result, reference)
    # every block kept is whole and readable by a third run, which embeds nothing
    embedder = _StoppedEmbedder()
    clear_memory_cache()
    np.testing.assert_array_equal(
        embed_vocabulary(embedder, concepts, cache_dir=tmp_path, batch_size=256), reference
    )
    assert embedder.calls == []
    assert [p.suffix for p in (tmp_path / "dictionaries").iterdir()] == [".npz"]


def test_the_command_stopped_while_embedding_resumes(run_env, tmp_path, monkeypatch, capsys):
    from sksplice import cli
    from sksplice.embedders import CLIPEmbedder

    try:
        from ._helpers_cli import model_args
    except ImportError:
        from _helpers_cli import model_args

    (tmp_path / "vocab.txt").write_text(
        "".join(f"concept number {i}\n" for i in range(5000)), encoding="utf-8"
    )
    embed_text = CLIPEmbedder.embed_text
    calls: list[int] = []

    def stopped_at_the_fourth_call(self, texts):
        calls.append(len(texts))
        if len(calls) == 4:
            raise KeyboardInterrupt  # (as Ctrl-C in the second block of 2,244 concepts)
        return embed_text(self, texts)

    def run(cache: str) -> tuple[int, str]:
        code = cli.main(["decompose", str(run_env), *model_args(tmp_path, "--cache-dir", cache)])
        return code, capsys.readouterr().err

    monkeypatch.setattr(CLIPEmbedder, "embed_text", stopped_at_the_fourth_call)
    clear_memory_cache()
    code, err = run(str(tmp_path / "cache"))
    assert code == 130
    folder = next((tmp_path / "cache" / "dictionaries").glob("*.partial"))
    assert re.search(
        rf"sksplice: warning: stopped: \d+ of \d+ concepts kept \(2 of 3 blocks\) in "
        rf"{re.escape(str(folder))}; run again to resume",
        err,
    ), err
    assert err.rstrip().endswith("sksplice: error: interrupted: no record was written")
    assert err.count("stopped: ") == 1, err  # (the command line's line, once)

    monkeypatch.setattr(CLIPEmbedder, "embed_text", embed_text)
    code, err = run(str(tmp_path / "cache"))
    assert code == 0 and "resuming: 2 of 3 blocks already embedded" in err
    # (the line said before the images are embedded names them, not "not cached" alone)
    assert (
        "are embedded once the images are (an earlier run kept 2 blocks of them, stopped, or "
        "unable to write the whole dictionary, reused where made with these settings: the "
        "same --batch-size and --device; once: later runs read them from the cache)\n" in err
    ), err
    assert not folder.exists()
    clear_memory_cache()  # (the dictionary of this process is in memory)
    code, err = run(str(tmp_path / "uninterrupted"))
    assert code == 0 and "resuming" not in err
    (resumed,) = (tmp_path / "cache" / "dictionaries").glob("*.npz")
    (whole,) = (tmp_path / "uninterrupted" / "dictionaries").glob("*.npz")
    with np.load(resumed) as a, np.load(whole) as b:
        np.testing.assert_array_equal(a["embeddings"], b["embeddings"])


def test_blocks_of_the_rest_after_a_cached_beginning_are_not_taken_for_the_whole(tmp_path, caplog):
    import warnings

    concepts = [f"concept {i}" for i in range(6000)]
    clear_memory_cache()
    embed_vocabulary(_StoppedEmbedder(), concepts[:1000], cache_dir=tmp_path)
    # the first 1,000 are cached: only the other 5,000 are embedded (the sample, then two
    # blocks), stopped in the last block
    clear_memory_cache()
    with pytest.raises(KeyboardInterrupt):
        embed_vocabulary(_StoppedEmbedder(3), concepts, cache_dir=tmp_path, prefix_of=concepts)
    folder = dictionary_cache_path("stopped-d8-s0", concepts, tmp_path).with_suffix(".partial")
    assert sorted(p.name for p in folder.iterdir()) == [
        "block-0000-of-0003.npz",
        "block-0001-of-0003.npz",
    ]
    # without the cached beginning, the whole list is embedded, in three blocks too:
    # those of the rest are not its blocks, and are not taken for damaged ones either
    dictionary_cache_path("stopped-d8-s0", concepts[:1000], tmp_path).unlink()
    clear_memory_cache()
    embedder = _StoppedEmbedder()
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        warnings.simplefilter("error", DictionaryCacheWarning)
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    assert sum(len(call) for call in embedder.calls) == 6000
    assert len([m for m in _messages(caplog) if "another list of concepts" in m]) == 2
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))
    assert not folder.exists()


# ------------------------------------------ processes embedding one vocabulary at once

_SHARING_SCRIPT = """
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from _helpers_transformer import CountingEmbedder
from sksplice.dictionary import embed_vocabulary


class Slow(CountingEmbedder):
    # a text tower's time: a millisecond a concept
    def embed_text(self, texts):
        time.sleep(0.001 * len(texts))
        return super().embed_text(texts)


while time.time() < float(sys.argv[2]):  # (both start together)
    time.sleep(0.001)
concepts = [f"concept {i}" for i in range(6000)]
raw = embed_vocabulary(Slow(dim=8, key="slow"), concepts, cache_dir=sys.argv[1])
print(json.dumps({"texts": Slow.n_texts, "sum": float(np.asarray(raw, np.float64).sum())}))
"""


def test_processes_embedding_one_vocabulary_at_once_share_its_blocks(tmp_path):
    # Two processes started together (the first fits of a search with n_jobs=2) each
    # embedded every block; each now claims the blocks it embeds and reads the others'
    import subprocess
    import sys
    from pathlib import Path

    helpers = str(Path(__file__).resolve().parent)
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SHARING_SCRIPT, str(tmp_path), str(start), helpers],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    texts = [r["texts"] for r in results]
    assert sum(texts) == 6000, texts  # (each concept embedded once, by one of them)
    assert min(texts) > 0, texts  # (both took part)
    assert results[0]["sum"] == results[1]["sum"]
    concepts = [f"concept {i}" for i in range(6000)]
    path = dictionary_cache_path("slow-d8-s0", concepts, tmp_path)
    assert path.is_file() and not partial_folder(path).exists()
    with np.load(path) as cached:
        np.testing.assert_array_equal(
            cached["embeddings"], CountingEmbedder(dim=8, key="slow").embed_text(concepts)
        )


def _claim(folder, block, n_blocks, pid, host=None):
    """A claim on ``block`` as the process ``pid`` makes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"block-{block:04d}-of-{n_blocks:04d}.claim"
    owner = {"pid": pid, "host": host or dictionary_module._HOST, "run": "elsewhere"}
    path.write_text(json.dumps(owner), encoding="utf-8")
    return path


def test_a_block_claimed_by_a_process_that_ended_is_embedded_here(tmp_path, caplog):
    import subprocess
    import sys

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    concepts = [f"concept {i}" for i in range(6000)]
    folder = partial_folder(dictionary_cache_path("stopped-d8-s0", concepts, tmp_path))
    _claim(folder, 1, 3, int(ended.stdout))
    clear_memory_cache()
    embedder = _StoppedEmbedder()
    raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    assert sum(len(call) for call in embedder.calls) == 6000
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))
    assert not folder.exists()


def test_a_block_claimed_by_a_live_process_is_waited_for_then_taken_over(tmp_path, caplog):
    # the other process is embedding block 1: this one embeds the others, then waits;
    # when that process stops without it, its block is embedded here
    import subprocess
    import sys
    import threading

    concepts = [f"concept {i}" for i in range(6000)]
    folder = partial_folder(dictionary_cache_path("stopped-d8-s0", concepts, tmp_path))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _claim(folder, 1, 3, other.pid)
        # (killed, and reaped as its parent would: a zombie is still a process)
        threading.Timer(1.0, lambda: (other.kill(), other.wait())).start()
        clear_memory_cache()
        embedder = _StoppedEmbedder()
        with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
            started = time.perf_counter()
            raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
            waited = time.perf_counter() - started
    finally:
        other.kill()
        other.wait()
    assert waited >= 0.9  # (it waited for the other process)
    calls = [len(call) for call in embedder.calls]
    assert sum(calls) == 6000
    assert any(
        "waiting for 1 block of the vocabulary that another process" in m for m in _messages(caplog)
    )
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))


def test_a_dictionary_another_process_finished_while_this_one_waits_is_read(tmp_path):
    import subprocess
    import sys
    import threading

    concepts = [f"concept {i}" for i in range(6000)]
    path = dictionary_cache_path("stopped-d8-s0", concepts, tmp_path)
    folder = partial_folder(path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    whole = CountingEmbedder(dim=8, key="stopped").embed_text(concepts)

    def finish_elsewhere():
        # (the other process writes the cache file and removes the blocks)
        dictionary_module._write_cache_file(
            path, dictionary_module._disk_key("stopped-d8-s0", concepts), whole
        )
        import shutil

        shutil.rmtree(folder, ignore_errors=True)

    try:
        _claim(folder, 2, 3, other.pid)
        threading.Timer(1.0, finish_elsewhere).start()
        clear_memory_cache()
        embedder = _StoppedEmbedder()
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    finally:
        other.kill()
        other.wait()
    # blocks 0 and 1 here, block 2 never: the other process's file had it
    assert sum(len(call) for call in embedder.calls) < 6000
    np.testing.assert_array_equal(raw, whole)


def test_threads_embedding_one_vocabulary_at_once_share_its_blocks(tmp_path):
    import threading

    class Slow(CountingEmbedder):
        def embed_text(self, texts):
            time.sleep(0.0005 * len(texts))
            return super().embed_text(texts)

    concepts = [f"concept {i}" for i in range(6000)]
    clear_memory_cache()
    Slow.reset()
    out = {}

    def run(k):
        out[k] = embed_vocabulary(Slow(dim=8, key="slow"), concepts, cache_dir=tmp_path)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Slow.n_texts == 6000
    np.testing.assert_array_equal(out[0], out[1])
    assert not dictionary_module._live_claims


@pytest.mark.parametrize("content", ['{"pid": 12', "[1, 2]", ""], ids=["cut", "list", "empty"])
def test_a_damaged_claim_is_judged_by_its_age(tmp_path, content):
    # (a claim cut short by a full disk was waited for forever; one of a list crashed)
    import os

    concepts = [f"concept {i}" for i in range(6000)]
    folder = partial_folder(dictionary_cache_path("stopped-d8-s0", concepts, tmp_path))
    folder.mkdir(parents=True)
    claim = folder / "block-0001-of-0003.claim"
    claim.write_text(content, encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(claim, (hour_ago, hour_ago))
    clear_memory_cache()
    embedder = _StoppedEmbedder()
    raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path)
    assert sum(len(call) for call in embedder.calls) == 6000
    np.testing.assert_array_equal(raw, CountingEmbedder(dim=8, key="stopped").embed_text(concepts))


def test_an_unusable_cache_file_is_not_taken_for_another_process_result(tmp_path):
    # A cache file of another width, refused (and to be replaced), was read back as the
    # dictionary another process had finished: returned at the wrong width
    concepts = [f"concept {i}" for i in range(6000)]
    clear_memory_cache()
    embed_vocabulary(_StoppedEmbedder(), concepts, cache_dir=tmp_path)
    path = dictionary_cache_path("stopped-d8-s0", concepts, tmp_path)
    wide = CountingEmbedder(dim=16, key="stopped").embed_text(concepts)
    dictionary_module._write_cache_file(
        path, dictionary_module._disk_key("stopped-d8-s0", concepts), wide
    )
    clear_memory_cache()
    embedder = _StoppedEmbedder()
    with pytest.warns(DictionaryCacheWarning, match="cannot be used"):
        raw = embed_vocabulary(embedder, concepts, cache_dir=tmp_path, n_features=8)
    assert raw.shape == (6000, 8)
    assert sum(len(call) for call in embedder.calls) == 6000


def test_the_first_run_names_the_clip_model_and_weights_in_a_users_words(
    tiny_clip_model, tmp_path, caplog
):
    # it named the cache key: open_clip/<model>/random-init-seed0-cfg-<digest>-torch-<release>
    from sksplice.embedders import CLIPEmbedder

    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu")
    assert embedder._weights_said() == f"{tiny_clip_model} (random weights)"
    clear_memory_cache()
    with caplog.at_level(logging.INFO, logger="sksplice.dictionary"):
        embed_vocabulary(embedder, ["dog", "cat", "snow"], cache_dir=tmp_path)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("embedding 3")]
    cached = dictionary_cache_path(embedder.cache_key(), ["dog", "cat", "snow"], tmp_path)
    assert said == [
        f"embedding 3 concepts with {tiny_clip_model} (random weights), not cached yet; the "
        f"result will be cached in {cached}"
    ]
    tagged = CLIPEmbedder(model="ViT-B-32", pretrained="laion2b_s34b_b79k", precision="bf16")
    assert tagged._weights_said() == "ViT-B-32 (laion2b_s34b_b79k), bf16"


def test_concepts_cut_to_the_context_are_said_once_at_their_places_in_the_vocabulary(
    tiny_clip_model,
):
    # each call of the embedding (the sample, then each block) warned of its own texts,
    # counted within it: "1 of 1024 texts (17: ...)"
    import warnings

    from sksplice.embedders import CLIPEmbedder
    from sksplice.exceptions import TruncatedTextWarning

    concepts = [f"concept number {i}" for i in range(2100)]
    concepts[7] = "a dog and " * 30
    concepts[2050] = "a cat and " * 30
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu")
    clear_memory_cache()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        embed_vocabulary(embedder, concepts, disk_cache=False)
    cut = [w.message for w in seen if issubclass(w.category, TruncatedTextWarning)]
    assert len(cut) == 1, [str(w) for w in cut]
    assert cut[0].indices == (7, 2050)
    assert str(cut[0]).startswith(
        "2 of 2100 concepts (7: 'a dog and a dog and a dog and a dog and '...; 2050: 'a cat "
    )
    # (a single one is named by its position)
    assert str(embedders_warning(["x", "a b " * 60], tiny_clip_model)).startswith(
        "the text at position 1 ('a b a b a b a b a b a b a b a b a b a b '...) is longer than"
    )


def embedders_warning(texts, model):
    from sksplice.embedders import texts_cut_by

    return texts_cut_by(model, texts)
