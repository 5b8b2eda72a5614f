"""The ``cache`` command: what the cache folder holds, and clearing it.

The cache folder (``--cache-dir``, ``$SKSPLICE_CACHE``, else the per-user cache
folder) holds what sksplice computed and keeps for later runs:

* ``images/<digest>/``: the embeddings of images, one folder per model, weights,
  precision, device kind and release of sksplice, torch, torchvision, open_clip
  and Pillow (its ``key.json`` says which); a folder of other releases than the
  installed ones is read by no run any more (*stale*), and nothing else limits
  the size of this part;
* ``dictionaries/<name>.npz``: embedded vocabularies, and ``<name>.partial/``,
  the blocks of an embedding that was stopped (the next run resumes from them),
  and hidden temporary files (``.<name>.npz.<pid>.<host>.<random>.tmp``): being
  written, or left by a run stopped while writing (stale once that run is gone);
* ``checkpoints/``: the digests of ``--pretrained`` checkpoint files.

``sksplice cache`` lists them on standard output, one row per entry;
``--clear WHAT`` removes the entries of one kind (or the stale ones) and lists
what it removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ._logging import CLIError, UsageError
from ._output import _size, naming_write_errors, plural

logger = logging.getLogger(__name__)

#: What ``--clear`` takes: a kind of entry, the stale entries (image folders of other
#: releases, temporary files of stopped writers), or everything.
CLEARABLE = ("stale", "images", "dictionaries", "checkpoints", "all")

#: The libraries of an image folder's key as the documentation names them.
_SAID = {"open_clip_torch": "open_clip", "pillow": "Pillow"}

#: The end of the name an entry is given while it is removed (:func:`_remove`): a
#: removal that failed part-way leaves it so, listed and removed by any ``--clear``.
_REMOVING = ".removing"


@dataclass
class Entry:
    """One entry of the cache folder, as the listing shows it."""

    kind: str  # images, dictionary, partial dictionary, temporary file, checkpoints
    path: str
    files: int
    bytes: int  # on disk
    modified: str  # the newest file's time (:func:`_when`)
    what: str
    stale: str  # why no run of this installation reads it, or ""
    vocabulary: str | None = None  # of a dictionary: which (a named one, or a digest)


def _on_disk(st: os.stat_result) -> int:
    """The bytes a file takes on disk (its blocks, where the system counts them: a file
    of 2 kB takes a block of 4 KiB), else its size."""
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks else st.st_size


def _walk_size(path: Path) -> tuple[int, int, float]:
    """Files, bytes on disk and newest modification time under ``path`` (a file or a
    folder)."""
    if path.is_file():
        st = path.stat()
        return 1, _on_disk(st), st.st_mtime
    files = size = 0
    newest = 0.0
    for root, _, names in os.walk(path):
        with contextlib.suppress(OSError):  # (a folder's own blocks: 256 in one of images)
            size += _on_disk(os.stat(root))
        for name in names:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:  # (removed while listed)
                continue
            files += 1
            size += _on_disk(st)
            newest = max(newest, st.st_mtime)
    return files, size, newest


def _when(seconds: float) -> str:
    """A time as ISO 8601 to the minute, UTC (``2026-12-06T13:09Z``); "" for none."""
    return "" if not seconds else time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(seconds))


def _image_folder(folder: Path, installed: dict[str, str], release: str) -> Entry:
    """The entry of one folder of image embeddings, stale where its ``key.json`` records
    other releases than the installed ones."""
    unknown = "no key.json: what it holds is not known"
    try:
        key = json.loads((folder / "key.json").read_text(encoding="utf-8"))
        if not isinstance(key, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        key = {}
    except (OSError, ValueError):
        key, unknown = {}, "its key.json cannot be read: what it holds is not known"
    recorded = {"sksplice": release, **installed}
    other = [
        f"{_SAID.get(name, name)} {key[name]} (installed: {version})"
        for name, version in recorded.items()
        if name in key and str(key[name]) != version
    ]
    files, size, newest = _walk_size(folder)
    what = str(key.get("embedder", unknown))
    if key.get("device"):
        what += f" on {key['device']}"
    stale = f"made with {', '.join(other)}" if other else ""
    return Entry("images", str(folder), files, size, _when(newest), what, stale)


class _NamedVocabularies:
    """The named vocabularies whose files the data folder holds with their pinned digests
    (nothing is downloaded; a file of another digest would be downloaded again by a run,
    and is left alone), each read and cleaned once for a listing."""

    def __init__(self, data_home: str | os.PathLike[str] | None) -> None:
        import warnings

        from .._data import get_data_home
        from ..vocabulary import VOCABULARIES, _published_at_hand

        self.home: Path | None = None
        # (most frequent first, as the files are verified and read for a run)
        self._frequent: dict[str, list[str]] = {}
        self._authors: dict[tuple[str, int], list[str]] = {}
        try:
            self.home = get_data_home(data_home, create=False)
        except (OSError, ValueError) as exc:
            logger.warning(
                "the data folder cannot be read (%s): each dictionary is listed by the digest "
                "of its concepts",
                exc,
            )
            return
        with warnings.catch_warnings():  # (its repeated lines: said by the runs)
            warnings.simplefilter("ignore")
            for name in VOCABULARIES:
                concepts = _published_at_hand(name, self.home)
                if concepts is not None:
                    self._frequent[name] = concepts
        if not self.home.is_dir():  # (a folder mistyped: said as such, not as one lacking files)
            # (a warning for a --data-home given; the default folder is only not made yet)
            logger.log(
                logging.INFO if data_home is None else logging.WARNING,
                "the data folder %s does not exist: each dictionary is listed by the digest of "
                "its concepts (--data-home names the folder of the vocabularies)",
                self.home,
            )
        elif len(self._frequent) < len(VOCABULARIES):  # (said once: the listing names fewer)
            lacking = [n for n in VOCABULARIES if n not in self._frequent]
            logger.info(
                "the data folder %s does not hold %s: a dictionary of %s is listed by the "
                "digest of its concepts (--data-home names another data folder)",
                self.home,
                ", ".join(lacking),
                "it" if len(lacking) == 1 else "them",
            )

    def _concepts(self, name: str, order: str, size: int) -> list[str]:
        """The first ``size`` concepts of ``name`` in ``order``: cut from the whole list,
        or, in the authors' order, whose ``size`` counts lines, read for that size."""
        import warnings

        from ..vocabulary import VOCABULARIES, _load_published

        if order == "frequency":
            return self._frequent[name][:size]
        if (name, size) not in self._authors:
            assert self.home is not None  # (a name is at hand only in a data folder read)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._authors[name, size] = _load_published(
                    name, self.home / VOCABULARIES[name].path, size, "authors"
                )
        return self._authors[name, size]

    def said(self, key: dict) -> str:
        """Which vocabulary the dictionary of ``key`` (a cached dictionary's, or a stopped
        embedding's) holds: a named one (:meth:`which`), else the start of its digest."""
        digest = str(key["vocabulary"])
        return self.which(digest, int(key["size"])) or (
            f"a vocabulary file or list (its concepts' digest {digest[:12]})"
        )

    def which(self, digest: str, size: int) -> str | None:
        """The named vocabulary whose ``size`` most frequent concepts, in one of its
        orders, have the :func:`~sksplice.dictionary.vocabulary_hash` ``digest``
        (``the 10000 most frequent of laion``); None for none."""
        from ..dictionary import vocabulary_hash
        from ..vocabulary import _VOCABULARY_COUNTS

        for name in self._frequent:
            if size > _VOCABULARY_COUNTS[name][1]:
                continue
            for order, said in (("frequency", ""), ("authors", ", in the authors' order")):
                try:
                    concepts = self._concepts(name, order, size)
                except Exception:  # (a size it has not: not this vocabulary)
                    continue
                if vocabulary_hash(concepts) == digest:
                    return f"the {size} most frequent of {name}{said}"
        return None


def _dictionary(path: Path, named: _NamedVocabularies) -> Entry:
    """The entry of an embedded vocabulary (``.npz``) or of a stopped one (``.partial``):
    its model and size, and which vocabulary it is (``the 10000 most frequent of laion``,
    else the start of :func:`~sksplice.dictionary.vocabulary_hash` of its concepts)."""
    files, size, newest = _walk_size(path)
    if path.suffix == ".partial":
        return _partial_dictionary(path, named, files, size, newest)
    from ..dictionary import cached_dictionary_key

    what, vocabulary = path.stem, None
    try:
        key = cached_dictionary_key(path)
        what = f"{key['embedder']}, {int(key['size'])} concepts"
        vocabulary = named.said(key)
    except Exception:  # (a file of another layout, or damaged: named by its file)
        pass
    return Entry("dictionary", str(path), files, size, _when(newest), what, "", vocabulary)


def _partial_dictionary(
    path: Path, named: _NamedVocabularies, files: int, size: int, newest: float
) -> Entry:
    """The entry of the blocks of a stopped (or running) vocabulary embedding: its
    model, size and progress, and which vocabulary it is, read from a block's header
    (named by its folder where no block can be read)."""
    from ..dictionary import partial_dictionary_key

    stopped = "a vocabulary embedding that was stopped, or is running; the next run resumes"
    try:
        key, done, n_blocks = partial_dictionary_key(path)
        what = (
            f"{key['embedder']}, {int(key['size'])} concepts ({done} of {n_blocks} blocks of "
            f"{stopped} from them)"
        )
        vocabulary = named.said(key)
    except Exception:  # (no block that can be read: named by its folder)
        what, vocabulary = f"{path.stem} (the blocks of {stopped} from them)", None
    return Entry("partial dictionary", str(path), files, size, _when(newest), what, "", vocabulary)


def _temporary(path: Path) -> Entry:
    """The entry of a dictionary's temporary file: one being written, or one that a
    writer stopped before it was renamed into place left (*stale*: as large as the
    dictionary, and removed by a later build of that dictionary only)."""
    from .._atomic import abandoned_temporary

    files, size, newest = _walk_size(path)
    gone = abandoned_temporary(path)
    what = (
        "a dictionary file that a stopped run left unfinished, read by no run"
        if gone
        else "a dictionary file being written (renamed into place when it is whole)"
    )
    return Entry("temporary file", str(path), files, size, _when(newest), what, gone or "")


def cache_entries(folder: Path, data_home: str | os.PathLike[str] | None = None) -> list[Entry]:
    """Every entry of the cache folder ``folder``, image folders first (``data_home``:
    where the named vocabularies that name the dictionaries are looked for)."""
    from .._image_cache import installed_libraries
    from .._version import __version__

    entries: list[Entry] = []
    images = folder / "images"
    if images.is_dir():
        installed = installed_libraries()
        for sub in sorted(p for p in images.iterdir() if p.is_dir()):
            if not sub.name.endswith(_REMOVING):
                entries.append(_image_folder(sub, installed, __version__))
    dictionaries = folder / "dictionaries"
    if dictionaries.is_dir():
        found = sorted(p for p in dictionaries.iterdir() if p.suffix in (".npz", ".partial"))
        if found:  # (the data folder's vocabularies read once, where there is any to name)
            named = _NamedVocabularies(data_home)
            entries += [_dictionary(path, named) for path in found]
        entries += [_temporary(path) for path in sorted(dictionaries.glob(".*.tmp"))]
    for part in (images, dictionaries):
        for path in sorted(part.glob(f".*{_REMOVING}")) if part.is_dir() else []:
            files, size, newest = _walk_size(path)
            what = "what a --clear that failed part-way left: removed by any --clear"
            entries.append(Entry("partly removed", str(path), files, size, _when(newest), what, ""))
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir():
        files, size, newest = _walk_size(checkpoints)
        if files:
            what = "digests of --pretrained checkpoint files, so that each is hashed once"
            entries.append(
                Entry("checkpoints", str(checkpoints), files, size, _when(newest), what, "")
            )
    return entries


def _chosen(entry: Entry, what: str) -> bool:
    """Whether ``--clear what`` removes ``entry``."""
    if entry.kind == "temporary file":  # (not while a run may still write it)
        return bool(entry.stale) and what in ("stale", "dictionaries", "all")
    if what == "all" or entry.kind == "partly removed":
        return True
    if what == "stale":
        return bool(entry.stale)
    if what == "dictionaries":
        return entry.kind in ("dictionary", "partial dictionary")
    return entry.kind == what


def _set_apart(path: Path) -> Path:
    """The name the entry at ``path`` is given while it is removed (itself for one
    that a failed removal left so)."""
    return path if path.name.endswith(_REMOVING) else path.with_name(f".{path.name}{_REMOVING}")


def _remove(path: Path) -> None:
    """Remove the entry at ``path``: renamed first (in its folder, to a name no run
    reads), so that a removal that fails part-way leaves no entry that runs read or
    that the listing takes for a whole one; then deleted (a link: itself, not what it
    leads to)."""
    trash = _set_apart(path)
    if trash != path:
        os.replace(path, trash)
    if trash.is_dir() and not trash.is_symlink():
        shutil.rmtree(trash)
    else:
        trash.unlink()


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _write(entries: list[Entry], fmt: str, folder: Path, cleared: str | None) -> None:
    """The listing on standard output, which a full disk fails as a run's error (a
    closed pipe is raised as it is: ``sksplice cache | head``)."""
    with naming_write_errors("standard output", option=None):
        _write_listing(entries, fmt, folder, cleared)


def _write_listing(entries: list[Entry], fmt: str, folder: Path, cleared: str | None) -> None:
    """The listing on standard output: a table, or JSON with the folder and the totals."""
    out = sys.stdout
    if fmt == "json":
        document = {
            "cache_dir": str(folder),
            # ("stale": why no run reads the entry, null where one does)
            "cleared" if cleared else "entries": [
                {**asdict(e), "stale": e.stale or None} for e in entries
            ],
            "files": sum(e.files for e in entries),
            "bytes": sum(e.bytes for e in entries),
        }
        out.write(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        return
    if entries:
        out.write(f"{'kind':<18} {'files':>13} {'on disk':>10}  {'newest (UTC)':<17}  what\n")
    for e in entries:
        state = f"  [stale: {e.stale}]" if e.stale else ""
        out.write(
            f"{e.kind:<18} {plural(e.files, 'file'):>13} {_size(e.bytes):>10}  "
            f"{e.modified:<17}  "
            f"{e.what}{': ' + e.vocabulary if e.vocabulary else ''}{state}\n    {e.path}\n"
        )
    out.flush()


def _cmd_cache(args: argparse.Namespace) -> int:
    from .._data import cache_dir_chosen
    from ._checks import chosen_cache_dir

    if sys.stdout is None:  # (closed by the shell: >&-)
        raise UsageError(
            "standard output is closed (as by >&-): the listing would have nowhere to go; "
            "open standard output (> FILE, or a pipe)"
        )

    try:
        folder = chosen_cache_dir(args.cache_dir)
    except CLIError as exc:
        if not cache_dir_chosen(args.cache_dir):
            raise  # (the default folder: an error of the run, exit 1)
        # (in the words, and with the exit status, of the other commands: a wrong
        # command line, or $SKSPLICE_CACHE, exit 2)
        raise UsageError(str(exc)) from exc
    if not folder.is_dir():
        if args.clear is not None and cache_dir_chosen(args.cache_dir):
            # (a misspelt folder is not an empty cache: said as a warning, which -q keeps;
            # a script clearing a folder that may not exist yet still succeeds)
            from .._data import CACHE_DIR_ENV

            named = (
                f"--cache-dir {args.cache_dir}"
                if args.cache_dir is not None
                else f"${CACHE_DIR_ENV} ({os.environ[CACHE_DIR_ENV]})"
            )
            logger.warning(
                "%s does not exist, so --clear %s removed nothing; check the folder's name "
                "if a cache was meant to be there",
                named,
                args.clear,
            )
        else:
            logger.info("the cache folder %s does not exist: nothing is cached yet", folder)
        _write([], args.format, folder, args.clear)
        return 0
    try:
        entries = cache_entries(folder, args.data_home)
    except PermissionError as exc:  # (another user's folder, of mode 700)
        raise CLIError(
            f"cannot read the cache folder {folder}: {exc.filename or folder} "
            f"({exc.strerror or exc}); give --cache-dir a folder you can read, or run as "
            "the user whose cache it is"
        ) from exc
    if args.clear is None:
        _write(entries, args.format, folder, None)
        for kind, unit, what in (
            ("images", "image folder", "of other releases, read by no run of this installation"),
            (
                "temporary file",
                "temporary file",
                "left by runs stopped while writing a dictionary, read by no run",
            ),
        ):
            stale = [e for e in entries if e.stale and e.kind == kind]
            if stale:
                logger.info(
                    "%s (%s) %s: sksplice cache --clear stale removes %s",
                    plural(len(stale), unit),
                    _size(sum(e.bytes for e in stale)),
                    what,
                    "it" if len(stale) == 1 else "them",
                )
        logger.info(
            "%s, %s in %s", _entries(len(entries)), _size(sum(e.bytes for e in entries)), folder
        )
        return 0
    chosen = [e for e in entries if _chosen(e, args.clear)]
    removed: list[Entry] = []
    for entry in chosen:
        path = Path(entry.path)
        try:
            _remove(path)
        except FileNotFoundError:  # (removed meanwhile: by another process)
            pass
        except OSError as exc:
            # (the entries removed so far are listed; the run fails on this one)
            _write(removed, args.format, folder, args.clear)
            left = _set_apart(path)
            where = (
                f" (what was not removed is in {left}: the next --clear removes it)"
                if left != path and os.path.lexists(left)
                else ""
            )
            raise CLIError(
                f"cannot remove {path}: {exc.strerror or exc}{where}; {len(removed)} of "
                f"{_entries(len(chosen))} removed"
            ) from exc
        removed.append(entry)
    if not removed:
        logger.info("nothing to remove (--clear %s) in %s", args.clear, folder)
    else:
        size = _size(sum(e.bytes for e in removed))
        logger.info("removed %s, %s, from %s", _entries(len(removed)), size, folder)
    _write(removed, args.format, folder, args.clear)
    return 0
