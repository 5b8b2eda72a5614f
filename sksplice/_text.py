"""Text inputs of the text embedders, checked before any model is called.

:class:`sksplice.embedders.CLIPEmbedder` and
:class:`sksplice.sentence.SentenceTransformerEmbedder` take their texts through
:func:`to_text_list`. A sequence of texts is read like any other sequence of inputs (a list, a
numpy array, a pandas Series or single-column DataFrame) and every item must
be a string; a single string is refused rather than read as its characters.
"""

from __future__ import annotations

from typing import Any

from ._images import describe_item, item_kind, to_item_list
from ._names import a_type

__all__ = ["to_text_list"]


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
            image = item_kind(item) is not None
            hint = (
                "; images are embedded by CLIPEmbedder(modality='image') (or its embed_images)"
                if image
                else ""
            )
            raise TypeError(
                f"text input {index} is {a_type(item)} ({describe_item(item)}), not a string{hint}"
            )
    return [str(item) for item in items]
