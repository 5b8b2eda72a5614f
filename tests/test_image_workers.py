"""CLIPEmbedder(num_workers=k): images decoded in DataLoader worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from sksplice import _images
from sksplice.embedders import CLIPEmbedder, InvalidImageError, SkippedInputWarning

from .conftest import TESTS_DATA


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


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_num_workers_none_decodes_in_threads_where_processes_start_afresh(method, monkeypatch):
    # (macOS and Windows: each worker imports torch and open_clip, seconds at every call)
    monkeypatch.setattr(_images, "start_method", lambda: method)
    embedder = CLIPEmbedder(batch_size=64)
    assert embedder._decode_processes(10_000, SimpleNamespace(device="cuda")) == 0
    assert CLIPEmbedder(batch_size=64, num_workers=2)._decode_processes(10_000, None) == 2


#: A script that registers an image format of its own with PIL (as
#: ``pillow_heif.register_heif_opener()`` does) and reads files cut short
#: (``LOAD_TRUNCATED_IMAGES``), then embeds such files in threads and in a worker
#: process started afresh; ``GUARDED`` False: its work at the top level, unguarded.
_SPAWNED = """
import multiprocessing, sys
from pathlib import Path
import numpy as np
from PIL import Image, ImageFile

class RawImageFile(ImageFile.ImageFile):
    format, format_description = "SKRAW", "raw RGB behind a magic number"

    def _open(self):
        if self.fp.read(5) != b"SKRAW":  # (not PIL's SyntaxError: it tries no other format)
            raise ValueError("not SKRAW")
        self._mode, self._size = "RGB", (16, 12)
        self.tile = [ImageFile._Tile("raw", (0, 0, 16, 12), 5, ("RGB", 0, 1))]

def main():
    multiprocessing.set_start_method("spawn", force=True)
    Image.register_open("SKRAW", RawImageFile, lambda head: head[:5] == b"SKRAW")
    Image.register_extension("SKRAW", ".skraw")
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    folder, rng = Path(sys.argv[1]), np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(folder / f"{i}.skraw")
        paths[-1].write_bytes(b"SKRAW" + rng.integers(0, 256, 16 * 12 * 3, np.uint8).tobytes())
    pixels = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "whole.jpg")
    data = (folder / "whole.jpg").read_bytes()
    paths.append(folder / "cut.jpg")
    paths[-1].write_bytes(data[: len(data) * 2 // 3])
    paths.append(folder / "whole.jpg")
    from sksplice import CLIPEmbedder

    common = dict(model="sksplice-test-tiny", pretrained=None, device="cpu", batch_size=2)
    threads = CLIPEmbedder(**common).transform([str(p) for p in paths])
    spawned = CLIPEmbedder(**common, num_workers=1).transform([str(p) for p in paths])
    print("equal", np.array_equal(threads, spawned), np.isfinite(spawned).all())

if GUARDED:
    if __name__ == "__main__":
        main()
else:
    main()
"""


def _run_spawned(tmp_path, guarded: bool) -> subprocess.CompletedProcess:
    script = tmp_path / "embed.py"
    script.write_text(f"GUARDED = {guarded}\n" + _SPAWNED, encoding="utf-8")
    env = {
        **os.environ,
        "SKSPLICE_MODEL_CONFIGS": str(TESTS_DATA / "sksplice-test-tiny.json"),
        # (this checkout's sksplice, whatever else is installed)
        "PYTHONPATH": os.pathsep.join(
            [str(TESTS_DATA.parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_workers_started_afresh_decode_as_the_caller_set_up_pil(tmp_path):
    # A worker started by spawn (macOS, Windows) lacked the formats the caller registered
    # and LOAD_TRUNCATED_IMAGES: "is not an image file PIL can read", "truncated".
    proc = _run_spawned(tmp_path, guarded=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["equal", "True", "True"], proc.stdout


@pytest.mark.slow
def test_an_unguarded_script_is_told_to_guard_its_work(tmp_path):
    # Each worker imports the script and embeds again at its top level: the error said
    # only "DataLoader worker (pid(s) N) exited unexpectedly".
    proc = _run_spawned(tmp_path, guarded=False)
    assert proc.returncode != 0
    assert (
        "Worker processes start afresh here ('spawn' start method, as on macOS and Windows) "
        f"by importing the main script, {tmp_path / 'embed.py'}: if it embeds images at its "
        "top level, each worker does so again and fails; embed under if __name__ == "
        "'__main__': (or pass num_workers=0, threads of this process)"
    ) in proc.stderr, proc.stderr[-3000:]


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
