"""The embedders the command line builds, in one place.

The commands know embedders only through the protocols of
:mod:`sksplice._protocols`; this module is the one that knows the family
(open_clip, through :class:`sksplice.CLIPEmbedder`): how ``--model`` and
``--pretrained`` are checked before any work, and how the image and text
embedders are made from the checked plan. Another family of models would add
its check and constructors here.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._protocols import ImageEmbedder, TextEmbedder
from ._logging import CLIError, _close

logger = logging.getLogger(__name__)

DEFAULT_PRETRAINED = "laion2b_s34b_b79k"


def import_model_libraries(*, open_clip: bool = True) -> None:
    """Import torch and (unless ``open_clip=False``) open_clip, seconds each, with Ctrl-C,
    SIGTERM and SIGHUP held until they are loaded (:func:`sksplice._interrupt.import_whole`,
    which a run makes hold its signals): raised inside torch's import, a
    ``KeyboardInterrupt`` can abort the process (it goes through C++ code) instead of
    ending the run with one line."""
    from .._interrupt import import_whole

    import_whole("torch")
    if open_clip:
        import_whole("open_clip")


def _unknown_model(model: str, models: Sequence[str]) -> CLIError:
    """The error of a ``--model`` that is not among the open_clip ``models``."""
    from .._model_names import HF_HUB_PREFIX

    repo_hint = None
    if "/" in model:  # (a Hugging Face repo perhaps; _models imports torch: not otherwise)
        from .._models import repo_name_hint

        repo_hint = repo_name_hint(model, models)  # (its model=... is shown as --model)
    if repo_hint:
        return CLIError(
            f"--model {model!r} is not an open_clip model (see open_clip.list_models(), "
            f"{len(models)} names): {repo_hint}"
        )
    return CLIError(
        f"--model {model!r} is not an open_clip model{_close(model, models)}; "
        f"see open_clip.list_models() ({len(models)} names), or give "
        f"{HF_HUB_PREFIX}ORG/REPO for a model on the Hugging Face Hub"
    )


def model_width_early(args: argparse.Namespace) -> int | None:
    """``--model`` checked against the config files open_clip reads, before torch and
    open_clip are imported (seconds): an unknown name is refused as :func:`check_model`
    refuses it; returns the model's embedding width (None for a Hub model, or where the
    files cannot be read: :func:`check_model` then decides)."""
    from .._model_names import HF_HUB_PREFIX, check_env_config, config_widths, env_config_entries

    # (a wrong $SKSPLICE_MODEL_CONFIGS, read before torch and open_clip are imported: it
    # was refused 5.5 s later, once they were)
    for entry, path in env_config_entries():
        try:
            check_env_config(entry, path)
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    model = args.model
    if model.startswith(HF_HUB_PREFIX) or "open_clip" in sys.modules:
        # (loaded already, open_clip answers at once, also for the configs a program
        # registered with open_clip.add_model_config before calling the command)
        return None
    widths = config_widths()
    if widths is None:
        return None
    name = model if model in widths else model.replace("/", "-")
    if name not in widths:
        raise _unknown_model(model, sorted(widths))
    pretrained = args.pretrained
    if pretrained is not None:
        from .._model_names import clean_tag, pretrained_tags

        tags = pretrained_tags()
        listed = None if tags is None else tags.get(name, [])
        is_tag = listed is not None and clean_tag(pretrained) in {clean_tag(t) for t in listed}
        if Path(pretrained).expanduser().is_file():
            if not is_tag:
                # (only its start is read: a text file given was refused once torch and
                # open_clip were imported, 11 s later)
                _check_checkpoint(pretrained)
        elif listed is not None and not is_tag:
            raise _unknown_pretrained(name, pretrained, listed)
    return widths[name]


def _unknown_pretrained(model: str, pretrained: str, tags: Sequence[str]) -> CLIError:
    """The error of a ``--pretrained`` that is neither a tag of ``model`` nor a file."""
    listed = ", ".join(tags) if tags else "none"
    if _looks_like_a_path(pretrained):  # (a file meant: say that it is not there)
        path = Path(pretrained).expanduser()
        what = "a folder, not a checkpoint file" if path.is_dir() else "no such checkpoint file"
        # (where a relative path was looked for: the working folder may be the mistake)
        absolute = str(path.absolute())
        shown = f" ({absolute!r})" if absolute != pretrained else ""
        tags_said = f"a pretrained tag of {model}: {listed}" if tags else "--pretrained none"
        return CLIError(
            f"--pretrained {pretrained!r}{shown}: {what}; or give {tags_said}"
            + ("" if tags else f" (random weights: {model} has no pretrained tags)")
        )
    return CLIError(
        f"--pretrained {pretrained!r} is neither a pretrained tag of {model} nor a "
        f"checkpoint file{_close(pretrained, tags)}; tags of {model}: {listed}; "
        "--pretrained none gives random weights"
    )


#: Endings of the checkpoint files open_clip reads.
_CHECKPOINT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors", ".ckpt")


def _looks_like_a_path(pretrained: str) -> bool:
    """Whether ``pretrained`` names a file rather than a tag: a folder separator, a
    leading ``~`` or ``.``, or a checkpoint's file ending (tags have none of them)."""
    return (
        "/" in pretrained
        or os.sep in pretrained
        or pretrained.startswith(("~", "."))
        or pretrained.lower().endswith(_CHECKPOINT_SUFFIXES)
    )


def check_model(args: argparse.Namespace) -> tuple[str, str | None, int]:
    """``--model`` and ``--pretrained`` checked: the model, its weights and its dimension.

    Fails fast (a :class:`CLIError` with close matches) for an unknown model or
    weights tag. open_clip is not imported where its files tell the names and tags
    (an ``hf-hub:`` model imports it): a run whose embeddings are all cached never
    imports it.
    """
    from .._models import HF_HUB_PREFIX, _registry
    from ..embedders import CLIPEmbedder

    model, pretrained = args.model, args.pretrained
    if model.startswith(HF_HUB_PREFIX):
        import_model_libraries()
        if pretrained not in (None, DEFAULT_PRETRAINED):
            logger.warning(
                "--pretrained %s is ignored: %s models bring their own weights",
                pretrained,
                HF_HUB_PREFIX,
            )
        pretrained = None
    else:
        registry = _registry()  # (open_clip's files, where it is not imported yet)
        models = registry.list_models()
        if model not in models and model.replace("/", "-") not in models:
            raise _unknown_model(model, models)
        model = model if model in models else model.replace("/", "-")
        if pretrained is not None:
            from .._model_names import clean_tag

            tags = registry.list_pretrained_tags_by_model(model)
            clean = {clean_tag(t): t for t in tags}
            key = clean_tag(pretrained)
            if key in clean:
                pretrained = clean[key]
            elif not Path(pretrained).expanduser().is_file():
                raise _unknown_pretrained(model, pretrained, tags)
            else:
                _check_checkpoint(pretrained)
    embedder = CLIPEmbedder(model=model, pretrained=pretrained, device="cpu")
    config = embedder._config()  # an hf-hub: model fetches its config here (or fails fast)
    return model, pretrained, config.embed_dim


def check_weights(model: str, pretrained: str | None) -> None:
    """The weights of a pretrained tag of :func:`check_model` found in the local cache, or
    fetchable (offline, not cached: :class:`~sksplice.exceptions.WeightsUnavailableError`
    now, not once the model is loaded). Where they come from is read from open_clip's
    files (:func:`~sksplice._model_names.open_clip_tables`): open_clip is not imported."""
    from .._models import _ensure_tag_weights
    from ..embedders import CLIPEmbedder

    config = CLIPEmbedder(model=model, pretrained=pretrained, device="cpu")._config()
    if config.pretrained_kind == "tag":
        assert config.pretrained is not None  # (a "tag" config has the tag)
        _ensure_tag_weights(config.model, config.pretrained, None)


def _check_checkpoint(pretrained: str) -> None:
    """A ``--pretrained`` file is in a format open_clip loads (only its start is read).

    A file that passes may still fail to load (torch refuses what it holds, or it is
    a checkpoint of another model): that is found when the model is loaded, before
    any image is embedded, and is a wrong command line too
    (:class:`sksplice.exceptions.CheckpointFormatError`, exit code 2).
    """
    from .._model_names import checkpoint_file_problem
    from ._logging import shell_word

    problem = checkpoint_file_problem(Path(pretrained).expanduser())
    if problem is not None:
        raise CLIError(
            f"--pretrained {shell_word(pretrained)} is not a model checkpoint open_clip can "
            f"load: {problem}"
        )


#: The digest a cache key holds of a weights file (a checkpoint, an hf-hub: model's).
_WEIGHTS_DIGEST = re.compile(r"/file-sha256-([0-9a-f]{64})(?:/|$)")


def weights_sha256(embedder: Any) -> str | None:
    """The SHA-256 of the weights file of ``embedder`` (a ``--pretrained`` checkpoint, or
    the weights of an ``hf-hub:`` model), as its cache key holds it; None for a
    pretrained tag or random weights, which their names identify."""
    key_fn = getattr(embedder, "cache_key", None)
    key = key_fn() if callable(key_fn) else None
    found = _WEIGHTS_DIGEST.search(key) if isinstance(key, str) else None
    return None if found is None else found.group(1)


def image_embedder(
    model: str, pretrained: str | None, *, on_error: str, **common: Any
) -> ImageEmbedder:
    """The embedder of the images (``common``: device, batch_size, verbose)."""
    from ..embedders import CLIPEmbedder

    return CLIPEmbedder(
        model=model, pretrained=pretrained, modality="image", on_error=on_error, **common
    )


def text_embedder(model: str, pretrained: str | None, **common: Any) -> TextEmbedder:
    """The embedder of the concepts, from the same model as the images."""
    from ..embedders import CLIPEmbedder

    return CLIPEmbedder(model=model, pretrained=pretrained, modality="text", **common)
