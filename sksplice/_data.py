"""Data home, cache folder, cache file names and file digests.

The files that sksplice downloads (the SpLiCE vocabularies and image means)
live under one folder, the *data home*:

1. the ``data_home`` argument of the function at hand, else
2. the ``SKSPLICE_DATA`` environment variable, else
3. ``~/.cache/sksplice``.

What sksplice computes and caches (embedded vocabularies) goes to the *cache
folder* instead (:func:`get_cache_dir`: the ``cache_dir`` argument, else
``SKSPLICE_CACHE``, else the per-user cache folder), so the data home may be
read-only and shared.

Files published upstream keep their upstream relative layout inside the data
home (``vocab/laion.txt``, ``means/clip_RN50_image.pt`` ...), so a folder that
already holds them works with no network access at all, even read-only.

Downloads into the data home are in :mod:`sksplice._download`, atomic writes
in :mod:`sksplice._atomic`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_HOME_ENV",
    "cache_dir_chosen",
    "file_sha256",
    "get_cache_dir",
    "get_data_home",
    "readable_name",
    "resolve_in_data_home",
    "safe_cache_name",
]

logger = logging.getLogger(__name__)

#: Environment variable that names the data home when no argument is given.
DATA_HOME_ENV = "SKSPLICE_DATA"
#: Environment variable that names the cache folder when no argument is given.
CACHE_DIR_ENV = "SKSPLICE_CACHE"

_DEFAULT_DATA_HOME = Path("~") / ".cache" / "sksplice"
_CHUNK_SIZE = 1 << 20


#: The environment variables found set but blank, each said once (see :func:`_env_folder`).
_BLANK_SAID: set[str] = set()


def _env_folder(name: str) -> str | None:
    """The folder the environment variable ``name`` names, or None where it is unset or
    blank. A blank one (``export SKSPLICE_DATA=$DATA`` with ``DATA`` unset) is taken as
    unset, as an XDG variable is, and said once, at WARNING: it is most likely a mistake,
    and the files would otherwise be looked for (or embedded again) elsewhere without a
    word."""
    value = os.environ.get(name)
    if value is None:
        return None
    if value.strip():
        return value
    if name not in _BLANK_SAID:
        _BLANK_SAID.add(name)
        what = "data home" if name == DATA_HOME_ENV else "cache folder"
        logger.warning(
            "$%s is set but empty: it is taken as unset, and the default %s is used; "
            "unset it, or set it to a folder",
            name,
            what,
        )
    return None


def get_data_home(data_home: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """Return the sksplice data home, creating the folder when it is missing.

    Parameters
    ----------
    data_home : str, os.PathLike or None, default=None
        Folder to use. When None, the ``SKSPLICE_DATA`` environment variable
        is used if set and not empty, else ``~/.cache/sksplice``. ``~`` is
        expanded in every case.
    create : bool, default=True
        Whether to create the folder when it is missing. False only checks that
        it can be created (the nearest existing folder above it takes a file),
        leaving the file system as it was: for a check made before anything is
        known to be written there.

    Returns
    -------
    pathlib.Path
        The absolute path of the data home. An existing folder is never
        written to, so a read-only data home that already holds every file
        works.

    Raises
    ------
    NotADirectoryError
        If the path exists and is not a folder.
    OSError
        If the folder does not exist and cannot be created; the message names
        the folder and how to choose another one.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sksplice import get_data_home
    >>> folder = Path(tempfile.mkdtemp()) / "sksplice-data"
    >>> get_data_home(folder) == folder, folder.is_dir()
    (True, True)
    """
    if data_home is None:
        env = _env_folder(DATA_HOME_ENV)
        data_home = env if env is not None else _DEFAULT_DATA_HOME
    elif not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"data_home must be a str, an os.PathLike or None, got {type(data_home).__name__}"
        )
    return _ensure_folder(data_home, "data home", "data_home", DATA_HOME_ENV, create=create)


def _ensure_folder(
    folder: str | os.PathLike[str], what: str, parameter: str, env: str, *, create: bool = True
) -> Path:
    """``folder`` as an absolute path, created if missing; errors say how to choose another.

    With ``create=False`` the folder is only checked: that it is a folder, or that
    it can be created (the nearest existing folder above it takes a file); nothing
    is created or left behind.
    """
    text = os.fspath(folder)
    if isinstance(text, str) and not text.strip():
        # (Path("") is the working folder: a blank setting is a mistake, not a choice)
        raise ValueError(
            f"{parameter} is blank ({text!r}); give a folder, or leave it unset (None) to "
            f"use ${env} or the default folder"
        )
    path = Path(os.path.expanduser(text)).absolute()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(
            f"The sksplice {what} {str(path)!r} exists but is not a folder; pass another "
            f"{parameter} or set ${env}."
        )
    if not create:
        reason = unwritable_reason(path)
        if reason is not None:
            raise OSError(_cannot_create(path, what, reason, parameter, env))
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            exc.errno, _cannot_create(path, what, exc.strerror or str(exc), parameter, env)
        ) from exc
    return path


def _cannot_create(path: Path, what: str, reason: str, parameter: str, env: str) -> str:
    """The message of a folder that cannot be created."""
    return (
        f"Cannot create the sksplice {what} {str(path)!r} ({reason}); pass a writable "
        f"folder as {parameter} or set ${env}"
    )


def _nearest_existing(path: Path) -> Path:
    """``path``, or the nearest folder above it that exists (a broken link exists)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def unsearchable_reason(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot even be looked up (a folder on its way that cannot be
    searched: another user's, of mode 700), or None (it exists, or does not).
    ``os.stat`` says it; ``Path.exists`` says False on Python 3.14."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return str(exc.strerror or exc).rstrip(".")
    return None


def unwritable_reason(folder: str | os.PathLike[str]) -> str | None:
    """Why no file can be written in ``folder``, or None if one can.

    Nothing is created: a missing ``folder`` is judged by the nearest existing
    folder above it, where it would be created (with ``mkdir -p``). That one is
    tried by creating and removing a small file there: permission bits do not
    tell (the superuser ignores them; an immutable folder or a read-only mount
    refuses even the superuser).

    Parameters
    ----------
    folder : str or os.PathLike
        The folder that files are to be written in, existing or not.

    Returns
    -------
    str or None
        A short reason (the system's, or that a path on the way is not a
        folder), or None when a file can be written there.
    """
    import tempfile

    path = _nearest_existing(Path(folder))
    if not path.is_dir():
        return f"{path} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=".sksplice-probe-", dir=path)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def cache_dir_chosen(cache_dir: str | os.PathLike[str] | None) -> bool:
    """Whether the cache folder is a choice (``cache_dir``, or ``$SKSPLICE_CACHE``), not
    the platform's default: a chosen folder that cannot be used is an error, a default
    one only costs the disk cache."""
    return cache_dir is not None or _env_folder(CACHE_DIR_ENV) is not None


def get_cache_dir(cache_dir: str | os.PathLike[str] | None = None, *, create: bool = True) -> Path:
    """Return the folder of the caches that sksplice computes, creating it when missing.

    The caches (embedded vocabularies) are kept apart from the data home, which
    only holds published files and may be read-only and shared between users.

    Parameters
    ----------
    cache_dir : str or os.PathLike, default=None
        Folder to use. When None, the ``SKSPLICE_CACHE`` environment variable
        is used if set and not empty, else the per-user cache folder of the
        platform (``platformdirs.user_cache_dir("sksplice")``: on Linux
        ``$XDG_CACHE_HOME/sksplice``, by default ``~/.cache/sksplice``). ``~`` is
        expanded in every case.
    create : bool, default=True
        Whether to create the folder when it is missing. False only checks that
        it can be created (the nearest existing folder above it takes a file),
        leaving the file system as it was: for a check made before anything is
        known to be written there.

    Returns
    -------
    pathlib.Path
        The absolute path of the cache folder.

    Raises
    ------
    NotADirectoryError
        If the path exists and is not a folder.
    OSError
        If the folder does not exist and cannot be created; the message names
        the folder and how to choose another one.
    """
    if cache_dir is None:
        if cache_dir_chosen(None):
            cache_dir = os.environ[CACHE_DIR_ENV]
        else:
            import platformdirs

            cache_dir = platformdirs.user_cache_dir("sksplice", appauthor=False)
    elif not isinstance(cache_dir, str | os.PathLike):
        raise TypeError(
            f"cache_dir must be a str, an os.PathLike or None, got {type(cache_dir).__name__}"
        )
    return _ensure_folder(cache_dir, "cache folder", "cache_dir", CACHE_DIR_ENV, create=create)


#: The cache folder (its option as given: None for the default) under which the digests
#: of checkpoint files are remembered across processes (:func:`checkpoint_digests_kept`),
#: in this context (a thread of its own, a run of its own); unset: in this process only.
_DIGEST_FOLDER: contextvars.ContextVar[tuple[str | os.PathLike[str] | None] | None] = (
    contextvars.ContextVar("sksplice_digest_folder", default=None)
)

#: Seconds within which a file's times may not yet tell a write that follows (the
#: granularity of some file systems' times, as git's "racily clean" rule has it): the
#: digest of a file written that recently is not kept.
_RACY_SECONDS = 2.0


@contextlib.contextmanager
def checkpoint_digests_kept(cache_dir: str | os.PathLike[str] | None) -> Iterator[None]:
    """In the block, the digest of a checkpoint file (which identifies its weights in the
    caches of embeddings) is also kept in ``<cache dir>/checkpoints/`` and read back
    from there while the file keeps its device, inode, size and times: the command line
    runs a process for each command, and hashing a checkpoint takes about half a second
    per 600 MB. Not on Windows, where no time tells that a file was written in place."""
    token = _DIGEST_FOLDER.set((cache_dir,))
    try:
        yield
    finally:
        _DIGEST_FOLDER.reset(token)


def digest_memo(path: str, version: tuple[int, int, int, int]) -> Path | None:
    """The file that keeps the digest of ``path`` at ``version`` (its size, times and
    inode), or None (not kept)."""
    chosen = _DIGEST_FOLDER.get()
    if chosen is None or os.name == "nt":
        return None
    try:
        folder = get_cache_dir(chosen[0], create=False) / "checkpoints"
        device = os.stat(path).st_dev
    except (OSError, ValueError):  # (said where the caches are used)
        return None
    what = "\0".join([os.path.realpath(path), str(device), *map(str, version)])
    return folder / f"{hashlib.sha256(what.encode('utf-8')).hexdigest()[:32]}.sha256"


def settled(stat: os.stat_result) -> bool:
    """Whether the file of ``stat`` was last written long enough ago that a write now
    would show in its times (:data:`_RACY_SECONDS`)."""
    import time

    return time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_SECONDS * 1e9


def file_sha256(path: str | os.PathLike[str], *, chunk_size: int = _CHUNK_SIZE) -> str:
    """Return the SHA-256 digest of a file as 64 lower-case hexadecimal characters.

    Parameters
    ----------
    path : str or os.PathLike
        File to hash; it is read in chunks, so its size does not matter.
    chunk_size : int, default=1 MiB
        Number of bytes read at a time.

    Returns
    -------
    str
        The hexadecimal digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def readable_name(text: str) -> str:
    """``text`` with every run of characters other than ``[A-Za-z0-9._-]`` replaced by ``_``.

    The characters a cache file name keeps of the string it is named after;
    callers trim the result to their own length and edges.

    Parameters
    ----------
    text : str
        Any string, e.g. a model name or an embedder's cache key.

    Returns
    -------
    str
        The string, safe in a file name apart from leading dots.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def safe_cache_name(*parts: str, suffix: str = "", max_stem: int = 64) -> str:
    """Build a file name that is safe to use inside the data home from arbitrary strings.

    The readable part keeps only ``[A-Za-z0-9._-]`` of the joined ``parts``
    (other characters become ``_``), never starts with a dot and is cut to
    ``max_stem`` characters; a hash of the exact ``parts`` is appended, so two
    different inputs never share a name even when their readable parts agree.
    The result contains no path separator and cannot be ``.`` or ``..``, so
    ``data_home / safe_cache_name(...)`` always stays inside the data home.

    Parameters
    ----------
    *parts : str
        Strings that identify the cached object, e.g. a model name, a
        pretrained tag or a path given by a user.
    suffix : str, default=""
        File extension to append, such as ``".npy"``; it must itself be made
        of ``[A-Za-z0-9._-]`` and start with a dot (or be empty).
    max_stem : int, default=64
        Longest readable part kept before the hash.

    Returns
    -------
    str
        A name like ``"ViT-B-32_openai-3f9a0c1d2e4b5a69.npy"``.

    Raises
    ------
    TypeError
        If a part is not a string.
    ValueError
        If no part is given, or ``suffix`` or ``max_stem`` is invalid.
    """
    if not parts:
        raise ValueError("safe_cache_name needs at least one string")
    for i, part in enumerate(parts):
        if not isinstance(part, str):
            raise TypeError(f"safe_cache_name: part {i} must be a str, got {type(part).__name__}")
    if suffix and not re.fullmatch(r"\.[A-Za-z0-9._-]{1,16}", suffix):
        raise ValueError(
            f"suffix must be empty or a dot followed by 1 to 16 characters of "
            f"[A-Za-z0-9._-], got {suffix!r}"
        )
    if not isinstance(max_stem, int) or max_stem < 1:
        raise ValueError(f"max_stem must be a positive int, got {max_stem!r}")
    readable = readable_name("_".join(parts))
    readable = readable.lstrip("._-")[:max_stem].rstrip("._-") or "x"
    # Length-prefixing each part makes ("a_b",) and ("a", "b") hash differently.
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass")
        digest.update(len(raw).to_bytes(8, "little"))
        digest.update(raw)
    return f"{readable}-{digest.hexdigest()[:16]}{suffix}"


def resolve_in_data_home(
    relative_path: str | os.PathLike[str],
    data_home: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
) -> Path:
    """Join a relative path to the data home, refusing any path that would leave it.

    Parameters
    ----------
    relative_path : str or os.PathLike
        Relative path with ``/`` separators, e.g. ``"vocab/laion.txt"``.
    data_home : str or os.PathLike, default=None
        See :func:`get_data_home`.
    create : bool, default=True
        Whether a missing data home is created (see :func:`get_data_home`).

    Returns
    -------
    pathlib.Path
        ``get_data_home(data_home) / relative_path``.

    Raises
    ------
    ValueError
        If the path is empty, absolute, has a drive, or contains ``..``,
        ``.`` or empty components, backslashes or NUL characters.

    Notes
    -----
    The check is lexical: symbolic links that the user placed inside the
    data home (for instance ``vocab`` pointing to a shared read-only copy)
    are followed, which is what makes such set-ups work.
    """
    text = os.fspath(relative_path)
    if not isinstance(text, str):
        raise TypeError(f"relative_path must be a str path, got {type(text).__name__}")
    parts = text.split("/")
    bad = (
        not text
        or "\\" in text
        or "\x00" in text
        or text.startswith("/")
        or PurePosixPath(text).is_absolute()
        or re.match(r"^[A-Za-z]:", text) is not None
        or any(p in ("", ".", "..") for p in parts)
    )
    if bad:
        raise ValueError(
            f"{text!r} is not a safe path inside the data home: use a relative path made of "
            "'/'-separated names, without '..', '.', empty parts, backslashes or a drive"
        )
    return get_data_home(data_home, create=create).joinpath(*parts)
