"""Tests of the data home, atomic writes, cache names and verified downloads."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sksplice import _atomic, _download
from sksplice._atomic import atomic_write
from sksplice._data import (
    file_sha256,
    get_cache_dir,
    get_data_home,
    resolve_in_data_home,
    safe_cache_name,
    unwritable_reason,
)
from sksplice._download import (
    DataFetchError,
    DigestMismatchError,
    RemoteFile,
    fetch_file,
    fetch_remote_file,
)

from ._helpers_data import LocalServer, Route, block_network, sha256_bytes, start_server
from ._helpers_faults import refuse_renames_onto

GOOD = b"".join(f"concept {i}\n".encode() for i in range(5000))  # ~60 kB, several chunks
GOOD_SHA = sha256_bytes(GOOD)
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server():
    state = LocalServer(
        routes={
            "/good.txt": Route(GOOD),
            "/truncated.txt": Route(GOOD[:1000], declared_length=len(GOOD)),
            "/short.txt": Route(GOOD[:1000]),
            "/wrong.txt": Route(GOOD.replace(b"concept 7\n", b"concept 8\n")),
            "/slow.txt": Route(GOOD, delay=3.0),
        }
    )
    httpd, thread = start_server(state)
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """An http://127.0.0.1 address on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.txt"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith("."))


# --------------------------------------------------------------------------- data home


def test_get_data_home_argument_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "from_env"))
    home = get_data_home(tmp_path / "arg" / "nested")
    assert home == (tmp_path / "arg" / "nested").absolute()
    assert home.is_dir()
    assert not (tmp_path / "from_env").exists()


def test_get_data_home_env_then_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    default = tmp_path / "home" / ".cache" / "sksplice"

    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env"
    assert (tmp_path / "from_env").is_dir()
    assert not default.exists()

    monkeypatch.setenv("SKSPLICE_DATA", "  ")  # blank counts as unset
    assert get_data_home() == default

    monkeypatch.delenv("SKSPLICE_DATA")
    assert get_data_home() == default
    assert default.is_dir()


def test_a_blank_environment_variable_is_said_once(tmp_path, monkeypatch, caplog):
    # `export SKSPLICE_CACHE=$CACHE` with CACHE unset: taken as unset without a word, the
    # vocabulary was embedded again into the default cache folder (and a blank
    # SKSPLICE_DATA gave a download error that did not say why).
    from sksplice import _data
    from sksplice._data import get_cache_dir

    monkeypatch.setattr(_data, "_BLANK_SAID", set())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SKSPLICE_DATA", "")
    monkeypatch.setenv("SKSPLICE_CACHE", " ")
    with caplog.at_level("WARNING", logger="sksplice"):
        assert get_data_home() == tmp_path / "home" / ".cache" / "sksplice"
        get_data_home()
        assert get_cache_dir().is_relative_to(tmp_path / "xdg")
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "$SKSPLICE_DATA is set but empty: it is taken as unset, and the default data home is "
        "used; unset it, or set it to a folder",
        "$SKSPLICE_CACHE is set but empty: it is taken as unset, and the default cache folder "
        "is used; unset it, or set it to a folder",
    ]
    # unset, or given as an argument: nothing said
    caplog.clear()
    monkeypatch.setattr(_data, "_BLANK_SAID", set())
    monkeypatch.delenv("SKSPLICE_DATA")
    with caplog.at_level("WARNING", logger="sksplice"):
        get_data_home()
        get_cache_dir(tmp_path / "given")
    assert not caplog.records


def test_get_data_home_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/data") == tmp_path / "data"
    monkeypatch.setenv("SKSPLICE_DATA", "~/envdata")
    assert get_data_home() == tmp_path / "envdata"


def test_get_data_home_rejects_files_and_bad_types(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        get_data_home(a_file)
    with pytest.raises(TypeError, match="data_home"):
        get_data_home(42)


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_folders_are_refused_not_read_as_the_working_folder(tmp_path, blank, monkeypatch):
    from sksplice._data import get_cache_dir

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"cache_dir is blank .*; give a folder"):
        get_cache_dir(blank)
    with pytest.raises(ValueError, match=r"data_home is blank"):
        get_data_home(blank)
    assert list(tmp_path.iterdir()) == []


def test_get_data_home_existing_folder_is_not_touched(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    before = folder.stat().st_mtime_ns
    assert get_data_home(folder) == folder
    assert folder.stat().st_mtime_ns == before
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------- helpers


def test_file_sha256_matches_hashlib_across_chunks(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(GOOD)
    assert file_sha256(path) == hashlib.sha256(GOOD).hexdigest()
    assert file_sha256(path, chunk_size=7) == GOOD_SHA
    path.write_bytes(b"")
    assert file_sha256(path) == hashlib.sha256(b"").hexdigest()


ESCAPES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "a/../../b",
    "C:\\Windows\\system32",
    "nul\x00byte",
    "~/.ssh/id_rsa",
    ".hidden",
    "hf-hub:org/model@main",
    "ViT-B-32",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_safe_cache_name_never_leaves_the_data_home(tmp_path, text):
    name = safe_cache_name(text, "openai", suffix=".npy")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".")
    assert name.endswith(".npy")
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert len(name) <= 64 + 1 + 16 + 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=3))
def test_safe_cache_name_property(parts):
    name = safe_cache_name(*parts)
    assert name not in ("", ".", "..")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert not name.startswith((".", "-", "_"))
    assert name == safe_cache_name(*parts)


def test_safe_cache_name_distinguishes_inputs_with_equal_readable_parts():
    names = {
        safe_cache_name("a/b"),
        safe_cache_name("a_b"),
        safe_cache_name("a", "b"),
        safe_cache_name("a?b"),
        safe_cache_name("a\\b"),
    }
    assert len(names) == 5
    assert all(n.startswith("a_b-") for n in names)


def test_safe_cache_name_validation():
    with pytest.raises(TypeError, match="part 1"):
        safe_cache_name("model", None)
    with pytest.raises(ValueError, match="at least one"):
        safe_cache_name()
    with pytest.raises(ValueError, match="suffix"):
        safe_cache_name("x", suffix="/../evil")
    with pytest.raises(ValueError, match="max_stem"):
        safe_cache_name("x", max_stem=0)
    assert safe_cache_name("x" * 500, max_stem=10).startswith("x" * 10 + "-")


@pytest.mark.parametrize(
    "bad",
    ["../x", "/etc/passwd", "a/../../x", "C:/x", "a\\..\\x", "", "a//b", "./a", "a/."],
)
def test_resolve_in_data_home_rejects_escapes(tmp_path, bad):
    with pytest.raises(ValueError, match="data home"):
        resolve_in_data_home(bad, tmp_path)


def test_user_symlinks_in_the_data_home_are_followed(tmp_path, monkeypatch):
    """A data home whose vocab folder links to a shared read-only copy works offline."""
    shared = tmp_path / "shared" / "vocab"
    shared.mkdir(parents=True)
    (shared / "t.txt").write_bytes(GOOD)
    home = tmp_path / "home"
    home.mkdir()
    (home / "vocab").symlink_to(shared, target_is_directory=True)
    assert resolve_in_data_home("vocab/t.txt", home) == home / "vocab" / "t.txt"

    block_network(monkeypatch)
    path = fetch_file(
        "vocab/t.txt", url="https://example.org/t.txt", sha256=GOOD_SHA, data_home=home
    )
    assert path.read_bytes() == GOOD


# --------------------------------------------------------------------------- atomic_write


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")
@pytest.mark.parametrize("perms", [0o600, 0o640, 0o664])
def test_a_file_replaced_keeps_its_permissions(tmp_path, perms):
    # a private results file written again must not become readable by others
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(perms)
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == perms
    link = tmp_path / "link.csv"  # (through a link: the file it leads to)
    link.symlink_to(target)
    with atomic_write(link) as fh:
        fh.write(b"again")
    assert link.is_symlink() and stat.S_IMODE(target.stat().st_mode) == perms


def test_a_file_system_refusing_chmod_still_gets_the_file(tmp_path, monkeypatch):
    # (vfat, CIFS: keeping the permissions is best effort, never a reason to fail)
    target = tmp_path / "out.csv"
    target.write_text("old")

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse, raising=False)
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new" and _leftovers(tmp_path) == []


def test_atomic_write_writes_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    with atomic_write(target) as fh:
        fh.write(b"hello")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_bytes() == b"hello"
    assert _leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_leaves_nothing_on_exception(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as fh:
        fh.write(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_content_on_exception(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as fh:
        fh.write(b"new but unfinished")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"


def test_atomic_write_keeps_an_interrupted_write_as_partial(tmp_path):
    target, partial = tmp_path / "file.csv", tmp_path / "file.csv.partial"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target, partial=partial) as fh:
        fh.write(b"failed")
        raise RuntimeError  # not an interruption: removed
    assert [p.name for p in tmp_path.iterdir()] == ["file.csv"]
    with pytest.raises(KeyboardInterrupt), atomic_write(target, partial=partial) as fh:
        fh.write(b"rows so far")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and partial.read_bytes() == b"rows so far"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.csv", "file.csv.partial"]


def test_atomic_write_keeps_complete_content_it_cannot_put_in_place(tmp_path, monkeypatch):
    # The rename of a complete run's results failed (a folder made read-only during the
    # run; on Windows, the target open in a spreadsheet): the results were deleted, or
    # left in a hidden temporary file that no message named.
    from sksplice._atomic import KeptElsewhereError

    target, new = tmp_path / "out.csv", tmp_path / "out.csv.new"
    target.write_bytes(b"old")
    refuse_renames_onto(monkeypatch, target)
    with (
        pytest.raises(KeptElsewhereError) as refused,
        atomic_write(target, keep_complete=True) as fh,
    ):
        fh.write(b"every row")
    assert refused.value.kept == new and new.read_bytes() == b"every row"
    assert refused.value.errno == 13
    assert str(refused.value.strerror) == (
        f"Permission denied; the complete content is kept in {new}"
    )
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.new"]
    # no rename at all (a read-only folder): the temporary file, named, is kept
    new.unlink()
    refuse_renames_onto(monkeypatch, target, new)
    with (
        pytest.raises(KeptElsewhereError) as refused,
        atomic_write(target, keep_complete=True) as fh,
    ):
        fh.write(b"every row")
    kept = refused.value.kept
    assert kept.parent == tmp_path and kept.name.startswith(".out.csv.") and kept.suffix == ".tmp"
    assert kept.read_bytes() == b"every row"
    assert f"the complete content is kept in {kept} (move it away before writing" in str(
        refused.value
    )
    kept.unlink()
    # without keep_complete (a cache, made again next time): removed, the error as it was
    with pytest.raises(PermissionError) as plain, atomic_write(target) as fh:
        fh.write(b"cache")
    assert not isinstance(plain.value, KeptElsewhereError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_names_where_an_interrupted_write_is_kept(tmp_path, monkeypatch):
    # FILE.partial could not be made: the records were said to be in it all the same.
    import pickle

    from sksplice._atomic import KeptElsewhereError

    target, partial = tmp_path / "out.csv", tmp_path / "out.csv.partial"
    refuse_renames_onto(monkeypatch, partial)
    with pytest.raises(KeptElsewhereError) as refused, atomic_write(target, partial=partial) as fh:
        fh.write(b"rows so far")
        raise KeyboardInterrupt
    kept = refused.value.kept
    assert isinstance(refused.value.__cause__, KeyboardInterrupt)
    assert kept.read_bytes() == b"rows so far" and not partial.exists()
    assert "what was written before the interruption is kept in" in str(refused.value)
    copy = pickle.loads(pickle.dumps(refused.value))
    assert (copy.kept, copy.strerror) == (kept, refused.value.strerror)


def test_atomic_write_keeps_a_partial_file_the_system_will_not_sync(tmp_path, monkeypatch):
    # Windows refuses fsync through a read-only handle ("Bad file descriptor"): the rename
    # to FILE.partial was not tried, and the records were said to be kept elsewhere.
    import sksplice._atomic as atomic_module

    def refused(path):
        raise OSError(9, "Bad file descriptor")

    monkeypatch.setattr(atomic_module, "_fsync_file", refused)
    target, partial = tmp_path / "file.csv", tmp_path / "file.csv.partial"
    with pytest.raises(KeyboardInterrupt), atomic_write(target, partial=partial) as fh:
        fh.write(b"rows so far")
        raise KeyboardInterrupt
    assert partial.read_bytes() == b"rows so far"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.csv.partial"]


def test_atomic_write_whose_temporary_file_vanished_names_no_file_kept(tmp_path):
    # (a cleaner removed it during the write: nothing is kept, so no file is named)
    from sksplice._atomic import KeptElsewhereError

    target = tmp_path / "out.csv"
    with pytest.raises(FileNotFoundError) as gone, atomic_write(target, keep_complete=True) as fh:
        fh.write(b"rows")
        for tmp in tmp_path.iterdir():
            tmp.unlink()
    assert not isinstance(gone.value, KeptElsewhereError)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_inner_write_leaves_no_temporary_file_of_the_outer_one(tmp_path, monkeypatch):
    from sksplice._atomic import KeptElsewhereError

    inner = tmp_path / "inner.csv"
    refuse_renames_onto(monkeypatch, inner)
    with pytest.raises(KeptElsewhereError), atomic_write(tmp_path / "outer.csv") as outer:
        outer.write(b"outer rows")
        with atomic_write(inner, keep_complete=True) as fh:
            fh.write(b"inner rows")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inner.csv.new"]


def test_atomic_write_syncs_the_partial_file_before_keeping_it(tmp_path, monkeypatch):
    """The rows kept in FILE.partial are on disk before the rename, like a complete write."""
    import sksplice._atomic as atomic_module

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        atomic_module.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1]
    )
    monkeypatch.setattr(
        atomic_module.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    target, partial = tmp_path / "file.csv", tmp_path / "file.csv.partial"
    with pytest.raises(KeyboardInterrupt), atomic_write(target, partial=partial) as fh:
        fh.write(b"rows so far")
        raise KeyboardInterrupt
    assert partial.read_bytes() == b"rows so far"
    assert events[-2:] == ["fsync", "replace"], events


def test_atomic_write_writes_through_a_named_pipe(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            received.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with atomic_write(fifo) as fh:
        fh.write(b"through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a pipe, not a regular file
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file


def _char_device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device node that a faulty writer cannot harm the system through.

    Where the system's ``/dev`` can be written (as root), a private node of the
    same device (major 1: ``null`` 3, ``full`` 7) is made in ``tmp_path``, so a
    writer that replaced it would only replace the copy; otherwise the system
    node is used, which the permissions of ``/dev`` protect.
    """
    system = Path("/dev") / name
    if not system.exists():
        pytest.skip(f"no {system} here")
    if not os.access("/dev", os.W_OK):
        return system
    private = tmp_path / name
    try:
        os.mknod(private, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        with open(private, "wb"):
            pass
    except OSError as exc:
        pytest.skip(f"cannot make a private character device here ({exc})")
    return private


def test_atomic_write_writes_through_character_devices(tmp_path):
    device = _char_device(tmp_path, "null", 3)
    before = os.stat(device)
    assert stat.S_ISCHR(before.st_mode)
    with atomic_write(device) as fh:
        fh.write(b"discarded")
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert _leftovers(device.parent) == []


def test_atomic_write_full_device_fails_and_keeps_the_node(tmp_path):
    device = _char_device(tmp_path, "full", 7)
    before = os.stat(device)
    with pytest.raises(OSError, match="No space"), atomic_write(device) as fh:
        fh.write(b"x" * 10)
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_atomic_write_through_standard_output_redirected_to_a_file(tmp_path):
    # /dev/fd/1 rather than /dev/stdout: a faulty writer that tried to replace it
    # would fail to create its temporary file in /proc instead of replacing the
    # system's /dev/stdout link.
    out = tmp_path / "out.txt"
    script = (
        "from sksplice._atomic import atomic_write\n"
        "with atomic_write('/dev/fd/1') as fh:\n"
        "    fh.write(b'result')\n"
    )
    with open(out, "wb") as fh:
        fh.write(b"kept ")
        fh.flush()
        subprocess.run(
            [sys.executable, "-c", script], stdout=fh, check=True, cwd=REPO_ROOT, timeout=60
        )
    assert out.read_bytes() == b"kept result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_follows_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real" / "report.html"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    chain = tmp_path / "chain.html"
    chain.symlink_to(link)
    with atomic_write(chain) as fh:
        fh.write(b"new")
    assert chain.is_symlink() and link.is_symlink()
    assert os.readlink(chain) == str(link)
    assert real.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []
    # A dangling link names the file to create; the link stays a link.
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "real" / "created.html")
    with atomic_write(dangling) as fh:
        fh.write(b"created")
    assert dangling.is_symlink()
    assert (tmp_path / "real" / "created.html").read_bytes() == b"created"
    # A link into a missing folder is refused, naming both paths.
    broken = tmp_path / "broken.html"
    broken.symlink_to(tmp_path / "missing" / "x.html")
    with pytest.raises(FileNotFoundError, match="missing"), atomic_write(broken):
        pass
    assert broken.is_symlink()


def test_atomic_write_refuses_a_folder_and_a_socket(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="folder"), atomic_write(folder):
        pass
    assert folder.is_dir()
    sock_path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(sock_path))
        with pytest.raises(OSError, match="socket"), atomic_write(sock_path):
            pass
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    finally:
        server.close()


def test_temporary_files_of_lists_only_that_file(tmp_path):
    target = tmp_path / "cache.npz"
    mine = tmp_path / _atomic.temporary_name(target.name)
    old_style = tmp_path / ".cache.npz.0123456789ab.tmp"
    other = tmp_path / _atomic.temporary_name("other.npz")
    for p in (mine, old_style, other):
        p.write_bytes(b"")
    found = dict(_atomic.temporary_files_of(target))
    assert found == {mine: os.getpid(), old_style: None}


# --------------------------------------------------------------------------- fetch_file


def test_fetch_downloads_verifies_and_then_uses_the_cache(tmp_path, server):
    path = fetch_file(
        "vocab/test.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
    )
    assert path == tmp_path / "vocab" / "test.txt"
    assert path.read_bytes() == GOOD
    assert server.requests == ["/good.txt"]
    assert _leftovers(tmp_path) == []

    again = fetch_file(
        "vocab/test.txt", url=server.url("/good.txt"), sha256=GOOD_SHA.upper(), data_home=tmp_path
    )
    assert again == path
    assert server.requests == ["/good.txt"]  # no second request


def test_cached_good_file_needs_no_network(tmp_path, closed_port_url, monkeypatch):
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "test.txt").write_bytes(GOOD)

    block_network(monkeypatch)
    path = fetch_file("vocab/test.txt", url=closed_port_url, sha256=GOOD_SHA, data_home=tmp_path)
    assert path.read_bytes() == GOOD


def test_corrupted_cache_is_refetched(tmp_path, server):
    target = tmp_path / "vocab" / "test.txt"
    target.parent.mkdir()
    target.write_bytes(GOOD[:-5] + b"xxxx\n")
    with pytest.warns(UserWarning, match="was not used, and was replaced by a fresh download"):
        path = fetch_file(
            "vocab/test.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
        )
    assert path.read_bytes() == GOOD
    assert server.requests == ["/good.txt"]
    assert _leftovers(tmp_path) == []


def test_corrupted_cache_offline_is_never_used(tmp_path, closed_port_url):
    target = tmp_path / "vocab" / "test.txt"
    target.parent.mkdir()
    target.write_bytes(b"corrupted")
    bad_sha = sha256_bytes(b"corrupted")
    with warnings.catch_warnings(record=True) as caught, pytest.raises(DataFetchError) as info:
        warnings.simplefilter("always")
        fetch_file("vocab/test.txt", url=closed_port_url, sha256=GOOD_SHA, data_home=tmp_path)
    message = str(info.value)
    assert bad_sha in message and GOOD_SHA in message
    assert "not used" in message
    # said once, in the error (a warning before it said the same)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("route", ["/truncated.txt", "/short.txt", "/wrong.txt"])
def test_bad_downloads_are_rejected_and_leave_nothing(tmp_path, server, route):
    with pytest.raises(DataFetchError) as info:
        fetch_file("vocab/test.txt", url=server.url(route), sha256=GOOD_SHA, data_home=tmp_path)
    message = str(info.value)
    assert "vocab/test.txt" in message
    assert not (tmp_path / "vocab" / "test.txt").exists()
    assert _leftovers(tmp_path) == []
    if route == "/truncated.txt":
        assert "cut short" in message and f"received 1000 of {len(GOOD)} bytes" in message
    else:
        body = server.routes[route].body
        assert isinstance(info.value, DigestMismatchError)
        assert GOOD_SHA in message and sha256_bytes(body) in message


def test_offline_error_says_where_to_put_the_file(tmp_path, closed_port_url):
    with pytest.raises(DataFetchError) as info:
        fetch_file("means/x_image.pt", url=closed_port_url, sha256=GOOD_SHA, data_home=tmp_path)
    message = str(info.value)
    assert "means/x_image.pt" in message
    assert closed_port_url in message
    assert str(tmp_path / "means") in message
    assert "SKSPLICE_DATA" in message
    assert isinstance(info.value, OSError)


def test_offline_error_without_any_socket(tmp_path, monkeypatch):
    offline = requests.exceptions.ConnectionError(
        "Failed to resolve 'example.org' ([Errno -3] Temporary failure in name resolution)"
    )
    block_network(monkeypatch, offline)
    with pytest.raises(DataFetchError, match="name resolution") as info:
        fetch_file(
            "vocab/laion.txt",
            url="https://example.org/vocab/laion.txt",
            sha256=GOOD_SHA,
            data_home=tmp_path,
        )
    assert "https://example.org/vocab/laion.txt" in str(info.value)
    assert str(tmp_path / "vocab") in str(info.value)


@pytest.mark.parametrize("proxy", [False, True])
def test_a_host_name_that_does_not_resolve_is_said_so(proxy):
    # urllib3's own exceptions, nested as requests raises them: the reason came with the
    # connection's repr around it ("HTTPSConnection(host='example.org', port=443): ...")
    import socket

    import urllib3
    from urllib3.connection import HTTPSConnection
    from urllib3.exceptions import MaxRetryError, NameResolutionError, ProxyError

    from sksplice._download import _failure_reason

    gaierror = socket.gaierror(-3, "Temporary failure in name resolution")
    unresolved = NameResolutionError("example.org", HTTPSConnection("example.org", 443), gaierror)
    pool = urllib3.HTTPSConnectionPool("example.org", 443)
    if proxy:
        cause = ProxyError("Unable to connect to proxy", unresolved)
        exc = requests.exceptions.ProxyError(MaxRetryError(pool, "/x", cause))
    else:
        exc = requests.exceptions.ConnectionError(MaxRetryError(pool, "/x", unresolved))
    said = "the host name 'example.org' cannot be resolved: [Errno -3] Temporary failure in "
    said += "name resolution"
    assert _failure_reason(exc) == ("cannot connect to the proxy: " if proxy else "") + said


def test_http_error_is_reported(tmp_path, server):
    with pytest.raises(DataFetchError, match="404"):
        fetch_file("x.txt", url=server.url("/missing"), sha256=GOOD_SHA, data_home=tmp_path)


def test_timeout_is_honoured(tmp_path, server):
    with pytest.raises(DataFetchError, match="timed out"):
        fetch_file(
            "x.txt", url=server.url("/slow.txt"), sha256=GOOD_SHA, data_home=tmp_path, timeout=0.3
        )
    assert not (tmp_path / "x.txt").exists()


def test_env_var_is_the_default_data_home(tmp_path, server, monkeypatch):
    monkeypatch.setenv("SKSPLICE_DATA", str(tmp_path / "env_home"))
    path = fetch_remote_file(RemoteFile("vocab/t.txt", server.url("/good.txt"), GOOD_SHA))
    assert path == tmp_path / "env_home" / "vocab" / "t.txt"
    assert path.read_bytes() == GOOD


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/file.txt",
        "ftp://127.0.0.1/file.txt",
        "file:///etc/passwd",
        "https://",
        "http://127.0.0.2.example.org/x",
    ],
)
def test_only_https_or_loopback_http(tmp_path, url):
    with pytest.raises(ValueError, match="https"):
        fetch_file("x.txt", url=url, sha256=GOOD_SHA, data_home=tmp_path)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "127.5.5.5"])
def test_loopback_hosts(host):
    assert _download._is_loopback(host)


@pytest.mark.parametrize("host", ["example.org", "10.0.0.1", "", None, "localhost.example"])
def test_non_loopback_hosts(host):
    assert not _download._is_loopback(host)


def test_fetch_validates_arguments(tmp_path, server):
    url = server.url("/good.txt")
    with pytest.raises(ValueError, match="sha256"):
        fetch_file("x.txt", url=url, sha256="abc", data_home=tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        fetch_file("x.txt", url=url, sha256=GOOD_SHA, data_home=tmp_path, timeout=0)
    with pytest.raises(ValueError, match="data home"):
        fetch_file("../escape.txt", url=url, sha256=GOOD_SHA, data_home=tmp_path / "home")
    assert not (tmp_path / "escape.txt").exists()
    assert server.requests == []


def test_concurrent_fetches_never_see_a_partial_file(tmp_path, server):
    results: list[bytes] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            path = fetch_file(
                "vocab/c.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
            )
            results.append(path.read_bytes())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert results == [GOOD] * 6
    assert _leftovers(tmp_path) == []


def test_fetched_file_has_the_permissions_of_an_ordinary_file(tmp_path, server):
    """Readable by the other users of a shared data home, as the umask allows."""
    umask = os.umask(0)
    os.umask(umask)
    path = fetch_file("p.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_loopback_downloads_bypass_a_configured_proxy(tmp_path, server, closed_port_url):
    proxy = closed_port_url.rsplit("/", 1)[0]
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            mp.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            mp.delenv(name, raising=False)
        path = fetch_file("p.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path)
    assert path.read_bytes() == GOOD
    assert server.requests == ["/good.txt"]


def test_progress_bar_when_verbose(tmp_path, server, capsys):
    fetch_file(
        "p.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path, verbose=True
    )
    assert "p.txt" in capsys.readouterr().err


def test_unwritable_target_is_reported(tmp_path, server):
    home = tmp_path / "home"
    home.mkdir()
    (home / "vocab").write_text("a file where a folder should be")
    with pytest.raises(DataFetchError, match=r"vocab/t\.txt"):
        fetch_file("vocab/t.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=home)


_CHILD = """
import hashlib, sys
from sksplice._download import fetch_file
path = fetch_file("vocab/p.txt", url=sys.argv[1], sha256=sys.argv[2], data_home=sys.argv[3])
print(hashlib.sha256(path.read_bytes()).hexdigest())
"""


def test_concurrent_processes_never_see_a_partial_file(tmp_path, server):
    """Several processes fetch one file while this one keeps reading it."""
    server.routes["/delayed.txt"] = Route(GOOD, delay=0.2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}
    args = [server.url("/delayed.txt"), GOOD_SHA, str(tmp_path)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    target = tmp_path / "vocab" / "p.txt"
    seen = set()
    while any(child.poll() is None for child in children):
        if target.exists():
            seen.add(hashlib.sha256(target.read_bytes()).hexdigest())
        time.sleep(0.002)
    outputs = [child.communicate(timeout=60)[0].strip() for child in children]
    assert [child.returncode for child in children] == [0] * 4
    assert outputs == [GOOD_SHA] * 4
    assert seen <= {GOOD_SHA}
    assert _leftovers(tmp_path) == []


def test_download_is_announced_on_the_sksplice_logger_not_by_pooch(tmp_path, server, caplog, capfd):
    import pooch

    pooch_level = pooch.get_logger().level
    with caplog.at_level(logging.DEBUG):
        path = fetch_file(
            "vocab/test.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
        )
    assert path.read_bytes() == GOOD
    assert capfd.readouterr().err == ""  # pooch's own logger writes to standard error
    assert pooch.get_logger().level == pooch_level
    ours = [r for r in caplog.records if r.name.startswith("sksplice")]
    assert [r.name for r in ours] == ["sksplice._download"]
    (record,) = ours
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "'vocab/test.txt'" in message
    assert server.url("/good.txt") in message and str(path) in message
    assert f"{len(GOOD) / 1024:.1f} KiB" in message
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        fetch_file(
            "vocab/test.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
        )
    assert [r for r in caplog.records if r.name.startswith("sksplice")] == []  # cached: no word


def test_size_of_a_download_in_words():
    assert _download._size_text(None) == "size not given"
    assert _download._size_text("oops") == "size not given"
    assert _download._size_text("1000") == "1000 bytes"
    assert _download._size_text(str(3 << 20)) == "3.0 MiB"
    assert _download._size_text(str(5 << 30)) == "5.0 GiB"


_KILLED_CHILD = """
import sys
from sksplice._download import fetch_file
fetch_file("vocab/p.txt", url=sys.argv[1], sha256=sys.argv[2], data_home=sys.argv[3])
"""


def test_killed_download_leaves_a_hidden_temporary_the_next_fetch_removes(tmp_path, server):
    """A download killed part way leaves a hidden file naming its process, removed next time."""
    big = GOOD * 4  # more than one 64 KiB chunk arrives before the transfer hangs
    server.routes["/hangs.txt"] = Route(big[:150_000], declared_length=len(big), stall=30.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}
    args = [server.url("/hangs.txt"), GOOD_SHA, str(tmp_path)]
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, *args], env=env)
    folder = tmp_path / "vocab"
    deadline = time.monotonic() + 60
    try:
        while not any(p.stat().st_size >= 1 << 16 for p in folder.glob("*") if p.is_file()):
            assert child.poll() is None, "the download ended before it could be killed"
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
    finally:
        child.kill()
        child.wait(timeout=30)
    left = sorted(folder.iterdir())
    assert [p.name for p in left if not p.name.startswith(".")] == []
    target = folder / "p.txt"
    assert [(p, pid) for p, pid in _atomic.temporary_files_of(target)] == [(left[0], child.pid)]
    assert len(left) == 1

    path = fetch_file(
        "vocab/p.txt", url=server.url("/good.txt"), sha256=GOOD_SHA, data_home=tmp_path
    )
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in folder.iterdir()) == ["p.txt"]


def test_redirects_are_followed_only_to_accepted_addresses(tmp_path, server):
    server.routes["/moved.txt"] = Route(status=302, location=server.url("/good.txt"))
    server.routes["/away.txt"] = Route(status=302, location="http://example.org/good.txt")
    path = fetch_file("a.txt", url=server.url("/moved.txt"), sha256=GOOD_SHA, data_home=tmp_path)
    assert path.read_bytes() == GOOD
    assert server.requests == ["/moved.txt", "/good.txt"]
    with pytest.raises(DataFetchError, match=r"Refusing to download from 'http://example\.org"):
        fetch_file("b.txt", url=server.url("/away.txt"), sha256=GOOD_SHA, data_home=tmp_path)
    assert not (tmp_path / "b.txt").exists()


def test_the_writability_probe_creates_nothing(tmp_path):
    """A missing folder is judged by the nearest existing one above it, and is not
    created (nor is anything left there); a file on the way is no folder."""
    folder = tmp_path / "a" / "b" / "dictionaries"
    assert unwritable_reason(folder) is None
    assert list(tmp_path.iterdir()) == []
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert unwritable_reason(afile / "cache") == f"{afile} is not a folder"
    assert unwritable_reason(afile) == f"{afile} is not a folder"
    assert list(tmp_path.iterdir()) == [afile]


def test_get_cache_dir_can_check_without_creating(tmp_path):
    folder = tmp_path / "new" / "cache"
    assert get_cache_dir(folder, create=False) == folder
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError, match=r"Cannot create the sksplice cache folder .*not a folder"):
        get_cache_dir(tmp_path / "afile" / "cache", create=False)
    with pytest.raises(NotADirectoryError, match="exists but is not a folder"):
        get_cache_dir(tmp_path / "afile", create=False)
    assert get_cache_dir(folder) == folder and folder.is_dir()  # (created by default)
