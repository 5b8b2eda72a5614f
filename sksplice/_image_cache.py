"""A disk cache of image embeddings, for the command line.

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
import uuid
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("sksplice")

#: Bytes of an image file read at a time to take its digest.
_READ = 1 << 20


def file_digest(path: str | os.PathLike[str]) -> str | None:
    """The SHA-256 of the bytes of ``path`` (hex), or None where it cannot be read (the
    embedder then says why, as it would without the cache)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(_READ):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


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

    @classmethod
    def for_embedder(
        cls, embedder: Any, width: int, cache_dir: str | os.PathLike[str] | None
    ) -> ImageEmbeddingCache | None:
        """The cache of ``embedder``'s image embeddings under the cache folder
        (``get_cache_dir(cache_dir) / "images"``), or None where its weights cannot be
        identified or no cache folder can be had (the run embeds every image)."""
        from ._data import get_cache_dir
        from ._version import __version__

        cache_key = getattr(embedder, "cache_key", None)  # (an embedder of another family)
        key = cache_key() if callable(cache_key) else None
        if key is None:
            return None
        what = {"embedder": key, "sksplice": __version__}
        name = hashlib.sha256(json.dumps(what, sort_keys=True).encode("utf-8")).hexdigest()
        try:
            folder = get_cache_dir(cache_dir, create=False) / "images" / name[:20]
        except OSError:
            return None
        return cls(folder, width, what)

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest[2:]}.npy"

    def get(self, digests: list[str | None]) -> dict[int, np.ndarray]:
        """The embeddings held for ``digests`` (of images), by their position; a digest
        of None, or without a usable file, is not among them."""
        found: dict[int, np.ndarray] = {}
        for i, digest in enumerate(digests):
            if digest is None:
                continue
            vector = self._read(self._path(digest))
            if vector is not None:
                found[i] = vector
        self.n_read += len(found)
        return found

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            vector = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):  # (cut short, or not a .npy: embedded again)
            return None
        if vector.dtype != np.float32 or vector.shape != (self.width,):
            return None
        if not np.isfinite(vector).all():
            return None
        return vector

    def put(self, digests: list[str | None], X: np.ndarray) -> None:
        """Keep the rows of ``X`` (embeddings of the images of ``digests``) that are
        finite and whose image has a digest. A folder that takes no file stops the
        writing for the run, said once."""
        if not self._writable:
            return
        for digest, row in zip(digests, X, strict=True):
            if digest is None or not np.isfinite(row).all():
                continue
            try:
                self._write(self._path(digest), np.asarray(row, dtype=np.float32))
            except OSError as exc:
                self._writable = False
                logger.warning(
                    "the embeddings of the images are not kept for later runs: %s cannot be "
                    "written (%s)",
                    self.folder,
                    exc.strerror or exc,
                )
                return
            self.n_written += 1

    def _write(self, path: Path, vector: np.ndarray) -> None:
        if self.n_written == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            key = self.folder / "key.json"
            if not key.exists():
                _renamed_into_place(key, json.dumps(self.key, indent=1).encode("utf-8"))
        path.parent.mkdir(exist_ok=True)
        with io.BytesIO() as buffer:
            np.save(buffer, vector, allow_pickle=False)
            _renamed_into_place(path, buffer.getvalue())


def _renamed_into_place(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it to ``path``: a
    reader sees no file or a whole one. (No fsync: a file cut short by a crash is not
    read back, and its image is embedded again.)"""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
