"""Which files are taken for images (no imports beyond the standard library, so that the
command line reads it without numpy or PIL)."""

from __future__ import annotations

import os
from collections.abc import Sequence

#: File extensions taken for images (lower case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


def looks_like_image_paths(texts: Sequence[str], n_checked: int = 20) -> str | None:
    """An existing image file among ``texts`` when every text names an image file
    (ends with an image extension), else None. Only the first ``n_checked`` texts
    are looked up on disk."""
    if not texts or not all(os.path.splitext(t)[1].lower() in IMAGE_EXTENSIONS for t in texts):
        return None
    return next((t for t in texts[:n_checked] if os.path.isfile(t)), None)
