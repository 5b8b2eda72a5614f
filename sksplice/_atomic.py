"""Atomic file writes and the temporary files they leave behind.

:func:`atomic_write` writes to a temporary file in the destination folder and
renames it into place, so a reader sees either the old file or the complete new
one; :func:`remove_stale_temporaries` removes the temporary files left by
writers that were killed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "KeptElsewhereError",
    "atomic_write",
    "check_writable",
    "remove_stale_temporaries",
]

#: A temporary file older than this is removed even when its writer's process
#: id is in use (process ids are reused; a writer touches its file far more
#: often: a dictionary cache is written in well under a second, command output
#: record by record).
_STALE_TEMPORARY_SECONDS = 3600.0

logger = logging.getLogger(__name__)


#: Standard streams named as paths: written through, never renamed over.
_STREAM_NAMES = frozenset({"/dev/stdout", "/dev/stderr"})
_STREAM_PREFIXES = ("/dev/fd/", "/proc/self/fd/")


#: The extensions of an HTML page (a report written by ``write_report``, ``report -o``,
#: ``compare --report``); a file named for another format is warned about.
PAGE_EXTENSIONS = (".html", ".htm", ".xhtml")


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


def _not_a_file(path: Path, mode: int) -> OSError:
    """The error of a target that is neither a regular file nor written through."""
    what = _kind_of(mode)
    error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
    return error(
        errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL,
        f"Refusing to write {str(path)!r}: it is {what}, not a regular file, a named "
        "pipe or a character device; choose a file path",
    )


class KeptElsewhereError(OSError):
    """What :func:`atomic_write` wrote could not be put where it belongs (a folder made
    read-only during the write, a target another program holds open): it is kept in
    ``kept``, which the message names, rather than removed."""

    def __init__(self, errno_: int | None, message: str, kept: Path) -> None:
        super().__init__(errno_, message)
        self.kept = kept

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errno, self.strerror, self.kept))


def _kept_elsewhere(exc: OSError, tmp: Path, complete: Path | None, what: str) -> OSError:
    """The error of a write whose temporary file ``tmp`` could not be renamed into place
    (``exc``): the file is moved to ``complete`` where it can be, else left as it is,
    and the error names where it is (``what``: what it holds)."""
    kept = tmp
    if complete is not None:
        try:
            os.replace(tmp, complete)
            kept = complete
        except OSError:
            pass
    reason = exc.strerror or str(exc)
    later = (
        ""
        if kept != tmp
        else " (move it away before writing there again: a later write removes such "
        "temporary files)"
    )
    return KeptElsewhereError(exc.errno, f"{reason}; {what} is kept in {kept}{later}", kept)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    *,
    partial: str | os.PathLike[str] | None = None,
    keep_complete: bool = False,
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
        a target written through. Where that rename fails, the temporary file
        is kept and :class:`KeptElsewhereError` names it.
    keep_complete : bool, default=False
        What to do with the complete content when it cannot be renamed over
        ``path`` (a folder made read-only meanwhile; on Windows, a target open
        in another program): True keeps it, as ``<path>.new`` where it can be
        renamed to, else in the temporary file, and raises
        :class:`KeptElsewhereError` naming it (for results that took long to
        make); False removes it (a cache, made again next time).

    Yields
    ------
    file object
        A binary file object open for writing.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    KeptElsewhereError
        If the content (complete, with ``keep_complete``; or what was written
        before an interruption, with ``partial``) could not be renamed where
        it belongs and is kept elsewhere: its ``kept`` attribute says where.
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
        raise _not_a_file(path, mode)
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
    # A name of our own (not mkstemp) so that a new file gets the usual
    # permissions of the umask rather than 0600 (a file replaced keeps its own).
    # The writer's process id in the name lets a later run tell a temporary file
    # left by a killed writer from one being written (see :func:`temporary_files_of`).
    tmp = target.with_name(temporary_name(target.name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        if mode is not None and hasattr(os, "fchmod"):
            # The file replaced keeps its read and write permissions (a private 0600 file
            # stays private), as far as the file system lets it: some (vfat, CIFS) refuse
            # chmod, where the new file keeps those the folder gives it.
            with contextlib.suppress(OSError):
                os.fchmod(fd, stat.S_IMODE(mode) & 0o777)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        if partial is not None and isinstance(exc, KeyboardInterrupt):
            # what was written reaches the disk before it is kept (where the system lets a
            # read-only handle sync it: Windows does not)
            with contextlib.suppress(OSError):
                _fsync_file(tmp)
            try:
                os.replace(tmp, partial)
            except FileNotFoundError:
                pass  # (no temporary file: nothing was kept)
            except OSError as error:
                what = "what was written before the interruption"
                raise _kept_elsewhere(error, tmp, None, what) from exc
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        os.replace(tmp, target)
    except BaseException as exc:
        if keep_complete and isinstance(exc, OSError) and os.path.lexists(tmp):
            complete = target.with_name(target.name + ".new")
            raise _kept_elsewhere(exc, tmp, complete, "the complete content") from exc
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before the content is made, a ``path`` that :func:`atomic_write` would refuse.

    What is written through (a named pipe, a character device, a standard
    stream) passes. A folder, a block device or a socket is refused with
    :func:`atomic_write`'s error; for anything else a temporary file is created
    in the folder the file would be written in, and removed: permission bits do
    not tell (the superuser ignores them; a read-only mount, ``/proc`` or an
    append-only folder refuses even the superuser). The folder itself must
    exist (``atomic_write`` would create it: say that it does not first).

    Parameters
    ----------
    path : str or os.PathLike
        The file about to be written with :func:`atomic_write`.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    OSError
        If ``path`` is a block device or a socket, or its folder takes no new
        file (a ``PermissionError`` for a read-only folder); the error names
        ``path`` and says what to do.
    """
    path = Path(path)
    try:
        mode: int | None = os.stat(path).st_mode  # follows symbolic links
    except OSError:
        mode = None
    if mode is not None and _write_through(path, mode):
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise _not_a_file(path, mode)
    refusal = folder_refusal(Path(os.path.realpath(path)).parent)
    if refusal is not None:
        raise type(refusal)(
            refusal.errno,
            f"Cannot write {os.fspath(path)!r}: {refusal.strerror}; choose a path in a "
            "writable folder",
        ) from None


def folder_refusal(folder: str | os.PathLike[str]) -> OSError | None:
    """Why the existing ``folder`` cannot take a file written as :func:`atomic_write`
    writes one, or None when it can.

    A temporary file is made there and removed: permission bits do not tell (the
    superuser ignores them; a read-only mount, ``/proc`` or an append-only folder
    refuses even the superuser), and a file that cannot be removed could not be
    renamed over a previous one either.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder that exists.

    Returns
    -------
    OSError or None
        The system's error (its ``errno`` kept: a ``PermissionError`` for a
        read-only folder) with a ``strerror`` that says what failed where, for
        the caller's message; None when the file was made and removed.
    """
    import tempfile

    folder = os.fspath(folder)
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".sksplice-probe-", suffix=".tmp")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOENT and os.path.isdir(folder):
            # (the system's reason for a folder that exists, such as /proc, whose file
            # system makes no files)
            reason = "its file system makes no new files"
        return type(exc)(exc.errno, f"no file can be created in folder {folder} ({reason})")
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError as exc:
        return type(exc)(
            exc.errno,
            f"a file made in folder {folder} cannot be removed there "
            f"({exc.strerror or exc}), so no file there could be replaced either; "
            f"remove {probe} by hand",
        )
    return None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _host() -> str:
    """This machine's name as it appears in temporary file names (letters, digits, ``-``)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def temporary_name(name: str, suffix: str = ".tmp") -> str:
    """Name of a temporary file written by this process before it becomes ``name``.

    Parameters
    ----------
    name : str
        Final file name.
    suffix : str, default=".tmp"
        End of the name: another one (``".old"``) makes names of another kind,
        which :func:`temporary_files_of` lists apart.

    Returns
    -------
    str
        ``".<name>.<pid>.<host>.<random>.tmp"`` (the name cut to 96 characters):
        hidden, unique, and carrying the id of the writing process and the name
        of its machine (a folder may be shared between machines).
    """
    return f".{name[:96]}.{os.getpid()}.{_host()}.{secrets.token_hex(6)}{suffix}"


def temporary_files_of(
    path: str | os.PathLike[str], suffix: str = ".tmp"
) -> list[tuple[Path, int | None]]:
    """Temporary files left next to ``path`` by :func:`atomic_write`.

    Parameters
    ----------
    path : str or os.PathLike
        Final file whose temporary siblings are listed.
    suffix : str, default=".tmp"
        The end of their names, as given to :func:`temporary_name`.

    Returns
    -------
    list of (pathlib.Path, int or None)
        Each temporary file with the process id of its writer on this machine;
        None when it cannot be asked: the writer ran on another machine sharing
        the folder, or the name has no process id (an older version wrote it).
    """
    path = Path(path)
    pattern = _temporary_pattern(re.escape(f".{path.name[:96]}."), suffix)
    found = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match:
                found.append((entry, _local_writer(match)))
    return sorted(found)


def _temporary_pattern(start: str, suffix: str) -> re.Pattern[str]:
    """The names :func:`temporary_name` gives, after ``start`` (a regular expression of
    the final name's part): the writer's process id and machine, if any, a random part
    and ``suffix``."""
    return re.compile(
        start
        + r"(?:(?P<pid>[0-9]+)\.(?:(?P<host>[A-Za-z0-9-]{1,32})\.)?)?[0-9a-f]{12}"
        + re.escape(suffix)
    )


def _local_writer(match: re.Match[str]) -> int | None:
    """The process id of the writer a temporary name (``match``) names, where it ran on
    this machine; None where it cannot be asked."""
    pid, host = match.group("pid"), match.group("host")
    return int(pid) if pid and (host is None or host == _host()) else None


def remove_stale_temporaries(path: str | os.PathLike[str], started: float) -> None:
    """Remove temporary files of ``path`` left by writers that were killed.

    A temporary file is stale when it is older than the build that is about
    to write ``path`` (``started``) and either it was written on this machine
    by a process (named in the file name) that is no longer running, or it is
    older than ``_STALE_TEMPORARY_SECONDS`` (process ids are reused, and a
    writer on another machine sharing the folder cannot be asked, so its file
    is left alone until then).

    Parameters
    ----------
    path : str or os.PathLike
        Final file whose temporary siblings are considered.
    started : float
        When the write about to replace ``path`` began (:func:`time.time`); a
        temporary file modified since is kept.
    """
    for tmp, pid in temporary_files_of(path):
        try:
            mtime = tmp.stat().st_mtime
        except OSError:
            continue
        if mtime >= started or _writer_gone(mtime, pid) is None:
            continue
        try:
            tmp.unlink()
        except OSError as exc:  # another build removed it, or a read-only folder
            logger.debug("could not remove the stale temporary file %s: %s", tmp, exc)
        else:
            logger.info("removed %s, a temporary file left by an interrupted write", tmp)


def _writer_gone(mtime: float, pid: int | None) -> str | None:
    """Why the writer of a temporary file last modified at ``mtime`` is gone: its process
    (``pid``, on this machine) is no longer running, or the file is older than
    ``_STALE_TEMPORARY_SECONDS``; None where it may still be at work."""
    if time.time() - mtime >= _STALE_TEMPORARY_SECONDS:
        return "written to last more than an hour ago"
    if pid is not None and not _process_alive(pid):
        return f"its writer, process {pid}, is no longer running"
    return None


#: A temporary file's name (:func:`temporary_name`) of any final name.
_ANY_TEMPORARY = _temporary_pattern(r"\.(?P<name>.+?)\.", ".tmp")


def abandoned_temporary(tmp: str | os.PathLike[str]) -> str | None:
    """Why the temporary file ``tmp`` (named by :func:`temporary_name`) is left by a
    writer that is gone (``"its writer, process 123, is no longer running"``), or None
    when its writer may still be at work (or the name is no such file's)."""
    tmp = Path(tmp)
    match = _ANY_TEMPORARY.fullmatch(tmp.name)
    if match is None:
        return None
    try:
        mtime = tmp.stat().st_mtime
    except OSError:
        return None
    return _writer_gone(mtime, _local_writer(match))


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
