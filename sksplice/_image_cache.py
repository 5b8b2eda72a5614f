"""A disk cache of image embeddings, for the command line and ``CLIPEmbedder(image_cache=)``.

Embedding an image is the slow step of every command that reads images (a
ViT-B-32 forward pass takes about 50 ms on a CPU core), and a researcher runs
several commands over one collection: ``decompose``, then ``profile``,
``report`` and ``search``. Each embedding is therefore kept on disk, keyed by

* the model, its weights and precision (the embedder's ``cache_key()``) and the
  sksplice release (which reads and preprocesses the image): one folder
  ``<cache dir>/images/<digest of both>/``, with a ``key.json`` saying what it is;
* the content of the image file (its SHA-256), so that a file renamed, moved or
  copied is found and a file changed is embedded again: one ``.npy`` file per
  image, ``<2 hex digits>/<the rest of the digest>.npy``.

Whole calls of the embedder are not what is kept (``joblib.Memory`` would key a
call by all of its images): the chunks of a run differ from command to command
(``compare a/ b/`` against ``decompose a/``), and an interrupted run resumes from
the images it embedded. A file is written to a temporary name and renamed, and
read back only where it holds a finite float32 vector of the model's width;
any other is embedded again and replaced.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

logger = logging.getLogger("sksplice")

#: The longest header of a ``.npy`` file of one vector read back (numpy writes 128 bytes).
_MAX_HEADER = 4096

#: How far from 1 the length of a cached embedding may be (float32 rounding of a unit
#: vector, of a half-precision model's too); farther, the file is not read.
_NORM_SLACK = 1e-3

#: Files hashed at once (hashlib releases the GIL: a photo of 5 MB takes about 14 ms).
_HASH_THREADS = 8


class Seen(NamedTuple):
    """An image file as its digest was taken: its SHA-256 and what changes when the file
    is written (:func:`sksplice._models._file_version`)."""

    digest: str
    version: tuple[int, int, int, int]


def _seen(path: str | os.PathLike[str]) -> Seen | None:
    """The digest of ``path`` with its version, or None where it cannot be read or
    changed while it was read (the embedder then reads it, or says why it cannot), or is
    no regular file: a pipe (``<(cat image.png)``) read here would leave nothing for the
    embedder, and its content is not there to read again; a device may never end."""
    import stat

    from ._data import file_sha256
    from ._models import _file_version

    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None
        before = _file_version(status)
        digest = file_sha256(path)
        after = _file_version(os.stat(path))
    except OSError:
        return None
    return Seen(digest, after) if before == after else None


def seen_files(paths: Sequence[str | os.PathLike[str]]) -> list[Seen | None]:
    """:func:`_seen` of every path, in threads."""
    from ._image_files import reading_pool

    with reading_pool(min(_HASH_THREADS, os.cpu_count() or 1), "sksplice-hash") as pool:
        return list(pool.map(_seen, paths))


def digest_if_unchanged(path: str | os.PathLike[str], seen: Seen | None) -> str | None:
    """The digest ``seen`` took of ``path`` where it is still that file (so that an
    embedding made of it now is of the content of that digest), else None."""
    from ._models import _file_version

    if seen is None:
        return None
    try:
        return seen.digest if _file_version(os.stat(path)) == seen.version else None
    except OSError:
        return None


def within_pixel_limit(path: str | os.PathLike[str]) -> bool:
    """Whether the image ``path`` has no more pixels than PIL's decompression-bomb limit
    of the run (``--max-image-pixels``), read from its header: an embedding read from
    the cache is of an image the run would decode, else the embedder refuses it."""
    from PIL import Image

    from ._images import _check_pixel_limit

    if not Image.MAX_IMAGE_PIXELS:
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (a DecompressionBombWarning: checked below)
            with Image.open(path) as image:
                _check_pixel_limit(image, os.fspath(path))  # (the decoder's own rule)
    except Exception:  # (over the limit, or unreadable now: the embedder says why)
        return False
    return True


class ImageEmbeddingCache:
    """The embeddings of one model's images, one file per image content.

    Parameters
    ----------
    folder : pathlib.Path
        The folder of this model's embeddings (:meth:`for_embedder`).
    width : int
        The model's embedding width: a file of another shape is not read.
    key : dict, default=None
        What the folder holds (the embedder's key, the release), written to its
        ``key.json`` with the first embedding, for a person looking in it.
    """

    def __init__(self, folder: Path, width: int, key: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.width = int(width)
        self.key = key or {}
        self.n_read = 0
        self.n_written = 0
        self._writable = True
        #: What a user does where the folder takes no file (the command line's options).
        self.fix = "give --cache-dir a writable folder, or --no-image-cache"
        #: How that is said, and of what: the command line's warning, of its runs (a
        #: library's caller gives its own).
        self.say: Callable[[str], None] = logger.warning
        self.later = "later runs"

    @classmethod
    def for_embedder(
        cls,
        embedder: Any,
        width: int,
        cache_dir: str | os.PathLike[str] | None,
        *,
        strict: bool = False,
    ) -> ImageEmbeddingCache | None:
        """The cache of ``embedder``'s image embeddings under the cache folder
        (``get_cache_dir(cache_dir) / "images"``), or None where its weights cannot be
        identified or no cache folder can be had (the run embeds every image; with
        ``strict``, the ``OSError`` that says why no folder can be had is raised)."""
        from ._data import get_cache_dir
        from ._version import __version__

        cache_key = getattr(embedder, "cache_key", None)  # (an embedder of another family)
        key = cache_key() if callable(cache_key) else None
        if key is None:
            return None
        what = {"embedder": key, "sksplice": __version__, **_pipeline(embedder)}
        name = hashlib.sha256(json.dumps(what, sort_keys=True).encode("utf-8")).hexdigest()
        try:
            folder = get_cache_dir(cache_dir, create=False) / "images" / name[:20]
        except OSError:
            if strict:
                raise
            return None
        return cls(folder, width, what)

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest[2:]}.npy"

    def get(
        self, digests: list[str | None], usable: Callable[[int], bool] | None = None
    ) -> dict[int, np.ndarray]:
        """The embeddings held for ``digests`` (of images), by their position; a digest
        of None, or without a usable file, is not among them, nor a position that
        ``usable`` refuses (an image the run would not decode: it embeds it, and says
        why it cannot)."""
        found: dict[int, np.ndarray] = {}
        for i, digest in enumerate(digests):
            if digest is None:
                continue
            vector = self._read(self._path(digest))
            if vector is not None and (usable is None or usable(i)):
                found[i] = vector
        self.n_read += len(found)
        return found

    def look_up(
        self, paths: Sequence[str | os.PathLike[str]]
    ) -> tuple[list[Seen | None], dict[int, np.ndarray]]:
        """The digests of the image files ``paths`` (:func:`seen_files`) and the
        embeddings held of them, by position; an image over PIL's pixel limit of the run
        is not read back (it is embedded, so that it is refused as without a cache)."""
        seen = seen_files(paths)
        found = self.get(
            [None if s is None else s.digest for s in seen],
            usable=lambda i: within_pixel_limit(paths[i]),
        )
        return seen, found

    def keeper(
        self,
        paths: Sequence[str | os.PathLike[str]],
        seen: Sequence[Seen | None],
        positions: Sequence[int],
    ) -> Callable[[np.ndarray, int, int], None]:
        """``keep(rows, start, stop)``, which keeps ``rows[start:stop]``, the embeddings
        of ``paths[positions[start:stop]]``, where each file is still the one whose
        digest ``seen`` took (one rewritten meanwhile would leave the embedding of its new
        content under the old one's digest)."""

        def keep(rows: np.ndarray, start: int, stop: int) -> None:
            picked = [positions[j] for j in range(start, stop)]
            self.put([digest_if_unchanged(paths[i], seen[i]) for i in picked], rows[start:stop])

        return keep

    def _read(self, path: Path) -> np.ndarray | None:
        """The vector ``path`` holds, where it is a whole ``.npy`` file of one finite
        float32 vector of the model's width and of unit length; None otherwise (its
        header is read first, so that a file that claims a huge shape allocates
        nothing)."""
        try:
            with open(path, "rb") as fh:
                data = fh.read(_MAX_HEADER + 4 * self.width + 1)
        except OSError:  # (none yet, or unreadable: embedded again)
            return None
        from .dictionary import _npy_header

        try:
            with io.BytesIO(data) as handle:
                shape, fortran, dtype = _npy_header(handle)
                start = handle.tell()
        except (ValueError, EOFError, OSError):  # (cut short, or not a .npy)
            return None
        if shape != (self.width,) or dtype != np.dtype("<f4") or fortran:
            return None
        if len(data) != start + 4 * self.width:  # (cut short, or more after it)
            return None
        vector = np.frombuffer(data, dtype="<f4", offset=start).copy()
        if not np.isfinite(vector).all():
            return None
        # (the model's embeddings are of unit length: a file of other values is damaged,
        # or not of this cache, and its image is embedded again)
        return vector if abs(float(np.linalg.norm(vector)) - 1.0) <= _NORM_SLACK else None

    def put(self, digests: list[str | None], X: np.ndarray) -> None:
        """Keep the rows of ``X`` (embeddings of the images of ``digests``) that are
        finite and whose image has a digest (None: an image changed since its digest
        was taken, or not read). A folder that takes no file stops the writing for the
        run, said once."""
        if not self._writable:
            return
        for digest, row in zip(digests, X, strict=True):
            if digest is None or not np.isfinite(row).all():
                continue
            try:
                self._write(self._path(digest), np.asarray(row, dtype=np.float32))
            except OSError as exc:
                self._writable = False
                self.say(
                    f"the embeddings of the images are not kept for {self.later}: {self.folder} "
                    f"cannot be written ({exc.strerror or exc}); {self.fix}"
                )
                return
            self.n_written += 1

    def _write(self, path: Path, vector: np.ndarray) -> None:
        if self.n_written == 0:
            self._make_folder()
        try:
            path.parent.mkdir(exist_ok=True)
        except FileNotFoundError:
            # (the folder removed during the run, by `sksplice cache --clear images`: made
            # again, not taken for one that cannot be written)
            self._make_folder()
            path.parent.mkdir(exist_ok=True)
        with io.BytesIO() as buffer:
            np.save(buffer, vector, allow_pickle=False)
            _renamed_into_place(path, buffer.getvalue())

    def _make_folder(self) -> None:
        """Make the folder, with its ``key.json``, where they are missing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self.folder / "key.json"
        if not key.exists():
            _renamed_into_place(key, json.dumps(self.key, indent=1).encode("utf-8"))


def _renamed_into_place(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it to ``path``: a
    reader sees no file or a whole one. (Not :func:`~sksplice._atomic.atomic_write`: no
    fsync for each of thousands of small files; a file cut short by a crash is not read
    back, and its image is embedded again.)"""
    from ._atomic import temporary_name

    tmp = path.with_name(temporary_name(path.name))
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def installed_libraries() -> dict[str, str]:
    """The versions of the libraries that decode and preprocess an image and run the
    model, as a folder's ``key.json`` records them: a folder of other versions is read
    by no run of this installation."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("torch", "torchvision", "open_clip_torch", "pillow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - installed with sksplice
            found[package] = "none"
    return found


def _pipeline(embedder: Any) -> dict[str, str]:
    """What besides the weights makes an image's embedding: the libraries that decode
    and preprocess it and run the model, and the kind of device (a GPU's convolutions
    round otherwise than a CPU's)."""
    found = installed_libraries()
    device = getattr(embedder, "device", None)
    if isinstance(device, str):
        from ._device import resolve_device

        try:
            found["device"] = resolve_device(device).split(":")[0]
        except Exception:  # (said where the model is loaded)
            found["device"] = device
    return found
