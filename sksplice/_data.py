"""Data home, cache folder, atomic writes and verified downloads.

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

Downloads go through pooch (:func:`pooch.retrieve`): streamed to a temporary
file in the destination folder and renamed into place only once their SHA-256
digest matches the pinned one. Renaming is atomic on POSIX and Windows, so a
reader (another thread or process) sees either no file or the complete,
verified file. This module adds what pooch leaves to its callers: the data
home, a warning for a cached file with another digest, the accepted addresses
(also after redirects), the file permissions of a shared data home, and errors
that say where to put the file by hand.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import stat
import sys
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_HOME_ENV",
    "DataFetchError",
    "DigestMismatchError",
    "RemoteFile",
    "atomic_write",
    "fetch_file",
    "fetch_remote_file",
    "file_sha256",
    "get_cache_dir",
    "get_data_home",
    "readable_name",
    "remove_stale_temporaries",
    "resolve_in_data_home",
    "safe_cache_name",
]

#: Environment variable that names the data home when no argument is given.
DATA_HOME_ENV = "SKSPLICE_DATA"
#: Environment variable that names the cache folder when no argument is given.
CACHE_DIR_ENV = "SKSPLICE_CACHE"

_DEFAULT_DATA_HOME = Path("~") / ".cache" / "sksplice"
_CHUNK_SIZE = 1 << 20
_PROGRESS_MIN_BYTES = 4 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
#: A temporary file older than this is removed even when its writer's process
#: id is in use (process ids are reused; a writer touches its file far more
#: often: a dictionary cache is written in well under a second, command output
#: record by record).
_STALE_TEMPORARY_SECONDS = 3600.0

logger = logging.getLogger(__name__)


class RemoteFile(NamedTuple):
    """A file published upstream, pinned by its SHA-256 digest.

    Attributes
    ----------
    path : str
        Relative POSIX path of the file inside the data home (the same layout
        as upstream, e.g. ``"vocab/laion.txt"``).
    url : str
        Upstream address the file is downloaded from on first use.
    sha256 : str
        Expected SHA-256 digest, 64 lower-case hexadecimal characters.
    """

    path: str
    url: str
    sha256: str


class DataFetchError(OSError):
    """A data file is neither cached (with the right digest) nor downloadable."""


class DigestMismatchError(DataFetchError):
    """A downloaded file does not have the pinned SHA-256 digest."""


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the sksplice data home, creating the folder when it is missing.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder to use. When None, the ``SKSPLICE_DATA`` environment variable
        is used if set and not empty, else ``~/.cache/sksplice``. ``~`` is
        expanded in every case.

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
    """
    if data_home is None:
        env = os.environ.get(DATA_HOME_ENV, "")
        data_home = env if env.strip() else _DEFAULT_DATA_HOME
    elif not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"data_home must be a str, an os.PathLike or None, got {type(data_home).__name__}"
        )
    return _ensure_folder(data_home, "data home", "data_home", DATA_HOME_ENV)


def _ensure_folder(folder: str | os.PathLike[str], what: str, parameter: str, env: str) -> Path:
    """``folder`` as an absolute path, created if missing; errors say how to choose another."""
    path = Path(os.path.expanduser(os.fspath(folder))).absolute()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(
            f"The sksplice {what} {str(path)!r} exists but is not a folder; pass another "
            f"{parameter} or set ${env}."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"Cannot create the sksplice {what} {str(path)!r} ({exc.strerror or exc}); pass "
            f"a writable folder as {parameter} or set ${env}",
        ) from exc
    return path


def get_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
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
        env = os.environ.get(CACHE_DIR_ENV, "")
        if env.strip():
            cache_dir = env
        else:
            import platformdirs

            cache_dir = platformdirs.user_cache_dir("sksplice", appauthor=False)
    elif not isinstance(cache_dir, str | os.PathLike):
        raise TypeError(
            f"cache_dir must be a str, an os.PathLike or None, got {type(cache_dir).__name__}"
        )
    return _ensure_folder(cache_dir, "cache folder", "cache_dir (--cache-dir)", CACHE_DIR_ENV)


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
    relative_path: str | os.PathLike[str], data_home: str | os.PathLike[str] | None = None
) -> Path:
    """Join a relative path to the data home, refusing any path that would leave it.

    Parameters
    ----------
    relative_path : str or os.PathLike
        Relative path with ``/`` separators, e.g. ``"vocab/laion.txt"``.
    data_home : str or os.PathLike, default=None
        See :func:`get_data_home`.

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
    return get_data_home(data_home).joinpath(*parts)


#: Standard streams named as paths: written through, never renamed over.
_STREAM_NAMES = frozenset({"/dev/stdout", "/dev/stderr"})
_STREAM_PREFIXES = ("/dev/fd/", "/proc/self/fd/")


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _write_through(path: Path, mode: int) -> bool:
    """Whether ``path`` is written in place rather than replaced by a new file.

    Named pipes and character devices (``/dev/null``, a terminal) are written
    through; so is a standard stream named as a path (``/dev/stdout``) even
    when the shell redirected it to a regular file.
    """
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return True
    text = os.fspath(path)
    resolved = os.path.realpath(text)
    return stat.S_ISREG(mode) and (
        text in _STREAM_NAMES
        or text.startswith(_STREAM_PREFIXES)
        or resolved.startswith(("/proc/", "/dev/fd/"))
    )


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], *, partial: str | os.PathLike[str] | None = None
) -> Iterator[IO[bytes]]:
    """Write a file atomically: readers see the old file or the complete new one.

    The content goes to a temporary file in the same folder (created if
    needed); when the ``with`` block ends normally the data is flushed and
    fsynced and the temporary file is renamed over ``path``. If the block
    raises, the temporary file is removed (or, when interrupted, kept as
    ``partial``) and ``path`` is left untouched.

    Only regular files are ever replaced:

    * a symbolic link is followed: the new file is renamed onto the file it
      points to (resolved through every link), so the link itself stays;
    * a named pipe, a character device (``/dev/null``, a terminal) or a
      standard stream named as a path (``/dev/stdout``, ``/dev/fd/1``) is
      written through, in place, without a temporary file (such targets cannot
      be replaced atomically, and must never be replaced by a regular file);
    * a folder, a block device or a socket is refused.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    partial : str or os.PathLike, default=None
        Where what was written goes when the block is interrupted
        (``KeyboardInterrupt``): the temporary file is renamed to it, replacing
        a file of that name. None removes it like any other error. Unused for
        a target written through.

    Yields
    ------
    file object
        A binary file object open for writing.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    OSError
        If ``path`` is a block device or a socket (the message names the path
        and what it is), or cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(folder / "hello.txt") as fh:
    ...     _ = fh.write(b"hello")
    >>> (folder / "hello.txt").read_bytes()
    b'hello'
    """
    path = Path(path)
    try:
        mode: int | None = os.stat(path).st_mode  # follows symbolic links
    except FileNotFoundError:
        mode = None
    if mode is not None and _write_through(path, mode):
        # O_APPEND: a stream the shell opened with ">>" keeps its content.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
        return
    if mode is not None and not stat.S_ISREG(mode):
        what = _kind_of(mode)
        error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
        raise error(
            errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
            f"Refusing to write {str(path)!r}: it is {what}, not a regular file, a named "
            "pipe or a character device; choose a file path",
        )
    if path.is_symlink():
        # Follow the link (and any chain of links): replace the file it points
        # to, never the link. A dangling link names the file to create.
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise FileNotFoundError(
                errno.ENOENT,
                f"Cannot write {str(path)!r}: it is a symbolic link to {str(target)!r}, whose "
                "folder does not exist",
            )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = path
    # A name of our own (not mkstemp) so that the file gets the usual
    # permissions of the umask rather than 0600. The writer's process id in the
    # name lets a later run tell a temporary file left by a killed writer from
    # one being written (see :func:`temporary_files_of`).
    tmp = target.with_name(temporary_name(target.name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if partial is not None and isinstance(exc, KeyboardInterrupt):
            with contextlib.suppress(OSError):
                os.replace(tmp, partial)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def temporary_name(name: str) -> str:
    """Name of a temporary file written by this process before it becomes ``name``.

    Parameters
    ----------
    name : str
        Final file name.

    Returns
    -------
    str
        ``".<name>.<pid>.<random>.tmp"`` (the name cut to 96 characters): hidden,
        unique, and carrying the id of the writing process.
    """
    return f".{name[:96]}.{os.getpid()}.{secrets.token_hex(6)}.tmp"


def temporary_files_of(path: str | os.PathLike[str]) -> list[tuple[Path, int | None]]:
    """Temporary files left next to ``path`` by :func:`atomic_write`.

    Parameters
    ----------
    path : str or os.PathLike
        Final file whose temporary siblings are listed.

    Returns
    -------
    list of (pathlib.Path, int or None)
        Each temporary file with the process id of its writer (None for a name
        without one, written by an older version).
    """
    path = Path(path)
    pattern = re.compile(
        re.escape(f".{path.name[:96]}.") + r"(?:(?P<pid>[0-9]+)\.)?[0-9a-f]{12}\.tmp"
    )
    found = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match:
                pid = match.group("pid")
                found.append((entry, int(pid) if pid else None))
    return sorted(found)


def remove_stale_temporaries(path: str | os.PathLike[str], started: float) -> None:
    """Remove temporary files of ``path`` left by writers that were killed.

    A temporary file is stale when it is older than the build that is about
    to write ``path`` (``started``) and either its writer's process id (in its
    name) is not running on this machine, or it is older than
    ``_STALE_TEMPORARY_SECONDS`` (process ids are reused, and a writer on
    another machine sharing the folder cannot be asked).

    Parameters
    ----------
    path : str or os.PathLike
        Final file whose temporary siblings are considered.
    started : float
        When the write about to replace ``path`` began (:func:`time.time`); a
        temporary file modified since is kept.
    """
    now = time.time()
    for tmp, pid in temporary_files_of(path):
        try:
            mtime = tmp.stat().st_mtime
        except OSError:
            continue
        if mtime >= started:
            continue
        if now - mtime < _STALE_TEMPORARY_SECONDS and (pid is None or _process_alive(pid)):
            continue
        try:
            tmp.unlink()
        except OSError as exc:  # another build removed it, or a read-only folder
            logger.debug("could not remove the stale temporary file %s: %s", tmp, exc)
        else:
            logger.info("removed %s, a temporary file left by an interrupted write", tmp)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # os.kill ends processes on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # alive under another user, or unknown: keep it
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable where the platform allows it (best effort)."""
    if sys.platform.startswith("win"):  # pragma: no cover - no directory fsync on Windows
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str) -> urllib.parse.SplitResult:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return parts
    raise ValueError(
        f"Refusing to download from {url!r}: only https:// addresses are accepted "
        "(plain http:// only on the loopback hosts localhost, 127.0.0.1 and ::1)"
    )


class _ProgressBar:
    """The progress bar handed to pooch's downloader, shown once the size is known.

    ``verbose=None`` shows it only for downloads of at least 4 MiB when standard
    error is a terminal; pooch sets ``total`` before the first ``update``.
    """

    def __init__(self, desc: str, verbose: bool | None) -> None:
        self._desc = desc
        self._verbose = verbose
        self._bar = None

    @property
    def total(self) -> int | None:
        return None if self._bar is None else self._bar.total

    @total.setter
    def total(self, total: int) -> None:
        show = self._verbose
        if show is None:
            show = total >= _PROGRESS_MIN_BYTES and sys.stderr.isatty()
        if show and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total or None, desc=self._desc, unit="B", unit_scale=True, unit_divisor=1024
            )

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def reset(self) -> None:
        if self._bar is not None:
            self._bar.reset()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Downloader:
    """pooch downloader: pooch's HTTP downloader plus the checks pooch leaves to its callers.

    pooch (:func:`pooch.retrieve`) decides whether to download, streams into a
    temporary file in the destination folder and renames it into place once its
    digest matches. Around its :class:`pooch.HTTPDownloader` this adds: redirects
    followed only to addresses :func:`_check_url` accepts, no proxy for loopback
    addresses, the permissions of an ordinary file (pooch's temporary file is
    private to its owner, which a shared data home cannot use), a cut-short
    transfer and a digest mismatch reported with their numbers, and an fsync.
    """

    def __init__(self, sha256: str, timeout: float, verbose: bool | None, label: str) -> None:
        self.sha256 = sha256
        self.timeout = timeout
        self.verbose = verbose
        self.label = label

    def __call__(self, url: str, output_file: str, pooch_instance: object = None) -> None:
        import pooch
        import requests

        declared: list[str | None] = []

        def check(response: requests.Response, *args: object, **kwargs: object) -> None:
            if response.is_redirect:
                _check_url(urllib.parse.urljoin(response.url, response.headers["Location"]))
            else:
                declared.append(response.headers.get("Content-Length"))

        options: dict[str, object] = {"timeout": self.timeout, "hooks": {"response": check}}
        host = urllib.parse.urlsplit(url).hostname
        if _is_loopback(host):  # no proxy, also for redirects on that host
            options["proxies"] = {"no_proxy": host}
        progressbar = _ProgressBar(self.label, self.verbose) if self.verbose is not False else False
        download = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, **options)
        # pooch made the temporary file with mkstemp (mode 0600); make it again with the
        # permissions of an ordinary file (0666 less the umask).
        os.unlink(output_file)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(output_file, flags, 0o666)
        with os.fdopen(fd, "wb") as fh:
            try:
                download(url, fh, pooch_instance)
            except requests.exceptions.ChunkedEncodingError as exc:
                length = declared[-1] if declared else None
                received = _bytes_read(exc, fh.tell())
                raise DataFetchError(
                    f"Download of {self.label!r} from {url} was cut short: received "
                    f"{received} of {length} bytes"
                ) from exc
            finally:
                if progressbar:
                    progressbar.close()
            fh.flush()
            os.fsync(fh.fileno())
        actual = file_sha256(output_file)
        if actual != self.sha256:
            raise DigestMismatchError(
                f"Downloaded {self.label!r} from {url} has SHA-256 {actual}, expected "
                f"{self.sha256}; the download was discarded"
            )


def _bytes_read(exc: BaseException, stored: int) -> int:
    """Bytes of the body read before a transfer broke off (urllib3's count), else ``stored``.

    The last, incomplete chunk is read but never handed to the downloader.
    """
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        partial = getattr(error, "partial", None)
        if isinstance(partial, int):
            return max(partial, stored)
        if isinstance(error, BaseException):
            pending.extend(error.args)
    return stored


def _failure_reason(exc: BaseException) -> object:
    """The innermost useful cause of a failed request, for the error message."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return reason if reason is not None else exc


def fetch_file(
    relative_path: str,
    *,
    url: str,
    sha256: str,
    data_home: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
    verbose: bool | None = None,
) -> Path:
    """Return the local path of a pinned file, downloading it on first use.

    A file already in the data home with the pinned digest is returned
    without any network access (a read-only data home works). A file with
    another digest is never used: a warning is issued and the file is
    downloaded again. Downloads (by :func:`pooch.retrieve`) are streamed to a
    temporary file in the same folder and renamed into place only when the
    digest matches, so concurrent callers (threads or processes) never see a
    half-written file; at worst both download it. pooch announces each
    download on its logger (``pooch.get_logger()``, standard error).

    Parameters
    ----------
    relative_path : str
        Path of the file inside the data home, ``/``-separated, e.g.
        ``"vocab/laion.txt"``; it may not leave the data home.
    url : str
        Address to download from: ``https://``, or ``http://`` on a loopback
        host (localhost, 127.0.0.1, ::1) only.
    sha256 : str
        Expected SHA-256 digest (64 hexadecimal characters, any case).
    data_home : str or os.PathLike, default=None
        See :func:`get_data_home`.
    timeout : float, default=60.0
        Seconds to wait for the server on connection and on each read.
    verbose : bool, default=None
        Show a tqdm progress bar; None shows one only for downloads of at
        least 4 MiB when standard error is a terminal.

    Returns
    -------
    pathlib.Path
        The verified local file.

    Raises
    ------
    DataFetchError
        If the file is missing (or has the wrong digest) and cannot be
        downloaded, e.g. offline; the message names the file, the upstream
        address and the folder to put the file in by hand.
    DigestMismatchError
        If the downloaded file does not have the pinned digest (it is
        deleted); the message names the file and both digests.
    ValueError
        If ``relative_path``, ``url``, ``sha256`` or ``timeout`` is invalid.
    """
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256.lower()):
        raise ValueError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
    sha256 = sha256.lower()
    _check_url(url)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    target = resolve_in_data_home(relative_path, data_home)

    stale_note = ""
    # One stat decides: a concurrent fetch may rename the file into place between two
    # separate checks (is_file() False, then exists() True) and be taken for a non-file.
    try:
        mode: int | None = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # missing, or a parent is not a folder
        mode = None
    if mode is not None and stat.S_ISREG(mode):
        actual = file_sha256(target)
        if actual == sha256:
            return target
        stale_note = (
            f" The file already there has SHA-256 {actual} instead of {sha256} and is not used."
        )
        warnings.warn(
            f"Cached file {str(target)!r} has SHA-256 {actual}, expected {sha256}; "
            f"it is not used and will be downloaded again from {url}",
            UserWarning,
            stacklevel=2,
        )
    elif mode is not None:
        raise DataFetchError(
            f"{str(target)!r} exists but is not a regular file; remove it so that "
            f"{relative_path!r} can be downloaded"
        )

    import pooch

    # The real path: a symbolic link in place of the file is followed, and stays a link.
    real = Path(os.path.realpath(target))
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=real.name,
            path=real.parent,
            downloader=_Downloader(sha256, float(timeout), verbose, relative_path),
        )
    except DigestMismatchError:
        raise
    except (OSError, ValueError) as exc:
        # Connection and HTTP errors of requests (OSErrors), timeouts, refused
        # redirects, read-only folders and cut-short transfers all end here.
        raise DataFetchError(
            f"Could not download {relative_path!r} from {url} ({_failure_reason(exc)})."
            f"{stale_note} Without network access, download that address elsewhere and put "
            f"the file in the folder {str(target.parent)!r} as {target.name!r} (expected "
            f"SHA-256 {sha256}), or point data_home (or ${DATA_HOME_ENV}) to a folder that "
            f"holds {relative_path!r}."
        ) from exc
    _fsync_dir(real.parent)
    return target


def fetch_remote_file(
    remote: RemoteFile,
    *,
    data_home: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
    verbose: bool | None = None,
) -> Path:
    """Call :func:`fetch_file` for an entry of a registry.

    Parameters
    ----------
    remote : RemoteFile
        Relative path, upstream address and pinned digest.
    data_home : str or os.PathLike, default=None
        See :func:`get_data_home`.
    timeout : float, default=60.0
        See :func:`fetch_file`.
    verbose : bool, default=None
        See :func:`fetch_file`.

    Returns
    -------
    pathlib.Path
        The verified local file.
    """
    return fetch_file(
        remote.path,
        url=remote.url,
        sha256=remote.sha256,
        data_home=data_home,
        timeout=timeout,
        verbose=verbose,
    )
