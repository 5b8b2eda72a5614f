"""Where results go and in which format: streamed records, tables, atomic output files."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, cast

from .._atomic import atomic_write, remove_stale_temporaries
from .._image_files import shown_name, undecodable
from .._names import plural
from ._logging import CLIError, as_closed_pipe, committing, raise_if_signalled

logger = logging.getLogger(__name__)


class _TextSink(Protocol):
    """Where the writers put text: a text file, or the :class:`_Stream` of an output."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class _UnixRows:
    """A text sink for a CSV writer whose ``lineterminator`` is ``"\r\n"``: each row it
    writes (one call each) ends with ``"\n"`` instead.

    The csv module quotes a field holding a character of the line terminator: with
    ``"\n"``, a file or class name holding a carriage return was written bare, and
    pandas and :mod:`csv` read that row as two (the rows no longer lined up with the
    images). With ``"\r\n"`` such a field is quoted; the rows still end in ``"\n"``.
    """

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def write(self, row: str) -> int:
        return self.fh.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


class _Lines:
    """A text sink that keeps what is written, for one ``write`` of it all: a record's
    rows or lines go out together, so that an interrupt between two of them leaves no
    part of a record in the output (``FILE.partial`` kept the first rows of one)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def pop(self) -> str:
        """Everything written since the last call."""
        text, self.parts = "".join(self.parts), []
        return text


class _Writer:
    """Streams records in one of the output formats; output stays valid when interrupted.

    ``json`` is one object ``{"metadata": {...}, "images": [...]}``; ``jsonl``
    and ``csv`` hold one record per line or row and nothing else. ``extra``
    names record fields written before the path (CSV columns, table prefix).
    Every text is written as :func:`shown` gives it (a file name that is not
    valid UTF-8 with ``\\xNN`` escapes), so every format is valid UTF-8.
    """

    def __init__(
        self,
        fh: _TextSink,
        fmt: str,
        metadata: dict[str, Any],
        extra: Sequence[str] = (),
        *,
        query: bool = False,
    ) -> None:
        self.fh = fh
        self.fmt = fmt
        self.n = 0
        self.sent = 0  # records flushed to the output
        self.closed = False
        self.extra = tuple(extra)
        # (search's CSV: a column that says which concepts are the query's, as the table's
        # "(query)" and JSON's "query" key do)
        self.query = query
        metadata = shown(metadata)
        # (each record's rows, or lines, gathered here and written in one call)
        self._record = _Lines()
        if fmt == "csv":
            self._csv = csv.writer(_UnixRows(self._record), lineterminator="\r\n")
            self._csv.writerow(
                [
                    *self.extra,
                    "path",
                    "rank",
                    "concept",
                    "weight",
                    *(["query"] if query else []),
                    "l0",
                    "cosine",
                    "baseline_cosine",
                ]
            )
            fh.write(self._record.pop())
        elif fmt == "json":
            head = json.dumps(metadata, ensure_ascii=False, indent=None)
            fh.write('{"metadata": ' + head + ',\n "images": [')

    def write(self, rec: dict[str, Any]) -> None:
        if self.fmt in ("json", "jsonl"):
            self.write_json(_json_record(rec))
        else:
            self._write(rec)

    def write_json(self, text: str) -> None:
        """Write a record given as its line of JSON (:func:`_json_record`)."""
        fh = self.fh
        fh.write(text + "\n" if self.fmt == "jsonl" else ("," if self.n else "") + "\n  " + text)
        self._written()

    def _write(self, rec: dict[str, Any]) -> None:
        fmt, fh = self.fmt, self._record
        fh.pop()  # (rows of a record an interrupt stopped: none of them is written)
        if fmt == "csv":
            rec = self._shown(rec)
            head = [rec[e] for e in self.extra]
            tail = [rec["l0"], rec["cosine"], rec["baseline_cosine"]]
            for rank, c in enumerate(rec["concepts"], start=1):
                # (a concept listed beyond the top ones says its rank: search's query)
                at = c.get("rank", rank)
                mark: list[Any] = [bool(c.get("query"))] if self.query else []
                self._csv.writerow(
                    [*head, rec["path"], at, c["concept"], c["weight"], *mark, *tail]
                )
            if not rec["concepts"]:
                mark = [""] if self.query else []
                self._csv.writerow([*head, rec["path"], "", "", "", *mark, *tail])
        else:
            rec = self._shown(rec)
            prefix = "".join(f"{e}={rec[e]}, " for e in self.extra)
            path = _printable(rec["path"])
            fh.write(
                f"{path}  ({prefix}l0={rec['l0']}, cosine={rec['cosine']:.3f}, "
                f"baseline={rec['baseline_cosine']:.3f})\n"
            )
            for c in rec["concepts"]:
                # (4 significant digits, trailing zeros kept: 0.5000, 0.05674, 1.100e-05;
                # 4 decimals showed a weight of 1.1e-05 as 0.0000)
                # (search's query concepts: marked among the top ones, and with their rank
                # beyond them)
                at = (
                    f"  (query, rank {c['rank']})"
                    if "rank" in c
                    else "  (query)"
                    if c.get("query")
                    else ""
                )
                # (9 wide: 0.0003232 and 1.100e-05 in the column of 0.5000)
                fh.write(f"  {c['weight']:#9.4g}  {c['concept']}{at}\n")
            if not rec["concepts"]:
                fh.write("  (no concept above the penalty)\n")
        self.fh.write(self._record.pop())  # (the whole record, or none of it)
        self._written()

    def _written(self) -> None:
        # Counted once written: an interrupt while the flush waits on a full pipe still
        # sends this record (what is left in the buffer goes out at exit).
        fh = self.fh
        self.n += 1
        fh.flush()
        self.sent = self.n  # (a closed pipe fails the flush: this record was not sent)

    def _shown(self, rec: dict[str, Any]) -> dict[str, Any]:
        """``rec`` with its texts as :func:`shown` writes them: the record itself when no
        text that the csv and table formats write needs it (nearly always; checked in one
        pass over the joined texts, much faster than rebuilding every record)."""
        texts = [rec["path"], *(c["concept"] for c in rec["concepts"])]
        texts += [v for e in self.extra if isinstance(v := rec[e], str)]
        return shown(rec) if undecodable("".join(texts)) else rec

    def close(self, interrupted: bool = False) -> None:
        """End the output; ``json`` of an interrupted run says so after its records
        (``"complete": false`` and how many were ``"written"``), as its metadata,
        written first, counts every image of the run."""
        if self.closed:  # (an interrupt during the first close: end the output once)
            return
        self.closed = True
        if self.fmt == "json":
            end = "\n ]" if self.n else "]"
            if interrupted:
                end += f',\n "complete": false, "written": {self.n}'
            self.fh.write(end + "}\n")
        self.fh.flush()


class _Output:
    """Where results go: standard output (streamed), or a file replaced only when complete.

    A file is written through :func:`sksplice._atomic.atomic_write`: to a hidden
    temporary file in its folder, renamed over the target at the end, so a
    killed run leaves the previous file as it was (and its temporary file,
    named with the process id, is removed by the next run writing the file).
    An interrupted run (Ctrl-C, SIGTERM, SIGHUP) keeps the records finished so far in
    ``FILE.partial`` instead, which the next complete write of the file removes. A
    symlink is followed (its target is replaced,
    never the link); a pipe, a character device or a standard stream named as
    a path (``/dev/stdout``) is written through; a folder, a block device or a
    socket is refused.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, "-") else Path(path)
        self.where = "standard output" if self.path is None else str(self.path)  # in errors
        self._text: IO[str] = sys.stdout
        self.fh = _Stream(self)  # what the results are written to
        self._file: contextlib.AbstractContextManager[IO[bytes]] | None = None
        self.partial: Path | None = None
        #: What the file holds (``"243 images"``), said once it is written.
        self.summary: str | None = None
        self._stale_partial: Path | None = None  # FILE.partial, superseded once FILE is complete
        if self.path is None:
            return
        target = Path(os.path.realpath(self.path))
        partial = target.with_name(target.name + ".partial")
        remove_stale_temporaries(target, time.time())  # left by killed runs
        file = atomic_write(self.path, partial=partial, keep_complete=True)
        try:
            raw = file.__enter__()
        except OSError as exc:
            raise CLIError(f"cannot write output file {path}: {exc.strerror or exc}") from exc
        self._file = file
        # written in place (a pipe, /dev/stdout): what was written is already there
        self.partial = self.path if _same_file(raw, self.path) else partial
        self._stale_partial = None if self.partial == self.path else partial
        self._text = io.TextIOWrapper(raw, encoding="utf-8", newline="")

    def _end(self, exc: BaseException | None) -> None:
        """Flush, then end the write: complete (``exc`` None) or abandoned because of ``exc``."""
        file, self._file = self._file, None
        if file is None:
            self._text.flush()
            return
        try:
            # (a file's text is the TextIOWrapper made in __init__)
            cast(io.TextIOWrapper, self._text).detach()  # flushes; atomic_write closes the file
        except BaseException as error:
            file.__exit__(type(error), error, error.__traceback__)
            raise
        if exc is None:
            file.__exit__(None, None, None)
        else:
            file.__exit__(type(exc), exc, exc.__traceback__)

    def commit(self) -> None:
        """The output is complete: put it in place (a write error names the file).

        From then on a signal (Ctrl-C, SIGTERM, SIGHUP) leaves the run complete; one that
        arrives while a file is renamed into place waits for the rename (not for
        a pipe or standard output, whose flush may wait on its reader).
        """
        renamed = self._file is not None and self.partial != self.path
        try:
            with naming_write_errors(self.where), committing(wait=renamed):
                self._end(None)
        except CLIError:
            self.discard()
            raise
        if self.path is not None:
            say_wrote(self.path, self.summary)
        self._remove_superseded_partial()

    def _remove_superseded_partial(self) -> None:
        """Remove the ``FILE.partial`` of an earlier interrupted run: ``FILE`` is now complete."""
        partial = self._stale_partial
        if partial is None or self.path is None:
            return
        try:
            if not stat.S_ISREG(os.lstat(partial).st_mode):
                return  # (not one this command left: a link, a folder)
            os.remove(partial)
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning(
                "%s is left by an earlier interrupted run and now out of date (%s is "
                "complete), but cannot be removed (%s); remove it",
                partial,
                self.path,
                exc.strerror or exc,
            )
            return
        logger.info(
            "removed %s, the records an earlier interrupted run had finished: %s, now "
            "complete, supersedes them",
            self._shown(partial),  # (as the user named FILE)
            self.path,
        )

    @contextlib.contextmanager
    def writing(self, *, keep_interrupted: bool = False) -> Iterator[None]:
        """Write the output in the ``with`` block, then commit it; on an error discard it.

        A write error (a full disk, a device that refuses data) is reported by
        :attr:`fh` as a :class:`CLIError` naming the output; other errors of the
        block (of the work that makes the results) go through as they are. With
        ``keep_interrupted``, an interruption (Ctrl-C, SIGTERM, SIGHUP) leaves the
        output to the caller, to keep what was written (:meth:`keep_partial`).
        """
        try:
            yield
            raise_if_signalled()  # (an interruption swallowed on the way is one still)
        except KeyboardInterrupt:
            if not keep_interrupted:
                self.discard()
            raise
        except BaseException:
            self.discard()
            raise
        self.commit()

    def keep_partial(self) -> Path | None:
        """The run was interrupted: keep what was written as ``FILE.partial``.

        Returns where it is, in the words of the command line (``out.jsonl.partial``,
        not its absolute path) unless ``FILE`` is a link to a file elsewhere.
        """
        from .._atomic import KeptElsewhereError

        earlier = None  # (the size of the FILE.partial of an earlier interrupted run)
        if self._stale_partial is not None:
            with contextlib.suppress(OSError):
                info = os.lstat(self._stale_partial)
                earlier = info.st_size if stat.S_ISREG(info.st_mode) else None
        # (a second signal while the records are synced and renamed waits for it, as one
        # during a commit does: cut short, they were left in a temporary file unnamed)
        renamed = self._file is not None and self.partial != self.path
        try:
            with committing(wait=renamed):
                self._end(KeyboardInterrupt())
        except KeptElsewhereError as exc:
            # (FILE.partial could not be made: the records are where the message says)
            logger.warning(
                "cannot keep the finished records as %s: %s",
                self._shown(self.partial),
                exc.strerror,
            )
            return exc.kept
        where = self._shown(self.partial)
        if earlier is not None and self.partial is not None:
            # (a run interrupted again, sooner: the earlier, longer records are lost)
            with contextlib.suppress(OSError):
                logger.warning(
                    "replaced %s, the records an earlier interrupted run had finished "
                    "(%s), with this run's (%s)",
                    where,
                    _size(earlier),
                    _size(os.stat(self.partial).st_size),
                )
        return where

    def _shown(self, partial: Path | None) -> Path | None:
        """``partial`` as the command line would name it: beside ``FILE`` as given."""
        if partial is None or self.path is None or partial == self.path:
            return partial
        beside = self.path.with_name(self.path.name + ".partial")
        return beside if os.path.realpath(beside) == os.path.realpath(partial) else partial

    def discard(self) -> None:
        """The run failed: remove what was written; the previous file stays."""
        with contextlib.suppress(OSError, ValueError):
            self._end(_Discarded())


class _Stream:
    """The text stream of an :class:`_Output`: a write that fails names the output."""

    def __init__(self, output: _Output) -> None:
        self._output = output

    def write(self, text: str) -> int:
        with naming_write_errors(self._output.where):
            return self._output._text.write(text)

    def flush(self) -> None:
        with naming_write_errors(self._output.where):
            self._output._text.flush()


@contextlib.contextmanager
def naming_write_errors(where: str, option: str | None = "-o") -> Iterator[None]:
    """A failed write in the block (a full disk, a device that refuses data) is a
    :class:`CLIError` naming ``where``, and for a full disk what to do (``option``: the
    option that names the file, or that would send standard output to one; None for
    a command without one); a closed pipe is raised as it is."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        closed = as_closed_pipe(exc) if where == "standard output" else exc
        if closed is not exc:  # (Windows: the reader went away)
            raise closed from exc
        raise CLIError(
            f"cannot write {where}: {exc.strerror or exc}{_write_fix(exc, where, option)}"
        ) from exc
    except UnicodeEncodeError as exc:
        # (standard output in an encoding other than UTF-8: PYTHONIOENCODING, the locale;
        # a file is written in UTF-8, which encodes every name)
        raise CLIError(_encoding_error(where, exc)) from exc


def _write_fix(exc: OSError, where: str, option: str | None) -> str:
    """What to do about a write that failed for want of room (said after its reason)."""
    import errno

    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return ""
    if where == "standard output":
        elsewhere = f"give {option} FILE" if option else "send it to another disk"
        return f" (the disk standard output is sent to is full: free space there, or {elsewhere})"
    if option is None:
        return " (free space on that disk)"
    return f" (free space on that disk, or give {option} a file on another)"


#: What to do when standard output's encoding has no character for a name.
_ENCODING_ADVICE = (
    "set PYTHONIOENCODING=utf-8 (or a UTF-8 locale), or give -o FILE, which is written in UTF-8"
)


def check_standard_output_encodes(
    output: str | None,
    written: dict[str, Sequence[Any]],
    possible: dict[str, Sequence[Any]] | None = None,
) -> None:
    """Before any image is embedded, the names standard output cannot write (its
    encoding other than UTF-8, with its ``errors`` handler: PYTHONIOENCODING, the
    locale): the run failed once it came to write the first of them, after the work.

    ``written`` (by what they are: ``"file name"``, shown as the results show them,
    ``"class"``, ``"folder name"``) go into the results whatever they find: such a
    name is refused. ``possible`` (the vocabulary's concepts; the paths of which a
    search shows only the best) go in only where the results hold them: such a name
    is warned about, as the run may never write it. A file is written in UTF-8, which
    encodes every name.
    """
    if output not in (None, "-") or sys.stdout is None:
        return
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    errors = getattr(sys.stdout, "errors", None) or "strict"
    try:
        if codecs.lookup(encoding).name == "utf-8" or errors != "strict":
            return  # (a handler such as replace or backslashreplace writes every name)
    except LookupError:
        return
    advice = _ENCODING_ADVICE
    for refuse, names in ((True, written), (False, possible or {})):
        for kind, texts in names.items():
            for text in (shown_name(str(t)) for t in texts):
                try:
                    text.encode(encoding)
                except UnicodeEncodeError as exc:
                    bad = text[exc.start : exc.end]
                    if refuse:
                        raise CLIError(
                            f"cannot write standard output: its encoding, {encoding}, has no "
                            f"character for {bad!r} (in the {kind} {text!r}); {advice}"
                        ) from None
                    logger.warning(
                        "standard output's encoding, %s, has no character for %r (in the %s "
                        "%r): the run stops if the results come to hold it; %s",
                        encoding,
                        bad,
                        kind,
                        text,
                        advice,
                    )
                    break  # (one line a kind)


def _encoding_error(where: str, exc: UnicodeEncodeError) -> str:
    """Why ``where`` cannot take a text (a name its encoding has no character for), and
    what to do."""
    text = exc.object if isinstance(exc.object, str) else ""
    start = text.rfind("\n", 0, exc.start) + 1
    end = text.find("\n", exc.end)
    line = text[start : end if end >= 0 else len(text)].strip()
    if len(line) > 80:
        line = line[:77] + "..."
    bad = text[exc.start : exc.end]
    return (
        f"cannot write {where}: its encoding, {exc.encoding}, has no character for {bad!r} "
        f"(in {line!r}); {_ENCODING_ADVICE}"
    )


def listed_of(listed: int, significant: int) -> str:
    """What a table of significant concepts holds, as the line of its file says it."""
    if listed == significant:
        return plural(significant, "significant concept")
    return f"{listed} of {plural(significant, 'significant concept')}"


def say_wrote(path: str | os.PathLike[str], summary: str | None = None) -> None:
    """Say on standard error that the file ``path`` is written (an information line,
    which ``-q`` leaves out): ``wrote out.csv (243 images, 12 kB)``.

    ``summary`` says what it holds; the size is that of a regular file (not of a
    pipe or a device written through).
    """
    try:
        info = os.stat(path)
    except OSError:
        info = None
    notes = [] if summary is None else [summary]
    if info is not None and stat.S_ISREG(info.st_mode):
        notes.append(_size(info.st_size))
    logger.info("wrote %s%s", path, f" ({', '.join(notes)})" if notes else "")


def _size(size: int) -> str:
    """A file's size in words: ``12 kB``."""
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    if size >= 1e6:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.0f} kB" if size >= 1e3 else plural(size, "byte")


class _Discarded(Exception):
    """Ends an abandoned output file (removed, not kept as ``FILE.partial``)."""


def shown(value: Any) -> Any:
    """``value`` with every text in it as the outputs write it (in dicts, lists, tuples).

    A file or folder name that is not valid UTF-8 (its undecodable bytes held as
    lone surrogates) is written with each such byte as a backslash escape
    ``\\xNN`` (:func:`sksplice._image_files.shown_name`): the outputs are valid
    UTF-8 in every format, and a name is written the same way in each.
    """
    if isinstance(value, str):
        return shown_name(value)
    if isinstance(value, dict):
        return {shown(k): shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v) for v in value]
    return value


def _json_record(rec: dict[str, Any]) -> str:
    """``rec`` as one line of JSON with its texts as :func:`shown` writes them.

    JSON with ``ensure_ascii=False`` keeps every text as it is, lone surrogates too,
    so the line needs :func:`shown` only when it cannot be encoded in UTF-8: one check
    of the line instead of rebuilding every record (which took most of the time of
    writing them).
    """
    text = json.dumps(rec, ensure_ascii=False)
    return json.dumps(shown(rec), ensure_ascii=False) if undecodable(text) else text


def _shown_table(table: Any) -> Any:
    """A DataFrame with its texts as the outputs write them (see :func:`shown`)."""
    import pandas as pd

    columns = [
        c
        for c in table.columns
        if table[c].dtype == object or pd.api.types.is_string_dtype(table[c].dtype)
    ]
    if not columns:
        return table
    escaped = {}
    for c in columns:
        try:  # (a column of texts holds few distinct ones: each is checked once)
            distinct = pd.unique(table[c])
        except TypeError:  # (values that cannot be hashed)
            distinct = table[c].tolist()
        # (texts inside lists, tuples and dicts are escaped by ``shown`` too)
        if any(
            (isinstance(v, str) and undecodable(v)) or isinstance(v, list | tuple | dict)
            for v in distinct
        ):
            escaped[c] = table[c].map(shown)
    if escaped:
        table = table.copy()
        for c, values in escaped.items():
            table[c] = values
    return table


def _printable(text: str) -> str:
    """``text`` with its control characters escaped (``\\n``, ``\\t``, ``\\x1b`` ...), as
    Python writes them, so that a file name holding one keeps the table a line per row."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def _same_file(raw: IO[bytes], path: Path) -> bool:
    """Whether ``raw`` writes the file ``path`` names itself (not a temporary file)."""
    try:
        return os.path.samestat(os.fstat(raw.fileno()), os.stat(path))
    except OSError:
        return False


def _json_scalar(value: Any) -> Any:
    """numpy scalars (float64, bool_) as JSON values."""
    return value.item() if hasattr(value, "item") else float(value)


def _write_table_records(
    fh: _TextSink, table: Any, fmt: str, metadata: dict[str, Any], key: str
) -> None:
    """``table`` as csv, jsonl (one record per line) or json (``{"metadata", key}``),
    its texts as :func:`shown` writes them and its ``p_adjusted`` column to 6
    significant digits (:func:`significant_values`)."""
    table, metadata = _shown_table(table), shown(metadata)
    if "p_adjusted" in table.columns:
        # (here, not in the table the table format reads: it rounds the exact value)
        exact = table["p_adjusted"]
        rounded = significant_values(exact)
        alpha = metadata.get("alpha")
        if isinstance(alpha, float) and "significant" in table.columns:
            # a significant row's p-value that 6 digits round to the level (0.04999997 to
            # 0.05, beside "significant": true) keeps its digits, as the report keeps them
            whole = (
                table["significant"].to_numpy(dtype=bool)
                & (exact < alpha).to_numpy()
                & (rounded >= alpha).to_numpy()
            )
            rounded = rounded.where(~whole, exact)
        table = table.assign(p_adjusted=rounded)
    if fmt == "csv":
        table.to_csv(_UnixRows(fh), index=False, lineterminator="\r\n")
        return
    if fmt == "json":
        if len(table) == 0:  # (``"key": []``, as json.dump writes an empty list)
            json.dump({"metadata": metadata, key: []}, fh, indent=1, default=_json_scalar)
            fh.write("\n")
            return
        # The document around one placeholder record, which the records replace.
        mark = '"\\u0000records"'
        head, tail = json.dumps(
            {"metadata": metadata, key: ["\x00records"]}, indent=1, default=_json_scalar
        ).rsplit(mark, 1)
        fh.write(head)
        for n, lines in enumerate(_json_rows(table, indent="  ")):
            fh.write((",\n  " if n else "") + ",\n  ".join(lines))
        fh.write(tail + "\n")
    else:
        for lines in _json_rows(table):
            # (a few hundred lines a write: one write of a block's 343 kB into a pipe whose
            # reader went away ended without a BrokenPipeError, so without the line that
            # says the rest was not written)
            for start in range(0, len(lines), _LINES_PER_WRITE):
                fh.write("\n".join(lines[start : start + _LINES_PER_WRITE]) + "\n")


#: Lines of a JSON Lines table written at a time (see :func:`_write_table_records`).
_LINES_PER_WRITE = 256


#: Rows of a table encoded together by :func:`_json_rows`.
_JSON_BLOCK_ROWS = 1 << 16


def _json_rows(table: Any, indent: str | None = None) -> Iterator[list[str]]:
    """The rows of ``table`` as JSON objects, a block of rows at a time: the text
    ``json.dumps(record, default=_json_scalar)`` gives for each record of
    ``table.to_dict(orient="records")`` (with ``indent``, as ``json.dump(...,
    indent=1)`` writes a record in a list under a key, ``indent`` deep).

    Each column is encoded at once (one text per distinct string) and the texts
    are put together with one format string: a record at a time, 1M ranking rows
    took about 37 s (jsonl) and 61 s (json).
    """
    keys = [json.dumps(_json_key(k)).replace("%", "%%") for k in table.columns]
    if indent is None:
        template = "{" + ", ".join(f"{k}: %s" for k in keys) + "}"
    else:
        inner = indent + " "
        template = "{\n" + ",\n".join(f"{inner}{k}: %s" for k in keys) + "\n" + indent + "}"
    for start in range(0, len(table), _JSON_BLOCK_ROWS):
        block = table.iloc[start : start + _JSON_BLOCK_ROWS]
        if not keys:  # (rows without columns: empty objects)
            yield ["{}"] * len(block)
            continue
        columns = [_json_column(block.iloc[:, i], indent) for i in range(len(keys))]
        yield [template % row for row in zip(*columns, strict=True)]


def _json_key(key: Any) -> str:
    """A column name as json.dumps writes a dict key (a text; numbers, bools and None as
    their JSON text); other names are refused, as json.dumps refuses them."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float) or key is None:
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _json_column(column: Any, indent: str | None = None) -> list[str]:
    """The JSON text of each value of ``column`` (a pandas Series), as ``json.dumps``
    writes the value ``to_dict(orient="records")`` gives for it (with ``indent``, a
    list or dict value as ``json.dump(..., indent=1)`` writes it in a record
    ``indent`` deep)."""
    import numpy as np

    dtype = column.dtype
    if dtype == np.float64:
        values = column.to_numpy()
        texts = list(map(float.__repr__, values.tolist()))
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            texts[i] = json.dumps(float(values[i]))  # (NaN, Infinity, -Infinity)
        return texts
    if dtype == np.int64:
        return list(map(int.__repr__, column.to_numpy().tolist()))
    if dtype == np.bool_:
        return np.where(column.to_numpy(), "true", "false").tolist()
    # Anything else one value at a time (numpy scalars in an object column through
    # ``_json_scalar``, as in a record), each distinct text encoded once (only texts:
    # 0.0 and -0.0, equal as keys, are written differently).
    values = column.tolist()
    if not isinstance(dtype, np.dtype) and column.isna().any():
        # (missing values of nullable, pyarrow and categorical columns: to_dict gives
        # None for pd.NA, which tolist keeps)
        values = [rec["v"] for rec in column.to_frame(name="v").to_dict(orient="records")]
    seen: dict[str, str] = {}
    out = []
    for value in values:
        if type(value) is str:
            text = seen.get(value)
            if text is None:
                text = seen[value] = json.dumps(value)
        elif indent is not None and isinstance(value, list | tuple | dict):
            nested = json.dumps(value, indent=1, default=_json_scalar)
            text = nested.replace("\n", "\n" + indent + " ")
        else:
            text = json.dumps(value, default=_json_scalar)
        out.append(text)
    return out


def format_p_value(p: float, below: float | None = None) -> str:
    """A p-value to two significant digits; one that underflowed to 0 as ``<1e-300``.

    (The tests' p-values are floats: below about 5e-324 they are 0, which would
    read as a certainty.) With ``below`` (the level a significant row's p-value is
    under), a value below it gets the digits it needs to read so: 0.0496 as
    ``0.0496``, not the ``0.05`` of two digits under "adjusted p < 0.05".
    """
    if p == 0:
        return "<1e-300"
    # ("#": both digits kept whatever they are, 3.0e-25 and 0.010, not 3e-25 and 0.01)
    text, digits = f"{p:#.2g}", 2
    while below is not None and p < below and float(text) >= below and digits < 17:
        digits += 1
        text = f"{p:#.{digits}g}"
    return text


def _write_significant_rows(
    fh: _TextSink,
    sig: Any,
    sides: tuple[str, str],
    columns: tuple[str, str],
    sizes: tuple[int | None, int | None],
    alpha: float,
) -> None:
    """The table format's rows, one per significant concept.

    Each row gives the share of each side with its count of images (``sides``: the
    words before each, ``columns``: the row's count columns, their prevalences
    beside them, ``sizes``: the images of each side, None where unknown: then the
    share alone), then the adjusted p-value (reading below ``alpha``, the level the
    heading names) and the concept (the header names the test: Fisher's exact test
    for every row). ``100.0% (3/3)`` and ``100.0% (300/300)`` weigh differently.
    """
    p_texts = [format_p_value(p, below=alpha) for p in sig["p_adjusted"]]
    width = max(map(len, p_texts), default=0)  # (the concepts in one column)

    def share(row: Any, side: str, column: str, size: int | None) -> str:
        prevalence = row[column.replace("count_", "prevalence_")]
        if size is None:
            return f"{side}{prevalence:6.1%}"
        counted = f"({int(row[column])}/{size})"  # (right-aligned: "(0/28)" under "(30/30)")
        return f"{side}{prevalence:6.1%} {counted:>{2 * len(str(size)) + 3}}"

    for (_, row), p_text in zip(sig.iterrows(), p_texts, strict=True):
        shares = " ".join(
            share(row, side, column, size)
            for side, column, size in zip(sides, columns, sizes, strict=True)
        )
        fh.write(f"  {shares}  p_adj={p_text:<{width}}  {row['concept']}\n")


def _write_significant_tail(
    fh: _TextSink,
    shown: int,
    significant: int,
    tested: int,
    listed: int,
    order: str,
    untestable: str | None = None,
    undiffering: float | None = None,
) -> None:
    """The table format's line under the ``shown`` significant rows of a group: that
    there is none among the ``tested`` concepts, or how many more of the
    ``significant`` there are (``-k`` is what cut them) and the ``-k`` that lists
    them all; nothing when every significant row is shown. ``listed``: the rows
    ``-f csv`` gives, the top ones by ``order``. ``untestable``: why no concept of the
    group can be significant (see :func:`untestable`), said in place of "none".
    ``undiffering``: the adjusted p-value of a class not found to differ from the rest
    as a whole (the first level of a ranking adjusted in two), said beside "none"."""
    if untestable is not None:
        fh.write(f"  none can be: {untestable}\n")
    elif not significant:
        top = "the first" if listed == 1 else f"the top {listed}"
        whole = (
            ""
            if undiffering is None
            else "the class as a whole is not found to differ from the rest, adjusted p="
            f"{format_p_value(undiffering)}; "
        )
        fh.write(
            f"  none ({whole}{plural(tested, 'concept')} tested; -f csv lists {top} by {order})\n"
        )
    elif significant > shown:
        more = plural(significant - shown, "more significant concept")
        them = "it too" if significant - shown == 1 else "them all"
        fh.write(f"  ({more}: -k {significant} lists {them})\n")


def _default_of(function: Any, name: str) -> Any:
    """The default of parameter ``name`` of ``function`` (the settings a command uses of
    a library function it calls without them)."""
    import inspect

    return inspect.signature(function).parameters[name].default


def untestable(
    n: int,
    n_other: int,
    smallest: Any,
    alpha: float,
    sides: tuple[str, str] | None = None,
    unit: str = "images",
) -> str | None:
    """Why no concept of a group of ``n`` images compared with ``n_other`` can be
    significant at ``alpha``, when its ``smallest`` possible p-value (a ranking's
    ``attrs["smallest_p_value"]``) is ``alpha`` or more; None otherwise. ``sides``
    names the two groups (``("A", "B")``: "1 image in A against 2 in B"); ``unit``:
    ``"rows"`` of embeddings given as ``.npy`` files."""
    from ..analysis import _below_alpha

    if smallest is None or _below_alpha(float(smallest), alpha):
        return None
    counted = plural(n, unit[:-1])
    counts = (
        f"{counted} against {n_other}"
        if sides is None
        else f"{counted} in {sides[0]} against {n_other} in {sides[1]}"
    )
    return (
        f"with {counts}, Fisher's exact test gives no p-value "
        f"below {float(smallest):.2g}, whatever the counts (more {unit} are needed)"
    )


def significant(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits: ``0.25``, ``4e-05``, ``1.1e-05``.

    For what is read, not parsed (the report's settings, messages): fixed decimals
    would show a small non-zero value as zero (``0.0``, ``0.0000``).
    """
    return f"{float(value):.{digits}g}"


def p_value_written(p: float, alpha: float) -> float:
    """A p-value of the metadata to 6 significant digits, as the records write theirs;
    one below ``alpha`` that 6 digits round to it or above keeps its digits."""
    rounded = float(significant(p, 6))
    return float(p) if p < alpha <= rounded else rounded


def significant_values(values: Any, digits: int = 6) -> Any:
    """A pandas Series of floats, each to ``digits`` significant digits.

    A small p-value keeps its digits (``5.412544112234514e-05`` becomes
    ``5.41254e-05``, not the ``0.0`` of 6 decimals); NaN stays NaN.
    """
    import numpy as np
    import pandas as pd

    dtype = values.dtype
    if not (isinstance(dtype, np.dtype) and dtype.kind == "f" and 1 <= digits <= 9):
        return values.map(lambda value: float(significant(value, digits))).astype(dtype)
    rounded = _significant_array(values.to_numpy(dtype=np.float64), digits)
    return pd.Series(rounded, index=values.index, name=values.name).astype(dtype)


#: The powers of ten that float64 holds exactly (10**0 to 10**22).
_EXACT_POWERS = tuple(float(10**k) for k in range(23))


def _significant_array(x: Any, digits: int) -> Any:
    """``float(f"{v:.{digits}g}")`` of every float64 ``v`` of ``x`` (``digits`` at most 9),
    vectorised; 500,000 values took 0.4 s formatted and parsed one at a time.

    The kept digits are ``rint(|v| / 10**s)``, ``s`` the exponent of the last digit
    kept, and the value they stand for is that whole number times (or over)
    ``10**|s|``: for ``|s|`` at most 22 a single correctly rounded operation on exact
    operands, the float that parsing the formatted digits gives. The float quotient
    is within 1e-9 of the exact one (below 1e9 with 53 bits), so it rounds alike
    unless it lies within 1e-6 of a half. Those values, the ones off the range of
    ``digits`` digits (a ``log10`` off by one next to a power of ten, or rounding up
    to one more digit), exponents beyond 22, zeros, NaN and infinities are formatted
    and parsed one at a time, as before.
    """
    import numpy as np

    powers = np.array(_EXACT_POWERS)
    out = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        magnitude = np.abs(x)
        shift = np.floor(np.log10(magnitude)) - (digits - 1)  # exponent of the last digit
        fast = np.isfinite(shift) & (np.abs(shift) < len(powers))
        up = shift >= 0
        power = powers[np.where(fast, np.abs(shift), 0).astype(np.intp)]
        scaled = np.where(up, magnitude / power, magnitude * power)
        whole = np.rint(scaled)
        half = np.abs(scaled - np.floor(scaled) - 0.5) > 1e-6
        fast &= half & (scaled >= 10.0 ** (digits - 1)) & (whole < 10.0**digits)
        value = np.copysign(np.where(up, whole * power, whole / power), x)
    out[fast] = value[fast]
    slow = np.flatnonzero(~fast)
    if slow.size:
        out[slow] = [float(significant(v, digits)) for v in x[slow].tolist()]
    return out


def no_concept(n_images: int, unit: str = "images") -> str:
    """Why no concept is listed: every weight of the ``n_images`` images (``unit``:
    ``"rows"`` of embeddings given as ``.npy`` files) is zero."""
    return (
        f"no concept has a non-zero weight in any of the {plural(n_images, unit[:-1])} (a "
        "smaller --l1-penalty, or a larger --target-l0, keeps more concepts)"
    )
