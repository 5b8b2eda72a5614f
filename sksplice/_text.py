"""Text inputs of the text embedders, checked before any model is called.

:class:`sksplice.embedders.CLIPEmbedder` and
:class:`sksplice.sentence.SentenceTransformerEmbedder` take their texts through
:func:`to_text_list`. A sequence of texts is read like any other sequence of inputs (a list, a
numpy array, a pandas Series or single-column DataFrame) and every item must
be a string; a single string is refused rather than read as its characters.

:data:`cut_texts_kept` lets a caller of many ``embed_text`` calls (the embedding of
a vocabulary in blocks) say the texts cut to the context once, at their places in
the whole.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any

from ._images import describe_item, item_kind, to_item_list
from ._names import a_type

__all__ = ["cut_texts_kept", "to_text_list"]

#: Where ``CLIPEmbedder.embed_text`` keeps what it would warn of, where set (a list):
#: ``(positions among its texts, context length, model)`` of the texts it cut, one
#: tuple a call; unset, it warns (:class:`~sksplice.exceptions.TruncatedTextWarning`).
cut_texts_kept: contextvars.ContextVar[list[tuple[list[int], int, str]] | None] = (
    contextvars.ContextVar("sksplice_cut_texts_kept", default=None)
)


def _looks_like_an_image(item: Any) -> bool:
    """Whether ``item`` is an image as the image embedders take it: a PIL image, a uint8
    array of 2 or 3 dimensions, or a path with an image file's extension."""
    import numpy as np

    from ._image_files import IMAGE_EXTENSIONS

    kind = item_kind(item)
    if kind == "pil":
        return True
    if kind == "array":
        return item.dtype == np.uint8 and item.ndim in (2, 3)
    if kind == "path":
        return os.path.splitext(os.fspath(item))[1].lower() in IMAGE_EXTENSIONS
    return False


def to_text_list(texts: Any) -> list[str]:
    """Validate a sequence of texts and return it as a list of str.

    Raises
    ------
    TypeError
        If ``texts`` is a single string or an item is not a string (naming its index).
    ValueError
        If ``texts`` is empty.
    """
    items = to_item_list(texts, what="texts")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            # (an image, its array or its path: given to a text embedder by mistake)
            image = _looks_like_an_image(item)
            hint = (
                "; images are embedded by CLIPEmbedder(modality='image') (or its embed_images)"
                if image
                else ""
            )
            raise TypeError(
                f"text input {index} is {a_type(item)} ({describe_item(item)}), not a string{hint}"
            )
    return [str(item) for item in items]
