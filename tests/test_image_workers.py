"""CLIPEmbedder(num_workers=k): images decoded in DataLoader worker processes."""

from __future__ import annotations

import warnings

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
    with pytest.raises(InvalidImageError, match=r"input 3 \(.*bad\.jpg"):
        CLIPEmbedder(**common, num_workers=2).transform(items)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CLIPEmbedder(**common, on_error="skip", num_workers=1).transform(items)
    assert any(issubclass(w.category, SkippedInputWarning) for w in caught)


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
def test_bad_num_workers(tiny_clip_model, value, error):
    """A bad value is a ValueError, a bad type (bool included) a TypeError."""
    embedder = CLIPEmbedder(model=tiny_clip_model, pretrained=None, device="cpu", num_workers=value)
    with pytest.raises(error, match="num_workers"):
        embedder.fit()
