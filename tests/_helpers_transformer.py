"""Test doubles shared by the transformer, dictionary and estimator-check tests."""

from __future__ import annotations

import hashlib

import numpy as np

from sksplice.transformer import SpliceTransformer


def _text_vector(text: str, dim: int, seed: int) -> np.ndarray:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    vec = rng.normal(size=dim)
    return vec / np.linalg.norm(vec)


class CountingEmbedder:
    """Deterministic fake text embedder that counts ``embed_text`` calls.

    The counters are class attributes so that copies made by ``sklearn.clone``
    (which deep-copies non-estimator parameters) are counted too.
    """

    n_calls = 0
    n_texts = 0

    def __init__(self, dim: int = 16, key: str = "counting-fake", seed: int = 0) -> None:
        self.dim = dim
        self.key = key
        self.seed = seed

    @classmethod
    def reset(cls) -> None:
        cls.n_calls = 0
        cls.n_texts = 0

    def embed_text(self, texts: list[str]) -> np.ndarray:
        type(self).n_calls += 1
        type(self).n_texts += len(texts)
        return np.stack([_text_vector(t, self.dim, self.seed) for t in texts]).astype(np.float32)

    def cache_key(self) -> str:
        return f"{self.key}-d{self.dim}-s{self.seed}"


class KeylessEmbedder:
    """Fake text embedder without ``cache_key`` (in-process caching only)."""

    def __init__(self, dim: int = 16, seed: int = 0) -> None:
        self.dim = dim
        self.seed = seed
        self.n_calls = 0

    def embed_text(self, texts: list[str]) -> np.ndarray:
        self.n_calls += 1
        return np.stack([_text_vector(t, self.dim, self.seed) for t in texts]).astype(np.float32)


def random_vocabulary(n: int) -> list[str]:
    """``n`` distinct concept strings."""
    return [f"concept{i:03d}" for i in range(n)]


class WidthMatchingSplice(SpliceTransformer):
    """Test double: random concept embeddings exactly as wide as the X given to fit.

    Everything else is SpliceTransformer's own code, so that scikit-learn's checks
    which fit on data of another width than a fixed dictionary's still run for real.
    """

    def fit(self, X, y=None):
        shape = np.asarray(X).shape
        self._test_width = int(shape[-1]) if len(shape) else 0
        return super().fit(X, y)

    def _raw_concept_embeddings(self, concepts, n_full):
        rng = np.random.default_rng(1)
        return rng.normal(size=(len(concepts), max(self._test_width, 1)))
