"""Every option checked and resolved before any image or concept is embedded."""

from __future__ import annotations

import argparse
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import PAGE_EXTENSIONS, _write_through, folder_refusal
from . import _embedders
from ._logging import CLIError, _close, _of_the_run

logger = logging.getLogger(__name__)

_MEAN_KEYWORDS = ("auto", "pretrained", "data")


@dataclass
class _Plan:
    """Every option checked and resolved, before anything is embedded."""

    model: str
    pretrained: str | None
    embed_dim: int
    concepts: list[str]
    image_mean: Any  # None (learn from the images), or a 1-D float array
    mean_source: str  # "data", "pretrained" or "file"
    mean_file: str | None = None
    cache_note: str | None = None  # a chosen cache folder that takes no file: said so
    # The whole vocabulary (``concepts`` begin it, cut by --vocabulary-size): the
    # transformer reuses a cached longer or shorter beginning of it.
    all_concepts: list[str] | None = None


#: The devices ``--device`` names most (for the close matches of a misspelt one).
_COMMON_DEVICES = ("auto", "cpu", "cuda", "mps")
#: What torch parses as a device: a lower-case type (other backends than these
#: included), optionally with an index.
_DEVICE_SYNTAX = re.compile(r"[a-z][a-z0-9_]*(:[0-9]+)?")


#: Names of a GPU that torch does not know, and torch's name for it.
_GPU_NAMES = {"gpu": "cuda", "nvidia": "cuda", "cuda0": "cuda:0"}


def _check_device(device: str) -> None:
    def refused() -> CLIError:
        base = re.split(r"[:\s]", device.strip(), maxsplit=1)[0]
        meant = _GPU_NAMES.get(base.lower())
        index = device.partition(":")[2].strip()
        if meant == "cuda" and index.isdigit():  # (gpu:1 is cuda:1)
            meant = f"cuda:{index}"
        hint = f" (did you mean {meant}?)" if meant else _close(base.lower(), _COMMON_DEVICES)
        return CLIError(f"--device {device!r} is not a device{hint}; use auto, cpu, cuda or cuda:N")

    # (what torch cannot parse is refused before it is imported, which takes seconds;
    # "auto" has the same form; so are the names torch gives no GPU)
    if not _DEVICE_SYNTAX.fullmatch(device) or device.split(":")[0] in _GPU_NAMES:
        raise refused()
    if device.split(":")[0] == "meta":  # (torch's, but where a run fails once it embeds)
        raise CLIError(
            f"--device {device}: torch's meta device holds shapes, not numbers: nothing can "
            "be embedded or solved there; use auto, cpu, cuda or cuda:N"
        )
    from ._embedders import import_model_libraries

    import_model_libraries(open_clip=False)  # (torch, with Ctrl-C held until it is loaded)
    from .._device import resolve_device as _resolve_device
    from ..exceptions import DeviceUnavailableError

    try:
        _resolve_device(device)
    except DeviceUnavailableError as exc:  # (one torch knows, that this machine has not)
        auto = " (or --device auto)" if exc.instead == "cpu" else ""
        raise CLIError(f"--device {device}: {exc.why}; use --device {exc.instead}{auto}") from exc
    except ValueError as exc:
        raise refused() from exc


def _check_solver(solver: str) -> None:
    from ..solvers._names import SOLVERS  # (without torch)

    if solver not in SOLVERS:
        raise CLIError(
            f"--solver {solver!r} is not a solver; choose one of {', '.join(SOLVERS)}"
            f"{_close(solver, SOLVERS)}"
        )


def _check_vocabulary(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The concepts kept and all of them, with --vocabulary-size checked against the
    vocabulary's length."""
    from ..vocabulary import (
        VOCABULARIES,
        EmptyVocabularyError,
        auto_size,
        load_vocabulary,
        named_auto_size,
        size_cut_by_caller,
    )

    name, size = args.vocabulary, args.vocabulary_size
    path = Path(name).expanduser()
    if name in VOCABULARIES:
        with _of_the_run():  # (a download, or a file in the data folder)
            concepts = load_vocabulary(name, size=None, data_home=args.data_home)
        what = f"the {name!r} vocabulary"
        if size is None:
            size = min(named_auto_size(name), len(concepts))
    elif path.is_file():
        if size is None:  # (a copy of a published vocabulary: its most frequent)
            size = auto_size(path)
        what = f"vocabulary file {path}"
        try:
            with size_cut_by_caller(size):  # (warned below, in the command line's terms)
                concepts = load_vocabulary(path, size=None)
        except EmptyVocabularyError as exc:  # (said as a file of too few concepts is)
            why = "it is empty" if exc.empty else "only blank lines"
            raise CLIError(
                f"{what} holds no concept ({why}); SpLiCE needs at least two (the dictionary "
                "is centred by their mean)"
            ) from exc
        except ValueError as exc:
            raise CLIError(f"--vocabulary {path}: {exc}") from exc
    elif path.exists():
        raise CLIError(f"--vocabulary {path} is not a file")
    else:
        raise CLIError(
            f"--vocabulary {name!r} is neither a vocabulary name ({', '.join(VOCABULARIES)}) "
            f"nor an existing text file{_close(name, list(VOCABULARIES))}"
        )
    if len(concepts) < 2:
        raise CLIError(
            f"{what} holds {len(concepts)} concept{'' if len(concepts) == 1 else 's'} (after "
            "removing blank lines and repeats); SpLiCE needs at least two (the dictionary is "
            "centred by their mean)"
        )
    if size is not None and size > len(concepts):
        raise CLIError(
            f"--vocabulary-size {size} is larger than the {len(concepts)} concepts of {what}; "
            f"use --vocabulary-size {len(concepts)} or less"
        )
    if name in VOCABULARIES:
        from ..vocabulary import _warn_if_no_phrase_kept

        _warn_if_no_phrase_kept(name, concepts, size)
    else:
        from ..vocabulary import _warn_first_lines_of_a_copy

        _warn_first_lines_of_a_copy(
            path, size, concepts, data_home=args.data_home, command_line=True
        )
    return (concepts[:size] if size is not None else concepts), concepts


def has_published_mean(args: argparse.Namespace) -> bool:
    """Whether ``--model``/``--pretrained`` name weights whose image mean is published
    (a table lookup, before torch and open_clip are imported)."""
    from .._model_names import HF_HUB_PREFIX

    model, pretrained = getattr(args, "model", None), getattr(args, "pretrained", None)
    if not model or model.startswith(HF_HUB_PREFIX):
        return False
    return _published(model, pretrained)


def _published(model: str, pretrained: str | None) -> bool:
    """Whether the image mean of ``model`` with the weights ``pretrained`` is published."""
    from ..vocabulary import IMAGE_MEANS, image_mean_key

    return pretrained is not None and image_mean_key(model, pretrained) in IMAGE_MEANS


def _no_published_mean(
    model: str, pretrained: str | None, args: argparse.Namespace | None = None
) -> CLIError:
    """The error of ``--image-mean pretrained`` for weights of no published mean (for a
    checkpoint file of a model that has one: how to give it); ``args``: the command
    line, whose inputs are images or rows of ``.npy`` files (what a centre is learned
    from)."""
    from ..vocabulary import IMAGE_MEANS, _checkpoint_mean_hint
    from ._embeddings import are_embeddings
    from ._logging import shell_word

    inputs = [str(i) for i in getattr(args, "inputs", None) or []]
    learned_from = "rows" if are_embeddings(inputs) else "images"

    hint = _checkpoint_mean_hint(model, pretrained)
    known = ", ".join(f"--model {m} --pretrained {p}" for m, p in IMAGE_MEANS)
    return CLIError(
        f"--image-mean pretrained: no published image mean for --model {model} "
        f"--pretrained {shell_word(pretrained or 'none')} "
        + (f"({hint})" if hint else f"(published: {known})")
        + f"; use --image-mean data to learn it from the {learned_from}, or --image-mean FILE.npy"
    )


def _check_image_mean(
    args: argparse.Namespace, model: str, pretrained: str | None, d: int
) -> tuple[Any, str, str | None]:
    """The modality centre: (mean or None, source, file)."""
    from ..vocabulary import as_mean_vector, load_image_mean

    choice = args.image_mean
    published = _published(model, pretrained)
    if choice == "auto":
        choice = "pretrained" if published else "data"
    if choice == "data":
        return None, "data", None
    if choice == "pretrained":
        if not published:
            raise _no_published_mean(model, pretrained, args)
        with _of_the_run():  # (a download, or a file in the data folder)
            mean = load_image_mean(model, pretrained, data_home=args.data_home)
        return as_mean_vector(mean, d), "pretrained", None
    path = Path(choice).expanduser()
    if not path.is_file():
        raise CLIError(
            f"--image-mean: no such file {path} (or use {', '.join(_MEAN_KEYWORDS)})"
            f"{_close(choice, _MEAN_KEYWORDS)}"
        )
    mean = _mean_file(path, d, model)
    _say_zero_mean(args, path, mean)
    return mean, "file", str(path)


def _check_output(path: str | None, option: str = "-o", command: str | None = None) -> None:
    """An output file can be written: a name is given, its folder exists and it is not
    a folder, and an existing file is not write-protected."""
    if path is None or path == "-":
        return
    _check_output_named(path, option, command)
    target = Path(path)
    # (decompose and search keep an interrupted run's records in FILE.partial)
    partial_too = option == "-o" and command in (None, "decompose", "search")
    _check_name_length(target, Path(os.path.realpath(target)).parent, option, partial_too)
    if target.is_dir():
        raise CLIError(f"cannot write output file {target}: it is a directory ({option})")
    if path.endswith(("/", os.sep)) or os.path.basename(path) in (".", ".."):
        # (Path drops the slash and a last "/.": "out/" would name the file "out",
        # "out.csv/" or "out.csv/." replace the file out.csv, where the shell's ">"
        # refuses them all)
        raise CLIError(
            f"cannot write output file {path}: a path ending in / (or /. or /..) names a "
            f"folder, not a file; give a file name ({option})"
        )
    folder = Path(os.path.realpath(target)).parent
    if not folder.is_dir():
        # (the nearest existing folder above may be a file: "a_file/sub/out.csv")
        above = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if above is not None and not above.is_dir():
            raise CLIError(
                f"cannot write output file {target}: {above} is a file, not a folder ({option})"
            )
        # (named as the command line named it, unless a link leads elsewhere)
        given = target.parent
        shown = given if os.path.realpath(given) == str(folder) else folder
        raise CLIError(
            f"cannot write output file {target}: folder {shown} does not exist; create it "
            f"first ({option})"
        )
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = None
    if mode is not None and (not stat.S_ISREG(mode) or _write_through(target, mode)):
        return  # a pipe, a device or a standard stream: written in place
    partial = Path(os.path.realpath(target) + ".partial")
    if option == "-o" and partial.is_dir():
        # (an interrupted run keeps its finished records there: they would be lost)
        raise CLIError(
            f"cannot write output file {target}: {partial} is a folder, where an "
            f"interrupted run keeps the records it finished; remove or rename it ({option})"
        )
    if mode is not None and not os.access(target, os.W_OK):
        # The file would be replaced by a new one (renamed over it), which its folder's
        # permissions allow: refused as the shell's ">" refuses it (a superuser, whom
        # os.access lets through, writes it as ">" would).
        if not mode & stat.S_IWUSR:
            raise CLIError(
                f"cannot write output file {target}: it is write-protected; make it "
                f"writable (chmod u+w {target}) or give another file ({option})"
            )
        # (its mode allows writing: an immutable file, a read-only mount, access rules)
        raise CLIError(
            f"cannot write output file {target}: it cannot be written, though its mode "
            "allows it (a file marked immutable, a read-only file system, or access rules); "
            f"give another file ({option})"
        )
    # (a file that exists and could be written in place: why its folder matters, and
    # the redirection that writes it as it is, where the command writes standard output)
    why = ""
    if mode is not None:
        why = (
            f"; {option} writes a new file beside it and renames it over it, so that a run "
            "that fails leaves it as it was: give a file in a writable folder"
        )
        if option == "-o" and command != "report":
            from ._logging import shell_word
            from ._parser import output_format

            # (the format -o would have chosen by the extension: standard output's is
            # the table; and the shell empties the file before the run)
            fmt = output_format(None, str(target))
            chosen = "" if fmt == "table" else f"-f {fmt} "
            why += (
                f", or write standard output into it ({chosen}> {shell_word(str(target))}; a "
                "run that fails then leaves it cut short)"
            )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(
            f"cannot write output file {target}: folder {folder} is not writable{why} ({option})"
        )
    # The output is written to a temporary file in that folder, then renamed over the
    # file: one is made and removed now, so that a folder that takes no new file, or
    # lets none be removed (a special file system such as /proc, which os.access lets
    # a superuser through; an append-only folder), is refused before the run.
    refusal = folder_refusal(folder)
    if refusal is not None:
        raise CLIError(f"cannot write output file {target}: {refusal.strerror}{why} ({option})")


def _check_standard_output(path: str | None) -> None:
    """Results for standard output (no ``-o``, or ``-o -``) have one to go to.

    A standard output closed by the shell (``>&-``) is ``None`` in Python: the run
    would embed every image, then fail to write.
    """
    if (path is None or path == "-") and sys.stdout is None:
        raise CLIError(
            "standard output is closed (as by >&-): the results would have nowhere to "
            "go; give -o FILE, or open standard output (> FILE, or a pipe)"
        )


def _check_save_image_mean(path: str | None) -> None:
    """``--save-image-mean``: a file (not ``-``), checked like ``-o``."""
    if path is None:
        return
    if path == "-":
        raise CLIError(
            "--save-image-mean needs a file name (the centre is a .npy file, e.g. "
            "--save-image-mean mean.npy)"
        )
    _check_output(path, "--save-image-mean")


def _check_name_length(target: Path, folder: Path, option: str, partial_too: bool) -> None:
    """The name of an output file, and with ``partial_too`` of the ``FILE.partial``
    beside it, fit the file names of its folder (255 bytes on most file systems): a name
    of 248 to 255 bytes was refused with a bare "File name too long" naming a file that
    was not asked for."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # (no such query: Windows)
        limit = 255
    size = len(os.fsencode(target.name))
    extra = len(".partial") if partial_too else 0
    if size + extra <= limit:
        return
    why = (
        f"beyond the {limit} bytes a file name may have there"
        if size > limit
        else f"and {target.name[:12]}....partial, which keeps the records of an interrupted "
        f"run, would be {size + extra}, beyond the {limit} a file name may have there"
    )
    raise CLIError(
        f"cannot write output file {target}: its name is {size} bytes long, {why}; give a "
        f"name of at most {limit - extra} bytes ({option})"
    )


def _check_output_named(path: str, option: str, command: str | None = None) -> None:
    """An output path given is not empty (``-o ""``: a variable that was not set); ``-``
    (standard output) is offered where the option takes it: not for a page
    (``report -o``, ``--report``) or a ``.npy`` file (``--save-image-mean``)."""
    if not path:
        to_stdout = option == "-o" and command != "report"
        raise CLIError(
            f"the output path of {option} is empty: give a file name"
            + (", or - for standard output" if to_stdout else "")
        )


#: Extensions of a -o file that the table format is expected in.
_TEXT_EXTENSIONS = ("", ".txt", ".text", ".out", ".log")


def _warn_unknown_extension(args: argparse.Namespace) -> None:
    """Say that a -o file named for another format gets the one written.

    Without ``-f``, a file whose extension names no output format gets the table
    (``-o out.parquet``); with it, a file whose extension names another format
    gets the one asked for (``-f csv -o out.json``). An HTML report (``report -o``,
    ``compare --report``) named for another format (``r.csv``, ``r.txt``) gets
    the page.

    Called once the command line is accepted (every check passed): a run that is
    refused says only why, not what its output would have been.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; ``format_from_extension`` (set by
        :func:`sksplice.cli.main`) is true when ``-f`` was not given.
    """
    from ._parser import output_format  # (the parser imports the commands)

    pages = [("--report", getattr(args, "report", None))]
    if getattr(args, "command", None) == "report":
        pages.append(("-o", args.output))
    for option, page in pages:
        suffix = "" if page is None else Path(page).suffix.lower()
        if suffix[1:].isalpha() and suffix not in PAGE_EXTENSIONS:
            logger.warning(
                "%s %s: the file gets the report, an HTML page, whatever its extension (%s); "
                "name it .html to open it in a browser",
                option,
                page,
                suffix,
            )
    mean_file = getattr(args, "save_image_mean", None)
    if mean_file is not None and Path(mean_file).suffix.lower() != ".npy":
        logger.warning(
            "--save-image-mean %s: the file gets the centre as .npy data whatever its name; "
            "name it .npy to tell what it holds (--image-mean reads it either way)",
            mean_file,
        )
    output = getattr(args, "output", None)
    if output in (None, "-") or not hasattr(args, "format"):
        return
    named = output_format(None, output)  # the format the extension names, else table
    if not getattr(args, "format_from_extension", False):
        if named != "table" and named != args.format:
            logger.warning(
                "-o %s: the file gets the %s format (-f %s), not the %s format its extension names",
                output,
                args.format,
                args.format,
                named,
            )
        return
    suffix = Path(output).suffix.lower()  # (as output_format reads it)
    if suffix[1:].isalpha() and suffix not in _TEXT_EXTENSIONS and named == "table":
        # (a page named: the HTML explorer is compare's --report, or the report command)
        page = ""
        command = getattr(args, "command", None)
        if suffix in PAGE_EXTENSIONS and command == "compare":
            page = f"; for the HTML page, give --report {output}"
        elif suffix in PAGE_EXTENSIONS and command in ("decompose", "profile"):
            from ._logging import shell_word

            given = [str(i) for i in getattr(args, "inputs", None) or []]
            shown = " ".join(shell_word(i) for i in given[:3]) + (" ..." if given[3:] else "")
            page = f"; for the HTML page, run sksplice report {shown} -o {output}"
        logger.warning(
            "-o %s: %s is not an output format, so the file gets the table format; "
            "give -f csv, json or jsonl (or a .csv, .json or .jsonl file) for another%s",
            output,
            suffix,
            page,
        )


def chosen_cache_dir(cache_dir: str | None) -> Path:
    """The cache folder of ``--cache-dir``, ``$SKSPLICE_CACHE`` or the default (not
    created); one that is a file or cannot be created is refused in the words of the
    command line: the option or variable chosen, with what to set (:func:`_folder_error`,
    a wrong command line), or the default folder as the library says it (an error of
    the run)."""
    from .._data import CACHE_DIR_ENV, cache_dir_chosen, get_cache_dir

    try:
        return get_cache_dir(cache_dir, create=False)
    except OSError as exc:
        if not cache_dir_chosen(cache_dir):  # (the default: no option or variable to blame)
            raise CLIError(str(exc)) from exc
        given = cache_dir if cache_dir is not None else os.environ[CACHE_DIR_ENV]
        raise _folder_error(
            exc, "--cache-dir", CACHE_DIR_ENV, given, cache_dir is not None
        ) from exc


def _check_cache_dir(cache_dir: str | None) -> str | None:
    """``--cache-dir`` (or its default) is a folder or can be created (its errors name
    the folder and the option; see :func:`sksplice._data.get_cache_dir`). Nothing is
    created here: the folders are made when the embedded vocabulary is written.

    A chosen folder (``--cache-dir``, or ``$SKSPLICE_CACHE``) that exists but takes
    no file (a read-only folder, shared) is used to read the dictionaries it holds:
    the returned note, said before the images are embedded where the run's vocabulary
    is not cached there (not on every run of a shared cache), is that it is embedded
    for the run but not saved. (An unwritable default is warned about before the
    vocabulary is embedded, when it is not cached there.)

    Returns
    -------
    str or None
        That note, or None when the dictionary cache can be written.
    """
    from .._data import cache_dir_chosen, unsearchable_reason, unwritable_reason

    if not cache_dir_chosen(cache_dir):
        # A default that cannot be made (a read-only home, a file in its place), or that
        # takes no file: the run goes on without the disk cache, warned about before the
        # vocabulary is embedded.
        return None
    folder = chosen_cache_dir(cache_dir)
    named = f"--cache-dir {folder}" if cache_dir is not None else f"the cache folder {folder}"
    unsearchable = unsearchable_reason(folder / "dictionaries")
    if unsearchable is not None:  # (a folder that cannot be searched: another user's)
        return (
            f"cannot read the concept dictionary cache in {named} ({unsearchable}): the "
            "vocabulary is embedded for this run and not saved (give --cache-dir a folder "
            "you can read and write to keep it for later runs)"
        )
    reason = unwritable_reason(folder / "dictionaries")
    if reason is None:
        return None
    keep = (
        "free space on that disk, or give --cache-dir a folder on another one"
        if "No space left" in reason
        else "give --cache-dir a writable folder"
    )
    return (
        f"cannot write the concept dictionary cache in {named} ({reason}): the concepts "
        "of the vocabulary not cached there for this model are embedded for this run and not "
        f"saved ({keep} to keep them for later runs)"
    )


def _folder_error(exc: OSError, option: str, env: str, given: str, from_option: bool) -> CLIError:
    """The error of a chosen folder (``option``, or the variable ``env``, set to ``given``)
    that is a file or cannot be created, in the words of the command line: the option or
    variable, the folder as given, and what to set."""
    from .._data import unwritable_reason

    kind = "a folder" if isinstance(exc, NotADirectoryError) else "a folder that can be created"
    named = f"{option} {given}" if from_option else f"${env} ({given})"
    fix = f"give {option} {kind}" if from_option else f"set ${env} to {kind}, or give {option}"
    if isinstance(exc, NotADirectoryError):
        return CLIError(f"{named} is a file, not a folder; {fix}")
    why = unwritable_reason(Path(os.path.expanduser(given))) or exc.strerror or str(exc)
    return CLIError(f"{named} cannot be created ({why}); {fix}")


def _warn_random_weights(model: str) -> None:
    """Say that ``--pretrained none`` gives a model with published weights random ones:
    read as "no extra checkpoint", it printed concepts as if they meant something (a
    model without published weights, such as a config of one's own, is said nothing)."""
    from .._model_names import pretrained_tags
    from .._names import listed
    from ..vocabulary import IMAGE_MEANS

    # (read from open_clip's files without importing it, which takes seconds: a run
    # whose images and dictionary are cached runs no model and needs none of it)
    table = pretrained_tags()
    if table is None:
        import open_clip

        table = {model: open_clip.list_pretrained_tags_by_model(model)}
    # (those with a published image mean first: --image-mean auto centres them)
    tags = sorted(
        table.get(model, []),
        key=lambda tag: (model, tag) not in IMAGE_MEANS,
    )
    if tags:
        logger.warning(
            "%s runs with random weights (--pretrained none or random: no pretrained "
            "weights are loaded), so its concepts say nothing of the images; give a "
            "pretrained tag of it for trained weights (%s)",
            model,
            listed(tags, 3, lambda tag: f"--pretrained {tag}"),
        )


def _check_data_home(args: argparse.Namespace) -> None:
    """Where the run needs a published file (a named vocabulary, a published image
    mean), the data home (``--data-home`` or ``$SKSPLICE_DATA``) is a folder, or one
    that can be created, checked with the cache folder (it was found a file only once
    torch and the model were loaded, seconds later); a run that reads nothing from it
    is not refused for it. A chosen one that does not exist is warned about: it is
    created for the downloads (a misspelt path would be filled with a second copy of
    them), and offline the download's error comes next."""
    from .._data import DATA_HOME_ENV, get_data_home
    from ..vocabulary import VOCABULARIES

    needs = args.vocabulary in VOCABULARIES or (
        getattr(args, "image_mean", None) in ("auto", "pretrained") and has_published_mean(args)
    )
    env = os.environ.get(DATA_HOME_ENV, "")
    if not needs or (args.data_home is None and not env.strip()):
        return  # (the default: created, or its problems said, when a file is needed)
    given = args.data_home if args.data_home is not None else env
    try:
        folder = get_data_home(given, create=False)
    except OSError as exc:
        chosen = args.data_home is not None
        raise _folder_error(exc, "--data-home", DATA_HOME_ENV, given, chosen) from exc
    if not folder.is_dir():
        logger.warning(
            "%s does not exist: it is created if this run downloads a published file "
            "(the vocabulary, the image mean) to keep there; check the path if it should "
            "already hold them",
            f"--data-home {given}" if args.data_home is not None else f"${DATA_HOME_ENV} ({env})",
        )


def _check_local_files(args: argparse.Namespace) -> tuple[list[str], list[str]] | None:
    """The checks of local files that need neither torch nor the model, made before the
    model is looked at: a ``--vocabulary`` file (its concepts and ``--vocabulary-size``;
    returned) or ``--vocabulary-size`` against the length of a named vocabulary, and an
    ``--image-mean`` file (it exists; a ``.npy`` one holds a vector).

    Returns
    -------
    (list of str, list of str) or None
        The concepts kept of a vocabulary file and all of them; None for a named
        vocabulary, read once the model is checked (it may be downloaded).
    """
    from ..vocabulary import VOCABULARIES, as_mean_vector, named_size_exceeded

    choice = args.image_mean
    if choice not in _MEAN_KEYWORDS:
        path = Path(choice).expanduser()
        if not path.is_file():
            raise CLIError(
                f"--image-mean: no such file {path} (or use {', '.join(_MEAN_KEYWORDS)})"
                f"{_close(choice, _MEAN_KEYWORDS)}"
            )
        if not _torch_file(path):  # (a torch file is read with torch, after the model)
            as_mean_vector(path, None, source="--image-mean")
    if args.vocabulary not in VOCABULARIES:
        return _check_vocabulary(args)
    # A named vocabulary is read once the model is checked (it may be downloaded), but
    # its length is known: a --vocabulary-size beyond it is refused now.
    n_concepts = named_size_exceeded(args.vocabulary, args.vocabulary_size)
    if n_concepts is not None:
        raise CLIError(
            f"--vocabulary-size {args.vocabulary_size} is larger than the {n_concepts} "
            f"concepts of the {args.vocabulary!r} vocabulary; use --vocabulary-size "
            f"{n_concepts} or less"
        )
    return None


def _check_mean_file_width(args: argparse.Namespace, width: int | None) -> None:
    """An ``--image-mean`` ``.npy`` file of another width than the model's, refused with
    the width its config file gives, before open_clip loads the model (seconds)."""

    choice = getattr(args, "image_mean", None)
    if width is None or choice is None or choice in _MEAN_KEYWORDS:
        return
    path = Path(choice).expanduser()
    if _torch_file(path):  # (read with torch, after the model)
        return
    _say_zero_mean(args, path, _mean_file(path, width, args.model))


def _mean_file(path: Path, width: int | None, model: str) -> np.ndarray:
    """The ``--image-mean`` file ``path``, of ``width`` values (the ``model``'s, named
    where the width differs; not where the file holds no mean at all)."""
    from ..vocabulary import as_mean_vector

    try:
        mean = as_mean_vector(path, source="--image-mean")
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    try:
        return as_mean_vector(mean, width, source=f"--image-mean file {str(path)!r}")
    except ValueError as exc:
        raise CLIError(f"{exc} (model {model})") from exc


def _say_zero_mean(args: argparse.Namespace, path: Path, mean: np.ndarray) -> None:
    """Warn, once a run, that the ``--image-mean`` file ``path`` holds only zeros (what
    a failed or empty computation of a mean may write): no centring of the images."""
    if mean.any() or getattr(args, "zero_mean_said", False):
        return
    args.zero_mean_said = True
    logger.warning(
        "--image-mean %s holds only zeros: the images are not centred (the concepts still "
        "are, by their own mean)",
        path,
    )


def _torch_file(path: Path) -> bool:
    """Whether ``path`` starts as a file of ``torch.save`` does (a zip archive that is no
    ``.npz`` archive, a pickle)."""
    from ..vocabulary import _npz_members

    try:
        with open(path, "rb") as fh:
            start = fh.read(4)
    except OSError:
        return False
    return (start == b"PK\x03\x04" and not _npz_members(path)) or start[:1] == b"\x80"


def _named_vocabulary_at_hand(args: argparse.Namespace) -> bool:
    """Whether ``--vocabulary`` names a published vocabulary whose file is already in
    the data home with its pinned digest (read without a download)."""
    from .._data import file_sha256, resolve_in_data_home
    from ..vocabulary import VOCABULARIES

    remote = VOCABULARIES.get(args.vocabulary)
    if remote is None:
        return False
    try:
        path = resolve_in_data_home(remote.path, args.data_home, create=False)
        return path.is_file() and file_sha256(path) == remote.sha256.lower()
    except (OSError, ValueError):
        return False  # (read, and its errors said, once the model is checked)


def _published_files_missing(args: argparse.Namespace, *, vocabulary: bool = True) -> str:
    """The published files (the vocabulary, the image mean) that the run needs and the
    data home lacks, with where to put each; empty when none is missing. Said beside
    weights (or, with ``vocabulary=False``, a vocabulary) that cannot be fetched."""
    from ..vocabulary import _published_files_missing as missing

    return missing(
        args.vocabulary if vocabulary else None,
        args.model,
        args.pretrained,
        args.data_home,
        image_mean=args.image_mean in ("auto", "pretrained"),
        home_option="--data-home",
    )


def _named_size(args: argparse.Namespace) -> int | None:
    """The number of concepts a named ``--vocabulary`` keeps, known without reading it
    (its length is pinned with its file); None for a file."""
    from ..vocabulary import VOCABULARIES, named_auto_size

    if args.vocabulary not in VOCABULARIES:
        return None
    # (a size beyond the vocabulary is refused before, with the local files)
    return int(args.vocabulary_size or named_auto_size(args.vocabulary))


def _check_options(
    args: argparse.Namespace,
    vocabulary_check: Callable[[list[str], list[str]], object] | None = None,
    *,
    before_model: Callable[[], object] | None = None,
    width_check: Callable[[int], object] | None = None,
    before_weights: Callable[[], object] | None = None,
) -> _Plan:
    """Check every option (cheap checks first) before any image or concept is embedded.

    The commands check their inputs (files, folders, labels, a query's syntax)
    before these, as they need neither torch nor a model. Then come the checks
    that need neither (the output file, the solver, the cache folder, local
    ``--vocabulary`` and ``--image-mean`` files), so that a mistake there is found
    in a fraction of a second; then the device and the model (which import torch
    and open_clip), and what depends on the model.

    Parameters
    ----------
    args : argparse.Namespace
        The command line.
    vocabulary_check : callable, default=None
        Called with the concepts kept and every concept of the vocabulary (e.g. to
        check a query's concepts) before the
        device and the model are checked when the vocabulary can be read without a
        download (a file, or a named vocabulary already in the data home); else
        once it is read, after the model. It raises :class:`CLIError` to refuse.
    before_model : callable, default=None
        Called once the options that need no model library and the model's name are
        checked: before torch and open_clip are imported where open_clip's config files
        tell the name (the refusal of one image whose centre would be learned from it),
        else once open_clip has checked it.
    width_check : callable, default=None
        Called with the model's embedding width as soon as it is known (from open_clip's
        config files, before torch is imported, where they tell it): embeddings computed
        already are checked to fit the model before it loads.
    before_weights : callable, default=None
        Called once torch is imported and before the model and its weights are
        checked (a download, where they are not cached): embeddings computed already
        are checked against a centre at hand.
    """
    _check_output(getattr(args, "output", None), command=getattr(args, "command", None))
    _check_standard_output(getattr(args, "output", None))
    _check_save_image_mean(getattr(args, "save_image_mean", None))
    _check_solver(args.solver)
    cache_note = _check_cache_dir(args.cache_dir)
    _check_data_home(args)
    vocabulary = _check_local_files(args)
    if vocabulary_check is not None:
        # (a mistake in the concepts is found before torch and open_clip are imported,
        # which takes seconds)
        if vocabulary is None and _named_vocabulary_at_hand(args):
            vocabulary = _check_vocabulary(args)
        if vocabulary is not None:
            vocabulary_check(*vocabulary)
    # What the model's name, its config file and the table of published means tell,
    # before torch and open_clip are imported (seconds): an unknown --model, a
    # --target-l0 out of reach, --image-mean pretrained for weights of none
    width = _embedders.model_width_early(args)
    if width is not None and width_check is not None:
        width_check(width)
    n_concepts = len(vocabulary[0]) if vocabulary is not None else _named_size(args)
    if width is not None and args.target_l0 is not None and n_concepts is not None:
        from .._calibration import check_target_l0

        check_target_l0(args.target_l0, n_concepts, width, centred=True)
    if getattr(args, "image_mean", None) == "pretrained" and not has_published_mean(args):
        raise _no_published_mean(args.model, args.pretrained, args)
    _check_mean_file_width(args, width)
    if before_model is not None and width is not None:
        before_model()  # (after the model's name, which open_clip's files told: valid)
    _check_device(args.device)  # (imports torch)
    if before_weights is not None:
        before_weights()
    from ..exceptions import WeightsUnavailableError

    try:
        model, pretrained, d = _embedders.check_model(args)  # (an hf-hub: model's config)
        # (whatever the caches hold: a run whose embeddings are all cached needs no
        # weights, but one image more does, and the run says every missing file at once)
        _embedders.check_weights(model, pretrained)
    except WeightsUnavailableError as exc:
        # (offline, the published files the run would download next are said now too:
        # one error lists everything to fetch by hand)
        also = _published_files_missing(args)
        if also:
            raise type(exc)(f"{exc} {also}") from exc
        raise
    if width is None and width_check is not None:
        width_check(d)
    if before_model is not None and width is None:
        before_model()  # (after the model's name, checked by open_clip just now)
    if vocabulary is None:
        from ..exceptions import DataFetchError

        try:
            vocabulary = _check_vocabulary(args)
        except DataFetchError as exc:
            also = _published_files_missing(args, vocabulary=False)  # (the image mean)
            if also:  # (of the same class: a DigestMismatchError stays one)
                raise type(exc)(f"{exc} {also}") from exc
            raise
        if vocabulary_check is not None:
            vocabulary_check(*vocabulary)
    concepts, all_concepts = vocabulary
    if args.target_l0 is not None:
        from .._calibration import check_target_l0

        check_target_l0(args.target_l0, len(concepts), d, centred=True)
    mean, source, mean_file = _check_image_mean(args, model, pretrained, d)
    if pretrained is None:
        _warn_random_weights(model)
    return _Plan(
        model,
        pretrained,
        d,
        concepts,
        mean,
        source,
        mean_file,
        cache_note,
        all_concepts,
    )


def _check_query_concepts(
    query: dict[str, float] | None,
    concepts: list[str],
    raw: str | None = None,
    every: list[str] | None = None,
) -> dict[str, float] | None:
    """The ``--concepts`` query, every concept of it in the vocabulary.

    An item of ``raw`` (the option as given) that is a concept of the vocabulary is
    read whole: ``16:9`` names that concept if there is one (else ``16`` weighed 9);
    ``16:9:2`` is it weighed 2 (the weight follows the last colon). ``every``: all
    the concepts of the vocabulary, of which ``concepts`` are the first kept; a
    concept among them beyond ``--vocabulary-size`` is told the size that keeps it.
    """
    known = set(concepts)
    if query is not None and raw is not None:
        items = [item.strip() for item in raw.split(",")]
        if any(item in known and item not in query for item in items):
            whole = {
                (item if item in known else name): (1.0 if item in known else value)
                for item, (name, value) in zip(items, query.items(), strict=True)
            }
            if len(whole) == len(query):
                query = whole
    unknown = [name for name in query or {} if name not in known]
    if unknown:
        from .._concepts import positions_beyond, unknown_concepts_message

        beyond = positions_beyond(concepts, every, unknown), None if every is None else len(every)
        message = unknown_concepts_message(unknown, concepts, "--concepts", beyond)
        # ("dog snow" for two concepts: each of its words is one, the phrase is not)
        spaced = [
            n
            for n in unknown
            if n not in beyond[0] and len(n.split()) > 1 and all(w in known for w in n.split())
        ]
        if spaced:
            given = raw if raw is not None else ",".join(query or {})
            commas = ",".join(
                ",".join(item.split()) if item.strip() in spaced else item.strip()
                for item in given.split(",")
            )
            message += f"; concepts are separated by commas (--concepts {commas})"
        raise CLIError(message)
    return query


def _parse_query(args: argparse.Namespace) -> dict[str, float] | None:
    """The ``--concepts`` query as {name: weight} (checked against nothing yet).

    ``--concepts dog,snow`` weighs each concept 1; ``dog:2,snow`` gives a weight.
    A concept named twice is refused (``dog,dog`` is not ``dog:2`` by accident).
    Returns None for a ``--text`` query (checked to be non-empty).
    """
    if args.text is not None:
        if not args.text.strip():
            raise CLIError("--text is empty: give the query text, e.g. --text 'a dog in the snow'")
        return None
    query: dict[str, float] = {}
    for item in args.concepts.split(","):
        # (the weight follows the last colon: a concept may hold one, see
        # _check_query_concepts)
        name, colon, weight = item.strip().rpartition(":")
        if not colon:  # a name alone
            name, weight = weight, ""
        name = name.strip()
        if not name:
            raise CLIError(f"--concepts {args.concepts!r} has an empty concept name")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise CLIError(
                f"--concepts: the weight of {name!r} is {weight!r}, not a number"
            ) from None
        if not (np.isfinite(value) and value > 0):
            raise CLIError(
                f"--concepts: the weight of {name!r} must be a positive finite number, got {weight}"
            )
        if name in query:
            total = f"{query[name] + value:g}"
            raise CLIError(
                f"--concepts {args.concepts!r} names {name!r} twice; name each concept once, "
                f"with a weight to weigh it more: {name}:{total}"
            )
        query[name] = value
    return query


def _check_report_output(args: argparse.Namespace) -> None:
    """``compare --report``: an HTML file (not ``-``), checked like ``-o``.

    That it is not the ``-o`` file, nor an input, is checked with the other
    outputs by :func:`_check_outputs_apart`.
    """
    if args.report is None:
        return
    if args.report == "-":
        raise CLIError("--report needs a file name (the results go to standard output or -o)")
    _check_output(args.report, "--report")


def _output_files(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The output files of the command line, as (option, path); standard output left out."""
    outputs = []
    for option, attr in (
        ("-o", "output"),
        ("--report", "report"),
        ("--save-image-mean", "save_image_mean"),
    ):
        path = getattr(args, attr, None)
        if path not in (None, "-"):
            outputs.append((option, str(path)))
    return outputs


def _input_files(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The files the run reads besides its images, as (option, path)."""
    from ..vocabulary import VOCABULARIES

    inputs = []
    labels = getattr(args, "labels", None)
    if labels is not None:
        inputs.append(("--labels", str(labels)))
    vocabulary = getattr(args, "vocabulary", None)
    if vocabulary is not None and vocabulary not in VOCABULARIES:
        inputs.append(("--vocabulary", str(vocabulary)))
    mean = getattr(args, "image_mean", None)
    if mean is not None and mean not in _MEAN_KEYWORDS:
        inputs.append(("--image-mean", str(mean)))
    pretrained = getattr(args, "pretrained", None)
    if pretrained is not None and Path(pretrained).expanduser().is_file():  # a checkpoint
        inputs.append(("--pretrained", str(pretrained)))
    inputs += [("--names", str(names)) for names in getattr(args, "names", None) or []]
    from ._embeddings import are_embeddings

    given = getattr(args, "inputs", None) or []
    if are_embeddings(given):  # (.npy files of decompose, search, compare and profile)
        inputs += [("input embeddings", str(path)) for path in given]
    return inputs


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file: the same file when both exist (links, relative
    paths and hard links included), else the same resolved absolute path."""
    a, b = Path(a).expanduser(), Path(b).expanduser()
    try:
        return os.path.samefile(a, b)
    except OSError:  # (one of them does not exist, or cannot be read)
        return os.path.realpath(a) == os.path.realpath(b)


def _check_outputs_apart(args: argparse.Namespace, images: Sequence[Path] = ()) -> None:
    """No output file (``-o``, ``--report``) is another output or an input of the run.

    An input is an image (named or found in a folder), or a file option
    (``--labels``, ``--vocabulary``, ``--image-mean``, ``--pretrained``):
    writing the output would replace it.
    """
    outputs = _output_files(args)
    for option, path in outputs:
        _check_output_named(path, option, getattr(args, "command", None))
    for i, (option, path) in enumerate(outputs):
        for other, other_path in outputs[:i]:
            if _same_file(path, other_path):
                raise CLIError(f"{option} and {other} name the same file {path}; give two files")
    for option, path in outputs:
        target = Path(path).expanduser()
        try:
            info = os.stat(target)
        except OSError:
            continue  # (a file that does not exist yet is no input)
        if not stat.S_ISREG(info.st_mode):
            continue  # a pipe or a device (-o /dev/stdout): written through, nothing replaced
        inputs: list[tuple[str, str | Path]] = [
            (f"the {what} file", p) for what, p in _input_files(args)
        ]
        inputs += [("an input image", image) for image in images]
        for what, input_path in inputs:
            try:
                same = os.path.samestat(info, os.stat(Path(input_path).expanduser()))
            except OSError:
                continue  # (a missing input is reported as such, or as unreadable)
            if same:
                shown = "" if str(input_path) == path else f" ({input_path})"
                raise CLIError(
                    f"{option} {path} is {what} of this run{shown}: writing the output "
                    f"would replace it; give {option} another file"
                )
