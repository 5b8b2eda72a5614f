"""The decomposition shared by every command, and the ``decompose`` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._image_files import shown_message
from .._version import __version__
from ..solvers._names import resolved_solver
from . import _embedders
from ._checks import (
    _check_options,
    _check_outputs_apart,
    _Plan,
    _warn_unknown_extension,
    has_published_mean,
)
from ._inputs import _collect_images, _outputs_of
from ._logging import (
    CLIError,
    RunError,
    UsageError,
    _interruption,
    _reader_gone,
    _usage,
    shell_word,
)
from ._output import (
    _json_record,
    _Output,
    _printable,
    _Writer,
    check_standard_output_encodes,
    no_concept,
    plural,
    significant,
)

logger = logging.getLogger(__name__)

_CHUNK = 512


@dataclass
class _Decomposition:
    paths: Sequence[Path | str]  # (the names of the rows of embeddings given as .npy files)
    X: np.ndarray
    splice: Any
    skipped: list[Any]
    plan: _Plan
    n_inputs: int
    W: Any = None  # concept weights of all of X, once computed (CSR)
    metadata: dict[str, Any] = field(default_factory=dict)
    # The .npy files and names of a run given embeddings computed already, described for
    # the JSON metadata (their digests taken only where it is written)
    embeddings: Callable[[], dict[str, Any]] | None = None
    n_zero: int = 0  # (rows of X that are all zero: without a concept at any penalty)

    @property
    def unit(self) -> str:
        """What the messages call the rows decomposed: images, or the rows of embeddings
        given as ``.npy`` files."""
        return "images" if self.embeddings is None else "rows"


def _one_image_advice(args: argparse.Namespace | None = None) -> str:
    from .._means import MIN_MEAN_SAMPLES  # (not through the transformer: sklearn, seconds)

    why = "the image mean (the modality centre) cannot be learned from a single image"
    file_named = getattr(args, "image_mean", None) == "auto" and _checkpoint_hint(args) is not None
    if file_named:
        assert args is not None
        # (auto was asked for, not a centre learned: why it is learned comes first)
        why = (
            f"--pretrained {shell_word(args.pretrained)} is a checkpoint file, and a file is "
            "no tag: no published mean is looked up for it, so --image-mean auto (the default) "
            "learns the image mean (the modality centre) from the images, which it cannot "
            "from a single image"
        )
    return (
        f"{why}: its "
        "centred embedding would be zero. Decompose it together with other images of the "
        f"kind (at least {MIN_MEAN_SAMPLES} give a stable centre), give --image-mean FILE.npy "
        "(the mean embedding of this model's images: --save-image-mean FILE.npy writes the "
        f"one a larger run learns), or {_published_mean_advice(args, file_named=file_named)}"
    )


def _checkpoint_hint(args: argparse.Namespace | None, file_named: bool = False) -> str | None:
    """For a ``--pretrained`` checkpoint file of a model with a published mean: how to
    give that mean (a file is no tag: no mean is looked up for it, said unless the
    message has, ``file_named``); else None."""
    from ..vocabulary import _checkpoint_mean_hint

    model = getattr(args, "model", None)
    if not model:
        return None
    return _checkpoint_mean_hint(model, getattr(args, "pretrained", None), file_named=file_named)


def _published_mean_advice(args: argparse.Namespace | None, file_named: bool = False) -> str:
    """The last advice of a centre that cannot be learned: the published mean of the
    weights where there is one (``--image-mean data`` refused it), how to give the mean
    of a checkpoint file of such weights (:func:`_checkpoint_hint`; ``file_named``: the
    message has said why a file has none), else a model with a published mean."""
    from ._checks import has_published_mean
    from ._logging import published_mean_file

    if args is not None and has_published_mean(args):
        found = published_mean_file(args.model, args.pretrained)
        assert found is not None  # (the same table lookup as has_published_mean's)
        where, fetch = found
        if fetch is None:
            return f"give --image-mean auto: the published mean of these weights, in {where}"
        return (
            "give --image-mean auto: the published mean of these weights, downloaded on "
            f"first use to {where} (without network access, {fetch})"
        )
    hint = _checkpoint_hint(args, file_named)
    if hint is not None:
        return hint
    return "use a model with a published mean (--model ViT-B-32 --pretrained laion2b_s34b_b79k)"


def _other_files(inputs: Sequence[str]) -> str:
    """`` (folder F: N other files are not read, ...)`` for the folders among ``inputs``
    that hold files without an image extension (which a folder walk leaves out)."""
    from ._inputs import other_files

    notes = []
    for raw in inputs:
        folder = Path(raw)
        if not folder.is_dir():
            continue
        others = [str(p.relative_to(folder)) for p in other_files(folder)]
        if others:
            from .._names import listed

            shown = listed(others, 3)
            notes.append(
                f"folder {folder}: {len(others)} other file{'' if len(others) == 1 else 's'} "
                f"not read, without an image extension ({shown})"
            )
    return f" ({'; '.join(notes)})" if notes else ""


def _refuse_one_input(
    paths: list[Path], inputs: Sequence[str] = (), args: argparse.Namespace | None = None
) -> None:
    """Refuse a run of one input whose centre would be learned from the images.

    One image is a wrong command line (exit 2: the advice says what to give, and
    names the files of the folders given that were not read as images); one
    input that is no image leaves none to decompose, an error of the run (exit 1,
    as when every image of many is unreadable), which names the file and why it
    is skipped. Only that one file is read (decoded), nothing embedded.
    """
    from .._images import load_rgb

    for path in paths:
        try:
            load_rgb(str(path))
        except (OSError, ValueError) as exc:  # (InvalidImageError is a ValueError)
            # (an error of the run, also while the command line is checked: exit 1)
            raise RunError(
                f"{' '.join(str(exc).split())}: it is skipped, and no image is left to decompose"
            ) from exc
    # (a wrong command line: exit 2)
    raise UsageError(_one_image_advice(args) + _other_files(inputs))


#: The start of the error the embedder raises for the first unreadable image under
#: ``on_error="raise"``: ``input 7: `` or ``input 7 (<what it is>): `` (a position from 0).
_INPUT_ERROR = re.compile(r"input (\d+)(?: \(.*?\))?: ")


def _raise_strict(exc: BaseException, paths: Sequence[Path], offset: int = 0) -> None:
    """Under ``--strict``, the unreadable image that stopped the run, named.

    The embedder numbers its inputs from 0 in the order given (``offset``: the
    position in ``paths`` of the first image of the chunk; a call of the images of the
    chunk that the cache did not hold gives their places in it, ``_sksplice_positions``);
    the command names the file, and says which image it was of how many (``image 8 of
    40``). Any other error is left as it is.
    """
    cause = exc.__cause__
    found = _INPUT_ERROR.match(str(exc))
    positions = getattr(exc, "_sksplice_positions", None)
    if cause is None or found is None:
        return
    k = int(found.group(1))
    index = offset + (positions[k] if positions is not None and k < len(positions) else k)
    if index >= len(paths):
        return
    path = str(paths[index])
    reason = " ".join(str(cause).split())
    if path not in reason and repr(path) not in reason:
        reason = f"{path}: {reason}"
    raise CLIError(
        f"{shown_message(reason)} (image {index + 1} of {len(paths)}; --strict stops at the "
        "first image that cannot be read)"
    ) from exc


def _check_learnable_centre(
    X: np.ndarray, args: argparse.Namespace, rows: bool = False
) -> np.ndarray:
    """Images whose embeddings all point the same way (copies of one picture) leave no
    centre to learn: every centred embedding, and every weight, would be zero. The
    centre learned (given to :func:`_fitted`, which does not learn it again). ``rows``:
    ``X`` holds rows of embeddings given as ``.npy`` files (their model is given: no
    other is advised)."""
    from .._means import any_centred_row, learned_mean

    mean = learned_mean(X)
    if any_centred_row(X, mean):
        return mean
    if rows:
        what = f"{X.shape[0]} rows: they all point the same way (copies of one embedding?)"
        instead = (
            "other embeddings of the same model, or give --image-mean FILE.npy (the mean "
            "image embedding of the model that made them; --image-mean pretrained where that "
            "model has a published mean)"
        )
    else:
        what = f"{X.shape[0]} images: their embeddings are all the same (copies of one picture?)"
        instead = (
            "other images of the kind, give --image-mean FILE.npy (the mean embedding of this "
            "model's images: --save-image-mean FILE.npy writes the one a larger run learns), "
            f"or {_published_mean_advice(args)}"
        )
    raise RunError(
        f"the image mean (the modality centre) cannot be learned from these {what}, so every "
        f"centred embedding, and every weight, would be zero. Decompose them together with "
        f"{instead}"
    )


def _decompose(
    args: argparse.Namespace,
    paths: list[Path],
    plan: _Plan,
    check_read: Callable[[list[Path], list[Any]], None] | None = None,
) -> _Decomposition:
    """Embed the images of ``paths`` and fit the decomposition of those that could be read.

    ``check_read``, when given, is called with the images read and the skipped ones
    once the images are embedded and before the vocabulary is: a check of what was
    read (every class still has images) that fails before the dictionary is built.
    """
    if plan.image_mean is None and len(paths) < 2:
        _refuse_one_input(paths, getattr(args, "inputs", ()), args)
    # (the images are checked first: a run whose images cannot be read fails before
    # the vocabulary is embedded; said now, not after the images)
    texts = _vocabulary_first(args, plan, embed=False)
    images = _embedders.image_embedder(
        plan.model, plan.pretrained, on_error="raise" if args.strict else "skip", **_common(args)
    )
    parts, kept, skipped = [], [], []
    for X_part, kept_part, skipped_part in _embedded(args, images, paths, plan.embed_dim):
        if X_part is not None:
            parts.append(X_part)
        kept += kept_part
        skipped += skipped_part
    if not kept:
        _none_read(skipped, len(paths))
    X = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if check_read is not None:
        check_read(kept, list(skipped))
    if plan.image_mean is None and X.shape[0] < 2:
        # one image given is refused before any work; one left is a finding of the run
        _report_skipped(skipped, len(paths))
        raise CLIError(
            f"only 1 of the {len(paths)} images could be read (skipped: "
            f"{_skipped_names(skipped)}): {_one_image_advice(args)}"
        )
    # (before the vocabulary is embedded)
    mean = _check_learnable_centre(X, args) if plan.image_mean is None else None
    splice = _fitted(args, plan, X, texts, learned=mean)
    said_small = _say_if_small_mean(splice, X.shape[0])
    dec = _Decomposition(
        paths=kept, X=X, splice=splice, skipped=list(skipped), plan=plan, n_inputs=len(paths)
    )
    _fitted_note(args, dec, said_mean=not said_small)
    return dec


def _say_if_small_mean(splice: Any, n_rows: int, unit: str = "image") -> bool:
    """Warn that the centre is learned from fewer than ``MIN_MEAN_SAMPLES`` images (the
    ``n_rows`` of the run; ``unit="row"``: rows of embeddings given as ``.npy`` files);
    whether it did."""
    from .._means import MIN_MEAN_SAMPLES

    n_rows = getattr(splice, "n_mean_samples_", None) or n_rows  # (all-zero rows left out)
    if splice.mean_source_ != "data" or n_rows >= MIN_MEAN_SAMPLES:
        return False
    logger.warning(
        "the image mean (modality centre) is learned from only %d %ss, fewer than %d: "
        "each %s's concepts depend on which other %ss are in the run; decompose "
        "more %ss at once, or give --image-mean FILE.npy (the centre of a larger run "
        "of this model, written by its --save-image-mean FILE.npy)",
        n_rows,
        unit,
        MIN_MEAN_SAMPLES,
        unit,
        unit,
        unit,
    )
    return True


def _common(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of both embedders: device, batch size, verbose."""
    return dict(device=args.device, batch_size=args.batch_size, verbose=0 if args.quiet else 1)


def _embed_step(batch_size: int) -> int:
    """Images embedded per call: whole batches of the embedder (the batches, and so the
    embeddings, are those of one call for every image), at least :data:`_CHUNK` of them
    (so that a streamed run decomposes and writes the first call's records before it
    embeds the next images, unless some of them are skipped)."""
    return batch_size * -(-_CHUNK // batch_size)


def _embedded(
    args: argparse.Namespace, images: Any, paths: list[Path], width: int
) -> Iterator[tuple[np.ndarray | None, list[Path], list[Any]]]:
    """Embed ``paths`` a few batches at a time, under one progress bar.

    Yields, for each call, the embeddings of the images read, their paths and the
    images skipped (named as the outputs write them); the embeddings are None for a
    call whose files have all gone since the run started (each is skipped). An
    interruption (Ctrl-C, SIGTERM, SIGHUP) goes through with ``_sksplice_embedded`` set
    to ``(done, total, kept)`` (:func:`interrupted_embedding`; ``kept``: embeddings in
    the cache, read or written by the run). The embeddings of images embedded by an
    earlier run (of any command) with the same model are read from the cache folder,
    and those embedded now kept there (:mod:`sksplice._image_cache`), unless
    ``--no-image-cache``.
    """
    from .._progress import progress

    step = _embed_step(int(args.batch_size))
    cache = _image_cache(args, images, width)
    # The first call's images looked up in the cache now: where one is missing, the
    # model is loaded before the progress bar shows (what cannot be loaded is refused
    # first); where none is, it is loaded by the first call that embeds an image, if
    # any, under the bar (a run whose images are all in the cache loads no model:
    # seconds). An entry is of these very weights, which an earlier run loaded; a load
    # that fails then (weights removed since) ends the run as a later unreadable image
    # does under --strict, after the records a streamed run has written.
    first = None if cache is None else cache.look_up(paths[:step])
    load = getattr(images, "_load", None)
    unread = None  # (the first call's files the cache lacks, where none can be read)
    if load is not None and (first is None or len(first[1]) < len(paths[:step])):
        if first is not None:  # (files no cache holds because they cannot be read: no model)
            missing = [p for i, p in enumerate(paths[:step]) if i not in first[1]]
            unread = _all_undecodable(images, missing)
        if unread is None:
            load()
    # (no bar where every image is read from the cache at once, the others being files
    # that cannot be decoded: "100% 25/25, 116508 image/s" read as if they were
    # embedded; the line after it says so, and the warning names those files)
    cached = (
        first is not None
        and len(paths) <= step
        and (len(first[1]) == len(paths) or unread is not None)
    )
    quiet = args.quiet or cached
    with progress(len(paths), desc="CLIP images", unit="image", disable=quiet) as bar:
        for start in range(0, len(paths), step):
            chunk = paths[start : start + step]
            if not any(os.path.exists(p) for p in chunk):
                # Every file of this call is gone since the run started (the embedder would
                # take the paths for texts): each is skipped, as one file gone would be.
                gone = _gone(args, chunk, start, len(paths))
                bar.update(len(chunk))
                yield None, [], gone
                continue
            try:
                X, skipped = _embedded_chunk(
                    images,
                    chunk,
                    cache,
                    bar,
                    first if start == 0 else None,
                    unread if start == 0 else None,
                )
            except KeyboardInterrupt as exc:
                kept = 0 if cache is None else cache.n_read + cache.n_written
                exc._sksplice_embedded = (bar.n, len(paths), kept)  # type: ignore[attr-defined]
                raise
            except (OSError, ValueError) as exc:
                _raise_strict(exc, paths, offset=start)
                raise
            # (a file name as the outputs write it, also where the reason quotes it)
            skipped = [
                s._replace(
                    index=s.index + start,
                    item=shown_message(s.item),
                    reason=shown_message(_command_hint(str(s.item), s.reason)),
                )
                for s in skipped
            ]
            keep = ~np.isnan(X).any(axis=1)
            yield X[keep], [p for p, k in zip(chunk, keep, strict=True) if k], skipped
    if cache is not None and not args.quiet:
        _say_image_cache(cache.n_read, cache.n_written, cache.folder)


def _say_image_cache(n_read: int, n_written: int, folder: Path) -> None:
    """Say what the run read from the cache of image embeddings in ``folder`` and what
    it kept there (a first run kept every embedding without a word: the user learned of
    the cache only when a second run read it)."""
    if n_read:
        kept = (
            f"; {plural(n_written, 'new embedding')} kept in it for later runs" if n_written else ""
        )
        logger.info(
            "%s read from the cache of image embeddings (%s%s; --no-image-cache embeds them all)",
            plural(n_read, "embedding"),
            folder,
            kept,
        )
    elif n_written:
        logger.info(
            "%s kept in the cache of image embeddings (%s): later runs of any command "
            "on these files with this model, and these releases of sksplice and the "
            "libraries it embeds with, read them instead of embedding them again "
            "(--no-image-cache neither reads nor keeps them)",
            plural(n_written, "embedding"),
            folder,
        )


def interrupted_embedding(embedded: tuple[int, int, int]) -> str:
    """Where a run interrupted while embedding images stood: ``embedded`` is the
    ``(done, total, kept)`` of :func:`_embedded`."""
    done, total, kept = embedded
    also = f", {kept} of them kept for a run started again" if kept else ""
    return f"while embedding images ({done} of {total} embedded{also})"


def _image_cache(args: argparse.Namespace, images: Any, width: int) -> Any:
    """The cache of the run's image embeddings, or None (``--no-image-cache``, or no
    cache folder to be had)."""
    if getattr(args, "no_image_cache", False):
        return None
    from .._image_cache import ImageEmbeddingCache

    return ImageEmbeddingCache.for_embedder(images, width, args.cache_dir)


def _counted_not_embedded(bar: Any, n: int) -> None:
    """Count ``n`` images that ``bar`` sees done without embedding them (read from the
    cache, or found unreadable): in its count, not in its rate, which counted them and
    read as if the model embedded 64 images a second. tqdm's rates leave out what was
    there before the last update it drew (``last_print_n``: its smoothed rate, of the
    updates since) and what it started from (``initial``: its average rate), so both
    move with the count; the count is shown at the bar's next update or its end."""
    if not n:
        return
    if not hasattr(bar, "last_print_n"):  # (a bar that shows nothing)
        bar.update(n)
        return
    bar.n += n
    bar.last_print_n += n
    bar.initial += n


def _embedded_chunk(
    images: Any,
    chunk: list[Path],
    cache: Any,
    bar: Any,
    looked_up: tuple[list[Any], dict[int, np.ndarray]] | None = None,
    unread: list[Any] | None = None,
) -> tuple[np.ndarray, list[Any]]:
    """The embeddings of the images of ``chunk`` (a row of NaN for each one skipped, as
    ``embed_images`` gives them) and those skipped (their index in ``chunk``): read from
    ``cache`` where it holds them (``looked_up``: ``cache.look_up(chunk)``, done
    already), else embedded (in one call) and kept there. ``unread``: the files the cache
    lacks, found already to be all unreadable (:func:`_all_undecodable`)."""
    from .._progress import counted_by

    if cache is None:
        with counted_by(bar):
            return images.embed_images([str(p) for p in chunk], return_skipped=True)
    seen, found = looked_up if looked_up is not None else cache.look_up(chunk)
    _counted_not_embedded(bar, len(found))
    if found:
        bar.set_postfix_str(f"{cache.n_read} from the cache", refresh=False)
    missing = [i for i in range(len(chunk)) if i not in found]
    X = np.full((len(chunk), cache.width), np.nan, dtype=np.float32)
    for i, vector in found.items():
        X[i] = vector
    if not missing:
        return X, []
    loaded = getattr(images, "_is_loaded", None)
    if unread is None and loaded is not None and not loaded():
        # Files the cache lacks because they cannot be read (damaged, empty, not images)
        # are found without the model: a run whose other images are all cached loads none
        # (each run loaded it, seconds to a minute, to skip the same files again).
        unread = _all_undecodable(images, [chunk[i] for i in missing])
    if unread is not None:  # (found so now, or before the run: not decoded again)
        _counted_not_embedded(bar, len(missing))
        return X, [s._replace(index=missing[s.index]) for s in unread]
    from ..embedders import kept_as_made

    kept = cache.keeper(chunk, seen, missing)
    batches_kept = 0

    def keep(rows: np.ndarray, start: int, stop: int) -> None:
        # (each batch kept as it is made: a process killed loses one batch, not the
        # call's ~_CHUNK images)
        nonlocal batches_kept
        batches_kept += 1
        kept(rows, start, stop)

    try:
        with counted_by(bar), kept_as_made(keep):
            embedded, skipped = images.embed_images(
                [str(chunk[i]) for i in missing], return_skipped=True
            )
    except (OSError, ValueError) as exc:
        exc._sksplice_positions = missing  # type: ignore[union-attr]  # (for --strict)
        raise
    except KeyboardInterrupt as exc:
        # (the images of the batches embedded before it are kept: a run started again
        # resumes from them, not from the start of this call's ~_CHUNK images; kept as
        # they were made, or here by an embedder that does not give its batches)
        rows, n_done = getattr(exc, "rows_done", (X, 0))
        if n_done and not batches_kept:
            from ._logging import signals_recorded

            with signals_recorded():  # (a second Ctrl-C waits for these few files)
                kept(rows, 0, n_done)
        raise
    X[missing] = embedded
    if not batches_kept:  # (an embedder that does not give its batches as they are made)
        kept(embedded, 0, len(missing))
    return X, [s._replace(index=missing[s.index]) for s in skipped]


#: The most files the cache lacks that are decoded to find whether any can be read
#: before the model is loaded for them (:func:`_all_undecodable`).
_UNREAD_CHECKED = 64


def _no_regular_file(path: Path) -> bool:
    """Whether ``path`` is something other than a regular file (a named pipe such as
    ``<(cat image.png)``, whose content can be read once only; a device)."""
    import stat

    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # (the decoder says why it cannot be read)
        return False


def _all_undecodable(images: Any, paths: list[Path]) -> list[Any] | None:
    """The skipped records of ``paths`` (by position) where none of them can be decoded,
    as the embedder would give them; None where one can (it stops there), where there are
    more than :data:`_UNREAD_CHECKED`, or under ``--strict`` (the embedder raises the
    first error, as it would).

    A file that cannot be read is never cached, and embedding it loads the model first.
    """
    if not paths or len(paths) > _UNREAD_CHECKED or getattr(images, "on_error", None) != "skip":
        return None
    from .._images import ITEM_ERRORS, collected_warnings, load_rgb
    from ..embedders import SkippedInput

    skipped = []
    for i, path in enumerate(paths):
        if _no_regular_file(path):  # (a pipe read here would be empty for the embedder)
            return None
        with collected_warnings():  # (the embedder issues them, where it decodes a file)
            try:
                load_rgb(str(path))
            except ITEM_ERRORS as exc:
                skipped.append(SkippedInput(i, str(path), str(exc)))
                continue
            except Exception:  # (the embedder says what else may go wrong)
                return None
        return None
    return skipped


def _command_hint(item: str, reason: str) -> str:
    """The reason an input is skipped, with what the command line does with a file of
    arrays in place of what Python does (:func:`._inputs._array_file_hint`)."""
    from .._images import _array_file_hint as library_hint
    from ._inputs import _array_file_hint

    python = library_hint(item)
    return reason.replace(python, _array_file_hint(item)) if python else reason


def _gone(args: argparse.Namespace, chunk: list[Path], start: int, n_paths: int) -> list[Any]:
    """The images of ``chunk`` (from position ``start``), none of which exists any more,
    as skipped images; under ``--strict`` the first of them stops the run."""
    from ..embedders import SkippedInput

    reasons = [f"image file not found: {str(p)!r}" for p in chunk]
    if args.strict:
        raise CLIError(
            f"{shown_message(reasons[0])} (image {start + 1} of {n_paths}; --strict stops at "
            "the first image that cannot be read)"
        )
    return [
        SkippedInput(start + i, shown_message(str(p)), shown_message(reason))
        for i, (p, reason) in enumerate(zip(chunk, reasons, strict=True))
    ]


def _none_read(skipped: list[Any], n_paths: int) -> None:
    """No image could be read: the error, after the summary of every skipped one."""
    _report_skipped(skipped, n_paths)
    detail = f" (skipped: {_skipped_names(skipped)})" if skipped else ""
    raise CLIError(f"none of the {n_paths} images could be read{detail}")


def _vocabulary_first(args: argparse.Namespace, plan: _Plan, *, embed: bool) -> Any:
    """The text embedder of the run, for :func:`_fitted`; a vocabulary not cached for
    the model yet is, before any image is embedded, embedded now (``embed``: the
    transformer's fit then reads it from memory), or said to be embedded once the images
    are (a first run learned of it only then, when the centre is learned from the
    images, or saw its bar start under the images' bar at 0%, when the centre is
    given)."""
    from ..dictionary import cached_beginning, embed_vocabulary, is_cached, kept_blocks

    embedder = _embedders.text_embedder(plan.model, plan.pretrained, **_common(args))
    full = plan.all_concepts or plan.concepts
    if is_cached(embedder, plan.concepts, args.cache_dir, prefix_of=full):
        return embedder
    if plan.cache_note is not None:
        # (only where the vocabulary is to be embedded: a shared read-only cache holding
        # it was warned about on every run)
        logger.warning("%s", plan.cache_note)
    load = getattr(embedder, "_load", None)
    if load is not None:
        # (a checkpoint that does not fit is refused before the vocabulary's lines; the
        # images' embedder shares the model loaded)
        load()
    if not embed:
        k = len(plan.concepts)
        held = cached_beginning(embedder, plan.concepts, args.cache_dir, prefix_of=full)
        # (blocks an earlier run kept: said here, not as if none were, before "resuming")
        blocks = 0 if held else kept_blocks(embedder, plan.concepts, args.cache_dir)
        notes = (
            [
                f"an earlier run kept {plural(blocks, 'block')} of them, stopped, or unable to "
                "write the whole dictionary, reused where made with these settings: the same "
                "--batch-size and --device"
            ]
            if blocks
            else []
        )
        if plan.cache_note is None:  # (a cache folder that takes no file: nothing is kept)
            notes.append("once: later runs read them from the cache")
        logger.info(
            "the %s of the vocabulary are not cached for this model yet: they are embedded "
            "once the images are%s",
            # (a shorter beginning cached: only the rest is embedded)
            plural(k, "concept") if not held else f"last {k - held} of the {k} concepts",
            f" ({'; '.join(notes)})" if notes else "",
        )
        return embedder
    with warnings.catch_warnings():
        _quiet_cache_note(plan)
        embed_vocabulary(embedder, plan.concepts, cache_dir=args.cache_dir, prefix_of=full)
    return embedder


def _quiet_cache_note(plan: _Plan) -> None:
    """A cache folder that takes no file, or that cannot be searched, was said before
    the run: not warned again (inside ``warnings.catch_warnings``)."""
    if plan.cache_note is not None:
        from ..exceptions import DictionaryCacheWarning

        warnings.filterwarnings(
            "ignore", "cannot write the concept dictionary cache", DictionaryCacheWarning
        )
        warnings.filterwarnings(
            "ignore",
            r"the concept dictionary cache .* cannot be read \(",
            DictionaryCacheWarning,
        )


def _fitted(
    args: argparse.Namespace,
    plan: _Plan,
    X: np.ndarray,
    embedder: Any,
    streamed: bool = False,
    learned: np.ndarray | None = None,
) -> Any:
    """The transformer of the run (the concept dictionary built), fitted on ``X``, with
    the text ``embedder`` of :func:`_vocabulary_first`; ``X`` holds every image of the
    run, or only its first ones where it is ``streamed``. ``learned``: the centre
    learned from ``X`` already (:func:`_check_learnable_centre`), not learned again."""
    from .._means import learned_mean_known
    from ..exceptions import CentreMismatchWarning, SmallMeanSampleWarning
    from ..transformer import SpliceTransformer

    common = _common(args)
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=plan.all_concepts or plan.concepts,
        vocabulary_size=len(plan.concepts),
        l1_penalty=args.l1_penalty if args.l1_penalty is not None else 0.25,
        target_l0=args.target_l0,
        solver=args.solver,
        device=args.device,
        image_mean=plan.image_mean,
        data_home=args.data_home,
        cache_dir=args.cache_dir,
        verbose=common["verbose"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallMeanSampleWarning)  # said below, in CLI words
        warnings.simplefilter("ignore", CentreMismatchWarning)  # (and this one)
        _quiet_cache_note(plan)
        with learned_mean_known(X, learned) if learned is not None else contextlib.nullcontext():
            splice.fit(X)
    if not streamed:
        _say_if_centre_mismatched(plan, splice, X[:_CHUNK])
    return splice


def _say_if_centre_mismatched(plan: _Plan, splice: Any, X: np.ndarray) -> None:
    """Say that the images ``X`` do not lie around the centre of the run (a mean file of
    other CLIP weights than the run's): the first :data:`_CHUNK` images of the run, the
    same rows whether it streams (its first chunk decomposed) or embeds every image
    first, so that both say the same."""
    from .._means import _OPPOSITE, CENTRE_MISMATCH_COSINE, centre_mismatch

    if plan.mean_file is None:  # (a centre learned from these images, or the model's own)
        return
    found = centre_mismatch(X, splice.mean_, splice.data_home)
    if found is None:
        return
    model = f"{plan.model}/{plan.pretrained}" if plan.pretrained else f"{plan.model}, random"
    where = f"the image mean in {plan.mean_file}"
    fits = (
        f" (they fit the published image mean of {found.fits[0]}/{found.fits[1]}: cosine "
        f"{found.fits[2]:.2f})"
        if found.fits is not None
        else ""
    )
    logger.warning(
        "the images do not lie around %s: the mean direction of %d of them has cosine %.2f "
        "with it (below %s), so their concepts explain that offset rather than the images. "
        "%s%s: give --image-mean auto (the model's published mean, where there is one) or "
        "data (learned from the images)",
        where,
        found.n_samples,
        found.cosine,
        CENTRE_MISMATCH_COSINE,
        "The mean points the opposite way (its sign flipped?)"
        if found.cosine <= _OPPOSITE
        else f"The mean is likely of other CLIP weights than the run's ({model})",
        fits,
    )


def _fitted_note(args: argparse.Namespace, dec: _Decomposition, said_mean: bool) -> None:
    """The metadata of the fitted run, the line on its centre, and ``--save-image-mean``."""
    dec.metadata = _metadata(args, dec)
    if said_mean:
        logger.info("image mean: %s", _mean_summary(dec.metadata, dec.unit))
    if getattr(args, "save_image_mean", None) is not None:
        _save_image_mean(args.save_image_mean, dec)


def _save_image_mean(path: str, dec: _Decomposition) -> None:
    """Write the centre of the run (``--save-image-mean``) as a ``.npy`` file that
    ``--image-mean`` reads: a later run centres its images the same way.

    Written like every output file (a temporary file renamed into place): a run
    stopped meanwhile leaves the previous file as it was.
    """
    import os
    import time

    from .._atomic import atomic_write, remove_stale_temporaries
    from ._output import naming_write_errors

    mean = np.asarray(dec.splice.mean_, dtype=np.float64)
    remove_stale_temporaries(os.path.realpath(path), time.time())  # left by killed runs
    with (
        naming_write_errors(path, "--save-image-mean"),
        atomic_write(Path(path), keep_complete=True) as fh,
    ):
        np.save(fh, mean, allow_pickle=False)
    logger.info(
        "wrote %s (the image mean, %s): a later run given --image-mean %s centres its "
        "%s as this one did",
        path,
        _mean_summary(dec.metadata, dec.unit),
        path,
        dec.unit,
    )


def _metadata(
    args: argparse.Namespace, dec: _Decomposition, decomposed: int | None = None
) -> dict[str, Any]:
    """Settings and provenance of a run (the ``metadata`` of JSON output).

    ``decomposed`` is the count of records a document holds where it is not every
    image read: a streamed ``json`` run interrupted (images read but not yet
    decomposed are neither decomposed nor skipped).
    """
    from .._data import file_sha256
    from .._model_names import HF_HUB_PREFIX
    from ..transformer import MIN_MEAN_SAMPLES
    from ..vocabulary import VOCABULARIES

    splice, plan = dec.splice, dec.plan
    # (the transformer is given the published or read centre as an array: its
    # mean_source_ is "given"; the run says where it came from)
    source = plan.mean_source if plan.mean_source in ("file", "pretrained") else splice.mean_source_
    mean: dict[str, Any] = {"source": source}
    if plan.mean_file is not None:
        mean["file"] = plan.mean_file
        mean["sha256"] = file_sha256(plan.mean_file)
    if splice.mean_source_ == "data":
        mean["n_samples"] = splice.n_mean_samples_
        mean["stable"] = splice.n_mean_samples_ >= MIN_MEAN_SAMPLES
        mean["min_stable_samples"] = MIN_MEAN_SAMPLES
    return {
        "sksplice_version": __version__,
        "model": plan.model,
        # (random weights as the option spells them; null for an hf-hub: model's own)
        "pretrained": plan.pretrained or (None if plan.model.startswith(HF_HUB_PREFIX) else "none"),
        # (files are named by path, and told apart by content: two files at one path)
        "pretrained_sha256": _embedders.weights_sha256(splice.embedder),
        "vocabulary": args.vocabulary,
        "vocabulary_sha256": (
            None
            if args.vocabulary in VOCABULARIES
            else file_sha256(Path(args.vocabulary).expanduser())
        ),
        "concepts": len(splice.concepts_),
        "l1_penalty": float(splice.l1_penalty_),
        "target_l0": args.target_l0,
        # (what the records are cut to: a list of 10 concepts may be an image's 10 first)
        "top_k": getattr(args, "top_k", None),
        # (the method that ran: "auto" is named by what it chose)
        "solver": resolved_solver(args.solver),
        "image_mean": mean,
        "images": dec.n_inputs,
        "decomposed": len(dec.paths) if decomposed is None else decomposed,
        "skipped": [{"path": s.item, "reason": s.reason} for s in dec.skipped],
        **(
            {"embeddings": dec.embeddings()}
            if dec.embeddings is not None and getattr(args, "format", None) == "json"
            else {}
        ),
    }


def _mean_summary(metadata: dict[str, Any], unit: str = "images") -> str:
    """Where the centre of the run comes from, as its messages and report say it
    (``unit``: what it is learned from, ``"rows"`` of embeddings given as ``.npy`` files)."""
    mean = metadata["image_mean"]
    if mean["source"] == "data":
        note = "" if mean["stable"] else f", fewer than {mean['min_stable_samples']}: unstable"
        return f"learned from {plural(mean['n_samples'], unit[:-1])}{note}"
    if mean["source"] == "file":
        return f"from {mean['file']}"
    return f"published mean of {metadata['model']} / {metadata['pretrained']}"


def _iter_rows(dec: _Decomposition, top_k: int, quiet: bool) -> Iterator[dict[str, Any]]:
    """Decompose in chunks and yield one record per image."""
    from .._progress import progress

    n = dec.X.shape[0]
    # (weights decomposed already, by a transform with its own bar: the records are made)
    desc = "decomposing" if dec.W is None else "top concepts"
    with progress(n, desc=desc, unit=dec.unit[:-1], disable=quiet) as bar:
        for start in range(0, n, _CHUNK):
            X = dec.X[start : start + _CHUNK]
            W = None if dec.W is None else dec.W[start : start + _CHUNK]
            yield from _chunk_rows(dec.splice, X, dec.paths[start : start + _CHUNK], top_k, W)
            bar.update(X.shape[0])


def _chunk_rows(
    splice: Any, X: np.ndarray, paths: Sequence[Path | str], top_k: int, W: Any = None
) -> Iterator[dict[str, Any]]:
    """The records of one chunk of rows ``X`` (decomposed now, unless ``W`` is given)."""
    from ..transformer import DenseCodesWarning, block_of_more

    if W is None:
        with block_of_more(), warnings.catch_warnings():  # (counted by the run's own bar)
            # (codes nearly dense are said once the run has its mean, not a chunk's)
            warnings.simplefilter("ignore", DenseCodesWarning)
            W = transformed(splice, X)
    cos = splice.cosine_similarity(X, weights=W)
    baseline = splice.cosine_similarity(X, baseline=True)  # (the centre alone's)
    l0 = splice.l0(W, kind="weights", per_sample=True)
    tops = splice.top_concepts(W, k=top_k, kind="weights")
    for i in range(X.shape[0]):
        yield {
            "path": str(paths[i]),
            "l0": int(l0[i]),
            "cosine": round(float(cos[i]), 6),
            "baseline_cosine": round(float(baseline[i]), 6),
            "concepts": [{"concept": c, "weight": rounded(w)} for c, w in tops[i]],
        }


def _streams(args: argparse.Namespace, plan: _Plan) -> bool:
    """Whether the run decomposes and writes its images a chunk at a time as they are
    embedded: its centre does not depend on the images (published, from a file), no
    ``--target-l0`` calibrates the penalty on them, and it is not a ``--strict`` run
    writing to standard output (which writes all its records or none: records already
    printed could not be taken back when a later image cannot be read; a file is
    replaced only when the run ends well, so a run to a file still streams)."""
    strict_stdout = args.strict and args.output is None
    return plan.image_mean is not None and args.target_l0 is None and not strict_stdout


def _stream(
    args: argparse.Namespace, paths: list[Path], plan: _Plan
) -> tuple[_Decomposition, Iterator[dict[str, Any]]]:
    """The decomposition of a streamed run, and the records of its images as they come.

    The images are embedded until one could be read (none: the error of
    :func:`_decompose`); the transformer is fitted on those (its centre does not
    depend on them) and the records follow, the rows decomposed in the chunks of
    :func:`_iter_rows` (the same rows together: the same bytes), while the next
    images are embedded. ``dec.paths`` and ``dec.skipped`` grow as they are.
    """
    # (the centre does not depend on the images: the dictionary first, its bar and
    # its time estimate before the images' bar, not under it at 0%)
    texts = _vocabulary_first(args, plan, embed=True)
    images = _embedders.image_embedder(
        plan.model, plan.pretrained, on_error="raise" if args.strict else "skip", **_common(args)
    )
    chunks = _embedded(args, images, paths, plan.embed_dim)
    parts: list[np.ndarray] = []
    kept: list[Path] = []
    skipped: list[Any] = []
    for X_part, kept_part, skipped_part in chunks:
        skipped += skipped_part
        if kept_part:
            assert X_part is not None  # (rows are None only for a chunk with none kept)
            parts.append(X_part)
            kept += kept_part
            break
    if not kept:
        _none_read(skipped, len(paths))
    splice = _fitted(args, plan, parts[0], texts, streamed=True)
    dec = _Decomposition(
        paths=kept, X=parts[0][:0], splice=splice, skipped=skipped, plan=plan, n_inputs=len(paths)
    )
    _fitted_note(args, dec, said_mean=True)

    def rows() -> Iterator[dict[str, Any]]:
        import sys

        from .._progress import _is_terminal, progress

        # (shown while the bar of the images is: a line of its own on a terminal; written
        # as lines elsewhere, where tqdm's moves between the lines of two bars are noise)
        line: dict[str, Any] = {} if _is_terminal(sys.stderr) else {"position": 0}
        done = 0  # rows decomposed (and written)
        with progress(
            len(paths) - len(skipped), desc="decomposing", unit="image", disable=args.quiet, **line
        ) as bar:
            more = True
            while True:
                # whole chunks of _CHUNK rows, then the rest at the end, as _iter_rows does;
                # those at hand before the next images are embedded (the first chunk's
                # records waited for the embedding of the second: of every image, in a run
                # of fewer than two chunks, and an interruption kept none)
                while len(kept) - done >= _CHUNK or (not more and len(kept) > done):
                    X = np.concatenate(parts) if len(parts) > 1 else parts[0]
                    n = min(_CHUNK, X.shape[0])
                    parts[:] = [X[n:]]
                    if not done:  # (the rows a run that embeds every image first checks)
                        _say_if_centre_mismatched(plan, splice, X[:n])
                    yield from _chunk_rows(splice, X[:n], kept[done : done + n], args.top_k)
                    done += n
                    bar.update(n)
                if not more:
                    break
                try:
                    X_part, kept_part, skipped_part = next(chunks)
                    if X_part is not None:
                        parts.append(X_part)
                    kept.extend(kept_part)
                    skipped.extend(skipped_part)
                    bar.total = len(paths) - len(skipped)
                except StopIteration:
                    more = False

    return dec, rows()


def rounded(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (a weight of 4e-07 is not 0.0,
    as it would be at 6 decimals)."""
    return float(significant(value, digits))


def _skipped_line(s: Any) -> str:
    """A skipped image and why (a reason that names the file already is shown as it is).

    A reason names a file as ``repr`` writes it (``'a\\nb.png'`` for a name holding a
    line break); a name the reason lacks is shown with its control characters escaped,
    so that each skipped image keeps one line.
    """
    if s.item in s.reason or repr(s.item) in s.reason:
        return s.reason
    return f"{_printable(s.item)}: {s.reason}"


def _skipped_names(skipped: list[Any], n: int = 3) -> str:
    """The first ``n`` skipped images with their reasons, for one line."""
    from .._names import listed

    return listed(
        skipped,
        n,
        lambda s: " ".join(_skipped_line(s).split()),
        sep="; ",
        more="; and {} more, listed above",
    )


def _report_skipped(skipped: list[Any], n_total: int, unit: str = "images") -> None:
    """Say which of the ``n_total`` inputs were skipped, and why: ``unit`` names them
    (``"rows"`` of embeddings given as ``.npy`` files, not images)."""
    if not skipped:
        return
    # A reason that already names the file (most do) is shown as it is.
    lines = "".join(f"\n  {_skipped_line(s)}" for s in skipped)
    logger.warning("skipped %d of %d %s:%s", len(skipped), n_total, unit, lines)


#: Bytes of the records a json document holds in memory before it holds them on disk.
_HELD_IN_MEMORY = 64 << 20


class _Held:
    """Records held until a json document's metadata is known, as lines of JSON in a
    temporary file that stays in memory up to :data:`_HELD_IN_MEMORY` bytes (dicts of
    a million records took about 3 GB)."""

    def __init__(self) -> None:
        import tempfile

        self.n = 0
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by __exit__)
            max_size=_HELD_IN_MEMORY, mode="w+", encoding="utf-8", newline="\n"
        )

    def add(self, rec: dict[str, Any]) -> None:
        # (a record's line of JSON holds no line break: texts escape theirs)
        self._file.write(_json_record(rec) + "\n")
        self.n += 1

    def lines(self) -> Iterator[str]:
        """The records held, in order, as lines of JSON."""
        self._file.seek(0)
        for line in self._file:
            yield line.removesuffix("\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> _Held:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _write_records(
    output: str | None,
    fmt: str,
    metadata: dict[str, Any] | Callable[[int | None], dict[str, Any]],
    records: Iterable[dict[str, Any]],
    n_records: int,
    what: str,
    skipped: list[Any],
    n_paths: int,
    extra: tuple[str, ...] = (),
    *,
    query: bool = False,
    unit: str = "images",
) -> int:
    """Write ``records`` to ``output``, completely, or up to an interruption.

    On Ctrl-C (or SIGTERM, SIGHUP) the records written so far are kept in
    ``FILE.partial`` (a json document is ended and says it is incomplete) and
    the exit status of an interrupted run is returned; on any other error the
    output is discarded and the previous file stays. The summary of the skipped
    images comes first, whatever the end: before the error, or the note that the
    reader closed the output.

    ``metadata`` given as a function is known only once ``records`` are all
    made (it counts what they found: a streamed run): ``json``, which writes it
    first, holds the records until then (or until an interruption, when the
    function, given the count of records held, says what the run found so far),
    as lines of JSON in a temporary file beyond :data:`_HELD_IN_MEMORY` bytes.
    """
    out = _Output(output)
    writer = None
    held: _Held | None = None

    def start(interrupted: bool = False) -> _Writer:
        nonlocal held, writer
        n_held = held.n if interrupted and held is not None else None
        told = metadata(n_held) if callable(metadata) else metadata
        # (the writer is known, and the records taken, before any is written: an
        # interrupt while they are written ends this document; it began a second one)
        writer = _Writer(out.fh, fmt, told, extra=extra, query=query)
        pending, held = held, None
        if pending is not None:
            with pending:
                for text in pending.lines():
                    writer.write_json(text)
        return writer

    try:
        with out.writing(keep_interrupted=True):
            if fmt == "json" and callable(metadata):
                held = _Held()
            else:
                writer = _Writer(
                    out.fh, fmt, {} if callable(metadata) else metadata, extra=extra, query=query
                )
            for rec in records:
                if held is not None:
                    held.add(rec)
                else:
                    writer.write(rec)  # type: ignore[union-attr]
            if writer is None:
                start()
            assert writer is not None
            writer.close()
            out.summary = plural(writer.n, what.removesuffix("s"))
    except KeyboardInterrupt as exc:
        n = writer.n if writer is not None else (held.n if held is not None else 0)
        in_place = out.path is None or out.partial == out.path
        if n == 0 and (writer is None or not in_place):
            # Nothing finished: no output at all (no empty json document), and a file
            # stays as it was, an earlier interrupted run's FILE.partial included.
            out.discard()
            where = None
        else:
            if writer is None and held is not None:
                # (the records held, closed as those of an interrupted run)
                start(interrupted=True)
            if writer is not None:
                writer.close(interrupted=True)
            where = out.keep_partial()
        _report_skipped(skipped, n_paths, unit)
        kept = f"; the {n} finished records are in {where}" if where is not None else ""
        code, said = _interruption(exc)
        embedded = getattr(exc, "_sksplice_embedded", None)  # (a streamed run's, embedding)
        if n == 0 and embedded is not None:
            # (in its first block: how far the embedding got, as an interruption before
            # the records begin says it, the embeddings kept with it)
            logger.error(
                "%s %s: no record was written%s", said, interrupted_embedding(embedded), kept
            )
            return code
        if embedded is not None and embedded[2]:
            kept += f"; {plural(embedded[2], 'image embedding')} kept for a run started again"
        if n == 0:  # (as an interruption before the records begin says it)
            logger.error("%s: no record was written%s", said, kept)
        else:
            logger.error("%s: %d of %d %s written%s", said, n, n_records, what, kept)
        return code
    except BrokenPipeError as exc:
        _report_skipped(skipped, n_paths, unit)
        if not _reader_gone(None if out.path is None else str(out.path)):
            raise  # (not from the output: an error of the run)
        # the reader went away (``sksplice ... | head``): the command stops quietly (exit 0)
        n = writer.sent if writer is not None else 0
        _note_closed_output(exc, out.where, f"{n} of {n_records} {what}")
        raise
    except Exception:
        # (an output that cannot be written, an error of the work: exit 1, after the summary)
        _report_skipped(skipped, n_paths, unit)
        raise
    finally:
        if held is not None:  # (records not written: an interruption before any finished)
            held.close()
    _report_skipped(skipped, n_paths, unit)
    return 0


def _note_closed_output(exc: BrokenPipeError, where: str, written: str | None = None) -> None:
    """Say on standard error that the reader of ``where`` closed it (once per ``exc``)."""
    if getattr(exc, "_sksplice_noted", False):
        return
    exc._sksplice_noted = True  # type: ignore[attr-defined]
    if written is None:
        logger.info(
            "%s was closed by its reader before the results were all written; the rest "
            "were not written",
            where,
        )
    else:
        # (sent: a pipe holds what was written until its reader takes it, so `| head -3`
        # read 3 records of the 227 said to be written to it; in full: a long record
        # reaches the pipe in parts, so `-f csv | head -5` read rows of the first image
        # of "0 of 3000 images")
        logger.info(
            "%s was closed by its reader after %s had been sent to it in full (and perhaps "
            "part of the next; the reader may have read fewer); the rest were not written",
            where,
            written,
        )


def refuse_one_input_early(
    args: argparse.Namespace, paths: list[Path], inputs: Sequence[str] | None = None
) -> None:
    """With ``--image-mean data`` the centre is learned from the images whatever the
    model: one input (of ``inputs``, default ``args.inputs``) is refused at once
    (:func:`_refuse_one_input`), before the options are checked (``auto`` waits for
    them: :func:`refuse_one_input_unpublished`)."""
    if getattr(args, "image_mean", None) == "data" and len(paths) < 2:
        _refuse_one_input(paths, getattr(args, "inputs", ()) if inputs is None else inputs, args)


def refuse_one_input_unpublished(
    args: argparse.Namespace, paths: list[Path], inputs: Sequence[str] | None = None
) -> None:
    """With the default ``--image-mean auto``, one input is refused where the model and
    weights have no published mean (a table lookup; a misspelt name has none either, and
    the advice names a model that has one): given to :func:`_check_options` as its
    ``before_model``, after the cheap option checks and before torch and open_clip are
    imported (seconds)."""
    if (
        getattr(args, "image_mean", None) == "auto"
        and len(paths) < 2
        and not has_published_mean(args)
    ):
        _refuse_one_input(paths, getattr(args, "inputs", ()) if inputs is None else inputs, args)


def _cmd_decompose(args: argparse.Namespace) -> int:
    from ._embeddings import are_embeddings, check_names_options

    embeddings = are_embeddings(args.inputs)
    with _usage():
        check_names_options(args, embeddings)
    if embeddings:
        return _decompose_embeddings(args)
    with _usage():
        paths = _collect_images(args.inputs, _outputs_of(args), classes=False)
        refuse_one_input_early(args, paths)
        _check_outputs_apart(args, paths)
        plan = _check_options(args, before_model=lambda: refuse_one_input_unpublished(args, paths))
        check_standard_output_encodes(args.output, {"file name": paths}, {"concept": plan.concepts})
    _warn_unknown_extension(args)
    try:
        if _streams(args, plan):
            dec, rows = _stream(args, paths, plan)
        else:
            dec = _decompose(args, paths, plan)
            rows = _iter_rows(dec, args.top_k, args.quiet)
    except KeyboardInterrupt as exc:
        # (before any record is written: the images embedded, the dictionary built, the
        # weights solved; it said a bare "interrupted" unless the embedding was under way)
        embedded = getattr(exc, "_sksplice_embedded", None)
        code, said = _interruption(exc)
        if embedded is None:
            logger.error("%s: no record was written", said)
        else:
            logger.error("%s %s: no record was written", said, interrupted_embedding(embedded))
        return code
    streamed = _streams(args, plan)
    return _write_run(args, dec, rows, len(paths) if streamed else len(dec.paths), streamed)


def _decompose_embeddings(args: argparse.Namespace) -> int:
    """``decompose`` given ``.npy`` files: their rows, embeddings computed already, are
    decomposed (only the vocabulary is embedded), in the chunks of :func:`_iter_rows`."""
    run = check_embeddings_run(args, lambda emb: ({"file name": emb.names}, {}))
    try:
        dec = decompose_embeddings(args, run)
    except KeyboardInterrupt as exc:
        code, said = _interruption(exc)
        logger.error("%s: no record was written", said)
        return code
    return _write_run(args, dec, _iter_rows(dec, args.top_k, args.quiet), len(dec.paths), False)


@dataclass
class EmbeddingsRun:
    """The ``.npy`` inputs of a run and its plan, every one checked
    (:func:`check_embeddings_run`)."""

    embeddings: Any  # (._embeddings.EmbeddingInputs)
    plan: _Plan
    # whether the rows were checked to lie around the run's centre before the model loaded
    centre_checked: bool
    # the rows all zero, named, and the centre learned from the rows, where the run
    # learns it and knew so before the model loaded (None: not found yet)
    n_zero: int | None = None
    learned: np.ndarray | None = None


def check_embeddings_run(
    args: argparse.Namespace,
    encoded: Callable[[Any], tuple[dict[str, Sequence[Any]], dict[str, Sequence[Any]]]],
    vocabulary_check: Callable[[list[str], list[str]], object] | None = None,
    after_read: Callable[[Any], object] | None = None,
    after_scan: Callable[[Any], object] | None = None,
) -> EmbeddingsRun:
    """Read and check the ``.npy`` files of ``args.inputs`` and the names of their rows,
    then every option (:func:`~._checks._check_options`, given ``vocabulary_check``),
    before the vocabulary is embedded.

    Everything is checked first (:mod:`._embeddings`: the files, the names, the width
    against the model's, the rows against a centre at hand). ``encoded`` gives, for the
    embeddings read, the names that standard output must encode: those every run writes,
    and those it may write (:func:`~._output.check_standard_output_encodes`).
    ``after_read``, when given, is called with the embeddings read, before the options are
    checked (the classes of the rows, read and checked); ``after_scan`` once every value
    is read, before the model (what the rows skipped for values that are not finite leave:
    each collection, each class).
    """
    from ._embeddings import check_centre_early, check_width, read_embeddings
    from ._logging import ROWS_CALLED

    ROWS_CALLED.set("row")  # (the library's messages about samples: rows, not images)
    checked = False  # (the centre, before the model loads: not again after the fit)
    early: dict[str, Any] = {}  # (what the rows tell before the model: see EmbeddingsRun)

    def before_weights() -> None:
        nonlocal checked
        checked = check_centre_early(args, emb)

    def before_model() -> None:
        # (every value is read once the options are checked: a mistake in them is found
        # before a scan of gigabytes)
        n_left = emb.find_not_finite(strict=getattr(args, "strict", False))
        if not n_left:
            raise RunError(
                f"none of the {plural(emb.n_rows, 'row')} can be decomposed: every one holds "
                "values that are not finite (NaN or infinite)"
            )
        if n_left < 2 and getattr(args, "image_mean", None) == "data":
            _refuse_one_embedding(emb, args)
        _refuse_one_row_unpublished(args, n_left, emb)
        if _learns_centre(args):
            # (every row is read: what leaves no centre to learn is said now, not once the
            # model and the vocabulary are loaded)
            X, names, _ = emb.decomposable()
            early["n_zero"] = _refuse_all_zero(X, names)
            early["learned"] = _check_learnable_centre(X, args, rows=True)
        if after_scan is not None:
            after_scan(emb)

    with _usage():
        emb = read_embeddings(args)
        if after_read is not None:
            after_read(emb)
        _check_outputs_apart(args)
        plan = _check_options(
            args,
            vocabulary_check,
            before_model=before_model,
            width_check=lambda width: check_width(emb, width, args.model),
            before_weights=before_weights,
        )
        written, possible = encoded(emb)
        check_standard_output_encodes(
            getattr(args, "output", None), written, {**possible, "concept": plan.concepts}
        )
    _warn_unknown_extension(args)
    return EmbeddingsRun(emb, plan, checked, **early)


def _learns_centre(args: argparse.Namespace) -> bool:
    """Whether the run learns its centre from the rows, as known before the model loads
    (``--image-mean data``, or ``auto`` for weights without a published mean; a model of
    the Hugging Face Hub may bring its own, known once it loads)."""
    from .._model_names import HF_HUB_PREFIX

    image_mean = getattr(args, "image_mean", None)
    if image_mean == "data":
        return True
    model = getattr(args, "model", None) or ""
    if image_mean != "auto" or model.startswith(HF_HUB_PREFIX):
        return False
    return not has_published_mean(args)


def _refuse_all_zero(X: np.ndarray, names: Sequence[str]) -> int:
    """Name the rows of ``X`` that are all zero (:func:`_say_zero_rows`), and refuse rows
    that are all zero, which leave no centre to learn; how many there are."""
    n_zero = _say_zero_rows(X, names)
    if n_zero == len(names):
        raise RunError(
            f"every one of the {plural(len(names), 'row')} to decompose is all zero: no "
            "centre can be learned from them, and none holds a concept"
        )
    return n_zero


def decompose_embeddings(args: argparse.Namespace, run: EmbeddingsRun) -> _Decomposition:
    """Fit the decomposition of the rows of a run given embeddings computed already
    (checked by :func:`check_embeddings_run`); its rows named by their names.

    The transformer is fitted on the first chunk of rows where its centre does not
    depend on them, else on all of them. Rows that hold values that are not finite are
    skipped (named as skipped images are).
    """
    from ._embeddings import check_centre

    emb, plan = run.embeddings, run.plan
    X, names, skipped = emb.decomposable()  # (some row is left: refused above if not)
    if plan.image_mean is not None:  # (a centre given, published, or the model's own)
        n_zero = run.n_zero if run.n_zero is not None else _say_zero_rows(X, names)
        mean = None
    elif run.learned is not None:  # (learned before the model loaded)
        n_zero, mean = run.n_zero or 0, run.learned
    else:  # (a model of the Hub that brought no centre)
        n_zero = _refuse_all_zero(X, names)
        mean = _check_learnable_centre(X, args, rows=True)
    texts = _vocabulary_first(args, plan, embed=True)
    whole = plan.image_mean is None or args.target_l0 is not None
    splice = _fitted(args, plan, X if whole else X[:_CHUNK], texts, streamed=True, learned=mean)
    if not run.centre_checked and plan.mean_source != "data":
        # (a centre downloaded with the model, or read by torch: checked now)
        check_centre(
            emb,
            splice.mean_,
            _where_centred(plan),
            splice.data_home,
            published=plan.mean_file is None,
        )
    said_small = _say_if_small_mean(splice, X.shape[0], "row")
    dec = _Decomposition(
        paths=names,
        X=X,
        splice=splice,
        skipped=skipped,
        plan=plan,
        n_inputs=emb.n_rows,
        embeddings=lambda: emb.described,
        n_zero=n_zero,
    )
    _fitted_note(args, dec, said_mean=not said_small)
    return dec


def transformed(splice: Any, X: np.ndarray) -> Any:
    """``splice.transform(X)``, without the library's warning of rows all zero: numbered
    within ``X`` (a chunk, or the rows left once others are skipped), they match no row of
    any input; the run names them by input, once (:func:`_say_zero_rows`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"X row\(s\) .* are all zero", UserWarning)
        return splice.transform(X)


def _say_zero_rows(X: np.ndarray, names: Sequence[str]) -> int:
    """Name the rows of ``X`` that are all zero: without a direction, they hold no
    concept (and are left out of a learned centre); how many there are."""
    from .._means import zero_rows

    zero = np.flatnonzero(zero_rows(X))
    if zero.size:
        shown = ", ".join(names[i] for i in zero[:3]) + (", ..." if zero.size > 3 else "")
        logger.warning(
            "%s all zero (%s): an embedding without a direction holds no concept, and is left "
            "out of a centre learned from the rows",
            "1 row is" if zero.size == 1 else f"{zero.size} rows are",
            shown,
        )
    return int(zero.size)


def _where_centred(plan: _Plan) -> str:
    """The centre of the run, as the messages name it (a file, or a published mean)."""
    if plan.mean_file is not None:
        return f"the image mean in {plan.mean_file}"
    return f"the published image mean of {plan.model}/{plan.pretrained}"


def _refuse_one_row_unpublished(args: argparse.Namespace, n_left: int, emb: Any) -> None:
    """One embedding (``n_left`` of the rows of ``emb``, the others skipped) whose centre
    would be learned from it (``--image-mean auto`` for a model without a published mean)
    is refused, as one image is."""
    if getattr(args, "image_mean", None) == "auto" and n_left < 2 and not has_published_mean(args):
        _refuse_one_embedding(emb, args)


def _refuse_one_embedding(emb: Any, args: argparse.Namespace) -> None:
    """Refuse one embedding left to learn the centre from, as one image is: one row given
    is a wrong command line (exit 2); one left after the others were skipped for values
    that are not finite is a finding of the run (exit 1), with the rows skipped."""
    from .._names import listed

    if emb.n_rows < 2:
        raise UsageError(_one_embedding_advice(emb.n_rows, args))
    # (named here: the records of skipped rows come with the library, seconds to import)
    skipped = listed([emb.names[i] for i in emb.not_finite or []], 3)
    raise RunError(_one_embedding_advice(emb.n_rows, args, skipped))


def _one_embedding_advice(n_rows: int, args: argparse.Namespace, skipped: str = "") -> str:
    """Why one embedding (of the ``n_rows`` given, the others not finite: ``skipped``
    names them) cannot give the centre, and what to give instead: the model that made it
    is given already."""
    from .._means import MIN_MEAN_SAMPLES

    hint = _checkpoint_hint(args)
    named = f"; skipped: {skipped}" if skipped else ""
    left = "" if n_rows < 2 else f" (the only one of the {n_rows} rows with finite values{named})"
    return (
        f"the image mean (the modality centre) cannot be learned from a single embedding"
        f"{left}: its centred embedding would be zero. Decompose it together with other "
        f"embeddings of the same model (at least {MIN_MEAN_SAMPLES} give a stable centre), "
        "or give --image-mean FILE.npy (the mean image embedding of the model that made it; "
        "--image-mean pretrained where that model has a published mean)"
        + (f"; {hint}" if hint else "")
    )


def _write_run(
    args: argparse.Namespace,
    dec: _Decomposition,
    rows: Iterator[dict[str, Any]],
    n_records: int,
    streamed: bool,
) -> int:
    """Write the records of a decomposition (``streamed``: its metadata known only once
    they are all made), then say what the whole run found (no concept in any image,
    codes nearly dense)."""
    with_concepts = n_written = n_concepts = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal with_concepts, n_written, n_concepts
        for rec in rows:
            with_concepts += rec["l0"] > 0
            n_written += 1
            n_concepts += rec["l0"]
            yield rec

    # (a json document writes its metadata first: it holds its records until the end,
    # so that an interrupted one counts those it holds as decomposed)
    code = _write_records(
        args.output,
        args.format,
        (
            (lambda n: _metadata(args, dec, n))
            if streamed or args.format == "json"
            else dec.metadata
        ),
        counted(),
        n_records,
        dec.unit,
        dec.skipped,
        dec.n_inputs,
        unit=dec.unit,
    )
    # (rows all zero, said already, hold no concept at any penalty: not counted)
    n_zero = dec.n_zero  # (said only for a run that wrote every record: code 0)
    if code == 0 and not with_concepts and not (n_zero and n_zero == n_written):
        # (each image says "no concept above the penalty": the run says why, and what to do)
        logger.warning("%s", no_concept(len(dec.paths) - n_zero, dec.unit))
    elif code == 0 and args.target_l0 is None:
        _say_if_mostly_empty(dec.splice, n_written - with_concepts - n_zero, n_written - n_zero)
    if code == 0 and n_written:
        _say_if_dense(dec.splice, n_concepts / n_written)
    return code


def _say_if_mostly_empty(splice: Any, n_empty: int, n: int) -> None:
    """Say that more than half the ``n`` images of the run have no concept."""
    from ..transformer import _mostly_empty, _mostly_empty_message
    from ._logging import _cli_words

    if _mostly_empty(n_empty, n):
        logger.warning("%s", _cli_words(_mostly_empty_message(n_empty, n, splice.l1_penalty_)))


def _say_if_dense(splice: Any, mean_l0: float) -> None:
    """Say that the run's codes are nearly dense, with their mean over the whole run
    (the transformer would say the mean of the first chunk of images that has them)."""
    from ..transformer import _dense_codes, _nearly_dense

    d = splice.n_features_in_
    if splice.target_l0 is None and _nearly_dense(mean_l0, d):
        logger.warning("%s", _dense_codes(mean_l0, d, splice.l1_penalty_))
