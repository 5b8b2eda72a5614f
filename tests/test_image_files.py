"""Image files a user has that cannot be read as they are: broken and looping symbolic
links, files the system refuses to read (no permission, an input/output error), damaged
EXIF data, and PIL's warnings about a file (told with its name)."""

from __future__ import annotations

import builtins
import errno
import io
import os
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from sksplice._image_files import broken_link, file_being_read, reading
from sksplice._images import InvalidImageError, first_missing_file, load_rgb
from sksplice.embedders import CLIPEmbedder
from sksplice.exceptions import ImageFileWarning


def _png(path, orientation=None, exif_payload=None):
    """A 16 x 8 PNG (wider than tall); with an EXIF chunk holding ``exif_payload`` (bytes
    as they are, damaged or not) or an orientation tag."""
    pixels = np.zeros((8, 16, 3), np.uint8)
    pixels[:, :8] = 255
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation or 1
    Image.fromarray(pixels).save(buffer, "PNG", exif=exif.tobytes())
    data = buffer.getvalue()
    if exif_payload is not None:
        at = data.index(b"eXIf")
        size = struct.unpack(">I", data[at - 4 : at])[0]
        crc = struct.pack(">I", zlib.crc32(b"eXIf" + exif_payload) & 0xFFFFFFFF)
        chunk = struct.pack(">I", len(exif_payload)) + b"eXIf" + exif_payload + crc
        data = data[: at - 4] + chunk + data[at + 4 + size + 4 :]
    path.write_bytes(data)
    return path


def corrupt_exif_png(path, source):
    """A copy of the PNG ``source`` whose EXIF data is cut short: PIL warns "Corrupt
    EXIF data" about it, without a name, and decodes it."""
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010E] = "a description long enough to be stored outside the entry"
    buffer = io.BytesIO()
    Image.open(source).save(buffer, "PNG", exif=exif.tobytes())
    data = buffer.getvalue()
    at = data.index(b"eXIf")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    payload = data[at + 4 : at + 4 + size][:20]
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF)
    path.write_bytes(data[: at - 4] + chunk + data[at + 4 + size + 4 :])
    return path


# ------------------------------------------------------------------ symbolic links


def test_a_broken_link_is_named_with_where_it_leads(tmp_path):
    link = tmp_path / "cat.png"
    link.symlink_to(tmp_path / "moved" / "cat.png")
    with pytest.raises(FileNotFoundError) as info:
        load_rgb(str(link))
    message = str(info.value)
    assert repr(str(link)) in message
    assert f"broken symbolic link: it leads to {str(tmp_path / 'moved' / 'cat.png')!r}" in message
    assert "not found" not in message
    # the check of a list before decoding says the same
    index, error = first_missing_file([str(link)])
    assert index == 0 and str(error) == message


def test_a_chain_of_links_names_the_last_name_it_reaches(tmp_path):
    (tmp_path / "b.png").symlink_to("c.png")
    (tmp_path / "a.png").symlink_to("b.png")
    message = broken_link(str(tmp_path / "a.png"))
    assert message == (
        f"a broken symbolic link: it leads to 'b.png', then {str(tmp_path / 'c.png')!r}, "
        "which does not exist"
    )


def test_a_link_in_a_loop_is_said_to_be_one(tmp_path):
    (tmp_path / "a.png").symlink_to("b.png")
    (tmp_path / "b.png").symlink_to("a.png")
    with pytest.raises(FileNotFoundError, match=r"a\.png' is a symbolic link in a loop: it "):
        load_rgb(str(tmp_path / "a.png"))


def test_no_link_and_a_working_link_have_nothing_wrong(tmp_path):
    image = _png(tmp_path / "x.png")
    (tmp_path / "y.png").symlink_to(image)
    assert broken_link(str(image)) is None
    assert broken_link(str(tmp_path / "y.png")) is None
    assert broken_link(str(tmp_path / "missing.png")) is None


# ------------------------------------------------- files the system does not let us read


@pytest.mark.parametrize(
    ("code", "reason", "advice"),
    [
        (errno.EACCES, "Permission denied", "check its permissions"),
        (errno.EIO, "Input/output error", "may be failing"),
    ],
)
def test_a_file_the_system_cannot_read_is_not_called_corrupt(
    tmp_path, monkeypatch, code, reason, advice
):
    image = _png(tmp_path / "x.png")
    real_open = builtins.open

    def refusing(file, *args, **kwargs):
        if os.fspath(file) == str(image):
            raise OSError(code, os.strerror(code), str(image))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    with pytest.raises(InvalidImageError) as info:
        load_rgb(str(image))
    message = str(info.value)
    assert message.startswith(f"{str(image)!r} could not be read ({reason})")
    assert advice in message
    assert "corrupt" not in message and "decoded" not in message


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="needs POSIX permissions that apply (root reads any file)",
)
def test_a_file_without_read_permission_is_said_to_be_unreadable(tmp_path):
    image = _png(tmp_path / "x.png")
    image.chmod(0)
    try:
        with pytest.raises(InvalidImageError, match=r"could not be read \(Permission denied\)"):
            load_rgb(str(image))
    finally:
        image.chmod(0o644)


# --------------------------------------------------------------- damaged EXIF data


def test_a_png_with_damaged_exif_data_is_embedded_as_stored_with_a_warning(tmp_path):
    # (PIL raises SyntaxError "not a TIFF file" on turning it upright)
    path = _png(tmp_path / "x.png", exif_payload=b"not exif data at all, not a TIFF header")
    with pytest.warns(UserWarning, match="its EXIF data could not be read") as record:
        image = load_rgb(str(path))
    assert repr(str(path)) in str(record[0].message)
    assert image.mode == "RGB" and image.size == (16, 8)  # as stored, not turned
    # a PIL image opened from that file too
    with Image.open(path) as opened, pytest.warns(UserWarning, match="a PIL image: its EXIF"):
        assert load_rgb(opened).size == (16, 8)


def test_a_file_with_good_exif_data_is_still_turned_upright(tmp_path):
    path = _png(tmp_path / "x.png", orientation=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_rgb(str(path)).size == (8, 16)


# ------------------------------------------------------- the file each thread reads


def test_each_thread_knows_the_file_it_reads():
    seen = {}
    ready = threading.Barrier(2)

    def read(name):
        with reading(name):
            ready.wait()
            seen[name] = file_being_read()
        seen[name + " after"] = file_being_read()

    threads = [threading.Thread(target=read, args=(n,)) for n in ("a.png", "b.png")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a.png": "a.png", "b.png": "b.png", "a.png after": None, "b.png after": None}
    assert file_being_read() is None


def test_warnings_are_known_as_pils_by_the_folder_of_their_module():
    from sksplice._image_files import from_pil as _from_pil

    site = os.path.join(os.sep, "venv", "lib", "python3.12", "site-packages")
    assert _from_pil(os.path.join(site, "PIL", "Image.py"))
    assert not _from_pil(os.path.join(site, "PILLOW_extra", "Image.py"))
    assert not _from_pil(os.path.join(site, "numpy", "PIL.py"))


# --------------------------------------------- warnings about files, for library users


def _damaged_collection(folder):
    """Five PNGs: two of them (1 and 3) with EXIF data PIL calls corrupt, one (4) with EXIF
    data that is no TIFF header at all (not turned upright)."""
    good = [_png(folder / f"{i}.png") for i in range(5)]
    corrupt_exif_png(good[1], good[0])
    corrupt_exif_png(good[3], good[0])
    _png(good[4], exif_payload=b"not exif data at all, not a TIFF header")
    return [str(p) for p in good]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_warnings_about_damaged_files_name_each_file_at_the_users_line(
    tiny_clip_model, tmp_path, num_workers
):
    """PIL warns "Corrupt EXIF data" without naming the file, and Python's default filter
    shows one text once: a library user saw one warning for two damaged files, and not
    which. Each is now an ImageFileWarning naming its file, in input order, at the line
    of the caller, whether threads or worker processes decoded the images."""
    paths = _damaged_collection(tmp_path)
    embedder = CLIPEmbedder(
        tiny_clip_model, pretrained=None, device="cpu", batch_size=2, num_workers=num_workers
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        X = embedder.transform(paths)
    assert np.isfinite(X).all()
    told = [w for w in caught if issubclass(w.category, ImageFileWarning)]
    assert [w.message.path for w in told] == [paths[1], paths[3], paths[4]], caught
    assert [w.filename for w in told] == [__file__] * 3
    assert told[0].message.text.startswith("Corrupt EXIF data")
    assert str(told[0].message) == f"{paths[1]!r}: {told[0].message.text}"
    assert told[2].message.text.startswith("its EXIF data could not be read")
    # nothing of PIL's own, unnamed, is left
    assert not [w for w in caught if "Corrupt EXIF" in str(w.message) and w not in told]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_warnings_about_files_follow_the_users_filters(tiny_clip_model, tmp_path, num_workers):
    # (a worker process starts with the filters of the moment it is made: the caller's
    # filters are applied where the warnings are issued, in the caller's process)
    paths = _damaged_collection(tmp_path)
    embedder = CLIPEmbedder(
        tiny_clip_model, pretrained=None, device="cpu", batch_size=2, num_workers=num_workers
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ImageFileWarning)
        embedder.transform(paths)
    assert not [w for w in caught if "EXIF" in str(w.message)], caught
    # PIL's warnings silenced by module or text stay silent (sksplice's own is told)
    for silenced in ({"module": "PIL"}, {"message": "Corrupt EXIF"}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", **silenced)
            embedder.transform(paths)
        told = [w.message for w in caught if issubclass(w.category, ImageFileWarning)]
        assert [(w.path, w.text[:12]) for w in told] == [(paths[4], "its EXIF dat")], silenced
    for error in ({"category": ImageFileWarning}, {"module": "PIL"}, {"message": "Corrupt"}):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", **error)
            with pytest.raises(ImageFileWarning, match="Corrupt EXIF data") as info:
                embedder.transform(paths)
        assert info.value.path == paths[1], error
    # and the process's warning settings are as they were
    shown_by, before = warnings.showwarning, list(warnings.filters)
    with pytest.warns(ImageFileWarning):
        embedder.transform(paths[:2])
    assert warnings.showwarning is shown_by and warnings.filters == before


def test_an_image_file_warning_pickles_with_its_file():
    import pickle

    warning = pickle.loads(pickle.dumps(ImageFileWarning("a.png", "Corrupt EXIF data")))
    assert (warning.path, warning.text, str(warning)) == (
        "a.png",
        "Corrupt EXIF data",
        "'a.png': Corrupt EXIF data",
    )


def test_pil_images_in_memory_keep_the_users_filters(tiny_clip_model, tmp_path):
    # a PIL image given in memory names no file: its warnings of PIL's are shown as the
    # caller's filters say (the routing's own "always" filter took their place, and
    # "ignore" by module no longer silenced them)
    paths = _damaged_collection(tmp_path)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", batch_size=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module="PIL")
        embedder.transform([Image.open(p) for p in paths[:4]])
    assert not [w for w in caught if "Corrupt EXIF" in str(w.message)], caught
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        embedder.transform([Image.open(p) for p in paths[:4]] * 2)
    told = [w for w in caught if "Corrupt EXIF" in str(w.message)]
    assert len({str(w.message) for w in told}) == len(told) >= 1  # (once per text and line)


def test_embeddings_that_overlap_in_threads_share_one_routing_and_leave_none(
    tiny_clip_model, tmp_path
):
    """The warnings module's settings are the process's: threads that embed images at
    once (a Dask task each) put one routing in place and the last takes it away; the
    blocks restored each other's (a leaked "always" filter, a stale showwarning)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = _damaged_collection(tmp_path)
    embedder = CLIPEmbedder(tiny_clip_model, pretrained=None, device="cpu", batch_size=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown_by, before = warnings.showwarning, list(warnings.filters)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: embedder.transform(paths), range(4)))
        assert warnings.showwarning is shown_by and warnings.filters == before
    named = [w.message.path for w in caught if issubclass(w.category, ImageFileWarning)]
    assert sorted(named) == sorted([paths[1], paths[3], paths[4]] * 4)
    assert not [w for w in caught if "Corrupt EXIF" in str(w.message) and w.category is UserWarning]
