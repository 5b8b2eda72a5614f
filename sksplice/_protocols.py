"""What sksplice asks of an embedder, as :class:`typing.Protocol` classes, checked in one place.

Every estimator that embeds texts (the concept vocabulary, zero-shot prompts,
editing concepts, text queries) accepts any object with an ``embed_text``
method; the ones that embed images (the Dask path) any object with an
``embed_images`` method. :class:`sksplice.CLIPEmbedder` and
:class:`sksplice.SentenceTransformerEmbedder` implement both or the first.

An embedder may also have ``cache_key() -> str | None``: a string that
identifies its model and weights (the same string for the same embeddings).
With one, the embedded vocabulary is cached on disk under that key; without
one, or when it returns None, it is cached in the process only.

This module imports neither torch nor open_clip, so that type hints and the
checks cost nothing.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ImageEmbedder", "TextEmbedder", "check_image_embedder", "check_text_embedder"]


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything that maps texts to embeddings.

    ``embed_text(texts)`` takes a list of ``n`` strings and returns a real
    array of shape ``(n, d)``, one row per text, in order. sksplice's own
    embedders return L2-normalised float32 rows.
    """

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; shape ``(len(texts), d)``."""
        ...  # pragma: no cover


@runtime_checkable
class ImageEmbedder(Protocol):
    """Anything that maps images (paths, PIL images or arrays) to embeddings."""

    def embed_images(self, images: list[Any]) -> np.ndarray:
        """Embed ``images``; shape ``(len(images), d)``."""
        ...  # pragma: no cover


def _describe(embedder: Any) -> str:
    return "None" if embedder is None else type(embedder).__name__


def check_text_embedder(
    embedder: Any, *, param: str = "embedder", purpose: str = ""
) -> TextEmbedder:
    """Return ``embedder`` if it satisfies :class:`TextEmbedder`, else raise TypeError.

    Parameters
    ----------
    embedder : object
        The object to check.
    param : str, default="embedder"
        The parameter's name, as the user wrote it, for the message.
    purpose : str, default=""
        What the texts are embedded for (e.g. ``"to embed `concepts`"``), added
        to the message.

    Returns
    -------
    TextEmbedder
        ``embedder`` itself.

    Raises
    ------
    TypeError
        If ``embedder`` has no callable ``embed_text`` method.
    """
    if isinstance(embedder, type):
        name = embedder.__name__
        raise TypeError(f"`{param}` is the class {name}, not an instance: pass {name}(...)")
    if not (isinstance(embedder, TextEmbedder) and callable(embedder.embed_text)):
        why = f" {purpose}" if purpose else ""
        raise TypeError(
            f"`{param}` must have an embed_text(list[str]) method{why}; got {_describe(embedder)}"
        )
    return embedder


def check_image_embedder(embedder: Any, *, param: str = "embedder") -> ImageEmbedder:
    """Return ``embedder`` if it satisfies :class:`ImageEmbedder`, else raise TypeError.

    Parameters
    ----------
    embedder : object
        The object to check.
    param : str, default="embedder"
        The parameter's name, for the message.

    Returns
    -------
    ImageEmbedder
        ``embedder`` itself.

    Raises
    ------
    TypeError
        If ``embedder`` has no callable ``embed_images`` method.
    """
    if not (isinstance(embedder, ImageEmbedder) and callable(embedder.embed_images)):
        raise TypeError(f"`{param}` must have an embed_images method; got {_describe(embedder)}")
    return embedder
