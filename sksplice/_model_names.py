"""How open_clip's model names and weights tags are written (the standard library only:
the command line reads them before torch and open_clip are imported)."""

from __future__ import annotations

#: The prefix of a model on the Hugging Face Hub (``hf-hub:ORG/REPO``), which brings its
#: own weights.
HF_HUB_PREFIX = "hf-hub:"


def clean_tag(tag: str) -> str:
    """A weights tag as open_clip matches it: case and ``-`` or ``_`` do not matter."""
    return tag.lower().replace("-", "_")
