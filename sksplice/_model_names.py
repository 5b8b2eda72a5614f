"""How open_clip's model names and weights tags are written (the standard library only:
the command line reads them before torch and open_clip are imported)."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, cast

#: The prefix of a model on the Hugging Face Hub (``hf-hub:ORG/REPO``), which brings its
#: own weights.
HF_HUB_PREFIX = "hf-hub:"


def clean_tag(tag: str) -> str:
    """A weights tag as open_clip matches it: case and ``-`` or ``_`` do not matter."""
    return tag.lower().replace("-", "_")


#: What open_clip needs of a model config (it skips a config without them).
CONFIG_KEYS: dict[str, type | tuple[type, ...]] = {
    "embed_dim": int,
    "vision_cfg": dict,
    "text_cfg": dict,
}


def is_config(config: object) -> bool:
    """Whether ``config`` (parsed JSON) is an open_clip model config (:data:`CONFIG_KEYS`)."""
    return isinstance(config, dict) and all(
        isinstance(config.get(key), kind) for key, kind in CONFIG_KEYS.items()
    )


#: The environment variable naming extra open_clip model configs (files or folders of
#: them, separated by ``os.pathsep``), registered before any model name lookup.
MODEL_CONFIGS_ENV = "SKSPLICE_MODEL_CONFIGS"


def config_files(where: str) -> list[str] | None:
    """The JSON files a model-config entry names: those of a folder (sorted), the file
    itself, or None where ``where`` is neither (as open_clip's ``add_model_config`` reads
    it)."""
    if os.path.isdir(where):
        names = sorted(name for name in os.listdir(where) if name.endswith(".json"))
        return [os.path.join(where, name) for name in names]
    # (open_clip reads a file named only where it ends in .json, as it is written)
    return [where] if os.path.isfile(where) and where.endswith(".json") else None


def _not_a_config(config: object) -> str | None:
    """Why ``config`` (parsed JSON) is no open_clip model config; None if it is one."""
    if not isinstance(config, dict):
        kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        return f"it holds {kinds.get(type(config), 'a number')}, not an object"
    missing = [key for key, kind in CONFIG_KEYS.items() if not isinstance(config.get(key), kind)]
    return f"it has no {' or '.join(missing)} of the right kind" if missing else None


def check_env_config(entry: str, path: str) -> None:
    """Refuse an entry of ``$SKSPLICE_MODEL_CONFIGS`` (as written, and its absolute
    ``path``) that open_clip would skip or fail on: neither a file nor a folder, a file
    that is no readable JSON model config, a folder with none. Read without open_clip,
    so that the command line refuses it before torch is imported."""
    import json

    files = config_files(path)
    if files is None and os.path.isfile(path):
        raise ValueError(
            f"{MODEL_CONFIGS_ENV} names {entry!r}, a file whose name does not end in "
            ".json, which open_clip does not read: rename it to end in .json"
        )
    if files is None:
        raise ValueError(
            f"{MODEL_CONFIGS_ENV} names {entry!r}, which is neither an open_clip model "
            "config JSON file nor a folder of them"
        )
    configs, first_problem = 0, None
    for file in files:
        try:
            with open(file, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"{MODEL_CONFIGS_ENV}: {file!r} is not a readable JSON model config: {exc}"
            ) from exc
        # (open_clip leaves out, without a word, a config that lacks one of these)
        problem = _not_a_config(config)
        if problem is None:
            configs += 1
        elif first_problem is None:
            first_problem = f"{file!r} is not an open_clip model config: {problem}"
    if os.path.isdir(path) and not files:
        raise ValueError(
            f"{MODEL_CONFIGS_ENV}: the folder {entry!r} holds no JSON file, so no open_clip "
            "model config"
        )
    if first_problem is not None and (not os.path.isdir(path) or not configs):
        # (a file named is refused; a folder only when none of its JSON files is a
        # config: open_clip skips the others, such as a Hub snapshot's config.json)
        where = "" if not os.path.isdir(path) else f"{entry!r} holds no model config: "
        raise ValueError(
            f"{MODEL_CONFIGS_ENV}: {where}{first_problem} (a config holds embed_dim, a "
            "number, and vision_cfg and text_cfg, objects; see open_clip's model_configs)"
        )


def env_config_entries() -> list[tuple[str, str]]:
    """The entries of ``$SKSPLICE_MODEL_CONFIGS``: (as written, absolute path)."""
    value = os.environ.get(MODEL_CONFIGS_ENV, "")
    return [
        (entry, os.path.abspath(os.path.expanduser(entry.strip())))
        for entry in value.split(os.pathsep)
        if entry.strip()
    ]


#: What :func:`_parsed` read, by file, its version (size, times, inode) and parser.
_PARSED: dict[tuple[str, int, int, int, int, Callable[[str], Any]], Any] = {}
_PARSED_LOCK = threading.Lock()


def _parsed(path: str, parse: Callable[[str], Any]) -> Any:
    """``parse`` of the text of the file ``path``, kept while the file keeps its size,
    modification and change times and inode (as Python keeps a compiled module): every embedder's
    settings ask open_clip's tables, tens of times a run, of files that do not change.
    Raises what reading the file or ``parse`` raises (not kept)."""
    stat = os.stat(path)
    # (the change time and inode too: a copy that keeps the modification time, cp -p,
    # still moves them)
    key = (path, stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino, parse)
    with _PARSED_LOCK:
        if key in _PARSED:
            return _PARSED[key]
    with open(path, encoding="utf-8") as handle:
        value = parse(handle.read())
    with _PARSED_LOCK:
        _PARSED[key] = value
    return value


def config_widths() -> dict[str, int] | None:
    """The open_clip model names and their embedding widths, without importing open_clip.

    Read from the files open_clip itself reads (:func:`_config_table`): the names
    ``open_clip.list_models()`` lists to the command line, in a fraction of a second
    instead of the seconds open_clip takes to import. None where they cannot all be
    read: the caller then asks open_clip, whose errors say what is wrong.
    """
    table = _config_table()
    return None if table is None else {name: cfg["embed_dim"] for name, cfg in table.items()}


def _natural_key(name: str) -> list[int | str]:
    """The order of ``open_clip.list_models()``: case-blind, numbers by value (open_clip's
    own key, which the listing must match; :func:`sksplice._names.natural_key` orders
    paths)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def _config_table() -> dict[str, dict[str, Any]] | None:
    """open_clip's model configs by name, as ``open_clip.get_model_config`` gives them and
    in the order of ``open_clip.list_models()``, without importing open_clip.

    Read from the JSON files of open_clip's ``model_configs`` folder (a config being
    one with ``embed_dim``, ``vision_cfg`` and ``text_cfg``) and then those of
    ``$SKSPLICE_MODEL_CONFIGS`` (a later file of a name replaces an earlier one, as
    ``open_clip.add_model_config`` does). None where they cannot all be read (no
    open_clip installed, its folder laid out otherwise, a file of
    ``$SKSPLICE_MODEL_CONFIGS`` that is not a config).
    """
    import json

    package = _open_clip_folder()
    if package is None:
        return None
    folders = [os.path.join(package, "model_configs")]
    if not os.path.isdir(folders[0]):
        return None
    folders += [path for _, path in env_config_entries()]
    table: dict[str, dict[str, Any]] = {}
    for index, where in enumerate(folders):
        files = config_files(where)
        if files is None:
            return None
        found = 0
        for file in files:
            try:
                config = _parsed(file, json.loads)
            except (OSError, ValueError):
                return None
            if is_config(config):
                table[os.path.splitext(os.path.basename(file))[0]] = config
                found += 1
            elif (isinstance(config, dict) and all(key in config for key in CONFIG_KEYS)) or (
                index > 0 and not os.path.isdir(where)
            ):
                # (one open_clip lists, of values of other kinds; a file named that is no
                # config: open_clip's path decides, and says why)
                return None
        if index > 0 and not found:
            return None  # (a folder named that holds no config: the same)
    return dict(sorted(table.items(), key=lambda item: _natural_key(item[0]))) or None


def _open_clip_folder() -> str | None:
    """The folder of the installed open_clip package, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(next(iter(spec.submodule_search_locations)))


def _reads_only(statement: object) -> bool:
    """Whether the module-level ``statement`` (after the table is built) only reads
    ``_PRETRAINED``: the loop that builds the ``-quickgelu`` twins from it."""
    import ast

    if not isinstance(statement, ast.For):
        return False
    # (for k, v in _PRETRAINED.items(): ... writing _PRETRAINED_quickgelu only)
    for node in ast.walk(statement):
        if (
            isinstance(node, ast.Name)
            and node.id == "_PRETRAINED"
            and not isinstance(node.ctx, ast.Load)
        ):
            return False
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "_PRETRAINED"
            and node.attr not in ("items", "keys", "values", "get")
        ):
            return False
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "_PRETRAINED"
            and not isinstance(node.ctx, ast.Load)
        ):
            return False
    return True


def pretrained_tags() -> dict[str, list[str]] | None:
    """Each model's pretrained weights tags, as ``open_clip.list_pretrained_tags_by_model``
    gives them, without importing open_clip (which takes seconds); None where
    :func:`_pretrained_table` cannot tell them (the caller then asks open_clip)."""
    table = _pretrained_table()
    return None if table is None else {model: list(tags) for model, tags in table.items()}


def _pretrained_table() -> dict[str, dict[str, dict[str, Any]]] | None:
    """Each model's pretrained weights tags, each with whether open_clip's config of it
    says ``quick_gelu=True``, without importing open_clip.

    Read from the source of open_clip's ``pretrained.py``, without running it: its
    table ``_PRETRAINED`` maps a model name to ``dict(tag=...)`` (written in place or
    as a module-level name), and each model with tags of ``quick_gelu=True`` has a
    ``-quickgelu`` twin holding those tags. None where the file is not laid out so
    (another open_clip release).
    """
    folder = _open_clip_folder()
    if folder is None:
        return None
    try:
        return cast(
            "dict[str, dict[str, dict[str, Any]]] | None",
            _parsed(os.path.join(folder, "pretrained.py"), _pretrained_table_of),
        )
    except (OSError, ValueError, SyntaxError):
        return None


def _pretrained_table_of(source: str) -> dict[str, dict[str, dict[str, Any]]] | None:
    """:func:`_pretrained_table` of the source of ``pretrained.py``."""
    import ast

    tree = ast.parse(source)

    def tags_of(node: ast.expr, named: dict[str, ast.expr]) -> dict[str, dict[str, Any]] | None:
        # (a tag -> where its weights come from, and whether it says quick_gelu=True)
        if isinstance(node, ast.Name):
            node = named.get(node.id, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id != "dict" or node.args:
                return None
            pairs: list[tuple[object, ast.expr]] = [(k.arg, k.value) for k in node.keywords]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value if isinstance(k, ast.Constant) else None, v)
                for k, v in zip(node.keys, node.values, strict=True)
            ]
        else:
            return None
        out: dict[str, dict[str, Any]] = {}
        for tag, value in pairs:
            if not isinstance(tag, str) or not isinstance(value, ast.Call) or value.args:
                return None
            words = {k.arg: k.value for k in value.keywords}
            cfg: dict[str, Any] = {"url": "", "hf_hub": ""}  # (open_clip's defaults)
            for key in cfg:
                if key in words:
                    given = words[key]
                    if not (isinstance(given, ast.Constant) and isinstance(given.value, str)):
                        return None  # (written otherwise: open_clip's own answer)
                    cfg[key] = given.value
            quick = words.get("quick_gelu")
            cfg["quick_gelu"] = isinstance(quick, ast.Constant) and quick.value is True
            out[tag] = cfg
        return out

    named: dict[str, ast.expr] = {}
    table: ast.expr | None = None
    twins = False  # (the -quickgelu twins added the way this reading adds them)
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            name = statement.targets[0].id
            if name == "_PRETRAINED":
                if table is not None:
                    return None  # (built twice: not the layout read here)
                table = statement.value
                continue
            named[name] = statement.value
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if ast.unparse(statement) == "_PRETRAINED.update(_PRETRAINED_quickgelu)":
            twins = True
        elif (
            table is not None
            and any(
                isinstance(node, ast.Name) and node.id == "_PRETRAINED"
                for node in ast.walk(statement)
            )
            and not _reads_only(statement)
        ):
            return None  # (another change of the table: open_clip's own answer is needed)
    if not isinstance(table, ast.Dict) or not twins:
        return None
    found: dict[str, dict[str, dict[str, Any]]] = {}
    quick: dict[str, dict[str, dict[str, Any]]] = {}
    for key, value in zip(table.keys, table.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        tags = tags_of(value, named)
        if tags is None:
            return None
        found[key.value] = tags
        twin = {tag: cfg for tag, cfg in tags.items() if cfg["quick_gelu"]}
        if twin:
            quick[key.value + "-quickgelu"] = twin
    found.update(quick)
    return found


def _open_clip_version() -> str | None:
    """``open_clip.__version__``, read from its ``version.py`` without importing it (None
    where the file does not say it in one assignment of a string)."""
    folder = _open_clip_folder()
    if folder is None:
        return None
    try:
        return cast("str | None", _parsed(os.path.join(folder, "version.py"), _version_of))
    except (OSError, ValueError, SyntaxError):
        return None


def _version_of(source: str) -> str | None:
    """:func:`_open_clip_version` of the source of ``version.py``."""
    import ast

    tree = ast.parse(source)
    values = [
        statement.value.value
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        and [ast.unparse(target) for target in statement.targets] == ["__version__"]
        and isinstance(statement.value, ast.Constant)
    ]
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


class OpenClipTables(NamedTuple):
    """What open_clip's registry of models and weights answers, read from its files
    without importing it (:func:`open_clip_tables`); the methods are named and answer as
    open_clip's functions of the same names."""

    configs: dict[str, dict[str, Any]]  # (by model name, in open_clip's order)
    tags: dict[str, dict[str, dict[str, Any]]]  # (model -> tag -> url, hf_hub, quick_gelu)
    version: str

    def list_models(self) -> list[str]:
        return list(self.configs)

    def get_model_config(self, model: str) -> dict[str, Any] | None:
        import copy

        config = self.configs.get(model)
        return None if config is None else copy.deepcopy(config)

    def list_pretrained_tags_by_model(self, model: str) -> list[str]:
        return list(self.tags.get(model, {}))

    def get_pretrained_cfg(self, model: str, tag: str) -> dict[str, Any]:
        """What open_clip's config of the weights ``tag`` says of where they come from
        (``url``, ``hf_hub``) and of ``quick_gelu``; empty for a tag it does not have."""
        return dict(self.tags.get(model, {}).get(clean_tag(tag), {}))

    def tag_quick_gelu(self, model: str, tag: str) -> bool:
        """Whether open_clip's config of the weights ``tag`` says ``quick_gelu=True``."""
        return bool(self.get_pretrained_cfg(model, tag).get("quick_gelu", False))


def quick_gelu_lacking(registry: Any, model: str, tag: str) -> bool:
    """Whether the weights ``tag`` need a QuickGELU that ``model`` does not build.

    open_clip marks every tag trained with QuickGELU (the ``openai`` tags and a few
    others) with ``quick_gelu=True`` in its pretrained configs, but builds a plain
    model name such as ``ViT-B-32`` with GELU whatever the tag (it only logs a
    warning); the ``-quickgelu`` names ask for it in their config. ``registry``:
    :func:`open_clip_tables`, or what answers as open_clip does once imported.
    """
    if not registry.tag_quick_gelu(model, tag):
        return False
    return not (registry.get_model_config(model) or {}).get("quick_gelu", False)


def open_clip_tables() -> OpenClipTables | None:
    """open_clip's model configs, weights tags and version, read from its files (in
    milliseconds: importing open_clip takes seconds, also where every embedding a run
    needs is cached). None once open_clip is imported (a program may have registered
    configs of its own with it: open_clip is then asked) or where its files cannot be
    read so."""
    if "open_clip" in sys.modules:
        return None
    configs = _config_table()
    tags = _pretrained_table()
    version = _open_clip_version()
    if configs is None or tags is None or version is None:
        return None
    return OpenClipTables(configs, tags, version)


#: The number a legacy ``torch.save`` pickle starts with (``torch.serialization.MAGIC_NUMBER``,
#: written here so that a file is judged before torch is imported).
TORCH_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C


def checkpoint_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the file ``path`` is not a checkpoint open_clip can load, or None if it may be.

    Only the start of the file is read (a checkpoint may be gigabytes), so None is
    no promise that it loads: it is in a format open_clip reads, as open_clip
    chooses it by the name (``.safetensors``; ``.npz`` or ``.npy``, big_vision
    weights; else :func:`torch.load`: a zip archive of ``torch.save`` or a
    TorchScript archive, or the legacy pickle that starts with torch's magic number).

    Parameters
    ----------
    path : str or os.PathLike
        An existing file.

    Returns
    -------
    str or None
        A short reason (``"it is empty"``, ``"it is not in torch.save's format"``), or
        None. A file that cannot be read gives None: that is for the loading to report.
    """
    import io
    import pickle
    import tarfile
    import zipfile
    from pathlib import Path

    text = os.fspath(path)
    try:
        size = os.path.getsize(text)
        with open(text, "rb") as fh:
            head = fh.read(256)
        if size == 0:
            return "it is empty"
        if text.endswith(".safetensors"):  # (open_clip's tests of the name)
            n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
            if not (2 <= n <= size - 8 and head[8:9] == b"{"):
                return "it is not in the safetensors format"
            return None
        suffix = Path(text).suffix
        if suffix == ".npz":
            return None if zipfile.is_zipfile(text) else "it is not a .npz archive"
        if suffix == ".npy":
            return None if head.startswith(b"\x93NUMPY") else "it is not a .npy file"
        if zipfile.is_zipfile(text):
            with zipfile.ZipFile(text) as archive:
                names = archive.namelist()
            if any(name.endswith("data.pkl") for name in names):
                return None
            return "it is a zip archive, but not one torch.save writes"
        if tarfile.is_tarfile(text):  # (torch's oldest format)
            return None
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return None

    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise pickle.UnpicklingError(f"global {module}.{name}")

    try:
        first = _NoGlobals(io.BytesIO(head)).load()
    except Exception:
        first = None
    if isinstance(first, int) and first == TORCH_MAGIC_NUMBER:
        return None
    return "it is not in torch.save's format"


#: True while the caller centres the images by a mean of its own (given, or learned
#: from the data): the published mean is then not among what a checkpoint file given
#: instead of a tag would need (``sksplice._models._checkpoint_advice``); None where
#: nobody has said. See :func:`own_centre`.
_OWN_CENTRE: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "sksplice_own_centre", default=None
)


@contextlib.contextmanager
def own_centre(own: bool = True, *, unless_said: bool = False) -> Iterator[None]:
    """Within the block, with ``own``, the advice for weights that cannot be fetched
    leaves out the published image mean: the caller centres by a mean of its own.
    ``unless_said``: an enclosing block's word stands (the command line knows whether
    the mean it passes to a transformer as an array is the published one)."""
    if unless_said and _OWN_CENTRE.get() is not None:
        yield
        return
    token = _OWN_CENTRE.set(own)
    try:
        yield
    finally:
        _OWN_CENTRE.reset(token)


def own_centre_of(image_mean: object) -> contextlib.AbstractContextManager[None]:
    """:func:`own_centre` for a transformer of ``image_mean`` (its parameter): its own
    centre unless it is ``"pretrained"``, the published mean; the word of an enclosing
    block (the command line's) stands."""
    published = isinstance(image_mean, str) and image_mean == "pretrained"
    return own_centre(not published, unless_said=True)


def published_mean_used() -> bool:
    """Whether the caller may centre by the published image mean (see :func:`own_centre`)."""
    return not _OWN_CENTRE.get()
