"""sksplice: Sparse Linear Concept Embeddings (SpLiCE) for CLIP, as scikit-learn estimators."""

from ._version import __version__

__all__ = ["__version__"]
