"""open_clip models of :class:`sksplice.embedders.CLIPEmbedder`: loading and where weights are.

Resolved settings (``_Config``) and the device they run on, the in-process
model cache shared by all embedders (keyed by model, pretrained weights,
device and precision), the model configs registered from
``$SKSPLICE_MODEL_CONFIGS``, the checks that find pretrained weights in the
local caches or fail at once when they cannot be fetched
(``WeightsUnavailableError``), the QuickGELU decision of a pretrained tag,
and checksums of checkpoint files. Public names are re-exported by
:mod:`sksplice.embedders`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from cachetools import cached

from ._data import file_sha256
from ._interrupt import import_whole
from ._model_names import HF_HUB_PREFIX as HF_HUB_PREFIX
from ._model_names import MODEL_CONFIGS_ENV as MODEL_CONFIGS_ENV
from ._model_names import (
    OpenClipTables,
    check_env_config,
    env_config_entries,
    open_clip_tables,
    published_mean_used,
    quick_gelu_lacking,
)
from ._model_names import checkpoint_file_problem as checkpoint_file_problem
from ._model_names import clean_tag as _clean_tag
from ._names import listed
from .exceptions import CheckpointFormatError, WeightsUnavailableError

#: Seed of the random initialisation used when ``pretrained=None``.
RANDOM_INIT_SEED = 0

#: Seconds allowed to open a connection to the host of weights that are not
#: cached yet, before they are declared unreachable (no retries).
CONNECT_TIMEOUT = 3.0

_AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class _Config:
    """Validated, resolved settings of an embedder."""

    model: str
    pretrained: str | None  # canonical tag, absolute checkpoint path, or None
    pretrained_kind: str  # "tag", "file", "hub" (an hf-hub: model) or "random"
    device: str
    precision: str  # effective precision (fp16 on CPU falls back to fp32)
    cache_dir: str | None
    embed_dim: int

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _AUTOCAST_DTYPES.get(self.precision)

    def model_key(self) -> tuple[Any, ...]:
        weights: Any = self.pretrained
        if self.pretrained_kind == "file":
            assert self.pretrained is not None  # (a "file" config has the checkpoint's path)
            stat = os.stat(self.pretrained)  # reload when the file is written or replaced
            weights = (self.pretrained, *_file_version(stat))
        return (self.model, weights, self.device, self.precision)


@dataclass
class _LoadedModel:
    model: torch.nn.Module
    preprocess: Callable[[Any], torch.Tensor]
    tokenizer: Callable[[list[str]], torch.Tensor]


_CACHE_LOCK = threading.Lock()
_MODEL_CACHE: dict[tuple[Any, ...], _LoadedModel] = {}
_REGISTERED_CONFIG_PATHS: set[str] = set()


def clear_model_cache() -> None:
    """Drop every model held in the in-process cache.

    Embedders keep working: the next call loads its model again.
    """
    _load_model.cache_clear()


def _register_env_model_configs() -> None:
    """Register the model configs named in ``$SKSPLICE_MODEL_CONFIGS`` with open_clip."""
    open_clip = import_whole("open_clip")

    for entry, path in env_config_entries():
        with _CACHE_LOCK:
            if path in _REGISTERED_CONFIG_PATHS:
                continue
        check_env_config(entry, path)
        with _CACHE_LOCK:
            if path not in _REGISTERED_CONFIG_PATHS:
                open_clip.add_model_config(path)
                _REGISTERED_CONFIG_PATHS.add(path)


class _ImportedRegistry:
    """open_clip's registry of models and weights, asked of open_clip itself (imported,
    with the configs of ``$SKSPLICE_MODEL_CONFIGS`` registered): the methods of
    :class:`~sksplice._model_names.OpenClipTables`."""

    def __init__(self) -> None:
        self.open_clip = import_whole("open_clip")
        _register_env_model_configs()
        self.version = str(self.open_clip.__version__)

    def list_models(self) -> list[str]:
        return list(self.open_clip.list_models())

    def get_model_config(self, model: str) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.open_clip.get_model_config(model))

    def list_pretrained_tags_by_model(self, model: str) -> list[str]:
        return list(self.open_clip.list_pretrained_tags_by_model(model))

    def get_pretrained_cfg(self, model: str, tag: str) -> dict[str, Any]:
        return dict(self.open_clip.get_pretrained_cfg(model, tag) or {})

    def tag_quick_gelu(self, model: str, tag: str) -> bool:
        return bool(self.get_pretrained_cfg(model, tag).get("quick_gelu"))


def _registry() -> OpenClipTables | _ImportedRegistry:
    """What open_clip knows of model names, configs and weights tags: read from its files
    where open_clip is not imported yet (a run whose embeddings are all cached never
    imports it, seconds saved), else asked of open_clip."""
    tables = open_clip_tables()
    return tables if tables is not None else _ImportedRegistry()


def _close_matches(word: str, options: Sequence[str]) -> str:
    from ._names import close_matches

    matches = close_matches(word, options, n=5, cutoff=0.5)
    if not matches:
        return ""
    return " Close matches: " + ", ".join(repr(m) for m in matches) + "."


#: OpenAI's CLIP repositories on the Hugging Face Hub (in the format of ``transformers``,
#: not open_clip's) and the open_clip model that loads the same weights with
#: ``pretrained="openai"``.
_OPENAI_REPOS = {
    "openai/clip-vit-base-patch32": "ViT-B-32",
    "openai/clip-vit-base-patch16": "ViT-B-16",
    "openai/clip-vit-large-patch14": "ViT-L-14",
    "openai/clip-vit-large-patch14-336": "ViT-L-14-336",
}


def _open_clip_equivalent(name: str, models: Sequence[str]) -> tuple[str | None, str | None, str]:
    """(model, pretrained tag, ``hf-hub:`` name) that give the weights of ``name``,
    a Hugging Face repo (``openai/clip-vit-base-patch32``,
    ``laion/CLIP-ViT-B-32-laion2B-s34B-b79K``) or a name of OpenAI's ``clip`` package
    (``ViT-L/14@336px``); the model and tag are None where none is known, the
    ``hf-hub:`` name "" where the repo holds no open_clip config.
    """
    open_clip = import_whole("open_clip")

    openai = _OPENAI_REPOS.get(name.lower())
    if openai is None and name.endswith("@336px"):  # (OpenAI's clip.load names)
        openai = name[: -len("@336px")].replace("/", "-") + "-336"
    if openai is not None and openai in models:
        return openai, "openai", ""
    org, _, repo = name.partition("/")
    if org.lower() != "laion" or not repo.startswith("CLIP-"):
        return None, None, ""
    # laion/CLIP-<open_clip model>-<pretrained tag>, a repo that holds an open_clip config
    rest = repo[len("CLIP-") :]
    for model in sorted(models, key=len, reverse=True):
        if rest.startswith(model + "-"):
            tags = {_clean_tag(t): t for t in open_clip.list_pretrained_tags_by_model(model)}
            tag = tags.get(_clean_tag(rest[len(model) + 1 :]))
            if tag is not None:
                return model, tag, HF_HUB_PREFIX + name
    return None, None, HF_HUB_PREFIX + name


def repo_name_hint(name: str, models: Sequence[str]) -> str | None:
    """What to give instead of a model name with a ``/`` that is no open_clip name
    (a Hugging Face repo such as ``openai/clip-vit-base-patch32``); None for any other
    name. Sentences in the words of the Python API (``model=..., pretrained=...``).
    """
    if "/" not in name or name.startswith(HF_HUB_PREFIX):
        return None
    model, tag, hub = _open_clip_equivalent(name, models)
    parts = [
        "open_clip names a model without an organisation, such as 'ViT-B-32', and its "
        "weights by a pretrained tag (pretrained='openai' for OpenAI's, "
        "'laion2b_s34b_b79k' for one of LAION's)"
    ]
    if model is not None:
        also = f" (or model={hub!r})" if hub else ""
        parts.append(f"for {name!r} give model={model!r}, pretrained={tag!r}{also}")
    elif hub:
        parts.append(f"model={hub!r} loads that repo")
    else:
        from ._names import close_matches

        tail = name.rstrip("/").rsplit("/", 1)[-1]
        matches = close_matches(tail, models, n=5, cutoff=0.5) if tail else []
        if matches:
            parts.append(f"close matches: {', '.join(repr(m) for m in matches)}")
    return (
        "; ".join(parts) + ". model='hf-hub:ORG/REPO' loads a Hugging Face repo that holds "
        "an open_clip config (open_clip_config.json)."
    )


def _short_reason(exc: Exception) -> str:
    """``exc``'s message, its lists of state-dict keys cut to a few names and a count.

    A checkpoint of another model makes torch list every missing and unexpected
    key of the state dict: hundreds of names that bury the point.
    """
    text = str(exc)

    def cut(match: re.Match[str]) -> str:
        keys = re.findall(r'"([^"]*)"', match.group(2))
        return f"{len(keys)} {match.group(1).lower()} key(s) in the state dict ({listed(keys, 3)});"

    found = r"(Missing|Unexpected) key\(s\) in state_dict:((?: \"[^\"]*\",?)+)\."
    short = re.sub(found, cut, text)
    if short != text:
        short = " ".join(short.split()).rstrip(";") + " (the checkpoint is not one of this model)"
    return short


#: Errors of reading a file that is not a checkpoint: garbage unpickles as any of these.
_FORMAT_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    UnicodeDecodeError,
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    StopIteration,
)
#: Where open_clip reads a checkpoint file (its functions, by module).
_CHECKPOINT_READERS = {
    ("open_clip.factory", "load_state_dict"),
    ("open_clip.convert", "load_big_vision_weights"),
}


def _is_checkpoint_format_error(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while open_clip read a checkpoint file, as a format error.

    Out of memory and operating-system errors are never format errors; the others
    count only when raised within open_clip's reading of the file (not in building
    the model or in loading the state dict into it).
    """
    import pickle
    import struct
    import zipfile

    if isinstance(exc, MemoryError | OSError | torch.cuda.OutOfMemoryError):
        return False
    message = str(exc)
    decoding = (
        isinstance(exc, (pickle.UnpicklingError, zipfile.BadZipFile, struct.error, *_FORMAT_ERRORS))
        or (
            isinstance(exc, RuntimeError)
            and (message.startswith("PytorchStreamReader") or "Invalid magic number" in message)
        )
        or type(exc).__name__ == "SafetensorError"
    )
    return decoding and _raised_within(exc, _CHECKPOINT_READERS)


def _is_checkpoint_mismatch(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while open_clip fitted a checkpoint's state dict to the
    model (missing or unexpected keys, tensors of other shapes: another model's weights).

    Out of memory and operating-system errors never are.
    """
    if isinstance(exc, MemoryError | OSError | torch.cuda.OutOfMemoryError):
        return False
    return _raised_within(exc, {("open_clip.factory", "load_checkpoint")})


def _raised_within(exc: BaseException, functions: set[tuple[str, str]]) -> bool:
    """Whether a frame of ``exc``'s traceback runs one of ``functions`` (module, name)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in functions:
            return True
        tb = tb.tb_next
    return False


def _checkpoint_reason(exc: BaseException) -> str:
    """A short reason for a file that is not a checkpoint: the class, and torch's point.

    torch's refusal of a pickle with ``weights_only=True`` is a page of advice for
    programmers; its one line that says what was refused is kept.
    """
    text = " ".join(str(exc).split())
    refused = re.search(r"Unsupported global: GLOBAL (\S+) was not an allowed global", text)
    if refused:
        return (
            f"{type(exc).__name__}: it holds {refused.group(1)}, which torch's weights-only "
            "loading refuses"
        )
    if text.startswith("Weights only load failed"):
        return f"{type(exc).__name__}: torch's weights-only loading refuses it"
    text = text[:120] + ("..." if len(text) > 120 else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _weights_location(model: str, tag: str, cache_dir: str | None) -> str:
    """Where open_clip fetches and caches the weights of a pretrained tag."""
    cfg = _registry().get_pretrained_cfg(model, tag)
    hf_hub = cfg.get("hf_hub", "")
    url = cfg.get("url", "")
    if hf_hub:
        try:
            from huggingface_hub import constants

            hub_cache = constants.HF_HUB_CACHE
        except ImportError:  # pragma: no cover - open_clip depends on huggingface_hub
            hub_cache = "the Hugging Face cache"
        where = cache_dir or hub_cache
        return f"from the Hugging Face Hub repository {hf_hub.rstrip('/')!r}, cached in {where!r}"
    where = cache_dir or os.path.expanduser("~/.cache/clip")
    return f"from {url!r}, cached in {where!r}"


def _file_version(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is written or replaced: its size, its modification and
    change times (a write moves the change time, which no tool sets back; a copy that
    keeps the modification time, ``cp -p``, still moves it) and its inode (a file
    renamed into place)."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _file_sha256(path: str) -> str:
    """:func:`sksplice._data.file_sha256` of a checkpoint, remembered until the file changes."""
    return _file_version_sha256(path, *_file_version(os.stat(path)))


@functools.lru_cache(maxsize=256)
def _file_version_sha256(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    """The digest of ``path`` as it is at this size, these times and this inode."""
    from ._data import digest_memo, settled

    version = (size, mtime_ns, ctime_ns, inode)
    memo = digest_memo(path, version)
    if memo is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            kept = memo.read_text(encoding="ascii").strip()
            if re.fullmatch(r"[0-9a-f]{64}", kept):
                return kept
    digest = file_sha256(path)
    if memo is None:
        return digest
    try:
        after = os.stat(path)
    except OSError:  # (removed meanwhile: its digest is not kept)
        return digest
    # (kept only for a file not written meanwhile, nor so recently that a write in the
    # same tick of its times would not show)
    if _file_version(after) == version and settled(after):
        from ._image_cache import _renamed_into_place

        with contextlib.suppress(OSError):  # (a cache that takes no file: hashed each run)
            memo.parent.mkdir(parents=True, exist_ok=True)
            _renamed_into_place(memo, digest.encode("ascii"))
    return digest


def _hub_offline_setting() -> str | None:
    """What puts the Hugging Face Hub in offline mode (e.g. ``"TRANSFORMERS_OFFLINE=1"``).

    ``None`` when it is online. huggingface_hub reads the first non-empty one of
    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` (so ``HF_HUB_OFFLINE=0``
    overrides ``TRANSFORMERS_OFFLINE=1``), once, when it is imported; the
    environment is read again here, so that a variable set later counts too.
    """
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(variable)
        if value:
            if value.strip().upper() in {"1", "ON", "YES", "TRUE"}:
                return f"{variable}={value}"
            break
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - open_clip depends on huggingface_hub
        return None
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE, set when huggingface_hub was imported"
    return None


def _hub_offline() -> bool:
    """Whether Hugging Face Hub offline mode (``HF_HUB_OFFLINE=1``) is on."""
    return _hub_offline_setting() is not None


def _offline_reason() -> str:
    """The reason given when offline mode refuses a download."""
    return f"offline mode is on ({_hub_offline_setting()})"


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT)
    except (ImportError, AttributeError):  # pragma: no cover
        return "https://huggingface.co"


def _reachable(url: str, timeout: float | None = None) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds.

    The name lookup runs in a daemon thread so that a resolver that hangs
    cannot hold the caller longer than the timeout either.
    """
    timeout = CONNECT_TIMEOUT if timeout is None else float(timeout)
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if not host:
        return False
    port = parts.port or (80 if parts.scheme == "http" else 443)
    ok = threading.Event()

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.set()
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="sksplice-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return ok.is_set()


def _hf_cached(repo_id: str, filenames: Sequence[str], cache_dir: str | None) -> str | None:
    """Path of the first of ``filenames`` of a Hub repository in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        if isinstance(found, str):
            return found
    return None


def _weight_files(filename: str) -> list[str]:
    """``filename`` with the safetensors alternatives open_clip looks for first."""
    out = []
    if filename == "open_clip_pytorch_model.bin":
        out.append("open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        out.append(filename[:-4] + ".safetensors")
    return [*out, filename]


def _checkpoint_advice(model: str, tag: str, file_url: str) -> str:
    """How to pass the weights of a pretrained tag as a checkpoint file: the file's
    address, and what a file (no tag) does not bring along (the published image mean,
    unless the caller centres by its own: :func:`~._model_names.own_centre`; the QuickGELU of
    OpenAI's weights)."""
    from .vocabulary import _settings_of_tag_file

    advice = f"; or pass pretrained=<path to a checkpoint file> (these weights: {file_url})"
    settings, why = _settings_of_tag_file(model, tag, mean=published_mean_used())
    if settings:
        them = "them" if len(settings) > 1 else "it"
        advice += (
            f", with {' and '.join(settings)} for {why} (a checkpoint file does not bring "
            f"{them} along, as the tag does)"
        )
    return advice


def _how_to_get_weights(what: str, where: str, reason: str, checkpoint: str) -> str:
    # (offline mode already on: a run that downloads needs it off, and a copied cache
    # needs nothing more; it said to set what was set)
    setting = _hub_offline_setting()
    online, copied = (
        (f" and without {setting}", "") if setting else ("", " and set HF_HUB_OFFLINE=1")
    )
    return (
        f"{what} are not in the local cache ({where}) and cannot be downloaded: {reason}. "
        f"To get them: run once with a network connection{online} (they are cached for "
        f"later runs); or copy a filled cache there{copied}{checkpoint}."
    )


def _check_fetchable(
    what: str,
    where: str,
    url: str,
    cached: bool,
    timeout: float | None = None,
    checkpoint: str = "",
) -> None:
    """Raise :class:`WeightsUnavailableError` at once when uncached files cannot be fetched."""
    if cached:
        return
    if _hub_offline():
        raise WeightsUnavailableError(
            _how_to_get_weights(what, where, _offline_reason(), checkpoint)
        )
    if not _reachable(url, timeout):
        host = urllib.parse.urlsplit(url).hostname
        seconds = CONNECT_TIMEOUT if timeout is None else timeout
        raise WeightsUnavailableError(
            _how_to_get_weights(
                what, where, f"cannot connect to {host} (tried for {seconds:g} s)", checkpoint
            )
        )


def _tag_weights(model: str, tag: str, cache_dir: str | None) -> tuple[str, bool, str] | None:
    """The address the weights of a pretrained tag come from (the Hub's, or the tag's
    URL), whether they are cached, and the address of their file (to download by hand);
    None for a tag open_clip gives neither."""
    cfg = _registry().get_pretrained_cfg(model, tag)
    hf_hub = cfg.get("hf_hub", "")
    if hf_hub:
        if hf_hub.endswith("/"):  # open_clip's rule: the default file name
            repo_id, filename = hf_hub.rstrip("/"), "open_clip_pytorch_model.bin"
        else:
            repo_id, filename = os.path.split(hf_hub)
        endpoint = _hub_endpoint()
        cached = _hf_cached(repo_id, _weight_files(filename), cache_dir) is not None
        return endpoint, cached, f"{endpoint.rstrip('/')}/{repo_id}/resolve/main/{filename}"
    url = cfg.get("url", "")
    if url:
        folder = cache_dir or os.path.expanduser("~/.cache/clip")
        return url, os.path.isfile(os.path.join(folder, os.path.basename(url))), url
    return None


def _ensure_tag_weights(model: str, tag: str, cache_dir: str | None) -> None:
    """Fail fast when the weights of a pretrained tag are neither cached nor reachable."""
    found = _tag_weights(model, tag, cache_dir)
    if found is not None:
        what = f"The pretrained weights of open_clip model {model!r} (pretrained={tag!r})"
        address, cached, file_url = found
        _check_fetchable(
            what,
            _weights_location(model, tag, cache_dir),
            address,
            cached,
            checkpoint=_checkpoint_advice(model, tag, file_url),
        )


def uncached_weights_note(model: str, tag: str, cache_dir: str | None) -> str:
    """A sentence naming the weights of a pretrained tag that are not in the local
    cache (model, tag, where they come from and are cached); empty when they are.

    Said beside a published file that cannot be downloaded (the vocabulary), so that
    a machine without network access learns in one error of everything to fetch.
    No network is used.
    """
    found = _tag_weights(model, tag, cache_dir)
    if found is None or found[1]:
        return ""
    return (
        f"The pretrained weights of open_clip model {model!r} (pretrained={tag!r}) are not "
        f"in the local cache ({_weights_location(model, tag, cache_dir)}) either: they are "
        "downloaded when the vocabulary is first embedded; without network access copy a "
        f"filled cache there and set HF_HUB_OFFLINE=1{_checkpoint_advice(model, tag, found[2])}."
    )


def _hub_config(repo_id: str, cache_dir: str | None) -> dict[str, Any]:
    """The open_clip config of an ``hf-hub:`` model, from the cache or the Hub."""
    from huggingface_hub import hf_hub_download

    cached = _hf_cached(repo_id, ["open_clip_config.json"], cache_dir)
    what = f"The config and weights of open_clip model {HF_HUB_PREFIX}{repo_id}"
    try:
        from huggingface_hub import constants

        where = cache_dir or str(constants.HF_HUB_CACHE)
    except (ImportError, AttributeError):  # pragma: no cover
        where = cache_dir or "the Hugging Face cache"
    where = f"Hugging Face Hub repository {repo_id!r}, cache {where!r}"
    _check_fetchable(what, where, _hub_endpoint(), cached is not None)
    path = cached or hf_hub_download(repo_id, "open_clip_config.json", cache_dir=cache_dir)
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg"), dict):
        raise ValueError(
            f"{path} (of {HF_HUB_PREFIX}{repo_id}) is not an open_clip config: no 'model_cfg'"
        )
    return config


def _ensure_hub_weights(repo_id: str, cache_dir: str | None) -> str:
    """Local path of the weights of an ``hf-hub:`` model (fetched when reachable)."""
    open_clip = import_whole("open_clip")

    files = _weight_files("open_clip_pytorch_model.bin")
    cached = _hf_cached(repo_id, files, cache_dir)
    if cached is not None:
        return cached
    _hub_config(repo_id, cache_dir)  # fails fast when offline
    return open_clip.pretrained.download_pretrained_from_hf(repo_id, cache_dir=cache_dir)


class _RandomInitLogFilter(logging.Filter):
    """Drop open_clip's warning about random weights when they were asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No pretrained weights loaded for model")


@cached(_MODEL_CACHE, key=_Config.model_key, condition=threading.Condition())
def _load_model(config: _Config) -> _LoadedModel:
    """Load (or fetch from the in-process cache) the model for ``config``.

    One thread loads a given model while the others asking for it wait (the
    condition); different models load concurrently.
    """
    return _create_model(config)


def _quick_gelu_needed(model: str, pretrained: str | None, pretrained_kind: str) -> bool:
    """Whether ``model`` must be built with QuickGELU to match its pretrained tag
    (:func:`~sksplice._model_names.quick_gelu_lacking`; a file builds what its model
    names)."""
    if pretrained_kind != "tag" or pretrained is None:
        return False
    return quick_gelu_lacking(_registry(), model, pretrained)


_root_lock = threading.Lock()
_root_users = 0  # model loads inside _root_logger_left_alone, in all threads
_root_added = False  # whether the first of them gave the root logger logging.lastResort


@contextlib.contextmanager
def _root_logger_left_alone() -> Iterator[None]:
    """Keep open_clip from giving the program's root logger a handler.

    open_clip logs through the root logger's functions (``logging.info(...)``),
    which call ``logging.basicConfig()`` when the root logger has no handler: a
    standard-error handler would stay on the program's root logger after the
    model is loaded, and every INFO record propagated to it later (sksplice's
    ``verbose`` messages among them) would be printed in the default format. While
    models load, the root logger holds :data:`logging.lastResort`, the handler
    Python uses when there is none (warnings and errors to standard error, nothing
    else), so what is shown does not change and nothing stays. Loads in several
    threads share it: the first one in adds it, the last one out takes it away.
    (A ``logging.basicConfig()`` of the program's own, called in another thread
    while a model loads, finds a handler and does nothing.)
    """
    global _root_users, _root_added
    root, last = logging.getLogger(), logging.lastResort
    with _root_lock:
        if _root_users == 0:
            _root_added = not root.handlers and last is not None
            if _root_added and last is not None:  # (the second test is for the type checker)
                root.addHandler(last)
        _root_users += 1
    try:
        yield
    finally:
        with _root_lock:
            _root_users -= 1
            if _root_users == 0 and _root_added and last is not None:
                # (lastResort was not None when it was added; were it None now,
                # removeHandler(None) would do nothing, as this skip does)
                root.removeHandler(last)
                _root_added = False


def _create_model(config: _Config) -> _LoadedModel:
    with _root_logger_left_alone():
        return _create_model_logged(config)


def _create_model_logged(config: _Config) -> _LoadedModel:
    open_clip = import_whole("open_clip")
    # (the config of a model of $SKSPLICE_MODEL_CONFIGS: read from its file so far, where
    # open_clip was not imported yet)
    _register_env_model_configs()

    if config.pretrained_kind == "hub":
        _ensure_hub_weights(config.model[len(HF_HUB_PREFIX) :], config.cache_dir)
    if config.pretrained_kind == "tag":
        assert config.pretrained is not None  # (a "tag" config has the tag)
        # Fetch (or find in open_clip's cache) the weights first, so that a
        # download failure is told apart from other failures; uncached weights
        # that cannot be fetched (offline) fail at once, without retries.
        _ensure_tag_weights(config.model, config.pretrained, config.cache_dir)
        cfg = open_clip.get_pretrained_cfg(config.model, config.pretrained)
        try:
            open_clip.download_pretrained(cfg, cache_dir=config.cache_dir)
        except Exception as exc:
            raise RuntimeError(
                f"The pretrained weights of open_clip model {config.model!r} "
                f"(pretrained={config.pretrained!r}) could not be downloaded; open_clip fetches "
                f"them {_weights_location(config.model, config.pretrained, config.cache_dir)}. "
                "Check the network connection, put the weights in that cache (or pass "
                "cache_dir=...), or pass pretrained=<path to a checkpoint file>. "
                f"Original error: {type(exc).__name__}: {exc}"
            ) from exc
    quiet = _RandomInitLogFilter() if config.pretrained_kind == "random" else None
    if quiet is not None:
        logging.getLogger().addFilter(quiet)
    try:
        with torch.random.fork_rng(devices=[]):
            # Weights are initialised on the CPU before any checkpoint is loaded,
            # so a fixed seed makes pretrained=None identical in every process.
            # Only the CPU generator is seeded (and restored by fork_rng): CUDA
            # generators of the caller are left alone.
            torch.default_generator.manual_seed(RANDOM_INIT_SEED)
            model, _, preprocess = open_clip.create_model_and_transforms(
                config.model,
                pretrained=config.pretrained,
                device=config.device,
                precision=config.precision,
                cache_dir=config.cache_dir,
                pretrained_text=False,
                force_quick_gelu=_quick_gelu_needed(
                    config.model, config.pretrained, config.pretrained_kind
                ),
            )
        tokenizer = open_clip.get_tokenizer(config.model, cache_dir=config.cache_dir)
    except Exception as exc:
        if config.pretrained_kind == "file" and _is_checkpoint_format_error(exc):
            # In the command line's words where the file's start shows what it is ("it is
            # not in torch.save's format"); else what torch said (the error is chained).
            problem = checkpoint_file_problem(cast(str, config.pretrained))  # (a "file" path)
            raise CheckpointFormatError(
                f"pretrained={config.pretrained!r} is not a model checkpoint open_clip can "
                + (f"load: {problem}" if problem else f"load ({_checkpoint_reason(exc)})")
            ) from exc
        if config.pretrained_kind == "file" and _is_checkpoint_mismatch(exc):
            reason = _short_reason(exc).removesuffix(" (the checkpoint is not one of this model)")
            raise CheckpointFormatError(
                f"pretrained={config.pretrained!r} does not fit open_clip model "
                f"{config.model!r}: a checkpoint of another model? ({type(exc).__name__}: "
                f"{reason})"
            ) from exc
        raise RuntimeError(
            f"open_clip could not create model {config.model!r} with "
            f"pretrained={config.pretrained!r}: {type(exc).__name__}: {_short_reason(exc)}"
        ) from exc
    finally:
        if quiet is not None:
            logging.getLogger().removeFilter(quiet)
    model.eval()
    model.requires_grad_(False)
    return _LoadedModel(model=model, preprocess=preprocess, tokenizer=tokenizer)
