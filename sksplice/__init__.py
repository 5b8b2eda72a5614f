"""sksplice: Sparse Linear Concept Embeddings (SpLiCE) for CLIP, as scikit-learn estimators.

The public names are imported lazily (on first attribute access), so that
``import sksplice`` and the command line's ``--help`` stay fast; torch and
open_clip are only imported when an estimator is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY = {
    "CLIPEmbedder": "embedders",
    "SentenceTransformerEmbedder": "sentence",
    "SpliceTransformer": "transformer",
    "ConceptEditor": "editing",
    "ConceptProjector": "editing",
    "ZeroShotClassifier": "zero_shot",
    "load_vocabulary": "vocabulary",
    "load_image_mean": "vocabulary",
    "get_data_home": "_data",
    "concept_profiles": "analysis",
    "rank_concepts": "analysis",
    "ConceptRetriever": "retrieval",
    "probe_concepts": "probes",
    "zero_concept_coefficients": "probes",
    "SplicePath": "path",
    "splice_path": "path",
    "compare_datasets": "shift",
    "TextEmbedder": "_protocols",
    "ImageEmbedder": "_protocols",
}

__all__ = [
    "CLIPEmbedder",
    "ConceptEditor",
    "ConceptProjector",
    "ConceptRetriever",
    "ImageEmbedder",
    "SentenceTransformerEmbedder",
    "SplicePath",
    "SpliceTransformer",
    "TextEmbedder",
    "ZeroShotClassifier",
    "__version__",
    "compare_datasets",
    "concept_profiles",
    "get_data_home",
    "load_image_mean",
    "load_vocabulary",
    "probe_concepts",
    "rank_concepts",
    "splice_path",
    "zero_concept_coefficients",
]

if TYPE_CHECKING:  # pragma: no cover
    from ._data import get_data_home
    from ._protocols import ImageEmbedder, TextEmbedder
    from .analysis import concept_profiles, rank_concepts
    from .editing import ConceptEditor, ConceptProjector
    from .embedders import CLIPEmbedder
    from .path import SplicePath, splice_path
    from .probes import probe_concepts, zero_concept_coefficients
    from .retrieval import ConceptRetriever
    from .sentence import SentenceTransformerEmbedder
    from .shift import compare_datasets
    from .transformer import SpliceTransformer
    from .vocabulary import load_image_mean, load_vocabulary
    from .zero_shot import ZeroShotClassifier


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sksplice' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
