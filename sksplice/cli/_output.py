"""Where results go and in which format: streamed records, tables, atomic output files."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ._logging import CLIError


class _Writer:
    """Streams records in one of the output formats; output stays valid when interrupted.

    ``json`` is one object ``{"metadata": {...}, "images": [...]}``; ``jsonl``
    and ``csv`` hold one record per line or row and nothing else. ``extra``
    names record fields written before the path (CSV columns, table prefix).
    """

    def __init__(
        self, fh: IO[str], fmt: str, metadata: dict[str, Any], extra: Sequence[str] = ()
    ) -> None:
        self.fh = fh
        self.fmt = fmt
        self.n = 0
        self.extra = tuple(extra)
        if fmt == "csv":
            self._csv = csv.writer(fh, lineterminator="\n")
            self._csv.writerow([*self.extra, "path", "rank", "concept", "weight", "l0", "cosine"])
        elif fmt == "json":
            head = json.dumps(metadata, ensure_ascii=False, indent=None)
            fh.write('{"metadata": ' + head + ',\n "images": [')

    def write(self, rec: dict[str, Any]) -> None:
        fmt, fh = self.fmt, self.fh
        if fmt == "jsonl":
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        elif fmt == "json":
            fh.write(("," if self.n else "") + "\n  " + json.dumps(rec, ensure_ascii=False))
        elif fmt == "csv":
            head = [rec[e] for e in self.extra]
            for rank, c in enumerate(rec["concepts"], start=1):
                self._csv.writerow(
                    [*head, rec["path"], rank, c["concept"], c["weight"], rec["l0"], rec["cosine"]]
                )
            if not rec["concepts"]:
                self._csv.writerow([*head, rec["path"], "", "", "", rec["l0"], rec["cosine"]])
        else:
            head = "".join(f"{e}={rec[e]}, " for e in self.extra)
            fh.write(f"{rec['path']}  ({head}l0={rec['l0']}, cosine={rec['cosine']:.3f})\n")
            for c in rec["concepts"]:
                fh.write(f"  {c['weight']:8.4f}  {c['concept']}\n")
            if not rec["concepts"]:
                fh.write("  (no concept above the penalty)\n")
        fh.flush()
        self.n += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.fh.write("\n ]}\n" if self.n else "]}\n")
        self.fh.flush()


class _Output:
    """Where results go: standard output (streamed), or a file replaced only when complete.

    A regular output file is written to a hidden temporary file in its folder
    and renamed over the target at the end, so a killed run leaves the
    previous file as it was. An interrupted run (Ctrl-C, SIGTERM) keeps the
    records finished so far in ``FILE.partial`` instead. A symlink is
    followed (its target is replaced, never the link); a target that is not a
    regular file (a pipe, ``/dev/stdout``) is written through.
    """

    def __init__(self, path: str | None) -> None:
        self.path = None if path in (None, "-") else Path(path)
        self.tmp: Path | None = None
        self.fh: IO[str] = sys.stdout
        self._raw: IO[bytes] | None = None
        if self.path is None:
            return
        target = Path(os.path.realpath(self.path))
        self.target = target
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        try:
            if mode is not None and not stat.S_ISREG(mode):
                self._raw = open(target, "wb")  # noqa: SIM115 - a pipe or device
            else:
                self.tmp = target.with_name(f".{target.name[:96]}.{secrets.token_hex(6)}.tmp")
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                self._raw = os.fdopen(fd, "wb")
        except OSError as exc:
            raise CLIError(f"cannot write output file {path}: {exc.strerror or exc}") from exc
        self.fh = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")

    def _close(self) -> None:
        if self._raw is None:
            self.fh.flush()
            return
        self.fh.flush()
        if self.tmp is not None:
            os.fsync(self._raw.fileno())
        self.fh.close()

    def commit(self) -> None:
        """The output is complete: put it in place."""
        self._close()
        if self.tmp is not None:
            os.replace(self.tmp, self.target)

    def keep_partial(self) -> Path | None:
        """The run was interrupted: keep what was written as ``FILE.partial``."""
        self._close()
        if self.tmp is None:
            return self.path
        partial = self.target.with_name(self.target.name + ".partial")
        os.replace(self.tmp, partial)
        return partial

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.fh.close() if self._raw is not None else None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)


def _json_scalar(value: Any) -> Any:
    """numpy scalars (float64, bool_) as JSON values."""
    return value.item() if hasattr(value, "item") else float(value)


def _write_table_records(
    fh: IO[str], table: Any, fmt: str, metadata: dict[str, Any], key: str
) -> None:
    """``table`` as csv, jsonl (one record per line) or json (``{"metadata", key}``)."""
    if fmt == "csv":
        table.to_csv(fh, index=False)
        return
    records = table.to_dict(orient="records")
    if fmt == "json":
        json.dump({"metadata": metadata, key: records}, fh, indent=1, default=_json_scalar)
        fh.write("\n")
    else:
        for rec in records:
            fh.write(json.dumps(rec, default=_json_scalar) + "\n")


def _write_not_significant(fh: IO[str], n_significant: int, n_rows: int) -> None:
    """The table format's last line: how many of the rows shown were not significant."""
    n_not = n_rows - n_significant
    if not n_significant:
        fh.write(f"  none: the top {n_not} are not significant (-f csv lists them)\n")
    elif n_not:
        fh.write(f"  ({n_not} more of the top {n_rows} not significant)\n")
