"""The argument parser: sub-commands, their options and the option types."""

from __future__ import annotations

import argparse
import decimal
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .._penalty import ZERO_CODE_PENALTY
from .._version import __version__
from ._cache import CLEARABLE, _cmd_cache
from ._compare import _cmd_compare
from ._decompose import _cmd_decompose
from ._embedders import DEFAULT_PRETRAINED
from ._logging import _close
from ._profile import _cmd_profile
from ._report import _cmd_report
from ._search import _cmd_search

_FORMATS = ("table", "csv", "json", "jsonl")


def _pretrained(value: str) -> str | None:
    """``none`` (or ``random``) is random weights; an empty value is refused, not read
    as them (it is most often an unset variable: ``--pretrained "$WEIGHTS"``)."""
    if not value.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r} is empty (an unset variable?): give a pretrained tag or a checkpoint "
            "path; 'none' gives random weights"
        )
    return None if value.lower() in {"none", "random"} else value


def _given_path(what: str) -> Callable[[str], str]:
    """The type of an argument naming ``what`` (``"an image or a folder"``): an empty
    value is refused, not read as the current folder (``sksplice decompose "$PHOTOS"``
    with the variable unset walked the whole working folder)."""

    def path(value: str) -> str:
        if value == "":
            raise argparse.ArgumentTypeError(f"'' is empty (an unset variable?): give {what}")
        return value

    return path


def _not_blank(what: str, left_out: str) -> Callable[[str], str]:
    """The type of an option whose blank value is refused, most often an unset variable:
    the message says to give ``what``, or to leave the option out (``left_out``: the
    option and what that gives). ``--vocabulary ""`` was read as the folder ".",
    ``--data-home ""`` as the working folder, ``--model ""`` as a model of no name."""

    def given(value: str) -> str:
        if not value.strip():
            raise argparse.ArgumentTypeError(
                f"{value!r} is blank (an unset variable?): give {what}, or leave {left_out}"
            )
        return value

    return given


def _folder(option: str, env: str) -> Callable[[str], str]:
    """The type of ``--data-home`` and ``--cache-dir`` (:func:`_not_blank`)."""
    return _not_blank("a folder", f"{option} out to use ${env} or the default folder")


def _given(what: str, option: str, default: str) -> Callable[[str], str]:
    """The type of an option naming ``what``, ``default`` when left out (:func:`_not_blank`)."""
    return _not_blank(what, f"{option} out for {default}")


_input_path = _given_path("an image or a folder")
_labels_path = _given_path("the CSV file of path,label rows")


#: A page title: a blank one (an unset variable) made a page headed by nothing.
_title = _not_blank("a title", "--title out for the default")


def _positive_float(value: str) -> float:
    try:
        out = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from exc
    if not np.isfinite(out) or out <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value!r}")
    return out


def _l1_penalty(value: str) -> float:
    """An argparse type: a penalty in (0, 2) (from 2 on, every weight is zero)."""
    out = _positive_float(value)
    if out >= ZERO_CODE_PENALTY:
        raise argparse.ArgumentTypeError(
            f"must be below {ZERO_CODE_PENALTY:g}, got {value!r}: from {ZERO_CODE_PENALTY:g} on "
            "every weight of every image is zero, which gives no concept at all (useful "
            "penalties are mostly 0.05 to 0.5; or give --target-l0)"
        )
    return out


def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low`` (``what`` says so in errors)."""

    def parse(value: str) -> int:
        try:
            out = int(value)
        except ValueError as exc:
            try:  # (a whole number written as a float: --max-image-pixels 1e8, 2.0; exact)
                number = decimal.Decimal(value.strip())
            except decimal.InvalidOperation:
                number = decimal.Decimal("nan")
            if not (number.is_finite() and number == number.to_integral_value()):
                raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from exc
            out = int(number)
        if out < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value!r}")
        return out

    return parse


_positive_int = _int_at_least(1, "a positive integer")
# (refused as it is read, not once torch is imported: seconds later)
_vocabulary_size = _int_at_least(
    2, "2 or more: SpLiCE needs at least two concepts (the dictionary is centred by their mean)"
)
_non_negative_int = _int_at_least(0, "0 or more")


#: The formats a -o file's extension chooses (others get the table).
_FILE_FORMATS = ("csv", "json", "jsonl")


def output_format(fmt: str | None, output: str | None) -> str:
    """``-f``, or the format the ``-o`` file's extension names, or ``table``."""
    if fmt is not None:
        return fmt
    suffix = "" if output in (None, "-") else Path(output).suffix.lower().lstrip(".")
    return suffix if suffix in _FILE_FORMATS else "table"


def _add_output_options(p: argparse.ArgumentParser, top_k: int, top_k_help: str) -> None:
    """Add ``-k/--top-k``, ``-f/--format`` and ``-o/--output``, in that order."""
    p.add_argument(
        "-k", "--top-k", type=_positive_int, default=top_k, help=f"{top_k_help} (default: {top_k})"
    )
    p.add_argument(
        "-f",
        "--format",
        choices=_FORMATS,
        default=None,
        help="output format (default: that of the -o file's extension, .csv, .json or "
        ".jsonl; else table)",
    )
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and dictionary")
    g.add_argument(
        "--model",
        type=_given("an open_clip model name or hf-hub:ORG/REPO", "--model", "ViT-B-32"),
        default="ViT-B-32",
        help="open_clip model name, or hf-hub:ORG/REPO (default: %(default)s)",
    )
    g.add_argument(
        "--pretrained",
        type=_pretrained,
        default=DEFAULT_PRETRAINED,
        help="open_clip pretrained tag or checkpoint path; 'none' for random weights; "
        "ignored for hf-hub:ORG/REPO models (default: %(default)s)",
    )
    g.add_argument(
        "--vocabulary",
        type=_given("laion, laion_bigrams, mscoco or a vocabulary file", "--vocabulary", "laion"),
        default="laion",
        help="laion, laion_bigrams, mscoco, or a text file with one concept per line "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--vocabulary-size",
        type=_vocabulary_size,
        default=None,
        help="number of concepts to use: the most frequent ones of a named vocabulary "
        "(default 10000, all 15000 of laion_bigrams; also of a file holding one), the first "
        "ones of any other file (default: all)",
    )
    sparsity = g.add_mutually_exclusive_group()
    sparsity.add_argument(
        "--l1-penalty",
        type=_l1_penalty,
        default=None,
        help="sparsity penalty, below 2 (default: 0.25)",
    )
    sparsity.add_argument(
        "--target-l0",
        type=_positive_float,
        default=None,
        help="calibrate the penalty to this mean number of concepts per image",
    )
    g.add_argument(
        "--image-mean",
        type=_given("auto, pretrained, data or a .npy file", "--image-mean", "auto"),
        default="auto",
        help="modality centre: 'pretrained' (the published mean of the model), 'data' "
        "(learned from the images given; a warning below 100 images), a .npy/.pt file "
        "holding a 1-D float vector, or 'auto' (pretrained when published, else data) "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--save-image-mean",
        default=None,
        metavar="FILE.npy",
        help="also write the modality centre the run used (learned, published or read) to "
        "FILE.npy: a later run given --image-mean FILE.npy centres its images the same way, "
        "so their decompositions compare with this run's",
    )
    g.add_argument(
        "--solver",
        default="auto",
        help="lasso solver: auto, admm or working_set (default: %(default)s)",
    )
    r = p.add_argument_group("resources")
    r.add_argument(
        "--device",
        type=_given("cpu, cuda, cuda:N or auto", "--device", "auto"),
        default="auto",
        help="cpu, cuda, cuda:1 or auto (default: auto)",
    )
    r.add_argument(
        "--data-home",
        type=_folder("--data-home", "SKSPLICE_DATA"),
        default=None,
        help="folder for vocabularies and image means; may be read-only "
        "(default: $SKSPLICE_DATA or ~/.cache/sksplice)",
    )
    r.add_argument(
        "--cache-dir",
        type=_folder("--cache-dir", "SKSPLICE_CACHE"),
        default=None,
        help="folder for the caches of embedded vocabularies and images; a read-only one is "
        "read, not written (default: $SKSPLICE_CACHE, else the per-user cache folder, "
        "~/.cache/sksplice on Linux)",
    )
    r.add_argument(
        "--no-image-cache",
        action="store_true",
        help="embed every image again: by default the embedding of each image is kept in the "
        "cache folder, keyed by the file's content and the model, and read back by later "
        "runs of any command",
    )
    r.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="images per forward pass, also the batches the vocabulary is embedded in: a "
        "stopped vocabulary embedding resumes only when run again with the same value "
        "(default: 64)",
    )
    r.add_argument(
        "--max-image-pixels",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="largest image, in pixels, decoded before it is refused as a possible "
        "decompression bomb; 0 for no limit (default: PIL's, about 89 million)",
    )
    o = p.add_argument_group("behaviour")
    # -q hides information that --debug asks for: given both, the run is refused.
    talk = o.add_mutually_exclusive_group()
    talk.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or information; only warnings and errors (on standard error)",
    )
    o.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unreadable image (of .npy inputs, the first row that is not "
        "finite) instead of skipping it",
    )
    talk.add_argument(
        "--debug", action="store_true", help="debug messages and tracebacks of errors (not with -q)"
    )


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``sksplice: error: ...``.

    argparse's own way (its usage, a dozen lines for a command, then ``sksplice
    decompose: error: ...``) hides the one line that says what is wrong; errors
    of the command line take the form of every other error of the command, name
    the command and say where its options are listed (``--help``, unchanged).
    The parsers of the commands are of this class too (``add_subparsers`` makes
    them of the class of the parser). Options are taken by their whole names only:
    argparse's prefixes (``--l1`` for ``--l1-penalty``) would change meaning in a
    script once another option shares the prefix, and a misspelt one is refused with
    its close matches.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        from .._image_files import shown_message

        command = self.prog.partition(" ")[2]  # ("sksplice decompose": "decompose")
        text = " ".join(message.split())
        if command:
            text = f"{command}: {text}"
        # (a file name that is not valid UTF-8 as the outputs write it: \xNN escapes)
        text = shown_message(f"{text}; see {self.prog} --help")
        self._print_message(f"sksplice: error: {text}\n", sys.stderr)
        self.exit(2)


def _refuse_unknown_options(
    parser: argparse.ArgumentParser, command: str, words: Sequence[str]
) -> None:
    """Refuse the first ``--name`` among the words after ``command`` that is none of its
    options, with the options it begins or is close to: argparse checked required
    options first (``search --conc dog`` said that one of --concepts and --text is
    required, not a word of --conc). Words after ``--`` are not options."""
    command_parser = _commands(parser)[command]
    options = [s for action in command_parser._actions for s in action.option_strings]
    for at, word in enumerate(words):
        if word == "--":
            return
        if not word.startswith("--"):
            continue
        name = word.split("=", 1)[0]
        if name in options:
            continue
        # (with the value that follows it, as argparse shows the words it left over)
        value = words[at + 1] if at + 1 < len(words) and "=" not in word else "-"
        shown = word if value.startswith("-") else f"{word} {value}"
        # (--vers: sksplice's --version, before the command; not --solver, close to it)
        top = [s for action in parser._actions for s in action.option_strings if len(s) > 2]
        begun = [o for o in top if o.startswith(name) and o not in options]
        close = (
            f" ({', '.join(begun)} comes before the command: sksplice {begun[0]})"
            if begun
            else _close_option(name, options) or _option_of_another(parser, command, name)
        )
        command_parser.error(f"unrecognized arguments: {shown}{close}")


def _option_of_another(parser: argparse.ArgumentParser, command: str, option: str) -> str:
    """`` (--concepts is an option of sksplice search)`` where ``option``, refused by
    ``command``, is one of other commands; else ``""``."""
    others = [
        name
        for name, sub in _commands(parser).items()
        if name != command and any(option in a.option_strings for a in sub._actions)
    ]
    if not others:
        return ""
    return f" ({option} is an option of {' and '.join(f'sksplice {n}' for n in others)})"


def _close_option(word: str, options: list[str]) -> str:
    """`` (close matches: --a, --b)`` for a misspelt option, or ``""``: the options it
    begins (``--l1`` for ``--l1-penalty``: options are taken by their whole names
    only), then those close to it, matched on the names without their dashes
    (``--alpha`` is not close to ``--help`` for the ``--`` both begin with)."""
    from .._names import close_matches

    bare: dict[str, str] = {}
    for option in options:  # (in the parser's order; the first of a name kept)
        bare.setdefault(option.lstrip("-"), option)
    name = word.lstrip("-")
    begun = [option for bare_name, option in bare.items() if name and bare_name.startswith(name)]
    close = [bare[n] for n in close_matches(name, list(bare), n=3)]
    found = list(dict.fromkeys([*begun, *close]))[:3]
    return f" (close matches: {', '.join(found)})" if found else ""


class _Formatter(argparse.HelpFormatter):
    """argparse's help, with every sub-command's help on the line of its name.

    Before Python 3.13, argparse measured the sub-commands' names at the indent of their
    group, two columns short of where it writes them, so the longest name
    (``decompose``) had its help wrapped onto a line of its own.
    """

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            # (the indent is one step deeper while the sub-commands are iterated)
            for subaction in self._iter_indented_subactions(action):
                length = len(self._format_action_invocation(subaction)) + self._current_indent
                self._action_max_length = max(self._action_max_length, length)


def _refuse_npy_after_names(parser: argparse.ArgumentParser, words: list[str]) -> None:
    """``decompose --names n.txt a.npy``: ``--names`` takes every file that follows it,
    which left no input (argparse said only that one is required)."""
    if "--names" not in words:
        return
    at = words.index("--names")
    # (the words --names takes: up to the next option, as argparse gives them; a .npy
    # after that is an input, or the value of another option such as --image-mean)
    taken = len(list(itertools.takewhile(lambda w: not w.startswith("-"), words[at + 1 :])))
    after = [w for w in words[at + 1 : at + 1 + taken] if w.lower().endswith(".npy")]
    others = words[:at] + words[at + 1 + taken :]
    if after and not any(w.lower().endswith(".npy") for w in others):
        parser.error(
            f"--names {after[0]}: a .npy file is no file of names (--names takes every file "
            f"that follows it): give the .npy files first ({parser.prog} img_emb/*.npy "
            "--names metadata/*.parquet)"
        )


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line; an unknown option is refused by its command's parser.

    (``parse_args`` of the top parser reports an unknown option after the command
    with the top-level usage; the command's own usage and the options closest to
    the misspelt one say more.)
    """
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    # A misspelt command gets close matches, as misspelt options and values do (the
    # top-level options take no value: the first other word is the command).
    command = next((w for w in words if not w.startswith("-")), None)
    commands = list(_commands(parser))
    if command == "help" and words[0] == "help":  # (sksplice help [COMMAND], as git's)
        _help(parser, words[1:], commands)
    if command is None:
        _refuse_no_command(parser, words, commands)
    if command is not None and command not in commands:
        parser.error(
            f"{command!r} is not a command (choose from {', '.join(commands)})"
            f"{_close(command, commands, n=3)}"
        )
    if command in ("decompose", "search", "compare", "profile", "report"):
        if "--version" in words[words.index(command) + 1 :]:  # (not an option of a command)
            parser.error("--version comes before the command: sksplice --version")
        _refuse_npy_after_names(_commands(parser)[command], words)
    if command is not None:
        _refuse_unknown_options(parser, command, words[words.index(command) + 1 :])
    args, extras = parser.parse_known_args(words)
    if extras and words.index(extras[0]) > words.index(args.command):
        # Images or folders after an option (``decompose A -k 1 B``): argparse takes the
        # positional list in one piece, before or after the options, and leaves the rest
        # over. They join the command's list of inputs when every word left over is a
        # file or folder (a stray word, ``--concepts dog cat``, stays refused as such).
        many = [
            a
            for a in _commands(parser)[args.command]._actions
            if not a.option_strings and a.nargs in ("+", "*")
        ]
        if many and all(not e.startswith("-") and os.path.lexists(e) for e in extras):
            getattr(args, many[0].dest).extend(extras)
            extras = []
    if extras:
        if words.index(extras[0]) < words.index(args.command):  # (before the command)
            parser.error(
                f"unrecognized arguments: {' '.join(extras)}"
                f"{_after_the_command(parser, args.command, extras)}"
            )
        command_parser = _commands(parser)[args.command]
        options = [s for action in command_parser._actions for s in action.option_strings]
        unknown = [e.split("=", 1)[0] for e in extras if e.startswith("-")]
        close = _close_option(unknown[0], options) if unknown else ""
        if unknown and not close:  # (an option of another command: decompose --concepts)
            close = _option_of_another(parser, args.command, unknown[0])
        if not unknown and any(a in ("--text", "--concepts") for a in words):
            close = " (quote a query of several words: --text 'a dog in the snow')"
        elif not unknown and args.command == "compare":
            # (a third folder: compare takes two collections, profile any number)
            close = (
                " (compare takes two collections, A and B; to compare more, use sksplice "
                "profile: a folder of one sub-folder per class, or .npy files with --labels)"
            )
        elif not unknown and args.command == "cache":
            close = _cache_words(command_parser, extras[0])
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}{close}")
    return args


def _cache_words(command_parser: argparse.ArgumentParser, word: str) -> str:
    """`` (sksplice cache takes no word: --clear stale ...)`` for a word given to
    ``sksplice cache`` (``sksplice cache clera``: argparse said only that it was not
    recognised), with the ``--clear`` it is close to."""
    from .._names import close_matches

    (clear,) = (a for a in command_parser._actions if "--clear" in a.option_strings)
    kinds = list(clear.choices or ())
    close = close_matches(word, [*kinds, "clear"], n=1)
    if close and close[0] in kinds:
        meant = f"did you mean --clear {close[0]}? "
    elif close:
        meant = "did you mean --clear? "
    elif os.path.isdir(word):
        meant = f"did you mean --cache-dir {word}? "
    else:
        meant = ""
    return (
        f" ({meant}sksplice cache takes no word: it lists the cache folder, --clear "
        f"{{{','.join(kinds)}}} removes entries, and --cache-dir names another folder)"
    )


def _help(parser: argparse.ArgumentParser, words: Sequence[str], commands: list[str]) -> NoReturn:
    """``sksplice help``: the help of ``sksplice``; ``sksplice help COMMAND``: that of the
    command (as ``--help`` prints them, on standard output, exit 0)."""
    if not words:
        parser.print_help()
        parser.exit(0)
    if words in (["help"], ["-h"], ["--help"]):  # (the help of help)
        _commands(parser)["help"].print_help()
        parser.exit(0)
    # (help decompose --help, help -h decompose: the help asked for twice)
    words = [w for w in words if w not in ("-h", "--help")] or ["help"]
    choose = f"choose from {', '.join(commands)}"
    if words[0] not in commands:
        close = _close(words[0], commands, n=3)
        parser.error(f"help {words[0]}: {words[0]!r} is not a command ({choose}){close}")
    if len(words) > 1:
        parser.error(f"help {' '.join(words)}: give one command, sksplice help COMMAND ({choose})")
    _commands(parser)[words[0]].print_help()
    parser.exit(0)


def _refuse_no_command(
    parser: argparse.ArgumentParser, words: Sequence[str], commands: Sequence[str]
) -> None:
    """A command line without a command: the options it holds that ``sksplice`` alone
    does not take are named (argparse would say only that a command is required).

    ``--help`` and ``--version`` are left to argparse.
    """
    top = [s for action in parser._actions for s in action.option_strings]
    if any(w in top for w in words):  # (--help, --version: argparse answers them)
        return
    unknown = [w for w in words if w.startswith("-") and w != "-"]
    choose = f"give a command: {', '.join(commands)}"
    if unknown:
        close = _close_option(unknown[0], top)  # (--vers: --version)
        parser.error(f"unrecognized arguments: {' '.join(unknown)} ({choose}){close}")
    parser.error(f"no command ({choose})")


def _after_the_command(parser: argparse.ArgumentParser, command: str, extras: Sequence[str]) -> str:
    """`` (an option of decompose comes after it: ...)`` when the first of ``extras``,
    given before the command, is an option of the command; else ``""``."""
    options = {s for action in _commands(parser)[command]._actions for s in action.option_strings}
    if extras[0].split("=", 1)[0] not in options:
        return ""
    return f" (an option of {command} comes after it: sksplice {command} ... {extras[0]})"


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise LookupError("the parser has no commands")  # pragma: no cover


def _add_names_options(p: argparse.ArgumentParser) -> None:
    """``--names`` and ``--names-column``: the names of the rows of ``.npy`` inputs."""
    names = p.add_argument_group("embeddings computed already (.npy inputs)")
    names.add_argument(
        "--names",
        action="extend",
        nargs="+",
        type=_given_path("a file of names"),
        default=None,
        metavar="FILE",
        help="the names of the rows, in their order: text files of one name per line, or "
        ".csv, .tsv, .parquet or .jsonl tables with a header (its column image_path, path, "
        "url, key, caption, ... is read, as clip-retrieval's metadata holds them); one per "
        ".npy file, "
        "in their order (--names metadata/*.parquet), or one for all (default: "
        "FILE.npy[ROW], from 0)",
    )
    names.add_argument(
        "--names-column",
        default=None,
        metavar="COLUMN",
        help="the column of the --names table that holds the names",
    )


def _add_labels_column(p: argparse.ArgumentParser) -> None:
    """``--labels-column``: the column of classes of a ``--labels`` table (of images or
    ``.npy`` inputs), or else of the ``--names`` tables."""
    p.add_argument(
        "--labels-column",
        default=None,
        metavar="COLUMN",
        help="the column of the --labels table that holds the classes (a metadata table "
        "with a header: image_path,species,place --labels-column place), or else, of .npy "
        "inputs, of the --names tables",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sksplice`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with sub-commands ``decompose``, ``profile``, ``compare``, ``search``,
        ``report``, ``cache`` and ``help``.
    """
    parser = _Parser(
        prog="sksplice",
        formatter_class=_Formatter,
        description="Explain CLIP embeddings of images as sparse combinations of "
        "human-readable concepts (SpLiCE).",
        epilog="sksplice COMMAND --help prints the help of a command too. The first run "
        "with a pretrained model downloads its weights and the vocabulary and caches them; "
        "later runs work offline.",
    )
    parser.add_argument("--version", action="version", version=f"sksplice {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "decompose",
        help="concept decomposition of images",
        description="Decompose each image into its top concepts, with weights, the number "
        "of non-zero concepts (l0), the cosine similarity of the recomposition and its "
        "baseline (the cosine of the centre alone, which an image without concepts "
        "scores). Given only .npy files, decompose their rows: image embeddings computed "
        "already by the --model and --pretrained given (clip-retrieval's img_emb_0.npy), "
        "named by --names.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=_input_path,
        metavar="IMAGE_OR_FOLDER",
        help="images or folders; or .npy files of image embeddings, one row per image",
    )
    _add_output_options(p, 10, "concepts per image")
    _add_names_options(p)
    _add_model_options(p)
    p.set_defaults(func=_cmd_decompose)

    p = sub.add_parser(
        "profile",
        help="per-class concept profiles and the concepts that separate classes",
        description="Rank, for each class, the concepts that occur in it significantly "
        "more often than in the other classes (Fisher's exact test, one-sided; "
        "Benjamini-Hochberg corrected in two levels: which classes differ from the rest "
        "at all, then the concepts of each class that does). The classes are a folder's "
        "sub-folders, or given by --labels (a column of a metadata table picked with "
        "--labels-column); of .npy files of embeddings computed already, by --labels or "
        "--labels-column.",
    )
    p.add_argument(
        "folder",
        type=_input_path,
        metavar="FOLDER",
        help="images, one sub-folder per class; or a .npy file of image embeddings, one row "
        "per image",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        type=_input_path,
        default=[],
        metavar="NPY",
        help="more .npy files of embeddings",
    )
    p.add_argument(
        "--labels",
        type=_labels_path,
        default=None,
        help="CSV of path,label (instead of sub-folders; a .tsv file with tabs); of .npy "
        "inputs, the class of each row, in their order: a text file of one per line, or a "
        "table with a header (its column label, class, ... is read; a table with a column "
        "of paths is matched to the rows by their --names)",
    )
    _add_labels_column(p)
    _add_output_options(p, 10, "concepts per class")
    _add_names_options(p)
    _add_model_options(p)
    p.set_defaults(func=_cmd_profile)

    p = sub.add_parser(
        "compare",
        help="the concepts whose prevalence differs between two image folders",
        description="Decompose two image collections (two folders, or two .npy files of "
        "embeddings computed already by the --model and --pretrained given) with one "
        "dictionary and modality centre and test, concept by concept, whether its prevalence "
        "differs between them (Fisher's exact test, two-sided by default, Benjamini-Hochberg "
        "corrected). Rows are sorted by p-value.",
    )
    p.add_argument(
        "folder_a",
        type=_input_path,
        metavar="A_FOLDER",
        help="images of collection A; or a .npy file of their embeddings, one row per image",
    )
    p.add_argument(
        "folder_b",
        type=_input_path,
        metavar="B_FOLDER",
        help="images of collection B; or a .npy file of their embeddings, as A's",
    )
    p.add_argument(
        "--alternative",
        choices=("two-sided", "greater", "less"),
        default="two-sided",
        help="greater: more frequent in B than in A; less: less frequent in B (default: two-sided)",
    )
    _add_output_options(p, 20, "rows (smallest p-values)")
    _add_names_options(p)
    p.add_argument(
        "--report",
        default=None,
        metavar="OUT.html",
        help="also write the HTML explorer: the two folders as its two collections, every tested "
        "concept in its table",
    )
    _add_model_options(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "search",
        help="images ranked by a query made of concepts or a text",
        description="Decompose the images and rank them by a query: named concepts "
        "(--concepts dog,snow; dog:2 weighs a concept) or a text decomposed into the same "
        "concepts (--text). mode 'or' ranks the images holding any query concept by the "
        "weighted sum of their weights, 'and' only those holding every one, 'min' those by "
        "their weakest query concept.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=_input_path,
        metavar="IMAGE_OR_FOLDER",
        help="images or folders; or .npy files of image embeddings, one row per image",
    )
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--concepts", default=None, help="comma-separated concepts, e.g. dog,snow")
    q.add_argument("--text", default=None, help="a query text, decomposed into concepts")
    p.add_argument(
        "--mode",
        choices=("or", "and", "min"),
        default="or",
        help="or: images with any query concept, by their weighted sum; and: with every "
        "one; min: with every one, by the weakest (default: or)",
    )
    p.add_argument(
        "-n",
        "--n-results",
        type=_positive_int,
        default=10,
        help="images returned at most (default: 10)",
    )
    _add_output_options(p, 5, "concepts per image, besides the query concepts it holds")
    _add_names_options(p)
    _add_model_options(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "report",
        help="a self-contained HTML report",
        description="Write a static HTML page: thumbnails next to their concept bars, and "
        "for labelled folders the class profiles and the ranking table. Given .npy files of "
        "embeddings computed already, their rows (named by --names; a thumbnail where a name "
        "is the path of an image), classed by --labels or --labels-column.",
    )
    p.add_argument(
        "folder",
        type=_input_path,
        metavar="FOLDER_OR_IMAGE",
        help="images folder (labelled by its class sub-folders or --labels), or an image; or "
        "a .npy file of image embeddings, one row per image",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        type=_input_path,
        default=[],
        metavar="IMAGE",
        help="more images (or .npy files)",
    )
    p.add_argument(
        "--labels",
        type=_labels_path,
        default=None,
        help="CSV of path,label; of .npy inputs, the class of each row, as for profile",
    )
    _add_labels_column(p)
    p.add_argument(
        "-k",
        "--top-k",
        type=_positive_int,
        default=None,
        help="ranking rows per class (default: every concept tested); images show all concepts",
    )
    p.add_argument("-o", "--output", required=True, help="output HTML file")
    p.add_argument(
        "--title",
        type=_title,
        default="sksplice concept report",
        help="page title (default: %(default)s)",
    )
    _add_names_options(p)
    _add_model_options(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "cache",
        help="what the cache folder holds (image embeddings, vocabularies); clear it",
        description="List the entries of the cache folder: a folder of image embeddings per "
        "model and release (stale: made with other releases of sksplice, torch, torchvision, "
        "open_clip or Pillow than the installed ones, and read by no run any more), the "
        "embedded vocabularies and the checkpoint digests, with their files, sizes and "
        "times. Nothing limits the size of the image embeddings: --clear removes entries.",
    )
    p.add_argument(
        "--clear",
        choices=CLEARABLE,
        default=None,
        help="remove the stale image folders (and the temporary files of stopped writers), "
        "the image embeddings, the dictionaries (and stopped vocabulary embeddings), the "
        "checkpoint digests, or all; the entries removed are listed",
    )
    p.add_argument(
        "-f",
        "--format",
        choices=("table", "json"),
        default=None,
        help="output format (default: table)",
    )
    p.add_argument(
        "--cache-dir",
        type=_folder("--cache-dir", "SKSPLICE_CACHE"),
        default=None,
        help="the cache folder (default: $SKSPLICE_CACHE, else the per-user cache folder, "
        "~/.cache/sksplice on Linux)",
    )
    p.add_argument(
        "--data-home",
        type=_folder("--data-home", "SKSPLICE_DATA"),
        default=None,
        help="the folder of the vocabularies, where the named ones that name the cached "
        "dictionaries are looked for; nothing is downloaded (default: $SKSPLICE_DATA or "
        "~/.cache/sksplice)",
    )
    talk = p.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", help="no information lines")
    talk.add_argument("--debug", action="store_true", help="tracebacks of errors (not with -q)")
    p.set_defaults(func=_cmd_cache)
    # (listed with the commands, which it gives the help of; a command line starting with
    # it is answered before it is parsed: see parse_command_line)
    p = sub.add_parser(
        "help",
        help="the help of a command: sksplice help COMMAND",
        description="Print the help of a command, as sksplice COMMAND --help does; "
        "without one, the help of sksplice.",
    )
    p.add_argument("topic", nargs="?", metavar="COMMAND", help="the command")
    return parser
