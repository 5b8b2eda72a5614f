"""Text towers of open_clip run at each batch's longest sequence.

:func:`_short_text_encoder` builds, for the open_clip text towers where it is
exact, an encoder that drops the padding after a batch's longest sequence;
:func:`_fixed_batches` and :func:`_token_budget_batches` cut the texts into
batches (of a fixed number of texts, or of at most a number of tokens);
:func:`cut_to_context` finds the texts the tokenizer cut to the context length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


class _ShortTextEncoder:
    """Run an open_clip text tower only up to the batch's longest sequence.

    Exact for towers whose attention is causal and whose embedding is read at
    the end-of-text token: no token before the end-of-text token attends to a
    later one, so cutting the padding after the longest sequence of a batch
    leaves every pooled feature unchanged (up to floating-point rounding of
    the smaller matrix products). Built by :func:`_short_text_encoder` only
    for models verified to be of that kind.
    """

    def __init__(self, tower: torch.nn.Module, pool_type: str, eos_id: Any, mask: torch.Tensor):
        self.tower = tower
        self.pool_type = pool_type
        self.eos_id = eos_id
        self.mask = mask
        self.context_length = int(mask.shape[0])

    def pool_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """Position of the token each row's embedding is read at (as open_clip pools)."""
        if self.pool_type == "argmax":
            return tokens.argmax(dim=-1)
        return (tokens == self.eos_id).int().argmax(dim=-1)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        # (open_clip's towers are used by the names of their parts, which Module's
        # types do not know)
        tower: Any = self.tower
        if tokens.ndim != 2 or tokens.shape[1] != self.context_length:
            raise ValueError(
                f"token array of shape {tuple(tokens.shape)} does not match the model's "
                f"context length {self.context_length}"
            )
        index = self.pool_index(tokens)
        length = int(index.max()) + 1
        text = tokens[:, :length]
        cast_dtype = tower.transformer.get_cast_dtype()
        x = tower.token_embedding(text).to(cast_dtype)
        x = x + tower.positional_embedding[:length].to(cast_dtype)
        x = tower.transformer(x, attn_mask=self.mask[:length, :length])
        x = tower.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), index]
        projection = tower.text_projection
        if projection is None:
            return x
        if isinstance(projection, torch.nn.Linear):
            return projection(x)
        return x @ projection


def _fixed_batches(n_items: int, batch_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive batches of ``batch_size`` items."""
    return [(start, min(start + batch_size, n_items)) for start in range(0, n_items, batch_size)]


def _token_budget_batches(sorted_lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive batches holding at most ``budget`` tokens each.

    ``sorted_lengths`` are the (ascending) sequence lengths the items run at; a
    batch runs at the length of its last item, so it holds ``(stop - start) *
    sorted_lengths[stop - 1]`` tokens, never more than ``budget`` (a batch of
    one item may exceed it).
    """
    lengths = [int(length) for length in sorted_lengths]
    bounds = []
    start = 0
    for stop in range(1, len(lengths)):
        # would adding item ``stop`` (the longest so far) overflow the budget?
        if (stop + 1 - start) * lengths[stop] > budget:
            bounds.append((start, stop))
            start = stop
    if lengths:
        bounds.append((start, len(lengths)))
    return bounds


def _short_text_encoder(model: torch.nn.Module) -> _ShortTextEncoder | None:
    """A shortened-sequence text encoder for ``model``, or None where it would not be exact.

    Accepted: open_clip's ``CLIP`` (built-in text tower) and ``CustomTextCLIP``
    with a ``TextTransformer`` tower, exactly these classes (a subclass may
    override ``encode_text``), pooling at the end-of-text token (``"argmax"``
    or ``"eos"``), a causal attention mask, no class token, no padding mask, a
    plain ``Transformer`` stack. Anything else (Hugging Face text towers,
    CoCa, bidirectional towers, ``"first"``/``"last"`` pooling) runs at full
    context length.
    """
    try:
        from open_clip.model import CLIP, CustomTextCLIP
        from open_clip.transformer import TextTransformer, Transformer
    except ImportError:  # pragma: no cover - open_clip layout of another version
        return None
    if type(model) is CLIP:
        tower: Any = model
        pool_type = getattr(model, "text_pool_type", None)
        eos_id = getattr(model, "text_eos_id", None)
    elif type(model) is CustomTextCLIP and type(getattr(model, "text", None)) is TextTransformer:
        tower = model.text
        if getattr(tower, "cls_emb", None) is not None or getattr(tower, "use_pad_mask", True):
            return None
        if getattr(tower, "output_tokens", True):
            return None
        pool_type = getattr(tower, "pool_type", None)
        eos_id = getattr(tower, "eos_id", None)
    else:
        return None
    if pool_type not in ("argmax", "eos") or (pool_type == "eos" and eos_id is None):
        return None
    if type(getattr(tower, "transformer", None)) is not Transformer:
        return None
    for name in ("token_embedding", "positional_embedding", "ln_final", "text_projection"):
        if not hasattr(tower, name):
            return None
    mask = getattr(tower, "attn_mask", None)
    positions = getattr(tower, "positional_embedding", None)
    if not isinstance(mask, torch.Tensor) or not isinstance(positions, torch.Tensor):
        return None
    n_pos = int(positions.shape[0])
    if mask.shape != (n_pos, n_pos) or not mask.is_floating_point():
        return None
    causal = torch.full((n_pos, n_pos), float("-inf")).triu_(1)
    if not torch.equal(mask.detach().float().cpu(), causal):
        return None
    return _ShortTextEncoder(tower, pool_type, eos_id, mask)


def cut_to_context(tokenizer: Any, texts: Sequence[str], tokens: torch.Tensor) -> list[int]:
    """The positions among ``texts`` of those that ``tokenizer`` cut to its context length.

    Known for open_clip's own tokenizer (``SimpleTokenizer``, padding with 0): a text
    was cut where its row of ``tokens`` is full and its tokens, with the start and end
    of text, outnumber the places (a text that fills them exactly was not cut). The
    tokenizers of Hugging Face models give [] (not known).
    """
    try:
        from open_clip.tokenizer import SimpleTokenizer
    except ImportError:  # pragma: no cover - open_clip layout of another version
        return []
    if not isinstance(tokenizer, SimpleTokenizer) or tokens.ndim != 2:
        return []
    places = int(tokens.shape[1]) - 2  # (less the start and end of text)
    full = torch.nonzero(tokens[:, -1] != 0).flatten().tolist()
    return [i for i in full if len(tokenizer.encode(texts[i])) > places]
