"""How open_clip's model names and weights tags are written (the standard library only:
the command line reads them before torch and open_clip are imported)."""

from __future__ import annotations

#: The prefix of a model on the Hugging Face Hub (``hf-hub:ORG/REPO``), which brings its
#: own weights.
HF_HUB_PREFIX = "hf-hub:"


def clean_tag(tag: str) -> str:
    """A weights tag as open_clip matches it: case and ``-`` or ``_`` do not matter."""
    return tag.lower().replace("-", "_")


#: The environment variable naming extra open_clip model configs (files or folders of
#: them, separated by ``os.pathsep``), registered before any model name lookup.
MODEL_CONFIGS_ENV = "SKSPLICE_MODEL_CONFIGS"


def config_widths() -> dict[str, int] | None:
    """The open_clip model names and their embedding widths, without importing open_clip.

    Read from the files open_clip itself reads (the JSON files of its
    ``model_configs`` folder, a config being one with ``embed_dim``,
    ``vision_cfg`` and ``text_cfg``) and those of ``$SKSPLICE_MODEL_CONFIGS``:
    the names ``open_clip.list_models()`` lists to the command line, in a
    fraction of a second instead of the seconds open_clip takes to import.
    None where they cannot all be read (no open_clip installed, its folder laid
    out otherwise, a file of ``$SKSPLICE_MODEL_CONFIGS`` that is not a config):
    the caller then asks open_clip, whose errors say what is wrong.
    """
    import importlib.util
    import json
    import os

    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folders = [os.path.join(next(iter(spec.submodule_search_locations)), "model_configs")]
    if not os.path.isdir(folders[0]):
        return None
    extra = [e.strip() for e in os.environ.get(MODEL_CONFIGS_ENV, "").split(os.pathsep)]
    folders += [os.path.abspath(os.path.expanduser(e)) for e in extra if e]
    widths: dict[str, int] = {}
    for index, where in enumerate(folders):
        if os.path.isdir(where):
            names = sorted(n for n in os.listdir(where) if n.endswith(".json"))
            files = [os.path.join(where, n) for n in names]
        elif os.path.isfile(where):
            files = [where]
        else:
            return None
        found = len(widths)
        for file in files:
            try:
                with open(file, encoding="utf-8") as handle:
                    config = json.load(handle)
            except (OSError, ValueError):
                return None
            keys = ("embed_dim", "vision_cfg", "text_cfg")
            if isinstance(config, dict) and all(key in config for key in keys):
                width = config["embed_dim"]
                if not isinstance(width, int) or isinstance(width, bool):
                    return None
                widths[os.path.splitext(os.path.basename(file))[0]] = width
            elif index > 0 and not os.path.isdir(where):
                return None  # (a file named that is no config: open_clip's path says why)
        if index > 0 and len(widths) == found:
            return None  # (a folder named that holds no config: the same)
    return widths or None
