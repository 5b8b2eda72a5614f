"""CLIP embeddings of images and texts as a scikit-learn transformer.

:class:`CLIPEmbedder` wraps any model that open_clip lists. Models are loaded
lazily on first use and kept in a small in-process cache shared by all
embedders (keyed by model, pretrained weights, device and precision); they are
never stored on an estimator, so cloning and pickling an embedder is cheap.

Anything with an ``embed_text(texts) -> ndarray`` method (and optionally a
``cache_key() -> str | None`` method) can serve as an embedder for
:class:`sksplice.SpliceTransformer`; :class:`CLIPEmbedder` is the reference
implementation of that protocol.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, Literal, NamedTuple, cast, overload

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin

from . import _images
from ._device import check_device_name, resolve_device
from ._image_files import looks_like_image_paths, reading_pool
from ._model_names import open_clip_tables
from ._models import (
    _MODEL_CACHE,
    HF_HUB_PREFIX,
    MODEL_CONFIGS_ENV,
    RANDOM_INIT_SEED,
    _clean_tag,
    _close_matches,
    _Config,
    _ensure_hub_weights,
    _file_sha256,
    _hub_config,
    _ImportedRegistry,
    _load_model,
    _quick_gelu_needed,
    _registry,
    clear_model_cache,
    repo_name_hint,
)
from ._models import CONNECT_TIMEOUT as CONNECT_TIMEOUT
from ._names import listed
from ._persistence import VersionStampMixin
from ._progress import progress, verbose_logging
from ._stack import in_estimator_display, warn_user
from ._text import cut_texts_kept, to_text_list
from ._text_encoder import (
    _fixed_batches,
    _short_text_encoder,
    _token_budget_batches,
    cut_to_context,
)
from ._validation import check_flag, check_int, check_option, check_y_length, checks_parameters
from .exceptions import (
    ImageFileWarning,
    InvalidImageError,
    TruncatedTextWarning,
    WeightsUnavailableError,
)

logger = logging.getLogger(__name__)

#: Given each batch's rows of an image call once they are final, where a caller keeps
#: them as they are made (:func:`kept_as_made`); None: no one does.
_BATCH_KEPT: contextvars.ContextVar[Callable[[np.ndarray, int, int], None] | None] = (
    contextvars.ContextVar("sksplice_batch_kept", default=None)
)


@contextlib.contextmanager
def kept_as_made(keep: Callable[[np.ndarray, int, int], None]) -> Iterator[None]:
    """Within the block, the image calls of this thread (and task) give each batch's
    rows to ``keep(out, start, stop)`` once they are final: the command line keeps the
    embeddings in its cache as they are made, so that a process killed (SIGKILL, the
    kernel's out-of-memory killer) loses one batch, not a whole call's."""
    token = _BATCH_KEPT.set(keep)
    try:
        yield
    finally:
        _BATCH_KEPT.reset(token)


__all__ = [
    "DECODE_THREADS",
    "MODEL_CONFIGS_ENV",
    "PROCESS_MIN_BATCHES",
    "RANDOM_INIT_SEED",
    "CLIPEmbedder",
    "InvalidImageError",
    "SkippedInput",
    "SkippedInputWarning",
    "WeightsUnavailableError",
    "clear_model_cache",
]

#: Most threads that decode and preprocess images (one batch ahead of the model);
#: fewer where the machine has fewer cores.
DECODE_THREADS = 16

#: Fewest batches for which ``num_workers=None`` decodes in worker processes
#: (on a CUDA device): below it their start-up is not repaid.
PROCESS_MIN_BATCHES = 4

#: Texts tokenized (and sorted by token length) together before batching.
TEXT_SORT_CHUNK = 16384

_MODALITIES = ("image", "text")
_PRECISIONS = ("fp32", "fp16", "bf16")
_ON_ERROR = ("raise", "skip")


class SkippedInput(NamedTuple):
    """An input item skipped because it could not be loaded.

    Parameters
    ----------
    index : int
        Position of the item in the input.
    item : str
        Short description of the item (the path for file inputs).
    reason : str
        Why it was skipped (the error message).
    """

    # The field `index` shadows tuple.index on purpose: it is the public name of the
    # item's position, and NamedTuple allows it at run time.
    index: int  # type: ignore[assignment]
    item: str
    reason: str


class SkippedInputWarning(UserWarning):
    """Some inputs were skipped (``on_error="skip"``); their rows are NaN.

    Parameters
    ----------
    message : str
        The warning text.
    skipped : sequence of SkippedInput
        Every skipped item, in input order; available as the ``skipped``
        attribute of the warning object.
    """

    def __init__(self, message: str, skipped: Sequence[SkippedInput] = ()) -> None:
        super().__init__(message)
        self.skipped = tuple(skipped)


def _skipped_warning(
    skipped: Sequence[SkippedInput], n_items: int, first_index: int = 0
) -> SkippedInputWarning:
    """The :class:`SkippedInputWarning` for ``skipped`` among ``n_items`` images.

    ``first_index``: the row of the first of those images in a larger collection
    (a Dask task's share of one), named in the message when it is not 0.
    """
    shown = listed(skipped, 5, lambda s: f"{s.index}: {s.item}", sep="; ")
    among = (
        f"{n_items} images"
        if first_index == 0
        else f"the {n_items} images {first_index} to {first_index + n_items - 1}"
    )
    return SkippedInputWarning(
        f"skipped {len(skipped)} of {among} that could not be loaded "
        f"(their rows are NaN): {shown}; the warning's .skipped attribute "
        "lists them all",
        skipped,
    )


def _cut_texts_warning(
    texts: Sequence[str],
    cut: Sequence[int],
    context_length: int,
    model: str,
    what: str = "texts",
) -> TruncatedTextWarning:
    """The :class:`TruncatedTextWarning` of the texts at ``cut`` among ``texts`` (``what``
    they are: ``"concepts"`` of a vocabulary)."""

    def shown(i: int) -> str:
        text = texts[i]
        return repr(text) if len(text) <= 43 else f"{text[:40]!r}..."

    one = what[:-1]
    if len(texts) == 1:
        which, them = f"the {one} {shown(cut[0])} is", "it"
    elif len(cut) == 1:
        which, them = f"the {one} at position {cut[0]} ({shown(cut[0])}) is", "it"
    else:
        listing = listed(cut, 3, lambda i: f"{i}: {shown(i)}", sep="; ")
        which, them = f"{len(cut)} of {len(texts)} {what} ({listing}) are", "them"
    positions = " (the warning's .indices attribute gives them all)" if len(cut) > 4 else ""
    return TruncatedTextWarning(
        f"{which} longer than the context of {model}'s text tower ({context_length} "
        f"tokens) and cut to it by its tokenizer: the embedding reads only the "
        f"beginning; shorten or split {them}{positions}",
        cut,
        context_length,
    )


def texts_cut_by(model: str, texts: Sequence[str]) -> TruncatedTextWarning | None:
    """The :class:`TruncatedTextWarning` that embedding ``texts`` with the open_clip
    ``model`` will give, known before its weights are loaded (from its tokenizer); None
    where no text is cut, or where the model's tokenizer is not open_clip's own (a Hugging
    Face one: not known until it is loaded)."""
    if model.startswith(HF_HUB_PREFIX):  # (its config is the hub's: a download)
        return None
    try:
        registry = _ImportedRegistry()
        cfg = registry.get_model_config(model)
        if not cfg or cfg.get("text_cfg", {}).get("hf_tokenizer_name"):
            return None
        tokenizer = registry.open_clip.get_tokenizer(model)
        tokens = tokenizer(list(texts))
    except Exception:  # (a warning said early, not an error: the run says those)
        return None
    cut = cut_to_context(tokenizer, texts, tokens)
    return _cut_texts_warning(texts, cut, int(tokens.shape[-1]), model) if cut else None


@contextlib.contextmanager
def _rows_done_on_interrupt(out: np.ndarray, done: Callable[[], int]) -> Iterator[None]:
    """An interruption (Ctrl-C, or SIGTERM or SIGHUP where the command line turns them
    into one) raised in the block carries ``rows_done``: ``out`` and the number of its
    first rows that are final (``done()``), so that a caller keeping embeddings (the
    command line's cache of images) keeps those of the batches embedded."""
    try:
        yield
    except KeyboardInterrupt as exc:
        exc.rows_done = (out, done())  # type: ignore[attr-defined]
        raise


def _check_image_cache(image_cache: Any) -> None:
    """Refuse an ``image_cache`` that is neither a bool nor a path."""
    if isinstance(image_cache, bool | np.bool_):
        return
    if not isinstance(image_cache, str | os.PathLike):
        raise TypeError(
            "image_cache must be True, False or the path of a cache folder, got "
            f"{type(image_cache).__name__}"
        )
    if not os.fspath(image_cache).strip():
        raise ValueError(
            "image_cache is an empty path: give True for sksplice's cache folder, or the "
            "path of a folder"
        )


def _item_message(items: Sequence[Any], index: int, error: Exception, named: int) -> str:
    """The message of the error of ``items[index]``, naming its index in the caller's
    input (``named``) and, unless the reason names it already, the item, and how to
    leave it out (``on_error='skip'``)."""
    described = _images.describe_item(items[index])
    skip = " (to embed the other inputs and leave this one out, its row NaN, pass on_error='skip')"
    if described in str(error):  # (most reasons name the file already: not twice)
        return f"input {named}: {error}{skip}"
    return f"input {named} ({described}): {error}{skip}"


# --------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------


class CLIPEmbedder(TransformerMixin, VersionStampMixin, BaseEstimator):
    """Embed images or texts with an open_clip CLIP model.

    A stateless scikit-learn transformer: :meth:`transform` maps images (or
    texts, with ``modality="text"``) to L2-normalised float32 embeddings of
    shape (n, d). :meth:`embed_text` and :meth:`embed_images` work whatever the
    modality, which is how :class:`sksplice.SpliceTransformer` builds its
    concept dictionary from the same model.

    The model is loaded on first use and shared, through an in-process cache
    keyed by (model, pretrained, device, precision), by every embedder in the
    process; it is never stored on the estimator, so :func:`~sklearn.base.clone`,
    :mod:`pickle` and :func:`joblib.dump` copy only the parameters, and a
    reloaded embedder loads (or reuses) the model when it is next used.

    Parameters
    ----------
    model : str, default="ViT-B-32"
        An open_clip model name, as listed by ``open_clip.list_models()``
        (``"ViT-B/32"`` style names are accepted too). Extra model configs can
        be registered with ``open_clip.add_model_config`` or through the
        ``SKSPLICE_MODEL_CONFIGS`` environment variable (``os.pathsep``-separated
        JSON files or folders). ``"hf-hub:ORG/REPO"`` loads the config and
        weights of an open_clip model published on the Hugging Face Hub;
        ``pretrained`` is then ignored, as open_clip does. A repo name without
        ``hf-hub:`` (``"openai/clip-vit-base-patch32"``) is refused, saying
        which open_clip model and ``pretrained`` tag load its weights where
        known (``"ViT-B-32"``, ``"openai"``).
    pretrained : str, os.PathLike or None, default="laion2b_s34b_b79k"
        A pretrained tag listed by ``open_clip.list_pretrained_tags_by_model(model)``,
        a path to a checkpoint file, or None for random weights. An empty string
        (what an unset setting or environment variable gives) is refused, as is
        ``"none"``: random weights are only ever asked for with None. Random
        weights are initialised under a fixed seed (``RANDOM_INIT_SEED``), so
        they are the same in every process. Weights of a tag that are not cached are
        downloaded on first use; offline (``HF_HUB_OFFLINE=1``, or no
        connection to the host within ``CONNECT_TIMEOUT`` seconds) a
        :class:`~sksplice.exceptions.WeightsUnavailableError` says at once how
        to get them. A tag that open_clip marks as trained with QuickGELU
        (every ``"openai"`` tag, and a few others such as
        ``ViT-B-32``/``"laion400m_e32"``) builds the QuickGELU variant of the
        model, as if its ``-quickgelu`` name had been given.
    modality : {"image", "text"}, default="image"
        What :meth:`transform` embeds.
    device : str or torch.device, default="auto"
        ``"auto"`` uses ``"cuda"`` when available, else ``"cpu"``.
    batch_size : int, default=64
        Number of inputs per forward pass. Results do not depend on it beyond
        floating-point rounding. Texts on open_clip text towers that run
        shortened sequences (see :meth:`embed_text`) are batched by tokens
        instead: a forward pass holds at most ``batch_size`` x context length
        tokens, the memory of ``batch_size`` full-length texts.
    precision : {"fp32", "fp16", "bf16"}, default="fp32"
        Half precisions run the model with half-precision weights under
        :func:`torch.autocast`. On the CPU, ``"bf16"`` is supported and
        ``"fp16"`` falls back to ``"fp32"`` with a :class:`UserWarning` (CPU
        kernels for fp16 are slow or missing). Embeddings are returned as
        float32 whatever the precision.
    verbose : int or bool, default=False
        Show a tqdm progress bar (any value above 0).
    on_error : {"raise", "skip"}, default="raise"
        What to do with an image that cannot be loaded (missing file,
        directory, not an image, truncated, above PIL's decompression-bomb
        limit). ``"raise"`` raises an error naming the item and its index.
        ``"skip"`` fills its row with NaN and reports it: :meth:`transform`
        emits a :class:`~sksplice.exceptions.SkippedInputWarning` whose ``skipped``
        attribute lists every :class:`~sksplice.exceptions.SkippedInput`, and
        ``embed_images(..., return_skipped=True)`` returns that list. Rows stay
        aligned with the input (and with ``y``); drop them with
        ``np.isnan(Z).any(axis=1)``. Wrong input types, arrays of a wrong dtype
        or shape and empty inputs always raise.
    cache_dir : str, os.PathLike or None, default=None
        Where open_clip downloads and caches pretrained weights; None uses
        open_clip's default (the Hugging Face cache, or ``~/.cache/clip`` for
        weights fetched by URL). The weights' folder only: the concept
        dictionaries are cached in :class:`~sksplice.SpliceTransformer`'s
        ``cache_dir``, and image embeddings where ``image_cache`` says (the
        command line's ``--cache-dir`` holds both of those).
    num_workers : int or None, default=None
        How images are decoded and preprocessed while the model runs. ``0``:
        in a pool of up to ``DECODE_THREADS`` threads of this process (no
        start-up cost; enough when the model bounds the throughput, as on a
        CPU). A positive integer: in that many worker processes of a
        :class:`torch.utils.data.DataLoader`, each decoding and stacking whole
        batches, which scales with the cores when decoding bounds the
        throughput (a fast GPU); each call starts the processes anew. None:
        worker processes, one per core (at most one per batch), when the model
        runs on a CUDA device, the input has at least ``PROCESS_MIN_BATCHES``
        batches and processes start by forking (Linux before Python 3.14);
        threads otherwise: a process started afresh (the ``spawn`` start method
        of macOS and Windows) costs seconds and hundreds of MB at every call. A
        script that gives a positive ``num_workers`` on macOS or Windows must
        embed under ``if __name__ == "__main__":``, as with any DataLoader.
    image_cache : bool, str or os.PathLike, default=False
        Keep the embeddings of image files on disk, one per file content (its
        SHA-256), keyed by the model, its weights and precision, the libraries
        and the kind of device, and read them back instead of embedding a file
        again: ``True`` in sksplice's cache folder (``$SKSPLICE_CACHE``, else
        the per-user cache folder; the folder of the command line's cache of
        image embeddings, so that each reads what the other embedded); a path
        names another cache folder (as the command line's ``--cache-dir``).
        Each batch is kept as it is made: a call
        interrupted (Ctrl-C, a crash) and started again resumes from the
        batches embedded. PIL images and arrays are not kept (no file to key
        them by). Hashing costs about 14 ms per 5 MB photo, in threads: worth
        it where embedding bounds the throughput (a CPU), perhaps not with a
        fast GPU. With ``verbose``, how many images were read from the cache
        is said on standard error.

    Attributes
    ----------
    embedding_dim_ : int
        Dimension d of the embeddings, set by :meth:`fit`.

    See Also
    --------
    sksplice.SpliceTransformer : Sparse concept decomposition of the embeddings.

    Notes
    -----
    The embedder is stateless: :meth:`fit` only validates the parameters, and
    :meth:`transform` also works on an unfitted embedder. Output feature names
    are ``"clip0"``, ..., ``"clip{d-1}"``, so ``set_output(transform="pandas")``
    gives a DataFrame with those columns.

    Examples
    --------
    >>> from sksplice.embedders import CLIPEmbedder
    >>> embedder = CLIPEmbedder()  # doctest: +SKIP
    >>> X = embedder.fit_transform(["cat.jpg", "dog.png"])  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (2, 512)
    """

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | os.PathLike[str] | None = "laion2b_s34b_b79k",
        modality: str = "image",
        device: str | torch.device = "auto",
        batch_size: int = 64,
        precision: str = "fp32",
        verbose: int | bool = False,
        on_error: str = "raise",
        cache_dir: str | os.PathLike[str] | None = None,
        num_workers: int | None = None,
        image_cache: bool | str | os.PathLike[str] = False,
    ) -> None:
        self.model = model
        self.pretrained = pretrained
        self.modality = modality
        self.device = device
        self.batch_size = batch_size
        self.precision = precision
        self.verbose = verbose
        self.on_error = on_error
        self.cache_dir = cache_dir
        self.num_workers = num_workers
        self.image_cache = image_cache

    # (a checkpoint's content is in the pickled state, so Pipeline(memory=...) refits and
    # embeds again after the file is replaced)
    _input_files = ("pretrained",)

    # -- validation ---------------------------------------------------------

    @checks_parameters
    def _check_names(self) -> None:
        """Refuse a misspelt model name or pretrained tag (with close matches) and any
        other invalid parameter, before a vocabulary is downloaded or embedded.

        Nothing is loaded or downloaded: the configuration of an ``hf-hub:`` model,
        which may have to be fetched, is not read (its name's form is checked).
        """
        self._checked_options("form")
        if not isinstance(self.model, str):
            raise TypeError(f"model must be a string, got {type(self.model).__name__}")
        if self.model.startswith(HF_HUB_PREFIX):
            self._hub_repo_id()
            return
        self._resolve_pretrained(self._model_name())

    @checks_parameters
    def _checked_options(self, device_check: str = "available") -> tuple[str, str | None]:
        """The options checked; the device and the weights' cache folder resolved.

        ``device_check`` says what is asked of the device: ``"available"``, that this
        machine has it (resolved: ``"auto"`` to ``"cuda:0"`` or ``"cpu"``); ``"form"``,
        only that torch understands it (see :func:`~sksplice._device.check_device_name`),
        as given; ``"known"``, resolved where this machine has it and as given where it
        does not (what identifies the weights and the width does not depend on it).
        """
        check_option(self.modality, "modality", _MODALITIES)
        check_option(self.precision, "precision", _PRECISIONS)
        check_option(self.on_error, "on_error", _ON_ERROR)
        check_int(self.batch_size, "batch_size")
        check_int(self.num_workers, "num_workers", low=0, allow_none=True)
        check_flag(self.verbose, "verbose", int_ok=True)
        _check_image_cache(self.image_cache)
        cache_dir = self.cache_dir
        if cache_dir is not None:
            if not isinstance(cache_dir, (str, os.PathLike)):
                raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
            cache_dir = os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))
        if device_check == "form":
            check_device_name(self.device)
            return str(self.device), cache_dir
        try:
            return resolve_device(self.device), cache_dir
        except ValueError:
            if device_check == "available":
                raise
            check_device_name(self.device)  # (no device at all is refused still)
            return str(self.device), cache_dir  # (not on this machine: a GPU's, say)

    def _config(self, device_check: str = "available") -> _Config:
        """Validate the parameters and resolve them (no model is loaded).

        ``device_check="known"`` accepts a device this machine does not have (see
        :meth:`_checked_options`): for what does not depend on it, such as the cache key
        and the width of the embeddings.
        """
        device, cache_dir = self._checked_options(device_check)
        if not isinstance(self.model, str):
            raise TypeError(f"model must be a string, got {type(self.model).__name__}")
        if self.model.startswith(HF_HUB_PREFIX):
            return self._hub_config(device, cache_dir)
        model = self._model_name()
        pretrained, kind = self._resolve_pretrained(model)

        precision = self._precision_on(device)
        embed_dim = int(cast(dict, _registry().get_model_config(model))["embed_dim"])
        return _Config(
            model=model,
            pretrained=pretrained,
            pretrained_kind=kind,
            device=device,
            precision=precision,
            cache_dir=cache_dir,
            embed_dim=embed_dim,
        )

    def _model_name(self) -> str:
        """The open_clip name of ``model`` (``/`` read as ``-``); a name open_clip does
        not know is refused with close matches."""
        models = _registry().list_models()
        model = self.model if self.model in models else self.model.replace("/", "-")
        if model not in models:
            # (a Hugging Face repo name: close matches of the whole name mislead)
            repo_hint = repo_name_hint(self.model, models)
            hint = f" {repo_hint}" if repo_hint else _close_matches(self.model, models)
            raise ValueError(
                f"model={self.model!r} is not an open_clip model name (see "
                f"open_clip.list_models(), {len(models)} names).{hint}"
                f" Custom configs can be registered with open_clip.add_model_config or the "
                f"{MODEL_CONFIGS_ENV} environment variable."
            )
        return model

    def _hub_repo_id(self) -> str:
        """The ``ORG/REPO`` of an ``hf-hub:ORG/REPO`` model name, its form checked."""
        repo_id = self.model[len(HF_HUB_PREFIX) :]
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ValueError(
                f"model={self.model!r}: an open_clip Hub model is named '{HF_HUB_PREFIX}ORG/REPO'"
            )
        return repo_id

    def _precision_on(self, device: str, *, warn: bool = True) -> str:
        """The precision the model runs in on ``device``: ``"fp16"`` falls back to
        ``"fp32"`` on the CPU (said with a ``UserWarning``, unless ``warn=False``)."""
        if self.precision == "fp16" and device == "cpu":
            if warn:
                warn_user(
                    "precision='fp16' is not supported on the CPU; using 'fp32' (use 'bf16' "
                    "for reduced precision on the CPU)",
                    UserWarning,
                )
            return "fp32"
        return str(self.precision)

    def _hub_config(self, device: str, cache_dir: str | None) -> _Config:
        """Settings of an ``hf-hub:ORG/REPO`` model (``pretrained`` is ignored)."""
        repo_id = self._hub_repo_id()
        precision = self._precision_on(device)
        hub = _hub_config(repo_id, cache_dir)
        return _Config(
            model=self.model,
            pretrained=None,
            pretrained_kind="hub",
            device=device,
            precision=precision,
            cache_dir=cache_dir,
            embed_dim=int(hub["model_cfg"]["embed_dim"]),
        )

    def _resolve_pretrained(self, model: str) -> tuple[str | None, str]:
        registry = _registry()
        pretrained = self.pretrained
        if pretrained is None:
            return None, "random"
        if isinstance(pretrained, str) and not pretrained.strip():
            # (most often an unset setting or environment variable: random weights
            # would give embeddings that mean nothing, with no sign of it)
            tags = registry.list_pretrained_tags_by_model(model)
            listed = f" (tags of {model!r}: {', '.join(repr(t) for t in tags)})" if tags else ""
            raise ValueError(
                f"pretrained={pretrained!r} is empty (an unset setting or environment "
                f"variable?): give an open_clip pretrained tag{listed} or a checkpoint "
                "path; pretrained=None means random weights"
            )
        if not isinstance(pretrained, (str, os.PathLike)):
            raise TypeError(
                "pretrained must be an open_clip pretrained tag, a checkpoint path or None, "
                f"got {type(pretrained).__name__}"
            )
        tags = registry.list_pretrained_tags_by_model(model)
        if isinstance(pretrained, str):
            by_clean = {_clean_tag(tag): tag for tag in tags}
            if _clean_tag(pretrained) in by_clean:
                return by_clean[_clean_tag(pretrained)], "tag"
        path = os.path.abspath(os.path.expanduser(os.fspath(pretrained)))
        if os.path.isfile(path):
            return path, "file"
        if tags:
            listed = ", ".join(repr(t) for t in tags)
            hint = f" Tags for {model!r}: {listed}.{_close_matches(os.fspath(pretrained), tags)}"
        else:
            hint = f" open_clip lists no pretrained tags for {model!r}."
        raise ValueError(
            f"pretrained={os.fspath(pretrained)!r} is neither an open_clip pretrained tag of "
            f"model {model!r} nor an existing checkpoint file.{hint} Use pretrained=None for "
            "random weights."
        )

    # -- scikit-learn API ---------------------------------------------------

    def __setstate__(self, state: dict[str, Any]) -> None:
        # (an embedder pickled before a parameter was added gets its default: a pipeline
        # saved by an earlier release embeds as it did)
        state = {**{"num_workers": None, "image_cache": False}, **state}
        super().__setstate__(state)

    def fit(self, X: Any = None, y: Any = None) -> CLIPEmbedder:
        """Validate the parameters; nothing is learned and no model is loaded.

        Parameters
        ----------
        X : Ignored
            Not used, present here for API consistency by convention. The inputs are not read (only
            their number is compared with that of ``y``).
        y : array-like of shape (n_samples,) or None, default=None
            Not used, but a ``y`` of another length than ``X`` is refused
            (``ValueError``): a Pipeline gives its ``y`` to every step, and this
            one checks it before its transform embeds every input.

        Returns
        -------
        CLIPEmbedder
            This embedder, with ``embedding_dim_`` set.
        """
        config = self._config()
        check_y_length(X, y, "inputs")  # (before a Pipeline's transform embeds X)
        self.embedding_dim_ = config.embed_dim
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embed the inputs according to ``modality``.

        Parameters
        ----------
        X : sequence
            Images (paths, PIL images, uint8 arrays, or a uint8 array of shape
            (n, H, W, C)) when ``modality="image"``; strings when
            ``modality="text"``. A pandas Series or single-column DataFrame
            works too.

        Returns
        -------
        ndarray of shape (n, d), float32
            L2-normalised embeddings, one row per input; rows of inputs
            skipped with ``on_error="skip"`` are NaN.
        """
        if self.modality == "text":
            texts = to_text_list(X)
            if (path := looks_like_image_paths(texts)) is not None:
                warn_user(
                    f"the texts name image files ({path!r} is one): with modality='text' "
                    "the names are embedded as text; pass modality='image' to embed the "
                    "images",
                    UserWarning,
                )
            return self.embed_text(texts)
        return cast(np.ndarray, self._embed_images(X, return_skipped=False))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Get the names of the embedding dimensions: ``"clip0"``, ..., ``"clip{d-1}"``.

        Parameters
        ----------
        input_features : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        ndarray of str objects, shape (d,)
            The output feature names.
        """
        if in_estimator_display():
            # (a notebook showing the estimator: open_clip is not imported, nor a Hub
            # model's config fetched, only to show it; its files tell the width)
            if str(self.model).startswith(HF_HUB_PREFIX) or (
                "open_clip" not in sys.modules and open_clip_tables() is None
            ):
                raise RuntimeError("the width of the embeddings is not known yet")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (precision='fp16' on the CPU: said in use)
                dim = self._config("known").embed_dim
        else:
            dim = self._config("known").embed_dim
        return np.asarray([f"clip{i}" for i in range(dim)], dtype=object)

    def __sklearn_tags__(self):
        """Estimator tags: stateless, takes sequences of images or texts, returns float32."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = self.modality == "text"
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- embedding ----------------------------------------------------------

    def cache_key(self) -> str | None:
        """A string that identifies the model and its weights.

        Used to key on-disk caches of embeddings (such as the concept
        dictionary). It changes whenever the embeddings could change: another
        model, tag or checkpoint content, or a reduced precision.

        Returns
        -------
        str or None
            ``"open_clip/<model>/<tag>"`` for pretrained tags (followed by
            ``"/quickgelu"`` when the tag's QuickGELU variant is built),
            ``"open_clip/<model>/file-sha256-<digest>"`` for checkpoint files,
            ``"open_clip/<model>/random-init-seed0-..."`` (with a hash of the
            model config and the torch and open_clip versions) for random
            weights, followed by ``"/bf16"`` or ``"/fp16"`` for reduced
            precision. None when the weights cannot be identified (not the
            case for any configuration accepted today).
        """
        # (the key of the weights, whatever the device: a dictionary a GPU embedded is
        # found on a machine without one)
        config = self._config("known")
        if config.pretrained_kind == "tag":
            key = f"open_clip/{config.model}/{config.pretrained}"
            if _quick_gelu_needed(config.model, config.pretrained, config.pretrained_kind):
                key += "/quickgelu"
        elif config.pretrained_kind == "file":
            assert config.pretrained is not None  # (a "file" config has the checkpoint's path)
            key = f"open_clip/{config.model}/file-sha256-{_file_sha256(config.pretrained)}"
        elif config.pretrained_kind == "hub":
            weights = _ensure_hub_weights(config.model[len(HF_HUB_PREFIX) :], config.cache_dir)
            key = f"open_clip/{config.model}/file-sha256-{_file_sha256(weights)}"
        else:
            registry = _registry()
            model_cfg = json.dumps(registry.get_model_config(config.model), sort_keys=True)
            cfg_hash = hashlib.sha256(model_cfg.encode("utf-8")).hexdigest()[:16]
            key = (
                f"open_clip/{config.model}/random-init-seed{RANDOM_INIT_SEED}-cfg-{cfg_hash}"
                f"-torch-{torch.__version__}-open_clip-{registry.version}"
            )
        if config.precision != "fp32":
            key += f"/{config.precision}"
        return key

    def _weights_said(self) -> str:
        """The model and weights in a user's words, for messages (``ViT-B-32
        (laion2b_s34b_b79k)``): :meth:`cache_key` holds digests and releases."""
        config = self._config("known")
        weights = {
            "tag": config.pretrained,
            "file": f"checkpoint {config.pretrained}",
            "random": "random weights",
        }.get(config.pretrained_kind)
        said = config.model if weights is None else f"{config.model} ({weights})"
        return said if config.precision == "fp32" else f"{said}, {config.precision}"

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the model's text tower.

        Parameters
        ----------
        texts : sequence of str
            The texts (a list, tuple, numpy array or pandas Series). Texts
            longer than the model's context length (77 tokens for most) are
            cut to it by its tokenizer, and the embedding reads only their
            beginning: open_clip's own tokenizer does so without a word, and
            this warns (:class:`~sksplice.exceptions.TruncatedTextWarning`).

        Returns
        -------
        ndarray of shape (n, d), float32
            L2-normalised text embeddings, in input order.

        Notes
        -----
        On open_clip text towers with causal attention that read the
        embedding at the end-of-text token (``CLIP`` and ``CustomTextCLIP``
        with a ``TextTransformer`` tower pooling ``"argmax"`` or ``"eos"``,
        without class token), no token attends to the padding after it, so
        the padding can be dropped: texts are sorted by token length, batched
        (up to ``batch_size`` x context length tokens per batch) and each
        batch runs only up to its longest sequence. The embeddings equal
        those of the full-length pass up to floating-point rounding; for
        short texts such as vocabulary words it is many times faster. Other
        text towers (Hugging Face models, class tokens, bidirectional
        attention) run every text at full context length, ``batch_size``
        texts per batch.

        Raises
        ------
        TypeError
            If ``texts`` is a single string or an item is not a string.
        ValueError
            If ``texts`` is empty.
        """
        config = self._config()
        items = to_text_list(texts)
        loaded = _load_model(config)
        short = _short_text_encoder(loaded.model)
        # (cast: an open_clip model's method, which Module's types see as a Tensor or Module)
        encode = (
            cast(Callable[[torch.Tensor], torch.Tensor], loaded.model.encode_text)
            if short is None
            else short
        )
        batch_size = int(self.batch_size)
        out = np.empty((len(items), config.embed_dim), dtype=np.float32)
        cut: list[int] = []
        context_length = 0
        with self._progress(len(items), "texts") as bar:
            for chunk_start in range(0, len(items), TEXT_SORT_CHUNK):
                chunk = items[chunk_start : chunk_start + TEXT_SORT_CHUNK]
                tokens = loaded.tokenizer(chunk)
                context_length = int(tokens.shape[-1])
                cut += [chunk_start + i for i in cut_to_context(loaded.tokenizer, chunk, tokens)]
                if short is None:
                    order = np.arange(len(chunk))
                    bounds = _fixed_batches(len(chunk), batch_size)
                else:  # texts of similar token lengths share a batch, shortest first
                    lengths = short.pool_index(tokens).numpy() + 1
                    order = np.argsort(lengths, kind="stable")
                    bounds = _token_budget_batches(
                        lengths[order], batch_size * short.context_length
                    )
                for start, stop in bounds:
                    rows = order[start:stop]
                    batch = tokens[torch.from_numpy(rows)]
                    out[chunk_start + rows] = self._encode(encode, batch, config)
                    bar.update(len(rows))
        if cut:
            kept = cut_texts_kept.get()
            if kept is not None:  # (the caller warns once for all its calls)
                kept.append((cut, context_length, config.model))
            else:
                warn_user(_cut_texts_warning(items, cut, context_length, config.model))
        return out

    @overload
    def embed_images(self, images: Any, *, return_skipped: Literal[False] = ...) -> np.ndarray: ...

    @overload
    def embed_images(
        self, images: Any, *, return_skipped: Literal[True]
    ) -> tuple[np.ndarray, list[SkippedInput]]: ...

    @overload
    def embed_images(
        self, images: Any, *, return_skipped: bool
    ) -> np.ndarray | tuple[np.ndarray, list[SkippedInput]]: ...

    def embed_images(
        self, images: Any, *, return_skipped: bool = False
    ) -> np.ndarray | tuple[np.ndarray, list[SkippedInput]]:
        """Embed images with the model's image tower.

        Images are decoded and preprocessed in a small thread pool while the
        model runs on the previous batch.

        Parameters
        ----------
        images : sequence
            File paths (str or os.PathLike), PIL images, or uint8 arrays of
            shape (H, W) or (H, W, 3) (also (H, W, 1) and RGBA (H, W, 4)); or
            one uint8 array of shape (n, H, W, C). One kind per call.
        return_skipped : bool, default=False
            Also return the list of items skipped under ``on_error="skip"``
            (then no :class:`~sksplice.exceptions.SkippedInputWarning` is emitted).

        Returns
        -------
        embeddings : ndarray of shape (n, d), float32
            L2-normalised image embeddings; rows of skipped items are NaN.
        skipped : list of SkippedInput
            Only when ``return_skipped=True``.

        Raises
        ------
        TypeError
            For a single image instead of a sequence, an unsupported item
            type, mixed kinds (naming the first offending index), or a
            non-uint8 array.
        ValueError
            For an empty input, an array of a wrong shape, or strings none of
            which is an existing file (texts: use :meth:`embed_text`).
        FileNotFoundError, IsADirectoryError, InvalidImageError
            With ``on_error="raise"``, for the first item that cannot be
            loaded; the message names its index and path.
        """
        return self._embed_images(images, return_skipped=return_skipped)

    # -- internals ----------------------------------------------------------

    def _is_loaded(self) -> bool:
        """Whether the model is in the in-process cache (used before, in this process);
        nothing is fetched to tell (an ``hf-hub:`` model's config is not looked up)."""
        if not _MODEL_CACHE:
            return False
        if str(self.model).startswith(HF_HUB_PREFIX):
            device, _ = self._checked_options()
            key = (self.model, None, device, self._precision_on(device, warn=False))
            return key in _MODEL_CACHE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (precision='fp16' on the CPU: said in use)
            return self._config().model_key() in _MODEL_CACHE

    def _load(self) -> None:
        """Load the model now (once per process, as the embedding would): what cannot be
        loaded, such as a checkpoint of another model, fails before any progress is shown."""
        _load_model(self._config())

    def _embed_images(
        self, images: Any, *, return_skipped: bool, first_index: int = 0, share: bool = False
    ) -> np.ndarray | tuple[np.ndarray, list[SkippedInput]]:
        """:meth:`embed_images`; ``first_index``: the index of ``images[0]`` in a larger
        collection, which errors and skipped items name; ``share``: ``images`` are a
        task's share of one (see :func:`sksplice._images.check_image_items`)."""
        config = self._config()
        items = _images.to_item_list(images, what="images")
        hint = (
            "use CLIPEmbedder(modality='text') or embed_text() to embed texts"
            if self.modality == "image"
            else "use embed_text() to embed texts"
        )
        _images.check_image_items(items, text_hint=hint, share=share)
        if self.on_error == "raise":
            # (a missing file is seen without decoding anything: not after every image
            # before it has been embedded)
            missing = _images.first_missing_file(items)
            if missing is not None:
                index, refused = missing
                raise type(refused)(
                    _item_message(items, index, refused, first_index + index)
                ) from refused
        cache = self._images_cache(config, items)
        if cache is not None:
            out, skipped = self._embedded_through(cache, items, config, first_index)
        else:
            try:
                out, skipped = self._embedded(
                    items, config, lambda i: first_index + i, _BATCH_KEPT.get()
                )
            except KeyboardInterrupt as exc:
                _, n_done = getattr(exc, "rows_done", (None, 0))
                if n_done and _images.item_kind(items[0]) == "path" and hasattr(exc, "add_note"):
                    exc.add_note(
                        f"CLIPEmbedder: {n_done} of {len(items)} images were embedded when "
                        "interrupted, and are not kept; with image_cache=True the "
                        "embeddings of image files are kept on disk as they are made, and "
                        "a call started again resumes from them"
                    )
                raise
        if return_skipped:
            return out, skipped
        if skipped:
            warn_user(_skipped_warning(skipped, len(items), first_index))
        return out

    def _images_cache(self, config: _Config, items: list[Any]) -> Any:
        """The cache of image embeddings that ``image_cache`` asks for, for ``items``
        that are files; None where it asks for none, for other items (PIL images,
        arrays: no file to key them by) and where no cache folder can be had (said)."""
        if not self.image_cache or _images.item_kind(items[0]) != "path":
            return None
        from ._image_cache import ImageEmbeddingCache

        root = self.image_cache if isinstance(self.image_cache, str | os.PathLike) else None
        chosen = root is not None
        try:
            cache = ImageEmbeddingCache.for_embedder(self, config.embed_dim, root, strict=True)
        except OSError as exc:
            fix = "give image_cache a writable folder" + (
                "" if chosen else ", or set SKSPLICE_CACHE to one"
            )
            warn_user(
                f"image_cache: no cache folder can be had ({exc}); the images are embedded "
                f"and not kept ({fix})",
                UserWarning,
            )
            return None
        if cache is None:  # (weights that cannot be identified: no such model today)
            return None
        cache.fix = "give image_cache a writable folder, or image_cache=False"
        cache.say, cache.later = (lambda message: warn_user(message, UserWarning)), "later calls"
        return cache

    def _embedded_through(
        self, cache: Any, items: list[Any], config: _Config, first_index: int
    ) -> tuple[np.ndarray, list[SkippedInput]]:
        """The embeddings of the image files ``items``: read from ``cache`` where it
        holds those of their content, the others embedded and kept there batch by batch
        (a call interrupted keeps every batch embedded before it)."""
        seen, found = cache.look_up(items)
        out = np.empty((len(items), config.embed_dim), dtype=np.float32)
        for i, vector in found.items():
            out[i] = vector
        todo = [i for i in range(len(items)) if i not in found]
        if found:
            with verbose_logging(self.verbose):
                logger.info(
                    "%d of %d images read from the cache of image embeddings (%s)%s",
                    len(found),
                    len(items),
                    cache.folder,
                    f"; the other {len(todo)} are embedded" if todo else "",
                )
        if not todo:
            return out, []
        embedded, skipped = self._embedded(
            [items[i] for i in todo],
            config,
            lambda j: first_index + todo[j],
            cache.keeper(items, seen, todo),
        )
        out[todo] = embedded
        return out, skipped

    def _embedded(
        self,
        items: list[Any],
        config: _Config,
        named: Callable[[int], int],
        kept: Callable[[np.ndarray, int, int], None] | None = None,
    ) -> tuple[np.ndarray, list[SkippedInput]]:
        """The embeddings of ``items`` made by the model, and those skipped; ``named``:
        the index of an item in the caller's input, which errors and skipped items
        name; ``kept(out, start, stop)``: given each batch's rows once they are final."""
        loaded = _load_model(config)

        out = np.empty((len(items), config.embed_dim), dtype=np.float32)
        skipped: list[SkippedInput] = []
        # (PIL's warnings about a file, issued in the threads that decode, are issued
        # here, with the file's name, in input order)
        with self._progress(len(items), "images") as bar, _images.pil_warnings_caught():
            workers = self._decode_processes(len(items), config)
            if workers == 0:
                batches = self._decoded_batches(items, loaded.preprocess)
            else:
                batches = _images.process_decoded_batches(
                    items, loaded.preprocess, int(self.batch_size), workers
                )
            # (closed here, on this thread, when the loop ends early: an error of an item,
            # Ctrl-C. Left to the garbage collector, the generator of the threads could be
            # closed on one of its own threads, whose pool then cannot join itself.)
            done = 0  # (the items of the batches embedded: their rows of out are final)
            with contextlib.closing(batches), _rows_done_on_interrupt(out, lambda: done):
                for batch in batches:
                    _images.issue_file_warnings(batch.warnings)
                    for offset, error in batch.errors:
                        index = batch.start + offset
                        if self.on_error == "raise":
                            message = _item_message(items, index, error, named(index))
                            raise type(error)(message) from error
                        # (the path itself for a file, as given: no quotes to strip)
                        item = items[index]
                        label = (
                            os.fspath(item)
                            if _images.item_kind(item) == "path"
                            else _images.describe_item(item)
                        )
                        skipped.append(SkippedInput(named(index), label, str(error)))
                        out[index] = np.nan
                    if batch.tensors is not None:
                        rows = [batch.start + offset for offset in batch.rows]
                        # (cast: as for encode_text in embed_text)
                        encode_image = cast(
                            Callable[[torch.Tensor], torch.Tensor], loaded.model.encode_image
                        )
                        out[rows] = self._encode(encode_image, batch.tensors, config)
                    if kept is not None:
                        kept(out, batch.start, batch.start + batch.size)
                    bar.update(batch.size)
                    # (after the count: an interruption between the two keeps no more
                    # rows than the bars said were embedded)
                    done = batch.start + batch.size
        return out, skipped

    def _decode_processes(self, n_items: int, config: _Config) -> int:
        """Worker processes that decode the images (0: threads of this process)."""
        if self.num_workers is not None:
            return int(self.num_workers)
        n_batches = -(-n_items // int(self.batch_size))
        if torch.device(config.device).type != "cuda" or n_batches < PROCESS_MIN_BATCHES:
            return 0
        if _images.start_method() != "fork":
            # (a worker started afresh, by spawn or forkserver, imports torch and open_clip
            # to unpickle the preprocessing: 6 to 7 s and 450 MB each, measured on 2 cores,
            # at every call, against 0.1 s forked)
            return 0
        return min(os.cpu_count() or 1, n_batches)

    def _progress(self, total: int, unit: str):
        return progress(total, unit=unit[:-1], desc=f"CLIP {unit}", disable=not self.verbose)

    def _decoded_batches(
        self, items: list[Any], preprocess: Callable[[Any], torch.Tensor]
    ) -> Generator[_images.DecodedBatch, None, None]:
        """Yield one :class:`~sksplice._images.DecodedBatch` per batch, decoding one
        batch ahead in a thread pool."""
        n_items = len(items)
        batch_size = int(self.batch_size)
        workers = max(1, min(DECODE_THREADS, os.cpu_count() or 1, n_items))

        # A PIL image may still be unloaded (lazy Image.open): never decode the
        # same object in two threads at once.
        pil_locks = {id(item): threading.Lock() for item in items if isinstance(item, Image.Image)}

        def load(item: Any) -> tuple[Any, Exception | None, list[ImageFileWarning]]:
            return _images.load_and_preprocess(item, preprocess, pil_locks.get(id(item)))

        # (the pending batch's tasks are cancelled when the loop stops early)
        with reading_pool(workers, "sksplice-io") as pool:

            def submit(start: int) -> list[Future]:
                stop = min(start + batch_size, n_items)
                return [pool.submit(load, items[i]) for i in range(start, stop)]

            pending = submit(0)
            for start in range(0, n_items, batch_size):
                current = pending
                pending = submit(start + batch_size) if start + batch_size < n_items else []
                yield _images.collate_decoded([future.result() for future in current], start)

    @staticmethod
    def _encode(
        encode: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, config: _Config
    ) -> np.ndarray:
        device = torch.device(config.device)
        dtype = config.autocast_dtype
        with (
            torch.inference_mode(),
            torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None),
        ):
            features = encode(batch.to(device))
        features = torch.nn.functional.normalize(features.float(), dim=-1)
        return features.cpu().numpy()
