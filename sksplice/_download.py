"""Verified downloads into the data home.

Downloads are streamed by pooch's HTTP downloader (:class:`pooch.HTTPDownloader`)
into a temporary file of :func:`sksplice._atomic.atomic_write` in the
destination folder, and renamed into place only once their SHA-256 digest
matches the pinned one. Renaming is atomic on POSIX and Windows, so a reader
(another thread or process) sees either no file or the complete, verified
file. The temporary file is hidden and carries the id of the downloading
process, so that the next download of the same file removes one left by a
download that was killed (:func:`sksplice._atomic.remove_stale_temporaries`).
This module adds what pooch leaves to its callers: the data home, a warning for
a cached file with another digest, the accepted addresses (also after
redirects), the file permissions of a shared data home, the announcement of
each download on the ``sksplice._download`` logger, and errors that say where
to put the file by hand.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import stat
import sys
import time
import urllib.parse
from pathlib import Path
from typing import IO, NamedTuple

from ._atomic import atomic_write, remove_stale_temporaries
from ._data import DATA_HOME_ENV, file_sha256, resolve_in_data_home
from ._stack import warn_user
from .exceptions import DataFetchError, DigestMismatchError

__all__ = [
    "DataFetchError",
    "DigestMismatchError",
    "RemoteFile",
    "fetch_file",
    "fetch_remote_file",
]

_PROGRESS_MIN_BYTES = 4 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

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
            from ._progress import progress

            self._bar = progress(
                total or None, desc=self._desc, unit="B", unit_scale=True, unit_divisor=1024
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


def _size_text(length: str | None) -> str:
    """A Content-Length header in words: ``"1000 bytes"``, ``"3.0 MiB"``."""
    try:
        size = int(length) if length is not None else -1
    except ValueError:
        size = -1
    if size < 0:
        return "size not given"
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} GiB"


class _DigestingFile:
    """A binary file that also feeds what is written to a SHA-256 digest."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()


class _Download:
    """One transfer: pooch's HTTP downloader plus the checks pooch leaves to its callers.

    Around :class:`pooch.HTTPDownloader` this adds: redirects followed only to
    addresses :func:`_check_url` accepts, no proxy for loopback addresses, the
    announcement of the transfer (what, from where, to where, its size) on
    this module's logger once the server answers, a cut-short transfer and a
    digest mismatch reported with their numbers.
    """

    def __init__(
        self, url: str, target: Path, sha256: str, timeout: float, verbose: bool | None, label: str
    ) -> None:
        self.url = url
        self.target = target
        self.sha256 = sha256
        self.timeout = timeout
        self.verbose = verbose
        self.label = label

    def into(self, fh: IO[bytes]) -> None:
        """Download into the open binary file ``fh`` and check the digest of what came."""
        import pooch
        import requests

        declared: list[str | None] = []

        def check(response: requests.Response, *args: object, **kwargs: object) -> None:
            if response.is_redirect:
                _check_url(urllib.parse.urljoin(response.url, response.headers["Location"]))
                return
            length = response.headers.get("Content-Length")
            declared.append(length)
            if response.ok:
                redirected = f" (redirected to {response.url})" if response.url != self.url else ""
                logger.info(
                    "downloading %r (%s) from %s%s to %s",
                    self.label,
                    _size_text(length),
                    self.url,
                    redirected,
                    self.target,
                )

        options: dict[str, object] = {"timeout": self.timeout, "hooks": {"response": check}}
        host = urllib.parse.urlsplit(self.url).hostname
        if _is_loopback(host):  # no proxy, also for redirects on that host
            options["proxies"] = {"no_proxy": host}
        progressbar = _ProgressBar(self.label, self.verbose) if self.verbose is not False else False
        download = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, **options)
        sink = _DigestingFile(fh)
        try:
            download(self.url, sink, None)
        except requests.exceptions.ChunkedEncodingError as exc:
            length = declared[-1] if declared else None
            received = _bytes_read(exc, sink.size)
            raise DataFetchError(
                f"Download of {self.label!r} from {self.url} was cut short: received "
                f"{received} of {length} bytes"
            ) from exc
        finally:
            if isinstance(progressbar, _ProgressBar):  # (False when there is none)
                progressbar.close()
        actual = sink.digest.hexdigest()
        if actual != self.sha256:
            raise DigestMismatchError(
                f"Downloaded {self.label!r} from {self.url} has SHA-256 {actual}, expected "
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


#: urllib3's text of a host name that does not resolve (no network, no DNS), after its
#: connection's repr: ``HTTPSConnection(host='h', port=443): Failed to resolve 'h' (...)``.
_UNRESOLVED = re.compile(r"Failed to resolve '([^']+)' \(((?:[^()]|\([^()]*\))*)\)")


def _failure_reason(exc: BaseException) -> object:
    """The innermost useful cause of a failed request, for the error message.

    A host name that cannot be resolved, the failure of a machine without network
    access, is said so, without the connection object's repr around it.
    """
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    reason = reason if reason is not None else exc
    unresolved = _UNRESOLVED.search(str(reason))
    if unresolved is None:
        return reason
    said = f"the host name {unresolved.group(1)!r} cannot be resolved: {unresolved.group(2)}"
    if "proxy" in type(reason).__name__.lower():  # (urllib3's ProxyError: $HTTPS_PROXY's host)
        said = f"cannot connect to the proxy: {said}"
    return said


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and the folders above it that do not exist yet, deepest first."""
    missing = []
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) where they are empty; never a folder with files.

    Only the folders a failed download created are given: a folder that a
    concurrent download has put a file in stays, and so do those above it.
    """
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue  # (not made: the failure came before, or another process removed it)
        except OSError:
            return  # (not empty, or not ours to remove: the folders above it stay too)


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
    downloaded again. Downloads (by :class:`pooch.HTTPDownloader`) are
    streamed to a hidden temporary file in the same folder and renamed into
    place only when the digest matches, so concurrent callers (threads or
    processes) never see a half-written file; at worst both download it. The
    temporary file of a download that was killed is removed by the next one.
    Each download is announced at level INFO on the logger
    ``sksplice._download`` (what, from where, to where, its size); pooch's own
    logger says nothing.

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
        address, the folder to put the file in by hand and the environment
        variable of the data home. The error of the transfer is its
        ``__context__``, not shown in its traceback.
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
    # (A missing data home is made with the file's folder, when the file is written.)
    target = resolve_in_data_home(relative_path, data_home, create=False)

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
    elif mode is not None:
        raise DataFetchError(
            f"{str(target)!r} exists but is not a regular file; remove it so that "
            f"{relative_path!r} can be downloaded"
        )

    # The real path: a symbolic link in place of the file is followed, and stays a link.
    real = Path(os.path.realpath(target))
    download = _Download(url, real, sha256, float(timeout), verbose, relative_path)
    made = _missing_folders(real.parent)  # (made by atomic_write, removed if the download fails)
    try:
        # A hidden temporary file naming this process, renamed into place once verified;
        # those of downloads that were killed are removed first.
        remove_stale_temporaries(real, time.time())
        with atomic_write(real) as fh:
            download.into(fh)
    except BaseException as exc:
        _remove_folders(made)  # a failed download leaves the file system as it was
        if isinstance(exc, DigestMismatchError) or not isinstance(exc, OSError | ValueError):
            raise
        # Connection and HTTP errors of requests (OSErrors), timeouts, refused
        # redirects, read-only folders and cut-short transfers all end here, said in
        # one message: the chain of requests' and urllib3's errors behind it is kept
        # as ``__context__`` (for debugging, and shown by ``sksplice --debug``), not
        # printed in front of it.
        raise DataFetchError(
            f"Could not download {relative_path!r} from {url} ({_failure_reason(exc)})."
            f"{stale_note} Without network access, download that address elsewhere and put "
            f"the file in the folder {str(target.parent)!r}"
            f"{' (create it first)' if made else ''} as {target.name!r} (expected "
            f"SHA-256 {sha256}), or point data_home (or ${DATA_HOME_ENV}) to a folder that "
            f"holds {relative_path!r}."
        ) from None
    if stale_note:
        # (said once the download has replaced it: where it fails, its error says it, and
        # a warning before it said the same again)
        warn_user(
            f"The file {str(target)!r} of the data home had SHA-256 {actual}, expected "
            f"{sha256}: it was not used, and was replaced by a fresh download from {url}",
            UserWarning,
        )
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
