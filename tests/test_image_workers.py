"""CLIPEmbedder(num_workers=k): images decoded in DataLoader worker processes."""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from sksplice.embedders import CLIPEmbedder, InvalidImageError, SkippedInputWarning


def write_images(folder, n):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_worker_processes_give_the_thread_results_in_order(tiny_clip_model, tmp_path):
    paths = write_images(tmp_path, 7)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    items = [*paths[:3], str(tmp_path / "bad.jpg"), *paths[3:]]
    common = dict(model=tiny_clip_model, pretrained=None, device="cpu", batch_size=3)
    threads = CLIPEmbedder(**common, on_error="skip").embed_images(items, return_skipped=True)
    procs = CLIPEmbedder(**common, on_error="skip", num_workers=2).embed_images(
        items, return_skipped=True
    )
    np.testing.assert_allclose(procs[0], threads[0], rtol=0, atol=1e-6, equal_nan=True)
    assert np.isnan(procs[0][3]).all() and not np.isnan(np.delete(procs[0], 3, axis=0)).any()
    assert [s.index for s in procs[1]] == [s.index for s in threads[1]] == [3]
    with pytest.raises(InvalidImageError, match=r"input 3: .*bad\.jpg"):
        CLIPEmbedder(**common, num_workers=2).transform(items)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CLIPEmbedder(**common, on_error="skip", num_workers=1).transform(items)
    assert any(issubclass(w.category, SkippedInputWarning) for w in caught)


@pytest.mark.parametrize("num_workers", [None, 0, 2])
def test_a_batch_with_no_loadable_image_is_skipped_whole(tiny_clip_model, tmp_path, num_workers):
    # batches of 2: [good, good], [bad, bad], [good]; each batch comes back stacked, so a
    # batch whose items all fail has no tensor and its rows are NaN.
    paths = write_images(tmp_path, 3)
    for name in ("bad1.jpg", "bad2.jpg"):
        (tmp_path / name).write_bytes(b"not an image")
    items = [*paths[:2], str(tmp_path / "bad1.jpg"), str(tmp_path / "bad2.jpg"), paths[2]]
    embedder = CLIPEmbedder(
        model=tiny_clip_model,
        pretrained=None,
        device="cpu",
        batch_size=2,
        on_error="skip",
        num_workers=num_workers,
    )
    Z, skipped = embedder.embed_images(items, return_skipped=True)
    one_by_one = CLIPEmbedder(
        model=tiny_clip_model, pretrained=None, device="cpu", batch_size=1
    ).embed_images([*paths[:2], paths[2]])
    assert [s.index for s in skipped] == [2, 3]
    assert np.isnan(Z[2:4]).all()
    np.testing.assert_allclose(Z[[0, 1, 4]], one_by_one, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("num_workers", "device", "n_items", "expected"),
    [
        (None, "cpu", 10_000, 0),  # the model bounds a CPU run: threads
        (None, "cuda:0", 3 * 64, 0),  # too few batches to repay starting processes
        (None, "cuda:0", 4 * 64, min(os.cpu_count() or 1, 4)),  # one process per batch
        (None, "cuda", 10_000, min(os.cpu_count() or 1, 157)),  # one process per core
        (0, "cuda:0", 10_000, 0),
        (3, "cpu", 10, 3),
    ],
)
def test_num_workers_none_decodes_in_processes_for_a_gpu(num_workers, device, n_items, expected):
    embedder = CLIPEmbedder(batch_size=64, num_workers=num_workers)
    config = SimpleNamespace(device=device)
    assert embedder._decode_processes(n_items, config) == expected


def test_collate_decoded_stacks_the_loaded_items_and_keeps_offsets():
    import torch

    from sksplice._images import collate_decoded
    from sksplice.exceptions import ImageFileWarning

    error = InvalidImageError("broken")
    told = [ImageFileWarning("c.png", "Corrupt EXIF data"), ImageFileWarning("c.png", "more")]
    results = [
        (torch.zeros(3, 2, 2), None, []),
        (None, error, []),
        (torch.ones(3, 2, 2), None, told),
    ]
    batch = collate_decoded(results, start=10)
    assert (batch.start, batch.size, batch.rows) == (10, 3, [0, 2])
    assert batch.errors == [(1, error)]
    assert batch.tensors.shape == (2, 3, 2, 2) and batch.tensors[1].eq(1).all()
    assert batch.warnings == told
    empty = collate_decoded([(None, error, [])])
    assert empty.tensors is None and empty.rows == [] and empty.size == 1


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (-3, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_bad_num_workers(tiny_clip_model, value, error):
    """A bad value is a ValueError, a bad type (bool included) a TypeError."""
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu", num_workers=value)
    with pytest.raises(error, match="num_workers"):
        embedder.fit()


def test_the_decoding_threads_are_ended_when_an_item_stops_the_embedding(tiny_clip_model, tmp_path):
    """An error of an item (or Ctrl-C) ends the loop over the batches: the generator of
    the decoding threads is closed there, on the calling thread, its threads joined. Left
    to the garbage collector, it was closed whenever that ran, once on one of its own
    threads, whose pool then could not join itself ("RuntimeError: cannot join current
    thread", printed after the command's last line)."""
    import threading

    paths = write_images(tmp_path, 8)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    items = [str(tmp_path / "bad.jpg"), *paths]
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", batch_size=2)
    with pytest.raises(InvalidImageError) as info:
        embedder.transform(items)
    # (the traceback, kept by `info`, holds the embedding's frames: nothing else ends them)
    assert info.value.__traceback__ is not None
    alive = [t.name for t in threading.enumerate() if t.name.startswith("sksplice-io")]
    assert alive == []
